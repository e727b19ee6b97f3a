/* Finding the UDP datagram in a link-layer frame (Ethernet with up to two
 * VLAN tags, Linux SLL, raw IPv4), for the RX hot path, capture replay and
 * the feed tools. Pure logic on (data, caplen): no DPDK, no NATS, no I/O.
 * The names keep their mdm_pcap_ prefix: the frame is the one a capture
 * reader (mdm_pcap.h) returns, and an mbuf is wrapped into the same view. */
#ifndef MDM_FRAME_H
#define MDM_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Link-layer types (tcpdump.org LINKTYPE_* values) the UDP parser understands. */
#define MDM_PCAP_LINKTYPE_ETHERNET 1
#define MDM_PCAP_LINKTYPE_RAW 101       /* raw IP, no link header */
#define MDM_PCAP_LINKTYPE_LINUX_SLL 113 /* Linux "cooked" capture v1 (tcpdump -i any) */
#define MDM_PCAP_LINKTYPE_IPV4 228

/* One captured frame: a view, never owned by the caller. From a capture
 * reader `data` is libpcap's buffer, valid until the next mdm_pcap_next() or
 * mdm_pcap_reader_close(); on the RX path it is the mbuf's data. */
struct mdm_pcap_frame {
	uint64_t ts_ns;      /* capture time, ns since the Unix epoch */
	const uint8_t *data; /* captured bytes */
	uint32_t caplen;     /* bytes at data */
	uint32_t origlen;    /* length on the wire (>= caplen when the snaplen cut it) */
	uint16_t linktype;   /* MDM_PCAP_LINKTYPE_* of the frame's interface */
};

/* Why a frame carries no usable UDP datagram. The parser never reads past
 * frame->caplen; callers count results with `counts[reason]++`. */
enum mdm_pcap_udp_reason {
	MDM_PCAP_UDP_OK = 0,
	MDM_PCAP_UDP_LINKTYPE,      /* link type the parser does not know */
	MDM_PCAP_UDP_TRUNC_L2,      /* shorter than the link header (+ VLAN tags) */
	MDM_PCAP_UDP_NOT_IPV4,      /* EtherType is not IPv4 (ARP, IPv6, more than 2 tags, ...) */
	MDM_PCAP_UDP_TRUNC_IP,      /* captured bytes end inside the IPv4 header or before total length */
	MDM_PCAP_UDP_BAD_IP,        /* version != 4, IHL < 5, or total length < header length */
	MDM_PCAP_UDP_FRAGMENT,      /* IPv4 fragment (MF set or offset != 0): skipped, not reassembled */
	MDM_PCAP_UDP_NOT_UDP,       /* IPv4 protocol is not 17 */
	MDM_PCAP_UDP_TRUNC_UDP,     /* IP payload shorter than the UDP header or UDP length */
	MDM_PCAP_UDP_BAD_UDP,       /* UDP length < 8 */
	MDM_PCAP_UDP_NREASONS
};

/* A UDP datagram found in a frame: a view into the frame's bytes, valid as
 * long as the frame's data is. Addresses in host byte order. */
struct mdm_pcap_udp {
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint16_t vlan_id;        /* VID of the innermost tag; 0 when untagged */
	uint8_t n_vlans;         /* 0, 1 or 2 */
	uint8_t ttl;
	const uint8_t *payload;  /* UDP payload */
	uint32_t payload_len;    /* from the UDP length field (Ethernet padding excluded) */
};

/* Find the UDP datagram in `frame` (Ethernet with up to two 802.1Q/802.1ad
 * tags, Linux SLL, raw IPv4). Returns MDM_PCAP_UDP_OK with *out filled, or
 * the reason it is not one (*out untouched). Thread-safe, allocation-free,
 * hot-path safe. */
int mdm_pcap_parse_udp(const struct mdm_pcap_frame *frame, struct mdm_pcap_udp *out);

/* Short name of a reason ("ok", "not_ipv4", "fragment", ...). Never NULL. */
const char *mdm_pcap_udp_reason_str(int reason);

/* RFC 1071 Internet checksum of `len` bytes (the IPv4 header checksum when
 * run over a header whose checksum field is zero). A correct header sums to 0. */
uint16_t mdm_pcap_inet_csum(const void *p, size_t len);

#endif
