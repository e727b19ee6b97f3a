/* Locate -> symbol table: a flat array of 65536 stocks as sent, and which
 * message types carry a stock of their own (from itch_msgs.def). */
#include "symbols.h"

#include <errno.h>
#include <string.h>

#include "mdm_counter.h"
#include "mdm_mem.h"

#define SYMBOLS_UNLIKELY(x) __builtin_expect(!!(x), 0)

_Static_assert(SYMBOLS_LEN == sizeof(uint64_t), "blank() and symbols_len() load a stock as one u64");

struct symbols {
	struct symbols_stats stats;
	/* stock_off[type]: offset of the type's `stock` field, 0 = none (the
	 * header takes bytes 0..10, so no field starts at 0) */
	uint8_t stock_off[256];
	/* name[locate]: the stock as sent; all spaces = unknown (a blank stock
	 * is never recorded). 8 bytes per entry keep the table at 512 KiB. */
	uint8_t name[SYMBOLS_LOCATES][SYMBOLS_LEN];
};

/* All spaces: no symbol. One 8-byte load (every byte alike: endian-free). */
static inline bool blank(const uint8_t *stock)
{
	uint64_t v;

	memcpy(&v, stock, sizeof(v));
	return v == 0x2020202020202020ull;
}

int symbols_create(struct symbols **out)
{
	struct symbols *s;

	if (!out)
		return -EINVAL;
	*out = s = mdm_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (unsigned i = 0; i < ITCH_MSG_TYPES; i++) {
		const struct itch_msg_desc *d = itch_desc_at(i);
		const struct itch_field *f = itch_field_find(d, "stock");

		if (f && f->size == SYMBOLS_LEN && f->kind == ITCH_F_ALPHA)
			s->stock_off[d->type] = f->offset;
	}
	memset(s->name, ' ', sizeof(s->name));
	return 0;
}

void symbols_destroy(struct symbols *s)
{
	mdm_free(s);
}

/* Count what is unusual in a symbol about to be recorded. */
static void count_unusual(struct symbols *s, const uint8_t *stock)
{
	size_t n = symbols_len(stock);
	bool space = false, control = false, high = false;

	for (size_t i = 0; i < n; i++) {
		space |= stock[i] == ' ';
		control |= stock[i] < 0x20 || stock[i] == 0x7f;
		high |= stock[i] >= 0x80;
	}
	if (SYMBOLS_UNLIKELY(space))
		mdm_counter_add(&s->stats.unusual[SYMBOLS_SPACE], 1);
	if (SYMBOLS_UNLIKELY(control))
		mdm_counter_add(&s->stats.unusual[SYMBOLS_CONTROL], 1);
	if (SYMBOLS_UNLIKELY(high))
		mdm_counter_add(&s->stats.unusual[SYMBOLS_NON_ASCII], 1);
}

bool symbols_set(struct symbols *s, uint16_t locate, const uint8_t *stock)
{
	uint8_t *dst = s->name[locate];

	if (blank(stock)) {
		mdm_counter_add(&s->stats.unusual[SYMBOLS_EMPTY], 1);
		return false;
	}
	if (blank(dst))
		mdm_counter_add(&s->stats.known, 1);
	else if (memcmp(dst, stock, SYMBOLS_LEN) != 0)
		mdm_counter_add(&s->stats.redefined, 1);
	count_unusual(s, stock);
	memcpy(dst, stock, SYMBOLS_LEN);
	mdm_counter_add(&s->stats.set, 1);
	return true;
}

bool symbols_apply(struct symbols *s, const struct itch_msg *m)
{
	if (m->type != 'R')
		return false;
	return symbols_set(s, m->stock_locate, m->p + s->stock_off['R']);
}

/* The symbol of an event without a usable stock of its own: its locate's. */
static inline const uint8_t *of_locate(struct symbols *s, const struct itch_msg *m, const uint8_t *entry)
{
	if (m->stock_locate == 0)
		return NULL; /* market-wide */
	if (SYMBOLS_UNLIKELY(blank(entry))) {
		mdm_counter_add(&s->stats.unknown, 1);
		return NULL;
	}
	return entry;
}

/* A message with a stock field that is an R, or whose locate has no symbol
 * yet. A late joiner learns the locate from the message's own stock. Safe:
 * ITCH gives a locate to one security for the whole day and every message
 * names it by both, so the pair is as good as an R's. Only a locate no R
 * named is learnt, first message wins, and an R still overrides it (counted
 * as redefined if it differs): a wrong stock field can mislabel no more than
 * the E/C/X/D/U of a locate nothing else named. Out of line: it runs for R
 * messages and once per learnt locate, and symbols_of() stays a leaf. */
static __attribute__((noinline, cold)) const uint8_t *of_own_rare(struct symbols *s, const struct itch_msg *m,
								  const uint8_t *own, uint8_t *entry)
{
	if (m->type == 'R') {
		symbols_set(s, m->stock_locate, own);
	} else if (m->stock_locate && !blank(own)) {
		count_unusual(s, own);
		memcpy(entry, own, SYMBOLS_LEN);
		mdm_counter_add(&s->stats.known, 1);
		mdm_counter_add(&s->stats.learned, 1);
	}
	return blank(own) ? of_locate(s, m, entry) : own;
}

const uint8_t *symbols_of(struct symbols *s, const struct itch_msg *m)
{
	unsigned off = s->stock_off[m->type];
	uint8_t *entry = s->name[m->stock_locate];

	if (off) {
		const uint8_t *own = m->p + off;

		if (SYMBOLS_UNLIKELY(m->type == 'R' || blank(entry)))
			return of_own_rare(s, m, own, entry);
		if (!blank(own))
			return own;
	}
	return of_locate(s, m, entry);
}

const uint8_t *symbols_peek(const struct symbols *s, uint16_t locate)
{
	return blank(s->name[locate]) ? NULL : s->name[locate];
}

void symbols_reset(struct symbols *s)
{
	memset(s->name, ' ', sizeof(s->name));
	mdm_counter_set(&s->stats.known, 0);
}

const struct symbols_stats *symbols_stats(const struct symbols *s)
{
	return &s->stats;
}

const char *symbols_unusual_name(enum symbols_unusual reason)
{
	static const char *const names[SYMBOLS_UNUSUAL_COUNT] = { SYMBOLS_UNUSUAL(MDM_ENUM_NAME) };

	return mdm_enum_name(names, SYMBOLS_UNUSUAL_COUNT, reason);
}
