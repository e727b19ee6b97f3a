/* mdm_cmd_main: the named command runs with its own argv, the global options
 * answer 0, anything else is a usage error (2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mdm_cmd.h"

static int last_argc;
static const char *last_argv0, *last_argv1;

static int run_a(int argc, char **argv)
{
	last_argc = argc;
	last_argv0 = argv[0];
	last_argv1 = argc > 1 ? argv[1] : NULL;
	return 7;
}

static int run_b(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 1;
}

static const struct mdm_cmd cmds[] = { { "alpha", run_a, "first" }, { "beta", run_b, "second" } };
static const struct mdm_cmd_table table = { "t", "a test table", cmds, 2 };

static int call(int argc, const char *const *args)
{
	char *argv[8];

	for (int i = 0; i < argc; i++)
		argv[i] = (char *)args[i];
	return mdm_cmd_main(&table, argc, argv);
}

static void test_dispatch(void **state)
{
	(void)state;
	assert_int_equal(call(3, (const char *const[]){ "t", "alpha", "--x" }), 7);
	assert_int_equal(last_argc, 2);
	assert_string_equal(last_argv0, "alpha");
	assert_string_equal(last_argv1, "--x");
	assert_int_equal(call(2, (const char *const[]){ "t", "beta" }), 1);
}

static void test_global_and_unknown(void **state)
{
	FILE *saved_out = stdout, *saved_err = stderr;

	(void)state;
	/* the usage and error lines are not this test's business */
	stdout = stderr = fopen("/dev/null", "w");
	assert_non_null(stdout);
	last_argc = 0;
	assert_int_equal(call(1, (const char *const[]){ "t" }), 2);
	assert_int_equal(call(2, (const char *const[]){ "t", "--help" }), 0);
	assert_int_equal(call(2, (const char *const[]){ "t", "help" }), 0);
	assert_int_equal(call(2, (const char *const[]){ "t", "--version" }), 0);
	assert_int_equal(call(2, (const char *const[]){ "t", "gamma" }), 2);
	assert_int_equal(call(2, (const char *const[]){ "t", "--alpha" }), 2);
	assert_int_equal(call(2, (const char *const[]){ "t", "alph" }), 2);
	fclose(stdout);
	stdout = saved_out;
	stderr = saved_err;
	assert_int_equal(last_argc, 0); /* no command ran */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_global_and_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
