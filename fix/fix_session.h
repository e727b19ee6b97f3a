/* The FIX session layer (FIX 4.2 and 4.4, initiator or acceptor) as pure
 * logic: framed inbound messages and clock ticks in, effects out through a
 * table of callbacks (bytes to send, a sequence number to persist, an
 * application message to deliver in order, a resend to answer). No socket,
 * no clock read, no allocation after create: unit tests drive it table by
 * table, and mdmesh-fix and `mdmesh-loadgen fix` drive it over TCP.
 *
 * Rules (FIX_FACTS.md): Logon first; Heartbeat after HeartBtInt of silence
 * from us; TestRequest after HeartBtInt + 2 s of silence from the peer and a
 * disconnect at 2 x HeartBtInt + 4 s; an inbound gap sends one
 * ResendRequest(expected, 0) and drops what is above it until the resend
 * fills it (asked again only when it makes no progress); lower than expected
 * with PossDupFlag=Y is a duplicate to ignore, without it a Logout;
 * SequenceReset gap fill / reset never moves the expected number back;
 * ResendRequest is answered by the resend callback or, by default, with one
 * gap fill (our outbound messages are admin only); garbled messages are
 * dropped (the gap they leave is recovered), well-framed bad ones are
 * answered with Reject (CompID and SendingTime errors also with Logout).
 * Not thread-safe: one thread drives a session. */
#ifndef FIX_SESSION_H
#define FIX_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fix_msg.h"
#include "fix_write.h"

enum fix_session_state {
	FIX_S_DISCONNECTED = 0,
	FIX_S_LOGON_SENT,   /* initiator: waiting for the answer to our Logon */
	FIX_S_AWAIT_LOGON,  /* acceptor: connected, waiting for the peer's Logon */
	FIX_S_ACTIVE,
	FIX_S_LOGOUT_SENT,  /* waiting for the peer's Logout */
};

/* What on_msg / tick / logout ask of the caller. */
enum { FIX_CONTINUE = 0, FIX_DISCONNECT = 1 };

enum fix_event {
	FIX_EV_LOGGED_ON,     /* text: "" */
	FIX_EV_LOGGED_OUT,    /* text: the peer's or our reason */
	FIX_EV_GAP,           /* text: "expected N, received M": a ResendRequest went out */
	FIX_EV_RESEND_DONE,   /* the gap is filled */
	FIX_EV_ERROR,         /* text: why the session is being closed */
};

struct fix_session_ops {
	/* Write these bytes to the peer. <0: the connection is broken. */
	int (*send)(void *ctx, const char *p, size_t len);
	/* Make next_out durable before a message with a lower number leaves.
	 * <0: the message is not sent and the session disconnects. */
	int (*persist)(void *ctx, uint64_t next_out);
	/* An application message, in sequence (poss_dup: PossDupFlag=Y). 0, or
	 * -FIX_R_x with m->bad_tag set to have it refused with a Reject (it then
	 * still consumed its number). */
	int (*deliver)(void *ctx, struct fix_msg *m, bool poss_dup);
	/* The peer asks for [begin, end] (end already bounded by next_out - 1).
	 * NULL: one gap fill over the whole range (admin-only senders). Answer
	 * with fix_session_begin_replay/_send_replay and fix_session_gap_fill. */
	int (*resend)(void *ctx, uint64_t begin, uint64_t end);
	/* Both sequence numbers are about to return to 1 (ResetSeqNumFlag):
	 * settle everything numbered in the old space first. May be NULL. */
	void (*reset)(void *ctx);
	/* Something worth a log line. May be NULL. */
	void (*event)(void *ctx, enum fix_event ev, const char *text);
};

struct fix_session_params {
	const char *begin_string;  /* "FIX.4.4" or "FIX.4.2" */
	const char *sender;        /* our CompID (49 on what we send) */
	const char *target;        /* theirs */
	bool initiator;
	uint32_t heartbeat_s;      /* HeartBtInt we ask for (initiator); 1..600 */
	uint64_t next_out;         /* from the persisted state (>= 1) */
	uint64_t next_in;          /* >= 1 */
	bool reset_on_logon;       /* initiator: ask for 141=Y (both numbers back to 1) */
	uint64_t max_skew_ns;      /* SendingTime off our clock by more: Reject + Logout; 0: no check */
	uint64_t logon_timeout_ns; /* 0: 10 s */
	uint64_t logout_timeout_ns; /* 0: 5 s */
	const struct fix_session_ops *ops;
	void *ctx;
};

/* Counters: written by the session's thread, read by any (mdm_counter_get). */
struct fix_session_counters {
	uint64_t msgs_in, msgs_out;
	uint64_t app_in;            /* delivered application messages */
	uint64_t refused[FIX_R_COUNT]; /* by reason (also what fix_session_frame_error counts) */
	uint64_t rejects_sent, rejects_received;
	uint64_t resend_requests_sent, resend_requests_received;
	uint64_t gap_fills_sent, gap_fills_received, seq_resets_received;
	uint64_t dropped_above_gap; /* higher than expected while a resend is pending */
	uint64_t duplicates;        /* lower than expected with PossDupFlag=Y */
	uint64_t heartbeats_sent, test_requests_sent;
	uint64_t logons, logouts, disconnects;
	uint64_t next_in, next_out; /* gauges */
};

struct fix_session;

/* 0, -EINVAL (detail via mdm_err_last), -ENOMEM. */
int fix_session_create(struct fix_session **out, const struct fix_session_params *p);
void fix_session_destroy(struct fix_session *s); /* NULL-safe */

/* The transport is up: an initiator sends Logon, an acceptor waits for one.
 * Returns FIX_CONTINUE or FIX_DISCONNECT. */
int fix_session_connected(struct fix_session *s, uint64_t now_ns);

/* One framed message (fix_frame's length) received at now_ns (realtime).
 * Returns FIX_CONTINUE or FIX_DISCONNECT (the caller closes the socket and
 * calls fix_session_disconnected). */
int fix_session_on_msg(struct fix_session *s, const char *buf, size_t len, uint64_t now_ns);

/* Bytes fix_frame refused (-reason): counted; nothing else (FIX: a garbled
 * message is ignored, and the gap it leaves is recovered by resend). */
void fix_session_frame_error(struct fix_session *s, int reason);

/* Timers: heartbeats, test requests, logon/logout timeouts, a stalled resend.
 * Call at least every 100 ms while connected. FIX_CONTINUE or FIX_DISCONNECT. */
int fix_session_tick(struct fix_session *s, uint64_t now_ns);

/* Send Logout (when logged on) and wait for the peer's: FIX_CONTINUE; or
 * FIX_DISCONNECT when there is nothing to wait for. */
int fix_session_logout(struct fix_session *s, const char *text, uint64_t now_ns);

/* The transport is gone (either side closed it). */
void fix_session_disconnected(struct fix_session *s);

enum fix_session_state fix_session_state(const struct fix_session *s);
uint64_t fix_session_next_in(const struct fix_session *s);
uint64_t fix_session_next_out(const struct fix_session *s);
const struct fix_session_counters *fix_session_counters(const struct fix_session *s);

/* ---- sending application messages (the load generator) ---- */

/* Start a message of `type` numbered next_out, header written; add body
 * fields, then fix_session_send. NULL when not logged on. */
struct fix_write *fix_session_begin(struct fix_session *s, const char *type, uint64_t now_ns);
/* Persist, send and count it (next_out + 1). 0, or <0 (then disconnect). */
int fix_session_send(struct fix_session *s);

/* A replay of message `seq` (PossDupFlag=Y, OrigSendingTime orig_ns), inside
 * the resend callback. next_out does not move. */
struct fix_write *fix_session_begin_replay(struct fix_session *s, const char *type, uint64_t seq, uint64_t orig_ns,
					   uint64_t now_ns);
int fix_session_send_replay(struct fix_session *s);

/* SequenceReset-GapFill numbered `seq` moving the peer to new_seq. 0 or <0. */
int fix_session_gap_fill(struct fix_session *s, uint64_t seq, uint64_t new_seq, uint64_t now_ns);

/* Expect inbound number `seq` again (lower than next_in; otherwise nothing):
 * what was received from it on was not kept (its publish failed), so the
 * next message opens a gap and a ResendRequest brings it back. */
void fix_session_rewind_in(struct fix_session *s, uint64_t seq);

/* Fault injection for tests: number the next message one higher, so the peer
 * sees a gap (the skipped number is then answered as a resend asks). */
void fix_session_skip_out(struct fix_session *s);

#endif
