/* The pipeline stages built on the other processor modules (validate.h has
 * the first one), and the outbox they publish through once a batch is
 * committed:
 *   stage_route_ops   shared: struct stage_route_shared * (rules.h); per event, the
 *                     rules' targets: rows in a rule's table (put_event /
 *                     put_alert), publishes and Alert records; a dropping rule
 *                     ends the event's pipeline (verdict SKIP).
 *   stage_enrich_ops  shared: struct enrich * (enrich.h); keeps `instruments`
 *                     in step with the refdata KV bucket for every symbol the
 *                     worker sees (a row per new KV revision).
 *   stage_derive_ops  shared: NULL; executions -> trades rows (derive.h),
 *                     bars_1m refreshed per touched minute, Trade on
 *                     trade.<symbol> and Bar on bar.1m.<symbol>.
 * The executions pipeline (stream EXEC, mdmesh.v1.Execution: stage_exec.c):
 *   stage_exec_enrich_ops  shared: struct stage_exec_shared *; checks each
 *                     execution (dead letters by reason) and looks its
 *                     trader and instrument up (note REFDATA: a struct
 *                     stage_exec_ref), so that rules can read trader.* and
 *                     instrument.*; then stage_route_ops; then
 *   stage_exec_store_ops   shared: struct stage_exec_shared *; the `executions`
 *                     row (put_execution); once committed, the count and
 *                     the notional by trader (the dashboard's top traders). */
#ifndef STAGES_H
#define STAGES_H

#include <stddef.h>
#include <stdint.h>

#include "enrich.h"
#include "mdm_tally.h"
#include "rules.h"
#include "stage.h"

extern const struct mdm_stage_ops stage_route_ops;
extern const struct mdm_stage_ops stage_enrich_ops;
extern const struct mdm_stage_ops stage_derive_ops;
extern const struct mdm_stage_ops stage_exec_enrich_ops;
extern const struct mdm_stage_ops stage_exec_store_ops;

struct enrich;

/* The route stage's process-wide objects. */
struct stage_route_shared {
	struct rules_holder *rules;
	struct mdm_tally *alerts;   /* alerts committed, by rule name (/stats.json); NULL: none kept */
};

/* What the executions pipeline's enrich stage looks up in; either may be NULL
 * (no reference data: every trader unknown). */
struct stage_exec_shared {
	struct enrich *instruments; /* instrument.<SYMBOL> */
	struct enrich *traders;     /* trader.<ID> */
	struct mdm_tally *notional; /* committed trades' (150=F) notional by trader; NULL: none kept */
	uint64_t executions;        /* rows committed (shared counter) */
};

/* An execution's reference data and notional (batch arena, note REFDATA). */
struct stage_exec_ref {
	struct rules_ref ref;                    /* strings point into trader / instrument */
	struct enrich_instrument trader, instrument;
	int64_t notional;                        /* 1e-4 currency units */
};

struct exec_pipeline;
struct rules_holder;

/* The executions pipeline into stages[0..*n) (room for 3): exec_enrich over
 * reference-data caches of `bucket` (instrument.> and trader.>; none when
 * bucket is NULL or ""), route when route->rules, executions (tallying
 * into `notional` when not NULL). 0 or a negative errno (detail in
 * mdm_err_last()). Start-up only. */
int exec_pipeline_create(struct exec_pipeline **out, struct mdm_bus *bus, const char *bucket, int replicas,
			 struct stage_route_shared *route, struct mdm_tally *notional, struct mdm_stage *stages,
			 size_t *n);
/* Executions committed so far (mdm_counter_get). */
const uint64_t *exec_pipeline_executions(const struct exec_pipeline *xp);
void exec_pipeline_destroy(struct exec_pipeline *xp); /* NULL-safe; after the workers are gone */

/* ---- outbox: publishes held until the batch is committed ---- */

struct stage_outbox_msg {
	const char *subject, *msg_id, *content_type;
	const void *data;
	size_t len;
};

/* Per-stage-context list; entries live in the batch arena. */
struct stage_outbox {
	struct stage_outbox_msg *v;
	size_t n, cap;
	uint64_t published, failed; /* relaxed counters */
};

/* Queue one publish: subject, msg_id and data are copied into the batch
 * arena. 0 or -ENOMEM (the batch fails and is retried). Worker thread. */
int stage_outbox_add(struct stage_outbox *o, struct mdm_stage_batch *b, const char *subject, const char *msg_id,
		     const char *content_type, const void *data, size_t len);

/* Publish everything queued (JetStream async, Nats-Msg-Id for exactly-once;
 * outcomes reach the bus's ack handler), then empty the outbox. A publish
 * refused after retries is counted in `failed` and logged. */
void stage_outbox_send(struct stage_outbox *o, struct mdm_bus *bus);

/* Forget the queue (rolled-back batch). */
void stage_outbox_clear(struct stage_outbox *o);
void stage_outbox_fini(struct stage_outbox *o);

#endif
