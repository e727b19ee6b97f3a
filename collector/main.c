/* mdmesh-collector: argv -> config -> NATS -> EAL -> port -> ring -> RX and
 * publisher lcores; the main lcore runs the control loop (stats, stop). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
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

#include "collector_cfg.h"
#include "collector_views.h"
#include "collector_stats.h"
#include "gap_report.h"
#include "mdm_addr.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_dashboard.h"
#include "mdm_eal.h"
#include "mdm_err.h"
#include "mdm_http.h"
#include "mdm_log.h"
#include "mdm_metrics.h"
#include "mdm_poll.h"
#include "mdm_port.h"
#include "mdm_signal.h"
#include "mdm_subject.h"
#include "publish.h"
#include "rerequest.h"
#include "resume.h"
#include "rx.h"
#include "rx_event.h"

#define PROG "mdmesh-collector"

static volatile int signals_seen;

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

static void on_signal(int sig, void *ctx)
{
	(void)ctx;
	if (sig == SIGHUP)
		return; /* the collector's config is immutable while running */
	signals_seen++;
	mdm_poll_stop();
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

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },   { "nats", required_argument, NULL, 'n' },
	{ "pcap", required_argument, NULL, 'p' },     { "iface", required_argument, NULL, 'i' },
	{ "feed-dst", required_argument, NULL, 'd' }, { "exit-on-eof", no_argument, NULL, 'e' },
	{ "http", required_argument, NULL, 'H' },     { "instance", required_argument, NULL, 'I' },
	{ "set", required_argument, NULL, 's' },      { "print-config", no_argument, NULL, 'P' },
	{ "log-level", required_argument, NULL, 'l' }, { "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },        { NULL, 0, NULL, 0 },
};

struct flag {
	const char *key, *value, *origin;
};

/* Create or update a stream the collector publishes into (MD or MDB, and
 * ALERTS), and say what was done. */
static int ensure_stream(struct mdm_bus *bus, const struct collector_cfg *cfg, const char *name,
			 const struct mdm_cfg_strlist *list, bool events)
{
	const char *subjects[16];
	struct mdm_stream_cfg sc = { 0 };
	int rc;

	if (list->n > 16) {
		mdm_log_error("stream %s: %zu subjects, at most 16", name, list->n);
		return -EINVAL;
	}
	for (size_t i = 0; i < list->n; i++)
		subjects[i] = list->v[i];
	sc.name = name;
	sc.subjects = subjects;
	sc.n_subjects = list->n;
	sc.replicas = (int)cfg->stream_replicas;
	sc.max_bytes = -1;
	sc.max_msgs = -1;
	if (events) {
		sc.memory = cfg->stream_storage == COLLECTOR_STORAGE_MEMORY;
		sc.max_age_ns = (int64_t)cfg->stream_max_age_ns;
		sc.max_bytes = cfg->stream_max_bytes ? (int64_t)cfg->stream_max_bytes : -1;
		sc.duplicate_window_ns = cfg->stream_duplicate_window_ns;
	}
	mdm_err_clear();
	rc = mdm_bus_stream_ensure(bus, &sc);
	if (rc < 0) {
		mdm_log_error("stream %s: %s", name, mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
		return rc;
	}
	mdm_log_info("stream %s %s", name,
		     rc == MDM_BUS_CREATED ? "created" : rc == MDM_BUS_UPDATED ? "updated" : "up to date");
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

int main(int argc, char **argv)
{
	struct collector_cfg cfg;
	struct flag flags[64];
	int n_flags = 0, c, rc, exit_code = 1, n_eal_extra = 0;
	const char *config_path = NULL;
	bool print_config = false;
	char **eal_extra = NULL;
	struct mdm_bus *bus = NULL;
	struct mdm_port port = { 0 };
	struct rte_ring *ring = NULL;
	struct rx *rx = NULL;
	struct views *views = NULL;
	struct publish *pb = NULL;
	struct collector_stats *cs = NULL;
	struct mdm_http *http = NULL;
	struct rerequest *rr = NULL;
	struct gap_report *gr = NULL;
	struct resume_point *resume = NULL;
	bool eal_up = false;
	unsigned rx_lcore, pub_lcore;
	const char *stream_name;
	const struct mdm_cfg_strlist *stream_subjects;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			eal_extra = argv + i + 1;
			n_eal_extra = argc - i - 1;
			argc = i;
			break;
		}
	}
	while ((c = getopt_long(argc, argv, "c:hV", long_opts, NULL)) != -1) {
		const char *key = NULL, *origin = NULL;

		switch (c) {
		case 'c': config_path = optarg; continue;
		case 'n': key = "nats.url"; origin = "--nats"; break;
		case 'p': key = "input.pcap"; origin = "--pcap"; break;
		case 'i': key = "input.iface"; origin = "--iface"; break;
		case 'd': key = "feed.dst"; origin = "--feed-dst"; break;
		case 'e': key = "input.exit_on_eof"; origin = "--exit-on-eof"; optarg = "true"; break;
		case 'H': key = "http.listen"; origin = "--http"; break;
		case 'I': key = "instance"; origin = "--instance"; break;
		case 'l': key = "log_level"; origin = "--log-level"; break;
		case 's': {
			char *eq = strchr(optarg, '=');

			if (!eq) {
				fprintf(stderr, PROG ": --set '%s': expected KEY=VALUE\n", optarg);
				return 2;
			}
			*eq = '\0';
			key = optarg;
			optarg = eq + 1;
			origin = "--set";
			break;
		}
		case 'P': print_config = true; continue;
		case 'h': usage(stdout); return 0;
		case 'V': printf(PROG " %s\n", MDM_VERSION); return 0;
		default: usage(stderr); return 2;
		}
		if (n_flags == 64) {
			fprintf(stderr, PROG ": too many options\n");
			return 2;
		}
		flags[n_flags++] = (struct flag){ key, optarg, origin };
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (EAL arguments go after --)\n", argv[optind]);
		return 2;
	}

	/* Config: file (or defaults), environment, then flags. */
	rc = collector_cfg_load(&cfg, config_path);
	for (int i = 0; rc == 0 && i < n_flags; i++)
		rc = mdm_cfg_set(collector_cfg_schema, collector_cfg_schema_len, &cfg, flags[i].key, flags[i].value,
				 flags[i].origin);
	if (rc != 0) {
		fprintf(stderr, PROG ": %s\n", mdm_err_last());
		collector_cfg_free(&cfg);
		return 2;
	}
	if (print_config) {
		mdm_cfg_print(collector_cfg_schema, collector_cfg_schema_len, &cfg, stdout);
		collector_cfg_free(&cfg);
		return 0;
	}
	if (collector_cfg_validate(&cfg) != 0) {
		fprintf(stderr, PROG ": %s%s%s\n", config_path ? config_path : "", config_path ? ": " : "",
			mdm_err_last());
		collector_cfg_free(&cfg);
		return 2;
	}
	{
		enum mdm_log_level lvl;

		if (mdm_log_level_parse(cfg.log_level ? cfg.log_level : "info", &lvl) == 0)
			mdm_log_set_level(lvl);
		mdm_log_init("collector", cfg.instance);
	}

	stream_name = cfg.stream_name;
	stream_subjects = &cfg.stream_subjects;

	/* Signals first: every thread created from here on inherits the mask. */
	rc = mdm_signal_start(on_signal, NULL);
	if (rc != 0) {
		mdm_log_error("signal set-up: %s", mdm_strerror(rc));
		goto out;
	}

	/* NATS before EAL: a missing server is the most common error, and
	 * nats.c's threads then keep the process's full CPU affinity. */
	{
		struct mdm_bus_params bp;

		mdm_bus_params_init(&bp);
		mdm_nats_cfg_apply(&cfg.nats, &bp);
		bp.name = cfg.instance;
		bp.max_pending = (uint32_t)cfg.publish_max_pending;
		bp.ack_timeout_ms = cfg.publish_ack_timeout_ns / MDM_NS_PER_MS;
		bp.max_attempts = (uint32_t)cfg.publish_max_retries + 1;
		rc = mdm_bus_create(&bus, &bp);
		if (rc != 0) {
			mdm_log_error("NATS: %s", mdm_err_last());
			goto out;
		}
		/* batch mode publishes EventBatch messages to their own stream (MDB,
		 * mdb.>): MD keeps one MarketEvent per message for its consumers */
		if (cfg.publish_mode == COLLECTOR_PUBLISH_BATCH) {
			stream_name = cfg.stream_batch_name;
			stream_subjects = &cfg.stream_batch_subjects;
		}
		/* permanent gaps are alerts (alert.system.gap): their stream too */
		if (ensure_stream(bus, &cfg, stream_name, stream_subjects, true) != 0 ||
		    ensure_stream(bus, &cfg, cfg.alerts_stream, &cfg.alerts_subjects, false) != 0 ||
		    collector_views_streams(bus, &cfg) != 0)
			goto out;
		if ((cfg.feed_resume == COLLECTOR_RESUME_ON ||
		     (cfg.feed_resume == COLLECTOR_RESUME_AUTO && !(cfg.input_pcap && cfg.input_pcap[0]))) &&
		    resume_find(bus, &cfg, stream_name, &resume) != 0)
			goto out;
	}

	/* EAL and the port. */
	{
		char vdev[1024], port_name[128];
		const char *vdevs[1] = { vdev }, *allow[1] = { cfg.input_pci };
		struct mdm_eal_params ep = { .prog = PROG, .no_huge = cfg.eal_no_huge, .mem_mb = (unsigned)cfg.eal_mem_mb,
					     .lcores = cfg.eal_lcores && cfg.eal_lcores[0] ? cfg.eal_lcores : NULL,
					     .log_level = cfg.eal_log_level, .no_telemetry = false };
		char *extra[64];
		int n_extra = 0;
		struct mdm_port_params pp = { .rx_desc = (uint16_t)cfg.input_rx_desc, .mbufs = (uint32_t)cfg.input_mbufs };

		for (size_t i = 0; i < cfg.eal_args.n && n_extra < 64; i++)
			extra[n_extra++] = cfg.eal_args.v[i];
		for (int i = 0; i < n_eal_extra && n_extra < 64; i++)
			extra[n_extra++] = eal_extra[i];
		ep.extra = extra;
		ep.n_extra = n_extra;
		if (cfg.input_pcap && cfg.input_pcap[0]) {
			if (access(cfg.input_pcap, R_OK) != 0) {
				mdm_log_error("input.pcap %s: %s", cfg.input_pcap, strerror(errno));
				goto out;
			}
			snprintf(vdev, sizeof(vdev), "net_pcap0,rx_pcap=%s%s", cfg.input_pcap,
				 cfg.input_pcap_loop ? ",infinite_rx=1" : "");
			snprintf(port_name, sizeof(port_name), "net_pcap0");
		} else if (cfg.input_iface && cfg.input_iface[0]) {
			snprintf(vdev, sizeof(vdev), "net_af_packet0,iface=%s,blocksz=65536,framesz=2048,framecnt=%" PRIu64,
				 cfg.input_iface, cfg.input_af_packet_frames);
			snprintf(port_name, sizeof(port_name), "net_af_packet0");
			/* af_packet copies whole ring frames (framesz 2048 less its header) */
			pp.data_room = RTE_PKTMBUF_HEADROOM + 2048;
		} else if (cfg.input_vdev && cfg.input_vdev[0]) {
			snprintf(vdev, sizeof(vdev), "%s", cfg.input_vdev);
			snprintf(port_name, sizeof(port_name), "%.*s", (int)strcspn(vdev, ","), vdev);
		} else {
			snprintf(port_name, sizeof(port_name), "%s", cfg.input_pci);
		}
		if (cfg.input_pci && cfg.input_pci[0]) {
			ep.allow = allow;
			ep.n_allow = 1;
		} else {
			ep.vdevs = vdevs;
			ep.n_vdevs = 1;
			ep.no_pci = true;
		}
		rc = mdm_eal_init(&ep);
		if (rc != 0) {
			mdm_log_error("EAL: %s", mdm_err_last());
			goto out;
		}
		eal_up = true;
		pp.name = port_name;
		rc = mdm_port_open(&port, &pp);
		if (rc != 0) {
			mdm_log_error("%s", mdm_err_last());
			goto out;
		}
		rx_lcore = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
		pub_lcore = rte_get_next_lcore(rx_lcore, 1, 0);
		if (rx_lcore >= RTE_MAX_LCORE || pub_lcore >= RTE_MAX_LCORE) {
			mdm_log_error("eal.lcores: need a main lcore and 2 workers (RX, publisher), e.g. "
				      "'0@(0-1),1@(0-1),2@(0-1)'");
			goto out;
		}
	}

	ring = rte_ring_create_elem("rx_pub", sizeof(struct rx_event), (unsigned)cfg.ring_size, (int)rte_socket_id(),
				    RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!ring) {
		mdm_log_error("ring of %" PRIu64 " events: %s (raise eal.mem_mb)", cfg.ring_size, rte_strerror(rte_errno));
		goto out;
	}
	{
		struct rx_params rp = { .port = &port, .ring = ring, .drop_when_full = cfg.ring_full_policy == COLLECTOR_FULL_DROP,
					.exit_on_eof = cfg.input_exit_on_eof, .idle_spin = (uint32_t)cfg.poll_idle_spin,
					.idle_sleep_us = (uint32_t)(cfg.poll_idle_sleep_ns / MDM_NS_PER_US) };
		struct publish_params pp = { .ring = ring, .bus = bus, .feed = cfg.feed_name,
					     .subject_prefix = cfg.subject_prefix,
					     .session_date = (uint32_t)cfg.feed_session_date,
					     .origin_itch = cfg.latency_origin == COLLECTOR_ORIGIN_ITCH,
					     .max_in_flight = (uint32_t)cfg.publish_max_pending * 2,
					     .idle_spin = (uint32_t)cfg.poll_idle_spin,
					     .idle_sleep_us = (uint32_t)(cfg.poll_idle_sleep_ns / MDM_NS_PER_US),
					     .drop_when_full = cfg.ring_full_policy == COLLECTOR_FULL_DROP,
					     .batch = cfg.publish_mode == COLLECTOR_PUBLISH_BATCH,
					     .batch_max_events = (uint32_t)cfg.publish_batch_max_events,
					     .partitions = (uint32_t)cfg.publish_partitions,
					     .batch_max_delay_ns = cfg.publish_batch_max_delay_ns,
					     /* a replay cuts batches by its content only, so
					      * replaying it again forms the same Msg-Ids */
					     .batch_delay_flush = !(cfg.input_pcap && cfg.input_pcap[0]) };
		struct collector_stats_params sp = { .instance = cfg.instance, .feed = cfg.feed_name, .port = &port,
						     .ring = ring, .bus = bus, .hlog_path = cfg.latency_hlog };

		rp.n_lines = cfg.feed_dst_b && cfg.feed_dst_b[0] ? 2 : 1;
		if (parse_dst(cfg.feed_dst, &rp.dst_ip[0], &rp.dst_port[0]) != 0 ||
		    (rp.n_lines == 2 && parse_dst(cfg.feed_dst_b, &rp.dst_ip[1], &rp.dst_port[1]) != 0)) {
			mdm_log_error("feed.dst/feed.dst_b: expected ADDR:PORT or 'any'");
			goto out;
		}
		rp.feed.n_lines = rp.n_lines;
		rp.feed.book_capacity = (uint32_t)cfg.feed_book_capacity;
		rp.feed.gap_capacity = (uint32_t)cfg.feed_gap_capacity;
		rp.feed.pending_ns = cfg.feed_gap_pending_ns;
		mdm_err_clear(); /* the set-up message below must be this set-up's, never an older one */
		{
			struct rerequest_params rq = {
				.servers = (const char *const *)cfg.feed_rerequest.v, .n_servers = cfg.feed_rerequest.n,
				.rate_per_s = cfg.feed_rerequest_rate, .burst = (uint32_t)cfg.feed_rerequest_burst,
				.max_count = (uint32_t)cfg.feed_rerequest_max_count, .timeout_ns = cfg.feed_rerequest_timeout_ns,
				.retries = (uint32_t)cfg.feed_rerequest_retries, .capacity = (uint32_t)cfg.feed_gap_capacity,
				.line = (uint8_t)rp.n_lines,
			};
			struct gap_report_params gp = { .bus = bus, .feed = cfg.feed_name, .subject = "alert.system.gap" };

			rc = rerequest_create(&rr, &rq);
			gp.rr = rr;
			if (rc == 0)
				rc = gap_report_create(&gr, &gp);
		}
		rp.rr = rr;
		if (rc == 0)
			rc = collector_views_create(&views, &cfg);
		rp.feed.views = views;
		if (rc == 0)
			rc = rx_create(&rx, &rp);
		if (rc == 0 && resume && resume->found) {
			struct feed_resume fr;

			/* the RX core's sequencer clock: TSC in ns */
			resume_point_feed(resume, rte_rdtsc() / (rte_get_tsc_hz() / 1000000) * 1000, &fr);
			rc = rx_resume(rx, &fr);
		}
		if (rc == 0)
			rc = publish_create(&pb, &pp);
		sp.rx = rx;
		sp.pb = pb;
		sp.rr = rr;
		sp.gr = gr;
		if (rc == 0)
			rc = collector_stats_create(&cs, &sp);
		if (rc != 0) {
			mdm_log_error("set-up: %s", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
			goto out;
		}
	}
	if (cfg.http_listen && cfg.http_listen[0]) {
		struct mdm_http_params hp = { .bind = cfg.http_listen,
					      .bearer_token = cfg.http_token && cfg.http_token[0] ? cfg.http_token : NULL };

		rc = mdm_http_create(&http, &hp);
		if (rc == 0)
			rc = mdm_metrics_serve(collector_stats_metrics(cs), http);
		if (rc == 0)
			rc = mdm_dashboard_serve(http);
		if (rc == 0)
			rc = mdm_http_start(http);
		if (rc != 0) {
			mdm_log_error("http.listen %s: %s", cfg.http_listen, mdm_err_last());
			goto out;
		}
		mdm_log_info("metrics on http://%.*s:%u/metrics", (int)(strrchr(cfg.http_listen, ':') ? strrchr(cfg.http_listen, ':') - cfg.http_listen : 0),
			     cfg.http_listen, mdm_http_port(http));
	}

	mdm_log_info("receiving on %s, publishing to %s stream %s%s", port.name, cfg.nats.url, stream_name,
		     cfg.publish_mode == COLLECTOR_PUBLISH_BATCH ? " (EventBatch on mdb.<feed>.<partition>)" : "");
	if (rerequest_servers(rr))
		mdm_log_info("gap recovery: %zu re-request server(s) from UDP port %u, at most %" PRIu64 " requests/s",
			     rerequest_servers(rr), rerequest_local_port(rr), cfg.feed_rerequest_rate);
	rte_eal_remote_launch(publish_lcore_main, pb, pub_lcore);
	rte_eal_remote_launch(rx_lcore_main, rx, rx_lcore);

	/* Control loop: stats every interval; a stop (signal or end of input)
	 * drains: RX stops, the publisher empties the ring, acks are awaited. */
	{
		uint64_t next_tick = mdm_mono_ns() + cfg.stats_interval_ns, drain_deadline = 0;
		bool rx_done = false, pub_done = false;
		int seen = 0;

		while (!pub_done) {
			uint64_t now = mdm_mono_ns();

			if (!rx_done && rte_eal_get_lcore_state(rx_lcore) != RUNNING) {
				rte_eal_wait_lcore(rx_lcore);
				rx_done = true;
				publish_finish(pb);
				drain_deadline = now + cfg.publish_drain_timeout_ns;
				mdm_log_info("input %s; draining %u queued events",
					     rx_stats(rx)->eof ? "ended" : "stopped", rte_ring_count(ring));
			}
			if (rx_done && rte_eal_get_lcore_state(pub_lcore) != RUNNING) {
				rte_eal_wait_lcore(pub_lcore);
				pub_done = true;
			}
			if (signals_seen > 1 && seen < 2) {
				seen = 2;
				mdm_log_warn("second signal: stopping without draining");
				publish_abort(pb);
			} else if (rx_done && now > drain_deadline && seen < 2) {
				seen = 2;
				mdm_log_warn("drain timeout (publish.drain_timeout): stopping with events queued");
				publish_abort(pb);
			}
			gap_report_drain(gr);
			if (now >= next_tick) {
				collector_stats_tick(cs);
				next_tick = now + cfg.stats_interval_ns;
			}
			if (!pub_done)
				mdm_sleep_ns(20 * MDM_NS_PER_MS);
		}
		if (signals_seen < 2) {
			uint64_t left_ns = drain_deadline > mdm_mono_ns() ? drain_deadline - mdm_mono_ns() : 0;

			if (mdm_bus_publish_drain(bus, left_ns / MDM_NS_PER_MS + 1) != 0)
				mdm_log_warn("acks still outstanding: %s", mdm_err_last());
		}
		gap_report_drain(gr);
		collector_stats_tick(cs);
	}
	{
		struct collector_account a;

		collector_stats_summary(cs, stderr);
		collector_stats_account(cs, &a);
		exit_code = a.balanced && a.in_flight == 0 && a.in_ring == 0 && a.failed == 0 && a.dropped_stop == 0 &&
				    a.encode_errors == 0
			    ? 0
			    : 1;
		if (exit_code)
			mdm_log_error("not every event reached the stream (see the summary)");
	}
out:
	mdm_poll_stop();
	if (pb)
		publish_abort(pb);
	if (eal_up)
		rte_eal_mp_wait_lcore();
	mdm_http_destroy(http);
	collector_stats_destroy(cs);
	resume_point_destroy(resume);
	/* The bus before the publisher: destroying the bus hands every publish
	 * still unacknowledged (a drain that timed out) back to the ack handler,
	 * whose context is pb (a SIGSEGV at SIGTERM under starvation). */
	mdm_bus_destroy(bus);
	publish_destroy(pb);
	rx_destroy(rx);
	views_destroy(views);
	gap_report_destroy(gr);
	rerequest_destroy(rr);
	if (ring)
		rte_ring_free(ring);
	if (eal_up) {
		mdm_port_close(&port);
		mdm_eal_fini();
	}
	collector_cfg_free(&cfg);
	return exit_code;
}
