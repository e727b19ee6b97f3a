/* The executions table's SQL, common to both backends (store_exec.h). */
#include "store_exec.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char store_exec_ddl[] =
	"CREATE TABLE IF NOT EXISTS executions ("
	" session TEXT NOT NULL, exec_id TEXT NOT NULL, comp_ids TEXT NOT NULL,"
	" seq BIGINT NOT NULL, stream_seq BIGINT NOT NULL, exec_ref_id TEXT NOT NULL,"
	" order_id TEXT NOT NULL, cl_ord_id TEXT NOT NULL, account TEXT NOT NULL, trader TEXT NOT NULL,"
	" symbol TEXT NOT NULL, side TEXT NOT NULL, currency TEXT NOT NULL, exec_type TEXT NOT NULL,"
	" ord_status TEXT NOT NULL, last_mkt TEXT NOT NULL, security_id TEXT NOT NULL, id_source TEXT NOT NULL,"
	" last_qty BIGINT NOT NULL, last_px BIGINT NOT NULL, cum_qty BIGINT NOT NULL, leaves_qty BIGINT NOT NULL,"
	" avg_px BIGINT NOT NULL, notional BIGINT NOT NULL, transact_time_ns BIGINT NOT NULL,"
	" sending_time_ns BIGINT NOT NULL, rx_ts_ns BIGINT NOT NULL, poss_dup BOOLEAN NOT NULL,"
	" trader_name TEXT NOT NULL, trader_team TEXT NOT NULL, instrument_name TEXT NOT NULL,"
	" instrument_sector TEXT NOT NULL,"
	" orig_last_qty BIGINT NOT NULL, orig_last_px BIGINT NOT NULL, orig_notional BIGINT NOT NULL,"
	" status TEXT NOT NULL, corrected_by TEXT, canceled_by TEXT,"
	" UNIQUE (session, exec_id));"
	"CREATE INDEX IF NOT EXISTS executions_symbol_time ON executions (symbol, transact_time_ns);"
	"CREATE INDEX IF NOT EXISTS executions_trader_time ON executions (trader, transact_time_ns);"
	"CREATE INDEX IF NOT EXISTS executions_ref ON executions (session, exec_ref_id);";

const char store_exec_insert_sql[] =
	"INSERT INTO executions (session, exec_id, comp_ids, seq, stream_seq, exec_ref_id, order_id, cl_ord_id,"
	" account, trader, symbol, side, currency, exec_type, ord_status, last_mkt, security_id, id_source,"
	" last_qty, last_px, cum_qty, leaves_qty, avg_px, notional, transact_time_ns, sending_time_ns, rx_ts_ns,"
	" poss_dup, trader_name, trader_team, instrument_name, instrument_sector,"
	" orig_last_qty, orig_last_px, orig_notional, status)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,"
	" $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $19, $20, $24,"
	" CASE $14 WHEN 'G' THEN 'correction' WHEN 'H' THEN 'cancel' ELSE 'active' END)"
	" ON CONFLICT (session, exec_id) DO NOTHING";

const char store_exec_refs_sql[] =
	"SELECT 1 FROM executions WHERE session = $1 AND exec_ref_id = $2 AND exec_type IN ('G', 'H') LIMIT 1";

/* Two statements: SET expressions see the row as it was, so the values are
 * taken from corrected_by once it is written. The latest correction is the
 * one with the latest TransactTime (then MsgSeqNum, then exec_id). */
const char store_exec_reconcile_sql[2][1024] = {
	"UPDATE executions SET"
	" canceled_by = (SELECT h.exec_id FROM executions h WHERE h.session = executions.session"
	" AND h.exec_ref_id = executions.exec_id AND h.exec_type = 'H'"
	" ORDER BY h.transact_time_ns, h.seq, h.exec_id LIMIT 1),"
	" corrected_by = (SELECT g.exec_id FROM executions g WHERE g.session = executions.session"
	" AND g.exec_ref_id = executions.exec_id AND g.exec_type = 'G'"
	" ORDER BY g.transact_time_ns DESC, g.seq DESC, g.exec_id DESC LIMIT 1)"
	" WHERE session = $1 AND exec_id = $2 AND exec_type = 'F'",
	"UPDATE executions SET"
	" last_qty = coalesce((SELECT g.last_qty FROM executions g WHERE g.session = executions.session"
	" AND g.exec_id = executions.corrected_by), orig_last_qty),"
	" last_px = coalesce((SELECT g.last_px FROM executions g WHERE g.session = executions.session"
	" AND g.exec_id = executions.corrected_by), orig_last_px),"
	" notional = coalesce((SELECT g.notional FROM executions g WHERE g.session = executions.session"
	" AND g.exec_id = executions.corrected_by), orig_notional),"
	" status = CASE WHEN canceled_by IS NOT NULL THEN 'canceled'"
	" WHEN corrected_by IS NOT NULL THEN 'corrected' ELSE 'active' END"
	" WHERE session = $1 AND exec_id = $2 AND exec_type = 'F'",
};

void store_exec_row_fill(const struct store_execution *x, struct store_exec_row *r)
{
	const int64_t nums[] = { (int64_t)x->seq, (int64_t)x->stream_seq, x->last_qty, x->last_px, x->cum_qty,
				 x->leaves_qty, x->avg_px, x->notional, (int64_t)x->transact_time_ns,
				 (int64_t)x->sending_time_ns, (int64_t)x->rx_ts_ns, x->poss_dup };
	/* parameter index (0-based) of each number above */
	static const int at[] = { 3, 4, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27 };
	const char **v = r->text;
	size_t off = 0;

	v[0] = x->session, v[1] = x->exec_id, v[2] = x->comp_ids;
	v[5] = x->exec_ref_id, v[6] = x->order_id, v[7] = x->cl_ord_id, v[8] = x->account, v[9] = x->trader;
	v[10] = x->symbol, v[11] = x->side, v[12] = x->currency, v[13] = x->exec_type, v[14] = x->ord_status;
	v[15] = x->last_mkt, v[16] = x->security_id, v[17] = x->id_source;
	v[28] = x->trader_name, v[29] = x->trader_team, v[30] = x->instrument_name, v[31] = x->instrument_sector;
	memset(r->is_num, 0, sizeof(r->is_num));
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		/* 21 bytes hold any int64 and its NUL: 12 numbers fit buf */
		int n = snprintf(r->buf + off, sizeof(r->buf) - off, "%" PRId64, nums[i]);

		v[at[i]] = r->buf + off;
		r->num[at[i]] = nums[i];
		r->is_num[at[i]] = true;
		off += (size_t)n + 1;
	}
	v[27] = x->poss_dup ? "true" : "false";
}
