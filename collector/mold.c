/* MoldUDP64 packet validation and the re-request packet. */
#include "mold.h"

#include <errno.h>
#include <string.h>

static inline uint16_t mold_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint64_t mold_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

enum mold_status mold_parse(const uint8_t *p, size_t len, const struct mold_params *params, struct mold_pkt *out)
{
	size_t max_len = params && params->max_packet_len ? params->max_packet_len : MOLD_MAX_PACKET_DEFAULT;
	const uint8_t *cur, *end = p + len;
	uint16_t count;
	uint8_t kind;

	if (len > max_len)
		return MOLD_ERR_OVERSIZE;
	if (len < MOLD_HEADER_LEN)
		return MOLD_ERR_SHORT_HEADER;
	count = mold_be16(p + 18);
	cur = p + MOLD_HEADER_LEN;
	if (count == MOLD_COUNT_EOS) {
		kind = MOLD_KIND_END_OF_SESSION;
	} else if (count == 0) {
		kind = MOLD_KIND_HEARTBEAT;
	} else {
		kind = MOLD_KIND_DATA;
		/* Walk every block before handing any out: see the policy in mold.h.
		 * All comparisons are on remaining byte counts, never on pointers
		 * past `end`. */
		for (uint32_t i = 0; i < count; i++) {
			size_t left = (size_t)(end - cur), n;

			if (left == 0)
				return MOLD_ERR_COUNT_OVERRUN;
			if (left < MOLD_BLOCK_HDR_LEN)
				return MOLD_ERR_BLOCK_TRUNCATED;
			n = mold_be16(cur);
			if (n == 0)
				return MOLD_ERR_ZERO_LENGTH;
			if (n > left - MOLD_BLOCK_HDR_LEN)
				return MOLD_ERR_BLOCK_OVERRUN;
			cur += MOLD_BLOCK_HDR_LEN + n;
		}
	}
	if (cur != end && params && params->reject_trailing)
		return MOLD_ERR_TRAILING;
	out->session = p;
	out->seq = mold_be64(p + MOLD_SESSION_LEN);
	out->count = kind == MOLD_KIND_DATA ? count : 0;
	out->kind = kind;
	out->trailing_len = (uint32_t)(end - cur);
	out->blocks = p + MOLD_HEADER_LEN;
	out->end = cur;
	return MOLD_OK;
}

const char *mold_status_name(enum mold_status status)
{
	static const char *const names[MOLD_STATUS_COUNT] = { MOLD_STATUSES(MDM_ENUM_NAME) };

	return mdm_enum_name(names, MOLD_STATUS_COUNT, status);
}

int mold_request_build(uint8_t *out, size_t cap, const uint8_t *session, uint64_t seq, uint16_t count)
{
	if (cap < MOLD_REQUEST_LEN)
		return -ENOSPC;
	if (!out || !session || seq == 0 || count == 0 || count == MOLD_COUNT_EOS)
		return -EINVAL;
	memcpy(out, session, MOLD_SESSION_LEN);
	for (int i = 0; i < 8; i++)
		out[MOLD_SESSION_LEN + i] = (uint8_t)(seq >> (56 - 8 * i));
	out[18] = (uint8_t)(count >> 8);
	out[19] = (uint8_t)count;
	return MOLD_REQUEST_LEN;
}

int mold_request_parse(const uint8_t *p, size_t len, const uint8_t **session, uint64_t *seq, uint16_t *count)
{
	if (!p || len != MOLD_REQUEST_LEN)
		return -EINVAL;
	*session = p;
	*seq = mold_be64(p + MOLD_SESSION_LEN);
	*count = mold_be16(p + 18);
	return 0;
}
