/* JetStream management: streams and durable consumers are created or
 * updated to match what mdmesh asks, then read back field by field (2.9.10
 * ignores what it does not know); stream and consumer state, direct get. */
#include "mdm_bus_private.h"

#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

static int64_t limit_or_unlimited(int64_t v)
{
	return v > 0 ? v : -1;
}

static jsRetentionPolicy retention_of(enum mdm_stream_retention r)
{
	return r == MDM_STREAM_INTEREST ? js_InterestPolicy : r == MDM_STREAM_WORKQUEUE ? js_WorkQueuePolicy
											: js_LimitsPolicy;
}

static int stream_cfg_check(const struct mdm_stream_cfg *cfg)
{
	if (!cfg || !cfg->name || !*cfg->name)
		return mdm_err_set(-EINVAL, "bus: stream without a name");
	if (!cfg->subjects || cfg->n_subjects == 0 || cfg->n_subjects > INT_MAX)
		return mdm_err_set(-EINVAL, "stream %s: no subjects", cfg->name);
	for (size_t i = 0; i < cfg->n_subjects; i++)
		if (!cfg->subjects[i] || !*cfg->subjects[i])
			return mdm_err_set(-EINVAL, "stream %s: subject %zu is empty", cfg->name, i);
	if (cfg->max_msg_size > INT32_MAX)
		return mdm_err_set(-EINVAL, "stream %s: max_msg_size %" PRId64 " above %d", cfg->name,
				   cfg->max_msg_size, INT32_MAX);
	if (cfg->duplicate_window_ns > INT64_MAX || cfg->replicas < 0 ||
	    cfg->retention > MDM_STREAM_WORKQUEUE)
		return mdm_err_set(-EINVAL, "stream %s: duplicate_window, replicas or retention out of range",
				   cfg->name);
	return 0;
}

/* Set the fields mdmesh manages; the others keep what `c` already holds. */
static void stream_cfg_apply(jsStreamConfig *c, const struct mdm_stream_cfg *cfg, const char **subjects)
{
	for (size_t i = 0; i < cfg->n_subjects; i++)
		subjects[i] = cfg->subjects[i];
	c->Name = cfg->name;
	c->Subjects = subjects;
	c->SubjectsLen = (int)cfg->n_subjects;
	c->Retention = retention_of(cfg->retention);
	c->Storage = cfg->memory ? js_MemoryStorage : js_FileStorage;
	c->MaxAge = cfg->max_age_ns > 0 ? cfg->max_age_ns : 0;
	c->MaxBytes = limit_or_unlimited(cfg->max_bytes);
	c->MaxMsgs = limit_or_unlimited(cfg->max_msgs);
	c->MaxMsgsPerSubject = limit_or_unlimited(cfg->max_msgs_per_subject);
	c->MaxMsgSize = (int32_t)limit_or_unlimited(cfg->max_msg_size);
	if (cfg->duplicate_window_ns)
		c->Duplicates = (int64_t)cfg->duplicate_window_ns;
	c->Replicas = cfg->replicas > 0 ? cfg->replicas : 1;
	c->Discard = cfg->discard_new ? js_DiscardNew : js_DiscardOld;
	c->AllowDirect = cfg->allow_direct;
}

#define DIFF_INT(field, want, have)                                                               \
	do {                                                                                      \
		if ((int64_t)(want) != (int64_t)(have)) {                                         \
			snprintf(why, why_len, "%s (wanted %" PRId64 ", server has %" PRId64 ")", \
				 field, (int64_t)(want), (int64_t)(have));                        \
			return true;                                                              \
		}                                                                                 \
	} while (0)

/* Does the server's config `h` differ from `cfg` in a field mdmesh manages?
 * If so `why` names the first such field. */
static bool stream_cfg_differs(const struct mdm_stream_cfg *cfg, const jsStreamConfig *h, char *why,
			       size_t why_len)
{
	DIFF_INT("subjects count", cfg->n_subjects, h->SubjectsLen);
	for (size_t i = 0; i < cfg->n_subjects; i++) {
		if (!h->Subjects[i] || strcmp(cfg->subjects[i], h->Subjects[i]) != 0) {
			snprintf(why, why_len, "subjects[%zu] (wanted %s, server has %s)", i, cfg->subjects[i],
				 h->Subjects[i] ? h->Subjects[i] : "none");
			return true;
		}
	}
	DIFF_INT("retention", retention_of(cfg->retention), h->Retention);
	DIFF_INT("storage (memory=1)", cfg->memory ? js_MemoryStorage : js_FileStorage, h->Storage);
	DIFF_INT("max_age", cfg->max_age_ns > 0 ? cfg->max_age_ns : 0, h->MaxAge);
	DIFF_INT("max_bytes", limit_or_unlimited(cfg->max_bytes), h->MaxBytes);
	DIFF_INT("max_msgs", limit_or_unlimited(cfg->max_msgs), h->MaxMsgs);
	DIFF_INT("max_msgs_per_subject", limit_or_unlimited(cfg->max_msgs_per_subject), h->MaxMsgsPerSubject);
	DIFF_INT("max_msg_size", limit_or_unlimited(cfg->max_msg_size), h->MaxMsgSize);
	if (cfg->duplicate_window_ns)
		DIFF_INT("duplicate_window", cfg->duplicate_window_ns, h->Duplicates);
	DIFF_INT("replicas", cfg->replicas > 0 ? cfg->replicas : 1, h->Replicas);
	DIFF_INT("discard (new=1)", cfg->discard_new ? js_DiscardNew : js_DiscardOld, h->Discard);
	DIFF_INT("allow_direct", cfg->allow_direct, h->AllowDirect);
	return false;
}

/* After a replica count change: wait until the stream has a leader and every
 * other replica is current. Right after the update the new replicas are still
 * catching up, and a KV watch started then saw an empty bucket (nats-server
 * 2.9.10, R1 -> R3). 0, -EINVAL (no cluster), or -ETIMEDOUT after 4 API
 * timeouts. */
int bus_stream_wait_current(struct mdm_bus *bus, const char *stream, int replicas)
{
	uint64_t timeout_ms = 4 * (uint64_t)bus->api_timeout_ms;
	uint64_t deadline = mdm_mono_ns() + timeout_ms * MDM_NS_PER_MS;
	int current = 0;

	for (;;) {
		jsStreamInfo *si = NULL;
		jsErrCode jerr = 0;
		natsStatus s = js_GetStreamInfo(&si, bus->js, stream, NULL, &jerr);

		current = 0;
		if (s == NATS_OK && !si->Cluster) {
			/* 2.9.10 stores any replica count on update, even where it cannot be */
			jsStreamInfo_Destroy(si);
			return mdm_err_set(-EINVAL, "stream %s: %d replicas need a JetStream cluster; this server is "
						    "not clustered", stream, replicas);
		}
		if (s == NATS_OK && si->Cluster->Leader && si->Cluster->Leader[0]) {
			current = 1;
			for (int i = 0; i < si->Cluster->ReplicasLen; i++)
				current += si->Cluster->Replicas[i]->Current && !si->Cluster->Replicas[i]->Offline;
		}
		jsStreamInfo_Destroy(si);
		if (current >= replicas)
			return 0;
		if (mdm_mono_ns() >= deadline)
			return mdm_err_set(-ETIMEDOUT, "stream %s: %d of %d replicas current after %" PRIu64 " ms",
					   stream, current, replicas, timeout_ms);
		mdm_sleep_ns(50 * MDM_NS_PER_MS);
	}
}

bool bus_stream_missing(natsStatus s, jsErrCode jerr)
{
	return jerr == JSStreamNotFoundErr || (s == NATS_NOT_FOUND && jerr == 0);
}

int mdm_bus_stream_ensure(struct mdm_bus *bus, const struct mdm_stream_cfg *cfg)
{
	jsStreamInfo *si = NULL, *done = NULL;
	const char **subjects = NULL;
	jsStreamConfig c;
	jsErrCode jerr = 0;
	bool scaled = false;    /* the update changes the replica count */
	char why[256];
	natsStatus s;
	int rc, err;

	if ((rc = stream_cfg_check(cfg)) < 0)
		return rc;
	subjects = mdm_calloc(cfg->n_subjects, sizeof(*subjects));
	if (!subjects)
		return mdm_err_set(-ENOMEM, "stream %s: out of memory", cfg->name);

	s = js_GetStreamInfo(&si, bus->js, cfg->name, NULL, &jerr);
	if (s != NATS_OK && bus_stream_missing(s, jerr)) {
		jsStreamConfig_Init(&c);
		stream_cfg_apply(&c, cfg, subjects);
		jerr = 0;
		s = js_AddStream(&done, bus->js, &c, NULL, &jerr);
		if (s != NATS_OK) {
			rc = bus_js_fail(bus, s, jerr, "stream %s: create", cfg->name);
			goto out;
		}
		rc = MDM_BUS_CREATED;
	} else if (s != NATS_OK) {
		rc = bus_js_fail(bus, s, jerr, "stream %s: info", cfg->name);
		goto out;
	} else if (stream_cfg_differs(cfg, si->Config, why, sizeof(why))) {
		mdm_log_info("stream %s: updating, %s", cfg->name, why);
		scaled = si->Config->Replicas != (cfg->replicas > 0 ? cfg->replicas : 1);
		c = *si->Config; /* keep what mdmesh does not manage (sources, rollup...) */
		stream_cfg_apply(&c, cfg, subjects);
		jerr = 0;
		s = js_UpdateStream(&done, bus->js, &c, NULL, &jerr);
		if (s != NATS_OK) {
			rc = bus_js_fail(bus, s, jerr, "stream %s: update (%s)", cfg->name, why);
			goto out;
		}
		rc = MDM_BUS_UPDATED;
	} else {
		rc = MDM_BUS_UNCHANGED;
	}
	if (rc != MDM_BUS_UNCHANGED) {
		/* Read back: 2.9.10 accepts fields it does not know and drops them. */
		jsStreamInfo_Destroy(si);
		si = NULL;
		jerr = 0;
		s = js_GetStreamInfo(&si, bus->js, cfg->name, NULL, &jerr);
		if (s != NATS_OK)
			rc = bus_js_fail(bus, s, jerr, "stream %s: read back", cfg->name);
		else if (stream_cfg_differs(cfg, si->Config, why, sizeof(why)))
			rc = mdm_err_set(-EPROTO, "stream %s: server did not apply %s", cfg->name, why);
		else if (scaled && cfg->replicas > 1 && (err = bus_stream_wait_current(bus, cfg->name, cfg->replicas)) < 0) {
			/* A big stream takes longer to copy: scaled, only not yet current. */
			if (err == -ETIMEDOUT)
				mdm_log_warn("%s; going on, the new replicas catch up in the background", mdm_err_last());
			else
				rc = err;
		}
	}
out:
	jsStreamInfo_Destroy(si);
	jsStreamInfo_Destroy(done);
	mdm_free(subjects);
	return rc;
}

int mdm_bus_stream_info(struct mdm_bus *bus, const char *name, struct mdm_bus_stream_info *info)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	memset(info, 0, sizeof(*info));
	if (!name || !*name)
		return mdm_err_set(-EINVAL, "bus: stream_info without a name");
	s = js_GetStreamInfo(&si, bus->js, name, NULL, &jerr);
	if (s != NATS_OK) {
		if (bus_stream_missing(s, jerr))
			return mdm_err_set(-ENOENT, "stream %s: not found", name);
		return bus_js_fail(bus, s, jerr, "stream %s: info", name);
	}
	info->msgs = si->State.Msgs;
	info->bytes = si->State.Bytes;
	info->first_seq = si->State.FirstSeq;
	info->last_seq = si->State.LastSeq;
	info->consumers = si->State.Consumers > 0 ? (uint64_t)si->State.Consumers : 0;
	jsStreamInfo_Destroy(si);
	return 0;
}

int mdm_bus_stream_msg_get(struct mdm_bus *bus, const char *stream, uint64_t seq, struct mdm_bus_msg **out)
{
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	*out = NULL;
	if (!stream || !*stream || seq == 0)
		return mdm_err_set(-EINVAL, "bus: stream_msg_get: bad arguments");
	s = js_GetMsg(&m, bus->js, stream, seq, NULL, &jerr);
	if (s != NATS_OK)
		return bus_js_fail(bus, s, jerr, "stream %s: get message %" PRIu64, stream, seq);
	*out = BMSG(m);
	return 0;
}

int mdm_bus_stream_last_msg(struct mdm_bus *bus, const char *stream, const char *subject,
			    struct mdm_bus_msg **out)
{
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	*out = NULL;
	if (!stream || !*stream || !subject || !*subject)
		return mdm_err_set(-EINVAL, "bus: stream_last_msg: bad arguments");
	s = js_GetLastMsg(&m, bus->js, stream, subject, NULL, &jerr);
	if (s == NATS_NOT_FOUND || bus_stream_missing(s, jerr) || jerr == JSNoMessageFoundErr)
		return mdm_err_set(-ENOENT, "stream %s: no message on %s", stream, subject);
	if (s != NATS_OK)
		return bus_js_fail(bus, s, jerr, "stream %s: last message of %s", stream, subject);
	*out = BMSG(m);
	return 0;
}

int mdm_bus_stream_subjects(struct mdm_bus *bus, const char *stream, const char *filter,
			    void (*fn)(void *ctx, const char *subject, uint64_t msgs), void *ctx)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	jsOptions o;
	natsStatus s;
	int n = 0;

	if (!stream || !*stream || !filter || !*filter || !fn)
		return mdm_err_set(-EINVAL, "bus: stream_subjects: bad arguments");
	jsOptions_Init(&o);
	o.Stream.Info.SubjectsFilter = filter;
	s = js_GetStreamInfo(&si, bus->js, stream, &o, &jerr);
	if (s != NATS_OK) {
		if (bus_stream_missing(s, jerr))
			return mdm_err_set(-ENOENT, "stream %s: not found", stream);
		return bus_js_fail(bus, s, jerr, "stream %s: subjects", stream);
	}
	if (si->State.Subjects)
		for (; n < si->State.Subjects->Count; n++)
			fn(ctx, si->State.Subjects->List[n].Subject, si->State.Subjects->List[n].Msgs);
	jsStreamInfo_Destroy(si);
	return n;
}

/* ---- consumers -------------------------------------------------------- */

static jsDeliverPolicy deliver_of(enum mdm_consumer_deliver d)
{
	return d == MDM_CONSUMER_DELIVER_NEW ? js_DeliverNew : d == MDM_CONSUMER_DELIVER_LAST ? js_DeliverLast
											      : js_DeliverAll;
}

static int consumer_cfg_check(const char *stream, const char *durable, const struct mdm_consumer_cfg *cfg)
{
	if (!stream || !*stream || !durable || !*durable || !cfg)
		return mdm_err_set(-EINVAL, "bus: consumer_ensure: bad arguments");
	if (strpbrk(durable, ".*> \t"))
		return mdm_err_set(-EINVAL, "consumer %s: name may not contain '.', '*', '>' or blanks", durable);
	if (cfg->n_backoff > INT_MAX || (cfg->n_backoff && !cfg->backoff_ns) ||
	    cfg->deliver > MDM_CONSUMER_DELIVER_LAST || cfg->ack_wait_ns < 0 || cfg->max_ack_pending < 0 ||
	    cfg->max_waiting < 0)
		return mdm_err_set(-EINVAL, "consumer %s: backoff, deliver, ack_wait, max_ack_pending or "
				   "max_waiting out of range", durable);
	for (size_t i = 0; i < cfg->n_backoff; i++)
		if (cfg->backoff_ns[i] <= 0)
			return mdm_err_set(-EINVAL, "consumer %s: backoff[%zu] must be > 0", durable, i);
	/* The server replaces AckWait by BackOff[0]; a different ack_wait would
	 * only fail the read-back. */
	if (cfg->n_backoff && cfg->ack_wait_ns && cfg->ack_wait_ns != cfg->backoff_ns[0])
		return mdm_err_set(-EINVAL, "consumer %s: ack_wait must be 0 or backoff[0] when backoff is set",
				   durable);
	return 0;
}

static int64_t consumer_ack_wait(const struct mdm_consumer_cfg *cfg)
{
	return cfg->n_backoff ? cfg->backoff_ns[0] : cfg->ack_wait_ns;
}

static void consumer_cfg_apply(jsConsumerConfig *c, const char *durable, const struct mdm_consumer_cfg *cfg,
			       int64_t *backoff)
{
	for (size_t i = 0; i < cfg->n_backoff; i++)
		backoff[i] = cfg->backoff_ns[i];
	c->Durable = durable;
	c->AckPolicy = cfg->ack_none ? js_AckNone : js_AckExplicit;
	c->DeliverPolicy = deliver_of(cfg->deliver);
	c->FilterSubject = cfg->filter_subject;
	if (consumer_ack_wait(cfg))
		c->AckWait = consumer_ack_wait(cfg);
	c->MaxDeliver = limit_or_unlimited(cfg->max_deliver);
	if (cfg->max_ack_pending)
		c->MaxAckPending = cfg->max_ack_pending;
	if (cfg->max_waiting)
		c->MaxWaiting = cfg->max_waiting;
	c->BackOff = cfg->n_backoff ? backoff : NULL;
	c->BackOffLen = (int)cfg->n_backoff;
}

static bool consumer_cfg_differs(const struct mdm_consumer_cfg *cfg, const jsConsumerConfig *h, char *why,
				 size_t why_len)
{
	const char *want_f = cfg->filter_subject ? cfg->filter_subject : "";
	const char *have_f = h->FilterSubject ? h->FilterSubject : "";

	if (strcmp(want_f, have_f) != 0) {
		snprintf(why, why_len, "filter_subject (wanted '%s', server has '%s')", want_f, have_f);
		return true;
	}
	DIFF_INT("ack_policy (none=0, explicit=2)", cfg->ack_none ? js_AckNone : js_AckExplicit, h->AckPolicy);
	DIFF_INT("deliver_policy", deliver_of(cfg->deliver), h->DeliverPolicy);
	if (consumer_ack_wait(cfg))
		DIFF_INT("ack_wait", consumer_ack_wait(cfg), h->AckWait);
	DIFF_INT("max_deliver", limit_or_unlimited(cfg->max_deliver), h->MaxDeliver);
	if (cfg->max_ack_pending)
		DIFF_INT("max_ack_pending", cfg->max_ack_pending, h->MaxAckPending);
	if (cfg->max_waiting)
		DIFF_INT("max_waiting", cfg->max_waiting, h->MaxWaiting);
	DIFF_INT("backoff count", cfg->n_backoff, h->BackOffLen);
	for (size_t i = 0; i < cfg->n_backoff; i++)
		DIFF_INT("backoff value", cfg->backoff_ns[i], h->BackOff[i]);
	return false;
}

bool bus_consumer_missing(natsStatus s, jsErrCode jerr)
{
	return jerr == JSConsumerNotFoundErr || (s == NATS_NOT_FOUND && jerr == 0);
}

int mdm_bus_consumer_ensure(struct mdm_bus *bus, const char *stream, const char *durable,
			    const struct mdm_consumer_cfg *cfg)
{
	jsConsumerInfo *ci = NULL, *done = NULL;
	int64_t *backoff = NULL;
	jsConsumerConfig c;
	jsErrCode jerr = 0;
	char why[256];
	natsStatus s;
	int rc;

	if ((rc = consumer_cfg_check(stream, durable, cfg)) < 0)
		return rc;
	backoff = mdm_calloc(cfg->n_backoff ? cfg->n_backoff : 1, sizeof(*backoff));
	if (!backoff)
		return mdm_err_set(-ENOMEM, "consumer %s: out of memory", durable);

	s = js_GetConsumerInfo(&ci, bus->js, stream, durable, NULL, &jerr);
	if (s != NATS_OK && bus_consumer_missing(s, jerr)) {
		jsConsumerConfig_Init(&c);
		consumer_cfg_apply(&c, durable, cfg, backoff);
		jerr = 0;
		s = js_AddConsumer(&done, bus->js, stream, &c, NULL, &jerr);
		if (s != NATS_OK) {
			rc = bus_js_fail(bus, s, jerr, "consumer %s.%s: create", stream, durable);
			goto out;
		}
		rc = MDM_BUS_CREATED;
	} else if (s != NATS_OK) {
		rc = bus_js_fail(bus, s, jerr, "consumer %s.%s: info", stream, durable);
		goto out;
	} else if (consumer_cfg_differs(cfg, ci->Config, why, sizeof(why))) {
		mdm_log_info("consumer %s.%s: updating, %s", stream, durable, why);
		c = *ci->Config;
		consumer_cfg_apply(&c, durable, cfg, backoff);
		jerr = 0;
		s = js_UpdateConsumer(&done, bus->js, stream, &c, NULL, &jerr);
		if (s != NATS_OK) {
			rc = bus_js_fail(bus, s, jerr, "consumer %s.%s: update (%s)", stream, durable, why);
			goto out;
		}
		rc = MDM_BUS_UPDATED;
	} else {
		rc = MDM_BUS_UNCHANGED;
	}
	if (rc != MDM_BUS_UNCHANGED) {
		jsConsumerInfo_Destroy(ci);
		ci = NULL;
		jerr = 0;
		s = js_GetConsumerInfo(&ci, bus->js, stream, durable, NULL, &jerr);
		if (s != NATS_OK)
			rc = bus_js_fail(bus, s, jerr, "consumer %s.%s: read back", stream, durable);
		else if (consumer_cfg_differs(cfg, ci->Config, why, sizeof(why)))
			rc = mdm_err_set(-EPROTO, "consumer %s.%s: server did not apply %s", stream, durable, why);
	}
out:
	jsConsumerInfo_Destroy(ci);
	jsConsumerInfo_Destroy(done);
	mdm_free(backoff);
	return rc;
}

int mdm_bus_consumer_info(struct mdm_bus *bus, const char *stream, const char *durable,
			  struct mdm_bus_consumer_info *info)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	memset(info, 0, sizeof(*info));
	if (!stream || !*stream || !durable || !*durable)
		return mdm_err_set(-EINVAL, "bus: consumer_info: bad arguments");
	s = js_GetConsumerInfo(&ci, bus->js, stream, durable, NULL, &jerr);
	if (s != NATS_OK) {
		if (bus_consumer_missing(s, jerr) || bus_stream_missing(s, jerr))
			return mdm_err_set(-ENOENT, "consumer %s.%s: not found", stream, durable);
		return bus_js_fail(bus, s, jerr, "consumer %s.%s: info", stream, durable);
	}
	info->num_pending = ci->NumPending;
	info->num_ack_pending = ci->NumAckPending > 0 ? (uint64_t)ci->NumAckPending : 0;
	info->num_redelivered = ci->NumRedelivered > 0 ? (uint64_t)ci->NumRedelivered : 0;
	info->num_waiting = ci->NumWaiting > 0 ? (uint64_t)ci->NumWaiting : 0;
	info->delivered_stream_seq = ci->Delivered.Stream;
	info->ack_floor_stream_seq = ci->AckFloor.Stream;
	jsConsumerInfo_Destroy(ci);
	return 0;
}

int mdm_bus_consumer_create_at(struct mdm_bus *bus, const char *stream, const char *durable,
			       const struct mdm_consumer_cfg *cfg, uint64_t start_seq, int64_t start_time_ns)
{
	jsConsumerInfo *ci = NULL;
	int64_t *backoff = NULL;
	jsConsumerConfig c;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	if ((rc = consumer_cfg_check(stream, durable, cfg)) < 0)
		return rc;
	if (start_seq == 0 && start_time_ns <= 0)
		return mdm_err_set(-EINVAL, "consumer %s: a start sequence or a start time is required", durable);
	s = js_GetConsumerInfo(&ci, bus->js, stream, durable, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	ci = NULL;
	if (s == NATS_OK)
		return mdm_err_set(-EEXIST, "consumer %s.%s: already exists", stream, durable);
	backoff = mdm_calloc(cfg->n_backoff ? cfg->n_backoff : 1, sizeof(*backoff));
	if (!backoff)
		return mdm_err_set(-ENOMEM, "consumer %s: out of memory", durable);
	jsConsumerConfig_Init(&c);
	consumer_cfg_apply(&c, durable, cfg, backoff);
	if (start_seq) {
		c.DeliverPolicy = js_DeliverByStartSequence;
		c.OptStartSeq = start_seq;
	} else {
		c.DeliverPolicy = js_DeliverByStartTime;
		c.OptStartTime = start_time_ns;
	}
	jerr = 0;
	s = js_AddConsumer(&ci, bus->js, stream, &c, NULL, &jerr);
	if (s != NATS_OK)
		rc = bus_js_fail(bus, s, jerr, "consumer %s.%s: create at %s", stream, durable,
			     start_seq ? "sequence" : "time");
	else if (ci->Config->DeliverPolicy != c.DeliverPolicy ||
		 (start_seq && ci->Config->OptStartSeq != start_seq))
		rc = mdm_err_set(-EPROTO, "consumer %s.%s: server did not apply the start position", stream, durable);
	else
		rc = 0;
	jsConsumerInfo_Destroy(ci);
	mdm_free(backoff);
	return rc;
}

int mdm_bus_consumer_delete(struct mdm_bus *bus, const char *stream, const char *durable)
{
	jsErrCode jerr = 0;
	natsStatus s;

	if (!stream || !*stream || !durable || !*durable)
		return mdm_err_set(-EINVAL, "bus: consumer_delete: bad arguments");
	s = js_DeleteConsumer(bus->js, stream, durable, NULL, &jerr);
	if (s != NATS_OK) {
		if (bus_consumer_missing(s, jerr) || bus_stream_missing(s, jerr))
			return mdm_err_set(-ENOENT, "consumer %s.%s: not found", stream, durable);
		return bus_js_fail(bus, s, jerr, "consumer %s.%s: delete", stream, durable);
	}
	return 0;
}
