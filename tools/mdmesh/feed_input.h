/* Shared by `mdmesh feed dump` and `feed bench`: load a capture, pick the UDP
 * payloads of the feed's line(s) by destination, and name them in order. */
#ifndef MDMESH_FEED_INPUT_H
#define MDMESH_FEED_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_pcap.h"

/* A destination filter "ADDR:PORT" (either part may be "*" or omitted). */
struct feed_dst {
	uint32_t ip;   /* host order; 0 = any */
	uint16_t port; /* 0 = any */
	bool set;
};

/* Parse "233.54.12.111:26477", "233.54.12.111", ":26477". 0 or -EINVAL. */
int feed_dst_parse(const char *s, struct feed_dst *out);

/* Line of a datagram: 0 for line A (dst_a), 1 for line B (dst_b), -1 when it
 * matches neither. With no filter set, every datagram is line A. */
int feed_dst_line(const struct feed_dst *a, const struct feed_dst *b, const struct mdm_pcap_udp *u);

/* Frames skipped while selecting payloads, by reason. */
struct feed_input_stats {
	uint64_t frames;
	uint64_t not_udp[MDM_PCAP_UDP_NREASONS];
	uint64_t other_dst;
};

#endif
