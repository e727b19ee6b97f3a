/* Tiny embedded HTTP server (libmicrohttpd) for each daemon's /metrics,
 * /stats.json, /healthz and /dashboard. GET and HEAD only, exact-path routes,
 * optional bearer-token auth, bound to 127.0.0.1 unless told otherwise.
 * Not for the data path: handlers may allocate and take locks. */
#ifndef MDM_HTTP_H
#define MDM_HTTP_H

#include <stdint.h>

#include "mdm_buf.h"

struct mdm_http;

struct mdm_http_params {
	const char *bind;         /* "127.0.0.1:9100", "[::1]:9100", or ":9100" / "9100" for 127.0.0.1;
				   * port 0 = ephemeral (see mdm_http_port). NULL = "127.0.0.1:0".
				   * Numeric addresses only: no name lookups. A non-loopback
				   * address without a bearer token is logged as a warning. */
	const char *bearer_token; /* NULL or "" = no auth; else every request, /healthz included, needs
				   * "Authorization: Bearer <token>" (copied) */
	unsigned threads;         /* request threads; 0 = 1 */
};

/* One request, valid only during the handler call. */
struct mdm_http_request {
	const char *method; /* "GET" or "HEAD" (HEAD: the body is produced but not sent) */
	const char *path;   /* URL path without the query string, e.g. "/metrics" */
	void *conn;         /* private to mdm_http.c */
};

/* Query-string argument ("?fmt=json" -> "json"), URL-decoded; NULL when
 * absent or given without a value. Valid during the handler call. */
const char *mdm_http_query(const struct mdm_http_request *req, const char *key);

/* Request header (case-insensitive name); NULL when absent. */
const char *mdm_http_header(const struct mdm_http_request *req, const char *name);

/* Route handler. Write the response body into `body` (empty on entry) and
 * optionally point *content_type at a string that outlives the call (default
 * "text/plain; charset=utf-8"; "application/json..." responses also carry
 * "Access-Control-Allow-Origin: *" so another daemon's /dashboard can read
 * them). Return an HTTP status (100..599); anything
 * else, or a body whose append failed, becomes 500.
 * Thread-safety: runs on a microhttpd thread, concurrently with other
 * requests when params.threads > 1, so it must only read shared state safely
 * (atomics, a lock, or data fixed before mdm_http_start). */
typedef int (*mdm_http_handler)(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body,
				const char **content_type);

/* Health check for the built-in /healthz: return 0 when healthy (200 "ok\n"),
 * nonzero after writing a one-line reason into `reason` (503 "<reason>\n").
 * Same thread-safety as a handler. */
typedef int (*mdm_http_health_fn)(void *ctx, struct mdm_buf *reason);

/* Create a server and bind its listening socket (so the port is known and
 * taken now), without serving yet.
 * @return 0; -EINVAL (bad bind address or port: detail names it);
 *         -EADDRINUSE (port taken), -EADDRNOTAVAIL, -EACCES (privileged port):
 *         detail names the address; -ENOMEM. Detail via mdm_err_last(). */
int mdm_http_create(struct mdm_http **out, const struct mdm_http_params *p);

/* Serve `path` (exact match, e.g. "/metrics") with fn(ctx, ...). Call before
 * mdm_http_start, from the thread that created the server.
 * @return 0; -EINVAL (path not starting with '/'); -EEXIST (already routed;
 *         /healthz is built in); -EBUSY (already started); -ENOMEM. */
int mdm_http_route(struct mdm_http *s, const char *path, mdm_http_handler fn, void *ctx);

/* Replace the /healthz check (NULL = always healthy). Before mdm_http_start.
 * @return 0 or -EBUSY. */
int mdm_http_set_health(struct mdm_http *s, mdm_http_health_fn fn, void *ctx);

/* Start serving on microhttpd's own thread(s).
 * @return 0; -EBUSY (already started); -ENOMEM or -EIO when microhttpd
 *         cannot start (detail via mdm_err_last()). */
int mdm_http_start(struct mdm_http *s);

/* The bound port (the real one when params.bind asked for port 0). */
uint16_t mdm_http_port(const struct mdm_http *s);

/* Stop serving (waits for running handlers to return), close the socket and
 * free. NULL-safe. Destroy the server before anything its handlers use. */
void mdm_http_destroy(struct mdm_http *s);

#endif
