/* Error convention for all of mdmesh: 0 is success, failures are negative errno
 * values (DPDK's convention). A thread-local "last error" carries the human
 * detail from where the error was found to where the decision is logged. */
#ifndef MDM_ERR_H
#define MDM_ERR_H

#include <errno.h>
#include <stdbool.h>

/* Text of a negative (or positive) errno value. Never NULL. Thread-safe. */
const char *mdm_strerror(int err);

/* Record detail for the current thread's last error (printf-style; the
 * arguments may include mdm_err_last(), to prefix context) and return
 * `err` unchanged, so leaf code can write `return mdm_err_set(-EINVAL, ...)`.
 * The text is truncated at 511 bytes. Thread-safe (thread-local). */
int mdm_err_set(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The current thread's last error text ("" when none). Valid until the next
 * mdm_err_set/mdm_err_clear on this thread. */
const char *mdm_err_last(void);

/* The one definition of a retryable error: `err` says something we depend
 * on is unavailable for now (back-pressure, a lost or slow connection, a full
 * disk), so the same request may succeed later: -EAGAIN, -ECONNRESET,
 * -ENOSPC, -ENOTCONN, -ETIMEDOUT. Anything else is bad input or a bug and
 * fails the same way again. Pure. */
bool mdm_err_retryable(int err);

/* Forget the current thread's last error. */
void mdm_err_clear(void);

#endif
