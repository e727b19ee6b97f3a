/* Adaptive in-flight window (see mdm_window.h for the why). */
#include "mdm_window.h"

#include <stdint.h>
#include <string.h>

/* BBR's cwnd gain: one BDP in flight keeps the server busy, the second lets
 * the delivery rate grow so that the window can follow it. */
#define WINDOW_GAIN 2.0

/* A fixed window reports its ack rate and mean latency every this many acks. */
#define WINDOW_FIXED_ROUND 1024

/* A round shorter than this measures the clock more than the rate. */
#define WINDOW_MIN_ROUND_NS (200 * 1000ull)

void mdm_window_init(struct mdm_window *w, uint32_t min, uint32_t max)
{
	memset(w, 0, sizeof(*w));
	w->min = min ? min : 1;
	w->max = max < w->min ? w->min : max;
	w->limit = w->min;
	w->round_target = w->min == w->max && w->min > WINDOW_FIXED_ROUND ? WINDOW_FIXED_ROUND : w->min;
}

static double bw_max(const struct mdm_window *w)
{
	double m = 0;

	for (unsigned i = 0; i < MDM_WINDOW_BW_ROUNDS; i++)
		if (w->bw[i] > m)
			m = w->bw[i];
	return m;
}

static uint32_t window_from(const struct mdm_window *w)
{
	double want = WINDOW_GAIN * bw_max(w) * (double)w->min_rtt_ns;

	return want >= (double)w->max ? w->max : want <= (double)w->min ? w->min : (uint32_t)want;
}

static void round_open(struct mdm_window *w, uint64_t now_ns, uint64_t target)
{
	w->round_start_ns = now_ns;
	w->round_acks = 0;
	w->round_rtt_sum_ns = 0;
	w->round_target = target;
}

void mdm_window_on_ack(struct mdm_window *w, uint64_t rtt_ns, uint64_t now_ns)
{
	uint64_t elapsed;
	uint32_t limit;

	bool fixed = w->min == w->max; /* measured and reported, never resized */

	if (rtt_ns == 0)
		rtt_ns = 1;
	/* The base latency is a round's mean, never one sample: on a shared
	 * box some acks come back fast while most wait for a CPU, and a window
	 * sized for the fast ones lets too little through, the measured rate
	 * falls and the window with it, down to its floor. The first sample
	 * seeds it; the first round (at the floor) replaces it. */
	if (w->min_rtt_ns == 0) {
		__atomic_store_n(&w->min_rtt_ns, rtt_ns, __ATOMIC_RELAXED);
		w->min_rtt_at_ns = now_ns;
	}
	if (w->round_acks == 0 && w->round_start_ns == 0) /* the first ack's send opens the first round */
		round_open(w, now_ns > rtt_ns ? now_ns - rtt_ns : 0, w->min);

	if (!fixed && !w->probing && now_ns - w->min_rtt_at_ns > MDM_WINDOW_RTT_HOLD_NS) {
		/* Probe the base latency (BBR's PROBE_RTT): with 2 x BDP in flight
		 * every sample carries one BDP of queue, and a minimum taken from
		 * those alone would ratchet the window up. Hold the window at its
		 * floor until what was in flight is acked and one floor's worth
		 * more: the last samples see an empty queue. */
		w->probing = true;
		w->probe_rtt_sum_ns = 0;
		w->probe_n = 0;
		round_open(w, now_ns, (uint64_t)mdm_window_limit(w) + w->min);
		__atomic_store_n(&w->limit, w->min, __ATOMIC_RELAXED);
	}
	w->round_acks++;
	w->round_rtt_sum_ns += rtt_ns;
	if (w->probing) {
		/* the last floor's worth of the probe: sent with at most the
		 * floor in flight, what the server answers without our queue */
		if (w->round_acks + w->min > w->round_target) {
			w->probe_rtt_sum_ns += rtt_ns;
			w->probe_n++;
		}
		if (w->round_acks < w->round_target)
			return;
		w->probing = false;
		__atomic_store_n(&w->min_rtt_ns, w->probe_rtt_sum_ns / (w->probe_n ? w->probe_n : 1), __ATOMIC_RELAXED);
		w->min_rtt_at_ns = now_ns;
		limit = window_from(w); /* the probe round is no rate sample: it was held back */
		__atomic_store_n(&w->limit, limit, __ATOMIC_RELAXED);
		round_open(w, now_ns, limit);
		return;
	}
	elapsed = now_ns - w->round_start_ns;
	if (w->round_acks < w->round_target || elapsed < WINDOW_MIN_ROUND_NS)
		return;

	/* end of a round: one window's worth of acks */
	w->bw[w->bw_next] = (double)w->round_acks / (double)elapsed;
	w->bw_next = (w->bw_next + 1) % MDM_WINDOW_BW_ROUNDS;
	__atomic_store_n(&w->rounds, w->rounds + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&w->last_rtt_mean_ns, w->round_rtt_sum_ns / w->round_acks, __ATOMIC_RELAXED);
	if (w->last_rtt_mean_ns <= w->min_rtt_ns) {
		__atomic_store_n(&w->min_rtt_ns, w->last_rtt_mean_ns, __ATOMIC_RELAXED);
		w->min_rtt_at_ns = now_ns;
	}
	__atomic_store_n(&w->last_rate_per_s, (uint64_t)((double)w->round_acks * 1e9 / (double)elapsed),
			 __ATOMIC_RELAXED);
	limit = fixed ? w->limit : window_from(w);
	__atomic_store_n(&w->limit, limit, __ATOMIC_RELAXED);
	round_open(w, now_ns, fixed && limit > WINDOW_FIXED_ROUND ? WINDOW_FIXED_ROUND : limit);
}

void mdm_window_stats(const struct mdm_window *w, struct mdm_window_stats *out)
{
	out->limit = mdm_window_limit(w);
	out->min = w->min;
	out->max = w->max;
	out->min_rtt_ns = __atomic_load_n(&w->min_rtt_ns, __ATOMIC_RELAXED);
	out->rtt_mean_ns = __atomic_load_n(&w->last_rtt_mean_ns, __ATOMIC_RELAXED);
	out->rate_per_s = __atomic_load_n(&w->last_rate_per_s, __ATOMIC_RELAXED);
	out->rounds = __atomic_load_n(&w->rounds, __ATOMIC_RELAXED);
}
