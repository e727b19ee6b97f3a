/* Publisher lcore. Each published message holds a slot in a power-of-two table
 * indexed by its token (a running count), so the ack handler, which runs on
 * nats.c's threads, finds the message's timestamps without a lookup structure
 * or a lock on the publish path. In batch mode a message carries many events:
 * their receive times sit in a second power-of-two table indexed by a running
 * event count (a batch takes a contiguous run of it), so the ack still records
 * wire_to_ack per event. */
#include "publish.h"

#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "batch_cut.h"
#include "encode.h"
#include "evbatch.h"
#include "itch.h"
#include "mdm_counter.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_et.h"
#include "mdm_latency.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_poll.h"
#include "rx_event.h"
#include "subject.h"

#define PUB_BURST 32
/* Backoff while the bus refuses a publish: short while connected (its ack
 * window frees as acks arrive), 1 ms while disconnected (nothing can change
 * before the reconnect; spinning would take the CPU nats-server restarts on). */
#define BUS_RETRY_NS (50 * MDM_NS_PER_US)
#define BUS_DOWN_RETRY_NS MDM_NS_PER_MS
#define CONTENT_TYPE "application/protobuf; proto=mdmesh.v1.MarketEvent"
#define CONTENT_TYPE_BATCH "application/protobuf; proto=mdmesh.v1.EventBatch"

const char *const publish_stage_names[STAGE_COUNT] = {
	"wire_to_decoded", "decoded_to_publish", "publish_to_ack", "wire_to_ack",
};

/* One in-flight message. `token` is 0 when the slot is free. */
struct slot {
	uint64_t token;
	uint64_t pub_ns;
	uint64_t rx_ns;     /* event mode */
	uint64_t ev_first;  /* batch mode: first entry in ev_rx (running event count) */
	uint32_t n_events;  /* events the message carries (1 in event mode) */
};

/* A batched event's bookkeeping until its batch is published. */
struct pending_ev {
	uint64_t rx_ns;
	uint32_t decode_ns;
	uint8_t type;
};

/* One subject partition's batch being filled. */
struct part {
	struct evbatch b;
	struct pending_ev *ev;   /* b.n entries used, batch_max_events allocated */
	struct batch_cut_part cut; /* window, sequences, session (batch_cut.h) */
	uint64_t oldest_ns;      /* monotonic time of its first event */
	uint32_t id;
	bool listed;             /* in `live[]` */
};

struct publish {
	struct publish_stats stats;
	struct rte_ring *ring;
	struct mdm_bus *bus;
	struct encoder *enc;
	char feed[ENCODE_FEED_MAX + 1];
	char prefix[16];
	uint32_t session_date;
	bool origin_itch;      /* latency.origin itch: measure from the ITCH timestamp */
	uint64_t midnight_ns;  /* US/Eastern midnight of session_date (origin itch) */
	struct mdm_idle idle;
	bool finishing;
	bool aborting;
	uint64_t next_token;   /* starts at 1: token 0 marks a free slot */
	uint64_t in_flight;
	uint32_t slot_mask;
	struct slot *slots;
	/* latency: the publisher lcore records the stages up to the publish,
	 * the ack handler (nats.c threads, maybe two at once) the ack stages;
	 * neither ever waits for the stats pass (mdm_latency.h) */
	struct mdm_lat_recorder *lat_pub, *lat_ack;
	struct rx_event burst[PUB_BURST];
	uint8_t buf[ENCODE_MAX_EVENT_LEN];
	/* drop policy (publish.h): shed the ring's oldest events from shed_high
	 * queued down to shed_low; shed_high 0 = block policy */
	uint32_t shed_high, shed_low;
	uint64_t drop_next;      /* the sequence that extends the newest drop range */
	char drop_session[10];   /* its session (rx_event layout) */
	struct rx_event shed[PUB_BURST];
	/* batch mode */
	bool batch;
	bool delay_flush;
	uint32_t batch_events;
	uint32_t n_parts;
	uint64_t max_delay_ns;
	uint64_t next_deadline;  /* earliest oldest_ns + max_delay_ns of a non-empty partition */
	uint64_t window;         /* highest window seen: older windows are complete */
	struct part *parts;
	uint32_t *live;          /* non-empty partitions, n_live of them */
	uint32_t n_live;
	uint8_t *part_mem;
	uint64_t *ev_rx;         /* receive times of published events; 0 = free entry */
	uint64_t ev_mask;
	uint64_t next_ev;        /* running event count: index into ev_rx */
};

/* Ack handler: runs on nats.c / bus threads, possibly two at once. */
static void on_ack(void *ctx, const struct mdm_bus_ack *ack)
{
	struct publish *pb = ctx;
	struct slot *s = &pb->slots[ack->token & pb->slot_mask];
	uint64_t now = mdm_real_ns();
	/* the slot is ours until we free it: the publisher waits for token 0 */
	bool mine = __atomic_load_n(&s->token, __ATOMIC_ACQUIRE) == ack->token;
	uint64_t n = mine ? s->n_events : 1;

	__atomic_store_n(&pb->stats.last_ack_ns, now, __ATOMIC_RELAXED);
	switch (ack->result) {
	case MDM_BUS_ACK_STORED: mdm_counter_add_shared(&pb->stats.stored, n); break;
	case MDM_BUS_ACK_DUPLICATE: mdm_counter_add_shared(&pb->stats.duplicates, n); break;
	default:
		mdm_counter_add_shared(&pb->stats.failed, n);
		mdm_log_warn("publish of %s failed after %u attempts: %s", ack->msg_id, ack->attempts, ack->reason);
		break;
	}
	if (mine) {
		bool ok = ack->result != MDM_BUS_ACK_FAILED;
		int64_t entered = mdm_lat_enter(pb->lat_ack);

		if (ok) {
			mdm_lat_record_n(pb->lat_ack, STAGE_PUBLISH_TO_ACK, (int64_t)(now - s->pub_ns), n);
			if (!pb->batch)
				mdm_lat_record(pb->lat_ack, STAGE_WIRE_TO_ACK, (int64_t)(now - s->rx_ns));
		}
		for (uint64_t i = 0; pb->batch && i < n; i++) {
			uint64_t *rx = &pb->ev_rx[(s->ev_first + i) & pb->ev_mask];

			if (ok)
				mdm_lat_record(pb->lat_ack, STAGE_WIRE_TO_ACK, (int64_t)(now - *rx));
			__atomic_store_n(rx, 0, __ATOMIC_RELEASE);
		}
		mdm_lat_exit(pb->lat_ack, entered);
		__atomic_store_n(&s->token, 0, __ATOMIC_RELEASE);
	}
	__atomic_fetch_sub(&pb->in_flight, n, __ATOMIC_RELAXED);
}

/* Batch mode memory, all of it now: one packing buffer and one bookkeeping
 * array per partition, the event table sized for every slot's batch to be in
 * flight at max_in_flight events on average (publishing waits beyond that). */
static int batch_create(struct publish *pb, const struct publish_params *p, uint32_t slots)
{
	size_t bufsz = evbatch_buffer_size(p->batch_max_events, ENCODE_MAX_EVENT_LEN, ENCODE_FEED_MAX);
	uint64_t ev_cap = 1;
	int rc;

	if (p->partitions == 0 || p->partitions > 1024 || p->batch_max_events == 0)
		return mdm_err_set(-EINVAL, "publish: batch mode needs 1..1024 partitions and batch_max_events > 0");
	while (ev_cap < slots || ev_cap < 4ull * p->batch_max_events)
		ev_cap <<= 1;
	pb->batch = true;
	pb->delay_flush = p->batch_delay_flush;
	pb->batch_events = p->batch_max_events;
	pb->n_parts = p->partitions;
	pb->max_delay_ns = p->batch_max_delay_ns;
	pb->next_deadline = UINT64_MAX;
	pb->parts = mdm_calloc(p->partitions, sizeof(*pb->parts));
	pb->live = mdm_calloc(p->partitions, sizeof(*pb->live));
	pb->part_mem = mdm_calloc(p->partitions, bufsz);
	pb->ev_rx = mdm_calloc(ev_cap, sizeof(*pb->ev_rx));
	if (!pb->parts || !pb->live || !pb->part_mem || !pb->ev_rx)
		return -ENOMEM;
	pb->ev_mask = ev_cap - 1;
	for (uint32_t i = 0; i < p->partitions; i++) {
		struct part *pt = &pb->parts[i];

		pt->id = i;
		pt->ev = mdm_calloc(p->batch_max_events, sizeof(*pt->ev));
		if (!pt->ev)
			return -ENOMEM;
		rc = evbatch_init(&pt->b, pb->part_mem + (size_t)i * bufsz, bufsz, p->feed, i, ENCODE_MAX_EVENT_LEN);
		if (rc != 0)
			return mdm_err_set(rc, "publish: batch buffer of %zu bytes too small", bufsz);
	}
	return 0;
}

int publish_create(struct publish **out, const struct publish_params *p)
{
	struct publish *pb;
	uint32_t n = 1;
	int rc;

	if (!p->ring || !p->bus || !p->feed || strlen(p->subject_prefix) >= sizeof(pb->prefix))
		return mdm_err_set(-EINVAL, "publish: ring, bus, feed and a short subject prefix are required");
	while (n < p->max_in_flight)
		n <<= 1;
	pb = mdm_calloc(1, sizeof(*pb));
	if (!pb)
		return -ENOMEM;
	pb->slots = mdm_calloc(n, sizeof(*pb->slots));
	rc = pb->slots ? encode_create(&pb->enc, p->feed) : -ENOMEM;
	if (rc == 0)
		rc = mdm_lat_recorder_create(&pb->lat_pub, STAGE_COUNT,
					     1u << STAGE_WIRE_TO_DECODED | 1u << STAGE_DECODED_TO_PUBLISH, false);
	if (rc == 0)
		rc = mdm_lat_recorder_create(&pb->lat_ack, STAGE_COUNT,
					     1u << STAGE_PUBLISH_TO_ACK | 1u << STAGE_WIRE_TO_ACK, true);
	if (rc != 0) {
		publish_destroy(pb);
		return rc;
	}
	if (p->batch) {
		rc = batch_create(pb, p, n);
		if (rc != 0) {
			publish_destroy(pb);
			return rc;
		}
	}
	pb->slot_mask = n - 1;
	pb->ring = p->ring;
	pb->bus = p->bus;
	snprintf(pb->feed, sizeof(pb->feed), "%s", p->feed);
	snprintf(pb->prefix, sizeof(pb->prefix), "%s", p->subject_prefix);
	pb->session_date = p->session_date;
	pb->origin_itch = p->origin_itch;
	pb->next_token = 1;
	if (p->drop_when_full) {
		/* Room for RX's largest flush (a burst of full packets, ~2k events)
		 * between two checks of the publisher, at least 1/8 of the ring;
		 * half the ring freed per shed, so a long outage is a few ranges. */
		uint32_t cap = rte_ring_get_capacity(p->ring), margin = cap / 8;

		if (margin < 4096)
			margin = cap / 4 < 4096 ? cap / 4 : 4096;
		pb->shed_high = cap - margin;
		pb->shed_low = cap / 2;
	}
	mdm_idle_init(&pb->idle, p->idle_spin, p->idle_sleep_us);
	mdm_bus_set_ack_handler(p->bus, on_ack, pb);
	*out = pb;
	return 0;
}

void publish_destroy(struct publish *pb)
{
	if (!pb)
		return;
	mdm_lat_recorder_destroy(pb->lat_pub);
	mdm_lat_recorder_destroy(pb->lat_ack);
	for (uint32_t i = 0; pb->parts && i < pb->n_parts; i++)
		mdm_free(pb->parts[i].ev);
	mdm_free(pb->parts);
	mdm_free(pb->live);
	mdm_free(pb->part_mem);
	mdm_free(pb->ev_rx);
	encode_destroy(pb->enc);
	mdm_free(pb->slots);
	mdm_free(pb);
}

void publish_finish(struct publish *pb)
{
	__atomic_store_n(&pb->finishing, true, __ATOMIC_RELEASE);
}

void publish_abort(struct publish *pb)
{
	__atomic_store_n(&pb->aborting, true, __ATOMIC_RELEASE);
}

static inline bool aborting(const struct publish *pb)
{
	return __atomic_load_n(&pb->aborting, __ATOMIC_ACQUIRE);
}

const struct publish_stats *publish_stats(const struct publish *pb) { return &pb->stats; }

uint64_t publish_in_flight(const struct publish *pb)
{
	return __atomic_load_n(&pb->in_flight, __ATOMIC_RELAXED) +
	       __atomic_load_n(&pb->stats.batched, __ATOMIC_RELAXED);
}

void publish_latency_take(struct publish *pb, struct mdm_hdr *const *out)
{
	mdm_lat_recorder_take(pb->lat_pub, out);
	mdm_lat_recorder_take(pb->lat_ack, out);
}

/* The ITCH timestamp of m on the session date, in realtime ns (0 when the
 * session date is not a valid date). */
static inline uint64_t itch_origin_ns(struct publish *pb, const struct itch_msg *m)
{
	if (unlikely(pb->midnight_ns == 0) && mdm_et_midnight_ns(pb->session_date, &pb->midnight_ns) != 0)
		return 0;
	return pb->midnight_ns + m->timestamp_ns;
}

/* Encode a record, stamped pub_ts_ns = now, into pb->buf. Returns 0, or
 * -EINVAL when it cannot be encoded.
 * Why itch_decode runs again here: struct itch_msg is a view (a pointer to
 * the message bytes, the type's descriptor, the header fields), not decoded
 * fields; the encoder reads every field from the bytes through the
 * itch_msgs.def table. On the RX core the view points into the mbuf, freed
 * after the burst, and no pointer crosses the ring (rx_event.h), so the ring
 * carries the bytes and the publisher rebuilds the view over its copy: a
 * type-table lookup, a length check and three header loads, no field is
 * decoded twice. The RX core already checked the message; a failure here
 * means the record was corrupted. */
static int encode_record(struct publish *pb, const struct rx_event *e, uint64_t now, struct itch_msg *m,
			 char symbol[9], char session[11], size_t *len)
{
	struct encode_meta meta = { .seq = e->seq, .rx_ts_ns = e->rx_ts_ns, .wire_ts_ns = e->wire_ts_ns,
				    .session_date = pb->session_date, .pub_ts_ns = now };

	memcpy(symbol, e->symbol, 8);
	symbol[8] = '\0';
	memcpy(session, e->session, 10);
	session[10] = '\0';
	meta.symbol = symbol;
	meta.session = session;
	if (e->flags & RX_EV_ORDER)
		meta.order = &e->order;
	if (unlikely(pb->session_date == 0)) {
		/* no configured date: the trading date of the first packet, by its
		 * capture time (replays) or receive time (live) */
		pb->session_date = mdm_et_date(e->wire_ts_ns ? e->wire_ts_ns : e->rx_ts_ns);
		meta.session_date = pb->session_date;
		mdm_log_info("session date %u (US/Eastern date of the first packet)", pb->session_date);
	}
	if (itch_decode(e->msg, e->len, m) != ITCH_OK)
		return -EINVAL;
	if (pb->origin_itch)
		meta.wire_ts_ns = itch_origin_ns(pb, m); /* the sender's send time */
	if (encode_event(pb->enc, m, &meta, pb->buf, sizeof(pb->buf), len) != 0)
		return -EINVAL;
	return 0;
}

/* Latency origin of an event: its receive time (latency.origin rx), or its
 * ITCH timestamp on the session date (itch: the sender's clock, such as the
 * intended send times mdmesh-loadgen send stamps). Also gives origin ->
 * decoded in *decode_ns; a sender clock ahead of ours counts in origin_skew
 * and measures 0. Called after encode_record (the session date is known). */
static inline uint64_t latency_origin(struct publish *pb, const struct rx_event *e, const struct itch_msg *m,
				      uint64_t *decode_ns)
{
	uint64_t decoded = e->rx_ts_ns + e->decode_ns, origin;

	if (!pb->origin_itch) {
		*decode_ns = e->decode_ns;
		return e->rx_ts_ns;
	}
	origin = itch_origin_ns(pb, m);
	if (origin > decoded) {
		mdm_counter_add(&pb->stats.origin_skew, 1);
		*decode_ns = 0;
	} else {
		*decode_ns = decoded - origin;
	}
	return origin;
}

/* Count one shed event into the drop ranges: a run of consecutive sequence
 * numbers of one session is one range. Publisher lcore only. */
static void drop_record(struct publish *pb, const struct rx_event *e)
{
	struct publish_stats *st = &pb->stats;
	uint64_t n = st->drop_ranges;

	if (n && e->seq == pb->drop_next && memcmp(e->session, pb->drop_session, sizeof(pb->drop_session)) == 0) {
		__atomic_store_n(&st->drop_last[(n - 1) % PUBLISH_DROP_RANGES], e->seq, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&st->drop_first[n % PUBLISH_DROP_RANGES], e->seq, __ATOMIC_RELAXED);
		__atomic_store_n(&st->drop_last[n % PUBLISH_DROP_RANGES], e->seq, __ATOMIC_RELAXED);
		__atomic_store_n(&st->drop_ranges, n + 1, __ATOMIC_RELEASE);
		memcpy(pb->drop_session, e->session, sizeof(pb->drop_session));
	}
	pb->drop_next = e->seq + 1;
}

/* Drop policy: once the ring holds shed_high events, take the oldest off
 * and drop them (counted, with their ranges) until shed_low remain, so RX
 * always finds room and the ring keeps the newest events. Cheap when below
 * the mark (one ring count). Publisher lcore only. */
static void shed_check(struct publish *pb)
{
	unsigned used;

	if (!pb->shed_high)
		return;
	used = rte_ring_count(pb->ring);
	if (likely(used < pb->shed_high))
		return;
	while (used > pb->shed_low) {
		unsigned want = used - pb->shed_low < PUB_BURST ? used - pb->shed_low : PUB_BURST;
		unsigned n = rte_ring_sc_dequeue_burst_elem(pb->ring, pb->shed, sizeof(struct rx_event), want, NULL);

		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++)
			drop_record(pb, &pb->shed[i]);
		mdm_counter_add(&pb->stats.dequeued, n);
		mdm_counter_add(&pb->stats.dropped_full, n);
		used -= n;
	}
}

/* Wait until slot `s` is free. -EINTR when a stop interrupted the wait. */
static int slot_wait(struct publish *pb, const struct slot *s)
{
	while (__atomic_load_n(&s->token, __ATOMIC_ACQUIRE) != 0) {
		/* the message that had this slot is still unacked: wait for it */
		mdm_counter_add(&pb->stats.slot_waits, 1);
		if (aborting(pb))
			return -EINTR;
		shed_check(pb);
		mdm_sleep_ns(20 * MDM_NS_PER_US);
	}
	return 0;
}

/* Hand a message to the bus, retrying while it refuses for back-pressure
 * (window full, reconnecting): the event waits here and the ring behind it
 * is the buffer. 0, -EINTR (stop), or the bus's error. */
static int bus_publish(struct publish *pb, const char *subject, const char *msg_id, const char *ctype,
		       const void *data, size_t len, uint64_t token)
{
	for (;;) {
		uint64_t t0 = mdm_mono_ns();
		int rc = mdm_bus_publish_async(pb->bus, subject, msg_id, ctype, data, len, token);

		if (rc != -EAGAIN)
			return rc;
		/* back-pressure, never a silent drop */
		mdm_counter_add(&pb->stats.stalls, 1);
		if (aborting(pb))
			return -EINTR;
		shed_check(pb);
		{
			/* the outage buffer's high-water mark (this is the rare path) */
			uint64_t used = rte_ring_count(pb->ring);

			mdm_counter_propose_max(&pb->stats.ring_peak, used);
		}
		if (mdm_bus_connected(pb->bus)) {
			mdm_sleep_ns(BUS_RETRY_NS);
		} else {
			mdm_sleep_ns(BUS_DOWN_RETRY_NS);
			/* the refused call (nats.c's stall wait) and the sleep */
			mdm_counter_add(&pb->stats.bus_down_ns, mdm_mono_ns() - t0);
		}
	}
}

/* Publish one record. Returns 0, or -EINTR when a stop interrupted the wait
 * for a slot or for the bus window (the record is then not published). */
static int publish_one(struct publish *pb, const struct rx_event *e, uint64_t *decode_ns, uint64_t *queue_ns)
{
	char subject[SUBJECT_MAX], msg_id[MSGID_MAX], symbol[9], session[11];
	struct itch_msg m;
	uint64_t token = pb->next_token, now;
	struct slot *s = &pb->slots[token & pb->slot_mask];
	size_t len;
	int rc;

	if (slot_wait(pb, s) != 0)
		return -EINTR;
	now = mdm_real_ns();
	if (encode_record(pb, e, now, &m, symbol, session, &len) != 0)
		goto encode_error;
	if (subject_event(subject, sizeof(subject), pb->prefix, pb->feed, (char)m.type, symbol) < 0 ||
	    subject_msg_id(msg_id, sizeof(msg_id), pb->feed, session, e->seq) < 0)
		goto encode_error;
	s->pub_ns = now;
	s->rx_ns = latency_origin(pb, e, &m, decode_ns);
	s->n_events = 1;
	__atomic_store_n(&s->token, token, __ATOMIC_RELEASE);
	__atomic_fetch_add(&pb->in_flight, 1, __ATOMIC_RELAXED);
	rc = bus_publish(pb, subject, msg_id, CONTENT_TYPE, pb->buf, len, token);
	if (rc != 0) {
		__atomic_store_n(&s->token, 0, __ATOMIC_RELEASE);
		__atomic_fetch_sub(&pb->in_flight, 1, __ATOMIC_RELAXED);
		if (rc == -EINTR)
			return rc;
		mdm_counter_add_shared(&pb->stats.failed, 1);
		__atomic_store_n(&pb->stats.last_failed_seq, e->seq, __ATOMIC_RELAXED);
		mdm_log_warn("publish of %s refused: %s", msg_id, mdm_err_last());
		return 0;
	}
	if (pb->next_token == 1)
		__atomic_store_n(&pb->stats.first_rx_ns, e->rx_ts_ns, __ATOMIC_RELAXED);
	pb->next_token++;
	mdm_counter_add(&pb->stats.published, 1);
	mdm_counter_add(&pb->stats.by_type[m.type], 1);
	*queue_ns = now > e->rx_ts_ns + e->decode_ns ? now - e->rx_ts_ns - e->decode_ns : 0;
	return 0;

encode_error:
	mdm_counter_add(&pb->stats.encode_errors, 1);
	return 0;
}

/* ---- batch mode ---- */

/* Empty a partition's batch after it was published or dropped. */
static void part_reset(struct publish *pb, struct part *pt)
{
	mdm_counter_sub(&pb->stats.batched, pt->b.n);
	evbatch_clear(&pt->b);
	batch_cut_reset(&pt->cut);
}

/* Publish partition pt's batch (non-empty). Its events go in flight, or are
 * counted failed when the bus refuses the message. Returns 0, or -EINTR when
 * a stop interrupted a wait: the events are then counted dropped_at_stop. */
static int part_flush(struct publish *pb, struct part *pt)
{
	char subject[EVBATCH_SUBJECT_MAX], msg_id[EVBATCH_MSGID_MAX];
	uint64_t token = pb->next_token, ev0 = pb->next_ev, now;
	struct slot *s = &pb->slots[token & pb->slot_mask];
	uint32_t n = pt->b.n;
	int64_t entered;
	int rc;

	if (slot_wait(pb, s) != 0)
		goto stopped;
	/* the event table's entries are reused in order: wait for the events that
	 * had them (acks come in any order) */
	for (uint32_t i = 0; i < n; i++) {
		while (__atomic_load_n(&pb->ev_rx[(ev0 + i) & pb->ev_mask], __ATOMIC_ACQUIRE) != 0) {
			mdm_counter_add(&pb->stats.slot_waits, 1);
			if (aborting(pb))
				goto stopped;
			shed_check(pb);
			mdm_sleep_ns(20 * MDM_NS_PER_US);
		}
	}
	if (evbatch_subject(subject, sizeof(subject), pb->feed, pt->id) < 0 ||
	    evbatch_msg_id(msg_id, sizeof(msg_id), pb->feed, pt->cut.session, pt->cut.first_seq, pt->cut.last_seq,
			   pt->id) < 0) {
		/* cannot happen with the bounded feed and session names; counted, not lost silently */
		mdm_counter_add(&pb->stats.encode_errors, n);
		part_reset(pb, pt);
		return 0;
	}
	now = mdm_real_ns();
	entered = mdm_lat_enter(pb->lat_pub);
	for (uint32_t i = 0; i < n; i++) {
		const struct pending_ev *pe = &pt->ev[i];
		uint64_t ready = pe->rx_ns + pe->decode_ns;

		mdm_lat_record(pb->lat_pub, STAGE_WIRE_TO_DECODED, (int64_t)pe->decode_ns);
		mdm_lat_record(pb->lat_pub, STAGE_DECODED_TO_PUBLISH, (int64_t)(now > ready ? now - ready : 0));
		/* rx_ts_ns is CLOCK_REALTIME, never 0: 0 marks a free entry */
		pb->ev_rx[(ev0 + i) & pb->ev_mask] = pe->rx_ns ? pe->rx_ns : 1;
	}
	mdm_lat_exit(pb->lat_pub, entered);
	s->pub_ns = now;
	s->ev_first = ev0;
	s->n_events = n;
	__atomic_store_n(&s->token, token, __ATOMIC_RELEASE);
	/* in flight before no longer batched: the account never misses them */
	__atomic_fetch_add(&pb->in_flight, n, __ATOMIC_RELAXED);
	rc = bus_publish(pb, subject, msg_id, CONTENT_TYPE_BATCH, pt->b.buf, pt->b.len, token);
	if (rc != 0) {
		for (uint32_t i = 0; i < n; i++)
			pb->ev_rx[(ev0 + i) & pb->ev_mask] = 0;
		__atomic_store_n(&s->token, 0, __ATOMIC_RELEASE);
		__atomic_fetch_sub(&pb->in_flight, n, __ATOMIC_RELAXED);
		if (rc == -EINTR)
			goto stopped;
		mdm_counter_add_shared(&pb->stats.failed, n);
		__atomic_store_n(&pb->stats.last_failed_seq, pt->cut.last_seq, __ATOMIC_RELAXED);
		mdm_log_warn("publish of %s refused: %s", msg_id, mdm_err_last());
		part_reset(pb, pt);
		return 0;
	}
	if (pb->next_token == 1)
		__atomic_store_n(&pb->stats.first_rx_ns, pt->ev[0].rx_ns, __ATOMIC_RELAXED);
	pb->next_token++;
	pb->next_ev += n;
	mdm_counter_add(&pb->stats.published, n);
	mdm_counter_add(&pb->stats.batches, 1);
	for (uint32_t i = 0; i < n; i++)
		mdm_counter_add(&pb->stats.by_type[pt->ev[i].type], 1);
	part_reset(pb, pt);
	return 0;

stopped:
	mdm_counter_add(&pb->stats.dropped_at_stop, n);
	part_reset(pb, pt);
	return -EINTR;
}

/* Flush the listed partitions for which `due` holds (all when NULL) and
 * drop them from the list. With `drop`, count their events dropped_at_stop
 * instead of publishing (forced stop). -EINTR: a stop interrupted a flush
 * (the rest is then dropped). */
static int parts_flush(struct publish *pb, bool (*due)(const struct publish *, const struct part *, uint64_t),
		       uint64_t arg, bool drop)
{
	uint32_t kept = 0;
	int rc = 0;

	pb->next_deadline = UINT64_MAX;
	for (uint32_t i = 0; i < pb->n_live; i++) {
		struct part *pt = &pb->parts[pb->live[i]];

		if (pt->b.n && !drop && rc == 0 && due && !due(pb, pt, arg)) {
			pb->live[kept++] = pt->id;
			if (pt->oldest_ns + pb->max_delay_ns < pb->next_deadline)
				pb->next_deadline = pt->oldest_ns + pb->max_delay_ns;
			continue;
		}
		pt->listed = false;
		if (!pt->b.n)
			continue;
		if (drop || rc != 0) {
			mdm_counter_add(&pb->stats.dropped_at_stop, pt->b.n);
			part_reset(pb, pt);
		} else {
			rc = part_flush(pb, pt);
		}
	}
	pb->n_live = kept;
	return rc;
}

static bool older_window(const struct publish *pb, const struct part *pt, uint64_t window)
{
	(void)pb;
	return batch_cut_older(&pt->cut, window);
}

static bool delay_due(const struct publish *pb, const struct part *pt, uint64_t now)
{
	return now - pt->oldest_ns >= pb->max_delay_ns;
}

/* Time-based flush, live input only (publish.h: replays cut by input only). */
static int batch_check_delay(struct publish *pb)
{
	uint64_t now;

	if (!pb->delay_flush || pb->n_live == 0)
		return 0;
	now = mdm_mono_ns();
	if (now < pb->next_deadline)
		return 0;
	return parts_flush(pb, delay_due, now, false);
}

/* Encode a record into its partition's batch, publishing batches first where
 * the input says they are complete. 0, or -EINTR (the record is not taken). */
static int batch_add(struct publish *pb, const struct rx_event *e)
{
	char symbol[9], session[11];
	struct itch_msg m;
	struct part *pt = &pb->parts[evbatch_partition(e->symbol, pb->n_parts)];
	size_t len;
	int rc = 0;

	switch (batch_cut_scope(&pb->window, e->seq, pb->batch_events)) {
	case BATCH_CUT_OLDER: rc = parts_flush(pb, older_window, pb->window, false); break;
	case BATCH_CUT_ALL: rc = parts_flush(pb, NULL, 0, false); break;
	case BATCH_CUT_NONE: break;
	}
	if (rc != 0)
		return rc;
	if (encode_record(pb, e, mdm_real_ns(), &m, symbol, session, &len) != 0) {
		mdm_counter_add(&pb->stats.encode_errors, 1);
		return 0;
	}
	if (batch_cut_before(&pt->cut, session, e->seq, pb->batch_events) ||
	    (pt->b.n && evbatch_add(&pt->b, pb->buf, len) != 0)) {
		/* another window or session, an out-of-order sequence, or full in
		 * bytes: this batch is done, the event starts the next */
		rc = part_flush(pb, pt);
		if (rc != 0)
			return rc;
	}
	if (pt->b.n == 0) {
		if (evbatch_add(&pt->b, pb->buf, len) != 0) {
			/* an empty batch holds any event (evbatch_init checked) */
			mdm_counter_add(&pb->stats.encode_errors, 1);
			return 0;
		}
		pt->oldest_ns = mdm_mono_ns();
		if (pt->oldest_ns + pb->max_delay_ns < pb->next_deadline)
			pb->next_deadline = pt->oldest_ns + pb->max_delay_ns;
		if (!pt->listed) {
			pt->listed = true;
			pb->live[pb->n_live++] = pt->id;
		}
	}
	batch_cut_take(&pt->cut, session, e->seq, pb->batch_events);
	{
		uint64_t dec;
		uint64_t origin = latency_origin(pb, e, &m, &dec);

		/* the pair keeps origin + decode = the decoded time, which the
		 * decoded->publish stage is measured from */
		pt->ev[pt->b.n - 1] = (struct pending_ev){ .rx_ns = origin, .decode_ns = dec > UINT32_MAX ? UINT32_MAX : (uint32_t)dec,
							    .type = m.type };
	}
	mdm_counter_add(&pb->stats.batched, 1);
	if (batch_cut_full(&pt->cut, pb->batch_events))
		return part_flush(pb, pt); /* the whole window went to this partition */
	return 0;
}

/* Batch mode's loop: the same ring and stop protocol as the event mode's. */
static int batch_lcore_main(struct publish *pb)
{
	while (!aborting(pb)) {
		unsigned n = rte_ring_sc_dequeue_burst_elem(pb->ring, pb->burst, sizeof(struct rx_event), PUB_BURST,
							    NULL);

		if (n == 0) {
			if (aborting(pb))
				break;
			if (__atomic_load_n(&pb->finishing, __ATOMIC_ACQUIRE) && rte_ring_empty(pb->ring)) {
				/* end of input: every batch is complete */
				if (parts_flush(pb, NULL, 0, false) != 0)
					break;
				return 0;
			}
			if (batch_check_delay(pb) != 0)
				break;
			mdm_idle_wait(&pb->idle);
			continue;
		}
		mdm_idle_reset(&pb->idle);
		mdm_counter_add(&pb->stats.dequeued, n);
		shed_check(pb);
		for (unsigned i = 0; i < n; i++) {
			if (batch_add(pb, &pb->burst[i]) == -EINTR) {
				/* forced stop: what was taken off the ring unpublished is counted */
				mdm_counter_add(&pb->stats.dropped_at_stop, n - i);
				goto stop;
			}
		}
		if (batch_check_delay(pb) != 0)
			break;
	}
stop:
	/* forced stop: events waiting in batches are not published */
	parts_flush(pb, NULL, 0, true);
	return 0;
}

int publish_lcore_main(void *arg)
{
	struct publish *pb = arg;
	uint64_t dec[PUB_BURST], queue[PUB_BURST];

	if (pb->batch)
		return batch_lcore_main(pb);
	while (!aborting(pb)) {
		unsigned n = rte_ring_sc_dequeue_burst_elem(pb->ring, pb->burst, sizeof(struct rx_event), PUB_BURST,
							    NULL);
		unsigned done = 0;
		int64_t entered;

		if (n == 0) {
			if (aborting(pb) ||
			    (__atomic_load_n(&pb->finishing, __ATOMIC_ACQUIRE) && rte_ring_empty(pb->ring)))
				break;
			mdm_idle_wait(&pb->idle);
			continue;
		}
		mdm_idle_reset(&pb->idle);
		mdm_counter_add(&pb->stats.dequeued, n);
		shed_check(pb);
		for (unsigned i = 0; i < n; i++) {
			dec[done] = queue[done] = 0;
			if (publish_one(pb, &pb->burst[i], &dec[done], &queue[done]) == -EINTR) {
				/* forced stop: what was taken off the ring unpublished is counted */
				mdm_counter_add(&pb->stats.dropped_at_stop, n - i);
				break;
			}
			done++;
		}
		entered = mdm_lat_enter(pb->lat_pub);
		for (unsigned i = 0; i < done; i++) {
			if (dec[i] || queue[i]) {
				mdm_lat_record(pb->lat_pub, STAGE_WIRE_TO_DECODED, (int64_t)dec[i]);
				mdm_lat_record(pb->lat_pub, STAGE_DECODED_TO_PUBLISH, (int64_t)queue[i]);
			}
		}
		mdm_lat_exit(pb->lat_pub, entered);
	}
	return 0;
}
