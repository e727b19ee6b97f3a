/* Market views across the RX -> publisher ring (rx_event.h): the RX core,
 * which owns the book, turns each view into ring records (a BBO in one, a
 * DEPTH in parts of RX_DEPTH_PART_LEVELS levels); the publisher reassembles
 * them. Records of one view are consecutive (one producer, in order), so the
 * assembly needs no lookup. Pure: no DPDK, no NATS. */
#ifndef VIEWS_REC_H
#define VIEWS_REC_H

#include "rx_event.h"
#include "views.h"

/* Records one view can take at most. */
#define VIEWS_REC_MAX ((2 * VIEWS_MAX_LEVELS + RX_DEPTH_PART_LEVELS - 1) / RX_DEPTH_PART_LEVELS)

/* Write view `o` of `symbol` in `session` as records into out[0..VIEWS_REC_MAX):
 * seq, symbol, session, flags, reserved and the payload (timestamps and line
 * are the caller's). Returns the number of records. */
unsigned views_rec_put(const struct views_out *o, const char *session, const char *symbol, struct rx_event *out);

/* Publisher side: one view being reassembled. */
struct views_rec_asm {
	struct views_out o;
	struct book_level_info lv[2 * VIEWS_MAX_LEVELS];
	unsigned next_part; /* 0: no depth in progress */
};

/* Take one view record (flags & RX_EV_VIEWS). Returns 1 when a whole view is
 * in a->o (valid until the next call), 0 while a depth's parts are still
 * coming, -EINVAL for a part out of order (a record was lost: the view is
 * dropped, the caller counts it). */
int views_rec_take(struct views_rec_asm *a, const struct rx_event *e);

#endif
