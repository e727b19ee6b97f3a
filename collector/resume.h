/* Where the feed left off: read at start-up from the stream the collector
 * publishes into, so a restarted collector (kill -9 included) continues the
 * session instead of joining it mid-way. The stream is the checkpoint: it
 * holds exactly what was stored, whatever the crash lost in flight.
 *
 * The tail of the feed's subjects is read through a temporary consumer that
 * starts window sequence numbers back (event mode: window stream messages;
 * batch mode: as many EventBatch messages as cover window sequence numbers),
 * and each event's header gives (session, seq, stock_locate, symbol). The
 * session is that of the last message. Its highest seq + 1 is `next`. Holes
 * below it are sequence numbers the earlier run had declared missing, or lost
 * in flight when it died: they are reported back to be recovered. Holes are
 * looked for above the highest seq of the first eighth of the messages read
 * (before that point the stream also holds late recoveries of older gaps, and
 * live messages older than the window), or from the first seq read when the
 * read began at the stream's first message.
 *
 * Not hot-path: runs once, before the RX core starts. Blocking (JetStream API
 * and fetches); allocates. */
#ifndef RESUME_H
#define RESUME_H

#include <stdbool.h>
#include <stdint.h>

#include "feed.h"

struct mdm_bus;

struct resume_params {
	struct mdm_bus *bus;
	const char *stream;         /* MD, or MDB in batch mode */
	const char *filter;         /* the feed's subjects: md.<feed>.> or mdb.<feed>.> */
	const char *feed;           /* header.feed of our events */
	const char *consumer;       /* temporary durable name (deleted before and after) */
	bool batch;                 /* payloads are EventBatch (else MarketEvent) */
	uint32_t batch_max_events;  /* batch mode: sequence window per batch */
	uint32_t partitions;        /* batch mode: batches per window at most */
	uint64_t window;            /* sequence numbers read back, >= 1024 */
	uint64_t timeout_ms;        /* for the whole read */
};

/* What the read found. */
struct resume_point {
	bool found;                 /* the stream holds events of this feed */
	char session[11];
	uint64_t join, next;        /* feed_resume's */
	uint64_t *gap_from, *gap_to;
	unsigned n_gaps;
	uint16_t *locates;
	char (*symbol_buf)[SYMBOLS_TEXT_MAX + 1]; /* symbol texts (symbols_text) */
	const char **symbols;
	unsigned n_symbols;
	uint64_t msgs_read;         /* stream messages read */
	uint64_t events_read;       /* events of the feed among them */
	uint64_t elapsed_ms;
};

/* ---- the scan (pure logic; resume_read feeds it) ---- */

struct resume_scan;

/* A scan that keeps the last `window` sequence numbers (rounded up to a power
 * of two). 0, -EINVAL (window 0 or above 2^32), -ENOMEM. */
int resume_scan_create(struct resume_scan **out, uint64_t window);
void resume_scan_destroy(struct resume_scan *sc);

/* The read began at the stream's first message: nothing of the feed is
 * older, so holes count from the first seq seen. */
void resume_scan_from_start(struct resume_scan *sc);

/* One event of the feed, in stream order. `context`: it comes from the first
 * eighth of the read, where only the highest seq matters (the hole floor). A
 * session other than the current one restarts the scan on it. */
void resume_scan_add(struct resume_scan *sc, const char *session, uint64_t seq, uint32_t locate, const char *symbol,
		     bool context);

/* Fill `out` (found, session, join, next, gaps, symbols; it allocates the
 * arrays, freed by resume_point_destroy). 0 or -ENOMEM. */
int resume_scan_finish(struct resume_scan *sc, struct resume_point *out);

/* Read the tail. Returns 0 and *out (found or not), or a negative errno with
 * detail in mdm_err_last() (server errors; -ETIMEDOUT when the read did not
 * finish within timeout_ms). Free with resume_point_destroy. */
int resume_read(const struct resume_params *p, struct resume_point **out);

void resume_point_destroy(struct resume_point *rp);

/* The feed_resume view of a found point (borrows its arrays). */
void resume_point_feed(const struct resume_point *rp, uint64_t now_ns, struct feed_resume *out);

#endif
