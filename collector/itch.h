/* NASDAQ TotalView-ITCH 5.0 decoding: zero-copy views over message bytes,
 * driven by the table in common/itch_msgs.def (one row per type). Pure logic: no
 * DPDK, no NATS, no allocation; hot-path safe and thread-safe (read-only
 * tables). */
#ifndef ITCH_H
#define ITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_itch.h"

#define ITCH_HEADER_LEN 11
#define ITCH_MSG_TYPES MDM_ITCH_NTYPES /* rows in common/itch_msgs.def */
#define ITCH_MAX_FIELDS 14     /* most fields in one type (R) */
#define ITCH_MAX_MSG_LEN 50    /* longest type (I) */

enum itch_field_kind {
	ITCH_F_ALPHA,  /* ASCII, right-padded with spaces */
	ITCH_F_UINT,   /* big-endian unsigned, size 1..8 */
	ITCH_F_PRICE4, /* u32, 4 implied decimals */
	ITCH_F_PRICE8, /* u64, 8 implied decimals */
};

/* One body field (read-only outside itch.c). */
struct itch_field {
	const char *name; /* spec name, snake_case; = events.proto body field */
	uint8_t offset;   /* from byte 0 of the message */
	uint8_t size;     /* bytes */
	uint8_t kind;     /* enum itch_field_kind */
};

/* One message type (read-only outside itch.c). */
struct itch_msg_desc {
	uint8_t type;                    /* type byte, e.g. 'A' */
	uint8_t length;                  /* exact wire length */
	uint8_t n_fields;
	uint8_t index;                   /* 0..ITCH_MSG_TYPES-1, dense, for per-type counters */
	const char *name;                /* snake_case; = MarketEvent oneof field name */
	const struct itch_field *fields; /* n_fields entries, in wire order */
};

/* Decode results: one row per outcome, 0 = decoded. The name is the stats key
 * and the /metrics `reason` label of a message that was not decoded (it still
 * consumed its sequence number); the text is for people. Counters by reason
 * are arrays indexed by the status, named from this table. */
#define ITCH_STATUSES(X)                                                                        \
	X(ITCH_OK, "ok", "ok")                                                                  \
	/* type byte not in the table: skipped by its framed length */                          \
	X(ITCH_ERR_UNKNOWN_TYPE, "unknown_type", "unknown message type")                        \
	/* framed length differs from the type's length */                                      \
	X(ITCH_ERR_LENGTH, "bad_length", "length does not match the message type")              \
	/* zero-length message */                                                               \
	X(ITCH_ERR_EMPTY, "empty", "empty message")

enum itch_status {
#define ITCH_ENUM(id, name, text) id,
	ITCH_STATUSES(ITCH_ENUM)
#undef ITCH_ENUM
	ITCH_STATUS_COUNT
};

/* A decoded message: a view into the caller's buffer, valid as long as it is. */
struct itch_msg {
	const uint8_t *p;                 /* message bytes, p[0] is the type */
	const struct itch_msg_desc *desc; /* never NULL after ITCH_OK */
	uint64_t timestamp_ns;            /* ns since midnight */
	uint16_t stock_locate;
	uint16_t tracking_number;
	uint8_t type;
};

/* Descriptor of a type byte, or NULL when the type is unknown. O(1). */
const struct itch_msg_desc *itch_desc(uint8_t type);

/* Descriptor by dense index 0..ITCH_MSG_TYPES-1 (for iteration); NULL past the end. */
const struct itch_msg_desc *itch_desc_at(unsigned index);

/* Field of `desc` by spec name, or NULL. Linear: for set-up, not per message. */
const struct itch_field *itch_field_find(const struct itch_msg_desc *desc, const char *name);

/* Decode the message p[0..len) (len = the framed length). Checks the length
 * against the type before reading any field. Returns ITCH_OK or the reason
 * the message was not decoded; `out` is filled only on ITCH_OK. Hot-path safe. */
enum itch_status itch_decode(const uint8_t *p, size_t len, struct itch_msg *out);

/* Stats key / metric label of a status ("unknown_type", ...); "unknown"
 * outside the table. */
const char *itch_status_name(enum itch_status status);

/* Human-readable reason for a status; "unknown status" outside the table. */
const char *itch_status_str(enum itch_status status);

/* Big-endian loads (unaligned-safe). */
static inline uint64_t itch_be(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v = v << 8 | p[i];
	return v;
}
static inline uint16_t itch_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t itch_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t itch_be48(const uint8_t *p) { return (uint64_t)itch_be16(p) << 32 | itch_be32(p + 2); }
static inline uint64_t itch_be64(const uint8_t *p) { return (uint64_t)itch_be32(p) << 32 | itch_be32(p + 4); }

#define ITCH_ADD_ORDER_LEN 36

/* Write an Add Order (A) message into out[ITCH_ADD_ORDER_LEN]: timestamp and
 * tracking number 0, stock = the first SYMBOLS_LEN bytes of `stock` (NULL:
 * spaces). For restoring a book from a checkpoint, tests and benchmarks. */
void itch_add_order(uint8_t *out, uint16_t locate, uint64_t ref, uint8_t side, uint32_t shares, const uint8_t *stock,
		    uint32_t price);

/* Value of a UINT/PRICE field of a decoded message. */
static inline uint64_t itch_field_uint(const struct itch_msg *m, const struct itch_field *f)
{
	return itch_be(m->p + f->offset, f->size);
}

/* An ALPHA field with the right-padding spaces removed: sets *len and returns
 * a pointer into the message (not NUL-terminated). */
static inline const char *itch_field_alpha(const struct itch_msg *m, const struct itch_field *f, size_t *len)
{
	size_t n = f->size;

	while (n > 0 && m->p[f->offset + n - 1] == ' ')
		n--;
	*len = n;
	return (const char *)m->p + f->offset;
}

/* ITCH alpha bytes as text. ALPHA fields are ASCII by the specification, but
 * the bytes are the sender's, and the text goes into protobuf strings, JSON
 * and PostgreSQL text columns, which must be valid UTF-8. So: a printable
 * ASCII byte (0x20..0x7e) other than '\' stands for itself; every other byte
 * (controls, '\', DEL, >= 0x80) is written \xHH with two uppercase hex
 * digits. The text is printable ASCII, equals the bytes for every well-formed
 * value, and gives the bytes back exactly (itch_text_parse). */
#define ITCH_TEXT_MAX(n) (4 * (n)) /* longest text of n bytes: every byte escaped */

static inline bool itch_text_plain(uint8_t c)
{
	return c >= 0x20 && c <= 0x7e && c != '\\';
}

/* Text of s[0..n) into out, which has room for ITCH_TEXT_MAX(n) + 1 bytes;
 * NUL-terminated. Returns the text's length. Hot-path safe. */
size_t itch_text(char *out, const uint8_t *s, size_t n);

/* The bytes itch_text() wrote `text` for, into out[0..cap). Returns their
 * count, or -1 when `text` is not itch_text output (a byte outside printable
 * ASCII, '\' not followed by xHH in uppercase hex) or needs more than cap. */
int itch_text_parse(uint8_t *out, size_t cap, const char *text);

#endif
