/* Condition variables whose timed waits run on CLOCK_MONOTONIC, so a wall
 * clock step (NTP, an operator's `date -s`) neither ends a wait early nor
 * stretches it: every deadline in mdmesh is a mdm_mono_ns() value. */
#ifndef MDM_COND_H
#define MDM_COND_H

#include <pthread.h>
#include <stdint.h>

/* pthread_cond_init with CLOCK_MONOTONIC for timed waits. 0, or the positive
 * error pthread_cond_init / pthread_condattr_* return. */
int mdm_cond_init(pthread_cond_t *c);

/* pthread_cond_timedwait until the monotonic time until_mono_ns (the cond
 * made by mdm_cond_init; mu held). 0 when woken (maybe spuriously: recheck the
 * predicate), ETIMEDOUT when the deadline passed. */
int mdm_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, uint64_t until_mono_ns);

#endif
