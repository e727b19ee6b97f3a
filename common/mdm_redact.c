/* Credentials out of URLs and free text; see mdm_redact.h for the rules. */
#include "mdm_redact.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* A bounded writer that still counts what did not fit. */
struct out {
	char *p;
	size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++, o->len++)
		if (o->len + 1 < o->cap)
			o->p[o->len] = s[i];
}

/* Length of the scheme ending just before in[i] ("://" at in + i). */
static size_t scheme_len(const char *in, size_t i)
{
	size_t n = 0;

	while (n < i && (isalnum((unsigned char)in[i - n - 1]) || strchr("+-.", in[i - n - 1])))
		n++;
	return n;
}

static bool scheme_is(const char *in, size_t i, const char *name)
{
	size_t n = strlen(name);

	return scheme_len(in, i) == n && strncasecmp(in + i - n, name, n) == 0;
}

/* At in + i ("://"): write "://" and the userinfo as `mode` wants; returns
 * the index after the userinfo's '@' (or after "://" when there is none). */
static size_t userinfo(struct out *o, const char *in, size_t i, enum mdm_redact_mode mode)
{
	size_t start = i + 3, auth = strcspn(in + start, "/?#, "), ui;
	const char *at = NULL, *colon;

	put(o, "://", 3);
	for (size_t k = 0; k < auth; k++)
		if (in[start + k] == '@')
			at = in + start + k;
	if (!at)
		return start;
	ui = (size_t)(at - (in + start));
	colon = memchr(in + start, ':', ui);
	if (mode == MDM_REDACT_DROP)
		return start + ui + 1;
	if (colon) {
		put(o, in + start, (size_t)(colon - (in + start)) + 1);
		put(o, "***@", 4);
	} else if (scheme_is(in, i, "nats") || scheme_is(in, i, "tls")) {
		put(o, "***@", 4); /* nats://TOKEN@host */
	} else {
		put(o, in + start, ui + 1);
	}
	return start + ui + 1;
}

size_t mdm_redact(const char *in, enum mdm_redact_mode mode, char *out, size_t cap)
{
	struct out o = { .p = out, .cap = cap, .len = 0 };
	size_t i = 0, len = in ? strlen(in) : 0;

	while (i < len) {
		if (strncmp(in + i, "://", 3) == 0) {
			i = userinfo(&o, in, i, mode);
			continue;
		}
		if (in[i] == '?' || in[i] == '&') {
			size_t name = strcspn(in + i + 1, "=&#, ");

			if (in[i + 1 + name] == '=' && name >= 8 &&
			    strncasecmp(in + i + 1 + name - 8, "password", 8) == 0) {
				put(&o, in + i, name + 2);
				put(&o, "***", 3);
				i += name + 2;
				i += strcspn(in + i, "&");
				continue;
			}
		}
		put(&o, in + i, 1);
		i++;
	}
	if (cap)
		out[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len;
}
