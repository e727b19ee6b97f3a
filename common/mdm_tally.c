/* Totals by name, lock-free (mdm_tally.h). Open addressing over a power of
 * two; a slot's state goes empty -> claiming -> ready exactly once, so a key
 * never moves and readers only look at ready slots. */
#include "mdm_tally.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_mem.h"

enum { SLOT_EMPTY = 0, SLOT_CLAIMING = 1, SLOT_READY = 2 };

struct slot {
	uint32_t state;
	uint32_t hash;
	char key[MDM_TALLY_KEY_MAX];
	int64_t total;
	uint64_t count;
};

struct mdm_tally {
	unsigned mask;
	unsigned capacity;     /* keys allowed before "_other" */
	unsigned used;         /* slots claimed (shared) */
	struct slot slots[];
};

static const char other[] = "_other";

int mdm_tally_create(struct mdm_tally **out, unsigned capacity)
{
	unsigned n = 8;
	struct mdm_tally *t;

	*out = NULL;
	if (capacity < 1 || capacity > 4096)
		return mdm_err_set(-EINVAL, "tally: capacity %u out of 1..4096", capacity);
	while (n < 2 * (capacity + 1)) /* at most half full: short probes */
		n <<= 1;
	t = mdm_calloc(1, sizeof(*t) + n * sizeof(struct slot));
	if (!t)
		return mdm_err_set(-ENOMEM, "tally: out of memory");
	t->mask = n - 1;
	t->capacity = capacity;
	*out = t;
	return 0;
}

void mdm_tally_destroy(struct mdm_tally *t)
{
	mdm_free(t);
}

static uint32_t hash(const char *p, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static bool same(const struct slot *s, uint32_t h, const char *key, size_t len)
{
	return s->hash == h && strncmp(s->key, key, len) == 0 && s->key[len] == '\0';
}

/* The slot of key, claimed if new; NULL when the table is full. */
static struct slot *find(struct mdm_tally *t, const char *key, size_t len, bool reserved)
{
	uint32_t h = hash(key, len);

	for (unsigned i = 0, at = h & t->mask; i <= t->mask; i++, at = (at + 1) & t->mask) {
		struct slot *s = &t->slots[at];
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == SLOT_EMPTY) {
			uint32_t want = SLOT_EMPTY;

			if (!reserved && __atomic_load_n(&t->used, __ATOMIC_RELAXED) >= t->capacity)
				return NULL;
			if (__atomic_compare_exchange_n(&s->state, &want, SLOT_CLAIMING, false, __ATOMIC_ACQUIRE,
							__ATOMIC_ACQUIRE)) {
				__atomic_fetch_add(&t->used, 1, __ATOMIC_RELAXED);
				memcpy(s->key, key, len);
				s->key[len] = '\0';
				s->hash = h;
				__atomic_store_n(&s->state, SLOT_READY, __ATOMIC_RELEASE);
				return s;
			}
			st = want;
		}
		while (st == SLOT_CLAIMING) /* another thread is writing the key: a few stores */
			st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (same(s, h, key, len))
			return s;
	}
	return NULL;
}

void mdm_tally_add(struct mdm_tally *t, const char *key, size_t len, int64_t v)
{
	struct slot *s;

	if (len >= MDM_TALLY_KEY_MAX)
		len = MDM_TALLY_KEY_MAX - 1;
	s = find(t, key, len, false);
	if (!s)
		s = find(t, other, sizeof(other) - 1, true);
	if (!s)
		return; /* cannot happen: the table is twice the capacity */
	__atomic_fetch_add(&s->total, v, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
}

size_t mdm_tally_top(const struct mdm_tally *t, struct mdm_tally_entry *out, size_t n)
{
	size_t k = 0;

	for (unsigned i = 0; i <= t->mask && n; i++) {
		const struct slot *s = &t->slots[i];
		struct mdm_tally_entry e;
		size_t at;

		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SLOT_READY)
			continue;
		memcpy(e.key, s->key, sizeof(e.key));
		e.total = __atomic_load_n(&s->total, __ATOMIC_RELAXED);
		e.count = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
		/* insertion into the sorted top n */
		for (at = k; at > 0 && out[at - 1].total < e.total; at--)
			if (at < n)
				out[at] = out[at - 1];
		if (at < n) {
			out[at] = e;
			if (k < n)
				k++;
		}
	}
	return k;
}

void mdm_tally_write_json(const struct mdm_tally *t, struct mdm_json *j, size_t n)
{
	struct mdm_tally_entry top[64];
	size_t k = mdm_tally_top(t, top, n < 64 ? n : 64);

	mdm_json_obj_begin(j);
	for (size_t i = 0; i < k; i++) {
		mdm_json_key(j, top[i].key);
		mdm_json_obj_begin(j);
		mdm_json_ki64(j, "total", top[i].total);
		mdm_json_ku64(j, "count", top[i].count);
		mdm_json_obj_end(j);
	}
	mdm_json_obj_end(j);
}
