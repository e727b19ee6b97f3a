/* Private to perf/synth*.c: the generator state shared by the ITCH encoders
 * (synth_msg.c), the session schedule and order flow (synth_gen.c) and the
 * packer, fault stage and lifecycle (synth.c). Not installed, not for callers. */
#ifndef SYNTH_IMPL_H
#define SYNTH_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mdm_buf.h"
#include "mdm_json.h"
#include "synth.h"

#define NS 1000000000ull
#define MOLD_HDR 20
#define MSG_MAX 50                                        /* longest ITCH type (I) */
#define BAD_MSG_MAX 66                                    /* longest bad message (I + 16) */
#define PKT_MAX_MSGS ((MDM_SYNTH_PAYLOAD_MAX - MOLD_HDR) / 14 + 1) /* 14 = 2 + shortest type */
#define RECENT_TRADES 64
#define OUTQ_MAX (2 * MDM_SYNTH_MAX_LINES + 2)             /* data + dup per line, malformed, hostile */
#define HOS_BUF (MDM_SYNTH_JUMBO_FRAME_LEN + 64)             /* largest hostile frame */
#define TICK 100u                                         /* $0.01 in Price(4) */
#define PRICE4_MAX 2000000000u                            /* spec maximum 200,000.0000 */

/* Independent random streams: fault options never change the messages, and
 * the batch sizes never change the message content. */
enum { STREAM_GEN = 1, STREAM_PACK, STREAM_FAULT, STREAM_NAMES, STREAM_BAD, STREAM_HOSTILE };

struct synth_rng {
	uint64_t s[4]; /* xoshiro256** state */
};

struct synth_sym {
	char name[9];   /* 1..8 uppercase letters, NUL-terminated */
	uint8_t len;
	uint32_t mid;   /* current mid price, Price(4), a multiple of TICK */
};

struct synth_order {
	uint64_t ref;
	uint32_t shares; /* still open */
	uint32_t price;
	uint16_t locate;
	char side;       /* 'B' or 'S' */
};

enum extra_kind { EX_V, EX_Y, EX_L, EX_K, EX_N, EX_O };

struct synth_extra {
	uint8_t kind;   /* enum extra_kind */
	uint8_t arg;    /* EX_L: MPID index */
	uint16_t locate;
};

enum special_kind {
	SP_IPO_QUOTE, SP_IPO_NOII, SP_IPO_CROSS, SP_IPO_TRADE, SP_OP_HALT, SP_OP_RESUME,
	SP_LULD_PAUSE, SP_LULD_COLLAR, SP_LULD_RESUME, SP_MWCB, SP_COUNT
};

enum phase {
	PH_START, PH_DIRECTORY, PH_TRADING, PH_SYS_HOURS, PH_EXTRAS, PH_SYS_OPEN, PH_ORDERS,
	PH_SYS_CLOSE, PH_SYS_END, PH_SYS_LAST, PH_DONE
};

struct synth_msgbuf {
	uint8_t b[BAD_MSG_MAX]; /* real messages use MSG_MAX bytes at most */
	uint8_t len;
};

struct mdm_synth {
	struct mdm_synth_params p;
	char session_trim[11];
	bool truth_on;
	struct synth_rng gen, pack, fault;
	struct synth_rng bad, hostile;  /* --bad-messages placement and bytes; hostile frames */

	struct synth_sym *syms;        /* [1..K]; [0] unused (locate 0 = market-wide) */
	uint16_t *popular;        /* activity rank -> locate */
	uint16_t ipo_loc, halt_loc, luld_loc, dlcr_loc;

	struct synth_order *orders;    /* live orders, unordered (swap-remove) */
	size_t n_orders, cap_orders;
	uint64_t next_ref, next_match;
	struct { uint64_t match; uint16_t locate; } recent[RECENT_TRADES];
	unsigned n_recent, recent_pos;

	/* schedule */
	struct synth_extra *extras;
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
	struct synth_msgbuf cur;
	int cur_bad;                   /* enum mdm_synth_bad_kind of cur, or -1 for a real message */
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
	uint16_t pkt_bad[MDM_SYNTH_BAD_KINDS]; /* bad messages in this packet, by kind */
	uint64_t pkt_no;               /* real packets closed, 1-based */
	struct mdm_buf pkt_truth;      /* truth objects of this packet, back to back */
	uint32_t truth_end[PKT_MAX_MSGS];
	unsigned mal_next;             /* next malformed kind, round-robin */
	uint8_t mal[MDM_SYNTH_PAYLOAD_MAX];
	uint32_t hos_kinds;            /* enabled hostile kinds (bit set, never 0) */
	unsigned hos_next;             /* next hostile kind to consider, round-robin */
	uint8_t hos[HOS_BUF];

	struct mdm_synth_packet outq[OUTQ_MAX];
	unsigned outq_n, outq_pos;

	FILE *truth;
	char *truth_buf;
	bool done;
	struct mdm_synth_stats st;
};

#define SYNTH_N_MPIDS 8 /* MPIDs the encoders know (L, F attribution) */

/* synth_hostile.c: make s->cur a bad message (the next kind in turn), with
 * its truth object; uses sequence number s->seq and advances it. */
void synth_bad_next(struct mdm_synth *s);

/* synth_hostile.c: account the closed real packet in s->st.expect: `copies`
 * = copies handed out on all lines (0 = a gap). */
void synth_expect_packet(struct mdm_synth *s, unsigned copies);

/* synth_hostile.c: account a malformed packet in s->st.expect. */
void synth_expect_malformed(struct mdm_synth *s, const uint8_t *p, uint32_t len);

/* synth_hostile.c: build the next hostile frame after the closed real packet
 * into s->hos and push it on the output queue (line A), accounted. */
void synth_hostile_push(struct mdm_synth *s, uint64_t ts);

/* ---- random numbers: splitmix64 seeding + xoshiro256** ---- */

static inline uint64_t synth_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void synth_rng_seed(struct synth_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);

	for (int i = 0; i < 4; i++)
		r->s[i] = synth_splitmix64(&x);
}

static inline uint64_t synth_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t synth_rng_next(struct synth_rng *r)
{
	uint64_t *s = r->s, out = synth_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = synth_rotl(s[3], 45);
	return out;
}

/* Uniform in [0, n), n >= 1 (multiply-shift; the bias is below 2^-32). */
static inline uint32_t synth_rng_below(struct synth_rng *r, uint32_t n)
{
	return (uint32_t)(((synth_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double synth_rng_unit(struct synth_rng *r)
{
	return (double)(synth_rng_next(r) >> 11) * 0x1.0p-53;
}

static inline void synth_put_be(uint8_t *p, unsigned size, uint64_t v)
{
	for (unsigned i = size; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

/* synth_gen.c: build symbols, activity ranks, pre-open extras and the
 * order-phase schedule. 0, -ENOMEM, or -EINVAL when p.messages cannot hold the
 * session for p.symbols (detail via mdm_err_set). */
int synth_gen_init(struct mdm_synth *s);

/* synth_gen.c: generate the next message of the schedule into s->cur (and its
 * truth object into s->cur_truth); advances s->seq. 0 or -ENOMEM. */
int synth_gen_next(struct mdm_synth *s);

/* synth_msg.c: one encoder per ITCH type. Each writes the message bytes at the
 * spec offsets into s->cur and, with truth on, the same values as one JSON
 * object into s->cur_truth. Counts the type in s->st.by_type. */
void synth_msg_system_event(struct mdm_synth *s, uint64_t ts, char code);
void synth_msg_stock_directory(struct mdm_synth *s, uint64_t ts, uint16_t loc);
void synth_msg_trading_action(struct mdm_synth *s, uint64_t ts, uint16_t loc, char state, const char *reason);
void synth_msg_reg_sho(struct mdm_synth *s, uint64_t ts, uint16_t loc);
void synth_msg_participant(struct mdm_synth *s, uint64_t ts, uint16_t loc, unsigned mpid);
void synth_msg_mwcb_decline(struct mdm_synth *s, uint64_t ts);
void synth_msg_mwcb_status(struct mdm_synth *s, uint64_t ts, char level);
void synth_msg_ipo_quoting(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint32_t release_s);
void synth_msg_luld_collar(struct mdm_synth *s, uint64_t ts, uint16_t loc);
void synth_msg_operational_halt(struct mdm_synth *s, uint64_t ts, uint16_t loc, char action);
void synth_msg_add(struct mdm_synth *s, uint64_t ts, const struct synth_order *o, int mpid);
void synth_msg_executed(struct mdm_synth *s, uint64_t ts, const struct synth_order *o, uint32_t shares, uint64_t match);
void synth_msg_executed_price(struct mdm_synth *s, uint64_t ts, const struct synth_order *o, uint32_t shares,
			      uint64_t match, char printable, uint32_t price);
void synth_msg_cancel(struct mdm_synth *s, uint64_t ts, const struct synth_order *o, uint32_t shares);
void synth_msg_delete(struct mdm_synth *s, uint64_t ts, const struct synth_order *o);
void synth_msg_replace(struct mdm_synth *s, uint64_t ts, const struct synth_order *old, const struct synth_order *nw);
void synth_msg_trade(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint32_t shares, uint32_t price, uint64_t match);
void synth_msg_cross(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint64_t shares, uint64_t match, char type);
void synth_msg_broken(struct mdm_synth *s, uint64_t ts, uint16_t loc, uint64_t match);
void synth_msg_noii(struct mdm_synth *s, uint64_t ts, uint16_t loc, char cross_type);
void synth_msg_rpii(struct mdm_synth *s, uint64_t ts, uint16_t loc);
void synth_msg_dlcr(struct mdm_synth *s, uint64_t ts, uint16_t loc);

#endif
