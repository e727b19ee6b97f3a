/* FIX message writer (fix_write.h). */
#include "fix_write.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fix_msg.h"

static void put(struct fix_write *w, const char *s, size_t n)
{
	if (w->overflow || w->len + n > w->cap) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void put_tag(struct fix_write *w, unsigned tag)
{
	char t[16];
	int n = snprintf(t, sizeof(t), "%u=", tag);

	put(w, t, (size_t)n);
}

void fix_write_begin(struct fix_write *w, char *buf, size_t cap, const char *type)
{
	w->buf = buf;
	w->cap = cap;
	w->len = FIX_WRITE_PREFIX;
	w->start = 0;
	w->overflow = cap < FIX_WRITE_PREFIX + 8;
	fix_write_str(w, 35, type);
}

void fix_write_mem(struct fix_write *w, unsigned tag, const char *s, size_t len)
{
	char soh = FIX_SOH;

	put_tag(w, tag);
	put(w, s, len);
	put(w, &soh, 1);
}

void fix_write_str(struct fix_write *w, unsigned tag, const char *s)
{
	fix_write_mem(w, tag, s, strlen(s));
}

void fix_write_u64(struct fix_write *w, unsigned tag, uint64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);

	fix_write_mem(w, tag, t, (size_t)n);
}

void fix_write_dec8(struct fix_write *w, unsigned tag, int64_t v)
{
	char t[32];
	int n = fix_dec8_format(v, t);

	fix_write_mem(w, tag, t, (size_t)n);
}

void fix_write_utc(struct fix_write *w, unsigned tag, uint64_t ns)
{
	char t[24];
	int n = fix_utc_format(ns, t);

	fix_write_mem(w, tag, t, (size_t)n);
}

int fix_write_end(struct fix_write *w, const char *begin_string, const char **out, size_t *len)
{
	char head[FIX_WRITE_PREFIX + 1], tail[8];
	size_t body = w->len - FIX_WRITE_PREFIX, hn;
	unsigned sum = 0;
	int n;

	if (w->overflow)
		return -ENOSPC;
	n = snprintf(head, sizeof(head), "8=%s%c9=%zu%c", begin_string, FIX_SOH, body, FIX_SOH);
	if (n < 0 || (size_t)n > FIX_WRITE_PREFIX)
		return -ENOSPC;
	hn = (size_t)n;
	w->start = FIX_WRITE_PREFIX - hn;
	memcpy(w->buf + w->start, head, hn);
	for (size_t i = w->start; i < w->len; i++)
		sum += (unsigned char)w->buf[i];
	snprintf(tail, sizeof(tail), "10=%03u%c", sum & 0xff, FIX_SOH);
	put(w, tail, 7);
	if (w->overflow)
		return -ENOSPC;
	*out = w->buf + w->start;
	*len = w->len - w->start;
	return 0;
}
