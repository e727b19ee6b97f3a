/* The collector's configuration: one struct, one schema table (the single
 * source of keys, defaults, bounds and help text). configs/collector.yaml is
 * this table printed (`mdmesh-collector --print-config`). */
#ifndef COLLECTOR_CFG_H
#define COLLECTOR_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_bus_cfg.h"
#include "mdm_cfg.h"

enum collector_full_policy { COLLECTOR_FULL_BLOCK = 0, COLLECTOR_FULL_DROP = 1 };
enum collector_publish_mode { COLLECTOR_PUBLISH_EVENT = 0, COLLECTOR_PUBLISH_BATCH = 1 };
enum collector_storage { COLLECTOR_STORAGE_FILE = 0, COLLECTOR_STORAGE_MEMORY = 1 };
enum collector_latency_origin { COLLECTOR_ORIGIN_RX = 0, COLLECTOR_ORIGIN_ITCH = 1 };
enum collector_resume { COLLECTOR_RESUME_AUTO = 0, COLLECTOR_RESUME_ON = 1, COLLECTOR_RESUME_OFF = 2 };
enum collector_views_publish { COLLECTOR_VIEWS_CORE = 0, COLLECTOR_VIEWS_JETSTREAM = 1 };

struct collector_cfg {
	char *instance;
	char *log_level;

	char *feed_name;
	char *feed_dst;            /* line A "ADDR:PORT", or "any" */
	char *feed_dst_b;          /* line B, "" = single line */
	uint64_t feed_session_date; /* YYYYMMDD, 0 = unknown */
	uint64_t feed_book_capacity;
	uint64_t feed_gap_capacity;
	uint64_t feed_gap_pending_ns;
	struct mdm_cfg_strlist feed_rerequest; /* re-request servers "ADDR:PORT" */
	uint64_t feed_rerequest_rate;          /* requests/s */
	uint64_t feed_rerequest_burst;
	uint64_t feed_rerequest_max_count;
	uint64_t feed_rerequest_timeout_ns;
	uint64_t feed_rerequest_retries;
	int feed_resume;                       /* enum collector_resume */
	uint64_t feed_resume_window;
	uint64_t feed_resume_timeout_ns;

	char *input_pcap;
	bool input_pcap_loop;
	char *input_iface;
	char *input_vdev;
	char *input_pci;
	char *input_soup;          /* SoupBinTCP server HOST:PORT: the feed over TCP, no DPDK port */
	char *input_soup_user;
	char *input_soup_password;
	uint64_t input_rx_desc;
	uint64_t input_mbufs;
	uint64_t input_af_packet_frames;
	bool input_exit_on_eof;

	bool eal_no_huge;
	uint64_t eal_mem_mb;
	char *eal_lcores;
	char *eal_log_level;
	struct mdm_cfg_strlist eal_args;

	uint64_t poll_idle_spin;
	uint64_t poll_idle_sleep_ns;

	uint64_t ring_size;
	int ring_full_policy;      /* enum collector_full_policy */

	struct mdm_nats_cfg nats;

	char *stream_name;
	struct mdm_cfg_strlist stream_subjects;
	char *stream_batch_name;   /* publish.mode batch: stream of EventBatch messages */
	struct mdm_cfg_strlist stream_batch_subjects;
	int stream_storage;        /* enum collector_storage */
	uint64_t stream_max_age_ns;
	uint64_t stream_max_bytes;
	uint64_t stream_duplicate_window_ns;
	uint64_t stream_replicas;
	char *subject_prefix;
	char *alerts_stream;       /* permanent gaps: alert.system.gap */
	struct mdm_cfg_strlist alerts_subjects;

	int publish_mode;          /* enum collector_publish_mode */
	uint64_t publish_max_pending;
	uint64_t publish_window_min;
	int publish_flush;         /* enum mdm_nats_flush */
	uint64_t publish_ack_timeout_ns;
	uint64_t publish_max_retries;
	uint64_t publish_drain_timeout_ns;
	uint64_t publish_batch_max_events;
	uint64_t publish_batch_max_delay_ns;
	uint64_t publish_partitions;

	bool views_enabled;        /* market views (views.h, collector_views.h) */
	uint64_t views_depth_levels;
	uint64_t views_depth_interval_ns;
	char *views_bbo_stream;
	char *views_depth_stream;
	uint64_t views_history;
	int views_storage;         /* enum collector_storage */
	uint64_t recovery_checkpoint_interval_ns; /* 0 = off */
	char *recovery_bucket;
	uint64_t recovery_replicas;
	bool recovery_warm_start;
	uint64_t recovery_replay_timeout_ns;
	uint64_t recovery_drain_timeout_ns;
	int views_publish;         /* enum collector_views_publish */
	char *http_listen;
	char *http_token;
	uint64_t stats_interval_ns;
	char *latency_hlog;
	int latency_origin;        /* enum collector_latency_origin */
};

extern const struct mdm_cfg_field collector_cfg_schema[];
extern const size_t collector_cfg_schema_len;

/* Load defaults, then `path` (NULL = none), then MDM_* environment overrides.
 * 0 or negative errno with "file:line: key: reason" in mdm_err_last(). */
int collector_cfg_load(struct collector_cfg *c, const char *path);

/* Cross-field checks the schema cannot express (one input source, line B
 * needs line A, ...). 0 or -EINVAL with the reason in mdm_err_last(). */
int collector_cfg_validate(const struct collector_cfg *c);

void collector_cfg_free(struct collector_cfg *c);

#endif
