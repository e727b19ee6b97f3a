/* Pull consumption: bind to a durable, fetch batches (working around two
 * nats.c 3.4.1 fetch bugs), ack / nak / term. */
#include "mdm_bus_private.h"

#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

int mdm_bus_pull_subscribe(struct mdm_bus *bus, const char *stream, const char *durable,
			   struct mdm_bus_sub **out)
{
	struct mdm_bus_sub *sub;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	*out = NULL;
	if (!bus || !stream || !*stream || !durable || !*durable)
		return mdm_err_set(-EINVAL, "bus: pull_subscribe: bad arguments");
	sub = bus_sub_new(bus, true);
	if (!sub)
		return mdm_err_set(-ENOMEM, "bus: out of memory");
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Consumer = durable; /* bind: never create or alter the consumer here */
	s = js_PullSubscribe(&sub->ns, bus->js, NULL, durable, NULL, &so, &jerr);
	if (s != NATS_OK) {
		int rc = bus_consumer_missing(s, jerr) || bus_stream_missing(s, jerr)
				 ? mdm_err_set(-ENOENT, "consumer %s.%s: not found", stream, durable)
				 : bus_js_fail(bus, s, jerr, "consumer %s.%s: pull subscribe", stream, durable);

		sub->ns = NULL;
		mdm_bus_sub_destroy(sub);
		return rc;
	}
	*out = sub;
	return 0;
}

int mdm_bus_fetch(struct mdm_bus_sub *sub, size_t max_msgs, uint64_t timeout_ms, struct mdm_bus_msg **msgs,
		  size_t *n)
{
	uint64_t deadline = mdm_mono_ns() + (timeout_ms ? timeout_ms : 1) * MDM_NS_PER_MS;
	int batch = max_msgs > INT_MAX ? INT_MAX : (int)max_msgs;

	*n = 0;
	if (!sub || !sub->pull || !msgs || max_msgs == 0)
		return mdm_err_set(-EINVAL, "bus: fetch: bad arguments");
	for (;;) {
		natsMsgList list = { 0 };
		jsErrCode jerr = 0;
		uint64_t now = mdm_mono_ns();
		int64_t left_ms = now < deadline ? (int64_t)((deadline - now) / MDM_NS_PER_MS) : 0;
		int want = batch, queued = 0, queued_bytes = 0;
		natsStatus s;

		if (left_ms <= 0)
			return 0;
		/* nats.c 3.4.1 _fetch first takes messages already queued on the
		 * subscription (late ones of an earlier pull request and its 408
		 * status reply, e.g. after a reconnect or a consumer leader change),
		 * then asks for the batch minus those and compares its count with
		 * that smaller number (nats.c#749, fixed in 3.9.0): having taken
		 * more than half the batch but not all of it, it keeps receiving
		 * past the end of its array. So the queue is taken one message per
		 * fetch, where the count can only be 0 or 1 of 1. (Asking for as
		 * many as are queued is not enough: queued status replies are not
		 * counted; cluster_failover saw 258 messages for a batch of 2.) */
		if (natsSubscription_GetPending(sub->ns, &queued, &queued_bytes) == NATS_OK && queued > 0)
			want = 1;
		s = natsSubscription_Fetch(&list, sub->ns, want, left_ms, &jerr);
		if (list.Count > want) {
			/* the overflow happened anyway (messages queued between the two
			 * calls): memory is corrupt, stop before it spreads */
			mdm_log_error("bus: nats.c fetch returned %d messages for a batch of %d: heap overflow in nats.c",
				      list.Count, want);
			abort();
		}
		if (list.Count > 0) {
			for (int i = 0; i < list.Count; i++) {
				msgs[i] = BMSG(list.Msgs[i]);
				list.Msgs[i] = NULL; /* ours now; Destroy frees only the array */
			}
			*n = (size_t)list.Count;
			natsMsgList_Destroy(&list);
			return 0;
		}
		natsMsgList_Destroy(&list);
		/* Empty timeout: either the real end of the wait, or 3.4.1's stale 408
		 * ending this fetch early (nats.c#631); the deadline tells which. */
		if (s == NATS_TIMEOUT || s == NATS_OK)
			continue;
		return bus_fail(s, jerr, "bus: fetch");
	}
}

static int ack_result(natsStatus s, const char *what)
{
	if (s != NATS_OK)
		return bus_fail(s, 0, "bus: %s", what);
	return 0;
}

int mdm_bus_ack(struct mdm_bus_msg *msg)
{
	return ack_result(natsMsg_Ack(NMSG(msg), NULL), "ack");
}

int mdm_bus_nak(struct mdm_bus_msg *msg)
{
	return ack_result(natsMsg_Nak(NMSG(msg), NULL), "nak");
}

int mdm_bus_nak_delay(struct mdm_bus_msg *msg, uint64_t delay_ms)
{
	if (delay_ms > INT64_MAX)
		return mdm_err_set(-EINVAL, "bus: nak delay out of range");
	return ack_result(natsMsg_NakWithDelay(NMSG(msg), (int64_t)delay_ms, NULL), "nak with delay");
}

int mdm_bus_in_progress(struct mdm_bus_msg *msg)
{
	return ack_result(natsMsg_InProgress(NMSG(msg), NULL), "in progress");
}

int mdm_bus_term(struct mdm_bus_msg *msg)
{
	return ack_result(natsMsg_Term(NMSG(msg), NULL), "term");
}
