/* US/Eastern calendar: midnights and dates across both DST switches. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include "mdm_et.h"

#define H 3600000000000ULL

static void test_midnights(void **state)
{
	static const struct {
		uint32_t date;
		uint64_t utc_ns;
	} cases[] = {
		{ 20260105, 1767589200ULL * 1000000000ULL }, /* winter: 05:00 UTC */
		{ 20260707, 1783396800ULL * 1000000000ULL }, /* summer: 04:00 UTC */
		{ 20260308, 1772946000ULL * 1000000000ULL }, /* DST starts 02:00 that day: midnight is EST */
		{ 20260309, 1773028800ULL * 1000000000ULL }, /* first EDT midnight */
		{ 20261101, 1793505600ULL * 1000000000ULL }, /* DST ends 02:00 that day: midnight is EDT */
		{ 20261102, 1793595600ULL * 1000000000ULL }, /* first EST midnight */
		{ 20240229, 1709182800ULL * 1000000000ULL }, /* leap day */
	};
	uint64_t ns;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(mdm_et_midnight_ns(cases[i].date, &ns), 0);
		assert_int_equal(ns, cases[i].utc_ns);
		/* the midnight itself and the last ns before the next one are that date */
		assert_int_equal(mdm_et_date(ns), cases[i].date);
		assert_int_equal(mdm_et_date(ns + 22 * H), cases[i].date); /* the March switch day has 23 h */
		assert_int_not_equal(mdm_et_date(ns - 1), cases[i].date);
	}
	assert_int_equal(mdm_et_midnight_ns(20260230, &ns), -EINVAL);
	assert_int_equal(mdm_et_midnight_ns(20230229, &ns), -EINVAL);
	assert_int_equal(mdm_et_midnight_ns(0, &ns), -EINVAL);
}

static void test_dates_of_instants(void **state)
{
	/* 2026-01-05 14:30 UTC = 09:30 EST; 2026-01-06 03:00 UTC = 22:00 EST on the 5th */
	assert_int_equal(mdm_et_date(1767623400ULL * 1000000000ULL), 20260105);
	assert_int_equal(mdm_et_date(1767668400ULL * 1000000000ULL), 20260105);
	/* 2026-07-07 03:30 UTC = 23:30 EDT on the 6th */
	assert_int_equal(mdm_et_date(1783395000ULL * 1000000000ULL), 20260706);
	/* 2026-11-01 05:30 UTC = 01:30 EDT (before the switch) on the 1st */
	assert_int_equal(mdm_et_date(1793511000ULL * 1000000000ULL), 20261101);
	assert_int_equal(mdm_et_date(0), 19691231);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_midnights),
		cmocka_unit_test(test_dates_of_instants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
