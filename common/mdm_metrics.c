/* Metrics registry and its two renderers. Registered families and collector
 * output both go through one writer, which turns each sample into a
 * Prometheus line or a JSON leaf; the JSON side keeps the path of label
 * values it has open so consecutive samples nest without buffering. */
#include "mdm_metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_mem.h"

#define METRICS_PREFIX "mdmesh_"
#define METRICS_PREFIX_LEN 7
#define METRICS_NAME_MAX 200
#define METRICS_PATH_MAX 1024 /* bytes of open JSON label values in a writer */

struct series {
	char **values; /* one per family label name */
	enum mdm_metrics_vtype vtype;
	const void *var;
};

struct family {
	char *name;
	char *help;
	enum mdm_metrics_kind kind;
	char **label_names;
	size_t nlabels;
	struct series *series;
	size_t nseries;
};

struct collector {
	mdm_metrics_collect_fn fn;
	void *ctx;
};

struct section {
	char *name;
	mdm_metrics_json_fn fn;
	void *ctx;
};

struct mdm_metrics {
	pthread_mutex_t lock; /* registration vs render, and renders vs each other */
	struct family *fams;
	size_t nfams;
	struct collector *cols;
	size_t ncols;
	struct section *secs;
	size_t nsecs;
};

struct mdm_metrics_writer {
	struct mdm_metrics *reg;
	struct mdm_buf *prom;  /* Prometheus output, or NULL */
	struct mdm_json *json; /* JSON output, or NULL */
	int err;               /* first error; rendering goes on */
	char err_msg[256];     /* its detail, restored into mdm_err_last() at the end */
	/* current family */
	bool fam_ok;           /* a valid family is open */
	bool started;          /* JSON: its key has been written */
	bool scalar;           /* JSON: it was written as one bare value */
	enum mdm_metrics_kind kind;
	char name[METRICS_NAME_MAX + 1];
	/* JSON: label values of the objects open inside the family object */
	unsigned depth;
	size_t path_end[MDM_METRICS_MAX_LABELS + 1];
	char path[METRICS_PATH_MAX];
};

static const char *const kind_names[] = { "counter", "gauge", "summary" };

/* ---- names ---- */

static bool valid_metric_name(const char *s)
{
	size_t len = strlen(s);

	if (len <= METRICS_PREFIX_LEN || len > METRICS_NAME_MAX || strncmp(s, METRICS_PREFIX, METRICS_PREFIX_LEN) != 0)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
		      (p != s && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int check_name(enum mdm_metrics_kind kind, const char *name)
{
	if (!name || !valid_metric_name(name))
		return mdm_err_set(-EINVAL, "metrics: '%s': names are mdmesh_ followed by [a-zA-Z0-9_:]",
				   name ? name : "(null)");
	if ((unsigned)kind > MDM_METRICS_SUMMARY)
		return mdm_err_set(-EINVAL, "metrics: %s: unknown kind %d", name, (int)kind);
	if (kind == MDM_METRICS_COUNTER && !ends_with(name, "_total"))
		return mdm_err_set(-EINVAL, "metrics: %s: counter names end with _total", name);
	if (kind != MDM_METRICS_COUNTER && ends_with(name, "_total"))
		return mdm_err_set(-EINVAL, "metrics: %s: only counter names end with _total", name);
	return 0;
}

/* [a-zA-Z_][a-zA-Z0-9_]*, and "__" prefixes are reserved by Prometheus. */
static bool valid_label_name(const char *s)
{
	if (!*s || (s[0] == '_' && s[1] == '_'))
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (p != s && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/* Count label pairs and validate their names; -EINVAL with detail. */
static int check_labels(const char *name, const char *const *labels, size_t *n)
{
	size_t i = 0;

	for (; labels && labels[2 * i]; i++) {
		if (i == MDM_METRICS_MAX_LABELS)
			return mdm_err_set(-EINVAL, "metrics: %s: more than %d labels", name, MDM_METRICS_MAX_LABELS);
		if (!valid_label_name(labels[2 * i]))
			return mdm_err_set(-EINVAL, "metrics: %s: bad label name '%s'", name, labels[2 * i]);
		if (!labels[2 * i + 1])
			return mdm_err_set(-EINVAL, "metrics: %s: label %s has no value", name, labels[2 * i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(labels[2 * j], labels[2 * i]) == 0)
				return mdm_err_set(-EINVAL, "metrics: %s: label %s given twice", name, labels[2 * i]);
	}
	*n = i;
	return 0;
}

/* ---- registry ---- */

int mdm_metrics_create(struct mdm_metrics **out)
{
	struct mdm_metrics *reg = mdm_calloc(1, sizeof(*reg));

	*out = NULL;
	if (!reg)
		return mdm_err_set(-ENOMEM, "metrics: out of memory");
	pthread_mutex_init(&reg->lock, NULL);
	*out = reg;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		mdm_free(v[i]);
	mdm_free(v);
}

static void family_free(struct family *f)
{
	for (size_t i = 0; i < f->nseries; i++)
		strv_free(f->series[i].values, f->nlabels);
	mdm_free(f->series);
	strv_free(f->label_names, f->nlabels);
	mdm_free(f->name);
	mdm_free(f->help);
}

void mdm_metrics_destroy(struct mdm_metrics *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->nfams; i++)
		family_free(&reg->fams[i]);
	mdm_free(reg->fams);
	mdm_free(reg->cols);
	for (size_t i = 0; i < reg->nsecs; i++)
		mdm_free(reg->secs[i].name);
	mdm_free(reg->secs);
	pthread_mutex_destroy(&reg->lock);
	mdm_free(reg);
}

static struct family *find_family(struct mdm_metrics *reg, const char *name)
{
	for (size_t i = 0; i < reg->nfams; i++)
		if (strcmp(reg->fams[i].name, name) == 0)
			return &reg->fams[i];
	return NULL;
}

static bool section_exists(const struct mdm_metrics *reg, const char *json_name)
{
	for (size_t i = 0; i < reg->nsecs; i++)
		if (strcmp(reg->secs[i].name, json_name) == 0)
			return true;
	return false;
}

/* Copy every other string of a name/value list (odd = 0: names, 1: values). */
static char **strv_pick(const char *const *labels, size_t n, int odd)
{
	char **v = mdm_calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		v[i] = mdm_strdup(labels[2 * i + (size_t)odd]);
		if (!v[i]) {
			strv_free(v, i);
			return NULL;
		}
	}
	return v;
}

/* Find the family for a registration, or create it; NULL with rc set. */
static struct family *family_get(struct mdm_metrics *reg, enum mdm_metrics_kind kind, const char *name,
				 const char *help, const char *const *labels, size_t nlabels, int *rc)
{
	struct family *f = find_family(reg, name), *fams;

	if (f) {
		bool same = f->nlabels == nlabels;

		for (size_t i = 0; same && i < nlabels; i++)
			same = strcmp(f->label_names[i], labels[2 * i]) == 0;
		/* The kind needs no check: the naming rules tie it to the name. */
		if (strcmp(f->help, help) != 0)
			*rc = mdm_err_set(-EINVAL, "metrics: %s: help differs from the first registration", name);
		else if (!same)
			*rc = mdm_err_set(-EINVAL, "metrics: %s: label names differ from the first registration", name);
		return *rc ? NULL : f;
	}
	if (section_exists(reg, name + METRICS_PREFIX_LEN)) {
		*rc = mdm_err_set(-EEXIST, "metrics: %s: JSON name taken by a section", name);
		return NULL;
	}
	fams = mdm_realloc(reg->fams, (reg->nfams + 1) * sizeof(*fams));
	if (!fams)
		goto oom;
	reg->fams = fams;
	f = &fams[reg->nfams];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->nlabels = nlabels;
	f->name = mdm_strdup(name);
	f->help = mdm_strdup(help);
	f->label_names = strv_pick(labels, nlabels, 0);
	if (!f->name || !f->help || !f->label_names) {
		family_free(f);
		goto oom;
	}
	reg->nfams++;
	return f;
oom:
	*rc = mdm_err_set(-ENOMEM, "metrics: out of memory");
	return NULL;
}

static int register_locked(struct mdm_metrics *reg, enum mdm_metrics_kind kind, const char *name, const char *help,
			   const char *const *labels, enum mdm_metrics_vtype vtype, const void *var)
{
	struct family *f;
	struct series *s;
	size_t nlabels = 0;
	int rc = check_name(kind, name);

	if (rc != 0)
		return rc;
	if (kind == MDM_METRICS_SUMMARY)
		return mdm_err_set(-EINVAL, "metrics: %s: summaries come from collectors", name);
	if (!help || !*help)
		return mdm_err_set(-EINVAL, "metrics: %s: help text is required", name);
	if (!var || (unsigned)vtype > MDM_METRICS_DOUBLE)
		return mdm_err_set(-EINVAL, "metrics: %s: needs a variable of a known type", name);
	if ((rc = check_labels(name, labels, &nlabels)) != 0)
		return rc;
	f = family_get(reg, kind, name, help, labels, nlabels, &rc);
	if (!f)
		return rc;
	for (size_t i = 0; i < f->nseries; i++) {
		bool same = true;

		for (size_t j = 0; same && j < nlabels; j++)
			same = strcmp(f->series[i].values[j], labels[2 * j + 1]) == 0;
		if (same)
			return mdm_err_set(-EEXIST, "metrics: %s: series already registered", name);
	}
	s = mdm_realloc(f->series, (f->nseries + 1) * sizeof(*s));
	if (!s)
		return mdm_err_set(-ENOMEM, "metrics: out of memory");
	f->series = s;
	s = &s[f->nseries];
	s->values = strv_pick(labels, nlabels, 1);
	if (!s->values)
		return mdm_err_set(-ENOMEM, "metrics: out of memory");
	s->vtype = vtype;
	s->var = var;
	f->nseries++;
	return 0;
}

int mdm_metrics_register(struct mdm_metrics *reg, enum mdm_metrics_kind kind, const char *name, const char *help,
			 const char *const *labels, enum mdm_metrics_vtype vtype, const void *var)
{
	int rc;

	pthread_mutex_lock(&reg->lock);
	rc = register_locked(reg, kind, name, help, labels, vtype, var);
	pthread_mutex_unlock(&reg->lock);
	return rc;
}

int mdm_metrics_add_collector(struct mdm_metrics *reg, mdm_metrics_collect_fn fn, void *ctx)
{
	struct collector *c;
	int rc = 0;

	pthread_mutex_lock(&reg->lock);
	c = mdm_realloc(reg->cols, (reg->ncols + 1) * sizeof(*c));
	if (!c) {
		rc = mdm_err_set(-ENOMEM, "metrics: out of memory");
	} else {
		reg->cols = c;
		c[reg->ncols++] = (struct collector){ fn, ctx };
	}
	pthread_mutex_unlock(&reg->lock);
	return rc;
}

int mdm_metrics_add_json_section(struct mdm_metrics *reg, const char *name, mdm_metrics_json_fn fn, void *ctx)
{
	struct section *s;
	char full[METRICS_NAME_MAX + 1];
	int rc = 0;

	if (!name || !*name || !fn)
		return mdm_err_set(-EINVAL, "metrics: a JSON section needs a name and a function");
	snprintf(full, sizeof(full), METRICS_PREFIX "%s", name);
	pthread_mutex_lock(&reg->lock);
	if (section_exists(reg, name) || find_family(reg, full)) {
		rc = mdm_err_set(-EEXIST, "metrics: JSON key '%s' already used", name);
	} else if (!(s = mdm_realloc(reg->secs, (reg->nsecs + 1) * sizeof(*s)))) {
		rc = mdm_err_set(-ENOMEM, "metrics: out of memory");
	} else {
		reg->secs = s;
		s[reg->nsecs].name = mdm_strdup(name);
		s[reg->nsecs].fn = fn;
		s[reg->nsecs].ctx = ctx;
		if (!s[reg->nsecs].name)
			rc = mdm_err_set(-ENOMEM, "metrics: out of memory");
		else
			reg->nsecs++;
	}
	pthread_mutex_unlock(&reg->lock);
	return rc;
}

/* ---- writer ---- */

/* Callers have just set the detail with mdm_err_set; keep the first one. */
static void writer_fail(struct mdm_metrics_writer *w, int err)
{
	if (w->err)
		return;
	w->err = err;
	snprintf(w->err_msg, sizeof(w->err_msg), "%s", mdm_err_last());
}

static int writer_status(const struct mdm_metrics_writer *w)
{
	return w->err ? mdm_err_set(w->err, "%s", w->err_msg) : 0;
}

/* Prometheus escaping: help escapes \ and newline; label values also ". */
static void prom_escaped(struct mdm_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			mdm_buf_puts(b, "\\\\");
		else if (*s == '\n')
			mdm_buf_puts(b, "\\n");
		else if (quote && *s == '"')
			mdm_buf_puts(b, "\\\"");
		else
			mdm_buf_putc(b, *s);
	}
}

/* Shortest text that reads back as v; Prometheus spells the specials. */
static void prom_double(struct mdm_buf *b, double v)
{
	char tmp[32];

	if (isnan(v)) {
		mdm_buf_puts(b, "NaN");
		return;
	}
	if (isinf(v)) {
		mdm_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	mdm_buf_puts(b, tmp);
}

static void json_close_family(struct mdm_metrics_writer *w)
{
	if (w->json && w->started && !w->scalar) {
		for (; w->depth > 0; w->depth--)
			mdm_json_obj_end(w->json);
		mdm_json_obj_end(w->json);
	}
	w->fam_ok = false;
	w->started = false;
	w->scalar = false;
	w->depth = 0;
}

static void family_begin(struct mdm_metrics_writer *w, enum mdm_metrics_kind kind, const char *name,
			 const char *help)
{
	int rc;

	json_close_family(w);
	if ((rc = check_name(kind, name)) != 0) {
		writer_fail(w, rc);
		return;
	}
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->kind = kind;
	w->fam_ok = true;
	if (w->prom) {
		mdm_buf_printf(w->prom, "# HELP %s ", name);
		prom_escaped(w->prom, help ? help : "", false);
		mdm_buf_printf(w->prom, "\n# TYPE %s %s\n", name, kind_names[kind]);
	}
}

void mdm_metrics_write_family(struct mdm_metrics_writer *w, enum mdm_metrics_kind kind, const char *name,
			      const char *help)
{
	/* Two HELP/TYPE blocks for one name would be an invalid exposition. */
	if (name && find_family(w->reg, name)) {
		json_close_family(w);
		writer_fail(w, mdm_err_set(-EEXIST, "metrics: %s: written by a collector and also registered", name));
		return;
	}
	family_begin(w, kind, name, help);
}

struct sample_val {
	enum mdm_metrics_vtype type;
	union {
		uint64_t u;
		int64_t i;
		double d;
	};
};

static void put_value(struct mdm_metrics_writer *w, const struct sample_val *v)
{
	if (w->prom) {
		switch (v->type) {
		case MDM_METRICS_U64: mdm_buf_printf(w->prom, "%" PRIu64, v->u); break;
		case MDM_METRICS_I64: mdm_buf_printf(w->prom, "%" PRId64, v->i); break;
		case MDM_METRICS_DOUBLE: prom_double(w->prom, v->d); break;
		}
		mdm_buf_putc(w->prom, '\n');
		return;
	}
	switch (v->type) {
	case MDM_METRICS_U64: mdm_json_u64(w->json, v->u); break;
	case MDM_METRICS_I64: mdm_json_i64(w->json, v->i); break;
	case MDM_METRICS_DOUBLE: mdm_json_dbl(w->json, v->d); break;
	}
}

/* Bring the open JSON objects to `vals[0..n)`, closing what differs. */
static bool json_enter(struct mdm_metrics_writer *w, const char *const *vals, size_t n)
{
	size_t common = 0;

	while (common < w->depth && common < n) {
		const char *open = w->path + (common ? w->path_end[common - 1] + 1 : 0);

		if (strcmp(open, vals[common]) != 0)
			break;
		common++;
	}
	for (; w->depth > common; w->depth--)
		mdm_json_obj_end(w->json);
	for (size_t i = common; i < n; i++) {
		size_t start = i ? w->path_end[i - 1] + 1 : 0, len = strlen(vals[i]);

		if (start + len + 1 > sizeof(w->path)) {
			writer_fail(w, mdm_err_set(-E2BIG, "metrics: %s: label values too long for JSON", w->name));
			return false;
		}
		memcpy(w->path + start, vals[i], len + 1);
		w->path_end[i] = start + len;
		mdm_json_key(w->json, vals[i]);
		mdm_json_obj_begin(w->json);
		w->depth++;
	}
	return true;
}

/* One sample: `suffix` is NULL or "_sum"/"_count" (summaries). */
static void write_sample(struct mdm_metrics_writer *w, const char *suffix, const char *const *labels,
			 const struct sample_val *v)
{
	const char *vals[MDM_METRICS_MAX_LABELS];
	size_t n = 0;
	int rc;

	if (!w->fam_ok)
		return; /* the family was rejected (error recorded) or never started */
	if ((rc = check_labels(w->name, labels, &n)) != 0) {
		writer_fail(w, rc);
		return;
	}
	if (w->prom) {
		mdm_buf_puts(w->prom, w->name);
		if (suffix)
			mdm_buf_puts(w->prom, suffix);
		if (n) {
			mdm_buf_putc(w->prom, '{');
			for (size_t i = 0; i < n; i++) {
				mdm_buf_printf(w->prom, "%s%s=\"", i ? "," : "", labels[2 * i]);
				prom_escaped(w->prom, labels[2 * i + 1], true);
				mdm_buf_putc(w->prom, '"');
			}
			mdm_buf_putc(w->prom, '}');
		}
		mdm_buf_putc(w->prom, ' ');
		put_value(w, v);
		return;
	}
	for (size_t i = 0; i < n; i++)
		vals[i] = labels[2 * i + 1];
	if (n == 0 && !suffix) {
		if (w->started) {
			writer_fail(w, mdm_err_set(-EINVAL, "metrics: %s: an unlabelled sample must be the only one", w->name));
			return;
		}
		mdm_json_key(w->json, w->name + METRICS_PREFIX_LEN);
		put_value(w, v);
		w->started = w->scalar = true;
		return;
	}
	if (w->scalar) {
		writer_fail(w, mdm_err_set(-EINVAL, "metrics: %s: an unlabelled sample must be the only one", w->name));
		return;
	}
	if (!w->started) {
		mdm_json_key(w->json, w->name + METRICS_PREFIX_LEN);
		mdm_json_obj_begin(w->json);
		w->started = true;
	}
	/* A labelled sample is a leaf named by its last label value; a suffixed
	 * one sits beside its labels' siblings, named "sum" / "count". */
	if (!json_enter(w, vals, suffix ? n : n - 1))
		return;
	mdm_json_key(w->json, suffix ? suffix + 1 : vals[n - 1]);
	put_value(w, v);
}

void mdm_metrics_write_u64(struct mdm_metrics_writer *w, const char *const *labels, uint64_t v)
{
	struct sample_val sv = { .type = MDM_METRICS_U64, .u = v };

	write_sample(w, NULL, labels, &sv);
}

void mdm_metrics_write_i64(struct mdm_metrics_writer *w, const char *const *labels, int64_t v)
{
	struct sample_val sv = { .type = MDM_METRICS_I64, .i = v };

	write_sample(w, NULL, labels, &sv);
}

void mdm_metrics_write_double(struct mdm_metrics_writer *w, const char *const *labels, double v)
{
	struct sample_val sv = { .type = MDM_METRICS_DOUBLE, .d = v };

	write_sample(w, NULL, labels, &sv);
}

void mdm_metrics_write_summary(struct mdm_metrics_writer *w, const char *const *labels,
			       const struct mdm_metrics_quantile *qs, size_t nq, double sum, uint64_t count)
{
	const char *ql[2 * MDM_METRICS_MAX_LABELS + 1];
	struct sample_val sv = { .type = MDM_METRICS_DOUBLE };
	char qtext[32];
	size_t n = 0;
	int rc;

	if (!w->fam_ok)
		return;
	if (w->kind != MDM_METRICS_SUMMARY) {
		writer_fail(w, mdm_err_set(-EINVAL, "metrics: %s: summary samples in a %s family", w->name,
					   kind_names[w->kind]));
		return;
	}
	if ((rc = check_labels(w->name, labels, &n)) != 0 || n == MDM_METRICS_MAX_LABELS) {
		writer_fail(w, rc ? rc : mdm_err_set(-EINVAL, "metrics: %s: no room for the quantile label", w->name));
		return;
	}
	if (n)
		memcpy(ql, labels, 2 * n * sizeof(*ql));
	ql[2 * n] = "quantile";
	ql[2 * n + 1] = qtext;
	ql[2 * n + 2] = NULL;
	for (size_t i = 0; i < nq; i++) {
		snprintf(qtext, sizeof(qtext), "%g", qs[i].q);
		sv.d = qs[i].value;
		write_sample(w, NULL, ql, &sv);
	}
	sv.d = sum;
	write_sample(w, "_sum", labels, &sv);
	sv.type = MDM_METRICS_U64;
	sv.u = count;
	write_sample(w, "_count", labels, &sv);
}

/* ---- rendering ---- */

static bool prefix_eq(const struct family *f, size_t a, size_t b, size_t depth)
{
	for (size_t i = 0; i < depth; i++)
		if (strcmp(f->series[a].values[i], f->series[b].values[i]) != 0)
			return false;
	return true;
}

static void emit_series(struct mdm_metrics_writer *w, const struct family *f, size_t i)
{
	const struct series *s = &f->series[i];
	const char *labels[2 * MDM_METRICS_MAX_LABELS + 1];
	struct sample_val v = { .type = s->vtype };

	for (size_t j = 0; j < f->nlabels; j++) {
		labels[2 * j] = f->label_names[j];
		labels[2 * j + 1] = s->values[j];
	}
	labels[2 * f->nlabels] = NULL;
	switch (s->vtype) {
	case MDM_METRICS_U64: v.u = __atomic_load_n((const uint64_t *)s->var, __ATOMIC_RELAXED); break;
	case MDM_METRICS_I64: v.i = __atomic_load_n((const int64_t *)s->var, __ATOMIC_RELAXED); break;
	case MDM_METRICS_DOUBLE: __atomic_load((const double *)s->var, &v.d, __ATOMIC_RELAXED); break;
	}
	write_sample(w, NULL, labels, &v);
}

/* Registration order, except that series sharing leading label values are
 * pulled together (stable), which the JSON nesting needs. */
static void emit_group(struct mdm_metrics_writer *w, const struct family *f, size_t ref, size_t depth)
{
	for (size_t i = 0; i < f->nseries; i++) {
		bool seen = false;

		if (!prefix_eq(f, i, ref, depth))
			continue;
		if (depth == f->nlabels) {
			emit_series(w, f, i);
			continue;
		}
		for (size_t j = 0; j < i && !seen; j++)
			seen = prefix_eq(f, j, i, depth + 1);
		if (!seen)
			emit_group(w, f, i, depth + 1);
	}
}

static void render_locked(struct mdm_metrics *reg, struct mdm_metrics_writer *w)
{
	for (size_t i = 0; i < reg->nfams; i++) {
		const struct family *f = &reg->fams[i];

		family_begin(w, f->kind, f->name, f->help);
		if (f->nseries)
			emit_group(w, f, 0, 0);
	}
	for (size_t i = 0; i < reg->ncols; i++) {
		reg->cols[i].fn(reg->cols[i].ctx, w);
		json_close_family(w);
	}
	json_close_family(w);
}

int mdm_metrics_render_prometheus(struct mdm_metrics *reg, struct mdm_buf *out)
{
	struct mdm_metrics_writer w = { .reg = reg, .prom = out };

	pthread_mutex_lock(&reg->lock);
	render_locked(reg, &w);
	pthread_mutex_unlock(&reg->lock);
	if (out->oom)
		return mdm_err_set(-ENOMEM, "metrics: out of memory while rendering");
	return writer_status(&w);
}

int mdm_metrics_render_json(struct mdm_metrics *reg, struct mdm_json *j)
{
	struct mdm_metrics_writer w = { .reg = reg, .json = j };

	pthread_mutex_lock(&reg->lock);
	mdm_json_obj_begin(j);
	render_locked(reg, &w);
	for (size_t i = 0; i < reg->nsecs; i++) {
		mdm_json_key(j, reg->secs[i].name);
		reg->secs[i].fn(reg->secs[i].ctx, j);
	}
	mdm_json_obj_end(j);
	pthread_mutex_unlock(&reg->lock);
	if (mdm_json_status(j) != 0)
		return mdm_err_set(-ENOMEM, "metrics: out of memory while rendering");
	return writer_status(&w);
}

static int serve_prometheus(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body,
			    const char **content_type)
{
	*content_type = "text/plain; version=0.0.4; charset=utf-8";
	return mdm_metrics_render_prometheus(ctx, body) == 0 ? 200 : 500;
}

static int serve_json(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body, const char **content_type)
{
	struct mdm_json j;
	int rc;

	mdm_json_init(&j, body);
	rc = mdm_metrics_render_json(ctx, &j);
	mdm_buf_putc(body, '\n');
	*content_type = "application/json";
	return rc == 0 ? 200 : 500;
}

int mdm_metrics_serve(struct mdm_metrics *reg, struct mdm_http *http)
{
	int rc = mdm_http_route(http, "/metrics", serve_prometheus, reg);

	if (rc == 0)
		rc = mdm_http_route(http, "/stats.json", serve_json, reg);
	return rc;
}
