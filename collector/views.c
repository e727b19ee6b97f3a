/* Market views: per-symbol change tracking, per-packet coalescing, the depth
 * interval as a FIFO of cooling symbols. Behaviour and costs: views.h. */
#include "views.h"

#include <errno.h>
#include <string.h>

#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_mem.h"

#define NSYM 65536u

#define ST_LISTED 0x01  /* in this packet's list */
#define ST_TOUCHED 0x02 /* in the touched list (drain, gaps) */
#define ST_DEPTH 0x04   /* the book changed since the last depth */
#define ST_COOLING 0x08 /* in the cooling FIFO: a depth went out less than an interval ago */
#define ST_BAD 0x10     /* MAYBE_BAD_BOOK */
#define ST_GAP_BBO 0x20   /* bbo_seq is a gap's: shared by every symbol */
#define ST_GAP_DEPTH 0x40 /* book_seq is a gap's */

struct vsym {
	struct book_bbo cur;       /* after the last message */
	struct book_bbo pub;       /* last emitted */
	uint64_t bbo_seq, bbo_ts;  /* last change of the BBO (or of the flags) */
	uint64_t book_seq, book_ts; /* last change of the book (or of the flags) */
	uint8_t pub_flags;         /* flags of the last BBO emitted */
	uint8_t state;             /* ST_* */
};

struct cool {
	uint64_t due; /* exchange time the next depth may go */
	uint16_t locate;
};

struct views {
	struct views_stats stats;
	bool bbo;
	unsigned levels;
	uint64_t interval;
	uint64_t now;           /* latest exchange timestamp seen */
	bool gap;               /* a gap was declared this session: every symbol is suspect */
	struct vsym *sym;       /* NSYM */
	uint16_t *list;         /* symbols changed in this packet */
	uint32_t n_list;
	uint16_t *touched;      /* symbols changed this session */
	uint32_t n_touched;
	struct cool *cool;      /* FIFO of NSYM (a symbol is in it at most once) */
	uint32_t cool_head, cool_n;
	struct book_level_info bids[VIEWS_MAX_LEVELS], asks[VIEWS_MAX_LEVELS];
};

int views_create(struct views **out, const struct views_params *p)
{
	struct views *v;

	*out = NULL;
	if (p->depth_levels > VIEWS_MAX_LEVELS)
		return mdm_err_set(-EINVAL, "views: depth_levels %u is above %d", p->depth_levels, VIEWS_MAX_LEVELS);
	v = mdm_calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->sym = mdm_calloc(NSYM, sizeof(*v->sym));
	v->list = mdm_calloc(NSYM, sizeof(*v->list));
	v->touched = mdm_calloc(NSYM, sizeof(*v->touched));
	v->cool = mdm_calloc(NSYM, sizeof(*v->cool));
	if (!v->sym || !v->list || !v->touched || !v->cool) {
		views_destroy(v);
		return -ENOMEM;
	}
	v->bbo = p->bbo;
	v->levels = p->depth_levels;
	v->interval = p->depth_interval_ns;
	*out = v;
	return 0;
}

void views_destroy(struct views *v)
{
	if (!v)
		return;
	mdm_free(v->sym);
	mdm_free(v->list);
	mdm_free(v->touched);
	mdm_free(v->cool);
	mdm_free(v);
}

const struct views_stats *views_stats(const struct views *v) { return &v->stats; }

static inline uint8_t sym_flags(const struct vsym *s)
{
	return s->state & ST_BAD ? VIEWS_F_MAYBE_BAD_BOOK : 0;
}

/* Into this packet's list (and the session's touched list). */
static inline void sym_list(struct views *v, struct vsym *s, uint16_t locate)
{
	if (!(s->state & ST_LISTED)) {
		s->state |= ST_LISTED;
		v->list[v->n_list++] = locate;
	}
	if (!(s->state & ST_TOUCHED)) {
		s->state |= ST_TOUCHED;
		v->touched[v->n_touched++] = locate;
		if (v->gap && !(s->state & ST_BAD)) {
			s->state |= ST_BAD;
			mdm_counter_add(&v->stats.bad_symbols, 1);
		}
	}
}

/* The view changed without the BBO changing (a flag): both views are due. */
static void sym_flag_change(struct views *v, struct vsym *s, uint16_t locate, uint64_t seq, uint64_t ts)
{
	s->bbo_seq = s->book_seq = seq;
	s->bbo_ts = s->book_ts = ts;
	s->state = (uint8_t)((s->state | ST_DEPTH) & ~(ST_GAP_BBO | ST_GAP_DEPTH));
	sym_list(v, s, locate);
}

void views_on_msg(struct views *v, const struct book *b, const struct itch_msg *m, uint64_t seq, enum book_status rc,
		  const struct book_view *bv)
{
	uint16_t locate = bv->flags & BOOK_VIEW_KNOWN ? bv->locate : m->stock_locate;
	struct vsym *s = &v->sym[locate];
	/* U removes its original whatever happens to the new order */
	bool changed = rc == BOOK_APPLIED || (m->type == 'U' && rc != BOOK_UNKNOWN_REF);
	struct book_bbo nb;

	if (rc == BOOK_IGNORED)
		return;
	if (m->timestamp_ns > v->now)
		v->now = m->timestamp_ns;
	if ((rc == BOOK_UNKNOWN_REF || rc == BOOK_DUP_REF || rc == BOOK_FULL) && !(s->state & ST_BAD)) {
		s->state |= ST_BAD;
		mdm_counter_add(&v->stats.bad_symbols, 1);
		sym_flag_change(v, s, locate, seq, m->timestamp_ns);
	}
	if (!changed)
		return;
	s->book_seq = seq;
	s->book_ts = m->timestamp_ns;
	s->state = (uint8_t)((s->state | ST_DEPTH) & ~ST_GAP_DEPTH);
	book_bbo(b, locate, &nb);
	if (memcmp(&nb, &s->cur, sizeof(nb)) != 0) {
		s->cur = nb;
		s->state &= (uint8_t)~ST_GAP_BBO;
		s->bbo_seq = seq;
		s->bbo_ts = m->timestamp_ns;
	}
	sym_list(v, s, locate);
}

void views_on_seq_event(struct views *v, const struct seq_event *ev)
{
	if (ev->type == SEQ_EV_SESSION_CHANGE) {
		/* the book was reset: a new day of locates and orders */
		memset(v->sym, 0, NSYM * sizeof(*v->sym));
		v->n_list = v->n_touched = 0;
		v->cool_head = v->cool_n = 0;
		v->gap = false;
		v->now = 0;
		return;
	}
	if (ev->type != SEQ_EV_GAP_OPENED)
		return;
	mdm_counter_add(&v->stats.gaps, 1);
	v->gap = true;
	/* the lost messages' symbols are unknown: every symbol is suspect; the
	 * view changes at the gap's last sequence, so its Msg-Id is new */
	for (uint32_t i = 0; i < v->n_touched; i++) {
		struct vsym *s = &v->sym[v->touched[i]];

		if (s->state & ST_BAD)
			continue;
		s->state |= ST_BAD;
		mdm_counter_add(&v->stats.bad_symbols, 1);
		sym_flag_change(v, s, v->touched[i], ev->to, s->bbo_ts);
		s->state |= ST_GAP_BBO | ST_GAP_DEPTH;
	}
}

static void emit_bbo(struct views *v, struct vsym *s, uint16_t locate, uint8_t flags, views_emit_fn emit, void *ctx)
{
	struct views_out o = { .kind = VIEWS_BBO, .locate = locate, .flags = flags, .seq = s->bbo_seq,
			       .ts_ns = s->bbo_ts, .bbo = s->cur,
			       .shared_seq = (flags & VIEWS_F_SNAPSHOT) || (s->state & ST_GAP_BBO) };

	s->pub = s->cur;
	s->pub_flags = sym_flags(s);
	emit(ctx, &o);
}

static void emit_depth(struct views *v, const struct book *b, struct vsym *s, uint16_t locate, uint8_t flags,
		       views_emit_fn emit, void *ctx)
{
	struct views_out o = { .kind = VIEWS_DEPTH, .locate = locate, .flags = flags, .seq = s->book_seq,
			       .ts_ns = s->book_ts, .bids = v->bids, .asks = v->asks,
			       .shared_seq = (flags & VIEWS_F_SNAPSHOT) || (s->state & ST_GAP_DEPTH) };

	o.n_bids = book_levels(b, locate, 'B', v->bids, v->levels);
	o.n_asks = book_levels(b, locate, 'S', v->asks, v->levels);
	s->state &= (uint8_t)~ST_DEPTH;
	emit(ctx, &o);
}

/* A depth just went out: the symbol cools for an interval. */
static void cool_push(struct views *v, struct vsym *s, uint16_t locate)
{
	if (!v->interval)
		return;
	v->cool[(v->cool_head + v->cool_n++) % NSYM] = (struct cool){ .due = v->now + v->interval, .locate = locate };
	s->state |= ST_COOLING;
}

unsigned views_flush(struct views *v, const struct book *b, views_emit_fn emit, void *ctx)
{
	unsigned n = 0;

	/* symbols whose interval has passed: a change held back goes out now.
	 * `now` only grows and the interval is fixed, so the FIFO is in due order */
	while (v->cool_n && v->cool[v->cool_head].due <= v->now) {
		uint16_t locate = v->cool[v->cool_head].locate;
		struct vsym *s = &v->sym[locate];

		v->cool_head = (v->cool_head + 1) % NSYM;
		v->cool_n--;
		s->state &= (uint8_t)~ST_COOLING;
		if (s->state & ST_DEPTH) {
			emit_depth(v, b, s, locate, VIEWS_F_LAST | sym_flags(s), emit, ctx);
			mdm_counter_add(&v->stats.depth, 1);
			cool_push(v, s, locate);
			n++;
		}
	}
	for (uint32_t i = 0; i < v->n_list; i++) {
		uint16_t locate = v->list[i];
		struct vsym *s = &v->sym[locate];

		s->state &= (uint8_t)~ST_LISTED;
		if (v->bbo && (memcmp(&s->cur, &s->pub, sizeof(s->cur)) != 0 || sym_flags(s) != s->pub_flags)) {
			emit_bbo(v, s, locate, VIEWS_F_LAST | sym_flags(s), emit, ctx);
			mdm_counter_add(&v->stats.bbo, 1);
			n++;
		}
		if (!v->levels || !(s->state & ST_DEPTH))
			continue;
		if (s->state & ST_COOLING) {
			mdm_counter_add(&v->stats.depth_deferred, 1);
			continue;
		}
		emit_depth(v, b, s, locate, VIEWS_F_LAST | sym_flags(s), emit, ctx);
		mdm_counter_add(&v->stats.depth, 1);
		cool_push(v, s, locate);
		n++;
	}
	v->n_list = 0;
	return n;
}

unsigned views_drain(struct views *v, const struct book *b, views_emit_fn emit, void *ctx)
{
	unsigned n = views_flush(v, b, emit, ctx), before = n;
	uint8_t snap = VIEWS_F_SNAPSHOT | VIEWS_F_LAST;

	for (uint32_t i = 0; i < v->n_touched; i++) {
		uint16_t locate = v->touched[i];
		struct vsym *s = &v->sym[locate];

		if (v->bbo) {
			emit_bbo(v, s, locate, snap | sym_flags(s), emit, ctx);
			n++;
		}
		if (v->levels) {
			emit_depth(v, b, s, locate, snap | sym_flags(s), emit, ctx);
			n++;
		}
		s->state &= (uint8_t)~ST_COOLING;
	}
	v->cool_head = v->cool_n = 0;
	mdm_counter_add(&v->stats.snapshots, n - before);
	return n;
}
