/* Stage latency for a daemon, in two halves.
 *  - Recorders (writers): one per writing thread or per set of threads. A
 *    recorder holds two histogram sets, active and inactive; writers enter a
 *    phaser, record into the active set and leave, never blocking. The
 *    reporter swaps the sets and flips the phaser, then reads what it swapped
 *    out (HdrHistogram_c's hdr_interval_recorder over hdr_writer_reader_phaser).
 *  - The reporter's set (struct mdm_latency): interval and since-start
 *    histograms per named stage, the last interval's quantiles, the interval
 *    log (hlog) and the /metrics summary, /stats.json section and shutdown
 *    table the collector and processor both print. */
#ifndef MDM_LATENCY_H
#define MDM_LATENCY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mdm_hdr.h"
#include "mdm_phaser.h"

struct mdm_json;
struct mdm_metrics_writer;

#define MDM_LATENCY_STAGES_MAX 8
#define MDM_LATENCY_HIGHEST_NS (3600LL * 1000000000LL) /* one hour */
#define MDM_LATENCY_SIGFIGS 3

/* Quantiles reported per interval, in this order: p50 p90 p99 p99.9 max. */
enum { MDM_LATENCY_Q_P50, MDM_LATENCY_Q_P90, MDM_LATENCY_Q_P99, MDM_LATENCY_Q_P999, MDM_LATENCY_Q_MAX,
       MDM_LATENCY_NQ };

/* ---- recorders ---- */

/* Read-only outside mdm_latency.c; public so recording inlines. */
struct mdm_lat_recorder {
	struct mdm_phaser phaser;
	struct mdm_hdr **active;   /* sets[0] or sets[1]; swapped by the reader */
	unsigned n_stages;
	bool shared;               /* several threads record at once: atomic recording */
	struct mdm_hdr *sets[2][MDM_LATENCY_STAGES_MAX]; /* NULL for a stage not recorded here */
};

/* A recorder for stages 0..n_stages-1 of which those in stage_mask (bit s =
 * stage s) are recorded here. `shared`: more than one thread may record at the
 * same time (e.g. nats.c's ack threads); otherwise one writer thread at a time.
 * 0, -EINVAL (n_stages 0 or > MDM_LATENCY_STAGES_MAX, empty mask), -ENOMEM.
 * Not hot-path (allocates). */
int mdm_lat_recorder_create(struct mdm_lat_recorder **out, unsigned n_stages, uint32_t stage_mask, bool shared);
void mdm_lat_recorder_destroy(struct mdm_lat_recorder *r); /* NULL-safe; no writer may be inside */

/* Writer section: enter, record any number of values, exit with the value
 * enter returned. Never blocks; hot-path safe (two atomic adds per section). */
static inline int64_t mdm_lat_enter(struct mdm_lat_recorder *r)
{
	return mdm_phaser_writer_enter(&r->phaser);
}

static inline void mdm_lat_exit(struct mdm_lat_recorder *r, int64_t entered)
{
	mdm_phaser_writer_exit(&r->phaser, entered);
}

/* Record v (ns) n times into `stage`, inside a writer section. The stage must
 * be in the recorder's mask. Values out of range are counted, not recorded. */
static inline void mdm_lat_record_n(struct mdm_lat_recorder *r, unsigned stage, int64_t v, uint64_t n)
{
	struct mdm_hdr **set = __atomic_load_n(&r->active, __ATOMIC_ACQUIRE);

	if (r->shared)
		mdm_hdr_record_n_atomic(set[stage], v, n);
	else
		mdm_hdr_record_n(set[stage], v, n);
}

static inline void mdm_lat_record(struct mdm_lat_recorder *r, unsigned stage, int64_t v)
{
	mdm_lat_record_n(r, stage, v, 1);
}

/* Interval flip: add everything recorded since the last take into into[s]
 * (for each stage this recorder records; into has n_stages entries) and start
 * a new interval. Each value lands in exactly one take. Any thread; takes are
 * serialised; waits (sleeping) only for writer sections in progress. */
void mdm_lat_recorder_take(struct mdm_lat_recorder *r, struct mdm_hdr *const *into);

/* ---- the reporter's set ---- */

struct mdm_latency;

struct mdm_latency_params {
	const char *const *stage_names; /* n_stages names, borrowed for the set's life */
	unsigned n_stages;              /* 1..MDM_LATENCY_STAGES_MAX */
	const char *hlog_path;          /* interval log to create; NULL or "" for none */
	const char *hlog_comment;       /* its header comment */
};

/* 0; -EINVAL; -ENOMEM; or the open error of the hlog (mdm_err_last names the
 * path). Not hot-path. */
int mdm_latency_create(struct mdm_latency **out, const struct mdm_latency_params *p);
void mdm_latency_destroy(struct mdm_latency *l); /* NULL-safe; flushes and closes the hlog */

/* The interval histograms, emptied: the reporter adds this interval's takes
 * into them, then calls _interval_end. Reporter thread only. */
struct mdm_hdr *const *mdm_latency_interval_begin(struct mdm_latency *l);

/* Close the interval at now_s (realtime seconds): add it to the totals,
 * compute its quantiles, append it to the hlog. Reporter thread only. */
void mdm_latency_interval_end(struct mdm_latency *l, double now_s);

/* Values recorded into `stage` in the last closed interval. Reporter thread. */
uint64_t mdm_latency_interval_count(const struct mdm_latency *l, unsigned stage);

/* Quantile q (MDM_LATENCY_Q_*) of the last closed interval, ns (0 if it was
 * empty). Any thread. */
double mdm_latency_quantile_ns(struct mdm_latency *l, unsigned stage, unsigned q);

/* Prometheus summary `family` (seconds): per stage, the last interval's
 * quantiles and the since-start sum and count. Any thread. */
void mdm_latency_write_summary(struct mdm_latency *l, struct mdm_metrics_writer *w, const char *family,
			       const char *help);

/* JSON object { "<stage>": { "p50": ns, ..., "max": ns, "count_total": n }, ... }.
 * Any thread. */
void mdm_latency_write_json(struct mdm_latency *l, struct mdm_json *j);

/* The shutdown table (since start): header line and one line per stage. */
void mdm_latency_print(struct mdm_latency *l, FILE *f);

#endif
