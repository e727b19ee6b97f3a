#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "mdm_json.h"

static void test_nesting_and_commas(void **state)
{
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;

	mdm_json_init(&j, &b);
	mdm_json_obj_begin(&j);
	mdm_json_kstr(&j, "a", "x");
	mdm_json_ku64(&j, "b", 18446744073709551615ULL);
	mdm_json_ki64(&j, "c", -5);
	mdm_json_key(&j, "arr");
	mdm_json_arr_begin(&j);
	mdm_json_u64(&j, 1);
	mdm_json_obj_begin(&j);
	mdm_json_obj_end(&j);
	mdm_json_arr_begin(&j);
	mdm_json_arr_end(&j);
	mdm_json_null(&j);
	mdm_json_arr_end(&j);
	mdm_json_kbool(&j, "t", true);
	mdm_json_kdbl(&j, "nan", NAN);
	mdm_json_kdbl(&j, "half", 0.5);
	mdm_json_kdbl(&j, "small", 1.25e-05);
	mdm_json_kdbl(&j, "third", 1.0 / 3);
	mdm_json_obj_end(&j);
	assert_int_equal(mdm_json_status(&j), 0);
	assert_string_equal(b.data, "{\"a\":\"x\",\"b\":18446744073709551615,\"c\":-5,\"arr\":[1,{},[],null],"
				    "\"t\":true,\"nan\":null,\"half\":0.5,\"small\":1.25e-05,\"third\":0.3333333333333333}");
	mdm_buf_fini(&b);
}

static void test_escaping(void **state)
{
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;
	const char raw[] = "q\"b\\n\nt\t\x01z";

	mdm_json_init(&j, &b);
	mdm_json_strn(&j, raw, sizeof(raw) - 1);
	assert_string_equal(b.data, "\"q\\\"b\\\\n\\nt\\t\\u0001z\"");
	mdm_buf_reset(&b);
	mdm_json_init(&j, &b);
	mdm_json_strn(&j, "a\0b", 3);
	assert_string_equal(b.data, "\"a\\u0000b\"");
	mdm_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas),
		cmocka_unit_test(test_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
