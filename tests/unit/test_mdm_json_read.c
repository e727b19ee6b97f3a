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

/* Parse a heap copy of exactly `len` bytes, so that ASan reports any read
 * past the end. Returns 0 (a valid object) or -EINVAL (refused, with a
 * reason) and the number of members. Every string member read back is
 * valid UTF-8, or refused for a NUL character. */
static int read_all(const char *doc, size_t len, int *members)
{
	char *copy = malloc(len ? len : 1);
	char why[200] = "", buf[256];
	const char *key;
	json_t *o, *v;
	uint64_t u;
	int n = 0;

	assert_non_null(copy);
	memcpy(copy, doc, len);
	o = mdm_json_read_object(copy, len, why, sizeof(why));
	free(copy);
	if (!o) {
		assert_true(why[0] != '\0');
		assert_non_null(strstr(why, "(line "));
		return -EINVAL;
	}
	json_object_foreach(o, key, v) {
		int s = mdm_json_read_str(o, key, buf, sizeof(buf));

		n++;
		assert_true(mdm_json_read_utf8_valid(key, strlen(key)));
		assert_true(s == 0 || s == -ENOSPC || s == -EINVAL);
		if (s != -EINVAL)
			assert_true(mdm_json_read_utf8_valid(buf, strlen(buf)));
		else
			assert_string_equal(buf, "");
		s = mdm_json_read_u64(o, key, &u);
		assert_true(s == 0 || s == -EINVAL);
	}
	json_decref(o);
	if (members)
		*members = n;
	return 0;
}

static int read_str(const char *doc, int *members)
{
	return read_all(doc, strlen(doc), members);
}

static void test_members(void **state)
{
	static const char doc[] = " {\"s\":\"x y\", \"n\" : -1.5e+3,\"i\":42,\"t\":true,\"f\":false,\"z\":null,"
				  "\"o\":{\"a\":[1,{\"b\":2},\"c\",[]]},\"a\":[ ],\"e\":{}}\n";
	json_t *o = mdm_json_read_object(doc, sizeof(doc) - 1, NULL, 0);
	char buf[16];
	uint64_t u = 7;

	assert_non_null(o);
	assert_int_equal(json_object_size(o), 9);
	assert_int_equal(mdm_json_read_str(o, "s", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "x y");
	assert_int_equal(mdm_json_read_u64(o, "i", &u), 0);
	assert_int_equal(u, 42);
	/* the getters refuse every other type, and absent members */
	for (const char *k = "ntfzoae?"; *k; k++) {
		char key[2] = { *k, 0 };

		u = 7;
		assert_int_equal(mdm_json_read_u64(o, key, &u), -EINVAL);
		assert_int_equal(u, 7);
		memset(buf, 'X', sizeof(buf));
		assert_int_equal(mdm_json_read_str(o, key, buf, sizeof(buf)), -EINVAL);
		assert_string_equal(buf, "");
	}
	assert_int_equal(mdm_json_read_str(o, "i", buf, sizeof(buf)), -EINVAL);
	json_decref(o);
	assert_int_equal(mdm_json_read_str(NULL, "s", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mdm_json_read_u64(NULL, "i", &u), -EINVAL);
}

static void test_empty_objects(void **state)
{
	int n = -1;

	assert_int_equal(read_str("{}", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(read_str(" \t\r\n{ \n }\r\n ", &n), 0);
	assert_int_equal(n, 0);
}

static void test_duplicates_last_wins(void **state)
{
	static const char doc[] = "{\"a\":1,\"a\":2}";
	json_t *o = mdm_json_read_object(doc, sizeof(doc) - 1, NULL, 0);
	uint64_t u;

	assert_non_null(o);
	assert_int_equal(mdm_json_read_u64(o, "a", &u), 0);
	assert_int_equal(u, 2);
	json_decref(o);
}

static void test_escapes(void **state)
{
	static const char doc[] = "{\"k\\u0065y\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00 \xc3\xa9\"}";
	static const char want[] = "\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9";
	json_t *o = mdm_json_read_object(doc, sizeof(doc) - 1, NULL, 0);
	char buf[64];

	assert_non_null(o);
	assert_int_equal(mdm_json_read_str(o, "key", buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	assert_int_equal(mdm_json_read_str(o, "ke", buf, sizeof(buf)), -EINVAL);
	json_decref(o);
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
	json_t *o = mdm_json_read_object(doc, sizeof(doc) - 1, NULL, 0);
	char buf[16];

	assert_non_null(o);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'X', sizeof(buf));
		assert_int_equal(mdm_json_read_str(o, "k", buf, cases[i].cap), -ENOSPC);
		assert_string_equal(buf, cases[i].want);
	}
	assert_int_equal(mdm_json_read_str(o, "k", buf, 11), 0);
	assert_int_equal(strlen(buf), 10);
	json_decref(o);
}

/* \u0000 is valid JSON: the object is read, that string is refused. In a
 * key jansson refuses it. */
static void test_nul_strings(void **state)
{
	static const char doc[] = "{\"nul\":\"a\\u0000b\",\"n\":1}";
	json_t *o = mdm_json_read_object(doc, sizeof(doc) - 1, NULL, 0);
	char buf[16];
	uint64_t u;

	assert_non_null(o);
	assert_int_equal(mdm_json_read_str(o, "nul", buf, sizeof(buf)), -EINVAL);
	assert_string_equal(buf, "");
	assert_int_equal(mdm_json_read_u64(o, "n", &u), 0);
	json_decref(o);
	assert_int_equal(read_str("{\"a\\u0000\":1}", NULL), -EINVAL);
}

static void test_u64(void **state)
{
	static const struct {
		const char *text;
		int rc; /* 1: the document is refused */
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "100", 0, 100 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "9223372036854775808", 1, 0 }, /* jansson's integers are int64 */
		{ "99999999999999999999999", 1, 0 },
		{ "99999999999999999999999.5", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "-0", 0, 0 },
		{ "1.0", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },
		{ "\"1\"", -EINVAL, 0 },
	};
	char doc[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *o;
		uint64_t u = 7;

		snprintf(doc, sizeof(doc), "{\"v\":%s}", cases[i].text);
		o = mdm_json_read_object(doc, strlen(doc), NULL, 0);
		if (cases[i].rc == 1) {
			assert_null(o);
			continue;
		}
		assert_non_null(o);
		assert_int_equal(mdm_json_read_u64(o, "v", &u), cases[i].rc);
		assert_int_equal(u, cases[i].rc == 0 ? cases[i].v : 7);
		json_decref(o);
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
	char why[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (read_str(bad[i], NULL) != -EINVAL)
			fail_msg("accepted invalid document #%zu: %s", i, bad[i]);
	}
	/* a NUL byte is not whitespace, and not allowed raw in a string */
	assert_int_equal(read_all("{\"a\":1}\0", 8, NULL), -EINVAL);
	assert_int_equal(read_all("{\"a\":\"\0\"}", 9, NULL), -EINVAL);
	assert_int_equal(read_all("{\0}", 3, NULL), -EINVAL);
	/* the reason names the place */
	assert_null(mdm_json_read_object("{\"a\":1, \"b\":tru}", 16, why, sizeof(why)));
	assert_non_null(strstr(why, "(line 1, column "));
	assert_null(mdm_json_read_object("[1]", 3, why, sizeof(why)));
	assert_string_equal(why, "not an object (line 1, column 1)");
	assert_null(mdm_json_read_object(NULL, 5, why, sizeof(why)));
	assert_null(mdm_json_read_object(NULL, 0, why, sizeof(why)));
	assert_null(mdm_json_read_object("{}x", 3, NULL, 0));
}

/* Nesting is bounded (jansson: 2048 levels), refused without a crash. */
static void test_nesting_depth(void **state)
{
	size_t n = 100000;
	char *deep = malloc(n + 8);

	assert_non_null(deep);
	memcpy(deep, "{\"a\":", 5);
	memset(deep + 5, '[', 100);
	memset(deep + 105, ']', 100);
	deep[205] = '}';
	assert_int_equal(read_all(deep, 206, NULL), 0);
	memset(deep + 5, '[', n);
	assert_int_equal(read_all(deep, n + 5, NULL), -EINVAL);
	free(deep);
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
	assert_true(mdm_json_read_utf8_valid("a\0b", 3));
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
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_empty_objects),
		cmocka_unit_test(test_duplicates_last_wins),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_str_truncation),
		cmocka_unit_test(test_nul_strings),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_invalid_documents),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_truncation_at_every_byte),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_utf8_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
