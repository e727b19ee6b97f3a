/* Private to loadgen_send*.c: `mdmesh-loadgen send` is cut into the paced
 * loop (loadgen_send.c), the re-request server (loadgen_send_rr.c) and the
 * command line (loadgen_send_opts.c). */
#ifndef LOADGEN_SEND_H
#define LOADGEN_SEND_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mdm_clock.h"
#include "sender.h"
#include "synth.h"

#define SEND_PROG "mdmesh-loadgen send"
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
	const char *itch;            /* --from-itch: send this BinaryFILE, packed (mdm_itchsrc) */
	double speed;                /* --speed: ITCH-timestamp pacing scaled by this; 0 = --rate */
	uint64_t from_ns;            /* --from: ITCH time where pacing starts (earlier: at once) */
	uint64_t pack_span_ns;       /* --pack-span */
	bool session_set;            /* --session given */
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
	struct sockaddr_in soup_addr; /* --soup: serve the feed over SoupBinTCP here */
	bool soup_serve;
	const char *soup_user, *soup_password; /* NULL = any login accepted */
	uint64_t soup_drop_after;    /* close the first connection after this many messages; 0 = never */
	uint64_t soup_linger_ns;     /* after the feed: wait this long for the client to take it all */
};

/* The SoupBinTCP server (--soup): its own thread serves one client at a
 * time from the store of what the paced loop sent, at the sequence number
 * the client logs in at, following the live tail; End of Session once the
 * feed is over and the client has everything. */
struct send_soup {
	int lfd, cfd;
	pthread_t thread;
	bool running;
	atomic_bool stop, feed_done, ended; /* ended: End of Session sent */
	struct sender_store *store;
	pthread_mutex_t lock;        /* store: the send loop adds, the server reads */
	const struct send_opts *o;
	/* server thread state */
	bool logged_in, dropped;
	uint64_t next_seq, last_rx_ns, last_tx_ns;
	size_t in_len;
	uint8_t in[4096];
	/* counters (server thread; read after join) */
	uint64_t connections, logins, rejected, messages, heartbeats_tx, heartbeats_rx, logouts, timeouts, forced_drops;
	uint64_t errors[8];          /* by enum mdm_soup_reason */
};

/* The re-request server: its own thread, answering from the store. */
struct send_rr {
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

/* argv -> opts. 0, or 2 (usage error, already reported), or -1 for --help. */
int send_opts_parse(int argc, char **argv, struct send_opts *o);
void send_opts_usage(FILE *f);

/* Start serving re-requests on o->rr_addr (sv zeroed by the caller; o must
 * outlive it). 0, or a negative errno with detail in mdm_err_last(); call
 * send_rr_free either way. */
int send_rr_start(struct send_rr *sv, const struct send_opts *o);
/* Stop answering and join the thread (the counters stay readable). */
void send_rr_stop(struct send_rr *sv);
void send_rr_free(struct send_rr *sv);
/* The MoldUDP64 heartbeat for what was sent so far (count 0, the next
 * sequence number) into hb; false before the first packet. Thread-safe
 * against the server thread. */
bool send_rr_heartbeat(struct send_rr *sv, uint8_t hb[MOLD_HDR_LEN]);
/* Listen on o->soup_addr and start the server thread (sv zeroed by the
 * caller). 0 or -errno with detail; call send_soup_free either way. */
int send_soup_start(struct send_soup *sv, const struct send_opts *o);
/* Record one sent packet for the server (the paced loop). 0 or -ENOMEM. */
int send_soup_add(struct send_soup *sv, const uint8_t *p, uint32_t len);
/* The feed is over: wait up to soup_linger for the client to take it and
 * get End of Session (or until a stop is asked), then stop the thread. */
void send_soup_finish(struct send_soup *sv, atomic_bool *stop);
void send_soup_free(struct send_soup *sv);
void send_soup_print_summary(const struct send_soup *sv);

/* One summary line on stderr; heartbeats is the loop's count. */
void send_rr_print_summary(const struct send_rr *sv, uint64_t heartbeats);

#endif
