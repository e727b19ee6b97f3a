/* EventBatch messages of publish.mode batch (DESIGN.md: stream MDB, subject
 * mdb.<feed>.<partition>, one mdmesh.v1.EventBatch per message).
 *
 * The batch is packed by appending bytes, never through protobuf-c: the
 * header fields feed (1) and partition (2) are written once when the buffer
 * is set up, and each event's already encoded MarketEvent bytes are appended
 * as field 3 (tag 0x1a, varint length, bytes). The result is canonical: the
 * bytes protobuf-c packs for the same EventBatch (partition 0 is omitted, as
 * proto3 omits default scalars).
 *
 * Names: subject mdb.<feed>.<partition>; Nats-Msg-Id
 * <feed>.<session>.<first_seq>-<last_seq>.<partition>, unique because a batch
 * holds the events of one partition, one session and one contiguous stretch of
 * sequence numbers, and two batches of a partition never share a sequence.
 * Pure functions, no allocation, hot-path safe. */
#ifndef EVBATCH_H
#define EVBATCH_H

#include <stddef.h>
#include <stdint.h>

/* Largest EventBatch message: below nats-server's default max_payload
 * (1 MiB) with room for the headers, so a batch is never refused for size. */
#define EVBATCH_MAX_BYTES 1000000u
#define EVBATCH_SUBJECT_MAX 64 /* "mdb." + feed(32) + "." + u32(10) + NUL */
#define EVBATCH_MSGID_MAX 112  /* feed(32) + session(10) + 2 x u64(20) + u32(10) + separators */
#define EVBATCH_SUBJECT_PREFIX "mdb"

struct evbatch {
	uint8_t *buf;
	size_t cap;
	size_t head_len; /* feed and partition fields */
	size_t len;      /* bytes packed so far */
	uint32_t n;      /* events appended */
};

/* Buffer size for batches of up to max_events events of at most
 * max_event_len bytes each, for feed names up to feed_max bytes: enough for
 * every such batch, capped at EVBATCH_MAX_BYTES. */
size_t evbatch_buffer_size(uint32_t max_events, size_t max_event_len, size_t feed_max);

/* Set `b` up on buf[0..cap) and write the header fields. Returns 0, or
 * -ENOSPC when cap cannot hold the header and one max_event_len event. */
int evbatch_init(struct evbatch *b, uint8_t *buf, size_t cap, const char *feed, uint32_t partition,
		 size_t max_event_len);

/* Forget the events, keep the header. */
void evbatch_clear(struct evbatch *b);

/* Append one packed MarketEvent as field 3. Returns 0, or -ENOSPC when it
 * does not fit (the batch is unchanged: publish it and append again). */
int evbatch_add(struct evbatch *b, const uint8_t *ev, size_t len);

/* The partition of a symbol (8 bytes, NUL-padded): FNV-1a of its bytes up to
 * the first NUL, modulo `partitions` (> 0). Fixed, so a symbol keeps its
 * partition across runs and collector instances. */
uint32_t evbatch_partition(const char symbol[8], uint32_t partitions);

/* Subject mdb.<feed>.<partition>. Returns the length, or -ENOSPC. */
int evbatch_subject(char *out, size_t cap, const char *feed, uint32_t partition);

/* Nats-Msg-Id <feed>.<session>.<first>-<last>.<partition>. Returns the
 * length, or -ENOSPC. */
int evbatch_msg_id(char *out, size_t cap, const char *feed, const char *session, uint64_t first, uint64_t last,
		   uint32_t partition);

#endif
