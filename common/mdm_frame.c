/* The Ethernet / 802.1Q / Linux SLL / raw IPv4 + UDP frame parser: finds the
 * UDP payload in a captured or received frame. Shared by the RX hot path,
 * capture replay and the feed tools; allocation-free and bounds-checked
 * against caplen before every load. */
#include "mdm_frame.h"

#include "mdm_endian.h"

#define ETH_HDR 14
#define VLAN_TAG 4
#define IP_HDR 20
#define UDP_HDR 8

uint16_t mdm_pcap_inet_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += mdm_be16(b + i);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int mdm_pcap_parse_udp(const struct mdm_pcap_frame *frame, struct mdm_pcap_udp *out)
{
	const uint8_t *p = frame->data;
	uint32_t cap = frame->caplen, off, ihl, total, ip_end, ulen;
	uint16_t et, vid = 0, frag;
	uint8_t n_vlans = 0;

	switch (frame->linktype) {
	case MDM_PCAP_LINKTYPE_ETHERNET:
		if (cap < ETH_HDR)
			return MDM_PCAP_UDP_TRUNC_L2;
		et = mdm_be16(p + 12);
		off = ETH_HDR;
		while (et == 0x8100 || et == 0x88a8 || et == 0x9100) {
			if (n_vlans == 2)
				return MDM_PCAP_UDP_NOT_IPV4;
			if (cap < off + VLAN_TAG)
				return MDM_PCAP_UDP_TRUNC_L2;
			vid = mdm_be16(p + off) & 0x0fff;
			et = mdm_be16(p + off + 2);
			off += VLAN_TAG;
			n_vlans++;
		}
		break;
	case MDM_PCAP_LINKTYPE_LINUX_SLL:
		if (cap < 16)
			return MDM_PCAP_UDP_TRUNC_L2;
		et = mdm_be16(p + 14);
		off = 16;
		break;
	case MDM_PCAP_LINKTYPE_RAW:
	case MDM_PCAP_LINKTYPE_IPV4:
		if (cap < 1)
			return MDM_PCAP_UDP_TRUNC_IP;
		et = (p[0] >> 4) == 4 ? 0x0800 : 0;
		off = 0;
		break;
	default:
		return MDM_PCAP_UDP_LINKTYPE;
	}
	if (et != 0x0800)
		return MDM_PCAP_UDP_NOT_IPV4;
	if (cap < off + IP_HDR)
		return MDM_PCAP_UDP_TRUNC_IP;
	ihl = (uint32_t)(p[off] & 0x0f) * 4;
	total = mdm_be16(p + off + 2);
	if ((p[off] >> 4) != 4 || ihl < IP_HDR || total < ihl)
		return MDM_PCAP_UDP_BAD_IP;
	if (cap < off + ihl)
		return MDM_PCAP_UDP_TRUNC_IP;
	frag = mdm_be16(p + off + 6);
	if (frag & 0x3fff) /* MF flag or a fragment offset */
		return MDM_PCAP_UDP_FRAGMENT;
	if (p[off + 9] != 17)
		return MDM_PCAP_UDP_NOT_UDP;
	ip_end = off + total; /* anything after it is Ethernet padding */
	if (ip_end > cap)
		return MDM_PCAP_UDP_TRUNC_IP;
	if (ip_end - (off + ihl) < UDP_HDR)
		return MDM_PCAP_UDP_TRUNC_UDP;
	ulen = mdm_be16(p + off + ihl + 4);
	if (ulen < UDP_HDR)
		return MDM_PCAP_UDP_BAD_UDP;
	if (ulen > ip_end - (off + ihl))
		return MDM_PCAP_UDP_TRUNC_UDP;
	out->src_ip = mdm_be32(p + off + 12);
	out->dst_ip = mdm_be32(p + off + 16);
	out->ttl = p[off + 8];
	out->src_port = mdm_be16(p + off + ihl);
	out->dst_port = mdm_be16(p + off + ihl + 2);
	out->vlan_id = vid;
	out->n_vlans = n_vlans;
	out->payload = p + off + ihl + UDP_HDR;
	out->payload_len = ulen - UDP_HDR;
	return MDM_PCAP_UDP_OK;
}

const char *mdm_pcap_udp_reason_str(int reason)
{
	static const char *const names[MDM_PCAP_UDP_NREASONS] = {
		[MDM_PCAP_UDP_OK] = "ok",
		[MDM_PCAP_UDP_LINKTYPE] = "linktype",
		[MDM_PCAP_UDP_TRUNC_L2] = "truncated_l2",
		[MDM_PCAP_UDP_NOT_IPV4] = "not_ipv4",
		[MDM_PCAP_UDP_TRUNC_IP] = "truncated_ip",
		[MDM_PCAP_UDP_BAD_IP] = "bad_ip",
		[MDM_PCAP_UDP_FRAGMENT] = "fragment",
		[MDM_PCAP_UDP_NOT_UDP] = "not_udp",
		[MDM_PCAP_UDP_TRUNC_UDP] = "truncated_udp",
		[MDM_PCAP_UDP_BAD_UDP] = "bad_udp",
	};

	if (reason < 0 || reason >= MDM_PCAP_UDP_NREASONS)
		return "unknown";
	return names[reason];
}
