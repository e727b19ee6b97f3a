/* mdm_subject_token: the one value -> subject token rule (mdm_subject.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mdm_subject.h"

static void test_token_table(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{ "AAPL", 4, "AAPL" },
		{ "", 0, "_" },
		{ "BRK A", 5, "BRK_A" },
		{ "A.B", 3, "A_B" },
		{ "A*", 2, "A_" },
		{ ">", 1, "_" },
		{ "a\tb\r\n", 5, "a_b__" },
		{ "\x80X\xff", 3, "_X_" },   /* bytes >= 0x80: never raw UTF-8 or Latin-1 */
		{ "\x7f~!", 3, "_~!" },      /* DEL is not printable; '~' and '!' are */
		{ "a\0b", 3, "a_b" },        /* an explicit length may hold a NUL */
		{ "_-:/$#", 6, "_-:/$#" },   /* printable ASCII other than . * > stays */
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = mdm_subject_token(out, sizeof(out), cases[i].in, cases[i].len);

		assert_int_equal(n, strlen(cases[i].want));
		assert_string_equal(out, cases[i].want);
	}
	assert_int_equal(mdm_subject_token(out, sizeof(out), NULL, 0), 1);
	assert_string_equal(out, "_");
}

static void test_byte_rule(void **state)
{
	unsigned ok = 0;

	(void)state;
	for (unsigned c = 0; c < 256; c++)
		ok += mdm_subject_byte_ok((unsigned char)c);
	/* 0x21..0x7e is 94 bytes, less '.', '*' and '>' */
	assert_int_equal(ok, 91);
	assert_false(mdm_subject_byte_ok(' '));
	assert_false(mdm_subject_byte_ok(0x80));
	assert_true(mdm_subject_byte_ok('Z'));
}

static void test_truncation(void **state)
{
	char out[4] = "zzz";

	(void)state;
	/* like snprintf: the full length comes back, the buffer holds cap - 1 */
	assert_int_equal(mdm_subject_token(out, sizeof(out), "AB.CD", 5), 5);
	assert_string_equal(out, "AB_");
	assert_int_equal(mdm_subject_token(out, 1, "AB", 2), 2);
	assert_string_equal(out, "");
	memcpy(out, "zzz", 4);
	assert_int_equal(mdm_subject_token(out, 0, "AB", 2), 2);
	assert_string_equal(out, "zzz"); /* cap 0 writes nothing */
	assert_int_equal(mdm_subject_token(out, 2, "", 0), 1);
	assert_string_equal(out, "_");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_table),
		cmocka_unit_test(test_byte_rule),
		cmocka_unit_test(test_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
