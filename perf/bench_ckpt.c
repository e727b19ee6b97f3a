/* mdmesh-bench-ckpt: what a book checkpoint costs at scale. A replica
 * (collector/replica.h) is filled with N live orders by replaying N encoded
 * Add Order MarketEvents (the replay rate of a warm start), then:
 *   - encode the checkpoint (the writer thread's CPU time) and its size;
 *   - store it in the Object Store (--nats; the write time);
 *   - restart path: read it back, verify and decode it into a fresh replica,
 *     copy the book into the RX feed's (feed_resume): the warm start's time
 *     before replaying what followed the checkpoint.
 * Prints one line per phase, then a JSON line (--json). Not a test. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"
#include "ckpt.h"
#include "encode.h"
#include "itch.h"
#include "mdm_buf.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "replica.h"

#define FEED "bench"
#define LOCATES 8000

static double ms(uint64_t a, uint64_t b)
{
	return (double)(b - a) / 1e6;
}

static void add_msg(uint8_t *a, uint64_t ref, uint16_t locate, uint32_t price, char side)
{
	char sym[16];

	snprintf(sym, sizeof(sym), "S%05u  ", locate);
	itch_add_order(a, locate, ref, (uint8_t)side, 100, (const uint8_t *)sym, price);
}

int main(int argc, char **argv)
{
	uint64_t n = 1000000, cap = 1u << 21;
	const char *url = NULL;
	bool json = false;
	struct replica *r = NULL, *r2 = NULL;
	struct encoder *enc = NULL;
	struct mdm_buf blob = MDM_BUF_INIT, got = MDM_BUF_INIT;
	struct ckpt_header h;
	uint64_t t0, t1, t2, t3, t4, t5, t6;
	double put_ms = -1, get_ms = -1;
	int c;

	static const struct option opts[] = {
		{ "orders", required_argument, NULL, 'n' }, { "capacity", required_argument, NULL, 'c' },
		{ "nats", required_argument, NULL, 's' },   { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "n:c:s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 'c': cap = strtoull(optarg, NULL, 10); break;
		case 's': url = optarg; break;
		case 'j': json = true; break;
		case 'V': printf("mdmesh-bench-ckpt %s\n", MDM_VERSION); return 0;
		case 'h':
			printf("usage: mdmesh-bench-ckpt [--orders N (1000000)] [--capacity BOOK_SLOTS (2097152)]\n"
			       "                         [--nats nats://HOST:PORT] [--json]\n\n"
			       "The cost of a book checkpoint of N live orders: replay rate, encode time, size,\n"
			       "Object Store put/get (with --nats) and the warm start's load.\n");
			return 0;
		default:
			fprintf(stderr, "mdmesh-bench-ckpt: bad option (see --help)\n");
			return 2;
		}
	}
	if (n == 0 || cap < 16 || (cap & (cap - 1)) || n > cap - cap / 8) {
		fprintf(stderr, "mdmesh-bench-ckpt: --orders must be 1..7/8 of --capacity (a power of two)\n");
		return 2;
	}
	if (replica_create(&r, FEED, (uint32_t)cap) || replica_create(&r2, FEED, (uint32_t)cap) ||
	    encode_create(&enc, FEED)) {
		fprintf(stderr, "set-up: %s\n", mdm_err_last());
		return 1;
	}
	/* the events, encoded before the clock starts */
	uint8_t *evs = malloc(n * 96);
	uint32_t *lens = malloc(n * sizeof(uint32_t));

	if (!evs || !lens)
		return 1;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t a[36];
		struct itch_msg m;
		struct encode_meta meta = { .session = "BENCH00001", .seq = i + 1, .symbol = "" };
		uint16_t loc = (uint16_t)(1 + i % LOCATES);
		size_t len = 0;

		add_msg(a, i + 1, loc, (uint32_t)(1000000 + (i * 7919) % 20000 * 100), i & 1 ? 'S' : 'B');
		if (itch_decode(a, 36, &m) != ITCH_OK || encode_event(enc, &m, &meta, evs + i * 96, 96, &len) != 0) {
			fprintf(stderr, "encode %" PRIu64 ": %s\n", i, mdm_err_last());
			return 1;
		}
		lens[i] = (uint32_t)len;
	}
	t0 = mdm_mono_ns();
	for (uint64_t i = 0; i < n; i++)
		replica_apply(r, evs + i * 96, lens[i], false, i + 1);
	t1 = mdm_mono_ns();
	if (replica_encode(r, mdm_real_ns(), &blob, &h)) {
		fprintf(stderr, "encode: %s\n", mdm_err_last());
		return 1;
	}
	t2 = mdm_mono_ns();
	if (url) {
		struct mdm_bus_params bp;
		struct mdm_bus *bus = NULL;
		struct mdm_bus_obj *o = NULL;

		mdm_bus_params_init(&bp);
		bp.urls = url;
		bp.api_timeout_ms = 30000;
		if (mdm_bus_create(&bus, &bp) || mdm_bus_obj_open(bus, "mdmesh-checkpoints", 1, &o)) {
			fprintf(stderr, "nats: %s\n", mdm_err_last());
			return 1;
		}
		t3 = mdm_mono_ns();
		if (mdm_bus_obj_put(o, "bench.ckpt", blob.data, blob.len, NULL)) {
			fprintf(stderr, "put: %s\n", mdm_err_last());
			return 1;
		}
		t4 = mdm_mono_ns();
		if (mdm_bus_obj_get(o, "bench.ckpt", &got, NULL)) {
			fprintf(stderr, "get: %s\n", mdm_err_last());
			return 1;
		}
		t5 = mdm_mono_ns();
		put_ms = ms(t3, t4);
		get_ms = ms(t4, t5);
		mdm_bus_obj_destroy(o);
		mdm_bus_destroy(bus);
	} else {
		mdm_buf_append(&got, blob.data, blob.len);
	}
	t5 = mdm_mono_ns();
	if (replica_load(r2, (const uint8_t *)got.data, got.len, &h)) {
		fprintf(stderr, "load: %s\n", mdm_err_last());
		return 1;
	}
	t6 = mdm_mono_ns();
	{
		struct book_params bp = { .order_capacity = (uint32_t)cap };
		struct book *rx;
		uint64_t t7, t8;

		book_create(&rx, &bp);
		t7 = mdm_mono_ns();
		if (book_copy(rx, replica_book(r2)) != 0)
			return 1;
		t8 = mdm_mono_ns();
		printf("live orders          %" PRIu64 " (book %" PRIu64 " slots), levels %" PRIu64 "\n",
		       book_stats(replica_book(r))->orders, cap, book_stats(replica_book(r))->levels);
		printf("replay               %" PRIu64 " Add Order events in %.1f ms = %.0f events/s\n", n, ms(t0, t1),
		       (double)n / ((double)(t1 - t0) / 1e9));
		printf("checkpoint           %zu bytes (%.1f MiB); encode %.1f ms; object store put %.1f ms\n", blob.len,
		       (double)blob.len / 1048576.0, ms(t1, t2), put_ms);
		printf("restart              get %.1f ms + verify/decode %.1f ms + copy into the RX book %.1f ms = %.1f ms\n",
		       get_ms, ms(t5, t6), ms(t7, t8), (get_ms > 0 ? get_ms : 0) + ms(t5, t6) + ms(t7, t8));
		if (book_stats(replica_book(r2))->orders != book_stats(replica_book(r))->orders) {
			fprintf(stderr, "the loaded book differs\n");
			return 1;
		}
		if (json)
			printf("{\"orders\":%" PRIu64 ",\"bytes\":%zu,\"replay_eps\":%.0f,\"encode_ms\":%.1f,\"put_ms\":%.1f,"
			       "\"get_ms\":%.1f,\"decode_ms\":%.1f,\"copy_ms\":%.1f}\n",
			       book_stats(replica_book(r))->orders, blob.len, (double)n / ((double)(t1 - t0) / 1e9),
			       ms(t1, t2), put_ms, get_ms, ms(t5, t6), ms(t7, t8));
		book_destroy(rx);
	}
	free(evs);
	free(lens);
	mdm_buf_fini(&blob);
	mdm_buf_fini(&got);
	encode_destroy(enc);
	replica_destroy(r);
	replica_destroy(r2);
	return 0;
}
