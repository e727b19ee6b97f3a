/* HDR histogram: fixed-size, allocation-free recording of 64-bit values with a
 * bounded relative error, plus the HdrHistogram V2 encoding (compressed,
 * base64) so Java, C (HdrHistogram_c) and hdr-histogram-js tools read what we
 * write and we read what they write. Ours; the API follows HdrHistogram_c's
 * shape (lowest/highest/significant digits, record, percentiles, add).
 *
 * Layout (see /work/shared/HDR_FACTS.md sections 2-3): bucket 0 holds
 * 2 * 10^sigfigs (rounded up to a power of two) slots at unit resolution;
 * every later bucket doubles the range and the slot width, so any value is
 * kept to within 1 / 2^(half_mag + 1) of itself.
 *
 * Thread-safety: a histogram is not synchronised. Give each thread its own and
 * merge them with mdm_hdr_add() from a reporter (the wrk2 pattern). */
#ifndef MDM_HDR_H
#define MDM_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdm_buf.h"

#define MDM_HDR_SIGFIGS_MIN 1
#define MDM_HDR_SIGFIGS_MAX 5

/* Flags set by mdm_hdr_decode*() when the encoded header was not the
 * Java/C one (normalizing index offset 0, conversion ratio 1.0). Counts are
 * always decoded as written (the offset never shifts them); the flags only
 * exist so callers can warn. */
#define MDM_HDR_F_JS_HEADER   0x1u /* hdr-histogram-js 3.x: offset 1, ratio bits 0x1 */
#define MDM_HDR_F_ODD_OFFSET  0x2u /* another non-zero normalizing index offset */
#define MDM_HDR_F_ODD_RATIO   0x4u /* another conversion ratio than 1.0 */

/* All fields are read-only outside mdm_hdr.c. The struct is public only so that
 * mdm_hdr_record*() can be inlined into hot loops. */
struct mdm_hdr {
	int64_t lowest;            /* lowest discernible value, >= 1 */
	int64_t highest;           /* highest trackable value, >= 2 * lowest */
	int32_t sigfigs;           /* significant decimal digits, 1..5 */
	int32_t unit_mag;          /* floor(log2(lowest)) */
	int32_t half_mag;          /* log2(sub_bucket_half_count) */
	int32_t sub_bucket_count;  /* slots in bucket 0 (a power of two) */
	int32_t sub_bucket_half_count;
	int32_t bucket_count;      /* buckets needed to cover `highest` */
	int64_t sub_bucket_mask;   /* (sub_bucket_count - 1) << unit_mag */
	int32_t counts_len;        /* (bucket_count + 1) * sub_bucket_half_count */
	uint32_t flags;            /* MDM_HDR_F_* from decoding; 0 otherwise */
	uint64_t total_count;      /* sum of counts[] */
	uint64_t out_of_range;     /* values refused by record (v < 0 or v > highest) */
	/* Values equivalent to the smallest non-zero / largest value counted (the
	 * raw value when recorded directly, the slot start after decode or add). */
	int64_t min_nz;            /* INT64_MAX if none */
	int64_t max_val;           /* 0 if none */
	uint64_t *counts;          /* counts_len slots, owned */
};

/* Allocate a histogram tracking [0, highest] with `sigfigs` significant
 * digits, resolving values below `lowest` only as one slot.
 * Returns 0 and sets *out; -EINVAL when lowest < 1, highest < 2 * lowest,
 * sigfigs outside 1..5, or the layout would not fit 64 bits; -ENOMEM.
 * Not hot-path safe (allocates). The caller owns *out (mdm_hdr_destroy). */
int mdm_hdr_create(struct mdm_hdr **out, int64_t lowest, int64_t highest, int sigfigs);

/* Free a histogram from mdm_hdr_create or mdm_hdr_decode. NULL-safe. */
void mdm_hdr_destroy(struct mdm_hdr *h);

/* Same as create/destroy but for caller-owned struct storage (the counts
 * array is still allocated here). mdm_hdr_fini is safe on a zeroed struct and
 * leaves one behind. Errors as mdm_hdr_create. */
int mdm_hdr_init(struct mdm_hdr *h, int64_t lowest, int64_t highest, int sigfigs);
void mdm_hdr_fini(struct mdm_hdr *h);

/* Forget every recorded value (counts, totals, out_of_range, flags); keeps
 * the layout and memory. O(counts_len). */
void mdm_hdr_reset(struct mdm_hdr *h);

/* Slot index of v (0 <= v <= highest, or any v < 2^63 with a large enough
 * layout). Exposed for the inline recorder and for tests. */
static inline int32_t mdm_hdr_index_of(const struct mdm_hdr *h, int64_t v)
{
	/* ORing in the mask makes every value below sub_bucket_count land in
	 * bucket 0, so one clz gives the bucket for all values. */
	int32_t bucket = (64 - __builtin_clzll((uint64_t)(v | h->sub_bucket_mask))) - h->unit_mag -
			 (h->half_mag + 1);
	int32_t sub = (int32_t)(v >> (bucket + h->unit_mag));

	return ((bucket + 1) << h->half_mag) + (sub - h->sub_bucket_half_count);
}

/* Record v `n` times. O(1), allocation-free, hot-path safe.
 * Returns false (and adds n to h->out_of_range) when v < 0 or v > highest. */
static inline bool mdm_hdr_record_n(struct mdm_hdr *h, int64_t v, uint64_t n)
{
	if (__builtin_expect(v < 0 || v > h->highest, 0)) {
		h->out_of_range += n;
		return false;
	}
	if (n == 0)
		return true;
	h->counts[mdm_hdr_index_of(h, v)] += n;
	h->total_count += n;
	if (v != 0 && v < h->min_nz)
		h->min_nz = v;
	if (v > h->max_val)
		h->max_val = v;
	return true;
}

/* As mdm_hdr_record_n, for a histogram that several threads record into at
 * once (HdrHistogram_c's hdr_record_values_atomic): every field is updated
 * with an atomic read-modify-write, min/max by compare-and-swap. Readers must
 * still not read while writers record (mdm_latency.h flips them out first). */
static inline bool mdm_hdr_record_n_atomic(struct mdm_hdr *h, int64_t v, uint64_t n)
{
	int64_t cur;

	if (__builtin_expect(v < 0 || v > h->highest, 0)) {
		__atomic_fetch_add(&h->out_of_range, n, __ATOMIC_RELAXED);
		return false;
	}
	if (n == 0)
		return true;
	__atomic_fetch_add(&h->counts[mdm_hdr_index_of(h, v)], n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->total_count, n, __ATOMIC_RELAXED);
	cur = __atomic_load_n(&h->min_nz, __ATOMIC_RELAXED);
	while (v != 0 && v < cur &&
	       !__atomic_compare_exchange_n(&h->min_nz, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	cur = __atomic_load_n(&h->max_val, __ATOMIC_RELAXED);
	while (v > cur && !__atomic_compare_exchange_n(&h->max_val, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	return true;
}

/* Record v once. As mdm_hdr_record_n. */
static inline bool mdm_hdr_record(struct mdm_hdr *h, int64_t v)
{
	return mdm_hdr_record_n(h, v, 1);
}

/* Record v, then correct for coordinated omission (HDR_FACTS section 8): when
 * expected_interval > 0 and v > expected_interval, also record
 * v - E, v - 2E, ... while >= E. Use only for open-loop (paced) measurements,
 * and never together with a later correction. O(v / E), allocation-free.
 * Returns false when v itself is out of range (nothing is recorded then). */
bool mdm_hdr_record_corrected(struct mdm_hdr *h, int64_t v, int64_t expected_interval);

/* Add every count of src to dst (layouts may differ: values are re-recorded
 * at src's slot starts). Returns the number of values dst could not hold
 * (also counted in dst->out_of_range, to which src->out_of_range is added as
 * well, so merged per-thread histograms keep the total refused).
 * Allocation-free; O(src->counts_len). */
uint64_t mdm_hdr_add(struct mdm_hdr *dst, const struct mdm_hdr *src);

/* Statistics, HdrHistogram_c conventions (HDR_FACTS section 4). All return 0
 * for an empty histogram. min: lowest equivalent of the smallest non-zero
 * value, or 0 when slot 0 is non-empty. max: highest equivalent of the largest
 * value. mean/stddev: over slot medians. O(counts_len) for mean/stddev. */
int64_t mdm_hdr_min(const struct mdm_hdr *h);
int64_t mdm_hdr_max(const struct mdm_hdr *h);
double mdm_hdr_mean(const struct mdm_hdr *h);
double mdm_hdr_stddev(const struct mdm_hdr *h);
uint64_t mdm_hdr_total_count(const struct mdm_hdr *h);

/* Value at percentile p (0..100; larger is clamped to 100, smaller to 0).
 * Rounding rule: HdrHistogram_c's "round half up" target count,
 * count = (uint64)(p / 100 * total + 0.5), at least 1; the answer is the
 * highest equivalent value of the first slot where the running count reaches
 * it (the lowest equivalent when p == 0). Java and hdr-histogram-js round the
 * target up instead, so for small totals they can answer one value later
 * (values 1..7: p30 is 2 here, 3 there). 0 for an empty histogram. */
int64_t mdm_hdr_value_at_percentile(const struct mdm_hdr *h, double p);

/* Equivalent-value helpers (HDR_FACTS section 4); v >= 0 (negative counts as 0). */
int64_t mdm_hdr_value_at_index(const struct mdm_hdr *h, int32_t index);
int64_t mdm_hdr_size_of_equivalent_range(const struct mdm_hdr *h, int64_t v);
int64_t mdm_hdr_lowest_equivalent(const struct mdm_hdr *h, int64_t v);
int64_t mdm_hdr_highest_equivalent(const struct mdm_hdr *h, int64_t v);
int64_t mdm_hdr_median_equivalent(const struct mdm_hdr *h, int64_t v);

/* Percentile iterator: the steps of Java's outputPercentileDistribution.
 * Percentile levels advance by 100 / (ticks * 2^(k+1)) where k halves the
 * remaining distance to 100 each time; a step is reported at the first
 * non-empty slot whose cumulative percentile reaches the level, and a final
 * step at 100%. Output fields are valid after mdm_hdr_iter_next() returned
 * true; the rest is private. The histogram must not change while iterating. */
struct mdm_hdr_iter {
	int64_t value;          /* highest equivalent value of the slot reached */
	double percentile;      /* level iterated to, 0..100 */
	uint64_t total_count;   /* values <= value */
	uint64_t count_at_value;/* count in the slot reached */
	/* private */
	const struct mdm_hdr *h;
	int32_t index;
	int32_t ticks_per_half;
	uint64_t running;
	double level;
	bool fresh;
	bool last_done;
};

/* Start iterating h. ticks_per_half_distance < 1 is taken as 1 (Java uses 5). */
void mdm_hdr_iter_percentile_init(struct mdm_hdr_iter *it, const struct mdm_hdr *h,
				  int ticks_per_half_distance);
/* Advance; false when done (immediately for an empty histogram). */
bool mdm_hdr_iter_next(struct mdm_hdr_iter *it);

/* --- V2 encoding (HDR_FACTS section 5) --- */

/* Append the uncompressed V2 block (cookie 0x1c849313, 40-byte big-endian
 * header with normalizing offset 0 and ratio 1.0, then ZigZag LEB128 counts
 * for slots 0..index of max; a lone zero is written as 0, a run of k >= 2
 * zeros as -k, as Java and JS do). 0, -ENOMEM, -ERANGE (a count > INT64_MAX
 * or a layout too big for the 32-bit length field). */
int mdm_hdr_encode_v2(const struct mdm_hdr *h, struct mdm_buf *out);

/* Append the base64 text (no newline) of the compressed wrapper
 * (cookie 0x1c849314, length, zlib stream of the V2 block); it starts "HISTF".
 * 0, -ENOMEM, -ERANGE, -EIO (zlib failure). Allocates; not hot-path. */
int mdm_hdr_encode(const struct mdm_hdr *h, struct mdm_buf *out);

/* Decode binary: a compressed V2 wrapper (0x1c849314) or an uncompressed V2
 * block (0x1c849313); the cookie's word-size nibble is ignored as in the
 * reference decoders. Every read is bounded and the inflated size is capped
 * at 40 + 9 * counts_len bytes. The zlib stream must end exactly after the
 * block (its Adler-32 is checked). Sets MDM_HDR_F_* on odd headers.
 * 0 and *out (caller destroys); -EINVAL on any malformed or unsupported input
 * (detail in mdm_err_last()); -ENOMEM. */
int mdm_hdr_decode_bytes(struct mdm_hdr **out, const uint8_t *p, size_t len);

/* Decode base64 text (whitespace ignored) then as mdm_hdr_decode_bytes. */
int mdm_hdr_decode(struct mdm_hdr **out, const char *b64, size_t len);

/* ZigZag + LEB128-64b9B, exposed for tests and fuzzers.
 * mdm_hdr_zz_put writes 1..9 bytes to out and returns the count.
 * mdm_hdr_zz_get reads one number from p[0..len): bytes consumed, or -EINVAL
 * when the input ends inside it. */
size_t mdm_hdr_zz_put(uint8_t out[9], int64_t n);
int mdm_hdr_zz_get(const uint8_t *p, size_t len, int64_t *n);

#endif
