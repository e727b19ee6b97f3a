/* soup_input: the collector's SoupBinTCP client against a server written
 * here on a loopback socket: login fields, messages out as MoldUDP64 packets
 * numbered as the session implies, re-login at the next sequence number after
 * a drop, End of Session, framing errors by reason, rejections, heartbeats,
 * the silence timeout and a refused connect. The client's clock is a fake one
 * (advanced per poll), so back-offs and timeouts cost no real time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mdm_buf.h"
#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_metrics.h"
#include "mdm_soup.h"
#include "soup_input.h"

#define MAX_MSGS 64

struct fx {
	int lfd, sfd;           /* the test server: listening, accepted */
	char server[32];
	struct soup_input *si;
	uint64_t now;           /* the client's fake clock */
	/* what the client handed on */
	char session[11];
	uint64_t next;          /* sequence number the next packet must start at (0 = any) */
	unsigned n_msgs, n_packets;
	uint64_t seq[MAX_MSGS];
	uint8_t msg[MAX_MSGS][8];
	uint64_t eos_seq;       /* end-of-session packet's sequence number, 0 = none */
	bool out_of_order;
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The decode chain's side: parse each MoldUDP64 packet as mold.c would. */
static void sink(void *ctx, const uint8_t *p, size_t len)
{
	struct fx *f = ctx;
	uint64_t seq = be64(p + 10);
	unsigned count = (unsigned)p[18] << 8 | p[19];
	size_t off = 20;

	assert_true(len >= 20);
	snprintf(f->session, sizeof(f->session), "%.10s", (const char *)p);
	f->n_packets++;
	if (count == 0xFFFF) {
		f->eos_seq = seq;
		return;
	}
	if (f->next && seq != f->next)
		f->out_of_order = true;
	for (unsigned i = 0; i < count; i++) {
		unsigned n = (unsigned)p[off] << 8 | p[off + 1];

		assert_true(off + 2 + n <= len);
		assert_true(f->n_msgs < MAX_MSGS);
		f->seq[f->n_msgs] = seq + i;
		memcpy(f->msg[f->n_msgs], p + off + 2, n < 8 ? n : 8);
		f->n_msgs++;
		off += 2 + n;
	}
	assert_int_equal(off, len);
	f->next = seq + count;
}

static int setup(void **state)
{
	static struct fx f;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);

	memset(&f, 0, sizeof(f));
	f.sfd = -1;
	f.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f.lfd >= 0);
	assert_int_equal(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f.lfd, 4), 0);
	assert_int_equal(getsockname(f.lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(f.server, sizeof(f.server), "127.0.0.1:%u", ntohs(sa.sin_port));
	f.now = 1000 * MDM_NS_PER_S;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	soup_input_destroy(f->si);
	if (f->sfd >= 0)
		close(f->sfd);
	close(f->lfd);
	return 0;
}

/* A client with timers far away unless a test sets them. */
static void make_client(struct fx *f, uint64_t heartbeat_ns, uint64_t timeout_ns)
{
	struct soup_input_params p = { .server = f->server, .user = "alice", .password = "s3cret",
				       .heartbeat_ns = heartbeat_ns ? heartbeat_ns : 3600 * MDM_NS_PER_S,
				       .timeout_ns = timeout_ns ? timeout_ns : 3600 * MDM_NS_PER_S,
				       .reconnect_min_ns = MDM_NS_PER_MS, .reconnect_max_ns = 8 * MDM_NS_PER_MS };

	assert_int_equal(soup_input_create(&f->si, &p), 0);
}

typedef bool (*cond_fn)(struct fx *f, uint64_t arg);

/* Poll (1 ms of fake time per pass) until cond holds, within 10 real seconds. */
static bool run_until(struct fx *f, cond_fn cond, uint64_t arg)
{
	uint64_t end = mdm_mono_ns() + 10 * MDM_NS_PER_S;

	while (!cond(f, arg)) {
		const struct timespec ts = { 0, 20000 };

		if (mdm_mono_ns() > end)
			return false;
		f->now += MDM_NS_PER_MS;
		soup_input_poll(f->si, f->now, sink, f);
		nanosleep(&ts, NULL); /* the server side is this thread: let the kernel move bytes */
	}
	return true;
}

static bool connects_at_least(struct fx *f, uint64_t n) { return mdm_counter_get(&soup_input_stats(f->si)->connects) >= n; }
static bool msgs_at_least(struct fx *f, uint64_t n) { return f->n_msgs >= n; }
static bool state_is(struct fx *f, uint64_t s) { return mdm_counter_get(&soup_input_stats(f->si)->state) == s; }
static bool disconnects_at_least(struct fx *f, uint64_t n)
{
	return mdm_counter_get(&soup_input_stats(f->si)->disconnects) >= n;
}

/* Server: accept the client's connection (made by the polls before). */
static void srv_accept(struct fx *f)
{
	struct timeval tv = { .tv_sec = 10 };

	if (f->sfd >= 0)
		close(f->sfd);
	f->sfd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(f->sfd >= 0);
	setsockopt(f->sfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Server: read one whole packet from the client. */
static void srv_read(struct fx *f, struct mdm_soup_pkt *pkt, uint8_t *buf)
{
	size_t have = 0;

	for (;;) {
		int n = mdm_soup_frame(buf, have, MDM_SOUP_FROM_CLIENT, 0, pkt);
		ssize_t k;

		if (n > 0)
			return;
		assert_int_equal(n, 0);
		k = recv(f->sfd, buf + have, 1, 0); /* byte by byte: never past this packet */
		assert_int_equal(k, 1);
		have++;
	}
}

static void srv_expect_login(struct fx *f, const char *session, uint64_t seq)
{
	uint8_t buf[128];
	struct mdm_soup_pkt pkt;
	struct mdm_soup_login l;

	srv_read(f, &pkt, buf);
	assert_int_equal(pkt.type, 'L');
	assert_int_equal(mdm_soup_login_request_parse(&pkt, &l), MDM_SOUP_OK);
	assert_string_equal(l.user, "alice");
	assert_string_equal(l.password, "s3cret");
	assert_string_equal(l.session, session);
	assert_int_equal(l.seq, seq);
}

static void srv_send(struct fx *f, const void *p, size_t n)
{
	assert_int_equal(send(f->sfd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void srv_accept_login(struct fx *f, uint64_t next)
{
	uint8_t out[64];

	srv_send(f, out, mdm_soup_put_login_accepted(out, "SESS000001", next));
}

/* Sequenced Data messages first..last, each 'M' + its number. */
static void srv_data(struct fx *f, uint64_t first, uint64_t last)
{
	for (uint64_t s = first; s <= last; s++) {
		uint8_t p[3 + 5];

		mdm_soup_put_header(p, 'S', 5);
		p[3] = 'M';
		p[4] = (uint8_t)(s >> 24);
		p[5] = (uint8_t)(s >> 16);
		p[6] = (uint8_t)(s >> 8);
		p[7] = (uint8_t)s;
		srv_send(f, p, sizeof(p));
	}
}

static void check_msgs(const struct fx *f, uint64_t n)
{
	assert_int_equal(f->n_msgs, n);
	assert_false(f->out_of_order);
	for (unsigned i = 0; i < f->n_msgs; i++) {
		assert_int_equal(f->seq[i], i + 1);
		assert_int_equal(f->msg[i][0], 'M');
		assert_int_equal(f->msg[i][4], (uint8_t)(i + 1));
	}
}

/* A client logged in for the current session at 1. */
static const struct soup_input_stats *logged_in(struct fx *f, uint64_t heartbeat_ns, uint64_t timeout_ns)
{
	make_client(f, heartbeat_ns, timeout_ns);
	assert_true(run_until(f, connects_at_least, 1));
	srv_accept(f);
	srv_expect_login(f, "", 1);
	srv_accept_login(f, 1);
	return soup_input_stats(f->si);
}

/* The whole session over two connections: the server drops the first after 5
 * messages; the client logs in again at 6; End of Session ends the input. */
static void test_session_reconnect(void **state)
{
	struct fx *f = *state;
	const struct soup_input_stats *st = logged_in(f, 0, 0);
	struct mdm_soup_pkt pkt;
	uint8_t buf[64];

	srv_data(f, 1, 5);
	assert_true(run_until(f, msgs_at_least, 5));
	assert_string_equal(f->session, "SESS000001");
	close(f->sfd); /* mid-session */
	f->sfd = -1;
	assert_true(run_until(f, connects_at_least, 2));
	assert_int_equal(mdm_counter_get(&st->disconnects), 1);
	srv_accept(f);
	srv_expect_login(f, "SESS000001", 6);
	srv_accept_login(f, 6);
	srv_data(f, 6, 20);
	srv_send(f, "\0\1Z", 3);
	assert_true(run_until(f, state_is, SOUP_INPUT_ENDED));
	check_msgs(f, 20);
	assert_int_equal(f->eos_seq, 21);
	assert_true(soup_input_ended(f->si));
	srv_read(f, &pkt, buf); /* the Logout */
	assert_int_equal(pkt.type, 'O');
	assert_int_equal(mdm_counter_get(&st->logins), 2);
	assert_int_equal(mdm_counter_get(&st->messages), 20);
	assert_int_equal(mdm_counter_get(&st->next_seq), 21);
	assert_int_equal(mdm_counter_get(&st->disconnects), 1);
	/* several messages per packet: one packet per read, not per message */
	assert_true(f->n_packets < 20);
	soup_input_log(f->si);
	soup_input_summary(f->si, stderr);
}

/* Framing errors are counted by reason and skipped; an oversize length
 * loses the stream: the connection is dropped and logged in again. */
static void test_framing_errors(void **state)
{
	struct fx *f = *state;
	const struct soup_input_stats *st;
	static const uint8_t bad[] = {
		0, 0,              /* zero length */
		0, 2, 'Q', 'x',    /* a type no server sends */
		0, 3, 'H', 1, 2,   /* a heartbeat with a payload */
		0, 4, '+', 'h', 'i', '!', /* debug: fine */
	};
	struct mdm_metrics *reg;
	struct mdm_buf out = { 0 };

	st = logged_in(f, 0, 0);
	srv_data(f, 1, 2);
	srv_send(f, bad, sizeof(bad));
	srv_data(f, 3, 3);
	assert_true(run_until(f, msgs_at_least, 3));
	check_msgs(f, 3);
	assert_int_equal(mdm_counter_get(&st->errors[MDM_SOUP_ZERO_LENGTH]), 1);
	assert_int_equal(mdm_counter_get(&st->errors[MDM_SOUP_UNKNOWN_TYPE]), 1);
	assert_int_equal(mdm_counter_get(&st->errors[MDM_SOUP_BAD_LENGTH]), 1);
	assert_int_equal(mdm_counter_get(&st->debug), 1);
	assert_int_equal(mdm_counter_get(&st->disconnects), 0);
	srv_send(f, "\xff\xff", 2);
	assert_true(run_until(f, disconnects_at_least, 1));
	assert_int_equal(mdm_counter_get(&st->errors[MDM_SOUP_OVERSIZE]), 1);
	assert_true(run_until(f, connects_at_least, 2));
	srv_accept(f);
	srv_expect_login(f, "SESS000001", 4);

	/* every reason is a labelled series of one family */
	assert_int_equal(mdm_metrics_create(&reg), 0);
	assert_int_equal(soup_input_metrics(f->si, reg), 0);
	assert_int_equal(mdm_metrics_render_prometheus(reg, &out), 0);
	assert_non_null(strstr((const char *)out.data, "mdmesh_collector_soup_framing_errors_total{reason=\"oversize\"} 1"));
	assert_non_null(strstr((const char *)out.data, "mdmesh_collector_soup_framing_errors_total{reason=\"zero_length\"} 1"));
	assert_non_null(strstr((const char *)out.data, "mdmesh_collector_soup_disconnects_total 1"));
	mdm_buf_fini(&out);
	mdm_metrics_destroy(reg);
	soup_input_log(f->si);
}

/* Login Rejected 'A': retried after the longest back-off. 'S' for a session
 * asked for by a resume: the current session from 1 instead. */
static void test_rejected(void **state)
{
	struct fx *f = *state;
	const struct soup_input_stats *st;
	uint8_t out[8];

	make_client(f, 0, 0);
	st = soup_input_stats(f->si);
	soup_input_start_at(f->si, "OLDSESSION", 500);
	assert_true(run_until(f, connects_at_least, 1));
	srv_accept(f);
	srv_expect_login(f, "OLDSESSION", 500);
	srv_send(f, out, mdm_soup_put_login_rejected(out, 'S'));
	assert_true(run_until(f, connects_at_least, 2));
	assert_int_equal(mdm_counter_get(&st->rejected[1]), 1);
	srv_accept(f);
	srv_expect_login(f, "", 1);
	srv_send(f, out, mdm_soup_put_login_rejected(out, 'A'));
	assert_true(run_until(f, state_is, SOUP_INPUT_DOWN));
	assert_int_equal(mdm_counter_get(&st->rejected[0]), 1);
	assert_int_equal(mdm_counter_get(&st->logins), 0);
	assert_int_equal(f->n_msgs, 0);
	assert_true(run_until(f, connects_at_least, 3));
	srv_accept(f);
	srv_expect_login(f, "", 1);
	soup_input_log(f->si);
}

static bool heartbeats_sent(struct fx *f, uint64_t n)
{
	return mdm_counter_get(&soup_input_stats(f->si)->heartbeats_tx) >= n;
}

/* A Client Heartbeat after heartbeat_ns without sending; a server silent for
 * timeout_ns is dropped. */
static void test_heartbeat_timeout(void **state)
{
	struct fx *f = *state;
	struct mdm_soup_pkt pkt;
	uint8_t buf[64];

	logged_in(f, 10 * MDM_NS_PER_MS, 200 * MDM_NS_PER_MS);
	assert_true(run_until(f, heartbeats_sent, 1));
	srv_read(f, &pkt, buf);
	assert_int_equal(pkt.type, 'R');
	assert_true(run_until(f, disconnects_at_least, 1));
	assert_int_equal(mdm_counter_get(&soup_input_stats(f->si)->timeouts), 1);
	soup_input_log(f->si);
}

static bool connect_errors_at_least(struct fx *f, uint64_t n)
{
	return mdm_counter_get(&soup_input_stats(f->si)->connect_errors) >= n;
}

/* Nobody listening: counted, retried, never delivered. */
static void test_refused(void **state)
{
	struct fx *f = *state;

	close(f->lfd); /* the port is free now */
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	make_client(f, 0, 0);
	assert_true(run_until(f, connect_errors_at_least, 3));
	assert_int_equal(mdm_counter_get(&soup_input_stats(f->si)->connects), 0);
	assert_false(soup_input_ended(f->si));
	soup_input_log(f->si);
}

static void test_bad_params(void **state)
{
	struct soup_input *si = NULL;
	struct soup_input_params p = { .server = "127.0.0.1:1", .user = "toolonguser" };

	(void)state;
	assert_int_equal(soup_input_create(&si, &p), -EINVAL);
	p.user = "u";
	p.server = "nohostport";
	assert_int_equal(soup_input_create(&si, &p), -EINVAL);
	assert_null(si);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test(test_bad_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
