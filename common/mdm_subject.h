/* The one rule that turns a value (a symbol, a feed, a rule or instance name)
 * into a single NATS subject token, used wherever mdmesh builds a subject or
 * a consumer name from data: every byte a token cannot hold as itself
 * (controls and space 0x00-0x20, '.', '*', '>', DEL 0x7f and every byte
 * >= 0x80) becomes '_', byte for byte, and an empty value is "_".
 * Pure functions, no allocation, thread-safe, hot-path safe. */
#ifndef MDM_SUBJECT_H
#define MDM_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

/* True when byte c stands for itself in a token. */
static inline bool mdm_subject_byte_ok(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '.' && c != '*' && c != '>';
}

/* Write the token of s[0..len) into out: at most cap - 1 bytes of it and a
 * NUL (nothing when cap is 0). s may be NULL when len is 0. Returns the
 * token's full length (len, or 1 for an empty value), so a return >= cap
 * means it was cut, as with snprintf. */
size_t mdm_subject_token(char *out, size_t cap, const char *s, size_t len);

#endif
