/* `mdmesh-loadgen send`: a live MoldUDP64 sender on a wrk2-style schedule.
 * Every packet has an intended send time (t0 + k / rate per event, faster
 * inside bursts); the loop sleeps until that time and never after a send, so
 * a stall shows as lag instead of silently stretching the run. Each ITCH
 * message is stamped with its packet's intended time, so the pipeline's
 * latency counts from when the packet should have left, not when it did. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
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

/* Fetch the next datagram into slot `i`, give it its intended time and stamp
 * it. 1, 0 when the source or the --duration schedule is exhausted, or a
 * negative errno. */
static int fetch(struct send_run *r, unsigned i)
{
	uint64_t *next_slot = &r->next_slot;
	uint32_t n;
	uint64_t off;
	int rc;

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
		"Exit status: 0 when done or stopped by SIGINT/SIGTERM (a summary line either way),\n"
		"1 on a runtime error (socket, interface, sendmmsg), 2 on a usage error.\n",
		MDM_SYNTH_SESSION_DEFAULT);
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

static int parse_dst(const char *s, struct sockaddr_in *out)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	uint64_t port;

	if (!colon || (size_t)(colon - s) >= sizeof(host)) {
		fprintf(stderr, "%s: --dst: '%s' is not ADDR:PORT\n", prog, s);
		return -1;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (inet_pton(AF_INET, host, &out->sin_addr) != 1) {
		fprintf(stderr, "%s: --dst: '%s' is not an IPv4 address\n", prog, host);
		return -1;
	}
	if (parse_u64("dst", colon + 1, 1, 65535, &port))
		return -1;
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return 0;
}

/* argv -> opts. 0, or 2 (usage error, already reported), or -1 for --help. */
static int parse_args(int argc, char **argv, struct send_opts *o)
{
	enum { O_DST = 256, O_IFACE_ADDR, O_IFACE, O_RATE, O_DURATION, O_SYMBOLS, O_SEED, O_SESSION, O_BRATE,
	       O_BEVERY, O_BLEN, O_TTL, O_PCAP, O_STATS };
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
	optind = 1;
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_DST:
			if (parse_dst(optarg, &o->dst))
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
	return 0;
}

int loadgen_send(int argc, char **argv)
{
	static atomic_bool stop;
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
	if (rc == 0)
		rc = run_loop(r);
	stopped = atomic_load(&stop);
	if (rc == 0 || r->st.packets)
		print_summary(r, stopped || rc != 0);
	if (rc) {
		const char *why = mdm_err_last();

		fprintf(stderr, "%s: %s\n", prog, *why ? why : mdm_strerror(rc));
		rc = 1;
	}
out:
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
