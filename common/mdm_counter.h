/* Counters read by other threads (stats, /metrics) while their owner writes
 * them: one family, named by who may write, after Aeron's counters manager
 * (aeron_counters_manager.h: increment, ordered increment, propose-max).
 * Every access is atomic, so a reader on another thread sees a value that was
 * really stored (no torn or invented values, no data race for the compiler or
 * ThreadSanitizer), and none of them is a fence: counters order nothing.
 *
 *   mdm_counter_add        one writer thread (an lcore's own stats): a relaxed
 *                          load and store, no read-modify-write, as cheap as ++
 *   mdm_counter_add_shared any number of writers: a relaxed fetch-add
 *   mdm_counter_propose_max one writer: store v if it is above the current value
 *   mdm_counter_set        one writer: a gauge's new value
 *   mdm_counter_get        any thread
 * Gauges that go down use mdm_counter_add with a negated (wrapping) amount. */
#ifndef MDM_COUNTER_H
#define MDM_COUNTER_H

#include <stdint.h>

static inline uint64_t mdm_counter_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Single writer: only one thread ever writes *c. */
static inline void mdm_counter_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* Single writer: subtract (a gauge going down). */
static inline void mdm_counter_sub(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) - v, __ATOMIC_RELAXED);
}

/* Any number of writers. */
static inline void mdm_counter_add_shared(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

/* Single writer: a gauge's value. */
static inline void mdm_counter_set(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

/* Single writer: raise *c to v when v is larger (a high-water mark). */
static inline void mdm_counter_propose_max(uint64_t *c, uint64_t v)
{
	if (v > __atomic_load_n(c, __ATOMIC_RELAXED))
		__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

#endif
