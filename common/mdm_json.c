/* JSON writer. Strings are escaped per RFC 8259; bytes >= 0x80 pass through
 * unchanged (feed alphas are ASCII; anything else is the caller's UTF-8).
 *
 * Written here rather than with libjansson (which reads JSON, mdm_json_read.h)
 * because it streams: one call per value into a reused buffer, nothing
 * allocated once the buffer has grown, where jansson builds a tree of
 * allocated nodes and then dumps it. `mdmesh feed dump` writes a line per ITCH
 * message; for an Add Order line (12 members), 1M lines, CPU time on the
 * loaded 2-core box: 0.92-0.97 us a line here, 2.37-2.44 us with jansson
 * (json_object_set_new_nocheck + json_dumpb of the same object). Dumping
 * `mdmesh-loadgen synth --messages 1000000 --symbols 5000 --seed 3` took
 * 2.25 s of user CPU in all, so jansson would add about 1.4 s (60%). jansson
 * would also refuse alpha fields that are not UTF-8 (a symbol with a byte
 * 0x80, as a hostile feed sends), where this writer passes them through. */
#include "mdm_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mdm_json_init(struct mdm_json *j, struct mdm_buf *out)
{
	j->out = out;
	j->depth = 0;
	j->first[0] = true;
	j->after_key = false;
}

/* Comma before every element but the first of its container. */
static void sep(struct mdm_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		mdm_buf_putc(j->out, ',');
	j->first[j->depth] = false;
}

static void open(struct mdm_json *j, char c)
{
	sep(j);
	mdm_buf_putc(j->out, c);
	if (j->depth < MDM_JSON_MAX_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct mdm_json *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	mdm_buf_putc(j->out, c);
}

void mdm_json_obj_begin(struct mdm_json *j) { open(j, '{'); }
void mdm_json_obj_end(struct mdm_json *j) { close_(j, '}'); }
void mdm_json_arr_begin(struct mdm_json *j) { open(j, '['); }
void mdm_json_arr_end(struct mdm_json *j) { close_(j, ']'); }

static void put_escaped(struct mdm_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	mdm_buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		const char *e = NULL;

		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				esc[6] = '\0';
				e = esc;
			}
		}
		if (e) {
			mdm_buf_append(b, s + i - run, run);
			run = 0;
			mdm_buf_puts(b, e);
		} else {
			run++;
		}
	}
	mdm_buf_append(b, s + n - run, run);
	mdm_buf_putc(b, '"');
}

void mdm_json_key(struct mdm_json *j, const char *key)
{
	sep(j);
	put_escaped(j->out, key, strlen(key));
	mdm_buf_putc(j->out, ':');
	j->after_key = true;
}

void mdm_json_strn(struct mdm_json *j, const char *s, size_t n)
{
	sep(j);
	put_escaped(j->out, s, n);
}

void mdm_json_str(struct mdm_json *j, const char *s)
{
	if (!s) {
		mdm_json_null(j);
		return;
	}
	mdm_json_strn(j, s, strlen(s));
}

void mdm_json_u64(struct mdm_json *j, uint64_t v)
{
	sep(j);
	mdm_buf_printf(j->out, "%" PRIu64, v);
}

void mdm_json_i64(struct mdm_json *j, int64_t v)
{
	sep(j);
	mdm_buf_printf(j->out, "%" PRId64, v);
}

void mdm_json_dbl(struct mdm_json *j, double v)
{
	sep(j);
	char tmp[32];

	if (isnan(v) || isinf(v)) {
		mdm_buf_puts(j->out, "null");
		return;
	}
	/* shortest form that reads back as the same double: 1.25e-05, not
	 * 1.2500000000000001e-05 */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	mdm_buf_puts(j->out, tmp);
}

void mdm_json_bool(struct mdm_json *j, bool v)
{
	sep(j);
	mdm_buf_puts(j->out, v ? "true" : "false");
}

void mdm_json_null(struct mdm_json *j)
{
	sep(j);
	mdm_buf_puts(j->out, "null");
}

void mdm_json_raw(struct mdm_json *j, const char *json)
{
	mdm_json_rawn(j, json, strlen(json));
}

void mdm_json_rawn(struct mdm_json *j, const char *json, size_t n)
{
	sep(j);
	mdm_buf_append(j->out, json, n);
}

void mdm_json_kstr(struct mdm_json *j, const char *key, const char *s) { mdm_json_key(j, key); mdm_json_str(j, s); }
void mdm_json_ku64(struct mdm_json *j, const char *key, uint64_t v) { mdm_json_key(j, key); mdm_json_u64(j, v); }
void mdm_json_ki64(struct mdm_json *j, const char *key, int64_t v) { mdm_json_key(j, key); mdm_json_i64(j, v); }
void mdm_json_kdbl(struct mdm_json *j, const char *key, double v) { mdm_json_key(j, key); mdm_json_dbl(j, v); }
void mdm_json_kbool(struct mdm_json *j, const char *key, bool v) { mdm_json_key(j, key); mdm_json_bool(j, v); }

int mdm_json_status(const struct mdm_json *j)
{
	return j->out->oom ? -ENOMEM : 0;
}
