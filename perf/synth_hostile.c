/* Hostile input for the synthesizer: bad ITCH messages that take a sequence
 * number, hostile frames after real packets, and the expectation of what a
 * receiver counts for every packet handed out. Like synth_msg.c it is
 * deliberately independent of the collector's code: its framing check and
 * ITCH lengths come from the specs (ITCH_FACTS.md sections 2 and 3), so
 * comparing the collector's counters with the expectation tests both. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_pcap.h"
#include "synth_impl.h"

#define ETH_LEN 14
#define IP_LEN 20
#define UDP_LEN 8
#define FRAME_HDRS (ETH_LEN + IP_LEN + UDP_LEN)
#define ETH_MAX_FRAME 1514
#define OVERSIZE_SPAN 28  /* oversize payloads are 1473..1500 bytes */
#define LONG_EXTRA_MAX 16 /* a long bad message exceeds its type by 1..16 bytes */
#define UNKNOWN_LEN_MAX 64
#define LIE_MAX 64        /* lying lengths overstate by 1..64 bytes */
#define REDRAW_MAX 64

/* ITCH 5.0 message types and their lengths (ITCH_FACTS.md section 2). */
static const char itch_types[] = "SRHYLVWKJhAFECXDUPQBINO";
static const uint8_t itch_lens[] = { 12, 39, 25, 20, 26, 35, 12, 28, 35, 21, 36, 40,
				     31, 36, 23, 19, 35, 44, 40, 19, 50, 20, 48 };
_Static_assert(sizeof(itch_lens) == sizeof(itch_types) - 1, "one length per ITCH type");

static const char *const bad_names[MDM_SYNTH_BAD_KINDS] = {
	[MDM_SYNTH_BAD_UNKNOWN_TYPE] = "unknown_type",
	[MDM_SYNTH_BAD_SHORT] = "short",
	[MDM_SYNTH_BAD_LONG] = "long",
};

static const char *const hos_names[MDM_SYNTH_HOS_KINDS] = {
	[MDM_SYNTH_HOS_BLOCK_HEADER_TRUNCATED] = "block_header_truncated",
	[MDM_SYNTH_HOS_OVERSIZE] = "oversize",
	[MDM_SYNTH_HOS_RANDOM_PAYLOAD] = "random_payload",
	[MDM_SYNTH_HOS_UDP_LENGTH_CUT] = "udp_length_cut",
	[MDM_SYNTH_HOS_IP_LENGTH_LONG] = "ip_length_long",
	[MDM_SYNTH_HOS_UDP_LENGTH_LONG] = "udp_length_long",
	[MDM_SYNTH_HOS_UDP_LENGTH_SHORT] = "udp_length_short",
	[MDM_SYNTH_HOS_IP_FRAGMENT] = "ip_fragment",
	[MDM_SYNTH_HOS_RANDOM_FRAME] = "random_frame",
	[MDM_SYNTH_HOS_JUMBO_FRAME] = "jumbo_frame",
	[MDM_SYNTH_HOS_OTHER_PORT] = "other_port",
};

/* The collector's reason labels (mold_status_name), in our framing order. */
static const char *const framing_names[MDM_SYNTH_FR_REASONS] = {
	[MDM_SYNTH_FR_OK] = "ok",
	[MDM_SYNTH_FR_OVERSIZE] = "oversize",
	[MDM_SYNTH_FR_SHORT_HEADER] = "short_header",
	[MDM_SYNTH_FR_BLOCK_HEADER_TRUNCATED] = "block_header_truncated",
	[MDM_SYNTH_FR_ZERO_LENGTH_BLOCK] = "zero_length_block",
	[MDM_SYNTH_FR_BLOCK_OVERRUN] = "block_overrun",
	[MDM_SYNTH_FR_COUNT_OVERRUN] = "count_overrun",
};

const char *mdm_synth_bad_str(int kind)
{
	return kind >= 0 && kind < MDM_SYNTH_BAD_KINDS ? bad_names[kind] : "unknown";
}

const char *mdm_synth_hostile_str(int kind)
{
	return kind >= 0 && kind < MDM_SYNTH_HOS_KINDS ? hos_names[kind] : "unknown";
}

const char *mdm_synth_framing_str(int reason)
{
	return reason >= 0 && reason < MDM_SYNTH_FR_REASONS ? framing_names[reason] : "unknown";
}

int mdm_synth_hostile_kinds_parse(const char *list, uint32_t *out)
{
	uint32_t set = 0;
	const char *p = list;

	if (!list || !*list)
		return mdm_err_set(-EINVAL, "--hostile-kinds: empty list");
	while (*p) {
		size_t n = strcspn(p, ",");
		int k;

		if (n == 3 && strncmp(p, "all", 3) == 0) {
			set = MDM_SYNTH_HOS_ALL;
		} else {
			for (k = 0; k < MDM_SYNTH_HOS_KINDS; k++)
				if (strlen(hos_names[k]) == n && strncmp(p, hos_names[k], n) == 0)
					break;
			if (k == MDM_SYNTH_HOS_KINDS)
				return mdm_err_set(-EINVAL, "--hostile-kinds: unknown kind '%.*s' (kinds: all, "
							    "block_header_truncated, oversize, random_payload, "
							    "udp_length_cut, ip_length_long, udp_length_long, "
							    "udp_length_short, ip_fragment, random_frame, jumbo_frame, "
							    "other_port)", (int)n, p);
			set |= 1u << k;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*out = set;
	return 0;
}

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

enum mdm_synth_framing mdm_synth_framing_check(const uint8_t *p, size_t len)
{
	size_t off = MOLD_HDR;
	unsigned count;

	if (len > MDM_SYNTH_RX_MAX_PACKET)
		return MDM_SYNTH_FR_OVERSIZE;
	if (len < MOLD_HDR)
		return MDM_SYNTH_FR_SHORT_HEADER;
	count = be16(p + 18);
	if (count == 0 || count == 0xffff) /* heartbeat, end of session: no blocks */
		return MDM_SYNTH_FR_OK;
	for (unsigned i = 0; i < count; i++) {
		size_t n;

		if (off == len)
			return MDM_SYNTH_FR_COUNT_OVERRUN;
		if (len - off < 2)
			return MDM_SYNTH_FR_BLOCK_HEADER_TRUNCATED;
		n = be16(p + off);
		if (n == 0)
			return MDM_SYNTH_FR_ZERO_LENGTH_BLOCK;
		if (n > len - off - 2)
			return MDM_SYNTH_FR_BLOCK_OVERRUN;
		off += 2 + n;
	}
	return MDM_SYNTH_FR_OK; /* bytes after the last block are accepted */
}

static void fill_random(struct synth_rng *r, uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t v = synth_rng_next(r);

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = synth_rng_next(r);

		memcpy(p, &v, n);
	}
}

/* ---- bad messages ---- */

static bool itch_type_known(uint8_t b)
{
	return b != 0 && memchr(itch_types, b, sizeof(itch_types) - 1) != NULL;
}

void synth_bad_next(struct mdm_synth *s)
{
	int kind = (int)(s->st.bad_messages % MDM_SYNTH_BAD_KINDS);
	struct synth_msgbuf *m = &s->cur;
	unsigned t = synth_rng_below(&s->bad, sizeof(itch_types) - 1), len;
	uint8_t type;

	switch (kind) {
	case MDM_SYNTH_BAD_UNKNOWN_TYPE:
		do
			type = (uint8_t)synth_rng_below(&s->bad, 256);
		while (itch_type_known(type));
		len = 1 + synth_rng_below(&s->bad, UNKNOWN_LEN_MAX);
		break;
	case MDM_SYNTH_BAD_SHORT:
		type = (uint8_t)itch_types[t];
		len = 1 + synth_rng_below(&s->bad, itch_lens[t] - 1u);
		break;
	default:
		type = (uint8_t)itch_types[t];
		len = itch_lens[t] + 1u + synth_rng_below(&s->bad, LONG_EXTRA_MAX);
		break;
	}
	_Static_assert(UNKNOWN_LEN_MAX <= BAD_MSG_MAX && MSG_MAX + LONG_EXTRA_MAX <= BAD_MSG_MAX, "bad message buffer");
	fill_random(&s->bad, m->b, len);
	m->b[0] = type;
	m->len = (uint8_t)len;
	s->cur_bad = kind;
	s->st.bad_messages++;
	s->st.bad_by_kind[kind]++;
	if (s->truth_on) {
		mdm_buf_reset(&s->cur_truth);
		mdm_json_init(&s->j, &s->cur_truth);
		mdm_json_obj_begin(&s->j);
		mdm_json_kstr(&s->j, "session", s->session_trim);
		mdm_json_ku64(&s->j, "seq", s->seq);
		mdm_json_kstr(&s->j, "bad", bad_names[kind]);
		mdm_json_ku64(&s->j, "type_byte", type);
		mdm_json_ku64(&s->j, "length", len);
		mdm_json_obj_end(&s->j);
	}
	s->seq++;
}

/* ---- expectations ---- */

void synth_expect_packet(struct mdm_synth *s, unsigned copies)
{
	struct mdm_synth_expect *e = &s->st.expect;
	unsigned bad = s->pkt_bad[MDM_SYNTH_BAD_UNKNOWN_TYPE] + s->pkt_bad[MDM_SYNTH_BAD_SHORT] +
		       s->pkt_bad[MDM_SYNTH_BAD_LONG];

	if (copies == 0) {
		e->missing += s->pkt_count;
		return;
	}
	/* the sequencer delivers each number once and drops the other copies */
	e->events += s->pkt_count - bad;
	e->unknown_type += s->pkt_bad[MDM_SYNTH_BAD_UNKNOWN_TYPE];
	e->bad_length += s->pkt_bad[MDM_SYNTH_BAD_SHORT] + s->pkt_bad[MDM_SYNTH_BAD_LONG];
	e->duplicates += (uint64_t)s->pkt_count * (copies - 1);
}

void synth_expect_malformed(struct mdm_synth *s, const uint8_t *p, uint32_t len)
{
	enum mdm_synth_framing r = mdm_synth_framing_check(p, len);

	if (r != MDM_SYNTH_FR_OK)
		s->st.expect.framing[r]++;
	else /* valid framing: it repeats sequence numbers already delivered */
		s->st.expect.duplicates += be16(p + 18);
}

/* ---- hostile frames ---- */

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* Ethernet + IPv4 + UDP around payload[0..len) into f, as mdm_pcap_write_udp
 * lays them out; ip_total and udp_len replace the true lengths when non-zero
 * (the checksum covers the lie, as a sender's would). Returns the frame length. */
static uint32_t frame_udp(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			  const uint8_t *payload, uint32_t len, uint32_t ip_total, int32_t udp_len, uint16_t frag)
{
	uint8_t *ip = f + ETH_LEN;

	f[0] = 0x01; /* RFC 1112 multicast MAC of dst */
	f[1] = 0x00;
	f[2] = 0x5e;
	f[3] = (uint8_t)((dst >> 16) & 0x7f);
	f[4] = (uint8_t)(dst >> 8);
	f[5] = (uint8_t)dst;
	f[6] = 0x02;
	f[7] = 0x00;
	put32(f + 8, src);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(ip_total ? ip_total : IP_LEN + UDP_LEN + len));
	put16(ip + 4, 0);
	put16(ip + 6, frag);
	ip[8] = 32;
	ip[9] = 17;
	put16(ip + 10, 0);
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, mdm_pcap_inet_csum(ip, IP_LEN));
	put16(ip + IP_LEN, sport);
	put16(ip + IP_LEN + 2, dport);
	put16(ip + IP_LEN + 4, (uint16_t)(udp_len >= 0 ? (uint32_t)udp_len : UDP_LEN + len));
	put16(ip + IP_LEN + 6, 0);
	memmove(f + FRAME_HDRS, payload, len);
	return FRAME_HDRS + len;
}

/* The real packet with zero padding up to len bytes, at dst. */
static void padded_copy(struct mdm_synth *s, uint8_t *dst, uint32_t len)
{
	memcpy(dst, s->pkt, s->pkt_len);
	memset(dst + s->pkt_len, 0, len - s->pkt_len);
}

/* The next enabled kind, round-robin from hos_next. */
static unsigned next_kind(struct mdm_synth *s)
{
	for (;;) {
		unsigned k = s->hos_next;

		s->hos_next = (k + 1) % MDM_SYNTH_HOS_KINDS;
		if (s->hos_kinds & (1u << k))
			return k;
	}
}

void synth_hostile_push(struct mdm_synth *s, uint64_t ts)
{
	struct synth_rng *r = &s->hostile;
	struct mdm_synth_packet *o = &s->outq[s->outq_n++];
	struct mdm_synth_expect *e = &s->st.expect;
	uint32_t src = s->p.src_ip, dst = s->p.dst_ip, len = 0, udp_len = 0;
	uint16_t sport = s->p.src_port, dport = s->p.dst_port;
	uint8_t *u = s->hos + FRAME_HDRS; /* UDP payload position inside a frame */
	unsigned kind = next_kind(s);
	enum mdm_synth_framing fr = MDM_SYNTH_FR_OK;
	bool frame = true;

	switch (kind) {
	case MDM_SYNTH_HOS_BLOCK_HEADER_TRUNCATED:
		/* every real block, then one byte of a block header the count promises */
		memcpy(s->hos, s->pkt, s->pkt_len);
		put16(s->hos + 18, (uint16_t)(s->pkt_count + 1));
		s->hos[s->pkt_len] = 0;
		len = (uint32_t)s->pkt_len + 1;
		frame = false;
		break;
	case MDM_SYNTH_HOS_OVERSIZE:
		len = MDM_SYNTH_RX_MAX_PACKET + 1 + synth_rng_below(r, OVERSIZE_SPAN);
		padded_copy(s, s->hos, len);
		frame = false;
		break;
	case MDM_SYNTH_HOS_RANDOM_PAYLOAD:
		/* Random bytes that happen to frame validly (a heartbeat of a random
		 * session, one or two blocks that fit: about 1 in 20,000) are drawn
		 * again: they are not malformed but a foreign session. */
		for (unsigned i = 0;; i++) {
			len = 1 + synth_rng_below(r, MDM_SYNTH_RX_MAX_PACKET);
			fill_random(r, s->hos, len);
			if (mdm_synth_framing_check(s->hos, len) != MDM_SYNTH_FR_OK)
				break;
			s->st.random_redraws++;
			if (i == REDRAW_MAX) { /* practically unreachable; stay deterministic */
				len = MOLD_HDR - 1;
				break;
			}
		}
		frame = false;
		break;
	case MDM_SYNTH_HOS_UDP_LENGTH_CUT:
		udp_len = 1 + synth_rng_below(r, (uint32_t)s->pkt_len - 1);
		len = frame_udp(s->hos, src, dst, sport, dport, s->pkt, (uint32_t)s->pkt_len, 0,
				(int32_t)(UDP_LEN + udp_len), 0x4000);
		fr = mdm_synth_framing_check(u, udp_len);
		break;
	case MDM_SYNTH_HOS_IP_LENGTH_LONG:
		len = frame_udp(s->hos, src, dst, sport, dport, s->pkt, (uint32_t)s->pkt_len,
				IP_LEN + UDP_LEN + (uint32_t)s->pkt_len + 1 + synth_rng_below(r, LIE_MAX), -1, 0x4000);
		e->not_udp++;
		break;
	case MDM_SYNTH_HOS_UDP_LENGTH_LONG:
		len = frame_udp(s->hos, src, dst, sport, dport, s->pkt, (uint32_t)s->pkt_len, 0,
				(int32_t)(UDP_LEN + s->pkt_len + 1 + synth_rng_below(r, LIE_MAX)), 0x4000);
		e->not_udp++;
		break;
	case MDM_SYNTH_HOS_UDP_LENGTH_SHORT:
		len = frame_udp(s->hos, src, dst, sport, dport, s->pkt, (uint32_t)s->pkt_len, 0,
				(int32_t)synth_rng_below(r, UDP_LEN), 0x4000);
		e->not_udp++;
		break;
	case MDM_SYNTH_HOS_IP_FRAGMENT:
		len = frame_udp(s->hos, src, dst, sport, dport, s->pkt, (uint32_t)s->pkt_len, 0, -1, 0x2000);
		e->not_udp++;
		break;
	case MDM_SYNTH_HOS_RANDOM_FRAME:
		len = 1 + synth_rng_below(r, ETH_MAX_FRAME);
		fill_random(r, s->hos, len);
		if (len >= ETH_LEN) {
			uint16_t et = be16(s->hos + 12);

			/* IPv4 and VLAN tags would make it a (random) IP packet */
			while (et == 0x0800 || et == 0x8100 || et == 0x88a8 || et == 0x9100)
				et = (uint16_t)synth_rng_below(r, 65536);
			put16(s->hos + 12, et);
		}
		e->not_udp++;
		break;
	case MDM_SYNTH_HOS_JUMBO_FRAME:
		padded_copy(s, u, MDM_SYNTH_JUMBO_FRAME_LEN - FRAME_HDRS);
		len = frame_udp(s->hos, src, dst, sport, dport, u, MDM_SYNTH_JUMBO_FRAME_LEN - FRAME_HDRS, 0, -1,
				0x4000);
		e->not_udp++;
		break;
	default: /* MDM_SYNTH_HOS_OTHER_PORT */
		memcpy(s->hos, s->pkt, s->pkt_len);
		len = (uint32_t)s->pkt_len;
		dport = (uint16_t)(dport + 1);
		frame = false;
		e->other_dst++;
		break;
	}
	if (!frame)
		fr = mdm_synth_framing_check(s->hos, len);
	if (kind <= MDM_SYNTH_HOS_UDP_LENGTH_CUT)
		e->framing[fr]++; /* never MDM_SYNTH_FR_OK by construction */
	o->ts_ns = ts;
	o->payload = s->hos;
	o->len = len;
	o->line = 0;
	o->kind = MDM_SYNTH_PKT_HOSTILE;
	o->malformed_kind = (uint8_t)kind;
	o->frame = frame;
	o->src_ip = src;
	o->dst_ip = dst;
	o->src_port = sport;
	o->dst_port = dport;
	o->seq = s->pkt_seq;
	o->count = 0;
	s->st.frames[0]++;
	s->st.hostile++;
	s->st.hostile_by_kind[kind]++;
}

/* ---- stats as JSON ---- */

int mdm_synth_stats_write_json(const struct mdm_synth_stats *st, const char *path)
{
	const struct mdm_synth_expect *e = &st->expect;
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;
	FILE *f;
	int rc = 0;

	mdm_json_init(&j, &b);
	mdm_json_obj_begin(&j);
	mdm_json_ku64(&j, "messages", st->messages);
	mdm_json_ku64(&j, "packets", st->packets);
	mdm_json_key(&j, "frames");
	mdm_json_arr_begin(&j);
	for (int l = 0; l < MDM_SYNTH_MAX_LINES; l++)
		mdm_json_u64(&j, st->frames[l]);
	mdm_json_arr_end(&j);
	mdm_json_ku64(&j, "dropped_packets", st->dropped_packets);
	mdm_json_ku64(&j, "dropped_messages", st->dropped_messages);
	mdm_json_ku64(&j, "duplicated", st->duplicated);
	mdm_json_ku64(&j, "malformed", st->malformed);
	mdm_json_key(&j, "malformed_by_kind");
	mdm_json_obj_begin(&j);
	for (int k = 0; k < MDM_SYNTH_MAL_KINDS; k++)
		mdm_json_ku64(&j, mdm_synth_malformed_str(k), st->malformed_by_kind[k]);
	mdm_json_obj_end(&j);
	mdm_json_ku64(&j, "bad_messages", st->bad_messages);
	mdm_json_key(&j, "bad_by_kind");
	mdm_json_obj_begin(&j);
	for (int k = 0; k < MDM_SYNTH_BAD_KINDS; k++)
		mdm_json_ku64(&j, bad_names[k], st->bad_by_kind[k]);
	mdm_json_obj_end(&j);
	mdm_json_ku64(&j, "hostile", st->hostile);
	mdm_json_key(&j, "hostile_by_kind");
	mdm_json_obj_begin(&j);
	for (int k = 0; k < MDM_SYNTH_HOS_KINDS; k++)
		mdm_json_ku64(&j, hos_names[k], st->hostile_by_kind[k]);
	mdm_json_obj_end(&j);
	mdm_json_ku64(&j, "random_redraws", st->random_redraws);
	/* keyed like mdmesh-collector's metrics */
	mdm_json_key(&j, "expect");
	mdm_json_obj_begin(&j);
	mdm_json_ku64(&j, "events", e->events);
	mdm_json_ku64(&j, "gap_messages_missing", e->missing);
	mdm_json_ku64(&j, "duplicate_messages", e->duplicates);
	mdm_json_key(&j, "malformed_packets");
	mdm_json_obj_begin(&j);
	for (int r = 1; r < MDM_SYNTH_FR_REASONS; r++)
		mdm_json_ku64(&j, framing_names[r], e->framing[r]);
	mdm_json_obj_end(&j);
	mdm_json_key(&j, "bad_messages");
	mdm_json_obj_begin(&j);
	mdm_json_ku64(&j, "unknown_type", e->unknown_type);
	mdm_json_ku64(&j, "bad_length", e->bad_length);
	mdm_json_obj_end(&j);
	mdm_json_ku64(&j, "rx_not_udp", e->not_udp);
	mdm_json_ku64(&j, "rx_other_destination", e->other_dst);
	mdm_json_obj_end(&j);
	mdm_json_obj_end(&j);
	if (mdm_json_status(&j) != 0 || b.oom) {
		mdm_buf_fini(&b);
		return mdm_err_set(-ENOMEM, "%s: out of memory", path);
	}
	f = fopen(path, "w");
	if (!f) {
		int err = errno;

		mdm_buf_fini(&b);
		return mdm_err_set(-err, "%s: %s", path, strerror(err));
	}
	if (fwrite(b.data, 1, b.len, f) != b.len || fputc('\n', f) == EOF)
		rc = mdm_err_set(-EIO, "%s: write failed", path);
	if (fclose(f) != 0 && rc == 0)
		rc = mdm_err_set(-EIO, "%s: write failed", path);
	mdm_buf_fini(&b);
	return rc;
}
