/* fix_exec: which reports are executions, the fields, the trader, subject
 * and Msg-Id, and the refusals, one table row each. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fix_exec.h"
#include "fix_testmsg.h"

#define H "35=8|49=BRK|56=US|34=9|52=20240102-13:30:00.5|"
#define FILL "17=E9|37=O1|11=C1|1=ACC7|55=AAPL|54=1|32=100|31=187.125|14=100|151=0|6=187.125|15=USD|60=20240102-13:29:59.25|30=XNAS|"

static const struct {
	const char *begin, *body;
	int rc;            /* kind, or -reason */
	uint32_t bad_tag;
	const char *trader, *exec_type, *subject;
	int64_t last_px, last_qty;
} cases[] = {
	{ "FIX.4.4", H "150=F|39=2|" FILL "453=2|448=DESK|452=11|448=alice.b|452=12|", FIX_EXEC_TRADE, 0, "alice.b", "F",
	  "exec.dc1.alice_b.AAPL", 18712500000, 10000000000 },
	{ "FIX.4.4", H "150=F|" FILL, FIX_EXEC_TRADE, 0, "ACC7", "F", "exec.dc1.ACC7.AAPL", 18712500000, 10000000000 },
	{ "FIX.4.4", H "150=G|19=E1|" FILL, FIX_EXEC_CORRECT, 0, "ACC7", "G", NULL, 0, 0 },
	{ "FIX.4.4", H "150=H|" FILL, -FIX_R_MISSING_TAG, 19, NULL, NULL, NULL, 0, 0 },
	{ "FIX.4.4", H "150=0|17=E0|", FIX_EXEC_OTHER, 0, NULL, NULL, NULL, 0, 0 },
	{ "FIX.4.4", H "150=F|17=E|55=X|54=1|32=1|", -FIX_R_MISSING_TAG, 31, NULL, NULL, NULL, 0, 0 },
	{ "FIX.4.4", H "150=F|17=E|55=X|54=1|32=1|31=1.000000001|", -FIX_R_BAD_PRICE, 31, NULL, NULL, NULL, 0, 0 },
	{ "FIX.4.4", H "150=F|17=E|55=X|54=1|32=1|31=abc|", -FIX_R_BAD_VALUE, 31, NULL, NULL, NULL, 0, 0 },
	{ "FIX.4.2", H "150=2|20=0|" FILL "50=bob|", FIX_EXEC_TRADE, 0, "bob", "F", "exec.dc1.bob.AAPL", 18712500000,
	  10000000000 },
	{ "FIX.4.2", H "150=1|20=2|19=E1|" FILL, FIX_EXEC_CORRECT, 0, "ACC7", "G", NULL, 0, 0 },
	{ "FIX.4.2", H "150=2|20=1|19=E1|" FILL, FIX_EXEC_CANCEL, 0, "ACC7", "H", NULL, 0, 0 },
	{ "FIX.4.2", H "150=0|20=0|", FIX_EXEC_OTHER, 0, NULL, NULL, NULL, 0, 0 },
};

static void test_decode_table(void **state)
{
	static struct fix_exec e;
	struct fix_trader_from from[3];
	char m[2048], subj[256], id[256];

	(void)state;
	assert_int_equal(fix_trader_from_parse("party:12", &from[0]), 0);
	assert_int_equal(fix_trader_from_parse("sender_sub_id", &from[1]), 0);
	assert_int_equal(fix_trader_from_parse("account", &from[2]), 0);
	assert_int_equal(fix_trader_from_parse("party:x", &from[2]), -EINVAL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fix_exec_params p = { .feed = "dc1", .session = "US-BRK", .fix42 = strcmp(cases[i].begin, "FIX.4.2") == 0,
					     .from = from, .n_from = 3, .subject_prefix = "exec" };
		size_t n = fix_testmsg(m, sizeof(m), cases[i].begin, cases[i].body);
		struct fix_msg fm;
		int rc;

		print_message("case %zu\n", i);
		assert_int_equal(fix_parse(&fm, m, n), 0);
		rc = fix_exec_decode(&e, &fm, 9, 123, &p);
		assert_int_equal(rc, cases[i].rc);
		if (rc < 0) {
			assert_int_equal(fm.bad_tag, cases[i].bad_tag);
			continue;
		}
		if (!cases[i].trader)
			continue;
		assert_string_equal(e.pb.trader, cases[i].trader);
		assert_string_equal(e.pb.exec_type, cases[i].exec_type);
		assert_int_equal(e.pb.header->seq, 9);
		assert_int_equal(e.pb.header->rx_ts_ns, 123);
		if (cases[i].subject) {
			assert_int_equal(fix_exec_subject(&e, &p, subj, sizeof(subj)), (int)strlen(cases[i].subject));
			assert_string_equal(subj, cases[i].subject);
			assert_int_equal(e.pb.last_px, cases[i].last_px);
			assert_int_equal(e.pb.last_qty, cases[i].last_qty);
			assert_int_equal(e.pb.transact_time_ns, 1704202199250000000ULL);
			assert_int_equal(e.pb.header->wire_ts_ns, 1704202200500000000ULL);
			assert_string_equal(e.pb.last_mkt, "XNAS");
		}
		assert_true(fix_exec_msg_id(&e, &p, id, sizeof(id)) > 0);
		assert_string_equal(id, "fix.dc1.E9");
		assert_int_equal(fix_exec_msg_id(&e, &p, id, 5), -ENOSPC);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_decode_table) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
