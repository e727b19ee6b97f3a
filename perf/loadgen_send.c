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
#include "loadgen_send.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_hdr.h"
#include "mdm_itchsrc.h"
#include "mdm_mem.h"
#include "mdm_pcap.h"
#include "mdm_signal.h"
#include "sender.h"
#include "synth.h"

/* Where packets come from: the synthesizer, a capture or a BinaryFILE. */
struct send_src {
	struct mdm_synth *synth;
	struct mdm_pcap_reader *pcap;
	struct mdm_itchsrc *itch;
	uint64_t itch_ts_ns;         /* ITCH time of the last message of the last BinaryFILE packet */
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
	if (src->itch) {
		struct mdm_itchsrc_packet pkt;
		int rc = mdm_itchsrc_next(src->itch, &pkt);

		if (rc <= 0)
			return rc;
		memcpy(buf, pkt.payload, pkt.len);
		*len = (uint32_t)pkt.len;
		src->itch_ts_ns = pkt.last_ts_ns;
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
	uint64_t pace_t0_ns;         /* --from-itch: mono ns of the first paced packet (0 = none yet) */
	uint64_t pace_ts_ns;         /* --speed: its ITCH time */
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
	struct send_rr *rr;        /* NULL unless --rerequest */
	struct send_soup *soup;    /* NULL unless --soup */
};

/* SIGINT/SIGTERM stop at once; SIGHUP ends the feed where it is, as if its
 * duration were over: the re-request linger, heartbeats and a SoupBinTCP
 * end of session follow as after a natural end (a test that must not guess
 * how long a feed has to run lets it run, then ends it). */
static atomic_bool end_feed;

static void on_signal(int sig, void *ctx)
{
	if (sig == SIGHUP)
		atomic_store(&end_feed, true);
	else
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
	uint64_t span = now_ns - *prev_ns;
	uint64_t sched = r->o->speed > 0 || r->pace_t0_ns ? r->next_slot
						      : sender_sched_count(&r->o->sched, now_ns - r->t0_ns);

	if (sched > r->total_events)
		sched = r->total_events;
	fprintf(stderr,
		"%s: %.2f s: intended %.0f ev/s, achieved %.0f ev/s, packets %" PRIu64 " (+%" PRIu64
		"), events %" PRIu64 ", behind schedule %" PRIu64 ", max lag %.1f us\n",
		SEND_PROG, (double)(now_ns - r->t0_ns) / 1e9, (double)(sched - *prev_sched) * 1e9 / (double)span,
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

/* The intended time of BinaryFILE packet `i` (n messages): before --from at
 * once; from there on --speed (its ITCH time after the first paced packet's,
 * divided by the speed) or --rate (the schedule's slot of its last message),
 * counted from when the first paced packet was fetched. Timestamps stay as
 * in the file. false when --duration is over. */
static bool pace_itch(struct send_run *r, unsigned i, uint32_t n)
{
	const struct send_opts *o = r->o;
	uint64_t ts = r->src.itch_ts_ns, off;

	if (ts < o->from_ns) {
		r->slot_due_ns[i] = mdm_mono_ns(); /* due now: its lag is the send's own */
		return true;
	}
	if (!r->pace_t0_ns) {
		r->pace_t0_ns = mdm_mono_ns();
		r->pace_ts_ns = ts;
	}
	if (o->speed > 0) {
		off = (uint64_t)((double)(ts - r->pace_ts_ns) / o->speed);
		r->next_slot += n ? n : 1;
	} else {
		off = sender_sched_at(&r->sched, r->next_slot + (n ? n : 1) - 1);
		r->next_slot += n ? n : 1;
	}
	if (o->duration_ns && off >= o->duration_ns)
		return false;
	r->slot_due_ns[i] = r->pace_t0_ns + off;
	r->last_off_ns = off;
	return true;
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
	/* SIGHUP: the source ends here; what was taken from it is still sent */
	if (*next_slot >= r->total_events || atomic_load(&end_feed))
		return 0;
	rc = src_next(&r->src, r->slot[i], &r->slot_len[i]);
	if (rc <= 0)
		return rc;
	n = sender_mold_walk(r->slot[i], r->slot_len[i], false, 0);
	r->slot_events[i] = n;
	if (r->src.itch) {
		if (!pace_itch(r, i, n))
			return 0;
	} else {
		/* A packet without messages (heartbeat, end of session) still takes a slot, so it is paced too. */
		off = sender_sched_at(&r->sched, *next_slot + (n ? n : 1) - 1);
		*next_slot += n ? n : 1;
		r->slot_due_ns[i] = r->t0_ns + off;
		r->last_off_ns = off;
		sender_mold_walk(r->slot[i], r->slot_len[i], true,
				 sender_et_since_midnight(&r->et, r->slot_due_ns[i] + r->real_off_ns));
	}
	if (r->rr) {
		pthread_mutex_lock(&r->rr->lock);
		rc = sender_store_add(r->rr->store, r->slot[i], r->slot_len[i]);
		pthread_mutex_unlock(&r->rr->lock);
		if (rc < 0)
			return mdm_err_set(rc, "re-request store: out of memory");
	}
	if (r->soup && (rc = send_soup_add(r->soup, r->slot[i], r->slot_len[i])) < 0)
		return mdm_err_set(rc, "soup store: out of memory");
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

			if (send_rr_heartbeat(r->rr, hb)) {
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
	double tick = r->o->sched.rate ? 1e9 / (double)r->o->sched.rate : 0, secs = (double)(end - r->t0_ns) / 1e9;
	double intended = r->next_slot ? (double)r->next_slot * 1e9 / ((double)r->last_off_ns + tick) : 0;
	double achieved = r->st.events ? (double)r->st.events * 1e9 / ((double)(end - r->t0_ns) + tick) : 0;

	fprintf(stderr,
		"%s: %s: %" PRIu64 " events in %" PRIu64 " packets over %.3f s; intended %.0f ev/s, achieved %.0f ev/s; "
		"behind schedule %" PRIu64 " packets, max lag %.1f us, lag p50 %.1f us p99 %.1f us p99.9 %.1f us; "
		"%" PRIu64 " sendmmsg calls",
		SEND_PROG, stopped ? "stopped" : "done", r->st.events, r->st.packets, secs, intended,
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
		fprintf(stderr, "%s: lost on purpose: %" PRIu64 " packets (%" PRIu64 " events) not sent\n", SEND_PROG,
			r->st.dropped_packets, r->st.dropped_events);
}

int loadgen_send(int argc, char **argv)
{
	static atomic_bool stop;
	static struct send_rr rr;
	static struct send_soup soup;
	struct send_opts o;
	struct send_run *r = NULL;
	bool stopped;
	int rc = send_opts_parse(argc, argv, &o);

	if (rc == -1) {
		send_opts_usage(stdout);
		return 0;
	}
	if (rc)
		return rc;
	r = mdm_calloc(1, sizeof(*r));
	if (!r) {
		fprintf(stderr, "%s: out of memory\n", SEND_PROG);
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
	} else if (rc == 0 && o.itch) {
		struct mdm_itchsrc_params sp = { .path = o.itch, .session = o.synth.session,
						 .max_payload = MDM_SYNTH_PAYLOAD_MAX, .max_span_ns = o.pack_span_ns };

		r->total_events = UINT64_MAX; /* --duration is checked against the pacing */
		rc = mdm_itchsrc_open(&r->src.itch, &sp);
	} else if (rc == 0) {
		o.synth.messages = r->total_events;
		o.synth.rate = o.sched.rate;
		rc = mdm_synth_create(&r->src.synth, &o.synth);
		if (rc == -EINVAL) {
			/* e.g. too few messages for the symbols: the command line's fault */
			fprintf(stderr, "%s: --rate x --duration = %" PRIu64 " messages: %s\n", SEND_PROG, o.synth.messages,
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
		rc = send_rr_start(&rr, &o);
	}
	if (rc == 0 && o.soup_serve) {
		r->soup = &soup;
		rc = send_soup_start(&soup, &o);
	}
	if (rc == 0)
		rc = run_loop(r);
	if (rc == 0 && r->rr)
		rc = linger(r);
	if (r->soup)
		send_soup_finish(&soup, &stop);
	stopped = atomic_load(&stop);
	if (rc == 0 || r->st.packets)
		print_summary(r, stopped || rc != 0);
	if (r->rr) {
		send_rr_stop(&rr);
		send_rr_print_summary(&rr, r->st.heartbeats);
	}
	if (r->soup)
		send_soup_print_summary(&soup);
	if (rc) {
		const char *why = mdm_err_last();

		fprintf(stderr, "%s: %s\n", SEND_PROG, *why ? why : mdm_strerror(rc));
		rc = 1;
	}
out:
	if (r->rr)
		send_rr_free(&rr);
	if (r->soup)
		send_soup_free(&soup);
	if (r->fd >= 0)
		close(r->fd);
	mdm_synth_destroy(r->src.synth);
	mdm_pcap_reader_close(r->src.pcap);
	if (r->src.itch) {
		char line[512];

		if (mdm_itchfile_stats(mdm_itchsrc_file(r->src.itch))->truncated)
			fprintf(stderr, "%s: %s\n", SEND_PROG,
				mdm_itchfile_truncated_str(mdm_itchsrc_file(r->src.itch), line, sizeof(line)));
		mdm_itchsrc_close(r->src.itch);
	}
	for (unsigned i = 0; i <= SEND_BATCH; i++)
		mdm_free(r->slot[i]);
	mdm_hdr_destroy(r->lag);
	mdm_free(r);
	return rc;
}
