/* MarketEvent -> trade rows and Trade/Bar messages; absolute times from the
 * US/Eastern session midnight (common/mdm_et.c). */
#include "derive.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_et.h"


void derive_init(struct derive *d, uint32_t default_session_date)
{
	memset(d, 0, sizeof(*d));
	d->default_session_date = default_session_date;
}

int derive_midnight_et_ns(uint32_t yyyymmdd, uint64_t *out_ns)
{
	if (mdm_et_midnight_ns(yyyymmdd, out_ns) != 0)
		return mdm_err_set(-EINVAL, "session date %u is not a valid YYYYMMDD date", yyyymmdd);
	return 0;
}

int derive_abs_ns(const struct derive *d, uint32_t session_date, uint64_t exchange_ts_ns, uint64_t *out_ns)
{
	uint64_t midnight_ns = 0;
	int rc;

	if (session_date == 0)
		session_date = d->default_session_date;
	if (session_date != 0 && (rc = derive_midnight_et_ns(session_date, &midnight_ns)) < 0)
		return rc;
	*out_ns = midnight_ns + exchange_ts_ns;
	return 0;
}

static char side_of(const char *s)
{
	return s && (s[0] == 'B' || s[0] == 'S') ? s[0] : 0;
}

static const char *nonempty(const char *a, const char *b)
{
	return a && a[0] ? a : b && b[0] ? b : "";
}

int derive_trade(struct derive *d, const Mdmesh__V1__MarketEvent *ev, uint64_t stream_seq,
		 struct store_trade *out)
{
	const Mdmesh__V1__EventHeader *h = ev->header;
	const Mdmesh__V1__OrderState *o = ev->order;
	bool order_known = o && o->known;
	struct store_trade t = { 0 };
	__int128 notional;
	int rc;

	switch (ev->body_case) {
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED:
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED_WITH_PRICE:
	case MDMESH__V1__MARKET_EVENT__BODY_NON_CROSS_TRADE:
	case MDMESH__V1__MARKET_EVENT__BODY_CROSS_TRADE:
		break;
	default:
		return 0;
	}
	/* every member of the body union is a pointer: testing one tests the body */
	if (!h || !ev->order_executed) {
		d->bad_input++;
		return mdm_err_set(-EINVAL, "trade event without %s", h ? "body" : "header");
	}
	t.symbol = nonempty(h->symbol, NULL);
	t.printable = true;
	switch (ev->body_case) {
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED: {
		const Mdmesh__V1__OrderExecuted *b = ev->order_executed;

		/* E carries no price: it executes at the resting order's limit,
		 * which only the book knows. Without it there is no trade to tell. */
		if (!order_known) {
			d->unknown_order++;
			return 0;
		}
		t.kind = MDMESH__V1__TRADE_KIND__TRADE_KIND_EXECUTION;
		t.price = o->price;
		t.side = side_of(o->buy_sell_indicator);
		t.shares = b->executed_shares;
		t.match_number = b->match_number;
		t.order_reference_number = b->order_reference_number;
		break;
	}
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED_WITH_PRICE: {
		const Mdmesh__V1__OrderExecutedWithPrice *b = ev->order_executed_with_price;

		/* The price is in the message, so an unknown order costs only the
		 * side: keep the trade (volume and bars stay exact). */
		if (!order_known)
			d->unknown_side++;
		t.kind = MDMESH__V1__TRADE_KIND__TRADE_KIND_EXECUTION_WITH_PRICE;
		t.price = b->execution_price;
		t.side = order_known ? side_of(o->buy_sell_indicator) : 0;
		t.shares = b->executed_shares;
		t.match_number = b->match_number;
		t.order_reference_number = b->order_reference_number;
		t.printable = b->printable && b->printable[0] == 'Y';
		break;
	}
	case MDMESH__V1__MARKET_EVENT__BODY_NON_CROSS_TRADE: {
		const Mdmesh__V1__NonCrossTrade *b = ev->non_cross_trade;

		t.kind = MDMESH__V1__TRADE_KIND__TRADE_KIND_NON_CROSS;
		t.price = b->price;
		t.side = side_of(b->buy_sell_indicator);
		t.shares = b->shares;
		t.match_number = b->match_number;
		t.order_reference_number = b->order_reference_number;
		t.symbol = nonempty(h->symbol, b->stock);
		break;
	}
	default: {
		const Mdmesh__V1__CrossTrade *b = ev->cross_trade;

		/* A cross with zero shares is NASDAQ saying "no cross happened". */
		if (b->shares == 0) {
			d->zero_cross++;
			return 0;
		}
		t.kind = MDMESH__V1__TRADE_KIND__TRADE_KIND_CROSS;
		t.price = b->cross_price;
		t.side = 0;
		t.shares = b->shares;
		t.match_number = b->match_number;
		t.symbol = nonempty(h->symbol, b->stock);
		break;
	}
	}
	/* Stores keep price * shares as a signed 64-bit notional (for VWAP and
	 * the high-value index); a product beyond that is not a real trade. */
	notional = (__int128)t.price * (__int128)t.shares;
	if (notional > INT64_MAX) {
		d->bad_input++;
		return mdm_err_set(-EINVAL, "%s.%s.%" PRIu64 ": price %u * shares %" PRIu64 " overflows",
				   h->feed, h->session, h->seq, t.price, t.shares);
	}
	rc = derive_abs_ns(d, h->session_date, h->exchange_ts_ns, &t.ts_ns);
	if (rc < 0) {
		d->bad_input++;
		return rc;
	}
	t.feed = h->feed;
	t.session = h->session;
	t.seq = h->seq;
	t.stream_seq = stream_seq;
	t.rx_ts_ns = h->rx_ts_ns;
	if (ev->quote_before) {
		t.has_quote = true;
		t.bid_price = ev->quote_before->bid_price;
		t.bid_size = ev->quote_before->bid_size;
		t.ask_price = ev->quote_before->ask_price;
		t.ask_size = ev->quote_before->ask_size;
	}
	*out = t;
	d->trades++;
	return 1;
}

void derive_trade_pb(const struct store_trade *t, Mdmesh__V1__Trade *out)
{
	static const Mdmesh__V1__Trade init = MDMESH__V1__TRADE__INIT;

	*out = init;
	/* protobuf-c's char * fields are never written through when packing */
	out->feed = (char *)t->feed;
	out->session = (char *)t->session;
	out->seq = t->seq;
	out->symbol = (char *)t->symbol;
	out->ts_ns = t->ts_ns;
	out->price = t->price;
	out->shares = t->shares;
	out->side = (char *)(t->side == 'B' ? "B" : t->side == 'S' ? "S" : "");
	out->match_number = t->match_number;
	out->kind = (Mdmesh__V1__TradeKind)t->kind;
	out->printable = t->printable;
	out->order_reference_number = t->order_reference_number;
	out->rx_ts_ns = t->rx_ts_ns;
}

void derive_bar_pb(const struct store_bar *b, Mdmesh__V1__Bar *out)
{
	static const Mdmesh__V1__Bar init = MDMESH__V1__BAR__INIT;

	*out = init;
	out->symbol = (char *)b->symbol;
	out->minute_ns = b->minute_ns;
	out->open = b->open;
	out->high = b->high;
	out->low = b->low;
	out->close = b->close;
	out->volume = b->volume;
	out->vwap = b->vwap;
	out->trade_count = b->trade_count;
}
