/* mdm_bus_cfg: the NATS settings as the daemons and tools read them (file,
 * environment), what they become in mdm_bus_params, and the hints that name
 * the settings to check when a server refuses them. No server needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "mdm_bus_cfg.h"
#include "mdm_err.h"

struct dcfg {
	char *instance;
	struct mdm_nats_cfg nats;
};

static const struct mdm_cfg_field schema[] = {
	{ "instance", MDM_CFG_STR, offsetof(struct dcfg, instance), "x", 0, 0, NULL, "name" },
	MDM_NATS_CFG_SCHEMA(struct dcfg, nats),
};
#define NS (sizeof(schema) / sizeof(schema[0]))

static const char *const env_names[] = {
	"MDM_NATS_URL",     "MDM_NATS_USER",   "MDM_NATS_PASSWORD", "MDM_NATS_TOKEN",        "MDM_NATS_NKEY_SEED",
	"MDM_NATS_CREDS",   "MDM_NATS_TLS_CA", "MDM_NATS_TLS_CERT", "MDM_NATS_TLS_KEY",     "MDM_NATS_INBOX_PREFIX",
	"MDM_NATS_WRITE_DEADLINE",
};

static int clear_env(void **state)
{
	for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		unsetenv(env_names[i]);
	return 0;
}

static void load(struct dcfg *c, const char *yaml)
{
	memset(c, 0, sizeof(*c));
	if (mdm_cfg_load_string(schema, NS, c, yaml, strlen(yaml), "t.yaml") != 0)
		fail_msg("load: %s", mdm_err_last());
}

/* Each kind of credentials reaches its params field, and the hint names the
 * settings (and environment variable) that hold it. */
static void test_apply_credentials(void **state)
{
	static const struct {
		const char *yaml, *hint;
		const char *user, *password, *token, *seed, *creds;
	} cases[] = {
		{ "nats: {user: collector, password: pw}", "check nats.user and nats.password / MDM_NATS_PASSWORD",
		  "collector", "pw", NULL, NULL, NULL },
		{ "nats: {token: tk}", "check nats.token / MDM_NATS_TOKEN", NULL, NULL, "tk", NULL, NULL },
		{ "nats: {nkey_seed: /etc/p.nk}", "check nats.nkey_seed: its public key must be a user of the server",
		  NULL, NULL, NULL, "/etc/p.nk", NULL },
		{ "nats: {creds: /etc/u.creds}", "check nats.creds", NULL, NULL, NULL, NULL, "/etc/u.creds" },
		{ "nats: {url: 'nats://u:pw@h:4222'}", "check the user:password in nats.url", NULL, NULL, NULL, NULL,
		  NULL },
		{ "nats: {user: ''}",
		  "the server wants nats.user + MDM_NATS_PASSWORD, nats.token, nats.nkey_seed or nats.creds", NULL, NULL,
		  NULL, NULL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dcfg c;
		struct mdm_bus_params p;

		load(&c, cases[i].yaml);
		mdm_bus_params_init(&p);
		mdm_nats_cfg_apply(&c.nats, &p);
		assert_string_equal(p.auth_hint, cases[i].hint);
#define SAME(field, want)                                    \
	do {                                                 \
		if (want)                                    \
			assert_string_equal(p.field, want);  \
		else                                         \
			assert_null(p.field);                \
	} while (0)
		SAME(user, cases[i].user);
		SAME(password, cases[i].password);
		SAME(token, cases[i].token);
		SAME(nkey_seed_file, cases[i].seed);
		SAME(creds_file, cases[i].creds);
#undef SAME
		assert_null(p.nkey_public); /* derived from the seed file at connect */
		assert_null(p.tls_ca);
		assert_null(p.inbox_prefix);
		mdm_cfg_free(schema, NS, &c);
	}
}

static void test_apply_tls_and_inbox(void **state)
{
	struct dcfg c;
	struct mdm_bus_params p;

	load(&c, "nats: {url: 'tls://h:4222'}");
	mdm_bus_params_init(&p);
	mdm_nats_cfg_apply(&c.nats, &p);
	assert_string_equal(p.urls, "tls://h:4222");
	assert_string_equal(p.tls_hint, "set nats.tls_ca to the CA that signed the server's certificate");
	mdm_cfg_free(schema, NS, &c);

	load(&c, "nats: {tls_ca: ca.pem, inbox_prefix: _INBOX_collector}");
	mdm_bus_params_init(&p);
	mdm_nats_cfg_apply(&c.nats, &p);
	assert_string_equal(p.tls_ca, "ca.pem");
	assert_null(p.tls_cert);
	assert_string_equal(p.inbox_prefix, "_INBOX_collector");
	assert_string_equal(p.tls_hint, "check nats.tls_ca, and nats.tls_cert + nats.tls_key if the server verifies clients");
	mdm_cfg_free(schema, NS, &c);

	load(&c, "nats: {tls_ca: ca.pem, tls_cert: c.pem, tls_key: c.key}");
	mdm_bus_params_init(&p);
	mdm_nats_cfg_apply(&c.nats, &p);
	assert_string_equal(p.tls_cert, "c.pem");
	assert_string_equal(p.tls_key, "c.key");
	assert_string_equal(p.tls_hint, "check nats.tls_ca, nats.tls_cert and nats.tls_key");
	mdm_cfg_free(schema, NS, &c);
}

/* nats.write_deadline: 2 s by default; 0 = none (-1 in the params, whose 0
 * would be the default); a part of a millisecond rounds up, not to none. */
static void test_apply_write_deadline(void **state)
{
	static const struct {
		const char *yaml;
		int64_t ms;
	} cases[] = {
		{ "", 2000 },
		{ "nats: {write_deadline: 500ms}", 500 },
		{ "nats: {write_deadline: 0}", -1 },
		{ "nats: {write_deadline: 250us}", 1 },
		{ "nats: {write_deadline: 1m}", 60000 },
	};
	struct dcfg c;
	struct mdm_bus_params p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(&c, cases[i].yaml);
		mdm_bus_params_init(&p);
		mdm_nats_cfg_apply(&c.nats, &p);
		assert_int_equal(p.write_deadline_ms, cases[i].ms);
		mdm_cfg_free(schema, NS, &c);
	}
	setenv("MDM_NATS_WRITE_DEADLINE", "3s", 1);
	load(&c, "nats: {write_deadline: 1s}");
	mdm_bus_params_init(&p);
	mdm_nats_cfg_apply(&c.nats, &p);
	assert_int_equal(p.write_deadline_ms, 3000);
	mdm_cfg_free(schema, NS, &c);
	clear_env(NULL);
	memset(&c, 0, sizeof(c));
	assert_int_not_equal(mdm_cfg_load_string(schema, NS, &c, "nats: {write_deadline: 11m}",
						 strlen("nats: {write_deadline: 11m}"), "t.yaml"), 0);
	assert_non_null(strstr(mdm_err_last(), "nats.write_deadline"));
	mdm_cfg_free(schema, NS, &c);
}

/* The environment overrides the file: the password need never be written down. */
static void test_env_overrides_file(void **state)
{
	struct dcfg c;
	struct mdm_bus_params p;

	setenv("MDM_NATS_PASSWORD", "from-env", 1);
	setenv("MDM_NATS_NKEY_SEED", "/run/secrets/p.nk", 1);
	load(&c, "nats:\n  user: collector\n  password: from-file\n");
	assert_string_equal(c.nats.password, "from-env");
	assert_string_equal(c.nats.nkey_seed, "/run/secrets/p.nk");
	mdm_bus_params_init(&p);
	mdm_nats_cfg_apply(&c.nats, &p);
	assert_string_equal(p.password, "from-env");
	mdm_cfg_free(schema, NS, &c);
	clear_env(NULL);
}

/* Tools: defaults, the environment, then --nats. */
static void test_load_env(void **state)
{
	struct mdm_nats_cfg c = { 0 };

	assert_int_equal(mdm_nats_cfg_load_env(&c, NULL), 0);
	assert_string_equal(c.url, "nats://127.0.0.1:4222");
	assert_true(!c.user || !*c.user);
	mdm_nats_cfg_free(&c);

	setenv("MDM_NATS_URL", "nats://env:4222", 1);
	setenv("MDM_NATS_USER", "admin", 1);
	setenv("MDM_NATS_PASSWORD", "pw", 1);
	setenv("MDM_NATS_TLS_CA", "/etc/ca.pem", 1);
	assert_int_equal(mdm_nats_cfg_load_env(&c, NULL), 0);
	assert_string_equal(c.url, "nats://env:4222");
	assert_string_equal(c.user, "admin");
	assert_string_equal(c.password, "pw");
	assert_string_equal(c.tls_ca, "/etc/ca.pem");
	mdm_nats_cfg_free(&c);
	assert_null(c.user);

	assert_int_equal(mdm_nats_cfg_load_env(&c, "nats://flag:4222"), 0);
	assert_string_equal(c.url, "nats://flag:4222");
	assert_string_equal(c.user, "admin");
	mdm_nats_cfg_free(&c);
	clear_env(NULL);
}

/* --print-config of a daemon: secrets as ***, file paths as they are. */
static void test_print_hides_secrets(void **state)
{
	struct dcfg c;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	load(&c, "nats: {user: u, password: pw-123, token: tok-456, nkey_seed: /etc/p.nk, "
		 "url: 'nats://a:pw-789@h1,nats://b:pw-000@h2'}");
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(mdm_cfg_print(schema, NS, &c, f), 0);
	fclose(f);
	assert_null(strstr(out, "pw-"));
	assert_null(strstr(out, "tok-456"));
	assert_non_null(strstr(out, "password: \"***\""));
	assert_non_null(strstr(out, "nkey_seed: \"/etc/p.nk\""));
	free(out);
	mdm_cfg_free(schema, NS, &c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_apply_credentials, clear_env),
		cmocka_unit_test_setup(test_apply_tls_and_inbox, clear_env),
		cmocka_unit_test_setup(test_apply_write_deadline, clear_env),
		cmocka_unit_test_setup(test_env_overrides_file, clear_env),
		cmocka_unit_test_setup(test_load_env, clear_env),
		cmocka_unit_test_setup(test_print_hides_secrets, clear_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
