/* Strict flat-object JSON reader; see mdm_json_read.h. Every byte access goes
 * through the position checks in this file (`more`, `peek`), so truncated or
 * hostile input ends in -EINVAL, never in a read past the buffer. */
#include <errno.h>
#include <string.h>

#include "mdm_json_read.h"

enum {
	ST_FIRST = 0, /* after '{': a key or '}' */
	ST_MORE,      /* after a member: ',' or '}' */
	ST_DONE,      /* closing '}' seen, only whitespace after it */
	ST_ERR,
};

static int fail(struct mdm_json_read *r, const char *why)
{
	if (r->state != ST_ERR) {
		r->err = why;
		r->err_pos = r->pos;
		r->state = ST_ERR;
	}
	return -EINVAL;
}

static bool more(const struct mdm_json_read *r, size_t n)
{
	return r->len - r->pos >= n;
}

/* Next byte, or -1 at the end of the input. */
static int peek(const struct mdm_json_read *r)
{
	return r->pos < r->len ? (unsigned char)r->buf[r->pos] : -1;
}

static void skip_ws(struct mdm_json_read *r)
{
	while (r->pos < r->len) {
		char c = r->buf[r->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		r->pos++;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p[0..4) (the caller checked they are in bounds). */
static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Length of the valid UTF-8 sequence starting at s[0] (a byte >= 0x80) within
 * avail bytes, or 0 when it is invalid or truncated (Unicode 15, table 3-7). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0; /* continuation byte, overlong lead C0/C1, or > U+10FFFF */
	if (avail < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* UTF-16 surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* > U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

bool mdm_json_read_utf8_valid(const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i = 0;

	if (!s)
		return len == 0;
	while (i < len) {
		size_t n;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* At the opening quote: scan to the closing quote, validating escapes and
 * UTF-8, and fill `t` with the text between the quotes. */
static int scan_string(struct mdm_json_read *r, struct mdm_json_read_tok *t)
{
	size_t start;

	r->pos++; /* the opening quote, checked by the caller */
	start = r->pos;
	t->type = MDM_JSON_READ_STRING;
	t->escaped = false;
	for (;;) {
		int c = peek(r);

		if (c < 0)
			return fail(r, "unterminated string");
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(r, "control character in string");
		if (c == '\\') {
			int e;

			t->escaped = true;
			if (!more(r, 2))
				return fail(r, "unterminated escape");
			e = (unsigned char)r->buf[r->pos + 1];
			if (e == 'u') {
				int u, u2;

				if (!more(r, 6) || (u = hex4(r->buf + r->pos + 2)) < 0)
					return fail(r, "bad \\u escape");
				if (u >= 0xdc00 && u <= 0xdfff)
					return fail(r, "unpaired low surrogate");
				if (u >= 0xd800 && u <= 0xdbff) {
					/* must be followed by \uDC00..\uDFFF */
					if (!more(r, 12) || r->buf[r->pos + 6] != '\\' || r->buf[r->pos + 7] != 'u' ||
					    (u2 = hex4(r->buf + r->pos + 8)) < 0xdc00 || u2 > 0xdfff)
						return fail(r, "unpaired high surrogate");
					r->pos += 6;
				}
				r->pos += 6;
			} else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
				   e == 'r' || e == 't') {
				r->pos += 2;
			} else {
				return fail(r, "bad escape");
			}
			continue;
		}
		if (c < 0x80) {
			r->pos++;
			continue;
		}
		{
			size_t n = utf8_seq((const unsigned char *)r->buf + r->pos, r->len - r->pos);

			if (n == 0)
				return fail(r, "invalid UTF-8 in string");
			r->pos += n;
		}
	}
	t->p = r->buf + start;
	t->len = r->pos - start;
	r->pos++; /* the closing quote */
	return 0;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct mdm_json_read *r, struct mdm_json_read_tok *t)
{
	size_t start = r->pos;

	if (peek(r) == '-')
		r->pos++;
	if (peek(r) == '0') {
		r->pos++;
	} else if (is_digit(peek(r))) {
		while (is_digit(peek(r)))
			r->pos++;
	} else {
		return fail(r, "bad number");
	}
	if (peek(r) == '.') {
		r->pos++;
		if (!is_digit(peek(r)))
			return fail(r, "bad number: no digit after '.'");
		while (is_digit(peek(r)))
			r->pos++;
	}
	if (peek(r) == 'e' || peek(r) == 'E') {
		r->pos++;
		if (peek(r) == '+' || peek(r) == '-')
			r->pos++;
		if (!is_digit(peek(r)))
			return fail(r, "bad number: no digit in exponent");
		while (is_digit(peek(r)))
			r->pos++;
	}
	t->type = MDM_JSON_READ_NUMBER;
	t->p = r->buf + start;
	t->len = r->pos - start;
	t->escaped = false;
	return 0;
}

static int scan_value(struct mdm_json_read *r, struct mdm_json_read_tok *t, int depth);

/* At '{' or '[': validate the nested container up to its closing bracket. */
static int scan_container(struct mdm_json_read *r, struct mdm_json_read_tok *t, int depth)
{
	size_t start = r->pos;
	bool obj = r->buf[r->pos] == '{';
	char close = obj ? '}' : ']';
	struct mdm_json_read_tok inner;
	bool first = true;

	if (depth > MDM_JSON_READ_MAX_DEPTH)
		return fail(r, "nested too deep");
	r->pos++;
	for (;;) {
		skip_ws(r);
		if (peek(r) < 0)
			return fail(r, obj ? "unterminated object" : "unterminated array");
		if (peek(r) == close) {
			r->pos++;
			break;
		}
		if (!first) {
			if (peek(r) != ',')
				return fail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
			r->pos++;
			skip_ws(r);
		}
		first = false;
		if (obj) {
			if (peek(r) != '"')
				return fail(r, "expected a string key");
			if (scan_string(r, &inner) < 0)
				return -EINVAL;
			skip_ws(r);
			if (peek(r) != ':')
				return fail(r, "expected ':'");
			r->pos++;
			skip_ws(r);
		}
		if (scan_value(r, &inner, depth + 1) < 0)
			return -EINVAL;
	}
	t->type = obj ? MDM_JSON_READ_OBJECT : MDM_JSON_READ_ARRAY;
	t->p = r->buf + start;
	t->len = r->pos - start;
	t->escaped = false;
	return 0;
}

static int scan_literal(struct mdm_json_read *r, struct mdm_json_read_tok *t, const char *word,
			enum mdm_json_read_type type)
{
	size_t n = strlen(word);

	if (!more(r, n) || memcmp(r->buf + r->pos, word, n) != 0)
		return fail(r, "bad literal");
	t->type = type;
	t->p = r->buf + r->pos;
	t->len = n;
	t->escaped = false;
	r->pos += n;
	return 0;
}

/* A value at nesting level `depth` (the members of the outer object are at 2). */
static int scan_value(struct mdm_json_read *r, struct mdm_json_read_tok *t, int depth)
{
	int c = peek(r);

	switch (c) {
	case '"':
		return scan_string(r, t);
	case '{':
	case '[':
		return scan_container(r, t, depth);
	case 't':
		return scan_literal(r, t, "true", MDM_JSON_READ_TRUE);
	case 'f':
		return scan_literal(r, t, "false", MDM_JSON_READ_FALSE);
	case 'n':
		return scan_literal(r, t, "null", MDM_JSON_READ_NULL);
	default:
		if (c == '-' || is_digit(c))
			return scan_number(r, t);
		return fail(r, c < 0 ? "missing value" : "unexpected character");
	}
}

int mdm_json_read_object(struct mdm_json_read *r, const void *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = buf ? len : 0;
	r->state = ST_FIRST;
	if (!buf && len)
		return fail(r, "no input");
	skip_ws(r);
	if (peek(r) != '{')
		return fail(r, "not an object");
	r->pos++;
	return 0;
}

static int finish(struct mdm_json_read *r)
{
	r->pos++; /* the closing brace */
	skip_ws(r);
	if (r->pos != r->len)
		return fail(r, "trailing characters after the object");
	r->state = ST_DONE;
	return 0;
}

int mdm_json_read_next(struct mdm_json_read *r, struct mdm_json_read_tok *key, struct mdm_json_read_tok *val)
{
	if (r->state == ST_DONE)
		return 0;
	if (r->state == ST_ERR)
		return -EINVAL;
	skip_ws(r);
	if (r->state == ST_FIRST) {
		if (peek(r) == '}')
			return finish(r);
	} else {
		if (peek(r) == '}')
			return finish(r);
		if (peek(r) != ',')
			return fail(r, peek(r) < 0 ? "unterminated object" : "expected ',' or '}'");
		r->pos++;
		skip_ws(r);
	}
	if (peek(r) != '"')
		return fail(r, peek(r) < 0 ? "unterminated object" : "expected a string key");
	if (scan_string(r, key) < 0)
		return -EINVAL;
	skip_ws(r);
	if (peek(r) != ':')
		return fail(r, "expected ':'");
	r->pos++;
	skip_ws(r);
	if (scan_value(r, val, 2) < 0)
		return -EINVAL;
	r->state = ST_MORE;
	return 1;
}

/* ---- decoding strings ------------------------------------------------- */

/* Decode the character at *p (< end) of a string token's text into u[0..*n)
 * as UTF-8 and advance *p. Re-checks everything: tokens may be built by hand.
 * Returns 0 or -EINVAL. */
static int dec_char(const char **p, const char *end, char u[4], size_t *n)
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t avail = (size_t)(end - *p);
	unsigned cp;

	if (s[0] != '\\') {
		if (s[0] < 0x20 || s[0] == '"')
			return -EINVAL;
		if (s[0] < 0x80) {
			*n = 1;
		} else if ((*n = utf8_seq(s, avail)) == 0) {
			return -EINVAL;
		}
		memcpy(u, s, *n);
		*p += *n;
		return 0;
	}
	if (avail < 2)
		return -EINVAL;
	switch (s[1]) {
	case '"': cp = '"'; break;
	case '\\': cp = '\\'; break;
	case '/': cp = '/'; break;
	case 'b': cp = '\b'; break;
	case 'f': cp = '\f'; break;
	case 'n': cp = '\n'; break;
	case 'r': cp = '\r'; break;
	case 't': cp = '\t'; break;
	case 'u': {
		int h, l;

		if (avail < 6 || (h = hex4((const char *)s + 2)) < 0 || (h >= 0xdc00 && h <= 0xdfff))
			return -EINVAL;
		if (h >= 0xd800 && h <= 0xdbff) {
			if (avail < 12 || s[6] != '\\' || s[7] != 'u' || (l = hex4((const char *)s + 8)) < 0xdc00 ||
			    l > 0xdfff)
				return -EINVAL;
			cp = 0x10000 + (((unsigned)h - 0xd800) << 10) + ((unsigned)l - 0xdc00);
			*p += 12;
		} else {
			cp = (unsigned)h;
			*p += 6;
		}
		goto encode;
	}
	default:
		return -EINVAL;
	}
	*p += 2;
encode:
	if (cp < 0x80) {
		u[0] = (char)cp;
		*n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		*n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		*n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		*n = 4;
	}
	return 0;
}

int mdm_json_read_str(const struct mdm_json_read_tok *t, char *out, size_t cap, size_t *full_len)
{
	const char *p, *end;
	size_t total = 0, w = 0;
	bool truncated = false;

	if (full_len)
		*full_len = 0;
	if (!t || t->type != MDM_JSON_READ_STRING || (!t->p && t->len) || (!out && cap))
		return -EINVAL;
	p = t->p;
	end = p ? p + t->len : p;
	while (p < end) {
		char u[4];
		size_t n;

		if (dec_char(&p, end, u, &n) < 0 || (n == 1 && u[0] == '\0'))
			return -EINVAL;
		total += n;
		/* once one character did not fit, later (shorter) ones must not be
		 * appended after the gap */
		if (!truncated && cap > 0 && w + n <= cap - 1) {
			memcpy(out + w, u, n);
			w += n;
		} else {
			truncated = true;
		}
	}
	if (cap > 0)
		out[w] = '\0';
	if (full_len)
		*full_len = total;
	return truncated ? -ENOSPC : 0;
}

bool mdm_json_read_str_eq(const struct mdm_json_read_tok *t, const char *s)
{
	const char *p, *end;
	size_t i = 0, slen;

	if (!t || !s || t->type != MDM_JSON_READ_STRING || (!t->p && t->len))
		return false;
	slen = strlen(s);
	if (!t->escaped)
		return t->len == slen && (slen == 0 || memcmp(t->p, s, slen) == 0);
	p = t->p;
	end = p + t->len;
	while (p < end) {
		char u[4];
		size_t n;

		if (dec_char(&p, end, u, &n) < 0 || n > slen - i || memcmp(s + i, u, n) != 0)
			return false;
		i += n;
	}
	return i == slen;
}

int mdm_json_read_u64(const struct mdm_json_read_tok *t, uint64_t *v)
{
	uint64_t x = 0;

	if (!t || !v || t->type != MDM_JSON_READ_NUMBER || !t->p || t->len == 0)
		return -EINVAL;
	if (t->len > 1 && t->p[0] == '0')
		return -EINVAL; /* not a JSON number; hand-built token */
	for (size_t i = 0; i < t->len; i++)
		if (!is_digit((unsigned char)t->p[i]))
			return -EINVAL; /* sign, fraction or exponent */
	for (size_t i = 0; i < t->len; i++) {
		unsigned d = (unsigned)(t->p[i] - '0');

		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}
