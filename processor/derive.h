/* derive: MarketEvent -> trade rows and the derived messages the processor
 * publishes (Trade on trade.<symbol>, Bar on bar.1m.<symbol>), plus the time
 * arithmetic that makes ITCH timestamps absolute: midnight US/Eastern of the
 * session date, with the US DST rule computed here (no TZ database, no
 * localtime: pure and thread-safe). No I/O, no allocation. */
#ifndef DERIVE_H
#define DERIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "mdmesh/v1/events.pb-c.h"
#include "store.h"

#define DERIVE_NS_PER_MIN 60000000000ULL

/* Per-worker deriver: settings and counters. Caller-owned storage
 * (derive_init; nothing to release). Counters are read-only outside
 * derive.c; one thread uses a deriver. */
struct derive {
	/* YYYYMMDD used when an event's header.session_date is 0; 0 = none, and
	 * then exchange_ts_ns counts from the Unix epoch (1970-01-01 00:00 UTC). */
	uint32_t default_session_date;
	uint64_t trades;            /* trades produced */
	uint64_t unknown_order;     /* E whose order is not in the book: no trade */
	uint64_t unknown_side;      /* C whose order is not in the book: trade with side 0 */
	uint64_t zero_cross;        /* Q with shares == 0 (no cross happened): no trade */
	uint64_t bad_input;         /* invalid date, missing header/body, absurd price*shares */
};

/* Zero the counters and set the default session date (see struct). */
void derive_init(struct derive *d, uint32_t default_session_date);

/* Build the trade row for an execution event (E, C, P, Q).
 * The row's strings (feed, session, symbol) borrow from `ev` and are valid as
 * long as `ev` is. stream_seq is copied into out->stream_seq.
 * Symbol: header.symbol, else the body's stock (P, Q); "" when neither is known.
 * Returns 1 and fills *out when the event is a trade; 0 when it is not (other
 * types, E of an unknown order, Q with zero shares: the last two are counted);
 * -EINVAL when the event is malformed (no header, session_date not a valid
 * date, price * shares beyond INT64_MAX; counted in bad_input, detail in
 * mdm_err_last()). Hot-path safe. */
int derive_trade(struct derive *d, const Mdmesh__V1__MarketEvent *ev, uint64_t stream_seq,
		 struct store_trade *out);

/* UTC ns since the epoch of 00:00 US/Eastern on `yyyymmdd`. DST: from the 2nd
 * Sunday of March to the 1st Sunday of November (switches at 02:00 local, so
 * midnight of the March switch day is still EST, UTC-5, and midnight of the
 * November one still EDT, UTC-4). Valid for years 1970..9999 (the rule as in
 * force since 2007 is applied to every year). 0 or -EINVAL (not a date). */
int derive_midnight_et_ns(uint32_t yyyymmdd, uint64_t *out_ns);

/* Absolute time of an ITCH timestamp: midnight ET of session_date (or the
 * default date, or the epoch; see struct derive) + exchange_ts_ns. ITCH
 * counts ns since midnight without a DST jump, and no session spans a DST
 * switch (they happen on Sundays at 02:00). 0 or -EINVAL. */
int derive_abs_ns(const struct derive *d, uint32_t session_date, uint64_t exchange_ts_ns, uint64_t *out_ns);

/* Start of the minute holding ts_ns. */
static inline uint64_t derive_minute_ns(uint64_t ts_ns)
{
	return ts_ns - ts_ns % DERIVE_NS_PER_MIN;
}

/* Fill a Trade message (initialised here) from a trade row. out's strings
 * borrow from `t` (side points at a static "B"/"S"/""): valid while t's are. */
void derive_trade_pb(const struct store_trade *t, Mdmesh__V1__Trade *out);

/* Fill a Bar message (initialised here) from a bars_1m row; out->symbol
 * borrows b->symbol. */
void derive_bar_pb(const struct store_bar *b, Mdmesh__V1__Bar *out);

#endif
