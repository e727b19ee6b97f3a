/* mdm_redact: every rule on one table (the cases of the three callers it
 * replaced: bus server URLs, store URLs, --print-config), plus truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mdm_redact.h"

#define M MDM_REDACT_MASK
#define D MDM_REDACT_DROP

static const struct {
	const char *in;
	enum mdm_redact_mode mode;
	const char *want;
} cases[] = {
	/* userinfo, masked */
	{ "postgresql://mdmesh:s3cr3t@127.0.0.1:5432/md", M, "postgresql://mdmesh:***@127.0.0.1:5432/md" },
	{ "nats://bob:pw@h:4222", M, "nats://bob:***@h:4222" },
	{ "postgresql://bob@h/md", M, "postgresql://bob@h/md" },
	{ "nats://T0KEN@h:4222", M, "nats://***@h:4222" },
	{ "tls://T0KEN@h:4222", M, "tls://***@h:4222" },
	{ "NATS://T0KEN@h", M, "NATS://***@h" },
	{ "nats://h:4222/a:b@c", M, "nats://h:4222/a:b@c" },
	{ "nats://a:pw1@h1:4222, nats://b:pw2@h2:4222,nats://T0KEN@h3", M,
	  "nats://a:***@h1:4222, nats://b:***@h2:4222,nats://***@h3" },
	{ "postgresql://u:p@ss@h/db", M, "postgresql://u:***@h/db" },
	/* query parameters */
	{ "postgresql://h/md?user=u&password=pw&sslmode=require", M,
	  "postgresql://h/md?user=u&password=***&sslmode=require" },
	{ "postgresql://u:pw@h/md?PASSWORD=pw2", M, "postgresql://u:***@h/md?PASSWORD=***" },
	{ "postgresql://h/db?sslmode=verify-full&sslpassword=kpw&x=1", M,
	  "postgresql://h/db?sslmode=verify-full&sslpassword=***&x=1" },
	{ "postgresql://u:a@h/db?sslpassword=k&password=b", M, "postgresql://u:***@h/db?sslpassword=***&password=***" },
	{ "postgresql://u@h/db?password=pw&sslmode=require", M, "postgresql://u@h/db?password=***&sslmode=require" },
	{ "postgresql://h/db?passwordless=1", M, "postgresql://h/db?passwordless=1" },
	/* userinfo, dropped (server names in bus messages) */
	{ "nats://alice:pw@127.0.0.1:4222", D, "nats://127.0.0.1:4222" },
	{ "nats://T0KEN@h:4222,tls://u:p@h2:4223", D, "nats://h:4222,tls://h2:4223" },
	{ "nats://h:4222", D, "nats://h:4222" },
	/* nothing to cut */
	{ "/var/lib/mdmesh/md.db", M, "/var/lib/mdmesh/md.db" },
	{ "", M, "" },
	{ "user@example.com", M, "user@example.com" },
};

static void test_table(void **state)
{
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = mdm_redact(cases[i].in, cases[i].mode, out, sizeof(out));

		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: %s -> %s, want %s", i, cases[i].in, out, cases[i].want);
		assert_int_equal(n, strlen(cases[i].want));
		/* measuring gives the same length */
		assert_int_equal(mdm_redact(cases[i].in, cases[i].mode, NULL, 0), n);
	}
}

/* A short buffer holds a terminated prefix of the result, never a secret. */
static void test_truncation(void **state)
{
	const char *in = "nats://bob:s3cr3t@h:4222";
	char out[12];

	(void)state;
	assert_int_equal(mdm_redact(in, M, out, sizeof(out)), strlen("nats://bob:***@h:4222"));
	assert_string_equal(out, "nats://bob:");
	for (size_t cap = 1; cap <= sizeof(out); cap++) {
		memset(out, 'x', sizeof(out));
		mdm_redact(in, M, out, cap);
		assert_int_equal(strlen(out), cap - 1);
		assert_null(strstr(out, "s3c"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
