/* Private to mdm_cfg*.c: what the schema walk (mdm_cfg.c), the value parsers
 * (mdm_cfg_value.c) and the printer (mdm_cfg_print.c) share. */
#ifndef MDM_CFG_INT_H
#define MDM_CFG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_cfg.h"

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

/* Set mdm_err to "ORIGIN[:LINE]: KEY: reason" and return err. */
int cfg_where_err(const struct where *w, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cfg_where_oom(const struct where *w);

/* The field's storage in cfg, and its size for the field's type. */
void *cfg_slot(void *cfg, const struct mdm_cfg_field *f);
size_t cfg_type_size(enum mdm_cfg_type t);
/* Free what v owns (STR, STRLIST, RAW) and clear it. */
void cfg_val_free(enum mdm_cfg_type t, union cfg_val *v);
/* Replace the field's value by *v (ownership moves into the config). */
void cfg_commit(const struct mdm_cfg_field *f, void *cfg, union cfg_val *v);
bool cfg_has_bounds(const struct mdm_cfg_field *f);

/* Parse len bytes of text (a file scalar, env value, flag) or a YAML node for
 * field f into *v, fresh and owned by the caller on success; bounds checked.
 * 0, or -EINVAL/-ENOMEM with the reason set through cfg_where_err. */
int cfg_parse_text(const struct mdm_cfg_field *f, const struct where *w, const char *text, size_t len,
		   union cfg_val *v);
int cfg_parse_node(const struct mdm_cfg_field *f, const struct where *w, const struct mdm_yaml_node *node,
		   const char *file, union cfg_val *v);

/* Shortest text that parses back to the value (a unit where one divides). */
void cfg_fmt_double(char *buf, size_t cap, double v);
void cfg_fmt_duration(char *buf, size_t cap, uint64_t ns);
void cfg_fmt_size(char *buf, size_t cap, uint64_t bytes);

#endif
