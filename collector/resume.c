/* Reading where the feed left off (see resume.h): a bitmap of the last window
 * sequence numbers of the current session, filled from the stream's tail. */
#include "resume.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_proto.h"

#define FETCH_BATCH 1024
#define LOCATES 65536

struct resume_scan {
	uint64_t *bits;        /* seq & mask -> seen, for seqs in (top - size, top] */
	uint64_t mask;         /* size - 1 */
	uint64_t top;          /* highest seq of the session; 0 = none yet */
	uint64_t min_seen;     /* lowest seq kept */
	uint64_t ctx_max;      /* highest seq among context events */
	bool from_start;
	bool have_session;
	char session[11];
	uint64_t events;
	uint8_t *has_sym;      /* LOCATES flags */
	char (*sym)[SYMBOLS_TEXT_MAX + 1]; /* LOCATES symbol texts */
};

int resume_scan_create(struct resume_scan **out, uint64_t window)
{
	struct resume_scan *sc;
	uint64_t size = 64;

	*out = NULL;
	if (window == 0 || window > (1ULL << 32))
		return mdm_err_set(-EINVAL, "resume: window %llu out of range 1..2^32", (unsigned long long)window);
	while (size < window)
		size <<= 1;
	sc = mdm_calloc(1, sizeof(*sc));
	if (!sc)
		return mdm_err_set(-ENOMEM, "resume: out of memory for a %llu-sequence window", (unsigned long long)window);
	sc->mask = size - 1;
	sc->bits = mdm_calloc(size / 64, sizeof(uint64_t));
	sc->has_sym = mdm_calloc(LOCATES, 1);
	sc->sym = mdm_calloc(LOCATES, sizeof(*sc->sym));
	if (!sc->bits || !sc->has_sym || !sc->sym) {
		resume_scan_destroy(sc);
		return mdm_err_set(-ENOMEM, "resume: out of memory for a %llu-sequence window", (unsigned long long)window);
	}
	*out = sc;
	return 0;
}

void resume_scan_destroy(struct resume_scan *sc)
{
	if (!sc)
		return;
	mdm_free(sc->bits);
	mdm_free(sc->has_sym);
	mdm_free(sc->sym);
	mdm_free(sc);
}

void resume_scan_from_start(struct resume_scan *sc)
{
	sc->from_start = true;
}

static inline void bit_set(struct resume_scan *sc, uint64_t seq)
{
	uint64_t i = seq & sc->mask;

	sc->bits[i / 64] |= 1ULL << (i % 64);
}

static inline bool bit_get(const struct resume_scan *sc, uint64_t seq)
{
	uint64_t i = seq & sc->mask;

	return sc->bits[i / 64] >> (i % 64) & 1;
}

static void scan_restart(struct resume_scan *sc, const char *session)
{
	memset(sc->bits, 0, (sc->mask + 1) / 8);
	memset(sc->has_sym, 0, LOCATES);
	sc->top = sc->min_seen = sc->ctx_max = 0;
	sc->events = 0;
	snprintf(sc->session, sizeof(sc->session), "%s", session);
	sc->have_session = true;
}

void resume_scan_add(struct resume_scan *sc, const char *session, uint64_t seq, uint32_t locate, const char *symbol,
		     bool context)
{
	uint64_t size = sc->mask + 1;

	if (seq == 0 || !session[0])
		return;
	/* the last session in the stream is the one to continue */
	if (!sc->have_session || strncmp(session, sc->session, sizeof(sc->session)) != 0)
		scan_restart(sc, session);
	sc->events++;
	if (seq > sc->top) {
		/* the bits of the sequence numbers the window slides over are reused */
		if (seq - sc->top >= size || sc->top == 0) {
			memset(sc->bits, 0, size / 8);
		} else {
			for (uint64_t s = sc->top + 1; s < seq; s++) {
				uint64_t i = s & sc->mask;

				sc->bits[i / 64] &= ~(1ULL << (i % 64));
			}
		}
		sc->top = seq;
	} else if (sc->top - seq >= size) {
		return; /* older than the window */
	}
	bit_set(sc, seq);
	if (sc->min_seen == 0 || seq < sc->min_seen)
		sc->min_seen = seq;
	if (context && seq > sc->ctx_max)
		sc->ctx_max = seq;
	if (locate < LOCATES && symbol && symbol[0]) {
		snprintf(sc->sym[locate], sizeof(sc->sym[locate]), "%s", symbol);
		sc->has_sym[locate] = 1;
	}
}

int resume_scan_finish(struct resume_scan *sc, struct resume_point *out)
{
	uint64_t size = sc->mask + 1, lo, floor;
	unsigned n = 0, k = 0;

	out->found = sc->have_session && sc->top > 0;
	if (!out->found)
		return 0;
	snprintf(out->session, sizeof(out->session), "%s", sc->session);
	lo = sc->from_start || sc->ctx_max == 0 ? sc->min_seen : sc->ctx_max + 1;
	floor = sc->top >= size ? sc->top - size + 1 : 1;
	if (lo < floor)
		lo = floor;
	out->join = lo;
	out->next = sc->top + 1;
	/* two passes: count the holes, then record them */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t s = lo;

		n = 0;
		while (s <= sc->top) {
			uint64_t a;

			if (bit_get(sc, s)) {
				s++;
				continue;
			}
			a = s;
			while (s <= sc->top && !bit_get(sc, s))
				s++;
			if (pass == 1) {
				out->gap_from[n] = a;
				out->gap_to[n] = s - 1;
			}
			n++;
		}
		if (pass == 0 && n) {
			out->gap_from = mdm_calloc(n, sizeof(uint64_t));
			out->gap_to = mdm_calloc(n, sizeof(uint64_t));
			if (!out->gap_from || !out->gap_to)
				return mdm_err_set(-ENOMEM, "resume: out of memory for %u gaps", n);
		}
	}
	out->n_gaps = n;
	for (uint32_t l = 0; l < LOCATES; l++)
		k += sc->has_sym[l];
	if (k) {
		out->locates = mdm_calloc(k, sizeof(uint16_t));
		out->symbol_buf = mdm_calloc(k, sizeof(*out->symbol_buf));
		out->symbols = mdm_calloc(k, sizeof(char *));
		if (!out->locates || !out->symbol_buf || !out->symbols)
			return mdm_err_set(-ENOMEM, "resume: out of memory for %u symbols", k);
		k = 0;
		for (uint32_t l = 0; l < LOCATES; l++) {
			if (!sc->has_sym[l])
				continue;
			out->locates[k] = (uint16_t)l;
			memcpy(out->symbol_buf[k], sc->sym[l], sizeof(out->symbol_buf[k]));
			out->symbols[k] = out->symbol_buf[k];
			k++;
		}
	}
	out->n_symbols = k;
	out->events_read = sc->events;
	return 0;
}

void resume_point_destroy(struct resume_point *rp)
{
	if (!rp)
		return;
	mdm_free(rp->gap_from);
	mdm_free(rp->gap_to);
	mdm_free(rp->locates);
	mdm_free(rp->symbol_buf);
	mdm_free(rp->symbols);
	mdm_free(rp);
}

void resume_point_feed(const struct resume_point *rp, uint64_t now_ns, struct feed_resume *out)
{
	*out = (struct feed_resume){
		.session = rp->session, .join = rp->join, .next = rp->next,
		.gap_from = rp->gap_from, .gap_to = rp->gap_to, .n_gaps = rp->n_gaps,
		.locates = rp->locates, .symbols = rp->symbols, .n_symbols = rp->n_symbols,
		.now_ns = now_ns,
	};
}

/* ---- the read ---- */

static void scan_event(struct resume_scan *sc, const char *feed, const Mdmesh__V1__MarketEvent *ev, bool context)
{
	const Mdmesh__V1__EventHeader *h = ev->header;

	if (h && h->feed && strcmp(h->feed, feed) == 0 && h->session)
		resume_scan_add(sc, h->session, h->seq, h->stock_locate, h->symbol, context);
}

static void scan_msg(const struct resume_params *p, struct resume_scan *sc, struct mdm_bus_msg *m, bool context)
{
	const uint8_t *data = mdm_bus_msg_data(m);
	size_t len = mdm_bus_msg_len(m);

	if (p->batch) {
		Mdmesh__V1__EventBatch *b = mdmesh__v1__event_batch__unpack(NULL, len, data);

		if (!b)
			return;
		for (size_t i = 0; i < b->n_events; i++)
			scan_event(sc, p->feed, b->events[i], context);
		mdmesh__v1__event_batch__free_unpacked(b, NULL);
	} else {
		Mdmesh__V1__MarketEvent *ev = mdmesh__v1__market_event__unpack(NULL, len, data);

		if (!ev)
			return;
		scan_event(sc, p->feed, ev, context);
		mdmesh__v1__market_event__free_unpacked(ev, NULL);
	}
}

/* Fetch every message of the consumer up to the stream's end as it was when
 * the read began. */
static int read_tail(const struct resume_params *p, struct resume_scan *sc, uint64_t start, uint64_t last,
		     uint64_t *msgs, uint64_t deadline_ns)
{
	struct mdm_bus_sub *sub = NULL;
	struct mdm_bus_msg *batch[FETCH_BATCH];
	uint64_t ctx_end = start + (last - start + 1) / 8;
	int rc = mdm_bus_pull_subscribe(p->bus, p->stream, p->consumer, &sub);

	if (rc != 0)
		return rc;
	for (;;) {
		struct mdm_bus_msg_meta meta = { 0 };
		size_t n = 0;
		bool done = false;

		if (mdm_mono_ns() > deadline_ns) {
			rc = mdm_err_set(-ETIMEDOUT, "resume: reading %s back took too long (%llu messages read)",
					 p->stream, (unsigned long long)*msgs);
			break;
		}
		rc = mdm_bus_fetch(sub, FETCH_BATCH, 500, batch, &n);
		if (rc != 0)
			break;
		if (n == 0)
			break; /* nothing more for the consumer */
		for (size_t i = 0; i < n; i++) {
			if (mdm_bus_msg_meta(batch[i], &meta) == 0 && meta.stream_seq <= last)
				scan_msg(p, sc, batch[i], meta.stream_seq < ctx_end);
			if (meta.stream_seq >= last || meta.pending == 0)
				done = true;
		}
		*msgs += n;
		mdm_bus_msgs_free(batch, n);
		if (done)
			break;
	}
	mdm_bus_sub_destroy(sub);
	return rc;
}

int resume_read(const struct resume_params *p, struct resume_point **out)
{
	struct mdm_bus_stream_info si;
	struct mdm_consumer_cfg cc = { 0 };
	struct resume_scan *sc = NULL;
	struct resume_point *rp;
	uint64_t t0 = mdm_mono_ns(), back, start;
	int rc;

	*out = NULL;
	rp = mdm_calloc(1, sizeof(*rp));
	if (!rp)
		return mdm_err_set(-ENOMEM, "resume: out of memory");
	rc = mdm_bus_stream_info(p->bus, p->stream, &si);
	if (rc == -ENOENT || (rc == 0 && si.msgs == 0)) {
		*out = rp; /* nothing stored yet: a first start */
		return 0;
	}
	if (rc != 0)
		goto err;
	/* stream messages that cover `window` sequence numbers */
	back = p->batch ? (p->window / (p->batch_max_events ? p->batch_max_events : 1) + 2) * (p->partitions ? p->partitions : 1)
			: p->window;
	start = si.last_seq > back ? si.last_seq - back + 1 : 1;
	if (start < si.first_seq)
		start = si.first_seq;
	rc = resume_scan_create(&sc, p->window);
	if (rc != 0)
		goto err;
	if (start == si.first_seq)
		resume_scan_from_start(sc);
	cc.filter_subject = p->filter;
	/* nothing is acked: let every message of the read be outstanding */
	cc.max_ack_pending = (int64_t)(si.last_seq - start + 1 + FETCH_BATCH);
	cc.ack_wait_ns = (int64_t)(p->timeout_ms + 60000) * 1000000;
	rc = mdm_bus_consumer_delete(p->bus, p->stream, p->consumer);
	if (rc != 0 && rc != -ENOENT)
		goto err;
	rc = mdm_bus_consumer_create_at(p->bus, p->stream, p->consumer, &cc, start, 0);
	if (rc != 0)
		goto err;
	rc = read_tail(p, sc, start, si.last_seq, &rp->msgs_read, t0 + p->timeout_ms * MDM_NS_PER_MS);
	{
		int drc = mdm_bus_consumer_delete(p->bus, p->stream, p->consumer);

		if (drc != 0 && drc != -ENOENT)
			mdm_log_warn("resume: consumer %s on %s not deleted: %s", p->consumer, p->stream, mdm_err_last());
	}
	if (rc != 0)
		goto err;
	rc = resume_scan_finish(sc, rp);
	if (rc != 0)
		goto err;
	resume_scan_destroy(sc);
	rp->elapsed_ms = (mdm_mono_ns() - t0) / MDM_NS_PER_MS;
	*out = rp;
	return 0;
err:
	resume_scan_destroy(sc);
	resume_point_destroy(rp);
	return rc;
}
