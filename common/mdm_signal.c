/* sigwait-based signal thread. A second SIGINT/SIGTERM while stopping is still
 * delivered to the callback; callers may escalate (exit) on the second one. */
#include "mdm_signal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>

static mdm_signal_fn sig_fn;
static void *sig_ctx;
static sigset_t sig_set;

static void *signal_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int sig;

		if (sigwait(&sig_set, &sig) != 0)
			continue;
		if (sig == SIGPIPE)
			continue;
		sig_fn(sig, sig_ctx);
	}
	return NULL;
}

int mdm_signal_start(mdm_signal_fn fn, void *ctx)
{
	pthread_t t;
	int rc;

	sig_fn = fn;
	sig_ctx = ctx;
	sigemptyset(&sig_set);
	sigaddset(&sig_set, SIGINT);
	sigaddset(&sig_set, SIGTERM);
	sigaddset(&sig_set, SIGHUP);
	sigaddset(&sig_set, SIGPIPE);
	rc = pthread_sigmask(SIG_BLOCK, &sig_set, NULL);
	if (rc != 0)
		return -rc;
	rc = pthread_create(&t, NULL, signal_thread, NULL);
	if (rc != 0)
		return -rc;
	pthread_detach(t);
	return 0;
}
