/* Collector metrics, latency intervals and the shutdown summary. */
#include "collector_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include <rte_ring.h>

#include "feed.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_hdr.h"
#include "mdm_hdr_log.h"
#include "mdm_json.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_metrics.h"
#include "mdm_port.h"
#include "publish.h"
#include "rx.h"
#include "seq.h"

static const double quantiles[] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
#define N_Q (sizeof(quantiles) / sizeof(quantiles[0]))

struct collector_stats {
	struct collector_stats_params p;
	char instance[64], feed[64], stats_subject[128];
	struct mdm_metrics *reg;
	/* latency: this interval, and since start */
	struct mdm_hdr *interval[STAGE_COUNT], *total[STAGE_COUNT];
	pthread_mutex_t lock;            /* the histograms: ticks vs HTTP renders */
	double last_q_ns[STAGE_COUNT][N_Q];
	FILE *hlog;
	struct mdm_hdr_log_writer hw;
	double start_s, last_tick_s;
	struct mdm_port_stats port;      /* refreshed per tick (read under lock) */
	uint64_t ring_used, ring_size, in_flight;
	struct mdm_buf scratch;
	/* label storage for per-reason / per-type series */
	char type_labels[ITCH_MSG_TYPES][2];
};

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void collector_stats_account(struct collector_stats *cs, struct collector_account *a)
{
	const struct rx_stats *rs = rx_stats(cs->p.rx);
	const struct publish_stats *ps = publish_stats(cs->p.pb);

	memset(a, 0, sizeof(*a));
	a->events = ld(&rs->events);
	a->dropped_ring = ld(&rs->dropped);
	a->stored = ld(&ps->stored);
	a->duplicates = ld(&ps->duplicates);
	a->failed = ld(&ps->failed);
	a->encode_errors = ld(&ps->encode_errors);
	a->dropped_stop = ld(&ps->dropped_at_stop);
	a->in_flight = publish_in_flight(cs->p.pb);
	a->in_ring = ld(&rs->enqueued) - ld(&ps->dequeued);
	a->balanced = a->events == a->stored + a->duplicates + a->dropped_ring + a->dropped_stop + a->failed +
					   a->encode_errors + a->in_ring + a->in_flight;
}

/* ---- metrics ---- */

static void collect(void *ctx, struct mdm_metrics_writer *w)
{
	struct collector_stats *cs = ctx;
	const struct feed *f = rx_feed(cs->p.rx);
	const struct feed_stats *fs = feed_stats(f);
	const struct seq_stats *ss = seq_stats(feed_seq(f));
	const struct publish_stats *ps = publish_stats(cs->p.pb);
	struct collector_account a;

	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_malformed_packets_total",
				 "MoldUDP64 packets rejected, by reason");
	for (int i = 1; i < MOLD_STATUS_COUNT; i++) {
		const char *l[] = { "reason", mold_status_name(-i), NULL };

		mdm_metrics_write_u64(w, l, ld(&fs->malformed[i]));
	}
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_bad_messages_total",
				 "ITCH messages skipped (they consumed a sequence number), by reason");
	{
		const char *l1[] = { "reason", "unknown_type", NULL }, *l2[] = { "reason", "bad_length", NULL },
			   *l3[] = { "reason", "empty", NULL };

		mdm_metrics_write_u64(w, l1, ld(&fs->unknown_type));
		mdm_metrics_write_u64(w, l2, ld(&fs->bad_length));
		mdm_metrics_write_u64(w, l3, ld(&fs->empty_msgs));
	}
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_events_by_type_total",
				 "events published, by ITCH message type");
	for (unsigned i = 0; i < ITCH_MSG_TYPES; i++) {
		const char *l[] = { "type", cs->type_labels[i], NULL };

		mdm_metrics_write_u64(w, l, ld(&ps->by_type[itch_desc_at(i)->type]));
	}
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_gap_messages_missing",
				 "declared missing sequence numbers not recovered");
	mdm_metrics_write_u64(w, NULL, ld(&ss->missing_now));
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_gaps_total", "gaps declared");
	mdm_metrics_write_u64(w, NULL, ld(&ss->gaps_opened));
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_duplicate_messages_total",
				 "messages dropped by the sequencer as already delivered (A/B, retransmits)");
	mdm_metrics_write_u64(w, NULL, ld(&ss->duplicates));

	collector_stats_account(cs, &a);
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_events_dropped_total",
				 "events lost, by reason");
	{
		const char *l1[] = { "reason", "ring_full", NULL }, *l2[] = { "reason", "stop", NULL },
			   *l3[] = { "reason", "publish_failed", NULL }, *l4[] = { "reason", "encode", NULL };

		mdm_metrics_write_u64(w, l1, a.dropped_ring);
		mdm_metrics_write_u64(w, l2, a.dropped_stop);
		mdm_metrics_write_u64(w, l3, a.failed);
		mdm_metrics_write_u64(w, l4, a.encode_errors);
	}
	pthread_mutex_lock(&cs->lock);
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_ring_used", "events queued RX -> publisher");
	mdm_metrics_write_u64(w, NULL, cs->ring_used);
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_ring_size", "ring capacity");
	mdm_metrics_write_u64(w, NULL, cs->ring_size);
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_port_packets_total", "ethdev ipackets");
	mdm_metrics_write_u64(w, NULL, cs->port.ipackets);
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_port_missed_total",
				 "ethdev imissed: dropped by the NIC/vdev queue");
	mdm_metrics_write_u64(w, NULL, cs->port.imissed);
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_port_nombuf_total", "ethdev rx_nombuf");
	mdm_metrics_write_u64(w, NULL, cs->port.rx_nombuf);
	mdm_metrics_write_family(w, MDM_METRICS_SUMMARY, "mdmesh_collector_stage_latency_seconds",
				 "latency per stage over the last stats interval");
	for (int s = 0; s < STAGE_COUNT; s++) {
		const char *l[] = { "stage", publish_stage_names[s], NULL };
		struct mdm_metrics_quantile qs[N_Q];

		for (size_t q = 0; q < N_Q; q++) {
			qs[q].q = quantiles[q];
			qs[q].value = cs->last_q_ns[s][q] / 1e9;
		}
		mdm_metrics_write_summary(w, l, qs, N_Q, mdm_hdr_mean(cs->total[s]) * (double)mdm_hdr_total_count(cs->total[s]) / 1e9,
					  mdm_hdr_total_count(cs->total[s]));
	}
	pthread_mutex_unlock(&cs->lock);
}

static void json_section(void *ctx, struct mdm_json *j)
{
	struct collector_stats *cs = ctx;
	struct collector_account a;

	collector_stats_account(cs, &a);
	mdm_json_obj_begin(j);
	mdm_json_kstr(j, "instance", cs->instance);
	mdm_json_kstr(j, "feed", cs->feed);
	mdm_json_kstr(j, "session", feed_session(rx_feed(cs->p.rx)));
	mdm_json_ku64(j, "ts_ns", mdm_real_ns());
	mdm_json_key(j, "account");
	mdm_json_obj_begin(j);
	mdm_json_ku64(j, "events", a.events);
	mdm_json_ku64(j, "stored", a.stored);
	mdm_json_ku64(j, "duplicates", a.duplicates);
	mdm_json_ku64(j, "dropped_ring_full", a.dropped_ring);
	mdm_json_ku64(j, "dropped_stop", a.dropped_stop);
	mdm_json_ku64(j, "failed", a.failed);
	mdm_json_ku64(j, "encode_errors", a.encode_errors);
	mdm_json_ku64(j, "in_ring", a.in_ring);
	mdm_json_ku64(j, "in_flight", a.in_flight);
	mdm_json_kbool(j, "balanced", a.balanced);
	mdm_json_obj_end(j);
	mdm_json_key(j, "latency_ns");
	mdm_json_obj_begin(j);
	pthread_mutex_lock(&cs->lock);
	for (int s = 0; s < STAGE_COUNT; s++) {
		static const char *const qn[N_Q] = { "p50", "p90", "p99", "p99.9", "max" };

		mdm_json_key(j, publish_stage_names[s]);
		mdm_json_obj_begin(j);
		for (size_t q = 0; q < N_Q; q++)
			mdm_json_kdbl(j, qn[q], cs->last_q_ns[s][q]);
		mdm_json_ku64(j, "count_total", mdm_hdr_total_count(cs->total[s]));
		mdm_json_obj_end(j);
	}
	pthread_mutex_unlock(&cs->lock);
	mdm_json_obj_end(j);
	mdm_json_obj_end(j);
}

static int register_counters(struct collector_stats *cs)
{
	const struct rx_stats *rs = rx_stats(cs->p.rx);
	const struct publish_stats *ps = publish_stats(cs->p.pb);
	const struct feed_stats *fs = feed_stats(rx_feed(cs->p.rx));
	struct mdm_metrics *r = cs->reg;
	int rc = 0;

#define C(name, help, var) \
	if (rc == 0)       \
	rc = mdm_metrics_counter(r, "mdmesh_collector_" name, help, NULL, var)
	C("rx_packets_total", "packets received by the RX core", &rs->packets);
	C("rx_bytes_total", "bytes received by the RX core", &rs->bytes);
	C("rx_not_udp_total", "frames that were not IPv4/UDP", &rs->not_udp);
	C("rx_other_destination_total", "UDP datagrams for another group/port", &rs->other_dst);
	C("heartbeats_total", "MoldUDP64 heartbeats", &fs->heartbeats);
	C("events_total", "decoded messages produced by the RX core", &rs->events);
	C("ring_full_total", "times the RX core found the ring full", &rs->ring_full);
	C("ring_blocked_polls_total", "retries while blocked on a full ring", &rs->blocked_polls);
	C("events_published_total", "events accepted for publishing", &ps->published);
	C("batches_published_total", "EventBatch messages accepted for publishing (publish.mode batch)", &ps->batches);
	C("events_stored_total", "events acked by JetStream as new", &ps->stored);
	C("events_duplicate_total", "events acked as already stored (same Nats-Msg-Id)", &ps->duplicates);
	C("publish_stalls_total", "publishes refused for back-pressure and retried", &ps->stalls);
	C("origin_clock_ahead_total", "latency.origin itch: events whose ITCH time was after our decode time (sender clock ahead)",
	  &ps->origin_skew);
#undef C
	if (rc == 0)
		rc = mdm_metrics_add_collector(r, collect, cs);
	if (rc == 0)
		rc = mdm_metrics_add_json_section(r, "collector", json_section, cs);
	return rc;
}

int collector_stats_create(struct collector_stats **out, const struct collector_stats_params *p)
{
	struct collector_stats *cs = mdm_calloc(1, sizeof(*cs));
	int rc = cs ? 0 : -ENOMEM;

	if (rc)
		return rc;
	cs->p = *p;
	snprintf(cs->instance, sizeof(cs->instance), "%s", p->instance);
	snprintf(cs->feed, sizeof(cs->feed), "%s", p->feed);
	snprintf(cs->stats_subject, sizeof(cs->stats_subject), "stats.collector.%s", p->instance);
	pthread_mutex_init(&cs->lock, NULL);
	for (unsigned i = 0; i < ITCH_MSG_TYPES; i++)
		cs->type_labels[i][0] = (char)itch_desc_at(i)->type;
	for (int s = 0; rc == 0 && s < STAGE_COUNT; s++) {
		rc = mdm_hdr_create(&cs->interval[s], 1, 3600LL * 1000000000LL, 3);
		if (rc == 0)
			rc = mdm_hdr_create(&cs->total[s], 1, 3600LL * 1000000000LL, 3);
	}
	if (rc == 0)
		rc = mdm_metrics_create(&cs->reg);
	if (rc == 0)
		rc = register_counters(cs);
	if (rc == 0 && p->hlog_path && p->hlog_path[0]) {
		cs->hlog = fopen(p->hlog_path, "w");
		if (!cs->hlog)
			rc = mdm_err_set(-errno, "latency.hlog %s: %s", p->hlog_path, strerror(errno));
	}
	cs->start_s = cs->last_tick_s = (double)mdm_real_ns() / 1e9;
	if (rc == 0 && cs->hlog) {
		mdm_hdr_log_writer_init(&cs->hw, cs->hlog);
		rc = mdm_hdr_log_write_header(&cs->hw, "mdmesh-collector stage latency, ns; tags are stages",
					      cs->start_s, true, cs->start_s);
	}
	cs->ring_size = rte_ring_get_capacity(p->ring);
	if (rc != 0) {
		collector_stats_destroy(cs);
		return rc;
	}
	*out = cs;
	return 0;
}

void collector_stats_destroy(struct collector_stats *cs)
{
	if (!cs)
		return;
	if (cs->hlog) {
		mdm_hdr_log_writer_fini(&cs->hw);
		fclose(cs->hlog);
	}
	mdm_metrics_destroy(cs->reg);
	for (int s = 0; s < STAGE_COUNT; s++) {
		mdm_hdr_destroy(cs->interval[s]);
		mdm_hdr_destroy(cs->total[s]);
	}
	mdm_buf_fini(&cs->scratch);
	mdm_free(cs);
}

struct mdm_metrics *collector_stats_metrics(struct collector_stats *cs)
{
	return cs->reg;
}

void collector_stats_tick(struct collector_stats *cs)
{
	double now_s = (double)mdm_real_ns() / 1e9;
	struct mdm_port_stats port;
	struct mdm_json j;

	for (int s = 0; s < STAGE_COUNT; s++)
		mdm_hdr_reset(cs->interval[s]);
	publish_latency_take(cs->p.pb, cs->interval);
	mdm_port_stats_get(cs->p.port, &port);
	pthread_mutex_lock(&cs->lock);
	cs->port = port;
	cs->ring_used = rte_ring_count(cs->p.ring);
	for (int s = 0; s < STAGE_COUNT; s++) {
		mdm_hdr_add(cs->total[s], cs->interval[s]);
		for (size_t q = 0; q < N_Q; q++)
			cs->last_q_ns[s][q] = mdm_hdr_total_count(cs->interval[s])
						      ? (double)(quantiles[q] >= 1.0 ? mdm_hdr_max(cs->interval[s])
								: mdm_hdr_value_at_percentile(cs->interval[s], quantiles[q] * 100))
						      : 0.0;
	}
	pthread_mutex_unlock(&cs->lock);
	if (cs->hlog) {
		for (int s = 0; s < STAGE_COUNT; s++)
			if (mdm_hdr_total_count(cs->interval[s]))
				mdm_hdr_log_write(&cs->hw, cs->last_tick_s - cs->start_s, now_s - cs->last_tick_s,
						  publish_stage_names[s], cs->interval[s]);
		fflush(cs->hlog);
	}
	cs->last_tick_s = now_s;
	/* live stats for subscribers: the same JSON as /stats.json */
	mdm_buf_reset(&cs->scratch);
	mdm_json_init(&j, &cs->scratch);
	if (mdm_metrics_render_json(cs->reg, &j) == 0 && cs->p.bus)
		mdm_bus_publish(cs->p.bus, cs->stats_subject, cs->scratch.data, cs->scratch.len);
}

void collector_stats_summary(struct collector_stats *cs, FILE *f)
{
	const struct rx_stats *rs = rx_stats(cs->p.rx);
	const struct feed *fd = rx_feed(cs->p.rx);
	const struct feed_stats *fs = feed_stats(fd);
	const struct seq_stats *ss = seq_stats(feed_seq(fd));
	struct collector_account a;
	uint64_t from[16], to[16];
	unsigned ng = seq_gaps(feed_seq(fd), from, to, 16), malformed = 0;

	collector_stats_account(cs, &a);
	for (int i = 1; i < MOLD_STATUS_COUNT; i++)
		malformed += (unsigned)fs->malformed[i];
	fprintf(f, "mdmesh-collector %s summary (feed %s, session %s)\n", cs->instance, cs->feed, feed_session(fd));
	fprintf(f, "  input      %" PRIu64 " packets, %" PRIu64 " not UDP, %" PRIu64 " other destination, "
		   "%u malformed, %" PRIu64 " heartbeats; port imissed %" PRIu64 ", rx_nombuf %" PRIu64 "\n",
		ld(&rs->packets), ld(&rs->not_udp), ld(&rs->other_dst), malformed, fs->heartbeats, cs->port.imissed,
		cs->port.rx_nombuf);
	fprintf(f, "  sequence   next %" PRIu64 ", %" PRIu64 " duplicates dropped, %" PRIu64 " gaps (%" PRIu64
		   " messages missing)\n",
		seq_next(feed_seq(fd)), ss->duplicates, ss->gaps_opened, ss->missing_now);
	for (unsigned i = 0; i < ng; i++)
		fprintf(f, "    missing  %" PRIu64 "-%" PRIu64 "\n", from[i], to[i]);
	fprintf(f, "  events     %" PRIu64 " = stored %" PRIu64 " + duplicate %" PRIu64 " + dropped(ring full) %" PRIu64
		   " + dropped(stop) %" PRIu64 " + failed %" PRIu64 " + encode errors %" PRIu64 " + queued %" PRIu64
		   " + in flight %" PRIu64 " : %s\n",
		a.events, a.stored, a.duplicates, a.dropped_ring, a.dropped_stop, a.failed, a.encode_errors, a.in_ring,
		a.in_flight, a.balanced ? "balanced" : "NOT BALANCED");
	{
		const struct publish_stats *ps = publish_stats(cs->p.pb);
		uint64_t first = ld(&ps->first_rx_ns), last = ld(&ps->last_ack_ns);

		if (first && last > first)
			fprintf(f, "  throughput %" PRIu64 " events acked in %.3f s = %.0f events/s (first packet to last ack)\n",
				a.stored + a.duplicates, (double)(last - first) / 1e9,
				(double)(a.stored + a.duplicates) * 1e9 / (double)(last - first));
	}
	for (uint64_t k = 0; k < ld(&rs->drop_ranges) && k < RX_DROP_RANGES; k++)
		fprintf(f, "    dropped  %" PRIu64 "-%" PRIu64 "\n", rs->drop_first[k], rs->drop_last[k]);
	fprintf(f, "  latency    (ns)            p50        p90        p99      p99.9        max      count\n");
	for (int s = 0; s < STAGE_COUNT; s++) {
		const struct mdm_hdr *h = cs->total[s];

		fprintf(f, "    %-20s %10" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRIu64 "\n",
			publish_stage_names[s], mdm_hdr_value_at_percentile(h, 50), mdm_hdr_value_at_percentile(h, 90),
			mdm_hdr_value_at_percentile(h, 99), mdm_hdr_value_at_percentile(h, 99.9), mdm_hdr_max(h),
			mdm_hdr_total_count(h));
	}
}
