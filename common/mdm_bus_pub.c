/* JetStream publishing. Async: every accepted token gets exactly one outcome,
 * whatever nats.c, the network or the server do in between; the bus keeps a
 * record per token, and a resend thread sends again what timed out or found
 * no responder. Also the synchronous publish and the bounded retry on
 * back-pressure that callers share. */
#include "mdm_bus_private.h"

#include "mdm_clock.h"
#include "mdm_cond.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- publish records -------------------------------------------------- */

static size_t rec_bucket(const struct mdm_bus *bus, const natsMsg *m)
{
	uint64_t h = ((uint64_t)(uintptr_t)m >> 4) * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h >> (64 - bus->bucket_bits));
}

/* Caller holds bus->mu. */
static void rec_hash_insert(struct mdm_bus *bus, struct pub_rec *r)
{
	size_t b = rec_bucket(bus, r->msg);

	r->next = bus->buckets[b];
	bus->buckets[b] = r;
}

/* Caller holds bus->mu. Returns the record of `m`, unlinked, or NULL. */
static struct pub_rec *rec_hash_remove(struct mdm_bus *bus, const natsMsg *m)
{
	struct pub_rec **pp = &bus->buckets[rec_bucket(bus, m)];

	for (; *pp; pp = &(*pp)->next) {
		struct pub_rec *r = *pp;

		if (r->msg == m) {
			*pp = r->next;
			r->next = NULL;
			return r;
		}
	}
	return NULL;
}

/* Caller holds bus->mu. Returns a record to the free list. */
static void rec_release_locked(struct mdm_bus *bus, struct pub_rec *r)
{
	r->msg = NULL;
	r->next = bus->free_list;
	bus->free_list = r;
	if (CNT_SUB(bus, in_flight, 1) == 0)
		pthread_cond_broadcast(&bus->idle_cond);
}

/* Report the one outcome of a record, then free it, or, while a send of its
 * message still runs, leave that to the sender (rec_send_end_locked): nats.c
 * may call the ack handler (an ack, or its own pub-ack timeout when the send
 * waits for the connection lock longer than MaxWait) before
 * js_PublishMsgAsync returns, and that call may still read the message.
 * Called without bus->mu. The release under the lock is the last access to
 * `bus`: destroy waits for in_flight == 0 and may free the bus right after. */
static void rec_complete(struct mdm_bus *bus, struct pub_rec *r, enum mdm_bus_ack_result result,
			 uint64_t seq, int err, const char *reason)
{
	struct mdm_bus_ack a = {
		.token = r->token,
		.result = result,
		.stream_seq = seq,
		.attempts = r->attempts,
		.err = err,
		.reason = reason ? reason : "",
		.msg_id = "",
	};
	natsMsg *m = r->msg;

	natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &a.msg_id);
	if (result == MDM_BUS_ACK_STORED)
		CNT_ADD(bus, acked, 1);
	else if (result == MDM_BUS_ACK_DUPLICATE)
		CNT_ADD(bus, duplicates, 1);
	else
		CNT_ADD(bus, failed, 1);
	if (bus->ack_fn)
		bus->ack_fn(bus->ack_ctx, &a);
	pthread_mutex_lock(&bus->mu);
	if (r->sending) {
		r->done = true;
		pthread_mutex_unlock(&bus->mu);
		return;
	}
	rec_release_locked(bus, r);
	pthread_mutex_unlock(&bus->mu);
	natsMsg_Destroy(m);
}

/* A send of the record's message returned NATS_OK (nats.c owns it): the
 * record is no longer sending. Caller holds mu. Returns true when it was
 * completed meanwhile (rec_complete): it is released here and the caller
 * destroys the message, which it saved before the call, after unlocking. */
static bool rec_send_end_locked(struct mdm_bus *bus, struct pub_rec *r)
{
	bool done = r->done;

	r->sending = false;
	r->done = false;
	if (bus->retry_waits_send) {
		bus->retry_waits_send = false;
		pthread_cond_signal(&bus->retry_cond);
	}
	if (done)
		rec_release_locked(bus, r);
	return done;
}

static void rec_fail(struct mdm_bus *bus, struct pub_rec *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void rec_fail(struct mdm_bus *bus, struct pub_rec *r, int err, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	rec_complete(bus, r, MDM_BUS_ACK_FAILED, 0, err, reason);
}

/* Fail every record of the retry queue. Caller holds mu; it is released
 * around each ack handler call. */
void bus_pub_fail_retry_queue_locked(struct mdm_bus *bus, int err, const char *reason)
{
	while (bus->retry_head) {
		struct pub_rec *r = bus->retry_head;

		bus->retry_head = r->next;
		if (!bus->retry_head)
			bus->retry_tail = NULL;
		pthread_mutex_unlock(&bus->mu);
		rec_fail(bus, r, err, "%s", reason);
		pthread_mutex_lock(&bus->mu);
	}
}

/* Take back every message nats.c still waits an ack for and fail it. What is
 * still hashed afterwards is being completed by bus_pub_on_ack right now. Only
 * once something was published: nats.c 3.4.1 crashes in
 * js_PublishAsyncGetPendingList before its pending map exists. */
void bus_pub_take_back(struct mdm_bus *bus, int err, const char *reason)
{
	natsMsgList pend = { 0 };

	if (!bus->js || CNT_GET(bus, published) == 0 || js_PublishAsyncGetPendingList(&pend, bus->js) != NATS_OK)
		return;
	for (int i = 0; i < pend.Count; i++) {
		struct pub_rec *r;

		pthread_mutex_lock(&bus->mu);
		r = rec_hash_remove(bus, pend.Msgs[i]);
		pthread_mutex_unlock(&bus->mu);
		if (r) {
			pend.Msgs[i] = NULL; /* rec_fail destroys it */
			rec_fail(bus, r, err, "%s", reason);
		}
	}
	natsMsgList_Destroy(&pend);
}

/* Whether a transient failure gets another send, and after what delay.
 * After a timeout the wait already happened: resend at once. An error reply
 * comes back at once, and on a cluster it keeps coming while the stream has
 * no leader: followers wait 4-9 s for a lost leader before they elect one
 * (nats-server 2.9 raft.go), and meanwhile "no responders" is all a publish
 * gets. So error replies are resent after a delay that doubles from
 * retry_backoff up to ack_timeout, and a message gets max_attempts sends or,
 * if that is longer, as long as max_attempts timeouts would have lasted: an
 * election is waited out instead of using up the attempts in a second. */
/* JSStreamDuplicateMessageConflict (nats-server 2.10+, not named by nats.c
 * 3.4.1): "duplicate message id is in process". A clustered stream's leader
 * still proposes an earlier send of this Msg-Id (a resend after an ack
 * timeout, or across a leader change); that send may yet be stored, and
 * asking again once it is gets its duplicate ack. Failing the message here
 * reported 'not stored' for a message that was (cluster_failover, pa: 2
 * trades and bars 7 s after the kill of the stream leader). */
#define BUS_JS_DUP_IN_PROCESS 10158

static bool pub_retry_due(const struct mdm_bus *bus, const struct pub_rec *r, const jsPubAckErr *pae,
			  uint64_t now_ns, uint64_t *delay_ns)
{
	uint64_t cap = (uint64_t)bus->ack_timeout_ms * MDM_NS_PER_MS, d = bus->retry_backoff_ns;

	if (!bus_transient(pae->Err, pae->ErrCode) && (int)pae->ErrCode != BUS_JS_DUP_IN_PROCESS)
		return false;
	for (uint32_t i = 1; i < r->attempts && d < cap; i++)
		d *= 2;
	*delay_ns = pae->Err == NATS_TIMEOUT ? 0 : d < cap ? d : cap;
	return r->attempts < bus->max_attempts || now_ns + *delay_ns - r->first_ns < (uint64_t)bus->max_attempts * cap;
}

/* nats.c's ack handler, on its reply-subscription thread, once per send.
 * Resends are not made here: this thread is the only one that processes acks,
 * so a resend blocked on the full MaxPending window would wait for itself for
 * the whole StallWait. The record goes to the retry queue instead, for the
 * resend thread. */
void bus_pub_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct mdm_bus *bus = closure;
	struct pub_rec *r;
	uint64_t now, delay_ns;
	bool closing;

	pthread_mutex_lock(&bus->mu);
	r = rec_hash_remove(bus, msg);
	closing = bus->closing;
	pthread_mutex_unlock(&bus->mu);
	/* Every message nats.c holds was hashed before it was handed over. */
	assert(r);
	if (!r) {
		natsMsg_Destroy(msg);
		return;
	}
	if (pa) {
		if (r->attempts == 1) {
			/* a resend's latency includes its timeout: not a sample */
			now = mdm_mono_ns();
			mdm_window_on_ack(&bus->window, now - r->first_ns, now);
		}
		rec_complete(bus, r, pa->Duplicate ? MDM_BUS_ACK_DUPLICATE : MDM_BUS_ACK_STORED, pa->Sequence,
			     0, NULL);
		return;
	}
	now = mdm_mono_ns();
	if (pub_retry_due(bus, r, pae, now, &delay_ns)) {
		pthread_mutex_lock(&bus->mu);
		closing = bus->closing; /* destroy sweeps the queue once, after closing is set */
		if (!closing) {
			r->due_ns = now + delay_ns;
			r->next = NULL;
			if (bus->retry_tail)
				bus->retry_tail->next = r;
			else
				bus->retry_head = r;
			bus->retry_tail = r;
			pthread_cond_signal(&bus->retry_cond);
		}
		pthread_mutex_unlock(&bus->mu);
		if (!closing)
			return;
	}
	rec_fail(bus, r, closing ? -ECANCELED : bus_errno(pae->Err, pae->ErrCode),
		 "%s (after %" PRIu32 " attempt%s)", pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err),
		 r->attempts, r->attempts == 1 ? "" : "s");
}

/* Resend thread: sends records from the retry queue again, in order, once
 * the connection is up and their due time has come. It may block in nats.c's
 * stall wait; that is why it is not the ack thread nor the caller's. */
void *bus_pub_retry_main(void *arg)
{
	struct mdm_bus *bus = arg;

	pthread_mutex_lock(&bus->mu);
	while (!bus->closing) {
		struct pub_rec *r = bus->retry_head;
		jsPubOptions po;
		natsMsg *m, *sent;
		natsStatus s;
		uint64_t now;

		if (!r) {
			pthread_cond_wait(&bus->retry_cond, &bus->mu);
			continue;
		}
		if (bus->conn_dead) {
			bus_pub_fail_retry_queue_locked(bus, -ENOTCONN, "connection closed before the resend");
			continue;
		}
		if (r->sending) {
			/* Its ack timed out while the previous send still waits in
			 * nats.c: one send of a message at a time. The sender wakes
			 * us (rec_send_end_locked); the timeout covers a missed wake-up. */
			bus->retry_waits_send = true;
			mdm_cond_wait_until(&bus->retry_cond, &bus->mu, mdm_mono_ns() + 100 * MDM_NS_PER_MS);
			continue;
		}
		now = mdm_mono_ns();
		if (!bus->connected || r->due_ns > now) {
			/* Resending into the reconnect buffer would only burn attempts;
			 * on_reconnected wakes us, the timeout covers a missed wake-up. */
			uint64_t wait_ns = bus->connected ? r->due_ns - now : 100 * MDM_NS_PER_MS;
			mdm_cond_wait_until(&bus->retry_cond, &bus->mu, now + wait_ns);
			continue;
		}
		bus->retry_head = r->next;
		if (!bus->retry_head)
			bus->retry_tail = NULL;
		r->attempts++;
		r->sending = true;
		rec_hash_insert(bus, r);
		m = r->msg;
		pthread_mutex_unlock(&bus->mu);

		jsPubOptions_Init(&po);
		po.MaxWait = bus->ack_timeout_ms;
		sent = m;
		s = js_PublishMsgAsync(bus->js, &sent, &po);
		pthread_mutex_lock(&bus->mu);
		if (s == NATS_OK) {
			/* `r` may be completed already (then it is ours to free) or
			 * queued again, but not reused: it was sending. */
			CNT_ADD(bus, retries, 1);
			if (rec_send_end_locked(bus, r)) {
				pthread_mutex_unlock(&bus->mu);
				natsMsg_Destroy(m);
				pthread_mutex_lock(&bus->mu);
			}
			continue;
		}
		/* Not sent: nats.c took the message out of its pending map again, so
		 * it made no bus_pub_on_ack call for it and will make none (an ack or
		 * a timeout handled during the call makes it return NATS_OK), and
		 * nothing else has it: the record is still ours alone. */
		assert(!r->done);
		r->sending = false;
		rec_hash_remove(bus, m);
		r->attempts--;
		if (s == NATS_CONNECTION_CLOSED || bus->closing) {
			pthread_mutex_unlock(&bus->mu);
			rec_fail(bus, r, -ENOTCONN, "resend failed: %s", natsStatus_GetText(s));
			pthread_mutex_lock(&bus->mu);
			continue;
		}
		/* Window full (stall timeout) or reconnect buffer full: retry first. */
		r->due_ns = mdm_mono_ns() + (s == NATS_TIMEOUT ? 0 : bus->retry_backoff_ns);
		r->next = bus->retry_head;
		bus->retry_head = r;
		if (!bus->retry_tail)
			bus->retry_tail = r;
	}
	pthread_mutex_unlock(&bus->mu);
	return NULL;
}

int bus_pub_recs_init(struct mdm_bus *bus, uint32_t max_pending)
{
	bus->cap = 2 * max_pending;
	bus->bucket_bits = 4;
	while ((1U << bus->bucket_bits) < 2 * bus->cap)
		bus->bucket_bits++;
	bus->recs = mdm_calloc(bus->cap, sizeof(*bus->recs));
	bus->buckets = mdm_calloc((size_t)1 << bus->bucket_bits, sizeof(*bus->buckets));
	if (!bus->recs || !bus->buckets)
		return mdm_err_set(-ENOMEM, "bus: out of memory for %" PRIu32 " publish records", bus->cap);
	for (uint32_t i = bus->cap; i-- > 0;) {
		bus->recs[i].next = bus->free_list;
		bus->free_list = &bus->recs[i];
	}
	return 0;
}

/* ---- async publish ---------------------------------------------------- */

void mdm_bus_set_ack_handler(struct mdm_bus *bus, mdm_bus_ack_fn fn, void *ctx)
{
	bus->ack_fn = fn;
	bus->ack_ctx = ctx;
}

natsStatus bus_msg_new(natsMsg **out, const char *subject, const char *msg_id, const char *content_type,
		       const void *data, size_t len)
{
	natsMsg *m = NULL;
	natsStatus s = natsMsg_Create(&m, subject, NULL, data, (int)len);

	if (s == NATS_OK && msg_id)
		s = natsMsgHeader_Set(m, BUS_HDR_MSG_ID, msg_id);
	if (s == NATS_OK && content_type)
		s = natsMsgHeader_Set(m, BUS_HDR_CONTENT_TYPE, content_type);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		m = NULL;
	}
	*out = m;
	return s;
}

int mdm_bus_publish_async(struct mdm_bus *bus, const char *subject, const char *msg_id,
			  const char *content_type, const void *data, size_t len, uint64_t token)
{
	struct pub_rec *r;
	natsMsg *m = NULL, *sent;
	jsPubOptions po;
	natsStatus s;

	if (!bus || !subject || !*subject || !msg_id || !*msg_id || (len && !data) || len > INT_MAX)
		return mdm_err_set(-EINVAL, "bus: publish_async: bad arguments");
	if (CNT_GET(bus, in_flight) >= mdm_window_limit(&bus->window)) {
		/* the backlog waits in the caller's queue, not in nats.c's */
		CNT_ADD(bus, stalls, 1);
		return mdm_err_set(-EAGAIN, "bus: %" PRIu32 " publishes awaiting an outcome (the window)",
				   mdm_window_limit(&bus->window));
	}
	s = bus_msg_new(&m, subject, msg_id, content_type, data, len);
	if (s != NATS_OK)
		return bus_fail(s, 0, "bus: message for %s", subject);

	pthread_mutex_lock(&bus->mu);
	r = bus->closing ? NULL : bus->free_list;
	if (!r) {
		bool closing = bus->closing;

		pthread_mutex_unlock(&bus->mu);
		natsMsg_Destroy(m);
		if (closing)
			return mdm_err_set(-ECANCELED, "bus: publish_async during destroy");
		CNT_ADD(bus, stalls, 1);
		return mdm_err_set(-EAGAIN, "bus: %" PRIu32 " publishes awaiting an outcome", bus->cap);
	}
	bus->free_list = r->next;
	r->msg = m;
	r->token = token;
	r->attempts = 1;
	r->first_ns = mdm_mono_ns();
	CNT_ADD(bus, in_flight, 1);
	/* Hashed before the send: the ack may arrive before js_PublishMsgAsync
	 * returns; sending: that ack's completion leaves `m` to us. */
	r->sending = true;
	r->done = false;
	rec_hash_insert(bus, r);
	pthread_mutex_unlock(&bus->mu);

	jsPubOptions_Init(&po);
	po.MaxWait = bus->ack_timeout_ms;
	sent = m;
	s = js_PublishMsgAsync(bus->js, &sent, &po);
	pthread_mutex_lock(&bus->mu);
	if (s == NATS_OK) {
		bool done;

		CNT_ADD(bus, published, 1);
		done = rec_send_end_locked(bus, r);
		pthread_mutex_unlock(&bus->mu);
		if (done)
			natsMsg_Destroy(m);
		return 0;
	}
	/* Not sent and not tracked by nats.c (no ack handler call was made or
	 * will be, see the resend thread): undo, the caller keeps the token. */
	assert(!r->done);
	r->sending = false;
	rec_hash_remove(bus, m);
	rec_release_locked(bus, r);
	pthread_mutex_unlock(&bus->mu);
	natsMsg_Destroy(m);
	/* Window full (stall), reconnect buffer full, or the socket broke under
	 * this very write (EPIPE while the disconnect is being noticed): all
	 * pass. A copy that did reach the server makes the caller's retry a
	 * DUPLICATE, which is still exactly once. */
	if (bus_transient(s, 0)) {
		CNT_ADD(bus, stalls, 1);
		return mdm_err_set(-EAGAIN, "bus: publish to %s not accepted: %s", subject, bus_nats_text(s));
	}
	return bus_fail(s, 0, "bus: publish to %s", subject);
}

/* The pauses between refused attempts: short while connected (the window
 * drains within an ack's round trip), longer while reconnecting (nothing
 * drains until the connection is back). */
#define BUS_UNTIL_PAUSE_NS (50 * MDM_NS_PER_US)
#define BUS_UNTIL_DOWN_PAUSE_NS MDM_NS_PER_MS

int mdm_bus_publish_async_until(struct mdm_bus *bus, const char *subject, const char *msg_id,
				const char *content_type, const void *data, size_t len, uint64_t token,
				const struct mdm_bus_retry *retry)
{
	for (;;) {
		uint64_t t0 = mdm_mono_ns(), pause_ns;
		int rc = mdm_bus_publish_async(bus, subject, msg_id, content_type, data, len, token);
		bool up;

		if (rc != -EAGAIN)
			return rc;
		if (retry->deadline_ns != MDM_BUS_NO_DEADLINE && mdm_mono_ns() >= retry->deadline_ns)
			return mdm_err_set(-ETIMEDOUT, "%s (still refused at the deadline)", mdm_err_last());
		mdm_bus_write_deferred(bus); /* what this thread deferred must be on the wire to be acked */
		up = mdm_bus_connected(bus);
		if (retry->on_stall && (rc = retry->on_stall(retry->ctx, up)) != 0)
			return rc;
		pause_ns = up ? BUS_UNTIL_PAUSE_NS : BUS_UNTIL_DOWN_PAUSE_NS;
		mdm_sleep_ns(pause_ns);
		if (!up && retry->down_ns)
			__atomic_add_fetch(retry->down_ns, mdm_mono_ns() - t0, __ATOMIC_RELAXED);
	}
}

int mdm_bus_publish_drain(struct mdm_bus *bus, uint64_t timeout_ms)
{
	bool idle;

	mdm_bus_write_deferred(bus);
	pthread_mutex_lock(&bus->mu);
	idle = bus_wait_locked(bus, bus_nothing_in_flight, timeout_ms);
	pthread_mutex_unlock(&bus->mu);
	if (!idle)
		return mdm_err_set(-ETIMEDOUT, "bus: %" PRIu64 " publishes still in flight after %" PRIu64 " ms",
				   CNT_GET(bus, in_flight), timeout_ms);
	return 0;
}

void mdm_bus_counters_get(struct mdm_bus *bus, struct mdm_bus_counters *c)
{
	c->published = CNT_GET(bus, published);
	c->acked = CNT_GET(bus, acked);
	c->duplicates = CNT_GET(bus, duplicates);
	c->retries = CNT_GET(bus, retries);
	c->failed = CNT_GET(bus, failed);
	c->in_flight = CNT_GET(bus, in_flight);
	c->stalls = CNT_GET(bus, stalls);
	c->disconnects = CNT_GET(bus, disconnects);
	c->reconnects = CNT_GET(bus, reconnects);
	c->refused = CNT_GET(bus, refused);
	{
		struct mdm_window_stats ws;

		mdm_window_stats(&bus->window, &ws);
		c->window = ws.limit;
		c->window_min = ws.min;
		c->window_max = ws.max;
		c->ack_rtt_min_ns = ws.min_rtt_ns;
		c->ack_rtt_mean_ns = ws.rtt_mean_ns;
		c->ack_rate = ws.rate_per_s;
	}
}

/* ---- synchronous publish ---------------------------------------------- */

int mdm_bus_js_publish(struct mdm_bus *bus, const char *subject, const char *msg_id, const char *content_type,
		       const void *data, size_t len, uint64_t *stream_seq)
{
	jsPubOptions po;
	jsPubAck *pa = NULL;
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	if (!bus || !subject || !*subject || (len && !data) || len > INT_MAX)
		return mdm_err_set(-EINVAL, "bus: js_publish: bad arguments");
	s = bus_msg_new(&m, subject, NULL, content_type, data, len);
	if (s != NATS_OK)
		return bus_fail(s, 0, "bus: js_publish to %s", subject);
	jsPubOptions_Init(&po);
	po.MsgId = msg_id;
	po.MaxWait = bus->api_timeout_ms;
	s = js_PublishMsg(&pa, bus->js, m, &po, &jerr);
	natsMsg_Destroy(m);
	if (s != NATS_OK)
		return bus_fail(s, jerr, "bus: js_publish to %s", subject);
	if (stream_seq)
		*stream_seq = pa->Sequence;
	rc = pa->Duplicate ? 1 : 0;
	jsPubAck_Destroy(pa);
	return rc;
}
