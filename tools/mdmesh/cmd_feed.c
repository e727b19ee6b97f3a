/* `mdmesh feed dump|bench FILE`: run a capture, or a NASDAQ BinaryFILE
 * packed into MoldUDP64 packets as the exchange does (mdm_itchsrc), through
 * the collector's own decode chain (collector/feed.c) without DPDK or NATS. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "encode.h"
#include "feed.h"
#include "feed_input.h"
#include "mdm_buf.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_itchsrc.h"
#include "mdm_json.h"
#include "mdm_mem.h"
#include "mdm_moldpack.h"
#include "mdm_pcap.h"
#include "symbols.h"
#include "views.h"
#include "views_json.h"

/* A capture is read once: keep every missing range for the summary. */
#define DUMP_GAP_CAPACITY 65536

struct feed_opts {
	const char *path;
	bool itch;               /* path is a BinaryFILE */
	const char *session;     /* --itch: MoldUDP64 session name */
	struct feed_dst dst_a, dst_b;
	bool summary, json;
	bool bbo;                /* dump the BBO views instead of the messages */
	unsigned depth;          /* dump DEPTH views of this many levels (0 = none) */
	uint64_t depth_interval_ns;
	unsigned passes;
	uint32_t book_capacity;
};

static void feed_usage(FILE *f)
{
	fprintf(f,
		"usage: mdmesh feed dump FILE.pcap [--dst ADDR:PORT] [--dst-b ADDR:PORT] [--summary [--json]]\n"
		"       mdmesh feed dump --bbo [--depth N [--depth-interval MS]] FILE.pcap\n"
		"       mdmesh feed bench FILE.pcap [--dst ADDR:PORT] [--passes N] [--book-capacity N]\n"
		"       mdmesh feed dump|bench --itch FILE[.gz] [--session NAME] [options above]\n\n"
		"Runs a capture (pcap or pcapng; Ethernet, 802.1Q, IPv4, UDP) through the collector's\n"
		"decode chain: MoldUDP64 framing, sequencing (gaps, duplicates, A/B), ITCH 5.0, symbols,\n"
		"order book. No DPDK, no NATS.\n\n"
		"With --itch the input is a NASDAQ BinaryFILE ([u16 length][message]..., gzip'd or\n"
		"plain, e.g. 01302019.NASDAQ_ITCH50.gz), streamed in constant memory and packed into\n"
		"MoldUDP64 packets of up to 1400 bytes (sequence number = record number, from 1), so\n"
		"it goes through the same chain as a capture. A truncated last record is reported on\n"
		"stderr and the run succeeds.\n\n"
		"  dump     one JSON object per delivered ITCH message (fields named as in the spec)\n"
		"  bench    messages/s on one core, median of passes over the file held in memory;\n"
		"           the last line reads 'decode_mps=N book_mps=N encode_mps=N'\n\n"
		"  --dst ADDR:PORT     line A destination (default: every UDP datagram is line A)\n"
		"  --dst-b ADDR:PORT   line B destination: A/B arbitration, each sequence delivered once\n"
		"  --itch FILE         the input is a BinaryFILE (no positional FILE then)\n"
		"  --session NAME      --itch: session name in the packets (default " MDM_ITCHSRC_SESSION_DEFAULT ")\n"
		"  --summary           dump: print counts per type, gaps, duplicates, malformed by reason\n"
		"  --json              with --summary: one JSON object\n"
		"  --bbo               dump: the BBO views the collector publishes (coalesced per\n"
		"                      packet), one JSON line each, then a snapshot of every symbol\n"
		"  --depth N           dump: the DEPTH views of N levels a side (alone or with --bbo)\n"
		"  --depth-interval MS exchange time between two depths of a symbol (default 100; 0 = every change)\n"
		"  --passes N          bench: timed passes per measurement (default 5; with --itch each\n"
		"                      pass streams the file again and only the decode chain is timed)\n"
		"  --book-capacity N   order table slots, a power of two (default 4194304)\n");
}

/* The UDP payloads of the feed, in capture order, copied out of the reader
 * (whose frames live until its next read) back to back into `bytes`. */
struct payloads {
	const uint8_t **p; /* into bytes.data, set once every payload is read */
	uint32_t *len;
	uint8_t *line;
	size_t n, cap;
	struct mdm_buf bytes;
	struct feed_input_stats in;
};

static int collect_payloads(const struct feed_opts *o, struct payloads *pl)
{
	struct mdm_pcap_reader *r;
	struct mdm_pcap_frame fr;
	struct mdm_pcap_udp u;
	size_t off = 0;
	int rc = mdm_pcap_reader_open(&r, o->path);

	if (rc != 0)
		return rc;
	while ((rc = mdm_pcap_next(r, &fr)) == 1) {
		int reason = mdm_pcap_parse_udp(&fr, &u), line;

		pl->in.frames++;
		if (reason != MDM_PCAP_UDP_OK) {
			pl->in.not_udp[reason]++;
			continue;
		}
		line = feed_dst_line(&o->dst_a, &o->dst_b, &u);
		if (line < 0) {
			pl->in.other_dst++;
			continue;
		}
		if (pl->n == pl->cap) {
			size_t cap = pl->cap ? pl->cap * 2 : 4096;
			uint32_t *nl = mdm_realloc(pl->len, cap * sizeof(*nl));
			uint8_t *nli = nl ? mdm_realloc(pl->line, cap) : NULL;

			if (nl)
				pl->len = nl;
			if (!nl || !nli) {
				rc = -ENOMEM;
				break;
			}
			pl->line = nli;
			pl->cap = cap;
		}
		if (mdm_buf_append(&pl->bytes, u.payload, u.payload_len) != 0) {
			rc = -ENOMEM;
			break;
		}
		pl->len[pl->n] = u.payload_len;
		pl->line[pl->n] = (uint8_t)line;
		pl->n++;
	}
	mdm_pcap_reader_close(r);
	/* the buffer has stopped moving: point into it */
	if (rc == 0 && pl->n && !(pl->p = mdm_malloc(pl->n * sizeof(*pl->p))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < pl->n; off += pl->len[i++])
		pl->p[i] = (const uint8_t *)pl->bytes.data + off;
	return rc < 0 ? rc : 0;
}

static void payloads_free(struct payloads *pl)
{
	mdm_free(pl->p);
	mdm_free(pl->len);
	mdm_free(pl->line);
	mdm_buf_fini(&pl->bytes);
}

/* ---- dump ---- */

struct dump_ctx {
	struct mdm_buf out;
	struct mdm_json j;
	bool print;
	uint64_t gaps_opened;
};

static void dump_emit(void *vctx, const struct feed_msg *fm)
{
	struct dump_ctx *c = vctx;
	const struct itch_msg *m = fm->m;
	char text[ITCH_TEXT_MAX(ITCH_MAX_MSG_LEN) + 1];

	if (!c->print)
		return;
	mdm_buf_reset(&c->out);
	mdm_json_init(&c->j, &c->out);
	mdm_json_obj_begin(&c->j);
	mdm_json_kstr(&c->j, "session", fm->session);
	mdm_json_ku64(&c->j, "seq", fm->seq);
	mdm_json_key(&c->j, "type");
	mdm_json_strn(&c->j, (const char *)&m->type, 1);
	mdm_json_ku64(&c->j, "stock_locate", m->stock_locate);
	mdm_json_ku64(&c->j, "tracking_number", m->tracking_number);
	mdm_json_ku64(&c->j, "timestamp", m->timestamp_ns);
	symbols_text(text, fm->stock);
	mdm_json_kstr(&c->j, "symbol", text); /* as in the MarketEvent: itch_text */
	for (unsigned i = 0; i < m->desc->n_fields; i++) {
		const struct itch_field *f = &m->desc->fields[i];

		mdm_json_key(&c->j, f->name);
		if (f->kind == ITCH_F_ALPHA) {
			size_t n;
			const char *s = itch_field_alpha(m, f, &n);

			mdm_json_strn(&c->j, text, itch_text(text, (const uint8_t *)s, n));
		} else {
			mdm_json_u64(&c->j, itch_field_uint(m, f));
		}
	}
	mdm_json_obj_end(&c->j);
	mdm_buf_putc(&c->out, '\n');
	fwrite(c->out.data, 1, c->out.len, stdout);
}

/* --bbo / --depth: the views, as the collector publishes them. */
struct views_dump {
	struct dump_ctx *c;
	struct feed *f;
};

static void dump_view(void *vctx, const struct views_out *o)
{
	struct views_dump *d = vctx;
	/* a locate without a symbol is printed too (the collector cannot publish it) */
	char symbol[SYMBOLS_TEXT_MAX + 1];

	symbols_text(symbol, symbols_peek(feed_symbols(d->f), o->locate)); /* none: "" */
	mdm_buf_reset(&d->c->out);
	mdm_json_init(&d->c->j, &d->c->out);
	views_json(&d->c->j, feed_session(d->f), symbol, o);
	mdm_buf_putc(&d->c->out, '\n');
	fwrite(d->c->out.data, 1, d->c->out.len, stdout);
}

static void print_summary(const struct feed_opts *o, struct feed *f, const struct payloads *pl,
			  const struct mdm_itchfile_stats *is)
{
	const struct feed_stats *fs = feed_stats(f);
	const struct seq_stats *ss = seq_stats(feed_seq(f));
	const struct book_stats *bs = book_stats(feed_book(f));
	uint64_t *from = mdm_calloc(DUMP_GAP_CAPACITY, sizeof(*from));
	uint64_t *to = mdm_calloc(DUMP_GAP_CAPACITY, sizeof(*to));
	unsigned ng = from && to ? seq_gaps(feed_seq(f), from, to, DUMP_GAP_CAPACITY) : 0;
	struct mdm_buf out = MDM_BUF_INIT;
	struct mdm_json j;

	mdm_json_init(&j, &out);
	mdm_json_obj_begin(&j);
	mdm_json_kstr(&j, "file", o->path);
	mdm_json_kstr(&j, "session", feed_session(f));
	if (is) {
		mdm_json_ku64(&j, "records", is->records);
		mdm_json_ku64(&j, "zero_length_records", is->zero_length);
		mdm_json_kbool(&j, "truncated", is->truncated);
	} else {
		mdm_json_ku64(&j, "frames", pl->in.frames);
	}
	mdm_json_ku64(&j, "packets", fs->packets);
	mdm_json_ku64(&j, "messages", fs->messages);
	mdm_json_ku64(&j, "next_seq", seq_next(feed_seq(f)));
	mdm_json_key(&j, "by_type");
	mdm_json_obj_begin(&j);
	for (unsigned i = 0; i < ITCH_MSG_TYPES; i++) {
		const struct itch_msg_desc *d = itch_desc_at(i);
		char k[2] = { (char)d->type, 0 };

		mdm_json_ku64(&j, k, fs->by_type[i]);
	}
	mdm_json_obj_end(&j);
	mdm_json_ku64(&j, "heartbeats", fs->heartbeats);
	mdm_json_ku64(&j, "end_of_session", fs->end_of_session);
	mdm_json_ku64(&j, "duplicates", ss->duplicates);
	mdm_json_ku64(&j, "gaps", ss->gaps_opened);
	mdm_json_ku64(&j, "gap_messages_missing", ss->missing_now);
	mdm_json_key(&j, "missing_ranges");
	mdm_json_arr_begin(&j);
	for (unsigned i = 0; i < ng; i++) {
		mdm_json_arr_begin(&j);
		mdm_json_u64(&j, from[i]);
		mdm_json_u64(&j, to[i]);
		mdm_json_arr_end(&j);
	}
	mdm_json_arr_end(&j);
	mdm_json_ku64(&j, "gaps_evicted", ss->gaps_evicted);
	mdm_json_ku64(&j, "gaps_filled_by_other_line", ss->pending_msgs_filled + ss->gap_msgs_filled);
	mdm_json_key(&j, "malformed");
	mdm_json_obj_begin(&j);
	for (int i = 1; i < MOLD_STATUS_COUNT; i++)
		mdm_json_ku64(&j, mold_status_name(i), fs->malformed[i]);
	for (int i = 1; i < ITCH_STATUS_COUNT; i++)
		mdm_json_ku64(&j, itch_status_name(i), fs->bad_msgs[i]);
	mdm_json_obj_end(&j);
	mdm_json_key(&j, "skipped_frames");
	mdm_json_obj_begin(&j);
	for (int i = 1; i < MDM_PCAP_UDP_NREASONS; i++)
		mdm_json_ku64(&j, mdm_pcap_udp_reason_str(i), pl->in.not_udp[i]);
	mdm_json_ku64(&j, "other_destination", pl->in.other_dst);
	mdm_json_obj_end(&j);
	mdm_json_key(&j, "book");
	mdm_json_obj_begin(&j);
	mdm_json_ku64(&j, "live_orders", bs->orders);
	mdm_json_ku64(&j, "unknown_references", bs->unknown_ref);
	mdm_json_ku64(&j, "max_probe", bs->max_probe);
	mdm_json_obj_end(&j);
	mdm_json_obj_end(&j);
	if (o->json) {
		printf("%s\n", out.data);
	} else {
		if (is)
			printf("records         %" PRIu64 "%s%s\n", is->records,
			       is->zero_length ? " (some with a zero length prefix)" : "",
			       is->truncated ? ", last record truncated" : "");
		printf("file            %s\nsession         %s\npackets         %" PRIu64 "\nmessages        %" PRIu64
		       "\nnext seq        %" PRIu64 "\n",
		       o->path, feed_session(f), fs->packets, fs->messages, seq_next(feed_seq(f)));
		printf("by type        ");
		for (unsigned i = 0; i < ITCH_MSG_TYPES; i++)
			if (fs->by_type[i])
				printf(" %c=%" PRIu64, itch_desc_at(i)->type, fs->by_type[i]);
		printf("\nduplicates      %" PRIu64 "\ngaps            %" PRIu64 " (%" PRIu64
		       " messages still missing)\n",
		       ss->duplicates, ss->gaps_opened, ss->missing_now);
		for (unsigned i = 0; i < ng; i++)
			printf("  missing       %" PRIu64 "-%" PRIu64 "\n", from[i], to[i]);
		printf("malformed      ");
		for (int i = 1; i < MOLD_STATUS_COUNT; i++)
			printf(" %s=%" PRIu64, mold_status_name(i), fs->malformed[i]);
		for (int i = 1; i < ITCH_STATUS_COUNT; i++)
			printf(" %s=%" PRIu64, itch_status_name(i), fs->bad_msgs[i]);
		printf("\n");
		printf("book            %" PRIu64 " live orders, %" PRIu64 " unknown references\n", bs->orders,
		       bs->unknown_ref);
	}
	mdm_buf_fini(&out);
	mdm_free(from);
	mdm_free(to);
}

/* Report a BinaryFILE's cut-off tail (not an error). */
static void report_truncated(const struct mdm_itchsrc *src)
{
	char line[512];

	if (mdm_itchfile_stats(mdm_itchsrc_file(src))->truncated)
		fprintf(stderr, "mdmesh feed: %s\n", mdm_itchfile_truncated_str(mdm_itchsrc_file(src), line, sizeof(line)));
}

static int open_itch(const struct feed_opts *o, struct mdm_itchsrc **src)
{
	struct mdm_itchsrc_params sp = { .path = o->path, .session = o->session };

	mdm_err_clear();
	return mdm_itchsrc_open(src, &sp);
}

/* A BinaryFILE's packets may hold one oversized record alone: let framing
 * accept it, so the decoder counts it by reason instead of a gap. */
static void itch_feed_params(const struct feed_opts *o, struct feed_params *fp)
{
	if (o->itch)
		fp->mold.max_packet_len = MDM_MOLDPACK_BUF;
}

static int run_dump(const struct feed_opts *o, struct payloads *pl)
{
	struct feed_params fp = { .n_lines = o->dst_b.set ? 2 : 1, .book_capacity = o->book_capacity,
				  .gap_capacity = DUMP_GAP_CAPACITY };
	struct mdm_itchsrc *src = NULL;
	struct mdm_itchsrc_packet pkt;
	struct dump_ctx c = { .out = MDM_BUF_INIT, .print = !o->summary && !o->bbo && !o->depth };
	struct views_params vp = { .bbo = o->bbo, .depth_levels = o->depth, .depth_interval_ns = o->depth_interval_ns };
	struct views *v = NULL;
	struct views_dump vd = { .c = &c };
	struct feed *f;
	int rc;

	itch_feed_params(o, &fp);
	mdm_err_clear(); /* feed_create may fail without a message: no stale one then */
	rc = o->bbo || o->depth ? views_create(&v, &vp) : 0;
	fp.views = v;
	if (rc == 0)
		rc = feed_create(&f, &fp);
	if (rc != 0) {
		fprintf(stderr, "mdmesh feed: %s\n", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
		views_destroy(v);
		return 1;
	}
	vd.f = f;
	if (o->itch) {
		uint64_t i = 0;

		rc = open_itch(o, &src);
		while (rc == 0 && (rc = mdm_itchsrc_next(src, &pkt)) == 1) {
			feed_on_packet(f, pkt.payload, pkt.len, 0, i++, dump_emit, &c);
			if (v)
				views_flush(v, feed_book(f), dump_view, &vd);
			rc = 0;
		}
	} else {
		for (size_t i = 0; i < pl->n; i++) {
			feed_on_packet(f, pl->p[i], pl->len[i], pl->line[i], i, dump_emit, &c);
			if (v)
				views_flush(v, feed_book(f), dump_view, &vd);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "mdmesh feed: %s\n", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
		mdm_itchsrc_close(src);
		views_destroy(v);
		feed_destroy(f);
		mdm_buf_fini(&c.out);
		return 1;
	}
	/* End of capture: no other line can still fill a pending hole. */
	feed_poll(f, UINT64_MAX);
	if (v)
		views_drain(v, feed_book(f), dump_view, &vd);
	views_destroy(v);
	if (o->summary)
		print_summary(o, f, pl, src ? mdm_itchfile_stats(mdm_itchsrc_file(src)) : NULL);
	if (src)
		report_truncated(src);
	mdm_itchsrc_close(src);
	feed_destroy(f);
	mdm_buf_fini(&c.out);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "mdmesh feed: write error: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/* ---- bench ---- */

struct bench_ctx {
	struct encoder *enc;
	uint8_t buf[ENCODE_MAX_EVENT_LEN];
	uint64_t bytes, sink;
};

static void bench_decode_emit(void *vctx, const struct feed_msg *fm)
{
	struct bench_ctx *c = vctx;

	c->sink += fm->seq + fm->m->timestamp_ns; /* keep the work observable */
}

static void bench_encode_emit(void *vctx, const struct feed_msg *fm)
{
	struct bench_ctx *c = vctx;
	struct encode_order eo;
	struct encode_meta meta;
	char symbol[SYMBOLS_TEXT_MAX + 1];
	size_t n = 0;

	encode_meta_from_feed(&meta, &eo, symbol, fm);
	encode_event(c->enc, fm->m, &meta, c->buf, sizeof(c->buf), &n);
	c->bytes += n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Packets a BinaryFILE pass decodes per timed stretch: about 5.6 MB of
 * packets, so the clock is read rarely and memory stays constant. */
#define BENCH_CHUNK_PKTS 4096

/* Where a pass's packets come from: the capture held in memory (one chunk),
 * or a BinaryFILE streamed again on every pass in chunks. */
struct bench_src {
	const struct feed_opts *o;
	const struct payloads *whole;
	struct mdm_itchsrc *itch;
	struct payloads chunk;
	uint8_t *arena;
	bool done;
	uint64_t packets, read_ns; /* last pass: packets, time spent reading and packing */
};

static int bench_src_begin(struct bench_src *b)
{
	b->done = false;
	b->packets = 0;
	b->read_ns = 0;
	if (!b->o->itch)
		return 0;
	mdm_itchsrc_close(b->itch);
	b->itch = NULL;
	return open_itch(b->o, &b->itch);
}

/* Next chunk of payloads: 1, 0 at the end, or -errno. */
static int bench_src_next(struct bench_src *b, const struct payloads **out)
{
	struct mdm_itchsrc_packet pkt;
	uint64_t t0 = mdm_mono_ns();
	size_t used = 0;
	int rc = 0;

	if (b->done)
		return 0;
	if (!b->o->itch) {
		b->done = true;
		b->packets = b->whole->n;
		*out = b->whole;
		return 1;
	}
	b->chunk.n = 0;
	while (b->chunk.n < BENCH_CHUNK_PKTS && (rc = mdm_itchsrc_next(b->itch, &pkt)) == 1) {
		memcpy(b->arena + used, pkt.payload, pkt.len);
		b->chunk.p[b->chunk.n] = b->arena + used;
		b->chunk.len[b->chunk.n] = (uint32_t)pkt.len;
		b->chunk.line[b->chunk.n] = 0;
		b->chunk.n++;
		used += pkt.len;
	}
	b->read_ns += mdm_mono_ns() - t0;
	if (rc < 0)
		return rc;
	if (rc == 0)
		b->done = true;
	b->packets += b->chunk.n;
	*out = &b->chunk;
	return b->chunk.n > 0;
}

/* Median messages/s over o->passes passes; each pass a fresh feed (seq state). */
static int bench_pass_set(const struct feed_opts *o, struct bench_src *src, bool book, feed_emit_fn emit,
			  struct bench_ctx *c, double *median_mps, uint64_t *msgs)
{
	double rates[64];
	unsigned passes = o->passes > 64 ? 64 : o->passes;

	for (unsigned k = 0; k < passes; k++) {
		struct feed_params fp = { .n_lines = o->dst_b.set ? 2 : 1, .book_capacity = o->book_capacity,
					  .no_book = !book };
		const struct payloads *pl;
		struct feed *f;
		uint64_t ns = 0, n = 0, seen = 0;
		int rc;

		itch_feed_params(o, &fp);
		rc = feed_create(&f, &fp);
		if (rc == 0)
			rc = bench_src_begin(src);
		while (rc == 0 && (rc = bench_src_next(src, &pl)) == 1) {
			uint64_t t0 = mdm_mono_ns();

			for (size_t i = 0; i < pl->n; i++)
				n += feed_on_packet(f, pl->p[i], pl->len[i], pl->line[i], seen + i, emit, c);
			ns += mdm_mono_ns() - t0;
			seen += pl->n;
			rc = 0;
		}
		feed_destroy(f);
		if (rc < 0)
			return rc;
		rates[k] = (double)n * 1e9 / (double)(ns ? ns : 1);
		*msgs = n;
	}
	qsort(rates, passes, sizeof(rates[0]), cmp_double);
	*median_mps = rates[passes / 2];
	return 0;
}

static int run_bench(const struct feed_opts *o, struct payloads *pl)
{
	struct bench_ctx c = { 0 };
	struct bench_src src = { .o = o, .whole = pl };
	double dec, book, enc;
	uint64_t msgs = 0;
	bool gz = false;
	int rc = 0;

	if (o->itch) {
		src.arena = mdm_malloc((size_t)BENCH_CHUNK_PKTS * MDM_MOLDPACK_BUF);
		src.chunk.p = mdm_calloc(BENCH_CHUNK_PKTS, sizeof(*src.chunk.p));
		src.chunk.len = mdm_calloc(BENCH_CHUNK_PKTS, sizeof(*src.chunk.len));
		src.chunk.line = mdm_calloc(BENCH_CHUNK_PKTS, 1);
		if (!src.arena || !src.chunk.p || !src.chunk.len || !src.chunk.line)
			rc = -ENOMEM;
	}
	mdm_err_clear(); /* encode_create may fail without a message: no stale one then */
	if (rc == 0)
		rc = encode_create(&c.enc, "itch");
	if (rc == 0)
		rc = bench_pass_set(o, &src, false, bench_decode_emit, &c, &dec, &msgs);
	if (rc == 0)
		rc = bench_pass_set(o, &src, true, bench_decode_emit, &c, &book, &msgs);
	c.bytes = 0;
	if (rc == 0)
		rc = bench_pass_set(o, &src, true, bench_encode_emit, &c, &enc, &msgs);
	encode_destroy(c.enc);
	if (rc == 0 && src.itch) {
		report_truncated(src.itch);
		gz = mdm_itchfile_stats(mdm_itchsrc_file(src.itch))->gzip;
	}
	mdm_itchsrc_close(src.itch);
	mdm_free(src.arena);
	payloads_free(&src.chunk);
	if (rc != 0) {
		fprintf(stderr, "mdmesh feed bench: %s\n", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
		return 1;
	}
	printf("file %s: %" PRIu64 " packets, %" PRIu64 " messages, %u passes each, one core\n", o->path,
	       src.packets, msgs, o->passes);
	if (o->itch)
		printf("read          (BinaryFILE%s + packing, not timed below):  %.0f msgs/s\n",
		       gz ? ", gunzip" : "",
		       (double)msgs * 1e9 / (double)(src.read_ns ? src.read_ns : 1));
	printf("decode        (MoldUDP64 + sequencer + ITCH + symbols): median %.0f msgs/s (%.1f ns/msg)\n", dec,
	       1e9 / dec);
	printf("decode+book   (+ order state, %u slots):              median %.0f msgs/s (%.1f ns/msg)\n",
	       o->book_capacity ? o->book_capacity : BOOK_ORDER_CAPACITY_DEFAULT, book, 1e9 / book);
	printf("decode+encode (+ book + protobuf MarketEvent):         median %.0f msgs/s (%.1f ns/msg), %.1f B/event\n",
	       enc, 1e9 / enc, msgs ? (double)c.bytes / (double)msgs / (double)o->passes : 0.0);
	printf("decode_mps=%.0f book_mps=%.0f encode_mps=%.0f\n", dec, book, enc);
	return 0;
}

int cmd_feed(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dst", required_argument, NULL, 'd' },   { "dst-b", required_argument, NULL, 'b' },
		{ "summary", no_argument, NULL, 's' },     { "json", no_argument, NULL, 'j' },
		{ "passes", required_argument, NULL, 'p' }, { "book-capacity", required_argument, NULL, 'c' },
		{ "itch", required_argument, NULL, 'i' },  { "session", required_argument, NULL, 'S' },
		{ "bbo", no_argument, NULL, 'B' },         { "depth", required_argument, NULL, 'D' },
		{ "depth-interval", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
	};
	struct feed_opts o = { .passes = 5, .depth_interval_ns = VIEWS_DEPTH_INTERVAL_DEFAULT_NS };
	struct payloads pl = { 0 };
	const char *sub;
	int c, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		feed_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "dump") != 0 && strcmp(sub, "bench") != 0) {
		fprintf(stderr, "mdmesh feed: unknown subcommand '%s' (dump or bench)\n", sub);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'd':
		case 'b':
			if (feed_dst_parse(optarg, c == 'd' ? &o.dst_a : &o.dst_b) != 0) {
				fprintf(stderr, "mdmesh feed: --%s '%s': expected ADDR:PORT\n",
					c == 'd' ? "dst" : "dst-b", optarg);
				return 2;
			}
			break;
		case 's': o.summary = true; break;
		case 'i':
			o.itch = true;
			o.path = optarg;
			break;
		case 'S':
			if (!*optarg || strlen(optarg) > 10) {
				fprintf(stderr, "mdmesh feed: --session '%s': expected 1..10 characters\n", optarg);
				return 2;
			}
			o.session = optarg;
			break;
		case 'j': o.json = true; break;
		case 'p':
			o.passes = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o.passes == 0 || o.passes > 64) {
				fprintf(stderr, "mdmesh feed: --passes '%s': expected 1..64\n", optarg);
				return 2;
			}
			break;
		case 'c':
			o.book_capacity = (uint32_t)strtoul(optarg, &end, 10);
			if (*end || o.book_capacity < 16 || (o.book_capacity & (o.book_capacity - 1))) {
				fprintf(stderr, "mdmesh feed: --book-capacity '%s': expected a power of two >= 16\n",
					optarg);
				return 2;
			}
			break;
		case 'B': o.bbo = true; break;
		case 'D':
			o.depth = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o.depth == 0 || o.depth > VIEWS_MAX_LEVELS) {
				fprintf(stderr, "mdmesh feed: --depth '%s': expected 1..%d\n", optarg, VIEWS_MAX_LEVELS);
				return 2;
			}
			break;
		case 'I':
			o.depth_interval_ns = strtoull(optarg, &end, 10) * MDM_NS_PER_MS;
			if (*end || !*optarg || optarg[0] == '-') {
				fprintf(stderr, "mdmesh feed: --depth-interval '%s': expected milliseconds\n", optarg);
				return 2;
			}
			break;
		case 'h': feed_usage(stdout); return 0;
		default: feed_usage(stderr); return 2;
		}
	}
	if (optind != argc - (o.itch ? 0 : 1)) {
		fprintf(stderr, "mdmesh feed %s: expected one capture file, or --itch FILE (see --help)\n", sub);
		return 2;
	}
	if (o.itch && (o.dst_a.set || o.dst_b.set)) {
		fprintf(stderr, "mdmesh feed: --dst/--dst-b select datagrams of a capture; a BinaryFILE has none\n");
		return 2;
	}
	if (!o.itch && o.session) {
		fprintf(stderr, "mdmesh feed: --session names the packets made from --itch FILE\n");
		return 2;
	}
	if (o.dst_b.set && !o.dst_a.set) {
		fprintf(stderr, "mdmesh feed: --dst-b needs --dst for line A\n");
		return 2;
	}
	if (o.itch)
		return strcmp(sub, "dump") == 0 ? run_dump(&o, &pl) : run_bench(&o, &pl);
	o.path = argv[optind];
	mdm_err_clear();
	rc = collect_payloads(&o, &pl);
	if (rc != 0) {
		fprintf(stderr, "mdmesh feed: %s\n", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
		payloads_free(&pl);
		return 1;
	}
	rc = strcmp(sub, "dump") == 0 ? run_dump(&o, &pl) : run_bench(&o, &pl);
	payloads_free(&pl);
	return rc;
}
