/* mdm_bus: the one place mdmesh talks to NATS (nats.c 3.4.1, nats-server 2.9.10).
 * Implemented by common/mdm_bus_*.c, one concept each (conn, err, pub, sub,
 * jsm, pull, msg, kv) around mdm_bus_private.h.
 * Connection, JetStream streams and pull consumers (create or update, then
 * read back), async publish with exactly-once ack accounting, fetch with
 * ack/nak/term, core publish/subscribe, direct message get and KV buckets.
 * Every call returns 0 (or a documented positive outcome) or a negative errno;
 * the human detail is in mdm_err_last() of the calling thread. No credential
 * ever appears in a log line or an error text. */
#ifndef MDM_BUS_H
#define MDM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* When the connection writes; mdm_nats_loop.h says what each costs. */
enum mdm_nats_flush {
	MDM_NATS_FLUSH_TIMER, /* nats.c's flusher thread, ~1 ms after the first publish */
	MDM_NATS_FLUSH_ASAP,  /* one write per publish */
	MDM_NATS_FLUSH_BURST, /* one write per burst of the deferring thread, others at once */
};

struct mdm_bus;
struct mdm_bus_sub;      /* a pull subscription or a core subscription */
struct mdm_bus_msg;      /* a received message */
struct mdm_bus_kv;       /* an open KV bucket */
struct mdm_bus_kv_watch; /* a KV watcher */
struct mdm_bus_kv_entry; /* one KV value or delete marker */
struct mdm_buf;          /* mdm_buf.h */

/* ---- connection ------------------------------------------------------- */

/* Connection and publishing settings. Strings are borrowed for the duration of
 * mdm_bus_create() only. Fill with mdm_bus_params_init() first; numeric fields
 * left at 0 take the default named in their comment. */
struct mdm_bus_params {
	const char *urls;           /* comma-separated, e.g. "nats://127.0.0.1:4222" (required) */
	const char *name;           /* connection name shown by the server (NULL: none) */
	const char *user, *password;
	const char *token;
	const char *creds_file;     /* JWT + NKey .creds file */
	const char *nkey_seed_file; /* NKey auth: the file holding the user's seed */
	const char *nkey_public;    /* its public key; NULL: derived from the seed file */
	const char *tls_ca;         /* CA bundle; setting it implies TLS */
	const char *tls_cert, *tls_key; /* client certificate (both or neither); implies TLS */
	bool tls_required;
	const char *inbox_prefix;   /* reply subjects <prefix>.<id> (NULL: _INBOX), so a server's permissions
				     * can give each user its own inboxes to subscribe to */
	const char *auth_hint;      /* appended to credential errors as " (<hint>)", e.g. which settings to
				     * check; NULL: nothing */
	const char *tls_hint;       /* the same for TLS errors */
	uint64_t connect_timeout_ms;  /* per server attempt; 0: 2000 */
	int64_t write_deadline_ms;    /* a write to the server that cannot complete for this long fails
				       * (nats.c then drops the socket and reconnects): a stalled server
				       * (SIGSTOPped, wedged, a full TCP window) must not block the
				       * publishing threads, the resend thread and every call that needs
				       * nats.c's connection lock, stats included, forever; 0: 2000,
				       * -1: none (blocking writes) */
	int max_reconnect;            /* reconnect attempts, -1 forever, 0 never (init: -1) */
	uint64_t reconnect_wait_ms;   /* between attempts to the same server; 0: 250 */
	uint64_t reconnect_buf_bytes; /* publishes kept while reconnecting; 0: 8 MiB */
	uint64_t api_timeout_ms;      /* JetStream API requests (ensure, info, get, KV); 0: 5000 */
	uint32_t max_pending;         /* async publishes awaiting their ack (nats.c MaxPending); 0: 4096 */
	enum mdm_nats_flush flush;    /* when the connection writes (mdm_nats_loop.h); 0: timer (nats.c's) */
	uint32_t window_min;          /* adaptive in-flight window (mdm_window.h) between window_min and
				       * max_pending; 0 or >= max_pending: a fixed window of max_pending */
	uint64_t stall_wait_ms;       /* how long publish_async may block on a full window; 0: 5 */
	uint64_t ack_timeout_ms;      /* per-send ack deadline, then resend; 0: 2000 */
	uint32_t max_attempts;        /* sends per message before it is reported failed (see
				       * mdm_bus_publish_async for replies); 0: 8 */
	uint64_t retry_backoff_ms;    /* first delay before resending after an error reply, doubling; 0: 100 */
};

/* Fill `p` with the defaults above (max_reconnect = -1, everything else 0/NULL). */
void mdm_bus_params_init(struct mdm_bus_params *p);

/* Connect and set up the JetStream context and the resend thread.
 * Returns 0 and *out, or:
 *   -EINVAL        bad params (detail names the field)
 *   -ENOENT, -EACCES, ...  the nkey seed file cannot be read; -EINVAL: it holds no valid seed
 *   -ECONNREFUSED  no server answered ("nats://127.0.0.1:4222: connection refused")
 *   -ETIMEDOUT     servers did not answer within connect_timeout_ms
 *   -EACCES        wrong or missing credentials ("...: authorization violation for user 'x' (<auth_hint>)")
 *   -EPROTO        TLS failure ("...: TLS failure: <OpenSSL's reason> (<tls_hint>)")
 *   -ENOMEM
 * Every detail is one line and never holds a password, token or seed.
 * Logs "bus: connected to URL (TLS, as user 'x')" (info), and a warning for
 * a seed, TLS key or creds file that others can read.
 * Thread-safety: any thread. Not hot-path. */
int mdm_bus_create(struct mdm_bus **out, const struct mdm_bus_params *params);

/* Close the connection and free everything. Publishes still in flight are
 * reported to the ack handler as failed (-ECANCELED): call
 * mdm_bus_publish_drain() first. Destroy subscriptions, watchers and KV
 * handles before the bus. NULL-safe. Not concurrent with other calls on `bus`. */
void mdm_bus_destroy(struct mdm_bus *bus);

/* true while the connection is up (false while reconnecting or closed).
 * Thread-safe, cheap. */
bool mdm_bus_connected(struct mdm_bus *bus);

/* Release nats.c's process-wide threads and memory. Call at most once, at
 * exit, after every bus is destroyed; no mdm_bus call may follow. */
void mdm_bus_shutdown(void);

/* ---- streams ---------------------------------------------------------- */

enum mdm_stream_retention {
	MDM_STREAM_LIMITS = 0,
	MDM_STREAM_INTEREST,
	MDM_STREAM_WORKQUEUE,
};

/* A stream as mdmesh wants it. Limits <= 0 mean unlimited. */
struct mdm_stream_cfg {
	const char *name;
	const char *const *subjects;
	size_t n_subjects;
	enum mdm_stream_retention retention;
	bool memory;                   /* memory storage instead of file */
	int64_t max_age_ns;
	int64_t max_bytes;
	int64_t max_msgs;
	int64_t max_msgs_per_subject;
	int64_t max_msg_size;          /* bytes, at most INT32_MAX */
	uint64_t duplicate_window_ns;  /* 0: server default (2 min, or max_age if shorter) */
	int replicas;                  /* 0: 1 */
	bool discard_new;              /* refuse new messages at the limits instead of dropping old */
	bool allow_direct;             /* enable $JS.API.DIRECT.GET */
};

/* What an ensure call did (non-negative results). */
enum mdm_bus_ensure {
	MDM_BUS_UNCHANGED = 0,
	MDM_BUS_CREATED = 1,
	MDM_BUS_UPDATED = 2,
};

/* Create the stream, or update it when its configuration differs from `cfg`
 * (fields mdmesh does not manage are kept as they are), then read the config
 * back and check every field of `cfg`, because nats-server 2.9.10 silently
 * ignores what it does not understand. An update to more replicas returns once
 * every replica is current, or with a warning logged after 4 x api_timeout_ms
 * (a big stream is still being copied).
 * Returns MDM_BUS_CREATED / MDM_BUS_UPDATED / MDM_BUS_UNCHANGED, or:
 *   -EINVAL   bad cfg, or the server refused it (detail: server text)
 *   -EPROTO   the server did not apply a field (detail names it)
 *   -ENOTSUP  "JetStream is not enabled on nats://..."
 *   -ETIMEDOUT, -ENOTCONN, -EIO
 * Thread-safe. Blocking (JetStream API requests). */
int mdm_bus_stream_ensure(struct mdm_bus *bus, const struct mdm_stream_cfg *cfg);

struct mdm_bus_stream_info {
	uint64_t msgs;
	uint64_t bytes;
	uint64_t first_seq;
	uint64_t last_seq;
	uint64_t consumers;
};

/* State of stream `name`. -ENOENT if it does not exist, -ENOTSUP without
 * JetStream. Thread-safe. Blocking. */
int mdm_bus_stream_info(struct mdm_bus *bus, const char *name, struct mdm_bus_stream_info *info);

/* ---- async publish with exact accounting ------------------------------ */

enum mdm_bus_ack_result {
	MDM_BUS_ACK_STORED = 0,  /* stored at stream_seq */
	MDM_BUS_ACK_DUPLICATE,   /* the stream already held this Msg-Id (at stream_seq): delivered */
	MDM_BUS_ACK_FAILED,      /* given up: err and reason say why */
};

/* One outcome, passed to the ack handler. Pointers are valid only during the call. */
struct mdm_bus_ack {
	uint64_t token;               /* as given to mdm_bus_publish_async */
	enum mdm_bus_ack_result result;
	uint64_t stream_seq;          /* STORED and DUPLICATE */
	uint32_t attempts;            /* sends made, 1 when no resend was needed */
	int err;                      /* FAILED: negative errno */
	const char *reason;           /* FAILED: text ("" otherwise) */
	const char *msg_id;
};

/* Called exactly once per accepted token, possibly on two threads at once:
 * on nats.c's ack thread for acks and ack timeouts, on the bus's resend thread
 * when a resend cannot be made, on nats.c's connection-callback thread when
 * the connection closes for good, on the caller's thread inside
 * mdm_bus_destroy. Keep it short (a slow handler throttles publishing); it
 * must not call mdm_bus_publish_async, mdm_bus_publish_drain (both would wait
 * on acks this very thread has to process) nor mdm_bus_destroy. */
typedef void (*mdm_bus_ack_fn)(void *ctx, const struct mdm_bus_ack *ack);

/* Register the ack handler. Call once, after create and before the first
 * publish_async (it is not synchronised against acks in flight). */
void mdm_bus_set_ack_handler(struct mdm_bus *bus, mdm_bus_ack_fn fn, void *ctx);

/* Publish `data` to `subject` on JetStream, asynchronously. The bytes are
 * copied into a message with headers Nats-Msg-Id: msg_id and (if not NULL)
 * Content-Type: content_type. Its outcome reaches the ack handler exactly
 * once with `token`. A send without an ack within ack_timeout_ms, or answered
 * by no responder (no stream leader, e.g. during an election), is resent with
 * the same Msg-Id (the stream's duplicate window makes that exactly-once): at
 * once after a timeout, after a delay doubling from retry_backoff_ms up to
 * ack_timeout_ms after a reply, for max_attempts sends or, if that is longer,
 * until max_attempts x ack_timeout_ms after the first send; a JetStream error
 * reply (limits, size...) fails at once. Resends are made by the bus's resend
 * thread, only while connected. Two caveats: exactly-once holds while every
 * send of a message falls inside the stream's duplicate_window (keep
 * max_attempts x ack_timeout_ms plus the longest outage below it), and a
 * resent message lands after later ones (order per subject is not kept).
 * Returns 0 (accepted), or:
 *   -EAGAIN    not accepted, call again later with the same arguments:
 *              window full (max_pending acks outstanding for stall_wait_ms,
 *              or 2 x max_pending messages in the bus's custody), reconnect
 *              buffer full, or the socket broke during this call (a copy may
 *              then have reached the server: the retry reports DUPLICATE).
 *              No outcome will be reported for it. Counted in `stalls`.
 *   -EINVAL    bad arguments   -EMSGSIZE larger than the server's max payload
 *   -ENOTCONN  connection closed for good   -ENOMEM
 *   -ECANCELED mdm_bus_destroy has begun
 * Thread-safe. May block up to stall_wait_ms. One allocation (the message). */
int mdm_bus_publish_async(struct mdm_bus *bus, const char *subject, const char *msg_id,
			  const char *content_type, const void *data, size_t len, uint64_t token);

/* How mdm_bus_publish_async_until waits while the bus answers -EAGAIN. */
#define MDM_BUS_NO_DEADLINE UINT64_MAX

struct mdm_bus_retry {
	uint64_t deadline_ns;  /* monotonic (mdm_mono_ns) time after which a refusal is final;
				* MDM_BUS_NO_DEADLINE: wait until accepted or on_stall says stop */
	/* NULL, or called after each -EAGAIN and before the pause that follows,
	 * with `connected` as mdm_bus_connected(); a non-zero return ends the
	 * wait and is returned (e.g. -EINTR when the caller is asked to stop).
	 * Runs on the caller's thread. */
	int (*on_stall)(void *ctx, bool connected);
	void *ctx;
	uint64_t *down_ns;     /* NULL, or a counter that gets (relaxed atomic add) the time spent
				* in refused calls and pauses while disconnected */
};

/* mdm_bus_publish_async, sent again while it answers -EAGAIN (the only answer
 * that means "same arguments, later"): the one back-pressure policy of
 * mdmesh. Between attempts it pauses 50 us while connected, 1 ms while
 * disconnected. Every -EAGAIN is counted in `stalls` as before.
 * Returns 0 (accepted: the outcome reaches the ack handler with `token`),
 * -ETIMEDOUT (still refused at retry->deadline_ns; detail: the last
 * refusal), on_stall's non-zero value, or any other error of
 * mdm_bus_publish_async (not retried). Thread-safe. Blocking (until the
 * deadline); not for an RX lcore. */
int mdm_bus_publish_async_until(struct mdm_bus *bus, const char *subject, const char *msg_id,
				const char *content_type, const void *data, size_t len, uint64_t token,
				const struct mdm_bus_retry *retry);

/* Wait until every accepted token has had its ack handler call.
 * Returns 0, or -ETIMEDOUT (detail: how many are still in flight).
 * Thread-safe. Blocking. */
int mdm_bus_publish_drain(struct mdm_bus *bus, uint64_t timeout_ms);

/* Counters, each read with a relaxed atomic load; safe from any thread. When
 * nothing is in flight: published == acked + duplicates + failed. */
struct mdm_bus_counters {
	uint64_t published;   /* tokens accepted by publish_async */
	uint64_t acked;       /* outcomes STORED */
	uint64_t duplicates;  /* outcomes DUPLICATE */
	uint64_t retries;     /* resends (sends after the first) */
	uint64_t failed;      /* outcomes FAILED */
	uint64_t in_flight;   /* accepted, no outcome yet */
	uint64_t stalls;      /* -EAGAIN returned by publish_async */
	uint64_t disconnects;
	uint64_t reconnects;
	uint64_t refused;     /* publishes and subscriptions refused by the server's permissions */
	/* the in-flight window (mdm_window.h): its limit now, its bounds, the
	 * smallest ack latency lately (the server's service time), the last
	 * round's mean ack latency and ack rate */
	uint32_t window, window_min, window_max;
	uint64_t ack_rtt_min_ns, ack_rtt_mean_ns, ack_rate;
};

void mdm_bus_counters_get(struct mdm_bus *bus, struct mdm_bus_counters *out);

/* With flush = MDM_NATS_FLUSH_BURST: this thread's publishes stay in the
 * connection's buffer until mdm_bus_write_deferred (one write per burst).
 * mdm_bus_publish_async_until and mdm_bus_publish_drain flush before they
 * wait; a caller that waits otherwise flushes first. No-ops in other modes. */
void mdm_bus_defer_writes(struct mdm_bus *bus, bool on);
void mdm_bus_write_deferred(struct mdm_bus *bus);

/* ---- synchronous JetStream publish ------------------------------------ */

/* Publish `data` to `subject` on JetStream and wait (api_timeout_ms) for the
 * stream's ack, for records that must be stored before the caller goes on
 * (a dead letter before the original is acked). Headers: Nats-Msg-Id: msg_id
 * (NULL: none) and Content-Type (NULL: none).
 * Returns 0 (stored; *stream_seq set if not NULL), 1 (duplicate: the stream
 * already holds msg_id, at *stream_seq), or -EINVAL, -EMSGSIZE, -ENOTCONN,
 * -ETIMEDOUT, -EHOSTUNREACH (no stream stores `subject`), -ENOSPC (stream
 * full), -EIO. Thread-safe. Blocking. */
int mdm_bus_js_publish(struct mdm_bus *bus, const char *subject, const char *msg_id, const char *content_type,
		       const void *data, size_t len, uint64_t *stream_seq);

/* ---- core NATS -------------------------------------------------------- */

/* Core publish (no JetStream, no ack), e.g. stats.<component>.<instance>.
 * -EINVAL, -EMSGSIZE, -ENOTCONN (closed), -ENOBUFS (reconnect buffer full).
 * Thread-safe. Does not wait for the network. */
int mdm_bus_publish(struct mdm_bus *bus, const char *subject, const void *data, size_t len);

/* Core publish with the headers mdm_bus_publish_async sets: Nats-Msg-Id:
 * msg_id and Content-Type (NULL: none). A stream listening on `subject`
 * stores it (de-duplicated by msg_id) without an ack to anyone and outside
 * the publishing window; the server may drop it when the stream's ingest
 * queue is full. For records whose final state is published again with an
 * ack (market views: mdm_bus_publish_async at drain). Errors as
 * mdm_bus_publish. Thread-safe. Does not wait for the network. */
int mdm_bus_publish_hdr(struct mdm_bus *bus, const char *subject, const char *msg_id, const char *content_type,
			const void *data, size_t len);

/* Round trip to the server: everything published before is processed by it.
 * -ETIMEDOUT, -ENOTCONN, or -EPERM when the server's permissions have refused
 * a publish or subscription of this connection (detail: the server's text
 * naming the subject; it stays the answer until the connection records
 * another error). Thread-safe. Blocking. */
int mdm_bus_flush(struct mdm_bus *bus, uint64_t timeout_ms);

/* Called for each message of a core subscription, on that subscription's own
 * thread, one at a time. `msg` is valid only during the call (no ack needed). */
typedef void (*mdm_bus_msg_fn)(void *ctx, struct mdm_bus_msg *msg);

/* Subscribe to `subject` (wildcards allowed), e.g. advisories on
 * $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>. Interest is registered with the
 * server when this returns (flushed). Returns 0 and *out, -EINVAL, -ENOTCONN,
 * -ETIMEDOUT, -ENOMEM, -EPERM (the server's permissions refuse the subject).
 * Destroy with mdm_bus_sub_destroy. Thread-safe. */
int mdm_bus_subscribe(struct mdm_bus *bus, const char *subject, mdm_bus_msg_fn fn, void *ctx,
		      struct mdm_bus_sub **out);

/* Unsubscribe and free. For a core subscription it returns only after the
 * last callback has returned, so `ctx` may be freed afterwards. A pull
 * subscription's durable consumer stays on the server. NULL-safe. */
void mdm_bus_sub_destroy(struct mdm_bus_sub *sub);

/* ---- consumers -------------------------------------------------------- */

enum mdm_consumer_deliver {
	MDM_CONSUMER_DELIVER_ALL = 0,
	MDM_CONSUMER_DELIVER_NEW,
	MDM_CONSUMER_DELIVER_LAST,
};

/* A durable pull consumer with explicit acks (or none: ack_none). Fields left at 0 keep the
 * server's value (defaults: ack_wait 30 s, max_ack_pending 1000, max_waiting
 * 512); max_deliver <= 0 means unlimited. */
struct mdm_consumer_cfg {
	const char *filter_subject;   /* NULL: every subject of the stream */
	enum mdm_consumer_deliver deliver;
	int64_t ack_wait_ns;          /* with backoff set: 0 or backoff_ns[0] (the server uses that) */
	int64_t max_deliver;          /* must exceed n_backoff when backoff is set */
	int64_t max_ack_pending;      /* keep >= fetch batch x concurrent fetches */
	int64_t max_waiting;
	const int64_t *backoff_ns;    /* redelivery delays after ack timeouts (not NAKs) */
	size_t n_backoff;
	bool ack_none;                /* a read cursor: nothing is acked (AckNone), nothing redelivered;
				       * ack_wait, max_ack_pending and backoff do not apply */
};

/* Create durable `durable` on `stream`, or update it when it differs (deliver
 * policy and filter cannot change on 2.9: the server's refusal is returned),
 * then read its config back and check every field set in `cfg`.
 * Returns MDM_BUS_CREATED / UPDATED / UNCHANGED, or -EINVAL, -EPROTO (field
 * not applied, named in the detail), -ENOENT (no such stream), -ENOTSUP,
 * -ETIMEDOUT, -EIO. Thread-safe. Blocking. */
int mdm_bus_consumer_ensure(struct mdm_bus *bus, const char *stream, const char *durable,
			    const struct mdm_consumer_cfg *cfg);

/* Create durable pull consumer `durable` (explicit acks, cfg as for
 * mdm_bus_consumer_ensure; cfg->deliver is ignored) that starts at stream
 * sequence start_seq (> 0), or, when start_seq is 0, at the first message
 * stored at or after start_time_ns (realtime ns). Used for replays into an
 * empty store. Returns 0, -EEXIST (a consumer of that name exists: delete it
 * first), -EINVAL, -ENOENT (no stream), -ENOTSUP, -ETIMEDOUT, -EIO.
 * Thread-safe. Blocking. */
int mdm_bus_consumer_create_at(struct mdm_bus *bus, const char *stream, const char *durable,
			       const struct mdm_consumer_cfg *cfg, uint64_t start_seq, int64_t start_time_ns);

/* Delete consumer `durable` of `stream`. 0, -ENOENT (absent), -ETIMEDOUT,
 * -EIO. Thread-safe. Blocking. */
int mdm_bus_consumer_delete(struct mdm_bus *bus, const char *stream, const char *durable);

struct mdm_bus_consumer_info {
	uint64_t num_pending;          /* messages not yet delivered (the consumer's lag) */
	uint64_t num_ack_pending;      /* delivered, awaiting ack */
	uint64_t num_redelivered;
	uint64_t num_waiting;          /* pull requests waiting */
	uint64_t delivered_stream_seq; /* last stream sequence delivered */
	uint64_t ack_floor_stream_seq; /* every message up to here is acked */
};

/* State of durable `durable` on `stream`. -ENOENT if absent, -ENOTSUP,
 * -ETIMEDOUT, -EIO. Thread-safe. Blocking. */
int mdm_bus_consumer_info(struct mdm_bus *bus, const char *stream, const char *durable,
			  struct mdm_bus_consumer_info *info);

/* ---- pull consumption ------------------------------------------------- */

/* Bind a pull subscription to an existing durable consumer.
 * Returns 0 and *out, -ENOENT (no such stream/consumer), -EINVAL, -ENOTSUP,
 * -ETIMEDOUT. One subscription per fetching thread. */
int mdm_bus_pull_subscribe(struct mdm_bus *bus, const char *stream, const char *durable,
			   struct mdm_bus_sub **out);

/* Fetch up to `max_msgs` messages into msgs[0..*n), waiting at most
 * timeout_ms; returns as soon as some have arrived. Running out of time is
 * not an error: 0 with *n == 0. (nats.c 3.4.1 can end a fetch early with a
 * stale timeout, nats.c#631; this call then fetches again until the deadline.)
 * Each message must be acked/naked/termed and released with
 * mdm_bus_msgs_free(). Returns 0, or -EINVAL, -ENOTCONN, -EIO.
 * Not thread-safe per subscription. Blocking. */
int mdm_bus_fetch(struct mdm_bus_sub *sub, size_t max_msgs, uint64_t timeout_ms,
		  struct mdm_bus_msg **msgs, size_t *n);

/* Free msgs[0..n) and set them to NULL. NULL entries are skipped. */
void mdm_bus_msgs_free(struct mdm_bus_msg **msgs, size_t n);
void mdm_bus_msg_free(struct mdm_bus_msg *msg);

/* Acknowledge / negatively acknowledge (redeliver now, or after delay_ms) /
 * extend the ack deadline / stop redelivering (server advisory MSG_TERMINATED).
 * Fire-and-forget. Returns 0, -EINVAL (not a JetStream message), -ENOTCONN.
 * Acking twice is a no-op. Thread-safe per message. */
int mdm_bus_ack(struct mdm_bus_msg *msg);
int mdm_bus_nak(struct mdm_bus_msg *msg);
int mdm_bus_nak_delay(struct mdm_bus_msg *msg, uint64_t delay_ms);
int mdm_bus_in_progress(struct mdm_bus_msg *msg);
int mdm_bus_term(struct mdm_bus_msg *msg);

/* ---- messages --------------------------------------------------------- */

/* Views into the message, valid until it is freed. */
const char *mdm_bus_msg_subject(const struct mdm_bus_msg *msg);
const void *mdm_bus_msg_data(const struct mdm_bus_msg *msg);
size_t mdm_bus_msg_len(const struct mdm_bus_msg *msg);

/* Header value for `key` (case-sensitive) in *value, valid until the message
 * is freed. Returns 0, or -ENOENT when absent. Not thread-safe per message
 * (headers are parsed lazily). */
int mdm_bus_msg_header(struct mdm_bus_msg *msg, const char *key, const char **value);

struct mdm_bus_msg_meta {
	uint64_t stream_seq;
	uint64_t consumer_seq;   /* 0 for a direct get */
	uint64_t delivered;      /* delivery count, 1 on first delivery; 0 for a direct get */
	uint64_t pending;        /* messages left for the consumer */
	int64_t timestamp_ns;    /* when the stream stored it (realtime) */
};

/* JetStream metadata of a fetched message (from its reply subject) or of a
 * message returned by mdm_bus_stream_msg_get. -EINVAL for a core message. */
int mdm_bus_msg_meta(struct mdm_bus_msg *msg, struct mdm_bus_msg_meta *meta);

/* Read message `seq` of `stream` ($JS.API.STREAM.MSG.GET). Returns 0 and *out
 * (free with mdm_bus_msg_free), -ENOENT (no such message or stream),
 * -ENOTSUP, -ETIMEDOUT. Thread-safe. Blocking. */
int mdm_bus_stream_msg_get(struct mdm_bus *bus, const char *stream, uint64_t seq,
			   struct mdm_bus_msg **out);

/* The last message of `subject` in `stream` (direct get when the stream
 * allows it): 0 and *out (free with mdm_bus_msg_free), -ENOENT (none, or no
 * such stream), -ENOTSUP, -ETIMEDOUT. Thread-safe. Blocking. */
int mdm_bus_stream_last_msg(struct mdm_bus *bus, const char *stream, const char *subject,
			    struct mdm_bus_msg **out);

/* The subjects of `stream` matching `filter` (wildcards allowed), each given
 * to fn(ctx, subject, messages) in no set order. Returns their number,
 * -ENOENT (no such stream), -ENOTSUP, -ETIMEDOUT. Thread-safe. Blocking. */
int mdm_bus_stream_subjects(struct mdm_bus *bus, const char *stream, const char *filter,
			    void (*fn)(void *ctx, const char *subject, uint64_t msgs), void *ctx);

/* ---- KV --------------------------------------------------------------- */

/* Open bucket `bucket` (stream KV_<bucket>); with create_if_missing, create it
 * (history 1, file storage) when absent. Returns 0 and *out, -ENOENT (absent),
 * -EINVAL, -ENOTSUP, -ETIMEDOUT. Thread-safe. Blocking. */
int mdm_bus_kv_open(struct mdm_bus *bus, const char *bucket, bool create_if_missing,
		    struct mdm_bus_kv **out);
void mdm_bus_kv_destroy(struct mdm_bus_kv *kv); /* NULL-safe; the bucket stays */

/* Open bucket `bucket` with `replicas` (1..5) replicas: create it when absent
 * (history 1, file storage), or scale an existing bucket whose stream has
 * another replica count (only that field changes; returns once every replica
 * is current, or with a warning after 4 x api_timeout_ms), then read the count
 * back.
 * Returns MDM_BUS_CREATED / UPDATED / UNCHANGED and *out, or -EINVAL (bad
 * arguments, or the server refused, e.g. replicas > 1 without a cluster),
 * -EPROTO (the server did not apply the count), -ENOTSUP, -ETIMEDOUT.
 * Thread-safe. Blocking. */
int mdm_bus_kv_ensure(struct mdm_bus *bus, const char *bucket, int replicas, struct mdm_bus_kv **out);

/* Put a value; *revision (may be NULL) receives its revision. */
int mdm_bus_kv_put(struct mdm_bus_kv *kv, const char *key, const void *data, size_t len,
		   uint64_t *revision);

/* Current value of `key` in *out (free with mdm_bus_kv_entry_free), or -ENOENT
 * when absent or deleted. */
int mdm_bus_kv_get(struct mdm_bus_kv *kv, const char *key, struct mdm_bus_kv_entry **out);

/* Delete `key` (leaves a delete marker that watchers see). */
int mdm_bus_kv_delete(struct mdm_bus_kv *kv, const char *key);

/* Watch keys matching `keys` (wildcards allowed): first the current value of
 * each key, then an end-of-initial-values marker, then every change. The
 * marker comes only after the newest revision the stream's leader held for
 * those keys when the watch started: on a cluster nats.c's watch may read a
 * replica that is still catching up, and is then restarted (values already
 * delivered come again). */
int mdm_bus_kv_watch(struct mdm_bus_kv *kv, const char *keys, struct mdm_bus_kv_watch **out);

/* Next watch event. Returns 0 with *out set (free with mdm_bus_kv_entry_free),
 * 0 with *out == NULL once all initial values were delivered (once per
 * watch), or -ETIMEDOUT when nothing came within timeout_ms. Not thread-safe
 * per watcher. Blocking. */
int mdm_bus_kv_watch_next(struct mdm_bus_kv_watch *w, uint64_t timeout_ms,
			  struct mdm_bus_kv_entry **out);
void mdm_bus_kv_watch_destroy(struct mdm_bus_kv_watch *w); /* NULL-safe */

enum mdm_bus_kv_op {
	MDM_BUS_KV_PUT = 0,
	MDM_BUS_KV_DELETE,
	MDM_BUS_KV_PURGE,
};

const char *mdm_bus_kv_entry_key(struct mdm_bus_kv_entry *e);
const void *mdm_bus_kv_entry_value(struct mdm_bus_kv_entry *e);
size_t mdm_bus_kv_entry_len(struct mdm_bus_kv_entry *e);
uint64_t mdm_bus_kv_entry_revision(struct mdm_bus_kv_entry *e);
enum mdm_bus_kv_op mdm_bus_kv_entry_op(struct mdm_bus_kv_entry *e);
void mdm_bus_kv_entry_free(struct mdm_bus_kv_entry *e); /* NULL-safe */

/* ---- Object Store ----------------------------------------------------- */

/* An object store bucket as NATS defines it (ADR-20; nats.c 3.4.1 has no API
 * for it, so this is its wire layout on plain JetStream): stream
 * OBJ_<bucket> on $O.<bucket>.C.> (chunks) and $O.<bucket>.M.> (metadata),
 * rollups allowed. An object is its chunks, published on $O.<bucket>.C.<nuid>
 * (MDM_BUS_OBJ_CHUNK bytes each), then one JSON metadata message (name,
 * bucket, nuid, size, chunks, mtime, digest "SHA-256=<base64url>") on
 * $O.<bucket>.M.<base64url(name)> with header Nats-Rollup: sub, which
 * replaces the previous version; the previous version's chunks are then
 * purged. `nats object ls/get/info <bucket>` read what is written here, and
 * objects `nats object put` wrote are read here. */
#define MDM_BUS_OBJ_CHUNK (128 * 1024)
#define MDM_BUS_OBJ_NUID_LEN 22

struct mdm_bus_obj;

struct mdm_bus_obj_info {
	char nuid[MDM_BUS_OBJ_NUID_LEN + 1];
	uint64_t size;          /* bytes */
	uint64_t chunks;
	char mtime[40];         /* RFC 3339, as in the metadata */
	uint64_t meta_seq;      /* stream sequence of the metadata message */
	int64_t stored_ns;      /* when the stream stored the metadata (realtime ns) */
};

/* Open bucket `bucket`; with replicas > 0 create its stream when absent
 * (file storage, discard new, rollups and direct get allowed). Returns 0 and
 * *out, -ENOENT (absent and replicas == 0), -EINVAL, -ENOTSUP, -ETIMEDOUT.
 * Thread-safe. Blocking. */
int mdm_bus_obj_open(struct mdm_bus *bus, const char *bucket, int replicas, struct mdm_bus_obj **out);
void mdm_bus_obj_destroy(struct mdm_bus_obj *o); /* NULL-safe; the bucket stays */

/* Store data[0..len) as object `name` (replacing the previous version; its
 * chunks are purged). *info (may be NULL) describes what was stored.
 * Returns 0, -EINVAL, -ENOMEM, -ENOSPC (stream full), -ETIMEDOUT, -EIO. On a
 * failure the previous version stays current. Blocking. */
int mdm_bus_obj_put(struct mdm_bus_obj *o, const char *name, const void *data, size_t len,
		    struct mdm_bus_obj_info *info);

/* Current version of object `name`: its bytes replace out's contents and
 * *info (may be NULL) its metadata. Returns 0, -ENOENT (no such object, or
 * deleted), -EPROTO (metadata unreadable), -EBADMSG (chunks missing, size or
 * SHA-256 digest differ from the metadata: detail says which), -ENOMEM,
 * -ETIMEDOUT. Blocking. */
int mdm_bus_obj_get(struct mdm_bus_obj *o, const char *name, struct mdm_buf *out, struct mdm_bus_obj_info *info);

/* Metadata of object `name` only (no chunks read). 0, -ENOENT, -EPROTO,
 * -ETIMEDOUT. Blocking. */
int mdm_bus_obj_info(struct mdm_bus_obj *o, const char *name, struct mdm_bus_obj_info *info);

#endif
