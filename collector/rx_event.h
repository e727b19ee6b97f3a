/* The record an RX lcore hands to a publisher lcore: one decoded feed message
 * with everything the publisher needs, carried BY VALUE through rte_ring
 * (*_burst_elem), so no mbuf and no pointer crosses cores (STYLE.md section 5).
 * Exactly two cache lines. */
#ifndef RX_EVENT_H
#define RX_EVENT_H

#include <stdint.h>

#include "encode.h"
#include "itch.h"

#define RX_EVENT_SIZE 128

#define RX_EV_ORDER 0x01 /* order-scoped message: `order` is valid */

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

#endif
