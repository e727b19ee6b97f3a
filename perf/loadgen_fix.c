/* `mdmesh-loadgen fix`: a FIX drop-copy counterparty (acceptor or initiator)
 * sending ExecutionReports on a constant-rate schedule, with faults injected
 * on request (a number skipped so the receiver sees a gap, PossDup copies,
 * disconnects, corrections and cancels), answering ResendRequests by
 * replaying what it sent (execution k is a pure function of --seed and k),
 * and writing the truth it sent as JSON lines. It ends once the receiver has
 * answered a TestRequest sent after the last execution (so it has everything
 * in sequence), then logs out. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fix_conn.h"
#include "fix_reader.h"
#include "fix_session.h"
#include "loadgen_cmds.h"
#include "loadgen_opt.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_mem.h"

#define PROG "mdmesh-loadgen fix"
#define MAX_MESSAGE (128 * 1024)

struct lg {
	const char *connect, *listen, *begin, *port_file;
	const char *sender, *target;
	uint64_t rate, count, traders, symbols, seed, heartbeat;
	uint64_t gap_every, dup_every, disconnect_every, correct_every, cancel_every;
	uint64_t wait_ns;
	FILE *truth;
	struct fix_session *s;
	int fd, lfd;
	struct fix_reader rd;
	int64_t *map;             /* seq -> execution index, -1: an admin message */
	uint64_t map_cap;
	char test_id[32];
	bool answered;
	uint64_t start_ns;        /* realtime of execution 0's intended send */
	uint64_t sent, replayed, gaps, dups, disconnects;
};

static const char *const symbols[] = { "AAPL", "MSFT", "AMZN", "NVDA", "GOOGL", "META", "TSLA", "AVGO",
				       "JPM",  "V",    "UNH",  "XOM",  "MA",    "JNJ",  "PG",   "HD" };

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Execution k: everything derives from (seed, k), so a replay is identical. */
struct exec {
	char id[48], ref[48], trader[24], symbol[24], order[32];
	char type;     /* F, G, H */
	char side;
	int64_t qty8, px8;
};

static void make_exec(const struct lg *g, uint64_t k, struct exec *e)
{
	uint64_t h = mix(g->seed * 0x9e3779b97f4a7c15ULL + k);
	uint64_t ns = g->symbols;

	snprintf(e->id, sizeof(e->id), "E%" PRIu64 "-%" PRIu64, g->seed, k);
	snprintf(e->order, sizeof(e->order), "O%" PRIu64, h % 1000000);
	snprintf(e->trader, sizeof(e->trader), "T%03" PRIu64, h % g->traders);
	if (ns <= sizeof(symbols) / sizeof(symbols[0]))
		snprintf(e->symbol, sizeof(e->symbol), "%s", symbols[(h >> 8) % ns]);
	else
		snprintf(e->symbol, sizeof(e->symbol), "SYM%03" PRIu64, (h >> 8) % ns);
	e->side = (h >> 20) & 1 ? '2' : '1';
	e->qty8 = (int64_t)((h >> 24) % 100 + 1) * 100 * 100000000LL;
	/* 10.0000 .. 509.9999: four decimals, exact in price8 */
	e->px8 = (int64_t)(100000 + (h >> 32) % 5000000) * 10000LL;
	e->type = 'F';
	e->ref[0] = '\0';
	if (k > 0 && g->cancel_every && k % g->cancel_every == 0)
		e->type = 'H';
	else if (k > 0 && g->correct_every && k % g->correct_every == 0)
		e->type = 'G';
	if (e->type != 'F')
		snprintf(e->ref, sizeof(e->ref), "E%" PRIu64 "-%" PRIu64, g->seed, k - 1);
}

static void write_exec(const struct lg *g, struct fix_write *w, const struct exec *e, uint64_t now_ns)
{
	bool fix42 = strcmp(g->begin, "FIX.4.2") == 0;
	char t[2] = { e->type, 0 }, side[2] = { e->side, 0 };

	fix_write_str(w, 37, e->order);
	fix_write_str(w, 17, e->id);
	if (e->ref[0])
		fix_write_str(w, 19, e->ref);
	if (fix42) {
		fix_write_str(w, 20, e->type == 'F' ? "0" : e->type == 'H' ? "1" : "2");
		fix_write_str(w, 150, "2");
	} else {
		fix_write_str(w, 150, t);
	}
	fix_write_str(w, 39, "2");
	fix_write_str(w, 1, "ACC1");
	fix_write_str(w, 55, e->symbol);
	fix_write_str(w, 54, side);
	fix_write_dec8(w, 32, e->qty8);
	fix_write_dec8(w, 31, e->px8);
	fix_write_dec8(w, 14, e->qty8);
	fix_write_u64(w, 151, 0);
	fix_write_dec8(w, 6, e->px8);
	fix_write_str(w, 15, "USD");
	fix_write_utc(w, 60, now_ns);
	fix_write_str(w, 30, "XNAS");
	fix_write_u64(w, 453, 1);
	fix_write_str(w, 448, e->trader);
	fix_write_str(w, 447, "D");
	fix_write_u64(w, 452, 12);
}

static int map_set(struct lg *g, uint64_t seq, int64_t k)
{
	if (seq >= g->map_cap) {
		uint64_t cap = g->map_cap ? g->map_cap * 2 : 4096;
		int64_t *m;

		while (cap <= seq)
			cap *= 2;
		m = mdm_realloc(g->map, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		for (uint64_t i = g->map_cap; i < cap; i++)
			m[i] = -1;
		g->map = m;
		g->map_cap = cap;
	}
	g->map[seq] = k;
	return 0;
}

/* ---- session callbacks ---- */

static int lg_send(void *ctx, const char *p, size_t len)
{
	struct lg *g = ctx;

	return g->fd < 0 ? -ENOTCONN : fix_conn_write_all(g->fd, p, len, 2000);
}

static int lg_persist(void *ctx, uint64_t next_out)
{
	(void)ctx;
	(void)next_out;
	return 0; /* the load generator lives for one run */
}

static int lg_deliver(void *ctx, struct fix_msg *m, bool poss_dup)
{
	(void)ctx;
	(void)m;
	(void)poss_dup;
	return 0;
}

/* Replay what was an execution, gap-fill runs of anything else. */
static int lg_resend(void *ctx, uint64_t begin, uint64_t end)
{
	struct lg *g = ctx;
	uint64_t now = mdm_real_ns(), seq = begin;

	while (seq <= end) {
		int64_t k = seq < g->map_cap ? g->map[seq] : -1;

		if (k < 0) {
			uint64_t to = seq;

			while (to <= end && (to >= g->map_cap || g->map[to] < 0))
				to++;
			if (fix_session_gap_fill(g->s, seq, to, now) != 0)
				return -EIO;
			seq = to;
			continue;
		}
		{
			struct exec e;
			struct fix_write *w = fix_session_begin_replay(g->s, "8", seq, g->start_ns, now);

			make_exec(g, (uint64_t)k, &e);
			write_exec(g, w, &e, now);
			if (fix_session_send_replay(g->s) != 0)
				return -EIO;
			g->replayed++;
		}
		seq++;
	}
	return 0;
}

static void lg_event(void *ctx, enum fix_event ev, const char *text)
{
	(void)ctx;
	if (ev == FIX_EV_ERROR || ev == FIX_EV_LOGGED_OUT)
		fprintf(stderr, PROG ": %s\n", text);
}

static const struct fix_session_ops lg_ops = { .send = lg_send, .persist = lg_persist, .deliver = lg_deliver,
					       .resend = lg_resend, .event = lg_event };

/* ---- transport ---- */

static void drop(struct lg *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	fix_reader_reset(&g->rd);
	fix_session_disconnected(g->s);
}

static void up(struct lg *g)
{
	if (g->fd >= 0)
		return;
	if (g->lfd >= 0) {
		struct pollfd p = { .fd = g->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 50) == 1 && fix_conn_accept(g->lfd, &fd) == 0)
			g->fd = fd;
	} else if (fix_conn_connect(g->connect, 1000, &g->fd) != 0) {
		g->fd = -1;
		mdm_sleep_ns(100 * MDM_NS_PER_MS);
	}
	if (g->fd >= 0 && fix_session_connected(g->s, mdm_real_ns()) == FIX_DISCONNECT)
		drop(g);
}

/* Read and handle what the receiver sent, waiting up to timeout_ms. */
static void pump(struct lg *g, int timeout_ms)
{
	struct pollfd p = { .fd = g->fd, .events = POLLIN };
	const char *msg;
	ssize_t n;
	int m;

	up(g);
	if (g->fd < 0)
		return;
	if (poll(&p, 1, timeout_ms) == 1) {
		size_t room;
		char *at = fix_reader_space(&g->rd, &room);

		n = read(g->fd, at, room);
		if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
			drop(g);
			return;
		}
		if (n > 0)
			fix_reader_fill(&g->rd, (size_t)n);
	}
	while ((m = fix_reader_next(&g->rd, &msg)) != 0) {
		struct fix_msg fm;

		if (m < 0) {
			fix_session_frame_error(g->s, m);
			continue;
		}
		if (fix_parse(&fm, msg, (size_t)m) == 0 && fix_view_eq(fm.f[FIX_F_MSG_TYPE], "0") &&
		    g->test_id[0] && fix_view_eq(fm.f[FIX_F_TEST_REQ_ID], g->test_id))
			g->answered = true;
		if (fix_session_on_msg(g->s, msg, (size_t)m, mdm_real_ns()) == FIX_DISCONNECT) {
			drop(g);
			return;
		}
	}
	fix_reader_compact(&g->rd);
	if (fix_session_tick(g->s, mdm_real_ns()) == FIX_DISCONNECT)
		drop(g);
}

static bool active(const struct lg *g)
{
	return g->fd >= 0 && fix_session_state(g->s) == FIX_S_ACTIVE;
}

static void truth_line(struct lg *g, uint64_t k, const struct exec *e, uint64_t seq)
{
	char qty[32], px[32];

	if (!g->truth)
		return;
	fix_dec8_format(e->qty8, qty);
	fix_dec8_format(e->px8, px);
	fprintf(g->truth,
		"{\"k\":%" PRIu64 ",\"exec_id\":\"%s\",\"exec_type\":\"%c\",\"exec_ref_id\":\"%s\",\"trader\":\"%s\","
		"\"symbol\":\"%s\",\"side\":\"%c\",\"last_qty\":\"%s\",\"last_px\":\"%s\",\"qty8\":%" PRId64
		",\"px8\":%" PRId64 ",\"seq\":%" PRIu64 "}\n",
		k, e->id, e->type, e->ref, e->trader, e->symbol, e->side, qty, px, e->qty8, e->px8, seq);
}

/* Send execution k (and the faults its index asks for). */
static int send_one(struct lg *g, uint64_t k)
{
	uint64_t now = mdm_real_ns(), seq = fix_session_next_out(g->s);
	struct exec e;
	struct fix_write *w;

	make_exec(g, k, &e);
	truth_line(g, k, &e, seq);
	if (map_set(g, seq, (int64_t)k) != 0)
		return -ENOMEM;
	if (g->gap_every && k % g->gap_every == g->gap_every - 1) {
		fix_session_skip_out(g->s); /* numbered, not sent: the receiver asks for it */
		g->gaps++;
	} else {
		w = fix_session_begin(g->s, "8", now);
		write_exec(g, w, &e, now);
		if (fix_session_send(g->s) != 0)
			drop(g); /* numbered: a resend brings it */
		g->sent++;
	}
	if (g->dup_every && k % g->dup_every == g->dup_every - 1 && active(g)) {
		/* the same execution again under a new number, flagged PossDup */
		seq = fix_session_next_out(g->s);
		if (map_set(g, seq, (int64_t)k) != 0)
			return -ENOMEM;
		w = fix_session_begin(g->s, "8", now);
		fix_write_str(w, 43, "Y");
		fix_write_utc(w, 122, now);
		write_exec(g, w, &e, now);
		if (fix_session_send(g->s) != 0)
			drop(g);
		g->dups++;
	}
	if (g->disconnect_every && k % g->disconnect_every == g->disconnect_every - 1 && g->fd >= 0) {
		drop(g);
		g->disconnects++;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " (--listen A:P | --connect H:P) --count N [options]\n\n"
		"A FIX drop-copy counterparty: sends N ExecutionReports at a constant rate to mdmesh-fix (or any\n"
		"FIX engine), answers its ResendRequests with PossDup replays, and ends once it has everything.\n\n"
		"  --listen A:P          be the acceptor (port 0: ephemeral, see --port-file)\n"
		"  --connect H:P         be the initiator\n"
		"  --sender ID           our CompID (BRK)          --target ID   theirs (US)\n"
		"  --begin-string S      FIX.4.4 (default) or FIX.4.2\n"
		"  --rate N              executions/s (1000)       --count N     executions to send (1000)\n"
		"  --traders N           distinct traders (10)     --symbols N   distinct symbols (10)\n"
		"  --seed N              everything derives from it (1)\n"
		"  --gap-every N         every Nth execution is numbered but not sent: the receiver's gap\n"
		"  --dup-every N         every Nth is sent again under a new number with PossDupFlag=Y\n"
		"  --disconnect-every N  drop the connection after every Nth\n"
		"  --correct-every N     every Nth is a correction (150=G) of the one before\n"
		"  --cancel-every N      every Nth is a cancel (150=H) of the one before\n"
		"  --truth FILE          one JSON line per execution sent (exec_id, trader, symbol, qty, px, ...)\n"
		"  --port-file FILE      write the listening port here once bound\n"
		"  --heartbeat S         HeartBtInt as initiator (30)\n"
		"  --wait S              how long to wait for the receiver to catch up at the end (120)\n");
}

int loadgen_fix(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'L' },      { "connect", required_argument, NULL, 'C' },
		{ "sender", required_argument, NULL, 'S' },      { "target", required_argument, NULL, 'T' },
		{ "begin-string", required_argument, NULL, 'B' }, { "rate", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },       { "traders", required_argument, NULL, 't' },
		{ "symbols", required_argument, NULL, 'y' },     { "seed", required_argument, NULL, 's' },
		{ "gap-every", required_argument, NULL, 'g' },   { "dup-every", required_argument, NULL, 'd' },
		{ "disconnect-every", required_argument, NULL, 'x' }, { "correct-every", required_argument, NULL, 'G' },
		{ "cancel-every", required_argument, NULL, 'H' }, { "truth", required_argument, NULL, 'o' },
		{ "port-file", required_argument, NULL, 'p' },   { "heartbeat", required_argument, NULL, 'b' },
		{ "wait", required_argument, NULL, 'w' },        { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lg g = { .begin = "FIX.4.4", .sender = "BRK", .target = "US", .rate = 1000, .count = 1000,
			.traders = 10, .symbols = 10, .seed = 1, .heartbeat = 30, .wait_ns = 120 * MDM_NS_PER_S,
			.fd = -1, .lfd = -1 };
	const char *truth_path = NULL;
	uint64_t *num = NULL, lo = 0, hi = 0, last_test = 0, deadline;
	int c, li = 0, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 'L': g.listen = optarg; continue;
		case 'C': g.connect = optarg; continue;
		case 'S': g.sender = optarg; continue;
		case 'T': g.target = optarg; continue;
		case 'B': g.begin = optarg; continue;
		case 'o': truth_path = optarg; continue;
		case 'p': g.port_file = optarg; continue;
		case 'w': {
			uint64_t ns;

			if (loadgen_opt_secs(PROG, "--wait", optarg, false, &ns) != 0)
				return 2;
			g.wait_ns = ns;
			continue;
		}
		case 'h': usage(stdout); return 0;
		case 'r': num = &g.rate, lo = 1, hi = 10000000; break;
		case 'n': num = &g.count, lo = 1, hi = 1000000000; break;
		case 't': num = &g.traders, lo = 1, hi = 100000; break;
		case 'y': num = &g.symbols, lo = 1, hi = 100000; break;
		case 's': num = &g.seed, lo = 0, hi = UINT32_MAX; break;
		case 'g': num = &g.gap_every, lo = 0, hi = 1000000000; break;
		case 'd': num = &g.dup_every, lo = 0, hi = 1000000000; break;
		case 'x': num = &g.disconnect_every, lo = 0, hi = 1000000000; break;
		case 'G': num = &g.correct_every, lo = 0, hi = 1000000000; break;
		case 'H': num = &g.cancel_every, lo = 0, hi = 1000000000; break;
		case 'b': num = &g.heartbeat, lo = 1, hi = 600; break;
		default: usage(stderr); return 2;
		}
		if (loadgen_opt_uint(PROG, opts[li].name, optarg, lo, hi, num) != 0)
			return 2;
	}
	if (!g.listen == !g.connect) {
		fprintf(stderr, PROG ": give exactly one of --listen and --connect\n");
		return 2;
	}
	{
		struct fix_session_params sp = { .begin_string = g.begin, .sender = g.sender, .target = g.target,
						 .initiator = g.connect != NULL, .heartbeat_s = (uint32_t)g.heartbeat,
						 .next_out = 1, .next_in = 1, .ops = &lg_ops, .ctx = &g };

		if (fix_session_create(&g.s, &sp) != 0) {
			fprintf(stderr, PROG ": %s\n", mdm_err_last());
			return 2;
		}
	}
	if (fix_reader_init(&g.rd, MAX_MESSAGE) != 0)
		goto out;
	if (truth_path && !(g.truth = fopen(truth_path, "w"))) {
		fprintf(stderr, PROG ": --truth %s: %s\n", truth_path, strerror(errno));
		goto out;
	}
	if (g.listen) {
		uint16_t port;

		if (fix_conn_listen(g.listen, &g.lfd, &port) != 0) {
			fprintf(stderr, PROG ": %s\n", mdm_err_last());
			goto out;
		}
		if (g.port_file) {
			FILE *pf = fopen(g.port_file, "w");

			if (!pf || fprintf(pf, "%u\n", port) < 0 || fclose(pf) != 0) {
				fprintf(stderr, PROG ": --port-file %s: %s\n", g.port_file, strerror(errno));
				goto out;
			}
		}
		fprintf(stderr, PROG ": listening on port %u\n", port);
	}
	/* The schedule starts at the first Logon; sends follow it (wrk2-style:
	 * a late send is not an excuse to send the next one later). */
	while (!active(&g))
		pump(&g, 50);
	g.start_ns = mdm_real_ns();
	for (uint64_t k = 0; k < g.count; k++) {
		uint64_t due = g.start_ns + k * MDM_NS_PER_S / g.rate, now = 0;

		while (!active(&g) || (now = mdm_real_ns()) < due) {
			int wait_ms = active(&g) ? (int)((due - now) / MDM_NS_PER_MS) : 50;

			pump(&g, wait_ms);
		}
		if (send_one(&g, k) != 0)
			goto out;
		if ((k & 63) == 0)
			pump(&g, 0);
	}
	/* Done once the receiver answers a TestRequest sent after everything:
	 * it handles messages in order, so it then holds every execution. */
	deadline = mdm_mono_ns() + g.wait_ns;
	while (!g.answered && mdm_mono_ns() < deadline) {
		if (active(&g) && mdm_mono_ns() >= last_test + MDM_NS_PER_S) {
			struct fix_write *w = fix_session_begin(g.s, "1", mdm_real_ns());

			snprintf(g.test_id, sizeof(g.test_id), "done-%" PRIu64, fix_session_next_out(g.s));
			fix_write_str(w, 112, g.test_id);
			if (fix_session_send(g.s) != 0)
				drop(&g);
			last_test = mdm_mono_ns();
		}
		pump(&g, 50);
	}
	if (!g.answered) {
		fprintf(stderr, PROG ": the receiver did not catch up within --wait\n");
		goto out;
	}
	if (fix_session_logout(g.s, "done", mdm_real_ns()) == FIX_CONTINUE) {
		deadline = mdm_mono_ns() + 5 * MDM_NS_PER_S;
		while (g.fd >= 0 && mdm_mono_ns() < deadline)
			pump(&g, 50);
	}
	{
		const struct fix_session_counters *sc = fix_session_counters(g.s);

		fprintf(stderr,
			PROG ": %" PRIu64 " executions: %" PRIu64 " sent, %" PRIu64 " held back (gaps), %" PRIu64
			" PossDup copies, %" PRIu64 " replayed on %" PRIu64 " resend requests, %" PRIu64 " disconnects; "
			"%.1f s\n",
			g.count, g.sent, g.gaps, g.dups, g.replayed, sc->resend_requests_received, g.disconnects,
			(double)(mdm_real_ns() - g.start_ns) / 1e9);
	}
	rc = 0;
out:
	if (g.truth && fclose(g.truth) != 0)
		rc = 1;
	if (g.fd >= 0)
		close(g.fd);
	if (g.lfd >= 0)
		close(g.lfd);
	fix_session_destroy(g.s);
	mdm_free(g.map);
	fix_reader_fini(&g.rd);
	return rc;
}
