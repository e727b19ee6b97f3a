/* Views as ring records and back: views_rec.h. */
#include "views_rec.h"

#include <errno.h>
#include <string.h>

static void rec_head(struct rx_event *e, const struct views_out *o, const char *session, const char *symbol,
		     uint8_t kind, unsigned part)
{
	size_t sl = strnlen(symbol, sizeof(e->symbol));

	e->seq = o->seq;
	e->flags = kind;
	e->reserved = RX_VIEW_HDR(part, o->shared_seq, o->flags, o->locate);
	e->len = 0;
	memset(e->symbol, 0, sizeof(e->symbol));
	memcpy(e->symbol, symbol, sl);
	memset(e->session, 0, sizeof(e->session));
	memcpy(e->session, session, strnlen(session, sizeof(e->session)));
}

unsigned views_rec_put(const struct views_out *o, const char *session, const char *symbol, struct rx_event *out)
{
	unsigned total, parts;

	if (o->kind == VIEWS_BBO) {
		struct rx_bbo b = { .ts_ns = o->ts_ns, .bbo = o->bbo };

		rec_head(out, o, session, symbol, RX_EV_BBO, 0);
		rx_event_payload_put(out, &b, sizeof(b));
		return 1;
	}
	total = o->n_bids + o->n_asks;
	parts = total ? (total + RX_DEPTH_PART_LEVELS - 1) / RX_DEPTH_PART_LEVELS : 1;
	for (unsigned k = 0; k < parts; k++) {
		struct rx_depth d = { .ts_ns = o->ts_ns, .n_bids = (uint8_t)o->n_bids, .n_asks = (uint8_t)o->n_asks };

		for (unsigned j = 0; j < RX_DEPTH_PART_LEVELS; j++) {
			unsigned i = k * RX_DEPTH_PART_LEVELS + j;

			if (i < total)
				d.lv[j] = i < o->n_bids ? o->bids[i] : o->asks[i - o->n_bids];
		}
		rec_head(&out[k], o, session, symbol, RX_EV_DEPTH, k);
		rx_event_payload_put(&out[k], &d, sizeof(d));
	}
	return parts;
}

int views_rec_take(struct views_rec_asm *a, const struct rx_event *e)
{
	unsigned part = RX_VIEW_PART(e->reserved), total, parts;
	struct rx_depth d;

	if (e->flags & RX_EV_BBO) {
		struct rx_bbo b;

		rx_event_payload_get(e, &b, sizeof(b));
		a->next_part = 0;
		a->o = (struct views_out){ .kind = VIEWS_BBO, .locate = RX_VIEW_LOCATE(e->reserved),
					   .flags = RX_VIEW_FLAGS(e->reserved), .seq = e->seq, .ts_ns = b.ts_ns,
					   .shared_seq = RX_VIEW_SHARED(e->reserved), .bbo = b.bbo };
		return 1;
	}
	rx_event_payload_get(e, &d, sizeof(d));
	total = (unsigned)d.n_bids + d.n_asks;
	if (d.n_bids > VIEWS_MAX_LEVELS || d.n_asks > VIEWS_MAX_LEVELS || 
	    (part && (part != a->next_part || a->o.seq != e->seq || a->o.locate != RX_VIEW_LOCATE(e->reserved)))) {
		a->next_part = 0;
		return -EINVAL;
	}
	if (part == 0)
		a->o = (struct views_out){ .kind = VIEWS_DEPTH, .locate = RX_VIEW_LOCATE(e->reserved),
					   .flags = RX_VIEW_FLAGS(e->reserved), .seq = e->seq, .ts_ns = d.ts_ns,
					   .shared_seq = RX_VIEW_SHARED(e->reserved), .n_bids = d.n_bids,
					   .n_asks = d.n_asks, .bids = a->lv, .asks = a->lv + d.n_bids };
	for (unsigned j = 0; j < RX_DEPTH_PART_LEVELS && part * RX_DEPTH_PART_LEVELS + j < total; j++)
		a->lv[part * RX_DEPTH_PART_LEVELS + j] = d.lv[j];
	parts = total ? (total + RX_DEPTH_PART_LEVELS - 1) / RX_DEPTH_PART_LEVELS : 1;
	a->next_part = part + 1 < parts ? part + 1 : 0;
	return a->next_part == 0;
}
