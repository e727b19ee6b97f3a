/* The in-flight window between FIX and JetStream: one slot per published
 * Execution, in arrival order, so that the persisted "processed" inbound
 * number only moves past a message once it and everything before it is acked.
 * The main thread pushes and advances; ack handlers (any thread) mark slots
 * done. Lock-free: a ring of slots indexed by a 64-bit ticket, each slot's
 * state stored with release and read with acquire. Hot-path safe. */
#ifndef FIX_WINDOW_H
#define FIX_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

enum fix_slot_state { FIX_SLOT_FREE = 0, FIX_SLOT_PENDING, FIX_SLOT_DONE, FIX_SLOT_FAILED };

/* Read-only outside fix_window.c. */
struct fix_slot {
	uint64_t seq;     /* inbound MsgSeqNum */
	uint64_t rx_ns;   /* receive time, realtime ns (latency) */
	uint64_t pub_ns;  /* publish time, realtime ns */
	int state;        /* enum fix_slot_state, atomic */
};

struct fix_window;

/* capacity: a power of two, 2..2^24. 0, -EINVAL, -ENOMEM. */
int fix_window_create(struct fix_window **out, uint32_t capacity);
void fix_window_destroy(struct fix_window *w); /* NULL-safe */

/* Main thread. */
bool fix_window_full(const struct fix_window *w);
uint64_t fix_window_in_flight(const struct fix_window *w);
/* A new pending slot for inbound `seq`; returns its ticket (the publish token).
 * The window must not be full. */
uint64_t fix_window_push(struct fix_window *w, uint64_t seq, uint64_t rx_ns, uint64_t pub_ns);
/* Free the done slots at the tail. Returns how many; *failed_seq gets the seq
 * of a FAILED tail slot (which is freed too, so the caller must make sure it
 * is delivered again: see fix_session rewind), else 0. */
uint32_t fix_window_advance(struct fix_window *w, uint64_t *failed_seq);
/* The lowest inbound number still pending, or 0 when nothing is. */
uint64_t fix_window_low_seq(const struct fix_window *w);

/* Any thread: the outcome of ticket `t`. Its receive and publish times are
 * read into *rx_ns / *pub_ns first: once marked, the slot may be reused. */
void fix_window_done(struct fix_window *w, uint64_t t, bool ok, uint64_t *rx_ns, uint64_t *pub_ns);

#endif
