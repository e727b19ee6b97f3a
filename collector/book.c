/* Order book: order table, level table, level pool, per-locate level lists.
 * Structures and costs are described in book.h. */
#include "book.h"

#include <errno.h>
#include <string.h>

#include "mdm_counter.h"
#include "mdm_mem.h"

#define BOOK_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Field offsets of the order messages (itch_msgs.def). */
#define BOOK_OFF_REF 11        /* A F E C X D: order_reference_number; U: original */
#define BOOK_OFF_ADD_SIDE 19   /* A F: buy_sell_indicator */
#define BOOK_OFF_ADD_SHARES 20 /* A F */
#define BOOK_OFF_ADD_PRICE 32  /* A F */
#define BOOK_OFF_EXEC_SHARES 19 /* E C: executed_shares; X: cancelled_shares */
#define BOOK_OFF_C_PRICE 32    /* C: execution_price */
#define BOOK_OFF_U_NEW_REF 19
#define BOOK_OFF_U_SHARES 27
#define BOOK_OFF_U_PRICE 31

#define BOOK_NONE 0u /* level index 0: no level (pool is 1-based) */

/* Fibonacci hashing: order references are dense increasing integers, and the
 * golden-ratio multiply spreads consecutive ones across the table. */
#define BOOK_HASH_MUL 0x9E3779B97F4A7C15ull

/* An order slot. shares == 0 marks an empty slot: a live order always has
 * shares (it is deleted when they reach 0). 24 bytes. */
struct book_order {
	uint64_t ref;
	uint32_t shares;
	uint32_t price;
	uint32_t level; /* pool index, or BOOK_NONE */
	uint16_t locate;
	uint8_t side;   /* 'B' or 'S' */
};

/* A price level of one (locate, side). In the pool, 1-based; a free level
 * is chained through `next`. */
struct book_level {
	uint64_t shares; /* sum of the orders' remaining shares */
	uint32_t price;
	uint32_t orders;
	uint32_t better, worse; /* neighbours in the sorted list, BOOK_NONE at the ends */
	uint16_t locate;
	uint8_t side;
};

/* Level table slot: key (locate, side, price) -> pool index; level 0 = empty. */
struct book_lslot {
	uint64_t key;
	uint32_t level;
};

/* Ends of one (locate, side) level list. */
struct book_ends {
	uint32_t best, worst;
};

struct book {
	struct book_stats stats;
	struct book_order *orders; /* omask + 1 slots */
	uint64_t omask;
	unsigned oshift;           /* 64 - log2(order slots) */
	struct book_lslot *lslots; /* lmask + 1 slots, >= 2 x level pool */
	uint64_t lmask;
	unsigned lshift;
	struct book_level *levels; /* nlevels + 1 entries, [0] unused */
	uint32_t nlevels;
	uint32_t free_level;       /* head of the free list, BOOK_NONE = exhausted */
	struct book_ends ends[65536][2]; /* [locate][side == 'S'] */
};

/* Order slot of a reference. ITCH references rise through the day, so the
 * low bits of consecutive orders index neighbouring slots: adds, and the
 * executions/deletes of recent orders, stay in cache (a multiplicative hash
 * here cost one DRAM miss per message, half the throughput). The high bits
 * are folded in so a stride equal to the table size does not pile into one
 * probe cluster. */
static inline uint64_t book_order_slot(const struct book *b, uint64_t ref)
{
	return (ref ^ (ref >> (64 - b->oshift))) & b->omask;
}

static inline uint64_t book_hash(uint64_t key, unsigned shift)
{
	return (key * BOOK_HASH_MUL) >> shift;
}

static inline uint64_t book_level_key(uint16_t locate, uint8_t side, uint32_t price)
{
	return (uint64_t)locate << 33 | (uint64_t)(side == 'S') << 32 | price;
}

/* Bids: higher is better; asks: lower is better. */
static inline bool book_better(uint8_t side, uint32_t a, uint32_t b)
{
	return side == 'B' ? a > b : a < b;
}

static unsigned book_log2(uint64_t pow2)
{
	return (unsigned)__builtin_ctzll(pow2);
}

static void book_levels_init(struct book *b)
{
	memset(b->lslots, 0, (b->lmask + 1) * sizeof(b->lslots[0]));
	memset(b->ends, 0, sizeof(b->ends));
	for (uint32_t i = 1; i <= b->nlevels; i++)
		b->levels[i].worse = i < b->nlevels ? i + 1 : BOOK_NONE;
	b->free_level = b->nlevels ? 1 : BOOK_NONE;
}

int book_create(struct book **out, const struct book_params *params)
{
	uint32_t cap = params && params->order_capacity ? params->order_capacity : BOOK_ORDER_CAPACITY_DEFAULT;
	uint32_t lcap = params && params->level_capacity ? params->level_capacity : cap / 4;
	uint64_t lslots;
	struct book *b;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (cap < 16 || (cap & (cap - 1)) != 0 || lcap > UINT32_MAX / 4)
		return -EINVAL;
	/* At least 2 slots (a shift by 64 is undefined), and at most half full,
	 * since the pool holds lcap levels. */
	lslots = 2;
	while (lslots < 2 * (uint64_t)lcap)
		lslots <<= 1;
	b = mdm_calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->orders = mdm_calloc(cap, sizeof(b->orders[0]));
	b->lslots = mdm_malloc(lslots * sizeof(b->lslots[0]));
	b->levels = mdm_calloc((size_t)lcap + 1, sizeof(b->levels[0]));
	if (!b->orders || !b->lslots || !b->levels)
		goto err;
	b->omask = cap - 1;
	b->oshift = 64 - book_log2(cap);
	b->lmask = lslots - 1;
	b->lshift = 64 - book_log2(lslots);
	b->nlevels = lcap;
	mdm_counter_set(&b->stats.capacity, cap);
	mdm_counter_set(&b->stats.max_orders, cap - cap / 8);
	book_levels_init(b);
	*out = b;
	return 0;
err:
	book_destroy(b);
	return -ENOMEM;
}

void book_destroy(struct book *b)
{
	if (!b)
		return;
	mdm_free(b->levels);
	mdm_free(b->lslots);
	mdm_free(b->orders);
	mdm_free(b);
}

/* ---- order table ---- */

static struct book_order *book_find(const struct book *b, uint64_t ref)
{
	uint64_t i = book_order_slot(b, ref);

	/* Terminates: at most 7/8 of the slots are ever used. */
	for (;;) {
		struct book_order *o = &b->orders[i];

		if (o->shares == 0)
			return NULL;
		if (o->ref == ref)
			return o;
		i = (i + 1) & b->omask;
	}
}

/* Slot for a new `ref`, or NULL if it is already live (*dup set). */
static struct book_order *book_slot_new(struct book *b, uint64_t ref, bool *dup)
{
	uint64_t i = book_order_slot(b, ref), probe = 0;

	*dup = false;
	for (;;) {
		struct book_order *o = &b->orders[i];

		if (o->shares == 0)
			break;
		if (o->ref == ref) {
			*dup = true;
			return NULL;
		}
		i = (i + 1) & b->omask;
		probe++;
	}
	if (BOOK_UNLIKELY(probe > b->stats.max_probe))
		mdm_counter_propose_max(&b->stats.max_probe, probe);
	return &b->orders[i];
}

/* Backward-shift deletion: pull later members of the probe run back into
 * the hole, so lookups never need tombstones. */
static void book_slot_free(struct book *b, struct book_order *o)
{
	uint64_t i = (uint64_t)(o - b->orders), j = i;

	for (;;) {
		uint64_t home;

		j = (j + 1) & b->omask;
		if (b->orders[j].shares == 0)
			break;
		home = book_order_slot(b, b->orders[j].ref);
		/* Move j into i unless j's home lies cyclically in (i, j]. */
		if (((j - home) & b->omask) >= ((j - i) & b->omask)) {
			b->orders[i] = b->orders[j];
			i = j;
		}
	}
	b->orders[i].shares = 0;
}

/* ---- levels ---- */

static uint32_t book_level_lookup(const struct book *b, uint64_t key, uint64_t *slot)
{
	uint64_t i = book_hash(key, b->lshift);

	for (;;) {
		const struct book_lslot *s = &b->lslots[i];

		if (s->level == BOOK_NONE || s->key == key) {
			*slot = i;
			return s->level;
		}
		i = (i + 1) & b->lmask;
	}
}

static void book_lslot_free(struct book *b, uint64_t i)
{
	uint64_t j = i;

	for (;;) {
		uint64_t home;

		j = (j + 1) & b->lmask;
		if (b->lslots[j].level == BOOK_NONE)
			break;
		home = book_hash(b->lslots[j].key, b->lshift);
		if (((j - home) & b->lmask) >= ((j - i) & b->lmask)) {
			b->lslots[i] = b->lslots[j];
			i = j;
		}
	}
	b->lslots[i].level = BOOK_NONE;
}

/* Link new level `li` into its sorted list, walking from the nearer end. */
static void book_level_link(struct book *b, uint32_t li)
{
	struct book_level *l = &b->levels[li];
	struct book_ends *e = &b->ends[l->locate][l->side == 'S'];
	uint32_t best = e->best, worst = e->worst, cur, bp, wp, p = l->price;

	if (best == BOOK_NONE) {
		e->best = e->worst = li;
		l->better = l->worse = BOOK_NONE;
		return;
	}
	bp = b->levels[best].price;
	wp = b->levels[worst].price;
	if ((bp > p ? bp - p : p - bp) <= (wp > p ? wp - p : p - wp)) {
		/* From the best end: stop at the first level worse than p. */
		cur = best;
		while (cur != BOOK_NONE && book_better(l->side, b->levels[cur].price, p))
			cur = b->levels[cur].worse;
		l->worse = cur;
		l->better = cur == BOOK_NONE ? worst : b->levels[cur].better;
	} else {
		/* From the worst end: stop at the first level better than p. */
		cur = worst;
		while (cur != BOOK_NONE && book_better(l->side, p, b->levels[cur].price))
			cur = b->levels[cur].better;
		l->better = cur;
		l->worse = cur == BOOK_NONE ? best : b->levels[cur].worse;
	}
	if (l->better == BOOK_NONE)
		e->best = li;
	else
		b->levels[l->better].worse = li;
	if (l->worse == BOOK_NONE)
		e->worst = li;
	else
		b->levels[l->worse].better = li;
}

/* Level of (locate, side, price), created if needed; BOOK_NONE if the pool
 * is exhausted. */
static uint32_t book_level_get(struct book *b, uint16_t locate, uint8_t side, uint32_t price)
{
	uint64_t key = book_level_key(locate, side, price), slot;
	uint32_t li = book_level_lookup(b, key, &slot);
	struct book_level *l;

	if (li != BOOK_NONE)
		return li;
	li = b->free_level;
	if (BOOK_UNLIKELY(li == BOOK_NONE)) {
		mdm_counter_add(&b->stats.level_full, 1);
		return BOOK_NONE;
	}
	l = &b->levels[li];
	b->free_level = l->worse;
	*l = (struct book_level){ .price = price, .locate = locate, .side = side };
	b->lslots[slot] = (struct book_lslot){ .key = key, .level = li };
	book_level_link(b, li);
	mdm_counter_add(&b->stats.levels, 1);
	return li;
}

/* Take `shares` of one order out of its level; release the level when its
 * last order leaves. */
static void book_level_sub(struct book *b, uint32_t li, uint32_t shares, bool order_gone)
{
	struct book_level *l;
	struct book_ends *e;
	uint64_t slot;

	if (li == BOOK_NONE)
		return;
	l = &b->levels[li];
	l->shares -= shares;
	if (!order_gone)
		return;
	if (--l->orders > 0)
		return;
	e = &b->ends[l->locate][l->side == 'S'];
	if (l->better == BOOK_NONE)
		e->best = l->worse;
	else
		b->levels[l->better].worse = l->worse;
	if (l->worse == BOOK_NONE)
		e->worst = l->better;
	else
		b->levels[l->worse].better = l->better;
	book_level_lookup(b, book_level_key(l->locate, l->side, l->price), &slot);
	book_lslot_free(b, slot);
	l->worse = b->free_level;
	b->free_level = li;
	mdm_counter_sub(&b->stats.levels, 1);
}

/* ---- messages ---- */

static void book_view_of(struct book_view *v, const struct book_order *o)
{
	v->ref = o->ref;
	v->orig_ref = o->ref;
	v->price = o->price;
	v->shares = o->shares;
	v->locate = o->locate;
	v->side = o->side;
	v->flags = BOOK_VIEW_KNOWN;
}

static enum book_status book_add(struct book *b, uint64_t ref, uint8_t side, uint32_t shares, uint32_t price,
		    uint16_t locate, struct book_view *v)
{
	struct book_order *o;
	bool dup;

	v->ref = ref;
	v->orig_ref = ref;
	v->locate = locate;
	if (BOOK_UNLIKELY(shares == 0 || (side != 'B' && side != 'S'))) {
		mdm_counter_add(&b->stats.invalid, 1);
		return BOOK_INVALID;
	}
	if (BOOK_UNLIKELY(b->stats.orders >= b->stats.max_orders)) {
		/* A dup is still a dup when full; report the more specific one. */
		if (book_find(b, ref)) {
			mdm_counter_add(&b->stats.dup_ref, 1);
			return BOOK_DUP_REF;
		}
		mdm_counter_add(&b->stats.full, 1);
		return BOOK_FULL;
	}
	o = book_slot_new(b, ref, &dup);
	if (BOOK_UNLIKELY(dup)) {
		mdm_counter_add(&b->stats.dup_ref, 1);
		return BOOK_DUP_REF;
	}
	*o = (struct book_order){ .ref = ref, .shares = shares, .price = price, .locate = locate, .side = side };
	o->level = book_level_get(b, locate, side, price);
	if (o->level != BOOK_NONE) {
		b->levels[o->level].shares += shares;
		b->levels[o->level].orders++;
	}
	mdm_counter_add(&b->stats.orders, 1);
	mdm_counter_add(&b->stats.adds, 1);
	v->price = price;
	v->shares = shares;
	v->side = side;
	v->flags = BOOK_VIEW_KNOWN;
	return BOOK_APPLIED;
}

/* Remove `n` shares from `o` (n >= remaining removes the order). */
static void book_reduce(struct book *b, struct book_order *o, uint32_t n, struct book_view *v)
{
	bool gone = n >= o->shares;

	if (BOOK_UNLIKELY(n > o->shares))
		mdm_counter_add(&b->stats.overfill, 1);
	book_level_sub(b, o->level, gone ? o->shares : n, gone);
	if (gone) {
		v->shares = 0;
		v->flags |= BOOK_VIEW_GONE;
		book_slot_free(b, o);
		mdm_counter_sub(&b->stats.orders, 1);
	} else {
		o->shares -= n;
		v->shares = o->shares;
	}
}

/* Find the order of an E/C/X/D/U message; fills the view either way. */
static struct book_order *book_target(struct book *b, const struct itch_msg *m, struct book_view *v)
{
	uint64_t ref = itch_be64(m->p + BOOK_OFF_REF);
	struct book_order *o = book_find(b, ref);

	if (BOOK_UNLIKELY(!o)) {
		v->ref = v->orig_ref = ref;
		v->locate = m->stock_locate;
		mdm_counter_add(&b->stats.unknown_ref, 1);
		return NULL;
	}
	if (BOOK_UNLIKELY(o->locate != m->stock_locate))
		mdm_counter_add(&b->stats.locate_mismatch, 1);
	book_view_of(v, o);
	return o;
}

enum book_status book_apply(struct book *b, const struct itch_msg *m, struct book_view *v)
{
	const uint8_t *p = m->p;
	struct book_order *o;
	uint32_t n;

	memset(v, 0, sizeof(*v));
	switch (m->type) {
	case 'A':
	case 'F':
		return book_add(b, itch_be64(p + BOOK_OFF_REF), p[BOOK_OFF_ADD_SIDE], itch_be32(p + BOOK_OFF_ADD_SHARES),
				itch_be32(p + BOOK_OFF_ADD_PRICE), m->stock_locate, v);
	case 'E':
	case 'C':
		o = book_target(b, m, v);
		n = itch_be32(p + BOOK_OFF_EXEC_SHARES);
		v->trade_shares = n;
		v->delta_shares = n;
		v->flags |= BOOK_VIEW_TRADE;
		if (!o) {
			v->trade_price = m->type == 'C' ? itch_be32(p + BOOK_OFF_C_PRICE) : 0;
			return BOOK_UNKNOWN_REF;
		}
		v->trade_price = m->type == 'C' ? itch_be32(p + BOOK_OFF_C_PRICE) : o->price;
		book_reduce(b, o, n, v);
		mdm_counter_add(&b->stats.executions, 1);
		return BOOK_APPLIED;
	case 'X':
		o = book_target(b, m, v);
		n = itch_be32(p + BOOK_OFF_EXEC_SHARES);
		v->delta_shares = n;
		if (!o)
			return BOOK_UNKNOWN_REF;
		book_reduce(b, o, n, v);
		mdm_counter_add(&b->stats.cancels, 1);
		return BOOK_APPLIED;
	case 'D':
		o = book_target(b, m, v);
		if (!o)
			return BOOK_UNKNOWN_REF;
		v->delta_shares = o->shares;
		book_reduce(b, o, o->shares, v);
		mdm_counter_add(&b->stats.deletes, 1);
		return BOOK_APPLIED;
	case 'U': {
		uint64_t new_ref = itch_be64(p + BOOK_OFF_U_NEW_REF), orig_ref;
		uint16_t locate;
		uint8_t side;
		enum book_status rc;

		o = book_target(b, m, v);
		if (!o) {
			v->ref = new_ref;
			return BOOK_UNKNOWN_REF;
		}
		orig_ref = o->ref;
		/* The new order inherits side and locate from the original. */
		side = o->side;
		locate = o->locate;
		v->delta_shares = o->shares;
		book_reduce(b, o, o->shares, v);
		mdm_counter_add(&b->stats.replaces, 1);
		v->flags = 0;
		rc = book_add(b, new_ref, side, itch_be32(p + BOOK_OFF_U_SHARES), itch_be32(p + BOOK_OFF_U_PRICE), locate, v);
		v->orig_ref = orig_ref;
		if (rc != BOOK_APPLIED) {
			/* The original is gone either way; describe what is left. */
			v->side = side;
			v->price = itch_be32(p + BOOK_OFF_U_PRICE);
			v->shares = 0;
			v->flags = BOOK_VIEW_GONE;
		}
		return rc;
	}
	default:
		return BOOK_IGNORED;
	}
}

bool book_bbo(const struct book *b, uint16_t locate, struct book_bbo *out)
{
	const struct book_ends *e = b->ends[locate];

	memset(out, 0, sizeof(*out));
	if (e[0].best != BOOK_NONE) {
		const struct book_level *l = &b->levels[e[0].best];

		out->bid_price = l->price;
		out->bid_shares = l->shares;
		out->bid_orders = l->orders;
	}
	if (e[1].best != BOOK_NONE) {
		const struct book_level *l = &b->levels[e[1].best];

		out->ask_price = l->price;
		out->ask_shares = l->shares;
		out->ask_orders = l->orders;
	}
	return e[0].best != BOOK_NONE || e[1].best != BOOK_NONE;
}

unsigned book_levels(const struct book *b, uint16_t locate, uint8_t side, struct book_level_info *out, unsigned n)
{
	uint32_t li = b->ends[locate][side == 'S'].best;
	unsigned k = 0;

	for (; k < n && li != BOOK_NONE; k++, li = b->levels[li].worse)
		out[k] = (struct book_level_info){ .price = b->levels[li].price, .orders = b->levels[li].orders,
						   .shares = b->levels[li].shares };
	return k;
}

bool book_order(const struct book *b, uint64_t ref, struct book_view *v)
{
	const struct book_order *o = book_find(b, ref);

	memset(v, 0, sizeof(*v));
	if (!o)
		return false;
	book_view_of(v, o);
	return true;
}

bool book_next_order(const struct book *b, uint64_t *cursor, struct book_view *out)
{
	for (uint64_t i = *cursor; i <= b->omask; i++) {
		const struct book_order *o = &b->orders[i];

		if (o->shares == 0)
			continue;
		*out = (struct book_view){ .ref = o->ref, .orig_ref = o->ref, .price = o->price, .shares = o->shares,
					   .locate = o->locate, .side = o->side, .flags = BOOK_VIEW_KNOWN };
		*cursor = i + 1;
		return true;
	}
	*cursor = b->omask + 1;
	return false;
}

int book_copy(struct book *dst, const struct book *src)
{
	if (dst->omask != src->omask || dst->lmask != src->lmask || dst->nlevels != src->nlevels)
		return -EINVAL;
	memcpy(dst->orders, src->orders, (src->omask + 1) * sizeof(src->orders[0]));
	memcpy(dst->lslots, src->lslots, (src->lmask + 1) * sizeof(src->lslots[0]));
	memcpy(dst->levels, src->levels, ((size_t)src->nlevels + 1) * sizeof(src->levels[0]));
	memcpy(dst->ends, src->ends, sizeof(src->ends));
	dst->free_level = src->free_level;
	mdm_counter_set(&dst->stats.orders, mdm_counter_get(&src->stats.orders));
	mdm_counter_set(&dst->stats.levels, mdm_counter_get(&src->stats.levels));
	return 0;
}

void book_reset(struct book *b)
{
	memset(b->orders, 0, (b->omask + 1) * sizeof(b->orders[0]));
	book_levels_init(b);
	mdm_counter_set(&b->stats.orders, 0);
	mdm_counter_set(&b->stats.levels, 0);
}

const struct book_stats *book_stats(const struct book *b)
{
	return &b->stats;
}
