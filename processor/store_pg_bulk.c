/* PostgreSQL store: rows of a batch gathered as one array literal per
 * column, sent with one INSERT ... SELECT FROM unnest(...) per table, and the
 * bar refreshes gathered, sorted and sent the same way. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "store_pg_int.h"

/* ---- bulk rows ---------------------------------------------------------- */

void store_pg_bulk_init(struct pg_bulk *b, const char *stmt, int ncols)
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

void store_pg_bulk_fini(struct pg_bulk *b)
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
void store_pg_col_text(struct pg_bulk *b, int i, const char *v)
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
void store_pg_col_i64(struct pg_bulk *b, int i, int64_t v)
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

void store_pg_col_bool(struct pg_bulk *b, int i, bool v)
{
	pg_col_sep(b, i);
	mdm_buf_putc(&b->col[i], v ? 't' : 'f');
}

/* A NULL element (unquoted NULL in array-literal syntax). */
void store_pg_col_null(struct pg_bulk *b, int i)
{
	pg_col_sep(b, i);
	mdm_buf_puts(&b->col[i], "NULL");
}

/* Send the gathered rows as one statement and empty the buffers. */
int store_pg_bulk_flush(struct store *s, struct pg_bulk *b, const char *what, ExecStatusType want)
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
	err = store_pg_check(s, PQexecPrepared(s->conn, b->stmt, b->ncols, params, NULL, NULL, 0), want, what);
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
int store_pg_bars_flush(struct store *s)
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
		store_pg_col_text(&b->arrays, 0, b->names.data + b->keys[i].symbol);
		store_pg_col_i64(&b->arrays, 1, (int64_t)b->keys[i].minute_ns);
		b->arrays.rows++;
	}
	err = store_pg_bulk_flush(s, &b->arrays, "refresh bars", PGRES_TUPLES_OK);
	pg_bars_reset(b);
	return err;
}

/* Everything gathered, in dependency order: bars are computed from trades. */
int store_pg_flush_all(struct store *s)
{
	size_t i;
	int err = store_pg_bulk_flush(s, &s->trades, "insert trades", PGRES_COMMAND_OK);

	for (i = 0; err == 0 && i < s->n_evtabs; i++)
		err = store_pg_bulk_flush(s, &s->evtabs[i].bulk, "insert events", PGRES_COMMAND_OK);
	if (err == 0)
		err = store_pg_bars_flush(s);
	return err;
}

void store_pg_discard_all(struct store *s)
{
	size_t i;

	pg_bulk_reset(&s->trades);
	pg_bars_reset(&s->bars);
	for (i = 0; i < s->n_evtabs; i++)
		pg_bulk_reset(&s->evtabs[i].bulk);
}
