/* Collector configuration schema. Defaults are the single-box CI set-up: a
 * local nats-server, no hugepages, poll loops that back off when idle. */
#include "mdm_nats_loop.h"
#include "collector_cfg.h"

#include <errno.h>
#include <string.h>

#include "mdm_addr.h"
#include "mdm_err.h"
#include "mdm_soup.h"

#define F(k, t, field, d, lo, hi, ch, h) { k, t, offsetof(struct collector_cfg, field), d, lo, hi, ch, h }

static const char *const full_policies[] = { "block", "drop", NULL };
static const char *const publish_modes[] = { "event", "batch", NULL };
static const char *const storages[] = { "file", "memory", NULL };
static const char *const origins[] = { "rx", "itch", NULL };
static const char *const resumes[] = { "auto", "on", "off", NULL };
static const char *const views_publishes[] = { "core", "jetstream", NULL };

const struct mdm_cfg_field collector_cfg_schema[] = {
	F("instance", MDM_CFG_STR, instance, "collector-1", 0, 0, NULL,
	  "name in logs, metrics and the stats subject stats.collector.<instance>"),
	F("log_level", MDM_CFG_STR, log_level, "info", 0, 0, NULL, "error, warn, info or debug"),

	F("feed.name", MDM_CFG_STR, feed_name, "itch", 0, 0, NULL,
	  "<feed> in subjects md.<feed>.<type>.<symbol> and in Nats-Msg-Id <feed>.<session>.<seq>"),
	F("feed.dst", MDM_CFG_STR, feed_dst, "233.54.12.111:26477", 0, 0, NULL,
	  "line A multicast group:port, filtered in software; \"any\" takes every UDP datagram"),
	F("feed.dst_b", MDM_CFG_STR, feed_dst_b, "", 0, 0, NULL,
	  "line B group:port for A/B arbitration (each sequence delivered once); empty = one line"),
	F("feed.session_date", MDM_CFG_UINT, feed_session_date, "0", 0, 99991231, NULL,
	  "trading date YYYYMMDD stamped on events; 0 = the US/Eastern date of the first packet"),
	F("feed.book_capacity", MDM_CFG_UINT, feed_book_capacity, "4194304", 16, 1073741824, NULL,
	  "order-state table slots (power of two; live orders up to 7/8 of it)"),
	F("feed.gap_capacity", MDM_CFG_UINT, feed_gap_capacity, "256", 1, 1048576, NULL,
	  "missing-range table size of the sequencer"),
	F("feed.gap_pending", MDM_CFG_DURATION, feed_gap_pending_ns, "1ms", 1000, 10e9, NULL,
	  "how long a hole waits for the other line before it is declared a gap"),
	F("feed.rerequest", MDM_CFG_STRLIST, feed_rerequest, NULL, 0, 0, NULL,
	  "MoldUDP64 re-request servers, ADDR:PORT (comma list; retries go to the next); empty = no recovery: "
	  "a declared gap is permanent once feed.rerequest_timeout passes"),
	F("feed.rerequest_rate", MDM_CFG_UINT, feed_rerequest_rate, "200", 1, 1000000, NULL,
	  "re-requests per second at most (token bucket refill)"),
	F("feed.rerequest_burst", MDM_CFG_UINT, feed_rerequest_burst, "20", 1, 1000000, NULL,
	  "re-requests sent back to back at most (token bucket size)"),
	F("feed.rerequest_max_count", MDM_CFG_UINT, feed_rerequest_max_count, "1000", 1, 65534, NULL,
	  "messages asked for per request; a longer gap is asked for in parts"),
	F("feed.rerequest_timeout", MDM_CFG_DURATION, feed_rerequest_timeout_ns, "250ms", 1e6, 60e9, NULL,
	  "wait for an answer before asking again (the next server)"),
	F("feed.rerequest_retries", MDM_CFG_UINT, feed_rerequest_retries, "3", 0, 100, NULL,
	  "requests after the first that may go unanswered before a gap is permanent (alert.system.gap)"),
	F("feed.resume", MDM_CFG_ENUM, feed_resume, "auto", 0, 0, resumes,
	  "at start, continue the feed's session from where the stream ends (a restart reports what it "
	  "missed as a gap): on, off, or auto = on for live input, off for input.pcap (replays re-publish)"),
	F("feed.resume_window", MDM_CFG_UINT, feed_resume_window, "65536", 1024, 16777216, NULL,
	  "sequence numbers read back from the stream at start to find where the feed left off, and its holes"),
	F("feed.resume_timeout", MDM_CFG_DURATION, feed_resume_timeout_ns, "30s", 1e9, 600e9, NULL,
	  "longest the read back may take before the collector refuses to start"),

	F("input.pcap", MDM_CFG_STR, input_pcap, "", 0, 0, NULL, "replay this capture through net_pcap"),
	F("input.pcap_loop", MDM_CFG_BOOL, input_pcap_loop, "false", 0, 0, NULL,
	  "loop the capture forever (net_pcap infinite_rx; the pool must hold every packet)"),
	F("input.iface", MDM_CFG_STR, input_iface, "", 0, 0, NULL,
	  "receive live on this interface through net_af_packet"),
	F("input.vdev", MDM_CFG_STR, input_vdev, "", 0, 0, NULL,
	  "any other DPDK virtual device string, e.g. net_pcap0,rx_iface=eth1"),
	F("input.pci", MDM_CFG_STR, input_pci, "", 0, 0, NULL, "a NIC bound to vfio-pci, e.g. 0000:3b:00.0"),
	F("input.soup", MDM_CFG_STR, input_soup, "", 0, 0, NULL,
	  "take the feed from this SoupBinTCP 3.00 server, HOST:PORT, over a kernel TCP socket (no DPDK port): "
	  "login at sequence 1, or where the stream ends (feed.resume); a lost connection logs in again at the "
	  "next sequence number; End of Session is the end of input"),
	F("input.soup_user", MDM_CFG_STR, input_soup_user, "", 0, 0, NULL, "SoupBinTCP username (at most 6 characters)"),
	F("input.soup_password", MDM_CFG_STR, input_soup_password, "", 0, 0, NULL,
	  "SoupBinTCP password, at most 10 characters (prefer MDM_INPUT_SOUP_PASSWORD in the environment)"),
	F("input.rx_desc", MDM_CFG_UINT, input_rx_desc, "1024", 64, 32768, NULL, "RX descriptors"),
	F("input.mbufs", MDM_CFG_UINT, input_mbufs, "16383", 1023, 16777215, NULL,
	  "mbuf pool size (2^n - 1 is most efficient)"),
	F("input.af_packet_frames", MDM_CFG_UINT, input_af_packet_frames, "8192", 512, 1048576, NULL,
	  "net_af_packet ring frames (the 512 default silently loses packets at 0.5 Mpps)"),
	F("input.exit_on_eof", MDM_CFG_BOOL, input_exit_on_eof, "false", 0, 0, NULL,
	  "stop when a replayed capture ends: drain, wait for every ack, print the summary"),

	F("eal.no_huge", MDM_CFG_BOOL, eal_no_huge, "true", 0, 0, NULL,
	  "run without hugepages (CI, laptops); false in production"),
	F("eal.mem_mb", MDM_CFG_UINT, eal_mem_mb, "256", 0, 1048576, NULL, "EAL memory (-m), MB"),
	F("eal.lcores", MDM_CFG_STR, eal_lcores, "0@(0-1),1@(0-1),2@(0-1)", 0, 0, NULL,
	  "EAL --lcores: main, RX, publisher; pin RX/publisher to isolated cores in production"),
	F("eal.log_level", MDM_CFG_STR, eal_log_level, "*:warning", 0, 0, NULL, "EAL --log-level"),
	F("eal.args", MDM_CFG_STRLIST, eal_args, NULL, 0, 0, NULL, "extra EAL arguments, verbatim"),

	F("poll.idle_spin", MDM_CFG_UINT, poll_idle_spin, "256", 0, 1e9, NULL,
	  "empty polls spun before sleeping"),
	F("poll.idle_sleep", MDM_CFG_DURATION, poll_idle_sleep_ns, "200us", 0, 100e6, NULL,
	  "sleep per idle poll after that; 0 = pure busy poll (isolated cores)"),

	F("ring.size", MDM_CFG_UINT, ring_size, "524288", 1024, 67108864, NULL,
	  "RX -> publisher ring slots (power of two), 128 bytes each (EAL memory): the broker-outage "
	  "buffer; 524288 = 64 MiB holds 10 s at 50k events/s"),
	F("ring.full_policy", MDM_CFG_ENUM, ring_full_policy, "block", 0, 0, full_policies,
	  "ring full: block (RX waits; the NIC counts misses) or drop (at 7/8 full the publisher drops "
	  "the oldest queued events down to half; counted with sequence ranges)"),

	MDM_NATS_CFG_SCHEMA(struct collector_cfg, nats),

	F("stream.name", MDM_CFG_STR, stream_name, "MD", 0, 0, NULL, "JetStream stream for market events"),
	F("stream.subjects", MDM_CFG_STRLIST, stream_subjects, "md.>", 0, 0, NULL, "subjects it stores"),
	F("stream.batch_name", MDM_CFG_STR, stream_batch_name, "MDB", 0, 0, NULL,
	  "publish.mode batch: JetStream stream for EventBatch messages (instead of stream.name)"),
	F("stream.batch_subjects", MDM_CFG_STRLIST, stream_batch_subjects, "mdb.>", 0, 0, NULL,
	  "publish.mode batch: subjects it stores (must cover mdb.<feed>.<partition>)"),
	F("stream.storage", MDM_CFG_ENUM, stream_storage, "file", 0, 0, storages, "file or memory"),
	F("stream.max_age", MDM_CFG_DURATION, stream_max_age_ns, "0", 0, 0, NULL,
	  "discard events older than this; 0 = keep (limits slow nats-server 2.9.10 with many subjects)"),
	F("stream.max_bytes", MDM_CFG_SIZE, stream_max_bytes, "0", 0, 0, NULL, "size cap; 0 = none"),
	F("stream.duplicate_window", MDM_CFG_DURATION, stream_duplicate_window_ns, "2m", 1e9, 86400e9, NULL,
	  "Nats-Msg-Id de-duplication window: retries and replays inside it are stored once"),
	F("stream.replicas", MDM_CFG_UINT, stream_replicas, "1", 1, 5, NULL, "3 on a cluster"),
	F("stream.subject_prefix", MDM_CFG_STR, subject_prefix, "md", 0, 0, NULL, "root of event subjects"),
	F("alerts.stream", MDM_CFG_STR, alerts_stream, "ALERTS", 0, 0, NULL,
	  "stream of alerts (ensured at start): permanent gaps publish on alert.system.gap"),
	F("alerts.subjects", MDM_CFG_STRLIST, alerts_subjects, "alert.>", 0, 0, NULL,
	  "subjects the alerts stream stores (the processor ensures the same stream: keep them equal)"),

	F("publish.mode", MDM_CFG_ENUM, publish_mode, "event", 0, 0, publish_modes,
	  "event: one message per event on md.*; batch: EventBatch messages on mdb.<feed>.<partition>"),
	F("publish.max_pending", MDM_CFG_UINT, publish_max_pending, "65536", 1, 1048576, NULL,
	  "most un-acked publishes in flight (the adaptive window's ceiling)"),
	F("publish.flush", MDM_CFG_ENUM, publish_flush, "burst", 0, 0, mdm_nats_flush_names,
	  "when publishes are written to the socket: burst = once per publisher burst on mdmesh's own epoll loop "
	  "(no timer, no write per message), timer = nats.c's flusher (~1 ms after the first), asap = one "
	  "write per publish"),
	F("publish.window_min", MDM_CFG_UINT, publish_window_min, "64", 0, 1048576, NULL,
	  "the adaptive in-flight window's floor; it grows up to max_pending (2 x ack rate x base ack latency, as "
	  "TCP BBR sizes its window); 0 or >= max_pending: a fixed window of max_pending"),
	F("publish.ack_timeout", MDM_CFG_DURATION, publish_ack_timeout_ns, "5s", 1e6, 600e9, NULL,
	  "a publish not acked by then is resent with the same Msg-Id"),
	F("publish.max_retries", MDM_CFG_UINT, publish_max_retries, "20", 0, 1000000, NULL,
	  "resends before an event is counted as failed"),
	F("publish.drain_timeout", MDM_CFG_DURATION, publish_drain_timeout_ns, "30s", 0, 3600e9, NULL,
	  "at stop, how long to wait for outstanding acks"),
	F("publish.batch_max_events", MDM_CFG_UINT, publish_batch_max_events, "256", 1, 65536, NULL,
	  "batch mode: events per EventBatch at most; batches are cut at every multiple of this sequence number"),
	F("publish.batch_max_delay", MDM_CFG_DURATION, publish_batch_max_delay_ns, "200us", 0, 1e9, NULL,
	  "batch mode, live input: longest an event waits for its batch to fill (replays cut by sequence only)"),
	F("publish.partitions", MDM_CFG_UINT, publish_partitions, "4", 1, 1024, NULL,
	  "batch mode: subject partitions (by symbol), mdb.<feed>.<partition>"),

	F("views.enabled", MDM_CFG_BOOL, views_enabled, "false", 0, 0, NULL,
	  "publish market views: BBO on bbo.<feed>.<symbol>, DEPTH on depth.<feed>.<symbol> (off by default: "
	  "the server stores about one view per event, and the collector ran at 0.35-0.5 x its rate without them; README)"),
	F("views.depth_levels", MDM_CFG_UINT, views_depth_levels, "10", 0, 50, NULL,
	  "DEPTH price levels a side; 0 = BBO only"),
	F("views.depth_interval", MDM_CFG_DURATION, views_depth_interval_ns, "100ms", 0, 60e9, NULL,
	  "at most one DEPTH per symbol per this much exchange time; 0 = every change"),
	F("views.bbo_stream", MDM_CFG_STR, views_bbo_stream, "BBO", 0, 0, NULL, "JetStream stream of BBO views (bbo.>)"),
	F("views.depth_stream", MDM_CFG_STR, views_depth_stream, "DEPTH", 0, 0, NULL,
	  "JetStream stream of DEPTH views (depth.>)"),
	F("views.storage", MDM_CFG_ENUM, views_storage, "file", 0, 0, storages,
	  "streams BBO and DEPTH: file, or memory (cheaper; a restarted server keeps them only on a cluster's other replicas)"),
	F("views.publish", MDM_CFG_ENUM, views_publish, "core", 0, 0, views_publishes,
	  "how views go out: core (NATS publish into the streams' subjects, stored and de-duplicated by Msg-Id; "
	  "only one in 64, for flow control, and the drain's final views are acked) or jetstream (every view acked)"),
	F("views.history", MDM_CFG_UINT, views_history, "1", 0, 1e9, NULL,
	  "views kept per subject (max_msgs_per_subject): 1 = the stream is the current state; 0 = all"),

	F("recovery.checkpoint_interval", MDM_CFG_DURATION, recovery_checkpoint_interval_ns, "30s", 0, 86400e9, NULL,
	  "write the book (live orders, symbol map, trading states, stream position) to object <feed>.<instance> of "
	  "recovery.bucket this often, and at drain; 0 = no checkpoints (and no warm start)"),
	F("recovery.bucket", MDM_CFG_STR, recovery_bucket, "mdmesh-checkpoints", 0, 0, NULL,
	  "JetStream Object Store bucket of the checkpoints (created when absent; `nats object ls` lists it)"),
	F("recovery.replicas", MDM_CFG_UINT, recovery_replicas, "1", 1, 5, NULL,
	  "replicas of the bucket's stream when it is created (3 on a cluster)"),
	F("recovery.warm_start", MDM_CFG_BOOL, recovery_warm_start, "true", 0, 0, NULL,
	  "when feed.resume continues a session: load the checkpoint of that session, replay what the stream stored "
	  "after it, and start with that book; false (or no usable checkpoint) = an empty book, as before"),
	F("recovery.replay_timeout", MDM_CFG_DURATION, recovery_replay_timeout_ns, "120s", 1e9, 3600e9, NULL,
	  "longest the load and replay may take at start; past it the collector starts cold (logged)"),
	F("recovery.drain_timeout", MDM_CFG_DURATION, recovery_drain_timeout_ns, "30s", 0, 3600e9, NULL,
	  "at stop, how long the final checkpoint may take to catch up with the stream and be written"),

	F("http.listen", MDM_CFG_STR, http_listen, "127.0.0.1:9101", 0, 0, NULL,
	  "/metrics /stats.json /healthz /dashboard; empty = off"),
	F("http.token", MDM_CFG_STR, http_token, "", 0, 0, NULL, "bearer token required by HTTP; empty = none"),
	F("stats.interval", MDM_CFG_DURATION, stats_interval_ns, "1s", 100e6, 3600e9, NULL,
	  "live stats period (stats.collector.<instance>, latency log)"),
	F("latency.hlog", MDM_CFG_STR, latency_hlog, "", 0, 0, NULL,
	  "write an HdrHistogram interval log of every stage here"),
	F("latency.origin", MDM_CFG_ENUM, latency_origin, "rx", 0, 0, origins,
	  "wire time: rx = our receive time; itch = the ITCH timestamp on the session date "
	  "(the sender's clock, e.g. mdmesh-loadgen send's intended send times; clocks must agree)"),
};

const size_t collector_cfg_schema_len = sizeof(collector_cfg_schema) / sizeof(collector_cfg_schema[0]);

int collector_cfg_load(struct collector_cfg *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	if (path)
		return mdm_cfg_load_file(collector_cfg_schema, collector_cfg_schema_len, c, path);
	/* no file: defaults plus environment overrides */
	return mdm_cfg_load_string(collector_cfg_schema, collector_cfg_schema_len, c, "", 0, "<defaults>");
}

/* STR fields are NULL when the file says `key:` with no value. */
static bool has(const char *s)
{
	return s && *s;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int collector_cfg_validate(const struct collector_cfg *c)
{
	int inputs = has(c->input_pcap) + has(c->input_iface) + has(c->input_vdev) + has(c->input_pci) + has(c->input_soup);
	struct sockaddr_in sa;
	char host[256];
	uint16_t port;

	if (inputs != 1)
		return mdm_err_set(-EINVAL, "input: give exactly one of input.pcap (--pcap), input.iface (--iface), "
					    "input.vdev, input.pci or input.soup (%d given)", inputs);
	if (has(c->input_soup) && mdm_addr_split_host(c->input_soup, host, sizeof(host), &port) != 0)
		return mdm_err_set(-EINVAL, "input.soup: %s", mdm_err_last());
	if (has(c->input_soup_user) && strlen(c->input_soup_user) > MDM_SOUP_USER_LEN)
		return mdm_err_set(-EINVAL, "input.soup_user: '%s' is longer than %d characters", c->input_soup_user,
				   MDM_SOUP_USER_LEN);
	if (has(c->input_soup_password) && strlen(c->input_soup_password) > MDM_SOUP_PASS_LEN)
		return mdm_err_set(-EINVAL, "input.soup_password: longer than %d characters", MDM_SOUP_PASS_LEN);
	if (!pow2(c->feed_book_capacity))
		return mdm_err_set(-EINVAL, "feed.book_capacity: %llu is not a power of two",
				   (unsigned long long)c->feed_book_capacity);
	if (!pow2(c->ring_size))
		return mdm_err_set(-EINVAL, "ring.size: %llu is not a power of two",
				   (unsigned long long)c->ring_size);
	if (has(c->feed_dst_b) && (!has(c->feed_dst) || strcmp(c->feed_dst, "any") == 0))
		return mdm_err_set(-EINVAL, "feed.dst_b needs a specific feed.dst for line A");
	if (!has(c->feed_name) || strchr(c->feed_name, '.') || strchr(c->feed_name, ' '))
		return mdm_err_set(-EINVAL, "feed.name: '%s' must be one non-empty subject token", c->feed_name ? c->feed_name : "");
	if (!has(c->stream_name) || !has(c->nats.url) || !has(c->subject_prefix))
		return mdm_err_set(-EINVAL, "stream.name, nats.url and stream.subject_prefix must not be empty");
	if (c->stream_subjects.n == 0)
		return mdm_err_set(-EINVAL, "stream.subjects: at least one subject");
	if (c->publish_mode == COLLECTOR_PUBLISH_BATCH && (!has(c->stream_batch_name) || c->stream_batch_subjects.n == 0))
		return mdm_err_set(-EINVAL, "publish.mode batch needs stream.batch_name and stream.batch_subjects");
	if (!has(c->alerts_stream) || c->alerts_subjects.n == 0)
		return mdm_err_set(-EINVAL, "alerts.stream and alerts.subjects must not be empty");
	if (c->views_enabled && (!has(c->views_bbo_stream) || !has(c->views_depth_stream)))
		return mdm_err_set(-EINVAL, "views.bbo_stream and views.depth_stream must not be empty");
	if (c->feed_rerequest.n > 8)
		return mdm_err_set(-EINVAL, "feed.rerequest: %zu servers, at most 8", c->feed_rerequest.n);
	for (size_t i = 0; i < c->feed_rerequest.n; i++)
		if (mdm_addr_parse_v4(c->feed_rerequest.v[i], &sa) != 0)
			return mdm_err_set(-EINVAL, "feed.rerequest: %s", mdm_err_last());
	/* checked here, not when the port opens: a typo is refused before start */
	if (has(c->feed_dst) && strcmp(c->feed_dst, "any") != 0 && mdm_addr_parse_v4(c->feed_dst, &sa) != 0)
		return mdm_err_set(-EINVAL, "feed.dst: %s (or any)", mdm_err_last());
	if (has(c->feed_dst_b) && mdm_addr_parse_v4(c->feed_dst_b, &sa) != 0)
		return mdm_err_set(-EINVAL, "feed.dst_b: %s", mdm_err_last());
	return 0;
}

void collector_cfg_free(struct collector_cfg *c)
{
	mdm_cfg_free(collector_cfg_schema, collector_cfg_schema_len, c);
}
