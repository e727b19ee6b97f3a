/* Chunked bump allocator; see arena.h. */
#include "arena.h"

#include <errno.h>
#include <stdint.h>

#include "mdm_mem.h"

#define ARENA_ALIGN 16

struct chunk {
	struct chunk *next;
	size_t len;  /* usable bytes in data[] */
	size_t used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
	struct chunk *head;    /* first chunk; allocation walks forward from cur */
	struct chunk *cur;
	size_t first_len;
	size_t used;
	bool failed;
	ProtobufCAllocator pb;
};

static void *pb_alloc(void *ctx, size_t len)
{
	return arena_alloc(ctx, len);
}

static void pb_free(void *ctx, void *p)
{
	(void)ctx;
	(void)p; /* released by arena_reset */
}

static struct chunk *chunk_new(size_t len)
{
	struct chunk *c = mdm_malloc(sizeof(*c) + len);

	if (!c)
		return NULL;
	c->next = NULL;
	c->len = len;
	c->used = 0;
	return c;
}

int arena_create(struct arena **out, size_t chunk_len)
{
	struct arena *a = mdm_calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->first_len = chunk_len < 1024 ? 1024 : chunk_len;
	a->head = a->cur = chunk_new(a->first_len);
	if (!a->head) {
		mdm_free(a);
		return -ENOMEM;
	}
	a->pb.alloc = pb_alloc;
	a->pb.free = pb_free;
	a->pb.allocator_data = a;
	*out = a;
	return 0;
}

void arena_destroy(struct arena *a)
{
	if (!a)
		return;
	for (struct chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		mdm_free(c);
	}
	mdm_free(a);
}

void *arena_alloc(struct arena *a, size_t len)
{
	size_t need = (len + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	struct chunk *c = a->cur;

	if (need < len) {
		a->failed = true;
		return NULL;
	}
	while (c->len - c->used < need) {
		if (!c->next) {
			size_t next_len = c->len * 2 > need ? c->len * 2 : need;

			c->next = next_len < c->len ? NULL : chunk_new(next_len);
			if (!c->next) {
				a->failed = true;
				return NULL;
			}
		}
		c = c->next;
		c->used = 0;
	}
	a->cur = c;
	c->used += need;
	a->used += need;
	return c->data + c->used - need;
}

void arena_reset(struct arena *a)
{
	a->cur = a->head;
	a->head->used = 0;
	a->used = 0;
	a->failed = false;
}

bool arena_failed(const struct arena *a)
{
	return a->failed;
}

size_t arena_used(const struct arena *a)
{
	return a->used;
}

size_t arena_capacity(const struct arena *a)
{
	size_t n = 0;

	for (const struct chunk *c = a->head; c; c = c->next)
		n += c->len;
	return n;
}

ProtobufCAllocator *arena_pb_allocator(struct arena *a)
{
	return &a->pb;
}
