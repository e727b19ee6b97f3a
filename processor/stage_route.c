/* Route stage: every PASS event through the current ruleset (rules.h);
 * table targets write rows in the open transaction, publish and alert
 * targets go to the outbox and leave after the commit. */
#include "stages.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "derive.h"
#include "mdm_buf.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_mem.h"
#include "mdm_pbjson.h"
#include "processor_cfg.h"
#include "rules.h"
#include "store.h"
#include "validate.h"

#define EVENT_CT "application/protobuf; proto=mdmesh.v1.MarketEvent"
#define EXEC_CT "application/protobuf; proto=mdmesh.v1.Execution"
#define ALERT_CT "application/protobuf; proto=mdmesh.v1.Alert"
#define FIRED_MAX 16 /* distinct alerting rules a batch keeps apart; more go to "_other" */

/* Alerts of the open batch, by rule, tallied once it commits. The names
 * belong to the ruleset the reader holds until the next batch. */
struct fired {
	const char *rule;
	uint64_t n;
};

struct route_stage {
	struct rules_holder *holder;
	struct mdm_tally *alerts;
	struct fired fired[FIRED_MAX + 1]; /* the last: "_other" */
	size_t n_fired;
	struct rules_reader rd;
	struct rules_action *actions; /* cap >= rules_max_actions of the ruleset in use */
	size_t cap;
	struct stage_outbox out;
	struct mdm_bus *bus;
	struct derive d;              /* absolute event times */
	struct mdm_buf json;
};

static int stage_init(void **ctx, const struct mdm_stage_env *env)
{
	struct route_stage *rs = mdm_calloc(1, sizeof(*rs));

	if (!rs)
		return -ENOMEM;
	const struct stage_route_shared *sh = env->shared;

	rs->holder = sh->rules;
	rs->alerts = sh->alerts;
	rs->bus = env->bus;
	derive_init(&rs->d, (uint32_t)env->cfg->derive_session_date);
	*ctx = rs;
	return 0;
}

static const char *str_or(const char *s, const char *def)
{
	return s && s[0] ? s : def;
}

static const Mdmesh__V1__EventHeader *item_header(const struct mdm_stage_item *it)
{
	return it->exec ? it->exec->header : it->ev->header;
}

/* Event identity for Msg-Ids: <feed>.<session>.<seq>[.<index>]; an
 * execution's is fix.<session name>.<exec_id>, as mdmesh-fix's Msg-Id. */
static void event_id(char *out, size_t cap, const struct mdm_stage_item *it)
{
	const Mdmesh__V1__EventHeader *h = item_header(it);

	if (it->exec) {
		snprintf(out, cap, "fix.%s.%s", str_or(h ? h->feed : NULL, "_"), str_or(it->exec->exec_id, "_"));
		return;
	}
	if (it->index)
		snprintf(out, cap, "%s.%s.%" PRIu64 ".%u", str_or(h ? h->feed : NULL, "_"),
			 str_or(h ? h->session : NULL, "_"), h ? h->seq : it->stream_seq, it->index);
	else
		snprintf(out, cap, "%s.%s.%" PRIu64, str_or(h ? h->feed : NULL, "_"), str_or(h ? h->session : NULL, "_"),
			 h ? h->seq : it->stream_seq);
}

static int queue_alert(struct route_stage *rs, struct mdm_stage_batch *b, const struct rules_action *a,
		       const struct store_alert *al, const char *id)
{
	Mdmesh__V1__Alert pb = MDMESH__V1__ALERT__INIT;
	char msg_id[RULES_TARGET_MAX + 192];
	size_t len;
	uint8_t *buf;

	pb.rule = (char *)al->rule;
	pb.symbol = (char *)al->symbol;
	pb.severity = (char *)al->severity;
	pb.message = (char *)al->message;
	pb.ts_ns = al->ts_ns;
	pb.feed = (char *)al->feed;
	pb.session = (char *)al->session;
	pb.seq = al->seq;
	pb.value = al->value;
	pb.threshold = al->threshold;
	len = mdmesh__v1__alert__get_packed_size(&pb);
	buf = b->alloc(b->arena, len ? len : 1);
	if (!buf)
		return mdm_err_set(-ENOMEM, "route: out of memory");
	mdmesh__v1__alert__pack(&pb, buf);
	snprintf(msg_id, sizeof(msg_id), "%s:%s", a->target, id);
	return stage_outbox_add(&rs->out, b, a->target, msg_id, ALERT_CT, buf, len);
}

static int queue_event(struct route_stage *rs, struct mdm_stage_batch *b, const struct rules_action *a,
		       const struct mdm_stage_item *it, const char *id)
{
	char msg_id[RULES_TARGET_MAX + 192];
	const void *data = it->payload;
	size_t len = it->payload_len;

	if (!data) { /* a member of an EventBatch (an execution is always its own message) */
		uint8_t *buf;

		len = mdmesh__v1__market_event__get_packed_size(it->ev);
		buf = b->alloc(b->arena, len ? len : 1);
		if (!buf)
			return mdm_err_set(-ENOMEM, "route: out of memory");
		mdmesh__v1__market_event__pack(it->ev, buf);
		data = buf;
	}
	snprintf(msg_id, sizeof(msg_id), "%s:%s", a->target, id);
	return stage_outbox_add(&rs->out, b, a->target, msg_id, it->exec ? EXEC_CT : EVENT_CT, data, len);
}

static int put_event(struct route_stage *rs, struct mdm_stage_batch *b, const struct mdm_stage_item *it,
		     const char *table, uint64_t ts_ns)
{
	const Mdmesh__V1__EventHeader *h = item_header(it);
	char type[2] = { it->exec ? str_or(it->exec->exec_type, "_")[0] : validate_body_type(it->ev->body_case), 0 };
	struct store_event e = { 0 };
	struct mdm_json j;

	mdm_buf_reset(&rs->json);
	mdm_json_init(&j, &rs->json);
	mdm_pbjson_write(&j, it->exec ? &it->exec->base : &it->ev->base);
	if (mdm_json_status(&j) != 0)
		return mdm_err_set(-ENOMEM, "route: out of memory");
	e.feed = str_or(h ? h->feed : NULL, "");
	e.session = str_or(h ? h->session : NULL, "");
	e.type = type;
	e.symbol = it->exec ? str_or(it->exec->symbol, "") : str_or(h ? h->symbol : NULL, "");
	e.table = table;
	e.seq = h ? h->seq : 0;
	e.ts_ns = ts_ns;
	e.stream_seq = it->stream_seq;
	e.json = rs->json.data;
	return b->store_ops->put_event(b->store, &e);
}

static void count_alert(struct route_stage *rs, const char *rule)
{
	size_t i;

	if (!rs->alerts)
		return;
	for (i = 0; i < rs->n_fired && strcmp(rs->fired[i].rule, rule) != 0; i++)
		;
	if (i == rs->n_fired) {
		if (i == FIRED_MAX) {
			rs->fired[FIRED_MAX].rule = "_other";
			rs->fired[FIRED_MAX].n++;
			return;
		}
		rs->fired[rs->n_fired++] = (struct fired){ rule, 0 };
	}
	rs->fired[i].n++;
}

static int route_item(struct route_stage *rs, struct mdm_stage_batch *b, struct mdm_stage_item *it, size_t n)
{
	const Mdmesh__V1__EventHeader *h = item_header(it);
	const Mdmesh__V1__Execution *x = it->exec;
	uint64_t ts_ns = 0;
	char id[160];
	int rc = 0;

	if (x)
		ts_ns = x->transact_time_ns ? x->transact_time_ns : h ? h->wire_ts_ns : 0;
	else if (h && derive_abs_ns(&rs->d, h->session_date, h->exchange_ts_ns, &ts_ns) != 0)
		ts_ns = h->exchange_ts_ns;
	event_id(id, sizeof(id), it);
	for (size_t k = 0; k < n && rc == 0; k++) {
		const struct rules_action *a = &rs->actions[k];
		/* An execution's alert row is keyed by its session name (feed) and
		 * exec_id (session): MsgSeqNum alone restarts after a sequence reset. */
		struct store_alert al = {
			.rule = a->rule_name, .symbol = x ? str_or(x->symbol, "") : str_or(h ? h->symbol : NULL, ""),
			.severity = a->severity ? a->severity : "info", .message = a->message,
			.feed = str_or(h ? h->feed : NULL, ""),
			.session = x ? str_or(x->exec_id, "") : str_or(h ? h->session : NULL, ""),
			.seq = h ? h->seq : 0, .ts_ns = ts_ns, .value = a->value, .threshold = a->threshold,
		};

		switch (a->kind) {
		case RULES_ACTION_TABLE:
			/* `trades` is built in: the derive stage writes a trade row
			 * for every execution that is still PASS after routing, so
			 * the rule only documents it (and a drop rule prevents it). */
			if (strcmp(a->target, "trades") == 0)
				break;
			rc = a->alert_record ? b->store_ops->put_alert(b->store, &al) : put_event(rs, b, it, a->target, ts_ns);
			break;
		case RULES_ACTION_PUBLISH:
			rc = a->alert_record ? queue_alert(rs, b, a, &al, id) : queue_event(rs, b, a, it, id);
			break;
		case RULES_ACTION_ALERT:
			rc = b->store_ops->put_alert(b->store, &al);
			if (rc == 0)
				rc = queue_alert(rs, b, a, &al, id);
			break;
		}
		if (rc != 0)
			return mdm_err_set(rc, "rule %s -> %s: %s", a->rule_name, a->target, mdm_err_last());
		if (a->kind == RULES_ACTION_ALERT || a->alert_record)
			count_alert(rs, a->rule_name);
	}
	return 0;
}

static int stage_process(void *ctx, struct mdm_stage_batch *b)
{
	struct route_stage *rs = ctx;
	const struct rules *r = rules_reader_get(rs->holder, &rs->rd);
	size_t need = rules_max_actions(r);

	/* Only after a reload can a ruleset need more room. */
	if (need > rs->cap) {
		struct rules_action *v = mdm_realloc(rs->actions, need * sizeof(*v));

		if (!v)
			return mdm_err_set(-ENOMEM, "route: out of memory");
		rs->actions = v;
		rs->cap = need;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct mdm_stage_item *it = &b->items[i];
		const struct stage_exec_ref *xr = it->note[MDM_STAGE_NOTE_REFDATA];
		struct rules_event re = { .ev = it->ev, .exec = it->exec, .ref = it->exec && xr ? &xr->ref : NULL,
					  .subject = it->subject };
		unsigned flags = 0;
		size_t n;
		int rc;

		if (it->verdict != MDM_STAGE_PASS)
			continue;
		n = rules_match(r, &re, rs->actions, rs->cap, &flags);
		if (n && (rc = route_item(rs, b, it, n)) != 0)
			return rc;
		if (flags & RULES_MATCH_DROP)
			it->verdict = MDM_STAGE_SKIP;
	}
	return 0;
}

static void stage_done(void *ctx, struct mdm_stage_batch *b, bool committed)
{
	struct route_stage *rs = ctx;

	if (committed)
		stage_outbox_send(&rs->out, rs->bus);
	else
		stage_outbox_clear(&rs->out);
	for (size_t i = 0; committed && i <= FIRED_MAX; i++)
		if (i < rs->n_fired || (i == FIRED_MAX && rs->fired[i].n))
			mdm_tally_add(rs->alerts, rs->fired[i].rule, strlen(rs->fired[i].rule), (int64_t)rs->fired[i].n);
	rs->n_fired = 0;
	rs->fired[FIRED_MAX].n = 0;
}

static void stage_fini(void *ctx)
{
	struct route_stage *rs = ctx;

	if (!rs)
		return;
	rules_reader_release(&rs->rd);
	stage_outbox_fini(&rs->out);
	mdm_buf_fini(&rs->json);
	mdm_free(rs->actions);
	mdm_free(rs);
}

const struct mdm_stage_ops stage_route_ops = {
	.name = "route",
	.init = stage_init,
	.process = stage_process,
	.flush = NULL,
	.done = stage_done,
	.fini = stage_fini,
};
