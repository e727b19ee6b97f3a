/* fix_msg: framing, parsing, the Parties group and the value parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fix_msg.h"
#include "fix_testmsg.h"
#include "fix_write.h"

#define HDR "35=8|49=BRK|56=US|34=7|52=20240102-13:30:00.123|"

static void test_frame_ok_and_partial(void **state)
{
	char m[512];
	size_t n = fix_testmsg(m, sizeof(m), "FIX.4.4", HDR "17=E1|");

	(void)state;
	assert_int_equal(fix_frame(m, n, 8192), (int)n);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(fix_frame(m, k, 8192), 0); /* every prefix asks for more */
}

static void test_frame_errors(void **state)
{
	static const struct {
		const char *text; /* '|' = SOH, checked as it is (no checksum fix-up) */
		int want;
	} cases[] = {
		{ "GARBAGE", -FIX_R_GARBAGE },
		{ "8=FIX.4.4|9=x|35=0|10=000|", -FIX_R_BAD_BODY_LENGTH },
		{ "8=FIX.4.4|7=5|35=0|10=000|", -FIX_R_BAD_BODY_LENGTH },
		{ "8=FIX.4.4|9=3|35=0|10=000|", -FIX_R_BAD_BODY_LENGTH }, /* 10= not where 9= says */
		{ "8=FIX.4.4|9=5|35=0|10=000|", -FIX_R_BAD_CHECKSUM },
		{ "8=FIX.4.4|9=99999|35=0|", -FIX_R_OVERSIZED },
	};
	char b[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].text);

		for (size_t k = 0; k < n; k++)
			b[k] = cases[i].text[k] == '|' ? '\001' : cases[i].text[k];
		assert_int_equal(fix_frame(b, n, 4096), cases[i].want);
	}
}

static void test_resync(void **state)
{
	const char buf[] = "xx8=FIyy8=FIX.4.4";

	(void)state;
	assert_int_equal(fix_resync(buf, strlen(buf), 0), 8);
	assert_int_equal(fix_resync(buf, strlen(buf), 9), strlen(buf));
	assert_int_equal(fix_resync("ab8=F", 5, 0), 2); /* a possible start at the end is kept */
}

static void test_parse_fields_and_parties(void **state)
{
	char m[512];
	size_t n = fix_testmsg(m, sizeof(m), "FIX.4.4",
			       HDR "17=E1|453=2|448=ALICE|447=D|452=12|448=DESK|452=11|55=AAPL|31=101.25|");
	struct fix_msg fm;

	(void)state;
	assert_int_equal(fix_parse(&fm, m, n), 0);
	assert_true(fix_view_eq(fm.f[FIX_F_MSG_TYPE], "8"));
	assert_true(fix_view_eq(fm.f[FIX_F_EXEC_ID], "E1"));
	assert_true(fix_view_eq(fm.f[FIX_F_SYMBOL], "AAPL"));
	assert_int_equal(fm.n_parties, 2);
	assert_true(fix_view_eq(fm.parties[0].id, "ALICE"));
	assert_true(fix_view_eq(fm.parties[0].role, "12"));
	assert_true(fix_view_eq(fm.parties[1].id, "DESK"));
	assert_true(fix_view_eq(fm.parties[1].role, "11"));
	assert_true(fm.f[FIX_F_SYMBOL].p > m && fm.f[FIX_F_SYMBOL].p < m + n); /* a view into the buffer */
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *body;
		int want;
		uint32_t tag;
	} cases[] = {
		{ HDR "17=E1|17=E2|", -FIX_R_DUPLICATE_TAG, 17 },
		{ HDR "453=2|448=A|452=12|55=X|", -FIX_R_BAD_GROUP, 453 },
		{ HDR "453=1|448=A|448=B|", -FIX_R_BAD_GROUP, 453 },
		{ HDR "453=1|452=12|", -FIX_R_BAD_GROUP, 453 },
		{ HDR "17=|", -FIX_R_BAD_FIELD, 17 },
		{ HDR "x=1|", -FIX_R_BAD_FIELD, 0 },
		{ "35=8|56=US|34=7|52=20240102-13:30:00|", -FIX_R_MISSING_TAG, 49 },
		{ "35=8|49=B|56=US|52=20240102-13:30:00|", -FIX_R_MISSING_TAG, 34 },
		{ "49=B|35=8|", -FIX_R_BAD_FIELD, 35 },
	};
	char m[512];
	struct fix_msg fm;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = fix_testmsg(m, sizeof(m), "FIX.4.4", cases[i].body);

		assert_int_equal(fix_frame(m, n, 8192), (int)n);
		assert_int_equal(fix_parse(&fm, m, n), cases[i].want);
		assert_int_equal(fm.bad_tag, cases[i].tag);
	}
}

static void test_dec8(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t v;
	} cases[] = {
		{ "100", 0, 10000000000 },      { "101.25", 0, 10125000000 }, { "-0.5", 0, -50000000 },
		{ ".00000001", 0, 1 },          { "1.123456780", 0, 112345678 }, { "1.123456789", -ERANGE, 0 },
		{ "92233720368.54775807", 0, INT64_MAX }, { "92233720369", -ERANGE, 0 }, { "1e5", -EINVAL, 0 },
		{ "", -EINVAL, 0 },             { ".", -EINVAL, 0 },          { "1.2.3", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v = 0;
		struct fix_view w = { cases[i].s, (uint32_t)strlen(cases[i].s) };

		assert_int_equal(fix_view_dec8(w, &v), cases[i].rc);
		if (cases[i].rc == 0) {
			char back[32];

			assert_int_equal(v, cases[i].v);
			fix_dec8_format(v, back); /* and back: the shortest exact text */
			w = (struct fix_view){ back, (uint32_t)strlen(back) };
			assert_int_equal(fix_view_dec8(w, &v), 0);
			assert_int_equal(v, cases[i].v);
		}
	}
}

static void test_utc(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t ns;
	} cases[] = {
		{ "19700101-00:00:00", 0, 0 },
		{ "20240102-13:30:00.123", 0, 1704202200123000000ULL },
		{ "20240229-23:59:59.999999999", 0, 1709251199999999999ULL },
		{ "20240102-13:30:00.", -EINVAL, 0 },
		{ "20241302-13:30:00", -EINVAL, 0 },
		{ "2024010213:30:00.1", -EINVAL, 0 },
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 0;
		struct fix_view w = { cases[i].s, (uint32_t)strlen(cases[i].s) };

		assert_int_equal(fix_view_utc_ns(w, &ns), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(ns, cases[i].ns);
	}
	fix_utc_format(1704202200123000000ULL, out);
	assert_string_equal(out, "20240102-13:30:00.123");
}

static void test_writer_roundtrip(void **state)
{
	char buf[256];
	struct fix_write w;
	struct fix_msg fm;
	const char *p;
	size_t len;

	(void)state;
	fix_write_begin(&w, buf, sizeof(buf), "8");
	fix_write_str(&w, 49, "BRK");
	fix_write_str(&w, 56, "US");
	fix_write_u64(&w, 34, 42);
	fix_write_utc(&w, 52, 1704202200123000000ULL);
	fix_write_dec8(&w, 31, 10125000000);
	assert_int_equal(fix_write_end(&w, "FIX.4.2", &p, &len), 0);
	assert_int_equal(fix_frame(p, len, 8192), (int)len);
	assert_int_equal(fix_parse(&fm, p, len), 0);
	assert_true(fix_view_eq(fm.f[FIX_F_BEGIN_STRING], "FIX.4.2"));
	assert_true(fix_view_eq(fm.f[FIX_F_LAST_PX], "101.25"));
	assert_true(fix_view_eq(fm.f[FIX_F_MSG_SEQ_NUM], "42"));
	fix_write_begin(&w, buf, 48, "8"); /* too small: refused, never overrun */
	fix_write_str(&w, 58, "a long text that does not fit in the buffer at all");
	assert_int_equal(fix_write_end(&w, "FIX.4.4", &p, &len), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_ok_and_partial), cmocka_unit_test(test_frame_errors),
		cmocka_unit_test(test_resync),              cmocka_unit_test(test_parse_fields_and_parties),
		cmocka_unit_test(test_parse_errors),        cmocka_unit_test(test_dec8),
		cmocka_unit_test(test_utc),                 cmocka_unit_test(test_writer_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
