/* dpdk/: EAL argv building, a real EAL (no hugepages, no PCI), a net_ring port
 * opened through mdm_port_open, packets in and counted, and the idle backoff. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "mdm_eal.h"
#include "mdm_mem.h"
#include "mdm_poll.h"
#include "mdm_port.h"

static void test_argv_build(void **state)
{
	const char *vdevs[] = { "net_pcap0,rx_pcap=/tmp/x.pcap" };
	char *extra[] = { "--no-telemetry" };
	struct mdm_eal_params p = { .prog = "/usr/bin/mdmesh-collector", .file_prefix = "t1", .no_huge = true,
				    .mem_mb = 256, .lcores = "0@(0,1),1@1", .log_level = "*:warning",
				    .no_pci = true, .vdevs = vdevs, .n_vdevs = 1, .extra = extra, .n_extra = 1 };
	const char *want[] = { "/usr/bin/mdmesh-collector", "--file-prefix=t1", "--no-huge", "--no-shconf", "-m",
			       "256", "--lcores", "0@(0,1),1@1", "--log-level=*:warning", "--no-pci", "--vdev",
			       "net_pcap0,rx_pcap=/tmp/x.pcap", "--no-telemetry" };
	char *argv[MDM_EAL_MAX_ARGS];
	int argc = mdm_eal_build_argv(&p, argv, MDM_EAL_MAX_ARGS);
	char small_prefix[64];

	assert_int_equal(argc, sizeof(want) / sizeof(want[0]));
	for (int i = 0; i < argc; i++)
		assert_string_equal(argv[i], want[i]);
	mdm_eal_argv_free(argv, argc);

	/* default prefix is per process; no lcores -> "-l 0"; too small argv -> E2BIG */
	memset(&p, 0, sizeof(p));
	p.prog = "x";
	argc = mdm_eal_build_argv(&p, argv, MDM_EAL_MAX_ARGS);
	assert_int_equal(argc, 4);
	snprintf(small_prefix, sizeof(small_prefix), "--file-prefix=x-%d", (int)getpid());
	assert_string_equal(argv[1], small_prefix);
	assert_string_equal(argv[2], "-l");
	assert_string_equal(argv[3], "0");
	mdm_eal_argv_free(argv, argc);
	assert_int_equal(mdm_eal_build_argv(&p, argv, 2), -E2BIG);
}

static void test_ring_port_rx(void **state)
{
	struct rte_ring *rx = rte_ring_create("t_rx", 1024, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	struct rte_ring *tx = rte_ring_create("t_tx", 1024, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	struct mdm_port_params pp = { .name = "net_ring_t0", .mbufs = 511, .mbuf_cache = 32 };
	struct mdm_port port;
	struct mdm_port_stats st;
	struct rte_mbuf *in[40], *out[64];
	unsigned got = 0;

	assert_non_null(rx);
	assert_non_null(tx);
	/* the ring PMD names the port "net_ring_<name>" */
	assert_true(rte_eth_from_rings("t0", &rx, 1, &tx, 1, rte_socket_id()) >= 0);
	assert_int_equal(mdm_port_open(&port, &pp), 0);
	for (int i = 0; i < 40; i++) {
		char *d;

		in[i] = rte_pktmbuf_alloc(port.pool);
		assert_non_null(in[i]);
		d = rte_pktmbuf_append(in[i], 64);
		memset(d, i, 64);
	}
	assert_int_equal(rte_ring_enqueue_burst(rx, (void **)in, 40, NULL), 40);
	while (got < 40) {
		uint16_t n = rte_eth_rx_burst(port.port_id, 0, out + got, 32);

		if (n == 0)
			break;
		got += n;
	}
	assert_int_equal(got, 40);
	for (unsigned i = 0; i < got; i++) {
		assert_int_equal(rte_pktmbuf_pkt_len(out[i]), 64);
		assert_int_equal(rte_pktmbuf_mtod(out[i], uint8_t *)[63], i);
	}
	rte_pktmbuf_free_bulk(out, got);
	assert_int_equal(mdm_port_stats_get(&port, &st), 0);
	assert_int_equal(st.ipackets, 40);
	mdm_port_close(&port);
	rte_ring_free(rx);
	rte_ring_free(tx);
}

static void test_missing_port(void **state)
{
	struct mdm_port_params pp = { .name = "net_nosuch0" };
	struct mdm_port port;

	assert_int_equal(mdm_port_open(&port, &pp), -ENODEV);
	mdm_port_close(&port);
}

static void test_idle_backoff(void **state)
{
	struct mdm_idle idle;

	mdm_idle_init(&idle, 4, 50);
	for (int i = 0; i < 4; i++)
		mdm_idle_wait(&idle);
	assert_int_equal(idle.sleeps, 0);
	mdm_idle_wait(&idle);
	mdm_idle_wait(&idle);
	assert_int_equal(idle.sleeps, 2);
	mdm_idle_reset(&idle);
	mdm_idle_wait(&idle);
	assert_int_equal(idle.sleeps, 2);
	mdm_idle_init(&idle, 0, 0); /* busy poll never sleeps */
	for (int i = 0; i < 100; i++)
		mdm_idle_wait(&idle);
	assert_int_equal(idle.sleeps, 0);
	assert_false(mdm_poll_stopping());
	mdm_poll_stop();
	assert_true(mdm_poll_stopping());
}

static int eal_setup(void **state)
{
	struct mdm_eal_params p = { .prog = "test_mdm_dpdk", .no_huge = true, .mem_mb = 128, .no_pci = true,
				    .no_telemetry = true, .log_level = "*:error" };

	return mdm_eal_init(&p) == 0 ? 0 : -1;
}

static int eal_teardown(void **state)
{
	mdm_eal_fini();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_build),
		cmocka_unit_test(test_ring_port_rx),
		cmocka_unit_test(test_missing_port),
		cmocka_unit_test(test_idle_backoff),
	};
	return cmocka_run_group_tests(tests, eal_setup, eal_teardown);
}
