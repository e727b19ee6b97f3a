/* Checkpoint follower thread, writes, and the warm start (ckpt_writer.h). */
#include "ckpt_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "mdm_buf.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_metrics.h"
#include "mdm_subject.h"
#include "replica.h"
#include "resume.h"

#define FETCH_BATCH 512
#define NAME_MAX_LEN 128

struct ckpt_writer {
	struct ckpt_writer_params p;
	char stream[NAME_MAX_LEN], filter[NAME_MAX_LEN], feed[NAME_MAX_LEN], object[2 * NAME_MAX_LEN];
	char consumer[NAME_MAX_LEN];
	struct mdm_bus_obj *obj;
	struct replica *r;
	struct mdm_buf blob;
	struct ckpt_writer_stats st;
	char how[768];                /* how the book was obtained, for the log and the summary */
	uint64_t follow_from;         /* stream sequence the follower starts at */
	uint64_t written_seq;         /* stream_seq of the last checkpoint written (0: none yet) */
	pthread_t thread;
	bool running;
	int stop;                     /* 1: stop; 2: catch up, write, stop (atomic) */
	uint64_t finish_deadline_ns;  /* for stop == 2 */
	const struct resume_point *seed; /* a cold start's symbols (the caller's, alive while we run) */
};

/* The replica is allocated when first needed: a warm start's load, else
 * the follower thread, so a cold start does not wait for a second book. */
static int need_replica(struct ckpt_writer *w)
{
	return w->r ? 0 : replica_create(&w->r, w->feed, w->p.book_capacity);
}

int ckpt_writer_create(struct ckpt_writer **out, const struct ckpt_writer_params *p)
{
	struct ckpt_writer *w;
	int rc;

	*out = NULL;
	w = mdm_calloc(1, sizeof(*w));
	if (!w)
		return mdm_err_set(-ENOMEM, "checkpoints: out of memory");
	w->p = *p;
	snprintf(w->stream, sizeof(w->stream), "%s", p->stream);
	snprintf(w->filter, sizeof(w->filter), "%s", p->filter);
	snprintf(w->feed, sizeof(w->feed), "%s", p->feed);
	snprintf(w->object, sizeof(w->object), "%s.%s", p->feed, p->instance);
	{
		/* a consumer name is one token: feed and instance by the subject-token rule */
		char name[2 * NAME_MAX_LEN];

		snprintf(name, sizeof(name), "mdm_ckpt_%s_%s", p->feed, p->instance);
		mdm_subject_token(w->consumer, sizeof(w->consumer), name, strlen(name));
	}
	w->p.stream = w->stream;
	w->p.filter = w->filter;
	w->p.feed = w->feed;
	snprintf(w->how, sizeof(w->how), "cold (no session to continue)");
	rc = mdm_bus_obj_open(p->bus, p->bucket, p->replicas > 0 ? p->replicas : 1, &w->obj);
	if (rc != 0) {
		ckpt_writer_destroy(w);
		return rc;
	}
	*out = w;
	return 0;
}

static void stop_thread(struct ckpt_writer *w, int how)
{
	if (!w->running)
		return;
	__atomic_store_n(&w->stop, how, __ATOMIC_RELEASE);
	pthread_join(w->thread, NULL);
	w->running = false;
}

void ckpt_writer_destroy(struct ckpt_writer *w)
{
	if (!w)
		return;
	stop_thread(w, 1);
	mdm_bus_obj_destroy(w->obj);
	replica_destroy(w->r);
	mdm_buf_fini(&w->blob);
	mdm_free(w);
}

/* ---- reading the stream ---- */

/* A read cursor (AckNone: nothing to ack, nothing redelivered) over the
 * feed's subjects from stream sequence `from`. */
static int consumer_open(struct ckpt_writer *w, uint64_t from, struct mdm_bus_sub **sub)
{
	struct mdm_consumer_cfg cc = { .filter_subject = w->filter, .ack_none = true };
	int rc = mdm_bus_consumer_delete(w->p.bus, w->stream, w->consumer);

	if (rc != 0 && rc != -ENOENT)
		return rc;
	rc = mdm_bus_consumer_create_at(w->p.bus, w->stream, w->consumer, &cc, from, 0);
	if (rc == 0)
		rc = mdm_bus_pull_subscribe(w->p.bus, w->stream, w->consumer, sub);
	return rc;
}

/* An empty fetch is the end of what the stream holds only if the server
 * agrees (a loaded server may just be slow). */
static bool nothing_pending(struct ckpt_writer *w)
{
	struct mdm_bus_consumer_info ci;

	return mdm_bus_consumer_info(w->p.bus, w->stream, w->consumer, &ci) == 0 && ci.num_pending == 0;
}

/* Apply one fetched batch; *caught_up when the consumer had nothing left. */
static int apply_batch(struct ckpt_writer *w, struct mdm_bus_msg **batch, size_t n, uint64_t *count, bool *caught_up)
{
	for (size_t i = 0; i < n; i++) {
		struct mdm_bus_msg_meta meta = { 0 };

		if (mdm_bus_msg_meta(batch[i], &meta) != 0)
			continue;
		(void)replica_apply(w->r, mdm_bus_msg_data(batch[i]), mdm_bus_msg_len(batch[i]), w->p.batch,
				    meta.stream_seq);
		(*count)++;
		*caught_up = meta.pending == 0;
	}
	return 0;
}

/* Replay stream messages [from, last] of the feed. */
static int replay(struct ckpt_writer *w, uint64_t from, uint64_t last, uint64_t deadline_ns, uint64_t *count)
{
	struct mdm_bus_msg *batch[FETCH_BATCH];
	struct mdm_bus_sub *sub = NULL;
	int rc = consumer_open(w, from, &sub);

	while (rc == 0) {
		size_t n = 0;
		bool caught_up = false;

		if (mdm_mono_ns() > deadline_ns) {
			rc = mdm_err_set(-ETIMEDOUT, "replay of %s %" PRIu64 "..%" PRIu64 " took longer than "
						     "recovery.replay_timeout (%" PRIu64 " messages applied)",
					 w->stream, from, last, *count);
			break;
		}
		rc = mdm_bus_fetch(sub, FETCH_BATCH, 1000, batch, &n);
		if (rc != 0 || (n == 0 && nothing_pending(w)))
			break; /* the end (the filter may skip the stream's tail) */
		if (n == 0)
			continue;
		apply_batch(w, batch, n, count, &caught_up);
		mdm_bus_msgs_free(batch, n);
		if (caught_up || replica_stats(w->r)->stream_seq >= last)
			break;
	}
	mdm_bus_sub_destroy(sub);
	{
		int drc = mdm_bus_consumer_delete(w->p.bus, w->stream, w->consumer);

		if (drc != 0 && drc != -ENOENT)
			mdm_log_warn("checkpoint: consumer %s on %s not deleted: %s", w->consumer, w->stream,
				     mdm_err_last());
	}
	return rc;
}

/* ---- the start ---- */

static void seed_cold(struct ckpt_writer *w, const struct resume_point *rp)
{
	/* an empty replica (a refused load may have left a partial one) */
	if (w->r)
		replica_reset(w->r);
	w->seed = rp && rp->found ? rp : NULL;
}

static int try_warm(struct ckpt_writer *w, const struct resume_point *rp, uint64_t t0)
{
	struct mdm_bus_stream_info si;
	struct mdm_bus_obj_info oi;
	struct ckpt_header h;
	uint64_t t1, deadline = t0 + w->p.replay_timeout_ns, replayed = 0;
	int rc = mdm_bus_obj_get(w->obj, w->object, &w->blob, &oi);

	if (rc == -ENOENT)
		return mdm_err_set(rc, "no checkpoint %s in bucket %s", w->object, w->p.bucket);
	if (rc == 0)
		rc = need_replica(w);
	if (rc != 0)
		return rc;
	rc = replica_load(w->r, (const uint8_t *)w->blob.data, w->blob.len, &h);
	if (rc != 0)
		return rc;
	if (strcmp(h.feed, w->feed) != 0)
		return mdm_err_set(-EINVAL, "checkpoint %s is of feed '%s', not '%s'", w->object, h.feed, w->feed);
	if (strcmp(h.session, rp->session) != 0)
		return mdm_err_set(-EINVAL, "checkpoint %s is of session %s; the stream continues session %s", w->object,
				   h.session, rp->session);
	rc = mdm_bus_stream_info(w->p.bus, w->stream, &si);
	if (rc != 0)
		return rc;
	if (h.stream_seq > si.last_seq)
		return mdm_err_set(-EINVAL, "checkpoint %s is at %s sequence %" PRIu64 ", beyond the stream's end %" PRIu64
					    " (stream recreated?)",
				   w->object, w->stream, h.stream_seq, si.last_seq);
	if (h.stream_seq + 1 < si.first_seq)
		return mdm_err_set(-EINVAL, "stream %s no longer holds what followed checkpoint %s (first message %" PRIu64
					    ", checkpoint at %" PRIu64 ")",
				   w->stream, w->object, si.first_seq, h.stream_seq);
	t1 = mdm_mono_ns();
	mdm_counter_set(&w->st.load_ns, t1 - t0);
	mdm_counter_set(&w->st.loaded_orders, h.orders);
	mdm_counter_set(&w->st.loaded_stream_seq, h.stream_seq);
	mdm_counter_set(&w->st.loaded_age_ns, mdm_real_ns() > h.created_ns ? mdm_real_ns() - h.created_ns : 0);
	w->follow_from = si.last_seq + 1;
	if (h.stream_seq < si.last_seq) {
		rc = replay(w, h.stream_seq + 1, si.last_seq, deadline, &replayed);
		if (rc != 0)
			return rc;
	}
	mdm_counter_set(&w->st.replay_ns, mdm_mono_ns() - t1);
	mdm_counter_set(&w->st.replayed, replayed);
	w->written_seq = h.stream_seq;
	snprintf(w->how, sizeof(w->how),
		 "checkpoint+replay: checkpoint %s at %s sequence %" PRIu64 " (%" PRIu64 " orders, %.1f s old, "
		 "loaded in %.1f ms) + %" PRIu64 " messages replayed in %.1f ms: %" PRIu64 " live orders",
		 w->object, w->stream, h.stream_seq, h.orders, (double)w->st.loaded_age_ns / 1e9,
		 (double)w->st.load_ns / 1e6, replayed, (double)w->st.replay_ns / 1e6,
		 book_stats(replica_book(w->r))->orders);
	return 0;
}

int ckpt_writer_warm_start(struct ckpt_writer *w, const struct resume_point *rp, bool load)
{
	struct mdm_bus_stream_info si;
	uint64_t t0 = mdm_mono_ns();
	int rc;

	/* the follower starts at the stream's end (a cold start follows only
	 * what is stored from now on) */
	rc = mdm_bus_stream_info(w->p.bus, w->stream, &si);
	w->follow_from = rc == 0 ? si.last_seq + 1 : 1;
	if (!rp || !rp->found) {
		snprintf(w->how, sizeof(w->how), "cold (%s)", rp ? "the stream holds no session of this feed"
								  : "feed.resume off: a new session");
		return 0;
	}
	if (!load) {
		snprintf(w->how, sizeof(w->how), "cold (recovery.warm_start false)");
		seed_cold(w, rp);
		return 0;
	}
	mdm_err_clear();
	rc = try_warm(w, rp, t0);
	if (rc == 0) {
		mdm_counter_set(&w->st.warm, 1);
		mdm_log_info("book: %s", w->how);
		return 0;
	}
	snprintf(w->how, sizeof(w->how), "cold (%s)", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
	if (rc == -ENOENT)
		mdm_log_info("book: %s", w->how);
	else
		mdm_log_warn("book: %s", w->how);
	seed_cold(w, rp);
	if (mdm_bus_stream_info(w->p.bus, w->stream, &si) == 0)
		w->follow_from = si.last_seq + 1;
	return 0;
}

bool ckpt_writer_warm(const struct ckpt_writer *w)
{
	return w && w->r && mdm_counter_get(&w->st.warm) == 1;
}

const struct book *ckpt_writer_book(const struct ckpt_writer *w)
{
	return replica_book(w->r);
}

const struct symbols *ckpt_writer_symbols(const struct ckpt_writer *w)
{
	return replica_symbols(w->r);
}

/* ---- writing ---- */

static void write_checkpoint(struct ckpt_writer *w)
{
	struct ckpt_header h;
	uint64_t t0 = mdm_mono_ns(), t1;
	int rc = replica_encode(w->r, mdm_real_ns(), &w->blob, &h);

	t1 = mdm_mono_ns();
	if (rc == 0)
		rc = mdm_bus_obj_put(w->obj, w->object, w->blob.data, w->blob.len, NULL);
	if (rc != 0) {
		mdm_counter_add(&w->st.write_errors, 1);
		mdm_log_warn("checkpoint %s not written: %s", w->object, mdm_err_last());
		return;
	}
	w->written_seq = h.stream_seq;
	mdm_counter_set(&w->st.last_encode_ns, t1 - t0);
	mdm_counter_set(&w->st.last_write_ns, mdm_mono_ns() - t0);
	mdm_counter_set(&w->st.last_size, w->blob.len);
	mdm_counter_set(&w->st.last_orders, h.orders);
	mdm_counter_set(&w->st.last_stream_seq, h.stream_seq);
	mdm_counter_set(&w->st.last_real_ns, mdm_real_ns());
	mdm_counter_add(&w->st.writes, 1);
	mdm_log_debug("checkpoint %s: %" PRIu64 " orders at %s sequence %" PRIu64 ", %zu bytes in %.1f ms", w->object,
		      h.orders, w->stream, h.stream_seq, w->blob.len, (double)w->st.last_write_ns / 1e6);
}

static bool changed(const struct ckpt_writer *w)
{
	return replica_stats(w->r)->stream_seq != w->written_seq || mdm_counter_get(&w->st.writes) == 0;
}

/* The follower runs at idle priority while the feed is live: it takes only
 * CPU that the RX and publisher lcores and nats-server leave (a checkpoint
 * may then be older, never wrong); for the last checkpoint at drain it gets
 * a normal share again. */
static void set_idle(bool idle)
{
	struct sched_param sp = { 0 };

	(void)pthread_setschedparam(pthread_self(), idle ? SCHED_IDLE : SCHED_OTHER, &sp);
}

static void *follow_main(void *arg)
{
	struct ckpt_writer *w = arg;
	struct mdm_bus_msg *batch[FETCH_BATCH];
	struct mdm_bus_sub *sub = NULL;
	uint64_t next_write = mdm_mono_ns() + w->p.interval_ns, count = 0;
	int rc;

	set_idle(true);
	rc = need_replica(w);
	for (unsigned i = 0; rc == 0 && w->seed && i < w->seed->n_symbols; i++)
		replica_seed_symbol(w->r, w->seed->locates[i], w->seed->symbols[i]);
	if (rc == 0)
		rc = consumer_open(w, w->follow_from, &sub);
	if (rc != 0) {
		mdm_counter_add(&w->st.follow_errors, 1);
		mdm_log_warn("checkpoints: cannot follow %s: %s (no checkpoints this run)", w->stream, mdm_err_last());
		return NULL;
	}
	for (bool idle = true;;) {
		int stop = __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
		bool caught_up = false;
		size_t n = 0;

		if (stop == 1)
			break;
		if (stop == 2 && idle) {
			set_idle(false);
			idle = false;
		}
		rc = mdm_bus_fetch(sub, FETCH_BATCH, stop == 2 ? 500 : 200, batch, &n);
		if (rc != 0) {
			mdm_counter_add(&w->st.follow_errors, 1);
			mdm_sleep_ns(100 * MDM_NS_PER_MS); /* the bus reconnects; try again */
		} else if (n) {
			apply_batch(w, batch, n, &count, &caught_up);
			mdm_bus_msgs_free(batch, n);
			mdm_counter_set(&w->st.applied, count);
		}
		if (stop == 2 && (caught_up || (rc == 0 && n == 0 && nothing_pending(w)) ||
				  mdm_mono_ns() > w->finish_deadline_ns)) {
			if (changed(w))
				write_checkpoint(w);
			break;
		}
		if (stop == 0 && mdm_mono_ns() >= next_write) {
			if (changed(w))
				write_checkpoint(w);
			next_write = mdm_mono_ns() + w->p.interval_ns;
		}
	}
	mdm_bus_sub_destroy(sub);
	return NULL;
}

int ckpt_writer_start(struct ckpt_writer *w)
{
	int rc = pthread_create(&w->thread, NULL, follow_main, w);

	if (rc != 0)
		return mdm_err_set(-rc, "checkpoints: thread: %s", strerror(rc));
	w->running = true;
	return 0;
}

void ckpt_writer_finish(struct ckpt_writer *w, uint64_t timeout_ns)
{
	if (!w)
		return;
	w->finish_deadline_ns = mdm_mono_ns() + timeout_ns;
	stop_thread(w, 2);
	{
		int drc = mdm_bus_consumer_delete(w->p.bus, w->stream, w->consumer);

		if (drc != 0 && drc != -ENOENT)
			mdm_log_warn("checkpoint: consumer %s on %s not deleted: %s", w->consumer, w->stream,
				     mdm_err_last());
	}
}

const struct ckpt_writer_stats *ckpt_writer_stats(const struct ckpt_writer *w)
{
	return &w->st;
}

/* ---- observability ---- */

static uint64_t age_ns(const struct ckpt_writer *w)
{
	uint64_t last = mdm_counter_get(&w->st.last_real_ns), now = mdm_real_ns();

	return last && now > last ? now - last : 0;
}

static void collect(void *ctx, struct mdm_metrics_writer *mw)
{
	const struct ckpt_writer *w = ctx;
	const struct ckpt_writer_stats *s = &w->st;

#define FAM(kind, name, help) mdm_metrics_write_family(mw, MDM_METRICS_##kind, "mdmesh_collector_checkpoint_" name, help)
	FAM(COUNTER, "writes_total", "book checkpoints stored in the object store");
	mdm_metrics_write_u64(mw, NULL, mdm_counter_get(&s->writes));
	FAM(COUNTER, "write_errors_total", "book checkpoints that could not be encoded or stored");
	mdm_metrics_write_u64(mw, NULL, mdm_counter_get(&s->write_errors));
	FAM(GAUGE, "age_seconds", "time since the last checkpoint was stored (0: none yet)");
	mdm_metrics_write_double(mw, NULL, (double)age_ns(w) / 1e9);
	FAM(GAUGE, "size_bytes", "size of the last checkpoint");
	mdm_metrics_write_u64(mw, NULL, mdm_counter_get(&s->last_size));
	FAM(GAUGE, "write_seconds", "encode + store time of the last checkpoint");
	mdm_metrics_write_double(mw, NULL, (double)mdm_counter_get(&s->last_write_ns) / 1e9);
	FAM(GAUGE, "orders", "live orders in the last checkpoint");
	mdm_metrics_write_u64(mw, NULL, mdm_counter_get(&s->last_orders));
	FAM(GAUGE, "stream_seq", "stream sequence the last checkpoint stands at");
	mdm_metrics_write_u64(mw, NULL, mdm_counter_get(&s->last_stream_seq));
	FAM(COUNTER, "applied_total", "stream messages the checkpoint replica applied");
	mdm_metrics_write_u64(mw, NULL, mdm_counter_get(&s->applied));
	FAM(GAUGE, "warm_start", "1: this run's book came from a checkpoint + replay; 0: cold");
	mdm_metrics_write_u64(mw, NULL, mdm_counter_get(&s->warm));
	FAM(GAUGE, "load_seconds", "start: reading and decoding the checkpoint");
	mdm_metrics_write_double(mw, NULL, (double)mdm_counter_get(&s->load_ns) / 1e9);
	FAM(GAUGE, "replay_seconds", "start: replaying the stream after the checkpoint");
	mdm_metrics_write_double(mw, NULL, (double)mdm_counter_get(&s->replay_ns) / 1e9);
	FAM(GAUGE, "replayed_messages", "start: stream messages replayed after the checkpoint");
	mdm_metrics_write_u64(mw, NULL, mdm_counter_get(&s->replayed));
#undef FAM
}

static void json_section(void *ctx, struct mdm_json *j)
{
	const struct ckpt_writer *w = ctx;

	mdm_json_obj_begin(j);
	mdm_json_kstr(j, "object", w->object);
	mdm_json_kstr(j, "bucket", w->p.bucket);
	mdm_json_kstr(j, "book_from", ckpt_writer_warm(w) ? "checkpoint+replay" : "cold");
	mdm_json_kstr(j, "start", w->how);
	mdm_json_ku64(j, "age_ms", age_ns(w) / MDM_NS_PER_MS);
	mdm_json_ku64(j, "interval_ms", w->p.interval_ns / MDM_NS_PER_MS);
	mdm_json_ku64(j, "follow_errors", mdm_counter_get(&w->st.follow_errors));
	mdm_json_ku64(j, "loaded_orders", mdm_counter_get(&w->st.loaded_orders));
	mdm_json_ku64(j, "loaded_stream_seq", mdm_counter_get(&w->st.loaded_stream_seq));
	mdm_json_obj_end(j);
}

int ckpt_writer_metrics(struct ckpt_writer *w, struct mdm_metrics *reg)
{
	int rc = mdm_metrics_add_collector(reg, collect, w);

	if (rc == 0)
		rc = mdm_metrics_add_json_section(reg, "checkpoint", json_section, w);
	return rc;
}

void ckpt_writer_summary(const struct ckpt_writer *w, FILE *f)
{
	const struct ckpt_writer_stats *s = &w->st;

	fprintf(f, "  book from  %s\n", w->how);
	fprintf(f, "  checkpoint %" PRIu64 " written (%" PRIu64 " failed) to %s/%s; last %" PRIu64 " bytes, %" PRIu64
		   " orders at %s sequence %" PRIu64 ", written in %.1f ms (encode %.1f ms)\n",
		mdm_counter_get(&s->writes), mdm_counter_get(&s->write_errors), w->p.bucket, w->object,
		mdm_counter_get(&s->last_size), mdm_counter_get(&s->last_orders), w->stream,
		mdm_counter_get(&s->last_stream_seq), (double)mdm_counter_get(&s->last_write_ns) / 1e6,
		(double)mdm_counter_get(&s->last_encode_ns) / 1e6);
}
