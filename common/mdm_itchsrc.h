/* A NASDAQ BinaryFILE as a stream of MoldUDP64 packets, packed as the
 * exchange packs them: consecutive messages share a packet up to a payload
 * limit and, optionally, a time span (a live sender must not hold an early
 * message back for a late one). Sequence numbers are the record numbers,
 * from 1. This is how `mdmesh feed --itch` and `mdmesh-loadgen --from-itch`
 * put a historical file through the same path as a capture. Constant memory;
 * one thread per source. */
#ifndef MDM_ITCHSRC_H
#define MDM_ITCHSRC_H

#include <stddef.h>
#include <stdint.h>

#include "mdm_itchfile.h"

struct mdm_itchsrc_params {
	const char *path;     /* BinaryFILE, gzip'd or plain */
	const char *session;  /* MoldUDP64 session; NULL = MDM_ITCHSRC_SESSION_DEFAULT */
	size_t max_payload;   /* 0 = 1400 bytes (MDM_MOLDPACK_PAYLOAD_DEFAULT) */
	uint64_t max_span_ns; /* ITCH time from a packet's first message to its last; 0 = no limit */
};

#define MDM_ITCHSRC_SESSION_DEFAULT "BINARYFILE"

struct mdm_itchsrc_packet {
	const uint8_t *payload;  /* MoldUDP64 bytes, valid until the next call */
	size_t len;
	uint64_t seq;            /* first message's sequence number (= record number) */
	uint16_t count;
	uint64_t first_ts_ns;    /* ITCH timestamps (ns since midnight) of its first and last */
	uint64_t last_ts_ns;     /* message; a message too short to carry one inherits the last */
};

struct mdm_itchsrc;

/* 0, or -errno with detail (mdm_itchfile_open's). */
int mdm_itchsrc_open(struct mdm_itchsrc **out, const struct mdm_itchsrc_params *p);

/* Next packet: 1, 0 at the end of the file (see mdm_itchsrc_file for a
 * truncated tail), or -errno with "PATH: offset N: reason". */
int mdm_itchsrc_next(struct mdm_itchsrc *s, struct mdm_itchsrc_packet *pkt);

/* The underlying reader (its stats, its truncation line). */
const struct mdm_itchfile *mdm_itchsrc_file(const struct mdm_itchsrc *s);

/* NULL-safe. */
void mdm_itchsrc_close(struct mdm_itchsrc *s);

/* The ITCH 5.0 timestamp (ns since midnight) of msg[0..len), 0 when it is
 * too short to carry one. */
uint64_t mdm_itchsrc_msg_ts(const uint8_t *msg, size_t len);

#endif
