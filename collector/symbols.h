/* Stock locate -> symbol, learnt from ITCH Stock Directory (R) messages.
 * NASDAQ assigns locates per day, so the map belongs to one session: call
 * symbols_reset() on a session change. All 65536 entries are allocated at
 * create time; lookups are one array index.
 *
 * Threading: one owner thread. symbols_stats() may be read from another
 * thread for monitoring (plain uint64_t, single writer; no cross-field
 * consistency). Every call except create/destroy/reset is hot-path safe. */
#ifndef SYMBOLS_H
#define SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "itch.h"

#define SYMBOLS_LEN 8         /* ITCH stock field width */
#define SYMBOLS_LOCATES 65536 /* every u16 locate */

struct symbols;

struct symbols_stats {
	uint64_t known;     /* gauge: locates with a symbol */
	uint64_t set;       /* R messages recorded */
	uint64_t redefined; /* R for a locate that already had a different symbol */
	uint64_t rejected;  /* R whose stock is empty or not printable ASCII: not recorded */
	uint64_t unknown;   /* symbols_get() calls for a locate without a symbol */
};

/* Allocate an empty map (about 576 KiB). Returns 0 or -EINVAL / -ENOMEM. */
int symbols_create(struct symbols **out);

/* Free the map; NULL is a no-op. */
void symbols_destroy(struct symbols *s);

/* Record `stock` (SYMBOLS_LEN bytes, space-padded as on the wire) for
 * `locate`. Trailing spaces are trimmed. A stock that is all spaces or holds a
 * byte outside printable ASCII (0x21..0x7e before the padding) is counted in
 * `rejected` and not recorded, so the symbol is always safe to print and to
 * put in a subject token. Returns true if recorded. */
bool symbols_set(struct symbols *s, uint16_t locate, const uint8_t *stock);

/* If `m` is a Stock Directory message, record its (locate, stock) and return
 * true; any other type is ignored (false). */
bool symbols_apply(struct symbols *s, const struct itch_msg *m);

/* Symbol of `locate`, NUL-terminated, at most SYMBOLS_LEN characters; "" and
 * a count in `unknown` when none was recorded. The pointer stays valid until
 * the next symbols_set/apply for the same locate, symbols_reset or destroy. */
const char *symbols_get(struct symbols *s, uint16_t locate);

/* Like symbols_get() without counting, for readers that only peek. */
const char *symbols_peek(const struct symbols *s, uint16_t locate);

/* Forget every symbol (counters are kept, `known` drops to 0). O(65536). */
void symbols_reset(struct symbols *s);

const struct symbols_stats *symbols_stats(const struct symbols *s);

#endif
