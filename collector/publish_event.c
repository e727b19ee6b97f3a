/* publish.mode event: each record is published as one MarketEvent on
 * md.<feed>.<type>.<symbol> with Nats-Msg-Id <feed>.<session>.<seq>. */
#include <errno.h>

#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "publish_impl.h"
#include "subject.h"

#define CONTENT_TYPE "application/protobuf; proto=mdmesh.v1.MarketEvent"

/* The two stages up to the publish call, for one event. */
static void record_latency(struct publish *pb, uint64_t decode_ns, uint64_t queue_ns)
{
	int64_t entered;

	if (!decode_ns && !queue_ns)
		return;
	entered = mdm_lat_enter(pb->lat_pub);
	mdm_lat_record(pb->lat_pub, STAGE_WIRE_TO_DECODED, (int64_t)decode_ns);
	mdm_lat_record(pb->lat_pub, STAGE_DECODED_TO_PUBLISH, (int64_t)queue_ns);
	mdm_lat_exit(pb->lat_pub, entered);
}

/* Publish one record. Returns 0, or -EINTR when a stop interrupted the wait
 * for a slot or for the bus window (the record is then not published). */
static int event_take(struct publish *pb, const struct rx_event *e)
{
	char subject[SUBJECT_MAX], msg_id[MSGID_MAX], symbol[SYMBOLS_TEXT_MAX + 1], session[11];
	struct itch_msg m;
	uint64_t now, token, decode_ns;
	size_t len;
	int rc;

	if (publish_inflight_wait(pb, 1) != 0)
		return -EINTR;
	now = mdm_real_ns();
	if (publish_encode(pb, e, now, &m, symbol, session, &len) != 0)
		goto encode_error;
	if (subject_event(subject, sizeof(subject), pb->prefix, pb->feed, (char)m.type, symbol) < 0 ||
	    subject_msg_id(msg_id, sizeof(msg_id), pb->feed, session, e->seq) < 0)
		goto encode_error;
	publish_inflight_set_origin(pb, 0, publish_latency_origin(pb, e, &m, &decode_ns));
	token = publish_inflight_arm(pb, now, 1);
	rc = publish_bus(pb, subject, msg_id, CONTENT_TYPE, pb->buf, len, token);
	if (rc != 0) {
		publish_inflight_disarm(pb, 1);
		if (rc == -EINTR)
			return rc;
		mdm_counter_add_shared(&pb->stats.failed, 1);
		__atomic_store_n(&pb->stats.last_failed_seq, e->seq, __ATOMIC_RELAXED);
		mdm_log_warn("publish of %s refused: %s", msg_id, mdm_err_last());
		record_latency(pb, decode_ns, 0);
		return 0;
	}
	if (token == 1)
		__atomic_store_n(&pb->stats.first_rx_ns, e->rx_ts_ns, __ATOMIC_RELAXED);
	publish_inflight_commit(pb, 1);
	mdm_counter_add(&pb->stats.published, 1);
	mdm_counter_add(&pb->stats.by_type[m.type], 1);
	record_latency(pb, decode_ns, now > e->rx_ts_ns + e->decode_ns ? now - e->rx_ts_ns - e->decode_ns : 0);
	return 0;

encode_error:
	mdm_counter_add(&pb->stats.encode_errors, 1);
	return 0;
}

/* Nothing waits in event mode: every record is published as it comes. */
static int event_nothing_pending(struct publish *pb)
{
	(void)pb;
	return 0;
}

static void event_stop(struct publish *pb)
{
	(void)pb;
}

const struct publish_mode_ops publish_event_ops = {
	.name = "event",
	.take = event_take,
	.poll = event_nothing_pending,
	.finish = event_nothing_pending,
	.stop = event_stop,
};
