/* HTTP server on libmicrohttpd. We bind and listen ourselves and hand the
 * socket to microhttpd, so that a bad address or a taken port surfaces as a
 * precise errno at create time, and port 0 can be resolved before serving.
 * Requests pass auth, then routing, then the method check, so an
 * unauthenticated client learns nothing about which paths exist. */
#include "mdm_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"

#define HTTP_DEFAULT_BIND "127.0.0.1:0"
#define HTTP_BACKLOG 64
#define HTTP_TIMEOUT_S 10u     /* idle keep-alive connections are dropped after this */
#define HTTP_MAX_CONNS 128u
#define HTTP_TEXT "text/plain; charset=utf-8"

struct http_route {
	char *path;
	mdm_http_handler fn;
	void *ctx;
};

struct mdm_http {
	struct MHD_Daemon *mhd;  /* NULL until started */
	int fd;                  /* listening socket, ours until destroy; -1 if none */
	int family;
	bool loopback;           /* bound to 127.0.0.0/8 or ::1 */
	uint16_t port;
	unsigned threads;
	char *token;             /* NULL = no auth */
	size_t token_len;
	struct http_route *routes; /* fixed once started, so handlers read it without a lock */
	size_t nroutes;
	mdm_http_health_fn health;
	void *health_ctx;
	char bind_text[80];      /* as given, for messages */
};

/* ---- bind address ---- */

static int parse_port(const char *text, const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return mdm_err_set(-EINVAL, "http bind '%s': bad port '%s'", text, s);
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return mdm_err_set(-EINVAL, "http bind '%s': bad port '%s'", text, s);
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return mdm_err_set(-EINVAL, "http bind '%s': port %lu is above 65535", text, v);
	*port = (uint16_t)v;
	return 0;
}

/* "a.b.c.d:port", "[v6]:port", ":port" or "port" (host 127.0.0.1). */
static int parse_bind(const char *text, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[64];
	const char *port_s, *colon;
	uint16_t port;
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *close_b = strchr(text, ']');

		if (!close_b || close_b[1] != ':' || (size_t)(close_b - text - 1) >= sizeof(host))
			return mdm_err_set(-EINVAL, "http bind '%s': expected [ipv6]:port", text);
		memcpy(host, text + 1, (size_t)(close_b - text - 1));
		host[close_b - text - 1] = '\0';
		port_s = close_b + 2;
	} else {
		colon = strrchr(text, ':');
		if (colon && memchr(text, ':', (size_t)(colon - text)))
			return mdm_err_set(-EINVAL, "http bind '%s': write IPv6 addresses as [addr]:port", text);
		if (!colon) {
			snprintf(host, sizeof(host), "127.0.0.1");
			port_s = text;
		} else if (colon == text) {
			snprintf(host, sizeof(host), "127.0.0.1");
			port_s = colon + 1;
		} else {
			if ((size_t)(colon - text) >= sizeof(host))
				return mdm_err_set(-EINVAL, "http bind '%s': bad address", text);
			memcpy(host, text, (size_t)(colon - text));
			host[colon - text] = '\0';
			port_s = colon + 1;
		}
	}
	if ((rc = parse_port(text, port_s, &port)) != 0)
		return rc;
	if (text[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return mdm_err_set(-EINVAL, "http bind '%s': '%s' is not an IPv6 address", text, host);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*sslen = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return mdm_err_set(-EINVAL, "http bind '%s': '%s' is not an IPv4 address", text, host);
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*sslen = sizeof(*a4);
	}
	return 0;
}

static int open_listener(struct mdm_http *s, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int one = 1, rc;

	if ((rc = parse_bind(addr, &ss, &len)) != 0)
		return rc;
	s->family = ss.ss_family;
	s->loopback = ss.ss_family == AF_INET6
			      ? IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr)
			      : (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
	s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0)
		return mdm_err_set(-errno, "http %s: socket: %s", addr, strerror(errno));
	/* A restart must not wait out TIME_WAIT; Linux still refuses a port
	 * that another socket is listening on. */
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&ss, len) != 0 || listen(s->fd, HTTP_BACKLOG) != 0)
		return mdm_err_set(-errno, "http %s: cannot listen: %s", addr, strerror(errno));
	len = sizeof(ss);
	if (getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0)
		return mdm_err_set(-errno, "http %s: getsockname: %s", addr, strerror(errno));
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* ---- requests ---- */

const char *mdm_http_query(const struct mdm_http_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *mdm_http_header(const struct mdm_http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
			     size_t len, const char *hname, const char *hval)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
	    (hname && MHD_add_response_header(r, hname, hval) != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return reply(c, status, HTTP_TEXT, text, strlen(text), NULL, NULL);
}

/* Time depends on the configured token's length only, never on where the
 * first mismatching byte is, so the token cannot be guessed byte by byte. */
static bool token_equal(const char *got, size_t got_len, const char *want, size_t want_len)
{
	volatile unsigned diff = got_len != want_len;

	for (size_t i = 0; i < want_len; i++)
		diff |= (unsigned char)want[i] ^ (unsigned char)(i < got_len ? got[i] : 0);
	return diff == 0;
}

static bool authorized(const struct mdm_http *s, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	size_t len;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	for (h += 7; *h == ' '; h++)
		;
	len = strlen(h);
	while (len && h[len - 1] == ' ')
		len--;
	return token_equal(h, len, s->token, s->token_len);
}

static const struct http_route *find_route(const struct mdm_http *s, const char *path)
{
	for (size_t i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].path, path) == 0)
			return &s->routes[i];
	return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct mdm_http *s = cls;
	const struct http_route *r;
	struct mdm_buf body = MDM_BUF_INIT;
	const char *ctype = HTTP_TEXT;
	struct mdm_http_request req = { method, url, c };
	enum MHD_Result ret;
	int status;

	/* Answer on the first call: GET and HEAD carry no body, and for other
	 * methods microhttpd discards the upload and closes the connection. */
	if (s->token && !authorized(s, c))
		return reply(c, MHD_HTTP_UNAUTHORIZED, HTTP_TEXT, "unauthorized\n", 13, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			     "Bearer realm=\"mdmesh\"");
	r = find_route(s, url);
	if (!r)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, HTTP_TEXT, "method not allowed\n", 19,
			     MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	status = r->fn(r->ctx, &req, &body, &ctype);
	if (status < 100 || status > 599 || body.oom) {
		mdm_log_warn("http: %s %s: handler failed (status %d%s)", method, url, status,
			     body.oom ? ", out of memory" : "");
		mdm_buf_fini(&body);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	/* JSON (/stats.json) may be read by a /dashboard served from another
	 * daemon's origin (the combined view): a simple GET, no credentials. */
	ctype = ctype ? ctype : HTTP_TEXT;
	ret = reply(c, (unsigned)status, ctype, body.data ? body.data : "", body.len,
		    strncmp(ctype, "application/json", 16) == 0 ? "Access-Control-Allow-Origin" : NULL, "*");
	mdm_buf_fini(&body);
	return ret;
}

static int healthz(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body, const char **content_type)
{
	const struct mdm_http *s = ctx;

	if (!s->health || s->health(s->health_ctx, body) == 0) {
		mdm_buf_reset(body);
		mdm_buf_puts(body, "ok\n");
		return 200;
	}
	if (body->len == 0)
		mdm_buf_puts(body, "unhealthy");
	if (body->len && body->data[body->len - 1] != '\n')
		mdm_buf_putc(body, '\n');
	return 503;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	mdm_log_warn("http: %s", line);
}

/* ---- lifecycle ---- */

int mdm_http_create(struct mdm_http **out, const struct mdm_http_params *p)
{
	const char *addr = p && p->bind ? p->bind : HTTP_DEFAULT_BIND;
	struct mdm_http *s;
	int rc;

	*out = NULL;
	s = mdm_calloc(1, sizeof(*s));
	if (!s)
		return mdm_err_set(-ENOMEM, "http: out of memory");
	s->fd = -1;
	s->threads = p && p->threads ? p->threads : 1;
	snprintf(s->bind_text, sizeof(s->bind_text), "%s", addr);
	if (p && p->bearer_token && *p->bearer_token) {
		s->token = mdm_strdup(p->bearer_token);
		if (!s->token) {
			rc = mdm_err_set(-ENOMEM, "http: out of memory");
			goto err;
		}
		s->token_len = strlen(s->token);
	}
	if ((rc = open_listener(s, addr)) != 0)
		goto err;
	/* The metrics say what the box trades and how fast: once reachable
	 * from elsewhere they deserve a token. */
	if (!s->loopback && !s->token)
		mdm_log_warn("http %s: reachable beyond this host and no bearer token is set: anyone who can reach it "
			     "reads the metrics", addr);
	if ((rc = mdm_http_route(s, "/healthz", healthz, s)) != 0) {
		mdm_err_set(rc, "http: out of memory");
		goto err;
	}
	*out = s;
	return 0;
err:
	mdm_http_destroy(s);
	return rc;
}

int mdm_http_route(struct mdm_http *s, const char *path, mdm_http_handler fn, void *ctx)
{
	struct http_route *r;

	if (s->mhd)
		return mdm_err_set(-EBUSY, "http: route %s added after start", path);
	if (!path || path[0] != '/' || !fn)
		return mdm_err_set(-EINVAL, "http: route '%s' must start with '/' and have a handler", path ? path : "");
	if (find_route(s, path))
		return mdm_err_set(-EEXIST, "http: route %s already exists", path);
	r = mdm_realloc(s->routes, (s->nroutes + 1) * sizeof(*r));
	if (!r)
		return mdm_err_set(-ENOMEM, "http: out of memory");
	s->routes = r;
	r[s->nroutes].path = mdm_strdup(path);
	if (!r[s->nroutes].path)
		return mdm_err_set(-ENOMEM, "http: out of memory");
	r[s->nroutes].fn = fn;
	r[s->nroutes].ctx = ctx;
	s->nroutes++;
	return 0;
}

int mdm_http_set_health(struct mdm_http *s, mdm_http_health_fn fn, void *ctx)
{
	if (s->mhd)
		return mdm_err_set(-EBUSY, "http: health check set after start");
	s->health = fn;
	s->health_ctx = ctx;
	return 0;
}

int mdm_http_start(struct mdm_http *s)
{
	struct MHD_OptionItem pool[] = {
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_USE_ITC;

	if (s->mhd)
		return mdm_err_set(-EBUSY, "http %s: already started", s->bind_text);
	if (s->family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* MHD_USE_ITC lets mdm_http_destroy quiesce the daemon and take the
	 * listening socket back, so closing it stays our job in every case. */
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				  MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_LIMIT, HTTP_MAX_CONNS, MHD_OPTION_ARRAY,
				  s->threads > 1 ? pool : pool + 1, MHD_OPTION_END);
	if (!s->mhd) {
		/* microhttpd may have closed the socket on its failure path. */
		if (fcntl(s->fd, F_GETFD) < 0)
			s->fd = -1;
		return mdm_err_set(-EIO, "http %s: microhttpd failed to start (see log)", s->bind_text);
	}
	return 0;
}

uint16_t mdm_http_port(const struct mdm_http *s)
{
	return s->port;
}

void mdm_http_destroy(struct mdm_http *s)
{
	if (!s)
		return;
	if (s->mhd) {
		MHD_socket fd = MHD_quiesce_daemon(s->mhd);

		MHD_stop_daemon(s->mhd);
		/* Either we got the socket back, or microhttpd closed it. */
		s->fd = fd;
	}
	if (s->fd >= 0)
		close(s->fd);
	for (size_t i = 0; i < s->nroutes; i++)
		mdm_free(s->routes[i].path);
	mdm_free(s->routes);
	mdm_free(s->token);
	mdm_free(s);
}
