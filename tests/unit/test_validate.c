/* validate: one table of events and the reason each must get (NULL = valid),
 * the type letter of every body, and the stage turning only PASS events into
 * DEAD with the reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mdm_itch.h"
#include "processor_cfg.h"
#include "validate.h"

struct fx {
	Mdmesh__V1__MarketEvent ev;
	Mdmesh__V1__EventHeader h;
	Mdmesh__V1__AddOrder a;
	Mdmesh__V1__OrderExecuted e;
	Mdmesh__V1__OrderExecutedWithPrice c;
	Mdmesh__V1__NonCrossTrade p;
	Mdmesh__V1__CrossTrade q;
	Mdmesh__V1__OrderReplace u;
	Mdmesh__V1__SystemEvent s;
};

enum kind { K_A, K_E, K_C, K_P, K_Q, K_U, K_S, K_NONE };

/* A valid event of `kind` with price `price` and shares `shares`. */
static void build(struct fx *f, enum kind k, uint64_t price, uint64_t shares)
{
	static const char *const letters[] = { "A", "E", "C", "P", "Q", "U", "S", "A" };

	memset(f, 0, sizeof(*f));
	f->ev = (Mdmesh__V1__MarketEvent)MDMESH__V1__MARKET_EVENT__INIT;
	f->h = (Mdmesh__V1__EventHeader)MDMESH__V1__EVENT_HEADER__INIT;
	f->h.feed = "itch";
	f->h.session = "S1";
	f->h.seq = 42;
	f->h.type = (char *)letters[k];
	f->ev.header = &f->h;
	switch (k) {
	case K_A:
		f->a = (Mdmesh__V1__AddOrder)MDMESH__V1__ADD_ORDER__INIT;
		f->a.price = (uint32_t)price;
		f->a.shares = (uint32_t)shares;
		f->ev.body_case = MDMESH__V1__MARKET_EVENT__BODY_ADD_ORDER;
		f->ev.add_order = &f->a;
		break;
	case K_E:
		f->e = (Mdmesh__V1__OrderExecuted)MDMESH__V1__ORDER_EXECUTED__INIT;
		f->e.executed_shares = (uint32_t)shares;
		f->ev.body_case = MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED;
		f->ev.order_executed = &f->e;
		break;
	case K_C:
		f->c = (Mdmesh__V1__OrderExecutedWithPrice)MDMESH__V1__ORDER_EXECUTED_WITH_PRICE__INIT;
		f->c.execution_price = (uint32_t)price;
		f->c.executed_shares = (uint32_t)shares;
		f->ev.body_case = MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED_WITH_PRICE;
		f->ev.order_executed_with_price = &f->c;
		break;
	case K_P:
		f->p = (Mdmesh__V1__NonCrossTrade)MDMESH__V1__NON_CROSS_TRADE__INIT;
		f->p.price = (uint32_t)price;
		f->p.shares = (uint32_t)shares;
		f->ev.body_case = MDMESH__V1__MARKET_EVENT__BODY_NON_CROSS_TRADE;
		f->ev.non_cross_trade = &f->p;
		break;
	case K_Q:
		f->q = (Mdmesh__V1__CrossTrade)MDMESH__V1__CROSS_TRADE__INIT;
		f->q.cross_price = (uint32_t)price;
		f->q.shares = shares;
		f->ev.body_case = MDMESH__V1__MARKET_EVENT__BODY_CROSS_TRADE;
		f->ev.cross_trade = &f->q;
		break;
	case K_U:
		f->u = (Mdmesh__V1__OrderReplace)MDMESH__V1__ORDER_REPLACE__INIT;
		f->u.price = (uint32_t)price;
		f->u.shares = (uint32_t)shares;
		f->ev.body_case = MDMESH__V1__MARKET_EVENT__BODY_ORDER_REPLACE;
		f->ev.order_replace = &f->u;
		break;
	case K_S:
		f->s = (Mdmesh__V1__SystemEvent)MDMESH__V1__SYSTEM_EVENT__INIT;
		f->ev.body_case = MDMESH__V1__MARKET_EVENT__BODY_SYSTEM_EVENT;
		f->ev.system_event = &f->s;
		break;
	case K_NONE:
		break;
	}
}

enum mutate { M_NONE, M_NO_HEADER, M_NO_FEED, M_NO_SESSION, M_NO_SEQ, M_TYPE_X, M_TYPE_EMPTY };

static const struct vcase {
	const char *name;
	enum kind kind;
	uint64_t price, shares;
	enum mutate m;
	const char *want;
} cases[] = {
	{ "valid add order", K_A, 1000000, 100, M_NONE, NULL },
	{ "add order price 0", K_A, 0, 100, M_NONE, "price_not_positive" },
	{ "add order below min", K_A, 99, 100, M_NONE, "price_below_min" },
	{ "add order at min", K_A, 100, 100, M_NONE, NULL },
	{ "add order above max", K_A, 2000000001, 100, M_NONE, "price_above_max" },
	{ "add order zero shares", K_A, 1000000, 0, M_NONE, "shares_zero" },
	{ "add order at max shares", K_A, 1000000, 1000000, M_NONE, NULL },
	{ "add order above max shares", K_A, 1000000, 1000001, M_NONE, "shares_above_max" },
	{ "execution needs no price", K_E, 0, 10, M_NONE, NULL },
	{ "execution zero shares", K_E, 0, 0, M_NONE, "shares_zero" },
	{ "execution with price 0", K_C, 0, 10, M_NONE, "price_not_positive" },
	{ "non-cross valid", K_P, 500, 10, M_NONE, NULL },
	{ "non-cross zero shares", K_P, 500, 0, M_NONE, "shares_zero" },
	{ "cross without match: 0 shares, 0 price", K_Q, 0, 0, M_NONE, NULL },
	{ "cross with shares needs a price", K_Q, 0, 5, M_NONE, "price_not_positive" },
	{ "replace price 0", K_U, 0, 10, M_NONE, "price_not_positive" },
	{ "system event has no amounts", K_S, 0, 0, M_NONE, NULL },
	{ "no body", K_NONE, 0, 0, M_NONE, "unknown_type" },
	{ "no header", K_A, 1000000, 100, M_NO_HEADER, "no_header" },
	{ "no feed", K_A, 1000000, 100, M_NO_FEED, "no_feed" },
	{ "no session", K_A, 1000000, 100, M_NO_SESSION, "no_session" },
	{ "seq 0", K_A, 1000000, 100, M_NO_SEQ, "no_seq" },
	{ "type letter disagrees", K_A, 1000000, 100, M_TYPE_X, "type_mismatch" },
	{ "empty type letter is fine", K_A, 1000000, 100, M_TYPE_EMPTY, NULL },
};

static const struct validate_params params = {
	.min_price = 100, .max_price = 2000000000, .max_shares = 1000000, .require_header = true,
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vcase *c = &cases[i];
		struct fx f;
		const char *got;

		build(&f, c->kind, c->price, c->shares);
		switch (c->m) {
		case M_NO_HEADER: f.ev.header = NULL; break;
		case M_NO_FEED: f.h.feed = ""; break;
		case M_NO_SESSION: f.h.session = ""; break;
		case M_NO_SEQ: f.h.seq = 0; break;
		case M_TYPE_X: f.h.type = "X"; break;
		case M_TYPE_EMPTY: f.h.type = ""; break;
		case M_NONE: break;
		}
		got = validate_event(&params, &f.ev);
		if (!c->want && got)
			fail_msg("%s: got %s, want valid", c->name, got);
		if (c->want && (!got || strcmp(got, c->want) != 0))
			fail_msg("%s: got %s, want %s", c->name, got ? got : "valid", c->want);
	}
}

static void test_header_optional(void **state)
{
	struct validate_params p = params;
	struct fx f;

	(void)state;
	p.require_header = false;
	build(&f, K_A, 1000000, 100);
	f.h.seq = 0;
	f.h.feed = "";
	assert_null(validate_event(&p, &f.ev));
	f.ev.header = NULL;
	assert_null(validate_event(&p, &f.ev));
}

static void test_no_upper_price_bound(void **state)
{
	struct validate_params p = params;
	struct fx f;

	(void)state;
	p.max_price = 0;
	build(&f, K_A, 4294967295u, 100);
	assert_null(validate_event(&p, &f.ev));
}

static void test_body_types(void **state)
{
	static const char letters[] = "SRHYLVWKJhAFECXDUPQBINO";

	(void)state;
	for (int i = 0; i < 23; i++)
		assert_int_equal(validate_body_type((Mdmesh__V1__MarketEvent__BodyCase)(10 + i)), letters[i]);
	assert_int_equal(validate_body_type(MDMESH__V1__MARKET_EVENT__BODY__NOT_SET), 0);
	assert_int_equal(validate_body_type((Mdmesh__V1__MarketEvent__BodyCase)33), 0);
	/* the ITCH table's row order is the oneof's field order, and each row's
	 * name is its body's name: what validate.c and rules.c build on */
#define ITCH_MSG(type, name, ...)                                                                              \
	{                                                                                                      \
		const ProtobufCFieldDescriptor *fd =                                                           \
			protobuf_c_message_descriptor_get_field_by_name(&mdmesh__v1__market_event__descriptor, #name); \
		assert_non_null(fd);                                                                           \
		assert_int_equal(fd->id, MDMESH__V1__MARKET_EVENT__BODY_SYSTEM_EVENT + MDM_ITCH_##name);       \
		assert_int_equal(validate_body_type((Mdmesh__V1__MarketEvent__BodyCase)fd->id), (type));       \
	}
#include "itch_msgs.def"
#undef ITCH_MSG
}

static void test_stage(void **state)
{
	struct processor_cfg cfg;
	struct mdm_stage_env env = { .cfg = &cfg };
	struct fx good, bad, skipped;
	struct mdm_stage_item items[3] = { 0 };
	struct mdm_stage_batch b = { .items = items, .n = 3 };
	void *ctx = NULL;

	(void)state;
	assert_int_equal(processor_cfg_load(&cfg, NULL), 0);
	build(&good, K_P, 1000000, 100);
	build(&bad, K_P, 1000000, 0);
	build(&skipped, K_P, 0, 0);
	items[0].ev = &good.ev;
	items[1].ev = &bad.ev;
	items[2].ev = &skipped.ev;
	items[2].verdict = MDM_STAGE_SKIP;
	assert_int_equal(validate_stage_ops.init(&ctx, &env), 0);
	assert_int_equal(validate_stage_ops.process(ctx, &b), 0);
	assert_int_equal(items[0].verdict, MDM_STAGE_PASS);
	assert_int_equal(items[1].verdict, MDM_STAGE_DEAD);
	assert_string_equal(items[1].reason, "shares_zero");
	assert_int_equal(items[2].verdict, MDM_STAGE_SKIP);
	assert_null(items[2].reason);
	validate_stage_ops.fini(ctx);
	processor_cfg_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_header_optional),
		cmocka_unit_test(test_no_upper_price_bound),
		cmocka_unit_test(test_body_types),
		cmocka_unit_test(test_stage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
