/* Typed configuration from YAML through one schema table per config struct
 * (the shape of redis static_configs[] / fluent-bit config_map[]): each row
 * names a dotted key, a type, the field's offset, a default and bounds.
 * Precedence: schema defaults < file < environment (MDM_<KEY>) < flags
 * (mdm_cfg_set). Every value is validated where it enters, and errors name
 * where it came from: "FILE:LINE: KEY: reason", "env MDM_NATS_URL: KEY: reason",
 * "--nats: KEY: reason". Unknown keys are errors, with a did-you-mean.
 *
 * Example:
 *	struct coll_cfg { char *nats_url; uint64_t max_pending; int mode; };
 *	static const char *const modes[] = { "event", "batch", NULL };
 *	static const struct mdm_cfg_field coll_schema[] = {
 *		{ "nats.url", MDM_CFG_STR, offsetof(struct coll_cfg, nats_url), "nats://127.0.0.1:4222",
 *		  0, 0, NULL, "NATS server URL" },
 *		{ "publish.max_pending", MDM_CFG_UINT, offsetof(struct coll_cfg, max_pending), "65536",
 *		  1, 1e7, NULL, "unacked async publishes before stalling" },
 *		{ "publish.mode", MDM_CFG_ENUM, offsetof(struct coll_cfg, mode), "event", 0, 0, modes,
 *		  "one message per event, or EventBatch messages" },
 *	};
 *	struct coll_cfg cfg = { 0 };
 *	if (mdm_cfg_load_file(coll_schema, 3, &cfg, path) != 0) die(mdm_err_last());
 *	...
 *	mdm_cfg_free(coll_schema, 3, &cfg);
 *
 * Thread-safety: none of these functions share state, but one config struct
 * must not be loaded/set/freed from two threads at once. Config is loaded at
 * start-up and then read-only (a reload builds a new struct). Not hot-path. */
#ifndef MDM_CFG_H
#define MDM_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mdm_yaml.h"

enum mdm_cfg_type {
	MDM_CFG_STR,      /* char *, owned (NULL when unset: `key:` or `key: ~`) */
	MDM_CFG_BOOL,     /* bool: true/false, yes/no, on/off (any case) */
	MDM_CFG_INT,      /* int64_t, decimal */
	MDM_CFG_UINT,     /* uint64_t, decimal */
	MDM_CFG_DOUBLE,   /* double, finite */
	MDM_CFG_DURATION, /* uint64_t ns: "250us", "5ms", "1.5s", "1m", "2h"; a plain number is ns */
	MDM_CFG_SIZE,     /* uint64_t bytes: "64KiB", "256MiB", "1GiB", "10MB"; a plain number is bytes */
	MDM_CFG_ENUM,     /* int: index into `choices` */
	MDM_CFG_STRLIST,  /* struct mdm_cfg_strlist: a YAML sequence of scalars or "a, b, c" */
	MDM_CFG_RAW,      /* struct mdm_cfg_raw: the whole subtree under the key, for a custom parser */
};

/* Owned list of owned strings; n == 0 and v == NULL when empty. */
struct mdm_cfg_strlist {
	char **v;
	size_t n;
};

/* A subtree kept as parsed (e.g. a list of rule mappings). `node` is NULL
 * when the key is absent or null. `origin` is where it came from (the file
 * name, "env MDM_RULES", a flag, "default"), so the custom parser can report
 * "ORIGIN:LINE: KEY...: reason" using node->line. Both owned. Values from env
 * or flags are parsed as YAML text (flow style: '[{name: a}]'). */
struct mdm_cfg_raw {
	struct mdm_yaml_node *node;
	char *origin;
};

/* One schema row. Keys are lower-case dotted paths ("nats.url"); a key may not
 * also be a section of another key. */
struct mdm_cfg_field {
	const char *key;
	enum mdm_cfg_type type;
	size_t offset;               /* offsetof(struct ..., field) */
	const char *def;             /* default as text, parsed like file input; NULL = zero/NULL/empty */
	double min, max;             /* INT, UINT, DOUBLE, DURATION (ns), SIZE (bytes): inclusive
				      * bounds, ignored when min == max == 0 */
	const char *const *choices;  /* ENUM: NULL-terminated names; the value is the index */
	const char *help;            /* one line, printed as a comment by mdm_cfg_print */
};

/* Set every field to its default.
 * @param out  the config struct; its owned fields must hold no allocation
 *             (start from a zeroed struct, or after mdm_cfg_free).
 * @return 0; -EINVAL for a bad schema ("schema: KEY: reason") or a default
 *         that does not parse ("default: KEY: reason"); -ENOMEM. On failure the
 *         owned fields are freed (NULL). */
int mdm_cfg_defaults(const struct mdm_cfg_field *schema, size_t n, void *out);

/* Defaults, then the YAML file, then environment overrides: for each key, an
 * environment variable MDM_<KEY> upper-cased with '.' and '-' as '_' (nats.url
 * -> MDM_NATS_URL) replaces the value. Other MDM_* variables are ignored (tests
 * and scripts use some).
 * @param path  YAML file whose top level is a mapping; nested mappings spell
 *              dotted keys ("nats: {url: x}" or "nats.url: x"). NULL = defaults
 *              and environment only. An empty file is all defaults.
 * @return 0; -ENOENT/-EACCES/... when the file cannot be read; -EINVAL for
 *         YAML syntax ("FILE:LINE:COL: syntax error: ..."), unknown keys, wrong
 *         node kinds, bad values, out-of-bounds values, a key set twice; -ENOMEM.
 *         Detail via mdm_err_last(). On failure the owned fields are freed. */
int mdm_cfg_load_file(const struct mdm_cfg_field *schema, size_t n, void *out, const char *path);

/* As mdm_cfg_load_file, from len bytes of YAML text; `name` stands for the
 * file name in messages. For tests and fuzzers. */
int mdm_cfg_load_string(const struct mdm_cfg_field *schema, size_t n, void *out, const char *text, size_t len,
			const char *name);

/* Set one key from text (a command-line flag), with the same parsing and
 * validation as file input. The old value is freed on success and kept on
 * failure.
 * @param origin  names the source in errors, e.g. "--nats" ("command line" if NULL).
 * @return 0; -EINVAL (unknown key, bad value: "ORIGIN: KEY: reason"); -ENOMEM. */
int mdm_cfg_set(const struct mdm_cfg_field *schema, size_t n, void *out, const char *key, const char *value,
		const char *origin);

/* Free the owned fields (STR, STRLIST, RAW) and set them to NULL/empty.
 * Other fields are untouched. Safe to call twice. */
void mdm_cfg_free(const struct mdm_cfg_field *schema, size_t n, void *out);

/* Write the effective config as YAML that mdm_cfg_load_file reads back, one
 * "# help" comment per key, sections nested in schema order. Values of keys
 * whose name contains "pass", "token" or "secret" print as "***" (unset ones
 * as ~), and so do secrets inside any value: URL passwords (every URL of a
 * list), NATS URL tokens and query parameters named *password. 0, -ENOMEM,
 * or -EIO when writing to f failed. */
int mdm_cfg_print(const struct mdm_cfg_field *schema, size_t n, const void *cfg, FILE *f);


/* The number parsers behind MDM_CFG_UINT, MDM_CFG_DOUBLE, MDM_CFG_DURATION
 * and MDM_CFG_SIZE, for numbers that are not config keys (command-line
 * options), so a number is spelled the same everywhere. Blanks around the
 * text are ignored; bounds are the caller's. Leaves: they do not set
 * mdm_err_last(), the caller names the option. Thread-safe, not hot-path.
 * mdm_cfg_parse_duration: a plain number counts `bare_ns` ns (1 in config
 * files; MDM_NS_PER_S for an option given in seconds), so "1.5" with
 * bare_ns 1e9 is 1.5 s and "250ms" is 250 ms either way.
 * @return 0; -EINVAL (not that kind of number: "12x", "-1", "1e3" for a
 *         uint, "5 parsecs", "nan"), -ERANGE (does not fit in 64 bits /
 *         a double), -EDOM (not a whole number of ns or bytes). *out is
 *         untouched on failure. */
int mdm_cfg_parse_uint(const char *text, uint64_t *out);
int mdm_cfg_parse_double(const char *text, double *out);
int mdm_cfg_parse_duration(const char *text, uint64_t bare_ns, uint64_t *out_ns);
int mdm_cfg_parse_size(const char *text, uint64_t *out_bytes);

#endif
