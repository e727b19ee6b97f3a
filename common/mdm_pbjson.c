/* Descriptor-driven protobuf → JSON. protobuf-c stores every field at a known
 * offset with a type tag, so one loop serves every message type. */
#include "mdm_pbjson.h"

#include <stdint.h>
#include <string.h>

#include "mdm_base64.h"

static const void *field_ptr(const ProtobufCMessage *msg, unsigned offset)
{
	return (const char *)msg + offset;
}

static void write_enum(struct mdm_json *j, const ProtobufCEnumDescriptor *ed, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);

	if (ev)
		mdm_json_str(j, ev->name);
	else
		mdm_json_i64(j, v);
}

static void write_bytes(struct mdm_json *j, const ProtobufCBinaryData *bd)
{
	struct mdm_buf tmp = MDM_BUF_INIT;

	if (mdm_base64_encode(&tmp, bd->data, bd->len) == 0)
		mdm_json_strn(j, tmp.data ? tmp.data : "", tmp.len);
	else
		mdm_json_null(j);
	mdm_buf_fini(&tmp);
}

/* One value of field `f` stored at `p`. */
static void write_value(struct mdm_json *j, const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		mdm_json_i64(j, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		mdm_json_u64(j, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		mdm_json_i64(j, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		mdm_json_u64(j, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		mdm_json_dbl(j, *(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		mdm_json_dbl(j, *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		mdm_json_bool(j, *(const protobuf_c_boolean *)p);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		write_enum(j, f->descriptor, *(const int *)p);
		break;
	case PROTOBUF_C_TYPE_STRING:
		mdm_json_str(j, *(char *const *)p ? *(char *const *)p : "");
		break;
	case PROTOBUF_C_TYPE_BYTES:
		write_bytes(j, (const ProtobufCBinaryData *)p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (*(ProtobufCMessage *const *)p)
			mdm_pbjson_write(j, *(ProtobufCMessage *const *)p);
		else
			mdm_json_null(j);
		break;
	}
}

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

void mdm_pbjson_write(struct mdm_json *j, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;

	mdm_json_obj_begin(j);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *p = field_ptr(msg, f->offset);

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			/* quantifier_offset holds the oneof case: the set member's tag */
			if (*(const uint32_t *)field_ptr(msg, f->quantifier_offset) != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
				if (!*(void *const *)p)
					continue;
			} else if (!*(const protobuf_c_boolean *)field_ptr(msg, f->quantifier_offset)) {
				continue;
			}
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED &&
			   !*(void *const *)p) {
			continue; /* absent sub-message */
		}
		mdm_json_key(j, f->name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)field_ptr(msg, f->quantifier_offset);
			const char *arr = *(const char *const *)p;

			mdm_json_arr_begin(j);
			for (size_t k = 0; k < n; k++)
				write_value(j, f, arr + k * elem_size(f->type));
			mdm_json_arr_end(j);
		} else {
			write_value(j, f, p);
		}
	}
	mdm_json_obj_end(j);
}
