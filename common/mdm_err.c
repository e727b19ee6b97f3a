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
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
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
