/* Internal to worker.c and batch.c: a worker's state and the per-batch duty
 * cycle (decode -> stages -> dead letters -> audit -> commit -> ack). */
#ifndef BATCH_H
#define BATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_buf.h"
#include "stage.h"
#include "worker.h"

struct arena;
struct mdm_bus_msg;
struct mdm_lat_recorder;

/* A fetched message on its way through a worker. */
struct batch_msg {
	struct mdm_bus_msg *msg;
	uint64_t fetch_real_ns;
};

/* What the worker learnt about each message of the batch. */
struct batch_info {
	uint64_t stream_seq;
	uint64_t delivered;
};

struct worker {
	struct worker_stats stats;
	struct worker_pool *pool;
	struct worker_pool_stats *pool_stats;
	uint32_t id;
	pthread_t thread;
	bool started;
	/* queue filled by the fetcher: q_len messages from q_head, ring of q_cap */
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct batch_msg *q;
	size_t q_cap, q_head, q_len;
	/* batch being processed (worker thread only) */
	struct batch_msg *batch;
	size_t batch_cap;
	struct batch_info *info;          /* batch_cap entries */
	struct mdm_stage_item *items;     /* grows: an EventBatch message holds many events */
	size_t items_cap;
	struct arena *arena;
	struct mdm_buf scratch;           /* audit record encoding */
	void **stage_ctx;
	struct store *store;
	uint64_t audit_seq;
	/* latency since the reporter's last take (this worker writes, the
	 * reporter flips intervals: mdm_latency.h) */
	struct mdm_lat_recorder *lat;
};

/* Process w->batch[0..n): on success every message is acked, on failure every
 * message is naked with a delay; either way they are freed and the pool's
 * in-flight count drops by n. 0 when committed, else the negative errno of
 * the failure (already logged and counted). Worker thread only. */
int batch_run(struct worker *w, size_t n);

/* worker.c services for batch.c */
void worker_pool_done_msgs(struct worker_pool *wp, size_t n);
const struct worker_params *worker_pool_params(const struct worker_pool *wp);

#endif
