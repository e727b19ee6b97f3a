/* fix_reader: messages across reads, and each refusal counted once (a garbage
 * run spanning reads, an oversized message whose body arrives later). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fix_msg.h"
#include "fix_reader.h"
#include "fix_testmsg.h"

#define MAXMSG 512

/* A reader and what it handed out: > 0 message lengths and < 0 reasons, in order. */
struct rig {
	struct fix_reader r;
	int out[8];
	size_t n;
};

static int setup(void **state)
{
	static struct rig g;

	memset(&g, 0, sizeof(g));
	*state = &g;
	return fix_reader_init(&g.r, MAXMSG);
}

static int teardown(void **state)
{
	fix_reader_fini(&((struct rig *)*state)->r);
	return 0;
}

/* Append bytes as one read and collect what next() returns. */
static void feed(struct rig *g, const char *p, size_t len)
{
	size_t room;
	char *at = fix_reader_space(&g->r, &room);
	const char *msg;
	int n;

	assert_true(len <= room);
	memcpy(at, p, len);
	fix_reader_fill(&g->r, len);
	while ((n = fix_reader_next(&g->r, &msg)) != 0) {
		if (n > 0)
			assert_memory_equal(msg, "8=FIX", 5);
		assert_true(g->n < 8);
		g->out[g->n++] = n;
	}
	fix_reader_compact(&g->r);
}

/* A Heartbeat numbered seq into m; its length. */
static size_t heartbeat(char *m, size_t cap, int seq)
{
	char body[96];

	snprintf(body, sizeof(body), "35=0|49=A|56=B|34=%d|52=20240102-13:30:00|", seq);
	return fix_testmsg(m, cap, "FIX.4.4", body);
}

static void test_split_message(void **state)
{
	struct rig *g = *state;
	char m[256];
	size_t len = heartbeat(m, sizeof(m), 2);

	for (size_t i = 0; i < len; i++) /* one byte a read, as a slow peer sends it */
		feed(g, m + i, 1);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->out[0], (int)len);
	assert_int_equal(fix_reader_pending(&g->r), 0);
}

static void test_garbage_run_counted_once(void **state)
{
	struct rig *g = *state;
	char m[256];
	size_t len = heartbeat(m, sizeof(m), 2);

	feed(g, "hello, ", 7);
	feed(g, "more garbage", 12);
	feed(g, "\xff\x00 8=FOO", 9);
	feed(g, m, len);
	feed(g, "junk again", 10);
	assert_int_equal(g->n, 3);
	assert_int_equal(g->out[0], -FIX_R_GARBAGE);
	assert_int_equal(g->out[1], (int)len);
	assert_int_equal(g->out[2], -FIX_R_GARBAGE); /* a new run after a message */
}

static void test_oversized_skipped_exactly(void **state)
{
	struct rig *g = *state;
	char big[2048], text[1400], ok[256], body[1600];
	size_t blen, olen;

	/* the body holds what looks like a message start: skipping by length
	 * must not take it for one */
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text + 100, "8=FIX.4.4", 9);
	snprintf(body, sizeof(body), "35=B|49=A|56=B|34=3|52=20240102-13:30:00|58=%s|", text);
	blen = fix_testmsg(big, sizeof(big), "FIX.4.4", body);
	olen = heartbeat(ok, sizeof(ok), 4);
	assert_true(blen > MAXMSG && blen - 600 < 2 * MAXMSG);
	feed(g, big, 600);
	feed(g, big + 600, blen - 600);
	feed(g, ok, olen);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->out[0], -FIX_R_OVERSIZED);
	assert_int_equal(g->out[1], (int)olen);
}

static void test_bad_checksum_then_message(void **state)
{
	struct rig *g = *state;
	char a[256], b[256];
	size_t alen = heartbeat(a, sizeof(a), 2), blen = heartbeat(b, sizeof(b), 3);

	a[alen - 2] = a[alen - 2] == '0' ? '1' : '0';
	feed(g, a, alen);
	feed(g, b, blen);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->out[0], -FIX_R_BAD_CHECKSUM);
	assert_int_equal(g->out[1], (int)blen);
	fix_reader_reset(&g->r);
	assert_int_equal(fix_reader_pending(&g->r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_run_counted_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_skipped_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_checksum_then_message, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
