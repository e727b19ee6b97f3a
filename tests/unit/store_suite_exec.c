/* Backend-independent tests of the executions table (store_exec.h): run by
 * test_store_sqlite and test_store_pg through STORE_SUITE_TESTS. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mdm_err.h"
#include "store_suite.h"

struct store_execution store_suite_exec_row(const char *exec_id, const char *type, const char *ref, uint64_t seq,
					    int64_t qty, int64_t px)
{
	struct store_execution x = {
		.session = "dc1", .exec_id = exec_id, .comp_ids = "BRK-FIRM", .seq = seq, .stream_seq = seq + 100,
		.exec_ref_id = ref, .order_id = "O1", .cl_ord_id = "C1", .account = "ACC", .trader = "T1",
		.symbol = "AAPL", .side = "1", .currency = "USD", .exec_type = type, .ord_status = "2",
		.last_mkt = "XNAS", .security_id = "", .id_source = "", .last_qty = qty, .last_px = px,
		.cum_qty = qty, .leaves_qty = 0, .avg_px = px, .notional = qty / 10000 * (px / 100000000),
		.transact_time_ns = 1700000000000000000ULL + seq, .sending_time_ns = 1700000000000000001ULL + seq,
		.rx_ts_ns = 1700000000000000002ULL + seq, .poss_dup = seq % 2, .trader_name = "Ann",
		.trader_team = "rates", .instrument_name = "Apple", .instrument_sector = "tech",
	};

	return x;
}

static void put_all(struct store *s, const struct store_execution *x, size_t n)
{
	const struct store_ops *ops = store_suite_env.ops;

	CHECK(ops->begin(s), 0);
	for (size_t i = 0; i < n; i++)
		CHECK(ops->put_execution(s, &x[i]), 0);
	CHECK(ops->commit(s), 0);
}

static int64_t q(const char *sql)
{
	return store_suite_count("%s", sql);
}

/* Exactly once, corrections and cancels in either order, rollback. */
void store_suite_executions(void **state)
{
	const struct store_ops *ops = store_suite_env.ops;
	struct store *s = store_suite_open();
	/* 100 shares at $10, corrected to 120 at $11, another trade canceled */
	struct store_execution in_order[] = {
		store_suite_exec_row("E1", "F", "", 1, 10000000000LL, 1000000000LL),
		store_suite_exec_row("E2", "F", "", 2, 500000000LL, 2000000000LL),
		store_suite_exec_row("E3", "G", "E1", 3, 12000000000LL, 1100000000LL),
		store_suite_exec_row("E4", "H", "E2", 4, 500000000LL, 2000000000LL),
		store_suite_exec_row("E5", "F", "", 5, 100000000LL, 100000000LL),
	};
	struct store_execution reversed[5];

	(void)state;
	put_all(s, in_order, 5);
	put_all(s, in_order, 5); /* a redelivery changes nothing */
	assert_int_equal(q("SELECT count(*) FROM executions"), 5);
	assert_int_equal(q("SELECT last_qty FROM executions WHERE exec_id = 'E1'"), 12000000000LL);
	assert_int_equal(q("SELECT orig_last_qty FROM executions WHERE exec_id = 'E1'"), 10000000000LL);
	assert_int_equal(q("SELECT last_px FROM executions WHERE exec_id = 'E1' AND status = 'corrected'"
			   " AND corrected_by = 'E3' AND canceled_by IS NULL"), 1100000000LL);
	assert_int_equal(q("SELECT notional FROM executions WHERE exec_id = 'E1'"), 13200000);
	assert_int_equal(q("SELECT count(*) FROM executions WHERE exec_id = 'E2' AND status = 'canceled'"
			   " AND canceled_by = 'E4' AND last_qty = 500000000"), 1);
	assert_int_equal(q("SELECT count(*) FROM executions WHERE status = 'active'"), 1);
	assert_int_equal(q("SELECT count(*) FROM executions WHERE exec_id = 'E3' AND status = 'correction'"
			   " AND exec_ref_id = 'E1' AND trader_team = 'rates' AND instrument_sector = 'tech'"
			   " AND comp_ids = 'BRK-FIRM' AND stream_seq = 103"), 1);
	assert_int_equal(q("SELECT transact_time_ns - 1700000000000000000 FROM executions WHERE exec_id = 'E5'"), 5);
	assert_int_equal(q("SELECT count(*) FROM executions WHERE poss_dup"), 3);

	/* the same rows, corrections and cancels first: the same table */
	CHECK(ops->truncate_all(s), 0);
	for (size_t i = 0; i < 5; i++)
		reversed[i] = in_order[4 - i];
	for (size_t i = 0; i < 5; i++)
		put_all(s, &reversed[i], 1);
	assert_int_equal(q("SELECT count(*) FROM executions"), 5);
	assert_int_equal(q("SELECT count(*) FROM executions WHERE exec_id = 'E1' AND status = 'corrected'"
			   " AND last_qty = 12000000000 AND last_px = 1100000000 AND notional = 13200000"), 1);
	assert_int_equal(q("SELECT count(*) FROM executions WHERE exec_id = 'E2' AND status = 'canceled'"), 1);

	/* a later correction wins, an earlier one redelivered does not undo it */
	{
		struct store_execution g2 = store_suite_exec_row("E6", "G", "E1", 6, 13000000000LL, 1000000000LL);

		put_all(s, &g2, 1);
		put_all(s, &in_order[2], 1);
		assert_int_equal(q("SELECT count(*) FROM executions WHERE exec_id = 'E1' AND corrected_by = 'E6'"
				   " AND last_qty = 13000000000 AND notional = 13000000"), 1);
	}

	/* a rolled-back batch leaves nothing */
	{
		struct store_execution x = store_suite_exec_row("E9", "F", "", 9, 1, 1);

		CHECK(ops->begin(s), 0);
		CHECK(ops->put_execution(s, &x), 0);
		CHECK(ops->rollback(s), 0);
		assert_int_equal(q("SELECT count(*) FROM executions WHERE exec_id = 'E9'"), 0);
	}
	/* the same exec_id in another session is another execution */
	{
		struct store_execution x = store_suite_exec_row("E1", "F", "", 1, 1, 1);

		x.session = "dc2";
		put_all(s, &x, 1);
		assert_int_equal(q("SELECT count(*) FROM executions WHERE exec_id = 'E1'"), 2);
	}
	ops->close(s);
}
