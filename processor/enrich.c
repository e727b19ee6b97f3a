/* Reference-data cache; see enrich.h for the contract and the concurrency
 * design (insert-only hash table + one sequence lock per symbol). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "enrich.h"
#include "mdm_counter.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_json_read.h"
#include "mdm_log.h"
#include "mdm_mem.h"

#define DEFAULT_BUCKET "refdata"
#define DEFAULT_CAPACITY 32768u
#define MAX_CAPACITY (1u << 24)
#define DEFAULT_LOAD_TIMEOUT_MS 10000
#define MAX_LOAD_TIMEOUT_MS 3600000u
#define WATCH_POLL_MS 100      /* bounds how long destroy waits for the thread */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STRIPES 64             /* per-thread counter lines; threads beyond share */
#define CACHE_LINE 64

#define REC_WORDS (sizeof(struct enrich_instrument) / sizeof(uint64_t))
_Static_assert(sizeof(struct enrich_instrument) % sizeof(uint64_t) == 0,
	       "enrich_instrument is copied as whole 64-bit words");

/* Lookup counters, one cache line per stripe, so that workers counting on
 * every event do not bounce a shared line between cores. */
struct stripe {
	uint64_t lookups;               /* mdm_counter: workers sharing the stripe */
	uint64_t misses;
	char pad[CACHE_LINE - 2 * sizeof(uint64_t)];
};

struct entry {
	char symbol[ENRICH_SYMBOL_MAX]; /* NUL-padded; written once, before the slot is published */
	_Atomic uint32_t seq;           /* sequence lock: odd while the writer stores */
	_Atomic uint64_t rec[REC_WORDS]; /* a struct enrich_instrument; revision 0 = no data */
	/* watch thread only */
	uint32_t gen;                   /* watch generation that last saw this key in the bucket */
	bool present;
	/* guarded by enrich.json_mu */
	char *json;
	size_t json_len;
	uint64_t json_rev;
};

struct enrich {
	struct mdm_bus *bus;
	struct mdm_bus_kv *kv;
	struct mdm_bus_kv_watch *watch; /* watch thread only, once it runs */
	char bucket[64];
	char prefix[32];                /* key prefix, e.g. "instrument." */
	size_t prefix_len;

	uint32_t capacity;
	uint32_t used;                  /* entries handed out; watch thread only */
	uint32_t mask;                  /* slots - 1 */
	_Atomic uint64_t *slots;        /* (hash << 32) | (entry index + 1); 0 = empty */
	struct entry *entries;

	struct stripe *stripes;         /* CACHE_LINE-aligned inside stripes_mem */
	void *stripes_mem;

	pthread_mutex_t json_mu;
	bool mu_ready;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	uint32_t gen;                   /* bumped per watch (re)creation */

	uint64_t n_entries, n_updates, n_deletes, n_bad, n_dropped, n_watch_errors; /* mdm_counter, watcher writes */
};

static _Atomic uint32_t stripe_next;
static __thread uint32_t stripe_mine; /* stripe index + 1; 0 = not assigned yet */

void enrich_params_init(struct enrich_params *p)
{
	memset(p, 0, sizeof(*p));
}

/* FNV-1a: symbols are short, and the hash is recomputed per lookup. */
static uint32_t sym_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Length of a usable symbol (1..ENRICH_SYMBOL_MAX-1 bytes), or 0. */
static size_t sym_len(const char *s)
{
	size_t n = s ? strnlen(s, ENRICH_SYMBOL_MAX) : 0;

	return n < ENRICH_SYMBOL_MAX ? n : 0;
}

/* The entry of symbol s[0..n) (NUL at s[n]), or NULL. Safe from any thread:
 * a published slot's entry symbol never changes. */
static struct entry *find(const struct enrich *e, const char *s, size_t n, uint32_t h)
{
	for (uint32_t i = h & e->mask;; i = (i + 1) & e->mask) {
		uint64_t v = atomic_load_explicit(&e->slots[i], memory_order_acquire);
		struct entry *en;

		if (v == 0)
			return NULL; /* load factor <= 0.5: an empty slot always ends the probe */
		if ((uint32_t)(v >> 32) != h)
			continue;
		en = &e->entries[(uint32_t)v - 1];
		if (memcmp(en->symbol, s, n + 1) == 0)
			return en;
	}
}

/* Writer: the entry of s, claiming a free one when absent. NULL at capacity. */
static struct entry *find_or_add(struct enrich *e, const char *s, size_t n, uint32_t h)
{
	uint32_t i;
	struct entry *en;

	for (i = h & e->mask;; i = (i + 1) & e->mask) {
		uint64_t v = atomic_load_explicit(&e->slots[i], memory_order_relaxed);

		if (v == 0)
			break;
		en = &e->entries[(uint32_t)v - 1];
		if ((uint32_t)(v >> 32) == h && memcmp(en->symbol, s, n + 1) == 0)
			return en;
	}
	if (e->used == e->capacity)
		return NULL;
	en = &e->entries[e->used];
	memcpy(en->symbol, s, n + 1);
	/* release: a reader that sees the slot sees the symbol written above */
	atomic_store_explicit(&e->slots[i], ((uint64_t)h << 32) | (uint64_t)(e->used + 1),
			      memory_order_release);
	e->used++;
	return en;
}

/* Sequence-lock write (single writer). The release fence orders the odd
 * counter before the data stores; the final release store publishes them. */
static void rec_store(struct entry *en, const struct enrich_instrument *in)
{
	uint64_t w[REC_WORDS];
	uint32_t s = atomic_load_explicit(&en->seq, memory_order_relaxed);

	memcpy(w, in, sizeof(w));
	atomic_store_explicit(&en->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < REC_WORDS; i++)
		atomic_store_explicit(&en->rec[i], w[i], memory_order_relaxed);
	atomic_store_explicit(&en->seq, s + 2, memory_order_release);
}

/* Sequence-lock read: retry until a copy was taken while the counter was
 * even and unchanged. All accesses are atomic, so there is no data race. */
static void rec_load(const struct entry *en, struct enrich_instrument *out)
{
	uint64_t w[REC_WORDS];
	unsigned spins = 0;

	for (;;) {
		uint32_t s1 = atomic_load_explicit(&en->seq, memory_order_acquire);

		if (!(s1 & 1)) {
			for (size_t i = 0; i < REC_WORDS; i++)
				w[i] = atomic_load_explicit(&en->rec[i], memory_order_relaxed);
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&en->seq, memory_order_relaxed) == s1)
				break;
		}
		/* the writer was preempted inside its ~25 stores: let it run */
		if (++spins % 64 == 0)
			sched_yield();
	}
	memcpy(out, w, sizeof(*out));
}

static struct stripe *my_stripe(const struct enrich *e)
{
	if (!stripe_mine)
		stripe_mine = atomic_fetch_add_explicit(&stripe_next, 1, memory_order_relaxed) % STRIPES + 1;
	return &e->stripes[stripe_mine - 1];
}

bool enrich_lookup(const struct enrich *e, const char *symbol, struct enrich_instrument *out)
{
	struct stripe *st;
	struct entry *en;
	size_t n;

	if (!e)
		return false;
	st = my_stripe(e);
	mdm_counter_add_shared(&st->lookups, 1);
	n = sym_len(symbol);
	if (n && out && (en = find(e, symbol, n, sym_hash(symbol, n)))) {
		rec_load(en, out);
		if (out->revision != 0)
			return true;
	}
	mdm_counter_add_shared(&st->misses, 1);
	return false;
}

int enrich_lookup_json(struct enrich *e, const char *symbol, char *buf, size_t cap, size_t *len,
		       uint64_t *revision)
{
	struct entry *en;
	size_t n = sym_len(symbol);
	int rc = 0;

	if (!e || !n || (!buf && cap))
		return -EINVAL;
	en = find(e, symbol, n, sym_hash(symbol, n));
	if (!en)
		return -ENOENT;
	pthread_mutex_lock(&e->json_mu);
	if (!en->json) {
		rc = -ENOENT;
	} else {
		if (len)
			*len = en->json_len;
		if (revision)
			*revision = en->json_rev;
		if (cap <= en->json_len)
			rc = -ENOSPC;
		else
			memcpy(buf, en->json, en->json_len + 1);
	}
	pthread_mutex_unlock(&e->json_mu);
	return rc;
}

void enrich_counters_get(const struct enrich *e, struct enrich_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (!e)
		return;
	out->entries = mdm_counter_get(&e->n_entries);
	out->updates = mdm_counter_get(&e->n_updates);
	out->deletes = mdm_counter_get(&e->n_deletes);
	out->bad_values = mdm_counter_get(&e->n_bad);
	out->dropped = mdm_counter_get(&e->n_dropped);
	out->watch_errors = mdm_counter_get(&e->n_watch_errors);
	for (int i = 0; i < STRIPES; i++) {
		out->lookups += mdm_counter_get(&e->stripes[i].lookups);
		out->misses += mdm_counter_get(&e->stripes[i].misses);
	}
}

/* ---- the writer side (create, then the watch thread) ------------------ */

/* A string member into out[cap]: cut at a UTF-8 boundary when too long,
 * empty when absent, not a string or not representable (\u0000). */
static void take_str(const json_t *o, const char *key, char *out, size_t cap)
{
	if (mdm_json_read_str(o, key, out, cap) == -EINVAL)
		out[0] = '\0';
}

int enrich_amount4(const char *s, size_t len, int64_t *out)
{
	const int64_t max = INT64_MAX / 10;
	int64_t v = 0;
	size_t i = 0;
	int frac = -1;
	bool neg = false, digits = false;

	if (len && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	for (; i < len; i++) {
		if (s[i] == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || frac == 4 || v > max)
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
		digits = true;
		if (frac >= 0)
			frac++;
	}
	for (frac = frac < 0 ? 0 : frac; frac < 4; frac++) {
		if (v > max)
			return -EINVAL;
		v *= 10;
	}
	if (!digits)
		return -EINVAL;
	*out = neg ? -v : v;
	return 0;
}

/* Parse a value into *in (symbol and revision left to the caller).
 * 0, or -EINVAL when it is not a valid JSON object. */
static int parse_value(const void *val, size_t len, struct enrich_instrument *in)
{
	json_t *o = mdm_json_read_object(val, len, NULL, 0);

	memset(in, 0, sizeof(*in));
	if (!o)
		return -EINVAL;
	take_str(o, "sector", in->sector, sizeof(in->sector));
	take_str(o, "currency", in->currency, sizeof(in->currency));
	take_str(o, "exchange", in->exchange, sizeof(in->exchange));
	take_str(o, "name", in->name, sizeof(in->name));
	if (mdm_json_read_u64(o, "lot_size", &in->lot_size) < 0)
		in->lot_size = 0;
	take_str(o, "team", in->team, sizeof(in->team));
	if (mdm_json_read_u64(o, "authorization_level", &in->authorization_level) < 0)
		in->authorization_level = 0;
	{
		/* a string (mdmesh refdata writes it so): exact in 1e-4 units */
		const json_t *lim = json_object_get(o, "max_trade_limit");

		in->has_limit = json_is_string(lim) &&
				enrich_amount4(json_string_value(lim), json_string_length(lim), &in->max_trade_limit) == 0;
	}
	json_decref(o);
	return 0;
}

static void entry_clear(struct enrich *e, struct entry *en)
{
	static const struct enrich_instrument none;
	char *old;

	/* counters before the change is published: a reader that sees it sees them */
	en->present = false;
	mdm_counter_sub(&e->n_entries, 1);
	mdm_counter_add(&e->n_deletes, 1);
	rec_store(en, &none);
	pthread_mutex_lock(&e->json_mu);
	old = en->json;
	en->json = NULL;
	en->json_len = 0;
	en->json_rev = 0;
	pthread_mutex_unlock(&e->json_mu);
	mdm_free(old);
}

static void apply_put(struct enrich *e, const char *sym, size_t n, uint32_t h, struct mdm_bus_kv_entry *kve)
{
	const void *val = mdm_bus_kv_entry_value(kve);
	size_t len = mdm_bus_kv_entry_len(kve);
	struct enrich_instrument in;
	struct entry *en;
	char *copy, *old;

	if (len > ENRICH_JSON_MAX || parse_value(val, len, &in) < 0) {
		mdm_counter_add(&e->n_bad, 1);
		/* the key is still in the bucket: a resync must not remove the
		 * data it had before this bad value */
		if ((en = find(e, sym, n, h)))
			en->gen = e->gen;
		return;
	}
	memcpy(in.symbol, sym, n + 1);
	in.revision = mdm_bus_kv_entry_revision(kve);
	if (in.revision == 0)
		in.revision = 1; /* 0 means "no data" to readers; KV revisions start at 1 */
	en = find_or_add(e, sym, n, h);
	copy = en ? mdm_malloc(len + 1) : NULL;
	if (!copy) {
		mdm_counter_add(&e->n_dropped, 1);
		return;
	}
	if (len)
		memcpy(copy, val, len);
	copy[len] = '\0';
	/* counters before the change is published: a reader that sees it sees them */
	if (!en->present) {
		en->present = true;
		mdm_counter_add(&e->n_entries, 1);
	}
	mdm_counter_add(&e->n_updates, 1);
	rec_store(en, &in);
	pthread_mutex_lock(&e->json_mu);
	old = en->json;
	en->json = copy;
	en->json_len = len;
	en->json_rev = in.revision;
	pthread_mutex_unlock(&e->json_mu);
	mdm_free(old);
	en->gen = e->gen;
}

static void apply(struct enrich *e, struct mdm_bus_kv_entry *kve)
{
	const char *key = mdm_bus_kv_entry_key(kve);
	const char *sym;
	struct entry *en;
	uint32_t h;
	size_t n;

	if (!key || strncmp(key, e->prefix, e->prefix_len) != 0 || !(n = sym_len(key + e->prefix_len))) {
		mdm_counter_add(&e->n_bad, 1);
		return;
	}
	sym = key + e->prefix_len;
	h = sym_hash(sym, n);
	if (mdm_bus_kv_entry_op(kve) == MDM_BUS_KV_PUT) {
		apply_put(e, sym, n, h, kve);
		return;
	}
	/* delete or purge; a marker for a symbol never loaded changes nothing */
	en = find(e, sym, n, h);
	if (en && en->present)
		entry_clear(e, en);
}

/* End of a watch's initial values: drop what the bucket no longer holds. */
static void sweep(struct enrich *e)
{
	for (uint32_t i = 0; i < e->used; i++) {
		struct entry *en = &e->entries[i];

		if (en->present && en->gen != e->gen)
			entry_clear(e, en);
	}
}

static int watch_start(struct enrich *e)
{
	char filter[sizeof(e->prefix) + 1];
	int rc;

	snprintf(filter, sizeof(filter), "%s>", e->prefix);
	rc = mdm_bus_kv_watch(e->kv, filter, &e->watch);

	if (rc == 0)
		e->gen++;
	return rc;
}

/* One watch event: 0 applied, 1 initial values complete (swept), or a
 * negative errno from mdm_bus_kv_watch_next (-ETIMEDOUT: nothing came). */
static int step(struct enrich *e, uint64_t timeout_ms)
{
	struct mdm_bus_kv_entry *kve = NULL;
	int rc = mdm_bus_kv_watch_next(e->watch, timeout_ms, &kve);

	if (rc < 0)
		return rc;
	if (!kve) {
		sweep(e);
		return 1;
	}
	apply(e, kve);
	mdm_bus_kv_entry_free(kve);
	return 0;
}

static void sleep_unless_stopped(struct enrich *e, uint64_t ms)
{
	uint64_t end = mdm_mono_ns() + ms * MDM_NS_PER_MS;

	while (!atomic_load(&e->stop) && mdm_mono_ns() < end)
		mdm_sleep_ns(20 * MDM_NS_PER_MS);
}

static void *watch_thread(void *arg)
{
	struct enrich *e = arg;
	uint64_t backoff = BACKOFF_MIN_MS;
	bool failing = false;
	int rc;

	while (!atomic_load(&e->stop)) {
		rc = e->watch ? 0 : watch_start(e);
		if (rc == 0)
			rc = step(e, WATCH_POLL_MS);
		if (rc == 1 && failing) {
			mdm_log_info("enrich: %s: watch re-created, %" PRIu64 " instruments", e->bucket,
				     mdm_counter_get(&e->n_entries));
			failing = false;
			backoff = BACKOFF_MIN_MS;
		}
		if (rc >= 0 || rc == -ETIMEDOUT)
			continue;
		mdm_counter_add(&e->n_watch_errors, 1);
		/* logged once per outage: the counter tells how long it lasted */
		if (!failing)
			mdm_log_warn("enrich: %s: watch failed (%s), re-creating it; lookups serve the last data",
				     e->bucket, mdm_err_last());
		failing = true;
		mdm_bus_kv_watch_destroy(e->watch);
		e->watch = NULL;
		sleep_unless_stopped(e, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

int enrich_create(struct enrich **out, const struct enrich_params *p)
{
	struct enrich *e;
	const char *bucket, *prefix;
	uint64_t timeout_ms, deadline, slots = 2;
	int rc;

	*out = NULL;
	if (!p || !p->bus || p->capacity > MAX_CAPACITY || p->load_timeout_ms > MAX_LOAD_TIMEOUT_MS)
		return mdm_err_set(-EINVAL, "enrich: bad params (bus required, capacity <= %u, load_timeout_ms <= %u)",
				   MAX_CAPACITY, MAX_LOAD_TIMEOUT_MS);
	bucket = p->bucket ? p->bucket : DEFAULT_BUCKET;
	if (!*bucket || strlen(bucket) >= sizeof(e->bucket))
		return mdm_err_set(-EINVAL, "enrich: bad bucket name '%s'", bucket);
	prefix = p->key_prefix ? p->key_prefix : ENRICH_KEY_PREFIX;
	if (strlen(prefix) < 2 || strlen(prefix) >= sizeof(e->prefix) || prefix[strlen(prefix) - 1] != '.')
		return mdm_err_set(-EINVAL, "enrich: bad key prefix '%s'", prefix);
	e = mdm_calloc(1, sizeof(*e));
	if (!e)
		return mdm_err_set(-ENOMEM, "enrich: out of memory");
	e->bus = p->bus;
	strcpy(e->bucket, bucket);
	strcpy(e->prefix, prefix);
	e->prefix_len = strlen(prefix);
	e->capacity = p->capacity ? p->capacity : DEFAULT_CAPACITY;
	while (slots < 2 * (uint64_t)e->capacity)
		slots *= 2;
	e->mask = (uint32_t)(slots - 1);
	e->slots = mdm_calloc(slots, sizeof(*e->slots));
	e->entries = mdm_calloc(e->capacity, sizeof(*e->entries));
	e->stripes_mem = mdm_calloc(STRIPES + 1, sizeof(struct stripe));
	if (!e->slots || !e->entries || !e->stripes_mem) {
		rc = mdm_err_set(-ENOMEM, "enrich: out of memory for %u entries", e->capacity);
		goto err;
	}
	e->stripes = (struct stripe *)(((uintptr_t)e->stripes_mem + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1));
	if ((rc = -pthread_mutex_init(&e->json_mu, NULL)) != 0)
		goto err;
	e->mu_ready = true;

	rc = p->replicas ? mdm_bus_kv_ensure(p->bus, bucket, p->replicas, &e->kv)
			 : mdm_bus_kv_open(p->bus, bucket, true, &e->kv);
	if (rc < 0)
		goto err;
	rc = watch_start(e);
	if (rc < 0)
		goto err;
	timeout_ms = p->load_timeout_ms ? p->load_timeout_ms : DEFAULT_LOAD_TIMEOUT_MS;
	deadline = mdm_mono_ns() + timeout_ms * MDM_NS_PER_MS;
	for (;;) {
		uint64_t now = mdm_mono_ns();

		if (now >= deadline) {
			rc = mdm_err_set(-ETIMEDOUT, "enrich: %s: initial values not complete after %" PRIu64
						     " ms (%" PRIu64 " loaded)", bucket, timeout_ms,
					 mdm_counter_get(&e->n_entries));
			goto err;
		}
		rc = step(e, (deadline - now + MDM_NS_PER_MS - 1) / MDM_NS_PER_MS);
		if (rc == 1)
			break;
		if (rc < 0 && rc != -ETIMEDOUT)
			goto err;
	}
	if ((rc = -pthread_create(&e->thread, NULL, watch_thread, e)) != 0) {
		mdm_err_set(rc, "enrich: cannot start the watch thread: %s", mdm_strerror(rc));
		goto err;
	}
	e->thread_started = true;
	pthread_setname_np(e->thread, "mdm-enrich");
	*out = e;
	return 0;
err:
	enrich_destroy(e);
	return rc;
}

void enrich_destroy(struct enrich *e)
{
	if (!e)
		return;
	if (e->thread_started) {
		atomic_store(&e->stop, true);
		pthread_join(e->thread, NULL);
	}
	mdm_bus_kv_watch_destroy(e->watch);
	mdm_bus_kv_destroy(e->kv);
	if (e->entries)
		for (uint32_t i = 0; i < e->used; i++)
			mdm_free(e->entries[i].json);
	if (e->mu_ready)
		pthread_mutex_destroy(&e->json_mu);
	mdm_free(e->entries);
	mdm_free(e->slots);
	mdm_free(e->stripes_mem);
	mdm_free(e);
}
