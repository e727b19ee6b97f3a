/* The bus's flush modes (mdm_nats_loop) and its adaptive window against a
 * real nats-server: every mode gets every publish acked; in burst mode a
 * deferring thread's publishes wait for mdm_bus_write_deferred while another
 * thread's go out at once; the connection survives a server restart on the
 * loop; a burst writer racing the loop thread never breaks the connection;
 * the adaptive window stays between its bounds and the window counters
 * are reported. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <cmocka.h>

#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_nats_loop.h"
#include "nats_server.h"

static struct nts_server g_srv;

struct acks {
	uint64_t stored, failed;
};

static void on_ack(void *ctx, const struct mdm_bus_ack *a)
{
	struct acks *k = ctx;

	if (a->result == MDM_BUS_ACK_FAILED)
		__atomic_add_fetch(&k->failed, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&k->stored, 1, __ATOMIC_RELAXED);
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static bool wait_acks(struct acks *k, uint64_t n, uint64_t timeout_ms)
{
	uint64_t until = mdm_mono_ns() + timeout_ms * MDM_NS_PER_MS;

	while (__atomic_load_n(&k->stored, __ATOMIC_RELAXED) + __atomic_load_n(&k->failed, __ATOMIC_RELAXED) < n) {
		if (mdm_mono_ns() > until)
			return false;
		mdm_sleep_ns(MDM_NS_PER_MS);
	}
	return true;
}

static struct mdm_bus *open_bus(enum mdm_nats_flush flush, uint32_t window_min, uint32_t max_pending,
				struct acks *k, const char *stream)
{
	struct mdm_bus_params p;
	struct mdm_bus *bus;
	char subj[64];
	const char *subjects[] = { subj };
	/* file storage for the restart test: a memory stream does not survive it */
	struct mdm_stream_cfg c = { .name = stream, .subjects = subjects, .n_subjects = 1,
				    .memory = strcmp(stream, "FRECON") != 0 };

	mdm_bus_params_init(&p);
	p.flush = flush;
	p.window_min = window_min;
	p.max_pending = max_pending;
	bus = nts_bus_open(&g_srv, &p);
	mdm_bus_set_ack_handler(bus, on_ack, k);
	snprintf(subj, sizeof(subj), "%s.>", stream);
	if (mdm_bus_stream_ensure(bus, &c) < 0)
		fail_msg("stream_ensure %s: %s", stream, mdm_err_last());
	return bus;
}

static void publish_n(struct mdm_bus *bus, const char *stream, unsigned from, unsigned n)
{
	struct mdm_bus_retry r = { .deadline_ns = mdm_mono_ns() + 30 * MDM_NS_PER_S };
	char subj[64], id[64];

	for (unsigned i = from; i < from + n; i++) {
		snprintf(subj, sizeof(subj), "%s.x", stream);
		snprintf(id, sizeof(id), "%s-%u", stream, i);
		if (mdm_bus_publish_async_until(bus, subj, id, NULL, "v", 1, i, &r) != 0)
			fail_msg("publish %u: %s", i, mdm_err_last());
	}
}

static void every_mode_acks(enum mdm_nats_flush mode, const char *stream)
{
	struct acks k = { 0 };
	struct mdm_bus *bus = open_bus(mode, 0, 4096, &k, stream);

	mdm_bus_defer_writes(bus, true);
	publish_n(bus, stream, 0, 3000);
	mdm_bus_write_deferred(bus);
	assert_true(wait_acks(&k, 3000, 20000));
	assert_int_equal(LOAD(k.stored), 3000);
	assert_int_equal(LOAD(k.failed), 0);
	mdm_bus_defer_writes(bus, false);
	mdm_bus_destroy(bus);
}

static void test_timer(void **state) { (void)state; every_mode_acks(MDM_NATS_FLUSH_TIMER, "FTIMER"); }
static void test_asap(void **state) { (void)state; every_mode_acks(MDM_NATS_FLUSH_ASAP, "FASAP"); }
static void test_burst(void **state) { (void)state; every_mode_acks(MDM_NATS_FLUSH_BURST, "FBURST"); }

/* Deferred publishes are not written until the thread says so; nothing else
 * writes on this connection meanwhile, so none can be acked before. */
static void test_burst_defers(void **state)
{
	struct acks k = { 0 };
	struct mdm_bus *bus = open_bus(MDM_NATS_FLUSH_BURST, 0, 4096, &k, "FDEFER");
	struct mdm_bus_counters c;

	(void)state;
	mdm_bus_defer_writes(bus, true);
	publish_n(bus, "FDEFER", 0, 100);
	mdm_bus_counters_get(bus, &c);
	assert_int_equal(c.in_flight, 100);
	assert_int_equal(LOAD(k.stored), 0);
	mdm_bus_write_deferred(bus);
	assert_true(wait_acks(&k, 100, 10000));
	assert_int_equal(LOAD(k.stored), 100);
	/* a thread that does not defer is written by the loop thread at once */
	mdm_bus_defer_writes(bus, false);
	publish_n(bus, "FDEFER", 100, 50);
	assert_true(wait_acks(&k, 150, 10000));
	assert_int_equal(LOAD(k.stored), 150);
	mdm_bus_destroy(bus);
}

/* The loop follows a reconnect: publishes before and after a restart of the
 * server (same port) are acked. */
static void test_burst_reconnect(void **state)
{
	struct acks k = { 0 };
	struct mdm_bus *bus = open_bus(MDM_NATS_FLUSH_BURST, 0, 4096, &k, "FRECON");
	uint64_t until;

	(void)state;
	mdm_bus_defer_writes(bus, true);
	publish_n(bus, "FRECON", 0, 200);
	mdm_bus_write_deferred(bus);
	assert_true(wait_acks(&k, 200, 10000));
	nts_signal_wait(&g_srv, SIGTERM);
	nts_run(&g_srv);
	until = mdm_mono_ns() + 20 * MDM_NS_PER_S;
	while (!mdm_bus_connected(bus) && mdm_mono_ns() < until)
		mdm_sleep_ns(10 * MDM_NS_PER_MS);
	assert_true(mdm_bus_connected(bus));
	publish_n(bus, "FRECON", 200, 200);
	mdm_bus_write_deferred(bus);
	assert_true(wait_acks(&k, 400, 30000));
	assert_int_equal(LOAD(k.failed), 0);
	mdm_bus_defer_writes(bus, false);
	mdm_bus_destroy(bus);
}

struct other_writer {
	struct mdm_bus *bus;
	unsigned n;
};

/* Publishes without deferring: the loop thread writes them at once. */
static void *other_writer_run(void *arg)
{
	struct other_writer *w = arg;

	for (unsigned i = 0; i < w->n; i++)
		publish_n(w->bus, "FRACE", 1000000 + i, 1);
	return NULL;
}

/* A burst writer and the loop thread write one connection at once, the way
 * the collector's publisher and its resends or JetStream requests do: each
 * may find the buffer the other just emptied, and a write of nothing made
 * nats.c take the connection for closed (the reconnect storms fault tests
 * saw in burst mode). No disconnect, every publish acked. */
static void test_burst_racing_writers(void **state)
{
	struct acks k = { 0 };
	struct mdm_bus *bus = open_bus(MDM_NATS_FLUSH_BURST, 0, 65536, &k, "FRACE");
	struct other_writer w = { .bus = bus, .n = 20000 };
	struct mdm_bus_counters c;
	pthread_t th;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, other_writer_run, &w), 0);
	mdm_bus_defer_writes(bus, true);
	for (unsigned i = 0; i < 20000; i++) {
		publish_n(bus, "FRACE", i, 1);
		mdm_bus_write_deferred(bus);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(wait_acks(&k, 40000, 60000));
	mdm_bus_counters_get(bus, &c);
	assert_int_equal(c.disconnects, 0);
	assert_int_equal(LOAD(k.failed), 0);
	assert_int_equal(LOAD(k.stored), 40000);
	mdm_bus_defer_writes(bus, false);
	mdm_bus_destroy(bus);
}

/* An adaptive window never lets more than its limit out and reports itself. */
static void test_window_bounds(void **state)
{
	struct acks k = { 0 };
	struct mdm_bus *bus = open_bus(MDM_NATS_FLUSH_BURST, 16, 512, &k, "FWIN");
	struct mdm_bus_counters c;

	(void)state;
	mdm_bus_counters_get(bus, &c);
	assert_int_equal(c.window, 16);
	assert_int_equal(c.window_min, 16);
	assert_int_equal(c.window_max, 512);
	mdm_bus_defer_writes(bus, true);
	for (unsigned i = 0; i < 20000; i += 100) {
		publish_n(bus, "FWIN", i, 100);
		mdm_bus_counters_get(bus, &c);
		assert_true(c.in_flight <= c.window_max);
	}
	mdm_bus_write_deferred(bus);
	assert_true(wait_acks(&k, 20000, 30000));
	mdm_bus_counters_get(bus, &c);
	assert_true(c.window >= 16 && c.window <= 512);
	assert_true(c.ack_rtt_min_ns > 0);
	assert_true(c.ack_rtt_mean_ns >= c.ack_rtt_min_ns);
	assert_true(c.stalls > 0); /* 20,000 offered at once against at most 512 */
	mdm_bus_defer_writes(bus, false);
	mdm_bus_destroy(bus);
}

static int setup(void **state)
{
	(void)state;
	nts_start(&g_srv, "mdm-nats-loop-test", true, NULL, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nts_stop(&g_srv);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer),          cmocka_unit_test(test_asap),
		cmocka_unit_test(test_burst),          cmocka_unit_test(test_burst_defers),
		cmocka_unit_test(test_window_bounds),  cmocka_unit_test(test_burst_reconnect),
		cmocka_unit_test(test_burst_racing_writers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
