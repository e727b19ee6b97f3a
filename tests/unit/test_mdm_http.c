/* mdm_http: a real server on an ephemeral loopback port, driven by a plain
 * socket client: status codes, headers, bearer auth, HEAD, query strings,
 * health, bind errors, concurrent requests, CORS on JSON and /dashboard. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mdm_clock.h"
#include "mdm_dashboard.h"
#include "mdm_err.h"
#include "mdm_http.h"

struct resp {
	int status;
	char head[4096]; /* status line and headers */
	char body[65536]; /* the /dashboard page fits */
	size_t body_len;
};

/* Send one raw request (it should say "Connection: close") and read the
 * whole answer. 0 or -errno. */
static int http_raw(int family, uint16_t port, const char *request, struct resp *r)
{
	struct sockaddr_storage ss = { 0 };
	struct timeval tv = { 5, 0 };
	char buf[sizeof(r->head) + sizeof(r->body)];
	size_t got = 0;
	socklen_t len;
	char *split;
	int fd;

	memset(r, 0, sizeof(*r));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len) != 0 || send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	for (;;) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

		if (n < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		if (n == 0 || got + (size_t)n >= sizeof(buf) - 1)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	split = strstr(buf, "\r\n\r\n");
	if (!split || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
		return -EPROTO;
	memcpy(r->head, buf, (size_t)(split - buf));
	r->body_len = got - (size_t)(split + 4 - buf);
	memcpy(r->body, split + 4, r->body_len);
	return 0;
}

static int http_get(uint16_t port, const char *method, const char *path, const char *extra_headers, struct resp *r)
{
	char req[1024];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method, path,
		 extra_headers ? extra_headers : "");
	return http_raw(AF_INET, port, req, r);
}

/* Value of a response header (case-insensitive name), or NULL. */
static const char *header(const struct resp *r, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		const char *h = line + 2, *end;

		if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
			h += nl + 1;
			while (*h == ' ')
				h++;
			end = strstr(h, "\r\n");
			snprintf(out, cap, "%.*s", (int)(end ? end - h : (long)strlen(h)), h);
			return out;
		}
	}
	return NULL;
}

static int hello(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body, const char **content_type)
{
	const char *name = mdm_http_query(req, "name");

	mdm_buf_printf(body, "hi %s via %s\n", name ? name : "anon", req->method);
	return 200;
}

static int teapot(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body, const char **content_type)
{
	const char *ua = mdm_http_header(req, "x-probe");

	*content_type = "application/json";
	mdm_buf_printf(body, "{\"probe\":\"%s\"}", ua ? ua : "");
	return 418;
}

static int broken(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body, const char **content_type)
{
	mdm_buf_puts(body, "partial");
	return -1;
}

static int health_flag;

static int health(void *ctx, struct mdm_buf *reason)
{
	int *down = ctx;

	if (!*down)
		return 0;
	mdm_buf_puts(reason, "nats disconnected");
	return 1;
}

static struct mdm_http *start_server(const char *token, unsigned threads)
{
	struct mdm_http_params p = { .bind = "127.0.0.1:0", .bearer_token = token, .threads = threads };
	struct mdm_http *s;

	assert_int_equal(mdm_http_create(&s, &p), 0);
	assert_int_not_equal(mdm_http_port(s), 0);
	assert_int_equal(mdm_http_route(s, "/hello", hello, NULL), 0);
	assert_int_equal(mdm_http_route(s, "/teapot", teapot, NULL), 0);
	assert_int_equal(mdm_http_route(s, "/broken", broken, NULL), 0);
	assert_int_equal(mdm_http_set_health(s, health, &health_flag), 0);
	assert_int_equal(mdm_http_start(s), 0);
	return s;
}

static void test_routes_and_statuses(void **state)
{
	struct mdm_http *s = start_server(NULL, 1);
	uint16_t port = mdm_http_port(s);
	struct resp r;
	char h[256];

	assert_int_equal(http_get(port, "GET", "/hello?name=bob%20b&x=1", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hi bob b via GET\n");
	assert_string_equal(header(&r, "Content-Type", h, sizeof(h)), "text/plain; charset=utf-8");
	assert_string_equal(header(&r, "Content-Length", h, sizeof(h)), "17");

	assert_int_equal(http_get(port, "GET", "/hello?name", NULL, &r), 0);
	assert_string_equal(r.body, "hi anon via GET\n");

	assert_int_equal(http_get(port, "HEAD", "/hello", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	assert_string_equal(header(&r, "Content-Length", h, sizeof(h)), "17"); /* "hi anon via HEAD\n" */

	assert_int_equal(http_get(port, "GET", "/nope", NULL, &r), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "not found\n");

	assert_int_equal(http_get(port, "POST", "/hello", "Content-Length: 5\r\n", &r), 0);
	assert_int_equal(r.status, 405);
	assert_string_equal(header(&r, "Allow", h, sizeof(h)), "GET, HEAD");
	assert_string_equal(r.body, "method not allowed\n");
	assert_int_equal(http_get(port, "DELETE", "/healthz", NULL, &r), 0);
	assert_int_equal(r.status, 405);

	assert_int_equal(http_get(port, "GET", "/teapot", "X-Probe: p1\r\n", &r), 0);
	assert_int_equal(r.status, 418);
	assert_string_equal(header(&r, "content-type", h, sizeof(h)), "application/json");
	assert_string_equal(r.body, "{\"probe\":\"p1\"}");

	assert_int_equal(http_get(port, "GET", "/broken", NULL, &r), 0);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, "internal error\n");
	mdm_http_destroy(s);
}

/* /dashboard serves the embedded page byte for byte as HTML; JSON answers
 * (the daemons' /stats.json) carry Access-Control-Allow-Origin: * for the
 * dashboard's combined view, other answers do not. */
static void test_dashboard_and_cors(void **state)
{
	struct mdm_http_params p = { .bind = "127.0.0.1:0" };
	struct mdm_http *s;
	struct resp r;
	size_t len;
	const char *page = mdm_dashboard_page(&len);
	char h[256];

	assert_true(len > 1000 && len < sizeof(r.body));
	assert_int_equal(strlen(page), len);
	assert_non_null(strstr(page, "/stats.json"));
	assert_null(strstr(page, "src=\"http"));
	assert_int_equal(mdm_http_create(&s, &p), 0);
	assert_int_equal(mdm_http_route(s, "/teapot", teapot, NULL), 0);
	assert_int_equal(mdm_http_route(s, "/hello", hello, NULL), 0);
	assert_int_equal(mdm_dashboard_serve(s), 0);
	assert_int_equal(mdm_dashboard_serve(s), -EEXIST);
	assert_int_equal(mdm_http_start(s), 0);

	assert_int_equal(http_get(mdm_http_port(s), "GET", "/dashboard?peers=127.0.0.1:9102", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type", h, sizeof(h)), "text/html; charset=utf-8");
	assert_int_equal(r.body_len, len);
	assert_memory_equal(r.body, page, len);
	assert_null(header(&r, "Access-Control-Allow-Origin", h, sizeof(h)));

	assert_int_equal(http_get(mdm_http_port(s), "GET", "/teapot", NULL, &r), 0);
	assert_string_equal(header(&r, "Access-Control-Allow-Origin", h, sizeof(h)), "*");
	assert_int_equal(http_get(mdm_http_port(s), "GET", "/hello", NULL, &r), 0);
	assert_null(header(&r, "Access-Control-Allow-Origin", h, sizeof(h)));
	mdm_http_destroy(s);
}

static void test_healthz(void **state)
{
	struct mdm_http *s = start_server(NULL, 1);
	struct resp r;

	health_flag = 0;
	assert_int_equal(http_get(mdm_http_port(s), "GET", "/healthz", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	health_flag = 1;
	assert_int_equal(http_get(mdm_http_port(s), "GET", "/healthz", NULL, &r), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "nats disconnected\n");
	health_flag = 0;
	mdm_http_destroy(s);
}

static void test_bearer_token(void **state)
{
	static const struct {
		const char *headers;
		int status;
	} cases[] = {
		{ NULL, 401 },
		{ "Authorization: Bearer s3cret\r\n", 200 },
		{ "Authorization: bearer   s3cret \r\n", 200 },
		{ "Authorization: Bearer s3cre\r\n", 401 },
		{ "Authorization: Bearer s3cretX\r\n", 401 },
		{ "Authorization: Bearer S3cret\r\n", 401 },
		{ "Authorization: Basic czNjcmV0\r\n", 401 },
		{ "Authorization: Bearer \r\n", 401 },
	};
	struct mdm_http *s = start_server("s3cret", 1);
	struct resp r;
	char h[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(http_get(mdm_http_port(s), "GET", "/hello", cases[i].headers, &r), 0);
		if (r.status != cases[i].status)
			fail_msg("case %zu: status %d", i, r.status);
		if (r.status == 401) {
			assert_string_equal(header(&r, "WWW-Authenticate", h, sizeof(h)), "Bearer realm=\"mdmesh\"");
			assert_string_equal(r.body, "unauthorized\n");
		}
	}
	/* Auth comes before routing: unknown paths and /healthz need it too. */
	assert_int_equal(http_get(mdm_http_port(s), "GET", "/nope", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(http_get(mdm_http_port(s), "GET", "/healthz", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(http_get(mdm_http_port(s), "GET", "/healthz", "Authorization: Bearer s3cret\r\n", &r), 0);
	assert_int_equal(r.status, 200);
	mdm_http_destroy(s);
}

static void test_bind_errors(void **state)
{
	static const struct {
		const char *bind;
		const char *msg;
	} cases[] = {
		{ "127.0.0.1:99999", "http bind '127.0.0.1:99999': port 99999 is above 65535" },
		{ "127.0.0.1:", "http bind '127.0.0.1:': bad port ''" },
		{ "127.0.0.1:8o", "http bind '127.0.0.1:8o': bad port '8o'" },
		{ "localhost:80", "http bind 'localhost:80': 'localhost' is not an IPv4 address" },
		{ "1.2.3:80", "http bind '1.2.3:80': '1.2.3' is not an IPv4 address" },
		{ "::1:80", "http bind '::1:80': write IPv6 addresses as [addr]:port" },
		{ "[::1]", "http bind '[::1]': expected [ipv6]:port" },
		{ "[nope]:1", "http bind '[nope]:1': 'nope' is not an IPv6 address" },
		{ "", "http bind '': bad port ''" },
	};
	struct mdm_http *s = (void *)1;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mdm_http_params p = { .bind = cases[i].bind };

		assert_int_equal(mdm_http_create(&s, &p), -EINVAL);
		assert_null(s);
		assert_string_equal(mdm_err_last(), cases[i].msg);
	}
}

static void test_port_in_use_and_defaults(void **state)
{
	struct mdm_http *a, *b;
	char bind[32], msg[128];

	assert_int_equal(mdm_http_create(&a, NULL), 0); /* NULL params: 127.0.0.1, ephemeral */
	snprintf(bind, sizeof(bind), "127.0.0.1:%u", mdm_http_port(a));
	assert_int_equal(mdm_http_create(&b, &(struct mdm_http_params){ .bind = bind }), -EADDRINUSE);
	assert_null(b);
	snprintf(msg, sizeof(msg), "http %s: cannot listen: Address already in use", bind);
	assert_string_equal(mdm_err_last(), msg);
	/* ":port" means loopback too. */
	snprintf(bind, sizeof(bind), ":%u", mdm_http_port(a));
	assert_int_equal(mdm_http_create(&b, &(struct mdm_http_params){ .bind = bind }), -EADDRINUSE);
	mdm_http_destroy(a);
	mdm_http_destroy(NULL);
}

static void test_registration_rules(void **state)
{
	struct mdm_http *s;

	assert_int_equal(mdm_http_create(&s, NULL), 0);
	assert_int_equal(mdm_http_route(s, "/a", hello, NULL), 0);
	assert_int_equal(mdm_http_route(s, "/a", hello, NULL), -EEXIST);
	assert_int_equal(mdm_http_route(s, "/healthz", hello, NULL), -EEXIST);
	assert_int_equal(mdm_http_route(s, "b", hello, NULL), -EINVAL);
	assert_int_equal(mdm_http_start(s), 0);
	assert_int_equal(mdm_http_start(s), -EBUSY);
	assert_int_equal(mdm_http_route(s, "/late", hello, NULL), -EBUSY);
	assert_int_equal(mdm_http_set_health(s, NULL, NULL), -EBUSY);
	mdm_http_destroy(s);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_no_fd_leak(void **state)
{
	int before = count_fds();
	struct mdm_http *s;
	struct resp r;

	/* Started and stopped: microhttpd hands the socket back, we close it. */
	s = start_server(NULL, 2);
	assert_int_equal(http_get(mdm_http_port(s), "GET", "/hello", NULL, &r), 0);
	mdm_http_destroy(s);
	/* Never started. */
	assert_int_equal(mdm_http_create(&s, NULL), 0);
	mdm_http_destroy(s);
	assert_int_equal(count_fds(), before);
}

static void test_ipv6_loopback(void **state)
{
	struct mdm_http *s;
	struct resp r;
	int rc = mdm_http_create(&s, &(struct mdm_http_params){ .bind = "[::1]:0" });

	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
		print_message("no IPv6 loopback here: %s\n", mdm_err_last());
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(mdm_http_route(s, "/hello", hello, NULL), 0);
	assert_int_equal(mdm_http_start(s), 0);
	assert_int_equal(http_raw(AF_INET6, mdm_http_port(s), "GET /hello?name=six HTTP/1.1\r\nHost: x\r\n"
							      "Connection: close\r\n\r\n", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hi six via GET\n");
	mdm_http_destroy(s);
}

/* ---- concurrency ---- */

struct conc {
	int inflight;
	int max_inflight;
	int served;
};

static int slow(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body, const char **content_type)
{
	struct conc *c = ctx;
	int now = __atomic_add_fetch(&c->inflight, 1, __ATOMIC_SEQ_CST), seen;

	seen = __atomic_load_n(&c->max_inflight, __ATOMIC_SEQ_CST);
	while (now > seen && !__atomic_compare_exchange_n(&c->max_inflight, &seen, now, false, __ATOMIC_SEQ_CST,
							   __ATOMIC_SEQ_CST))
		;
	mdm_sleep_ns(20 * MDM_NS_PER_MS);
	mdm_buf_printf(body, "%s\n", mdm_http_query(req, "id"));
	__atomic_add_fetch(&c->served, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&c->inflight, 1, __ATOMIC_SEQ_CST);
	return 200;
}

#define CLIENTS 8
#define PER_CLIENT 10

struct client {
	uint16_t port;
	int id;
	int ok;
	pthread_barrier_t *go;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;

	pthread_barrier_wait(cl->go);
	for (int i = 0; i < PER_CLIENT; i++) {
		char path[64], want[32];
		struct resp *r = malloc(sizeof(*r));

		snprintf(path, sizeof(path), "/slow?id=%d-%d", cl->id, i);
		snprintf(want, sizeof(want), "%d-%d\n", cl->id, i);
		if (r && http_get(cl->port, "GET", path, NULL, r) == 0 && r->status == 200 && strcmp(r->body, want) == 0)
			cl->ok++;
		free(r);
	}
	return NULL;
}

static void test_concurrent_requests(void **state)
{
	struct mdm_http_params p = { .bind = "127.0.0.1:0", .threads = 4 };
	struct client cl[CLIENTS];
	pthread_t t[CLIENTS];
	pthread_barrier_t go;
	struct conc c = { 0 };
	struct mdm_http *s;
	int ok = 0;

	assert_int_equal(mdm_http_create(&s, &p), 0);
	assert_int_equal(mdm_http_route(s, "/slow", slow, &c), 0);
	assert_int_equal(mdm_http_start(s), 0);
	pthread_barrier_init(&go, NULL, CLIENTS);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = (struct client){ mdm_http_port(s), i, 0, &go };
		assert_int_equal(pthread_create(&t[i], NULL, client_main, &cl[i]), 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(t[i], NULL);
		ok += cl[i].ok;
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(ok, CLIENTS * PER_CLIENT);
	assert_int_equal(c.served, CLIENTS * PER_CLIENT);
	/* With 4 request threads and 8 eager clients, handlers overlapped. */
	assert_true(c.max_inflight >= 2);
	assert_true(c.max_inflight <= 4);
	mdm_http_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_and_statuses),
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_dashboard_and_cors),
		cmocka_unit_test(test_bearer_token),
		cmocka_unit_test(test_bind_errors),
		cmocka_unit_test(test_port_in_use_and_defaults),
		cmocka_unit_test(test_registration_rules),
		cmocka_unit_test(test_no_fd_leak),
		cmocka_unit_test(test_ipv6_loopback),
		cmocka_unit_test(test_concurrent_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
