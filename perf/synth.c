/* Synthetic ITCH 5.0 / MoldUDP64 session generator. The generator makes one
 * message per call from a phase schedule fixed at create time (so the total is
 * exact), the packer batches messages into MoldUDP64 packets, and each closed
 * packet goes through the fault stage (drops, duplicates, malformed extras)
 * into a small output queue that mdm_synth_next() drains. Message bytes and
 * truth JSON are both written by the per-type encoders below from the same
 * values, at the spec offsets, with no shared table with the collector. */
#include "synth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_buf.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_mem.h"
#include "mdm_pcap.h"

#define NS 1000000000ull
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

#define MOLD_HDR 20
#define MSG_MAX 50                                        /* longest ITCH type (I) */
#define PKT_MAX_MSGS ((MDM_SYNTH_PAYLOAD_MAX - MOLD_HDR) / 14 + 1) /* 14 = 2 + shortest type */
#define BATCH_MAX 40
#define RECENT_TRADES 64
#define OUTQ_MAX (2 * MDM_SYNTH_MAX_LINES + 1)
#define TICK 100u                                         /* $0.01 in Price(4) */
#define PRICE4_MAX 2000000000u                            /* spec maximum 200,000.0000 */

/* Independent random streams: fault options never change the messages, and
 * the batch sizes never change the message content. */
enum { STREAM_GEN = 1, STREAM_PACK, STREAM_FAULT, STREAM_NAMES };

struct rng {
	uint64_t s[4]; /* xoshiro256** state */
};

struct ssym {
	char name[9];   /* 1..8 uppercase letters, NUL-terminated */
	uint8_t len;
	uint32_t mid;   /* current mid price, Price(4), a multiple of TICK */
};

struct sorder {
	uint64_t ref;
	uint32_t shares; /* still open */
	uint32_t price;
	uint16_t locate;
	char side;       /* 'B' or 'S' */
};

enum extra_kind { EX_V, EX_Y, EX_L, EX_K, EX_N, EX_O };

struct extra {
	uint8_t kind;   /* enum extra_kind */
	uint8_t arg;    /* EX_L: MPID index */
	uint16_t locate;
};

enum special_kind {
	SP_IPO_QUOTE, SP_IPO_NOII, SP_IPO_CROSS, SP_IPO_TRADE, SP_OP_HALT, SP_OP_RESUME,
	SP_LULD_PAUSE, SP_LULD_COLLAR, SP_LULD_RESUME, SP_MWCB, SP_COUNT
};

/* Scheduled one-message events of the order phase, at permille of it. */
static const uint16_t special_permille[SP_COUNT] = {
	[SP_IPO_QUOTE] = 50, [SP_IPO_NOII] = 90, [SP_IPO_CROSS] = 100, [SP_IPO_TRADE] = 101,
	[SP_OP_HALT] = 200, [SP_OP_RESUME] = 210, [SP_LULD_PAUSE] = 400, [SP_LULD_COLLAR] = 401,
	[SP_LULD_RESUME] = 410, [SP_MWCB] = 500,
};

enum phase {
	PH_START, PH_DIRECTORY, PH_TRADING, PH_SYS_HOURS, PH_EXTRAS, PH_SYS_OPEN, PH_ORDERS,
	PH_SYS_CLOSE, PH_SYS_END, PH_SYS_LAST, PH_DONE
};

/* Order-phase operations and their weights per 100,000 (ITCH_FACTS section 5:
 * adds 44 %, deletes 40 %, replaces 9 %, executions ~2 %, cancels ~1 %). */
enum op { OP_A, OP_F, OP_D, OP_U, OP_E, OP_C, OP_X, OP_P, OP_Q, OP_I, OP_N, OP_B, OP_COUNT };
static const uint32_t op_weight[OP_COUNT] = {
	[OP_A] = 38000, [OP_F] = 6000, [OP_D] = 40000, [OP_U] = 9000, [OP_E] = 1600, [OP_C] = 400,
	[OP_X] = 1200, [OP_P] = 800, [OP_Q] = 100, [OP_I] = 0, [OP_N] = 50, [OP_B] = 50,
};
/* Around the open and the close: NOII and crosses. */
#define WINDOW_I_WEIGHT 6000
#define WINDOW_Q_WEIGHT 600

static const char *const mpids[] = { "GSCO", "MSCO", "JPMS", "CDEL", "NITE", "UBSS", "VIRT", "CITD" };
#define N_MPIDS (sizeof(mpids) / sizeof(mpids[0]))

struct smsg {
	uint8_t b[MSG_MAX];
	uint8_t len;
};

struct mdm_synth {
	struct mdm_synth_params p;
	char session_trim[11];
	bool truth_on;
	struct rng gen, pack, fault;

	struct ssym *syms;        /* [1..K]; [0] unused (locate 0 = market-wide) */
	uint16_t *popular;        /* activity rank -> locate */
	uint16_t ipo_loc, halt_loc, luld_loc, dlcr_loc;

	struct sorder *orders;    /* live orders, unordered (swap-remove) */
	size_t n_orders, cap_orders;
	uint64_t next_ref, next_match;
	struct { uint64_t match; uint16_t locate; } recent[RECENT_TRADES];
	unsigned n_recent, recent_pos;

	/* schedule */
	struct extra *extras;
	size_t n_extras;
	uint64_t special_at[SP_COUNT]; /* order-phase index of each scheduled event */
	unsigned next_special;
	uint64_t order_n;              /* messages in the order phase */
	bool order_at_rate;            /* order timestamps follow the rate (else spread to fit the day) */
	enum phase phase;
	uint64_t phase_i;
	uint64_t msg_i;                /* messages generated */
	uint64_t seq;                  /* next sequence number */

	/* message being built */
	struct smsg cur;
	struct mdm_buf cur_truth;
	struct mdm_json j;
	bool have_pending;             /* cur did not fit and opens the next packet */

	/* packet being built / just closed */
	uint8_t pkt[MDM_SYNTH_PAYLOAD_MAX];
	size_t pkt_len;
	uint16_t pkt_count;
	uint64_t pkt_seq;
	bool pkt_directory;            /* an R-only packet: filled to the cap */
	uint32_t last_off;             /* offset of the last message's bytes in pkt */
	uint64_t pkt_no;               /* real packets closed, 1-based */
	struct mdm_buf pkt_truth;      /* truth objects of this packet, back to back */
	uint32_t truth_end[PKT_MAX_MSGS];
	unsigned mal_next;             /* next malformed kind, round-robin */
	uint8_t mal[MDM_SYNTH_PAYLOAD_MAX];

	struct mdm_synth_packet outq[OUTQ_MAX];
	unsigned outq_n, outq_pos;

	FILE *truth;
	char *truth_buf;
	bool done;
	struct mdm_synth_stats st;
};

/* ---- random numbers: splitmix64 seeding + xoshiro256** ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in [0, n), n >= 1 (multiply-shift; the bias is below 2^-32). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- byte helpers ---- */

static void put_be(uint8_t *p, unsigned size, uint64_t v)
{
	for (unsigned i = size; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

/* ---- message encoders: wire bytes at spec offsets + the truth object ---- */

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
	struct smsg *m = &s->cur;
	uint16_t tracking = (uint16_t)(1 + rng_below(&s->gen, 8));
	char t = type;

	memset(m->b, 0, sizeof(m->b));
	m->len = len;
	m->b[0] = (uint8_t)type;
	put_be(m->b + 1, 2, locate);
	put_be(m->b + 3, 2, tracking);
	put_be(m->b + 5, 6, ts);
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
	put_be(s->cur.b + off, size, v);
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

static void m_system_event(struct mdm_synth *s, uint64_t ts, char code)
{
	hdr(s, 'S', 12, 0, ts);
	f_char(s, 11, "event_code", code);
	msg_end(s);
}

static void m_stock_directory(struct mdm_synth *s, uint64_t ts, uint16_t loc)
{
	static const char categories[] = "QQQGGSSNNAPZV";
	static const char *const subtypes[] = { "Z", "A", "C", "Z", "Z" };
	char cat = categories[rng_below(&s->gen, sizeof(categories) - 1)];
	bool nasdaq = cat == 'Q' || cat == 'G' || cat == 'S';
	bool etp = rng_below(&s->gen, 20) == 0;

	hdr(s, 'R', 39, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "market_category", cat);
	f_char(s, 20, "financial_status_indicator", nasdaq ? 'N' : ' ');
	f_uint(s, 21, 4, "round_lot_size", 100);
	f_char(s, 25, "round_lots_only", 'N');
	f_char(s, 26, "issue_classification", etp ? 'Q' : 'C');
	f_alpha(s, 27, 2, "issue_sub_type", subtypes[rng_below(&s->gen, 5)]);
	f_char(s, 29, "authenticity", 'P');
	f_char(s, 30, "short_sale_threshold_indicator", nasdaq ? 'N' : ' ');
	f_char(s, 31, "ipo_flag", loc == s->ipo_loc ? 'Y' : nasdaq ? 'N' : ' ');
	f_char(s, 32, "luld_reference_price_tier", rng_below(&s->gen, 3) ? '2' : '1');
	f_char(s, 33, "etp_flag", etp ? 'Y' : 'N');
	f_uint(s, 34, 4, "etp_leverage_factor", etp ? 1 + rng_below(&s->gen, 3) : 0);
	f_char(s, 38, "inverse_indicator", etp && rng_below(&s->gen, 4) == 0 ? 'Y' : 'N');
	msg_end(s);
}

static void m_trading_action(struct mdm_synth *s, uint64_t ts, uint16_t loc, char state, const char *reason)
{
	hdr(s, 'H', 25, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "trading_state", state);
	f_char(s, 20, "reserved", ' ');
	f_alpha(s, 21, 4, "reason", reason);
	msg_end(s);
}

static void m_reg_sho(struct mdm_synth *s, uint64_t ts, uint16_t loc)
{
	hdr(s, 'Y', 20, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "reg_sho_action", (char)('0' + rng_below(&s->gen, 3)));
	msg_end(s);
}

static void m_participant(struct mdm_synth *s, uint64_t ts, uint16_t loc, unsigned mpid)
{
	hdr(s, 'L', 26, loc, ts);
	f_alpha(s, 11, 4, "mpid", mpids[mpid]);
	f_stock(s, 15, loc);
	f_char(s, 23, "primary_market_maker", rng_below(&s->gen, 4) ? 'N' : 'Y');
	f_char(s, 24, "market_maker_mode", "NNNNP"[rng_below(&s->gen, 5)]);
	f_char(s, 25, "market_participant_state", "AAAAE"[rng_below(&s->gen, 5)]);
	msg_end(s);
}

static void m_mwcb_decline(struct mdm_synth *s, uint64_t ts)
{
	/* 7 %, 13 % and 20 % below a previous S&P 500 close of 6,000.00. */
	hdr(s, 'V', 35, 0, ts);
	f_uint(s, 11, 8, "level1", 558000000000ull);
	f_uint(s, 19, 8, "level2", 522000000000ull);
	f_uint(s, 27, 8, "level3", 480000000000ull);
	msg_end(s);
}

static void m_mwcb_status(struct mdm_synth *s, uint64_t ts, char level)
{
	hdr(s, 'W', 12, 0, ts);
	f_char(s, 11, "breached_level", level);
	msg_end(s);
}

static void m_ipo_quoting(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint32_t release_s)
{
	hdr(s, 'K', 28, loc, ts);
	f_stock(s, 11, loc);
	f_uint(s, 19, 4, "ipo_quotation_release_time", release_s);
	f_char(s, 23, "ipo_quotation_release_qualifier", 'A');
	f_uint(s, 24, 4, "ipo_price", s->syms[loc].mid);
	msg_end(s);
}

static void m_luld_collar(struct mdm_synth *s, uint64_t ts, uint16_t loc)
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

static void m_operational_halt(struct mdm_synth *s, uint64_t ts, uint16_t loc, char action)
{
	hdr(s, 'h', 21, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "market_code", 'Q');
	f_char(s, 20, "operational_halt_action", action);
	msg_end(s);
}

static void m_add(struct mdm_synth *s, uint64_t ts, const struct sorder *o, int mpid)
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

static void m_executed(struct mdm_synth *s, uint64_t ts, const struct sorder *o, uint32_t shares, uint64_t match)
{
	hdr(s, 'E', 31, o->locate, ts);
	f_uint(s, 11, 8, "order_reference_number", o->ref);
	f_uint(s, 19, 4, "executed_shares", shares);
	f_uint(s, 23, 8, "match_number", match);
	msg_end(s);
}

static void m_executed_price(struct mdm_synth *s, uint64_t ts, const struct sorder *o, uint32_t shares,
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

static void m_cancel(struct mdm_synth *s, uint64_t ts, const struct sorder *o, uint32_t shares)
{
	hdr(s, 'X', 23, o->locate, ts);
	f_uint(s, 11, 8, "order_reference_number", o->ref);
	f_uint(s, 19, 4, "cancelled_shares", shares);
	msg_end(s);
}

static void m_delete(struct mdm_synth *s, uint64_t ts, const struct sorder *o)
{
	hdr(s, 'D', 19, o->locate, ts);
	f_uint(s, 11, 8, "order_reference_number", o->ref);
	msg_end(s);
}

static void m_replace(struct mdm_synth *s, uint64_t ts, const struct sorder *old, const struct sorder *nw)
{
	hdr(s, 'U', 35, old->locate, ts);
	f_uint(s, 11, 8, "original_order_reference_number", old->ref);
	f_uint(s, 19, 8, "new_order_reference_number", nw->ref);
	f_uint(s, 27, 4, "shares", nw->shares);
	f_uint(s, 31, 4, "price", nw->price);
	msg_end(s);
}

static void m_trade(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint32_t shares, uint32_t price, uint64_t match)
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

static void m_cross(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint64_t shares, uint64_t match, char type)
{
	hdr(s, 'Q', 40, loc, ts);
	f_uint(s, 11, 8, "shares", shares);
	f_stock(s, 19, loc);
	f_uint(s, 27, 4, "cross_price", s->syms[loc].mid);
	f_uint(s, 31, 8, "match_number", match);
	f_char(s, 39, "cross_type", type);
	msg_end(s);
}

static void m_broken(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint64_t match)
{
	hdr(s, 'B', 19, loc, ts);
	f_uint(s, 11, 8, "match_number", match);
	msg_end(s);
}

static void m_noii(struct mdm_synth *s, uint64_t ts, uint16_t loc, char cross_type)
{
	char dir = "BSBSNO"[rng_below(&s->gen, 6)];
	uint32_t ref = s->syms[loc].mid;
	uint32_t near = ref + TICK * rng_below(&s->gen, 5), far = near + TICK * rng_below(&s->gen, 5);

	hdr(s, 'I', 50, loc, ts);
	f_uint(s, 11, 8, "paired_shares", 100ull * rng_below(&s->gen, 50000));
	f_uint(s, 19, 8, "imbalance_shares", dir == 'N' ? 0 : 100ull * (1 + rng_below(&s->gen, 5000)));
	f_char(s, 27, "imbalance_direction", dir);
	f_stock(s, 28, loc);
	f_uint(s, 36, 4, "far_price", dir == 'O' ? 0 : far);
	f_uint(s, 40, 4, "near_price", dir == 'O' ? 0 : near);
	f_uint(s, 44, 4, "current_reference_price", ref);
	f_char(s, 48, "cross_type", cross_type);
	f_char(s, 49, "price_variation_indicator", "L123456789ABC "[rng_below(&s->gen, 14)]);
	msg_end(s);
}

static void m_rpii(struct mdm_synth *s, uint64_t ts, uint16_t loc)
{
	hdr(s, 'N', 20, loc, ts);
	f_stock(s, 11, loc);
	f_char(s, 19, "interest_flag", "BSAN"[rng_below(&s->gen, 4)]);
	msg_end(s);
}

static void m_dlcr(struct mdm_synth *s, uint64_t ts, uint16_t loc)
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

/* ---- symbols and order book state ---- */

static int sym_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ssym *)a)->name, ((const struct ssym *)b)->name);
}

/* K distinct names of 1..5 letters (mostly 3-4, like real tickers), sorted:
 * locates are assigned alphabetically, as NASDAQ does. */
static void make_symbols(struct mdm_synth *s)
{
	uint32_t k = s->p.symbols, n = 0, i;
	struct ssym *sy = s->syms + 1;
	struct rng r;

	rng_seed(&r, s->p.seed, STREAM_NAMES);
	while (n < k) {
		for (i = n; i < k; i++) {
			uint32_t u = rng_below(&r, 100);
			unsigned len = u < 1 ? 1 : u < 5 ? 2 : u < 30 ? 3 : u < 90 ? 4 : 5;

			for (unsigned c = 0; c < len; c++)
				sy[i].name[c] = (char)('A' + rng_below(&r, 26));
			sy[i].name[len] = '\0';
			sy[i].len = (uint8_t)len;
		}
		qsort(sy, k, sizeof(*sy), sym_cmp);
		for (i = 1, n = 1; i < k; i++)
			if (strcmp(sy[i].name, sy[n - 1].name) != 0)
				sy[n++] = sy[i];
	}
	for (i = 0; i < k; i++)
		sy[i].mid = (100 + rng_below(&s->gen, 49900)) * TICK; /* $1.00 .. $500.00 */
}

/* Activity is skewed: a few symbols carry most orders, as on a real day. */
static uint16_t pick_symbol(struct mdm_synth *s)
{
	double u = rng_unit(&s->gen);

	return s->popular[(uint32_t)(u * u * u * s->p.symbols)];
}

static uint32_t pick_shares(struct mdm_synth *s)
{
	uint32_t u = rng_below(&s->gen, 100);

	if (u < 80)
		return 100 * (1 + rng_below(&s->gen, 10));
	if (u < 95)
		return 100 * (1 + rng_below(&s->gen, 100));
	return 1 + rng_below(&s->gen, 99); /* odd lot */
}

/* Random-walk the symbol's mid, then price an order a few ticks away from it. */
static uint32_t pick_price(struct mdm_synth *s, uint16_t loc, char side)
{
	struct ssym *sy = &s->syms[loc];
	int step = (int)rng_below(&s->gen, 5) - 2;
	uint32_t off = TICK * (rng_below(&s->gen, 4) == 0 ? rng_below(&s->gen, 40) : rng_below(&s->gen, 5));

	if (step < 0 && sy->mid > 10 * TICK)
		sy->mid -= TICK;
	else if (step > 0 && sy->mid < PRICE4_MAX / 2)
		sy->mid += TICK;
	if (side == 'S')
		return sy->mid + off;
	return sy->mid > off ? sy->mid - off : TICK;
}

static int order_push(struct mdm_synth *s, const struct sorder *o)
{
	if (s->n_orders == s->cap_orders) {
		size_t cap = s->cap_orders ? s->cap_orders * 2 : 4096;
		struct sorder *n = mdm_realloc(s->orders, cap * sizeof(*n));

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
		struct extra *n = mdm_realloc(s->extras, nc * sizeof(*n));

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
		if (rng_below(&s->gen, 10) == 0)
			rc = push_extra(s, &cap, EX_Y, (uint16_t)l, 0);
	if (rc == 0 && s->n_extras == before)
		rc = push_extra(s, &cap, EX_Y, s->popular[0], 0);
	before = s->n_extras;
	for (uint32_t l = 1; rc == 0 && l <= k; l++) {
		if (rng_below(&s->gen, 5) != 0)
			continue;
		unsigned first = rng_below(&s->gen, N_MPIDS), n = 1 + rng_below(&s->gen, 2);

		for (unsigned i = 0; rc == 0 && i < n; i++)
			rc = push_extra(s, &cap, EX_L, (uint16_t)l, (uint8_t)((first + i) % N_MPIDS));
	}
	if (rc == 0 && s->n_extras == before)
		rc = push_extra(s, &cap, EX_L, s->popular[0], 0);
	if (rc == 0)
		rc = push_extra(s, &cap, EX_K, s->ipo_loc, 0);
	before = s->n_extras;
	for (uint32_t l = 1; rc == 0 && l <= k; l++)
		if (rng_below(&s->gen, 50) == 0)
			rc = push_extra(s, &cap, EX_N, (uint16_t)l, 0);
	if (rc == 0 && s->n_extras == before)
		rc = push_extra(s, &cap, EX_N, s->popular[0], 0);
	if (rc == 0)
		rc = push_extra(s, &cap, EX_O, s->dlcr_loc, 0);
	return rc;
}

static void gen_extra(struct mdm_synth *s, const struct extra *e, uint64_t ts)
{
	switch (e->kind) {
	case EX_V: m_mwcb_decline(s, ts); break;
	case EX_Y: m_reg_sho(s, ts, e->locate); break;
	case EX_L: m_participant(s, ts, e->locate, e->arg); break;
	case EX_K:
		m_ipo_quoting(s, ts, e->locate,
			      (uint32_t)((order_ts(s, s->special_at[SP_IPO_QUOTE]) + NS - 1) / NS));
		break;
	case EX_N: m_rpii(s, ts, e->locate); break;
	default: m_dlcr(s, ts, e->locate); break;
	}
}

static void gen_special(struct mdm_synth *s, enum special_kind k, uint64_t ts)
{
	switch (k) {
	case SP_IPO_QUOTE: m_trading_action(s, ts, s->ipo_loc, 'Q', "IPOQ"); break;
	case SP_IPO_NOII: m_noii(s, ts, s->ipo_loc, 'H'); break;
	case SP_IPO_CROSS:
		m_cross(s, ts, s->ipo_loc, 100ull * (1 + rng_below(&s->gen, 100000)), new_match(s, s->ipo_loc), 'H');
		break;
	case SP_IPO_TRADE: m_trading_action(s, ts, s->ipo_loc, 'T', ""); break;
	case SP_OP_HALT: m_operational_halt(s, ts, s->halt_loc, 'H'); break;
	case SP_OP_RESUME: m_operational_halt(s, ts, s->halt_loc, 'T'); break;
	case SP_LULD_PAUSE: m_trading_action(s, ts, s->luld_loc, 'P', "LUDP"); break;
	case SP_LULD_COLLAR: m_luld_collar(s, ts, s->luld_loc); break;
	case SP_LULD_RESUME: m_trading_action(s, ts, s->luld_loc, 'T', ""); break;
	default: m_mwcb_status(s, ts, '1'); break;
	}
}

static int gen_add(struct mdm_synth *s, uint64_t ts, bool mpid)
{
	struct sorder o;

	o.locate = pick_symbol(s);
	o.side = rng_below(&s->gen, 2) ? 'B' : 'S';
	o.shares = pick_shares(s);
	o.price = pick_price(s, o.locate, o.side);
	o.ref = s->next_ref++;
	m_add(s, ts, &o, mpid ? (int)rng_below(&s->gen, N_MPIDS) : -1);
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
	struct sorder *o, nw;
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
	x = rng_below(&s->gen, total);
	for (op = 0; x >= w[op]; op++)
		x -= w[op];
	if ((op == OP_D || op == OP_U || op == OP_E || op == OP_C || op == OP_X) && s->n_orders == 0)
		op = OP_A;
	if (op == OP_B && s->n_recent == 0)
		op = OP_A;
	i = s->n_orders ? rng_below(&s->gen, (uint32_t)s->n_orders) : 0;
	o = s->n_orders ? &s->orders[i] : NULL;
	if (op == OP_X && o->shares < 2)
		op = OP_D; /* a partial cancel needs at least two shares */

	switch (op) {
	case OP_A:
	case OP_F:
		return gen_add(s, ts, op == OP_F);
	case OP_D:
		m_delete(s, ts, o);
		order_remove(s, i);
		return 0;
	case OP_U:
		nw = *o;
		nw.ref = s->next_ref++;
		nw.shares = pick_shares(s);
		nw.price = pick_price(s, o->locate, o->side);
		m_replace(s, ts, o, &nw);
		*o = nw;
		return 0;
	case OP_E:
	case OP_C:
		/* Half of the executions fill the order, half are partial. */
		n = o->shares == 1 || rng_below(&s->gen, 2) ? o->shares : 1 + rng_below(&s->gen, o->shares - 1);
		if (op == OP_E) {
			m_executed(s, ts, o, n, new_match(s, o->locate));
		} else {
			uint32_t d = TICK * (1 + rng_below(&s->gen, 3));
			uint32_t px = o->side == 'B' ? (o->price > d + TICK ? o->price - d : TICK) : o->price + d;

			m_executed_price(s, ts, o, n, new_match(s, o->locate),
					 rng_below(&s->gen, 5) ? 'Y' : 'N', px);
		}
		if (n == o->shares)
			order_remove(s, i);
		else
			o->shares -= n;
		return 0;
	case OP_X:
		n = 1 + rng_below(&s->gen, o->shares - 1);
		m_cancel(s, ts, o, n);
		o->shares -= n;
		return 0;
	case OP_P: {
		uint16_t loc = pick_symbol(s);

		m_trade(s, ts, loc, pick_shares(s), pick_price(s, loc, 'B'), new_match(s, loc));
		return 0;
	}
	case OP_Q: {
		uint16_t loc = pick_symbol(s);

		m_cross(s, ts, loc, 100ull * (1 + rng_below(&s->gen, 100000)), new_match(s, loc),
			opening ? 'O' : closing ? 'C' : 'I');
		return 0;
	}
	case OP_I:
		m_noii(s, ts, pick_symbol(s), opening ? 'O' : 'C');
		return 0;
	case OP_N:
		m_rpii(s, ts, pick_symbol(s));
		return 0;
	default: {
		unsigned r = rng_below(&s->gen, s->n_recent);

		m_broken(s, ts, s->recent[r].locate, s->recent[r].match);
		return 0;
	}
	}
}

/* Generate message msg_i into s->cur (and s->cur_truth). */
static int gen_one(struct mdm_synth *s)
{
	uint64_t i = s->phase_i;
	int rc = 0;

	switch (s->phase) {
	case PH_START:
		m_system_event(s, T_START_OF_MESSAGES, 'O');
		s->phase = PH_DIRECTORY;
		break;
	case PH_DIRECTORY:
		m_stock_directory(s, T_DIRECTORY + i * PREAMBLE_STEP_NS, (uint16_t)(i + 1));
		if (++s->phase_i == s->p.symbols) {
			s->phase = PH_TRADING;
			s->phase_i = 0;
		}
		break;
	case PH_TRADING:
		if (i + 1 == s->ipo_loc)
			m_trading_action(s, T_TRADING + i * PREAMBLE_STEP_NS, (uint16_t)(i + 1), 'H', "IPO1");
		else
			m_trading_action(s, T_TRADING + i * PREAMBLE_STEP_NS, (uint16_t)(i + 1), 'T', "");
		if (++s->phase_i == s->p.symbols) {
			s->phase = PH_SYS_HOURS;
			s->phase_i = 0;
		}
		break;
	case PH_SYS_HOURS:
		m_system_event(s, T_SYSTEM_HOURS, 'S');
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
		m_system_event(s, T_MARKET_OPEN, 'Q');
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
		m_system_event(s, T_MARKET_CLOSE, 'M');
		s->phase = PH_SYS_END;
		break;
	case PH_SYS_END:
		m_system_event(s, T_END_SYSTEM, 'E');
		s->phase = PH_SYS_LAST;
		break;
	default:
		m_system_event(s, T_END_MESSAGES, 'C');
		s->phase = PH_DONE;
		break;
	}
	s->msg_i++;
	s->seq++;
	s->st.messages++;
	return rc;
}

/* ---- packer and faults ---- */

static int truth_write_packet(struct mdm_synth *s, bool dropped, int lost_line)
{
	uint32_t start = 0;

	for (unsigned k = 0; k < s->pkt_count; k++) {
		const char *t = s->pkt_truth.data + start;
		uint32_t n = s->truth_end[k] - start;

		if (!dropped && lost_line < 0) {
			fwrite(t, 1, n, s->truth);
			fputc('\n', s->truth);
		} else {
			fwrite(t, 1, n - 1, s->truth); /* reopen the object before its '}' */
			if (dropped)
				fputs(",\"dropped\":true}\n", s->truth);
			else
				fprintf(s->truth, ",\"line_lost\":\"%c\"}\n", 'a' + lost_line);
		}
		start = s->truth_end[k];
	}
	s->st.truth_lines += s->pkt_count;
	if (ferror(s->truth))
		return mdm_err_set(-EIO, "%s: write failed", s->p.truth_path);
	return 0;
}

static void pkt_add(struct mdm_synth *s)
{
	if (s->pkt_count == 0) {
		s->pkt_seq = s->seq - 1; /* gen_one already advanced it */
		s->pkt_directory = s->cur.b[0] == 'R';
	}
	put_be(s->pkt + s->pkt_len, 2, s->cur.len);
	memcpy(s->pkt + s->pkt_len + 2, s->cur.b, s->cur.len);
	s->last_off = (uint32_t)s->pkt_len + 2;
	s->pkt_len += 2u + s->cur.len;
	if (s->truth_on) {
		mdm_buf_append(&s->pkt_truth, s->cur_truth.data, s->cur_truth.len);
		s->truth_end[s->pkt_count] = (uint32_t)s->pkt_truth.len;
	}
	s->pkt_count++;
}

static void mold_header(uint8_t *p, const char *session, uint64_t seq, uint16_t count)
{
	memset(p, ' ', 10);
	memcpy(p, session, strnlen(session, 10));
	put_be(p + 10, 8, seq);
	put_be(p + 18, 2, count);
}

/* A malformed packet built from the closed real packet: same session, the
 * sequence number of its last message (already sent on line A). */
static uint32_t make_malformed(struct mdm_synth *s, unsigned kind)
{
	const uint8_t *last = s->pkt + s->last_off;
	uint32_t ll = s->pkt[s->last_off - 2] << 8 | s->pkt[s->last_off - 1], n;
	uint64_t seq = s->pkt_seq + s->pkt_count - 1;
	uint8_t *m = s->mal;

	switch (kind) {
	case MDM_SYNTH_MAL_SHORT_HEADER:
		mold_header(m, s->p.session, seq, 1);
		return 1 + rng_below(&s->fault, MOLD_HDR - 1);
	case MDM_SYNTH_MAL_BLOCK_OVERRUN:
		mold_header(m, s->p.session, seq, 1);
		put_be(m + MOLD_HDR, 2, ll + 1 + rng_below(&s->fault, 200));
		memcpy(m + MOLD_HDR + 2, last, ll);
		return MOLD_HDR + 2 + ll;
	case MDM_SYNTH_MAL_ZERO_BLOCK:
		mold_header(m, s->p.session, seq, 1);
		put_be(m + MOLD_HDR, 2, 0);
		return MOLD_HDR + 2;
	case MDM_SYNTH_MAL_COUNT_OVERRUN:
		mold_header(m, s->p.session, seq, 3);
		put_be(m + MOLD_HDR, 2, ll);
		memcpy(m + MOLD_HDR + 2, last, ll);
		return MOLD_HDR + 2 + ll;
	case MDM_SYNTH_MAL_TRUNCATED_MSG:
		n = 1 + rng_below(&s->fault, ll - 1);
		mold_header(m, s->p.session, seq, 1);
		put_be(m + MOLD_HDR, 2, n);
		memcpy(m + MOLD_HDR + 2, last, n);
		return MOLD_HDR + 2 + n;
	case MDM_SYNTH_MAL_UNKNOWN_TYPE:
		mold_header(m, s->p.session, seq, 1);
		put_be(m + MOLD_HDR, 2, ll);
		memcpy(m + MOLD_HDR + 2, last, ll);
		m[MOLD_HDR + 2] = 'z';
		return MOLD_HDR + 2 + ll;
	default: /* MDM_SYNTH_MAL_WRONG_LENGTH */
		n = ll + 1 + rng_below(&s->fault, 8);
		mold_header(m, s->p.session, seq, 1);
		put_be(m + MOLD_HDR, 2, n);
		memset(m + MOLD_HDR + 2, 0, n);
		memcpy(m + MOLD_HDR + 2, last, ll);
		return MOLD_HDR + 2 + n;
	}
}

static void outq_push(struct mdm_synth *s, unsigned line, uint8_t kind, const uint8_t *payload, uint32_t len,
		      uint64_t ts)
{
	struct mdm_synth_packet *o = &s->outq[s->outq_n++];

	o->ts_ns = ts;
	o->payload = payload;
	o->len = len;
	o->line = (uint8_t)line;
	o->kind = kind;
	o->malformed_kind = 0;
	o->src_ip = s->p.src_ip + line;
	o->dst_ip = s->p.dst_ip + line;
	o->src_port = s->p.src_port;
	o->dst_port = s->p.dst_port;
	o->seq = s->pkt_seq;
	o->count = s->pkt_count;
	s->st.frames[line]++;
}

/* Close the packet: header, faults, output queue, truth. */
static int pkt_close(struct mdm_synth *s)
{
	unsigned lines = s->p.lines, l, lost_n = 0;
	bool lost[MDM_SYNTH_MAX_LINES], dup, gap, mal;
	uint64_t ts = MDM_SYNTH_EPOCH_NS +
		      (uint64_t)((unsigned __int128)(s->msg_i - 1 - s->have_pending) * NS / s->p.rate);
	int lost_line = -1;

	mold_header(s->pkt, s->p.session, s->pkt_seq, s->pkt_count);
	s->pkt_no++;
	s->st.packets++;
	if (s->pkt_len > s->st.max_payload)
		s->st.max_payload = (uint32_t)s->pkt_len;
	gap = s->p.gap_every && s->pkt_no % s->p.gap_every == 0;
	dup = s->p.dup_every && s->pkt_no % s->p.dup_every == 0;
	for (l = 0; l < lines; l++) {
		/* Always draw, so one option does not shift another's random choices. */
		bool line_drop = rng_unit(&s->fault) < s->p.line_loss;

		lost[l] = gap || line_drop;
		if (lost[l]) {
			lost_n++;
			s->st.line_lost[l]++;
			lost_line = (int)l;
		}
	}
	mal = rng_unit(&s->fault) < s->p.malformed && !lost[0];
	s->outq_n = s->outq_pos = 0;
	for (l = 0; l < lines; l++) {
		if (lost[l])
			continue;
		outq_push(s, l, MDM_SYNTH_PKT_DATA, s->pkt, (uint32_t)s->pkt_len, ts);
		if (dup) {
			outq_push(s, l, MDM_SYNTH_PKT_DUP, s->pkt, (uint32_t)s->pkt_len, ts);
			s->st.duplicated++;
		}
	}
	if (mal) {
		unsigned kind = s->mal_next;
		uint32_t len = make_malformed(s, kind);

		s->mal_next = (kind + 1) % MDM_SYNTH_MAL_KINDS;
		outq_push(s, 0, MDM_SYNTH_PKT_MALFORMED, s->mal, len, ts);
		s->outq[s->outq_n - 1].malformed_kind = (uint8_t)kind;
		s->outq[s->outq_n - 1].seq = s->pkt_seq + s->pkt_count - 1;
		s->outq[s->outq_n - 1].count = 0;
		s->st.malformed++;
		s->st.malformed_by_kind[kind]++;
	}
	if (lost_n == lines) {
		s->st.dropped_packets++;
		s->st.dropped_messages += s->pkt_count;
	}
	if (!s->truth_on)
		return 0;
	return truth_write_packet(s, lost_n == lines, lost_n == 1 && lines > 1 ? lost_line : -1);
}

/* Batch size of the next packet: geometric, mean 4 (messages queue up only
 * now and then); the directory ignores it and fills packets to the cap. */
static unsigned draw_batch(struct mdm_synth *s)
{
	unsigned n = 1;

	while (n < BATCH_MAX && rng_below(&s->pack, 4) != 0)
		n++;
	return n;
}

/* Build and close the next real packet. 1 = closed, 0 = no messages left. */
static int pkt_build(struct mdm_synth *s)
{
	unsigned target = draw_batch(s);
	int rc;

	s->pkt_len = MOLD_HDR;
	s->pkt_count = 0;
	s->pkt_directory = false;
	mdm_buf_reset(&s->pkt_truth);
	if (s->have_pending) {
		s->have_pending = false;
		pkt_add(s);
	}
	while (s->pkt_directory || s->pkt_count < target) {
		if (s->msg_i == s->p.messages)
			break;
		rc = gen_one(s);
		if (rc)
			return rc;
		if (s->pkt_count > 0 &&
		    ((s->cur.b[0] == 'R') != s->pkt_directory || s->pkt_len + 2 + s->cur.len > MDM_SYNTH_PAYLOAD_MAX)) {
			s->have_pending = true;
			break;
		}
		pkt_add(s);
	}
	if (s->pkt_count == 0)
		return 0;
	if (s->truth_on && s->pkt_truth.oom)
		return -ENOMEM;
	rc = pkt_close(s);
	return rc ? rc : 1;
}

int mdm_synth_next(struct mdm_synth *s, struct mdm_synth_packet *pkt)
{
	while (s->outq_pos == s->outq_n) {
		int rc;

		if (s->done)
			return 0;
		rc = pkt_build(s);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			s->done = true;
			if (s->truth && fflush(s->truth) != 0)
				return mdm_err_set(-EIO, "%s: write failed", s->p.truth_path);
			return 0;
		}
	}
	*pkt = s->outq[s->outq_pos++];
	return 1;
}

/* ---- lifecycle ---- */

void mdm_synth_params_init(struct mdm_synth_params *p)
{
	memset(p, 0, sizeof(*p));
	p->messages = 100000;
	p->symbols = 100;
	p->seed = 1;
	p->rate = MDM_SYNTH_RATE_DEFAULT;
	snprintf(p->session, sizeof(p->session), "%s", MDM_SYNTH_SESSION_DEFAULT);
	p->start_seq = 1;
	p->lines = 1;
	p->dst_ip = MDM_SYNTH_DST_IP_DEFAULT;
	p->dst_port = MDM_SYNTH_DST_PORT_DEFAULT;
	p->src_ip = MDM_SYNTH_SRC_IP_DEFAULT;
	p->src_port = MDM_SYNTH_SRC_PORT_DEFAULT;
}

static int check_params(const struct mdm_synth_params *p)
{
	size_t n = strnlen(p->session, sizeof(p->session));

	if (p->symbols < 1 || p->symbols > MDM_SYNTH_MAX_SYMBOLS)
		return mdm_err_set(-EINVAL, "--symbols %u out of range 1..%u", p->symbols, MDM_SYNTH_MAX_SYMBOLS);
	if (p->rate < 1 || p->rate > NS)
		return mdm_err_set(-EINVAL, "--rate %llu out of range 1..1000000000", (unsigned long long)p->rate);
	if (n < 1 || n > 10)
		return mdm_err_set(-EINVAL, "--session must have 1..10 characters");
	for (size_t i = 0; i < n; i++)
		if (!((p->session[i] >= 'A' && p->session[i] <= 'Z') || (p->session[i] >= 'a' && p->session[i] <= 'z') ||
		      (p->session[i] >= '0' && p->session[i] <= '9')))
			return mdm_err_set(-EINVAL, "--session '%s' is not alphanumeric", p->session);
	if (p->start_seq < 1 || p->start_seq > UINT64_MAX - p->messages)
		return mdm_err_set(-EINVAL, "--start-seq must be at least 1 and leave room for the messages");
	if (p->lines < 1 || p->lines > MDM_SYNTH_MAX_LINES)
		return mdm_err_set(-EINVAL, "--lines %u must be 1 or 2", p->lines);
	if (!(p->malformed >= 0 && p->malformed <= 1))
		return mdm_err_set(-EINVAL, "--malformed must be a fraction in 0..1");
	if (!(p->line_loss >= 0 && p->line_loss <= 1))
		return mdm_err_set(-EINVAL, "--line-loss must be a fraction in 0..1");
	if ((p->dst_ip >> 28) == 0xe && ((p->dst_ip + p->lines - 1) >> 28) != 0xe)
		return mdm_err_set(-EINVAL, "--dst group out of the multicast range for line B");
	return 0;
}

int mdm_synth_create(struct mdm_synth **out, const struct mdm_synth_params *p)
{
	struct mdm_synth *s;
	uint64_t fixed, prev = 0;
	uint32_t k;
	int rc;

	*out = NULL;
	rc = check_params(p);
	if (rc)
		return rc;
	s = mdm_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->p = *p;
	s->p.session[10] = '\0';
	snprintf(s->session_trim, sizeof(s->session_trim), "%s", s->p.session);
	s->truth_on = p->truth_path != NULL;
	s->seq = p->start_seq;
	s->next_ref = 1;
	s->next_match = 1;
	rng_seed(&s->gen, p->seed, STREAM_GEN);
	rng_seed(&s->pack, p->seed, STREAM_PACK);
	rng_seed(&s->fault, p->seed, STREAM_FAULT);
	k = p->symbols;
	s->syms = mdm_calloc(k + 1u, sizeof(*s->syms));
	s->popular = mdm_malloc(k * sizeof(*s->popular));
	if (!s->syms || !s->popular) {
		rc = -ENOMEM;
		goto err;
	}
	make_symbols(s);
	for (uint32_t i = 0; i < k; i++)
		s->popular[i] = (uint16_t)(i + 1);
	for (uint32_t i = k - 1; i > 0; i--) { /* Fisher-Yates: activity rank is not alphabetical */
		uint32_t j = rng_below(&s->gen, i + 1);
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
		goto err;
	/* S O, R and H per symbol, S S, extras, S Q | order phase | S M, S E, S C */
	fixed = 1 + 2ull * k + 1 + s->n_extras + 1 + 3;
	if (p->messages < fixed + SP_COUNT) {
		rc = mdm_err_set(-EINVAL, "--messages %llu is too small for %u symbols: at least %llu needed",
				 (unsigned long long)p->messages, k, (unsigned long long)(fixed + SP_COUNT));
		goto err;
	}
	s->order_n = p->messages - fixed;
	s->order_at_rate = (unsigned __int128)(s->order_n + 1) * NS / p->rate <= ORDER_SPAN_NS;
	for (unsigned i = 0; i < SP_COUNT; i++) {
		uint64_t at = s->order_n * special_permille[i] / 1000;

		if (i > 0 && at <= prev)
			at = prev + 1;
		s->special_at[i] = prev = at;
	}
	if (s->truth_on) {
		s->truth = fopen(p->truth_path, "w");
		if (!s->truth) {
			int e = errno;

			rc = mdm_err_set(-e, "%s: %s", p->truth_path, strerror(e));
			goto err;
		}
		s->truth_buf = mdm_malloc(1u << 20);
		if (!s->truth_buf) {
			rc = -ENOMEM;
			goto err;
		}
		setvbuf(s->truth, s->truth_buf, _IOFBF, 1u << 20);
		if (mdm_buf_reserve(&s->cur_truth, 1024) || mdm_buf_reserve(&s->pkt_truth, 64u << 10)) {
			rc = -ENOMEM;
			goto err;
		}
	}
	*out = s;
	return 0;
err:
	mdm_synth_destroy(s);
	return rc;
}

const struct mdm_synth_stats *mdm_synth_stats(const struct mdm_synth *s)
{
	return &s->st;
}

void mdm_synth_destroy(struct mdm_synth *s)
{
	if (!s)
		return;
	if (s->truth)
		fclose(s->truth);
	mdm_free(s->truth_buf);
	mdm_buf_fini(&s->cur_truth);
	mdm_buf_fini(&s->pkt_truth);
	mdm_free(s->extras);
	mdm_free(s->orders);
	mdm_free(s->popular);
	mdm_free(s->syms);
	mdm_free(s);
}

const char *mdm_synth_malformed_str(int kind)
{
	static const char *const names[MDM_SYNTH_MAL_KINDS] = {
		[MDM_SYNTH_MAL_SHORT_HEADER] = "short_header",
		[MDM_SYNTH_MAL_BLOCK_OVERRUN] = "block_overrun",
		[MDM_SYNTH_MAL_ZERO_BLOCK] = "zero_block",
		[MDM_SYNTH_MAL_COUNT_OVERRUN] = "count_overrun",
		[MDM_SYNTH_MAL_TRUNCATED_MSG] = "truncated_msg",
		[MDM_SYNTH_MAL_UNKNOWN_TYPE] = "unknown_type",
		[MDM_SYNTH_MAL_WRONG_LENGTH] = "wrong_length",
	};

	if (kind < 0 || kind >= MDM_SYNTH_MAL_KINDS)
		return "unknown";
	return names[kind];
}

int mdm_synth_line_path(char *buf, size_t len, const char *out_path, unsigned line)
{
	const char *slash = strrchr(out_path, '/'), *dot = strrchr(out_path, '.');
	int n;

	if (dot && (dot == out_path || (slash && dot < slash + 2)))
		dot = NULL; /* a dot that starts the file name ("/x/.pcap") is no extension */
	if (dot)
		n = snprintf(buf, len, "%.*s.%c%s", (int)(dot - out_path), out_path, 'a' + line, dot);
	else
		n = snprintf(buf, len, "%s.%c", out_path, 'a' + line);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int mdm_synth_write_pcap(const struct mdm_synth_params *p, const char *out_path, bool merge_lines,
			 struct mdm_synth_stats *st)
{
	struct mdm_pcap_writer *w[MDM_SYNTH_MAX_LINES] = { NULL };
	unsigned n_files = p->lines > 1 && !merge_lines ? p->lines : 1;
	struct mdm_synth_packet pkt;
	struct mdm_synth *s;
	int rc, rc2;

	rc = mdm_synth_create(&s, p);
	if (rc)
		return rc;
	for (unsigned l = 0; l < n_files && rc == 0; l++) {
		char path[4096];

		if (n_files == 1)
			rc = mdm_pcap_writer_open(&w[l], out_path, NULL);
		else if ((rc = mdm_synth_line_path(path, sizeof(path), out_path, l)) != 0)
			rc = mdm_err_set(rc, "%s: file name too long", out_path);
		else
			rc = mdm_pcap_writer_open(&w[l], path, NULL);
	}
	while (rc == 0 && (rc = mdm_synth_next(s, &pkt)) == 1)
		rc = mdm_pcap_write_udp(w[n_files == 1 ? 0 : pkt.line], pkt.ts_ns, pkt.src_ip, pkt.dst_ip,
					pkt.src_port, pkt.dst_port, pkt.payload, pkt.len);
	for (unsigned l = 0; l < n_files; l++) {
		rc2 = mdm_pcap_writer_close(w[l]);
		if (rc == 0)
			rc = rc2;
	}
	if (st)
		*st = *mdm_synth_stats(s);
	mdm_synth_destroy(s);
	return rc;
}
