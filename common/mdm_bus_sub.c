/* Core NATS: publish without JetStream, flush, and subscriptions delivered
 * on their own thread (advisories, stats). */
#include "mdm_bus_private.h"

#include "mdm_clock.h"
#include "mdm_cond.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int mdm_bus_publish(struct mdm_bus *bus, const char *subject, const void *data, size_t len)
{
	natsStatus s;

	if (!bus || !subject || !*subject || (len && !data) || len > INT_MAX)
		return mdm_err_set(-EINVAL, "bus: publish: bad arguments");
	s = natsConnection_Publish(bus->nc, subject, data, (int)len);
	if (s != NATS_OK)
		return bus_fail(s, 0, "bus: publish to %s", subject);
	return 0;
}

int mdm_bus_publish_hdr(struct mdm_bus *bus, const char *subject, const char *msg_id, const char *content_type,
			const void *data, size_t len)
{
	natsMsg *m = NULL;
	natsStatus s;

	if (!bus || !subject || !*subject || (len && !data) || len > INT_MAX)
		return mdm_err_set(-EINVAL, "bus: publish: bad arguments");
	s = bus_msg_new(&m, subject, msg_id, content_type, data, len);
	if (s == NATS_OK)
		s = natsConnection_PublishMsg(bus->nc, m);
	natsMsg_Destroy(m);
	if (s != NATS_OK)
		return bus_fail(s, 0, "bus: publish to %s", subject);
	return 0;
}

int mdm_bus_flush(struct mdm_bus *bus, uint64_t timeout_ms)
{
	natsStatus s = natsConnection_FlushTimeout(bus->nc, (int64_t)(timeout_ms ? timeout_ms : 1));
	const char *text = NULL;

	if (s != NATS_OK)
		return bus_fail(s, 0, "bus: flush");
	/* the server answers a refused PUB/SUB with -ERR before the PONG that
	 * ended the flush, and nats.c records it on the connection in order */
	if (natsConnection_GetLastError(bus->nc, &text) == NATS_NOT_PERMITTED)
		return mdm_err_set(-EPERM, "bus: the server refused: %s", text && *text ? text : "permissions violation");
	return 0;
}

static void on_core_msg(natsConnection *nc, natsSubscription *ns, natsMsg *m, void *closure)
{
	struct mdm_bus_sub *sub = closure;

	sub->fn(sub->ctx, BMSG(m));
	natsMsg_Destroy(m);
}

static void on_sub_complete(void *closure)
{
	struct mdm_bus_sub *sub = closure;

	pthread_mutex_lock(&sub->mu);
	sub->done = true;
	pthread_cond_broadcast(&sub->cond);
	pthread_mutex_unlock(&sub->mu);
}

struct mdm_bus_sub *bus_sub_new(struct mdm_bus *bus, bool pull)
{
	struct mdm_bus_sub *sub = mdm_calloc(1, sizeof(*sub));

	if (!sub)
		return NULL;
	sub->bus = bus;
	sub->pull = pull;
	pthread_mutex_init(&sub->mu, NULL);
	mdm_cond_init(&sub->cond);
	return sub;
}

/* Whether the connection's last error is the server refusing a subscription
 * to `subject` (nats.c keeps the text: Permissions Violation for
 * Subscription to "<subject>"). */
static bool sub_refused(struct mdm_bus *bus, const char *subject)
{
	const char *text = NULL, *q;
	size_t n = strlen(subject);

	if (natsConnection_GetLastError(bus->nc, &text) != NATS_NOT_PERMITTED || !text)
		return false;
	q = strstr(text, "Subscription to \"");
	return q && strncmp(q + 17, subject, n) == 0 && q[17 + n] == '"';
}

int mdm_bus_subscribe(struct mdm_bus *bus, const char *subject, mdm_bus_msg_fn fn, void *ctx,
		      struct mdm_bus_sub **out)
{
	struct mdm_bus_sub *sub;
	natsStatus s;

	*out = NULL;
	if (!bus || !subject || !*subject || !fn)
		return mdm_err_set(-EINVAL, "bus: subscribe: bad arguments");
	sub = bus_sub_new(bus, false);
	if (!sub)
		return mdm_err_set(-ENOMEM, "bus: out of memory");
	sub->fn = fn;
	sub->ctx = ctx;
	s = natsConnection_Subscribe(&sub->ns, bus->nc, subject, on_core_msg, sub);
	if (s == NATS_OK)
		s = natsSubscription_SetOnCompleteCB(sub->ns, on_sub_complete, sub);
	/* The server knows the interest once the flush returns: nothing published
	 * after this call is missed (advisories are not replayed). */
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(bus->nc, bus->api_timeout_ms);
	if (s != NATS_OK) {
		int rc = bus_fail(s, 0, "bus: subscribe to %s", subject);

		mdm_bus_sub_destroy(sub);
		return rc;
	}
	/* A refused SUB is answered with -ERR before that PONG; the subscription
	 * would then never deliver anything, so say so now. */
	if (sub_refused(bus, subject)) {
		mdm_bus_sub_destroy(sub);
		return mdm_err_set(-EPERM, "bus: subscribe to %s: the server's permissions refuse it", subject);
	}
	*out = sub;
	return 0;
}

static bool sub_wait_done(struct mdm_bus_sub *sub, uint64_t timeout_ms)
{
	uint64_t until = mdm_mono_ns() + timeout_ms * MDM_NS_PER_MS;
	bool done;

	pthread_mutex_lock(&sub->mu);
	while (!sub->done && mdm_cond_wait_until(&sub->cond, &sub->mu, until) != ETIMEDOUT)
		;
	done = sub->done;
	pthread_mutex_unlock(&sub->mu);
	return done;
}

void mdm_bus_sub_destroy(struct mdm_bus_sub *sub)
{
	if (!sub)
		return;
	if (sub->ns && !sub->pull) {
		/* Unsubscribe closes the subscription; its delivery thread runs the
		 * callback in progress, if any, then on_sub_complete. Only then may
		 * the caller's ctx go away. */
		natsSubscription_Unsubscribe(sub->ns);
		if (!sub_wait_done(sub, BUS_CLOSE_WAIT_MS)) {
			mdm_log_error("bus: subscription %s did not finish; leaked",
				      natsSubscription_GetSubject(sub->ns));
			return;
		}
	}
	natsSubscription_Destroy(sub->ns);
	pthread_cond_destroy(&sub->cond);
	pthread_mutex_destroy(&sub->mu);
	mdm_free(sub);
}
