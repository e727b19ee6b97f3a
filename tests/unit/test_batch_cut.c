/* batch_cut: for given (session, seq, symbol) sequences, the batches the
 * rules cut and the Nats-Msg-Id each gets. A small driver plays the
 * publisher's part (publish.c batch_add): scope first, then the partition's
 * own cut, take, and the count cut; end of input publishes what is open.
 * Open batches are published in partition order (the publisher uses the
 * order partitions opened; the set of Msg-Ids is the contract). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "batch_cut.h"
#include "evbatch.h"

#define PARTS_MAX 4
#define EVENTS_MAX 32
#define OUT_MAX 16

struct ev {
	const char *session;
	uint64_t seq;
	const char *symbol; /* 8 bytes, space padded: AAA/CCC/EEE -> partition 0, BBB/DDD -> 1 of 2 */
};

struct driver {
	struct batch_cut_part part[PARTS_MAX];
	uint32_t parts, max_events;
	uint64_t window;
	char out[OUT_MAX][EVBATCH_MSGID_MAX];
	unsigned n_out;
};

static void publish(struct driver *d, uint32_t i)
{
	struct batch_cut_part *p = &d->part[i];

	assert_true(d->n_out < OUT_MAX);
	assert_true(evbatch_msg_id(d->out[d->n_out++], EVBATCH_MSGID_MAX, "itch", p->session, p->first_seq,
				   p->last_seq, i) > 0);
	batch_cut_reset(p);
}

static void take(struct driver *d, const struct ev *e)
{
	uint32_t i = evbatch_partition(e->symbol, d->parts);
	enum batch_cut_scope scope = batch_cut_scope(&d->window, e->seq, d->max_events);

	for (uint32_t k = 0; scope != BATCH_CUT_NONE && k < d->parts; k++)
		if (d->part[k].n && (scope == BATCH_CUT_ALL || batch_cut_older(&d->part[k], d->window)))
			publish(d, k);
	if (batch_cut_before(&d->part[i], e->session, e->seq, d->max_events))
		publish(d, i);
	batch_cut_take(&d->part[i], e->session, e->seq, d->max_events);
	if (batch_cut_full(&d->part[i], d->max_events))
		publish(d, i);
}

static const struct {
	const char *name;
	uint32_t max_events, parts;
	struct ev ev[EVENTS_MAX];
	const char *want[OUT_MAX]; /* Msg-Ids in publish order, NULL-terminated */
} cases[] = {
	{ "one window, one partition, published at end of input", 4, 1,
	  { { "S1", 4, "AAA     " }, { "S1", 5, "AAA     " }, { "S1", 6, "BBB     " } },
	  { "itch.S1.4-6.0" } },
	{ "a whole window in one partition is cut by count", 4, 1,
	  { { "S1", 4, "AAA     " }, { "S1", 5, "AAA     " }, { "S1", 6, "AAA     " }, { "S1", 7, "AAA     " },
	    { "S1", 8, "AAA     " } },
	  { "itch.S1.4-7.0", "itch.S1.8-8.0" } },
	{ "the next window closes every batch of the older one", 4, 2,
	  { { "S1", 1, "AAA     " }, { "S1", 2, "BBB     " }, { "S1", 3, "CCC     " }, { "S1", 4, "DDD     " },
	    { "S1", 9, "AAA     " } },
	  { "itch.S1.1-3.0", "itch.S1.2-2.1", "itch.S1.4-4.1", "itch.S1.9-9.0" } },
	{ "a gap of windows: one cut, then the new window", 4, 2,
	  { { "S1", 1, "AAA     " }, { "S1", 2, "BBB     " }, { "S1", 100, "BBB     " } },
	  { "itch.S1.1-1.0", "itch.S1.2-2.1", "itch.S1.100-100.1" } },
	{ "a late sequence (earlier window) closes everything", 4, 2,
	  { { "S1", 8, "AAA     " }, { "S1", 9, "BBB     " }, { "S1", 3, "AAA     " }, { "S1", 10, "AAA     " } },
	  { "itch.S1.8-8.0", "itch.S1.9-9.1", "itch.S1.3-3.0", "itch.S1.10-10.0" } },
	{ "a repeated or out-of-order sequence in the window cuts its partition", 4, 1,
	  { { "S1", 4, "AAA     " }, { "S1", 6, "AAA     " }, { "S1", 5, "AAA     " }, { "S1", 7, "AAA     " } },
	  { "itch.S1.4-6.0", "itch.S1.5-7.0" } },
	{ "a new session restarting at 1 closes everything", 4, 2,
	  { { "S1", 5, "AAA     " }, { "S1", 6, "BBB     " }, { "S2", 1, "AAA     " }, { "S2", 2, "BBB     " } },
	  { "itch.S1.5-5.0", "itch.S1.6-6.1", "itch.S2.1-1.0", "itch.S2.2-2.1" } },
	{ "a new session in the same window cuts the partition", 4, 1,
	  { { "S1", 5, "AAA     " }, { "S2", 6, "AAA     " } },
	  { "itch.S1.5-5.0", "itch.S2.6-6.0" } },
	{ "window 0 holds 1..max-1, window 1 starts at max", 3, 1,
	  { { "S1", 1, "AAA     " }, { "S1", 2, "AAA     " }, { "S1", 3, "AAA     " }, { "S1", 4, "AAA     " },
	    { "S1", 5, "AAA     " }, { "S1", 6, "AAA     " } },
	  { "itch.S1.1-2.0", "itch.S1.3-5.0", "itch.S1.6-6.0" } },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct driver d = { .parts = cases[c].parts, .max_events = cases[c].max_events };
		unsigned want = 0;

		for (size_t i = 0; i < EVENTS_MAX && cases[c].ev[i].session; i++)
			take(&d, &cases[c].ev[i]);
		for (uint32_t k = 0; k < d.parts; k++)
			if (d.part[k].n)
				publish(&d, k);
		while (want < OUT_MAX && cases[c].want[want])
			want++;
		for (unsigned i = 0; i < d.n_out || i < want; i++) {
			const char *got = i < d.n_out ? d.out[i] : "(none)", *exp = i < want ? cases[c].want[i] : "(none)";

			if (strcmp(got, exp) != 0)
				fail_msg("case \"%s\": batch %u is %s, want %s", cases[c].name, i, got, exp);
		}
	}
}

/* The publisher's size cut (EVBATCH_MAX_BYTES) sits between the rules: a
 * batch reset early starts the next at the arriving event, same window. */
static void test_reset_mid_window(void **state)
{
	struct batch_cut_part p = { 0 };

	(void)state;
	batch_cut_take(&p, "S1", 4, 4);
	batch_cut_take(&p, "S1", 5, 4);
	assert_false(batch_cut_before(&p, "S1", 6, 4));
	batch_cut_reset(&p);
	assert_false(batch_cut_before(&p, "S1", 6, 4));
	batch_cut_take(&p, "S1", 6, 4);
	assert_int_equal(p.first_seq, 6);
	assert_int_equal(p.last_seq, 6);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.session, "S1");
	assert_true(batch_cut_before(&p, "S1", 8, 4)); /* next window */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_reset_mid_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
