/* The symbol of an event and the locate -> symbol map: learnt from R messages
 * and, for a late joiner, from a message's own stock; kept as sent (trimmed;
 * unusual ones counted by reason); unknown counted; redefinitions counted;
 * reset per session. And the one mapping from symbol bytes to a subject
 * token: the collector's subject and a processor rule's {symbol} agree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "encode.h"
#include "feed.h"
#include "mdm_mem.h"
#include "mdmesh/v1/events.pb-c.h"
#include "rules.h"
#include "subject.h"
#include "symbols.h"

/* A 39-byte Stock Directory message for (locate, stock). */
static void make_r(uint8_t *p, uint16_t locate, const char *stock8)
{
	memset(p, ' ', 39);
	p[0] = 'R';
	p[1] = (uint8_t)(locate >> 8);
	p[2] = (uint8_t)locate;
	memset(p + 3, 0, 8); /* tracking, timestamp */
	memcpy(p + 11, stock8, 8);
	memset(p + 21, 0, 4); /* round_lot_size */
	memset(p + 34, 0, 4); /* etp_leverage_factor */
}

/* A 36-byte Add Order for (locate, stock). */
static void make_a(uint8_t *p, uint16_t locate, const char *stock8)
{
	memset(p, 0, 36);
	p[0] = 'A';
	p[1] = (uint8_t)(locate >> 8);
	p[2] = (uint8_t)locate;
	p[19] = 'B';
	p[23] = 100; /* shares */
	memcpy(p + 24, stock8, 8);
	p[35] = 1; /* price */
}

/* The map's symbol of `locate` as text ("" when none). */
static const char *text_of(const struct symbols *s, uint16_t locate)
{
	static char t[SYMBOLS_TEXT_MAX + 1];

	symbols_text(t, symbols_peek(s, locate));
	return t;
}

/* symbols_of() on raw message bytes, as text. */
static const char *event_symbol(struct symbols *s, const uint8_t *p, size_t len)
{
	static char t[SYMBOLS_TEXT_MAX + 1];
	struct itch_msg m;

	assert_int_equal(itch_decode(p, len, &m), ITCH_OK);
	symbols_text(t, symbols_of(s, &m));
	return t;
}

static void test_r_messages_map_locates(void **state)
{
	struct symbols *s;
	struct itch_msg m;
	uint8_t r[39], a[36] = { 'A' };

	assert_int_equal(symbols_create(&s), 0);
	make_r(r, 1, "AAPL    ");
	assert_int_equal(itch_decode(r, sizeof(r), &m), ITCH_OK);
	assert_true(symbols_apply(s, &m));
	make_r(r, 65535, "ZVZZT   ");
	assert_int_equal(itch_decode(r, sizeof(r), &m), ITCH_OK);
	assert_true(symbols_apply(s, &m));
	make_r(r, 0, "ABCDEFGH"); /* all 8 characters used */
	assert_int_equal(itch_decode(r, sizeof(r), &m), ITCH_OK);
	assert_true(symbols_apply(s, &m));

	assert_string_equal(text_of(s, 1), "AAPL");
	assert_string_equal(text_of(s, 65535), "ZVZZT");
	assert_string_equal(text_of(s, 0), "ABCDEFGH");
	assert_int_equal(symbols_len(symbols_peek(s, 0)), SYMBOLS_LEN);
	assert_int_equal(symbols_stats(s)->known, 3);
	assert_int_equal(symbols_stats(s)->set, 3);
	assert_int_equal(symbols_stats(s)->unknown, 0);

	/* Not an R: ignored. */
	a[2] = 2;
	assert_int_equal(itch_decode(a, sizeof(a), &m), ITCH_OK);
	assert_false(symbols_apply(s, &m));
	assert_int_equal(symbols_stats(s)->set, 3);
	symbols_destroy(s);
}

static void test_unknown_locate(void **state)
{
	struct symbols *s;
	uint8_t e[31] = { 'E', 0, 42 }, sys[12] = { 'S' };

	assert_int_equal(symbols_create(&s), 0);
	assert_string_equal(event_symbol(s, e, sizeof(e)), "");
	assert_string_equal(event_symbol(s, e, sizeof(e)), "");
	assert_int_equal(symbols_stats(s)->unknown, 2);
	assert_null(symbols_peek(s, 42));
	assert_int_equal(symbols_stats(s)->unknown, 2); /* peek does not count */
	assert_string_equal(event_symbol(s, sys, sizeof(sys)), ""); /* market-wide: not unknown */
	assert_int_equal(symbols_stats(s)->unknown, 2);
	symbols_destroy(s);
}

static void test_redefine_reset(void **state)
{
	struct symbols *s;

	assert_int_equal(symbols_create(&s), 0);
	assert_true(symbols_set(s, 7, (const uint8_t *)"MSFT    "));
	assert_true(symbols_set(s, 7, (const uint8_t *)"MSFT    ")); /* same: not a redefinition */
	assert_int_equal(symbols_stats(s)->redefined, 0);
	assert_true(symbols_set(s, 7, (const uint8_t *)"MSF     ")); /* a prefix is different */
	assert_int_equal(symbols_stats(s)->redefined, 1);
	assert_string_equal(text_of(s, 7), "MSF");
	assert_true(symbols_set(s, 7, (const uint8_t *)"MSFTX   "));
	assert_int_equal(symbols_stats(s)->redefined, 2);
	assert_string_equal(text_of(s, 7), "MSFTX");
	assert_int_equal(symbols_stats(s)->known, 1);

	/* Empty: refused and counted, the old symbol stays. */
	assert_false(symbols_set(s, 7, (const uint8_t *)"        "));
	assert_int_equal(symbols_stats(s)->unusual[SYMBOLS_EMPTY], 1);
	assert_string_equal(text_of(s, 7), "MSFTX");

	symbols_reset(s);
	assert_int_equal(symbols_stats(s)->known, 0);
	assert_null(symbols_peek(s, 7));
	assert_int_equal(symbols_stats(s)->set, 4); /* counters survive a reset */
	symbols_destroy(s);
}

/* Issue 11: "E F" and "\x80X" were refused and published as no symbol. They
 * are kept as sent, their text is printable ASCII that gives the bytes back,
 * and each is counted under every reason it has. */
static void test_unusual_kept_and_counted(void **state)
{
	static const struct {
		const char *stock8, *text;
		unsigned reasons; /* 1 << enum symbols_unusual */
	} cases[] = {
		{ "E F     ", "E F", 1u << SYMBOLS_SPACE },
		{ "\x80X      ", "\\x80X", 1u << SYMBOLS_NON_ASCII },
		{ "AB\nC    ", "AB\\x0AC", 1u << SYMBOLS_CONTROL },
		{ "AB\0C    ", "AB\\x00C", 1u << SYMBOLS_CONTROL },
		{ "\x7f       ", "\\x7F", 1u << SYMBOLS_CONTROL },
		{ "A\\B     ", "A\\x5CB", 0 }, /* escaped so the text stays reversible; not unusual */
		{ " \xC3\xA9 \x01   ", " \\xC3\\xA9 \\x01", 1u << SYMBOLS_SPACE | 1u << SYMBOLS_CONTROL | 1u << SYMBOLS_NON_ASCII },
		{ "\xff\xff\xff\xff\xff\xff\xff\xff", "\\xFF\\xFF\\xFF\\xFF\\xFF\\xFF\\xFF\\xFF", 1u << SYMBOLS_NON_ASCII },
	};
	struct symbols *s;

	assert_int_equal(symbols_create(&s), 0);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t before[SYMBOLS_UNUSUAL_COUNT];
		uint8_t back[SYMBOLS_LEN];
		int n;

		memcpy(before, symbols_stats(s)->unusual, sizeof(before));
		assert_true(symbols_set(s, (uint16_t)(100 + i), (const uint8_t *)cases[i].stock8));
		assert_string_equal(text_of(s, (uint16_t)(100 + i)), cases[i].text);
		for (int r = 0; r < SYMBOLS_UNUSUAL_COUNT; r++)
			assert_int_equal(symbols_stats(s)->unusual[r] - before[r], (cases[i].reasons >> r) & 1);
		n = itch_text_parse(back, sizeof(back), cases[i].text);
		assert_int_equal(n, symbols_len((const uint8_t *)cases[i].stock8));
		assert_memory_equal(back, cases[i].stock8, (size_t)n);
	}
	assert_string_equal(symbols_unusual_name(SYMBOLS_SPACE), "space");
	assert_string_equal(symbols_unusual_name(SYMBOLS_NON_ASCII), "non_ascii");
	assert_string_equal(symbols_unusual_name(SYMBOLS_UNUSUAL_COUNT), "unknown");
	symbols_destroy(s);
}

/* symbols_len (one 64-bit load) against the plain loop: every pattern of
 * space / non-space over the 8 bytes, non-space being 'A', 0x00 or 0xFF. */
static void test_len_every_padding(void **state)
{
	static const uint8_t fill[] = { 'A', 0x00, 0xff };

	(void)state;
	assert_int_equal(symbols_len(NULL), 0);
	for (unsigned f = 0; f < sizeof(fill); f++) {
		for (unsigned mask = 0; mask < 256; mask++) {
			uint8_t stock[SYMBOLS_LEN];
			size_t want = 0;

			for (unsigned i = 0; i < SYMBOLS_LEN; i++) {
				stock[i] = mask >> i & 1 ? fill[f] : ' ';
				if (mask >> i & 1)
					want = i + 1;
			}
			assert_int_equal(symbols_len(stock), want);
		}
	}
}

/* Only canonical itch_text output parses. */
static void test_text_parse_strict(void **state)
{
	uint8_t b[SYMBOLS_LEN];

	assert_int_equal(itch_text_parse(b, sizeof(b), ""), 0);
	assert_int_equal(itch_text_parse(b, sizeof(b), "ABCDEFGH"), 8);
	assert_int_equal(itch_text_parse(b, sizeof(b), "ABCDEFGHI"), -1); /* too long */
	assert_int_equal(itch_text_parse(b, sizeof(b), "A\\"), -1);
	assert_int_equal(itch_text_parse(b, sizeof(b), "\\x8"), -1);
	assert_int_equal(itch_text_parse(b, sizeof(b), "\\x8g"), -1);
	assert_int_equal(itch_text_parse(b, sizeof(b), "\\x8a"), -1); /* lower case is not ours */
	assert_int_equal(itch_text_parse(b, sizeof(b), "\\x41"), -1); /* 'A' stands for itself */
	assert_int_equal(itch_text_parse(b, sizeof(b), "\x80"), -1);
	assert_int_equal(itch_text_parse(b, sizeof(b), "\\x80\\x5C"), 2);
	assert_int_equal(b[0], 0x80);
	assert_int_equal(b[1], '\\');
}

/* Issue 15 item 5: a message with its own stock gives its symbol without an
 * R, and teaches the map the locate for the messages that have none. */
static void test_own_stock_and_learning(void **state)
{
	struct symbols *s;
	uint8_t a[36], r[39], e[31] = { 'E', 0, 9 };

	assert_int_equal(symbols_create(&s), 0);
	make_a(a, 9, "IVOO    ");
	assert_string_equal(event_symbol(s, a, sizeof(a)), "IVOO");
	assert_int_equal(symbols_stats(s)->learned, 1);
	assert_int_equal(symbols_stats(s)->known, 1);
	assert_string_equal(event_symbol(s, e, sizeof(e)), "IVOO"); /* E has no stock: the map's */
	assert_int_equal(symbols_stats(s)->unknown, 0);

	/* the first learnt wins; the message still gives its own */
	make_a(a, 9, "OTHER   ");
	assert_string_equal(event_symbol(s, a, sizeof(a)), "OTHER");
	assert_string_equal(text_of(s, 9), "IVOO");
	assert_int_equal(symbols_stats(s)->learned, 1);

	/* an R overrides what was learnt, counted as a redefinition */
	make_r(r, 9, "IVOW    ");
	assert_string_equal(event_symbol(s, r, sizeof(r)), "IVOW");
	assert_string_equal(text_of(s, 9), "IVOW");
	assert_int_equal(symbols_stats(s)->redefined, 1);

	/* a blank own stock falls back to the map, and teaches nothing */
	make_a(a, 9, "        ");
	assert_string_equal(event_symbol(s, a, sizeof(a)), "IVOW");
	make_a(a, 10, "        ");
	assert_string_equal(event_symbol(s, a, sizeof(a)), "");
	assert_null(symbols_peek(s, 10));
	assert_int_equal(symbols_stats(s)->unknown, 1);

	/* locate 0 is market-wide: never learnt */
	make_a(a, 0, "ZERO    ");
	assert_string_equal(event_symbol(s, a, sizeof(a)), "ZERO");
	assert_null(symbols_peek(s, 0));
	symbols_destroy(s);
}

/* Every ITCH type with a `stock` field gives its own, without an R. */
static void test_every_type_with_stock(void **state)
{
	struct symbols *s;
	unsigned with_stock = 0;

	assert_int_equal(symbols_create(&s), 0);
	for (unsigned i = 0; i < ITCH_MSG_TYPES; i++) {
		const struct itch_msg_desc *d = itch_desc_at(i);
		const struct itch_field *f = itch_field_find(d, "stock");
		uint8_t p[ITCH_MAX_MSG_LEN] = { 0 };

		p[0] = d->type;
		p[2] = (uint8_t)(i + 1); /* locate */
		if (f)
			memcpy(p + f->offset, "SYM     ", 8);
		assert_string_equal(event_symbol(s, p, d->length), f ? "SYM" : "");
		with_stock += f != NULL;
	}
	assert_true(with_stock >= 12); /* R H Y L K J h A F P Q I at least */
	symbols_destroy(s);
}

static void test_lifecycle(void **state)
{
	struct symbols *s = (struct symbols *)&s;

	symbols_destroy(NULL);
	assert_int_equal(symbols_create(NULL), -EINVAL);
	mdm_mem_fail_after(1);
	assert_int_equal(symbols_create(&s), -ENOMEM);
	mdm_mem_fail_reset();
	assert_null(s);
}

/* ---- collector and processor agree on the token of an unusual symbol ---- */

struct parity {
	struct encoder *enc;
	struct rules *rules;
	unsigned n;
	char symbol[4][SYMBOLS_TEXT_MAX + 1];
	char collector[4][SUBJECT_MAX], processor[4][RULES_TARGET_MAX];
};

/* The collector's path (feed -> encode -> subject) and the processor's (the
 * decoded MarketEvent -> a rule's publish: "md.itch.{type}.{symbol}"). */
static void parity_emit(void *ctx, const struct feed_msg *fm)
{
	struct parity *p = ctx;
	struct encode_order eo;
	struct encode_meta meta;
	char symbol[SYMBOLS_TEXT_MAX + 1];
	uint8_t buf[ENCODE_MAX_EVENT_LEN];
	Mdmesh__V1__MarketEvent *ev;
	struct rules_action act[4];
	struct rules_event re = { 0 };
	size_t len;

	if (fm->m->type != 'A')
		return;
	assert_true(p->n < 4);
	encode_meta_from_feed(&meta, &eo, symbol, fm);
	assert_int_equal(encode_event(p->enc, fm->m, &meta, buf, sizeof(buf), &len), 0);
	assert_true(subject_event(p->collector[p->n], SUBJECT_MAX, "md", "itch", 'A', symbol) > 0);
	ev = mdmesh__v1__market_event__unpack(NULL, len, buf);
	assert_non_null(ev);
	snprintf(p->symbol[p->n], sizeof(p->symbol[p->n]), "%s", ev->header->symbol);
	/* the body's stock is the same text: one rule for every ITCH alpha */
	assert_string_equal(ev->add_order->stock, ev->header->symbol);
	re.ev = ev;
	assert_int_equal(rules_match(p->rules, &re, act, 4, NULL), 1);
	snprintf(p->processor[p->n], sizeof(p->processor[p->n]), "%s", act[0].target);
	mdmesh__v1__market_event__free_unpacked(ev, NULL);
	p->n++;
}

static void test_collector_and_processor_agree(void **state)
{
	static const char yaml[] = "rules: [{name: p, match: {}, targets: [{publish: \"md.itch.{type}.{symbol}\"}]}]\n";
	static const struct {
		const char *stock8, *text, *token;
	} want[] = {
		{ "E F     ", "E F", "md.itch.A.E_F" },
		{ "\x80X      ", "\\x80X", "md.itch.A.\\x80X" }, /* the text's token: '\' may stand in one */
		{ "BRK.A   ", "BRK.A", "md.itch.A.BRK_A" },
		{ "AAPL    ", "AAPL", "md.itch.A.AAPL" },
	};
	struct feed_params fp = { .n_lines = 1 };
	struct parity p = { 0 };
	struct feed *f;
	uint8_t pkt[20 + 4 * 38];
	size_t len = 20;

	assert_int_equal(feed_create(&f, &fp), 0);
	assert_int_equal(encode_create(&p.enc, "itch"), 0);
	assert_int_equal(rules_load_string(yaml, strlen(yaml), "parity", &p.rules), 0);
	/* one packet of Add Orders, no R: the symbols come from the messages */
	memcpy(pkt, "PARITY01  ", 10);
	memset(pkt + 10, 0, 10);
	pkt[17] = 1;
	pkt[19] = 4;
	for (unsigned i = 0; i < 4; i++) {
		pkt[len] = 0;
		pkt[len + 1] = 36;
		make_a(pkt + len + 2, (uint16_t)(i + 1), want[i].stock8);
		len += 38;
	}
	assert_int_equal(feed_on_packet(f, pkt, len, 0, 1, parity_emit, &p), 4);
	assert_int_equal(p.n, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_string_equal(p.symbol[i], want[i].text);
		assert_string_equal(p.collector[i], want[i].token);
		assert_string_equal(p.processor[i], p.collector[i]);
	}
	rules_unref(p.rules);
	encode_destroy(p.enc);
	feed_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r_messages_map_locates),
		cmocka_unit_test(test_unknown_locate),
		cmocka_unit_test(test_redefine_reset),
		cmocka_unit_test(test_unusual_kept_and_counted),
		cmocka_unit_test(test_len_every_padding),
		cmocka_unit_test(test_text_parse_strict),
		cmocka_unit_test(test_own_stock_and_learning),
		cmocka_unit_test(test_every_type_with_stock),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_collector_and_processor_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
