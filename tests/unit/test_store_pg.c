/* store_pg against a real PostgreSQL started here by tests/integration/pg.sh
 * (initdb in a temp dir, 127.0.0.1, a free port, password auth on TCP): the
 * shared store suite, then the schema, two writers of one bar, a trade and
 * its correction written at once by two writers, a server
 * stopped mid-batch and restarted (-ECONNRESET, then the same store works
 * again), and the URL's password absent from every error and log text.
 * Without PostgreSQL installed every test fails, saying so. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "store_suite.h"

#ifndef MDM_PG_SH
#error "MDM_PG_SH (path of tests/integration/pg.sh) must be defined by the build"
#endif

#define MINUTE0 1784122200000000000ULL

static char g_dir[64];
static char g_password[64]; /* the password inside store_suite_env.url */
static int g_port;

/* ---- the server ---------------------------------------------------------- */

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* `pg.sh start|stop DIR [PORT]`; for start, the URL it prints goes to url. */
static int pg_sh(const char *verb, char *url, size_t url_len)
{
	char cmd[512], line[512] = "";
	FILE *p;
	int rc;

	snprintf(cmd, sizeof(cmd), "bash '%s' %s '%s' %d", MDM_PG_SH, verb, g_dir, g_port);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	rc = pclose(p);
	line[strcspn(line, "\n")] = '\0';
	if (url)
		snprintf(url, url_len, "%s", line);
	return rc == 0 ? 0 : -1;
}

static void server_stop(void)
{
	if (pg_sh("stop", NULL, 0) != 0)
		fail_msg("pg.sh stop failed (see %s/pg_ctl.log)", g_dir);
}

static void server_start(void)
{
	char url[512];

	if (pg_sh("start", url, sizeof(url)) != 0)
		fail_msg("pg.sh start failed (see %s/server.log)", g_dir);
	assert_string_equal(url, store_suite_env.url); /* same port, same password */
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* A separate connection per query: committed rows only, and it survives the
 * server restarts of the outage tests. */
static int64_t pg_query(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r;
	int64_t v = -1;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return v;
}

static void pg_exec_sql(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

static int group_setup(void **state)
{
	char *at, *colon;

	snprintf(g_dir, sizeof(g_dir), "/tmp/mdm-store-pg.XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	g_port = free_port();
	if (g_port < 0 || pg_sh("start", store_suite_env.url, sizeof(store_suite_env.url)) != 0) {
		print_error("cannot start PostgreSQL with %s (is the postgresql package installed? scripts/test"
			    " installs it); logs in %s\n", MDM_PG_SH, g_dir);
		return -1;
	}
	/* postgresql://mdmesh:PASSWORD@127.0.0.1:PORT/mdmesh */
	colon = strchr(store_suite_env.url + strlen("postgresql://"), ':');
	at = strchr(store_suite_env.url, '@');
	if (!colon || !at || at - colon - 1 >= (long)sizeof(g_password) || at - colon - 1 < 8)
		return -1;
	memcpy(g_password, colon + 1, (size_t)(at - colon - 1));
	store_suite_env.ops = &store_pg_ops;
	store_suite_env.query = pg_query;
	store_suite_env.exec = pg_exec_sql;
	return 0;
}

static int group_teardown(void **state)
{
	if (g_dir[0] && pg_sh("stop", NULL, 0) != 0)
		print_error("pg.sh stop failed\n");
	if (g_dir[0] && !getenv("MDM_T_KEEP"))
		nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void assert_no_password(const char *text)
{
	if (strstr(text, g_password))
		fail_msg("password leaked: %s", text);
}

static void test_schema(void **state)
{
	static const char *const indexes[] = { "trades_pkey", "trades_symbol_ts", "trades_ts", "trades_notional",
					       "bars_1m_pkey", "bars_1m_minute", "alerts_rule_ts", "alerts_ts",
					       "audit_ts", "events_symbol_ts", "instruments_pkey" };
	struct store *s = store_suite_open(), *again = NULL;

	assert_int_equal(store_suite_count("SELECT count(*) FROM mdmesh_schema"), 2);
	assert_int_equal(store_suite_count("SELECT max(version) FROM mdmesh_schema"), 2);
	for (size_t i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++)
		if (store_suite_count("SELECT count(*) FROM pg_indexes WHERE indexname = '%s'", indexes[i]) != 1)
			fail_msg("index %s missing", indexes[i]);
	assert_int_equal(store_suite_count("SELECT count(*) FROM information_schema.columns WHERE table_name ="
					   " 'trades' AND data_type = 'bigint'"), 13);
	/* a second opener finds the schema current and migrates nothing */
	CHECK(store_pg_ops.open(&again, store_suite_env.url), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM mdmesh_schema"), 2);
	store_pg_ops.close(again);
	store_pg_ops.close(s);
}

/* Until a session waits for an advisory lock another holds (or *done, when
 * given, says the writer finished without waiting); fails with `what`
 * after 60 s. */
static void wait_advisory_waiter(const atomic_bool *done, const char *what)
{
	for (uint64_t end = mdm_mono_ns() + 60 * MDM_NS_PER_S; !done || !atomic_load(done);) {
		if (pg_query(store_suite_env.url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") > 0)
			return;
		if (mdm_mono_ns() >= end)
			fail_msg("%s", what);
		mdm_sleep_ns(10 * MDM_NS_PER_MS);
	}
}

struct writer {
	struct store *s;
	struct store_trade t;
	int rc_put, rc_refresh, rc_get, rc_commit;
	struct store_bar bar; /* as seen inside its batch */
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;

	w->rc_put = store_pg_ops.put_trade(w->s, &w->t);
	w->rc_refresh = store_pg_ops.refresh_bar(w->s, w->t.symbol, MINUTE0);
	w->rc_get = store_pg_ops.get_bar(w->s, w->t.symbol, MINUTE0, &w->bar); /* computes it now */
	w->rc_commit = store_pg_ops.commit(w->s);
	return NULL;
}

/* Two processes write trades of one symbol-minute at once, and both have
 * computed the bar before the first commits: the bar that stays must count
 * both trades (the second writer's computation waits for the first's commit,
 * or it would not see the first's trade). */
static void test_two_writers_one_bar(void **state)
{
	struct store *a = store_suite_open(), *b = NULL;
	struct store_trade ta = store_suite_trade(1, "TWO", MINUTE0 + 1, 100, 10, true);
	struct writer w = { .t = store_suite_trade(2, "TWO", MINUTE0 + 2, 200, 30, true) };
	struct store_bar bar;
	pthread_t th;

	CHECK(store_pg_ops.open(&b, store_suite_env.url), 0);
	w.s = b;
	CHECK(store_pg_ops.begin(a), 0);
	CHECK(store_pg_ops.put_trade(a, &ta), 0);
	CHECK(store_pg_ops.refresh_bar(a, "TWO", MINUTE0), 0);
	CHECK(store_pg_ops.get_bar(a, "TWO", MINUTE0, &bar), 0);
	assert_int_equal(bar.volume, 10);
	CHECK(store_pg_ops.begin(b), 0);
	assert_int_equal(pthread_create(&th, NULL, writer_run, &w), 0);
	/* until b waits for a's bar: its advisory lock, not granted while a holds it */
	wait_advisory_waiter(NULL, "the second writer never waited for the first's bar lock");
	CHECK(store_pg_ops.commit(a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.rc_put, 0);
	assert_int_equal(w.rc_refresh, 0);
	assert_int_equal(w.rc_get, 0);
	assert_int_equal(w.bar.volume, 40);
	assert_int_equal(w.rc_commit, 0);
	CHECK(store_pg_ops.get_bar(a, "TWO", MINUTE0, &bar), 0);
	assert_int_equal(bar.trade_count, 2);
	assert_int_equal(bar.volume, 40);
	assert_int_equal(bar.open, 100);
	assert_int_equal(bar.close, 200);
	assert_int_equal(bar.vwap, 175); /* (100*10 + 200*30) / 40 */
	store_pg_ops.close(b);
	store_pg_ops.close(a);
}

struct exec_writer {
	struct store *s;
	struct store_execution x;
	int rc_put, rc_commit;
	atomic_bool done;
};

static void *exec_writer_run(void *arg)
{
	struct exec_writer *w = arg;

	w->rc_put = store_pg_ops.put_execution(w->s, &w->x);
	w->rc_commit = store_pg_ops.commit(w->s);
	atomic_store(&w->done, true);
	return NULL;
}

/* Two workers: one writes a trade, the other its correction, both batches
 * open at once. Each alone sees only committed rows, so unless the second
 * waits for the first's commit the correction is never applied (a trade
 * left 'active', as fix_processor once saw on PostgreSQL). */
static void test_two_writers_trade_and_correction(void **state)
{
	struct store *a = store_suite_open(), *b = NULL;
	struct store_execution f = store_suite_exec_row("W1", "F", "", 1, 10000000000LL, 1000000000LL);
	struct exec_writer w = { .x = store_suite_exec_row("W2", "G", "W1", 2, 12000000000LL, 1100000000LL) };
	pthread_t th;

	(void)state;
	CHECK(store_pg_ops.open(&b, store_suite_env.url), 0);
	w.s = b;
	atomic_init(&w.done, false);
	CHECK(store_pg_ops.begin(a), 0);
	CHECK(store_pg_ops.put_execution(a, &f), 0);
	CHECK(store_pg_ops.begin(b), 0);
	assert_int_equal(pthread_create(&th, NULL, exec_writer_run, &w), 0);
	/* until b waits for a (or, were nothing serialising them, is done) */
	wait_advisory_waiter(&w.done, "the correction's writer neither waited nor finished");
	CHECK(store_pg_ops.commit(a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.rc_put, 0);
	assert_int_equal(w.rc_commit, 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM executions WHERE exec_id = 'W1' AND status = 'corrected'"
					   " AND corrected_by = 'W2' AND last_qty = 12000000000"), 1);
	store_pg_ops.close(b);
	store_pg_ops.close(a);
}

/* The server goes away in the middle of a batch and comes back. */
static void test_outage_mid_batch(void **state)
{
	struct store *s = store_suite_open();
	struct store_trade t[20];
	struct store_bar bar;
	int rc = 0, i;

	for (i = 0; i < 20; i++)
		t[i] = store_suite_trade((uint64_t)i + 1, "OUT", MINUTE0 + (uint64_t)i, 1000 + (uint32_t)i, 1, true);
	CHECK(store_pg_ops.begin(s), 0);
	for (i = 0; i < 10; i++)
		CHECK(store_pg_ops.put_trade(s, &t[i]), 0);
	CHECK(store_pg_ops.commit(s), 0);

	CHECK(store_pg_ops.begin(s), 0);
	CHECK(store_pg_ops.put_trade(s, &t[10]), 0);
	server_stop();
	for (i = 11; i < 20 && rc == 0; i++)
		rc = store_pg_ops.put_trade(s, &t[i]);
	if (rc == 0)
		rc = store_pg_ops.refresh_bar(s, "OUT", MINUTE0);
	if (rc == 0)
		rc = store_pg_ops.commit(s);
	assert_int_equal(rc, -ECONNRESET);
	assert_no_password(mdm_err_last());
	CHECK(store_pg_ops.rollback(s), 0);
	/* still down: begin says so, and keeps saying so */
	CHECK(store_pg_ops.begin(s), -ECONNRESET);
	assert_no_password(mdm_err_last());
	assert_non_null(strstr(mdm_err_last(), ":***@127.0.0.1"));
	CHECK(store_pg_ops.begin(s), -ECONNRESET);
	CHECK(store_pg_ops.put_trade(s, &t[10]), -ECONNRESET);

	server_start();
	CHECK(store_pg_ops.begin(s), 0);
	for (i = 10; i < 20; i++)
		CHECK(store_pg_ops.put_trade(s, &t[i]), 0);
	CHECK(store_pg_ops.refresh_bar(s, "OUT", MINUTE0), 0);
	CHECK(store_pg_ops.commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades WHERE symbol = 'OUT'"), 20);
	CHECK(store_pg_ops.get_bar(s, "OUT", MINUTE0, &bar), 0);
	assert_int_equal(bar.trade_count, 20);
	assert_int_equal(bar.open, 1000);
	assert_int_equal(bar.close, 1019);
	store_pg_ops.close(s);
}

/* A restart while the store is idle costs the next batch nothing. */
static void test_restart_while_idle(void **state)
{
	struct store *s = store_suite_open();
	struct store_trade t = store_suite_trade(1, "IDLE", MINUTE0, 100, 1, true);
	struct store_event e = { .feed = "itch", .session = "S1", .type = "A", .symbol = "IDLE", .seq = 1,
				 .table = "idle_events" };

	CHECK(store_pg_ops.begin(s), 0);
	CHECK(store_pg_ops.put_event(s, &e), 0);
	CHECK(store_pg_ops.commit(s), 0);
	server_stop();
	server_start();
	CHECK(store_pg_ops.begin(s), 0);
	CHECK(store_pg_ops.put_trade(s, &t), 0);
	e.seq = 2; /* statements prepared on the old session are prepared again */
	CHECK(store_pg_ops.put_event(s, &e), 0);
	CHECK(store_pg_ops.refresh_bar(s, "IDLE", MINUTE0), 0);
	CHECK(store_pg_ops.commit(s), 0);
	assert_int_equal(store_suite_count("SELECT count(*) FROM trades WHERE symbol = 'IDLE'"), 1);
	assert_int_equal(store_suite_count("SELECT count(*) FROM idle_events"), 2);
	store_pg_ops.close(s);
}

/* Replace the URL's password with `pw` (or move it to ?password=). */
static void url_with(char *out, size_t len, const char *pw, bool as_param, int port)
{
	if (as_param)
		snprintf(out, len, "postgresql://mdmesh@127.0.0.1:%d/mdmesh?connect_timeout=3&password=%s", port, pw);
	else
		snprintf(out, len, "postgresql://mdmesh:%s@127.0.0.1:%d/mdmesh", pw, port);
}

static void test_credentials_never_shown(void **state)
{
	static const char wrong[] = "Wr0ngSecretPw";
	char url[256], logpath[128], log[8192];
	struct store *s = NULL;
	int saved, fd;
	ssize_t n;

	/* everything this test logs goes to a file we read back */
	snprintf(logpath, sizeof(logpath), "%s/stderr.log", g_dir);
	fd = open(logpath, O_CREAT | O_RDWR | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	mdm_log_set_level(MDM_LOG_DEBUG);

	url_with(url, sizeof(url), wrong, false, g_port);
	CHECK(store_pg_ops.open(&s, url), -EACCES);
	assert_null(s);
	assert_null(strstr(mdm_err_last(), wrong));
	assert_non_null(strstr(mdm_err_last(), "postgresql://mdmesh:***@127.0.0.1"));
	assert_non_null(strstr(mdm_err_last(), "password authentication failed"));

	url_with(url, sizeof(url), wrong, true, g_port);
	CHECK(store_pg_ops.open(&s, url), -EACCES);
	assert_null(strstr(mdm_err_last(), wrong));
	assert_non_null(strstr(mdm_err_last(), "password=***"));

	url_with(url, sizeof(url), g_password, false, free_port());
	CHECK(store_pg_ops.open(&s, url), -ECONNREFUSED);
	assert_no_password(mdm_err_last());

	snprintf(url, sizeof(url), "postgresql://mdmesh:%s@127.0.0.1:%d/nosuchdb", g_password, g_port);
	CHECK(store_pg_ops.open(&s, url), -ENOENT);
	assert_no_password(mdm_err_last());

	/* the right password as a parameter works, and is not logged either */
	url_with(url, sizeof(url), g_password, true, g_port);
	CHECK(store_pg_ops.open(&s, url), 0);
	CHECK(store_pg_ops.begin(s), 0);
	CHECK(store_pg_ops.refresh_bar(s, "X", 7), -EINVAL);
	assert_no_password(mdm_err_last());
	CHECK(store_pg_ops.rollback(s), 0);
	store_pg_ops.close(s);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	mdm_log_set_level(MDM_LOG_INFO);
	n = pread(fd, log, sizeof(log) - 1, 0);
	close(fd);
	assert_true(n > 0);
	log[n] = '\0';
	assert_non_null(strstr(log, "connected")); /* the log did get lines... */
	assert_null(strstr(log, g_password));       /* ...and no password */
	assert_null(strstr(log, wrong));
}

/* store_url_redact: what the processor logs for a store URL (no server). */
static void test_url_redact(void **state)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db" },
		{ "postgresql://u@h/db?password=pw&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require" },
		{ "postgresql://h/db?sslmode=verify-full&sslpassword=kpw&x=1",
		  "postgresql://h/db?sslmode=verify-full&sslpassword=***&x=1" },
		{ "postgresql://u:a@h/db?sslpassword=k&password=b", "postgresql://u:***@h/db?sslpassword=***&password=***" },
		{ "postgresql://h/db", "postgresql://h/db" },
		{ "/var/lib/mdmesh/md.db", "/var/lib/mdmesh/md.db" },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		store_url_redact(cases[i].url, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_SUITE_TESTS,
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_two_writers_one_bar),
		cmocka_unit_test(test_two_writers_trade_and_correction),
		cmocka_unit_test(test_outage_mid_batch),
		cmocka_unit_test(test_restart_while_idle),
		cmocka_unit_test(test_credentials_never_shown),
		cmocka_unit_test(test_url_redact),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
