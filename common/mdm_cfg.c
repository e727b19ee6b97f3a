/* Schema-driven config: a YAML tree (mdm_yaml) is walked once against the
 * schema table, then environment overrides are applied; flags set one key.
 * Values are parsed by mdm_cfg_value.c into a temporary and only then
 * committed, so a failed set never leaves a field half-written. Printing is
 * mdm_cfg_print.c. */
#include "mdm_cfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_buf.h"
#include "mdm_cfg_int.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_suggest.h"

/* ---- schema lookups ---- */

static const struct mdm_cfg_field *find_field(const struct mdm_cfg_field *schema, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(schema[i].key, key) == 0)
			return &schema[i];
	return NULL;
}

/* True when `key` is a proper prefix of some field's key at a dot. */
static bool is_section(const struct mdm_cfg_field *schema, size_t n, const char *key)
{
	size_t len = strlen(key);

	for (size_t i = 0; i < n; i++)
		if (strncmp(schema[i].key, key, len) == 0 && schema[i].key[len] == '.')
			return true;
	return false;
}

/* Nearest key or section name, if it is close enough to be the intended one. */
static const char *suggest(const struct mdm_cfg_field *schema, size_t n, const char *key, size_t *out_len)
{
	size_t lk = strlen(key);
	/* One edit in a 4-letter key is a typo; in a 2-letter key it is another word. */
	unsigned best = ~0u, limit = lk < 4 ? 0 : lk < 8 ? 1 : lk < 16 ? 2 : 3;
	const char *hit = NULL;

	if (lk > CFG_INPUT_KEY_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *k = schema[i].key;
		size_t full = strlen(k);

		/* The key itself, then each of its sections ("a.b.c": "a", "a.b"). */
		for (size_t len = full; len > 0;) {
			unsigned d = mdm_suggest_distance(key, lk, k, len);

			if (d < best) {
				best = d;
				hit = k;
				*out_len = len;
			}
			while (--len > 0 && k[len] != '.')
				;
		}
	}
	return best <= limit ? hit : NULL;
}

static int unknown_key(const struct mdm_cfg_field *schema, size_t n, const struct where *w)
{
	size_t len = 0;
	const char *s = suggest(schema, n, w->key, &len);

	if (s)
		return cfg_where_err(w, -EINVAL, "unknown key (did you mean %.*s?)", (int)len, s);
	return cfg_where_err(w, -EINVAL, "unknown key");
}

static int check_schema(const struct mdm_cfg_field *schema, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct mdm_cfg_field *f = &schema[i];
		const char *k = f->key;
		size_t len;

		if (!k || !*k)
			return mdm_err_set(-EINVAL, "schema: row %zu: empty key", i);
		len = strlen(k);
		if (len > CFG_KEY_MAX)
			return mdm_err_set(-EINVAL, "schema: %s: longer than %d characters", k, CFG_KEY_MAX);
		if (k[0] == '.' || k[len - 1] == '.' || strstr(k, ".."))
			return mdm_err_set(-EINVAL, "schema: %s: empty section name", k);
		for (size_t j = 0; j < len; j++)
			if (!(islower((unsigned char)k[j]) || isdigit((unsigned char)k[j]) || k[j] == '_' ||
			      k[j] == '-' || k[j] == '.'))
				return mdm_err_set(-EINVAL, "schema: %s: keys use [a-z0-9_.-]", k);
		if ((unsigned)f->type > MDM_CFG_RAW)
			return mdm_err_set(-EINVAL, "schema: %s: unknown type %d", k, (int)f->type);
		if (f->type == MDM_CFG_ENUM && (!f->choices || !f->choices[0]))
			return mdm_err_set(-EINVAL, "schema: %s: an enum needs choices", k);
		if (cfg_has_bounds(f) && f->min > f->max)
			return mdm_err_set(-EINVAL, "schema: %s: min is above max", k);
		for (size_t j = 0; j < i; j++) {
			const char *o = schema[j].key;
			size_t lo = strlen(o);

			if (strcmp(o, k) == 0)
				return mdm_err_set(-EINVAL, "schema: %s: listed twice", k);
			if ((lo < len && strncmp(o, k, lo) == 0 && k[lo] == '.') ||
			    (len < lo && strncmp(o, k, len) == 0 && o[len] == '.'))
				return mdm_err_set(-EINVAL, "schema: %s: both a key and a section (%s)",
						   lo < len ? o : k, lo < len ? k : o);
		}
	}
	return 0;
}

static int set_text(const struct mdm_cfg_field *f, void *cfg, const char *text, const char *origin)
{
	struct where w = { origin, 0, f->key };
	union cfg_val v;
	int rc = cfg_parse_text(f, &w, text, strlen(text), &v);

	if (rc == 0)
		cfg_commit(f, cfg, &v);
	return rc;
}

void mdm_cfg_free(const struct mdm_cfg_field *schema, size_t n, void *out)
{
	for (size_t i = 0; i < n; i++) {
		union cfg_val v;

		if (schema[i].type != MDM_CFG_STR && schema[i].type != MDM_CFG_STRLIST && schema[i].type != MDM_CFG_RAW)
			continue;
		memcpy(&v, cfg_slot(out, &schema[i]), cfg_type_size(schema[i].type));
		cfg_val_free(schema[i].type, &v);
		memset(cfg_slot(out, &schema[i]), 0, cfg_type_size(schema[i].type));
	}
}

int mdm_cfg_defaults(const struct mdm_cfg_field *schema, size_t n, void *out)
{
	int rc = check_schema(schema, n);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		memset(cfg_slot(out, &schema[i]), 0, cfg_type_size(schema[i].type));
	for (size_t i = 0; i < n; i++) {
		if (schema[i].def && (rc = set_text(&schema[i], out, schema[i].def, "default")) != 0) {
			mdm_cfg_free(schema, n, out);
			return rc;
		}
	}
	return 0;
}

/* ---- file walk ---- */

struct loader {
	const struct mdm_cfg_field *schema;
	size_t n;
	void *out;
	const char *file;
	unsigned *set_line; /* per field: line where the file set it; 0 = not yet */
	struct mdm_buf key; /* dotted key of the pair being visited */
};

static int walk(struct loader *L, const struct mdm_yaml_node *map)
{
	size_t mark = L->key.len;
	int rc = 0;

	for (size_t i = 0; i < map->n && rc == 0; i++) {
		const struct mdm_yaml_node *k = map->keys[i], *v = map->items[i];
		const struct mdm_cfg_field *f;
		struct where w = { L->file, k->line, NULL };

		if ((mark && mdm_buf_putc(&L->key, '.') != 0) || mdm_buf_append(&L->key, k->text, k->len) != 0)
			return mdm_err_set(-ENOMEM, "%s: out of memory", L->file);
		w.key = L->key.data;
		f = L->key.len <= CFG_INPUT_KEY_MAX ? find_field(L->schema, L->n, L->key.data) : NULL;
		if (f) {
			size_t idx = (size_t)(f - L->schema);
			union cfg_val val;

			if (L->set_line[idx]) {
				rc = cfg_where_err(&w, -EINVAL, "duplicate key (first set at line %u)", L->set_line[idx]);
				break;
			}
			if (!mdm_yaml_is_null(v))
				w.line = v->line;
			rc = cfg_parse_node(f, &w, v, L->file, &val);
			if (rc == 0) {
				cfg_commit(f, L->out, &val);
				L->set_line[idx] = k->line;
			}
		} else if (L->key.len <= CFG_INPUT_KEY_MAX && is_section(L->schema, L->n, L->key.data)) {
			if (v->kind == MDM_YAML_MAP)
				rc = walk(L, v);
			else if (!mdm_yaml_is_null(v))
				rc = cfg_where_err(&w, -EINVAL, "expected a mapping, found %s", mdm_yaml_kind_name(v->kind));
		} else {
			rc = unknown_key(L->schema, L->n, &w);
		}
		L->key.len = mark;
		L->key.data[mark] = '\0';
	}
	return rc;
}

static int apply_tree(const struct mdm_cfg_field *schema, size_t n, void *out, const struct mdm_yaml_node *root,
		      const char *file)
{
	struct loader L = { schema, n, out, file, NULL, MDM_BUF_INIT };
	int rc;

	if (mdm_yaml_is_null(root))
		return 0;
	if (root->kind != MDM_YAML_MAP) {
		struct where w = { file, root->line, "(top level)" };

		return cfg_where_err(&w, -EINVAL, "expected a mapping, found %s", mdm_yaml_kind_name(root->kind));
	}
	L.set_line = mdm_calloc(n ? n : 1, sizeof(*L.set_line));
	if (!L.set_line)
		return mdm_err_set(-ENOMEM, "%s: out of memory", file);
	rc = walk(&L, root);
	mdm_free(L.set_line);
	mdm_buf_fini(&L.key);
	return rc;
}

static int apply_env(const struct mdm_cfg_field *schema, size_t n, void *out)
{
	for (size_t i = 0; i < n; i++) {
		char name[CFG_KEY_MAX + 8], origin[CFG_KEY_MAX + 16];
		const char *val;
		size_t j = 4;
		int rc;

		memcpy(name, "MDM_", 4);
		for (const char *k = schema[i].key; *k; k++)
			name[j++] = isalnum((unsigned char)*k) ? (char)toupper((unsigned char)*k) : '_';
		name[j] = '\0';
		val = getenv(name);
		if (!val)
			continue;
		snprintf(origin, sizeof(origin), "env %s", name);
		if ((rc = set_text(&schema[i], out, val, origin)) != 0)
			return rc;
	}
	return 0;
}

/* Shared tail of the two loaders: `tree` was parsed with status rc. */
static int load_finish(const struct mdm_cfg_field *schema, size_t n, void *out, struct mdm_yaml_node *tree,
		       const char *file, int rc)
{
	if (rc == 0 && file)
		rc = apply_tree(schema, n, out, tree, file);
	mdm_yaml_free(tree);
	if (rc == 0)
		rc = apply_env(schema, n, out);
	if (rc != 0)
		mdm_cfg_free(schema, n, out);
	return rc;
}

int mdm_cfg_load_file(const struct mdm_cfg_field *schema, size_t n, void *out, const char *path)
{
	struct mdm_yaml_node *tree = NULL;
	int rc = mdm_cfg_defaults(schema, n, out);

	if (rc != 0)
		return rc;
	if (path)
		rc = mdm_yaml_parse_file(path, &tree);
	return load_finish(schema, n, out, tree, path, rc);
}

int mdm_cfg_load_string(const struct mdm_cfg_field *schema, size_t n, void *out, const char *text, size_t len,
			const char *name)
{
	struct mdm_yaml_node *tree = NULL;
	int rc = mdm_cfg_defaults(schema, n, out);

	if (!name)
		name = "(string)";
	if (rc != 0)
		return rc;
	rc = mdm_yaml_parse_string(text, len, name, &tree);
	return load_finish(schema, n, out, tree, name, rc);
}

int mdm_cfg_set(const struct mdm_cfg_field *schema, size_t n, void *out, const char *key, const char *value,
		const char *origin)
{
	const struct mdm_cfg_field *f = find_field(schema, n, key);
	struct where w = { origin ? origin : "command line", 0, key };

	if (f)
		return set_text(f, out, value, w.origin);
	if (strlen(key) <= CFG_INPUT_KEY_MAX && is_section(schema, n, key))
		return cfg_where_err(&w, -EINVAL, "is a section, not a key");
	return unknown_key(schema, n, &w);
}
