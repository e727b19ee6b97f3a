/* ITCH 5.0 decoder: one hand-built wire vector per message type (bytes typed
 * from ITCH_FACTS.md section 2, not from itch_msgs.def), every field value
 * checked, plus unknown types and wrong lengths for every type. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "itch.h"

struct want_field {
	const char *name;
	uint8_t offset, size, kind;
	uint64_t u;      /* UINT / PRICE value */
	const char *s;   /* ALPHA value, trailing spaces trimmed; NULL for numbers */
};

#define N(name, off, size, kind, val) { name, off, size, kind, val, NULL }
#define S(name, off, size, str) { name, off, size, ITCH_F_ALPHA, 0, str }

struct itch_case {
	char type;
	const char *name;
	unsigned length;
	uint16_t locate, tracking;
	uint64_t ts_ns;
	const char *hex; /* the message, hex, spaces between fields */
	struct want_field fields[ITCH_MAX_FIELDS + 1];
};

/* Distinct values per field, multi-byte values that expose byte order, the
 * high bit set in a Price(8), > 32-bit shares in Q and I, an all-8-byte
 * near_execution_time in O, and timestamps that use all 6 bytes. */
static const struct itch_case cases[] = {
	{ 'S', "system_event", 12, 0, 1, 86399999999999ull,
	  "53 0000 0001 4e94914effff 4f",
	  { S("event_code", 11, 1, "O") } },
	{ 'R', "stock_directory", 39, 7, 2, 86399998999996ull,
	  "52 0007 0002 4e94913fbdbc 4141504c20202020 51 4e 00000064 4e 43 5a20 50 4e 20 31 4e 01020304 59",
	  { S("stock", 11, 8, "AAPL"),
	    S("market_category", 19, 1, "Q"),
	    S("financial_status_indicator", 20, 1, "N"),
	    N("round_lot_size", 21, 4, ITCH_F_UINT, 100ull),
	    S("round_lots_only", 25, 1, "N"),
	    S("issue_classification", 26, 1, "C"),
	    S("issue_sub_type", 27, 2, "Z"),
	    S("authenticity", 29, 1, "P"),
	    S("short_sale_threshold_indicator", 30, 1, "N"),
	    S("ipo_flag", 31, 1, ""),
	    S("luld_reference_price_tier", 32, 1, "1"),
	    S("etp_flag", 33, 1, "N"),
	    N("etp_leverage_factor", 34, 4, ITCH_F_UINT, 16909060ull),
	    S("inverse_indicator", 38, 1, "Y") } },
	{ 'H', "stock_trading_action", 25, 8, 3, 86399997999993ull,
	  "48 0008 0003 4e9491307b79 4d53465420202020 54 20 54312020",
	  { S("stock", 11, 8, "MSFT"),
	    S("trading_state", 19, 1, "T"),
	    S("reserved", 20, 1, ""),
	    S("reason", 21, 4, "T1") } },
	{ 'Y', "reg_sho_restriction", 20, 9, 4, 86399996999990ull,
	  "59 0009 0004 4e9491213936 54534c4120202020 31",
	  { S("stock", 11, 8, "TSLA"),
	    S("reg_sho_action", 19, 1, "1") } },
	{ 'L', "market_participant_position", 26, 10, 5, 86399995999987ull,
	  "4c 000a 0005 4e949111f6f3 4753434f 414d5a4e20202020 59 4e 41",
	  { S("mpid", 11, 4, "GSCO"),
	    S("stock", 15, 8, "AMZN"),
	    S("primary_market_maker", 23, 1, "Y"),
	    S("market_maker_mode", 24, 1, "N"),
	    S("market_participant_state", 25, 1, "A") } },
	{ 'V', "mwcb_decline_level", 35, 0, 6, 86399994999984ull,
	  "56 0000 0006 4e949102b4b0 0102030405060708 00000045da21194e ffeeddccbbaa9988",
	  { N("level1", 11, 8, ITCH_F_PRICE8, 72623859790382856ull),
	    N("level2", 19, 8, ITCH_F_PRICE8, 300012345678ull),
	    N("level3", 27, 8, ITCH_F_PRICE8, 18441921395520346504ull) } },
	{ 'W', "mwcb_status", 12, 0, 7, 86399993999981ull,
	  "57 0000 0007 4e9490f3726d 32",
	  { S("breached_level", 11, 1, "2") } },
	{ 'K', "ipo_quoting_period_update", 28, 11, 8, 86399992999978ull,
	  "4b 000b 0008 4e9490e4302a 5249564e20202020 00008598 41 000be6e0",
	  { S("stock", 11, 8, "RIVN"),
	    N("ipo_quotation_release_time", 19, 4, ITCH_F_UINT, 34200ull),
	    S("ipo_quotation_release_qualifier", 23, 1, "A"),
	    N("ipo_price", 24, 4, ITCH_F_PRICE4, 780000ull) } },
	{ 'J', "luld_auction_collar", 35, 12, 9, 86399991999975ull,
	  "4a 000c 0009 4e9490d4ede7 4142434420202020 000f4240 0010c8e0 000dbba0 00000003",
	  { S("stock", 11, 8, "ABCD"),
	    N("auction_collar_reference_price", 19, 4, ITCH_F_PRICE4, 1000000ull),
	    N("upper_auction_collar_price", 23, 4, ITCH_F_PRICE4, 1100000ull),
	    N("lower_auction_collar_price", 27, 4, ITCH_F_PRICE4, 900000ull),
	    N("auction_collar_extension", 31, 4, ITCH_F_UINT, 3ull) } },
	{ 'h', "operational_halt", 21, 13, 10, 86399990999972ull,
	  "68 000d 000a 4e9490c5aba4 5151512020202020 51 48",
	  { S("stock", 11, 8, "QQQ"),
	    S("market_code", 19, 1, "Q"),
	    S("operational_halt_action", 20, 1, "H") } },
	{ 'A', "add_order", 36, 7, 11, 86399989999969ull,
	  "41 0007 000b 4e9490b66961 112210f47de98115 42 0000012c 4141504c20202020 0016ed24",
	  { N("order_reference_number", 11, 8, ITCH_F_UINT, 1234567890123456789ull),
	    S("buy_sell_indicator", 19, 1, "B"),
	    N("shares", 20, 4, ITCH_F_UINT, 300ull),
	    S("stock", 24, 8, "AAPL"),
	    N("price", 32, 4, ITCH_F_PRICE4, 1502500ull) } },
	{ 'F', "add_order_mpid", 40, 14, 12, 86399988999966ull,
	  "46 000e 000c 4e9490a7271e 000000003ade68b1 53 00011170 49424d2020202020 00142440 4d53434f",
	  { N("order_reference_number", 11, 8, ITCH_F_UINT, 987654321ull),
	    S("buy_sell_indicator", 19, 1, "S"),
	    N("shares", 20, 4, ITCH_F_UINT, 70000ull),
	    S("stock", 24, 8, "IBM"),
	    N("price", 32, 4, ITCH_F_PRICE4, 1320000ull),
	    S("attribution", 36, 4, "MSCO") } },
	{ 'E', "order_executed", 31, 7, 13, 86399987999963ull,
	  "45 0007 000d 4e949097e4db 112210f47de98115 00000064 0a0b0c0d0e0f1011",
	  { N("order_reference_number", 11, 8, ITCH_F_UINT, 1234567890123456789ull),
	    N("executed_shares", 19, 4, ITCH_F_UINT, 100ull),
	    N("match_number", 23, 8, ITCH_F_UINT, 723685415333072913ull) } },
	{ 'C', "order_executed_with_price", 36, 7, 14, 86399986999960ull,
	  "43 0007 000e 4e949088a298 000000000000002a 00000032 0000000000000309 59 0016ed88",
	  { N("order_reference_number", 11, 8, ITCH_F_UINT, 42ull),
	    N("executed_shares", 19, 4, ITCH_F_UINT, 50ull),
	    N("match_number", 23, 8, ITCH_F_UINT, 777ull),
	    S("printable", 31, 1, "Y"),
	    N("execution_price", 32, 4, ITCH_F_PRICE4, 1502600ull) } },
	{ 'X', "order_cancel", 23, 7, 15, 86399985999957ull,
	  "58 0007 000f 4e9490796055 0000000000001092 00000019",
	  { N("order_reference_number", 11, 8, ITCH_F_UINT, 4242ull),
	    N("cancelled_shares", 19, 4, ITCH_F_UINT, 25ull) } },
	{ 'D', "order_delete", 19, 7, 16, 86399984999954ull,
	  "44 0007 0010 4e94906a1e12 00000000000010f7",
	  { N("order_reference_number", 11, 8, ITCH_F_UINT, 4343ull) } },
	{ 'U', "order_replace", 35, 7, 17, 86399983999951ull,
	  "55 0007 0011 4e94905adbcf 000000000000002c 000000000000002d 00000258 0016e2fc",
	  { N("original_order_reference_number", 11, 8, ITCH_F_UINT, 44ull),
	    N("new_order_reference_number", 19, 8, ITCH_F_UINT, 45ull),
	    N("shares", 27, 4, ITCH_F_UINT, 600ull),
	    N("price", 31, 4, ITCH_F_PRICE4, 1499900ull) } },
	{ 'P', "non_cross_trade", 44, 15, 18, 86399982999948ull,
	  "50 000f 0012 4e94904b998c 0000000000000000 42 000000c8 4e56444120202020 0044aa20 0000000000000378",
	  { N("order_reference_number", 11, 8, ITCH_F_UINT, 0ull),
	    S("buy_sell_indicator", 19, 1, "B"),
	    N("shares", 20, 4, ITCH_F_UINT, 200ull),
	    S("stock", 24, 8, "NVDA"),
	    N("price", 32, 4, ITCH_F_PRICE4, 4500000ull),
	    N("match_number", 36, 8, ITCH_F_UINT, 888ull) } },
	{ 'Q', "cross_trade", 40, 16, 19, 86399981999945ull,
	  "51 0010 0013 4e94903c5749 0000000123456789 5350592020202020 0047b760 00000000000003e7 4f",
	  { N("shares", 11, 8, ITCH_F_UINT, 4886718345ull),
	    S("stock", 19, 8, "SPY"),
	    N("cross_price", 27, 4, ITCH_F_PRICE4, 4700000ull),
	    N("match_number", 31, 8, ITCH_F_UINT, 999ull),
	    S("cross_type", 39, 1, "O") } },
	{ 'B', "broken_trade", 19, 0, 20, 86399980999942ull,
	  "42 0000 0014 4e94902d1506 00000000000003e7",
	  { N("match_number", 11, 8, ITCH_F_UINT, 999ull) } },
	{ 'I', "noii", 50, 7, 21, 86399979999939ull,
	  "49 0007 0015 4e94901dd2c3 0000000200000001 0000000100000002 42 4141504c20202020 00170a70 0016f6e8 0016e360 4f 4c",
	  { N("paired_shares", 11, 8, ITCH_F_UINT, 8589934593ull),
	    N("imbalance_shares", 19, 8, ITCH_F_UINT, 4294967298ull),
	    S("imbalance_direction", 27, 1, "B"),
	    S("stock", 28, 8, "AAPL"),
	    N("far_price", 36, 4, ITCH_F_PRICE4, 1510000ull),
	    N("near_price", 40, 4, ITCH_F_PRICE4, 1505000ull),
	    N("current_reference_price", 44, 4, ITCH_F_PRICE4, 1500000ull),
	    S("cross_type", 48, 1, "O"),
	    S("price_variation_indicator", 49, 1, "L") } },
	{ 'N', "retail_price_improvement", 20, 7, 22, 86399978999936ull,
	  "4e 0007 0016 4e94900e9080 4141504c20202020 42",
	  { S("stock", 11, 8, "AAPL"),
	    S("interest_flag", 19, 1, "B") } },
	{ 'O', "direct_listing_price_discovery", 48, 17, 23, 86399977999933ull,
	  "4f 0011 0017 4e948fff4e3d 4e4557434f202020 59 000186a0 00030d40 000249f0 1122334455667788 000222e0 00027100",
	  { S("stock", 11, 8, "NEWCO"),
	    S("open_eligibility_status", 19, 1, "Y"),
	    N("minimum_allowable_price", 20, 4, ITCH_F_PRICE4, 100000ull),
	    N("maximum_allowable_price", 24, 4, ITCH_F_PRICE4, 200000ull),
	    N("near_execution_price", 28, 4, ITCH_F_PRICE4, 150000ull),
	    N("near_execution_time", 32, 8, ITCH_F_UINT, 1234605616436508552ull),
	    N("lower_price_range_collar", 40, 4, ITCH_F_PRICE4, 140000ull),
	    N("upper_price_range_collar", 44, 4, ITCH_F_PRICE4, 160000ull) } },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static size_t hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex; hex++) {
		int v;

		if (*hex == ' ')
			continue;
		v = *hex <= '9' ? *hex - '0' : *hex - 'a' + 10;
		if (hi < 0) {
			hi = v;
		} else {
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	return n;
}

static void test_every_type_every_field(void **state)
{
	assert_int_equal(N_CASES, ITCH_MSG_TYPES);
	for (size_t c = 0; c < N_CASES; c++) {
		const struct itch_case *tc = &cases[c];
		uint8_t buf[64];
		size_t len = hex_decode(tc->hex, buf, sizeof(buf));
		struct itch_msg m;
		unsigned nf = 0;

		assert_int_equal(len, tc->length);
		assert_int_equal(itch_decode(buf, len, &m), ITCH_OK);
		assert_ptr_equal(m.p, buf);
		assert_int_equal(m.type, (uint8_t)tc->type);
		assert_int_equal(m.desc->type, (uint8_t)tc->type);
		assert_int_equal(m.desc->length, tc->length);
		assert_string_equal(m.desc->name, tc->name);
		assert_int_equal(m.stock_locate, tc->locate);
		assert_int_equal(m.tracking_number, tc->tracking);
		assert_true(m.timestamp_ns == tc->ts_ns);
		for (const struct want_field *w = tc->fields; w->name; w++, nf++) {
			const struct itch_field *f = itch_field_find(m.desc, w->name);

			if (!f)
				fail_msg("type %c: no field %s", tc->type, w->name);
			/* Same position in wire order as in the specification. */
			assert_ptr_equal(f, &m.desc->fields[nf]);
			assert_int_equal(f->offset, w->offset);
			assert_int_equal(f->size, w->size);
			assert_int_equal(f->kind, w->kind);
			if (w->s) {
				size_t n;
				const char *a = itch_field_alpha(&m, f, &n);

				assert_int_equal(n, strlen(w->s));
				assert_memory_equal(a, w->s, n);
			} else if (itch_field_uint(&m, f) != w->u) {
				fail_msg("type %c field %s: got %llu want %llu", tc->type, w->name,
					 (unsigned long long)itch_field_uint(&m, f), (unsigned long long)w->u);
			}
		}
		/* Every field of the type was checked. */
		assert_int_equal(nf, m.desc->n_fields);
	}
}

static void test_wrong_length_every_type(void **state)
{
	uint8_t buf[ITCH_MAX_MSG_LEN + 2];

	for (size_t c = 0; c < N_CASES; c++) {
		size_t len = hex_decode(cases[c].hex, buf, sizeof(buf));
		struct itch_msg m;

		memset(&m, 0xAA, sizeof(m));
		assert_int_equal(itch_decode(buf, len - 1, &m), ITCH_ERR_LENGTH);
		assert_int_equal(itch_decode(buf, len + 1, &m), ITCH_ERR_LENGTH);
		assert_int_equal(itch_decode(buf, 1, &m), ITCH_ERR_LENGTH);
		/* `out` untouched on failure. */
		assert_int_equal(m.type, 0xAA);
	}
}

static void test_unknown_types_and_empty(void **state)
{
	static const char known[] = "SRHYLVWKJhAFECXDUPQBINO";
	uint8_t buf[ITCH_MAX_MSG_LEN] = { 0 };
	struct itch_msg m;
	unsigned n_known = 0;

	for (unsigned t = 0; t < 256; t++) {
		bool is_known = t != 0 && strchr(known, (int)t) != NULL;

		buf[0] = (uint8_t)t;
		if (is_known) {
			n_known++;
			assert_non_null(itch_desc((uint8_t)t));
			assert_int_equal(itch_desc((uint8_t)t)->type, t);
		} else {
			assert_null(itch_desc((uint8_t)t));
			/* Any framed length: unknown wins over length. */
			assert_int_equal(itch_decode(buf, 12, &m), ITCH_ERR_UNKNOWN_TYPE);
			assert_int_equal(itch_decode(buf, 1, &m), ITCH_ERR_UNKNOWN_TYPE);
		}
	}
	assert_int_equal(n_known, ITCH_MSG_TYPES);
	assert_int_equal(itch_decode(buf, 0, &m), ITCH_ERR_EMPTY);
	/* 'a' vs 'A', 'H' vs 'h': the byte is case-sensitive. */
	assert_int_equal(itch_desc('a') == NULL, 1);
	assert_int_equal(itch_desc('H')->length, 25);
	assert_int_equal(itch_desc('h')->length, 21);
}

/* The table itself: dense indexes, fields tile the body exactly. */
static void test_table_shape(void **state)
{
	unsigned max_fields = 0, max_len = 0;

	for (unsigned i = 0; i < ITCH_MSG_TYPES; i++) {
		const struct itch_msg_desc *d = itch_desc_at(i);
		unsigned pos = ITCH_HEADER_LEN;

		assert_non_null(d);
		assert_int_equal(d->index, i);
		assert_ptr_equal(itch_desc(d->type), d);
		for (unsigned f = 0; f < d->n_fields; f++) {
			assert_int_equal(d->fields[f].offset, pos);
			assert_true(d->fields[f].size >= 1 && d->fields[f].size <= 8);
			pos += d->fields[f].size;
		}
		assert_int_equal(pos, d->length);
		if (d->n_fields > max_fields)
			max_fields = d->n_fields;
		if (d->length > max_len)
			max_len = d->length;
	}
	assert_null(itch_desc_at(ITCH_MSG_TYPES));
	assert_int_equal(max_fields, ITCH_MAX_FIELDS);
	assert_int_equal(max_len, ITCH_MAX_MSG_LEN);
	assert_null(itch_field_find(itch_desc('A'), "no_such_field"));
	assert_null(itch_field_find(NULL, "shares"));
	/* P's shares is 4 bytes, Q's is 8: same name, per-type layout. */
	assert_int_equal(itch_field_find(itch_desc('P'), "shares")->size, 4);
	assert_int_equal(itch_field_find(itch_desc('Q'), "shares")->size, 8);
}

static void test_be_helpers_and_status(void **state)
{
	static const uint8_t b[8] = { 0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xFF };

	assert_int_equal(itch_be16(b), 0x8001);
	assert_int_equal(itch_be32(b), 0x80010203u);
	assert_true(itch_be48(b) == 0x800102030405ull);
	assert_true(itch_be64(b) == 0x80010203040506FFull);
	assert_true(itch_be(b + 5, 3) == 0x0506FF);
	assert_string_equal(itch_status_str(ITCH_OK), "ok");
	assert_string_equal(itch_status_str(ITCH_ERR_UNKNOWN_TYPE), "unknown message type");
	assert_string_equal(itch_status_str(ITCH_ERR_LENGTH), "length does not match the message type");
	assert_string_equal(itch_status_str(ITCH_ERR_EMPTY), "empty message");
	assert_string_equal(itch_status_str((enum itch_status)-99), "unknown status");
	assert_string_equal(itch_status_name(ITCH_ERR_UNKNOWN_TYPE), "unknown_type");
	assert_string_equal(itch_status_name(ITCH_ERR_LENGTH), "bad_length");
	assert_string_equal(itch_status_name(ITCH_ERR_EMPTY), "empty");
	assert_string_equal(itch_status_name(ITCH_STATUS_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_every_field),
		cmocka_unit_test(test_wrong_length_every_type),
		cmocka_unit_test(test_unknown_types_and_empty),
		cmocka_unit_test(test_table_shape),
		cmocka_unit_test(test_be_helpers_and_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
