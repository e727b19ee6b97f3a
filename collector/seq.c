/* Sequencer: session tracking, A/B arbitration and the missing-range table.
 * The model and its policies are described in seq.h. */
#include "seq.h"

#include <errno.h>
#include <string.h>

#include "mdm_counter.h"
#include "mdm_mem.h"

#define SEQ_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* One missing range. Ranges are disjoint and sorted ascending; new holes are
 * always appended, since they open at `next`, above every existing range. */
struct seq_gap {
	uint64_t from, to;  /* inclusive */
	uint64_t opened_ns; /* now_ns of the packet that opened the hole */
	bool declared;      /* false = pending (see seq.h) */
};

struct seq {
	struct seq_stats stats;
	uint64_t next;                      /* merged stream's next new seq */
	uint64_t join;                      /* first seq of this session as joined */
	uint64_t line_next[SEQ_MAX_LINES];  /* per line: last data seq + 1, or HB/EOS seq; 0 = silent */
	struct seq_gap *gaps;               /* cap slots, n used */
	uint32_t n, cap;
	uint32_t n_pending;                 /* gaps[] entries with declared == false */
	unsigned n_lines;
	uint64_t pending_ns;
	bool has_session, has_prev, eos_seen;
	bool resumed;                       /* session from seq_resume, not yet seen on the wire */
	uint8_t session[SEQ_SESSION_LEN];
	uint8_t prev[SEQ_SESSION_LEN];
	void (*on_event)(void *ctx, const struct seq_event *ev);
	void *ctx;
};

int seq_create(struct seq **out, const struct seq_params *params)
{
	struct seq_params p = { 0 };
	struct seq *s;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (params)
		p = *params;
	if (p.n_lines > SEQ_MAX_LINES)
		return -EINVAL;
	s = mdm_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->n_lines = p.n_lines ? p.n_lines : 1;
	s->cap = p.gap_capacity ? p.gap_capacity : SEQ_GAP_CAPACITY_DEFAULT;
	s->pending_ns = p.pending_ns ? p.pending_ns : SEQ_PENDING_NS_DEFAULT;
	s->on_event = p.on_event;
	s->ctx = p.ctx;
	s->gaps = mdm_calloc(s->cap, sizeof(*s->gaps));
	if (!s->gaps) {
		mdm_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void seq_destroy(struct seq *s)
{
	if (!s)
		return;
	mdm_free(s->gaps);
	mdm_free(s);
}

static void seq_emit(struct seq *s, uint8_t type, uint8_t line, uint64_t from, uint64_t to, bool declared)
{
	struct seq_event ev = {
		.type = type, .line = line, .declared = declared,
		.from = from, .to = to, .session = s->session,
	};

	if (s->on_event)
		s->on_event(s->ctx, &ev);
}

/* Take gaps[i]'s messages out of the gauges, as evicted or abandoned. */
static void seq_gap_forget(struct seq *s, const struct seq_gap *g, bool abandon)
{
	uint64_t n = g->to - g->from + 1;

	if (g->declared) {
		mdm_counter_sub(&s->stats.missing_now, n);
		if (abandon)
			mdm_counter_add(&s->stats.gap_msgs_abandoned, n);
		else
			mdm_counter_add(&s->stats.gap_msgs_evicted, n);
	} else {
		mdm_counter_sub(&s->stats.pending_now, n);
		s->n_pending--;
	}
}

static void seq_gap_erase(struct seq *s, uint32_t i)
{
	memmove(&s->gaps[i], &s->gaps[i + 1], (s->n - i - 1) * sizeof(s->gaps[0]));
	s->n--;
}

/* Make room for one more range by evicting the oldest (see seq.h). */
static void seq_evict_oldest(struct seq *s, uint8_t line)
{
	struct seq_gap g = s->gaps[0];

	seq_gap_forget(s, &g, false);
	seq_gap_erase(s, 0);
	mdm_counter_add(&s->stats.gaps_evicted, 1);
	seq_emit(s, SEQ_EV_GAP_EVICTED, line, g.from, g.to, g.declared);
}

static void seq_hole_add(struct seq *s, uint64_t from, uint64_t to, uint8_t line, uint64_t now_ns)
{
	if (s->n == s->cap)
		seq_evict_oldest(s, line);
	s->gaps[s->n++] = (struct seq_gap){ .from = from, .to = to, .opened_ns = now_ns };
	s->n_pending++;
	mdm_counter_add(&s->stats.pending_now, to - from + 1);
}

static void seq_gap_declare(struct seq *s, struct seq_gap *g, uint8_t line)
{
	uint64_t n = g->to - g->from + 1;

	g->declared = true;
	s->n_pending--;
	mdm_counter_sub(&s->stats.pending_now, n);
	mdm_counter_add(&s->stats.missing_now, n);
	mdm_counter_add(&s->stats.gaps_opened, 1);
	mdm_counter_add(&s->stats.gap_msgs_missing, n);
	seq_emit(s, SEQ_EV_GAP_OPENED, line, g->from, g->to, true);
}

/* Declare pending holes that every arbitrated line has passed, or that
 * waited pending_ns. Runs only while a pending hole exists. */
static unsigned seq_declare(struct seq *s, uint8_t line, uint64_t now_ns)
{
	uint64_t min_next = UINT64_MAX;
	unsigned declared = 0;

	if (s->n_pending == 0)
		return 0;
	for (unsigned l = 0; l < s->n_lines; l++)
		if (s->line_next[l] < min_next)
			min_next = s->line_next[l];
	for (uint32_t i = 0; i < s->n; i++) {
		struct seq_gap *g = &s->gaps[i];

		if (g->declared)
			continue;
		if (!(g->to < min_next || (now_ns >= g->opened_ns && now_ns - g->opened_ns >= s->pending_ns)))
			continue;
		seq_gap_declare(s, g, line);
		declared++;
	}
	return declared;
}

static void seq_table_clear(struct seq *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		seq_gap_forget(s, &s->gaps[i], true);
	s->n = 0;
}

/* A session change: every range of the old session is abandoned, and said so
 * range by range, so whoever follows the table (gap recovery) can report
 * exactly what was lost. */
static void seq_table_abandon(struct seq *s, uint8_t line)
{
	for (uint32_t i = 0; i < s->n; i++)
		seq_emit(s, SEQ_EV_GAP_ABANDONED, line, s->gaps[i].from, s->gaps[i].to, s->gaps[i].declared);
	seq_table_clear(s);
}

static void seq_session_adopt(struct seq *s, const uint8_t *session, uint64_t start, uint8_t line)
{
	seq_table_abandon(s, line);
	memcpy(s->session, session, SEQ_SESSION_LEN);
	s->has_session = true;
	s->next = start;
	s->join = start;
	s->eos_seen = false;
	memset(s->line_next, 0, sizeof(s->line_next));
	mdm_counter_add(&s->stats.sessions, 1);
	seq_emit(s, SEQ_EV_SESSION_CHANGE, line, start, start, false);
}

static size_t seq_session_trim(const uint8_t *p)
{
	size_t n = SEQ_SESSION_LEN;

	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
		n--;
	return n;
}

static bool seq_session_same(const uint8_t *a, const uint8_t *b)
{
	size_t n = seq_session_trim(a);

	return n == seq_session_trim(b) && memcmp(a, b, n) == 0;
}

/* Returns false when the packet belongs to the previous session. */
static bool seq_session_check(struct seq *s, const struct seq_pkt *pkt)
{
	if (SEQ_UNLIKELY(!s->has_session)) {
		seq_session_adopt(s, pkt->session, pkt->seq, pkt->line);
		return true;
	}
	if (__builtin_expect(memcmp(pkt->session, s->session, SEQ_SESSION_LEN) == 0, 1)) {
		if (SEQ_UNLIKELY(s->resumed))
			s->resumed = false;
		return true;
	}
	if (SEQ_UNLIKELY(s->resumed)) {
		s->resumed = false;
		if (seq_session_same(pkt->session, s->session)) {
			/* same session, padded differently than we stored it */
			memcpy(s->session, pkt->session, SEQ_SESSION_LEN);
			return true;
		}
		/* another session: join it where found, as a first session */
		s->has_prev = false;
		seq_session_adopt(s, pkt->session, pkt->seq, pkt->line);
		return true;
	}
	if (s->has_prev && memcmp(pkt->session, s->prev, SEQ_SESSION_LEN) == 0)
		return false;
	memcpy(s->prev, s->session, SEQ_SESSION_LEN);
	s->has_prev = true;
	seq_session_adopt(s, pkt->session, 1, pkt->line);
	return true;
}

/* Append [first, first + count) (packet indexes) to the verdict, merging
 * with the previous range when adjacent. False when no slot is left. */
static bool seq_verdict_add(struct seq_verdict *v, uint32_t first, uint32_t count, uint32_t limit)
{
	struct seq_range *last = v->n_ranges ? &v->range[v->n_ranges - 1] : NULL;

	if (last && (uint32_t)last->first + last->count == first) {
		last->count = (uint16_t)(last->count + count);
	} else {
		if (v->n_ranges >= limit)
			return false;
		v->range[v->n_ranges++] = (struct seq_range){ (uint16_t)first, (uint16_t)count };
	}
	v->delivered += count;
	return true;
}

/* First range with to >= seq (binary search; ranges are sorted and disjoint). */
static uint32_t seq_gap_lower(const struct seq *s, uint64_t seq)
{
	uint32_t lo = 0, hi = s->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->gaps[mid].to < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Deliver the parts of [lo, hi] (all below next) that are missing; the rest
 * are duplicates. `limit` caps the verdict ranges used here. */
static void seq_fill(struct seq *s, const struct seq_pkt *pkt, uint64_t lo, uint64_t hi,
		     struct seq_verdict *v, uint32_t limit)
{
	uint64_t total = hi - lo + 1, taken = 0;
	uint32_t i;

	if (lo < s->join) {
		uint64_t pre = (hi < s->join ? hi : s->join - 1) - lo + 1;

		mdm_counter_add(&s->stats.pre_join, pre);
		total -= pre;
		if (hi < s->join)
			goto done;
		lo = s->join;
	}
	i = seq_gap_lower(s, lo);
	while (i < s->n && s->gaps[i].from <= hi) {
		struct seq_gap *g = &s->gaps[i];
		uint64_t a = g->from > lo ? g->from : lo;
		uint64_t b = g->to < hi ? g->to : hi;
		uint64_t n = b - a + 1;
		bool declared = g->declared;

		taken += n;
		if (!seq_verdict_add(v, (uint32_t)(a - pkt->seq), (uint32_t)n, limit)) {
			v->deferred += (uint32_t)n;
			mdm_counter_add(&s->stats.deferred, n);
			i++;
			continue;
		}
		if (declared) {
			mdm_counter_sub(&s->stats.missing_now, n);
			mdm_counter_add(&s->stats.gap_msgs_filled, n);
			mdm_counter_add(&s->stats.gaps_filled, 1);
		} else {
			mdm_counter_sub(&s->stats.pending_now, n);
			mdm_counter_add(&s->stats.pending_msgs_filled, n);
		}
		if (a == g->from && b == g->to) {
			if (!declared)
				s->n_pending--;
			seq_gap_erase(s, i);
		} else if (a == g->from) {
			g->from = b + 1;
			i++;
		} else if (b == g->to) {
			g->to = a - 1;
			i++;
		} else if (s->n < s->cap) {
			memmove(&s->gaps[i + 2], &s->gaps[i + 1], (s->n - i - 1) * sizeof(s->gaps[0]));
			s->gaps[i + 1] = *g;
			s->gaps[i + 1].from = b + 1;
			g->to = a - 1;
			s->n++;
			if (!declared)
				s->n_pending++;
			i += 2;
		} else if (i > 0) {
			/* Full: the split needs a slot, so the oldest range goes. */
			seq_evict_oldest(s, pkt->line);
			i--;
			memmove(&s->gaps[i + 2], &s->gaps[i + 1], (s->n - i - 1) * sizeof(s->gaps[0]));
			s->gaps[i + 1] = s->gaps[i];
			s->gaps[i + 1].from = b + 1;
			s->gaps[i].to = a - 1;
			s->n++;
			if (!declared)
				s->n_pending++;
			i += 2;
		} else {
			/* Full, and this range is the oldest: its lower part is the
			 * oldest missing data, so that part is what gets evicted. */
			struct seq_gap low = *g;

			low.to = a - 1;
			seq_gap_forget(s, &low, false);
			if (!declared)
				s->n_pending++; /* forget() counted the whole range out */
			mdm_counter_add(&s->stats.gaps_evicted, 1);
			g->from = b + 1;
			seq_emit(s, SEQ_EV_GAP_EVICTED, pkt->line, low.from, low.to, low.declared);
			i++;
		}
		if (declared)
			seq_emit(s, SEQ_EV_GAP_FILLED, pkt->line, a, b, true);
	}
done:
	v->duplicates += (uint32_t)(total - taken);
}

int seq_on_packet(struct seq *s, const struct seq_pkt *pkt, struct seq_verdict *v)
{
	struct seq_line_stats *ls;
	uint8_t line = pkt->line;
	uint64_t last;
	uint32_t count = pkt->end_of_session ? 0 : pkt->count;

	memset(v, 0, offsetof(struct seq_verdict, range));
	if (SEQ_UNLIKELY(line >= SEQ_MAX_LINES))
		return -EINVAL;
	ls = &s->stats.line[line];
	mdm_counter_add(&ls->packets, 1);
	/* Before the session check: a garbage header must not change sessions. */
	if (SEQ_UNLIKELY(pkt->seq == 0 || (count && pkt->seq > UINT64_MAX - count))) {
		v->drop = SEQ_DROP_BAD_SEQ;
		mdm_counter_add(&s->stats.bad_seq, 1);
		mdm_counter_add(&ls->dropped, 1);
		return 0;
	}
	if (SEQ_UNLIKELY(!seq_session_check(s, pkt))) {
		v->drop = SEQ_DROP_STALE_SESSION;
		mdm_counter_add(&s->stats.stale_session, 1);
		mdm_counter_add(&ls->dropped, 1);
		return 0;
	}
	if (SEQ_UNLIKELY(count == 0)) {
		/* Heartbeat or end-of-session: seq is the sender's next message,
		 * so anything between our next and it was sent and lost. */
		if (pkt->end_of_session) {
			mdm_counter_add(&ls->eos, 1);
			if (!s->eos_seen) {
				s->eos_seen = true;
				seq_emit(s, SEQ_EV_END_OF_SESSION, line, pkt->seq, pkt->seq, false);
			}
		} else {
			mdm_counter_add(&ls->heartbeats, 1);
		}
		if (pkt->seq > s->next) {
			seq_hole_add(s, s->next, pkt->seq - 1, line, pkt->now_ns);
			s->next = pkt->seq;
		}
		if (pkt->seq > s->line_next[line])
			s->line_next[line] = pkt->seq;
		seq_declare(s, line, pkt->now_ns);
		return 0;
	}
	mdm_counter_add(&ls->data, 1);
	last = pkt->seq + count - 1;
	if (__builtin_expect(pkt->seq == s->next, 1)) {
		/* The common case: in order, no table work. */
		v->n_ranges = 1;
		v->range[0] = (struct seq_range){ 0, (uint16_t)count };
		v->delivered = count;
		s->next = last + 1;
	} else if (pkt->seq > s->next) {
		seq_hole_add(s, s->next, pkt->seq - 1, line, pkt->now_ns);
		v->n_ranges = 1;
		v->range[0] = (struct seq_range){ 0, (uint16_t)count };
		v->delivered = count;
		s->next = last + 1;
	} else {
		bool tail = last >= s->next;

		/* Keep a verdict slot for the tail, which must be delivered now:
		 * `next` moves past it. */
		seq_fill(s, pkt, pkt->seq, tail ? s->next - 1 : last, v, SEQ_VERDICT_RANGES - tail);
		if (tail) {
			seq_verdict_add(v, (uint32_t)(s->next - pkt->seq), (uint32_t)(last - s->next + 1),
					SEQ_VERDICT_RANGES);
			s->next = last + 1;
		}
	}
	if (last + 1 > s->line_next[line])
		s->line_next[line] = last + 1;
	mdm_counter_add(&s->stats.delivered, v->delivered);
	mdm_counter_add(&s->stats.duplicates, v->duplicates);
	mdm_counter_add(&ls->delivered, v->delivered);
	mdm_counter_add(&ls->duplicates, v->duplicates);
	seq_declare(s, line, pkt->now_ns);
	return 0;
}

unsigned seq_poll(struct seq *s, uint64_t now_ns)
{
	return seq_declare(s, 0, now_ns);
}

unsigned seq_gaps(const struct seq *s, uint64_t *from, uint64_t *to, unsigned max)
{
	unsigned k = 0;

	for (uint32_t i = 0; i < s->n && k < max; i++) {
		if (!s->gaps[i].declared)
			continue;
		from[k] = s->gaps[i].from;
		to[k] = s->gaps[i].to;
		k++;
	}
	return k;
}

bool seq_gap_find(const struct seq *s, uint64_t lo, uint64_t hi, uint64_t *from, uint64_t *to)
{
	for (uint32_t i = seq_gap_lower(s, lo); i < s->n && s->gaps[i].from <= hi; i++) {
		if (!s->gaps[i].declared)
			continue;
		*from = s->gaps[i].from;
		*to = s->gaps[i].to;
		return true;
	}
	return false;
}

uint64_t seq_next(const struct seq *s)
{
	return s->has_session ? s->next : 0;
}

const uint8_t *seq_session(const struct seq *s)
{
	return s->has_session ? s->session : NULL;
}

const struct seq_stats *seq_stats(const struct seq *s)
{
	return &s->stats;
}

void seq_reset(struct seq *s)
{
	seq_table_clear(s);
	s->has_session = false;
	s->has_prev = false;
	s->resumed = false;
	s->eos_seen = false;
	s->next = 0;
	s->join = 0;
	memset(s->line_next, 0, sizeof(s->line_next));
}

int seq_resume(struct seq *s, const uint8_t *session, uint64_t join, uint64_t next, const uint64_t *from,
	       const uint64_t *to, unsigned n, uint64_t now_ns)
{
	uint64_t lo = join;

	if (join == 0 || join > next)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (from[i] < lo || from[i] > to[i] || to[i] >= next)
			return -EINVAL;
		lo = to[i] + 2; /* disjoint and not adjacent */
	}
	seq_session_adopt(s, session, next, 0);
	s->join = join;
	s->has_prev = false;
	s->resumed = true;
	for (unsigned i = 0; i < n; i++) {
		/* the earlier run had them declared or lost them in flight: no
		 * line will bring them, so no pending wait */
		seq_hole_add(s, from[i], to[i], 0, now_ns);
		seq_gap_declare(s, &s->gaps[s->n - 1], 0);
	}
	return 0;
}
