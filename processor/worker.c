/* Fetcher, per-worker queues and worker threads; see worker.h for the
 * partitioning and the ack/nak rules. The per-batch work (decode, stages,
 * dead letters, audit, commit, ack) is in batch.c. */
#include "mdm_cond.h"
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "batch.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "processor_cfg.h"

const char *const worker_lat_names[WORKER_LAT_COUNT] = {
	"bus", "processing", "commit", "wire_to_persisted", "execution_to_persisted",
};

#define WAIT_SLICE_NS (100 * MDM_NS_PER_MS)

/* One worker thread: its queue, filled by the fetcher, and its batch. */
struct worker {
	struct worker_stats stats;        /* written by batch.c on the worker's thread */
	struct worker_pool *pool;
	uint32_t id;
	pthread_t thread;
	bool started;
	/* queue filled by the fetcher: q_len messages from q_head, ring of q_cap */
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct batch_msg *q;
	size_t q_cap, q_head, q_len;
	struct batch *batch;              /* its slots receive what queue_take takes */
	size_t batch_cap;
};

struct worker_pool {
	struct worker_pool_stats stats;
	struct worker_params p;
	struct mdm_stage *stages;
	struct mdm_bus_sub *sub;
	struct worker *workers;
	uint32_t n_workers;
	uint64_t fetch_batch, fetch_timeout_ms, in_flight_max;
	struct mdm_bus_msg **fetched;     /* fetch_batch slots, fetcher thread only */
	uint32_t *part;                   /* worker of fetched[i] */
	pthread_t fetcher;
	bool fetcher_started;
	bool closed;                      /* worker_pool_close ran */
	pthread_mutex_t mu;               /* guards room_cond waits */
	pthread_cond_t room_cond;         /* in_flight dropped */
	bool stopping;                    /* atomic: stop asked */
	bool fetch_done;                  /* atomic: the fetcher exited, queues get nothing more */
	uint64_t last_msg_mono_ns;        /* atomic: when a fetch last returned messages (or start) */
	uint32_t running;                 /* atomic: worker threads still running */
};

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void st(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

uint32_t worker_partition(const char *subject, uint32_t n)
{
	const char *tok = strrchr(subject, '.');
	uint32_t h = 2166136261u;

	if (n <= 1)
		return 0;
	for (const unsigned char *c = (const unsigned char *)(tok ? tok + 1 : subject); *c; c++) {
		h ^= *c;
		h *= 16777619u;
	}
	/* FNV-1a's low bits are weak (bit 0 is the parity of the bytes): mix
	 * (murmur3 fmix32) before the modulo. */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h % n;
}

/* ---- queues ---- */

/* Fetcher side: append msgs[i] for every i with part[i] == w->id, in order,
 * under one lock hold (so the worker sees the whole fetch at once); waits
 * while the queue is full (the worker keeps draining, also while stopping). */
static void queue_push_fetch(struct worker *w, struct mdm_bus_msg **msgs, const uint32_t *part, size_t n,
			     uint64_t fetch_real_ns)
{
	bool any = false;

	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < n; i++) {
		if (part[i] != w->id)
			continue;
		while (w->q_len == w->q_cap) {
			pthread_cond_signal(&w->not_empty);
			pthread_cond_wait(&w->not_full, &w->mu);
		}
		w->q[(w->q_head + w->q_len) % w->q_cap] =
			(struct batch_msg){ .msg = msgs[i], .fetch_real_ns = fetch_real_ns };
		w->q_len++;
		any = true;
	}
	if (any)
		pthread_cond_signal(&w->not_empty);
	pthread_mutex_unlock(&w->mu);
}

/* Worker side: up to `max` messages, waiting while the queue is empty.
 * Returns 0 only when the fetcher is done and the queue is empty. */
static size_t queue_take(struct worker *w, struct batch_msg *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&w->mu);
	while (w->q_len == 0 && !__atomic_load_n(&w->pool->fetch_done, __ATOMIC_ACQUIRE)) {
		mdm_cond_wait_until(&w->not_empty, &w->mu, mdm_mono_ns() + WAIT_SLICE_NS);
	}
	while (n < max && w->q_len > 0) {
		out[n++] = w->q[w->q_head];
		w->q_head = (w->q_head + 1) % w->q_cap;
		w->q_len--;
	}
	if (n)
		pthread_cond_signal(&w->not_full);
	pthread_mutex_unlock(&w->mu);
	return n;
}

/* ---- threads ---- */

static void worker_pool_done_msgs(struct worker_pool *wp, size_t n)
{
	__atomic_sub_fetch(&wp->stats.in_flight, n, __ATOMIC_RELEASE);
	pthread_mutex_lock(&wp->mu);
	pthread_cond_signal(&wp->room_cond);
	pthread_mutex_unlock(&wp->mu);
}

static bool stopping(struct worker_pool *wp)
{
	return __atomic_load_n(&wp->stopping, __ATOMIC_ACQUIRE);
}

/* Wait until fewer than in_flight_max messages are in flight; returns the
 * room, 0 when stopping. */
static uint64_t wait_room(struct worker_pool *wp)
{
	uint64_t in;

	pthread_mutex_lock(&wp->mu);
	while ((in = __atomic_load_n(&wp->stats.in_flight, __ATOMIC_ACQUIRE)) >= wp->in_flight_max && !stopping(wp)) {
		mdm_cond_wait_until(&wp->room_cond, &wp->mu, mdm_mono_ns() + WAIT_SLICE_NS);
	}
	pthread_mutex_unlock(&wp->mu);
	return stopping(wp) ? 0 : wp->in_flight_max - in;
}

static void *fetcher_main(void *arg)
{
	struct worker_pool *wp = arg;
	uint64_t err_logged_ns = 0;

	while (!stopping(wp)) {
		uint64_t room = wait_room(wp), fetch_real_ns;
		size_t want, got = 0;
		int rc;

		if (room == 0)
			break;
		want = room < wp->fetch_batch ? (size_t)room : (size_t)wp->fetch_batch;
		rc = mdm_bus_fetch(wp->sub, want, wp->fetch_timeout_ms, wp->fetched, &got);
		st(&wp->stats.fetches, ld(&wp->stats.fetches) + 1);
		if (rc != 0) {
			uint64_t now = mdm_mono_ns();

			st(&wp->stats.fetch_errors, ld(&wp->stats.fetch_errors) + 1);
			/* Disconnected or the consumer is gone: say so every 10 s, retry. */
			if (now - err_logged_ns > 10 * MDM_NS_PER_S || err_logged_ns == 0) {
				mdm_log_warn("fetch from %s.%s: %s (retrying)", wp->p.stream, wp->p.durable, mdm_err_last());
				err_logged_ns = now;
			}
			mdm_sleep_ns(WAIT_SLICE_NS);
			continue;
		}
		if (got == 0)
			continue;
		fetch_real_ns = mdm_real_ns();
		__atomic_add_fetch(&wp->stats.in_flight, got, __ATOMIC_RELEASE);
		st(&wp->stats.fetched, ld(&wp->stats.fetched) + got);
		__atomic_store_n(&wp->last_msg_mono_ns, mdm_mono_ns(), __ATOMIC_RELAXED);
		{
			struct mdm_bus_msg_meta meta;

			if (mdm_bus_msg_meta(wp->fetched[got - 1], &meta) == 0)
				st(&wp->stats.pending, meta.pending);
		}
		for (size_t i = 0; i < got; i++)
			wp->part[i] = worker_partition(mdm_bus_msg_subject(wp->fetched[i]), wp->n_workers);
		for (uint32_t k = 0; k < wp->n_workers; k++)
			queue_push_fetch(&wp->workers[k], wp->fetched, wp->part, got, fetch_real_ns);
		memset(wp->fetched, 0, got * sizeof(*wp->fetched));
	}
	__atomic_store_n(&wp->fetch_done, true, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < wp->n_workers; i++) {
		pthread_mutex_lock(&wp->workers[i].mu);
		pthread_cond_broadcast(&wp->workers[i].not_empty);
		pthread_mutex_unlock(&wp->workers[i].mu);
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t n;

	while ((n = queue_take(w, batch_slots(w->batch), w->batch_cap)) > 0) {
		int rc = batch_run(w->batch, n);

		/* acked or naked, and freed: room for the fetcher */
		worker_pool_done_msgs(w->pool, n);
		if (rc != 0) {
			/* Back off a little so a dead store is not hammered; the
			 * naked messages come back after their own delay. */
			mdm_sleep_ns(200 * MDM_NS_PER_MS);
		}
	}
	__atomic_sub_fetch(&w->pool->running, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---- async ack handler (audit records, derived records, rule targets) ---- */

static void on_pub_ack(void *ctx, const struct mdm_bus_ack *ack)
{
	struct worker_pool *wp = ctx;

	if (ack->result == MDM_BUS_ACK_FAILED) {
		__atomic_add_fetch(&wp->stats.async_failed, 1, __ATOMIC_RELAXED);
		mdm_log_warn("publish %s not stored: %s", ack->msg_id, ack->reason);
	} else {
		__atomic_add_fetch(&wp->stats.async_stored, 1, __ATOMIC_RELAXED);
	}
}

/* ---- lifecycle ---- */

static int worker_init(struct worker_pool *wp, struct worker *w, uint32_t id)
{
	const struct processor_cfg *cfg = wp->p.cfg;
	struct batch_params bp = {
		.cfg = cfg, .bus = wp->p.bus, .store_ops = wp->p.store_ops, .store_url = wp->p.store_url,
		.stages = wp->stages, .n_stages = wp->p.n_stages, .dlq = wp->p.dlq,
		.publish_dead_letters = wp->p.publish_dead_letters, .worker = id, .max_msgs = cfg->fetch_batch,
		.stats = &w->stats, .async_failed = &wp->stats.async_failed,
	};

	w->pool = wp;
	w->id = id;
	pthread_mutex_init(&w->mu, NULL);
	mdm_cond_init(&w->not_empty);
	mdm_cond_init(&w->not_full);
	w->q_cap = cfg->queue_depth;
	w->batch_cap = cfg->fetch_batch;
	w->q = mdm_calloc(w->q_cap, sizeof(*w->q));
	if (!w->q)
		return mdm_err_set(-ENOMEM, "worker %u: out of memory", id);
	return batch_create(&w->batch, &bp);
}

static void worker_fini(struct worker *w)
{
	if (!w->pool)
		return;
	batch_destroy(w->batch);
	w->batch = NULL;
	for (size_t i = 0; w->q && i < w->q_len; i++)
		mdm_bus_msg_free(w->q[(w->q_head + i) % w->q_cap].msg);
	mdm_free(w->q);
	w->q = NULL;
	pthread_cond_destroy(&w->not_empty);
	pthread_cond_destroy(&w->not_full);
	pthread_mutex_destroy(&w->mu);
}

int worker_pool_create(struct worker_pool **out, const struct worker_params *p)
{
	struct worker_pool *wp = mdm_calloc(1, sizeof(*wp));
	const struct processor_cfg *cfg = p->cfg;
	int rc;

	*out = NULL;
	if (!wp)
		return mdm_err_set(-ENOMEM, "workers: out of memory");
	wp->p = *p;
	wp->n_workers = (uint32_t)cfg->workers;
	wp->fetch_batch = cfg->fetch_batch;
	wp->fetch_timeout_ms = cfg->fetch_timeout_ns / MDM_NS_PER_MS;
	wp->in_flight_max = cfg->workers * cfg->queue_depth;
	if (wp->in_flight_max > cfg->consumer_max_ack_pending)
		wp->in_flight_max = cfg->consumer_max_ack_pending;
	wp->last_msg_mono_ns = mdm_mono_ns();
	pthread_mutex_init(&wp->mu, NULL);
	mdm_cond_init(&wp->room_cond);
	wp->stages = mdm_calloc(p->n_stages ? p->n_stages : 1, sizeof(*wp->stages));
	wp->workers = mdm_calloc(wp->n_workers, sizeof(*wp->workers));
	wp->fetched = mdm_calloc(wp->fetch_batch, sizeof(*wp->fetched));
	wp->part = mdm_calloc(wp->fetch_batch, sizeof(*wp->part));
	if (!wp->stages || !wp->workers || !wp->fetched || !wp->part) {
		rc = mdm_err_set(-ENOMEM, "workers: out of memory");
		goto err;
	}
	if (p->n_stages)
		memcpy(wp->stages, p->stages, p->n_stages * sizeof(*wp->stages));
	wp->p.stages = wp->stages;
	for (uint32_t i = 0; i < wp->n_workers; i++)
		if ((rc = worker_init(wp, &wp->workers[i], i)) != 0)
			goto err;
	rc = mdm_bus_pull_subscribe(p->bus, p->stream, p->durable, &wp->sub);
	if (rc != 0)
		goto err;
	mdm_bus_set_ack_handler(p->bus, on_pub_ack, wp);
	*out = wp;
	return 0;
err:
	worker_pool_destroy(wp);
	return rc;
}

int worker_pool_start(struct worker_pool *wp)
{
	int rc;

	__atomic_store_n(&wp->last_msg_mono_ns, mdm_mono_ns(), __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < wp->n_workers; i++) {
		rc = pthread_create(&wp->workers[i].thread, NULL, worker_main, &wp->workers[i]);
		if (rc != 0) {
			worker_pool_stop(wp);
			__atomic_store_n(&wp->fetch_done, true, __ATOMIC_RELEASE);
			return mdm_err_set(-rc, "worker thread: %s", strerror(rc));
		}
		wp->workers[i].started = true;
		__atomic_add_fetch(&wp->running, 1, __ATOMIC_RELEASE);
	}
	rc = pthread_create(&wp->fetcher, NULL, fetcher_main, wp);
	if (rc != 0) {
		worker_pool_stop(wp);
		__atomic_store_n(&wp->fetch_done, true, __ATOMIC_RELEASE);
		return mdm_err_set(-rc, "fetcher thread: %s", strerror(rc));
	}
	wp->fetcher_started = true;
	return 0;
}

void worker_pool_stop(struct worker_pool *wp)
{
	__atomic_store_n(&wp->stopping, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&wp->mu);
	pthread_cond_broadcast(&wp->room_cond);
	pthread_mutex_unlock(&wp->mu);
}

void worker_pool_join(struct worker_pool *wp)
{
	if (wp->fetcher_started) {
		pthread_join(wp->fetcher, NULL);
		wp->fetcher_started = false;
	}
	for (uint32_t i = 0; i < wp->n_workers; i++) {
		if (wp->workers[i].started) {
			pthread_join(wp->workers[i].thread, NULL);
			wp->workers[i].started = false;
		}
	}
}

void worker_pool_close(struct worker_pool *wp)
{
	if (!wp || wp->closed)
		return;
	worker_pool_stop(wp);
	worker_pool_join(wp);
	mdm_bus_sub_destroy(wp->sub);
	wp->sub = NULL;
	for (uint32_t i = 0; wp->workers && i < wp->n_workers; i++)
		worker_fini(&wp->workers[i]);
	if (wp->fetched)
		mdm_bus_msgs_free(wp->fetched, wp->fetch_batch);
	wp->closed = true;
}

void worker_pool_destroy(struct worker_pool *wp)
{
	if (!wp)
		return;
	worker_pool_close(wp);
	mdm_free(wp->fetched);
	mdm_free(wp->part);
	mdm_free(wp->workers);
	mdm_free(wp->stages);
	pthread_cond_destroy(&wp->room_cond);
	pthread_mutex_destroy(&wp->mu);
	mdm_free(wp);
}

bool worker_pool_idle(struct worker_pool *wp, uint64_t idle_ns)
{
	uint64_t last = __atomic_load_n(&wp->last_msg_mono_ns, __ATOMIC_RELAXED);

	return __atomic_load_n(&wp->stats.in_flight, __ATOMIC_ACQUIRE) == 0 && mdm_mono_ns() - last >= idle_ns;
}

bool worker_pool_done(struct worker_pool *wp)
{
	return __atomic_load_n(&wp->fetch_done, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&wp->running, __ATOMIC_ACQUIRE) == 0;
}

uint32_t worker_pool_count(const struct worker_pool *wp)
{
	return wp->n_workers;
}

const struct worker_stats *worker_pool_worker_stats(const struct worker_pool *wp, uint32_t i)
{
	return &wp->workers[i].stats;
}

const struct worker_pool_stats *worker_pool_stats(const struct worker_pool *wp)
{
	return &wp->stats;
}

void worker_pool_latency_take(struct worker_pool *wp, struct mdm_hdr *const into[WORKER_LAT_COUNT])
{
	for (uint32_t i = 0; i < wp->n_workers; i++)
		batch_latency_take(wp->workers[i].batch, into);
}
