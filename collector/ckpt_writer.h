/* Book checkpoints in JetStream, and the warm start they make possible.
 *
 * A replica of the collector's state (replica.h) follows the collector's own
 * stream through a pull consumer on a thread of its own; every
 * recovery.checkpoint_interval, and once more at drain after the publisher's
 * last ack, the replica is encoded (ckpt.h) and stored as object
 * <feed>.<instance> in Object Store bucket recovery.bucket (mdm_bus_obj).
 * The RX core is not involved at all: a checkpoint costs it nothing, however
 * big the book.
 *
 * At start, when feed.resume continues a session (resume.h), the newest
 * checkpoint of that feed and session is loaded and the stream is replayed
 * from the message after the checkpoint's stream sequence to the stream's
 * end: the replica then holds the book of everything the stream stored, and
 * the RX feed starts with a copy of it (feed_resume). A missing, corrupt or
 * incompatible checkpoint, or a replay that fails, is logged with the reason
 * and the start is cold (an empty book, as without checkpoints).
 *
 * Threads: create, warm_start, start and stop on the main thread; the
 * follower thread owns the replica after start; the stats are single-writer
 * counters read from anywhere. Not hot-path. */
#ifndef CKPT_WRITER_H
#define CKPT_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct mdm_bus;
struct mdm_metrics;
struct resume_point;
struct book;
struct symbols;
struct ckpt_writer;

struct ckpt_writer_params {
	struct mdm_bus *bus;
	const char *stream;        /* MD, or MDB in batch mode */
	const char *filter;        /* md.<feed>.> or mdb.<feed>.> */
	const char *feed;
	const char *instance;
	const char *bucket;        /* recovery.bucket */
	bool batch;
	uint32_t book_capacity;    /* feed.book_capacity: the replica's book is the same size */
	int replicas;              /* of the bucket's stream, when created */
	uint64_t interval_ns;      /* recovery.checkpoint_interval (> 0) */
	uint64_t replay_timeout_ns;
};

struct ckpt_writer_stats {
	uint64_t writes, write_errors;
	uint64_t last_real_ns;     /* when the last checkpoint was stored (realtime) */
	uint64_t last_size;        /* bytes */
	uint64_t last_write_ns;    /* encode + store */
	uint64_t last_encode_ns;
	uint64_t last_orders;
	uint64_t last_stream_seq;
	uint64_t applied;          /* stream messages the follower applied */
	uint64_t follow_errors;
	/* the start */
	uint64_t warm;             /* 1: checkpoint + replay; 0: cold */
	uint64_t load_ns;          /* reading and decoding the checkpoint */
	uint64_t replay_ns;
	uint64_t replayed;         /* stream messages replayed after it */
	uint64_t loaded_orders;
	uint64_t loaded_stream_seq;
	uint64_t loaded_age_ns;    /* the checkpoint's age when loaded */
};

/* Open (or create) the bucket and allocate the replica. 0, or a negative
 * errno with the reason in mdm_err_last(). */
int ckpt_writer_create(struct ckpt_writer **out, const struct ckpt_writer_params *p);

/* Stops the follower without a final checkpoint if it still runs. NULL-safe. */
void ckpt_writer_destroy(struct ckpt_writer *w);

/* The start: rp is where feed.resume found the feed (NULL or not found: a
 * first start, or resume off). With `load` and a session to continue, load
 * the checkpoint and replay the stream after it. Always 0 (a failure is a
 * cold start, logged); true from ckpt_writer_warm() when warm. */
int ckpt_writer_warm_start(struct ckpt_writer *w, const struct resume_point *rp, bool load);
bool ckpt_writer_warm(const struct ckpt_writer *w);

/* The rebuilt book and symbol map, for feed_resume (valid until start). */
const struct book *ckpt_writer_book(const struct ckpt_writer *w);
const struct symbols *ckpt_writer_symbols(const struct ckpt_writer *w);

/* Start following the stream where the start left it, writing a checkpoint
 * every interval. 0 or a negative errno (logged by the caller). */
int ckpt_writer_start(struct ckpt_writer *w);

/* At drain, once every event is acked: catch up with the stream and write a
 * last checkpoint (within timeout_ns), then stop the follower. */
void ckpt_writer_finish(struct ckpt_writer *w, uint64_t timeout_ns);

const struct ckpt_writer_stats *ckpt_writer_stats(const struct ckpt_writer *w);

/* /metrics families and the /stats.json "checkpoint" section. */
int ckpt_writer_metrics(struct ckpt_writer *w, struct mdm_metrics *reg);

/* The summary lines: how the book was obtained, and the checkpoints written. */
void ckpt_writer_summary(const struct ckpt_writer *w, FILE *f);

#endif
