/* Order book state from ITCH order messages: live orders by reference number
 * and price levels per (locate, side), giving the best bid/offer of every
 * symbol. Everything is allocated at create time; applying a message never
 * allocates.
 *
 * Structures and costs:
 *   - Orders live in an open-addressing table keyed by the 64-bit reference
 *     (slot from the reference's low bits, so the rising references of one
 *     trading day stay in cache; linear probing, backward-shift deletion, so there
 *     are no tombstones and probe lengths do not decay). At most 7/8 of the
 *     slots are used; an add beyond that is counted in `full` and dropped.
 *     Lookup, add and delete are O(1) expected.
 *   - Each order points at its price level (aggregate shares and order count)
 *     in a preallocated pool; a second open-addressing table finds a level by
 *     (locate, side, price). Levels of one (locate, side) form a list sorted
 *     best first, so the BBO is the list head: O(1) to read.
 *   - Executions, cancels and deletes are O(1): the order knows its level;
 *     an emptied level is unlinked in O(1), and the next one is the new best.
 *   - An add at an existing price is O(1). An add that opens a new price
 *     level walks the list from whichever end (best or worst) is nearer in
 *     price: O(k), k = levels passed. New levels are usually opened near the
 *     touch, so k is small on the common path.
 *   - If the level pool is exhausted the order is still tracked, but without
 *     a level (counted in `level_full`); the BBO then ignores it.
 *
 * Memory: 24 bytes per order slot, 64 bytes per level (pool entry plus two
 * level-table slots), plus 1 MiB of list ends. The defaults (4 Mi slots,
 * 1 Mi levels) take about 161 MiB, sized for a full NASDAQ day.
 *
 * Threading: one owner thread. book_stats() may be read from another thread
 * for monitoring (plain uint64_t, single writer, no cross-field consistency).
 * book_apply() and book_bbo() are hot-path safe. */
#ifndef BOOK_H
#define BOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "itch.h"

#define BOOK_ORDER_CAPACITY_DEFAULT (1u << 22) /* 4 Mi slots, 3.5 Mi live orders */

struct book;

struct book_params {
	uint32_t order_capacity; /* power of two >= 16; 0 = BOOK_ORDER_CAPACITY_DEFAULT */
	uint32_t level_capacity; /* price levels; 0 = order_capacity / 4 */
};

/* What book_apply() did: 0 = the book changed (this status's OK), the others
 * say why it did not (a value, not an error: an ignored type is normal). Not
 * counted by reason: book_stats names a counter for each outcome it tracks. */
enum book_status {
	BOOK_APPLIED = 0,     /* the book changed */
	BOOK_IGNORED = 1,     /* the type does not touch the book (P, Q, B, S, R, ...) */
	BOOK_UNKNOWN_REF = 2, /* E/C/X/D/U for a reference we do not hold (joined mid-session) */
	BOOK_DUP_REF = 3,     /* add (A/F, or U's new reference) of a reference already live */
	BOOK_FULL = 4,        /* add dropped: the order table is at its maximum load */
	BOOK_INVALID = 5,     /* add with zero shares or a side other than 'B'/'S' */
	BOOK_STATUS_COUNT
};

#define BOOK_VIEW_KNOWN 0x01 /* the order was found (or added): side/price valid */
#define BOOK_VIEW_TRADE 0x02 /* E/C: trade_shares traded at trade_price */
#define BOOK_VIEW_GONE 0x04  /* the order left the book (shares == 0 now) */

/* The order a message acted on, after the message. For U, the new order
 * (orig_ref is the replaced one). */
struct book_view {
	uint64_t ref;          /* order reference (U: the new one) */
	uint64_t orig_ref;     /* U: replaced reference; otherwise == ref */
	uint32_t price;        /* order's limit price, Price(4) */
	uint32_t shares;       /* remaining shares after the message (0 if gone) */
	uint32_t delta_shares; /* shares the message removed: executed (E/C), cancelled (X),
				* remaining at delete (D) or replace (U, of the original) */
	uint32_t trade_price;  /* E: order price; C: execution_price; else 0 */
	uint32_t trade_shares; /* E/C: executed shares as reported; else 0 */
	uint16_t locate;       /* the order's locate (header locate when unknown) */
	uint8_t side;          /* 'B' or 'S'; 0 when unknown */
	uint8_t flags;         /* BOOK_VIEW_* */
};

struct book_bbo {
	uint32_t bid_price, ask_price;   /* Price(4); 0 when the side is empty */
	uint64_t bid_shares, ask_shares; /* at the best level; 0 when empty */
	uint32_t bid_orders, ask_orders;
};

struct book_stats {
	uint64_t orders;          /* gauge: live orders */
	uint64_t levels;          /* gauge: live price levels */
	uint64_t capacity;        /* order table slots */
	uint64_t max_orders;      /* live orders accepted (7/8 of capacity) */
	uint64_t max_probe;       /* longest probe seen, in slots past the home slot */
	uint64_t adds;            /* A/F and U's new orders added */
	uint64_t executions;      /* E/C applied */
	uint64_t cancels;         /* X applied */
	uint64_t deletes;         /* D applied */
	uint64_t replaces;        /* U applied (original found) */
	uint64_t unknown_ref;
	uint64_t dup_ref;
	uint64_t full;
	uint64_t invalid;
	uint64_t overfill;        /* E/C/X for more shares than remained: order removed */
	uint64_t locate_mismatch; /* message locate differs from the order's */
	uint64_t level_full;      /* orders tracked without a level: pool exhausted */
};

/* Allocate a book. params may be NULL (defaults). Returns 0, -EINVAL
 * (capacity not a power of two, or < 16), or -ENOMEM. Not hot-path. */
int book_create(struct book **out, const struct book_params *params);

/* Free a book; NULL is a no-op. */
void book_destroy(struct book *b);

/* Apply a decoded message (itch_decode() returned ITCH_OK, so every field is
 * inside the message). Fills `view` (always; zeroed for ignored types) and
 * returns what it did. Hot-path safe, never allocates. */
enum book_status book_apply(struct book *b, const struct itch_msg *m, struct book_view *view);

/* Best bid and offer of `locate`. Returns false (and zeroes `out`) when both
 * sides are empty. O(1). */
bool book_bbo(const struct book *b, uint16_t locate, struct book_bbo *out);

/* One price level as the book aggregates it (book_levels). */
struct book_level_info {
	uint32_t price;  /* Price(4) */
	uint32_t orders; /* live orders at the price */
	uint64_t shares; /* their remaining shares */
};

/* The best n levels of (locate, side 'B' or 'S'), best first, into out[];
 * returns how many there are (<= n). O(returned): the level list is kept
 * sorted, so depth needs no sort. */
unsigned book_levels(const struct book *b, uint16_t locate, uint8_t side, struct book_level_info *out, unsigned n);

/* Look up a live order without changing anything. Returns false if absent. */
bool book_order(const struct book *b, uint64_t ref, struct book_view *view);

/* Iterate the live orders, in slot order: start with *cursor = 0; each call
 * fills `out` (side, price, shares, locate, ref; flags KNOWN) and returns
 * true, or false at the end. The book must not change meanwhile. Not
 * hot-path (checkpoints). */
bool book_next_order(const struct book *b, uint64_t *cursor, struct book_view *out);

/* Make dst an exact copy of src's orders and levels (dst's counters are
 * kept; its gauges follow src). Both need the same order and level
 * capacities: 0, or -EINVAL. O(capacity): for a warm start, not the hot path. */
int book_copy(struct book *dst, const struct book *src);

/* Drop every order and level (counters kept; gauges to 0). O(capacity):
 * for a session change, not the hot path. */
void book_reset(struct book *b);

const struct book_stats *book_stats(const struct book *b);

#endif
