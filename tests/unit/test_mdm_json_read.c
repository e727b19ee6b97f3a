#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_json_read.h"

/* Read a whole object from a heap copy of exactly `len` bytes, so that ASan
 * reports any read past the end. Returns the last rc (0 = valid document,
 * -EINVAL = refused) and the number of members seen. */
static int read_all(const char *doc, size_t len, int *members)
{
	char *copy = malloc(len ? len : 1);
	struct mdm_json_read r;
	struct mdm_json_read_tok k, v;
	char buf[256];
	uint64_t u;
	int rc, s, n = 0;

	assert_non_null(copy);
	memcpy(copy, doc, len);
	rc = mdm_json_read_object(&r, copy, len);
	while (rc == 0 && (rc = mdm_json_read_next(&r, &k, &v)) == 1) {
		rc = 0;
		n++;
		assert_int_equal(k.type, MDM_JSON_READ_STRING);
		assert_true(k.p >= copy && k.p + k.len <= copy + len);
		assert_true(v.p >= copy && v.p + v.len <= copy + len);
		/* every returned string decodes to valid UTF-8, or is refused (NUL) */
		s = mdm_json_read_str(&k, buf, sizeof(buf), NULL);
		assert_true(s == 0 || s == -ENOSPC || s == -EINVAL);
		if (s == 0)
			assert_true(mdm_json_read_utf8_valid(buf, strlen(buf)));
		if (v.type == MDM_JSON_READ_STRING) {
			s = mdm_json_read_str(&v, buf, sizeof(buf), NULL);
			assert_true(s == 0 || s == -ENOSPC || s == -EINVAL);
			if (s == 0)
				assert_true(mdm_json_read_utf8_valid(buf, strlen(buf)));
		}
		if (v.type == MDM_JSON_READ_NUMBER) {
			s = mdm_json_read_u64(&v, &u);
			assert_true(s == 0 || s == -EINVAL || s == -ERANGE);
		}
	}
	if (rc == -EINVAL)
		assert_non_null(r.err);
	free(copy);
	if (members)
		*members = n;
	return rc;
}

static int read_str(const char *doc, int *members)
{
	return read_all(doc, strlen(doc), members);
}

static void test_every_token_kind(void **state)
{
	static const char doc[] = " {\"s\":\"x y\", \"n\" : -1.5e+3,\"i\":42,\"t\":true,\"f\":false,\"z\":null,"
				  "\"o\":{\"a\":[1,{\"b\":2},\"c\",[]]},\"a\":[ ],\"e\":{}}\n";
	static const struct {
		const char *key;
		enum mdm_json_read_type type;
		const char *raw;
	} want[] = {
		{ "s", MDM_JSON_READ_STRING, "x y" },
		{ "n", MDM_JSON_READ_NUMBER, "-1.5e+3" },
		{ "i", MDM_JSON_READ_NUMBER, "42" },
		{ "t", MDM_JSON_READ_TRUE, "true" },
		{ "f", MDM_JSON_READ_FALSE, "false" },
		{ "z", MDM_JSON_READ_NULL, "null" },
		{ "o", MDM_JSON_READ_OBJECT, "{\"a\":[1,{\"b\":2},\"c\",[]]}" },
		{ "a", MDM_JSON_READ_ARRAY, "[ ]" },
		{ "e", MDM_JSON_READ_OBJECT, "{}" },
	};
	struct mdm_json_read r;
	struct mdm_json_read_tok k, v;
	uint64_t u = 0;

	assert_int_equal(mdm_json_read_object(&r, doc, sizeof(doc) - 1), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(mdm_json_read_next(&r, &k, &v), 1);
		assert_int_equal(k.type, MDM_JSON_READ_STRING);
		assert_true(mdm_json_read_str_eq(&k, want[i].key));
		assert_int_equal(v.type, want[i].type);
		assert_int_equal(v.len, strlen(want[i].raw));
		assert_memory_equal(v.p, want[i].raw, v.len);
		if (i == 2) {
			assert_int_equal(mdm_json_read_u64(&v, &u), 0);
			assert_int_equal(u, 42);
		}
	}
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 0);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 0); /* stays done */
	assert_null(r.err);
}

static void test_empty_objects(void **state)
{
	int n = -1;

	assert_int_equal(read_str("{}", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(read_str(" \t\r\n{ \n }\r\n ", &n), 0);
	assert_int_equal(n, 0);
}

static void test_duplicates_are_returned(void **state)
{
	static const char doc[] = "{\"a\":1,\"a\":2}";
	struct mdm_json_read r;
	struct mdm_json_read_tok k, v;
	uint64_t u;

	assert_int_equal(mdm_json_read_object(&r, doc, sizeof(doc) - 1), 0);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 1);
	assert_int_equal(mdm_json_read_u64(&v, &u), 0);
	assert_int_equal(u, 1);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 1);
	assert_true(mdm_json_read_str_eq(&k, "a"));
	assert_int_equal(mdm_json_read_u64(&v, &u), 0);
	assert_int_equal(u, 2);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 0);
}

static void test_escapes(void **state)
{
	static const char doc[] = "{\"k\\u0065y\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00 \xc3\xa9\"}";
	static const char want[] = "\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9";
	struct mdm_json_read r;
	struct mdm_json_read_tok k, v;
	char buf[64];
	size_t full = 0;

	assert_int_equal(mdm_json_read_object(&r, doc, sizeof(doc) - 1), 0);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 1);
	assert_true(k.escaped);
	assert_true(mdm_json_read_str_eq(&k, "key"));
	assert_false(mdm_json_read_str_eq(&k, "ke"));
	assert_false(mdm_json_read_str_eq(&k, "keyy"));
	assert_false(mdm_json_read_str_eq(&k, "kex"));
	assert_int_equal(mdm_json_read_str(&k, buf, sizeof(buf), &full), 0);
	assert_string_equal(buf, "key");
	assert_int_equal(full, 3);
	assert_true(v.escaped);
	assert_int_equal(mdm_json_read_str(&v, buf, sizeof(buf), &full), 0);
	assert_string_equal(buf, want);
	assert_int_equal(full, sizeof(want) - 1);
	assert_true(mdm_json_read_str_eq(&v, want));
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 0);
}

static void test_str_truncation(void **state)
{
	/* "aé€😀" = 1 + 2 + 3 + 4 bytes; truncation never splits a character */
	static const char doc[] = "{\"k\":\"a\\u00e9\xe2\x82\xac\\ud83d\\ude00\"}";
	static const struct {
		size_t cap;
		const char *want;
	} cases[] = {
		{ 1, "" }, { 2, "a" }, { 3, "a" }, { 4, "a\xc3\xa9" }, { 6, "a\xc3\xa9" },
		{ 7, "a\xc3\xa9\xe2\x82\xac" }, { 10, "a\xc3\xa9\xe2\x82\xac" },
	};
	struct mdm_json_read r;
	struct mdm_json_read_tok k, v;
	char buf[16];
	size_t full = 0;

	assert_int_equal(mdm_json_read_object(&r, doc, sizeof(doc) - 1), 0);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'X', sizeof(buf));
		assert_int_equal(mdm_json_read_str(&v, buf, cases[i].cap, &full), -ENOSPC);
		assert_string_equal(buf, cases[i].want);
		assert_int_equal(full, 10);
	}
	assert_int_equal(mdm_json_read_str(&v, buf, 11, &full), 0);
	assert_int_equal(strlen(buf), 10);
	/* measuring only */
	assert_int_equal(mdm_json_read_str(&v, NULL, 0, &full), -ENOSPC);
	assert_int_equal(full, 10);
	assert_int_equal(mdm_json_read_str(&v, NULL, 4, &full), -EINVAL);
}

static void test_str_refusals(void **state)
{
	static const char doc[] = "{\"nul\":\"a\\u0000b\",\"n\":1}";
	struct mdm_json_read r;
	struct mdm_json_read_tok k, v, bad;
	char buf[16];

	assert_int_equal(mdm_json_read_object(&r, doc, sizeof(doc) - 1), 0);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 1);
	assert_int_equal(mdm_json_read_str(&v, buf, sizeof(buf), NULL), -EINVAL);
	assert_false(mdm_json_read_str_eq(&v, "a"));
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 1);
	assert_int_equal(mdm_json_read_str(&v, buf, sizeof(buf), NULL), -EINVAL); /* a number */
	assert_false(mdm_json_read_str_eq(&v, "1"));
	assert_int_equal(mdm_json_read_str(NULL, buf, sizeof(buf), NULL), -EINVAL);
	assert_false(mdm_json_read_str_eq(NULL, "x"));
	/* hand-built tokens are checked again when decoded */
	bad = (struct mdm_json_read_tok){ MDM_JSON_READ_STRING, "a\\", 2, true };
	assert_int_equal(mdm_json_read_str(&bad, buf, sizeof(buf), NULL), -EINVAL);
	bad = (struct mdm_json_read_tok){ MDM_JSON_READ_STRING, "\\u12", 4, true };
	assert_int_equal(mdm_json_read_str(&bad, buf, sizeof(buf), NULL), -EINVAL);
	bad = (struct mdm_json_read_tok){ MDM_JSON_READ_STRING, "\\ud800\\u0041", 12, true };
	assert_int_equal(mdm_json_read_str(&bad, buf, sizeof(buf), NULL), -EINVAL);
	bad = (struct mdm_json_read_tok){ MDM_JSON_READ_STRING, "\xe2\x82", 2, false };
	assert_int_equal(mdm_json_read_str(&bad, buf, sizeof(buf), NULL), -EINVAL);
	bad = (struct mdm_json_read_tok){ MDM_JSON_READ_STRING, "a\"", 2, false };
	assert_int_equal(mdm_json_read_str(&bad, buf, sizeof(buf), NULL), -EINVAL);
	bad = (struct mdm_json_read_tok){ MDM_JSON_READ_STRING, "", 0, false };
	assert_int_equal(mdm_json_read_str(&bad, buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "");
	assert_true(mdm_json_read_str_eq(&bad, ""));
}

static void test_u64(void **state)
{
	static const struct {
		const char *text;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "100", 0, 100 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "99999999999999999999999", -ERANGE, 0 },
		{ "99999999999999999999999.5", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "-0", -EINVAL, 0 },
		{ "1.0", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },
	};
	char doc[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mdm_json_read r;
		struct mdm_json_read_tok k, v;
		uint64_t u = 7;

		snprintf(doc, sizeof(doc), "{\"v\":%s}", cases[i].text);
		assert_int_equal(mdm_json_read_object(&r, doc, strlen(doc)), 0);
		assert_int_equal(mdm_json_read_next(&r, &k, &v), 1);
		assert_int_equal(v.type, MDM_JSON_READ_NUMBER);
		assert_int_equal(mdm_json_read_u64(&v, &u), cases[i].rc);
		assert_int_equal(u, cases[i].rc == 0 ? cases[i].v : 7);
	}
	{
		struct mdm_json_read_tok s = { MDM_JSON_READ_STRING, "1", 1, false };
		uint64_t u;

		assert_int_equal(mdm_json_read_u64(&s, &u), -EINVAL);
	}
}

static void test_invalid_documents(void **state)
{
	static const char *const bad[] = {
		"", " ", "[]", "\"a\"", "1", "null", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
		"{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":1e+}", "{\"a\":+1}", "{\"a\":-}",
		"{\"a\":-a}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":falsey}", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12G4\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
		"{\"a\":\"\\ud800x\"}", "{\"a\":\"tab\there\"}", "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\x80\"}", "{\"a\":\"\xe2\x82\"}",
		"{\"a\":\"\xe0\x80\xaf\"}", "{\"a\":\"\xf0\x80\x80\xaf\"}", "{\"\xc3\":1}",
		"{\"a\":1}x", "{\"a\":1}{}", "{'a':1}", "{a:1}", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
		"{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":[,1]}", "{\"a\":{\"b\"}}", "{\"a\":{\"b\":1,}}",
		"{\"a\":{1:2}}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":[}", "{\"a\":{]}", "{\"a\":\"x}",
		"{1:2}", "{\"a\":1}}", "\xef\xbb\xbf{}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (read_str(bad[i], NULL) != -EINVAL)
			fail_msg("accepted invalid document #%zu: %s", i, bad[i]);
	}
	/* a NUL byte is not whitespace, and not allowed raw in a string */
	assert_int_equal(read_all("{\"a\":1}\0", 8, NULL), -EINVAL);
	assert_int_equal(read_all("{\"a\":\"\0\"}", 9, NULL), -EINVAL);
	assert_int_equal(read_all("{\0}", 3, NULL), -EINVAL);
}

static void test_error_position_and_sticky_state(void **state)
{
	static const char doc[] = "{\"a\":1, \"b\":tru}";
	struct mdm_json_read r;
	struct mdm_json_read_tok k, v;

	assert_int_equal(mdm_json_read_object(&r, doc, sizeof(doc) - 1), 0);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), 1);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), -EINVAL);
	assert_string_equal(r.err, "bad literal");
	assert_int_equal(r.err_pos, 12);
	assert_int_equal(mdm_json_read_next(&r, &k, &v), -EINVAL);
	assert_int_equal(r.err_pos, 12);

	assert_int_equal(mdm_json_read_object(&r, NULL, 0), -EINVAL);
	assert_string_equal(r.err, "not an object");
	assert_int_equal(mdm_json_read_next(&r, &k, &v), -EINVAL);
	assert_int_equal(mdm_json_read_object(&r, NULL, 5), -EINVAL);
}

static void test_nesting_depth(void **state)
{
	char doc[256];

	/* k nested arrays as a member value: the outer object is depth 1, so the
	 * innermost array is at depth k + 1 */
	for (int k = 1; k <= MDM_JSON_READ_MAX_DEPTH + 4; k++) {
		size_t n = 0;

		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"a\":");
		for (int i = 0; i < k; i++)
			n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s", i % 2 ? "[" : "{\"x\":");
		doc[n++] = '0';
		for (int i = k - 1; i >= 0; i--)
			doc[n++] = i % 2 ? ']' : '}';
		doc[n++] = '}';
		doc[n] = '\0';
		if (k + 1 <= MDM_JSON_READ_MAX_DEPTH)
			assert_int_equal(read_str(doc, NULL), 0);
		else
			assert_int_equal(read_str(doc, NULL), -EINVAL);
	}
	/* a deep attack is refused quickly and without deep recursion */
	{
		size_t n = 100000;
		char *deep = malloc(n + 8);

		assert_non_null(deep);
		memcpy(deep, "{\"a\":", 5);
		memset(deep + 5, '[', n);
		assert_int_equal(read_all(deep, n + 5, NULL), -EINVAL);
		free(deep);
	}
}

static const char rich[] = "{\"symbol\":\"AAPL\",\"sector\":\"Information Technology\",\"currency\":\"USD\","
			   "\"exchange\":\"XNAS\",\"name\":\"Apple Inc. \\\"A\\\" \\u00e9\\ud83d\\ude00 \xe2\x82\xac\","
			   "\"lot_size\":100,\"px\":-12.5e-3,\"ok\":true,\"no\":false,\"nil\":null,"
			   "\"tags\":[\"a\",{\"b\":[1,2.0]}],\"meta\":{}}";

/* Every proper prefix of a valid document is refused, and no read goes past it. */
static void test_truncation_at_every_byte(void **state)
{
	int n = 0;

	assert_int_equal(read_all(rich, sizeof(rich) - 1, &n), 0);
	assert_int_equal(n, 12);
	for (size_t len = 0; len < sizeof(rich) - 1; len++)
		if (read_all(rich, len, NULL) != -EINVAL)
			fail_msg("prefix of %zu bytes accepted", len);
}

/* Deterministic mutations of a valid document: no crash, no overread (ASan),
 * every accepted document passes the invariants checked in read_all. */
static void test_mutations(void **state)
{
	static const char alphabet[] = "{}[]\":,\\u0123456789abcdefABCDEF-+.eE tfnrl\x80\xbf\xc3\xe2\xed\xf0\xf4\xff";
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char doc[sizeof(rich)];
	int accepted = 0, refused = 0;

	for (int iter = 0; iter < 30000; iter++) {
		size_t len = sizeof(rich) - 1;
		int edits;

		memcpy(doc, rich, len);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		edits = 1 + (int)(x % 3);
		for (int e = 0; e < edits; e++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t at = (size_t)(x % len);

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			switch (x % 3) {
			case 0: /* replace */
				doc[at] = alphabet[(x >> 8) % (sizeof(alphabet) - 1)];
				break;
			case 1: /* delete */
				memmove(doc + at, doc + at + 1, len - at - 1);
				len--;
				break;
			default: /* truncate */
				len = at;
				break;
			}
			if (len == 0)
				break;
		}
		if (read_all(doc, len, NULL) == 0)
			accepted++;
		else
			refused++;
	}
	/* the mutator must exercise both outcomes to be worth anything */
	assert_true(accepted > 100);
	assert_true(refused > 1000);
}

static void test_utf8_valid(void **state)
{
	assert_true(mdm_json_read_utf8_valid("", 0));
	assert_true(mdm_json_read_utf8_valid(NULL, 0));
	assert_false(mdm_json_read_utf8_valid(NULL, 1));
	assert_true(mdm_json_read_utf8_valid("plain", 5));
	assert_true(mdm_json_read_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 13));
	assert_true(mdm_json_read_utf8_valid("\xed\x9f\xbf\xee\x80\x80", 6));
	assert_false(mdm_json_read_utf8_valid("\xc3", 1));
	assert_false(mdm_json_read_utf8_valid("\xc1\xbf", 2));
	assert_false(mdm_json_read_utf8_valid("\xe0\x9f\xbf", 3));
	assert_false(mdm_json_read_utf8_valid("\xed\xa0\x80", 3));
	assert_false(mdm_json_read_utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(mdm_json_read_utf8_valid("\xf5\x80\x80\x80", 4));
	assert_false(mdm_json_read_utf8_valid("\xe2\x28\xa1", 3));
	assert_false(mdm_json_read_utf8_valid("a\xbf", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_token_kind),
		cmocka_unit_test(test_empty_objects),
		cmocka_unit_test(test_duplicates_are_returned),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_str_truncation),
		cmocka_unit_test(test_str_refusals),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_invalid_documents),
		cmocka_unit_test(test_error_position_and_sticky_state),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_truncation_at_every_byte),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_utf8_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
