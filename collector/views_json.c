/* One market view as a JSON object: `mdmesh feed dump --bbo/--depth`,
 * `mdmesh book --json` and the collector's /views.json print the same shape. */
#include "views_json.h"

static void levels(struct mdm_json *j, const char *key, const struct book_level_info *l, unsigned n)
{
	mdm_json_key(j, key);
	mdm_json_arr_begin(j);
	for (unsigned i = 0; i < n; i++) {
		mdm_json_obj_begin(j);
		mdm_json_ku64(j, "price", l[i].price);
		mdm_json_ku64(j, "size", l[i].shares);
		mdm_json_ku64(j, "orders", l[i].orders);
		mdm_json_obj_end(j);
	}
	mdm_json_arr_end(j);
}

void views_json(struct mdm_json *j, const char *session, const char *symbol, const struct views_out *o)
{
	mdm_json_obj_begin(j);
	mdm_json_kstr(j, "view", o->kind == VIEWS_BBO ? "bbo" : "depth");
	mdm_json_kstr(j, "session", session);
	mdm_json_ku64(j, "seq", o->seq);
	mdm_json_kstr(j, "symbol", symbol);
	mdm_json_ku64(j, "stock_locate", o->locate);
	mdm_json_ku64(j, "ts", o->ts_ns);
	if (o->kind == VIEWS_BBO) {
		mdm_json_ku64(j, "bid_price", o->bbo.bid_price);
		mdm_json_ku64(j, "bid_size", o->bbo.bid_shares);
		mdm_json_ku64(j, "bid_orders", o->bbo.bid_orders);
		mdm_json_ku64(j, "ask_price", o->bbo.ask_price);
		mdm_json_ku64(j, "ask_size", o->bbo.ask_shares);
		mdm_json_ku64(j, "ask_orders", o->bbo.ask_orders);
	} else {
		levels(j, "bids", o->bids, o->n_bids);
		levels(j, "asks", o->asks, o->n_asks);
	}
	mdm_json_ku64(j, "flags", o->flags);
	mdm_json_obj_end(j);
}
