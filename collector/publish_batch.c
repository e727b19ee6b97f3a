/* publish.mode batch: records are packed into EventBatch messages on
 * mdb.<feed>.<partition>, partition = FNV-1a(symbol) % partitions, one batch
 * per partition and sequence window; batch_cut.h decides where batches end
 * (publish.h states the rules), this file packs, times and publishes them. */
#include <errno.h>
#include <string.h>

#include "batch_cut.h"
#include "evbatch.h"
#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "publish_impl.h"

#define CONTENT_TYPE_BATCH "application/protobuf; proto=mdmesh.v1.EventBatch"

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

/* Batch mode memory, all of it now: one packing buffer and one bookkeeping
 * array per partition (publish.c sizes the in-flight event table). */
int publish_batch_init(struct publish *pb, const struct publish_params *p)
{
	size_t bufsz = evbatch_buffer_size(p->batch_max_events, ENCODE_MAX_EVENT_LEN, ENCODE_FEED_MAX);
	int rc;

	if (p->partitions == 0 || p->partitions > 1024 || p->batch_max_events == 0)
		return mdm_err_set(-EINVAL, "publish: batch mode needs 1..1024 partitions and batch_max_events > 0");
	pb->delay_flush = p->batch_delay_flush;
	pb->batch_events = p->batch_max_events;
	pb->n_parts = p->partitions;
	pb->max_delay_ns = p->batch_max_delay_ns;
	pb->next_deadline = UINT64_MAX;
	pb->parts = mdm_calloc(p->partitions, sizeof(*pb->parts));
	pb->live = mdm_calloc(p->partitions, sizeof(*pb->live));
	pb->part_mem = mdm_calloc(p->partitions, bufsz);
	if (!pb->parts || !pb->live || !pb->part_mem)
		return -ENOMEM;
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

void publish_batch_fini(struct publish *pb)
{
	for (uint32_t i = 0; pb->parts && i < pb->n_parts; i++)
		mdm_free(pb->parts[i].ev);
	mdm_free(pb->parts);
	mdm_free(pb->live);
	mdm_free(pb->part_mem);
}

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
	uint64_t token, now;
	uint32_t n = pt->b.n;
	int64_t entered;
	int rc;

	if (publish_inflight_wait(pb, n) != 0)
		goto stopped;
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
		publish_inflight_set_origin(pb, i, pe->rx_ns);
	}
	mdm_lat_exit(pb->lat_pub, entered);
	/* in flight before no longer batched: the account never misses them */
	token = publish_inflight_arm(pb, now, n);
	rc = publish_bus(pb, subject, msg_id, CONTENT_TYPE_BATCH, pt->b.buf, pt->b.len, token);
	if (rc != 0) {
		publish_inflight_disarm(pb, n);
		if (rc == -EINTR)
			goto stopped;
		mdm_counter_add_shared(&pb->stats.failed, n);
		__atomic_store_n(&pb->stats.last_failed_seq, pt->cut.last_seq, __ATOMIC_RELAXED);
		mdm_log_warn("publish of %s refused: %s", msg_id, mdm_err_last());
		part_reset(pb, pt);
		return 0;
	}
	if (token == 1)
		__atomic_store_n(&pb->stats.first_rx_ns, pt->ev[0].rx_ns, __ATOMIC_RELAXED);
	publish_inflight_commit(pb, n);
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
static int batch_poll(struct publish *pb)
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
static int batch_take(struct publish *pb, const struct rx_event *e)
{
	char symbol[SYMBOLS_TEXT_MAX + 1], session[11];
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
	if (publish_encode(pb, e, mdm_real_ns(), &m, symbol, session, &len) != 0) {
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
		uint64_t origin = publish_latency_origin(pb, e, &m, &dec);

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

/* End of input: every batch is complete. */
static int batch_finish(struct publish *pb)
{
	return parts_flush(pb, NULL, 0, false);
}

/* Forced stop: events waiting in batches are not published. */
static void batch_stop(struct publish *pb)
{
	parts_flush(pb, NULL, 0, true);
}

const struct publish_mode_ops publish_batch_ops = {
	.name = "batch",
	.take = batch_take,
	.poll = batch_poll,
	.finish = batch_finish,
	.stop = batch_stop,
};
