/* The collector's observability: metrics registry (/metrics, /stats.json and
 * the once-a-second stats.collector.<instance> message), latency intervals
 * into an HdrHistogram log, and the shutdown summary that proves every event
 * is accounted. Runs on the main (control) thread; reads the RX and publisher
 * counters with relaxed loads. */
#ifndef COLLECTOR_STATS_H
#define COLLECTOR_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct rx;
struct publish;
struct mdm_port;
struct mdm_bus;
struct mdm_metrics;
struct rte_ring;
struct rerequest;
struct gap_report;
struct soup_input;
struct ckpt_writer;

struct collector_stats_params {
	const char *instance;
	const char *feed;
	struct rx *rx;
	struct publish *pb;
	const struct mdm_port *port; /* NULL: no DPDK port (input.soup) */
	struct rte_ring *ring;
	struct mdm_bus *bus;
	const char *hlog_path; /* NULL/"" = no latency log */
	struct rerequest *rr;  /* gap recovery counters */
	struct gap_report *gr; /* permanent gaps and their alerts */
	struct soup_input *soup; /* input.soup: its counters, its log lines; NULL = none */
	struct ckpt_writer *ckpt; /* book checkpoints; NULL = off */
};

/* Accounting of every event the RX core produced. */
struct collector_account {
	uint64_t events;          /* decoded messages produced by RX */
	uint64_t stored;          /* acked, new in the stream */
	uint64_t duplicates;      /* acked, already in the stream (same Msg-Id) */
	uint64_t dropped_ring;    /* ring full under the drop policy */
	uint64_t dropped_stop;    /* forced stop */
	uint64_t failed;          /* publish failed after retries */
	uint64_t encode_errors;
	uint64_t in_ring;         /* still queued */
	uint64_t in_flight;       /* published, not acked */
	bool balanced;            /* events == sum of the above */
};

struct collector_stats;

int collector_stats_create(struct collector_stats **out, const struct collector_stats_params *p);
void collector_stats_destroy(struct collector_stats *cs);

struct mdm_metrics *collector_stats_metrics(struct collector_stats *cs);

/* Once per stats interval: take the latency interval, log it, refresh port
 * stats, publish stats.collector.<instance>. */
void collector_stats_tick(struct collector_stats *cs);

void collector_stats_account(struct collector_stats *cs, struct collector_account *a);

/* The shutdown summary: counts, accounting identity, latency percentiles. */
void collector_stats_summary(struct collector_stats *cs, FILE *f);

#endif
