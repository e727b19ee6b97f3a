/* Routing rules: a YAML rules file (configs/rules.yaml documents the format)
 * compiled into an immutable, reference-counted ruleset, and the matcher that
 * runs every MarketEvent against it, in the spirit of content-based event-bus
 * patterns (EventBridge): per rule, every match key must hold (AND), each key
 * lists alternatives (OR); matching rules fire their targets in file order
 * until one drops the event. Pure logic: no NATS, no database.
 *
 * Life of a ruleset:
 *	struct rules *next;
 *	if (rules_load(path, &next) != 0)
 *		log(mdm_err_last());          -- the old ruleset stays in force
 *	else
 *		rules_swap(holder, &next);    -- workers pick it up on their next batch
 * and in each worker, once per batch:
 *	const struct rules *r = rules_reader_get(holder, &w->rules_rd);
 *	n = rules_match(r, &rev, w->actions, w->cap, &flags);
 */
#ifndef RULES_H
#define RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_yaml.h"
#include "mdmesh/v1/events.pb-c.h"
#include "mdmesh/v1/execution.pb-c.h"

struct rules;
struct rules_holder;

#define RULES_NAME_MAX 64     /* rule names: [a-z0-9_]{1,64} */
#define RULES_TARGET_MAX 256  /* rendered subject or table name, with its NUL */
#define RULES_MESSAGE_MAX 256 /* rendered alert message, with its NUL */
#define RULES_VALUE_MAX 32    /* a placeholder value ({symbol}, {feed}) is cut to this many bytes */

/* ---- loading ---- */

/* Read and compile a rules file.
 * @param path  YAML file with a top-level `rules:` list; also the file name
 *              used in error messages.
 * @param out   receives a new ruleset holding one reference (release it with
 *              rules_unref, or hand it to rules_swap). Not written on failure,
 *              so a failed reload leaves the caller's current ruleset alone.
 * @return 0; -ENOENT/-EACCES/... when the file cannot be read; -EINVAL for
 *         YAML syntax or any rule problem, the message naming
 *         "FILE:LINE: rules[i].key: reason" (unknown keys with a did-you-mean,
 *         wrong node kinds, bad operators or numbers, unknown or mistyped
 *         field names, duplicate rule names, empty target lists, bad subject
 *         patterns, bad table names, bad template placeholders); -ENOMEM.
 *         Detail via mdm_err_last(). Thread-safe (no shared state). Start-up
 *         and reload only: allocates. */
int rules_load(const char *path, struct rules **out);

/* As rules_load, from len bytes of YAML text; `name` stands for the file name
 * in messages (fuzzers, tests, a rules document from the environment). */
int rules_load_string(const char *text, size_t len, const char *name, struct rules **out);

/* The name that stands for the shipped rules: configs/rules.yaml as it was
 * when the binary was built, compiled in (the default of `rules.file`). A file
 * of that name is spelled ./builtin. */
#define RULES_BUILTIN "builtin"

/* As rules_load, from the shipped rules (RULES_BUILTIN); messages name them
 * "builtin (configs/rules.yaml as built)". */
int rules_load_builtin(struct rules **out);

/* The rules a `rules.file` setting names: RULES_BUILTIN or a file path (as
 * rules_load). file must not be NULL or "" (no rules: do not load). */
int rules_load_setting(const char *file, struct rules **out);

/* As rules_load, from an already parsed `rules:` sequence (e.g. an mdm_cfg
 * MDM_CFG_RAW key in the processor config). `origin` names the source in
 * messages; `list` may be NULL (an empty ruleset). The tree is only read. */
int rules_compile(const struct mdm_yaml_node *list, const char *origin, struct rules **out);

/* ---- references ---- */

/* Take another reference (returns r). Thread-safe, lock-free. NULL-safe. */
struct rules *rules_ref(struct rules *r);

/* Drop a reference; the last one frees the ruleset. Thread-safe: the
 * decrement is acquire-release, so every read a matcher made through its
 * reference happens before the free. NULL-safe. */
void rules_unref(struct rules *r);

/* ---- inspection (any thread, while holding a reference) ---- */

/* Rules in the file, including disabled ones (indices are file order). */
size_t rules_count(const struct rules *r);
/* Name of rule i (borrowed: valid while the ruleset is), NULL past the end. */
const char *rules_name(const struct rules *r, size_t i);
/* Most actions one event can produce (the sum of the enabled rules' non-drop
 * targets): an `out` array this large never overflows. */
size_t rules_max_actions(const struct rules *r);

/* ---- matching ---- */

/* Reference data of one execution, as the executions pipeline looked it up
 * (KV refdata, trader.<ID> and instrument.<SYMBOL>): what `trader.*` and
 * `instrument.*` keys read. Strings are "" when absent. */
struct rules_ref {
	bool trader_known;                 /* trader.known: a trader.<ID> value exists */
	bool trader_has_limit;             /* trader.max_trade_limit exists */
	bool instrument_known;             /* instrument.known */
	const char *trader_name, *trader_team;
	uint64_t trader_authorization_level;
	int64_t trader_max_trade_limit;    /* 1e-4 currency units, as notional */
	const char *instrument_name, *instrument_sector, *instrument_currency, *instrument_exchange;
	uint64_t instrument_lot_size;
};

/* What the matcher needs to know about one event. All borrowed for the call. */
struct rules_event {
	const Mdmesh__V1__MarketEvent *ev; /* decoded event; header/order/body may be NULL */
	const Mdmesh__V1__Execution *exec; /* or an execution (then ev is NULL): type `execution` */
	const struct rules_ref *ref;       /* executions: their reference data; NULL = none known */
	const char *subject;               /* NATS subject it arrived on; NULL: `subject` keys never match */
};

enum rules_action_kind {
	RULES_ACTION_TABLE,   /* persist the event to table `target` */
	RULES_ACTION_PUBLISH, /* publish to subject `target` */
	RULES_ACTION_ALERT,   /* publish an Alert record to `target` = alert.<rule>.<symbol> */
};

/* One fired target. Caller storage; rules_match fills it, never allocates. */
struct rules_action {
	enum rules_action_kind kind;
	uint32_t rule;         /* index of the rule that fired, in file order */
	const char *rule_name; /* borrowed from the ruleset: valid while you hold it */
	/* The action wants an Alert record rather than the raw event: every ALERT,
	 * a PUBLISH whose template starts with "alert.", a TABLE named "alerts".
	 * Then severity and message are set, from the rule's first `alert:`
	 * target, or "info" and "" when it has none. */
	bool alert_record;
	const char *severity;  /* "info" | "warning" | "critical" (static); NULL when !alert_record */
	char target[RULES_TARGET_MAX];   /* table name or rendered subject, NUL-terminated */
	char message[RULES_MESSAGE_MAX]; /* rendered alert message; "" when !alert_record */
	/* Alert records: what made the rule fire, from its first numeric
	 * condition (notional or a number field) whose pattern held: the event's
	 * value and that pattern's bound as written (`{numeric: [">", 10]}`: 10),
	 * clamped to int64. Both 0 without such a condition or !alert_record. */
	int64_t value, threshold;
};

/* rules_match flags */
#define RULES_MATCH_DROP 1u     /* a `drop: true` target fired: later rules were not evaluated;
				 * do not persist the event beyond the actions returned */
#define RULES_MATCH_OVERFLOW 2u /* more actions fired than `max`: the rest were not written */

/* Run one event through the ruleset: enabled rules in file order; each whose
 * conditions all hold fires its targets, rendered into out[]; a rule with
 * `drop: true` fires its other targets, sets RULES_MATCH_DROP and ends the
 * evaluation (rules before it have already fired).
 * @param r      ruleset (a reference the caller holds).
 * @param ev     the event; ev->ev or ev->exec must not be NULL.
 * @param out    caller array of `max` actions (rules_max_actions(r) never overflows).
 * @param flags  out: RULES_MATCH_* bits; may be NULL.
 * @return the number of actions written to out (0..max). Never fails: an
 *         event a condition cannot read (missing header, other type) simply
 *         does not match that condition.
 * Hot-path safe: no allocation, no lock, no syscall; field names were
 * resolved to descriptor offsets at load. Thread-safe: any number of threads
 * may match against one ruleset concurrently. */
size_t rules_match(const struct rules *r, const struct rules_event *ev, struct rules_action *out, size_t max,
		   unsigned *flags);

/* Notional of a trade-like event in 1e-4 dollars (price in 1e-4 x shares):
 * A/F price*shares, E order.price*executed_shares (needs order state with
 * known = true), C execution_price*executed_shares, P price*shares,
 * Q cross_price*shares, U price*shares (the replacing order's).
 * $1,000,000 is 10,000,000,000 here.
 * @return 0; -ENOENT when the type has no notional or its inputs are absent;
 *         -ERANGE when it exceeds UINT64_MAX (*out = UINT64_MAX). Hot-path safe. */
int rules_notional(const Mdmesh__V1__MarketEvent *ev, uint64_t *out);

/* Notional of an execution in 1e-4 currency units: last_qty (1e-8) x
 * last_px (1e-8) / 1e12, rounded half away from zero, exact (128-bit).
 * @return 0; -ERANGE when it does not fit an int64 (*out clamped). Hot-path safe. */
int rules_exec_notional(const Mdmesh__V1__Execution *x, int64_t *out);

/* ---- swapping rulesets under running workers (RCU-like) ----
 *
 * One writer (the control thread) swaps in a new ruleset; each worker keeps
 * a reference of its own in a struct rules_reader and refreshes it once per
 * batch. The refresh fast path is one acquire load of a generation counter;
 * only after a swap does a reader take the holder's mutex to trade its old
 * reference for the new one. Readers never dereference the holder's pointer
 * outside the mutex, so a swap can never free a ruleset a reader is about to
 * reference; a worker keeps using its old ruleset until its next refresh, and
 * the old ruleset is freed by whichever of writer and readers drops the last
 * reference (the grace period is "every reader has refreshed"). */

/* Per-thread reader state, caller storage: zero it before first use
 * (struct rules_reader rd = { 0 }), release it with rules_reader_release. */
struct rules_reader {
	struct rules *r; /* this reader's reference; NULL before the first get */
	uint64_t gen;    /* holder generation r belongs to */
};

/* Create a holder owning *initial (taken: *initial is NULLed on success).
 * @return 0; -EINVAL if initial or *initial is NULL; -ENOMEM. */
int rules_holder_create(struct rules_holder **out, struct rules **initial);

/* Destroy a holder (NULL-safe), dropping its reference. Readers' references
 * stay valid; no reader may call rules_reader_get on it afterwards. */
void rules_holder_destroy(struct rules_holder *h);

/* Install *next (taken: *next is NULLed) and drop the holder's reference to
 * the previous ruleset. The generation is bumped with release order after the
 * pointer changed under the mutex. One writer at a time (serialised by the
 * mutex; more are safe but pointless). Not hot-path: takes the mutex. */
void rules_swap(struct rules_holder *h, struct rules **next);

/* A new reference to the current ruleset (rules_unref it). Takes the mutex. */
struct rules *rules_holder_get(struct rules_holder *h);

/* The ruleset this reader should use now: its own reference, refreshed if a
 * swap happened since the last call. The pointer stays valid until the next
 * rules_reader_get/rules_reader_release on the same reader. Hot-path safe
 * (one atomic load when nothing changed); call it once per batch. */
const struct rules *rules_reader_get(struct rules_holder *h, struct rules_reader *rd);

/* Drop the reader's reference (NULL-safe, idempotent). */
void rules_reader_release(struct rules_reader *rd);

#endif
