/* ring.full_policy drop: the publisher keeps the RX -> publisher ring from
 * filling while the bus refuses publishes, dropping the OLDEST queued events
 * (publish.h), each run of consecutive sequences counted as one range. */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mdm_counter.h"
#include "publish_impl.h"

void publish_drop_init(struct publish *pb, bool drop_when_full)
{
	uint32_t cap, margin;

	pb->shed_high = pb->shed_low = 0;
	if (!drop_when_full)
		return;
	/* Room for RX's largest flush (a burst of full packets, ~2k events)
	 * between two checks of the publisher, at least 1/8 of the ring;
	 * half the ring freed per shed, so a long outage is a few ranges. */
	cap = rte_ring_get_capacity(pb->ring);
	margin = cap / 8;
	if (margin < 4096)
		margin = cap / 4 < 4096 ? cap / 4 : 4096;
	pb->shed_high = cap - margin;
	pb->shed_low = cap / 2;
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
void publish_shed_check(struct publish *pb)
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
		unsigned views = 0;

		for (unsigned i = 0; i < n; i++) {
			/* a market view is no event: not in the account, nor in a range */
			if (pb->shed[i].flags & RX_EV_VIEWS)
				views++;
			else
				drop_record(pb, &pb->shed[i]);
		}
		mdm_counter_add(&pb->stats.dequeued, n);
		mdm_counter_add(&pb->stats.view_records, views);
		mdm_counter_add(&pb->stats.views_errors, views);
		mdm_counter_add(&pb->stats.dropped_full, n - views);
		used -= n;
	}
}
