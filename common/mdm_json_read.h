/* mdm_json_read: a small, strict JSON reader for flat objects, e.g. the
 * reference-data values in the `refdata` KV bucket ({"sector":"...",
 * "lot_size":100}). It iterates an object's members in place: keys and values
 * are views into the caller's buffer, nothing is allocated and nothing is
 * copied until the caller asks (mdm_json_read_str). Every read is bounds-checked
 * against the given length; the input need not be NUL-terminated and may hold
 * any bytes, so it is safe on untrusted (fuzzed) input.
 *
 * Grammar: RFC 8259. Strings must be valid UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF), \u escapes must pair surrogates correctly,
 * numbers follow the JSON grammar exactly (no leading zeros, no "+", no
 * NaN/Infinity). A member whose value is a nested object or array is validated
 * (depth at most MDM_JSON_READ_MAX_DEPTH, counting the outer object as 1) and
 * returned as one token whose raw text the caller may ignore; deeper nesting is
 * refused. Duplicate keys are returned as they come: the caller decides (the
 * usual choice is "last wins").
 *
 * Thread-safety: a reader is used by one thread; tokens and the input buffer
 * may be read by any thread. No function allocates. */
#ifndef MDM_JSON_READ_H
#define MDM_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MDM_JSON_READ_MAX_DEPTH 16

enum mdm_json_read_type {
	MDM_JSON_READ_STRING = 1,
	MDM_JSON_READ_NUMBER,
	MDM_JSON_READ_TRUE,
	MDM_JSON_READ_FALSE,
	MDM_JSON_READ_NULL,
	MDM_JSON_READ_OBJECT, /* a nested object: validated, raw text only */
	MDM_JSON_READ_ARRAY,  /* a nested array: validated, raw text only */
};

/* One key or value, a view into the input (valid while the input is).
 * STRING: [p, p + len) is the text between the quotes, escapes not yet
 * decoded (`escaped` says whether there are any). Every other type: the raw
 * token text, e.g. "-1.5e3", "true", "[1,2]". */
struct mdm_json_read_tok {
	enum mdm_json_read_type type;
	const char *p;
	size_t len;
	bool escaped;
};

/* Iteration state. Fields are read-only outside mdm_json_read.c, except that
 * `err` and `err_pos` may be read after an error. */
struct mdm_json_read {
	const char *buf;
	size_t len;
	size_t pos;
	int state;
	const char *err;  /* static text of the first syntax error, NULL if none */
	size_t err_pos;   /* byte offset of that error in the input */
};

/* Start reading the object in buf[0..len): optional whitespace, then '{'.
 * Returns 0, or -EINVAL when the input does not start with an object (also
 * for buf == NULL with len > 0); r->err says why. Never reads past len. */
int mdm_json_read_object(struct mdm_json_read *r, const void *buf, size_t len);

/* Next member of the object.
 * Returns 1 with *key (always a STRING) and *val set; 0 at the closing '}'
 * when nothing but whitespace follows it (the whole input is then known to be
 * valid; further calls return 0 again); -EINVAL on a syntax error, with
 * r->err and r->err_pos set (further calls return -EINVAL again). Members
 * returned before an error were valid, but the document as a whole is not:
 * callers that need all-or-nothing keep what they read until 0 is returned. */
int mdm_json_read_next(struct mdm_json_read *r, struct mdm_json_read_tok *key,
		       struct mdm_json_read_tok *val);

/* Decode STRING token `t` into out[0..cap) as a NUL-terminated C string.
 * *full_len (may be NULL) receives the decoded length in bytes.
 * Returns 0; -ENOSPC when it does not fit: out then holds the longest prefix
 * that fits without splitting a UTF-8 character, NUL-terminated (nothing is
 * written when cap == 0, and out may then be NULL); -EINVAL when `t` is not a
 * string, is malformed, or decodes to a NUL character (\u0000 cannot be
 * represented in a C string). */
int mdm_json_read_str(const struct mdm_json_read_tok *t, char *out, size_t cap, size_t *full_len);

/* true when STRING token `t` decodes to exactly the C string `s`. */
bool mdm_json_read_str_eq(const struct mdm_json_read_tok *t, const char *s);

/* Value of a NUMBER token that is a non-negative integer (digits only, no
 * sign, fraction or exponent). Returns 0; -ERANGE above UINT64_MAX; -EINVAL
 * for any other token. */
int mdm_json_read_u64(const struct mdm_json_read_tok *t, uint64_t *v);

/* true when s[0..len) is valid UTF-8 by the same rules the reader applies to
 * strings, so writers can refuse text a reader would reject. */
bool mdm_json_read_utf8_valid(const void *s, size_t len);

#endif
