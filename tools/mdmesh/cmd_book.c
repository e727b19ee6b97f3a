/* `mdmesh book SYMBOL`: a symbol's current book from stream DEPTH (or its BBO
 * from BBO with --top) in one read, as a ladder or JSON; --follow then applies
 * live views in sequence order. The late join of MARKET_VIEWS.md: subscribe
 * first (buffering), read the state (the streams keep the last view per
 * subject), then apply the buffered and live views newer than the state
 * (header.seq; a new session is always newer). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "encode.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_cond.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_mem.h"
#include "mdm_signal.h"
#include "mdm_subject.h"
#include "views_json.h"

#define NSLOT 16384 /* symbols held with --all (a power of two) */

struct bview {
	bool used;
	char symbol[9], session[11];
	struct views_out o;
	struct book_level_info lv[2 * VIEWS_MAX_LEVELS];
};

struct pending {
	struct pending *next;
	size_t len;
	uint8_t data[];
};

struct book_cmd {
	const char *feed, *symbol;
	bool top, all, follow, json;
	unsigned depth;
	uint64_t idle_ms;
	struct bview *v;                /* NSLOT with --all, else 1 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool ready, stop;
	struct pending *head, **tail;   /* live views before the state was read */
	uint64_t last_ns, applied;
	struct mdm_buf out;
};

static struct book_cmd *the_book;

static void book_usage(FILE *f)
{
	fprintf(f,
		"usage: mdmesh book SYMBOL [--depth N] [--top] [--follow] [--json] [--feed NAME] [--nats URL]\n"
		"       mdmesh book --all --top [--follow] [--json]\n\n"
		"A symbol's current book from stream DEPTH (its BBO from stream BBO with --top), read in one\n"
		"request (the streams keep the last view of each symbol), printed as a ladder: asks above,\n"
		"bids below, best in the middle; prices in Price(4) units shown with 4 decimals.\n"
		"  --depth N           levels a side to print (default: all the view has)\n"
		"  --top               the BBO instead of the depth\n"
		"  --all               every symbol of the feed (with --top)\n"
		"  --follow            then apply live views in sequence order (header.seq): a view not\n"
		"                      newer than the one printed is discarded; until SIGINT/SIGTERM\n"
		"  --idle-timeout S    with --follow: exit when no view arrived for S seconds\n"
		"  --json              one JSON line per view (the shape of mdmesh feed dump --bbo)\n"
		"  --feed NAME         feed (default itch)\n"
		"  --nats URL          server (default nats://127.0.0.1:4222, or $MDM_NATS_URL)\n\n"
		"example: mdmesh book AAPL --depth 5 --follow\n");
}

/* Slot of a symbol (open addressing over NSLOT with --all). */
static struct bview *slot(struct book_cmd *b, const char *symbol)
{
	uint32_t h = 2166136261u;

	if (!b->all)
		return b->v;
	for (const char *p = symbol; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (uint32_t i = 0; i < NSLOT; i++) {
		struct bview *v = &b->v[(h + i) & (NSLOT - 1)];

		if (!v->used || strcmp(v->symbol, symbol) == 0)
			return v;
	}
	return NULL;
}

/* Decode a Bbo / Depth into out (levels into lv). false when it does not decode. */
static bool decode(const struct book_cmd *b, const uint8_t *data, size_t len, struct bview *out)
{
	static struct encode_view_read r; /* callers hold b->lock */

	if (!encode_view_read(data, len, b->top, &r))
		return false;
	out->o = r.o;
	memcpy(out->lv, r.lv, sizeof(out->lv));
	out->o.bids = out->lv;
	out->o.asks = out->lv + r.o.n_bids;
	memcpy(out->symbol, r.symbol, sizeof(out->symbol));
	memcpy(out->session, r.session, sizeof(out->session));
	return true;
}

static void flags_text(FILE *f, uint8_t flags)
{
	fprintf(f, "%s%s%s", flags & VIEWS_F_LAST ? " LAST" : "", flags & VIEWS_F_MAYBE_BAD_BOOK ? " MAYBE_BAD_BOOK" : "",
		flags & VIEWS_F_SNAPSHOT ? " SNAPSHOT" : "");
}

static void print_view(struct book_cmd *b, const struct bview *v)
{
	const struct views_out *o = &v->o;

	if (b->json) {
		struct mdm_json j;
		struct views_out c = *o;

		if (c.kind == VIEWS_DEPTH && b->depth) {
			c.n_bids = c.n_bids < b->depth ? c.n_bids : b->depth;
			c.n_asks = c.n_asks < b->depth ? c.n_asks : b->depth;
		}
		mdm_buf_reset(&b->out);
		mdm_json_init(&j, &b->out);
		views_json(&j, v->session, v->symbol, &c);
		mdm_buf_putc(&b->out, '\n');
		fwrite(b->out.data, 1, b->out.len, stdout);
	} else if (o->kind == VIEWS_BBO) {
		printf("%-8s %10u %10.4f x %-10.4f %-10u seq %lu", v->symbol, (unsigned)o->bbo.bid_shares,
		       o->bbo.bid_price / 1e4, o->bbo.ask_price / 1e4, (unsigned)o->bbo.ask_shares, (unsigned long)o->seq);
		flags_text(stdout, o->flags);
		putchar('\n');
	} else {
		unsigned nb = b->depth && o->n_bids > b->depth ? b->depth : o->n_bids;
		unsigned na = b->depth && o->n_asks > b->depth ? b->depth : o->n_asks;

		printf("%s  session %s  seq %lu", v->symbol, v->session, (unsigned long)o->seq);
		flags_text(stdout, o->flags);
		printf("\n  %-4s %12s %12s %8s\n", "", "price", "size", "orders");
		for (unsigned i = na; i-- > 0;)
			printf("  %-4s %12.4f %12lu %8u\n", "ask", o->asks[i].price / 1e4, (unsigned long)o->asks[i].shares,
			       o->asks[i].orders);
		printf("  ----\n");
		for (unsigned i = 0; i < nb; i++)
			printf("  %-4s %12.4f %12lu %8u\n", "bid", o->bids[i].price / 1e4, (unsigned long)o->bids[i].shares,
			       o->bids[i].orders);
	}
	fflush(stdout);
}

/* Apply one view if it is newer than the symbol's (caller holds the lock). */
static void apply(struct book_cmd *b, const uint8_t *data, size_t len)
{
	static struct bview nv;
	struct bview *v;

	if (!decode(b, data, len, &nv))
		return;
	if (!b->all && strcmp(nv.symbol, b->symbol) != 0)
		return;
	v = slot(b, nv.symbol);
	if (!v)
		return;
	/* not newer than what was printed: already in the book */
	if (v->used && strcmp(v->session, nv.session) == 0 && nv.o.seq <= v->o.seq)
		return;
	*v = nv;
	v->used = true;
	v->o.bids = v->lv;
	v->o.asks = v->lv + v->o.n_bids;
	b->applied++;
	print_view(b, v);
}

static void on_live(void *ctx, struct mdm_bus_msg *msg)
{
	struct book_cmd *b = ctx;
	size_t len = mdm_bus_msg_len(msg);
	const void *data = mdm_bus_msg_data(msg);

	pthread_mutex_lock(&b->lock);
	b->last_ns = mdm_mono_ns();
	if (b->ready) {
		apply(b, data, len);
	} else {
		struct pending *p = mdm_malloc(sizeof(*p) + len);

		if (p) {
			p->next = NULL;
			p->len = len;
			memcpy(p->data, data, len);
			*b->tail = p;
			b->tail = &p->next;
		}
	}
	pthread_mutex_unlock(&b->lock);
}

static void on_signal(int sig, void *ctx)
{
	(void)ctx;
	if (sig == SIGHUP || !the_book)
		return;
	pthread_mutex_lock(&the_book->lock);
	the_book->stop = true;
	pthread_cond_broadcast(&the_book->cond);
	pthread_mutex_unlock(&the_book->lock);
}

/* The state: every stored view of the subject through a temporary consumer
 * (the stream keeps the last one per subject: one each). */
static int read_state(struct book_cmd *b, struct mdm_bus *bus, const char *stream, const char *subject)
{
	struct mdm_consumer_cfg cc = { .filter_subject = subject, .max_ack_pending = 4096 };
	struct mdm_bus_consumer_info info = { 0 };
	struct mdm_bus_sub *sub = NULL;
	char durable[64];
	uint64_t got = 0, deadline = mdm_mono_ns() + 30 * MDM_NS_PER_S;
	int rc;

	snprintf(durable, sizeof(durable), "mdmesh-book-%d-%ld", (int)getpid(), (long)(mdm_mono_ns() % 1000000));
	rc = mdm_bus_consumer_create_at(bus, stream, durable, &cc, 1, 0);
	if (rc != 0)
		return rc;
	rc = mdm_bus_consumer_info(bus, stream, durable, &info);
	if (rc == 0)
		rc = mdm_bus_pull_subscribe(bus, stream, durable, &sub);
	while (rc == 0 && got < info.num_pending && mdm_mono_ns() < deadline) {
		struct mdm_bus_msg *msgs[256];
		size_t n = 0;

		rc = mdm_bus_fetch(sub, 256, 1000, msgs, &n);
		pthread_mutex_lock(&b->lock);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			apply(b, mdm_bus_msg_data(msgs[i]), mdm_bus_msg_len(msgs[i]));
			mdm_bus_ack(msgs[i]);
		}
		pthread_mutex_unlock(&b->lock);
		got += n;
		mdm_bus_msgs_free(msgs, n);
	}
	if (rc == 0 && got < info.num_pending)
		rc = mdm_err_set(-ETIMEDOUT, "stream %s: read %lu of %lu views", stream, (unsigned long)got,
				 (unsigned long)info.num_pending);
	mdm_bus_sub_destroy(sub);
	mdm_bus_consumer_delete(bus, stream, durable);
	return rc;
}

static int run(struct book_cmd *b, struct mdm_bus *bus)
{
	char subject[128], tok[64];
	const char *stream = b->top ? "BBO" : "DEPTH";
	struct mdm_bus_sub *live = NULL;
	int rc = 0;

	if (b->all) {
		snprintf(subject, sizeof(subject), "%s.%s.>", b->top ? "bbo" : "depth", b->feed);
	} else {
		size_t n = mdm_subject_token(tok, sizeof(tok), b->symbol, strlen(b->symbol));

		tok[n < sizeof(tok) ? n : sizeof(tok) - 1] = '\0';
		snprintf(subject, sizeof(subject), "%s.%s.%s", b->top ? "bbo" : "depth", b->feed, tok);
	}
	/* 1. subscribe (buffering) before reading the state: nothing falls between */
	if (b->follow)
		rc = mdm_bus_subscribe(bus, subject, on_live, b, &live);
	/* 2. the state */
	if (rc == 0)
		rc = read_state(b, bus, stream, subject);
	if (rc == 0 && !b->all && !b->applied && !b->follow) {
		rc = mdm_err_set(-ENOENT, "no view of %s in stream %s (subject %s)", b->symbol, stream, subject);
	}
	/* 3. the buffered views newer than the state, then live ones */
	pthread_mutex_lock(&b->lock);
	while (b->head) {
		struct pending *p = b->head;

		b->head = p->next;
		if (rc == 0)
			apply(b, p->data, p->len);
		mdm_free(p);
	}
	b->tail = &b->head;
	b->ready = true;
	b->last_ns = mdm_mono_ns();
	while (rc == 0 && b->follow && !b->stop) {
		mdm_cond_wait_until(&b->cond, &b->lock, mdm_mono_ns() + 200 * MDM_NS_PER_MS);
		if (b->idle_ms && mdm_mono_ns() - b->last_ns > b->idle_ms * MDM_NS_PER_MS)
			break;
	}
	b->stop = true;
	pthread_mutex_unlock(&b->lock);
	mdm_bus_sub_destroy(live);
	return rc;
}

int cmd_book(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "depth", required_argument, NULL, 'd' },  { "top", no_argument, NULL, 't' },
		{ "all", no_argument, NULL, 'a' },          { "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },         { "feed", required_argument, NULL, 'F' },
		{ "nats", required_argument, NULL, 'n' },   { "idle-timeout", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	struct book_cmd b = { .feed = "itch", .out = MDM_BUF_INIT };
	struct mdm_bus *bus = NULL;
	const char *url = NULL;
	char *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			b.depth = (unsigned)strtoul(optarg, &end, 10);
			if (*end || b.depth == 0 || b.depth > VIEWS_MAX_LEVELS) {
				fprintf(stderr, "mdmesh book: --depth '%s': expected 1..%d\n", optarg, VIEWS_MAX_LEVELS);
				return 2;
			}
			break;
		case 't': b.top = true; break;
		case 'a': b.all = true; break;
		case 'f': b.follow = true; break;
		case 'j': b.json = true; break;
		case 'F': b.feed = optarg; break;
		case 'n': url = optarg; break;
		case 'i':
			b.idle_ms = (uint64_t)(strtod(optarg, &end) * 1000);
			if (*end || b.idle_ms == 0) {
				fprintf(stderr, "mdmesh book: --idle-timeout '%s': expected seconds > 0\n", optarg);
				return 2;
			}
			break;
		case 'h': book_usage(stdout); return 0;
		default: book_usage(stderr); return 2;
		}
	}
	if (optind < argc)
		b.symbol = argv[optind++];
	if (optind != argc || !b.symbol == !b.all || (b.all && !b.top)) {
		fprintf(stderr, "mdmesh book: give one SYMBOL, or --all --top (see --help)\n");
		return 2;
	}
	b.v = mdm_calloc(b.all ? NSLOT : 1, sizeof(*b.v));
	if (!b.v) {
		fprintf(stderr, "mdmesh book: out of memory\n");
		return 1;
	}
	b.tail = &b.head;
	pthread_mutex_init(&b.lock, NULL);
	mdm_cond_init(&b.cond);
	the_book = &b;
	mdm_signal_start(on_signal, NULL);
	mdm_err_clear();
	rc = mdmesh_connect(url, "mdmesh-book", &bus);
	if (rc == 0)
		rc = run(&b, bus);
	if (rc != 0)
		fprintf(stderr, "mdmesh book: %s\n", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
	mdm_bus_destroy(bus);
	mdm_buf_fini(&b.out);
	mdm_free(b.v);
	return rc == 0 ? 0 : 1;
}
