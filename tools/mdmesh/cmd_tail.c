/* `mdmesh tail SUBJECT`: subscribe as a user would and print each message
 * decoded to one JSON line. Live by default (a core subscription: sees what is
 * published from now on); --from-seq / --since / --all replay the stream
 * through a temporary durable consumer that is deleted on exit. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_cond.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_mem.h"
#include "mdm_pbjson.h"
#include "mdm_proto.h"
#include "mdm_signal.h"

struct tail {
	const char *subject, *stream;
	const ProtobufCMessageDescriptor *force; /* --type */
	bool headers;
	bool raw;
	uint64_t count, seen;
	uint64_t idle_ms;
	struct mdm_buf out;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t last_msg_ns;
	volatile bool stop;
};

static void tail_usage(FILE *f)
{
	fprintf(f,
		"usage: mdmesh tail [SUBJECT] [options]\n\n"
		"Prints messages on SUBJECT (default md.>) as JSON lines, protobuf decoded by type:\n"
		"md.* MarketEvent, mdb.* EventBatch, trade.* Trade, bar.* Bar, alert.* Alert,\n"
		"dlq.* DeadLetter, audit.* AuditRecord, bbo.* Bbo, depth.* Depth (or the Content-Type's proto=), stats.* as is.\n\n"
		"  --nats URL          server (default nats://127.0.0.1:4222, or $MDM_NATS_URL);\n"
		"                      credentials and TLS from MDM_NATS_USER, MDM_NATS_PASSWORD, ...\n"
		"  --from-seq N        replay stream messages from sequence N, then follow\n"
		"  --since TIME        replay from TIME (RFC 3339 UTC, e.g. 2026-01-05T14:30:00Z, or\n"
		"                      a duration ago: 90s, 5m, 2h), then follow\n"
		"  --all               replay the whole stream, then follow\n"
		"  --stream NAME       stream to replay from (default MD)\n"
		"  --count N           exit after N messages\n"
		"  --idle-timeout S    exit when nothing arrived for S seconds\n"
		"  --headers           wrap each line: {\"subject\",\"stream_seq\",\"headers\",\"event\"}\n"
		"  --type NAME         decode every message as NAME (MarketEvent, Trade, ...)\n"
		"  --raw               write the payloads as received, undecoded (with --count 1: one\n"
		"                      message for `mdmesh decode`)\n\n"
		"example: mdmesh tail 'md.itch.*.AAPL'\n"
		"         mdmesh tail --all --idle-timeout 2 --headers 'md.>' > stream.jsonl\n");
}

static const ProtobufCMessageDescriptor *type_for(const struct tail *t, const char *subject,
						  const char *content_type)
{
	static const struct {
		const char *prefix, *type;
	} by_subject[] = {
		{ "md.", "MarketEvent" }, { "mdb.", "EventBatch" }, { "trade.", "Trade" }, { "bar.", "Bar" },
		{ "alert.", "Alert" },    { "dlq.", "DeadLetter" }, { "audit.", "AuditRecord" },
		{ "bbo.", "Bbo" },        { "depth.", "Depth" },
	};
	const char *p;

	if (t->force)
		return t->force;
	if (content_type && (p = strstr(content_type, "proto=")) != NULL)
		return mdm_proto_find(p + 6);
	for (size_t i = 0; i < sizeof(by_subject) / sizeof(by_subject[0]); i++)
		if (strncmp(subject, by_subject[i].prefix, strlen(by_subject[i].prefix)) == 0)
			return mdm_proto_find(by_subject[i].type);
	return NULL;
}

/* Print one message; returns true when --count is reached. */
static bool print_msg(struct tail *t, struct mdm_bus_msg *msg, uint64_t stream_seq)
{
	const char *subject = mdm_bus_msg_subject(msg), *msg_id = NULL, *ctype = NULL;
	const void *data = mdm_bus_msg_data(msg);
	size_t len = mdm_bus_msg_len(msg);
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *pm = NULL;
	struct mdm_json j;
	bool done;

	if (t->raw) {
		/* the payload exactly as a subscriber receives it (nats sub --translate input) */
		pthread_mutex_lock(&t->lock);
		fwrite(data, 1, len, stdout);
		fflush(stdout);
		t->seen++;
		t->last_msg_ns = mdm_mono_ns();
		done = t->count && t->seen >= t->count;
		if (done) {
			t->stop = true;
			pthread_cond_broadcast(&t->cond);
		}
		pthread_mutex_unlock(&t->lock);
		return done;
	}
	mdm_bus_msg_header(msg, "Nats-Msg-Id", &msg_id);
	mdm_bus_msg_header(msg, "Content-Type", &ctype);
	d = type_for(t, subject, ctype);
	if (d)
		pm = protobuf_c_message_unpack(d, NULL, len, data);
	pthread_mutex_lock(&t->lock);
	mdm_buf_reset(&t->out);
	mdm_json_init(&j, &t->out);
	if (t->headers) {
		mdm_json_obj_begin(&j);
		mdm_json_kstr(&j, "subject", subject);
		if (stream_seq)
			mdm_json_ku64(&j, "stream_seq", stream_seq);
		mdm_json_key(&j, "headers");
		mdm_json_obj_begin(&j);
		if (msg_id)
			mdm_json_kstr(&j, "Nats-Msg-Id", msg_id);
		if (ctype)
			mdm_json_kstr(&j, "Content-Type", ctype);
		mdm_json_obj_end(&j);
		mdm_json_key(&j, "event");
	}
	if (pm)
		mdm_pbjson_write(&j, pm);
	else if (!d && len && ((const char *)data)[0] == '{')
		mdm_json_rawn(&j, data, len); /* stats.* JSON as it is */
	else
		mdm_json_null(&j);
	if (t->headers) {
		if (d && !pm)
			mdm_json_kstr(&j, "error", "payload does not decode as the expected protobuf type");
		mdm_json_obj_end(&j);
	}
	mdm_buf_putc(&t->out, '\n');
	fwrite(t->out.data, 1, t->out.len, stdout);
	fflush(stdout);
	t->seen++;
	t->last_msg_ns = mdm_mono_ns();
	done = t->count && t->seen >= t->count;
	if (done) {
		t->stop = true;
		pthread_cond_broadcast(&t->cond);
	}
	pthread_mutex_unlock(&t->lock);
	if (pm)
		protobuf_c_message_free_unpacked(pm, NULL);
	return done;
}

static void on_live(void *ctx, struct mdm_bus_msg *msg)
{
	struct tail *t = ctx;

	if (!t->stop)
		print_msg(t, msg, 0);
}

static struct tail *the_tail;

static void on_signal(int sig, void *ctx)
{
	(void)ctx;
	if (sig == SIGHUP || !the_tail)
		return;
	pthread_mutex_lock(&the_tail->lock);
	the_tail->stop = true;
	pthread_cond_broadcast(&the_tail->cond);
	pthread_mutex_unlock(&the_tail->lock);
}

/* "2026-01-05T14:30:00Z" or "90s" / "5m" / "2h" ago -> realtime ns. */
static int parse_since(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	char *end;
	double v = strtod(s, &end);

	if (end != s && (!strcmp(end, "s") || !strcmp(end, "m") || !strcmp(end, "h"))) {
		double mul = *end == 's' ? 1 : *end == 'm' ? 60 : 3600;

		*out = (int64_t)mdm_real_ns() - (int64_t)(v * mul * 1e9);
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z") != 0))
		return -EINVAL;
	*out = (int64_t)timegm(&tm) * 1000000000LL;
	return 0;
}

static int run_replay(struct tail *t, struct mdm_bus *bus, uint64_t from_seq, int64_t since_ns)
{
	struct mdm_consumer_cfg cc = { .filter_subject = t->subject, .max_ack_pending = 4096 };
	struct mdm_bus_sub *sub = NULL;
	char durable[64];
	int rc;

	snprintf(durable, sizeof(durable), "mdmesh-tail-%d-%ld", (int)getpid(), (long)(mdm_mono_ns() % 1000000));
	rc = mdm_bus_consumer_create_at(bus, t->stream, durable, &cc, from_seq, since_ns);
	if (rc == 0)
		rc = mdm_bus_pull_subscribe(bus, t->stream, durable, &sub);
	while (rc == 0 && !t->stop) {
		struct mdm_bus_msg *msgs[256];
		size_t n = 0;

		rc = mdm_bus_fetch(sub, 256, 500, msgs, &n);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			struct mdm_bus_msg_meta meta = { 0 };

			mdm_bus_msg_meta(msgs[i], &meta);
			if (!t->stop)
				print_msg(t, msgs[i], meta.stream_seq);
			mdm_bus_ack(msgs[i]);
		}
		mdm_bus_msgs_free(msgs, n);
		if (rc == 0 && n == 0 && t->idle_ms && mdm_mono_ns() - t->last_msg_ns > t->idle_ms * MDM_NS_PER_MS)
			break;
	}
	mdm_bus_sub_destroy(sub);
	mdm_bus_consumer_delete(bus, t->stream, durable);
	return rc;
}

static int run_live(struct tail *t, struct mdm_bus *bus)
{
	struct mdm_bus_sub *sub = NULL;
	int rc = mdm_bus_subscribe(bus, t->subject, on_live, t, &sub);

	if (rc != 0)
		return rc;
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		mdm_cond_wait_until(&t->cond, &t->lock, mdm_mono_ns() + 200 * MDM_NS_PER_MS);
		if (t->idle_ms && mdm_mono_ns() - t->last_msg_ns > t->idle_ms * MDM_NS_PER_MS)
			break;
	}
	t->stop = true;
	pthread_mutex_unlock(&t->lock);
	mdm_bus_sub_destroy(sub);
	return 0;
}

int cmd_tail(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nats", required_argument, NULL, 'n' },     { "from-seq", required_argument, NULL, 'f' },
		{ "since", required_argument, NULL, 's' },    { "all", no_argument, NULL, 'a' },
		{ "stream", required_argument, NULL, 'S' },   { "count", required_argument, NULL, 'c' },
		{ "idle-timeout", required_argument, NULL, 'i' }, { "headers", no_argument, NULL, 'H' },
		{ "type", required_argument, NULL, 't' },     { "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tail t = { .subject = "md.>", .stream = "MD", .out = MDM_BUF_INIT };
	const char *url = getenv("MDM_NATS_URL") ? getenv("MDM_NATS_URL") : "nats://127.0.0.1:4222";
	uint64_t from_seq = 0;
	int64_t since_ns = 0;
	bool replay = false;
	struct mdm_bus *bus = NULL;
	int c, rc;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': url = optarg; break;
		case 'f':
			from_seq = strtoull(optarg, &end, 10);
			if (*end || from_seq == 0) {
				fprintf(stderr, "mdmesh tail: --from-seq '%s': expected a sequence >= 1\n", optarg);
				return 2;
			}
			replay = true;
			break;
		case 's':
			if (parse_since(optarg, &since_ns) != 0) {
				fprintf(stderr, "mdmesh tail: --since '%s': expected 2026-01-05T14:30:00Z or 90s/5m/2h\n",
					optarg);
				return 2;
			}
			replay = true;
			break;
		case 'a': from_seq = 1; replay = true; break;
		case 'S': t.stream = optarg; break;
		case 'c':
			t.count = strtoull(optarg, &end, 10);
			if (*end || t.count == 0) {
				fprintf(stderr, "mdmesh tail: --count '%s': expected N >= 1\n", optarg);
				return 2;
			}
			break;
		case 'i': {
			double s = strtod(optarg, &end);

			if (*end || s <= 0) {
				fprintf(stderr, "mdmesh tail: --idle-timeout '%s': expected seconds > 0\n", optarg);
				return 2;
			}
			t.idle_ms = (uint64_t)(s * 1000);
			break;
		}
		case 'H': t.headers = true; break;
		case 'r': t.raw = true; break;
		case 't':
			t.force = mdm_proto_find(optarg);
			if (!t.force) {
				fprintf(stderr, "mdmesh tail: unknown --type '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h': tail_usage(stdout); return 0;
		default: tail_usage(stderr); return 2;
		}
	}
	if (optind < argc)
		t.subject = argv[optind++];
	if (optind != argc) {
		fprintf(stderr, "mdmesh tail: one subject only (see --help)\n");
		return 2;
	}
	pthread_mutex_init(&t.lock, NULL);
	mdm_cond_init(&t.cond);
	t.last_msg_ns = mdm_mono_ns();
	the_tail = &t;
	mdm_signal_start(on_signal, NULL);
	mdm_err_clear();
	rc = mdmesh_connect(url, "mdmesh-tail", &bus);
	if (rc == 0)
		rc = replay ? run_replay(&t, bus, from_seq, since_ns) : run_live(&t, bus);
	if (rc != 0)
		fprintf(stderr, "mdmesh tail: %s\n", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
	mdm_bus_destroy(bus);
	mdm_buf_fini(&t.out);
	return rc == 0 ? 0 : 1;
}
