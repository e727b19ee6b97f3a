/* One feed's decode chain: UDP payload -> MoldUDP64 framing -> sequencer (gaps,
 * duplicates, A/B arbitration) -> ITCH decode -> symbol map -> order book.
 * Shared by the RX lcore, `mdmesh feed dump` and `mdmesh feed bench`, so the
 * tools show exactly what the collector publishes. Pure logic (no DPDK, no
 * NATS); one owner thread; no allocation after feed_create. */
#ifndef FEED_H
#define FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "book.h"
#include "itch.h"
#include "mold.h"
#include "seq.h"
#include "symbols.h"

struct views;

struct feed;

struct feed_params {
	unsigned n_lines;        /* 1, or 2 for A/B arbitration */
	uint32_t book_capacity;  /* order table slots (power of two); 0 = book default */
	uint32_t gap_capacity;   /* missing-range table; 0 = seq default */
	uint64_t pending_ns;     /* how long a hole waits for the other line; 0 = seq default */
	struct mold_params mold; /* framing limits */
	bool no_book;            /* skip order state (benchmarks of decoding alone) */
	/* Optional (borrowed): market views told of every book change and
	 * sequencer event (views.h); the caller flushes them after each packet. */
	struct views *views;
	/* Optional: sequencer events (gaps opened/filled, session change, end of
	 * session), called on the owner thread. */
	void (*on_seq_event)(void *ctx, const struct seq_event *ev);
	void *ctx;
};

/* One delivered message, valid for the duration of the emit callback. */
struct feed_msg {
	const struct itch_msg *m;      /* decoded (ITCH_OK) */
	uint64_t seq;                  /* MoldUDP64 sequence number */
	const char *session;           /* trimmed, NUL-terminated */
	const uint8_t *stock;          /* the event's symbol as sent (symbols_of): SYMBOLS_LEN bytes,
					* space-padded; NULL when none. Text: symbols_text() */
	const struct book_view *order; /* E, C, X, D, U: the order after the message; NULL otherwise */
	const struct book_bbo *quote;  /* with views: E, C, P, Q: the symbol's BBO just before; NULL otherwise */
	uint8_t line;
};

typedef void (*feed_emit_fn)(void *ctx, const struct feed_msg *fm);

struct feed_stats {
	uint64_t packets;                     /* payloads handed in */
	uint64_t malformed[MOLD_STATUS_COUNT]; /* by enum mold_status (index 0 unused) */
	uint64_t malformed_total;
	uint64_t heartbeats;
	uint64_t end_of_session;
	uint64_t messages;                    /* delivered and decoded */
	uint64_t by_type[ITCH_MSG_TYPES];     /* by itch_msg_desc.index */
	/* messages not decoded, by enum itch_status (index 0 unused): each
	 * consumed its sequence number and was skipped */
	uint64_t bad_msgs[ITCH_STATUS_COUNT];
};

/* Returns 0, -EINVAL (bad params; detail via mdm_err_last()), -ENOMEM. */
int feed_create(struct feed **out, const struct feed_params *params);

/* NULL-safe. */
void feed_destroy(struct feed *f);

/* Process one UDP payload received on `line` at monotonic time now_ns; emit
 * every message the sequencer delivers, in sequence order. Returns the number
 * of messages emitted. Hot-path safe. */
unsigned feed_on_packet(struct feed *f, const uint8_t *p, size_t len, uint8_t line, uint64_t now_ns,
			feed_emit_fn emit, void *ctx);

/* Back to the state of a new feed (sequencer, symbols, book, counters), for
 * reuse without re-allocating. O(book capacity + 65536). */
void feed_reset(struct feed *f);

/* Where an earlier run left the feed (see seq_resume): its session, the
 * sequence numbers it delivered ([join, next - 1] less the missing ranges),
 * and the symbols it knew by locate; with a warm start, the book. */
struct feed_resume {
	const char *session;       /* trimmed, 1..10 characters */
	uint64_t join, next;
	const uint64_t *gap_from, *gap_to; /* n_gaps ascending, disjoint ranges */
	unsigned n_gaps;
	const uint16_t *locates;   /* n_symbols (locate, symbol text: symbols_text) pairs */
	const char *const *symbols;
	unsigned n_symbols;
	uint64_t now_ns;           /* the sequencer's clock */
	/* Optional, a warm start (replica.h): the book to start with (copied;
	 * same capacity as the feed's) and the symbol map behind it. */
	const struct book *book;
	const struct symbols *book_symbols;
};

/* Continue the session an earlier run was receiving: seeds the sequencer
 * (its gaps are declared now, through on_seq_event) and the symbol map. The
 * order book starts empty (orders added before the restart are unknown to
 * it) unless r->book gives it one.
 * Call before the first packet. 0, or -EINVAL (bad session or ranges; detail
 * via mdm_err_last()). Not hot-path. */
int feed_resume(struct feed *f, const struct feed_resume *r);

/* Declare holes that waited longer than pending_ns (control pass). */
unsigned feed_poll(struct feed *f, uint64_t now_ns);

const struct feed_stats *feed_stats(const struct feed *f);
const struct seq *feed_seq(const struct feed *f);
const struct book *feed_book(const struct feed *f);
const struct symbols *feed_symbols(const struct feed *f);

/* Trimmed current session ("" before the first packet). */
const char *feed_session(const struct feed *f);

#endif
