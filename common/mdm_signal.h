/* Process signals handled on one dedicated thread (sigwait), never in an
 * async handler: SIGINT/SIGTERM ask for a stop, SIGHUP for a reload. Call
 * mdm_signal_start before creating any other thread (DPDK's included), so
 * every thread inherits the blocked mask and no signal lands on a poll core. */
#ifndef MDM_SIGNAL_H
#define MDM_SIGNAL_H

/* Called on the signal thread with the signal number. Keep it short: set a
 * flag, wake someone. */
typedef void (*mdm_signal_fn)(int sig, void *ctx);

/* Block SIGINT, SIGTERM, SIGHUP and SIGPIPE in the calling thread (inherited
 * by threads it creates later) and start the signal thread, which calls `fn`
 * for SIGINT/SIGTERM/SIGHUP. SIGPIPE stays blocked (a closed socket is an
 * error return, not a death). Returns 0 or a negative errno. Once per process. */
int mdm_signal_start(mdm_signal_fn fn, void *ctx);

#endif
