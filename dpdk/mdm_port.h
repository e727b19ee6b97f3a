/* One ethdev port opened for feed reception: mempool, one RX queue, an
 * optional TX queue (load generator), the RX timestamp dynfield, and stats.
 * The struct is public because the RX loop reads port_id and the timestamp
 * offset on every burst; fields are read-only outside mdm_port.c. */
#ifndef MDM_PORT_H
#define MDM_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

struct rte_mempool;

struct mdm_port_params {
	const char *name;       /* ethdev name: vdev ("net_pcap0") or PCI address */
	uint16_t rx_desc;       /* RX ring descriptors; 0 = 1024 */
	uint16_t tx_queues;     /* 0 (RX only) or 1 */
	uint32_t mbufs;         /* pool size; 0 = 8191 */
	uint32_t mbuf_cache;    /* per-lcore cache; 0 = 256 (clamped to pool/1.5) */
	uint16_t data_room;     /* mbuf data room; 0 = headroom + 1600 (MTU-1500 feeds) */
	bool promisc;           /* not needed on veth/af_packet; see DPDK_NOTES */
	bool allmulti;          /* receive every multicast group (bare-metal NICs) */
};

struct mdm_port {
	uint16_t port_id;
	int ts_offset;          /* RX timestamp dynfield offset, -1 if unavailable */
	uint64_t ts_flag;       /* ol_flags bit saying the timestamp is set */
	struct rte_mempool *pool;
	bool started;
	char name[64];
};

struct mdm_port_stats {
	uint64_t ipackets, ibytes, imissed, ierrors, rx_nombuf;
};

/* Find the named port, make its pool, configure 1 RX (+ tx_queues TX) queue
 * and start it. Returns 0, -ENODEV (no such port), -ENOMEM (pool), or the
 * ethdev error; detail via mdm_err_last(). Main thread, before lcore launch. */
int mdm_port_open(struct mdm_port *p, const struct mdm_port_params *params);

/* Stop and close the port, free the pool. Safe on a port that failed to open. */
void mdm_port_close(struct mdm_port *p);

/* Port counters (any thread). 0 or negative errno. */
int mdm_port_stats_get(const struct mdm_port *p, struct mdm_port_stats *s);

/* The PMD's RX timestamp of m, if it set one. Its unit depends on the PMD
 * (net_pcap: microseconds since the epoch). Hot-path safe. */
static inline bool mdm_port_rx_ts(const struct mdm_port *p, const struct rte_mbuf *m, uint64_t *ts)
{
	if (p->ts_offset < 0 || !(m->ol_flags & p->ts_flag))
		return false;
	*ts = *RTE_MBUF_DYNFIELD(m, p->ts_offset, const rte_mbuf_timestamp_t *);
	return true;
}

#endif
