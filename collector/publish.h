/* Publisher lcore: dequeue rx_event records in bursts, encode each as a
 * protobuf MarketEvent, publish it to JetStream asynchronously with its
 * Nats-Msg-Id, and account every event exactly once: stored, duplicate
 * (already in the stream: a retry or a replay), failed (after the bus's
 * retries), or dropped before publishing (encode error). Latency of every
 * stage goes into HDR histograms, per event in both modes.
 *
 * publish.mode batch packs events into EventBatch messages (evbatch.h) on
 * mdb.<feed>.<partition>, partition = FNV-1a(symbol) % partitions, so one
 * symbol's events stay in feed order inside one subject.
 *
 * Batch boundaries are a function of the input alone, so a replay of the same
 * capture forms the same batches and JetStream de-duplicates them by
 * Nats-Msg-Id <feed>.<session>.<first_seq>-<last_seq>.<partition>:
 *   - sequence windows: an event belongs to window seq / batch_max_events;
 *     a batch holds the events of one partition in one window (so at most
 *     batch_max_events, on average batch_max_events / partitions with symbols
 *     spread evenly). Every partition's batch of a window is published as
 *     soon as an event of a later window arrives, and everything at the end
 *     of the input (graceful stop);
 *   - a batch is also cut, identically on every run, when it would exceed
 *     EVBATCH_MAX_BYTES, when the session changes, or when a sequence of an
 *     already published window comes (a late or restarted sequence);
 *   - time (batch_max_delay) cuts a batch early only when batch_delay_flush is
 *     set: live input, where an idle feed must not hold events back. A replay
 *     (input.pcap) never cuts by time.
 * A replay within the stream's duplicate window therefore stores nothing new
 * after a replay of the same capture. After a live run it stores nothing new
 * for the windows that were published whole live; a window cut early by
 * batch_max_delay live is stored again, as one batch with another Msg-Id (its
 * events then appear twice in MDB; the processor's store is idempotent on
 * (feed, session, seq), so its tables are unaffected).
 *
 * Broker outage: while the bus refuses publishes (disconnected: nats.c's
 * reconnect buffer full; or its ack window full) the publisher holds the
 * event in hand, backs off (1 ms while disconnected, so a dead server costs
 * no CPU) and leaves everything after it in the RX -> publisher ring: the
 * ring is the outage buffer (ring.size events of 128 bytes). Publishes that
 * were in flight are resent by the bus with the same Nats-Msg-Id once it is
 * back, so the stream stores each event once. Under ring.full_policy drop the
 * publisher keeps the ring from filling: at the high-water mark it drops the
 * OLDEST queued events down to half the ring, each run counted as one
 * sequence range (so a long outage shows as a few exact ranges, not one per
 * RX burst), and the ring keeps the newest events. */
#ifndef PUBLISH_H
#define PUBLISH_H

#include <stdbool.h>
#include <stdint.h>

#include "mdm_hdr.h"

struct rte_ring;
struct mdm_bus;

/* Latency stages (ns), in order. */
enum publish_stage {
	STAGE_WIRE_TO_DECODED,    /* burst receive -> record built on the RX core */
	STAGE_DECODED_TO_PUBLISH, /* record built -> publish call (ring + encode) */
	STAGE_PUBLISH_TO_ACK,     /* publish call -> JetStream ack (last send) */
	STAGE_WIRE_TO_ACK,        /* burst receive -> ack: the collector end to end */
	STAGE_COUNT
};

extern const char *const publish_stage_names[STAGE_COUNT]; /* "wire_to_decoded", ... */

struct publish_params {
	struct rte_ring *ring;
	struct mdm_bus *bus;
	const char *feed;           /* copied */
	const char *subject_prefix; /* copied, e.g. "md" */
	uint32_t session_date;      /* YYYYMMDD or 0 */
	bool origin_itch;           /* latency from the ITCH timestamp (sender clock), not receive time */
	uint32_t max_in_flight;     /* slot table; publishing waits when all are in use */
	uint32_t idle_spin;
	uint32_t idle_sleep_us;
	bool drop_when_full;        /* ring.full_policy drop: shed the oldest queued events at high water */
	bool views_core;            /* views by core publish, the drain's SNAPSHOTs acked (views.publish core) */
	/* batch mode (publish.mode batch); ignored when `batch` is false */
	bool batch;
	uint32_t batch_max_events;   /* window of sequence numbers, and events per batch at most */
	uint32_t partitions;         /* 1..1024 */
	uint64_t batch_max_delay_ns; /* oldest event's longest wait, when batch_delay_flush */
	bool batch_delay_flush;      /* false for replays: batches cut by the input only */
};

#define PUBLISH_DROP_RANGES 256 /* most recent dropped sequence ranges kept for stats */

/* Counters: written by the publisher lcore (and the ack handler for the
 * outcome counters), read by others with relaxed atomic loads. Every dequeued
 * record ends in exactly one of: stored, duplicates, failed, encode_errors,
 * dropped_at_stop, dropped_full, or is still in flight (publish_in_flight():
 * published and not acked, or waiting in a batch). Counts are events in both
 * modes: the ack of a batch counts all its events. */
struct publish_stats {
	uint64_t dequeued;      /* records taken off the ring */
	uint64_t published;     /* accepted by the bus */
	uint64_t batches;       /* batch mode: EventBatch messages accepted by the bus */
	uint64_t batched;       /* batch mode: events encoded into a batch not yet published */
	uint64_t stored;        /* acked: new in the stream */
	uint64_t duplicates;    /* acked as already stored (same Nats-Msg-Id) */
	uint64_t failed;        /* reported failed by the bus after its retries */
	uint64_t encode_errors; /* dropped: could not be encoded */
	uint64_t dropped_at_stop; /* dequeued but not published: a forced stop interrupted */
	uint64_t dropped_full;  /* drop policy: queued events dropped at the ring's high-water mark */
	uint64_t stalls;        /* publish attempts refused with -EAGAIN and retried */
	uint64_t bus_down_ns;   /* time an event waited in hand while the bus was disconnected */
	uint64_t ring_peak;     /* most events seen queued in the ring while waiting for the bus */
	uint64_t slot_waits;    /* waits for a free in-flight slot */
	uint64_t by_type[256];  /* published, by ITCH type byte */
	uint64_t last_failed_seq;
	uint64_t origin_skew;   /* latency.origin itch: ITCH time after our decode time (clocks disagree) */
	uint64_t first_rx_ns;   /* receive time of the first event published */
	uint64_t last_ack_ns;   /* realtime of the latest ack */
	/* dropped_full as runs of consecutive sequence numbers of one session:
	 * range k is at index k % PUBLISH_DROP_RANGES; drop_ranges is written
	 * (release) after a new range's bounds, drop_last also grows in place */
	uint64_t drop_first[PUBLISH_DROP_RANGES], drop_last[PUBLISH_DROP_RANGES];
	uint64_t drop_ranges;
	/* market views (publish_views.c): not events, so outside the account above */
	uint64_t view_records;  /* view records taken off the ring */
	uint64_t views_bbo;     /* BBO views accepted by the bus */
	uint64_t views_depth;   /* DEPTH views accepted by the bus */
	uint64_t views_core;    /* sent by core publish (views.publish core): stored by the stream, not acked */
	uint64_t views_stored;  /* acked: new in the stream */
	uint64_t views_duplicates; /* acked as already stored (same Msg-Id: a replay) */
	uint64_t views_failed;  /* refused, or failed after the bus's retries */
	uint64_t views_errors;  /* dropped: a part lost, or could not be encoded */
};

struct publish;

int publish_create(struct publish **out, const struct publish_params *p);
void publish_destroy(struct publish *pb);

/* Lcore entry point. Runs until publish_finish() was called and the ring is
 * empty (a graceful stop drains everything), or until publish_abort() (then
 * it returns with records still queued; what it had dequeued unpublished is
 * counted in dropped_at_stop). */
int publish_lcore_main(void *arg);

/* Tell the publisher no more records will come (the RX core has returned):
 * it exits once the ring is empty. Any thread. */
void publish_finish(struct publish *pb);

/* Give up now: stop waiting for ring records, slots or the bus window. */
void publish_abort(struct publish *pb);

const struct publish_stats *publish_stats(const struct publish *pb);

/* Events published and not yet acked/failed, plus events waiting in a batch. */
uint64_t publish_in_flight(const struct publish *pb);

/* Add what the stages recorded since the last take into `out[STAGE_COUNT]`
 * and start a new interval: the interval flip for the stats pass
 * (mdm_lat_recorder_take; the publisher and ack handler never wait for it).
 * Any thread. */
void publish_latency_take(struct publish *pb, struct mdm_hdr *const *out);

#endif
