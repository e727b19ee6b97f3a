/* SQLite-only access to a store opened with store_sqlite_ops, for tests and
 * diagnostics (e.g. setting PRAGMA max_page_count to make the disk "full").
 * Not for the processor's own use: it goes through store_ops. */
#ifndef STORE_SQLITE_H
#define STORE_SQLITE_H

#include "store.h"

struct sqlite3;

/* The store's connection, borrowed: valid until close(s). Only for a store
 * opened by store_sqlite_ops, on the thread that uses the store. */
struct sqlite3 *store_sqlite_handle(struct store *s);

/* The store's error mapping (negative errno, detail set) for an SQLite
 * result code, for the backend's own files (store_sqlite_exec.c). */
int store_sqlite_err(struct store *s, int rc, const char *what);

/* The executions table (store_exec.h): put, and the per-connection
 * statements freed at close. */
struct sq_exec;
int store_sqlite_exec_put(struct store *s, struct sq_exec **cache, const struct store_execution *x);
void store_sqlite_exec_free(struct sq_exec *c);

#endif
