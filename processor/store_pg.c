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
#include "store_pg_int.h"

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
int store_pg_fail(struct store *s, PGresult *res, const char *what)
{
	char msg[PG_ERR_MAX];
	int err = pg_errno(s, res);
	const char *raw = res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(s->conn);

	pg_text_scrub(s, raw, msg, sizeof(msg));
	PQclear(res);
	return mdm_err_set(err, "postgres %s: %s: %s", s->safe_url, what, msg[0] ? msg : "failed");
}

/* Check a command result: 0, or the mapped error (res is cleared either way). */
int store_pg_check(struct store *s, PGresult *res, ExecStatusType want, const char *what)
{
	if (res && PQresultStatus(res) == want) {
		PQclear(res);
		return 0;
	}
	return store_pg_fail(s, res, what);
}

int store_pg_exec(struct store *s, const char *sql, const char *what)
{
	return store_pg_check(s, PQexec(s->conn, sql), PGRES_COMMAND_OK, what);
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

/* ---- lifecycle ---------------------------------------------------------- */

static void pg_close(struct store *s)
{
	size_t i;

	if (!s)
		return;
	if (s->conn)
		PQfinish(s->conn); /* an open batch dies with the session: never committed */
	store_pg_bulk_fini(&s->trades);
	store_pg_bulk_fini(&s->bars.arrays);
	mdm_buf_fini(&s->bars.names);
	mdm_free(s->bars.keys);
	for (i = 0; i < s->n_evtabs; i++)
		store_pg_bulk_fini(&s->evtabs[i].bulk);
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
	store_pg_bulk_init(&s->trades, store_pg_stmts[PG_TRADES].name, PG_TRADE_COLS);
	store_pg_bulk_init(&s->bars.arrays, store_pg_stmts[PG_BARS].name, 2);
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
	err = store_pg_migrate(s);
	if (err == 0)
		err = store_pg_prepare(s);
	if (err < 0)
		goto err;
	mdm_log_info("postgres %s: connected (server %d, schema version %d)", s->safe_url,
		     PQserverVersion(s->conn), store_pg_schema_version);
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

	store_pg_forget_session(s);
	store_pg_discard_all(s);
	PQreset(s->conn);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		pg_text_scrub(s, PQerrorMessage(s->conn), msg, sizeof(msg));
		return mdm_err_set(-ECONNRESET, "postgres %s: reconnect failed: %s", s->safe_url, msg);
	}
	err = store_pg_migrate(s);
	if (err == 0)
		err = store_pg_prepare(s);
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
	s->exec_locked = false;
	err = store_pg_exec(s, "BEGIN", "begin");
	/* An idle connection learns of a server restart only now: one
	 * reconnect and retry, so the batch after an outage just works. */
	if (err == -ECONNRESET) {
		if ((err = pg_reconnect(s)) < 0)
			return err;
		err = store_pg_exec(s, "BEGIN", "begin");
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
	err = store_pg_flush_all(s);
	if (err == 0)
		err = store_pg_exec(s, "COMMIT", "commit");
	if (err == 0)
		pg_evtabs_settle(s, true);
	return err;
}

static int pg_rollback(struct store *s)
{
	int err = 0;

	store_pg_discard_all(s);
	pg_evtabs_settle(s, false);
	/* A lost session took its transaction with it: nothing to undo. */
	if (!s->broken && PQstatus(s->conn) == CONNECTION_OK && pg_in_txn(s))
		err = store_pg_exec(s, "ROLLBACK", "rollback");
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
	store_pg_col_text(b, 0, t->feed);
	store_pg_col_text(b, 1, t->session);
	store_pg_col_i64(b, 2, (int64_t)t->seq);
	store_pg_col_text(b, 3, t->symbol);
	store_pg_col_i64(b, 4, (int64_t)t->ts_ns);
	store_pg_col_i64(b, 5, t->price);
	store_pg_col_i64(b, 6, (int64_t)t->shares);
	store_pg_col_text(b, 7, side);
	store_pg_col_i64(b, 8, (int64_t)t->match_number);
	store_pg_col_i64(b, 9, t->kind);
	store_pg_col_bool(b, 10, t->printable);
	store_pg_col_i64(b, 11, (int64_t)t->order_reference_number);
	store_pg_col_i64(b, 12, (int64_t)t->stream_seq);
	store_pg_col_i64(b, 13, (int64_t)t->rx_ts_ns);
	store_pg_col_i64(b, 14, (int64_t)notional);
	if (t->has_quote) {
		store_pg_col_i64(b, 15, t->bid_price);
		store_pg_col_i64(b, 16, (int64_t)t->bid_size);
		store_pg_col_i64(b, 17, t->ask_price);
		store_pg_col_i64(b, 18, (int64_t)t->ask_size);
	} else {
		for (int i = 15; i <= 18; i++)
			store_pg_col_null(b, i);
	}
	b->rows++;
	return b->rows >= PG_BULK_MAX_ROWS ? store_pg_bulk_flush(s, b, "insert trades", PGRES_COMMAND_OK) : 0;
}

/* One prepared execution with text parameters. */
static int pg_exec_stmt(struct store *s, enum pg_stmt id, const char *const *params, const char *what)
{
	return store_pg_check(s, PQexecPrepared(s->conn, store_pg_stmts[id].name, store_pg_stmts[id].nparams, params, NULL, NULL, 0),
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

static int pg_put_event(struct store *s, const struct store_event *e)
{
	struct pg_evtab *t;
	struct pg_bulk *b;
	int err;

	if ((err = pg_need_txn(s, "put_event")) < 0)
		return err;
	if ((err = store_pg_evtab_get(s, e->table && *e->table ? e->table : "events", &t)) < 0)
		return err;
	b = &t->bulk;
	store_pg_col_text(b, 0, e->feed);
	store_pg_col_text(b, 1, e->session);
	store_pg_col_i64(b, 2, (int64_t)e->seq);
	store_pg_col_text(b, 3, e->type);
	store_pg_col_text(b, 4, e->symbol);
	store_pg_col_i64(b, 5, (int64_t)e->ts_ns);
	store_pg_col_i64(b, 6, (int64_t)e->stream_seq);
	store_pg_col_text(b, 7, e->json ? e->json : "{}");
	b->rows++;
	return b->rows >= PG_BULK_MAX_ROWS ? store_pg_bulk_flush(s, b, "insert events", PGRES_COMMAND_OK) : 0;
}

/* ---- bars and truncation ----------------------------------------------- */

static int pg_put_execution(struct store *s, const struct store_execution *x)
{
	int err = pg_need_txn(s, "put_execution");

	return err < 0 ? err : store_pg_put_execution(s, x);
}

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
	if (pg_in_txn(s) && (err = store_pg_flush_all(s)) < 0)
		return err;
	snprintf(minute, sizeof(minute), "%" PRId64, (int64_t)minute_ns);
	res = PQexecPrepared(s->conn, store_pg_stmts[PG_GET_BAR].name, 2, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_pg_fail(s, res, "read bar");
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
	if (own_txn && (err = store_pg_exec(s, "BEGIN", "begin truncate")) < 0)
		return err;
	store_pg_discard_all(s);
	res = PQexec(s->conn, "SELECT name FROM mdmesh_event_tables ORDER BY name");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		err = store_pg_fail(s, res, "list event tables");
		goto out;
	}
	mdm_buf_reset(&s->scratch);
	mdm_buf_puts(&s->scratch, "TRUNCATE trades, bars_1m, instruments, alerts, audit, executions");
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
	err = store_pg_exec(s, s->scratch.data, "truncate");
out:
	if (own_txn) {
		if (err == 0)
			err = store_pg_exec(s, "COMMIT", "commit truncate");
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
	.put_execution = pg_put_execution,
	.refresh_bar = pg_refresh_bar,
	.get_bar = pg_get_bar,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.truncate_all = pg_truncate_all,
};
