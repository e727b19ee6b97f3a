/* The processor's observability: metrics registry (/metrics, /stats.json,
 * /healthz and the once-a-second stats.processor.<instance> message), the
 * reporter that merges the workers' latency histograms, consumer lag and DLQ
 * depth, the configured alarms (an Alert on alert.system.<alarm> when one
 * trips), the latency interval log and the shutdown summary. Runs on the main
 * (control) thread; reads worker counters with relaxed loads. */
#ifndef PROCESSOR_STATS_H
#define PROCESSOR_STATS_H

#include <stdint.h>
#include <stdio.h>

struct dlq;
struct enrich;
struct mdm_buf;
struct mdm_bus;
struct mdm_metrics;
struct mdm_tally;
struct processor_cfg;
struct worker_pool;

struct processor_stats_params {
	const struct processor_cfg *cfg;
	struct mdm_bus *bus;
	struct worker_pool *pool;
	struct dlq *dlq;
	const struct enrich *enrich;       /* refdata cache (lookups, misses), or NULL when off */
	const char *stream, *consumer;     /* the consumer whose lag is reported */
	/* the trade feed's numbers (/stats.json "trade", the dashboard's panel) */
	const struct mdm_tally *alerts;    /* alerts committed, by rule; NULL: none */
	const struct mdm_tally *notional;  /* trades' notional by trader; NULL: not the executions pipeline */
	const uint64_t *executions;        /* executions committed; NULL: not the executions pipeline */
};

struct processor_stats;

/* 0 or negative errno (detail in mdm_err_last()). */
int processor_stats_create(struct processor_stats **out, const struct processor_stats_params *p);
void processor_stats_destroy(struct processor_stats *ps); /* NULL-safe */

struct mdm_metrics *processor_stats_metrics(struct processor_stats *ps);

/* /healthz check (mdm_http_health_fn): unhealthy while NATS is disconnected
 * or a worker has failed 3 batches in a row. Any thread. */
int processor_stats_health(void *ctx, struct mdm_buf *reason);

/* Once per stats interval: merge latency, refresh lag and DLQ depth, check
 * alarms, write the latency log, publish stats.processor.<instance>. */
void processor_stats_tick(struct processor_stats *ps);

/* Alerts raised since start (all alarms). */
uint64_t processor_stats_alerts(const struct processor_stats *ps);

/* Shutdown summary: counts and latency percentiles since start. */
void processor_stats_summary(struct processor_stats *ps, FILE *f);

#endif
