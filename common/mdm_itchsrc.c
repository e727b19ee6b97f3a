/* BinaryFILE records -> MoldUDP64 packets. One message is looked ahead: the
 * record that did not fit the packet just handed out starts the next one. */
#include "mdm_itchsrc.h"

#include <errno.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_moldpack.h"

struct mdm_itchsrc {
	struct mdm_itchfile *file;
	uint64_t max_span_ns;
	uint64_t last_ts;          /* timestamp of the last message read */
	uint64_t pkt_first_ts;
	const uint8_t *held;       /* a record read but not yet packed */
	size_t held_len;
	struct mdm_moldpack pack;
};

uint64_t mdm_itchsrc_msg_ts(const uint8_t *msg, size_t len)
{
	uint64_t v = 0;

	if (len < 11)
		return 0;
	for (int i = 5; i < 11; i++)
		v = v << 8 | msg[i];
	return v;
}

int mdm_itchsrc_open(struct mdm_itchsrc **out, const struct mdm_itchsrc_params *p)
{
	struct mdm_itchsrc *s = mdm_calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return mdm_err_set(-ENOMEM, "%s: out of memory", p->path);
	rc = mdm_itchfile_open(&s->file, p->path);
	if (rc) {
		mdm_free(s);
		return rc;
	}
	s->max_span_ns = p->max_span_ns;
	mdm_moldpack_init(&s->pack, p->session ? p->session : MDM_ITCHSRC_SESSION_DEFAULT, 1, p->max_payload);
	*out = s;
	return 0;
}

/* Put msg into the packet; false when the packet must go first. */
static bool pack(struct mdm_itchsrc *s, const uint8_t *msg, size_t len)
{
	uint64_t ts = mdm_itchsrc_msg_ts(msg, len);

	if (len < 11)
		ts = s->last_ts;
	if (s->pack.count > 0 && s->max_span_ns && ts > s->pkt_first_ts + s->max_span_ns)
		return false;
	if (!mdm_moldpack_add(&s->pack, msg, len))
		return false;
	if (s->pack.count == 1)
		s->pkt_first_ts = ts;
	s->last_ts = ts;
	return true;
}

int mdm_itchsrc_next(struct mdm_itchsrc *s, struct mdm_itchsrc_packet *pkt)
{
	const uint8_t *msg;
	size_t len;
	int rc;

	/* the held record points into the reader's window, which the next read
	 * may move: pack it before reading on */
	if (s->held) {
		pack(s, s->held, s->held_len);
		s->held = NULL;
	}
	for (;;) {
		rc = mdm_itchfile_next(s->file, &msg, &len);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		if (!pack(s, msg, len)) {
			s->held = msg;
			s->held_len = len;
			break;
		}
	}
	pkt->first_ts_ns = s->pkt_first_ts;
	pkt->last_ts_ns = s->last_ts;
	pkt->seq = s->pack.seq;
	pkt->count = s->pack.count;
	pkt->payload = mdm_moldpack_take(&s->pack, &pkt->len);
	return pkt->payload ? 1 : 0;
}

const struct mdm_itchfile *mdm_itchsrc_file(const struct mdm_itchsrc *s)
{
	return s->file;
}

void mdm_itchsrc_close(struct mdm_itchsrc *s)
{
	if (!s)
		return;
	mdm_itchfile_close(s->file);
	mdm_free(s);
}
