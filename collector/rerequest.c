/* Gap recovery by MoldUDP64 re-requests; the model is described in
 * rerequest.h. The missing ranges are the sequencer's (seq_gap_find); the
 * table here holds one record per declared gap, sorted, with its request
 * state, and changes only on sequencer events and polls, never per packet. */
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

/* One declared gap being recovered. Records are sorted and disjoint, and
 * each lies inside one declared gap of the sequencer, whose missing table
 * says which of its messages are still missing. */
struct rr_gap {
	uint64_t from, to;         /* the gap as declared (never split here) */
	uint64_t cursor;           /* pieces still missing below it were given up */
	uint64_t outstanding;      /* messages at or above cursor still missing; 0 ends the record */
	uint64_t req_from, req_to; /* the request in flight (valid while in_flight) */
	uint64_t deadline_ns;      /* in_flight: when it times out */
	uint32_t attempts;         /* requests in a row without progress */
	uint32_t requests;         /* requests sent, for the report */
	bool in_flight;            /* a request (or, with no server, the grace wait) is running */
	bool answered;             /* the request in flight brought something */
	bool throttled;            /* counted in rate_limited for this wait */
	bool tainted;              /* part of the gap became permanent: not "recovered" */
};

struct rerequest {
	struct rerequest_stats stats;  /* first: read by other threads */
	struct rr_gap *g;              /* cap slots, n used */
	uint32_t n, cap;
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
	rr->g = mdm_calloc(p->capacity, sizeof(*rr->g));
	if (!rr->g) {
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
	mdm_free(rr->g);
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

/* ---- the gap records ---- */

static void gap_erase(struct rerequest *rr, uint32_t i)
{
	memmove(&rr->g[i], &rr->g[i + 1], (rr->n - i - 1) * sizeof(rr->g[0]));
	rr->n--;
	mdm_counter_set(&rr->stats.outstanding_gaps, rr->n);
}

/* First record with to >= seq. */
static uint32_t gap_lower(const struct rerequest *rr, uint64_t seq)
{
	uint32_t lo = 0, hi = rr->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (rr->g[mid].to < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The record holding seq, or NULL. */
static struct rr_gap *gap_of(struct rerequest *rr, uint64_t seq, uint32_t *index)
{
	uint32_t i = gap_lower(rr, seq);

	if (i == rr->n || rr->g[i].from > seq)
		return NULL;
	*index = i;
	return &rr->g[i];
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

/* n of record i's outstanding messages are gone (arrived or lost); the
 * record ends with its last one, as recovered when none was lost. */
static void gap_settle(struct rerequest *rr, uint32_t i, uint64_t n)
{
	struct rr_gap *g = &rr->g[i];

	g->outstanding -= n;
	mdm_counter_set(&rr->stats.outstanding_msgs, rr->stats.outstanding_msgs - n);
	if (g->outstanding)
		return;
	if (!g->tainted) {
		mdm_counter_add(&rr->stats.gaps_recovered, 1);
		report(rr, g->from, g->to, REREQUEST_RECOVERED, g->requests);
	}
	gap_erase(rr, i);
}

/* The sequencer lost [a, b] for good (a piece, or the lower part of one). */
static void gap_lost(struct rerequest *rr, uint64_t a, uint64_t b, uint8_t reason)
{
	uint32_t i;
	struct rr_gap *g = gap_of(rr, a, &i);

	if (!g || a < g->cursor)
		return; /* not tracked, or given up already (reported then) */
	report(rr, a, b, reason, g->requests);
	g->tainted = true;
	gap_settle(rr, i, b - a + 1);
}

/* [a, b] of a declared gap arrived on `line`. */
static void gap_filled(struct rerequest *rr, uint64_t a, uint64_t b, uint8_t line)
{
	uint32_t i;
	struct rr_gap *g = gap_of(rr, a, &i);

	if (!g || a < g->cursor)
		return; /* given up: a late copy is not a recovery */
	mdm_counter_add(line == rr->line ? &rr->stats.msgs_recovered : &rr->stats.msgs_filled_late, b - a + 1);
	if (g->in_flight && !g->answered && a <= g->req_to && b >= g->req_from) {
		g->answered = true;
		if (rr->n_servers)
			mdm_counter_add(&rr->stats.requests_answered, 1);
	}
	gap_settle(rr, i, b - a + 1);
}

static void gap_add(struct rerequest *rr, uint64_t from, uint64_t to)
{
	uint32_t i = gap_lower(rr, from);

	if (i < rr->n && rr->g[i].from <= to)
		return; /* already tracked: the sequencer never declares a range twice */
	if (rr->n == rr->cap) {
		/* Cannot happen with capacity = the sequencer's gap_capacity: every
		 * record holds at least one of its ranges. If it does, the new gap
		 * is lost rather than an unrelated one. */
		mdm_counter_add(&rr->stats.gaps_tracked, 1);
		report(rr, from, to, REREQUEST_EVICTED, 0);
		return;
	}
	memmove(&rr->g[i + 1], &rr->g[i], (rr->n - i) * sizeof(rr->g[0]));
	rr->n++;
	rr->g[i] = (struct rr_gap){ .from = from, .to = to, .cursor = from, .outstanding = to - from + 1 };
	mdm_counter_add(&rr->stats.gaps_tracked, 1);
	mdm_counter_set(&rr->stats.outstanding_gaps, rr->n);
	mdm_counter_set(&rr->stats.outstanding_msgs, rr->stats.outstanding_msgs + (to - from + 1));
}

void rerequest_on_seq_event(struct rerequest *rr, const struct seq_event *ev)
{
	switch (ev->type) {
	case SEQ_EV_GAP_OPENED:
		memcpy(rr->session, ev->session, SEQ_SESSION_LEN);
		gap_add(rr, ev->from, ev->to);
		break;
	case SEQ_EV_GAP_FILLED:
		gap_filled(rr, ev->from, ev->to, ev->line);
		break;
	case SEQ_EV_GAP_EVICTED:
		if (ev->declared)
			gap_lost(rr, ev->from, ev->to, REREQUEST_EVICTED);
		break;
	case SEQ_EV_GAP_ABANDONED:
		if (ev->declared)
			gap_lost(rr, ev->from, ev->to, REREQUEST_SESSION_CHANGE);
		break;
	case SEQ_EV_SESSION_CHANGE:
		/* every range of the old session was abandoned just before: only
		 * records whose pieces were all given up can remain */
		rr->n = 0;
		mdm_counter_set(&rr->stats.outstanding_gaps, 0);
		mdm_counter_set(&rr->stats.outstanding_msgs, 0);
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

/* Ask for [from, to] (at most max_count messages, from a missing piece). */
static void request_send(struct rerequest *rr, struct rr_gap *g, uint64_t from, uint64_t to, uint64_t now_ns)
{
	uint8_t pkt[MOLD_REQUEST_LEN];
	uint64_t last = to - from + 1 > rr->max_count ? from + rr->max_count - 1 : to;
	const struct sockaddr_in *dst = &rr->servers[g->requests % rr->n_servers];

	rr->bucket -= NS_PER_S;
	g->req_from = from;
	g->req_to = last;
	g->in_flight = true;
	g->answered = false;
	g->throttled = false;
	g->attempts++;
	g->requests++;
	g->deadline_ns = now_ns + rr->timeout_ns;
	mdm_counter_add(&rr->stats.requests_sent, 1);
	if (mold_request_build(pkt, sizeof(pkt), rr->session, from, (uint16_t)(last - from + 1)) != MOLD_REQUEST_LEN ||
	    sendto(rr->fd, pkt, sizeof(pkt), 0, (const struct sockaddr *)dst, sizeof(*dst)) != (ssize_t)sizeof(pkt))
		mdm_counter_add(&rr->stats.send_errors, 1); /* it times out like an unanswered one */
}

/* The gap's lowest missing piece not given up, from the sequencer's table. */
static bool gap_piece(const struct rr_gap *g, const struct seq *seq, uint64_t *from, uint64_t *to)
{
	return seq_gap_find(seq, g->cursor, g->to, from, to);
}

/* Give up record i's lowest piece (with no server: all of them). */
static void gap_give_up(struct rerequest *rr, const struct seq *seq, uint32_t i)
{
	uint8_t reason = rr->n_servers ? REREQUEST_NOT_SERVED : REREQUEST_NO_SERVER;
	uint32_t n = rr->n;

	do {
		struct rr_gap *g = &rr->g[i];
		uint64_t a, b;

		if (!gap_piece(g, seq, &a, &b)) {
			/* the sequencer lists nothing of it: only a missed event
			 * could leave a record without pieces; end it */
			mdm_counter_set(&rr->stats.outstanding_msgs, rr->stats.outstanding_msgs - g->outstanding);
			gap_erase(rr, i);
			return;
		}
		report(rr, a, b, reason, g->requests);
		g->tainted = true;
		g->cursor = b + 1;
		g->attempts = 0;
		g->in_flight = false;
		gap_settle(rr, i, b - a + 1);
	} while (rr->n == n && !rr->n_servers);
}

unsigned rerequest_poll(struct rerequest *rr, const struct seq *seq, uint64_t now_ns)
{
	unsigned in_flight = 0;
	uint32_t i = 0;

	if (rr->n == 0) {
		mdm_counter_set(&rr->stats.in_flight, 0);
		return 0;
	}
	bucket_refill(rr, now_ns);
	while (i < rr->n) {
		struct rr_gap *g = &rr->g[i];
		uint64_t a, b;

		if (g->in_flight && rr->n_servers && !seq_gap_find(seq, g->req_from, g->req_to, &a, &b)) {
			/* all of it arrived: ask for the next part now, no retry spent */
			g->in_flight = false;
			g->attempts = 0;
		}
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
			gap_give_up(rr, seq, i);
			continue; /* the same record's next piece, or the next record */
		}
		if (!gap_piece(g, seq, &a, &b)) {
			gap_give_up(rr, seq, i); /* ends the record */
			continue;
		}
		if (rr->n_servers == 0) {
			/* no server: wait one timeout for a late line before giving up
			 * (a late line's progress extends the wait) */
			g->in_flight = true;
			g->answered = false;
			g->req_from = g->cursor;
			g->req_to = g->to;
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
		request_send(rr, g, a, b, now_ns);
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
