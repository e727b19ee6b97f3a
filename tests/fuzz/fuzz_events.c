/* Fuzz target: one UDP payload through the collector's exact event path,
 * feed_on_packet (MoldUDP64 -> sequencer -> ITCH -> symbols -> book) and then
 * encode_event for every delivered message, each event unpacked again and
 * checked against what was fed in. The payload goes in on line A and again on
 * line B, so arbitration runs too. The feed and encoder are made once and the
 * feed is reset per input, so every crash still reproduces from its file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "encode.h"
#include "feed.h"
#include "mdmesh/v1/events.pb-c.h"

struct fz {
	struct encoder *enc;
	uint64_t events;
	uint64_t last_seq;
};

static void emit(void *ctx, const struct feed_msg *fm)
{
	struct fz *z = ctx;
	struct encode_order eo;
	struct encode_meta meta;
	char symbol[SYMBOLS_TEXT_MAX + 1];
	uint8_t stock[SYMBOLS_LEN];
	uint8_t buf[ENCODE_MAX_EVENT_LEN];
	Mdmesh__V1__MarketEvent *ev;
	size_t n = 0;

	/* the sequencer delivers each sequence once, in increasing order */
	FUZZ_CHECK(z->events == 0 || fm->seq > z->last_seq);
	z->last_seq = fm->seq;
	z->events++;
	encode_meta_from_feed(&meta, &eo, symbol, fm);
	FUZZ_CHECK(encode_event(z->enc, fm->m, &meta, buf, sizeof(buf), &n) == 0);
	FUZZ_CHECK(n > 0 && n <= sizeof(buf));
	ev = mdmesh__v1__market_event__unpack(NULL, n, buf);
	FUZZ_CHECK(ev != NULL);
	FUZZ_CHECK(ev->header && ev->header->seq == fm->seq);
	FUZZ_CHECK(ev->header->type[0] == (char)fm->m->type);
	/* the symbol is printable ASCII text that gives back the bytes as sent */
	FUZZ_CHECK(strcmp(ev->header->symbol, symbol) == 0);
	FUZZ_CHECK(itch_text_parse(stock, sizeof(stock), symbol) == (int)symbols_len(fm->stock));
	FUZZ_CHECK(!fm->stock || memcmp(stock, fm->stock, symbols_len(fm->stock)) == 0);
	FUZZ_CHECK(ev->body_case != MDMESH__V1__MARKET_EVENT__BODY__NOT_SET);
	mdmesh__v1__market_event__free_unpacked(ev, NULL);
}

static struct feed *the_feed;
static struct encoder *the_enc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_params fp = { .n_lines = 2, .book_capacity = 256, .gap_capacity = 8, .pending_ns = 10 };
	struct fz z = { 0 };
	struct feed *f;
	unsigned a, b;

	if (!the_feed && (feed_create(&the_feed, &fp) != 0 || encode_create(&the_enc, "itch") != 0))
		abort();
	f = the_feed;
	feed_reset(f);
	z.enc = the_enc;
	a = feed_on_packet(f, data, size, 0, 1, emit, &z);
	b = feed_on_packet(f, data, size, 1, 2, emit, &z); /* same packet on line B: all duplicates */
	FUZZ_CHECK(b == 0);
	FUZZ_CHECK(z.events == a);
	feed_poll(f, UINT64_MAX);
	FUZZ_CHECK(feed_stats(f)->messages == a);
	return 0;
}
