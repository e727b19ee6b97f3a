/* Market views (views.h) on the publisher lcore, in both publish modes: the
 * view records the RX core put in the ring are reassembled (views_rec.h),
 * encoded as mdmesh.v1.Bbo / Depth and published on bbo.<feed>.<symbol> /
 * depth.<feed>.<symbol> (streams BBO / DEPTH) with Nats-Msg-Id
 * <feed>.<session>.<seq>.bbo|depth. views.publish core (the default): a view
 * is a core NATS publish into the stream's subject: live subscribers get it
 * as soon as the server routes it, the stream stores it (de-duplicated by
 * Msg-Id), and it takes no in-flight slot and no ack; the drain's SNAPSHOT
 * views are JetStream publishes awaiting their ack, so the streams' last
 * values are certainly the book, and so is one view in VIEWS_ACK_EVERY, for
 * flow control. Measured: acking every view halved
 * the collector's throughput (README "Market views"). views.publish
 * jetstream: every view is acked. Acked views take in-flight slots but
 * count as no event: their outcomes are the views_* counters. A quote record
 * (TBBO) is kept for the event of the same seq that follows it. */
#include <errno.h>
#include <string.h>

#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "publish_impl.h"
#include "subject.h"

#define CT_BBO "application/protobuf; proto=mdmesh.v1.Bbo"
#define CT_DEPTH "application/protobuf; proto=mdmesh.v1.Depth"
/* With core views, one in VIEWS_ACK_EVERY is acked all the same: streams
 * take their messages in order, so its ack says the views before it are in;
 * with at most VIEWS_ACKED_MAX of those unacked, the views run at most about
 * VIEWS_ACK_EVERY x VIEWS_ACKED_MAX ahead of the server (unbounded, a
 * full-speed replay queued so many views in the server that the events'
 * acks waited behind them past their timeout). */
#define VIEWS_ACK_EVERY 64
#define VIEWS_ACKED_MAX 8

/* A change's view by core publish: nothing to wait for. A refusal (the
 * reconnect buffer full while the server is away) loses this view only: the
 * symbol's next change or the drain's SNAPSHOT replaces it. */
static int view_core(struct publish *pb, bool bbo, const char *subject, const char *msg_id, size_t len)
{
	if (mdm_bus_publish_hdr(pb->bus, subject, msg_id, bbo ? CT_BBO : CT_DEPTH, pb->vbuf, len) != 0) {
		/* per-view path: counted, logged once */
		if (mdm_counter_get(&pb->stats.views_failed) == 0)
			mdm_log_warn("publish of %s refused (further refusals only counted): %s", msg_id, mdm_err_last());
		mdm_counter_add_shared(&pb->stats.views_failed, 1);
		return 0;
	}
	mdm_counter_add(&pb->stats.views_core, 1);
	mdm_counter_add(bbo ? &pb->stats.views_bbo : &pb->stats.views_depth, 1);
	return 0;
}

/* Core views' flow control: wait until fewer than VIEWS_ACKED_MAX acked
 * views are unacked. 0, or -EINTR on a stop. */
static int acked_views_wait(struct publish *pb)
{
	if (__atomic_load_n(&pb->views_acked_out, __ATOMIC_ACQUIRE) < VIEWS_ACKED_MAX)
		return 0;
	/* what this lcore deferred (flush = burst) must be on the wire to be acked */
	mdm_bus_write_deferred(pb->bus);
	return publish_wait_below(pb, &pb->views_acked_out, VIEWS_ACKED_MAX);
}

int publish_view_take(struct publish *pb, const struct rx_event *e)
{
	const struct views_out *o = &pb->vasm.o;
	bool bbo;
	char subject[SUBJECT_MAX], msg_id[MSGID_MAX], symbol[SYMBOLS_TEXT_MAX + 1], session[11];
	struct encode_view ev;
	uint64_t now, token;
	size_t len;
	int rc;

	mdm_counter_add(&pb->stats.view_records, 1);
	if (e->flags & RX_EV_QUOTE) {
		/* for the event of the same seq that follows (publish_encode) */
		rx_event_payload_get(e, &pb->quote, sizeof(pb->quote));
		pb->quote_seq = e->seq;
		return 0;
	}
	rc = views_rec_take(&pb->vasm, e);
	if (rc == 0)
		return 0;
	if (rc < 0)
		goto error;
	bbo = o->kind == VIEWS_BBO;
	itch_text(symbol, (const uint8_t *)e->symbol, e->symbol_len);
	memcpy(session, e->session, 10);
	session[10] = '\0';
	now = mdm_real_ns();
	ev = (struct encode_view){ .session = session, .symbol = symbol, .seq = o->seq, .exchange_ts_ns = o->ts_ns,
				   .rx_ts_ns = e->rx_ts_ns, .pub_ts_ns = now, .session_date = pb->session_date,
				   .stock_locate = o->locate, .flags = o->flags };
	rc = bbo ? encode_bbo(pb->enc, &ev, &o->bbo, pb->vbuf, sizeof(pb->vbuf), &len)
		 : encode_depth(pb->enc, &ev, o->bids, o->n_bids, o->asks, o->n_asks, pb->vbuf, sizeof(pb->vbuf), &len);
	if (rc != 0 || subject_view(subject, sizeof(subject), bbo ? "bbo" : "depth", pb->feed, symbol) < 0 ||
	    subject_view_msg_id(msg_id, sizeof(msg_id), pb->feed, session, o->seq, bbo ? "bbo" : "depth",
				o->shared_seq ? o->locate : -1) < 0)
		goto error;
	if (pb->views_core && !(o->flags & VIEWS_F_SNAPSHOT) && ++pb->views_unacked < VIEWS_ACK_EVERY)
		return view_core(pb, bbo, subject, msg_id, len);
	pb->views_unacked = 0;
	if ((pb->views_core && acked_views_wait(pb) != 0) || publish_inflight_wait(pb, 0) != 0)
		return -EINTR;
	/* marked before it is in flight: the ack handler reads it */
	pb->slots[pb->next_token & pb->slot_mask].view = true;
	__atomic_fetch_add(&pb->views_acked_out, 1, __ATOMIC_RELAXED);
	token = publish_inflight_arm(pb, now, 0);
	rc = publish_bus(pb, subject, msg_id, bbo ? CT_BBO : CT_DEPTH, pb->vbuf, len, token);
	if (rc != 0) {
		__atomic_fetch_sub(&pb->views_acked_out, 1, __ATOMIC_RELAXED);
		pb->slots[token & pb->slot_mask].view = false;
		publish_inflight_disarm(pb, 0);
		if (rc == -EINTR)
			return rc;
		mdm_counter_add_shared(&pb->stats.views_failed, 1);
		mdm_log_warn("publish of %s refused: %s", msg_id, mdm_err_last());
		return 0;
	}
	publish_inflight_commit(pb, 0);
	mdm_counter_add(bbo ? &pb->stats.views_bbo : &pb->stats.views_depth, 1);
	return 0;

error:
	mdm_counter_add(&pb->stats.views_errors, 1);
	return 0;
}
