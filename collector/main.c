/* mdmesh-collector: argv -> config -> NATS (streams, resume point) -> EAL ->
 * port -> ring -> RX and publisher lcores; the main lcore runs the control
 * loop (stats, gap reports, stop). main() is the list of steps; the start-up
 * the daemons share is common/mdm_daemon. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "book_http.h"
#include "collector_cfg.h"
#include "collector_stats.h"
#include "collector_views.h"
#include "ckpt_writer.h"
#include "gap_report.h"
#include "mdm_addr.h"
#include "mdm_bus.h"
#include "mdm_bus_cfg.h"
#include "mdm_clock.h"
#include "mdm_daemon.h"
#include "mdm_mem.h"
#include "mdm_eal.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_poll.h"
#include "mdm_port.h"
#include "mdm_subject.h"
#include "publish.h"
#include "rerequest.h"
#include "resume.h"
#include "rx.h"
#include "rx_event.h"
#include "soup_input.h"

#define PROG "mdmesh-collector"
#define MAX_STREAMS 8

/* Everything one run holds: the steps in main() fill it in order and
 * collector_close() takes it down. */
struct collector {
	struct collector_cfg cfg;     /* owned by d once loaded */
	struct mdm_daemon *d;
	struct mdm_bus *bus;          /* d's */
	const char *stream_name;      /* MD, or MDB in batch mode */
	struct resume_point *resume;
	struct ckpt_writer *ckpt;     /* book checkpoints; NULL = off */
	bool eal_up;
	struct mdm_port port;
	unsigned rx_lcore, pub_lcore;
	struct rte_ring *ring;
	uint64_t start_ns;            /* for the "ready in" line */
	uint64_t prefaulted;          /* bytes of ring touched at start-up */
	struct rerequest *rr;
	struct gap_report *gr;
	struct rx *rx;
	struct soup_input *soup;      /* input.soup: the feed over SoupBinTCP, no DPDK port */
	struct views *views;          /* market views (views.enabled), borrowed by RX's feed */
	struct publish *pb;
	struct collector_stats *cs;
	struct book_http book;        /* /book.json (views.enabled) */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-c FILE] [options] [-- EAL args]\n\n"
		"DPDK poll-mode collector: receives NASDAQ TotalView-ITCH 5.0 over MoldUDP64, decodes and\n"
		"sequences it on an RX core, and publishes protobuf MarketEvents to NATS JetStream\n"
		"(stream MD, subjects md.<feed>.<type>.<symbol>, Nats-Msg-Id <feed>.<session>.<seq>).\n\n"
		"  -c, --config FILE      YAML config (configs/collector.yaml documents every key);\n"
		"                         without it the defaults apply (local nats-server, stream MD)\n"
		"      --nats URL         nats.url\n"
		"      --pcap FILE        replay a capture through net_pcap (input.pcap)\n"
		"      --iface NAME       receive live on NAME through net_af_packet (input.iface)\n"
		"      --feed-dst A:P     line A multicast group:port, or 'any' (feed.dst)\n"
		"      --exit-on-eof      stop when the capture ends, after every event is acked\n"
		"      --http ADDR:PORT   metrics/stats listener, '' to disable (http.listen)\n"
		"      --instance NAME    instance name (stats.collector.<instance>)\n"
		"      --set KEY=VALUE    any config key, e.g. --set publish.max_pending=1024\n"
		"      --print-config     print the effective config as YAML and exit\n"
		"      --log-level L      error, warn, info, debug\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n\n"
		"Gaps: with --set feed.rerequest=ADDR:PORT[,ADDR:PORT] missing ranges are re-requested\n"
		"(MoldUDP64, rate-limited); what cannot be recovered is a permanent gap, published as\n"
		"alert.system.gap (stream ALERTS). Live input continues the session where the stream\n"
		"ends (feed.resume), so a restart reports its downtime as a gap.\n\n"
		"Every config key can also come from the environment: MDM_<KEY>, dots as underscores\n"
		"(MDM_NATS_URL, MDM_NATS_PASSWORD). Exit status: 0 when every event is accounted for\n"
		"(stored, duplicate, or dropped by policy), 1 on errors or unaccounted events, 2 on usage.\n");
}

/* input.soup: the feed comes over a kernel TCP socket, EAL opens no port */
static bool soup_only(const struct collector_cfg *cfg)
{
	return cfg->input_soup && cfg->input_soup[0];
}

static int parse_dst(const char *s, uint32_t *ip, uint16_t *port)
{
	struct sockaddr_in sa;

	*ip = 0;
	*port = 0;
	if (!s[0] || strcmp(s, "any") == 0)
		return 0;
	if (mdm_addr_parse_v4(s, &sa) != 0)
		return -EINVAL;
	*ip = ntohl(sa.sin_addr.s_addr);
	*port = ntohs(sa.sin_port);
	return 0;
}

/* Where the feed left off in the stream (resume.h). 0 and *out (maybe not
 * found), or a negative errno (logged). */
static int resume_find(struct mdm_bus *bus, const struct collector_cfg *cfg, const char *stream,
		       struct resume_point **out)
{
	char filter[160], consumer[96];
	bool batch = cfg->publish_mode == COLLECTOR_PUBLISH_BATCH;
	struct resume_params p = { .bus = bus, .stream = stream, .feed = cfg->feed_name, .consumer = consumer,
				   .batch = batch, .batch_max_events = (uint32_t)cfg->publish_batch_max_events,
				   .partitions = (uint32_t)cfg->publish_partitions, .window = cfg->feed_resume_window,
				   .timeout_ms = cfg->feed_resume_timeout_ns / MDM_NS_PER_MS, .filter = filter };
	size_t k;
	int rc;

	snprintf(filter, sizeof(filter), "%s.%s.>", batch ? "mdb" : cfg->subject_prefix, cfg->feed_name);
	/* a consumer name is one token: the instance by the subject-token rule */
	k = (size_t)snprintf(consumer, sizeof(consumer), "mdmesh_resume_");
	mdm_subject_token(consumer + k, sizeof(consumer) - k, cfg->instance, strlen(cfg->instance));
	rc = resume_read(&p, out);
	if (rc != 0) {
		mdm_log_error("feed.resume: reading %s back: %s", stream, mdm_err_last());
		return rc;
	}
	if (!(*out)->found) {
		mdm_log_info("feed.resume: no earlier events of feed %s in stream %s: joining the feed where it is", cfg->feed_name,
			     stream);
		return 0;
	}
	{
		const struct resume_point *r = *out;
		char holes[256] = "";
		size_t off = 0;

		for (unsigned i = 0; i < r->n_gaps && i < 8 && off < sizeof(holes); i++)
			off += (size_t)snprintf(holes + off, sizeof(holes) - off, " %" PRIu64 "-%" PRIu64, r->gap_from[i],
						r->gap_to[i]);
		mdm_log_info("feed.resume: session %s continues at %" PRIu64 " (%" PRIu64 " messages of %s read back in %" PRIu64
			     " ms, %u symbols); %u holes below it to recover%s%s",
			     r->session, r->next, r->msgs_read, stream, r->elapsed_ms, r->n_symbols, r->n_gaps,
			     r->n_gaps ? ":" : "", holes);
	}
	return 0;
}

/* Options that are config keys, besides the common ones (mdm_daemon.h). */
static const struct mdm_daemon_opt opts[] = {
	{ .name = "pcap", .key = "input.pcap" },
	{ .name = "iface", .key = "input.iface" },
	{ .name = "feed-dst", .key = "feed.dst" },
	{ .name = "exit-on-eof", .key = "input.exit_on_eof", .value = "true" },
};

/* SIGINT/SIGTERM stop the lcores and the control loop drains; a second one
 * aborts the drain there. SIGHUP is ignored: the config is immutable. */
static void on_stop(void *ctx, int stops)
{
	(void)ctx;
	(void)stops;
	mdm_poll_stop();
}

static int cfg_load(void *cfg, const char *path) { return collector_cfg_load(cfg, path); }
static int cfg_validate(void *cfg) { return collector_cfg_validate(cfg); }

/* Command line, config, logging. MDM_DAEMON_GO_ON, or the exit status. */
static int configure(struct collector *c, int argc, char **argv)
{
	const struct mdm_daemon_params dp = {
		.prog = PROG, .component = "collector", .schema = collector_cfg_schema,
		.schema_len = collector_cfg_schema_len, .cfg = &c->cfg, .load = cfg_load, .validate = cfg_validate,
		.usage = usage, .opts = opts, .n_opts = sizeof(opts) / sizeof(opts[0]),
		.extra_args_name = "EAL arguments", .on_stop = on_stop,
	};

	return mdm_daemon_configure(&c->d, &dp, argc, argv);
}

static bool replaying(const struct collector_cfg *cfg)
{
	return cfg->input_pcap && cfg->input_pcap[0];
}

/* NATS before EAL: a missing server is the most common error, and nats.c's
 * threads then keep the process's full CPU affinity. */
static int connect_bus(struct collector *c)
{
	struct mdm_bus_params bp;

	mdm_daemon_bus_params(c->d, &c->cfg.nats, &bp);
	bp.max_pending = (uint32_t)c->cfg.publish_max_pending;
	bp.window_min = (uint32_t)c->cfg.publish_window_min;
	bp.flush = (enum mdm_nats_flush)c->cfg.publish_flush;
	bp.ack_timeout_ms = c->cfg.publish_ack_timeout_ns / MDM_NS_PER_MS;
	bp.max_attempts = (uint32_t)c->cfg.publish_max_retries + 1;
	return mdm_daemon_connect(c->d, &bp, &c->bus);
}

/* The streams the collector publishes into. Batch mode publishes EventBatch
 * messages to their own stream (MDB, mdb.>): MD keeps one MarketEvent per
 * message for its consumers. Permanent gaps are alerts (alert.system.gap). */
static int ensure_streams(struct collector *c)
{
	const struct collector_cfg *cfg = &c->cfg;
	bool batch = cfg->publish_mode == COLLECTOR_PUBLISH_BATCH;
	struct mdm_stream_cfg s[MAX_STREAMS], *events = &s[0];
	size_t n = 0;

	c->stream_name = batch ? cfg->stream_batch_name : cfg->stream_name;
	s[n++] = mdm_daemon_stream(c->stream_name, batch ? &cfg->stream_batch_subjects : &cfg->stream_subjects,
				   cfg->stream_replicas);
	events->memory = cfg->stream_storage == COLLECTOR_STORAGE_MEMORY;
	events->max_age_ns = (int64_t)cfg->stream_max_age_ns;
	events->max_bytes = cfg->stream_max_bytes ? (int64_t)cfg->stream_max_bytes : -1;
	events->duplicate_window_ns = cfg->stream_duplicate_window_ns;
	s[n++] = mdm_daemon_stream(cfg->alerts_stream, &cfg->alerts_subjects, cfg->stream_replicas);
	if (mdm_daemon_ensure_streams(c->d, s, n) != 0)
		return -1;
	return collector_views_streams(c->bus, cfg) != 0 ? -1 : 0; /* BBO and DEPTH */
}

/* Live input continues the session where the stream ends (feed.resume). */
static int find_resume(struct collector *c)
{
	const struct collector_cfg *cfg = &c->cfg;

	if (cfg->feed_resume == COLLECTOR_RESUME_ON || (cfg->feed_resume == COLLECTOR_RESUME_AUTO && !replaying(cfg)))
		return resume_find(c->bus, cfg, c->stream_name, &c->resume);
	return 0;
}

/* Book checkpoints (recovery.*): open the bucket, and when the session
 * continues, load the checkpoint and replay the stream after it. A failure
 * here turns checkpoints off (logged); it never stops the collector. */
static int start_checkpoints(struct collector *c)
{
	const struct collector_cfg *cfg = &c->cfg;
	bool batch = cfg->publish_mode == COLLECTOR_PUBLISH_BATCH;
	char filter[160];
	struct ckpt_writer_params p = { .bus = c->bus, .stream = c->stream_name, .filter = filter,
					.feed = cfg->feed_name, .instance = cfg->instance, .bucket = cfg->recovery_bucket,
					.batch = batch, .book_capacity = (uint32_t)cfg->feed_book_capacity,
					.replicas = (int)cfg->recovery_replicas,
					.interval_ns = cfg->recovery_checkpoint_interval_ns,
					.replay_timeout_ns = cfg->recovery_replay_timeout_ns };

	if (cfg->recovery_checkpoint_interval_ns == 0)
		return 0;
	snprintf(filter, sizeof(filter), "%s.%s.>", batch ? "mdb" : cfg->subject_prefix, cfg->feed_name);
	if (ckpt_writer_create(&c->ckpt, &p) != 0) {
		mdm_log_warn("recovery: checkpoints off: %s", mdm_err_last());
		return 0;
	}
	return ckpt_writer_warm_start(c->ckpt, c->resume, cfg->recovery_warm_start);
}

/* EAL, the input port and the two worker lcores. */
static int start_eal(struct collector *c)
{
	const struct collector_cfg *cfg = &c->cfg;
	char vdev[1024], port_name[128];
	const char *vdevs[1] = { vdev }, *allow[1] = { cfg->input_pci };
	struct mdm_eal_params ep = { .prog = PROG, .no_huge = cfg->eal_no_huge, .mem_mb = (unsigned)cfg->eal_mem_mb,
				     .lcores = cfg->eal_lcores && cfg->eal_lcores[0] ? cfg->eal_lcores : NULL,
				     .log_level = cfg->eal_log_level, .no_telemetry = false };
	char *extra[64], **eal_extra;
	int n_extra = 0, n_eal_extra;
	struct mdm_port_params pp = { .rx_desc = (uint16_t)cfg->input_rx_desc, .mbufs = (uint32_t)cfg->input_mbufs };

	eal_extra = mdm_daemon_extra_args(c->d, &n_eal_extra);
	for (size_t i = 0; i < cfg->eal_args.n && n_extra < 64; i++)
		extra[n_extra++] = cfg->eal_args.v[i];
	for (int i = 0; i < n_eal_extra && n_extra < 64; i++)
		extra[n_extra++] = eal_extra[i];
	ep.extra = extra;
	ep.n_extra = n_extra;
	if (replaying(cfg)) {
		if (access(cfg->input_pcap, R_OK) != 0) {
			mdm_log_error("input.pcap %s: %s", cfg->input_pcap, strerror(errno));
			return -1;
		}
		snprintf(vdev, sizeof(vdev), "net_pcap0,rx_pcap=%s%s", cfg->input_pcap,
			 cfg->input_pcap_loop ? ",infinite_rx=1" : "");
		snprintf(port_name, sizeof(port_name), "net_pcap0");
	} else if (cfg->input_iface && cfg->input_iface[0]) {
		snprintf(vdev, sizeof(vdev), "net_af_packet0,iface=%s,blocksz=65536,framesz=2048,framecnt=%" PRIu64,
			 cfg->input_iface, cfg->input_af_packet_frames);
		snprintf(port_name, sizeof(port_name), "net_af_packet0");
		/* af_packet copies whole ring frames (framesz 2048 less its header) */
		pp.data_room = RTE_PKTMBUF_HEADROOM + 2048;
	} else if (cfg->input_vdev && cfg->input_vdev[0]) {
		snprintf(vdev, sizeof(vdev), "%s", cfg->input_vdev);
		snprintf(port_name, sizeof(port_name), "%.*s", (int)strcspn(vdev, ","), vdev);
	} else {
		snprintf(port_name, sizeof(port_name), "%s", cfg->input_pci);
	}
	if (cfg->input_pci && cfg->input_pci[0]) {
		ep.allow = allow;
		ep.n_allow = 1;
	} else {
		ep.vdevs = vdevs;
		ep.n_vdevs = soup_only(cfg) ? 0 : 1; /* a kernel TCP socket: EAL without a port */
		ep.no_pci = true;
	}
	if (mdm_eal_init(&ep) != 0) {
		mdm_log_error("EAL: %s", mdm_err_last());
		return -1;
	}
	c->eal_up = true;
	pp.name = port_name;
	if (!soup_only(cfg) && mdm_port_open(&c->port, &pp) != 0) {
		mdm_log_error("%s", mdm_err_last());
		return -1;
	}
	c->rx_lcore = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
	c->pub_lcore = rte_get_next_lcore(c->rx_lcore, 1, 0);
	if (c->rx_lcore >= RTE_MAX_LCORE || c->pub_lcore >= RTE_MAX_LCORE) {
		mdm_log_error("eal.lcores: need a main lcore and 2 workers (RX, publisher), e.g. "
			      "'0@(0-1),1@(0-1),2@(0-1)'");
		return -1;
	}
	return 0;
}

/* The ring from the RX lcore to the publisher, gap recovery and its reports,
 * RX (resumed where the stream ends), the publisher and the stats. */
static int create_pipeline(struct collector *c)
{
	const struct collector_cfg *cfg = &c->cfg;
	struct rx_params rp = { .port = soup_only(cfg) ? NULL : &c->port, .drop_when_full = cfg->ring_full_policy == COLLECTOR_FULL_DROP,
				.exit_on_eof = cfg->input_exit_on_eof, .idle_spin = (uint32_t)cfg->poll_idle_spin,
				.idle_sleep_us = (uint32_t)(cfg->poll_idle_sleep_ns / MDM_NS_PER_US) };
	struct publish_params pp = { .bus = c->bus, .feed = cfg->feed_name, .subject_prefix = cfg->subject_prefix,
				     .session_date = (uint32_t)cfg->feed_session_date,
				     .origin_itch = cfg->latency_origin == COLLECTOR_ORIGIN_ITCH,
				     .max_in_flight = (uint32_t)cfg->publish_max_pending * 2,
				     .idle_spin = (uint32_t)cfg->poll_idle_spin,
				     .idle_sleep_us = (uint32_t)(cfg->poll_idle_sleep_ns / MDM_NS_PER_US),
				     .drop_when_full = cfg->ring_full_policy == COLLECTOR_FULL_DROP,
				     .batch = cfg->publish_mode == COLLECTOR_PUBLISH_BATCH,
				     .views_core = cfg->views_publish == COLLECTOR_VIEWS_CORE,
				     .batch_max_events = (uint32_t)cfg->publish_batch_max_events,
				     .partitions = (uint32_t)cfg->publish_partitions,
				     .batch_max_delay_ns = cfg->publish_batch_max_delay_ns,
				     /* a replay cuts batches by its content only, so
				      * replaying it again forms the same Msg-Ids */
				     .batch_delay_flush = !replaying(cfg) };
	struct gap_report_params gp = { .bus = c->bus, .feed = cfg->feed_name, .subject = "alert.system.gap" };
	struct rerequest_params rq = {
		.servers = (const char *const *)cfg->feed_rerequest.v, .n_servers = cfg->feed_rerequest.n,
		.rate_per_s = cfg->feed_rerequest_rate, .burst = (uint32_t)cfg->feed_rerequest_burst,
		.max_count = (uint32_t)cfg->feed_rerequest_max_count, .timeout_ns = cfg->feed_rerequest_timeout_ns,
		.retries = (uint32_t)cfg->feed_rerequest_retries, .capacity = (uint32_t)cfg->feed_gap_capacity,
	};
	int rc;

	c->ring = rte_ring_create_elem("rx_pub", sizeof(struct rx_event), (unsigned)cfg->ring_size, (int)rte_socket_id(),
				       RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!c->ring) {
		mdm_log_error("ring of %" PRIu64 " events: %s (raise eal.mem_mb)", cfg->ring_size, rte_strerror(rte_errno));
		return -1;
	}
	/* The slots are DPDK heap, mapped lazily without hugepages: a profile of a
	 * 1M-event replay spent 28% in page faults on first touches. Slots are
	 * only read after an enqueue wrote them, so zeroing them is harmless. */
	c->prefaulted = (uint64_t)rte_ring_get_memsize_elem(sizeof(struct rx_event), rte_ring_get_size(c->ring)) -
			sizeof(*c->ring);
	mdm_prefault((char *)c->ring + sizeof(*c->ring), c->prefaulted);
	rp.ring = pp.ring = c->ring;
	rp.n_lines = cfg->feed_dst_b && cfg->feed_dst_b[0] ? 2 : 1;
	if (parse_dst(cfg->feed_dst, &rp.dst_ip[0], &rp.dst_port[0]) != 0 ||
	    (rp.n_lines == 2 && parse_dst(cfg->feed_dst_b, &rp.dst_ip[1], &rp.dst_port[1]) != 0)) {
		mdm_log_error("feed.dst/feed.dst_b: expected ADDR:PORT or 'any'");
		return -1;
	}
	rp.feed.n_lines = rp.n_lines;
	rp.feed.book_capacity = (uint32_t)cfg->feed_book_capacity;
	rp.feed.gap_capacity = (uint32_t)cfg->feed_gap_capacity;
	rp.feed.pending_ns = cfg->feed_gap_pending_ns;
	rq.line = (uint8_t)rp.n_lines;
	mdm_err_clear(); /* the set-up message below must be this set-up's, never an older one */
	rc = rerequest_create(&c->rr, &rq);
	gp.rr = rp.rr = c->rr;
	if (rc == 0)
		rc = gap_report_create(&c->gr, &gp);
	if (rc == 0 && soup_only(cfg))
		rc = soup_input_create(&c->soup, &(struct soup_input_params){ .server = cfg->input_soup,
									     .user = cfg->input_soup_user,
									     .password = cfg->input_soup_password });
	rp.soup = c->soup;
	if (rc == 0)
		rc = collector_views_create(&c->views, cfg);
	rp.feed.views = c->views;
	if (rc == 0)
		rc = rx_create(&c->rx, &rp);
	if (rc == 0 && c->resume && c->resume->found) {
		struct feed_resume fr;

		/* the RX core's sequencer clock: TSC in ns */
		resume_point_feed(c->resume, rte_rdtsc() / (rte_get_tsc_hz() / 1000000) * 1000, &fr);
		if (ckpt_writer_warm(c->ckpt)) {
			fr.book = ckpt_writer_book(c->ckpt);
			fr.book_symbols = ckpt_writer_symbols(c->ckpt);
		}
		rc = rx_resume(c->rx, &fr);
	}
	if (rc == 0)
		rc = publish_create(&c->pb, &pp);
	if (rc == 0) {
		struct collector_stats_params sp = { .instance = cfg->instance, .feed = cfg->feed_name, .port = rp.port,
						     .soup = c->soup,
						     .ring = c->ring, .bus = c->bus, .hlog_path = cfg->latency_hlog,
						     .rx = c->rx, .pb = c->pb, .rr = c->rr, .gr = c->gr,
						     .ckpt = c->ckpt };

		rc = collector_stats_create(&c->cs, &sp);
	}
	if (rc != 0)
		mdm_log_error("set-up: %s", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
	return rc;
}

static int serve_http(struct collector *c)
{
	const struct collector_cfg *cfg = &c->cfg;

	if (cfg->views_enabled) {
		c->book = (struct book_http){ .bus = c->bus, .feed = cfg->feed_name, .bbo_stream = cfg->views_bbo_stream,
					      .depth_stream = cfg->views_depth_stream };
		if (book_http_serve(c->d, &c->book) != 0)
			return -1;
	}
	return mdm_daemon_serve_http(c->d, c->cfg.http_listen, c->cfg.http_token, collector_stats_metrics(c->cs), NULL,
				     NULL);
}

static void launch(struct collector *c)
{
	const struct collector_cfg *cfg = &c->cfg;

	mdm_log_info("ready in %.1f ms (configuration, EAL, port, NATS, resume, book; %.1f MiB of ring pre-faulted)",
		     (double)(mdm_mono_ns() - c->start_ns) / 1e6, (double)c->prefaulted / (1024.0 * 1024.0));
	mdm_log_info("receiving on %s%s, publishing to %s stream %s%s", c->soup ? "SoupBinTCP " : "",
		     c->soup ? soup_input_server(c->soup) : c->port.name, cfg->nats.url, c->stream_name,
		     cfg->publish_mode == COLLECTOR_PUBLISH_BATCH ? " (EventBatch on mdb.<feed>.<partition>)" : "");
	if (rerequest_servers(c->rr))
		mdm_log_info("gap recovery: %zu re-request server(s) from UDP port %u, at most %" PRIu64 " requests/s",
			     rerequest_servers(c->rr), rerequest_local_port(c->rr), cfg->feed_rerequest_rate);
	if (c->ckpt && ckpt_writer_start(c->ckpt) != 0)
		mdm_log_warn("recovery: checkpoints off: %s", mdm_err_last());
	rte_eal_remote_launch(publish_lcore_main, c->pb, c->pub_lcore);
	rte_eal_remote_launch(rx_lcore_main, c->rx, c->rx_lcore);
}

/* Stats every interval until the publisher is done. A stop (signal or end of
 * input) drains: RX stops, the publisher empties the ring, acks are awaited. */
static void control_loop(struct collector *c)
{
	const struct collector_cfg *cfg = &c->cfg;
	uint64_t next_tick = mdm_mono_ns() + cfg->stats_interval_ns, drain_deadline = 0;
	bool rx_done = false, pub_done = false, aborted = false;

	while (!pub_done) {
		uint64_t now = mdm_mono_ns();

		if (!rx_done && rte_eal_get_lcore_state(c->rx_lcore) != RUNNING) {
			rte_eal_wait_lcore(c->rx_lcore);
			rx_done = true;
			publish_finish(c->pb);
			drain_deadline = now + cfg->publish_drain_timeout_ns;
			mdm_log_info("input %s; draining %u queued events", rx_stats(c->rx)->eof ? "ended" : "stopped",
				     rte_ring_count(c->ring));
		}
		if (rx_done && rte_eal_get_lcore_state(c->pub_lcore) != RUNNING) {
			rte_eal_wait_lcore(c->pub_lcore);
			pub_done = true;
		}
		if (mdm_daemon_stops(c->d) > 1 && !aborted) {
			aborted = true;
			mdm_log_warn("second signal: stopping without draining");
			publish_abort(c->pb);
		} else if (rx_done && now > drain_deadline && !aborted) {
			aborted = true;
			mdm_log_warn("drain timeout (publish.drain_timeout): stopping with events queued");
			publish_abort(c->pb);
		}
		gap_report_drain(c->gr);
		if (now >= next_tick) {
			collector_stats_tick(c->cs);
			next_tick = now + cfg->stats_interval_ns;
		}
		if (!pub_done)
			mdm_sleep_ns(20 * MDM_NS_PER_MS);
	}
	if (mdm_daemon_stops(c->d) < 2) {
		uint64_t left_ns = drain_deadline > mdm_mono_ns() ? drain_deadline - mdm_mono_ns() : 0;

		if (mdm_bus_publish_drain(c->bus, left_ns / MDM_NS_PER_MS + 1) != 0)
			mdm_log_warn("acks still outstanding: %s", mdm_err_last());
		/* everything is stored: the last checkpoint is the book at the end */
		ckpt_writer_finish(c->ckpt, cfg->recovery_drain_timeout_ns);
	}
	gap_report_drain(c->gr);
	collector_stats_tick(c->cs);
}

/* The summary, and the exit status: 0 only when every event is accounted for. */
static int account(struct collector *c)
{
	struct collector_account a;

	collector_stats_summary(c->cs, stderr);
	collector_stats_account(c->cs, &a);
	if (a.balanced && a.in_flight == 0 && a.in_ring == 0 && a.failed == 0 && a.dropped_stop == 0 &&
	    a.encode_errors == 0)
		return 0;
	mdm_log_error("not every event reached the stream (see the summary)");
	return 1;
}

static void collector_close(struct collector *c)
{
	mdm_poll_stop();
	if (c->pb)
		publish_abort(c->pb);
	if (c->eal_up)
		rte_eal_mp_wait_lcore();
	if (c->d)
		mdm_daemon_stop_http(c->d);
	collector_stats_destroy(c->cs);
	ckpt_writer_destroy(c->ckpt);
	resume_point_destroy(c->resume);
	/* The bus before the publisher: destroying the bus hands every publish
	 * still unacknowledged (a drain that timed out) back to the ack handler,
	 * whose context is pb (a SIGSEGV at SIGTERM under starvation). */
	if (c->d)
		mdm_daemon_disconnect(c->d);
	publish_destroy(c->pb);
	rx_destroy(c->rx);
	views_destroy(c->views);
	soup_input_destroy(c->soup);
	gap_report_destroy(c->gr);
	rerequest_destroy(c->rr);
	if (c->ring)
		rte_ring_free(c->ring);
	if (c->eal_up) {
		mdm_port_close(&c->port);
		mdm_eal_fini();
	}
	mdm_daemon_destroy(c->d); /* and the config */
}

int main(int argc, char **argv)
{
	struct collector c = { .start_ns = mdm_mono_ns() };
	int code = configure(&c, argc, argv);

	if (code == MDM_DAEMON_GO_ON) {
		code = 1;
		/* signals first: every thread created from here on inherits the mask */
		if (mdm_daemon_start_signals(c.d) == 0 && connect_bus(&c) == 0 && ensure_streams(&c) == 0 &&
		    find_resume(&c) == 0 && start_checkpoints(&c) == 0 && start_eal(&c) == 0 && create_pipeline(&c) == 0 && serve_http(&c) == 0) {
			launch(&c);
			control_loop(&c);
			code = account(&c);
		}
	}
	collector_close(&c);
	return code;
}
