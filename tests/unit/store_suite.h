/* Backend-independent store tests, run against SQLite by test_store_sqlite.c
 * and against a real PostgreSQL by test_store_pg.c: same rows, same bars,
 * same idempotency. The backend's test fills store_suite_env in its group
 * setup. */
#ifndef STORE_SUITE_H
#define STORE_SUITE_H

#include <stdint.h>

#include "mdm_err.h"
#include "store.h"

/* Fail with the store's own detail when a call does not return `want`
 * (cmocka's fail_msg: include cmocka.h first). */
#define CHECK(call, want)                                                                      \
	do {                                                                                   \
		int rc_ = (call);                                                              \
		if (rc_ != (want))                                                             \
			fail_msg("%s = %d (%s), want %d: %s", #call, rc_, mdm_strerror(rc_), (want), \
				 mdm_err_last());                                              \
	} while (0)

struct store_suite_env {
	const struct store_ops *ops;
	char url[512];
	/* One integer from `sql` on a separate connection (committed rows
	 * only); the test fails inside on error. */
	int64_t (*query)(const char *url, const char *sql);
	/* Run `sql` (DDL or DML, no result) on a separate connection, committed;
	 * the test fails inside on error. */
	void (*exec)(const char *url, const char *sql);
};

extern struct store_suite_env store_suite_env;

/* Each test opens the store, empties it (truncate_all) and closes it. */
void store_suite_idempotent(void **state);
void store_suite_rollback(void **state);
void store_suite_bars_exact(void **state);
void store_suite_nonprintable(void **state);
void store_suite_other_tables(void **state);
void store_suite_event_tables(void **state);
void store_suite_truncate(void **state);
void store_suite_usage_errors(void **state);
void store_suite_executions(void **state); /* store_suite_exec.c */
void store_suite_quote(void **state);         /* store_suite_quote.c */
void store_suite_migrate_quote(void **state); /* store_suite_quote.c */
/* An execution of session dc1 (store_suite_exec.c): exec_type `type`
 * ("F", "G", "H"), referencing `ref` ("" for none). */
struct store_execution store_suite_exec_row(const char *exec_id, const char *type, const char *ref, uint64_t seq,
					    int64_t qty, int64_t px);
/* 100k trades in batches of 256, one transaction each, with and without bar
 * refreshes: prints rows/s, checks every row and bar. */
void store_suite_bulk(void **state);

/* Helpers the backend tests share. */
struct store *store_suite_open(void);
struct store_trade store_suite_trade(uint64_t seq, const char *symbol, uint64_t ts_ns, uint32_t price,
				     uint64_t shares, bool printable);
int64_t store_suite_count(const char *sql_fmt, ...) __attribute__((format(printf, 1, 2)));

#define STORE_SUITE_TESTS                                      \
	cmocka_unit_test(store_suite_idempotent),              \
	cmocka_unit_test(store_suite_rollback),                \
	cmocka_unit_test(store_suite_bars_exact),              \
	cmocka_unit_test(store_suite_nonprintable),            \
	cmocka_unit_test(store_suite_other_tables),            \
	cmocka_unit_test(store_suite_event_tables),            \
	cmocka_unit_test(store_suite_truncate),                \
	cmocka_unit_test(store_suite_usage_errors),            \
	cmocka_unit_test(store_suite_executions),              \
	cmocka_unit_test(store_suite_quote),                   \
	cmocka_unit_test(store_suite_migrate_quote),           \
	cmocka_unit_test(store_suite_bulk)

#endif
