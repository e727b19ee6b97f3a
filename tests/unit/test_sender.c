/* The send schedule (slot offsets, burst segment boundaries, slot counts),
 * the Eastern-time conversion across EST/EDT and midnights, and the
 * MoldUDP64 stamping walk on well-formed and malformed datagrams. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sender.h"

#define MS 1000000ull
#define S 1000000000ull

static void test_sched_constant(void **state)
{
	struct sender_sched_params p = { .rate = 3 };
	struct sender_sched s;

	(void)state;
	sender_sched_init(&s, &p);
	assert_int_equal(sender_sched_at(&s, 0), 0);
	assert_int_equal(sender_sched_at(&s, 1), 333333333);
	assert_int_equal(sender_sched_at(&s, 2), 666666666);
	assert_int_equal(sender_sched_at(&s, 3), S);
	assert_int_equal(sender_sched_at(&s, 3000000000ull), 1000000000ull * S);
	assert_int_equal(sender_sched_count(&p, 0), 0);
	assert_int_equal(sender_sched_count(&p, S), 3);
	assert_int_equal(sender_sched_count(&p, S + 1), 4);
	assert_int_equal(sender_sched_count(&(struct sender_sched_params){ .rate = 20000 }, 2 * S), 40000);
}

/* 10/s with 0.1 s at 100/s every second: [0,1) 10 slots, [1,1.1) 10, [1.1,2) 9, [2,2.1) 10 ... */
static void test_sched_bursts(void **state)
{
	static const struct { uint64_t k, off; } cases[] = {
		{ 0, 0 }, { 9, 900 * MS }, { 10, 1000 * MS }, { 11, 1010 * MS }, { 19, 1090 * MS },
		{ 20, 1100 * MS }, { 28, 1900 * MS }, { 29, 2000 * MS }, { 39, 2100 * MS },
	};
	struct sender_sched_params p = { .rate = 10, .burst_rate = 100, .burst_every_ns = S, .burst_length_ns = 100 * MS };
	struct sender_sched s;

	(void)state;
	sender_sched_init(&s, &p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(sender_sched_at(&s, cases[i].k), cases[i].off);
	assert_int_equal(sender_sched_count(&p, 1050 * MS), 15);
	assert_int_equal(sender_sched_count(&p, 2 * S), 29);
	assert_int_equal(sender_sched_count(&p, 2 * S + 1), 30);
}

/* Property: offsets strictly increase and count() inverts at(), across many
 * segments and rates that do not divide a second evenly. */
static void test_sched_count_inverts_at(void **state)
{
	static const struct sender_sched_params ps[] = {
		{ .rate = 7 }, { .rate = 20000 },
		{ .rate = 4000, .burst_rate = 40000, .burst_every_ns = 500 * MS, .burst_length_ns = 100 * MS },
		{ .rate = 333, .burst_rate = 77, .burst_every_ns = 300 * MS, .burst_length_ns = 170 * MS },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		struct sender_sched s;
		uint64_t prev = 0;

		sender_sched_init(&s, &ps[i]);
		for (uint64_t k = 0; k < 30000; k += 1 + k % 3) {
			uint64_t t = sender_sched_at(&s, k);

			if (k)
				assert_true(t > prev);
			assert_int_equal(sender_sched_count(&ps[i], t), k);
			assert_int_equal(sender_sched_count(&ps[i], t + 1), k + 1);
			prev = t;
		}
	}
}

static void test_et(void **state)
{
	struct sender_et et = { 0 };

	(void)state;
	/* 2026-01-05 14:30 UTC = 09:30 EST */
	assert_int_equal(sender_et_since_midnight(&et, 1767623400ull * S), 34200ull * S);
	/* 2026-01-06 05:00 UTC = midnight EST of the next day (cached day moves on) */
	assert_int_equal(sender_et_since_midnight(&et, 1767675600ull * S), 0);
	assert_int_equal(sender_et_since_midnight(&et, 1767675600ull * S - 1), 24 * 3600 * S - 1);
	/* 2026-07-01 13:30 UTC = 09:30 EDT */
	assert_int_equal(sender_et_since_midnight(&et, 1782912600ull * S + 5), 34200ull * S + 5);
	/* 2026-03-08 (23 h day): 12:00 UTC = 08:00 EDT = 7 h after midnight EST */
	assert_int_equal(sender_et_since_midnight(&et, 1772971200ull * S), 7 * 3600 * S);
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Datagram: header with `count`, then blocks of the given lengths filled with 0xaa. */
static uint32_t build(uint8_t *p, uint32_t count, const uint32_t *lens, int n)
{
	uint32_t off = 20;

	memset(p, 0xaa, 256);
	put16(p + 18, count);
	for (int i = 0; i < n; i++) {
		put16(p + off, lens[i]);
		off += 2 + lens[i];
	}
	return off;
}

static void test_mold_walk(void **state)
{
	static const uint8_t ts[6] = { 1, 2, 3, 4, 5, 6 };
	uint8_t p[256], before[256];
	uint32_t lens[] = { 12, 4, 36 }, len;

	(void)state;
	len = build(p, 3, lens, 3);
	assert_int_equal(sender_mold_walk(p, len, false, 0), 3);
	memcpy(before, p, sizeof(p));
	assert_int_equal(sender_mold_walk(p, len, true, 0x010203040506ull), 3);
	assert_memory_equal(p + 22 + 5, ts, 6);          /* first message */
	assert_memory_equal(p + 22 + 12 + 2 + 4 + 2 + 5, ts, 6); /* third */
	/* everything else is untouched, the 4-byte message included */
	memcpy(p + 22 + 5, before + 22 + 5, 6);
	memcpy(p + 22 + 12 + 2 + 4 + 2 + 5, before + 22 + 12 + 2 + 4 + 2 + 5, 6);
	assert_memory_equal(p, before, sizeof(p));

	/* count says 3, two blocks fit: walks two and never past len */
	len = build(p, 3, lens, 2);
	memcpy(before, p, sizeof(p));
	assert_int_equal(sender_mold_walk(p, len, true, 0), 2);
	assert_memory_equal(p + len, before + len, sizeof(p) - len);
	/* a block running past the end stops the walk before it */
	len = build(p, 3, lens, 3);
	assert_int_equal(sender_mold_walk(p, len - 1, true, 0), 2);
	/* zero-length block, heartbeat, end of session, short header */
	lens[0] = 0;
	len = build(p, 1, lens, 1);
	assert_int_equal(sender_mold_walk(p, len, true, 0), 0);
	assert_int_equal(sender_mold_walk(p, build(p, 0, lens, 0), true, 0), 0);
	assert_int_equal(sender_mold_walk(p, build(p, 0xffff, lens, 0), true, 0), 0);
	assert_int_equal(sender_mold_walk(p, 19, true, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_constant),
		cmocka_unit_test(test_sched_bursts),
		cmocka_unit_test(test_sched_count_inverts_at),
		cmocka_unit_test(test_et),
		cmocka_unit_test(test_mold_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
