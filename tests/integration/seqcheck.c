/* seqcheck: the fault tests' one way of counting sequence numbers end to end.
 * It reads (session, seq) pairs from a JetStream stream (MarketEvent on md.*,
 * EventBatch on mdb.*, or the original events inside DLQ dead letters) or
 * from text lines (a store query: "SESSION SEQ" per line), and checks that
 * every expected sequence number is there exactly once: none lost, none
 * doubled, none invented, and what is missing is exactly what the collector
 * reported dropped.
 *
 *   seqcheck stream URL [--stream MD] [checks]   read the whole stream
 *   seqcheck lines [checks] < rows.txt            "SESSION SEQ" lines
 * checks:
 *   --session S        only this session (others, and messages that do not
 *                      decode at all, are counted on stderr, not checked)
 *   --expect A-B       the sequence numbers that were sent (default: the
 *                      lowest to the highest seen)
 *   --dropped FILE     ranges "A-B", one per line, reported dropped: exactly
 *                      these must be missing (and nothing else)
 *   --missing-ok       report missing numbers without failing (e.g. for a DLQ)
 *   --print-missing    print the missing ranges on stderr, one "A-B" per line
 *   --list             only print every "SESSION SEQ" read, no checks (to
 *                      merge sources: seqcheck stream ... --list | sort ...)
 * Prints one summary line per checked session (other sessions: a count on
 * stderr); exit 0 when every check holds, 1 when one fails, 2 on usage or
 * read errors. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdm_bus.h"
#include "mdm_err.h"
#include "mdmesh/v1/events.pb-c.h"

#define SESSION_MAX 32
#define SESSIONS_MAX 64
#define FETCH_BATCH 512
#define FETCH_WAIT_MS 2000
#define PRINT_RANGES_MAX 20

struct range {
	uint64_t a, b;
};

struct ranges {
	struct range *v;
	size_t n, cap;
};

/* One session's sequence numbers as read (duplicates included). */
struct session {
	char name[SESSION_MAX + 1];
	uint64_t *seq;
	size_t n, cap;
};

struct opts {
	const char *session;
	bool has_expect;
	uint64_t expect_a, expect_b;
	const char *dropped;
	bool missing_ok, print_missing, list;
};

struct check {
	struct opts o;
	struct session s[SESSIONS_MAX];
	size_t n_sessions;
	uint64_t records, undecodable;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "seqcheck: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *grow(void *p, size_t *cap, size_t elem)
{
	*cap = *cap ? *cap * 2 : 4096;
	p = realloc(p, *cap * elem);
	if (!p)
		die("%s", "out of memory");
	return p;
}

static void ranges_add(struct ranges *r, uint64_t a, uint64_t b)
{
	if (r->n && a == r->v[r->n - 1].b + 1) {
		r->v[r->n - 1].b = b; /* adjacent to the last one: extend it */
		return;
	}
	if (r->n == r->cap)
		r->v = grow(r->v, &r->cap, sizeof(*r->v));
	r->v[r->n++] = (struct range){ a, b };
}

static void add(struct check *c, const char *session, uint64_t seq)
{
	struct session *s = NULL;

	c->records++;
	if (c->o.list && (!c->o.session || strcmp(c->o.session, session) == 0))
		printf("%s %" PRIu64 "\n", session, seq);
	for (size_t i = 0; i < c->n_sessions; i++)
		if (strcmp(c->s[i].name, session) == 0)
			s = &c->s[i];
	if (!s) {
		if (c->n_sessions == SESSIONS_MAX || strlen(session) > SESSION_MAX)
			die("too many sessions, or session '%s' too long", session);
		s = &c->s[c->n_sessions++];
		snprintf(s->name, sizeof(s->name), "%s", session);
	}
	if (s->n == s->cap)
		s->seq = grow(s->seq, &s->cap, sizeof(*s->seq));
	s->seq[s->n++] = seq;
}

/* ---- sources ---- */

static void add_event(struct check *c, const Mdmesh__V1__MarketEvent *ev)
{
	if (!ev || !ev->header) {
		c->undecodable++;
		return;
	}
	add(c, ev->header->session, ev->header->seq);
}

/* One stream message: a MarketEvent, an EventBatch, or a DeadLetter whose
 * payload is the original MarketEvent. */
static void add_msg(struct check *c, struct mdm_bus_msg *m)
{
	const char *subject = mdm_bus_msg_subject(m);
	const uint8_t *data = mdm_bus_msg_data(m);
	size_t len = mdm_bus_msg_len(m);

	if (strncmp(subject, "mdb.", 4) == 0) {
		Mdmesh__V1__EventBatch *b = mdmesh__v1__event_batch__unpack(NULL, len, data);

		if (!b) {
			c->undecodable++;
			return;
		}
		for (size_t i = 0; i < b->n_events; i++)
			add_event(c, b->events[i]);
		mdmesh__v1__event_batch__free_unpacked(b, NULL);
	} else if (strncmp(subject, "dlq.", 4) == 0) {
		Mdmesh__V1__DeadLetter *dl = mdmesh__v1__dead_letter__unpack(NULL, len, data);
		Mdmesh__V1__MarketEvent *ev =
			dl ? mdmesh__v1__market_event__unpack(NULL, dl->payload.len, dl->payload.data) : NULL;

		add_event(c, ev);
		if (ev)
			mdmesh__v1__market_event__free_unpacked(ev, NULL);
		if (dl)
			mdmesh__v1__dead_letter__free_unpacked(dl, NULL);
	} else {
		Mdmesh__V1__MarketEvent *ev = mdmesh__v1__market_event__unpack(NULL, len, data);

		add_event(c, ev);
		if (ev)
			mdmesh__v1__market_event__free_unpacked(ev, NULL);
	}
}

/* Every message of `stream` up to its last sequence at the start, through a
 * temporary durable consumer (deleted at the end). */
static int read_stream(struct check *c, const char *url, const char *stream)
{
	struct mdm_bus_params bp;
	struct mdm_bus *bus = NULL;
	struct mdm_bus_sub *sub = NULL;
	struct mdm_bus_stream_info si;
	struct mdm_consumer_cfg cc = { .max_ack_pending = 8 * FETCH_BATCH };
	struct mdm_bus_msg *msgs[FETCH_BATCH];
	char durable[64];
	uint64_t last = 0;
	int rc;

	mdm_bus_params_init(&bp);
	bp.urls = url;
	bp.name = "seqcheck";
	if (mdm_bus_create(&bus, &bp) != 0)
		die("%s", mdm_err_last());
	rc = mdm_bus_stream_info(bus, stream, &si);
	if (rc != 0) {
		fprintf(stderr, "seqcheck: stream %s: %s\n", stream, mdm_err_last());
		mdm_bus_destroy(bus);
		return 2;
	}
	snprintf(durable, sizeof(durable), "seqcheck_%ld", (long)getpid());
	if (si.msgs > 0) {
		rc = mdm_bus_consumer_create_at(bus, stream, durable, &cc, si.first_seq, 0);
		if (rc == 0)
			rc = mdm_bus_pull_subscribe(bus, stream, durable, &sub);
		while (rc == 0 && last < si.last_seq) {
			size_t n = 0;

			rc = mdm_bus_fetch(sub, FETCH_BATCH, FETCH_WAIT_MS, msgs, &n);
			if (rc == 0 && n == 0) {
				rc = mdm_err_set(-ETIMEDOUT, "stream %s: nothing after stream sequence %" PRIu64
							     " within %d ms (last %" PRIu64 ")",
						 stream, last, FETCH_WAIT_MS, si.last_seq);
				break;
			}
			for (size_t i = 0; rc == 0 && i < n; i++) {
				struct mdm_bus_msg_meta meta;

				if (mdm_bus_msg_meta(msgs[i], &meta) == 0 && meta.stream_seq > last)
					last = meta.stream_seq;
				add_msg(c, msgs[i]);
				mdm_bus_ack(msgs[i]);
			}
			mdm_bus_msgs_free(msgs, n);
		}
		if (rc != 0)
			fprintf(stderr, "seqcheck: stream %s: %s\n", stream, mdm_err_last());
		mdm_bus_sub_destroy(sub);
		mdm_bus_consumer_delete(bus, stream, durable);
	}
	mdm_bus_destroy(bus);
	return rc == 0 ? 0 : 2;
}

static int read_lines(struct check *c)
{
	char line[256], session[SESSION_MAX + 2];
	unsigned long long seq;
	uint64_t lineno = 0;

	while (fgets(line, sizeof(line), stdin)) {
		lineno++;
		if (line[0] == '\n')
			continue;
		if (sscanf(line, "%33s %llu", session, &seq) != 2) {
			fprintf(stderr, "seqcheck: stdin:%" PRIu64 ": expected 'SESSION SEQ', got: %s", lineno, line);
			return 2;
		}
		add(c, session, seq);
	}
	return 0;
}

/* ---- checks ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->a < y->a ? -1 : x->a > y->a;
}

static int parse_range(const char *s, uint64_t *a, uint64_t *b)
{
	char *end;

	*a = strtoull(s, &end, 10);
	if (end == s || *end != '-')
		return -EINVAL;
	s = end + 1;
	*b = strtoull(s, &end, 10);
	if (end == s || (*end && *end != '\n' && *end != ' ') || *b < *a)
		return -EINVAL;
	return 0;
}

static void read_dropped(const char *path, struct ranges *out)
{
	FILE *f = fopen(path, "r");
	struct ranges raw = { 0 };
	char line[128];

	if (!f)
		die("--dropped %s: cannot open", path);
	while (fgets(line, sizeof(line), f)) {
		uint64_t a, b;

		if (line[0] == '\n')
			continue;
		if (parse_range(line, &a, &b) != 0)
			die("--dropped: bad range line: %s", line);
		if (raw.n == raw.cap)
			raw.v = grow(raw.v, &raw.cap, sizeof(*raw.v));
		raw.v[raw.n++] = (struct range){ a, b };
	}
	fclose(f);
	qsort(raw.v, raw.n, sizeof(*raw.v), cmp_range);
	for (size_t i = 0; i < raw.n; i++) {
		if (out->n && raw.v[i].a <= out->v[out->n - 1].b + 1) {
			if (raw.v[i].b > out->v[out->n - 1].b)
				out->v[out->n - 1].b = raw.v[i].b;
			continue;
		}
		ranges_add(out, raw.v[i].a, raw.v[i].b);
	}
	free(raw.v);
}

static void print_ranges(const char *what, const struct ranges *r)
{
	printf("%s", what);
	for (size_t i = 0; i < r->n && i < PRINT_RANGES_MAX; i++)
		printf(" %" PRIu64 "-%" PRIu64, r->v[i].a, r->v[i].b);
	if (r->n > PRINT_RANGES_MAX)
		printf(" ...");
}

static bool ranges_equal(const struct ranges *x, const struct ranges *y)
{
	if (x->n != y->n)
		return false;
	for (size_t i = 0; i < x->n; i++)
		if (x->v[i].a != y->v[i].a || x->v[i].b != y->v[i].b)
			return false;
	return true;
}

/* Check one session; prints its summary line. 0 when exact. */
static int check_session(const struct check *c, struct session *s, const struct ranges *dropped)
{
	struct ranges missing = { 0 }, dups = { 0 };
	uint64_t lo, hi, distinct = 0, dup = 0, outside = 0, n_missing = 0;
	bool ok;

	qsort(s->seq, s->n, sizeof(*s->seq), cmp_u64);
	lo = c->o.has_expect ? c->o.expect_a : s->seq[0];
	hi = c->o.has_expect ? c->o.expect_b : s->seq[s->n - 1];
	for (size_t i = 0; i < s->n; i++) {
		uint64_t q = s->seq[i];

		if (i && q == s->seq[i - 1]) {
			dup++;
			ranges_add(&dups, q, q);
			continue;
		}
		distinct++;
		if (q < lo || q > hi)
			outside++;
	}
	/* the holes of [lo, hi] */
	{
		uint64_t next = lo;

		for (size_t i = 0; i < s->n; i++) {
			uint64_t q = s->seq[i];

			if (q < next || q > hi)
				continue;
			if (q > next)
				ranges_add(&missing, next, q - 1);
			next = q + 1;
		}
		if (next <= hi)
			ranges_add(&missing, next, hi);
	}
	for (size_t i = 0; i < missing.n; i++)
		n_missing += missing.v[i].b - missing.v[i].a + 1;
	ok = dup == 0 && outside == 0;
	if (dropped)
		ok = ok && ranges_equal(&missing, dropped);
	else if (!c->o.missing_ok)
		ok = ok && n_missing == 0;
	printf("seqcheck: session %s: %zu records, %" PRIu64 " distinct in %" PRIu64 "-%" PRIu64 ", %" PRIu64
	       " doubled, %" PRIu64 " missing in %zu ranges, %" PRIu64 " outside",
	       s->name, s->n, distinct, lo, hi, dup, n_missing, missing.n, outside);
	if (dropped)
		printf(dropped && ranges_equal(&missing, dropped) ? "; missing = the %zu dropped ranges" :
								   "; NOT the %zu dropped ranges",
		       dropped->n);
	if (dup)
		print_ranges("; doubled:", &dups);
	if (missing.n && (!ok || c->o.missing_ok))
		print_ranges("; missing:", &missing);
	if (dropped && !ranges_equal(&missing, dropped))
		print_ranges("; dropped:", dropped);
	printf(": %s\n", ok ? "exact" : "MISMATCH");
	if (c->o.print_missing)
		for (size_t i = 0; i < missing.n; i++)
			fprintf(stderr, "%" PRIu64 "-%" PRIu64 "\n", missing.v[i].a, missing.v[i].b);
	free(missing.v);
	free(dups.v);
	return ok ? 0 : 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: seqcheck stream URL [--stream NAME] [checks]\n"
		   "       seqcheck lines [checks] < 'SESSION SEQ' lines\n"
		   "checks: --session S  --expect A-B  --dropped FILE  --missing-ok  --print-missing  --list\n"
		   "Every expected sequence number exactly once; missing = exactly the --dropped ranges.\n"
		   "Exit 0 exact, 1 mismatch, 2 usage or read error. --print-missing writes to stderr.\n");
}

int main(int argc, char **argv)
{
	static struct check c;
	const char *mode, *url = NULL, *stream = "MD";
	struct ranges dropped = { 0 };
	int i = 2, rc, bad = 0, checked = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	mode = argv[1];
	if (strcmp(mode, "stream") == 0) {
		if (argc < 3)
			die("%s", "stream needs a URL");
		url = argv[i++];
	} else if (strcmp(mode, "lines") != 0) {
		die("unknown mode '%s' (stream or lines)", mode);
	}
	for (; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--missing-ok") == 0) {
			c.o.missing_ok = true;
		} else if (strcmp(a, "--print-missing") == 0) {
			c.o.print_missing = true;
		} else if (strcmp(a, "--list") == 0) {
			c.o.list = true;
		} else if (!v) {
			die("%s needs a value (or is unknown)", a);
		} else if (strcmp(a, "--stream") == 0) {
			stream = v, i++;
		} else if (strcmp(a, "--session") == 0) {
			c.o.session = v, i++;
		} else if (strcmp(a, "--dropped") == 0) {
			c.o.dropped = v, i++;
		} else if (strcmp(a, "--expect") == 0) {
			if (parse_range(v, &c.o.expect_a, &c.o.expect_b) != 0)
				die("--expect '%s': want A-B", v);
			c.o.has_expect = true, i++;
		} else {
			die("unknown option %s", a);
		}
	}
	if (c.o.dropped)
		read_dropped(c.o.dropped, &dropped);
	rc = url ? read_stream(&c, url, stream) : read_lines(&c);
	if (rc != 0)
		return rc;
	if (c.undecodable) {
		/* such a message has no session: with --session it is not one of
		 * the checked session's (a poison test payload, say) */
		bool counts = !c.o.session && !c.o.list;

		fprintf(counts ? stdout : stderr, "seqcheck: %" PRIu64 " messages without a decodable MarketEvent header%s\n",
			c.undecodable, counts ? ": MISMATCH" : " (not checked)");
		bad |= counts;
	}
	for (size_t k = 0; k < c.n_sessions && !c.o.list; k++) {
		if (c.o.session && strcmp(c.s[k].name, c.o.session) != 0) {
			fprintf(stderr, "seqcheck: session %s: %zu records (not checked)\n", c.s[k].name, c.s[k].n);
			continue;
		}
		checked++;
		bad |= check_session(&c, &c.s[k], c.o.dropped ? &dropped : NULL);
	}
	if (checked == 0 && !c.o.list) {
		printf("seqcheck: no records%s%s: MISMATCH\n", c.o.session ? " of session " : "",
		       c.o.session ? c.o.session : "");
		bad = 1;
	}
	for (size_t k = 0; k < c.n_sessions; k++)
		free(c.s[k].seq);
	free(dropped.v);
	return bad;
}
