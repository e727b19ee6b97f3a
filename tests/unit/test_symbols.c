/* Locate -> symbol map: learnt from R messages, trimmed, unknown counted,
 * unprintable stocks rejected, redefinitions counted, reset per session. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "mdm_mem.h"
#include "symbols.h"

/* A 39-byte Stock Directory message for (locate, stock). */
static void make_r(uint8_t *p, uint16_t locate, const char *stock8)
{
	memset(p, ' ', 39);
	p[0] = 'R';
	p[1] = (uint8_t)(locate >> 8);
	p[2] = (uint8_t)locate;
	memset(p + 3, 0, 8); /* tracking, timestamp */
	memcpy(p + 11, stock8, 8);
	memset(p + 21, 0, 4); /* round_lot_size */
	memset(p + 34, 0, 4); /* etp_leverage_factor */
}

static void test_r_messages_map_locates(void **state)
{
	struct symbols *s;
	struct itch_msg m;
	uint8_t r[39], a[36] = { 'A' };

	assert_int_equal(symbols_create(&s), 0);
	make_r(r, 1, "AAPL    ");
	assert_int_equal(itch_decode(r, sizeof(r), &m), ITCH_OK);
	assert_true(symbols_apply(s, &m));
	make_r(r, 65535, "ZVZZT   ");
	assert_int_equal(itch_decode(r, sizeof(r), &m), ITCH_OK);
	assert_true(symbols_apply(s, &m));
	make_r(r, 0, "ABCDEFGH"); /* all 8 characters used */
	assert_int_equal(itch_decode(r, sizeof(r), &m), ITCH_OK);
	assert_true(symbols_apply(s, &m));

	assert_string_equal(symbols_get(s, 1), "AAPL");
	assert_string_equal(symbols_get(s, 65535), "ZVZZT");
	assert_string_equal(symbols_get(s, 0), "ABCDEFGH");
	assert_int_equal(strlen(symbols_get(s, 0)), SYMBOLS_LEN);
	assert_int_equal(symbols_stats(s)->known, 3);
	assert_int_equal(symbols_stats(s)->set, 3);
	assert_int_equal(symbols_stats(s)->unknown, 0);

	/* Not an R: ignored. */
	a[2] = 2;
	assert_int_equal(itch_decode(a, sizeof(a), &m), ITCH_OK);
	assert_false(symbols_apply(s, &m));
	assert_int_equal(symbols_stats(s)->set, 3);
	symbols_destroy(s);
}

static void test_unknown_locate(void **state)
{
	struct symbols *s;

	assert_int_equal(symbols_create(&s), 0);
	assert_string_equal(symbols_get(s, 42), "");
	assert_string_equal(symbols_get(s, 43), "");
	assert_int_equal(symbols_stats(s)->unknown, 2);
	assert_string_equal(symbols_peek(s, 42), "");
	assert_int_equal(symbols_stats(s)->unknown, 2); /* peek does not count */
	symbols_destroy(s);
}

static void test_redefine_reject_reset(void **state)
{
	struct symbols *s;

	assert_int_equal(symbols_create(&s), 0);
	assert_true(symbols_set(s, 7, (const uint8_t *)"MSFT    "));
	assert_true(symbols_set(s, 7, (const uint8_t *)"MSFT    ")); /* same: not a redefinition */
	assert_int_equal(symbols_stats(s)->redefined, 0);
	assert_true(symbols_set(s, 7, (const uint8_t *)"MSF     ")); /* a prefix is different */
	assert_int_equal(symbols_stats(s)->redefined, 1);
	assert_string_equal(symbols_get(s, 7), "MSF");
	assert_true(symbols_set(s, 7, (const uint8_t *)"MSFTX   "));
	assert_int_equal(symbols_stats(s)->redefined, 2);
	assert_string_equal(symbols_get(s, 7), "MSFTX");
	assert_int_equal(symbols_stats(s)->known, 1);

	/* Empty, control bytes, NUL, space inside, high bytes: rejected, the
	 * old symbol stays. */
	assert_false(symbols_set(s, 7, (const uint8_t *)"        "));
	assert_false(symbols_set(s, 7, (const uint8_t *)"AB\nC    "));
	assert_false(symbols_set(s, 7, (const uint8_t *)"AB\0C    "));
	assert_false(symbols_set(s, 7, (const uint8_t *)"AB C    "));
	assert_false(symbols_set(s, 7, (const uint8_t *)"AB\xC3\xA9    "));
	assert_int_equal(symbols_stats(s)->rejected, 5);
	assert_string_equal(symbols_get(s, 7), "MSFTX");
	assert_false(symbols_set(s, 8, (const uint8_t *)"\x7f       "));
	assert_string_equal(symbols_get(s, 8), "");

	symbols_reset(s);
	assert_int_equal(symbols_stats(s)->known, 0);
	assert_string_equal(symbols_get(s, 7), "");
	assert_int_equal(symbols_stats(s)->set, 4); /* counters survive a reset */
	symbols_destroy(s);
}

static void test_lifecycle(void **state)
{
	struct symbols *s = (struct symbols *)&s;

	symbols_destroy(NULL);
	assert_int_equal(symbols_create(NULL), -EINVAL);
	mdm_mem_fail_after(1);
	assert_int_equal(symbols_create(&s), -ENOMEM);
	mdm_mem_fail_reset();
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r_messages_map_locates),
		cmocka_unit_test(test_unknown_locate),
		cmocka_unit_test(test_redefine_reject_reset),
		cmocka_unit_test(test_lifecycle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
