/* ITCH 5.0 encoders of the synthesizer: one explicit function per message
 * type, writing each field at its offset from the spec (ITCH_FACTS.md section
 * 2) and the same value into the truth object. Deliberately independent of
 * common/itch_msgs.def, so comparing a decoder with the truth tests it. */
#include <string.h>

#include "synth_impl.h"

static const char *const mpids[] = { "GSCO", "MSCO", "JPMS", "CDEL", "NITE", "UBSS", "VIRT", "CITD" };
_Static_assert(sizeof(mpids) / sizeof(mpids[0]) == SYNTH_N_MPIDS, "MPID table size");

/* Truth numbers are most of the truth's bytes; formatting them here instead of
 * through printf makes `--truth` several times cheaper. */
static void json_ku64(struct mdm_json *j, const char *key, uint64_t v)
{
	char tmp[21], *p = tmp + sizeof(tmp) - 1;

	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	mdm_json_key(j, key);
	mdm_json_raw(j, p);
}

static void hdr(struct mdm_synth *s, char type, uint8_t len, uint16_t locate, uint64_t ts)
{
	struct synth_msgbuf *m = &s->cur;
	uint16_t tracking = (uint16_t)(1 + synth_rng_below(&s->gen, 8));
	char t = type;

	memset(m->b, 0, sizeof(m->b));
	m->len = len;
	m->b[0] = (uint8_t)type;
	synth_put_be(m->b + 1, 2, locate);
	synth_put_be(m->b + 3, 2, tracking);
	synth_put_be(m->b + 5, 6, ts);
	s->st.by_type[(uint8_t)type]++;
	if (!s->truth_on)
		return;
	mdm_buf_reset(&s->cur_truth);
	mdm_json_init(&s->j, &s->cur_truth);
	mdm_json_obj_begin(&s->j);
	mdm_json_kstr(&s->j, "session", s->session_trim);
	json_ku64(&s->j, "seq", s->seq);
	mdm_json_key(&s->j, "type");
	mdm_json_strn(&s->j, &t, 1);
	json_ku64(&s->j, "stock_locate", locate);
	json_ku64(&s->j, "tracking_number", tracking);
	json_ku64(&s->j, "timestamp", ts);
	mdm_json_kstr(&s->j, "symbol", locate ? s->syms[locate].name : "");
}

static void f_uint(struct mdm_synth *s, unsigned off, unsigned size, const char *key, uint64_t v)
{
	synth_put_be(s->cur.b + off, size, v);
	if (s->truth_on)
		json_ku64(&s->j, key, v);
}

/* Alpha: left-justified, space-padded on the wire; trimmed in the truth. */
static void f_alpha(struct mdm_synth *s, unsigned off, unsigned size, const char *key, const char *v)
{
	size_t n = strnlen(v, size);

	memset(s->cur.b + off, ' ', size);
	memcpy(s->cur.b + off, v, n);
	while (n > 0 && v[n - 1] == ' ')
		n--;
	if (s->truth_on) {
		mdm_json_key(&s->j, key);
		mdm_json_strn(&s->j, v, n);
	}
}

static void f_char(struct mdm_synth *s, unsigned off, const char *key, char c)
{
	s->cur.b[off] = (uint8_t)c;
	if (s->truth_on) {
		mdm_json_key(&s->j, key);
		mdm_json_strn(&s->j, &c, c == ' ' ? 0 : 1);
	}
}

static void f_stock(struct mdm_synth *s, unsigned off, uint16_t locate)
{
	f_alpha(s, off, 8, "stock", s->syms[locate].name);
}

static void msg_end(struct mdm_synth *s)
{
	if (s->truth_on)
		mdm_json_obj_end(&s->j);
}

void synth_msg_system_event(struct mdm_synth *s, uint64_t ts, char code)
{
	hdr(s, 'S', 12, 0, ts);
	f_char(s, 11, "event_code", code);
	msg_end(s);
}

void synth_msg_stock_directory(struct mdm_synth *s, uint64_t ts, uint16_t loc)
{
	static const char categories[] = "QQQGGSSNNAPZV";
	static const char *const subtypes[] = { "Z", "A", "C", "Z", "Z" };
	char cat = categories[synth_rng_below(&s->gen, sizeof(categories) - 1)];
	bool nasdaq = cat == 'Q' || cat == 'G' || cat == 'S';
	bool etp = synth_rng_below(&s->gen, 20) == 0;

	hdr(s, 'R', 39, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "market_category", cat);
	f_char(s, 20, "financial_status_indicator", nasdaq ? 'N' : ' ');
	f_uint(s, 21, 4, "round_lot_size", 100);
	f_char(s, 25, "round_lots_only", 'N');
	f_char(s, 26, "issue_classification", etp ? 'Q' : 'C');
	f_alpha(s, 27, 2, "issue_sub_type", subtypes[synth_rng_below(&s->gen, 5)]);
	f_char(s, 29, "authenticity", 'P');
	f_char(s, 30, "short_sale_threshold_indicator", nasdaq ? 'N' : ' ');
	f_char(s, 31, "ipo_flag", loc == s->ipo_loc ? 'Y' : nasdaq ? 'N' : ' ');
	f_char(s, 32, "luld_reference_price_tier", synth_rng_below(&s->gen, 3) ? '2' : '1');
	f_char(s, 33, "etp_flag", etp ? 'Y' : 'N');
	f_uint(s, 34, 4, "etp_leverage_factor", etp ? 1 + synth_rng_below(&s->gen, 3) : 0);
	f_char(s, 38, "inverse_indicator", etp && synth_rng_below(&s->gen, 4) == 0 ? 'Y' : 'N');
	msg_end(s);
}

void synth_msg_trading_action(struct mdm_synth *s, uint64_t ts, uint16_t loc, char state, const char *reason)
{
	hdr(s, 'H', 25, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "trading_state", state);
	f_char(s, 20, "reserved", ' ');
	f_alpha(s, 21, 4, "reason", reason);
	msg_end(s);
}

void synth_msg_reg_sho(struct mdm_synth *s, uint64_t ts, uint16_t loc)
{
	hdr(s, 'Y', 20, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "reg_sho_action", (char)('0' + synth_rng_below(&s->gen, 3)));
	msg_end(s);
}

void synth_msg_participant(struct mdm_synth *s, uint64_t ts, uint16_t loc, unsigned mpid)
{
	hdr(s, 'L', 26, loc, ts);
	f_alpha(s, 11, 4, "mpid", mpids[mpid]);
	f_stock(s, 15, loc);
	f_char(s, 23, "primary_market_maker", synth_rng_below(&s->gen, 4) ? 'N' : 'Y');
	f_char(s, 24, "market_maker_mode", "NNNNP"[synth_rng_below(&s->gen, 5)]);
	f_char(s, 25, "market_participant_state", "AAAAE"[synth_rng_below(&s->gen, 5)]);
	msg_end(s);
}

void synth_msg_mwcb_decline(struct mdm_synth *s, uint64_t ts)
{
	/* 7 %, 13 % and 20 % below a previous S&P 500 close of 6,000.00. */
	hdr(s, 'V', 35, 0, ts);
	f_uint(s, 11, 8, "level1", 558000000000ull);
	f_uint(s, 19, 8, "level2", 522000000000ull);
	f_uint(s, 27, 8, "level3", 480000000000ull);
	msg_end(s);
}

void synth_msg_mwcb_status(struct mdm_synth *s, uint64_t ts, char level)
{
	hdr(s, 'W', 12, 0, ts);
	f_char(s, 11, "breached_level", level);
	msg_end(s);
}

void synth_msg_ipo_quoting(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint32_t release_s)
{
	hdr(s, 'K', 28, loc, ts);
	f_stock(s, 11, loc);
	f_uint(s, 19, 4, "ipo_quotation_release_time", release_s);
	f_char(s, 23, "ipo_quotation_release_qualifier", 'A');
	f_uint(s, 24, 4, "ipo_price", s->syms[loc].mid);
	msg_end(s);
}

void synth_msg_luld_collar(struct mdm_synth *s, uint64_t ts, uint16_t loc)
{
	uint32_t ref = s->syms[loc].mid, band = ref / 20 / TICK * TICK;

	hdr(s, 'J', 35, loc, ts);
	f_stock(s, 11, loc);
	f_uint(s, 19, 4, "auction_collar_reference_price", ref);
	f_uint(s, 23, 4, "upper_auction_collar_price", ref + band);
	f_uint(s, 27, 4, "lower_auction_collar_price", ref - band);
	f_uint(s, 31, 4, "auction_collar_extension", 0);
	msg_end(s);
}

void synth_msg_operational_halt(struct mdm_synth *s, uint64_t ts, uint16_t loc, char action)
{
	hdr(s, 'h', 21, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "market_code", 'Q');
	f_char(s, 20, "operational_halt_action", action);
	msg_end(s);
}

void synth_msg_add(struct mdm_synth *s, uint64_t ts, const struct synth_order *o, int mpid)
{
	hdr(s, mpid >= 0 ? 'F' : 'A', mpid >= 0 ? 40 : 36, o->locate, ts);
	f_uint(s, 11, 8, "order_reference_number", o->ref);
	f_char(s, 19, "buy_sell_indicator", o->side);
	f_uint(s, 20, 4, "shares", o->shares);
	f_stock(s, 24, o->locate);
	f_uint(s, 32, 4, "price", o->price);
	if (mpid >= 0)
		f_alpha(s, 36, 4, "attribution", mpids[mpid]);
	msg_end(s);
}

void synth_msg_executed(struct mdm_synth *s, uint64_t ts, const struct synth_order *o, uint32_t shares, uint64_t match)
{
	hdr(s, 'E', 31, o->locate, ts);
	f_uint(s, 11, 8, "order_reference_number", o->ref);
	f_uint(s, 19, 4, "executed_shares", shares);
	f_uint(s, 23, 8, "match_number", match);
	msg_end(s);
}

void synth_msg_executed_price(struct mdm_synth *s, uint64_t ts, const struct synth_order *o, uint32_t shares,
			     uint64_t match, char printable, uint32_t price)
{
	hdr(s, 'C', 36, o->locate, ts);
	f_uint(s, 11, 8, "order_reference_number", o->ref);
	f_uint(s, 19, 4, "executed_shares", shares);
	f_uint(s, 23, 8, "match_number", match);
	f_char(s, 31, "printable", printable);
	f_uint(s, 32, 4, "execution_price", price);
	msg_end(s);
}

void synth_msg_cancel(struct mdm_synth *s, uint64_t ts, const struct synth_order *o, uint32_t shares)
{
	hdr(s, 'X', 23, o->locate, ts);
	f_uint(s, 11, 8, "order_reference_number", o->ref);
	f_uint(s, 19, 4, "cancelled_shares", shares);
	msg_end(s);
}

void synth_msg_delete(struct mdm_synth *s, uint64_t ts, const struct synth_order *o)
{
	hdr(s, 'D', 19, o->locate, ts);
	f_uint(s, 11, 8, "order_reference_number", o->ref);
	msg_end(s);
}

void synth_msg_replace(struct mdm_synth *s, uint64_t ts, const struct synth_order *old, const struct synth_order *nw)
{
	hdr(s, 'U', 35, old->locate, ts);
	f_uint(s, 11, 8, "original_order_reference_number", old->ref);
	f_uint(s, 19, 8, "new_order_reference_number", nw->ref);
	f_uint(s, 27, 4, "shares", nw->shares);
	f_uint(s, 31, 4, "price", nw->price);
	msg_end(s);
}

void synth_msg_trade(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint32_t shares, uint32_t price, uint64_t match)
{
	hdr(s, 'P', 44, loc, ts);
	f_uint(s, 11, 8, "order_reference_number", 0); /* always 0 since 2010 */
	f_char(s, 19, "buy_sell_indicator", 'B');      /* always B since 2014 */
	f_uint(s, 20, 4, "shares", shares);
	f_stock(s, 24, loc);
	f_uint(s, 32, 4, "price", price);
	f_uint(s, 36, 8, "match_number", match);
	msg_end(s);
}

void synth_msg_cross(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint64_t shares, uint64_t match, char type)
{
	hdr(s, 'Q', 40, loc, ts);
	f_uint(s, 11, 8, "shares", shares);
	f_stock(s, 19, loc);
	f_uint(s, 27, 4, "cross_price", s->syms[loc].mid);
	f_uint(s, 31, 8, "match_number", match);
	f_char(s, 39, "cross_type", type);
	msg_end(s);
}

void synth_msg_broken(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint64_t match)
{
	hdr(s, 'B', 19, loc, ts);
	f_uint(s, 11, 8, "match_number", match);
	msg_end(s);
}

void synth_msg_noii(struct mdm_synth *s, uint64_t ts, uint16_t loc, char cross_type)
{
	char dir = "BSBSNO"[synth_rng_below(&s->gen, 6)];
	uint32_t ref = s->syms[loc].mid;
	uint32_t near = ref + TICK * synth_rng_below(&s->gen, 5), far = near + TICK * synth_rng_below(&s->gen, 5);

	hdr(s, 'I', 50, loc, ts);
	f_uint(s, 11, 8, "paired_shares", 100ull * synth_rng_below(&s->gen, 50000));
	f_uint(s, 19, 8, "imbalance_shares", dir == 'N' ? 0 : 100ull * (1 + synth_rng_below(&s->gen, 5000)));
	f_char(s, 27, "imbalance_direction", dir);
	f_stock(s, 28, loc);
	f_uint(s, 36, 4, "far_price", dir == 'O' ? 0 : far);
	f_uint(s, 40, 4, "near_price", dir == 'O' ? 0 : near);
	f_uint(s, 44, 4, "current_reference_price", ref);
	f_char(s, 48, "cross_type", cross_type);
	f_char(s, 49, "price_variation_indicator", "L123456789ABC "[synth_rng_below(&s->gen, 14)]);
	msg_end(s);
}

void synth_msg_rpii(struct mdm_synth *s, uint64_t ts, uint16_t loc)
{
	hdr(s, 'N', 20, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "interest_flag", "BSAN"[synth_rng_below(&s->gen, 4)]);
	msg_end(s);
}

void synth_msg_dlcr(struct mdm_synth *s, uint64_t ts, uint16_t loc)
{
	uint32_t ref = s->syms[loc].mid, band = ref / 5 / TICK * TICK, collar = ref / 10 / TICK * TICK;

	hdr(s, 'O', 48, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "open_eligibility_status", 'Y');
	f_uint(s, 20, 4, "minimum_allowable_price", ref - band);
	f_uint(s, 24, 4, "maximum_allowable_price", ref + band);
	f_uint(s, 28, 4, "near_execution_price", ref);
	f_uint(s, 32, 8, "near_execution_time", ts);
	f_uint(s, 40, 4, "lower_price_range_collar", ref - collar);
	f_uint(s, 44, 4, "upper_price_range_collar", ref + collar);
	msg_end(s);
}
