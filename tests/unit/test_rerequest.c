/* Gap recovery against real UDP sockets on 127.0.0.1: a sequencer whose
 * events drive the re-request module, and a request server in the test built
 * on mdmesh-loadgen's store of what was sent (perf/sender.c). Time is passed
 * explicitly, so timeouts and the rate limit are exact. Also the resume scan
 * (collector/resume.c) that seeds the sequencer after a restart. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdm_clock.h"
#include "mdm_mem.h"
#include "mold.h"
#include "rerequest.h"
#include "resume.h"
#include "sender.h"
#include "seq.h"

#define MS 1000000ULL
#define MSGS_PER_PKT 10

static const uint8_t SESSION[10] = { 'T', 'E', 'S', 'T', '0', '1', ' ', ' ', ' ', ' ' };

/* A server socket bound to 127.0.0.1 on an ephemeral port. */
struct server {
	int fd;
	uint16_t port;
	char addr[32];
};

static void server_open(struct server *sv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	sv->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(sv->fd >= 0);
	assert_int_equal(bind(sv->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(sv->fd, (struct sockaddr *)&a, &len), 0);
	sv->port = ntohs(a.sin_port);
	snprintf(sv->addr, sizeof(sv->addr), "127.0.0.1:%u", sv->port);
}

static void server_close(struct server *sv)
{
	close(sv->fd);
}

/* Everything the test world holds: the sequencer, the recovery module fed by
 * its events, and the store of what the "exchange" sent. */
#define TRACK_MAX 8192 /* sequence numbers followed message by message (test_requests_match_sequencer) */

struct world {
	struct seq *seq;
	struct rerequest *rr;
	struct sender_store *store;
	struct rerequest_gap rep[32];
	unsigned n_rep;
	uint8_t rline; /* the sequencer line answers are fed on */
	/* optional, per sequence number < TRACK_MAX: delivered by the sequencer;
	 * forgotten by it (evicted, abandoned) while pending / once declared */
	bool *got, *lost_pending, *lost_declared;
};

static void track(bool *map, uint64_t from, uint64_t to)
{
	for (uint64_t q = from; map && q <= to && q < TRACK_MAX; q++)
		map[q] = true;
}

static void on_event(void *ctx, const struct seq_event *ev)
{
	struct world *w = ctx;

	if (ev->type == SEQ_EV_GAP_EVICTED || ev->type == SEQ_EV_GAP_ABANDONED)
		track(ev->declared ? w->lost_declared : w->lost_pending, ev->from, ev->to);
	rerequest_on_seq_event(w->rr, ev);
}

static void world_init_lines(struct world *w, unsigned n_lines, const char *const *servers, size_t n_servers,
			     uint32_t max_count, uint64_t timeout_ns, uint32_t retries, uint64_t rate, uint32_t burst,
			     uint32_t capacity)
{
	struct rerequest_params rp = { .servers = servers, .n_servers = n_servers, .rate_per_s = rate, .burst = burst,
				       .max_count = max_count, .timeout_ns = timeout_ns, .retries = retries,
				       .capacity = capacity, .line = (uint8_t)n_lines };
	struct seq_params sp = { .n_lines = n_lines, .gap_capacity = capacity, .on_event = on_event, .ctx = w };

	memset(w, 0, sizeof(*w));
	w->rline = (uint8_t)n_lines;
	assert_int_equal(rerequest_create(&w->rr, &rp), 0);
	assert_int_equal(seq_create(&w->seq, &sp), 0);
	assert_int_equal(sender_store_create(&w->store), 0);
}

static void world_init(struct world *w, const char *const *servers, size_t n_servers, uint32_t max_count,
		       uint64_t timeout_ns, uint32_t retries, uint64_t rate, uint32_t burst, uint32_t capacity)
{
	world_init_lines(w, 1, servers, n_servers, max_count, timeout_ns, retries, rate, burst, capacity);
}

/* One server `sv` (servers[0]) and the usual world: max_count 1000, 1000/s,
 * burst 10, 64 gaps. */
static void world_init_served(struct world *w, struct server *sv, const char **servers, uint64_t timeout_ns,
			      uint32_t retries)
{
	server_open(sv);
	servers[0] = sv->addr;
	world_init(w, servers, 1, 1000, timeout_ns, retries, 1000, 10, 64);
}

static void world_fini(struct world *w)
{
	rerequest_destroy(w->rr);
	seq_destroy(w->seq);
	sender_store_destroy(w->store);
}

/* Data packet `seq`.. with `count` 12-byte 'S' messages, session `session`. */
static uint32_t mk_packet(uint8_t *out, const uint8_t *session, uint64_t seq, uint16_t count)
{
	uint32_t off = MOLD_HEADER_LEN;

	memcpy(out, session, 10);
	for (int i = 0; i < 8; i++)
		out[10 + i] = (uint8_t)(seq >> (56 - 8 * i));
	out[18] = (uint8_t)(count >> 8);
	out[19] = (uint8_t)count;
	for (uint16_t i = 0; i < count; i++) {
		out[off] = 0;
		out[off + 1] = 12;
		memset(out + off + 2, 0, 12);
		out[off + 2] = 'S';
		out[off + 13] = 'O';
		off += 14;
	}
	return off;
}

/* Hand a packet to the sequencer on `line` (the RX core's feed does the same). */
static void deliver(struct world *w, const uint8_t *p, size_t len, uint8_t line, uint64_t now_ns)
{
	struct mold_pkt mp;
	struct seq_pkt sp;
	struct seq_verdict v;

	assert_int_equal(mold_parse(p, len, NULL, &mp), MOLD_OK);
	sp = (struct seq_pkt){ .session = mp.session, .seq = mp.seq,
			       .count = mp.kind == MOLD_KIND_DATA ? mp.count : 0, .line = line,
			       .end_of_session = mp.kind == MOLD_KIND_END_OF_SESSION, .now_ns = now_ns };
	assert_int_equal(seq_on_packet(w->seq, &sp, &v), 0);
	for (uint32_t r = 0; r < v.n_ranges; r++)
		track(w->got, mp.seq + v.range[r].first, mp.seq + v.range[r].first + v.range[r].count - 1);
}

/* The exchange sends packets of MSGS_PER_PKT messages covering [first, last]:
 * all go to the store; those outside [lose_a, lose_b] reach the sequencer. */
static void exchange(struct world *w, uint64_t first, uint64_t last, uint64_t lose_a, uint64_t lose_b, uint64_t now_ns)
{
	uint8_t pkt[2048];

	for (uint64_t s = first; s <= last; s += MSGS_PER_PKT) {
		uint32_t len = mk_packet(pkt, SESSION, s, MSGS_PER_PKT);

		assert_int_equal(sender_store_add(w->store, pkt, len), MSGS_PER_PKT);
		if (s + MSGS_PER_PKT - 1 < lose_a || s > lose_b)
			deliver(w, pkt, len, 0, now_ns);
	}
}

/* Wait (<= 1 s) for one request on the server socket. Returns its length. */
static ssize_t server_recv(struct server *sv, uint8_t *buf, size_t cap, struct sockaddr_in *src)
{
	struct pollfd pf = { .fd = sv->fd, .events = POLLIN };
	socklen_t slen = sizeof(*src);

	if (poll(&pf, 1, 1000) != 1)
		return -1;
	return recvfrom(sv->fd, buf, cap, 0, (struct sockaddr *)src, &slen);
}

static bool server_idle(struct server *sv, int wait_ms)
{
	struct pollfd pf = { .fd = sv->fd, .events = POLLIN };

	return poll(&pf, 1, wait_ms) == 0;
}

/* Take one request and answer it from the store, as the loadgen does.
 * Returns the packets sent; the request's first and count in *first and *count. */
/* Answer the request [seq, seq + count) from `src` out of the store, less
 * `refuse`. Returns the packets sent. */
static unsigned server_send(struct server *sv, struct world *w, const struct sockaddr_in *src, uint64_t seq,
			    uint16_t count, const struct sender_range *refuse, unsigned n_refuse)
{
	uint8_t out[SENDER_ANSWER_MAX];
	uint64_t last = seq + count - 1;
	unsigned sent = 0;

	while (seq <= last) {
		uint32_t len = sender_store_answer(w->store, &seq, last, refuse, n_refuse, out, sizeof(out));

		if (!len)
			continue;
		assert_true(len <= SENDER_ANSWER_MAX);
		assert_int_equal(sendto(sv->fd, out, len, 0, (const struct sockaddr *)src, sizeof(*src)), (ssize_t)len);
		sent++;
	}
	return sent;
}

static unsigned server_answer(struct server *sv, struct world *w, const struct sender_range *refuse, unsigned n_refuse,
			      uint64_t *first, uint16_t *count)
{
	uint8_t req[64];
	struct sockaddr_in src;
	const uint8_t *session;

	assert_int_equal(server_recv(sv, req, sizeof(req), &src), MOLD_REQUEST_LEN);
	assert_int_equal(mold_request_parse(req, MOLD_REQUEST_LEN, &session, first, count), 0);
	assert_memory_equal(session, "TEST01", 6); /* padding is the client's: spaces or NULs */
	return server_send(sv, w, &src, *first, *count, refuse, n_refuse);
}

/* rerequest_recv, waiting up to `timeout_ns` for something to arrive (or be
 * counted: a foreign datagram returns 0 but moves responses_foreign). */
static int recv_within(struct rerequest *rr, uint8_t *buf, size_t cap, uint64_t foreign0, uint64_t timeout_ns)
{
	uint64_t end = mdm_mono_ns() + timeout_ns;

	for (;;) {
		int n = rerequest_recv(rr, buf, cap);

		if (n != 0 || rerequest_stats(rr)->responses_foreign != foreign0 || mdm_mono_ns() >= end)
			return n;
		sched_yield();
	}
}

/* The RX core's side: feed the `expect` answers the server sent on the
 * recovery line, waiting for each with a generous deadline (loopback delivery
 * may lag on a loaded machine), then whatever else is waiting. */
static unsigned client_pump(struct world *w, uint64_t now_ns, unsigned expect)
{
	uint8_t buf[2048];
	unsigned got = 0;

	for (;;) {
		int n = got < expect ? recv_within(w->rr, buf, sizeof(buf), rerequest_stats(w->rr)->responses_foreign,
						   5000 * MS)
				     : rerequest_recv(w->rr, buf, sizeof(buf));

		if (n < 0)
			fail_msg("rerequest_recv: %d", n);
		if (n == 0)
			return got;
		deliver(w, buf, (size_t)n, w->rline, now_ns);
		got++;
	}
}

static void take_reports(struct world *w)
{
	w->n_rep += rerequest_take(w->rr, w->rep + w->n_rep, 32 - w->n_rep);
}

static void want_report(const struct rerequest_gap *g, uint64_t from, uint64_t to, int reason, uint32_t requests)
{
	assert_int_equal(g->from, from);
	assert_int_equal(g->to, to);
	assert_int_equal(g->reason, reason);
	assert_int_equal(g->requests, requests);
}

/* The sequencer's declared gaps, as "from-to,from-to". */
static void want_seq_gaps(const struct world *w, const char *want)
{
	uint64_t from[16], to[16];
	unsigned n = seq_gaps(w->seq, from, to, 16);
	char got[256] = "";

	for (unsigned i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%llu-%llu", i ? "," : "",
			 (unsigned long long)from[i], (unsigned long long)to[i]);
	assert_string_equal(got, want);
}

/* A 2500-message gap with max_count 1000: three requests in turn, each fully
 * answered, every message recovered once, nothing permanent. */
static void test_recover_in_parts(void **state)
{
	struct server sv;
	const char *servers[1];
	struct world w;
	const struct rerequest_stats *st;
	uint64_t first, now = 10 * MS;
	unsigned sent;
	uint16_t count;

	(void)state;
	world_init_served(&w, &sv, servers, 100 * MS, 2);
	exchange(&w, 1, 2620, 11, 2520, now); /* packets 11..2520 lost */
	assert_int_equal(seq_stats(w.seq)->missing_now, 2510);
	/* poll: one request for the first 1000 */
	assert_int_equal(rerequest_poll(w.rr, w.seq, now), 1);
	/* 98 messages of 2 + 12 bytes fit in 1400 with the header: 10 x 98 + 20 */
	assert_int_equal(server_answer(&sv, &w, NULL, 0, &first, &count), 11);
	assert_int_equal(first, 11);
	assert_int_equal(count, 1000);
	assert_true(server_idle(&sv, 20)); /* nothing else while one is in flight */
	assert_int_equal(client_pump(&w, now + MS, 11), 11);
	assert_int_equal(seq_stats(w.seq)->missing_now, 1510);
	/* the first part complete: the next goes at the next poll, no timeout */
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 2 * MS), 1);
	assert_int_equal(server_answer(&sv, &w, NULL, 0, &first, &count), 11);
	assert_int_equal(first, 1011);
	assert_int_equal(count, 1000);
	client_pump(&w, now + 3 * MS, 11);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 4 * MS), 1);
	sent = server_answer(&sv, &w, NULL, 0, &first, &count);
	assert_int_equal(first, 2011);
	assert_int_equal(count, 510);
	client_pump(&w, now + 5 * MS, sent);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 6 * MS), 0);
	st = rerequest_stats(w.rr);
	assert_int_equal(st->requests_sent, 3);
	assert_int_equal(st->requests_answered, 3);
	assert_int_equal(st->requests_timed_out, 0);
	assert_int_equal(st->gaps_tracked, 1);
	assert_int_equal(st->gaps_recovered, 1);
	assert_int_equal(st->msgs_recovered, 2510);
	assert_int_equal(st->permanent_gaps, 0);
	assert_int_equal(st->outstanding_gaps, 0);
	assert_int_equal(st->outstanding_msgs, 0);
	assert_int_equal(seq_stats(w.seq)->missing_now, 0);
	assert_int_equal(seq_stats(w.seq)->delivered, 2620);
	take_reports(&w);
	assert_int_equal(w.n_rep, 1); /* recovered, with the range as declared */
	assert_int_equal(w.rep[0].reason, REREQUEST_RECOVERED);
	assert_int_equal(w.rep[0].from, 11);
	assert_int_equal(w.rep[0].to, 2520);
	assert_int_equal(w.rep[0].requests, 3);
	world_fini(&w);
	server_close(&sv);
}

/* Two silent servers: the request goes to A, then (after the timeout) to B,
 * then A again; with retries = 2 the third timeout gives the range up: one
 * report with the exact range, reason not_served, 3 requests. */
static void test_retries_then_permanent(void **state)
{
	struct server a, b;
	const char *servers[2];
	struct world w;
	const struct rerequest_stats *st;
	uint8_t req[64];
	struct sockaddr_in src;
	const uint8_t *session;
	uint64_t seq, now = 1000 * MS;
	uint16_t count;

	(void)state;
	server_open(&a);
	server_open(&b);
	servers[0] = a.addr;
	servers[1] = b.addr;
	world_init(&w, servers, 2, 1000, 10 * MS, 2, 1000, 10, 64);
	exchange(&w, 1, 100, 41, 60, now);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now), 1);
	assert_int_equal(server_recv(&a, req, sizeof(req), &src), MOLD_REQUEST_LEN);
	assert_int_equal(mold_request_parse(req, MOLD_REQUEST_LEN, &session, &seq, &count), 0);
	assert_int_equal(seq, 41);
	assert_int_equal(count, 20);
	/* before the deadline nothing more */
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 9 * MS), 1);
	assert_true(server_idle(&a, 10) && server_idle(&b, 0));
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 10 * MS), 1);
	assert_int_equal(server_recv(&b, req, sizeof(req), &src), MOLD_REQUEST_LEN);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 20 * MS), 1);
	assert_int_equal(server_recv(&a, req, sizeof(req), &src), MOLD_REQUEST_LEN);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 30 * MS), 0);
	assert_true(server_idle(&a, 10) && server_idle(&b, 0));
	st = rerequest_stats(w.rr);
	assert_int_equal(st->requests_sent, 3);
	assert_int_equal(st->requests_timed_out, 3);
	assert_int_equal(st->requests_answered, 0);
	assert_int_equal(st->permanent_gaps, 1);
	assert_int_equal(st->permanent_msgs, 20);
	assert_int_equal(st->outstanding_gaps, 0);
	take_reports(&w);
	assert_int_equal(w.n_rep, 1);
	assert_int_equal(w.rep[0].from, 41);
	assert_int_equal(w.rep[0].to, 60);
	assert_int_equal(w.rep[0].reason, REREQUEST_NOT_SERVED);
	assert_int_equal(w.rep[0].requests, 3);
	assert_memory_equal(w.rep[0].session, SESSION, 10);
	assert_string_equal(rerequest_reason_name(w.rep[0].reason), "not_served");
	/* the sequencer still lists it (a late copy would still be delivered) */
	assert_int_equal(seq_stats(w.seq)->missing_now, 20);
	world_fini(&w);
	server_close(&a);
	server_close(&b);
}

/* A server that serves around a refused stretch: the answer skips it, so
 * what is given up is exactly the refused range. */
static void test_refused_range_is_exact(void **state)
{
	static const struct sender_range refuse = { 45, 52 };
	struct server sv;
	const char *servers[1];
	struct world w;
	const struct rerequest_stats *st;
	uint64_t first, now = 5 * MS;
	uint16_t count;

	(void)state;
	world_init_served(&w, &sv, servers, 10 * MS, 1);
	exchange(&w, 1, 100, 31, 60, now); /* lost 31..60 */
	assert_int_equal(rerequest_poll(w.rr, w.seq, now), 1);
	assert_int_equal(server_answer(&sv, &w, &refuse, 1, &first, &count), 2); /* 31..44 and 53..60 */
	client_pump(&w, now + MS, 2);
	assert_int_equal(seq_stats(w.seq)->missing_now, 8);
	/* partly answered: renewed at the deadline without spending a retry */
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 10 * MS), 1);
	assert_int_equal(server_answer(&sv, &w, &refuse, 1, &first, &count), 0);
	assert_int_equal(first, 45);
	assert_int_equal(count, 8);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 20 * MS), 1); /* retry 1 */
	server_answer(&sv, &w, &refuse, 1, &first, &count);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 30 * MS), 0);
	take_reports(&w);
	assert_int_equal(w.n_rep, 1);
	assert_int_equal(w.rep[0].from, 45);
	assert_int_equal(w.rep[0].to, 52);
	assert_int_equal(w.rep[0].requests, 3);
	st = rerequest_stats(w.rr);
	assert_int_equal(st->msgs_recovered, 22);
	assert_int_equal(st->gaps_recovered, 0); /* part of the gap is lost */
	assert_int_equal(st->permanent_msgs, 8);
	assert_int_equal(st->requests_answered, 1);
	world_fini(&w);
	server_close(&sv);
}

/* Token bucket: burst 2, 10/s. Ten gaps want a request each. */
static void test_rate_limit(void **state)
{
	struct server sv;
	const char *servers[1];
	struct world w;
	const struct rerequest_stats *st;
	uint64_t now = 100 * MS;
	uint8_t req[64];
	struct sockaddr_in src;
	unsigned got = 0;

	(void)state;
	server_open(&sv);
	servers[0] = sv.addr;
	world_init(&w, servers, 1, 1000, 60000 * MS, 0, 10, 2, 64);
	/* ten separate lost packets */
	for (uint64_t g = 0; g < 10; g++)
		exchange(&w, 1 + g * 30, 30 + g * 30, 11 + g * 30, 20 + g * 30, now);
	st = rerequest_stats(w.rr);
	assert_int_equal(st->gaps_tracked, 10);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now), 2);
	assert_int_equal(st->rate_limited, 8);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 50 * MS), 2); /* half a token: nothing new */
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 100 * MS), 3);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 350 * MS), 5);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 10000 * MS), 7); /* the bucket holds 2 at most */
	assert_int_equal(st->requests_sent, 7);
	assert_int_equal(st->rate_limited, 8); /* counted once per waiting gap */
	while (got < 8 && server_recv(&sv, req, sizeof(req), &src) == MOLD_REQUEST_LEN)
		got++;
	assert_int_equal(got, 7);
	world_fini(&w);
	server_close(&sv);
}

/* No server: a gap waits one timeout for a late line, then is permanent. */
static void test_no_server(void **state)
{
	struct world w;
	const struct rerequest_stats *st;
	uint8_t pkt[2048];
	uint64_t now = 50 * MS;
	uint32_t len;

	(void)state;
	world_init(&w, NULL, 0, 1000, 10 * MS, 3, 1000, 10, 64);
	assert_int_equal(rerequest_local_port(w.rr), 0);
	exchange(&w, 1, 60, 11, 20, now);
	exchange(&w, 61, 100, 71, 80, now);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now), 0);
	/* 11..20 comes late on a live line (2: not the recovery line) */
	len = mk_packet(pkt, SESSION, 11, MSGS_PER_PKT);
	deliver(&w, pkt, len, 2, now + 5 * MS);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 10 * MS), 0);
	st = rerequest_stats(w.rr);
	assert_int_equal(st->requests_sent, 0);
	assert_int_equal(st->msgs_filled_late, 10);
	assert_int_equal(st->gaps_recovered, 1);
	assert_int_equal(st->permanent_gaps, 1);
	take_reports(&w);
	assert_int_equal(w.n_rep, 2);
	assert_int_equal(w.rep[0].reason, REREQUEST_RECOVERED);
	assert_int_equal(w.rep[0].from, 11);
	assert_int_equal(w.rep[1].from, 71);
	assert_int_equal(w.rep[1].to, 80);
	assert_int_equal(w.rep[1].reason, REREQUEST_NO_SERVER);
	world_fini(&w);
}

/* Datagrams from an address that is not a server are dropped and counted. */
static void test_foreign_answer(void **state)
{
	struct server sv, other;
	const char *servers[1];
	struct world w;
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t pkt[2048], buf[2048];
	uint32_t len;

	(void)state;
	server_open(&sv);
	server_open(&other);
	servers[0] = sv.addr;
	world_init(&w, servers, 1, 1000, 100 * MS, 0, 1000, 10, 64);
	dst.sin_port = htons(rerequest_local_port(w.rr));
	assert_true(dst.sin_port != 0);
	len = mk_packet(pkt, SESSION, 1, 3);
	assert_int_equal(sendto(other.fd, pkt, len, 0, (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)len);
	assert_int_equal(recv_within(w.rr, buf, sizeof(buf), 0, 5000 * MS), 0);
	assert_int_equal(rerequest_stats(w.rr)->responses_foreign, 1);
	assert_int_equal(sendto(sv.fd, pkt, len, 0, (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)len);
	assert_int_equal(recv_within(w.rr, buf, sizeof(buf), 1, 5000 * MS), (int)len);
	assert_int_equal(rerequest_stats(w.rr)->responses, 1);
	world_fini(&w);
	server_close(&sv);
	server_close(&other);
}

/* The sequencer's table full (2 slots): its oldest gap is evicted and given
 * up; a session change gives up the rest. */
static void test_evicted_and_session_change(void **state)
{
	static const uint8_t S2[10] = { 'T', 'E', 'S', 'T', '0', '2', ' ', ' ', ' ', ' ' };
	struct world w;
	uint8_t pkt[2048];
	uint32_t len;

	(void)state;
	world_init(&w, NULL, 0, 1000, 10 * MS, 0, 1000, 10, 2);
	exchange(&w, 1, 100, 11, 20, MS);
	exchange(&w, 101, 200, 131, 140, MS);
	exchange(&w, 201, 300, 251, 260, MS);
	take_reports(&w);
	assert_int_equal(w.n_rep, 1);
	assert_int_equal(w.rep[0].from, 11);
	assert_int_equal(w.rep[0].to, 20);
	assert_int_equal(w.rep[0].reason, REREQUEST_EVICTED);
	len = mk_packet(pkt, S2, 1, 5);
	deliver(&w, pkt, len, 0, 2 * MS);
	take_reports(&w);
	assert_int_equal(w.n_rep, 3);
	assert_int_equal(w.rep[1].from, 131);
	assert_int_equal(w.rep[1].reason, REREQUEST_SESSION_CHANGE);
	assert_memory_equal(w.rep[1].session, SESSION, 10);
	assert_int_equal(w.rep[2].from, 251);
	assert_int_equal(w.rep[2].to, 260);
	assert_int_equal(rerequest_stats(w.rr)->permanent_msgs, 30);
	assert_int_equal(rerequest_stats(w.rr)->outstanding_gaps, 0);
	world_fini(&w);
}

/* Bad parameters are refused with a reason. */
static void test_bad_params(void **state)
{
	static const char *const bad[] = { "127.0.0.1", "1.2.3:80", "127.0.0.1:0", "127.0.0.1:70000", "host:80" };
	struct rerequest *rr = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rerequest_params p = { .servers = &bad[i], .n_servers = 1, .rate_per_s = 1, .burst = 1,
					      .max_count = 1, .timeout_ns = 1, .capacity = 1 };

		assert_int_equal(rerequest_create(&rr, &p), -EINVAL);
		assert_null(rr);
	}
	{
		struct rerequest_params p = { .rate_per_s = 1, .burst = 1, .max_count = 65535, .timeout_ns = 1,
					      .capacity = 1 };

		assert_int_equal(rerequest_create(&rr, &p), -EINVAL);
	}
}

/* A gap split by a partial answer: its pieces are asked for lowest first,
 * exactly as the sequencer lists them, and each is given up on its own. */
static void test_split_gap_pieces(void **state)
{
	static const struct sender_range refuse[] = { { 21, 30 }, { 41, 50 } };
	struct server sv;
	const char *servers[1];
	struct world w;
	uint64_t first, now = 3 * MS;
	uint16_t count;

	(void)state;
	world_init_served(&w, &sv, servers, 10 * MS, 1);
	exchange(&w, 1, 100, 11, 60, now);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now), 1);
	assert_int_equal(server_answer(&sv, &w, refuse, 2, &first, &count), 3); /* 11-20, 31-40, 51-60 */
	assert_int_equal(first, 11);
	assert_int_equal(count, 50);
	client_pump(&w, now + MS, 3);
	assert_int_equal(seq_stats(w.seq)->missing_now, 20);
	assert_int_equal(rerequest_stats(w.rr)->outstanding_gaps, 1);
	assert_int_equal(rerequest_stats(w.rr)->outstanding_msgs, 20);
	/* answered in part: at the deadline the lowest piece, no retry spent */
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 10 * MS), 1);
	assert_int_equal(server_answer(&sv, &w, refuse, 2, &first, &count), 0);
	assert_int_equal(first, 21);
	assert_int_equal(count, 10);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 20 * MS), 1); /* retry 1 */
	server_answer(&sv, &w, refuse, 2, &first, &count);
	assert_int_equal(first, 21);
	/* 21-30 given up; in the same poll the next piece is asked for */
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 30 * MS), 1);
	server_answer(&sv, &w, refuse, 2, &first, &count);
	assert_int_equal(first, 41);
	assert_int_equal(count, 10);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 40 * MS), 1);
	server_answer(&sv, &w, refuse, 2, &first, &count);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 50 * MS), 0);
	take_reports(&w);
	assert_int_equal(w.n_rep, 2);
	/* requests: the gap's, 1 + 2 when the first piece goes, + 2 */
	want_report(&w.rep[0], 21, 30, REREQUEST_NOT_SERVED, 3);
	want_report(&w.rep[1], 41, 50, REREQUEST_NOT_SERVED, 5);
	want_seq_gaps(&w, "21-30,41-50"); /* still listed: a late copy is delivered */
	assert_int_equal(rerequest_stats(w.rr)->outstanding_gaps, 0);
	assert_int_equal(rerequest_stats(w.rr)->gaps_recovered, 0);
	world_fini(&w);
	server_close(&sv);
}

/* xorshift64*: a reproducible stream per seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Read the `n` requests one poll sent and check each against the sequencer's
 * table as it is now: it starts a declared missing range and asks for all of
 * it, or its first max_count messages; no two ask for the same range. Then
 * answer them, refusing `refuse`. Returns the answer packets sent. */
static unsigned check_and_answer(struct server *sv, struct world *w, unsigned n, uint32_t max_count,
				 const struct sender_range *refuse, unsigned n_refuse)
{
	struct { uint64_t seq; uint16_t count; struct sockaddr_in src; } req[64];
	unsigned sent = 0;

	assert_true(n <= 64);
	for (unsigned k = 0; k < n; k++) {
		uint8_t buf[64];
		const uint8_t *session;
		uint64_t from, to, want;

		assert_int_equal(server_recv(sv, buf, sizeof(buf), &req[k].src), MOLD_REQUEST_LEN);
		assert_int_equal(mold_request_parse(buf, MOLD_REQUEST_LEN, &session, &req[k].seq, &req[k].count), 0);
		if (!seq_gap_find(w->seq, req[k].seq, req[k].seq, &from, &to))
			fail_msg("asked for %llu+%u: the sequencer does not list %llu as missing",
				 (unsigned long long)req[k].seq, req[k].count, (unsigned long long)req[k].seq);
		want = to - from + 1 < max_count ? to - from + 1 : max_count;
		if (from != req[k].seq || req[k].count != want)
			fail_msg("asked for %llu+%u: the sequencer's range is %llu-%llu (want %llu+%llu)",
				 (unsigned long long)req[k].seq, req[k].count, (unsigned long long)from,
				 (unsigned long long)to, (unsigned long long)from, (unsigned long long)want);
		for (unsigned j = 0; j < k; j++)
			assert_true(req[j].seq != req[k].seq);
	}
	assert_true(server_idle(sv, 0));
	for (unsigned k = 0; k < n; k++)
		sent += server_send(sv, w, &req[k].src, req[k].seq, req[k].count, refuse, n_refuse);
	return sent;
}

/* The re-requester asks for exactly the sequencer's missing ranges, and the
 * two never disagree: A/B lines with random loss, late copies on line B that
 * split declared gaps, a server that refuses some ranges, a small table
 * (evictions), random max_count and rate. Every request is checked against
 * the sequencer's table when it is sent; at the end every message is
 * delivered, or reported lost with its exact range, and what the sequencer
 * still lists as missing is exactly what was given up and never arrived. */
static void test_requests_match_sequencer(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 12; seed++) {
		uint64_t rs = seed * 0x9E3779B97F4A7C15ULL, q = 1, now = MS, last_sent;
		struct sender_range refuse[3];
		struct server sv;
		const char *servers[1];
		struct world w;
		uint32_t max_count = (uint32_t)(3 + rnd(&rs) % 40);
		bool *got = mdm_calloc(TRACK_MAX, 1), *lost_pending = mdm_calloc(TRACK_MAX, 1);
		bool *lost_declared = mdm_calloc(TRACK_MAX, 1);
		uint8_t *reported = mdm_calloc(TRACK_MAX, 1);
		struct { uint8_t p[2048]; uint32_t len; } late[8];
		unsigned n_late = 0, rounds = 0;
		struct rerequest_gap rep[64];

		assert_non_null(got);
		assert_non_null(lost_pending);
		assert_non_null(lost_declared);
		assert_non_null(reported);
		server_open(&sv);
		servers[0] = sv.addr;
		world_init_lines(&w, 2, servers, 1, max_count, 10 * MS, 1, 2000, 1 + (uint32_t)(rnd(&rs) % 8),
				 4 + (uint32_t)(rnd(&rs) % 12));
		w.got = got;
		w.lost_pending = lost_pending;
		w.lost_declared = lost_declared;
		for (unsigned k = 0; k < 3; k++) {
			refuse[k].first = 1 + rnd(&rs) % 3000;
			refuse[k].last = refuse[k].first + rnd(&rs) % 60;
		}
		for (; q < 3000; rounds++) {
			uint8_t pkt[2048];

			/* a few packets per round; line A loses some, line B copies
			 * some at once and keeps some for a later round; now and then
			 * a burst loses every other packet on both lines (many gaps at
			 * once: the table overflows) */
			bool burst = q > 1 && rnd(&rs) % 10 == 0;

			for (unsigned k = 0; k < 1 + rnd(&rs) % (burst ? 40 : 6); k++) {
				uint16_t count = (uint16_t)(1 + rnd(&rs) % 10);
				uint32_t len = mk_packet(pkt, SESSION, q, count);
				uint64_t r = burst ? (k % 2 ? 99 : 1) : rnd(&rs) % 100;

				assert_int_equal(sender_store_add(w.store, pkt, len), count);
				if (q == 1 || r >= 25)
					deliver(&w, pkt, len, 0, now);
				if (r % 3 == 0)
					deliver(&w, pkt, len, 1, now);
				else if (r % 7 == 1 && n_late < 8) {
					memcpy(late[n_late].p, pkt, len);
					late[n_late++].len = len;
				}
				q += count;
			}
			if (n_late && rnd(&rs) % 4 == 0) {
				deliver(&w, late[0].p, late[0].len, 1, now);
				memmove(&late[0], &late[1], (--n_late) * sizeof(late[0]));
			}
			now += (1 + rnd(&rs) % 6) * MS;
			if (rnd(&rs) % 3) {
				uint64_t before = rerequest_stats(w.rr)->requests_sent;
				unsigned sent;

				rerequest_poll(w.rr, w.seq, now);
				sent = check_and_answer(&sv, &w, (unsigned)(rerequest_stats(w.rr)->requests_sent - before),
							max_count, refuse, 3);
				if (rnd(&rs) % 5)
					client_pump(&w, now, sent);
				/* else the answers are taken in a later round, late */
			}
		}
		last_sent = q - 1;
		/* the feed ends: heartbeats on both lines declare what is pending;
		 * then recovery runs until nothing is outstanding */
		{
			uint8_t hb[MOLD_HEADER_LEN];

			mk_packet(hb, SESSION, q, 0);
			deliver(&w, hb, sizeof(hb), 0, now);
			deliver(&w, hb, sizeof(hb), 1, now);
		}
		for (unsigned k = 0; k < 400 && rerequest_stats(w.rr)->outstanding_gaps; k++) {
			uint64_t before = rerequest_stats(w.rr)->requests_sent;
			unsigned sent;

			now += 5 * MS;
			rerequest_poll(w.rr, w.seq, now);
			sent = check_and_answer(&sv, &w, (unsigned)(rerequest_stats(w.rr)->requests_sent - before), max_count,
						refuse, 3);
			client_pump(&w, now, sent);
		}
		assert_int_equal(rerequest_stats(w.rr)->outstanding_gaps, 0);
		assert_int_equal(rerequest_stats(w.rr)->outstanding_msgs, 0);
		/* every report, message by message */
		for (unsigned n; (n = rerequest_take(w.rr, rep, 64)) > 0;) {
			for (unsigned k = 0; k < n; k++) {
				for (uint64_t m = rep[k].from; m <= rep[k].to; m++) {
					assert_true(m < TRACK_MAX);
					if (rep[k].reason == REREQUEST_RECOVERED) {
						if (!got[m])
							fail_msg("seed %llu: %llu reported recovered, never delivered",
								 (unsigned long long)seed, (unsigned long long)m);
						continue;
					}
					if (reported[m])
						fail_msg("seed %llu: %llu reported lost twice", (unsigned long long)seed,
							 (unsigned long long)m);
					reported[m] = rep[k].reason;
				}
			}
		}
		assert_int_equal(rerequest_stats(w.rr)->reports_dropped, 0);
		for (uint64_t m = 1; m <= last_sent; m++) {
			uint64_t from, to;
			bool listed = seq_gap_find(w.seq, m, m, &from, &to);

			if (lost_declared[m] && !reported[m])
				fail_msg("seed %llu: the sequencer forgot %llu, the re-requester did not report it",
					 (unsigned long long)seed, (unsigned long long)m);
			if (!got[m] && !reported[m] && !lost_pending[m])
				fail_msg("seed %llu: %llu neither delivered nor reported lost", (unsigned long long)seed,
					 (unsigned long long)m);
			/* a given-up piece stays listed until it arrives late or is
			 * evicted; every other listed message is being recovered */
			if (listed != (reported[m] == REREQUEST_NOT_SERVED && !got[m] && !lost_declared[m]))
				fail_msg("seed %llu: %llu is %s by the sequencer but %s by the re-requester",
					 (unsigned long long)seed, (unsigned long long)m, listed ? "missing" : "not missing",
					 reported[m] == REREQUEST_NOT_SERVED ? "given up" : "not given up");
		}
		assert_true(rounds > 0);
		assert_true(rerequest_stats(w.rr)->requests_sent > 0);
		world_fini(&w);
		server_close(&sv);
		mdm_free(got);
		mdm_free(lost_pending);
		mdm_free(lost_declared);
		mdm_free(reported);
	}
}

/* ---- resume ---- */

/* A restart: the scan of the stream's tail gives session, next, the holes
 * (messages lost in flight or missing at the kill) and the symbols; the
 * sequencer seeded with it reports them, and what the live feed skipped while
 * the collector was down, as gaps; recovery brings both back. */
static void test_resume_then_recover(void **state)
{
	static const uint8_t nul[10] = { 'T', 'E', 'S', 'T', '0', '1', 0, 0, 0, 0 };
	struct resume_scan *sc;
	struct resume_point *rp = mdm_calloc(1, sizeof(*rp));
	struct feed_resume fr;
	struct server sv;
	const char *servers[1];
	struct world w;
	uint64_t first, now = 7 * MS;
	unsigned sent;
	uint16_t count;
	uint8_t pkt[2048];
	uint32_t len;

	(void)state;
	assert_non_null(rp);
	assert_int_equal(resume_scan_create(&sc, 1024), 0);
	/* context: an old recovery (seq 3) and live 100..199; then live 200..500
	 * less 301..310, a late recovery of 150 and another session's leftovers
	 * before it all (ignored: the last session wins) */
	resume_scan_add(sc, "OLD", 7, 1, "X", true);
	resume_scan_add(sc, "TEST01", 3, 1, "AAPL", true);
	for (uint64_t s = 100; s < 200; s++)
		resume_scan_add(sc, "TEST01", s, 2, "MSFT", true);
	for (uint64_t s = 200; s <= 500; s++)
		if (s < 301 || s > 310)
			resume_scan_add(sc, "TEST01", s, 3, "IBM", false);
	resume_scan_add(sc, "TEST01", 150, 2, "MSFT", false);
	assert_int_equal(resume_scan_finish(sc, rp), 0);
	resume_scan_destroy(sc);
	assert_true(rp->found);
	assert_string_equal(rp->session, "TEST01");
	assert_int_equal(rp->next, 501);
	assert_int_equal(rp->join, 200); /* above the context's highest */
	assert_int_equal(rp->n_gaps, 1);
	assert_int_equal(rp->gap_from[0], 301);
	assert_int_equal(rp->gap_to[0], 310);
	assert_int_equal(rp->n_symbols, 3);
	assert_int_equal(rp->locates[2], 3);
	assert_string_equal(rp->symbols[2], "IBM");

	world_init_served(&w, &sv, servers, 100 * MS, 1);
	/* the exchange sent 1..600 meanwhile, its session padded with NULs
	 * (the stream keeps it trimmed; the resume pads with spaces) */
	for (uint64_t s = 1; s <= 600; s += MSGS_PER_PKT) {
		len = mk_packet(pkt, nul, s, MSGS_PER_PKT);
		assert_int_equal(sender_store_add(w.store, pkt, len), MSGS_PER_PKT);
	}
	resume_point_feed(rp, now, &fr);
	assert_int_equal(seq_resume(w.seq, SESSION, fr.join, fr.next, fr.gap_from, fr.gap_to, fr.n_gaps, now), 0);
	assert_int_equal(seq_next(w.seq), 501);
	assert_int_equal(rerequest_stats(w.rr)->gaps_tracked, 1);
	/* back on the wire at 551: the same session, padded differently */
	len = mk_packet(pkt, nul, 551, MSGS_PER_PKT);
	deliver(&w, pkt, len, 0, now);
	assert_int_equal(seq_stats(w.seq)->sessions, 1);
	assert_int_equal(seq_stats(w.seq)->missing_now, 10 + 50);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now), 2);
	sent = server_answer(&sv, &w, NULL, 0, &first, &count);
	assert_int_equal(first, 301);
	assert_int_equal(count, 10);
	sent += server_answer(&sv, &w, NULL, 0, &first, &count);
	assert_int_equal(first, 501);
	assert_int_equal(count, 50);
	assert_int_equal(client_pump(&w, now + MS, sent), sent);
	assert_int_equal(rerequest_poll(w.rr, w.seq, now + 2 * MS), 0);
	assert_int_equal(seq_stats(w.seq)->missing_now, 0);
	assert_int_equal(rerequest_stats(w.rr)->gaps_recovered, 2);
	assert_int_equal(rerequest_stats(w.rr)->msgs_recovered, 60);
	take_reports(&w);
	assert_int_equal(w.n_rep, 2); /* the hole from before the restart, and the downtime */
	assert_int_equal(w.rep[0].from + w.rep[1].from, 301 + 501);
	assert_int_equal(w.rep[0].to + w.rep[1].to, 310 + 550);
	/* below the resumed join: not delivered again */
	len = mk_packet(pkt, nul, 191, MSGS_PER_PKT);
	deliver(&w, pkt, len, 1, now);
	assert_int_equal(seq_stats(w.seq)->pre_join, 9);
	world_fini(&w);
	server_close(&sv);
	resume_point_destroy(rp);
}

/* A read that began at the stream's first message counts holes from the
 * first seq seen; a window slides; an empty scan finds nothing. */
static void test_resume_scan_edges(void **state)
{
	struct resume_scan *sc;
	struct resume_point *rp;

	(void)state;
	rp = mdm_calloc(1, sizeof(*rp));
	assert_int_equal(resume_scan_create(&sc, 64), 0);
	assert_int_equal(resume_scan_finish(sc, rp), 0);
	assert_false(rp->found);
	resume_scan_from_start(sc);
	resume_scan_add(sc, "S", 40, 0, "", true);
	resume_scan_add(sc, "S", 42, 0, "", true);
	resume_scan_add(sc, "S", 45, 0, "", false);
	assert_int_equal(resume_scan_finish(sc, rp), 0);
	assert_int_equal(rp->join, 40);
	assert_int_equal(rp->next, 46);
	assert_int_equal(rp->n_gaps, 2);
	assert_int_equal(rp->gap_from[0], 41);
	assert_int_equal(rp->gap_to[0], 41);
	assert_int_equal(rp->gap_from[1], 43);
	assert_int_equal(rp->gap_to[1], 44);
	resume_scan_destroy(sc);
	resume_point_destroy(rp);

	/* window 64: only the last 64 sequence numbers count */
	rp = mdm_calloc(1, sizeof(*rp));
	assert_int_equal(resume_scan_create(&sc, 64), 0);
	resume_scan_from_start(sc);
	for (uint64_t s = 1; s <= 1000; s++)
		if (s != 500 && s != 990)
			resume_scan_add(sc, "S", s, 0, "", false);
	assert_int_equal(resume_scan_finish(sc, rp), 0);
	assert_int_equal(rp->join, 937);
	assert_int_equal(rp->next, 1001);
	assert_int_equal(rp->n_gaps, 1);
	assert_int_equal(rp->gap_from[0], 990);
	resume_scan_destroy(sc);
	resume_point_destroy(rp);
	assert_int_equal(resume_scan_create(&sc, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recover_in_parts),
		cmocka_unit_test(test_retries_then_permanent),
		cmocka_unit_test(test_refused_range_is_exact),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_foreign_answer),
		cmocka_unit_test(test_evicted_and_session_change),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_split_gap_pieces),
		cmocka_unit_test(test_requests_match_sequencer),
		cmocka_unit_test(test_resume_then_recover),
		cmocka_unit_test(test_resume_scan_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
