/* SQLite: the executions table (store_exec.h), statements prepared on first
 * use and kept per connection. */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "store_exec.h"
#include "store_sqlite.h"

struct sq_exec {
	sqlite3_stmt *ins, *refs, *rec[2];
};

void store_sqlite_exec_free(struct sq_exec *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->ins);
	sqlite3_finalize(c->refs);
	sqlite3_finalize(c->rec[0]);
	sqlite3_finalize(c->rec[1]);
	mdm_free(c);
}

static int prepare(struct store *s, sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);

	return rc == SQLITE_OK ? 0 : store_sqlite_err(s, rc, "prepare executions statement");
}

static int setup(struct store *s, sqlite3 *db, struct sq_exec **cache)
{
	struct sq_exec *c;
	int err;

	if (*cache)
		return 0;
	if (!(c = mdm_calloc(1, sizeof(*c))))
		return mdm_err_set(-ENOMEM, "sqlite: out of memory");
	err = prepare(s, db, store_exec_insert_sql, &c->ins);
	if (err == 0)
		err = prepare(s, db, store_exec_refs_sql, &c->refs);
	for (int i = 0; err == 0 && i < 2; i++)
		err = prepare(s, db, store_exec_reconcile_sql[i], &c->rec[i]);
	if (err < 0) {
		store_sqlite_exec_free(c);
		return err;
	}
	*cache = c;
	return 0;
}

/* Step a statement to its end; *rows (may be NULL) = whether it returned one. */
static int run(struct store *s, sqlite3_stmt *st, const char *what, bool *row)
{
	int rc = sqlite3_step(st);

	if (row)
		*row = rc == SQLITE_ROW;
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_sqlite_err(s, rc, what);
}

static int bind_key(struct store *s, sqlite3_stmt *st, const char *session, const char *exec_id)
{
	if (sqlite3_bind_text(st, 1, session, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, exec_id, -1, SQLITE_STATIC) != SQLITE_OK)
		return store_sqlite_err(s, SQLITE_NOMEM, "bind");
	return 0;
}

static int reconcile(struct store *s, struct sq_exec *c, const char *session, const char *exec_id)
{
	int err = 0;

	for (int i = 0; err == 0 && i < 2; i++) {
		err = bind_key(s, c->rec[i], session, exec_id);
		if (err == 0)
			err = run(s, c->rec[i], "apply correction/cancel", NULL);
	}
	return err;
}

int store_sqlite_exec_put(struct store *s, struct sq_exec **cache, const struct store_execution *x)
{
	sqlite3 *db = store_sqlite_handle(s);
	struct store_exec_row r;
	struct sq_exec *c;
	bool referenced = false;
	int err;

	if ((err = setup(s, db, cache)) < 0)
		return err;
	c = *cache;
	store_exec_row_fill(x, &r);
	for (int i = 0; i < STORE_EXEC_NPARAMS; i++) {
		int rc = r.is_num[i] ? sqlite3_bind_int64(c->ins, i + 1, r.num[i])
				     : sqlite3_bind_text(c->ins, i + 1, r.text[i] ? r.text[i] : "", -1, SQLITE_STATIC);

		if (rc != SQLITE_OK) {
			sqlite3_reset(c->ins);
			return store_sqlite_err(s, rc, "bind execution");
		}
	}
	if ((err = run(s, c->ins, "insert execution", NULL)) < 0)
		return err;
	if (sqlite3_changes(db) == 0)
		return 0; /* already there: a redelivery */
	if ((x->exec_type[0] == 'G' || x->exec_type[0] == 'H') && x->exec_ref_id[0])
		return reconcile(s, c, x->session, x->exec_ref_id);
	/* a trade that arrived after its correction or cancel */
	err = bind_key(s, c->refs, x->session, x->exec_id);
	if (err == 0)
		err = run(s, c->refs, "find corrections", &referenced);
	if (err == 0 && referenced)
		err = reconcile(s, c, x->session, x->exec_id);
	return err;
}
