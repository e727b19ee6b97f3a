/* mdm_yaml: tree shape and positions, every error form, clone and flow
 * output round trips, allocation failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_yaml.h"

static struct mdm_yaml_node *parse_ok(const char *text)
{
	struct mdm_yaml_node *root = NULL;
	int rc = mdm_yaml_parse_string(text, strlen(text), "t.yaml", &root);

	if (rc != 0)
		fail_msg("parse failed: %s", mdm_err_last());
	return root;
}

static void test_tree_shape_and_positions(void **state)
{
	const char *text = "# rules\n"
			   "rules:\n"
			   "  - name: big_trade\n"
			   "    match: \"md.>\"\n"
			   "    min: 100\n"
			   "  - name: halt\n"
			   "    empty:\n"
			   "    tags: [a, 'b', ~]\n"
			   "owner: ~\n";
	struct mdm_yaml_node *root = parse_ok(text);
	const struct mdm_yaml_node *rules, *r0, *r1, *tags;

	assert_int_equal(root->kind, MDM_YAML_MAP);
	assert_int_equal(root->n, 2);
	rules = mdm_yaml_map_get(root, "rules");
	assert_non_null(rules);
	assert_int_equal(rules->kind, MDM_YAML_SEQ);
	assert_int_equal(rules->n, 2);
	assert_null(rules->keys);
	r0 = rules->items[0];
	assert_int_equal(r0->kind, MDM_YAML_MAP);
	assert_int_equal(r0->line, 3);
	assert_int_equal(r0->column, 5);
	assert_string_equal(mdm_yaml_map_get(r0, "name")->text, "big_trade");
	assert_int_equal(mdm_yaml_map_get(r0, "name")->line, 3);
	assert_int_equal(mdm_yaml_map_get(r0, "name")->column, 11);
	assert_string_equal(mdm_yaml_map_get(r0, "match")->text, "md.>");
	assert_false(mdm_yaml_map_get(r0, "match")->plain);
	assert_true(mdm_yaml_map_get(r0, "min")->plain);
	assert_int_equal(r0->keys[2]->line, 5);
	assert_string_equal(r0->keys[2]->text, "min");
	assert_null(mdm_yaml_map_get(r0, "nope"));
	assert_null(mdm_yaml_map_get(rules, "name")); /* not a mapping */
	r1 = rules->items[1];
	assert_true(mdm_yaml_is_null(mdm_yaml_map_get(r1, "empty")));
	tags = mdm_yaml_map_get(r1, "tags");
	assert_int_equal(tags->kind, MDM_YAML_SEQ);
	assert_int_equal(tags->n, 3);
	assert_false(mdm_yaml_is_null(tags->items[0]));
	assert_false(tags->items[1]->plain);
	assert_true(mdm_yaml_is_null(tags->items[2]));
	assert_int_equal(tags->line, 8);
	assert_true(mdm_yaml_is_null(mdm_yaml_map_get(root, "owner")));
	assert_true(mdm_yaml_is_null(NULL));
	mdm_yaml_free(root);
}

static void test_null_forms(void **state)
{
	struct mdm_yaml_node *root = parse_ok("a: null\nb: NULL\nc: \"~\"\nd: ''\ne: Nil\n");

	assert_true(mdm_yaml_is_null(mdm_yaml_map_get(root, "a")));
	assert_true(mdm_yaml_is_null(mdm_yaml_map_get(root, "b")));
	assert_false(mdm_yaml_is_null(mdm_yaml_map_get(root, "c"))); /* quoted: a string */
	assert_false(mdm_yaml_is_null(mdm_yaml_map_get(root, "d")));
	assert_false(mdm_yaml_is_null(mdm_yaml_map_get(root, "e")));
	mdm_yaml_free(root);
}

static void test_empty_documents(void **state)
{
	struct mdm_yaml_node *root = (void *)1;

	assert_int_equal(mdm_yaml_parse_string("", 0, "e.yaml", &root), 0);
	assert_null(root);
	assert_int_equal(mdm_yaml_parse_string("# only a comment\n\n", 18, "e.yaml", &root), 0);
	assert_null(root);
}

static void test_embedded_nul_scalar(void **state)
{
	struct mdm_yaml_node *root = parse_ok("k: \"a\\0b\"\n");
	const struct mdm_yaml_node *v = mdm_yaml_map_get(root, "k");

	assert_int_equal(v->len, 3);
	assert_memory_equal(v->text, "a\0b", 4);
	mdm_yaml_free(root);
}

struct err_case {
	const char *text;
	const char *msg;
};

static void test_error_messages(void **state)
{
	static const struct err_case cases[] = {
		{ "nats:\n  url: [a, b\n  tls: true\n",
		  "x.yaml:3:6: syntax error: did not find expected ',' or ']' (while parsing a flow sequence "
		  "that started at line 2, column 8)" },
		{ "a: 1\n b: 2\n", "x.yaml:2:3: syntax error: mapping values are not allowed in this context" },
		{ "a: \"open\n", "x.yaml:2:1: syntax error: found unexpected end of stream (while scanning a quoted "
			       "scalar that started at line 1, column 4)" },
		{ "a: \xff\n", "x.yaml: syntax error at byte 3: invalid leading UTF-8 octet" },
		{ "nats:\n  url: a\n  tls: 1\n  url: b\n", "x.yaml:4: nats.url: duplicate key (first at line 2)" },
		{ "r:\n  - a: 1\n  - a: 1\n    a: 2\n", "x.yaml:4: r[1].a: duplicate key (first at line 3)" },
		{ "a: &x 1\nb: *x\n", "x.yaml:2: b: aliases (*x) are not supported" },
		{ "? [a]\n: 1\n", "x.yaml:1: (top level): mapping keys must be scalars" },
		{ "a: 1\n---\nb: 2\n", "x.yaml:2: only one YAML document is allowed" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mdm_yaml_node *root = (void *)1;
		int rc = mdm_yaml_parse_string(cases[i].text, strlen(cases[i].text), "x.yaml", &root);

		assert_int_equal(rc, -EINVAL);
		assert_null(root);
		assert_string_equal(mdm_err_last(), cases[i].msg);
	}
}

static void test_depth_limit(void **state)
{
	char text[2 * (MDM_YAML_MAX_DEPTH + 2) + 1];
	struct mdm_yaml_node *root;
	size_t n = MDM_YAML_MAX_DEPTH + 1, i;

	for (i = 0; i < n; i++)
		text[i] = '[';
	for (; i < 2 * n; i++)
		text[i] = ']';
	text[2 * n] = '\0';
	assert_int_equal(mdm_yaml_parse_string(text, 2 * n, "d.yaml", &root), -EINVAL);
	assert_non_null(strstr(mdm_err_last(), "nesting deeper than 64 levels"));
	/* One level less is fine. */
	assert_int_equal(mdm_yaml_parse_string(text + 1, 2 * n - 2, "d.yaml", &root), 0);
	mdm_yaml_free(root);
}

static void assert_tree_equal(const struct mdm_yaml_node *a, const struct mdm_yaml_node *b)
{
	if (!a || !b) {
		assert_true(mdm_yaml_is_null(a) && mdm_yaml_is_null(b));
		return;
	}
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->n, b->n);
	if (a->kind == MDM_YAML_SCALAR) {
		assert_int_equal(mdm_yaml_is_null(a), mdm_yaml_is_null(b));
		if (!mdm_yaml_is_null(a)) {
			assert_int_equal(a->len, b->len);
			assert_memory_equal(a->text, b->text, a->len);
		}
	}
	for (size_t i = 0; i < a->n; i++) {
		if (a->kind == MDM_YAML_MAP)
			assert_tree_equal(a->keys[i], b->keys[i]);
		assert_tree_equal(a->items[i], b->items[i]);
	}
}

static void test_clone_and_flow_round_trip(void **state)
{
	const char *text = "a: [1, two, \"x: y\", {k: v, e: ~}]\n"
			   "b: \"quote\\\" back\\\\slash\\ttab\\x01\"\n"
			   "c: {}\n"
			   "d: []\n"
			   "'sp ace': -5\n"
			   "u: \"caf\xc3\xa9\"\n";
	struct mdm_yaml_node *root = parse_ok(text), *copy, *back;
	struct mdm_buf b = MDM_BUF_INIT;

	assert_int_equal(mdm_yaml_clone(root, &copy), 0);
	assert_tree_equal(root, copy);
	assert_int_equal(copy->keys[1]->line, 2);
	mdm_yaml_free(root);

	assert_int_equal(mdm_yaml_write_flow(&b, copy), 0);
	assert_string_equal(b.data, "{a: [1, two, \"x: y\", {k: v, e: ~}], b: \"quote\\\" back\\\\slash\\ttab\\x01\", "
				    "c: {}, d: [], \"sp ace\": \"-5\", u: \"caf\xc3\xa9\"}");
	back = parse_ok(b.data);
	assert_tree_equal(copy, back);
	mdm_yaml_free(back);
	mdm_yaml_free(copy);
	mdm_buf_fini(&b);

	assert_int_equal(mdm_yaml_clone(NULL, &copy), 0);
	assert_null(copy);
	mdm_yaml_free(NULL);
}

static void test_parse_file(void **state)
{
	char dir[] = "/tmp/mdm_yaml_XXXXXX", path[64], missing[64];
	struct mdm_yaml_node *root;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	snprintf(missing, sizeof(missing), "%s/missing.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	/* Larger than one read chunk, so the read loop runs more than once. */
	for (int i = 0; i < 1000; i++)
		fprintf(f, "key_%04d: value number %d\n", i, i);
	fclose(f);
	assert_int_equal(mdm_yaml_parse_file(path, &root), 0);
	assert_int_equal(root->n, 1000);
	assert_string_equal(mdm_yaml_map_get(root, "key_0999")->text, "value number 999");
	assert_int_equal(mdm_yaml_map_get(root, "key_0999")->line, 1000);
	mdm_yaml_free(root);

	assert_int_equal(mdm_yaml_parse_file(missing, &root), -ENOENT);
	assert_null(root);
	assert_non_null(strstr(mdm_err_last(), "missing.yaml: No such file or directory"));
	assert_int_equal(mdm_yaml_parse_file(dir, &root), -EISDIR);

	unlink(path);
	rmdir(dir);
}

static void test_allocation_failures(void **state)
{
	const char *text = "a:\n  b: [1, 2, {c: d}]\n  e: f\ng: h\n";
	uint64_t base = mdm_mem_used();
	struct mdm_yaml_node *root;
	int rc = -ENOMEM;
	uint64_t k;

	for (k = 1; k < 200 && rc != 0; k++) {
		mdm_mem_fail_after(k);
		rc = mdm_yaml_parse_string(text, strlen(text), "m.yaml", &root);
		mdm_mem_fail_reset();
		if (rc != 0) {
			assert_int_equal(rc, -ENOMEM);
			assert_null(root);
			assert_int_equal(mdm_mem_used(), base);
		}
	}
	assert_int_equal(rc, 0);
	assert_true(k > 5); /* the early allocations really failed */
	mdm_yaml_free(root);
	assert_int_equal(mdm_mem_used(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_shape_and_positions),
		cmocka_unit_test(test_null_forms),
		cmocka_unit_test(test_empty_documents),
		cmocka_unit_test(test_embedded_nul_scalar),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_clone_and_flow_round_trip),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_allocation_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
