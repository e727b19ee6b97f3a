/* encode: every ITCH type's every field arrives in the protobuf body of the
 * same name with the same value; header, order state and bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "encode.h"
#include "itch.h"
#include "symbols.h"
#include "mdmesh/v1/events.pb-c.h"

static void put_be(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[size - 1 - i] = (uint8_t)(v >> (8 * i));
}

/* A message of type d whose fields hold distinct, recognisable values. */
static void build(const struct itch_msg_desc *d, uint8_t *p)
{
	memset(p, 0, ITCH_MAX_MSG_LEN);
	p[0] = d->type;
	put_be(p + 1, 0x0102, 2);
	put_be(p + 3, 0x0304, 2);
	put_be(p + 5, 0x123456789abcULL, 6);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const struct itch_field *f = &d->fields[i];

		if (f->kind == ITCH_F_ALPHA) {
			memset(p + f->offset, ' ', f->size);
			for (unsigned k = 0; k + 1 < f->size || (f->size == 1 && k == 0); k++)
				p[f->offset + k] = (uint8_t)('A' + (i + k) % 26);
		} else {
			/* top byte nonzero so a truncated load would show */
			put_be(p + f->offset, (0x80ULL << (8 * (f->size - 1))) | (i + 1) * 0x0101, f->size);
		}
	}
}

/* Our bytes are canonical protobuf: protobuf-c packs the decoded message back
 * to exactly the same bytes. */
static void assert_canonical(const Mdmesh__V1__MarketEvent *ev, const uint8_t *bytes, size_t len)
{
	uint8_t re[ENCODE_MAX_EVENT_LEN];

	assert_int_equal(mdmesh__v1__market_event__get_packed_size(ev), len);
	assert_int_equal(mdmesh__v1__market_event__pack(ev, re), len);
	assert_memory_equal(re, bytes, len);
}

static void test_every_type_every_field(void **state)
{
	struct encoder *e;
	struct encode_meta meta = { .session = "SESSION001", .seq = 77, .symbol = "ZVZZT" };

	assert_int_equal(encode_create(&e, "itch"), 0);
	for (unsigned t = 0; t < ITCH_MSG_TYPES; t++) {
		const struct itch_msg_desc *d = itch_desc_at(t);
		uint8_t raw[ITCH_MAX_MSG_LEN], out[ENCODE_MAX_EVENT_LEN];
		struct itch_msg m;
		size_t len;
		Mdmesh__V1__MarketEvent *ev;
		const ProtobufCFieldDescriptor *of;
		const ProtobufCMessage *body;

		build(d, raw);
		assert_int_equal(itch_decode(raw, d->length, &m), ITCH_OK);
		assert_int_equal(encode_event(e, &m, &meta, out, sizeof(out), &len), 0);
		ev = mdmesh__v1__market_event__unpack(NULL, len, out);
		assert_non_null(ev);
		assert_canonical(ev, out, len);
		assert_int_equal(ev->header->seq, 77);
		assert_int_equal(ev->header->stock_locate, 0x0102);
		assert_int_equal(ev->header->tracking_number, 0x0304);
		assert_int_equal(ev->header->exchange_ts_ns, 0x123456789abcULL);
		assert_int_equal(strlen(ev->header->type), 1);
		assert_int_equal(ev->header->type[0], d->type);
		assert_string_equal(ev->header->feed, "itch");
		assert_string_equal(ev->header->session, "SESSION001");
		assert_string_equal(ev->header->symbol, "ZVZZT");
		assert_null(ev->order);
		of = protobuf_c_message_descriptor_get_field_by_name(&mdmesh__v1__market_event__descriptor, d->name);
		assert_non_null(of);
		assert_int_equal(ev->body_case, of->id);
		body = *(ProtobufCMessage **)((char *)ev + of->offset);
		for (unsigned i = 0; i < d->n_fields; i++) {
			const struct itch_field *f = &d->fields[i];
			const ProtobufCFieldDescriptor *pf =
				protobuf_c_message_descriptor_get_field_by_name(body->descriptor, f->name);
			const char *fp = (const char *)body + pf->offset;

			if (f->kind == ITCH_F_ALPHA) {
				char want[16];
				size_t n = f->size;

				memcpy(want, raw + f->offset, n);
				while (n > 0 && want[n - 1] == ' ')
					n--;
				want[n] = '\0';
				assert_string_equal(*(char *const *)fp, want);
			} else if (f->size == 8) {
				assert_int_equal(*(const uint64_t *)fp, itch_be(raw + f->offset, 8));
			} else {
				assert_int_equal(*(const uint32_t *)fp, itch_be(raw + f->offset, f->size));
			}
		}
		mdmesh__v1__market_event__free_unpacked(ev, NULL);
	}
	encode_destroy(e);
}

static void test_add_order_exact_and_order_state(void **state)
{
	/* 'A', locate 7, tracking 0, ts 34200.000000001 s, ref 42, 'S', 300 sh, "MSFT    ", 412.3400 */
	static const uint8_t add[36] = { 'A', 0, 7, 0, 0, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x01, 0, 0, 0, 0, 0, 0, 0,
					 42, 'S', 0, 0, 0x01, 0x2c, 'M', 'S', 'F', 'T', ' ', ' ', ' ', ' ',
					 0x00, 0x3e, 0xeb, 0x08 };
	/* 'E' on ref 42: 100 executed, match 9 */
	static const uint8_t exe[31] = { 'E', 0, 7, 0, 0, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x02, 0, 0, 0, 0, 0, 0, 0, 42,
					 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 9 };
	struct encoder *e;
	struct itch_msg m;
	struct encode_order o = { .known = true, .side = 'S', .price = 4123400, .remaining_shares = 200, .ref = 42 };
	struct encode_meta meta = { .session = "S1", .seq = 1, .symbol = "MSFT", .rx_ts_ns = 5, .pub_ts_ns = 6,
				    .wire_ts_ns = 4, .session_date = 20260105 };
	uint8_t out[ENCODE_MAX_EVENT_LEN];
	size_t len;
	Mdmesh__V1__MarketEvent *ev;

	assert_int_equal(encode_create(&e, "itch"), 0);
	assert_int_equal(itch_decode(add, sizeof(add), &m), ITCH_OK);
	assert_int_equal(encode_event(e, &m, &meta, out, sizeof(out), &len), 0);
	ev = mdmesh__v1__market_event__unpack(NULL, len, out);
	assert_non_null(ev);
	assert_canonical(ev, out, len);
	assert_int_equal(ev->body_case, MDMESH__V1__MARKET_EVENT__BODY_ADD_ORDER);
	assert_int_equal(ev->header->exchange_ts_ns, 34200000000001ULL);
	assert_int_equal(ev->header->rx_ts_ns, 5);
	assert_int_equal(ev->header->pub_ts_ns, 6);
	assert_int_equal(ev->header->wire_ts_ns, 4);
	assert_int_equal(ev->header->session_date, 20260105);
	assert_int_equal(ev->add_order->order_reference_number, 42);
	assert_string_equal(ev->add_order->buy_sell_indicator, "S");
	assert_int_equal(ev->add_order->shares, 300);
	assert_string_equal(ev->add_order->stock, "MSFT");
	assert_int_equal(ev->add_order->price, 4123400);
	mdmesh__v1__market_event__free_unpacked(ev, NULL);

	meta.seq = 2;
	meta.order = &o;
	assert_int_equal(itch_decode(exe, sizeof(exe), &m), ITCH_OK);
	assert_int_equal(encode_event(e, &m, &meta, out, sizeof(out), &len), 0);
	ev = mdmesh__v1__market_event__unpack(NULL, len, out);
	assert_non_null(ev);
	assert_canonical(ev, out, len);
	assert_int_equal(ev->body_case, MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED);
	assert_int_equal(ev->order_executed->executed_shares, 100);
	assert_int_equal(ev->order_executed->match_number, 9);
	assert_non_null(ev->order);
	assert_true(ev->order->known);
	assert_string_equal(ev->order->buy_sell_indicator, "S");
	assert_int_equal(ev->order->price, 4123400);
	assert_int_equal(ev->order->remaining_shares, 200);
	assert_int_equal(ev->order->order_reference_number, 42);
	mdmesh__v1__market_event__free_unpacked(ev, NULL);

	/* an order the book did not know: known=false, no side; still canonical */
	o.known = false;
	o.side = 0;
	o.price = o.remaining_shares = 0;
	assert_int_equal(encode_event(e, &m, &meta, out, sizeof(out), &len), 0);
	ev = mdmesh__v1__market_event__unpack(NULL, len, out);
	assert_non_null(ev);
	assert_canonical(ev, out, len);
	assert_non_null(ev->order);
	assert_false(ev->order->known);
	assert_string_equal(ev->order->buy_sell_indicator, "");
	mdmesh__v1__market_event__free_unpacked(ev, NULL);

	/* a small buffer that still fits is fine; a too-small one is refused, not overrun */
	assert_int_equal(encode_event(e, &m, &meta, out, len, &len), 0);
	assert_int_equal(encode_event(e, &m, &meta, out, 8, &len), -ENOSPC);
	encode_destroy(e);
}

/* ENCODE_MAX_EVENT_LEN bounds every event: a feed name of ENCODE_FEED_MAX,
 * the longest symbol text, every alpha byte escaped (0xFF -> "\xFF"), every
 * number at its widest and the order state set. encode_event writes straight
 * into a buffer of at least that size, so the bound must hold. Alphas come
 * out as itch_text: printable ASCII that gives the bytes back. */
static void test_worst_case_fits(void **state)
{
	static const char feed[] = "f123456789012345678901234567890x";
	struct encode_order eo = { .ref = UINT64_MAX, .price = UINT32_MAX, .remaining_shares = UINT32_MAX,
				   .known = true, .side = 'S' };
	struct encode_meta meta = { .session = "SESSION001", .seq = UINT64_MAX, .rx_ts_ns = UINT64_MAX,
				    .pub_ts_ns = UINT64_MAX, .wire_ts_ns = UINT64_MAX, .session_date = 99991231,
				    .order = &eo };
	char symbol[SYMBOLS_TEXT_MAX + 1];
	struct encoder *e;
	size_t worst = 0;

	(void)state;
	assert_int_equal(sizeof(feed) - 1, ENCODE_FEED_MAX);
	memset(symbol, 0, sizeof(symbol));
	symbols_text(symbol, (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff");
	assert_int_equal(strlen(symbol), SYMBOLS_TEXT_MAX);
	meta.symbol = symbol;
	assert_int_equal(encode_create(&e, feed), 0);
	for (unsigned t = 0; t < ITCH_MSG_TYPES; t++) {
		const struct itch_msg_desc *d = itch_desc_at(t);
		uint8_t raw[ITCH_MAX_MSG_LEN], out[2 * ENCODE_MAX_EVENT_LEN];
		struct itch_msg m;
		size_t len;
		Mdmesh__V1__MarketEvent *ev;
		const ProtobufCMessage *body;
		const ProtobufCFieldDescriptor *of;

		memset(raw, 0xff, sizeof(raw));
		raw[0] = d->type;
		assert_int_equal(itch_decode(raw, d->length, &m), ITCH_OK);
		assert_int_equal(encode_event(e, &m, &meta, out, sizeof(out), &len), 0);
		assert_true(len <= ENCODE_MAX_EVENT_LEN);
		worst = len > worst ? len : worst;
		ev = mdmesh__v1__market_event__unpack(NULL, len, out);
		assert_non_null(ev);
		assert_string_equal(ev->header->symbol, symbol);
		of = protobuf_c_message_descriptor_get_field_by_name(&mdmesh__v1__market_event__descriptor, d->name);
		body = *(ProtobufCMessage **)((char *)ev + of->offset);
		for (unsigned i = 0; i < d->n_fields; i++) {
			const struct itch_field *f = &d->fields[i];
			char want[ITCH_TEXT_MAX(ITCH_MAX_MSG_LEN) + 1];

			if (f->kind != ITCH_F_ALPHA)
				continue;
			itch_text(want, raw + f->offset, f->size);
			assert_string_equal(*(const char *const *)((const char *)body +
				protobuf_c_message_descriptor_get_field_by_name(body->descriptor, f->name)->offset), want);
		}
		mdmesh__v1__market_event__free_unpacked(ev, NULL);
	}
	print_message("worst-case event: %zu of %d bytes\n", worst, ENCODE_MAX_EVENT_LEN);
	encode_destroy(e);
}

/* quote_before (TBBO): field 3, canonical, an empty book still a set Bbo. */
static void test_quote_before(void **state)
{
	static const uint8_t exe[31] = { 'E', 0, 7, 0, 0, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x02, 0, 0, 0, 0, 0, 0, 0, 42,
					 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 9 };
	struct book_bbo q = { .bid_price = 4123300, .bid_shares = 5000000000ull, .bid_orders = 3,
			      .ask_price = 4123400, .ask_shares = 300, .ask_orders = 1 };
	struct encode_order o = { .known = true, .side = 'S', .price = 4123400, .remaining_shares = 200, .ref = 42 };
	struct encode_meta meta = { .session = "S1", .seq = 2, .symbol = "MSFT", .order = &o, .quote = &q };
	uint8_t out[ENCODE_MAX_EVENT_LEN];
	struct encoder *e;
	struct itch_msg m;
	size_t len;
	Mdmesh__V1__MarketEvent *ev;

	(void)state;
	assert_int_equal(encode_create(&e, "itch"), 0);
	assert_int_equal(itch_decode(exe, sizeof(exe), &m), ITCH_OK);
	assert_int_equal(encode_event(e, &m, &meta, out, sizeof(out), &len), 0);
	ev = mdmesh__v1__market_event__unpack(NULL, len, out);
	assert_non_null(ev);
	assert_canonical(ev, out, len);
	assert_non_null(ev->quote_before);
	assert_int_equal(ev->quote_before->bid_price, 4123300);
	assert_int_equal(ev->quote_before->bid_size, 5000000000ull);
	assert_int_equal(ev->quote_before->bid_orders, 3);
	assert_int_equal(ev->quote_before->ask_price, 4123400);
	assert_int_equal(ev->quote_before->ask_size, 300);
	assert_int_equal(ev->quote_before->ask_orders, 1);
	assert_null(ev->quote_before->header);
	mdmesh__v1__market_event__free_unpacked(ev, NULL);

	memset(&q, 0, sizeof(q));
	assert_int_equal(encode_event(e, &m, &meta, out, sizeof(out), &len), 0);
	ev = mdmesh__v1__market_event__unpack(NULL, len, out);
	assert_non_null(ev);
	assert_canonical(ev, out, len);
	assert_non_null(ev->quote_before);
	assert_int_equal(ev->quote_before->bid_price, 0);
	mdmesh__v1__market_event__free_unpacked(ev, NULL);
	encode_destroy(e);
}

/* Bbo and Depth: byte-identical to protobuf-c's pack, empty sides and levels
 * included (a zero Level is still a repeated element). */
static void test_views(void **state)
{
	struct encode_view v = { .session = "S1", .symbol = "AAPL", .seq = 1234567, .exchange_ts_ns = 34200000000123ull,
				 .rx_ts_ns = 1700000000000000000ull, .pub_ts_ns = 1700000000000000500ull,
				 .session_date = 20240105, .stock_locate = 300, .flags = 3 };
	struct book_bbo q = { .bid_price = 1899900, .bid_shares = 5000000000ull, .bid_orders = 2 };
	struct book_level_info bids[3] = { { 1899900, 2, 5000000000ull }, { 1899800, 1, 100 }, { 0, 0, 0 } };
	struct book_level_info asks[1] = { { 1900000, 7, 700 } };
	uint8_t out[ENCODE_MAX_DEPTH_LEN(4)], re[ENCODE_MAX_DEPTH_LEN(4)];
	struct encoder *e;
	size_t len;
	Mdmesh__V1__Bbo *b;
	Mdmesh__V1__Depth *d;

	(void)state;
	assert_int_equal(encode_create(&e, "itch"), 0);
	for (int empty = 0; empty < 2; empty++) {
		assert_int_equal(encode_bbo(e, &v, &q, out, sizeof(out), &len), 0);
		b = mdmesh__v1__bbo__unpack(NULL, len, out);
		assert_non_null(b);
		assert_int_equal(mdmesh__v1__bbo__pack(b, re), len);
		assert_memory_equal(re, out, len);
		assert_string_equal(b->header->symbol, empty ? "" : "AAPL");
		assert_int_equal(b->header->seq, v.seq);
		assert_int_equal(b->header->stock_locate, v.stock_locate);
		assert_int_equal(b->bid_size, q.bid_shares);
		assert_int_equal(b->ask_price, 0);
		assert_int_equal(b->flags, v.flags);
		mdmesh__v1__bbo__free_unpacked(b, NULL);

		assert_int_equal(encode_depth(e, &v, bids, 3 - 3 * empty, asks, 1, out, sizeof(out), &len), 0);
		d = mdmesh__v1__depth__unpack(NULL, len, out);
		assert_non_null(d);
		assert_int_equal(mdmesh__v1__depth__pack(d, re), len);
		assert_memory_equal(re, out, len);
		assert_int_equal(d->n_bids, empty ? 0 : 3);
		assert_int_equal(d->n_asks, 1);
		assert_int_equal(d->asks[0]->orders, 7);
		if (!empty)
			assert_int_equal(d->bids[0]->size, 5000000000ull);
		mdmesh__v1__depth__free_unpacked(d, NULL);
		memset(&q, 0, sizeof(q));
		v = (struct encode_view){ .session = "S1", .symbol = "" };
	}
	assert_int_equal(encode_depth(e, &v, bids, 3, asks, 1, out, 100, &len), -ENOSPC);
	encode_destroy(e);
}

/* encode_view_read gives back what encode_bbo / encode_depth were given,
 * and refuses what is not such a message. */
static void test_view_read(void **state)
{
	struct encode_view v = { .session = "S1", .symbol = "AAPL", .seq = 77, .exchange_ts_ns = 34200000000123ull,
				 .stock_locate = 300, .flags = 5 };
	struct book_bbo q = { .bid_price = 1899900, .bid_shares = 5000000000ull, .bid_orders = 2, .ask_price = 1900000,
			      .ask_shares = 700, .ask_orders = 7 };
	struct book_level_info bids[2] = { { 1899900, 2, 5000000000ull }, { 1899800, 1, 100 } };
	struct book_level_info asks[1] = { { 1900000, 7, 700 } };
	static struct encode_view_read r;
	uint8_t out[ENCODE_MAX_DEPTH_LEN(3)];
	struct encoder *e;
	size_t len;

	(void)state;
	assert_int_equal(encode_create(&e, "itch"), 0);
	assert_int_equal(encode_bbo(e, &v, &q, out, sizeof(out), &len), 0);
	assert_true(encode_view_read(out, len, true, &r));
	assert_int_equal(r.o.kind, VIEWS_BBO);
	assert_memory_equal(&r.o.bbo, &q, sizeof(q));
	assert_int_equal(r.o.seq, 77);
	assert_int_equal(r.o.ts_ns, v.exchange_ts_ns);
	assert_int_equal(r.o.locate, 300);
	assert_int_equal(r.o.flags, 5);
	assert_string_equal(r.symbol, "AAPL");
	assert_string_equal(r.session, "S1");

	assert_int_equal(encode_depth(e, &v, bids, 2, asks, 1, out, sizeof(out), &len), 0);
	assert_true(encode_view_read(out, len, false, &r));
	assert_int_equal(r.o.kind, VIEWS_DEPTH);
	assert_int_equal(r.o.n_bids, 2);
	assert_int_equal(r.o.n_asks, 1);
	assert_memory_equal(r.o.bids, bids, sizeof(bids));
	assert_memory_equal(r.o.asks, asks, sizeof(asks));
	assert_ptr_equal(r.o.bids, r.lv);

	assert_false(encode_view_read((const uint8_t *)"\xff\xff\xff", 3, true, &r));
	assert_false(encode_view_read((const uint8_t *)"", 0, false, &r)); /* no header */
	encode_destroy(e);
}

static void test_bad_feed_names(void **state)
{
	struct encoder *e = NULL;

	assert_int_equal(encode_create(&e, ""), -EINVAL);
	assert_int_equal(encode_create(&e, NULL), -EINVAL);
	assert_int_equal(encode_create(&e, "a-feed-name-that-is-far-too-long-to-fit"), -EINVAL);
	assert_null(e);
	encode_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_every_field),
		cmocka_unit_test(test_add_order_exact_and_order_state),
		cmocka_unit_test(test_worst_case_fits),
		cmocka_unit_test(test_quote_before),
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_view_read),
		cmocka_unit_test(test_bad_feed_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
