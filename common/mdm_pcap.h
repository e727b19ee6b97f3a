/* Packet capture files without libpcap: a reader for classic pcap (both byte
 * orders, µs and ns resolution) and pcapng (SHB, IDB, EPB, SPB, OPB; both byte
 * orders; unknown blocks skipped), a writer of classic pcap with Ethernet +
 * IPv4 + UDP frames. The parser that finds the UDP payload in a frame is
 * mdm_frame.h (included here).
 * Pure logic plus stdio: no DPDK, no NATS. */
#ifndef MDM_PCAP_H
#define MDM_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_frame.h" /* struct mdm_pcap_frame, the UDP frame parser */

/* Largest record the reader accepts; bigger is treated as a corrupt length. */
#define MDM_PCAP_MAX_RECORD (16u << 20)

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

#endif
