/* Clocks in integer nanoseconds. Monotonic for intervals inside one process,
 * realtime (CLOCK_REALTIME) for timestamps that cross processes and hosts. */
#ifndef MDM_CLOCK_H
#define MDM_CLOCK_H

#include <stdint.h>
#include <time.h>

#define MDM_NS_PER_US 1000ULL
#define MDM_NS_PER_MS 1000000ULL
#define MDM_NS_PER_S 1000000000ULL

static inline uint64_t mdm_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * MDM_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Monotonic ns: for durations and deadlines. Hot-path safe (vDSO, ~25 ns). */
static inline uint64_t mdm_mono_ns(void)
{
	return mdm_clock_ns(CLOCK_MONOTONIC);
}

/* Realtime ns since the epoch: for rx/pub timestamps compared across processes. */
static inline uint64_t mdm_real_ns(void)
{
	return mdm_clock_ns(CLOCK_REALTIME);
}

/* Sleep for ns nanoseconds (restarts on EINTR until the time has passed). */
static inline void mdm_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / MDM_NS_PER_S), (long)(ns % MDM_NS_PER_S) };

	while (nanosleep(&ts, &ts) != 0)
		;
}

#endif
