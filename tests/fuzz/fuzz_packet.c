/* Fuzz target: the input is one UDP payload, run through the whole pure
 * feed path (mold -> seq -> itch -> symbols -> book) the way the RX loop
 * does. To reach the sequencer's arbitration and gap code with one input,
 * the payload is fed on line A, again on line B (duplicates), then a
 * heartbeat ahead of it (a gap), then once more on the recovery line (the
 * fill). State is reset per input, so every crash reproduces from its file.
 * Invariants of our own code are checked with abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "book.h"
#include "itch.h"
#include "mold.h"
#include "seq.h"
#include "symbols.h"

#define FUZZ_ORDERS 256
#define FUZZ_LEVELS 64

static struct {
	struct seq *seq;
	struct symbols *sym;
	struct book *book;
	uint64_t msgs_seen; /* messages offered to the sequencer since reset */
	uint64_t sink;      /* keeps field reads from being optimised away */
} fz;

static void fuzz_init(void)
{
	struct seq_params sp = { .n_lines = 2, .gap_capacity = 4, .pending_ns = 1000 };
	struct book_params bp = { .order_capacity = FUZZ_ORDERS, .level_capacity = FUZZ_LEVELS };

	if (fz.seq)
		return;
	FUZZ_CHECK(seq_create(&fz.seq, &sp) == 0);
	FUZZ_CHECK(symbols_create(&fz.sym) == 0);
	FUZZ_CHECK(book_create(&fz.book, &bp) == 0);
}

/* What the encoder would read: every field of the decoded message. */
static void fuzz_fields(const struct itch_msg *m)
{
	const struct itch_msg_desc *d = m->desc;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const struct itch_field *f = &d->fields[i];
		size_t n;

		FUZZ_CHECK(f->offset + f->size <= d->length);
		if (f->kind == ITCH_F_ALPHA)
			fz.sink += (uintptr_t)itch_field_alpha(m, f, &n) + n;
		else
			fz.sink += itch_field_uint(m, f);
	}
}

static void fuzz_message(const uint8_t *msg, size_t len)
{
	struct itch_msg m;
	struct book_view v;
	enum itch_status rc = itch_decode(msg, len, &m);
	enum book_status brc;
	const uint8_t *sym;

	FUZZ_CHECK((unsigned)rc < ITCH_STATUS_COUNT);
	if (rc != ITCH_OK)
		return;
	FUZZ_CHECK(m.desc->length == len && m.desc->type == msg[0]);
	fuzz_fields(&m);
	sym = symbols_of(fz.sym, &m);
	FUZZ_CHECK(!sym || symbols_len(sym) > 0);
	brc = book_apply(fz.book, &m, &v);
	FUZZ_CHECK((unsigned)brc < BOOK_STATUS_COUNT);
	sym = symbols_peek(fz.sym, v.locate);
	FUZZ_CHECK(!sym || symbols_len(sym) > 0);
	if (v.flags & BOOK_VIEW_GONE)
		FUZZ_CHECK(v.shares == 0);
	if (v.flags & BOOK_VIEW_KNOWN && !(v.flags & BOOK_VIEW_GONE))
		FUZZ_CHECK(v.shares > 0 && (v.side == 'B' || v.side == 'S'));
	if (v.flags & BOOK_VIEW_KNOWN) {
		struct book_bbo q;

		book_bbo(fz.book, v.locate, &q);
		FUZZ_CHECK(!q.bid_shares == !q.bid_orders && !q.ask_shares == !q.ask_orders);
	}
}

/* One packet on one line; returns the mold status. */
static enum mold_status fuzz_packet(const uint8_t *p, size_t len, uint8_t line, uint64_t now_ns, struct mold_pkt *pkt)
{
	struct seq_verdict v;
	struct seq_pkt sp;
	struct mold_iter it;
	const uint8_t *msg;
	size_t n;
	uint32_t idx = 0, r = 0, delivered = 0;
	enum mold_status rc = mold_parse(p, len, NULL, pkt);

	FUZZ_CHECK((unsigned)rc < MOLD_STATUS_COUNT);
	if (rc != MOLD_OK)
		return rc;
	FUZZ_CHECK(pkt->end <= p + len && pkt->blocks >= p && pkt->trailing_len <= len);
	sp = (struct seq_pkt){
		.session = pkt->session, .seq = pkt->seq, .count = pkt->count, .line = line,
		.end_of_session = pkt->kind == MOLD_KIND_END_OF_SESSION, .now_ns = now_ns,
	};
	FUZZ_CHECK(seq_on_packet(fz.seq, &sp, &v) == 0);
	fz.msgs_seen += pkt->count;
	FUZZ_CHECK(v.n_ranges <= SEQ_VERDICT_RANGES);
	FUZZ_CHECK(v.delivered + v.duplicates + v.deferred <= pkt->count);
	/* Deliver exactly the verdict's ranges, in packet order. */
	mold_iter_init(&it, pkt);
	while (mold_next(&it, &msg, &n)) {
		FUZZ_CHECK(msg >= p && msg + n <= p + len);
		while (r < v.n_ranges && idx >= (uint32_t)v.range[r].first + v.range[r].count)
			r++;
		if (r < v.n_ranges && idx >= v.range[r].first) {
			fuzz_message(msg, n);
			delivered++;
		}
		idx++;
	}
	FUZZ_CHECK(idx == pkt->count && delivered == v.delivered);
	return rc;
}

static void fuzz_check_state(void)
{
	const struct seq_stats *ss = seq_stats(fz.seq);
	const struct book_stats *bs = book_stats(fz.book);
	const struct symbols_stats *ys = symbols_stats(fz.sym);

	FUZZ_CHECK(ss->gap_msgs_missing ==
		   ss->gap_msgs_filled + ss->gap_msgs_evicted + ss->gap_msgs_abandoned + ss->missing_now);
	FUZZ_CHECK(ss->delivered + ss->duplicates + ss->pre_join + ss->deferred <= fz.msgs_seen);
	FUZZ_CHECK(bs->orders <= bs->max_orders && bs->levels <= bs->orders && bs->levels <= FUZZ_LEVELS);
	FUZZ_CHECK(bs->max_probe < FUZZ_ORDERS);
	FUZZ_CHECK(ys->known <= SYMBOLS_LOCATES && ys->known <= ys->set + ys->learned);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct seq_stats *ss;
	struct mold_pkt pkt;
	uint8_t hb[MOLD_HEADER_LEN];

	fuzz_init();
	seq_reset(fz.seq);
	symbols_reset(fz.sym);
	book_reset(fz.book);
	/* Lifetime counters survive the resets: start the budget at their sum. */
	ss = seq_stats(fz.seq);
	fz.msgs_seen = ss->delivered + ss->duplicates + ss->pre_join + ss->deferred;

	if (fuzz_packet(data, size, 0, 0, &pkt) == MOLD_OK) {
		uint64_t ahead = pkt.seq + pkt.count + 3;

		fuzz_packet(data, size, 1, 10, &pkt);
		if (ahead > pkt.seq) {
			memcpy(hb, data, MOLD_HEADER_LEN);
			for (int i = 0; i < 8; i++)
				hb[10 + i] = (uint8_t)(ahead >> (56 - 8 * i));
			hb[18] = hb[19] = 0;
			fuzz_packet(hb, sizeof(hb), 0, 2000, &pkt);
		}
		seq_poll(fz.seq, 5000);
		fuzz_packet(data, size, 2, 6000, &pkt);
	}
	fuzz_check_state();
	return 0;
}
