/* The symbol of every event, and the stock locate -> symbol map behind it.
 *
 * An event's symbol is the message's own `stock` field when its type has one
 * (R, H, Y, L, K, J, h, A, F, P, Q, I, ...: the rows of itch_msgs.def with a
 * `stock` field) and it is not blank; otherwise the map's symbol for the
 * message's locate (E, C, X, D, U). The map learns from Stock Directory (R)
 * messages and, for a locate no R named (a late joiner), from the first
 * message that carries its own stock. NASDAQ assigns locates per day, so
 * the map belongs to one session: call symbols_reset() on a session change.
 * All 65536 entries are allocated at create time; a lookup is one array index.
 *
 * A symbol is kept as sent: SYMBOLS_LEN bytes, space-padded. Its text (the
 * MarketEvent's symbol, the dump's, the subject token's input) is
 * symbols_text(): trailing spaces trimmed, then itch_text(), so "E F" stays
 * "E F" and 0x80 'X' is "\x80X". Unusual symbols are counted by reason.
 *
 * Threading: one owner thread. symbols_stats() may be read from another
 * thread for monitoring (mdm_counter_get: single writer; no cross-field
 * consistency). Every call except create/destroy/reset is hot-path safe. */
#ifndef SYMBOLS_H
#define SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "itch.h"
#include "mdm_enum.h"

#define SYMBOLS_LEN 8                               /* ITCH stock field width */
#define SYMBOLS_TEXT_MAX ITCH_TEXT_MAX(SYMBOLS_LEN) /* longest symbol text (32) */
#define SYMBOLS_LOCATES 65536                       /* every u16 locate */

/* Why a symbol is unusual: one row per reason; the name is the stats key and
 * the /metrics `reason` label. One symbol may count under several. */
#define SYMBOLS_UNUSUAL(X)                                                                        \
	X(SYMBOLS_EMPTY, "empty")         /* R with an all-space stock: nothing recorded */         \
	X(SYMBOLS_SPACE, "space")         /* a space before the padding ("E F"): '_' in a subject */ \
	X(SYMBOLS_CONTROL, "control")     /* a byte 0x00-0x1f or 0x7f: \xHH in the text */           \
	X(SYMBOLS_NON_ASCII, "non_ascii") /* a byte >= 0x80: \xHH in the text */

enum symbols_unusual { SYMBOLS_UNUSUAL(MDM_ENUM_ID) SYMBOLS_UNUSUAL_COUNT };

struct symbols;

struct symbols_stats {
	uint64_t known;     /* gauge: locates with a symbol */
	uint64_t set;       /* R messages recorded (and symbols seeded by a resume) */
	uint64_t learned;   /* locates learned from a message's own stock: no R seen for them */
	uint64_t redefined; /* R for a locate that already had a different symbol */
	uint64_t unknown;   /* events without a stock of their own whose locate has no symbol */
	uint64_t unusual[SYMBOLS_UNUSUAL_COUNT]; /* symbols recorded or refused, by reason */
};

/* Allocate an empty map (512 KiB and the stock-field table). Returns 0 or
 * -EINVAL / -ENOMEM. */
int symbols_create(struct symbols **out);

/* Free the map; NULL is a no-op. */
void symbols_destroy(struct symbols *s);

/* Record `stock` (SYMBOLS_LEN bytes, space-padded as on the wire) for
 * `locate`, replacing what the locate had. A stock of spaces only is counted
 * (unusual "empty") and not recorded. Returns true if recorded. */
bool symbols_set(struct symbols *s, uint16_t locate, const uint8_t *stock);

/* If `m` is a Stock Directory message, record its (locate, stock) and return
 * true; any other type is ignored (false). */
bool symbols_apply(struct symbols *s, const struct itch_msg *m);

/* The symbol of event `m` (see the top of this file), recording R and
 * learning a locate's symbol from a message's own stock: SYMBOLS_LEN bytes as
 * sent, space-padded, or NULL when the event has none (market-wide, or a
 * locate without a symbol: counted in `unknown`). The pointer is into the
 * message or the map: valid until the message's buffer goes, or the next
 * change of that locate. */
const uint8_t *symbols_of(struct symbols *s, const struct itch_msg *m);

/* The map's symbol of `locate` (SYMBOLS_LEN bytes, space-padded), or NULL
 * when it has none, without counting. */
const uint8_t *symbols_peek(const struct symbols *s, uint16_t locate);

/* Forget every symbol (counters are kept, `known` drops to 0). O(65536). */
void symbols_reset(struct symbols *s);

const struct symbols_stats *symbols_stats(const struct symbols *s);

/* Stats key of a reason ("space", ...); "unknown" outside the table. */
const char *symbols_unusual_name(enum symbols_unusual reason);

/* Bytes of a stock (SYMBOLS_LEN, space-padded) before its padding; 0 for NULL.
 * One load: in big-endian order the padding is the low bytes, spaces there
 * XOR to zero, so the trailing zero bits count it (runs once per event). */
static inline size_t symbols_len(const uint8_t *stock)
{
	uint64_t v = stock ? itch_be64(stock) ^ 0x2020202020202020ull : 0;

	return v ? SYMBOLS_LEN - (size_t)__builtin_ctzll(v) / 8 : 0;
}

/* The text of a stock (NULL: ""): symbols_len() bytes through itch_text(),
 * into out[SYMBOLS_TEXT_MAX + 1]. Returns its length. */
static inline size_t symbols_text(char *out, const uint8_t *stock)
{
	return itch_text(out, stock, symbols_len(stock));
}

#endif
