/* ITCH 5.0 decoder: every table here is generated from common/itch_msgs.def by
 * X-macros, so a message type exists in exactly one place. Decoding is one
 * array lookup by type byte, one length compare and three header loads. */
#include "itch.h"

#include <string.h>

#define ITCH_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Dense indexes are mdm_itch.h's MDM_ITCH_<name> (.def order): desc->index
 * and the itch_descs[] position. */

/* One field array per type. F expands inside the ITCH_MSG arguments. */
#define F(field, offset, size, kind) { #field, offset, size, ITCH_F_##kind }
#define ITCH_MSG(type, name, length, ...) \
	static const struct itch_field itch_fields_##name[] = { __VA_ARGS__ };
#include "itch_msgs.def"
#undef ITCH_MSG

#define ITCH_NFIELDS(name) (sizeof(itch_fields_##name) / sizeof(itch_fields_##name[0]))

/* Limits the header promises to includers (buffer sizes, per-type arrays). */
#define ITCH_MSG(type, name, length, ...) \
	_Static_assert(ITCH_NFIELDS(name) <= ITCH_MAX_FIELDS, #name " has more than ITCH_MAX_FIELDS fields"); \
	_Static_assert((length) > ITCH_HEADER_LEN && (length) <= ITCH_MAX_MSG_LEN, #name " length out of range");
#include "itch_msgs.def"
#undef ITCH_MSG

static const struct itch_msg_desc itch_descs[ITCH_MSG_TYPES] = {
#define ITCH_MSG(type_, name_, length_, ...)                          \
	[MDM_ITCH_##name_] = { .type = (type_), .length = (length_), \
			       .n_fields = ITCH_NFIELDS(name_),        \
			       .index = MDM_ITCH_##name_, .name = #name_, \
			       .fields = itch_fields_##name_ },
#include "itch_msgs.def"
#undef ITCH_MSG
};

/* The decoder's only lookup: NULL for every byte the .def does not list. */
static const struct itch_msg_desc *const itch_by_type[256] = {
#define ITCH_MSG(type_, name_, ...) [(uint8_t)(type_)] = &itch_descs[MDM_ITCH_##name_],
#include "itch_msgs.def"
#undef ITCH_MSG
};
#undef F

const struct itch_msg_desc *itch_desc(uint8_t type)
{
	return itch_by_type[type];
}

const struct itch_msg_desc *itch_desc_at(unsigned index)
{
	return index < ITCH_MSG_TYPES ? &itch_descs[index] : NULL;
}

const struct itch_field *itch_field_find(const struct itch_msg_desc *desc, const char *name)
{
	if (!desc || !name)
		return NULL;
	for (unsigned i = 0; i < desc->n_fields; i++)
		if (strcmp(desc->fields[i].name, name) == 0)
			return &desc->fields[i];
	return NULL;
}

enum itch_status itch_decode(const uint8_t *p, size_t len, struct itch_msg *out)
{
	const struct itch_msg_desc *d;

	if (ITCH_UNLIKELY(len == 0))
		return ITCH_ERR_EMPTY;
	d = itch_by_type[p[0]];
	if (ITCH_UNLIKELY(!d))
		return ITCH_ERR_UNKNOWN_TYPE;
	/* Exact match, not ">=": a longer frame means the sender and we disagree
	 * on the layout, and reading its fields at our offsets would be wrong. */
	if (ITCH_UNLIKELY(len != d->length))
		return ITCH_ERR_LENGTH;
	out->p = p;
	out->desc = d;
	out->type = p[0];
	out->stock_locate = itch_be16(p + 1);
	out->tracking_number = itch_be16(p + 3);
	out->timestamp_ns = itch_be48(p + 5);
	return ITCH_OK;
}

static const struct {
	const char *name, *text;
} itch_statuses[ITCH_STATUS_COUNT] = {
#define ITCH_ROW(id, name, text) [id] = { name, text },
	ITCH_STATUSES(ITCH_ROW)
#undef ITCH_ROW
};

const char *itch_status_name(enum itch_status status)
{
	return (unsigned)status < ITCH_STATUS_COUNT ? itch_statuses[status].name : "unknown";
}

const char *itch_status_str(enum itch_status status)
{
	return (unsigned)status < ITCH_STATUS_COUNT ? itch_statuses[status].text : "unknown status";
}

static void put_be(uint8_t *p, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * (size - 1 - i)));
}

void itch_add_order(uint8_t *out, uint16_t locate, uint64_t ref, uint8_t side, uint32_t shares, const uint8_t *stock,
		    uint32_t price)
{
	memset(out, 0, ITCH_ADD_ORDER_LEN);
	out[0] = 'A';
	put_be(out + 1, 2, locate);
	put_be(out + 11, 8, ref);
	out[19] = side;
	put_be(out + 20, 4, shares);
	if (stock)
		memcpy(out + 24, stock, 8);
	else
		memset(out + 24, ' ', 8);
	put_be(out + 32, 4, price);
}

size_t itch_text(char *out, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if (ITCH_UNLIKELY(!itch_text_plain(c))) {
			out[k++] = '\\';
			out[k++] = 'x';
			out[k++] = hex[c >> 4];
			c = (uint8_t)hex[c & 15];
		}
		out[k++] = (char)c;
	}
	out[k] = '\0';
	return k;
}

static int itch_hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int itch_text_parse(uint8_t *out, size_t cap, const char *text)
{
	size_t n = 0;

	for (const char *t = text; *t; n++) {
		int hi, lo;

		if (n == cap)
			return -1;
		if (*t != '\\') {
			if (!itch_text_plain((uint8_t)*t))
				return -1;
			out[n] = (uint8_t)*t++;
			continue;
		}
		/* only the canonical form: a byte that stands for itself is never escaped */
		if (t[1] != 'x' || (hi = itch_hex(t[2])) < 0 || (lo = itch_hex(t[3])) < 0 ||
		    itch_text_plain((uint8_t)(hi << 4 | lo)))
			return -1;
		out[n] = (uint8_t)(hi << 4 | lo);
		t += 4;
	}
	return (int)n;
}
