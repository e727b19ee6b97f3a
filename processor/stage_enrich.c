/* Enrich stage: the instruments table follows the refdata KV bucket. A row
 * is written for every stock directory event (R) and whenever a symbol the
 * worker sees has a KV revision it has not written yet; a per-worker table
 * of written revisions keeps that to one row per revision, not per event. */
#include "stages.h"

#include <errno.h>
#include <string.h>

#include "enrich.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "store.h"

#define SEEN_CAP 16384 /* symbols remembered per worker (power of two) */

struct seen {
	char symbol[ENRICH_SYMBOL_MAX];
	uint64_t revision;     /* committed */
	uint64_t pending;      /* written in the open batch */
};

struct enrich_stage {
	struct enrich *e;
	struct seen *tab;
	size_t n_tab;
	uint32_t *pending;     /* slots with a pending revision */
	size_t n_pending;
	char *json;            /* ENRICH_JSON_MAX + 1 */
};

static int stage_init(void **ctx, const struct mdm_stage_env *env)
{
	struct enrich_stage *es = mdm_calloc(1, sizeof(*es));

	if (!es)
		return -ENOMEM;
	es->e = env->shared;
	es->tab = mdm_calloc(SEEN_CAP, sizeof(*es->tab));
	es->pending = mdm_calloc(SEEN_CAP, sizeof(*es->pending));
	es->json = mdm_malloc(ENRICH_JSON_MAX + 1);
	if (!es->tab || !es->pending || !es->json) {
		mdm_free(es->tab);
		mdm_free(es->pending);
		mdm_free(es->json);
		mdm_free(es);
		return -ENOMEM;
	}
	*ctx = es;
	return 0;
}

/* Slot of `symbol`, inserted if absent; NULL when the table is full (the
 * row is then simply written again next time). */
static struct seen *seen_slot(struct enrich_stage *es, const char *symbol)
{
	uint32_t h = 2166136261u;

	/* a symbol that does not fit has no refdata (enrich keeps none that
	 * long): no slot, rather than one cut short that never matches again */
	if (strlen(symbol) >= sizeof(es->tab[0].symbol))
		return NULL;
	for (const unsigned char *c = (const unsigned char *)symbol; *c; c++)
		h = (h ^ *c) * 16777619u;
	for (size_t probe = 0; probe < SEEN_CAP; probe++) {
		struct seen *s = &es->tab[(h + probe) & (SEEN_CAP - 1)];

		if (s->symbol[0] == '\0') {
			if (es->n_tab >= SEEN_CAP / 2)
				return NULL;
			strncpy(s->symbol, symbol, sizeof(s->symbol) - 1);
			es->n_tab++;
			return s;
		}
		if (strcmp(s->symbol, symbol) == 0)
			return s;
	}
	return NULL;
}

static int put(struct enrich_stage *es, struct mdm_stage_batch *b, const char *symbol, uint32_t locate,
	       struct seen *slot)
{
	struct store_instrument in = { .symbol = symbol, .stock_locate = locate, .json = "{}" };
	uint64_t rev = 0;
	int rc = enrich_lookup_json(es->e, symbol, es->json, ENRICH_JSON_MAX + 1, NULL, &rev);

	if (rc == 0)
		in.json = es->json;
	else if (rc != -ENOENT)
		return mdm_err_set(rc, "refdata %s: %s", symbol, mdm_err_last());
	rc = b->store_ops->put_instrument(b->store, &in);
	if (rc != 0)
		return mdm_err_set(rc, "put_instrument %s: %s", symbol, mdm_err_last());
	if (slot && rev && slot->pending != rev) {
		if (!slot->pending)
			es->pending[es->n_pending++] = (uint32_t)(slot - es->tab);
		slot->pending = rev;
	}
	return 0;
}

static int stage_process(void *ctx, struct mdm_stage_batch *b)
{
	struct enrich_stage *es = ctx;

	for (size_t i = 0; i < b->n; i++) {
		const struct mdm_stage_item *it = &b->items[i];
		const Mdmesh__V1__EventHeader *h = it->ev ? it->ev->header : NULL;
		const char *symbol = h && h->symbol && h->symbol[0] ? h->symbol : NULL;
		struct enrich_instrument inst;
		struct seen *slot;
		int rc;

		if (it->verdict != MDM_STAGE_PASS)
			continue;
		if (it->ev->body_case == MDMESH__V1__MARKET_EVENT__BODY_STOCK_DIRECTORY && it->ev->stock_directory &&
		    it->ev->stock_directory->stock && it->ev->stock_directory->stock[0]) {
			const char *stock = it->ev->stock_directory->stock;

			if ((rc = put(es, b, stock, h ? h->stock_locate : 0, seen_slot(es, stock))) != 0)
				return rc;
			continue;
		}
		if (!symbol || !enrich_lookup(es->e, symbol, &inst))
			continue;
		slot = seen_slot(es, symbol);
		if (slot && (slot->revision == inst.revision || slot->pending == inst.revision))
			continue;
		if ((rc = put(es, b, symbol, h->stock_locate, slot)) != 0)
			return rc;
	}
	return 0;
}

/* Written revisions count only once committed: after a rollback the rows
 * are written again by the redelivered batch. */
static void stage_done(void *ctx, struct mdm_stage_batch *b, bool committed)
{
	struct enrich_stage *es = ctx;

	for (size_t i = 0; i < es->n_pending; i++) {
		struct seen *s = &es->tab[es->pending[i]];

		if (committed)
			s->revision = s->pending;
		s->pending = 0;
	}
	es->n_pending = 0;
}

static void stage_fini(void *ctx)
{
	struct enrich_stage *es = ctx;

	if (!es)
		return;
	mdm_free(es->tab);
	mdm_free(es->pending);
	mdm_free(es->json);
	mdm_free(es);
}

const struct mdm_stage_ops stage_enrich_ops = {
	.name = "enrich",
	.init = stage_init,
	.process = stage_process,
	.flush = NULL,
	.done = stage_done,
	.fini = stage_fini,
};
