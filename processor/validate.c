/* Validation stage: checks driven by one table of what each body carries. */
#include "validate.h"

#include <errno.h>
#include <string.h>

#include "mdm_itch.h"
#include "mdm_mem.h"
#include "processor_cfg.h"

#define BODY_FIRST MDMESH__V1__MARKET_EVENT__BODY_SYSTEM_EVENT
#define BODY_LAST MDMESH__V1__MARKET_EVENT__BODY_DIRECT_LISTING_PRICE_DISCOVERY

/* ITCH type letter per body case, from the ITCH table: its rows are in
 * the oneof's field order (10..32), which test_validate checks by name. */
static const char body_types[BODY_LAST - BODY_FIRST + 1] = {
#define ITCH_MSG(type, name, ...) [MDM_ITCH_##name] = (type),
#include "itch_msgs.def"
#undef ITCH_MSG
};
_Static_assert(BODY_LAST - BODY_FIRST + 1 == MDM_ITCH_NTYPES, "MarketEvent bodies and itch_msgs.def differ in number");

char validate_body_type(Mdmesh__V1__MarketEvent__BodyCase body_case)
{
	if ((int)body_case < BODY_FIRST || (int)body_case > BODY_LAST)
		return 0;
	return body_types[body_case - BODY_FIRST];
}

/* What an event's body says about price and shares. A price of 0 where one
 * is required is never a real order or trade; crosses may print 0 shares
 * (no match) and then carry no meaningful price. */
struct amounts {
	bool has_price, has_shares;
	bool shares_required;
	uint64_t price, shares;
};

static bool body_amounts(const Mdmesh__V1__MarketEvent *ev, struct amounts *a)
{
	memset(a, 0, sizeof(*a));
	switch (ev->body_case) {
	case MDMESH__V1__MARKET_EVENT__BODY_ADD_ORDER:
		if (!ev->add_order)
			return false;
		*a = (struct amounts){ true, true, true, ev->add_order->price, ev->add_order->shares };
		break;
	case MDMESH__V1__MARKET_EVENT__BODY_ADD_ORDER_MPID:
		if (!ev->add_order_mpid)
			return false;
		*a = (struct amounts){ true, true, true, ev->add_order_mpid->price, ev->add_order_mpid->shares };
		break;
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED:
		if (!ev->order_executed)
			return false;
		*a = (struct amounts){ false, true, true, 0, ev->order_executed->executed_shares };
		break;
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED_WITH_PRICE:
		if (!ev->order_executed_with_price)
			return false;
		*a = (struct amounts){ true, true, true, ev->order_executed_with_price->execution_price,
				       ev->order_executed_with_price->executed_shares };
		break;
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_CANCEL:
		if (!ev->order_cancel)
			return false;
		*a = (struct amounts){ false, true, true, 0, ev->order_cancel->cancelled_shares };
		break;
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_REPLACE:
		if (!ev->order_replace)
			return false;
		*a = (struct amounts){ true, true, true, ev->order_replace->price, ev->order_replace->shares };
		break;
	case MDMESH__V1__MARKET_EVENT__BODY_NON_CROSS_TRADE:
		if (!ev->non_cross_trade)
			return false;
		*a = (struct amounts){ true, true, true, ev->non_cross_trade->price, ev->non_cross_trade->shares };
		break;
	case MDMESH__V1__MARKET_EVENT__BODY_CROSS_TRADE:
		if (!ev->cross_trade)
			return false;
		*a = (struct amounts){ ev->cross_trade->shares > 0, true, false, ev->cross_trade->cross_price,
				       ev->cross_trade->shares };
		break;
	default:
		break;
	}
	return true;
}

const char *validate_event(const struct validate_params *p, const Mdmesh__V1__MarketEvent *ev)
{
	const Mdmesh__V1__EventHeader *h = ev->header;
	struct amounts a;
	char type = validate_body_type(ev->body_case);

	if (p->require_header) {
		if (!h)
			return "no_header";
		if (!h->feed || !h->feed[0])
			return "no_feed";
		if (!h->session || !h->session[0])
			return "no_session";
		if (h->seq == 0)
			return "no_seq";
	}
	if (!type)
		return "unknown_type";
	/* An empty header.type is tolerated (the body names the type); a
	 * different one means the producer and this build disagree. */
	if (h && h->type && h->type[0] && (h->type[0] != type || h->type[1]))
		return "type_mismatch";
	if (!body_amounts(ev, &a))
		return "unknown_type";
	if (a.has_shares) {
		if (a.shares_required && a.shares == 0)
			return "shares_zero";
		if (a.shares > p->max_shares)
			return "shares_above_max";
	}
	if (a.has_price) {
		if (a.price == 0)
			return "price_not_positive";
		if (a.price < p->min_price)
			return "price_below_min";
		if (p->max_price && a.price > p->max_price)
			return "price_above_max";
	}
	return NULL;
}

static int stage_init(void **ctx, const struct mdm_stage_env *env)
{
	struct validate_params *p = mdm_calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->min_price = env->cfg->validate_min_price;
	p->max_price = env->cfg->validate_max_price;
	p->max_shares = env->cfg->validate_max_shares;
	p->require_header = env->cfg->validate_require_header;
	*ctx = p;
	return 0;
}

static int stage_process(void *ctx, struct mdm_stage_batch *b)
{
	const struct validate_params *p = ctx;

	for (size_t i = 0; i < b->n; i++) {
		struct mdm_stage_item *it = &b->items[i];
		const char *why;

		if (it->verdict != MDM_STAGE_PASS)
			continue;
		/* an Execution (exec.>) on a market-data pipeline: a filter or stream mix-up */
		why = it->ev ? validate_event(p, it->ev) : "not_a_market_event";
		if (why) {
			it->verdict = MDM_STAGE_DEAD;
			it->reason = why;
		}
	}
	return 0;
}

static void stage_fini(void *ctx)
{
	mdm_free(ctx);
}

const struct mdm_stage_ops validate_stage_ops = {
	.name = "validate",
	.init = stage_init,
	.process = stage_process,
	.flush = NULL,
	.fini = stage_fini,
};
