/* The synthetic session's content: symbols (alphabetical locates), the phase
 * schedule fixed at create time (so the message total is exact), and the order
 * flow, which keeps its own book so executions, cancels, deletes and replaces
 * only ever reference live orders with enough shares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "synth_impl.h"

#define T_START_OF_MESSAGES (3ull * 3600 * NS)        /* 03:00 */
#define T_DIRECTORY (T_START_OF_MESSAGES + NS)         /* R messages from 03:00:01 */
#define T_TRADING (T_START_OF_MESSAGES + 300 * NS)     /* H messages from 03:05 */
#define T_SYSTEM_HOURS (4ull * 3600 * NS)              /* S S, 04:00 */
#define T_MARKET_OPEN (34200ull * NS)                  /* S Q, 09:30 */
#define T_MARKET_CLOSE (57600ull * NS)                 /* S M, 16:00 */
#define T_END_SYSTEM (72000ull * NS)                   /* S E, 20:00 */
#define T_END_MESSAGES (72300ull * NS)                 /* S C, 20:05 */
#define PREAMBLE_STEP_NS 20000u                        /* between R (and H) messages */
/* The order phase must end before the close, whatever the rate. */
#define ORDER_SPAN_NS (T_MARKET_CLOSE - T_MARKET_OPEN - NS)

/* Scheduled one-message events of the order phase, at permille of it. */
static const uint16_t special_permille[SP_COUNT] = {
	[SP_IPO_QUOTE] = 50, [SP_IPO_NOII] = 90, [SP_IPO_CROSS] = 100, [SP_IPO_TRADE] = 101,
	[SP_OP_HALT] = 200, [SP_OP_RESUME] = 210, [SP_LULD_PAUSE] = 400, [SP_LULD_COLLAR] = 401,
	[SP_LULD_RESUME] = 410, [SP_MWCB] = 500,
};

/* Order-phase operations and their weights per 100,000 (ITCH_FACTS section 5:
 * adds 44 %, deletes 40 %, replaces 9 %, executions ~2 %, cancels ~1 %). */
enum op { OP_A, OP_F, OP_D, OP_U, OP_E, OP_C, OP_X, OP_P, OP_Q, OP_I, OP_N, OP_B, OP_COUNT };
static const uint32_t op_weight[OP_COUNT] = {
	[OP_A] = 38000, [OP_F] = 6000, [OP_D] = 40000, [OP_U] = 9000, [OP_E] = 1600, [OP_C] = 400,
	[OP_X] = 1200, [OP_P] = 800, [OP_Q] = 100, [OP_I] = 0, [OP_N] = 50, [OP_B] = 50,
};
/* Real books are stationary over a session, but these weights add a little
 * more than they remove (about +3 % of messages): a long run would grow the
 * book without bound (90 M messages: 2.7 M live orders, most of a collector's
 * 4 Mi-slot book, whose probes then get long). Past this many live orders per
 * symbol an add becomes a delete. */
#define LIVE_ORDERS_PER_SYMBOL 200
/* Around the open and the close: NOII and crosses. */
#define WINDOW_I_WEIGHT 6000
#define WINDOW_Q_WEIGHT 600

/* ---- symbols and order book state ---- */

static int sym_cmp(const void *a, const void *b)
{
	return strcmp(((const struct synth_sym *)a)->name, ((const struct synth_sym *)b)->name);
}

/* K distinct names of 1..5 letters (mostly 3-4, like real tickers), sorted:
 * locates are assigned alphabetically, as NASDAQ does. */
static void make_symbols(struct mdm_synth *s)
{
	uint32_t k = s->p.symbols, n = 0, i;
	struct synth_sym *sy = s->syms + 1;
	struct synth_rng r;

	synth_rng_seed(&r, s->p.seed, STREAM_NAMES);
	while (n < k) {
		for (i = n; i < k; i++) {
			uint32_t u = synth_rng_below(&r, 100);
			unsigned len = u < 1 ? 1 : u < 5 ? 2 : u < 30 ? 3 : u < 90 ? 4 : 5;

			for (unsigned c = 0; c < len; c++)
				sy[i].name[c] = (char)('A' + synth_rng_below(&r, 26));
			sy[i].name[len] = '\0';
			sy[i].len = (uint8_t)len;
		}
		qsort(sy, k, sizeof(*sy), sym_cmp);
		for (i = 1, n = 1; i < k; i++)
			if (strcmp(sy[i].name, sy[n - 1].name) != 0)
				sy[n++] = sy[i];
	}
	for (i = 0; i < k; i++)
		sy[i].mid = (100 + synth_rng_below(&s->gen, 49900)) * TICK; /* $1.00 .. $500.00 */
}

/* Activity is skewed: a few symbols carry most orders, as on a real day. */
static uint16_t pick_symbol(struct mdm_synth *s)
{
	double u = synth_rng_unit(&s->gen);

	return s->popular[(uint32_t)(u * u * u * s->p.symbols)];
}

static uint32_t pick_shares(struct mdm_synth *s)
{
	uint32_t u = synth_rng_below(&s->gen, 100);

	if (u < 80)
		return 100 * (1 + synth_rng_below(&s->gen, 10));
	if (u < 95)
		return 100 * (1 + synth_rng_below(&s->gen, 100));
	return 1 + synth_rng_below(&s->gen, 99); /* odd lot */
}

/* Random-walk the symbol's mid, then price an order a few ticks away from it. */
static uint32_t pick_price(struct mdm_synth *s, uint16_t loc, char side)
{
	struct synth_sym *sy = &s->syms[loc];
	int step = (int)synth_rng_below(&s->gen, 5) - 2;
	uint32_t off = TICK * (synth_rng_below(&s->gen, 4) == 0 ? synth_rng_below(&s->gen, 40) : synth_rng_below(&s->gen, 5));

	if (step < 0 && sy->mid > 10 * TICK)
		sy->mid -= TICK;
	else if (step > 0 && sy->mid < PRICE4_MAX / 2)
		sy->mid += TICK;
	if (side == 'S')
		return sy->mid + off;
	return sy->mid > off ? sy->mid - off : TICK;
}

static int order_push(struct mdm_synth *s, const struct synth_order *o)
{
	if (s->n_orders == s->cap_orders) {
		size_t cap = s->cap_orders ? s->cap_orders * 2 : 4096;
		struct synth_order *n = mdm_realloc(s->orders, cap * sizeof(*n));

		if (!n)
			return mdm_err_set(-ENOMEM, "synth: out of memory for %zu live orders", cap);
		s->orders = n;
		s->cap_orders = cap;
	}
	s->orders[s->n_orders++] = *o;
	return 0;
}

static void order_remove(struct mdm_synth *s, size_t i)
{
	s->orders[i] = s->orders[--s->n_orders];
}

static uint64_t new_match(struct mdm_synth *s, uint16_t loc)
{
	uint64_t m = s->next_match++;

	s->recent[s->recent_pos].match = m;
	s->recent[s->recent_pos].locate = loc;
	s->recent_pos = (s->recent_pos + 1) % RECENT_TRADES;
	if (s->n_recent < RECENT_TRADES)
		s->n_recent++;
	return m;
}

/* ---- schedule ---- */

static uint64_t order_ts(const struct mdm_synth *s, uint64_t j)
{
	unsigned __int128 t;

	if (s->order_at_rate)
		t = (unsigned __int128)(j + 1) * NS / s->p.rate;
	else
		t = (unsigned __int128)(j + 1) * ORDER_SPAN_NS / (s->order_n + 1);
	return T_MARKET_OPEN + (uint64_t)t;
}

static int push_extra(struct mdm_synth *s, size_t *cap, uint8_t kind, uint16_t loc, uint8_t arg)
{
	if (s->n_extras == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct synth_extra *n = mdm_realloc(s->extras, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->extras = n;
		*cap = nc;
	}
	s->extras[s->n_extras].kind = kind;
	s->extras[s->n_extras].locate = loc;
	s->extras[s->n_extras].arg = arg;
	s->n_extras++;
	return 0;
}

/* Pre-open messages after S S: V once, Reg SHO for ~10 % of symbols, market
 * makers for ~20 %, the IPO's quoting period, RPII for ~2 %, one DLCR. */
static int make_extras(struct mdm_synth *s)
{
	uint32_t k = s->p.symbols;
	size_t cap = 0, before;
	int rc = push_extra(s, &cap, EX_V, 0, 0);

	before = s->n_extras;
	for (uint32_t l = 1; rc == 0 && l <= k; l++)
		if (synth_rng_below(&s->gen, 10) == 0)
			rc = push_extra(s, &cap, EX_Y, (uint16_t)l, 0);
	if (rc == 0 && s->n_extras == before)
		rc = push_extra(s, &cap, EX_Y, s->popular[0], 0);
	before = s->n_extras;
	for (uint32_t l = 1; rc == 0 && l <= k; l++) {
		if (synth_rng_below(&s->gen, 5) != 0)
			continue;
		unsigned first = synth_rng_below(&s->gen, SYNTH_N_MPIDS), n = 1 + synth_rng_below(&s->gen, 2);

		for (unsigned i = 0; rc == 0 && i < n; i++)
			rc = push_extra(s, &cap, EX_L, (uint16_t)l, (uint8_t)((first + i) % SYNTH_N_MPIDS));
	}
	if (rc == 0 && s->n_extras == before)
		rc = push_extra(s, &cap, EX_L, s->popular[0], 0);
	if (rc == 0)
		rc = push_extra(s, &cap, EX_K, s->ipo_loc, 0);
	before = s->n_extras;
	for (uint32_t l = 1; rc == 0 && l <= k; l++)
		if (synth_rng_below(&s->gen, 50) == 0)
			rc = push_extra(s, &cap, EX_N, (uint16_t)l, 0);
	if (rc == 0 && s->n_extras == before)
		rc = push_extra(s, &cap, EX_N, s->popular[0], 0);
	if (rc == 0)
		rc = push_extra(s, &cap, EX_O, s->dlcr_loc, 0);
	return rc;
}

static void gen_extra(struct mdm_synth *s, const struct synth_extra *e, uint64_t ts)
{
	switch (e->kind) {
	case EX_V: synth_msg_mwcb_decline(s, ts); break;
	case EX_Y: synth_msg_reg_sho(s, ts, e->locate); break;
	case EX_L: synth_msg_participant(s, ts, e->locate, e->arg); break;
	case EX_K:
		synth_msg_ipo_quoting(s, ts, e->locate,
			      (uint32_t)((order_ts(s, s->special_at[SP_IPO_QUOTE]) + NS - 1) / NS));
		break;
	case EX_N: synth_msg_rpii(s, ts, e->locate); break;
	default: synth_msg_dlcr(s, ts, e->locate); break;
	}
}

static void gen_special(struct mdm_synth *s, enum special_kind k, uint64_t ts)
{
	switch (k) {
	case SP_IPO_QUOTE: synth_msg_trading_action(s, ts, s->ipo_loc, 'Q', "IPOQ"); break;
	case SP_IPO_NOII: synth_msg_noii(s, ts, s->ipo_loc, 'H'); break;
	case SP_IPO_CROSS:
		synth_msg_cross(s, ts, s->ipo_loc, 100ull * (1 + synth_rng_below(&s->gen, 100000)), new_match(s, s->ipo_loc), 'H');
		break;
	case SP_IPO_TRADE: synth_msg_trading_action(s, ts, s->ipo_loc, 'T', ""); break;
	case SP_OP_HALT: synth_msg_operational_halt(s, ts, s->halt_loc, 'H'); break;
	case SP_OP_RESUME: synth_msg_operational_halt(s, ts, s->halt_loc, 'T'); break;
	case SP_LULD_PAUSE: synth_msg_trading_action(s, ts, s->luld_loc, 'P', "LUDP"); break;
	case SP_LULD_COLLAR: synth_msg_luld_collar(s, ts, s->luld_loc); break;
	case SP_LULD_RESUME: synth_msg_trading_action(s, ts, s->luld_loc, 'T', ""); break;
	default: synth_msg_mwcb_status(s, ts, '1'); break;
	}
}

static int gen_add(struct mdm_synth *s, uint64_t ts, bool mpid)
{
	struct synth_order o;

	o.locate = pick_symbol(s);
	o.side = synth_rng_below(&s->gen, 2) ? 'B' : 'S';
	o.shares = pick_shares(s);
	o.price = pick_price(s, o.locate, o.side);
	o.ref = s->next_ref++;
	synth_msg_add(s, ts, &o, mpid ? (int)synth_rng_below(&s->gen, SYNTH_N_MPIDS) : -1);
	return order_push(s, &o);
}

/* One order-phase message. Operations on orders pick a live one; with none
 * (or no trade to break yet) the step becomes an add. */
static int gen_order_step(struct mdm_synth *s, uint64_t j, uint64_t ts)
{
	uint64_t window = s->order_n / 20;
	bool opening = j < window, closing = j >= s->order_n - window;
	uint32_t w[OP_COUNT], total = 0, x;
	enum op op;
	struct synth_order *o, nw;
	size_t i;
	uint32_t n;

	if (s->next_special < SP_COUNT && s->special_at[s->next_special] == j) {
		gen_special(s, (enum special_kind)s->next_special++, ts);
		return 0;
	}
	memcpy(w, op_weight, sizeof(w));
	if (opening || closing) {
		w[OP_I] = WINDOW_I_WEIGHT;
		w[OP_Q] = WINDOW_Q_WEIGHT;
	}
	for (op = 0; op < OP_COUNT; op++)
		total += w[op];
	x = synth_rng_below(&s->gen, total);
	for (op = 0; x >= w[op]; op++)
		x -= w[op];
	if ((op == OP_D || op == OP_U || op == OP_E || op == OP_C || op == OP_X) && s->n_orders == 0)
		op = OP_A;
	if ((op == OP_A || op == OP_F) && s->n_orders >= (size_t)LIVE_ORDERS_PER_SYMBOL * s->p.symbols)
		op = OP_D;
	if (op == OP_B && s->n_recent == 0)
		op = OP_A;
	i = s->n_orders ? synth_rng_below(&s->gen, (uint32_t)s->n_orders) : 0;
	o = s->n_orders ? &s->orders[i] : NULL;
	if (op == OP_X && o->shares < 2)
		op = OP_D; /* a partial cancel needs at least two shares */

	switch (op) {
	case OP_A:
	case OP_F:
		return gen_add(s, ts, op == OP_F);
	case OP_D:
		synth_msg_delete(s, ts, o);
		order_remove(s, i);
		return 0;
	case OP_U:
		nw = *o;
		nw.ref = s->next_ref++;
		nw.shares = pick_shares(s);
		nw.price = pick_price(s, o->locate, o->side);
		synth_msg_replace(s, ts, o, &nw);
		*o = nw;
		return 0;
	case OP_E:
	case OP_C:
		/* Half of the executions fill the order, half are partial. */
		n = o->shares == 1 || synth_rng_below(&s->gen, 2) ? o->shares : 1 + synth_rng_below(&s->gen, o->shares - 1);
		if (op == OP_E) {
			synth_msg_executed(s, ts, o, n, new_match(s, o->locate));
		} else {
			uint32_t d = TICK * (1 + synth_rng_below(&s->gen, 3));
			uint32_t px = o->side == 'B' ? (o->price > d + TICK ? o->price - d : TICK) : o->price + d;

			synth_msg_executed_price(s, ts, o, n, new_match(s, o->locate),
					 synth_rng_below(&s->gen, 5) ? 'Y' : 'N', px);
		}
		if (n == o->shares)
			order_remove(s, i);
		else
			o->shares -= n;
		return 0;
	case OP_X:
		n = 1 + synth_rng_below(&s->gen, o->shares - 1);
		synth_msg_cancel(s, ts, o, n);
		o->shares -= n;
		return 0;
	case OP_P: {
		uint16_t loc = pick_symbol(s);

		synth_msg_trade(s, ts, loc, pick_shares(s), pick_price(s, loc, 'B'), new_match(s, loc));
		return 0;
	}
	case OP_Q: {
		uint16_t loc = pick_symbol(s);

		synth_msg_cross(s, ts, loc, 100ull * (1 + synth_rng_below(&s->gen, 100000)), new_match(s, loc),
			opening ? 'O' : closing ? 'C' : 'I');
		return 0;
	}
	case OP_I:
		synth_msg_noii(s, ts, pick_symbol(s), opening ? 'O' : 'C');
		return 0;
	case OP_N:
		synth_msg_rpii(s, ts, pick_symbol(s));
		return 0;
	default: {
		unsigned r = synth_rng_below(&s->gen, s->n_recent);

		synth_msg_broken(s, ts, s->recent[r].locate, s->recent[r].match);
		return 0;
	}
	}
}

/* Generate message msg_i into s->cur (and s->cur_truth). */
int synth_gen_next(struct mdm_synth *s)
{
	uint64_t i = s->phase_i;
	int rc = 0;

	switch (s->phase) {
	case PH_START:
		synth_msg_system_event(s, T_START_OF_MESSAGES, 'O');
		s->phase = PH_DIRECTORY;
		break;
	case PH_DIRECTORY:
		synth_msg_stock_directory(s, T_DIRECTORY + i * PREAMBLE_STEP_NS, (uint16_t)(i + 1));
		if (++s->phase_i == s->p.symbols) {
			s->phase = PH_TRADING;
			s->phase_i = 0;
		}
		break;
	case PH_TRADING:
		if (i + 1 == s->ipo_loc)
			synth_msg_trading_action(s, T_TRADING + i * PREAMBLE_STEP_NS, (uint16_t)(i + 1), 'H', "IPO1");
		else
			synth_msg_trading_action(s, T_TRADING + i * PREAMBLE_STEP_NS, (uint16_t)(i + 1), 'T', "");
		if (++s->phase_i == s->p.symbols) {
			s->phase = PH_SYS_HOURS;
			s->phase_i = 0;
		}
		break;
	case PH_SYS_HOURS:
		synth_msg_system_event(s, T_SYSTEM_HOURS, 'S');
		s->phase = PH_EXTRAS;
		break;
	case PH_EXTRAS:
		gen_extra(s, &s->extras[i], T_SYSTEM_HOURS + (i + 1) * 1000000u);
		if (++s->phase_i == s->n_extras) {
			s->phase = PH_SYS_OPEN;
			s->phase_i = 0;
		}
		break;
	case PH_SYS_OPEN:
		synth_msg_system_event(s, T_MARKET_OPEN, 'Q');
		s->phase = PH_ORDERS;
		break;
	case PH_ORDERS:
		rc = gen_order_step(s, i, order_ts(s, i));
		if (++s->phase_i == s->order_n) {
			s->phase = PH_SYS_CLOSE;
			s->phase_i = 0;
		}
		break;
	case PH_SYS_CLOSE:
		synth_msg_system_event(s, T_MARKET_CLOSE, 'M');
		s->phase = PH_SYS_END;
		break;
	case PH_SYS_END:
		synth_msg_system_event(s, T_END_SYSTEM, 'E');
		s->phase = PH_SYS_LAST;
		break;
	default:
		synth_msg_system_event(s, T_END_MESSAGES, 'C');
		s->phase = PH_DONE;
		break;
	}
	s->msg_i++;
	s->seq++;
	s->st.messages++;
	return rc;
}

int synth_gen_init(struct mdm_synth *s)
{
	const struct mdm_synth_params *p = &s->p;
	uint64_t fixed, prev = 0;
	uint32_t k;
	int rc;

	k = p->symbols;
	s->syms = mdm_calloc(k + 1u, sizeof(*s->syms));
	s->popular = mdm_malloc(k * sizeof(*s->popular));
	if (!s->syms || !s->popular)
		return mdm_err_set(-ENOMEM, "synth: out of memory for %u symbols", k);
	make_symbols(s);
	for (uint32_t i = 0; i < k; i++)
		s->popular[i] = (uint16_t)(i + 1);
	for (uint32_t i = k - 1; i > 0; i--) { /* Fisher-Yates: activity rank is not alphabetical */
		uint32_t j = synth_rng_below(&s->gen, i + 1);
		uint16_t t = s->popular[i];

		s->popular[i] = s->popular[j];
		s->popular[j] = t;
	}
	/* Event symbols come from the quiet end, so the busy ones keep trading. */
	s->ipo_loc = s->popular[k - 1];
	s->halt_loc = s->popular[k > 1 ? k - 2 : 0];
	s->luld_loc = s->popular[k > 2 ? k - 3 : 0];
	s->dlcr_loc = s->popular[k > 3 ? k - 4 : 0];
	rc = make_extras(s);
	if (rc)
		return rc;
	/* S O, R and H per symbol, S S, extras, S Q | order phase | S M, S E, S C */
	fixed = 1 + 2ull * k + 1 + s->n_extras + 1 + 3;
	if (p->messages < fixed + SP_COUNT)
		return mdm_err_set(-EINVAL, "--messages %llu is too small for %u symbols: at least %llu needed",
				   (unsigned long long)p->messages, k, (unsigned long long)(fixed + SP_COUNT));
	s->order_n = p->messages - fixed;
	s->order_at_rate = (unsigned __int128)(s->order_n + 1) * NS / p->rate <= ORDER_SPAN_NS;
	for (unsigned i = 0; i < SP_COUNT; i++) {
		uint64_t at = s->order_n * special_permille[i] / 1000;

		if (i > 0 && at <= prev)
			at = prev + 1;
		s->special_at[i] = prev = at;
	}
	return 0;
}
