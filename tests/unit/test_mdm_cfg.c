/* mdm_cfg: every type with its units and bounds, defaults, file, env and flag
 * precedence, every error message form, print masking and round trip,
 * allocation failures. Fixtures are written to a temp dir by the tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdm_cfg.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_suggest.h"

struct tcfg {
	char *nats_url;
	struct mdm_cfg_strlist servers;
	char *nats_token;
	bool tls;
	uint64_t max_pending;
	int mode;
	uint64_t flush_ns;
	double ratio;
	int64_t offset;
	uint64_t buffer_bytes;
	char *db_password;
	struct mdm_cfg_raw rules;
};

static const char *const modes[] = { "event", "batch", NULL };

#define OFF(f) offsetof(struct tcfg, f)
static const struct mdm_cfg_field schema[] = {
	{ "nats.url", MDM_CFG_STR, OFF(nats_url), "nats://127.0.0.1:4222", 0, 0, NULL, "NATS server URL" },
	{ "nats.servers", MDM_CFG_STRLIST, OFF(servers), "a:1, b:2", 0, 0, NULL, "seed servers" },
	{ "nats.token", MDM_CFG_STR, OFF(nats_token), NULL, 0, 0, NULL, "auth token" },
	{ "nats.tls", MDM_CFG_BOOL, OFF(tls), "false", 0, 0, NULL, "use TLS" },
	{ "publish.max_pending", MDM_CFG_UINT, OFF(max_pending), "65536", 1, 1000000, NULL, "max unacked" },
	{ "publish.mode", MDM_CFG_ENUM, OFF(mode), "event", 0, 0, modes, "publish mode" },
	{ "publish.flush", MDM_CFG_DURATION, OFF(flush_ns), "5ms", 1000, 7200e9, NULL, "flush interval" },
	{ "publish.ratio", MDM_CFG_DOUBLE, OFF(ratio), "0.5", 0, 1, NULL, "sampling ratio" },
	{ "rx.offset", MDM_CFG_INT, OFF(offset), "-3", -100, 100, NULL, "offset" },
	{ "rx.buffer", MDM_CFG_SIZE, OFF(buffer_bytes), "64KiB", 512, 1073741824.0, NULL, "buffer size" },
	{ "store.password", MDM_CFG_STR, OFF(db_password), NULL, 0, 0, NULL, "database password" },
	{ "rules", MDM_CFG_RAW, OFF(rules), "[]", 0, 0, NULL, "routing rules" },
};
#define NS (sizeof(schema) / sizeof(schema[0]))

static char tmpdir[64];
static uint64_t mem_base;

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mdm_cfg_XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	mem_base = mdm_mem_used();
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write a fixture; returns its path (static buffer, one at a time). */
static const char *fixture(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void expect_no_leak(void)
{
	assert_int_equal(mdm_mem_used(), mem_base);
}

static void test_defaults(void **state)
{
	struct tcfg c = { 0 };

	assert_int_equal(mdm_cfg_defaults(schema, NS, &c), 0);
	assert_string_equal(c.nats_url, "nats://127.0.0.1:4222");
	assert_int_equal(c.servers.n, 2);
	assert_string_equal(c.servers.v[0], "a:1");
	assert_string_equal(c.servers.v[1], "b:2");
	assert_null(c.nats_token);
	assert_false(c.tls);
	assert_int_equal(c.max_pending, 65536);
	assert_int_equal(c.mode, 0);
	assert_int_equal(c.flush_ns, 5000000);
	assert_true(c.ratio == 0.5);
	assert_int_equal(c.offset, -3);
	assert_int_equal(c.buffer_bytes, 65536);
	assert_null(c.db_password);
	assert_non_null(c.rules.node);
	assert_int_equal(c.rules.node->kind, MDM_YAML_SEQ);
	assert_int_equal(c.rules.node->n, 0);
	assert_string_equal(c.rules.origin, "default");
	mdm_cfg_free(schema, NS, &c);
	assert_null(c.nats_url);
	assert_null(c.servers.v);
	assert_null(c.rules.node);
	mdm_cfg_free(schema, NS, &c); /* twice is harmless */
	expect_no_leak();
}

static void test_load_every_type(void **state)
{
	const char *path = fixture("all.yaml", "# collector\n"
					       "nats:\n"
					       "  url: nats://10.0.0.1:4222\n"
					       "  servers:\n"
					       "    - nats://a:4222\n"
					       "    - \"nats://b:4222\"\n"
					       "  token: tok\n"
					       "  tls: yes\n"
					       "publish:\n"
					       "  max_pending: 1000\n"
					       "  mode: batch\n"
					       "  flush: 250us\n"
					       "  ratio: 0.125\n"
					       "rx.offset: -100\n"
					       "rx:\n"
					       "  buffer: 256MiB\n"
					       "store:\n"
					       "  password: hunter2\n"
					       "rules:\n"
					       "  - name: big\n"
					       "    match: md.>\n"
					       "  - name: halt\n");
	struct tcfg c = { 0 };
	const struct mdm_yaml_node *r;

	assert_int_equal(mdm_cfg_load_file(schema, NS, &c, path), 0);
	assert_string_equal(c.nats_url, "nats://10.0.0.1:4222");
	assert_int_equal(c.servers.n, 2);
	assert_string_equal(c.servers.v[0], "nats://a:4222");
	assert_string_equal(c.servers.v[1], "nats://b:4222");
	assert_string_equal(c.nats_token, "tok");
	assert_true(c.tls);
	assert_int_equal(c.max_pending, 1000);
	assert_int_equal(c.mode, 1);
	assert_int_equal(c.flush_ns, 250000);
	assert_true(c.ratio == 0.125);
	assert_int_equal(c.offset, -100);
	assert_int_equal(c.buffer_bytes, 256ULL << 20);
	assert_string_equal(c.db_password, "hunter2");
	r = c.rules.node;
	assert_non_null(r);
	assert_int_equal(r->kind, MDM_YAML_SEQ);
	assert_int_equal(r->n, 2);
	assert_string_equal(mdm_yaml_map_get(r->items[0], "match")->text, "md.>");
	assert_int_equal(r->items[1]->line, 22);
	assert_string_equal(c.rules.origin, path);
	mdm_cfg_free(schema, NS, &c);
	expect_no_leak();
}

/* ---- values through mdm_cfg_set: one table, one body ---- */

struct value_case {
	const char *key;
	const char *text;
	uint64_t u;      /* expected for UINT, DURATION, SIZE, BOOL, ENUM */
	int64_t i;       /* expected for INT */
	double d;        /* expected for DOUBLE */
	const char *err; /* expected message, or NULL when the value is accepted */
};

static const struct value_case value_cases[] = {
	{ "publish.flush", "250us", 250000, 0, 0, NULL },
	{ "publish.flush", "5ms", 5000000, 0, 0, NULL },
	{ "publish.flush", "2s", 2000000000, 0, 0, NULL },
	{ "publish.flush", "1m", 60000000000ULL, 0, 0, NULL },
	{ "publish.flush", "2h", 7200000000000ULL, 0, 0, NULL },
	{ "publish.flush", "1.5s", 1500000000, 0, 0, NULL },
	{ "publish.flush", "0.5ms", 500000, 0, 0, NULL },
	{ "publish.flush", "3\xc2\xb5s", 3000, 0, 0, NULL },
	{ "publish.flush", "5 ms", 5000000, 0, 0, NULL },
	{ "publish.flush", "1000", 1000, 0, 0, NULL },
	{ "publish.flush", "1500ns", 1500, 0, 0, NULL },
	{ "publish.flush", "999", 0, 0, 0, "--x: publish.flush: 999 is below the minimum 1us" },
	{ "publish.flush", "3h", 0, 0, 0, "--x: publish.flush: 3h is above the maximum 2h" },
	{ "publish.flush", "1.0005us", 0, 0, 0, "--x: publish.flush: '1.0005us' is not a whole number of nanoseconds" },
	{ "publish.flush", "5parsecs", 0, 0, 0,
	  "--x: publish.flush: '5parsecs' is not a duration (e.g. 250us, 5ms, 2s, 1m; a plain number is ns)" },
	{ "publish.flush", "-5ms", 0, 0, 0,
	  "--x: publish.flush: '-5ms' is not a duration (e.g. 250us, 5ms, 2s, 1m; a plain number is ns)" },
	{ "publish.flush", "99999999999h", 0, 0, 0, "--x: publish.flush: '99999999999h' is out of range" },
	{ "rx.buffer", "64KiB", 65536, 0, 0, NULL },
	{ "rx.buffer", "1GiB", 1ULL << 30, 0, 0, NULL },
	{ "rx.buffer", "1000", 1000, 0, 0, NULL },
	{ "rx.buffer", "10MB", 10000000, 0, 0, NULL },
	{ "rx.buffer", "1.5KiB", 1536, 0, 0, NULL },
	{ "rx.buffer", "512B", 512, 0, 0, NULL },
	{ "rx.buffer", "100", 0, 0, 0, "--x: rx.buffer: 100 is below the minimum 512" },
	{ "rx.buffer", "2GiB", 0, 0, 0, "--x: rx.buffer: 2GiB is above the maximum 1GiB" },
	{ "rx.buffer", "12furlongs", 0, 0, 0,
	  "--x: rx.buffer: '12furlongs' is not a size (e.g. 64KiB, 256MiB, 1GiB; a plain number is bytes)" },
	{ "publish.max_pending", "1", 1, 0, 0, NULL },
	{ "publish.max_pending", " 42 ", 42, 0, 0, NULL },
	{ "publish.max_pending", "1000000", 1000000, 0, 0, NULL },
	{ "publish.max_pending", "0", 0, 0, 0, "--x: publish.max_pending: 0 is below the minimum 1" },
	{ "publish.max_pending", "1000001", 0, 0, 0, "--x: publish.max_pending: 1000001 is above the maximum 1000000" },
	{ "publish.max_pending", "-1", 0, 0, 0, "--x: publish.max_pending: '-1' is not an unsigned integer" },
	{ "publish.max_pending", "12abc", 0, 0, 0, "--x: publish.max_pending: '12abc' is not an unsigned integer" },
	{ "publish.max_pending", "99999999999999999999", 0, 0, 0,
	  "--x: publish.max_pending: '99999999999999999999' is out of range" },
	{ "rx.offset", "-100", 0, -100, 0, NULL },
	{ "rx.offset", "+7", 0, 7, 0, NULL },
	{ "rx.offset", "-101", 0, 0, 0, "--x: rx.offset: -101 is below the minimum -100" },
	{ "rx.offset", "x", 0, 0, 0, "--x: rx.offset: 'x' is not an integer" },
	{ "publish.ratio", "0.25", 0, 0, 0.25, NULL },
	{ "publish.ratio", "1e-1", 0, 0, 0.1, NULL },
	{ "publish.ratio", "1.5", 0, 0, 0, "--x: publish.ratio: 1.5 is above the maximum 1" },
	{ "publish.ratio", "nan", 0, 0, 0, "--x: publish.ratio: 'nan' is not a number" },
	{ "nats.tls", "true", 1, 0, 0, NULL },
	{ "nats.tls", "ON", 1, 0, 0, NULL },
	{ "nats.tls", "no", 0, 0, 0, NULL },
	{ "nats.tls", "Off", 0, 0, 0, NULL },
	{ "nats.tls", "maybe", 0, 0, 0, "--x: nats.tls: 'maybe' is not a boolean (true/false, yes/no, on/off)" },
	{ "publish.mode", "batch", 1, 0, 0, NULL },
	{ "publish.mode", "event", 0, 0, 0, NULL },
	{ "publish.mode", "bach", 0, 0, 0, "--x: publish.mode: 'bach' is not one of: event, batch" },
	{ "nats.ulr", "x", 0, 0, 0, "--x: nats.ulr: unknown key (did you mean nats.url?)" },
	{ "publish.max_pendng", "1", 0, 0, 0, "--x: publish.max_pendng: unknown key (did you mean publish.max_pending?)" },
	{ "zzz", "1", 0, 0, 0, "--x: zzz: unknown key" },
	{ "nats", "x", 0, 0, 0, "--x: nats: is a section, not a key" },
};

static void test_values_via_set(void **state)
{
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const struct value_case *vc = &value_cases[i];
		struct tcfg c = { 0 }, before;
		int rc;

		assert_int_equal(mdm_cfg_defaults(schema, NS, &c), 0);
		before = c;
		rc = mdm_cfg_set(schema, NS, &c, vc->key, vc->text, "--x");
		if (vc->err) {
			if (rc != -EINVAL)
				fail_msg("case %zu (%s=%s): rc %d", i, vc->key, vc->text, rc);
			assert_string_equal(mdm_err_last(), vc->err);
			/* A failed set changes nothing. */
			assert_memory_equal(&c, &before, sizeof(c));
		} else {
			if (rc != 0)
				fail_msg("case %zu (%s=%s): %s", i, vc->key, vc->text, mdm_err_last());
			if (strcmp(vc->key, "publish.flush") == 0)
				assert_int_equal(c.flush_ns, vc->u);
			else if (strcmp(vc->key, "rx.buffer") == 0)
				assert_int_equal(c.buffer_bytes, vc->u);
			else if (strcmp(vc->key, "publish.max_pending") == 0)
				assert_int_equal(c.max_pending, vc->u);
			else if (strcmp(vc->key, "rx.offset") == 0)
				assert_int_equal(c.offset, vc->i);
			else if (strcmp(vc->key, "publish.ratio") == 0)
				assert_true(c.ratio == vc->d);
			else if (strcmp(vc->key, "nats.tls") == 0)
				assert_int_equal(c.tls, vc->u);
			else if (strcmp(vc->key, "publish.mode") == 0)
				assert_int_equal(c.mode, vc->u);
			else
				fail_msg("case %zu: no check for %s", i, vc->key);
		}
		mdm_cfg_free(schema, NS, &c);
	}
	expect_no_leak();
}

static void test_set_strings_and_lists(void **state)
{
	struct tcfg c = { 0 };

	assert_int_equal(mdm_cfg_defaults(schema, NS, &c), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "nats.url", "nats://flag:2", "--nats"), 0);
	assert_string_equal(c.nats_url, "nats://flag:2");
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "nats.url", "", NULL), 0);
	assert_string_equal(c.nats_url, "");
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "nats.servers", " x , y,,z, ", "--servers"), 0);
	assert_int_equal(c.servers.n, 3);
	assert_string_equal(c.servers.v[0], "x");
	assert_string_equal(c.servers.v[1], "y");
	assert_string_equal(c.servers.v[2], "z");
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "nats.servers", "", "--servers"), 0);
	assert_int_equal(c.servers.n, 0);
	assert_null(c.servers.v);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "rules", "[{name: a, match: \"md.>\"}]", "--rules"), 0);
	assert_int_equal(c.rules.node->n, 1);
	assert_string_equal(mdm_yaml_map_get(c.rules.node->items[0], "name")->text, "a");
	assert_string_equal(c.rules.origin, "--rules");
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "rules", "[{name: a", "--rules"), -EINVAL);
	assert_string_equal(mdm_err_last(), "--rules:2:1: syntax error: did not find expected ',' or '}' "
					    "(while parsing a flow mapping that started at line 1, column 2)");
	assert_int_equal(c.rules.node->n, 1); /* kept */
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "publish.mode", "batch", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "publish.mode", "bach", NULL), -EINVAL);
	assert_string_equal(mdm_err_last(), "command line: publish.mode: 'bach' is not one of: event, batch");
	mdm_cfg_free(schema, NS, &c);
	expect_no_leak();
}

/* ---- file errors: exact FILE:LINE: KEY: reason ---- */

struct file_case {
	const char *yaml;
	const char *msg; /* after the file name */
};

static const struct file_case file_cases[] = {
	{ "publish:\n  mode: event\n  max_pending: 0\n", ":3: publish.max_pending: 0 is below the minimum 1" },
	{ "nats:\n  ulr: nats://x\n", ":2: nats.ulr: unknown key (did you mean nats.url?)" },
	{ "nast:\n  url: nats://x\n", ":1: nast: unknown key (did you mean nats?)" },
	{ "publish:\n  mode: bach\n", ":2: publish.mode: 'bach' is not one of: event, batch" },
	{ "nats: 5\n", ":1: nats: expected a mapping, found a scalar" },
	{ "nats:\n  - url\n", ":1: nats: expected a mapping, found a sequence" },
	{ "- a\n- b\n", ":1: (top level): expected a mapping, found a sequence" },
	{ "just text\n", ":1: (top level): expected a mapping, found a scalar" },
	{ "nats:\n  url: a\n  url: b\n", ":3: nats.url: duplicate key (first at line 2)" },
	{ "nats.url: a\nnats:\n  url: b\n", ":3: nats.url: duplicate key (first set at line 1)" },
	{ "nats:\n  url: [a]\n", ":2: nats.url: expected a scalar, found a sequence" },
	{ "nats:\n  servers: {a: 1}\n", ":2: nats.servers: expected a sequence or a comma-separated scalar, found a mapping" },
	{ "nats:\n  servers:\n    - a\n    - {x: 1}\n", ":4: nats.servers[1]: expected a scalar, found a mapping" },
	{ "nats:\n  servers:\n    - a\n    -\n", ":4: nats.servers[1]: missing value" },
	{ "nats:\n  tls:\n", ":2: nats.tls: missing value" },
	{ "rx:\n  buffer: ~\n", ":2: rx.buffer: missing value" },
	{ "totally_unknown: 1\n", ":1: totally_unknown: unknown key" },
	{ "publish:\n  flush: 1.5ns\n", ":2: publish.flush: '1.5ns' is not a whole number of nanoseconds" },
	{ "nats:\n  url: [a, b\n  tls: true\n",
	  ":3:6: syntax error: did not find expected ',' or ']' (while parsing a flow sequence that started at "
	  "line 2, column 8)" },
	{ "a: &x 1\nnats:\n  url: *x\n", ":3: nats.url: aliases (*x) are not supported" },
};

static void test_file_errors(void **state)
{
	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		char name[32], expect[512];
		const char *path;
		struct tcfg c = { 0 };
		int rc;

		snprintf(name, sizeof(name), "err%02zu.yaml", i);
		path = fixture(name, file_cases[i].yaml);
		snprintf(expect, sizeof(expect), "%s%s", path, file_cases[i].msg);
		rc = mdm_cfg_load_file(schema, NS, &c, path);
		if (rc != -EINVAL)
			fail_msg("case %zu: rc %d (%s)", i, rc, mdm_err_last());
		assert_string_equal(mdm_err_last(), expect);
		/* On failure every owned field has been released. */
		assert_null(c.nats_url);
		assert_null(c.servers.v);
		assert_null(c.rules.node);
	}
	expect_no_leak();
}

static void test_value_line_is_reported(void **state)
{
	const char *path = fixture("line.yaml", "publish:\n  flush:\n    9h\n");
	char expect[256];
	struct tcfg c = { 0 };

	assert_int_equal(mdm_cfg_load_file(schema, NS, &c, path), -EINVAL);
	snprintf(expect, sizeof(expect), "%s:3: publish.flush: 9h is above the maximum 2h", path);
	assert_string_equal(mdm_err_last(), expect);
}

static void test_missing_file_and_empty_file(void **state)
{
	char path[128], expect[256];
	struct tcfg c = { 0 };

	snprintf(path, sizeof(path), "%s/nope.yaml", tmpdir);
	assert_int_equal(mdm_cfg_load_file(schema, NS, &c, path), -ENOENT);
	snprintf(expect, sizeof(expect), "%s: No such file or directory", path);
	assert_string_equal(mdm_err_last(), expect);
	assert_null(c.nats_url);

	assert_int_equal(mdm_cfg_load_file(schema, NS, &c, fixture("empty.yaml", "# nothing\n")), 0);
	assert_string_equal(c.nats_url, "nats://127.0.0.1:4222");
	assert_int_equal(c.max_pending, 65536);
	mdm_cfg_free(schema, NS, &c);

	/* Sections may be present but empty. */
	assert_int_equal(mdm_cfg_load_file(schema, NS, &c, fixture("sect.yaml", "nats:\npublish: ~\n")), 0);
	assert_int_equal(c.max_pending, 65536);
	mdm_cfg_free(schema, NS, &c);
	expect_no_leak();
}

static void test_env_overrides(void **state)
{
	const char *path = fixture("env.yaml", "nats:\n  url: nats://file:1\npublish:\n  max_pending: 10\n");
	struct tcfg c = { 0 };

	setenv("MDM_NATS_URL", "nats://env:1", 1);
	setenv("MDM_PUBLISH_FLUSH", "2s", 1);
	setenv("MDM_NATS_SERVERS", "e1,e2", 1);
	setenv("MDM_RULES", "[{name: from_env}]", 1);
	assert_int_equal(mdm_cfg_load_file(schema, NS, &c, path), 0);
	assert_string_equal(c.nats_url, "nats://env:1"); /* env beats file */
	assert_int_equal(c.max_pending, 10);              /* file beats default */
	assert_int_equal(c.flush_ns, 2000000000);         /* env beats default */
	assert_int_equal(c.servers.n, 2);
	assert_string_equal(c.servers.v[1], "e2");
	assert_string_equal(mdm_yaml_map_get(c.rules.node->items[0], "name")->text, "from_env");
	assert_string_equal(c.rules.origin, "env MDM_RULES");
	/* Flags beat env. */
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "nats.url", "nats://flag:1", "--nats"), 0);
	assert_string_equal(c.nats_url, "nats://flag:1");
	mdm_cfg_free(schema, NS, &c);

	/* Without a file: defaults and env. */
	assert_int_equal(mdm_cfg_load_file(schema, NS, &c, NULL), 0);
	assert_string_equal(c.nats_url, "nats://env:1");
	assert_int_equal(c.max_pending, 65536);
	mdm_cfg_free(schema, NS, &c);

	setenv("MDM_PUBLISH_MAX_PENDING", "0", 1);
	assert_int_equal(mdm_cfg_load_file(schema, NS, &c, path), -EINVAL);
	assert_string_equal(mdm_err_last(), "env MDM_PUBLISH_MAX_PENDING: publish.max_pending: 0 is below the minimum 1");
	assert_null(c.nats_url);
	unsetenv("MDM_PUBLISH_MAX_PENDING");
	unsetenv("MDM_NATS_URL");
	unsetenv("MDM_PUBLISH_FLUSH");
	unsetenv("MDM_NATS_SERVERS");
	unsetenv("MDM_RULES");
	expect_no_leak();
}

/* ---- print ---- */

static void print_to(const struct tcfg *c, char *out, size_t cap)
{
	FILE *f = fmemopen(out, cap, "w");

	assert_non_null(f);
	assert_int_equal(mdm_cfg_print(schema, NS, c, f), 0);
	fclose(f);
}

static void test_print_masks_secrets(void **state)
{
	static const char expect[] = "nats:\n"
				     "  # NATS server URL\n"
				     "  url: \"nats://127.0.0.1:4222\"\n"
				     "  # seed servers\n"
				     "  servers: [\"a:1\", \"b:2\"]\n"
				     "  # auth token\n"
				     "  token: \"***\"\n"
				     "  # use TLS\n"
				     "  tls: true\n"
				     "publish:\n"
				     "  # max unacked\n"
				     "  max_pending: 65536\n"
				     "  # publish mode\n"
				     "  mode: batch\n"
				     "  # flush interval\n"
				     "  flush: 1500us\n"
				     "  # sampling ratio\n"
				     "  ratio: 0.1\n"
				     "rx:\n"
				     "  # offset\n"
				     "  offset: -3\n"
				     "  # buffer size\n"
				     "  buffer: 256MiB\n"
				     "store:\n"
				     "  # database password\n"
				     "  password: ~\n"
				     "# routing rules\n"
				     "rules: [{name: a, match: \"md.>\"}]\n";
	struct tcfg c = { 0 };
	char out[2048];

	assert_int_equal(mdm_cfg_defaults(schema, NS, &c), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "nats.token", "s3cr3t-value", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "nats.tls", "on", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "publish.mode", "batch", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "publish.flush", "1.5ms", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "publish.ratio", "0.1", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "rx.buffer", "268435456", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &c, "rules", "[{name: a, match: md.>}]", NULL), 0);
	print_to(&c, out, sizeof(out));
	assert_string_equal(out, expect);
	assert_null(strstr(out, "s3cr3t"));
	mdm_cfg_free(schema, NS, &c);
	expect_no_leak();
}

/* A password inside a URL is masked whatever the key is called, in every URL
 * of a list, as are NATS tokens and password= parameters; a user name alone,
 * and an '@' in a path, are left alone. */
static void test_print_masks_url_passwords(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "postgresql://mdmesh:s3cr3t@127.0.0.1:5432/md", "url: \"postgresql://mdmesh:***@127.0.0.1:5432/md\"" },
		{ "nats://bob:pw@h:4222", "url: \"nats://bob:***@h:4222\"" },
		{ "postgresql://bob@h/md", "url: \"postgresql://bob@h/md\"" },
		{ "nats://T0KEN@h:4222", "url: \"nats://***@h:4222\"" },
		{ "tls://T0KEN@h:4222", "url: \"tls://***@h:4222\"" },
		{ "nats://h:4222/a:b@c", "url: \"nats://h:4222/a:b@c\"" },
		{ "nats://a:pw1@h1:4222, nats://b:pw2@h2:4222,nats://T0KEN@h3",
		  "url: \"nats://a:***@h1:4222, nats://b:***@h2:4222,nats://***@h3\"" },
		{ "postgresql://h/md?user=u&password=pw&sslmode=require",
		  "url: \"postgresql://h/md?user=u&password=***&sslmode=require\"" },
		{ "postgresql://u:pw@h/md?PASSWORD=pw2", "url: \"postgresql://u:***@h/md?PASSWORD=***\"" },
		{ "postgresql://h/md?sslmode=verify-full&sslpassword=kpw&x=1",
		  "url: \"postgresql://h/md?sslmode=verify-full&sslpassword=***&x=1\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tcfg c = { 0 };
		char out[2048];

		assert_int_equal(mdm_cfg_defaults(schema, NS, &c), 0);
		assert_int_equal(mdm_cfg_set(schema, NS, &c, "nats.url", cases[i].in, NULL), 0);
		print_to(&c, out, sizeof(out));
		if (!strstr(out, cases[i].want))
			fail_msg("case %zu: want %s in\n%s", i, cases[i].want, out);
		assert_null(strstr(out, "pw"));
		assert_null(strstr(out, "T0KEN"));
		mdm_cfg_free(schema, NS, &c);
	}
	expect_no_leak();
}

static void test_print_round_trip(void **state)
{
	struct tcfg a = { 0 }, b = { 0 };
	char out[4096];
	const char *path;

	assert_int_equal(mdm_cfg_defaults(schema, NS, &a), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &a, "nats.url", "nats://q\"uote\\d\n:1", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &a, "publish.flush", "7001ns", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &a, "publish.ratio", "0.3333333333333333", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &a, "rx.buffer", "1000", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &a, "rx.offset", "-77", NULL), 0);
	assert_int_equal(mdm_cfg_set(schema, NS, &a, "nats.servers", "x: 1, y", NULL), 0);
	print_to(&a, out, sizeof(out));
	path = fixture("printed.yaml", out);
	assert_int_equal(mdm_cfg_load_file(schema, NS, &b, path), 0);
	assert_string_equal(a.nats_url, b.nats_url);
	assert_int_equal(a.flush_ns, b.flush_ns);
	assert_true(a.ratio == b.ratio);
	assert_int_equal(a.buffer_bytes, b.buffer_bytes);
	assert_int_equal(a.offset, b.offset);
	assert_int_equal(a.max_pending, b.max_pending);
	assert_int_equal(b.servers.n, 2);
	assert_string_equal(b.servers.v[0], "x: 1");
	assert_int_equal(b.rules.node->kind, MDM_YAML_SEQ);
	mdm_cfg_free(schema, NS, &a);
	mdm_cfg_free(schema, NS, &b);
	expect_no_leak();
}

/* ---- schema and default mistakes ---- */

struct bad_cfg {
	int64_t a;
	int64_t b;
};

static void test_schema_errors(void **state)
{
	static const struct mdm_cfg_field dup[] = {
		{ "x.a", MDM_CFG_INT, offsetof(struct bad_cfg, a), NULL, 0, 0, NULL, "" },
		{ "x.a", MDM_CFG_INT, offsetof(struct bad_cfg, b), NULL, 0, 0, NULL, "" },
	};
	static const struct mdm_cfg_field both[] = {
		{ "x", MDM_CFG_INT, offsetof(struct bad_cfg, a), NULL, 0, 0, NULL, "" },
		{ "x.a", MDM_CFG_INT, offsetof(struct bad_cfg, b), NULL, 0, 0, NULL, "" },
	};
	static const struct mdm_cfg_field upper[] = {
		{ "X.a", MDM_CFG_INT, offsetof(struct bad_cfg, a), NULL, 0, 0, NULL, "" },
	};
	static const struct mdm_cfg_field noenum[] = {
		{ "x.e", MDM_CFG_ENUM, offsetof(struct bad_cfg, a), NULL, 0, 0, NULL, "" },
	};
	static const struct mdm_cfg_field baddef[] = {
		{ "x.a", MDM_CFG_INT, offsetof(struct bad_cfg, a), "abc", 0, 0, NULL, "" },
	};
	struct bad_cfg c;

	assert_int_equal(mdm_cfg_defaults(dup, 2, &c), -EINVAL);
	assert_string_equal(mdm_err_last(), "schema: x.a: listed twice");
	assert_int_equal(mdm_cfg_defaults(both, 2, &c), -EINVAL);
	assert_string_equal(mdm_err_last(), "schema: x: both a key and a section (x.a)");
	assert_int_equal(mdm_cfg_defaults(upper, 1, &c), -EINVAL);
	assert_string_equal(mdm_err_last(), "schema: X.a: keys use [a-z0-9_.-]");
	assert_int_equal(mdm_cfg_defaults(noenum, 1, &c), -EINVAL);
	assert_string_equal(mdm_err_last(), "schema: x.e: an enum needs choices");
	assert_int_equal(mdm_cfg_defaults(baddef, 1, &c), -EINVAL);
	assert_string_equal(mdm_err_last(), "default: x.a: 'abc' is not an integer");
}

static void test_allocation_failures(void **state)
{
	const char *path = fixture("oom.yaml", "nats:\n  url: nats://x:1\n  servers: [a, b, c]\n"
					       "rules:\n  - {name: a, match: b}\n");
	struct tcfg c = { 0 };
	int rc = -ENOMEM;
	uint64_t k;

	for (k = 1; k < 500 && rc != 0; k++) {
		mdm_mem_fail_after(k);
		rc = mdm_cfg_load_file(schema, NS, &c, path);
		mdm_mem_fail_reset();
		if (rc != 0) {
			if (rc != -ENOMEM)
				fail_msg("fail_after(%" PRIu64 "): rc %d (%s)", k, rc, mdm_err_last());
			assert_null(c.nats_url);
			assert_null(c.rules.node);
			expect_no_leak();
		}
	}
	assert_int_equal(rc, 0);
	assert_true(k > 10);
	assert_string_equal(c.servers.v[2], "c");
	mdm_cfg_free(schema, NS, &c);

	/* A set that fails for memory keeps the old value. */
	assert_int_equal(mdm_cfg_defaults(schema, NS, &c), 0);
	mdm_mem_fail_after(1);
	rc = mdm_cfg_set(schema, NS, &c, "nats.url", "nats://new:1", "--nats");
	mdm_mem_fail_reset();
	assert_int_equal(rc, -ENOMEM);
	assert_string_equal(mdm_err_last(), "--nats: nats.url: out of memory");
	assert_string_equal(c.nats_url, "nats://127.0.0.1:4222");
	mdm_cfg_free(schema, NS, &c);
	expect_no_leak();
}

static void test_load_string(void **state)
{
	static const char text[] = "publish:\n  max_pending: 7\n";
	struct tcfg c = { 0 };

	assert_int_equal(mdm_cfg_load_string(schema, NS, &c, text, sizeof(text) - 1, "inline"), 0);
	assert_int_equal(c.max_pending, 7);
	mdm_cfg_free(schema, NS, &c);
	assert_int_equal(mdm_cfg_load_string(schema, NS, &c, "x: 1\n", 5, "inline"), -EINVAL);
	assert_string_equal(mdm_err_last(), "inline:1: x: unknown key");
	expect_no_leak();
}

/* The exported number parsers accept exactly the config's spellings, so a
 * command-line option and a config key read the same text the same way. */
static void test_number_parsers(void **state)
{
	static const struct {
		const char *kind, *text;
		int rc;
		uint64_t want;
	} cases[] = {
		{ "uint", "42", 0, 42 },
		{ "uint", " +7 ", 0, 7 },
		{ "uint", "18446744073709551615", 0, UINT64_MAX },
		{ "uint", "18446744073709551616", -ERANGE, 0 },
		{ "uint", "-1", -EINVAL, 0 },
		{ "uint", "12x", -EINVAL, 0 },
		{ "uint", "1e3", -EINVAL, 0 },
		{ "uint", "0x10", -EINVAL, 0 },
		{ "uint", "", -EINVAL, 0 },
		{ "dur", "250", 0, 250 },
		{ "dur", "1.5s", 0, 1500000000 },
		{ "dur", "250ms", 0, 250000000 },
		{ "dur", "2 m", 0, 120000000000ULL },
		{ "dur", "1.5", -EDOM, 0 },
		{ "dur", "5 parsecs", -EINVAL, 0 },
		{ "dur", "-1s", -EINVAL, 0 },
		{ "dur", ".5s", -EINVAL, 0 },
		{ "dur_s", "1.5", 0, 1500000000 },
		{ "dur_s", "3", 0, 3000000000ULL },
		{ "dur_s", "100ms", 0, 100000000 },
		{ "dur_s", "0", 0, 0 },
		{ "dur_s", "0.0000000001", -EDOM, 0 },
		{ "dur_s", "1e3", -EINVAL, 0 },
		{ "dur_s", "inf", -EINVAL, 0 },
		{ "size", "64KiB", 0, 65536 },
		{ "size", "10MB", 0, 10000000 },
		{ "size", "1.5KiB", 0, 1536 },
		{ "size", "1.3B", -EDOM, 0 },
		{ "size", "3 furlongs", -EINVAL, 0 },
		{ "size", "20000000TB", -ERANGE, 0 },
	};
	double d = -1;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int rc;

		if (strcmp(cases[i].kind, "uint") == 0)
			rc = mdm_cfg_parse_uint(cases[i].text, &v);
		else if (strcmp(cases[i].kind, "dur") == 0)
			rc = mdm_cfg_parse_duration(cases[i].text, 1, &v);
		else if (strcmp(cases[i].kind, "dur_s") == 0)
			rc = mdm_cfg_parse_duration(cases[i].text, 1000000000ULL, &v);
		else
			rc = mdm_cfg_parse_size(cases[i].text, &v);
		if (rc != cases[i].rc)
			fail_msg("%s '%s': rc %d, want %d", cases[i].kind, cases[i].text, rc, cases[i].rc);
		assert_int_equal(v, rc == 0 ? cases[i].want : 12345);
	}
	assert_int_equal(mdm_cfg_parse_double("0.25", &d), 0);
	assert_true(d == 0.25);
	assert_int_equal(mdm_cfg_parse_double("1e-400", &d), -ERANGE);
	assert_int_equal(mdm_cfg_parse_double("nan", &d), -EINVAL);
	assert_int_equal(mdm_cfg_parse_double("0.5x", &d), -EINVAL);
	assert_true(d == 0.25);
}

/* The did-you-mean distance: Levenshtein plus adjacent swaps, refusing
 * words past MDM_SUGGEST_LEN_MAX. */
static void test_suggest_distance(void **state)
{
	static const struct {
		const char *a, *b;
		unsigned want;
	} cases[] = {
		{ "url", "url", 0 },   { "ulr", "url", 1 },        { "sahres", "shares", 1 }, { "nats.ur", "nats.url", 1 },
		{ "", "abc", 3 },      { "kitten", "sitting", 3 }, { "ab", "ba", 1 },         { "abc", "ca", 3 },
	};
	char big[MDM_SUGGEST_LEN_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (mdm_suggest_distance(cases[i].a, strlen(cases[i].a), cases[i].b, strlen(cases[i].b)) != cases[i].want)
			fail_msg("'%s' ~ '%s': want %u", cases[i].a, cases[i].b, cases[i].want);
	memset(big, 'a', sizeof(big));
	assert_int_equal(mdm_suggest_distance(big, MDM_SUGGEST_LEN_MAX, big, MDM_SUGGEST_LEN_MAX), 0);
	assert_int_equal(mdm_suggest_distance(big, MDM_SUGGEST_LEN_MAX + 1, "a", 1), UINT_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_print_masks_url_passwords),
		cmocka_unit_test(test_load_every_type),
		cmocka_unit_test(test_values_via_set),
		cmocka_unit_test(test_set_strings_and_lists),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_value_line_is_reported),
		cmocka_unit_test(test_missing_file_and_empty_file),
		cmocka_unit_test(test_env_overrides),
		cmocka_unit_test(test_print_masks_secrets),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_schema_errors),
		cmocka_unit_test(test_allocation_failures),
		cmocka_unit_test(test_load_string),
		cmocka_unit_test(test_number_parsers),
		cmocka_unit_test(test_suggest_distance),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
