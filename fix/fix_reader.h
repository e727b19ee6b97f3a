/* Inbound FIX bytes -> framed messages, over one receive buffer: what
 * mdmesh-fix, `mdmesh-loadgen fix` and the fuzz target read with. It owns
 * the rules for bytes that do not frame, so each refusal is counted once:
 * a run of garbage (bytes before "8=FIX", however many reads it spans) is
 * one refusal, and an oversized message with a readable BodyLength is
 * skipped exactly (its body, arriving later, is neither garbage nor taken
 * for messages). Not thread-safe; no allocation after init. */
#ifndef FIX_READER_H
#define FIX_READER_H

#include <stdbool.h>
#include <stddef.h>

struct fix_reader {
	char *buf;
	size_t cap, len, off;      /* buf[off..len) not yet handed out */
	size_t max_message;
	size_t skip;               /* bytes of an oversized message still to discard */
	bool junk;                 /* inside a garbage run already counted */
};

/* A buffer for messages up to max_message bytes (it holds two). 0 or -ENOMEM. */
int fix_reader_init(struct fix_reader *r, size_t max_message);
void fix_reader_fini(struct fix_reader *r);
/* A new connection: forget everything buffered. */
void fix_reader_reset(struct fix_reader *r);

/* Where to read into, and how much room there is (0: consume first). */
static inline char *fix_reader_space(struct fix_reader *r, size_t *room)
{
	*room = r->cap - r->len;
	return r->buf + r->len;
}
/* n bytes were read into the space. */
void fix_reader_fill(struct fix_reader *r, size_t n);

/* The next message: its length (> 0) with *msg at its first byte, valid
 * until the next fill or compact; 0 when more bytes are needed; or -FIX_R_x
 * for bytes refused (already skipped: count it and call again). */
int fix_reader_next(struct fix_reader *r, const char **msg);

/* Bytes buffered and not yet handed out. */
static inline size_t fix_reader_pending(const struct fix_reader *r)
{
	return r->len - r->off;
}

/* Move what is left to the front, making room. After a batch of next(). */
void fix_reader_compact(struct fix_reader *r);

#endif
