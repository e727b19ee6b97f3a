/* SoupBinTCP input of the collector (soup_input.h): socket handling around
 * mdm_soup's framing and client session logic, mdm_moldpack to hand
 * messages on where MoldUDP64 packets go. */
#include "soup_input.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdm_addr.h"
#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_metrics.h"
#include "mdm_moldpack.h"

#define SOUP_IN_BUF 65536 /* bytes read per recv at most; holds any packet we accept */
#define SOUP_IN_NOTES 64  /* log notes queued for the control thread (power of two) */

/* Something for the control thread to log. */
enum note_kind { NOTE_CONNECT_FAILED, NOTE_LOGGED_IN, NOTE_REJECTED, NOTE_SESSION_GONE, NOTE_LOST, NOTE_ENDED };

struct note {
	uint8_t kind;     /* enum note_kind */
	char reject;      /* NOTE_REJECTED: 'A' or 'S' */
	int err;          /* errno, or 0 with `why` */
	const char *why;  /* static text */
	uint64_t seq;     /* the sequence number logged in at, or next after a loss */
	uint64_t retry_ns;
	char session[MDM_SOUP_SESSION_LEN + 1];
};

struct soup_input {
	struct soup_input_stats st; /* first: read by other threads */
	char server[128];
	struct sockaddr_in addr;
	char user[MDM_SOUP_USER_LEN + 1], password[MDM_SOUP_PASS_LEN + 1];
	uint64_t connect_timeout_ns, reconnect_min_ns, reconnect_max_ns, backoff_ns;
	size_t max_payload;
	enum soup_input_state state;
	int fd;
	uint64_t deadline_ns;       /* DOWN: reconnect at; CONNECTING: give up at */
	bool connect_failing;       /* a failure was noted: note the next only after a connection */
	bool resumed_session;       /* the session was asked for by soup_input_start_at */
	struct mdm_soup_client c;
	struct mdm_soup_client_stats base; /* counts of clients before c was set up again */
	struct mdm_moldpack pack;
	soup_input_packet_fn fn;    /* this poll's sink */
	void *ctx;
	unsigned delivered;         /* messages handed on in this poll */
	uint64_t note_head, note_tail; /* written by the owner / the consumer */
	struct note notes[SOUP_IN_NOTES];
	size_t in_len;
	uint8_t in[SOUP_IN_BUF];
};

int soup_input_create(struct soup_input **out, const struct soup_input_params *p)
{
	struct soup_input *si;
	struct sockaddr_in sa;
	int rc;

	if (!p->server || (p->user && strlen(p->user) > MDM_SOUP_USER_LEN) ||
	    (p->password && strlen(p->password) > MDM_SOUP_PASS_LEN))
		return mdm_err_set(-EINVAL, "input.soup: a server HOST:PORT, a user of at most %d and a password of at "
					    "most %d characters",
				   MDM_SOUP_USER_LEN, MDM_SOUP_PASS_LEN);
	rc = mdm_addr_resolve_v4(p->server, &sa);
	if (rc != 0)
		return mdm_err_set(rc, "input.soup %s", mdm_err_last());
	si = mdm_calloc(1, sizeof(*si));
	if (!si)
		return mdm_err_set(-ENOMEM, "input.soup: out of memory");
	snprintf(si->server, sizeof(si->server), "%s", p->server);
	si->addr = sa;
	snprintf(si->user, sizeof(si->user), "%s", p->user ? p->user : "");
	snprintf(si->password, sizeof(si->password), "%s", p->password ? p->password : "");
	si->connect_timeout_ns = p->connect_timeout_ns ? p->connect_timeout_ns : 5 * MDM_NS_PER_S;
	si->reconnect_min_ns = p->reconnect_min_ns ? p->reconnect_min_ns : 100 * MDM_NS_PER_MS;
	si->reconnect_max_ns = p->reconnect_max_ns ? p->reconnect_max_ns : 2 * MDM_NS_PER_S;
	if (si->reconnect_max_ns < si->reconnect_min_ns)
		si->reconnect_max_ns = si->reconnect_min_ns;
	si->backoff_ns = si->reconnect_min_ns;
	si->max_payload = p->max_payload;
	si->fd = -1;
	mdm_soup_client_init(&si->c, "", 1);
	if (p->heartbeat_ns)
		si->c.heartbeat_ns = p->heartbeat_ns;
	if (p->timeout_ns)
		si->c.timeout_ns = p->timeout_ns;
	si->st.next_seq = 1;
	*out = si;
	return 0;
}

void soup_input_destroy(struct soup_input *si)
{
	if (!si)
		return;
	if (si->fd >= 0)
		close(si->fd);
	mdm_free(si);
}

void soup_input_start_at(struct soup_input *si, const char *session, uint64_t next_seq)
{
	uint64_t hb = si->c.heartbeat_ns, to = si->c.timeout_ns;
	const struct mdm_soup_client_stats *c = &si->c.st;
	struct mdm_soup_client_stats *b = &si->base;

	/* the counters go on: the new client starts at zero */
	b->logins += c->logins;
	b->timeouts += c->timeouts;
	b->messages += c->messages;
	b->heartbeats_rx += c->heartbeats_rx;
	b->heartbeats_tx += c->heartbeats_tx;
	b->debug += c->debug;
	for (int r = 0; r < MDM_SOUP_REASONS; r++)
		b->errors[r] += c->errors[r];
	mdm_soup_client_init(&si->c, session, next_seq);
	si->c.heartbeat_ns = hb;
	si->c.timeout_ns = to;
	si->resumed_session = session && session[0];
	mdm_counter_set(&si->st.next_seq, next_seq);
}

bool soup_input_ended(const struct soup_input *si)
{
	return __atomic_load_n(&si->state, __ATOMIC_RELAXED) == SOUP_INPUT_ENDED;
}

const struct soup_input_stats *soup_input_stats(const struct soup_input *si) { return &si->st; }
const char *soup_input_server(const struct soup_input *si) { return si->server; }

/* ---- notes: owner -> control thread (single producer, single consumer) ---- */

static void note(struct soup_input *si, const struct note *n)
{
	uint64_t tail = __atomic_load_n(&si->note_tail, __ATOMIC_ACQUIRE);

	if (si->note_head - tail == SOUP_IN_NOTES) {
		mdm_counter_add(&si->st.notes_dropped, 1);
		return;
	}
	si->notes[si->note_head % SOUP_IN_NOTES] = *n;
	__atomic_store_n(&si->note_head, si->note_head + 1, __ATOMIC_RELEASE);
}

static const char *const state_names[] = { "down", "connecting", "logging_in", "active", "ended" };

void soup_input_log(struct soup_input *si)
{
	uint64_t head = __atomic_load_n(&si->note_head, __ATOMIC_ACQUIRE);

	for (; si->note_tail != head; __atomic_store_n(&si->note_tail, si->note_tail + 1, __ATOMIC_RELEASE)) {
		const struct note *n = &si->notes[si->note_tail % SOUP_IN_NOTES];
		const char *why = n->err ? mdm_strerror(n->err) : n->why;

		switch (n->kind) {
		case NOTE_CONNECT_FAILED:
			mdm_log_warn("soup: connect %s: %s; retrying every %" PRIu64 " ms at most (logged again once connected)",
				     si->server, why, (uint64_t)(si->reconnect_max_ns / MDM_NS_PER_MS));
			break;
		case NOTE_LOGGED_IN:
			mdm_log_info("soup: logged in to %s, session %s, at sequence %" PRIu64, si->server, n->session, n->seq);
			break;
		case NOTE_REJECTED:
			mdm_log_error("soup: login to %s rejected (%c: %s); retrying in %" PRIu64 " ms", si->server, n->reject,
				      n->reject == 'A' ? "not authorized: check input.soup_user and input.soup_password"
				      : n->reject == 'S' ? "session not available"
							 : "unknown reason",
				      (uint64_t)(n->retry_ns / MDM_NS_PER_MS));
			break;
		case NOTE_SESSION_GONE:
			mdm_log_warn("soup: session %s is not available on %s any more: logging in to the current session from "
				     "sequence 1",
				     n->session, si->server);
			break;
		case NOTE_LOST:
			mdm_log_warn("soup: connection to %s lost (%s); logging in again at sequence %" PRIu64 " in %" PRIu64 " ms",
				     si->server, why, n->seq, (uint64_t)(n->retry_ns / MDM_NS_PER_MS));
			break;
		case NOTE_ENDED:
			mdm_log_info("soup: End of Session from %s (session %s, next sequence %" PRIu64 "): input ended",
				     si->server, n->session, n->seq);
			break;
		default: break;
		}
	}
}

/* ---- the connection ---- */

static void set_state(struct soup_input *si, enum soup_input_state s)
{
	__atomic_store_n(&si->state, s, __ATOMIC_RELAXED);
	mdm_counter_set(&si->st.state, (uint64_t)s);
}

/* Hand on the packet being built, if it holds messages. */
static void flush(struct soup_input *si)
{
	size_t len;
	const uint8_t *p = mdm_moldpack_take(&si->pack, &len);

	if (!p)
		return;
	mdm_counter_add(&si->st.packets, 1);
	si->fn(si->ctx, p, len);
}

static void close_fd(struct soup_input *si)
{
	if (si->fd >= 0)
		close(si->fd);
	si->fd = -1;
	si->in_len = 0;
}

/* Down: reconnect after the back-off, which doubles up to its maximum. */
static void go_down(struct soup_input *si, uint64_t now_ns)
{
	close_fd(si);
	mdm_soup_client_lost(&si->c);
	set_state(si, SOUP_INPUT_DOWN);
	si->deadline_ns = now_ns + si->backoff_ns;
	si->backoff_ns = si->backoff_ns * 2 > si->reconnect_max_ns ? si->reconnect_max_ns : si->backoff_ns * 2;
}

/* A connection that was made is gone; `why` when err is 0. */
static void lost(struct soup_input *si, uint64_t now_ns, int err, const char *why)
{
	struct note n = { .kind = NOTE_LOST, .err = err, .why = why, .seq = si->c.next_seq, .retry_ns = si->backoff_ns };

	flush(si);
	mdm_counter_add(&si->st.disconnects, 1);
	note(si, &n);
	go_down(si, now_ns);
}

static void connect_failed(struct soup_input *si, uint64_t now_ns, int err)
{
	mdm_counter_add(&si->st.connect_errors, 1);
	if (!si->connect_failing) {
		struct note n = { .kind = NOTE_CONNECT_FAILED, .err = err };

		note(si, &n);
		si->connect_failing = true;
	}
	go_down(si, now_ns);
}

/* Send a whole (small) packet without blocking; false when the connection
 * was lost instead (a send buffer too full for a login or a heartbeat means
 * the server stopped reading). */
static bool send_pkt(struct soup_input *si, const uint8_t *p, size_t len, uint64_t now_ns)
{
	ssize_t k = send(si->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (k != (ssize_t)len) {
		lost(si, now_ns, k < 0 ? errno : 0, "send buffer full");
		return false;
	}
	mdm_soup_client_sent(&si->c, now_ns);
	return true;
}

static void connected(struct soup_input *si, uint64_t now_ns)
{
	uint8_t login[2 + MDM_SOUP_LOGIN_REQ_LEN];
	size_t n;

	mdm_counter_add(&si->st.connects, 1);
	si->connect_failing = false;
	set_state(si, SOUP_INPUT_LOGGING_IN);
	n = mdm_soup_client_login(&si->c, si->user, si->password, now_ns, login);
	send_pkt(si, login, n, now_ns);
}

static void start_connect(struct soup_input *si, uint64_t now_ns)
{
	int one = 1;

	si->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (si->fd < 0) {
		connect_failed(si, now_ns, errno);
		return;
	}
	setsockopt(si->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(si->fd, (const struct sockaddr *)&si->addr, sizeof(si->addr)) == 0) {
		connected(si, now_ns);
	} else if (errno == EINPROGRESS) {
		set_state(si, SOUP_INPUT_CONNECTING);
		si->deadline_ns = now_ns + si->connect_timeout_ns;
	} else {
		connect_failed(si, now_ns, errno);
	}
}

static void check_connect(struct soup_input *si, uint64_t now_ns)
{
	struct pollfd pfd = { .fd = si->fd, .events = POLLOUT };
	int err = 0;
	socklen_t el = sizeof(err);

	if (poll(&pfd, 1, 0) == 0) {
		if (now_ns >= si->deadline_ns)
			connect_failed(si, now_ns, ETIMEDOUT);
		return;
	}
	if (getsockopt(si->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
		err = errno;
	if (err)
		connect_failed(si, now_ns, err);
	else
		connected(si, now_ns);
}

/* Login Rejected: wait the longest back-off (a retry soon would be rejected
 * again); a session the server does not have is given up for the current one. */
static void rejected(struct soup_input *si, uint64_t now_ns, char reason)
{
	struct note n = { .kind = NOTE_REJECTED, .reject = reason, .retry_ns = si->reconnect_max_ns };

	mdm_counter_add(&si->st.rejected[reason == 'S'], 1);
	if (reason == 'S' && si->resumed_session) {
		n.kind = NOTE_SESSION_GONE;
		snprintf(n.session, sizeof(n.session), "%s", si->c.session);
		soup_input_start_at(si, "", 1);
		si->backoff_ns = si->reconnect_min_ns;
	} else {
		si->backoff_ns = si->reconnect_max_ns;
	}
	note(si, &n);
	close_fd(si);
	mdm_soup_client_lost(&si->c);
	set_state(si, SOUP_INPUT_DOWN);
	si->deadline_ns = now_ns + si->backoff_ns;
}

static void deliver(struct soup_input *si, const uint8_t *msg, size_t len)
{
	if (!mdm_moldpack_add(&si->pack, msg, len)) {
		flush(si);
		mdm_moldpack_add(&si->pack, msg, len);
	}
	si->delivered++;
}

static void ended(struct soup_input *si)
{
	static const uint8_t logout[3] = { 0, 1, 'O' };
	uint8_t eos[MDM_MOLDPACK_HDR];
	struct note n = { .kind = NOTE_ENDED, .seq = si->c.next_seq };

	flush(si);
	/* the decode chain learns of the end as from multicast */
	mdm_moldpack_control(&si->pack, true, eos);
	mdm_counter_add(&si->st.packets, 1);
	si->fn(si->ctx, eos, sizeof(eos));
	(void)!send(si->fd, logout, sizeof(logout), MSG_DONTWAIT | MSG_NOSIGNAL);
	snprintf(n.session, sizeof(n.session), "%s", si->c.session);
	note(si, &n);
	close_fd(si);
	set_state(si, SOUP_INPUT_ENDED);
}

/* The reason of the protocol error mdm_soup_client_on_packet just counted. */
static const char *protocol_error(const struct soup_input *si, const uint64_t before[MDM_SOUP_REASONS])
{
	for (int r = 1; r < MDM_SOUP_REASONS; r++)
		if (si->c.st.errors[r] != before[r])
			return mdm_soup_reason_str(r);
	return "protocol error";
}

/* One framed packet; false when the connection is gone (or ended). */
static bool on_packet(struct soup_input *si, const struct mdm_soup_pkt *pkt, uint64_t now_ns)
{
	uint64_t before[MDM_SOUP_REASONS], seq = 0;
	enum mdm_soup_action a;

	memcpy(before, si->c.st.errors, sizeof(before));
	a = mdm_soup_client_on_packet(&si->c, pkt, now_ns, &seq);
	switch (a) {
	case MDM_SOUP_DELIVER:
		deliver(si, pkt->payload, pkt->len);
		return true;
	case MDM_SOUP_LOGGED_IN: {
		struct note n = { .kind = NOTE_LOGGED_IN, .seq = si->c.next_seq };

		snprintf(n.session, sizeof(n.session), "%s", si->c.session);
		note(si, &n);
		mdm_moldpack_init(&si->pack, si->c.session, si->c.next_seq, si->max_payload);
		si->backoff_ns = si->reconnect_min_ns;
		si->resumed_session = false;
		set_state(si, SOUP_INPUT_ACTIVE);
		return true;
	}
	case MDM_SOUP_DISCONNECT:
		if (pkt->type == 'J' && pkt->reason == MDM_SOUP_OK)
			rejected(si, now_ns, (char)pkt->payload[0]);
		else
			lost(si, now_ns, 0, protocol_error(si, before));
		return false;
	case MDM_SOUP_END:
		ended(si);
		return false;
	default:
		return true;
	}
}

/* Read what arrived and act on each whole packet. */
static void read_packets(struct soup_input *si, uint64_t now_ns)
{
	ssize_t k = recv(si->fd, si->in + si->in_len, sizeof(si->in) - si->in_len, MSG_DONTWAIT);
	size_t off = 0;

	if (k == 0) {
		lost(si, now_ns, 0, "closed by the server");
		return;
	}
	if (k < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			lost(si, now_ns, errno, NULL);
		return;
	}
	mdm_counter_add(&si->st.bytes, (uint64_t)k);
	si->in_len += (size_t)k;
	while (off < si->in_len) {
		struct mdm_soup_pkt pkt;
		int n = mdm_soup_frame(si->in + off, si->in_len - off, MDM_SOUP_FROM_SERVER, 0, &pkt);

		if (n == 0)
			break;
		if (n < 0) {
			/* a length beyond any packet of the protocol: the stream cannot be followed */
			mdm_counter_add(&si->st.errors[MDM_SOUP_OVERSIZE], 1);
			lost(si, now_ns, 0, "oversize packet");
			return;
		}
		off += (size_t)n;
		if (!on_packet(si, &pkt, now_ns))
			return;
	}
	flush(si);
	memmove(si->in, si->in + off, si->in_len - off);
	si->in_len -= off;
}

/* Mirror the session logic's counters for other threads. */
static void publish_stats(struct soup_input *si)
{
	const struct mdm_soup_client_stats *c = &si->c.st, *b = &si->base;

	mdm_counter_set(&si->st.logins, b->logins + c->logins);
	mdm_counter_set(&si->st.timeouts, b->timeouts + c->timeouts);
	mdm_counter_set(&si->st.messages, b->messages + c->messages);
	mdm_counter_set(&si->st.heartbeats_rx, b->heartbeats_rx + c->heartbeats_rx);
	mdm_counter_set(&si->st.heartbeats_tx, b->heartbeats_tx + c->heartbeats_tx);
	mdm_counter_set(&si->st.debug, b->debug + c->debug);
	mdm_counter_set(&si->st.next_seq, si->c.next_seq);
	for (int r = 1; r < MDM_SOUP_REASONS; r++)
		if (r != MDM_SOUP_OVERSIZE) /* counted here: the session logic never sees one */
			mdm_counter_set(&si->st.errors[r], b->errors[r] + c->errors[r]);
}

unsigned soup_input_poll(struct soup_input *si, uint64_t now_ns, soup_input_packet_fn fn, void *ctx)
{
	si->fn = fn;
	si->ctx = ctx;
	si->delivered = 0;
	switch (si->state) {
	case SOUP_INPUT_ENDED: return 0;
	case SOUP_INPUT_DOWN:
		if (now_ns >= si->deadline_ns)
			start_connect(si, now_ns);
		break;
	case SOUP_INPUT_CONNECTING: check_connect(si, now_ns); break;
	default: read_packets(si, now_ns); break;
	}
	if (si->state == SOUP_INPUT_LOGGING_IN || si->state == SOUP_INPUT_ACTIVE) {
		static const uint8_t heartbeat[3] = { 0, 1, 'R' };

		switch (mdm_soup_client_tick(&si->c, now_ns)) {
		case MDM_SOUP_SEND_HEARTBEAT: send_pkt(si, heartbeat, sizeof(heartbeat), now_ns); break;
		case MDM_SOUP_DISCONNECT: lost(si, now_ns, 0, "server silent too long"); break;
		default: break;
		}
	}
	publish_stats(si);
	return si->delivered;
}

/* ---- observability (control thread) ---- */

static void json_section(void *ctx, struct mdm_json *j)
{
	const struct soup_input *si = ctx;
	uint64_t s = mdm_counter_get(&si->st.state);

	mdm_json_obj_begin(j);
	mdm_json_kstr(j, "server", si->server);
	mdm_json_kstr(j, "state", s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?");
	mdm_json_ku64(j, "next_seq", mdm_counter_get(&si->st.next_seq));
	mdm_json_obj_end(j);
}

int soup_input_metrics(struct soup_input *si, struct mdm_metrics *r)
{
	struct soup_input_stats *s = &si->st;
	int rc = 0;

#define C(name, help, labels, var) \
	if (rc == 0)               \
	rc = mdm_metrics_counter(r, "mdmesh_collector_soup_" name, help, labels, var)
	C("connects_total", "SoupBinTCP connections made (input.soup)", NULL, &s->connects);
	C("connect_errors_total", "SoupBinTCP connection attempts refused or timed out", NULL, &s->connect_errors);
	C("logins_total", "SoupBinTCP logins accepted", NULL, &s->logins);
	C("login_rejected_total", "SoupBinTCP logins rejected, by reason",
	  ((const char *const[]){ "reason", "not_authorized", NULL }), &s->rejected[0]);
	C("login_rejected_total", "SoupBinTCP logins rejected, by reason",
	  ((const char *const[]){ "reason", "session_not_available", NULL }), &s->rejected[1]);
	C("disconnects_total", "SoupBinTCP connections lost (then logged in again at the next sequence number)", NULL,
	  &s->disconnects);
	C("timeouts_total", "SoupBinTCP connections dropped because the server was silent", NULL, &s->timeouts);
	C("messages_total", "SoupBinTCP Sequenced Data messages fed to the decode chain", NULL, &s->messages);
	C("bytes_total", "SoupBinTCP bytes received", NULL, &s->bytes);
	C("heartbeats_received_total", "SoupBinTCP Server Heartbeats", NULL, &s->heartbeats_rx);
	C("heartbeats_sent_total", "SoupBinTCP Client Heartbeats", NULL, &s->heartbeats_tx);
	for (int i = 1; i < MDM_SOUP_REASONS; i++)
		C("framing_errors_total", "SoupBinTCP packets not usable, by reason (oversize drops the connection)",
		  ((const char *const[]){ "reason", mdm_soup_reason_str(i), NULL }), &s->errors[i]);
#undef C
	if (rc == 0)
		rc = mdm_metrics_gauge_u64(r, "mdmesh_collector_soup_state",
					   "SoupBinTCP input: 0 down, 1 connecting, 2 logging in, 3 active, 4 ended", NULL, &s->state);
	if (rc == 0)
		rc = mdm_metrics_gauge_u64(r, "mdmesh_collector_soup_next_seq",
					   "SoupBinTCP: sequence number of the next message expected", NULL, &s->next_seq);
	if (rc == 0)
		rc = mdm_metrics_add_json_section(r, "soup", json_section, si);
	return rc;
}

void soup_input_summary(const struct soup_input *si, FILE *f)
{
	const struct soup_input_stats *s = &si->st;
	uint64_t st = mdm_counter_get(&s->state);

	fprintf(f, "  soup       %s: %" PRIu64 " connections (%" PRIu64 " failed), %" PRIu64 " logins (rejected %" PRIu64
		   " A, %" PRIu64 " S), %" PRIu64 " lost (%" PRIu64 " timed out), %" PRIu64 " messages, next %" PRIu64
		   ", framing errors",
		si->server, mdm_counter_get(&s->connects), mdm_counter_get(&s->connect_errors), mdm_counter_get(&s->logins),
		mdm_counter_get(&s->rejected[0]), mdm_counter_get(&s->rejected[1]), mdm_counter_get(&s->disconnects),
		mdm_counter_get(&s->timeouts), mdm_counter_get(&s->messages), mdm_counter_get(&s->next_seq));
	for (int i = 1; i < MDM_SOUP_REASONS; i++)
		fprintf(f, " %s %" PRIu64, mdm_soup_reason_str(i), mdm_counter_get(&s->errors[i]));
	fprintf(f, "; %s\n", st == SOUP_INPUT_ENDED ? "End of Session received" : "no End of Session");
}
