/* ITCH -> MarketEvent encoder. At create time each ITCH field is bound to the
 * protobuf field of the same name (checked for a compatible type), so a table
 * change that the .proto does not follow fails loudly at start-up instead of
 * silently dropping a field. */
#include "encode.h"

#include <errno.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdmesh/v1/events.pb-c.h"

#define ALPHA_MAX 8 /* longest ITCH alpha field (stock) */

/* One ITCH field bound to its protobuf twin. */
struct bound_field {
	uint8_t wire_off, wire_size, kind;
	uint16_t pb_off;               /* offset inside the body message */
	uint8_t pb_type;               /* ProtobufCType */
	char text[ALPHA_MAX + 1];      /* backing store for string fields */
};

/* One message type: its body message (allocated once) and bound fields. */
struct bound_type {
	ProtobufCMessage *body;
	uint32_t body_case;            /* MarketEvent oneof case = protobuf field id */
	uint16_t ev_off;               /* offset of the body pointer in MarketEvent */
	uint8_t n_fields;
	struct bound_field fields[ITCH_MAX_FIELDS];
};

struct encoder {
	Mdmesh__V1__MarketEvent ev;
	Mdmesh__V1__EventHeader hdr;
	Mdmesh__V1__OrderState order;
	char feed[ENCODE_FEED_MAX + 1];
	char symbol[ALPHA_MAX + 1];
	char type[2];
	char side[2];
	struct bound_type types[256];  /* indexed by ITCH type byte; body NULL = unknown */
};

static int bind_type(struct encoder *e, const struct itch_msg_desc *d)
{
	const ProtobufCMessageDescriptor *evd = &mdmesh__v1__market_event__descriptor;
	const ProtobufCFieldDescriptor *of = protobuf_c_message_descriptor_get_field_by_name(evd, d->name);
	struct bound_type *bt = &e->types[d->type];
	const ProtobufCMessageDescriptor *bd;

	if (!of || of->type != PROTOBUF_C_TYPE_MESSAGE || !(of->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
		return mdm_err_set(-EINVAL, "encode: MarketEvent has no oneof body '%s' for ITCH type '%c'",
				   d->name, d->type);
	bd = of->descriptor;
	bt->body = mdm_calloc(1, bd->sizeof_message);
	if (!bt->body)
		return -ENOMEM;
	bd->message_init(bt->body);
	bt->body_case = of->id;
	bt->ev_off = (uint16_t)of->offset;
	bt->n_fields = d->n_fields;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const struct itch_field *f = &d->fields[i];
		const ProtobufCFieldDescriptor *pf = protobuf_c_message_descriptor_get_field_by_name(bd, f->name);
		struct bound_field *b = &bt->fields[i];
		ProtobufCType want = f->kind == ITCH_F_ALPHA ? PROTOBUF_C_TYPE_STRING
				     : f->size == 8	      ? PROTOBUF_C_TYPE_UINT64
							      : PROTOBUF_C_TYPE_UINT32;

		if (!pf || pf->type != want || (f->kind == ITCH_F_ALPHA && f->size > ALPHA_MAX))
			return mdm_err_set(-EINVAL, "encode: %s.%s missing or of the wrong type in events.proto",
					   bd->short_name, f->name);
		b->wire_off = f->offset;
		b->wire_size = f->size;
		b->kind = f->kind;
		b->pb_off = (uint16_t)pf->offset;
		b->pb_type = (uint8_t)pf->type;
		if (want == PROTOBUF_C_TYPE_STRING)
			*(char **)((char *)bt->body + pf->offset) = b->text;
	}
	return 0;
}

void encode_destroy(struct encoder *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < 256; i++)
		mdm_free(e->types[i].body);
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
		return -ENOMEM;
	memcpy(e->feed, feed, flen);
	mdmesh__v1__market_event__init(&e->ev);
	mdmesh__v1__event_header__init(&e->hdr);
	mdmesh__v1__order_state__init(&e->order);
	e->ev.header = &e->hdr;
	e->hdr.feed = e->feed;
	e->hdr.symbol = e->symbol;
	e->hdr.type = e->type;
	e->order.buy_sell_indicator = e->side;
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

/* Copy an ITCH alpha (space padded) into a NUL-terminated field buffer. */
static inline void set_alpha(char *dst, const uint8_t *src, unsigned size)
{
	unsigned n = size;

	while (n > 0 && src[n - 1] == ' ')
		n--;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static inline void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

int encode_event(struct encoder *e, const struct itch_msg *m, const struct encode_meta *meta, uint8_t *buf,
		 size_t cap, size_t *len)
{
	struct bound_type *bt = &e->types[m->type];
	char *body = (char *)bt->body;
	size_t n;

	if (!body)
		return -EINVAL; /* not a decoded message: itch_decode rejects unknown types */

	/* Header */
	e->hdr.session = (char *)meta->session;
	e->hdr.seq = meta->seq;
	e->hdr.stock_locate = m->stock_locate;
	e->hdr.tracking_number = m->tracking_number;
	copy_str(e->symbol, sizeof(e->symbol), meta->symbol ? meta->symbol : "");
	e->hdr.exchange_ts_ns = m->timestamp_ns;
	e->hdr.rx_ts_ns = meta->rx_ts_ns;
	e->hdr.pub_ts_ns = meta->pub_ts_ns;
	e->hdr.wire_ts_ns = meta->wire_ts_ns;
	e->hdr.session_date = meta->session_date;
	e->type[0] = (char)m->type;

	/* Body: oneof members share one union slot, so setting this type's pointer
	 * replaces the previous event's. */
	e->ev.body_case = (Mdmesh__V1__MarketEvent__BodyCase)bt->body_case;
	*(void **)((char *)&e->ev + bt->ev_off) = body;
	for (unsigned i = 0; i < bt->n_fields; i++) {
		const struct bound_field *b = &bt->fields[i];
		const uint8_t *src = m->p + b->wire_off;

		if (b->pb_type == PROTOBUF_C_TYPE_STRING)
			set_alpha((char *)b->text, src, b->wire_size);
		else if (b->pb_type == PROTOBUF_C_TYPE_UINT64)
			*(uint64_t *)(body + b->pb_off) = itch_be(src, b->wire_size);
		else
			*(uint32_t *)(body + b->pb_off) = (uint32_t)itch_be(src, b->wire_size);
	}

	/* Order state for order-scoped messages. */
	if (meta->order) {
		e->order.known = meta->order->known;
		e->side[0] = meta->order->side;
		e->side[1] = '\0';
		e->order.price = meta->order->price;
		e->order.remaining_shares = meta->order->remaining_shares;
		e->order.order_reference_number = meta->order->ref;
		e->ev.order = &e->order;
	} else {
		e->ev.order = NULL;
	}

	if (cap < ENCODE_MAX_EVENT_LEN && protobuf_c_message_get_packed_size(&e->ev.base) > cap)
		return -ENOSPC;
	n = protobuf_c_message_pack(&e->ev.base, buf);
	*len = n;
	return 0;
}

const void *encode_last_event(const struct encoder *e)
{
	return &e->ev;
}
