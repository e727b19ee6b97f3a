/* enrich: the processor's reference-data cache. It mirrors the KV bucket
 * `refdata` (DESIGN.md: keys instrument.<SYMBOL> -> JSON object) in memory so
 * that worker threads can look an instrument up per event without touching
 * NATS.
 *
 * enrich_create() opens the bucket (creating it when missing), starts a KV
 * watch on instrument.> and loads every current value before it returns (the
 * watch yields a NULL entry once the initial values are delivered,
 * JETSTREAM_FACTS.md section 7). A background thread then follows the same
 * watch: a put replaces the symbol's data, a delete or purge removes it. When
 * the watch fails (connection closed for good, consumer lost) the thread
 * re-creates it with backoff and, at the end of the new initial values,
 * removes every symbol the bucket no longer holds, so deletes made during the
 * outage are not missed. The bucket keeps one revision per key (history 1),
 * so a watch that lags sees only the latest of several quick changes to a key:
 * the cache converges to the bucket's state, and the counters count what the
 * watch delivered.
 *
 * Values: a flat JSON object. sector, currency, exchange, name (strings) and
 * lot_size (a non-negative integer) are parsed once, at update time, into
 * fixed-size fields; a longer string is cut at a UTF-8 character boundary, a
 * known field of another type is left empty (0). Other keys are kept only in
 * the raw JSON (enrich_lookup_json, for the store). A value that is not a valid
 * JSON object (mdm_json_read.h: libjansson's rules), is larger than ENRICH_JSON_MAX, or sits
 * under a key whose symbol is empty or longer than ENRICH_SYMBOL_MAX - 1 bytes,
 * is counted in `bad_values` and ignored: the symbol keeps its previous data.
 *
 * Concurrency: one writer (the watch thread), any number of readers.
 * enrich_lookup() is lock-free for readers: each symbol's fixed fields sit
 * behind a sequence lock (the writer bumps a counter to odd, stores, bumps it
 * to even; a reader copies the fields with atomic loads and retries if the
 * counter moved), and the symbol -> slot hash table is insert-only (a symbol
 * keeps its slot for the life of the cache, a delete only empties its data),
 * so readers never write shared memory except their own per-thread counter
 * stripe, and only ever wait for the ~25 stores of an update of the same
 * symbol in progress (yielding the CPU if the writer was preempted in them). Capacity is therefore counted in distinct symbols ever seen; symbols
 * beyond it are counted in `dropped` and ignored. The raw JSON is cold-path
 * data behind a mutex.
 *
 * Memory: everything is allocated in enrich_create (about 250 bytes per
 * symbol of capacity), except the raw JSON copies, which the watch thread
 * allocates per update (never per lookup). */
#ifndef ENRICH_H
#define ENRICH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mdm_bus;
struct enrich;

#define ENRICH_SYMBOL_MAX 16     /* symbol bytes + NUL */
#define ENRICH_SECTOR_MAX 48
#define ENRICH_CURRENCY_MAX 8
#define ENRICH_EXCHANGE_MAX 16
#define ENRICH_NAME_MAX 80
#define ENRICH_JSON_MAX 65536    /* larger values are bad_values */
#define ENRICH_KEY_PREFIX "instrument."
#define ENRICH_TRADER_PREFIX "trader."  /* trader.<ID>: the same cache over another prefix */
#define ENRICH_TEAM_MAX 32

/* One instrument's parsed reference data. Strings are NUL-terminated UTF-8,
 * "" when the value had no such key. */
struct enrich_instrument {
	char symbol[ENRICH_SYMBOL_MAX];
	char sector[ENRICH_SECTOR_MAX];
	char currency[ENRICH_CURRENCY_MAX];
	char exchange[ENRICH_EXCHANGE_MAX];
	char name[ENRICH_NAME_MAX];
	uint64_t lot_size;   /* 0 when absent or not a non-negative integer */
	uint64_t revision;   /* KV revision the data came from (never 0) */
	/* trader.<ID> values (key_prefix "trader."): name above, and these */
	char team[ENRICH_TEAM_MAX];
	uint64_t authorization_level;  /* 0 when absent or not a non-negative integer */
	int64_t max_trade_limit;       /* currency amount in 1e-4 units (a JSON number or decimal string
					* of at most 4 decimals, e.g. 1000000 or "250000.50") */
	uint32_t has_limit;            /* max_trade_limit was present and valid */
	uint32_t reserved;
};

struct enrich_params {
	struct mdm_bus *bus;        /* borrowed; must outlive the cache (required) */
	const char *bucket;         /* NULL: "refdata"; copied */
	uint32_t capacity;          /* distinct symbols, 1..16777216; 0: 32768 */
	uint64_t load_timeout_ms;   /* initial load in create, at most 3600000; 0: 10000 */
	int replicas;               /* 1..5: create the bucket with, or scale it to, this many replicas;
				     * 0: create with 1, keep an existing bucket as it is */
	const char *key_prefix;     /* NULL: ENRICH_KEY_PREFIX; ENRICH_TRADER_PREFIX for traders (the
				     * "symbol" is then the trader ID); at most 31 bytes, ending in '.' */
};

/* Fill `p` with the defaults (all 0/NULL). */
void enrich_params_init(struct enrich_params *p);

/* Open (create if missing; with replicas set, mdm_bus_kv_ensure) the bucket,
 * load every instrument.* value and start the watch thread. Returns 0 and *out, or:
 *   -EINVAL    bad params (no bus, capacity or timeout too large, bad bucket name)
 *   -ETIMEDOUT the initial values did not all arrive within load_timeout_ms
 *   -ENOTSUP   JetStream not enabled on the server
 *   -ENOMEM, or another negative errno from mdm_bus (detail: mdm_err_last())
 * Not thread-safe; blocking. */
int enrich_create(struct enrich **out, const struct enrich_params *p);

/* Stop the watch thread (returns within ~100 ms) and free everything.
 * NULL-safe. No lookup may run concurrently or follow. */
void enrich_destroy(struct enrich *e);

/* Copy `symbol`'s parsed data into *out and return true; false when the cache
 * holds nothing for it (never loaded, deleted, or `symbol` NULL, empty or too
 * long), counted in `misses`: the caller flags the event, it never drops it.
 * Thread-safe from any number of threads, lock-free, O(1) (one hash probe
 * sequence, load factor <= 0.5), no allocation: hot-path safe. */
bool enrich_lookup(const struct enrich *e, const char *symbol, struct enrich_instrument *out);

/* Copy `symbol`'s raw JSON value (NUL-terminated) into buf[0..cap); *len (may
 * be NULL) receives its length and *revision (may be NULL) its KV revision,
 * which matches enrich_instrument.revision for the same update.
 * Returns 0; -ENOENT when there is no data (not counted as a miss); -ENOSPC
 * when cap <= length (*len says how much is needed, nothing is copied);
 * -EINVAL for bad arguments. Thread-safe; takes a mutex the writer holds only
 * to swap a pointer: meant for the store's cold path, not per event. */
int enrich_lookup_json(struct enrich *e, const char *symbol, char *buf, size_t cap, size_t *len,
		       uint64_t *revision);

/* A decimal amount (optional sign, at most 4 decimals) as an integer in
 * 1e-4 units: "250000.5" -> 2500005000. 0, or -EINVAL (not such a number,
 * or beyond int64). Pure. */
int enrich_amount4(const char *s, size_t len, int64_t *out);

struct enrich_counters {
	uint64_t entries;       /* gauge: symbols with data now */
	uint64_t updates;       /* puts applied (initial values included) */
	uint64_t deletes;       /* symbols removed by a delete, a purge, or a resync */
	uint64_t lookups;       /* enrich_lookup calls */
	uint64_t misses;        /* enrich_lookup calls that found no data */
	uint64_t bad_values;    /* values ignored: not a JSON object, too large, bad key */
	uint64_t dropped;       /* updates ignored: capacity reached, or out of memory */
	uint64_t watch_errors;  /* watch failures, each followed by a re-created watch */
};

/* Counters, each read with a relaxed atomic load. Safe from any thread. */
void enrich_counters_get(const struct enrich *e, struct enrich_counters *out);

#endif
