/* Rules compiler: a YAML `rules:` list into the immutable form rules.c
 * matches with. Every name is resolved here, once, against the protobuf-c
 * descriptors (per event type, since `price` lives in different bodies), and
 * every problem is reported as "ORIGIN:LINE: rules[i].key: reason". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_suggest.h"
#include "rules_impl.h"
#include "store.h"

#define EVD (&mdmesh__v1__market_event__descriptor)

size_t rules_cc_push(struct rules_cc *c, const char *fmt, ...)
{
	size_t mark = c->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + c->plen, sizeof(c->path) - c->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen += (size_t)n < sizeof(c->path) - c->plen ? (size_t)n : sizeof(c->path) - 1 - c->plen;
	return mark;
}

void rules_cc_pop(struct rules_cc *c, size_t mark)
{
	c->plen = mark;
	c->path[mark] = '\0';
}

int rules_cc_fail(const struct rules_cc *c, const struct mdm_yaml_node *n, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mdm_err_set(-EINVAL, "%s:%u: %s: %s", c->origin, n ? n->line : 1, c->plen ? c->path : "(top level)",
			   msg);
}

int rules_cc_oom(const struct rules_cc *c)
{
	return mdm_err_set(-ENOMEM, "%s: out of memory while compiling rules", c->origin);
}

/* ---- did you mean ---- */

void rules_suggest_init(struct rules_suggest *s, const char *word)
{
	s->word = word;
	s->wlen = strlen(word);
	s->best = ~0u;
	s->hit[0] = '\0';
}

/* Consider "prefix.name" (or "name" when prefix is NULL). */
void rules_suggest_try(struct rules_suggest *s, const char *prefix, const char *name)
{
	char cand[RULES_FIELD_NAME_MAX];
	int n = prefix ? snprintf(cand, sizeof(cand), "%s.%s", prefix, name) : snprintf(cand, sizeof(cand), "%s", name);
	unsigned d;

	if (n <= 0 || (size_t)n >= sizeof(cand) || s->wlen >= RULES_FIELD_NAME_MAX)
		return;
	d = mdm_suggest_distance(s->word, s->wlen, cand, (size_t)n);
	/* "price" for "order.price": naming the submessage is one edit away. */
	if (prefix && strlen(name) < RULES_FIELD_NAME_MAX) {
		unsigned bare = 1 + mdm_suggest_distance(s->word, s->wlen, name, strlen(name));

		if (bare < d)
			d = bare;
	}
	if (d < s->best) {
		s->best = d;
		memcpy(s->hit, cand, (size_t)n + 1);
	}
}

/* The best candidate, if close enough to be a typo rather than another word. */
const char *rules_suggest_hit(const struct rules_suggest *s)
{
	unsigned limit = s->wlen < 3 ? 0 : s->wlen < 6 ? 1 : s->wlen < 12 ? 2 : 3;

	return s->best > 0 && s->best <= limit ? s->hit : NULL;
}

int rules_cc_unknown_key(const struct rules_cc *c, const struct mdm_yaml_node *key, const char *const *names)
{
	struct rules_suggest s;
	const char *hit;

	rules_suggest_init(&s, key->text);
	for (size_t i = 0; names[i]; i++)
		rules_suggest_try(&s, NULL, names[i]);
	hit = rules_suggest_hit(&s);
	if (hit)
		return rules_cc_fail(c, key, "unknown key (did you mean %s?)", hit);
	return rules_cc_fail(c, key, "unknown key");
}

/* ---- scalars ---- */

/* The text of a non-null scalar without NUL bytes, or an error naming `what`. */
int rules_cc_scalar(const struct rules_cc *c, const struct mdm_yaml_node *n, const char *what, const char **out)
{
	if (n->kind != MDM_YAML_SCALAR)
		return rules_cc_fail(c, n, "expected %s, found %s", what, mdm_yaml_kind_name(n->kind));
	if (mdm_yaml_is_null(n))
		return rules_cc_fail(c, n, "expected %s, found null", what);
	if (strlen(n->text) != n->len)
		return rules_cc_fail(c, n, "contains a NUL byte");
	*out = n->text;
	return 0;
}

int rules_cc_bool(const struct rules_cc *c, const struct mdm_yaml_node *n, bool *out)
{
	const char *s;
	int rc = rules_cc_scalar(c, n, "true or false", &s);

	if (rc)
		return rc;
	if (n->plain && strcasecmp(s, "true") == 0)
		*out = true;
	else if (n->plain && strcasecmp(s, "false") == 0)
		*out = false;
	else
		return rules_cc_fail(c, n, "expected true or false, found '%s'", s);
	return 0;
}

/* ---- subjects and templates ---- */

/* Why s is not a valid NATS subject (wildcards: a subscription pattern), or NULL. */
const char *rules_subject_problem(const char *s, size_t len, bool wildcards)
{
	size_t start = 0;

	if (len == 0)
		return "empty subject";
	for (size_t i = 0; i <= len; i++) {
		unsigned char ch = i < len ? (unsigned char)s[i] : '.';
		size_t tl;

		if (ch <= ' ' || ch == 0x7f)
			return "subjects cannot contain spaces or control characters";
		if (ch != '.')
			continue;
		tl = i - start;
		if (tl == 0)
			return "empty token (leading, trailing or double '.')";
		for (size_t k = start; k < i; k++) {
			if (s[k] != '*' && s[k] != '>')
				continue;
			if (!wildcards)
				return "a publish subject cannot contain wildcards (* or >)";
			if (tl != 1)
				return "a wildcard (* or >) must be a whole token";
			if (s[k] == '>' && i != len)
				return "'>' must be the last token";
		}
		start = i + 1;
	}
	return NULL;
}

static const struct {
	const char *name;
	uint8_t seg;
	size_t max; /* longest rendering */
} placeholders[] = {
	{ "symbol", RULES_SEG_SYMBOL, RULES_VALUE_MAX },
	{ "type", RULES_SEG_TYPE, 1 },
	{ "feed", RULES_SEG_FEED, RULES_VALUE_MAX },
	{ "rule", RULES_SEG_RULE, RULES_NAME_MAX },
	{ "trader", RULES_SEG_TRADER, RULES_VALUE_MAX }, /* executions; "" (subjects: _) for market events */
};
#define N_PLACEHOLDERS (sizeof(placeholders) / sizeof(placeholders[0]))

static int tmpl_add(const struct rules_cc *c, struct rules_tmpl *t, uint8_t kind, size_t off, size_t len)
{
	struct rules_seg *segs = mdm_realloc(t->segs, (t->n + 1) * sizeof(*segs));

	if (!segs)
		return rules_cc_oom(c);
	t->segs = segs;
	segs[t->n].kind = kind;
	segs[t->n].off = (uint32_t)off;
	segs[t->n].len = (uint32_t)len;
	t->n++;
	return 0;
}

/* Split text into literal runs and {placeholders}, check that the longest
 * possible rendering fits `cap`, and for subjects that the result is a valid
 * publish subject (with every placeholder standing for one safe token part). */
static int tmpl_compile(const struct rules_cc *c, const struct mdm_yaml_node *n, const char *text, bool subject,
			size_t cap, struct rules_tmpl *t)
{
	char sample[RULES_TARGET_MAX + RULES_MESSAGE_MAX];
	size_t len = strlen(text), lit = 0, longest = 0, slen = 0;
	const char *why;
	int rc;

	t->subject = subject;
	t->text = mdm_strdup(text);
	if (!t->text)
		return rules_cc_oom(c);
	for (size_t i = 0; i < len;) {
		if (text[i] == '}')
			return rules_cc_fail(c, n, "unmatched '}' at offset %zu", i);
		if (text[i] != '{') {
			size_t j = i;

			while (j < len && text[j] != '{' && text[j] != '}')
				j++;
			if ((rc = tmpl_add(c, t, RULES_SEG_LIT, i, j - i)) != 0)
				return rc;
			lit += j - i;
			if (slen + (j - i) < sizeof(sample)) {
				memcpy(sample + slen, text + i, j - i);
				slen += j - i;
			}
			i = j;
			continue;
		}
		const char *close = memchr(text + i, '}', len - i);
		size_t k, nl;

		if (!close)
			return rules_cc_fail(c, n, "unclosed '{' at offset %zu", i);
		nl = (size_t)(close - text) - i - 1;
		for (k = 0; k < N_PLACEHOLDERS; k++)
			if (strlen(placeholders[k].name) == nl && memcmp(placeholders[k].name, text + i + 1, nl) == 0)
				break;
		if (k == N_PLACEHOLDERS)
			return rules_cc_fail(c, n, "bad placeholder {%.*s} (use {symbol}, {type}, {feed}, {rule} or {trader})",
					     (int)nl, text + i + 1);
		if ((rc = tmpl_add(c, t, placeholders[k].seg, 0, 0)) != 0)
			return rc;
		longest += placeholders[k].max;
		if (slen + 1 < sizeof(sample))
			sample[slen++] = 'x';
		i += nl + 2;
	}
	if (lit + longest + 1 > cap)
		return rules_cc_fail(c, n, "renders up to %zu bytes, more than the %zu allowed", lit + longest,
				     cap - 1);
	if (subject && (why = rules_subject_problem(sample, slen, false)) != NULL)
		return rules_cc_fail(c, n, "bad subject '%s': %s", text, why);
	return 0;
}

/* ---- targets ---- */

static const char *const target_keys[] = { "table", "publish", "alert", "drop", NULL };
static const char *const alert_keys[] = { "severity", "message", NULL };
static const char *const severities[] = { "info", "warning", "critical", NULL };

/* trades, events and alerts are the routes the processor knows; any other
 * name becomes a table the store creates, so it must be one the store
 * accepts (store.c vets names pasted into DDL, the same for both backends). */
static bool table_name_ok(const char *s)
{
	return strcmp(s, "trades") == 0 || strcmp(s, "events") == 0 || strcmp(s, "alerts") == 0 ||
	       store_table_name_ok(s);
}

static int alert_compile(struct rules_cc *c, const struct mdm_yaml_node *v, struct rules_target *tg)
{
	const struct mdm_yaml_node *sv, *mv;
	const char *s = "warning", *msg = "";
	size_t mark;
	int rc;

	if (v->kind != MDM_YAML_MAP)
		return rules_cc_fail(c, v, "expected {severity: info|warning|critical, message: \"...\"}, found %s",
				     mdm_yaml_kind_name(v->kind));
	for (size_t i = 0; i < v->n; i++) {
		size_t j = 0;

		while (alert_keys[j] && strcmp(alert_keys[j], v->keys[i]->text) != 0)
			j++;
		if (!alert_keys[j]) {
			mark = rules_cc_push(c, ".%s", v->keys[i]->text);
			rc = rules_cc_unknown_key(c, v->keys[i], alert_keys);
			rules_cc_pop(c, mark);
			return rc;
		}
	}
	tg->kind = RULES_ACTION_ALERT;
	tg->alert_record = true;
	mark = rules_cc_push(c, ".severity");
	if ((sv = mdm_yaml_map_get(v, "severity")) != NULL && (rc = rules_cc_scalar(c, sv, "a severity", &s)) != 0)
		goto out;
	for (size_t i = 0;; i++) {
		if (!severities[i]) {
			rc = rules_cc_fail(c, sv, "bad severity '%s' (use info, warning or critical)", s);
			goto out;
		}
		if (strcmp(s, severities[i]) == 0) {
			tg->severity = severities[i];
			break;
		}
	}
	rules_cc_pop(c, mark);
	mark = rules_cc_push(c, ".message");
	if ((mv = mdm_yaml_map_get(v, "message")) != NULL && (rc = rules_cc_scalar(c, mv, "a message", &msg)) != 0)
		goto out;
	if ((rc = tmpl_compile(c, mv ? mv : v, msg, false, RULES_MESSAGE_MAX, &tg->message)) != 0)
		goto out;
	rules_cc_pop(c, mark);
	/* The ALERTS stream contract: alert.<rule>.<symbol>. */
	rc = tmpl_compile(c, v, "alert.{rule}.{symbol}", true, RULES_TARGET_MAX, &tg->tmpl);
	return rc;
out:
	rules_cc_pop(c, mark);
	return rc;
}

static int target_compile(struct rules_cc *c, const struct mdm_yaml_node *n, struct rules_rule *rule, bool *has_table)
{
	const struct mdm_yaml_node *k, *v;
	struct rules_target *tg;
	const char *s;
	size_t mark;
	int rc;

	if (n->kind != MDM_YAML_MAP)
		return rules_cc_fail(c, n,
				     "expected a target ({table: ...}, {publish: ...}, {alert: ...} or "
				     "{drop: true}), found %s",
				     mdm_yaml_kind_name(n->kind));
	if (n->n != 1)
		return rules_cc_fail(c, n, "a target has exactly one key (table, publish, alert or drop)");
	k = n->keys[0];
	v = n->items[0];
	mark = rules_cc_push(c, ".%s", k->text);
	tg = &rule->targets[rule->n_targets];
	if (strcmp(k->text, "table") == 0) {
		if ((rc = rules_cc_scalar(c, v, "a table name", &s)) != 0)
			goto out;
		if (!table_name_ok(s)) {
			rc = rules_cc_fail(c, v,
					   "bad table name '%s' (use trades, events, alerts or a new name: "
					   "[a-z_][a-z0-9_]*, at most %d bytes, not bars_1m, instruments or audit, "
					   "not prefixed sqlite_, pg_ or mdmesh_)",
					   s, STORE_TABLE_NAME_MAX);
			goto out;
		}
		rule->n_targets++;
		tg->kind = RULES_ACTION_TABLE;
		tg->alert_record = strcmp(s, "alerts") == 0;
		*has_table = true;
		rc = tmpl_compile(c, v, s, false, RULES_TARGET_MAX, &tg->tmpl);
	} else if (strcmp(k->text, "publish") == 0) {
		if ((rc = rules_cc_scalar(c, v, "a subject template", &s)) != 0)
			goto out;
		rule->n_targets++;
		tg->kind = RULES_ACTION_PUBLISH;
		tg->alert_record = strncmp(s, "alert.", 6) == 0;
		rc = tmpl_compile(c, v, s, true, RULES_TARGET_MAX, &tg->tmpl);
	} else if (strcmp(k->text, "alert") == 0) {
		rule->n_targets++;
		if (rule->alert_idx < 0)
			rule->alert_idx = (int)(rule->n_targets - 1);
		rc = alert_compile(c, v, tg);
	} else if (strcmp(k->text, "drop") == 0) {
		bool b = false;

		if ((rc = rules_cc_bool(c, v, &b)) != 0)
			goto out;
		if (!b)
			rc = rules_cc_fail(c, v, "drop: false does nothing; remove the target");
		else if (rule->drop)
			rc = rules_cc_fail(c, v, "drop given twice");
		rule->drop = true;
	} else {
		rc = rules_cc_unknown_key(c, k, target_keys);
	}
out:
	rules_cc_pop(c, mark);
	return rc;
}

static int targets_compile(struct rules_cc *c, const struct mdm_yaml_node *v, struct rules_rule *rule)
{
	bool has_table = false;
	int rc;

	if (v->kind != MDM_YAML_SEQ)
		return rules_cc_fail(c, v, "expected a list of targets, found %s", mdm_yaml_kind_name(v->kind));
	if (v->n == 0)
		return rules_cc_fail(c, v, "empty target list (a rule must do something)");
	rule->targets = mdm_calloc(v->n, sizeof(*rule->targets));
	if (!rule->targets)
		return rules_cc_oom(c);
	for (size_t i = 0; i < v->n; i++) {
		size_t mark = rules_cc_push(c, "[%zu]", i);

		rc = target_compile(c, v->items[i], rule, &has_table);
		rules_cc_pop(c, mark);
		if (rc)
			return rc;
	}
	if (rule->drop && has_table)
		return rules_cc_fail(c, v, "drop with a table target: a dropped event is not persisted");
	return 0;
}

/* ---- rules ---- */

static const char *const rule_keys[] = { "name", "description", "match", "targets", "enabled", NULL };

static int name_compile(struct rules_cc *c, const struct rules *r, size_t idx, const struct mdm_yaml_node *rn)
{
	const struct mdm_yaml_node *v = mdm_yaml_map_get(rn, "name");
	struct rules_rule *rule = &r->rules[idx];
	const char *s;
	size_t n;
	int rc;

	if (!v)
		return rules_cc_fail(c, rn, "missing");
	if ((rc = rules_cc_scalar(c, v, "a rule name", &s)) != 0)
		return rc;
	n = strlen(s);
	if (n > RULES_NAME_MAX || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return rules_cc_fail(c, v, "bad rule name '%s' (use [a-z0-9_], at most %d characters)", s,
				     RULES_NAME_MAX);
	for (size_t j = 0; j < idx; j++)
		if (strcmp(r->rules[j].name, s) == 0)
			return rules_cc_fail(c, v, "duplicate rule name '%s' (first at line %u)", s, r->rules[j].line);
	rule->name = mdm_strdup(s);
	return rule->name ? 0 : rules_cc_oom(c);
}

static int rule_compile(struct rules_cc *c, struct rules *r, size_t idx, const struct mdm_yaml_node *rn)
{
	struct rules_rule *rule = &r->rules[idx];
	const struct mdm_yaml_node *v;
	size_t mark;
	int rc = 0;

	rule->line = rn->line;
	rule->enabled = true;
	rule->alert_idx = -1;
	if (rn->kind != MDM_YAML_MAP)
		return rules_cc_fail(c, rn, "expected a rule mapping (name, match, targets), found %s",
				     mdm_yaml_kind_name(rn->kind));
	for (size_t i = 0; i < rn->n; i++) {
		size_t j = 0;

		while (rule_keys[j] && strcmp(rule_keys[j], rn->keys[i]->text) != 0)
			j++;
		if (!rule_keys[j]) {
			mark = rules_cc_push(c, ".%s", rn->keys[i]->text);
			rc = rules_cc_unknown_key(c, rn->keys[i], rule_keys);
			rules_cc_pop(c, mark);
			return rc;
		}
	}
	mark = rules_cc_push(c, ".name");
	rc = name_compile(c, r, idx, rn);
	rules_cc_pop(c, mark);
	if (rc)
		return rc;
	mark = rules_cc_push(c, ".description");
	if ((v = mdm_yaml_map_get(rn, "description")) != NULL && !mdm_yaml_is_null(v)) {
		const char *s;

		if ((rc = rules_cc_scalar(c, v, "a description", &s)) == 0 && !(rule->description = mdm_strdup(s)))
			rc = rules_cc_oom(c);
	}
	rules_cc_pop(c, mark);
	if (rc)
		return rc;
	mark = rules_cc_push(c, ".enabled");
	if ((v = mdm_yaml_map_get(rn, "enabled")) != NULL)
		rc = rules_cc_bool(c, v, &rule->enabled);
	rules_cc_pop(c, mark);
	if (rc)
		return rc;
	mark = rules_cc_push(c, ".match");
	if ((v = mdm_yaml_map_get(rn, "match")) == NULL)
		rc = rules_cc_fail(c, rn, "missing (write match: {} to match every event)");
	else
		rc = rules_match_compile(c, v, rule);
	rules_cc_pop(c, mark);
	if (rc)
		return rc;
	mark = rules_cc_push(c, ".targets");
	if ((v = mdm_yaml_map_get(rn, "targets")) == NULL)
		rc = rules_cc_fail(c, rn, "missing");
	else
		rc = targets_compile(c, v, rule);
	rules_cc_pop(c, mark);
	return rc;
}

/* body_case -> rules_types index, by name through the descriptor. */
static int case_table(struct rules *r)
{
	memset(r->case_to_type, RULES_TYPE_NONE, sizeof(r->case_to_type));
	for (unsigned t = 0; t < RULES_NTYPES; t++) {
		const ProtobufCFieldDescriptor *fd =
			protobuf_c_message_descriptor_get_field_by_name(EVD, rules_types[t].body);

		if (!fd || fd->type != PROTOBUF_C_TYPE_MESSAGE || !(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
		    fd->id >= RULES_CASE_MAX)
			return mdm_err_set(-EINVAL, "rules: body %s is not a MarketEvent oneof member",
					   rules_types[t].body);
		r->case_to_type[fd->id] = (uint8_t)t;
	}
	return 0;
}

int rules_compile(const struct mdm_yaml_node *list, const char *origin, struct rules **out)
{
	struct rules_cc c = { .origin = origin ? origin : "rules" };
	struct rules *r;
	int rc;

	r = mdm_calloc(1, sizeof(*r));
	if (!r)
		return rules_cc_oom(&c);
	atomic_init(&r->refs, 1);
	r->origin = mdm_strdup(c.origin);
	if (!r->origin) {
		rc = rules_cc_oom(&c);
		goto err;
	}
	if ((rc = case_table(r)) != 0)
		goto err;
	rules_cc_push(&c, "rules");
	if (list && !mdm_yaml_is_null(list)) {
		if (list->kind != MDM_YAML_SEQ) {
			rc = rules_cc_fail(&c, list, "expected a list of rules, found %s",
					   mdm_yaml_kind_name(list->kind));
			goto err;
		}
		if (list->n) {
			r->rules = mdm_calloc(list->n, sizeof(*r->rules));
			if (!r->rules) {
				rc = rules_cc_oom(&c);
				goto err;
			}
		}
		for (size_t i = 0; i < list->n; i++) {
			size_t mark = rules_cc_push(&c, "[%zu]", i);

			r->n = i + 1;
			rc = rule_compile(&c, r, i, list->items[i]);
			rules_cc_pop(&c, mark);
			if (rc)
				goto err;
		}
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->rules[i].enabled)
			r->max_actions += r->rules[i].n_targets;
	*out = r;
	return 0;
err:
	rules_free(r);
	return rc;
}

static const char *const top_keys[] = { "rules", NULL };

static int doc_compile(const struct mdm_yaml_node *root, const char *name, struct rules **out)
{
	struct rules_cc c = { .origin = name };
	const struct mdm_yaml_node *list;

	if (!root)
		return rules_cc_fail(&c, NULL, "empty document (expected a mapping with a rules: list)");
	if (root->kind != MDM_YAML_MAP)
		return rules_cc_fail(&c, root, "expected a mapping with a rules: list, found %s",
				     mdm_yaml_kind_name(root->kind));
	for (size_t i = 0; i < root->n; i++) {
		if (strcmp(root->keys[i]->text, "rules") != 0) {
			rules_cc_push(&c, "%s", root->keys[i]->text);
			return rules_cc_unknown_key(&c, root->keys[i], top_keys);
		}
	}
	list = mdm_yaml_map_get(root, "rules");
	if (!list)
		return rules_cc_fail(&c, root, "missing rules: list");
	return rules_compile(list, name, out);
}

int rules_load(const char *path, struct rules **out)
{
	struct mdm_yaml_node *root = NULL;
	int rc = mdm_yaml_parse_file(path, &root);

	if (rc == 0)
		rc = doc_compile(root, path, out);
	mdm_yaml_free(root);
	return rc;
}

int rules_load_string(const char *text, size_t len, const char *name, struct rules **out)
{
	struct mdm_yaml_node *root = NULL;
	int rc;

	if (!name)
		name = "rules";
	rc = mdm_yaml_parse_string(text, len, name, &root);
	if (rc == 0)
		rc = doc_compile(root, name, out);
	mdm_yaml_free(root);
	return rc;
}
