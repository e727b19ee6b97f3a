/* The feed decode chain (feed.c) on hand-built MoldUDP64 packets: what is
 * emitted, with which sequence, session, symbol and order state, and what is
 * counted instead. One behaviour per test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "feed.h"

#define SESSION "SESS01    " /* 10 bytes, space-padded as on the wire */

/* ---- building packets ---- */

struct pkt {
	uint8_t b[1500];
	size_t len;
	uint16_t count;
};

static void put_be(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * (size - 1 - i)));
}

static void pkt_start(struct pkt *k, const char *session, uint64_t seq)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->b, session, 10);
	put_be(k->b + 10, seq, 8);
	k->len = 20;
}

/* Append one block; returns the message bytes to fill (header zeroed). */
static uint8_t *pkt_add(struct pkt *k, uint8_t type, uint16_t len, uint16_t locate)
{
	uint8_t *m = k->b + k->len + 2;

	put_be(k->b + k->len, len, 2);
	memset(m, 0, len);
	m[0] = type;
	if (len >= 3)
		put_be(m + 1, locate, 2);
	if (len >= 11)
		put_be(m + 5, 34200000000000ULL + k->count, 6); /* 09:30 */
	k->len += 2u + len;
	put_be(k->b + 18, ++k->count, 2);
	return m;
}

static void add_directory(struct pkt *k, uint16_t locate, const char *stock)
{
	uint8_t *m = pkt_add(k, 'R', 39, locate);

	memset(m + 11, ' ', 8);
	memcpy(m + 11, stock, strlen(stock));
}

static void add_order(struct pkt *k, uint16_t locate, uint64_t ref, char side, uint32_t shares, uint32_t price)
{
	uint8_t *m = pkt_add(k, 'A', 36, locate);

	put_be(m + 11, ref, 8);
	m[19] = (uint8_t)side;
	put_be(m + 20, shares, 4);
	memset(m + 24, ' ', 8); /* blank stock field: the feed takes the symbol from the locate */
	put_be(m + 32, price, 4);
}

/* A message of `type` whose `stock` field holds `stock` (padded). */
static void add_with_stock(struct pkt *k, uint8_t type, uint16_t locate, const char *stock)
{
	const struct itch_msg_desc *d = itch_desc(type);
	const struct itch_field *f = itch_field_find(d, "stock");
	uint8_t *m = pkt_add(k, type, d->length, locate);

	memset(m + f->offset, ' ', 8);
	memcpy(m + f->offset, stock, strlen(stock));
	if (type == 'A' || type == 'F') {
		put_be(m + 11, 5000u + locate, 8); /* reference */
		m[19] = 'B';
		put_be(m + 20, 100, 4);
		put_be(m + 32, 10000, 4);
	}
}

static void add_executed(struct pkt *k, uint16_t locate, uint64_t ref, uint32_t shares, uint64_t match)
{
	uint8_t *m = pkt_add(k, 'E', 31, locate);

	put_be(m + 11, ref, 8);
	put_be(m + 19, shares, 4);
	put_be(m + 23, match, 8);
}

static void add_system_event(struct pkt *k, char code)
{
	pkt_add(k, 'S', 12, 0)[11] = (uint8_t)code;
}

/* ---- collecting what the feed emits ---- */

#define MAX_GOT 32
struct got {
	unsigned n;
	struct {
		uint8_t type, line;
		uint64_t seq;
		char session[16], symbol[SYMBOLS_TEXT_MAX + 1];
		bool has_order;
		struct book_view order;
	} m[MAX_GOT];
	unsigned n_ev;
	struct seq_event ev[MAX_GOT];
};

static void emit(void *ctx, const struct feed_msg *fm)
{
	struct got *g = ctx;

	assert_true(g->n < MAX_GOT);
	g->m[g->n].type = fm->m->type;
	g->m[g->n].line = fm->line;
	g->m[g->n].seq = fm->seq;
	snprintf(g->m[g->n].session, sizeof(g->m[g->n].session), "%s", fm->session);
	symbols_text(g->m[g->n].symbol, fm->stock);
	g->m[g->n].has_order = fm->order != NULL;
	if (fm->order)
		g->m[g->n].order = *fm->order;
	g->n++;
}

static void on_event(void *ctx, const struct seq_event *ev)
{
	struct got *g = ctx;

	assert_true(g->n_ev < MAX_GOT);
	g->ev[g->n_ev++] = *ev;
}

static struct feed *mk_feed(struct got *g, unsigned lines, bool no_book)
{
	struct feed_params p = { .n_lines = lines, .book_capacity = 1024, .no_book = no_book,
				 .on_seq_event = on_event, .ctx = g };
	struct feed *f = NULL;

	memset(g, 0, sizeof(*g));
	assert_int_equal(feed_create(&f, &p), 0);
	return f;
}

static unsigned feed(struct feed *f, const struct pkt *k, uint8_t line, struct got *g)
{
	return feed_on_packet(f, k->b, k->len, line, 1000, emit, g);
}

/* ---- tests ---- */

/* R names locate 7; A and E on it are emitted in order with their seq, the
 * trimmed session, the symbol, and (E only) the order after the message. */
static void test_in_order_with_symbol_and_order(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 1);
	add_directory(&k, 7, "AAPL");
	add_order(&k, 7, 1001, 'B', 300, 1500000);
	add_executed(&k, 7, 1001, 100, 555);
	assert_int_equal(feed(f, &k, 0, &g), 3);
	assert_int_equal(g.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(g.m[i].seq, 1 + i);
		assert_string_equal(g.m[i].session, "SESS01");
		assert_string_equal(g.m[i].symbol, "AAPL");
	}
	assert_int_equal(g.m[0].type, 'R');
	assert_int_equal(g.m[1].type, 'A');
	assert_false(g.m[1].has_order); /* adds are not order-scoped */
	assert_int_equal(g.m[2].type, 'E');
	assert_true(g.m[2].has_order);
	assert_int_equal(g.m[2].order.ref, 1001);
	assert_int_equal(g.m[2].order.price, 1500000);
	assert_int_equal(g.m[2].order.shares, 200);
	assert_int_equal(g.m[2].order.trade_shares, 100);
	assert_int_equal(g.m[2].order.side, 'B');
	assert_string_equal(feed_session(f), "SESS01");
	assert_int_equal(feed_stats(f)->messages, 3);
	assert_int_equal(feed_stats(f)->by_type[itch_desc('A')->index], 1);
	assert_int_equal(feed_stats(f)->by_type[itch_desc('E')->index], 1);
	assert_int_equal(feed_stats(f)->packets, 1);
	feed_destroy(f);
}

/* A market-wide message (locate 0) and a locate no R named have symbol "". */
static void test_symbol_empty_without_directory(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 1);
	add_system_event(&k, 'O');
	add_order(&k, 9, 1, 'S', 10, 100);
	assert_int_equal(feed(f, &k, 0, &g), 2);
	assert_string_equal(g.m[0].symbol, "");
	assert_string_equal(g.m[1].symbol, "");
	feed_destroy(f);
}

/* A/B: the same packet on the second line emits nothing and counts duplicates. */
static void test_ab_duplicate_not_emitted(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 2, false);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 1);
	add_system_event(&k, 'O');
	add_system_event(&k, 'S');
	assert_int_equal(feed(f, &k, 0, &g), 2);
	assert_int_equal(feed(f, &k, 1, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(seq_stats(feed_seq(f))->duplicates, 2);
	assert_int_equal(feed_stats(f)->messages, 2);
	feed_destroy(f);
}

/* A hole is a gap event; the late packet fills it and is emitted with its own seq. */
static void test_gap_then_late_fill(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k1, k2, k3;

	(void)state;
	pkt_start(&k1, SESSION, 1);
	add_system_event(&k1, 'O');
	pkt_start(&k2, SESSION, 2);
	add_system_event(&k2, 'S');
	add_system_event(&k2, 'Q');
	pkt_start(&k3, SESSION, 4);
	add_system_event(&k3, 'M');
	assert_int_equal(feed(f, &k1, 0, &g), 1);
	assert_int_equal(feed(f, &k3, 0, &g), 1);
	assert_int_equal(g.m[1].seq, 4);
	assert_int_equal(g.n_ev, 2); /* the first session joined, then the gap */
	assert_int_equal(g.ev[0].type, SEQ_EV_SESSION_CHANGE);
	assert_int_equal(g.ev[1].type, SEQ_EV_GAP_OPENED);
	assert_int_equal(g.ev[1].from, 2);
	assert_int_equal(g.ev[1].to, 3);
	assert_int_equal(feed(f, &k2, 0, &g), 2);
	assert_int_equal(g.m[2].seq, 2);
	assert_int_equal(g.m[3].seq, 3);
	assert_int_equal(g.m[3].type, 'S');
	assert_int_equal(g.ev[g.n_ev - 1].type, SEQ_EV_GAP_FILLED);
	assert_int_equal(seq_stats(feed_seq(f))->missing_now, 0);
	feed_destroy(f);
}

/* A packet that overlaps what was delivered emits only its new messages,
 * with their own seq (a retransmission of 2..5 after 1..3 and 5 arrived). */
static void test_overlap_emits_only_new(void **state)
{
	static const char codes[] = "OSQMEC";
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 1);
	for (int i = 0; i < 3; i++)
		add_system_event(&k, codes[i]);
	assert_int_equal(feed(f, &k, 0, &g), 3);
	pkt_start(&k, SESSION, 5);
	add_system_event(&k, codes[4]);
	assert_int_equal(feed(f, &k, 0, &g), 1);
	pkt_start(&k, SESSION, 2);
	for (int i = 1; i < 5; i++)
		add_system_event(&k, codes[i]);
	assert_int_equal(feed(f, &k, 0, &g), 1);
	assert_int_equal(g.n, 5);
	assert_int_equal(g.m[4].seq, 4);
	assert_int_equal(g.m[4].type, 'S');
	assert_int_equal(seq_stats(feed_seq(f))->duplicates, 3);
	feed_destroy(f);
}

/* A packet whose framing is broken is dropped whole and consumes no sequence
 * numbers: the intact copy of it is delivered afterwards. */
static void test_malformed_consumes_no_seq(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;
	uint8_t cut[1500];

	(void)state;
	pkt_start(&k, SESSION, 1);
	add_system_event(&k, 'O');
	add_system_event(&k, 'S');
	memcpy(cut, k.b, k.len);
	assert_int_equal(feed_on_packet(f, cut, k.len - 3, 0, 1000, emit, &g), 0); /* second block overruns */
	assert_int_equal(feed_stats(f)->malformed_total, 1);
	assert_int_equal(feed_stats(f)->malformed[MOLD_ERR_BLOCK_OVERRUN], 1);
	assert_int_equal(feed_stats(f)->packets, 1);
	assert_int_equal(seq_next(feed_seq(f)), 0); /* nothing joined */
	assert_int_equal(feed(f, &k, 0, &g), 2);
	assert_int_equal(g.m[0].seq, 1);
	assert_int_equal(g.m[1].seq, 2);
	feed_destroy(f);
}

/* An unknown type and a wrong length consume their sequence numbers, are
 * counted and skipped; the messages around them keep their own seq. */
static void test_unknown_and_bad_length_skipped(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 10);
	add_system_event(&k, 'O');  /* 10 */
	pkt_add(&k, 'Z', 12, 0);    /* 11: not an ITCH 5.0 type */
	pkt_add(&k, 'S', 13, 0);    /* 12: S is 12 bytes */
	add_system_event(&k, 'S');  /* 13 */
	assert_int_equal(feed(f, &k, 0, &g), 2);
	assert_int_equal(g.m[0].seq, 10);
	assert_int_equal(g.m[1].seq, 13);
	assert_int_equal(feed_stats(f)->bad_msgs[ITCH_ERR_UNKNOWN_TYPE], 1);
	assert_int_equal(feed_stats(f)->bad_msgs[ITCH_ERR_LENGTH], 1);
	assert_int_equal(feed_stats(f)->messages, 2);
	assert_int_equal(seq_next(feed_seq(f)), 14);
	assert_int_equal(seq_stats(feed_seq(f))->gaps_opened, 0);
	feed_destroy(f);
}

/* Heartbeats and end-of-session are counted, emit nothing, and do not move
 * delivery; a heartbeat ahead of `next` declares the hole behind it. */
static void test_heartbeat_and_end_of_session(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 1);
	add_system_event(&k, 'O');
	assert_int_equal(feed(f, &k, 0, &g), 1);
	pkt_start(&k, SESSION, 2); /* heartbeat: count 0, seq = sender's next */
	assert_int_equal(feed(f, &k, 0, &g), 0);
	pkt_start(&k, SESSION, 5);
	assert_int_equal(feed(f, &k, 0, &g), 0);
	assert_int_equal(feed_stats(f)->heartbeats, 2);
	assert_int_equal(g.ev[g.n_ev - 1].type, SEQ_EV_GAP_OPENED);
	assert_int_equal(g.ev[g.n_ev - 1].from, 2);
	assert_int_equal(g.ev[g.n_ev - 1].to, 4);
	pkt_start(&k, SESSION, 5);
	put_be(k.b + 18, 0xFFFF, 2);
	assert_int_equal(feed(f, &k, 0, &g), 0);
	assert_int_equal(feed_stats(f)->end_of_session, 1);
	assert_int_equal(g.n, 1);
	feed_destroy(f);
}

/* A new session resets the per-day state: locates and order references of
 * the old session mean nothing in the new one. */
static void test_session_change_resets_symbols_and_book(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 1);
	add_directory(&k, 7, "AAPL");
	add_order(&k, 7, 1001, 'B', 300, 1500000);
	assert_int_equal(feed(f, &k, 0, &g), 2);
	pkt_start(&k, "SESS02    ", 1);
	add_executed(&k, 7, 1001, 100, 1);
	assert_int_equal(feed(f, &k, 0, &g), 1);
	assert_string_equal(g.m[2].session, "SESS02");
	assert_string_equal(g.m[2].symbol, "");
	assert_true(g.m[2].has_order);
	assert_int_equal(g.m[2].order.price, 0); /* unknown order: the old book is gone */
	assert_int_equal(g.ev[g.n_ev - 1].type, SEQ_EV_SESSION_CHANGE);
	assert_string_equal(feed_session(f), "SESS02");
	feed_destroy(f);
}

/* no_book: order-scoped messages carry no order state. */
static void test_no_book(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 1, true);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 1);
	add_order(&k, 7, 1001, 'B', 300, 1500000);
	add_executed(&k, 7, 1001, 100, 555);
	assert_int_equal(feed(f, &k, 0, &g), 2);
	assert_false(g.m[1].has_order);
	assert_int_equal(book_stats(feed_book(f))->orders, 0);
	feed_destroy(f);
}

/* Issue 15: a feed joined without its R messages still names every message
 * that carries its own stock, and the E on a locate an A named. Unusual
 * stocks are kept as sent (text: itch_text). */
static void test_late_joiner_names_what_it_can(void **state)
{
	static const uint8_t types[] = { 'A', 'F', 'H', 'Y', 'L', 'K', 'J', 'h', 'P', 'Q', 'I' };
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 1);
	for (unsigned i = 0; i < sizeof(types); i++)
		add_with_stock(&k, types[i], (uint16_t)(20 + i), "IVOO");
	add_executed(&k, 20, 5020, 10, 1); /* the A's order, on the locate the A taught */
	add_with_stock(&k, 'A', 40, "E F");
	add_with_stock(&k, 'A', 41, "\x80X");
	assert_int_equal(feed(f, &k, 0, &g), sizeof(types) + 3);
	for (unsigned i = 0; i < sizeof(types); i++) {
		assert_int_equal(g.m[i].type, types[i]);
		assert_string_equal(g.m[i].symbol, "IVOO");
	}
	assert_int_equal(g.m[sizeof(types)].type, 'E');
	assert_string_equal(g.m[sizeof(types)].symbol, "IVOO");
	assert_true(g.m[sizeof(types)].has_order);
	assert_string_equal(g.m[sizeof(types) + 1].symbol, "E F");
	assert_string_equal(g.m[sizeof(types) + 2].symbol, "\\x80X");
	assert_int_equal(symbols_stats(feed_symbols(f))->learned, sizeof(types) + 2);
	assert_int_equal(symbols_stats(feed_symbols(f))->unusual[SYMBOLS_SPACE], 1);
	assert_int_equal(symbols_stats(feed_symbols(f))->unusual[SYMBOLS_NON_ASCII], 1);
	assert_int_equal(symbols_stats(feed_symbols(f))->unknown, 0);
	feed_destroy(f);
}

/* Resume: the earlier run's session, symbols and missing ranges are taken
 * on; the gaps are declared through the event hook, the next packet is
 * delivered with its symbol, and an old seq is a duplicate. */
static void test_resume(void **state)
{
	static const uint64_t from[] = { 5 }, to[] = { 6 };
	static const uint16_t locates[] = { 7, 8 };
	/* the symbols' text, as the events carry it: it seeds the bytes it stands for */
	static const char *const syms[] = { "MSFT", "\\x80X" };
	struct feed_resume r = { .session = "SESS01", .join = 1, .next = 11, .gap_from = from, .gap_to = to,
				 .n_gaps = 1, .locates = locates, .symbols = syms, .n_symbols = 2, .now_ns = 1000 };
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;

	(void)state;
	assert_int_equal(feed_resume(f, &r), 0);
	assert_string_equal(feed_session(f), "SESS01");
	assert_int_equal(g.ev[g.n_ev - 1].type, SEQ_EV_GAP_OPENED);
	assert_int_equal(g.ev[g.n_ev - 1].from, 5);
	assert_int_equal(g.ev[g.n_ev - 1].to, 6);
	pkt_start(&k, SESSION, 11);
	add_order(&k, 7, 1, 'B', 1, 1);
	assert_int_equal(feed(f, &k, 0, &g), 1);
	assert_int_equal(g.m[0].seq, 11);
	assert_string_equal(g.m[0].symbol, "MSFT");
	pkt_start(&k, SESSION, 3);
	add_system_event(&k, 'O');
	assert_int_equal(feed(f, &k, 0, &g), 0);
	pkt_start(&k, SESSION, 5);
	add_system_event(&k, 'O');
	assert_int_equal(feed(f, &k, 0, &g), 1); /* a resumed gap is still fillable */
	assert_memory_equal(symbols_peek(feed_symbols(f), 8), "\x80X      ", SYMBOLS_LEN);
	r.session = "";
	assert_int_equal(feed_resume(f, &r), -EINVAL);
	feed_destroy(f);
}

/* feed_reset: a reused feed joins the next packet like a new one. */
static void test_reset(void **state)
{
	struct got g;
	struct feed *f = mk_feed(&g, 1, false);
	struct pkt k;

	(void)state;
	pkt_start(&k, SESSION, 1);
	add_directory(&k, 7, "AAPL");
	assert_int_equal(feed(f, &k, 0, &g), 1);
	feed_reset(f);
	assert_int_equal(feed_stats(f)->messages, 0);
	assert_string_equal(feed_session(f), "");
	assert_int_equal(feed(f, &k, 0, &g), 1); /* seq 1 again: not a duplicate after reset */
	pkt_start(&k, SESSION, 2);
	add_order(&k, 7, 1, 'B', 1, 1);
	assert_int_equal(feed(f, &k, 0, &g), 1);
	assert_string_equal(g.m[2].symbol, "AAPL");
	feed_destroy(f);
}

static void test_params(void **state)
{
	struct feed_params p = { .n_lines = 3 };
	struct feed *f = NULL;

	(void)state;
	assert_int_equal(feed_create(&f, &p), -EINVAL);
	assert_null(f);
	feed_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_with_symbol_and_order),
		cmocka_unit_test(test_symbol_empty_without_directory),
		cmocka_unit_test(test_ab_duplicate_not_emitted),
		cmocka_unit_test(test_gap_then_late_fill),
		cmocka_unit_test(test_overlap_emits_only_new),
		cmocka_unit_test(test_malformed_consumes_no_seq),
		cmocka_unit_test(test_unknown_and_bad_length_skipped),
		cmocka_unit_test(test_heartbeat_and_end_of_session),
		cmocka_unit_test(test_session_change_resets_symbols_and_book),
		cmocka_unit_test(test_no_book),
		cmocka_unit_test(test_late_joiner_names_what_it_can),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
