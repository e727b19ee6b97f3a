/* mdm_window against a simulated server: a FIFO with a service rate and a
 * fixed network/processing delay, fed by a publisher that always has work
 * (or a fixed offered rate). Deterministic: simulated time only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mdm_window.h"

struct sim {
	uint64_t service_ns;   /* per message at the server */
	uint64_t delay_ns;     /* network + fixed processing, both ways */
	uint64_t offer_ns;     /* 0: backlogged publisher, else one message every offer_ns */
	uint64_t jitter_ns;    /* from the first quarter on, each ack delayed by up to this, in order:
				* CPU contention, not a queue */
	/* results over the measured second half */
	double rate_per_s;
	double mean_rtt_ns;
	uint32_t max_inflight;
};

#define SIM_MAX 400000

/* Runs `n` messages. Returns the window's final limit. */
static uint32_t simulate(struct mdm_window *w, struct sim *s, unsigned n)
{
	uint64_t *send = calloc(n, sizeof(*send)), *ack = calloc(n, sizeof(*ack));
	uint64_t now = 0, server_free = 0, t_half = 0, rtt_sum = 0, last_ack = 0, rng = 88172645463325252ull;
	unsigned sent = 0, acked = 0, half = n / 2;

	assert_non_null(send);
	assert_non_null(ack);
	s->max_inflight = 0;
	while (acked < n) {
		/* send while the window allows and work is offered */
		while (sent < n && sent - acked < mdm_window_limit(w) &&
		       (s->offer_ns == 0 || (uint64_t)sent * s->offer_ns <= now)) {
			uint64_t arrive = now + s->delay_ns / 2, start = arrive > server_free ? arrive : server_free;

			send[sent] = now;
			server_free = start + s->service_ns;
			ack[sent] = server_free + s->delay_ns / 2;
			if (s->jitter_ns && sent >= n / 4) {
				/* xorshift64: the ack thread descheduled for a while; acks
				 * still come in order (a later one waits for an earlier) */
				rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
				ack[sent] += rng % s->jitter_ns;
				if (ack[sent] < last_ack)
					ack[sent] = last_ack;
				last_ack = ack[sent];
			}
			sent++;
			if (sent - acked > s->max_inflight && sent > half)
				s->max_inflight = sent - acked;
		}
		/* next event: the next ack, or the next offered message */
		if (acked < sent && (s->offer_ns == 0 || sent == n || ack[acked] <= (uint64_t)sent * s->offer_ns)) {
			now = ack[acked];
			mdm_window_on_ack(w, ack[acked] - send[acked], now);
			if (acked == half)
				t_half = now;
			if (acked >= half)
				rtt_sum += ack[acked] - send[acked];
			acked++;
		} else {
			now = (uint64_t)sent * s->offer_ns;
		}
	}
	s->rate_per_s = (double)(n - half) * 1e9 / (double)(now - t_half);
	s->mean_rtt_ns = (double)rtt_sum / (n - half);
	free(send);
	free(ack);
	return mdm_window_limit(w);
}

/* Backlogged publisher, server at 100k msgs/s, 200 us base delay: BDP = 20. */
static void test_converges_near_bdp(void **state)
{
	struct mdm_window w;
	struct sim s = { .service_ns = 10000, .delay_ns = 200000 };
	double base_rtt = (double)(s.service_ns + s.delay_ns);
	uint32_t limit;

	(void)state;
	mdm_window_init(&w, 4, 65536);
	limit = simulate(&w, &s, SIM_MAX);
	/* the server stays busy */
	assert_true(s.rate_per_s >= 0.95 * 1e9 / s.service_ns);
	/* and the queue stays about one BDP: publish->ack about twice the base
	 * (a base taken from samples that carry our own queue would ratchet the
	 * window up to 4 x and more) */
	assert_true(s.mean_rtt_ns <= 2.5 * base_rtt);
	/* (or at its floor: the run may end in a base-latency probe) */
	assert_true((limit >= 20 && limit <= 64) || (w.probing && limit == 4));
	assert_true(s.max_inflight <= 64);
}

/* The same server with a fixed 65,536 window: the whole backlog queues. */
static void test_fixed_window_queues(void **state)
{
	struct mdm_window w;
	struct sim s = { .service_ns = 10000, .delay_ns = 200000 };

	(void)state;
	mdm_window_init(&w, 65536, 65536);
	assert_int_equal(simulate(&w, &s, SIM_MAX), 65536);
	assert_true(s.mean_rtt_ns > 100.0 * (s.service_ns + s.delay_ns));
}

/* A faster server gets a larger window: it follows the rate, not a constant. */
static void test_grows_with_throughput(void **state)
{
	struct mdm_window slow, fast;
	struct sim s1 = { .service_ns = 20000, .delay_ns = 500000 }, s2 = { .service_ns = 1000, .delay_ns = 500000 };

	(void)state;
	mdm_window_init(&slow, 4, 65536);
	mdm_window_init(&fast, 4, 65536);
	simulate(&slow, &s1, SIM_MAX);
	simulate(&fast, &s2, SIM_MAX);
	assert_true(s2.rate_per_s >= 0.9 * 1e9 / s2.service_ns);
	assert_true(mdm_window_limit(&fast) >= 8 * mdm_window_limit(&slow));
	/* and still bounded by the configured maximum */
	mdm_window_init(&fast, 4, 100);
	s2.rate_per_s = 0;
	assert_true(simulate(&fast, &s2, SIM_MAX) <= 100);
}

/* An offered rate well below capacity: the window stays small and the
 * latency is the base latency. */
static void test_app_limited(void **state)
{
	struct mdm_window w;
	struct sim s = { .service_ns = 10000, .delay_ns = 200000, .offer_ns = 100000 }; /* 10k/s */

	(void)state;
	mdm_window_init(&w, 16, 65536);
	simulate(&w, &s, 100000);
	assert_true(s.rate_per_s >= 9900 && s.rate_per_s <= 10100);
	assert_true(s.mean_rtt_ns < 1.1 * (s.service_ns + s.delay_ns));
	assert_true(mdm_window_limit(&w) <= 32);
}

/* CPU contention from a quarter of the run on: acks are late by up to 20 ms
 * whatever is in flight, the server itself is as fast as ever. Some acks
 * still come back at the base latency; a base taken from single samples
 * would size the window for those, the rate it lets through would fall, the
 * window with it, down to its floor (a 2-core box once stored a third of a
 * feed so). The base is a round's mean, re-measured at the floor by the
 * periodic probe once contention began: the window grows to keep the
 * server busy. */
static void test_contention_is_not_a_queue(void **state)
{
	struct mdm_window w;
	struct sim s = { .service_ns = 10000, .delay_ns = 200000, .jitter_ns = 20000000 };

	(void)state;
	mdm_window_init(&w, 16, 65536);
	simulate(&w, &s, SIM_MAX);
	assert_true(s.rate_per_s >= 0.8 * 1e9 / s.service_ns);
	/* and no more in flight than the contention needs: 2 x rate x ~10 ms */
	assert_true(mdm_window_limit(&w) <= 8192);
}

static void test_stats_and_bounds(void **state)
{
	struct mdm_window w;
	struct mdm_window_stats st;
	struct sim s = { .service_ns = 10000, .delay_ns = 200000 };

	(void)state;
	mdm_window_init(&w, 0, 0); /* clamped to 1..1 */
	assert_int_equal(mdm_window_limit(&w), 1);
	mdm_window_init(&w, 8, 4); /* max below min: fixed at min */
	assert_int_equal(mdm_window_limit(&w), 8);
	mdm_window_init(&w, 4, 1024);
	simulate(&w, &s, 50000);
	mdm_window_stats(&w, &st);
	assert_int_equal(st.limit, mdm_window_limit(&w));
	assert_int_equal(st.min, 4);
	assert_int_equal(st.max, 1024);
	assert_true(st.min_rtt_ns >= s.service_ns + s.delay_ns);
	assert_true(st.min_rtt_ns <= 2 * (s.service_ns + s.delay_ns));
	assert_true(st.rtt_mean_ns >= st.min_rtt_ns);
	assert_true(st.rate_per_s > 50000 && st.rate_per_s < 150000);
	assert_true(st.rounds > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_converges_near_bdp),
		cmocka_unit_test(test_fixed_window_queues),
		cmocka_unit_test(test_grows_with_throughput),
		cmocka_unit_test(test_app_limited),
		cmocka_unit_test(test_contention_is_not_a_queue),
		cmocka_unit_test(test_stats_and_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
