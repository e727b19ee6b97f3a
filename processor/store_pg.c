/* PostgreSQL backend of the store (store.h), over libpq. Statements are
 * prepared once per connection. Trades and events, the high-volume rows, are
 * gathered per batch into reused array buffers and written with one
 * INSERT ... SELECT FROM unnest(...) per table and batch (one round trip
 * instead of one per row: 2-4x the rows/s measured); bar refreshes are
 * gathered the same way and run in one statement after them. The rest are
 * one prepared execution per row. So a put may report an earlier row's
 * failure, and commit the batch's: either way the batch is rolled back. A
 * lost connection is reported as -ECONNRESET and re-established by the next
 * begin(). The URL's password never reaches a log line or an error text. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_buf.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_redact.h"

#define PG_NS_PER_MIN 60000000000ULL
#define PG_URL_MAX 512
#define PG_ERR_MAX 300
/* Buffered rows per table before an early flush: bounds the buffers
 * (about 150 bytes a trade) whatever the batch size. */
#define PG_BULK_MAX_ROWS 4096
/* pg_advisory_xact_lock key serialising DDL (migration, event tables)
 * between processes: CREATE TABLE IF NOT EXISTS races otherwise. */
#define PG_DDL_LOCK "7308613722077049189"

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
};
#define PG_SCHEMA_VERSION ((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))

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

enum pg_stmt {
	PG_TRADES,
	PG_INSTRUMENT,
	PG_ALERT,
	PG_AUDIT,
	PG_BARS,
	PG_GET_BAR,
	PG_STMT_COUNT,
};

static const struct {
	const char *name, *sql;
	int nparams;
} pg_stmts[PG_STMT_COUNT] = {
	[PG_TRADES] = { "mdm_trades",
			"INSERT INTO trades(feed, session, seq, symbol, ts_ns, price, shares, side, match_number,"
			" kind, printable, order_reference_number, stream_seq, rx_ts_ns, notional)"
			" SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::int8[],"
			" $6::int8[], $7::int8[], $8::text[], $9::int8[], $10::int4[], $11::bool[], $12::int8[],"
			" $13::int8[], $14::int8[], $15::int8[]) ON CONFLICT DO NOTHING",
			15 },
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
	/* unnest yields the pairs in array order, which pg_bars_flush sorted */
	[PG_BARS] = { "mdm_bars",
		      "SELECT mdmesh_refresh_bar(u.symbol, u.minute_ns)"
		      " FROM unnest($1::text[], $2::int8[]) AS u(symbol, minute_ns)",
		      2 },
	[PG_GET_BAR] = { "mdm_get_bar",
			 "SELECT open, high, low, close, volume, vwap, trade_count FROM bars_1m"
			 " WHERE symbol = $1 AND minute_ns = $2",
			 2 },
};

#define PG_TRADE_COLS 15
#define PG_EVENT_COLS 8

/* Rows of one table gathered as PostgreSQL array literals, one per column
 * ("{a,b,...}" growing by a row at each put); the buffers only grow. */
struct pg_bulk {
	char stmt[24];                    /* prepared statement name */
	int ncols;
	size_t rows;
	struct mdm_buf col[PG_TRADE_COLS];
};

/* Bar refreshes asked for in the open batch: (symbol, minute) keys, run
 * sorted and deduplicated in one statement when the batch is flushed. */
struct pg_bar_key {
	size_t symbol;      /* offset of the NUL-terminated symbol in pg_bars.names */
	uint64_t minute_ns;
};

struct pg_bars {
	struct pg_bar_key *keys; /* grows only */
	size_t n, cap;
	struct mdm_buf names;
	struct pg_bulk arrays;   /* 2 columns: symbols, minutes */
};

/* A table put_event writes to. */
struct pg_evtab {
	char name[STORE_TABLE_NAME_MAX + 1];
	bool ensured;        /* table known to exist (DDL ran on this connection, committed or in this batch) */
	bool prepared;       /* insert statement prepared on this connection */
	bool created_in_txn; /* DDL ran in the open batch: undone if it rolls back */
	struct pg_bulk bulk;
};

struct store {
	PGconn *conn;
	char safe_url[PG_URL_MAX];        /* the URL with its password replaced by *** */
	char *password;                   /* as written in the URL (scrubbed from error texts too) */
	bool prepared;                    /* pg_stmts exist on this connection */
	bool broken;                      /* connection lost: begin() reconnects */
	struct pg_bulk trades;
	struct pg_bars bars;
	struct pg_evtab *evtabs;          /* grows only */
	size_t n_evtabs, cap_evtabs;
	struct mdm_buf scratch;           /* DDL text, error text */
};

/* ---- credentials out of every text ------------------------------------ */

/* The connection password written in `url` (userinfo, else the first
 * password= parameter), mdm_strndup'd, or NULL: error texts are scrubbed of
 * it too. What is shown of the URL is mdm_redact's business. */
static char *pg_url_password(const char *url)
{
	const char *p = strstr(url, "://"), *auth, *end, *at = NULL, *colon = NULL, *q;

	auth = p ? p + 3 : url;
	end = auth + strcspn(auth, "/?");
	for (q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	if (at)
		colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon)
		return mdm_strndup(colon + 1, (size_t)(at - colon - 1));
	for (q = at ? at : url; (q = strstr(q, "password=")); q += 9)
		if (q > url && (q[-1] == '?' || q[-1] == '&'))
			return mdm_strndup(q + 9, strcspn(q + 9, "&"));
	return NULL;
}

void store_url_redact(const char *url, char *out, size_t cap)
{
	mdm_redact(url ? url : "", MDM_REDACT_MASK, out, cap);
}

/* Copy `text` to out on one line, with every occurrence of the password
 * cut (servers do not echo it; this makes sure a future message that did
 * would still not leak it). */
static void pg_text_scrub(const struct store *s, const char *text, char *out, size_t cap)
{
	size_t n = 0, pwlen = s->password ? strlen(s->password) : 0;

	while (*text && n + 1 < cap) {
		if (pwlen && strncmp(text, s->password, pwlen) == 0) {
			if (n + 4 >= cap)
				break;
			memcpy(out + n, "***", 3);
			n += 3;
			text += pwlen;
			continue;
		}
		/* one line: libpq's newlines and tabs become single spaces */
		if (*text == '\n' || *text == '\t') {
			if (n > 0 && out[n - 1] != ' ')
				out[n++] = ' ';
		} else {
			out[n++] = *text;
		}
		text++;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* ---- errors ------------------------------------------------------------ */

/* The store's errno for a failed result: a lost connection first (whatever
 * the SQLSTATE says), then the SQLSTATE classes that mean "later". */
static int pg_errno(struct store *s, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(s->conn) != CONNECTION_OK) {
		s->broken = true;
		return -ECONNRESET;
	}
	if (!st)
		return -EIO;
	/* 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now */
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P0", 4) == 0) {
		s->broken = true;
		return -ECONNRESET;
	}
	/* serialization failure, deadlock, lock not available, too many connections */
	if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0 ||
	    strcmp(st, "53300") == 0)
		return -EAGAIN;
	if (strcmp(st, "53100") == 0) /* disk_full */
		return -ENOSPC;
	if (strcmp(st, "53200") == 0) /* out_of_memory */
		return -ENOMEM;
	return -EIO;
}

/* Record a failure (errno mapped from res / the connection) and clear res. */
static int pg_fail(struct store *s, PGresult *res, const char *what)
{
	char msg[PG_ERR_MAX];
	int err = pg_errno(s, res);
	const char *raw = res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(s->conn);

	pg_text_scrub(s, raw, msg, sizeof(msg));
	PQclear(res);
	return mdm_err_set(err, "postgres %s: %s: %s", s->safe_url, what, msg[0] ? msg : "failed");
}

/* Check a command result: 0, or the mapped error (res is cleared either way). */
static int pg_check(struct store *s, PGresult *res, ExecStatusType want, const char *what)
{
	if (res && PQresultStatus(res) == want) {
		PQclear(res);
		return 0;
	}
	return pg_fail(s, res, what);
}

static int pg_exec(struct store *s, const char *sql, const char *what)
{
	return pg_check(s, PQexec(s->conn, sql), PGRES_COMMAND_OK, what);
}

/* Notices (e.g. "relation already exists, skipping") go to the debug log,
 * not to libpq's default of stderr. */
static void pg_notice(void *ctx, const char *message)
{
	struct store *s = ctx;
	char msg[PG_ERR_MAX];

	pg_text_scrub(s, message, msg, sizeof(msg));
	mdm_log_debug("postgres %s: %s", s->safe_url, msg);
}

/* ---- schema and statements --------------------------------------------- */

/* Bring the database to PG_SCHEMA_VERSION in one transaction; concurrent
 * openers queue on the advisory lock, and the later ones find it current. */
static int pg_migrate(struct store *s)
{
	char sql[128];
	PGresult *res;
	int version, v, err;

	err = pg_exec(s, "BEGIN", "begin migration");
	if (err == 0)
		err = pg_check(s, PQexec(s->conn, "SELECT pg_advisory_xact_lock(" PG_DDL_LOCK ")"), PGRES_TUPLES_OK,
			       "lock for migration");
	if (err == 0)
		err = pg_exec(s, "CREATE TABLE IF NOT EXISTS mdmesh_schema (version INTEGER NOT NULL PRIMARY KEY,"
				 " applied_ns BIGINT NOT NULL)", "create mdmesh_schema");
	if (err < 0)
		goto err;
	res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM mdmesh_schema");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		err = pg_fail(s, res, "read schema version");
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
		err = pg_exec(s, pg_migrations[v], "migrate schema");
		if (err == 0) {
			snprintf(sql, sizeof(sql),
				 "INSERT INTO mdmesh_schema VALUES (%d, (extract(epoch FROM clock_timestamp()) * 1e9)::bigint)",
				 v + 1);
			err = pg_exec(s, sql, "record schema version");
		}
		if (err < 0)
			goto err;
	}
	err = pg_exec(s, "COMMIT", "commit migration");
	if (err == 0 && version < PG_SCHEMA_VERSION)
		mdm_log_info("postgres %s: schema migrated from version %d to %d", s->safe_url, version,
			     PG_SCHEMA_VERSION);
	return err;
err:
	if (PQstatus(s->conn) == CONNECTION_OK)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	return err;
}

static int pg_prepare(struct store *s)
{
	int i, err;

	if (s->prepared)
		return 0;
	for (i = 0; i < PG_STMT_COUNT; i++) {
		err = pg_check(s, PQprepare(s->conn, pg_stmts[i].name, pg_stmts[i].sql, pg_stmts[i].nparams, NULL),
			       PGRES_COMMAND_OK, "prepare");
		if (err < 0)
			return err;
	}
	s->prepared = true;
	return 0;
}

/* After (re)connecting: everything prepared or created on the old
 * connection is gone or unknown. */
static void pg_forget_session(struct store *s)
{
	size_t i;

	s->prepared = false;
	for (i = 0; i < s->n_evtabs; i++) {
		s->evtabs[i].prepared = false;
		s->evtabs[i].ensured = false;
		s->evtabs[i].created_in_txn = false;
	}
}

/* ---- bulk rows ---------------------------------------------------------- */

static void pg_bulk_init(struct pg_bulk *b, const char *stmt, int ncols)
{
	int i;

	snprintf(b->stmt, sizeof(b->stmt), "%s", stmt);
	b->ncols = ncols;
	b->rows = 0;
	for (i = 0; i < PG_TRADE_COLS; i++)
		b->col[i] = (struct mdm_buf)MDM_BUF_INIT;
}

static void pg_bulk_reset(struct pg_bulk *b)
{
	int i;

	for (i = 0; i < b->ncols; i++)
		mdm_buf_reset(&b->col[i]);
	b->rows = 0;
}

static void pg_bulk_fini(struct pg_bulk *b)
{
	int i;

	for (i = 0; i < b->ncols; i++)
		mdm_buf_fini(&b->col[i]);
}

/* Start column i's element of the current row: "{" for the first row, "," after. */
static void pg_col_sep(struct pg_bulk *b, int i)
{
	mdm_buf_putc(&b->col[i], b->rows ? ',' : '{');
}

/* A text element, double-quoted with \ and " escaped: array-literal syntax,
 * not SQL (the array travels as a parameter). */
static void pg_col_text(struct pg_bulk *b, int i, const char *v)
{
	struct mdm_buf *c = &b->col[i];
	const char *p;

	pg_col_sep(b, i);
	if (mdm_buf_reserve(c, 2 + 2 * strlen(v ? v : "")) < 0)
		return;
	c->data[c->len++] = '"';
	for (p = v ? v : ""; *p; p++) {
		if (*p == '"' || *p == '\\')
			c->data[c->len++] = '\\';
		c->data[c->len++] = *p;
	}
	c->data[c->len++] = '"';
	c->data[c->len] = '\0';
}

/* An int64 element (unsigned values go as the int64 with the same bits). */
static void pg_col_i64(struct pg_bulk *b, int i, int64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	pg_col_sep(b, i);
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	mdm_buf_append(&b->col[i], p, (size_t)(tmp + sizeof(tmp) - p));
}

static void pg_col_bool(struct pg_bulk *b, int i, bool v)
{
	pg_col_sep(b, i);
	mdm_buf_putc(&b->col[i], v ? 't' : 'f');
}

/* Send the gathered rows as one statement and empty the buffers. */
static int pg_bulk_flush(struct store *s, struct pg_bulk *b, const char *what, ExecStatusType want)
{
	const char *params[PG_TRADE_COLS];
	int i, err;

	if (b->rows == 0)
		return 0;
	for (i = 0; i < b->ncols; i++) {
		mdm_buf_putc(&b->col[i], '}');
		if (b->col[i].oom) {
			pg_bulk_reset(b);
			for (i = 0; i < b->ncols; i++)
				b->col[i].oom = 0;
			return mdm_err_set(-ENOMEM, "postgres %s: %s: out of memory", s->safe_url, what);
		}
		params[i] = b->col[i].data;
	}
	err = pg_check(s, PQexecPrepared(s->conn, b->stmt, b->ncols, params, NULL, NULL, 0), want, what);
	pg_bulk_reset(b);
	return err;
}

static int pg_bar_key_cmp(const void *a, const void *b, void *ctx)
{
	const struct pg_bar_key *x = a, *y = b;
	const char *names = ctx;
	int c = strcmp(names + x->symbol, names + y->symbol);

	if (c != 0)
		return c;
	return x->minute_ns < y->minute_ns ? -1 : x->minute_ns > y->minute_ns;
}

static void pg_bars_reset(struct pg_bars *b)
{
	b->n = 0;
	mdm_buf_reset(&b->names);
	b->names.oom = 0;
	pg_bulk_reset(&b->arrays);
}

/* Run the gathered refreshes (after the trades are in). Sorted, so two
 * writers take the bars' advisory locks in the same order and cannot
 * deadlock on them; deduplicated, so each bar is computed once. */
static int pg_bars_flush(struct store *s)
{
	struct pg_bars *b = &s->bars;
	size_t i;
	int err;

	if (b->n == 0)
		return 0;
	if (b->names.oom) {
		pg_bars_reset(b);
		return mdm_err_set(-ENOMEM, "postgres %s: refresh bars: out of memory", s->safe_url);
	}
	qsort_r(b->keys, b->n, sizeof(b->keys[0]), pg_bar_key_cmp, b->names.data);
	for (i = 0; i < b->n; i++) {
		if (i > 0 && pg_bar_key_cmp(&b->keys[i - 1], &b->keys[i], b->names.data) == 0)
			continue;
		pg_col_text(&b->arrays, 0, b->names.data + b->keys[i].symbol);
		pg_col_i64(&b->arrays, 1, (int64_t)b->keys[i].minute_ns);
		b->arrays.rows++;
	}
	err = pg_bulk_flush(s, &b->arrays, "refresh bars", PGRES_TUPLES_OK);
	pg_bars_reset(b);
	return err;
}

/* Everything gathered, in dependency order: bars are computed from trades. */
static int pg_flush_all(struct store *s)
{
	size_t i;
	int err = pg_bulk_flush(s, &s->trades, "insert trades", PGRES_COMMAND_OK);

	for (i = 0; err == 0 && i < s->n_evtabs; i++)
		err = pg_bulk_flush(s, &s->evtabs[i].bulk, "insert events", PGRES_COMMAND_OK);
	if (err == 0)
		err = pg_bars_flush(s);
	return err;
}

static void pg_discard_all(struct store *s)
{
	size_t i;

	pg_bulk_reset(&s->trades);
	pg_bars_reset(&s->bars);
	for (i = 0; i < s->n_evtabs; i++)
		pg_bulk_reset(&s->evtabs[i].bulk);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void pg_close(struct store *s)
{
	size_t i;

	if (!s)
		return;
	if (s->conn)
		PQfinish(s->conn); /* an open batch dies with the session: never committed */
	pg_bulk_fini(&s->trades);
	pg_bulk_fini(&s->bars.arrays);
	mdm_buf_fini(&s->bars.names);
	mdm_free(s->bars.keys);
	for (i = 0; i < s->n_evtabs; i++)
		pg_bulk_fini(&s->evtabs[i].bulk);
	mdm_free(s->evtabs);
	mdm_buf_fini(&s->scratch);
	mdm_free(s->password);
	mdm_free(s);
}

/* A failed first connection: which of the open() errors it is. libpq gives
 * no SQLSTATE here, only its message. */
static int pg_connect_errno(const char *msg)
{
	if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied") ||
	    strstr(msg, "authentication failed"))
		return -EACCES;
	if (strstr(msg, "timeout expired"))
		return -ETIMEDOUT;
	if (strstr(msg, "does not exist"))
		return -ENOENT;
	return -ECONNREFUSED;
}

static int pg_open(struct store **out, const char *url)
{
	/* Defaults the URL may override: keywords after the expanded dbname win. */
	const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *vals[] = { "5", "mdmesh", url, NULL };
	char msg[PG_ERR_MAX];
	struct store *s;
	int err;

	*out = NULL;
	if (!url || !*url)
		return mdm_err_set(-EINVAL, "postgres: empty store URL");
	s = mdm_calloc(1, sizeof(*s));
	if (!s)
		return mdm_err_set(-ENOMEM, "postgres: out of memory");
	store_url_redact(url, s->safe_url, sizeof(s->safe_url));
	s->password = pg_url_password(url);
	pg_bulk_init(&s->trades, pg_stmts[PG_TRADES].name, PG_TRADE_COLS);
	pg_bulk_init(&s->bars.arrays, pg_stmts[PG_BARS].name, 2);
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (!s->conn) {
		err = mdm_err_set(-ENOMEM, "postgres %s: out of memory", s->safe_url);
		goto err;
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		pg_text_scrub(s, PQerrorMessage(s->conn), msg, sizeof(msg));
		err = mdm_err_set(pg_connect_errno(msg), "postgres %s: cannot connect: %s", s->safe_url, msg);
		goto err;
	}
	PQsetNoticeProcessor(s->conn, pg_notice, s);
	err = pg_migrate(s);
	if (err == 0)
		err = pg_prepare(s);
	if (err < 0)
		goto err;
	mdm_log_info("postgres %s: connected (server %d, schema version %d)", s->safe_url,
		     PQserverVersion(s->conn), PG_SCHEMA_VERSION);
	*out = s;
	return 0;
err:
	pg_close(s);
	return err;
}

/* Re-establish a lost session: reconnect, check the schema (the server may
 * have come back from a restore), prepare again. */
static int pg_reconnect(struct store *s)
{
	char msg[PG_ERR_MAX];
	int err;

	pg_forget_session(s);
	pg_discard_all(s);
	PQreset(s->conn);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		pg_text_scrub(s, PQerrorMessage(s->conn), msg, sizeof(msg));
		return mdm_err_set(-ECONNRESET, "postgres %s: reconnect failed: %s", s->safe_url, msg);
	}
	err = pg_migrate(s);
	if (err == 0)
		err = pg_prepare(s);
	if (err < 0)
		return err;
	s->broken = false;
	mdm_log_info("postgres %s: reconnected", s->safe_url);
	return 0;
}

static bool pg_in_txn(const struct store *s)
{
	PGTransactionStatusType st = PQtransactionStatus(s->conn);

	return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

static int pg_need_txn(struct store *s, const char *what)
{
	if (s->broken)
		return mdm_err_set(-ECONNRESET, "postgres %s: %s: connection lost (the next begin reconnects)",
				   s->safe_url, what);
	if (!pg_in_txn(s))
		return mdm_err_set(-EINVAL, "postgres %s: %s outside a batch (call begin first)", s->safe_url, what);
	return 0;
}

static int pg_begin(struct store *s)
{
	int err;

	if (!s->broken && pg_in_txn(s))
		return mdm_err_set(-EINVAL, "postgres %s: begin inside an open batch", s->safe_url);
	if (s->broken || PQstatus(s->conn) != CONNECTION_OK) {
		if ((err = pg_reconnect(s)) < 0)
			return err;
	}
	err = pg_exec(s, "BEGIN", "begin");
	/* An idle connection learns of a server restart only now: one
	 * reconnect and retry, so the batch after an outage just works. */
	if (err == -ECONNRESET) {
		if ((err = pg_reconnect(s)) < 0)
			return err;
		err = pg_exec(s, "BEGIN", "begin");
	}
	return err;
}

static void pg_evtabs_settle(struct store *s, bool committed)
{
	size_t i;

	for (i = 0; i < s->n_evtabs; i++) {
		/* prepared statements outlive a rollback, the table does not */
		if (s->evtabs[i].created_in_txn && !committed)
			s->evtabs[i].ensured = false;
		s->evtabs[i].created_in_txn = false;
	}
}

static int pg_commit(struct store *s)
{
	int err;

	if ((err = pg_need_txn(s, "commit")) < 0)
		return err;
	err = pg_flush_all(s);
	if (err == 0)
		err = pg_exec(s, "COMMIT", "commit");
	if (err == 0)
		pg_evtabs_settle(s, true);
	return err;
}

static int pg_rollback(struct store *s)
{
	int err = 0;

	pg_discard_all(s);
	pg_evtabs_settle(s, false);
	/* A lost session took its transaction with it: nothing to undo. */
	if (!s->broken && PQstatus(s->conn) == CONNECTION_OK && pg_in_txn(s))
		err = pg_exec(s, "ROLLBACK", "rollback");
	return err == -ECONNRESET ? 0 : err;
}

/* ---- puts --------------------------------------------------------------- */

static int pg_put_trade(struct store *s, const struct store_trade *t)
{
	struct pg_bulk *b = &s->trades;
	char side[2] = { t->side, '\0' };
	__int128 notional = (__int128)t->price * (__int128)t->shares;
	int err;

	if ((err = pg_need_txn(s, "put_trade")) < 0)
		return err;
	if (notional > INT64_MAX)
		return mdm_err_set(-EINVAL, "postgres %s: trade %s.%s.%" PRIu64 ": price * shares overflows",
				   s->safe_url, t->feed, t->session, t->seq);
	pg_col_text(b, 0, t->feed);
	pg_col_text(b, 1, t->session);
	pg_col_i64(b, 2, (int64_t)t->seq);
	pg_col_text(b, 3, t->symbol);
	pg_col_i64(b, 4, (int64_t)t->ts_ns);
	pg_col_i64(b, 5, t->price);
	pg_col_i64(b, 6, (int64_t)t->shares);
	pg_col_text(b, 7, side);
	pg_col_i64(b, 8, (int64_t)t->match_number);
	pg_col_i64(b, 9, t->kind);
	pg_col_bool(b, 10, t->printable);
	pg_col_i64(b, 11, (int64_t)t->order_reference_number);
	pg_col_i64(b, 12, (int64_t)t->stream_seq);
	pg_col_i64(b, 13, (int64_t)t->rx_ts_ns);
	pg_col_i64(b, 14, (int64_t)notional);
	b->rows++;
	return b->rows >= PG_BULK_MAX_ROWS ? pg_bulk_flush(s, b, "insert trades", PGRES_COMMAND_OK) : 0;
}

/* One prepared execution with text parameters. */
static int pg_exec_stmt(struct store *s, enum pg_stmt id, const char *const *params, const char *what)
{
	return pg_check(s, PQexecPrepared(s->conn, pg_stmts[id].name, pg_stmts[id].nparams, params, NULL, NULL, 0),
			PGRES_COMMAND_OK, what);
}

static const char *pg_str(const char *v)
{
	return v ? v : "";
}

static int pg_put_instrument(struct store *s, const struct store_instrument *in)
{
	char locate[16];
	const char *p[3] = { pg_str(in->symbol), locate, in->json ? in->json : "{}" };
	int err;

	if ((err = pg_need_txn(s, "put_instrument")) < 0)
		return err;
	snprintf(locate, sizeof(locate), "%" PRIu32, in->stock_locate);
	return pg_exec_stmt(s, PG_INSTRUMENT, p, "upsert instrument");
}

static int pg_put_alert(struct store *s, const struct store_alert *a)
{
	char seq[24], ts[24], value[24], threshold[24];
	const char *p[10] = { pg_str(a->rule), pg_str(a->symbol), pg_str(a->severity), pg_str(a->message),
			      pg_str(a->feed), pg_str(a->session), seq, ts, value, threshold };
	int err;

	if ((err = pg_need_txn(s, "put_alert")) < 0)
		return err;
	snprintf(seq, sizeof(seq), "%" PRId64, (int64_t)a->seq);
	snprintf(ts, sizeof(ts), "%" PRId64, (int64_t)a->ts_ns);
	snprintf(value, sizeof(value), "%" PRId64, a->value);
	snprintf(threshold, sizeof(threshold), "%" PRId64, a->threshold);
	return pg_exec_stmt(s, PG_ALERT, p, "insert alert");
}

static int pg_put_audit(struct store *s, const struct store_audit *a)
{
	char v[9][24];
	const char *p[11] = { pg_str(a->component), pg_str(a->instance), v[0], v[1], v[2], v[3],
			      v[4], v[5], v[6], v[7], v[8] };
	int err;

	if ((err = pg_need_txn(s, "put_audit")) < 0)
		return err;
	snprintf(v[0], sizeof(v[0]), "%" PRIu32, a->worker);
	snprintf(v[1], sizeof(v[1]), "%" PRId64, (int64_t)a->first_stream_seq);
	snprintf(v[2], sizeof(v[2]), "%" PRId64, (int64_t)a->last_stream_seq);
	snprintf(v[3], sizeof(v[3]), "%" PRId64, (int64_t)a->total);
	snprintf(v[4], sizeof(v[4]), "%" PRId64, (int64_t)a->ok);
	snprintf(v[5], sizeof(v[5]), "%" PRId64, (int64_t)a->dead_lettered);
	snprintf(v[6], sizeof(v[6]), "%" PRId64, (int64_t)a->skipped);
	snprintf(v[7], sizeof(v[7]), "%" PRId64, (int64_t)a->commit_ts_ns);
	snprintf(v[8], sizeof(v[8]), "%" PRId64, (int64_t)a->commit_duration_ns);
	return pg_exec_stmt(s, PG_AUDIT, p, "insert audit");
}

/* Event table `name` ready for rows in this batch: created (DDL, once per
 * connection, or again after a rollback undid it) and its insert prepared. */
static int pg_evtab_get(struct store *s, const char *name, struct pg_evtab **out)
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
		pg_bulk_init(&t->bulk, stmt, PG_EVENT_COLS);
		s->n_evtabs++;
	}
	if (!t->ensured) {
		mdm_buf_reset(&s->scratch);
		if (mdm_buf_printf(&s->scratch, pg_event_table_fmt, name) < 0)
			return mdm_err_set(-ENOMEM, "postgres %s: out of memory", s->safe_url);
		/* several statements: the result is the last one's (the INSERT) */
		if ((err = pg_exec(s, s->scratch.data, "create event table")) < 0)
			return err;
		t->ensured = true;
		t->created_in_txn = true;
	}
	if (!t->prepared) {
		snprintf(sql, sizeof(sql), pg_event_insert_fmt, name);
		err = pg_check(s, PQprepare(s->conn, t->bulk.stmt, sql, PG_EVENT_COLS, NULL), PGRES_COMMAND_OK,
			       "prepare event insert");
		if (err < 0)
			return err;
		t->prepared = true;
	}
	*out = t;
	return 0;
}

static int pg_put_event(struct store *s, const struct store_event *e)
{
	struct pg_evtab *t;
	struct pg_bulk *b;
	int err;

	if ((err = pg_need_txn(s, "put_event")) < 0)
		return err;
	if ((err = pg_evtab_get(s, e->table && *e->table ? e->table : "events", &t)) < 0)
		return err;
	b = &t->bulk;
	pg_col_text(b, 0, e->feed);
	pg_col_text(b, 1, e->session);
	pg_col_i64(b, 2, (int64_t)e->seq);
	pg_col_text(b, 3, e->type);
	pg_col_text(b, 4, e->symbol);
	pg_col_i64(b, 5, (int64_t)e->ts_ns);
	pg_col_i64(b, 6, (int64_t)e->stream_seq);
	pg_col_text(b, 7, e->json ? e->json : "{}");
	b->rows++;
	return b->rows >= PG_BULK_MAX_ROWS ? pg_bulk_flush(s, b, "insert events", PGRES_COMMAND_OK) : 0;
}

/* ---- bars and truncation ----------------------------------------------- */

static int pg_refresh_bar(struct store *s, const char *symbol, uint64_t minute_ns)
{
	struct pg_bars *b = &s->bars;
	int err;

	if ((err = pg_need_txn(s, "refresh_bar")) < 0)
		return err;
	if (minute_ns % PG_NS_PER_MIN != 0 || minute_ns > INT64_MAX - PG_NS_PER_MIN)
		return mdm_err_set(-EINVAL, "postgres %s: bar minute %" PRIu64 " is not a minute start", s->safe_url,
				   minute_ns);
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		struct pg_bar_key *k = mdm_realloc(b->keys, cap * sizeof(*k));

		if (!k)
			return mdm_err_set(-ENOMEM, "postgres %s: out of memory", s->safe_url);
		b->keys = k;
		b->cap = cap;
	}
	/* the caller's symbol is borrowed for the call only: keep a copy */
	b->keys[b->n].symbol = b->names.len;
	b->keys[b->n].minute_ns = minute_ns;
	mdm_buf_append(&b->names, pg_str(symbol), strlen(pg_str(symbol)) + 1);
	b->n++;
	return 0;
}

static int pg_get_bar(struct store *s, const char *symbol, uint64_t minute_ns, struct store_bar *out)
{
	char minute[24];
	const char *p[2] = { pg_str(symbol), minute };
	PGresult *res;
	int err;

	if (s->broken)
		return mdm_err_set(-ECONNRESET, "postgres %s: get_bar: connection lost", s->safe_url);
	/* inside a batch, the bar must include the batch's gathered rows */
	if (pg_in_txn(s) && (err = pg_flush_all(s)) < 0)
		return err;
	snprintf(minute, sizeof(minute), "%" PRId64, (int64_t)minute_ns);
	res = PQexecPrepared(s->conn, pg_stmts[PG_GET_BAR].name, 2, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(s, res, "read bar");
	if (PQntuples(res) == 0) {
		PQclear(res);
		return mdm_err_set(-ENOENT, "postgres %s: no bar for %s at %" PRIu64, s->safe_url, pg_str(symbol),
				   minute_ns);
	}
	out->symbol = symbol;
	out->minute_ns = minute_ns;
	out->open = (uint32_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	out->high = (uint32_t)strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	out->low = (uint32_t)strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	out->close = (uint32_t)strtoull(PQgetvalue(res, 0, 3), NULL, 10);
	out->volume = (uint64_t)strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	out->vwap = (uint32_t)strtoull(PQgetvalue(res, 0, 5), NULL, 10);
	out->trade_count = (uint64_t)strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	PQclear(res);
	return 0;
}

/* TRUNCATE every table, routed event tables included (listed in the
 * registry; names checked again, since anyone may edit the database). */
static int pg_truncate_all(struct store *s)
{
	bool own_txn;
	PGresult *res;
	int i, n, err;

	if (s->broken || PQstatus(s->conn) != CONNECTION_OK)
		return mdm_err_set(-ECONNRESET, "postgres %s: truncate: connection lost", s->safe_url);
	own_txn = !pg_in_txn(s);
	if (own_txn && (err = pg_exec(s, "BEGIN", "begin truncate")) < 0)
		return err;
	pg_discard_all(s);
	res = PQexec(s->conn, "SELECT name FROM mdmesh_event_tables ORDER BY name");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		err = pg_fail(s, res, "list event tables");
		goto out;
	}
	mdm_buf_reset(&s->scratch);
	mdm_buf_puts(&s->scratch, "TRUNCATE trades, bars_1m, instruments, alerts, audit");
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		const char *name = PQgetvalue(res, i, 0);

		if (!store_table_name_ok(name)) {
			PQclear(res);
			err = mdm_err_set(-EIO, "postgres %s: mdmesh_event_tables lists '%s', not a table name",
					  s->safe_url, name);
			goto out;
		}
		mdm_buf_printf(&s->scratch, ", %s", name);
	}
	PQclear(res);
	if (s->scratch.oom) {
		err = mdm_err_set(-ENOMEM, "postgres %s: out of memory", s->safe_url);
		goto out;
	}
	err = pg_exec(s, s->scratch.data, "truncate");
out:
	if (own_txn) {
		if (err == 0)
			err = pg_exec(s, "COMMIT", "commit truncate");
		else if (PQstatus(s->conn) == CONNECTION_OK)
			PQclear(PQexec(s->conn, "ROLLBACK"));
	}
	return err;
}

const struct store_ops store_pg_ops = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.put_trade = pg_put_trade,
	.put_instrument = pg_put_instrument,
	.put_alert = pg_put_alert,
	.put_audit = pg_put_audit,
	.put_event = pg_put_event,
	.refresh_bar = pg_refresh_bar,
	.get_bar = pg_get_bar,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.truncate_all = pg_truncate_all,
};
