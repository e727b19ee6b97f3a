/* The pipeline stages built on the other processor modules (validate.h has
 * the first one), and the outbox they publish through once a batch is
 * committed:
 *   stage_route_ops   shared: struct rules_holder * (rules.h); per event, the
 *                     rules' targets: rows in a rule's table (put_event /
 *                     put_alert), publishes and Alert records; a dropping rule
 *                     ends the event's pipeline (verdict SKIP).
 *   stage_enrich_ops  shared: struct enrich * (enrich.h); keeps `instruments`
 *                     in step with the refdata KV bucket for every symbol the
 *                     worker sees (a row per new KV revision).
 *   stage_derive_ops  shared: NULL; executions -> trades rows (derive.h),
 *                     bars_1m refreshed per touched minute, Trade on
 *                     trade.<symbol> and Bar on bar.1m.<symbol>. */
#ifndef STAGES_H
#define STAGES_H

#include <stddef.h>
#include <stdint.h>

#include "stage.h"

extern const struct mdm_stage_ops stage_route_ops;
extern const struct mdm_stage_ops stage_enrich_ops;
extern const struct mdm_stage_ops stage_derive_ops;

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
