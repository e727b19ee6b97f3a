/* MoldUDP64 framing: packet kinds, zero-copy block iteration, every
 * malformed-packet reason, and the re-request packet. Malformed packets are
 * parsed from exact-size heap copies so a sanitizer build catches any read
 * past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "mdm_mem.h"
#include "mold.h"

static const uint8_t SESSION[MOLD_SESSION_LEN] = { '0', '0', '0', '0', '0', '1', '2', '3', '4', 'A' };

/* Header: session, seq, count. */
static size_t put_header(uint8_t *p, uint64_t seq, uint16_t count)
{
	memcpy(p, SESSION, MOLD_SESSION_LEN);
	for (int i = 0; i < 8; i++)
		p[10 + i] = (uint8_t)(seq >> (56 - 8 * i));
	p[18] = (uint8_t)(count >> 8);
	p[19] = (uint8_t)count;
	return MOLD_HEADER_LEN;
}

/* One block: u16 length + `len` bytes of `fill`. */
static size_t put_block(uint8_t *p, uint16_t len, uint8_t fill)
{
	p[0] = (uint8_t)(len >> 8);
	p[1] = (uint8_t)len;
	memset(p + 2, fill, len);
	return 2u + len;
}

/* Parse from an exact-size heap copy (ASan sees any overread). The copy is
 * freed on return: `pkt` must not be iterated afterwards. */
static enum mold_status parse_exact(const uint8_t *bytes, size_t len, const struct mold_params *params, struct mold_pkt *pkt)
{
	uint8_t *copy = mdm_malloc(len ? len : 1);
	enum mold_status rc;

	assert_non_null(copy);
	memcpy(copy, bytes, len);
	rc = mold_parse(copy, len, params, pkt);
	if (rc == MOLD_OK) {
		struct mold_iter it;
		const uint8_t *msg;
		size_t n;

		mold_iter_init(&it, pkt);
		while (mold_next(&it, &msg, &n))
			assert_true(msg >= copy && msg + n <= copy + len);
	}
	mdm_free(copy);
	return rc;
}

static void test_data_packet_iterates_zero_copy(void **state)
{
	uint8_t p[128];
	size_t len = put_header(p, 0x0102030405060708ull, 3);
	const size_t want_len[3] = { 12, 36, 1 };
	struct mold_pkt pkt;
	struct mold_iter it;
	const uint8_t *msg;
	size_t n, off[3];

	for (int i = 0; i < 3; i++) {
		off[i] = len + 2;
		len += put_block(p + len, (uint16_t)want_len[i], (uint8_t)('a' + i));
	}
	assert_int_equal(mold_parse(p, len, NULL, &pkt), MOLD_OK);
	assert_int_equal(pkt.kind, MOLD_KIND_DATA);
	assert_ptr_equal(pkt.session, p);
	assert_true(pkt.seq == 0x0102030405060708ull);
	assert_int_equal(pkt.count, 3);
	assert_int_equal(pkt.trailing_len, 0);
	mold_iter_init(&it, &pkt);
	for (int i = 0; i < 3; i++) {
		assert_true(mold_next(&it, &msg, &n));
		assert_ptr_equal(msg, p + off[i]); /* a view into the packet, not a copy */
		assert_int_equal(n, want_len[i]);
		assert_int_equal(msg[0], 'a' + i);
	}
	assert_false(mold_next(&it, &msg, &n));
	assert_false(mold_next(&it, &msg, &n));
}

static void test_heartbeat_and_end_of_session(void **state)
{
	uint8_t p[32];
	struct mold_pkt pkt;
	struct mold_iter it;
	const uint8_t *msg;
	size_t n;

	put_header(p, 77, 0);
	assert_int_equal(mold_parse(p, 20, NULL, &pkt), MOLD_OK);
	assert_int_equal(pkt.kind, MOLD_KIND_HEARTBEAT);
	assert_int_equal(pkt.count, 0);
	assert_true(pkt.seq == 77);
	mold_iter_init(&it, &pkt);
	assert_false(mold_next(&it, &msg, &n));

	put_header(p, 78, MOLD_COUNT_EOS);
	assert_int_equal(mold_parse(p, 20, NULL, &pkt), MOLD_OK);
	assert_int_equal(pkt.kind, MOLD_KIND_END_OF_SESSION);
	assert_int_equal(pkt.count, 0); /* no blocks, whatever the wire count */
	assert_true(pkt.seq == 78);
	mold_iter_init(&it, &pkt);
	assert_false(mold_next(&it, &msg, &n));
}

struct bad_case {
	const char *what;
	enum mold_status want;
	size_t len;
	uint8_t bytes[64];
};

static void build_bad_cases(struct bad_case *c, size_t *n)
{
	size_t k = 0, len;

	/* Block length header cut after 1 byte (count 2, one good block). */
	c[k].what = "block header truncated";
	c[k].want = MOLD_ERR_BLOCK_TRUNCATED;
	len = put_header(c[k].bytes, 1, 2);
	len += put_block(c[k].bytes + len, 3, 'x');
	c[k].bytes[len++] = 0;
	c[k++].len = len;

	c[k].what = "zero-length block";
	c[k].want = MOLD_ERR_ZERO_LENGTH;
	len = put_header(c[k].bytes, 1, 2);
	len += put_block(c[k].bytes + len, 3, 'x');
	len += put_block(c[k].bytes + len, 0, 'x');
	c[k++].len = len;

	c[k].what = "block overruns the packet";
	c[k].want = MOLD_ERR_BLOCK_OVERRUN;
	len = put_header(c[k].bytes, 1, 1);
	put_block(c[k].bytes + len, 10, 'x');
	c[k++].len = len + 2 + 9;

	c[k].what = "count overruns the packet";
	c[k].want = MOLD_ERR_COUNT_OVERRUN;
	len = put_header(c[k].bytes, 1, 3);
	len += put_block(c[k].bytes + len, 4, 'x');
	len += put_block(c[k].bytes + len, 4, 'y');
	c[k++].len = len;

	c[k].what = "count with no blocks at all";
	c[k].want = MOLD_ERR_COUNT_OVERRUN;
	c[k].len = put_header(c[k].bytes, 1, 1);
	k++;

	c[k].what = "huge count, one block";
	c[k].want = MOLD_ERR_COUNT_OVERRUN;
	len = put_header(c[k].bytes, 1, 0xFFFE);
	len += put_block(c[k].bytes + len, 4, 'x');
	c[k++].len = len;
	*n = k;
}

static void test_malformed_reasons(void **state)
{
	struct bad_case c[8];
	struct mold_pkt pkt;
	size_t n;

	build_bad_cases(c, &n);
	for (size_t i = 0; i < n; i++) {
		enum mold_status rc = parse_exact(c[i].bytes, c[i].len, NULL, &pkt);

		if (rc != c[i].want)
			fail_msg("%s: got %s want %s", c[i].what, mold_status_name(rc), mold_status_name(c[i].want));
	}
}

static void test_short_header_every_length(void **state)
{
	uint8_t p[MOLD_HEADER_LEN];
	struct mold_pkt pkt;

	put_header(p, 5, 0);
	for (size_t len = 0; len < MOLD_HEADER_LEN; len++)
		assert_int_equal(parse_exact(p, len, NULL, &pkt), MOLD_ERR_SHORT_HEADER);
	assert_int_equal(parse_exact(p, MOLD_HEADER_LEN, NULL, &pkt), MOLD_OK);
}

/* Every strict prefix of a valid packet is rejected, with the reason that
 * matches where the cut falls. */
static void test_every_truncation_rejected(void **state)
{
	uint8_t p[64];
	size_t len = put_header(p, 9, 2);
	size_t b1 = len;
	struct mold_pkt pkt;

	len += put_block(p + len, 5, 'x'); /* block 1: [20, 27) */
	len += put_block(p + len, 6, 'y'); /* block 2: [27, 35) */
	assert_int_equal(parse_exact(p, len, NULL, &pkt), MOLD_OK);
	for (size_t cut = 0; cut < len; cut++) {
		enum mold_status want;

		if (cut < MOLD_HEADER_LEN)
			want = MOLD_ERR_SHORT_HEADER;
		else if (cut == b1 || cut == b1 + 7)
			want = MOLD_ERR_COUNT_OVERRUN;
		else if (cut == b1 + 1 || cut == b1 + 8)
			want = MOLD_ERR_BLOCK_TRUNCATED;
		else
			want = MOLD_ERR_BLOCK_OVERRUN;
		if (parse_exact(p, cut, NULL, &pkt) != want)
			fail_msg("cut at %zu: got %s", cut, mold_status_name(parse_exact(p, cut, NULL, &pkt)));
	}
}

static void test_oversize(void **state)
{
	size_t big = MOLD_MAX_PACKET_DEFAULT + 1;
	uint8_t *p = mdm_calloc(1, big);
	struct mold_params params = { .max_packet_len = 2000 };
	struct mold_params tiny = { .max_packet_len = 30 };
	struct mold_pkt pkt;
	size_t len;

	assert_non_null(p);
	len = put_header(p, 1, 1);
	len += put_block(p + len, (uint16_t)(big - len - 2), 'z');
	assert_int_equal(len, big);
	assert_int_equal(parse_exact(p, big, NULL, &pkt), MOLD_ERR_OVERSIZE);
	assert_int_equal(parse_exact(p, big, &params, &pkt), MOLD_OK);
	assert_int_equal(pkt.count, 1);
	/* Exactly the default maximum is accepted. */
	len = put_header(p, 1, 1);
	len += put_block(p + len, (uint16_t)(MOLD_MAX_PACKET_DEFAULT - len - 2), 'z');
	assert_int_equal(parse_exact(p, len, NULL, &pkt), MOLD_OK);
	/* A small configured cap: 31 bytes rejected, 30 accepted. */
	len = put_header(p, 1, 1);
	len += put_block(p + len, 9, 'z');
	assert_int_equal(len, 31);
	assert_int_equal(parse_exact(p, len, &tiny, &pkt), MOLD_ERR_OVERSIZE);
	len = put_header(p, 1, 1);
	len += put_block(p + len, 8, 'z');
	assert_int_equal(parse_exact(p, len, &tiny, &pkt), MOLD_OK);
	mdm_free(p);
}

static void test_trailing_bytes_policy(void **state)
{
	uint8_t p[64];
	struct mold_params strict = { .reject_trailing = true };
	struct mold_pkt pkt;
	struct mold_iter it;
	const uint8_t *msg;
	size_t n, len = put_header(p, 3, 1);

	len += put_block(p + len, 4, 'q');
	memcpy(p + len, "\0\0\0", 3);
	len += 3;
	/* Default: accepted, the trailing bytes reported, the block delivered. */
	assert_int_equal(parse_exact(p, len, NULL, &pkt), MOLD_OK);
	assert_int_equal(mold_parse(p, len, NULL, &pkt), MOLD_OK);
	assert_int_equal(pkt.trailing_len, 3);
	assert_int_equal(pkt.count, 1);
	mold_iter_init(&it, &pkt);
	assert_true(mold_next(&it, &msg, &n));
	assert_int_equal(n, 4);
	assert_false(mold_next(&it, &msg, &n));
	assert_int_equal(parse_exact(p, len, &strict, &pkt), MOLD_ERR_TRAILING);
	/* Heartbeat with padding. */
	len = put_header(p, 3, 0) + 2;
	assert_int_equal(parse_exact(p, len, NULL, &pkt), MOLD_OK);
	assert_int_equal(pkt.kind, MOLD_KIND_HEARTBEAT);
	assert_int_equal(pkt.trailing_len, 2);
	assert_int_equal(parse_exact(p, len, &strict, &pkt), MOLD_ERR_TRAILING);
}

/* An iterator over a hand-made view whose count lies still stops at `end`. */
static void test_iterator_bounds_on_forged_view(void **state)
{
	uint8_t p[16];
	struct mold_pkt pkt = { .kind = MOLD_KIND_DATA, .count = 5 };
	struct mold_iter it;
	const uint8_t *msg;
	size_t n;

	put_block(p, 3, 'k');
	p[5] = 0;
	p[6] = 200; /* second block claims 200 bytes */
	pkt.blocks = p;
	pkt.end = p + 9;
	mold_iter_init(&it, &pkt);
	assert_true(mold_next(&it, &msg, &n));
	assert_int_equal(n, 3);
	assert_false(mold_next(&it, &msg, &n));
}

static void test_status_names(void **state)
{
	static const char *const want[MOLD_STATUS_COUNT] = {
		"ok", "oversize", "short_header", "block_header_truncated", "zero_length_block",
		"block_overrun", "count_overrun", "trailing_bytes",
	};

	for (int i = 0; i < MOLD_STATUS_COUNT; i++)
		assert_string_equal(mold_status_name(i), want[i]);
	assert_string_equal(mold_status_name(MOLD_STATUS_COUNT), "unknown");
	assert_string_equal(mold_status_name((enum mold_status)-1), "unknown");
}

static void test_request_packet(void **state)
{
	static const uint8_t want[MOLD_REQUEST_LEN] = {
		'0', '0', '0', '0', '0', '1', '2', '3', '4', 'A',
		0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x01, 0x2C,
	};
	uint8_t out[32];
	const uint8_t *session;
	uint64_t seq;
	uint16_t count;
	struct mold_pkt pkt;

	memset(out, 0xEE, sizeof(out));
	assert_int_equal(mold_request_build(out, sizeof(out), SESSION, 0x0102030405ull, 300), MOLD_REQUEST_LEN);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[MOLD_REQUEST_LEN], 0xEE); /* nothing written past 20 bytes */
	assert_int_equal(mold_request_parse(out, MOLD_REQUEST_LEN, &session, &seq, &count), 0);
	assert_ptr_equal(session, out);
	assert_true(seq == 0x0102030405ull);
	assert_int_equal(count, 300);
	/* It is also a valid downstream header (a 20-byte packet, count 300,
	 * no blocks): the parser rejects it as data. */
	assert_int_equal(mold_parse(out, MOLD_REQUEST_LEN, NULL, &pkt), MOLD_ERR_COUNT_OVERRUN);

	assert_int_equal(mold_request_build(out, MOLD_REQUEST_LEN - 1, SESSION, 1, 1), -ENOSPC);
	assert_int_equal(mold_request_build(out, sizeof(out), SESSION, 0, 1), -EINVAL);
	assert_int_equal(mold_request_build(out, sizeof(out), SESSION, 1, 0), -EINVAL);
	assert_int_equal(mold_request_build(out, sizeof(out), SESSION, 1, MOLD_COUNT_EOS), -EINVAL);
	assert_int_equal(mold_request_parse(out, 19, &session, &seq, &count), -EINVAL);
	assert_int_equal(mold_request_parse(out, 21, &session, &seq, &count), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_packet_iterates_zero_copy),
		cmocka_unit_test(test_heartbeat_and_end_of_session),
		cmocka_unit_test(test_malformed_reasons),
		cmocka_unit_test(test_short_header_every_length),
		cmocka_unit_test(test_every_truncation_rejected),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_trailing_bytes_policy),
		cmocka_unit_test(test_iterator_bounds_on_forged_view),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_request_packet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
