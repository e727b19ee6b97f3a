/* Private to collector/publish*.c: the publisher's state and what its files
 * share, behind one header as nats.c keeps its struct behind natsp.h.
 *   publish.c        lifecycle, the lcore loop, encoding and the bus retry
 *   publish_event.c  publish.mode event: one message per event
 *   publish_batch.c  publish.mode batch: EventBatch per partition and window
 *                    (the cut rules themselves are batch_cut.c)
 *   publish_ack.c    the in-flight table and the ack handler
 *   publish_drop.c   ring.full_policy drop
 * The mode is a struct publish_mode_ops chosen once in publish_create, as
 * DPDK's l3fwd chooses its lookup mode: the loop and the ack handler never
 * ask which mode runs. */
#ifndef PUBLISH_IMPL_H
#define PUBLISH_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_bus.h"
#include "encode.h"
#include "itch.h"
#include "mdm_latency.h"
#include "mdm_poll.h"
#include "publish.h"
#include "rx_event.h"
#include "views_rec.h"

#define PUB_BURST 32

struct mdm_bus_ack;
struct part;

/* One publishing mode. Every function runs on the publisher lcore. */
struct publish_mode_ops {
	const char *name;
	/* Take one dequeued record: published, batched, or counted. 0, or
	 * -EINTR when a stop interrupted a wait (the record is not taken). */
	int (*take)(struct publish *pb, const struct rx_event *e);
	/* After each burst and while idle: time-driven work. 0 or -EINTR. */
	int (*poll)(struct publish *pb);
	/* End of input (the ring is empty for good): publish what is pending.
	 * 0 or -EINTR. */
	int (*finish)(struct publish *pb);
	/* Forced stop: count what is pending as dropped_at_stop. */
	void (*stop)(struct publish *pb);
};

extern const struct publish_mode_ops publish_event_ops;
extern const struct publish_mode_ops publish_batch_ops;

/* One in-flight message. `token` is 0 when the slot is free. Its events'
 * latency origins are ev_rx[ev_first .. ev_first + n_events) (masked). */
struct slot {
	uint64_t token;
	uint64_t pub_ns;
	uint64_t ev_first;  /* first entry in ev_rx (running event count) */
	uint32_t n_events;  /* events the message carries (1 in event mode) */
	bool view;          /* a market view: counted in views_*, not as events */
};

struct publish {
	struct publish_stats stats;
	const struct publish_mode_ops *ops;
	struct rte_ring *ring;
	struct mdm_bus *bus;
	struct mdm_bus_retry bus_retry; /* back-pressure: no deadline, publish_on_stall */
	struct encoder *enc;
	char feed[ENCODE_FEED_MAX + 1];
	char prefix[16];
	uint32_t session_date;
	bool origin_itch;      /* latency.origin itch: measure from the ITCH timestamp */
	bool views_core;       /* views.publish core: SNAPSHOT views and one in VIEWS_ACK_EVERY are acked */
	uint32_t views_unacked; /* core views since the last acked one */
	uint64_t views_acked_out; /* acked views awaiting their ack (atomic: the ack handler decrements) */
	uint64_t midnight_ns;  /* US/Eastern midnight of session_date (origin itch) */
	struct mdm_idle idle;
	bool finishing;
	bool aborting;
	/* in-flight table (publish_ack.c) */
	uint64_t next_token;   /* starts at 1: token 0 marks a free slot */
	uint64_t in_flight;
	uint32_t slot_mask;
	struct slot *slots;
	uint64_t *ev_rx;       /* latency origins of published events; 0 = free entry */
	uint64_t ev_mask;
	uint64_t next_ev;      /* running event count: index into ev_rx */
	/* latency: the publisher lcore records the stages up to the publish,
	 * the ack handler (nats.c threads, maybe two at once) the ack stages;
	 * neither ever waits for the stats pass (mdm_latency.h) */
	struct mdm_lat_recorder *lat_pub, *lat_ack;
	struct rx_event burst[PUB_BURST];
	uint8_t buf[ENCODE_MAX_EVENT_LEN];
	/* market views (publish_views.c) */
	struct views_rec_asm vasm;
	struct book_bbo quote;   /* TBBO of the next event when its seq is quote_seq */
	uint64_t quote_seq;      /* 0: none */
	uint8_t vbuf[ENCODE_MAX_DEPTH_LEN(2 * VIEWS_MAX_LEVELS)];
	/* drop policy (publish_drop.c): shed the ring's oldest events from
	 * shed_high queued down to shed_low; shed_high 0 = block policy */
	uint32_t shed_high, shed_low;
	uint64_t drop_next;      /* the sequence that extends the newest drop range */
	char drop_session[10];   /* its session (rx_event layout) */
	struct rx_event shed[PUB_BURST];
	/* batch mode (publish_batch.c) */
	bool delay_flush;
	uint32_t batch_events;
	uint32_t n_parts;
	uint64_t max_delay_ns;
	uint64_t next_deadline;  /* earliest oldest_ns + max_delay_ns of a non-empty partition */
	uint64_t window;         /* window of the latest event (batch_cut_scope) */
	struct part *parts;
	uint32_t *live;          /* non-empty partitions, n_live of them */
	uint32_t n_live;
	uint8_t *part_mem;
};

/* ---- publish.c ---- */

static inline bool publish_aborting(const struct publish *pb)
{
	return __atomic_load_n(&pb->aborting, __ATOMIC_ACQUIRE);
}

/* Encode a record, stamped pub_ts_ns = now, into pb->buf; the rebuilt ITCH
 * view in *m, symbol and session as C strings. 0 or -EINVAL. */
int publish_encode(struct publish *pb, const struct rx_event *e, uint64_t now, struct itch_msg *m,
		   char symbol[SYMBOLS_TEXT_MAX + 1], char session[11], size_t *len);

/* Latency origin of an event (receive time, or the ITCH time with
 * latency.origin itch) and origin -> decoded in *decode_ns. After
 * publish_encode. */
uint64_t publish_latency_origin(struct publish *pb, const struct rx_event *e, const struct itch_msg *m,
				uint64_t *decode_ns);

/* Hand a message to the bus, retrying while it refuses for back-pressure.
 * 0, -EINTR (stop), or the bus's error. */
int publish_bus(struct publish *pb, const char *subject, const char *msg_id, const char *ctype, const void *data,
		size_t len, uint64_t token);

/* ---- publish_ack.c: the in-flight table ---- */

/* Allocate the table: max_in_flight slots (rounded up to a power of two) and
 * an event table for at least ev_min events. 0 or -ENOMEM. */
int publish_inflight_init(struct publish *pb, uint32_t max_in_flight, uint64_t ev_min);
void publish_inflight_fini(struct publish *pb);

/* Wait until *p (a slot, an entry or a count the ack handler lowers) is
 * below limit. 0, or -EINTR on a stop. */
int publish_wait_below(struct publish *pb, const uint64_t *p, uint64_t limit);

/* Wait until the next message's slot and the event entries of its n events
 * are free (acks come in any order). 0, or -EINTR on a stop. */
int publish_inflight_wait(struct publish *pb, uint32_t n);

/* Entry i of the next message's events: its latency origin, never 0. */
static inline void publish_inflight_set_origin(struct publish *pb, uint32_t i, uint64_t origin_ns)
{
	pb->ev_rx[(pb->next_ev + i) & pb->ev_mask] = origin_ns ? origin_ns : 1; /* 0 marks a free entry */
}

/* The next message (n events, published at pub_ns) goes in flight: the ack
 * handler may see it from now on. Returns its token. */
uint64_t publish_inflight_arm(struct publish *pb, uint64_t pub_ns, uint32_t n);

/* The bus refused the armed message: take it back out of flight. */
void publish_inflight_disarm(struct publish *pb, uint32_t n);

/* The bus took the armed message: move on to the next slot and entries. */
static inline void publish_inflight_commit(struct publish *pb, uint32_t n)
{
	pb->next_token++;
	pb->next_ev += n;
}

/* The ack handler (mdm_bus_set_ack_handler): nats.c / bus threads. */
void publish_on_ack(void *ctx, const struct mdm_bus_ack *ack);

/* ---- publish_drop.c ---- */

/* Set the drop policy's marks for the ring (drop_when_full), or none. */
void publish_drop_init(struct publish *pb, bool drop_when_full);

/* Drop policy: at the high-water mark, drop the ring's oldest events down to
 * the low mark, counted with their ranges. Publisher lcore. */
void publish_shed_check(struct publish *pb);

/* ---- publish_views.c ---- */

/* Take one view record (flags & RX_EV_VIEWS): a whole view is published.
 * 0, or -EINTR when a stop interrupted a wait. */
int publish_view_take(struct publish *pb, const struct rx_event *e);

/* ---- publish_batch.c ---- */

/* Batch mode memory, all of it now. 0, -EINVAL, -ENOMEM. */
int publish_batch_init(struct publish *pb, const struct publish_params *p);
void publish_batch_fini(struct publish *pb);

#endif
