/* The record an RX lcore hands to a publisher lcore: one decoded feed message
 * with everything the publisher needs, carried BY VALUE through rte_ring
 * (*_burst_elem), so no mbuf and no pointer crosses cores (STYLE.md section 5).
 * Exactly two cache lines. */
#ifndef RX_EVENT_H
#define RX_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "encode.h"
#include "itch.h"

#define RX_EVENT_SIZE 128

#define RX_EV_ORDER 0x01 /* order-scoped message: `order` is valid */
/* Market views (views_rec.h) ride the same ring, so they keep the feed's
 * order, back-pressure and stop protocol. Their payload (RX_EV_PAYLOAD bytes)
 * takes the place of `order` and `msg`; `reserved` holds the view's header. */
#define RX_EV_QUOTE 0x02 /* TBBO: struct book_bbo, the quote before the next record's event (same seq) */
#define RX_EV_BBO 0x04   /* a BBO view: struct rx_bbo */
#define RX_EV_DEPTH 0x08 /* one part of a DEPTH view: struct rx_depth */
#define RX_EV_VIEWS (RX_EV_QUOTE | RX_EV_BBO | RX_EV_DEPTH) /* records that are no event */

struct rx_event {
	uint64_t seq;             /* MoldUDP64 sequence number */
	uint64_t rx_ts_ns;        /* CLOCK_REALTIME when the burst was received */
	uint64_t wire_ts_ns;      /* PMD/NIC timestamp in ns, 0 when none */
	uint32_t decode_ns;       /* burst receive -> this record built (the decode stage) */
	uint32_t reserved;
	struct encode_order order; /* the book's view of the order (RX_EV_ORDER) */
	char symbol[8];           /* the event's stock as sent, padding trimmed, NUL-padded */
	char session[10];         /* NUL-padded, trimmed */
	uint8_t flags;            /* RX_EV_* */
	uint8_t len;              /* message bytes in msg[] */
	uint8_t line;
	uint8_t msg[ITCH_MAX_MSG_LEN];
	uint8_t symbol_len;       /* bytes of symbol[] (it may hold a NUL as sent); 0 = none */
};

_Static_assert(sizeof(struct rx_event) == RX_EVENT_SIZE, "rx_event must be two cache lines");

#define RX_EV_PAYLOAD (sizeof(struct encode_order) + ITCH_MAX_MSG_LEN)
#define RX_DEPTH_PART_LEVELS 4

/* RX_EV_BBO payload. */
struct rx_bbo {
	uint64_t ts_ns;
	struct book_bbo bbo;
} __attribute__((packed));

/* RX_EV_DEPTH payload: levels [RX_DEPTH_PART_LEVELS * part, ...) of the
 * view's bids followed by its asks (a view of n levels takes
 * max(1, ceil(n / RX_DEPTH_PART_LEVELS)) consecutive records). */
struct rx_depth {
	uint64_t ts_ns;
	uint8_t n_bids, n_asks;
	struct book_level_info lv[RX_DEPTH_PART_LEVELS];
} __attribute__((packed));

_Static_assert(sizeof(struct rx_bbo) <= RX_EV_PAYLOAD, "a BBO fits one record");
_Static_assert(sizeof(struct book_bbo) <= RX_EV_PAYLOAD, "a quote fits one record");
_Static_assert(sizeof(struct rx_depth) <= RX_EV_PAYLOAD, "a depth part fits one record");

/* `reserved` of a view record: part (depth) | shared_seq << 5 | flags << 6 | locate << 16. */
#define RX_VIEW_HDR(part, shared, flags, locate) \
	((uint32_t)(part) | (uint32_t)!!(shared) << 5 | (uint32_t)((flags) & 7) << 6 | (uint32_t)(locate) << 16)
#define RX_VIEW_PART(r) ((r) & 31u)
#define RX_VIEW_SHARED(r) (((r) >> 5) & 1u)
#define RX_VIEW_FLAGS(r) ((uint8_t)(((r) >> 6) & 7u))
#define RX_VIEW_LOCATE(r) ((uint16_t)((r) >> 16))

/* Payload of a view record: the `order` bytes, then the `msg` bytes. */
static inline void rx_event_payload_put(struct rx_event *e, const void *p, size_t n)
{
	size_t a = n < sizeof(e->order) ? n : sizeof(e->order);

	memcpy(&e->order, p, a);
	memcpy(e->msg, (const uint8_t *)p + a, n - a);
}

static inline void rx_event_payload_get(const struct rx_event *e, void *p, size_t n)
{
	size_t a = n < sizeof(e->order) ? n : sizeof(e->order);

	memcpy(p, &e->order, a);
	memcpy((uint8_t *)p + a, e->msg, n - a);
}

#endif
