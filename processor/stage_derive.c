/* Derive stage: trades from executions, bars of the minutes they touch, and
 * the Trade / Bar messages, published once the batch is committed. */
#include "stages.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derive.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_subject.h"
#include "processor_cfg.h"
#include "store.h"

#define TRADE_CT "application/protobuf; proto=mdmesh.v1.Trade"
#define BAR_CT "application/protobuf; proto=mdmesh.v1.Bar"

struct minute_key {
	const char *symbol; /* borrowed from the batch's events */
	uint64_t minute_ns;
};

struct derive_stage {
	struct derive d;
	struct stage_outbox out;
	struct mdm_bus *bus;
	bool publish;
	struct minute_key *mins; /* printable trades' (symbol, minute) of this batch */
	size_t n_mins, cap_mins;
};

static int stage_init(void **ctx, const struct mdm_stage_env *env)
{
	struct derive_stage *ds = mdm_calloc(1, sizeof(*ds));

	if (!ds)
		return -ENOMEM;
	derive_init(&ds->d, (uint32_t)env->cfg->derive_session_date);
	ds->bus = env->bus;
	ds->publish = env->cfg->derived_publish;
	*ctx = ds;
	return 0;
}

static int minute_add(struct derive_stage *ds, const char *symbol, uint64_t minute_ns)
{
	if (ds->n_mins == ds->cap_mins) {
		size_t cap = ds->cap_mins ? ds->cap_mins * 2 : 256;
		struct minute_key *v = mdm_realloc(ds->mins, cap * sizeof(*v));

		if (!v)
			return mdm_err_set(-ENOMEM, "derive: out of memory");
		ds->mins = v;
		ds->cap_mins = cap;
	}
	ds->mins[ds->n_mins++] = (struct minute_key){ symbol, minute_ns };
	return 0;
}

static int minute_cmp(const void *a, const void *b)
{
	const struct minute_key *x = a, *y = b;
	int c = strcmp(x->symbol, y->symbol);

	if (c)
		return c;
	return x->minute_ns < y->minute_ns ? -1 : x->minute_ns > y->minute_ns;
}

/* The symbol as one subject token (mdm_subject_token: the collector's rule). */
static const char *symbol_token(char *out, size_t cap, const char *symbol)
{
	const char *s = symbol ? symbol : "";

	mdm_subject_token(out, cap, s, strlen(s));
	return out;
}

static int queue_trade(struct derive_stage *ds, struct mdm_stage_batch *b, const struct store_trade *t)
{
	Mdmesh__V1__Trade pb;
	char subject[96], tok[64], msg_id[160];
	size_t len;
	uint8_t *buf;

	derive_trade_pb(t, &pb);
	len = mdmesh__v1__trade__get_packed_size(&pb);
	buf = b->alloc(b->arena, len ? len : 1);
	if (!buf)
		return mdm_err_set(-ENOMEM, "derive: out of memory");
	mdmesh__v1__trade__pack(&pb, buf);
	snprintf(subject, sizeof(subject), "trade.%s", symbol_token(tok, sizeof(tok), t->symbol));
	snprintf(msg_id, sizeof(msg_id), "trade.%s.%s.%" PRIu64, t->feed, t->session, t->seq);
	return stage_outbox_add(&ds->out, b, subject, msg_id, TRADE_CT, buf, len);
}

static int stage_process(void *ctx, struct mdm_stage_batch *b)
{
	struct derive_stage *ds = ctx;

	ds->n_mins = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct mdm_stage_item *it = &b->items[i];
		struct store_trade t;
		int rc;

		if (it->verdict != MDM_STAGE_PASS)
			continue;
		rc = derive_trade(&ds->d, it->ev, it->stream_seq, &t);
		if (rc < 0) {
			it->verdict = MDM_STAGE_DEAD;
			it->reason = "derive_invalid";
			continue;
		}
		if (rc == 0)
			continue;
		rc = b->store_ops->put_trade(b->store, &t);
		if (rc != 0)
			return mdm_err_set(rc, "put_trade %s.%s.%" PRIu64 ": %s", t.feed, t.session, t.seq, mdm_err_last());
		if (t.printable && t.symbol && t.symbol[0] &&
		    (rc = minute_add(ds, t.symbol, derive_minute_ns(t.ts_ns))) != 0)
			return rc;
		if (ds->publish && (rc = queue_trade(ds, b, &t)) != 0)
			return rc;
	}
	return 0;
}

/* Bars once per touched (symbol, minute): the store recomputes them from the
 * trades table, so the result does not depend on order or redelivery. */
static int stage_flush(void *ctx, struct mdm_stage_batch *b)
{
	struct derive_stage *ds = ctx;

	/* a batch without printable trades has no array yet (NULL: qsort's
	 * nonnull argument, UBSan aborts) */
	if (ds->n_mins > 1)
		qsort(ds->mins, ds->n_mins, sizeof(*ds->mins), minute_cmp);
	for (size_t i = 0; i < ds->n_mins; i++) {
		const struct minute_key *k = &ds->mins[i];
		struct store_bar bar;
		Mdmesh__V1__Bar pb;
		char subject[96], tok[64], msg_id[192];
		uint8_t *buf;
		size_t len;
		int rc;

		if (i > 0 && minute_cmp(k, &ds->mins[i - 1]) == 0)
			continue;
		rc = b->store_ops->refresh_bar(b->store, k->symbol, k->minute_ns);
		if (rc != 0)
			return mdm_err_set(rc, "refresh_bar %s: %s", k->symbol, mdm_err_last());
		if (!ds->publish)
			continue;
		rc = b->store_ops->get_bar(b->store, k->symbol, k->minute_ns, &bar);
		if (rc == -ENOENT)
			continue;
		if (rc != 0)
			return mdm_err_set(rc, "get_bar %s: %s", k->symbol, mdm_err_last());
		derive_bar_pb(&bar, &pb);
		len = mdmesh__v1__bar__get_packed_size(&pb);
		buf = b->alloc(b->arena, len ? len : 1);
		if (!buf)
			return mdm_err_set(-ENOMEM, "derive: out of memory");
		mdmesh__v1__bar__pack(&pb, buf);
		snprintf(subject, sizeof(subject), "bar.1m.%s", symbol_token(tok, sizeof(tok), k->symbol));
		/* A bar changes as trades arrive: its id names the state it is in. */
		snprintf(msg_id, sizeof(msg_id), "bar.%s.%" PRIu64 ".%" PRIu64 ".%" PRIu64, tok, k->minute_ns,
			 bar.trade_count, bar.volume);
		rc = stage_outbox_add(&ds->out, b, subject, msg_id, BAR_CT, buf, len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void stage_done(void *ctx, struct mdm_stage_batch *b, bool committed)
{
	struct derive_stage *ds = ctx;

	if (committed)
		stage_outbox_send(&ds->out, ds->bus);
	else
		stage_outbox_clear(&ds->out);
}

static void stage_fini(void *ctx)
{
	struct derive_stage *ds = ctx;

	if (!ds)
		return;
	stage_outbox_fini(&ds->out);
	mdm_free(ds->mins);
	mdm_free(ds);
}

const struct mdm_stage_ops stage_derive_ops = {
	.name = "derive",
	.init = stage_init,
	.process = stage_process,
	.flush = stage_flush,
	.done = stage_done,
	.fini = stage_fini,
};
