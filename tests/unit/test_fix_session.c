/* fix_session: scripted exchanges, one table per scenario: each step is an
 * event (connect, an inbound message, a clock tick) and what must follow (the
 * return, the MsgTypes we sent, the expected inbound number, deliveries). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fix_session.h"
#include "fix_testmsg.h"
#include "mdm_clock.h"

#define T0 1704202200000000000ULL /* 20240102-13:30:00 */
#define TS "52=20240102-13:30:00|"
#define IN(type, seq) "35=" type "|49=BRK|56=US|34=" #seq "|" TS

enum kind { CONNECT, MSG, TICK, LOGOUT };

struct step {
	enum kind kind;
	const char *body;  /* MSG: from 35= on, '|' for SOH */
	uint64_t at_s;     /* seconds after T0 */
	int rc;
	const char *out;   /* MsgTypes sent, in order */
	uint64_t next_in;  /* 0: not checked */
	unsigned delivered; /* total so far */
};

struct h {
	char out[64];
	size_t n_out;
	char last[1024];
	unsigned delivered, resets;
	int deliver_rc;
	uint64_t persisted;
};

static int h_send(void *ctx, const char *p, size_t len)
{
	struct h *h = ctx;
	struct fix_msg m;

	assert_int_equal(fix_frame(p, len, 8192), (int)len);
	assert_int_equal(fix_parse(&m, p, len), 0);
	h->out[h->n_out++] = m.f[FIX_F_MSG_TYPE].p[0];
	memcpy(h->last, p, len < sizeof(h->last) ? len : sizeof(h->last) - 1);
	h->last[len < sizeof(h->last) ? len : sizeof(h->last) - 1] = '\0';
	return 0;
}

static int h_persist(void *ctx, uint64_t next_out)
{
	((struct h *)ctx)->persisted = next_out;
	return 0;
}

static int h_deliver(void *ctx, struct fix_msg *m, bool poss_dup)
{
	struct h *h = ctx;

	(void)poss_dup;
	h->delivered++;
	if (h->deliver_rc)
		m->bad_tag = 17;
	return h->deliver_rc;
}

static void h_reset(void *ctx)
{
	((struct h *)ctx)->resets++;
}

static const struct fix_session_ops ops = { .send = h_send, .persist = h_persist, .deliver = h_deliver,
					     .reset = h_reset };

static struct fix_session *mk(struct h *h, bool initiator, uint64_t next_in)
{
	struct fix_session_params p = { .begin_string = "FIX.4.4", .sender = "US", .target = "BRK",
					.initiator = initiator, .heartbeat_s = 30, .next_out = 1, .next_in = next_in,
					.max_skew_ns = 120 * MDM_NS_PER_S, .ops = &ops, .ctx = h };
	struct fix_session *s;

	memset(h, 0, sizeof(*h));
	assert_int_equal(fix_session_create(&s, &p), 0);
	return s;
}

static void run(struct fix_session *s, struct h *h, const struct step *st, size_t n)
{
	char m[2048];

	for (size_t i = 0; i < n; i++) {
		uint64_t now = T0 + st[i].at_s * MDM_NS_PER_S;
		int rc = 0;

		h->n_out = 0;
		switch (st[i].kind) {
		case CONNECT: rc = fix_session_connected(s, now); break;
		case TICK: rc = fix_session_tick(s, now); break;
		case LOGOUT: rc = fix_session_logout(s, "bye", now); break;
		case MSG: {
			size_t len = fix_testmsg(m, sizeof(m), "FIX.4.4", st[i].body);

			rc = fix_session_on_msg(s, m, len, now);
			break;
		}
		}
		h->out[h->n_out] = '\0';
		print_message("step %zu: %s\n", i, st[i].body ? st[i].body : "-");
		assert_int_equal(rc, st[i].rc);
		assert_string_equal(h->out, st[i].out);
		if (st[i].next_in)
			assert_int_equal(fix_session_next_in(s), st[i].next_in);
		assert_int_equal(h->delivered, st[i].delivered);
	}
}

#define LOGON_IN(seq) IN("A", seq) "98=0|108=30|"
#define EXEC(seq) IN("8", seq) "17=E" #seq "|"

static void test_initiator_gap_and_resend(void **state)
{
	static const struct step st[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "A", 1, 0 },
		{ MSG, LOGON_IN(1), 0, FIX_CONTINUE, "", 2, 0 },
		{ MSG, EXEC(2), 0, FIX_CONTINUE, "", 3, 1 },
		{ MSG, EXEC(5), 0, FIX_CONTINUE, "2", 3, 1 },          /* gap 3..4: one ResendRequest */
		{ MSG, EXEC(6), 0, FIX_CONTINUE, "", 3, 1 },           /* dropped, not asked again */
		{ MSG, EXEC(3) "43=Y|122=20240102-13:29:00|", 0, FIX_CONTINUE, "", 4, 2 },
		{ MSG, IN("4", 4) "43=Y|123=Y|36=5|", 0, FIX_CONTINUE, "", 5, 2 }, /* gap fill over an admin msg */
		{ MSG, EXEC(5) "43=Y|", 0, FIX_CONTINUE, "", 6, 3 },
		{ MSG, EXEC(6) "43=Y|", 0, FIX_CONTINUE, "", 7, 4 },
		{ MSG, EXEC(6) "43=Y|", 0, FIX_CONTINUE, "", 7, 4 },   /* a duplicate: ignored */
		{ MSG, EXEC(7), 0, FIX_CONTINUE, "", 8, 5 },
		{ MSG, IN("1", 8) "112=ping|", 0, FIX_CONTINUE, "0", 9, 5 },
		{ MSG, IN("2", 9) "7=1|16=0|", 0, FIX_CONTINUE, "4", 10, 5 }, /* admin only: a gap fill */
		{ MSG, IN("ZZ", 10), 0, FIX_CONTINUE, "3", 11, 5 },     /* unknown MsgType: Reject */
		{ MSG, IN("4", 11) "36=5|", 0, FIX_CONTINUE, "3", 11, 5 }, /* reset backwards: Reject */
		{ MSG, IN("4", 99) "36=20|", 0, FIX_CONTINUE, "", 20, 5 }, /* reset mode ignores 34 */
		{ MSG, EXEC(3), 0, FIX_DISCONNECT, "5", 20, 5 },       /* too low, no PossDup: Logout */
	};
	struct h h;
	struct fix_session *s = mk(&h, true, 1);

	(void)state;
	run(s, &h, st, sizeof(st) / sizeof(st[0]));
	assert_int_equal(fix_session_counters(s)->resend_requests_sent, 1);
	assert_int_equal(fix_session_counters(s)->duplicates, 1);
	assert_int_equal(fix_session_counters(s)->refused[FIX_R_SEQ_TOO_LOW], 1);
	assert_int_equal(fix_session_counters(s)->refused[FIX_R_UNKNOWN_MSG_TYPE], 1);
	fix_session_destroy(s);
}

static void test_refusals(void **state)
{
	static const struct step comp[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "A", 1, 0 },
		{ MSG, LOGON_IN(1), 0, FIX_CONTINUE, "", 2, 0 },
		{ MSG, "35=8|49=XXX|56=US|34=2|" TS, 0, FIX_DISCONNECT, "35", 0, 0 },
	};
	static const struct step skew[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "A", 1, 0 },
		{ MSG, LOGON_IN(1), 0, FIX_CONTINUE, "", 2, 0 },
		{ MSG, EXEC(2), 1000, FIX_DISCONNECT, "35", 2, 0 },    /* SendingTime 1000 s old */
	};
	static const struct step bad_exec[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "A", 1, 0 },
		{ MSG, LOGON_IN(1), 0, FIX_CONTINUE, "", 2, 0 },
		{ MSG, EXEC(2), 0, FIX_CONTINUE, "3", 3, 1 },          /* deliver refused it: Reject */
		{ MSG, IN("8", 3) "17=A|17=B|", 0, FIX_CONTINUE, "3", 4, 1 }, /* duplicate tag: Reject */
	};
	static const struct step not_logon[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "", 1, 0 },
		{ MSG, EXEC(1), 0, FIX_DISCONNECT, "", 1, 0 },
	};
	static const struct step low_logon[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "", 5, 0 },
		{ MSG, LOGON_IN(3), 0, FIX_DISCONNECT, "", 5, 0 },
	};
	struct h h;
	struct fix_session *s;

	(void)state;
	s = mk(&h, true, 1);
	run(s, &h, comp, 3);
	assert_int_equal(fix_session_counters(s)->refused[FIX_R_BAD_COMP_ID], 1);
	fix_session_destroy(s);
	s = mk(&h, true, 1);
	run(s, &h, skew, 3);
	assert_int_equal(fix_session_counters(s)->refused[FIX_R_BAD_SENDING_TIME], 1);
	fix_session_destroy(s);
	s = mk(&h, true, 1);
	h.deliver_rc = -FIX_R_MISSING_TAG;
	run(s, &h, bad_exec, 3);
	h.deliver_rc = 0;
	run(s, &h, bad_exec + 3, 1);
	assert_int_equal(fix_session_counters(s)->refused[FIX_R_MISSING_TAG], 1);
	assert_int_equal(fix_session_counters(s)->refused[FIX_R_DUPLICATE_TAG], 1);
	fix_session_destroy(s);
	s = mk(&h, false, 1);
	run(s, &h, not_logon, 2);
	assert_int_equal(fix_session_counters(s)->refused[FIX_R_NOT_LOGGED_ON], 1);
	fix_session_destroy(s);
	s = mk(&h, false, 5);
	run(s, &h, low_logon, 2);
	fix_session_destroy(s);
}

static void test_acceptor_logon_gap_and_reset(void **state)
{
	static const struct step gap[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "", 3, 0 },
		{ MSG, LOGON_IN(7), 0, FIX_CONTINUE, "A2", 3, 0 },      /* answer, then ask for 3.. */
		{ MSG, IN("4", 3) "43=Y|123=Y|36=8|", 0, FIX_CONTINUE, "", 8, 0 },
		{ LOGOUT, NULL, 1, FIX_CONTINUE, "5", 8, 0 },
		{ MSG, IN("5", 8), 1, FIX_DISCONNECT, "", 9, 0 },
	};
	static const struct step reset[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "", 40, 0 },
		{ MSG, LOGON_IN(1) "141=Y|", 0, FIX_CONTINUE, "A", 2, 0 },
	};
	struct h h;
	struct fix_session *s = mk(&h, false, 3);

	(void)state;
	run(s, &h, gap, sizeof(gap) / sizeof(gap[0]));
	fix_session_destroy(s);
	s = mk(&h, false, 40);
	run(s, &h, reset, 2);
	assert_int_equal(h.resets, 1);
	assert_non_null(strstr(h.last, "\00134=1\001")); /* our Logon answer is number 1 again */
	assert_non_null(strstr(h.last, "\001141=Y\001"));
	fix_session_destroy(s);
}

static void test_timers(void **state)
{
	static const struct step st[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "A", 1, 0 },
		{ TICK, NULL, 9, FIX_CONTINUE, "", 1, 0 },
		{ TICK, NULL, 11, FIX_DISCONNECT, "", 1, 0 },            /* no Logon answer in 10 s */
	};
	static const struct step hb[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "A", 1, 0 },
		{ MSG, LOGON_IN(1), 0, FIX_CONTINUE, "", 2, 0 },
		{ TICK, NULL, 29, FIX_CONTINUE, "", 2, 0 },
		{ TICK, NULL, 30, FIX_CONTINUE, "0", 2, 0 },             /* HeartBtInt of our silence */
		{ TICK, NULL, 32, FIX_CONTINUE, "1", 2, 0 },             /* 30 + 2 s of theirs: TestRequest */
		{ TICK, NULL, 40, FIX_CONTINUE, "", 2, 0 },
		{ TICK, NULL, 64, FIX_DISCONNECT, "", 2, 0 },            /* 2 x 30 + 4 s: give up */
	};
	struct h h;
	struct fix_session *s = mk(&h, true, 1);

	(void)state;
	run(s, &h, st, 3);
	fix_session_disconnected(s);
	fix_session_destroy(s);
	s = mk(&h, true, 1);
	run(s, &h, hb, sizeof(hb) / sizeof(hb[0]));
	fix_session_destroy(s);
}

static void test_rewind(void **state)
{
	static const struct step st[] = {
		{ CONNECT, NULL, 0, FIX_CONTINUE, "A", 1, 0 },
		{ MSG, LOGON_IN(1), 0, FIX_CONTINUE, "", 2, 0 },
		{ MSG, EXEC(2), 0, FIX_CONTINUE, "", 3, 1 },
		{ MSG, EXEC(3), 0, FIX_CONTINUE, "", 4, 2 },
	};
	static const struct step after[] = {
		{ MSG, EXEC(4), 0, FIX_CONTINUE, "2", 2, 2 },            /* 2 is expected again: resend */
		{ MSG, EXEC(2) "43=Y|", 0, FIX_CONTINUE, "", 3, 3 },
	};
	struct h h;
	struct fix_session *s = mk(&h, true, 1);

	(void)state;
	run(s, &h, st, 4);
	fix_session_rewind_in(s, 2);
	run(s, &h, after, 2);
	fix_session_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initiator_gap_and_resend),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_acceptor_logon_gap_and_reset),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_rewind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
