/* enrich (the processor's refdata cache) against a real nats-server started
 * here (fork/exec on a free loopback port, temp store dir), like
 * test_mdm_bus.c. Without nats-server every test fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enrich.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "nats_server.h"

/* ---- nats-server processes (nats_server.h) ---------------------------- */

#define NTS_TAG "mdm-enrich-test" /* temp dir name */

static struct nts_server g_js;  /* shared JetStream server for most tests */
static struct nts_server g_own; /* a test's own server, stopped by own_teardown even on failure */

/* ---- helpers ---------------------------------------------------------- */

#define WAIT_MS 5000 /* bound for a watch update to reach the cache */

static struct mdm_bus_kv *kv_open(struct mdm_bus *bus, const char *bucket)
{
	struct mdm_bus_kv *kv = NULL;
	int rc = mdm_bus_kv_open(bus, bucket, true, &kv);

	if (rc != 0)
		fail_msg("kv_open %s: %d %s", bucket, rc, mdm_err_last());
	return kv;
}

static uint64_t put(struct mdm_bus_kv *kv, const char *symbol, const char *json)
{
	char key[128];
	uint64_t rev = 0;
	int rc;

	snprintf(key, sizeof(key), "instrument.%s", symbol);
	rc = mdm_bus_kv_put(kv, key, json, strlen(json), &rev);
	if (rc != 0)
		fail_msg("kv_put %s: %d %s", key, rc, mdm_err_last());
	return rev;
}

static void del(struct mdm_bus_kv *kv, const char *symbol)
{
	char key[128];

	snprintf(key, sizeof(key), "instrument.%s", symbol);
	assert_int_equal(mdm_bus_kv_delete(kv, key), 0);
}

static struct enrich *cache_open(struct mdm_bus *bus, const char *bucket, uint32_t capacity)
{
	struct enrich_params p;
	struct enrich *e = NULL;
	int rc;

	enrich_params_init(&p);
	p.bus = bus;
	p.bucket = bucket;
	p.capacity = capacity;
	rc = enrich_create(&e, &p);
	if (rc != 0)
		fail_msg("enrich_create %s: %d %s", bucket, rc, mdm_err_last());
	return e;
}

/* Poll until `symbol` has data at revision `rev` (rev 0: until it has none).
 * Returns the milliseconds it took; fails the test after timeout_ms. */
static uint64_t wait_rev(struct enrich *e, const char *symbol, uint64_t rev, uint64_t timeout_ms)
{
	uint64_t t0 = mdm_mono_ns(), deadline = t0 + timeout_ms * MDM_NS_PER_MS;
	struct enrich_instrument in;

	for (;;) {
		bool hit = enrich_lookup(e, symbol, &in);

		if (rev ? hit && in.revision == rev : !hit)
			return (mdm_mono_ns() - t0) / MDM_NS_PER_MS;
		if (mdm_mono_ns() > deadline)
			fail_msg("%s: revision %" PRIu64 " not seen within %" PRIu64 " ms (hit %d, revision %" PRIu64 ")",
				 symbol, rev, timeout_ms, hit, hit ? in.revision : 0);
		mdm_sleep_ns(2 * MDM_NS_PER_MS);
	}
}

/* ---- tests ------------------------------------------------------------ */

static void test_initial_load(void **state)
{
	enum { N = 300 };
	struct mdm_bus *bus = nts_bus_open(&g_js, NULL);
	struct mdm_bus_kv *kv = kv_open(bus, "t_init");
	struct enrich_counters c;
	struct enrich_instrument in;
	struct enrich *e;
	char sym[16], json[256], buf[256], want_json[256];
	uint64_t rev1 = 0, rev = 0;
	size_t len = 0;

	put(kv, "S000", "{\"sector\":\"old\"}"); /* history 1: only the last value counts */
	for (int i = 0; i < N; i++) {
		snprintf(sym, sizeof(sym), "S%03d", i);
		snprintf(json, sizeof(json),
			 "{\"symbol\":\"%s\",\"sector\":\"Sector %d\",\"currency\":\"USD\",\"exchange\":\"XNAS\","
			 "\"name\":\"Name %d\",\"lot_size\":%d,\"extra\":[1,{\"x\":null}]}", sym, i % 11, i, 100 + i);
		rev = put(kv, sym, json);
		if (i == 1) {
			rev1 = rev;
			strcpy(want_json, json);
		}
	}
	put(kv, "GONE", "{\"sector\":\"x\"}");
	del(kv, "GONE"); /* its delete marker is an initial value too */

	e = cache_open(bus, "t_init", 0);
	enrich_counters_get(e, &c);
	assert_int_equal(c.entries, N);
	assert_int_equal(c.updates, N);
	assert_int_equal(c.deletes, 0);
	assert_int_equal(c.bad_values, 0);
	assert_int_equal(c.lookups, 0);
	for (int i = 0; i < N; i++) {
		char want[64];

		snprintf(sym, sizeof(sym), "S%03d", i);
		assert_true(enrich_lookup(e, sym, &in));
		assert_string_equal(in.symbol, sym);
		snprintf(want, sizeof(want), "Sector %d", i % 11);
		assert_string_equal(in.sector, want);
		snprintf(want, sizeof(want), "Name %d", i);
		assert_string_equal(in.name, want);
		assert_string_equal(in.currency, "USD");
		assert_string_equal(in.exchange, "XNAS");
		assert_int_equal(in.lot_size, 100 + i);
		assert_true(in.revision > 0);
	}
	assert_false(enrich_lookup(e, "GONE", &in));
	assert_false(enrich_lookup(e, "S300", &in));
	enrich_counters_get(e, &c);
	assert_int_equal(c.lookups, N + 2);
	assert_int_equal(c.misses, 2);

	/* the raw JSON, byte for byte, for the store */
	assert_int_equal(enrich_lookup_json(e, "S001", buf, sizeof(buf), &len, &rev), 0);
	assert_string_equal(buf, want_json);
	assert_int_equal(len, strlen(want_json));
	assert_int_equal(rev, rev1);
	assert_true(enrich_lookup(e, "S001", &in));
	assert_int_equal(in.revision, rev1);
	assert_int_equal(enrich_lookup_json(e, "S001", buf, len, &len, NULL), -ENOSPC);
	assert_int_equal(len, strlen(want_json));
	assert_int_equal(enrich_lookup_json(e, "S001", buf, len + 1, NULL, NULL), 0);
	assert_int_equal(enrich_lookup_json(e, "GONE", buf, sizeof(buf), NULL, NULL), -ENOENT);
	assert_int_equal(enrich_lookup_json(e, "NEVER", buf, sizeof(buf), NULL, NULL), -ENOENT);
	assert_int_equal(enrich_lookup_json(e, "", buf, sizeof(buf), NULL, NULL), -EINVAL);
	assert_int_equal(enrich_lookup_json(e, "S001", NULL, 4, NULL, NULL), -EINVAL);
	enrich_counters_get(e, &c);
	assert_int_equal(c.misses, 2); /* json lookups are not counted as misses */

	enrich_destroy(e);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
}

static void test_missing_bucket_is_created(void **state)
{
	struct mdm_bus *bus = nts_bus_open(&g_js, NULL);
	struct mdm_bus_kv *kv = NULL;
	struct enrich_counters c;
	struct enrich *e;
	uint64_t rev, ms;

	assert_int_equal(mdm_bus_kv_open(bus, "t_new", false, &kv), -ENOENT);
	e = cache_open(bus, "t_new", 0);
	enrich_counters_get(e, &c);
	assert_int_equal(c.entries, 0);
	assert_int_equal(mdm_bus_kv_open(bus, "t_new", false, &kv), 0);
	/* an empty bucket ends its initial values at once; updates still flow */
	rev = put(kv, "FIRST", "{\"name\":\"First\"}");
	ms = wait_rev(e, "FIRST", rev, WAIT_MS);
	print_message("first update seen after %" PRIu64 " ms\n", ms);
	enrich_counters_get(e, &c);
	assert_int_equal(c.entries, 1);
	assert_int_equal(c.updates, 1);
	enrich_destroy(e);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
}

static void test_update_and_delete(void **state)
{
	struct mdm_bus *bus = nts_bus_open(&g_js, NULL);
	struct mdm_bus_kv *kv = kv_open(bus, "t_upd");
	struct enrich_counters c;
	struct enrich_instrument in;
	struct enrich *e;
	char buf[128];
	uint64_t rev;

	put(kv, "AAA", "{\"sector\":\"Energy\",\"lot_size\":100}");
	put(kv, "BBB", "{\"sector\":\"Utilities\",\"lot_size\":10}");
	e = cache_open(bus, "t_upd", 0);

	rev = put(kv, "AAA", "{\"sector\":\"Materials\",\"lot_size\":50,\"name\":\"A Corp\"}");
	wait_rev(e, "AAA", rev, WAIT_MS);
	assert_true(enrich_lookup(e, "AAA", &in));
	assert_string_equal(in.sector, "Materials");
	assert_string_equal(in.name, "A Corp");
	assert_string_equal(in.currency, ""); /* absent keys are empty, not stale */
	assert_int_equal(in.lot_size, 50);
	assert_int_equal(enrich_lookup_json(e, "AAA", buf, sizeof(buf), NULL, NULL), 0);
	assert_string_equal(buf, "{\"sector\":\"Materials\",\"lot_size\":50,\"name\":\"A Corp\"}");

	del(kv, "BBB");
	wait_rev(e, "BBB", 0, WAIT_MS);
	assert_int_equal(enrich_lookup_json(e, "BBB", buf, sizeof(buf), NULL, NULL), -ENOENT);
	enrich_counters_get(e, &c);
	assert_int_equal(c.entries, 1);
	assert_int_equal(c.deletes, 1);
	assert_int_equal(c.updates, 3);

	/* a delete of a symbol the cache never had changes nothing */
	del(kv, "NEVER");
	rev = put(kv, "BBB", "{\"sector\":\"Back\"}");
	wait_rev(e, "BBB", rev, WAIT_MS);
	assert_true(enrich_lookup(e, "BBB", &in));
	assert_string_equal(in.sector, "Back");
	assert_int_equal(in.lot_size, 0);
	enrich_counters_get(e, &c);
	assert_int_equal(c.entries, 2);
	assert_int_equal(c.deletes, 1);
	assert_int_equal(c.updates, 4);

	enrich_destroy(e);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
}

static void test_bad_values(void **state)
{
	struct mdm_bus *bus = nts_bus_open(&g_js, NULL);
	struct mdm_bus_kv *kv = kv_open(bus, "t_bad");
	/* each bad value goes to its own key: with history 1 a watch that lags
	 * sees only the latest of several quick puts to one key */
	const char *bad[] = {
		"not json", "[1,2]", "{\"sector\":", "{\"a\":1} x", "{\"a\":\"\xff\"}", "{\"a\":01}", "null", "",
		NULL, /* a valid object one byte over ENRICH_JSON_MAX, made below */
	};
	enum { NBAD = sizeof(bad) / sizeof(bad[0]) };
	struct enrich_counters c;
	struct enrich_instrument in;
	struct enrich *e;
	size_t big_len = ENRICH_JSON_MAX + 1;
	char *big = malloc(big_len + 1);
	char longname[256], sym[16];
	uint64_t good[NBAD], rev;

	assert_non_null(big);
	memset(big, ' ', big_len);
	memcpy(big, "{\"pad\":1", 8);
	big[big_len - 1] = '}';
	big[big_len] = '\0';
	bad[NBAD - 1] = big;
	for (size_t i = 0; i < NBAD; i++) {
		snprintf(sym, sizeof(sym), "B%zu", i);
		good[i] = put(kv, sym, "{\"sector\":\"Good\"}");
	}
	put(kv, "OOPS", "oops"); /* bad at load time too */
	e = cache_open(bus, "t_bad", 0);
	enrich_counters_get(e, &c);
	assert_int_equal(c.bad_values, 1);
	assert_int_equal(c.entries, NBAD);
	assert_false(enrich_lookup(e, "OOPS", &in));

	for (size_t i = 0; i < NBAD; i++) {
		snprintf(sym, sizeof(sym), "B%zu", i);
		put(kv, sym, bad[i]);
	}
	/* a key whose symbol does not fit */
	put(kv, "ABCDEFGHIJKLMNOP", "{\"sector\":\"x\"}");
	/* the watch is ordered: once SENTINEL is seen, everything before it was applied */
	rev = put(kv, "SENTINEL", "{}");
	wait_rev(e, "SENTINEL", rev, WAIT_MS);
	enrich_counters_get(e, &c);
	assert_int_equal(c.bad_values, 1 + NBAD + 1);
	for (size_t i = 0; i < NBAD; i++) {
		snprintf(sym, sizeof(sym), "B%zu", i);
		assert_true(enrich_lookup(e, sym, &in));
		assert_int_equal(in.revision, good[i]); /* the previous data stays */
		assert_string_equal(in.sector, "Good");
	}

	/* valid objects with odd members: wrong types are empty, long strings cut
	 * at a character boundary (40 x "é" is 80 bytes; 79 fit, so 39 are kept) */
	strcpy(longname, "{\"sector\":5,\"lot_size\":\"100\",\"currency\":\"TOOLONGCURRENCY\",\"name\":\"");
	for (int i = 0; i < 40; i++)
		strcat(longname, "\xc3\xa9");
	strcat(longname, "\",\"exchange\":\"X\\u0000Y\",\"nested\":{\"a\":[1]}}");
	rev = put(kv, "ODD", longname);
	wait_rev(e, "ODD", rev, WAIT_MS);
	assert_true(enrich_lookup(e, "ODD", &in));
	assert_string_equal(in.sector, "");
	assert_int_equal(in.lot_size, 0);
	assert_string_equal(in.currency, "TOOLONG");
	assert_int_equal(strlen(in.name), 78);
	assert_string_equal(in.exchange, "");
	enrich_counters_get(e, &c);
	assert_int_equal(c.bad_values, 1 + NBAD + 1);

	free(big);
	enrich_destroy(e);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
}

/* ---- concurrent readers during updates -------------------------------- */

#define CONC_SYMBOLS 64
#define CONC_READERS 4

struct reader {
	pthread_t t;
	struct enrich *e;
	atomic_bool *stop;
	uint64_t calls, hits, misses, torn;
	char torn_detail[200];
};

/* Each value is internally consistent (sector S<v>, name N<v>, exchange
 * E<v>, lot_size v, symbol C<k>): a torn copy breaks the pattern. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t x = (uint64_t)(uintptr_t)r | 1;

	while (!atomic_load(r->stop)) {
		struct enrich_instrument in;
		char sym[16], want[64];
		unsigned k;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		k = (unsigned)(x % (CONC_SYMBOLS + 8)); /* some never exist */
		snprintf(sym, sizeof(sym), "C%02u", k);
		r->calls++;
		if (!enrich_lookup(r->e, sym, &in)) {
			r->misses++;
			continue;
		}
		r->hits++;
		snprintf(want, sizeof(want), "S%" PRIu64 "|N%" PRIu64 "|E%" PRIu64 "|%s", in.lot_size, in.lot_size,
			 in.lot_size, sym);
		char got[200];

		snprintf(got, sizeof(got), "%s|%s|%s|%s", in.sector, in.name, in.exchange, in.symbol);
		if (strcmp(got, want) != 0 || in.revision == 0) {
			if (!r->torn)
				snprintf(r->torn_detail, sizeof(r->torn_detail), "%.160s (revision %" PRIu64 ")", got,
					 in.revision);
			r->torn++;
		}
	}
	return NULL;
}

static uint64_t put_conc(struct mdm_bus_kv *kv, unsigned k, unsigned v)
{
	char sym[16], json[160];

	snprintf(sym, sizeof(sym), "C%02u", k);
	snprintf(json, sizeof(json),
		 "{\"sector\":\"S%u\",\"name\":\"N%u\",\"exchange\":\"E%u\",\"currency\":\"USD\",\"lot_size\":%u}", v, v,
		 v, v);
	return put(kv, sym, json);
}

static void test_concurrent_lookups(void **state)
{
	enum { ROUNDS = 25 };
	struct mdm_bus *bus = nts_bus_open(&g_js, NULL);
	struct mdm_bus_kv *kv = kv_open(bus, "t_conc");
	struct reader rd[CONC_READERS];
	struct enrich_counters c0, c;
	atomic_bool stop = false;
	uint64_t calls = 0, hits = 0, misses = 0, deadline, last = 0;
	struct enrich *e;

	for (unsigned k = 0; k < CONC_SYMBOLS; k++)
		put_conc(kv, k, k);
	e = cache_open(bus, "t_conc", 0);
	enrich_counters_get(e, &c0);
	memset(rd, 0, sizeof(rd));
	for (int i = 0; i < CONC_READERS; i++) {
		rd[i].e = e;
		rd[i].stop = &stop;
		assert_int_equal(pthread_create(&rd[i].t, NULL, reader_main, &rd[i]), 0);
	}
	for (unsigned round = 1; round <= ROUNDS; round++) {
		for (unsigned k = 0; k < CONC_SYMBOLS; k++) {
			char sym[16];

			if (k % 16 == round % 16) {
				snprintf(sym, sizeof(sym), "C%02u", k);
				del(kv, sym);
			}
			last = put_conc(kv, k, round * 1000 + k);
		}
	}
	/* wait for the last put with enrich_lookup_json, which is not counted,
	 * so that the readers' counts can be compared exactly */
	deadline = mdm_mono_ns() + 2 * WAIT_MS * MDM_NS_PER_MS;
	for (;;) {
		uint64_t rev = 0;
		char buf[256];

		if (enrich_lookup_json(e, "C63", buf, sizeof(buf), NULL, &rev) == 0 && rev == last)
			break;
		if (mdm_mono_ns() > deadline)
			fail_msg("last update not applied within %d ms", 2 * WAIT_MS);
		mdm_sleep_ns(2 * MDM_NS_PER_MS);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < CONC_READERS; i++) {
		assert_int_equal(pthread_join(rd[i].t, NULL), 0);
		if (rd[i].torn)
			fail_msg("reader %d: %" PRIu64 " torn reads, first: %s", i, rd[i].torn, rd[i].torn_detail);
		calls += rd[i].calls;
		hits += rd[i].hits;
		misses += rd[i].misses;
	}
	print_message("%" PRIu64 " lookups (%" PRIu64 " hits) during %u updates\n", calls, hits,
		      ROUNDS * CONC_SYMBOLS);
	assert_true(hits > 1000);
	assert_true(misses > 0);
	enrich_counters_get(e, &c);
	/* the per-thread counter stripes add up exactly */
	assert_int_equal(c.lookups - c0.lookups, calls);
	assert_int_equal(c.misses - c0.misses, misses);
	/* with history 1 a lagging watch may skip a delete (or put) overwritten
	 * before it was delivered, so these are upper bounds; the final state
	 * below is exact */
	assert_true(c.deletes - c0.deletes <= ROUNDS * CONC_SYMBOLS / 16);
	assert_true(c.updates - c0.updates <= ROUNDS * CONC_SYMBOLS);
	assert_int_equal(c.entries, CONC_SYMBOLS);
	assert_int_equal(c.bad_values, 0);
	for (unsigned k = 0; k < CONC_SYMBOLS; k++) {
		struct enrich_instrument in;
		char sym[16];

		snprintf(sym, sizeof(sym), "C%02u", k);
		assert_true(enrich_lookup(e, sym, &in));
		assert_int_equal(in.lot_size, ROUNDS * 1000 + k);
	}
	enrich_destroy(e);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
}

static void test_capacity_and_misses(void **state)
{
	struct mdm_bus *bus = nts_bus_open(&g_js, NULL);
	struct mdm_bus_kv *kv = kv_open(bus, "t_cap");
	struct enrich_counters c;
	struct enrich_instrument in;
	struct enrich *e;
	uint64_t rev;

	put(kv, "K1", "{}");
	put(kv, "K2", "{}");
	put(kv, "K3", "{}");
	e = cache_open(bus, "t_cap", 4);
	put(kv, "K4", "{}");
	put(kv, "K5", "{}");
	rev = put(kv, "K1", "{\"name\":\"again\"}");
	wait_rev(e, "K1", rev, WAIT_MS);
	enrich_counters_get(e, &c);
	assert_int_equal(c.entries, 4);
	assert_int_equal(c.dropped, 1);
	assert_false(enrich_lookup(e, "K5", &in));
	/* a deleted symbol keeps its slot: it comes back even at capacity */
	del(kv, "K2");
	wait_rev(e, "K2", 0, WAIT_MS);
	rev = put(kv, "K2", "{}");
	wait_rev(e, "K2", rev, WAIT_MS);
	enrich_counters_get(e, &c);
	assert_int_equal(c.dropped, 1);

	enrich_counters_get(e, &c);
	{
		uint64_t l0 = c.lookups, m0 = c.misses;

		assert_false(enrich_lookup(e, NULL, &in));
		assert_false(enrich_lookup(e, "", &in));
		assert_false(enrich_lookup(e, "ABCDEFGHIJKLMNOP", &in)); /* 16 bytes: too long */
		assert_false(enrich_lookup(e, "K1", NULL));
		assert_false(enrich_lookup(e, "NOPE", &in));
		assert_true(enrich_lookup(e, "K3", &in));
		enrich_counters_get(e, &c);
		assert_int_equal(c.lookups - l0, 6);
		assert_int_equal(c.misses - m0, 5);
	}
	assert_false(enrich_lookup(NULL, "K1", &in));
	enrich_destroy(e);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
}

static void test_create_errors(void **state)
{
	struct mdm_bus *bus = nts_bus_open(&g_js, NULL);
	struct enrich_params p;
	struct enrich *e = (struct enrich *)1;
	uint64_t used;

	enrich_params_init(&p);
	assert_int_equal(enrich_create(&e, &p), -EINVAL);
	assert_null(e);
	p.bus = bus;
	p.capacity = (1u << 24) + 1;
	assert_int_equal(enrich_create(&e, &p), -EINVAL);
	p.capacity = 16;
	p.bucket = "";
	assert_int_equal(enrich_create(&e, &p), -EINVAL);
	p.bucket = "bad.name";
	assert_int_equal(enrich_create(&e, &p), -EINVAL);
	assert_null(e);

	/* every allocation of create failing in turn unwinds without a leak */
	p.bucket = "t_mem";
	used = mdm_mem_used();
	for (uint64_t n = 1; n <= 4; n++) {
		mdm_mem_fail_after(n);
		assert_int_equal(enrich_create(&e, &p), -ENOMEM);
		mdm_mem_fail_reset();
		assert_null(e);
		assert_int_equal(mdm_mem_used(), used);
	}
	assert_int_equal(enrich_create(&e, &p), 0);
	enrich_destroy(e);
	assert_int_equal(mdm_mem_used(), used);
	enrich_destroy(NULL);
	mdm_bus_destroy(bus);
}

static void test_no_jetstream(void **state)
{
	struct nts_server *s = &g_own;
	struct mdm_bus *bus;
	struct enrich_params p;
	struct enrich *e = NULL;

	nts_start(s, NTS_TAG, false, NULL, NULL);
	bus = nts_bus_open(s, NULL);
	enrich_params_init(&p);
	p.bus = bus;
	assert_int_equal(enrich_create(&e, &p), -ENOTSUP);
	assert_null(e);
	mdm_bus_destroy(bus);
}

/* The cache follows the bucket across a server restart: changes made after
 * the restart (a put and a delete) reach it. */
static void test_server_restart(void **state)
{
	struct nts_server *s = &g_own;
	struct mdm_bus_params bp;
	struct mdm_bus *bus;
	struct mdm_bus_kv *kv;
	struct enrich *e;
	uint64_t rev, deadline, ms;

	nts_start(s, NTS_TAG, true, NULL, NULL);
	mdm_bus_params_init(&bp);
	bp.reconnect_wait_ms = 100;
	bus = nts_bus_open(s, &bp);
	kv = kv_open(bus, "t_restart");
	put(kv, "OLD", "{\"sector\":\"old\"}");
	e = cache_open(bus, "t_restart", 0);
	assert_true(enrich_lookup(e, "OLD", &(struct enrich_instrument){ 0 }));

	nts_signal_wait(s, SIGTERM);
	nts_run(s);
	deadline = mdm_mono_ns() + 10 * MDM_NS_PER_S;
	while (!mdm_bus_connected(bus)) {
		if (mdm_mono_ns() > deadline)
			fail_msg("bus did not reconnect within 10 s");
		mdm_sleep_ns(20 * MDM_NS_PER_MS);
	}
	/* the JetStream API may need a moment after the restart */
	deadline = mdm_mono_ns() + 10 * MDM_NS_PER_S;
	while (mdm_bus_kv_put(kv, "instrument.NEW", "{\"sector\":\"new\"}", 16, &rev) != 0) {
		if (mdm_mono_ns() > deadline)
			fail_msg("put after restart: %s", mdm_err_last());
		mdm_sleep_ns(100 * MDM_NS_PER_MS);
	}
	del(kv, "OLD");
	ms = wait_rev(e, "NEW", rev, 30000);
	wait_rev(e, "OLD", 0, 30000);
	print_message("changes after the restart seen within %" PRIu64 " ms\n", ms);
	enrich_destroy(e);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
}

/* With the connection gone for good the watch fails: counted, retried with
 * backoff, lookups keep serving the last data, destroy stays prompt. */
static void test_connection_lost_for_good(void **state)
{
	struct nts_server *s = &g_own;
	struct mdm_bus_params bp;
	struct mdm_bus *bus;
	struct mdm_bus_kv *kv;
	struct enrich_counters c;
	struct enrich_instrument in;
	struct enrich *e;
	uint64_t deadline, t0;

	nts_start(s, NTS_TAG, true, NULL, NULL);
	mdm_bus_params_init(&bp);
	bp.max_reconnect = 0;
	bus = nts_bus_open(s, &bp);
	kv = kv_open(bus, "t_lost");
	put(kv, "KEEP", "{\"sector\":\"kept\"}");
	e = cache_open(bus, "t_lost", 0);
	nts_signal_wait(s, SIGTERM);
	deadline = mdm_mono_ns() + 10 * MDM_NS_PER_S;
	do {
		if (mdm_mono_ns() > deadline)
			fail_msg("watch failure not counted within 10 s");
		mdm_sleep_ns(20 * MDM_NS_PER_MS);
		enrich_counters_get(e, &c);
	} while (c.watch_errors < 2); /* the failure, then a failed re-creation */
	assert_true(enrich_lookup(e, "KEEP", &in));
	assert_string_equal(in.sector, "kept");
	assert_int_equal(c.entries, 1);
	t0 = mdm_mono_ns();
	enrich_destroy(e);
	assert_true(mdm_mono_ns() - t0 < 1 * MDM_NS_PER_S);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
}

static int group_setup(void **state)
{
	nts_start(&g_js, NTS_TAG, true, NULL, NULL);
	return 0;
}

static int own_teardown(void **state)
{
	if (g_own.dir[0])
		nts_stop(&g_own);
	return 0;
}

static int group_teardown(void **state)
{
	nts_stop(&g_js);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_load),
		cmocka_unit_test(test_missing_bucket_is_created),
		cmocka_unit_test(test_update_and_delete),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_concurrent_lookups),
		cmocka_unit_test(test_capacity_and_misses),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test_teardown(test_no_jetstream, own_teardown),
		cmocka_unit_test_teardown(test_server_restart, own_teardown),
		cmocka_unit_test_teardown(test_connection_lost_for_good, own_teardown),
	};
	int failed;

	failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
	mdm_bus_shutdown();
	return failed;
}
