/* A received message: views into nats.c's natsMsg, headers, JetStream
 * metadata, free. */
#include "mdm_bus_private.h"

#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"

#include <errno.h>
#include <string.h>

void mdm_bus_msg_free(struct mdm_bus_msg *msg)
{
	natsMsg_Destroy(NMSG(msg));
}

void mdm_bus_msgs_free(struct mdm_bus_msg **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		natsMsg_Destroy(NMSG(msgs[i]));
		msgs[i] = NULL;
	}
}

const char *mdm_bus_msg_subject(const struct mdm_bus_msg *msg)
{
	return natsMsg_GetSubject((const natsMsg *)msg);
}

const void *mdm_bus_msg_data(const struct mdm_bus_msg *msg)
{
	return natsMsg_GetData((const natsMsg *)msg);
}

size_t mdm_bus_msg_len(const struct mdm_bus_msg *msg)
{
	int len = natsMsg_GetDataLength((const natsMsg *)msg);

	return len > 0 ? (size_t)len : 0;
}

int mdm_bus_msg_header(struct mdm_bus_msg *msg, const char *key, const char **value)
{
	natsStatus s = natsMsgHeader_Get(NMSG(msg), key, value);

	if (s == NATS_NOT_FOUND) {
		*value = NULL;
		return -ENOENT;
	}
	if (s != NATS_OK)
		return bus_fail(s, 0, "bus: header %s", key);
	return 0;
}

int mdm_bus_msg_meta(struct mdm_bus_msg *msg, struct mdm_bus_msg_meta *meta)
{
	jsMsgMetaData *md = NULL;
	natsStatus s;

	memset(meta, 0, sizeof(*meta));
	s = natsMsg_GetMetaData(&md, NMSG(msg));
	if (s == NATS_OK) {
		meta->stream_seq = md->Sequence.Stream;
		meta->consumer_seq = md->Sequence.Consumer;
		meta->delivered = md->NumDelivered;
		meta->pending = md->NumPending;
		meta->timestamp_ns = md->Timestamp;
		jsMsgMetaData_Destroy(md);
		return 0;
	}
	/* A direct-get message has no ack subject but carries its sequence. */
	meta->stream_seq = natsMsg_GetSequence(NMSG(msg));
	if (meta->stream_seq) {
		meta->timestamp_ns = natsMsg_GetTime(NMSG(msg));
		return 0;
	}
	return mdm_err_set(-EINVAL, "bus: message on %s has no JetStream metadata",
			   natsMsg_GetSubject(NMSG(msg)));
}
