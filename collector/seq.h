/* Sequencer for one feed: MoldUDP64 session tracking, A/B line arbitration
 * and gap accounting. Input is one validated packet's header at a time; the
 * output says which of its messages to deliver, so every (session, seq) is
 * delivered exactly once, from whichever line brings it first.
 *
 * Model. `next` is the merged stream's next new sequence number, shared by all
 * lines. Everything below `next` is either delivered or listed in the missing
 * table, a sorted array of disjoint ranges [from, to]. A packet that starts
 * above `next` adds the hole [next, first - 1]; a packet below `next` delivers
 * exactly the parts of it that are in the table (which shrink, split or
 * close), and everything else in it is a duplicate.
 *
 * Pending vs declared gaps. A new hole is first PENDING: with two lines, line
 * A losing a packet that line B has not delivered yet is normal arbitration,
 * not loss. A pending hole is DECLARED a gap (SEQ_EV_GAP_OPENED, counters)
 * as soon as one of these holds:
 *   - every arbitrated line (0..n_lines-1) has moved past it: each line's own
 *     next sequence (last data seq + 1, or a heartbeat/end-of-session seq) is
 *     above the hole's end, so no line will fill it in order. With one line
 *     this is immediate; with A/B it is the moment B skips the same range;
 *   - it has been pending for params.pending_ns (a dead or lagging line must
 *     not hide loss forever). Checked on every packet and by seq_poll().
 * A late packet that fills a pending hole is plain delivery (counted in
 * pending_msgs_filled); one that fills a declared gap raises SEQ_EV_GAP_FILLED.
 * Delivery is not held back: a message that fills a hole is delivered when it
 * arrives, after higher sequence numbers. Consumers key on (session, seq).
 *
 * Sessions. The first session seen is joined where we find it: `next` starts
 * at that packet's sequence, and earlier messages are counted as pre_join,
 * not as gaps. A later different session restarts at 1 (MoldUDP64 numbers
 * each session from 1), so messages we missed at its start are a gap. The
 * previous session is remembered; its late packets (a lagging line) are
 * dropped and counted, not taken as another change. A session change abandons
 * the old session's missing table (counted; SEQ_EV_GAP_ABANDONED per range).
 *
 * Table overflow. When the missing table is full and a new range needs a slot,
 * the OLDEST range (lowest sequence numbers) is evicted and counted: recent
 * ranges are the ones a re-request server can still serve. Messages of an
 * evicted range that arrive later are counted as duplicates.
 *
 * Invariant (tested, and checked by the fuzzer):
 *   gap_msgs_missing == gap_msgs_filled + gap_msgs_evicted
 *                       + gap_msgs_abandoned + missing_now
 *
 * Threading: one owner thread calls everything except seq_stats(). The stats
 * are single-writer counters (mdm_counter.h) written only by the owner;
 * another thread may read them through seq_stats() with mdm_counter_get() for
 * monitoring. Fields are not a consistent snapshot of each other. seq_on_packet() is hot-path safe: no allocation, no syscall,
 * O(1) for in-order packets; O(log n + k) with a non-empty table (n ranges,
 * k ranges touched); a declaration pass over the table runs only while a
 * pending hole exists. */
#ifndef SEQ_H
#define SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQ_SESSION_LEN 10
#define SEQ_MAX_LINES 4          /* line ids 0..3 */
#define SEQ_VERDICT_RANGES 8     /* disjoint deliverable ranges reported per packet */
#define SEQ_GAP_CAPACITY_DEFAULT 256
#define SEQ_PENDING_NS_DEFAULT 1000000ULL /* 1 ms: far above normal A/B skew */

struct seq;

struct seq_event;

struct seq_params {
	/* Lines 0..n_lines-1 carry the live stream and are waited for before a
	 * hole is declared (1 = single line, 2 = A/B). Lines n_lines..SEQ_MAX_LINES-1
	 * are accepted (e.g. a re-request channel) and counted, never waited for.
	 * 0 = 1. */
	unsigned n_lines;
	uint32_t gap_capacity; /* missing-table slots; 0 = SEQ_GAP_CAPACITY_DEFAULT */
	uint64_t pending_ns;   /* longest a hole stays pending; 0 = SEQ_PENDING_NS_DEFAULT */
	/* Optional; called on the owner thread from inside seq_on_packet() and
	 * seq_poll(); must not call back into this sequencer. */
	void (*on_event)(void *ctx, const struct seq_event *ev);
	void *ctx;
};

/* One packet's header, as the sequencer needs it. */
struct seq_pkt {
	const uint8_t *session; /* SEQ_SESSION_LEN bytes (mold_pkt.session) */
	uint64_t seq;           /* first message, or the sender's next for HB/EOS */
	uint16_t count;         /* messages; 0 = heartbeat; ignored for end-of-session */
	uint8_t line;           /* 0..SEQ_MAX_LINES-1 */
	bool end_of_session;
	uint64_t now_ns;        /* monotonic; only compared with earlier now_ns */
};

enum seq_event_type {
	SEQ_EV_GAP_OPENED = 1,     /* [from, to] declared missing */
	SEQ_EV_GAP_FILLED = 2,     /* [from, to] of a declared gap delivered by `line` */
	SEQ_EV_GAP_EVICTED = 3,    /* [from, to] forgotten: missing table full */
	SEQ_EV_SESSION_CHANGE = 4, /* now on `session` (also the first one joined), next = from */
	SEQ_EV_END_OF_SESSION = 5, /* first end-of-session packet of the session; from = its seq */
	SEQ_EV_GAP_ABANDONED = 6,  /* [from, to] forgotten: a session change abandoned it; raised for
				    * each range just before that SEQ_EV_SESSION_CHANGE, with the old session */
};

struct seq_event {
	uint8_t type;           /* enum seq_event_type */
	uint8_t line;           /* line of the packet that caused it */
	bool declared;          /* GAP_EVICTED, GAP_ABANDONED: the range had been declared */
	uint64_t from, to;      /* inclusive range; see the event type */
	const uint8_t *session; /* SEQ_SESSION_LEN bytes of the current session */
};

/* Why a whole packet was ignored (verdict.drop). */
enum seq_drop {
	SEQ_DROP_NONE = 0,
	SEQ_DROP_STALE_SESSION = 1, /* previous session's late packet */
	SEQ_DROP_BAD_SEQ = 2,       /* seq 0, or seq + count - 1 overflows */
};

struct seq_range {
	uint16_t first; /* index of the first message to deliver, 0-based in the packet */
	uint16_t count;
};

/* What to do with one packet's messages. */
struct seq_verdict {
	uint32_t n_ranges;   /* ranges to deliver, ascending, disjoint, non-adjacent */
	uint32_t delivered;  /* sum of range[].count */
	uint32_t duplicates; /* messages already delivered (or evicted / pre-join) */
	/* Deliverable messages beyond SEQ_VERDICT_RANGES ranges. They stay in the
	 * missing table, so a later copy still delivers them. Only a packet that
	 * straddles 8+ separate holes can cause this. */
	uint32_t deferred;
	uint8_t drop;        /* enum seq_drop */
	struct seq_range range[SEQ_VERDICT_RANGES];
};

struct seq_line_stats {
	uint64_t packets;    /* every packet handed to seq_on_packet() on this line */
	uint64_t data;       /* data packets */
	uint64_t heartbeats;
	uint64_t eos;        /* end-of-session packets */
	uint64_t delivered;  /* messages this line won */
	uint64_t duplicates; /* messages this line brought too late */
	uint64_t dropped;    /* packets dropped whole (stale session, bad seq) */
};

struct seq_stats {
	uint64_t delivered;           /* messages delivered, all lines */
	uint64_t duplicates;          /* messages dropped as already delivered, all lines */
	uint64_t pre_join;            /* messages below the join point of the first session */
	uint64_t gaps_opened;         /* ranges declared */
	uint64_t gap_msgs_missing;    /* messages in declared ranges, at declaration */
	uint64_t gaps_filled;         /* fills of declared ranges (one per range a packet hits) */
	uint64_t gap_msgs_filled;     /* messages delivered out of declared ranges */
	uint64_t pending_msgs_filled; /* messages delivered into pending holes (arbitration) */
	uint64_t gaps_evicted;        /* ranges dropped because the table was full */
	uint64_t gap_msgs_evicted;    /* declared messages in those ranges */
	uint64_t gap_msgs_abandoned;  /* declared messages left missing at a session change */
	uint64_t missing_now;         /* gauge: declared messages still missing */
	uint64_t pending_now;         /* gauge: messages in pending holes */
	uint64_t deferred;            /* see seq_verdict.deferred */
	uint64_t sessions;            /* sessions joined (first one included) */
	uint64_t stale_session;       /* packets of the previous session dropped */
	uint64_t bad_seq;             /* packets dropped for seq 0 / overflow */
	struct seq_line_stats line[SEQ_MAX_LINES];
};

/* Allocate a sequencer. params may be NULL (defaults). Returns 0, -EINVAL
 * (n_lines > SEQ_MAX_LINES), or -ENOMEM. Not hot-path: allocates. */
int seq_create(struct seq **out, const struct seq_params *params);

/* Free a sequencer; NULL is a no-op. */
void seq_destroy(struct seq *s);

/* Account one packet and say which of its messages to deliver (`v`, always
 * filled; v->delivered is 0 for heartbeats, duplicates and dropped packets).
 * Returns 0, or -EINVAL if pkt->line >= SEQ_MAX_LINES (nothing counted).
 * Events are raised through params.on_event before it returns. Hot-path safe
 * (see the file comment for cost). */
int seq_on_packet(struct seq *s, const struct seq_pkt *pkt, struct seq_verdict *v);

/* Declare pending holes older than pending_ns at now_ns. For the control pass,
 * so loss is reported during quiet periods. Returns the number declared. */
unsigned seq_poll(struct seq *s, uint64_t now_ns);

/* Copy up to `max` declared gaps (ascending) into from[]/to[] for re-requests.
 * Returns how many were copied. Owner thread only. */
unsigned seq_gaps(const struct seq *s, uint64_t *from, uint64_t *to, unsigned max);

/* The lowest declared gap overlapping [lo, hi], whole (not clipped to
 * [lo, hi]), in *from / *to. Returns false when none does. This is how gap
 * recovery reads the missing table instead of keeping a copy of it (see
 * rerequest.h). Owner thread only; not per packet: O(log n) plus the pending
 * holes skipped. */
bool seq_gap_find(const struct seq *s, uint64_t lo, uint64_t hi, uint64_t *from, uint64_t *to);

/* Next new sequence number of the merged stream (0 before any session). */
uint64_t seq_next(const struct seq *s);

/* Current session (SEQ_SESSION_LEN bytes), or NULL before the first packet. */
const uint8_t *seq_session(const struct seq *s);

/* Counters; see the threading note in the file comment. */
const struct seq_stats *seq_stats(const struct seq *s);

/* Forget every session and missing range (stats are kept): the next packet
 * is joined like the first one. Owner thread only; not hot-path (O(1)). */
void seq_reset(struct seq *s);

/* Continue a session an earlier run was receiving (a restart), instead of
 * joining the feed where the next packet finds it. `session` is
 * SEQ_SESSION_LEN bytes; the first packet of the same session after trimming
 * trailing spaces and NULs adopts its exact bytes. The earlier run delivered
 * [join, next - 1] except the `n` ranges from[i]..to[i] (ascending, disjoint,
 * inside it): those are declared gaps now (SEQ_EV_GAP_OPENED each, after one
 * SEQ_EV_SESSION_CHANGE with from = next), and whatever the next packet skips
 * above `next` is a gap too, as in any session. Messages below `join` count as
 * pre_join. A packet of another session is joined where it is found, as if
 * nothing had been resumed (the resumed session's gaps are abandoned).
 * Call before the first packet (or after seq_reset). Returns 0, or -EINVAL
 * (join 0, join > next, ranges out of order or outside [join, next - 1]; nothing
 * changed). Owner thread only; not hot-path: O(n). */
int seq_resume(struct seq *s, const uint8_t *session, uint64_t join, uint64_t next, const uint64_t *from,
	       const uint64_t *to, unsigned n, uint64_t now_ns);

#endif
