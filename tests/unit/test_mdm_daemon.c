/* The daemons' shared start-up: command lines (a table of argv and what they
 * must give), config precedence (defaults < environment < flags), own options,
 * and ensure_stream against a real nats-server: created, up to date, updated,
 * and an existing stream whose config cannot be changed (storage) or whose
 * subjects another stream owns, refused with the stream named; a list stops
 * at its first failure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "mdm_bus.h"
#include "mdm_bus_cfg.h"
#include "mdm_cfg.h"
#include "mdm_daemon.h"
#include "mdm_err.h"
#include "nats_server.h"

struct tcfg {
	char *log_level;
	char *instance;
	struct mdm_nats_cfg nats;
	char *http_listen;
	uint64_t n;
	bool flag;
	uint64_t wait_ns;
};

static const struct mdm_cfg_field schema[] = {
	{ "log_level", MDM_CFG_STR, offsetof(struct tcfg, log_level), "warn", 0, 0, NULL, "" },
	{ "instance", MDM_CFG_STR, offsetof(struct tcfg, instance), "t-1", 0, 0, NULL, "" },
	MDM_NATS_CFG_SCHEMA(struct tcfg, nats),
	{ "http.listen", MDM_CFG_STR, offsetof(struct tcfg, http_listen), "", 0, 0, NULL, "" },
	{ "n", MDM_CFG_UINT, offsetof(struct tcfg, n), "1", 0, 100, NULL, "" },
	{ "flag", MDM_CFG_BOOL, offsetof(struct tcfg, flag), "false", 0, 0, NULL, "" },
	{ "wait", MDM_CFG_DURATION, offsetof(struct tcfg, wait_ns), "1s", 0, 0, NULL, "" },
};

static const struct mdm_daemon_opt opts[] = {
	{ .name = "flag", .key = "flag", .value = "true" },
	{ .name = "count", .key = "n" },
	{ .name = "wait-s" },                 /* own: seconds, set as a duration */
	{ .name = "dry", .no_arg = true },    /* own, no argument */
};

struct world {
	struct tcfg cfg;
	struct mdm_daemon *d;
	char wait_buf[32];
	bool dry;
	int validate_calls;
};

static int t_load(void *cfg, const char *path)
{
	memset(cfg, 0, sizeof(struct tcfg));
	if (path)
		return mdm_cfg_load_file(schema, sizeof(schema) / sizeof(schema[0]), cfg, path);
	return mdm_cfg_load_string(schema, sizeof(schema) / sizeof(schema[0]), cfg, "", 0, "<defaults>");
}

static int t_validate(void *cfg)
{
	const struct tcfg *c = cfg;

	return c->n == 13 ? mdm_err_set(-EINVAL, "n: 13 is unlucky") : 0;
}

static void t_usage(FILE *f)
{
	fprintf(f, "usage: t\n");
}

/* --dry goes with --wait-s only */
static int t_check_args(void *ctx)
{
	const struct world *w = ctx;

	return w->dry && !w->wait_buf[0] ? mdm_err_set(-EINVAL, "--dry only goes with --wait-s") : 0;
}

static int t_on_opt(void *ctx, struct mdm_daemon *d, const char *name, const char *arg)
{
	struct world *w = ctx;

	if (strcmp(name, "dry") == 0) {
		assert_null(arg);
		w->dry = true;
		return 0;
	}
	assert_string_equal(name, "wait-s");
	if (strspn(arg, "0123456789") != strlen(arg) || !arg[0])
		return mdm_err_set(-EINVAL, "--wait-s '%s': expected seconds", arg);
	snprintf(w->wait_buf, sizeof(w->wait_buf), "%ss", arg);
	return mdm_daemon_set(d, "wait", w->wait_buf, "--wait-s");
}

/* mdm_daemon_configure on argv (NULL-terminated, program name first). */
static int run(struct world *w, bool extra, char **argv)
{
	struct mdm_daemon_params p = {
		.prog = "t", .component = "test", .schema = schema, .schema_len = sizeof(schema) / sizeof(schema[0]),
		.cfg = &w->cfg, .load = t_load, .validate = t_validate, .usage = t_usage, .opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]), .on_opt = t_on_opt, .ctx = w,
		.check_args = t_check_args, .extra_args_name = extra ? "EAL arguments" : NULL,
	};

	int argc = 0;

	while (argv[argc])
		argc++;
	memset(w, 0, sizeof(*w));
	return mdm_daemon_configure(&w->d, &p, argc, argv);
}

#define ARGV(...) ((char *[]){ "t", __VA_ARGS__, NULL })

/* Exit statuses of command lines that do not run. */
static void test_command_lines(void **state)
{
	static const struct {
		const char *args[6];
		bool extra;
		int want;
	} cases[] = {
		{ { "--help" }, false, 0 },
		{ { "-h" }, false, 0 },
		{ { "-V" }, false, 0 },
		{ { "--print-config", "--set", "n=4" }, false, 0 },
		{ { "--set", "n" }, false, 2 },              /* not KEY=VALUE */
		{ { "--set", "nn=4" }, false, 2 },           /* unknown key */
		{ { "--count", "lots" }, false, 2 },         /* bad value, named by its flag */
		{ { "--count", "13" }, false, 2 },           /* validate refuses */
		{ { "--bogus" }, false, 2 },                 /* getopt refuses */
		{ { "stray" }, false, 2 },
		{ { "stray", "--", "x" }, true, 2 },         /* before --: still stray */
		{ { "--wait-s", "soon" }, false, 2 },        /* own option refuses */
		{ { "--dry" }, false, 2 },                   /* check_args refuses */
		{ { "-c", "/nonexistent/t.yaml" }, false, 2 },
		{ { "--count", "5", "--", "--anything" }, true, MDM_DAEMON_GO_ON },
	};
	struct world w;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[8] = { "t" }; /* copies: --set cuts its argument */
		int argc = 1, got;

		for (int k = 0; k < 6 && cases[i].args[k]; k++)
			assert_non_null(argv[argc++] = strdup(cases[i].args[k]));
		got = run(&w, cases[i].extra, argv);
		if (got != cases[i].want)
			fail_msg("case %zu (%s ...): %d, want %d", i, cases[i].args[0], got, cases[i].want);
		mdm_daemon_destroy(w.d);
		while (argc > 1)
			free(argv[--argc]);
	}
}

/* Defaults < environment < flags, in flag order; own options; -- args. */
static void test_precedence_and_own_options(void **state)
{
	struct world w;
	int n;
	char **extra;
	char set_n[] = "n=9"; /* --set cuts its argument */

	(void)state;
	assert_int_equal(run(&w, false, ARGV("--nats", "nats://h:1")), MDM_DAEMON_GO_ON);
	assert_int_equal(w.cfg.n, 1);
	assert_string_equal(w.cfg.nats.url, "nats://h:1");
	assert_string_equal(mdm_daemon_instance(w.d), "t-1");
	assert_false(w.cfg.flag);
	mdm_daemon_destroy(w.d);

	setenv("MDM_N", "3", 1);
	assert_int_equal(run(&w, false, ARGV("--instance", "x")), MDM_DAEMON_GO_ON);
	assert_int_equal(w.cfg.n, 3);
	assert_string_equal(mdm_daemon_instance(w.d), "x");
	mdm_daemon_destroy(w.d);
	assert_int_equal(run(&w, true, ARGV("--count", "7", "--set", set_n, "--flag", "--wait-s", "5", "--dry", "--",
					    "-a", "b")),
			 MDM_DAEMON_GO_ON);
	unsetenv("MDM_N");
	assert_int_equal(w.cfg.n, 9); /* the later flag wins */
	assert_true(w.cfg.flag);
	assert_true(w.dry);
	assert_int_equal(w.cfg.wait_ns, 5000000000ULL);
	extra = mdm_daemon_extra_args(w.d, &n);
	assert_int_equal(n, 2);
	assert_string_equal(extra[0], "-a");
	assert_string_equal(extra[1], "b");
	assert_null(mdm_daemon_config_path(w.d));
	mdm_daemon_destroy(w.d);
}

/* ---- streams, against a real server ---- */

static struct nts_server srv;

static int srv_up(void **state)
{
	(void)state;
	nts_start(&srv, "mdm-daemon-test", true, NULL, NULL);
	return 0;
}

static int srv_down(void **state)
{
	(void)state;
	nts_stop(&srv);
	return 0;
}

static void connect_world(struct world *w)
{
	struct mdm_bus_params bp;
	struct mdm_bus *bus = NULL;
	char url[64];

	assert_int_equal(run(w, false, ARGV("--log-level", "error")), MDM_DAEMON_GO_ON);
	nts_url(&srv, url, sizeof(url));
	mdm_daemon_bus_params(w->d, &w->cfg.nats, &bp);
	bp.urls = url;
	assert_int_equal(mdm_daemon_connect(w->d, &bp, &bus), 0);
	assert_non_null(bus);
	assert_ptr_equal(mdm_daemon_bus(w->d), bus);
}

static void test_ensure_stream(void **state)
{
	static char *subj_a[] = { "ta.>" }, *subj_b[] = { "tb.>" }, *subj_c[] = { "tc.>" };
	const struct mdm_cfg_strlist la = { subj_a, 1 }, lb = { subj_b, 1 }, lc = { subj_c, 1 };
	struct mdm_bus_stream_info info;
	struct mdm_stream_cfg sc, list[3];
	struct world w;
	int rc;

	(void)state;
	connect_world(&w);
	sc = mdm_daemon_stream("TA", &la, 1);
	assert_int_equal(sc.max_bytes, -1);
	assert_int_equal(sc.max_msgs, -1);
	assert_int_equal(mdm_daemon_ensure_stream(w.d, &sc), MDM_BUS_CREATED);
	assert_int_equal(mdm_daemon_ensure_stream(w.d, &sc), MDM_BUS_UNCHANGED);
	sc.max_age_ns = 3600 * 1000000000LL;
	assert_int_equal(mdm_daemon_ensure_stream(w.d, &sc), MDM_BUS_UPDATED);
	assert_int_equal(mdm_daemon_ensure_stream(w.d, &sc), MDM_BUS_UNCHANGED);

	/* exists with a config that cannot be changed: refused, the stream named once */
	sc.memory = true;
	rc = mdm_daemon_ensure_stream(w.d, &sc);
	assert_true(rc < 0);
	if (strncmp(mdm_err_last(), "stream TA: ", 11) != 0 || strstr(mdm_err_last() + 11, "stream TA:"))
		fail_msg("message: %s", mdm_err_last());
	assert_non_null(strstr(mdm_err_last(), "storage"));
	sc.memory = false;
	assert_int_equal(mdm_daemon_ensure_stream(w.d, &sc), MDM_BUS_UNCHANGED); /* nothing was changed */

	/* another stream owns the subjects */
	sc = mdm_daemon_stream("TB", &la, 1);
	assert_true(mdm_daemon_ensure_stream(w.d, &sc) < 0);
	assert_true(strncmp(mdm_err_last(), "stream TB: ", 11) == 0);

	/* a list stops at its first failure */
	list[0] = mdm_daemon_stream("TC", &lc, 1);
	list[1] = mdm_daemon_stream("TB", &la, 1);
	list[2] = mdm_daemon_stream("TD", &lb, 1);
	assert_true(mdm_daemon_ensure_streams(w.d, list, 3) < 0);
	assert_true(strncmp(mdm_err_last(), "stream TB: ", 11) == 0);
	assert_int_equal(mdm_bus_stream_info(mdm_daemon_bus(w.d), "TC", &info), 0);
	assert_int_equal(mdm_bus_stream_info(mdm_daemon_bus(w.d), "TD", &info), -ENOENT);
	list[1] = mdm_daemon_stream("TB", &lb, 1);
	list[2] = mdm_daemon_stream("TD", &lc, 1); /* TC has tc.> */
	assert_true(mdm_daemon_ensure_streams(w.d, list, 2) == 0);
	assert_int_equal(mdm_bus_stream_info(mdm_daemon_bus(w.d), "TB", &info), 0);

	mdm_daemon_disconnect(w.d);
	assert_null(mdm_daemon_bus(w.d));
	mdm_daemon_destroy(w.d);
}

static int teapot(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body, const char **content_type)
{
	return 418;
}

/* HTTP: none without an address; a bad one refused; a daemon's own routes
 * are taken before it serves (a clash with a built-in one fails the serve),
 * not after, and only so many. */
static void test_http(void **state)
{
	struct world w;

	(void)state;
	assert_int_equal(run(&w, false, ARGV("--log-level", "error")), MDM_DAEMON_GO_ON);
	assert_int_equal(mdm_daemon_serve_http(w.d, "", NULL, NULL, NULL, NULL), 0);
	assert_true(mdm_daemon_serve_http(w.d, "no-such-host:x", NULL, NULL, NULL, NULL) < 0);
	mdm_daemon_destroy(w.d);

	assert_int_equal(run(&w, false, ARGV("--log-level", "error")), MDM_DAEMON_GO_ON);
	assert_int_equal(mdm_daemon_route(w.d, "/dashboard", teapot, NULL), 0);
	assert_int_equal(mdm_daemon_serve_http(w.d, "127.0.0.1:0", NULL, NULL, NULL, NULL), -EEXIST);
	mdm_daemon_destroy(w.d);

	assert_int_equal(run(&w, false, ARGV("--log-level", "error")), MDM_DAEMON_GO_ON);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mdm_daemon_route(w.d, (const char *[]){ "/a", "/b", "/c", "/d" }[i], teapot, NULL), 0);
	assert_int_equal(mdm_daemon_route(w.d, "/e", teapot, NULL), -EBUSY);
	assert_int_equal(mdm_daemon_serve_http(w.d, "127.0.0.1:0", NULL, NULL, NULL, NULL), 0);
	assert_int_equal(mdm_daemon_route(w.d, "/f", teapot, NULL), -EBUSY);
	mdm_daemon_stop_http(w.d);
	mdm_daemon_destroy(w.d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_lines),
		cmocka_unit_test(test_precedence_and_own_options),
		cmocka_unit_test(test_http),
		cmocka_unit_test_setup_teardown(test_ensure_stream, srv_up, srv_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
