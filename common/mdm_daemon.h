/* The start-up every mdmesh daemon shares, one step per call: command line
 * (options that are config keys, -c, --set, --print-config, --help,
 * --version), config (file < environment < flags, validated), logging,
 * signals, the NATS connection, the streams it publishes into, and the
 * HTTP listener (/metrics, /stats.json, /dashboard). The program keeps its
 * own steps (EAL and lcores, stores, workers) between these. Start-up, not
 * hot path.
 *
 * Usage (error handling shortened; the collector's and processor's main.c
 * are the full examples):
 *	struct mdm_daemon_params dp = { .prog = "mdmesh-x", .component = "x",
 *		.schema = x_cfg_schema, .schema_len = x_cfg_schema_len, .cfg = &cfg,
 *		.load = x_load, .validate = x_validate, .usage = x_usage,
 *		.opts = x_opts, .n_opts = N };
 *	if ((code = mdm_daemon_configure(&d, &dp, argc, argv)) != MDM_DAEMON_GO_ON)
 *		goto out;                        (exit status: 0 after --help, 2 on usage)
 *	mdm_daemon_start_signals(d); mdm_daemon_connect(d, &bp, &bus);
 *	mdm_daemon_ensure_streams(d, streams, n); ... mdm_daemon_serve_http(d, ...);
 *	while (!mdm_daemon_stopping(d)) ...;
 *	mdm_daemon_destroy(d);                   (also frees cfg)
 *
 * Threading: one thread (main) calls everything, except that the signal
 * thread updates the counters read by mdm_daemon_stops()/_take_hup(). */
#ifndef MDM_DAEMON_H
#define MDM_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mdm_bus.h"
#include "mdm_cfg.h"
#include "mdm_http.h"

struct mdm_bus_params;
struct mdm_metrics;
struct mdm_nats_cfg;

/* A start-up step's outcome when the daemon goes on; any other value is the
 * exit status to end with (0 after --help, --version, --print-config;
 * 1 on errors; 2 on usage and config errors, already printed). */
#define MDM_DAEMON_GO_ON (-1)

#define MDM_DAEMON_MAX_FLAGS 64 /* options that set keys, per command line */

struct mdm_daemon;

/* A long option of the program. */
struct mdm_daemon_opt {
	const char *name;  /* without "--" */
	const char *key;   /* config key it sets; NULL = the program's own (on_opt) */
	const char *value; /* non-NULL: takes no argument and sets key to this */
	bool no_arg;       /* an own option (key NULL) without argument */
};

struct mdm_daemon_params {
	const char *prog;      /* "mdmesh-collector": error prefix, --version */
	const char *component; /* log tag, "collector" */
	/* The config: a struct the caller owns, its schema, its loader (file or
	 * NULL = defaults, then the environment; the program's *_cfg_load) and
	 * the cross-key checks the schema cannot express (0, or -EINVAL with the
	 * message set). The schema must have the STR keys "log_level" and
	 * "instance": logging is set up from them. */
	const struct mdm_cfg_field *schema;
	size_t schema_len;
	void *cfg;
	int (*load)(void *cfg, const char *path);
	int (*validate)(void *cfg);
	void (*usage)(FILE *f);
	/* Options besides the common ones (--config/-c, --set, --print-config,
	 * --nats, --http, --instance, --log-level, --help/-h, --version/-V). */
	const struct mdm_daemon_opt *opts;
	size_t n_opts;
	/* An own option (key NULL) was given: 0, or -EINVAL with the message set
	 * ("--from-seq 'x': expected ..."), printed as "PROG: MSG", exit 2. It may
	 * call mdm_daemon_set() to set a key from a converted value. */
	int (*on_opt)(void *ctx, struct mdm_daemon *d, const char *name, const char *arg);
	/* Optional: once the command line is read, before the config is loaded,
	 * checks across the own options: 0, or -EINVAL with the message set
	 * (printed as "PROG: MSG", exit 2). */
	int (*check_args)(void *ctx);
	void *ctx;
	/* Non-NULL: arguments after "--" are passed through (mdm_daemon_extra_args)
	 * and stray ones are refused naming them ("EAL arguments"). */
	const char *extra_args_name;
	/* Stop signals (SIGINT/SIGTERM), on the signal thread: called with the
	 * count so far, after it was incremented. Optional. */
	void (*on_stop)(void *ctx, int stops);
	/* A second stop signal exits at once (status 1) with "PROG: second
	 * signal, exiting without draining" instead of calling on_stop. */
	bool exit_on_second_stop;
};

struct mdm_daemon;

/* Create the daemon (*out, also when an exit status is returned: destroy
 * it), read the command line: --help and --version print and return 0,
 * mistakes print "PROG: ..." (or the usage) on stderr and return 2. Then
 * check_args, and load the config: the -c file (or the defaults), the
 * environment, then the key options in command-line order; --print-config
 * prints it and returns 0 (1 when writing failed); errors print "PROG: ..."
 * ("PROG: FILE: ..." for validate) and return 2. Then logging is set up from
 * log_level and instance. Returns MDM_DAEMON_GO_ON, or the exit status (1
 * when the daemon could not be created). The params' strings, tables and cfg
 * must outlive the daemon. */
int mdm_daemon_configure(struct mdm_daemon **out, const struct mdm_daemon_params *p, int argc, char **argv);

/* Close what is still open (HTTP, bus) and free the config's owned fields
 * (mdm_cfg_free) if it was loaded. NULL is a no-op. */
void mdm_daemon_destroy(struct mdm_daemon *d);

/* For on_opt: queue `key` = `value` as if given on the command line by
 * `origin` (e.g. "--exit-when-idle"). value must live until the config is
 * loaded. 0, or -E2BIG past MDM_DAEMON_MAX_FLAGS (message set). */
int mdm_daemon_set(struct mdm_daemon *d, const char *key, const char *value, const char *origin);

/* Arguments after "--" (extra_args_name), and how many. */
char **mdm_daemon_extra_args(const struct mdm_daemon *d, int *n);

/* The path given with -c, or NULL. */
const char *mdm_daemon_config_path(const struct mdm_daemon *d);

/* Handle SIGINT/SIGTERM/SIGHUP on a signal thread. Call before creating any
 * other thread (DPDK's and nats.c's included) so they inherit the mask.
 * 0, or a negative errno (logged). */
int mdm_daemon_start_signals(struct mdm_daemon *d);

/* Stop signals seen so far. Any thread. */
int mdm_daemon_stops(const struct mdm_daemon *d);

/* The config's instance name ("" before the config is loaded). */
const char *mdm_daemon_instance(const struct mdm_daemon *d);

/* True once a stop signal was seen. Any thread. */
bool mdm_daemon_stopping(const struct mdm_daemon *d);

/* SIGHUPs seen since the last call (the caller reloads what it can). */
int mdm_daemon_take_hup(struct mdm_daemon *d);

/* Fill *bp for this daemon's connection: defaults, the nats.* settings of
 * `nats` (which must outlive mdm_daemon_connect), the instance as the
 * connection name. The caller may tune it before connecting. */
void mdm_daemon_bus_params(const struct mdm_daemon *d, const struct mdm_nats_cfg *nats, struct mdm_bus_params *bp);

/* Connect to NATS; *bus (if bus is not NULL) is the connection, owned by d.
 * 0, or a negative errno logged as "NATS: ...". */
int mdm_daemon_connect(struct mdm_daemon *d, const struct mdm_bus_params *bp, struct mdm_bus **bus);

/* The connection (NULL before mdm_daemon_connect / after _disconnect). */
struct mdm_bus *mdm_daemon_bus(const struct mdm_daemon *d);

/* Close the connection now (it hands unacknowledged publishes back to their
 * handlers: call it while their contexts are alive). Idempotent. */
void mdm_daemon_disconnect(struct mdm_daemon *d);

/* A stream as mdmesh daemons make them: the subjects of a config list (kept
 * by reference), no limits, `replicas` copies. Fields can be set afterwards. */
struct mdm_stream_cfg mdm_daemon_stream(const char *name, const struct mdm_cfg_strlist *subjects, uint64_t replicas);

/* Create, update or verify one stream (mdm_bus_stream_ensure), logging
 * "stream NAME created" / "updated" / "up to date" at info. Returns what was
 * done (MDM_BUS_CREATED, MDM_BUS_UPDATED, MDM_BUS_UNCHANGED), or a negative
 * errno with the message "stream NAME: reason" set and logged: the server
 * refused the config (e.g. an existing stream whose storage differs: an update
 * cannot change it; subjects another stream owns), or did not apply it. */
int mdm_daemon_ensure_stream(struct mdm_daemon *d, const struct mdm_stream_cfg *sc);

/* Every stream of the list in order, stopping at the first failure.
 * 0 or that failure's negative errno (message set and logged). */
int mdm_daemon_ensure_streams(struct mdm_daemon *d, const struct mdm_stream_cfg *list, size_t n);

/* Also serve `path` with fn(ctx, ...) (mdm_http_route), from
 * mdm_daemon_serve_http on; call before it. path and ctx are borrowed until
 * the daemon is destroyed. 0, or -EBUSY (too many routes, or HTTP already
 * serving). */
int mdm_daemon_route(struct mdm_daemon *d, const char *path, mdm_http_handler fn, void *ctx);

/* Serve HTTP on `listen` (ADDR:PORT; NULL or "" = none, returns 0): metrics
 * (/metrics, /stats.json), /dashboard, the mdm_daemon_route paths, and /healthz when `health` is
 * given; bearer `token` unless NULL or "". Logs "metrics on
 * http://HOST:PORT/metrics (port PORT)". 0, or a negative errno logged as
 * "http.listen ADDR: ...". */
int mdm_daemon_serve_http(struct mdm_daemon *d, const char *listen, const char *token, struct mdm_metrics *metrics,
			  mdm_http_health_fn health, void *health_ctx);

/* Stop serving HTTP (before what it reads goes away). Idempotent. */
void mdm_daemon_stop_http(struct mdm_daemon *d);

#endif
