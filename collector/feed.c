/* The feed decode chain. Framing is validated for the whole packet before any
 * message is used (mold_parse), so a malformed packet consumes no sequence
 * numbers: the sequencer sees it as missing and recovery can ask for it again. */
#include "feed.h"

#include <errno.h>
#include <string.h>

#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "symbols.h"
#include "views.h"

struct feed {
	struct seq *seq;
	struct symbols *symbols;
	struct book *book;
	struct mold_params mold;
	bool no_book;
	struct views *views;
	void (*on_seq_event)(void *ctx, const struct seq_event *ev);
	void *ctx;
	struct feed_stats stats;
	uint8_t session_raw[MOLD_SESSION_LEN];
	char session[MOLD_SESSION_LEN + 1];
};

/* Sequencer events: a session change also resets the per-day state (locates
 * and order references are assigned per session). */
static void seq_event(void *ctx, const struct seq_event *ev)
{
	struct feed *f = ctx;

	if (ev->type == SEQ_EV_SESSION_CHANGE) {
		/* the first session finds both empty; book_reset is O(capacity) */
		if (symbols_stats(f->symbols)->known)
			symbols_reset(f->symbols);
		if (book_stats(f->book)->orders || book_stats(f->book)->levels)
			book_reset(f->book);
	}
	if (f->views)
		views_on_seq_event(f->views, ev);
	if (f->on_seq_event)
		f->on_seq_event(f->ctx, ev);
}

int feed_create(struct feed **out, const struct feed_params *params)
{
	struct seq_params sp = { 0 };
	struct book_params bp = { 0 };
	struct feed *f;
	int rc;

	if (params->n_lines > 2)
		return mdm_err_set(-EINVAL, "feed: %u lines (1, or 2 for A/B)", params->n_lines);
	f = mdm_calloc(1, sizeof(*f));
	if (!f)
		return mdm_err_set(-ENOMEM, "feed: out of memory");
	f->mold = params->mold;
	f->no_book = params->no_book;
	f->views = params->no_book ? NULL : params->views;
	f->on_seq_event = params->on_seq_event;
	f->ctx = params->ctx;
	sp.n_lines = params->n_lines ? params->n_lines : 1;
	sp.gap_capacity = params->gap_capacity;
	sp.pending_ns = params->pending_ns;
	sp.on_event = seq_event;
	sp.ctx = f;
	bp.order_capacity = params->book_capacity;
	rc = seq_create(&f->seq, &sp);
	if (rc == 0)
		rc = symbols_create(&f->symbols);
	if (rc == 0)
		rc = book_create(&f->book, &bp);
	if (rc != 0) {
		feed_destroy(f);
		return rc;
	}
	*out = f;
	return 0;
}

void feed_destroy(struct feed *f)
{
	if (!f)
		return;
	book_destroy(f->book);
	symbols_destroy(f->symbols);
	seq_destroy(f->seq);
	mdm_free(f);
}

/* Keep the trimmed session string in step with the packet's session bytes. */
static void track_session(struct feed *f, const uint8_t *raw)
{
	size_t n = MOLD_SESSION_LEN;

	if (memcmp(f->session_raw, raw, MOLD_SESSION_LEN) == 0 && f->session[0])
		return;
	memcpy(f->session_raw, raw, MOLD_SESSION_LEN);
	while (n > 0 && (raw[n - 1] == ' ' || raw[n - 1] == '\0'))
		n--;
	memcpy(f->session, raw, n);
	f->session[n] = '\0';
}

static inline bool order_scoped(uint8_t type)
{
	return type == 'E' || type == 'C' || type == 'X' || type == 'D' || type == 'U';
}

static inline bool quote_scoped(uint8_t type)
{
	return type == 'E' || type == 'C' || type == 'P' || type == 'Q';
}

/* Decode one delivered message and emit it. */
static inline unsigned deliver(struct feed *f, const uint8_t *p, size_t len, uint64_t seq, uint8_t line,
			       feed_emit_fn emit, void *ctx)
{
	struct itch_msg m;
	struct book_view view;
	struct book_bbo quote;
	struct feed_msg fm;
	enum itch_status rc = itch_decode(p, len, &m);

	if (rc != ITCH_OK) {
		mdm_counter_add(&f->stats.bad_msgs[rc], 1);
		return 0;
	}
	mdm_counter_add(&f->stats.messages, 1);
	mdm_counter_add(&f->stats.by_type[m.desc->index], 1);
	fm.stock = symbols_of(f->symbols, &m);
	fm.order = NULL;
	fm.quote = NULL;
	if (!f->no_book) {
		if (f->views && quote_scoped(m.type)) {
			/* TBBO: the quote a trade met, before the book applies it */
			book_bbo(f->book, m.stock_locate, &quote);
			fm.quote = &quote;
		}
		enum book_status brc = book_apply(f->book, &m, &view);

		if (brc != BOOK_IGNORED && order_scoped(m.type))
			fm.order = &view;
		if (f->views)
			views_on_msg(f->views, f->book, &m, seq, brc, &view);
	}
	fm.m = &m;
	fm.seq = seq;
	fm.session = f->session;
	fm.line = line;
	emit(ctx, &fm);
	return 1;
}

unsigned feed_on_packet(struct feed *f, const uint8_t *p, size_t len, uint8_t line, uint64_t now_ns,
			feed_emit_fn emit, void *ctx)
{
	struct mold_pkt pkt;
	struct seq_pkt sp;
	struct seq_verdict v;
	struct mold_iter it;
	const uint8_t *msg;
	size_t mlen;
	unsigned emitted = 0, idx = 0, r = 0;
	enum mold_status rc;

	mdm_counter_add(&f->stats.packets, 1);
	rc = mold_parse(p, len, &f->mold, &pkt);
	if (rc != MOLD_OK) {
		mdm_counter_add(&f->stats.malformed[rc], 1);
		mdm_counter_add(&f->stats.malformed_total, 1);
		return 0;
	}
	if (pkt.kind == MOLD_KIND_HEARTBEAT)
		mdm_counter_add(&f->stats.heartbeats, 1);
	else if (pkt.kind == MOLD_KIND_END_OF_SESSION)
		mdm_counter_add(&f->stats.end_of_session, 1);
	track_session(f, pkt.session);
	sp.session = pkt.session;
	sp.seq = pkt.seq;
	sp.count = pkt.kind == MOLD_KIND_DATA ? pkt.count : 0;
	sp.line = line;
	sp.end_of_session = pkt.kind == MOLD_KIND_END_OF_SESSION;
	sp.now_ns = now_ns;
	if (seq_on_packet(f->seq, &sp, &v) != 0 || v.n_ranges == 0)
		return 0;
	/* Walk the blocks once, delivering those inside the verdict's ranges. */
	mold_iter_init(&it, &pkt);
	while (r < v.n_ranges && mold_next(&it, &msg, &mlen)) {
		if (idx >= v.range[r].first)
			emitted += deliver(f, msg, mlen, pkt.seq + idx, line, emit, ctx);
		idx++;
		if (idx >= (unsigned)v.range[r].first + v.range[r].count)
			r++;
	}
	return emitted;
}

void feed_reset(struct feed *f)
{
	seq_reset(f->seq);
	symbols_reset(f->symbols);
	book_reset(f->book);
	memset(&f->stats, 0, sizeof(f->stats));
	memset(f->session_raw, 0, sizeof(f->session_raw));
	f->session[0] = '\0';
}

int feed_resume(struct feed *f, const struct feed_resume *r)
{
	uint8_t raw[MOLD_SESSION_LEN];
	uint8_t stock[SYMBOLS_LEN];
	size_t n = strlen(r->session);
	int rc;

	if (n == 0 || n > MOLD_SESSION_LEN)
		return mdm_err_set(-EINVAL, "resume: session '%s' is not 1..%d characters", r->session,
				   MOLD_SESSION_LEN);
	/* MoldUDP64 sessions are space-padded; the sequencer accepts any padding
	 * of the same name on the first packet */
	memset(raw, ' ', sizeof(raw));
	memcpy(raw, r->session, n);
	rc = seq_resume(f->seq, raw, r->join, r->next, r->gap_from, r->gap_to, r->n_gaps, r->now_ns);
	if (rc != 0)
		return mdm_err_set(rc, "resume: sequence %llu..%llu with %u gaps is not consistent",
				   (unsigned long long)r->join, (unsigned long long)r->next, r->n_gaps);
	memcpy(f->session_raw, raw, sizeof(raw));
	memcpy(f->session, r->session, n);
	f->session[n] = '\0';
	for (unsigned i = 0; i < r->n_symbols; i++) {
		memset(stock, ' ', sizeof(stock));
		/* the events' symbol text back to the bytes it stands for; a text
		 * that is not symbols_text() output names no stock */
		if (itch_text_parse(stock, sizeof(stock), r->symbols[i]) > 0)
			symbols_set(f->symbols, r->locates[i], stock);
	}
	/* a warm start: the book and symbol map a checkpoint and replay rebuilt */
	if (r->book && (f->no_book || book_copy(f->book, r->book) != 0))
		return mdm_err_set(-EINVAL, "resume: the rebuilt book does not fit this feed's (feed.book_capacity differs)");
	for (uint32_t l = 0; r->book_symbols && l < 65536; l++) {
		const uint8_t *st = symbols_peek(r->book_symbols, (uint16_t)l);

		if (st)
			symbols_set(f->symbols, (uint16_t)l, st);
	}
	return 0;
}

unsigned feed_poll(struct feed *f, uint64_t now_ns)
{
	return seq_poll(f->seq, now_ns);
}

const struct feed_stats *feed_stats(const struct feed *f) { return &f->stats; }
const struct seq *feed_seq(const struct feed *f) { return f->seq; }
const struct book *feed_book(const struct feed *f) { return f->book; }
const struct symbols *feed_symbols(const struct feed *f) { return f->symbols; }
const char *feed_session(const struct feed *f) { return f->session; }
