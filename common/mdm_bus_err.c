/* nats.c status -> negative errno, once, with nats.c's text in mdm_err_last();
 * and the server URL as it may appear in a message (no credentials). */
#include "mdm_bus_private.h"

#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_redact.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* nats.c's last error text on this thread when it is about `s` (without the
 * "(conn.c:123): " source prefix), else the generic text of `s`. */
const char *bus_nats_text(natsStatus s)
{
	natsStatus last = NATS_OK;
	const char *t = nats_GetLastError(&last);

	if (!t || !*t || last != s)
		return natsStatus_GetText(s);
	if (t[0] == '(') {
		const char *e = strstr(t, "): ");

		if (e)
			t = e + 3;
	}
	return t;
}

int bus_errno(natsStatus s, jsErrCode jerr)
{
	switch ((int)jerr) {
	case 0:
		break;
	case JSStreamNotFoundErr:
	case JSConsumerNotFoundErr:
	case JSNoMessageFoundErr:
		return -ENOENT;
	case JSNotEnabledErr:
	case JSNotEnabledForAccountErr:
		return -ENOTSUP;
	case JSStreamNameExistErr:
	case JSConsumerNameExistErr:
		return -EEXIST;
	case JSInsufficientResourcesErr:
		return -ENOSPC;
	case JSStreamMessageExceedsMaximumErr:
		return -EMSGSIZE;
	case JSClusterNotAvailErr:
		return -EAGAIN;
	default:
		/* Any other JetStream error is the server refusing what we asked:
		 * config validation, update not allowed, wrong sequence... */
		return -EINVAL;
	}
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_NO_SERVER:
		return -ECONNREFUSED;
	case NATS_CONNECTION_AUTH_FAILED:
		return -EACCES;
	case NATS_NOT_PERMITTED:
		return -EPERM;
	case NATS_SSL_ERROR:
	case NATS_SECURE_CONNECTION_WANTED:
	case NATS_SECURE_CONNECTION_REQUIRED:
	case NATS_PROTOCOL_ERROR:
		return -EPROTO;
	case NATS_TIMEOUT:
		return -ETIMEDOUT;
	case NATS_NOT_FOUND:
		return -ENOENT;
	case NATS_NO_MEMORY:
		return -ENOMEM;
	case NATS_INVALID_ARG:
	case NATS_INVALID_SUBJECT:
	case NATS_INVALID_TIMEOUT:
	case NATS_ADDRESS_MISSING:
	case NATS_INVALID_QUEUE_NAME:
	case NATS_INVALID_SUBSCRIPTION:
	case NATS_ILLEGAL_STATE:
		return -EINVAL;
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_NOT_YET_CONNECTED:
	case NATS_STALE_CONNECTION:
		return -ENOTCONN;
	case NATS_NO_RESPONDERS:
		return -EHOSTUNREACH;
	case NATS_MAX_PAYLOAD:
		return -EMSGSIZE;
	case NATS_INSUFFICIENT_BUFFER:
	case NATS_SLOW_CONSUMER:
		return -ENOBUFS;
	case NATS_DRAINING:
		return -ESHUTDOWN;
	case NATS_NO_SERVER_SUPPORT:
		return -ENOTSUP;
	default:
		return -EIO;
	}
}

/* Convert a failed nats.c call: errno from (s, jerr), detail "<what>: <text>". */
int bus_fail(natsStatus s, jsErrCode jerr, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	int err = bus_errno(s, jerr);

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err == 0)
		err = -EIO;
	if (jerr)
		return mdm_err_set(err, "%s: %s (err_code %d)", what, bus_nats_text(s), (int)jerr);
	return mdm_err_set(err, "%s: %s", what, bus_nats_text(s));
}

/* JSStreamTooManyRequests (429): the stream's ingest queue is full (2.11+;
 * nats.c 3.4.1 predates it). A collector resending its whole window after a
 * server restart meets it under load: it means "later", as a timeout does. */
#define BUS_JS_TOO_MANY_REQUESTS 10167

bool bus_transient(natsStatus s, jsErrCode jerr)
{
	return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || jerr == JSClusterNotAvailErr ||
	       (int)jerr == BUS_JS_TOO_MANY_REQUESTS ||
	       s == NATS_INSUFFICIENT_BUFFER || s == NATS_IO_ERROR || s == NATS_CONNECTION_DISCONNECTED ||
	       s == NATS_STALE_CONNECTION;
}

void bus_url(struct mdm_bus *bus, char *buf, size_t len)
{
	char raw[BUS_URL_MAX];

	if (natsConnection_GetConnectedUrl(bus->nc, raw, sizeof(raw)) != NATS_OK || !raw[0])
		snprintf(raw, sizeof(raw), "%s", bus->urls_safe);
	mdm_redact(raw, MDM_REDACT_DROP, buf, len);
}

/* A failed JetStream API request. No responder on $JS.API means the server
 * runs without JetStream: say so instead of "no responders". */
int bus_js_fail(struct mdm_bus *bus, natsStatus s, jsErrCode jerr, const char *fmt, ...)
{
	char what[256], url[BUS_URL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (s == NATS_NO_RESPONDERS || jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr) {
		bus_url(bus, url, sizeof(url));
		return mdm_err_set(-ENOTSUP, "%s: JetStream is not enabled on %s", what, url);
	}
	return bus_fail(s, jerr, "%s", what);
}
