/* Accounting allocator: each block carries a 16-byte header holding its size,
 * so mdm_free and mdm_realloc can keep mdm_mem_used() exact. */
#include "mdm_mem.h"

#include <stdlib.h>
#include <string.h>

#define HDR 16 /* keeps the user pointer 16-byte aligned */

static uint64_t used_bytes;
static uint64_t fail_countdown; /* 0 = injection off */

static int should_fail(void)
{
	uint64_t left = __atomic_load_n(&fail_countdown, __ATOMIC_RELAXED);

	if (left == 0)
		return 0;
	if (left == 1)
		return 1; /* stays at 1: every later allocation fails too */
	__atomic_fetch_sub(&fail_countdown, 1, __ATOMIC_RELAXED);
	return 0;
}

void *mdm_malloc(size_t size)
{
	unsigned char *p;

	if (should_fail() || size > SIZE_MAX - HDR)
		return NULL;
	p = malloc(size + HDR);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof(size));
	__atomic_fetch_add(&used_bytes, size, __ATOMIC_RELAXED);
	return p + HDR;
}

void *mdm_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	p = mdm_malloc(nmemb * size);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

void *mdm_realloc(void *ptr, size_t size)
{
	unsigned char *base;
	size_t old;

	if (!ptr)
		return mdm_malloc(size);
	if (should_fail() || size > SIZE_MAX - HDR)
		return NULL;
	base = (unsigned char *)ptr - HDR;
	memcpy(&old, base, sizeof(old));
	base = realloc(base, size + HDR);
	if (!base)
		return NULL;
	memcpy(base, &size, sizeof(size));
	__atomic_fetch_add(&used_bytes, size, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&used_bytes, old, __ATOMIC_RELAXED);
	return base + HDR;
}

static char *dup_len(const char *s, size_t len)
{
	char *p = mdm_malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

char *mdm_strndup(const char *s, size_t n)
{
	return dup_len(s, strnlen(s, n));
}

char *mdm_strdup(const char *s)
{
	return dup_len(s, strlen(s));
}

void mdm_prefault(void *p, size_t len)
{
	volatile unsigned char *c = p;

	for (size_t off = 0; off < len; off += 4096)
		c[off] = 0;
	if (len)
		c[len - 1] = 0;
}

void mdm_free(void *ptr)
{
	unsigned char *base;
	size_t size;

	if (!ptr)
		return;
	base = (unsigned char *)ptr - HDR;
	memcpy(&size, base, sizeof(size));
	__atomic_fetch_sub(&used_bytes, size, __ATOMIC_RELAXED);
	free(base);
}

uint64_t mdm_mem_used(void)
{
	return __atomic_load_n(&used_bytes, __ATOMIC_RELAXED);
}

void mdm_mem_fail_after(uint64_t n)
{
	__atomic_store_n(&fail_countdown, n, __ATOMIC_RELAXED);
}

void mdm_mem_fail_reset(void)
{
	mdm_mem_fail_after(0);
}
