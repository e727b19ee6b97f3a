/* mdmesh-fix's numbers: /metrics and /stats.json series over the gateway's
 * and the session's counters (refusals by reason), the stage latencies
 * (receive -> published -> acked), the stats.fix.<instance> subject once an
 * interval, and the summary printed at exit. */
#ifndef FIX_STATS_H
#define FIX_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "fix_gateway.h"
#include "mdm_bus.h"
#include "mdm_metrics.h"

struct fix_stats_params {
	const char *instance;
	const char *session;    /* the session name */
	struct fix_gateway *gw;
	struct mdm_bus *bus;
	const char *hlog_path;  /* NULL or "" for none */
};

struct fix_stats;

int fix_stats_create(struct fix_stats **out, const struct fix_stats_params *p);
void fix_stats_destroy(struct fix_stats *st); /* NULL-safe; after the HTTP server */
struct mdm_metrics *fix_stats_metrics(struct fix_stats *st);
/* Close a latency interval and publish stats.fix.<instance>. Gateway thread
 * or main thread, one at a time. */
void fix_stats_tick(struct fix_stats *st);
void fix_stats_summary(struct fix_stats *st, FILE *f);

#endif
