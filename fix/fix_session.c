/* FIX session state machine (fix_session.h). Every outbound message is built
 * in one buffer owned by the session; inbound messages are parsed in place. */
#include "fix_session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_mem.h"

#define OUT_MAX 8192
#define ID_MAX 64
#define TEST_GRACE_NS (2 * MDM_NS_PER_S)    /* TestRequest at HeartBtInt + this */
#define TEST_TIMEOUT_NS (4 * MDM_NS_PER_S)  /* disconnect at 2 x HeartBtInt + this */

struct fix_session {
	struct fix_session_params p;
	char begin_string[16], sender[ID_MAX], target[ID_MAX];
	enum fix_session_state state;
	uint64_t next_in, next_out;
	uint64_t hb_ns;               /* negotiated HeartBtInt */
	uint64_t state_since_ns;
	uint64_t last_rx_ns, last_tx_ns;
	uint64_t test_req_ns;         /* when our TestRequest went out, 0: none pending */
	uint64_t test_req_id;
	uint64_t resend_until;        /* highest number seen above the gap, 0: no resend pending */
	uint64_t resend_sent_ns, resend_from;
	bool replay;                  /* the message being built is a replay */
	bool reset_sent;              /* our Logon carried 141=Y */
	struct fix_write w;
	struct fix_msg m;
	struct fix_session_counters c;
	char out[OUT_MAX];
};

static void event(struct fix_session *s, enum fix_event ev, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void event(struct fix_session *s, enum fix_event ev, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	if (!s->p.ops->event)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->p.ops->event(s->p.ctx, ev, text);
}

static bool copy_id(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n == 0 || n >= cap || strchr(src, FIX_SOH) || strchr(src, '='))
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

int fix_session_create(struct fix_session **out, const struct fix_session_params *p)
{
	struct fix_session *s;

	*out = NULL;
	if (!p->ops || !p->ops->send || !p->ops->persist || !p->ops->deliver)
		return mdm_err_set(-EINVAL, "fix session: send, persist and deliver callbacks are required");
	if (p->heartbeat_s < 1 || p->heartbeat_s > 600)
		return mdm_err_set(-EINVAL, "fix session: heartbeat %u s out of 1..600", p->heartbeat_s);
	if (p->next_in < 1 || p->next_out < 1)
		return mdm_err_set(-EINVAL, "fix session: sequence numbers start at 1");
	s = mdm_calloc(1, sizeof(*s));
	if (!s)
		return mdm_err_set(-ENOMEM, "fix session: out of memory");
	if (!copy_id(s->begin_string, sizeof(s->begin_string), p->begin_string) ||
	    (strcmp(p->begin_string, "FIX.4.4") != 0 && strcmp(p->begin_string, "FIX.4.2") != 0)) {
		mdm_free(s);
		return mdm_err_set(-EINVAL, "fix session: BeginString '%s': FIX.4.4 or FIX.4.2",
				   p->begin_string ? p->begin_string : "");
	}
	if (!copy_id(s->sender, sizeof(s->sender), p->sender) || !copy_id(s->target, sizeof(s->target), p->target)) {
		mdm_free(s);
		return mdm_err_set(-EINVAL, "fix session: sender and target CompIDs: 1..%d bytes, no SOH or '='",
				   ID_MAX - 1);
	}
	s->p = *p;
	s->p.begin_string = s->begin_string;
	s->p.sender = s->sender;
	s->p.target = s->target;
	if (!s->p.logon_timeout_ns)
		s->p.logon_timeout_ns = 10 * MDM_NS_PER_S;
	if (!s->p.logout_timeout_ns)
		s->p.logout_timeout_ns = 5 * MDM_NS_PER_S;
	s->next_in = p->next_in;
	s->next_out = p->next_out;
	s->hb_ns = p->heartbeat_s * MDM_NS_PER_S;
	mdm_counter_set(&s->c.next_in, s->next_in);
	mdm_counter_set(&s->c.next_out, s->next_out);
	*out = s;
	return 0;
}

void fix_session_destroy(struct fix_session *s)
{
	mdm_free(s);
}

enum fix_session_state fix_session_state(const struct fix_session *s)
{
	return s->state;
}

uint64_t fix_session_next_in(const struct fix_session *s)
{
	return s->next_in;
}

uint64_t fix_session_next_out(const struct fix_session *s)
{
	return s->next_out;
}

const struct fix_session_counters *fix_session_counters(const struct fix_session *s)
{
	return &s->c;
}

static void set_state(struct fix_session *s, enum fix_session_state st, uint64_t now_ns)
{
	s->state = st;
	s->state_since_ns = now_ns;
}

static void set_next_in(struct fix_session *s, uint64_t v)
{
	s->next_in = v;
	mdm_counter_set(&s->c.next_in, v);
}

/* ---- outbound ---- */

static void header(struct fix_session *s, const char *type, uint64_t seq, uint64_t now_ns)
{
	fix_write_begin(&s->w, s->out, sizeof(s->out), type);
	fix_write_str(&s->w, 49, s->sender);
	fix_write_str(&s->w, 56, s->target);
	fix_write_u64(&s->w, 34, seq);
	fix_write_utc(&s->w, 52, now_ns);
	s->last_tx_ns = now_ns;
}

struct fix_write *fix_session_begin(struct fix_session *s, const char *type, uint64_t now_ns)
{
	if (s->state == FIX_S_DISCONNECTED)
		return NULL;
	s->replay = false;
	header(s, type, s->next_out, now_ns);
	return &s->w;
}

static int transmit(struct fix_session *s)
{
	const char *p;
	size_t len;
	int rc = fix_write_end(&s->w, s->begin_string, &p, &len);

	if (rc != 0)
		return mdm_err_set(rc, "fix session: outbound message larger than %d bytes", OUT_MAX);
	rc = s->p.ops->send(s->p.ctx, p, len);
	if (rc < 0)
		return rc;
	mdm_counter_add(&s->c.msgs_out, 1);
	return 0;
}

int fix_session_send(struct fix_session *s)
{
	int rc = s->p.ops->persist(s->p.ctx, s->next_out + 1);

	if (rc < 0)
		return rc;
	rc = transmit(s);
	/* numbered even when the write failed: the peer may have read part of
	 * it, and a number skipped is a gap it recovers, a number reused is not */
	s->next_out++;
	mdm_counter_set(&s->c.next_out, s->next_out);
	return rc;
}

struct fix_write *fix_session_begin_replay(struct fix_session *s, const char *type, uint64_t seq, uint64_t orig_ns,
					   uint64_t now_ns)
{
	if (s->state == FIX_S_DISCONNECTED)
		return NULL;
	s->replay = true;
	header(s, type, seq, now_ns);
	fix_write_str(&s->w, 43, "Y");
	fix_write_utc(&s->w, 122, orig_ns);
	return &s->w;
}

int fix_session_send_replay(struct fix_session *s)
{
	return transmit(s);
}

int fix_session_gap_fill(struct fix_session *s, uint64_t seq, uint64_t new_seq, uint64_t now_ns)
{
	struct fix_write *w = fix_session_begin_replay(s, "4", seq, now_ns, now_ns);

	if (!w)
		return -ENOTCONN;
	fix_write_str(w, 123, "Y");
	fix_write_u64(w, 36, new_seq);
	mdm_counter_add(&s->c.gap_fills_sent, 1);
	return transmit(s);
}

void fix_session_rewind_in(struct fix_session *s, uint64_t seq)
{
	if (seq >= 1 && seq < s->next_in) {
		set_next_in(s, seq);
		s->resend_until = 0;
	}
}

void fix_session_skip_out(struct fix_session *s)
{
	s->next_out++;
	mdm_counter_set(&s->c.next_out, s->next_out);
}

static int send_simple(struct fix_session *s, const char *type, unsigned tag, const char *value, uint64_t now_ns)
{
	struct fix_write *w = fix_session_begin(s, type, now_ns);

	if (!w)
		return -ENOTCONN;
	if (tag)
		fix_write_str(w, tag, value);
	return fix_session_send(s);
}

static int send_logon(struct fix_session *s, bool reset, uint64_t now_ns)
{
	struct fix_write *w = fix_session_begin(s, "A", now_ns);

	fix_write_str(w, 98, "0");
	fix_write_u64(w, 108, s->hb_ns / MDM_NS_PER_S);
	if (reset)
		fix_write_str(w, 141, "Y");
	return fix_session_send(s);
}

/* SessionRejectReason (373) for a refusal reason. */
static unsigned reject_code(int reason)
{
	switch (reason) {
	case FIX_R_MISSING_TAG: return 1;
	case FIX_R_BAD_VALUE: return 5;
	case FIX_R_BAD_PRICE: return 5;
	case FIX_R_BAD_SEQUENCE_RESET: return 5;
	case FIX_R_BAD_FIELD: return 6;
	case FIX_R_BAD_COMP_ID: return 9;
	case FIX_R_BAD_SENDING_TIME: return 10;
	case FIX_R_UNKNOWN_MSG_TYPE: return 11;
	case FIX_R_DUPLICATE_TAG: return 13;
	case FIX_R_BAD_GROUP: return 16;
	default: return 99;
	}
}

static int send_reject(struct fix_session *s, uint64_t ref_seq, int reason, uint32_t ref_tag, uint64_t now_ns)
{
	struct fix_write *w = fix_session_begin(s, "3", now_ns);
	char text[64];

	if (!w)
		return -ENOTCONN;
	fix_write_u64(w, 45, ref_seq);
	if (ref_tag)
		fix_write_u64(w, 371, ref_tag);
	if (strcmp(s->begin_string, "FIX.4.2") != 0 || reject_code(reason) <= 11)
		fix_write_u64(w, 373, reject_code(reason));
	snprintf(text, sizeof(text), "%s", fix_reason_name(reason));
	fix_write_str(w, 58, text);
	mdm_counter_add(&s->c.rejects_sent, 1);
	return fix_session_send(s);
}

/* Logout with a reason, then drop the line: for errors FIX calls serious. */
static int fail(struct fix_session *s, int reason, uint64_t now_ns, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct fix_session *s, int reason, uint64_t now_ns, const char *fmt, ...)
{
	char text[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (reason)
		mdm_counter_add(&s->c.refused[reason], 1);
	if (s->state == FIX_S_ACTIVE)
		send_simple(s, "5", 58, text, now_ns);
	event(s, FIX_EV_ERROR, "%s", text);
	return FIX_DISCONNECT;
}

static void count_refused(struct fix_session *s, int reason)
{
	mdm_counter_add(&s->c.refused[reason < 0 ? -reason : reason], 1);
}

/* ---- inbound ---- */

int fix_session_connected(struct fix_session *s, uint64_t now_ns)
{
	s->last_rx_ns = now_ns;
	s->last_tx_ns = now_ns;
	s->test_req_ns = 0;
	s->resend_until = 0;
	if (!s->p.initiator) {
		set_state(s, FIX_S_AWAIT_LOGON, now_ns);
		return FIX_CONTINUE;
	}
	set_state(s, FIX_S_LOGON_SENT, now_ns);
	s->reset_sent = s->p.reset_on_logon;
	if (s->reset_sent) {
		if (s->p.ops->reset)
			s->p.ops->reset(s->p.ctx);
		s->next_out = 1;
		set_next_in(s, 1);
		s->p.reset_on_logon = false; /* once: a reconnect continues the numbers */
	}
	if (send_logon(s, s->reset_sent, now_ns) != 0) {
		event(s, FIX_EV_ERROR, "sending Logon: %s", mdm_err_last());
		return FIX_DISCONNECT;
	}
	return FIX_CONTINUE;
}

void fix_session_frame_error(struct fix_session *s, int reason)
{
	count_refused(s, reason);
}

void fix_session_disconnected(struct fix_session *s)
{
	if (s->state != FIX_S_DISCONNECTED)
		mdm_counter_add(&s->c.disconnects, 1);
	s->state = FIX_S_DISCONNECTED;
	s->test_req_ns = 0;
	s->resend_until = 0;
}

static int request_resend(struct fix_session *s, uint64_t now_ns)
{
	struct fix_write *w = fix_session_begin(s, "2", now_ns);

	fix_write_u64(w, 7, s->next_in);
	/* 4.2 says "infinity" as 999999, 4.4 as 0 */
	fix_write_u64(w, 16, strcmp(s->begin_string, "FIX.4.2") == 0 ? 999999 : 0);
	s->resend_sent_ns = now_ns;
	s->resend_from = s->next_in;
	mdm_counter_add(&s->c.resend_requests_sent, 1);
	return fix_session_send(s);
}

/* A number above the expected one: ask once, then wait for the resend. */
static int gap(struct fix_session *s, uint64_t seq, uint64_t now_ns)
{
	if (s->resend_until) {
		if (seq > s->resend_until)
			s->resend_until = seq;
		mdm_counter_add(&s->c.dropped_above_gap, 1);
		return FIX_CONTINUE;
	}
	s->resend_until = seq;
	event(s, FIX_EV_GAP, "expected %" PRIu64 ", received %" PRIu64 ": ResendRequest", s->next_in, seq);
	if (request_resend(s, now_ns) != 0)
		return FIX_DISCONNECT;
	mdm_counter_add(&s->c.dropped_above_gap, 1);
	return FIX_CONTINUE;
}

static int answer_resend(struct fix_session *s, const struct fix_msg *m, uint64_t now_ns)
{
	uint64_t begin, end;

	mdm_counter_add(&s->c.resend_requests_received, 1);
	if (fix_view_u64(m->f[FIX_F_BEGIN_SEQ_NO], &begin) != 0 || fix_view_u64(m->f[FIX_F_END_SEQ_NO], &end) != 0 ||
	    begin < 1) {
		count_refused(s, FIX_R_BAD_VALUE);
		return 0;
	}
	if (end == 0 || end >= s->next_out || (end == 999999 && strcmp(s->begin_string, "FIX.4.2") == 0))
		end = s->next_out - 1;
	if (begin > end)
		return 0; /* nothing we sent is in that range */
	if (s->p.ops->resend)
		return s->p.ops->resend(s->p.ctx, begin, end);
	return fix_session_gap_fill(s, begin, end + 1, now_ns);
}

static int on_logon(struct fix_session *s, const struct fix_msg *m, uint64_t seq, uint64_t now_ns)
{
	uint64_t hb;
	bool reset = fix_view_eq(m->f[FIX_F_RESET_SEQ_NUM_FLAG], "Y");

	if (s->state == FIX_S_ACTIVE || s->state == FIX_S_LOGOUT_SENT)
		return fail(s, FIX_R_BAD_VALUE, now_ns, "Logon while logged on");
	if (!fix_view_eq(m->f[FIX_F_ENCRYPT_METHOD], "0"))
		return fail(s, FIX_R_BAD_VALUE, now_ns, "EncryptMethod(98) must be 0");
	if (fix_view_u64(m->f[FIX_F_HEART_BT_INT], &hb) != 0 || hb < 1 || hb > 600)
		return fail(s, FIX_R_BAD_VALUE, now_ns, "HeartBtInt(108) must be 1..600");
	if (reset && !s->reset_sent) {
		/* the peer restarts both numbering spaces: settle ours first */
		if (s->p.ops->reset)
			s->p.ops->reset(s->p.ctx);
		set_next_in(s, 1);
		s->next_out = 1;
		mdm_counter_add(&s->c.seq_resets_received, 1);
	}
	if (seq < s->next_in)
		return fail(s, FIX_R_SEQ_TOO_LOW, now_ns, "MsgSeqNum too low, expecting %" PRIu64 " but received %" PRIu64,
			    s->next_in, seq);
	if (!s->p.initiator) {
		s->hb_ns = hb * MDM_NS_PER_S;
		set_state(s, FIX_S_ACTIVE, now_ns);
		if (send_logon(s, reset, now_ns) != 0)
			return FIX_DISCONNECT;
	}
	set_state(s, FIX_S_ACTIVE, now_ns);
	s->reset_sent = false;
	mdm_counter_add(&s->c.logons, 1);
	event(s, FIX_EV_LOGGED_ON, "next in %" PRIu64 ", next out %" PRIu64, s->next_in, s->next_out);
	if (seq > s->next_in)
		return gap(s, seq, now_ns);
	set_next_in(s, seq + 1);
	return FIX_CONTINUE;
}

static int on_logout(struct fix_session *s, const struct fix_msg *m, uint64_t now_ns)
{
	mdm_counter_add(&s->c.logouts, 1);
	if (s->state != FIX_S_LOGOUT_SENT)
		send_simple(s, "5", 0, NULL, now_ns);
	event(s, FIX_EV_LOGGED_OUT, "%.*s", (int)m->f[FIX_F_TEXT].len, m->f[FIX_F_TEXT].p ? m->f[FIX_F_TEXT].p : "");
	return FIX_DISCONNECT;
}

/* SequenceReset: gap fill (in sequence) or reset (regardless of MsgSeqNum). */
static int on_sequence_reset(struct fix_session *s, const struct fix_msg *m, uint64_t seq, uint64_t now_ns)
{
	uint64_t new_seq;

	if (fix_view_u64(m->f[FIX_F_NEW_SEQ_NO], &new_seq) != 0) {
		count_refused(s, FIX_R_MISSING_TAG);
		send_reject(s, seq, FIX_R_MISSING_TAG, 36, now_ns);
		if (fix_view_eq(m->f[FIX_F_GAP_FILL_FLAG], "Y"))
			set_next_in(s, s->next_in + 1);
		return FIX_CONTINUE;
	}
	if (new_seq < s->next_in) {
		count_refused(s, FIX_R_BAD_SEQUENCE_RESET);
		send_reject(s, seq, FIX_R_BAD_SEQUENCE_RESET, 36, now_ns);
		return FIX_CONTINUE;
	}
	if (fix_view_eq(m->f[FIX_F_GAP_FILL_FLAG], "Y"))
		mdm_counter_add(&s->c.gap_fills_received, 1);
	else
		mdm_counter_add(&s->c.seq_resets_received, 1);
	/* a gap fill may also jump past the end of the range we asked for */
	set_next_in(s, new_seq > s->next_in ? new_seq : s->next_in);
	return FIX_CONTINUE;
}

static int dispatch(struct fix_session *s, struct fix_msg *m, uint64_t seq, bool poss_dup, uint64_t now_ns)
{
	struct fix_view t = m->f[FIX_F_MSG_TYPE];
	int rc;

	if (t.len == 1) {
		switch (t.p[0]) {
		case '0': /* liveness is any traffic: on_msg cleared the TestRequest */
			break;
		case '1': {
			struct fix_write *w = fix_session_begin(s, "0", now_ns);

			if (fix_has(m, FIX_F_TEST_REQ_ID))
				fix_write_mem(w, 112, m->f[FIX_F_TEST_REQ_ID].p, m->f[FIX_F_TEST_REQ_ID].len);
			if (fix_session_send(s) != 0)
				return FIX_DISCONNECT;
			mdm_counter_add(&s->c.heartbeats_sent, 1);
			break;
		}
		case '2':
			if (answer_resend(s, m, now_ns) < 0)
				return FIX_DISCONNECT;
			break;
		case '3':
			mdm_counter_add(&s->c.rejects_received, 1);
			break;
		case '5':
			set_next_in(s, seq + 1);
			return on_logout(s, m, now_ns);
		case '8':
			rc = s->p.ops->deliver(s->p.ctx, m, poss_dup);
			mdm_counter_add(&s->c.app_in, 1);
			if (rc < 0) {
				count_refused(s, rc);
				if (send_reject(s, seq, -rc, m->bad_tag, now_ns) != 0)
					return FIX_DISCONNECT;
			}
			break;
		default:
			goto unknown;
		}
		set_next_in(s, seq + 1);
		return FIX_CONTINUE;
	}
unknown:
	count_refused(s, FIX_R_UNKNOWN_MSG_TYPE);
	set_next_in(s, seq + 1);
	if (send_reject(s, seq, FIX_R_UNKNOWN_MSG_TYPE, 35, now_ns) != 0)
		return FIX_DISCONNECT;
	return FIX_CONTINUE;
}

int fix_session_on_msg(struct fix_session *s, const char *buf, size_t len, uint64_t now_ns)
{
	struct fix_msg *m = &s->m;
	uint64_t seq = 0, sent_ns;
	bool have_seq, poss_dup, is_logon, gap_fill;
	int rc;

	mdm_counter_add(&s->c.msgs_in, 1);
	s->last_rx_ns = now_ns;
	if (s->test_req_ns)
		s->test_req_ns = 0; /* any traffic answers for the peer being alive */
	if (s->state == FIX_S_DISCONNECTED)
		return FIX_DISCONNECT;
	rc = fix_parse(m, buf, len);
	if (!fix_view_eq(m->f[FIX_F_BEGIN_STRING], s->begin_string))
		return fail(s, FIX_R_BAD_BEGIN_STRING, now_ns, "BeginString must be %s", s->begin_string);
	have_seq = fix_view_u64(m->f[FIX_F_MSG_SEQ_NUM], &seq) == 0 && seq > 0;
	is_logon = fix_view_eq(m->f[FIX_F_MSG_TYPE], "A");
	if (s->state == FIX_S_LOGON_SENT || s->state == FIX_S_AWAIT_LOGON) {
		if (rc < 0 || !is_logon) {
			count_refused(s, rc < 0 ? rc : -FIX_R_NOT_LOGGED_ON);
			event(s, FIX_EV_ERROR, "first message is not a valid Logon (%s)",
			      rc < 0 ? fix_reason_name(rc) : "not_logged_on");
			return FIX_DISCONNECT;
		}
	}
	if (rc < 0) {
		count_refused(s, rc);
		if (!have_seq || seq > s->next_in)
			return have_seq ? gap(s, seq, now_ns) : FIX_CONTINUE;
		if (seq < s->next_in)
			return FIX_CONTINUE;
		set_next_in(s, seq + 1); /* a refused message consumes its number */
		return send_reject(s, seq, -rc, m->bad_tag, now_ns) == 0 ? FIX_CONTINUE : FIX_DISCONNECT;
	}
	if (!have_seq) {
		count_refused(s, FIX_R_BAD_VALUE);
		return FIX_CONTINUE;
	}
	if (!fix_view_eq(m->f[FIX_F_SENDER_COMP_ID], s->target) || !fix_view_eq(m->f[FIX_F_TARGET_COMP_ID], s->sender)) {
		if (s->state == FIX_S_ACTIVE)
			send_reject(s, seq, FIX_R_BAD_COMP_ID, 49, now_ns);
		return fail(s, FIX_R_BAD_COMP_ID, now_ns, "CompID problem: expected %s -> %s", s->target, s->sender);
	}
	poss_dup = fix_view_eq(m->f[FIX_F_POSS_DUP_FLAG], "Y");
	if (fix_view_utc_ns(m->f[FIX_F_SENDING_TIME], &sent_ns) != 0) {
		if (s->state == FIX_S_ACTIVE)
			send_reject(s, seq, FIX_R_BAD_VALUE, 52, now_ns);
		return fail(s, FIX_R_BAD_VALUE, now_ns, "SendingTime(52) is not a UTCTimestamp");
	}
	if (s->p.max_skew_ns && !poss_dup &&
	    (sent_ns > now_ns + s->p.max_skew_ns || sent_ns + s->p.max_skew_ns < now_ns)) {
		if (s->state == FIX_S_ACTIVE)
			send_reject(s, seq, FIX_R_BAD_SENDING_TIME, 52, now_ns);
		return fail(s, FIX_R_BAD_SENDING_TIME, now_ns, "SendingTime accuracy problem");
	}
	if (is_logon)
		return on_logon(s, m, seq, now_ns);
	gap_fill = fix_view_eq(m->f[FIX_F_GAP_FILL_FLAG], "Y");
	if (fix_view_eq(m->f[FIX_F_MSG_TYPE], "4") && !gap_fill)
		return on_sequence_reset(s, m, seq, now_ns);
	if (seq < s->next_in) {
		if (poss_dup) {
			mdm_counter_add(&s->c.duplicates, 1);
			return FIX_CONTINUE;
		}
		return fail(s, FIX_R_SEQ_TOO_LOW, now_ns, "MsgSeqNum too low, expecting %" PRIu64 " but received %" PRIu64,
			    s->next_in, seq);
	}
	if (seq > s->next_in) {
		/* a resend request is answered even out of order, so two
		 * sides with gaps at once cannot wait on each other */
		if (fix_view_eq(m->f[FIX_F_MSG_TYPE], "2") && answer_resend(s, m, now_ns) < 0)
			return FIX_DISCONNECT;
		if (fix_view_eq(m->f[FIX_F_MSG_TYPE], "5"))
			return on_logout(s, m, now_ns);
		return gap(s, seq, now_ns);
	}
	if (gap_fill)
		rc = on_sequence_reset(s, m, seq, now_ns);
	else
		rc = dispatch(s, m, seq, poss_dup, now_ns);
	if (s->resend_until && s->next_in > s->resend_until) {
		s->resend_until = 0;
		event(s, FIX_EV_RESEND_DONE, "caught up at %" PRIu64, s->next_in);
	}
	return rc;
}

int fix_session_tick(struct fix_session *s, uint64_t now_ns)
{
	switch (s->state) {
	case FIX_S_DISCONNECTED:
		return FIX_CONTINUE;
	case FIX_S_LOGON_SENT:
	case FIX_S_AWAIT_LOGON:
		if (now_ns - s->state_since_ns >= s->p.logon_timeout_ns) {
			event(s, FIX_EV_ERROR, "no Logon within %" PRIu64 " ms", (uint64_t)(s->p.logon_timeout_ns / MDM_NS_PER_MS));
			return FIX_DISCONNECT;
		}
		return FIX_CONTINUE;
	case FIX_S_LOGOUT_SENT:
		if (now_ns - s->state_since_ns >= s->p.logout_timeout_ns) {
			event(s, FIX_EV_LOGGED_OUT, "no Logout answer within %" PRIu64 " ms",
			      (uint64_t)(s->p.logout_timeout_ns / MDM_NS_PER_MS));
			return FIX_DISCONNECT;
		}
		return FIX_CONTINUE;
	case FIX_S_ACTIVE:
		break;
	}
	if (s->test_req_ns && now_ns >= s->last_rx_ns + 2 * s->hb_ns + TEST_TIMEOUT_NS) {
		event(s, FIX_EV_ERROR, "TestRequest unanswered: peer silent for %" PRIu64 " ms",
		      (uint64_t)((now_ns - s->last_rx_ns) / MDM_NS_PER_MS));
		return FIX_DISCONNECT;
	}
	if (!s->test_req_ns && now_ns >= s->last_rx_ns + s->hb_ns + TEST_GRACE_NS) {
		char id[24];

		snprintf(id, sizeof(id), "T%" PRIu64, ++s->test_req_id);
		if (send_simple(s, "1", 112, id, now_ns) != 0)
			return FIX_DISCONNECT;
		s->test_req_ns = now_ns;
		mdm_counter_add(&s->c.test_requests_sent, 1);
	}
	/* a resend that made no progress for a heartbeat interval: ask again */
	if (s->resend_until && s->next_in == s->resend_from && now_ns >= s->resend_sent_ns + s->hb_ns &&
	    request_resend(s, now_ns) != 0)
		return FIX_DISCONNECT;
	if (s->resend_until && s->next_in != s->resend_from) {
		s->resend_from = s->next_in;
		s->resend_sent_ns = now_ns;
	}
	if (now_ns >= s->last_tx_ns + s->hb_ns) {
		if (send_simple(s, "0", 0, NULL, now_ns) != 0)
			return FIX_DISCONNECT;
		mdm_counter_add(&s->c.heartbeats_sent, 1);
	}
	return FIX_CONTINUE;
}

int fix_session_logout(struct fix_session *s, const char *text, uint64_t now_ns)
{
	if (s->state != FIX_S_ACTIVE)
		return FIX_DISCONNECT;
	if (send_simple(s, "5", text ? 58 : 0, text, now_ns) != 0)
		return FIX_DISCONNECT;
	set_state(s, FIX_S_LOGOUT_SENT, now_ns);
	return FIX_CONTINUE;
}
