/* store_sqlite on real files in a temp dir: the shared store suite, then what
 * only SQLite has: creating the file and its directories, migration from
 * nothing / an empty file / a current file, refusing a newer schema or a
 * non-database, a full disk (PRAGMA max_page_count) that recovers without a
 * reopen, and a busy file reported as -EAGAIN. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mdm_err.h"
#include "store_sqlite.h"
#include "store_suite.h"

#define MINUTE0 1784122200000000000ULL

static char g_dir[64];

static const char *path_in(const char *name)
{
	static char p[3][256];
	static int i;

	i = (i + 1) % 3;
	snprintf(p[i], sizeof(p[i]), "%s/%s", g_dir, name);
	return p[i];
}

/* A separate read-only connection, as a reporting tool would have. */
static int64_t sq_query(const char *url, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (strncmp(url, "sqlite://", 9) == 0)
		url += 9;
	if (sqlite3_open_v2(url, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		fail_msg("open %s: %s", url, sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		fail_msg("%s: no row: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sq_exec_sql(const char *url, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	if (strncmp(url, "sqlite://", 9) == 0)
		url += 9;
	if (sqlite3_open(url, &db) != SQLITE_OK)
		fail_msg("open %s: %s", url, sqlite3_errmsg(db));
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int group_setup(void **state)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/mdm-store-sqlite.XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	store_suite_env.ops = &store_sqlite_ops;
	/* nested directories that do not exist yet: open creates them */
	snprintf(store_suite_env.url, sizeof(store_suite_env.url), "%s/a/b/mdmesh.db", g_dir);
	store_suite_env.query = sq_query;
	store_suite_env.exec = sq_exec_sql;
	return 0;
}

static int group_teardown(void **state)
{
	if (!getenv("MDM_T_KEEP"))
		nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void test_ops_for_url(void **state)
{
	assert_ptr_equal(store_ops_for("postgresql://u@h/db"), &store_pg_ops);
	assert_ptr_equal(store_ops_for("POSTGRES://h/db"), &store_pg_ops);
	assert_ptr_equal(store_ops_for("data/mdmesh.db"), &store_sqlite_ops);
	assert_ptr_equal(store_ops_for("sqlite:///var/lib/mdmesh.db"), &store_sqlite_ops);
	assert_ptr_equal(store_ops_for("postgresql"), &store_sqlite_ops); /* a file named so */
	assert_ptr_equal(store_ops_for(NULL), &store_sqlite_ops);
	assert_true(store_table_name_ok("events"));
	assert_true(store_table_name_ok("_x9"));
	assert_false(store_table_name_ok(NULL));
	assert_false(store_table_name_ok("audit"));
	assert_false(store_table_name_ok("a-b"));
}

/* From no file at all, through a sqlite:// URL, to a reopened current file. */
static void test_schema_fresh_and_reopen(void **state)
{
	static const char *const objects[] = { "trades", "bars_1m", "instruments", "alerts", "audit", "events",
					       "mdmesh_schema", "mdmesh_event_tables", "trades_symbol_ts",
					       "trades_ts", "trades_notional", "bars_1m_minute", "alerts_rule_ts",
					       "alerts_ts", "audit_ts", "events_symbol_ts" };
	const char *path = path_in("fresh/x/y/new.db");
	char url[300], q[200];
	struct store *s = NULL;
	struct store_trade t = store_suite_trade(1, "AAPL", MINUTE0, 100, 1, true);

	snprintf(url, sizeof(url), "sqlite://%s", path);
	assert_int_equal(access(path, F_OK), -1);
	CHECK(store_sqlite_ops.open(&s, url), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(sq_query(path, "SELECT count(*) FROM mdmesh_schema"), 2);
	assert_int_equal(sq_query(path, "SELECT max(version) FROM mdmesh_schema"), 2);
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		snprintf(q, sizeof(q), "SELECT count(*) FROM sqlite_master WHERE name = '%s'", objects[i]);
		if (sq_query(path, q) != 1)
			fail_msg("%s missing", objects[i]);
	}
	/* WAL, and the bar's range query uses the symbol index */
	assert_int_equal(sq_query(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
	assert_int_equal(sq_query(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'trades'"
				  " AND sql LIKE '%WITHOUT ROWID%'"), 1);
	CHECK(store_sqlite_ops.begin(s), 0);
	CHECK(store_sqlite_ops.put_trade(s, &t), 0);
	CHECK(store_sqlite_ops.commit(s), 0);
	store_sqlite_ops.close(s);

	s = NULL;
	CHECK(store_sqlite_ops.open(&s, path), 0);
	assert_int_equal(sq_query(path, "SELECT count(*) FROM mdmesh_schema"), 2);
	assert_int_equal(sq_query(path, "SELECT count(*) FROM trades"), 1);
	store_sqlite_ops.close(s);
}

static void test_migrate_empty_file(void **state)
{
	const char *path = path_in("empty.db");
	struct store *s = NULL;
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	assert_true(fd >= 0);
	close(fd);
	CHECK(store_sqlite_ops.open(&s, path), 0);
	assert_int_equal(sq_query(path, "SELECT max(version) FROM mdmesh_schema"), 2);
	assert_int_equal(sq_query(path, "SELECT count(*) FROM mdmesh_event_tables WHERE name = 'events'"), 1);
	store_sqlite_ops.close(s);
}

static void test_refuses_newer_schema_and_garbage(void **state)
{
	const char *path = path_in("newer.db"), *junk = path_in("junk.db");
	struct store *s = NULL;
	sqlite3 *db;
	int fd;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE mdmesh_schema (version INTEGER PRIMARY KEY, applied_ns INTEGER);"
				      "INSERT INTO mdmesh_schema VALUES (99, 0)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK(store_sqlite_ops.open(&s, path), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(mdm_err_last(), "schema version 99 is newer"));

	fd = open(junk, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not an SQLite database, not even close to one......", 60), 60);
	close(fd);
	CHECK(store_sqlite_ops.open(&s, junk), -EIO);
	assert_non_null(strstr(mdm_err_last(), "not a database"));
	assert_non_null(strstr(mdm_err_last(), junk));

	CHECK(store_sqlite_ops.open(&s, ""), -EINVAL);
	CHECK(store_sqlite_ops.open(&s, "/proc/no/such/dir/x.db"), -ENOENT);
}

/* The disk fills mid-batch: -ENOSPC, the batch rolls back, and once space is
 * back the same store (no reopen) takes the next batch. */
static void test_full_disk_recovers(void **state)
{
	enum { N = 3000 };
	const char *path = path_in("full.db");
	struct store *s = NULL;
	sqlite3 *db;
	char sql[64];
	int64_t pages;
	int rc = 0, i;

	CHECK(store_sqlite_ops.open(&s, path), 0);
	db = store_sqlite_handle(s);
	pages = sq_query(path, "SELECT page_count FROM pragma_page_count");
	assert_true(pages > 5);
	/* the file may not grow past what it has: the disk is "full" */
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	CHECK(store_sqlite_ops.begin(s), 0);
	for (i = 1; i <= N && rc == 0; i++) {
		struct store_trade t = store_suite_trade((uint64_t)i, "FULL", MINUTE0 + (uint64_t)i, 100, 1, true);

		rc = store_sqlite_ops.put_trade(s, &t);
	}
	if (rc == 0)
		rc = store_sqlite_ops.commit(s);
	assert_int_equal(rc, -ENOSPC);
	assert_non_null(strstr(mdm_err_last(), "full"));
	assert_non_null(strstr(mdm_err_last(), path));
	CHECK(store_sqlite_ops.rollback(s), 0);
	assert_int_equal(sq_query(path, "SELECT count(*) FROM trades"), 0);

	/* space is back */
	assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL), SQLITE_OK);
	CHECK(store_sqlite_ops.begin(s), 0);
	for (i = 1; i <= N; i++) {
		struct store_trade t = store_suite_trade((uint64_t)i, "FULL", MINUTE0 + (uint64_t)i, 100, 1, true);

		CHECK(store_sqlite_ops.put_trade(s, &t), 0);
	}
	CHECK(store_sqlite_ops.refresh_bar(s, "FULL", MINUTE0), 0);
	CHECK(store_sqlite_ops.commit(s), 0);
	assert_int_equal(sq_query(path, "SELECT count(*) FROM trades"), N);
	assert_int_equal(sq_query(path, "SELECT trade_count FROM bars_1m WHERE symbol = 'FULL'"), N);
	store_sqlite_ops.close(s);
}

/* Another writer holds the file past the busy timeout: -EAGAIN, then fine. */
static void test_busy_is_eagain(void **state)
{
	const char *path = path_in("busy.db");
	struct store *s = NULL;
	sqlite3 *other;

	CHECK(store_sqlite_ops.open(&s, path), 0);
	assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	CHECK(store_sqlite_ops.begin(s), -EAGAIN);
	assert_non_null(strstr(mdm_err_last(), "locked"));
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	CHECK(store_sqlite_ops.begin(s), 0);
	CHECK(store_sqlite_ops.commit(s), 0);
	store_sqlite_ops.close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_SUITE_TESTS,
		cmocka_unit_test(test_ops_for_url),
		cmocka_unit_test(test_schema_fresh_and_reopen),
		cmocka_unit_test(test_migrate_empty_file),
		cmocka_unit_test(test_refuses_newer_schema_and_garbage),
		cmocka_unit_test(test_full_disk_recovers),
		cmocka_unit_test(test_busy_is_eagain),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
