/* The `executions` table (the trade feed, issue 13), shared by both store
 * backends: one schema and one set of statements, written so that SQLite
 * and PostgreSQL read the same text ($N parameters appear first in order,
 * BIGINT/TEXT/BOOLEAN types). Kept apart from the migrations of the market
 * tables: the DDL is idempotent (IF NOT EXISTS) and runs at every open.
 *
 * Columns: the key (session, exec_id); every Execution field; notional in
 * 1e-4 currency units; orig_last_qty/orig_last_px/orig_notional (as first
 * received); status (trades: active | corrected | canceled; the G and H rows
 * themselves: correction | cancel); corrected_by / canceled_by (exec_id of
 * the latest correction / the cancel); trader_name, trader_team,
 * instrument_name, instrument_sector (reference data when persisted).
 * Indexes: (symbol, transact_time_ns) for the latest by symbol, (trader,
 * transact_time_ns) by trader, (session, exec_ref_id) for corrections. */
#ifndef STORE_EXEC_H
#define STORE_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

extern const char store_exec_ddl[];
/* $1..$32 in the order of store_exec_params; inserts nothing on a duplicate key. */
extern const char store_exec_insert_sql[];
#define STORE_EXEC_NPARAMS 32
/* $1 session, $2 exec_id: one row when a G or H refers to it. */
extern const char store_exec_refs_sql[];
/* $1 session, $2 exec_id of the referenced trade: recompute its
 * corrected_by/canceled_by, then its values and status, from the G/H rows. */
extern const char store_exec_reconcile_sql[2][1024];

/* The parameters of store_exec_insert_sql, both ways: text[i] for
 * PostgreSQL's text protocol (numbers formatted into buf) and, where
 * is_num[i], num[i] for SQLite to bind natively. Strings point at x's. */
struct store_exec_row {
	const char *text[STORE_EXEC_NPARAMS];
	int64_t num[STORE_EXEC_NPARAMS];
	bool is_num[STORE_EXEC_NPARAMS];
	char buf[STORE_EXEC_NPARAMS * 24];
};
void store_exec_row_fill(const struct store_execution *x, struct store_exec_row *r);

#endif
