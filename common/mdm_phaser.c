/* Writer-reader phaser (mdm_phaser.h): the reader side. */
#include "mdm_phaser.h"

#include <sched.h>
#include <time.h>

int mdm_phaser_init(struct mdm_phaser *p)
{
	int rc;

	p->start_epoch = 0;
	p->even_end_epoch = 0;
	p->odd_end_epoch = INT64_MIN;
	rc = pthread_mutex_init(&p->reader_mu, NULL);
	return -rc;
}

void mdm_phaser_fini(struct mdm_phaser *p)
{
	pthread_mutex_destroy(&p->reader_mu);
}

void mdm_phaser_reader_lock(struct mdm_phaser *p)
{
	pthread_mutex_lock(&p->reader_mu);
}

void mdm_phaser_reader_unlock(struct mdm_phaser *p)
{
	pthread_mutex_unlock(&p->reader_mu);
}

void mdm_phaser_flip_phase(struct mdm_phaser *p, uint64_t yield_ns)
{
	/* The phase now running is even when start_epoch >= 0. */
	int next_is_even = __atomic_load_n(&p->start_epoch, __ATOMIC_SEQ_CST) < 0;
	int64_t initial = next_is_even ? 0 : INT64_MIN;
	int64_t *next_end = next_is_even ? &p->even_end_epoch : &p->odd_end_epoch;
	int64_t *prev_end = next_is_even ? &p->odd_end_epoch : &p->even_end_epoch;
	int64_t start_at_flip;

	/* Reset the next phase's exit count before any writer can enter it:
	 * the exchange below is what lets them in. */
	__atomic_store_n(next_end, initial, __ATOMIC_SEQ_CST);
	start_at_flip = __atomic_exchange_n(&p->start_epoch, initial, __ATOMIC_SEQ_CST);
	/* Every writer that entered the old phase took one start value; it has
	 * left when the old phase's exits reach the start count at the flip. */
	while (__atomic_load_n(prev_end, __ATOMIC_SEQ_CST) != start_at_flip) {
		if (yield_ns == 0) {
			sched_yield();
		} else {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)yield_ns };

			nanosleep(&ts, NULL);
		}
	}
}
