/* mdmesh-bench-ceiling: the publish ceiling the collector is measured against.
 * It decodes and encodes a capture exactly as the collector does, BEFORE the
 * clock starts, then times a bare nats.c js_PublishMsgAsync loop of those
 * bytes, with the same subjects and headers (Nats-Msg-Id, Content-Type), into
 * the same stream config, until every ack is in. Nothing of mdmesh runs while
 * the clock runs but this loop: the ratio collector/ceiling is the cost of the
 * collector's own pipeline. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nats/nats.h>

#include "encode.h"
#include "feed.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_hdr.h"
#include "mdm_mem.h"
#include "mdm_nats_loop.h"
#include "mdm_pcap.h"
#include "subject.h"

#define CT "application/protobuf; proto=mdmesh.v1.MarketEvent"

struct ev {
	uint32_t off, len;
	char subject[SUBJECT_MAX];
	char msg_id[MSGID_MAX];
};

struct enc_ctx {
	struct encoder *enc;
	struct ev *evs;
	size_t n, cap;
	uint8_t *bytes;
	size_t used, bcap;
	int err;
};

/* Fixed-rate runs: publish->ack latency of every message, by its sequence
 * number (the Msg-Id's last field): the publisher writes send_ns[seq] before
 * the send, nats.c's ack thread reads it (ordered by nats.c's locks). */
struct lat_ctx {
	uint64_t *send_ns;
	uint64_t max_seq;
	struct mdm_hdr *h;
	uint64_t acked, errors;
};

static uint64_t msg_seq(natsMsg *m)
{
	const char *id = NULL, *dot;

	if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK || !id || !(dot = strrchr(id, '.')))
		return UINT64_MAX;
	return strtoull(dot + 1, NULL, 10);
}

static void on_ack(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct lat_ctx *l = closure;
	uint64_t seq = msg_seq(m), now = mdm_mono_ns();

	(void)js;
	if (pa && !pae && seq <= l->max_seq && l->send_ns[seq])
		mdm_hdr_record(l->h, (int64_t)(now - l->send_ns[seq]));
	else
		l->errors++;
	__atomic_add_fetch(&l->acked, 1, __ATOMIC_RELEASE);
	natsMsg_Destroy(m);
}

static void on_msg(void *vctx, const struct feed_msg *fm)
{
	struct enc_ctx *c = vctx;
	struct encode_order eo;
	struct encode_meta meta;
	char symbol[SYMBOLS_TEXT_MAX + 1];
	struct ev *e;
	size_t len;

	if (c->err)
		return;
	if (c->n == c->cap || c->bcap - c->used < ENCODE_MAX_EVENT_LEN) {
		c->err = -ENOSPC;
		return;
	}
	encode_meta_from_feed(&meta, &eo, symbol, fm);
	e = &c->evs[c->n];
	if (encode_event(c->enc, fm->m, &meta, c->bytes + c->used, ENCODE_MAX_EVENT_LEN, &len) != 0 ||
	    subject_event(e->subject, sizeof(e->subject), "md", "itch", (char)fm->m->type, symbol) < 0 ||
	    subject_msg_id(e->msg_id, sizeof(e->msg_id), "itch", fm->session, fm->seq) < 0) {
		c->err = -EINVAL;
		return;
	}
	e->off = (uint32_t)c->used;
	e->len = (uint32_t)len;
	c->used += len;
	c->n++;
}

/* Size of the capture: bounds the events it can hold. */
static int file_size(const char *path, size_t *len)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return mdm_err_set(-errno, "%s: %s", path, strerror(errno));
	*len = (size_t)st.st_size;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mdmesh-bench-ceiling --pcap FILE [--nats URL] [--stream NAME] [--max-pending N]\n"
		   "                            [--rate EPS] [--count N] [--flush timer|asap|burst]\n\n"
		   "Encodes every event of the capture as mdmesh-collector does, then times a bare nats.c\n"
		   "async-publish loop of them (same subjects, Nats-Msg-Id and Content-Type headers) into\n"
		   "stream NAME (created like the collector's: file storage, md.>, 2 min dedup window)\n"
		   "until every ack is in. Last line: 'ceiling_eps=N messages=N avg_bytes=N'.\n"
		   "The stream must not already hold these Msg-Ids (they would be duplicates).\n"
		   "--rate EPS: publish at that fixed rate instead (the latency ceiling): every message\n"
		   "  due is sent, then written (flush burst), then the loop sleeps until the next is due;\n"
		   "  adds 'ceiling_publish_to_ack_p50_ns=N p99_ns=N p999_ns=N max_ns=N rate=N'.\n"
		   "--count N: publish only the capture's first N events.\n"
		   "--flush: when nats.c writes (see publish.flush): timer (nats.c's default), asap, burst.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pcap", required_argument, NULL, 'p' },        { "nats", required_argument, NULL, 'n' },
		{ "stream", required_argument, NULL, 's' },      { "max-pending", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },        { "count", required_argument, NULL, 'c' },        { "flush", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },              { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pcap = NULL, *url = "nats://127.0.0.1:4222", *stream = "MD";
	int64_t max_pending = 65536;
	double rate = 0;
	uint64_t count = 0;
	int flush = MDM_NATS_FLUSH_TIMER;
	struct mdm_nats_loop *loop = NULL;
	natsOptions *nopts = NULL;
	struct lat_ctx lat = { 0 };
	struct enc_ctx c = { 0 };
	struct feed_params fp = { .n_lines = 1 };
	struct feed *feed = NULL;
	struct mdm_pcap_reader *r = NULL;
	struct mdm_pcap_frame fr;
	struct mdm_pcap_udp u;
	size_t flen = 0;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	jsPubOptions po;
	natsStatus s;
	const char *subjects[] = { "md.>" };
	uint64_t t0, t1, stalls = 0;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': pcap = optarg; break;
		case 'n': url = optarg; break;
		case 's': stream = optarg; break;
		case 'm': max_pending = strtoll(optarg, NULL, 10); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'c': count = strtoull(optarg, NULL, 10); break;
		case 'f':
			for (flush = 0; mdm_nats_flush_names[flush] && strcmp(mdm_nats_flush_names[flush], optarg); flush++)
				;
			if (!mdm_nats_flush_names[flush]) {
				fprintf(stderr, "mdmesh-bench-ceiling: --flush %s: want timer, asap or burst\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mdmesh-bench-ceiling %s\n", MDM_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!pcap || max_pending < 1 || rate < 0) {
		fprintf(stderr, "mdmesh-bench-ceiling: --pcap FILE is required (see --help)\n");
		return 2;
	}
	mdm_err_clear();
	rc = file_size(pcap, &flen);
	if (rc == 0)
		rc = mdm_pcap_reader_open(&r, pcap);
	if (rc == 0)
		rc = feed_create(&feed, &fp);
	if (rc == 0)
		rc = encode_create(&c.enc, "itch");
	c.cap = flen / 16 + 16; /* an ITCH message takes >= 14 bytes of capture */
	c.bcap = c.cap * 128;
	c.evs = rc == 0 ? mdm_calloc(c.cap, sizeof(*c.evs)) : NULL;
	c.bytes = c.evs ? mdm_malloc(c.bcap) : NULL;
	if (rc == 0 && !c.bytes)
		rc = -ENOMEM;
	while (rc == 0 && (rc = mdm_pcap_next(r, &fr)) == 1) {
		if (mdm_pcap_parse_udp(&fr, &u) == MDM_PCAP_UDP_OK)
			feed_on_packet(feed, u.payload, u.payload_len, 0, 0, on_msg, &c);
		rc = c.err;
	}
	if (rc < 0) {
		fprintf(stderr, "mdmesh-bench-ceiling: %s\n", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
		return 1;
	}
	if (count && count < c.n)
		c.n = count; /* the first `count` events only */
	if (rate > 0) {
		for (size_t i = 0; i < c.n; i++) {
			uint64_t q = strtoull(strrchr(c.evs[i].msg_id, '.') + 1, NULL, 10);

			lat.max_seq = q > lat.max_seq ? q : lat.max_seq;
		}
		lat.send_ns = mdm_calloc(lat.max_seq + 1, sizeof(*lat.send_ns));
		if (!lat.send_ns || mdm_hdr_create(&lat.h, 1, 60LL * 1000000000LL, 3) != 0) {
			fprintf(stderr, "mdmesh-bench-ceiling: out of memory\n");
			return 1;
		}
	}
	if (flush == MDM_NATS_FLUSH_BURST && (rc = mdm_nats_loop_create(&loop)) != 0) {
		fprintf(stderr, "mdmesh-bench-ceiling: %s\n", mdm_err_last());
		return 1;
	}
	s = natsOptions_Create(&nopts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(nopts, url);
	if (s == NATS_OK && flush == MDM_NATS_FLUSH_ASAP)
		s = natsOptions_SetSendAsap(nopts, true);
	if (s == NATS_OK && loop)
		s = mdm_nats_loop_options(loop, nopts);
	if (s == NATS_OK)
		s = natsConnection_Connect(&nc, nopts);
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = max_pending;
	if (rate > 0) {
		jo.PublishAsync.AckHandler = on_ack;
		jo.PublishAsync.AckHandlerClosure = &lat;
	}
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, &jo);
	jsStreamConfig_Init(&sc);
	sc.Name = stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Duplicates = 120LL * 1000000000LL;
	if (s == NATS_OK) {
		s = js_AddStream(&si, js, &sc, NULL, &jerr);
		if (s != NATS_OK && jerr == JSStreamNameExistErr)
			s = NATS_OK;
		jsStreamInfo_Destroy(si);
	}
	if (s != NATS_OK) {
		fprintf(stderr, "mdmesh-bench-ceiling: %s: %s\n", url, natsStatus_GetText(s));
		return 1;
	}
	mdm_nats_loop_defer(loop, true);
	t0 = mdm_mono_ns();
	for (size_t i = 0; i < c.n; i++) {
		natsMsg *m = NULL;

		if (rate > 0) {
			uint64_t due = t0 + (uint64_t)((double)i * 1e9 / rate), now = mdm_mono_ns();

			if (now < due) {
				/* nothing more is due: write this burst, sleep until the next */
				mdm_nats_loop_flush(loop);
				mdm_sleep_ns(due - now);
			}
			lat.send_ns[strtoull(strrchr(c.evs[i].msg_id, '.') + 1, NULL, 10)] = mdm_mono_ns();
		}
		s = natsMsg_Create(&m, c.evs[i].subject, NULL, (const char *)c.bytes + c.evs[i].off, (int)c.evs[i].len);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Nats-Msg-Id", c.evs[i].msg_id);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Content-Type", CT);
		while (s == NATS_OK && (s = js_PublishMsgAsync(js, &m, NULL)) == NATS_TIMEOUT) {
			stalls++, s = NATS_OK; /* window full: the same message again */
			mdm_nats_loop_flush(loop);
		}
		if (s != NATS_OK) {
			fprintf(stderr, "mdmesh-bench-ceiling: publish: %s\n", natsStatus_GetText(s));
			return 1;
		}
	}
	mdm_nats_loop_flush(loop);
	jsPubOptions_Init(&po);
	po.MaxWait = 120000;
	s = js_PublishAsyncComplete(js, &po);
	t1 = mdm_mono_ns();
	/* the ack handler may still be counting the last acks */
	while (rate > 0 && __atomic_load_n(&lat.acked, __ATOMIC_ACQUIRE) < c.n && mdm_mono_ns() - t1 < 10000000000ull)
		mdm_sleep_ns(100000);
	if (s != NATS_OK) {
		fprintf(stderr, "mdmesh-bench-ceiling: waiting for acks: %s\n", natsStatus_GetText(s));
		return 1;
	}
	printf("published %zu events in %.3f s (%" PRIu64 " stalls), all acked\n", c.n, (double)(t1 - t0) / 1e9, stalls);
	printf("ceiling_eps=%.0f messages=%zu avg_bytes=%.1f\n", (double)c.n * 1e9 / (double)(t1 - t0), c.n,
	       c.n ? (double)c.used / (double)c.n : 0.0);
	if (rate > 0)
		printf("ceiling_publish_to_ack_p50_ns=%" PRId64 " p99_ns=%" PRId64 " p999_ns=%" PRId64 " max_ns=%" PRId64
		       " rate=%.0f flush=%s errors=%" PRIu64 "\n",
		       mdm_hdr_value_at_percentile(lat.h, 50), mdm_hdr_value_at_percentile(lat.h, 99),
		       mdm_hdr_value_at_percentile(lat.h, 99.9), mdm_hdr_max(lat.h), rate, mdm_nats_flush_names[flush],
		       lat.errors);
	jsCtx_Destroy(js);
	natsConnection_Close(nc);
	mdm_nats_loop_destroy(loop);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(nopts);
	mdm_hdr_destroy(lat.h);
	mdm_free(lat.send_ns);
	encode_destroy(c.enc);
	feed_destroy(feed);
	mdm_pcap_reader_close(r);
	mdm_free(c.evs);
	mdm_free(c.bytes);
	return 0;
}
