/* Fuzz target: bytes are a rules YAML document. rules_load_string either
 * fails with a located message, or yields a ruleset that a few fixed events
 * (every body kind the matcher treats specially, plus no body and no header)
 * run through with every action checked. Each loaded input is compiled again
 * with an allocation failure injected at an input-chosen point: that must
 * fail cleanly with -ENOMEM or succeed, and never leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "rules.h"

#define N_EVENTS 8

struct fz_events {
	Mdmesh__V1__MarketEvent ev[N_EVENTS];
	Mdmesh__V1__EventHeader hdr[N_EVENTS];
	Mdmesh__V1__OrderState order;
	Mdmesh__V1__AddOrder a;
	Mdmesh__V1__OrderExecuted e;
	Mdmesh__V1__OrderExecutedWithPrice c;
	Mdmesh__V1__CrossTrade q;
	Mdmesh__V1__OrderReplace u;
	Mdmesh__V1__StockTradingAction h;
	struct rules_event rev[N_EVENTS];
};

static void header(struct fz_events *z, int i, const char *type, const char *symbol, const char *subject)
{
	z->hdr[i] = (Mdmesh__V1__EventHeader)MDMESH__V1__EVENT_HEADER__INIT;
	z->hdr[i].feed = "itch";
	z->hdr[i].session = "S1";
	z->hdr[i].seq = (uint64_t)i * 1000003u;
	z->hdr[i].stock_locate = (uint32_t)i;
	z->hdr[i].type = (char *)type;
	z->hdr[i].symbol = (char *)symbol;
	z->ev[i] = (Mdmesh__V1__MarketEvent)MDMESH__V1__MARKET_EVENT__INIT;
	z->ev[i].header = &z->hdr[i];
	z->rev[i].ev = &z->ev[i];
	z->rev[i].subject = subject;
}

static void build(struct fz_events *z)
{
	memset(z, 0, sizeof(*z));
	z->order = (Mdmesh__V1__OrderState)MDMESH__V1__ORDER_STATE__INIT;
	z->order.known = 1;
	z->order.buy_sell_indicator = "S";
	z->order.price = 2000000;
	z->order.remaining_shares = 100;

	header(z, 0, "A", "AAPL", "md.itch.A.AAPL");
	z->a = (Mdmesh__V1__AddOrder)MDMESH__V1__ADD_ORDER__INIT;
	z->a.price = 1000000, z->a.shares = 10000, z->a.buy_sell_indicator = "B", z->a.stock = "AAPL";
	z->ev[0].body_case = MDMESH__V1__MARKET_EVENT__BODY_ADD_ORDER, z->ev[0].add_order = &z->a;

	header(z, 1, "E", "MSFT", "md.itch.E.MSFT");
	z->e = (Mdmesh__V1__OrderExecuted)MDMESH__V1__ORDER_EXECUTED__INIT;
	z->e.executed_shares = 10000;
	z->ev[1].body_case = MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED, z->ev[1].order_executed = &z->e;
	z->ev[1].order = &z->order;

	header(z, 2, "C", "BRK A", "md.itch.C.BRK_A");
	z->c = (Mdmesh__V1__OrderExecutedWithPrice)MDMESH__V1__ORDER_EXECUTED_WITH_PRICE__INIT;
	z->c.execution_price = 1, z->c.executed_shares = 1, z->c.printable = "N";
	z->ev[2].body_case = MDMESH__V1__MARKET_EVENT__BODY_ORDER_EXECUTED_WITH_PRICE;
	z->ev[2].order_executed_with_price = &z->c;
	z->ev[2].order = &z->order;

	header(z, 3, "Q", "ZVZZT", NULL);
	z->q = (Mdmesh__V1__CrossTrade)MDMESH__V1__CROSS_TRADE__INIT;
	z->q.cross_price = UINT32_MAX, z->q.shares = UINT64_MAX, z->q.cross_type = "O";
	z->ev[3].body_case = MDMESH__V1__MARKET_EVENT__BODY_CROSS_TRADE, z->ev[3].cross_trade = &z->q;

	header(z, 4, "U", "", "md.itch.U._");
	z->u = (Mdmesh__V1__OrderReplace)MDMESH__V1__ORDER_REPLACE__INIT;
	z->u.price = 5, z->u.shares = 7;
	z->ev[4].body_case = MDMESH__V1__MARKET_EVENT__BODY_ORDER_REPLACE, z->ev[4].order_replace = &z->u;

	header(z, 5, "H", "A.B*C>D", "md.itch.H.A_B_C_D");
	z->h = (Mdmesh__V1__StockTradingAction)MDMESH__V1__STOCK_TRADING_ACTION__INIT;
	z->h.trading_state = "H";
	z->ev[5].body_case = MDMESH__V1__MARKET_EVENT__BODY_STOCK_TRADING_ACTION, z->ev[5].stock_trading_action = &z->h;

	header(z, 6, "", "0123456789012345678901234567890123456789", "");
	header(z, 7, "", "", "md.>");
	z->ev[7].header = NULL;
}

static void check_actions(const struct rules *r, const struct rules_action *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t tl = strnlen(a[i].target, RULES_TARGET_MAX);

		FUZZ_CHECK(a[i].rule < rules_count(r));
		FUZZ_CHECK(a[i].rule_name == rules_name(r, a[i].rule));
		FUZZ_CHECK(tl > 0 && tl < RULES_TARGET_MAX);
		FUZZ_CHECK(strnlen(a[i].message, RULES_MESSAGE_MAX) < RULES_MESSAGE_MAX);
		FUZZ_CHECK(a[i].alert_record == (a[i].severity != NULL));
		if (a[i].kind == RULES_ACTION_PUBLISH)
			/* a rendered subject has no wildcard and no empty token */
			FUZZ_CHECK(!strpbrk(a[i].target, "*> \t") && a[i].target[0] != '.' &&
				   a[i].target[tl - 1] != '.' && !strstr(a[i].target, ".."));
	}
}

static void run(const struct rules *r, struct fz_events *z)
{
	struct rules_action small[3], *big;
	size_t max = rules_max_actions(r);

	big = mdm_malloc((max ? max : 1) * sizeof(*big));
	FUZZ_CHECK(big != NULL);
	for (int i = 0; i < N_EVENTS; i++) {
		unsigned fl = 0, fl_big = 0;
		size_t n = rules_match(r, &z->rev[i], small, 3, &fl);
		size_t nb = rules_match(r, &z->rev[i], big, max, &fl_big);

		FUZZ_CHECK(n <= 3);
		check_actions(r, small, n);
		check_actions(r, big, nb);
		/* rules_max_actions really is enough, and a small array sees a prefix of the same outcome */
		FUZZ_CHECK(!(fl_big & RULES_MATCH_OVERFLOW));
		FUZZ_CHECK((fl & RULES_MATCH_DROP) == (fl_big & RULES_MATCH_DROP));
		FUZZ_CHECK(n == (nb < 3 ? nb : 3));
		FUZZ_CHECK(!!(fl & RULES_MATCH_OVERFLOW) == (nb > 3));
		for (size_t k = 0; k < n; k++)
			FUZZ_CHECK(small[k].rule == big[k].rule && strcmp(small[k].target, big[k].target) == 0);
	}
	mdm_free(big);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_events z;
	struct rules *r = NULL;
	uint64_t base = mdm_mem_used();
	int rc;

	build(&z);
	rc = rules_load_string((const char *)data, size, "fuzz.yaml", &r);
	if (rc != 0) {
		FUZZ_CHECK(rc == -EINVAL && r == NULL);
		FUZZ_CHECK(strncmp(mdm_err_last(), "fuzz.yaml", 9) == 0);
		FUZZ_CHECK(mdm_mem_used() == base);
		return 0;
	}
	run(r, &z);
	rules_unref(r);
	FUZZ_CHECK(mdm_mem_used() == base);

	r = NULL;
	mdm_mem_fail_after(1 + (size * 31 + (size ? data[size / 2] : 0)) % 97);
	rc = rules_load_string((const char *)data, size, "fuzz.yaml", &r);
	mdm_mem_fail_reset();
	FUZZ_CHECK(rc == 0 || rc == -ENOMEM);
	FUZZ_CHECK((rc == 0) == (r != NULL));
	rules_unref(r);
	FUZZ_CHECK(mdm_mem_used() == base);
	return 0;
}
