/* SoupBinTCP 3.00: framing of every packet type both ways and of hostile
 * streams (table), the login fields, and the client's session logic (login,
 * implied sequence numbers, heartbeats, timeout, rejection, end of session,
 * re-login at the next sequence number). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mdm_soup.h"

#define S_NS 1000000000ull

static void test_frame_table(void **state)
{
	static const struct {
		const char *what;
		uint8_t bytes[64];
		size_t len;
		enum mdm_soup_dir dir;
		int ret;        /* bytes taken, 0 = need more, < 0 fatal */
		uint8_t type;
		uint8_t reason;
	} cases[] = {
		{ "server heartbeat", { 0, 1, 'H' }, 3, MDM_SOUP_FROM_SERVER, 3, 'H', MDM_SOUP_OK },
		{ "end of session", { 0, 1, 'Z' }, 3, MDM_SOUP_FROM_SERVER, 3, 'Z', MDM_SOUP_OK },
		{ "sequenced data", { 0, 3, 'S', 'x', 'y' }, 5, MDM_SOUP_FROM_SERVER, 5, 'S', MDM_SOUP_OK },
		{ "debug text", { 0, 3, '+', 'h', 'i' }, 5, MDM_SOUP_FROM_SERVER, 5, '+', MDM_SOUP_OK },
		{ "login rejected", { 0, 2, 'J', 'A' }, 4, MDM_SOUP_FROM_SERVER, 4, 'J', MDM_SOUP_OK },
		{ "client heartbeat", { 0, 1, 'R' }, 3, MDM_SOUP_FROM_CLIENT, 3, 'R', MDM_SOUP_OK },
		{ "logout", { 0, 1, 'O' }, 3, MDM_SOUP_FROM_CLIENT, 3, 'O', MDM_SOUP_OK },
		{ "unsequenced", { 0, 2, 'U', 1 }, 4, MDM_SOUP_FROM_CLIENT, 4, 'U', MDM_SOUP_OK },
		/* incomplete */
		{ "one byte", { 0 }, 1, MDM_SOUP_FROM_SERVER, 0, 0, 0 },
		{ "body cut", { 0, 5, 'S', 1 }, 4, MDM_SOUP_FROM_SERVER, 0, 0, 0 },
		/* hostile, skippable */
		{ "zero length", { 0, 0, 'H' }, 3, MDM_SOUP_FROM_SERVER, 2, 0, MDM_SOUP_ZERO_LENGTH },
		{ "client type from server", { 0, 1, 'R' }, 3, MDM_SOUP_FROM_SERVER, 3, 'R', MDM_SOUP_UNKNOWN_TYPE },
		{ "server type from client", { 0, 1, 'H' }, 3, MDM_SOUP_FROM_CLIENT, 3, 'H', MDM_SOUP_UNKNOWN_TYPE },
		{ "binary garbage type", { 0, 2, 0xff, 0 }, 4, MDM_SOUP_FROM_SERVER, 4, 0xff, MDM_SOUP_UNKNOWN_TYPE },
		{ "heartbeat with payload", { 0, 2, 'H', 0 }, 4, MDM_SOUP_FROM_SERVER, 4, 'H', MDM_SOUP_BAD_LENGTH },
		{ "empty sequenced data", { 0, 1, 'S' }, 3, MDM_SOUP_FROM_SERVER, 3, 'S', MDM_SOUP_BAD_LENGTH },
		{ "short login accepted", { 0, 3, 'A', '1', '2' }, 5, MDM_SOUP_FROM_SERVER, 5, 'A', MDM_SOUP_BAD_LENGTH },
		{ "reject without reason", { 0, 1, 'J' }, 3, MDM_SOUP_FROM_SERVER, 3, 'J', MDM_SOUP_BAD_LENGTH },
		{ "short login request", { 0, 2, 'L', 'x' }, 4, MDM_SOUP_FROM_CLIENT, 4, 'L', MDM_SOUP_BAD_LENGTH },
		/* hostile, fatal: a length we will not buffer */
		{ "oversize", { 0xff, 0xff, 'S' }, 3, MDM_SOUP_FROM_SERVER, -MDM_SOUP_OVERSIZE, 0, 0 },
		{ "just over the limit", { 0x10, 0x01 }, 2, MDM_SOUP_FROM_SERVER, -MDM_SOUP_OVERSIZE, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mdm_soup_pkt pkt = { 0 };
		int ret = mdm_soup_frame(cases[i].bytes, cases[i].len, cases[i].dir, 0, &pkt);

		print_message("%s\n", cases[i].what);
		assert_int_equal(ret, cases[i].ret);
		if (ret > 0) {
			assert_int_equal(pkt.type, cases[i].type);
			assert_int_equal(pkt.reason, cases[i].reason);
		}
	}
	assert_string_equal(mdm_soup_reason_str(MDM_SOUP_OVERSIZE), "oversize");
	assert_string_equal(mdm_soup_reason_str(99), "unknown");
}

static void test_login_fields(void **state)
{
	uint8_t b[64];
	struct mdm_soup_pkt pkt;
	struct mdm_soup_login l;
	char session[11];
	uint64_t seq;
	size_t n = mdm_soup_put_login_request(b, "alice", "secret", "S0001", 12345);

	assert_int_equal(n, 49);
	assert_int_equal(mdm_soup_frame(b, n, MDM_SOUP_FROM_CLIENT, 0, &pkt), 49);
	assert_int_equal(pkt.reason, MDM_SOUP_OK);
	assert_memory_equal(b + 3, "alice secret    S0001                    12345", 46);
	assert_int_equal(mdm_soup_login_request_parse(&pkt, &l), MDM_SOUP_OK);
	assert_string_equal(l.user, "alice");
	assert_string_equal(l.password, "secret");
	assert_string_equal(l.session, "S0001");
	assert_int_equal(l.seq, 12345);

	n = mdm_soup_put_login_accepted(b, "S0001", 99);
	assert_int_equal(n, 33);
	assert_int_equal(mdm_soup_frame(b, n, MDM_SOUP_FROM_SERVER, 0, &pkt), 33);
	assert_int_equal(mdm_soup_login_accepted_parse(&pkt, session, &seq), MDM_SOUP_OK);
	assert_string_equal(session, "S0001");
	assert_int_equal(seq, 99);
	/* hostile fields: a letter in the number, a blank session, an overflow */
	b[30] = 'x';
	assert_int_equal(mdm_soup_login_accepted_parse(&pkt, session, &seq), MDM_SOUP_BAD_FIELD);
	mdm_soup_put_login_accepted(b, "", 1);
	assert_int_equal(mdm_soup_login_accepted_parse(&pkt, session, &seq), MDM_SOUP_BAD_FIELD);
	mdm_soup_put_login_accepted(b, "S", 1);
	memcpy(b + 13, "99999999999999999999", 20);
	assert_int_equal(mdm_soup_login_accepted_parse(&pkt, session, &seq), MDM_SOUP_BAD_FIELD);
	n = mdm_soup_put_login_rejected(b, 'S');
	assert_int_equal(n, 4);
	assert_memory_equal(b, "\0\2JS", 4);
}

/* Frame a server packet built into b and hand it to the client. */
static enum mdm_soup_action feed(struct mdm_soup_client *c, const uint8_t *b, size_t n, uint64_t now, uint64_t *seq)
{
	struct mdm_soup_pkt pkt;

	assert_int_equal(mdm_soup_frame(b, n, MDM_SOUP_FROM_SERVER, 0, &pkt), (int)n);
	return mdm_soup_client_on_packet(c, &pkt, now, seq);
}

static void test_client_session(void **state)
{
	struct mdm_soup_client c;
	uint8_t b[64], data[4] = { 0, 2, 'S', 'A' };
	uint8_t hb[3] = { 0, 1, 'H' }, end[3] = { 0, 1, 'Z' };
	struct mdm_soup_pkt pkt;
	uint64_t seq = 0, t = 100 * S_NS;
	size_t n;

	mdm_soup_client_init(&c, "", 1);
	/* data before login is a protocol error */
	assert_int_equal(feed(&c, data, 4, t, &seq), MDM_SOUP_DISCONNECT);
	assert_int_equal(c.st.errors[MDM_SOUP_UNEXPECTED], 1);
	n = mdm_soup_client_login(&c, "u", "p", t, b);
	assert_int_equal(mdm_soup_frame(b, n, MDM_SOUP_FROM_CLIENT, 0, &pkt), 49);
	/* blank session (10), sequence 1 left-padded (20) */
	assert_memory_equal(b + 19, "                             1", 30);
	n = mdm_soup_put_login_accepted(b, "TODAY", 1);
	assert_int_equal(feed(&c, b, n, t, &seq), MDM_SOUP_LOGGED_IN);
	assert_string_equal(c.session, "TODAY");
	/* implied sequence numbers */
	for (uint64_t k = 1; k <= 3; k++) {
		assert_int_equal(feed(&c, data, 4, t, &seq), MDM_SOUP_DELIVER);
		assert_int_equal(seq, k);
	}
	/* heartbeats: ours after 1 s without sending; the server's keep us alive */
	assert_int_equal(mdm_soup_client_tick(&c, t + S_NS / 2), MDM_SOUP_NONE);
	assert_int_equal(mdm_soup_client_tick(&c, t + S_NS), MDM_SOUP_SEND_HEARTBEAT);
	mdm_soup_client_sent(&c, t + S_NS);
	assert_int_equal(feed(&c, hb, 3, t + 10 * S_NS, &seq), MDM_SOUP_NONE);
	mdm_soup_client_sent(&c, t + 10 * S_NS);
	assert_int_equal(mdm_soup_client_tick(&c, t + 24 * S_NS), MDM_SOUP_SEND_HEARTBEAT);
	mdm_soup_client_sent(&c, t + 24 * S_NS);
	/* 15 s of silence from the server: gone */
	assert_int_equal(mdm_soup_client_tick(&c, t + 25 * S_NS), MDM_SOUP_DISCONNECT);
	assert_int_equal(c.st.timeouts, 1);
	mdm_soup_client_lost(&c);
	assert_int_equal(c.state, MDM_SOUP_DOWN);
	/* reconnect: log in to the same session at the next sequence number */
	t += 30 * S_NS;
	n = mdm_soup_client_login(&c, "u", "p", t, b);
	assert_memory_equal(b + 19, "TODAY                        4", 30);
	n = mdm_soup_put_login_rejected(b, 'S');
	assert_int_equal(feed(&c, b, n, t, &seq), MDM_SOUP_DISCONNECT);
	assert_int_equal(c.st.rejected, 1);
	assert_int_equal(c.st.last_reject, 'S');
	mdm_soup_client_lost(&c);
	mdm_soup_client_login(&c, "u", "p", t, b);
	/* no answer to a login within the timeout */
	assert_int_equal(mdm_soup_client_tick(&c, t + 15 * S_NS), MDM_SOUP_DISCONNECT);
	mdm_soup_client_lost(&c);
	mdm_soup_client_login(&c, "u", "p", t, b);
	n = mdm_soup_put_login_accepted(b, "TODAY", 4);
	assert_int_equal(feed(&c, b, n, t, &seq), MDM_SOUP_LOGGED_IN);
	assert_int_equal(feed(&c, data, 4, t, &seq), MDM_SOUP_DELIVER);
	assert_int_equal(seq, 4);
	/* a second Login Accepted mid-session is a protocol error */
	assert_int_equal(feed(&c, b, n, t, &seq), MDM_SOUP_DISCONNECT);
	/* end of session: no reconnect after it */
	c.state = MDM_SOUP_ACTIVE;
	assert_int_equal(feed(&c, end, 3, t, &seq), MDM_SOUP_END);
	mdm_soup_client_lost(&c);
	assert_int_equal(c.state, MDM_SOUP_ENDED);
	assert_int_equal(mdm_soup_client_tick(&c, t + 100 * S_NS), MDM_SOUP_NONE);
	assert_int_equal(c.st.logins, 2);
	assert_int_equal(c.st.messages, 4);
	assert_int_equal(c.st.disconnects, 3);
}

static void test_client_bad_login_answer(void **state)
{
	struct mdm_soup_client c;
	uint8_t b[64];
	uint8_t short_acc[5] = { 0, 3, 'A', '1', '2' };
	uint64_t seq;
	size_t n;

	mdm_soup_client_init(&c, "S", 1);
	mdm_soup_client_login(&c, "u", "p", 0, b);
	/* a Login Accepted of the wrong length leaves the session unknown: drop */
	assert_int_equal(feed(&c, short_acc, 5, 0, &seq), MDM_SOUP_DISCONNECT);
	assert_int_equal(c.st.errors[MDM_SOUP_BAD_LENGTH], 1);
	mdm_soup_client_lost(&c);
	mdm_soup_client_login(&c, "u", "p", 0, b);
	n = mdm_soup_put_login_accepted(b, "S", 1);
	b[20] = '?';
	assert_int_equal(feed(&c, b, n, 0, &seq), MDM_SOUP_DISCONNECT);
	assert_int_equal(c.st.errors[MDM_SOUP_BAD_FIELD], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_table),
		cmocka_unit_test(test_login_fields),
		cmocka_unit_test(test_client_session),
		cmocka_unit_test(test_client_bad_login_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
