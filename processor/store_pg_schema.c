/* PostgreSQL store: the schema (versioned migrations, event tables) and the
 * statements prepared on every connection. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "store_pg_int.h"

/* Schema migrations, each applied inside the one migration transaction;
 * entry i takes the database from version i to i + 1. Append, never edit.
 * Unsigned 64-bit values are stored as the BIGINT with the same bits. */
static const char *const pg_migrations[] = {
	/* 1: the DESIGN.md tables. The (symbol, ts_ns, seq) index serves the
	 * latest trades of a symbol (scanned backwards) and the bar refresh. */
	"CREATE TABLE trades ("
	" feed TEXT NOT NULL, session TEXT NOT NULL, seq BIGINT NOT NULL,"
	" symbol TEXT NOT NULL, ts_ns BIGINT NOT NULL, price BIGINT NOT NULL,"
	" shares BIGINT NOT NULL, side TEXT NOT NULL, match_number BIGINT NOT NULL,"
	" kind INTEGER NOT NULL, printable BOOLEAN NOT NULL,"
	" order_reference_number BIGINT NOT NULL, stream_seq BIGINT NOT NULL,"
	" rx_ts_ns BIGINT NOT NULL, notional BIGINT NOT NULL,"
	" PRIMARY KEY (feed, session, seq));"
	"CREATE INDEX trades_symbol_ts ON trades(symbol, ts_ns, seq);"
	"CREATE INDEX trades_ts ON trades(ts_ns);"
	"CREATE INDEX trades_notional ON trades(notional);"
	"CREATE TABLE bars_1m ("
	" symbol TEXT NOT NULL, minute_ns BIGINT NOT NULL,"
	" open BIGINT NOT NULL, high BIGINT NOT NULL, low BIGINT NOT NULL, close BIGINT NOT NULL,"
	" volume BIGINT NOT NULL, vwap BIGINT NOT NULL, trade_count BIGINT NOT NULL,"
	" PRIMARY KEY (symbol, minute_ns));"
	"CREATE INDEX bars_1m_minute ON bars_1m(minute_ns);"
	"CREATE TABLE instruments ("
	" symbol TEXT NOT NULL PRIMARY KEY, stock_locate BIGINT NOT NULL, json TEXT NOT NULL,"
	" updated_ns BIGINT NOT NULL);"
	"CREATE TABLE alerts ("
	" rule TEXT NOT NULL, symbol TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL,"
	" feed TEXT NOT NULL, session TEXT NOT NULL, seq BIGINT NOT NULL, ts_ns BIGINT NOT NULL,"
	" value BIGINT NOT NULL, threshold BIGINT NOT NULL,"
	" PRIMARY KEY (rule, feed, session, seq));"
	"CREATE INDEX alerts_rule_ts ON alerts(rule, ts_ns);"
	"CREATE INDEX alerts_symbol_ts ON alerts(symbol, ts_ns);"
	"CREATE INDEX alerts_ts ON alerts(ts_ns);"
	"CREATE TABLE audit ("
	" component TEXT NOT NULL, instance TEXT NOT NULL, worker BIGINT NOT NULL,"
	" first_stream_seq BIGINT NOT NULL, last_stream_seq BIGINT NOT NULL,"
	" total BIGINT NOT NULL, ok BIGINT NOT NULL, dead_lettered BIGINT NOT NULL,"
	" skipped BIGINT NOT NULL, commit_ts_ns BIGINT NOT NULL, commit_duration_ns BIGINT NOT NULL,"
	" PRIMARY KEY (component, instance, worker, first_stream_seq, last_stream_seq));"
	"CREATE INDEX audit_ts ON audit(commit_ts_ns);"
	"CREATE TABLE mdmesh_event_tables (name TEXT NOT NULL PRIMARY KEY);"
	"CREATE TABLE events ("
	" feed TEXT NOT NULL, session TEXT NOT NULL, seq BIGINT NOT NULL,"
	" type TEXT NOT NULL, symbol TEXT NOT NULL, ts_ns BIGINT NOT NULL,"
	" stream_seq BIGINT NOT NULL, json TEXT NOT NULL,"
	" PRIMARY KEY (feed, session, seq));"
	"CREATE INDEX events_symbol_ts ON events(symbol, ts_ns);"
	"CREATE INDEX events_ts ON events(ts_ns);"
	"INSERT INTO mdmesh_event_tables(name) VALUES ('events');"
	/* The bar from the stored trades, so arrival order and redelivery cannot
	 * matter. The advisory lock makes two writers of one symbol-minute take
	 * turns; this function is VOLATILE, so the INSERT's snapshot is taken
	 * after the lock and sees the trades the other writer committed. vwap
	 * rounds half up with exact numeric sums: q + (2r >= v). */
	"CREATE FUNCTION mdmesh_refresh_bar(p_symbol TEXT, p_minute BIGINT) RETURNS void"
	" LANGUAGE plpgsql VOLATILE AS $$"
	" BEGIN"
	"  PERFORM pg_advisory_xact_lock(hashtext(p_symbol), (p_minute / 60000000000)::int);"
	"  INSERT INTO bars_1m(symbol, minute_ns, open, high, low, close, volume, vwap, trade_count)"
	"  SELECT p_symbol, p_minute,"
	"   (SELECT t.price FROM trades t WHERE t.symbol = p_symbol AND t.ts_ns >= p_minute"
	"     AND t.ts_ns < p_minute + 60000000000 AND t.printable"
	"     ORDER BY t.ts_ns, t.seq, t.feed, t.session LIMIT 1),"
	"   a.hi, a.lo,"
	"   (SELECT t.price FROM trades t WHERE t.symbol = p_symbol AND t.ts_ns >= p_minute"
	"     AND t.ts_ns < p_minute + 60000000000 AND t.printable"
	"     ORDER BY t.ts_ns DESC, t.seq DESC, t.feed DESC, t.session DESC LIMIT 1),"
	"   a.vol,"
	"   CASE WHEN a.vol > 0 THEN div(a.n, a.vol) + CASE WHEN 2 * mod(a.n, a.vol) >= a.vol THEN 1 ELSE 0 END"
	"   ELSE 0 END,"
	"   a.cnt"
	"  FROM (SELECT max(t.price) AS hi, min(t.price) AS lo, sum(t.shares) AS vol, sum(t.notional) AS n,"
	"    count(*) AS cnt FROM trades t WHERE t.symbol = p_symbol AND t.ts_ns >= p_minute"
	"    AND t.ts_ns < p_minute + 60000000000 AND t.printable) a"
	"  WHERE a.cnt > 0"
	"  ON CONFLICT (symbol, minute_ns) DO UPDATE SET open = excluded.open, high = excluded.high,"
	"   low = excluded.low, close = excluded.close, volume = excluded.volume, vwap = excluded.vwap,"
	"   trade_count = excluded.trade_count;"
	" END $$;",
	/* 2: the quote before each trade (TBBO). NULL in the rows already there
	 * (their quote is unknown); nullable without a default, so PostgreSQL
	 * adds the columns without rewriting the table. */
	"ALTER TABLE trades ADD COLUMN bid_price BIGINT, ADD COLUMN bid_size BIGINT,"
	" ADD COLUMN ask_price BIGINT, ADD COLUMN ask_size BIGINT;",
};
#define PG_SCHEMA_VERSION ((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))
const int store_pg_schema_version = PG_SCHEMA_VERSION;

/* An event table's columns and indexes; %1$s is a name store_table_name_ok
 * accepted. */
static const char pg_event_table_fmt[] =
	"SELECT pg_advisory_xact_lock(" PG_DDL_LOCK ");"
	"CREATE TABLE IF NOT EXISTS %1$s ("
	" feed TEXT NOT NULL, session TEXT NOT NULL, seq BIGINT NOT NULL,"
	" type TEXT NOT NULL, symbol TEXT NOT NULL, ts_ns BIGINT NOT NULL,"
	" stream_seq BIGINT NOT NULL, json TEXT NOT NULL,"
	" PRIMARY KEY (feed, session, seq));"
	"CREATE INDEX IF NOT EXISTS %1$s_symbol_ts ON %1$s(symbol, ts_ns);"
	"CREATE INDEX IF NOT EXISTS %1$s_ts ON %1$s(ts_ns);"
	"INSERT INTO mdmesh_event_tables(name) VALUES ('%1$s') ON CONFLICT DO NOTHING;";

static const char pg_event_insert_fmt[] =
	"INSERT INTO %s(feed, session, seq, type, symbol, ts_ns, stream_seq, json)"
	" SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::int8[],"
	" $7::int8[], $8::text[]) ON CONFLICT DO NOTHING";


const struct store_pg_stmt store_pg_stmts[PG_STMT_COUNT] = {
	[PG_TRADES] = { "mdm_trades",
			"INSERT INTO trades(feed, session, seq, symbol, ts_ns, price, shares, side, match_number,"
			" kind, printable, order_reference_number, stream_seq, rx_ts_ns, notional,"
			" bid_price, bid_size, ask_price, ask_size)"
			" SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::int8[],"
			" $6::int8[], $7::int8[], $8::text[], $9::int8[], $10::int4[], $11::bool[], $12::int8[],"
			" $13::int8[], $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::int8[],"
			" $19::int8[]) ON CONFLICT DO NOTHING",
			PG_TRADE_COLS },
	/* Reference data changes during a session: the newest JSON wins. */
	[PG_INSTRUMENT] = { "mdm_instrument",
			    "INSERT INTO instruments(symbol, stock_locate, json, updated_ns)"
			    " VALUES ($1, $2, $3, (extract(epoch FROM clock_timestamp()) * 1e9)::bigint)"
			    " ON CONFLICT (symbol) DO UPDATE SET stock_locate = excluded.stock_locate,"
			    " json = excluded.json, updated_ns = excluded.updated_ns",
			    3 },
	[PG_ALERT] = { "mdm_alert",
		       "INSERT INTO alerts(rule, symbol, severity, message, feed, session, seq, ts_ns, value, threshold)"
		       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
		       10 },
	[PG_AUDIT] = { "mdm_audit",
		       "INSERT INTO audit(component, instance, worker, first_stream_seq, last_stream_seq, total, ok,"
		       " dead_lettered, skipped, commit_ts_ns, commit_duration_ns)"
		       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
		       11 },
	/* unnest yields the pairs in array order, which store_pg_bars_flush sorted */
	[PG_BARS] = { "mdm_bars",
		      "SELECT mdmesh_refresh_bar(u.symbol, u.minute_ns)"
		      " FROM unnest($1::text[], $2::int8[]) AS u(symbol, minute_ns)",
		      2 },
	[PG_GET_BAR] = { "mdm_get_bar",
			 "SELECT open, high, low, close, volume, vwap, trade_count FROM bars_1m"
			 " WHERE symbol = $1 AND minute_ns = $2",
			 2 },
};

/* ---- schema and statements --------------------------------------------- */

/* Bring the database to PG_SCHEMA_VERSION in one transaction; concurrent
 * openers queue on the advisory lock, and the later ones find it current. */
int store_pg_migrate(struct store *s)
{
	char sql[128];
	PGresult *res;
	int version, v, err;

	err = store_pg_exec(s, "BEGIN", "begin migration");
	if (err == 0)
		err = store_pg_check(s, PQexec(s->conn, "SELECT pg_advisory_xact_lock(" PG_DDL_LOCK ")"), PGRES_TUPLES_OK,
			       "lock for migration");
	if (err == 0)
		err = store_pg_exec(s, "CREATE TABLE IF NOT EXISTS mdmesh_schema (version INTEGER NOT NULL PRIMARY KEY,"
				 " applied_ns BIGINT NOT NULL)", "create mdmesh_schema");
	if (err < 0)
		goto err;
	res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM mdmesh_schema");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		err = store_pg_fail(s, res, "read schema version");
		goto err;
	}
	version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (version > PG_SCHEMA_VERSION) {
		err = mdm_err_set(-EINVAL, "postgres %s: schema version %d is newer than this build's %d",
				  s->safe_url, version, PG_SCHEMA_VERSION);
		goto err;
	}
	for (v = version; v < PG_SCHEMA_VERSION; v++) {
		err = store_pg_exec(s, pg_migrations[v], "migrate schema");
		if (err == 0) {
			snprintf(sql, sizeof(sql),
				 "INSERT INTO mdmesh_schema VALUES (%d, (extract(epoch FROM clock_timestamp()) * 1e9)::bigint)",
				 v + 1);
			err = store_pg_exec(s, sql, "record schema version");
		}
		if (err < 0)
			goto err;
	}
	err = store_pg_exec(s, "COMMIT", "commit migration");
	if (err == 0 && version < PG_SCHEMA_VERSION)
		mdm_log_info("postgres %s: schema migrated from version %d to %d", s->safe_url, version,
			     PG_SCHEMA_VERSION);
	return err;
err:
	if (PQstatus(s->conn) == CONNECTION_OK)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	return err;
}

int store_pg_prepare(struct store *s)
{
	int i, err;

	if (s->prepared)
		return 0;
	for (i = 0; i < PG_STMT_COUNT; i++) {
		err = store_pg_check(s, PQprepare(s->conn, store_pg_stmts[i].name, store_pg_stmts[i].sql, store_pg_stmts[i].nparams, NULL),
			       PGRES_COMMAND_OK, "prepare");
		if (err < 0)
			return err;
	}
	if ((err = store_pg_exec_setup(s)) < 0)
		return err;
	s->prepared = true;
	return 0;
}

/* After (re)connecting: everything prepared or created on the old
 * connection is gone or unknown. */
void store_pg_forget_session(struct store *s)
{
	size_t i;

	s->prepared = false;
	for (i = 0; i < s->n_evtabs; i++) {
		s->evtabs[i].prepared = false;
		s->evtabs[i].ensured = false;
		s->evtabs[i].created_in_txn = false;
	}
}

/* Event table `name` ready for rows in this batch: created (DDL, once per
 * connection, or again after a rollback undid it) and its insert prepared. */
int store_pg_evtab_get(struct store *s, const char *name, struct pg_evtab **out)
{
	struct pg_evtab *t = NULL;
	char stmt[24], sql[sizeof(pg_event_insert_fmt) + STORE_TABLE_NAME_MAX];
	size_t i;
	int err;

	for (i = 0; i < s->n_evtabs && !t; i++)
		if (strcmp(s->evtabs[i].name, name) == 0)
			t = &s->evtabs[i];
	if (!t) {
		if (!store_table_name_ok(name))
			return mdm_err_set(-EINVAL, "postgres %s: '%s' is not a usable event table name"
					   " ([a-z_][a-z0-9_]*, at most %d bytes, not a built-in table)",
					   s->safe_url, name, STORE_TABLE_NAME_MAX);
		if (s->n_evtabs == s->cap_evtabs) {
			size_t cap = s->cap_evtabs ? 2 * s->cap_evtabs : 4;

			t = mdm_realloc(s->evtabs, cap * sizeof(*t));
			if (!t)
				return mdm_err_set(-ENOMEM, "postgres %s: out of memory", s->safe_url);
			s->evtabs = t;
			s->cap_evtabs = cap;
		}
		t = &s->evtabs[s->n_evtabs];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", name);
		snprintf(stmt, sizeof(stmt), "mdm_ev_%zu", s->n_evtabs);
		store_pg_bulk_init(&t->bulk, stmt, PG_EVENT_COLS);
		s->n_evtabs++;
	}
	if (!t->ensured) {
		mdm_buf_reset(&s->scratch);
		if (mdm_buf_printf(&s->scratch, pg_event_table_fmt, name) < 0)
			return mdm_err_set(-ENOMEM, "postgres %s: out of memory", s->safe_url);
		/* several statements: the result is the last one's (the INSERT) */
		if ((err = store_pg_exec(s, s->scratch.data, "create event table")) < 0)
			return err;
		t->ensured = true;
		t->created_in_txn = true;
	}
	if (!t->prepared) {
		snprintf(sql, sizeof(sql), pg_event_insert_fmt, name);
		err = store_pg_check(s, PQprepare(s->conn, t->bulk.stmt, sql, PG_EVENT_COLS, NULL), PGRES_COMMAND_OK,
			       "prepare event insert");
		if (err < 0)
			return err;
		t->prepared = true;
	}
	*out = t;
	return 0;
}
