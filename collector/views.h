/* Market views of the book for subscribers: top of book (BBO) and depth
 * (N price levels a side), per symbol (locate). Pure logic: no DPDK, no NATS;
 * one owner thread (the one that owns the book); everything is allocated at
 * create time, so the hot-path calls never allocate.
 *
 * Driven by the feed chain (feed.c calls views_on_msg after each book change
 * and views_on_seq_event on sequencer events); the caller then calls
 * views_flush after each packet and views_drain at the end:
 *   - BBO: one view per symbol per packet whose best bid or offer (price,
 *     size or order count) or flags differ from the last one emitted: the
 *     packet's last state (VIEWS_F_LAST). header seq/ts: the last message that
 *     changed the BBO (a deeper change does not).
 *   - DEPTH: the best depth_levels levels a side, after a change of the
 *     symbol's book, at most once per depth_interval_ns per symbol, measured
 *     in EXCHANGE time (the ITCH timestamps): deterministic, so a replay at
 *     any speed emits the same depth views with the same sequence numbers. A
 *     change inside the interval is emitted once the interval has passed (at
 *     the first packet after it), or at drain. seq/ts: the last message that
 *     changed the symbol's book.
 *   - MAYBE_BAD_BOOK: set for a symbol once an order message of it acted on a
 *     reference the book did not hold (E/C/X/D/U), added a reference already
 *     live, or was dropped for a full table; and for every symbol once the
 *     sequencer declared a gap (the lost messages' symbols are unknown, and a
 *     late-filled gap is applied out of order). Kept until the session
 *     changes: ITCH has no book snapshot that could clear it. A flag change is
 *     a change of the view: it is emitted.
 *   - drain: a final BBO and DEPTH (VIEWS_F_SNAPSHOT) of every symbol whose
 *     book changed, so the last value of each equals the book.
 * Costs: views_on_msg O(1) (reads the symbol's BBO); views_flush O(changed
 * symbols + depth levels emitted); a depth comes from the book's sorted level
 * lists (book_levels), no sort. */
#ifndef VIEWS_H
#define VIEWS_H

#include <stdbool.h>
#include <stdint.h>

#include "book.h"
#include "itch.h"
#include "seq.h"

#define VIEWS_F_LAST 0x01
#define VIEWS_F_MAYBE_BAD_BOOK 0x02
#define VIEWS_F_SNAPSHOT 0x04

#define VIEWS_MAX_LEVELS 50
#define VIEWS_DEPTH_LEVELS_DEFAULT 10
#define VIEWS_DEPTH_INTERVAL_DEFAULT_NS 100000000ull /* 100 ms */

enum views_kind {
	VIEWS_BBO = 1,
	VIEWS_DEPTH = 2,
};

struct views_params {
	bool bbo;                   /* emit BBO views */
	unsigned depth_levels;      /* levels a side, 1..VIEWS_MAX_LEVELS; 0 = no depth views */
	uint64_t depth_interval_ns; /* exchange time between two depths of a symbol; 0 = every change */
};

/* One emitted view, valid for the duration of the emit callback. */
struct views_out {
	enum views_kind kind;
	uint16_t locate;
	uint8_t flags;        /* VIEWS_F_* */
	uint64_t seq;         /* last message that changed the view */
	uint64_t ts_ns;       /* its ITCH timestamp (ns since midnight) */
	/* seq alone does not name this view: a gap's seq (every symbol is
	 * flagged at it) or a drain snapshot (the seq of an earlier view). A
	 * Msg-Id then needs the locate too. */
	bool shared_seq;
	struct book_bbo bbo;  /* VIEWS_BBO */
	unsigned n_bids, n_asks;                   /* VIEWS_DEPTH */
	const struct book_level_info *bids, *asks; /* best first */
};

typedef void (*views_emit_fn)(void *ctx, const struct views_out *v);

struct views_stats {
	uint64_t bbo;          /* BBO views emitted (changes) */
	uint64_t depth;        /* DEPTH views emitted (changes) */
	uint64_t snapshots;    /* views emitted at drain */
	uint64_t depth_deferred; /* depth changes held back by the interval */
	uint64_t bad_symbols;  /* symbols flagged MAYBE_BAD_BOOK (gap: every known one) */
	uint64_t gaps;         /* gaps declared: every symbol flagged */
};

struct views;

/* 0, -EINVAL (depth_levels above VIEWS_MAX_LEVELS; detail via mdm_err_last())
 * or -ENOMEM. Not hot-path. */
int views_create(struct views **out, const struct views_params *p);
void views_destroy(struct views *v); /* NULL-safe */

/* After the book applied message m (seq) with result `rc` (enum book_result)
 * and view `bv` (book_apply's). Hot path, O(1). */
void views_on_msg(struct views *v, const struct book *b, const struct itch_msg *m, uint64_t seq, enum book_status rc,
		  const struct book_view *bv);

/* Sequencer events: a declared gap flags every symbol; a session change
 * forgets every symbol (the book was reset). */
void views_on_seq_event(struct views *v, const struct seq_event *ev);

/* End of a packet: emit the views of the symbols it changed (and depths
 * whose interval has passed). Hot path. Returns the number emitted. */
unsigned views_flush(struct views *v, const struct book *b, views_emit_fn emit, void *ctx);

/* End of input: views_flush, then a BBO and a DEPTH flagged SNAPSHOT of
 * every symbol whose book changed. Returns the number emitted. */
unsigned views_drain(struct views *v, const struct book *b, views_emit_fn emit, void *ctx);

const struct views_stats *views_stats(const struct views *v);

#endif
