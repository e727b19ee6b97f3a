/* Port set-up after DPDK l2fwd's main(): pool once, configure, queue set-up,
 * start. Virtual devices (net_pcap, net_af_packet, net_ring) and NICs take the
 * same path, which is what lets CI run the production code. */
#include "mdm_port.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "mdm_err.h"

int mdm_port_open(struct mdm_port *p, const struct mdm_port_params *params)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	uint32_t mbufs = params->mbufs ? params->mbufs : 8191;
	uint32_t cache = params->mbuf_cache ? params->mbuf_cache : 256;
	uint16_t room = params->data_room ? params->data_room : RTE_PKTMBUF_HEADROOM + 1600;
	uint16_t rx_desc = params->rx_desc ? params->rx_desc : 1024, tx_desc = 512;
	int rc, socket;

	memset(p, 0, sizeof(*p));
	p->ts_offset = -1;
	snprintf(p->name, sizeof(p->name), "%s", params->name);
	if (rte_eth_dev_get_port_by_name(params->name, &p->port_id) != 0)
		return mdm_err_set(-ENODEV, "port '%s' not found (is the vdev/PCI device given to EAL?)",
				   params->name);
	socket = rte_eth_dev_socket_id(p->port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	if (cache > RTE_MEMPOOL_CACHE_MAX_SIZE)
		cache = RTE_MEMPOOL_CACHE_MAX_SIZE;
	if (cache * 3 / 2 > mbufs)
		cache = mbufs * 2 / 3;
	snprintf(pool_name, sizeof(pool_name), "mbuf_p%u", p->port_id);
	p->pool = rte_pktmbuf_pool_create(pool_name, mbufs, cache, 0, room, socket);
	if (!p->pool)
		return mdm_err_set(-ENOMEM, "mbuf pool of %u x %u B for port '%s': %s (raise -m / eal.mem_mb)",
				   mbufs, room, params->name, rte_strerror(rte_errno));
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0)
		goto fail;
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(p->port_id, 1, params->tx_queues, &conf);
	if (rc != 0)
		goto fail;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rx_desc, &tx_desc);
	if (rc != 0)
		goto fail;
	rc = rte_eth_rx_queue_setup(p->port_id, 0, rx_desc, (unsigned)socket, NULL, p->pool);
	if (rc != 0)
		goto fail;
	for (uint16_t q = 0; q < params->tx_queues; q++) {
		rc = rte_eth_tx_queue_setup(p->port_id, q, tx_desc, (unsigned)socket, NULL);
		if (rc != 0)
			goto fail;
	}
	/* Timestamps: net_pcap and many NICs fill this dynfield; unit is PMD-specific. */
	if (rte_mbuf_dyn_rx_timestamp_register(&p->ts_offset, &p->ts_flag) != 0)
		p->ts_offset = -1;
	rc = rte_eth_dev_start(p->port_id);
	if (rc != 0)
		goto fail;
	p->started = true;
	if (params->promisc)
		rte_eth_promiscuous_enable(p->port_id);
	if (params->allmulti)
		rte_eth_allmulticast_enable(p->port_id);
	return 0;
fail:
	mdm_err_set(rc < 0 ? rc : -EIO, "port '%s' set-up failed: %s", params->name, rte_strerror(-rc));
	mdm_port_close(p);
	return rc < 0 ? rc : -EIO;
}

void mdm_port_close(struct mdm_port *p)
{
	if (p->started) {
		/* af_packet leaves the kernel interface promiscuous unless told otherwise */
		rte_eth_promiscuous_disable(p->port_id);
		rte_eth_dev_stop(p->port_id);
		p->started = false;
	}
	if (p->pool) {
		rte_eth_dev_close(p->port_id);
		rte_mempool_free(p->pool);
		p->pool = NULL;
	}
}

int mdm_port_stats_get(const struct mdm_port *p, struct mdm_port_stats *s)
{
	struct rte_eth_stats st;
	int rc = rte_eth_stats_get(p->port_id, &st);

	if (rc != 0)
		return rc;
	s->ipackets = st.ipackets;
	s->ibytes = st.ibytes;
	s->imissed = st.imissed;
	s->ierrors = st.ierrors;
	s->rx_nombuf = st.rx_nombuf;
	return 0;
}
