/* Processor metrics, reporter, alarms and summary; see processor_stats.h. */
#include "processor_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "dlq.h"
#include "enrich.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_latency.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_metrics.h"
#include "mdm_tally.h"
#include "mdmesh/v1/events.pb-c.h"
#include "processor_cfg.h"
#include "worker.h"

#define UNHEALTHY_FAILURES 3
#define TOP_TRADERS 10 /* traders in /stats.json "trade" */
#define ALERT_CT "application/protobuf; proto=mdmesh.v1.Alert"

enum alarm { ALARM_DLQ_DEPTH, ALARM_LAG, ALARM_P99, ALARM_COUNT };
static const char *const alarm_names[ALARM_COUNT] = { "dlq_depth", "lag", "p99" };

struct processor_stats {
	struct processor_stats_params p;
	char instance[64], stream[64], consumer[64], stats_subject[128];
	char worker_labels[256][8];
	struct mdm_metrics *reg;
	struct mdm_latency *lat;           /* stage latency: intervals, totals, hlog */
	/* refreshed per tick; read by renders with relaxed loads */
	uint64_t lag, ack_pending, redelivered, dlq_depth;
	uint64_t info_errors;
	uint64_t alarm_threshold[ALARM_COUNT];
	uint64_t alarm_value[ALARM_COUNT];
	bool alarm_active[ALARM_COUNT];
	uint64_t alarm_raised[ALARM_COUNT];
	struct mdm_buf scratch;
};

/* ---- metrics ---- */

static void collect(void *ctx, struct mdm_metrics_writer *w)
{
	struct processor_stats *ps = ctx;

	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_processor_alerts_raised_total",
				 "alarms tripped (an Alert published on alert.system.<alarm>), by alarm");
	for (int a = 0; a < ALARM_COUNT; a++) {
		const char *l[] = { "alarm", alarm_names[a], NULL };

		mdm_metrics_write_u64(w, l, mdm_counter_get(&ps->alarm_raised[a]));
	}
	mdm_latency_write_summary(ps->lat, w, "mdmesh_processor_stage_latency_seconds",
				  "latency per stage over the last stats interval");
}

/* Reference data (enrich.h): a miss is an event whose symbol the refdata
 * bucket lacks; it is processed all the same, so this is where it shows. */
static void collect_refdata(void *ctx, struct mdm_metrics_writer *w)
{
	struct processor_stats *ps = ctx;
	struct enrich_counters c;

	enrich_counters_get(ps->p.enrich, &c);
	{
		const struct {
			const char *name, *help;
			uint64_t v;
		} counters[] = {
			{ "mdmesh_processor_refdata_lookups_total", "reference data lookups (one per event with a symbol)",
			  c.lookups },
			{ "mdmesh_processor_refdata_misses_total",
			  "lookups that found no reference data (the event is processed all the same)", c.misses },
			{ "mdmesh_processor_refdata_updates_total", "refdata KV puts applied (initial values included)",
			  c.updates },
			{ "mdmesh_processor_refdata_deletes_total", "refdata instruments removed (delete, purge, resync)",
			  c.deletes },
			{ "mdmesh_processor_refdata_bad_values_total", "refdata values ignored (not a JSON object, bad key)",
			  c.bad_values },
			{ "mdmesh_processor_refdata_dropped_total", "refdata updates ignored (capacity or memory)",
			  c.dropped },
			{ "mdmesh_processor_refdata_watch_errors_total", "refdata KV watch failures (each re-created)",
			  c.watch_errors },
		};

		for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
			mdm_metrics_write_family(w, MDM_METRICS_COUNTER, counters[i].name, counters[i].help);
			mdm_metrics_write_u64(w, NULL, counters[i].v);
		}
	}
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_processor_refdata_instruments",
				 "instruments with reference data now");
	mdm_metrics_write_u64(w, NULL, c.entries);
}

/* The trade feed: executions committed and alerts by rule. */
static void collect_trade(void *ctx, struct mdm_metrics_writer *w)
{
	struct processor_stats *ps = ctx;
	struct mdm_tally_entry top[64];
	size_t n = mdm_tally_top(ps->p.alerts, top, 64);

	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_processor_rule_alerts_total",
				 "alerts (alert targets and alert records) in committed batches, by rule");
	for (size_t i = 0; i < n; i++) {
		const char *l[] = { "rule", top[i].key, NULL };

		mdm_metrics_write_u64(w, l, (uint64_t)top[i].total);
	}
	if (ps->p.executions) {
		mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_processor_executions_total",
					 "executions committed to the executions table (trades, corrections, cancels)");
		mdm_metrics_write_u64(w, NULL, mdm_counter_get(ps->p.executions));
	}
}

/* "trade": what the dashboard's trade-feed panel draws. */
static void json_trade(void *ctx, struct mdm_json *j)
{
	struct processor_stats *ps = ctx;

	mdm_json_obj_begin(j);
	if (ps->p.executions)
		mdm_json_ku64(j, "executions", mdm_counter_get(ps->p.executions));
	mdm_json_key(j, "alerts_by_rule");
	mdm_tally_write_json(ps->p.alerts, j, 64);
	if (ps->p.notional) {
		mdm_json_key(j, "top_traders_notional"); /* 1e-4 currency units, trades (150=F) as committed */
		mdm_tally_write_json(ps->p.notional, j, TOP_TRADERS);
	}
	mdm_json_obj_end(j);
}

static void json_section(void *ctx, struct mdm_json *j)
{
	struct processor_stats *ps = ctx;

	mdm_json_obj_begin(j);
	mdm_json_kstr(j, "instance", ps->instance);
	mdm_json_kstr(j, "stream", ps->stream);
	mdm_json_kstr(j, "consumer", ps->consumer);
	mdm_json_ku64(j, "ts_ns", mdm_real_ns());
	mdm_json_ku64(j, "lag", mdm_counter_get(&ps->lag));
	mdm_json_ku64(j, "dlq_depth", mdm_counter_get(&ps->dlq_depth));
	mdm_json_key(j, "alarms");
	mdm_json_obj_begin(j);
	for (int a = 0; a < ALARM_COUNT; a++) {
		mdm_json_key(j, alarm_names[a]);
		mdm_json_obj_begin(j);
		mdm_json_ku64(j, "threshold", ps->alarm_threshold[a]);
		mdm_json_ku64(j, "value", mdm_counter_get(&ps->alarm_value[a]));
		mdm_json_kbool(j, "active", __atomic_load_n(&ps->alarm_active[a], __ATOMIC_RELAXED));
		mdm_json_obj_end(j);
	}
	mdm_json_obj_end(j);
	mdm_json_key(j, "latency_ns");
	mdm_latency_write_json(ps->lat, j);
	mdm_json_obj_end(j);
}

static int register_worker(struct processor_stats *ps, uint32_t i)
{
	const struct worker_stats *ws = worker_pool_worker_stats(ps->p.pool, i);
	const char *wl = ps->worker_labels[i];
	struct mdm_metrics *r = ps->reg;
	int rc = 0;

#define C(name, help, var, ...)                                                                            \
	if (rc == 0)                                                                                       \
	rc = mdm_metrics_counter(r, "mdmesh_processor_" name, help,                                        \
				 (const char *const[]){ "worker", wl, __VA_ARGS__ }, var)
	C("batches_total", "batches committed (then acked)", &ws->batches, NULL);
	C("messages_total", "messages acked after their batch committed", &ws->messages, NULL);
	C("events_total", "events of committed batches, by verdict", &ws->ok, "verdict", "ok", NULL);
	C("events_total", "events of committed batches, by verdict", &ws->dead_lettered, "verdict", "dead_lettered",
	  NULL);
	C("events_total", "events of committed batches, by verdict", &ws->skipped, "verdict", "skipped", NULL);
	C("decode_errors_total", "payloads that did not decode (dead-lettered)", &ws->decode_errors, NULL);
	C("failed_batches_total", "batches rolled back and naked, by cause", &ws->store_errors, "cause", "store",
	  NULL);
	C("failed_batches_total", "batches rolled back and naked, by cause", &ws->stage_errors, "cause", "stage",
	  NULL);
	C("failed_batches_total", "batches rolled back and naked, by cause", &ws->dlq_errors, "cause", "dlq", NULL);
	C("naks_total", "messages naked with a delay after a failed batch", &ws->naks, NULL);
	C("ack_errors_total", "acks or naks the connection refused (the message is redelivered)", &ws->ack_errors,
	  NULL);
#undef C
	return rc;
}

static int register_all(struct processor_stats *ps)
{
	const struct worker_pool_stats *pst = worker_pool_stats(ps->p.pool);
	const struct dlq_stats *ds = dlq_stats(ps->p.dlq);
	struct mdm_metrics *r = ps->reg;
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < worker_pool_count(ps->p.pool); i++)
		rc = register_worker(ps, i);
#define C(name, help, var, ...) \
	if (rc == 0)            \
	rc = mdm_metrics_counter(r, "mdmesh_processor_" name, help, (const char *const[]){ __VA_ARGS__ }, var)
#define G(name, help, var) \
	if (rc == 0)       \
	rc = mdm_metrics_gauge_u64(r, "mdmesh_processor_" name, help, NULL, var)
	C("fetches_total", "pull requests made", &pst->fetches, NULL);
	C("fetch_errors_total", "pull requests that failed (disconnected, consumer gone)", &pst->fetch_errors, NULL);
	C("fetched_total", "messages fetched (redeliveries included)", &pst->fetched, NULL);
	C("published_total", "async publishes (audit, trades, bars, alerts, rule targets), by outcome",
	  &pst->async_stored, "result", "stored", NULL);
	C("published_total", "async publishes (audit, trades, bars, alerts, rule targets), by outcome",
	  &pst->async_failed, "result", "failed", NULL);
	C("dead_letters_total", "dead letters published to the DLQ stream, by outcome", &ds->stored, "result",
	  "stored", NULL);
	C("dead_letters_total", "dead letters published to the DLQ stream, by outcome", &ds->duplicates, "result",
	  "duplicate", NULL);
	C("dead_letters_total", "dead letters published to the DLQ stream, by outcome", &ds->failed, "result",
	  "failed", NULL);
	C("max_deliver_advisories_total", "MAX_DELIVERIES advisories heard", &ds->advisories, NULL);
	C("max_deliver_dead_letters_total", "messages dead-lettered after max_deliver", &ds->max_deliver, NULL);
	C("advisory_errors_total", "advisories that could not be dead-lettered", &ds->advisory_errors, NULL);
	C("consumer_info_errors_total", "failed consumer/DLQ state reads", &ps->info_errors, NULL);
	G("in_flight", "messages fetched and not yet acked or naked", &pst->in_flight);
	G("consumer_lag", "messages in the stream not yet delivered to the consumer (num_pending)", &ps->lag);
	G("consumer_ack_pending", "messages delivered and awaiting an ack, all processes", &ps->ack_pending);
	G("consumer_redelivered", "messages delivered more than once, pending", &ps->redelivered);
	G("dlq_depth", "messages in the DLQ stream", &ps->dlq_depth);
#undef C
#undef G
	if (rc == 0)
		rc = mdm_metrics_add_collector(r, collect, ps);
	if (rc == 0 && ps->p.enrich)
		rc = mdm_metrics_add_collector(r, collect_refdata, ps);
	if (rc == 0)
		rc = mdm_metrics_add_json_section(r, "processor", json_section, ps);
	if (rc == 0 && ps->p.alerts)
		rc = mdm_metrics_add_collector(r, collect_trade, ps);
	if (rc == 0 && ps->p.alerts)
		rc = mdm_metrics_add_json_section(r, "trade", json_trade, ps);
	return rc;
}

int processor_stats_create(struct processor_stats **out, const struct processor_stats_params *p)
{
	struct processor_stats *ps = mdm_calloc(1, sizeof(*ps));
	int rc = 0;

	*out = NULL;
	if (!ps)
		return mdm_err_set(-ENOMEM, "stats: out of memory");
	ps->p = *p;
	snprintf(ps->instance, sizeof(ps->instance), "%s", p->cfg->instance);
	snprintf(ps->stream, sizeof(ps->stream), "%s", p->stream);
	snprintf(ps->consumer, sizeof(ps->consumer), "%s", p->consumer);
	snprintf(ps->stats_subject, sizeof(ps->stats_subject), "stats.processor.%s", p->cfg->instance);
	for (unsigned i = 0; i < 256; i++)
		snprintf(ps->worker_labels[i], sizeof(ps->worker_labels[i]), "%u", i);
	ps->alarm_threshold[ALARM_DLQ_DEPTH] = p->cfg->alarm_dlq_depth;
	ps->alarm_threshold[ALARM_LAG] = p->cfg->alarm_lag;
	ps->alarm_threshold[ALARM_P99] = p->cfg->alarm_p99_ns;
	rc = mdm_metrics_create(&ps->reg);
	if (rc == 0)
		rc = register_all(ps);
	if (rc != 0)
		rc = mdm_err_set(rc, "stats: %s", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
	if (rc == 0) {
		struct mdm_latency_params lp = { .stage_names = worker_lat_names, .n_stages = WORKER_LAT_COUNT,
						 .hlog_path = p->cfg->latency_hlog,
						 .hlog_comment = "mdmesh-processor stage latency, ns; tags are stages" };

		rc = mdm_latency_create(&ps->lat, &lp);
	}
	if (rc != 0) {
		processor_stats_destroy(ps);
		return rc;
	}
	*out = ps;
	return 0;
}

void processor_stats_destroy(struct processor_stats *ps)
{
	if (!ps)
		return;
	mdm_metrics_destroy(ps->reg);
	mdm_latency_destroy(ps->lat);
	mdm_buf_fini(&ps->scratch);
	mdm_free(ps);
}

struct mdm_metrics *processor_stats_metrics(struct processor_stats *ps)
{
	return ps->reg;
}

int processor_stats_health(void *ctx, struct mdm_buf *reason)
{
	struct processor_stats *ps = ctx;

	if (!mdm_bus_connected(ps->p.bus)) {
		mdm_buf_puts(reason, "nats: disconnected");
		return 1;
	}
	for (uint32_t i = 0; i < worker_pool_count(ps->p.pool); i++) {
		uint64_t f = mdm_counter_get(&worker_pool_worker_stats(ps->p.pool, i)->consecutive_failures);

		if (f >= UNHEALTHY_FAILURES) {
			mdm_buf_printf(reason, "worker %u: %" PRIu64 " batches failed in a row (store or DLQ down?)", i, f);
			return 1;
		}
	}
	return 0;
}

/* Publish an Alert on alert.system.<alarm> (stream ALERTS). Asynchronously:
 * alarms go off when things go wrong, e.g. while a cluster elects a new ALERTS
 * leader, and the bus resends through that where one synchronous try would
 * fail; the outcome reaches the pool's ack handler (counted, a failure logged). */
static void alarm_raise(struct processor_stats *ps, int a, uint64_t value)
{
	Mdmesh__V1__Alert al = MDMESH__V1__ALERT__INIT;
	char subject[96], msg_id[160], message[320];
	uint64_t now = mdm_real_ns();
	size_t len;
	int rc;

	snprintf(subject, sizeof(subject), "alert.system.%s", alarm_names[a]);
	snprintf(msg_id, sizeof(msg_id), "alert.system.%s.%s.%" PRIu64, alarm_names[a], ps->instance, now);
	snprintf(message, sizeof(message), "%s %s: %" PRIu64 " > %" PRIu64 " on %s.%s", ps->instance, alarm_names[a],
		 value, ps->alarm_threshold[a], ps->stream, ps->consumer);
	al.rule = (char *)alarm_names[a];
	al.symbol = (char *)"";
	al.severity = (char *)"warning";
	al.message = message;
	al.ts_ns = now;
	al.value = value > INT64_MAX ? INT64_MAX : (int64_t)value;
	al.threshold = (int64_t)ps->alarm_threshold[a];
	len = mdmesh__v1__alert__get_packed_size(&al);
	mdm_buf_reset(&ps->scratch);
	if (mdm_buf_reserve(&ps->scratch, len) != 0)
		return;
	mdmesh__v1__alert__pack(&al, (uint8_t *)ps->scratch.data);
	rc = mdm_bus_publish_async(ps->p.bus, subject, msg_id, ALERT_CT, ps->scratch.data, len, 0);
	mdm_counter_add(&ps->alarm_raised[a], 1);
	mdm_log_warn("alarm %s (%s)%s%s", alarm_names[a], message, rc < 0 ? "; alert not published: " : "",
		     rc < 0 ? mdm_err_last() : "");
}

static void alarms_check(struct processor_stats *ps)
{
	for (int a = 0; a < ALARM_COUNT; a++) {
		uint64_t v = mdm_counter_get(&ps->alarm_value[a]), thr = ps->alarm_threshold[a];
		bool over = thr && v > thr;

		if (over && !ps->alarm_active[a])
			alarm_raise(ps, a, v);
		else if (!over && ps->alarm_active[a])
			mdm_log_info("alarm %s cleared (%" PRIu64 " <= %" PRIu64 ")", alarm_names[a], v, thr);
		__atomic_store_n(&ps->alarm_active[a], over, __ATOMIC_RELAXED);
	}
}

void processor_stats_tick(struct processor_stats *ps)
{
	double now_s = (double)mdm_real_ns() / 1e9;
	struct mdm_bus_consumer_info ci;
	struct mdm_bus_stream_info si;
	struct mdm_json j;

	worker_pool_latency_take(ps->p.pool, mdm_latency_interval_begin(ps->lat));
	mdm_latency_interval_end(ps->lat, now_s);
	if (mdm_bus_consumer_info(ps->p.bus, ps->stream, ps->consumer, &ci) == 0) {
		mdm_counter_set(&ps->lag, ci.num_pending);
		mdm_counter_set(&ps->ack_pending, ci.num_ack_pending);
		mdm_counter_set(&ps->redelivered, ci.num_redelivered);
	} else {
		mdm_counter_add(&ps->info_errors, 1);
	}
	if (mdm_bus_stream_info(ps->p.bus, ps->p.cfg->dlq_stream, &si) == 0)
		mdm_counter_set(&ps->dlq_depth, si.msgs);
	else
		mdm_counter_add(&ps->info_errors, 1);
	mdm_counter_set(&ps->alarm_value[ALARM_DLQ_DEPTH], mdm_counter_get(&ps->dlq_depth));
	mdm_counter_set(&ps->alarm_value[ALARM_LAG], mdm_counter_get(&ps->lag));
	/* p99 only counts in an interval that persisted something. */
	mdm_counter_set(&ps->alarm_value[ALARM_P99],
	   mdm_latency_interval_count(ps->lat, WORKER_LAT_E2E)
		   ? (uint64_t)mdm_latency_quantile_ns(ps->lat, WORKER_LAT_E2E, MDM_LATENCY_Q_P99)
		   : 0);
	alarms_check(ps);
	mdm_buf_reset(&ps->scratch);
	mdm_json_init(&j, &ps->scratch);
	if (mdm_metrics_render_json(ps->reg, &j) == 0)
		mdm_bus_publish(ps->p.bus, ps->stats_subject, ps->scratch.data, ps->scratch.len);
}

uint64_t processor_stats_alerts(const struct processor_stats *ps)
{
	uint64_t n = 0;

	for (int a = 0; a < ALARM_COUNT; a++)
		n += mdm_counter_get(&ps->alarm_raised[a]);
	return n;
}

void processor_stats_summary(struct processor_stats *ps, FILE *f)
{
	const struct worker_pool_stats *pst = worker_pool_stats(ps->p.pool);
	const struct dlq_stats *ds = dlq_stats(ps->p.dlq);
	uint64_t batches = 0, msgs = 0, ok = 0, dead = 0, skipped = 0, failed = 0, naks = 0;

	for (uint32_t i = 0; i < worker_pool_count(ps->p.pool); i++) {
		const struct worker_stats *ws = worker_pool_worker_stats(ps->p.pool, i);

		batches += mdm_counter_get(&ws->batches);
		msgs += mdm_counter_get(&ws->messages);
		ok += mdm_counter_get(&ws->ok);
		dead += mdm_counter_get(&ws->dead_lettered);
		skipped += mdm_counter_get(&ws->skipped);
		failed += mdm_counter_get(&ws->failed_batches);
		naks += mdm_counter_get(&ws->naks);
	}
	fprintf(f, "mdmesh-processor %s summary (%s.%s)\n", ps->instance, ps->stream, ps->consumer);
	fprintf(f, "  fetched    %" PRIu64 " messages in %" PRIu64 " fetches (%" PRIu64 " errors), %" PRIu64
		   " in flight\n", mdm_counter_get(&pst->fetched), mdm_counter_get(&pst->fetches), mdm_counter_get(&pst->fetch_errors), mdm_counter_get(&pst->in_flight));
	fprintf(f, "  committed  %" PRIu64 " batches, %" PRIu64 " messages acked; events ok %" PRIu64
		   ", dead-lettered %" PRIu64 ", skipped %" PRIu64 "\n", batches, msgs, ok, dead, skipped);
	fprintf(f, "  failed     %" PRIu64 " batches, %" PRIu64 " messages naked\n", failed, naks);
	fprintf(f, "  dlq        stored %" PRIu64 ", duplicate %" PRIu64 ", failed %" PRIu64 "; max_deliver %" PRIu64
		   " of %" PRIu64 " advisories\n", mdm_counter_get(&ds->stored), mdm_counter_get(&ds->duplicates), mdm_counter_get(&ds->failed),
		mdm_counter_get(&ds->max_deliver), mdm_counter_get(&ds->advisories));
	fprintf(f, "  published  %" PRIu64 " stored, %" PRIu64 " failed; alerts raised %" PRIu64 "\n",
		mdm_counter_get(&pst->async_stored), mdm_counter_get(&pst->async_failed), processor_stats_alerts(ps));
	if (ps->p.alerts) {
		struct mdm_tally_entry top[64];
		size_t n = mdm_tally_top(ps->p.alerts, top, 64);

		fprintf(f, "  rules      alerts committed by rule:%s", n ? "" : " none");
		for (size_t i = 0; i < n; i++)
			fprintf(f, " %s %" PRId64 "%s", top[i].key, top[i].total, i + 1 < n ? "," : "");
		fputc('\n', f);
	}
	if (ps->p.executions)
		fprintf(f, "  trade      %" PRIu64 " executions committed\n", mdm_counter_get(ps->p.executions));
	mdm_latency_print(ps->lat, f);
}
