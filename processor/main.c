/* mdmesh-processor: argv -> config -> rules -> NATS (streams, consumer) ->
 * stages -> worker pool; the main thread runs the control loop (stats, SIGHUP
 * reload, exit when idle, stop). main() is the list of steps; the start-up
 * the daemons share is common/mdm_daemon. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dlq.h"
#include "enrich.h"
#include "mdm_bus.h"
#include "mdm_bus_cfg.h"
#include "mdm_clock.h"
#include "mdm_daemon.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "processor_cfg.h"
#include "processor_stats.h"
#include "rules.h"
#include "stages.h"
#include "store.h"
#include "validate.h"
#include "worker.h"

#define PROG "mdmesh-processor"
#define REBUILD_IDLE_NS (2 * MDM_NS_PER_S)
#define CONTROL_SLICE_NS (50 * MDM_NS_PER_MS)
#define MAX_STREAMS 8
#define MAX_STAGES 8

/* Everything one run holds: the steps in main() fill it in order and
 * processor_close() takes it down. */
struct processor {
	struct processor_cfg cfg; /* owned by d once loaded */
	struct mdm_daemon *d;
	struct mdm_bus *bus;      /* d's */
	/* options that are not config keys */
	bool rebuild;
	uint64_t from_seq;
	int64_t since_ns;
	char idle_buf[32];        /* --exit-when-idle as a config duration */
	char durable[96];         /* the consumer: <consumer.durable>[-rebuild] */
	uint64_t idle_ns;         /* exit when idle this long; 0 = never */
	struct rules_holder *rules;
	struct stage_route_shared route; /* rules + alerts by rule */
	struct mdm_tally *alerts;        /* alerts committed, by rule (/stats.json "trade") */
	struct mdm_tally *notional;      /* executions: committed trades' notional by trader */
	struct enrich *enrich;
	struct exec_pipeline *xp;     /* stream EXEC: the executions pipeline (stage_exec.c) */
	struct mdm_stage stages[MAX_STAGES];
	size_t n_stages;
	struct dlq *dlq;
	struct worker_pool *pool;
	struct processor_stats *ps;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-c FILE] [options]\n\n"
		"Consumes MarketEvents from NATS JetStream (stream MD, durable pull consumer 'processor'),\n"
		"validates, routes by rules, enriches with reference data, derives trades and 1-minute bars,\n"
		"and persists them (SQLite or PostgreSQL), acking each batch after its commit. Bad events go\n"
		"to stream DLQ (dlq.<stream>.<consumer>), one AuditRecord per batch to audit.processor.\n\n"
		"  -c, --config FILE       YAML config (configs/processor.yaml documents every key);\n"
		"                          without it the defaults apply (local nats-server, var/mdmesh.db)\n"
		"      --nats URL          nats.url\n"
		"      --store URL         store.url: SQLite path, or postgresql://...\n"
		"      --workers N         worker threads (workers)\n"
		"      --rules FILE        rules.file (builtin = the shipped rules, the default; '' = none)\n"
		"      --http ADDR:PORT    metrics/stats listener, '' to disable (http.listen)\n"
		"      --instance NAME     instance name (stats.processor.<instance>, audit records)\n"
		"      --exit-when-idle S  exit 0 once nothing new arrived for S seconds and every fetched\n"
		"                          message is committed and acked (exit_when_idle)\n"
		"      --rebuild           replay the stream into the store after emptying it (truncate),\n"
		"                          through consumer <durable>-rebuild; exits when caught up\n"
		"      --from-seq N        --rebuild from stream sequence N (default 1)\n"
		"      --since TIME        --rebuild from TIME: epoch seconds or YYYY-MM-DDTHH:MM:SSZ\n"
		"      --set KEY=VALUE     any config key, e.g. --set fetch.batch=512\n"
		"      --print-config      print the effective config as YAML and exit\n"
		"      --log-level L       error, warn, info, debug\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version\n\n"
		"Signals: SIGINT/SIGTERM finish the batch in hand (commit + ack) and stop; a second one exits\n"
		"at once. SIGHUP reloads the rules file (a bad file keeps the old rules).\n"
		"Every config key can also come from the environment: MDM_<KEY>, dots as underscores.\n"
		"Exit status: 0 on a clean stop, 1 on errors, 2 on usage.\n");
}

/* --since: epoch seconds, or an ISO 8601 UTC time. 0 or -EINVAL. */
static int parse_since(const char *s, int64_t *out_ns)
{
	struct tm tm = { 0 };
	char *end;
	double secs = strtod(s, &end);

	if (end != s && *end == '\0' && secs > 0) {
		*out_ns = (int64_t)(secs * 1e9);
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z") != 0))
		return -EINVAL;
	*out_ns = (int64_t)timegm(&tm) * (int64_t)MDM_NS_PER_S;
	return *out_ns > 0 ? 0 : -EINVAL;
}

/* Options besides the common ones (mdm_daemon.h): config keys, and the
 * processor's own (key NULL, on_opt). */
static const struct mdm_daemon_opt opts[] = {
	{ .name = "store", .key = "store.url" },
	{ .name = "workers", .key = "workers" },
	{ .name = "rules", .key = "rules.file" },
	{ .name = "exit-when-idle" },
	{ .name = "rebuild", .no_arg = true },
	{ .name = "from-seq" },
	{ .name = "since" },
};

static int on_opt(void *ctx, struct mdm_daemon *d, const char *name, const char *arg)
{
	struct processor *p = ctx;
	char *end;

	if (strcmp(name, "exit-when-idle") == 0) {
		double secs = strtod(arg, &end);

		if (end == arg || *end || secs <= 0 || secs > 86400)
			return mdm_err_set(-EINVAL, "--exit-when-idle '%s': expected seconds (0 < S <= 86400)", arg);
		snprintf(p->idle_buf, sizeof(p->idle_buf), "%.0fms", secs * 1000);
		return mdm_daemon_set(d, "exit_when_idle", p->idle_buf, "--exit-when-idle");
	}
	if (strcmp(name, "rebuild") == 0) {
		p->rebuild = true;
		return 0;
	}
	if (strcmp(name, "from-seq") == 0) {
		p->from_seq = strtoull(arg, &end, 10);
		if (end == arg || *end || p->from_seq == 0)
			return mdm_err_set(-EINVAL, "--from-seq '%s': expected a stream sequence >= 1", arg);
		return 0;
	}
	if (parse_since(arg, &p->since_ns) != 0)
		return mdm_err_set(-EINVAL, "--since '%s': expected epoch seconds or YYYY-MM-DDTHH:MM:SSZ", arg);
	return 0;
}

static int check_args(void *ctx)
{
	const struct processor *p = ctx;

	if ((p->from_seq || p->since_ns) && !p->rebuild)
		return mdm_err_set(-EINVAL, "--from-seq and --since only go with --rebuild");
	if (p->from_seq && p->since_ns)
		return mdm_err_set(-EINVAL, "give --from-seq or --since, not both");
	return 0;
}

static int cfg_load(void *cfg, const char *path) { return processor_cfg_load(cfg, path); }
static int cfg_validate(void *cfg) { return processor_cfg_validate(cfg); }

/* Command line, config, logging. MDM_DAEMON_GO_ON, or the exit status. */
static int configure(struct processor *p, int argc, char **argv)
{
	const struct mdm_daemon_params dp = {
		.prog = PROG, .component = "processor", .schema = processor_cfg_schema,
		.schema_len = processor_cfg_schema_len, .cfg = &p->cfg, .load = cfg_load, .validate = cfg_validate,
		.usage = usage, .opts = opts, .n_opts = sizeof(opts) / sizeof(opts[0]), .on_opt = on_opt,
		.check_args = check_args, .ctx = p,
		/* SIGINT/SIGTERM finish the batch in hand; a second one exits at once */
		.exit_on_second_stop = true,
	};
	int code = mdm_daemon_configure(&p->d, &dp, argc, argv);

	if (code != MDM_DAEMON_GO_ON)
		return code;
	snprintf(p->durable, sizeof(p->durable), p->rebuild ? "%s-rebuild" : "%s", p->cfg.consumer_durable);
	p->idle_ns = p->cfg.exit_when_idle_ns ? p->cfg.exit_when_idle_ns : p->rebuild ? REBUILD_IDLE_NS : 0;
	return MDM_DAEMON_GO_ON;
}

/* Rules before any connection: a bad file is refused at once with its
 * file:line, not after NATS and the streams are up. 0, or -EINVAL (printed). */
static int load_rules(struct processor *p)
{
	struct rules *r = NULL;

	if (!p->cfg.rules_file || !p->cfg.rules_file[0])
		return 0;
	if (rules_load_setting(p->cfg.rules_file, &r) != 0 || rules_holder_create(&p->rules, &r) != 0) {
		fprintf(stderr, PROG ": rules.file: %s\n", mdm_err_last());
		rules_unref(r);
		return -EINVAL;
	}
	return 0;
}

/* SQLite's default path lives in var/: create the directory, not the file. */
static int make_store_dir(const char *url)
{
	char buf[4096], *dir;

	if (store_ops_for(url) != &store_sqlite_ops || strncmp(url, "file:", 5) == 0 || strcmp(url, ":memory:") == 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", url);
	dir = dirname(buf);
	if (strcmp(dir, ".") == 0 || strcmp(dir, "/") == 0)
		return 0;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		int e = errno;

		mdm_log_error("store.url %s: cannot create %s: %s", url, dir, strerror(e));
		return -e;
	}
	return 0;
}

static int connect_bus(struct processor *p)
{
	struct mdm_bus_params bp;

	mdm_daemon_bus_params(p->d, &p->cfg.nats, &bp);
	return mdm_daemon_connect(p->d, &bp, &p->bus);
}

/* The streams the processor publishes into (the one it reads belongs to the
 * collector): dead letters, audit records, alerts, and derived events when
 * they are published. */
static int ensure_streams(struct processor *p)
{
	const struct processor_cfg *cfg = &p->cfg;
	struct mdm_stream_cfg s[MAX_STREAMS];
	size_t n = 0;

	s[n] = mdm_daemon_stream(cfg->dlq_stream, &cfg->dlq_subjects, cfg->streams_replicas);
	s[n++].duplicate_window_ns = cfg->dlq_duplicate_window_ns;
	s[n++] = mdm_daemon_stream(cfg->audit_stream, &cfg->audit_subjects, cfg->streams_replicas);
	s[n++] = mdm_daemon_stream(cfg->alerts_stream, &cfg->alerts_subjects, cfg->streams_replicas);
	if (cfg->derived_publish)
		s[n++] = mdm_daemon_stream(cfg->derived_stream, &cfg->derived_subjects, cfg->streams_replicas);
	return mdm_daemon_ensure_streams(p->d, s, n);
}

static void consumer_cfg_from(const struct processor_cfg *cfg, struct mdm_consumer_cfg *cc, int64_t *backoff)
{
	memset(cc, 0, sizeof(*cc));
	for (size_t i = 0; i < cfg->n_backoff; i++)
		backoff[i] = (int64_t)cfg->backoff_ns[i];
	cc->filter_subject = cfg->consumer_filter && cfg->consumer_filter[0] ? cfg->consumer_filter : NULL;
	cc->deliver = MDM_CONSUMER_DELIVER_ALL;
	cc->ack_wait_ns = cfg->n_backoff ? 0 : (int64_t)cfg->consumer_ack_wait_ns;
	cc->max_deliver = (int64_t)cfg->consumer_max_deliver;
	cc->max_ack_pending = (int64_t)cfg->consumer_max_ack_pending;
	cc->backoff_ns = cfg->n_backoff ? backoff : NULL;
	cc->n_backoff = cfg->n_backoff;
}

/* The live durable: created or updated to the config. The stream belongs to
 * the collector; until it exists, wait (or stop). --rebuild: a consumer of
 * its own from the requested start. 0, or a negative errno (logged). */
static int setup_consumer(struct processor *p)
{
	const struct processor_cfg *cfg = &p->cfg;
	int64_t backoff[PROCESSOR_CFG_MAX_DELAYS];
	struct mdm_consumer_cfg cc;
	bool said = false;
	int rc;

	consumer_cfg_from(cfg, &cc, backoff);
	if (p->rebuild) {
		rc = mdm_bus_consumer_delete(p->bus, cfg->stream_name, p->durable);
		if (rc == 0 || rc == -ENOENT)
			rc = mdm_bus_consumer_create_at(p->bus, cfg->stream_name, p->durable, &cc,
							p->since_ns ? 0 : (p->from_seq ? p->from_seq : 1), p->since_ns);
		if (rc < 0)
			mdm_log_error("rebuild consumer %s: %s", p->durable, mdm_err_last());
		return rc < 0 ? rc : 0;
	}
	for (;;) {
		rc = mdm_bus_consumer_ensure(p->bus, cfg->stream_name, p->durable, &cc);
		if (rc != -ENOENT || mdm_daemon_stopping(p->d))
			break;
		if (!said)
			mdm_log_warn("stream %s does not exist yet (the collector creates it); waiting", cfg->stream_name);
		said = true;
		mdm_sleep_ns(MDM_NS_PER_S);
	}
	if (rc < 0)
		mdm_log_error("consumer %s.%s: %s", cfg->stream_name, p->durable, mdm_err_last());
	return rc < 0 ? rc : 0;
}

/* --rebuild: empty the store first. 0, or a negative errno (logged). */
static int rebuild_truncate(struct processor *p)
{
	const char *url = p->cfg.store_url;
	const struct store_ops *so = store_ops_for(url);
	struct store *s = NULL;
	int rc;
	char safe_url[512];

	if (!p->rebuild)
		return 0;
	rc = so->open(&s, url);
	if (rc == 0)
		rc = so->truncate_all(s);
	store_url_redact(url, safe_url, sizeof(safe_url));
	if (rc != 0)
		mdm_log_error("rebuild: emptying store %s: %s", safe_url, mdm_err_last());
	so->close(s);
	return rc;
}

/* The pipeline: validate -> route -> enrich -> derive (executions: stage_exec.c). */
static int build_stages(struct processor *p)
{
	const struct processor_cfg *cfg = &p->cfg;

	if (mdm_tally_create(&p->alerts, 64) != 0 ||
	    (processor_cfg_executions(cfg) && mdm_tally_create(&p->notional, 1024) != 0)) {
		mdm_log_error("%s", mdm_err_last());
		return -1;
	}
	p->route = (struct stage_route_shared){ .rules = p->rules, .alerts = p->alerts };
	if (processor_cfg_executions(cfg)) {
		if (exec_pipeline_create(&p->xp, p->bus, cfg->refdata_bucket, (int)cfg->streams_replicas, &p->route,
					 p->notional, p->stages, &p->n_stages) != 0) {
			mdm_log_error("%s", mdm_err_last());
			return -1;
		}
		return 0;
	}
	p->stages[p->n_stages++] = (struct mdm_stage){ &validate_stage_ops, NULL };
	if (p->rules)
		p->stages[p->n_stages++] = (struct mdm_stage){ &stage_route_ops, &p->route };
	if (cfg->refdata_bucket && cfg->refdata_bucket[0]) {
		struct enrich_params ep;

		enrich_params_init(&ep);
		ep.bus = p->bus;
		ep.bucket = cfg->refdata_bucket;
		ep.replicas = (int)cfg->streams_replicas;
		if (enrich_create(&p->enrich, &ep) != 0) {
			mdm_log_error("refdata.bucket %s: %s", cfg->refdata_bucket, mdm_err_last());
			return -1;
		}
		p->stages[p->n_stages++] = (struct mdm_stage){ &stage_enrich_ops, p->enrich };
	}
	p->stages[p->n_stages++] = (struct mdm_stage){ &stage_derive_ops, NULL };
	return 0;
}

/* Dead letters, the worker pool and the stats. */
static int create_workers(struct processor *p)
{
	struct processor_cfg *cfg = &p->cfg;
	struct dlq_params dp = { .bus = p->bus, .stream = cfg->stream_name, .consumer = p->durable,
				 .listen_max_deliver = true };
	struct worker_params wp = { .cfg = cfg, .bus = p->bus, .stream = cfg->stream_name, .durable = p->durable,
				    .store_ops = store_ops_for(cfg->store_url), .store_url = cfg->store_url,
				    .stages = p->stages, .n_stages = p->n_stages, .publish_dead_letters = !p->rebuild };
	struct processor_stats_params sp = { .cfg = cfg, .bus = p->bus, .stream = cfg->stream_name,
					     .consumer = p->durable };
	int rc;

	mdm_err_clear(); /* the message below must be this set-up's, never an older one */
	rc = dlq_create(&p->dlq, &dp);
	wp.dlq = p->dlq;
	if (rc == 0)
		rc = worker_pool_create(&p->pool, &wp);
	sp.pool = p->pool;
	sp.dlq = p->dlq;
	sp.enrich = p->enrich;
	sp.alerts = p->alerts;
	sp.notional = p->notional;
	sp.executions = p->xp ? exec_pipeline_executions(p->xp) : NULL;
	if (rc == 0)
		rc = processor_stats_create(&p->ps, &sp);
	if (rc != 0)
		mdm_log_error("set-up: %s", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
	return rc;
}

static int serve_http(struct processor *p)
{
	return mdm_daemon_serve_http(p->d, p->cfg.http_listen, p->cfg.http_token, processor_stats_metrics(p->ps),
				     processor_stats_health, p->ps);
}

static int start_workers(struct processor *p)
{
	const struct processor_cfg *cfg = &p->cfg;
	char safe_url[512];
	int rc = worker_pool_start(p->pool);

	if (rc != 0) {
		mdm_log_error("%s", mdm_err_last());
		return rc;
	}
	store_url_redact(cfg->store_url, safe_url, sizeof(safe_url)); /* never log the password */
	mdm_log_info("%s %s.%s with %" PRIu64 " workers into %s (%s)", p->rebuild ? "rebuilding from" : "consuming",
		     cfg->stream_name, p->durable, cfg->workers, safe_url, store_ops_for(cfg->store_url)->name);
	return 0;
}

static void reload_rules(struct rules_holder *holder, const char *path)
{
	struct rules *next = NULL;

	if (!holder) {
		mdm_log_warn("SIGHUP: no rules file configured (rules.file), nothing to reload");
		return;
	}
	if (rules_load_setting(path, &next) != 0) {
		mdm_log_error("SIGHUP: %s; keeping the current rules", mdm_err_last());
		return;
	}
	mdm_log_info("SIGHUP: rules reloaded from %s (%zu rules)", path, rules_count(next));
	rules_swap(holder, &next);
}

/* Idle: nothing in flight here, nothing fetched for idle_ns, and the server
 * agrees that nothing is pending or awaiting an ack on the consumer. */
static bool idle_done(struct processor *p)
{
	struct mdm_bus_consumer_info ci;

	if (!worker_pool_idle(p->pool, p->idle_ns))
		return false;
	return mdm_bus_consumer_info(p->bus, p->cfg.stream_name, p->durable, &ci) == 0 && ci.num_pending == 0 &&
	       ci.num_ack_pending == 0;
}

/* Until a stop signal, or idle with --exit-when-idle / --rebuild. Then the
 * workers finish the batch in hand (commit + ack) and the summary follows. */
static void control_loop(struct processor *p)
{
	uint64_t next_tick = mdm_mono_ns() + p->cfg.stats_interval_ns, next_idle_check = 0;

	while (!mdm_daemon_stopping(p->d)) {
		uint64_t now = mdm_mono_ns();

		if (mdm_daemon_take_hup(p->d))
			reload_rules(p->rules, p->cfg.rules_file);
		if (now >= next_tick) {
			processor_stats_tick(p->ps);
			next_tick = now + p->cfg.stats_interval_ns;
		}
		if (p->idle_ns && now >= next_idle_check) {
			next_idle_check = now + 250 * MDM_NS_PER_MS;
			if (idle_done(p)) {
				mdm_log_info("idle for %.1f s with everything committed and acked: stopping",
					     (double)p->idle_ns / 1e9);
				break;
			}
		}
		mdm_sleep_ns(CONTROL_SLICE_NS);
	}
	worker_pool_stop(p->pool);
	worker_pool_join(p->pool);
	processor_stats_tick(p->ps);
	processor_stats_summary(p->ps, stderr);
}

/* The pool is the bus's ack-handler context: it is closed (threads,
 * subscription, stores) before the bus goes, and freed after it. */
static void processor_close(struct processor *p, int exit_code)
{
	struct mdm_bus *bus = p->d ? mdm_daemon_bus(p->d) : NULL;

	if (p->d)
		mdm_daemon_stop_http(p->d);
	worker_pool_close(p->pool);
	dlq_destroy(p->dlq);
	enrich_destroy(p->enrich);
	exec_pipeline_destroy(p->xp);
	rules_holder_destroy(p->rules);
	if (p->rebuild && bus && exit_code == 0 && mdm_bus_consumer_delete(bus, p->cfg.stream_name, p->durable) != 0)
		mdm_log_warn("rebuild consumer %s not deleted: %s", p->durable, mdm_err_last());
	if (bus && mdm_bus_publish_drain(bus, 5000) != 0)
		mdm_log_warn("async publishes still in flight at exit: %s", mdm_err_last());
	if (p->d)
		mdm_daemon_disconnect(p->d);
	processor_stats_destroy(p->ps);
	worker_pool_destroy(p->pool);
	mdm_tally_destroy(p->alerts);
	mdm_tally_destroy(p->notional);
	mdm_daemon_destroy(p->d); /* and the config */
}

int main(int argc, char **argv)
{
	struct processor p = { 0 };
	int code = configure(&p, argc, argv);

	if (code == MDM_DAEMON_GO_ON)
		code = load_rules(&p) != 0 ? 2 : MDM_DAEMON_GO_ON;
	if (code == MDM_DAEMON_GO_ON) {
		code = 1;
		/* signals first: every thread created from here on inherits the mask */
		if (mdm_daemon_start_signals(p.d) == 0 && make_store_dir(p.cfg.store_url) == 0 && connect_bus(&p) == 0 &&
		    ensure_streams(&p) == 0 && setup_consumer(&p) == 0) {
			if (mdm_daemon_stopping(p.d))
				code = 0; /* stopped while waiting for the stream */
			else if (rebuild_truncate(&p) == 0 && build_stages(&p) == 0 && create_workers(&p) == 0 &&
				 serve_http(&p) == 0 && start_workers(&p) == 0) {
				control_loop(&p);
				code = 0;
			}
		}
	}
	processor_close(&p, code);
	return code;
}
