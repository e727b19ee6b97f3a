/* A worker's batch context and its duty cycle: decode -> stages -> dead
 * letters -> audit -> commit -> ack (or rollback -> nak with delay). It owns
 * what one batch needs (store connection, stage contexts, arena, latency
 * histograms) and knows nothing of queues, threads or the pool: worker.c
 * fills its slots and calls batch_run. */
#ifndef BATCH_H
#define BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage.h"
#include "worker.h"

struct batch;
struct dlq;
struct mdm_bus;
struct mdm_bus_msg;
struct mdm_hdr;
struct processor_cfg;
struct store_ops;

/* A fetched message on its way through a worker. */
struct batch_msg {
	struct mdm_bus_msg *msg;
	uint64_t fetch_real_ns;
};

/* What a batch is built from. Pointers are borrowed and must outlive it. */
struct batch_params {
	const struct processor_cfg *cfg;
	struct mdm_bus *bus;
	const struct store_ops *store_ops;
	const char *store_url;             /* opened once, by batch_create */
	const struct mdm_stage *stages;    /* pipeline, in order; each gets a context per batch */
	size_t n_stages;
	struct dlq *dlq;
	bool publish_dead_letters;         /* false when rebuilding: the live run already did */
	uint32_t worker;                   /* id: logs, audit records, stage contexts */
	size_t max_msgs;                   /* slots (fetch.batch) */
	struct worker_stats *stats;        /* written by the batch's thread only, read relaxed elsewhere */
	uint64_t *async_failed;            /* shared counter of async publishes given up (atomic add) */
};

/* Open the store, init every stage, allocate slots, arena and histograms.
 * 0 and *out, or a negative errno (detail in mdm_err_last(), naming the
 * worker). On failure *out is NULL and everything made is undone. */
int batch_create(struct batch **out, const struct batch_params *p);

/* Fini stages, close the store, free any message still in a slot. NULL-safe. */
void batch_destroy(struct batch *b);

/* The max_msgs slots batch_run reads from; the caller fills [0, n). */
struct batch_msg *batch_slots(struct batch *b);

/* Process slots[0..n): on success every message is acked after the store
 * commit returned 0; on any failure (decode memory, store, stage, DLQ) the
 * transaction is rolled back and every message naked with the delay for its
 * delivery count, never acked. Either way every message is freed and its
 * slot cleared. Returns 0 when committed, else the failure's negative errno
 * (already logged and counted). The batch's thread only. */
int batch_run(struct batch *b, size_t n);

/* Add the latency recorded since the last take into into[stage] and reset
 * (a short lock). Any thread. */
void batch_latency_take(struct batch *b, struct mdm_hdr *const into[WORKER_LAT_COUNT]);

#endif
