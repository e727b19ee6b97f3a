/* KV buckets: open or ensure (with replica scaling), put/get/delete, and
 * watches whose end-of-initial-values marker is checked against the
 * stream's leader. */
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

/* A bucket: nats.c's handle and the bus (a watch needs its JetStream context). */
struct mdm_bus_kv {
	kvStore *kv;
	struct mdm_bus *bus;
};

/* A watch, and what it must deliver before its end-of-initial-values marker:
 * nats.c ends the initial values when the watch's consumer has nothing
 * pending, and on a cluster that consumer may sit on a replica that is still
 * catching up (after a node restart, or a bucket just scaled up) and see an
 * empty or partial bucket. */
struct mdm_bus_kv_watch {
	struct mdm_bus_kv *kv;
	kvWatcher *w;
	char *keys;
	uint64_t want_rev;  /* newest message on a watched key when the watch started (0: none) */
	bool want_known;    /* false: the leader did not answer (electing?): check on a restart */
	bool retried_unknown; /* restarted once already for want_known false */
	uint64_t max_rev;   /* highest revision delivered since */
	bool init_done;     /* the marker was handed out (nats.c sends it once) */
};

#define KV(k) ((k)->kv)
#define KVE(e) ((kvEntry *)(e))

static int kv_wrap(struct mdm_bus *bus, kvStore *kv, struct mdm_bus_kv **out)
{
	struct mdm_bus_kv *k = mdm_calloc(1, sizeof(*k));

	if (!k) {
		kvStore_Destroy(kv);
		return mdm_err_set(-ENOMEM, "kv: out of memory");
	}
	k->kv = kv;
	k->bus = bus;
	*out = k;
	return 0;
}

int mdm_bus_kv_open(struct mdm_bus *bus, const char *bucket, bool create_if_missing, struct mdm_bus_kv **out)
{
	kvStore *kv = NULL;
	kvConfig kc;
	natsStatus s;

	*out = NULL;
	if (!bus || !bucket || !*bucket)
		return mdm_err_set(-EINVAL, "bus: kv_open: bad arguments");
	s = js_KeyValue(&kv, bus->js, bucket);
	if (s == NATS_NOT_FOUND && create_if_missing) {
		kvConfig_Init(&kc);
		kc.Bucket = bucket;
		kc.History = 1;
		kc.StorageType = js_FileStorage;
		s = js_CreateKeyValue(&kv, bus->js, &kc);
	}
	if (s == NATS_NOT_FOUND)
		return mdm_err_set(-ENOENT, "kv %s: bucket not found", bucket);
	if (s != NATS_OK)
		return bus_js_fail(bus, s, 0, "kv %s: open", bucket);
	return kv_wrap(bus, kv, out);
}

/* (Re)read the info of the bucket's stream into *si. */
static int kv_stream_info(struct mdm_bus *bus, const char *bucket, const char *stream, jsStreamInfo **si)
{
	jsErrCode jerr = 0;
	natsStatus s;

	jsStreamInfo_Destroy(*si);
	*si = NULL;
	s = js_GetStreamInfo(si, bus->js, stream, NULL, &jerr);
	if (s != NATS_OK) {
		*si = NULL;
		return bus_js_fail(bus, s, jerr, "kv %s: stream info", bucket);
	}
	return 0;
}

int mdm_bus_kv_ensure(struct mdm_bus *bus, const char *bucket, int replicas, struct mdm_bus_kv **out)
{
	jsStreamInfo *si = NULL, *done = NULL;
	kvStore *kv = NULL;
	jsStreamConfig c;
	jsErrCode jerr = 0;
	char stream[256];
	kvConfig kc;
	natsStatus s;
	int rc, err;

	*out = NULL;
	if (!bus || !bucket || !*bucket || replicas < 1 || replicas > 5)
		return mdm_err_set(-EINVAL, "bus: kv_ensure: bad arguments (replicas %d, want 1..5)", replicas);
	if (snprintf(stream, sizeof(stream), "KV_%s", bucket) >= (int)sizeof(stream))
		return mdm_err_set(-EINVAL, "kv %s: bucket name too long", bucket);
	s = js_KeyValue(&kv, bus->js, bucket);
	if (s == NATS_NOT_FOUND) {
		kvConfig_Init(&kc);
		kc.Bucket = bucket;
		kc.History = 1;
		kc.StorageType = js_FileStorage;
		kc.Replicas = replicas;
		s = js_CreateKeyValue(&kv, bus->js, &kc);
		/* nats.c gives no err_code here: NATS_ERR is the server's refusal */
		if (s == NATS_ERR)
			return mdm_err_set(-EINVAL, "kv %s: create with %d replicas: %s", bucket, replicas,
					   bus_nats_text(s));
		if (s != NATS_OK)
			return bus_js_fail(bus, s, 0, "kv %s: create with %d replicas", bucket, replicas);
		rc = MDM_BUS_CREATED;
	} else if (s != NATS_OK) {
		return bus_js_fail(bus, s, 0, "kv %s: open", bucket);
	} else {
		rc = MDM_BUS_UNCHANGED;
	}
	if ((err = kv_stream_info(bus, bucket, stream, &si)) < 0)
		goto err;
	if (si->Config->Replicas != replicas && rc == MDM_BUS_UNCHANGED) {
		/* A bucket made elsewhere (mdmesh refdata load, another tool) on
		 * one node would be the cluster's single point of failure. */
		mdm_log_info("kv %s: updating, replicas (wanted %d, server has %" PRId64 ")", bucket, replicas,
			     (int64_t)si->Config->Replicas);
		c = *si->Config;
		c.Replicas = replicas;
		s = js_UpdateStream(&done, bus->js, &c, NULL, &jerr);
		jsStreamInfo_Destroy(done);
		if (s != NATS_OK) {
			err = bus_js_fail(bus, s, jerr, "kv %s: update to %d replicas", bucket, replicas);
			goto err;
		}
		rc = MDM_BUS_UPDATED;
		if ((err = kv_stream_info(bus, bucket, stream, &si)) < 0)
			goto err;
		if (si->Config->Replicas == replicas && (err = bus_stream_wait_current(bus, stream, replicas)) < 0) {
			if (err != -ETIMEDOUT)
				goto err;
			/* scaled, not yet current: watches check their initial values */
			mdm_log_warn("%s; going on, the new replicas catch up in the background", mdm_err_last());
		}
	}
	if (si->Config->Replicas != replicas) {
		err = mdm_err_set(-EPROTO, "kv %s: server did not apply replicas (wanted %d, server has %" PRId64 ")",
				  bucket, replicas, (int64_t)si->Config->Replicas);
		goto err;
	}
	jsStreamInfo_Destroy(si);
	return (err = kv_wrap(bus, kv, out)) < 0 ? err : rc;
err:
	jsStreamInfo_Destroy(si);
	kvStore_Destroy(kv);
	return err;
}

void mdm_bus_kv_destroy(struct mdm_bus_kv *kv)
{
	if (!kv)
		return;
	kvStore_Destroy(kv->kv);
	mdm_free(kv);
}

int mdm_bus_kv_put(struct mdm_bus_kv *kv, const char *key, const void *data, size_t len, uint64_t *revision)
{
	uint64_t rev = 0;
	natsStatus s;

	if (!kv || !key || !*key || (len && !data) || len > INT_MAX)
		return mdm_err_set(-EINVAL, "bus: kv_put: bad arguments");
	s = kvStore_Put(&rev, KV(kv), key, data, (int)len);
	if (s != NATS_OK)
		return bus_fail(s, 0, "kv %s: put %s", kvStore_Bucket(KV(kv)), key);
	if (revision)
		*revision = rev;
	return 0;
}

int mdm_bus_kv_get(struct mdm_bus_kv *kv, const char *key, struct mdm_bus_kv_entry **out)
{
	kvEntry *e = NULL;
	natsStatus s;

	*out = NULL;
	if (!kv || !key || !*key)
		return mdm_err_set(-EINVAL, "bus: kv_get: bad arguments");
	s = kvStore_Get(&e, KV(kv), key);
	if (s == NATS_NOT_FOUND)
		return mdm_err_set(-ENOENT, "kv %s: no key %s", kvStore_Bucket(KV(kv)), key);
	if (s != NATS_OK)
		return bus_fail(s, 0, "kv %s: get %s", kvStore_Bucket(KV(kv)), key);
	*out = (struct mdm_bus_kv_entry *)e;
	return 0;
}

int mdm_bus_kv_delete(struct mdm_bus_kv *kv, const char *key)
{
	natsStatus s;

	if (!kv || !key || !*key)
		return mdm_err_set(-EINVAL, "bus: kv_delete: bad arguments");
	s = kvStore_Delete(KV(kv), key);
	if (s != NATS_OK)
		return bus_fail(s, 0, "kv %s: delete %s", kvStore_Bucket(KV(kv)), key);
	return 0;
}

/* (Re)start the nats.c watcher: first ask the stream's leader for the newest
 * message on the watched keys, then watch. A leader that does not answer yet
 * (right after a scale-up or a failover) leaves want_known false. */
static int kv_watch_start(struct mdm_bus_kv_watch *w)
{
	const char *bucket = kvStore_Bucket(KV(w->kv));
	char stream[256], subject[512];
	kvWatchOptions o;
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	if (w->w)
		kvWatcher_Destroy(w->w);
	w->w = NULL;
	snprintf(stream, sizeof(stream), "KV_%s", bucket);
	snprintf(subject, sizeof(subject), "$KV.%s.%s", bucket, w->keys);
	s = js_GetLastMsg(&m, w->kv->bus->js, stream, subject, NULL, &jerr);
	w->want_known = s == NATS_OK || s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr;
	if (!w->want_known && s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS && jerr != JSClusterNotAvailErr)
		return bus_js_fail(w->kv->bus, s, jerr, "kv %s: newest of %s", bucket, w->keys);
	w->want_rev = s == NATS_OK ? natsMsg_GetSequence(m) : 0;
	w->max_rev = 0;
	natsMsg_Destroy(m);
	kvWatchOptions_Init(&o);
	s = kvStore_Watch(&w->w, KV(w->kv), w->keys, &o);
	if (s != NATS_OK) {
		w->w = NULL;
		return bus_fail(s, 0, "kv %s: watch %s", bucket, w->keys);
	}
	return 0;
}

int mdm_bus_kv_watch(struct mdm_bus_kv *kv, const char *keys, struct mdm_bus_kv_watch **out)
{
	struct mdm_bus_kv_watch *w;
	int rc;

	*out = NULL;
	if (!kv || !keys || !*keys)
		return mdm_err_set(-EINVAL, "bus: kv_watch: bad arguments");
	w = mdm_calloc(1, sizeof(*w));
	if (!w || !(w->keys = mdm_strdup(keys))) {
		mdm_free(w);
		return mdm_err_set(-ENOMEM, "kv: out of memory");
	}
	w->kv = kv;
	if ((rc = kv_watch_start(w)) < 0) {
		mdm_bus_kv_watch_destroy(w);
		return rc;
	}
	*out = w;
	return 0;
}

int mdm_bus_kv_watch_next(struct mdm_bus_kv_watch *w, uint64_t timeout_ms, struct mdm_bus_kv_entry **out)
{
	uint64_t deadline = mdm_mono_ns() + (timeout_ms ? timeout_ms : 1) * MDM_NS_PER_MS;

	*out = NULL;
	if (!w || timeout_ms > INT64_MAX / 2)
		return mdm_err_set(-EINVAL, "bus: kv_watch_next: bad arguments");
	for (;;) {
		uint64_t now = mdm_mono_ns();
		int64_t left_ms = now < deadline ? (int64_t)((deadline - now + MDM_NS_PER_MS - 1) / MDM_NS_PER_MS) : 0;
		kvEntry *e = NULL;
		natsStatus s;
		int rc;

		if (left_ms <= 0)
			return mdm_err_set(-ETIMEDOUT, "kv watch: nothing within %" PRIu64 " ms", timeout_ms);
		if (!w->w && (rc = kv_watch_start(w)) < 0)
			return rc;
		s = kvWatcher_Next(&e, w->w, left_ms);
		if (s == NATS_TIMEOUT)
			return mdm_err_set(-ETIMEDOUT, "kv watch: nothing within %" PRIu64 " ms", timeout_ms);
		if (s != NATS_OK)
			return bus_fail(s, 0, "kv watch");
		if (e) {
			if (kvEntry_Revision(e) > w->max_rev)
				w->max_rev = kvEntry_Revision(e);
			*out = (struct mdm_bus_kv_entry *)e;
			return 0;
		}
		if (!w->init_done && !w->want_known && w->retried_unknown) {
			/* Twice no answer: not an election but, e.g., a user without
			 * the permission for $JS.API.STREAM.MSG.GET.KV_<bucket>. */
			mdm_log_warn("kv %s: cannot check that watch %s saw every key (the newest one could not be "
				     "read): trusting it", kvStore_Bucket(KV(w->kv)), w->keys);
			w->want_known = true;
			w->want_rev = 0;
		}
		if (w->init_done || (w->want_known && w->max_rev >= w->want_rev)) {
			w->init_done = true;
			return 0; /* *out NULL: end of the initial values */
		}
		/* The watch's consumer reads a replica that is behind, or the
		 * leader could not say what it holds: what was delivered stays
		 * valid (the same revisions come again), start over after a pause. */
		if (w->want_known)
			mdm_log_info("kv %s: watch %s ended its initial values at revision %" PRIu64 " of %" PRIu64
				     " (a replica catching up): restarting it", kvStore_Bucket(KV(w->kv)), w->keys,
				     w->max_rev, w->want_rev);
		else
			w->retried_unknown = true;
		kvWatcher_Destroy(w->w);
		w->w = NULL;
		mdm_sleep_ns(100 * MDM_NS_PER_MS);
	}
}

void mdm_bus_kv_watch_destroy(struct mdm_bus_kv_watch *w)
{
	if (!w)
		return;
	if (w->w)
		kvWatcher_Destroy(w->w);
	mdm_free(w->keys);
	mdm_free(w);
}

const char *mdm_bus_kv_entry_key(struct mdm_bus_kv_entry *e)
{
	return kvEntry_Key(KVE(e));
}

const void *mdm_bus_kv_entry_value(struct mdm_bus_kv_entry *e)
{
	return kvEntry_Value(KVE(e));
}

size_t mdm_bus_kv_entry_len(struct mdm_bus_kv_entry *e)
{
	int len = kvEntry_ValueLen(KVE(e));

	return len > 0 ? (size_t)len : 0;
}

uint64_t mdm_bus_kv_entry_revision(struct mdm_bus_kv_entry *e)
{
	return kvEntry_Revision(KVE(e));
}

enum mdm_bus_kv_op mdm_bus_kv_entry_op(struct mdm_bus_kv_entry *e)
{
	switch (kvEntry_Operation(KVE(e))) {
	case kvOp_Delete:
		return MDM_BUS_KV_DELETE;
	case kvOp_Purge:
		return MDM_BUS_KV_PURGE;
	default:
		return MDM_BUS_KV_PUT;
	}
}

void mdm_bus_kv_entry_free(struct mdm_bus_kv_entry *e)
{
	kvEntry_Destroy(KVE(e));
}
