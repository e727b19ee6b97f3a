/* One worker batch: decode once -> begin -> stages -> dead letters -> audit
 * row -> commit -> ack (or rollback -> nak with delay). The order matters:
 * dead letters are stored before the commit so the audit row's counts are
 * true once committed, and nothing is acked before the commit returned 0. */
#include "batch.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "arena.h"
#include "dlq.h"
#include "mdm_buf.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_latency.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "processor_cfg.h"
#include "store.h"

#define AUDIT_CONTENT_TYPE "application/protobuf; proto=mdmesh.v1.AuditRecord"
/* How long an audit record may wait for room in the publish window: once per
 * batch, so a short wait (the budget of the former 50 x 2 ms retries). */
#define AUDIT_PUBLISH_WAIT_NS (100 * MDM_NS_PER_MS)

/* What batch_run learnt about each message of the batch. */
struct batch_info {
	uint64_t stream_seq;
	uint64_t delivered;
};

struct batch {
	struct batch_params p;            /* stages: the caller's array (borrowed) */
	struct worker_stats *stats;       /* == p.stats */
	struct batch_msg *slots;          /* p.max_msgs, filled by the caller */
	struct batch_info *info;          /* p.max_msgs entries */
	struct mdm_stage_item *items;     /* grows: an EventBatch message holds many events */
	size_t items_cap;
	struct arena *arena;
	struct mdm_buf scratch;           /* audit record encoding */
	void **stage_ctx;                 /* p.n_stages */
	struct store *store;
	uint64_t audit_seq;
	/* latency since the reporter's last take */
	/* latency since the reporter's last take (this batch's worker writes,
	 * the reporter flips intervals: mdm_latency.h) */
	struct mdm_lat_recorder *lat;
};

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

static struct mdm_stage_item *item_add(struct batch *b, size_t *n)
{
	if (*n == b->items_cap) {
		size_t cap = b->items_cap ? b->items_cap * 2 : 256;
		struct mdm_stage_item *it = mdm_realloc(b->items, cap * sizeof(*it));

		if (!it)
			return NULL;
		b->items = it;
		b->items_cap = cap;
	}
	memset(&b->items[*n], 0, sizeof(b->items[*n]));
	return &b->items[(*n)++];
}

static bool batch_subject(const char *subject)
{
	return strncmp(subject, "mdb.", 4) == 0;
}

/* Executions (stream EXEC, subjects exec.>) decode as mdmesh.v1.Execution. */
static bool exec_subject(const char *subject)
{
	return strncmp(subject, "exec.", 5) == 0;
}

static const Mdmesh__V1__EventHeader *item_header(const struct mdm_stage_item *it)
{
	return it->exec ? it->exec->header : it->ev ? it->ev->header : NULL;
}

static void record_bus(struct batch *b, const Mdmesh__V1__EventHeader *h, uint64_t fetch_real_ns)
{
	if (h && h->pub_ts_ns && fetch_real_ns >= h->pub_ts_ns)
		mdm_lat_record(b->lat, WORKER_LAT_BUS, (int64_t)(fetch_real_ns - h->pub_ts_ns));
}

/* Decode every message into items. -ENOMEM when memory ran out (the batch is
 * retried: a payload is only called undecodable when memory was not short). */
static int decode(struct batch *b, size_t n_msgs, size_t *n_items)
{
	ProtobufCAllocator *pa = arena_pb_allocator(b->arena);
	size_t n = 0;
	int64_t lat_entered = mdm_lat_enter(b->lat);

	for (size_t i = 0; i < n_msgs; i++) {
		struct mdm_bus_msg *m = b->slots[i].msg;
		const uint8_t *data = mdm_bus_msg_data(m);
		size_t len = mdm_bus_msg_len(m);
		const char *subject = mdm_bus_msg_subject(m);
		struct mdm_bus_msg_meta meta;
		struct mdm_stage_item *it;

		if (mdm_bus_msg_meta(m, &meta) != 0)
			memset(&meta, 0, sizeof(meta));
		b->info[i] = (struct batch_info){ .stream_seq = meta.stream_seq, .delivered = meta.delivered };
		if (batch_subject(subject)) {
			Mdmesh__V1__EventBatch *eb = mdmesh__v1__event_batch__unpack(pa, len, data);

			if (!eb && arena_failed(b->arena))
				goto oom;
			for (size_t e = 0; eb && e < eb->n_events; e++) {
				if (!(it = item_add(b, &n)))
					goto oom;
				*it = (struct mdm_stage_item){ .ev = eb->events[e], .subject = subject,
							       .stream_seq = meta.stream_seq, .delivered = meta.delivered,
							       .msg = (uint32_t)i, .index = (uint32_t)e + 1 };
				record_bus(b, eb->events[e]->header, b->slots[i].fetch_real_ns);
			}
			if (eb && eb->n_events > 0)
				continue;
			if (!(it = item_add(b, &n)))
				goto oom;
			*it = (struct mdm_stage_item){ .subject = subject, .payload = data, .payload_len = len,
						       .stream_seq = meta.stream_seq, .delivered = meta.delivered,
						       .msg = (uint32_t)i,
						       .verdict = eb ? MDM_STAGE_SKIP : MDM_STAGE_DEAD,
						       .reason = eb ? "empty_batch" : "decode_error" };
			continue;
		}
		if (!(it = item_add(b, &n)))
			goto oom;
		*it = (struct mdm_stage_item){ .subject = subject, .payload = data, .payload_len = len,
					       .stream_seq = meta.stream_seq, .delivered = meta.delivered,
					       .msg = (uint32_t)i };
		if (exec_subject(subject))
			it->exec = mdmesh__v1__execution__unpack(pa, len, data);
		else
			it->ev = mdmesh__v1__market_event__unpack(pa, len, data);
		if (!it->ev && !it->exec) {
			if (arena_failed(b->arena))
				goto oom;
			it->verdict = MDM_STAGE_DEAD;
			it->reason = "decode_error";
			inc(&b->stats->decode_errors, 1);
		}
		record_bus(b, item_header(it), b->slots[i].fetch_real_ns);
	}
	mdm_lat_exit(b->lat, lat_entered);
	*n_items = n;
	return 0;
oom:
	mdm_lat_exit(b->lat, lat_entered);
	return mdm_err_set(-ENOMEM, "decode: out of memory");
}

/* Store every dead letter of the batch before the commit. An EventBatch
 * member is re-encoded (its own bytes are not separable from the batch). */
static int dead_letters(struct batch *b, const struct mdm_stage_item *items, size_t n)
{
	const struct batch_params *p = &b->p;

	for (size_t i = 0; i < n; i++) {
		const struct mdm_stage_item *it = &items[i];
		const void *payload = it->payload;
		size_t len = it->payload_len;
		int rc;

		if (it->verdict != MDM_STAGE_DEAD || !p->publish_dead_letters)
			continue;
		if (!payload && it->ev) {
			len = mdmesh__v1__market_event__get_packed_size(it->ev);
			payload = arena_alloc(b->arena, len ? len : 1);
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

static void audit_publish(struct batch *b, const struct store_audit *a)
{
	const struct batch_params *p = &b->p;
	Mdmesh__V1__AuditRecord ar = MDMESH__V1__AUDIT_RECORD__INIT;
	struct mdm_bus_retry retry = { 0 };
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
	mdm_buf_reset(&b->scratch);
	if (mdm_buf_reserve(&b->scratch, len) != 0) {
		__atomic_add_fetch(b->p.async_failed, 1, __ATOMIC_RELAXED);
		return;
	}
	mdmesh__v1__audit_record__pack(&ar, (uint8_t *)b->scratch.data);
	snprintf(msg_id, sizeof(msg_id), "audit.%s.%u.%" PRIu64 ".%" PRIu64, a->instance, a->worker, a->commit_ts_ns,
		 a->first_stream_seq);
	retry.deadline_ns = mdm_mono_ns() + AUDIT_PUBLISH_WAIT_NS;
	rc = mdm_bus_publish_async_until(p->bus, p->cfg->audit_subject, msg_id, AUDIT_CONTENT_TYPE, b->scratch.data,
					 len, ++b->audit_seq, &retry);
	if (rc != 0) {
		__atomic_add_fetch(b->p.async_failed, 1, __ATOMIC_RELAXED);
		mdm_log_warn("audit record of batch %" PRIu64 "-%" PRIu64 " not published: %s", a->first_stream_seq,
			     a->last_stream_seq, mdm_err_last());
	}
}

static void stages_done(struct batch *b, struct mdm_stage_batch *sb, bool committed)
{
	const struct batch_params *p = &b->p;

	for (size_t s = 0; s < p->n_stages; s++)
		if (p->stages[s].ops->done)
			p->stages[s].ops->done(b->stage_ctx[s], sb, committed);
}

/* Failure path: rollback, nak every message with a delay by its delivery
 * count, free. `sb` is NULL before the stages saw the batch. */
static int batch_fail(struct batch *b, struct mdm_stage_batch *sb, size_t n_msgs, bool begun, int rc,
		      enum fail_kind kind, const char *what)
{
	const struct batch_params *p = &b->p;
	const struct processor_cfg *cfg = p->cfg;
	uint64_t failures = __atomic_load_n(&b->stats->consecutive_failures, __ATOMIC_RELAXED) + 1;
	char why[256];

	snprintf(why, sizeof(why), "%s", mdm_err_last());
	if (begun && p->store_ops->rollback(b->store) != 0)
		mdm_log_debug("worker %u: rollback: %s", b->p.worker, mdm_err_last());
	if (sb)
		stages_done(b, sb, false);
	for (size_t i = 0; i < n_msgs; i++) {
		uint64_t delay_ns = worker_nak_delay_ns(cfg->nak_delay_ns, cfg->n_nak_delays, b->info[i].delivered);

		if (mdm_bus_nak_delay(b->slots[i].msg, delay_ns / MDM_NS_PER_MS) != 0)
			inc(&b->stats->ack_errors, 1);
		mdm_bus_msg_free(b->slots[i].msg);
		b->slots[i].msg = NULL;
	}
	inc(&b->stats->naks, n_msgs);
	inc(&b->stats->failed_batches, 1);
	inc(kind == FAIL_STORE ? &b->stats->store_errors : kind == FAIL_STAGE ? &b->stats->stage_errors
									       : &b->stats->dlq_errors, 1);
	__atomic_store_n(&b->stats->consecutive_failures, failures, __ATOMIC_RELAXED);
	/* One line per failure streak, then every 100th: the counters carry the rest. */
	if (failures == 1 || failures % 100 == 0) {
		if (mdm_err_retryable(rc) || kind != FAIL_STAGE)
			mdm_log_warn("worker %u: %s failed (%s), %zu messages naked for redelivery (failure %" PRIu64
				     " in a row)", b->p.worker, what, why, n_msgs, failures);
		else
			mdm_log_error("worker %u: %s: %s; %zu messages naked", b->p.worker, what, why, n_msgs);
	}
	return rc;
}

int batch_run(struct batch *b, size_t n_msgs)
{
	const struct batch_params *p = &b->p;
	const struct store_ops *so = p->store_ops;
	uint64_t t0 = mdm_mono_ns(), t_commit, t_done, commit_real;
	struct mdm_stage_batch sb = { 0 };
	struct store_audit audit = { 0 };
	size_t n_items = 0;
	int64_t lat_entered;
	int rc;

	arena_reset(b->arena);
	rc = decode(b, n_msgs, &n_items);
	if (rc != 0)
		return batch_fail(b, NULL, n_msgs, false, rc, FAIL_STAGE, "decode");
	sb = (struct mdm_stage_batch){ .items = b->items, .n = n_items, .store_ops = so, .store = b->store,
				      .worker = b->p.worker, .now_ns = mdm_real_ns(), .alloc = batch_alloc,
				      .arena = b->arena };
	rc = so->begin(b->store);
	if (rc != 0)
		return batch_fail(b, NULL, n_msgs, false, rc, FAIL_STORE, "store begin");
	for (size_t s = 0; s < p->n_stages; s++) {
		rc = p->stages[s].ops->process(b->stage_ctx[s], &sb);
		if (rc != 0)
			return batch_fail(b, &sb, n_msgs, true, rc, mdm_err_retryable(rc) ? FAIL_STORE : FAIL_STAGE,
					  p->stages[s].ops->name);
	}
	for (size_t s = 0; s < p->n_stages; s++) {
		if (!p->stages[s].ops->flush)
			continue;
		rc = p->stages[s].ops->flush(b->stage_ctx[s], &sb);
		if (rc != 0)
			return batch_fail(b, &sb, n_msgs, true, rc, mdm_err_retryable(rc) ? FAIL_STORE : FAIL_STAGE,
					  p->stages[s].ops->name);
	}
	rc = dead_letters(b, b->items, n_items);
	if (rc != 0)
		return batch_fail(b, &sb, n_msgs, true, rc, FAIL_DLQ, "dead-letter publish");

	audit.component = "processor";
	audit.instance = p->cfg->instance;
	audit.worker = b->p.worker;
	audit.first_stream_seq = UINT64_MAX;
	for (size_t i = 0; i < n_msgs; i++) {
		if (b->info[i].stream_seq < audit.first_stream_seq)
			audit.first_stream_seq = b->info[i].stream_seq;
		if (b->info[i].stream_seq > audit.last_stream_seq)
			audit.last_stream_seq = b->info[i].stream_seq;
	}
	audit.total = n_items;
	for (size_t i = 0; i < n_items; i++) {
		audit.ok += b->items[i].verdict == MDM_STAGE_PASS;
		audit.dead_lettered += b->items[i].verdict == MDM_STAGE_DEAD;
		audit.skipped += b->items[i].verdict == MDM_STAGE_SKIP;
	}
	/* The row is part of the transaction, so it can only carry the time the
	 * commit was issued and how long the transaction ran until then; the
	 * published record carries the same values (the commit's own latency is
	 * in the commit histogram). */
	t_commit = mdm_mono_ns();
	audit.commit_ts_ns = commit_real = mdm_real_ns();
	audit.commit_duration_ns = t_commit - t0;
	rc = so->put_audit(b->store, &audit);
	if (rc != 0)
		return batch_fail(b, &sb, n_msgs, true, rc, FAIL_STORE, "audit row");
	rc = so->commit(b->store);
	if (rc != 0)
		return batch_fail(b, &sb, n_msgs, true, rc, FAIL_STORE, "commit");
	t_done = mdm_mono_ns();
	commit_real += t_done - t_commit;
	stages_done(b, &sb, true);

	for (size_t i = 0; i < n_msgs; i++) {
		if (mdm_bus_ack(b->slots[i].msg) != 0)
			inc(&b->stats->ack_errors, 1);
		mdm_bus_msg_free(b->slots[i].msg);
		b->slots[i].msg = NULL;
	}

	lat_entered = mdm_lat_enter(b->lat);
	mdm_lat_record(b->lat, WORKER_LAT_PROCESS, (int64_t)(t_commit - t0));
	mdm_lat_record(b->lat, WORKER_LAT_COMMIT, (int64_t)(t_done - t_commit));
	for (size_t i = 0; i < n_items; i++) {
		const Mdmesh__V1__EventHeader *h = item_header(&b->items[i]);

		if (b->items[i].verdict == MDM_STAGE_PASS && h && h->rx_ts_ns && commit_real >= h->rx_ts_ns)
			mdm_lat_record(b->lat, b->items[i].exec ? WORKER_LAT_EXEC : WORKER_LAT_E2E,
				       (int64_t)(commit_real - h->rx_ts_ns));
	}
	mdm_lat_exit(b->lat, lat_entered);

	inc(&b->stats->batches, 1);
	inc(&b->stats->messages, n_msgs);
	inc(&b->stats->events, n_items);
	inc(&b->stats->ok, audit.ok);
	inc(&b->stats->dead_lettered, audit.dead_lettered);
	inc(&b->stats->skipped, audit.skipped);
	__atomic_store_n(&b->stats->consecutive_failures, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&b->stats->last_commit_ns, commit_real, __ATOMIC_RELAXED);
	audit_publish(b, &audit);
	return 0;
}

/* ---- lifecycle ---- */

int batch_create(struct batch **out, const struct batch_params *p)
{
	struct batch *b = mdm_calloc(1, sizeof(*b));
	uint32_t id = p->worker;
	int rc;

	*out = NULL;
	if (!b)
		return mdm_err_set(-ENOMEM, "worker %u: out of memory", id);
	b->p = *p;
	b->stats = p->stats;
	b->slots = mdm_calloc(p->max_msgs, sizeof(*b->slots));
	b->info = mdm_calloc(p->max_msgs, sizeof(*b->info));
	b->stage_ctx = mdm_calloc(p->n_stages ? p->n_stages : 1, sizeof(*b->stage_ctx));
	if (!b->slots || !b->info || !b->stage_ctx) {
		rc = mdm_err_set(-ENOMEM, "worker %u: out of memory", id);
		goto err;
	}
	if ((rc = arena_create(&b->arena, 256 * 1024)) != 0) {
		rc = mdm_err_set(rc, "worker %u: out of memory", id);
		goto err;
	}
	if ((rc = mdm_lat_recorder_create(&b->lat, WORKER_LAT_COUNT, (1u << WORKER_LAT_COUNT) - 1, false)) != 0) {
		rc = mdm_err_set(rc, "worker %u: histogram: out of memory", id);
		goto err;
	}
	rc = p->store_ops->open(&b->store, p->store_url);
	if (rc != 0) {
		rc = mdm_err_set(rc, "worker %u: store %s: %s", id, p->store_ops->name, mdm_err_last());
		goto err;
	}
	for (size_t s = 0; s < p->n_stages; s++) {
		struct mdm_stage_env env = { .cfg = p->cfg, .bus = p->bus, .worker = id, .shared = p->stages[s].shared };

		rc = p->stages[s].ops->init(&b->stage_ctx[s], &env);
		if (rc != 0) {
			rc = mdm_err_set(rc, "worker %u: stage %s: %s", id, p->stages[s].ops->name, mdm_err_last());
			goto err;
		}
	}
	*out = b;
	return 0;
err:
	batch_destroy(b);
	return rc;
}

void batch_destroy(struct batch *b)
{
	if (!b)
		return;
	for (size_t s = 0; b->stage_ctx && s < b->p.n_stages; s++)
		if (b->stage_ctx[s])
			b->p.stages[s].ops->fini(b->stage_ctx[s]);
	if (b->store)
		b->p.store_ops->close(b->store);
	for (size_t i = 0; b->slots && i < b->p.max_msgs; i++)
		mdm_bus_msg_free(b->slots[i].msg);
	mdm_lat_recorder_destroy(b->lat);
	arena_destroy(b->arena);
	mdm_free(b->items);
	mdm_free(b->info);
	mdm_buf_fini(&b->scratch);
	mdm_free(b->stage_ctx);
	mdm_free(b->slots);
	mdm_free(b);
}

struct batch_msg *batch_slots(struct batch *b)
{
	return b->slots;
}

void batch_latency_take(struct batch *b, struct mdm_hdr *const into[WORKER_LAT_COUNT])
{
	if (b && b->lat)
		mdm_lat_recorder_take(b->lat, into);
}
