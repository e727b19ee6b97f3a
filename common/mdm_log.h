/* Leveled logging to stderr. The level is tested before the arguments are
 * evaluated, so a disabled debug line costs one compare. Lines are tagged with
 * the component and instance set once at start-up. Per-event paths count
 * instead of logging; see STYLE.md section 8. */
#ifndef MDM_LOG_H
#define MDM_LOG_H

enum mdm_log_level {
	MDM_LOG_ERROR = 0,
	MDM_LOG_WARN = 1,
	MDM_LOG_INFO = 2,
	MDM_LOG_DEBUG = 3,
};

/* Current threshold; read-only outside mdm_log.c (use mdm_log_set_level). */
extern int mdm_log_threshold;

/* Set component/instance tags (copied; NULL keeps the old value). Call before
 * starting threads. */
void mdm_log_init(const char *component, const char *instance);

void mdm_log_set_level(enum mdm_log_level level);

/* Parse "error|warn|info|debug"; returns 0 and sets *out, or -EINVAL. */
int mdm_log_level_parse(const char *s, enum mdm_log_level *out);

void mdm_log_write(enum mdm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mdm_log(level, ...)                                  \
	do {                                                 \
		if ((int)(level) <= mdm_log_threshold)       \
			mdm_log_write((level), __VA_ARGS__); \
	} while (0)

#define mdm_log_error(...) mdm_log(MDM_LOG_ERROR, __VA_ARGS__)
#define mdm_log_warn(...) mdm_log(MDM_LOG_WARN, __VA_ARGS__)
#define mdm_log_info(...) mdm_log(MDM_LOG_INFO, __VA_ARGS__)
#define mdm_log_debug(...) mdm_log(MDM_LOG_DEBUG, __VA_ARGS__)

#endif
