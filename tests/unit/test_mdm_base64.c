#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "mdm_base64.h"

/* RFC 4648 section 10 test vectors. */
static const struct {
	const char *plain, *b64;
} vectors[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

static void test_rfc4648_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct mdm_buf e = MDM_BUF_INIT, d = MDM_BUF_INIT;

		assert_int_equal(mdm_base64_encode(&e, (const uint8_t *)vectors[i].plain, strlen(vectors[i].plain)), 0);
		assert_int_equal(e.len, strlen(vectors[i].b64));
		if (e.len)
			assert_memory_equal(e.data, vectors[i].b64, e.len);
		assert_int_equal(mdm_base64_decode(&d, vectors[i].b64, strlen(vectors[i].b64)), 0);
		assert_int_equal(d.len, strlen(vectors[i].plain));
		if (d.len)
			assert_memory_equal(d.data, vectors[i].plain, d.len);
		mdm_buf_fini(&e);
		mdm_buf_fini(&d);
	}
}

static void test_binary_roundtrip(void **state)
{
	uint8_t raw[256];
	struct mdm_buf e = MDM_BUF_INIT, d = MDM_BUF_INIT;

	for (int i = 0; i < 256; i++)
		raw[i] = (uint8_t)(255 - i);
	assert_int_equal(mdm_base64_encode(&e, raw, sizeof(raw)), 0);
	assert_int_equal(e.len, 344);
	assert_int_equal(mdm_base64_decode(&d, e.data, e.len), 0);
	assert_int_equal(d.len, 256);
	assert_memory_equal(d.data, raw, 256);
	mdm_buf_fini(&e);
	mdm_buf_fini(&d);
}

static void test_rejects_garbage(void **state)
{
	struct mdm_buf d = MDM_BUF_INIT;

	assert_int_equal(mdm_base64_decode(&d, "Zm9v!", 5), -EINVAL);
	mdm_buf_reset(&d);
	assert_int_equal(mdm_base64_decode(&d, "Zg==Zg", 6), -EINVAL);
	mdm_buf_reset(&d);
	assert_int_equal(mdm_base64_decode(&d, "Z", 1), -EINVAL);
	mdm_buf_reset(&d);
	assert_int_equal(mdm_base64_decode(&d, "Zm 9v\n", 6), 0); /* whitespace skipped */
	assert_int_equal(d.len, 3);
	mdm_buf_fini(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_binary_roundtrip),
		cmocka_unit_test(test_rejects_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
