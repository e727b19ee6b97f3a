/* The processor's configuration: one struct, one schema table (the single
 * source of keys, defaults, bounds and help text). configs/processor.yaml is
 * this table printed (`mdmesh-processor --print-config`). */
#ifndef PROCESSOR_CFG_H
#define PROCESSOR_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_bus_cfg.h"
#include "mdm_cfg.h"

#define PROCESSOR_CFG_MAX_DELAYS 16 /* entries of consumer.backoff / consumer.nak_delays */

struct processor_cfg {
	char *instance;
	char *log_level;

	struct mdm_nats_cfg nats;

	char *stream_name;               /* MD (or MDB in batch mode) */
	int pipeline;                    /* enum processor_pipeline */
	char *consumer_durable;
	char *consumer_filter;           /* "" = every subject of the stream */
	uint64_t consumer_ack_wait_ns;
	uint64_t consumer_max_ack_pending;
	uint64_t consumer_max_deliver;
	struct mdm_cfg_strlist consumer_backoff;   /* durations, server-side redelivery after ack timeouts */
	struct mdm_cfg_strlist consumer_nak_delays; /* durations, our naks after a failed batch */

	uint64_t workers;
	uint64_t fetch_batch;
	uint64_t fetch_timeout_ns;
	uint64_t queue_depth;            /* messages queued per worker */

	char *store_url;
	char *rules_file;
	char *refdata_bucket;

	char *dlq_stream;
	struct mdm_cfg_strlist dlq_subjects;
	uint64_t dlq_duplicate_window_ns;
	char *audit_stream;
	struct mdm_cfg_strlist audit_subjects;
	char *audit_subject;
	char *alerts_stream;
	struct mdm_cfg_strlist alerts_subjects;
	char *derived_stream;
	struct mdm_cfg_strlist derived_subjects;
	bool derived_publish;
	uint64_t streams_replicas;       /* of DLQ, AUDIT, ALERTS, DERIVED and the refdata bucket */
	uint64_t derive_session_date;    /* YYYYMMDD for events without one; 0 = epoch-relative */

	uint64_t validate_min_price;
	uint64_t validate_max_price;     /* 0 = no upper bound */
	uint64_t validate_max_shares;
	bool validate_require_header;

	char *http_listen;
	char *http_token;
	uint64_t stats_interval_ns;
	char *latency_hlog;

	uint64_t alarm_dlq_depth;        /* 0 = off */
	uint64_t alarm_lag;              /* 0 = off */
	uint64_t alarm_p99_ns;           /* wire -> persisted p99; 0 = off */

	uint64_t exit_when_idle_ns;      /* 0 = run until stopped */

	/* Parsed from the lists above by processor_cfg_validate(). */
	uint64_t backoff_ns[PROCESSOR_CFG_MAX_DELAYS];
	size_t n_backoff;
	uint64_t nak_delay_ns[PROCESSOR_CFG_MAX_DELAYS];
	size_t n_nak_delays;
};

enum processor_pipeline { PROCESSOR_PIPELINE_AUTO = 0, PROCESSOR_PIPELINE_MARKET, PROCESSOR_PIPELINE_EXECUTIONS };

/* Whether this process runs the executions pipeline (stage_exec.c). */
bool processor_cfg_executions(const struct processor_cfg *c);

extern const struct mdm_cfg_field processor_cfg_schema[];
extern const size_t processor_cfg_schema_len;

/* Load defaults, then `path` (NULL = none), then MDM_* environment overrides.
 * 0 or negative errno with "file:line: key: reason" in mdm_err_last(). */
int processor_cfg_load(struct processor_cfg *c, const char *path);

/* Cross-field checks the schema cannot express, and parsing of the delay
 * lists into backoff_ns / nak_delay_ns. 0 or -EINVAL with the key and the
 * reason in mdm_err_last(). */
int processor_cfg_validate(struct processor_cfg *c);

void processor_cfg_free(struct processor_cfg *c);

#endif
