#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mdm_pbjson.h"
#include "mdm_proto.h"

static void test_market_event_oneof_and_header(void **state)
{
	Mdmesh__V1__MarketEvent ev = MDMESH__V1__MARKET_EVENT__INIT;
	Mdmesh__V1__EventHeader h = MDMESH__V1__EVENT_HEADER__INIT;
	Mdmesh__V1__AddOrder a = MDMESH__V1__ADD_ORDER__INIT;
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;
	uint8_t wire[256];
	size_t n;
	Mdmesh__V1__MarketEvent *back;

	h.feed = "itch";
	h.session = "000000001";
	h.seq = 42;
	h.symbol = "AAPL";
	h.type = "A";
	h.exchange_ts_ns = 34200000000000ULL;
	a.order_reference_number = 7;
	a.buy_sell_indicator = "B";
	a.shares = 100;
	a.stock = "AAPL";
	a.price = 1234500;
	ev.header = &h;
	ev.body_case = MDMESH__V1__MARKET_EVENT__BODY_ADD_ORDER;
	ev.add_order = &a;
	n = mdmesh__v1__market_event__get_packed_size(&ev);
	assert_true(n < sizeof(wire));
	assert_int_equal(mdmesh__v1__market_event__pack(&ev, wire), n);
	back = mdmesh__v1__market_event__unpack(NULL, n, wire);
	assert_non_null(back);

	mdm_json_init(&j, &b);
	mdm_pbjson_write(&j, &back->base);
	assert_string_equal(b.data,
			    "{\"header\":{\"feed\":\"itch\",\"session\":\"000000001\",\"seq\":42,\"stock_locate\":0,"
			    "\"tracking_number\":0,\"symbol\":\"AAPL\",\"exchange_ts_ns\":34200000000000,"
			    "\"rx_ts_ns\":0,\"pub_ts_ns\":0,\"type\":\"A\",\"wire_ts_ns\":0,\"session_date\":0},"
			    "\"add_order\":{\"order_reference_number\":7,\"buy_sell_indicator\":\"B\",\"shares\":100,"
			    "\"stock\":\"AAPL\",\"price\":1234500}}");
	mdmesh__v1__market_event__free_unpacked(back, NULL);
	mdm_buf_fini(&b);
}

static void test_repeated_enum_bytes(void **state)
{
	Mdmesh__V1__Trade t = MDMESH__V1__TRADE__INIT;
	Mdmesh__V1__DeadLetter dl = MDMESH__V1__DEAD_LETTER__INIT;
	Mdmesh__V1__EventBatch batch = MDMESH__V1__EVENT_BATCH__INIT;
	Mdmesh__V1__MarketEvent e1 = MDMESH__V1__MARKET_EVENT__INIT, e2 = MDMESH__V1__MARKET_EVENT__INIT;
	Mdmesh__V1__MarketEvent *evs[2] = { &e1, &e2 };
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;

	t.kind = MDMESH__V1__TRADE_KIND__TRADE_KIND_CROSS;
	t.symbol = "MSFT";
	mdm_json_init(&j, &b);
	mdm_pbjson_write(&j, &t.base);
	assert_non_null(strstr(b.data, "\"kind\":\"TRADE_KIND_CROSS\""));
	assert_non_null(strstr(b.data, "\"symbol\":\"MSFT\""));

	mdm_buf_reset(&b);
	dl.payload.data = (uint8_t *)"foo";
	dl.payload.len = 3;
	mdm_json_init(&j, &b);
	mdm_pbjson_write(&j, &dl.base);
	assert_non_null(strstr(b.data, "\"payload\":\"Zm9v\""));

	mdm_buf_reset(&b);
	batch.feed = "itch";
	batch.n_events = 2;
	batch.events = evs;
	mdm_json_init(&j, &b);
	mdm_pbjson_write(&j, &batch.base);
	assert_string_equal(b.data, "{\"feed\":\"itch\",\"partition\":0,\"events\":[{},{}]}");
	mdm_buf_fini(&b);
}

static void test_proto_lookup(void **state)
{
	assert_ptr_equal(mdm_proto_find("Trade"), &mdmesh__v1__trade__descriptor);
	assert_ptr_equal(mdm_proto_find("mdmesh.v1.EventBatch"), &mdmesh__v1__event_batch__descriptor);
	assert_ptr_equal(mdm_proto_find("marketevent"), &mdmesh__v1__market_event__descriptor);
	assert_null(mdm_proto_find("NoSuchThing"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_market_event_oneof_and_header),
		cmocka_unit_test(test_repeated_enum_bytes),
		cmocka_unit_test(test_proto_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
