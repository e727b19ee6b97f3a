/* The collector's SoupBinTCP 3.00 input (input.soup): a kernel TCP client
 * polled by the RX lcore in place of a DPDK port. It connects without
 * blocking, logs in (username, password, session, the sequence number it
 * wants next), packs the Sequenced Data messages of each read into MoldUDP64
 * packets (mdm_moldpack, numbered as the session implies) and hands those to
 * the caller, which feeds them through the same decode chain as multicast.
 *
 * A lost connection (closed or reset by the server, silent for the timeout,
 * a login rejected, a framing error that loses the stream) is reconnected
 * after a back-off (doubling from reconnect_min_ns to reconnect_max_ns, reset
 * by a login) and logged in at the next sequence number: nothing is lost or
 * repeated. A session the server no longer has (Login Rejected 'S', e.g. a
 * resume from yesterday's session) is given up for the current one, from 1.
 * End of Session ends the input: what came before it is handed on, then a
 * MoldUDP64 end-of-session packet; a Logout is sent and the socket closed.
 *
 * Threading: soup_input_poll() belongs to one owner thread (the RX lcore),
 * soup_input_start_at() to the thread that creates it before the owner runs;
 * soup_input_stats() may be read by any thread (single-writer counters);
 * soup_input_log() is called by one other thread (the control loop), which
 * logs what happened: the RX core never logs. Cost: one recv() per poll, a
 * send() per heartbeat; no allocation or DNS after create. */
#ifndef SOUP_INPUT_H
#define SOUP_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mdm_soup.h"

struct mdm_metrics;

struct soup_input_params {
	const char *server;                /* HOST:PORT, resolved by soup_input_create */
	const char *user, *password;       /* at most 6 and 10 characters; NULL = blank */
	uint64_t heartbeat_ns, timeout_ns; /* 0 = SoupBinTCP's 1 s and 15 s */
	uint64_t connect_timeout_ns;       /* 0 = 5 s */
	uint64_t reconnect_min_ns;         /* 0 = 100 ms */
	uint64_t reconnect_max_ns;         /* 0 = 2 s */
	size_t max_payload;                /* MoldUDP64 packets handed on; 0 = 1400 */
};

enum soup_input_state {
	SOUP_INPUT_DOWN = 0,    /* no connection: waiting to reconnect */
	SOUP_INPUT_CONNECTING,  /* TCP connect in progress */
	SOUP_INPUT_LOGGING_IN,  /* Login Request sent */
	SOUP_INPUT_ACTIVE,      /* logged in: data flows */
	SOUP_INPUT_ENDED,       /* End of Session received: the input is over */
};

/* Single-writer counters (the owner thread); any thread reads them with
 * mdm_counter_get(). */
struct soup_input_stats {
	uint64_t connects;         /* TCP connections made */
	uint64_t connect_errors;   /* attempts refused or timed out */
	uint64_t logins;           /* Login Accepted */
	uint64_t rejected[2];      /* Login Rejected: [0] 'A' not authorized, [1] 'S' session not available */
	uint64_t disconnects;      /* connections lost once made (not counting the end) */
	uint64_t timeouts;         /* of those: the server was silent for timeout_ns */
	uint64_t messages;         /* Sequenced Data messages handed on */
	uint64_t packets;          /* MoldUDP64 packets handed on */
	uint64_t bytes;            /* bytes received */
	uint64_t heartbeats_rx, heartbeats_tx, debug;
	uint64_t errors[MDM_SOUP_REASONS]; /* framing errors by enum mdm_soup_reason (0 unused) */
	uint64_t state;            /* enum soup_input_state */
	uint64_t next_seq;         /* sequence number of the next message expected */
	uint64_t notes_dropped;    /* log notes lost: soup_input_log was not called often enough */
};

/* A MoldUDP64 packet to feed (valid during the call). */
typedef void (*soup_input_packet_fn)(void *ctx, const uint8_t *p, size_t len);

struct soup_input;

/* Resolve the server and get ready to connect at the first poll, logging in
 * for the current session at sequence 1 (the whole session). Main thread.
 * 0, -EINVAL, -EHOSTUNREACH or -ENOMEM, with the reason in mdm_err_last(). */
int soup_input_create(struct soup_input **out, const struct soup_input_params *p);

/* NULL-safe; closes the socket. */
void soup_input_destroy(struct soup_input *si);

/* Log in to `session` ("" = current) at next_seq instead (where an earlier
 * run left the feed: feed.resume). Before the first poll. */
void soup_input_start_at(struct soup_input *si, const char *session, uint64_t next_seq);

/* One pass at monotonic time now_ns: connect, read what arrived, hand the
 * messages on as MoldUDP64 packets through fn, heartbeat, time out, and
 * reconnect. Returns the number of messages handed on. Owner thread. */
unsigned soup_input_poll(struct soup_input *si, uint64_t now_ns, soup_input_packet_fn fn, void *ctx);

/* True once End of Session arrived (owner thread, or any after it stopped). */
bool soup_input_ended(const struct soup_input *si);

const struct soup_input_stats *soup_input_stats(const struct soup_input *si);

/* The server as configured ("HOST:PORT"). */
const char *soup_input_server(const struct soup_input *si);

/* Log (mdm_log) what happened since the last call: connections, logins with
 * their sequence numbers, rejections, losses, the end. One consumer thread. */
void soup_input_log(struct soup_input *si);

/* Register the counters in /metrics and /stats.json (mdmesh_collector_soup_*,
 * framing errors by reason) and a "soup" section (server, state, next_seq). */
int soup_input_metrics(struct soup_input *si, struct mdm_metrics *reg);

/* One summary line (and its counters) for the shutdown summary. */
void soup_input_summary(const struct soup_input *si, FILE *f);

#endif
