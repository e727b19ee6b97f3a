/* Processor configuration schema. Defaults are the single-box set-up: a local
 * nats-server, SQLite at var/mdmesh.db, HTTP on 127.0.0.1:9102. */
#include "processor_cfg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mdm_err.h"

#define F(k, t, field, d, lo, hi, ch, h) { k, t, offsetof(struct processor_cfg, field), d, lo, hi, ch, h }

static const char *const pipelines[] = { "auto", "market", "executions", NULL };

const struct mdm_cfg_field processor_cfg_schema[] = {
	F("instance", MDM_CFG_STR, instance, "processor-1", 0, 0, NULL,
	  "name in logs, metrics, audit records and the stats subject stats.processor.<instance>"),
	F("log_level", MDM_CFG_STR, log_level, "info", 0, 0, NULL, "error, warn, info or debug"),

	MDM_NATS_CFG_SCHEMA(struct processor_cfg, nats),

	F("stream.name", MDM_CFG_STR, stream_name, "MD", 0, 0, NULL,
	  "stream to consume: MD (one MarketEvent per message), MDB (EventBatch messages on mdb.>) or EXEC (executions, one process of its own)"),
	F("pipeline", MDM_CFG_ENUM, pipeline, "auto", 0, 0, pipelines,
	  "market (MarketEvents -> trades, bars), executions (Executions from mdmesh-fix -> executions table), or auto: executions when stream.name is EXEC"),
	F("consumer.durable", MDM_CFG_STR, consumer_durable, "processor", 0, 0, NULL,
	  "durable pull consumer shared by every processor process (created or updated at start)"),
	F("consumer.filter_subject", MDM_CFG_STR, consumer_filter, "", 0, 0, NULL,
	  "only these subjects, e.g. md.itch.*.AAPL; empty = the whole stream"),
	F("consumer.ack_wait", MDM_CFG_DURATION, consumer_ack_wait_ns, "30s", 1e9, 3600e9, NULL,
	  "a delivered message not acked by then is redelivered (longer than the slowest batch)"),
	F("consumer.max_ack_pending", MDM_CFG_UINT, consumer_max_ack_pending, "8192", 1, 1e7, NULL,
	  "un-acked messages per consumer; at least fetch.batch + workers x queue_depth per process"),
	F("consumer.max_deliver", MDM_CFG_UINT, consumer_max_deliver, "5", 2, 1e6, NULL,
	  "deliveries before the server gives up; the message is then dead-lettered (max_deliver)"),
	F("consumer.backoff", MDM_CFG_STRLIST, consumer_backoff, "", 0, 0, NULL,
	  "server redelivery delays after ack timeouts, e.g. '30s, 1m, 5m' (replaces ack_wait; empty = none)"),
	F("consumer.nak_delays", MDM_CFG_STRLIST, consumer_nak_delays, "1s, 5s, 15s", 0, 0, NULL,
	  "redelivery delay after a failed batch, by delivery count (the last one repeats)"),

	F("workers", MDM_CFG_UINT, workers, "2", 1, 256, NULL,
	  "worker threads, each with its own store connection; symbols are partitioned over them"),
	F("fetch.batch", MDM_CFG_UINT, fetch_batch, "256", 1, 65536, NULL,
	  "messages per pull request, and the largest batch (transaction) a worker commits"),
	F("fetch.timeout", MDM_CFG_DURATION, fetch_timeout_ns, "500ms", 1e6, 60e9, NULL,
	  "longest wait of one pull request"),
	F("fetch.queue_depth", MDM_CFG_UINT, queue_depth, "1024", 1, 1e6, NULL,
	  "fetched messages queued per worker before the fetcher waits"),

	F("store.url", MDM_CFG_STR, store_url, "var/mdmesh.db", 0, 0, NULL,
	  "SQLite file, or postgresql://user@host/db for PostgreSQL"),
	F("rules.file", MDM_CFG_STR, rules_file, "builtin", 0, 0, NULL,
	  "routing rules: a file (reloaded on SIGHUP; a bad file keeps the old rules), builtin (the shipped configs/rules.yaml, compiled in) or \"\" (none)"),
	F("refdata.bucket", MDM_CFG_STR, refdata_bucket, "refdata", 0, 0, NULL,
	  "KV bucket of reference data, keys instrument.<SYMBOL> (and trader.<ID> for executions)"),

	F("dlq.stream", MDM_CFG_STR, dlq_stream, "DLQ", 0, 0, NULL,
	  "stream of dead letters, subject dlq.<stream>.<consumer> (ensured at start)"),
	F("dlq.subjects", MDM_CFG_STRLIST, dlq_subjects, "dlq.>", 0, 0, NULL,
	  "subjects the DLQ stream stores (must cover dlq.<stream>.<consumer>)"),
	F("dlq.duplicate_window", MDM_CFG_DURATION, dlq_duplicate_window_ns, "10m", 1e9, 86400e9, NULL,
	  "a message is dead-lettered once within this window (Nats-Msg-Id dlq.<stream>.<seq>)"),
	F("audit.stream", MDM_CFG_STR, audit_stream, "AUDIT", 0, 0, NULL, "stream of audit records (ensured at start)"),
	F("audit.subjects", MDM_CFG_STRLIST, audit_subjects, "audit.>", 0, 0, NULL, "subjects the AUDIT stream stores"),
	F("audit.subject", MDM_CFG_STR, audit_subject, "audit.processor", 0, 0, NULL,
	  "one AuditRecord per committed batch is published here"),
	F("alerts.stream", MDM_CFG_STR, alerts_stream, "ALERTS", 0, 0, NULL,
	  "stream of alerts (ensured at start); alarms publish on alert.system.<alarm>"),
	F("alerts.subjects", MDM_CFG_STRLIST, alerts_subjects, "alert.>", 0, 0, NULL,
	  "subjects the ALERTS stream stores (must cover alert.system.* and the rules' alert subjects)"),

	F("derived.stream", MDM_CFG_STR, derived_stream, "DERIVED", 0, 0, NULL,
	  "stream of derived records (ensured at start when derived.publish is on)"),
	F("derived.subjects", MDM_CFG_STRLIST, derived_subjects, "trade.>, bar.>", 0, 0, NULL,
	  "subjects the DERIVED stream stores"),
	F("derived.publish", MDM_CFG_BOOL, derived_publish, "true", 0, 0, NULL,
	  "publish Trade on trade.<symbol> and Bar on bar.1m.<symbol> after each commit"),
	F("streams.replicas", MDM_CFG_UINT, streams_replicas, "1", 1, 5, NULL,
	  "replicas of the DLQ, AUDIT, ALERTS, DERIVED streams and the refdata bucket (set at start); 3 on a cluster"),
	F("derive.session_date", MDM_CFG_UINT, derive_session_date, "0", 0, 99991231, NULL,
	  "YYYYMMDD for events whose header has no session_date; 0 = their times count from the epoch"),

	F("validate.min_price", MDM_CFG_UINT, validate_min_price, "1", 1, 4294967295.0, NULL,
	  "lowest price (1e-4 units) accepted where an event needs one; lower is dead-lettered"),
	F("validate.max_price", MDM_CFG_UINT, validate_max_price, "0", 0, 4294967295.0, NULL,
	  "highest price accepted; 0 = no upper bound"),
	F("validate.max_shares", MDM_CFG_UINT, validate_max_shares, "1000000000", 1, 1e18, NULL,
	  "largest share count accepted; 0 shares is always dead-lettered where shares are required"),
	F("validate.require_header", MDM_CFG_BOOL, validate_require_header, "true", 0, 0, NULL,
	  "dead-letter events without feed, session or sequence (they cannot be stored idempotently)"),

	F("http.listen", MDM_CFG_STR, http_listen, "127.0.0.1:9102", 0, 0, NULL,
	  "/metrics /stats.json /healthz; empty = off"),
	F("http.token", MDM_CFG_STR, http_token, "", 0, 0, NULL, "bearer token required by HTTP; empty = none"),
	F("stats.interval", MDM_CFG_DURATION, stats_interval_ns, "1s", 100e6, 3600e9, NULL,
	  "live stats period (stats.processor.<instance>, alarms, latency log)"),
	F("latency.hlog", MDM_CFG_STR, latency_hlog, "", 0, 0, NULL,
	  "write an HdrHistogram interval log of every stage here"),

	F("alarms.dlq_depth", MDM_CFG_UINT, alarm_dlq_depth, "1000", 0, 1e12, NULL,
	  "alert alert.system.dlq_depth when the DLQ stream holds more messages; 0 = off"),
	F("alarms.lag", MDM_CFG_UINT, alarm_lag, "1000000", 0, 1e12, NULL,
	  "alert alert.system.lag when the consumer has more undelivered messages; 0 = off"),
	F("alarms.p99", MDM_CFG_DURATION, alarm_p99_ns, "1s", 0, 3600e9, NULL,
	  "alert alert.system.p99 when wire -> persisted p99 of an interval is above; 0 = off"),

	F("exit_when_idle", MDM_CFG_DURATION, exit_when_idle_ns, "0", 0, 86400e9, NULL,
	  "exit 0 once nothing new arrived for this long and everything fetched is committed and acked; 0 = never"),
};

const size_t processor_cfg_schema_len = sizeof(processor_cfg_schema) / sizeof(processor_cfg_schema[0]);

int processor_cfg_load(struct processor_cfg *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	if (path)
		return mdm_cfg_load_file(processor_cfg_schema, processor_cfg_schema_len, c, path);
	return mdm_cfg_load_string(processor_cfg_schema, processor_cfg_schema_len, c, "", 0, "<defaults>");
}

static bool has(const char *s)
{
	return s && *s;
}

/* Parse a list of durations with the config's own duration syntax: a
 * one-row schema makes mdm_cfg_set do the work, so units and errors match. */
static int parse_delays(const struct mdm_cfg_strlist *l, const char *key, uint64_t *out, size_t *n)
{
	struct one {
		uint64_t ns;
	} v;
	const struct mdm_cfg_field row[] = {
		{ key, MDM_CFG_DURATION, offsetof(struct one, ns), "0", 1e6, 86400e9, NULL, "" },
	};

	*n = 0;
	if (l->n > PROCESSOR_CFG_MAX_DELAYS)
		return mdm_err_set(-EINVAL, "%s: at most %d entries", key, PROCESSOR_CFG_MAX_DELAYS);
	for (size_t i = 0; i < l->n; i++) {
		int rc = mdm_cfg_set(row, 1, &v, key, l->v[i], key);

		if (rc != 0)
			return rc;
		out[(*n)++] = v.ns;
	}
	return 0;
}

static bool token_ok(const char *s)
{
	return has(s) && !strpbrk(s, ".*> \t");
}

int processor_cfg_validate(struct processor_cfg *c)
{
	int rc;

	if (!has(c->nats.url) || !has(c->store_url))
		return mdm_err_set(-EINVAL, "nats.url and store.url must not be empty");
	if (!token_ok(c->stream_name) || !token_ok(c->consumer_durable) || !token_ok(c->dlq_stream) ||
	    !token_ok(c->audit_stream) || !token_ok(c->alerts_stream) || !token_ok(c->derived_stream) ||
	    !token_ok(c->instance))
		return mdm_err_set(-EINVAL, "instance, stream.name, consumer.durable, dlq.stream, audit.stream, "
					    "alerts.stream and derived.stream must be single subject tokens (no '.', "
					    "'*', '>', blanks)");
	if (c->derived_publish && c->derived_subjects.n == 0)
		return mdm_err_set(-EINVAL, "derived.subjects must not be empty when derived.publish is on");
	if (!has(c->audit_subject) || c->dlq_subjects.n == 0 || c->audit_subjects.n == 0 || c->alerts_subjects.n == 0)
		return mdm_err_set(-EINVAL, "audit.subject, dlq.subjects, audit.subjects and alerts.subjects must not "
					    "be empty");
	if (c->validate_max_price && c->validate_max_price < c->validate_min_price)
		return mdm_err_set(-EINVAL, "validate.max_price %llu is below validate.min_price %llu",
				   (unsigned long long)c->validate_max_price, (unsigned long long)c->validate_min_price);
	if ((rc = parse_delays(&c->consumer_backoff, "consumer.backoff", c->backoff_ns, &c->n_backoff)) != 0)
		return rc;
	if ((rc = parse_delays(&c->consumer_nak_delays, "consumer.nak_delays", c->nak_delay_ns, &c->n_nak_delays)) != 0)
		return rc;
	if (c->n_backoff && c->consumer_max_deliver <= c->n_backoff)
		return mdm_err_set(-EINVAL, "consumer.max_deliver (%llu) must exceed the number of consumer.backoff "
					    "entries (%zu)", (unsigned long long)c->consumer_max_deliver, c->n_backoff);
	/* The fetcher keeps at most one batch plus every worker queue in flight;
	 * a smaller MaxAckPending makes every fetch wait its full timeout
	 * (JETSTREAM_FACTS section 4). */
	if (c->consumer_max_ack_pending < c->fetch_batch)
		return mdm_err_set(-EINVAL, "consumer.max_ack_pending (%llu) must be >= fetch.batch (%llu)",
				   (unsigned long long)c->consumer_max_ack_pending, (unsigned long long)c->fetch_batch);
	return 0;
}

void processor_cfg_free(struct processor_cfg *c)
{
	mdm_cfg_free(processor_cfg_schema, processor_cfg_schema_len, c);
}

bool processor_cfg_executions(const struct processor_cfg *c)
{
	return c->pipeline == PROCESSOR_PIPELINE_EXECUTIONS ||
	       (c->pipeline == PROCESSOR_PIPELINE_AUTO && c->stream_name && strcmp(c->stream_name, "EXEC") == 0);
}
