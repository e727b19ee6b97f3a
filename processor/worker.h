/* The processor's duty cycle: one fetcher thread and N worker threads.
 *
 * Partitioning: the fetcher pulls batches from one durable pull consumer
 * (explicit acks) and hands each message to worker hash(last subject token)
 * % N: the symbol for md.<feed>.<type>.<symbol>, the partition for
 * mdb.<feed>.<partition> (the collector partitions batches by symbol). So
 * every symbol is processed by one worker, in stream order, inside a process.
 * (Per-worker consumers cannot do this on nats-server 2.9: a filter cannot
 * select a hash of the symbol.) Across processes sharing the durable, and
 * after a nak, order is not kept; the store's writes are idempotent and
 * order-free (bars are recomputed from trades), so rows are the same.
 *
 * A worker takes up to fetch.batch messages from its queue, decodes each
 * payload once into its arena, opens a store transaction, runs the stages,
 * publishes dead letters (stored before anything is acked), writes one audit
 * row, commits, and only then acks every message of the batch. A failure of
 * the store, a stage or the DLQ rolls the transaction back and naks every
 * message with a delay from consumer.nak_delays (by delivery count); the
 * worker keeps running and the store reconnects on its next begin.
 *
 * In flight (fetched, not yet acked or naked) is bounded by
 * min(consumer.max_ack_pending, workers x fetch.queue_depth), so a fetch never
 * asks for more than the server will hand out (JETSTREAM_FACTS section 4). */
#ifndef WORKER_H
#define WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage.h"

struct mdm_bus;
struct mdm_hdr;
struct dlq;
struct processor_cfg;
struct store_ops;
struct worker_pool;

enum worker_lat {
	WORKER_LAT_BUS = 0,  /* header.pub_ts_ns -> fetched, per event */
	WORKER_LAT_PROCESS,  /* batch taken -> commit issued, per batch */
	WORKER_LAT_COMMIT,   /* commit call, per batch */
	WORKER_LAT_E2E,      /* header.rx_ts_ns -> committed, per persisted market event */
	WORKER_LAT_EXEC,     /* an Execution's rx_ts_ns (mdmesh-fix received it) -> committed */
	WORKER_LAT_COUNT,
};

extern const char *const worker_lat_names[WORKER_LAT_COUNT];

/* Per-worker counters; plain stores by the worker, relaxed loads by readers. */
struct worker_stats {
	uint64_t batches;          /* committed batches */
	uint64_t messages;         /* messages acked after a commit */
	uint64_t events;           /* events in committed batches */
	uint64_t ok, dead_lettered, skipped;
	uint64_t decode_errors;    /* payloads that did not decode (dead-lettered) */
	uint64_t failed_batches;   /* rolled back and naked */
	uint64_t store_errors, stage_errors, dlq_errors; /* causes of failed batches */
	uint64_t naks, ack_errors;
	uint64_t consecutive_failures; /* failed batches since the last commit */
	uint64_t last_commit_ns;   /* realtime */
};

/* Pool-wide counters, same rules. */
struct worker_pool_stats {
	uint64_t fetches, fetch_errors, fetched;
	uint64_t in_flight;        /* fetched, not yet acked or naked */
	uint64_t async_stored;     /* async publishes (audit, trades, bars, alerts, rule targets) stored */
	uint64_t async_failed;     /* ... given up (logged) */
	uint64_t pending;          /* consumer's num_pending from the last message's metadata */
};

struct worker_params {
	const struct processor_cfg *cfg;
	struct mdm_bus *bus;
	const char *stream, *durable;      /* the consumer to pull from (exists) */
	const struct store_ops *store_ops;
	const char *store_url;
	const struct mdm_stage *stages;    /* pipeline, in order (copied) */
	size_t n_stages;
	struct dlq *dlq;
	bool publish_dead_letters;         /* false when rebuilding: the live run already did */
};

/* Open one store per worker, init every stage per worker, bind the pull
 * subscription, and register the bus's async ack handler (audit records).
 * Threads are not started. 0 or negative errno (detail in mdm_err_last()). */
int worker_pool_create(struct worker_pool **out, const struct worker_params *p);

/* Start the fetcher and the workers. 0 or negative errno. */
int worker_pool_start(struct worker_pool *wp);

/* Ask to stop: the fetcher stops fetching; workers process what is queued
 * (commit + ack) and exit. Returns at once; thread-safe (signal thread). */
void worker_pool_stop(struct worker_pool *wp);

/* Wait for every thread to exit (after worker_pool_stop). */
void worker_pool_join(struct worker_pool *wp);

/* Stop, join, unbind the pull subscription, fini stages, close stores.
 * Counters stay readable and the bus's ack handler (whose context is the
 * pool) stays valid: destroy the bus after this and before
 * worker_pool_destroy. Idempotent. */
void worker_pool_close(struct worker_pool *wp);

/* worker_pool_close if not done, then free. NULL-safe. */
void worker_pool_destroy(struct worker_pool *wp);

/* True when nothing is in flight and the last message was fetched at least
 * idle_ns ago (or none ever was, for that long since start). Thread-safe. */
bool worker_pool_idle(struct worker_pool *wp, uint64_t idle_ns);

/* True once every worker thread has exited (stop asked and queues drained). */
bool worker_pool_done(struct worker_pool *wp);

uint32_t worker_pool_count(const struct worker_pool *wp);
const struct worker_stats *worker_pool_worker_stats(const struct worker_pool *wp, uint32_t i);
const struct worker_pool_stats *worker_pool_stats(const struct worker_pool *wp);

/* Add every worker's latency since the last take into into[stage] and start
 * a new interval (an interval flip per worker: workers never wait for it).
 * Reporter thread. */
void worker_pool_latency_take(struct worker_pool *wp, struct mdm_hdr *const into[WORKER_LAT_COUNT]);

/* Delay before redelivery of a message delivered `delivered` times
 * (1-based) from delays[0..n): the last entry repeats; 1 s when n == 0. Pure
 * (inline: batch.c uses it without depending on worker.c). */
static inline uint64_t worker_nak_delay_ns(const uint64_t *delays, size_t n, uint64_t delivered)
{
	size_t i;

	if (n == 0)
		return 1000000000ULL;
	i = delivered <= 1 ? 0 : (size_t)(delivered - 1);
	return delays[i < n ? i : n - 1];
}

/* Worker index for a subject among n workers: FNV-1a of its last token,
 * mixed. Pure. */
uint32_t worker_partition(const char *subject, uint32_t n);

#endif
