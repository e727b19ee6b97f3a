/* Order book: every order message type, unknown references, duplicates, a
 * full table, level-pool exhaustion, best bid/offer maintenance, and a
 * randomized run checked against a brute-force model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "book.h"
#include "mdm_mem.h"

static uint8_t msg[64];
static struct itch_msg m;
static struct book_view v;

static void put(size_t off, unsigned size, uint64_t val)
{
	for (unsigned i = 0; i < size; i++)
		msg[off + i] = (uint8_t)(val >> (8 * (size - 1 - i)));
}

/* Header for `type` of `len` bytes, then decode (must succeed). */
static void begin(char type, uint16_t locate)
{
	memset(msg, ' ', sizeof(msg));
	msg[0] = (uint8_t)type;
	put(1, 2, locate);
	put(3, 2, 0);
	put(5, 6, 34200000000000ull);
}

static enum book_status apply(struct book *b)
{
	const struct itch_msg_desc *d = itch_desc(msg[0]);

	assert_non_null(d);
	assert_int_equal(itch_decode(msg, d->length, &m), ITCH_OK);
	return book_apply(b, &m, &v);
}

static enum book_status add(struct book *b, uint16_t locate, uint64_t ref, char side, uint32_t shares, uint32_t price)
{
	begin('A', locate);
	put(11, 8, ref);
	msg[19] = (uint8_t)side;
	put(20, 4, shares);
	memcpy(msg + 24, "TEST    ", 8);
	put(32, 4, price);
	return apply(b);
}

static enum book_status add_f(struct book *b, uint16_t locate, uint64_t ref, char side, uint32_t shares, uint32_t price)
{
	begin('F', locate);
	put(11, 8, ref);
	msg[19] = (uint8_t)side;
	put(20, 4, shares);
	memcpy(msg + 24, "TEST    ", 8);
	put(32, 4, price);
	memcpy(msg + 36, "GSCO", 4);
	return apply(b);
}

static enum book_status exec_e(struct book *b, uint16_t locate, uint64_t ref, uint32_t shares)
{
	begin('E', locate);
	put(11, 8, ref);
	put(19, 4, shares);
	put(23, 8, 555);
	return apply(b);
}

static enum book_status exec_c(struct book *b, uint16_t locate, uint64_t ref, uint32_t shares, uint32_t price)
{
	begin('C', locate);
	put(11, 8, ref);
	put(19, 4, shares);
	put(23, 8, 556);
	msg[31] = 'Y';
	put(32, 4, price);
	return apply(b);
}

static enum book_status cancel(struct book *b, uint16_t locate, uint64_t ref, uint32_t shares)
{
	begin('X', locate);
	put(11, 8, ref);
	put(19, 4, shares);
	return apply(b);
}

static enum book_status del(struct book *b, uint16_t locate, uint64_t ref)
{
	begin('D', locate);
	put(11, 8, ref);
	return apply(b);
}

static enum book_status replace(struct book *b, uint16_t locate, uint64_t ref, uint64_t new_ref, uint32_t shares, uint32_t price)
{
	begin('U', locate);
	put(11, 8, ref);
	put(19, 8, new_ref);
	put(27, 4, shares);
	put(31, 4, price);
	return apply(b);
}

static struct book *mk(uint32_t cap, uint32_t levels)
{
	struct book_params p = { .order_capacity = cap, .level_capacity = levels };
	struct book *b;

	assert_int_equal(book_create(&b, &p), 0);
	return b;
}

static void want_bbo(const struct book *b, uint16_t locate, uint32_t bid, uint64_t bid_sh, uint32_t ask, uint64_t ask_sh)
{
	struct book_bbo q;
	bool any = book_bbo(b, locate, &q);

	assert_int_equal(any, bid_sh || ask_sh);
	assert_int_equal(q.bid_price, bid);
	assert_true(q.bid_shares == bid_sh);
	assert_int_equal(q.ask_price, ask);
	assert_true(q.ask_shares == ask_sh);
}

static void test_add_and_lookup(void **state)
{
	struct book *b = mk(64, 0);
	struct book_view o;

	assert_int_equal(add(b, 5, 1001, 'B', 300, 1502500), BOOK_APPLIED);
	assert_int_equal(v.flags, BOOK_VIEW_KNOWN);
	assert_true(v.ref == 1001 && v.orig_ref == 1001);
	assert_int_equal(v.side, 'B');
	assert_int_equal(v.price, 1502500);
	assert_int_equal(v.shares, 300);
	assert_int_equal(v.locate, 5);
	assert_int_equal(add_f(b, 5, 1002, 'S', 200, 1503000), BOOK_APPLIED);
	assert_int_equal(v.side, 'S');
	assert_true(book_order(b, 1002, &o));
	assert_int_equal(o.shares, 200);
	assert_int_equal(o.price, 1503000);
	assert_false(book_order(b, 9999, &o));
	assert_int_equal(book_stats(b)->orders, 2);
	assert_int_equal(book_stats(b)->adds, 2);
	want_bbo(b, 5, 1502500, 300, 1503000, 200);
	want_bbo(b, 6, 0, 0, 0, 0);
	book_destroy(b);
}

static void test_exec_partial_then_full(void **state)
{
	struct book *b = mk(64, 0);

	add(b, 5, 1, 'S', 500, 1000000);
	assert_int_equal(exec_e(b, 5, 1, 200), BOOK_APPLIED);
	assert_int_equal(v.flags, BOOK_VIEW_KNOWN | BOOK_VIEW_TRADE);
	assert_int_equal(v.shares, 300);
	assert_int_equal(v.trade_shares, 200);
	assert_int_equal(v.delta_shares, 200);
	assert_int_equal(v.trade_price, 1000000); /* E trades at the order's price */
	assert_int_equal(v.side, 'S');
	want_bbo(b, 5, 0, 0, 1000000, 300);
	assert_int_equal(exec_c(b, 5, 1, 300, 999900), BOOK_APPLIED);
	assert_int_equal(v.flags, BOOK_VIEW_KNOWN | BOOK_VIEW_TRADE | BOOK_VIEW_GONE);
	assert_int_equal(v.trade_price, 999900); /* C: the execution price */
	assert_int_equal(v.price, 1000000);
	assert_int_equal(v.shares, 0);
	assert_int_equal(book_stats(b)->orders, 0);
	assert_int_equal(book_stats(b)->executions, 2);
	assert_int_equal(book_stats(b)->levels, 0);
	want_bbo(b, 5, 0, 0, 0, 0);
	/* Gone means gone: a second execution is an unknown reference. */
	assert_int_equal(exec_e(b, 5, 1, 1), BOOK_UNKNOWN_REF);
	book_destroy(b);
}

static void test_cancel_delete_overfill(void **state)
{
	struct book *b = mk(64, 0);

	add(b, 3, 10, 'B', 400, 500000);
	add(b, 3, 11, 'B', 100, 500000);
	assert_int_equal(cancel(b, 3, 10, 150), BOOK_APPLIED);
	assert_int_equal(v.shares, 250);
	assert_int_equal(v.delta_shares, 150);
	assert_int_equal(v.flags, BOOK_VIEW_KNOWN);
	want_bbo(b, 3, 500000, 350, 0, 0);
	/* Cancelling more than remains removes the order and is counted. */
	assert_int_equal(cancel(b, 3, 10, 1000), BOOK_APPLIED);
	assert_int_equal(v.shares, 0);
	assert_true(v.flags & BOOK_VIEW_GONE);
	assert_int_equal(book_stats(b)->overfill, 1);
	want_bbo(b, 3, 500000, 100, 0, 0);
	assert_int_equal(del(b, 3, 11), BOOK_APPLIED);
	assert_int_equal(v.delta_shares, 100);
	assert_int_equal(v.price, 500000);
	assert_int_equal(v.flags, BOOK_VIEW_KNOWN | BOOK_VIEW_GONE);
	assert_int_equal(book_stats(b)->cancels, 2);
	assert_int_equal(book_stats(b)->deletes, 1);
	assert_int_equal(book_stats(b)->orders, 0);
	want_bbo(b, 3, 0, 0, 0, 0);
	book_destroy(b);
}

static void test_replace(void **state)
{
	struct book *b = mk(64, 0);
	struct book_view o;

	add(b, 9, 44, 'S', 300, 2000000);
	add(b, 9, 50, 'S', 100, 2010000);
	assert_int_equal(replace(b, 9, 44, 45, 600, 2020000), BOOK_APPLIED);
	assert_true(v.ref == 45 && v.orig_ref == 44);
	assert_int_equal(v.side, 'S');  /* inherited */
	assert_int_equal(v.locate, 9);  /* inherited */
	assert_int_equal(v.shares, 600);
	assert_int_equal(v.price, 2020000);
	assert_int_equal(v.delta_shares, 300);
	assert_int_equal(v.flags, BOOK_VIEW_KNOWN);
	assert_false(book_order(b, 44, &o));
	assert_true(book_order(b, 45, &o));
	assert_int_equal(o.side, 'S');
	assert_int_equal(book_stats(b)->replaces, 1);
	assert_int_equal(book_stats(b)->orders, 2);
	/* The best ask moved from the replaced order's level to the next one. */
	want_bbo(b, 9, 0, 0, 2010000, 100);
	/* Unknown original. */
	assert_int_equal(replace(b, 9, 4444, 4445, 1, 1), BOOK_UNKNOWN_REF);
	assert_true(v.ref == 4445 && v.orig_ref == 4444);
	assert_int_equal(v.flags, 0);
	/* New reference already live: the original still goes. */
	assert_int_equal(replace(b, 9, 45, 50, 10, 2020000), BOOK_DUP_REF);
	assert_int_equal(v.flags, BOOK_VIEW_GONE);
	assert_false(book_order(b, 45, &o));
	assert_int_equal(book_stats(b)->orders, 1);
	assert_int_equal(book_stats(b)->dup_ref, 1);
	book_destroy(b);
}

static void test_unknown_refs_and_invalid(void **state)
{
	struct book *b = mk(64, 0);
	const struct book_stats *st = book_stats(b);

	assert_int_equal(exec_e(b, 12, 77, 10), BOOK_UNKNOWN_REF);
	assert_int_equal(v.flags, BOOK_VIEW_TRADE); /* a trade, side unknown */
	assert_int_equal(v.locate, 12);
	assert_int_equal(v.trade_shares, 10);
	assert_int_equal(v.side, 0);
	assert_int_equal(exec_c(b, 12, 77, 10, 123), BOOK_UNKNOWN_REF);
	assert_int_equal(v.trade_price, 123);
	assert_int_equal(cancel(b, 12, 77, 10), BOOK_UNKNOWN_REF);
	assert_int_equal(del(b, 12, 77), BOOK_UNKNOWN_REF);
	assert_int_equal(st->unknown_ref, 4);

	assert_int_equal(add(b, 1, 5, 'B', 0, 100), BOOK_INVALID);
	assert_int_equal(add(b, 1, 5, 'X', 10, 100), BOOK_INVALID);
	assert_int_equal(st->invalid, 2);
	assert_int_equal(add(b, 1, 5, 'B', 10, 100), BOOK_APPLIED);
	assert_int_equal(add(b, 1, 5, 'S', 10, 100), BOOK_DUP_REF);
	assert_int_equal(st->dup_ref, 1);
	/* Header locate disagreeing with the order's: counted, order's wins. */
	assert_int_equal(exec_e(b, 2, 5, 1), BOOK_APPLIED);
	assert_int_equal(v.locate, 1);
	assert_int_equal(st->locate_mismatch, 1);
	assert_int_equal(st->orders, 1);

	/* Non-order messages leave the book alone. */
	begin('P', 1);
	put(11, 8, 5);
	assert_int_equal(apply(b), BOOK_IGNORED);
	begin('Q', 1);
	assert_int_equal(apply(b), BOOK_IGNORED);
	begin('B', 1);
	put(11, 8, 5);
	assert_int_equal(apply(b), BOOK_IGNORED);
	begin('S', 0);
	assert_int_equal(apply(b), BOOK_IGNORED);
	assert_int_equal(v.flags, 0);
	assert_int_equal(st->orders, 1);
	want_bbo(b, 1, 100, 9, 0, 0);
	book_destroy(b);
}

/* Arbitrary references (not an arithmetic run, which Fibonacci hashing
 * spreads perfectly), so a 14-in-16 table must probe. */
static const uint64_t scattered[14] = {
	0x9a3f01c2d4e5f607ull, 17, 0x0123456789abcdefull, 424242, 0xdeadbeefull, 5,
	0x7fffffffffffffffull, 31337, 0xfedcba9876543210ull, 8, 0x1000000000ull, 77777,
	0xcafebabe12345678ull, 3,
};

static void test_full_table(void **state)
{
	struct book *b = mk(16, 16);
	const struct book_stats *st = book_stats(b);

	assert_int_equal(st->capacity, 16);
	assert_int_equal(st->max_orders, 14);
	for (unsigned r = 0; r < 14; r++)
		assert_int_equal(add(b, 1, scattered[r], 'B', 1, 101 + r), BOOK_APPLIED);
	assert_int_equal(add(b, 1, 99, 'B', 1, 100), BOOK_FULL);
	assert_int_equal(add(b, 1, scattered[4], 'B', 1, 100), BOOK_DUP_REF);
	assert_int_equal(st->full, 1);
	assert_int_equal(st->orders, 14);
	assert_true(st->max_probe > 0 && st->max_probe < 16);
	/* Every order is still found after probing collisions, and after the
	 * backward shifts of deletes in the middle of probe runs. */
	for (unsigned r = 0; r < 14; r++) {
		struct book_view o;

		assert_true(book_order(b, scattered[r], &o));
		assert_int_equal(o.price, 101 + r);
	}
	for (unsigned r = 0; r < 14; r += 2)
		assert_int_equal(del(b, 1, scattered[r]), BOOK_APPLIED);
	for (unsigned r = 0; r < 14; r++) {
		struct book_view o;

		assert_int_equal(book_order(b, scattered[r], &o), r % 2 == 1);
	}
	for (unsigned r = 0; r < 14; r += 2)
		assert_int_equal(add(b, 1, scattered[r], 'B', 1, 101 + r), BOOK_APPLIED);
	assert_int_equal(del(b, 1, scattered[6]), BOOK_APPLIED);
	assert_int_equal(add(b, 1, 99, 'B', 1, 100), BOOK_APPLIED);
	want_bbo(b, 1, 114, 1, 0, 0);
	book_destroy(b);
}

static void test_bbo_levels(void **state)
{
	struct book *b = mk(64, 0);

	add(b, 1, 1, 'B', 100, 1000);
	want_bbo(b, 1, 1000, 100, 0, 0);
	add(b, 1, 2, 'B', 50, 1010);  /* better */
	want_bbo(b, 1, 1010, 50, 0, 0);
	add(b, 1, 3, 'B', 70, 990);   /* worse */
	add(b, 1, 4, 'B', 25, 1010);  /* joins the best */
	want_bbo(b, 1, 1010, 75, 0, 0);
	add(b, 1, 5, 'S', 10, 1030);
	add(b, 1, 6, 'S', 20, 1020);  /* better ask */
	add(b, 1, 7, 'S', 30, 1040);
	want_bbo(b, 1, 1010, 75, 1020, 20);
	add(b, 2, 8, 'S', 5, 1);      /* another symbol is separate */
	want_bbo(b, 1, 1010, 75, 1020, 20);
	want_bbo(b, 2, 0, 0, 1, 5);

	/* Depleting the best level uncovers the next best. */
	exec_e(b, 1, 2, 50);
	want_bbo(b, 1, 1010, 25, 1020, 20);
	cancel(b, 1, 4, 25);
	want_bbo(b, 1, 1000, 100, 1020, 20);
	del(b, 1, 6);
	want_bbo(b, 1, 1000, 100, 1030, 10);
	del(b, 1, 1);
	want_bbo(b, 1, 990, 70, 1030, 10);
	replace(b, 1, 5, 9, 10, 1050); /* ask moves behind 1040 */
	want_bbo(b, 1, 990, 70, 1040, 30);
	del(b, 1, 3);
	del(b, 1, 7);
	want_bbo(b, 1, 0, 0, 1050, 10);
	del(b, 1, 9);
	want_bbo(b, 1, 0, 0, 0, 0);
	assert_int_equal(book_stats(b)->levels, 1); /* locate 2's ask */
	book_destroy(b);
}

/* Levels inserted in scrambled order come out best-first. */
static void test_bbo_sorted_insert(void **state)
{
	static const uint32_t prices[] = { 500, 100, 900, 300, 700, 200, 800, 400, 600, 1000, 50, 950 };
	const size_t n = sizeof(prices) / sizeof(prices[0]);
	struct book *b = mk(64, 64); /* 24 levels: more than the default 64 / 4 */
	struct book_bbo q;

	for (size_t i = 0; i < n; i++) {
		add(b, 4, 100 + i, 'B', 1, prices[i]);
		add(b, 4, 200 + i, 'S', 1, prices[i]);
	}
	for (uint32_t want_bid = 1000, want_ask = 50, k = 0; k < n; k++) {
		assert_true(book_bbo(b, 4, &q));
		assert_int_equal(q.bid_price, want_bid);
		assert_int_equal(q.ask_price, want_ask);
		for (size_t i = 0; i < n; i++) {
			if (prices[i] == want_bid)
				del(b, 4, 100 + i);
			if (prices[i] == want_ask)
				del(b, 4, 200 + i);
		}
		/* Next expected: the largest remaining bid, smallest remaining ask. */
		uint32_t nb = 0, na = UINT32_MAX;

		for (size_t i = 0; i < n; i++) {
			if (prices[i] < want_bid && prices[i] > nb)
				nb = prices[i];
			if (prices[i] > want_ask && prices[i] < na)
				na = prices[i];
		}
		want_bid = nb;
		want_ask = na;
	}
	assert_false(book_bbo(b, 4, &q));
	book_destroy(b);
}

static void test_level_pool_exhausted(void **state)
{
	struct book *b = mk(64, 2);

	add(b, 1, 1, 'B', 10, 100);
	add(b, 1, 2, 'B', 20, 101);
	assert_int_equal(add(b, 1, 3, 'B', 30, 102), BOOK_APPLIED); /* tracked, no level */
	assert_int_equal(book_stats(b)->level_full, 1);
	want_bbo(b, 1, 101, 20, 0, 0);
	assert_int_equal(exec_e(b, 1, 3, 5), BOOK_APPLIED);
	assert_int_equal(v.shares, 25);
	del(b, 1, 3);
	del(b, 1, 2);
	want_bbo(b, 1, 100, 10, 0, 0);
	/* The freed level is reused. */
	add(b, 1, 4, 'B', 40, 105);
	want_bbo(b, 1, 105, 40, 0, 0);
	assert_int_equal(book_stats(b)->level_full, 1);
	book_destroy(b);
}

/* ---- randomized check against a brute-force model ---- */

struct model_order {
	bool live;
	uint16_t locate;
	char side;
	uint32_t shares, price;
};

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void model_bbo(const struct model_order *mo, size_t n, uint16_t locate, struct book_bbo *q)
{
	memset(q, 0, sizeof(*q));
	for (size_t i = 0; i < n; i++) {
		if (!mo[i].live || mo[i].locate != locate)
			continue;
		if (mo[i].side == 'B' && (q->bid_shares == 0 || mo[i].price > q->bid_price)) {
			q->bid_price = mo[i].price;
			q->bid_shares = 0;
			q->bid_orders = 0;
		}
		if (mo[i].side == 'S' && (q->ask_shares == 0 || mo[i].price < q->ask_price)) {
			q->ask_price = mo[i].price;
			q->ask_shares = 0;
			q->ask_orders = 0;
		}
		if (mo[i].side == 'B' && mo[i].price == q->bid_price) {
			q->bid_shares += mo[i].shares;
			q->bid_orders++;
		}
		if (mo[i].side == 'S' && mo[i].price == q->ask_price) {
			q->ask_shares += mo[i].shares;
			q->ask_orders++;
		}
	}
}

static void test_randomized_against_model(void **state)
{
	enum { REFS = 400, LOCATES = 3 };
	static struct model_order mo[REFS];
	/* 448 live orders max: never full here; 240 possible levels all fit. */
	struct book *b = mk(512, 512);
	uint64_t live = 0;

	memset(mo, 0, sizeof(mo));
	for (int step = 0; step < 200000; step++) {
		uint32_t r = rnd(REFS), op = rnd(10);
		struct model_order *o = &mo[r];
		uint64_t ref = (uint64_t)r * 0x10001 + 7; /* spread, with collisions */

		if (!o->live) {
			o->locate = (uint16_t)(1 + rnd(LOCATES));
			o->side = rnd(2) ? 'B' : 'S';
			o->shares = 1 + rnd(500);
			o->price = 10000 + rnd(40) * 100;
			assert_int_equal(add(b, o->locate, ref, o->side, o->shares, o->price), BOOK_APPLIED);
			o->live = true;
			live++;
		} else if (op < 3) {
			uint32_t n = 1 + rnd(o->shares + 50);

			assert_int_equal(exec_e(b, o->locate, ref, n), BOOK_APPLIED);
			o->shares = n >= o->shares ? 0 : o->shares - n;
		} else if (op < 5) {
			uint32_t n = 1 + rnd(o->shares);

			assert_int_equal(cancel(b, o->locate, ref, n), BOOK_APPLIED);
			o->shares -= n;
		} else if (op < 8) {
			assert_int_equal(del(b, o->locate, ref), BOOK_APPLIED);
			o->shares = 0;
		} else {
			/* Replace to a fresh reference slot that is not live. */
			uint32_t r2 = rnd(REFS);

			if (mo[r2].live)
				continue;
			mo[r2] = *o;
			mo[r2].shares = 1 + rnd(500);
			mo[r2].price = 10000 + rnd(40) * 100;
			assert_int_equal(replace(b, o->locate, ref, (uint64_t)r2 * 0x10001 + 7, mo[r2].shares,
						 mo[r2].price), BOOK_APPLIED);
			o->shares = 0;
			live++;
		}
		if (o->shares == 0 && o->live) {
			o->live = false;
			live--;
		}
		assert_int_equal(book_stats(b)->orders, live);
		if (step % 97 == 0) {
			for (uint16_t l = 1; l <= LOCATES; l++) {
				struct book_bbo want, got;

				model_bbo(mo, REFS, l, &want);
				book_bbo(b, l, &got);
				assert_memory_equal(&got, &want, sizeof(got));
			}
			for (uint32_t i = 0; i < REFS; i += 13) {
				struct book_view ov;

				assert_int_equal(book_order(b, (uint64_t)i * 0x10001 + 7, &ov), mo[i].live);
				if (mo[i].live)
					assert_int_equal(ov.shares, mo[i].shares);
			}
		}
	}
	assert_true(book_stats(b)->max_probe < 512);
	book_destroy(b);
}

static void test_reset_and_lifecycle(void **state)
{
	struct book *b = mk(64, 0);
	struct book_params bad = { .order_capacity = 100 };
	struct book_params small = { .order_capacity = 8 };
	struct book_view o;

	add(b, 1, 1, 'B', 10, 100);
	book_reset(b);
	assert_false(book_order(b, 1, &o));
	want_bbo(b, 1, 0, 0, 0, 0);
	assert_int_equal(book_stats(b)->orders, 0);
	assert_int_equal(book_stats(b)->adds, 1);
	assert_int_equal(add(b, 1, 1, 'B', 10, 100), BOOK_APPLIED);
	book_destroy(b);
	book_destroy(NULL);

	assert_int_equal(book_create(&b, &bad), -EINVAL);
	assert_null(b);
	assert_int_equal(book_create(&b, &small), -EINVAL);
	for (uint64_t n = 1; n <= 4; n++) {
		struct book_params p = { .order_capacity = 64 };

		mdm_mem_fail_after(n);
		assert_int_equal(book_create(&b, &p), -ENOMEM);
		mdm_mem_fail_reset();
		assert_null(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_lookup),
		cmocka_unit_test(test_exec_partial_then_full),
		cmocka_unit_test(test_cancel_delete_overfill),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_unknown_refs_and_invalid),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_bbo_levels),
		cmocka_unit_test(test_bbo_sorted_insert),
		cmocka_unit_test(test_level_pool_exhausted),
		cmocka_unit_test(test_randomized_against_model),
		cmocka_unit_test(test_reset_and_lifecycle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
