/* The drop-copy gateway: one FIX session over TCP (initiator or acceptor)
 * feeding ExecutionReports to JetStream. One thread runs it (fix_gateway_run):
 * socket reads -> fix_frame -> fix_session -> fix_exec -> async publish, the
 * in-flight window moved on by acks (nats.c threads), the processed inbound
 * number persisted once everything below it is acked, and on stop a Logout,
 * a drain and a last write of the numbers. */
#ifndef FIX_GATEWAY_H
#define FIX_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>

#include "fix_cfg.h"
#include "fix_session.h"
#include "mdm_bus.h"
#include "mdm_latency.h"

enum { FIX_LAT_PUBLISH, FIX_LAT_ACK, FIX_LAT_TOTAL, FIX_LAT_COUNT };

/* Written by the gateway thread (ack counts: by ack threads, shared adds);
 * read by any thread with mdm_counter_get. */
struct fix_gateway_counters {
	uint64_t execs[4];         /* by enum fix_exec_kind: trade, correct, cancel, other */
	uint64_t published;        /* Executions handed to the bus */
	uint64_t acked;            /* stored or duplicate (shared) */
	uint64_t failed;           /* publishes given up (shared): asked for again */
	uint64_t rewinds;          /* times the session asked for a failed publish again */
	uint64_t connects, connect_errors, refused_connections;
	uint64_t state_writes, state_errors;
	uint64_t processed_in;     /* gauge: the persisted next_in */
	uint64_t in_flight;        /* gauge: window */
	uint64_t connected;        /* gauge: 1 while logged on */
};

struct fix_gateway_params {
	const struct fix_cfg *cfg;
	struct mdm_bus *bus;       /* borrowed; its ack handler is set by create */
	const struct fix_trader_from *from;
	size_t n_from;
};

struct fix_gateway;

/* Load the state file (creating the directory), build the session, window
 * and recorders, open the listening socket in acceptor mode. 0 or -errno
 * (detail via mdm_err_last). */
int fix_gateway_create(struct fix_gateway **out, const struct fix_gateway_params *p);
void fix_gateway_destroy(struct fix_gateway *g); /* NULL-safe; destroy the bus first */

/* Ask the run loop to log out, drain and return. Any thread (a signal thread). */
void fix_gateway_stop(struct fix_gateway *g);

/* Run until stopped. Returns 0 when every Execution received is acked and
 * the numbers are written, 1 otherwise (logged). */
int fix_gateway_run(struct fix_gateway *g);

const struct fix_gateway_counters *fix_gateway_counters(const struct fix_gateway *g);
const struct fix_session_counters *fix_gateway_session_counters(const struct fix_gateway *g);
/* The acceptor's bound port (0 for an initiator). */
uint16_t fix_gateway_listen_port(const struct fix_gateway *g);
/* Move this interval's latency into into[FIX_LAT_COUNT]. Any one thread. */
void fix_gateway_latency_take(struct fix_gateway *g, struct mdm_hdr *const *into);

#endif
