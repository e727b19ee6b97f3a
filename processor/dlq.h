/* Dead letters: a message the processor cannot or may not process goes to
 * stream DLQ on dlq.<stream>.<consumer> as a DeadLetter (the original payload
 * untouched, its subject, stream sequence, delivery count, consumer, reason),
 * stored before the original is acked. Two sources:
 *   - workers: undecodable payloads and events failing validation;
 *   - the server: a message delivered consumer.max_deliver times without an
 *     ack raises $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>;
 *     the listener fetches the original by sequence and dead-letters it with
 *     reason "max_deliver".
 * Every processor process sharing the durable hears the advisory; the DLQ
 * publish carries Nats-Msg-Id dlq.<stream>.<seq>[.<index>], so the stream
 * stores each dead letter once (within dlq.duplicate_window). */
#ifndef DLQ_H
#define DLQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mdm_bus;
struct dlq;

struct dlq_params {
	struct mdm_bus *bus;
	const char *stream;    /* the consumed stream, e.g. "MD" */
	const char *consumer;  /* the durable, e.g. "processor" */
	bool listen_max_deliver; /* subscribe to the MAX_DELIVERIES advisory */
};

/* Counters: relaxed atomics, readable from any thread. */
struct dlq_stats {
	uint64_t stored;          /* dead letters stored */
	uint64_t duplicates;      /* already stored (another process, or a redelivery) */
	uint64_t failed;          /* publishes that failed (the original is not acked) */
	uint64_t advisories;      /* MAX_DELIVERIES advisories heard */
	uint64_t max_deliver;     /* ... dead-lettered from them (stored or duplicate) */
	uint64_t advisory_errors; /* unparsable advisory, original gone, or publish failed */
};

/* Strings are copied. 0, -ENOMEM, or the subscribe error. Blocking. */
int dlq_create(struct dlq **out, const struct dlq_params *p);

/* Unsubscribes (waits for a running advisory callback), frees. NULL-safe. */
void dlq_destroy(struct dlq *d);

/* One dead letter. `index` > 0 names an event inside an EventBatch message
 * (Msg-Id suffix .<index>); `payload` is the bytes to keep (the message body,
 * or the event re-encoded). Returns 0 once stored (or found stored), else the
 * negative errno of the publish (detail in mdm_err_last()). Thread-safe.
 * Blocking (one JetStream round trip). Allocates (pack buffer). */
int dlq_publish(struct dlq *d, const char *subject, uint64_t stream_seq, uint32_t index, uint64_t delivered,
		const char *reason, const void *payload, size_t len);

const struct dlq_stats *dlq_stats(const struct dlq *d);

/* The subject dead letters go to: dlq.<stream>.<consumer>. */
const char *dlq_subject(const struct dlq *d);

/* Parse a MAX_DELIVERIES advisory (JSON): its "stream_seq" and "deliveries".
 * 0, or -EINVAL when either is missing or not a number. Pure. */
int dlq_advisory_parse(const char *json, size_t len, uint64_t *stream_seq, uint64_t *deliveries);

#endif
