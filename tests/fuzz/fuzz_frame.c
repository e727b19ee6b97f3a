/* Fuzz target: bytes are one captured frame, the first byte choosing its link
 * type (Ethernet, Linux SLL, raw IPv4), run through the RX core's path: the
 * frame parser (mdm_pcap_parse_udp) and, for a UDP datagram, the feed chain on
 * its payload, as rx_packet does. Random bytes as raw Ethernet frames and
 * every lie an IPv4/UDP header can tell reach the parser here. Invariants: a
 * documented reason or a payload inside the captured bytes whose length is
 * the UDP length's; every message the feed emits lies inside that payload. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "feed.h"
#include "mdm_pcap.h"

static const uint16_t linktypes[] = { MDM_PCAP_LINKTYPE_ETHERNET, MDM_PCAP_LINKTYPE_LINUX_SLL,
				      MDM_PCAP_LINKTYPE_RAW, MDM_PCAP_LINKTYPE_IPV4 };

struct fz {
	const uint8_t *lo, *hi; /* the UDP payload */
	unsigned events;
};

static void emit(void *ctx, const struct feed_msg *fm)
{
	struct fz *z = ctx;

	FUZZ_CHECK(fm->m->p >= z->lo && fm->m->p + fm->m->desc->length <= z->hi);
	z->events++;
}

static struct feed *the_feed;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_params fp = { .n_lines = 1, .book_capacity = 256, .gap_capacity = 8, .pending_ns = 10 };
	struct mdm_pcap_frame fr = { 0 };
	struct mdm_pcap_udp u;
	struct fz z = { 0 };
	int rc;

	if (size < 1)
		return 0;
	if (!the_feed && feed_create(&the_feed, &fp) != 0)
		abort();
	fr.linktype = linktypes[data[0] % (sizeof(linktypes) / sizeof(linktypes[0]))];
	fr.data = data + 1;
	fr.caplen = (uint32_t)(size - 1);
	fr.origlen = fr.caplen + (data[0] >> 4); /* a snaplen cut must not matter */
	rc = mdm_pcap_parse_udp(&fr, &u);
	FUZZ_CHECK(rc >= 0 && rc < MDM_PCAP_UDP_NREASONS && mdm_pcap_udp_reason_str(rc) != NULL);
	if (rc != MDM_PCAP_UDP_OK)
		return 0;
	FUZZ_CHECK(u.payload >= fr.data && u.payload + u.payload_len <= fr.data + fr.caplen);
	FUZZ_CHECK(u.payload_len <= 65535 - 8 && u.n_vlans <= 2);
	feed_reset(the_feed);
	z.lo = u.payload;
	z.hi = u.payload + u.payload_len;
	FUZZ_CHECK(feed_on_packet(the_feed, u.payload, u.payload_len, 0, 1, emit, &z) == z.events);
	return 0;
}
