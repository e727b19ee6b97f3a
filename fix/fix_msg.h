/* FIX tag=value messages: framing (BeginString, BodyLength, CheckSum) and a
 * zero-copy parse into views of the receive buffer for the tags of
 * fix_tags.def, the Parties repeating group included; value parsers for the
 * FIX types mdmesh reads (integers, flags, UTCTimestamp, decimal prices into
 * 1e-8 units, never through floating point). Pure: no I/O, no allocation,
 * thread-safe, hot-path safe. Errors are FIX_R_* reasons (fix_reasons.def). */
#ifndef FIX_MSG_H
#define FIX_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIX_SOH '\001'

/* Field indexes: FIX_F_<NAME> for each row of fix_tags.def. */
enum fix_field {
#define X(name, tag) FIX_F_##name,
#include "fix_tags.def"
#undef X
	FIX_F_COUNT
};

/* Refusal reasons: FIX_R_<NAME> for each row of fix_reasons.def (1-based, so
 * a parse can return -FIX_R_x). */
enum fix_reason {
	FIX_R_NONE = 0,
#define X(name, label) FIX_R_##name,
#include "fix_reasons.def"
#undef X
	FIX_R_COUNT
};

/* "garbage", "bad_checksum", ...; "none" for 0, "?" out of range. */
const char *fix_reason_name(int reason);

/* A value inside the message buffer (not NUL-terminated). len 0 = absent. */
struct fix_view {
	const char *p;
	uint32_t len;
};

#define FIX_PARTIES_MAX 8

/* One Parties entry (453 group): PartyID 448, PartyIDSource 447, PartyRole 452. */
struct fix_party {
	struct fix_view id, source, role;
};

/* A parsed message: views into the framed bytes, valid while they are. */
struct fix_msg {
	struct fix_view f[FIX_F_COUNT];
	struct fix_party parties[FIX_PARTIES_MAX];
	uint32_t n_parties;        /* entries kept (at most FIX_PARTIES_MAX; more are skipped) */
	uint32_t bad_tag;          /* the tag a refusal is about (RefTagID), 0 when none */
	const char *raw;           /* the whole message, 8= .. 10=xxx<SOH> */
	uint32_t raw_len;
};

/* Find one message at the start of buf[0..len).
 * @param max_len  the longest message accepted (bytes, whole message).
 * @return the message's length (> 0); 0 when more bytes are needed; or
 *         -FIX_R_GARBAGE (buf does not start with "8=FIX": call fix_resync),
 *         -FIX_R_BAD_BODY_LENGTH, -FIX_R_BAD_CHECKSUM, -FIX_R_OVERSIZED (skip
 *         with fix_resync from buf + 1). */
int fix_frame(const char *buf, size_t len, size_t max_len);

/* The whole length buf's header declares (8=, 9=, the body, 10=xxx<SOH>),
 * whatever max_len fix_frame was given; 0 when the header is not readable.
 * For skipping an -FIX_R_OVERSIZED message exactly. */
size_t fix_frame_declared_len(const char *buf, size_t len);

/* Bytes to skip from buf so that it starts at the next "8=FIX" at or after
 * offset `from` (or len minus a possible prefix of "8=FIX" at the end). */
size_t fix_resync(const char *buf, size_t len, size_t from);

/* Parse a framed message (fix_frame returned len) into m. Checks tag=value
 * syntax, 8/9/35 in first positions, duplicate tags outside the group, the
 * group count, and presence of the standard header (35 49 56 34 52).
 * @return 0, or -FIX_R_BAD_FIELD, -FIX_R_DUPLICATE_TAG, -FIX_R_BAD_GROUP,
 *         -FIX_R_MISSING_TAG (m->bad_tag names the tag). */
int fix_parse(struct fix_msg *m, const char *buf, size_t len);

static inline bool fix_has(const struct fix_msg *m, enum fix_field f)
{
	return m->f[f].len > 0;
}

/* True when the view equals the NUL-terminated s. */
bool fix_view_eq(struct fix_view v, const char *s);

/* A non-negative decimal integer (digits only, at most 18). 0 or -EINVAL. */
int fix_view_u64(struct fix_view v, uint64_t *out);

/* A FIX decimal ("-12.5", "100", ".25") as an integer count of 1e-8 units.
 * More than 8 decimals is refused unless the extra digits are zeros (the value
 * is then exact); so is a magnitude above 9.2e10.
 * @return 0, -EINVAL (not a decimal), -ERANGE (precision or magnitude). */
int fix_view_dec8(struct fix_view v, int64_t *out);

/* UTCTimestamp YYYYMMDD-HH:MM:SS[.s up to 9 digits] to ns since the epoch.
 * 0 or -EINVAL. */
int fix_view_utc_ns(struct fix_view v, uint64_t *out_ns);

/* Format ns since the epoch as YYYYMMDD-HH:MM:SS.sss into out (22 bytes with
 * the NUL). Returns 21. */
int fix_utc_format(uint64_t ns, char *out);

/* Format a 1e-8 fixed-point value as the shortest exact FIX decimal into out
 * (at least 24 bytes). Returns the length. */
int fix_dec8_format(int64_t v, char *out);

#endif
