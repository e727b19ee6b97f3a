/* Private to the mdm_bus_*.c files (the nats.c glue): the bus's shared
 * state and the helpers one file gives the others. The only header that
 * includes nats.h; nothing outside common/mdm_bus_*.c may include it. */
#ifndef MDM_BUS_PRIVATE_H
#define MDM_BUS_PRIVATE_H

#include "mdm_nats_loop.h"
#include "mdm_window.h"
#include "mdm_bus.h"

#include <nats/nats.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUS_HDR_MSG_ID "Nats-Msg-Id"
#define BUS_HDR_CONTENT_TYPE "Content-Type"
#define BUS_URL_MAX 256
#define BUS_CLOSE_WAIT_MS 5000ULL

/* One accepted async publish. A record is in exactly one place: the free
 * list, the hash (nats.c holds the message and will call on_pub_ack for it),
 * the retry queue (the resend thread will send it again), or with the thread
 * that is completing or sending it.
 * Independently of that place, `sending` marks a js_PublishMsgAsync of its
 * message still running (hashed before the call, the record may meanwhile be
 * acked, timed out by nats.c while the send waits for the connection lock,
 * queued for a resend or failed): nobody frees the message or the record then.
 * Who completes a sending record reports its outcome and sets `done`; the
 * sender, when the call returns, releases it and destroys the message. */
struct pub_rec {
	natsMsg *msg;          /* the message, kept across resends (same Msg-Id) */
	uint64_t token;
	uint64_t due_ns;       /* retry queue: not resent before this monotonic time */
	uint32_t attempts;     /* sends so far */
	uint64_t first_ns;     /* monotonic time of the first send */
	struct pub_rec *next;  /* hash chain, free list or retry queue link */
	bool sending;          /* under mu: a js_PublishMsgAsync of msg is in progress */
	bool done;             /* under mu: completed while sending; the sender frees it */
};

struct mdm_bus {
	natsConnection *nc;
	jsCtx *js;
	struct mdm_nats_loop *loop;   /* flush = burst: the connection's epoll loop, else NULL */
	char *urls_safe;              /* params.urls without user:password@, for messages */
	char inbox_prefix[64];        /* reply subjects are <inbox_prefix>.<id> */
	int64_t api_timeout_ms;
	int64_t ack_timeout_ms;
	uint64_t retry_backoff_ns;
	uint32_t max_attempts;
	uint32_t cap;                 /* records: 2 x max_pending (window + resends waiting) */
	struct mdm_window window;     /* in-flight limit; written by the ack thread only */
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
	bool retry_waits_send;        /* the resend thread waits for a sending record (retry_cond) */
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

/* ---- mdm_bus_err.c ---- */

/* nats.c's last error text on this thread when it is about `s` (without the
 * "(conn.c:123): " source prefix), else the generic text of `s`. */
const char *bus_nats_text(natsStatus s);

/* The negative errno for a nats.c status and JetStream error code (0 for
 * NATS_OK without a code). The one mapping of the bus. */
int bus_errno(natsStatus s, jsErrCode jerr);

/* The bus's one definition of a transient failure of a JetStream send, one
 * that may be repeated with the same Msg-Id: no ack in time (server down,
 * message or ack lost, or nats.c's window full for StallWait), nobody
 * listening yet (stream leader moving), the stream's ingest queue full (429,
 * 2.11+), the reconnect buffer full, or the
 * socket breaking under the write while a disconnect is being noticed.
 * publish_async answers these with -EAGAIN (the caller sends again), the ack
 * handler queues a resend. */
bool bus_transient(natsStatus s, jsErrCode jerr);

/* Convert a failed nats.c call: errno from (s, jerr), detail "<what>: <text>".
 * Returns the errno (never 0). */
int bus_fail(natsStatus s, jsErrCode jerr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A failed JetStream API request; -ENOTSUP naming the server when it has no
 * JetStream (no responder on $JS.API), else as bus_fail. */
int bus_js_fail(struct mdm_bus *bus, natsStatus s, jsErrCode jerr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The URL the connection is on (else the configured ones), without
 * credentials (mdm_redact, MDM_REDACT_DROP), into buf. */
void bus_url(struct mdm_bus *bus, char *buf, size_t len);

/* ---- mdm_bus_conn.c ---- */

/* Wait on idle_cond until `done` holds or timeout_ms pass. Caller holds mu.
 * Returns done(bus). */
bool bus_wait_locked(struct mdm_bus *bus, bool (*done)(const struct mdm_bus *), uint64_t timeout_ms);
bool bus_nothing_in_flight(const struct mdm_bus *bus);

/* ---- mdm_bus_pub.c ---- */

/* Allocate 2 x max_pending publish records. 0 or -ENOMEM. */
int bus_pub_recs_init(struct mdm_bus *bus, uint32_t max_pending);

/* A message for `subject` with the headers Nats-Msg-Id (msg_id) and
 * Content-Type (content_type), each only when not NULL. */
natsStatus bus_msg_new(natsMsg **out, const char *subject, const char *msg_id, const char *content_type,
		       const void *data, size_t len);

/* nats.c's async publish ack handler (jsOptions.PublishAsync.AckHandler). */
void bus_pub_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure);

/* The resend thread's body; runs until bus->closing. */
void *bus_pub_retry_main(void *arg);

/* Fail every message nats.c still waits an ack for. */
void bus_pub_take_back(struct mdm_bus *bus, int err, const char *reason);

/* Fail every record of the retry queue. Caller holds mu; it is released
 * around each ack handler call. */
void bus_pub_fail_retry_queue_locked(struct mdm_bus *bus, int err, const char *reason);

/* ---- mdm_bus_sub.c ---- */

/* A subscription shell (mutex and condition ready), or NULL. */
struct mdm_bus_sub *bus_sub_new(struct mdm_bus *bus, bool pull);

/* ---- mdm_bus_jsm.c ---- */

bool bus_stream_missing(natsStatus s, jsErrCode jerr);
bool bus_consumer_missing(natsStatus s, jsErrCode jerr);

/* After a replica count change: wait until the stream has a leader and
 * every other replica is current. 0, -EINVAL (no cluster), -ETIMEDOUT. */
int bus_stream_wait_current(struct mdm_bus *bus, const char *stream, int replicas);

#endif
