/* EventBatch packing: protobuf wire format written by hand, see evbatch.h. */
#include "evbatch.h"

#include <errno.h>
#include <string.h>

#define TAG_FEED 0x0a      /* field 1, length-delimited */
#define TAG_PARTITION 0x10 /* field 2, varint */
#define TAG_EVENTS 0x1a    /* field 3, length-delimited */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t evbatch_buffer_size(uint32_t max_events, size_t max_event_len, size_t feed_max)
{
	size_t head = 1 + varint_len(feed_max) + feed_max + 1 + varint_len(UINT32_MAX);
	size_t per_event = 1 + varint_len(max_event_len) + max_event_len;
	uint64_t want = head + (uint64_t)max_events * per_event;

	return want < EVBATCH_MAX_BYTES ? (size_t)want : EVBATCH_MAX_BYTES;
}

int evbatch_init(struct evbatch *b, uint8_t *buf, size_t cap, const char *feed, uint32_t partition,
		 size_t max_event_len)
{
	size_t flen = strlen(feed), at = 0;

	if (1 + varint_len(flen) + flen + 1 + varint_len(partition) + 1 + varint_len(max_event_len) + max_event_len >
	    cap)
		return -ENOSPC;
	/* proto3 canonical form: empty strings and zero scalars are omitted */
	if (flen) {
		buf[at++] = TAG_FEED;
		at += put_varint(buf + at, flen);
		memcpy(buf + at, feed, flen);
		at += flen;
	}
	if (partition) {
		buf[at++] = TAG_PARTITION;
		at += put_varint(buf + at, partition);
	}
	*b = (struct evbatch){ .buf = buf, .cap = cap, .head_len = at, .len = at, .n = 0 };
	return 0;
}

void evbatch_clear(struct evbatch *b)
{
	b->len = b->head_len;
	b->n = 0;
}

int evbatch_add(struct evbatch *b, const uint8_t *ev, size_t len)
{
	size_t need = 1 + varint_len(len) + len;

	if (b->len + need > b->cap)
		return -ENOSPC;
	b->buf[b->len++] = TAG_EVENTS;
	b->len += put_varint(b->buf + b->len, len);
	memcpy(b->buf + b->len, ev, len);
	b->len += len;
	b->n++;
	return 0;
}

uint32_t evbatch_partition(const char symbol[8], uint32_t partitions)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 8 && symbol[i]; i++) {
		h ^= (uint8_t)symbol[i];
		h *= 16777619u;
	}
	return h % partitions;
}

static int put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
	if (*at + n >= cap)
		return -ENOSPC;
	memcpy(out + *at, s, n);
	*at += n;
	out[*at] = '\0';
	return 0;
}

static int put_u64(char *out, size_t cap, size_t *at, uint64_t v)
{
	char digits[20];
	size_t nd = 0;

	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (*at + nd >= cap)
		return -ENOSPC;
	while (nd)
		out[(*at)++] = digits[--nd];
	out[*at] = '\0';
	return 0;
}

int evbatch_subject(char *out, size_t cap, const char *feed, uint32_t partition)
{
	size_t at = 0;

	if (put(out, cap, &at, EVBATCH_SUBJECT_PREFIX ".", sizeof(EVBATCH_SUBJECT_PREFIX)) ||
	    put(out, cap, &at, feed, strlen(feed)) || put(out, cap, &at, ".", 1) || put_u64(out, cap, &at, partition))
		return -ENOSPC;
	return (int)at;
}

int evbatch_msg_id(char *out, size_t cap, const char *feed, const char *session, uint64_t first, uint64_t last,
		   uint32_t partition)
{
	size_t at = 0;

	if (put(out, cap, &at, feed, strlen(feed)) || put(out, cap, &at, ".", 1) ||
	    put(out, cap, &at, session, strlen(session)) || put(out, cap, &at, ".", 1) ||
	    put_u64(out, cap, &at, first) || put(out, cap, &at, "-", 1) || put_u64(out, cap, &at, last) ||
	    put(out, cap, &at, ".", 1) || put_u64(out, cap, &at, partition))
		return -ENOSPC;
	return (int)at;
}
