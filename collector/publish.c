/* Publisher lcore. Each published event holds a slot in a power-of-two table
 * indexed by its token (a running count), so the ack handler, which runs on
 * nats.c's threads, finds the event's timestamps without a lookup structure
 * or a lock on the publish path. */
#include "publish.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "encode.h"
#include "itch.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_et.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_poll.h"
#include "rx_event.h"
#include "subject.h"

#define PUB_BURST 32
#define CONTENT_TYPE "application/protobuf; proto=mdmesh.v1.MarketEvent"

const char *const publish_stage_names[STAGE_COUNT] = {
	"wire_to_decoded", "decoded_to_publish", "publish_to_ack", "wire_to_ack",
};

/* One in-flight event. `token` is 0 when the slot is free. */
struct slot {
	uint64_t token;
	uint64_t pub_ns;
	uint64_t rx_ns;
};

struct publish {
	struct publish_stats stats;
	struct rte_ring *ring;
	struct mdm_bus *bus;
	struct encoder *enc;
	char feed[ENCODE_FEED_MAX + 1];
	char prefix[16];
	uint32_t session_date;
	struct mdm_idle idle;
	bool finishing;
	bool aborting;
	uint64_t next_token;   /* starts at 1: token 0 marks a free slot */
	uint64_t in_flight;
	uint32_t slot_mask;
	struct slot *slots;
	pthread_mutex_t lat_lock;
	struct mdm_hdr *lat[STAGE_COUNT];
	struct rx_event burst[PUB_BURST];
	uint8_t buf[ENCODE_MAX_EVENT_LEN];
};

static inline void stat_add(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

/* Ack handler: runs on nats.c / bus threads, possibly two at once. */
static void on_ack(void *ctx, const struct mdm_bus_ack *ack)
{
	struct publish *pb = ctx;
	struct slot *s = &pb->slots[ack->token & pb->slot_mask];
	uint64_t now = mdm_real_ns();

	__atomic_store_n(&pb->stats.last_ack_ns, now, __ATOMIC_RELAXED);
	switch (ack->result) {
	case MDM_BUS_ACK_STORED: stat_add(&pb->stats.stored, 1); break;
	case MDM_BUS_ACK_DUPLICATE: stat_add(&pb->stats.duplicates, 1); break;
	default:
		stat_add(&pb->stats.failed, 1);
		mdm_log_warn("publish of %s failed after %u attempts: %s", ack->msg_id, ack->attempts, ack->reason);
		break;
	}
	if (__atomic_load_n(&s->token, __ATOMIC_ACQUIRE) == ack->token) {
		if (ack->result != MDM_BUS_ACK_FAILED) {
			pthread_mutex_lock(&pb->lat_lock);
			mdm_hdr_record(pb->lat[STAGE_PUBLISH_TO_ACK], (int64_t)(now - s->pub_ns));
			mdm_hdr_record(pb->lat[STAGE_WIRE_TO_ACK], (int64_t)(now - s->rx_ns));
			pthread_mutex_unlock(&pb->lat_lock);
		}
		__atomic_store_n(&s->token, 0, __ATOMIC_RELEASE);
	}
	__atomic_fetch_sub(&pb->in_flight, 1, __ATOMIC_RELAXED);
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
	for (int i = 0; rc == 0 && i < STAGE_COUNT; i++)
		rc = mdm_hdr_create(&pb->lat[i], 1, 3600LL * 1000000000LL, 3);
	if (rc != 0) {
		publish_destroy(pb);
		return rc;
	}
	pthread_mutex_init(&pb->lat_lock, NULL);
	pb->slot_mask = n - 1;
	pb->ring = p->ring;
	pb->bus = p->bus;
	snprintf(pb->feed, sizeof(pb->feed), "%s", p->feed);
	snprintf(pb->prefix, sizeof(pb->prefix), "%s", p->subject_prefix);
	pb->session_date = p->session_date;
	pb->next_token = 1;
	mdm_idle_init(&pb->idle, p->idle_spin, p->idle_sleep_us);
	mdm_bus_set_ack_handler(p->bus, on_ack, pb);
	*out = pb;
	return 0;
}

void publish_destroy(struct publish *pb)
{
	if (!pb)
		return;
	for (int i = 0; i < STAGE_COUNT; i++)
		mdm_hdr_destroy(pb->lat[i]);
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
	return __atomic_load_n(&pb->in_flight, __ATOMIC_RELAXED);
}

void publish_latency_take(struct publish *pb, struct mdm_hdr *const *out)
{
	pthread_mutex_lock(&pb->lat_lock);
	for (int i = 0; i < STAGE_COUNT; i++) {
		mdm_hdr_add(out[i], pb->lat[i]);
		mdm_hdr_reset(pb->lat[i]);
	}
	pthread_mutex_unlock(&pb->lat_lock);
}

/* Publish one record. Returns 0, or -EINTR when a stop interrupted the wait
 * for a slot or for the bus window (the record is then not published). */
static int publish_one(struct publish *pb, const struct rx_event *e, uint64_t *decode_ns, uint64_t *queue_ns)
{
	char subject[SUBJECT_MAX], msg_id[MSGID_MAX], symbol[9], session[11];
	struct itch_msg m;
	struct encode_order order;
	struct encode_meta meta = { .seq = e->seq, .rx_ts_ns = e->rx_ts_ns, .wire_ts_ns = e->wire_ts_ns,
				    .session_date = pb->session_date };
	uint64_t token = pb->next_token, now;
	struct slot *s = &pb->slots[token & pb->slot_mask];
	size_t len;
	int rc;

	memcpy(symbol, e->symbol, 8);
	symbol[8] = '\0';
	memcpy(session, e->session, 10);
	session[10] = '\0';
	meta.symbol = symbol;
	meta.session = session;
	if (e->flags & RX_EV_ORDER) {
		order.known = e->flags & RX_EV_ORDER_KNOWN;
		order.side = e->order_side;
		order.price = e->order_price;
		order.remaining_shares = e->order_remaining;
		order.ref = e->order_ref;
		meta.order = &order;
	}
	if (unlikely(pb->session_date == 0)) {
		/* no configured date: the trading date of the first packet, by its
		 * capture time (replays) or receive time (live) */
		pb->session_date = mdm_et_date(e->wire_ts_ns ? e->wire_ts_ns : e->rx_ts_ns);
		meta.session_date = pb->session_date;
		mdm_log_info("session date %u (US/Eastern date of the first packet)", pb->session_date);
	}
	/* the RX core decoded these bytes already; this only rebuilds the view */
	if (itch_decode(e->msg, e->len, &m) != ITCH_OK)
		goto encode_error;
	while (__atomic_load_n(&s->token, __ATOMIC_ACQUIRE) != 0) {
		/* the event that had this slot is still unacked: wait for it */
		stat_add(&pb->stats.slot_waits, 1);
		if (aborting(pb))
			return -EINTR;
		mdm_sleep_ns(20 * MDM_NS_PER_US);
	}
	now = mdm_real_ns();
	meta.pub_ts_ns = now;
	if (encode_event(pb->enc, &m, &meta, pb->buf, sizeof(pb->buf), &len) != 0)
		goto encode_error;
	if (subject_event(subject, sizeof(subject), pb->prefix, pb->feed, (char)m.type, symbol) < 0 ||
	    subject_msg_id(msg_id, sizeof(msg_id), pb->feed, session, e->seq) < 0)
		goto encode_error;
	s->pub_ns = now;
	s->rx_ns = e->rx_ts_ns;
	__atomic_store_n(&s->token, token, __ATOMIC_RELEASE);
	__atomic_fetch_add(&pb->in_flight, 1, __ATOMIC_RELAXED);
	for (;;) {
		rc = mdm_bus_publish_async(pb->bus, subject, msg_id, CONTENT_TYPE, pb->buf, len, token);
		if (rc != -EAGAIN)
			break;
		/* window full or reconnecting: back-pressure, never a silent drop */
		stat_add(&pb->stats.stalls, 1);
		if (aborting(pb)) {
			rc = -EINTR;
			break;
		}
	}
	if (rc != 0) {
		__atomic_store_n(&s->token, 0, __ATOMIC_RELEASE);
		__atomic_fetch_sub(&pb->in_flight, 1, __ATOMIC_RELAXED);
		if (rc == -EINTR)
			return rc;
		stat_add(&pb->stats.failed, 1);
		__atomic_store_n(&pb->stats.last_failed_seq, e->seq, __ATOMIC_RELAXED);
		mdm_log_warn("publish of %s refused: %s", msg_id, mdm_err_last());
		return 0;
	}
	if (pb->next_token == 1)
		__atomic_store_n(&pb->stats.first_rx_ns, e->rx_ts_ns, __ATOMIC_RELAXED);
	pb->next_token++;
	stat_add(&pb->stats.published, 1);
	stat_add(&pb->stats.by_type[m.type], 1);
	*decode_ns = e->decode_ns;
	*queue_ns = now > e->rx_ts_ns + e->decode_ns ? now - e->rx_ts_ns - e->decode_ns : 0;
	return 0;

encode_error:
	stat_add(&pb->stats.encode_errors, 1);
	return 0;
}

int publish_lcore_main(void *arg)
{
	struct publish *pb = arg;
	uint64_t dec[PUB_BURST], queue[PUB_BURST];

	while (!aborting(pb)) {
		unsigned n = rte_ring_sc_dequeue_burst_elem(pb->ring, pb->burst, sizeof(struct rx_event), PUB_BURST,
							    NULL);
		unsigned done = 0;

		if (n == 0) {
			if (aborting(pb) ||
			    (__atomic_load_n(&pb->finishing, __ATOMIC_ACQUIRE) && rte_ring_empty(pb->ring)))
				break;
			mdm_idle_wait(&pb->idle);
			continue;
		}
		mdm_idle_reset(&pb->idle);
		stat_add(&pb->stats.dequeued, n);
		for (unsigned i = 0; i < n; i++) {
			dec[done] = queue[done] = 0;
			if (publish_one(pb, &pb->burst[i], &dec[done], &queue[done]) == -EINTR) {
				/* forced stop: what was taken off the ring unpublished is counted */
				stat_add(&pb->stats.dropped_at_stop, n - i);
				break;
			}
			done++;
		}
		pthread_mutex_lock(&pb->lat_lock);
		for (unsigned i = 0; i < done; i++) {
			if (dec[i] || queue[i]) {
				mdm_hdr_record(pb->lat[STAGE_WIRE_TO_DECODED], (int64_t)dec[i]);
				mdm_hdr_record(pb->lat[STAGE_DECODED_TO_PUBLISH], (int64_t)queue[i]);
			}
		}
		pthread_mutex_unlock(&pb->lat_lock);
	}
	return 0;
}
