/* stderr logger: one fprintf per line so concurrent threads never interleave
 * within a line (stdio locks the stream per call). */
#include "mdm_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int mdm_log_threshold = MDM_LOG_INFO;

static char log_component[32] = "mdmesh";
static char log_instance[64] = "";

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void mdm_log_init(const char *component, const char *instance)
{
	if (component)
		snprintf(log_component, sizeof(log_component), "%s", component);
	if (instance)
		snprintf(log_instance, sizeof(log_instance), "%s", instance);
}

void mdm_log_set_level(enum mdm_log_level level)
{
	mdm_log_threshold = (int)level;
}

int mdm_log_level_parse(const char *s, enum mdm_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum mdm_log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = MDM_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

void mdm_log_write(enum mdm_log_level level, const char *fmt, ...)
{
	char msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %-5s %s%s%s: %s\n", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
		level_names[level], log_component, log_instance[0] ? "/" : "", log_instance, msg);
}
