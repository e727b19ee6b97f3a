/* mdmesh-fix configuration schema. Defaults: a local nats-server, FIX 4.4,
 * numbers kept in ./fix-state. */
#include "fix_cfg.h"

#include <errno.h>
#include <string.h>

#include "mdm_err.h"

#define F(k, t, field, d, lo, hi, ch, h) { k, t, offsetof(struct fix_cfg, field), d, lo, hi, ch, h }

static const char *const storages[] = { "file", "memory", NULL };

const struct mdm_cfg_field fix_cfg_schema[] = {
	F("instance", MDM_CFG_STR, instance, "fix-1", 0, 0, NULL,
	  "name in logs, metrics and the stats subject stats.fix.<instance>"),
	F("log_level", MDM_CFG_STR, log_level, "info", 0, 0, NULL, "error, warn, info or debug"),

	F("session.name", MDM_CFG_STR, session_name, "dropcopy", 0, 0, NULL,
	  "<session> in subjects exec.<session>.<trader>.<symbol> and Msg-Ids fix.<session>.<exec_id>; "
	  "also the state file <state_dir>/<name>.seq (--session)"),
	F("session.begin_string", MDM_CFG_STR, begin_string, "FIX.4.4", 0, 0, NULL, "FIX.4.4 or FIX.4.2"),
	F("session.sender", MDM_CFG_STR, sender, "", 0, 0, NULL, "our SenderCompID (--sender)"),
	F("session.target", MDM_CFG_STR, target, "", 0, 0, NULL, "the counterparty's CompID (--target)"),
	F("session.connect", MDM_CFG_STR, connect, "", 0, 0, NULL,
	  "HOST:PORT of the counterparty: we are the initiator and reconnect when the line drops (--connect)"),
	F("session.listen", MDM_CFG_STR, listen, "", 0, 0, NULL,
	  "ADDR:PORT to accept the counterparty on: we are the acceptor, one connection at a time (--listen)"),
	F("session.heartbeat", MDM_CFG_DURATION, heartbeat_ns, "30s", 1e9, 600e9, NULL,
	  "HeartBtInt we ask for as initiator (whole seconds); an acceptor takes the initiator's"),
	F("session.reset_on_logon", MDM_CFG_BOOL, reset_on_logon, "false", 0, 0, NULL,
	  "initiator: ask for ResetSeqNumFlag (141=Y) on the first Logon, both numbers back to 1"),
	F("session.max_skew", MDM_CFG_DURATION, max_skew_ns, "120s", 0, 86400e9, NULL,
	  "SendingTime further than this from our clock: Reject + Logout; 0 = no check"),
	F("session.max_message", MDM_CFG_SIZE, max_message, "64KiB", 512, 16777216, NULL,
	  "longest FIX message accepted; longer ones are skipped and counted (oversized)"),
	F("session.reconnect_interval", MDM_CFG_DURATION, reconnect_ns, "1s", 10e6, 600e9, NULL,
	  "initiator: wait between connection attempts"),
	F("session.logon_timeout", MDM_CFG_DURATION, logon_timeout_ns, "10s", 100e6, 600e9, NULL,
	  "no Logon (answer) within this after connecting: disconnect"),
	F("session.logout_timeout", MDM_CFG_DURATION, logout_timeout_ns, "5s", 100e6, 600e9, NULL,
	  "our Logout unanswered within this: disconnect"),
	F("session.state_dir", MDM_CFG_STR, state_dir, "fix-state", 0, 0, NULL,
	  "directory of the fsync'd sequence-number file (--state-dir); created if missing"),
	F("session.state_sync", MDM_CFG_DURATION, state_sync_ns, "50ms", 1e6, 60e9, NULL,
	  "how often the processed inbound number (acked Executions) is written; a crash re-requests at most "
	  "this much more, which the stream's duplicate window absorbs"),
	F("trader.from", MDM_CFG_STRLIST, trader_from, "party:12, party:11, sender_sub_id, account", 0, 0, NULL,
	  "where the trader comes from, first present wins: party:<PartyRole> (453 group, 12 = executing "
	  "trader), sender_sub_id (50) or account (1)"),

	MDM_NATS_CFG_SCHEMA(struct fix_cfg, nats),

	F("stream.name", MDM_CFG_STR, stream_name, "EXEC", 0, 0, NULL, "JetStream stream for executions"),
	F("stream.subjects", MDM_CFG_STRLIST, stream_subjects, "exec.>", 0, 0, NULL, "subjects it stores"),
	F("stream.subject_prefix", MDM_CFG_STR, subject_prefix, "exec", 0, 0, NULL, "root of execution subjects"),
	F("stream.storage", MDM_CFG_ENUM, stream_storage, "file", 0, 0, storages, "file or memory"),
	F("stream.max_age", MDM_CFG_DURATION, stream_max_age_ns, "0", 0, 0, NULL,
	  "discard executions older than this; 0 = keep"),
	F("stream.duplicate_window", MDM_CFG_DURATION, stream_duplicate_window_ns, "24h", 1e9, 604800e9, NULL,
	  "Nats-Msg-Id de-duplication window: a resend after a reconnect or restart inside it is stored once"),
	F("stream.replicas", MDM_CFG_UINT, stream_replicas, "1", 1, 5, NULL, "3 on a cluster"),

	F("publish.window", MDM_CFG_UINT, publish_window, "4096", 2, 16777216, NULL,
	  "Executions published and not yet acked before reading the socket pauses (power of two); more only "
	  "queues when the server is the bottleneck (65536 had receive->acked p99 at 7-9 s there, 4096 0.4-0.8 s)"),
	F("publish.max_pending", MDM_CFG_UINT, publish_max_pending, "4096", 1, 1048576, NULL,
	  "un-acked publishes the bus keeps in flight (a publish waits for room, up to publish.timeout)"),
	F("publish.ack_timeout", MDM_CFG_DURATION, publish_ack_timeout_ns, "5s", 1e6, 600e9, NULL,
	  "a publish not acked by then is resent with the same Msg-Id"),
	F("publish.max_retries", MDM_CFG_UINT, publish_max_retries, "20", 0, 1000000, NULL,
	  "resends before a publish fails; the session then asks the counterparty to resend it"),
	F("publish.timeout", MDM_CFG_DURATION, publish_timeout_ns, "30s", 1e6, 3600e9, NULL,
	  "how long one publish may wait for room in the bus before it counts as failed"),
	F("publish.drain_timeout", MDM_CFG_DURATION, publish_drain_timeout_ns, "30s", 0, 3600e9, NULL,
	  "at stop, how long to wait for outstanding acks"),

	F("http.listen", MDM_CFG_STR, http_listen, "127.0.0.1:9103", 0, 0, NULL,
	  "/metrics /stats.json /healthz /dashboard; empty = off (--http)"),
	F("http.token", MDM_CFG_STR, http_token, "", 0, 0, NULL, "bearer token required by HTTP; empty = none"),
	F("stats.interval", MDM_CFG_DURATION, stats_interval_ns, "1s", 100e6, 3600e9, NULL,
	  "live stats period (stats.fix.<instance>, latency log)"),
	F("latency.hlog", MDM_CFG_STR, latency_hlog, "", 0, 0, NULL,
	  "write an HdrHistogram interval log of every stage here"),
};

const size_t fix_cfg_schema_len = sizeof(fix_cfg_schema) / sizeof(fix_cfg_schema[0]);

int fix_cfg_load(struct fix_cfg *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	if (path)
		return mdm_cfg_load_file(fix_cfg_schema, fix_cfg_schema_len, c, path);
	return mdm_cfg_load_string(fix_cfg_schema, fix_cfg_schema_len, c, "", 0, "<defaults>");
}

static bool has(const char *s)
{
	return s && *s;
}

static bool token_ok(const char *s)
{
	if (!has(s))
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == '.' || *s == '*' || *s == '>')
			return false;
	return true;
}

int fix_cfg_validate(const struct fix_cfg *c, struct fix_trader_from *from, size_t *n_from)
{
	if (has(c->connect) == has(c->listen))
		return mdm_err_set(-EINVAL, "give exactly one of session.connect (--connect) and session.listen (--listen)");
	if (!has(c->sender) || !has(c->target))
		return mdm_err_set(-EINVAL, "session.sender (--sender) and session.target (--target) are required");
	if (!has(c->begin_string) || (strcmp(c->begin_string, "FIX.4.4") != 0 && strcmp(c->begin_string, "FIX.4.2") != 0))
		return mdm_err_set(-EINVAL, "session.begin_string: '%s': FIX.4.4 or FIX.4.2",
				   c->begin_string ? c->begin_string : "");
	if (!token_ok(c->session_name))
		return mdm_err_set(-EINVAL, "session.name: '%s' must be one non-empty subject token",
				   c->session_name ? c->session_name : "");
	if (c->heartbeat_ns % 1000000000ULL)
		return mdm_err_set(-EINVAL, "session.heartbeat: whole seconds (HeartBtInt)");
	if (!has(c->state_dir))
		return mdm_err_set(-EINVAL, "session.state_dir must not be empty");
	if (c->publish_window & (c->publish_window - 1))
		return mdm_err_set(-EINVAL, "publish.window: %llu is not a power of two",
				   (unsigned long long)c->publish_window);
	if (!has(c->stream_name) || c->stream_subjects.n == 0 || !token_ok(c->subject_prefix) || !has(c->nats.url))
		return mdm_err_set(-EINVAL, "stream.name, stream.subjects, stream.subject_prefix and nats.url must be set");
	if (c->trader_from.n == 0 || c->trader_from.n > FIX_TRADER_FROM_MAX)
		return mdm_err_set(-EINVAL, "trader.from: 1..%d places", FIX_TRADER_FROM_MAX);
	for (size_t i = 0; i < c->trader_from.n; i++)
		if (fix_trader_from_parse(c->trader_from.v[i], &from[i]) != 0)
			return mdm_err_set(-EINVAL, "trader.from: %s", mdm_err_last());
	*n_from = c->trader_from.n;
	return 0;
}

void fix_cfg_free(struct fix_cfg *c)
{
	mdm_cfg_free(fix_cfg_schema, fix_cfg_schema_len, c);
}
