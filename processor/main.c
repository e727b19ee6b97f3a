/* mdmesh-processor: argv -> config -> NATS (streams, consumer) -> stages ->
 * worker pool; the main thread runs the control loop (stats, alarms, SIGHUP
 * reload, exit when idle, stop). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dlq.h"
#include "enrich.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_dashboard.h"
#include "mdm_err.h"
#include "mdm_http.h"
#include "mdm_log.h"
#include "mdm_metrics.h"
#include "mdm_signal.h"
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

static int stop_signals; /* atomic: SIGINT/SIGTERM seen */
static int hup_signals;  /* atomic: SIGHUP seen, not yet handled */

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

static void on_signal(int sig, void *ctx)
{
	(void)ctx;
	if (sig == SIGHUP) {
		__atomic_add_fetch(&hup_signals, 1, __ATOMIC_RELAXED);
		return;
	}
	if (__atomic_add_fetch(&stop_signals, 1, __ATOMIC_RELAXED) > 1) {
		static const char msg[] = PROG ": second signal, exiting without draining\n";

		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			_exit(1);
		_exit(1);
	}
}

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },     { "nats", required_argument, NULL, 'n' },
	{ "store", required_argument, NULL, 'S' },      { "workers", required_argument, NULL, 'w' },
	{ "rules", required_argument, NULL, 'r' },      { "http", required_argument, NULL, 'H' },
	{ "instance", required_argument, NULL, 'I' },   { "exit-when-idle", required_argument, NULL, 'x' },
	{ "rebuild", no_argument, NULL, 'R' },          { "from-seq", required_argument, NULL, 'F' },
	{ "since", required_argument, NULL, 'T' },      { "set", required_argument, NULL, 's' },
	{ "print-config", no_argument, NULL, 'P' },     { "log-level", required_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },             { "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct flag {
	const char *key, *value, *origin;
};

struct opts {
	const char *config_path;
	bool print_config, rebuild;
	uint64_t from_seq;
	int64_t since_ns;
	struct flag flags[64];
	int n_flags;
	char idle_buf[32];
};

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

static int parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	while ((c = getopt_long(argc, argv, "c:hV", long_opts, NULL)) != -1) {
		const char *key = NULL, *origin = NULL, *value = optarg;

		switch (c) {
		case 'c': o->config_path = optarg; continue;
		case 'n': key = "nats.url"; origin = "--nats"; break;
		case 'S': key = "store.url"; origin = "--store"; break;
		case 'w': key = "workers"; origin = "--workers"; break;
		case 'r': key = "rules.file"; origin = "--rules"; break;
		case 'H': key = "http.listen"; origin = "--http"; break;
		case 'I': key = "instance"; origin = "--instance"; break;
		case 'l': key = "log_level"; origin = "--log-level"; break;
		case 'x': {
			char *end;
			double secs = strtod(optarg, &end);

			if (end == optarg || *end || secs <= 0 || secs > 86400) {
				fprintf(stderr, PROG ": --exit-when-idle '%s': expected seconds (0 < S <= 86400)\n", optarg);
				return 2;
			}
			snprintf(o->idle_buf, sizeof(o->idle_buf), "%.0fms", secs * 1000);
			key = "exit_when_idle";
			origin = "--exit-when-idle";
			value = o->idle_buf;
			break;
		}
		case 'R': o->rebuild = true; continue;
		case 'F': {
			char *end;

			o->from_seq = strtoull(optarg, &end, 10);
			if (end == optarg || *end || o->from_seq == 0) {
				fprintf(stderr, PROG ": --from-seq '%s': expected a stream sequence >= 1\n", optarg);
				return 2;
			}
			continue;
		}
		case 'T':
			if (parse_since(optarg, &o->since_ns) != 0) {
				fprintf(stderr, PROG ": --since '%s': expected epoch seconds or YYYY-MM-DDTHH:MM:SSZ\n",
					optarg);
				return 2;
			}
			continue;
		case 's': {
			char *eq = strchr(optarg, '=');

			if (!eq) {
				fprintf(stderr, PROG ": --set '%s': expected KEY=VALUE\n", optarg);
				return 2;
			}
			*eq = '\0';
			key = optarg;
			value = eq + 1;
			origin = "--set";
			break;
		}
		case 'P': o->print_config = true; continue;
		case 'h': usage(stdout); return -1;
		case 'V': printf(PROG " %s\n", MDM_VERSION); return -1;
		default: usage(stderr); return 2;
		}
		if (o->n_flags == 64) {
			fprintf(stderr, PROG ": too many options\n");
			return 2;
		}
		o->flags[o->n_flags++] = (struct flag){ key, value, origin };
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if ((o->from_seq || o->since_ns) && !o->rebuild) {
		fprintf(stderr, PROG ": --from-seq and --since only go with --rebuild\n");
		return 2;
	}
	if (o->from_seq && o->since_ns) {
		fprintf(stderr, PROG ": give --from-seq or --since, not both\n");
		return 2;
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
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return mdm_err_set(-errno, "store.url %s: cannot create %s: %s", url, dir, strerror(errno));
	return 0;
}

static int ensure_stream(struct mdm_bus *bus, const char *name, const struct mdm_cfg_strlist *subjects,
			 uint64_t dup_window_ns, uint64_t replicas)
{
	struct mdm_stream_cfg sc = { 0 };
	int rc;

	sc.name = name;
	sc.subjects = (const char *const *)subjects->v;
	sc.n_subjects = subjects->n;
	sc.max_age_ns = 0;
	sc.max_bytes = -1;
	sc.max_msgs = -1;
	sc.duplicate_window_ns = dup_window_ns;
	sc.replicas = (int)replicas;
	rc = mdm_bus_stream_ensure(bus, &sc);
	if (rc < 0)
		return mdm_err_set(rc, "stream %s: %s", name, mdm_err_last());
	return 0;
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
 * the collector; until it exists, wait (or stop). */
static int setup_consumer(struct mdm_bus *bus, const struct processor_cfg *cfg, const char *durable,
			  const struct opts *o)
{
	int64_t backoff[PROCESSOR_CFG_MAX_DELAYS];
	struct mdm_consumer_cfg cc;
	bool said = false;
	int rc;

	consumer_cfg_from(cfg, &cc, backoff);
	if (o->rebuild) {
		rc = mdm_bus_consumer_delete(bus, cfg->stream_name, durable);
		if (rc != 0 && rc != -ENOENT)
			return mdm_err_set(rc, "rebuild consumer %s: %s", durable, mdm_err_last());
		rc = mdm_bus_consumer_create_at(bus, cfg->stream_name, durable, &cc, o->since_ns ? 0 : (o->from_seq ? o->from_seq : 1),
						o->since_ns);
		return rc < 0 ? mdm_err_set(rc, "rebuild consumer %s: %s", durable, mdm_err_last()) : 0;
	}
	for (;;) {
		rc = mdm_bus_consumer_ensure(bus, cfg->stream_name, durable, &cc);
		if (rc != -ENOENT || __atomic_load_n(&stop_signals, __ATOMIC_RELAXED))
			break;
		if (!said)
			mdm_log_warn("stream %s does not exist yet (the collector creates it); waiting", cfg->stream_name);
		said = true;
		mdm_sleep_ns(MDM_NS_PER_S);
	}
	return rc < 0 ? mdm_err_set(rc, "consumer %s.%s: %s", cfg->stream_name, durable, mdm_err_last()) : 0;
}

static int rebuild_truncate(const char *url)
{
	const struct store_ops *so = store_ops_for(url);
	struct store *s = NULL;
	int rc = so->open(&s, url);
	char safe_url[512];

	if (rc == 0)
		rc = so->truncate_all(s);
	store_url_redact(url, safe_url, sizeof(safe_url));
	if (rc != 0)
		rc = mdm_err_set(rc, "rebuild: emptying store %s: %s", safe_url, mdm_err_last());
	so->close(s);
	return rc;
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
static bool idle_done(struct mdm_bus *bus, struct worker_pool *pool, const char *stream, const char *durable,
		      uint64_t idle_ns)
{
	struct mdm_bus_consumer_info ci;

	if (!worker_pool_idle(pool, idle_ns))
		return false;
	return mdm_bus_consumer_info(bus, stream, durable, &ci) == 0 && ci.num_pending == 0 &&
	       ci.num_ack_pending == 0;
}

int main(int argc, char **argv)
{
	struct processor_cfg cfg;
	struct opts o = { 0 };
	struct mdm_bus *bus = NULL;
	struct rules_holder *rules = NULL;
	struct enrich *enrich = NULL;
	struct exec_pipeline *xp = NULL;
	struct dlq *dlq = NULL;
	struct worker_pool *pool = NULL;
	struct processor_stats *ps = NULL;
	struct mdm_http *http = NULL;
	struct mdm_stage stages[4];
	size_t n_stages = 0;
	char durable[96];
	int rc, exit_code = 1;
	uint64_t idle_ns;

	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = processor_cfg_load(&cfg, o.config_path);
	for (int i = 0; rc == 0 && i < o.n_flags; i++)
		rc = mdm_cfg_set(processor_cfg_schema, processor_cfg_schema_len, &cfg, o.flags[i].key, o.flags[i].value,
				 o.flags[i].origin);
	if (rc != 0) {
		fprintf(stderr, PROG ": %s\n", mdm_err_last());
		processor_cfg_free(&cfg);
		return 2;
	}
	if (o.print_config) {
		rc = mdm_cfg_print(processor_cfg_schema, processor_cfg_schema_len, &cfg, stdout);
		processor_cfg_free(&cfg);
		return rc == 0 ? 0 : 1;
	}
	if (processor_cfg_validate(&cfg) != 0) {
		fprintf(stderr, PROG ": %s%s%s\n", o.config_path ? o.config_path : "", o.config_path ? ": " : "",
			mdm_err_last());
		processor_cfg_free(&cfg);
		return 2;
	}
	{
		enum mdm_log_level lvl;

		if (mdm_log_level_parse(cfg.log_level ? cfg.log_level : "info", &lvl) == 0)
			mdm_log_set_level(lvl);
		mdm_log_init("processor", cfg.instance);
	}
	/* Rules before any connection: a bad file is refused at once with its
	 * file:line, not after NATS and the streams are up. */
	if (cfg.rules_file && cfg.rules_file[0]) {
		struct rules *r = NULL;

		if (rules_load_setting(cfg.rules_file, &r) != 0 || rules_holder_create(&rules, &r) != 0) {
			fprintf(stderr, PROG ": rules.file: %s\n", mdm_err_last());
			rules_unref(r);
			processor_cfg_free(&cfg);
			return 2;
		}
	}
	snprintf(durable, sizeof(durable), o.rebuild ? "%s-rebuild" : "%s", cfg.consumer_durable);
	idle_ns = cfg.exit_when_idle_ns ? cfg.exit_when_idle_ns : o.rebuild ? REBUILD_IDLE_NS : 0;

	/* Signals first: every thread created from here on inherits the mask. */
	rc = mdm_signal_start(on_signal, NULL);
	if (rc != 0) {
		mdm_log_error("signal set-up: %s", mdm_strerror(rc));
		goto out;
	}
	if (make_store_dir(cfg.store_url) != 0) {
		mdm_log_error("%s", mdm_err_last());
		goto out;
	}
	{
		struct mdm_bus_params bp;

		mdm_bus_params_init(&bp);
		mdm_nats_cfg_apply(&cfg.nats, &bp);
		bp.name = cfg.instance;
		rc = mdm_bus_create(&bus, &bp);
		if (rc != 0) {
			mdm_log_error("NATS: %s", mdm_err_last());
			goto out;
		}
	}
	if (ensure_stream(bus, cfg.dlq_stream, &cfg.dlq_subjects, cfg.dlq_duplicate_window_ns,
			  cfg.streams_replicas) != 0 ||
	    ensure_stream(bus, cfg.audit_stream, &cfg.audit_subjects, 0, cfg.streams_replicas) != 0 ||
	    ensure_stream(bus, cfg.alerts_stream, &cfg.alerts_subjects, 0, cfg.streams_replicas) != 0 ||
	    (cfg.derived_publish &&
	     ensure_stream(bus, cfg.derived_stream, &cfg.derived_subjects, 0, cfg.streams_replicas) != 0) ||
	    setup_consumer(bus, &cfg, durable, &o) != 0) {
		mdm_log_error("%s", mdm_err_last());
		goto out;
	}
	if (__atomic_load_n(&stop_signals, __ATOMIC_RELAXED))
		goto stopped;
	if (o.rebuild && rebuild_truncate(cfg.store_url) != 0) {
		mdm_log_error("%s", mdm_err_last());
		goto out;
	}

	/* The pipeline: validate -> route -> enrich -> derive (executions: stage_exec.c). */
	if (processor_cfg_executions(&cfg)) {
		if (exec_pipeline_create(&xp, bus, cfg.refdata_bucket, (int)cfg.streams_replicas, rules, stages,
					 &n_stages) != 0) {
			mdm_log_error("%s", mdm_err_last());
			goto out;
		}
		goto pipeline_built;
	}
	stages[n_stages++] = (struct mdm_stage){ &validate_stage_ops, NULL };
	if (rules)
		stages[n_stages++] = (struct mdm_stage){ &stage_route_ops, rules };
	if (cfg.refdata_bucket && cfg.refdata_bucket[0]) {
		struct enrich_params ep;

		enrich_params_init(&ep);
		ep.bus = bus;
		ep.bucket = cfg.refdata_bucket;
		ep.replicas = (int)cfg.streams_replicas;
		if (enrich_create(&enrich, &ep) != 0) {
			mdm_log_error("refdata.bucket %s: %s", cfg.refdata_bucket, mdm_err_last());
			goto out;
		}
		stages[n_stages++] = (struct mdm_stage){ &stage_enrich_ops, enrich };
	}
	stages[n_stages++] = (struct mdm_stage){ &stage_derive_ops, NULL };
pipeline_built:
	{
		struct dlq_params dp = { .bus = bus, .stream = cfg.stream_name, .consumer = durable,
					 .listen_max_deliver = true };
		struct worker_params wp = { .cfg = &cfg, .bus = bus, .stream = cfg.stream_name, .durable = durable,
					    .store_ops = store_ops_for(cfg.store_url), .store_url = cfg.store_url,
					    .stages = stages, .n_stages = n_stages, .publish_dead_letters = !o.rebuild };
		struct processor_stats_params sp = { .cfg = &cfg, .bus = bus, .stream = cfg.stream_name,
						     .consumer = durable };

		mdm_err_clear(); /* the message below must be this set-up's, never an older one */
		rc = dlq_create(&dlq, &dp);
		wp.dlq = dlq;
		if (rc == 0)
			rc = worker_pool_create(&pool, &wp);
		sp.pool = pool;
		sp.dlq = dlq;
		sp.enrich = enrich;
		if (rc == 0)
			rc = processor_stats_create(&ps, &sp);
		if (rc != 0) {
			mdm_log_error("set-up: %s", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
			goto out;
		}
	}
	if (cfg.http_listen && cfg.http_listen[0]) {
		struct mdm_http_params hp = { .bind = cfg.http_listen,
					      .bearer_token = cfg.http_token && cfg.http_token[0] ? cfg.http_token : NULL };

		rc = mdm_http_create(&http, &hp);
		if (rc == 0)
			rc = mdm_metrics_serve(processor_stats_metrics(ps), http);
		if (rc == 0)
			rc = mdm_dashboard_serve(http);
		if (rc == 0)
			rc = mdm_http_set_health(http, processor_stats_health, ps);
		if (rc == 0)
			rc = mdm_http_start(http);
		if (rc != 0) {
			mdm_log_error("http.listen %s: %s", cfg.http_listen, mdm_err_last());
			goto out;
		}
		mdm_log_info("metrics on http://%s (port %u)", cfg.http_listen, mdm_http_port(http));
	}
	if ((rc = worker_pool_start(pool)) != 0) {
		mdm_log_error("%s", mdm_err_last());
		goto out;
	}
	{
		char safe_url[512];

		store_url_redact(cfg.store_url, safe_url, sizeof(safe_url)); /* never log the password */
		mdm_log_info("%s %s.%s with %" PRIu64 " workers into %s (%s)",
			     o.rebuild ? "rebuilding from" : "consuming", cfg.stream_name, durable, cfg.workers, safe_url,
			     store_ops_for(cfg.store_url)->name);
	}

	/* Control loop. */
	{
		uint64_t next_tick = mdm_mono_ns() + cfg.stats_interval_ns, next_idle_check = 0;

		while (!__atomic_load_n(&stop_signals, __ATOMIC_RELAXED)) {
			uint64_t now = mdm_mono_ns();

			if (__atomic_exchange_n(&hup_signals, 0, __ATOMIC_RELAXED))
				reload_rules(rules, cfg.rules_file);
			if (now >= next_tick) {
				processor_stats_tick(ps);
				next_tick = now + cfg.stats_interval_ns;
			}
			if (idle_ns && now >= next_idle_check) {
				next_idle_check = now + 250 * MDM_NS_PER_MS;
				if (idle_done(bus, pool, cfg.stream_name, durable, idle_ns)) {
					mdm_log_info("idle for %.1f s with everything committed and acked: stopping",
						     (double)idle_ns / 1e9);
					break;
				}
			}
			mdm_sleep_ns(CONTROL_SLICE_NS);
		}
	}
	worker_pool_stop(pool);
	worker_pool_join(pool);
	processor_stats_tick(ps);
	processor_stats_summary(ps, stderr);
stopped:
	exit_code = 0;
out:
	/* The pool is the bus's ack-handler context: it is closed (threads,
	 * subscription, stores) before the bus goes, and freed after it. */
	mdm_http_destroy(http);
	worker_pool_close(pool);
	dlq_destroy(dlq);
	enrich_destroy(enrich);
	exec_pipeline_destroy(xp);
	rules_holder_destroy(rules);
	if (o.rebuild && bus && exit_code == 0 && mdm_bus_consumer_delete(bus, cfg.stream_name, durable) != 0)
		mdm_log_warn("rebuild consumer %s not deleted: %s", durable, mdm_err_last());
	if (bus && mdm_bus_publish_drain(bus, 5000) != 0)
		mdm_log_warn("async publishes still in flight at exit: %s", mdm_err_last());
	mdm_bus_destroy(bus);
	processor_stats_destroy(ps);
	worker_pool_destroy(pool);
	processor_cfg_free(&cfg);
	return exit_code;
}
