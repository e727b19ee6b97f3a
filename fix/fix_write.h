/* Building one FIX message into a caller-owned buffer: the body fields are
 * appended after a reserved prefix, then fix_write_end puts 8= and 9= in
 * front of them and 10= after, so nothing is copied twice. Pure, no
 * allocation, hot-path safe. */
#ifndef FIX_WRITE_H
#define FIX_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIX_WRITE_PREFIX 32 /* room for 8=FIX.x.y<SOH>9=NNNNNNN<SOH> */

/* Read-only outside fix_write.c except through the calls below. */
struct fix_write {
	char *buf;
	size_t cap;
	size_t len;      /* end of what is written (from buf) */
	size_t start;    /* where the finished message starts (after fix_write_end) */
	bool overflow;   /* a field did not fit: fix_write_end fails */
};

/* Start a message of MsgType `type` in buf[0..cap). */
void fix_write_begin(struct fix_write *w, char *buf, size_t cap, const char *type);

void fix_write_str(struct fix_write *w, unsigned tag, const char *s);
void fix_write_mem(struct fix_write *w, unsigned tag, const char *s, size_t len);
void fix_write_u64(struct fix_write *w, unsigned tag, uint64_t v);
void fix_write_dec8(struct fix_write *w, unsigned tag, int64_t v);   /* 1e-8 fixed point */
void fix_write_utc(struct fix_write *w, unsigned tag, uint64_t ns); /* UTCTimestamp, ms */

/* Finish: header (BeginString begin_string, BodyLength) and CheckSum.
 * @return 0 and *out / *len: the message (inside buf); -ENOSPC when it did
 *         not fit in cap. */
int fix_write_end(struct fix_write *w, const char *begin_string, const char **out, size_t *len);

#endif
