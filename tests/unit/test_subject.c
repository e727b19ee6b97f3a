#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "subject.h"

static void test_event_subjects(void **state)
{
	static const struct {
		char type;
		const char *symbol, *want;
	} cases[] = {
		{ 'A', "AAPL", "md.itch.A.AAPL" },
		{ 'h', "ZVZZT", "md.itch.h.ZVZZT" },
		{ 'S', "", "md.itch.S._" },
		{ 'R', "BRK A", "md.itch.R.BRK_A" },
		{ 'Q', "A.B*>C", "md.itch.Q.A_B__C" },
		{ 'A', "\x80X\xff\x7f", "md.itch.A._X__" },
	};
	char out[SUBJECT_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = subject_event(out, sizeof(out), "md", "itch", cases[i].type, cases[i].symbol);

		assert_int_equal(n, strlen(cases[i].want));
		assert_string_equal(out, cases[i].want);
	}
	assert_int_equal(subject_event(out, 10, "md", "itch", 'A', "AAPL"), -ENOSPC);
	assert_int_equal(subject_event(out, 15, "md", "itch", 'A', "AAPL"), 14);
	assert_int_equal(subject_event(out, 14, "md", "itch", 'A', "AAPL"), -ENOSPC);
}

static void test_msg_ids(void **state)
{
	char out[MSGID_MAX];

	assert_int_equal(subject_msg_id(out, sizeof(out), "itch", "MDMESH0001", 1), 17);
	assert_string_equal(out, "itch.MDMESH0001.1");
	assert_int_equal(subject_msg_id(out, sizeof(out), "itch", "S", 18446744073709551615ULL), 27);
	assert_string_equal(out, "itch.S.18446744073709551615");
	assert_int_equal(subject_msg_id(out, sizeof(out), "f", "s", 0), 5);
	assert_string_equal(out, "f.s.0");
	assert_int_equal(subject_msg_id(out, 6, "f", "s", 10), -ENOSPC);
	assert_int_equal(subject_msg_id(out, 7, "f", "s", 10), 6);
}

/* Market views: bbo.<feed>.<symbol>, Msg-Id <feed>.<session>.<seq>.<kind>[.<locate>]. */
static void test_view_names(void **state)
{
	char out[MSGID_MAX], big[SUBJECT_MAX];

	(void)state;
	assert_int_equal(subject_view(big, sizeof(big), "bbo", "itch", "BRK A"), 14);
	assert_string_equal(big, "bbo.itch.BRK_A");
	assert_true(subject_view(big, sizeof(big), "depth", "itch", "") > 0);
	assert_string_equal(big, "depth.itch._");
	assert_true(subject_view_msg_id(out, sizeof(out), "itch", "S1", 42, "bbo", -1) > 0);
	assert_string_equal(out, "itch.S1.42.bbo");
	assert_true(subject_view_msg_id(out, sizeof(out), "itch", "S1", 42, "depth", 65535) > 0);
	assert_string_equal(out, "itch.S1.42.depth.65535");
	/* the longest: a 32-byte feed, 10-byte session, 20 digits, kind, locate */
	assert_true(subject_view_msg_id(out, sizeof(out), "ffffffffffffffffffffffffffffffff", "SSSSSSSSSS",
					UINT64_MAX, "depth", 65535) > 0);
	assert_int_equal(subject_view_msg_id(out, 18, "itch", "S1", 42, "depth", 7), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_subjects),
		cmocka_unit_test(test_msg_ids),
		cmocka_unit_test(test_view_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
