/* MoldUDP64 framing (ITCH_FACTS.md section 3): a zero-copy view of one
 * downstream packet (header + message blocks) and the 20-byte re-request
 * packet. Pure logic: no DPDK, no NATS, no allocation. Every function is
 * thread-safe (no shared state) and hot-path safe.
 *
 * Framing policy: mold_parse() validates the framing of the WHOLE packet
 * before any message is handed out. Any framing error rejects the whole
 * packet: none of its messages are delivered, and the sequencer never sees
 * it, so the packet shows up as a gap that recovery can re-request. Delivering
 * the messages in front of a bad block would leave the sequencer unable to
 * say which sequence numbers the packet really covered. */
#ifndef MOLD_H
#define MOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_enum.h"

#define MOLD_SESSION_LEN 10
#define MOLD_HEADER_LEN 20   /* session 10 + sequence 8 + count 2 */
#define MOLD_REQUEST_LEN 20  /* same layout as the downstream header */
#define MOLD_BLOCK_HDR_LEN 2 /* u16 message length, excluding itself */
#define MOLD_COUNT_EOS 0xFFFF

/* Default largest accepted UDP payload: a 1500-byte Ethernet MTU less the
 * IPv4 (20) and UDP (8) headers. NASDAQ's own cap is 1440; a feed on jumbo
 * frames raises it through struct mold_params. */
#define MOLD_MAX_PACKET_DEFAULT 1472

enum mold_kind {
	MOLD_KIND_DATA = 0,           /* count >= 1 message blocks */
	MOLD_KIND_HEARTBEAT = 1,      /* count 0; seq = sender's next sequence */
	MOLD_KIND_END_OF_SESSION = 2, /* count 0xFFFF, no blocks; seq = next */
};

/* Why a packet was rejected: one row per outcome, 0 = accepted. The name is
 * the stats key and the /metrics `reason` label ("short_header", ...); every
 * counter by reason is an array indexed by the status, named from this table. */
#define MOLD_STATUSES(X)                                                                          \
	X(MOLD_OK, "ok")                                                                          \
	X(MOLD_ERR_OVERSIZE, "oversize")                  /* payload longer than params.max_packet_len */ \
	X(MOLD_ERR_SHORT_HEADER, "short_header")          /* fewer than MOLD_HEADER_LEN bytes */         \
	X(MOLD_ERR_BLOCK_TRUNCATED, "block_header_truncated") /* a block's 2-byte length is cut off */  \
	X(MOLD_ERR_ZERO_LENGTH, "zero_length_block")      /* a block of length 0 (no ITCH type byte) */ \
	X(MOLD_ERR_BLOCK_OVERRUN, "block_overrun")        /* a block's length runs past the packet end */ \
	X(MOLD_ERR_COUNT_OVERRUN, "count_overrun")        /* packet ends before `count` blocks were seen */ \
	X(MOLD_ERR_TRAILING, "trailing_bytes")            /* bytes after the last block (only if reject_trailing) */

enum mold_status { MOLD_STATUSES(MDM_ENUM_ID) MOLD_STATUS_COUNT };

/* Parse settings; zero-initialised means the defaults. */
struct mold_params {
	uint32_t max_packet_len; /* 0 = MOLD_MAX_PACKET_DEFAULT */
	/* Bytes after the last of `count` blocks. Default (false): accepted, and
	 * reported through mold_pkt.trailing_len. The blocks fully define the
	 * packet's sequence range and every message in it is intact, while a
	 * rejected packet would come back identical from the re-request server,
	 * turning harmless padding into permanent loss. true: MOLD_ERR_TRAILING. */
	bool reject_trailing;
};

/* A validated packet. Pointers borrow the caller's buffer: valid as long as
 * it is (for the collector, until the mbuf burst is freed). */
struct mold_pkt {
	const uint8_t *session; /* MOLD_SESSION_LEN bytes, not NUL-terminated */
	uint64_t seq;           /* sequence number of the first message (or next, for HB/EOS) */
	uint16_t count;         /* message blocks: 0 for heartbeat and end-of-session */
	uint8_t kind;           /* enum mold_kind */
	uint32_t trailing_len;  /* bytes after the last block (0 on a well-formed packet) */
	const uint8_t *blocks;  /* first block header */
	const uint8_t *end;     /* one past the last block */
};

/* Iterator over a validated packet's blocks. */
struct mold_iter {
	const uint8_t *p;
	const uint8_t *end;
	uint32_t left;
};

/* Validate the framing of the UDP payload p[0..len) and fill `out`.
 * params may be NULL (defaults). Reads nothing outside p[0..len), whatever the
 * bytes. Returns MOLD_OK or the reason the packet is rejected; `out` is filled
 * only on MOLD_OK. Cost: one pass over the block length headers. */
enum mold_status mold_parse(const uint8_t *p, size_t len, const struct mold_params *params, struct mold_pkt *out);

/* Stable snake_case name of a status (MOLD_STATUSES), for stats keys and
 * metric labels; "unknown" outside the table. */
const char *mold_status_name(enum mold_status status);

/* Start iterating the blocks of a packet that mold_parse() accepted. */
static inline void mold_iter_init(struct mold_iter *it, const struct mold_pkt *pkt)
{
	it->p = pkt->blocks;
	it->end = pkt->end;
	it->left = pkt->kind == MOLD_KIND_DATA ? pkt->count : 0;
}

/* Next message block: sets *msg and *len to the message bytes (after the length
 * header) and returns true; false when the packet is exhausted. The bounds
 * check repeats mold_parse()'s, so an iterator over a hand-made mold_pkt can
 * still never read past `end`. */
static inline bool mold_next(struct mold_iter *it, const uint8_t **msg, size_t *len)
{
	size_t n;

	if (it->left == 0 || (size_t)(it->end - it->p) < MOLD_BLOCK_HDR_LEN)
		return false;
	n = (size_t)it->p[0] << 8 | it->p[1];
	if (n > (size_t)(it->end - it->p) - MOLD_BLOCK_HDR_LEN)
		return false;
	*msg = it->p + MOLD_BLOCK_HDR_LEN;
	*len = n;
	it->p += MOLD_BLOCK_HDR_LEN + n;
	it->left--;
	return true;
}

/* Write a re-request packet asking for `count` messages from `seq` of
 * `session` (MOLD_SESSION_LEN bytes, as received) into out[0..cap).
 * Returns MOLD_REQUEST_LEN, -ENOSPC if cap < MOLD_REQUEST_LEN, or -EINVAL if
 * seq is 0 or count is 0 or MOLD_COUNT_EOS (not a request for messages). */
int mold_request_build(uint8_t *out, size_t cap, const uint8_t *session, uint64_t seq, uint16_t count);

/* Parse a re-request packet (what a request server receives). Returns 0 and
 * fills the outputs, or -EINVAL if len != MOLD_REQUEST_LEN. */
int mold_request_parse(const uint8_t *p, size_t len, const uint8_t **session, uint64_t *seq, uint16_t *count);

#endif
