/* mdm_json_read: JSON the project reads (the reference-data values in the
 * `refdata` KV bucket, {"sector":"...","lot_size":100}), parsed by libjansson
 * under one set of rules, plus what jansson leaves to its callers: a string
 * cut to a fixed-size field at a UTF-8 character boundary, and a UTF-8 check
 * of raw bytes.
 *
 * Rules (jansson's, RFC 8259): strings valid UTF-8 (no overlongs, surrogates
 * or code points above U+10FFFF), \u escapes with paired surrogates, numbers
 * by the JSON grammar (no leading zeros, "+", NaN or Infinity), nothing but
 * whitespace after the value; integers must fit int64. The top level must be
 * an object. \u0000 is allowed inside string values (such a string is then
 * refused by mdm_json_read_str), not inside keys. Duplicate keys: the last
 * wins. Nesting is limited by jansson (2048 levels).
 *
 * Objects are jansson's json_t: release them with json_decref(). Thread-safety
 * is jansson's: an object is read by any number of threads once built. */
#ifndef MDM_JSON_READ_H
#define MDM_JSON_READ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse buf[0..len) (need not be NUL-terminated; never read past len) as a
 * JSON object. Returns a new reference, or NULL when the input is not a JSON
 * object (or memory ran out); then, when why is not NULL, why[0..why_cap)
 * receives jansson's reason with its position, e.g. "'[' or '{' expected near
 * 'x' (line 1, column 1)". */
json_t *mdm_json_read_object(const void *buf, size_t len, char *why, size_t why_cap);

/* String member `key` of object `obj` into out[0..cap) (cap >= 1) as a
 * NUL-terminated C string. Returns 0; -ENOSPC when it is longer: out then
 * holds the longest prefix that fits without splitting a UTF-8 character;
 * -EINVAL, with out = "", when there is no such member, it is not a string,
 * or it holds a NUL character (\u0000 has no place in a C string). */
int mdm_json_read_str(const json_t *obj, const char *key, char *out, size_t cap);

/* Member `key` of `obj` that is a non-negative integer (no fraction or
 * exponent) into *v. Returns 0, or -EINVAL (then *v is untouched). */
int mdm_json_read_u64(const json_t *obj, const char *key, uint64_t *v);

/* true when s[0..len) is valid UTF-8 by the rules above (NUL bytes are valid
 * UTF-8), so a writer can refuse text a reader would reject. Checked by
 * jansson, which copies the bytes: out of memory also answers false. */
bool mdm_json_read_utf8_valid(const void *s, size_t len);

#endif
