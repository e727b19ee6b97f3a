/* A processor pipeline stage: a static const struct mdm_stage_ops (the
 * descriptor) plus one context per worker (the instance), as fluent-bit
 * filters are. The pipeline is an array of stages built once at start
 * (validate -> route -> enrich -> derive); each worker runs it over every
 * batch inside one store transaction, then commits and acks.
 *
 * A batch holds the decoded events (a MarketEvent, or an Execution for a
 * message on exec.>: the executions pipeline, stage_exec.c) of the messages one worker took from its
 * queue. Events are decoded once (into the worker's arena, valid until the
 * batch ends) and every stage reads the same pointers. Each event carries a
 * verdict: a stage looks only at PASS events and may turn one into SKIP
 * (nothing to persist: acked and counted) or DEAD (dead-lettered with
 * `reason`, then acked). Stages write rows through batch->store_ops inside
 * the open transaction; what they publish (derived records, alerts) they
 * publish from `done` once the commit succeeded, with a Nats-Msg-Id derived
 * from the event, so a redelivered batch publishes nothing twice. */
#ifndef STAGE_H
#define STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdmesh/v1/events.pb-c.h"
#include "mdmesh/v1/execution.pb-c.h"

struct mdm_bus;
struct processor_cfg;
struct store;
struct store_ops;

enum mdm_stage_verdict {
	MDM_STAGE_PASS = 0, /* go on to the next stage, persist */
	MDM_STAGE_SKIP,     /* valid but nothing to do: acked, counted */
	MDM_STAGE_DEAD,     /* dead-letter with `reason`, then ack */
};

/* Per-event annotations a stage leaves for later ones (arena memory). */
enum mdm_stage_note {
	MDM_STAGE_NOTE_ROUTE = 0, /* route stage: the rules' decision for the event */
	MDM_STAGE_NOTE_REFDATA,   /* enrich stage: reference data of the symbol
				   * (executions: struct stage_exec_ref, stages.h) */
	MDM_STAGE_NOTE_COUNT,
};

/* One event of a batch. Read-only for stages except verdict, reason, note. */
struct mdm_stage_item {
	const Mdmesh__V1__MarketEvent *ev; /* NULL when the payload did not decode (verdict DEAD)
					    * or is an Execution */
	const Mdmesh__V1__Execution *exec; /* an exec.> message (stream EXEC), else NULL */
	const char *subject;               /* the message's subject */
	const void *payload;               /* the event's encoded bytes (the message body), or NULL
					    * for an event inside an EventBatch (re-encode ev) */
	size_t payload_len;
	uint64_t stream_seq;               /* JetStream sequence of the message */
	uint64_t delivered;                /* delivery count of the message, 1 on first delivery */
	uint32_t msg;                      /* index of the message in the batch */
	uint32_t index;                    /* event index inside an EventBatch message, else 0 */
	enum mdm_stage_verdict verdict;
	const char *reason;                /* DEAD: short static text, e.g. "price_not_positive" */
	void *note[MDM_STAGE_NOTE_COUNT];
};

struct mdm_stage_batch {
	struct mdm_stage_item *items;
	size_t n;
	const struct store_ops *store_ops; /* transaction open on `store` */
	struct store *store;
	uint32_t worker;
	uint64_t now_ns;                   /* realtime at batch start */
	/* Per-batch memory for notes: freed when the batch ends. NULL on ENOMEM. */
	void *(*alloc)(void *arena, size_t len);
	void *arena;
};

/* What a stage's init gets. Borrowed; valid until fini. */
struct mdm_stage_env {
	const struct processor_cfg *cfg;
	struct mdm_bus *bus;
	uint32_t worker;                   /* 0 .. workers-1 */
	void *shared;                      /* the stage's process-wide object (rules, refdata cache), or NULL */
};

struct mdm_stage_ops {
	const char *name;
	/* Make the per-worker context. 0 or negative errno (detail in mdm_err_last()). */
	int (*init)(void **ctx, const struct mdm_stage_env *env);
	/* Look at every PASS event of the batch. 0, or a negative errno that fails
	 * the whole batch: it is rolled back and every message naked with a delay
	 * (mdm_err_retryable(), e.g. -EAGAIN/-ECONNRESET/-ENOSPC: a resource is
	 * unavailable; others are counted as stage errors and logged). */
	int (*process)(void *ctx, struct mdm_stage_batch *b);
	/* After every stage processed the batch, before commit (aggregates); NULL = none. Errors as process. */
	int (*flush)(void *ctx, struct mdm_stage_batch *b);
	/* The batch's outcome, before its messages are acked (committed) or naked
	 * (rolled back): publish what the batch produced, or forget it. The batch
	 * and its arena are still valid. NULL = none. Cannot fail the batch any
	 * more: count and log. */
	void (*done)(void *ctx, struct mdm_stage_batch *b, bool committed);
	void (*fini)(void *ctx); /* NULL-safe on a NULL ctx */
};

/* One pipeline position: the ops and the shared object passed to init. */
struct mdm_stage {
	const struct mdm_stage_ops *ops;
	void *shared;
};

#endif
