/* Send schedule, Eastern-time stamping and the MoldUDP64 stamping walk for
 * `mdmesh-loadgen send` (see sender.h). */
#include "sender.h"

#include <string.h>

#include "mdm_clock.h"
#include "mdm_et.h"

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

