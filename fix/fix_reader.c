/* Framing over a receive buffer (fix_reader.h). */
#include "fix_reader.h"

#include <errno.h>
#include <string.h>

#include "fix_msg.h"
#include "mdm_mem.h"

int fix_reader_init(struct fix_reader *r, size_t max_message)
{
	memset(r, 0, sizeof(*r));
	r->cap = max_message * 2;
	r->max_message = max_message;
	r->buf = mdm_malloc(r->cap);
	return r->buf ? 0 : -ENOMEM;
}

void fix_reader_fini(struct fix_reader *r)
{
	mdm_free(r->buf);
	r->buf = NULL;
}

void fix_reader_reset(struct fix_reader *r)
{
	r->len = r->off = r->skip = 0;
	r->junk = false;
}

static void discard(struct fix_reader *r)
{
	size_t n = r->len - r->off < r->skip ? r->len - r->off : r->skip;

	r->off += n;
	r->skip -= n;
}

void fix_reader_fill(struct fix_reader *r, size_t n)
{
	r->len += n;
	discard(r);
}

int fix_reader_next(struct fix_reader *r, const char **msg)
{
	for (;;) {
		const char *p = r->buf + r->off;
		size_t avail = r->len - r->off;
		int n = avail ? fix_frame(p, avail, r->max_message) : 0;

		if (n > 0) {
			r->junk = false;
			*msg = p;
			r->off += (size_t)n;
			return n;
		}
		if (n == 0)
			return 0;
		if (n == -FIX_R_OVERSIZED) {
			/* the length is known: skip exactly it, now and as it arrives */
			r->skip = fix_frame_declared_len(p, avail);
			r->junk = false;
			discard(r);
			return n;
		}
		r->off = fix_resync(r->buf, r->len, r->off + 1);
		if (n != -FIX_R_GARBAGE || !r->junk) {
			r->junk = true;
			return n;
		}
		/* more of a garbage run already counted when it began */
	}
}

void fix_reader_compact(struct fix_reader *r)
{
	memmove(r->buf, r->buf + r->off, r->len - r->off);
	r->len -= r->off;
	r->off = 0;
}
