/* evbatch: packed EventBatch bytes decode with protobuf-c as an EventBatch
 * whose feed, partition and events equal the individual encodes, are the
 * bytes protobuf-c packs itself; the size bound, partitions and names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "encode.h"
#include "evbatch.h"
#include "itch.h"
#include "mdmesh/v1/events.pb-c.h"

static void put_be(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[size - 1 - i] = (uint8_t)(v >> (8 * i));
}

/* A message of type d, its fields varied by k. */
static void build(const struct itch_msg_desc *d, uint8_t *p, unsigned k)
{
	memset(p, 0, ITCH_MAX_MSG_LEN);
	p[0] = d->type;
	put_be(p + 1, k + 1, 2);
	put_be(p + 5, 34200000000000ULL + k, 6);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const struct itch_field *f = &d->fields[i];

		if (f->kind == ITCH_F_ALPHA) {
			memset(p + f->offset, ' ', f->size);
			p[f->offset] = (uint8_t)('A' + (i + k) % 26);
		} else {
			put_be(p + f->offset, (uint64_t)(i + 1) * 1000 + k, f->size);
		}
	}
}

/* Pack events of every ITCH type into partition `part`; compare. */
static void check_batch(uint32_t part, unsigned n_events)
{
	struct encoder *enc;
	struct evbatch b;
	static uint8_t buf[EVBATCH_MAX_BYTES];
	static uint8_t evs[600][ENCODE_MAX_EVENT_LEN];
	size_t lens[600], cap = evbatch_buffer_size(n_events, ENCODE_MAX_EVENT_LEN, ENCODE_FEED_MAX);
	Mdmesh__V1__EventBatch *eb;
	uint8_t *re;

	assert_true(n_events <= 600);
	assert_int_equal(encode_create(&enc, "itch"), 0);
	assert_int_equal(evbatch_init(&b, buf, cap, "itch", part, ENCODE_MAX_EVENT_LEN), 0);
	for (unsigned k = 0; k < n_events; k++) {
		const struct itch_msg_desc *d = itch_desc_at(k % ITCH_MSG_TYPES);
		struct encode_meta meta = { .session = "SESSION001", .seq = 1000 + k, .symbol = k % 3 ? "AAPL" : "",
					    .rx_ts_ns = 1700000000000000000ULL + k, .pub_ts_ns = 1700000000000001000ULL };
		uint8_t raw[ITCH_MAX_MSG_LEN];
		struct itch_msg m;

		build(d, raw, k);
		assert_int_equal(itch_decode(raw, d->length, &m), ITCH_OK);
		assert_int_equal(encode_event(enc, &m, &meta, evs[k], sizeof(evs[k]), &lens[k]), 0);
		assert_int_equal(evbatch_add(&b, evs[k], lens[k]), 0);
	}
	assert_int_equal(b.n, n_events);
	eb = mdmesh__v1__event_batch__unpack(NULL, b.len, buf);
	assert_non_null(eb);
	assert_string_equal(eb->feed, "itch");
	assert_int_equal(eb->partition, part);
	assert_int_equal(eb->n_events, n_events);
	for (unsigned k = 0; k < n_events; k++) {
		/* each event, packed on its own, is the bytes encode_event wrote */
		uint8_t one[ENCODE_MAX_EVENT_LEN];

		assert_int_equal(mdmesh__v1__market_event__get_packed_size(eb->events[k]), lens[k]);
		assert_int_equal(mdmesh__v1__market_event__pack(eb->events[k], one), lens[k]);
		assert_memory_equal(one, evs[k], lens[k]);
		assert_int_equal(eb->events[k]->header->seq, 1000 + k);
	}
	/* canonical: protobuf-c packs the decoded batch to the same bytes */
	assert_int_equal(mdmesh__v1__event_batch__get_packed_size(eb), b.len);
	re = test_malloc(b.len);
	assert_int_equal(mdmesh__v1__event_batch__pack(eb, re), b.len);
	assert_memory_equal(re, buf, b.len);
	test_free(re);
	mdmesh__v1__event_batch__free_unpacked(eb, NULL);

	/* clear keeps the header: an empty batch decodes with no events */
	evbatch_clear(&b);
	eb = mdmesh__v1__event_batch__unpack(NULL, b.len, buf);
	assert_non_null(eb);
	assert_int_equal(eb->partition, part);
	assert_int_equal(eb->n_events, 0);
	mdmesh__v1__event_batch__free_unpacked(eb, NULL);
	encode_destroy(enc);
}

static void test_packs_as_protobuf_c(void **state)
{
	(void)state;
	check_batch(0, 1);     /* partition 0: omitted like protobuf-c does */
	check_batch(3, 23);    /* one event of each type */
	check_batch(1023, 600); /* two-byte partition varint, many events */
}

static void test_full_is_enospc_and_unchanged(void **state)
{
	static uint8_t buf[4096];
	uint8_t ev[300];
	struct evbatch b;
	size_t len_before;
	unsigned n = 0;

	(void)state;
	memset(ev, 0x08, sizeof(ev));
	assert_int_equal(evbatch_init(&b, buf, 16, "itch", 1, ENCODE_MAX_EVENT_LEN), -ENOSPC);
	assert_int_equal(evbatch_init(&b, buf, sizeof(buf), "itch", 1, ENCODE_MAX_EVENT_LEN), 0);
	while (evbatch_add(&b, ev, sizeof(ev)) == 0)
		n++;
	assert_int_equal(n, (sizeof(buf) - b.head_len) / (1 + 2 + sizeof(ev)));
	len_before = b.len;
	assert_int_equal(evbatch_add(&b, ev, sizeof(ev)), -ENOSPC);
	assert_int_equal(b.len, len_before);
	assert_int_equal(b.n, n);
	/* the size bound: never above the server's default max payload */
	assert_int_equal(evbatch_buffer_size(65536, ENCODE_MAX_EVENT_LEN, ENCODE_FEED_MAX), EVBATCH_MAX_BYTES);
	assert_true(evbatch_buffer_size(256, ENCODE_MAX_EVENT_LEN, ENCODE_FEED_MAX) >= 256 * (ENCODE_MAX_EVENT_LEN + 3));
}

static void test_partition_and_names(void **state)
{
	char s[EVBATCH_SUBJECT_MAX], id[EVBATCH_MSGID_MAX], sym[8] = "AAPL";
	unsigned seen[4] = { 0 };

	(void)state;
	/* fixed: FNV-1a("AAPL") = 0x58cd330b is the contract across runs */
	assert_int_equal(evbatch_partition(sym, 1u << 31), 0x58cd330bu % (1u << 31));
	assert_int_equal(evbatch_partition(sym, 1), 0);
	memset(sym, 0, sizeof(sym));
	assert_int_equal(evbatch_partition(sym, 7), 2166136261u % 7);
	for (unsigned i = 0; i < 400; i++) {
		char t[8] = { 0 };

		snprintf(t, sizeof(t), "S%u", i);
		seen[evbatch_partition(t, 4)]++;
	}
	for (int p = 0; p < 4; p++)
		assert_true(seen[p] > 50); /* spread, not all in one */
	memcpy(sym, "ABCDEFGH", 8); /* 8 long: not terminated */
	assert_int_equal(evbatch_partition(sym, 1000), evbatch_partition("ABCDEFGH", 1000));

	assert_int_equal(evbatch_subject(s, sizeof(s), "itch", 17), 11);
	assert_string_equal(s, "mdb.itch.17");
	assert_int_equal(evbatch_msg_id(id, sizeof(id), "itch", "SESSION001", 0, 18446744073709551615ULL, 1023),
			 (int)strlen("itch.SESSION001.0-18446744073709551615.1023"));
	assert_string_equal(id, "itch.SESSION001.0-18446744073709551615.1023");
	assert_int_equal(evbatch_msg_id(id, 10, "itch", "SESSION001", 1, 2, 0), -ENOSPC);
	assert_int_equal(evbatch_subject(s, 8, "itch", 17), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packs_as_protobuf_c),
		cmocka_unit_test(test_full_is_enospc_and_unchanged),
		cmocka_unit_test(test_partition_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
