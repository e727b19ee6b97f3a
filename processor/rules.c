/* Rules matching: one event against a compiled ruleset (rules_parse.c builds
 * it), target rendering into caller storage, notional, reference counting and
 * the RCU-like holder that lets workers pick up a reloaded ruleset. */
#include "rules.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "mdm_mem.h"
#include "mdm_subject.h"
#include "rules_impl.h"

/* ITCH letter of each MarketEvent body, from the ITCH table. The compiler
 * maps body_case values to these by looking the body names up in the
 * descriptor, so a renamed body fails every load loudly. */
const struct rules_type rules_types[RULES_NTYPES] = {
#define ITCH_MSG(type, name, ...) [MDM_ITCH_##name] = { (type), #name },
#include "itch_msgs.def"
#undef ITCH_MSG
};

/* ---- notional ---- */

/* Exact: uint32 price x uint64 shares needs at most 96 bits. */
static bool notional_of(const Mdmesh__V1__MarketEvent *ev, rules_num *v)
{
	switch (ev->body_case) {
	case MDMESH__V1__MARKET_EVENT__BODY_ADD_ORDER:
		if (!ev->add_order)
			return false;
		*v = (rules_num)ev->add_order->price * ev->add_order->shares;
		return true;
	case MDMESH__V1__MARKET_EVENT__BODY_ADD_ORDER_MPID:
		if (!ev->add_order_mpid)
			return false;
		*v = (rules_num)ev->add_order_mpid->price * ev->add_order_mpid->shares;
		return true;
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED:
		/* E executes at the resting order's price, which only the book knows:
		 * without known order state the price is not a price, so no notional. */
		if (!ev->order_executed || !ev->order || !ev->order->known)
			return false;
		*v = (rules_num)ev->order->price * ev->order_executed->executed_shares;
		return true;
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED_WITH_PRICE:
		if (!ev->order_executed_with_price)
			return false;
		*v = (rules_num)ev->order_executed_with_price->execution_price *
		     ev->order_executed_with_price->executed_shares;
		return true;
	case MDMESH__V1__MARKET_EVENT__BODY_NON_CROSS_TRADE:
		if (!ev->non_cross_trade)
			return false;
		*v = (rules_num)ev->non_cross_trade->price * ev->non_cross_trade->shares;
		return true;
	case MDMESH__V1__MARKET_EVENT__BODY_CROSS_TRADE:
		if (!ev->cross_trade)
			return false;
		*v = (rules_num)ev->cross_trade->cross_price * ev->cross_trade->shares;
		return true;
	case MDMESH__V1__MARKET_EVENT__BODY_ORDER_REPLACE:
		if (!ev->order_replace)
			return false;
		*v = (rules_num)ev->order_replace->price * ev->order_replace->shares;
		return true;
	default:
		return false;
	}
}

/* qty8 x price8 is 1e-16; notional is 1e-4: divide by 1e12, half away from zero. */
static rules_num exec_notional(const Mdmesh__V1__Execution *x)
{
	const rules_num unit = (rules_num)1000000000000LL;
	rules_num p = (rules_num)x->last_qty * x->last_px;

	return p >= 0 ? (p + unit / 2) / unit : -((-p + unit / 2) / unit);
}

int rules_exec_notional(const Mdmesh__V1__Execution *x, int64_t *out)
{
	rules_num v = exec_notional(x);

	if (v > INT64_MAX || v < INT64_MIN) {
		*out = v > 0 ? INT64_MAX : INT64_MIN;
		return -ERANGE;
	}
	*out = (int64_t)v;
	return 0;
}

int rules_notional(const Mdmesh__V1__MarketEvent *ev, uint64_t *out)
{
	rules_num v;

	if (!notional_of(ev, &v))
		return -ENOENT;
	if (v > (rules_num)UINT64_MAX) {
		*out = UINT64_MAX;
		return -ERANGE;
	}
	*out = (uint64_t)v;
	return 0;
}

/* ---- conditions ---- */

/* NATS subject match: `*` is exactly one token, `>` (last) one or more. The
 * pattern was validated at load; the subject is whatever arrived. */
static bool subject_match(const char *p, size_t plen, const char *s)
{
	const char *pe = p + plen;

	for (;;) {
		const char *pt = memchr(p, '.', (size_t)(pe - p));
		const char *st = strchr(s, '.');
		size_t ptl, stl;

		if (!pt)
			pt = pe;
		ptl = (size_t)(pt - p);
		if (ptl == 1 && *p == '>')
			return *s != '\0';
		if (!st)
			st = s + strlen(s);
		stl = (size_t)(st - s);
		if (stl == 0)
			return false;
		if (!(ptl == 1 && *p == '*') && (ptl != stl || memcmp(p, s, ptl) != 0))
			return false;
		if (pt == pe || *st == '\0')
			return pt == pe && *st == '\0';
		p = pt + 1;
		s = st + 1;
	}
}

static bool is_string_type(uint8_t t)
{
	return t == PROTOBUF_C_TYPE_STRING;
}

static rules_num read_num(const void *p, uint8_t pbtype)
{
	switch (pbtype) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return *(const int32_t *)p;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return *(const uint32_t *)p;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return *(const int64_t *)p;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)p;
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int *)p;
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)p != 0;
	default:
		return 0; /* the compiler only accepts the types above */
	}
}

/* A value as read from one event: which member is meaningful follows from
 * the condition's field type. */
struct val {
	bool present;
	rules_num num;
	const char *str;
	size_t len;
};

#define REF_FIELD(n, cls, member, present) \
	{ n, cls, (uint16_t)offsetof(struct rules_ref, member), present }
#define REF_PRESENT(member) ((int16_t)offsetof(struct rules_ref, member))
const struct rules_ref_field rules_ref_fields[] = {
	REF_FIELD("trader.known", RULES_REF_BOOL, trader_known, -1),
	REF_FIELD("trader.name", RULES_REF_STR, trader_name, -1),
	REF_FIELD("trader.team", RULES_REF_STR, trader_team, -1),
	REF_FIELD("trader.authorization_level", RULES_REF_NUM, trader_authorization_level, REF_PRESENT(trader_known)),
	REF_FIELD("trader.max_trade_limit", RULES_REF_INT, trader_max_trade_limit, REF_PRESENT(trader_has_limit)),
	REF_FIELD("instrument.known", RULES_REF_BOOL, instrument_known, -1),
	REF_FIELD("instrument.name", RULES_REF_STR, instrument_name, -1),
	REF_FIELD("instrument.sector", RULES_REF_STR, instrument_sector, -1),
	REF_FIELD("instrument.currency", RULES_REF_STR, instrument_currency, -1),
	REF_FIELD("instrument.exchange", RULES_REF_STR, instrument_exchange, -1),
	REF_FIELD("instrument.lot_size", RULES_REF_NUM, instrument_lot_size, REF_PRESENT(instrument_known)),
};
const size_t rules_n_ref_fields = sizeof(rules_ref_fields) / sizeof(rules_ref_fields[0]);

/* A string member (char *) at p: proto3 strings have no presence, "" is "not set". */
static void read_str(const char *p, struct val *v)
{
	v->str = *(const char *const *)p;
	if (!v->str)
		v->str = "";
	v->len = strlen(v->str);
	v->present = v->len > 0;
}

/* One trader.* / instrument.* value; absent without reference data. */
static void read_ref(const struct rules_ref *ref, unsigned idx, struct val *v)
{
	const struct rules_ref_field *f = &rules_ref_fields[idx];
	const char *base = (const char *)ref;

	v->present = false;
	if (!ref) {
		/* no reference data at all: trader.known and instrument.known are false */
		v->num = 0;
		v->present = f->cls == RULES_REF_BOOL;
		return;
	}
	switch (f->cls) {
	case RULES_REF_BOOL:
		v->num = *(const bool *)(base + f->off);
		v->present = true;
		return;
	case RULES_REF_STR:
		read_str(base + f->off, v);
		return;
	default:
		if (f->present_off >= 0 && !*(const bool *)(base + f->present_off))
			return;
		if (f->cls == RULES_REF_INT)
			v->num = *(const int64_t *)(base + f->off);
		else
			v->num = *(const uint64_t *)(base + f->off);
		v->present = true;
	}
}

/* The event being matched: a MarketEvent or an Execution (`root`). */
struct subject_ev {
	const void *root;
	const Mdmesh__V1__MarketEvent *ev;
	const Mdmesh__V1__Execution *exec;
	const struct rules_ref *ref;
	const char *subject;
};

static void read_val(const struct rules_cond *c, const struct subject_ev *e, unsigned t, struct val *v)
{
	const struct rules_acc *a;
	const char *base;

	v->present = false;
	switch (c->kind) {
	case RULES_COND_NOTIONAL:
		if (e->exec) {
			v->num = exec_notional(e->exec);
			v->present = true;
		} else {
			v->present = notional_of(e->ev, &v->num);
		}
		return;
	case RULES_COND_SUBJECT:
		v->str = e->subject ? e->subject : "";
		v->len = strlen(v->str);
		v->present = v->len > 0;
		return;
	case RULES_COND_REF:
		if (e->exec)
			read_ref(e->ref, c->ref, v);
		return;
	default:
		break;
	}
	a = &c->acc[t];
	if (a->how == RULES_ACC_ABSENT)
		return;
	base = a->how == RULES_ACC_ROOT ? (const char *)e->root : *(const char *const *)((const char *)e->root + a->msg_off);
	if (!base)
		return;
	if (a->how == RULES_ACC_MSG) {
		v->present = true;
		return;
	}
	if (is_string_type(a->pbtype)) {
		read_str(base + a->field_off, v);
		return;
	}
	v->num = read_num(base + a->field_off, a->pbtype);
	v->present = true;
}

/* A REF_CMP pattern: the reference value it compares with (absent: false). */
static bool ref_bound(const struct rules_pat *p, const struct subject_ev *e, rules_num *bound)
{
	struct val rv;

	if (!e->exec)
		return false;
	read_ref(e->ref, p->ref, &rv);
	*bound = rv.num;
	return rv.present;
}

static bool pat_match(const struct rules_pat *p, const struct val *v, const struct subject_ev *e)
{
	rules_num bound;
	size_t i;

	if (p->kind == RULES_PAT_EXISTS)
		return v->present == p->want;
	if (!v->present)
		return false;
	switch (p->kind) {
	case RULES_PAT_STR_EQ:
		return v->len == p->strs[0].len && memcmp(v->str, p->strs[0].s, v->len) == 0;
	case RULES_PAT_PREFIX:
		return v->len >= p->strs[0].len && memcmp(v->str, p->strs[0].s, p->strs[0].len) == 0;
	case RULES_PAT_STR_NOT:
		for (i = 0; i < p->n; i++)
			if (v->len == p->strs[i].len && memcmp(v->str, p->strs[i].s, v->len) == 0)
				return false;
		return true;
	case RULES_PAT_SUBJ:
		return subject_match(p->strs[0].s, p->strs[0].len, v->str);
	case RULES_PAT_SUBJ_NOT:
		for (i = 0; i < p->n; i++)
			if (subject_match(p->strs[i].s, p->strs[i].len, v->str))
				return false;
		return true;
	case RULES_PAT_RANGE:
		return v->num >= p->lo && v->num <= p->hi;
	case RULES_PAT_NUM_NOT:
		for (i = 0; i < p->n; i++)
			if (v->num == p->nums[i])
				return false;
		return true;
	case RULES_PAT_BOOL:
		return (v->num != 0) == p->want;
	case RULES_PAT_REF_CMP:
		if (!ref_bound(p, e, &bound))
			return false;
		switch (p->op) {
		case '>': return v->num > bound;
		case 'g': return v->num >= bound;
		case '<': return v->num < bound;
		case 'l': return v->num <= bound;
		default: return v->num == bound;
		}
	default:
		return false;
	}
}

static bool cond_match(const struct rules_cond *c, const struct subject_ev *e, unsigned t)
{
	struct val v;

	read_val(c, e, t, &v);
	for (size_t i = 0; i < c->n_pats; i++)
		if (pat_match(&c->pats[i], &v, e))
			return true;
	return false;
}

/* ---- rendering ---- */

/* In a subject, a value is one token by the rule every subject of mdmesh
 * follows (mdm_subject_token). The NUL it writes lands at most on the byte
 * render() keeps for its own NUL. */
static size_t put_value(char *dst, size_t room, const char *v, size_t cap, bool subject)
{
	size_t n = strnlen(v ? v : "", cap);

	if (n > room)
		n = room;
	if (!subject) {
		memcpy(dst, v, n);
		return n;
	}
	if (room == 0)
		return 0;
	return mdm_subject_token(dst, (n ? n : 1) + 1, v, n); /* "" is "_": room >= 1 holds it */
}

struct render_ctx {
	const char *symbol, *feed, *rule, *trader;
	char type[2];
};

/* The compiler checked that the longest rendering fits `cap`; the room
 * checks here only keep a broken invariant from writing out of bounds. */
static void render(const struct rules_tmpl *t, const struct render_ctx *rc, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n && n < cap - 1; i++) {
		const struct rules_seg *s = &t->segs[i];
		size_t room = cap - 1 - n;

		switch (s->kind) {
		case RULES_SEG_LIT: {
			size_t len = s->len < room ? s->len : room;

			memcpy(out + n, t->text + s->off, len);
			n += len;
			break;
		}
		case RULES_SEG_SYMBOL:
			n += put_value(out + n, room, rc->symbol, RULES_VALUE_MAX, t->subject);
			break;
		case RULES_SEG_FEED:
			n += put_value(out + n, room, rc->feed, RULES_VALUE_MAX, t->subject);
			break;
		case RULES_SEG_TYPE:
			n += put_value(out + n, room, rc->type, 1, t->subject);
			break;
		case RULES_SEG_RULE:
			n += put_value(out + n, room, rc->rule, RULES_NAME_MAX, t->subject);
			break;
		case RULES_SEG_TRADER:
			n += put_value(out + n, room, rc->trader, RULES_VALUE_MAX, t->subject);
			break;
		}
	}
	out[n] = '\0';
}

static void fire(const struct rules_rule *rule, uint32_t idx, const struct rules_target *tg, struct render_ctx *rc,
		 struct rules_action *a)
{
	const struct rules_target *al = tg;

	a->kind = tg->kind;
	a->rule = idx;
	a->rule_name = rule->name;
	a->alert_record = tg->alert_record;
	rc->rule = rule->name;
	render(&tg->tmpl, rc, a->target, sizeof(a->target));
	a->severity = NULL;
	a->message[0] = '\0';
	if (!tg->alert_record)
		return;
	/* A PUBLISH to alert.* or a TABLE alerts speaks with the voice of the
	 * rule's first alert target, if it has one. */
	if (tg->kind != RULES_ACTION_ALERT)
		al = rule->alert_idx >= 0 ? &rule->targets[rule->alert_idx] : NULL;
	if (!al) {
		a->severity = "info";
		return;
	}
	a->severity = al->severity;
	render(&al->message, rc, a->message, sizeof(a->message));
}

static int64_t clamp64(rules_num v)
{
	return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

/* An alert record's value and threshold (rules_action): conditions are read
 * again only for a rule that fired an alert record, never per event. */
static void measure(const struct rules_rule *rule, const struct subject_ev *e, unsigned t, struct rules_action *a)
{
	for (size_t k = 0; k < rule->n_conds; k++) {
		const struct rules_cond *c = &rule->conds[k];
		struct val v;

		if (c->kind == RULES_COND_SUBJECT)
			continue;
		read_val(c, e, t, &v);
		for (size_t i = 0; i < c->n_pats; i++) {
			const struct rules_pat *p = &c->pats[i];
			rules_num bound;

			if (p->kind == RULES_PAT_RANGE && pat_match(p, &v, e)) {
				a->value = clamp64(v.num);
				a->threshold = clamp64(p->bound);
				return;
			}
			if (p->kind == RULES_PAT_REF_CMP && pat_match(p, &v, e) && ref_bound(p, e, &bound)) {
				a->value = clamp64(v.num);
				a->threshold = clamp64(bound);
				return;
			}
		}
	}
}

static unsigned event_type(const struct rules *r, const Mdmesh__V1__MarketEvent *ev)
{
	unsigned c = (unsigned)ev->body_case;

	return c < RULES_CASE_MAX ? r->case_to_type[c] : RULES_TYPE_NONE;
}

size_t rules_match(const struct rules *r, const struct rules_event *in, struct rules_action *out, size_t max,
		   unsigned *flags)
{
	const Mdmesh__V1__MarketEvent *ev = in->ev;
	const Mdmesh__V1__Execution *x = in->exec;
	const Mdmesh__V1__EventHeader *h = x ? x->header : ev->header;
	struct subject_ev e = { .root = x ? (const void *)x : (const void *)ev, .ev = ev, .exec = x, .ref = in->ref,
				.subject = in->subject };
	unsigned t = x ? RULES_TYPE_EXEC : event_type(r, ev), fl = 0;
	struct render_ctx rc;
	size_t n = 0;

	rc.symbol = x ? x->symbol : h ? h->symbol : "";
	rc.feed = h ? h->feed : "";
	rc.trader = x ? x->trader : "";
	rc.type[0] = x ? (x->exec_type ? x->exec_type[0] : '\0') : t < RULES_NTYPES ? rules_types[t].letter : '\0';
	rc.type[1] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		const struct rules_rule *rule = &r->rules[i];
		size_t k;

		if (!rule->enabled || !(rule->type_mask & (1u << t)))
			continue;
		for (k = 0; k < rule->n_conds; k++)
			if (!cond_match(&rule->conds[k], &e, t))
				break;
		if (k < rule->n_conds)
			continue;
		for (k = 0; k < rule->n_targets; k++) {
			if (n == max) {
				fl |= RULES_MATCH_OVERFLOW;
				break;
			}
			fire(rule, (uint32_t)i, &rule->targets[k], &rc, &out[n]);
			out[n].value = out[n].threshold = 0;
			if (out[n].alert_record)
				measure(rule, &e, t, &out[n]);
			n++;
		}
		if (rule->drop) {
			fl |= RULES_MATCH_DROP;
			break;
		}
	}
	if (flags)
		*flags = fl;
	return n;
}

/* ---- references and inspection ---- */

struct rules *rules_ref(struct rules *r)
{
	if (r)
		atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

void rules_unref(struct rules *r)
{
	if (!r)
		return;
	/* acq_rel: the release half orders this holder's reads of the ruleset
	 * before its decrement; the acquire half makes the thread that drops the
	 * last reference see every other holder's, so the free comes after all
	 * of them. (A release decrement plus an acquire fence would do, but
	 * ThreadSanitizer does not model fences; this costs nothing per event.) */
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	rules_free(r);
}

static void tmpl_free(struct rules_tmpl *t)
{
	mdm_free(t->text);
	mdm_free(t->segs);
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->rules && i < r->n; i++) {
		struct rules_rule *rule = &r->rules[i];

		for (size_t k = 0; rule->conds && k < rule->n_conds; k++) {
			struct rules_cond *c = &rule->conds[k];

			for (size_t p = 0; c->pats && p < c->n_pats; p++) {
				struct rules_pat *pat = &c->pats[p];

				for (size_t s = 0; pat->strs && s < pat->n; s++)
					mdm_free(pat->strs[s].s);
				mdm_free(pat->strs);
				mdm_free(pat->nums);
			}
			mdm_free(c->pats);
		}
		for (size_t k = 0; rule->targets && k < rule->n_targets; k++) {
			tmpl_free(&rule->targets[k].tmpl);
			tmpl_free(&rule->targets[k].message);
		}
		mdm_free(rule->conds);
		mdm_free(rule->targets);
		mdm_free(rule->name);
		mdm_free(rule->description);
	}
	mdm_free(r->rules);
	mdm_free(r->origin);
	mdm_free(r);
}

size_t rules_count(const struct rules *r)
{
	return r->n;
}

const char *rules_name(const struct rules *r, size_t i)
{
	return i < r->n ? r->rules[i].name : NULL;
}

size_t rules_max_actions(const struct rules *r)
{
	return r->max_actions;
}

/* ---- holder ---- */

struct rules_holder {
	pthread_mutex_t lock;
	struct rules *cur;    /* guarded by lock; never NULL */
	_Atomic uint64_t gen; /* written under lock; bumped after every swap */
};

int rules_holder_create(struct rules_holder **out, struct rules **initial)
{
	struct rules_holder *h;

	if (!initial || !*initial)
		return -EINVAL;
	h = mdm_calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->cur = *initial;
	/* Readers start at generation 0, so their first get always refreshes. */
	atomic_init(&h->gen, 1);
	*initial = NULL;
	*out = h;
	return 0;
}

void rules_holder_destroy(struct rules_holder *h)
{
	if (!h)
		return;
	rules_unref(h->cur);
	pthread_mutex_destroy(&h->lock);
	mdm_free(h);
}

void rules_swap(struct rules_holder *h, struct rules **next)
{
	struct rules *old;

	pthread_mutex_lock(&h->lock);
	old = h->cur;
	h->cur = *next;
	/* Release pairs with the readers' acquire load: a reader that sees the
	 * new generation then takes the mutex, which orders it after this swap
	 * anyway; the atomic only spares unchanged readers the mutex. */
	atomic_store_explicit(&h->gen, atomic_load_explicit(&h->gen, memory_order_relaxed) + 1, memory_order_release);
	pthread_mutex_unlock(&h->lock);
	*next = NULL;
	/* Outside the lock: the free may be long, and readers hold their own
	 * references, so this is at most the holder's share going away. */
	rules_unref(old);
}

struct rules *rules_holder_get(struct rules_holder *h)
{
	struct rules *r;

	pthread_mutex_lock(&h->lock);
	r = rules_ref(h->cur);
	pthread_mutex_unlock(&h->lock);
	return r;
}

const struct rules *rules_reader_get(struct rules_holder *h, struct rules_reader *rd)
{
	struct rules *old;

	if (rd->r && atomic_load_explicit(&h->gen, memory_order_acquire) == rd->gen)
		return rd->r;
	old = rd->r;
	pthread_mutex_lock(&h->lock);
	rd->r = rules_ref(h->cur);
	rd->gen = atomic_load_explicit(&h->gen, memory_order_relaxed);
	pthread_mutex_unlock(&h->lock);
	rules_unref(old);
	return rd->r;
}

void rules_reader_release(struct rules_reader *rd)
{
	rules_unref(rd->r);
	rd->r = NULL;
	rd->gen = 0;
}
