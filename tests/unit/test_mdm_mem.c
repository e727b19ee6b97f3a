#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include "mdm_buf.h"
#include "mdm_mem.h"

static void test_accounting(void **state)
{
	uint64_t base = mdm_mem_used();
	char *a = mdm_malloc(100), *b;

	assert_non_null(a);
	assert_int_equal(mdm_mem_used() - base, 100);
	b = mdm_realloc(a, 1000);
	assert_non_null(b);
	assert_int_equal(mdm_mem_used() - base, 1000);
	mdm_free(b);
	assert_int_equal(mdm_mem_used(), base);
	a = mdm_strdup("hello");
	assert_string_equal(a, "hello");
	assert_int_equal(mdm_mem_used() - base, 6);
	mdm_free(a);
	a = mdm_strndup("hello", 3);
	assert_string_equal(a, "hel");
	mdm_free(a);
	assert_int_equal(mdm_mem_used(), base);
	mdm_free(NULL);
}

static void test_fault_injection(void **state)
{
	void *a, *b, *c;

	mdm_mem_fail_after(3);
	a = mdm_malloc(8);
	b = mdm_calloc(2, 8);
	c = mdm_malloc(8);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(c);
	assert_null(mdm_malloc(1)); /* stays failed */
	mdm_mem_fail_reset();
	c = mdm_malloc(8);
	assert_non_null(c);
	mdm_free(a);
	mdm_free(b);
	mdm_free(c);
}

static void test_calloc_overflow(void **state)
{
	assert_null(mdm_calloc(SIZE_MAX / 2, 4));
}

static void test_buf_oom_is_sticky(void **state)
{
	struct mdm_buf b = MDM_BUF_INIT;

	assert_int_equal(mdm_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(b.data, "42-x");
	mdm_mem_fail_after(1);
	for (int i = 0; i < 100; i++)
		mdm_buf_puts(&b, "0123456789");
	mdm_mem_fail_reset();
	assert_int_equal(b.oom, 1);
	assert_int_equal(mdm_buf_puts(&b, "y"), -ENOMEM);
	mdm_buf_reset(&b);
	assert_int_equal(mdm_buf_puts(&b, "y"), 0);
	assert_string_equal(b.data, "y");
	mdm_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accounting),
		cmocka_unit_test(test_fault_injection),
		cmocka_unit_test(test_calloc_overflow),
		cmocka_unit_test(test_buf_oom_is_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
