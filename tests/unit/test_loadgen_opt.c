/* mdmesh-loadgen's option values are spelled as in config files: the same
 * accepted and refused spellings, the option's own bounds, and a plain
 * duration counting seconds. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "loadgen_opt.h"

static void test_uint(void **state)
{
	static const struct {
		const char *text;
		int rc;
		uint64_t want;
	} cases[] = {
		{ "1000", 0, 1000 }, { "+5", 0, 5 }, { " 7 ", 0, 7 }, { "0", -1, 0 },      /* below min 1 */
		{ "1000000001", -1, 0 },                                                   /* above max */
		{ "12x", -1, 0 },   { "-1", -1, 0 }, { "1e3", -1, 0 }, { "0x10", -1, 0 }, { "", -1, 0 },
		{ "99999999999999999999", -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 777;

		if (loadgen_opt_uint("t", "rate", cases[i].text, 1, 1000000000, &v) != cases[i].rc)
			fail_msg("'%s': want rc %d", cases[i].text, cases[i].rc);
		assert_int_equal(v, cases[i].rc == 0 ? cases[i].want : 777);
	}
}

static void test_secs(void **state)
{
	static const struct {
		const char *text;
		int zero_ok, rc;
		uint64_t want_ns;
	} cases[] = {
		{ "2", 0, 0, 2000000000ULL },
		{ "1.5", 0, 0, 1500000000ULL },
		{ "0.1", 0, 0, 100000000ULL },
		{ "250ms", 0, 0, 250000000ULL },
		{ "2m", 0, 0, 120000000000ULL },
		{ "1000000", 0, 0, 1000000ULL * 1000000000ULL },
		{ "0", 1, 0, 0 },
		{ "0s", 1, 0, 0 },
		{ "0", 0, -1, 0 },          /* zero refused unless zero_ok */
		{ "1000001", 0, -1, 0 },    /* above 1000000 s */
		{ "0.0000000001", 0, -1, 0 }, /* not a whole ns */
		{ "1e3", 0, -1, 0 },        /* strtod spellings are not durations */
		{ ".5", 0, -1, 0 },
		{ "-1", 1, -1, 0 },
		{ "inf", 0, -1, 0 },
		{ "5 parsecs", 0, -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 777;

		if (loadgen_opt_secs("t", "duration", cases[i].text, cases[i].zero_ok, &v) != cases[i].rc)
			fail_msg("'%s': want rc %d", cases[i].text, cases[i].rc);
		assert_int_equal(v, cases[i].rc == 0 ? cases[i].want_ns : 777);
	}
}

static void test_fraction_and_addr(void **state)
{
	struct sockaddr_in sa;
	double d = -1;

	(void)state;
	assert_int_equal(loadgen_opt_fraction("t", "loss", "0.25", &d), 0);
	assert_true(d == 0.25);
	assert_int_equal(loadgen_opt_fraction("t", "loss", "1", &d), 0);
	assert_true(d == 1);
	assert_int_equal(loadgen_opt_fraction("t", "loss", "1.01", &d), -1);
	assert_int_equal(loadgen_opt_fraction("t", "loss", "nan", &d), -1);
	assert_int_equal(loadgen_opt_fraction("t", "loss", "0.5x", &d), -1);
	assert_true(d == 1);
	assert_int_equal(loadgen_opt_addr("t", "dst", "233.54.12.111:26477", &sa), 0);
	assert_int_equal(ntohs(sa.sin_port), 26477);
	assert_int_equal(loadgen_opt_addr("t", "dst", "300.1.1.1:5", &sa), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_secs),
		cmocka_unit_test(test_fraction_and_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
