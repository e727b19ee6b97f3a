/* The processor's persistence interface: one small vtable, two backends
 * (store_sqlite.c: embedded default; store_pg.c: PostgreSQL when the URL is
 * postgresql://...). Every write is idempotent on its natural key, so a
 * redelivered message never makes a second row, and a batch is one
 * transaction: begin -> puts -> commit (or rollback), and the worker acks the
 * batch's messages only after commit returned 0.
 *
 * Tables (DESIGN.md contract; columns beyond these are welcome):
 *   trades(feed, session, seq, symbol, ts_ns, price, shares, side, match_number,
 *          kind, printable, ..., bid_price, bid_size, ask_price, ask_size)
 *                                           unique (feed, session, seq); the quote
 *          columns (TBBO) are NULL for a trade whose event carried no quote
 *          (rows written before schema version 2, events of older collectors)
 *   bars_1m(symbol, minute_ns, open, high, low, close, volume, vwap,
 *           trade_count)                    unique (symbol, minute_ns); printable trades only
 *   instruments(symbol, stock_locate, ...)  unique (symbol)
 *   alerts(rule, symbol, feed, session, seq, ...) unique (rule, feed, session, seq)
 *   audit(component, instance, first_stream_seq, last_stream_seq, ...)
 *   events(feed, session, seq, type, symbol, ts_ns, ...) unique (feed, session, seq):
 *          the generic table rules can route any event to
 *   executions(session, exec_id, ...)        unique (session, exec_id): the trade feed
 *          (store_exec.c has its schema; put_execution below)
 * Prices are integers in 1e-4 units; times are ns since the epoch.
 *
 * Errors: negative errno; -EAGAIN / -ECONNRESET / -ENOSPC mean "our side is
 * unavailable, try the batch again later" (nak with backoff), anything else
 * is a bug or a bad config. Detail via mdm_err_last(). A backend may gather
 * a batch's rows and send them later (PostgreSQL does), so a row's failure
 * can surface at a later put, refresh_bar, get_bar or commit: whichever call
 * fails, roll the batch back. A store is used by one worker thread (each
 * worker opens its own). */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

struct store_trade {
	const char *feed, *session, *symbol;
	uint64_t seq;
	uint64_t ts_ns;          /* absolute exchange time */
	uint32_t price;          /* 1e-4 */
	uint64_t shares;
	char side;               /* 'B', 'S', or 0 (crosses) */
	uint64_t match_number;
	int kind;                /* mdmesh.v1.TradeKind value */
	bool printable;
	uint64_t order_reference_number;
	uint64_t stream_seq;     /* JetStream sequence of the source event */
	uint64_t rx_ts_ns;       /* collector receive time (CLOCK_REALTIME ns), 0 if unknown;
				  * carried into Trade.rx_ts_ns and trades.rx_ts_ns */
	/* The BBO just before the trade (MarketEvent.quote_before, TBBO); an
	 * empty side is price 0, size 0. has_quote false: unknown, stored NULL. */
	bool has_quote;
	uint32_t bid_price, ask_price; /* 1e-4 */
	uint64_t bid_size, ask_size;
};

/* One row of bars_1m, as read back by get_bar (to publish bar.1m.<symbol>). */
struct store_bar {
	const char *symbol;      /* borrowed: the symbol passed to get_bar */
	uint64_t minute_ns;      /* start of the minute, ns since the epoch */
	uint32_t open, high, low, close; /* 1e-4 */
	uint64_t volume;         /* sum of shares */
	uint32_t vwap;           /* round(sum(price * shares) / volume), half up, 1e-4 */
	uint64_t trade_count;
};

struct store_instrument {
	const char *symbol;
	uint32_t stock_locate;
	const char *json;        /* reference data as JSON text (sector, currency, ...) */
};

struct store_alert {
	const char *rule, *symbol, *severity, *message;
	const char *feed, *session;
	uint64_t seq, ts_ns;
	int64_t value, threshold;
};

struct store_audit {
	const char *component, *instance;
	uint32_t worker;
	uint64_t first_stream_seq, last_stream_seq;
	uint64_t total, ok, dead_lettered, skipped;
	uint64_t commit_ts_ns, commit_duration_ns;
};

struct store_event {
	const char *feed, *session, *type, *symbol, *table; /* table: "events" or a rule's table name */
	uint64_t seq, ts_ns, stream_seq;
	const char *json;        /* the event as JSON */
};

/* One execution (mdmesh.v1.Execution from stream EXEC), enriched. Strings are
 * "" when absent, never NULL. Quantities and prices are 1e-8 units as in the
 * proto; notional is 1e-4 currency units (rules_exec_notional). */
struct store_execution {
	const char *session;      /* the FIX session name (header.feed): with exec_id, the key */
	const char *exec_id;
	const char *comp_ids;     /* header.session, "SENDER-TARGET" */
	uint64_t seq;             /* inbound MsgSeqNum */
	uint64_t stream_seq;      /* JetStream sequence in EXEC */
	const char *exec_ref_id, *order_id, *cl_ord_id, *account, *trader, *symbol, *side, *currency;
	const char *exec_type;    /* "F", "G" (correction of exec_ref_id), "H" (cancel of exec_ref_id) */
	const char *ord_status, *last_mkt, *security_id, *id_source;
	int64_t last_qty, last_px, cum_qty, leaves_qty, avg_px;
	int64_t notional;
	uint64_t transact_time_ns, sending_time_ns, rx_ts_ns;
	bool poss_dup;
	const char *trader_name, *trader_team, *instrument_name, *instrument_sector; /* reference data */
};

struct store_ops {
	const char *name; /* "sqlite", "postgres" */
	/* Open/create: connect, create tables and indexes, migrate (schema
	 * version in table `mdmesh_schema`). `url` is a path or a postgresql:// URL. */
	int (*open)(struct store **out, const char *url);
	void (*close)(struct store *s); /* NULL-safe */
	int (*begin)(struct store *s);
	int (*put_trade)(struct store *s, const struct store_trade *t);
	int (*put_instrument)(struct store *s, const struct store_instrument *i);
	int (*put_alert)(struct store *s, const struct store_alert *a);
	int (*put_audit)(struct store *s, const struct store_audit *a);
	int (*put_event)(struct store *s, const struct store_event *e);
	/* Insert an execution unless (session, exec_id) is there (a redelivery
	 * changes nothing). A correction (G) or cancel (H) is a row of its own
	 * and also updates the row its exec_ref_id names: status corrected
	 * (last_qty, last_px, notional from the latest correction; orig_* keep
	 * the first values) or canceled; whichever of the two rows comes first,
	 * the result is the same. */
	int (*put_execution)(struct store *s, const struct store_execution *x);
	/* Recompute bars_1m for (symbol, minute_ns) from the printable trades in
	 * `trades`: exact whatever order or redelivery the trades came in, and
	 * idempotent. Call after the batch's put_trade calls, before commit. */
	int (*refresh_bar)(struct store *s, const char *symbol, uint64_t minute_ns);
	/* Read bars_1m(symbol, minute_ns) into *out (inside or outside a batch;
	 * inside, it sees the batch's own writes). -ENOENT: no printable trade in
	 * that minute, so no bar. */
	int (*get_bar)(struct store *s, const char *symbol, uint64_t minute_ns, struct store_bar *out);
	int (*commit)(struct store *s);
	int (*rollback)(struct store *s);
	/* Remove every row (for --rebuild into an empty store). */
	int (*truncate_all)(struct store *s);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* Backend for a URL: postgresql:// or postgres:// -> PostgreSQL, else SQLite. */
const struct store_ops *store_ops_for(const char *url);

/* The URL as it may be logged: mdm_redact's MDM_REDACT_MASK (the password of
 * user:PASS@ and of any *password= parameter replaced by ***; a SQLite path
 * stays as it is). Copied into out[cap] (cut to fit). */
void store_url_redact(const char *url, char *out, size_t cap);

/* Longest table name put_event accepts (index names add a suffix and must
 * stay within PostgreSQL's 63 bytes). */
#define STORE_TABLE_NAME_MAX 48

/* Whether `name` may be a store_event.table: [a-z_][a-z0-9_]*, at most
 * STORE_TABLE_NAME_MAX bytes, not a built-in table (trades, bars_1m,
 * instruments, alerts, audit) and not prefixed sqlite_, pg_ or mdmesh_.
 * Both backends apply it; rule loaders can reject a bad name at load time. */
bool store_table_name_ok(const char *name);

#endif
