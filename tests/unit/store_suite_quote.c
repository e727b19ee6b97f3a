/* The quote before each trade (TBBO columns bid_price, bid_size, ask_price,
 * ask_size), on every backend: stored as given, an empty side as 0, NULL when
 * the event carried no quote (also between quoted rows of one batch: nothing
 * carried over from the row before), and a file or database at schema
 * version 1 upgraded in place with its rows kept and their quote NULL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "mdm_err.h"
#include "store_suite.h"

#define MINUTE0 1784122200000000000ULL

static struct store_trade quoted(uint64_t seq, uint32_t bid, uint64_t bid_size, uint32_t ask, uint64_t ask_size)
{
	struct store_trade t = store_suite_trade(seq, "TBBO", MINUTE0 + seq, 1500000, 100, true);

	t.has_quote = true;
	t.bid_price = bid;
	t.bid_size = bid_size;
	t.ask_price = ask;
	t.ask_size = ask_size;
	return t;
}

static void assert_quote(uint64_t seq, int64_t bid, int64_t bid_size, int64_t ask, int64_t ask_size)
{
	int64_t got[4] = {
		store_suite_count("SELECT bid_price FROM trades WHERE seq = %llu", (unsigned long long)seq),
		store_suite_count("SELECT bid_size FROM trades WHERE seq = %llu", (unsigned long long)seq),
		store_suite_count("SELECT ask_price FROM trades WHERE seq = %llu", (unsigned long long)seq),
		store_suite_count("SELECT ask_size FROM trades WHERE seq = %llu", (unsigned long long)seq),
	};

	if (got[0] != bid || got[1] != bid_size || got[2] != ask || got[3] != ask_size)
		fail_msg("trade %llu: quote %lld x %lld / %lld x %lld, want %lld x %lld / %lld x %lld",
			 (unsigned long long)seq, (long long)got[0], (long long)got[1], (long long)got[2],
			 (long long)got[3], (long long)bid, (long long)bid_size, (long long)ask, (long long)ask_size);
}

static void assert_no_quote(uint64_t seq)
{
	if (store_suite_count("SELECT count(*) FROM trades WHERE seq = %llu AND bid_price IS NULL"
			      " AND bid_size IS NULL AND ask_price IS NULL AND ask_size IS NULL",
			      (unsigned long long)seq) != 1)
		fail_msg("trade %llu: quote not NULL", (unsigned long long)seq);
}

void store_suite_quote(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_trade t[] = {
		quoted(1, 1499900, 300, 1500100, 200),
		store_suite_trade(2, "TBBO", MINUTE0 + 2, 1500000, 100, true), /* no quote on the event */
		quoted(3, 0, 0, 1500100, 4000000000ULL * 4), /* empty bid side; a size past 32 bits */
		quoted(4, 1499900, 300, 0, 0),                /* empty ask side */
	};

	CHECK(ops->begin(s), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(ops->put_trade(s, &t[i]), 0);
	CHECK(ops->commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), 4);
	assert_quote(1, 1499900, 300, 1500100, 200);
	assert_no_quote(2);
	assert_quote(3, 0, 0, 1500100, 16000000000LL);
	assert_quote(4, 1499900, 300, 0, 0);
	ops->close(s);
}

/* Schema version 1 is migration 1 alone, and migration 2 only added the
 * quote columns: dropping them and its version row gives back a genuine
 * version-1 store, with a row in it. Opening it must upgrade it in place. */
void store_suite_migrate_quote(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	struct store_trade old = store_suite_trade(1, "OLD", MINUTE0 + 1, 1000000, 10, true);
	struct store_trade now = quoted(2, 999900, 50, 1000100, 70);

	CHECK(ops->begin(s), 0);
	CHECK(ops->put_trade(s, &old), 0);
	CHECK(ops->commit(s), 0);
	ops->close(s);
	store_suite_env.exec(store_suite_env.url, "ALTER TABLE trades DROP COLUMN bid_price");
	store_suite_env.exec(store_suite_env.url, "ALTER TABLE trades DROP COLUMN bid_size");
	store_suite_env.exec(store_suite_env.url, "ALTER TABLE trades DROP COLUMN ask_price");
	store_suite_env.exec(store_suite_env.url, "ALTER TABLE trades DROP COLUMN ask_size");
	store_suite_env.exec(store_suite_env.url, "DELETE FROM mdmesh_schema WHERE version >= 2");
	assert_int_equal(store_suite_count("SELECT max(version) FROM mdmesh_schema"), 1);

	s = NULL;
	CHECK(ops->open(&s, store_suite_env.url), 0);
	assert_int_equal(store_suite_count("SELECT max(version) FROM mdmesh_schema"), 2);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades"), 1);
	assert_int_equal(store_suite_count("SELECT price FROM trades WHERE seq = 1"), 1000000);
	assert_no_quote(1);
	CHECK(ops->begin(s), 0);
	CHECK(ops->put_trade(s, &now), 0);
	CHECK(ops->commit(s), 0);
	assert_quote(2, 999900, 50, 1000100, 70);
	ops->close(s);

	/* opened again: current, nothing migrated twice */
	s = NULL;
	CHECK(ops->open(&s, store_suite_env.url), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM mdmesh_schema WHERE version = 2"), 1);
	ops->close(s);
}
