/* mdmesh-fix configuration: one struct, one schema table (keys, defaults,
 * bounds, help). configs/fix.yaml is this table printed
 * (`mdmesh-fix --print-config`). */
#ifndef FIX_CFG_H
#define FIX_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fix_exec.h"
#include "mdm_bus_cfg.h"
#include "mdm_cfg.h"

enum fix_storage { FIX_STORAGE_FILE = 0, FIX_STORAGE_MEMORY = 1 };

struct fix_cfg {
	char *instance;
	char *log_level;

	char *session_name;        /* <session> of subjects and Msg-Ids; the state file's name */
	char *begin_string;        /* FIX.4.4 or FIX.4.2 */
	char *sender, *target;     /* CompIDs: ours, theirs */
	char *connect;             /* HOST:PORT: we are the initiator */
	char *listen;              /* ADDR:PORT: we are the acceptor */
	uint64_t heartbeat_ns;
	bool reset_on_logon;
	uint64_t max_skew_ns;
	uint64_t max_message;      /* bytes */
	uint64_t reconnect_ns;
	uint64_t logon_timeout_ns;
	uint64_t logout_timeout_ns;
	char *state_dir;
	uint64_t state_sync_ns;
	struct mdm_cfg_strlist trader_from;

	struct mdm_nats_cfg nats;
	char *stream_name;
	struct mdm_cfg_strlist stream_subjects;
	char *subject_prefix;
	int stream_storage;        /* enum fix_storage */
	uint64_t stream_max_age_ns;
	uint64_t stream_duplicate_window_ns;
	uint64_t stream_replicas;

	uint64_t publish_window;
	uint64_t publish_max_pending;
	uint64_t publish_ack_timeout_ns;
	uint64_t publish_max_retries;
	uint64_t publish_timeout_ns;
	uint64_t publish_drain_timeout_ns;

	char *http_listen;
	char *http_token;
	uint64_t stats_interval_ns;
	char *latency_hlog;
};

extern const struct mdm_cfg_field fix_cfg_schema[];
extern const size_t fix_cfg_schema_len;

/* Defaults, then the file (NULL: none), then MDM_* environment. 0 or as
 * mdm_cfg_load_file. */
int fix_cfg_load(struct fix_cfg *c, const char *path);

/* Cross-key checks, and trader.from parsed into from[] (*n_from entries).
 * 0 or -EINVAL with the key named. */
int fix_cfg_validate(const struct fix_cfg *c, struct fix_trader_from *from, size_t *n_from);

void fix_cfg_free(struct fix_cfg *c);

#endif
