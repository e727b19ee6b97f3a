/* Book checkpoint format: what a collector needs to continue a session with
 * its book intact (live orders, symbol map, trading states, and where in the
 * session and in the stream the state stands), as one versioned, checksummed
 * binary blob. Stored as object <feed>.<instance> in Object Store bucket
 * mdmesh-checkpoints (ckpt_writer.h).
 *
 * Layout, version 1, little-endian:
 *   header, CKPT_HEADER_LEN bytes:
 *     0 magic "MDMCKPT\0" | 8 u32 version | 12 u32 header length
 *     16 u64 body length | 24 feed[32] | 56 session[16] (NUL-padded)
 *     72 u64 stream_seq | 80 u64 feed_seq | 88 u64 created_ns
 *     96 u64 orders | 104 u32 symbols | 108 u32 states | 112 u32 book capacity
 *     116 reserved, zero
 *   symbols: (u16 locate, stock[8] as sent)                    10 bytes each
 *   states:  (u16 locate, u8 trading state, reason[4])          7 bytes each
 *   orders:  (u64 ref, u32 shares, u32 price, u16 locate, u8 side, u8 0)
 *                                                               20 bytes each
 *   trailer: SHA-256 of everything before it (32 bytes)
 * A reader refuses, with the reason: a short or long blob, another magic or
 * version, sections that do not add up to the body, a checksum mismatch, and
 * content a book would not hold (side, zero shares, duplicate reference, more
 * orders than the book takes).
 *
 * Not hot-path: allocates (the output buffer), O(book capacity). */
#ifndef CKPT_H
#define CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "book.h"
#include "symbols.h"

#define CKPT_MAGIC "MDMCKPT"
#define CKPT_VERSION 1
#define CKPT_HEADER_LEN 128
#define CKPT_TRAILER_LEN 32
#define CKPT_SYMBOL_LEN 10
#define CKPT_STATE_LEN 7
#define CKPT_ORDER_LEN 20
#define CKPT_FEED_MAX 31
#define CKPT_SESSION_MAX 15

struct mdm_buf;

/* The trading state of a locate, from Stock Trading Action (H); state 0 =
 * none seen. */
struct ckpt_tstate {
	uint8_t state;     /* 'H', 'P', 'Q', 'T' */
	uint8_t reason[4]; /* as sent */
};

struct ckpt_header {
	char feed[CKPT_FEED_MAX + 1];
	char session[CKPT_SESSION_MAX + 1];
	uint64_t stream_seq;  /* the last stream message whose event is in the state */
	uint64_t feed_seq;    /* the highest feed sequence number in the state */
	uint64_t created_ns;  /* CLOCK_REALTIME */
	uint64_t orders;      /* filled by ckpt_encode / ckpt_decode */
	uint32_t symbols, states, book_capacity;
};

/* Encode h (feed, session, stream_seq, feed_seq, created_ns) and the state
 * (tstates: 65536 entries, may be NULL) into out (replaced). Sets h's counts.
 * 0, -EINVAL (feed or session too long), -ENOMEM, -EIO (hash). */
int ckpt_encode(struct ckpt_header *h, const struct book *b, const struct symbols *s,
		const struct ckpt_tstate *tstates, struct mdm_buf *out);

/* Check p[0..len) completely (layout, checksum, content), then, when b is not
 * NULL, load it: the book and symbol map are reset and filled, tstates (65536
 * entries, may be NULL) cleared and filled. On any refusal nothing is loaded.
 * 0, or -EBADMSG (corrupt or truncated), -EPROTO (another version), -ENOSPC
 * (the book is too small) with the reason in mdm_err_last(). */
int ckpt_decode(const uint8_t *p, size_t len, struct ckpt_header *h, struct book *b, struct symbols *s,
		struct ckpt_tstate *tstates);

#endif
