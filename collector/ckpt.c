/* Book checkpoint encode/decode (layout in ckpt.h). */
#include "ckpt.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "mdm_buf.h"
#include "mdm_err.h"
#include "mdm_sha256.h"

#define LOCATES 65536

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int ckpt_encode(struct ckpt_header *h, const struct book *b, const struct symbols *s,
		const struct ckpt_tstate *tstates, struct mdm_buf *out)
{
	const struct book_stats *bs = book_stats(b);
	uint64_t orders = bs->orders, cursor = 0, n = 0;
	uint32_t nsym = 0, nst = 0;
	size_t body, total;
	struct book_view v;
	uint8_t *p, *q;
	int rc;

	if (strlen(h->feed) > CKPT_FEED_MAX || strlen(h->session) > CKPT_SESSION_MAX)
		return mdm_err_set(-EINVAL, "checkpoint: feed or session name too long");
	for (uint32_t l = 0; l < LOCATES; l++) {
		nsym += symbols_peek(s, (uint16_t)l) != NULL;
		nst += tstates && tstates[l].state != 0;
	}
	body = (size_t)nsym * CKPT_SYMBOL_LEN + (size_t)nst * CKPT_STATE_LEN + (size_t)orders * CKPT_ORDER_LEN;
	total = CKPT_HEADER_LEN + body + CKPT_TRAILER_LEN;
	out->len = 0;
	if (mdm_buf_reserve(out, total) != 0)
		return mdm_err_set(-ENOMEM, "checkpoint: no memory for %zu bytes", total);
	p = (uint8_t *)out->data;
	memset(p, 0, CKPT_HEADER_LEN);
	memcpy(p, CKPT_MAGIC, sizeof(CKPT_MAGIC));
	put32(p + 8, CKPT_VERSION);
	put32(p + 12, CKPT_HEADER_LEN);
	put64(p + 16, body);
	memcpy(p + 24, h->feed, strlen(h->feed));
	memcpy(p + 56, h->session, strlen(h->session));
	put64(p + 72, h->stream_seq);
	put64(p + 80, h->feed_seq);
	put64(p + 88, h->created_ns);
	put64(p + 96, orders);
	put32(p + 104, nsym);
	put32(p + 108, nst);
	put32(p + 112, (uint32_t)bs->capacity);
	q = p + CKPT_HEADER_LEN;
	for (uint32_t l = 0; l < LOCATES; l++) {
		const uint8_t *stock = symbols_peek(s, (uint16_t)l);

		if (!stock)
			continue;
		put16(q, (uint16_t)l);
		memcpy(q + 2, stock, SYMBOLS_LEN);
		q += CKPT_SYMBOL_LEN;
	}
	for (uint32_t l = 0; tstates && l < LOCATES; l++) {
		if (!tstates[l].state)
			continue;
		put16(q, (uint16_t)l);
		q[2] = tstates[l].state;
		memcpy(q + 3, tstates[l].reason, 4);
		q += CKPT_STATE_LEN;
	}
	while (n < orders && book_next_order(b, &cursor, &v)) {
		put64(q, v.ref);
		put32(q + 8, v.shares);
		put32(q + 12, v.price);
		put16(q + 16, v.locate);
		q[18] = v.side;
		q[19] = 0;
		q += CKPT_ORDER_LEN;
		n++;
	}
	if (n != orders)
		return mdm_err_set(-EIO, "checkpoint: the book counts %" PRIu64 " orders but holds %" PRIu64, orders, n);
	rc = mdm_sha256(p, (size_t)(q - p), q);
	if (rc != 0)
		return rc;
	out->len = total;
	h->orders = orders;
	h->symbols = nsym;
	h->states = nst;
	h->book_capacity = (uint32_t)bs->capacity;
	return 0;
}

/* The Add Order an order is restored with (book_apply keeps the level
 * aggregates and lists right; no book internals needed here). */
static enum book_status restore_order(struct book *b, const uint8_t *q)
{
	uint8_t a[ITCH_ADD_ORDER_LEN];
	struct itch_msg m;
	struct book_view v;

	itch_add_order(a, get16(q + 16), get64(q), q[18], get32(q + 8), NULL, get32(q + 12));
	if (itch_decode(a, sizeof(a), &m) != ITCH_OK)
		return BOOK_INVALID;
	return book_apply(b, &m, &v);
}

static int check(const uint8_t *p, size_t len, struct ckpt_header *h)
{
	uint8_t sha[MDM_SHA256_LEN];
	uint64_t body, want;
	uint32_t version, hlen;
	int rc;

	if (len < CKPT_HEADER_LEN + CKPT_TRAILER_LEN)
		return mdm_err_set(-EBADMSG, "checkpoint: truncated: %zu bytes, a header and trailer need %d", len,
				   CKPT_HEADER_LEN + CKPT_TRAILER_LEN);
	if (memcmp(p, CKPT_MAGIC, sizeof(CKPT_MAGIC)) != 0)
		return mdm_err_set(-EBADMSG, "checkpoint: not a book checkpoint (bad magic)");
	version = get32(p + 8);
	hlen = get32(p + 12);
	if (version != CKPT_VERSION)
		return mdm_err_set(-EPROTO, "checkpoint: version %" PRIu32 ", this build reads version %d", version,
				   CKPT_VERSION);
	if (hlen != CKPT_HEADER_LEN)
		return mdm_err_set(-EBADMSG, "checkpoint: header length %" PRIu32 ", version 1 has %d", hlen,
				   CKPT_HEADER_LEN);
	body = get64(p + 16);
	if (body > len || CKPT_HEADER_LEN + body + CKPT_TRAILER_LEN != len)
		return mdm_err_set(-EBADMSG, "checkpoint: %s: %zu bytes, the header says %" PRIu64,
				   body > len || CKPT_HEADER_LEN + body + CKPT_TRAILER_LEN > len ? "truncated"
												: "trailing bytes",
				   len, (uint64_t)CKPT_HEADER_LEN + body + CKPT_TRAILER_LEN);
	memset(h, 0, sizeof(*h));
	h->stream_seq = get64(p + 72);
	h->feed_seq = get64(p + 80);
	h->created_ns = get64(p + 88);
	h->orders = get64(p + 96);
	h->symbols = get32(p + 104);
	h->states = get32(p + 108);
	h->book_capacity = get32(p + 112);
	want = (uint64_t)h->symbols * CKPT_SYMBOL_LEN + (uint64_t)h->states * CKPT_STATE_LEN;
	if (h->orders > body / CKPT_ORDER_LEN || want + h->orders * CKPT_ORDER_LEN != body)
		return mdm_err_set(-EBADMSG, "checkpoint: sections (%" PRIu32 " symbols, %" PRIu32
					     " states, %" PRIu64 " orders) do not fill the body of %" PRIu64 " bytes",
				   h->symbols, h->states, h->orders, body);
	rc = mdm_sha256(p, len - CKPT_TRAILER_LEN, sha);
	if (rc != 0)
		return rc;
	if (memcmp(sha, p + len - CKPT_TRAILER_LEN, sizeof(sha)) != 0)
		return mdm_err_set(-EBADMSG, "checkpoint: checksum mismatch (SHA-256 of the content differs)");
	if (memchr(p + 24, 0, 32) == NULL || memchr(p + 56, 0, 16) == NULL)
		return mdm_err_set(-EBADMSG, "checkpoint: feed or session name not terminated");
	memcpy(h->feed, p + 24, sizeof(h->feed));
	memcpy(h->session, p + 56, sizeof(h->session));
	return 0;
}

int ckpt_decode(const uint8_t *p, size_t len, struct ckpt_header *h, struct book *b, struct symbols *s,
		struct ckpt_tstate *tstates)
{
	const uint8_t *q, *orders;
	int rc = check(p, len, h);

	if (rc != 0)
		return rc;
	q = p + CKPT_HEADER_LEN;
	orders = q + (size_t)h->symbols * CKPT_SYMBOL_LEN + (size_t)h->states * CKPT_STATE_LEN;
	/* content a book refuses, before anything is loaded */
	for (uint64_t i = 0; i < h->orders; i++) {
		const uint8_t *o = orders + i * CKPT_ORDER_LEN;

		if ((o[18] != 'B' && o[18] != 'S') || get32(o + 8) == 0)
			return mdm_err_set(-EBADMSG, "checkpoint: order %" PRIu64 " (ref %" PRIu64
						     "): side 0x%02x, %" PRIu32 " shares",
					   i + 1, get64(o), o[18], get32(o + 8));
	}
	if (b && h->orders > book_stats(b)->max_orders)
		return mdm_err_set(-ENOSPC, "checkpoint: %" PRIu64 " orders, the book takes %" PRIu64
					    " (raise feed.book_capacity)",
				   h->orders, book_stats(b)->max_orders);
	if (!b)
		return 0;
	book_reset(b);
	symbols_reset(s);
	if (tstates)
		memset(tstates, 0, LOCATES * sizeof(*tstates));
	for (uint32_t i = 0; i < h->symbols; i++, q += CKPT_SYMBOL_LEN)
		symbols_set(s, get16(q), q + 2);
	for (uint32_t i = 0; i < h->states; i++, q += CKPT_STATE_LEN) {
		if (tstates) {
			tstates[get16(q)].state = q[2];
			memcpy(tstates[get16(q)].reason, q + 3, 4);
		}
	}
	for (uint64_t i = 0; i < h->orders; i++) {
		enum book_status st = restore_order(b, orders + i * CKPT_ORDER_LEN);

		if (st != BOOK_APPLIED) {
			book_reset(b);
			symbols_reset(s);
			return mdm_err_set(st == BOOK_FULL ? -ENOSPC : -EBADMSG,
					   "checkpoint: order %" PRIu64 " (ref %" PRIu64 ") not restored: %s", i + 1,
					   get64(orders + i * CKPT_ORDER_LEN),
					   st == BOOK_DUP_REF ? "duplicate reference" : st == BOOK_FULL ? "book full"
												    : "invalid");
		}
	}
	return 0;
}
