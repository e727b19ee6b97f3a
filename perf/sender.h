/* The pure logic of `mdmesh-loadgen send`: the send schedule (event slot ->
 * intended offset, constant rate with optional bursts), the US/Eastern
 * ns-since-midnight of an instant, and the MoldUDP64 walk that stamps each
 * ITCH message's timestamp. No sockets, no clocks: tests drive it directly. */
#ifndef SENDER_H
#define SENDER_H

#include <stdbool.h>
#include <stdint.h>

struct sender_sched_params {
	uint64_t rate;            /* events/s outside bursts, >= 1 */
	uint64_t burst_rate;      /* events/s inside bursts; 0 = no bursts */
	uint64_t burst_every_ns;  /* bursts start at E, 2E, ... (> burst_length_ns) */
	uint64_t burst_length_ns; /* each lasts L */
};

/* The schedule in segments of constant rate. Without bursts one segment runs
 * forever; with bursts the segments are [0, E) normal, [E, E+L) burst,
 * [E+L, 2E) normal, [2E, 2E+L) burst, ... Slot j of a segment is at
 * start + floor(j * 1e9 / rate), so a segment [start, end) holds
 * ceil((end - start) * rate / 1e9) slots. Caller-owned storage; all fields
 * are read-only outside sender.c. */
struct sender_sched {
	struct sender_sched_params p;
	uint64_t seg_no;               /* odd = burst (with bursts) */
	uint64_t seg_start_ns, seg_end_ns;
	uint64_t seg_rate;             /* events/s in this segment */
	uint64_t seg_first;            /* slot index of the segment's first slot */
};

/* Start at slot 0, offset 0. params are copied. */
void sender_sched_init(struct sender_sched *s, const struct sender_sched_params *p);

/* Offset in ns from t0 of slot k. Calls must come with non-decreasing k
 * (the walk only moves forward). O(1) amortised; allocation-free. */
uint64_t sender_sched_at(struct sender_sched *s, uint64_t k);

/* How many slots have an offset below span_ns (a fresh walk from 0: O(number
 * of bursts in span_ns)). */
uint64_t sender_sched_count(const struct sender_sched_params *p, uint64_t span_ns);

/* The US/Eastern day of the last instant converted, cached so a stamp costs a
 * compare; zero-initialise before first use. */
struct sender_et {
	uint64_t midnight_ns, next_midnight_ns; /* UTC ns; [midnight, next) is the cached day */
};

/* ns since midnight US/Eastern of real_ns (CLOCK_REALTIME ns): the ITCH 5.0
 * timestamp of that instant. */
uint64_t sender_et_since_midnight(struct sender_et *et, uint64_t real_ns);

/* Walk the MoldUDP64 message blocks that fit in the datagram p[0..len); with
 * `stamp`, write itch_ts (48-bit big-endian) into the timestamp field of every
 * message long enough to have one. Returns the messages walked (0 for a
 * heartbeat, an end-of-session packet or a short header). A malformed packet
 * (from a capture) is walked only as far as its bytes go; nothing outside
 * p[0..len) is read or written. */
uint32_t sender_mold_walk(uint8_t *p, uint32_t len, bool stamp, uint64_t itch_ts);

#endif
