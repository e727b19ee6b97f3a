/* Deterministic synthetic NASDAQ TotalView-ITCH 5.0 session in MoldUDP64
 * packets: the generator behind `mdmesh-loadgen synth` (pcap files) and, via
 * mdm_synth_next(), any live sender. A seed fixes every byte. Optional faults
 * (gaps, duplicates, malformed packets, A/B line loss) and a JSON-lines ground
 * truth of every message as sent, written from the generator's own values
 * (never through the collector's decoder tables), so decoders can be checked
 * against it.
 *
 * Session shape (ITCH_FACTS sections 4 and 5): S O, one R per symbol (locates
 * 1..K in alphabetical order, in full packets), one H per symbol, S S, then Y,
 * L, V, K, N, O for some symbols, S Q at 09:30, the order phase (adds 44 % incl.
 * F, deletes 40 %, replaces 9 %, E/C/X/P, NOII and crosses around the open and
 * close, B, N, and scheduled H/h/J/W events), then S M, S E, S C. Executions,
 * cancels, deletes and replaces only reference live orders with enough shares.
 *
 * Malformed packets are extra packets that never take a sequence number. They
 * carry the real session and the sequence number of the last message of the
 * real packet they follow on the same line, so a receiver that wrongly
 * accepted one sees a duplicate: it can neither lose nor invent a message.
 *
 * Hostile input (perf/synth_hostile.c): bad messages are undecodable ITCH
 * messages that DO take a sequence number of their own (a receiver delivers
 * the number and skips the message); hostile frames are extra frames after a
 * real packet: broken MoldUDP64 framing, random bytes, lying IP/UDP lengths,
 * fragments, jumbo frames, other destinations. mdm_synth_stats.expect says
 * what a receiver with the collector's defaults (one line per destination,
 * 1472-byte packet limit, 1600-byte mbufs) must count for all of it. */
#ifndef MDM_SYNTH_H
#define MDM_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MDM_SYNTH_PAYLOAD_MAX 1400   /* UDP payload cap of every packet */
#define MDM_SYNTH_MAX_LINES 2
#define MDM_SYNTH_MAX_SYMBOLS 65535  /* stock locates are u16 */
#define MDM_SYNTH_SESSION_DEFAULT "MDMESH0001"
#define MDM_SYNTH_RATE_DEFAULT 1000000u
#define MDM_SYNTH_DST_IP_DEFAULT 0xe9360c6fu /* 233.54.12.111 (line B: .112) */
#define MDM_SYNTH_DST_PORT_DEFAULT 26477
#define MDM_SYNTH_SRC_IP_DEFAULT 0x0a4d0001u /* 10.77.0.1 (line B: 10.77.0.2) */
#define MDM_SYNTH_SRC_PORT_DEFAULT 50000
#define MDM_SYNTH_LINE_LOSS_DEFAULT 0.01     /* with 2 lines */
/* Pcap time of message 0: 2026-01-05 09:30:00 US/Eastern (14:30 UTC). */
#define MDM_SYNTH_EPOCH_NS 1767623400000000000ull

/* Kinds of malformed MoldUDP64 packet, inserted round-robin. */
enum mdm_synth_malformed_kind {
	MDM_SYNTH_MAL_SHORT_HEADER,  /* UDP payload of 1..19 bytes */
	MDM_SYNTH_MAL_BLOCK_OVERRUN, /* count 1, block length beyond the packet end */
	MDM_SYNTH_MAL_ZERO_BLOCK,    /* count 1, block length 0 */
	MDM_SYNTH_MAL_COUNT_OVERRUN, /* count 3, one block present */
	MDM_SYNTH_MAL_TRUNCATED_MSG, /* block shorter than its ITCH type's length */
	MDM_SYNTH_MAL_UNKNOWN_TYPE,  /* ITCH type byte 'z' */
	MDM_SYNTH_MAL_WRONG_LENGTH,  /* block longer than its ITCH type's length */
	MDM_SYNTH_MAL_KINDS
};

/* Undecodable ITCH messages that take their own sequence number (--bad-messages). */
enum mdm_synth_bad_kind {
	MDM_SYNTH_BAD_UNKNOWN_TYPE, /* a type byte ITCH 5.0 does not define, 1..64 bytes */
	MDM_SYNTH_BAD_SHORT,        /* a real type, shorter than the type's length */
	MDM_SYNTH_BAD_LONG,         /* a real type, 1..16 bytes longer than the type's length */
	MDM_SYNTH_BAD_KINDS
};

/* Hostile frames (--hostile), inserted round-robin among the enabled kinds.
 * The first four reach the feed's port with a UDP payload that MoldUDP64
 * framing rejects; the rest never yield a usable datagram for the feed. */
enum mdm_synth_hostile_kind {
	MDM_SYNTH_HOS_BLOCK_HEADER_TRUNCATED, /* the real packet, count + 1, one dangling byte */
	MDM_SYNTH_HOS_OVERSIZE,       /* the real packet padded to 1473..1500 bytes (> 1472) */
	MDM_SYNTH_HOS_RANDOM_PAYLOAD, /* 1..1472 random bytes (redrawn while they frame validly) */
	MDM_SYNTH_HOS_UDP_LENGTH_CUT, /* UDP length claims 1..len-1 bytes of the real packet */
	MDM_SYNTH_HOS_IP_LENGTH_LONG, /* IPv4 total length beyond the frame (a truncated frame) */
	MDM_SYNTH_HOS_UDP_LENGTH_LONG, /* UDP length beyond the IPv4 payload */
	MDM_SYNTH_HOS_UDP_LENGTH_SHORT, /* UDP length below its own header (0..7) */
	MDM_SYNTH_HOS_IP_FRAGMENT,    /* the real packet as the first fragment (MF set) */
	MDM_SYNTH_HOS_RANDOM_FRAME,   /* 1..1514 random bytes as an Ethernet frame, not IPv4/VLAN */
	MDM_SYNTH_HOS_JUMBO_FRAME,    /* a valid 9000-byte UDP frame: larger than an mbuf */
	MDM_SYNTH_HOS_OTHER_PORT,     /* the real packet to the feed's port + 1 */
	MDM_SYNTH_HOS_KINDS
};
#define MDM_SYNTH_HOS_ALL ((1u << MDM_SYNTH_HOS_KINDS) - 1)
#define MDM_SYNTH_JUMBO_FRAME_LEN 9000
#define MDM_SYNTH_RX_MAX_PACKET 1472 /* the receiver's MoldUDP64 packet limit (collector default) */

/* Why MoldUDP64 framing rejects a datagram, in the collector's order of checks;
 * names equal the collector's reason labels. */
enum mdm_synth_framing {
	MDM_SYNTH_FR_OK,
	MDM_SYNTH_FR_OVERSIZE,
	MDM_SYNTH_FR_SHORT_HEADER,
	MDM_SYNTH_FR_BLOCK_HEADER_TRUNCATED,
	MDM_SYNTH_FR_ZERO_LENGTH_BLOCK,
	MDM_SYNTH_FR_BLOCK_OVERRUN,
	MDM_SYNTH_FR_COUNT_OVERRUN,
	MDM_SYNTH_FR_REASONS
};

/* What a receiver of everything handed out must count (see the file comment
 * for the receiver assumed). Computed from the generator's own construction,
 * never through the collector's code. */
struct mdm_synth_expect {
	uint64_t events;         /* real messages sent on at least one line: delivered and decoded */
	uint64_t missing;        /* messages (real or bad) sent on no line: gaps */
	uint64_t unknown_type;   /* delivered sequence numbers carrying an unknown type */
	uint64_t bad_length;     /* delivered sequence numbers whose length is not the type's */
	uint64_t duplicates;     /* messages seen again: --dup-every and second-line copies, and
				  * malformed packets whose framing is valid (they repeat a sequence) */
	uint64_t framing[MDM_SYNTH_FR_REASONS]; /* datagrams framing rejects, by reason ([0] unused) */
	uint64_t not_udp;        /* frames without a usable IPv4/UDP datagram */
	uint64_t other_dst;      /* UDP datagrams for another destination */
};

struct mdm_synth_params {
	uint64_t messages;      /* ITCH messages in the session (sequence numbers used) */
	uint32_t symbols;       /* 1..MDM_SYNTH_MAX_SYMBOLS */
	uint64_t seed;
	uint64_t rate;          /* messages per second of pcap time, 1..1e9 */
	char session[11];       /* 1..10 alphanumerics, space-padded on the wire */
	uint64_t start_seq;     /* sequence number of the first message, >= 1 */
	uint64_t gap_every;     /* drop every M-th packet on all lines; 0 = off */
	uint64_t dup_every;     /* send every M-th packet twice on each line; 0 = off */
	double malformed;       /* chance per real packet of one extra malformed packet, 0..1 */
	double bad_messages;    /* chance per message slot of an extra bad message first, 0..1 */
	double hostile;         /* chance per real packet of one extra hostile frame, 0..1 */
	uint32_t hostile_kinds; /* bit set of enum mdm_synth_hostile_kind; 0 = all */
	unsigned lines;         /* 1, or 2 for A/B lines */
	double line_loss;       /* per-line independent drop chance, 0..1 */
	uint32_t dst_ip;        /* line A group, host order; line B uses dst_ip + 1 */
	uint16_t dst_port;      /* both lines */
	uint32_t src_ip;        /* line A source; line B uses src_ip + 1 */
	uint16_t src_port;
	const char *truth_path; /* NULL = no ground truth */
};

/* What was generated and sent so far. Frames count pcap records per line. */
struct mdm_synth_stats {
	uint64_t messages;              /* generated (sequence numbers used) */
	uint64_t packets;               /* real MoldUDP64 packets generated */
	uint64_t by_type[256];          /* messages by ITCH type byte */
	uint64_t frames[MDM_SYNTH_MAX_LINES];   /* packets handed out per line (all kinds) */
	uint64_t line_lost[MDM_SYNTH_MAX_LINES]; /* real packets not sent on that line */
	uint64_t dropped_packets;       /* real packets sent on no line (real gaps) */
	uint64_t dropped_messages;      /* messages in those packets */
	uint64_t duplicated;            /* duplicate packets handed out, all lines */
	uint64_t malformed;             /* malformed packets handed out */
	uint64_t malformed_by_kind[MDM_SYNTH_MAL_KINDS];
	uint64_t bad_messages;          /* bad messages generated (sequence numbers used) */
	uint64_t bad_by_kind[MDM_SYNTH_BAD_KINDS];
	uint64_t hostile;               /* hostile frames handed out */
	uint64_t hostile_by_kind[MDM_SYNTH_HOS_KINDS];
	uint64_t random_redraws;        /* random payloads drawn again because they framed validly */
	struct mdm_synth_expect expect;
	uint32_t max_payload;           /* largest real packet, bytes */
	uint64_t truth_lines;           /* lines written to the truth file */
};

enum mdm_synth_packet_kind {
	MDM_SYNTH_PKT_DATA,      /* a real packet, first copy on its line */
	MDM_SYNTH_PKT_DUP,       /* the same packet again (--dup-every) */
	MDM_SYNTH_PKT_MALFORMED, /* an extra, malformed packet */
	MDM_SYNTH_PKT_HOSTILE,   /* an extra hostile frame or datagram */
};

/* One UDP datagram to send or write. */
struct mdm_synth_packet {
	uint64_t ts_ns;            /* pcap time: MDM_SYNTH_EPOCH_NS + last message index / rate */
	const uint8_t *payload;    /* MoldUDP64 bytes; valid until the next mdm_synth_next() */
	uint32_t len;
	uint32_t src_ip, dst_ip;   /* host order */
	uint16_t src_port, dst_port;
	uint8_t line;              /* 0 = A, 1 = B */
	uint8_t kind;              /* enum mdm_synth_packet_kind */
	uint8_t malformed_kind;    /* enum mdm_synth_malformed_kind when kind is MALFORMED,
				    * enum mdm_synth_hostile_kind when kind is HOSTILE */
	bool frame;                /* payload is a whole Ethernet frame, not a UDP payload (some
				    * hostile kinds only; the addresses and ports are then unused) */
	uint64_t seq;              /* first sequence number (DATA/DUP) */
	uint16_t count;            /* messages (DATA/DUP) */
};

struct mdm_synth;

/* Defaults: 100000 messages, 100 symbols, seed 1, rate 1e6, session
 * MDMESH0001, start_seq 1, one line, no faults, 233.54.12.111:26477 from
 * 10.77.0.1:50000. */
void mdm_synth_params_init(struct mdm_synth_params *p);

/* Validate params, build the symbol table and schedule, open the truth file.
 * 0; -EINVAL with detail via mdm_err_set (e.g. "--messages 10 is too small
 * for 100 symbols: at least 226 needed"); -ENOMEM; -errno from fopen with
 * "PATH: reason". *out is NULL on failure. One thread per generator. */
int mdm_synth_create(struct mdm_synth **out, const struct mdm_synth_params *p);

/* Next datagram, in send order (per real packet: line A copy, its duplicate,
 * line B copy, its duplicate, then a malformed packet if any, then a hostile
 * frame if any, both always on line A and only when the real packet was sent
 * there). A UDP sender must skip packets with `frame` set, which only
 * params.hostile produces. Returns 1 with
 * *pkt filled, 0 when the session is complete (the truth file is flushed
 * then), or a negative errno when writing the truth file failed. */
int mdm_synth_next(struct mdm_synth *s, struct mdm_synth_packet *pkt);

/* Counters so far; valid until destroy. */
const struct mdm_synth_stats *mdm_synth_stats(const struct mdm_synth *s);

/* Close the truth file and free; NULL-safe. */
void mdm_synth_destroy(struct mdm_synth *s);

/* Short name of a malformed kind ("short_header", ...). Never NULL. */
const char *mdm_synth_malformed_str(int kind);

/* Names of bad-message kinds ("unknown_type", "short", "long"), hostile kinds
 * ("block_header_truncated", ..., "other_port") and framing reasons ("ok",
 * "oversize", "short_header", ... as the collector labels them). Never NULL. */
const char *mdm_synth_bad_str(int kind);
const char *mdm_synth_hostile_str(int kind);
const char *mdm_synth_framing_str(int reason);

/* Parse a comma-separated list of hostile kind names ("all" = every kind)
 * into a bit set. 0, or -EINVAL with detail naming the unknown kind. */
int mdm_synth_hostile_kinds_parse(const char *list, uint32_t *out);

/* MoldUDP64 framing of the datagram p[0..len) as the receiver judges it, the
 * synthesizer's own implementation of ITCH_FACTS section 3 (limit
 * MDM_SYNTH_RX_MAX_PACKET, trailing bytes accepted). */
enum mdm_synth_framing mdm_synth_framing_check(const uint8_t *p, size_t len);

/* Write the stats as one JSON object (counts by kind and the expectations,
 * keyed like the collector's metrics) to `path`. 0 or -errno with detail. */
int mdm_synth_stats_write_json(const struct mdm_synth_stats *st, const char *path);

/* The whole `synth` command: generate the session into pcap (ns timestamps,
 * Ethernet/IPv4/UDP). With one line, or with two and `merge_lines`, into
 * `out_path` itself; with two lines split, into mdm_synth_line_path(out, 0)
 * and (out, 1). Fills *st. 0 or a negative errno with detail. */
int mdm_synth_write_pcap(const struct mdm_synth_params *p, const char *out_path, bool merge_lines,
			 struct mdm_synth_stats *st);

/* Per-line file name: "feed.pcap" -> "feed.a.pcap" / "feed.b.pcap" (the line
 * letter goes before the last extension; appended when there is none).
 * 0, or -ENAMETOOLONG when it does not fit in `len`. */
int mdm_synth_line_path(char *buf, size_t len, const char *out_path, unsigned line);

#endif
