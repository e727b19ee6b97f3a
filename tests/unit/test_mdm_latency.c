/* mdm_phaser and mdm_latency: the phaser's wait, interval recorders (one
 * writer, shared writers) under concurrent flips, and the reporter's set. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>

#include "mdm_latency.h"
#include "mdm_phaser.h"

static struct mdm_hdr *mk(void)
{
	struct mdm_hdr *h = NULL;

	assert_int_equal(mdm_hdr_create(&h, 1, MDM_LATENCY_HIGHEST_NS, MDM_LATENCY_SIGFIGS), 0);
	return h;
}

/* ---- phaser ---- */

struct flip_arg {
	struct mdm_phaser *p;
	int done;
};

static void *flipper(void *arg)
{
	struct flip_arg *a = arg;

	mdm_phaser_reader_lock(a->p);
	mdm_phaser_flip_phase(a->p, 1000);
	mdm_phaser_reader_unlock(a->p);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A flip returns at once with no writer inside, waits for a writer that
 * entered before it, and ignores a writer that entered after it. */
static void test_phaser_waits_for_writer(void **state)
{
	struct mdm_phaser p;
	struct flip_arg a = { .p = &p };
	pthread_t t;
	int64_t e1, e2;

	(void)state;
	assert_int_equal(mdm_phaser_init(&p), 0);
	for (int i = 0; i < 3; i++) { /* both phases, twice: no writers */
		mdm_phaser_reader_lock(&p);
		mdm_phaser_flip_phase(&p, 0);
		mdm_phaser_reader_unlock(&p);
	}
	e1 = mdm_phaser_writer_enter(&p);
	assert_int_equal(pthread_create(&t, NULL, flipper, &a), 0);
	/* the flip has started when start_epoch was reset; then a new writer
	 * enters the new phase, which the flip must not wait for */
	while (__atomic_load_n(&p.start_epoch, __ATOMIC_ACQUIRE) == e1 + 1)
		sched_yield();
	e2 = mdm_phaser_writer_enter(&p);
	for (int i = 0; i < 1000; i++)
		sched_yield();
	assert_int_equal(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE), 0);
	mdm_phaser_writer_exit(&p, e1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.done, 1);
	mdm_phaser_writer_exit(&p, e2);
	mdm_phaser_fini(&p);
}

/* ---- recorders ---- */

static void test_recorder_intervals(void **state)
{
	struct mdm_lat_recorder *r;
	struct mdm_hdr *into[3] = { mk(), mk(), mk() };
	int64_t e;

	(void)state;
	assert_int_equal(mdm_lat_recorder_create(&r, 3, 0, false), -EINVAL);
	assert_int_equal(mdm_lat_recorder_create(&r, MDM_LATENCY_STAGES_MAX + 1, 1, false), -EINVAL);
	/* stages 0 and 2 recorded here; stage 1 is someone else's */
	assert_int_equal(mdm_lat_recorder_create(&r, 3, 0x5, false), 0);
	assert_null(r->sets[0][1]);
	e = mdm_lat_enter(r);
	mdm_lat_record(r, 0, 100);
	mdm_lat_record_n(r, 2, 5000, 3);
	mdm_lat_exit(r, e);
	mdm_lat_recorder_take(r, into);
	assert_int_equal(mdm_hdr_total_count(into[0]), 1);
	assert_int_equal(mdm_hdr_max(into[0]), 100);
	assert_int_equal(mdm_hdr_total_count(into[1]), 0);
	assert_int_equal(mdm_hdr_total_count(into[2]), 3);
	/* the next interval starts empty, then holds only what came after */
	mdm_lat_recorder_take(r, into);
	assert_int_equal(mdm_hdr_total_count(into[0]), 1);
	e = mdm_lat_enter(r);
	mdm_lat_record(r, 0, 7);
	mdm_lat_record(r, 0, -1); /* out of range: counted, not recorded */
	mdm_lat_exit(r, e);
	mdm_lat_recorder_take(r, into);
	assert_int_equal(mdm_hdr_total_count(into[0]), 2);
	assert_int_equal(mdm_hdr_min(into[0]), 7);
	assert_int_equal(into[0]->out_of_range, 1);
	mdm_lat_recorder_destroy(r);
	mdm_lat_recorder_destroy(NULL);
	for (int i = 0; i < 3; i++)
		mdm_hdr_destroy(into[i]);
}

#define WRITERS 4
#define PER_WRITER 200000

struct mt {
	struct mdm_lat_recorder *shared;        /* every writer records here too */
	struct mdm_lat_recorder *own[WRITERS];  /* one per writer */
	int writers_left;
};

struct writer_arg {
	struct mt *mt;
	int id;
};

/* Value k of writer w: spread over buckets so counts, min and max all move. */
static int64_t value_of(int w, int k)
{
	return (int64_t)(1 + (k % 5000) * (w + 1)) << (k % 17);
}

static void *writer(void *arg)
{
	struct writer_arg *a = arg;
	struct mt *mt = a->mt;

	for (int k = 0; k < PER_WRITER;) {
		int burst = 1 + k % 37;
		int64_t es = mdm_lat_enter(mt->shared), eo = mdm_lat_enter(mt->own[a->id]);

		for (int i = 0; i < burst && k < PER_WRITER; i++, k++) {
			mdm_lat_record(mt->shared, 0, value_of(a->id, k));
			mdm_lat_record_n(mt->own[a->id], 1, value_of(a->id, k), 2);
		}
		mdm_lat_exit(mt->own[a->id], eo);
		mdm_lat_exit(mt->shared, es);
	}
	__atomic_fetch_sub(&mt->writers_left, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Writers record while the reader flips intervals as fast as it can; the
 * intervals must add up exactly to what was written (counts per slot, total,
 * min, max), in both the shared (atomic) and the per-writer recorders. */
static void test_recorder_concurrent_totals(void **state)
{
	struct mt mt = { .writers_left = WRITERS };
	struct writer_arg args[WRITERS];
	pthread_t t[WRITERS];
	struct mdm_hdr *iv[2] = { mk(), mk() }, *sum[2] = { mk(), mk() }, *expect = mk();
	unsigned takes = 0;
	int64_t min = INT64_MAX, max = 0;

	(void)state;
	assert_int_equal(mdm_lat_recorder_create(&mt.shared, 2, 0x1, true), 0);
	for (int w = 0; w < WRITERS; w++)
		assert_int_equal(mdm_lat_recorder_create(&mt.own[w], 2, 0x2, false), 0);
	for (int w = 0; w < WRITERS; w++) {
		args[w] = (struct writer_arg){ .mt = &mt, .id = w };
		assert_int_equal(pthread_create(&t[w], NULL, writer, &args[w]), 0);
	}
	while (__atomic_load_n(&mt.writers_left, __ATOMIC_ACQUIRE) > 0) {
		mdm_hdr_reset(iv[0]);
		mdm_hdr_reset(iv[1]);
		mdm_lat_recorder_take(mt.shared, iv);
		for (int w = 0; w < WRITERS; w++)
			mdm_lat_recorder_take(mt.own[w], iv);
		mdm_hdr_add(sum[0], iv[0]);
		mdm_hdr_add(sum[1], iv[1]);
		takes++;
	}
	for (int w = 0; w < WRITERS; w++)
		assert_int_equal(pthread_join(t[w], NULL), 0);
	mdm_lat_recorder_take(mt.shared, sum);
	for (int w = 0; w < WRITERS; w++)
		mdm_lat_recorder_take(mt.own[w], sum);
	assert_true(takes > 1);
	for (int w = 0; w < WRITERS; w++)
		for (int k = 0; k < PER_WRITER; k++) {
			int64_t v = value_of(w, k);

			mdm_hdr_record(expect, v);
			if (v < min)
				min = v;
			if (v > max)
				max = v;
		}
	assert_int_equal(mdm_hdr_total_count(sum[0]), (uint64_t)WRITERS * PER_WRITER);
	assert_int_equal(mdm_hdr_total_count(sum[1]), 2ull * WRITERS * PER_WRITER);
	for (int32_t i = 0; i < expect->counts_len; i++) {
		assert_int_equal(sum[0]->counts[i], expect->counts[i]);
		assert_int_equal(sum[1]->counts[i], 2 * expect->counts[i]);
	}
	assert_int_equal(mdm_hdr_min(sum[0]), mdm_hdr_lowest_equivalent(expect, min));
	assert_int_equal(mdm_hdr_max(sum[0]), mdm_hdr_max(expect));
	assert_int_equal(mdm_hdr_max(sum[1]), mdm_hdr_highest_equivalent(expect, max));
	mdm_lat_recorder_destroy(mt.shared);
	for (int w = 0; w < WRITERS; w++)
		mdm_lat_recorder_destroy(mt.own[w]);
	for (int i = 0; i < 2; i++) {
		mdm_hdr_destroy(iv[i]);
		mdm_hdr_destroy(sum[i]);
	}
	mdm_hdr_destroy(expect);
}

/* ---- the reporter's set ---- */

static void test_latency_set(void **state)
{
	static const char *const names[] = { "a_to_b", "b_to_c" };
	struct mdm_latency_params p = { .stage_names = names, .n_stages = 2 };
	struct mdm_latency *l;
	struct mdm_hdr *const *iv;
	char buf[4096];
	FILE *f;

	(void)state;
	p.n_stages = 0;
	assert_int_equal(mdm_latency_create(&l, &p), -EINVAL);
	p.n_stages = 2;
	p.hlog_path = "/nonexistent-dir/x.hlog";
	assert_true(mdm_latency_create(&l, &p) < 0);
	p.hlog_path = NULL;
	assert_int_equal(mdm_latency_create(&l, &p), 0);
	iv = mdm_latency_interval_begin(l);
	for (int v = 1; v <= 100; v++)
		mdm_hdr_record(iv[0], v * 1000);
	mdm_latency_interval_end(l, 1.0);
	assert_int_equal(mdm_latency_interval_count(l, 0), 100);
	assert_int_equal(mdm_latency_interval_count(l, 1), 0);
	assert_true(mdm_latency_quantile_ns(l, 0, MDM_LATENCY_Q_P50) >= 50000.0);
	assert_true(mdm_latency_quantile_ns(l, 0, MDM_LATENCY_Q_P50) < 50100.0);
	assert_true(mdm_latency_quantile_ns(l, 0, MDM_LATENCY_Q_MAX) >= 100000.0);
	assert_true(mdm_latency_quantile_ns(l, 1, MDM_LATENCY_Q_P99) == 0.0);
	/* a new interval starts empty; the totals keep everything */
	iv = mdm_latency_interval_begin(l);
	mdm_hdr_record(iv[1], 42);
	mdm_latency_interval_end(l, 2.0);
	assert_int_equal(mdm_latency_interval_count(l, 0), 0);
	assert_true(mdm_latency_quantile_ns(l, 0, MDM_LATENCY_Q_P50) == 0.0);
	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	mdm_latency_print(l, f);
	fclose(f);
	assert_non_null(strstr(buf, "a_to_b"));
	assert_non_null(strstr(buf, "       100\n"));
	assert_non_null(strstr(buf, "b_to_c"));
	mdm_latency_destroy(l);
	mdm_latency_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phaser_waits_for_writer),
		cmocka_unit_test(test_recorder_intervals),
		cmocka_unit_test(test_recorder_concurrent_totals),
		cmocka_unit_test(test_latency_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
