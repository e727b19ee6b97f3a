/* The collector's state rebuilt from its own stream: every MarketEvent of
 * the feed that stream MD (or MDB) stored, turned back into its ITCH message
 * (the body's fields are the ITCH fields by name: itch_msgs.def) and applied
 * to a book, a symbol map and the trading states exactly as the RX core's
 * feed applies the live message. A checkpoint is this state (ckpt.h) at a
 * stream sequence; a warm start loads one and replays the stream after it.
 *
 * Why from the stream and not from the RX core's book: the RX core is never
 * touched (nothing to copy, no stall, whatever the book's size), and the
 * state is exact at a stream position, so "replay what the stream stored
 * after it" gives the book of everything stored, gap fills included, in the
 * order they were stored. The cost is a second book in memory and decoding
 * the feed once more on another thread.
 *
 * One owner thread; allocates at create only (and in encode). */
#ifndef REPLICA_H
#define REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "book.h"
#include "ckpt.h"
#include "symbols.h"

struct mdm_buf;
struct replica;

struct replica_stats {
	uint64_t events;       /* events of the feed applied */
	uint64_t other;        /* events of other feeds, or undecodable, skipped */
	uint64_t sessions;     /* session changes (state reset) */
	uint64_t stream_seq;   /* last stream message applied */
	uint64_t feed_seq;     /* highest feed sequence number applied */
};

/* feed: the feed whose events count (copied). book_capacity: order slots as
 * feed.book_capacity (0 = book default). 0, -EINVAL, -ENOMEM. */
int replica_create(struct replica **out, const char *feed, uint32_t book_capacity);
void replica_destroy(struct replica *r);

/* One stream message (a MarketEvent, or an EventBatch when batch) stored at
 * stream_seq. Events of other feeds are skipped. 0, or -EBADMSG (not
 * decodable: counted in `other`, the message is skipped). */
int replica_apply(struct replica *r, const void *data, size_t len, bool batch, uint64_t stream_seq);

/* Empty state, no session. */
void replica_reset(struct replica *r);

/* Seed the symbol map (a cold start: what resume.h read back). */
void replica_seed_symbol(struct replica *r, uint16_t locate, const char *text);

/* The state as a checkpoint into out; *h (may be NULL) gets its header. */
int replica_encode(struct replica *r, uint64_t now_ns, struct mdm_buf *out, struct ckpt_header *h);

/* Replace the state with checkpoint p[0..len) (ckpt_decode). On a refusal
 * the state is empty. */
int replica_load(struct replica *r, const uint8_t *p, size_t len, struct ckpt_header *h);

const struct book *replica_book(const struct replica *r);
const struct symbols *replica_symbols(const struct replica *r);
const char *replica_session(const struct replica *r); /* "" before the first event */
const struct replica_stats *replica_stats(const struct replica *r);

#endif
