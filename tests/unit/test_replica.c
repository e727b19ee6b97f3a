/* The replica (collector/replica.h) rebuilds the RX feed's state from the
 * MarketEvents the collector publishes: a synthesized session goes through
 * the feed chain (as on the RX core), each delivered message is encoded as
 * the publisher encodes it, and the replica applies those bytes. Its book,
 * symbol map and trading states then equal the feed's, every order and level;
 * a checkpoint of it at half way plus the second half replayed gives the same
 * book again; events of another feed are skipped, a session change resets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "book_check.h"
#include "encode.h"
#include "feed.h"
#include "mdm_buf.h"
#include "replica.h"
#include "synth.h"

#define CAP 65536

struct run {
	struct encoder *enc;
	struct replica *r, *half;   /* all events; only those up to `cut` */
	uint64_t cut, n;
	uint8_t buf[ENCODE_MAX_EVENT_LEN];
	struct mdm_buf tail;        /* encoded events after `cut`, length-prefixed */
};

static void on_msg(void *ctx, const struct feed_msg *fm)
{
	struct run *run = ctx;
	struct encode_meta meta;
	struct encode_order eo;
	char sym[SYMBOLS_TEXT_MAX + 1];
	size_t len = 0;
	uint32_t l32;

	encode_meta_from_feed(&meta, &eo, sym, fm);
	assert_int_equal(encode_event(run->enc, fm->m, &meta, run->buf, sizeof(run->buf), &len), 0);
	run->n++;
	assert_int_equal(replica_apply(run->r, run->buf, len, false, run->n), 0);
	if (fm->seq <= run->cut) {
		assert_int_equal(replica_apply(run->half, run->buf, len, false, run->n), 0);
	} else {
		l32 = (uint32_t)len;
		mdm_buf_append(&run->tail, &l32, sizeof(l32));
		mdm_buf_append(&run->tail, run->buf, len);
	}
}

static void test_replica_equals_feed(void **state)
{
	struct mdm_synth_params sp;
	struct mdm_synth *syn;
	struct mdm_synth_packet pkt;
	struct feed_params fp = { .n_lines = 1, .book_capacity = CAP };
	struct feed *f;
	struct run run = { .cut = 15000 };
	struct replica *loaded;
	struct mdm_buf blob = MDM_BUF_INIT;
	struct ckpt_header h;
	uint64_t seq = 0;

	(void)state;
	mdm_synth_params_init(&sp);
	sp.messages = 30000;
	sp.symbols = 200;
	sp.seed = 77;
	assert_int_equal(mdm_synth_create(&syn, &sp), 0);
	assert_int_equal(feed_create(&f, &fp), 0);
	assert_int_equal(encode_create(&run.enc, "itch"), 0);
	assert_int_equal(replica_create(&run.r, "itch", CAP), 0);
	assert_int_equal(replica_create(&run.half, "itch", CAP), 0);
	assert_int_equal(replica_create(&loaded, "itch", CAP), 0);
	while (mdm_synth_next(syn, &pkt) == 1)
		feed_on_packet(f, pkt.payload, pkt.len, 0, seq++, on_msg, &run);
	assert_true(run.n > 29000);
	assert_true(book_stats(feed_book(f))->orders > 100);
	/* the replica that saw every event holds the feed's state */
	book_assert_same(feed_book(f), replica_book(run.r), 512);
	for (unsigned l = 0; l < 65536; l++) {
		const uint8_t *a = symbols_peek(feed_symbols(f), (uint16_t)l), *b = symbols_peek(replica_symbols(run.r), (uint16_t)l);

		assert_true(!a == !b);
		if (a)
			assert_memory_equal(a, b, SYMBOLS_LEN);
	}
	assert_string_equal(replica_session(run.r), feed_session(f));
	assert_int_equal(replica_stats(run.r)->other, 0);
	/* a checkpoint at half way, loaded, plus the rest replayed: the same book */
	assert_int_equal(replica_encode(run.half, 1, &blob, &h), 0);
	assert_int_equal(replica_load(loaded, (const uint8_t *)blob.data, blob.len, &h), 0);
	assert_string_equal(h.session, feed_session(f));
	for (size_t off = 0; off < run.tail.len;) {
		uint32_t len;

		memcpy(&len, run.tail.data + off, sizeof(len));
		assert_int_equal(replica_apply(loaded, run.tail.data + off + 4, len, false, 0), 0);
		off += 4 + len;
	}
	book_assert_same(feed_book(f), replica_book(loaded), 512);
	/* another feed's events do not count; garbage is refused */
	{
		struct replica *other;
		uint64_t before = replica_stats(run.r)->events;

		assert_int_equal(replica_create(&other, "other", CAP), 0);
		assert_int_equal(replica_apply(other, run.buf, 0, false, 1), 0); /* an empty MarketEvent */
		assert_int_equal(replica_apply(other, "\xff\xff\xff", 3, false, 2), -EBADMSG);
		assert_int_equal(replica_stats(other)->events, 0);
		assert_int_equal(replica_stats(other)->other, 2);
		assert_int_equal(replica_stats(run.r)->events, before);
		replica_destroy(other);
	}
	mdm_buf_fini(&blob);
	mdm_buf_fini(&run.tail);
	replica_destroy(loaded);
	replica_destroy(run.half);
	replica_destroy(run.r);
	encode_destroy(run.enc);
	feed_destroy(f);
	mdm_synth_destroy(syn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replica_equals_feed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
