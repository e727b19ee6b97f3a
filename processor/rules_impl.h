/* The compiled form of a ruleset, shared by the compiler (rules_parse.c) and
 * the matcher (rules.c). Nothing outside those two files includes this. */
#ifndef RULES_IMPL_H
#define RULES_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_itch.h"
#include "rules.h"

/* One event type per MarketEvent body; index RULES_TYPE_NONE stands for an
 * event whose body is not set (only header and order fields exist there). */
#define RULES_NTYPES MDM_ITCH_NTYPES
#define RULES_TYPE_NONE RULES_NTYPES
#define RULES_TYPE_EXEC (RULES_NTYPES + 1) /* an mdmesh.v1.Execution (stream EXEC), `type: [execution]` */
#define RULES_TYPE_SLOTS (RULES_NTYPES + 2)
#define RULES_TYPE_ALL ((1u << RULES_TYPE_SLOTS) - 1)
#define RULES_CASE_MAX 64 /* body_case values we map (the oneof's tags are 10..32) */

struct rules_type {
	char letter;      /* ITCH message type */
	const char *body; /* MarketEvent oneof field name */
};
extern const struct rules_type rules_types[RULES_NTYPES];

typedef __int128 rules_num; /* holds every int64 and uint64 value and their products exactly */

/* Where one field lives for one event type: the value is at
 * ((char *)*(void **)((char *)ev + msg_off)) + field_off. */
enum rules_acc_how {
	RULES_ACC_ABSENT, /* the name does not exist for this type */
	RULES_ACC_MSG,    /* the submessage itself (exists only) */
	RULES_ACC_FIELD,  /* a scalar in the submessage */
	RULES_ACC_ROOT,   /* a scalar of the root message itself (Execution fields) */
};
struct rules_acc {
	uint8_t how;       /* enum rules_acc_how */
	uint8_t pbtype;    /* ProtobufCType of the scalar (FIELD) */
	uint16_t pad;
	uint32_t msg_off;  /* offset of the submessage pointer in MarketEvent */
	uint32_t field_off;
};

enum rules_pat_kind {
	RULES_PAT_EXISTS,   /* want: present or not */
	RULES_PAT_STR_EQ,   /* strs[0] */
	RULES_PAT_PREFIX,   /* strs[0] */
	RULES_PAT_STR_NOT,  /* present and equal to none of strs[] */
	RULES_PAT_SUBJ,     /* subject matches the NATS pattern strs[0] */
	RULES_PAT_SUBJ_NOT, /* subject matches none of the patterns strs[] */
	RULES_PAT_RANGE,    /* lo <= value <= hi (numeric, and numeric equality) */
	RULES_PAT_NUM_NOT,  /* present and equal to none of nums[] */
	RULES_PAT_BOOL,     /* value == want */
	RULES_PAT_REF_CMP,  /* value <op> a reference-data number (ref, op), e.g. > trader.max_trade_limit */
};

struct rules_str {
	char *s;
	size_t len;
};

struct rules_pat {
	rules_num lo, hi;        /* RANGE, inclusive (integer fields: "> 5" is lo = 6) */
	rules_num bound;         /* RANGE: the number of its first comparison as written ("> 5": 5;
				  * a plain value: itself): an alert record's threshold */
	rules_num *nums;         /* NUM_NOT */
	struct rules_str *strs;  /* STR_*, PREFIX, SUBJ* */
	size_t n;                /* items in nums or strs */
	uint8_t kind;            /* enum rules_pat_kind */
	bool want;               /* EXISTS, BOOL */
	uint8_t ref;             /* REF_CMP: index in rules_ref_fields */
	char op;                 /* REF_CMP: '=', '>', 'g' (>=), '<', 'l' (<=) */
};

enum rules_cond_kind {
	RULES_COND_FIELD,    /* a protobuf field, through acc[type] */
	RULES_COND_NOTIONAL, /* derived: rules_notional() */
	RULES_COND_SUBJECT,  /* the subject the event arrived on */
	RULES_COND_REF,      /* reference data of an execution: trader.* / instrument.* */
};

/* The trader.* and instrument.* names (struct rules_ref members), executions only. */
enum rules_ref_class { RULES_REF_NUM, RULES_REF_INT, RULES_REF_STR, RULES_REF_BOOL }; /* NUM uint64, INT int64 */
struct rules_ref_field {
	const char *name;
	uint8_t cls;          /* enum rules_ref_class */
	uint16_t off;         /* of the value in struct rules_ref */
	int16_t present_off;  /* of the bool saying the value exists; -1: always (bools) or non-empty (strings) */
};
extern const struct rules_ref_field rules_ref_fields[];
extern const size_t rules_n_ref_fields;

/* One match key: true when any of its patterns holds (OR). */
struct rules_cond {
	struct rules_acc acc[RULES_TYPE_SLOTS]; /* FIELD: per event type */
	struct rules_pat *pats;
	size_t n_pats;
	uint8_t kind;                           /* enum rules_cond_kind */
	uint8_t ref;                            /* REF: index in rules_ref_fields */
};

/* A target template, split once into literal runs and placeholders. */
enum rules_seg_kind { RULES_SEG_LIT, RULES_SEG_SYMBOL, RULES_SEG_TYPE, RULES_SEG_FEED, RULES_SEG_RULE, RULES_SEG_TRADER };
struct rules_seg {
	uint8_t kind;
	uint32_t off, len; /* LIT: bytes of tmpl.text */
};
struct rules_tmpl {
	char *text;
	struct rules_seg *segs;
	size_t n;
	bool subject; /* placeholder values are made subject-safe tokens */
};

struct rules_target {
	uint8_t kind;            /* enum rules_action_kind */
	bool alert_record;
	struct rules_tmpl tmpl;  /* TABLE: the name as one literal; PUBLISH: subject; ALERT: alert.{rule}.{symbol} */
	const char *severity;    /* ALERT: static "info" | "warning" | "critical" */
	struct rules_tmpl message; /* ALERT: message template (n == 0: empty) */
};

struct rules_rule {
	char *name;
	char *description;           /* NULL when none */
	unsigned line;               /* where the rule starts in its file */
	bool enabled;
	bool drop;                   /* has a `drop: true` target */
	uint32_t type_mask;          /* bit per rules_types index (+ NONE); RULES_TYPE_ALL without `type` */
	struct rules_cond *conds;
	size_t n_conds;
	struct rules_target *targets; /* non-drop targets */
	size_t n_targets;
	int alert_idx;               /* first ALERT target: severity and message of this rule's
				      * other alert records; -1 when none ("info", "") */
};

struct rules {
	atomic_ulong refs;
	char *origin;
	struct rules_rule *rules;
	size_t n;
	size_t max_actions;
	uint8_t case_to_type[RULES_CASE_MAX]; /* body_case -> rules_types index, else RULES_TYPE_NONE */
};

/* Free a ruleset regardless of references (compiler error paths and the
 * last rules_unref). Tolerates a partly built one (zeroed fields). */
void rules_free(struct rules *r);

/* ---- compiler internals (rules_parse.c, rules_cond.c) ---- */

#define RULES_FIELD_NAME_MAX 96

/* Compile context: where we are, so every message can say
 * "ORIGIN:LINE: rules[i].key: reason". */
struct rules_cc {
	const char *origin;
	char path[384];
	size_t plen;
};

/* Append to the path (printf-style); returns the mark to pop back to. */
size_t rules_cc_push(struct rules_cc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rules_cc_pop(struct rules_cc *c, size_t mark);
/* -EINVAL with "ORIGIN:LINE: PATH: reason" (LINE from n, 1 when NULL). */
int rules_cc_fail(const struct rules_cc *c, const struct mdm_yaml_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int rules_cc_oom(const struct rules_cc *c);
/* "unknown key (did you mean X?)" from a NULL-terminated list of names. */
int rules_cc_unknown_key(const struct rules_cc *c, const struct mdm_yaml_node *key, const char *const *names);
/* Text of a non-null scalar without NUL bytes; `what` names the expectation. */
int rules_cc_scalar(const struct rules_cc *c, const struct mdm_yaml_node *n, const char *what, const char **out);
int rules_cc_bool(const struct rules_cc *c, const struct mdm_yaml_node *n, bool *out);

/* Did-you-mean: feed candidates, then ask for the nearest plausible one. */
struct rules_suggest {
	const char *word;
	size_t wlen;
	unsigned best;
	char hit[RULES_FIELD_NAME_MAX];
};
void rules_suggest_init(struct rules_suggest *s, const char *word);
void rules_suggest_try(struct rules_suggest *s, const char *prefix, const char *name); /* "prefix.name" */
const char *rules_suggest_hit(const struct rules_suggest *s);

/* Why s is not a valid NATS subject (wildcards: as a subscription pattern), or NULL. */
const char *rules_subject_problem(const char *s, size_t len, bool wildcards);

/* Compile a rule's `match:` mapping into rule->type_mask and rule->conds. */
int rules_match_compile(struct rules_cc *c, const struct mdm_yaml_node *m, struct rules_rule *rule);

#endif
