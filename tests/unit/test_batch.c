/* batch.c's key invariant, with the bus mocked at the link (--wrap) and a
 * recording store: a message is acked only after its batch's store commit
 * returned 0; when the store (begin, audit row, commit) or a stage fails, the
 * transaction is rolled back and every message is naked with the delay for
 * its delivery count, never acked. One body runs every case of the table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "batch.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_hdr.h"
#include "mdmesh/v1/events.pb-c.h"
#include "processor_cfg.h"
#include "store.h"

#define N_MSGS 5

/* ---- the mocked bus: a message is a struct fake_msg ---- */

struct fake_msg {
	const char *subject;
	uint8_t data[256];
	size_t len;
	uint64_t stream_seq, delivered;
	bool freed;
};

enum ev_kind { EV_BEGIN, EV_AUDIT_ROW, EV_COMMIT, EV_ROLLBACK, EV_ACK, EV_NAK, EV_AUDIT_PUB };

struct ev {
	enum ev_kind kind;
	uint64_t seq;       /* ACK / NAK: the message's stream sequence */
	uint64_t delay_ms;  /* NAK */
};

static struct {
	struct ev log[64];
	size_t n;
	bool committed;     /* the store's last commit returned 0 and no begin since */
	int fail_begin, fail_audit, fail_commit, fail_stage; /* rc to return, 0: succeed */
	size_t acks_before_commit;
} g;

static void log_ev(enum ev_kind k, uint64_t seq, uint64_t delay_ms)
{
	assert_true(g.n < sizeof(g.log) / sizeof(g.log[0]));
	g.log[g.n++] = (struct ev){ .kind = k, .seq = seq, .delay_ms = delay_ms };
}

#define FM(m) ((struct fake_msg *)(m))

const char *__wrap_mdm_bus_msg_subject(const struct mdm_bus_msg *m)
{
	return ((const struct fake_msg *)m)->subject;
}

const void *__wrap_mdm_bus_msg_data(const struct mdm_bus_msg *m)
{
	return ((const struct fake_msg *)m)->data;
}

size_t __wrap_mdm_bus_msg_len(const struct mdm_bus_msg *m)
{
	return ((const struct fake_msg *)m)->len;
}

int __wrap_mdm_bus_msg_meta(struct mdm_bus_msg *m, struct mdm_bus_msg_meta *meta)
{
	memset(meta, 0, sizeof(*meta));
	meta->stream_seq = FM(m)->stream_seq;
	meta->delivered = FM(m)->delivered;
	return 0;
}

int __wrap_mdm_bus_ack(struct mdm_bus_msg *m)
{
	if (!g.committed)
		g.acks_before_commit++;
	log_ev(EV_ACK, FM(m)->stream_seq, 0);
	return 0;
}

int __wrap_mdm_bus_nak_delay(struct mdm_bus_msg *m, uint64_t delay_ms)
{
	log_ev(EV_NAK, FM(m)->stream_seq, delay_ms);
	return 0;
}

void __wrap_mdm_bus_msg_free(struct mdm_bus_msg *m)
{
	if (m)
		FM(m)->freed = true;
}

int __wrap_mdm_bus_publish_async_until(struct mdm_bus *bus, const char *subject, const char *msg_id,
				       const char *content_type, const void *data, size_t len, uint64_t token,
				       const struct mdm_bus_retry *retry)
{
	(void)bus, (void)msg_id, (void)content_type, (void)data, (void)len, (void)token;
	assert_string_equal(subject, "audit.test");
	assert_true(retry->deadline_ns > 0 && retry->deadline_ns != MDM_BUS_NO_DEADLINE);
	log_ev(EV_AUDIT_PUB, 0, 0);
	return 0;
}

/* ---- a recording store ---- */

static int st_open(struct store **out, const char *url)
{
	static int dummy;

	(void)url;
	*out = (struct store *)&dummy;
	return 0;
}

static void st_close(struct store *s)
{
	(void)s;
}

static int st_begin(struct store *s)
{
	(void)s;
	g.committed = false;
	log_ev(EV_BEGIN, 0, 0);
	return g.fail_begin;
}

static int st_put_audit(struct store *s, const struct store_audit *a)
{
	(void)s;
	assert_int_equal(a->total, N_MSGS);
	assert_int_equal(a->first_stream_seq, 100);
	assert_int_equal(a->last_stream_seq, 100 + N_MSGS - 1);
	log_ev(EV_AUDIT_ROW, 0, 0);
	return g.fail_audit;
}

static int st_commit(struct store *s)
{
	(void)s;
	log_ev(EV_COMMIT, 0, 0);
	g.committed = g.fail_commit == 0;
	return g.fail_commit;
}

static int st_rollback(struct store *s)
{
	(void)s;
	log_ev(EV_ROLLBACK, 0, 0);
	return 0;
}

static const struct store_ops test_store_ops = {
	.name = "test", .open = st_open, .close = st_close, .begin = st_begin, .put_audit = st_put_audit,
	.commit = st_commit, .rollback = st_rollback,
};

/* ---- one stage that can fail the batch ---- */

static int sg_init(void **ctx, const struct mdm_stage_env *env)
{
	(void)env;
	*ctx = &g;
	return 0;
}

static int sg_process(void *ctx, struct mdm_stage_batch *b)
{
	(void)ctx;
	assert_int_equal(b->n, N_MSGS);
	for (size_t i = 0; i < b->n; i++)
		assert_non_null(b->items[i].ev); /* decoded once, shared */
	return g.fail_stage;
}

static void sg_fini(void *ctx)
{
	(void)ctx;
}

static const struct mdm_stage_ops test_stage_ops = {
	.name = "test_stage", .init = sg_init, .process = sg_process, .fini = sg_fini,
};

/* ---- the table ---- */

struct tcase {
	const char *name;
	int fail_begin, fail_stage, fail_audit, fail_commit;
	bool begun;  /* a rollback is due on failure */
};

static const struct tcase cases[] = {
	{ "committed", 0, 0, 0, 0, true },
	{ "commit fails", 0, 0, 0, -ECONNRESET, true },
	{ "commit fails, disk full", 0, 0, 0, -ENOSPC, true },
	{ "audit row fails", 0, 0, -EIO, 0, true },
	{ "stage fails", 0, -EINVAL, 0, 0, true },
	{ "begin fails", -ECONNRESET, 0, 0, 0, false },
};

static void run_case(const struct tcase *tc)
{
	static const uint64_t delays_ns[] = { 1 * MDM_NS_PER_S, 5 * MDM_NS_PER_S, 15 * MDM_NS_PER_S };
	struct processor_cfg cfg;
	struct worker_stats stats = { 0 };
	uint64_t async_failed = 0;
	struct mdm_stage stage = { .ops = &test_stage_ops };
	struct fake_msg msgs[N_MSGS];
	struct batch_params bp;
	struct batch *b = NULL;
	struct batch_msg *slots;
	size_t acks = 0, naks = 0, commit_at = SIZE_MAX, last_ack = 0;
	int rc;

	memset(&g, 0, sizeof(g));
	g.fail_begin = tc->fail_begin;
	g.fail_stage = tc->fail_stage;
	g.fail_audit = tc->fail_audit;
	g.fail_commit = tc->fail_commit;
	memset(&cfg, 0, sizeof(cfg));
	cfg.instance = "t1";
	cfg.audit_subject = "audit.test";
	memcpy(cfg.nak_delay_ns, delays_ns, sizeof(delays_ns));
	cfg.n_nak_delays = 3;
	bp = (struct batch_params){ .cfg = &cfg, .bus = (struct mdm_bus *)&g, .store_ops = &test_store_ops,
				    .store_url = "test", .stages = &stage, .n_stages = 1, .worker = 3,
				    .max_msgs = N_MSGS, .stats = &stats, .async_failed = &async_failed };
	assert_int_equal(batch_create(&b, &bp), 0);
	slots = batch_slots(b);
	for (int i = 0; i < N_MSGS; i++) {
		Mdmesh__V1__MarketEvent ev = MDMESH__V1__MARKET_EVENT__INIT;
		Mdmesh__V1__EventHeader h = MDMESH__V1__EVENT_HEADER__INIT;

		h.symbol = "AAPL";
		h.seq = (uint64_t)i + 1;
		ev.header = &h;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].subject = "md.itch.P.AAPL";
		msgs[i].len = mdmesh__v1__market_event__get_packed_size(&ev);
		assert_true(msgs[i].len <= sizeof(msgs[i].data));
		mdmesh__v1__market_event__pack(&ev, msgs[i].data);
		msgs[i].stream_seq = 100 + (uint64_t)i;
		msgs[i].delivered = (uint64_t)i + 1; /* 1..5: delays 1 s, 5 s, then 15 s */
		slots[i] = (struct batch_msg){ .msg = (struct mdm_bus_msg *)&msgs[i], .fetch_real_ns = mdm_real_ns() };
	}

	rc = batch_run(b, N_MSGS);

	for (size_t i = 0; i < g.n; i++) {
		if (g.log[i].kind == EV_COMMIT && commit_at == SIZE_MAX)
			commit_at = i;
		if (g.log[i].kind == EV_ACK) {
			acks++;
			last_ack = i;
			/* acked after the commit, never before */
			assert_true(commit_at != SIZE_MAX && i > commit_at);
		}
		if (g.log[i].kind == EV_NAK) {
			uint64_t want_ms = worker_nak_delay_ns(delays_ns, 3, g.log[i].seq - 100 + 1) / MDM_NS_PER_MS;

			naks++;
			assert_int_equal(g.log[i].delay_ms, want_ms);
		}
	}
	assert_int_equal(g.acks_before_commit, 0);
	for (int i = 0; i < N_MSGS; i++) {
		assert_true(msgs[i].freed);
		assert_null(slots[i].msg);
	}
	if (!tc->fail_begin && !tc->fail_stage && !tc->fail_audit && !tc->fail_commit) {
		assert_int_equal(rc, 0);
		assert_int_equal(acks, N_MSGS);
		assert_int_equal(naks, 0);
		assert_true(g.committed);
		/* the audit record is published once the batch is acked */
		assert_int_equal(g.log[g.n - 1].kind, EV_AUDIT_PUB);
		assert_true(last_ack < g.n - 1);
		assert_int_equal(stats.batches, 1);
		assert_int_equal(stats.messages, N_MSGS);
		assert_int_equal(stats.naks, 0);
	} else {
		int want = tc->fail_begin ? tc->fail_begin : tc->fail_stage ? tc->fail_stage
							  : tc->fail_audit ? tc->fail_audit : tc->fail_commit;
		bool rolled_back = false;

		assert_int_equal(rc, want);
		assert_int_equal(acks, 0);
		assert_int_equal(naks, N_MSGS);
		for (size_t i = 0; i < g.n; i++) {
			rolled_back |= g.log[i].kind == EV_ROLLBACK;
			assert_true(g.log[i].kind != EV_AUDIT_PUB);
		}
		assert_int_equal(rolled_back, tc->begun);
		assert_int_equal(stats.batches, 0);
		assert_int_equal(stats.failed_batches, 1);
		assert_int_equal(stats.naks, N_MSGS);
		assert_int_equal(stats.consecutive_failures, 1);
	}
	batch_destroy(b);
}

static void test_ack_after_commit(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case: %s\n", cases[i].name);
		run_case(&cases[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_after_commit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
