/* Publisher lcore: the lifecycle, the loop, and what both publishing modes
 * share (encoding a record, the bus retry). The mode (publish_impl.h) is
 * chosen once in publish_create. */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_et.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "publish_impl.h"

const char *const publish_stage_names[STAGE_COUNT] = {
	"wire_to_decoded", "decoded_to_publish", "publish_to_ack", "wire_to_ack",
};

static int publish_on_stall(void *ctx, bool connected);

int publish_create(struct publish **out, const struct publish_params *p)
{
	struct publish *pb;
	int rc;

	if (!p->ring || !p->bus || !p->feed || strlen(p->subject_prefix) >= sizeof(pb->prefix))
		return mdm_err_set(-EINVAL, "publish: ring, bus, feed and a short subject prefix are required");
	pb = mdm_calloc(1, sizeof(*pb));
	if (!pb)
		return -ENOMEM;
	pb->ops = p->batch ? &publish_batch_ops : &publish_event_ops;
	pb->ring = p->ring;
	/* batch mode: the event table holds every slot's batch in flight at
	 * max_in_flight events on average (publishing waits beyond that) */
	rc = publish_inflight_init(pb, p->max_in_flight, p->batch ? 4ull * p->batch_max_events : 1);
	if (rc == 0)
		rc = encode_create(&pb->enc, p->feed);
	if (rc == 0)
		rc = mdm_lat_recorder_create(&pb->lat_pub, STAGE_COUNT,
					     1u << STAGE_WIRE_TO_DECODED | 1u << STAGE_DECODED_TO_PUBLISH, false);
	if (rc == 0)
		rc = mdm_lat_recorder_create(&pb->lat_ack, STAGE_COUNT,
					     1u << STAGE_PUBLISH_TO_ACK | 1u << STAGE_WIRE_TO_ACK, true);
	if (rc == 0 && p->batch)
		rc = publish_batch_init(pb, p);
	if (rc != 0) {
		publish_destroy(pb);
		return rc;
	}
	pb->bus = p->bus;
	pb->bus_retry = (struct mdm_bus_retry){ .deadline_ns = MDM_BUS_NO_DEADLINE, .on_stall = publish_on_stall,
						.ctx = pb, .down_ns = &pb->stats.bus_down_ns };
	snprintf(pb->feed, sizeof(pb->feed), "%s", p->feed);
	snprintf(pb->prefix, sizeof(pb->prefix), "%s", p->subject_prefix);
	pb->session_date = p->session_date;
	pb->origin_itch = p->origin_itch;
	pb->views_core = p->views_core;
	publish_drop_init(pb, p->drop_when_full);
	mdm_idle_init(&pb->idle, p->idle_spin, p->idle_sleep_us);
	mdm_bus_set_ack_handler(p->bus, publish_on_ack, pb);
	*out = pb;
	return 0;
}

void publish_destroy(struct publish *pb)
{
	if (!pb)
		return;
	mdm_lat_recorder_destroy(pb->lat_pub);
	mdm_lat_recorder_destroy(pb->lat_ack);
	publish_batch_fini(pb);
	encode_destroy(pb->enc);
	publish_inflight_fini(pb);
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

const struct publish_stats *publish_stats(const struct publish *pb) { return &pb->stats; }

uint64_t publish_in_flight(const struct publish *pb)
{
	return __atomic_load_n(&pb->in_flight, __ATOMIC_RELAXED) + mdm_counter_get(&pb->stats.batched);
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

/* publish_impl.h.
 * Why itch_decode runs again here: struct itch_msg is a view (a pointer to
 * the message bytes, the type's descriptor, the header fields), not decoded
 * fields; the encoder reads every field from the bytes through the
 * itch_msgs.def table. On the RX core the view points into the mbuf, freed
 * after the burst, and no pointer crosses the ring (rx_event.h), so the ring
 * carries the bytes and the publisher rebuilds the view over its copy: a
 * type-table lookup, a length check and three header loads, no field is
 * decoded twice. The RX core already checked the message; a failure here
 * means the record was corrupted. */
int publish_encode(struct publish *pb, const struct rx_event *e, uint64_t now, struct itch_msg *m,
		   char symbol[SYMBOLS_TEXT_MAX + 1], char session[11], size_t *len)
{
	struct encode_meta meta = { .seq = e->seq, .rx_ts_ns = e->rx_ts_ns, .wire_ts_ns = e->wire_ts_ns,
				    .session_date = pb->session_date, .pub_ts_ns = now };

	itch_text(symbol, (const uint8_t *)e->symbol, e->symbol_len);
	memcpy(session, e->session, 10);
	session[10] = '\0';
	meta.symbol = symbol;
	meta.session = session;
	if (e->flags & RX_EV_ORDER)
		meta.order = &e->order;
	if (pb->quote_seq && pb->quote_seq == e->seq) {
		/* the quote record that came just before this event (TBBO) */
		meta.quote = &pb->quote;
		pb->quote_seq = 0;
	}
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
 * and measures 0. Called after publish_encode (the session date is known). */
uint64_t publish_latency_origin(struct publish *pb, const struct rx_event *e, const struct itch_msg *m,
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

/* Called by the bus after each refusal for back-pressure (window full,
 * reconnecting), before its pause (50 us connected, 1 ms disconnected: the
 * bus's one policy): the event waits and the ring behind it is the buffer. */
static int publish_on_stall(void *ctx, bool connected)
{
	struct publish *pb = ctx;

	(void)connected;
	/* back-pressure, never a silent drop */
	mdm_counter_add(&pb->stats.stalls, 1);
	if (publish_aborting(pb))
		return -EINTR;
	publish_shed_check(pb);
	/* the outage buffer's high-water mark (this is the rare path) */
	mdm_counter_propose_max(&pb->stats.ring_peak, rte_ring_count(pb->ring));
	return 0;
}

/* Hand a message to the bus, waiting while it refuses for back-pressure.
 * 0, -EINTR (stop), or the bus's error. */
int publish_bus(struct publish *pb, const char *subject, const char *msg_id, const char *ctype, const void *data,
		size_t len, uint64_t token)
{
	return mdm_bus_publish_async_until(pb->bus, subject, msg_id, ctype, data, len, token, &pb->bus_retry);
}

/* The same ring and stop protocol for both modes: a graceful stop publishes
 * everything (the ring drains, then the mode's pending work), a forced one
 * counts what was taken and not published. */
int publish_lcore_main(void *arg)
{
	struct publish *pb = arg;
	const struct publish_mode_ops *ops = pb->ops;

	/* flush = burst: this lcore's publishes are written once per burst,
	 * below, and by the bus before it waits for a window slot */
	mdm_bus_defer_writes(pb->bus, true);
	while (!publish_aborting(pb)) {
		unsigned n = rte_ring_sc_dequeue_burst_elem(pb->ring, pb->burst, sizeof(struct rx_event), PUB_BURST,
							    NULL);

		if (n == 0) {
			if (publish_aborting(pb))
				break;
			if (__atomic_load_n(&pb->finishing, __ATOMIC_ACQUIRE) && rte_ring_empty(pb->ring)) {
				/* end of input: whatever is pending is complete */
				if (ops->finish(pb) != 0)
					break;
				mdm_bus_write_deferred(pb->bus);
				return 0;
			}
			if (ops->poll(pb) != 0)
				break;
			mdm_bus_write_deferred(pb->bus);
			mdm_idle_wait(&pb->idle);
			continue;
		}
		mdm_idle_reset(&pb->idle);
		mdm_counter_add(&pb->stats.dequeued, n);
		publish_shed_check(pb);
		for (unsigned i = 0; i < n; i++) {
			const struct rx_event *e = &pb->burst[i];

			if ((e->flags & RX_EV_VIEWS ? publish_view_take(pb, e) : ops->take(pb, e)) == -EINTR) {
				/* forced stop: what was taken off the ring unpublished is counted */
				mdm_counter_add(&pb->stats.dropped_at_stop, n - i);
				goto stop;
			}
		}
		if (ops->poll(pb) != 0)
			break;
		mdm_bus_write_deferred(pb->bus); /* the burst's one write */
	}
stop:
	mdm_bus_write_deferred(pb->bus);
	ops->stop(pb);
	return 0;
}
