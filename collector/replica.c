/* MarketEvent -> ITCH message -> book, symbols, trading states (replica.h).
 * The protobuf body of each ITCH type is found by name at create time, as
 * encode.c binds it the other way. */
#include "replica.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "itch.h"
#include "mdm_buf.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdmesh/v1/events.pb-c.h"

#define LOCATES 65536

/* One ITCH field's protobuf twin in the body message. */
struct rfield {
	const struct itch_field *f;
	unsigned pb_offset; /* in the body struct */
	bool string;
};

struct rtype {
	const struct itch_msg_desc *d;
	unsigned body_offset; /* of the body pointer in MarketEvent */
	unsigned n;
	struct rfield fields[ITCH_MAX_FIELDS];
};

struct replica {
	char feed[CKPT_FEED_MAX + 1];
	char session[CKPT_SESSION_MAX + 1];
	struct book *book;
	struct symbols *symbols;
	struct ckpt_tstate *tstates; /* LOCATES */
	struct replica_stats stats;
	struct rtype types[256];     /* by body case (MarketEvent field number) */
};

static int bind(struct replica *r)
{
	const ProtobufCMessageDescriptor *evd = &mdmesh__v1__market_event__descriptor;

	for (unsigned i = 0; i < ITCH_MSG_TYPES; i++) {
		const struct itch_msg_desc *d = itch_desc_at(i);
		const ProtobufCFieldDescriptor *of = protobuf_c_message_descriptor_get_field_by_name(evd, d->name);
		struct rtype *t;

		if (!of || of->type != PROTOBUF_C_TYPE_MESSAGE || of->id > 255)
			return mdm_err_set(-EINVAL, "replica: MarketEvent has no body '%s'", d->name);
		t = &r->types[of->id];
		t->d = d;
		t->body_offset = of->offset;
		t->n = d->n_fields;
		for (unsigned k = 0; k < d->n_fields; k++) {
			const ProtobufCFieldDescriptor *pf =
				protobuf_c_message_descriptor_get_field_by_name(of->descriptor, d->fields[k].name);

			if (!pf)
				return mdm_err_set(-EINVAL, "replica: %s.%s missing in events.proto", d->name,
						   d->fields[k].name);
			t->fields[k] = (struct rfield){ .f = &d->fields[k], .pb_offset = pf->offset,
							.string = pf->type == PROTOBUF_C_TYPE_STRING };
		}
	}
	return 0;
}

int replica_create(struct replica **out, const char *feed, uint32_t book_capacity)
{
	struct book_params bp = { .order_capacity = book_capacity };
	struct replica *r;
	int rc;

	*out = NULL;
	if (!feed || strlen(feed) > CKPT_FEED_MAX)
		return mdm_err_set(-EINVAL, "replica: feed name too long");
	r = mdm_calloc(1, sizeof(*r));
	if (!r)
		return mdm_err_set(-ENOMEM, "replica: out of memory");
	snprintf(r->feed, sizeof(r->feed), "%s", feed);
	rc = book_create(&r->book, &bp);
	if (rc == 0)
		rc = symbols_create(&r->symbols);
	if (rc == 0) {
		r->tstates = mdm_calloc(LOCATES, sizeof(*r->tstates));
		rc = r->tstates ? bind(r) : -ENOMEM;
	}
	if (rc != 0) {
		replica_destroy(r);
		return rc == -ENOMEM ? mdm_err_set(rc, "replica: out of memory for the book") : rc;
	}
	*out = r;
	return 0;
}

void replica_destroy(struct replica *r)
{
	if (!r)
		return;
	book_destroy(r->book);
	symbols_destroy(r->symbols);
	mdm_free(r->tstates);
	mdm_free(r);
}

static void reset(struct replica *r, const char *session)
{
	book_reset(r->book);
	symbols_reset(r->symbols);
	memset(r->tstates, 0, LOCATES * sizeof(*r->tstates));
	snprintf(r->session, sizeof(r->session), "%s", session);
	r->stats.feed_seq = 0;
}

/* The ITCH bytes of event `ev` into p (its type's length); false when the
 * event has no known body or a field does not fit. */
static bool rebuild(const struct replica *r, const Mdmesh__V1__MarketEvent *ev, uint8_t *p)
{
	const struct rtype *t = ev->body_case > 0 && ev->body_case < 256 ? &r->types[ev->body_case] : NULL;
	const uint8_t *body;
	const Mdmesh__V1__EventHeader *h = ev->header;

	if (!t || !t->d || !h)
		return false;
	body = *(const uint8_t *const *)((const uint8_t *)ev + t->body_offset);
	if (!body)
		return false;
	memset(p, ' ', t->d->length);
	p[0] = t->d->type;
	p[1] = (uint8_t)(h->stock_locate >> 8);
	p[2] = (uint8_t)h->stock_locate;
	p[3] = (uint8_t)(h->tracking_number >> 8);
	p[4] = (uint8_t)h->tracking_number;
	memset(p + 5, 0, 6); /* the book needs no timestamp */
	for (unsigned k = 0; k < t->n; k++) {
		const struct rfield *rf = &t->fields[k];
		const uint8_t *src = body + rf->pb_offset;

		if (rf->string) {
			const char *s = *(const char *const *)src;

			if (s && *s && itch_text_parse(p + rf->f->offset, rf->f->size, s) < 0)
				return false;
		} else {
			uint64_t v = rf->f->size == 8 ? *(const uint64_t *)src : *(const uint32_t *)src;

			for (unsigned i = 0; i < rf->f->size; i++)
				p[rf->f->offset + i] = (uint8_t)(v >> (8 * (rf->f->size - 1 - i)));
		}
	}
	return true;
}

static void apply_event(struct replica *r, const Mdmesh__V1__MarketEvent *ev)
{
	const Mdmesh__V1__EventHeader *h = ev->header;
	uint8_t p[ITCH_MAX_MSG_LEN];
	struct itch_msg m;
	struct book_view v;

	if (!h || !h->feed || strcmp(h->feed, r->feed) != 0 || !h->session || !rebuild(r, ev, p) ||
	    itch_decode(p, itch_desc(p[0])->length, &m) != ITCH_OK) {
		mdm_counter_add(&r->stats.other, 1);
		return;
	}
	if (strcmp(h->session, r->session) != 0) {
		if (r->session[0])
			mdm_counter_add(&r->stats.sessions, 1);
		reset(r, h->session);
	}
	/* as feed.c's deliver(): the symbol map first, then the book */
	(void)symbols_of(r->symbols, &m);
	(void)book_apply(r->book, &m, &v);
	if (m.type == 'H') {
		r->tstates[m.stock_locate].state = p[19];
		memcpy(r->tstates[m.stock_locate].reason, p + 21, 4);
	}
	if (h->seq > r->stats.feed_seq)
		r->stats.feed_seq = h->seq;
	mdm_counter_add(&r->stats.events, 1);
}

int replica_apply(struct replica *r, const void *data, size_t len, bool batch, uint64_t stream_seq)
{
	if (batch) {
		Mdmesh__V1__EventBatch *b = mdmesh__v1__event_batch__unpack(NULL, len, data);

		if (!b) {
			mdm_counter_add(&r->stats.other, 1);
			return -EBADMSG;
		}
		for (size_t i = 0; i < b->n_events; i++)
			apply_event(r, b->events[i]);
		mdmesh__v1__event_batch__free_unpacked(b, NULL);
	} else {
		Mdmesh__V1__MarketEvent *ev = mdmesh__v1__market_event__unpack(NULL, len, data);

		if (!ev) {
			mdm_counter_add(&r->stats.other, 1);
			return -EBADMSG;
		}
		apply_event(r, ev);
		mdmesh__v1__market_event__free_unpacked(ev, NULL);
	}
	mdm_counter_set(&r->stats.stream_seq, stream_seq);
	return 0;
}

void replica_reset(struct replica *r)
{
	reset(r, "");
}

void replica_seed_symbol(struct replica *r, uint16_t locate, const char *text)
{
	uint8_t stock[SYMBOLS_LEN];

	memset(stock, ' ', sizeof(stock));
	if (itch_text_parse(stock, sizeof(stock), text) > 0)
		symbols_set(r->symbols, locate, stock);
}

int replica_encode(struct replica *r, uint64_t now_ns, struct mdm_buf *out, struct ckpt_header *hout)
{
	struct ckpt_header h = { 0 };
	int rc;

	snprintf(h.feed, sizeof(h.feed), "%s", r->feed);
	snprintf(h.session, sizeof(h.session), "%s", r->session);
	h.stream_seq = r->stats.stream_seq;
	h.feed_seq = r->stats.feed_seq;
	h.created_ns = now_ns;
	rc = ckpt_encode(&h, r->book, r->symbols, r->tstates, out);
	if (rc == 0 && hout)
		*hout = h;
	return rc;
}

int replica_load(struct replica *r, const uint8_t *p, size_t len, struct ckpt_header *h)
{
	int rc = ckpt_decode(p, len, h, r->book, r->symbols, r->tstates);

	if (rc != 0) {
		reset(r, "");
		return rc;
	}
	snprintf(r->session, sizeof(r->session), "%s", h->session);
	mdm_counter_set(&r->stats.stream_seq, h->stream_seq);
	r->stats.feed_seq = h->feed_seq;
	return 0;
}

const struct book *replica_book(const struct replica *r)
{
	return r->book;
}

const struct symbols *replica_symbols(const struct replica *r)
{
	return r->symbols;
}

const char *replica_session(const struct replica *r)
{
	return r->session;
}

const struct replica_stats *replica_stats(const struct replica *r)
{
	return &r->stats;
}
