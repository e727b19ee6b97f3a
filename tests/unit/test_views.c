/* views: table-driven scripts of packets of order messages, each followed by
 * the views the flush must emit (kind, symbol, seq, flags, BBO or depth), so
 * coalescing, the BBO's seq, the depth interval in exchange time, the
 * MAYBE_BAD_BOOK flag (unknown orders, gaps) and the drain are each pinned.
 * Also book_levels (the depth source: sorted, no sort per call). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "book.h"
#include "itch.h"
#include "views.h"
#include "views_rec.h"

/* The scripts below name only the fields a line uses; the rest are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define MS 1000000ull

/* One script line: a message ('A','E','C','X','D','U'), a packet end ('|'),
 * a declared gap ('G', to = ref), a drain ('Z') or an expected view
 * ('b' BBO, 'd' depth). */
struct step {
	char op;
	uint16_t locate;
	uint64_t ref;      /* order reference; U: original; G: gap's last seq */
	char side;         /* A */
	uint32_t shares;   /* A E C X U */
	uint32_t price;    /* A C U */
	uint64_t new_ref;  /* U */
	uint64_t ts;       /* message timestamp, ns */
};

struct expect {
	char kind;         /* 'b' or 'd' */
	uint16_t locate;
	uint64_t seq;
	uint8_t flags;
	uint32_t bp, bo, ap, ao; /* BBO: prices and order counts */
	uint64_t bs, as;         /* BBO: sizes */
	unsigned nb, na;         /* depth: levels a side */
	uint32_t b0, a0;         /* depth: best prices */
	bool gap_seq;            /* seq is a gap's (shared by every symbol) */
};

struct got {
	struct views_out o;
	struct book_level_info bids[VIEWS_MAX_LEVELS], asks[VIEWS_MAX_LEVELS];
};

static struct got got[64];
static unsigned n_got;

static void collect(void *ctx, const struct views_out *o)
{
	struct got *g = &got[n_got++];

	(void)ctx;
	assert_true(n_got <= 64);
	g->o = *o;
	if (o->kind == VIEWS_DEPTH) {
		memcpy(g->bids, o->bids, o->n_bids * sizeof(o->bids[0]));
		memcpy(g->asks, o->asks, o->n_asks * sizeof(o->asks[0]));
	}
}

static void put(uint8_t *p, size_t off, unsigned size, uint64_t val)
{
	for (unsigned i = 0; i < size; i++)
		p[off + i] = (uint8_t)(val >> (8 * (size - 1 - i)));
}

/* Build and apply one message; tell the views. */
static void apply(struct book *b, struct views *v, const struct step *s, uint64_t seq)
{
	uint8_t p[64];
	struct itch_msg m;
	struct book_view bv;

	memset(p, ' ', sizeof(p));
	p[0] = (uint8_t)s->op;
	put(p, 1, 2, s->locate);
	put(p, 3, 2, 0);
	put(p, 5, 6, s->ts);
	put(p, 11, 8, s->ref);
	switch (s->op) {
	case 'A':
		p[19] = (uint8_t)s->side;
		put(p, 20, 4, s->shares);
		put(p, 32, 4, s->price);
		break;
	case 'E': put(p, 19, 4, s->shares); put(p, 23, 8, seq); break;
	case 'C': put(p, 19, 4, s->shares); put(p, 23, 8, seq); p[31] = 'Y'; put(p, 32, 4, s->price); break;
	case 'X': put(p, 19, 4, s->shares); break;
	case 'D': break;
	case 'U': put(p, 19, 8, s->new_ref); put(p, 27, 4, s->shares); put(p, 31, 4, s->price); break;
	default: fail();
	}
	assert_int_equal(itch_decode(p, itch_desc(p[0])->length, &m), ITCH_OK);
	views_on_msg(v, b, &m, seq, book_apply(b, &m, &bv), &bv);
}

static void check(const struct expect *e, const struct got *g)
{
	const struct views_out *o = &g->o;

	assert_int_equal(o->kind, e->kind == 'b' ? VIEWS_BBO : VIEWS_DEPTH);
	assert_int_equal(o->locate, e->locate);
	assert_int_equal(o->seq, e->seq);
	assert_int_equal(o->flags, e->flags);
	/* a Msg-Id of seq alone would collide: a gap's seq, a snapshot's */
	assert_int_equal(o->shared_seq, e->gap_seq || (e->flags & VIEWS_F_SNAPSHOT));
	if (e->kind == 'b') {
		assert_int_equal(o->bbo.bid_price, e->bp);
		assert_int_equal(o->bbo.bid_shares, e->bs);
		assert_int_equal(o->bbo.bid_orders, e->bo);
		assert_int_equal(o->bbo.ask_price, e->ap);
		assert_int_equal(o->bbo.ask_shares, e->as);
		assert_int_equal(o->bbo.ask_orders, e->ao);
		return;
	}
	assert_int_equal(o->n_bids, e->nb);
	assert_int_equal(o->n_asks, e->na);
	if (e->nb)
		assert_int_equal(g->bids[0].price, e->b0);
	if (e->na)
		assert_int_equal(g->asks[0].price, e->a0);
	for (unsigned i = 1; i < o->n_bids; i++)
		assert_true(g->bids[i].price < g->bids[i - 1].price);
	for (unsigned i = 1; i < o->n_asks; i++)
		assert_true(g->asks[i].price > g->asks[i - 1].price);
}

/* Run a script: after each '|', 'G' and 'Z', the views emitted must be the
 * expectations listed next, in order. Messages take seq 1, 2, ... */
static void run(const struct views_params *vp, const struct step *steps, unsigned n_steps, const struct expect *exp,
		unsigned n_exp)
{
	struct book *b;
	struct views *v;
	uint64_t seq = 0;
	unsigned e = 0;

	assert_int_equal(book_create(&b, &(struct book_params){ .order_capacity = 1024 }), 0);
	assert_int_equal(views_create(&v, vp), 0);
	for (unsigned i = 0; i < n_steps; i++) {
		const struct step *s = &steps[i];

		n_got = 0;
		if (s->op == '|') {
			views_flush(v, b, collect, NULL);
		} else if (s->op == 'Z') {
			views_drain(v, b, collect, NULL);
		} else if (s->op == 'G') {
			struct seq_event ev = { .type = SEQ_EV_GAP_OPENED, .from = s->ref, .to = s->ref };

			views_on_seq_event(v, &ev);
			continue;
		} else {
			apply(b, v, s, ++seq);
			continue;
		}
		for (unsigned k = 0; k < n_got; k++, e++) {
			assert_true(e < n_exp);
			check(&exp[e], &got[k]);
		}
	}
	assert_int_equal(e, n_exp);
	views_destroy(v);
	book_destroy(b);
}

#define L VIEWS_F_LAST
#define BAD VIEWS_F_MAYBE_BAD_BOOK
#define SNAP VIEWS_F_SNAPSHOT

/* One BBO per symbol per packet, its last state; a deeper change makes no
 * BBO and leaves its seq; a change undone inside a packet makes none. */
static void test_coalescing(void **state)
{
	static const struct step s[] = {
		{ 'A', 1, 1, 'B', 100, 100000 }, { 'A', 1, 2, 'B', 200, 110000 }, { 'A', 1, 3, 'S', 50, 120000 }, { '|' },
		{ 'A', 1, 4, 'B', 100, 90000 }, { '|' },                     /* seq 4: below the best bid */
		{ 'A', 1, 5, 'B', 5, 110000 }, { 'X', 1, 5, 0, 5 }, { '|' },    /* seq 5, 6: undone */
		{ 'E', 1, 2, 0, 50 }, { 'A', 2, 7, 'S', 10, 500000 }, { '|' },  /* seq 7, 8: two symbols */
		{ 'U', 1, 3, 0, 60, 119000, 8 }, { '|' },                     /* seq 9: replace moves the ask */
		{ 'D', 1, 8 }, { '|' },                                       /* seq 10: ask side empties */
	};
	static const struct expect e[] = {
		{ 'b', 1, 3, L, 110000, 1, 120000, 1, 200, 50 }, { 'd', 1, 3, L, .nb = 2, .na = 1, .b0 = 110000, .a0 = 120000 },
		{ 'd', 1, 4, L, .nb = 3, .na = 1, .b0 = 110000, .a0 = 120000 },
		{ 'd', 1, 6, L, .nb = 3, .na = 1, .b0 = 110000, .a0 = 120000 },
		{ 'b', 1, 7, L, 110000, 1, 120000, 1, 150, 50 }, { 'd', 1, 7, L, .nb = 3, .na = 1, .b0 = 110000, .a0 = 120000 },
		{ 'b', 2, 8, L, 0, 0, 500000, 1, 0, 10 }, { 'd', 2, 8, L, .nb = 0, .na = 1, .a0 = 500000 },
		{ 'b', 1, 9, L, 110000, 1, 119000, 1, 150, 60 }, { 'd', 1, 9, L, .nb = 3, .na = 1, .b0 = 110000, .a0 = 119000 },
		{ 'b', 1, 10, L, 110000, 1, 0, 0, 150, 0 }, { 'd', 1, 10, L, .nb = 3, .na = 0, .b0 = 110000 },
	};

	(void)state;
	run(&(struct views_params){ .bbo = true, .depth_levels = 10 }, s, sizeof(s) / sizeof(s[0]), e,
	    sizeof(e) / sizeof(e[0]));
}

/* Depth at most once per interval of exchange time per symbol; a change
 * held back goes out at the first packet after the interval (with the seq of
 * the last change), and at drain. depth_levels caps the levels. */
static void test_depth_interval(void **state)
{
	static const struct step s[] = {
		{ 'A', 1, 1, 'B', 100, 100000, 0, 0 }, { 'A', 1, 2, 'B', 100, 99000, 0, 0 }, { '|' },
		{ 'A', 1, 3, 'B', 100, 98000, 0, 50 * MS }, { '|' },        /* seq 3: held back */
		{ 'A', 1, 4, 'B', 100, 97000, 0, 60 * MS }, { '|' },        /* seq 4: held back */
		{ 'A', 2, 5, 'S', 100, 200000, 0, 100 * MS }, { '|' },      /* interval over: 1's depth (seq 4) first */
		{ 'A', 1, 6, 'B', 100, 96000, 0, 150 * MS }, { '|' },       /* seq 6: held back again */
		{ 'Z' },
	};
	static const struct expect e[] = {
		{ 'd', 1, 2, L, .nb = 2, .b0 = 100000 },
		{ 'd', 1, 4, L, .nb = 2, .b0 = 100000 }, { 'd', 2, 5, L, .na = 1, .a0 = 200000 },
		{ 'd', 1, 6, SNAP | L, .nb = 2, .b0 = 100000 }, { 'd', 2, 5, SNAP | L, .na = 1, .a0 = 200000 },
	};

	(void)state;
	run(&(struct views_params){ .depth_levels = 2, .depth_interval_ns = 100 * MS }, s, sizeof(s) / sizeof(s[0]), e,
	    sizeof(e) / sizeof(e[0]));
}

/* An order message on an unknown reference flags its symbol (a view change,
 * with that message's seq); a declared gap flags every symbol, at the gap's
 * last seq, and the symbols seen after it; drain snapshots keep the flag. */
static void test_maybe_bad_book(void **state)
{
	static const struct step s[] = {
		{ 'A', 1, 1, 'B', 100, 100000 }, { 'A', 2, 2, 'S', 100, 200000 }, { '|' },
		{ 'E', 3, 99, 0, 10 }, { 'X', 1, 98, 0, 10 }, { '|' },     /* seq 3, 4: unknown refs */
		{ 'X', 1, 97, 0, 10 }, { '|' },                            /* seq 5: already flagged: nothing */
		{ 'G', .ref = 40 }, { '|' },                               /* symbol 2 flagged at seq 40 */
		{ 'A', 4, 5, 'B', 100, 300000 }, { '|' },                  /* seq 6: a new symbol after the gap */
		{ 'Z' },
	};
	static const struct expect e[] = {
		{ 'b', 1, 1, L, 100000, 1, 0, 0, 100, 0 }, { 'b', 2, 2, L, 0, 0, 200000, 1, 0, 100 },
		{ 'b', 3, 3, L | BAD }, { 'b', 1, 4, L | BAD, 100000, 1, 0, 0, 100, 0 },
		{ 'b', 2, 40, L | BAD, 0, 0, 200000, 1, 0, 100, .gap_seq = true },
		{ 'b', 4, 6, L | BAD, 300000, 1, 0, 0, 100, 0 },
		{ 'b', 1, 4, SNAP | L | BAD, 100000, 1, 0, 0, 100, 0 }, { 'b', 2, 40, SNAP | L | BAD, 0, 0, 200000, 1, 0, 100 },
		{ 'b', 3, 3, SNAP | L | BAD }, { 'b', 4, 6, SNAP | L | BAD, 300000, 1, 0, 0, 100, 0 },
	};

	(void)state;
	run(&(struct views_params){ .bbo = true }, s, sizeof(s) / sizeof(s[0]), e, sizeof(e) / sizeof(e[0]));
}

/* The depth source: best first on each side, aggregated, capped at n. */
static void test_book_levels(void **state)
{
	static const uint32_t prices[] = { 100, 105, 95, 110, 90, 105 };
	struct book_level_info lv[8];
	struct book *b;
	struct views *v;
	struct step s = { 'A', 7, 0, 'B', 10, 0 };

	(void)state;
	assert_int_equal(book_create(&b, &(struct book_params){ .order_capacity = 1024 }), 0);
	assert_int_equal(views_create(&v, &(struct views_params){ .bbo = true }), 0);
	for (unsigned i = 0; i < 6; i++) {
		s.ref = i + 1;
		s.price = prices[i];
		s.side = i == 5 ? 'S' : 'B';
		apply(b, v, &s, i + 1);
	}
	assert_int_equal(book_levels(b, 7, 'B', lv, 8), 5);
	assert_int_equal(lv[0].price, 110);
	assert_int_equal(lv[1].price, 105);
	assert_int_equal(lv[2].price, 100);
	assert_int_equal(lv[4].price, 90);
	assert_int_equal(lv[1].shares, 10);
	assert_int_equal(lv[1].orders, 1);
	assert_int_equal(book_levels(b, 7, 'B', lv, 2), 2);
	assert_int_equal(book_levels(b, 7, 'S', lv, 8), 1);
	assert_int_equal(book_levels(b, 8, 'S', lv, 8), 0);
	assert_int_equal(views_create(&(struct views *){ NULL }, &(struct views_params){ .depth_levels = 51 }), -EINVAL);
	views_destroy(v);
	views_destroy(NULL);
	book_destroy(b);
}

/* Across the ring: a BBO in one record, a depth in parts; a lost part drops
 * the view and the next one still assembles. */
static void test_records(void **state)
{
	static struct rx_event rec[VIEWS_REC_MAX];
	struct book_level_info lv[2 * VIEWS_MAX_LEVELS];
	struct views_out o = { .kind = VIEWS_DEPTH, .locate = 65535, .flags = L | BAD, .seq = 1ull << 40,
			       .ts_ns = 123, .shared_seq = true, .bids = lv, .asks = lv + VIEWS_MAX_LEVELS };
	static struct views_rec_asm a;
	unsigned n;

	(void)state;
	for (unsigned i = 0; i < 2 * VIEWS_MAX_LEVELS; i++)
		lv[i] = (struct book_level_info){ .price = 1000 + i, .orders = i, .shares = 1ull << 33 | i };
	for (unsigned nb = 0; nb <= VIEWS_MAX_LEVELS; nb += 7) {
		o.n_bids = nb;
		o.n_asks = VIEWS_MAX_LEVELS - nb / 2;
		n = views_rec_put(&o, "SESSION001", "BRK A", rec);
		assert_int_equal(n, nb + o.n_asks ? (nb + o.n_asks + 3) / 4 : 1);
		for (unsigned k = 0; k < n; k++)
			assert_int_equal(views_rec_take(&a, &rec[k]), k + 1 == n);
		assert_int_equal(a.o.kind, VIEWS_DEPTH);
		assert_int_equal(a.o.seq, o.seq);
		assert_int_equal(a.o.locate, 65535);
		assert_int_equal(a.o.flags, L | BAD);
		assert_true(a.o.shared_seq);
		assert_int_equal(a.o.n_bids, nb);
		assert_int_equal(a.o.n_asks, o.n_asks);
		assert_memory_equal(a.o.bids, lv, nb * sizeof(lv[0]));
		assert_memory_equal(a.o.asks, o.asks, o.n_asks * sizeof(lv[0]));
		assert_memory_equal(rec[0].symbol, "BRK A", 5);
	}
	/* a lost middle part: dropped; the next view assembles */
	n = views_rec_put(&o, "S", "X", rec);
	assert_true(n >= 3);
	assert_int_equal(views_rec_take(&a, &rec[0]), 0);
	assert_int_equal(views_rec_take(&a, &rec[2]), -EINVAL);
	o = (struct views_out){ .kind = VIEWS_BBO, .locate = 9, .flags = L, .seq = 5, .ts_ns = 6,
				.bbo = { .bid_price = 1, .ask_price = 2, .bid_shares = 3, .ask_shares = 4, .ask_orders = 5 } };
	assert_int_equal(views_rec_put(&o, "S", "X", rec), 1);
	assert_int_equal(views_rec_take(&a, &rec[0]), 1);
	assert_int_equal(a.o.kind, VIEWS_BBO);
	assert_int_equal(a.o.ts_ns, 6);
	assert_false(a.o.shared_seq);
	assert_memory_equal(&a.o.bbo, &o.bbo, sizeof(o.bbo));
	/* an empty book: one part, no levels */
	o = (struct views_out){ .kind = VIEWS_DEPTH, .locate = 1, .seq = 7 };
	assert_int_equal(views_rec_put(&o, "S", "X", rec), 1);
	assert_int_equal(views_rec_take(&a, &rec[0]), 1);
	assert_int_equal(a.o.n_bids + a.o.n_asks, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coalescing),
		cmocka_unit_test(test_depth_interval),
		cmocka_unit_test(test_maybe_bad_book),
		cmocka_unit_test(test_book_levels),
		cmocka_unit_test(test_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
