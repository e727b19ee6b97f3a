/* Sequencer: in-order delivery, joins, gaps (pending vs declared), late
 * fills that shrink/split/close gaps, duplicates, gap-table overflow,
 * heartbeats, end-of-session, session changes and A/B arbitration. Every test
 * ends by checking the accounting invariant from seq.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <cmocka.h>

#include "mdm_counter.h"
#include "mdm_mem.h"
#include "seq.h"

#define LA 0 /* line A */
#define LB 1 /* line B */
#define PENDING_NS 1000

static const uint8_t S1[SEQ_SESSION_LEN] = { 'S', 'E', 'S', 'S', 'I', 'O', 'N', '0', '0', '1' };
static const uint8_t S2[SEQ_SESSION_LEN] = { 'S', 'E', 'S', 'S', 'I', 'O', 'N', '0', '0', '2' };
static const uint8_t S3[SEQ_SESSION_LEN] = { 'S', 'E', 'S', 'S', 'I', 'O', 'N', '0', '0', '3' };

/* Events seen through on_event. */
static struct {
	struct seq_event ev[64];
	unsigned n;
} evlog;

static void on_event(void *ctx, const struct seq_event *ev)
{
	assert_ptr_equal(ctx, &evlog);
	assert_true(evlog.n < 64);
	evlog.ev[evlog.n++] = *ev;
}

/* Events of one type, since `mark`. */
static unsigned ev_count(uint8_t type, unsigned mark)
{
	unsigned k = 0;

	for (unsigned i = mark; i < evlog.n; i++)
		k += evlog.ev[i].type == type;
	return k;
}

static const struct seq_event *ev_last(uint8_t type)
{
	for (unsigned i = evlog.n; i-- > 0;)
		if (evlog.ev[i].type == type)
			return &evlog.ev[i];
	return NULL;
}

static struct seq *mk(unsigned n_lines, uint32_t gap_capacity)
{
	struct seq_params p = {
		.n_lines = n_lines, .gap_capacity = gap_capacity, .pending_ns = PENDING_NS,
		.on_event = on_event, .ctx = &evlog,
	};
	struct seq *s;

	memset(&evlog, 0, sizeof(evlog));
	assert_int_equal(seq_create(&s, &p), 0);
	return s;
}

static struct seq_verdict v;

/* One packet; returns how many messages the verdict delivers. */
static int feed(struct seq *s, const uint8_t *session, uint8_t line, uint64_t seq, uint16_t count, uint64_t now_ns)
{
	struct seq_pkt pkt = { .session = session, .seq = seq, .count = count, .line = line, .now_ns = now_ns };
	uint32_t sum = 0;

	assert_int_equal(seq_on_packet(s, &pkt, &v), 0);
	for (uint32_t i = 0; i < v.n_ranges; i++)
		sum += v.range[i].count;
	assert_int_equal(sum, v.delivered);
	return (int)v.delivered;
}

static int data(struct seq *s, uint8_t line, uint64_t seq, uint16_t count)
{
	return feed(s, S1, line, seq, count, 0);
}

static int eos(struct seq *s, uint8_t line, uint64_t seq)
{
	struct seq_pkt pkt = { .session = S1, .seq = seq, .count = 0, .line = line, .end_of_session = true };

	assert_int_equal(seq_on_packet(s, &pkt, &v), 0);
	return (int)v.delivered;
}

static void want_range(unsigned i, uint16_t first, uint16_t count)
{
	assert_true(i < v.n_ranges);
	assert_int_equal(v.range[i].first, first);
	assert_int_equal(v.range[i].count, count);
}

/* Declared gaps, as "from-to,from-to". */
static void want_gaps(const struct seq *s, const char *want)
{
	uint64_t from[16], to[16];
	unsigned n = seq_gaps(s, from, to, 16);
	char got[256] = "";

	for (unsigned i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%llu-%llu", i ? "," : "",
			 (unsigned long long)from[i], (unsigned long long)to[i]);
	assert_string_equal(got, want);
}

static void check_invariant(const struct seq *s)
{
	const struct seq_stats *st = seq_stats(s);

	assert_true(st->gap_msgs_missing ==
		    st->gap_msgs_filled + st->gap_msgs_evicted + st->gap_msgs_abandoned + st->missing_now);
}

static void test_in_order_single_line(void **state)
{
	struct seq *s = mk(1, 0);

	assert_null(seq_session(s));
	assert_true(seq_next(s) == 0);
	for (uint64_t q = 1; q <= 7; q += 3) {
		assert_int_equal(data(s, LA, q, 3), 3);
		assert_int_equal(v.n_ranges, 1);
		want_range(0, 0, 3);
		assert_int_equal(v.duplicates, 0);
	}
	assert_true(seq_next(s) == 10);
	assert_memory_equal(seq_session(s), S1, SEQ_SESSION_LEN);
	assert_int_equal(seq_stats(s)->delivered, 9);
	assert_int_equal(seq_stats(s)->line[LA].packets, 3);
	assert_int_equal(seq_stats(s)->line[LA].data, 3);
	assert_int_equal(seq_stats(s)->sessions, 1);
	assert_int_equal(ev_count(SEQ_EV_SESSION_CHANGE, 0), 1);
	assert_int_equal(evlog.n, 1);
	check_invariant(s);
	seq_destroy(s);
}

static void test_cold_join_counts_pre_join(void **state)
{
	struct seq *s = mk(1, 0);

	assert_int_equal(data(s, LA, 1000, 2), 2);
	assert_true(seq_next(s) == 1002);
	assert_true(ev_last(SEQ_EV_SESSION_CHANGE)->from == 1000);
	assert_int_equal(data(s, LA, 998, 2), 0);
	assert_int_equal(seq_stats(s)->pre_join, 2);
	assert_int_equal(v.duplicates, 0);
	/* 999 pre-join, 1000-1001 duplicates, 1002 new. */
	assert_int_equal(data(s, LA, 999, 4), 1);
	want_range(0, 3, 1);
	assert_int_equal(v.duplicates, 2);
	assert_int_equal(seq_stats(s)->pre_join, 3);
	assert_int_equal(seq_stats(s)->gaps_opened, 0);
	check_invariant(s);
	seq_destroy(s);
}

static void test_single_line_gap_then_retransmission(void **state)
{
	struct seq *s = mk(1, 0);
	const struct seq_stats *st = seq_stats(s);

	data(s, LA, 1, 2);
	assert_int_equal(data(s, LA, 5, 2), 2);
	/* One line: nothing else can fill [3,4], so it is declared at once. */
	assert_int_equal(ev_count(SEQ_EV_GAP_OPENED, 0), 1);
	assert_true(ev_last(SEQ_EV_GAP_OPENED)->from == 3 && ev_last(SEQ_EV_GAP_OPENED)->to == 4);
	assert_int_equal(st->gaps_opened, 1);
	assert_int_equal(st->gap_msgs_missing, 2);
	assert_int_equal(st->missing_now, 2);
	want_gaps(s, "3-4");
	/* The retransmission arrives on the recovery channel (line 2). */
	assert_int_equal(data(s, 2, 3, 2), 2);
	want_range(0, 0, 2);
	assert_int_equal(v.duplicates, 0);
	assert_int_equal(ev_count(SEQ_EV_GAP_FILLED, 0), 1);
	assert_int_equal(ev_last(SEQ_EV_GAP_FILLED)->line, 2);
	assert_int_equal(st->missing_now, 0);
	assert_int_equal(st->gaps_filled, 1);
	assert_int_equal(st->gap_msgs_filled, 2);
	assert_int_equal(st->line[2].delivered, 2);
	want_gaps(s, "");
	assert_true(seq_next(s) == 7);
	check_invariant(s);
	seq_destroy(s);
}

static void test_late_fill_splits_and_shrinks(void **state)
{
	struct seq *s = mk(1, 0);

	data(s, LA, 1, 9);
	data(s, LA, 20, 1);
	want_gaps(s, "10-19");
	/* Middle: split. */
	assert_int_equal(data(s, LA, 14, 2), 2);
	want_gaps(s, "10-13,16-19");
	/* 12..17: delivers 12,13 and 16,17; 14,15 are duplicates now. */
	assert_int_equal(data(s, LA, 12, 6), 4);
	assert_int_equal(v.n_ranges, 2);
	want_range(0, 0, 2);
	want_range(1, 4, 2);
	assert_int_equal(v.duplicates, 2);
	want_gaps(s, "10-11,18-19");
	/* Front of the first, back of the last. */
	assert_int_equal(data(s, LA, 10, 1), 1);
	assert_int_equal(data(s, LA, 19, 1), 1);
	want_gaps(s, "11-11,18-18");
	assert_int_equal(seq_stats(s)->missing_now, 2);
	assert_int_equal(seq_stats(s)->gap_msgs_filled, 8);
	assert_int_equal(seq_stats(s)->gaps_filled, 5);
	/* 11..22 spans both holes and new data (21, 22): three ranges, with
	 * the duplicates 12..17, 19, 20 between them. */
	assert_int_equal(data(s, LA, 11, 12), 1 + 1 + 2);
	assert_int_equal(v.n_ranges, 3);
	want_range(0, 0, 1);  /* 11 */
	want_range(1, 7, 1);  /* 18 */
	want_range(2, 10, 2); /* 21, 22 */
	assert_int_equal(v.duplicates, 8);
	want_gaps(s, "");
	assert_true(seq_next(s) == 23);
	check_invariant(s);
	seq_destroy(s);
}

static void test_duplicates_and_straddle(void **state)
{
	struct seq *s = mk(1, 0);

	data(s, LA, 1, 9);
	assert_int_equal(data(s, LA, 1, 9), 0);
	assert_int_equal(v.duplicates, 9);
	assert_int_equal(v.n_ranges, 0);
	/* Straddles next (10): 8,9 duplicates, 10..12 new, one range. */
	assert_int_equal(data(s, LA, 8, 5), 3);
	assert_int_equal(v.n_ranges, 1);
	want_range(0, 2, 3);
	assert_int_equal(v.duplicates, 2);
	assert_int_equal(seq_stats(s)->duplicates, 11);
	assert_int_equal(seq_stats(s)->line[LA].duplicates, 11);
	assert_int_equal(seq_stats(s)->delivered, 12);
	check_invariant(s);
	seq_destroy(s);
}

static void test_heartbeat_detects_quiet_loss(void **state)
{
	struct seq *s = mk(1, 0);

	data(s, LA, 1, 5);
	assert_int_equal(feed(s, S1, LA, 6, 0, 0), 0); /* up to date */
	assert_int_equal(seq_stats(s)->gaps_opened, 0);
	assert_int_equal(feed(s, S1, LA, 3, 0, 0), 0); /* stale heartbeat: nothing */
	assert_int_equal(seq_stats(s)->gaps_opened, 0);
	assert_int_equal(feed(s, S1, LA, 9, 0, 0), 0); /* 6..8 were sent and lost */
	want_gaps(s, "6-8");
	assert_true(seq_next(s) == 9);
	assert_int_equal(seq_stats(s)->line[LA].heartbeats, 3);
	assert_int_equal(data(s, LA, 9, 1), 1);
	want_range(0, 0, 1);
	check_invariant(s);
	seq_destroy(s);
}

static void test_end_of_session(void **state)
{
	struct seq *s = mk(1, 0);

	data(s, LA, 1, 4);
	assert_int_equal(eos(s, LA, 5), 0);
	assert_int_equal(ev_count(SEQ_EV_END_OF_SESSION, 0), 1);
	assert_true(ev_last(SEQ_EV_END_OF_SESSION)->from == 5);
	assert_int_equal(eos(s, LA, 5), 0);
	assert_int_equal(eos(s, LB, 5), 0);
	assert_int_equal(ev_count(SEQ_EV_END_OF_SESSION, 0), 1); /* once per session */
	assert_int_equal(seq_stats(s)->line[LA].eos, 2);
	assert_int_equal(seq_stats(s)->line[LB].eos, 1);
	assert_int_equal(seq_stats(s)->gaps_opened, 0);
	/* An end-of-session ahead of us is loss at the very end. */
	assert_int_equal(eos(s, LA, 7), 0);
	want_gaps(s, "5-6");
	/* The count of an end-of-session packet is ignored. */
	{
		struct seq_pkt pkt = { .session = S1, .seq = 7, .count = 50, .line = LA, .end_of_session = true };

		assert_int_equal(seq_on_packet(s, &pkt, &v), 0);
		assert_true(seq_next(s) == 7);
	}
	check_invariant(s);
	seq_destroy(s);
}

static void test_gap_table_overflow_evicts_oldest(void **state)
{
	struct seq *s = mk(1, 4);
	const struct seq_stats *st = seq_stats(s);

	/* Holes at 2, 4, 6, 8, 10, 12: six ranges into four slots. */
	for (uint64_t q = 1; q <= 13; q += 2)
		data(s, LA, q, 1);
	want_gaps(s, "6-6,8-8,10-10,12-12");
	assert_int_equal(st->gaps_evicted, 2);
	assert_int_equal(st->gap_msgs_evicted, 2);
	assert_int_equal(ev_count(SEQ_EV_GAP_EVICTED, 0), 2);
	assert_true(ev_last(SEQ_EV_GAP_EVICTED)->from == 4);
	assert_true(ev_last(SEQ_EV_GAP_EVICTED)->declared);
	/* An evicted message that turns up is not delivered twice-or-late. */
	assert_int_equal(data(s, LA, 2, 1), 0);
	assert_int_equal(v.duplicates, 1);
	assert_int_equal(st->missing_now, 4);
	check_invariant(s);
	seq_destroy(s);
}

static void test_split_with_full_table(void **state)
{
	struct seq *s = mk(1, 2);
	const struct seq_stats *st = seq_stats(s);

	data(s, LA, 1, 9);
	data(s, LA, 20, 10);
	data(s, LA, 40, 1);
	want_gaps(s, "10-19,30-39");
	/* Splitting the oldest range with no free slot evicts its lower part. */
	assert_int_equal(data(s, LA, 15, 1), 1);
	want_gaps(s, "16-19,30-39");
	assert_int_equal(st->gap_msgs_evicted, 5);
	assert_true(ev_last(SEQ_EV_GAP_EVICTED)->from == 10 && ev_last(SEQ_EV_GAP_EVICTED)->to == 14);
	/* Splitting a newer range evicts the oldest range whole. */
	assert_int_equal(data(s, LA, 35, 1), 1);
	want_gaps(s, "30-34,36-39");
	assert_int_equal(st->gap_msgs_evicted, 9);
	assert_int_equal(st->gaps_evicted, 2);
	assert_int_equal(st->missing_now, 9);
	check_invariant(s);
	seq_destroy(s);
}

static void test_session_change(void **state)
{
	struct seq *s = mk(1, 0);
	const struct seq_stats *st = seq_stats(s);

	data(s, LA, 1, 5);
	data(s, LA, 8, 2); /* gap 6-7 in S1 */
	assert_int_equal(st->missing_now, 2);
	/* S2 starts; its first packet is seq 3, so 1..2 of S2 were lost. */
	assert_int_equal(feed(s, S2, LA, 3, 2, 0), 2);
	assert_memory_equal(seq_session(s), S2, SEQ_SESSION_LEN);
	assert_int_equal(st->sessions, 2);
	assert_int_equal(ev_count(SEQ_EV_SESSION_CHANGE, 0), 2);
	assert_true(ev_last(SEQ_EV_SESSION_CHANGE)->from == 1);
	assert_memory_equal(ev_last(SEQ_EV_SESSION_CHANGE)->session, S2, SEQ_SESSION_LEN);
	assert_int_equal(st->gap_msgs_abandoned, 2);
	want_gaps(s, "1-2");
	assert_true(seq_next(s) == 5);
	/* A late S1 packet (lagging line) does not flip back. */
	assert_int_equal(feed(s, S1, LB, 10, 3, 0), 0);
	assert_int_equal(v.drop, SEQ_DROP_STALE_SESSION);
	assert_int_equal(st->stale_session, 1);
	assert_int_equal(st->line[LB].dropped, 1);
	assert_memory_equal(seq_session(s), S2, SEQ_SESSION_LEN);
	/* S3 replaces S2; S2 becomes the stale one. */
	assert_int_equal(feed(s, S3, LA, 1, 1, 0), 1);
	assert_int_equal(st->sessions, 3);
	assert_int_equal(st->gap_msgs_abandoned, 4);
	assert_int_equal(feed(s, S2, LA, 5, 1, 0), 0);
	assert_int_equal(st->stale_session, 2);
	check_invariant(s);
	seq_destroy(s);
}

/* The missing table read in place (what gap recovery does): the lowest
 * declared range overlapping a span, whole; pending holes are skipped. A
 * session change says which ranges it abandoned, one event each, before the
 * change itself and with the old session. */
static void test_gap_find_and_abandoned(void **state)
{
	struct seq *s = mk(2, 0);
	uint64_t from = 0, to = 0;
	unsigned mark;

	(void)state;
	data(s, LA, 1, 5);
	data(s, LA, 10, 5);  /* 6-9 pending (line B has not passed it) */
	data(s, LB, 1, 5);
	data(s, LB, 10, 5);  /* both lines past 6-9: declared */
	data(s, LA, 20, 5);  /* 15-19 pending */
	want_gaps(s, "6-9");
	assert_false(seq_gap_find(s, 1, 5, &from, &to));
	assert_true(seq_gap_find(s, 1, 6, &from, &to));
	assert_true(from == 6 && to == 9); /* whole, not clipped */
	assert_true(seq_gap_find(s, 8, 100, &from, &to));
	assert_true(from == 6 && to == 9);
	assert_false(seq_gap_find(s, 10, 100, &from, &to)); /* 15-19 is only pending */
	data(s, LB, 7, 1);  /* split: 6, 8-9 */
	assert_true(seq_gap_find(s, 7, 100, &from, &to));
	assert_true(from == 8 && to == 9);
	assert_true(seq_gap_find(s, 0, 6, &from, &to));
	assert_true(from == 6 && to == 6);
	mark = evlog.n;
	assert_int_equal(feed(s, S2, LA, 1, 3, 0), 3);
	assert_int_equal(ev_count(SEQ_EV_GAP_ABANDONED, mark), 3);
	assert_int_equal(evlog.ev[mark].type, SEQ_EV_GAP_ABANDONED);
	assert_true(evlog.ev[mark].from == 6 && evlog.ev[mark].to == 6 && evlog.ev[mark].declared);
	assert_true(evlog.ev[mark + 1].from == 8 && evlog.ev[mark + 1].to == 9 && evlog.ev[mark + 1].declared);
	assert_true(evlog.ev[mark + 2].from == 15 && evlog.ev[mark + 2].to == 19 && !evlog.ev[mark + 2].declared);
	assert_int_equal(evlog.ev[mark + 3].type, SEQ_EV_SESSION_CHANGE);
	assert_int_equal(seq_stats(s)->gap_msgs_abandoned, 3);
	assert_false(seq_gap_find(s, 0, UINT64_MAX, &from, &to));
	check_invariant(s);
	seq_destroy(s);
}

static void test_bad_seq_dropped_before_session(void **state)
{
	struct seq *s = mk(1, 0);
	const struct seq_stats *st = seq_stats(s);

	assert_int_equal(feed(s, S1, LA, 0, 3, 0), 0);
	assert_int_equal(v.drop, SEQ_DROP_BAD_SEQ);
	assert_null(seq_session(s)); /* garbage does not join a session */
	assert_int_equal(feed(s, S1, LA, UINT64_MAX - 1, 2, 0), 0);
	assert_int_equal(v.drop, SEQ_DROP_BAD_SEQ);
	assert_int_equal(feed(s, S1, LA, 0, 0, 0), 0); /* heartbeat seq 0 */
	assert_int_equal(st->bad_seq, 3);
	assert_int_equal(st->line[LA].dropped, 3);
	assert_int_equal(st->line[LA].packets, 3);
	/* The largest packet that still fits: last = UINT64_MAX - 1. */
	assert_int_equal(feed(s, S1, LA, UINT64_MAX - 2, 2, 0), 2);
	assert_true(seq_next(s) == UINT64_MAX);
	assert_int_equal(feed(s, S1, LA, 1, 1, 0), 0);
	{
		struct seq_pkt pkt = { .session = S1, .seq = 1, .count = 1, .line = SEQ_MAX_LINES };

		assert_int_equal(seq_on_packet(s, &pkt, &v), -EINVAL);
	}
	assert_int_equal(st->bad_seq, 3);
	check_invariant(s);
	seq_destroy(s);
}

/* ---- A/B arbitration ---- */

static void test_ab_line_a_only(void **state)
{
	struct seq *s = mk(2, 0);

	data(s, LA, 1, 3);
	data(s, LA, 4, 3);
	assert_int_equal(data(s, LA, 10, 3), 3);
	/* B is silent: the hole is pending, not yet a gap. */
	assert_int_equal(ev_count(SEQ_EV_GAP_OPENED, 0), 0);
	want_gaps(s, "");
	assert_int_equal(seq_stats(s)->pending_now, 3);
	assert_int_equal(seq_poll(s, PENDING_NS - 1), 0);
	assert_int_equal(seq_poll(s, PENDING_NS), 1);
	want_gaps(s, "7-9");
	assert_int_equal(seq_stats(s)->pending_now, 0);
	assert_int_equal(seq_stats(s)->line[LA].delivered, 9);
	assert_int_equal(seq_stats(s)->line[LB].packets, 0);
	check_invariant(s);
	seq_destroy(s);
}

static void test_ab_line_b_only(void **state)
{
	struct seq *s = mk(2, 0);

	data(s, LB, 1, 3);
	assert_int_equal(feed(s, S1, LB, 7, 1, 10), 1);
	want_gaps(s, "");
	/* The deadline is also checked on the next packet, not only by poll. */
	assert_int_equal(feed(s, S1, LB, 8, 1, 10 + PENDING_NS), 1);
	want_gaps(s, "4-6");
	assert_int_equal(seq_stats(s)->line[LB].delivered, 5);
	assert_int_equal(seq_stats(s)->line[LA].delivered, 0);
	check_invariant(s);
	seq_destroy(s);
}

static void test_ab_interleaved_exactly_once(void **state)
{
	struct seq *s = mk(2, 0);
	const struct seq_stats *st = seq_stats(s);

	assert_int_equal(data(s, LA, 1, 3), 3);
	assert_int_equal(data(s, LB, 1, 3), 0);
	assert_int_equal(data(s, LB, 4, 3), 3); /* B first this time */
	assert_int_equal(data(s, LA, 4, 3), 0);
	assert_int_equal(data(s, LA, 7, 2), 2);
	assert_int_equal(data(s, LB, 7, 2), 0);
	assert_int_equal(st->delivered, 8);
	assert_int_equal(st->line[LA].delivered, 5);
	assert_int_equal(st->line[LB].delivered, 3);
	assert_int_equal(st->line[LA].duplicates, 3);
	assert_int_equal(st->line[LB].duplicates, 5);
	assert_int_equal(st->gaps_opened, 0);
	check_invariant(s);
	seq_destroy(s);
}

static void test_ab_hole_on_a_filled_by_b_is_no_gap(void **state)
{
	struct seq *s = mk(2, 0);
	const struct seq_stats *st = seq_stats(s);

	data(s, LA, 1, 3);
	data(s, LB, 1, 3);
	assert_int_equal(data(s, LA, 7, 3), 3); /* A lost 4..6 */
	assert_int_equal(data(s, LB, 4, 3), 3); /* B brings them, after 7..9 */
	want_range(0, 0, 3);
	assert_int_equal(data(s, LB, 7, 3), 0);
	assert_int_equal(st->gaps_opened, 0);
	assert_int_equal(st->gap_msgs_missing, 0);
	assert_int_equal(st->pending_msgs_filled, 3);
	assert_int_equal(st->pending_now, 0);
	assert_int_equal(ev_count(SEQ_EV_GAP_OPENED, 0), 0);
	assert_int_equal(ev_count(SEQ_EV_GAP_FILLED, 0), 0);
	assert_int_equal(seq_poll(s, 10 * PENDING_NS), 0);
	assert_int_equal(st->delivered, 9);
	check_invariant(s);
	seq_destroy(s);
}

static void test_ab_both_lose_same_packet_is_gap(void **state)
{
	struct seq *s = mk(2, 0);
	const struct seq_stats *st = seq_stats(s);

	data(s, LA, 1, 3);
	data(s, LB, 1, 3);
	data(s, LA, 7, 3);
	assert_int_equal(st->gaps_opened, 0);
	/* B skips the same range: no line will fill it. */
	assert_int_equal(data(s, LB, 7, 3), 0);
	assert_int_equal(st->gaps_opened, 1);
	assert_int_equal(ev_last(SEQ_EV_GAP_OPENED)->line, LB);
	want_gaps(s, "4-6");
	check_invariant(s);
	seq_destroy(s);
}

static void test_ab_heartbeat_on_b_declares(void **state)
{
	struct seq *s = mk(2, 0);

	data(s, LA, 1, 3);
	data(s, LA, 7, 3);
	want_gaps(s, "");
	/* B's sender is at 10: B sent 4..9 and we got none of it. */
	assert_int_equal(feed(s, S1, LB, 10, 0, 0), 0);
	want_gaps(s, "4-6");
	check_invariant(s);
	seq_destroy(s);
}

static void test_ab_lagging_b_fills_declared_gap(void **state)
{
	struct seq *s = mk(2, 0);
	const struct seq_stats *st = seq_stats(s);

	feed(s, S1, LA, 1, 3, 0);
	feed(s, S1, LA, 7, 3, 0);
	assert_int_equal(seq_poll(s, PENDING_NS), 1);
	/* B, far behind, still delivers the messages: gap then fill. */
	assert_int_equal(feed(s, S1, LB, 4, 3, 2 * PENDING_NS), 3);
	assert_int_equal(ev_count(SEQ_EV_GAP_FILLED, 0), 1);
	assert_int_equal(st->gap_msgs_filled, 3);
	assert_int_equal(st->missing_now, 0);
	check_invariant(s);
	seq_destroy(s);
}

/* A packet straddling more holes than a verdict can describe defers the
 * rest; a later copy delivers them. */
static void test_verdict_range_limit_defers(void **state)
{
	struct seq *s = mk(1, 0);
	const struct seq_stats *st = seq_stats(s);

	for (uint64_t q = 1; q <= 19; q += 2)
		data(s, LA, q, 1); /* holes 2, 4, ..., 18 */
	assert_int_equal(st->missing_now, 9);
	assert_int_equal(data(s, 2, 1, 20), 8);
	assert_int_equal(v.n_ranges, SEQ_VERDICT_RANGES);
	assert_int_equal(v.deferred, 2);
	want_range(0, 1, 1);
	want_range(6, 13, 1);
	want_range(7, 19, 1); /* the new tail always gets a slot */
	want_gaps(s, "16-16,18-18");
	assert_int_equal(st->deferred, 2);
	assert_int_equal(data(s, 2, 1, 20), 2);
	want_range(0, 15, 1);
	want_range(1, 17, 1);
	want_gaps(s, "");
	assert_int_equal(st->delivered, 10 + 8 + 2);
	check_invariant(s);
	seq_destroy(s);
}

static void test_reset_and_lifecycle(void **state)
{
	struct seq *s = mk(1, 0);
	struct seq_params bad = { .n_lines = SEQ_MAX_LINES + 1 };

	data(s, LA, 1, 3);
	data(s, LA, 9, 1);
	seq_reset(s);
	assert_null(seq_session(s));
	assert_int_equal(seq_stats(s)->missing_now, 0);
	assert_int_equal(seq_stats(s)->gap_msgs_abandoned, 5);
	/* Joined like the first packet ever: no gap to 500. */
	assert_int_equal(data(s, LA, 500, 1), 1);
	assert_int_equal(seq_stats(s)->gaps_opened, 1);
	check_invariant(s);
	seq_destroy(s);
	seq_destroy(NULL);

	assert_int_equal(seq_create(&s, &bad), -EINVAL);
	assert_null(s);
	assert_int_equal(seq_create(NULL, NULL), -EINVAL);
	for (uint64_t n = 1; n <= 2; n++) {
		mdm_mem_fail_after(n);
		assert_int_equal(seq_create(&s, NULL), -ENOMEM);
		mdm_mem_fail_reset();
		assert_null(s);
	}
	assert_int_equal(seq_create(&s, NULL), 0);
	seq_destroy(s);
}

/* The stats thread reads the counters while the RX core writes them
 * (mdm_counter.h): under ThreadSanitizer this is a data race unless every
 * write is atomic. The reader sees monotonic counts; the totals are exact. */
#define RACE_PACKETS 20000

struct race {
	struct seq *s;
	int done;
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	struct seq_verdict rv;

	for (uint64_t i = 0; i < RACE_PACKETS; i++) {
		struct seq_pkt pkt = { .session = S1, .seq = 1 + 4 * i, .count = 4, .line = 0 };

		seq_on_packet(r->s, &pkt, &rv);
		if (i % 10 == 9) /* a retransmit: its 4 messages are duplicates */
			seq_on_packet(r->s, &pkt, &rv);
	}
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_stats_read_while_running(void **state)
{
	struct race r = { .s = mk(1, 64) };
	const struct seq_stats *st = seq_stats(r.s);
	uint64_t last = 0;
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, race_writer, &r), 0);
	while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE)) {
		uint64_t d = mdm_counter_get(&st->delivered);

		assert_true(d >= last);
		last = d;
		(void)mdm_counter_get(&st->duplicates);
		(void)mdm_counter_get(&st->line[0].packets);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(mdm_counter_get(&st->delivered), 4ull * RACE_PACKETS);
	assert_int_equal(mdm_counter_get(&st->duplicates), 4ull * (RACE_PACKETS / 10));
	assert_int_equal(mdm_counter_get(&st->line[0].packets), RACE_PACKETS + RACE_PACKETS / 10);
	seq_destroy(r.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_single_line),
		cmocka_unit_test(test_cold_join_counts_pre_join),
		cmocka_unit_test(test_single_line_gap_then_retransmission),
		cmocka_unit_test(test_late_fill_splits_and_shrinks),
		cmocka_unit_test(test_duplicates_and_straddle),
		cmocka_unit_test(test_heartbeat_detects_quiet_loss),
		cmocka_unit_test(test_end_of_session),
		cmocka_unit_test(test_gap_table_overflow_evicts_oldest),
		cmocka_unit_test(test_split_with_full_table),
		cmocka_unit_test(test_session_change),
		cmocka_unit_test(test_gap_find_and_abandoned),
		cmocka_unit_test(test_bad_seq_dropped_before_session),
		cmocka_unit_test(test_ab_line_a_only),
		cmocka_unit_test(test_ab_line_b_only),
		cmocka_unit_test(test_ab_interleaved_exactly_once),
		cmocka_unit_test(test_ab_hole_on_a_filled_by_b_is_no_gap),
		cmocka_unit_test(test_ab_both_lose_same_packet_is_gap),
		cmocka_unit_test(test_ab_heartbeat_on_b_declares),
		cmocka_unit_test(test_ab_lagging_b_fills_declared_gap),
		cmocka_unit_test(test_verdict_range_limit_defers),
		cmocka_unit_test(test_reset_and_lifecycle),
		cmocka_unit_test(test_stats_read_while_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
