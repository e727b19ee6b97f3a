/* Packet capture files without libpcap: a reader for classic pcap (both byte
 * orders, µs and ns resolution) and pcapng (SHB, IDB, EPB, SPB, OPB; both byte
 * orders; unknown blocks skipped), a writer of classic pcap with Ethernet +
 * IPv4 + UDP frames, and a parser that finds the UDP payload in a frame.
 * Pure logic plus stdio: no DPDK, no NATS. */
#ifndef MDM_PCAP_H
#define MDM_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Link-layer types (tcpdump.org LINKTYPE_* values) the UDP parser understands. */
#define MDM_PCAP_LINKTYPE_ETHERNET 1
#define MDM_PCAP_LINKTYPE_RAW 101       /* raw IP, no link header */
#define MDM_PCAP_LINKTYPE_LINUX_SLL 113 /* Linux "cooked" capture v1 (tcpdump -i any) */
#define MDM_PCAP_LINKTYPE_IPV4 228

/* Largest record the reader accepts; bigger is treated as a corrupt length. */
#define MDM_PCAP_MAX_RECORD (16u << 20)

/* One captured frame: a view, never owned by the caller.
 * With mdm_pcap_reader_open_mem() `data` points into the caller's buffer and
 * stays valid as long as that buffer does (zero-copy). With
 * mdm_pcap_reader_open() it points into the reader's window and is valid until
 * the next mdm_pcap_next()/mdm_pcap_reader_rewind()/mdm_pcap_reader_close(). */
struct mdm_pcap_frame {
	uint64_t ts_ns;      /* capture time, ns since the Unix epoch */
	const uint8_t *data; /* captured bytes */
	uint32_t caplen;     /* bytes at data */
	uint32_t origlen;    /* length on the wire (>= caplen when the snaplen cut it) */
	uint16_t linktype;   /* MDM_PCAP_LINKTYPE_* of the frame's interface */
	uint32_t ifindex;    /* pcapng interface id within its section; 0 for classic pcap */
	uint64_t offset;     /* file offset of the record/block, for messages */
};

/* What the reader saw since open or the last mdm_pcap_reader_rewind(). */
struct mdm_pcap_reader_stats {
	uint64_t frames;          /* frames returned by mdm_pcap_next() */
	uint64_t cut_frames;      /* frames with caplen < origlen (snaplen) */
	uint64_t skipped_blocks;  /* pcapng blocks of unknown or unused type */
	uint64_t sections;        /* pcapng sections (SHBs); 1 for classic pcap */
};

enum mdm_pcap_format {
	MDM_PCAP_FORMAT_PCAP_US = 1, /* classic, magic 0xa1b2c3d4 */
	MDM_PCAP_FORMAT_PCAP_NS,     /* classic, magic 0xa1b23c4d */
	MDM_PCAP_FORMAT_PCAPNG,
};

struct mdm_pcap_reader;

/* Open `path` for streaming reads (a window buffer of at most one record).
 * Reads and checks the file header. 0 on success; -ENOMEM; -errno from
 * fopen/fread (detail "PATH: reason" via mdm_err_set); -EINVAL when the file
 * is not pcap/pcapng (bad magic); -EBADMSG when the header is truncated or
 * corrupt. *out is NULL on failure. Each reader is single-threaded. */
int mdm_pcap_reader_open(struct mdm_pcap_reader **out, const char *path);

/* Open a capture held in memory (`buf` borrowed: it must outlive the reader
 * and every frame returned). Frames point into `buf` (zero-copy), so a caller
 * holding the whole file iterates it without copying. Errors as above. */
int mdm_pcap_reader_open_mem(struct mdm_pcap_reader **out, const void *buf, size_t len);

/* Next frame. Returns 1 with *frame filled, 0 at a clean end of file, or a
 * negative errno for a corrupt file: -EBADMSG with detail such as
 * "f.pcap: truncated record at offset 1234", -errno on I/O errors, -ENOMEM.
 * After an error the reader stays at the bad record (calling again repeats
 * the error). Not hot-path: per frame cost is a few loads (mem) or a buffered
 * fread (file). */
int mdm_pcap_next(struct mdm_pcap_reader *r, struct mdm_pcap_frame *frame);

/* Go back to the first frame (re-reads the file header). 0 or negative errno
 * as for open. Lets `feed bench` iterate an in-memory capture repeatedly. */
int mdm_pcap_reader_rewind(struct mdm_pcap_reader *r);

/* Format of the open file (for a pcapng file: of its first section). */
enum mdm_pcap_format mdm_pcap_reader_format(const struct mdm_pcap_reader *r);

/* Copy the counters. */
void mdm_pcap_reader_stats(const struct mdm_pcap_reader *r, struct mdm_pcap_reader_stats *out);

/* Close and free; NULL-safe. */
void mdm_pcap_reader_close(struct mdm_pcap_reader *r);

/* ---- writer ---- */

struct mdm_pcap_writer_params {
	bool ts_us;          /* µs resolution (magic 0xa1b2c3d4) instead of ns (0xa1b23c4d) */
	uint32_t snaplen;    /* written in the header and caps each record; 0 = 65535 */
	bool vlan;           /* add an 802.1Q tag ... */
	uint16_t vlan_id;    /* ... with this VID (0..4095), priority 0 */
	uint8_t ttl;         /* IPv4 TTL; 0 = 32 */
	size_t buffer_bytes; /* stdio buffer; 0 = 1 MiB */
};

struct mdm_pcap_writer;

/* Create `path` (truncating it) and write the file header; Ethernet link
 * type. params may be NULL for defaults (ns, no VLAN). 0; -EINVAL (bad
 * vlan_id); -ENOMEM; -errno from fopen/fwrite, with detail "PATH: reason".
 * Single-threaded. */
int mdm_pcap_writer_open(struct mdm_pcap_writer **out, const char *path,
			 const struct mdm_pcap_writer_params *params);

/* Append one Ethernet [+ 802.1Q] + IPv4 + UDP frame carrying `payload`.
 * `src`/`dst` are IPv4 addresses in host byte order (0x0a4d0001 = 10.77.0.1).
 * The destination MAC is 01:00:5e + the low 23 bits of a multicast `dst`, or
 * 02:00:<dst> (locally administered) for unicast; the source MAC is
 * 02:00:<src>. The IPv4 header checksum is computed; the UDP checksum is 0
 * (allowed for IPv4). IPv4 identification counts up from 1 per writer. The
 * record is cut at snaplen (origlen stays the full length).
 * 0; -EMSGSIZE when the datagram exceeds 65507 payload bytes; -errno from
 * fwrite. */
int mdm_pcap_write_udp(struct mdm_pcap_writer *w, uint64_t ts_ns, uint32_t src, uint32_t dst,
		       uint16_t sport, uint16_t dport, const void *payload, size_t len);

/* Append an arbitrary frame (for tests and non-UDP traffic). Same errors. */
int mdm_pcap_write_frame(struct mdm_pcap_writer *w, uint64_t ts_ns, const void *frame, size_t len);

/* Records written so far. */
uint64_t mdm_pcap_writer_count(const struct mdm_pcap_writer *w);

/* Flush and close; NULL-safe. 0 or the first write/flush error (-errno), so a
 * full disk is reported even when it only shows at the final flush. */
int mdm_pcap_writer_close(struct mdm_pcap_writer *w);

/* ---- UDP frame parser ---- */

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
