/* Batch cut rules of publish.mode batch (publish.h has the full statement):
 * where a stream of (session, seq, symbol) events is cut into EventBatch
 * messages, and so which Nats-Msg-Id each batch gets. Pure: no DPDK, no NATS,
 * no clock. The publisher drives them per event; test_batch_cut drives them
 * over tables of sequences. Cuts by time (batch_max_delay, live input only)
 * and by size (EVBATCH_MAX_BYTES) are the publisher's own. */
#ifndef BATCH_CUT_H
#define BATCH_CUT_H

#include <stdbool.h>
#include <stdint.h>

#define BATCH_CUT_SESSION_LEN 10

/* One partition's open batch. n == 0: none open. */
struct batch_cut_part {
	uint64_t window;    /* seq / max_events of its events */
	uint64_t first_seq, last_seq;
	uint32_t n;         /* events in it */
	char session[BATCH_CUT_SESSION_LEN + 1];
};

/* What an arriving event completes across all partitions. */
enum batch_cut_scope {
	BATCH_CUT_NONE,  /* nothing */
	BATCH_CUT_OLDER, /* a later window began: every batch of an older window is complete */
	BATCH_CUT_ALL,   /* an earlier window (new session, late sequence): close every batch */
};

/* Before the event with sequence `seq` is taken: which open batches its
 * arrival completes (publish every open batch p with batch_cut_older(p, ...)
 * for OLDER, every open batch for ALL). *window_hi, the window of the latest
 * event (start at 0), moves to seq's window. */
enum batch_cut_scope batch_cut_scope(uint64_t *window_hi, uint64_t seq, uint32_t max_events);

/* OLDER scope: is p's open batch of a window before `window`? */
static inline bool batch_cut_older(const struct batch_cut_part *p, uint64_t window)
{
	return p->window < window;
}

/* Must p's open batch be published before (session, seq) joins it: another
 * window or session, or a sequence not after its last one. */
bool batch_cut_before(const struct batch_cut_part *p, const char *session, uint64_t seq, uint32_t max_events);

/* The event (session, seq) joins p's batch (opening one when n == 0). */
void batch_cut_take(struct batch_cut_part *p, const char *session, uint64_t seq, uint32_t max_events);

/* Is p's batch complete by count (the whole window went to this partition)? */
static inline bool batch_cut_full(const struct batch_cut_part *p, uint32_t max_events)
{
	return p->n >= max_events;
}

/* p's batch was published (or dropped): none open. */
static inline void batch_cut_reset(struct batch_cut_part *p)
{
	p->n = 0;
}

#endif
