/* Poll-loop support: the process-wide stop flag and the idle strategy.
 * On isolated production cores a loop spins (sleep_us = 0); on a shared
 * 2-core machine it must back off when idle or it starves nats-server and the
 * processor (DPDK_NOTES.md section 3: nanosleep costs ~30-40 us here, so
 * sleeping less than ~50 us saves nothing). */
#ifndef MDM_POLL_H
#define MDM_POLL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_cycles.h>
#include <rte_pause.h>

/* Idle strategy state, one per loop (owned by its lcore). */
struct mdm_idle {
	uint32_t spin_polls; /* empty polls spun before sleeping */
	uint32_t sleep_us;   /* sleep per idle poll after that; 0 = pure busy poll */
	uint32_t empty;      /* consecutive empty polls so far */
	uint64_t sleeps;     /* times slept (stats) */
};

/* Stop flag: the only process-wide mutable (STYLE.md). */
extern volatile bool mdm_poll_stop_flag;

static inline bool mdm_poll_stopping(void)
{
	return __atomic_load_n(&mdm_poll_stop_flag, __ATOMIC_RELAXED);
}

/* Ask every poll loop to return (any thread, signal thread included). */
static inline void mdm_poll_stop(void)
{
	__atomic_store_n(&mdm_poll_stop_flag, true, __ATOMIC_RELAXED);
}

static inline void mdm_idle_init(struct mdm_idle *s, uint32_t spin_polls, uint32_t sleep_us)
{
	s->spin_polls = spin_polls;
	s->sleep_us = sleep_us;
	s->empty = 0;
	s->sleeps = 0;
}

/* A poll found work: spin again from the start. */
static inline void mdm_idle_reset(struct mdm_idle *s)
{
	s->empty = 0;
}

/* A poll found nothing. */
static inline void mdm_idle_wait(struct mdm_idle *s)
{
	if (s->sleep_us == 0 || ++s->empty <= s->spin_polls) {
		rte_pause();
		return;
	}
	s->sleeps++;
	rte_delay_us_sleep(s->sleep_us);
}

#endif
