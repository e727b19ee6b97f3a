/* RX lcore loop, shaped after DPDK l2fwd's main loop: data plane on every
 * pass, control plane (pending-gap declaration) once a TSC deadline is due. */
#include "rx.h"

#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mdm_counter.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_frame.h"
#include "mdm_poll.h"
#include "mdm_port.h"
#include "rerequest.h"
#include "rx_event.h"
#include "soup_input.h"
#include "symbols.h"
#include "views.h"
#include "views_rec.h"

/* Records produced by one burst: up to RX_BURST packets x ~45 messages. */
#define RX_OUT_CAP 2048
#define RX_RECOVER_BURST 32   /* re-request answers read per pass at most */
#define RX_RECOVER_BUF 2048   /* above MoldUDP64's 1472-byte packet limit */
#define PREFETCH_AHEAD 3

struct rx {
	struct rx_stats stats;  /* first: read by the control thread */
	void *mem;              /* the allocation (rx is aligned inside it) */
	struct feed *feed;
	const struct mdm_port *port;
	struct rte_ring *ring;
	uint32_t dst_ip[2];
	uint16_t dst_port[2];
	unsigned n_lines;
	bool drop_when_full;
	bool exit_on_eof;
	uint64_t eof_idle_tsc;
	struct mdm_idle idle;
	/* per-burst state */
	uint64_t burst_rx_ns;
	uint64_t burst_wire_ns;
	uint64_t burst_tsc;
	uint64_t ns_per_tsc_q32;    /* ns per TSC tick, 32.32 fixed point */
	uint8_t cur_line;
	unsigned n_out;
	struct rerequest *rr;
	struct soup_input *soup;
	uint64_t soup_now_ns;       /* the sequencer's clock for this pass's soup packets */
	struct views *views;        /* market views (borrowed), or NULL */
	void (*user_seq_event)(void *ctx, const struct seq_event *ev);
	void *user_ctx;
	bool rr_busy;               /* requests in flight: read the re-request socket */
	bool eof_declared;
	struct rx_event out[RX_OUT_CAP] __rte_cache_aligned;
	uint8_t recover_buf[RX_RECOVER_BUF];
};

/* Sequencer events (RX lcore): gap recovery follows the missing table. */
static void rx_seq_event(void *ctx, const struct seq_event *ev)
{
	struct rx *rx = ctx;

	if (rx->rr)
		rerequest_on_seq_event(rx->rr, ev);
	if (rx->user_seq_event)
		rx->user_seq_event(rx->user_ctx, ev);
}

int rx_create(struct rx **out, const struct rx_params *p)
{
	struct rx *rx;
	int rc;

	if (p->n_lines < 1 || p->n_lines > 2)
		return mdm_err_set(-EINVAL, "rx: %u lines (1 or 2)", p->n_lines);
	if (!p->port && !p->soup)
		return mdm_err_set(-EINVAL, "rx: no input (a port or input.soup)");
	if (rte_ring_get_size(p->ring) == 0)
		return mdm_err_set(-EINVAL, "rx: ring has no capacity");
	{
		/* out[] is cache-aligned, which the heap does not promise */
		void *mem = mdm_calloc(1, sizeof(*rx) + RTE_CACHE_LINE_SIZE);

		if (!mem)
			return -ENOMEM;
		rx = RTE_PTR_ALIGN_CEIL(mem, RTE_CACHE_LINE_SIZE);
		rx->mem = mem;
	}
	{
		struct feed_params fp = p->feed;

		rx->rr = p->rr;
		rx->views = fp.views;
		rx->user_seq_event = fp.on_seq_event;
		rx->user_ctx = fp.ctx;
		fp.on_seq_event = rx_seq_event;
		fp.ctx = rx;
		rc = feed_create(&rx->feed, &fp);
	}
	if (rc != 0) {
		mdm_free(rx->mem);
		return rc;
	}
	rx->port = p->port;
	rx->soup = p->soup;
	rx->ring = p->ring;
	memcpy(rx->dst_ip, p->dst_ip, sizeof(rx->dst_ip));
	memcpy(rx->dst_port, p->dst_port, sizeof(rx->dst_port));
	rx->n_lines = p->n_lines;
	rx->drop_when_full = p->drop_when_full;
	rx->exit_on_eof = p->exit_on_eof;
	rx->eof_idle_tsc = (p->eof_idle_ns ? p->eof_idle_ns : 200 * MDM_NS_PER_MS) * rte_get_tsc_hz() / MDM_NS_PER_S;
	rx->ns_per_tsc_q32 = (MDM_NS_PER_S << 32) / rte_get_tsc_hz();
	mdm_idle_init(&rx->idle, p->idle_spin, p->idle_sleep_us);
	*out = rx;
	return 0;
}

void rx_destroy(struct rx *rx)
{
	if (!rx)
		return;
	feed_destroy(rx->feed);
	mdm_free(rx->mem);
}

int rx_resume(struct rx *rx, const struct feed_resume *r)
{
	int rc = feed_resume(rx->feed, r);

	if (rc == 0 && rx->soup)
		soup_input_start_at(rx->soup, r->session, r->next);
	return rc;
}

const struct rx_stats *rx_stats(const struct rx *rx) { return &rx->stats; }
const struct feed *rx_feed(const struct rx *rx) { return rx->feed; }

static void record_drop(struct rx *rx, unsigned from, unsigned n)
{
	uint64_t k = rx->stats.drop_ranges % RX_DROP_RANGES, events = 0, first = 0, last = 0;

	/* market view records are no events: neither counted nor in the range */
	for (unsigned i = from; i < from + n; i++) {
		if (rx->out[i].flags & RX_EV_VIEWS) {
			mdm_counter_add(&rx->stats.views_dropped, 1);
			continue;
		}
		if (!events++)
			first = rx->out[i].seq;
		last = rx->out[i].seq;
	}
	if (!events)
		return;
	rx->stats.drop_first[k] = first;
	rx->stats.drop_last[k] = last;
	mdm_counter_add(&rx->stats.drop_ranges, 1);
	mdm_counter_add(&rx->stats.dropped, events);
}

/* Hand the burst's records to the publisher. Block policy: retry until the
 * publisher makes room (this core stops reading, so the NIC/vdev queue fills
 * and counts misses) or a stop is requested. While blocked the core backs off
 * like an idle poll: on a shared machine a spinning RX core would take the CPU
 * the publisher and nats-server need to drain the ring. */
static void rx_flush(struct rx *rx)
{
	unsigned done = 0;
	struct mdm_idle blocked = rx->idle;

	blocked.empty = 0;

	while (done < rx->n_out) {
		unsigned n = rte_ring_sp_enqueue_burst_elem(rx->ring, rx->out + done, sizeof(struct rx_event),
							    rx->n_out - done, NULL);

		done += n;
		mdm_counter_add(&rx->stats.enqueued, n);
		if (done == rx->n_out)
			break;
		if (n == 0 || done < rx->n_out) {
			mdm_counter_add(&rx->stats.ring_full, 1);
			if (rx->drop_when_full || mdm_poll_stopping()) {
				record_drop(rx, done, rx->n_out - done);
				break;
			}
			mdm_counter_add(&rx->stats.blocked_polls, 1);
			mdm_idle_wait(&blocked);
		}
	}
	rx->n_out = 0;
}

static void rx_emit(void *ctx, const struct feed_msg *fm)
{
	struct rx *rx = ctx;
	struct rx_event *e;

	if (unlikely(rx->n_out + 2 > RX_OUT_CAP))
		rx_flush(rx);
	if (fm->quote) {
		/* TBBO: the quote rides just before its event */
		e = &rx->out[rx->n_out++];
		e->seq = fm->seq;
		e->flags = RX_EV_QUOTE;
		e->len = 0;
		rx_event_payload_put(e, fm->quote, sizeof(*fm->quote));
		mdm_counter_add(&rx->stats.views, 1);
	}
	e = &rx->out[rx->n_out++];
	e->seq = fm->seq;
	e->rx_ts_ns = rx->burst_rx_ns;
	e->wire_ts_ns = rx->burst_wire_ns;
	e->decode_ns = (uint32_t)((rte_rdtsc() - rx->burst_tsc) * rx->ns_per_tsc_q32 >> 32);
	e->line = fm->line;
	e->len = (uint8_t)fm->m->desc->length;
	memcpy(e->msg, fm->m->p, e->len);
	e->symbol_len = (uint8_t)symbols_len(fm->stock);
	memset(e->symbol, 0, sizeof(e->symbol));
	if (e->symbol_len)
		memcpy(e->symbol, fm->stock, e->symbol_len);
	strncpy(e->session, fm->session, sizeof(e->session));
	if (fm->order) {
		e->flags = RX_EV_ORDER;
		encode_order_from_view(&e->order, fm->order);
	} else {
		e->flags = 0;
	}
	mdm_counter_add(&rx->stats.events, 1);
}

/* A market view of the packet just decoded: its records follow the packet's
 * events in the ring (views_rec.h). */
static void rx_view(void *ctx, const struct views_out *o)
{
	struct rx *rx = ctx;
	const uint8_t *stock = symbols_peek(feed_symbols(rx->feed), o->locate);
	char symbol[SYMBOLS_TEXT_MAX + 1];
	unsigned n;

	if (unlikely(!stock)) {
		/* no stock directory for it (joined mid-session): a view needs its
		 * symbol's subject, and every unnamed one would share `_` */
		mdm_counter_add(&rx->stats.views_unnamed, 1);
		return;
	}
	symbols_text(symbol, stock);
	if (unlikely(rx->n_out + VIEWS_REC_MAX > RX_OUT_CAP))
		rx_flush(rx);
	n = views_rec_put(o, feed_session(rx->feed), symbol, &rx->out[rx->n_out]);
	for (unsigned i = 0; i < n; i++) {
		struct rx_event *e = &rx->out[rx->n_out + i];

		/* the stock as sent, as events carry it (rx_event.h) */
		e->symbol_len = (uint8_t)symbols_len(stock);
		memset(e->symbol, 0, sizeof(e->symbol));
		memcpy(e->symbol, stock, e->symbol_len);

		e->rx_ts_ns = rx->burst_rx_ns;
		e->wire_ts_ns = rx->burst_wire_ns;
		e->decode_ns = 0;
		e->line = 0;
	}
	rx->n_out += n;
	mdm_counter_add(&rx->stats.views, n);
}

/* Which line a datagram belongs to, or -1 (software multicast/port filter:
 * vdevs deliver every frame on the wire). */
static inline int rx_line(const struct rx *rx, const struct mdm_pcap_udp *u)
{
	for (unsigned l = 0; l < rx->n_lines; l++)
		if ((!rx->dst_ip[l] || rx->dst_ip[l] == u->dst_ip) && (!rx->dst_port[l] || rx->dst_port[l] == u->dst_port))
			return (int)l;
	return -1;
}

static inline void rx_packet(struct rx *rx, struct rte_mbuf *m, uint64_t now_tsc)
{
	struct mdm_pcap_frame fr = { .data = rte_pktmbuf_mtod(m, const uint8_t *),
				     .caplen = rte_pktmbuf_data_len(m),
				     .origlen = rte_pktmbuf_pkt_len(m),
				     .linktype = MDM_PCAP_LINKTYPE_ETHERNET };
	struct mdm_pcap_udp u;
	uint64_t ts;
	int line;

	mdm_counter_add(&rx->stats.bytes, rte_pktmbuf_pkt_len(m));
	if (unlikely(m->nb_segs != 1) || mdm_pcap_parse_udp(&fr, &u) != MDM_PCAP_UDP_OK) {
		mdm_counter_add(&rx->stats.not_udp, 1);
		return;
	}
	line = rx_line(rx, &u);
	if (line < 0) {
		mdm_counter_add(&rx->stats.other_dst, 1);
		return;
	}
	/* net_pcap stamps microseconds since the epoch */
	rx->burst_wire_ns = mdm_port_rx_ts(rx->port, m, &ts) ? ts * MDM_NS_PER_US : 0;
	feed_on_packet(rx->feed, u.payload, u.payload_len, (uint8_t)line, now_tsc, rx_emit, rx);
	if (rx->views)
		views_flush(rx->views, feed_book(rx->feed), rx_view, rx);
}

/* Feed the re-request answers waiting on the socket (only while requests are
 * in flight), as line n_lines: the sequencer delivers what is missing and
 * counts the rest as duplicates. */
static void rx_recover(struct rx *rx, uint64_t now_ns)
{
	unsigned got = 0;

	while (got < RX_RECOVER_BURST) {
		int n = rerequest_recv(rx->rr, rx->recover_buf, sizeof(rx->recover_buf));

		if (n <= 0) {
			if (unlikely(n < 0))
				mdm_counter_add(&rx->stats.recovery_errors, 1);
			break;
		}
		if (got++ == 0) {
			rx->burst_rx_ns = mdm_real_ns();
			rx->burst_wire_ns = 0; /* no PMD stamp: a kernel socket */
			rx->burst_tsc = rte_rdtsc();
		}
		feed_on_packet(rx->feed, rx->recover_buf, (size_t)n, (uint8_t)rx->n_lines, now_ns, rx_emit, rx);
		if (rx->views)
			views_flush(rx->views, feed_book(rx->feed), rx_view, rx);
	}
	if (got) {
		mdm_counter_add(&rx->stats.recovery_packets, got);
		rx_flush(rx);
	}
}

/* One MoldUDP64 packet made of SoupBinTCP messages: a kernel socket, like
 * re-request answers (no PMD stamp). */
static void rx_soup_packet(void *ctx, const uint8_t *p, size_t len)
{
	struct rx *rx = ctx;

	rx->burst_rx_ns = mdm_real_ns();
	rx->burst_wire_ns = 0;
	rx->burst_tsc = rte_rdtsc();
	mdm_counter_add(&rx->stats.packets, 1);
	mdm_counter_add(&rx->stats.bytes, len);
	feed_on_packet(rx->feed, p, len, 0, rx->soup_now_ns, rx_emit, rx);
}

/* Poll the SoupBinTCP input; true when it brought messages. */
static bool rx_soup(struct rx *rx, uint64_t now_ns)
{
	rx->soup_now_ns = now_ns;
	if (soup_input_poll(rx->soup, now_ns, rx_soup_packet, rx) == 0 && rx->n_out == 0)
		return false;
	mdm_counter_add(&rx->stats.bursts, 1);
	rx_flush(rx);
	return true;
}

/* The input is over (exit_on_eof): the SoupBinTCP session ended, or the port
 * that had delivered stayed empty for eof_idle. */
static bool rx_input_over(const struct rx *rx, bool got_any, uint64_t idle_tsc)
{
	if (rx->soup)
		return soup_input_ended(rx->soup);
	return got_any && idle_tsc > rx->eof_idle_tsc;
}

int rx_lcore_main(void *arg)
{
	struct rx *rx = arg;
	struct rte_mbuf *pkts[RX_BURST];
	const uint64_t tsc_hz = rte_get_tsc_hz(), ctl_period_tsc = tsc_hz / 1000;
	uint64_t next_ctl_tsc = 0, last_rx_tsc = 0, iter = 0, got_any = 0;

	while (!mdm_poll_stopping()) {
		uint16_t n = rx->port ? rte_eth_rx_burst(rx->port->port_id, 0, pkts, RX_BURST) : 0;
		uint64_t now_tsc = rte_rdtsc();
		bool soup_data = rx->soup && rx_soup(rx, now_tsc / (tsc_hz / 1000000) * 1000);

		if (n) {
			/* one clock read per burst: every message of the burst shares it */
			rx->burst_rx_ns = mdm_real_ns();
			rx->burst_tsc = now_tsc;
			mdm_counter_add(&rx->stats.bursts, 1);
			mdm_counter_add(&rx->stats.packets, n);
			for (uint16_t i = 0; i < n; i++) {
				if (i + PREFETCH_AHEAD < n)
					rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
				/* the sequencer's clock is monotonic ns; the TSC converted once per burst */
				rx_packet(rx, pkts[i], now_tsc / (tsc_hz / 1000000) * 1000);
			}
			rte_pktmbuf_free_bulk(pkts, n);
			rx_flush(rx);
			mdm_idle_reset(&rx->idle);
			last_rx_tsc = now_tsc;
			got_any = 1;
		}
		if (soup_data) {
			mdm_idle_reset(&rx->idle);
			last_rx_tsc = now_tsc;
			got_any = 1;
		}
		if (unlikely(rx->rr_busy))
			rx_recover(rx, now_tsc / (tsc_hz / 1000000) * 1000);
		if (unlikely((++iter & 15) == 0 && now_tsc >= next_ctl_tsc)) {
			uint64_t now_ns = now_tsc / (tsc_hz / 1000000) * 1000;

			feed_poll(rx->feed, now_ns);
			if (rx->rr)
				rx->rr_busy = rerequest_poll(rx->rr, feed_seq(rx->feed), now_ns) > 0;
			next_ctl_tsc = now_tsc + ctl_period_tsc;
		}
		if (n == 0 && !soup_data) {
			if (rx->exit_on_eof && rx_input_over(rx, got_any, now_tsc - last_rx_tsc)) {
				/* end of the replay: no other line can fill a pending hole now */
				if (!rx->eof_declared) {
					feed_poll(rx->feed, UINT64_MAX);
					rx->eof_declared = true;
				}
				/* let recovery finish: each range is answered or given up
				 * within (1 + retries) timeouts */
				if (!rx->rr || mdm_counter_get(&rerequest_stats(rx->rr)->outstanding_gaps) == 0) {
					mdm_counter_add(&rx->stats.eof, 1);
					break;
				}
			}
			mdm_idle_wait(&rx->idle);
			rx->stats.idle_sleeps = rx->idle.sleeps;
		}
	}
	if (rx->views) {
		/* end of input or a stop: every changed symbol's final views, so the
		 * streams' last values are the book */
		rx->burst_rx_ns = mdm_real_ns();
		rx->burst_wire_ns = 0;
		views_drain(rx->views, feed_book(rx->feed), rx_view, rx);
		rx_flush(rx);
	}
	return 0;
}
