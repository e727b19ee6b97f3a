/* Config values: text and YAML nodes in, typed values (or a reason naming
 * where the text came from) out, and the shortest text that reads back as a
 * value. Env, flags and files all go through cfg_parse_text, so a value means
 * the same thing wherever it is written; the number parsers are exported for
 * command-line options that are not config keys. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdm_cfg_int.h"
#include "mdm_err.h"
#include "mdm_mem.h"

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

int cfg_where_err(const struct where *w, int err, const char *fmt, ...)
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

int cfg_where_oom(const struct where *w)
{
	return cfg_where_err(w, -ENOMEM, "out of memory");
}

void *cfg_slot(void *cfg, const struct mdm_cfg_field *f)
{
	return (char *)cfg + f->offset;
}

size_t cfg_type_size(enum mdm_cfg_type t)
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

void cfg_val_free(enum mdm_cfg_type t, union cfg_val *v)
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
void cfg_commit(const struct mdm_cfg_field *f, void *cfg, union cfg_val *v)
{
	union cfg_val old;

	memcpy(&old, cfg_slot(cfg, f), cfg_type_size(f->type));
	cfg_val_free(f->type, &old);
	memcpy(cfg_slot(cfg, f), v, cfg_type_size(f->type));
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
 * intermediate can overflow; a number without a unit counts `bare` base units.
 * 0, -EINVAL (syntax or unknown unit), -ERANGE (above 2^64-1), -EDOM (not a
 * whole number of base units). */
static int parse_scaled(const char *s, const struct cfg_unit *units, uint64_t bare, uint64_t *out)
{
	unsigned __int128 ip = 0, fp = 0, fscale = 1, total, frac, mult;
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
	mult = *u->name ? u->mult : bare;
	frac = fp * mult;
	if (frac % fscale)
		return -EDOM;
	total = ip * mult + frac / fscale;
	if (total > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)total;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (end == s || *end || !isfinite(d))
		return -EINVAL; /* nan and inf are not settings */
	if (errno == ERANGE)
		return -ERANGE;
	*out = d;
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

void cfg_fmt_duration(char *buf, size_t cap, uint64_t ns)
{
	fmt_scaled(buf, cap, ns, duration_units, "0s");
}

/* Sizes print in binary units only: 1000 prints as 1000, not 1kB. */
void cfg_fmt_size(char *buf, size_t cap, uint64_t bytes)
{
	static const struct cfg_unit binary[] = {
		{ "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 }, { "TiB", 1ULL << 40 }, { NULL, 0 },
	};

	fmt_scaled(buf, cap, bytes, binary, "0");
}

/* Shortest text that strtod reads back as exactly v. */
void cfg_fmt_double(char *buf, size_t cap, double v)
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
	case MDM_CFG_DURATION: cfg_fmt_duration(buf, cap, ubound(b)); break;
	case MDM_CFG_SIZE: cfg_fmt_size(buf, cap, ubound(b)); break;
	default: cfg_fmt_double(buf, cap, b); break;
	}
}

bool cfg_has_bounds(const struct mdm_cfg_field *f)
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

	if (!cfg_has_bounds(f) || (c = bounds_cmp(f, v)) == 0)
		return 0;
	fmt_bound(f, c < 0 ? f->min : f->max, b, sizeof(b));
	return cfg_where_err(w, -EINVAL, "%s is %s the %s %s", text, c < 0 ? "below" : "above",
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
	return cfg_where_err(w, -EINVAL, "'%s' is not one of: %s", text, list);
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
			return cfg_where_oom(w);
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
int cfg_parse_text(const struct mdm_cfg_field *f, const struct where *w, const char *text, size_t len,
		   union cfg_val *v)
{
	char num[CFG_NUM_MAX];
	const char *shown;
	int rc = 0;

	memset(v, 0, sizeof(*v));
	switch (f->type) {
	case MDM_CFG_STR:
		if (memchr(text, '\0', len))
			return cfg_where_err(w, -EINVAL, "contains a NUL byte");
		v->s = mdm_malloc(len + 1);
		if (!v->s)
			return cfg_where_oom(w);
		memcpy(v->s, text, len);
		v->s[len] = '\0';
		return 0;
	case MDM_CFG_STRLIST:
		if (memchr(text, '\0', len))
			return cfg_where_err(w, -EINVAL, "contains a NUL byte");
		return split_list(w, text, len, &v->l);
	case MDM_CFG_RAW:
		rc = mdm_yaml_parse_string(text, len, w->origin, &v->r.node);
		if (rc != 0)
			return rc;
		v->r.origin = mdm_strdup(w->origin);
		if (!v->r.origin) {
			cfg_val_free(f->type, v);
			return cfg_where_oom(w);
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
		case MDM_CFG_DURATION: rc = parse_scaled(num, duration_units, 1, &v->u); break;
		case MDM_CFG_SIZE: rc = parse_scaled(num, size_units, 1, &v->u); break;
		case MDM_CFG_DOUBLE: rc = parse_double(num, &v->d); break;
		default:
			return cfg_where_err(w, -EINVAL, "schema type %d cannot hold a scalar", (int)f->type);
		}
	}
	if (rc == 0 && (f->type == MDM_CFG_BOOL || f->type == MDM_CFG_ENUM))
		return 0;
	if (rc == -ERANGE)
		return cfg_where_err(w, -EINVAL, "'%s' is out of range", shown);
	if (rc == -EDOM)
		return cfg_where_err(w, -EINVAL, "'%s' is not a whole number of %s", shown,
				 f->type == MDM_CFG_DURATION ? "nanoseconds" : "bytes");
	if (rc != 0)
		return cfg_where_err(w, -EINVAL, "'%s' is not %s", shown, num_desc[f->type]);
	rc = check_bounds(f, w, num, v);
	return rc;
}

/* ---- the same parsers for text from elsewhere (command-line options) ---- */

int mdm_cfg_parse_uint(const char *text, uint64_t *out)
{
	char num[CFG_NUM_MAX];

	return trim_copy(text, strlen(text), num, sizeof(num)) ? parse_u64(num, out) : -EINVAL;
}

int mdm_cfg_parse_double(const char *text, double *out)
{
	char num[CFG_NUM_MAX];

	return trim_copy(text, strlen(text), num, sizeof(num)) ? parse_double(num, out) : -EINVAL;
}

int mdm_cfg_parse_duration(const char *text, uint64_t bare_ns, uint64_t *out_ns)
{
	char num[CFG_NUM_MAX];

	return trim_copy(text, strlen(text), num, sizeof(num)) ? parse_scaled(num, duration_units, bare_ns, out_ns)
								: -EINVAL;
}

int mdm_cfg_parse_size(const char *text, uint64_t *out_bytes)
{
	char num[CFG_NUM_MAX];

	return trim_copy(text, strlen(text), num, sizeof(num)) ? parse_scaled(num, size_units, 1, out_bytes) : -EINVAL;
}

/* Parse a YAML node for field f. w->line is the node's line on entry. */
int cfg_parse_node(const struct mdm_cfg_field *f, const struct where *w, const struct mdm_yaml_node *node,
		   const char *file, union cfg_val *v)
{
	memset(v, 0, sizeof(*v));
	if (f->type == MDM_CFG_RAW) {
		if (!mdm_yaml_is_null(node) && mdm_yaml_clone(node, &v->r.node) != 0)
			return cfg_where_oom(w);
		v->r.origin = mdm_strdup(file);
		if (!v->r.origin) {
			cfg_val_free(f->type, v);
			return cfg_where_oom(w);
		}
		return 0;
	}
	if (mdm_yaml_is_null(node)) {
		if (f->type == MDM_CFG_STR || f->type == MDM_CFG_STRLIST)
			return 0;
		return cfg_where_err(w, -EINVAL, "missing value");
	}
	if (f->type == MDM_CFG_STRLIST && node->kind == MDM_YAML_SEQ) {
		for (size_t i = 0; i < node->n; i++) {
			const struct mdm_yaml_node *it = node->items[i];
			char key[CFG_INPUT_KEY_MAX + 24];
			struct where iw = { w->origin, it->line, key };
			int rc = 0;

			snprintf(key, sizeof(key), "%s[%zu]", w->key, i);
			if (it->kind != MDM_YAML_SCALAR)
				rc = cfg_where_err(&iw, -EINVAL, "expected a scalar, found %s", mdm_yaml_kind_name(it->kind));
			else if (mdm_yaml_is_null(it))
				rc = cfg_where_err(&iw, -EINVAL, "missing value");
			else if (memchr(it->text, '\0', it->len))
				rc = cfg_where_err(&iw, -EINVAL, "contains a NUL byte");
			else if (strlist_push(&v->l, it->text, it->len) != 0)
				rc = cfg_where_oom(&iw);
			if (rc != 0) {
				strlist_free(&v->l);
				return rc;
			}
		}
		return 0;
	}
	if (node->kind != MDM_YAML_SCALAR)
		return cfg_where_err(w, -EINVAL, "expected %s, found %s",
				 f->type == MDM_CFG_STRLIST ? "a sequence or a comma-separated scalar" : "a scalar",
				 mdm_yaml_kind_name(node->kind));
	return cfg_parse_text(f, w, node->text, node->len, v);
}
