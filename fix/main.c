/* mdmesh-fix: argv -> config -> NATS (stream EXEC) -> HTTP -> the gateway
 * loop (fix_gateway.c) on this thread; signals stop it. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fix_cfg.h"
#include "fix_gateway.h"
#include "fix_stats.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_dashboard.h"
#include "mdm_err.h"
#include "mdm_http.h"
#include "mdm_log.h"
#include "mdm_signal.h"

#define PROG "mdmesh-fix"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-c FILE] (--connect HOST:PORT | --listen ADDR:PORT) --sender ID --target ID [options]\n\n"
		"FIX drop copy: receives ExecutionReports (35=8) over a FIX 4.4 or 4.2 session and publishes trades,\n"
		"corrections and cancels as protobuf mdmesh.v1.Execution to NATS JetStream (stream EXEC, subjects\n"
		"exec.<session>.<trader>.<symbol>, Nats-Msg-Id fix.<session>.<exec_id>). Sequence numbers persist in\n"
		"--state-dir; an inbound message counts as processed once its Execution is acked, so a crash or a\n"
		"restart re-requests what was missed (ResendRequest) and the stream stores it once.\n\n"
		"  -c, --config FILE      YAML config (configs/fix.yaml documents every key)\n"
		"      --connect H:P      be the initiator and connect to the counterparty (session.connect)\n"
		"      --listen A:P       be the acceptor (session.listen)\n"
		"      --sender ID        our SenderCompID (session.sender)\n"
		"      --target ID        the counterparty's CompID (session.target)\n"
		"      --session NAME     session name in subjects, Msg-Ids and the state file (session.name)\n"
		"      --nats URL         nats.url\n"
		"      --state-dir DIR    where the sequence numbers are kept (session.state_dir)\n"
		"      --http ADDR:PORT   metrics/stats listener, '' to disable (http.listen)\n"
		"      --set KEY=VALUE    any config key, e.g. --set session.begin_string=FIX.4.2\n"
		"      --print-config     print the effective config as YAML and exit\n"
		"      --log-level L      error, warn, info, debug\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n\n"
		"SIGINT/SIGTERM: Logout, wait for every Execution's ack, write the numbers, exit 0 when everything\n"
		"received is in the stream (1 otherwise; the next start asks for the rest). Every config key can\n"
		"also come from the environment: MDM_<KEY>, dots as underscores (MDM_NATS_URL).\n");
}

struct run {
	struct fix_gateway *gw;
	struct fix_stats *st;
	uint64_t interval_ns;
	int stop;
	int signals;
};

static void on_signal(int sig, void *ctx)
{
	struct run *r = ctx;

	if (sig == SIGHUP)
		return; /* config is immutable while running */
	__atomic_add_fetch(&r->signals, 1, __ATOMIC_RELAXED);
	if (r->gw)
		fix_gateway_stop(r->gw);
}

/* Stats ticks on their own thread, so the gateway loop never waits on them. */
static void *stats_main(void *arg)
{
	struct run *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		for (uint64_t t = 0; t < r->interval_ns && !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE);
		     t += 50 * MDM_NS_PER_MS)
			mdm_sleep_ns(50 * MDM_NS_PER_MS);
		fix_stats_tick(r->st);
	}
	return NULL;
}

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },   { "connect", required_argument, NULL, 'C' },
	{ "listen", required_argument, NULL, 'L' },   { "sender", required_argument, NULL, 'S' },
	{ "target", required_argument, NULL, 'T' },   { "session", required_argument, NULL, 'N' },
	{ "nats", required_argument, NULL, 'n' },     { "state-dir", required_argument, NULL, 'D' },
	{ "http", required_argument, NULL, 'H' },     { "set", required_argument, NULL, 's' },
	{ "print-config", no_argument, NULL, 'P' },   { "log-level", required_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },           { "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int ensure_stream(struct mdm_bus *bus, const struct fix_cfg *cfg)
{
	struct mdm_stream_cfg sc = { .name = cfg->stream_name, .subjects = (const char *const *)cfg->stream_subjects.v,
				     .n_subjects = cfg->stream_subjects.n, .memory = cfg->stream_storage == FIX_STORAGE_MEMORY,
				     .max_age_ns = (int64_t)cfg->stream_max_age_ns, .max_bytes = -1, .max_msgs = -1,
				     .duplicate_window_ns = cfg->stream_duplicate_window_ns,
				     .replicas = (int)cfg->stream_replicas };
	int rc;

	mdm_err_clear();
	rc = mdm_bus_stream_ensure(bus, &sc);
	if (rc < 0) {
		mdm_log_error("stream %s: %s", cfg->stream_name, mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
		return rc;
	}
	mdm_log_info("stream %s %s", cfg->stream_name,
		     rc == MDM_BUS_CREATED ? "created" : rc == MDM_BUS_UPDATED ? "updated" : "up to date");
	return 0;
}

int main(int argc, char **argv)
{
	struct { const char *key, *value, *origin; } flags[64];
	struct fix_trader_from from[FIX_TRADER_FROM_MAX];
	size_t n_from = 0;
	struct fix_cfg cfg;
	struct run r = { 0 };
	struct mdm_bus *bus = NULL;
	struct mdm_http *http = NULL;
	const char *config_path = NULL;
	bool print_config = false, stats_thread = false;
	pthread_t stats_tid;
	int n_flags = 0, c, rc, exit_code = 1;

	while ((c = getopt_long(argc, argv, "c:hV", long_opts, NULL)) != -1) {
		const char *key = NULL, *origin = NULL;

		switch (c) {
		case 'c': config_path = optarg; continue;
		case 'C': key = "session.connect"; origin = "--connect"; break;
		case 'L': key = "session.listen"; origin = "--listen"; break;
		case 'S': key = "session.sender"; origin = "--sender"; break;
		case 'T': key = "session.target"; origin = "--target"; break;
		case 'N': key = "session.name"; origin = "--session"; break;
		case 'n': key = "nats.url"; origin = "--nats"; break;
		case 'D': key = "session.state_dir"; origin = "--state-dir"; break;
		case 'H': key = "http.listen"; origin = "--http"; break;
		case 'l': key = "log_level"; origin = "--log-level"; break;
		case 's': {
			char *eq = strchr(optarg, '=');

			if (!eq) {
				fprintf(stderr, PROG ": --set '%s': expected KEY=VALUE\n", optarg);
				return 2;
			}
			*eq = '\0';
			key = optarg;
			optarg = eq + 1;
			origin = "--set";
			break;
		}
		case 'P': print_config = true; continue;
		case 'h': usage(stdout); return 0;
		case 'V': printf(PROG " %s\n", MDM_VERSION); return 0;
		default: usage(stderr); return 2;
		}
		if (n_flags == 64) {
			fprintf(stderr, PROG ": too many options\n");
			return 2;
		}
		flags[n_flags].key = key;
		flags[n_flags].value = optarg;
		flags[n_flags++].origin = origin;
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	rc = fix_cfg_load(&cfg, config_path);
	for (int i = 0; rc == 0 && i < n_flags; i++)
		rc = mdm_cfg_set(fix_cfg_schema, fix_cfg_schema_len, &cfg, flags[i].key, flags[i].value, flags[i].origin);
	if (rc != 0) {
		fprintf(stderr, PROG ": %s\n", mdm_err_last());
		fix_cfg_free(&cfg);
		return 2;
	}
	if (print_config) {
		rc = mdm_cfg_print(fix_cfg_schema, fix_cfg_schema_len, &cfg, stdout);
		fix_cfg_free(&cfg);
		return rc == 0 ? 0 : 1;
	}
	if (fix_cfg_validate(&cfg, from, &n_from) != 0) {
		fprintf(stderr, PROG ": %s%s%s\n", config_path ? config_path : "", config_path ? ": " : "", mdm_err_last());
		fix_cfg_free(&cfg);
		return 2;
	}
	{
		enum mdm_log_level lvl;

		if (mdm_log_level_parse(cfg.log_level ? cfg.log_level : "info", &lvl) == 0)
			mdm_log_set_level(lvl);
		mdm_log_init("fix", cfg.instance);
	}
	/* Signals first: every thread created from here on inherits the mask. */
	rc = mdm_signal_start(on_signal, &r);
	if (rc != 0) {
		mdm_log_error("signal set-up: %s", mdm_strerror(rc));
		goto out;
	}
	{
		struct mdm_bus_params bp;

		mdm_bus_params_init(&bp);
		mdm_nats_cfg_apply(&cfg.nats, &bp);
		bp.name = cfg.instance;
		bp.max_pending = (uint32_t)cfg.publish_max_pending;
		bp.ack_timeout_ms = cfg.publish_ack_timeout_ns / MDM_NS_PER_MS;
		bp.max_attempts = (uint32_t)cfg.publish_max_retries + 1;
		rc = mdm_bus_create(&bus, &bp);
		if (rc != 0) {
			mdm_log_error("NATS: %s", mdm_err_last());
			goto out;
		}
		if (ensure_stream(bus, &cfg) != 0)
			goto out;
	}
	{
		struct fix_gateway_params gp = { .cfg = &cfg, .bus = bus, .from = from, .n_from = n_from };
		struct fix_stats_params sp = { .instance = cfg.instance, .session = cfg.session_name, .bus = bus,
					       .hlog_path = cfg.latency_hlog };

		rc = fix_gateway_create(&r.gw, &gp);
		sp.gw = r.gw;
		if (rc == 0)
			rc = fix_stats_create(&r.st, &sp);
		if (rc != 0) {
			mdm_log_error("set-up: %s", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
			goto out;
		}
		if (__atomic_load_n(&r.signals, __ATOMIC_RELAXED))
			fix_gateway_stop(r.gw); /* a signal before the gateway existed */
	}
	if (cfg.http_listen && cfg.http_listen[0]) {
		struct mdm_http_params hp = { .bind = cfg.http_listen,
					      .bearer_token = cfg.http_token && cfg.http_token[0] ? cfg.http_token : NULL };

		rc = mdm_http_create(&http, &hp);
		if (rc == 0)
			rc = mdm_metrics_serve(fix_stats_metrics(r.st), http);
		if (rc == 0)
			rc = mdm_dashboard_serve(http);
		if (rc == 0)
			rc = mdm_http_start(http);
		if (rc != 0) {
			mdm_log_error("http.listen %s: %s", cfg.http_listen, mdm_err_last());
			goto out;
		}
		mdm_log_info("metrics on http port %u", mdm_http_port(http));
	}
	r.interval_ns = cfg.stats_interval_ns;
	stats_thread = pthread_create(&stats_tid, NULL, stats_main, &r) == 0;
	if (cfg.listen && cfg.listen[0])
		mdm_log_info("session %s (%s %s -> %s): listening on port %u, publishing to stream %s", cfg.session_name,
			     cfg.begin_string, cfg.target, cfg.sender, fix_gateway_listen_port(r.gw), cfg.stream_name);
	else
		mdm_log_info("session %s (%s %s -> %s): connecting to %s, publishing to stream %s", cfg.session_name,
			     cfg.begin_string, cfg.target, cfg.sender, cfg.connect, cfg.stream_name);
	exit_code = fix_gateway_run(r.gw);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	if (stats_thread)
		pthread_join(stats_tid, NULL);
	fix_stats_tick(r.st);
	fix_stats_summary(r.st, stderr);
out:
	mdm_http_destroy(http);
	/* the bus before the gateway: destroying it reports unacked publishes
	 * to the ack handler, whose context is the gateway */
	mdm_bus_destroy(bus);
	fix_stats_destroy(r.st);
	fix_gateway_destroy(r.gw);
	fix_cfg_free(&cfg);
	return exit_code;
}
