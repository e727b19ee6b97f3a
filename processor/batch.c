/* One worker batch: decode once -> begin -> stages -> dead letters -> audit
 * row -> commit -> ack (or rollback -> nak with delay). The order matters:
 * dead letters are stored before the commit so the audit row's counts are
 * true once committed, and nothing is acked before the commit returned 0. */
#include "batch.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "arena.h"
#include "dlq.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_latency.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "processor_cfg.h"
#include "store.h"

#define AUDIT_CONTENT_TYPE "application/protobuf; proto=mdmesh.v1.AuditRecord"

/* Why a batch failed, for the counters. */
enum fail_kind { FAIL_STORE, FAIL_STAGE, FAIL_DLQ };

static void inc(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static void *batch_alloc(void *arena, size_t len)
{
	return arena_alloc(arena, len);
}

/* A retryable error says "our side is unavailable"; everything else is a bug
 * or bad data in a stage, logged louder. Both nak the batch. */
static bool retryable(int rc)
{
	return rc == -EAGAIN || rc == -ECONNRESET || rc == -ENOSPC || rc == -ENOTCONN || rc == -ETIMEDOUT;
}

static struct mdm_stage_item *item_add(struct worker *w, size_t *n)
{
	if (*n == w->items_cap) {
		size_t cap = w->items_cap ? w->items_cap * 2 : 256;
		struct mdm_stage_item *it = mdm_realloc(w->items, cap * sizeof(*it));

		if (!it)
			return NULL;
		w->items = it;
		w->items_cap = cap;
	}
	memset(&w->items[*n], 0, sizeof(w->items[*n]));
	return &w->items[(*n)++];
}

static bool batch_subject(const char *subject)
{
	return strncmp(subject, "mdb.", 4) == 0;
}

static void record_bus(struct worker *w, const Mdmesh__V1__MarketEvent *ev, uint64_t fetch_real_ns)
{
	if (ev && ev->header && ev->header->pub_ts_ns && fetch_real_ns >= ev->header->pub_ts_ns)
		mdm_lat_record(w->lat, WORKER_LAT_BUS, (int64_t)(fetch_real_ns - ev->header->pub_ts_ns));
}

/* Decode every message into items. -ENOMEM when memory ran out (the batch is
 * retried: a payload is only called undecodable when memory was not short). */
static int decode(struct worker *w, size_t n_msgs, size_t *n_items)
{
	ProtobufCAllocator *pa = arena_pb_allocator(w->arena);
	size_t n = 0;
	int64_t lat_entered = mdm_lat_enter(w->lat);

	for (size_t i = 0; i < n_msgs; i++) {
		struct mdm_bus_msg *m = w->batch[i].msg;
		const uint8_t *data = mdm_bus_msg_data(m);
		size_t len = mdm_bus_msg_len(m);
		const char *subject = mdm_bus_msg_subject(m);
		struct mdm_bus_msg_meta meta;
		struct mdm_stage_item *it;

		if (mdm_bus_msg_meta(m, &meta) != 0)
			memset(&meta, 0, sizeof(meta));
		w->info[i] = (struct batch_info){ .stream_seq = meta.stream_seq, .delivered = meta.delivered };
		if (batch_subject(subject)) {
			Mdmesh__V1__EventBatch *eb = mdmesh__v1__event_batch__unpack(pa, len, data);

			if (!eb && arena_failed(w->arena))
				goto oom;
			for (size_t e = 0; eb && e < eb->n_events; e++) {
				if (!(it = item_add(w, &n)))
					goto oom;
				*it = (struct mdm_stage_item){ .ev = eb->events[e], .subject = subject,
							       .stream_seq = meta.stream_seq, .delivered = meta.delivered,
							       .msg = (uint32_t)i, .index = (uint32_t)e + 1 };
				record_bus(w, eb->events[e], w->batch[i].fetch_real_ns);
			}
			if (eb && eb->n_events > 0)
				continue;
			if (!(it = item_add(w, &n)))
				goto oom;
			*it = (struct mdm_stage_item){ .subject = subject, .payload = data, .payload_len = len,
						       .stream_seq = meta.stream_seq, .delivered = meta.delivered,
						       .msg = (uint32_t)i,
						       .verdict = eb ? MDM_STAGE_SKIP : MDM_STAGE_DEAD,
						       .reason = eb ? "empty_batch" : "decode_error" };
			continue;
		}
		if (!(it = item_add(w, &n)))
			goto oom;
		*it = (struct mdm_stage_item){ .subject = subject, .payload = data, .payload_len = len,
					       .stream_seq = meta.stream_seq, .delivered = meta.delivered,
					       .msg = (uint32_t)i };
		it->ev = mdmesh__v1__market_event__unpack(pa, len, data);
		if (!it->ev) {
			if (arena_failed(w->arena))
				goto oom;
			it->verdict = MDM_STAGE_DEAD;
			it->reason = "decode_error";
			inc(&w->stats.decode_errors, 1);
		}
		record_bus(w, it->ev, w->batch[i].fetch_real_ns);
	}
	mdm_lat_exit(w->lat, lat_entered);
	*n_items = n;
	return 0;
oom:
	mdm_lat_exit(w->lat, lat_entered);
	return mdm_err_set(-ENOMEM, "decode: out of memory");
}

/* Store every dead letter of the batch before the commit. An EventBatch
 * member is re-encoded (its own bytes are not separable from the batch). */
static int dead_letters(struct worker *w, const struct mdm_stage_item *items, size_t n)
{
	const struct worker_params *p = worker_pool_params(w->pool);

	for (size_t i = 0; i < n; i++) {
		const struct mdm_stage_item *it = &items[i];
		const void *payload = it->payload;
		size_t len = it->payload_len;
		int rc;

		if (it->verdict != MDM_STAGE_DEAD || !p->publish_dead_letters)
			continue;
		if (!payload && it->ev) {
			len = mdmesh__v1__market_event__get_packed_size(it->ev);
			payload = arena_alloc(w->arena, len ? len : 1);
			if (!payload)
				return mdm_err_set(-ENOMEM, "dead letter: out of memory");
			mdmesh__v1__market_event__pack(it->ev, (uint8_t *)payload);
		}
		rc = dlq_publish(p->dlq, it->subject, it->stream_seq, it->index, it->delivered, it->reason, payload, len);
		if (rc != 0)
			return mdm_err_set(rc, "dead letter of %s seq %" PRIu64 ": %s", it->subject, it->stream_seq,
					   mdm_err_last());
	}
	return 0;
}

static void audit_publish(struct worker *w, const struct store_audit *a)
{
	const struct worker_params *p = worker_pool_params(w->pool);
	Mdmesh__V1__AuditRecord ar = MDMESH__V1__AUDIT_RECORD__INIT;
	char msg_id[192];
	size_t len;
	int rc;

	ar.component = (char *)a->component;
	ar.instance = (char *)a->instance;
	ar.first_stream_seq = a->first_stream_seq;
	ar.last_stream_seq = a->last_stream_seq;
	ar.total = a->total;
	ar.ok = a->ok;
	ar.dead_lettered = a->dead_lettered;
	ar.skipped = a->skipped;
	ar.commit_ts_ns = a->commit_ts_ns;
	ar.commit_duration_ns = a->commit_duration_ns;
	ar.worker = a->worker;
	len = mdmesh__v1__audit_record__get_packed_size(&ar);
	mdm_buf_reset(&w->scratch);
	if (mdm_buf_reserve(&w->scratch, len) != 0) {
		__atomic_add_fetch(&w->pool_stats->async_failed, 1, __ATOMIC_RELAXED);
		return;
	}
	mdmesh__v1__audit_record__pack(&ar, (uint8_t *)w->scratch.data);
	snprintf(msg_id, sizeof(msg_id), "audit.%s.%u.%" PRIu64 ".%" PRIu64, a->instance, a->worker, a->commit_ts_ns,
		 a->first_stream_seq);
	/* -EAGAIN is back-pressure: wait a little, it is once per batch. */
	for (int tries = 0; tries < 50; tries++) {
		rc = mdm_bus_publish_async(p->bus, p->cfg->audit_subject, msg_id, AUDIT_CONTENT_TYPE, w->scratch.data,
					   len, ++w->audit_seq);
		if (rc != -EAGAIN)
			break;
		mdm_sleep_ns(2 * MDM_NS_PER_MS);
	}
	if (rc != 0) {
		__atomic_add_fetch(&w->pool_stats->async_failed, 1, __ATOMIC_RELAXED);
		mdm_log_warn("audit record of batch %" PRIu64 "-%" PRIu64 " not published: %s", a->first_stream_seq,
			     a->last_stream_seq, mdm_err_last());
	}
}

static void stages_done(struct worker *w, struct mdm_stage_batch *b, bool committed)
{
	const struct worker_params *p = worker_pool_params(w->pool);

	for (size_t s = 0; s < p->n_stages; s++)
		if (p->stages[s].ops->done)
			p->stages[s].ops->done(w->stage_ctx[s], b, committed);
}

/* Failure path: rollback, nak every message with a delay by its delivery
 * count, free. `b` is NULL before the stages saw the batch. */
static int batch_fail(struct worker *w, struct mdm_stage_batch *b, size_t n_msgs, bool begun, int rc,
		      enum fail_kind kind, const char *what)
{
	const struct worker_params *p = worker_pool_params(w->pool);
	const struct processor_cfg *cfg = p->cfg;
	uint64_t failures = __atomic_load_n(&w->stats.consecutive_failures, __ATOMIC_RELAXED) + 1;
	char why[256];

	snprintf(why, sizeof(why), "%s", mdm_err_last());
	if (begun && p->store_ops->rollback(w->store) != 0)
		mdm_log_debug("worker %u: rollback: %s", w->id, mdm_err_last());
	if (b)
		stages_done(w, b, false);
	for (size_t i = 0; i < n_msgs; i++) {
		uint64_t delay_ns = worker_nak_delay_ns(cfg->nak_delay_ns, cfg->n_nak_delays, w->info[i].delivered);

		if (mdm_bus_nak_delay(w->batch[i].msg, delay_ns / MDM_NS_PER_MS) != 0)
			inc(&w->stats.ack_errors, 1);
		mdm_bus_msg_free(w->batch[i].msg);
		w->batch[i].msg = NULL;
	}
	inc(&w->stats.naks, n_msgs);
	inc(&w->stats.failed_batches, 1);
	inc(kind == FAIL_STORE ? &w->stats.store_errors : kind == FAIL_STAGE ? &w->stats.stage_errors
									       : &w->stats.dlq_errors, 1);
	__atomic_store_n(&w->stats.consecutive_failures, failures, __ATOMIC_RELAXED);
	/* One line per failure streak, then every 100th: the counters carry the rest. */
	if (failures == 1 || failures % 100 == 0) {
		if (retryable(rc) || kind != FAIL_STAGE)
			mdm_log_warn("worker %u: %s failed (%s), %zu messages naked for redelivery (failure %" PRIu64
				     " in a row)", w->id, what, why, n_msgs, failures);
		else
			mdm_log_error("worker %u: %s: %s; %zu messages naked", w->id, what, why, n_msgs);
	}
	worker_pool_done_msgs(w->pool, n_msgs);
	return rc;
}

int batch_run(struct worker *w, size_t n_msgs)
{
	const struct worker_params *p = worker_pool_params(w->pool);
	const struct store_ops *so = p->store_ops;
	uint64_t t0 = mdm_mono_ns(), t_commit, t_done, commit_real;
	struct mdm_stage_batch b = { 0 };
	struct store_audit audit = { 0 };
	size_t n_items = 0;
	int64_t lat_entered;
	int rc;

	arena_reset(w->arena);
	rc = decode(w, n_msgs, &n_items);
	if (rc != 0)
		return batch_fail(w, NULL, n_msgs, false, rc, FAIL_STAGE, "decode");
	b = (struct mdm_stage_batch){ .items = w->items, .n = n_items, .store_ops = so, .store = w->store,
				      .worker = w->id, .now_ns = mdm_real_ns(), .alloc = batch_alloc,
				      .arena = w->arena };
	rc = so->begin(w->store);
	if (rc != 0)
		return batch_fail(w, NULL, n_msgs, false, rc, FAIL_STORE, "store begin");
	for (size_t s = 0; s < p->n_stages; s++) {
		rc = p->stages[s].ops->process(w->stage_ctx[s], &b);
		if (rc != 0)
			return batch_fail(w, &b, n_msgs, true, rc, retryable(rc) ? FAIL_STORE : FAIL_STAGE,
					  p->stages[s].ops->name);
	}
	for (size_t s = 0; s < p->n_stages; s++) {
		if (!p->stages[s].ops->flush)
			continue;
		rc = p->stages[s].ops->flush(w->stage_ctx[s], &b);
		if (rc != 0)
			return batch_fail(w, &b, n_msgs, true, rc, retryable(rc) ? FAIL_STORE : FAIL_STAGE,
					  p->stages[s].ops->name);
	}
	rc = dead_letters(w, w->items, n_items);
	if (rc != 0)
		return batch_fail(w, &b, n_msgs, true, rc, FAIL_DLQ, "dead-letter publish");

	audit.component = "processor";
	audit.instance = p->cfg->instance;
	audit.worker = w->id;
	audit.first_stream_seq = UINT64_MAX;
	for (size_t i = 0; i < n_msgs; i++) {
		if (w->info[i].stream_seq < audit.first_stream_seq)
			audit.first_stream_seq = w->info[i].stream_seq;
		if (w->info[i].stream_seq > audit.last_stream_seq)
			audit.last_stream_seq = w->info[i].stream_seq;
	}
	audit.total = n_items;
	for (size_t i = 0; i < n_items; i++) {
		audit.ok += w->items[i].verdict == MDM_STAGE_PASS;
		audit.dead_lettered += w->items[i].verdict == MDM_STAGE_DEAD;
		audit.skipped += w->items[i].verdict == MDM_STAGE_SKIP;
	}
	/* The row is part of the transaction, so it can only carry the time the
	 * commit was issued and how long the transaction ran until then; the
	 * published record carries the same values (the commit's own latency is
	 * in the commit histogram). */
	t_commit = mdm_mono_ns();
	audit.commit_ts_ns = commit_real = mdm_real_ns();
	audit.commit_duration_ns = t_commit - t0;
	rc = so->put_audit(w->store, &audit);
	if (rc != 0)
		return batch_fail(w, &b, n_msgs, true, rc, FAIL_STORE, "audit row");
	rc = so->commit(w->store);
	if (rc != 0)
		return batch_fail(w, &b, n_msgs, true, rc, FAIL_STORE, "commit");
	t_done = mdm_mono_ns();
	commit_real += t_done - t_commit;
	stages_done(w, &b, true);

	for (size_t i = 0; i < n_msgs; i++) {
		if (mdm_bus_ack(w->batch[i].msg) != 0)
			inc(&w->stats.ack_errors, 1);
		mdm_bus_msg_free(w->batch[i].msg);
		w->batch[i].msg = NULL;
	}
	worker_pool_done_msgs(w->pool, n_msgs);

	lat_entered = mdm_lat_enter(w->lat);
	mdm_lat_record(w->lat, WORKER_LAT_PROCESS, (int64_t)(t_commit - t0));
	mdm_lat_record(w->lat, WORKER_LAT_COMMIT, (int64_t)(t_done - t_commit));
	for (size_t i = 0; i < n_items; i++) {
		const Mdmesh__V1__MarketEvent *ev = w->items[i].ev;

		if (w->items[i].verdict == MDM_STAGE_PASS && ev && ev->header && ev->header->rx_ts_ns &&
		    commit_real >= ev->header->rx_ts_ns)
			mdm_lat_record(w->lat, WORKER_LAT_E2E, (int64_t)(commit_real - ev->header->rx_ts_ns));
	}
	mdm_lat_exit(w->lat, lat_entered);

	inc(&w->stats.batches, 1);
	inc(&w->stats.messages, n_msgs);
	inc(&w->stats.events, n_items);
	inc(&w->stats.ok, audit.ok);
	inc(&w->stats.dead_lettered, audit.dead_lettered);
	inc(&w->stats.skipped, audit.skipped);
	__atomic_store_n(&w->stats.consecutive_failures, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&w->stats.last_commit_ns, commit_real, __ATOMIC_RELAXED);
	audit_publish(w, &audit);
	return 0;
}
