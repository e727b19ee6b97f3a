/* Adaptive in-flight window for a JetStream publisher.
 *
 * Why: a fixed window of 65,536 unacknowledged publishes is a queue inside
 * nats.c and the server that adds latency and no throughput (54.6k/s x 288 ms
 * publish->ack = ~15,000 in flight in a full-speed replay), and a window that
 * takes longer to drain than the ack timeout turns into resends and
 * duplicates. The backlog belongs in the caller's ring, where it is measured
 * and bounded. The window here is sized as TCP BBR sizes its cwnd: twice the
 * bandwidth-delay product, the delivery rate (acks per second, the maximum of
 * the last WINDOW_BW_ROUNDS rounds) times the base latency: the smallest
 * round's mean ack latency lately, re-measured by a round at the floor (the
 * server's answer time without our queue, CPU contention included: a single
 * fast sample on a shared box would size the window for a latency most acks
 * never see). While the window limits, the
 * rate can still double within it, so it grows as long as throughput grows;
 * once the server is the bottleneck more in flight only queues, the rate
 * stops growing and the window stays at 2 x BDP: publish->ack stays near
 * twice the service time.
 *
 * Threading: one writer (the thread that handles acks: nats.c's reply
 * subscription) calls mdm_window_on_ack; any thread reads mdm_window_limit
 * (relaxed atomic). No lock. */
#ifndef MDM_WINDOW_H
#define MDM_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#define MDM_WINDOW_BW_ROUNDS 10
/* How long a min-RTT sample stays valid before the window probes for a new
 * one: long enough that the probes cost little (one round at the floor),
 * short enough to follow a server that got slower (BBR uses 10 s). */
#define MDM_WINDOW_RTT_HOLD_NS (2ull * 1000 * 1000 * 1000)

struct mdm_window {
	uint32_t min, max;
	uint32_t limit;               /* read with __atomic relaxed by publishers */
	/* the writer's state */
	uint64_t min_rtt_ns, min_rtt_at_ns;
	uint64_t round_start_ns, round_acks, round_target;
	uint64_t round_rtt_sum_ns;
	double bw[MDM_WINDOW_BW_ROUNDS]; /* acks per ns of the last rounds */
	unsigned bw_next;
	uint64_t rounds;
	bool probing;                 /* holding the window at min to see the base latency */
	uint64_t probe_rtt_sum_ns, probe_n; /* the probe's last floor's worth of samples */
	/* for metrics: last round's mean ack latency, the current min */
	uint64_t last_rtt_mean_ns;
	uint64_t last_rate_per_s;
};

/* A window between min and max (min <= max, both >= 1); it starts at min.
 * min == max is a fixed window. */
void mdm_window_init(struct mdm_window *w, uint32_t min, uint32_t max);

/* One acknowledged first send: its publish->ack latency and the ack's
 * (monotonic) time. Ends a round once a window's worth of acks came in. */
void mdm_window_on_ack(struct mdm_window *w, uint64_t rtt_ns, uint64_t now_ns);

static inline uint32_t mdm_window_limit(const struct mdm_window *w)
{
	return __atomic_load_n(&w->limit, __ATOMIC_RELAXED);
}

/* Snapshot for metrics (any thread; values may be one round apart). */
struct mdm_window_stats {
	uint32_t limit, min, max;
	uint64_t min_rtt_ns, rtt_mean_ns, rate_per_s, rounds;
};
void mdm_window_stats(const struct mdm_window *w, struct mdm_window_stats *out);

#endif
