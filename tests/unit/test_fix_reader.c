/* fix_reader: messages across reads, and each refusal counted once (a garbage
 * run spanning reads, an oversized message whose body arrives later). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fix_msg.h"
#include "fix_reader.h"
#include "fix_testmsg.h"

#define MAXMSG 512

/* Append bytes as one read; collect what next() returns: > 0 lengths and
 * < 0 reasons, in order, into out (n_out entries). */
static void feed(struct fix_reader *r, const char *p, size_t len, int *out, size_t *n_out)
{
	size_t room;
	char *at = fix_reader_space(r, &room);
	const char *msg;
	int n;

	assert_true(len <= room);
	memcpy(at, p, len);
	fix_reader_fill(r, len);
	while ((n = fix_reader_next(r, &msg)) != 0) {
		if (n > 0)
			assert_memory_equal(msg, "8=FIX", 5);
		out[(*n_out)++] = n;
	}
	fix_reader_compact(r);
}

static void test_split_message(void **state)
{
	struct fix_reader r;
	char m[256];
	size_t len = fix_testmsg(m, sizeof(m), "FIX.4.4", "35=0|49=A|56=B|34=2|52=20240102-13:30:00|");
	int out[8];
	size_t n = 0;

	(void)state;
	assert_int_equal(fix_reader_init(&r, MAXMSG), 0);
	for (size_t i = 0; i < len; i++) /* one byte a read, as a slow peer sends it */
		feed(&r, m + i, 1, out, &n);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], (int)len);
	assert_int_equal(fix_reader_pending(&r), 0);
	fix_reader_fini(&r);
}

static void test_garbage_run_counted_once(void **state)
{
	struct fix_reader r;
	char m[256];
	size_t len = fix_testmsg(m, sizeof(m), "FIX.4.4", "35=0|49=A|56=B|34=2|52=20240102-13:30:00|");
	int out[8];
	size_t n = 0;

	(void)state;
	assert_int_equal(fix_reader_init(&r, MAXMSG), 0);
	feed(&r, "hello, ", 7, out, &n);
	feed(&r, "more garbage", 12, out, &n);
	feed(&r, "\xff\x00 8=FOO", 9, out, &n);
	feed(&r, m, len, out, &n);
	feed(&r, "junk again", 10, out, &n);
	assert_int_equal(n, 3);
	assert_int_equal(out[0], -FIX_R_GARBAGE);
	assert_int_equal(out[1], (int)len);
	assert_int_equal(out[2], -FIX_R_GARBAGE); /* a new run after a message */
	fix_reader_fini(&r);
}

static void test_oversized_skipped_exactly(void **state)
{
	struct fix_reader r;
	char big[2048], text[1400], ok[256], body[1600];
	size_t blen, olen;
	int out[8];
	size_t n = 0;

	(void)state;
	/* the body holds what looks like a message start: skipping by length
	 * must not take it for one */
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text + 100, "8=FIX.4.4", 9);
	snprintf(body, sizeof(body), "35=B|49=A|56=B|34=3|52=20240102-13:30:00|58=%s|", text);
	blen = fix_testmsg(big, sizeof(big), "FIX.4.4", body);
	olen = fix_testmsg(ok, sizeof(ok), "FIX.4.4", "35=0|49=A|56=B|34=4|52=20240102-13:30:00|");
	assert_int_equal(fix_reader_init(&r, MAXMSG), 0);
	assert_true(blen > MAXMSG && blen - 600 < 2 * MAXMSG);
	feed(&r, big, 600, out, &n);
	feed(&r, big + 600, blen - 600, out, &n);
	feed(&r, ok, olen, out, &n);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], -FIX_R_OVERSIZED);
	assert_int_equal(out[1], (int)olen);
	fix_reader_fini(&r);
}

static void test_bad_checksum_then_message(void **state)
{
	struct fix_reader r;
	char a[256], b[256];
	size_t alen = fix_testmsg(a, sizeof(a), "FIX.4.4", "35=0|49=A|56=B|34=2|52=20240102-13:30:00|");
	size_t blen = fix_testmsg(b, sizeof(b), "FIX.4.4", "35=0|49=A|56=B|34=3|52=20240102-13:30:00|");
	int out[8];
	size_t n = 0;

	(void)state;
	a[alen - 2] = a[alen - 2] == '0' ? '1' : '0';
	assert_int_equal(fix_reader_init(&r, MAXMSG), 0);
	feed(&r, a, alen, out, &n);
	feed(&r, b, blen, out, &n);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], -FIX_R_BAD_CHECKSUM);
	assert_int_equal(out[1], (int)blen);
	fix_reader_reset(&r);
	assert_int_equal(fix_reader_pending(&r), 0);
	fix_reader_fini(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_message),
		cmocka_unit_test(test_garbage_run_counted_once),
		cmocka_unit_test(test_oversized_skipped_exactly),
		cmocka_unit_test(test_bad_checksum_then_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
