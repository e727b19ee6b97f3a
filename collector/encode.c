/* ITCH -> MarketEvent encoder. At create time each ITCH field is bound to the
 * protobuf field of the same name (checked for a compatible type), so a table
 * change that the .proto does not follow fails loudly at start-up instead of
 * silently dropping a field. Encoding then writes protobuf wire format
 * directly from that binding: protobuf-c's generic packer walks descriptors
 * and recomputes nested sizes on every call, which cost more than decoding.
 * The output is canonical (fields in number order, proto3 defaults omitted,
 * minimal varints), byte-identical to protobuf_c_message_pack (tested). */
#include "encode.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdmesh/v1/events.pb-c.h"

#define WT_VARINT 0
#define WT_LEN 2

/* One ITCH field bound to its protobuf twin. */
struct bound_field {
	uint8_t wire_off, wire_size, kind;
	uint8_t pb_id;  /* protobuf field number (< 16: one-byte tags) */
	bool pb_string; /* string, else varint (uint32/uint64) */
};

/* One message type: the MarketEvent oneof member and its bound fields. */
struct bound_type {
	uint8_t body_id;   /* MarketEvent field number of the body, 0 = unknown type */
	uint8_t n_fields;
	struct bound_field fields[ITCH_MAX_FIELDS];
};

struct encoder {
	char feed[ENCODE_FEED_MAX + 1];
	uint8_t feed_len;
	struct bound_type types[256]; /* indexed by ITCH type byte */
};

/* ---- wire format ---- */

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint8_t *put_tag(uint8_t *p, unsigned id, unsigned wt)
{
	return put_varint(p, (uint64_t)id << 3 | wt);
}

/* proto3: zero values are not written */
static inline uint8_t *put_u64(uint8_t *p, unsigned id, uint64_t v)
{
	if (v == 0)
		return p;
	p = put_tag(p, id, WT_VARINT);
	return put_varint(p, v);
}

static inline uint8_t *put_bytes(uint8_t *p, unsigned id, const void *s, size_t n)
{
	if (n == 0)
		return p;
	p = put_tag(p, id, WT_LEN);
	p = put_varint(p, n);
	memcpy(p, s, n);
	return p + n;
}

static inline uint8_t *put_str(uint8_t *p, unsigned id, const char *s)
{
	return put_bytes(p, id, s, strlen(s));
}

/* A nested message written into scratch, then framed (tag + length) into p. */
static inline uint8_t *put_sub(uint8_t *p, unsigned id, const uint8_t *sub, size_t n, bool always)
{
	if (n == 0 && !always)
		return p;
	p = put_tag(p, id, WT_LEN);
	p = put_varint(p, n);
	memcpy(p, sub, n);
	return p + n;
}

/* An ITCH alpha without its right padding, as text (itch_text: a protobuf
 * string must be UTF-8): the bytes themselves unless one needs escaping. */
static inline uint8_t *put_alpha(uint8_t *p, unsigned id, const uint8_t *s, unsigned size)
{
	char text[ITCH_TEXT_MAX(ITCH_MAX_MSG_LEN) + 1];
	unsigned n = size;

	while (n > 0 && s[n - 1] == ' ')
		n--;
	for (unsigned i = 0; i < n; i++)
		if (__builtin_expect(!itch_text_plain(s[i]), 0))
			return put_bytes(p, id, text, itch_text(text, s, n));
	return put_bytes(p, id, s, n);
}

/* ---- binding ---- */

static int bind_type(struct encoder *e, const struct itch_msg_desc *d)
{
	const ProtobufCMessageDescriptor *evd = &mdmesh__v1__market_event__descriptor;
	const ProtobufCFieldDescriptor *of = protobuf_c_message_descriptor_get_field_by_name(evd, d->name);
	struct bound_type *bt = &e->types[d->type];
	const ProtobufCMessageDescriptor *bd;

	if (!of || of->type != PROTOBUF_C_TYPE_MESSAGE || !(of->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || of->id > 127)
		return mdm_err_set(-EINVAL, "encode: MarketEvent has no oneof body '%s' for ITCH type '%c'",
				   d->name, d->type);
	bd = of->descriptor;
	bt->body_id = (uint8_t)of->id;
	bt->n_fields = d->n_fields;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const struct itch_field *f = &d->fields[i];
		const ProtobufCFieldDescriptor *pf = protobuf_c_message_descriptor_get_field_by_name(bd, f->name);
		struct bound_field *b = &bt->fields[i];
		ProtobufCType want = f->kind == ITCH_F_ALPHA ? PROTOBUF_C_TYPE_STRING
				     : f->size == 8	      ? PROTOBUF_C_TYPE_UINT64
							      : PROTOBUF_C_TYPE_UINT32;

		if (!pf || pf->type != want || pf->label != PROTOBUF_C_LABEL_NONE || pf->id > 15)
			return mdm_err_set(-EINVAL, "encode: %s.%s missing or of the wrong type in events.proto",
					   bd->short_name, f->name);
		/* canonical output writes fields in number order: the table must follow it */
		if (i > 0 && pf->id <= bt->fields[i - 1].pb_id)
			return mdm_err_set(-EINVAL, "encode: %s.%s: proto field numbers must follow the ITCH order",
					   bd->short_name, f->name);
		b->wire_off = f->offset;
		b->wire_size = f->size;
		b->kind = f->kind;
		b->pb_id = (uint8_t)pf->id;
		b->pb_string = want == PROTOBUF_C_TYPE_STRING;
	}
	return 0;
}

void encode_destroy(struct encoder *e)
{
	mdm_free(e);
}

int encode_create(struct encoder **out, const char *feed)
{
	struct encoder *e;
	size_t flen = feed ? strlen(feed) : 0;
	int rc;

	if (flen == 0 || flen > ENCODE_FEED_MAX)
		return mdm_err_set(-EINVAL, "encode: feed name must be 1..%d characters", ENCODE_FEED_MAX);
	e = mdm_calloc(1, sizeof(*e));
	if (!e)
		return mdm_err_set(-ENOMEM, "encode: out of memory");
	memcpy(e->feed, feed, flen);
	e->feed_len = (uint8_t)flen;
	for (unsigned i = 0; i < ITCH_MSG_TYPES; i++) {
		rc = bind_type(e, itch_desc_at(i));
		if (rc != 0) {
			encode_destroy(e);
			return rc;
		}
	}
	*out = e;
	return 0;
}

/* ---- encoding ---- */

/* EventHeader fields, in number order (events.proto). */
struct header_fields {
	const char *session, *symbol;
	uint64_t seq, exchange_ts_ns, rx_ts_ns, pub_ts_ns, wire_ts_ns;
	uint32_t stock_locate, tracking_number, session_date;
	char type; /* 0: none (a market view) */
};

static uint8_t *put_header_fields(const struct encoder *e, uint8_t *p, const struct header_fields *h)
{
	p = put_bytes(p, 1, e->feed, e->feed_len);
	p = put_str(p, 2, h->session);
	p = put_u64(p, 3, h->seq);
	p = put_u64(p, 4, h->stock_locate);
	p = put_u64(p, 5, h->tracking_number);
	p = put_bytes(p, 6, h->symbol, h->symbol ? strnlen(h->symbol, SYMBOLS_TEXT_MAX) : 0);
	p = put_u64(p, 7, h->exchange_ts_ns);
	p = put_u64(p, 8, h->rx_ts_ns);
	p = put_u64(p, 9, h->pub_ts_ns);
	p = put_bytes(p, 10, &h->type, h->type ? 1 : 0);
	p = put_u64(p, 11, h->wire_ts_ns);
	p = put_u64(p, 12, h->session_date);
	return p;
}

static uint8_t *put_header(const struct encoder *e, uint8_t *p, const struct itch_msg *m,
			   const struct encode_meta *meta)
{
	struct header_fields h = { .session = meta->session, .symbol = meta->symbol, .seq = meta->seq,
				   .exchange_ts_ns = m->timestamp_ns, .rx_ts_ns = meta->rx_ts_ns,
				   .pub_ts_ns = meta->pub_ts_ns, .wire_ts_ns = meta->wire_ts_ns,
				   .stock_locate = m->stock_locate, .tracking_number = m->tracking_number,
				   .session_date = meta->session_date, .type = (char)m->type };

	return put_header_fields(e, p, &h);
}

/* OrderState fields, in number order. */
static uint8_t *put_order(uint8_t *p, const struct encode_order *o)
{
	char side = o->side;

	p = put_u64(p, 1, o->known);
	p = put_bytes(p, 2, &side, side ? 1 : 0);
	p = put_u64(p, 3, o->price);
	p = put_u64(p, 4, o->remaining_shares);
	p = put_u64(p, 5, o->ref);
	return p;
}

/* Bbo fields 2..7 of quote_before (no header, no flags), in number order. */
static uint8_t *put_quote(uint8_t *p, const struct book_bbo *q)
{
	p = put_u64(p, 2, q->bid_price);
	p = put_u64(p, 3, q->bid_shares);
	p = put_u64(p, 4, q->bid_orders);
	p = put_u64(p, 5, q->ask_price);
	p = put_u64(p, 6, q->ask_shares);
	p = put_u64(p, 7, q->ask_orders);
	return p;
}

int encode_event(struct encoder *e, const struct itch_msg *m, const struct encode_meta *meta, uint8_t *buf,
		 size_t cap, size_t *len)
{
	const struct bound_type *bt = &e->types[m->type];
	uint8_t tmp[ENCODE_MAX_EVENT_LEN], sub[256], *p = cap >= ENCODE_MAX_EVENT_LEN ? buf : tmp, *q, *start = p;

	if (!bt->body_id)
		return -EINVAL; /* not a decoded message: itch_decode rejects unknown types */
	/* 1: header (always present, even if every field were zero) */
	q = put_header(e, sub, m, meta);
	p = put_sub(p, 1, sub, (size_t)(q - sub), true);
	/* 2: order state, for order-scoped messages */
	if (meta->order) {
		q = put_order(sub, meta->order);
		p = put_sub(p, 2, sub, (size_t)(q - sub), true);
	}
	/* 3: the quote before a trade (an empty book is an empty Bbo, still set) */
	if (meta->quote) {
		q = put_quote(sub, meta->quote);
		p = put_sub(p, 3, sub, (size_t)(q - sub), true);
	}
	/* 10..32: the body; a set oneof member is written even when empty */
	q = sub;
	for (unsigned i = 0; i < bt->n_fields; i++) {
		const struct bound_field *b = &bt->fields[i];
		const uint8_t *src = m->p + b->wire_off;

		if (b->pb_string)
			q = put_alpha(q, b->pb_id, src, b->wire_size);
		else
			q = put_u64(q, b->pb_id, itch_be(src, b->wire_size));
	}
	p = put_sub(p, bt->body_id, sub, (size_t)(q - sub), true);
	*len = (size_t)(p - start);
	if (start == tmp) {
		if (*len > cap)
			return -ENOSPC;
		memcpy(buf, tmp, *len);
	}
	return 0;
}

void encode_meta_from_feed(struct encode_meta *meta, struct encode_order *eo, char symbol[SYMBOLS_TEXT_MAX + 1],
			   const struct feed_msg *fm)
{
	memset(meta, 0, sizeof(*meta));
	meta->session = fm->session;
	meta->seq = fm->seq;
	symbols_text(symbol, fm->stock);
	meta->symbol = symbol;
	meta->quote = fm->quote;
	if (fm->order) {
		encode_order_from_view(eo, fm->order);
		meta->order = eo;
	}
}

/* ---- market views (Bbo, Depth) ---- */

static uint8_t *put_view_header(const struct encoder *e, uint8_t *p, const struct encode_view *v)
{
	struct header_fields h = { .session = v->session, .symbol = v->symbol, .seq = v->seq,
				   .exchange_ts_ns = v->exchange_ts_ns, .rx_ts_ns = v->rx_ts_ns,
				   .pub_ts_ns = v->pub_ts_ns, .stock_locate = v->stock_locate,
				   .session_date = v->session_date };
	uint8_t sub[256], *q = put_header_fields(e, sub, &h);

	return put_sub(p, 1, sub, (size_t)(q - sub), true);
}

int encode_bbo(struct encoder *e, const struct encode_view *v, const struct book_bbo *q, uint8_t *buf, size_t cap,
	       size_t *len)
{
	uint8_t tmp[ENCODE_MAX_EVENT_LEN], *p = cap >= ENCODE_MAX_EVENT_LEN ? buf : tmp, *start = p;

	p = put_view_header(e, p, v);
	p = put_quote(p, q);
	p = put_u64(p, 8, v->flags);
	*len = (size_t)(p - start);
	if (start == tmp) {
		if (*len > cap)
			return -ENOSPC;
		memcpy(buf, tmp, *len);
	}
	return 0;
}

/* Levels as repeated field `id`: each one framed, even an all-zero one. */
static uint8_t *put_levels(uint8_t *p, unsigned id, const struct book_level_info *l, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t sub[32], *q = sub;

		q = put_u64(q, 1, l[i].price);
		q = put_u64(q, 2, l[i].shares);
		q = put_u64(q, 3, l[i].orders);
		p = put_sub(p, id, sub, (size_t)(q - sub), true);
	}
	return p;
}

int encode_depth(struct encoder *e, const struct encode_view *v, const struct book_level_info *bids, unsigned n_bids,
		 const struct book_level_info *asks, unsigned n_asks, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t *p = buf;

	/* a level takes at most 2 + 23 bytes, the header 2 + 256 */
	if (cap < 300 + 25ull * (n_bids + n_asks))
		return -ENOSPC;
	p = put_view_header(e, p, v);
	p = put_levels(p, 2, bids, n_bids);
	p = put_levels(p, 3, asks, n_asks);
	p = put_u64(p, 4, v->flags);
	*len = (size_t)(p - buf);
	return 0;
}

/* ---- reading a view back -------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

bool encode_view_read(const uint8_t *data, size_t len, bool bbo, struct encode_view_read *out)
{
	const Mdmesh__V1__EventHeader *h;

	memset(&out->o, 0, sizeof(out->o));
	if (bbo) {
		Mdmesh__V1__Bbo *m = mdmesh__v1__bbo__unpack(NULL, len, data);

		if (!m || !m->header) {
			if (m)
				mdmesh__v1__bbo__free_unpacked(m, NULL);
			return false;
		}
		h = m->header;
		out->o = (struct views_out){ .kind = VIEWS_BBO, .locate = (uint16_t)h->stock_locate, .flags = (uint8_t)m->flags,
					     .seq = h->seq, .ts_ns = h->exchange_ts_ns,
					     .bbo = { .bid_price = m->bid_price, .bid_shares = m->bid_size, .bid_orders = m->bid_orders,
						      .ask_price = m->ask_price, .ask_shares = m->ask_size, .ask_orders = m->ask_orders } };
		copy_str(out->symbol, sizeof(out->symbol), h->symbol);
		copy_str(out->session, sizeof(out->session), h->session);
		mdmesh__v1__bbo__free_unpacked(m, NULL);
		return true;
	}
	{
		Mdmesh__V1__Depth *m = mdmesh__v1__depth__unpack(NULL, len, data);
		size_t nb, na;

		if (!m || !m->header) {
			if (m)
				mdmesh__v1__depth__free_unpacked(m, NULL);
			return false;
		}
		h = m->header;
		nb = m->n_bids < VIEWS_MAX_LEVELS ? m->n_bids : VIEWS_MAX_LEVELS;
		na = m->n_asks < VIEWS_MAX_LEVELS ? m->n_asks : VIEWS_MAX_LEVELS;
		for (size_t i = 0; i < nb + na; i++) {
			const Mdmesh__V1__Level *l = i < nb ? m->bids[i] : m->asks[i - nb];

			out->lv[i] = (struct book_level_info){ .price = l->price, .orders = l->orders, .shares = l->size };
		}
		out->o = (struct views_out){ .kind = VIEWS_DEPTH, .locate = (uint16_t)h->stock_locate,
					     .flags = (uint8_t)m->flags, .seq = h->seq, .ts_ns = h->exchange_ts_ns,
					     .n_bids = (unsigned)nb, .n_asks = (unsigned)na, .bids = out->lv, .asks = out->lv + nb };
		copy_str(out->symbol, sizeof(out->symbol), h->symbol);
		copy_str(out->session, sizeof(out->session), h->session);
		mdmesh__v1__depth__free_unpacked(m, NULL);
		return true;
	}
}
