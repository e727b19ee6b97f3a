/* Capture files through libpcap: a reader of whatever libpcap reads (classic
 * pcap in either byte order and resolution, pcapng) that hands out frames with
 * nanosecond timestamps, and a writer of classic pcap whose Ethernet [+ 802.1Q]
 * + IPv4 + UDP headers are built here. The parser that finds the UDP payload
 * in a frame is mdm_frame.h (included here). No DPDK, no NATS. */
#ifndef MDM_PCAP_H
#define MDM_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_frame.h" /* struct mdm_pcap_frame, the UDP frame parser */

/* libpcap's largest snapshot length (MAXIMUM_SNAPLEN): the reader refuses a
 * longer record, the writer a larger snaplen. */
#define MDM_PCAP_MAX_SNAPLEN 262144u

struct mdm_pcap_reader;

/* Open `path` for streaming reads. 0 on success; -ENOMEM; -errno from fopen
 * (detail "PATH: reason" via mdm_err_set); -EINVAL when libpcap does not take
 * the file (detail "PATH: " + libpcap's reason, e.g. "unknown file format").
 * *out is NULL on failure. Each reader is single-threaded. */
int mdm_pcap_reader_open(struct mdm_pcap_reader **out, const char *path);

/* The same for a capture held in memory (`buf` borrowed until close); error
 * details name it "<memory>". */
int mdm_pcap_reader_open_mem(struct mdm_pcap_reader **out, const void *buf, size_t len);

/* Next frame. Returns 1 with *frame filled (frame->data is libpcap's buffer:
 * valid until the next call or close), 0 at the end of the file, or -EBADMSG
 * for a corrupt or unreadable file, with detail "NAME: reason (frame N)", N
 * counting from 1 as Wireshark does. After an error the reader stays there
 * (calling again repeats the error). */
int mdm_pcap_next(struct mdm_pcap_reader *r, struct mdm_pcap_frame *frame);

/* Close and free; NULL-safe. */
void mdm_pcap_reader_close(struct mdm_pcap_reader *r);

/* ---- writer ---- */

struct mdm_pcap_writer_params {
	bool ts_us;          /* µs resolution (magic 0xa1b2c3d4) instead of ns (0xa1b23c4d) */
	uint32_t snaplen;    /* written in the header and caps each record; 0 = 65535 */
	bool vlan;           /* add an 802.1Q tag ... */
	uint16_t vlan_id;    /* ... with this VID (0..4095), priority 0 */
	uint8_t ttl;         /* IPv4 TTL; 0 = 32 */
};

struct mdm_pcap_writer;

/* Create `path` (truncating it) and write the file header; Ethernet link
 * type, host byte order. params may be NULL for defaults (ns, no VLAN).
 * 0; -EINVAL (bad vlan_id or snaplen); -ENOMEM; -errno from fopen/fwrite, with
 * detail "PATH: reason". Single-threaded. */
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

#endif
