/* mdm_tally: totals by key, top n, the "_other" overflow, concurrent adds. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mdm_tally.h"

static void add(struct mdm_tally *t, const char *k, int64_t v)
{
	mdm_tally_add(t, k, strlen(k), v);
}

static void test_top(void **state)
{
	struct mdm_tally *t;
	struct mdm_tally_entry e[4];

	(void)state;
	assert_int_equal(mdm_tally_create(&t, 8), 0);
	assert_int_equal(mdm_tally_top(t, e, 4), 0);
	add(t, "T1", 5);
	add(t, "T2", 50);
	add(t, "T1", 10);
	add(t, "T3", 1);
	assert_int_equal(mdm_tally_top(t, e, 2), 2);
	assert_string_equal(e[0].key, "T2");
	assert_int_equal(e[0].total, 50);
	assert_string_equal(e[1].key, "T1");
	assert_int_equal(e[1].total, 15);
	assert_int_equal(e[1].count, 2);
	assert_int_equal(mdm_tally_top(t, e, 4), 3);
	mdm_tally_destroy(t);
	assert_int_equal(mdm_tally_create(&t, 0), -EINVAL);
}

static void test_overflow_and_long_keys(void **state)
{
	struct mdm_tally *t;
	struct mdm_tally_entry e[8];
	char k[16], longk[100];
	int64_t sum = 0;
	size_t n;

	(void)state;
	assert_int_equal(mdm_tally_create(&t, 3), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "K%d", i);
		add(t, k, 1);
	}
	n = mdm_tally_top(t, e, 8);
	assert_int_equal(n, 4); /* three keys and _other */
	for (size_t i = 0; i < n; i++)
		sum += e[i].total;
	assert_int_equal(sum, 10); /* nothing lost */
	assert_string_equal(e[0].key, "_other");
	assert_int_equal(e[0].total, 7);
	mdm_tally_destroy(t);

	assert_int_equal(mdm_tally_create(&t, 4), 0);
	memset(longk, 'x', sizeof(longk) - 1);
	longk[sizeof(longk) - 1] = '\0';
	add(t, longk, 2);
	add(t, longk, 3); /* the same cut key */
	assert_int_equal(mdm_tally_top(t, e, 8), 1);
	assert_int_equal(strlen(e[0].key), MDM_TALLY_KEY_MAX - 1);
	assert_int_equal(e[0].total, 5);
	mdm_tally_destroy(t);
}

static struct mdm_tally *shared_t;

static void *adder(void *arg)
{
	char k[8];

	(void)arg;
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "R%d", i % 7);
		add(shared_t, k, 1);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	pthread_t th[4];
	struct mdm_tally_entry e[16];
	int64_t sum = 0;
	size_t n;

	(void)state;
	assert_int_equal(mdm_tally_create(&shared_t, 16), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, adder, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	n = mdm_tally_top(shared_t, e, 16);
	assert_int_equal(n, 7); /* each key claimed once */
	for (size_t i = 0; i < n; i++)
		sum += e[i].total;
	assert_int_equal(sum, 80000);
	mdm_tally_destroy(shared_t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_overflow_and_long_keys),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
