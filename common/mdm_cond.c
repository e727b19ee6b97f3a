/* Monotonic-clock condition variables (see mdm_cond.h). */
#include "mdm_cond.h"

#include <time.h>

#include "mdm_clock.h"

int mdm_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);

	if (rc != 0)
		return rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}

int mdm_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, uint64_t until_mono_ns)
{
	struct timespec ts = { (time_t)(until_mono_ns / MDM_NS_PER_S), (long)(until_mono_ns % MDM_NS_PER_S) };

	return pthread_cond_timedwait(c, mu, &ts);
}
