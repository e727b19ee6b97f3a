/* mdmesh-fix metrics and stats (fix_stats.h). */
#include "fix_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_latency.h"
#include "mdm_mem.h"

static const char *const stage_names[FIX_LAT_COUNT] = { "receive_to_published", "published_to_acked",
							  "receive_to_acked" };
static const char *const kind_names[4] = { "trade", "correction", "cancel", "other" };

struct fix_stats {
	struct fix_stats_params p;
	struct mdm_metrics *reg;
	struct mdm_latency *lat;
	struct mdm_buf scratch;
	char subject[160];
};

static void collect(void *ctx, struct mdm_metrics_writer *w)
{
	struct fix_stats *st = ctx;

	mdm_latency_write_summary(st->lat, w, "mdmesh_fix_stage_latency_seconds",
				  "latency per stage: receive -> published -> acked (last interval quantiles)");
}

static void json_latency(void *ctx, struct mdm_json *j)
{
	mdm_latency_write_json(((struct fix_stats *)ctx)->lat, j);
}

/* "fix": who this is and the headline numbers (the dashboard's panel). */
static void json_fix(void *ctx, struct mdm_json *j)
{
	const struct fix_stats *st = ctx;
	const struct fix_gateway_counters *gc = fix_gateway_counters(st->p.gw);
	const struct fix_session_counters *sc = fix_gateway_session_counters(st->p.gw);
	uint64_t refused = 0;

	for (int r = 1; r < FIX_R_COUNT; r++)
		refused += mdm_counter_get(&sc->refused[r]);
	mdm_json_obj_begin(j);
	mdm_json_kstr(j, "instance", st->p.instance);
	mdm_json_kstr(j, "session", st->p.session);
	mdm_json_ku64(j, "ts_ns", mdm_real_ns());
	mdm_json_ku64(j, "trades", mdm_counter_get(&gc->execs[0]));
	mdm_json_ku64(j, "published", mdm_counter_get(&gc->published));
	mdm_json_ku64(j, "acked", mdm_counter_get(&gc->acked));
	mdm_json_ku64(j, "in_flight", mdm_counter_get(&gc->in_flight));
	mdm_json_ku64(j, "logged_on", mdm_counter_get(&gc->connected));
	mdm_json_ku64(j, "resend_requests", mdm_counter_get(&sc->resend_requests_sent));
	mdm_json_ku64(j, "refused", refused);
	mdm_json_obj_end(j);
}

#define REG(kind, name, help, labels, var)                                                                    \
	do {                                                                                                  \
		if (rc == 0)                                                                                  \
			rc = mdm_metrics_register(st->reg, kind, name, help, labels, MDM_METRICS_U64, var); \
	} while (0)

int fix_stats_create(struct fix_stats **out, const struct fix_stats_params *p)
{
	const struct fix_gateway_counters *gc = fix_gateway_counters(p->gw);
	const struct fix_session_counters *sc = fix_gateway_session_counters(p->gw);
	struct fix_stats *st = mdm_calloc(1, sizeof(*st));
	const char *sess[] = { "session", p->session, NULL };
	int rc;

	*out = NULL;
	if (!st)
		return mdm_err_set(-ENOMEM, "out of memory");
	st->p = *p;
	snprintf(st->subject, sizeof(st->subject), "stats.fix.%s", p->instance);
	rc = mdm_metrics_create(&st->reg);
	if (rc == 0) {
		struct mdm_latency_params lp = { .stage_names = stage_names, .n_stages = FIX_LAT_COUNT,
						 .hlog_path = p->hlog_path, .hlog_comment = "mdmesh-fix stage latency" };

		rc = mdm_latency_create(&st->lat, &lp);
	}
	for (int k = 0; k < 4; k++) {
		const char *l[] = { "session", p->session, "kind", kind_names[k], NULL };

		REG(MDM_METRICS_COUNTER, "mdmesh_fix_execution_reports_total",
		    "ExecutionReports received, by kind (other = order events, not published)", l, &gc->execs[k]);
	}
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_published_total", "Executions handed to JetStream", sess, &gc->published);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_acked_total", "Executions acked (stored or duplicate)", sess, &gc->acked);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_publish_failed_total",
	    "publishes given up (asked from the counterparty again)", sess, &gc->failed);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_connects_total", "TCP connections made or accepted", sess, &gc->connects);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_connect_errors_total", "failed connection attempts", sess,
	    &gc->connect_errors);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_state_writes_total", "fsync'd writes of the sequence numbers", sess,
	    &gc->state_writes);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_state_errors_total", "failed writes of the sequence numbers", sess,
	    &gc->state_errors);
	REG(MDM_METRICS_GAUGE, "mdmesh_fix_processed_next_in", "persisted next inbound number (all below acked)", sess,
	    &gc->processed_in);
	REG(MDM_METRICS_GAUGE, "mdmesh_fix_in_flight", "Executions published, not yet acked", sess, &gc->in_flight);
	REG(MDM_METRICS_GAUGE, "mdmesh_fix_logged_on", "1 while the session is logged on", sess, &gc->connected);
	REG(MDM_METRICS_GAUGE, "mdmesh_fix_next_in", "next inbound MsgSeqNum expected", sess, &sc->next_in);
	REG(MDM_METRICS_GAUGE, "mdmesh_fix_next_out", "next outbound MsgSeqNum", sess, &sc->next_out);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_messages_in_total", "FIX messages received (framed)", sess, &sc->msgs_in);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_messages_out_total", "FIX messages sent", sess, &sc->msgs_out);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_resend_requests_sent_total", "ResendRequests sent for inbound gaps", sess,
	    &sc->resend_requests_sent);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_resend_requests_received_total", "ResendRequests answered (gap fill)", sess,
	    &sc->resend_requests_received);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_duplicates_total", "PossDup messages below the expected number, ignored",
	    sess, &sc->duplicates);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_dropped_above_gap_total",
	    "messages above a gap dropped while its resend was pending", sess, &sc->dropped_above_gap);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_rejects_sent_total", "session-level Rejects sent", sess, &sc->rejects_sent);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_rejects_received_total", "session-level Rejects received", sess,
	    &sc->rejects_received);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_test_requests_sent_total", "TestRequests sent to a silent peer", sess,
	    &sc->test_requests_sent);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_logons_total", "Logons completed", sess, &sc->logons);
	REG(MDM_METRICS_COUNTER, "mdmesh_fix_disconnects_total", "connections lost or closed", sess, &sc->disconnects);
	for (int r = 1; r < FIX_R_COUNT; r++) {
		const char *lab[] = { "session", p->session, "reason", fix_reason_name(r), NULL };

		REG(MDM_METRICS_COUNTER, "mdmesh_fix_rejected_total", "FIX input refused, by reason", lab, &sc->refused[r]);
	}
	if (rc == 0)
		rc = mdm_metrics_add_collector(st->reg, collect, st);
	if (rc == 0)
		rc = mdm_metrics_add_json_section(st->reg, "latency", json_latency, st);
	if (rc == 0)
		rc = mdm_metrics_add_json_section(st->reg, "fix", json_fix, st);
	if (rc != 0) {
		fix_stats_destroy(st);
		return rc;
	}
	*out = st;
	return 0;
}

void fix_stats_destroy(struct fix_stats *st)
{
	if (!st)
		return;
	mdm_metrics_destroy(st->reg);
	mdm_latency_destroy(st->lat);
	mdm_buf_fini(&st->scratch);
	mdm_free(st);
}

struct mdm_metrics *fix_stats_metrics(struct fix_stats *st)
{
	return st->reg;
}

void fix_stats_tick(struct fix_stats *st)
{
	struct mdm_json j;

	fix_gateway_latency_take(st->p.gw, mdm_latency_interval_begin(st->lat));
	mdm_latency_interval_end(st->lat, (double)mdm_real_ns() / 1e9);
	if (!st->p.bus)
		return;
	mdm_buf_reset(&st->scratch);
	mdm_json_init(&j, &st->scratch);
	if (mdm_metrics_render_json(st->reg, &j) == 0)
		mdm_bus_publish(st->p.bus, st->subject, st->scratch.data, st->scratch.len);
}

void fix_stats_summary(struct fix_stats *st, FILE *f)
{
	const struct fix_gateway_counters *gc = fix_gateway_counters(st->p.gw);
	const struct fix_session_counters *sc = fix_gateway_session_counters(st->p.gw);

	fprintf(f,
		"mdmesh-fix %s: %" PRIu64 " trades, %" PRIu64 " corrections, %" PRIu64 " cancels, %" PRIu64
		" other reports; %" PRIu64 " published, %" PRIu64 " acked, %" PRIu64 " failed; %" PRIu64
		" resend requests, %" PRIu64 " duplicates ignored, %" PRIu64 " rejects sent\n",
		st->p.session, mdm_counter_get(&gc->execs[0]), mdm_counter_get(&gc->execs[1]),
		mdm_counter_get(&gc->execs[2]), mdm_counter_get(&gc->execs[3]), mdm_counter_get(&gc->published),
		mdm_counter_get(&gc->acked), mdm_counter_get(&gc->failed), mdm_counter_get(&sc->resend_requests_sent),
		mdm_counter_get(&sc->duplicates), mdm_counter_get(&sc->rejects_sent));
	for (int r = 1; r < FIX_R_COUNT; r++)
		if (mdm_counter_get(&sc->refused[r]))
			fprintf(f, "  refused %-20s %" PRIu64 "\n", fix_reason_name(r), mdm_counter_get(&sc->refused[r]));
	mdm_latency_print(st->lat, f);
}
