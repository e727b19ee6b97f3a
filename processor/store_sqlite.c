/* SQLite backend of the store (store.h): one file per deployment, WAL journal,
 * every statement prepared once at open (or at the first row of a routed
 * event table) and reset after each use, idempotent inserts, one IMMEDIATE
 * transaction per batch (a writer waits up to SQ_BUSY_TIMEOUT_MS for another
 * one, then gets -EAGAIN). Schema versions live in mdmesh_schema. */
#include "store_sqlite.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "store_exec.h"

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_NS_PER_MIN 60000000000LL

/* Schema migrations, applied in order inside one IMMEDIATE transaction; entry
 * i takes the file from version i to i + 1. Append, never edit: deployed
 * files have run the old entries. Unsigned 64-bit values (seq, match numbers,
 * ns) are stored as the int64 with the same bits. */
static const char *const sq_migrations[] = {
	/* 1: the DESIGN.md tables. WITHOUT ROWID clusters rows on their natural
	 * key, so the idempotency key costs no second index; secondary indexes
	 * carry the key columns, which makes (symbol, ts_ns, seq) order
	 * (symbol, ts_ns, seq, feed, session): the bar's open/close order. */
	"CREATE TABLE trades ("
	" feed TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL,"
	" symbol TEXT NOT NULL, ts_ns INTEGER NOT NULL, price INTEGER NOT NULL,"
	" shares INTEGER NOT NULL, side TEXT NOT NULL, match_number INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, printable INTEGER NOT NULL,"
	" order_reference_number INTEGER NOT NULL, stream_seq INTEGER NOT NULL,"
	" rx_ts_ns INTEGER NOT NULL, notional INTEGER NOT NULL,"
	" PRIMARY KEY (feed, session, seq)) WITHOUT ROWID;"
	"CREATE INDEX trades_symbol_ts ON trades(symbol, ts_ns, seq);"
	"CREATE INDEX trades_ts ON trades(ts_ns);"
	"CREATE INDEX trades_notional ON trades(notional);"
	"CREATE TABLE bars_1m ("
	" symbol TEXT NOT NULL, minute_ns INTEGER NOT NULL,"
	" open INTEGER NOT NULL, high INTEGER NOT NULL, low INTEGER NOT NULL, close INTEGER NOT NULL,"
	" volume INTEGER NOT NULL, vwap INTEGER NOT NULL, trade_count INTEGER NOT NULL,"
	" PRIMARY KEY (symbol, minute_ns)) WITHOUT ROWID;"
	"CREATE INDEX bars_1m_minute ON bars_1m(minute_ns);"
	"CREATE TABLE instruments ("
	" symbol TEXT NOT NULL PRIMARY KEY, stock_locate INTEGER NOT NULL, json TEXT NOT NULL,"
	" updated_ns INTEGER NOT NULL);"
	"CREATE TABLE alerts ("
	" rule TEXT NOT NULL, symbol TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL,"
	" feed TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL, ts_ns INTEGER NOT NULL,"
	" value INTEGER NOT NULL, threshold INTEGER NOT NULL,"
	" PRIMARY KEY (rule, feed, session, seq)) WITHOUT ROWID;"
	"CREATE INDEX alerts_rule_ts ON alerts(rule, ts_ns);"
	"CREATE INDEX alerts_symbol_ts ON alerts(symbol, ts_ns);"
	"CREATE INDEX alerts_ts ON alerts(ts_ns);"
	"CREATE TABLE audit ("
	" component TEXT NOT NULL, instance TEXT NOT NULL, worker INTEGER NOT NULL,"
	" first_stream_seq INTEGER NOT NULL, last_stream_seq INTEGER NOT NULL,"
	" total INTEGER NOT NULL, ok INTEGER NOT NULL, dead_lettered INTEGER NOT NULL,"
	" skipped INTEGER NOT NULL, commit_ts_ns INTEGER NOT NULL, commit_duration_ns INTEGER NOT NULL,"
	" PRIMARY KEY (component, instance, worker, first_stream_seq, last_stream_seq)) WITHOUT ROWID;"
	"CREATE INDEX audit_ts ON audit(commit_ts_ns);"
	/* Tables put_event writes to (events and rule tables), for truncate_all;
	 * events itself has the columns of sq_event_table_fmt. */
	"CREATE TABLE mdmesh_event_tables (name TEXT NOT NULL PRIMARY KEY);"
	"CREATE TABLE events ("
	" feed TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL,"
	" type TEXT NOT NULL, symbol TEXT NOT NULL, ts_ns INTEGER NOT NULL,"
	" stream_seq INTEGER NOT NULL, json TEXT NOT NULL,"
	" PRIMARY KEY (feed, session, seq)) WITHOUT ROWID;"
	"CREATE INDEX events_symbol_ts ON events(symbol, ts_ns);"
	"CREATE INDEX events_ts ON events(ts_ns);"
	"INSERT INTO mdmesh_event_tables(name) VALUES ('events');",
	/* 2: the quote before each trade (TBBO). NULL in the rows already there:
	 * their quote is unknown, not an empty book. */
	"ALTER TABLE trades ADD COLUMN bid_price INTEGER;"
	"ALTER TABLE trades ADD COLUMN bid_size INTEGER;"
	"ALTER TABLE trades ADD COLUMN ask_price INTEGER;"
	"ALTER TABLE trades ADD COLUMN ask_size INTEGER;",
};
#define SQ_SCHEMA_VERSION ((int)(sizeof(sq_migrations) / sizeof(sq_migrations[0])))

/* An event table's columns and indexes; %s is the validated table name. */
static const char sq_event_table_fmt[] =
	"CREATE TABLE IF NOT EXISTS %1$s ("
	" feed TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL,"
	" type TEXT NOT NULL, symbol TEXT NOT NULL, ts_ns INTEGER NOT NULL,"
	" stream_seq INTEGER NOT NULL, json TEXT NOT NULL,"
	" PRIMARY KEY (feed, session, seq)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS %1$s_symbol_ts ON %1$s(symbol, ts_ns);"
	"CREATE INDEX IF NOT EXISTS %1$s_ts ON %1$s(ts_ns);"
	"INSERT INTO mdmesh_event_tables(name) VALUES ('%1$s') ON CONFLICT DO NOTHING;";

enum sq_stmt {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_TRADE,
	SQ_INSTRUMENT,
	SQ_ALERT,
	SQ_AUDIT,
	SQ_BAR,
	SQ_GET_BAR,
	SQ_STMT_COUNT,
};

static const char *const sq_sql[SQ_STMT_COUNT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_TRADE] = "INSERT INTO trades(feed, session, seq, symbol, ts_ns, price, shares, side,"
		     " match_number, kind, printable, order_reference_number, stream_seq, rx_ts_ns, notional,"
		     " bid_price, bid_size, ask_price, ask_size)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
		     " ON CONFLICT DO NOTHING",
	/* Reference data changes during a session: the newest JSON wins. */
	[SQ_INSTRUMENT] = "INSERT INTO instruments(symbol, stock_locate, json, updated_ns) VALUES (?1, ?2, ?3, ?4)"
			  " ON CONFLICT (symbol) DO UPDATE SET stock_locate = excluded.stock_locate,"
			  " json = excluded.json, updated_ns = excluded.updated_ns",
	[SQ_ALERT] = "INSERT INTO alerts(rule, symbol, severity, message, feed, session, seq, ts_ns, value, threshold)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
	[SQ_AUDIT] = "INSERT INTO audit(component, instance, worker, first_stream_seq, last_stream_seq, total, ok,"
		     " dead_lettered, skipped, commit_ts_ns, commit_duration_ns)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
	/* The whole bar from the stored trades, so arrival order and redelivery
	 * cannot matter. vwap rounds half up in integers: q + (2r >= v). The
	 * outer WHERE makes a minute without printable trades write nothing. */
	[SQ_BAR] = "INSERT OR REPLACE INTO bars_1m(symbol, minute_ns, open, high, low, close, volume, vwap, trade_count)"
		   " SELECT ?1, ?2,"
		   " (SELECT price FROM trades WHERE symbol = ?1 AND ts_ns >= ?2 AND ts_ns < ?3 AND printable = 1"
		   "  ORDER BY ts_ns, seq, feed, session LIMIT 1),"
		   " hi, lo,"
		   " (SELECT price FROM trades WHERE symbol = ?1 AND ts_ns >= ?2 AND ts_ns < ?3 AND printable = 1"
		   "  ORDER BY ts_ns DESC, seq DESC, feed DESC, session DESC LIMIT 1),"
		   " vol, CASE WHEN vol > 0 THEN n / vol + (2 * (n % vol) >= vol) ELSE 0 END, cnt"
		   " FROM (SELECT max(price) AS hi, min(price) AS lo, sum(shares) AS vol, sum(notional) AS n,"
		   "  count(*) AS cnt FROM trades"
		   "  WHERE symbol = ?1 AND ts_ns >= ?2 AND ts_ns < ?3 AND printable = 1)"
		   " WHERE cnt > 0",
	[SQ_GET_BAR] = "SELECT open, high, low, close, volume, vwap, trade_count FROM bars_1m"
		       " WHERE symbol = ?1 AND minute_ns = ?2",
};

/* A table put_event writes to, with its insert statement. */
struct sq_evtab {
	char name[STORE_TABLE_NAME_MAX + 1];
	sqlite3_stmt *insert;
	bool created_in_txn; /* made by the open batch: gone again if it rolls back */
};

struct store {
	sqlite3 *db;
	char *path;                       /* for error text */
	sqlite3_stmt *st[SQ_STMT_COUNT];  /* prepared at open, reset after each use */
	struct sq_evtab *evtabs;          /* grows only */
	size_t n_evtabs, cap_evtabs;
	struct sq_exec *exec;             /* executions statements (store_sqlite_exec.c) */
};

/* Map an SQLite result code to the store's errno contract and record the
 * detail. BUSY/LOCKED: another writer holds the file; FULL and I/O errors:
 * the disk; both clear up on their own, so the batch is retried later. */
static int sq_err(struct store *s, int rc, const char *what)
{
	int err;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = -EAGAIN;
		break;
	case SQLITE_FULL:
		err = -ENOSPC;
		break;
	case SQLITE_IOERR:
		err = rc == SQLITE_IOERR_NOMEM ? -ENOMEM : -ENOSPC;
		break;
	case SQLITE_NOMEM:
		err = -ENOMEM;
		break;
	default:
		err = -EIO;
		break;
	}
	return mdm_err_set(err, "sqlite %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Step a write statement to completion and reset it for the next use. */
static int sq_run(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st), err = 0;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sq_err(s, rc, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

static int sq_exec(struct store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_err(s, rc, what);
}

static bool sq_in_txn(const struct store *s)
{
	return !sqlite3_get_autocommit(s->db);
}

static int sq_need_txn(struct store *s, const char *what)
{
	if (!sq_in_txn(s))
		return mdm_err_set(-EINVAL, "sqlite %s: %s outside a batch (call begin first)", s->path, what);
	return 0;
}

static void sq_text(sqlite3_stmt *st, int i, const char *v)
{
	/* SQLITE_STATIC: the caller's strings outlive the step, no copy needed */
	sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

static void sq_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* mkdir -p of the directory holding `path`. */
static int sq_mkdir_parents(const char *path)
{
	char *dir = mdm_strdup(path), *p;
	int err = 0;

	if (!dir)
		return mdm_err_set(-ENOMEM, "sqlite %s: out of memory", path);
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			err = mdm_err_set(-errno, "sqlite %s: cannot create directory %s: %s", path, dir,
					  strerror(errno));
			break;
		}
		*p = '/';
	}
	mdm_free(dir);
	return err;
}

static int sq_schema_version(struct store *s, int *out)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM mdmesh_schema", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "read schema version");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	rc = rc == SQLITE_ROW ? 0 : sq_err(s, rc, "read schema version");
	sqlite3_finalize(st);
	return rc;
}

/* Bring the file to SQ_SCHEMA_VERSION. IMMEDIATE: when several workers open
 * one new file at once, the first migrates and the others wait (busy
 * timeout), then find the version current. */
static int sq_migrate(struct store *s)
{
	char sql[128];
	int version = 0, err, v;

	err = sq_exec(s, "BEGIN IMMEDIATE", "begin migration");
	if (err < 0)
		return err;
	err = sq_exec(s, "CREATE TABLE IF NOT EXISTS mdmesh_schema (version INTEGER NOT NULL PRIMARY KEY,"
			 " applied_ns INTEGER NOT NULL)", "create mdmesh_schema");
	if (err == 0)
		err = sq_schema_version(s, &version);
	if (err == 0 && version > SQ_SCHEMA_VERSION)
		err = mdm_err_set(-EINVAL, "sqlite %s: schema version %d is newer than this build's %d", s->path,
				  version, SQ_SCHEMA_VERSION);
	for (v = version; err == 0 && v < SQ_SCHEMA_VERSION; v++) {
		err = sq_exec(s, sq_migrations[v], "migrate schema");
		if (err == 0) {
			snprintf(sql, sizeof(sql), "INSERT INTO mdmesh_schema VALUES (%d, %" PRIu64 ")", v + 1,
				 mdm_real_ns());
			err = sq_exec(s, sql, "record schema version");
		}
	}
	if (err < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	err = sq_exec(s, "COMMIT", "commit migration");
	if (err == 0 && version < SQ_SCHEMA_VERSION)
		mdm_log_info("sqlite %s: schema migrated from version %d to %d", s->path, version, SQ_SCHEMA_VERSION);
	return err;
}

static void sq_close(struct store *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n_evtabs; i++)
		sqlite3_finalize(s->evtabs[i].insert);
	mdm_free(s->evtabs);
	store_sqlite_exec_free(s->exec);
	for (i = 0; i < SQ_STMT_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db) {
		/* an open batch was never committed: it must not be */
		if (sq_in_txn(s))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close_v2(s->db);
	}
	mdm_free(s->path);
	mdm_free(s);
}

/* "sqlite:///abs/path", "sqlite://rel/path", "sqlite:path", "file:..." (an
 * SQLite URI) or a plain path. */
static const char *sq_path_of(const char *url)
{
	if (strncmp(url, "sqlite://", 9) == 0)
		return url + 9;
	if (strncmp(url, "sqlite:", 7) == 0)
		return url + 7;
	return url;
}

static int sq_open(struct store **out, const char *url)
{
	const char *path;
	struct store *s;
	sqlite3_stmt *st;
	int rc, err, i, flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	bool uri;

	*out = NULL;
	if (!url || !*url || !*(path = sq_path_of(url)))
		return mdm_err_set(-EINVAL, "sqlite: empty store path");
	uri = strncmp(path, "file:", 5) == 0;
	if (uri)
		flags |= SQLITE_OPEN_URI;
	else if (strcmp(path, ":memory:") != 0 && (err = sq_mkdir_parents(path)) < 0)
		return err;
	s = mdm_calloc(1, sizeof(*s));
	if (!s || !(s->path = mdm_strdup(path))) {
		mdm_free(s);
		return mdm_err_set(-ENOMEM, "sqlite %s: out of memory", path);
	}
	rc = sqlite3_open_v2(path, &s->db, flags, NULL);
	if (rc != SQLITE_OK) {
		err = s->db ? sq_err(s, rc, "open") : mdm_err_set(-ENOMEM, "sqlite %s: out of memory", path);
		if (s->db && sqlite3_system_errno(s->db) != 0)
			err = mdm_err_set(-sqlite3_system_errno(s->db), "sqlite %s: cannot open: %s", path,
					  strerror(sqlite3_system_errno(s->db)));
		goto err;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);
	/* WAL: readers (mdmesh tools, sqlite3 shell) never block the writer.
	 * synchronous=NORMAL: a commit is durable against a process crash and
	 * loses at most the last commits on power loss, never consistency. */
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0 &&
		    strcmp((const char *)sqlite3_column_text(st, 0), "memory") != 0)
			mdm_log_warn("sqlite %s: journal mode is %s, not wal", path, sqlite3_column_text(st, 0));
		rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK) {
		err = sq_err(s, rc, "set WAL mode");
		goto err;
	}
	/* Bigger checkpoints: the random-keyed notional index dirties a page
	 * per row, and a 64 MiB WAL lets a checkpoint write each such page once
	 * for many batches instead of once every few (3-4x cheaper commits
	 * measured); journal_size_limit gives the space back afterwards. A
	 * 32 MiB page cache keeps the indexes' inner pages in memory. */
	err = sq_exec(s, "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=16384;"
			 " PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-32768", "set pragmas");
	if (err == 0)
		err = sq_migrate(s);
	if (err == 0)
		err = sq_exec(s, store_exec_ddl, "create executions");
	for (i = 0; err == 0 && i < SQ_STMT_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
		if (rc != SQLITE_OK)
			err = sq_err(s, rc, "prepare");
	}
	if (err < 0)
		goto err;
	*out = s;
	return 0;
err:
	sq_close(s);
	return err;
}

static int sq_begin(struct store *s)
{
	if (sq_in_txn(s))
		return mdm_err_set(-EINVAL, "sqlite %s: begin inside an open batch", s->path);
	return sq_run(s, s->st[SQ_BEGIN], "begin");
}

/* Forget the event tables this batch created: they are gone with it. */
static void sq_evtabs_settle(struct store *s, bool committed)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_evtabs; i++) {
		if (s->evtabs[i].created_in_txn && !committed) {
			sqlite3_finalize(s->evtabs[i].insert);
			continue;
		}
		s->evtabs[i].created_in_txn = false;
		s->evtabs[n++] = s->evtabs[i];
	}
	s->n_evtabs = n;
}

static int sq_commit(struct store *s)
{
	int err;

	if (!sq_in_txn(s))
		return mdm_err_set(-EINVAL, "sqlite %s: commit without a batch", s->path);
	err = sq_run(s, s->st[SQ_COMMIT], "commit");
	/* a failed COMMIT may leave the batch open (BUSY) or already rolled
	 * back (FULL, I/O): the caller's rollback handles both */
	if (err == 0)
		sq_evtabs_settle(s, true);
	return err;
}

static int sq_rollback(struct store *s)
{
	int err = 0;

	/* SQLite rolls a batch back by itself after some errors (FULL, IOERR,
	 * NOMEM): then there is nothing left to undo, and that is success. */
	if (sq_in_txn(s))
		err = sq_run(s, s->st[SQ_ROLLBACK], "rollback");
	/* even when ROLLBACK failed: re-creating a table that survived costs
	 * an idempotent DDL, trusting one that did not fails a later batch */
	sq_evtabs_settle(s, false);
	return err;
}

static int sq_put_trade(struct store *s, const struct store_trade *t)
{
	sqlite3_stmt *st = s->st[SQ_TRADE];
	char side[2] = { t->side, '\0' };
	__int128 notional = (__int128)t->price * (__int128)t->shares;
	int err;

	if ((err = sq_need_txn(s, "put_trade")) < 0)
		return err;
	if (notional > INT64_MAX)
		return mdm_err_set(-EINVAL, "sqlite %s: trade %s.%s.%" PRIu64 ": price * shares overflows", s->path,
				   t->feed, t->session, t->seq);
	sq_text(st, 1, t->feed);
	sq_text(st, 2, t->session);
	sq_u64(st, 3, t->seq);
	sq_text(st, 4, t->symbol);
	sq_u64(st, 5, t->ts_ns);
	sqlite3_bind_int64(st, 6, t->price);
	sq_u64(st, 7, t->shares);
	sq_text(st, 8, side);
	sq_u64(st, 9, t->match_number);
	sqlite3_bind_int(st, 10, t->kind);
	sqlite3_bind_int(st, 11, t->printable);
	sq_u64(st, 12, t->order_reference_number);
	sq_u64(st, 13, t->stream_seq);
	sq_u64(st, 14, t->rx_ts_ns);
	sqlite3_bind_int64(st, 15, (sqlite3_int64)notional);
	if (t->has_quote) {
		sqlite3_bind_int64(st, 16, t->bid_price);
		sq_u64(st, 17, t->bid_size);
		sqlite3_bind_int64(st, 18, t->ask_price);
		sq_u64(st, 19, t->ask_size);
	} else {
		/* a reset statement keeps its bindings: clear the last trade's quote */
		for (int i = 16; i <= 19; i++)
			sqlite3_bind_null(st, i);
	}
	return sq_run(s, st, "insert trade");
}

static int sq_put_instrument(struct store *s, const struct store_instrument *in)
{
	sqlite3_stmt *st = s->st[SQ_INSTRUMENT];
	int err;

	if ((err = sq_need_txn(s, "put_instrument")) < 0)
		return err;
	sq_text(st, 1, in->symbol);
	sqlite3_bind_int64(st, 2, in->stock_locate);
	sq_text(st, 3, in->json ? in->json : "{}");
	sq_u64(st, 4, mdm_real_ns());
	return sq_run(s, st, "upsert instrument");
}

static int sq_put_alert(struct store *s, const struct store_alert *a)
{
	sqlite3_stmt *st = s->st[SQ_ALERT];
	int err;

	if ((err = sq_need_txn(s, "put_alert")) < 0)
		return err;
	sq_text(st, 1, a->rule);
	sq_text(st, 2, a->symbol);
	sq_text(st, 3, a->severity);
	sq_text(st, 4, a->message);
	sq_text(st, 5, a->feed);
	sq_text(st, 6, a->session);
	sq_u64(st, 7, a->seq);
	sq_u64(st, 8, a->ts_ns);
	sqlite3_bind_int64(st, 9, a->value);
	sqlite3_bind_int64(st, 10, a->threshold);
	return sq_run(s, st, "insert alert");
}

static int sq_put_audit(struct store *s, const struct store_audit *a)
{
	sqlite3_stmt *st = s->st[SQ_AUDIT];
	int err;

	if ((err = sq_need_txn(s, "put_audit")) < 0)
		return err;
	sq_text(st, 1, a->component);
	sq_text(st, 2, a->instance);
	sqlite3_bind_int64(st, 3, a->worker);
	sq_u64(st, 4, a->first_stream_seq);
	sq_u64(st, 5, a->last_stream_seq);
	sq_u64(st, 6, a->total);
	sq_u64(st, 7, a->ok);
	sq_u64(st, 8, a->dead_lettered);
	sq_u64(st, 9, a->skipped);
	sq_u64(st, 10, a->commit_ts_ns);
	sq_u64(st, 11, a->commit_duration_ns);
	return sq_run(s, st, "insert audit");
}

/* The insert statement of event table `name`, creating the table (and its
 * registry row) on first use in this connection. */
static int sq_evtab_get(struct store *s, const char *name, sqlite3_stmt **out)
{
	char ddl[sizeof(sq_event_table_fmt) + 8 * STORE_TABLE_NAME_MAX], sql[128 + STORE_TABLE_NAME_MAX];
	struct sq_evtab *t;
	size_t i;
	int rc, err;

	for (i = 0; i < s->n_evtabs; i++) {
		if (strcmp(s->evtabs[i].name, name) == 0) {
			*out = s->evtabs[i].insert;
			return 0;
		}
	}
	if (!store_table_name_ok(name))
		return mdm_err_set(-EINVAL, "sqlite %s: '%s' is not a usable event table name"
				   " ([a-z_][a-z0-9_]*, at most %d bytes, not a built-in table)",
				   s->path, name, STORE_TABLE_NAME_MAX);
	if (s->n_evtabs == s->cap_evtabs) {
		size_t cap = s->cap_evtabs ? 2 * s->cap_evtabs : 4;

		t = mdm_realloc(s->evtabs, cap * sizeof(*t));
		if (!t)
			return mdm_err_set(-ENOMEM, "sqlite %s: out of memory", s->path);
		s->evtabs = t;
		s->cap_evtabs = cap;
	}
	snprintf(ddl, sizeof(ddl), sq_event_table_fmt, name);
	if ((err = sq_exec(s, ddl, "create event table")) < 0)
		return err;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s(feed, session, seq, type, symbol, ts_ns, stream_seq, json)"
		 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING", name);
	t = &s->evtabs[s->n_evtabs];
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->insert, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "prepare event insert");
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->created_in_txn = true;
	s->n_evtabs++;
	*out = t->insert;
	return 0;
}

static int sq_put_event(struct store *s, const struct store_event *e)
{
	sqlite3_stmt *st;
	int err;

	if ((err = sq_need_txn(s, "put_event")) < 0)
		return err;
	if ((err = sq_evtab_get(s, e->table && *e->table ? e->table : "events", &st)) < 0)
		return err;
	sq_text(st, 1, e->feed);
	sq_text(st, 2, e->session);
	sq_u64(st, 3, e->seq);
	sq_text(st, 4, e->type);
	sq_text(st, 5, e->symbol);
	sq_u64(st, 6, e->ts_ns);
	sq_u64(st, 7, e->stream_seq);
	sq_text(st, 8, e->json ? e->json : "{}");
	return sq_run(s, st, "insert event");
}

static int sq_refresh_bar(struct store *s, const char *symbol, uint64_t minute_ns)
{
	sqlite3_stmt *st = s->st[SQ_BAR];
	int err;

	if ((err = sq_need_txn(s, "refresh_bar")) < 0)
		return err;
	if (minute_ns % SQ_NS_PER_MIN != 0 || minute_ns > INT64_MAX - SQ_NS_PER_MIN)
		return mdm_err_set(-EINVAL, "sqlite %s: bar minute %" PRIu64 " is not a minute start", s->path,
				   minute_ns);
	sq_text(st, 1, symbol);
	sq_u64(st, 2, minute_ns);
	sq_u64(st, 3, minute_ns + SQ_NS_PER_MIN);
	return sq_run(s, st, "refresh bar");
}

static int sq_get_bar(struct store *s, const char *symbol, uint64_t minute_ns, struct store_bar *out)
{
	sqlite3_stmt *st = s->st[SQ_GET_BAR];
	int rc, err = 0;

	sq_text(st, 1, symbol);
	sq_u64(st, 2, minute_ns);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->symbol = symbol;
		out->minute_ns = minute_ns;
		out->open = (uint32_t)sqlite3_column_int64(st, 0);
		out->high = (uint32_t)sqlite3_column_int64(st, 1);
		out->low = (uint32_t)sqlite3_column_int64(st, 2);
		out->close = (uint32_t)sqlite3_column_int64(st, 3);
		out->volume = (uint64_t)sqlite3_column_int64(st, 4);
		out->vwap = (uint32_t)sqlite3_column_int64(st, 5);
		out->trade_count = (uint64_t)sqlite3_column_int64(st, 6);
	} else if (rc == SQLITE_DONE) {
		err = mdm_err_set(-ENOENT, "sqlite %s: no bar for %s at %" PRIu64, s->path, symbol, minute_ns);
	} else {
		err = sq_err(s, rc, "read bar");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

/* Empty every table, routed event tables included (the registry lists them;
 * its names were validated when registered and are checked again here,
 * since anyone may edit the file). */
int store_sqlite_err(struct store *s, int rc, const char *what)
{
	return sq_err(s, rc, what);
}

static int sq_put_execution(struct store *s, const struct store_execution *x)
{
	return store_sqlite_exec_put(s, &s->exec, x);
}

static int sq_truncate_all(struct store *s)
{
	static const char fixed[] = "DELETE FROM trades; DELETE FROM bars_1m; DELETE FROM instruments;"
				    " DELETE FROM alerts; DELETE FROM audit; DELETE FROM executions;";
	bool own_txn = !sq_in_txn(s);
	sqlite3_stmt *st = NULL;
	char sql[32 + STORE_TABLE_NAME_MAX];
	int rc, err;

	if (own_txn && (err = sq_exec(s, "BEGIN IMMEDIATE", "begin truncate")) < 0)
		return err;
	err = sq_exec(s, fixed, "truncate");
	rc = err ? SQLITE_OK : sqlite3_prepare_v2(s->db, "SELECT name FROM mdmesh_event_tables", -1, &st, NULL);
	if (rc != SQLITE_OK)
		err = sq_err(s, rc, "list event tables");
	while (err == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (!store_table_name_ok(name)) {
			err = mdm_err_set(-EIO, "sqlite %s: mdmesh_event_tables lists '%s', not a table name",
					  s->path, name);
			break;
		}
		snprintf(sql, sizeof(sql), "DELETE FROM %s", name);
		err = sq_exec(s, sql, "truncate event table");
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = sq_err(s, rc, "list event tables");
	sqlite3_finalize(st);
	if (own_txn) {
		if (err == 0)
			err = sq_exec(s, "COMMIT", "commit truncate");
		if (err < 0 && sq_in_txn(s))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return err;
}

struct sqlite3 *store_sqlite_handle(struct store *s)
{
	return s->db;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.put_trade = sq_put_trade,
	.put_instrument = sq_put_instrument,
	.put_alert = sq_put_alert,
	.put_audit = sq_put_audit,
	.put_event = sq_put_event,
	.put_execution = sq_put_execution,
	.refresh_bar = sq_refresh_bar,
	.get_bar = sq_get_bar,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.truncate_all = sq_truncate_all,
};
