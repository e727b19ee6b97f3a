/* The worker pool's pure parts and what it is built from: symbol
 * partitioning (stable, in range, spread), nak delays by delivery count, the
 * per-batch arena (alignment, growth, reuse, failure flag), the
 * MAX_DELIVERIES advisory parser, and the processor config's cross-field
 * checks and delay lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "arena.h"
#include "dlq.h"
#include "mdm_clock.h"
#include "mdm_mem.h"
#include "processor_cfg.h"
#include "worker.h"

static void test_partition(void **state)
{
	uint32_t count[4] = { 0 };
	char subject[64];

	(void)state;
	assert_int_equal(worker_partition("md.itch.P.AAPL", 1), 0);
	/* The symbol (last token) decides, not type or feed. */
	assert_int_equal(worker_partition("md.itch.P.AAPL", 4), worker_partition("md.other.A.AAPL", 4));
	assert_int_equal(worker_partition("AAPL", 4), worker_partition("md.itch.E.AAPL", 4));
	for (int i = 0; i < 400; i++) {
		snprintf(subject, sizeof(subject), "md.itch.P.SYM%d", i);
		uint32_t k = worker_partition(subject, 4);

		assert_true(k < 4);
		count[k]++;
	}
	/* 400 symbols over 4 workers: none starved, none with more than half. */
	for (int k = 0; k < 4; k++)
		assert_in_range(count[k], 60, 200);
	/* Two workers: the weak low bit of plain FNV-1a would put these four on one. */
	assert_true(worker_partition("md.itch.P.AAPL", 2) != worker_partition("md.itch.P.MSFT", 2) ||
		    worker_partition("md.itch.P.AAPL", 2) != worker_partition("md.itch.P.IBM", 2) ||
		    worker_partition("md.itch.P.AAPL", 2) != worker_partition("md.itch.P.GOOG", 2));
}

static void test_nak_delay(void **state)
{
	const uint64_t d[] = { 1 * MDM_NS_PER_S, 5 * MDM_NS_PER_S, 15 * MDM_NS_PER_S };

	(void)state;
	assert_int_equal(worker_nak_delay_ns(d, 3, 0), d[0]);
	assert_int_equal(worker_nak_delay_ns(d, 3, 1), d[0]);
	assert_int_equal(worker_nak_delay_ns(d, 3, 2), d[1]);
	assert_int_equal(worker_nak_delay_ns(d, 3, 3), d[2]);
	assert_int_equal(worker_nak_delay_ns(d, 3, 1000), d[2]);
	assert_int_equal(worker_nak_delay_ns(NULL, 0, 7), MDM_NS_PER_S);
}

static void test_arena(void **state)
{
	struct arena *a = NULL;
	unsigned char *p, *q, *first;
	size_t cap;

	(void)state;
	assert_int_equal(arena_create(&a, 1024), 0);
	first = p = arena_alloc(a, 3);
	q = arena_alloc(a, 5);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 16, 0);
	assert_int_equal((uintptr_t)q % 16, 0);
	assert_int_equal(q - p, 16);
	assert_int_equal(arena_used(a), 32);
	/* Bigger than a chunk: a new chunk of at least that size. */
	p = arena_alloc(a, 5000);
	assert_non_null(p);
	memset(p, 0xab, 5000);
	cap = arena_capacity(a);
	assert_true(cap >= 1024 + 5000);
	arena_reset(a);
	assert_int_equal(arena_used(a), 0);
	/* Reuse: the same memory again, nothing new allocated. */
	assert_ptr_equal(arena_alloc(a, 3), first);
	assert_non_null(arena_alloc(a, 5000));
	assert_int_equal(arena_capacity(a), cap);
	assert_false(arena_failed(a));
	mdm_mem_fail_after(1);
	assert_null(arena_alloc(a, 1 << 20));
	mdm_mem_fail_reset();
	assert_true(arena_failed(a));
	arena_reset(a);
	assert_false(arena_failed(a));
	/* protobuf-c allocator draws from the arena. */
	{
		ProtobufCAllocator *pa = arena_pb_allocator(a);
		size_t before = arena_used(a);

		assert_non_null(pa->alloc(pa->allocator_data, 100));
		assert_int_equal(arena_used(a), before + 112);
		pa->free(pa->allocator_data, NULL);
	}
	arena_destroy(a);
}

static void test_advisory(void **state)
{
	const char *adv = "{\"type\":\"io.nats.jetstream.advisory.v1.max_deliver\",\"id\":\"x\","
			  "\"timestamp\":\"2026-11-23T10:00:00Z\",\"stream\":\"MD\",\"consumer\":\"processor\","
			  "\"stream_seq\":1234,\"deliveries\":5}";
	uint64_t seq = 0, dl = 0;

	(void)state;
	assert_int_equal(dlq_advisory_parse(adv, strlen(adv), &seq, &dl), 0);
	assert_int_equal(seq, 1234);
	assert_int_equal(dl, 5);
	assert_int_equal(dlq_advisory_parse("{\"stream_seq\": 7, \"deliveries\": 2}", 35, &seq, &dl), 0);
	assert_int_equal(seq, 7);
	assert_int_equal(dl, 2);
	assert_int_equal(dlq_advisory_parse("{\"deliveries\":5}", 16, &seq, &dl), -EINVAL);
	assert_int_equal(dlq_advisory_parse("{\"stream_seq\":0,\"deliveries\":5}", 31, &seq, &dl), -EINVAL);
	assert_int_equal(dlq_advisory_parse("{\"stream_seq\":\"9\",\"deliveries\":5}", 33, &seq, &dl), -EINVAL);
	/* Truncated before the number. */
	assert_int_equal(dlq_advisory_parse(adv, strstr(adv, "1234") - adv, &seq, &dl), -EINVAL);
	assert_int_equal(dlq_advisory_parse("{\"stream_seq\":99999999999999999999999,\"deliveries\":1}", 52, &seq, &dl),
			 -EINVAL);
}

static int cfg_with(struct processor_cfg *c, const char *yaml)
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = mdm_cfg_load_string(processor_cfg_schema, processor_cfg_schema_len, c, yaml, strlen(yaml), "t.yaml");
	return rc ? rc : processor_cfg_validate(c);
}

static void test_cfg(void **state)
{
	struct processor_cfg c;

	(void)state;
	assert_int_equal(cfg_with(&c, ""), 0);
	assert_string_equal(c.store_url, "var/mdmesh.db");
	assert_string_equal(c.http_listen, "127.0.0.1:9102");
	assert_string_equal(c.consumer_durable, "processor");
	assert_int_equal(c.n_nak_delays, 3);
	assert_int_equal(c.nak_delay_ns[1], 5 * MDM_NS_PER_S);
	assert_int_equal(c.n_backoff, 0);
	processor_cfg_free(&c);

	assert_int_equal(cfg_with(&c, "consumer: {nak_delays: '250ms, 2s', backoff: [1s, 10s], max_deliver: 3}"), 0);
	assert_int_equal(c.n_nak_delays, 2);
	assert_int_equal(c.nak_delay_ns[0], 250 * MDM_NS_PER_MS);
	assert_int_equal(c.n_backoff, 2);
	assert_int_equal(c.backoff_ns[1], 10 * MDM_NS_PER_S);
	processor_cfg_free(&c);

	/* max_deliver must exceed the backoff list */
	assert_int_equal(cfg_with(&c, "consumer: {backoff: [1s, 2s], max_deliver: 2}"), -EINVAL);
	processor_cfg_free(&c);
	/* a fetch larger than MaxAckPending would wait out every fetch */
	assert_int_equal(cfg_with(&c, "fetch: {batch: 512}\nconsumer: {max_ack_pending: 256}"), -EINVAL);
	processor_cfg_free(&c);
	assert_int_equal(cfg_with(&c, "consumer: {nak_delays: [1s, soon]}"), -EINVAL);
	processor_cfg_free(&c);
	assert_int_equal(cfg_with(&c, "consumer: {durable: 'a.b'}"), -EINVAL);
	processor_cfg_free(&c);
	assert_int_equal(cfg_with(&c, "validate: {min_price: 500, max_price: 100}"), -EINVAL);
	processor_cfg_free(&c);
	assert_int_equal(cfg_with(&c, "workers: 0"), -EINVAL);
	processor_cfg_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partition),
		cmocka_unit_test(test_nak_delay),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_advisory),
		cmocka_unit_test(test_cfg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
