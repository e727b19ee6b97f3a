/* mdm_metrics: exact Prometheus text and JSON for small registries, naming
 * rules, live reads, collectors with summaries, sections, serving over HTTP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_metrics.h"

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct vars {
	uint64_t rx;
	uint64_t short_header;
	uint64_t truncated;
	int64_t depth;
	double ratio;
};

static struct mdm_metrics *small_registry(struct vars *v)
{
	struct mdm_metrics *reg;

	*v = (struct vars){ 10, 3, 0, -2, 0.25 };
	assert_int_equal(mdm_metrics_create(&reg), 0);
	assert_int_equal(mdm_metrics_counter(reg, "mdmesh_rx_packets_total", "Packets received.", NULL, &v->rx), 0);
	assert_int_equal(mdm_metrics_counter(reg, "mdmesh_malformed_total", "Malformed packets by reason.",
					     L("reason", "short_header"), &v->short_header), 0);
	assert_int_equal(mdm_metrics_gauge(reg, "mdmesh_ring_depth", "Ring depth.", NULL, &v->depth), 0);
	/* Same family again, later: still one HELP/TYPE, series kept together. */
	assert_int_equal(mdm_metrics_counter(reg, "mdmesh_malformed_total", "Malformed packets by reason.",
					     L("reason", "truncated"), &v->truncated), 0);
	assert_int_equal(mdm_metrics_gauge_double(reg, "mdmesh_fill_ratio", "Fill \\ ratio\nsecond line",
						  L("q", "a\"b\\c\nd"), &v->ratio), 0);
	return reg;
}

static const char small_prom[] = "# HELP mdmesh_rx_packets_total Packets received.\n"
				 "# TYPE mdmesh_rx_packets_total counter\n"
				 "mdmesh_rx_packets_total 10\n"
				 "# HELP mdmesh_malformed_total Malformed packets by reason.\n"
				 "# TYPE mdmesh_malformed_total counter\n"
				 "mdmesh_malformed_total{reason=\"short_header\"} 3\n"
				 "mdmesh_malformed_total{reason=\"truncated\"} 0\n"
				 "# HELP mdmesh_ring_depth Ring depth.\n"
				 "# TYPE mdmesh_ring_depth gauge\n"
				 "mdmesh_ring_depth -2\n"
				 "# HELP mdmesh_fill_ratio Fill \\\\ ratio\\nsecond line\n"
				 "# TYPE mdmesh_fill_ratio gauge\n"
				 "mdmesh_fill_ratio{q=\"a\\\"b\\\\c\\nd\"} 0.25\n";

static const char small_json[] = "{\"rx_packets_total\":10,"
				 "\"malformed_total\":{\"short_header\":3,\"truncated\":0},"
				 "\"ring_depth\":-2,"
				 "\"fill_ratio\":{\"a\\\"b\\\\c\\nd\":0.25}}";

static void test_prometheus_exact(void **state)
{
	struct vars v;
	struct mdm_metrics *reg = small_registry(&v);
	struct mdm_buf b = MDM_BUF_INIT;

	assert_int_equal(mdm_metrics_render_prometheus(reg, &b), 0);
	assert_string_equal(b.data, small_prom);
	mdm_buf_fini(&b);
	mdm_metrics_destroy(reg);
}

static void test_json_exact(void **state)
{
	struct vars v;
	struct mdm_metrics *reg = small_registry(&v);
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;

	mdm_json_init(&j, &b);
	assert_int_equal(mdm_metrics_render_json(reg, &j), 0);
	assert_string_equal(b.data, small_json);
	mdm_buf_fini(&b);
	mdm_metrics_destroy(reg);
}

static void test_values_are_read_live(void **state)
{
	struct vars v;
	struct mdm_metrics *reg = small_registry(&v);
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;

	__atomic_store_n(&v.rx, 18446744073709551615ULL, __ATOMIC_RELAXED);
	__atomic_store_n(&v.truncated, 7, __ATOMIC_RELAXED);
	v.depth = INT64_MIN;
	v.ratio = NAN;
	assert_int_equal(mdm_metrics_render_prometheus(reg, &b), 0);
	assert_non_null(strstr(b.data, "\nmdmesh_rx_packets_total 18446744073709551615\n"));
	assert_non_null(strstr(b.data, "\nmdmesh_malformed_total{reason=\"truncated\"} 7\n"));
	assert_non_null(strstr(b.data, "\nmdmesh_ring_depth -9223372036854775808\n"));
	assert_non_null(strstr(b.data, "} NaN\n"));
	v.ratio = -INFINITY;
	mdm_buf_reset(&b);
	assert_int_equal(mdm_metrics_render_prometheus(reg, &b), 0);
	assert_non_null(strstr(b.data, "} -Inf\n"));
	v.ratio = 1e-7;
	mdm_buf_reset(&b);
	mdm_json_init(&j, &b);
	assert_int_equal(mdm_metrics_render_json(reg, &j), 0);
	assert_non_null(strstr(b.data, "\"rx_packets_total\":18446744073709551615,"));
	assert_non_null(strstr(b.data, "\"truncated\":7}"));
	mdm_buf_fini(&b);
	mdm_metrics_destroy(reg);
}

static void test_multi_label_grouping(void **state)
{
	uint64_t v[4] = { 1, 2, 3, 4 };
	struct mdm_metrics *reg;
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;

	assert_int_equal(mdm_metrics_create(&reg), 0);
	assert_int_equal(mdm_metrics_counter(reg, "mdmesh_rx_total", "Rx.", L("port", "0", "queue", "0"), &v[0]), 0);
	assert_int_equal(mdm_metrics_counter(reg, "mdmesh_rx_total", "Rx.", L("port", "1", "queue", "0"), &v[1]), 0);
	assert_int_equal(mdm_metrics_counter(reg, "mdmesh_rx_total", "Rx.", L("port", "0", "queue", "1"), &v[2]), 0);
	assert_int_equal(mdm_metrics_counter(reg, "mdmesh_rx_total", "Rx.", L("port", "2", "queue", "0"), &v[3]), 0);
	assert_int_equal(mdm_metrics_render_prometheus(reg, &b), 0);
	assert_string_equal(b.data, "# HELP mdmesh_rx_total Rx.\n"
				    "# TYPE mdmesh_rx_total counter\n"
				    "mdmesh_rx_total{port=\"0\",queue=\"0\"} 1\n"
				    "mdmesh_rx_total{port=\"0\",queue=\"1\"} 3\n"
				    "mdmesh_rx_total{port=\"1\",queue=\"0\"} 2\n"
				    "mdmesh_rx_total{port=\"2\",queue=\"0\"} 4\n");
	mdm_buf_reset(&b);
	mdm_json_init(&j, &b);
	assert_int_equal(mdm_metrics_render_json(reg, &j), 0);
	assert_string_equal(b.data, "{\"rx_total\":{\"0\":{\"0\":1,\"1\":3},\"1\":{\"0\":2},\"2\":{\"0\":4}}}");
	mdm_buf_fini(&b);
	mdm_metrics_destroy(reg);
}

static void test_registration_rules(void **state)
{
	const struct {
		enum mdm_metrics_kind kind;
		const char *name;
		const char *help;
		const char *const *labels;
		int rc;
		const char *msg;
	} cases[] = {
		{ MDM_METRICS_COUNTER, "rx_total", "h", NULL, -EINVAL,
		  "metrics: 'rx_total': names are mdmesh_ followed by [a-zA-Z0-9_:]" },
		{ MDM_METRICS_COUNTER, "mdmesh_", "h", NULL, -EINVAL,
		  "metrics: 'mdmesh_': names are mdmesh_ followed by [a-zA-Z0-9_:]" },
		{ MDM_METRICS_COUNTER, "mdmesh_bad-name_total", "h", NULL, -EINVAL,
		  "metrics: 'mdmesh_bad-name_total': names are mdmesh_ followed by [a-zA-Z0-9_:]" },
		{ MDM_METRICS_COUNTER, "mdmesh_rx", "h", NULL, -EINVAL, "metrics: mdmesh_rx: counter names end with _total" },
		{ MDM_METRICS_GAUGE, "mdmesh_depth_total", "h", NULL, -EINVAL,
		  "metrics: mdmesh_depth_total: only counter names end with _total" },
		{ MDM_METRICS_SUMMARY, "mdmesh_lat_seconds", "h", NULL, -EINVAL,
		  "metrics: mdmesh_lat_seconds: summaries come from collectors" },
		{ MDM_METRICS_GAUGE, "mdmesh_depth", "", NULL, -EINVAL, "metrics: mdmesh_depth: help text is required" },
		{ MDM_METRICS_GAUGE, "mdmesh_depth", "h", L("1port", "0"), -EINVAL,
		  "metrics: mdmesh_depth: bad label name '1port'" },
		{ MDM_METRICS_GAUGE, "mdmesh_depth", "h", L("__name", "0"), -EINVAL,
		  "metrics: mdmesh_depth: bad label name '__name'" },
		{ MDM_METRICS_GAUGE, "mdmesh_depth", "h", L("a", "0", "a", "1"), -EINVAL,
		  "metrics: mdmesh_depth: label a given twice" },
		/* conflicts with the family registered first */
		{ MDM_METRICS_GAUGE, "mdmesh_ok:ratio", "other help", L("port", "1"), -EINVAL,
		  "metrics: mdmesh_ok:ratio: help differs from the first registration" },
		{ MDM_METRICS_GAUGE, "mdmesh_ok:ratio", "h", L("queue", "1"), -EINVAL,
		  "metrics: mdmesh_ok:ratio: label names differ from the first registration" },
		{ MDM_METRICS_COUNTER, "mdmesh_ok:ratio_total", "h", NULL, 0, NULL },
		{ MDM_METRICS_GAUGE, "mdmesh_ok:ratio", "h", L("port", "0"), -EEXIST,
		  "metrics: mdmesh_ok:ratio: series already registered" },
		{ MDM_METRICS_GAUGE, "mdmesh_ok:ratio", "h", L("port", "1"), 0, NULL },
	};
	struct mdm_metrics *reg;
	int64_t var = 0;

	assert_int_equal(mdm_metrics_create(&reg), 0);
	assert_int_equal(mdm_metrics_gauge(reg, "mdmesh_ok:ratio", "h", L("port", "0"), &var), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = mdm_metrics_register(reg, cases[i].kind, cases[i].name, cases[i].help, cases[i].labels,
					      MDM_METRICS_I64, &var);

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, %s", i, cases[i].name, rc, mdm_err_last());
		if (cases[i].msg)
			assert_string_equal(mdm_err_last(), cases[i].msg);
	}
	/* A family created above is held to its first help text too. */
	assert_int_equal(mdm_metrics_register(reg, MDM_METRICS_COUNTER, "mdmesh_ok:ratio_total", "other", NULL,
					      MDM_METRICS_U64, &var), -EINVAL);
	assert_string_equal(mdm_err_last(), "metrics: mdmesh_ok:ratio_total: help differs from the first registration");
	mdm_metrics_destroy(reg);
	mdm_metrics_destroy(NULL);
}

/* ---- collectors ---- */

struct stage_stats {
	const char *name;
	double p50, p99, sum;
	uint64_t count;
};

static void latency_collector(void *ctx, struct mdm_metrics_writer *w)
{
	const struct stage_stats *st = ctx;
	char port[8];

	mdm_metrics_write_family(w, MDM_METRICS_SUMMARY, "mdmesh_stage_latency_seconds", "Stage latency.");
	for (int i = 0; i < 2; i++) {
		struct mdm_metrics_quantile q[] = { { 0.5, st[i].p50 }, { 0.99, st[i].p99 } };

		mdm_metrics_write_summary(w, L("stage", st[i].name), q, 2, st[i].sum, st[i].count);
	}
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_consumer_pending", "Pending messages.");
	/* A label value built in a reused buffer: the writer must copy it. */
	for (int i = 0; i < 2; i++) {
		snprintf(port, sizeof(port), "p%d", i);
		mdm_metrics_write_u64(w, L("consumer", port, "stream", "MD"), (uint64_t)(10 * (i + 1)));
	}
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_uptime_seconds", "Uptime.");
	mdm_metrics_write_double(w, NULL, 1.5);
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_acks_total", "Acks.");
	mdm_metrics_write_i64(w, L("result", "ok"), 5);
}

static void build_section(void *ctx, struct mdm_json *j)
{
	mdm_json_obj_begin(j);
	mdm_json_kstr(j, "version", ctx);
	mdm_json_obj_end(j);
}

static void test_collector_and_sections(void **state)
{
	static const struct stage_stats st[] = {
		{ "wire_to_ack", 1.25e-05, 4e-05, 0.5, 1000 },
		{ "commit", 0.001, 0.0025, 2, 100 },
	};
	struct mdm_metrics *reg;
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;
	uint64_t rx = 1;

	assert_int_equal(mdm_metrics_create(&reg), 0);
	assert_int_equal(mdm_metrics_counter(reg, "mdmesh_rx_packets_total", "Packets.", NULL, &rx), 0);
	assert_int_equal(mdm_metrics_add_collector(reg, latency_collector, (void *)st), 0);
	assert_int_equal(mdm_metrics_add_json_section(reg, "build", build_section, "0.1.0"), 0);
	assert_int_equal(mdm_metrics_add_json_section(reg, "build", build_section, "x"), -EEXIST);
	assert_int_equal(mdm_metrics_add_json_section(reg, "rx_packets_total", build_section, "x"), -EEXIST);
	/* and the other way round: a metric may not take a section's JSON key */
	assert_int_equal(mdm_metrics_gauge_u64(reg, "mdmesh_build", "B.", NULL, &rx), -EEXIST);

	assert_int_equal(mdm_metrics_render_prometheus(reg, &b), 0);
	assert_string_equal(b.data, "# HELP mdmesh_rx_packets_total Packets.\n"
				    "# TYPE mdmesh_rx_packets_total counter\n"
				    "mdmesh_rx_packets_total 1\n"
				    "# HELP mdmesh_stage_latency_seconds Stage latency.\n"
				    "# TYPE mdmesh_stage_latency_seconds summary\n"
				    "mdmesh_stage_latency_seconds{stage=\"wire_to_ack\",quantile=\"0.5\"} 1.25e-05\n"
				    "mdmesh_stage_latency_seconds{stage=\"wire_to_ack\",quantile=\"0.99\"} 4e-05\n"
				    "mdmesh_stage_latency_seconds_sum{stage=\"wire_to_ack\"} 0.5\n"
				    "mdmesh_stage_latency_seconds_count{stage=\"wire_to_ack\"} 1000\n"
				    "mdmesh_stage_latency_seconds{stage=\"commit\",quantile=\"0.5\"} 0.001\n"
				    "mdmesh_stage_latency_seconds{stage=\"commit\",quantile=\"0.99\"} 0.0025\n"
				    "mdmesh_stage_latency_seconds_sum{stage=\"commit\"} 2\n"
				    "mdmesh_stage_latency_seconds_count{stage=\"commit\"} 100\n"
				    "# HELP mdmesh_consumer_pending Pending messages.\n"
				    "# TYPE mdmesh_consumer_pending gauge\n"
				    "mdmesh_consumer_pending{consumer=\"p0\",stream=\"MD\"} 10\n"
				    "mdmesh_consumer_pending{consumer=\"p1\",stream=\"MD\"} 20\n"
				    "# HELP mdmesh_uptime_seconds Uptime.\n"
				    "# TYPE mdmesh_uptime_seconds gauge\n"
				    "mdmesh_uptime_seconds 1.5\n"
				    "# HELP mdmesh_acks_total Acks.\n"
				    "# TYPE mdmesh_acks_total counter\n"
				    "mdmesh_acks_total{result=\"ok\"} 5\n");
	mdm_buf_reset(&b);
	mdm_json_init(&j, &b);
	assert_int_equal(mdm_metrics_render_json(reg, &j), 0);
	assert_string_equal(b.data, "{\"rx_packets_total\":1,"
				    "\"stage_latency_seconds\":{"
				    "\"wire_to_ack\":{\"0.5\":1.25e-05,\"0.99\":4e-05,"
				    "\"sum\":0.5,\"count\":1000},"
				    "\"commit\":{\"0.5\":0.001,\"0.99\":0.0025,\"sum\":2,\"count\":100}},"
				    "\"consumer_pending\":{\"p0\":{\"MD\":10},\"p1\":{\"MD\":20}},"
				    "\"uptime_seconds\":1.5,"
				    "\"acks_total\":{\"ok\":5},"
				    "\"build\":{\"version\":\"0.1.0\"}}");
	mdm_buf_fini(&b);
	mdm_metrics_destroy(reg);
}

static void bad_collector(void *ctx, struct mdm_metrics_writer *w)
{
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_rx_packets_total", "Again.");
	mdm_metrics_write_u64(w, NULL, 99);
	mdm_metrics_write_family(w, MDM_METRICS_COUNTER, "mdmesh_bad", "No _total.");
	mdm_metrics_write_u64(w, NULL, 98);
	mdm_metrics_write_family(w, MDM_METRICS_GAUGE, "mdmesh_fine", "Fine.");
	mdm_metrics_write_u64(w, NULL, 97);
}

static void test_collector_errors(void **state)
{
	struct mdm_metrics *reg;
	struct mdm_buf b = MDM_BUF_INIT;
	uint64_t rx = 1;

	assert_int_equal(mdm_metrics_create(&reg), 0);
	assert_int_equal(mdm_metrics_counter(reg, "mdmesh_rx_packets_total", "Packets.", NULL, &rx), 0);
	assert_int_equal(mdm_metrics_add_collector(reg, bad_collector, NULL), 0);
	assert_int_equal(mdm_metrics_render_prometheus(reg, &b), -EEXIST);
	assert_string_equal(mdm_err_last(), "metrics: mdmesh_rx_packets_total: written by a collector and also registered");
	/* The bad families are left out, the rest is rendered once. */
	assert_string_equal(b.data, "# HELP mdmesh_rx_packets_total Packets.\n"
				    "# TYPE mdmesh_rx_packets_total counter\n"
				    "mdmesh_rx_packets_total 1\n"
				    "# HELP mdmesh_fine Fine.\n"
				    "# TYPE mdmesh_fine gauge\n"
				    "mdmesh_fine 97\n");
	mdm_buf_fini(&b);
	mdm_metrics_destroy(reg);
}

static void test_allocation_failures(void **state)
{
	uint64_t base = mdm_mem_used(), k, var = 0;
	struct mdm_metrics *reg = NULL;
	int rc = -ENOMEM;

	for (k = 1; k < 100 && rc != 0; k++) {
		mdm_mem_fail_after(k);
		rc = mdm_metrics_create(&reg);
		if (rc == 0)
			rc = mdm_metrics_counter(reg, "mdmesh_a_total", "A.", L("x", "1", "y", "2"), &var);
		if (rc == 0)
			rc = mdm_metrics_counter(reg, "mdmesh_a_total", "A.", L("x", "2", "y", "2"), &var);
		mdm_mem_fail_reset();
		if (rc != 0) {
			assert_int_equal(rc, -ENOMEM);
			mdm_metrics_destroy(reg);
			reg = NULL;
			assert_int_equal(mdm_mem_used(), base);
		}
	}
	assert_int_equal(rc, 0);
	assert_true(k > 5);
	mdm_metrics_destroy(reg);
	assert_int_equal(mdm_mem_used(), base);
}

/* ---- over HTTP ---- */

static int http_get(uint16_t port, const char *path, char *out, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { 5, 0 };
	char req[256];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		close(fd);
		return -1;
	}
	while ((n = recv(fd, out + got, cap - 1 - got, 0)) > 0)
		got += (size_t)n;
	close(fd);
	out[got] = '\0';
	return (int)got;
}

static void test_serve(void **state)
{
	struct vars v;
	struct mdm_metrics *reg = small_registry(&v);
	struct mdm_http *http;
	char out[8192], expect[512];
	const char *body;

	assert_int_equal(mdm_http_create(&http, NULL), 0);
	assert_int_equal(mdm_metrics_serve(reg, http), 0);
	assert_int_equal(mdm_metrics_serve(reg, http), -EEXIST);
	assert_int_equal(mdm_http_start(http), 0);

	assert_true(http_get(mdm_http_port(http), "/metrics", out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "HTTP/1.1 200"));
	assert_non_null(strstr(out, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	body = strstr(out, "\r\n\r\n");
	assert_non_null(body);
	assert_string_equal(body + 4, small_prom);

	v.rx = 11;
	assert_true(http_get(mdm_http_port(http), "/stats.json", out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
	body = strstr(out, "\r\n\r\n");
	assert_non_null(body);
	snprintf(expect, sizeof(expect), "{\"rx_packets_total\":11,%s\n", small_json + strlen("{\"rx_packets_total\":10,"));
	assert_string_equal(body + 4, expect);
	mdm_http_destroy(http);
	mdm_metrics_destroy(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prometheus_exact),
		cmocka_unit_test(test_json_exact),
		cmocka_unit_test(test_values_are_read_live),
		cmocka_unit_test(test_multi_label_grouping),
		cmocka_unit_test(test_registration_rules),
		cmocka_unit_test(test_collector_and_sections),
		cmocka_unit_test(test_collector_errors),
		cmocka_unit_test(test_allocation_failures),
		cmocka_unit_test(test_serve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
