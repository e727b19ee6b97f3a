/* The store contract, checked the same way on every backend: idempotent rows,
 * atomic batches, bars equal to a brute-force computation whatever the
 * arrival order and redeliveries, routed event tables, truncation, and a
 * 100k-trade throughput run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "mdm_clock.h"
#include "mdm_err.h"
#include "store_suite.h"

#define NS_PER_MIN 60000000000ULL
#define MINUTE0 1784122200000000000ULL /* 2026-07-15 09:30 EDT */

struct store_suite_env store_suite_env;

struct store *store_suite_open(void)
{
	struct store *s = NULL;

	CHECK(store_suite_env.ops->open(&s, store_suite_env.url), 0);
	assert_non_null(s);
	CHECK(store_suite_env.ops->truncate_all(s), 0);
	return s;
}

int64_t store_suite_count(const char *sql_fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, sql_fmt);
	vsnprintf(sql, sizeof(sql), sql_fmt, ap);
	va_end(ap);
	return store_suite_env.query(store_suite_env.url, sql);
}

struct store_trade store_suite_trade(uint64_t seq, const char *symbol, uint64_t ts_ns, uint32_t price,
				     uint64_t shares, bool printable)
{
	struct store_trade t = {
		.feed = "itch", .session = "S1", .symbol = symbol, .seq = seq, .ts_ns = ts_ns, .price = price,
		.shares = shares, .side = seq % 2 ? 'B' : 'S', .match_number = seq * 10,
		.kind = 3, .printable = printable, .order_reference_number = seq * 100,
		.stream_seq = seq + 1000, .rx_ts_ns = ts_ns + 5000,
	};

	return t;
}

/* ---- brute-force bars ---------------------------------------------------- */

static int trade_order(const struct store_trade *a, const struct store_trade *b)
{
	int c;

	if (a->ts_ns != b->ts_ns)
		return a->ts_ns < b->ts_ns ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	if ((c = strcmp(a->feed, b->feed)) != 0)
		return c;
	return strcmp(a->session, b->session);
}

/* The bar of (symbol, minute) straight from its definition; false when the
 * minute has no printable trade. */
static bool brute_bar(const struct store_trade *t, size_t n, const char *symbol, uint64_t minute_ns,
		      struct store_bar *out)
{
	const struct store_trade *first = NULL, *last = NULL;
	unsigned __int128 notional = 0;
	struct store_bar b = { .symbol = symbol, .minute_ns = minute_ns, .low = UINT32_MAX };

	for (size_t i = 0; i < n; i++) {
		if (!t[i].printable || strcmp(t[i].symbol, symbol) != 0 || t[i].ts_ns < minute_ns ||
		    t[i].ts_ns >= minute_ns + NS_PER_MIN)
			continue;
		if (!first || trade_order(&t[i], first) < 0)
			first = &t[i];
		if (!last || trade_order(&t[i], last) > 0)
			last = &t[i];
		b.high = t[i].price > b.high ? t[i].price : b.high;
		b.low = t[i].price < b.low ? t[i].price : b.low;
		b.volume += t[i].shares;
		notional += (unsigned __int128)t[i].price * t[i].shares;
		b.trade_count++;
	}
	if (!first)
		return false;
	b.open = first->price;
	b.close = last->price;
	/* round half up: floor(notional / volume + 1/2) */
	b.vwap = b.volume ? (uint32_t)((2 * notional + b.volume) / (2 * (unsigned __int128)b.volume)) : 0;
	*out = b;
	return true;
}

static void assert_bar(struct store *s, const struct store_trade *t, size_t n, const char *symbol,
		       uint64_t minute_ns)
{
	struct store_bar want, got;

	if (!brute_bar(t, n, symbol, minute_ns, &want)) {
		CHECK(store_suite_env.ops->get_bar(s, symbol, minute_ns, &got), -ENOENT);
		return;
	}
	memset(&got, 0, sizeof(got));
	CHECK(store_suite_env.ops->get_bar(s, symbol, minute_ns, &got), 0);
	if (got.open != want.open || got.high != want.high || got.low != want.low || got.close != want.close ||
	    got.volume != want.volume || got.vwap != want.vwap || got.trade_count != want.trade_count ||
	    got.minute_ns != minute_ns || strcmp(got.symbol, symbol) != 0)
		fail_msg("bar %s@%" PRIu64 ": got o%u h%u l%u c%u v%" PRIu64 " vwap%u n%" PRIu64
			 ", want o%u h%u l%u c%u v%" PRIu64 " vwap%u n%" PRIu64,
			 symbol, minute_ns, got.open, got.high, got.low, got.close, got.volume, got.vwap,
			 got.trade_count, want.open, want.high, want.low, want.close, want.volume, want.vwap,
			 want.trade_count);
}

/* xorshift64*: deterministic data, so a failure replays. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ULL;
}

/* ---- tests --------------------------------------------------------------- */

void store_suite_idempotent(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_trade t1 = store_suite_trade(1, "AAPL", MINUTE0 + 5, 1875000, 100, true);
	struct store_trade t2 = store_suite_trade(2, "AAPL", MINUTE0 + 6, 1875100, 200, true);
	struct store_trade t1_again = t1, t1_other_session = t1;

	CHECK(ops->begin(s), 0);
	CHECK(ops->put_trade(s, &t1), 0);
	CHECK(ops->put_trade(s, &t1), 0); /* twice in one batch */
	CHECK(ops->commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), 1);

	/* a redelivery never rewrites the row, even if it differed */
	t1_again.price = 1;
	t1_again.shares = 1;
	CHECK(ops->begin(s), 0);
	CHECK(ops->put_trade(s, &t1_again), 0);
	CHECK(ops->put_trade(s, &t2), 0);
	CHECK(ops->commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), 2);
	assert_int_equal(store_suite_count("SELECT price FROM trades WHERE seq = 1"), 1875000);
	assert_int_equal(store_suite_count("SELECT shares FROM trades WHERE seq = 1"), 100);

	/* the key is (feed, session, seq): another session is another row */
	t1_other_session.session = "S2";
	CHECK(ops->begin(s), 0);
	CHECK(ops->put_trade(s, &t1_other_session), 0);
	CHECK(ops->commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), 3);
	/* every column as written */
	assert_int_equal(store_suite_count("SELECT ts_ns FROM trades WHERE seq = 2"), (int64_t)(MINUTE0 + 6));
	assert_int_equal(store_suite_count("SELECT match_number + order_reference_number + stream_seq"
					   " FROM trades WHERE seq = 2"), 20 + 200 + 1002);
	assert_int_equal(store_suite_count("SELECT notional FROM trades WHERE seq = 2"), 1875100LL * 200);
	assert_int_equal(store_suite_count("SELECT rx_ts_ns - ts_ns FROM trades WHERE seq = 2"), 5000);
	assert_int_equal(store_suite_count("SELECT kind FROM trades WHERE seq = 2"), 3);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades WHERE seq = 2 AND side = 'S'"
					   " AND printable AND symbol = 'AAPL' AND feed = 'itch'"), 1);
	store_suite_env.ops->close(s);
}

void store_suite_rollback(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_trade t = store_suite_trade(10, "MSFT", MINUTE0 + 1000, 4000000, 10, true);
	struct store_alert a = { .rule = "r", .symbol = "MSFT", .severity = "info", .message = "m",
				 .feed = "itch", .session = "S1", .seq = 10 };
	struct store_bar b;

	CHECK(ops->begin(s), 0);
	CHECK(ops->put_trade(s, &t), 0);
	CHECK(ops->put_alert(s, &a), 0);
	CHECK(ops->refresh_bar(s, "MSFT", MINUTE0), 0);
	/* inside the batch, the batch's own bar is visible */
	CHECK(ops->get_bar(s, "MSFT", MINUTE0, &b), 0);
	assert_int_equal(b.volume, 10);
	CHECK(ops->rollback(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM alerts"), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM bars_1m"), 0);
	CHECK(ops->get_bar(s, "MSFT", MINUTE0, &b), -ENOENT);
	/* and the store carries on */
	CHECK(ops->begin(s), 0);
	CHECK(ops->put_trade(s, &t), 0);
	CHECK(ops->commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), 1);
	ops->close(s);
}

/* Trades over 2 symbols x 5 minutes with many equal timestamps (so the
 * (ts_ns, seq) tie-break decides open and close), seqs unrelated to time,
 * delivered shuffled in batches with a quarter of them redelivered. */
void store_suite_bars_exact(void **state)
{
	enum { N = 600, BATCH = 37 };
	static const char *const syms[] = { "AAA", "BBB" };
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_trade *t = calloc(N + 4, sizeof(*t));
	size_t *order = calloc(N, sizeof(*order)), sent = 0, i, n = N;
	uint64_t x = 0x9e3779b97f4a7c15ULL, seqs[N];

	assert_non_null(t);
	assert_non_null(order);
	for (i = 0; i < N; i++)
		seqs[i] = 1000 + i;
	for (i = N - 1; i > 0; i--) { /* seqs in random order: not the time order */
		size_t j = rnd(&x) % (i + 1);
		uint64_t tmp = seqs[i];

		seqs[i] = seqs[j];
		seqs[j] = tmp;
	}
	for (i = 0; i < N; i++) {
		/* 8 instants per minute, both edges included: ties are the rule */
		static const uint64_t off[8] = { 0, 1, 7000000000ULL, 21000000000ULL, 30000000000ULL,
						 30000000001ULL, 59000000000ULL, NS_PER_MIN - 1 };
		uint64_t ts = MINUTE0 + (rnd(&x) % 5) * NS_PER_MIN + off[rnd(&x) % 8];

		t[i] = store_suite_trade(seqs[i], syms[rnd(&x) % 2], ts, 1000000 + (uint32_t)(rnd(&x) % 10000),
					 1 + rnd(&x) % 1000, rnd(&x) % 100 < 85);
		order[i] = i;
	}
	/* a minute whose VWAP is exactly x.5 (rounds up) and one at x.25 */
	t[n++] = store_suite_trade(1, "HALF", MINUTE0, 10001, 1, true);
	t[n++] = store_suite_trade(2, "HALF", MINUTE0 + 1, 10002, 1, true);
	t[n++] = store_suite_trade(3, "QUART", MINUTE0, 10001, 3, true);
	t[n++] = store_suite_trade(4, "QUART", MINUTE0 + 1, 10002, 1, true);
	for (i = N - 1; i > 0; i--) {
		size_t j = rnd(&x) % (i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	while (sent < N) {
		size_t end = sent + BATCH < N ? sent + BATCH : N;

		CHECK(ops->begin(s), 0);
		for (i = sent; i < end; i++) {
			CHECK(ops->put_trade(s, &t[order[i]]), 0);
			if (rnd(&x) % 4 == 0) /* redelivered: now or one from an earlier batch */
				CHECK(ops->put_trade(s, &t[order[rnd(&x) % (i + 1)]]), 0);
		}
		/* the processor refreshes each touched bar once per batch */
		for (i = sent; i < end; i++)
			CHECK(ops->refresh_bar(s, t[order[i]].symbol, t[order[i]].ts_ns - t[order[i]].ts_ns % NS_PER_MIN), 0);
		CHECK(ops->commit(s), 0);
		sent = end;
	}
	CHECK(ops->begin(s), 0);
	for (i = N; i < n; i++)
		CHECK(ops->put_trade(s, &t[i]), 0);
	CHECK(ops->refresh_bar(s, "HALF", MINUTE0), 0);
	CHECK(ops->refresh_bar(s, "QUART", MINUTE0), 0);
	CHECK(ops->commit(s), 0);

	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), (int64_t)n);
	for (size_t k = 0; k < 2; k++)
		for (uint64_t m = 0; m < 6; m++)
			assert_bar(s, t, n, syms[k], MINUTE0 + m * NS_PER_MIN);
	assert_bar(s, t, n, "HALF", MINUTE0);
	assert_bar(s, t, n, "QUART", MINUTE0);
	assert_int_equal(store_suite_count("SELECT vwap FROM bars_1m WHERE symbol = 'HALF'"), 10002);
	assert_int_equal(store_suite_count("SELECT vwap FROM bars_1m WHERE symbol = 'QUART'"), 10001);
	assert_int_equal(store_suite_count("SELECT count(*) FROM bars_1m"), 2 * 5 + 2);
	free(order);
	free(t);
	ops->close(s);
}

void store_suite_nonprintable(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_trade t[] = {
		/* minute 0: the non-printables are first, last, highest, lowest and biggest */
		store_suite_trade(1, "NP", MINUTE0 + 0, 9999999, 1000000, false),
		store_suite_trade(2, "NP", MINUTE0 + 10, 500000, 100, true),
		store_suite_trade(3, "NP", MINUTE0 + 20, 510000, 300, true),
		store_suite_trade(4, "NP", MINUTE0 + 30, 1, 1000000, false),
		store_suite_trade(5, "NP", MINUTE0 + NS_PER_MIN - 1, 7777777, 5, false),
		/* minute 1: nothing printable, so no bar */
		store_suite_trade(6, "NP", MINUTE0 + NS_PER_MIN + 1, 600000, 10, false),
	};
	struct store_bar b;

	CHECK(ops->begin(s), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(ops->put_trade(s, &t[i]), 0);
	CHECK(ops->refresh_bar(s, "NP", MINUTE0), 0);
	CHECK(ops->refresh_bar(s, "NP", MINUTE0 + NS_PER_MIN), 0);
	CHECK(ops->commit(s), 0);
	CHECK(ops->get_bar(s, "NP", MINUTE0, &b), 0);
	assert_int_equal(b.open, 500000);
	assert_int_equal(b.close, 510000);
	assert_int_equal(b.high, 510000);
	assert_int_equal(b.low, 500000);
	assert_int_equal(b.volume, 400);
	assert_int_equal(b.trade_count, 2);
	assert_int_equal(b.vwap, 507500); /* (500000*100 + 510000*300) / 400 */
	CHECK(ops->get_bar(s, "NP", MINUTE0 + NS_PER_MIN, &b), -ENOENT);
	assert_int_equal(store_suite_count("SELECT count(*) FROM bars_1m"), 1);
	/* the non-printable rows are stored all the same */
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades WHERE NOT printable"), 4);
	ops->close(s);
}

void store_suite_other_tables(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_instrument in1 = { .symbol = "AAPL", .stock_locate = 13, .json = "{\"sector\":\"tech\"}" };
	struct store_instrument in2 = { .symbol = "AAPL", .stock_locate = 14, .json = "{\"sector\":\"it\"}" };
	struct store_alert a = { .rule = "big_trade", .symbol = "AAPL", .severity = "warning",
				 .message = "notional 1e9 > 5e8", .feed = "itch", .session = "S1", .seq = 77,
				 .ts_ns = MINUTE0 + 3, .value = -1000000000, .threshold = 500000000 };
	struct store_audit au = { .component = "processor", .instance = "p1", .worker = 2,
				  .first_stream_seq = 100, .last_stream_seq = 355, .total = 256, .ok = 250,
				  .dead_lettered = 4, .skipped = 2, .commit_ts_ns = MINUTE0, .commit_duration_ns = 1234 };

	for (int round = 0; round < 2; round++) { /* the second round is a redelivery */
		CHECK(ops->begin(s), 0);
		CHECK(ops->put_instrument(s, &in1), 0);
		CHECK(ops->put_alert(s, &a), 0);
		CHECK(ops->put_audit(s, &au), 0);
		CHECK(ops->commit(s), 0);
	}
	assert_int_equal(store_suite_count("SELECT count(*) FROM alerts"), 1);
	assert_int_equal(store_suite_count("SELECT value FROM alerts WHERE rule = 'big_trade' AND seq = 77"
					   " AND severity = 'warning' AND symbol = 'AAPL'"), -1000000000);
	assert_int_equal(store_suite_count("SELECT threshold FROM alerts"), 500000000);
	assert_int_equal(store_suite_count("SELECT count(*) FROM audit"), 1);
	assert_int_equal(store_suite_count("SELECT total + ok + dead_lettered + skipped + worker FROM audit"
					   " WHERE first_stream_seq = 100 AND last_stream_seq = 355"), 256 + 250 + 4 + 2 + 2);
	assert_int_equal(store_suite_count("SELECT commit_duration_ns FROM audit"), 1234);
	/* reference data: the newest wins, still one row */
	CHECK(ops->begin(s), 0);
	CHECK(ops->put_instrument(s, &in2), 0);
	CHECK(ops->commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM instruments"), 1);
	assert_int_equal(store_suite_count("SELECT stock_locate FROM instruments WHERE json = '{\"sector\":\"it\"}'"),
			 14);
	ops->close(s);
}

void store_suite_event_tables(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_event e = { .feed = "itch", .session = "S1", .type = "A", .symbol = "AAPL", .seq = 5,
				 .ts_ns = MINUTE0 + 9, .stream_seq = 99,
				 .json = "{\"quote\":\"a \\\"b\\\" c\\\\\",\"x\":[1,2]}" };
	struct store_event routed = e;

	CHECK(ops->begin(s), 0);
	CHECK(ops->put_event(s, &e), 0);                 /* table NULL: events */
	e.table = "events";
	CHECK(ops->put_event(s, &e), 0);                 /* same row */
	routed.table = "big_orders";
	CHECK(ops->put_event(s, &routed), 0);
	CHECK(ops->put_event(s, &routed), 0);
	routed.seq = 6;
	CHECK(ops->put_event(s, &routed), 0);
	CHECK(ops->commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM events"), 1);
	assert_int_equal(store_suite_count("SELECT count(*) FROM events WHERE json = '%s'", e.json), 1);
	assert_int_equal(store_suite_count("SELECT stream_seq FROM events WHERE type = 'A' AND symbol = 'AAPL'"), 99);
	assert_int_equal(store_suite_count("SELECT count(*) FROM big_orders"), 2);

	/* names that are not identifiers or are built-in tables never reach SQL */
	static const char *const bad[] = { "Big", "x;DROP TABLE trades", "trades", "bars_1m", "mdmesh_schema",
					   "sqlite_master", "pg_class", "1abc",
					   "a_name_longer_than_forty_eight_bytes_is_refused_x" };
	CHECK(ops->begin(s), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		routed.table = bad[i];
		CHECK(ops->put_event(s, &routed), -EINVAL);
	}
	CHECK(ops->rollback(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), 0);

	/* a table made by a batch that rolls back is made again next time */
	routed.table = "rolled_back";
	CHECK(ops->begin(s), 0);
	CHECK(ops->put_event(s, &routed), 0);
	CHECK(ops->rollback(s), 0);
	CHECK(ops->begin(s), 0);
	CHECK(ops->put_event(s, &routed), 0);
	CHECK(ops->commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM rolled_back"), 1);

	/* truncate_all reaches routed tables too */
	CHECK(ops->truncate_all(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM big_orders"), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM rolled_back"), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM events"), 0);
	ops->close(s);
}

void store_suite_truncate(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_trade t = store_suite_trade(1, "AAPL", MINUTE0, 100, 1, true);
	struct store_instrument in = { .symbol = "AAPL", .stock_locate = 1, .json = "{}" };
	struct store_alert a = { .rule = "r", .symbol = "AAPL", .seq = 1 };
	struct store_audit au = { .component = "c", .instance = "i", .first_stream_seq = 1, .last_stream_seq = 2 };
	struct store_event e = { .feed = "itch", .session = "S1", .type = "A", .symbol = "AAPL", .seq = 1 };
	static const char *const tables[] = { "trades", "bars_1m", "instruments", "alerts", "audit", "events" };

	for (int inside = 0; inside < 2; inside++) {
		CHECK(ops->begin(s), 0);
		CHECK(ops->put_trade(s, &t), 0);
		CHECK(ops->refresh_bar(s, "AAPL", MINUTE0), 0);
		CHECK(ops->put_instrument(s, &in), 0);
		CHECK(ops->put_alert(s, &a), 0);
		CHECK(ops->put_audit(s, &au), 0);
		CHECK(ops->put_event(s, &e), 0);
		if (inside) /* inside a batch: part of it */
			CHECK(ops->truncate_all(s), 0);
		CHECK(ops->commit(s), 0);
		if (!inside) {
			for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
				assert_int_equal(store_suite_count("SELECT count(*) FROM %s", tables[i]), 1);
			CHECK(ops->truncate_all(s), 0);
		}
		for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
			assert_int_equal(store_suite_count("SELECT count(*) FROM %s", tables[i]), 0);
	}
	/* the schema version survives */
	assert_int_equal(store_suite_count("SELECT max(version) FROM mdmesh_schema"), 2);
	ops->close(s);
}

void store_suite_usage_errors(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_trade t = store_suite_trade(1, "AAPL", MINUTE0, 100, 1, true);
	struct store_trade huge = store_suite_trade(2, "AAPL", MINUTE0, 4000000000u, 4000000000000ULL, true);

	CHECK(ops->put_trade(s, &t), -EINVAL); /* no batch */
	CHECK(ops->commit(s), -EINVAL);
	CHECK(ops->refresh_bar(s, "AAPL", MINUTE0), -EINVAL);
	CHECK(ops->begin(s), 0);
	CHECK(ops->begin(s), -EINVAL);
	CHECK(ops->refresh_bar(s, "AAPL", MINUTE0 + 1), -EINVAL);
	CHECK(ops->put_trade(s, &huge), -EINVAL);
	assert_non_null(strstr(mdm_err_last(), "overflows"));
	CHECK(ops->put_trade(s, &t), 0);
	CHECK(ops->commit(s), 0);
	CHECK(ops->rollback(s), 0); /* nothing open: nothing to undo */
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), 1);
	ops->close(s);
	ops->close(NULL);
}

/* ---- throughput ------------------------------------------------------------ */

static double bulk_run(struct store *s, const struct store_trade *t, size_t n, bool bars)
{
	const struct store_ops *ops = store_suite_env.ops;
	uint64_t t0 = mdm_mono_ns();

	for (size_t b = 0; b < n; b += 256) {
		size_t end = b + 256 < n ? b + 256 : n;

		CHECK(ops->begin(s), 0);
		for (size_t i = b; i < end; i++)
			CHECK(ops->put_trade(s, &t[i]), 0);
		if (bars) {
			/* each (symbol, minute) of the batch once: trades come in
			 * time order, so a touched pair is new when it differs from
			 * every earlier one of the batch */
			for (size_t i = b; i < end; i++) {
				uint64_t m = t[i].ts_ns - t[i].ts_ns % NS_PER_MIN;
				bool seen = false;

				for (size_t j = b; j < i && !seen; j++)
					seen = t[j].symbol == t[i].symbol && t[j].ts_ns - t[j].ts_ns % NS_PER_MIN == m;
				if (!seen)
					CHECK(ops->refresh_bar(s, t[i].symbol, m), 0);
			}
		}
		CHECK(ops->commit(s), 0);
	}
	return (double)n * 1e9 / (double)(mdm_mono_ns() - t0);
}

void store_suite_bulk(void **state)
{
	enum { N = 100000, SYMS = 8 };
	static const char *const syms[SYMS] = { "AAPL", "MSFT", "NVDA", "AMZN", "META", "GOOGL", "TSLA", "AVGO" };
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_trade *t = calloc(N, sizeof(*t));
	uint64_t x = 42, ts = MINUTE0, last_minute;
	double puts_only, with_bars;
	size_t bars = 0;

	assert_non_null(t);
	for (size_t i = 0; i < N; i++) {
		ts += rnd(&x) % 50000000; /* a feed's pace: ~40 minutes in all */
		t[i] = store_suite_trade(i + 1, syms[rnd(&x) % SYMS], ts, 1000000 + (uint32_t)(rnd(&x) % 4000000),
					 1 + rnd(&x) % 2000, rnd(&x) % 10 != 0);
	}
	last_minute = ts - ts % NS_PER_MIN;
	puts_only = bulk_run(s, t, N, false);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), N);
	CHECK(ops->truncate_all(s), 0);
	with_bars = bulk_run(s, t, N, true);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), N);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades WHERE printable"),
			 store_suite_count("SELECT sum(trade_count) FROM bars_1m"));
	for (uint64_t m = MINUTE0; m <= last_minute; m += NS_PER_MIN) {
		for (size_t k = 0; k < SYMS; k++) {
			assert_bar(s, t, N, syms[k], m);
			bars++;
		}
	}
	assert_true(bars > 300);
	print_message("%s: %d trades in batches of 256 (one transaction each): %.0f rows/s puts only,"
		      " %.0f rows/s with bar refresh\n", ops->name, N, puts_only, with_bars);
	free(t);
	ops->close(s);
}
