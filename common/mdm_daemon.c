/* The daemons' shared start-up (mdm_daemon.h): command line to config,
 * logging, signals, NATS, streams, HTTP. */
#include "mdm_daemon.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mdm_bus_cfg.h"
#include "mdm_dashboard.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_metrics.h"
#include "mdm_signal.h"

/* The options every daemon has; the program's follow them in the getopt
 * table. Codes above 255 cannot be mistaken for a short option. */
enum {
	OPT_SET = 256,
	OPT_PRINT_CONFIG,
	OPT_KEY,      /* common options that set a key: common_keys[] */
	OPT_OWN = 512 /* + index into params.opts */
};

static const struct mdm_daemon_opt common_keys[] = {
	{ .name = "nats", .key = "nats.url" },
	{ .name = "http", .key = "http.listen" },
	{ .name = "instance", .key = "instance" },
	{ .name = "log-level", .key = "log_level" },
};
#define N_COMMON_KEYS (sizeof(common_keys) / sizeof(common_keys[0]))
#define N_FIXED 5 /* config, set, print-config, help, version */
#define MAX_OPTS 64

struct flag {
	const char *key, *value, *origin;
};

/* An endpoint of the daemon's own, routed by mdm_daemon_serve_http. */
struct route {
	const char *path;
	mdm_http_handler fn;
	void *ctx;
};
#define MAX_ROUTES 4

struct mdm_daemon {
	struct mdm_daemon_params p;
	struct option long_opts[N_FIXED + N_COMMON_KEYS + MAX_OPTS + 1];
	char origins[N_COMMON_KEYS + MAX_OPTS][40]; /* "--nats", for error messages */
	const char *config_path;
	bool print_config;
	bool cfg_loaded;
	char **extra;
	int n_extra;
	struct flag flags[MDM_DAEMON_MAX_FLAGS];
	int n_flags;
	int stops; /* atomic: written by the signal thread */
	int hups;  /* atomic */
	struct mdm_bus *bus;
	struct mdm_http *http;
	struct route routes[MAX_ROUTES];
	int n_routes;
};

static int daemon_create(struct mdm_daemon **out, const struct mdm_daemon_params *p)
{
	struct mdm_daemon *d;
	size_t k = 0;

	*out = NULL;
	if (!p->prog || !p->schema || !p->cfg || !p->load || !p->validate || p->n_opts > MAX_OPTS)
		return mdm_err_set(-EINVAL, "daemon: prog, schema, cfg, load and validate are required, at most %d options",
				   MAX_OPTS);
	d = mdm_calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->p = *p;
	d->long_opts[k++] = (struct option){ "config", required_argument, NULL, 'c' };
	d->long_opts[k++] = (struct option){ "set", required_argument, NULL, OPT_SET };
	d->long_opts[k++] = (struct option){ "print-config", no_argument, NULL, OPT_PRINT_CONFIG };
	d->long_opts[k++] = (struct option){ "help", no_argument, NULL, 'h' };
	d->long_opts[k++] = (struct option){ "version", no_argument, NULL, 'V' };
	for (size_t i = 0; i < N_COMMON_KEYS; i++) {
		snprintf(d->origins[i], sizeof(d->origins[i]), "--%s", common_keys[i].name);
		d->long_opts[k++] = (struct option){ common_keys[i].name, required_argument, NULL, OPT_KEY + (int)i };
	}
	for (size_t i = 0; i < p->n_opts; i++) {
		const struct mdm_daemon_opt *o = &p->opts[i];
		bool arg = o->key ? !o->value : !o->no_arg;

		snprintf(d->origins[N_COMMON_KEYS + i], sizeof(d->origins[0]), "--%s", o->name);
		d->long_opts[k++] = (struct option){ o->name, arg ? required_argument : no_argument, NULL, OPT_OWN + (int)i };
	}
	*out = d;
	return 0;
}

void mdm_daemon_destroy(struct mdm_daemon *d)
{
	if (!d)
		return;
	mdm_daemon_stop_http(d);
	mdm_daemon_disconnect(d);
	if (d->cfg_loaded)
		mdm_cfg_free(d->p.schema, d->p.schema_len, d->p.cfg);
	mdm_free(d);
}

int mdm_daemon_set(struct mdm_daemon *d, const char *key, const char *value, const char *origin)
{
	if (d->n_flags == MDM_DAEMON_MAX_FLAGS)
		return mdm_err_set(-E2BIG, "too many options");
	d->flags[d->n_flags++] = (struct flag){ key, value, origin };
	return 0;
}

/* --set KEY=VALUE (argv is ours to cut). */
static int set_flag(struct mdm_daemon *d, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq)
		return mdm_err_set(-EINVAL, "--set '%s': expected KEY=VALUE", arg);
	*eq = '\0';
	return mdm_daemon_set(d, arg, eq + 1, "--set");
}

static int parse_args(struct mdm_daemon *d, int argc, char **argv)
{
	int c, rc;

	if (d->p.extra_args_name) {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--") == 0) {
				d->extra = argv + i + 1;
				d->n_extra = argc - i - 1;
				argc = i;
				break;
			}
		}
	}
	optind = 0; /* glibc: start over (a test parses several command lines) */
	while ((c = getopt_long(argc, argv, "c:hV", d->long_opts, NULL)) != -1) {
		rc = 0;
		if (c == 'c') {
			d->config_path = optarg;
		} else if (c == OPT_SET) {
			rc = set_flag(d, optarg);
		} else if (c == OPT_PRINT_CONFIG) {
			d->print_config = true;
		} else if (c == 'h') {
			d->p.usage(stdout);
			return 0;
		} else if (c == 'V') {
			printf("%s %s\n", d->p.prog, MDM_VERSION);
			return 0;
		} else if (c >= OPT_KEY && c < OPT_KEY + (int)N_COMMON_KEYS) {
			rc = mdm_daemon_set(d, common_keys[c - OPT_KEY].key, optarg, d->origins[c - OPT_KEY]);
		} else if (c >= OPT_OWN && c < OPT_OWN + (int)d->p.n_opts) {
			const struct mdm_daemon_opt *o = &d->p.opts[c - OPT_OWN];

			if (o->key)
				rc = mdm_daemon_set(d, o->key, o->value ? o->value : optarg,
						    d->origins[N_COMMON_KEYS + (size_t)(c - OPT_OWN)]);
			else
				rc = d->p.on_opt ? d->p.on_opt(d->p.ctx, d, o->name, optarg)
						 : mdm_err_set(-EINVAL, "--%s: not handled", o->name);
		} else {
			d->p.usage(stderr); /* getopt said what was wrong */
			return 2;
		}
		if (rc != 0) {
			fprintf(stderr, "%s: %s\n", d->p.prog, mdm_err_last());
			return 2;
		}
	}
	if (optind != argc) {
		if (d->p.extra_args_name)
			fprintf(stderr, "%s: unexpected argument '%s' (%s go after --)\n", d->p.prog, argv[optind],
				d->p.extra_args_name);
		else
			fprintf(stderr, "%s: unexpected argument '%s'\n", d->p.prog, argv[optind]);
		return 2;
	}
	return MDM_DAEMON_GO_ON;
}

char **mdm_daemon_extra_args(const struct mdm_daemon *d, int *n)
{
	*n = d->n_extra;
	return d->extra;
}

const char *mdm_daemon_config_path(const struct mdm_daemon *d)
{
	return d->config_path;
}

/* A STR key of the config ("instance", "log_level"), or NULL. */
static const char *cfg_str(const struct mdm_daemon *d, const char *key)
{
	for (size_t i = 0; d->cfg_loaded && i < d->p.schema_len; i++)
		if (d->p.schema[i].type == MDM_CFG_STR && strcmp(d->p.schema[i].key, key) == 0)
			return *(char *const *)((const char *)d->p.cfg + d->p.schema[i].offset);
	return NULL;
}

const char *mdm_daemon_instance(const struct mdm_daemon *d)
{
	const char *s = cfg_str(d, "instance");

	return s ? s : "";
}

static int load_config(struct mdm_daemon *d)
{
	const char *path = d->config_path, *level;
	enum mdm_log_level lvl;
	int rc;

	/* file (or defaults), environment, then the command line */
	rc = d->p.load(d->p.cfg, path);
	d->cfg_loaded = true; /* a failed load leaves nothing owned: freeing is safe */
	for (int i = 0; rc == 0 && i < d->n_flags; i++)
		rc = mdm_cfg_set(d->p.schema, d->p.schema_len, d->p.cfg, d->flags[i].key, d->flags[i].value,
				 d->flags[i].origin);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", d->p.prog, mdm_err_last());
		return 2;
	}
	if (d->print_config)
		return mdm_cfg_print(d->p.schema, d->p.schema_len, d->p.cfg, stdout) == 0 ? 0 : 1;
	if (d->p.validate(d->p.cfg) != 0) {
		fprintf(stderr, "%s: %s%s%s\n", d->p.prog, path ? path : "", path ? ": " : "", mdm_err_last());
		return 2;
	}
	level = cfg_str(d, "log_level");
	if (mdm_log_level_parse(level ? level : "info", &lvl) == 0)
		mdm_log_set_level(lvl);
	mdm_log_init(d->p.component, mdm_daemon_instance(d));
	return MDM_DAEMON_GO_ON;
}

int mdm_daemon_configure(struct mdm_daemon **out, const struct mdm_daemon_params *p, int argc, char **argv)
{
	int code;

	if (daemon_create(out, p) != 0) {
		fprintf(stderr, "%s: %s\n", p->prog ? p->prog : "mdmesh", mdm_err_last());
		return 1;
	}
	code = parse_args(*out, argc, argv);
	if (code != MDM_DAEMON_GO_ON)
		return code;
	if (p->check_args && p->check_args(p->ctx) != 0) {
		fprintf(stderr, "%s: %s\n", p->prog, mdm_err_last());
		return 2;
	}
	return load_config(*out);
}

/* On the signal thread (mdm_signal.h), not in an async handler. */
static void on_signal(int sig, void *ctx)
{
	struct mdm_daemon *d = ctx;
	int stops;

	if (sig == SIGHUP) {
		__atomic_add_fetch(&d->hups, 1, __ATOMIC_RELAXED);
		return;
	}
	stops = __atomic_add_fetch(&d->stops, 1, __ATOMIC_RELAXED);
	if (stops > 1 && d->p.exit_on_second_stop) {
		char msg[128];
		int n = snprintf(msg, sizeof(msg), "%s: second signal, exiting without draining\n", d->p.prog);

		if (write(STDERR_FILENO, msg, (size_t)n) < 0)
			_exit(1);
		_exit(1);
	}
	if (d->p.on_stop)
		d->p.on_stop(d->p.ctx, stops);
}

int mdm_daemon_start_signals(struct mdm_daemon *d)
{
	int rc = mdm_signal_start(on_signal, d);

	if (rc != 0)
		mdm_log_error("signal set-up: %s", mdm_strerror(rc));
	return rc;
}

int mdm_daemon_stops(const struct mdm_daemon *d)
{
	return __atomic_load_n(&d->stops, __ATOMIC_RELAXED);
}

bool mdm_daemon_stopping(const struct mdm_daemon *d)
{
	return mdm_daemon_stops(d) > 0;
}

int mdm_daemon_take_hup(struct mdm_daemon *d)
{
	return __atomic_exchange_n(&d->hups, 0, __ATOMIC_RELAXED);
}

void mdm_daemon_bus_params(const struct mdm_daemon *d, const struct mdm_nats_cfg *nats, struct mdm_bus_params *bp)
{
	mdm_bus_params_init(bp);
	mdm_nats_cfg_apply(nats, bp);
	bp->name = mdm_daemon_instance(d);
}

int mdm_daemon_connect(struct mdm_daemon *d, const struct mdm_bus_params *bp, struct mdm_bus **bus)
{
	int rc = mdm_bus_create(&d->bus, bp);

	if (rc != 0)
		mdm_log_error("NATS: %s", mdm_err_last());
	if (bus)
		*bus = d->bus;
	return rc;
}

struct mdm_bus *mdm_daemon_bus(const struct mdm_daemon *d)
{
	return d->bus;
}

void mdm_daemon_disconnect(struct mdm_daemon *d)
{
	mdm_bus_destroy(d->bus);
	d->bus = NULL;
}

struct mdm_stream_cfg mdm_daemon_stream(const char *name, const struct mdm_cfg_strlist *subjects, uint64_t replicas)
{
	return (struct mdm_stream_cfg){
		.name = name, .subjects = (const char *const *)subjects->v, .n_subjects = subjects->n,
		.max_bytes = -1, .max_msgs = -1, .replicas = (int)replicas,
	};
}

int mdm_daemon_ensure_stream(struct mdm_daemon *d, const struct mdm_stream_cfg *sc)
{
	char prefix[160];
	int rc;

	mdm_err_clear(); /* the message below must be this call's, never an older one */
	rc = mdm_bus_stream_ensure(d->bus, sc);
	if (rc < 0) {
		/* the bus names the stream already in most of its messages */
		snprintf(prefix, sizeof(prefix), "stream %s: ", sc->name);
		if (strncmp(mdm_err_last(), prefix, strlen(prefix)) != 0)
			mdm_err_set(rc, "%s%s", prefix, mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
		mdm_log_error("%s", mdm_err_last());
		return rc;
	}
	mdm_log_info("stream %s %s", sc->name,
		     rc == MDM_BUS_CREATED ? "created" : rc == MDM_BUS_UPDATED ? "updated" : "up to date");
	return rc;
}

int mdm_daemon_ensure_streams(struct mdm_daemon *d, const struct mdm_stream_cfg *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = mdm_daemon_ensure_stream(d, &list[i]);

		if (rc < 0)
			return rc;
	}
	return 0;
}

int mdm_daemon_route(struct mdm_daemon *d, const char *path, mdm_http_handler fn, void *ctx)
{
	if (d->n_routes == MAX_ROUTES || d->http)
		return mdm_err_set(-EBUSY, "daemon: route %s: %s", path,
				   d->http ? "HTTP already serving" : "too many routes");
	d->routes[d->n_routes++] = (struct route){ path, fn, ctx };
	return 0;
}

int mdm_daemon_serve_http(struct mdm_daemon *d, const char *listen, const char *token, struct mdm_metrics *metrics,
			  mdm_http_health_fn health, void *health_ctx)
{
	struct mdm_http_params hp = { .bind = listen, .bearer_token = token && token[0] ? token : NULL };
	const char *colon;
	int rc;

	if (!listen || !listen[0])
		return 0;
	rc = mdm_http_create(&d->http, &hp);
	if (rc == 0)
		rc = mdm_metrics_serve(metrics, d->http);
	if (rc == 0)
		rc = mdm_dashboard_serve(d->http);
	for (int i = 0; rc == 0 && i < d->n_routes; i++)
		rc = mdm_http_route(d->http, d->routes[i].path, d->routes[i].fn, d->routes[i].ctx);
	if (rc == 0 && health)
		rc = mdm_http_set_health(d->http, health, health_ctx);
	if (rc == 0)
		rc = mdm_http_start(d->http);
	if (rc != 0) {
		mdm_log_error("http.listen %s: %s", listen, mdm_err_last());
		return rc;
	}
	colon = strrchr(listen, ':');
	mdm_log_info("metrics on http://%.*s:%u/metrics (port %u)", (int)(colon ? colon - listen : 0), listen,
		     mdm_http_port(d->http), mdm_http_port(d->http));
	return 0;
}

void mdm_daemon_stop_http(struct mdm_daemon *d)
{
	mdm_http_destroy(d->http);
	d->http = NULL;
}
