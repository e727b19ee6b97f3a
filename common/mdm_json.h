/* Streaming JSON writer into an mdm_buf: commas and escaping are handled here,
 * so callers only say what to write. Nesting depth is bounded (32). Output is
 * compact (no spaces), one document per writer reset. Not thread-safe. */
#ifndef MDM_JSON_H
#define MDM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_buf.h"

#define MDM_JSON_MAX_DEPTH 32

struct mdm_json {
	struct mdm_buf *out;               /* borrowed; appended to */
	int depth;
	bool first[MDM_JSON_MAX_DEPTH + 1]; /* no element written yet at this level */
	bool after_key;                    /* the next value completes a "key": pair */
};

/* Start writing into `out` (appends; does not reset it). */
void mdm_json_init(struct mdm_json *j, struct mdm_buf *out);

void mdm_json_obj_begin(struct mdm_json *j);
void mdm_json_obj_end(struct mdm_json *j);
void mdm_json_arr_begin(struct mdm_json *j);
void mdm_json_arr_end(struct mdm_json *j);
/* Object key; the next call writes its value. */
void mdm_json_key(struct mdm_json *j, const char *key);

void mdm_json_str(struct mdm_json *j, const char *s);
/* String of exactly n bytes (may contain NULs; they are escaped). */
void mdm_json_strn(struct mdm_json *j, const char *s, size_t n);
void mdm_json_u64(struct mdm_json *j, uint64_t v);
void mdm_json_i64(struct mdm_json *j, int64_t v);
/* Doubles: NaN and infinities are written as null (JSON has no such numbers). */
void mdm_json_dbl(struct mdm_json *j, double v);
void mdm_json_bool(struct mdm_json *j, bool v);
void mdm_json_null(struct mdm_json *j);
/* Already-serialized JSON, inserted as one value. */
void mdm_json_raw(struct mdm_json *j, const char *json);
/* The same for n bytes that are not NUL-terminated. */
void mdm_json_rawn(struct mdm_json *j, const char *json, size_t n);

/* key + value shorthands */
void mdm_json_kstr(struct mdm_json *j, const char *key, const char *s);
void mdm_json_ku64(struct mdm_json *j, const char *key, uint64_t v);
void mdm_json_ki64(struct mdm_json *j, const char *key, int64_t v);
void mdm_json_kdbl(struct mdm_json *j, const char *key, double v);
void mdm_json_kbool(struct mdm_json *j, const char *key, bool v);

/* 0, or -ENOMEM if any append failed. */
int mdm_json_status(const struct mdm_json *j);

#endif
