/* `mdmesh-loadgen send`: a live MoldUDP64 sender on a wrk2-style schedule.
 * Every packet has an intended send time (t0 + k / rate per event, faster
 * inside bursts); the loop sleeps until that time and never after a send, so
 * a stall shows as lag instead of silently stretching the run. Each ITCH
 * message is stamped with its packet's intended time, so the pipeline's
 * latency counts from when the packet should have left, not when it did.
 *
 * For fault tests it can lose packets on purpose (a seeded fraction, or the
 * packets of given sequence ranges: the schedule is kept, the packet is just
 * not sent) and serve MoldUDP64 re-requests for the feed it sent, from its own
 * thread, refusing given ranges so permanent gaps can be provoked. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen_cmds.h"
#include "mdm_addr.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_hdr.h"
#include "mdm_mem.h"
#include "mdm_pcap.h"
#include "mdm_signal.h"
#include "sender.h"
#include "synth.h"

#define SEND_BATCH 32              /* packets per sendmmsg at most */
#define SEND_SLOT_BYTES 65536      /* one slot holds any UDP payload (<= 65507) */
/* clock_nanosleep wakes tens of µs late on a VM: sleep to 50 µs before the
 * intended time, then spin, so the schedule is held to about a µs. */
#define SEND_SPIN_NS (50 * MDM_NS_PER_US)
/* Sent more than this after its intended time = behind schedule. */
#define SEND_LATE_NS (100 * MDM_NS_PER_US)
/* Longest single sleep, so a stop request or a stats line is never late. */
#define SEND_NAP_MAX_NS (50 * MDM_NS_PER_MS)
#define SEND_LAG_MAX_NS (3600 * MDM_NS_PER_S) /* lag histogram range */
#define SEND_MAX_RANGES 8                     /* --drop-range / --rerequest-refuse each */
#define MOLD_HDR_LEN 20

static const char prog[] = "mdmesh-loadgen send";

struct send_opts {
	struct sockaddr_in dst;
	const char *iface;           /* --iface NAME, or NULL */
	struct in_addr iface_addr;   /* --iface-addr, when has_iface_addr */
	bool has_iface_addr;
	struct sender_sched_params sched; /* --rate and the burst options */
	uint64_t duration_ns;        /* 0 = until the capture ends (--pcap only) */
	uint32_t ttl;
	uint64_t stats_interval_ns;  /* 0 = no progress lines */
	const char *pcap;            /* send this capture's UDP payloads */
	struct mdm_synth_params synth;
	bool synth_opt_set;          /* --symbols/--seed/--session given */
	double loss;                 /* --loss: fraction of data packets not sent */
	uint64_t loss_seed;
	struct sender_range drop[SEND_MAX_RANGES]; /* --drop-range */
	unsigned n_drop;
	struct sockaddr_in rr_addr;  /* --rerequest: serve re-requests here */
	bool rr_serve;
	struct sender_range refuse[SEND_MAX_RANGES]; /* --rerequest-refuse */
	unsigned n_refuse;
	uint64_t linger_ns;          /* --rerequest-linger */
};

/* The re-request server: its own thread, answering from the store. */
struct rr_server {
	int fd;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	struct sender_store *store;
	pthread_mutex_t lock;        /* store: the send loop adds, the server answers */
	const struct send_opts *o;
	/* counters (server thread; read after join) */
	uint64_t requests, answered, unanswered, packets, messages, refused_msgs, unknown_session, bad;
	uint64_t *req_ns;            /* mono time of every request (for the rate check) */
	uint64_t n_req_ns, cap_req_ns;
	uint64_t first_ns, last_ns;
};

/* Where packets come from: the synthesizer or a capture. */
struct send_src {
	struct mdm_synth *synth;
	struct mdm_pcap_reader *pcap;
	uint64_t skipped_frames;     /* capture frames without a UDP datagram */
	uint64_t cut_frames;         /* capture datagrams cut by the snaplen (sent as captured) */
};

/* Copy the next datagram into buf. 1, 0 at the end, or a negative errno with
 * detail in mdm_err_last(). */
static int src_next(struct send_src *src, uint8_t *buf, uint32_t *len)
{
	if (src->synth) {
		struct mdm_synth_packet pkt;
		int rc = mdm_synth_next(src->synth, &pkt);

		if (rc <= 0)
			return rc;
		memcpy(buf, pkt.payload, pkt.len);
		*len = pkt.len;
		return 1;
	}
	for (;;) {
		struct mdm_pcap_frame f;
		struct mdm_pcap_udp u;
		int rc = mdm_pcap_next(src->pcap, &f);

		if (rc <= 0)
			return rc;
		if (mdm_pcap_parse_udp(&f, &u) != MDM_PCAP_UDP_OK) {
			src->skipped_frames++;
			continue;
		}
		/* The UDP length may claim more than was captured. */
		if (u.payload + u.payload_len > f.data + f.caplen) {
			src->cut_frames++;
			u.payload_len = (uint32_t)(f.data + f.caplen - u.payload);
		}
		memcpy(buf, u.payload, u.payload_len);
		*len = u.payload_len;
		return 1;
	}
}

/* Counters; the loop owns them, the stats lines read them. */
struct send_stats {
	uint64_t packets, events, behind, max_lag_ns, calls, retries;
	uint64_t dropped_packets, dropped_events; /* --loss / --drop-range */
	uint64_t heartbeats;                      /* sent while lingering */
	uint64_t last_send_ns;       /* mono ns after the last sendmmsg */
};

struct send_run {
	const struct send_opts *o;
	int fd;
	struct sender_sched sched;
	struct sender_et et;
	struct send_src src;
	struct send_stats st;
	struct mdm_hdr *lag;         /* ns from intended to sendmmsg return, per packet */
	uint64_t t0_ns;              /* mono ns of slot offset 0 */
	uint64_t real_off_ns;        /* CLOCK_REALTIME - CLOCK_MONOTONIC at start */
	uint64_t total_events;       /* slots within --duration; UINT64_MAX without one */
	uint64_t next_slot;          /* schedule slots handed out so far */
	uint64_t last_off_ns;        /* offset from t0 of the last packet fetched */
	uint8_t *slot[SEND_BATCH + 1]; /* batch slots plus the one being looked ahead */
	uint32_t slot_len[SEND_BATCH + 1];
	uint32_t slot_events[SEND_BATCH + 1];
	uint64_t slot_due_ns[SEND_BATCH + 1];
	struct mmsghdr msgs[SEND_BATCH];
	struct iovec iov[SEND_BATCH];
	atomic_bool *stop;
	uint64_t data_packets;       /* data packets fetched (the loss draw's index) */
	struct rr_server *rr;        /* NULL unless --rerequest */
};

static void on_signal(int sig, void *ctx)
{
	if (sig != SIGHUP)
		atomic_store((atomic_bool *)ctx, true);
}

static int open_socket(const struct send_opts *o, int *out)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ttl = (int)o->ttl, sndbuf = 4 << 20, rc;

	if (fd < 0)
		return mdm_err_set(-errno, "socket: %s", strerror(errno));
	if (o->iface) {
		struct ip_mreqn mr = { .imr_ifindex = (int)if_nametoindex(o->iface) };

		if (mr.imr_ifindex == 0) {
			rc = mdm_err_set(-ENODEV, "--iface %s: no such interface", o->iface);
			goto err;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->iface, (socklen_t)strlen(o->iface)) ||
		    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr))) {
			rc = mdm_err_set(-errno, "--iface %s: %s", o->iface, strerror(errno));
			goto err;
		}
	}
	if (o->has_iface_addr) {
		struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr = o->iface_addr };
		char a[INET_ADDRSTRLEN];

		/* bind first: it fails clearly when the address is not local. */
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
		    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &o->iface_addr, sizeof(o->iface_addr))) {
			int e = errno;

			inet_ntop(AF_INET, &o->iface_addr, a, sizeof(a));
			rc = mdm_err_set(-e, "--iface-addr %s: %s", a, strerror(e));
			goto err;
		}
	}
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) ||
	    (ttl > 0 && setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)))) {
		rc = mdm_err_set(-errno, "--ttl %d: %s", ttl, strerror(errno));
		goto err;
	}
	/* A larger send buffer absorbs a burst instead of blocking mid-batch; the
	 * kernel caps it at wmem_max, which is fine. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	*out = fd;
	return 0;
err:
	close(fd);
	return rc;
}

static void print_progress(struct send_run *r, uint64_t now_ns, uint64_t *prev_ns, struct send_stats *prev,
			   uint64_t *prev_sched)
{
	uint64_t span = now_ns - *prev_ns, sched = sender_sched_count(&r->o->sched, now_ns - r->t0_ns);

	if (sched > r->total_events)
		sched = r->total_events;
	fprintf(stderr,
		"%s: %.2f s: intended %.0f ev/s, achieved %.0f ev/s, packets %" PRIu64 " (+%" PRIu64
		"), events %" PRIu64 ", behind schedule %" PRIu64 ", max lag %.1f us\n",
		prog, (double)(now_ns - r->t0_ns) / 1e9, (double)(sched - *prev_sched) * 1e9 / (double)span,
		(double)(r->st.events - prev->events) * 1e9 / (double)span, r->st.packets,
		r->st.packets - prev->packets, r->st.events, r->st.behind, (double)r->st.max_lag_ns / 1e3);
	*prev_ns = now_ns;
	*prev = r->st;
	*prev_sched = sched;
}

/* Send slots [0, n) in as few sendmmsg calls as the kernel allows, then
 * account each packet's lag from its intended time to the call's return. */
static int flush_batch(struct send_run *r, unsigned n)
{
	unsigned sent = 0;
	uint64_t now;

	for (unsigned i = 0; i < n; i++) {
		r->iov[i] = (struct iovec){ r->slot[i], r->slot_len[i] };
		r->msgs[i].msg_hdr = (struct msghdr){ .msg_name = (void *)&r->o->dst,
						      .msg_namelen = sizeof(r->o->dst),
						      .msg_iov = &r->iov[i],
						      .msg_iovlen = 1 };
	}
	while (sent < n) {
		int k = sendmmsg(r->fd, r->msgs + sent, n - sent, 0);

		r->st.calls++;
		if (k < 0) {
			/* A full qdisc or buffer is transient: retry, unless asked to stop. */
			if ((errno == EINTR || errno == EAGAIN || errno == ENOBUFS) && !atomic_load(r->stop)) {
				r->st.retries++;
				sched_yield();
				continue;
			}
			return mdm_err_set(-errno, "sendmmsg: %s", strerror(errno));
		}
		sent += (unsigned)k;
	}
	now = mdm_mono_ns();
	for (unsigned i = 0; i < n; i++) {
		uint64_t lag = now > r->slot_due_ns[i] ? now - r->slot_due_ns[i] : 0;

		mdm_hdr_record(r->lag, (int64_t)lag);
		if (lag > SEND_LATE_NS)
			r->st.behind++;
		if (lag > r->st.max_lag_ns)
			r->st.max_lag_ns = lag;
		r->st.events += r->slot_events[i];
	}
	r->st.packets += n;
	r->st.last_send_ns = now;
	return 0;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Whether the data packet p (n messages) is lost: the --loss draw for its
 * index (a function of --loss-seed and the index alone, so a run repeats), or
 * an overlap with a --drop-range. */
static bool lost(struct send_run *r, const uint8_t *p, uint32_t len, uint32_t n)
{
	const struct send_opts *o = r->o;
	uint64_t k = r->data_packets++, seq = 0;

	if (o->loss > 0 && (double)(splitmix64(o->loss_seed ^ (k * 0x2545f4914f6cdd1dULL)) >> 11) * 0x1.0p-53 < o->loss)
		return true;
	if (o->n_drop == 0 || len < MOLD_HDR_LEN)
		return false;
	for (int b = 0; b < 8; b++)
		seq = seq << 8 | p[10 + b];
	for (unsigned i = 0; i < o->n_drop; i++)
		if (seq <= o->drop[i].last && seq + n - 1 >= o->drop[i].first)
			return true;
	return false;
}

/* Fetch the next datagram into slot `i`, give it its intended time and stamp
 * it (and record it for re-requests; a lost packet is recorded, not sent, and
 * the next one is fetched). 1, 0 when the source or the --duration schedule is exhausted, or a
 * negative errno. */
static int fetch(struct send_run *r, unsigned i)
{
	uint64_t *next_slot = &r->next_slot;
	uint32_t n;
	uint64_t off;
	int rc;

again:
	if (*next_slot >= r->total_events)
		return 0;
	rc = src_next(&r->src, r->slot[i], &r->slot_len[i]);
	if (rc <= 0)
		return rc;
	n = sender_mold_walk(r->slot[i], r->slot_len[i], false, 0);
	/* A packet without messages (heartbeat, end of session) still takes a slot, so it is paced too. */
	r->slot_events[i] = n;
	off = sender_sched_at(&r->sched, *next_slot + (n ? n : 1) - 1);
	*next_slot += n ? n : 1;
	r->slot_due_ns[i] = r->t0_ns + off;
	r->last_off_ns = off;
	sender_mold_walk(r->slot[i], r->slot_len[i], true,
			 sender_et_since_midnight(&r->et, r->slot_due_ns[i] + r->real_off_ns));
	if (r->rr) {
		pthread_mutex_lock(&r->rr->lock);
		rc = sender_store_add(r->rr->store, r->slot[i], r->slot_len[i]);
		pthread_mutex_unlock(&r->rr->lock);
		if (rc < 0)
			return mdm_err_set(rc, "re-request store: out of memory");
	}
	if (n && lost(r, r->slot[i], r->slot_len[i], n)) {
		/* lost on the way: its slot in the schedule passes unsent */
		r->st.dropped_packets++;
		r->st.dropped_events += n;
		goto again;
	}
	return 1;
}

static int run_loop(struct send_run *r)
{
	const struct send_opts *o = r->o;
	uint64_t next_stats, prev_ns, prev_sched = 0, now;
	struct send_stats prev = { 0 };
	unsigned nb = 0;
	bool have = false;
	int rc;

	{
		/* Bracket the realtime read with two monotonic reads: the offset is then
		 * off by at most half the (tens of ns) bracket. */
		uint64_t m1 = mdm_mono_ns(), real = mdm_real_ns(), m2 = mdm_mono_ns();

		r->real_off_ns = real - (m1 + (m2 - m1) / 2);
		r->t0_ns = m2;
	}
	prev_ns = r->t0_ns;
	next_stats = o->stats_interval_ns ? r->t0_ns + o->stats_interval_ns : UINT64_MAX;
	for (;;) {
		if (!have) {
			rc = fetch(r, nb);
			if (rc < 0)
				return rc;
			if (rc == 0)
				break;
			have = true;
		}
		now = mdm_mono_ns();
		if (now >= next_stats) {
			print_progress(r, now, &prev_ns, &prev, &prev_sched);
			next_stats += o->stats_interval_ns * ((now - next_stats) / o->stats_interval_ns + 1);
		}
		if (atomic_load(r->stop))
			break;
		if (r->slot_due_ns[nb] <= now) {
			/* Due (or overdue: then it goes at once, and its lag says by how much). */
			have = false;
			if (++nb == SEND_BATCH) {
				rc = flush_batch(r, nb);
				if (rc)
					return rc;
				nb = 0;
			}
			continue;
		}
		if (nb > 0) {
			/* Send what is due before waiting; the look-ahead packet moves to slot 0. */
			uint8_t *t = r->slot[0];

			rc = flush_batch(r, nb);
			if (rc)
				return rc;
			r->slot[0] = r->slot[nb];
			r->slot[nb] = t;
			r->slot_len[0] = r->slot_len[nb];
			r->slot_events[0] = r->slot_events[nb];
			r->slot_due_ns[0] = r->slot_due_ns[nb];
			nb = 0;
			continue;
		}
		if (r->slot_due_ns[0] > now + SEND_SPIN_NS) {
			uint64_t wake = r->slot_due_ns[0] - SEND_SPIN_NS;
			struct timespec ts;

			if (wake > next_stats)
				wake = next_stats;
			if (wake > now + SEND_NAP_MAX_NS)
				wake = now + SEND_NAP_MAX_NS;
			ts.tv_sec = (time_t)(wake / MDM_NS_PER_S);
			ts.tv_nsec = (long)(wake % MDM_NS_PER_S);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		/* else spin: the next pass re-reads the clock */
	}
	if (nb > 0)
		return flush_batch(r, nb);
	return 0;
}

/* ---- the re-request server ---- */

static size_t trimmed(const uint8_t *p)
{
	size_t n = 10;

	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
		n--;
	return n;
}

static void rr_note_time(struct rr_server *sv, uint64_t now)
{
	if (sv->n_req_ns == sv->cap_req_ns) {
		uint64_t cap = sv->cap_req_ns ? sv->cap_req_ns * 2 : 1024;
		uint64_t *q = mdm_realloc(sv->req_ns, cap * sizeof(*q));

		if (!q)
			return; /* the rate figure then covers fewer requests */
		sv->req_ns = q;
		sv->cap_req_ns = cap;
	}
	sv->req_ns[sv->n_req_ns++] = now;
	if (!sv->first_ns)
		sv->first_ns = now;
	sv->last_ns = now;
}

/* Answer one 20-byte request (session, first sequence, count) from `src`
 * with as many downstream packets as the stored range takes. */
static void rr_answer(struct rr_server *sv, const uint8_t *req, const struct sockaddr_in *src)
{
	const struct send_opts *o = sv->o;
	uint8_t pkt[SENDER_ANSWER_MAX];
	uint64_t seq = 0, last;
	uint32_t count = (uint32_t)req[18] << 8 | req[19], len;
	const uint8_t *have;
	bool any = false;

	for (int b = 0; b < 8; b++)
		seq = seq << 8 | req[10 + b];
	if (seq == 0 || count == 0 || count == 0xffff) {
		sv->bad++;
		return;
	}
	sv->requests++;
	rr_note_time(sv, mdm_mono_ns());
	last = seq + count - 1;
	pthread_mutex_lock(&sv->lock);
	have = sender_store_session(sv->store);
	/* sessions compare by name: padding may differ between implementations */
	if (!have || trimmed(have) != trimmed(req) || memcmp(have, req, trimmed(req)) != 0) {
		pthread_mutex_unlock(&sv->lock);
		sv->unknown_session++;
		return;
	}
	for (uint64_t s = seq; s <= last; s++)
		for (unsigned i = 0; i < o->n_refuse; i++)
			if (s >= o->refuse[i].first && s <= o->refuse[i].last) {
				sv->refused_msgs++;
				break;
			}
	while (seq <= last) {
		len = sender_store_answer(sv->store, &seq, last, o->refuse, o->n_refuse, pkt, sizeof(pkt));
		if (!len)
			continue;
		/* count from the header: the messages this packet carries */
		sv->messages += (uint32_t)pkt[18] << 8 | pkt[19];
		sv->packets++;
		any = true;
		/* answers go back to the requesting socket, unicast */
		(void)sendto(sv->fd, pkt, len, 0, (const struct sockaddr *)src, sizeof(*src));
	}
	pthread_mutex_unlock(&sv->lock);
	if (any)
		sv->answered++;
	else
		sv->unanswered++;
}

static void *rr_server_main(void *arg)
{
	struct rr_server *sv = arg;
	uint8_t buf[2048];

	while (!atomic_load(&sv->stop)) {
		struct sockaddr_in src;
		socklen_t slen = sizeof(src);
		ssize_t n = recvfrom(sv->fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &slen);

		if (n < 0)
			continue; /* the 100 ms receive timeout, or a signal: check stop */
		if (n != MOLD_HDR_LEN || slen != sizeof(src)) {
			sv->bad++;
			continue;
		}
		rr_answer(sv, buf, &src);
	}
	return NULL;
}

static int rr_start(struct rr_server *sv, const struct send_opts *o)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	char a[INET_ADDRSTRLEN];
	int rc;

	sv->o = o;
	sv->fd = -1;
	pthread_mutex_init(&sv->lock, NULL);
	rc = sender_store_create(&sv->store);
	if (rc != 0)
		return mdm_err_set(rc, "re-request store: out of memory");
	sv->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	inet_ntop(AF_INET, &o->rr_addr.sin_addr, a, sizeof(a));
	if (sv->fd < 0 || setsockopt(sv->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(sv->fd, (const struct sockaddr *)&o->rr_addr, sizeof(o->rr_addr)))
		return mdm_err_set(-errno, "--rerequest %s:%u: %s", a, ntohs(o->rr_addr.sin_port), strerror(errno));
	rc = pthread_create(&sv->thread, NULL, rr_server_main, sv);
	if (rc != 0)
		return mdm_err_set(-rc, "re-request server thread: %s", strerror(rc));
	sv->running = true;
	return 0;
}

/* Stop answering (the counters stay readable). */
static void rr_stop(struct rr_server *sv)
{
	if (sv->running) {
		atomic_store(&sv->stop, true);
		pthread_join(sv->thread, NULL);
		sv->running = false;
	}
	if (sv->fd >= 0)
		close(sv->fd);
	sv->fd = -1;
}

static void rr_free(struct rr_server *sv)
{
	rr_stop(sv);
	sender_store_destroy(sv->store);
	sv->store = NULL;
	mdm_free(sv->req_ns);
	sv->req_ns = NULL;
	pthread_mutex_destroy(&sv->lock);
}

/* Most requests in any 1-second window (times are in arrival order). */
static uint64_t rr_max_per_s(const struct rr_server *sv)
{
	uint64_t best = 0, j = 0;

	for (uint64_t i = 0; i < sv->n_req_ns; i++) {
		while (sv->req_ns[i] - sv->req_ns[j] >= MDM_NS_PER_S)
			j++;
		if (i - j + 1 > best)
			best = i - j + 1;
	}
	return best;
}

/* After the feed: keep answering re-requests for --rerequest-linger, with a
 * MoldUDP64 heartbeat (count 0, the next sequence number) every second so a
 * receiver learns of a lost tail. */
static int linger(struct send_run *r)
{
	uint64_t end = mdm_mono_ns() + r->o->linger_ns, next_hb = 0;

	while (!atomic_load(r->stop)) {
		uint64_t now = mdm_mono_ns();

		if (now >= end)
			break;
		if (now >= next_hb) {
			uint8_t hb[MOLD_HDR_LEN];
			uint64_t next;
			const uint8_t *session;

			pthread_mutex_lock(&r->rr->lock);
			session = sender_store_session(r->rr->store);
			next = sender_store_next(r->rr->store);
			if (session)
				memcpy(hb, session, 10);
			pthread_mutex_unlock(&r->rr->lock);
			if (session) {
				for (int b = 0; b < 8; b++)
					hb[10 + b] = (uint8_t)(next >> (56 - 8 * b));
				hb[18] = hb[19] = 0;
				if (sendto(r->fd, hb, sizeof(hb), 0, (const struct sockaddr *)&r->o->dst, sizeof(r->o->dst)) < 0)
					return mdm_err_set(-errno, "heartbeat: %s", strerror(errno));
				r->st.heartbeats++;
			}
			next_hb = now + MDM_NS_PER_S;
		}
		mdm_sleep_ns(50 * MDM_NS_PER_MS);
	}
	return 0;
}

static void print_summary(struct send_run *r, bool stopped)
{
	uint64_t end = r->st.last_send_ns ? r->st.last_send_ns : mdm_mono_ns();
	/* N slots span the last one's offset plus one interval, so a perfectly
	 * held constant schedule reads exactly --rate on both sides. */
	double tick = 1e9 / (double)r->o->sched.rate, secs = (double)(end - r->t0_ns) / 1e9;
	double intended = r->next_slot ? (double)r->next_slot * 1e9 / ((double)r->last_off_ns + tick) : 0;
	double achieved = r->st.events ? (double)r->st.events * 1e9 / ((double)(end - r->t0_ns) + tick) : 0;

	fprintf(stderr,
		"%s: %s: %" PRIu64 " events in %" PRIu64 " packets over %.3f s; intended %.0f ev/s, achieved %.0f ev/s; "
		"behind schedule %" PRIu64 " packets, max lag %.1f us, lag p50 %.1f us p99 %.1f us p99.9 %.1f us; "
		"%" PRIu64 " sendmmsg calls",
		prog, stopped ? "stopped" : "done", r->st.events, r->st.packets, secs, intended,
		achieved, r->st.behind, (double)r->st.max_lag_ns / 1e3,
		(double)mdm_hdr_value_at_percentile(r->lag, 50) / 1e3,
		(double)mdm_hdr_value_at_percentile(r->lag, 99) / 1e3,
		(double)mdm_hdr_value_at_percentile(r->lag, 99.9) / 1e3, r->st.calls);
	if (r->st.retries)
		fprintf(stderr, " (%" PRIu64 " retried)", r->st.retries);
	if (r->src.skipped_frames || r->src.cut_frames)
		fprintf(stderr, ", capture frames skipped (not UDP) %" PRIu64 ", cut by snaplen %" PRIu64,
			r->src.skipped_frames, r->src.cut_frames);
	fputc('\n', stderr);
	if (r->o->loss > 0 || r->o->n_drop)
		fprintf(stderr, "%s: lost on purpose: %" PRIu64 " packets (%" PRIu64 " events) not sent\n", prog,
			r->st.dropped_packets, r->st.dropped_events);
}

static void print_rr_summary(const struct rr_server *sv, uint64_t heartbeats)
{
	fprintf(stderr,
		"%s: rerequest: %" PRIu64 " requests (max %" PRIu64 " in 1 s, over %.3f s), %" PRIu64 " answered with %" PRIu64
		" packets / %" PRIu64 " messages, %" PRIu64 " unanswered, %" PRIu64 " refused messages, %" PRIu64
		" unknown session, %" PRIu64 " malformed; %" PRIu64 " heartbeats\n",
		prog, sv->requests, rr_max_per_s(sv), sv->last_ns > sv->first_ns ? (double)(sv->last_ns - sv->first_ns) / 1e9 : 0.0,
		sv->answered, sv->packets, sv->messages, sv->unanswered, sv->refused_msgs, sv->unknown_session, sv->bad,
		heartbeats);
}

static void send_usage(FILE *f)
{
	fprintf(f,
		"usage: mdmesh-loadgen send --rate EVENTS_PER_S --duration S [options]\n"
		"       mdmesh-loadgen send --pcap FILE --rate EVENTS_PER_S [--duration S] [options]\n\n"
		"Multicasts a deterministic NASDAQ TotalView-ITCH 5.0 session in MoldUDP64 packets (or a\n"
		"capture's UDP payloads, in order) over a UDP socket, at a constant event rate.\n\n"
		"Schedule (wrk2-style): ITCH message k has the slot t0 + k/rate (inside a burst,\n"
		"at --burst-rate); a packet's intended send time is the slot of its last message.\n"
		"The sender sleeps until that time (never after a send); when it falls behind it\n"
		"sends at once, and counts packets sent more than 100 us late as behind schedule.\n\n"
		"Timestamps: every ITCH message's timestamp is rewritten to its packet's intended\n"
		"send time in ns since midnight US/Eastern, so the collector's exchange_ts_ns plus\n"
		"the session date is the intended send time (CLOCK_REALTIME): latency measured\n"
		"from it includes any delay of the sender itself (no coordinated omission).\n\n"
		"  --dst ADDR:PORT         destination group (default 233.54.12.111:26477)\n"
		"  --iface-addr ADDR       send from this local address (IP_MULTICAST_IF)\n"
		"  --iface NAME            send through this interface (SO_BINDTODEVICE)\n"
		"  --rate R                ITCH messages per second (required)\n"
		"  --duration S            seconds of schedule: rate x S messages (required\n"
		"                          without --pcap; with it, stops the capture early)\n"
		"  --symbols K             symbols, 1..65535 (default 100)\n"
		"  --seed S                random seed (default 1)\n"
		"  --session NAME          MoldUDP64 session (default %s)\n"
		"  --burst-rate R          messages per second inside bursts ...\n"
		"  --burst-every S         ... starting every S seconds (at S, 2S, ...) ...\n"
		"  --burst-length S        ... lasting S seconds (less than --burst-every)\n"
		"  --ttl N                 multicast TTL (default 1)\n"
		"  --pcap FILE             send this capture's UDP payloads instead of synthesizing\n"
		"  --stats-interval S      progress line on stderr every S seconds (default 1; 0 = off)\n"
		"  -h, --help              this text\n\n"
		"Faults (for recovery tests):\n"
		"  --loss F                do not send a fraction F (0..1) of the data packets, chosen\n"
		"                          by --loss-seed (the same packets on every run)\n"
		"  --loss-seed N           seed of the --loss draw (default 1)\n"
		"  --drop-range A-B        do not send the packets holding any of sequence numbers\n"
		"                          A..B (repeatable, up to %d)\n"
		"  --rerequest ADDR:PORT   serve MoldUDP64 re-requests (20 bytes: session, first\n"
		"                          sequence, count) on this local UDP address, from the feed as\n"
		"                          sent (lost packets included): answers are downstream packets\n"
		"                          of at most %d bytes, whole messages, same session, unicast\n"
		"                          to the requester; after the feed, keep serving for\n"
		"                          --rerequest-linger seconds with a heartbeat every second\n"
		"  --rerequest-refuse A-B  never serve sequence numbers A..B (answers skip them),\n"
		"                          to provoke permanent gaps (repeatable, up to %d)\n"
		"  --rerequest-linger S    seconds to keep serving after the feed (default 3)\n\n"
		"Exit status: 0 when done or stopped by SIGINT/SIGTERM (a summary line either way),\n"
		"1 on a runtime error (socket, interface, sendmmsg), 2 on a usage error.\n",
		MDM_SYNTH_SESSION_DEFAULT, SEND_MAX_RANGES, SENDER_ANSWER_MAX, SEND_MAX_RANGES);
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		goto bad;
	if (v < min || v > max) {
		fprintf(stderr, "%s: --%s %s out of range %" PRIu64 "..%" PRIu64 "\n", prog, opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
bad:
	fprintf(stderr, "%s: --%s: '%s' is not a number\n", prog, opt, s);
	return -1;
}

/* Seconds (decimals allowed) to ns; `zero_ok` admits 0. */
static int parse_secs(const char *opt, const char *s, bool zero_ok, uint64_t *out_ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || errno || *end != '\0' || !isfinite(v) || v < 0 || (v == 0 && !zero_ok) || v > 1e6) {
		fprintf(stderr, "%s: --%s: '%s' is not a number of seconds in %s..1000000\n", prog, opt, s,
			zero_ok ? "0" : "(0");
		return -1;
	}
	*out_ns = (uint64_t)llround(v * 1e9);
	if (*out_ns == 0 && !zero_ok) {
		fprintf(stderr, "%s: --%s: '%s' is below a nanosecond\n", prog, opt, s);
		return -1;
	}
	return 0;
}

static int parse_dst(const char *opt, const char *s, struct sockaddr_in *out)
{
	if (mdm_addr_parse_v4(s, out) != 0) {
		fprintf(stderr, "%s: --%s: %s\n", prog, opt, mdm_err_last());
		return -1;
	}
	return 0;
}

/* "A-B" with 1 <= A <= B into one of `max` range slots. */
static int parse_range(const char *opt, const char *s, struct sender_range *v, unsigned *n)
{
	char *end, *dash = strchr(s, '-');
	unsigned long long a, b;

	if (*n == SEND_MAX_RANGES) {
		fprintf(stderr, "%s: --%s given more than %d times\n", prog, opt, SEND_MAX_RANGES);
		return -1;
	}
	errno = 0;
	if (!dash || *s < '0' || *s > '9' || dash[1] < '0' || dash[1] > '9')
		goto bad;
	a = strtoull(s, &end, 10);
	if (end != dash || errno)
		goto bad;
	b = strtoull(dash + 1, &end, 10);
	if (*end || errno || a == 0 || b < a)
		goto bad;
	v[*n].first = a;
	v[(*n)++].last = b;
	return 0;
bad:
	fprintf(stderr, "%s: --%s: '%s' is not a range A-B of sequence numbers (1 <= A <= B)\n", prog, opt, s);
	return -1;
}

/* argv -> opts. 0, or 2 (usage error, already reported), or -1 for --help. */
static int parse_args(int argc, char **argv, struct send_opts *o)
{
	enum { O_DST = 256, O_IFACE_ADDR, O_IFACE, O_RATE, O_DURATION, O_SYMBOLS, O_SEED, O_SESSION, O_BRATE,
	       O_BEVERY, O_BLEN, O_TTL, O_PCAP, O_STATS, O_LOSS, O_LOSS_SEED, O_DROP, O_RR, O_REFUSE, O_LINGER };
	static const struct option opts[] = {
		{ "dst", required_argument, NULL, O_DST },
		{ "iface-addr", required_argument, NULL, O_IFACE_ADDR },
		{ "iface", required_argument, NULL, O_IFACE },
		{ "rate", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "symbols", required_argument, NULL, O_SYMBOLS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "session", required_argument, NULL, O_SESSION },
		{ "burst-rate", required_argument, NULL, O_BRATE },
		{ "burst-every", required_argument, NULL, O_BEVERY },
		{ "burst-length", required_argument, NULL, O_BLEN },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "stats-interval", required_argument, NULL, O_STATS },
		{ "loss", required_argument, NULL, O_LOSS },
		{ "loss-seed", required_argument, NULL, O_LOSS_SEED },
		{ "drop-range", required_argument, NULL, O_DROP },
		{ "rerequest", required_argument, NULL, O_RR },
		{ "rerequest-refuse", required_argument, NULL, O_REFUSE },
		{ "rerequest-linger", required_argument, NULL, O_LINGER },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, n_burst;

	memset(o, 0, sizeof(*o));
	mdm_synth_params_init(&o->synth);
	o->dst.sin_family = AF_INET;
	o->dst.sin_addr.s_addr = htonl(MDM_SYNTH_DST_IP_DEFAULT);
	o->dst.sin_port = htons(MDM_SYNTH_DST_PORT_DEFAULT);
	o->ttl = 1;
	o->stats_interval_ns = MDM_NS_PER_S;
	o->loss_seed = 1;
	o->linger_ns = 3 * MDM_NS_PER_S;
	optind = 1;
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_DST:
			if (parse_dst("dst", optarg, &o->dst))
				return 2;
			break;
		case O_IFACE_ADDR:
			if (inet_pton(AF_INET, optarg, &o->iface_addr) != 1) {
				fprintf(stderr, "%s: --iface-addr: '%s' is not an IPv4 address\n", prog, optarg);
				return 2;
			}
			o->has_iface_addr = true;
			break;
		case O_IFACE:
			if (*optarg == '\0' || strlen(optarg) >= IFNAMSIZ) {
				fprintf(stderr, "%s: --iface: '%s' is not an interface name\n", prog, optarg);
				return 2;
			}
			o->iface = optarg;
			break;
		case O_RATE:
			if (parse_u64("rate", optarg, 1, 1000000000, &o->sched.rate))
				return 2;
			break;
		case O_DURATION:
			if (parse_secs("duration", optarg, false, &o->duration_ns))
				return 2;
			break;
		case O_SYMBOLS:
			if (parse_u64("symbols", optarg, 1, MDM_SYNTH_MAX_SYMBOLS, &v))
				return 2;
			o->synth.symbols = (uint32_t)v;
			o->synth_opt_set = true;
			break;
		case O_SEED:
			if (parse_u64("seed", optarg, 0, UINT64_MAX, &o->synth.seed))
				return 2;
			o->synth_opt_set = true;
			break;
		case O_SESSION:
			if (strlen(optarg) > 10) {
				fprintf(stderr, "%s: --session '%s' is longer than 10 characters\n", prog, optarg);
				return 2;
			}
			snprintf(o->synth.session, sizeof(o->synth.session), "%s", optarg);
			o->synth_opt_set = true;
			break;
		case O_BRATE:
			if (parse_u64("burst-rate", optarg, 1, 1000000000, &o->sched.burst_rate))
				return 2;
			break;
		case O_BEVERY:
			if (parse_secs("burst-every", optarg, false, &o->sched.burst_every_ns))
				return 2;
			break;
		case O_BLEN:
			if (parse_secs("burst-length", optarg, false, &o->sched.burst_length_ns))
				return 2;
			break;
		case O_TTL:
			if (parse_u64("ttl", optarg, 0, 255, &v))
				return 2;
			o->ttl = (uint32_t)v;
			break;
		case O_PCAP: o->pcap = optarg; break;
		case O_STATS:
			if (parse_secs("stats-interval", optarg, true, &o->stats_interval_ns))
				return 2;
			break;
		case O_LOSS: {
			char *end;

			errno = 0;
			o->loss = strtod(optarg, &end);
			if (*optarg == '\0' || *end || errno || !(o->loss >= 0 && o->loss <= 1)) {
				fprintf(stderr, "%s: --loss: '%s' is not a fraction in 0..1\n", prog, optarg);
				return 2;
			}
			break;
		}
		case O_LOSS_SEED:
			if (parse_u64("loss-seed", optarg, 0, UINT64_MAX, &o->loss_seed))
				return 2;
			break;
		case O_DROP:
			if (parse_range("drop-range", optarg, o->drop, &o->n_drop))
				return 2;
			break;
		case O_RR:
			if (parse_dst("rerequest", optarg, &o->rr_addr))
				return 2;
			o->rr_serve = true;
			break;
		case O_REFUSE:
			if (parse_range("rerequest-refuse", optarg, o->refuse, &o->n_refuse))
				return 2;
			break;
		case O_LINGER:
			if (parse_secs("rerequest-linger", optarg, true, &o->linger_ns))
				return 2;
			break;
		case 'h': return -1;
		case ':':
			fprintf(stderr, "%s: option '%s' needs a value\n", prog, argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "%s: unknown option '%s' (try --help)\n", prog, argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		return 2;
	}
	if (!o->sched.rate) {
		fprintf(stderr, "%s: --rate EVENTS_PER_S is required (try --help)\n", prog);
		return 2;
	}
	if (!o->pcap && !o->duration_ns) {
		fprintf(stderr, "%s: --duration S is required without --pcap (try --help)\n", prog);
		return 2;
	}
	if (o->pcap && o->synth_opt_set) {
		fprintf(stderr, "%s: --symbols, --seed and --session shape a synthesized feed, not --pcap\n", prog);
		return 2;
	}
	if (o->iface && o->has_iface_addr) {
		fprintf(stderr, "%s: give --iface or --iface-addr, not both\n", prog);
		return 2;
	}
	n_burst = (o->sched.burst_rate != 0) + (o->sched.burst_every_ns != 0) + (o->sched.burst_length_ns != 0);
	if (n_burst != 0 && n_burst != 3) {
		fprintf(stderr, "%s: --burst-rate, --burst-every and --burst-length go together\n", prog);
		return 2;
	}
	if (o->sched.burst_rate && o->sched.burst_length_ns >= o->sched.burst_every_ns) {
		fprintf(stderr, "%s: --burst-length must be shorter than --burst-every\n", prog);
		return 2;
	}
	if (o->n_refuse && !o->rr_serve) {
		fprintf(stderr, "%s: --rerequest-refuse needs --rerequest ADDR:PORT\n", prog);
		return 2;
	}
	return 0;
}

int loadgen_send(int argc, char **argv)
{
	static atomic_bool stop;
	static struct rr_server rr;
	struct send_opts o;
	struct send_run *r = NULL;
	bool stopped;
	int rc = parse_args(argc, argv, &o);

	if (rc == -1) {
		send_usage(stdout);
		return 0;
	}
	if (rc)
		return rc;
	r = mdm_calloc(1, sizeof(*r));
	if (!r) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	r->o = &o;
	r->fd = -1;
	r->stop = &stop;
	r->total_events = o.duration_ns ? sender_sched_count(&o.sched, o.duration_ns) : UINT64_MAX;
	sender_sched_init(&r->sched, &o.sched);
	mdm_err_clear();
	rc = mdm_hdr_create(&r->lag, 1, (int64_t)SEND_LAG_MAX_NS, 3);
	for (unsigned i = 0; rc == 0 && i <= SEND_BATCH; i++) {
		r->slot[i] = mdm_malloc(SEND_SLOT_BYTES);
		if (!r->slot[i])
			rc = -ENOMEM;
	}
	if (rc == 0 && o.pcap) {
		rc = mdm_pcap_reader_open(&r->src.pcap, o.pcap);
	} else if (rc == 0) {
		o.synth.messages = r->total_events;
		o.synth.rate = o.sched.rate;
		rc = mdm_synth_create(&r->src.synth, &o.synth);
		if (rc == -EINVAL) {
			/* e.g. too few messages for the symbols: the command line's fault */
			fprintf(stderr, "%s: --rate x --duration = %" PRIu64 " messages: %s\n", prog, o.synth.messages,
				mdm_err_last());
			rc = 2;
			goto out;
		}
	}
	if (rc == 0)
		rc = open_socket(&o, &r->fd);
	if (rc == 0)
		rc = mdm_signal_start(on_signal, &stop);
	if (rc == 0 && o.rr_serve) {
		/* before the first packet: a receiver may ask as soon as it sees a gap */
		r->rr = &rr;
		rc = rr_start(&rr, &o);
	}
	if (rc == 0)
		rc = run_loop(r);
	if (rc == 0 && r->rr)
		rc = linger(r);
	stopped = atomic_load(&stop);
	if (rc == 0 || r->st.packets)
		print_summary(r, stopped || rc != 0);
	if (r->rr) {
		rr_stop(&rr);
		print_rr_summary(&rr, r->st.heartbeats);
	}
	if (rc) {
		const char *why = mdm_err_last();

		fprintf(stderr, "%s: %s\n", prog, *why ? why : mdm_strerror(rc));
		rc = 1;
	}
out:
	if (r->rr)
		rr_free(&rr);
	if (r->fd >= 0)
		close(r->fd);
	mdm_synth_destroy(r->src.synth);
	mdm_pcap_reader_close(r->src.pcap);
	for (unsigned i = 0; i <= SEND_BATCH; i++)
		mdm_free(r->slot[i]);
	mdm_hdr_destroy(r->lag);
	mdm_free(r);
	return rc;
}
