/* Send schedule, Eastern-time stamping and the MoldUDP64 stamping walk for
 * `mdmesh-loadgen send` (see sender.h). */
#include "sender.h"

#include <errno.h>
#include <string.h>

#include "mdm_clock.h"
#include "mdm_et.h"
#include "mdm_mem.h"

#define MOLD_HDR 20
#define ITCH_TS_OFF 5 /* type(1) locate(2) tracking(2), then timestamp(6) */
/* From one Eastern midnight, 26 h always lands in the next day (days are 23,
 * 24 or 25 h long), so its date gives the next midnight. */
#define ET_DAY_PLUS_NS (26 * 3600 * MDM_NS_PER_S)

static void sched_seg_set(struct sender_sched *s)
{
	uint64_t n = s->seg_no;

	if (!s->p.burst_rate) {
		s->seg_start_ns = 0;
		s->seg_end_ns = UINT64_MAX;
		s->seg_rate = s->p.rate;
	} else if (n & 1) {
		s->seg_start_ns = (n + 1) / 2 * s->p.burst_every_ns;
		s->seg_end_ns = s->seg_start_ns + s->p.burst_length_ns;
		s->seg_rate = s->p.burst_rate;
	} else {
		s->seg_start_ns = n ? n / 2 * s->p.burst_every_ns + s->p.burst_length_ns : 0;
		s->seg_end_ns = (n / 2 + 1) * s->p.burst_every_ns;
		s->seg_rate = s->p.rate;
	}
}

void sender_sched_init(struct sender_sched *s, const struct sender_sched_params *p)
{
	memset(s, 0, sizeof(*s));
	s->p = *p;
	sched_seg_set(s);
}

static uint64_t slots_in(uint64_t span_ns, uint64_t rate)
{
	return (uint64_t)(((unsigned __int128)span_ns * rate + MDM_NS_PER_S - 1) / MDM_NS_PER_S);
}

static void sched_seg_next(struct sender_sched *s)
{
	s->seg_first += slots_in(s->seg_end_ns - s->seg_start_ns, s->seg_rate);
	s->seg_no++;
	sched_seg_set(s);
}

uint64_t sender_sched_at(struct sender_sched *s, uint64_t k)
{
	for (;;) {
		uint64_t t = s->seg_start_ns +
			     (uint64_t)((unsigned __int128)(k - s->seg_first) * MDM_NS_PER_S / s->seg_rate);

		if (t < s->seg_end_ns)
			return t;
		sched_seg_next(s);
	}
}

uint64_t sender_sched_count(const struct sender_sched_params *p, uint64_t span_ns)
{
	struct sender_sched s;

	sender_sched_init(&s, p);
	while (s.seg_end_ns < span_ns)
		sched_seg_next(&s);
	return s.seg_first + slots_in(span_ns - s.seg_start_ns, s.seg_rate);
}

uint64_t sender_et_since_midnight(struct sender_et *et, uint64_t real_ns)
{
	if (real_ns < et->midnight_ns || real_ns >= et->next_midnight_ns) {
		uint64_t m, next;

		/* Both dates come from mdm_et_date, so they are valid and cannot fail. */
		(void)mdm_et_midnight_ns(mdm_et_date(real_ns), &m);
		(void)mdm_et_midnight_ns(mdm_et_date(m + ET_DAY_PLUS_NS), &next);
		et->midnight_ns = m;
		et->next_midnight_ns = next;
	}
	return real_ns - et->midnight_ns;
}

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

uint32_t sender_mold_walk(uint8_t *p, uint32_t len, bool stamp, uint64_t itch_ts)
{
	uint32_t count, off = MOLD_HDR, n = 0;

	if (len < MOLD_HDR)
		return 0;
	count = be16(p + 18);
	if (count == 0xffff) /* end of session: no blocks */
		return 0;
	while (n < count && off + 2 <= len) {
		uint32_t ml = be16(p + off);

		if (ml == 0 || off + 2 + ml > len)
			break;
		if (stamp && ml >= ITCH_TS_OFF + 6) {
			uint8_t *t = p + off + 2 + ITCH_TS_OFF;
			uint64_t v = itch_ts;

			for (int i = 5; i >= 0; i--, v >>= 8)
				t[i] = (uint8_t)v;
		}
		off += 2 + ml;
		n++;
	}
	return n;
}


/* ---- the store ---- */

#define STORE_ABSENT UINT64_MAX
#define SESSION_LEN 10

struct sender_store {
	uint8_t session[SESSION_LEN];
	bool has_session;
	uint64_t base;      /* sequence number of off[0] */
	uint64_t *off;      /* per sequence: offset of its block (u16 length + message) in bytes[] */
	uint64_t n, n_cap;
	uint8_t *bytes;
	uint64_t len, cap;
};

int sender_store_create(struct sender_store **out)
{
	*out = mdm_calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void sender_store_destroy(struct sender_store *st)
{
	if (!st)
		return;
	mdm_free(st->off);
	mdm_free(st->bytes);
	mdm_free(st);
}

/* Only grows: doubling keeps appends amortised O(1). */
static int grow(void **p, uint64_t *cap, uint64_t need, size_t elem)
{
	uint64_t c = *cap ? *cap : 4096;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	q = mdm_realloc(*p, c * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int sender_store_add(struct sender_store *st, const uint8_t *p, uint32_t len)
{
	uint32_t count, off = MOLD_HDR, k = 0, end;
	uint64_t seq;

	if (len < MOLD_HDR)
		return 0;
	count = be16(p + 18);
	seq = be64(p + 10);
	if (count == 0 || count == 0xffff || seq == 0)
		return 0;
	/* the whole framing first: a malformed packet records nothing */
	for (end = MOLD_HDR; k < count; k++) {
		if (end + 2 > len || be16(p + end) == 0 || end + 2 + be16(p + end) > len)
			return 0;
		end += 2 + be16(p + end);
	}
	if (!st->has_session || memcmp(st->session, p, SESSION_LEN) != 0) {
		memcpy(st->session, p, SESSION_LEN);
		st->has_session = true;
		st->base = seq;
		st->n = 0;
		st->len = 0;
	}
	if (seq < st->base)
		return 0;
	if (grow((void **)&st->off, &st->n_cap, seq + count - st->base, sizeof(uint64_t)) ||
	    grow((void **)&st->bytes, &st->cap, st->len + (end - MOLD_HDR), 1))
		return -ENOMEM;
	while (st->base + st->n < seq)
		st->off[st->n++] = STORE_ABSENT;
	k = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t ml = be16(p + off);
		uint64_t s = seq + i;

		if (s >= st->base + st->n) {
			/* new: append (an already stored one, e.g. a duplicate, stays) */
			st->off[st->n++] = st->len;
			memcpy(st->bytes + st->len, p + off, 2 + ml);
			st->len += 2 + ml;
			k++;
		}
		off += 2 + ml;
	}
	return (int)k;
}

const uint8_t *sender_store_session(const struct sender_store *st)
{
	return st->has_session ? st->session : NULL;
}

uint64_t sender_store_next(const struct sender_store *st)
{
	return st->has_session ? st->base + st->n : 0;
}

static bool refused(const struct sender_range *refuse, unsigned n, uint64_t seq)
{
	for (unsigned i = 0; i < n; i++)
		if (seq >= refuse[i].first && seq <= refuse[i].last)
			return true;
	return false;
}

static bool servable(const struct sender_store *st, const struct sender_range *refuse, unsigned n_refuse, uint64_t s)
{
	return s >= st->base && s < st->base + st->n && st->off[s - st->base] != STORE_ABSENT &&
	       !refused(refuse, n_refuse, s);
}

uint32_t sender_store_answer(const struct sender_store *st, uint64_t *seq, uint64_t last,
			     const struct sender_range *refuse, unsigned n_refuse, uint8_t *out, uint32_t cap)
{
	uint64_t s = *seq, first, stop = last;
	uint32_t len = MOLD_HDR, count = 0;

	if (!st->has_session || cap < MOLD_HDR || st->n == 0 || s > last) {
		*seq = last + 1;
		return 0;
	}
	if (stop >= st->base + st->n)
		stop = st->base + st->n - 1; /* nothing stored beyond */
	if (s < st->base)
		s = st->base;
	while (s <= stop && !servable(st, refuse, n_refuse, s))
		s++;
	if (s > stop) {
		*seq = last + 1;
		return 0;
	}
	last = stop;
	first = s;
	while (s <= last && count < 0xfffe && servable(st, refuse, n_refuse, s)) {
		const uint8_t *b = st->bytes + st->off[s - st->base];
		uint32_t bl = 2 + be16(b);

		if (len + bl > cap)
			break;
		memcpy(out + len, b, bl);
		len += bl;
		count++;
		s++;
	}
	if (count == 0) {
		/* one message larger than cap: skip it rather than loop forever */
		*seq = first + 1;
		return 0;
	}
	memcpy(out, st->session, SESSION_LEN);
	for (int i = 0; i < 8; i++)
		out[10 + i] = (uint8_t)(first >> (56 - 8 * i));
	out[18] = (uint8_t)(count >> 8);
	out[19] = (uint8_t)count;
	*seq = s;
	return len;
}
