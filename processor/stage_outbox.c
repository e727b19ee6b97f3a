/* Publishes a batch produced, held until its commit; see stages.h. */
#include "stages.h"

#include <errno.h>
#include <string.h>

#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"

static char *arena_strdup(struct mdm_stage_batch *b, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = b->alloc(b->arena, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

int stage_outbox_add(struct stage_outbox *o, struct mdm_stage_batch *b, const char *subject, const char *msg_id,
		     const char *content_type, const void *data, size_t len)
{
	struct stage_outbox_msg *m;
	void *copy;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		struct stage_outbox_msg *v = mdm_realloc(o->v, cap * sizeof(*v));

		if (!v)
			return mdm_err_set(-ENOMEM, "outbox: out of memory");
		o->v = v;
		o->cap = cap;
	}
	m = &o->v[o->n];
	copy = b->alloc(b->arena, len ? len : 1);
	m->subject = arena_strdup(b, subject);
	m->msg_id = arena_strdup(b, msg_id);
	if (!copy || !m->subject || !m->msg_id)
		return mdm_err_set(-ENOMEM, "outbox: out of memory");
	memcpy(copy, data, len);
	m->data = copy;
	m->len = len;
	m->content_type = content_type;
	o->n++;
	return 0;
}

/* How long one message may wait for room in the publish window (the ack
 * thread drains it within milliseconds; the budget of the former 500 x 2 ms
 * retries covers a short reconnect). */
#define OUTBOX_PUBLISH_WAIT_NS MDM_NS_PER_S

void stage_outbox_send(struct stage_outbox *o, struct mdm_bus *bus)
{
	for (size_t i = 0; i < o->n; i++) {
		const struct stage_outbox_msg *m = &o->v[i];
		struct mdm_bus_retry retry = { .deadline_ns = mdm_mono_ns() + OUTBOX_PUBLISH_WAIT_NS };
		int rc;

		rc = mdm_bus_publish_async_until(bus, m->subject, m->msg_id, m->content_type, m->data, m->len, 0,
						 &retry);
		if (rc == 0) {
			__atomic_add_fetch(&o->published, 1, __ATOMIC_RELAXED);
		} else {
			if (__atomic_add_fetch(&o->failed, 1, __ATOMIC_RELAXED) % 1000 == 1)
				mdm_log_warn("publish %s to %s: %s", m->msg_id, m->subject, mdm_err_last());
		}
	}
	o->n = 0;
}

void stage_outbox_clear(struct stage_outbox *o)
{
	o->n = 0;
}

void stage_outbox_fini(struct stage_outbox *o)
{
	mdm_free(o->v);
	o->v = NULL;
	o->n = o->cap = 0;
}
