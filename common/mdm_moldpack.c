/* MoldUDP64 downstream packet builder (the layout ITCH_FACTS section 3 gives). */
#include "mdm_moldpack.h"

#include <string.h>

static void put_header(uint8_t *out, const uint8_t session[10], uint64_t seq, uint16_t count)
{
	memcpy(out, session, 10);
	for (int i = 0; i < 8; i++)
		out[10 + i] = (uint8_t)(seq >> (56 - 8 * i));
	out[18] = (uint8_t)(count >> 8);
	out[19] = (uint8_t)count;
}

void mdm_moldpack_init(struct mdm_moldpack *p, const char *session, uint64_t first_seq, size_t max_payload)
{
	size_t n = strnlen(session, sizeof(p->session));

	memset(p->session, ' ', sizeof(p->session));
	memcpy(p->session, session, n);
	p->seq = first_seq ? first_seq : 1;
	p->count = 0;
	p->len = MDM_MOLDPACK_HDR;
	if (max_payload == 0)
		max_payload = MDM_MOLDPACK_PAYLOAD_DEFAULT;
	if (max_payload < MDM_MOLDPACK_HDR + 3)
		max_payload = MDM_MOLDPACK_HDR + 3;
	if (max_payload > MDM_MOLDPACK_BUF)
		max_payload = MDM_MOLDPACK_BUF;
	p->max_payload = max_payload;
}

bool mdm_moldpack_add(struct mdm_moldpack *p, const uint8_t *msg, size_t len)
{
	if (len == 0 || len > 65535)
		return true; /* not representable: dropped (callers never pass these) */
	if (p->count > 0 && (p->len + 2 + len > p->max_payload || p->count == 0xFFFE))
		return false;
	p->buf[p->len] = (uint8_t)(len >> 8);
	p->buf[p->len + 1] = (uint8_t)len;
	memcpy(p->buf + p->len + 2, msg, len);
	p->len += 2 + len;
	p->count++;
	return true;
}

const uint8_t *mdm_moldpack_take(struct mdm_moldpack *p, size_t *len)
{
	if (p->count == 0) {
		*len = 0;
		return NULL;
	}
	put_header(p->buf, p->session, p->seq, p->count);
	*len = p->len;
	p->seq += p->count;
	p->count = 0;
	p->len = MDM_MOLDPACK_HDR;
	return p->buf;
}

void mdm_moldpack_control(const struct mdm_moldpack *p, bool end_of_session, uint8_t out[MDM_MOLDPACK_HDR])
{
	put_header(out, p->session, p->seq + p->count, end_of_session ? 0xFFFF : 0);
}
