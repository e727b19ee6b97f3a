/* Growable buffer: doubling growth through mdm_realloc. */
#include "mdm_buf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mdm_mem.h"

int mdm_buf_reserve(struct mdm_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return -ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = mdm_realloc(b->data, cap);
	if (!p) {
		b->oom = 1;
		return -ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int mdm_buf_append(struct mdm_buf *b, const void *p, size_t n)
{
	if (mdm_buf_reserve(b, n) != 0)
		return -ENOMEM;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int mdm_buf_puts(struct mdm_buf *b, const char *s)
{
	return mdm_buf_append(b, s, strlen(s));
}

int mdm_buf_putc(struct mdm_buf *b, char c)
{
	return mdm_buf_append(b, &c, 1);
}

int mdm_buf_vprintf(struct mdm_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -EINVAL;
	if (mdm_buf_reserve(b, (size_t)n) != 0)
		return -ENOMEM;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int mdm_buf_printf(struct mdm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = mdm_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void mdm_buf_reset(struct mdm_buf *b)
{
	b->len = 0;
	b->oom = 0;
	if (b->data)
		b->data[0] = '\0';
}

void mdm_buf_fini(struct mdm_buf *b)
{
	mdm_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}
