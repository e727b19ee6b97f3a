/* Book checkpoint codec: a book, symbol map and trading states survive
 * encode/decode exactly (every order, every level, every BBO); the table of
 * damaged blobs is refused, each with its reason, and loads nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "book.h"
#include "book_check.h"
#include "ckpt.h"
#include "mdm_buf.h"
#include "mdm_err.h"
#include "mdm_sha256.h"

#define LOCATES 65536

static void add(struct book *b, uint16_t locate, uint64_t ref, char side, uint32_t shares, uint32_t price)
{
	uint8_t a[ITCH_ADD_ORDER_LEN];
	struct itch_msg m;
	struct book_view v;

	itch_add_order(a, locate, ref, (uint8_t)side, shares, NULL, price);
	assert_int_equal(itch_decode(a, sizeof(a), &m), ITCH_OK);
	assert_int_equal(book_apply(b, &m, &v), BOOK_APPLIED);
}

struct fx {
	struct book *b, *b2;
	struct symbols *s, *s2;
	struct ckpt_tstate *t, *t2;
	struct mdm_buf blob;
	struct ckpt_header h;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct book_params bp = { .order_capacity = 1024, .level_capacity = 1024 };

	assert_int_equal(book_create(&f->b, &bp), 0);
	assert_int_equal(book_create(&f->b2, &bp), 0);
	assert_int_equal(symbols_create(&f->s), 0);
	assert_int_equal(symbols_create(&f->s2), 0);
	f->t = calloc(LOCATES, sizeof(*f->t));
	f->t2 = calloc(LOCATES, sizeof(*f->t2));
	symbols_set(f->s, 1, (const uint8_t *)"AAPL    ");
	symbols_set(f->s, 7, (const uint8_t *)"MSFT    ");
	symbols_set(f->s, 65535, (const uint8_t *)"ZZZZ    ");
	f->t[7] = (struct ckpt_tstate){ 'H', { 'L', 'U', 'D', 'P' } };
	for (uint64_t i = 1; i <= 300; i++)
		add(f->b, (uint16_t)(i % 3 == 0 ? 7 : 1), 1000 + i * 37, i % 2 ? 'B' : 'S', (uint32_t)(i * 10),
		    (uint32_t)(i % 2 ? 100000 - i * 100 : 100000 + i * 100));
	snprintf(f->h.feed, sizeof(f->h.feed), "itch");
	snprintf(f->h.session, sizeof(f->h.session), "SESSION01");
	f->h.stream_seq = 4242;
	f->h.feed_seq = 4000;
	f->h.created_ns = 1234567890123ull;
	assert_int_equal(ckpt_encode(&f->h, f->b, f->s, f->t, &f->blob), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	book_destroy(f->b);
	book_destroy(f->b2);
	symbols_destroy(f->s);
	symbols_destroy(f->s2);
	free(f->t);
	free(f->t2);
	mdm_buf_fini(&f->blob);
	free(f);
	return 0;
}

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	struct ckpt_header h;

	assert_int_equal(f->h.orders, 300);
	assert_int_equal(f->h.symbols, 3);
	assert_int_equal(f->h.states, 1);
	assert_int_equal(f->blob.len, CKPT_HEADER_LEN + 3 * 10 + 7 + 300 * 20 + CKPT_TRAILER_LEN);
	assert_int_equal(ckpt_decode((const uint8_t *)f->blob.data, f->blob.len, &h, f->b2, f->s2, f->t2), 0);
	assert_string_equal(h.feed, "itch");
	assert_string_equal(h.session, "SESSION01");
	assert_int_equal(h.stream_seq, 4242);
	assert_int_equal(h.feed_seq, 4000);
	assert_int_equal(h.created_ns, 1234567890123ull);
	assert_int_equal(h.orders, 300);
	book_assert_same(f->b, f->b2, 8);
	assert_memory_equal(symbols_peek(f->s2, 7), "MSFT    ", 8);
	assert_memory_equal(symbols_peek(f->s2, 65535), "ZZZZ    ", 8);
	assert_null(symbols_peek(f->s2, 2));
	assert_int_equal(f->t2[7].state, 'H');
	assert_memory_equal(f->t2[7].reason, "LUDP", 4);
	assert_int_equal(f->t2[1].state, 0);
	/* book_copy makes the same book */
	book_reset(f->b2);
	assert_int_equal(book_copy(f->b2, f->b), 0);
	book_assert_same(f->b, f->b2, 8);
}

static void test_empty_book(void **state)
{
	struct fx *f = *state;
	struct ckpt_header h = { .feed = "f", .session = "S" }, g;
	struct mdm_buf blob = MDM_BUF_INIT;

	book_reset(f->b2);
	symbols_reset(f->s2);
	assert_int_equal(ckpt_encode(&h, f->b2, f->s2, NULL, &blob), 0);
	assert_int_equal(blob.len, CKPT_HEADER_LEN + CKPT_TRAILER_LEN);
	assert_int_equal(ckpt_decode((const uint8_t *)blob.data, blob.len, &g, f->b2, f->s2, NULL), 0);
	assert_int_equal(g.orders, 0);
	mdm_buf_fini(&blob);
}

/* A damaged copy: `edit` changes it; reseal recomputes the checksum so a
 * content check is reached. */
enum edit { TRUNC, EXTEND, FLIP, SET32, SET8 };

struct bad_case {
	const char *name;
	enum edit edit;
	long at;          /* byte offset; negative: from the end */
	uint32_t value;   /* TRUNC: new length; SET32/SET8: value */
	bool reseal;
	int want;
	const char *reason;
};

#define ORD0 (CKPT_HEADER_LEN + 3 * 10 + 7) /* first order */

static const struct bad_case bad_cases[] = {
	{ "empty", TRUNC, 0, 0, false, -EBADMSG, "truncated: 0 bytes" },
	{ "header only", TRUNC, 0, 100, false, -EBADMSG, "truncated: 100 bytes" },
	{ "one byte short", TRUNC, 0, 1, false, -EBADMSG, "truncated" }, /* value 1: len - 1 */
	{ "one byte long", EXTEND, 0, 0, false, -EBADMSG, "trailing bytes" },
	{ "magic", FLIP, 0, 0, false, -EBADMSG, "bad magic" },
	{ "version 2", SET32, 8, 2, false, -EPROTO, "version 2, this build reads version 1" },
	{ "header length", SET32, 12, 64, false, -EBADMSG, "header length 64" },
	{ "body length", SET32, 16, 7, false, -EBADMSG, "the header says" },
	{ "order count", SET32, 96, 301, false, -EBADMSG, "do not fill the body" },
	{ "symbol count", SET32, 104, 4, false, -EBADMSG, "do not fill the body" },
	{ "symbol byte", FLIP, CKPT_HEADER_LEN + 3, 0, false, -EBADMSG, "checksum mismatch" },
	{ "order byte", FLIP, ORD0 + 9, 0, false, -EBADMSG, "checksum mismatch" },
	{ "checksum byte", FLIP, -1, 0, false, -EBADMSG, "checksum mismatch" },
	{ "side X", SET8, ORD0 + 18, 'X', true, -EBADMSG, "side 0x58" },
	{ "zero shares", SET32, ORD0 + 8, 0, true, -EBADMSG, "0 shares" },
	{ "duplicate ref", SET32, ORD0 + 20, 0, true, -EBADMSG, "duplicate reference" }, /* patched below */
	{ "feed not terminated", SET8, 24, 'i', true, -EBADMSG, "not terminated" }, /* filled below */
};

static void test_bad_input_refused(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len = f->blob.len + (c->edit == EXTEND);
		uint8_t *p = calloc(1, len);
		size_t at = c->at < 0 ? (size_t)((long)f->blob.len + c->at) : (size_t)c->at;
		struct ckpt_header h;
		int rc;

		memcpy(p, f->blob.data, f->blob.len);
		switch (c->edit) {
		case TRUNC:
			len = c->value == 1 ? f->blob.len - 1 : c->value;
			break;
		case EXTEND:
			break;
		case FLIP:
			p[at] ^= 0x5a;
			break;
		case SET32:
			for (int k = 0; k < 4; k++)
				p[at + k] = (uint8_t)(c->value >> (8 * k));
			break;
		case SET8:
			p[at] = (uint8_t)c->value;
			break;
		}
		if (strcmp(c->name, "duplicate ref") == 0) /* order 2 takes order 1's reference */
			memcpy(p + ORD0 + 20, p + ORD0, 8);
		if (strcmp(c->name, "feed not terminated") == 0)
			memset(p + 24, 'A', 32);
		if (c->reseal)
			assert_int_equal(mdm_sha256(p, len - CKPT_TRAILER_LEN, p + len - CKPT_TRAILER_LEN), 0);
		/* a loaded book proves nothing was loaded on refusal */
		book_reset(f->b2);
		add(f->b2, 3, 99, 'B', 1, 1);
		rc = ckpt_decode(p, len, &h, f->b2, f->s2, f->t2);
		print_message("%-20s -> %d %s\n", c->name, rc, mdm_err_last());
		assert_int_equal(rc, c->want);
		assert_non_null(strstr(mdm_err_last(), c->reason));
		if (strcmp(c->name, "duplicate ref") != 0)
			assert_int_equal(book_stats(f->b2)->orders, 1);
		else
			assert_int_equal(book_stats(f->b2)->orders, 0); /* reset, not half loaded */
		free(p);
	}
}

static void test_book_too_small(void **state)
{
	struct fx *f = *state;
	struct book_params bp = { .order_capacity = 64 };
	struct book *small;
	struct ckpt_header h;

	assert_int_equal(book_create(&small, &bp), 0);
	assert_int_equal(ckpt_decode((const uint8_t *)f->blob.data, f->blob.len, &h, small, f->s2, NULL), -ENOSPC);
	assert_non_null(strstr(mdm_err_last(), "300 orders, the book takes 56"));
	assert_int_equal(book_stats(small)->orders, 0);
	/* checking alone (no book) accepts it */
	assert_int_equal(ckpt_decode((const uint8_t *)f->blob.data, f->blob.len, &h, NULL, NULL, NULL), 0);
	book_destroy(small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_book, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_book_too_small, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
