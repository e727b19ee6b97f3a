/* mdm_addr: the one IPV4:PORT parser of configs and flags. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>

#include "mdm_addr.h"
#include "mdm_err.h"

static void test_good(void **state)
{
	struct sockaddr_in sa;

	(void)state;
	assert_int_equal(mdm_addr_parse_v4("233.54.12.111:26477", &sa), 0);
	assert_int_equal(sa.sin_family, AF_INET);
	assert_int_equal(ntohl(sa.sin_addr.s_addr), 0xE9360C6Fu);
	assert_int_equal(ntohs(sa.sin_port), 26477);
	assert_int_equal(mdm_addr_parse_v4("127.0.0.1:1", &sa), 0);
	assert_int_equal(ntohs(sa.sin_port), 1);
	assert_int_equal(mdm_addr_parse_v4("0.0.0.0:65535", &sa), 0);
	assert_int_equal(ntohs(sa.sin_port), 65535);
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"", ":", "1.2.3.4", "1.2.3.4:", ":80", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:99999999999999999999",
		"1.2.3.4:80x", "1.2.3.4:-1", "1.2.3.4: 80", "1.2.3.4:+80", "1.2.3:80", "256.1.1.1:80", "host:80",
		"[::1]:80", "::1:80", "1.2.3.4:80:80", " 1.2.3.4:80", "1.2.3.4.5:80", "111.111.111.1111:80",
	};
	struct sockaddr_in sa;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mdm_addr_parse_v4(bad[i], &sa) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(mdm_err_last(), "is not IPV4:PORT"));
	}
	assert_int_equal(mdm_addr_parse_v4(NULL, &sa), -EINVAL);
}

/* HOST:PORT of a TCP server (input.soup): a name or an address; DNS only in resolve */
static void test_host(void **state)
{
	static const char *const bad[] = { "", ":", "host", "host:", ":80", "host:0", "host:65536", "host:80x",
					   "host: 80", "ho st:80", "[::1]:80" };
	struct sockaddr_in sa;
	char host[32];
	uint16_t port;

	(void)state;
	assert_int_equal(mdm_addr_split_host("feed.example.com:26400", host, sizeof(host), &port), 0);
	assert_string_equal(host, "feed.example.com");
	assert_int_equal(port, 26400);
	assert_int_equal(mdm_addr_split_host("a-host-name-longer-than-31-chars:1", host, sizeof(host), &port), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mdm_addr_split_host(bad[i], host, sizeof(host), &port) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(mdm_err_last(), "is not HOST:PORT"));
	}
	assert_int_equal(mdm_addr_resolve_v4("127.0.0.1:26400", &sa), 0);
	assert_int_equal(ntohl(sa.sin_addr.s_addr), 0x7F000001u);
	assert_int_equal(ntohs(sa.sin_port), 26400);
	assert_int_equal(mdm_addr_resolve_v4("localhost:7", &sa), 0); /* /etc/hosts, no network */
	assert_int_equal(sa.sin_family, AF_INET);
	assert_int_equal(ntohs(sa.sin_port), 7);
	assert_int_equal(mdm_addr_resolve_v4("host:0", &sa), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
