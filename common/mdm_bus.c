/* nats.c glue for all of mdmesh: the only file that includes nats.h. natsStatus
 * becomes a negative errno here, once, with nats.c's text in mdm_err_last().
 * The async publish path keeps its own record of every accepted token so that
 * each one gets exactly one outcome, whatever nats.c, the network or the
 * server do in between. */
#include "mdm_bus.h"

#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_nkey.h"

#include <nats/nats.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUS_HDR_MSG_ID "Nats-Msg-Id"
#define BUS_HDR_CONTENT_TYPE "Content-Type"
#define BUS_URL_MAX 256
#define BUS_CLOSE_WAIT_MS 5000ULL
#define BUS_IDLE_WAIT_MS 10000ULL

/* One accepted async publish. A record is in exactly one place: the free
 * list, the hash (nats.c holds the message and will call on_pub_ack for it),
 * the retry queue (the resend thread will send it again), or with the thread
 * that is completing or sending it. */
struct pub_rec {
	natsMsg *msg;          /* the message, kept across resends (same Msg-Id) */
	uint64_t token;
	uint64_t due_ns;       /* retry queue: not resent before this monotonic time */
	uint32_t attempts;     /* sends so far */
	uint64_t first_ns;     /* monotonic time of the first send */
	struct pub_rec *next;  /* hash chain, free list or retry queue link */
};

struct mdm_bus {
	natsConnection *nc;
	jsCtx *js;
	char *urls_safe;              /* params.urls without user:password@, for messages */
	char inbox_prefix[64];        /* reply subjects are <inbox_prefix>.<id> */
	int64_t api_timeout_ms;
	int64_t ack_timeout_ms;
	uint64_t retry_backoff_ns;
	uint32_t max_attempts;
	uint32_t cap;                 /* records: 2 x max_pending (window + resends waiting) */
	mdm_bus_ack_fn ack_fn;        /* set before the first publish, then read-only */
	void *ack_ctx;

	pthread_mutex_t mu;           /* guards everything from here to the counters */
	pthread_cond_t retry_cond;    /* retry queue has work, reconnected, or closing */
	pthread_cond_t idle_cond;     /* in_flight fell to 0, or the closed callback ran */
	struct pub_rec *recs;         /* cap records, allocated once at create */
	struct pub_rec *free_list;
	struct pub_rec **buckets;     /* natsMsg pointer -> record, for records nats.c holds */
	unsigned bucket_bits;
	struct pub_rec *retry_head, *retry_tail;
	bool connected;               /* as last reported by the connection callbacks */
	bool reconnects_allowed;      /* max_reconnect != 0 (immutable) */
	bool closing;                 /* destroy has begun: no more resends */
	bool conn_dead;               /* closed for good (reconnects exhausted): fail, do not resend */
	bool closed_seen;             /* nats.c's closed callback ran (its last callback) */
	bool mu_ready, retry_started;
	pthread_t retry_thread;

	/* Counters: only ever changed with __atomic ops, read relaxed from anywhere. */
	uint64_t published, acked, duplicates, retries, failed, in_flight, stalls;
	uint64_t disconnects, reconnects;
	uint64_t refused;             /* publishes/subscriptions the server's permissions refused */
	uint64_t refused_logged_ns;   /* when the last refusal was logged (rate limit) */
};

struct mdm_bus_sub {
	natsSubscription *ns;
	struct mdm_bus *bus;
	bool pull;
	mdm_bus_msg_fn fn;            /* core subscriptions */
	void *ctx;
	pthread_mutex_t mu;           /* guards done */
	pthread_cond_t cond;
	bool done;                    /* nats.c's delivery thread has finished */
};

#define CNT_ADD(bus, field, n) __atomic_add_fetch(&(bus)->field, (n), __ATOMIC_RELAXED)
#define CNT_SUB(bus, field, n) __atomic_sub_fetch(&(bus)->field, (n), __ATOMIC_RELAXED)
#define CNT_GET(bus, field) __atomic_load_n(&(bus)->field, __ATOMIC_RELAXED)

/* nats.c handles are used through our opaque names without a wrapper
 * allocation: these types are never defined, only converted back. */
#define NMSG(m) ((natsMsg *)(m))
#define BMSG(m) ((struct mdm_bus_msg *)(m))

/* ---- errors ----------------------------------------------------------- */

/* nats.c's last error text on this thread when it is about `s` (without the
 * "(conn.c:123): " source prefix), else the generic text of `s`. */
static const char *nats_text(natsStatus s)
{
	natsStatus last = NATS_OK;
	const char *t = nats_GetLastError(&last);

	if (!t || !*t || last != s)
		return natsStatus_GetText(s);
	if (t[0] == '(') {
		const char *e = strstr(t, "): ");

		if (e)
			t = e + 3;
	}
	return t;
}

static int status_errno(natsStatus s, jsErrCode jerr)
{
	switch ((int)jerr) {
	case 0:
		break;
	case JSStreamNotFoundErr:
	case JSConsumerNotFoundErr:
	case JSNoMessageFoundErr:
		return -ENOENT;
	case JSNotEnabledErr:
	case JSNotEnabledForAccountErr:
		return -ENOTSUP;
	case JSStreamNameExistErr:
	case JSConsumerNameExistErr:
		return -EEXIST;
	case JSInsufficientResourcesErr:
		return -ENOSPC;
	case JSStreamMessageExceedsMaximumErr:
		return -EMSGSIZE;
	case JSClusterNotAvailErr:
		return -EAGAIN;
	default:
		/* Any other JetStream error is the server refusing what we asked:
		 * config validation, update not allowed, wrong sequence... */
		return -EINVAL;
	}
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_NO_SERVER:
		return -ECONNREFUSED;
	case NATS_CONNECTION_AUTH_FAILED:
		return -EACCES;
	case NATS_NOT_PERMITTED:
		return -EPERM;
	case NATS_SSL_ERROR:
	case NATS_SECURE_CONNECTION_WANTED:
	case NATS_SECURE_CONNECTION_REQUIRED:
	case NATS_PROTOCOL_ERROR:
		return -EPROTO;
	case NATS_TIMEOUT:
		return -ETIMEDOUT;
	case NATS_NOT_FOUND:
		return -ENOENT;
	case NATS_NO_MEMORY:
		return -ENOMEM;
	case NATS_INVALID_ARG:
	case NATS_INVALID_SUBJECT:
	case NATS_INVALID_TIMEOUT:
	case NATS_ADDRESS_MISSING:
	case NATS_INVALID_QUEUE_NAME:
	case NATS_INVALID_SUBSCRIPTION:
	case NATS_ILLEGAL_STATE:
		return -EINVAL;
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_NOT_YET_CONNECTED:
	case NATS_STALE_CONNECTION:
		return -ENOTCONN;
	case NATS_NO_RESPONDERS:
		return -EHOSTUNREACH;
	case NATS_MAX_PAYLOAD:
		return -EMSGSIZE;
	case NATS_INSUFFICIENT_BUFFER:
	case NATS_SLOW_CONSUMER:
		return -ENOBUFS;
	case NATS_DRAINING:
		return -ESHUTDOWN;
	case NATS_NO_SERVER_SUPPORT:
		return -ENOTSUP;
	default:
		return -EIO;
	}
}

static int bus_fail(natsStatus s, jsErrCode jerr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Convert a failed nats.c call: errno from (s, jerr), detail "<what>: <text>". */
static int bus_fail(natsStatus s, jsErrCode jerr, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	int err = status_errno(s, jerr);

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err == 0)
		err = -EIO;
	if (jerr)
		return mdm_err_set(err, "%s: %s (err_code %d)", what, nats_text(s), (int)jerr);
	return mdm_err_set(err, "%s: %s", what, nats_text(s));
}

/* Copy `in` to `out` without any "user:password@" part of its URLs, so no
 * credential reaches a log line or an error text. */
static void url_redact(const char *in, char *out, size_t out_len)
{
	size_t o = 0;

	while (*in && o + 1 < out_len) {
		if (strncmp(in, "://", 3) == 0) {
			size_t span = strcspn(in + 3, "@,/ ");

			for (int i = 0; i < 3 && o + 1 < out_len; i++)
				out[o++] = *in++;
			if (in[span] == '@')
				in += span + 1;
			continue;
		}
		out[o++] = *in++;
	}
	out[o] = '\0';
}

static void bus_url(struct mdm_bus *bus, char *buf, size_t len)
{
	char raw[BUS_URL_MAX];

	if (natsConnection_GetConnectedUrl(bus->nc, raw, sizeof(raw)) != NATS_OK || !raw[0])
		snprintf(raw, sizeof(raw), "%s", bus->urls_safe);
	url_redact(raw, buf, len);
}

static int js_fail(struct mdm_bus *bus, natsStatus s, jsErrCode jerr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A failed JetStream API request. No responder on $JS.API means the server
 * runs without JetStream: say so instead of "no responders". */
static int js_fail(struct mdm_bus *bus, natsStatus s, jsErrCode jerr, const char *fmt, ...)
{
	char what[256], url[BUS_URL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (s == NATS_NO_RESPONDERS || jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr) {
		bus_url(bus, url, sizeof(url));
		return mdm_err_set(-ENOTSUP, "%s: JetStream is not enabled on %s", what, url);
	}
	return bus_fail(s, jerr, "%s", what);
}

/* ---- connection callbacks (nats.c's callback thread) ------------------ */

static void take_back_pending(struct mdm_bus *bus, int err, const char *reason);

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct mdm_bus *bus = closure;
	char url[BUS_URL_MAX];
	bool closing;

	pthread_mutex_lock(&bus->mu);
	bus->connected = false;
	closing = bus->closing;
	pthread_mutex_unlock(&bus->mu);
	if (closing)
		return;
	CNT_ADD(bus, disconnects, 1);
	bus_url(bus, url, sizeof(url));
	mdm_log_warn("bus: disconnected from %s%s", url, bus->reconnects_allowed ? ", reconnecting" : "");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	struct mdm_bus *bus = closure;
	char url[BUS_URL_MAX];

	CNT_ADD(bus, reconnects, 1);
	pthread_mutex_lock(&bus->mu);
	bus->connected = true;
	pthread_cond_broadcast(&bus->retry_cond);
	pthread_mutex_unlock(&bus->mu);
	bus_url(bus, url, sizeof(url));
	mdm_log_info("bus: reconnected to %s", url);
}

/* nats.c's last callback for a connection: destroy waits for it before freeing.
 * A close that destroy did not ask for is final (reconnects exhausted): no ack
 * will ever come, so every publish in flight is reported failed now rather
 * than left hanging until destroy. */
static void on_closed(natsConnection *nc, void *closure)
{
	struct mdm_bus *bus = closure;
	bool closing;

	pthread_mutex_lock(&bus->mu);
	closing = bus->closing;
	bus->connected = false;
	bus->conn_dead = true;
	pthread_cond_broadcast(&bus->retry_cond);
	pthread_mutex_unlock(&bus->mu);
	if (!closing) {
		mdm_log_error("bus: connection to %s closed for good (no reconnect attempt left)", bus->urls_safe);
		take_back_pending(bus, -ENOTCONN, "connection closed before the ack");
	}
	pthread_mutex_lock(&bus->mu);
	bus->closed_seen = true;
	pthread_cond_broadcast(&bus->idle_cond);
	pthread_mutex_unlock(&bus->mu);
}

#define BUS_REFUSED_LOG_NS (1000 * MDM_NS_PER_MS)

/* A permissions violation names the subject only in the connection's error
 * text. A misconfigured permission can refuse every publish, so it is logged
 * at most once a second, with the running count. */
static void on_async_error(natsConnection *nc, natsSubscription *ns, natsStatus err, void *closure)
{
	struct mdm_bus *bus = closure;
	const char *text = NULL, *inbox;
	uint64_t n, now, last;

	if (err != NATS_NOT_PERMITTED) {
		mdm_log_warn("bus: %s%s%s", natsStatus_GetText(err), ns ? " on " : "",
			     ns ? natsSubscription_GetSubject(ns) : "");
		return;
	}
	n = CNT_ADD(bus, refused, 1);
	now = mdm_mono_ns();
	last = __atomic_load_n(&bus->refused_logged_ns, __ATOMIC_RELAXED);
	if (last && now - last < BUS_REFUSED_LOG_NS)
		return;
	if (!__atomic_compare_exchange_n(&bus->refused_logged_ns, &last, now, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	if (natsConnection_GetLastError(nc, &text) != NATS_NOT_PERMITTED || !text || !*text)
		text = natsStatus_GetText(err);
	/* no reply subjects, no JetStream API: the usual cause is a server that
	 * gives each user its own inbox prefix and a client not set to use it */
	inbox = strstr(text, "Subscription to \"");
	if (inbox && strncmp(inbox + 17, bus->inbox_prefix, strlen(bus->inbox_prefix)) == 0 &&
	    inbox[17 + strlen(bus->inbox_prefix)] == '.')
		mdm_log_error("bus: the server refused: %s (%" PRIu64 " refusal%s so far): replies come on %s.>, which "
			      "this user may not subscribe to; is a per-user inbox prefix expected?",
			      text, n, n == 1 ? "" : "s", bus->inbox_prefix);
	else
		mdm_log_error("bus: the server refused: %s (%" PRIu64 " refusal%s so far; check the user's permissions)",
			      text, n, n == 1 ? "" : "s");
}

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

/* Report the one outcome of a record, then free it. Called without bus->mu.
 * The release under the lock is the last access to `bus`: destroy waits for
 * in_flight == 0 and may free the bus right after. */
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
	rec_release_locked(bus, r);
	pthread_mutex_unlock(&bus->mu);
	natsMsg_Destroy(m);
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
static void fail_retry_queue_locked(struct mdm_bus *bus, int err, const char *reason)
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
 * still hashed afterwards is being completed by on_pub_ack right now. Only
 * once something was published: nats.c 3.4.1 crashes in
 * js_PublishAsyncGetPendingList before its pending map exists. */
static void take_back_pending(struct mdm_bus *bus, int err, const char *reason)
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

/* A send that may be repeated with the same Msg-Id: no ack in time (server
 * down, message or ack lost), or nobody listening yet (stream leader moving). */
static bool pub_err_transient(const jsPubAckErr *pae)
{
	return pae->Err == NATS_TIMEOUT || pae->Err == NATS_NO_RESPONDERS ||
	       pae->ErrCode == JSClusterNotAvailErr;
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
static bool pub_retry_due(const struct mdm_bus *bus, const struct pub_rec *r, const jsPubAckErr *pae,
			  uint64_t now_ns, uint64_t *delay_ns)
{
	uint64_t cap = (uint64_t)bus->ack_timeout_ms * MDM_NS_PER_MS, d = bus->retry_backoff_ns;

	if (!pub_err_transient(pae))
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
static void on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
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
	rec_fail(bus, r, closing ? -ECANCELED : status_errno(pae->Err, pae->ErrCode),
		 "%s (after %" PRIu32 " attempt%s)", pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err),
		 r->attempts, r->attempts == 1 ? "" : "s");
}

/* Resend thread: sends records from the retry queue again, in order, once
 * the connection is up and their due time has come. It may block in nats.c's
 * stall wait; that is why it is not the ack thread nor the caller's. */
static void *retry_main(void *arg)
{
	struct mdm_bus *bus = arg;

	pthread_mutex_lock(&bus->mu);
	while (!bus->closing) {
		struct pub_rec *r = bus->retry_head;
		jsPubOptions po;
		natsMsg *m;
		natsStatus s;
		uint64_t now;

		if (!r) {
			pthread_cond_wait(&bus->retry_cond, &bus->mu);
			continue;
		}
		if (bus->conn_dead) {
			fail_retry_queue_locked(bus, -ENOTCONN, "connection closed before the resend");
			continue;
		}
		now = mdm_mono_ns();
		if (!bus->connected || r->due_ns > now) {
			/* Resending into the reconnect buffer would only burn attempts;
			 * on_reconnected wakes us, the timeout covers a missed wake-up. */
			uint64_t wait_ns = bus->connected ? r->due_ns - now : 100 * MDM_NS_PER_MS;
			uint64_t until = now + wait_ns;
			struct timespec ts = { (time_t)(until / MDM_NS_PER_S), (long)(until % MDM_NS_PER_S) };

			pthread_cond_timedwait(&bus->retry_cond, &bus->mu, &ts);
			continue;
		}
		bus->retry_head = r->next;
		if (!bus->retry_head)
			bus->retry_tail = NULL;
		r->attempts++;
		rec_hash_insert(bus, r);
		m = r->msg;
		pthread_mutex_unlock(&bus->mu);

		jsPubOptions_Init(&po);
		po.MaxWait = bus->ack_timeout_ms;
		s = js_PublishMsgAsync(bus->js, &m, &po);
		if (s == NATS_OK) {
			/* `r` may already be completed and reused: do not touch it. */
			CNT_ADD(bus, retries, 1);
			pthread_mutex_lock(&bus->mu);
			continue;
		}
		/* Not sent: nats.c gave the message back and will not call on_pub_ack. */
		pthread_mutex_lock(&bus->mu);
		rec_hash_remove(bus, r->msg);
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

/* ---- create / destroy ------------------------------------------------- */

void mdm_bus_params_init(struct mdm_bus_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_reconnect = -1;
}

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v ? v : def;
}

/* " (hint)" or "": the caller's advice on which settings to check. */
#define HINT_FMT "%s%s%s"
#define HINT_ARGS(h) (h) ? " (" : "", (h) ? (h) : "", (h) ? ")" : ""

/* A file the connection needs, checked up front: nats.c's own message for
 * an unreadable CA or key file carries no reason. */
static int file_check(const char *what, const char *path, const char *hint)
{
	int err;

	if (!path || access(path, R_OK) == 0)
		return 0;
	err = errno;
	return mdm_err_set(-err, "bus: %s %s: %s" HINT_FMT, what, path, strerror(err), HINT_ARGS(hint));
}

/* A private key (seed, TLS key, creds) others can read is a leak waiting
 * to happen: say so, as ssh does, but connect anyway. */
static void warn_if_shared(const char *what, const char *path)
{
	struct stat st;

	if (path && stat(path, &st) == 0 && (st.st_mode & 077))
		mdm_log_warn("bus: %s %s is readable by others (mode %04o): chmod 600 it", what, path,
			     (unsigned)(st.st_mode & 07777));
}

static int params_check(const struct mdm_bus_params *p)
{
	int rc;

	int kinds = !!p->user + !!p->token + !!p->nkey_seed_file + !!p->creds_file;

	if (!p->urls || !*p->urls)
		return mdm_err_set(-EINVAL, "bus: urls is empty");
	if (p->user && !p->password)
		return mdm_err_set(-EINVAL, "bus: user '%s' has no password" HINT_FMT, p->user, HINT_ARGS(p->auth_hint));
	if (p->password && !p->user)
		return mdm_err_set(-EINVAL, "bus: a password without a user" HINT_FMT, HINT_ARGS(p->auth_hint));
	if (p->nkey_public && !p->nkey_seed_file)
		return mdm_err_set(-EINVAL, "bus: nkey_public without nkey_seed_file");
	/* nats.c would quietly use one and drop the others: refuse the doubt */
	if (kinds > 1)
		return mdm_err_set(-EINVAL, "bus: more than one kind of credentials is set (user, token, nkey seed, "
					    "creds file): keep one");
	if (!p->tls_cert != !p->tls_key)
		return mdm_err_set(-EINVAL, "bus: tls_cert and tls_key go together" HINT_FMT, HINT_ARGS(p->tls_hint));
	if (p->inbox_prefix && (!*p->inbox_prefix || strlen(p->inbox_prefix) >= 64 ||
				strpbrk(p->inbox_prefix, " \t*>") || p->inbox_prefix[strlen(p->inbox_prefix) - 1] == '.'))
		return mdm_err_set(-EINVAL, "bus: inbox_prefix '%s': 1-63 characters, no blanks or wildcards, "
					    "no trailing dot", p->inbox_prefix);
	if ((rc = file_check("tls_ca", p->tls_ca, p->tls_hint)) < 0 ||
	    (rc = file_check("tls_cert", p->tls_cert, p->tls_hint)) < 0 ||
	    (rc = file_check("tls_key", p->tls_key, p->tls_hint)) < 0 ||
	    (rc = file_check("creds file", p->creds_file, p->auth_hint)) < 0)
		return rc;
	if (p->max_reconnect < -1)
		return mdm_err_set(-EINVAL, "bus: max_reconnect %d (use -1 for forever)", p->max_reconnect);
	if (p->reconnect_buf_bytes > INT_MAX)
		return mdm_err_set(-EINVAL, "bus: reconnect_buf_bytes %" PRIu64 " above %d", p->reconnect_buf_bytes,
				   INT_MAX);
	if (p->max_pending > (1U << 24))
		return mdm_err_set(-EINVAL, "bus: max_pending %" PRIu32 " above %u", p->max_pending, 1U << 24);
	if (p->connect_timeout_ms > INT64_MAX / 2 || p->reconnect_wait_ms > INT64_MAX / 2 ||
	    p->api_timeout_ms > INT64_MAX / 2 || p->stall_wait_ms > INT64_MAX / 2 ||
	    p->ack_timeout_ms > INT64_MAX / 2 || p->retry_backoff_ms > UINT64_MAX / MDM_NS_PER_MS)
		return mdm_err_set(-EINVAL, "bus: a timeout is out of range");
	return 0;
}

/* Split "a, b,c" into trimmed strings in one buffer (for natsOptions_SetServers). */
static int urls_split(const char *urls, char **buf, const char ***list, int *n)
{
	size_t len = strlen(urls), count = 1;
	char *p, *save = NULL, *tok;

	for (const char *c = urls; *c; c++)
		count += *c == ',';
	*buf = mdm_malloc(len + 1);
	*list = mdm_calloc(count, sizeof(**list));
	if (!*buf || !*list)
		return mdm_err_set(-ENOMEM, "bus: out of memory");
	memcpy(*buf, urls, len + 1);
	*n = 0;
	for (p = *buf; (tok = strtok_r(p, ",", &save)); p = NULL) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		for (char *e = tok + strlen(tok); e > tok && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = '\0';
		if (*tok)
			(*list)[(*n)++] = tok;
	}
	if (*n == 0)
		return mdm_err_set(-EINVAL, "bus: urls has no URL");
	return 0;
}

/* TLS asked for by the params or by a tls:// URL. */
static bool tls_wanted(const struct mdm_bus_params *p)
{
	return p->tls_required || p->tls_ca || p->tls_cert || strstr(p->urls, "tls://");
}

static natsStatus opts_fill(natsOptions *o, const struct mdm_bus_params *p, const char *nkey_public,
			    struct mdm_bus *bus, const char **urls, int n_urls)
{
	bool tls = tls_wanted(p);
	natsStatus s;

	s = natsOptions_SetServers(o, urls, n_urls);
	if (s == NATS_OK && p->name)
		s = natsOptions_SetName(o, p->name);
	if (s == NATS_OK && p->user)
		s = natsOptions_SetUserInfo(o, p->user, p->password);
	if (s == NATS_OK && p->token)
		s = natsOptions_SetToken(o, p->token);
	if (s == NATS_OK && p->creds_file)
		s = natsOptions_SetUserCredentialsFromFiles(o, p->creds_file, NULL);
	if (s == NATS_OK && p->nkey_seed_file)
		s = natsOptions_SetNKeyFromSeed(o, nkey_public, p->nkey_seed_file);
	if (s == NATS_OK && p->inbox_prefix)
		s = natsOptions_SetCustomInboxPrefix(o, p->inbox_prefix);
	if (s == NATS_OK && tls)
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK && p->tls_ca)
		s = natsOptions_LoadCATrustedCertificates(o, p->tls_ca);
	if (s == NATS_OK && p->tls_cert)
		s = natsOptions_LoadCertificatesChain(o, p->tls_cert, p->tls_key);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, (int64_t)or_default(p->connect_timeout_ms, 2000));
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(o, p->max_reconnect != 0);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, p->max_reconnect);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, (int64_t)or_default(p->reconnect_wait_ms, 250));
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(o, (int)or_default(p->reconnect_buf_bytes, 8 << 20));
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, on_disconnected, bus);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, bus);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(o, on_closed, bus);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(o, on_async_error, bus);
	return s;
}

/* Who we try to be: names and public keys, never a password, token or seed.
 * "" when no credentials are given. */
static void auth_who(const struct mdm_bus_params *p, const char *nkey_public, char *buf, size_t len)
{
	const char *scheme = strstr(p->urls, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;

	if (p->user)
		snprintf(buf, len, "user '%s'", p->user);
	else if (p->token)
		snprintf(buf, len, "the token");
	else if (p->nkey_seed_file)
		snprintf(buf, len, "nkey %s", nkey_public);
	else if (p->creds_file)
		snprintf(buf, len, "the credentials in %s", p->creds_file);
	else if (at && memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) &&
		 !memchr(scheme + 3, ',', (size_t)(at - scheme - 3)))
		snprintf(buf, len, "user '%.*s' of the URL", (int)strcspn(scheme + 3, ":"), scheme + 3);
	else if (at)
		snprintf(buf, len, "the credentials in the URL"); /* nats://TOKEN@host: no name to show */
	else
		buf[0] = '\0';
}

/* One line naming the server and the cause, never the credentials. */
static int connect_fail(struct mdm_bus *bus, const struct mdm_bus_params *p, const char *nkey_public, natsStatus s,
			uint64_t elapsed_ns, uint64_t timeout_ms)
{
	const char *u = bus->urls_safe;
	char who[160];

	switch (s) {
	case NATS_NO_SERVER:
		/* nats.c says only "no server available"; a refused TCP connect
		 * fails at once, an unreachable host uses up the connect timeout. */
		if (elapsed_ns >= timeout_ms * MDM_NS_PER_MS * 9 / 10)
			return mdm_err_set(-ETIMEDOUT, "%s: no answer within %" PRIu64 " ms", u, timeout_ms);
		return mdm_err_set(-ECONNREFUSED, "%s: connection refused", u);
	case NATS_CONNECTION_AUTH_FAILED:
		auth_who(p, nkey_public, who, sizeof(who));
		return mdm_err_set(-EACCES, "%s: authorization violation%s%s" HINT_FMT, u,
				   who[0] ? " for " : ": no credentials were given", who, HINT_ARGS(p->auth_hint));
	case NATS_SSL_ERROR:
	case NATS_SECURE_CONNECTION_WANTED:
	case NATS_SECURE_CONNECTION_REQUIRED:
		return mdm_err_set(-EPROTO, "%s: TLS failure: %s" HINT_FMT, u, nats_text(s), HINT_ARGS(p->tls_hint));
	case NATS_PROTOCOL_ERROR:
	case NATS_IO_ERROR:
		/* With TLS 1.3 the server checks the client certificate after our
		 * side of the handshake is done: a refusal shows up as the
		 * connection closing under our CONNECT (write error) or before
		 * the first PONG (protocol error), depending on timing. */
		if (tls_wanted(p))
			return mdm_err_set(-EPROTO, "%s: TLS failure: the server closed the connection after the handshake "
						    "(%s)" HINT_FMT, u,
					   p->tls_cert ? "it did not accept the client certificate"
						       : "it wants a client certificate",
					   HINT_ARGS(p->tls_hint));
		return bus_fail(s, 0, "%s", u);
	default:
		return bus_fail(s, 0, "%s", u);
	}
}

static int bus_sync_init(struct mdm_bus *bus)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca) != 0)
		return mdm_err_set(-ENOMEM, "bus: condattr");
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&bus->mu, NULL);
	pthread_cond_init(&bus->retry_cond, &ca);
	pthread_cond_init(&bus->idle_cond, &ca);
	pthread_condattr_destroy(&ca);
	bus->mu_ready = true;
	return 0;
}

static int bus_recs_init(struct mdm_bus *bus, uint32_t max_pending)
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

int mdm_bus_create(struct mdm_bus **out, const struct mdm_bus_params *p)
{
	struct mdm_bus *bus;
	natsOptions *o = NULL;
	const char **urls = NULL;
	char *urls_buf = NULL, safe[1024], nkey_public[MDM_NKEY_PUBLIC_LEN + 1] = "";
	uint32_t max_pending;
	uint64_t t0, timeout_ms;
	jsOptions jo;
	natsStatus s;
	int n_urls = 0, rc;

	*out = NULL;
	if ((rc = params_check(p)) < 0)
		return rc;
	bus = mdm_calloc(1, sizeof(*bus));
	if (!bus)
		return mdm_err_set(-ENOMEM, "bus: out of memory");
	url_redact(p->urls, safe, sizeof(safe));
	max_pending = (uint32_t)or_default(p->max_pending, 4096);
	bus->urls_safe = mdm_strdup(safe);
	snprintf(bus->inbox_prefix, sizeof(bus->inbox_prefix), "%s", p->inbox_prefix ? p->inbox_prefix : "_INBOX");
	bus->api_timeout_ms = (int64_t)or_default(p->api_timeout_ms, 5000);
	bus->ack_timeout_ms = (int64_t)or_default(p->ack_timeout_ms, 2000);
	bus->retry_backoff_ns = or_default(p->retry_backoff_ms, 100) * MDM_NS_PER_MS;
	bus->max_attempts = (uint32_t)or_default(p->max_attempts, 8);
	bus->connected = true;
	bus->reconnects_allowed = p->max_reconnect != 0;
	if (!bus->urls_safe) {
		rc = mdm_err_set(-ENOMEM, "bus: out of memory");
		goto err;
	}
	if ((rc = bus_sync_init(bus)) < 0 || (rc = bus_recs_init(bus, max_pending)) < 0 ||
	    (rc = urls_split(p->urls, &urls_buf, &urls, &n_urls)) < 0)
		goto err;

	warn_if_shared("nkey seed file", p->nkey_seed_file);
	warn_if_shared("tls_key", p->tls_key);
	warn_if_shared("creds file", p->creds_file);
	if (p->nkey_seed_file && !p->nkey_public &&
	    (rc = mdm_nkey_public_from_seed_file(p->nkey_seed_file, nkey_public)) < 0) {
		mdm_err_set(rc, "%s" HINT_FMT, mdm_err_last(), HINT_ARGS(p->auth_hint));
		goto err;
	}
	if (p->nkey_public)
		snprintf(nkey_public, sizeof(nkey_public), "%s", p->nkey_public);

	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = opts_fill(o, p, nkey_public, bus, urls, n_urls);
	if (s != NATS_OK) {
		rc = bus_fail(s, 0, "bus: options for %s", bus->urls_safe);
		goto err;
	}
	timeout_ms = or_default(p->connect_timeout_ms, 2000);
	t0 = mdm_mono_ns();
	s = natsConnection_Connect(&bus->nc, o);
	if (s != NATS_OK) {
		bus->nc = NULL;
		rc = connect_fail(bus, p, nkey_public, s, mdm_mono_ns() - t0, timeout_ms);
		goto err;
	}

	{
		char url[BUS_URL_MAX], who[160];

		bus_url(bus, url, sizeof(url));
		auth_who(p, nkey_public, who, sizeof(who));
		mdm_log_info("bus: connected to %s (%s%s%s)", url, tls_wanted(p) ? "TLS, " : "",
			     who[0] ? "as " : "no credentials", who);
	}
	jsOptions_Init(&jo);
	jo.Wait = bus->api_timeout_ms;
	jo.PublishAsync.MaxPending = max_pending;
	jo.PublishAsync.AckHandler = on_pub_ack;
	jo.PublishAsync.AckHandlerClosure = bus;
	jo.PublishAsync.StallWait = (int64_t)or_default(p->stall_wait_ms, 5);
	s = natsConnection_JetStream(&bus->js, bus->nc, &jo);
	if (s != NATS_OK) {
		bus->js = NULL;
		rc = bus_fail(s, 0, "bus: JetStream context");
		goto err;
	}
	if (pthread_create(&bus->retry_thread, NULL, retry_main, bus) != 0) {
		rc = mdm_err_set(-EAGAIN, "bus: cannot start the resend thread");
		goto err;
	}
	bus->retry_started = true;
	natsOptions_Destroy(o);
	mdm_free(urls);
	mdm_free(urls_buf);
	*out = bus;
	return 0;
err:
	natsOptions_Destroy(o);
	mdm_free(urls);
	mdm_free(urls_buf);
	mdm_bus_destroy(bus);
	return rc;
}

/* Wait on idle_cond until `done` holds or timeout_ms pass. Caller holds mu. */
static bool bus_wait_locked(struct mdm_bus *bus, bool (*done)(const struct mdm_bus *), uint64_t timeout_ms)
{
	uint64_t until = mdm_mono_ns() + timeout_ms * MDM_NS_PER_MS;
	struct timespec ts = { (time_t)(until / MDM_NS_PER_S), (long)(until % MDM_NS_PER_S) };

	while (!done(bus)) {
		if (pthread_cond_timedwait(&bus->idle_cond, &bus->mu, &ts) == ETIMEDOUT)
			return done(bus);
	}
	return true;
}

static bool closed_seen(const struct mdm_bus *bus)
{
	return bus->closed_seen;
}

static bool nothing_in_flight(const struct mdm_bus *bus)
{
	return CNT_GET(bus, in_flight) == 0;
}

void mdm_bus_destroy(struct mdm_bus *bus)
{
	bool idle;

	if (!bus)
		return;
	if (bus->mu_ready) {
		pthread_mutex_lock(&bus->mu);
		bus->closing = true;
		pthread_cond_broadcast(&bus->retry_cond);
		pthread_mutex_unlock(&bus->mu);
	}
	if (bus->retry_started)
		pthread_join(bus->retry_thread, NULL);
	if (bus->nc) {
		/* After Close no ack can arrive; wait for the closed callback so no
		 * connection callback runs on a freed bus. */
		natsConnection_Close(bus->nc);
		pthread_mutex_lock(&bus->mu);
		if (!bus_wait_locked(bus, closed_seen, BUS_CLOSE_WAIT_MS))
			mdm_log_warn("bus: no closed callback from nats.c after %llu ms",
				     (unsigned long long)BUS_CLOSE_WAIT_MS);
		pthread_mutex_unlock(&bus->mu);
	}
	take_back_pending(bus, -ECANCELED, "bus destroyed before the ack");
	if (bus->mu_ready) {
		pthread_mutex_lock(&bus->mu);
		fail_retry_queue_locked(bus, -ECANCELED, "bus destroyed before the resend");
		idle = bus_wait_locked(bus, nothing_in_flight, BUS_IDLE_WAIT_MS);
		pthread_mutex_unlock(&bus->mu);
		if (!idle) {
			/* An ack handler is still running on our memory: leaking the bus
			 * is the only safe choice left. */
			mdm_log_error("bus: %" PRIu64 " publishes still completing after %llu ms; bus leaked",
				      CNT_GET(bus, in_flight), (unsigned long long)BUS_IDLE_WAIT_MS);
			return;
		}
	}
	jsCtx_Destroy(bus->js);
	natsConnection_Destroy(bus->nc);
	if (bus->mu_ready) {
		pthread_cond_destroy(&bus->retry_cond);
		pthread_cond_destroy(&bus->idle_cond);
		pthread_mutex_destroy(&bus->mu);
	}
	mdm_free(bus->recs);
	mdm_free(bus->buckets);
	mdm_free(bus->urls_safe);
	mdm_free(bus);
}

bool mdm_bus_connected(struct mdm_bus *bus)
{
	return bus && bus->nc && natsConnection_Status(bus->nc) == NATS_CONN_STATUS_CONNECTED;
}

void mdm_bus_shutdown(void)
{
	nats_Close();
}

/* ---- async publish ---------------------------------------------------- */

void mdm_bus_set_ack_handler(struct mdm_bus *bus, mdm_bus_ack_fn fn, void *ctx)
{
	bus->ack_fn = fn;
	bus->ack_ctx = ctx;
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
	if (CNT_GET(bus, in_flight) >= bus->cap) {
		CNT_ADD(bus, stalls, 1);
		return mdm_err_set(-EAGAIN, "bus: %" PRIu32 " publishes awaiting an outcome", bus->cap);
	}
	s = natsMsg_Create(&m, subject, NULL, data, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, BUS_HDR_MSG_ID, msg_id);
	if (s == NATS_OK && content_type)
		s = natsMsgHeader_Set(m, BUS_HDR_CONTENT_TYPE, content_type);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		return bus_fail(s, 0, "bus: message for %s", subject);
	}

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
	/* Hashed before the send: the ack may arrive before js_PublishMsgAsync returns. */
	rec_hash_insert(bus, r);
	pthread_mutex_unlock(&bus->mu);

	jsPubOptions_Init(&po);
	po.MaxWait = bus->ack_timeout_ms;
	sent = m;
	s = js_PublishMsgAsync(bus->js, &sent, &po);
	if (s == NATS_OK) {
		CNT_ADD(bus, published, 1);
		return 0;
	}
	/* Not sent and not tracked by nats.c: undo, the caller keeps the token. */
	pthread_mutex_lock(&bus->mu);
	rec_hash_remove(bus, m);
	rec_release_locked(bus, r);
	pthread_mutex_unlock(&bus->mu);
	natsMsg_Destroy(m);
	/* Window full (stall), reconnect buffer full, or the socket broke under
	 * this very write (EPIPE while the disconnect is being noticed): all
	 * pass. A copy that did reach the server makes the caller's retry a
	 * DUPLICATE, which is still exactly once. */
	if (s == NATS_TIMEOUT || s == NATS_INSUFFICIENT_BUFFER || s == NATS_IO_ERROR ||
	    s == NATS_CONNECTION_DISCONNECTED || s == NATS_STALE_CONNECTION) {
		CNT_ADD(bus, stalls, 1);
		return mdm_err_set(-EAGAIN, "bus: publish to %s not accepted: %s", subject, nats_text(s));
	}
	return bus_fail(s, 0, "bus: publish to %s", subject);
}

int mdm_bus_publish_drain(struct mdm_bus *bus, uint64_t timeout_ms)
{
	bool idle;

	pthread_mutex_lock(&bus->mu);
	idle = bus_wait_locked(bus, nothing_in_flight, timeout_ms);
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
}

/* ---- core NATS -------------------------------------------------------- */

int mdm_bus_publish(struct mdm_bus *bus, const char *subject, const void *data, size_t len)
{
	natsStatus s;

	if (!bus || !subject || !*subject || (len && !data) || len > INT_MAX)
		return mdm_err_set(-EINVAL, "bus: publish: bad arguments");
	s = natsConnection_Publish(bus->nc, subject, data, (int)len);
	if (s != NATS_OK)
		return bus_fail(s, 0, "bus: publish to %s", subject);
	return 0;
}

int mdm_bus_flush(struct mdm_bus *bus, uint64_t timeout_ms)
{
	natsStatus s = natsConnection_FlushTimeout(bus->nc, (int64_t)(timeout_ms ? timeout_ms : 1));
	const char *text = NULL;

	if (s != NATS_OK)
		return bus_fail(s, 0, "bus: flush");
	/* the server answers a refused PUB/SUB with -ERR before the PONG that
	 * ended the flush, and nats.c records it on the connection in order */
	if (natsConnection_GetLastError(bus->nc, &text) == NATS_NOT_PERMITTED)
		return mdm_err_set(-EPERM, "bus: the server refused: %s", text && *text ? text : "permissions violation");
	return 0;
}

static void on_core_msg(natsConnection *nc, natsSubscription *ns, natsMsg *m, void *closure)
{
	struct mdm_bus_sub *sub = closure;

	sub->fn(sub->ctx, BMSG(m));
	natsMsg_Destroy(m);
}

static void on_sub_complete(void *closure)
{
	struct mdm_bus_sub *sub = closure;

	pthread_mutex_lock(&sub->mu);
	sub->done = true;
	pthread_cond_broadcast(&sub->cond);
	pthread_mutex_unlock(&sub->mu);
}

static struct mdm_bus_sub *sub_new(struct mdm_bus *bus, bool pull)
{
	struct mdm_bus_sub *sub = mdm_calloc(1, sizeof(*sub));

	if (!sub)
		return NULL;
	sub->bus = bus;
	sub->pull = pull;
	pthread_mutex_init(&sub->mu, NULL);
	pthread_cond_init(&sub->cond, NULL);
	return sub;
}

/* Whether the connection's last error is the server refusing a subscription
 * to `subject` (nats.c keeps the text: Permissions Violation for
 * Subscription to "<subject>"). */
static bool sub_refused(struct mdm_bus *bus, const char *subject)
{
	const char *text = NULL, *q;
	size_t n = strlen(subject);

	if (natsConnection_GetLastError(bus->nc, &text) != NATS_NOT_PERMITTED || !text)
		return false;
	q = strstr(text, "Subscription to \"");
	return q && strncmp(q + 17, subject, n) == 0 && q[17 + n] == '"';
}

int mdm_bus_subscribe(struct mdm_bus *bus, const char *subject, mdm_bus_msg_fn fn, void *ctx,
		      struct mdm_bus_sub **out)
{
	struct mdm_bus_sub *sub;
	natsStatus s;

	*out = NULL;
	if (!bus || !subject || !*subject || !fn)
		return mdm_err_set(-EINVAL, "bus: subscribe: bad arguments");
	sub = sub_new(bus, false);
	if (!sub)
		return mdm_err_set(-ENOMEM, "bus: out of memory");
	sub->fn = fn;
	sub->ctx = ctx;
	s = natsConnection_Subscribe(&sub->ns, bus->nc, subject, on_core_msg, sub);
	if (s == NATS_OK)
		s = natsSubscription_SetOnCompleteCB(sub->ns, on_sub_complete, sub);
	/* The server knows the interest once the flush returns: nothing published
	 * after this call is missed (advisories are not replayed). */
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(bus->nc, bus->api_timeout_ms);
	if (s != NATS_OK) {
		int rc = bus_fail(s, 0, "bus: subscribe to %s", subject);

		mdm_bus_sub_destroy(sub);
		return rc;
	}
	/* A refused SUB is answered with -ERR before that PONG; the subscription
	 * would then never deliver anything, so say so now. */
	if (sub_refused(bus, subject)) {
		mdm_bus_sub_destroy(sub);
		return mdm_err_set(-EPERM, "bus: subscribe to %s: the server's permissions refuse it", subject);
	}
	*out = sub;
	return 0;
}

static bool sub_wait_done(struct mdm_bus_sub *sub, uint64_t timeout_ms)
{
	uint64_t until = mdm_real_ns() + timeout_ms * MDM_NS_PER_MS;
	struct timespec ts = { (time_t)(until / MDM_NS_PER_S), (long)(until % MDM_NS_PER_S) };
	bool done;

	pthread_mutex_lock(&sub->mu);
	while (!sub->done && pthread_cond_timedwait(&sub->cond, &sub->mu, &ts) != ETIMEDOUT)
		;
	done = sub->done;
	pthread_mutex_unlock(&sub->mu);
	return done;
}

void mdm_bus_sub_destroy(struct mdm_bus_sub *sub)
{
	if (!sub)
		return;
	if (sub->ns && !sub->pull) {
		/* Unsubscribe closes the subscription; its delivery thread runs the
		 * callback in progress, if any, then on_sub_complete. Only then may
		 * the caller's ctx go away. */
		natsSubscription_Unsubscribe(sub->ns);
		if (!sub_wait_done(sub, BUS_CLOSE_WAIT_MS)) {
			mdm_log_error("bus: subscription %s did not finish; leaked",
				      natsSubscription_GetSubject(sub->ns));
			return;
		}
	}
	natsSubscription_Destroy(sub->ns);
	pthread_cond_destroy(&sub->cond);
	pthread_mutex_destroy(&sub->mu);
	mdm_free(sub);
}

/* ---- streams ---------------------------------------------------------- */

static int64_t limit_or_unlimited(int64_t v)
{
	return v > 0 ? v : -1;
}

static jsRetentionPolicy retention_of(enum mdm_stream_retention r)
{
	return r == MDM_STREAM_INTEREST ? js_InterestPolicy : r == MDM_STREAM_WORKQUEUE ? js_WorkQueuePolicy
											: js_LimitsPolicy;
}

static int stream_cfg_check(const struct mdm_stream_cfg *cfg)
{
	if (!cfg || !cfg->name || !*cfg->name)
		return mdm_err_set(-EINVAL, "bus: stream without a name");
	if (!cfg->subjects || cfg->n_subjects == 0 || cfg->n_subjects > INT_MAX)
		return mdm_err_set(-EINVAL, "stream %s: no subjects", cfg->name);
	for (size_t i = 0; i < cfg->n_subjects; i++)
		if (!cfg->subjects[i] || !*cfg->subjects[i])
			return mdm_err_set(-EINVAL, "stream %s: subject %zu is empty", cfg->name, i);
	if (cfg->max_msg_size > INT32_MAX)
		return mdm_err_set(-EINVAL, "stream %s: max_msg_size %" PRId64 " above %d", cfg->name,
				   cfg->max_msg_size, INT32_MAX);
	if (cfg->duplicate_window_ns > INT64_MAX || cfg->replicas < 0 ||
	    cfg->retention > MDM_STREAM_WORKQUEUE)
		return mdm_err_set(-EINVAL, "stream %s: duplicate_window, replicas or retention out of range",
				   cfg->name);
	return 0;
}

/* Set the fields mdmesh manages; the others keep what `c` already holds. */
static void stream_cfg_apply(jsStreamConfig *c, const struct mdm_stream_cfg *cfg, const char **subjects)
{
	for (size_t i = 0; i < cfg->n_subjects; i++)
		subjects[i] = cfg->subjects[i];
	c->Name = cfg->name;
	c->Subjects = subjects;
	c->SubjectsLen = (int)cfg->n_subjects;
	c->Retention = retention_of(cfg->retention);
	c->Storage = cfg->memory ? js_MemoryStorage : js_FileStorage;
	c->MaxAge = cfg->max_age_ns > 0 ? cfg->max_age_ns : 0;
	c->MaxBytes = limit_or_unlimited(cfg->max_bytes);
	c->MaxMsgs = limit_or_unlimited(cfg->max_msgs);
	c->MaxMsgsPerSubject = limit_or_unlimited(cfg->max_msgs_per_subject);
	c->MaxMsgSize = (int32_t)limit_or_unlimited(cfg->max_msg_size);
	if (cfg->duplicate_window_ns)
		c->Duplicates = (int64_t)cfg->duplicate_window_ns;
	c->Replicas = cfg->replicas > 0 ? cfg->replicas : 1;
	c->Discard = cfg->discard_new ? js_DiscardNew : js_DiscardOld;
	c->AllowDirect = cfg->allow_direct;
}

#define DIFF_INT(field, want, have)                                                               \
	do {                                                                                      \
		if ((int64_t)(want) != (int64_t)(have)) {                                         \
			snprintf(why, why_len, "%s (wanted %" PRId64 ", server has %" PRId64 ")", \
				 field, (int64_t)(want), (int64_t)(have));                        \
			return true;                                                              \
		}                                                                                 \
	} while (0)

/* Does the server's config `h` differ from `cfg` in a field mdmesh manages?
 * If so `why` names the first such field. */
static bool stream_cfg_differs(const struct mdm_stream_cfg *cfg, const jsStreamConfig *h, char *why,
			       size_t why_len)
{
	DIFF_INT("subjects count", cfg->n_subjects, h->SubjectsLen);
	for (size_t i = 0; i < cfg->n_subjects; i++) {
		if (!h->Subjects[i] || strcmp(cfg->subjects[i], h->Subjects[i]) != 0) {
			snprintf(why, why_len, "subjects[%zu] (wanted %s, server has %s)", i, cfg->subjects[i],
				 h->Subjects[i] ? h->Subjects[i] : "none");
			return true;
		}
	}
	DIFF_INT("retention", retention_of(cfg->retention), h->Retention);
	DIFF_INT("storage (memory=1)", cfg->memory ? js_MemoryStorage : js_FileStorage, h->Storage);
	DIFF_INT("max_age", cfg->max_age_ns > 0 ? cfg->max_age_ns : 0, h->MaxAge);
	DIFF_INT("max_bytes", limit_or_unlimited(cfg->max_bytes), h->MaxBytes);
	DIFF_INT("max_msgs", limit_or_unlimited(cfg->max_msgs), h->MaxMsgs);
	DIFF_INT("max_msgs_per_subject", limit_or_unlimited(cfg->max_msgs_per_subject), h->MaxMsgsPerSubject);
	DIFF_INT("max_msg_size", limit_or_unlimited(cfg->max_msg_size), h->MaxMsgSize);
	if (cfg->duplicate_window_ns)
		DIFF_INT("duplicate_window", cfg->duplicate_window_ns, h->Duplicates);
	DIFF_INT("replicas", cfg->replicas > 0 ? cfg->replicas : 1, h->Replicas);
	DIFF_INT("discard (new=1)", cfg->discard_new ? js_DiscardNew : js_DiscardOld, h->Discard);
	DIFF_INT("allow_direct", cfg->allow_direct, h->AllowDirect);
	return false;
}

/* After a replica count change: wait until the stream has a leader and every
 * other replica is current. Right after the update the new replicas are still
 * catching up, and a KV watch started then saw an empty bucket (nats-server
 * 2.9.10, R1 -> R3). 0, -EINVAL (no cluster), or -ETIMEDOUT after 4 API
 * timeouts. */
static int stream_wait_current(struct mdm_bus *bus, const char *stream, int replicas)
{
	uint64_t timeout_ms = 4 * (uint64_t)bus->api_timeout_ms;
	uint64_t deadline = mdm_mono_ns() + timeout_ms * MDM_NS_PER_MS;
	int current = 0;

	for (;;) {
		jsStreamInfo *si = NULL;
		jsErrCode jerr = 0;
		natsStatus s = js_GetStreamInfo(&si, bus->js, stream, NULL, &jerr);

		current = 0;
		if (s == NATS_OK && !si->Cluster) {
			/* 2.9.10 stores any replica count on update, even where it cannot be */
			jsStreamInfo_Destroy(si);
			return mdm_err_set(-EINVAL, "stream %s: %d replicas need a JetStream cluster; this server is "
						    "not clustered", stream, replicas);
		}
		if (s == NATS_OK && si->Cluster->Leader && si->Cluster->Leader[0]) {
			current = 1;
			for (int i = 0; i < si->Cluster->ReplicasLen; i++)
				current += si->Cluster->Replicas[i]->Current && !si->Cluster->Replicas[i]->Offline;
		}
		jsStreamInfo_Destroy(si);
		if (current >= replicas)
			return 0;
		if (mdm_mono_ns() >= deadline)
			return mdm_err_set(-ETIMEDOUT, "stream %s: %d of %d replicas current after %" PRIu64 " ms",
					   stream, current, replicas, timeout_ms);
		mdm_sleep_ns(50 * MDM_NS_PER_MS);
	}
}

static bool stream_missing(natsStatus s, jsErrCode jerr)
{
	return jerr == JSStreamNotFoundErr || (s == NATS_NOT_FOUND && jerr == 0);
}

int mdm_bus_stream_ensure(struct mdm_bus *bus, const struct mdm_stream_cfg *cfg)
{
	jsStreamInfo *si = NULL, *done = NULL;
	const char **subjects = NULL;
	jsStreamConfig c;
	jsErrCode jerr = 0;
	bool scaled = false;    /* the update changes the replica count */
	char why[256];
	natsStatus s;
	int rc, err;

	if ((rc = stream_cfg_check(cfg)) < 0)
		return rc;
	subjects = mdm_calloc(cfg->n_subjects, sizeof(*subjects));
	if (!subjects)
		return mdm_err_set(-ENOMEM, "stream %s: out of memory", cfg->name);

	s = js_GetStreamInfo(&si, bus->js, cfg->name, NULL, &jerr);
	if (s != NATS_OK && stream_missing(s, jerr)) {
		jsStreamConfig_Init(&c);
		stream_cfg_apply(&c, cfg, subjects);
		jerr = 0;
		s = js_AddStream(&done, bus->js, &c, NULL, &jerr);
		if (s != NATS_OK) {
			rc = js_fail(bus, s, jerr, "stream %s: create", cfg->name);
			goto out;
		}
		rc = MDM_BUS_CREATED;
	} else if (s != NATS_OK) {
		rc = js_fail(bus, s, jerr, "stream %s: info", cfg->name);
		goto out;
	} else if (stream_cfg_differs(cfg, si->Config, why, sizeof(why))) {
		mdm_log_info("stream %s: updating, %s", cfg->name, why);
		scaled = si->Config->Replicas != (cfg->replicas > 0 ? cfg->replicas : 1);
		c = *si->Config; /* keep what mdmesh does not manage (sources, rollup...) */
		stream_cfg_apply(&c, cfg, subjects);
		jerr = 0;
		s = js_UpdateStream(&done, bus->js, &c, NULL, &jerr);
		if (s != NATS_OK) {
			rc = js_fail(bus, s, jerr, "stream %s: update (%s)", cfg->name, why);
			goto out;
		}
		rc = MDM_BUS_UPDATED;
	} else {
		rc = MDM_BUS_UNCHANGED;
	}
	if (rc != MDM_BUS_UNCHANGED) {
		/* Read back: 2.9.10 accepts fields it does not know and drops them. */
		jsStreamInfo_Destroy(si);
		si = NULL;
		jerr = 0;
		s = js_GetStreamInfo(&si, bus->js, cfg->name, NULL, &jerr);
		if (s != NATS_OK)
			rc = js_fail(bus, s, jerr, "stream %s: read back", cfg->name);
		else if (stream_cfg_differs(cfg, si->Config, why, sizeof(why)))
			rc = mdm_err_set(-EPROTO, "stream %s: server did not apply %s", cfg->name, why);
		else if (scaled && cfg->replicas > 1 && (err = stream_wait_current(bus, cfg->name, cfg->replicas)) < 0) {
			/* A big stream takes longer to copy: scaled, only not yet current. */
			if (err == -ETIMEDOUT)
				mdm_log_warn("%s; going on, the new replicas catch up in the background", mdm_err_last());
			else
				rc = err;
		}
	}
out:
	jsStreamInfo_Destroy(si);
	jsStreamInfo_Destroy(done);
	mdm_free(subjects);
	return rc;
}

int mdm_bus_stream_info(struct mdm_bus *bus, const char *name, struct mdm_bus_stream_info *info)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	memset(info, 0, sizeof(*info));
	if (!name || !*name)
		return mdm_err_set(-EINVAL, "bus: stream_info without a name");
	s = js_GetStreamInfo(&si, bus->js, name, NULL, &jerr);
	if (s != NATS_OK) {
		if (stream_missing(s, jerr))
			return mdm_err_set(-ENOENT, "stream %s: not found", name);
		return js_fail(bus, s, jerr, "stream %s: info", name);
	}
	info->msgs = si->State.Msgs;
	info->bytes = si->State.Bytes;
	info->first_seq = si->State.FirstSeq;
	info->last_seq = si->State.LastSeq;
	info->consumers = si->State.Consumers > 0 ? (uint64_t)si->State.Consumers : 0;
	jsStreamInfo_Destroy(si);
	return 0;
}

int mdm_bus_stream_msg_get(struct mdm_bus *bus, const char *stream, uint64_t seq, struct mdm_bus_msg **out)
{
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	*out = NULL;
	if (!stream || !*stream || seq == 0)
		return mdm_err_set(-EINVAL, "bus: stream_msg_get: bad arguments");
	s = js_GetMsg(&m, bus->js, stream, seq, NULL, &jerr);
	if (s != NATS_OK)
		return js_fail(bus, s, jerr, "stream %s: get message %" PRIu64, stream, seq);
	*out = BMSG(m);
	return 0;
}

/* ---- consumers -------------------------------------------------------- */

static jsDeliverPolicy deliver_of(enum mdm_consumer_deliver d)
{
	return d == MDM_CONSUMER_DELIVER_NEW ? js_DeliverNew : d == MDM_CONSUMER_DELIVER_LAST ? js_DeliverLast
											      : js_DeliverAll;
}

static int consumer_cfg_check(const char *stream, const char *durable, const struct mdm_consumer_cfg *cfg)
{
	if (!stream || !*stream || !durable || !*durable || !cfg)
		return mdm_err_set(-EINVAL, "bus: consumer_ensure: bad arguments");
	if (strpbrk(durable, ".*> \t"))
		return mdm_err_set(-EINVAL, "consumer %s: name may not contain '.', '*', '>' or blanks", durable);
	if (cfg->n_backoff > INT_MAX || (cfg->n_backoff && !cfg->backoff_ns) ||
	    cfg->deliver > MDM_CONSUMER_DELIVER_LAST || cfg->ack_wait_ns < 0 || cfg->max_ack_pending < 0 ||
	    cfg->max_waiting < 0)
		return mdm_err_set(-EINVAL, "consumer %s: backoff, deliver, ack_wait, max_ack_pending or "
				   "max_waiting out of range", durable);
	for (size_t i = 0; i < cfg->n_backoff; i++)
		if (cfg->backoff_ns[i] <= 0)
			return mdm_err_set(-EINVAL, "consumer %s: backoff[%zu] must be > 0", durable, i);
	/* The server replaces AckWait by BackOff[0]; a different ack_wait would
	 * only fail the read-back. */
	if (cfg->n_backoff && cfg->ack_wait_ns && cfg->ack_wait_ns != cfg->backoff_ns[0])
		return mdm_err_set(-EINVAL, "consumer %s: ack_wait must be 0 or backoff[0] when backoff is set",
				   durable);
	return 0;
}

static int64_t consumer_ack_wait(const struct mdm_consumer_cfg *cfg)
{
	return cfg->n_backoff ? cfg->backoff_ns[0] : cfg->ack_wait_ns;
}

static void consumer_cfg_apply(jsConsumerConfig *c, const char *durable, const struct mdm_consumer_cfg *cfg,
			       int64_t *backoff)
{
	for (size_t i = 0; i < cfg->n_backoff; i++)
		backoff[i] = cfg->backoff_ns[i];
	c->Durable = durable;
	c->AckPolicy = js_AckExplicit;
	c->DeliverPolicy = deliver_of(cfg->deliver);
	c->FilterSubject = cfg->filter_subject;
	if (consumer_ack_wait(cfg))
		c->AckWait = consumer_ack_wait(cfg);
	c->MaxDeliver = limit_or_unlimited(cfg->max_deliver);
	if (cfg->max_ack_pending)
		c->MaxAckPending = cfg->max_ack_pending;
	if (cfg->max_waiting)
		c->MaxWaiting = cfg->max_waiting;
	c->BackOff = cfg->n_backoff ? backoff : NULL;
	c->BackOffLen = (int)cfg->n_backoff;
}

static bool consumer_cfg_differs(const struct mdm_consumer_cfg *cfg, const jsConsumerConfig *h, char *why,
				 size_t why_len)
{
	const char *want_f = cfg->filter_subject ? cfg->filter_subject : "";
	const char *have_f = h->FilterSubject ? h->FilterSubject : "";

	if (strcmp(want_f, have_f) != 0) {
		snprintf(why, why_len, "filter_subject (wanted '%s', server has '%s')", want_f, have_f);
		return true;
	}
	DIFF_INT("ack_policy (explicit=0)", js_AckExplicit, h->AckPolicy);
	DIFF_INT("deliver_policy", deliver_of(cfg->deliver), h->DeliverPolicy);
	if (consumer_ack_wait(cfg))
		DIFF_INT("ack_wait", consumer_ack_wait(cfg), h->AckWait);
	DIFF_INT("max_deliver", limit_or_unlimited(cfg->max_deliver), h->MaxDeliver);
	if (cfg->max_ack_pending)
		DIFF_INT("max_ack_pending", cfg->max_ack_pending, h->MaxAckPending);
	if (cfg->max_waiting)
		DIFF_INT("max_waiting", cfg->max_waiting, h->MaxWaiting);
	DIFF_INT("backoff count", cfg->n_backoff, h->BackOffLen);
	for (size_t i = 0; i < cfg->n_backoff; i++)
		DIFF_INT("backoff value", cfg->backoff_ns[i], h->BackOff[i]);
	return false;
}

static bool consumer_missing(natsStatus s, jsErrCode jerr)
{
	return jerr == JSConsumerNotFoundErr || (s == NATS_NOT_FOUND && jerr == 0);
}

int mdm_bus_consumer_ensure(struct mdm_bus *bus, const char *stream, const char *durable,
			    const struct mdm_consumer_cfg *cfg)
{
	jsConsumerInfo *ci = NULL, *done = NULL;
	int64_t *backoff = NULL;
	jsConsumerConfig c;
	jsErrCode jerr = 0;
	char why[256];
	natsStatus s;
	int rc;

	if ((rc = consumer_cfg_check(stream, durable, cfg)) < 0)
		return rc;
	backoff = mdm_calloc(cfg->n_backoff ? cfg->n_backoff : 1, sizeof(*backoff));
	if (!backoff)
		return mdm_err_set(-ENOMEM, "consumer %s: out of memory", durable);

	s = js_GetConsumerInfo(&ci, bus->js, stream, durable, NULL, &jerr);
	if (s != NATS_OK && consumer_missing(s, jerr)) {
		jsConsumerConfig_Init(&c);
		consumer_cfg_apply(&c, durable, cfg, backoff);
		jerr = 0;
		s = js_AddConsumer(&done, bus->js, stream, &c, NULL, &jerr);
		if (s != NATS_OK) {
			rc = js_fail(bus, s, jerr, "consumer %s.%s: create", stream, durable);
			goto out;
		}
		rc = MDM_BUS_CREATED;
	} else if (s != NATS_OK) {
		rc = js_fail(bus, s, jerr, "consumer %s.%s: info", stream, durable);
		goto out;
	} else if (consumer_cfg_differs(cfg, ci->Config, why, sizeof(why))) {
		mdm_log_info("consumer %s.%s: updating, %s", stream, durable, why);
		c = *ci->Config;
		consumer_cfg_apply(&c, durable, cfg, backoff);
		jerr = 0;
		s = js_UpdateConsumer(&done, bus->js, stream, &c, NULL, &jerr);
		if (s != NATS_OK) {
			rc = js_fail(bus, s, jerr, "consumer %s.%s: update (%s)", stream, durable, why);
			goto out;
		}
		rc = MDM_BUS_UPDATED;
	} else {
		rc = MDM_BUS_UNCHANGED;
	}
	if (rc != MDM_BUS_UNCHANGED) {
		jsConsumerInfo_Destroy(ci);
		ci = NULL;
		jerr = 0;
		s = js_GetConsumerInfo(&ci, bus->js, stream, durable, NULL, &jerr);
		if (s != NATS_OK)
			rc = js_fail(bus, s, jerr, "consumer %s.%s: read back", stream, durable);
		else if (consumer_cfg_differs(cfg, ci->Config, why, sizeof(why)))
			rc = mdm_err_set(-EPROTO, "consumer %s.%s: server did not apply %s", stream, durable, why);
	}
out:
	jsConsumerInfo_Destroy(ci);
	jsConsumerInfo_Destroy(done);
	mdm_free(backoff);
	return rc;
}

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
	sub = sub_new(bus, true);
	if (!sub)
		return mdm_err_set(-ENOMEM, "bus: out of memory");
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Consumer = durable; /* bind: never create or alter the consumer here */
	s = js_PullSubscribe(&sub->ns, bus->js, NULL, durable, NULL, &so, &jerr);
	if (s != NATS_OK) {
		int rc = consumer_missing(s, jerr) || stream_missing(s, jerr)
				 ? mdm_err_set(-ENOENT, "consumer %s.%s: not found", stream, durable)
				 : js_fail(bus, s, jerr, "consumer %s.%s: pull subscribe", stream, durable);

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

/* ---- messages --------------------------------------------------------- */

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

/* ---- KV --------------------------------------------------------------- */

/* A bucket: nats.c's handle and the bus (a watch needs its JetStream context). */
struct mdm_bus_kv {
	kvStore *kv;
	struct mdm_bus *bus;
};

/* A watch, and what it must deliver before its end-of-initial-values marker:
 * nats.c ends the initial values when the watch's consumer has nothing
 * pending, and on a cluster that consumer may sit on a replica that is still
 * catching up (after a node restart, or a bucket just scaled up) and see an
 * empty or partial bucket. */
struct mdm_bus_kv_watch {
	struct mdm_bus_kv *kv;
	kvWatcher *w;
	char *keys;
	uint64_t want_rev;  /* newest message on a watched key when the watch started (0: none) */
	bool want_known;    /* false: the leader did not answer (electing?): check on a restart */
	bool retried_unknown; /* restarted once already for want_known false */
	uint64_t max_rev;   /* highest revision delivered since */
	bool init_done;     /* the marker was handed out (nats.c sends it once) */
};

#define KV(k) ((k)->kv)
#define KVE(e) ((kvEntry *)(e))

static int kv_wrap(struct mdm_bus *bus, kvStore *kv, struct mdm_bus_kv **out)
{
	struct mdm_bus_kv *k = mdm_calloc(1, sizeof(*k));

	if (!k) {
		kvStore_Destroy(kv);
		return mdm_err_set(-ENOMEM, "kv: out of memory");
	}
	k->kv = kv;
	k->bus = bus;
	*out = k;
	return 0;
}

int mdm_bus_kv_open(struct mdm_bus *bus, const char *bucket, bool create_if_missing, struct mdm_bus_kv **out)
{
	kvStore *kv = NULL;
	kvConfig kc;
	natsStatus s;

	*out = NULL;
	if (!bus || !bucket || !*bucket)
		return mdm_err_set(-EINVAL, "bus: kv_open: bad arguments");
	s = js_KeyValue(&kv, bus->js, bucket);
	if (s == NATS_NOT_FOUND && create_if_missing) {
		kvConfig_Init(&kc);
		kc.Bucket = bucket;
		kc.History = 1;
		kc.StorageType = js_FileStorage;
		s = js_CreateKeyValue(&kv, bus->js, &kc);
	}
	if (s == NATS_NOT_FOUND)
		return mdm_err_set(-ENOENT, "kv %s: bucket not found", bucket);
	if (s != NATS_OK)
		return js_fail(bus, s, 0, "kv %s: open", bucket);
	return kv_wrap(bus, kv, out);
}

/* (Re)read the info of the bucket's stream into *si. */
static int kv_stream_info(struct mdm_bus *bus, const char *bucket, const char *stream, jsStreamInfo **si)
{
	jsErrCode jerr = 0;
	natsStatus s;

	jsStreamInfo_Destroy(*si);
	*si = NULL;
	s = js_GetStreamInfo(si, bus->js, stream, NULL, &jerr);
	if (s != NATS_OK) {
		*si = NULL;
		return js_fail(bus, s, jerr, "kv %s: stream info", bucket);
	}
	return 0;
}

int mdm_bus_kv_ensure(struct mdm_bus *bus, const char *bucket, int replicas, struct mdm_bus_kv **out)
{
	jsStreamInfo *si = NULL, *done = NULL;
	kvStore *kv = NULL;
	jsStreamConfig c;
	jsErrCode jerr = 0;
	char stream[256];
	kvConfig kc;
	natsStatus s;
	int rc, err;

	*out = NULL;
	if (!bus || !bucket || !*bucket || replicas < 1 || replicas > 5)
		return mdm_err_set(-EINVAL, "bus: kv_ensure: bad arguments (replicas %d, want 1..5)", replicas);
	if (snprintf(stream, sizeof(stream), "KV_%s", bucket) >= (int)sizeof(stream))
		return mdm_err_set(-EINVAL, "kv %s: bucket name too long", bucket);
	s = js_KeyValue(&kv, bus->js, bucket);
	if (s == NATS_NOT_FOUND) {
		kvConfig_Init(&kc);
		kc.Bucket = bucket;
		kc.History = 1;
		kc.StorageType = js_FileStorage;
		kc.Replicas = replicas;
		s = js_CreateKeyValue(&kv, bus->js, &kc);
		/* nats.c gives no err_code here: NATS_ERR is the server's refusal */
		if (s == NATS_ERR)
			return mdm_err_set(-EINVAL, "kv %s: create with %d replicas: %s", bucket, replicas,
					   nats_text(s));
		if (s != NATS_OK)
			return js_fail(bus, s, 0, "kv %s: create with %d replicas", bucket, replicas);
		rc = MDM_BUS_CREATED;
	} else if (s != NATS_OK) {
		return js_fail(bus, s, 0, "kv %s: open", bucket);
	} else {
		rc = MDM_BUS_UNCHANGED;
	}
	if ((err = kv_stream_info(bus, bucket, stream, &si)) < 0)
		goto err;
	if (si->Config->Replicas != replicas && rc == MDM_BUS_UNCHANGED) {
		/* A bucket made elsewhere (mdmesh refdata load, another tool) on
		 * one node would be the cluster's single point of failure. */
		mdm_log_info("kv %s: updating, replicas (wanted %d, server has %" PRId64 ")", bucket, replicas,
			     (int64_t)si->Config->Replicas);
		c = *si->Config;
		c.Replicas = replicas;
		s = js_UpdateStream(&done, bus->js, &c, NULL, &jerr);
		jsStreamInfo_Destroy(done);
		if (s != NATS_OK) {
			err = js_fail(bus, s, jerr, "kv %s: update to %d replicas", bucket, replicas);
			goto err;
		}
		rc = MDM_BUS_UPDATED;
		if ((err = kv_stream_info(bus, bucket, stream, &si)) < 0)
			goto err;
		if (si->Config->Replicas == replicas && (err = stream_wait_current(bus, stream, replicas)) < 0) {
			if (err != -ETIMEDOUT)
				goto err;
			/* scaled, not yet current: watches check their initial values */
			mdm_log_warn("%s; going on, the new replicas catch up in the background", mdm_err_last());
		}
	}
	if (si->Config->Replicas != replicas) {
		err = mdm_err_set(-EPROTO, "kv %s: server did not apply replicas (wanted %d, server has %" PRId64 ")",
				  bucket, replicas, (int64_t)si->Config->Replicas);
		goto err;
	}
	jsStreamInfo_Destroy(si);
	return (err = kv_wrap(bus, kv, out)) < 0 ? err : rc;
err:
	jsStreamInfo_Destroy(si);
	kvStore_Destroy(kv);
	return err;
}

void mdm_bus_kv_destroy(struct mdm_bus_kv *kv)
{
	if (!kv)
		return;
	kvStore_Destroy(kv->kv);
	mdm_free(kv);
}

int mdm_bus_kv_put(struct mdm_bus_kv *kv, const char *key, const void *data, size_t len, uint64_t *revision)
{
	uint64_t rev = 0;
	natsStatus s;

	if (!kv || !key || !*key || (len && !data) || len > INT_MAX)
		return mdm_err_set(-EINVAL, "bus: kv_put: bad arguments");
	s = kvStore_Put(&rev, KV(kv), key, data, (int)len);
	if (s != NATS_OK)
		return bus_fail(s, 0, "kv %s: put %s", kvStore_Bucket(KV(kv)), key);
	if (revision)
		*revision = rev;
	return 0;
}

int mdm_bus_kv_get(struct mdm_bus_kv *kv, const char *key, struct mdm_bus_kv_entry **out)
{
	kvEntry *e = NULL;
	natsStatus s;

	*out = NULL;
	if (!kv || !key || !*key)
		return mdm_err_set(-EINVAL, "bus: kv_get: bad arguments");
	s = kvStore_Get(&e, KV(kv), key);
	if (s == NATS_NOT_FOUND)
		return mdm_err_set(-ENOENT, "kv %s: no key %s", kvStore_Bucket(KV(kv)), key);
	if (s != NATS_OK)
		return bus_fail(s, 0, "kv %s: get %s", kvStore_Bucket(KV(kv)), key);
	*out = (struct mdm_bus_kv_entry *)e;
	return 0;
}

int mdm_bus_kv_delete(struct mdm_bus_kv *kv, const char *key)
{
	natsStatus s;

	if (!kv || !key || !*key)
		return mdm_err_set(-EINVAL, "bus: kv_delete: bad arguments");
	s = kvStore_Delete(KV(kv), key);
	if (s != NATS_OK)
		return bus_fail(s, 0, "kv %s: delete %s", kvStore_Bucket(KV(kv)), key);
	return 0;
}

/* (Re)start the nats.c watcher: first ask the stream's leader for the newest
 * message on the watched keys, then watch. A leader that does not answer yet
 * (right after a scale-up or a failover) leaves want_known false. */
static int kv_watch_start(struct mdm_bus_kv_watch *w)
{
	const char *bucket = kvStore_Bucket(KV(w->kv));
	char stream[256], subject[512];
	kvWatchOptions o;
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	if (w->w)
		kvWatcher_Destroy(w->w);
	w->w = NULL;
	snprintf(stream, sizeof(stream), "KV_%s", bucket);
	snprintf(subject, sizeof(subject), "$KV.%s.%s", bucket, w->keys);
	s = js_GetLastMsg(&m, w->kv->bus->js, stream, subject, NULL, &jerr);
	w->want_known = s == NATS_OK || s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr;
	if (!w->want_known && s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS && jerr != JSClusterNotAvailErr)
		return js_fail(w->kv->bus, s, jerr, "kv %s: newest of %s", bucket, w->keys);
	w->want_rev = s == NATS_OK ? natsMsg_GetSequence(m) : 0;
	w->max_rev = 0;
	natsMsg_Destroy(m);
	kvWatchOptions_Init(&o);
	s = kvStore_Watch(&w->w, KV(w->kv), w->keys, &o);
	if (s != NATS_OK) {
		w->w = NULL;
		return bus_fail(s, 0, "kv %s: watch %s", bucket, w->keys);
	}
	return 0;
}

int mdm_bus_kv_watch(struct mdm_bus_kv *kv, const char *keys, struct mdm_bus_kv_watch **out)
{
	struct mdm_bus_kv_watch *w;
	int rc;

	*out = NULL;
	if (!kv || !keys || !*keys)
		return mdm_err_set(-EINVAL, "bus: kv_watch: bad arguments");
	w = mdm_calloc(1, sizeof(*w));
	if (!w || !(w->keys = mdm_strdup(keys))) {
		mdm_free(w);
		return mdm_err_set(-ENOMEM, "kv: out of memory");
	}
	w->kv = kv;
	if ((rc = kv_watch_start(w)) < 0) {
		mdm_bus_kv_watch_destroy(w);
		return rc;
	}
	*out = w;
	return 0;
}

int mdm_bus_kv_watch_next(struct mdm_bus_kv_watch *w, uint64_t timeout_ms, struct mdm_bus_kv_entry **out)
{
	uint64_t deadline = mdm_mono_ns() + (timeout_ms ? timeout_ms : 1) * MDM_NS_PER_MS;

	*out = NULL;
	if (!w || timeout_ms > INT64_MAX / 2)
		return mdm_err_set(-EINVAL, "bus: kv_watch_next: bad arguments");
	for (;;) {
		uint64_t now = mdm_mono_ns();
		int64_t left_ms = now < deadline ? (int64_t)((deadline - now + MDM_NS_PER_MS - 1) / MDM_NS_PER_MS) : 0;
		kvEntry *e = NULL;
		natsStatus s;
		int rc;

		if (left_ms <= 0)
			return mdm_err_set(-ETIMEDOUT, "kv watch: nothing within %" PRIu64 " ms", timeout_ms);
		if (!w->w && (rc = kv_watch_start(w)) < 0)
			return rc;
		s = kvWatcher_Next(&e, w->w, left_ms);
		if (s == NATS_TIMEOUT)
			return mdm_err_set(-ETIMEDOUT, "kv watch: nothing within %" PRIu64 " ms", timeout_ms);
		if (s != NATS_OK)
			return bus_fail(s, 0, "kv watch");
		if (e) {
			if (kvEntry_Revision(e) > w->max_rev)
				w->max_rev = kvEntry_Revision(e);
			*out = (struct mdm_bus_kv_entry *)e;
			return 0;
		}
		if (!w->init_done && !w->want_known && w->retried_unknown) {
			/* Twice no answer: not an election but, e.g., a user without
			 * the permission for $JS.API.STREAM.MSG.GET.KV_<bucket>. */
			mdm_log_warn("kv %s: cannot check that watch %s saw every key (the newest one could not be "
				     "read): trusting it", kvStore_Bucket(KV(w->kv)), w->keys);
			w->want_known = true;
			w->want_rev = 0;
		}
		if (w->init_done || (w->want_known && w->max_rev >= w->want_rev)) {
			w->init_done = true;
			return 0; /* *out NULL: end of the initial values */
		}
		/* The watch's consumer reads a replica that is behind, or the
		 * leader could not say what it holds: what was delivered stays
		 * valid (the same revisions come again), start over after a pause. */
		if (w->want_known)
			mdm_log_info("kv %s: watch %s ended its initial values at revision %" PRIu64 " of %" PRIu64
				     " (a replica catching up): restarting it", kvStore_Bucket(KV(w->kv)), w->keys,
				     w->max_rev, w->want_rev);
		else
			w->retried_unknown = true;
		kvWatcher_Destroy(w->w);
		w->w = NULL;
		mdm_sleep_ns(100 * MDM_NS_PER_MS);
	}
}

void mdm_bus_kv_watch_destroy(struct mdm_bus_kv_watch *w)
{
	if (!w)
		return;
	if (w->w)
		kvWatcher_Destroy(w->w);
	mdm_free(w->keys);
	mdm_free(w);
}

const char *mdm_bus_kv_entry_key(struct mdm_bus_kv_entry *e)
{
	return kvEntry_Key(KVE(e));
}

const void *mdm_bus_kv_entry_value(struct mdm_bus_kv_entry *e)
{
	return kvEntry_Value(KVE(e));
}

size_t mdm_bus_kv_entry_len(struct mdm_bus_kv_entry *e)
{
	int len = kvEntry_ValueLen(KVE(e));

	return len > 0 ? (size_t)len : 0;
}

uint64_t mdm_bus_kv_entry_revision(struct mdm_bus_kv_entry *e)
{
	return kvEntry_Revision(KVE(e));
}

enum mdm_bus_kv_op mdm_bus_kv_entry_op(struct mdm_bus_kv_entry *e)
{
	switch (kvEntry_Operation(KVE(e))) {
	case kvOp_Delete:
		return MDM_BUS_KV_DELETE;
	case kvOp_Purge:
		return MDM_BUS_KV_PURGE;
	default:
		return MDM_BUS_KV_PUT;
	}
}

void mdm_bus_kv_entry_free(struct mdm_bus_kv_entry *e)
{
	kvEntry_Destroy(KVE(e));
}

/* ---- processor additions: sync publish, consumer info/start/delete ----- */

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
	s = natsMsg_Create(&m, subject, NULL, data, (int)len);
	if (s == NATS_OK && content_type)
		s = natsMsgHeader_Set(m, BUS_HDR_CONTENT_TYPE, content_type);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		return bus_fail(s, 0, "bus: js_publish to %s", subject);
	}
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

int mdm_bus_consumer_info(struct mdm_bus *bus, const char *stream, const char *durable,
			  struct mdm_bus_consumer_info *info)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	memset(info, 0, sizeof(*info));
	if (!stream || !*stream || !durable || !*durable)
		return mdm_err_set(-EINVAL, "bus: consumer_info: bad arguments");
	s = js_GetConsumerInfo(&ci, bus->js, stream, durable, NULL, &jerr);
	if (s != NATS_OK) {
		if (consumer_missing(s, jerr) || stream_missing(s, jerr))
			return mdm_err_set(-ENOENT, "consumer %s.%s: not found", stream, durable);
		return js_fail(bus, s, jerr, "consumer %s.%s: info", stream, durable);
	}
	info->num_pending = ci->NumPending;
	info->num_ack_pending = ci->NumAckPending > 0 ? (uint64_t)ci->NumAckPending : 0;
	info->num_redelivered = ci->NumRedelivered > 0 ? (uint64_t)ci->NumRedelivered : 0;
	info->num_waiting = ci->NumWaiting > 0 ? (uint64_t)ci->NumWaiting : 0;
	info->delivered_stream_seq = ci->Delivered.Stream;
	info->ack_floor_stream_seq = ci->AckFloor.Stream;
	jsConsumerInfo_Destroy(ci);
	return 0;
}

int mdm_bus_consumer_create_at(struct mdm_bus *bus, const char *stream, const char *durable,
			       const struct mdm_consumer_cfg *cfg, uint64_t start_seq, int64_t start_time_ns)
{
	jsConsumerInfo *ci = NULL;
	int64_t *backoff = NULL;
	jsConsumerConfig c;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	if ((rc = consumer_cfg_check(stream, durable, cfg)) < 0)
		return rc;
	if (start_seq == 0 && start_time_ns <= 0)
		return mdm_err_set(-EINVAL, "consumer %s: a start sequence or a start time is required", durable);
	s = js_GetConsumerInfo(&ci, bus->js, stream, durable, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	ci = NULL;
	if (s == NATS_OK)
		return mdm_err_set(-EEXIST, "consumer %s.%s: already exists", stream, durable);
	backoff = mdm_calloc(cfg->n_backoff ? cfg->n_backoff : 1, sizeof(*backoff));
	if (!backoff)
		return mdm_err_set(-ENOMEM, "consumer %s: out of memory", durable);
	jsConsumerConfig_Init(&c);
	consumer_cfg_apply(&c, durable, cfg, backoff);
	if (start_seq) {
		c.DeliverPolicy = js_DeliverByStartSequence;
		c.OptStartSeq = start_seq;
	} else {
		c.DeliverPolicy = js_DeliverByStartTime;
		c.OptStartTime = start_time_ns;
	}
	jerr = 0;
	s = js_AddConsumer(&ci, bus->js, stream, &c, NULL, &jerr);
	if (s != NATS_OK)
		rc = js_fail(bus, s, jerr, "consumer %s.%s: create at %s", stream, durable,
			     start_seq ? "sequence" : "time");
	else if (ci->Config->DeliverPolicy != c.DeliverPolicy ||
		 (start_seq && ci->Config->OptStartSeq != start_seq))
		rc = mdm_err_set(-EPROTO, "consumer %s.%s: server did not apply the start position", stream, durable);
	else
		rc = 0;
	jsConsumerInfo_Destroy(ci);
	mdm_free(backoff);
	return rc;
}

int mdm_bus_consumer_delete(struct mdm_bus *bus, const char *stream, const char *durable)
{
	jsErrCode jerr = 0;
	natsStatus s;

	if (!stream || !*stream || !durable || !*durable)
		return mdm_err_set(-EINVAL, "bus: consumer_delete: bad arguments");
	s = js_DeleteConsumer(bus->js, stream, durable, NULL, &jerr);
	if (s != NATS_OK) {
		if (consumer_missing(s, jerr) || stream_missing(s, jerr))
			return mdm_err_set(-ENOENT, "consumer %s.%s: not found", stream, durable);
		return js_fail(bus, s, jerr, "consumer %s.%s: delete", stream, durable);
	}
	return 0;
}
