/* JSON reading through libjansson (mdm_json_read.h). */
#include "mdm_json_read.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

json_t *mdm_json_read_object(const void *buf, size_t len, char *why, size_t why_cap)
{
	json_error_t e = { .line = 1, .column = 1 };
	json_t *v = NULL;

	if (!buf && len)
		snprintf(e.text, sizeof(e.text), "no input");
	else /* JSON_ALLOW_NUL: "\u0000" in a value is valid JSON; the string
	      * getter refuses it, so one odd member does not void the object */
		v = json_loadb(buf ? buf : "", len, JSON_ALLOW_NUL, &e);
	if (v && !json_is_object(v)) {
		snprintf(e.text, sizeof(e.text), "not an object");
		e.line = e.column = 1;
		json_decref(v);
		v = NULL;
	}
	if (!v && why && why_cap)
		snprintf(why, why_cap, "%s (line %d, column %d)", e.text, e.line, e.column);
	return v;
}

int mdm_json_read_str(const json_t *obj, const char *key, char *out, size_t cap)
{
	const json_t *s = json_object_get(obj, key);
	const char *p = json_string_value(s);
	size_t n = json_string_length(s), k = n;

	out[0] = '\0';
	if (!p || memchr(p, '\0', n))
		return -EINVAL;
	if (k >= cap) {
		k = cap - 1;
		/* back off over continuation bytes (10xxxxxx) to a character start */
		while (k > 0 && ((unsigned char)p[k] & 0xc0) == 0x80)
			k--;
	}
	memcpy(out, p, k);
	out[k] = '\0';
	return k < n ? -ENOSPC : 0;
}

int mdm_json_read_u64(const json_t *obj, const char *key, uint64_t *v)
{
	const json_t *n = json_object_get(obj, key);

	if (!json_is_integer(n) || json_integer_value(n) < 0)
		return -EINVAL;
	*v = (uint64_t)json_integer_value(n);
	return 0;
}

bool mdm_json_read_utf8_valid(const void *s, size_t len)
{
	json_t *j;

	if (!len)
		return true;
	j = s ? json_stringn(s, len) : NULL; /* NULL for invalid UTF-8 */
	json_decref(j);
	return j != NULL;
}
