/* Metrics registry rendered as Prometheus text format 0.0.4 (/metrics) and as
 * JSON (/stats.json). Registered series point at the caller's own counters
 * and gauges, which poll threads update with plain or relaxed stores; the
 * renderer reads them with relaxed atomic loads, so the hot path pays nothing.
 * Sets that change at run time (per-stage latency summaries, per-stream
 * stats) come from collector callbacks that write through a writer API which
 * emits both formats.
 *
 * Names: [a-zA-Z_:][a-zA-Z0-9_:]*, starting "mdmesh_"; counters end "_total".
 * A family (one name) has one kind, one help text and one set of label names;
 * its series differ by label values. JSON keys are the names without
 * "mdmesh_"; labelled series nest by label value:
 *   mdmesh_rx_malformed_total{reason="short_header"} 3  ->
 *   {"rx_malformed_total":{"short_header":3,...},...}
 *
 * Thread-safety: every call locks the registry, so renders (one per HTTP
 * request thread) are serialized with each other and with registration.
 * Collectors and JSON sections run under that lock: they must not call back
 * into mdm_metrics_* except the writer functions. Not hot-path: registration
 * allocates; rendering allocates only into the output buffer. */
#ifndef MDM_METRICS_H
#define MDM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "mdm_buf.h"
#include "mdm_http.h"
#include "mdm_json.h"

#define MDM_METRICS_MAX_LABELS 8 /* label pairs per series */

struct mdm_metrics;
struct mdm_metrics_writer;

enum mdm_metrics_kind {
	MDM_METRICS_COUNTER,
	MDM_METRICS_GAUGE,
	MDM_METRICS_SUMMARY, /* collectors only (mdm_metrics_write_summary) */
};

enum mdm_metrics_vtype {
	MDM_METRICS_U64,    /* const uint64_t * */
	MDM_METRICS_I64,    /* const int64_t * */
	MDM_METRICS_DOUBLE, /* const double * */
};

/* 0 or -ENOMEM. */
int mdm_metrics_create(struct mdm_metrics **out);

/* NULL-safe. Destroy any mdm_http serving this registry first. */
void mdm_metrics_destroy(struct mdm_metrics *reg);

/* Register one series that reads *var at every render.
 * @param kind    MDM_METRICS_COUNTER or MDM_METRICS_GAUGE.
 * @param name    family name (copied); the family is created on first use.
 * @param help    one line (copied); must equal the family's existing help.
 * @param labels  NULL, or a NULL-terminated list of name, value pairs (copied):
 *                (const char *const[]){ "reason", "short_header", NULL }.
 * @param var     borrowed; must stay valid until mdm_metrics_destroy. Read with
 *                __atomic_load_n(var, __ATOMIC_RELAXED).
 * @return 0; -EINVAL (bad name or label name, counter without _total, empty
 *         help, or a kind/help/label-name set that differs from the family's:
 *         detail via mdm_err_last()); -EEXIST (same label values already
 *         registered, or the JSON name is taken by a section); -ENOMEM. */
int mdm_metrics_register(struct mdm_metrics *reg, enum mdm_metrics_kind kind, const char *name, const char *help,
			 const char *const *labels, enum mdm_metrics_vtype vtype, const void *var);

static inline int mdm_metrics_counter(struct mdm_metrics *reg, const char *name, const char *help,
				      const char *const *labels, const uint64_t *var)
{
	return mdm_metrics_register(reg, MDM_METRICS_COUNTER, name, help, labels, MDM_METRICS_U64, var);
}

static inline int mdm_metrics_gauge(struct mdm_metrics *reg, const char *name, const char *help,
				    const char *const *labels, const int64_t *var)
{
	return mdm_metrics_register(reg, MDM_METRICS_GAUGE, name, help, labels, MDM_METRICS_I64, var);
}

static inline int mdm_metrics_gauge_u64(struct mdm_metrics *reg, const char *name, const char *help,
					const char *const *labels, const uint64_t *var)
{
	return mdm_metrics_register(reg, MDM_METRICS_GAUGE, name, help, labels, MDM_METRICS_U64, var);
}

static inline int mdm_metrics_gauge_double(struct mdm_metrics *reg, const char *name, const char *help,
					   const char *const *labels, const double *var)
{
	return mdm_metrics_register(reg, MDM_METRICS_GAUGE, name, help, labels, MDM_METRICS_DOUBLE, var);
}

/* ---- collectors ---- */

/* Called at every render with a writer for the format being produced. It
 * writes families with mdm_metrics_write_family followed by their samples.
 * Names must not collide with registered families. */
typedef void (*mdm_metrics_collect_fn)(void *ctx, struct mdm_metrics_writer *w);

/* Collectors run after the registered families, in the order added.
 * @return 0 or -ENOMEM. */
int mdm_metrics_add_collector(struct mdm_metrics *reg, mdm_metrics_collect_fn fn, void *ctx);

/* Start a family; its samples follow. name and help are copied as needed.
 * A bad name, or a name that a registered family uses, makes the render
 * return -EINVAL / -EEXIST and the family's samples are dropped. */
void mdm_metrics_write_family(struct mdm_metrics_writer *w, enum mdm_metrics_kind kind, const char *name,
			      const char *help);

/* One sample of the current family; labels as for mdm_metrics_register, at
 * most MDM_METRICS_MAX_LABELS pairs. For the JSON nesting, samples that share
 * leading label values must be written one after another (e.g. all of one
 * stage's quantiles, then the next stage). */
void mdm_metrics_write_u64(struct mdm_metrics_writer *w, const char *const *labels, uint64_t v);
void mdm_metrics_write_i64(struct mdm_metrics_writer *w, const char *const *labels, int64_t v);
void mdm_metrics_write_double(struct mdm_metrics_writer *w, const char *const *labels, double v);

struct mdm_metrics_quantile {
	double q;     /* 0.5, 0.99, ... */
	double value; /* in the family's unit (seconds for *_seconds) */
};

/* One summary (current family must be MDM_METRICS_SUMMARY): a sample per
 * quantile with labels + quantile="<q>", then <name>_sum and <name>_count with
 * labels. JSON: {"<label value>":{"0.5":v,"0.99":v,"sum":s,"count":c}}. */
void mdm_metrics_write_summary(struct mdm_metrics_writer *w, const char *const *labels,
			       const struct mdm_metrics_quantile *qs, size_t nq, double sum, uint64_t count);

/* ---- JSON sections ---- */

/* Writes exactly one JSON value (usually an object) into j. */
typedef void (*mdm_metrics_json_fn)(void *ctx, struct mdm_json *j);

/* Add a top-level key `name` (copied) to the JSON rendering, after the
 * metrics. @return 0; -EEXIST (name taken by a section or a metric's JSON
 * name); -EINVAL (empty name); -ENOMEM. */
int mdm_metrics_add_json_section(struct mdm_metrics *reg, const char *name, mdm_metrics_json_fn fn, void *ctx);

/* ---- rendering ---- */

/* Append the Prometheus text exposition to out.
 * @return 0; -ENOMEM; -EINVAL/-EEXIST when a collector wrote a bad family
 *         (the rest is still rendered; detail via mdm_err_last()). */
int mdm_metrics_render_prometheus(struct mdm_metrics *reg, struct mdm_buf *out);

/* Write one JSON object: every family, then the sections. Same returns. */
int mdm_metrics_render_json(struct mdm_metrics *reg, struct mdm_json *j);

/* Route /metrics (text/plain; version=0.0.4) and /stats.json
 * (application/json) on http, before mdm_http_start. reg must outlive http.
 * @return as mdm_http_route. */
int mdm_metrics_serve(struct mdm_metrics *reg, struct mdm_http *http);

#endif
