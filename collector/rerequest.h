/* MoldUDP64 gap recovery (ITCH_FACTS.md section 3): for every range the
 * sequencer declares missing, send 20-byte request packets (session, first
 * sequence wanted, count) by unicast UDP to the configured re-request servers
 * and receive their answers, ordinary downstream packets, on the same socket.
 * The caller feeds those answers through its decode chain as one more
 * sequencer line, so a recovered message is delivered like a live one.
 *
 * Model. The sequencer's missing table is the only list of missing ranges:
 * this module keeps none. What it keeps is one record per declared gap, as
 * declared (it never splits): the request in flight, attempts, the requests
 * sent, and a cursor below which the gap's remaining pieces were given up.
 * At each poll it asks the sequencer (seq_gap_find) for the gap's lowest
 * missing piece at or above the cursor and requests its first max_count
 * messages; a request is complete once the sequencer lists none of its
 * messages as missing, and the next part is asked for at once. The
 * sequencer's events only keep the accounting: GAP_OPENED opens a record,
 * GAP_FILLED counts recovered (or late) messages and marks the request
 * answered, GAP_EVICTED and GAP_ABANDONED (a session change) report the exact
 * ranges lost. The pieces of one gap are recovered lowest first, one request
 * at a time. A request that sees nothing within timeout_ns is sent again, to
 * the next server; after 1 + retries such requests without progress, the
 * WHOLE piece is given up as a permanent gap (one report, not one per
 * request: a server that cannot serve the start of a range seldom serves the
 * rest, and a dead server must not cost one timeout per chunk of a long
 * outage). A request that saw part of its messages is renewed without
 * counting as a retry, so a server that serves around a hole makes the
 * report exactly the hole. A given-up piece stays in the sequencer's table
 * (a late copy is still delivered) and is never asked for again.
 *
 * Threading, and why there is no hand-off: the sequencer and this module
 * have the same owner, the RX lcore (rx.c raises the events from the feed and
 * runs rerequest_poll in its control pass), so reading the sequencer's table
 * directly is safe and costs no copy, lock or ring. Were recovery moved to
 * another thread, it would need the table handed over (an SPSC ring of
 * requests from the RX lcore, or a seqlock'd snapshot), never a mirror.
 *
 * Permanent gaps (given up, evicted from the sequencer's table, abandoned by a
 * session change, or with no server configured once timeout_ns passed without
 * a late line filling them) are counted and queued as reports for another
 * thread (rerequest_take), and so is every declared gap once all of it has
 * arrived (with its range as declared): the RX core never logs or publishes.
 *
 * Rate. Requests draw on a token bucket (rate_per_s, burst), so a burst of
 * loss cannot flood a server; ranges waiting for a token are counted once per
 * wait in rate_limited.
 *
 * Calls: the sequencer's owner thread (the RX lcore) calls everything except
 * rerequest_take() (one consumer thread) and rerequest_stats() (any thread,
 * relaxed reads of single-writer counters). Hot-path cost: nothing per packet;
 * rerequest_poll() is O(gaps x log ranges) and makes one sendto() per request sent;
 * rerequest_recv() is called only while requests are in flight. No
 * allocation after create. */
#ifndef REREQUEST_H
#define REREQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seq.h"

#define REREQUEST_MAX_SERVERS 8
#define REREQUEST_REPORTS 256      /* queued permanent-gap reports (power of two) */
#define REREQUEST_MAX_COUNT 65534  /* 0xFFFF is MoldUDP64's end-of-session count */

enum rerequest_reason {
	REREQUEST_RECOVERED = 0,      /* not a loss: every message of the gap arrived */
	REREQUEST_NO_SERVER = 1,      /* none configured; no line filled it within timeout_ns */
	REREQUEST_NOT_SERVED = 2,     /* 1 + retries requests in a row brought nothing */
	REREQUEST_EVICTED = 3,        /* the sequencer's missing table was full */
	REREQUEST_SESSION_CHANGE = 4, /* the feed moved to another session */
};

/* Stable snake_case name of a reason ("no_server", ...). */
const char *rerequest_reason_name(int reason);

/* One gap report: permanent (reason > 0), or recovered (the declared gap's
 * whole range; reason REREQUEST_RECOVERED). */
struct rerequest_gap {
	uint64_t from, to;                  /* inclusive */
	uint8_t session[SEQ_SESSION_LEN];   /* as on the wire */
	uint8_t reason;                     /* enum rerequest_reason */
	uint32_t requests;                  /* requests sent for the gap this range is part of */
};

struct rerequest_params {
	const char *const *servers; /* "IPV4:PORT" each; n_servers == 0 = recovery off */
	size_t n_servers;           /* at most REREQUEST_MAX_SERVERS */
	uint64_t rate_per_s;        /* token refill, requests per second, >= 1 */
	uint32_t burst;             /* bucket size, >= 1 */
	uint32_t max_count;         /* messages asked for per request, 1..REREQUEST_MAX_COUNT */
	uint64_t timeout_ns;        /* wait for an answer (and, with no server, for a late line), > 0 */
	uint32_t retries;           /* requests after the first that may bring nothing */
	uint32_t capacity;          /* gaps tracked: the sequencer's gap_capacity */
	uint8_t line;               /* sequencer line the answers are fed on (fills counted as recovered) */
	uint32_t rcvbuf_bytes;      /* SO_RCVBUF for answers; 0 = 4 MiB (the kernel caps it) */
};

/* Counters: single writer (the owner), relaxed 64-bit reads elsewhere. */
struct rerequest_stats {
	uint64_t requests_sent;
	uint64_t requests_answered;  /* requests that brought at least one missing message */
	uint64_t requests_timed_out; /* requests that brought nothing within timeout_ns */
	uint64_t rate_limited;       /* ranges that had to wait for a token (once per wait) */
	uint64_t send_errors;        /* sendto() failures (the request counts as sent and unanswered) */
	uint64_t responses;          /* datagrams received from a server */
	uint64_t responses_foreign;  /* datagrams from any other address: dropped */
	uint64_t gaps_tracked;       /* declared gaps taken on */
	uint64_t gaps_recovered;     /* declared gaps whose every message arrived */
	uint64_t msgs_recovered;     /* missing messages that arrived on the re-request line */
	uint64_t msgs_filled_late;   /* missing messages that arrived late on a live line */
	uint64_t permanent_gaps;
	uint64_t permanent_msgs;
	uint64_t reports_dropped;    /* reports not queued (queue full; the gaps are still counted) */
	uint64_t outstanding_gaps;   /* gauge: declared gaps being recovered */
	uint64_t outstanding_msgs;   /* gauge: their messages still missing (given-up pieces excluded) */
	uint64_t in_flight;          /* gauge: requests awaiting an answer */
};

struct rerequest;

/* Parse the servers, open and bind the UDP socket (when there are servers),
 * allocate the range table. Returns 0, -EINVAL (detail via mdm_err_last(),
 * e.g. "feed.rerequest '1.2.3:9': expected IPV4:PORT"), -ENOMEM, or the
 * socket's -errno. Not hot-path. */
int rerequest_create(struct rerequest **out, const struct rerequest_params *p);

/* Close and free; NULL is a no-op. */
void rerequest_destroy(struct rerequest *rr);

/* Sequencer event hook (seq_params.on_event, possibly through feed): every
 * event of the sequencer later handed to rerequest_poll. Owner. */
void rerequest_on_seq_event(struct rerequest *rr, const struct seq_event *ev);

/* Time out requests, give up pieces and send what is due and allowed by the
 * bucket, at monotonic now_ns (the sequencer's clock), reading the missing
 * ranges from `seq` (the sequencer whose events this module gets; borrowed
 * for the call). Returns the requests in flight afterwards: while 0,
 * rerequest_recv() need not be called. Owner (of both). */
unsigned rerequest_poll(struct rerequest *rr, const struct seq *seq, uint64_t now_ns);

/* Receive one answer into buf[0..cap): its length, 0 when none is waiting,
 * or a negative errno. Datagrams from other addresses are counted and
 * skipped. Non-blocking. Owner. */
int rerequest_recv(struct rerequest *rr, uint8_t *buf, size_t cap);

/* Move up to `max` queued gap reports into out[], oldest first.
 * One consumer thread. */
unsigned rerequest_take(struct rerequest *rr, struct rerequest_gap *out, unsigned max);

const struct rerequest_stats *rerequest_stats(const struct rerequest *rr);

/* Local UDP port of the request socket (0 without servers). */
uint16_t rerequest_local_port(const struct rerequest *rr);

/* Number of servers configured. */
size_t rerequest_servers(const struct rerequest *rr);

#endif
