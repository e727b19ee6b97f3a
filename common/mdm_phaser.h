/* Writer-reader phaser: lets writers mark critical sections without ever
 * blocking, and lets one reader at a time wait until every writer that was
 * inside a section when the phase flipped has left it. The shape of
 * HdrHistogram_c's hdr_writer_reader_phaser (after Gil Tene's
 * WriterReaderPhaser): writers do one atomic increment on enter and one on
 * exit; the reader serialises on a mutex writers never touch.
 *
 * Use (mdm_latency.c): writers enter, load the active buffer, write, exit;
 * the reader, under its lock, swaps active and inactive and flips the phase:
 * when the flip returns no writer is still writing the buffer it swapped out. */
#ifndef MDM_PHASER_H
#define MDM_PHASER_H

#include <pthread.h>
#include <stdint.h>

/* Read-only outside mdm_phaser.c (public so enter/exit inline). Epochs are
 * counts of entries (start) and exits (end) per phase: the even phase counts
 * up from 0, the odd phase up from INT64_MIN, so the sign of start_epoch
 * names the phase a writer entered. */
struct mdm_phaser {
	int64_t start_epoch;
	int64_t even_end_epoch;
	int64_t odd_end_epoch;
	pthread_mutex_t reader_mu;
};

/* Initialise / release caller-owned storage. init returns 0 (or the
 * pthread_mutex_init error, negated). Not hot-path. */
int mdm_phaser_init(struct mdm_phaser *p);
void mdm_phaser_fini(struct mdm_phaser *p);

/* Enter a writer critical section; pass the value returned to _exit. Never
 * blocks, any thread, hot-path safe (one atomic add). Sections do not nest. */
static inline int64_t mdm_phaser_writer_enter(struct mdm_phaser *p)
{
	return __atomic_fetch_add(&p->start_epoch, 1, __ATOMIC_SEQ_CST);
}

/* Leave the section entered with `enter_value`. Never blocks. */
static inline void mdm_phaser_writer_exit(struct mdm_phaser *p, int64_t enter_value)
{
	int64_t *end = enter_value < 0 ? &p->odd_end_epoch : &p->even_end_epoch;

	__atomic_fetch_add(end, 1, __ATOMIC_SEQ_CST);
}

/* Serialise readers (flips must happen under the lock). Blocks other readers
 * only. */
void mdm_phaser_reader_lock(struct mdm_phaser *p);
void mdm_phaser_reader_unlock(struct mdm_phaser *p);

/* Flip the phase and wait until every writer that entered before the flip has
 * exited; sleeps `yield_ns` between checks (0: sched_yield). Caller holds the
 * reader lock. Blocks the reader only, for as long as the longest writer
 * section in progress. */
void mdm_phaser_flip_phase(struct mdm_phaser *p, uint64_t yield_ns);

#endif
