/* mdm_cfg_print: the effective config as YAML that loads back, one help
 * comment per key, secrets masked. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "mdm_buf.h"
#include "mdm_cfg_int.h"
#include "mdm_mem.h"
#include "mdm_redact.h"
#include "mdm_yaml.h"

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

	memcpy(&v, p, cfg_type_size(f->type));
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
		cfg_fmt_double(tmp, sizeof(tmp), v.d);
		mdm_buf_puts(b, tmp);
		break;
	case MDM_CFG_DURATION:
		cfg_fmt_duration(tmp, sizeof(tmp), v.u);
		mdm_buf_puts(b, tmp);
		break;
	case MDM_CFG_SIZE:
		cfg_fmt_size(tmp, sizeof(tmp), v.u);
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
