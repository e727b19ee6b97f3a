/* Thread-local last-error text and errno naming. */
#include "mdm_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread char last_err[512];

const char *mdm_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

int mdm_err_set(int err, const char *fmt, ...)
{
	char tmp[sizeof(last_err)];
	va_list ap;

	/* via a scratch buffer: callers may pass mdm_err_last() itself as an
	 * argument to add context in front of an inner error */
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(last_err, tmp, sizeof(last_err));
	return err;
}

const char *mdm_err_last(void)
{
	return last_err;
}

void mdm_err_clear(void)
{
	last_err[0] = '\0';
}

bool mdm_err_retryable(int err)
{
	return err == -EAGAIN || err == -ECONNRESET || err == -ENOSPC || err == -ENOTCONN || err == -ETIMEDOUT;
}
