/* The connection: parameters, credentials and TLS, connect with a one-line
 * reason on failure, nats.c's connection callbacks, and the bus's lifetime
 * (create sets up the JetStream context and the resend thread, destroy
 * takes every publish in flight back before freeing). */
#include "mdm_bus_private.h"

#include "mdm_clock.h"
#include "mdm_cond.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_nkey.h"
#include "mdm_redact.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUS_IDLE_WAIT_MS 10000ULL

/* ---- connection callbacks (nats.c's callback thread) ------------------ */

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct mdm_bus *bus = closure;
	char url[BUS_URL_MAX];
	const char *why = NULL;
	/* what broke it, for the operator (a server gone, a stale connection, a write error) */
	natsStatus st = natsConnection_GetLastError(nc, &why);
	bool closing;

	pthread_mutex_lock(&bus->mu);
	bus->connected = false;
	closing = bus->closing;
	pthread_mutex_unlock(&bus->mu);
	if (closing)
		return;
	CNT_ADD(bus, disconnects, 1);
	bus_url(bus, url, sizeof(url));
	mdm_log_warn("bus: disconnected from %s (%s)%s", url,
		     st != NATS_OK && why && why[0] ? why : st != NATS_OK ? natsStatus_GetText(st) : "connection closed",
		     bus->reconnects_allowed ? ", reconnecting" : "");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	struct mdm_bus *bus = closure;
	char url[BUS_URL_MAX];

	CNT_ADD(bus, reconnects, 1);
	pthread_mutex_lock(&bus->mu);
	bus->connected = true;
	pthread_cond_broadcast(&bus->retry_cond);
	pthread_mutex_unlock(&bus->mu);
	bus_url(bus, url, sizeof(url));
	mdm_log_info("bus: reconnected to %s", url);
}

/* nats.c's last callback for a connection: destroy waits for it before freeing.
 * A close that destroy did not ask for is final (reconnects exhausted): no ack
 * will ever come, so every publish in flight is reported failed now rather
 * than left hanging until destroy. */
static void on_closed(natsConnection *nc, void *closure)
{
	struct mdm_bus *bus = closure;
	bool closing;

	pthread_mutex_lock(&bus->mu);
	closing = bus->closing;
	bus->connected = false;
	bus->conn_dead = true;
	pthread_cond_broadcast(&bus->retry_cond);
	pthread_mutex_unlock(&bus->mu);
	if (!closing) {
		mdm_log_error("bus: connection to %s closed for good (no reconnect attempt left)", bus->urls_safe);
		bus_pub_take_back(bus, -ENOTCONN, "connection closed before the ack");
	}
	pthread_mutex_lock(&bus->mu);
	bus->closed_seen = true;
	pthread_cond_broadcast(&bus->idle_cond);
	pthread_mutex_unlock(&bus->mu);
}

#define BUS_REFUSED_LOG_NS (1000 * MDM_NS_PER_MS)

/* A permissions violation names the subject only in the connection's error
 * text. A misconfigured permission can refuse every publish, so it is logged
 * at most once a second, with the running count. */
static void on_async_error(natsConnection *nc, natsSubscription *ns, natsStatus err, void *closure)
{
	struct mdm_bus *bus = closure;
	const char *text = NULL, *inbox;
	uint64_t n, now, last;

	if (err != NATS_NOT_PERMITTED) {
		mdm_log_warn("bus: %s%s%s", natsStatus_GetText(err), ns ? " on " : "",
			     ns ? natsSubscription_GetSubject(ns) : "");
		return;
	}
	n = CNT_ADD(bus, refused, 1);
	now = mdm_mono_ns();
	last = __atomic_load_n(&bus->refused_logged_ns, __ATOMIC_RELAXED);
	if (last && now - last < BUS_REFUSED_LOG_NS)
		return;
	if (!__atomic_compare_exchange_n(&bus->refused_logged_ns, &last, now, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	if (natsConnection_GetLastError(nc, &text) != NATS_NOT_PERMITTED || !text || !*text)
		text = natsStatus_GetText(err);
	/* no reply subjects, no JetStream API: the usual cause is a server that
	 * gives each user its own inbox prefix and a client not set to use it */
	inbox = strstr(text, "Subscription to \"");
	if (inbox && strncmp(inbox + 17, bus->inbox_prefix, strlen(bus->inbox_prefix)) == 0 &&
	    inbox[17 + strlen(bus->inbox_prefix)] == '.')
		mdm_log_error("bus: the server refused: %s (%" PRIu64 " refusal%s so far): replies come on %s.>, which "
			      "this user may not subscribe to; is a per-user inbox prefix expected?",
			      text, n, n == 1 ? "" : "s", bus->inbox_prefix);
	else
		mdm_log_error("bus: the server refused: %s (%" PRIu64 " refusal%s so far; check the user's permissions)",
			      text, n, n == 1 ? "" : "s");
}

/* ---- create / destroy ------------------------------------------------- */

void mdm_bus_params_init(struct mdm_bus_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_reconnect = -1;
}

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v ? v : def;
}

/* " (hint)" or "": the caller's advice on which settings to check. */
#define HINT_FMT "%s%s%s"
#define HINT_ARGS(h) (h) ? " (" : "", (h) ? (h) : "", (h) ? ")" : ""

/* A file the connection needs, checked up front: nats.c's own message for
 * an unreadable CA or key file carries no reason. */
static int file_check(const char *what, const char *path, const char *hint)
{
	int err;

	if (!path || access(path, R_OK) == 0)
		return 0;
	err = errno;
	return mdm_err_set(-err, "bus: %s %s: %s" HINT_FMT, what, path, strerror(err), HINT_ARGS(hint));
}

/* A private key (seed, TLS key, creds) others can read is a leak waiting
 * to happen: say so, as ssh does, but connect anyway. */
static void warn_if_shared(const char *what, const char *path)
{
	struct stat st;

	if (path && stat(path, &st) == 0 && (st.st_mode & 077))
		mdm_log_warn("bus: %s %s is readable by others (mode %04o): chmod 600 it", what, path,
			     (unsigned)(st.st_mode & 07777));
}

static int params_check(const struct mdm_bus_params *p)
{
	int rc;

	int kinds = !!p->user + !!p->token + !!p->nkey_seed_file + !!p->creds_file;

	if (!p->urls || !*p->urls)
		return mdm_err_set(-EINVAL, "bus: urls is empty");
	if (p->user && !p->password)
		return mdm_err_set(-EINVAL, "bus: user '%s' has no password" HINT_FMT, p->user, HINT_ARGS(p->auth_hint));
	if (p->password && !p->user)
		return mdm_err_set(-EINVAL, "bus: a password without a user" HINT_FMT, HINT_ARGS(p->auth_hint));
	if (p->nkey_public && !p->nkey_seed_file)
		return mdm_err_set(-EINVAL, "bus: nkey_public without nkey_seed_file");
	/* nats.c would quietly use one and drop the others: refuse the doubt */
	if (kinds > 1)
		return mdm_err_set(-EINVAL, "bus: more than one kind of credentials is set (user, token, nkey seed, "
					    "creds file): keep one");
	if (!p->tls_cert != !p->tls_key)
		return mdm_err_set(-EINVAL, "bus: tls_cert and tls_key go together" HINT_FMT, HINT_ARGS(p->tls_hint));
	if (p->inbox_prefix && (!*p->inbox_prefix || strlen(p->inbox_prefix) >= 64 ||
				strpbrk(p->inbox_prefix, " \t*>") || p->inbox_prefix[strlen(p->inbox_prefix) - 1] == '.'))
		return mdm_err_set(-EINVAL, "bus: inbox_prefix '%s': 1-63 characters, no blanks or wildcards, "
					    "no trailing dot", p->inbox_prefix);
	if ((rc = file_check("tls_ca", p->tls_ca, p->tls_hint)) < 0 ||
	    (rc = file_check("tls_cert", p->tls_cert, p->tls_hint)) < 0 ||
	    (rc = file_check("tls_key", p->tls_key, p->tls_hint)) < 0 ||
	    (rc = file_check("creds file", p->creds_file, p->auth_hint)) < 0)
		return rc;
	if (p->max_reconnect < -1)
		return mdm_err_set(-EINVAL, "bus: max_reconnect %d (use -1 for forever)", p->max_reconnect);
	if (p->write_deadline_ms < -1 || p->write_deadline_ms > INT64_MAX / 2)
		return mdm_err_set(-EINVAL, "bus: write_deadline_ms %" PRId64 " (use -1 for none)", p->write_deadline_ms);
	if (p->reconnect_buf_bytes > INT_MAX)
		return mdm_err_set(-EINVAL, "bus: reconnect_buf_bytes %" PRIu64 " above %d", p->reconnect_buf_bytes,
				   INT_MAX);
	if (p->max_pending > (1U << 24))
		return mdm_err_set(-EINVAL, "bus: max_pending %" PRIu32 " above %u", p->max_pending, 1U << 24);
	if (p->connect_timeout_ms > INT64_MAX / 2 || p->reconnect_wait_ms > INT64_MAX / 2 ||
	    p->api_timeout_ms > INT64_MAX / 2 || p->stall_wait_ms > INT64_MAX / 2 ||
	    p->ack_timeout_ms > INT64_MAX / 2 || p->retry_backoff_ms > UINT64_MAX / MDM_NS_PER_MS)
		return mdm_err_set(-EINVAL, "bus: a timeout is out of range");
	return 0;
}

/* Split "a, b,c" into trimmed strings in one buffer (for natsOptions_SetServers). */
static int urls_split(const char *urls, char **buf, const char ***list, int *n)
{
	size_t len = strlen(urls), count = 1;
	char *p, *save = NULL, *tok;

	for (const char *c = urls; *c; c++)
		count += *c == ',';
	*buf = mdm_malloc(len + 1);
	*list = mdm_calloc(count, sizeof(**list));
	if (!*buf || !*list)
		return mdm_err_set(-ENOMEM, "bus: out of memory");
	memcpy(*buf, urls, len + 1);
	*n = 0;
	for (p = *buf; (tok = strtok_r(p, ",", &save)); p = NULL) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		for (char *e = tok + strlen(tok); e > tok && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = '\0';
		if (*tok)
			(*list)[(*n)++] = tok;
	}
	if (*n == 0)
		return mdm_err_set(-EINVAL, "bus: urls has no URL");
	return 0;
}

/* TLS asked for by the params or by a tls:// URL. */
static bool tls_wanted(const struct mdm_bus_params *p)
{
	return p->tls_required || p->tls_ca || p->tls_cert || strstr(p->urls, "tls://");
}

static natsStatus opts_fill(natsOptions *o, const struct mdm_bus_params *p, const char *nkey_public,
			    struct mdm_bus *bus, const char **urls, int n_urls)
{
	bool tls = tls_wanted(p);
	natsStatus s;

	s = natsOptions_SetServers(o, urls, n_urls);
	if (s == NATS_OK && p->name)
		s = natsOptions_SetName(o, p->name);
	if (s == NATS_OK && p->user)
		s = natsOptions_SetUserInfo(o, p->user, p->password);
	if (s == NATS_OK && p->token)
		s = natsOptions_SetToken(o, p->token);
	if (s == NATS_OK && p->creds_file)
		s = natsOptions_SetUserCredentialsFromFiles(o, p->creds_file, NULL);
	if (s == NATS_OK && p->nkey_seed_file)
		s = natsOptions_SetNKeyFromSeed(o, nkey_public, p->nkey_seed_file);
	if (s == NATS_OK && p->inbox_prefix)
		s = natsOptions_SetCustomInboxPrefix(o, p->inbox_prefix);
	if (s == NATS_OK && tls)
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK && p->tls_ca)
		s = natsOptions_LoadCATrustedCertificates(o, p->tls_ca);
	if (s == NATS_OK && p->tls_cert)
		s = natsOptions_LoadCertificatesChain(o, p->tls_cert, p->tls_key);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, (int64_t)or_default(p->connect_timeout_ms, 2000));
	/* nats.c 3.4.1 with a write deadline: the socket is non-blocking and a
	 * write that cannot complete in time fails with NATS_TIMEOUT and shuts the
	 * socket down (natsSock_WriteFully), so the reader sees the connection
	 * broken and reconnects (or closes it, when reconnects are not allowed);
	 * what was not written is resent by the resend thread. Without it the
	 * flusher blocks in send() holding the connection lock for as long as the
	 * server stalls, and with it every publish, resend and status query. */
	if (s == NATS_OK && p->write_deadline_ms >= 0)
		s = natsOptions_SetWriteDeadline(o, (int64_t)or_default((uint64_t)p->write_deadline_ms, 2000));
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(o, p->max_reconnect != 0);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, p->max_reconnect);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, (int64_t)or_default(p->reconnect_wait_ms, 250));
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(o, (int)or_default(p->reconnect_buf_bytes, 8 << 20));
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, on_disconnected, bus);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, bus);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(o, on_closed, bus);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(o, on_async_error, bus);
	if (s == NATS_OK && p->flush == MDM_NATS_FLUSH_ASAP)
		s = natsOptions_SetSendAsap(o, true);
	if (s == NATS_OK && p->flush == MDM_NATS_FLUSH_BURST)
		s = mdm_nats_loop_options(bus->loop, o);
	return s;
}

/* Who we try to be: names and public keys, never a password, token or seed.
 * "" when no credentials are given. */
static void auth_who(const struct mdm_bus_params *p, const char *nkey_public, char *buf, size_t len)
{
	const char *scheme = strstr(p->urls, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;

	if (p->user)
		snprintf(buf, len, "user '%s'", p->user);
	else if (p->token)
		snprintf(buf, len, "the token");
	else if (p->nkey_seed_file)
		snprintf(buf, len, "nkey %s", nkey_public);
	else if (p->creds_file)
		snprintf(buf, len, "the credentials in %s", p->creds_file);
	else if (at && memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) &&
		 !memchr(scheme + 3, ',', (size_t)(at - scheme - 3)))
		snprintf(buf, len, "user '%.*s' of the URL", (int)strcspn(scheme + 3, ":"), scheme + 3);
	else if (at)
		snprintf(buf, len, "the credentials in the URL"); /* nats://TOKEN@host: no name to show */
	else
		buf[0] = '\0';
}

/* One line naming the server and the cause, never the credentials. */
static int connect_fail(struct mdm_bus *bus, const struct mdm_bus_params *p, const char *nkey_public, natsStatus s,
			uint64_t elapsed_ns, uint64_t timeout_ms)
{
	const char *u = bus->urls_safe;
	char who[160];

	switch (s) {
	case NATS_NO_SERVER:
		/* nats.c says only "no server available"; a refused TCP connect
		 * fails at once, an unreachable host uses up the connect timeout. */
		if (elapsed_ns >= timeout_ms * MDM_NS_PER_MS * 9 / 10)
			return mdm_err_set(-ETIMEDOUT, "%s: no answer within %" PRIu64 " ms", u, timeout_ms);
		return mdm_err_set(-ECONNREFUSED, "%s: connection refused", u);
	case NATS_CONNECTION_AUTH_FAILED:
		auth_who(p, nkey_public, who, sizeof(who));
		return mdm_err_set(-EACCES, "%s: authorization violation%s%s" HINT_FMT, u,
				   who[0] ? " for " : ": no credentials were given", who, HINT_ARGS(p->auth_hint));
	case NATS_SSL_ERROR:
	case NATS_SECURE_CONNECTION_WANTED:
	case NATS_SECURE_CONNECTION_REQUIRED:
		return mdm_err_set(-EPROTO, "%s: TLS failure: %s" HINT_FMT, u, bus_nats_text(s), HINT_ARGS(p->tls_hint));
	case NATS_PROTOCOL_ERROR:
	case NATS_IO_ERROR:
		/* With TLS 1.3 the server checks the client certificate after our
		 * side of the handshake is done: a refusal shows up as the
		 * connection closing under our CONNECT (write error) or before
		 * the first PONG (protocol error), depending on timing. */
		if (tls_wanted(p))
			return mdm_err_set(-EPROTO, "%s: TLS failure: the server closed the connection after the handshake "
						    "(%s)" HINT_FMT, u,
					   p->tls_cert ? "it did not accept the client certificate"
						       : "it wants a client certificate",
					   HINT_ARGS(p->tls_hint));
		return bus_fail(s, 0, "%s", u);
	default:
		return bus_fail(s, 0, "%s", u);
	}
}

static int bus_sync_init(struct mdm_bus *bus)
{
	if (mdm_cond_init(&bus->retry_cond) != 0)
		return mdm_err_set(-ENOMEM, "bus: condattr");
	if (mdm_cond_init(&bus->idle_cond) != 0) {
		pthread_cond_destroy(&bus->retry_cond);
		return mdm_err_set(-ENOMEM, "bus: condattr");
	}
	pthread_mutex_init(&bus->mu, NULL);
	bus->mu_ready = true;
	return 0;
}

int mdm_bus_create(struct mdm_bus **out, const struct mdm_bus_params *p)
{
	struct mdm_bus *bus;
	natsOptions *o = NULL;
	const char **urls = NULL;
	char *urls_buf = NULL, safe[1024], nkey_public[MDM_NKEY_PUBLIC_LEN + 1] = "";
	uint32_t max_pending;
	uint64_t t0, timeout_ms;
	jsOptions jo;
	natsStatus s;
	int n_urls = 0, rc;

	*out = NULL;
	if ((rc = params_check(p)) < 0)
		return rc;
	bus = mdm_calloc(1, sizeof(*bus));
	if (!bus)
		return mdm_err_set(-ENOMEM, "bus: out of memory");
	mdm_redact(p->urls, MDM_REDACT_DROP, safe, sizeof(safe));
	max_pending = (uint32_t)or_default(p->max_pending, 4096);
	bus->urls_safe = mdm_strdup(safe);
	snprintf(bus->inbox_prefix, sizeof(bus->inbox_prefix), "%s", p->inbox_prefix ? p->inbox_prefix : "_INBOX");
	bus->api_timeout_ms = (int64_t)or_default(p->api_timeout_ms, 5000);
	bus->ack_timeout_ms = (int64_t)or_default(p->ack_timeout_ms, 2000);
	bus->retry_backoff_ns = or_default(p->retry_backoff_ms, 100) * MDM_NS_PER_MS;
	bus->max_attempts = (uint32_t)or_default(p->max_attempts, 8);
	bus->connected = true;
	bus->reconnects_allowed = p->max_reconnect != 0;
	if (!bus->urls_safe) {
		rc = mdm_err_set(-ENOMEM, "bus: out of memory");
		goto err;
	}
	/* adaptive: never above nats.c's MaxPending, so its stall wait (which
	 * blocks the caller) is not reached; fixed: as before, the records */
	if (p->window_min && p->window_min < max_pending)
		mdm_window_init(&bus->window, p->window_min, max_pending);
	else
		mdm_window_init(&bus->window, 2 * max_pending, 2 * max_pending);
	if ((rc = bus_sync_init(bus)) < 0 || (rc = bus_pub_recs_init(bus, max_pending)) < 0 ||
	    (rc = urls_split(p->urls, &urls_buf, &urls, &n_urls)) < 0)
		goto err;

	warn_if_shared("nkey seed file", p->nkey_seed_file);
	warn_if_shared("tls_key", p->tls_key);
	warn_if_shared("creds file", p->creds_file);
	if (p->nkey_seed_file && !p->nkey_public &&
	    (rc = mdm_nkey_public_from_seed_file(p->nkey_seed_file, nkey_public)) < 0) {
		mdm_err_set(rc, "%s" HINT_FMT, mdm_err_last(), HINT_ARGS(p->auth_hint));
		goto err;
	}
	if (p->nkey_public)
		snprintf(nkey_public, sizeof(nkey_public), "%s", p->nkey_public);

	if (p->flush == MDM_NATS_FLUSH_BURST && (rc = mdm_nats_loop_create(&bus->loop)) < 0)
		goto err;
	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = opts_fill(o, p, nkey_public, bus, urls, n_urls);
	if (s != NATS_OK) {
		rc = bus_fail(s, 0, "bus: options for %s", bus->urls_safe);
		goto err;
	}
	timeout_ms = or_default(p->connect_timeout_ms, 2000);
	t0 = mdm_mono_ns();
	s = natsConnection_Connect(&bus->nc, o);
	if (s != NATS_OK) {
		bus->nc = NULL;
		rc = connect_fail(bus, p, nkey_public, s, mdm_mono_ns() - t0, timeout_ms);
		goto err;
	}

	{
		char url[BUS_URL_MAX], who[160];

		bus_url(bus, url, sizeof(url));
		auth_who(p, nkey_public, who, sizeof(who));
		mdm_log_info("bus: connected to %s (%s%s%s)", url, tls_wanted(p) ? "TLS, " : "",
			     who[0] ? "as " : "no credentials", who);
	}
	jsOptions_Init(&jo);
	jo.Wait = bus->api_timeout_ms;
	jo.PublishAsync.MaxPending = max_pending;
	jo.PublishAsync.AckHandler = bus_pub_on_ack;
	jo.PublishAsync.AckHandlerClosure = bus;
	jo.PublishAsync.StallWait = (int64_t)or_default(p->stall_wait_ms, 5);
	s = natsConnection_JetStream(&bus->js, bus->nc, &jo);
	if (s != NATS_OK) {
		bus->js = NULL;
		rc = bus_fail(s, 0, "bus: JetStream context");
		goto err;
	}
	if (pthread_create(&bus->retry_thread, NULL, bus_pub_retry_main, bus) != 0) {
		rc = mdm_err_set(-EAGAIN, "bus: cannot start the resend thread");
		goto err;
	}
	bus->retry_started = true;
	natsOptions_Destroy(o);
	mdm_free(urls);
	mdm_free(urls_buf);
	*out = bus;
	return 0;
err:
	natsOptions_Destroy(o);
	mdm_free(urls);
	mdm_free(urls_buf);
	mdm_bus_destroy(bus);
	return rc;
}

/* Wait on idle_cond until `done` holds or timeout_ms pass. Caller holds mu. */
bool bus_wait_locked(struct mdm_bus *bus, bool (*done)(const struct mdm_bus *), uint64_t timeout_ms)
{
	uint64_t until = mdm_mono_ns() + timeout_ms * MDM_NS_PER_MS;

	while (!done(bus)) {
		if (mdm_cond_wait_until(&bus->idle_cond, &bus->mu, until) == ETIMEDOUT)
			return done(bus);
	}
	return true;
}

static bool closed_seen(const struct mdm_bus *bus)
{
	return bus->closed_seen;
}

bool bus_nothing_in_flight(const struct mdm_bus *bus)
{
	return CNT_GET(bus, in_flight) == 0;
}

void mdm_bus_destroy(struct mdm_bus *bus)
{
	bool idle;

	if (!bus)
		return;
	if (bus->mu_ready) {
		pthread_mutex_lock(&bus->mu);
		bus->closing = true;
		pthread_cond_broadcast(&bus->retry_cond);
		pthread_mutex_unlock(&bus->mu);
	}
	if (bus->retry_started)
		pthread_join(bus->retry_thread, NULL);
	if (bus->nc) {
		/* After Close no ack can arrive; wait for the closed callback so no
		 * connection callback runs on a freed bus. */
		natsConnection_Close(bus->nc);
		pthread_mutex_lock(&bus->mu);
		if (!bus_wait_locked(bus, closed_seen, BUS_CLOSE_WAIT_MS))
			mdm_log_warn("bus: no closed callback from nats.c after %llu ms",
				     (unsigned long long)BUS_CLOSE_WAIT_MS);
		pthread_mutex_unlock(&bus->mu);
	}
	bus_pub_take_back(bus, -ECANCELED, "bus destroyed before the ack");
	if (bus->mu_ready) {
		pthread_mutex_lock(&bus->mu);
		bus_pub_fail_retry_queue_locked(bus, -ECANCELED, "bus destroyed before the resend");
		idle = bus_wait_locked(bus, bus_nothing_in_flight, BUS_IDLE_WAIT_MS);
		pthread_mutex_unlock(&bus->mu);
		if (!idle) {
			/* An ack handler is still running on our memory: leaking the bus
			 * is the only safe choice left. */
			mdm_log_error("bus: %" PRIu64 " publishes still completing after %llu ms; bus leaked",
				      CNT_GET(bus, in_flight), (unsigned long long)BUS_IDLE_WAIT_MS);
			return;
		}
	}
	jsCtx_Destroy(bus->js);
	if (bus->nc)
		natsConnection_Close(bus->nc); /* the loop reads the close's PONG: stop it only after */
	mdm_nats_loop_destroy(bus->loop);
	natsConnection_Destroy(bus->nc);
	if (bus->mu_ready) {
		pthread_cond_destroy(&bus->retry_cond);
		pthread_cond_destroy(&bus->idle_cond);
		pthread_mutex_destroy(&bus->mu);
	}
	mdm_free(bus->recs);
	mdm_free(bus->buckets);
	mdm_free(bus->urls_safe);
	mdm_free(bus);
}

void mdm_bus_defer_writes(struct mdm_bus *bus, bool on)
{
	if (bus && bus->loop)
		mdm_nats_loop_defer(bus->loop, on);
}

void mdm_bus_write_deferred(struct mdm_bus *bus)
{
	if (bus)
		mdm_nats_loop_flush(bus->loop);
}

bool mdm_bus_connected(struct mdm_bus *bus)
{
	return bus && bus->nc && natsConnection_Status(bus->nc) == NATS_CONN_STATUS_CONNECTED;
}

void mdm_bus_shutdown(void)
{
	nats_Close();
}
