/* Gap reports, on the control thread: take the RX core's reports
 * (rerequest_take). A permanent gap is logged with its range, published as an
 * mdmesh.v1.Alert on alert.system.gap (stream ALERTS) and kept among the most
 * recent for the stats and the shutdown summary. Recovered gaps are kept the
 * same way and logged at most once a second (a lossy line recovers many).
 *
 * The alert's Nats-Msg-Id is gap.<feed>.<session>.<from>-<to>, so a restarted
 * collector that gives up the same range again inside the stream's duplicate
 * window does not store a second alert. Publishing is synchronous (a permanent
 * gap is rare and worth a round trip); an alert the server did not take is
 * kept (up to GAP_REPORT_RETRY of them) and sent again on later drains.
 *
 * Threading: one thread calls drain/flush; recent() and the counters may be
 * read from another (HTTP renders) under the module's lock. Not hot-path. */
#ifndef GAP_REPORT_H
#define GAP_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "rerequest.h"

#define GAP_REPORT_RECENT 16 /* permanent (and, apart, recovered) gaps kept for stats and the summary */
#define GAP_REPORT_RETRY 64  /* alerts kept for another try */

struct mdm_bus;

struct gap_report_params {
	struct rerequest *rr;
	struct mdm_bus *bus;     /* NULL: log and count only */
	const char *feed;        /* copied */
	const char *subject;     /* copied; e.g. alert.system.gap */
};

struct gap_report_counters {
	uint64_t alerts_published; /* stored (or already stored: same Msg-Id) */
	uint64_t alerts_failed;    /* attempts the server did not take */
	uint64_t alerts_dropped;   /* given up: the retry list was full */
	uint64_t by_reason[REREQUEST_SESSION_CHANGE + 1]; /* permanent gaps taken, by enum rerequest_reason */
};

struct gap_report;

int gap_report_create(struct gap_report **out, const struct gap_report_params *p);
void gap_report_destroy(struct gap_report *gr);

/* Take the queued reports, log and publish; retry earlier failures. Returns
 * the number of new permanent gaps taken. Blocking (publishes). */
unsigned gap_report_drain(struct gap_report *gr);

/* Up to `max` most recent permanent gaps (or, with `recovered`, recovered
 * ones), newest last. Any thread. */
unsigned gap_report_recent(struct gap_report *gr, bool recovered, struct rerequest_gap *out, unsigned max);

void gap_report_counters(struct gap_report *gr, struct gap_report_counters *out);

#endif
