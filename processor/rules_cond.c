/* Rules conditions: the `match:` mapping of one rule compiled against the
 * protobuf-c descriptors. Field names are resolved here once per event type
 * (`price` is a different offset in each body), so matching reads values by
 * offset and never compares a name. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_mem.h"
#include "rules_impl.h"

#define EVD (&mdmesh__v1__market_event__descriptor)
#define EXD (&mdmesh__v1__execution__descriptor)
#define EXEC_BIT (1u << RULES_TYPE_EXEC)
/* Bounds of a numeric range: beyond any field value (int64, uint64, or a
 * 96-bit notional), so clamping a threshold here never changes a result. */
#define NUM_BOUND ((rules_num)1 << 120)

/* ---- numbers ---- */

/* A number: digits are exact (any int64/uint64); anything else goes through
 * strtod ("1e10", "2.5") and must be finite. */
static int parse_number(const struct rules_cc *c, const struct mdm_yaml_node *n, bool *integral, rules_num *iv,
			double *dv)
{
	const char *s, *p;
	char *end;
	int rc = rules_cc_scalar(c, n, "a number", &s);

	if (rc)
		return rc;
	p = s + (*s == '-' || *s == '+');
	if (*p && strspn(p, "0123456789") == strlen(p) && strlen(p) <= 30) {
		rules_num v = 0;

		for (; *p; p++)
			v = v * 10 + (*p - '0');
		*iv = *s == '-' ? -v : v;
		*integral = true;
		return 0;
	}
	if (!(isdigit((unsigned char)*p) || *p == '.'))
		return rules_cc_fail(c, n, "expected a number, found '%s'", s);
	*dv = strtod(s, &end);
	if (end == s || *end || !isfinite(*dv))
		return rules_cc_fail(c, n, "expected a number, found '%s'", s);
	if (*dv == floor(*dv) && fabs(*dv) < 1e30) {
		*iv = (rules_num)*dv;
		*integral = true;
		return 0;
	}
	*integral = false;
	return 0;
}

static rules_num clamp_num(double d)
{
	if (d >= 1e36)
		return NUM_BOUND;
	if (d <= -1e36)
		return -NUM_BOUND;
	return (rules_num)d;
}

/* ---- field names ---- */

enum fclass { FC_NONE, FC_NUM, FC_STR, FC_BOOL, FC_MSG, FC_OTHER };

static const char *fclass_name(enum fclass f)
{
	static const char *const names[] = { "missing", "a number",  "a string",
					     "a bool",  "a message", "of an unsupported type" };
	return names[f];
}

static enum fclass acc_class(const struct rules_acc *a)
{
	if (a->how == RULES_ACC_ABSENT)
		return FC_NONE;
	if (a->how == RULES_ACC_MSG)
		return FC_MSG;
	switch (a->pbtype) {
	case PROTOBUF_C_TYPE_STRING:
		return FC_STR;
	case PROTOBUF_C_TYPE_BOOL:
		return FC_BOOL;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return FC_OTHER;
	default:
		return FC_NUM;
	}
}

static const ProtobufCFieldDescriptor *event_field(const char *name)
{
	return protobuf_c_message_descriptor_get_field_by_name(EVD, name);
}

/* A MarketEvent submessage field usable for event type t: header and order
 * always, a body only for its own type. */
static bool msg_field_for(const ProtobufCFieldDescriptor *mf, unsigned t)
{
	if (!mf || mf->type != PROTOBUF_C_TYPE_MESSAGE || mf->label == PROTOBUF_C_LABEL_REPEATED)
		return false;
	if (!(mf->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
		return true;
	return t < RULES_NTYPES && strcmp(mf->name, rules_types[t].body) == 0;
}

static bool set_field(const ProtobufCFieldDescriptor *mf, const char *name, struct rules_acc *a)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(mf->descriptor, name);

	if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
		return false;
	a->how = RULES_ACC_FIELD;
	a->pbtype = (uint8_t)f->type;
	a->msg_off = mf->offset;
	a->field_off = f->offset;
	return true;
}

/* An Execution (type `execution`): its own fields, header.F, or F of the header. */
static void resolve_exec(const char *name, struct rules_acc *a)
{
	const ProtobufCFieldDescriptor *hf = protobuf_c_message_descriptor_get_field_by_name(EXD, "header");
	const ProtobufCFieldDescriptor *f;

	if (strchr(name, '.')) {
		if (strncmp(name, "header.", 7) == 0)
			set_field(hf, name + 7, a);
		return;
	}
	f = protobuf_c_message_descriptor_get_field_by_name(EXD, name);
	if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED) {
		a->how = RULES_ACC_MSG;
		a->msg_off = f->offset;
		return;
	}
	if (f && f->label != PROTOBUF_C_LABEL_REPEATED) {
		a->how = RULES_ACC_ROOT;
		a->pbtype = (uint8_t)f->type;
		a->field_off = f->offset;
		return;
	}
	set_field(hf, name, a);
}

/* Resolve a match key for event type t:
 *   header | order | <body>          the submessage itself (exists only)
 *   header.F | order.F | <body>.F    F in that submessage
 *   F                                F in t's body, else in the header */
static void resolve(const char *name, unsigned t, struct rules_acc *a)
{
	const char *dot = strchr(name, '.');
	const ProtobufCFieldDescriptor *mf;

	memset(a, 0, sizeof(*a));
	if (t == RULES_TYPE_EXEC) {
		resolve_exec(name, a);
		return;
	}
	if (dot) {
		char head[RULES_FIELD_NAME_MAX];
		size_t hl = (size_t)(dot - name);

		if (hl >= sizeof(head))
			return;
		memcpy(head, name, hl);
		head[hl] = '\0';
		mf = event_field(head);
		if (msg_field_for(mf, t))
			set_field(mf, dot + 1, a);
		return;
	}
	mf = event_field(name);
	if (mf && mf->type == PROTOBUF_C_TYPE_MESSAGE) {
		if (msg_field_for(mf, t)) {
			a->how = RULES_ACC_MSG;
			a->msg_off = mf->offset;
		}
		return;
	}
	if (t < RULES_NTYPES && set_field(event_field(rules_types[t].body), name, a))
		return;
	set_field(event_field("header"), name, a);
}

/* Offer every name valid for the types in mask as a did-you-mean. */
static void suggest_fields(struct rules_suggest *s, uint32_t mask)
{
	static const char *const special[] = { "type", "subject", "notional", "header", "order" };
	const ProtobufCFieldDescriptor *hf = event_field("header"), *of = event_field("order");
	const ProtobufCMessageDescriptor *d;

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		rules_suggest_try(s, NULL, special[i]);
	d = hf->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		rules_suggest_try(s, NULL, d->fields[i].name);
		rules_suggest_try(s, "header", d->fields[i].name);
	}
	d = of->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++)
		rules_suggest_try(s, "order", d->fields[i].name);
	if (mask & EXEC_BIT) {
		for (unsigned i = 0; i < EXD->n_fields; i++)
			rules_suggest_try(s, NULL, EXD->fields[i].name);
		for (size_t i = 0; i < rules_n_ref_fields; i++)
			rules_suggest_try(s, NULL, rules_ref_fields[i].name);
	}
	for (unsigned t = 0; t < RULES_NTYPES; t++) {
		if (!(mask & (1u << t)))
			continue;
		d = event_field(rules_types[t].body)->descriptor;
		rules_suggest_try(s, NULL, rules_types[t].body);
		for (unsigned i = 0; i < d->n_fields; i++) {
			rules_suggest_try(s, NULL, d->fields[i].name);
			rules_suggest_try(s, rules_types[t].body, d->fields[i].name);
		}
	}
}

static void type_label(unsigned t, char *buf, size_t cap)
{
	if (t < RULES_NTYPES)
		snprintf(buf, cap, "%c (%s)", rules_types[t].letter, rules_types[t].body);
	else if (t == RULES_TYPE_EXEC)
		snprintf(buf, cap, "execution");
	else
		snprintf(buf, cap, "events without a body");
}

/* Types that have a notional (see rules_notional). */
static uint32_t notional_mask(void)
{
	static const char letters[] = "AFECPQU";
	uint32_t m = 0;

	for (unsigned t = 0; t < RULES_NTYPES; t++)
		if (strchr(letters, rules_types[t].letter))
			m |= 1u << t;
	return m | EXEC_BIT;
}

static int ref_index(const char *name)
{
	for (size_t i = 0; i < rules_n_ref_fields; i++)
		if (strcmp(rules_ref_fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

static enum fclass ref_class(unsigned i)
{
	switch (rules_ref_fields[i].cls) {
	case RULES_REF_STR: return FC_STR;
	case RULES_REF_BOOL: return FC_BOOL;
	default: return FC_NUM;
	}
}

/* trader.* / instrument.*: an execution's reference data (executions only). */
static int ref_compile(const struct rules_cc *c, const struct mdm_yaml_node *key, uint32_t mask, bool strict,
		       struct rules_cond *cond, enum fclass *cls)
{
	int i = ref_index(key->text);

	if (i < 0) {
		struct rules_suggest s;
		const char *hit;

		rules_suggest_init(&s, key->text);
		for (size_t k = 0; k < rules_n_ref_fields; k++)
			rules_suggest_try(&s, NULL, rules_ref_fields[k].name);
		hit = rules_suggest_hit(&s);
		if (hit)
			return rules_cc_fail(c, key, "unknown reference field (did you mean %s?)", hit);
		return rules_cc_fail(c, key, "unknown reference field");
	}
	if (!(mask & EXEC_BIT) || (strict && (mask & ~EXEC_BIT)))
		return rules_cc_fail(c, key, "reference data exists for executions only (type: [execution])");
	cond->kind = RULES_COND_REF;
	cond->ref = (uint8_t)i;
	*cls = ref_class((unsigned)i);
	return 0;
}

/* Fill cond->acc for every type in mask and work out the field's class.
 * `strict`: a type condition names the types, so the field must exist in
 * each of them; otherwise it must exist in at least one type. */
static int field_compile(const struct rules_cc *c, const struct mdm_yaml_node *key, uint32_t mask, bool strict,
			 struct rules_cond *cond, enum fclass *cls)
{
	enum fclass found = FC_NONE;
	unsigned first_t = 0;
	char l1[64], l2[64];

	*cls = FC_NONE;
	if (strcmp(key->text, "notional") == 0) {
		uint32_t missing = mask & ~notional_mask() & ((1u << RULES_NTYPES) - 1);

		cond->kind = RULES_COND_NOTIONAL;
		if (strict && missing) {
			type_label((unsigned)__builtin_ctz(missing), l1, sizeof(l1));
			return rules_cc_fail(c, key,
					     "notional is not defined for type %s (it is for A, F, E, C, P, Q, U, execution)", l1);
		}
		if (!(mask & notional_mask()))
			return rules_cc_fail(c, key, "notional is not defined for any type this rule matches");
		*cls = FC_NUM;
		return 0;
	}
	if (strncmp(key->text, "trader.", 7) == 0 || strncmp(key->text, "instrument.", 11) == 0)
		return ref_compile(c, key, mask, strict, cond, cls);
	cond->kind = RULES_COND_FIELD;
	for (unsigned t = 0; t < RULES_TYPE_SLOTS; t++) {
		enum fclass fc;

		if (!(mask & (1u << t)))
			continue;
		resolve(key->text, t, &cond->acc[t]);
		fc = acc_class(&cond->acc[t]);
		if (fc == FC_NONE) {
			if (strict && t < RULES_NTYPES) {
				struct rules_suggest s;
				const char *hit;

				rules_suggest_init(&s, key->text);
				suggest_fields(&s, 1u << t);
				hit = rules_suggest_hit(&s);
				type_label(t, l1, sizeof(l1));
				if (hit)
					return rules_cc_fail(c, key, "no such field in type %s (did you mean %s?)", l1,
							     hit);
				return rules_cc_fail(c, key, "no such field in type %s", l1);
			}
			continue;
		}
		if (found != FC_NONE && fc != found) {
			type_label(first_t, l1, sizeof(l1));
			type_label(t, l2, sizeof(l2));
			return rules_cc_fail(c, key, "is %s in type %s but %s in type %s; add a type condition",
					     fclass_name(found), l1, fclass_name(fc), l2);
		}
		if (found == FC_NONE)
			first_t = t;
		found = fc;
	}
	if (found == FC_NONE) {
		struct rules_suggest s;
		const char *hit;

		rules_suggest_init(&s, key->text);
		suggest_fields(&s, mask);
		hit = rules_suggest_hit(&s);
		if (hit)
			return rules_cc_fail(c, key, "unknown field (did you mean %s?)", hit);
		return rules_cc_fail(c, key, "unknown field");
	}
	if (found == FC_OTHER)
		return rules_cc_fail(c, key, "field type not supported for matching");
	*cls = found;
	return 0;
}

/* ---- patterns ---- */

static int pat_strs(const struct rules_cc *c, struct rules_pat *p, size_t n)
{
	p->strs = mdm_calloc(n, sizeof(*p->strs));
	if (!p->strs)
		return rules_cc_oom(c);
	p->n = n;
	return 0;
}

static int str_set(const struct rules_cc *c, struct rules_str *s, const char *text)
{
	s->s = mdm_strdup(text);
	if (!s->s)
		return rules_cc_oom(c);
	s->len = strlen(text);
	return 0;
}

/* A plain value alternative: equality for the field's class. */
static int pat_value(struct rules_cc *c, const struct mdm_yaml_node *n, enum fclass cls, bool subject,
		     struct rules_pat *p)
{
	const char *s, *why;
	rules_num iv = 0;
	bool integral;
	double dv;
	int rc;

	switch (cls) {
	case FC_NUM:
		if ((rc = parse_number(c, n, &integral, &iv, &dv)) != 0)
			return rc;
		if (!integral)
			return rules_cc_fail(c, n, "%s never equals an integer field", n->text);
		p->kind = RULES_PAT_RANGE;
		p->lo = p->hi = p->bound = iv;
		return 0;
	case FC_BOOL:
		p->kind = RULES_PAT_BOOL;
		return rules_cc_bool(c, n, &p->want);
	case FC_STR:
		if ((rc = rules_cc_scalar(c, n, subject ? "a subject pattern" : "a string", &s)) != 0)
			return rc;
		if (subject && (why = rules_subject_problem(s, strlen(s), true)) != NULL)
			return rules_cc_fail(c, n, "bad subject pattern '%s': %s", s, why);
		p->kind = subject ? RULES_PAT_SUBJ : RULES_PAT_STR_EQ;
		if ((rc = pat_strs(c, p, 1)) != 0)
			return rc;
		return str_set(c, &p->strs[0], s);
	default:
		return rules_cc_fail(c, n, "a message field only takes {exists: true|false}");
	}
}

static int pat_anything_but(struct rules_cc *c, const struct mdm_yaml_node *v, enum fclass cls, bool subject,
			    struct rules_pat *p)
{
	const struct mdm_yaml_node *const *items = &v;
	size_t n = 1;
	int rc;

	if (cls != FC_NUM && cls != FC_STR)
		return rules_cc_fail(c, v, "anything-but applies to string and number fields, this one is %s",
				     fclass_name(cls));
	if (v->kind == MDM_YAML_SEQ) {
		items = (const struct mdm_yaml_node *const *)v->items;
		n = v->n;
	}
	if (n == 0)
		return rules_cc_fail(c, v, "anything-but needs at least one value");
	if (cls == FC_NUM) {
		p->kind = RULES_PAT_NUM_NOT;
		p->nums = mdm_calloc(n, sizeof(*p->nums));
		if (!p->nums)
			return rules_cc_oom(c);
		p->n = n;
	} else {
		p->kind = subject ? RULES_PAT_SUBJ_NOT : RULES_PAT_STR_NOT;
		if ((rc = pat_strs(c, p, n)) != 0)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		struct rules_pat one = { 0 };
		size_t mark = v->kind == MDM_YAML_SEQ ? rules_cc_push(c, "[%zu]", i) : c->plen;

		rc = pat_value(c, items[i], cls, subject, &one);
		if (rc == 0 && cls == FC_NUM)
			p->nums[i] = one.lo;
		if (rc == 0 && cls == FC_STR) {
			p->strs[i] = one.strs[0];
			mdm_free(one.strs);
			one.strs = NULL;
		}
		if (one.strs) {
			mdm_free(one.strs[0].s);
			mdm_free(one.strs);
		}
		rules_cc_pop(c, mark);
		if (rc)
			return rc;
	}
	return 0;
}

/* {numeric: [">", trader.max_trade_limit]}: compare with a number of the
 * execution's reference data (one operator/field pair only). */
static int pat_ref_bound(const struct rules_cc *c, const struct mdm_yaml_node *v, const char *op,
			 const struct mdm_yaml_node *name, struct rules_pat *p)
{
	int i = ref_index(name->text);

	if (v->n != 2)
		return rules_cc_fail(c, name, "a reference-data bound stands alone: [\"%s\", %s]", op, name->text);
	if (i < 0 || ref_class((unsigned)i) != FC_NUM)
		return rules_cc_fail(c, name, "'%s' is not a number of the reference data (e.g. trader.max_trade_limit)",
				     name->text);
	p->kind = RULES_PAT_REF_CMP;
	p->ref = (uint8_t)i;
	p->op = op[0] == '=' ? '=' : op[0] == '>' ? (op[1] ? 'g' : '>') : (op[1] ? 'l' : '<');
	return 0;
}

static int pat_numeric(struct rules_cc *c, const struct mdm_yaml_node *v, enum fclass cls, struct rules_pat *p)
{
	int rc = 0;

	if (cls != FC_NUM)
		return rules_cc_fail(c, v, "numeric applies to number fields, this one is %s", fclass_name(cls));
	if (v->kind != MDM_YAML_SEQ || v->n == 0 || v->n % 2)
		return rules_cc_fail(c, v, "numeric takes operator/value pairs, e.g. [\">\", 0, \"<=\", 100]");
	p->kind = RULES_PAT_RANGE;
	p->lo = -NUM_BOUND;
	p->hi = NUM_BOUND;
	for (size_t i = 0; i < v->n && rc == 0; i += 2) {
		const struct mdm_yaml_node *opn = v->items[i];
		size_t mark = rules_cc_push(c, "[%zu]", i);
		rules_num iv = 0, lo = -NUM_BOUND, hi = NUM_BOUND;
		const char *op;
		bool integral;
		double dv = 0;

		if ((rc = rules_cc_scalar(c, opn, "an operator", &op)) != 0)
			goto next;
		if (strcmp(op, "=") && strcmp(op, ">") && strcmp(op, ">=") && strcmp(op, "<") && strcmp(op, "<=")) {
			rc = rules_cc_fail(c, opn, "bad operator '%s' (use =, >, >=, <, <=)", op);
			goto next;
		}
		rules_cc_pop(c, mark);
		mark = rules_cc_push(c, "[%zu]", i + 1);
		if (v->items[i + 1]->kind == MDM_YAML_SCALAR && v->items[i + 1]->text &&
		    (strncmp(v->items[i + 1]->text, "trader.", 7) == 0 ||
		     strncmp(v->items[i + 1]->text, "instrument.", 11) == 0)) {
			rc = pat_ref_bound(c, v, op, v->items[i + 1], p);
			goto next;
		}
		if ((rc = parse_number(c, v->items[i + 1], &integral, &iv, &dv)) != 0)
			goto next;
		/* Fields are integers, so every bound becomes an inclusive integer
		 * bound: "> 2.5" is ">= 3", "< 2.5" is "<= 2", "> 5" is ">= 6". */
		if (op[0] == '=') {
			if (integral)
				lo = hi = iv;
			else
				lo = 1, hi = 0;
		} else if (op[0] == '>') {
			if (integral)
				lo = op[1] ? iv : iv + 1;
			else
				lo = op[1] ? clamp_num(ceil(dv)) : clamp_num(floor(dv)) + 1;
		} else {
			if (integral)
				hi = op[1] ? iv : iv - 1;
			else
				hi = op[1] ? clamp_num(floor(dv)) : clamp_num(ceil(dv)) - 1;
		}
		if (i == 0) /* the bound a reader of the rule sees; a fraction as the integer it means */
			p->bound = integral ? iv : op[0] == '<' ? hi : lo;
		if (lo > p->lo)
			p->lo = lo;
		if (hi < p->hi)
			p->hi = hi;
next:
		rules_cc_pop(c, mark);
	}
	if (rc == 0 && p->kind == RULES_PAT_RANGE && p->lo > p->hi)
		return rules_cc_fail(c, v, "numeric range matches no integer");
	return rc;
}

static const char *const pattern_keys[] = { "exists", "prefix", "anything-but", "numeric", NULL };

static int pat_compile(struct rules_cc *c, const struct mdm_yaml_node *n, enum fclass cls, bool subject,
		       struct rules_pat *p)
{
	const struct mdm_yaml_node *k, *v;
	size_t mark;
	int rc;

	if (n->kind == MDM_YAML_SCALAR)
		return pat_value(c, n, cls, subject, p);
	if (n->kind != MDM_YAML_MAP)
		return rules_cc_fail(c, n, "expected a value or a {pattern: ...} mapping, found a sequence");
	if (n->n != 1)
		return rules_cc_fail(c, n,
				     "a pattern mapping has exactly one key (exists, prefix, anything-but or numeric)");
	k = n->keys[0];
	v = n->items[0];
	mark = rules_cc_push(c, ".%s", k->text);
	if (strcmp(k->text, "exists") == 0) {
		p->kind = RULES_PAT_EXISTS;
		rc = rules_cc_bool(c, v, &p->want);
	} else if (strcmp(k->text, "prefix") == 0) {
		const char *s = NULL;

		if (cls != FC_STR)
			rc = rules_cc_fail(c, v, "prefix applies to string fields, this one is %s", fclass_name(cls));
		else if ((rc = rules_cc_scalar(c, v, "a prefix string", &s)) == 0 && *s == '\0')
			rc = rules_cc_fail(c, v, "empty prefix matches everything; use {exists: true}");
		else if (rc == 0 && (rc = pat_strs(c, p, 1)) == 0) {
			p->kind = RULES_PAT_PREFIX;
			rc = str_set(c, &p->strs[0], s);
		}
	} else if (strcmp(k->text, "anything-but") == 0) {
		rc = pat_anything_but(c, v, cls, subject, p);
	} else if (strcmp(k->text, "numeric") == 0) {
		rc = pat_numeric(c, v, cls, p);
	} else {
		rc = rules_cc_unknown_key(c, k, pattern_keys);
	}
	rules_cc_pop(c, mark);
	return rc;
}

/* Are all alternatives {exists: ...}? Then the field need not exist in every type. */
static bool only_exists(const struct mdm_yaml_node *list)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct mdm_yaml_node *it = list->items[i];

		if (it->kind != MDM_YAML_MAP || it->n != 1 || strcmp(it->keys[0]->text, "exists") != 0)
			return false;
	}
	return true;
}

static int alternatives(const struct rules_cc *c, const struct mdm_yaml_node *v)
{
	if (v->kind != MDM_YAML_SEQ)
		return rules_cc_fail(c, v, "expected a list of alternatives, found %s (write [%s])",
				     mdm_yaml_kind_name(v->kind), v->kind == MDM_YAML_SCALAR ? v->text : "...");
	if (v->n == 0)
		return rules_cc_fail(c, v, "empty list of alternatives matches nothing");
	return 0;
}

static int cond_compile(struct rules_cc *c, const struct mdm_yaml_node *key, const struct mdm_yaml_node *v,
			uint32_t mask, bool strict, struct rules_cond *cond)
{
	bool subject = strcmp(key->text, "subject") == 0;
	enum fclass cls = FC_STR;
	int rc;

	if ((rc = alternatives(c, v)) != 0)
		return rc;
	if (subject)
		cond->kind = RULES_COND_SUBJECT;
	else if ((rc = field_compile(c, key, mask, strict && !only_exists(v), cond, &cls)) != 0)
		return rc;
	cond->pats = mdm_calloc(v->n, sizeof(*cond->pats));
	if (!cond->pats)
		return rules_cc_oom(c);
	cond->n_pats = v->n;
	for (size_t i = 0; i < v->n; i++) {
		size_t mark = rules_cc_push(c, "[%zu]", i);

		rc = pat_compile(c, v->items[i], cls, subject, &cond->pats[i]);
		rules_cc_pop(c, mark);
		if (rc)
			return rc;
	}
	return 0;
}

/* `type: [A, add_order, {anything-but: [B]}]` into a mask of rules_types. */
static int type_one(const struct rules_cc *c, const struct mdm_yaml_node *n, uint32_t *mask)
{
	const char *s;
	struct rules_suggest sg;
	const char *hit;
	int rc;

	if ((rc = rules_cc_scalar(c, n, "a type letter or body name", &s)) != 0)
		return rc;
	if (strcmp(s, "execution") == 0) {
		*mask |= EXEC_BIT;
		return 0;
	}
	for (unsigned t = 0; t < RULES_NTYPES; t++) {
		if ((s[0] == rules_types[t].letter && s[1] == '\0') || strcmp(s, rules_types[t].body) == 0) {
			*mask |= 1u << t;
			return 0;
		}
	}
	rules_suggest_init(&sg, s);
	for (unsigned t = 0; t < RULES_NTYPES; t++)
		rules_suggest_try(&sg, NULL, rules_types[t].body);
	hit = rules_suggest_hit(&sg);
	if (hit)
		return rules_cc_fail(c, n, "unknown event type '%s' (did you mean %s?)", s, hit);
	return rules_cc_fail(
		c, n, "unknown event type '%s' (use an ITCH letter such as A, E, P or a body name such as add_order)",
		s);
}

static int type_compile(struct rules_cc *c, const struct mdm_yaml_node *v, uint32_t *out)
{
	uint32_t mask = 0;
	int rc;

	if ((rc = alternatives(c, v)) != 0)
		return rc;
	for (size_t i = 0; i < v->n && rc == 0; i++) {
		const struct mdm_yaml_node *it = v->items[i];
		size_t mark = rules_cc_push(c, "[%zu]", i);

		if (it->kind == MDM_YAML_MAP && it->n == 1 && strcmp(it->keys[0]->text, "anything-but") == 0) {
			const struct mdm_yaml_node *ab = it->items[0];
			uint32_t excluded = 0;

			rules_cc_push(c, ".anything-but");
			if (ab->kind == MDM_YAML_SEQ && ab->n == 0)
				rc = rules_cc_fail(c, ab, "anything-but needs at least one value");
			for (size_t k = 0; ab->kind == MDM_YAML_SEQ && k < ab->n && rc == 0; k++) {
				size_t m2 = rules_cc_push(c, "[%zu]", k);

				rc = type_one(c, ab->items[k], &excluded);
				rules_cc_pop(c, m2);
			}
			if (ab->kind != MDM_YAML_SEQ)
				rc = type_one(c, ab, &excluded);
			mask |= ((1u << RULES_NTYPES) - 1) & ~excluded;
		} else if (it->kind == MDM_YAML_MAP) {
			rc = rules_cc_fail(c, it, "type takes type letters, body names or {anything-but: [...]}");
		} else {
			rc = type_one(c, it, &mask);
		}
		rules_cc_pop(c, mark);
	}
	*out = mask;
	return rc;
}

int rules_match_compile(struct rules_cc *c, const struct mdm_yaml_node *m, struct rules_rule *rule)
{
	const struct mdm_yaml_node *tv = mdm_yaml_map_get(m, "type");
	int rc;

	if (m->kind != MDM_YAML_MAP)
		return rules_cc_fail(c, m, "expected a mapping of conditions, found %s", mdm_yaml_kind_name(m->kind));
	rule->type_mask = RULES_TYPE_ALL;
	if (tv) {
		size_t mark = rules_cc_push(c, ".type");

		rc = type_compile(c, tv, &rule->type_mask);
		if (rc == 0 && rule->type_mask == 0)
			rc = rules_cc_fail(c, tv, "matches no event type");
		rules_cc_pop(c, mark);
		if (rc)
			return rc;
	}
	rule->conds = mdm_calloc(m->n ? m->n : 1, sizeof(*rule->conds));
	if (!rule->conds)
		return rules_cc_oom(c);
	for (size_t i = 0; i < m->n; i++) {
		const struct mdm_yaml_node *k = m->keys[i];
		size_t mark;

		if (strcmp(k->text, "type") == 0)
			continue;
		if (strlen(k->text) != k->len || k->len == 0 || k->len >= RULES_FIELD_NAME_MAX)
			return rules_cc_fail(c, k, "bad field name");
		mark = rules_cc_push(c, ".%s", k->text);
		rule->n_conds++;
		rc = cond_compile(c, k, m->items[i], rule->type_mask, tv != NULL, &rule->conds[rule->n_conds - 1]);
		rules_cc_pop(c, mark);
		if (rc)
			return rc;
	}
	return 0;
}
