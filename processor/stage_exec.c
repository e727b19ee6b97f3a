/* The executions pipeline (stream EXEC): exec_enrich -> route -> executions.
 * exec_enrich checks what an Execution must have to be stored and looks its
 * trader and instrument up in the reference-data caches, so that the rules
 * can read trader.* and instrument.* (stages.h); executions writes the row. */
#include "stages.h"

#include <errno.h>
#include <string.h>

#include "enrich.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "store.h"

static const char *str_or(const char *s, const char *def)
{
	return s && s[0] ? s : def;
}

/* Why an execution cannot be stored, or NULL. */
static const char *exec_problem(const Mdmesh__V1__Execution *x, int64_t *notional)
{
	const char *t = x->exec_type ? x->exec_type : "";

	if (!x->header || !x->header->feed || !x->header->feed[0])
		return "no_session";
	if (!x->exec_id || !x->exec_id[0])
		return "no_exec_id";
	if (!(t[0] == 'F' || t[0] == 'G' || t[0] == 'H') || t[1])
		return "bad_exec_type";
	if (t[0] != 'F' && (!x->exec_ref_id || !x->exec_ref_id[0]))
		return "no_exec_ref_id";
	if (rules_exec_notional(x, notional) != 0)
		return "notional_out_of_range";
	return NULL;
}

static int enrich_init(void **ctx, const struct mdm_stage_env *env)
{
	*ctx = env->shared;
	return 0;
}

static void lookup(struct enrich *cache, const char *key, struct enrich_instrument *out, bool *known)
{
	*known = cache && key && key[0] && enrich_lookup(cache, key, out);
	if (!*known)
		memset(out, 0, sizeof(*out));
}

static int enrich_process(void *ctx, struct mdm_stage_batch *b)
{
	const struct stage_exec_shared *sh = ctx;

	for (size_t i = 0; i < b->n; i++) {
		struct mdm_stage_item *it = &b->items[i];
		const Mdmesh__V1__Execution *x = it->exec;
		struct stage_exec_ref *r;
		struct rules_ref *ref;
		const char *why;
		int64_t notional = 0;

		if (it->verdict != MDM_STAGE_PASS)
			continue;
		why = x ? exec_problem(x, &notional) : "not_an_execution";
		if (why) {
			it->verdict = MDM_STAGE_DEAD;
			it->reason = why;
			continue;
		}
		if (!(r = b->alloc(b->arena, sizeof(*r))))
			return mdm_err_set(-ENOMEM, "exec_enrich: out of memory");
		memset(r, 0, sizeof(*r));
		r->notional = notional;
		ref = &r->ref;
		lookup(sh ? sh->traders : NULL, x->trader, &r->trader, &ref->trader_known);
		lookup(sh ? sh->instruments : NULL, x->symbol, &r->instrument, &ref->instrument_known);
		ref->trader_name = r->trader.name;
		ref->trader_team = r->trader.team;
		ref->trader_authorization_level = r->trader.authorization_level;
		ref->trader_has_limit = r->trader.has_limit != 0;
		ref->trader_max_trade_limit = r->trader.max_trade_limit;
		ref->instrument_name = r->instrument.name;
		ref->instrument_sector = r->instrument.sector;
		ref->instrument_currency = r->instrument.currency;
		ref->instrument_exchange = r->instrument.exchange;
		ref->instrument_lot_size = r->instrument.lot_size;
		it->note[MDM_STAGE_NOTE_REFDATA] = r;
	}
	return 0;
}

static void nothing_fini(void *ctx)
{
	(void)ctx; /* the shared object belongs to main */
}

const struct mdm_stage_ops stage_exec_enrich_ops = {
	.name = "exec_enrich",
	.init = enrich_init,
	.process = enrich_process,
	.fini = nothing_fini,
};

static int store_process(void *ctx, struct mdm_stage_batch *b)
{
	(void)ctx;
	for (size_t i = 0; i < b->n; i++) {
		const struct mdm_stage_item *it = &b->items[i];
		const Mdmesh__V1__Execution *x = it->exec;
		const struct stage_exec_ref *r = it->note[MDM_STAGE_NOTE_REFDATA];
		const Mdmesh__V1__EventHeader *h;
		struct store_execution row;
		int rc;

		if (it->verdict != MDM_STAGE_PASS || !x || !r)
			continue;
		h = x->header;
		row = (struct store_execution){
			.session = h->feed, .exec_id = x->exec_id, .comp_ids = str_or(h->session, ""), .seq = h->seq,
			.stream_seq = it->stream_seq, .exec_ref_id = str_or(x->exec_ref_id, ""),
			.order_id = str_or(x->order_id, ""), .cl_ord_id = str_or(x->cl_ord_id, ""),
			.account = str_or(x->account, ""), .trader = str_or(x->trader, ""),
			.symbol = str_or(x->symbol, ""), .side = str_or(x->side, ""), .currency = str_or(x->currency, ""),
			.exec_type = x->exec_type, .ord_status = str_or(x->ord_status, ""),
			.last_mkt = str_or(x->last_mkt, ""), .security_id = str_or(x->security_id, ""),
			.id_source = str_or(x->id_source, ""), .last_qty = x->last_qty, .last_px = x->last_px,
			.cum_qty = x->cum_qty, .leaves_qty = x->leaves_qty, .avg_px = x->avg_px, .notional = r->notional,
			.transact_time_ns = x->transact_time_ns, .sending_time_ns = h->wire_ts_ns,
			.rx_ts_ns = h->rx_ts_ns, .poss_dup = x->poss_dup, .trader_name = r->trader.name,
			.trader_team = r->trader.team, .instrument_name = r->instrument.name,
			.instrument_sector = r->instrument.sector,
		};
		rc = b->store_ops->put_execution(b->store, &row);
		if (rc != 0)
			return mdm_err_set(rc, "execution %s/%s: %s", row.session, row.exec_id, mdm_err_last());
	}
	return 0;
}

static int store_init(void **ctx, const struct mdm_stage_env *env)
{
	*ctx = env->shared;
	return 0;
}

/* Committed: count the rows and tally the trades' notional by trader. */
static void store_done(void *ctx, struct mdm_stage_batch *b, bool committed)
{
	struct stage_exec_shared *sh = ctx;
	uint64_t rows = 0;

	if (!committed || !sh)
		return;
	for (size_t i = 0; i < b->n; i++) {
		const struct mdm_stage_item *it = &b->items[i];
		const struct stage_exec_ref *r = it->note[MDM_STAGE_NOTE_REFDATA];

		if (it->verdict != MDM_STAGE_PASS || !it->exec || !r)
			continue;
		rows++;
		if (sh->notional && it->exec->exec_type && it->exec->exec_type[0] == 'F') {
			const char *t = str_or(it->exec->trader, "_");

			mdm_tally_add(sh->notional, t, strlen(t), r->notional);
		}
	}
	mdm_counter_add_shared(&sh->executions, rows);
}

const struct mdm_stage_ops stage_exec_store_ops = {
	.name = "executions",
	.init = store_init,
	.process = store_process,
	.done = store_done,
	.fini = nothing_fini,
};

/* ---- the pipeline, for main ---- */

struct exec_pipeline {
	struct stage_exec_shared sh;
};

int exec_pipeline_create(struct exec_pipeline **out, struct mdm_bus *bus, const char *bucket, int replicas,
			 struct stage_route_shared *route, struct mdm_tally *notional, struct mdm_stage *stages,
			 size_t *n)
{
	struct exec_pipeline *xp = mdm_calloc(1, sizeof(*xp));
	int rc = 0;

	*out = NULL;
	if (!xp)
		return mdm_err_set(-ENOMEM, "executions pipeline: out of memory");
	xp->sh.notional = notional;
	if (bucket && bucket[0]) {
		struct enrich_params ep;

		enrich_params_init(&ep);
		ep.bus = bus;
		ep.bucket = bucket;
		ep.replicas = replicas;
		rc = enrich_create(&xp->sh.instruments, &ep);
		ep.key_prefix = ENRICH_TRADER_PREFIX;
		if (rc == 0)
			rc = enrich_create(&xp->sh.traders, &ep);
		if (rc != 0) {
			rc = mdm_err_set(rc, "refdata.bucket %s: %s", bucket, mdm_err_last());
			exec_pipeline_destroy(xp);
			return rc;
		}
	}
	*n = 0;
	stages[(*n)++] = (struct mdm_stage){ &stage_exec_enrich_ops, &xp->sh };
	if (route && route->rules)
		stages[(*n)++] = (struct mdm_stage){ &stage_route_ops, route };
	stages[(*n)++] = (struct mdm_stage){ &stage_exec_store_ops, &xp->sh };
	*out = xp;
	return 0;
}

void exec_pipeline_destroy(struct exec_pipeline *xp)
{
	if (!xp)
		return;
	enrich_destroy(xp->sh.instruments);
	enrich_destroy(xp->sh.traders);
	mdm_free(xp);
}

const uint64_t *exec_pipeline_executions(const struct exec_pipeline *xp)
{
	return &xp->sh.executions;
}
