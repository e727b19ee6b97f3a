/* Private to store_pg*.c: the PostgreSQL store is cut into connection,
 * transactions and puts (store_pg.c), schema and prepared statements
 * (store_pg_schema.c) and the per-batch bulk row builder (store_pg_bulk.c). */
#ifndef STORE_PG_INT_H
#define STORE_PG_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_buf.h"
#include "store.h"

#define PG_NS_PER_MIN 60000000000ULL
#define PG_URL_MAX 512
#define PG_ERR_MAX 300
/* Buffered rows per table before an early flush: bounds the buffers
 * (about 150 bytes a trade) whatever the batch size. */
#define PG_BULK_MAX_ROWS 4096
/* pg_advisory_xact_lock key serialising DDL (migration, event tables)
 * between processes: CREATE TABLE IF NOT EXISTS races otherwise. */
#define PG_DDL_LOCK "7308613722077049189"
/* pg_advisory_xact_lock key serialising transactions that write executions:
 * a trade and its correction written by two workers at once would each miss
 * the other's uncommitted row and the correction would never be applied. */
#define PG_EXEC_LOCK "7308613722077049190"

enum pg_stmt {
	PG_TRADES,
	PG_INSTRUMENT,
	PG_ALERT,
	PG_AUDIT,
	PG_BARS,
	PG_GET_BAR,
	PG_STMT_COUNT,
};

/* The prepared statements, indexed by enum pg_stmt (store_pg_schema.c). */
struct store_pg_stmt {
	const char *name, *sql;
	int nparams;
};
extern const struct store_pg_stmt store_pg_stmts[PG_STMT_COUNT];
/* The schema version a migrated database is at (number of migrations). */
extern const int store_pg_schema_version;

#define PG_TRADE_COLS 19
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
	bool exec_locked;                 /* the open batch holds PG_EXEC_LOCK */
	struct pg_bulk trades;
	struct pg_bars bars;
	struct pg_evtab *evtabs;          /* grows only */
	size_t n_evtabs, cap_evtabs;
	struct mdm_buf scratch;           /* DDL text, error text */
};

/* Set mdm_err to "postgres URL: WHAT: server text" (password scrubbed) from a
 * failed result, clear it, and return the store errno for it (pg_errno). */
int store_pg_fail(struct store *s, PGresult *res, const char *what);

/* 0 when res has status `want` (res cleared), else store_pg_fail. */
int store_pg_check(struct store *s, PGresult *res, ExecStatusType want, const char *what);

/* Run sql (one or more statements) expecting PGRES_COMMAND_OK. */
int store_pg_exec(struct store *s, const char *sql, const char *what);

/* Bring the database to the current schema version (store_pg_schema.c). */
int store_pg_migrate(struct store *s);

/* Prepare store_pg_stmts on this connection, once. */
int store_pg_prepare(struct store *s);

/* After (re)connecting: nothing prepared or created is known any more. */
void store_pg_forget_session(struct store *s);

/* Event table `name` created and its bulk insert prepared; *out borrowed
 * from s->evtabs (valid until the next call). */
int store_pg_evtab_get(struct store *s, const char *name, struct pg_evtab **out);

/* Bulk rows (store_pg_bulk.c): init/fini the column arrays of a table. */
void store_pg_bulk_init(struct pg_bulk *b, const char *stmt, int ncols);
void store_pg_bulk_fini(struct pg_bulk *b);

/* Append a value to column i of the row being built (the caller counts
 * b->rows once per row). */
void store_pg_col_text(struct pg_bulk *b, int i, const char *v);
void store_pg_col_i64(struct pg_bulk *b, int i, int64_t v);
void store_pg_col_bool(struct pg_bulk *b, int i, bool v);
void store_pg_col_null(struct pg_bulk *b, int i);

/* Send the gathered rows as one statement and empty the buffers. */
int store_pg_bulk_flush(struct store *s, struct pg_bulk *b, const char *what, ExecStatusType want);

/* Run the gathered bar refreshes, sorted and deduplicated. */
int store_pg_bars_flush(struct store *s);

/* Everything gathered, trades and events before the bars computed from them. */
int store_pg_flush_all(struct store *s);

/* The executions table (store_pg_exec.c): DDL and statements on this
 * connection (from store_pg_prepare), and the put (inside a batch). */
int store_pg_exec_setup(struct store *s);
int store_pg_put_execution(struct store *s, const struct store_execution *x);

/* Drop everything gathered (rollback, truncate). */
void store_pg_discard_all(struct store *s);

#endif
