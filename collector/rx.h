/* RX lcore: rx_burst -> UDP/multicast filter -> feed (MoldUDP64, sequencer,
 * ITCH, symbols, book) -> rx_event records -> one enqueue_burst_elem per burst.
 * Gap recovery runs here too: the control pass sends re-requests, and while
 * any is in flight each pass reads the answers from the re-request socket
 * into the same feed (a separate sequencer line); with none in flight that
 * costs no syscall. With input.soup the input is a SoupBinTCP session instead
 * of a port: each pass polls its socket (soup_input.h) and feeds the
 * MoldUDP64 packets it makes to the same chain.
 * No allocation, lock or NATS call on this core, and no syscall but those
 * kernel-socket inputs. When the ring is
 * full the configured policy applies: block (stop reading; the NIC counts the
 * misses) or drop (counted, with the dropped sequence ranges). */
#ifndef RX_H
#define RX_H

#include <stdbool.h>
#include <stdint.h>

#include "feed.h"

struct rte_ring;
struct mdm_port;
struct rerequest;
struct soup_input;

#define RX_BURST 32
#define RX_DROP_RANGES 64 /* most recent dropped sequence ranges kept for stats */

struct rx_params {
	const struct mdm_port *port;   /* NULL: the input is soup only */
	struct rte_ring *ring;         /* SP/SC ring of struct rx_event elements */
	struct feed_params feed;
	uint32_t dst_ip[2];            /* line A, B destination (host order); 0 = any */
	uint16_t dst_port[2];          /* 0 = any */
	unsigned n_lines;              /* 1 or 2 */
	bool drop_when_full;           /* false = block */
	bool exit_on_eof;              /* stop once the port stays empty (pcap replay ended), or
					* the SoupBinTCP session ended */
	uint64_t eof_idle_ns;          /* "stays empty": this long; 0 = 200 ms */
	uint32_t idle_spin;
	uint32_t idle_sleep_us;
	/* Gap recovery (borrowed; owned by the caller, used by the RX lcore only):
	 * gets the sequencer's events and reads its missing table on the control
	 * pass; its answers are fed as line n_lines. */
	struct rerequest *rr;
	/* input.soup (borrowed, used by the RX lcore only): polled every pass,
	 * its messages fed as line 0; End of Session is the end of input. */
	struct soup_input *soup;
};

/* Counters: single-writer counters (mdm_counter.h) written by the RX lcore
 * only, as are the feed's, sequencer's and book's; other threads read them
 * with mdm_counter_get() (a consistent snapshot is not promised). */
struct rx_stats {
	uint64_t bursts, packets, bytes;
	uint64_t not_udp, other_dst;
	uint64_t events;          /* records produced (= feed messages) */
	uint64_t enqueued;        /* records the ring accepted */
	uint64_t views;           /* market view records produced (feed.views) */
	uint64_t views_dropped;   /* of them, dropped at a full ring */
	uint64_t views_unnamed;   /* views not published: no symbol known for the locate */
	uint64_t ring_full;       /* bursts that found the ring full */
	uint64_t dropped;         /* records dropped (policy drop, or block interrupted by stop) */
	uint64_t blocked_polls;   /* retries while blocked on a full ring */
	uint64_t idle_sleeps;
	uint64_t eof;             /* 1 once the input ended (exit_on_eof) */
	uint64_t recovery_packets; /* re-request answers fed to the feed */
	uint64_t recovery_errors;  /* failed receives on the re-request socket */
	uint64_t drop_first[RX_DROP_RANGES], drop_last[RX_DROP_RANGES];
	uint64_t drop_ranges;     /* ranges recorded (index = count % RX_DROP_RANGES) */
};

struct rx;

/* Create the RX context (its feed included). Main thread. 0 or negative errno. */
int rx_create(struct rx **out, const struct rx_params *p);
void rx_destroy(struct rx *rx);

/* The lcore entry point (rte_eal_remote_launch(rx_lcore_main, rx, lcore)).
 * Returns when mdm_poll_stop() is called, or at end of input with exit_on_eof. */
int rx_lcore_main(void *arg);

/* Continue where an earlier run left the feed (feed_resume; a SoupBinTCP
 * input logs in at its session and next sequence number). Main thread,
 * before the lcore is launched. 0 or -EINVAL. */
int rx_resume(struct rx *rx, const struct feed_resume *r);

const struct rx_stats *rx_stats(const struct rx *rx);
const struct feed *rx_feed(const struct rx *rx);

#endif
