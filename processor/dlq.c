/* Dead-letter publishing and the MAX_DELIVERIES advisory listener. */
#include "dlq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_counter.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdmesh/v1/events.pb-c.h"

#define DLQ_CONTENT_TYPE "application/protobuf; proto=mdmesh.v1.DeadLetter"

struct dlq {
	struct dlq_stats stats;
	struct mdm_bus *bus;
	struct mdm_bus_sub *sub;
	char stream[64], consumer[64];
	char subject[160];
};

/* Find "key": and parse the unsigned number after it. The advisory is
 * produced by nats-server, flat, with unique keys, so a scan is exact. */
static int json_u64(const char *json, size_t len, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i + klen + 3 <= len; i++) {
		char num[24];
		size_t j, n = 0;

		if (json[i] != '"' || memcmp(json + i + 1, key, klen) != 0 || json[i + 1 + klen] != '"')
			continue;
		j = i + klen + 2;
		while (j < len && (json[j] == ' ' || json[j] == ':'))
			j++;
		while (j < len && json[j] >= '0' && json[j] <= '9' && n + 1 < sizeof(num))
			num[n++] = json[j++];
		if (n == 0 || n >= 21)
			return -EINVAL;
		num[n] = '\0';
		errno = 0;
		*out = strtoull(num, NULL, 10);
		return errno ? -EINVAL : 0;
	}
	return -EINVAL;
}

int dlq_advisory_parse(const char *json, size_t len, uint64_t *stream_seq, uint64_t *deliveries)
{
	if (json_u64(json, len, "stream_seq", stream_seq) != 0 || *stream_seq == 0)
		return -EINVAL;
	return json_u64(json, len, "deliveries", deliveries);
}

int dlq_publish(struct dlq *d, const char *subject, uint64_t stream_seq, uint32_t index, uint64_t delivered,
		const char *reason, const void *payload, size_t len)
{
	Mdmesh__V1__DeadLetter dl = MDMESH__V1__DEAD_LETTER__INIT;
	char msg_id[128];
	uint8_t *buf;
	size_t n;
	int rc;

	dl.stream = d->stream;
	dl.consumer = d->consumer;
	dl.subject = (char *)(subject ? subject : "");
	dl.stream_seq = stream_seq;
	dl.delivery_count = delivered;
	dl.reason = (char *)reason;
	dl.payload.data = (uint8_t *)payload;
	dl.payload.len = len;
	dl.ts_ns = mdm_real_ns();
	n = mdmesh__v1__dead_letter__get_packed_size(&dl);
	buf = mdm_malloc(n ? n : 1);
	if (!buf) {
		mdm_counter_add_shared(&d->stats.failed, 1);
		return mdm_err_set(-ENOMEM, "dead letter: out of memory");
	}
	mdmesh__v1__dead_letter__pack(&dl, buf);
	if (index)
		snprintf(msg_id, sizeof(msg_id), "dlq.%s.%" PRIu64 ".%u", d->stream, stream_seq, index);
	else
		snprintf(msg_id, sizeof(msg_id), "dlq.%s.%" PRIu64, d->stream, stream_seq);
	rc = mdm_bus_js_publish(d->bus, d->subject, msg_id, DLQ_CONTENT_TYPE, buf, n, NULL);
	mdm_free(buf);
	if (rc < 0) {
		mdm_counter_add_shared(&d->stats.failed, 1);
		return rc;
	}
	mdm_counter_add_shared(rc == 1 ? &d->stats.duplicates : &d->stats.stored, 1);
	return 0;
}

/* Advisory callback, on the subscription's own thread: blocking calls are
 * fine here, workers never wait for it. */
static void on_advisory(void *ctx, struct mdm_bus_msg *msg)
{
	struct dlq *d = ctx;
	struct mdm_bus_msg *orig = NULL;
	uint64_t seq = 0, deliveries = 0;
	int rc;

	mdm_counter_add_shared(&d->stats.advisories, 1);
	if (dlq_advisory_parse(mdm_bus_msg_data(msg), mdm_bus_msg_len(msg), &seq, &deliveries) != 0) {
		mdm_counter_add_shared(&d->stats.advisory_errors, 1);
		mdm_log_warn("max_deliver advisory without stream_seq/deliveries: %.*s", (int)mdm_bus_msg_len(msg),
			     (const char *)mdm_bus_msg_data(msg));
		return;
	}
	rc = mdm_bus_stream_msg_get(d->bus, d->stream, seq, &orig);
	if (rc != 0) {
		mdm_counter_add_shared(&d->stats.advisory_errors, 1);
		mdm_log_warn("max_deliver: %s seq %" PRIu64 " after %" PRIu64 " deliveries, original not readable: %s",
			     d->stream, seq, deliveries, mdm_err_last());
		return;
	}
	rc = dlq_publish(d, mdm_bus_msg_subject(orig), seq, 0, deliveries, "max_deliver", mdm_bus_msg_data(orig),
			 mdm_bus_msg_len(orig));
	if (rc != 0) {
		mdm_counter_add_shared(&d->stats.advisory_errors, 1);
		mdm_log_error("max_deliver: %s seq %" PRIu64 " not dead-lettered: %s", d->stream, seq, mdm_err_last());
	} else {
		mdm_counter_add_shared(&d->stats.max_deliver, 1);
		mdm_log_warn("max_deliver: %s seq %" PRIu64 " (%s) dead-lettered after %" PRIu64 " deliveries", d->stream,
			     seq, mdm_bus_msg_subject(orig), deliveries);
	}
	mdm_bus_msg_free(orig);
}

int dlq_create(struct dlq **out, const struct dlq_params *p)
{
	struct dlq *d = mdm_calloc(1, sizeof(*d));
	char adv[256];
	int rc;

	*out = NULL;
	if (!d)
		return mdm_err_set(-ENOMEM, "dlq: out of memory");
	d->bus = p->bus;
	snprintf(d->stream, sizeof(d->stream), "%s", p->stream);
	snprintf(d->consumer, sizeof(d->consumer), "%s", p->consumer);
	snprintf(d->subject, sizeof(d->subject), "dlq.%s.%s", p->stream, p->consumer);
	if (p->listen_max_deliver) {
		snprintf(adv, sizeof(adv), "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", p->stream, p->consumer);
		rc = mdm_bus_subscribe(p->bus, adv, on_advisory, d, &d->sub);
		if (rc != 0) {
			mdm_free(d);
			return rc;
		}
	}
	*out = d;
	return 0;
}

void dlq_destroy(struct dlq *d)
{
	if (!d)
		return;
	mdm_bus_sub_destroy(d->sub);
	mdm_free(d);
}

const struct dlq_stats *dlq_stats(const struct dlq *d)
{
	return &d->stats;
}

const char *dlq_subject(const struct dlq *d)
{
	return d->subject;
}
