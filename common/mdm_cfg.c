/* Schema-driven config: a YAML tree (mdm_yaml) is walked once against the
 * schema table; env and flags go through the same text parsers, so a value
 * means the same thing wherever it is written. Each value is parsed into a
 * temporary and only then committed, so a failed set never leaves a field
 * half-written. */
#include "mdm_cfg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_redact.h"

#define CFG_KEY_MAX 100   /* keeps MDM_<KEY> names and did-you-mean rows on the stack */
#define CFG_NUM_MAX 64    /* longest numeric text worth parsing */
#define CFG_INPUT_KEY_MAX 255

/* Where a value came from, for "ORIGIN[:LINE]: KEY: reason". */
struct where {
	const char *origin; /* file name, "env MDM_X", "--flag", "default" */
	unsigned line;      /* 0 when the origin has no lines */
	const char *key;
};

union cfg_val {
	char *s;
	bool b;
	int64_t i;
	uint64_t u;
	double d;
	int e;
	struct mdm_cfg_strlist l;
	struct mdm_cfg_raw r;
};

struct cfg_unit {
	const char *name;
	uint64_t mult;
};

static const struct cfg_unit duration_units[] = {
	{ "", 1 }, { "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "ms", 1000000 },
	{ "s", 1000000000ULL }, { "m", 60000000000ULL }, { "h", 3600000000000ULL }, { NULL, 0 },
};

static const struct cfg_unit size_units[] = {
	{ "", 1 }, { "B", 1 }, { "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
	{ "TiB", 1ULL << 40 }, { "kB", 1000 }, { "KB", 1000 }, { "MB", 1000000 }, { "GB", 1000000000ULL },
	{ "TB", 1000000000000ULL }, { NULL, 0 },
};

static int where_err(const struct where *w, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int where_err(const struct where *w, int err, const char *fmt, ...)
{
	char reason[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (w->line)
		return mdm_err_set(err, "%s:%u: %s: %s", w->origin, w->line, w->key, reason);
	return mdm_err_set(err, "%s: %s: %s", w->origin, w->key, reason);
}

static int where_oom(const struct where *w)
{
	return where_err(w, -ENOMEM, "out of memory");
}

static void *slot(void *cfg, const struct mdm_cfg_field *f)
{
	return (char *)cfg + f->offset;
}

static size_t type_size(enum mdm_cfg_type t)
{
	switch (t) {
	case MDM_CFG_STR: return sizeof(char *);
	case MDM_CFG_BOOL: return sizeof(bool);
	case MDM_CFG_INT: return sizeof(int64_t);
	case MDM_CFG_UINT:
	case MDM_CFG_DURATION:
	case MDM_CFG_SIZE: return sizeof(uint64_t);
	case MDM_CFG_DOUBLE: return sizeof(double);
	case MDM_CFG_ENUM: return sizeof(int);
	case MDM_CFG_STRLIST: return sizeof(struct mdm_cfg_strlist);
	case MDM_CFG_RAW: return sizeof(struct mdm_cfg_raw);
	}
	return 0;
}

static void strlist_free(struct mdm_cfg_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		mdm_free(l->v[i]);
	mdm_free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int strlist_push(struct mdm_cfg_strlist *l, const char *s, size_t len)
{
	char **v = mdm_realloc(l->v, (l->n + 1) * sizeof(*v));
	char *copy;

	if (!v)
		return -ENOMEM;
	l->v = v;
	copy = mdm_malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	l->v[l->n++] = copy;
	return 0;
}

static void val_free(enum mdm_cfg_type t, union cfg_val *v)
{
	switch (t) {
	case MDM_CFG_STR:
		mdm_free(v->s);
		v->s = NULL;
		break;
	case MDM_CFG_STRLIST:
		strlist_free(&v->l);
		break;
	case MDM_CFG_RAW:
		mdm_yaml_free(v->r.node);
		mdm_free(v->r.origin);
		v->r.node = NULL;
		v->r.origin = NULL;
		break;
	default:
		break;
	}
}

/* Replace the field's value by *v (ownership moves into the config). */
static void commit(const struct mdm_cfg_field *f, void *cfg, union cfg_val *v)
{
	union cfg_val old;

	memcpy(&old, slot(cfg, f), type_size(f->type));
	val_free(f->type, &old);
	memcpy(slot(cfg, f), v, type_size(f->type));
}

/* ---- scalar parsers: text in, value or a reason out ---- */

/* Copy text without surrounding blanks into buf; false when it does not fit
 * or holds a NUL (so the number parsers see exactly what was written). */
static bool trim_copy(const char *s, size_t len, char *buf, size_t cap)
{
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= cap || memchr(s, '\0', len))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return true;
}

/* 0, -EINVAL (not a number), -ERANGE (does not fit). */
static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!(isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull accepts "-1" and wraps it; a sign other than '+' is an error. */
	if (!(isdigit((unsigned char)s[0]) || (s[0] == '+' && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

/* "<digits>[.<digits>][ ]<unit>" exactly, in 128-bit arithmetic so that no
 * intermediate can overflow: 0, -EINVAL (syntax or unknown unit), -ERANGE
 * (above 2^64-1), -EDOM (not a whole number of base units). */
static int parse_scaled(const char *s, const struct cfg_unit *units, uint64_t *out)
{
	unsigned __int128 ip = 0, fp = 0, fscale = 1, total, frac;
	const struct cfg_unit *u;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		ip = ip * 10 + (unsigned)(*p - '0');
		if (ip > UINT64_MAX)
			return -ERANGE;
	}
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			/* Digits past 10^-19 cannot change a whole result unless nonzero. */
			if (fscale < (unsigned __int128)10000000000000000000ULL) {
				fp = fp * 10 + (unsigned)(*p - '0');
				fscale *= 10;
			} else if (*p != '0') {
				return -EDOM;
			}
		}
	}
	if (*p == ' ')
		p++;
	for (u = units; u->name; u++)
		if (strcmp(p, u->name) == 0)
			break;
	if (!u->name || (*u->name == '\0' && p != s && p[-1] == ' '))
		return -EINVAL;
	frac = fp * u->mult;
	if (frac % fscale)
		return -EDOM;
	total = ip * u->mult + frac / fscale;
	if (total > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)total;
	return 0;
}

static void fmt_scaled(char *buf, size_t cap, uint64_t v, const struct cfg_unit *units, const char *zero)
{
	const struct cfg_unit *best = NULL;

	if (v == 0) {
		snprintf(buf, cap, "%s", zero);
		return;
	}
	/* The largest unit that divides exactly, so the text parses back to v. */
	for (const struct cfg_unit *u = units; u->name; u++)
		if (*u->name && (unsigned char)u->name[0] < 0x80 && v % u->mult == 0 && (!best || u->mult > best->mult))
			best = u;
	if (best)
		snprintf(buf, cap, "%" PRIu64 "%s", v / best->mult, best->name);
	else
		snprintf(buf, cap, "%" PRIu64, v);
}

static void fmt_duration(char *buf, size_t cap, uint64_t ns)
{
	fmt_scaled(buf, cap, ns, duration_units, "0s");
}

/* Sizes print in binary units only: 1000 prints as 1000, not 1kB. */
static void fmt_size(char *buf, size_t cap, uint64_t bytes)
{
	static const struct cfg_unit binary[] = {
		{ "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 }, { "TiB", 1ULL << 40 }, { NULL, 0 },
	};

	fmt_scaled(buf, cap, bytes, binary, "0");
}

/* Shortest text that strtod reads back as exactly v. */
static void fmt_double(char *buf, size_t cap, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* Integer bounds from the schema's doubles, clamped to the type's range. */
static uint64_t ubound(double b)
{
	if (b <= 0)
		return 0;
	if (b >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)b;
}

static int64_t ibound(double b)
{
	if (b <= -9223372036854775808.0)
		return INT64_MIN;
	if (b >= 9223372036854775807.0)
		return INT64_MAX;
	return (int64_t)b;
}

static void fmt_bound(const struct mdm_cfg_field *f, double b, char *buf, size_t cap)
{
	switch (f->type) {
	case MDM_CFG_INT: snprintf(buf, cap, "%" PRId64, ibound(b)); break;
	case MDM_CFG_UINT: snprintf(buf, cap, "%" PRIu64, ubound(b)); break;
	case MDM_CFG_DURATION: fmt_duration(buf, cap, ubound(b)); break;
	case MDM_CFG_SIZE: fmt_size(buf, cap, ubound(b)); break;
	default: fmt_double(buf, cap, b); break;
	}
}

static bool has_bounds(const struct mdm_cfg_field *f)
{
	return !(f->min == 0 && f->max == 0);
}

/* Compare in the value's own domain, so 2^53+1 is not rounded onto a bound.
 * Returns <0 below min, >0 above max, 0 inside. */
static int bounds_cmp(const struct mdm_cfg_field *f, const union cfg_val *v)
{
	switch (f->type) {
	case MDM_CFG_INT:
		if (f->min > -9223372036854775808.0 && v->i < ibound(ceil(f->min)))
			return -1;
		return (f->max < 9223372036854775807.0 && v->i > ibound(floor(f->max))) ? 1 : 0;
	case MDM_CFG_UINT:
	case MDM_CFG_DURATION:
	case MDM_CFG_SIZE:
		if (f->max < 0)
			return 1;
		if (f->min > 0 && v->u < ubound(ceil(f->min)))
			return -1;
		return (f->max < 18446744073709551615.0 && v->u > ubound(floor(f->max))) ? 1 : 0;
	case MDM_CFG_DOUBLE:
		return v->d < f->min ? -1 : v->d > f->max ? 1 : 0;
	default:
		return 0;
	}
}

static int check_bounds(const struct mdm_cfg_field *f, const struct where *w, const char *text,
			const union cfg_val *v)
{
	char b[48];
	int c;

	if (!has_bounds(f) || (c = bounds_cmp(f, v)) == 0)
		return 0;
	fmt_bound(f, c < 0 ? f->min : f->max, b, sizeof(b));
	return where_err(w, -EINVAL, "%s is %s the %s %s", text, c < 0 ? "below" : "above",
			 c < 0 ? "minimum" : "maximum", b);
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int enum_err(const struct mdm_cfg_field *f, const struct where *w, const char *text)
{
	char list[256];
	size_t off = 0;

	list[0] = '\0';
	for (const char *const *c = f->choices; *c && off < sizeof(list); c++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", c == f->choices ? "" : ", ", *c);
	return where_err(w, -EINVAL, "'%s' is not one of: %s", text, list);
}

static int split_list(const struct where *w, const char *s, size_t len, struct mdm_cfg_strlist *l)
{
	const char *end = s + len;

	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma ? comma : end;
		const char *b = s;

		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		/* Empty items ("a,,b", a trailing comma) are skipped, so "" is an empty list. */
		if (e > b && strlist_push(l, b, (size_t)(e - b)) != 0) {
			strlist_free(l);
			return where_oom(w);
		}
		s = comma ? comma + 1 : end;
	}
	return 0;
}

static const char *const num_desc[] = {
	[MDM_CFG_BOOL] = "a boolean (true/false, yes/no, on/off)",
	[MDM_CFG_INT] = "an integer",
	[MDM_CFG_UINT] = "an unsigned integer",
	[MDM_CFG_DOUBLE] = "a number",
	[MDM_CFG_DURATION] = "a duration (e.g. 250us, 5ms, 2s, 1m; a plain number is ns)",
	[MDM_CFG_SIZE] = "a size (e.g. 64KiB, 256MiB, 1GiB; a plain number is bytes)",
};

/* Parse text for field f into *v (fresh, owned by the caller on success). */
static int parse_text(const struct mdm_cfg_field *f, const struct where *w, const char *text, size_t len,
		      union cfg_val *v)
{
	char num[CFG_NUM_MAX];
	const char *shown;
	char *end;
	int rc = 0;

	memset(v, 0, sizeof(*v));
	switch (f->type) {
	case MDM_CFG_STR:
		if (memchr(text, '\0', len))
			return where_err(w, -EINVAL, "contains a NUL byte");
		v->s = mdm_malloc(len + 1);
		if (!v->s)
			return where_oom(w);
		memcpy(v->s, text, len);
		v->s[len] = '\0';
		return 0;
	case MDM_CFG_STRLIST:
		if (memchr(text, '\0', len))
			return where_err(w, -EINVAL, "contains a NUL byte");
		return split_list(w, text, len, &v->l);
	case MDM_CFG_RAW:
		rc = mdm_yaml_parse_string(text, len, w->origin, &v->r.node);
		if (rc != 0)
			return rc;
		v->r.origin = mdm_strdup(w->origin);
		if (!v->r.origin) {
			val_free(f->type, v);
			return where_oom(w);
		}
		return 0;
	default:
		break;
	}
	/* Every remaining type is a short token; an unprintable one is shown as-is
	 * up to the first NUL, which is enough to point at the mistake. */
	shown = text;
	if (!trim_copy(text, len, num, sizeof(num))) {
		if (f->type == MDM_CFG_ENUM)
			return enum_err(f, w, text);
		rc = -EINVAL;
	} else {
		shown = num;
		switch (f->type) {
		case MDM_CFG_BOOL: rc = parse_bool(num, &v->b); break;
		case MDM_CFG_ENUM:
			for (int i = 0; f->choices[i]; i++) {
				if (strcmp(num, f->choices[i]) == 0) {
					v->e = i;
					return 0;
				}
			}
			return enum_err(f, w, num);
		case MDM_CFG_INT: rc = parse_i64(num, &v->i); break;
		case MDM_CFG_UINT: rc = parse_u64(num, &v->u); break;
		case MDM_CFG_DURATION: rc = parse_scaled(num, duration_units, &v->u); break;
		case MDM_CFG_SIZE: rc = parse_scaled(num, size_units, &v->u); break;
		case MDM_CFG_DOUBLE:
			errno = 0;
			v->d = strtod(num, &end);
			if (end == num || *end || !isfinite(v->d))
				rc = -EINVAL; /* nan and inf are not settings */
			else if (errno == ERANGE)
				rc = -ERANGE;
			break;
		default:
			return where_err(w, -EINVAL, "schema type %d cannot hold a scalar", (int)f->type);
		}
	}
	if (rc == 0 && (f->type == MDM_CFG_BOOL || f->type == MDM_CFG_ENUM))
		return 0;
	if (rc == -ERANGE)
		return where_err(w, -EINVAL, "'%s' is out of range", shown);
	if (rc == -EDOM)
		return where_err(w, -EINVAL, "'%s' is not a whole number of %s", shown,
				 f->type == MDM_CFG_DURATION ? "nanoseconds" : "bytes");
	if (rc != 0)
		return where_err(w, -EINVAL, "'%s' is not %s", shown, num_desc[f->type]);
	rc = check_bounds(f, w, num, v);
	return rc;
}

/* Parse a YAML node for field f. w->line is the node's line on entry. */
static int parse_node(const struct mdm_cfg_field *f, const struct where *w, const struct mdm_yaml_node *node,
		      const char *file, union cfg_val *v)
{
	memset(v, 0, sizeof(*v));
	if (f->type == MDM_CFG_RAW) {
		if (!mdm_yaml_is_null(node) && mdm_yaml_clone(node, &v->r.node) != 0)
			return where_oom(w);
		v->r.origin = mdm_strdup(file);
		if (!v->r.origin) {
			val_free(f->type, v);
			return where_oom(w);
		}
		return 0;
	}
	if (mdm_yaml_is_null(node)) {
		if (f->type == MDM_CFG_STR || f->type == MDM_CFG_STRLIST)
			return 0;
		return where_err(w, -EINVAL, "missing value");
	}
	if (f->type == MDM_CFG_STRLIST && node->kind == MDM_YAML_SEQ) {
		for (size_t i = 0; i < node->n; i++) {
			const struct mdm_yaml_node *it = node->items[i];
			char key[CFG_INPUT_KEY_MAX + 24];
			struct where iw = { w->origin, it->line, key };
			int rc = 0;

			snprintf(key, sizeof(key), "%s[%zu]", w->key, i);
			if (it->kind != MDM_YAML_SCALAR)
				rc = where_err(&iw, -EINVAL, "expected a scalar, found %s", mdm_yaml_kind_name(it->kind));
			else if (mdm_yaml_is_null(it))
				rc = where_err(&iw, -EINVAL, "missing value");
			else if (memchr(it->text, '\0', it->len))
				rc = where_err(&iw, -EINVAL, "contains a NUL byte");
			else if (strlist_push(&v->l, it->text, it->len) != 0)
				rc = where_oom(&iw);
			if (rc != 0) {
				strlist_free(&v->l);
				return rc;
			}
		}
		return 0;
	}
	if (node->kind != MDM_YAML_SCALAR)
		return where_err(w, -EINVAL, "expected %s, found %s",
				 f->type == MDM_CFG_STRLIST ? "a sequence or a comma-separated scalar" : "a scalar",
				 mdm_yaml_kind_name(node->kind));
	return parse_text(f, w, node->text, node->len, v);
}

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

/* Optimal string alignment distance (Levenshtein plus adjacent swaps, so
 * "ulr" is one edit from "url"). Both lengths are at most CFG_INPUT_KEY_MAX. */
static unsigned osa_distance(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned rows[3][CFG_INPUT_KEY_MAX + 1];
	unsigned *pp = rows[0], *p = rows[1], *c = rows[2];

	for (size_t j = 0; j <= lb; j++)
		p[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		c[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1], d = p[j] + 1;

			if (c[j - 1] + 1 < d)
				d = c[j - 1] + 1;
			if (p[j - 1] + cost < d)
				d = p[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			c[j] = d;
		}
		unsigned *t = pp;
		pp = p;
		p = c;
		c = t;
	}
	return p[lb];
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
			unsigned d = osa_distance(key, lk, k, len);

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
		return where_err(w, -EINVAL, "unknown key (did you mean %.*s?)", (int)len, s);
	return where_err(w, -EINVAL, "unknown key");
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
		if (has_bounds(f) && f->min > f->max)
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
	int rc = parse_text(f, &w, text, strlen(text), &v);

	if (rc == 0)
		commit(f, cfg, &v);
	return rc;
}

void mdm_cfg_free(const struct mdm_cfg_field *schema, size_t n, void *out)
{
	for (size_t i = 0; i < n; i++) {
		union cfg_val v;

		if (schema[i].type != MDM_CFG_STR && schema[i].type != MDM_CFG_STRLIST && schema[i].type != MDM_CFG_RAW)
			continue;
		memcpy(&v, slot(out, &schema[i]), type_size(schema[i].type));
		val_free(schema[i].type, &v);
		memset(slot(out, &schema[i]), 0, type_size(schema[i].type));
	}
}

int mdm_cfg_defaults(const struct mdm_cfg_field *schema, size_t n, void *out)
{
	int rc = check_schema(schema, n);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		memset(slot(out, &schema[i]), 0, type_size(schema[i].type));
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
				rc = where_err(&w, -EINVAL, "duplicate key (first set at line %u)", L->set_line[idx]);
				break;
			}
			if (!mdm_yaml_is_null(v))
				w.line = v->line;
			rc = parse_node(f, &w, v, L->file, &val);
			if (rc == 0) {
				commit(f, L->out, &val);
				L->set_line[idx] = k->line;
			}
		} else if (L->key.len <= CFG_INPUT_KEY_MAX && is_section(L->schema, L->n, L->key.data)) {
			if (v->kind == MDM_YAML_MAP)
				rc = walk(L, v);
			else if (!mdm_yaml_is_null(v))
				rc = where_err(&w, -EINVAL, "expected a mapping, found %s", mdm_yaml_kind_name(v->kind));
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

		return where_err(&w, -EINVAL, "expected a mapping, found %s", mdm_yaml_kind_name(root->kind));
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
		return where_err(&w, -EINVAL, "is a section, not a key");
	return unknown_key(schema, n, &w);
}

/* ---- printing ---- */

static bool is_secret(const char *key)
{
	return strcasestr(key, "pass") || strcasestr(key, "token") || strcasestr(key, "secret");
}

/* Bare when the text reads back as itself, else double-quoted. */
static void put_word(struct mdm_buf *b, const char *s)
{
	bool bare = isalnum((unsigned char)s[0]) || s[0] == '_';

	for (const char *p = s; *p && bare; p++)
		bare = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.' || *p == '/';
	if (bare)
		mdm_buf_puts(b, s);
	else
		mdm_yaml_write_quoted(b, s, strlen(s));
}

/* Secrets inside any string value, whatever the key is called, print as ***
 * (mdm_redact's rules: every URL's password, NATS tokens, *password= query
 * parameters). */
static void put_str_redacted(struct mdm_buf *b, const char *s)
{
	size_t n = mdm_redact(s, MDM_REDACT_MASK, NULL, 0);
	char *tmp = mdm_malloc(n + 1);

	if (!tmp) {
		b->oom = 1;
		return;
	}
	mdm_redact(s, MDM_REDACT_MASK, tmp, n + 1);
	mdm_yaml_write_quoted(b, tmp, n);
	mdm_free(tmp);
}

static void put_value(struct mdm_buf *b, const struct mdm_cfg_field *f, const void *cfg)
{
	const void *p = (const char *)cfg + f->offset;
	union cfg_val v;
	char tmp[48];

	memcpy(&v, p, type_size(f->type));
	if (is_secret(f->key)) {
		bool unset = (f->type == MDM_CFG_STR && !v.s) || (f->type == MDM_CFG_STRLIST && v.l.n == 0) ||
			     (f->type == MDM_CFG_RAW && !v.r.node);

		/* an empty secret is not a secret: print it as empty, or reloading
		 * the printed file would set the password to "***" */
		if (f->type == MDM_CFG_STR && v.s && !v.s[0])
			mdm_buf_puts(b, "\"\"");
		else
			mdm_buf_puts(b, unset ? "~" : "\"***\"");
		return;
	}
	switch (f->type) {
	case MDM_CFG_STR:
		if (v.s)
			put_str_redacted(b, v.s);
		else
			mdm_buf_putc(b, '~');
		break;
	case MDM_CFG_BOOL: mdm_buf_puts(b, v.b ? "true" : "false"); break;
	case MDM_CFG_INT: mdm_buf_printf(b, "%" PRId64, v.i); break;
	case MDM_CFG_UINT: mdm_buf_printf(b, "%" PRIu64, v.u); break;
	case MDM_CFG_DOUBLE:
		fmt_double(tmp, sizeof(tmp), v.d);
		mdm_buf_puts(b, tmp);
		break;
	case MDM_CFG_DURATION:
		fmt_duration(tmp, sizeof(tmp), v.u);
		mdm_buf_puts(b, tmp);
		break;
	case MDM_CFG_SIZE:
		fmt_size(tmp, sizeof(tmp), v.u);
		mdm_buf_puts(b, tmp);
		break;
	case MDM_CFG_ENUM: {
		int count = 0;

		while (f->choices[count])
			count++;
		if (v.e >= 0 && v.e < count)
			put_word(b, f->choices[v.e]);
		else
			mdm_buf_printf(b, "%d", v.e);
		break;
	}
	case MDM_CFG_STRLIST:
		mdm_buf_putc(b, '[');
		for (size_t i = 0; i < v.l.n; i++) {
			if (i)
				mdm_buf_puts(b, ", ");
			mdm_yaml_write_quoted(b, v.l.v[i], strlen(v.l.v[i]));
		}
		mdm_buf_putc(b, ']');
		break;
	case MDM_CFG_RAW:
		mdm_yaml_write_flow(b, v.r.node);
		break;
	}
}

static void put_indent(struct mdm_buf *b, unsigned indent)
{
	for (unsigned i = 0; i < indent; i++)
		mdm_buf_puts(b, "  ");
}

/* Emit the fields under `prefix` (plen bytes, ending at a '.' or empty),
 * grouping each section at the place its first key appears in the schema. */
static void print_level(struct mdm_buf *b, const struct mdm_cfg_field *schema, size_t n, const void *cfg,
			const char *prefix, size_t plen, unsigned indent)
{
	for (size_t i = 0; i < n; i++) {
		const char *k = schema[i].key, *rest = k + plen, *dot;
		size_t slen;
		bool seen = false;

		if (strncmp(k, prefix, plen) != 0)
			continue;
		dot = strchr(rest, '.');
		slen = dot ? (size_t)(dot - rest) : strlen(rest);
		for (size_t j = 0; j < i && !seen; j++)
			seen = strncmp(schema[j].key, k, plen + slen) == 0 &&
			       (schema[j].key[plen + slen] == '.' || schema[j].key[plen + slen] == '\0');
		if (seen)
			continue;
		if (dot) {
			put_indent(b, indent);
			mdm_buf_printf(b, "%.*s:\n", (int)slen, rest);
			print_level(b, schema, n, cfg, k, plen + slen + 1, indent + 1);
			continue;
		}
		if (schema[i].help && *schema[i].help) {
			put_indent(b, indent);
			mdm_buf_puts(b, "# ");
			for (const char *h = schema[i].help; *h; h++)
				mdm_buf_putc(b, *h == '\n' ? ' ' : *h);
			mdm_buf_putc(b, '\n');
		}
		put_indent(b, indent);
		mdm_buf_printf(b, "%s: ", rest);
		put_value(b, &schema[i], cfg);
		mdm_buf_putc(b, '\n');
	}
}

int mdm_cfg_print(const struct mdm_cfg_field *schema, size_t n, const void *cfg, FILE *f)
{
	struct mdm_buf b = MDM_BUF_INIT;
	int rc = 0;

	print_level(&b, schema, n, cfg, "", 0, 0);
	if (b.oom)
		rc = -ENOMEM;
	else if (b.len && (fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0))
		rc = -EIO;
	mdm_buf_fini(&b);
	return rc;
}
