/* MoldUDP64 packet builder: packets fill up to the limit with whole
 * messages, sequence numbers run on, control packets carry the next one, and
 * the collector's parser accepts what it builds (checked in test_feed via the
 * BinaryFILE tools; here the bytes themselves). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mdm_moldpack.h"

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void test_fill_and_take(void **state)
{
	/* limit, message length -> messages per packet */
	static const struct {
		size_t limit, msg;
		unsigned per_packet;
	} cases[] = {
		{ 1400, 36, 36 },  /* 20 + 36 * 38 = 1388; a 37th would be 1426 */
		{ 100, 36, 2 },    /* 20 + 2 * 38 = 96 */
		{ 0, 50, 26 },     /* default 1400: 20 + 26 * 52 = 1372 */
		{ 60, 100, 1 },    /* too large for the limit: alone, beyond it */
	};
	static struct mdm_moldpack p;
	uint8_t msg[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned want = cases[i].per_packet;
		unsigned n = 0;
		const uint8_t *pkt;
		size_t len;

		mdm_moldpack_init(&p, "SESS1", 7, cases[i].limit);
		memset(msg, 'A', sizeof(msg));
		assert_null(mdm_moldpack_take(&p, &len));
		assert_int_equal(len, 0);
		while (mdm_moldpack_add(&p, msg, cases[i].msg))
			n++;
		assert_int_equal(n, want);
		pkt = mdm_moldpack_take(&p, &len);
		assert_non_null(pkt);
		assert_int_equal(len, 20 + want * (2 + cases[i].msg));
		assert_memory_equal(pkt, "SESS1     ", 10);
		assert_int_equal(be64(pkt + 10), 7);
		assert_int_equal(pkt[18] << 8 | pkt[19], want);
		assert_int_equal(pkt[20] << 8 | pkt[21], cases[i].msg);
		/* the next packet starts where this one ended */
		assert_true(mdm_moldpack_add(&p, msg, cases[i].msg));
		pkt = mdm_moldpack_take(&p, &len);
		assert_int_equal(be64(pkt + 10), 7 + want);
		assert_int_equal(pkt[18] << 8 | pkt[19], 1);
	}
}

static void test_control(void **state)
{
	static struct mdm_moldpack p;
	uint8_t msg[12] = { 'S' }, hb[MDM_MOLDPACK_HDR];
	size_t len;

	mdm_moldpack_init(&p, "LONGSESSIONNAME", 1, 0);
	assert_memory_equal(p.session, "LONGSESSIO", 10);
	assert_true(mdm_moldpack_add(&p, msg, sizeof(msg)));
	assert_true(mdm_moldpack_add(&p, msg, sizeof(msg)));
	/* before the take the two pending messages count as sent-next */
	mdm_moldpack_control(&p, false, hb);
	assert_int_equal(be64(hb + 10), 3);
	assert_non_null(mdm_moldpack_take(&p, &len));
	mdm_moldpack_control(&p, true, hb);
	assert_int_equal(be64(hb + 10), 3);
	assert_int_equal(hb[18], 0xff);
	assert_int_equal(hb[19], 0xff);
	mdm_moldpack_control(&p, false, hb);
	assert_int_equal(hb[18] << 8 | hb[19], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_and_take),
		cmocka_unit_test(test_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
