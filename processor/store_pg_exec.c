/* PostgreSQL: the executions table (store_exec.h). The table is created at
 * every (re)connect under the DDL lock, and its statements are prepared with
 * the others (store_pg_prepare). Executions are written at once, not
 * gathered: a correction must see the row it corrects. Under READ COMMITTED
 * that also takes one lock for the batch (PG_EXEC_LOCK): the second writer
 * waits for the first to commit, then its statements see the first's rows.
 * It is the only lock a batch takes before its first execution row, so two
 * batches cannot wait on each other through the executions' unique index. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_err.h"
#include "store_exec.h"
#include "store_pg_int.h"

static const char *const pg_exec_names[] = { "mdm_exec_ins", "mdm_exec_refs", "mdm_exec_rec0", "mdm_exec_rec1" };

int store_pg_exec_setup(struct store *s)
{
	const char *sql[4] = { store_exec_insert_sql, store_exec_refs_sql, store_exec_reconcile_sql[0],
			       store_exec_reconcile_sql[1] };
	const int nparams[4] = { STORE_EXEC_NPARAMS, 2, 2, 2 };
	bool own_txn = PQtransactionStatus(s->conn) == PQTRANS_IDLE;
	int err = own_txn ? store_pg_exec(s, "BEGIN", "begin executions DDL") : 0;

	if (err == 0)
		err = store_pg_check(s, PQexec(s->conn, "SELECT pg_advisory_xact_lock(" PG_DDL_LOCK ")"),
				     PGRES_TUPLES_OK, "lock for executions DDL");
	if (err == 0)
		err = store_pg_exec(s, store_exec_ddl, "create executions");
	if (own_txn && err == 0)
		err = store_pg_exec(s, "COMMIT", "commit executions DDL");
	else if (own_txn && PQstatus(s->conn) == CONNECTION_OK)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	for (int i = 0; err == 0 && i < 4; i++)
		err = store_pg_check(s, PQprepare(s->conn, pg_exec_names[i], sql[i], nparams[i], NULL),
				     PGRES_COMMAND_OK, "prepare executions statement");
	return err;
}

static int reconcile(struct store *s, const char *session, const char *exec_id)
{
	const char *p[2] = { session, exec_id };
	int err = 0;

	for (int i = 2; err == 0 && i < 4; i++)
		err = store_pg_check(s, PQexecPrepared(s->conn, pg_exec_names[i], 2, p, NULL, NULL, 0),
				     PGRES_COMMAND_OK, "apply correction/cancel");
	return err;
}

int store_pg_put_execution(struct store *s, const struct store_execution *x)
{
	struct store_exec_row r;
	const char *p[2] = { x->session, x->exec_id };
	PGresult *res;
	bool inserted, referenced;

	if (!s->exec_locked) {
		int err = store_pg_check(s, PQexec(s->conn, "SELECT pg_advisory_xact_lock(" PG_EXEC_LOCK ")"),
					 PGRES_TUPLES_OK, "lock for executions");

		if (err < 0)
			return err;
		s->exec_locked = true;
	}
	store_exec_row_fill(x, &r);
	res = PQexecPrepared(s->conn, pg_exec_names[0], STORE_EXEC_NPARAMS, r.text, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return store_pg_fail(s, res, "insert execution");
	inserted = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	if (!inserted)
		return 0; /* already there: a redelivery */
	if ((x->exec_type[0] == 'G' || x->exec_type[0] == 'H') && x->exec_ref_id[0])
		return reconcile(s, x->session, x->exec_ref_id);
	/* a trade that arrived after its correction or cancel */
	res = PQexecPrepared(s->conn, pg_exec_names[1], 2, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_pg_fail(s, res, "find corrections");
	referenced = PQntuples(res) > 0;
	PQclear(res);
	return referenced ? reconcile(s, x->session, x->exec_id) : 0;
}
