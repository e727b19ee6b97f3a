/* Gap recovery by MoldUDP64 re-requests; the model is described in
 * rerequest.h. The range table is a sorted array like the sequencer's, and
 * changes only on sequencer events and polls, never per packet. */
#include "rerequest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdm_counter.h"
#include "mdm_addr.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "mold.h"

#define NS_PER_S 1000000000ULL

/* One missing range being recovered. Ranges are sorted and disjoint. */
struct rr_range {
	uint64_t from, to;         /* still missing, inclusive */
	uint64_t req_from, req_to; /* the request in flight (valid while in_flight) */
	uint64_t deadline_ns;      /* in_flight: when it times out */
	uint64_t gap_from, gap_to; /* the declared gap it came from (splits share it) */
	uint32_t gap_id;
	uint32_t attempts;         /* requests in a row without progress */
	uint32_t requests;         /* requests sent, for the report */
	bool in_flight;            /* a request (or, with no server, the grace wait) is running */
	bool answered;             /* the request in flight brought something */
	bool throttled;            /* counted in rate_limited for this wait */
	bool tainted;              /* part of its gap became permanent: not "recovered" */
};

struct rerequest {
	struct rerequest_stats stats;  /* first: read by other threads */
	struct rr_range *r;            /* cap slots, n used */
	uint32_t n, cap;
	uint32_t next_gap_id;
	int fd;
	struct sockaddr_in servers[REREQUEST_MAX_SERVERS];
	size_t n_servers;
	uint64_t rate_per_s;
	uint64_t bucket_max;           /* burst, in nano-tokens (1e9 = one request) */
	uint64_t bucket;               /* nano-tokens available */
	uint64_t bucket_ns;            /* when the bucket was last refilled; 0 = never */
	uint32_t max_count;
	uint64_t timeout_ns;
	uint32_t retries;
	uint8_t line;
	uint8_t session[SEQ_SESSION_LEN];
	/* reports: single producer (owner), single consumer. The indexes sit on
	 * cache lines of their own (padding, since the heap does not align to 64). */
	uint8_t pad0[64];
	uint64_t rep_head;
	uint8_t pad1[64 - sizeof(uint64_t)];
	uint64_t rep_tail;
	uint8_t pad2[64 - sizeof(uint64_t)];
	struct rerequest_gap rep[REREQUEST_REPORTS];
};

static const char *const reason_names[] = {
	[REREQUEST_RECOVERED] = "recovered",
	[REREQUEST_NO_SERVER] = "no_server",
	[REREQUEST_NOT_SERVED] = "not_served",
	[REREQUEST_EVICTED] = "evicted",
	[REREQUEST_SESSION_CHANGE] = "session_change",
};

const char *rerequest_reason_name(int reason)
{
	if (reason < 0 || reason >= (int)(sizeof(reason_names) / sizeof(reason_names[0])))
		return "unknown";
	return reason_names[reason];
}

static int parse_server(const char *s, struct sockaddr_in *out)
{
	if (mdm_addr_parse_v4(s, out) != 0)
		return mdm_err_set(-EINVAL, "feed.rerequest: %s", mdm_err_last());
	return 0;
}

static int open_socket(struct rerequest *rr, uint32_t rcvbuf)
{
	struct sockaddr_in any = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), bytes = (int)(rcvbuf ? rcvbuf : 4u << 20);

	if (fd < 0)
		return mdm_err_set(-errno, "re-request socket: %s", strerror(errno));
	/* Answers come in bursts of up to max_count / ~40 datagrams per request:
	 * a larger buffer keeps them while the RX core is busy (capped by rmem_max). */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) != 0) {
		int e = errno;

		close(fd);
		return mdm_err_set(-e, "re-request socket bind: %s", strerror(e));
	}
	rr->fd = fd;
	return 0;
}

int rerequest_create(struct rerequest **out, const struct rerequest_params *p)
{
	struct rerequest *rr;
	int rc;

	*out = NULL;
	if (p->n_servers > REREQUEST_MAX_SERVERS)
		return mdm_err_set(-EINVAL, "feed.rerequest: %zu servers, at most %d", p->n_servers,
				   REREQUEST_MAX_SERVERS);
	if (p->rate_per_s == 0 || p->burst == 0 || p->max_count == 0 || p->max_count > REREQUEST_MAX_COUNT ||
	    p->timeout_ns == 0 || p->capacity == 0 || p->rate_per_s > NS_PER_S)
		return mdm_err_set(-EINVAL, "rerequest: rate 1..1e9/s, burst >= 1, max_count 1..%d, timeout > 0 "
					    "and capacity >= 1 are required", REREQUEST_MAX_COUNT);
	rr = mdm_calloc(1, sizeof(*rr));
	if (!rr)
		return -ENOMEM;
	rr->fd = -1;
	rr->r = mdm_calloc(p->capacity, sizeof(*rr->r));
	if (!rr->r) {
		rerequest_destroy(rr);
		return -ENOMEM;
	}
	rr->cap = p->capacity;
	for (size_t i = 0; i < p->n_servers; i++) {
		rc = parse_server(p->servers[i], &rr->servers[i]);
		if (rc != 0) {
			rerequest_destroy(rr);
			return rc;
		}
	}
	rr->n_servers = p->n_servers;
	rr->rate_per_s = p->rate_per_s;
	rr->bucket_max = (uint64_t)p->burst * NS_PER_S;
	rr->bucket = rr->bucket_max;
	rr->max_count = p->max_count;
	rr->timeout_ns = p->timeout_ns;
	rr->retries = p->retries;
	rr->line = p->line;
	memset(rr->session, ' ', sizeof(rr->session));
	if (rr->n_servers) {
		rc = open_socket(rr, p->rcvbuf_bytes);
		if (rc != 0) {
			rerequest_destroy(rr);
			return rc;
		}
	}
	*out = rr;
	return 0;
}

void rerequest_destroy(struct rerequest *rr)
{
	if (!rr)
		return;
	if (rr->fd >= 0)
		close(rr->fd);
	mdm_free(rr->r);
	mdm_free(rr);
}

const struct rerequest_stats *rerequest_stats(const struct rerequest *rr)
{
	return &rr->stats;
}

size_t rerequest_servers(const struct rerequest *rr)
{
	return rr->n_servers;
}

uint16_t rerequest_local_port(const struct rerequest *rr)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (rr->fd < 0 || getsockname(rr->fd, (struct sockaddr *)&a, &len) != 0)
		return 0;
	return ntohs(a.sin_port);
}

/* ---- the range table ---- */

static void range_erase(struct rerequest *rr, uint32_t i)
{
	memmove(&rr->r[i], &rr->r[i + 1], (rr->n - i - 1) * sizeof(rr->r[0]));
	rr->n--;
}

/* Open a slot at index i (rr->n < rr->cap). */
static void range_open(struct rerequest *rr, uint32_t i)
{
	memmove(&rr->r[i + 1], &rr->r[i], (rr->n - i) * sizeof(rr->r[0]));
	rr->n++;
}

/* First range with to >= seq. */
static uint32_t range_lower(const struct rerequest *rr, uint64_t seq)
{
	uint32_t lo = 0, hi = rr->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (rr->r[mid].to < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool gap_has_other(const struct rerequest *rr, uint32_t id, uint32_t except)
{
	for (uint32_t i = 0; i < rr->n; i++)
		if (i != except && rr->r[i].gap_id == id)
			return true;
	return false;
}

static void report(struct rerequest *rr, uint64_t from, uint64_t to, uint8_t reason, uint32_t requests)
{
	uint64_t head = rr->rep_head, tail = __atomic_load_n(&rr->rep_tail, __ATOMIC_ACQUIRE);
	struct rerequest_gap *g;

	if (reason != REREQUEST_RECOVERED) {
		mdm_counter_add(&rr->stats.permanent_gaps, 1);
		mdm_counter_add(&rr->stats.permanent_msgs, to - from + 1);
	}
	if (head - tail >= REREQUEST_REPORTS) {
		mdm_counter_add(&rr->stats.reports_dropped, 1);
		return;
	}
	g = &rr->rep[head & (REREQUEST_REPORTS - 1)];
	g->from = from;
	g->to = to;
	g->reason = reason;
	g->requests = requests;
	memcpy(g->session, rr->session, SEQ_SESSION_LEN);
	__atomic_store_n(&rr->rep_head, head + 1, __ATOMIC_RELEASE);
}

/* Part of gap `id` is lost for good: the rest of it is not "recovered". */
static void taint(struct rerequest *rr, uint32_t id)
{
	for (uint32_t i = 0; i < rr->n; i++)
		if (rr->r[i].gap_id == id)
			rr->r[i].tainted = true;
}

/* A request covers part of a range; once none of that part is missing the
 * request is complete and the range may ask for its next part at once. */
static void request_check(struct rr_range *g)
{
	if (g->in_flight && (g->req_to < g->from || g->req_from > g->to)) {
		g->in_flight = false;
		g->attempts = 0;
	}
}

/* Cut [a, b] out of the table. `fill`: the messages arrived on `line`;
 * otherwise they are lost for good (reported with `reason`). Pieces that
 * remain keep their request state (a request may span a cut). */
static void range_cut(struct rerequest *rr, uint64_t a, uint64_t b, bool fill, uint8_t line, uint8_t reason)
{
	uint32_t i = range_lower(rr, a);

	while (i < rr->n && rr->r[i].from <= b) {
		struct rr_range *g = &rr->r[i];
		uint64_t x = g->from > a ? g->from : a, y = g->to < b ? g->to : b, n = y - x + 1;

		mdm_counter_set(&rr->stats.outstanding_msgs, rr->stats.outstanding_msgs - n);
		if (fill) {
			mdm_counter_add(line == rr->line ? &rr->stats.msgs_recovered : &rr->stats.msgs_filled_late, n);
			if (g->in_flight && !g->answered && x <= g->req_to && y >= g->req_from) {
				g->answered = true;
				if (rr->n_servers)
					mdm_counter_add(&rr->stats.requests_answered, 1);
			}
		} else {
			report(rr, x, y, reason, g->requests);
			taint(rr, g->gap_id);
		}
		if (x == g->from && y == g->to) {
			if (fill && !g->tainted && !gap_has_other(rr, g->gap_id, i)) {
				mdm_counter_add(&rr->stats.gaps_recovered, 1);
				report(rr, g->gap_from, g->gap_to, REREQUEST_RECOVERED, g->requests);
			}
			range_erase(rr, i);
			continue;
		}
		if (x == g->from) {
			g->from = y + 1;
		} else if (y == g->to) {
			g->to = x - 1;
		} else if (rr->n == rr->cap) {
			/* Cannot happen while the table mirrors the sequencer's (same
			 * capacity, same splits). If it does, the upper piece is given up
			 * rather than an unrelated range. */
			report(rr, y + 1, g->to, REREQUEST_EVICTED, g->requests);
			mdm_counter_set(&rr->stats.outstanding_msgs, rr->stats.outstanding_msgs - (g->to - y));
			g->tainted = true;
			g->to = x - 1;
		} else {
			range_open(rr, i + 1);
			g = &rr->r[i];
			rr->r[i + 1] = *g;
			rr->r[i + 1].from = y + 1;
			g->to = x - 1;
			request_check(&rr->r[i + 1]);
		}
		request_check(g);
		i++;
	}
	mdm_counter_set(&rr->stats.outstanding_gaps, rr->n);
}

static void range_add(struct rerequest *rr, uint64_t from, uint64_t to)
{
	uint32_t i;

	if (rr->n == rr->cap) {
		struct rr_range old = rr->r[0];

		report(rr, old.from, old.to, REREQUEST_EVICTED, old.requests);
		mdm_counter_set(&rr->stats.outstanding_msgs, rr->stats.outstanding_msgs - (old.to - old.from + 1));
		range_erase(rr, 0);
	}
	/* the sequencer's new gaps open above every other; keep the order anyway */
	i = range_lower(rr, from);
	if (i < rr->n && rr->r[i].from <= to)
		return; /* already tracked: the sequencer never declares a range twice */
	range_open(rr, i);
	rr->r[i] = (struct rr_range){ .from = from, .to = to, .gap_from = from, .gap_to = to, .gap_id = ++rr->next_gap_id };
	mdm_counter_add(&rr->stats.gaps_tracked, 1);
	mdm_counter_set(&rr->stats.outstanding_gaps, rr->n);
	mdm_counter_set(&rr->stats.outstanding_msgs, rr->stats.outstanding_msgs + (to - from + 1));
}

void rerequest_on_seq_event(struct rerequest *rr, const struct seq_event *ev)
{
	switch (ev->type) {
	case SEQ_EV_GAP_OPENED:
		memcpy(rr->session, ev->session, SEQ_SESSION_LEN);
		range_add(rr, ev->from, ev->to);
		break;
	case SEQ_EV_GAP_FILLED:
		range_cut(rr, ev->from, ev->to, true, ev->line, 0);
		break;
	case SEQ_EV_GAP_EVICTED:
		if (ev->declared)
			range_cut(rr, ev->from, ev->to, false, 0, REREQUEST_EVICTED);
		break;
	case SEQ_EV_SESSION_CHANGE:
		/* the sequencer abandoned the old session's table */
		while (rr->n)
			range_cut(rr, rr->r[0].from, rr->r[rr->n - 1].to, false, 0, REREQUEST_SESSION_CHANGE);
		memcpy(rr->session, ev->session, SEQ_SESSION_LEN);
		break;
	default:
		break;
	}
}

/* ---- requests ---- */

static void bucket_refill(struct rerequest *rr, uint64_t now_ns)
{
	if (rr->bucket_ns && now_ns > rr->bucket_ns) {
		uint64_t dt = now_ns - rr->bucket_ns, room = rr->bucket_max - rr->bucket;

		/* dt * rate can overflow only for gaps far longer than a refill */
		if (dt >= room / rr->rate_per_s + 1)
			rr->bucket = rr->bucket_max;
		else
			rr->bucket += dt * rr->rate_per_s;
	}
	rr->bucket_ns = now_ns;
}

static void request_send(struct rerequest *rr, struct rr_range *g, uint64_t now_ns)
{
	uint8_t pkt[MOLD_REQUEST_LEN];
	uint64_t last = g->to - g->from + 1 > rr->max_count ? g->from + rr->max_count - 1 : g->to;
	const struct sockaddr_in *dst = &rr->servers[g->requests % rr->n_servers];

	rr->bucket -= NS_PER_S;
	g->req_from = g->from;
	g->req_to = last;
	g->in_flight = true;
	g->answered = false;
	g->throttled = false;
	g->attempts++;
	g->requests++;
	g->deadline_ns = now_ns + rr->timeout_ns;
	mdm_counter_add(&rr->stats.requests_sent, 1);
	if (mold_request_build(pkt, sizeof(pkt), rr->session, g->from, (uint16_t)(last - g->from + 1)) != MOLD_REQUEST_LEN ||
	    sendto(rr->fd, pkt, sizeof(pkt), 0, (const struct sockaddr *)dst, sizeof(*dst)) != (ssize_t)sizeof(pkt))
		mdm_counter_add(&rr->stats.send_errors, 1); /* it times out like an unanswered one */
}

unsigned rerequest_poll(struct rerequest *rr, uint64_t now_ns)
{
	unsigned in_flight = 0;
	uint32_t i = 0;

	if (rr->n == 0) {
		mdm_counter_set(&rr->stats.in_flight, 0);
		return 0;
	}
	bucket_refill(rr, now_ns);
	while (i < rr->n) {
		struct rr_range *g = &rr->r[i];

		if (g->in_flight) {
			if (now_ns < g->deadline_ns) {
				in_flight += rr->n_servers != 0;
				i++;
				continue;
			}
			g->in_flight = false;
			if (g->answered)
				g->attempts = 0; /* progress: ask for the rest, no retry spent */
			else if (rr->n_servers)
				mdm_counter_add(&rr->stats.requests_timed_out, 1);
		}
		if (rr->n_servers == 0 ? g->attempts > 0 : g->attempts > rr->retries) {
			range_cut(rr, g->from, g->to, false, 0, rr->n_servers ? REREQUEST_NOT_SERVED : REREQUEST_NO_SERVER);
			continue;
		}
		if (rr->n_servers == 0) {
			/* no server: wait one timeout for a late line before giving up */
			g->in_flight = true;
			g->attempts = 1;
			g->deadline_ns = now_ns + rr->timeout_ns;
			i++;
			continue;
		}
		if (rr->bucket < NS_PER_S) {
			if (!g->throttled) {
				g->throttled = true;
				mdm_counter_add(&rr->stats.rate_limited, 1);
			}
			i++;
			continue;
		}
		request_send(rr, g, now_ns);
		in_flight++;
		i++;
	}
	mdm_counter_set(&rr->stats.in_flight, in_flight);
	return in_flight;
}

static bool from_server(const struct rerequest *rr, const struct sockaddr_in *a)
{
	for (size_t i = 0; i < rr->n_servers; i++)
		if (rr->servers[i].sin_addr.s_addr == a->sin_addr.s_addr && rr->servers[i].sin_port == a->sin_port)
			return true;
	return false;
}

int rerequest_recv(struct rerequest *rr, uint8_t *buf, size_t cap)
{
	if (rr->fd < 0)
		return 0;
	for (;;) {
		struct sockaddr_in src;
		socklen_t slen = sizeof(src);
		ssize_t n = recvfrom(rr->fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&src, &slen);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			/* e.g. ECONNREFUSED from an ICMP port unreachable: no server there */
			if (errno == ECONNREFUSED)
				continue;
			return -errno;
		}
		if (slen != sizeof(src) || src.sin_family != AF_INET || !from_server(rr, &src)) {
			mdm_counter_add(&rr->stats.responses_foreign, 1);
			continue;
		}
		mdm_counter_add(&rr->stats.responses, 1);
		return (int)n;
	}
}

unsigned rerequest_take(struct rerequest *rr, struct rerequest_gap *out, unsigned max)
{
	uint64_t tail = rr->rep_tail, head = __atomic_load_n(&rr->rep_head, __ATOMIC_ACQUIRE);
	unsigned k = 0;

	while (tail != head && k < max)
		out[k++] = rr->rep[tail++ & (REREQUEST_REPORTS - 1)];
	__atomic_store_n(&rr->rep_tail, tail, __ATOMIC_RELEASE);
	return k;
}
