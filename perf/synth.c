/* Synthetic ITCH 5.0 / MoldUDP64 session generator: the packer batches the
 * generator's messages (and bad ones, synth_hostile.c) into MoldUDP64
 * packets, and each closed packet goes through the fault stage (drops,
 * duplicates, malformed and hostile extras) into a small output queue that
 * mdm_synth_next() drains; plus the lifecycle and the pcap driver of
 * `mdmesh-loadgen synth`. */
#include "synth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mdm_buf.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_pcap.h"
#include "synth_impl.h"

#define BATCH_MAX 40 /* cap of the random batch size (the byte cap rules first) */

/* ---- packer and faults ---- */

static int truth_write_packet(struct mdm_synth *s, bool dropped, int lost_line)
{
	uint32_t start = 0;

	for (unsigned k = 0; k < s->pkt_count; k++) {
		const char *t = s->pkt_truth.data + start;
		uint32_t n = s->truth_end[k] - start;

		if (!dropped && lost_line < 0) {
			fwrite(t, 1, n, s->truth);
			fputc('\n', s->truth);
		} else {
			fwrite(t, 1, n - 1, s->truth); /* reopen the object before its '}' */
			if (dropped)
				fputs(",\"dropped\":true}\n", s->truth);
			else
				fprintf(s->truth, ",\"line_lost\":\"%c\"}\n", 'a' + lost_line);
		}
		start = s->truth_end[k];
	}
	s->st.truth_lines += s->pkt_count;
	if (ferror(s->truth))
		return mdm_err_set(-EIO, "%s: write failed", s->p.truth_path);
	return 0;
}

static void pkt_add(struct mdm_synth *s)
{
	if (s->pkt_count == 0) {
		s->pkt_seq = s->seq - 1; /* synth_gen_next already advanced it */
		s->pkt_directory = s->cur.b[0] == 'R';
	}
	if (s->cur_bad >= 0)
		s->pkt_bad[s->cur_bad]++;
	synth_put_be(s->pkt + s->pkt_len, 2, s->cur.len);
	memcpy(s->pkt + s->pkt_len + 2, s->cur.b, s->cur.len);
	s->last_off = (uint32_t)s->pkt_len + 2;
	s->pkt_len += 2u + s->cur.len;
	if (s->truth_on) {
		mdm_buf_append(&s->pkt_truth, s->cur_truth.data, s->cur_truth.len);
		s->truth_end[s->pkt_count] = (uint32_t)s->pkt_truth.len;
	}
	s->pkt_count++;
}

static void mold_header(uint8_t *p, const char *session, uint64_t seq, uint16_t count)
{
	memset(p, ' ', 10);
	memcpy(p, session, strnlen(session, 10));
	synth_put_be(p + 10, 8, seq);
	synth_put_be(p + 18, 2, count);
}

/* A malformed packet built from the closed real packet: same session, the
 * sequence number of its last message (already sent on line A). */
static uint32_t make_malformed(struct mdm_synth *s, unsigned kind)
{
	const uint8_t *last = s->pkt + s->last_off;
	uint32_t ll = s->pkt[s->last_off - 2] << 8 | s->pkt[s->last_off - 1], n;
	uint64_t seq = s->pkt_seq + s->pkt_count - 1;
	uint8_t *m = s->mal;

	switch (kind) {
	case MDM_SYNTH_MAL_SHORT_HEADER:
		mold_header(m, s->p.session, seq, 1);
		return 1 + synth_rng_below(&s->fault, MOLD_HDR - 1);
	case MDM_SYNTH_MAL_BLOCK_OVERRUN:
		mold_header(m, s->p.session, seq, 1);
		synth_put_be(m + MOLD_HDR, 2, ll + 1 + synth_rng_below(&s->fault, 200));
		memcpy(m + MOLD_HDR + 2, last, ll);
		return MOLD_HDR + 2 + ll;
	case MDM_SYNTH_MAL_ZERO_BLOCK:
		mold_header(m, s->p.session, seq, 1);
		synth_put_be(m + MOLD_HDR, 2, 0);
		return MOLD_HDR + 2;
	case MDM_SYNTH_MAL_COUNT_OVERRUN:
		mold_header(m, s->p.session, seq, 3);
		synth_put_be(m + MOLD_HDR, 2, ll);
		memcpy(m + MOLD_HDR + 2, last, ll);
		return MOLD_HDR + 2 + ll;
	case MDM_SYNTH_MAL_TRUNCATED_MSG:
		n = 1 + synth_rng_below(&s->fault, ll - 1);
		mold_header(m, s->p.session, seq, 1);
		synth_put_be(m + MOLD_HDR, 2, n);
		memcpy(m + MOLD_HDR + 2, last, n);
		return MOLD_HDR + 2 + n;
	case MDM_SYNTH_MAL_UNKNOWN_TYPE:
		mold_header(m, s->p.session, seq, 1);
		synth_put_be(m + MOLD_HDR, 2, ll);
		memcpy(m + MOLD_HDR + 2, last, ll);
		m[MOLD_HDR + 2] = 'z';
		return MOLD_HDR + 2 + ll;
	default: /* MDM_SYNTH_MAL_WRONG_LENGTH */
		n = ll + 1 + synth_rng_below(&s->fault, 8);
		mold_header(m, s->p.session, seq, 1);
		synth_put_be(m + MOLD_HDR, 2, n);
		memset(m + MOLD_HDR + 2, 0, n);
		memcpy(m + MOLD_HDR + 2, last, ll);
		return MOLD_HDR + 2 + n;
	}
}

static void outq_push(struct mdm_synth *s, unsigned line, uint8_t kind, const uint8_t *payload, uint32_t len,
		      uint64_t ts)
{
	struct mdm_synth_packet *o = &s->outq[s->outq_n++];

	o->ts_ns = ts;
	o->payload = payload;
	o->len = len;
	o->line = (uint8_t)line;
	o->kind = kind;
	o->malformed_kind = 0;
	o->frame = false;
	o->src_ip = s->p.src_ip + line;
	o->dst_ip = s->p.dst_ip + line;
	o->src_port = s->p.src_port;
	o->dst_port = s->p.dst_port;
	o->seq = s->pkt_seq;
	o->count = s->pkt_count;
	s->st.frames[line]++;
}

/* Close the packet: header, faults, output queue, truth. */
static int pkt_close(struct mdm_synth *s)
{
	unsigned lines = s->p.lines, l, lost_n = 0, copies;
	bool lost[MDM_SYNTH_MAX_LINES], dup, gap, mal, hos;
	/* msg_i counts real messages only: a pending bad message did not advance it */
	uint64_t ts = MDM_SYNTH_EPOCH_NS +
		      (uint64_t)((unsigned __int128)(s->msg_i - 1 - (s->have_pending && s->cur_bad < 0)) * NS /
				 s->p.rate);
	int lost_line = -1;

	mold_header(s->pkt, s->p.session, s->pkt_seq, s->pkt_count);
	s->pkt_no++;
	s->st.packets++;
	if (s->pkt_len > s->st.max_payload)
		s->st.max_payload = (uint32_t)s->pkt_len;
	gap = s->p.gap_every && s->pkt_no % s->p.gap_every == 0;
	dup = s->p.dup_every && s->pkt_no % s->p.dup_every == 0;
	for (l = 0; l < lines; l++) {
		/* Always draw, so one option does not shift another's random choices. */
		bool line_drop = synth_rng_unit(&s->fault) < s->p.line_loss;

		lost[l] = gap || line_drop;
		if (lost[l]) {
			lost_n++;
			s->st.line_lost[l]++;
			lost_line = (int)l;
		}
	}
	mal = synth_rng_unit(&s->fault) < s->p.malformed && !lost[0];
	/* its own stream: --hostile never moves the other faults */
	hos = s->p.hostile > 0 && synth_rng_unit(&s->hostile) < s->p.hostile && !lost[0];
	s->outq_n = s->outq_pos = 0;
	for (l = 0; l < lines; l++) {
		if (lost[l])
			continue;
		outq_push(s, l, MDM_SYNTH_PKT_DATA, s->pkt, (uint32_t)s->pkt_len, ts);
		if (dup) {
			outq_push(s, l, MDM_SYNTH_PKT_DUP, s->pkt, (uint32_t)s->pkt_len, ts);
			s->st.duplicated++;
		}
	}
	if (mal) {
		unsigned kind = s->mal_next;
		uint32_t len = make_malformed(s, kind);

		s->mal_next = (kind + 1) % MDM_SYNTH_MAL_KINDS;
		outq_push(s, 0, MDM_SYNTH_PKT_MALFORMED, s->mal, len, ts);
		s->outq[s->outq_n - 1].malformed_kind = (uint8_t)kind;
		s->outq[s->outq_n - 1].seq = s->pkt_seq + s->pkt_count - 1;
		s->outq[s->outq_n - 1].count = 0;
		s->st.malformed++;
		s->st.malformed_by_kind[kind]++;
		synth_expect_malformed(s, s->mal, len);
	}
	copies = s->outq_n - mal;
	synth_expect_packet(s, copies);
	if (hos)
		synth_hostile_push(s, ts);
	if (lost_n == lines) {
		s->st.dropped_packets++;
		s->st.dropped_messages += s->pkt_count;
	}
	if (!s->truth_on)
		return 0;
	return truth_write_packet(s, lost_n == lines, lost_n == 1 && lines > 1 ? lost_line : -1);
}

/* Batch size of the next packet: geometric, mean 4 (messages queue up only
 * now and then); the directory ignores it and fills packets to the cap. */
static unsigned draw_batch(struct mdm_synth *s)
{
	unsigned n = 1;

	while (n < BATCH_MAX && synth_rng_below(&s->pack, 4) != 0)
		n++;
	return n;
}

/* Build and close the next real packet. 1 = closed, 0 = no messages left. */
static int pkt_build(struct mdm_synth *s)
{
	unsigned target = draw_batch(s);
	int rc;

	s->pkt_len = MOLD_HDR;
	s->pkt_count = 0;
	s->pkt_directory = false;
	memset(s->pkt_bad, 0, sizeof(s->pkt_bad));
	mdm_buf_reset(&s->pkt_truth);
	if (s->have_pending) {
		s->have_pending = false;
		pkt_add(s);
	}
	/* PKT_MAX_MSGS bounds a directory packet only when short bad messages fill it */
	while ((s->pkt_directory && s->pkt_count < PKT_MAX_MSGS) || s->pkt_count < target) {
		if (s->msg_i == s->p.messages)
			break;
		/* its own stream: bad messages never change the real messages */
		if (s->p.bad_messages > 0 && synth_rng_unit(&s->bad) < s->p.bad_messages) {
			synth_bad_next(s);
		} else {
			s->cur_bad = -1;
			rc = synth_gen_next(s);
			if (rc)
				return rc;
		}
		if (s->pkt_count > 0 &&
		    ((s->cur.b[0] == 'R') != s->pkt_directory || s->pkt_len + 2 + s->cur.len > MDM_SYNTH_PAYLOAD_MAX)) {
			s->have_pending = true;
			break;
		}
		pkt_add(s);
	}
	if (s->pkt_count == 0)
		return 0;
	if (s->truth_on && s->pkt_truth.oom)
		return -ENOMEM;
	rc = pkt_close(s);
	return rc ? rc : 1;
}

int mdm_synth_next(struct mdm_synth *s, struct mdm_synth_packet *pkt)
{
	while (s->outq_pos == s->outq_n) {
		int rc;

		if (s->done)
			return 0;
		rc = pkt_build(s);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			s->done = true;
			if (s->truth && fflush(s->truth) != 0)
				return mdm_err_set(-EIO, "%s: write failed", s->p.truth_path);
			return 0;
		}
	}
	*pkt = s->outq[s->outq_pos++];
	return 1;
}

/* ---- lifecycle ---- */

void mdm_synth_params_init(struct mdm_synth_params *p)
{
	memset(p, 0, sizeof(*p));
	p->messages = 100000;
	p->symbols = 100;
	p->seed = 1;
	p->rate = MDM_SYNTH_RATE_DEFAULT;
	snprintf(p->session, sizeof(p->session), "%s", MDM_SYNTH_SESSION_DEFAULT);
	p->start_seq = 1;
	p->lines = 1;
	p->dst_ip = MDM_SYNTH_DST_IP_DEFAULT;
	p->dst_port = MDM_SYNTH_DST_PORT_DEFAULT;
	p->src_ip = MDM_SYNTH_SRC_IP_DEFAULT;
	p->src_port = MDM_SYNTH_SRC_PORT_DEFAULT;
}

static int check_params(const struct mdm_synth_params *p)
{
	size_t n = strnlen(p->session, sizeof(p->session));

	if (p->symbols < 1 || p->symbols > MDM_SYNTH_MAX_SYMBOLS)
		return mdm_err_set(-EINVAL, "--symbols %u out of range 1..%u", p->symbols, MDM_SYNTH_MAX_SYMBOLS);
	if (p->rate < 1 || p->rate > NS)
		return mdm_err_set(-EINVAL, "--rate %llu out of range 1..1000000000", (unsigned long long)p->rate);
	if (n < 1 || n > 10)
		return mdm_err_set(-EINVAL, "--session must have 1..10 characters");
	for (size_t i = 0; i < n; i++)
		if (!((p->session[i] >= 'A' && p->session[i] <= 'Z') || (p->session[i] >= 'a' && p->session[i] <= 'z') ||
		      (p->session[i] >= '0' && p->session[i] <= '9')))
			return mdm_err_set(-EINVAL, "--session '%s' is not alphanumeric", p->session);
	if (p->start_seq < 1 || p->start_seq > UINT64_MAX - p->messages)
		return mdm_err_set(-EINVAL, "--start-seq must be at least 1 and leave room for the messages");
	if (p->lines < 1 || p->lines > MDM_SYNTH_MAX_LINES)
		return mdm_err_set(-EINVAL, "--lines %u must be 1 or 2", p->lines);
	if (!(p->malformed >= 0 && p->malformed <= 1))
		return mdm_err_set(-EINVAL, "--malformed must be a fraction in 0..1");
	if (!(p->line_loss >= 0 && p->line_loss <= 1))
		return mdm_err_set(-EINVAL, "--line-loss must be a fraction in 0..1");
	if (!(p->bad_messages >= 0 && p->bad_messages < 1))
		return mdm_err_set(-EINVAL, "--bad-messages must be a fraction in 0..1 (1 excluded)");
	if (!(p->hostile >= 0 && p->hostile <= 1))
		return mdm_err_set(-EINVAL, "--hostile must be a fraction in 0..1");
	if (p->hostile_kinds & ~MDM_SYNTH_HOS_ALL)
		return mdm_err_set(-EINVAL, "hostile kinds 0x%x: unknown kind bits", p->hostile_kinds);
	if ((p->dst_ip >> 28) == 0xe && ((p->dst_ip + p->lines - 1) >> 28) != 0xe)
		return mdm_err_set(-EINVAL, "--dst group out of the multicast range for line B");
	return 0;
}

int mdm_synth_create(struct mdm_synth **out, const struct mdm_synth_params *p)
{
	struct mdm_synth *s;
	int rc;

	*out = NULL;
	rc = check_params(p);
	if (rc)
		return rc;
	s = mdm_calloc(1, sizeof(*s));
	if (!s)
		return mdm_err_set(-ENOMEM, "synth: out of memory");
	s->p = *p;
	s->p.session[10] = '\0';
	snprintf(s->session_trim, sizeof(s->session_trim), "%s", s->p.session);
	s->truth_on = p->truth_path != NULL;
	s->seq = p->start_seq;
	s->next_ref = 1;
	s->next_match = 1;
	synth_rng_seed(&s->gen, p->seed, STREAM_GEN);
	synth_rng_seed(&s->pack, p->seed, STREAM_PACK);
	synth_rng_seed(&s->fault, p->seed, STREAM_FAULT);
	synth_rng_seed(&s->bad, p->seed, STREAM_BAD);
	synth_rng_seed(&s->hostile, p->seed, STREAM_HOSTILE);
	s->cur_bad = -1;
	s->hos_kinds = p->hostile_kinds ? p->hostile_kinds : MDM_SYNTH_HOS_ALL;
	rc = synth_gen_init(s);
	if (rc)
		goto err;
	if (s->truth_on) {
		s->truth = fopen(p->truth_path, "w");
		if (!s->truth) {
			int e = errno;

			rc = mdm_err_set(-e, "%s: %s", p->truth_path, strerror(e));
			goto err;
		}
		s->truth_buf = mdm_malloc(1u << 20);
		if (!s->truth_buf) {
			rc = mdm_err_set(-ENOMEM, "synth: out of memory for the truth file buffers");
			goto err;
		}
		setvbuf(s->truth, s->truth_buf, _IOFBF, 1u << 20);
		if (mdm_buf_reserve(&s->cur_truth, 1024) || mdm_buf_reserve(&s->pkt_truth, 64u << 10)) {
			rc = mdm_err_set(-ENOMEM, "synth: out of memory for the truth file buffers");
			goto err;
		}
	}
	*out = s;
	return 0;
err:
	mdm_synth_destroy(s);
	return rc;
}

const struct mdm_synth_stats *mdm_synth_stats(const struct mdm_synth *s)
{
	return &s->st;
}

void mdm_synth_destroy(struct mdm_synth *s)
{
	if (!s)
		return;
	if (s->truth)
		fclose(s->truth);
	mdm_free(s->truth_buf);
	mdm_buf_fini(&s->cur_truth);
	mdm_buf_fini(&s->pkt_truth);
	mdm_free(s->extras);
	mdm_free(s->orders);
	mdm_free(s->popular);
	mdm_free(s->syms);
	mdm_free(s);
}

const char *mdm_synth_malformed_str(int kind)
{
	static const char *const names[MDM_SYNTH_MAL_KINDS] = {
		[MDM_SYNTH_MAL_SHORT_HEADER] = "short_header",
		[MDM_SYNTH_MAL_BLOCK_OVERRUN] = "block_overrun",
		[MDM_SYNTH_MAL_ZERO_BLOCK] = "zero_block",
		[MDM_SYNTH_MAL_COUNT_OVERRUN] = "count_overrun",
		[MDM_SYNTH_MAL_TRUNCATED_MSG] = "truncated_msg",
		[MDM_SYNTH_MAL_UNKNOWN_TYPE] = "unknown_type",
		[MDM_SYNTH_MAL_WRONG_LENGTH] = "wrong_length",
	};

	if (kind < 0 || kind >= MDM_SYNTH_MAL_KINDS)
		return "unknown";
	return names[kind];
}

int mdm_synth_line_path(char *buf, size_t len, const char *out_path, unsigned line)
{
	const char *slash = strrchr(out_path, '/'), *dot = strrchr(out_path, '.');
	int n;

	if (dot && (dot == out_path || (slash && dot < slash + 2)))
		dot = NULL; /* a dot that starts the file name ("/x/.pcap") is no extension */
	if (dot)
		n = snprintf(buf, len, "%.*s.%c%s", (int)(dot - out_path), out_path, 'a' + line, dot);
	else
		n = snprintf(buf, len, "%s.%c", out_path, 'a' + line);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int mdm_synth_write_pcap(const struct mdm_synth_params *p, const char *out_path, bool merge_lines,
			 struct mdm_synth_stats *st)
{
	struct mdm_pcap_writer *w[MDM_SYNTH_MAX_LINES] = { NULL };
	unsigned n_files = p->lines > 1 && !merge_lines ? p->lines : 1;
	struct mdm_synth_packet pkt;
	struct mdm_synth *s;
	int rc, rc2;

	rc = mdm_synth_create(&s, p);
	if (rc)
		return rc;
	for (unsigned l = 0; l < n_files && rc == 0; l++) {
		char path[4096];

		if (n_files == 1)
			rc = mdm_pcap_writer_open(&w[l], out_path, NULL);
		else if ((rc = mdm_synth_line_path(path, sizeof(path), out_path, l)) != 0)
			rc = mdm_err_set(rc, "%s: file name too long", out_path);
		else
			rc = mdm_pcap_writer_open(&w[l], path, NULL);
	}
	while (rc == 0 && (rc = mdm_synth_next(s, &pkt)) == 1) {
		struct mdm_pcap_writer *pw = w[n_files == 1 ? 0 : pkt.line];

		if (pkt.frame)
			rc = mdm_pcap_write_frame(pw, pkt.ts_ns, pkt.payload, pkt.len);
		else
			rc = mdm_pcap_write_udp(pw, pkt.ts_ns, pkt.src_ip, pkt.dst_ip, pkt.src_port, pkt.dst_port,
						pkt.payload, pkt.len);
	}
	for (unsigned l = 0; l < n_files; l++) {
		rc2 = mdm_pcap_writer_close(w[l]);
		if (rc == 0)
			rc = rc2;
	}
	if (st)
		*st = *mdm_synth_stats(s);
	mdm_synth_destroy(s);
	return rc;
}
