/* Test tool for the processor's integration tests: publishes MarketEvents
 * into stream MD exactly as the collector does (subject md.<feed>.<type>.<symbol>,
 * Nats-Msg-Id <feed>.<session>.<seq>), poison payloads included, and reads
 * streams back (dead letters decoded) so scripts can assert on them.
 *
 *   md_publish URL publish [--count N] [--start SEQ] [--session S] [--symbols A,B]
 *                          [--poison SEQ,..] [--zero-price SEQ,..] [--stream MD]
 *                          [--big SEQ,..]  12,000 shares at $100.0000 ($1.2M) each
 *                          [--batch K]   EventBatch messages of K events on
 *                                        mdb.itch.<symbol index> (stream MDB)
 *   md_publish URL dump STREAM     one line per message: seq subject [dead letter]
 *   md_publish URL info STREAM     "msgs last_seq" */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdmesh/v1/events.pb-c.h"

#define CT "application/protobuf; proto=mdmesh.v1.MarketEvent"
#define BATCH_CT "application/protobuf; proto=mdmesh.v1.EventBatch"
#define MAX_BATCH 256
#define MAX_LIST 64

struct list {
	uint64_t v[MAX_LIST];
	size_t n;
};

static int parse_list(const char *s, struct list *l)
{
	char *end;

	l->n = 0;
	while (*s && l->n < MAX_LIST) {
		l->v[l->n++] = strtoull(s, &end, 10);
		if (end == s)
			return -EINVAL;
		s = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static bool in_list(const struct list *l, uint64_t v)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == v)
			return true;
	return false;
}

/* Batch mode: one pending EventBatch per partition (symbol index). Events
 * are packed as they come and copied into the batch's slots. */
struct part {
	Mdmesh__V1__MarketEvent ev[MAX_BATCH];
	Mdmesh__V1__EventHeader h[MAX_BATCH];
	Mdmesh__V1__NonCrossTrade p[MAX_BATCH];
	Mdmesh__V1__MarketEvent *ptr[MAX_BATCH];
	size_t n;
	uint64_t first_seq;
};

static int flush_part(struct mdm_bus *bus, struct part *pt, uint32_t idx, const char *session, uint64_t *stored)
{
	Mdmesh__V1__EventBatch eb = MDMESH__V1__EVENT_BATCH__INIT;
	static uint8_t buf[MAX_BATCH * 256];
	char subject[64], msg_id[96];
	size_t len;
	int rc;

	if (pt->n == 0)
		return 0;
	for (size_t i = 0; i < pt->n; i++) {
		pt->ev[i].header = &pt->h[i];
		pt->ev[i].non_cross_trade = &pt->p[i];
		pt->ptr[i] = &pt->ev[i];
	}
	eb.feed = "itch";
	eb.partition = idx;
	eb.events = pt->ptr;
	eb.n_events = pt->n;
	len = mdmesh__v1__event_batch__pack(&eb, buf);
	snprintf(subject, sizeof(subject), "mdb.itch.%u", idx);
	snprintf(msg_id, sizeof(msg_id), "itch.%s.b%u.%" PRIu64, session, idx, pt->first_seq);
	rc = mdm_bus_js_publish(bus, subject, msg_id, BATCH_CT, buf, len, NULL);
	if (rc < 0) {
		fprintf(stderr, "md_publish: batch %s: %s\n", msg_id, mdm_err_last());
		return rc;
	}
	*stored += rc == 0;
	pt->n = 0;
	return 0;
}

static int cmd_publish(struct mdm_bus *bus, int argc, char **argv)
{
	uint64_t count = 100, start = 1, batch = 0;
	static struct part parts[16];
	const char *session = "S1", *stream = "MD", *symbols_arg = "AAPL,MSFT,IBM,GOOG";
	struct list poison = { .n = 0 }, zero = { .n = 0 }, big = { .n = 0 };
	char symbols[16][16], syms_buf[256];
	size_t n_sym = 0;
	const char *subjects[] = { "md.>" };
	uint32_t part_of;
	struct mdm_stream_cfg sc = { .name = NULL, .subjects = subjects, .n_subjects = 1, .max_bytes = -1,
				     .max_msgs = -1 };
	uint64_t stored = 0, dups = 0;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--count"))
			count = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--start"))
			start = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--session"))
			session = argv[i + 1];
		else if (!strcmp(argv[i], "--stream"))
			stream = argv[i + 1];
		else if (!strcmp(argv[i], "--batch"))
			batch = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--symbols"))
			symbols_arg = argv[i + 1];
		else if (!strcmp(argv[i], "--poison") && parse_list(argv[i + 1], &poison) == 0)
			continue;
		else if (!strcmp(argv[i], "--zero-price") && parse_list(argv[i + 1], &zero) == 0)
			continue;
		else if (!strcmp(argv[i], "--big") && parse_list(argv[i + 1], &big) == 0)
			continue;
		else {
			fprintf(stderr, "md_publish: bad option %s\n", argv[i]);
			return 2;
		}
	}
	snprintf(syms_buf, sizeof(syms_buf), "%s", symbols_arg);
	for (char *save = NULL, *t = strtok_r(syms_buf, ",", &save); t && n_sym < 16; t = strtok_r(NULL, ",", &save))
		snprintf(symbols[n_sym++], sizeof(symbols[0]), "%s", t);
	if (batch > MAX_BATCH) {
		fprintf(stderr, "md_publish: --batch at most %d\n", MAX_BATCH);
		return 2;
	}
	if (batch)
		subjects[0] = "mdb.>";
	sc.name = stream;
	if (mdm_bus_stream_ensure(bus, &sc) < 0) {
		fprintf(stderr, "md_publish: stream %s: %s\n", stream, mdm_err_last());
		return 1;
	}
	for (uint64_t seq = start; seq < start + count; seq++) {
		Mdmesh__V1__MarketEvent ev = MDMESH__V1__MARKET_EVENT__INIT;
		Mdmesh__V1__EventHeader h = MDMESH__V1__EVENT_HEADER__INIT;
		Mdmesh__V1__NonCrossTrade p = MDMESH__V1__NON_CROSS_TRADE__INIT;
		const char *sym = symbols[seq % n_sym];
		uint8_t buf[512];
		size_t len;
		char subject[128], msg_id[128];
		uint64_t now = mdm_real_ns();
		int rc;

		h.feed = "itch";
		h.session = (char *)session;
		h.seq = seq;
		h.symbol = (char *)sym;
		h.type = "P";
		h.stock_locate = (uint32_t)(seq % n_sym) + 1;
		h.exchange_ts_ns = 34200ULL * MDM_NS_PER_S + seq * 10 * MDM_NS_PER_MS;
		h.rx_ts_ns = now;
		h.pub_ts_ns = now;
		h.session_date = 20260105;
		p.order_reference_number = seq * 7;
		p.buy_sell_indicator = "B";
		p.shares = 100 + (uint32_t)(seq % 10);
		p.stock = (char *)sym;
		p.price = in_list(&zero, seq) ? 0 : 1000000 + (uint32_t)(seq % 1000) * 100;
		if (in_list(&big, seq))
			p.shares = 12000, p.price = 1000000;
		p.match_number = 1000000 + seq;
		ev.header = &h;
		ev.body_case = MDMESH__V1__MARKET_EVENT__BODY_NON_CROSS_TRADE;
		ev.non_cross_trade = &p;
		if (batch) {
			struct part *pt = &parts[seq % n_sym];

			part_of = (uint32_t)(seq % n_sym);
			if (pt->n == 0)
				pt->first_seq = seq;
			pt->ev[pt->n] = ev;
			pt->h[pt->n] = h;
			pt->p[pt->n] = p;
			if (++pt->n == batch && flush_part(bus, pt, part_of, session, &stored) != 0)
				return 1;
			continue;
		}
		if (in_list(&poison, seq)) {
			static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x01, 0x02 };

			memcpy(buf, garbage, sizeof(garbage));
			len = sizeof(garbage);
		} else {
			len = mdmesh__v1__market_event__pack(&ev, buf);
		}
		snprintf(subject, sizeof(subject), "md.itch.P.%s", sym);
		snprintf(msg_id, sizeof(msg_id), "itch.%s.%" PRIu64, session, seq);
		rc = mdm_bus_js_publish(bus, subject, msg_id, CT, buf, len, NULL);
		if (rc < 0) {
			fprintf(stderr, "md_publish: seq %" PRIu64 ": %s\n", seq, mdm_err_last());
			return 1;
		}
		rc == 1 ? dups++ : stored++;
	}
	for (uint32_t k = 0; batch && k < n_sym; k++)
		if (flush_part(bus, &parts[k], k, session, &stored) != 0)
			return 1;
	printf("published %" PRIu64 " (%" PRIu64 " duplicates)\n", stored, dups);
	return 0;
}

static void hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int cmd_dump(struct mdm_bus *bus, const char *stream)
{
	struct mdm_bus_stream_info si;

	if (mdm_bus_stream_info(bus, stream, &si) != 0) {
		fprintf(stderr, "md_publish: %s\n", mdm_err_last());
		return 1;
	}
	for (uint64_t seq = si.first_seq; si.msgs && seq <= si.last_seq; seq++) {
		struct mdm_bus_msg *m = NULL;
		Mdmesh__V1__DeadLetter *dl;

		if (mdm_bus_stream_msg_get(bus, stream, seq, &m) != 0)
			continue;
		printf("%" PRIu64 " %s", seq, mdm_bus_msg_subject(m));
		dl = strncmp(mdm_bus_msg_subject(m), "dlq.", 4) == 0
			     ? mdmesh__v1__dead_letter__unpack(NULL, mdm_bus_msg_len(m), mdm_bus_msg_data(m))
			     : NULL;
		if (dl) {
			printf(" stream=%s consumer=%s subject=%s stream_seq=%" PRIu64 " deliveries=%" PRIu64
			       " reason=%s payload=",
			       dl->stream, dl->consumer, dl->subject, dl->stream_seq, dl->delivery_count, dl->reason);
			hex(dl->payload.data, dl->payload.len);
			mdmesh__v1__dead_letter__free_unpacked(dl, NULL);
		} else {
			printf(" payload=");
			hex(mdm_bus_msg_data(m), mdm_bus_msg_len(m));
		}
		printf("\n");
		mdm_bus_msg_free(m);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct mdm_bus_params bp;
	struct mdm_bus *bus = NULL;
	int rc = 2;

	if (argc < 3 || !strcmp(argv[1], "--help")) {
		fprintf(argc < 3 ? stderr : stdout, "usage: md_publish URL publish|dump|info [args]\n");
		return argc < 3 ? 2 : 0;
	}
	mdm_bus_params_init(&bp);
	bp.urls = argv[1];
	bp.name = "md_publish";
	if (mdm_bus_create(&bus, &bp) != 0) {
		fprintf(stderr, "md_publish: %s\n", mdm_err_last());
		return 1;
	}
	if (!strcmp(argv[2], "publish")) {
		rc = cmd_publish(bus, argc - 3, argv + 3);
	} else if (!strcmp(argv[2], "dump") && argc == 4) {
		rc = cmd_dump(bus, argv[3]);
	} else if (!strcmp(argv[2], "info") && argc == 4) {
		struct mdm_bus_stream_info si;

		rc = mdm_bus_stream_info(bus, argv[3], &si) == 0 ? 0 : 1;
		if (rc == 0)
			printf("%" PRIu64 " %" PRIu64 "\n", si.msgs, si.last_seq);
		else
			fprintf(stderr, "md_publish: %s\n", mdm_err_last());
	} else {
		fprintf(stderr, "md_publish: unknown command %s\n", argv[2]);
	}
	mdm_bus_destroy(bus);
	return rc;
}
