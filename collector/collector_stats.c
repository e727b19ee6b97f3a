/* Collector metrics, latency intervals and the shutdown summary. */
#include "collector_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ring.h>

#include "feed.h"
#include "gap_report.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_latency.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_metrics.h"
#include "mdm_port.h"
#include "publish.h"
#include "rerequest.h"
#include "rx.h"
#include "seq.h"
#include "soup_input.h"
#include "ckpt_writer.h"

/* Dropped sequence ranges of both drop points (RX's newest, the publisher's
 * oldest), at most what their tables keep. */
#define DROP_RANGES_MAX (RX_DROP_RANGES + PUBLISH_DROP_RANGES)
#define DROP_LOG_MAX 8 /* ranges listed per log line */

struct drop_range {
	uint64_t first, last;
};

/* Where the drop log left off in one range table. */
struct drop_cursor {
	uint64_t ranges; /* ranges logged */
	uint64_t last;   /* the newest logged range's end (it may grow since) */
};

struct collector_stats {
	struct collector_stats_params p;
	char instance[64], feed[64], stats_subject[128];
	struct mdm_metrics *reg;
	struct mdm_latency *lat;         /* stage latency: intervals, totals, hlog */
	pthread_mutex_t lock;            /* port and ring_used: ticks vs HTTP renders */
	struct mdm_port_stats port;      /* refreshed per tick (read under lock) */
	uint64_t ring_used, ring_size, in_flight;
	struct mdm_buf scratch;
	/* label storage for per-reason / per-type series */
	char type_labels[ITCH_MSG_TYPES][2];
	/* drop log (control thread): per table, what was logged */
	struct drop_cursor log_rx, log_pub;
	uint64_t log_dropped;
};

void collector_stats_account(struct collector_stats *cs, struct collector_account *a)
{
	const struct rx_stats *rs = rx_stats(cs->p.rx);
	const struct publish_stats *ps = publish_stats(cs->p.pb);

	memset(a, 0, sizeof(*a));
	a->events = mdm_counter_get(&rs->events);
	a->dropped_ring = mdm_counter_get(&rs->dropped) + mdm_counter_get(&ps->dropped_full);
	a->stored = mdm_counter_get(&ps->stored);
	a->duplicates = mdm_counter_get(&ps->duplicates);
	a->failed = mdm_counter_get(&ps->failed);
	a->encode_errors = mdm_counter_get(&ps->encode_errors);
	a->dropped_stop = mdm_counter_get(&ps->dropped_at_stop);
	a->in_flight = publish_in_flight(cs->p.pb);
	a->in_ring = mdm_counter_get(&rs->enqueued) - mdm_counter_get(&ps->dequeued);
	{
		/* market view records share the ring but are no events */
		uint64_t views_queued = mdm_counter_get(&rs->views) - mdm_counter_get(&rs->views_dropped) -
					mdm_counter_get(&ps->view_records);

		a->in_ring = a->in_ring > views_queued ? a->in_ring - views_queued : 0;
	}
	a->balanced = a->events == a->stored + a->duplicates + a->dropped_ring + a->dropped_stop + a->failed +
					   a->encode_errors + a->in_ring + a->in_flight;
}

static int range_cmp(const void *a, const void *b)
{
	const struct drop_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* Copy the ranges a table still holds (count `n`, ring of `cap`) to out[]. */
static size_t ranges_take(const uint64_t *first, const uint64_t *last, uint64_t n, size_t cap, struct drop_range *out)
{
	size_t k = 0;

	for (uint64_t i = n > cap ? n - cap : 0; i < n; i++, k++) {
		out[k].first = mdm_counter_get(&first[i % cap]);
		out[k].last = mdm_counter_get(&last[i % cap]);
	}
	return k;
}

/* Every dropped range both tables still hold, sorted, adjacent ones merged
 * (one run dropped partly by RX and partly by the publisher is one range).
 * *complete is false when older ranges fell out of a table. */
static size_t drop_ranges_merged(struct collector_stats *cs, struct drop_range *out, bool *complete)
{
	const struct rx_stats *rs = rx_stats(cs->p.rx);
	const struct publish_stats *ps = publish_stats(cs->p.pb);
	uint64_t nr = __atomic_load_n(&rs->drop_ranges, __ATOMIC_ACQUIRE);
	uint64_t np = __atomic_load_n(&ps->drop_ranges, __ATOMIC_ACQUIRE);
	size_t n = 0, m = 0;

	*complete = nr <= RX_DROP_RANGES && np <= PUBLISH_DROP_RANGES;
	n += ranges_take(rs->drop_first, rs->drop_last, nr, RX_DROP_RANGES, out + n);
	n += ranges_take(ps->drop_first, ps->drop_last, np, PUBLISH_DROP_RANGES, out + n);
	qsort(out, n, sizeof(*out), range_cmp);
	for (size_t i = 0; i < n; i++) {
		if (m && out[i].first <= out[m - 1].last + 1) {
			if (out[i].last > out[m - 1].last)
				out[m - 1].last = out[i].last;
			continue;
		}
		out[m++] = out[i];
	}
	return m;
}

/* Log what was dropped since the last call: the count and the ranges (new
 * ones, and the growth of the newest one logged before). Control thread. */
static void drop_log(struct collector_stats *cs)
{
	const struct rx_stats *rs = rx_stats(cs->p.rx);
	const struct publish_stats *ps = publish_stats(cs->p.pb);
	uint64_t dropped = mdm_counter_get(&rs->dropped) + mdm_counter_get(&ps->dropped_full);
	struct {
		const uint64_t *first, *last, *count;
		size_t cap;
		struct drop_cursor *cur;
	} src[2] = {
		{ ps->drop_first, ps->drop_last, &ps->drop_ranges, PUBLISH_DROP_RANGES, &cs->log_pub },
		{ rs->drop_first, rs->drop_last, &rs->drop_ranges, RX_DROP_RANGES, &cs->log_rx },
	};
	char list[DROP_LOG_MAX * 44 + 32];
	size_t len = 0, listed = 0, more = 0;

	if (dropped == cs->log_dropped)
		return;
	for (int t = 0; t < 2; t++) {
		uint64_t n = __atomic_load_n(src[t].count, __ATOMIC_ACQUIRE), i = src[t].cur->ranges;

		if (i && i + src[t].cap > n) {
			/* the newest range logged may have grown */
			uint64_t last = mdm_counter_get(&src[t].last[(i - 1) % src[t].cap]);

			if (last > src[t].cur->last) {
				if (listed < DROP_LOG_MAX && len < sizeof(list))
					len += (size_t)snprintf(list + len, sizeof(list) - len, " %" PRIu64 "-%" PRIu64,
								src[t].cur->last + 1, last);
				else
					more++;
				listed++;
				src[t].cur->last = last;
			}
		}
		if (n > i + src[t].cap) {
			more += n - src[t].cap - i; /* overwritten before this tick */
			i = n - src[t].cap;
		}
		for (; i < n; i++) {
			uint64_t f = mdm_counter_get(&src[t].first[i % src[t].cap]), l = mdm_counter_get(&src[t].last[i % src[t].cap]);

			if (listed < DROP_LOG_MAX && len < sizeof(list))
				len += (size_t)snprintf(list + len, sizeof(list) - len, " %" PRIu64 "-%" PRIu64, f, l);
			else
				more++;
			listed++;
			src[t].cur->last = l;
		}
		src[t].cur->ranges = n;
	}
	mdm_log_warn("ring full: %" PRIu64 " events dropped, sequence ranges%s%s", dropped - cs->log_dropped,
		     len ? list : " (none new)", more ? " and more (see the summary)" : "");
	cs->log_dropped = dropped;
}

/* ---- metrics ---- */

static void collect(void *ctx, struct mdm_metrics_writer *w)
{
	struct collector_stats *cs = ctx;
	const struct feed *f = rx_feed(cs->p.rx);
	const struct feed_stats *fs = feed_stats(f);
	const struct seq_stats *ss = seq_stats(feed_seq(f));
	const struct symbols_stats *ys = symbols_stats(feed_symbols(f));
	const struct publish_stats *ps = publish_stats(cs->p.pb);
	struct collector_account a;

	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_malformed_packets_total",
				 "MoldUDP64 packets rejected, by reason");
	for (int i = 1; i < MOLD_STATUS_COUNT; i++) {
		const char *l[] = { "reason", mold_status_name(i), NULL };

		mdm_metrics_write_u64(w, l, mdm_counter_get(&fs->malformed[i]));
	}
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_bad_messages_total",
				 "ITCH messages skipped (they consumed a sequence number), by reason");
	for (int i = 1; i < ITCH_STATUS_COUNT; i++) {
		const char *l[] = { "reason", itch_status_name(i), NULL };

		mdm_metrics_write_u64(w, l, mdm_counter_get(&fs->bad_msgs[i]));
	}
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_symbols_unusual_total",
				 "stock symbols kept as sent that a subject or text escapes (or, empty, refuses), by reason");
	for (int i = 0; i < SYMBOLS_UNUSUAL_COUNT; i++) {
		const char *l[] = { "reason", symbols_unusual_name(i), NULL };

		mdm_metrics_write_u64(w, l, mdm_counter_get(&ys->unusual[i]));
	}
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_events_by_type_total",
				 "events published, by ITCH message type");
	for (unsigned i = 0; i < ITCH_MSG_TYPES; i++) {
		const char *l[] = { "type", cs->type_labels[i], NULL };

		mdm_metrics_write_u64(w, l, mdm_counter_get(&ps->by_type[itch_desc_at(i)->type]));
	}
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_gap_messages_missing",
				 "declared missing sequence numbers not recovered");
	mdm_metrics_write_u64(w, NULL, mdm_counter_get(&ss->missing_now));
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_gaps_total", "gaps declared");
	mdm_metrics_write_u64(w, NULL, mdm_counter_get(&ss->gaps_opened));
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_duplicate_messages_total",
				 "messages dropped by the sequencer as already delivered (A/B, retransmits)");
	mdm_metrics_write_u64(w, NULL, mdm_counter_get(&ss->duplicates));
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_permanent_gaps_by_reason_total",
				 "gaps given up (alert.system.gap), by reason");
	{
		struct gap_report_counters gc;

		gap_report_counters(cs->p.gr, &gc);
		for (int r = REREQUEST_NO_SERVER; r <= REREQUEST_SESSION_CHANGE; r++) {
			const char *l[] = { "reason", rerequest_reason_name(r), NULL };

			mdm_metrics_write_u64(w, l, gc.by_reason[r]);
		}
		mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_gap_alerts_total",
					 "alert.system.gap publishes, by outcome");
		{
			const char *l1[] = { "outcome", "published", NULL }, *l2[] = { "outcome", "failed", NULL },
				   *l3[] = { "outcome", "dropped", NULL };

			mdm_metrics_write_u64(w, l1, gc.alerts_published);
			mdm_metrics_write_u64(w, l2, gc.alerts_failed);
			mdm_metrics_write_u64(w, l3, gc.alerts_dropped);
		}
	}

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
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_drop_ranges_total",
				 "runs of consecutive sequence numbers dropped (ring full), RX and publisher");
	mdm_metrics_write_u64(w, NULL, mdm_counter_get(&rx_stats(cs->p.rx)->drop_ranges) + mdm_counter_get(&ps->drop_ranges));
	if (cs->p.bus) {
		struct mdm_bus_counters bc;

		mdm_bus_counters_get(cs->p.bus, &bc);
		mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_bus_connected",
					 "1 while the NATS connection is up");
		mdm_metrics_write_u64(w, NULL, mdm_bus_connected(cs->p.bus));
		mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_bus_disconnects_total",
					 "NATS connection losses");
		mdm_metrics_write_u64(w, NULL, bc.disconnects);
		mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_publish_resends_total",
					 "publishes sent again with the same Nats-Msg-Id (no ack in time, or no responder)");
		mdm_metrics_write_u64(w, NULL, bc.retries);
		mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_publish_bus_down_seconds_total",
					 "time the publisher held an event while NATS was disconnected (the ring buffered behind it)");
		mdm_metrics_write_double(w, NULL, (double)mdm_counter_get(&ps->bus_down_ns) / 1e9);
		mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_publish_window",
					 "the adaptive in-flight window: publishes allowed to await their ack now");
		mdm_metrics_write_u64(w, NULL, bc.window);
		mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_publish_inflight",
					 "publishes awaiting their ack (or a resend)");
		mdm_metrics_write_u64(w, NULL, bc.in_flight);
		mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_publish_ack_seconds",
					 "publish->ack latency: min = the smallest lately (the server's service time), "
					 "mean = over the window's last round");
		{
			const char *lmin[] = { "stat", "min", NULL }, *lmean[] = { "stat", "mean", NULL };

			mdm_metrics_write_double(w, lmin, (double)bc.ack_rtt_min_ns / 1e9);
			mdm_metrics_write_double(w, lmean, (double)bc.ack_rtt_mean_ns / 1e9);
		}
	}
	pthread_mutex_lock(&cs->lock);
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_ring_used", "events queued RX -> publisher");
	mdm_metrics_write_u64(w, NULL, cs->ring_used);
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_ring_used_peak",
				 "most events queued in the ring while the publisher waited for NATS (outage buffer high water)");
	mdm_metrics_write_u64(w, NULL, mdm_counter_get(&ps->ring_peak));
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_collector_ring_size", "ring capacity");
	mdm_metrics_write_u64(w, NULL, cs->ring_size);
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_port_packets_total", "ethdev ipackets");
	mdm_metrics_write_u64(w, NULL, cs->port.ipackets);
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_port_missed_total",
				 "ethdev imissed: dropped by the NIC/vdev queue");
	mdm_metrics_write_u64(w, NULL, cs->port.imissed);
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_collector_port_nombuf_total", "ethdev rx_nombuf");
	mdm_metrics_write_u64(w, NULL, cs->port.rx_nombuf);
	pthread_mutex_unlock(&cs->lock);
	mdm_latency_write_summary(cs->lat, w, "mdmesh_collector_stage_latency_seconds",
				  "latency per stage over the last stats interval");
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
	{
		const struct rerequest_stats *rs = rerequest_stats(cs->p.rr);
		struct rerequest_gap recent[GAP_REPORT_RECENT], rec[GAP_REPORT_RECENT];
		unsigned n = gap_report_recent(cs->p.gr, false, recent, GAP_REPORT_RECENT);
		unsigned nr = gap_report_recent(cs->p.gr, true, rec, GAP_REPORT_RECENT);
		struct gap_report_counters gc;

		gap_report_counters(cs->p.gr, &gc);
		mdm_json_key(j, "recovery");
		mdm_json_obj_begin(j);
		mdm_json_ku64(j, "servers", rerequest_servers(cs->p.rr));
		mdm_json_ku64(j, "requests_sent", mdm_counter_get(&rs->requests_sent));
		mdm_json_ku64(j, "requests_answered", mdm_counter_get(&rs->requests_answered));
		mdm_json_ku64(j, "requests_timed_out", mdm_counter_get(&rs->requests_timed_out));
		mdm_json_ku64(j, "rate_limited", mdm_counter_get(&rs->rate_limited));
		mdm_json_ku64(j, "gaps_tracked", mdm_counter_get(&rs->gaps_tracked));
		mdm_json_ku64(j, "gaps_recovered", mdm_counter_get(&rs->gaps_recovered));
		mdm_json_ku64(j, "msgs_recovered", mdm_counter_get(&rs->msgs_recovered));
		mdm_json_ku64(j, "msgs_filled_late", mdm_counter_get(&rs->msgs_filled_late));
		mdm_json_ku64(j, "permanent_gaps", mdm_counter_get(&rs->permanent_gaps));
		mdm_json_ku64(j, "permanent_msgs", mdm_counter_get(&rs->permanent_msgs));
		mdm_json_ku64(j, "outstanding_gaps", mdm_counter_get(&rs->outstanding_gaps));
		mdm_json_ku64(j, "outstanding_msgs", mdm_counter_get(&rs->outstanding_msgs));
		mdm_json_ku64(j, "alerts_published", gc.alerts_published);
		mdm_json_ku64(j, "alerts_failed", gc.alerts_failed);
		mdm_json_key(j, "permanent");
		mdm_json_arr_begin(j);
		for (unsigned i = 0; i < n; i++) {
			mdm_json_obj_begin(j);
			mdm_json_ku64(j, "from", recent[i].from);
			mdm_json_ku64(j, "to", recent[i].to);
			mdm_json_kstr(j, "reason", rerequest_reason_name(recent[i].reason));
			mdm_json_ku64(j, "requests", recent[i].requests);
			mdm_json_obj_end(j);
		}
		mdm_json_arr_end(j);
		mdm_json_key(j, "recovered");
		mdm_json_arr_begin(j);
		for (unsigned i = 0; i < nr; i++) {
			mdm_json_obj_begin(j);
			mdm_json_ku64(j, "from", rec[i].from);
			mdm_json_ku64(j, "to", rec[i].to);
			mdm_json_ku64(j, "requests", rec[i].requests);
			mdm_json_obj_end(j);
		}
		mdm_json_arr_end(j);
		mdm_json_obj_end(j);
	}
	{
		struct drop_range r[DROP_RANGES_MAX];
		bool complete;
		size_t n = drop_ranges_merged(cs, r, &complete);

		mdm_json_key(j, "dropped_ranges");
		mdm_json_arr_begin(j);
		for (size_t i = 0; i < n; i++) {
			mdm_json_arr_begin(j);
			mdm_json_u64(j, r[i].first);
			mdm_json_u64(j, r[i].last);
			mdm_json_arr_end(j);
		}
		mdm_json_arr_end(j);
		mdm_json_kbool(j, "dropped_ranges_complete", complete);
	}
	if (cs->p.bus) {
		struct mdm_bus_counters bc;

		mdm_bus_counters_get(cs->p.bus, &bc);
		mdm_json_key(j, "bus");
		mdm_json_obj_begin(j);
		mdm_json_kbool(j, "connected", mdm_bus_connected(cs->p.bus));
		mdm_json_ku64(j, "disconnects", bc.disconnects);
		mdm_json_ku64(j, "reconnects", bc.reconnects);
		mdm_json_ku64(j, "resends", bc.retries);
		mdm_json_ku64(j, "window", bc.window);
		mdm_json_ku64(j, "window_min", bc.window_min);
		mdm_json_ku64(j, "window_max", bc.window_max);
		mdm_json_ku64(j, "inflight", bc.in_flight);
		mdm_json_ku64(j, "ack_min_ns", bc.ack_rtt_min_ns);
		mdm_json_ku64(j, "ack_mean_ns", bc.ack_rtt_mean_ns);
		mdm_json_ku64(j, "ack_rate", bc.ack_rate);
		mdm_json_obj_end(j);
	}
	mdm_json_key(j, "latency_ns");
	mdm_latency_write_json(cs->lat, j);
	mdm_json_obj_end(j);
}

static int register_counters(struct collector_stats *cs)
{
	const struct rx_stats *rs = rx_stats(cs->p.rx);
	const struct publish_stats *ps = publish_stats(cs->p.pb);
	const struct feed_stats *fs = feed_stats(rx_feed(cs->p.rx));
	const struct rerequest_stats *rrs = rerequest_stats(cs->p.rr);
	const struct book_stats *bs = book_stats(feed_book(rx_feed(cs->p.rx)));
	const struct symbols_stats *ys = symbols_stats(feed_symbols(rx_feed(cs->p.rx)));
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
	/* the order book: occupancy and long probes are what slow the RX core */
	C("book_full_total", "orders not tracked: the book held feed.book_capacity x 7/8 live orders", &bs->full);
	C("book_unknown_ref_total", "executions/cancels/deletes of orders the book never saw (joined mid-session)",
	  &bs->unknown_ref);
	if (rc == 0)
		rc = mdm_metrics_gauge_u64(r, "mdmesh_collector_book_orders", "live orders in the book", NULL, &bs->orders);
	if (rc == 0)
		rc = mdm_metrics_gauge_u64(r, "mdmesh_collector_book_max_orders",
					   "live orders the book accepts (7/8 of feed.book_capacity)", NULL, &bs->max_orders);
	if (rc == 0)
		rc = mdm_metrics_gauge_u64(r, "mdmesh_collector_book_max_probe",
					   "longest hash probe seen, in slots past the home slot", NULL, &bs->max_probe);
	/* symbols: a late joiner learns them from messages; unknown ones publish on `_` */
	C("symbols_learned_total", "locates named by a message's own stock: no stock directory (R) seen for them",
	  &ys->learned);
	C("symbols_redefined_total", "stock directory (R) messages that renamed a locate", &ys->redefined);
	C("symbols_unknown_total", "events without a stock of their own on a locate with no symbol (published on _)",
	  &ys->unknown);
	if (rc == 0)
		rc = mdm_metrics_gauge_u64(r, "mdmesh_collector_symbols_known", "locates with a symbol this session", NULL,
					   &ys->known);
	C("events_total", "decoded messages produced by the RX core", &rs->events);
	C("ring_full_total", "times the RX core found the ring full", &rs->ring_full);
	C("ring_blocked_polls_total", "retries while blocked on a full ring", &rs->blocked_polls);
	C("events_published_total", "events accepted for publishing", &ps->published);
	C("batches_published_total", "EventBatch messages accepted for publishing (publish.mode batch)", &ps->batches);
	C("events_stored_total", "events acked by JetStream as new", &ps->stored);
	C("events_duplicate_total", "events acked as already stored (same Nats-Msg-Id)", &ps->duplicates);
	C("publish_stalls_total", "publishes refused for back-pressure and retried", &ps->stalls);
	C("events_dropped_oldest_total", "ring.full_policy drop: queued events the publisher dropped at high water",
	  &ps->dropped_full);
	C("rerequests_sent_total", "MoldUDP64 re-requests sent", &rrs->requests_sent);
	C("rerequests_answered_total", "re-requests that brought missing messages", &rrs->requests_answered);
	C("rerequests_unanswered_total", "re-requests that brought nothing within feed.rerequest_timeout", &rrs->requests_timed_out);
	C("rerequests_rate_limited_total", "gaps that waited for the re-request rate limit", &rrs->rate_limited);
	C("rerequest_send_errors_total", "re-requests the socket refused", &rrs->send_errors);
	C("rerequest_responses_total", "datagrams from re-request servers", &rrs->responses);
	C("rerequest_foreign_total", "datagrams on the re-request socket from other addresses (dropped)",
	  &rrs->responses_foreign);
	C("recovery_packets_total", "re-request answers fed to the sequencer", &rs->recovery_packets);
	C("gaps_recovered_total", "declared gaps whose every message arrived", &rrs->gaps_recovered);
	C("gap_messages_recovered_total", "missing messages recovered by re-request", &rrs->msgs_recovered);
	C("gap_messages_late_total", "missing messages that came late on a live line", &rrs->msgs_filled_late);
	C("permanent_gaps_total", "gaps given up: logged and published as alert.system.gap", &rrs->permanent_gaps);
	C("permanent_gap_messages_total", "messages in permanent gaps", &rrs->permanent_msgs);
	C("views_bbo_published_total", "BBO views accepted for publishing (stream BBO)", &ps->views_bbo);
	C("views_depth_published_total", "DEPTH views accepted for publishing (stream DEPTH)", &ps->views_depth);
	C("views_core_total", "market views sent by core publish (views.publish core): stored by the stream, not acked",
	  &ps->views_core);
	C("views_stored_total", "market views acked by JetStream as new", &ps->views_stored);
	C("views_duplicate_total", "market views acked as already stored (same Nats-Msg-Id)", &ps->views_duplicates);
	C("views_failed_total", "market views refused or failed after the bus's retries", &ps->views_failed);
	C("views_unnamed_total", "market views not published: the locate's symbol is unknown (no stock directory seen)",
	  &rs->views_unnamed);
	C("views_errors_total", "market views dropped: a record lost in the ring, or not encodable", &ps->views_errors);
	C("origin_clock_ahead_total", "latency.origin itch: events whose ITCH time was after our decode time (sender clock ahead)",
	  &ps->origin_skew);
#undef C
	if (rc == 0)
		rc = mdm_metrics_gauge_u64(r, "mdmesh_collector_gaps_outstanding", "gaps being recovered", NULL,
				       &rrs->outstanding_gaps);
	if (rc == 0 && cs->p.soup)
		rc = soup_input_metrics(cs->p.soup, r);
	if (rc == 0 && cs->p.ckpt)
		rc = ckpt_writer_metrics(cs->p.ckpt, r);
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
	{
		struct mdm_latency_params lp = { .stage_names = publish_stage_names, .n_stages = STAGE_COUNT,
						 .hlog_path = p->hlog_path,
						 .hlog_comment = "mdmesh-collector stage latency, ns; tags are stages" };

		rc = mdm_latency_create(&cs->lat, &lp);
	}
	if (rc == 0)
		rc = mdm_metrics_create(&cs->reg);
	if (rc == 0)
		rc = register_counters(cs);
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
	mdm_metrics_destroy(cs->reg);
	mdm_latency_destroy(cs->lat);
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
	struct mdm_port_stats port = { 0 };
	struct mdm_json j;

	if (cs->p.soup)
		soup_input_log(cs->p.soup);
	publish_latency_take(cs->p.pb, mdm_latency_interval_begin(cs->lat));
	if (cs->p.port)
		mdm_port_stats_get(cs->p.port, &port);
	pthread_mutex_lock(&cs->lock);
	cs->port = port;
	cs->ring_used = rte_ring_count(cs->p.ring);
	pthread_mutex_unlock(&cs->lock);
	mdm_latency_interval_end(cs->lat, now_s);
	drop_log(cs);
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
		malformed += (unsigned)mdm_counter_get(&fs->malformed[i]);
	fprintf(f, "mdmesh-collector %s summary (feed %s, session %s)\n", cs->instance, cs->feed, feed_session(fd));
	fprintf(f, "  input      %" PRIu64 " packets, %" PRIu64 " not UDP, %" PRIu64 " other destination, "
		   "%u malformed, %" PRIu64 " heartbeats; port imissed %" PRIu64 ", rx_nombuf %" PRIu64 "\n",
		mdm_counter_get(&rs->packets), mdm_counter_get(&rs->not_udp), mdm_counter_get(&rs->other_dst), malformed, mdm_counter_get(&fs->heartbeats), cs->port.imissed,
		cs->port.rx_nombuf);
	if (cs->p.soup)
		soup_input_summary(cs->p.soup, f);
	{
		const struct book_stats *bs = book_stats(feed_book(fd));

		fprintf(f, "  book       %" PRIu64 " live orders, %" PRIu64 " levels; %" PRIu64
			   " messages for orders the book did not hold\n",
			mdm_counter_get(&bs->orders), mdm_counter_get(&bs->levels), mdm_counter_get(&bs->unknown_ref));
	}
	if (cs->p.ckpt)
		ckpt_writer_summary(cs->p.ckpt, f);
	else
		fprintf(f, "  book from  cold (recovery.checkpoint_interval 0: no checkpoints)\n");
	fprintf(f, "  sequence   next %" PRIu64 ", %" PRIu64 " duplicates dropped, %" PRIu64 " gaps (%" PRIu64
		   " messages missing)\n",
		seq_next(feed_seq(fd)), mdm_counter_get(&ss->duplicates), mdm_counter_get(&ss->gaps_opened),
		mdm_counter_get(&ss->missing_now));
	for (unsigned i = 0; i < ng; i++)
		fprintf(f, "    missing  %" PRIu64 "-%" PRIu64 "\n", from[i], to[i]);
	{
		const struct rerequest_stats *q = rerequest_stats(cs->p.rr);
		struct rerequest_gap recent[GAP_REPORT_RECENT], rec[GAP_REPORT_RECENT];
		unsigned n = gap_report_recent(cs->p.gr, false, recent, GAP_REPORT_RECENT);
		unsigned nr = gap_report_recent(cs->p.gr, true, rec, GAP_REPORT_RECENT);
		struct gap_report_counters gc;

		gap_report_counters(cs->p.gr, &gc);
		fprintf(f, "  recovery   %zu servers; requests sent %" PRIu64 ", answered %" PRIu64 ", timed out %" PRIu64
			   ", rate-limited %" PRIu64 "; gaps recovered %" PRIu64 " of %" PRIu64 " (%" PRIu64
			   " messages re-requested, %" PRIu64 " late on a line); permanent gaps %" PRIu64 " (%" PRIu64
			   " messages, %" PRIu64 " alerts published); still recovering %" PRIu64 "\n",
			rerequest_servers(cs->p.rr), mdm_counter_get(&q->requests_sent), mdm_counter_get(&q->requests_answered),
			mdm_counter_get(&q->requests_timed_out), mdm_counter_get(&q->rate_limited), mdm_counter_get(&q->gaps_recovered), mdm_counter_get(&q->gaps_tracked),
			mdm_counter_get(&q->msgs_recovered), mdm_counter_get(&q->msgs_filled_late), mdm_counter_get(&q->permanent_gaps), mdm_counter_get(&q->permanent_msgs),
			gc.alerts_published, mdm_counter_get(&q->outstanding_gaps));
		for (unsigned i = 0; i < nr; i++)
			fprintf(f, "    recovered %" PRIu64 "-%" PRIu64 " (%u requests)\n", rec[i].from, rec[i].to,
				rec[i].requests);
		for (unsigned i = 0; i < n; i++)
			fprintf(f, "    permanent %" PRIu64 "-%" PRIu64 " (%s, %u requests)\n", recent[i].from, recent[i].to,
				rerequest_reason_name(recent[i].reason), recent[i].requests);
	}
	fprintf(f, "  events     %" PRIu64 " = stored %" PRIu64 " + duplicate %" PRIu64 " + dropped(ring full) %" PRIu64
		   " + dropped(stop) %" PRIu64 " + failed %" PRIu64 " + encode errors %" PRIu64 " + queued %" PRIu64
		   " + in flight %" PRIu64 " : %s\n",
		a.events, a.stored, a.duplicates, a.dropped_ring, a.dropped_stop, a.failed, a.encode_errors, a.in_ring,
		a.in_flight, a.balanced ? "balanced" : "NOT BALANCED");
	{
		const struct publish_stats *ps = publish_stats(cs->p.pb);
		uint64_t first = mdm_counter_get(&ps->first_rx_ns), last = mdm_counter_get(&ps->last_ack_ns);

		if (mdm_counter_get(&ps->view_records))
			fprintf(f, "  views      %" PRIu64 " bbo + %" PRIu64 " depth published = core %" PRIu64
				   " + stored %" PRIu64 " + duplicate %" PRIu64 " + failed %" PRIu64 "; %" PRIu64 " dropped\n",
				mdm_counter_get(&ps->views_bbo), mdm_counter_get(&ps->views_depth),
				mdm_counter_get(&ps->views_core), mdm_counter_get(&ps->views_stored),
				mdm_counter_get(&ps->views_duplicates), mdm_counter_get(&ps->views_failed),
				mdm_counter_get(&ps->views_errors));

		if (first && last > first)
			fprintf(f, "  throughput %" PRIu64 " events acked in %.3f s = %.0f events/s (first packet to last ack)\n",
				a.stored + a.duplicates, (double)(last - first) / 1e9,
				(double)(a.stored + a.duplicates) * 1e9 / (double)(last - first));
	}
	{
		struct drop_range r[DROP_RANGES_MAX];
		bool complete;
		size_t n = drop_ranges_merged(cs, r, &complete);

		for (size_t i = 0; i < n; i++)
			fprintf(f, "    dropped  %" PRIu64 "-%" PRIu64 "\n", r[i].first, r[i].last);
		if (!complete)
			fprintf(f, "    dropped  (older ranges not kept: %" PRIu64 " recorded in all)\n",
				mdm_counter_get(&rs->drop_ranges) + mdm_counter_get(&publish_stats(cs->p.pb)->drop_ranges));
	}
	if (cs->p.bus) {
		struct mdm_bus_counters bc;

		mdm_bus_counters_get(cs->p.bus, &bc);
		fprintf(f, "  bus        %" PRIu64 " disconnects, %" PRIu64 " reconnects, %" PRIu64
			   " resends (same Nats-Msg-Id); the publisher waited %.3f s for a reconnect, the ring held up to %"
			   PRIu64 " events meanwhile\n",
			bc.disconnects, bc.reconnects, bc.retries, (double)mdm_counter_get(&publish_stats(cs->p.pb)->bus_down_ns) / 1e9,
			mdm_counter_get(&publish_stats(cs->p.pb)->ring_peak));
		fprintf(f, "  window     %" PRIu32 " now (%" PRIu32 "..%" PRIu32 "); ack latency min %" PRIu64 " ns, mean %" PRIu64
			   " ns; ack rate %" PRIu64 "/s (the adaptive in-flight window and what sized it)\n",
			bc.window, bc.window_min, bc.window_max, bc.ack_rtt_min_ns, bc.ack_rtt_mean_ns, bc.ack_rate);
	}
	mdm_latency_print(cs->lat, f);
}
