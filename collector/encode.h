/* Decoded ITCH message -> packed mdmesh.v1.MarketEvent bytes.
 *
 * The ITCH field table (itch_msgs.def) and the protobuf descriptors share field
 * names, so the mapping is resolved once at create time; encoding is then one
 * loop over the type's fields writing protobuf wire format directly (canonical:
 * the same bytes protobuf-c would pack). No allocation per event. One encoder
 * per thread (not thread-safe). */
#ifndef ENCODE_H
#define ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feed.h"
#include "itch.h"
#include "views.h"

/* Upper bound of one packed MarketEvent: every string in it is bounded (feed
 * name <= ENCODE_FEED_MAX, session 10, symbol <= SYMBOLS_TEXT_MAX, the alphas
 * of a message <= ITCH_TEXT_MAX of its 50 bytes), so a buffer this big always
 * suffices. */
#define ENCODE_MAX_EVENT_LEN 512
#define ENCODE_FEED_MAX 32

struct encoder;

/* The order an order-scoped message (E, C, X, D, U) refers to, from the book.
 * Carried by value in struct rx_event (24 bytes), so RX fills it once and the
 * publisher hands it to the encoder as is. */
struct encode_order {
	uint64_t ref;              /* order reference number */
	uint32_t price;            /* Price(4) */
	uint32_t remaining_shares; /* after this message */
	bool known;                /* false: not in the book (joined mid-session) */
	char side;                 /* 'B' / 'S' (0 when unknown) */
};

/* The order state of a book view (feed_msg.order), for the encoder. */
static inline void encode_order_from_view(struct encode_order *eo, const struct book_view *v)
{
	eo->ref = v->ref;
	eo->price = v->price;
	eo->remaining_shares = v->shares;
	eo->known = v->flags & BOOK_VIEW_KNOWN;
	eo->side = (char)v->side;
}

/* Per-event context the decoder does not know. Strings are borrowed for the
 * duration of the encode call. */
struct encode_meta {
	const char *session;             /* trimmed MoldUDP64 session */
	uint64_t seq;
	const char *symbol;              /* symbol text (symbols_text), "" if none */
	uint64_t rx_ts_ns;
	uint64_t pub_ts_ns;
	uint64_t wire_ts_ns;
	uint32_t session_date;           /* YYYYMMDD or 0 */
	const struct encode_order *order; /* NULL for messages that are not order-scoped */
	const struct book_bbo *quote;     /* E, C, P, Q: the BBO just before (quote_before); NULL = none */
};

/* Fill `meta` for a message the feed chain delivered: session, seq, its
 * symbol's text, written into `symbol`, and the order state from its book
 * view, stored in *eo (timestamps zero). */
void encode_meta_from_feed(struct encode_meta *meta, struct encode_order *eo, char symbol[SYMBOLS_TEXT_MAX + 1],
			   const struct feed_msg *fm);

/* Create an encoder for feed `feed` (copied; 1..ENCODE_FEED_MAX chars).
 * Returns 0, -EINVAL (bad feed name, or the ITCH table and events.proto
 * disagree: detail via mdm_err_last()), -ENOMEM. */
int encode_create(struct encoder **out, const char *feed);

/* NULL-safe. */
void encode_destroy(struct encoder *e);

/* Encode `m` with `meta` into buf[0..cap). Sets *len. Returns 0, or -ENOSPC
 * when cap is too small (never with cap >= ENCODE_MAX_EVENT_LEN). Hot-path safe. */
int encode_event(struct encoder *e, const struct itch_msg *m, const struct encode_meta *meta, uint8_t *buf,
		 size_t cap, size_t *len);

/* A market view's header (views.h): no ITCH message behind it. Strings are
 * borrowed for the call. */
struct encode_view {
	const char *session;
	const char *symbol;
	uint64_t seq;            /* the last message that changed the view */
	uint64_t exchange_ts_ns; /* its ITCH timestamp */
	uint64_t rx_ts_ns;
	uint64_t pub_ts_ns;
	uint32_t session_date;
	uint16_t stock_locate;
	uint8_t flags;           /* VIEWS_F_* */
};

/* Upper bound of a packed Depth of n levels (both sides together). */
#define ENCODE_MAX_DEPTH_LEN(n) (300 + 25 * (size_t)(n))

/* A mdmesh.v1.Bbo, canonical. 0, or -ENOSPC (never with cap >= ENCODE_MAX_EVENT_LEN). */
int encode_bbo(struct encoder *e, const struct encode_view *v, const struct book_bbo *q, uint8_t *buf, size_t cap,
	       size_t *len);

/* A mdmesh.v1.Depth (bids, then asks, best first), canonical. 0, or -ENOSPC
 * (never with cap >= ENCODE_MAX_DEPTH_LEN(n_bids + n_asks)). */
int encode_depth(struct encoder *e, const struct encode_view *v, const struct book_level_info *bids, unsigned n_bids,
		 const struct book_level_info *asks, unsigned n_asks, uint8_t *buf, size_t cap, size_t *len);

/* A Bbo or Depth read back (for readers of the streams: `mdmesh book`, the
 * collector's /book.json): the view in o, its levels in lv (o.bids, o.asks
 * point there; at most VIEWS_MAX_LEVELS a side kept), symbol and session as
 * C strings. */
struct encode_view_read {
	struct views_out o;
	struct book_level_info lv[2 * VIEWS_MAX_LEVELS];
	char symbol[9], session[11];
};

/* Decode a Bbo (bbo) or a Depth into *out. false when the bytes are not one. */
bool encode_view_read(const uint8_t *data, size_t len, bool bbo, struct encode_view_read *out);

#endif
