/* MoldUDP64 packet builder: messages in, downstream packets out, as an
 * exchange packs them (as many whole messages as fit under a payload limit,
 * each sequence number one more than the last). Used wherever a message
 * stream without framing (a NASDAQ BinaryFILE, a SoupBinTCP session) has to go
 * where MoldUDP64 packets go: pcaps, live multicast, the collector's decode
 * chain. Caller-owned storage; pure logic; hot-path safe (no allocation). */
#ifndef MDM_MOLDPACK_H
#define MDM_MOLDPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MDM_MOLDPACK_HDR 20         /* session 10, sequence 8, count 2 */
#define MDM_MOLDPACK_PAYLOAD_DEFAULT 1400
#define MDM_MOLDPACK_BUF (MDM_MOLDPACK_HDR + 2 + 65535)

/* Fields read-only outside mdm_moldpack.c. */
struct mdm_moldpack {
	uint8_t session[10];  /* space-padded */
	uint64_t seq;         /* sequence number of the packet's first message */
	uint16_t count;       /* messages in the packet being built */
	size_t len;           /* bytes of buf in use */
	size_t max_payload;   /* packet size limit */
	uint8_t buf[MDM_MOLDPACK_BUF];
};

/* Start at sequence first_seq (>= 1) of `session` (1..10 characters, longer
 * is cut), packets up to max_payload bytes (22..65535 + 20; 0 = 1400). */
void mdm_moldpack_init(struct mdm_moldpack *p, const char *session, uint64_t first_seq, size_t max_payload);

/* Add one message (1..65535 bytes). Returns true when it went into the
 * packet; false when the packet must be taken first (it holds messages and
 * this one would not fit). A message too large for any packet under the limit
 * goes alone into a packet beyond it (the receiver judges it). */
bool mdm_moldpack_add(struct mdm_moldpack *p, const uint8_t *msg, size_t len);

/* The finished packet (NULL and *len 0 when it holds no message); the
 * builder moves on to the next sequence number. The bytes stay valid until
 * the next add. */
const uint8_t *mdm_moldpack_take(struct mdm_moldpack *p, size_t *len);

/* A heartbeat (count 0, seq = the next sequence number) or, with
 * end_of_session, an end-of-session packet (count 0xFFFF) into out[20]. */
void mdm_moldpack_control(const struct mdm_moldpack *p, bool end_of_session, uint8_t out[MDM_MOLDPACK_HDR]);

#endif
