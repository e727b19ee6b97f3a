/* Object Store buckets on plain JetStream (ADR-20 wire layout; see mdm_bus.h):
 * chunks then a rollup metadata message on put, metadata then an ordered
 * consumer over the chunk subject on get. */
#include "mdm_bus_private.h"

#include "mdm_base64.h"
#include "mdm_buf.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_json_read.h"
#include "mdm_mem.h"
#include "mdm_sha256.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define OBJ_DIGEST_PREFIX "SHA-256="
#define OBJ_NAME_MAX 256
#define OBJ_SUBJ_MAX 512

struct mdm_bus_obj {
	struct mdm_bus *bus;
	char bucket[OBJ_NAME_MAX];
	char stream[OBJ_NAME_MAX + 4];
};

/* base64url WITH padding: what nats.go's object store uses for names and digests. */
static int b64url(struct mdm_buf *out, const void *p, size_t n)
{
	size_t from = out->len;
	int rc = mdm_base64_encode(out, p, n);

	for (size_t i = from; rc == 0 && i < out->len; i++) {
		if (out->data[i] == '+')
			out->data[i] = '-';
		else if (out->data[i] == '/')
			out->data[i] = '_';
	}
	return rc;
}

static int meta_subject(const struct mdm_bus_obj *o, const char *name, char *subj, size_t cap)
{
	struct mdm_buf b = MDM_BUF_INIT;
	int rc = b64url(&b, name, strlen(name)), n;

	if (rc != 0) {
		mdm_buf_fini(&b);
		return mdm_err_set(-ENOMEM, "object store %s: out of memory", o->bucket);
	}
	n = snprintf(subj, cap, "$O.%s.M.%s", o->bucket, b.data);
	mdm_buf_fini(&b);
	if (n < 0 || (size_t)n >= cap)
		return mdm_err_set(-EINVAL, "object store %s: object name too long", o->bucket);
	return 0;
}

int mdm_bus_obj_open(struct mdm_bus *bus, const char *bucket, int replicas, struct mdm_bus_obj **out)
{
	jsStreamInfo *si = NULL;
	jsStreamConfig c;
	jsErrCode jerr = 0;
	struct mdm_bus_obj *o;
	char chunks[OBJ_SUBJ_MAX], metas[OBJ_SUBJ_MAX];
	const char *subjects[2] = { chunks, metas };
	natsStatus s;

	*out = NULL;
	if (!bus || !bucket || !*bucket || strlen(bucket) >= OBJ_NAME_MAX || strpbrk(bucket, ".*> \t") || replicas < 0 ||
	    replicas > 5)
		return mdm_err_set(-EINVAL, "object store: bad bucket name or replicas");
	o = mdm_calloc(1, sizeof(*o));
	if (!o)
		return mdm_err_set(-ENOMEM, "object store %s: out of memory", bucket);
	o->bus = bus;
	snprintf(o->bucket, sizeof(o->bucket), "%s", bucket);
	snprintf(o->stream, sizeof(o->stream), "OBJ_%s", bucket);
	s = js_GetStreamInfo(&si, bus->js, o->stream, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		*out = o;
		return 0;
	}
	if (!bus_stream_missing(s, jerr)) {
		mdm_free(o);
		return bus_js_fail(bus, s, jerr, "object store %s: stream info", bucket);
	}
	if (replicas == 0) {
		mdm_free(o);
		return mdm_err_set(-ENOENT, "object store %s: bucket not found", bucket);
	}
	snprintf(chunks, sizeof(chunks), "$O.%s.C.>", bucket);
	snprintf(metas, sizeof(metas), "$O.%s.M.>", bucket);
	jsStreamConfig_Init(&c);
	c.Name = o->stream;
	c.Subjects = subjects;
	c.SubjectsLen = 2;
	c.Storage = js_FileStorage;
	c.Discard = js_DiscardNew;
	c.Replicas = replicas;
	c.AllowRollup = true;
	c.AllowDirect = true;
	jerr = 0;
	s = js_AddStream(&si, bus->js, &c, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	/* 10058: created meanwhile by another process */
	if (s != NATS_OK && jerr != JSStreamNameExistErr) {
		mdm_free(o);
		return bus_js_fail(bus, s, jerr, "object store %s: create", bucket);
	}
	*out = o;
	return 0;
}

void mdm_bus_obj_destroy(struct mdm_bus_obj *o)
{
	mdm_free(o);
}

/* A NUID-like object id: 22 base62 characters from the kernel's random pool. */
static int new_nuid(char out[MDM_BUS_OBJ_NUID_LEN + 1])
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint8_t r[MDM_BUS_OBJ_NUID_LEN];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return mdm_err_set(-EIO, "object store: getrandom: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(r); i++)
		out[i] = digits[r[i] % 62];
	out[MDM_BUS_OBJ_NUID_LEN] = '\0';
	return 0;
}

static void rfc3339_now(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%09uZ", (unsigned)(ts.tv_nsec % 1000000000));
}

/* The metadata message of `name`, parsed. */
static int meta_read(struct mdm_bus_obj *o, const char *name, struct mdm_bus_obj_info *info, char *digest,
		     size_t digest_cap)
{
	char subj[OBJ_SUBJ_MAX], why[160], got[OBJ_NAME_MAX];
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	const char *mt;
	json_t *j;
	natsStatus s;
	int rc = meta_subject(o, name, subj, sizeof(subj));

	if (rc != 0)
		return rc;
	memset(info, 0, sizeof(*info));
	s = js_GetLastMsg(&m, o->bus->js, o->stream, subj, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
		return mdm_err_set(-ENOENT, "object store %s: no object '%s'", o->bucket, name);
	if (s != NATS_OK)
		return bus_js_fail(o->bus, s, jerr, "object store %s: metadata of '%s'", o->bucket, name);
	info->meta_seq = natsMsg_GetSequence(m);
	info->stored_ns = natsMsg_GetTime(m);
	j = mdm_json_read_object(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), why, sizeof(why));
	natsMsg_Destroy(m);
	if (!j)
		return mdm_err_set(-EPROTO, "object store %s: metadata of '%s' is not JSON: %s", o->bucket, name, why);
	if (json_is_true(json_object_get(j, "deleted"))) {
		json_decref(j);
		return mdm_err_set(-ENOENT, "object store %s: object '%s' was deleted", o->bucket, name);
	}
	rc = mdm_json_read_str(j, "name", got, sizeof(got));
	if (rc == 0 && strcmp(got, name) != 0)
		rc = -EINVAL;
	if (rc == 0)
		rc = mdm_json_read_str(j, "nuid", info->nuid, sizeof(info->nuid));
	if (rc == 0)
		rc = mdm_json_read_u64(j, "size", &info->size);
	if (rc == 0 && mdm_json_read_u64(j, "chunks", &info->chunks) != 0)
		info->chunks = 0; /* omitted when 0 (an empty object) */
	if (rc == 0 && mdm_json_read_str(j, "digest", digest, digest_cap) != 0)
		digest[0] = '\0';
	mt = json_string_value(json_object_get(j, "mtime"));
	snprintf(info->mtime, sizeof(info->mtime), "%s", mt ? mt : "");
	json_decref(j);
	if (rc != 0)
		return mdm_err_set(-EPROTO, "object store %s: metadata of '%s' lacks name, nuid or size", o->bucket, name);
	return 0;
}

int mdm_bus_obj_info(struct mdm_bus_obj *o, const char *name, struct mdm_bus_obj_info *info)
{
	char digest[128];

	if (!o || !name || !*name || !info)
		return mdm_err_set(-EINVAL, "object store: info: bad arguments");
	return meta_read(o, name, info, digest, sizeof(digest));
}

static int purge_subject(struct mdm_bus_obj *o, const char *subj)
{
	jsErrCode jerr = 0;
	jsOptions jo;
	natsStatus s;

	jsOptions_Init(&jo);
	jo.Stream.Purge.Subject = subj;
	s = js_PurgeStream(o->bus->js, o->stream, &jo, &jerr);
	if (s != NATS_OK)
		return bus_js_fail(o->bus, s, jerr, "object store %s: purge %s", o->bucket, subj);
	return 0;
}

static int publish(struct mdm_bus_obj *o, natsMsg *m, const char *subj)
{
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	jsPubOptions_Init(&po);
	po.MaxWait = o->bus->api_timeout_ms;
	s = js_PublishMsg(&pa, o->bus->js, m, &po, &jerr);
	jsPubAck_Destroy(pa);
	if (s != NATS_OK)
		return bus_fail(s, jerr, "object store %s: publish to %s", o->bucket, subj);
	return 0;
}

static int meta_json(struct mdm_bus_obj *o, const char *name, const struct mdm_bus_obj_info *in, const uint8_t *sha,
		     struct mdm_buf *out)
{
	struct mdm_buf dg = MDM_BUF_INIT;
	struct mdm_json j;
	int rc = mdm_buf_puts(&dg, OBJ_DIGEST_PREFIX);

	if (rc == 0)
		rc = b64url(&dg, sha, MDM_SHA256_LEN);
	mdm_json_init(&j, out);
	mdm_json_obj_begin(&j);
	mdm_json_kstr(&j, "name", name);
	mdm_json_key(&j, "options");
	mdm_json_obj_begin(&j);
	mdm_json_ku64(&j, "max_chunk_size", MDM_BUS_OBJ_CHUNK);
	mdm_json_obj_end(&j);
	mdm_json_kstr(&j, "bucket", o->bucket);
	mdm_json_kstr(&j, "nuid", in->nuid);
	mdm_json_ku64(&j, "size", in->size);
	mdm_json_kstr(&j, "mtime", in->mtime);
	mdm_json_ku64(&j, "chunks", in->chunks);
	mdm_json_kstr(&j, "digest", dg.data ? dg.data : "");
	mdm_json_obj_end(&j);
	mdm_buf_fini(&dg);
	if (rc != 0 || mdm_json_status(&j) != 0)
		return mdm_err_set(-ENOMEM, "object store %s: out of memory", o->bucket);
	return 0;
}

int mdm_bus_obj_put(struct mdm_bus_obj *o, const char *name, const void *data, size_t len,
		    struct mdm_bus_obj_info *info)
{
	struct mdm_bus_obj_info old, nw = { 0 };
	struct mdm_buf meta = MDM_BUF_INIT;
	char msubj[OBJ_SUBJ_MAX], csubj[OBJ_SUBJ_MAX], digest[128];
	uint8_t sha[MDM_SHA256_LEN];
	const uint8_t *p = data;
	bool had_old;
	natsMsg *m = NULL;
	natsStatus s;
	int rc;

	if (!o || !name || !*name || strlen(name) >= OBJ_NAME_MAX || (len && !data))
		return mdm_err_set(-EINVAL, "object store: put: bad arguments");
	rc = meta_subject(o, name, msubj, sizeof(msubj));
	if (rc != 0)
		return rc;
	rc = meta_read(o, name, &old, digest, sizeof(digest));
	if (rc != 0 && rc != -ENOENT)
		return rc;
	had_old = rc == 0;
	rc = new_nuid(nw.nuid);
	if (rc == 0)
		rc = mdm_sha256(data, len, sha);
	if (rc != 0)
		return rc;
	snprintf(csubj, sizeof(csubj), "$O.%s.C.%s", o->bucket, nw.nuid);
	for (size_t off = 0; off < len; off += MDM_BUS_OBJ_CHUNK) {
		size_t n = len - off < MDM_BUS_OBJ_CHUNK ? len - off : MDM_BUS_OBJ_CHUNK;

		s = natsMsg_Create(&m, csubj, NULL, (const char *)p + off, (int)n);
		if (s != NATS_OK)
			return bus_fail(s, 0, "object store %s: chunk", o->bucket);
		rc = publish(o, m, csubj);
		natsMsg_Destroy(m);
		if (rc != 0)
			goto fail;
		nw.chunks++;
	}
	nw.size = len;
	rfc3339_now(nw.mtime, sizeof(nw.mtime));
	rc = meta_json(o, name, &nw, sha, &meta);
	if (rc != 0)
		goto fail;
	s = natsMsg_Create(&m, msubj, NULL, meta.data, (int)meta.len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Rollup", "sub");
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		rc = bus_fail(s, 0, "object store %s: metadata", o->bucket);
		goto fail;
	}
	rc = publish(o, m, msubj);
	natsMsg_Destroy(m);
	mdm_buf_fini(&meta);
	if (rc != 0)
		goto fail;
	if (had_old && strcmp(old.nuid, nw.nuid) != 0) {
		char osubj[OBJ_SUBJ_MAX];

		snprintf(osubj, sizeof(osubj), "$O.%s.C.%s", o->bucket, old.nuid);
		/* the new version is current; stale chunks only cost space */
		(void)purge_subject(o, osubj);
	}
	if (info)
		*info = nw;
	return 0;
fail:
	mdm_buf_fini(&meta);
	/* the chunks of a version that never became current */
	if (nw.chunks) {
		int keep = rc;
		const char *why = mdm_err_last();
		char saved[256];

		snprintf(saved, sizeof(saved), "%s", why);
		(void)purge_subject(o, csubj);
		mdm_err_set(keep, "%s", saved);
	}
	return rc;
}

int mdm_bus_obj_get(struct mdm_bus_obj *o, const char *name, struct mdm_buf *out, struct mdm_bus_obj_info *info)
{
	struct mdm_bus_obj_info mi;
	natsSubscription *sub = NULL;
	struct mdm_buf want = MDM_BUF_INIT, got = MDM_BUF_INIT;
	char digest[128], csubj[OBJ_SUBJ_MAX];
	uint8_t sha[MDM_SHA256_LEN];
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	if (!o || !name || !*name || !out)
		return mdm_err_set(-EINVAL, "object store: get: bad arguments");
	rc = meta_read(o, name, &mi, digest, sizeof(digest));
	if (rc != 0)
		return rc;
	if (mi.size > SIZE_MAX / 2 || (mi.chunks == 0) != (mi.size == 0))
		return mdm_err_set(-EPROTO, "object store %s: '%s': size %" PRIu64 " in %" PRIu64 " chunks", o->bucket,
				   name, mi.size, mi.chunks);
	out->len = 0;
	if (mdm_buf_reserve(out, (size_t)mi.size) != 0)
		return mdm_err_set(-ENOMEM, "object store %s: no memory for '%s' (%" PRIu64 " bytes)", o->bucket, name,
				   mi.size);
	if (mi.chunks) {
		snprintf(csubj, sizeof(csubj), "$O.%s.C.%s", o->bucket, mi.nuid);
		jsSubOptions_Init(&so);
		so.Stream = o->stream;
		so.Ordered = true;
		s = js_SubscribeSync(&sub, o->bus->js, csubj, NULL, &so, &jerr);
		if (s != NATS_OK)
			return bus_js_fail(o->bus, s, jerr, "object store %s: read '%s'", o->bucket, name);
		for (uint64_t i = 0; i < mi.chunks && rc == 0; i++) {
			natsMsg *m = NULL;

			s = natsSubscription_NextMsg(&m, sub, o->bus->api_timeout_ms);
			if (s == NATS_TIMEOUT)
				rc = mdm_err_set(-EBADMSG, "object store %s: '%s': chunk %" PRIu64 " of %" PRIu64
							   " missing",
						 o->bucket, name, i + 1, mi.chunks);
			else if (s != NATS_OK)
				rc = bus_fail(s, 0, "object store %s: read '%s'", o->bucket, name);
			else if (out->len + (size_t)natsMsg_GetDataLength(m) > mi.size)
				rc = mdm_err_set(-EBADMSG, "object store %s: '%s': chunks exceed the size %" PRIu64,
						 o->bucket, name, mi.size);
			else
				memcpy(out->data + out->len, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m)),
					out->len += (size_t)natsMsg_GetDataLength(m);
			natsMsg_Destroy(m);
		}
		natsSubscription_Unsubscribe(sub);
		natsSubscription_Destroy(sub);
		if (rc != 0)
			return rc;
	}
	if (out->len != mi.size)
		return mdm_err_set(-EBADMSG, "object store %s: '%s': %zu bytes read, metadata says %" PRIu64, o->bucket,
				   name, out->len, mi.size);
	out->data[out->len] = '\0';
	if (digest[0]) {
		rc = mdm_sha256(out->data, out->len, sha);
		if (rc == 0)
			rc = mdm_buf_puts(&want, OBJ_DIGEST_PREFIX) || b64url(&want, sha, sizeof(sha)) ? -ENOMEM : 0;
		if (rc == 0 && strcmp(want.data, digest) != 0)
			rc = mdm_err_set(-EBADMSG, "object store %s: '%s': digest %s, metadata says %s", o->bucket, name,
					 want.data, digest);
		mdm_buf_fini(&want);
		mdm_buf_fini(&got);
		if (rc != 0)
			return rc == -ENOMEM ? mdm_err_set(rc, "object store: out of memory") : rc;
	}
	if (info)
		*info = mi;
	return 0;
}
