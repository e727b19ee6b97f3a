/* The pure logic of `mdmesh-loadgen send`: the send schedule (event slot ->
 * intended offset, constant rate with optional bursts), the US/Eastern
 * ns-since-midnight of an instant, the MoldUDP64 walk that stamps each
 * ITCH message's timestamp, and the store of what was sent that answers
 * re-requests. No sockets, no clocks: tests drive it directly. */
#ifndef SENDER_H
#define SENDER_H

#include <stdbool.h>
#include <stddef.h>
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

/* ---- what was sent, for re-requests ----
 *
 * The feed as sent (after stamping), one session, indexed by sequence number,
 * so `send --rerequest` can answer MoldUDP64 re-requests with the same bytes
 * the multicast carried (also for packets the loss simulation dropped: they
 * were sent by the exchange and lost on the way). Not thread-safe: the
 * sender holds a lock around add and answer. Allocates as it grows. */

#define SENDER_ANSWER_MAX 1400 /* UDP payload of an answer at most (whole messages) */

struct sender_store;

/* An inclusive sequence range, e.g. one --rerequest-refuse. */
struct sender_range {
	uint64_t first, last;
};

int sender_store_create(struct sender_store **out);
void sender_store_destroy(struct sender_store *st);

/* Record the messages of one MoldUDP64 data packet p[0..len). A packet of
 * another session starts the store again (the old session is no longer
 * served); sequence numbers the packet skips are recorded as absent.
 * Heartbeats, end-of-session and malformed packets are ignored. Returns the
 * messages recorded, or -ENOMEM. */
int sender_store_add(struct sender_store *st, const uint8_t *p, uint32_t len);

/* The stored session (10 bytes as on the wire), NULL before the first packet. */
const uint8_t *sender_store_session(const struct sender_store *st);

/* Sequence number after the last one stored (a heartbeat's), 0 when empty. */
uint64_t sender_store_next(const struct sender_store *st);

/* One answer packet for the request range [*seq, last]: a MoldUDP64 header
 * with the stored session and the whole messages that follow from the first
 * servable sequence at or after *seq, up to `last`, out[0..cap) bytes
 * (cap <= 65535) and the first refused or absent one. *seq moves past what the
 * packet holds and past refused or absent sequences skipped before it.
 * Returns the packet's length, or 0 when nothing in [*seq, last] can be
 * served (then *seq = last + 1) or one message alone exceeds cap (*seq moves
 * past it). Call until *seq > last. Refused ranges: `refuse[0..n_refuse)`. */
uint32_t sender_store_answer(const struct sender_store *st, uint64_t *seq, uint64_t last,
			     const struct sender_range *refuse, unsigned n_refuse, uint8_t *out, uint32_t cap);

#endif
