/* The publisher's in-flight table and ack handler. Each published message
 * holds a slot in a power-of-two table indexed by its token (a running
 * count), so the ack handler, which runs on nats.c's threads, finds the
 * message's timestamps without a lookup structure or a lock on the publish
 * path. Its events' latency origins sit in a second power-of-two table
 * indexed by a running event count (a message takes a contiguous run of it:
 * one entry in event mode, a batch's worth in batch mode), so the ack records
 * wire_to_ack per event in both modes alike. */
#include <errno.h>

#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "publish_impl.h"

#define SLOT_WAIT_NS (20 * MDM_NS_PER_US)

int publish_inflight_init(struct publish *pb, uint32_t max_in_flight, uint64_t ev_min)
{
	uint32_t n = 1;
	uint64_t ev_cap = 1;

	while (n < max_in_flight)
		n <<= 1;
	/* at least one entry per slot: in event mode the tables move in step,
	 * so a free slot always finds its entry free */
	while (ev_cap < n || ev_cap < ev_min)
		ev_cap <<= 1;
	pb->slots = mdm_calloc(n, sizeof(*pb->slots));
	pb->ev_rx = mdm_calloc(ev_cap, sizeof(*pb->ev_rx));
	if (!pb->slots || !pb->ev_rx)
		return -ENOMEM;
	pb->slot_mask = n - 1;
	pb->ev_mask = ev_cap - 1;
	pb->next_token = 1;
	return 0;
}

void publish_inflight_fini(struct publish *pb)
{
	mdm_free(pb->ev_rx);
	mdm_free(pb->slots);
}

int publish_wait_below(struct publish *pb, const uint64_t *p, uint64_t limit)
{
	while (__atomic_load_n(p, __ATOMIC_ACQUIRE) >= limit) {
		/* what holds it is still unacked: wait for its ack */
		mdm_counter_add(&pb->stats.slot_waits, 1);
		if (publish_aborting(pb))
			return -EINTR;
		publish_shed_check(pb);
		mdm_sleep_ns(SLOT_WAIT_NS);
	}
	return 0;
}

int publish_inflight_wait(struct publish *pb, uint32_t n)
{
	/* a slot or entry is free when 0: below 1 */
	if (publish_wait_below(pb, &pb->slots[pb->next_token & pb->slot_mask].token, 1) != 0)
		return -EINTR;
	/* the event table's entries are reused in order: wait for the events
	 * that had them (acks come in any order) */
	for (uint32_t i = 0; i < n; i++)
		if (publish_wait_below(pb, &pb->ev_rx[(pb->next_ev + i) & pb->ev_mask], 1) != 0)
			return -EINTR;
	return 0;
}

uint64_t publish_inflight_arm(struct publish *pb, uint64_t pub_ns, uint32_t n)
{
	uint64_t token = pb->next_token;
	struct slot *s = &pb->slots[token & pb->slot_mask];

	s->pub_ns = pub_ns;
	s->ev_first = pb->next_ev;
	s->n_events = n;
	__atomic_store_n(&s->token, token, __ATOMIC_RELEASE);
	/* in flight before the caller stops counting them elsewhere (batched):
	 * the account never misses them */
	__atomic_fetch_add(&pb->in_flight, n, __ATOMIC_RELAXED);
	return token;
}

void publish_inflight_disarm(struct publish *pb, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		pb->ev_rx[(pb->next_ev + i) & pb->ev_mask] = 0;
	__atomic_store_n(&pb->slots[pb->next_token & pb->slot_mask].token, 0, __ATOMIC_RELEASE);
	__atomic_fetch_sub(&pb->in_flight, n, __ATOMIC_RELAXED);
}

/* Ack handler: runs on nats.c / bus threads, possibly two at once. */
void publish_on_ack(void *ctx, const struct mdm_bus_ack *ack)
{
	struct publish *pb = ctx;
	struct slot *s = &pb->slots[ack->token & pb->slot_mask];
	uint64_t now = mdm_real_ns();
	/* the slot is ours until we free it: the publisher waits for token 0 */
	bool mine = __atomic_load_n(&s->token, __ATOMIC_ACQUIRE) == ack->token;
	uint64_t n = mine ? s->n_events : 1;

	__atomic_store_n(&pb->stats.last_ack_ns, now, __ATOMIC_RELAXED);
	if (mine && s->view) {
		/* a market view: its own counters, no event in it */
		mdm_counter_add_shared(ack->result == MDM_BUS_ACK_STORED	 ? &pb->stats.views_stored
				       : ack->result == MDM_BUS_ACK_DUPLICATE ? &pb->stats.views_duplicates
									      : &pb->stats.views_failed,
				       1);
		if (ack->result == MDM_BUS_ACK_FAILED)
			mdm_log_warn("publish of %s failed after %u attempts: %s", ack->msg_id, ack->attempts, ack->reason);
		s->view = false;
		__atomic_fetch_sub(&pb->views_acked_out, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&s->token, 0, __ATOMIC_RELEASE);
		return;
	}
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

		if (ok)
			mdm_lat_record_n(pb->lat_ack, STAGE_PUBLISH_TO_ACK, (int64_t)(now - s->pub_ns), n);
		for (uint64_t i = 0; i < n; i++) {
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
