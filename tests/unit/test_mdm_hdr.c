#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <cmocka.h>
#include <zlib.h>

#include "mdm_base64.h"
#include "mdm_hdr.h"
#include "mdm_mem.h"

#define HOUR_NS 3600000000000LL

static struct mdm_hdr *mk(int64_t lowest, int64_t highest, int sigfigs)
{
	struct mdm_hdr *h = NULL;

	assert_int_equal(mdm_hdr_create(&h, lowest, highest, sigfigs), 0);
	assert_non_null(h);
	return h;
}

/* HDR_FACTS section 2 plus hand-derived layouts for other parameters. */
static const struct {
	int64_t lowest, highest;
	int sigfigs;
	int32_t unit_mag, half_mag, sub_bucket_count, bucket_count, counts_len;
} layouts[] = {
	{ 1, HOUR_NS, 3, 0, 10, 2048, 32, 33792 },
	{ 1000, HOUR_NS, 3, 9, 10, 2048, 23, 24576 },
	{ 1, 100, 1, 0, 4, 32, 3, 64 },
	{ 1, INT64_MAX, 5, 0, 17, 262144, 46, 6160384 },
	{ 1, 2, 3, 0, 10, 2048, 1, 2048 },
};

static void test_layout(void **state)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		struct mdm_hdr *h = mk(layouts[i].lowest, layouts[i].highest, layouts[i].sigfigs);

		assert_int_equal(h->unit_mag, layouts[i].unit_mag);
		assert_int_equal(h->half_mag, layouts[i].half_mag);
		assert_int_equal(h->sub_bucket_count, layouts[i].sub_bucket_count);
		assert_int_equal(h->sub_bucket_half_count, layouts[i].sub_bucket_count / 2);
		assert_int_equal(h->bucket_count, layouts[i].bucket_count);
		assert_int_equal(h->counts_len, layouts[i].counts_len);
		/* the highest value must land inside the counts array */
		assert_true(mdm_hdr_index_of(h, layouts[i].highest) < h->counts_len);
		mdm_hdr_destroy(h);
	}
}

static void test_bad_params(void **state)
{
	struct mdm_hdr *h = NULL, s;

	assert_int_equal(mdm_hdr_create(&h, 0, 100, 3), -EINVAL);
	assert_int_equal(mdm_hdr_create(&h, 10, 19, 3), -EINVAL);
	assert_int_equal(mdm_hdr_create(&h, 1, 100, 0), -EINVAL);
	assert_int_equal(mdm_hdr_create(&h, 1, 100, 6), -EINVAL);
	assert_int_equal(mdm_hdr_create(&h, -5, 100, 3), -EINVAL);
	assert_int_equal(mdm_hdr_create(&h, (int64_t)1 << 50, INT64_MAX, 5), -EINVAL);
	assert_null(h);
	assert_int_equal(mdm_hdr_init(&s, 10, 20, 3), 0);
	mdm_hdr_fini(&s);
	mdm_hdr_fini(&s); /* fini leaves a zeroed struct: a second call is harmless */
	mdm_hdr_destroy(NULL);
}

static void test_index_examples(void **state)
{
	struct mdm_hdr *h = mk(1, HOUR_NS, 3);
	static const int64_t same[] = { 0, 1, 2, 1000, 2047 };

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(mdm_hdr_index_of(h, same[i]), same[i]);
		assert_int_equal(mdm_hdr_value_at_index(h, (int32_t)same[i]), same[i]);
	}
	assert_int_equal(mdm_hdr_index_of(h, 2048), 2048);
	assert_int_equal(mdm_hdr_index_of(h, 2049), 2048);
	assert_int_equal(mdm_hdr_index_of(h, 2050), 2049);
	for (int64_t v = 4096; v <= 4099; v++)
		assert_int_equal(mdm_hdr_index_of(h, v), 3072);
	assert_int_equal(mdm_hdr_index_of(h, 4100), 3073);
	assert_int_equal(mdm_hdr_value_at_index(h, 2049), 2050);
	assert_int_equal(mdm_hdr_value_at_index(h, 3072), 4096);
	assert_int_equal(mdm_hdr_value_at_index(h, 33791), (int64_t)2047 << 31);

	assert_int_equal(mdm_hdr_size_of_equivalent_range(h, 1000000000), 1 << 19);
	assert_int_equal(mdm_hdr_lowest_equivalent(h, 1000000000), 999817216);
	assert_int_equal(mdm_hdr_highest_equivalent(h, 1000000000), 1000341503);
	assert_int_equal(mdm_hdr_median_equivalent(h, 1000000000), 999817216 + (1 << 18));
	assert_int_equal(mdm_hdr_lowest_equivalent(h, 999817216), 999817216);
	assert_int_equal(mdm_hdr_lowest_equivalent(h, 1000341504), 1000341504);
	assert_int_equal(mdm_hdr_highest_equivalent(h, 2049), 2049);
	assert_int_equal(mdm_hdr_lowest_equivalent(h, 2049), 2048);
	assert_int_equal(mdm_hdr_size_of_equivalent_range(h, 5), 1);
	mdm_hdr_destroy(h);

	/* the top slot of a full-range layout ends at INT64_MAX without overflow */
	h = mk(1, INT64_MAX, 3);
	assert_int_equal(mdm_hdr_highest_equivalent(h, INT64_MAX), INT64_MAX);
	assert_true(mdm_hdr_record(h, INT64_MAX));
	assert_int_equal(mdm_hdr_max(h), INT64_MAX);
	mdm_hdr_destroy(h);
}

/* Expected values cross-checked with hdr-histogram-js 3.0.1 on 1..10000. */
static void test_uniform_percentiles(void **state)
{
	struct mdm_hdr *h = mk(1, HOUR_NS, 3);
	static const struct {
		double p;
		int64_t v;
	} want[] = {
		{ 0, 1 }, { 50, 5003 }, { 90, 9007 }, { 99, 9903 }, { 99.9, 9991 }, { 99.99, 9999 },
		{ 100, 10007 }, { 250, 10007 }, { -3, 1 },
	};

	for (int64_t v = 1; v <= 10000; v++)
		assert_true(mdm_hdr_record(h, v));
	assert_int_equal(mdm_hdr_total_count(h), 10000);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(mdm_hdr_value_at_percentile(h, want[i].p), want[i].v);
	assert_int_equal(mdm_hdr_min(h), 1);
	assert_int_equal(mdm_hdr_max(h), 10007);
	assert_float_equal(mdm_hdr_mean(h), 5000.898, 1e-9);
	assert_float_equal(mdm_hdr_stddev(h), 2886.8926666566617, 1e-7);
	mdm_hdr_destroy(h);
}

/* The rounding case of HDR_FACTS section 4: C's round-half-up target. */
static void test_small_rounding(void **state)
{
	struct mdm_hdr *h = mk(1, 1000, 3);

	for (int64_t v = 1; v <= 7; v++)
		mdm_hdr_record(h, v);
	assert_int_equal(mdm_hdr_value_at_percentile(h, 30), 2);  /* Java/JS: 3 */
	assert_int_equal(mdm_hdr_value_at_percentile(h, 75), 5);  /* Java/JS: 6 */
	assert_int_equal(mdm_hdr_value_at_percentile(h, 50), 4);
	assert_int_equal(mdm_hdr_value_at_percentile(h, 1), 1);   /* at least one value */
	assert_int_equal(mdm_hdr_value_at_percentile(h, 100), 7);
	mdm_hdr_destroy(h);
}

static void test_stats(void **state)
{
	struct mdm_hdr *h = mk(1, HOUR_NS, 3);

	assert_int_equal(mdm_hdr_min(h), 0);
	assert_int_equal(mdm_hdr_max(h), 0);
	assert_float_equal(mdm_hdr_mean(h), 0.0, 0);
	assert_float_equal(mdm_hdr_stddev(h), 0.0, 0);
	assert_int_equal(mdm_hdr_value_at_percentile(h, 50), 0);
	mdm_hdr_record(h, 1);
	mdm_hdr_record(h, 5);
	assert_int_equal(mdm_hdr_min(h), 1);
	assert_int_equal(mdm_hdr_max(h), 5);
	assert_float_equal(mdm_hdr_mean(h), 3.0, 1e-12);
	assert_float_equal(mdm_hdr_stddev(h), 2.0, 1e-12);
	mdm_hdr_reset(h);
	/* past bucket 0, statistics use slot medians: 4096..4099 -> 4098, 4100..4103 -> 4102 */
	mdm_hdr_record(h, 4097);
	mdm_hdr_record_n(h, 4103, 3);
	assert_int_equal(mdm_hdr_min(h), 4096);
	assert_int_equal(mdm_hdr_max(h), 4103);
	assert_float_equal(mdm_hdr_mean(h), (4098.0 + 3 * 4102.0) / 4, 1e-9);
	assert_float_equal(mdm_hdr_stddev(h), sqrt((9.0 + 3 * 1.0) / 4), 1e-9);
	/* a zero sits in slot 0, so min is 0 as in HdrHistogram_c */
	mdm_hdr_record(h, 0);
	assert_int_equal(mdm_hdr_min(h), 0);
	assert_int_equal(mdm_hdr_total_count(h), 5);
	mdm_hdr_destroy(h);
}

static void test_out_of_range(void **state)
{
	struct mdm_hdr *h = mk(1, 1000, 3);

	assert_false(mdm_hdr_record(h, -1));
	assert_false(mdm_hdr_record(h, 1001));
	assert_false(mdm_hdr_record_n(h, -5, 3));
	assert_int_equal(h->out_of_range, 5);
	assert_int_equal(mdm_hdr_total_count(h), 0);
	assert_true(mdm_hdr_record(h, 1000));
	assert_true(mdm_hdr_record(h, 0));
	assert_true(mdm_hdr_record_n(h, 7, 0));
	assert_int_equal(mdm_hdr_total_count(h), 2);
	assert_int_equal(mdm_hdr_max(h), 1000);
	assert_int_equal(h->out_of_range, 5);
	mdm_hdr_destroy(h);
}

static void test_coordinated_omission(void **state)
{
	struct mdm_hdr *h = mk(1, HOUR_NS, 3);

	assert_true(mdm_hdr_record_corrected(h, 1000, 100));
	assert_int_equal(mdm_hdr_total_count(h), 10);
	for (int64_t v = 100; v <= 1000; v += 100)
		assert_int_equal(h->counts[mdm_hdr_index_of(h, v)], 1);
	assert_int_equal(mdm_hdr_min(h), 100);
	assert_int_equal(mdm_hdr_value_at_percentile(h, 50), 500);
	mdm_hdr_reset(h);
	assert_true(mdm_hdr_record_corrected(h, 1050, 100)); /* 1050, 950, ..., 150 */
	assert_int_equal(mdm_hdr_total_count(h), 10);
	assert_int_equal(mdm_hdr_min(h), 150);
	mdm_hdr_reset(h);
	assert_true(mdm_hdr_record_corrected(h, 50, 100));
	assert_true(mdm_hdr_record_corrected(h, 500, 0));
	assert_int_equal(mdm_hdr_total_count(h), 2);
	assert_false(mdm_hdr_record_corrected(h, HOUR_NS + 1, 100));
	assert_int_equal(mdm_hdr_total_count(h), 2);
	mdm_hdr_destroy(h);
}

static void test_add_and_reset(void **state)
{
	struct mdm_hdr *a = mk(1, HOUR_NS, 3), *b = mk(1, HOUR_NS, 3), *c = mk(1, 100000, 2);

	for (int64_t v = 1; v <= 5000; v++)
		mdm_hdr_record(a, v);
	for (int64_t v = 5001; v <= 10000; v++)
		mdm_hdr_record(b, v);
	mdm_hdr_record(b, -1);
	assert_int_equal(mdm_hdr_add(a, b), 0);
	assert_int_equal(mdm_hdr_total_count(a), 10000);
	assert_int_equal(a->out_of_range, 1);
	assert_int_equal(mdm_hdr_value_at_percentile(a, 50), 5003);
	assert_int_equal(mdm_hdr_value_at_percentile(a, 99.9), 9991);
	assert_int_equal(mdm_hdr_min(a), 1);
	assert_int_equal(mdm_hdr_max(a), 10007);

	/* different layout: values re-recorded at src slot starts; 2 digits is
	 * coarser (slots of 4 above 512), 1e6 does not fit under 100000 */
	mdm_hdr_record_n(b, 1000000, 7);
	assert_int_equal(mdm_hdr_add(c, b), 7);
	assert_int_equal(mdm_hdr_total_count(c), 5000);
	assert_int_equal(c->out_of_range, 8);
	assert_int_equal(mdm_hdr_min(c), 4992); /* 5000 in a slot of 32 */
	assert_int_equal(mdm_hdr_max(c), 10047);

	mdm_hdr_reset(a);
	assert_int_equal(mdm_hdr_total_count(a), 0);
	assert_int_equal(a->out_of_range, 0);
	assert_int_equal(mdm_hdr_max(a), 0);
	for (int32_t i = 0; i < a->counts_len; i++)
		assert_int_equal(a->counts[i], 0);
	mdm_hdr_record(a, 42);
	assert_int_equal(mdm_hdr_min(a), 42);
	assert_int_equal(mdm_hdr_max(a), 42);
	mdm_hdr_destroy(a);
	mdm_hdr_destroy(b);
	mdm_hdr_destroy(c);
}

/* Data rows of hdr-histogram-js outputPercentileDistribution(5) on 1..10000. */
static void test_percentile_iterator(void **state)
{
	struct mdm_hdr *h = mk(1, HOUR_NS, 3);
	struct mdm_hdr_iter it;
	static const struct {
		int row;
		int64_t value;
		double pct;
		uint64_t total;
	} want[] = {
		{ 0, 1, 0.0, 1 }, { 1, 1000, 10.0, 1000 }, { 2, 2000, 20.0, 2000 },
		{ 19, 9255, 92.5, 9255 }, { 20, 9375, 93.75, 9375 }, { 21, 9439, 94.375, 9439 },
		{ 66, 9999, 99.9890136719, 9999 }, { 67, 10007, 99.990234375, 10000 },
		{ 68, 10007, 100.0, 10000 },
	};
	int row = 0;
	size_t k = 0;

	mdm_hdr_iter_percentile_init(&it, h, 5);
	assert_false(mdm_hdr_iter_next(&it));
	for (int64_t v = 1; v <= 10000; v++)
		mdm_hdr_record(h, v);
	mdm_hdr_iter_percentile_init(&it, h, 5);
	while (mdm_hdr_iter_next(&it)) {
		if (k < sizeof(want) / sizeof(want[0]) && want[k].row == row) {
			assert_int_equal(it.value, want[k].value);
			assert_float_equal(it.percentile, want[k].pct, 1e-8);
			assert_int_equal(it.total_count, want[k].total);
			k++;
		}
		row++;
	}
	assert_int_equal(row, 69);
	assert_int_equal(k, sizeof(want) / sizeof(want[0]));
	mdm_hdr_destroy(h);
}

static const struct {
	int64_t n;
	uint8_t len, b[9];
} zz_vectors[] = {
	{ 0, 1, { 0x00 } }, { -1, 1, { 0x01 } }, { 1, 1, { 0x02 } }, { -2, 1, { 0x03 } },
	{ 63, 1, { 0x7e } }, { -64, 1, { 0x7f } }, { 64, 2, { 0x80, 0x01 } }, { -65, 2, { 0x81, 0x01 } },
	{ 8192, 3, { 0x80, 0x80, 0x01 } },
	{ INT64_MAX, 9, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	{ INT64_MIN, 9, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	{ (int64_t)1 << 55, 9, { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 } }, /* zz 2^56: 9th byte */
};

static void test_zigzag_leb128(void **state)
{
	for (size_t i = 0; i < sizeof(zz_vectors) / sizeof(zz_vectors[0]); i++) {
		uint8_t b[9];
		int64_t n = 12345;

		assert_int_equal(mdm_hdr_zz_put(b, zz_vectors[i].n), zz_vectors[i].len);
		assert_memory_equal(b, zz_vectors[i].b, zz_vectors[i].len);
		assert_int_equal(mdm_hdr_zz_get(zz_vectors[i].b, zz_vectors[i].len, &n), zz_vectors[i].len);
		assert_int_equal(n, zz_vectors[i].n);
		/* one byte short is a truncation, never an over-read */
		assert_int_equal(mdm_hdr_zz_get(zz_vectors[i].b, zz_vectors[i].len - 1u, &n), -EINVAL);
	}
}

/* {1, 5}: a lone zero is the literal 0 (Java/JS style), a run of 3 is -3. */
static void test_payload_bytes(void **state)
{
	struct mdm_hdr *h = mk(1, HOUR_NS, 3);
	struct mdm_buf b = MDM_BUF_INIT;
	static const uint8_t want[] = {
		0x1c, 0x84, 0x93, 0x13, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 3,
		0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x03, 0x46, 0x30, 0xb8, 0xa0, 0x00,
		0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x00, 0x02, 0x05, 0x02,
	};

	mdm_hdr_record(h, 1);
	mdm_hdr_record(h, 5);
	assert_int_equal(mdm_hdr_encode_v2(h, &b), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	/* empty histogram: header only, payload length 0 */
	mdm_hdr_reset(h);
	mdm_buf_reset(&b);
	assert_int_equal(mdm_hdr_encode_v2(h, &b), 0);
	assert_int_equal(b.len, 40);
	assert_memory_equal(b.data + 4, "\0\0\0\0", 4);
	/* a count above 2^63 - 1 cannot be written as a ZigZag long */
	h->counts[3] = (uint64_t)INT64_MAX + 1;
	mdm_buf_reset(&b);
	assert_int_equal(mdm_hdr_encode_v2(h, &b), -ERANGE);
	mdm_buf_fini(&b);
	mdm_hdr_destroy(h);
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 11;
}

static void assert_same_hist(const struct mdm_hdr *a, const struct mdm_hdr *b)
{
	assert_int_equal(a->counts_len, b->counts_len);
	assert_int_equal(a->lowest, b->lowest);
	assert_int_equal(a->highest, b->highest);
	assert_int_equal(a->sigfigs, b->sigfigs);
	assert_int_equal(mdm_hdr_total_count(a), mdm_hdr_total_count(b));
	assert_memory_equal(a->counts, b->counts, (size_t)a->counts_len * sizeof(a->counts[0]));
	assert_int_equal(mdm_hdr_min(a), mdm_hdr_min(b));
	assert_int_equal(mdm_hdr_max(a), mdm_hdr_max(b));
	assert_float_equal(mdm_hdr_mean(a), mdm_hdr_mean(b), 1e-6);
	for (double p = 0; p <= 100; p += 0.5)
		assert_int_equal(mdm_hdr_value_at_percentile(a, p), mdm_hdr_value_at_percentile(b, p));
}

static void test_roundtrip(void **state)
{
	static const struct {
		int64_t lowest, highest;
		int sigfigs;
	} cfg[] = { { 1, HOUR_NS, 3 }, { 1000, HOUR_NS, 2 }, { 1, 1000000, 5 }, { 1, INT64_MAX, 1 } };
	uint64_t seed = 42;

	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		struct mdm_hdr *h = mk(cfg[i].lowest, cfg[i].highest, cfg[i].sigfigs), *d = NULL;
		struct mdm_buf b = MDM_BUF_INIT;

		for (int k = 0; k < 20000; k++) {
			/* log-uniform over ~6 decades: many zero runs of every size */
			int64_t v = (int64_t)exp((double)(lcg(&seed) % 14000) / 1000.0);

			mdm_hdr_record(h, v > cfg[i].highest ? cfg[i].highest : v);
		}
		mdm_hdr_record_n(h, 0, 3);
		assert_int_equal(mdm_hdr_encode(h, &b), 0);
		assert_memory_equal(b.data, "HISTF", 5);
		assert_int_equal(mdm_hdr_decode(&d, b.data, b.len), 0);
		assert_int_equal(d->flags, 0);
		assert_same_hist(h, d);
		mdm_hdr_destroy(d);
		/* the uncompressed block decodes too */
		mdm_buf_reset(&b);
		assert_int_equal(mdm_hdr_encode_v2(h, &b), 0);
		assert_int_equal(mdm_hdr_decode_bytes(&d, (const uint8_t *)b.data, b.len), 0);
		assert_same_hist(h, d);
		mdm_hdr_destroy(d);
		mdm_buf_fini(&b);
		mdm_hdr_destroy(h);
	}
}

/* Made by hdr-histogram-js 3.0.1 (64-bit counts, 1..3600e9, 3 digits) from
 * 1, 2, 3, 100, 5000 x3, 1e6, 1e9: its header has normalizing offset 1 and
 * ratio bits 0x1, which must not shift the counts. */
static const char js_vector[] =
	"HISTFAAAADZ4nJNpmSzMwMAgyMDAwMjAwMDMAAGMDAzMbgY7FjDA+UxMTPsZmX4asv2uYlo4n5EJAKIZB+E=";

static void test_js_vector(void **state)
{
	struct mdm_hdr *h = NULL;
	static const int64_t vals[] = { 1, 2, 3, 100, 1000000, 1000000000 };

	assert_int_equal(mdm_hdr_decode(&h, js_vector, strlen(js_vector)), 0);
	assert_int_equal(h->flags, MDM_HDR_F_JS_HEADER);
	assert_int_equal(h->lowest, 1);
	assert_int_equal(h->highest, HOUR_NS);
	assert_int_equal(h->sigfigs, 3);
	assert_int_equal(mdm_hdr_total_count(h), 9);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		assert_int_equal(h->counts[mdm_hdr_index_of(h, vals[i])], 1);
	assert_int_equal(h->counts[mdm_hdr_index_of(h, 5000)], 3);
	assert_int_equal(mdm_hdr_min(h), 1);
	assert_int_equal(mdm_hdr_max(h), 1000341503);
	assert_int_equal(mdm_hdr_value_at_percentile(h, 50), 5003); /* JS says 5003 too */
	/* not the decoder's job to change what it read: a re-encode is standard */
	{
		struct mdm_buf b = MDM_BUF_INIT;
		struct mdm_hdr *d = NULL;

		assert_int_equal(mdm_hdr_encode(h, &b), 0);
		assert_int_equal(mdm_hdr_decode(&d, b.data, b.len), 0);
		assert_int_equal(d->flags, 0);
		assert_same_hist(h, d);
		mdm_hdr_destroy(d);
		mdm_buf_fini(&b);
	}
	mdm_hdr_destroy(h);
}

/* Java-style block by hand: 2 digits, 1..1000 (counts_len 512), payload
 * -3, 7, 0, -1 (C-style lone zero run), 2, -300, 5. */
static const uint8_t hand_block[] = {
	0x1c, 0x84, 0x93, 0x13, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2,
	0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x03, 0xe8,
	0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
	0x05, 0x0e, 0x00, 0x01, 0x04, 0xd7, 0x04, 0x0a,
};

static void check_hand(const struct mdm_hdr *h)
{
	assert_int_equal(h->counts_len, 512);
	assert_int_equal(h->flags, 0);
	assert_int_equal(mdm_hdr_total_count(h), 14);
	assert_int_equal(h->counts[3], 7);
	assert_int_equal(h->counts[6], 2);
	assert_int_equal(h->counts[307], 5);
	assert_int_equal(mdm_hdr_value_at_index(h, 307), 358);
	assert_int_equal(mdm_hdr_min(h), 3);
	assert_int_equal(mdm_hdr_max(h), 359);
	assert_int_equal(mdm_hdr_value_at_percentile(h, 50), 3);
	assert_int_equal(mdm_hdr_value_at_percentile(h, 60), 6);
	assert_int_equal(mdm_hdr_value_at_percentile(h, 100), 359);
}

/* Wrap a block the way Java does: cookie, length, zlib stream (+ extra bytes). */
static size_t wrap(uint8_t *out, size_t cap, const uint8_t *block, size_t len, const uint8_t *extra,
		   size_t extra_len)
{
	uint8_t tmp[4096];
	uLongf clen = cap - 8;

	assert_true(len + extra_len <= sizeof(tmp));
	memcpy(tmp, block, len);
	if (extra_len)
		memcpy(tmp + len, extra, extra_len);
	assert_int_equal(compress2(out + 8, &clen, tmp, len + extra_len, 9), Z_OK);
	memcpy(out, "\x1c\x84\x93\x14", 4);
	out[4] = (uint8_t)(clen >> 24);
	out[5] = (uint8_t)(clen >> 16);
	out[6] = (uint8_t)(clen >> 8);
	out[7] = (uint8_t)clen;
	return clen + 8;
}

static void test_hand_vector(void **state)
{
	struct mdm_hdr *h = NULL;
	struct mdm_buf b64 = MDM_BUF_INIT;
	uint8_t w[512];
	size_t n;

	assert_int_equal(mdm_hdr_decode_bytes(&h, hand_block, sizeof(hand_block)), 0);
	check_hand(h);
	mdm_hdr_destroy(h);
	n = wrap(w, sizeof(w), hand_block, sizeof(hand_block), NULL, 0);
	assert_int_equal(mdm_base64_encode(&b64, w, n), 0);
	assert_memory_equal(b64.data, "HISTF", 5);
	assert_int_equal(mdm_hdr_decode(&h, b64.data, b64.len), 0);
	check_hand(h);
	mdm_hdr_destroy(h);
	mdm_buf_fini(&b64);
}

static void expect_einval(const uint8_t *p, size_t len)
{
	struct mdm_hdr *h = NULL;

	assert_int_equal(mdm_hdr_decode_bytes(&h, p, len), -EINVAL);
	assert_null(h);
}

static void test_malformed_blocks(void **state)
{
	uint8_t b[sizeof(hand_block) + 16], w[512];
	static const uint8_t junk[] = { 0x02 };
	size_t n;

	/* every truncation of the uncompressed block */
	for (size_t len = 0; len < sizeof(hand_block); len++)
		expect_einval(hand_block, len);
#define MUTATE(off, val) do { memcpy(b, hand_block, sizeof(hand_block)); b[off] = (val); \
	expect_einval(b, sizeof(hand_block)); } while (0)
	MUTATE(3, 0x12);       /* V2 base 0x1c849302 is the V1 cookie: unsupported */
	MUTATE(0, 0x1d);       /* unknown cookie */
	MUTATE(7, 9);          /* payload length larger than the bytes present */
	MUTATE(7, 7);          /* shorter: a byte is left over */
	MUTATE(15, 0);         /* 0 significant digits */
	MUTATE(15, 6);         /* 6 significant digits */
	MUTATE(23, 0);         /* lowest 0 */
	MUTATE(16, 0x80);      /* negative lowest */
	memcpy(b, hand_block, sizeof(hand_block));
	b[45] = 0xff;          /* run of -300 becomes -512: past the last slot */
	b[46] = 0x07;
	expect_einval(b, sizeof(hand_block));
	memcpy(b, hand_block, sizeof(hand_block));
	b[30] = 0;             /* highest 1 < 2 * lowest */
	b[31] = 1;
	expect_einval(b, sizeof(hand_block));
	MUTATE(47, 0x80);      /* last number has a continuation bit but no next byte */
#undef MUTATE
	/* count index past counts_len: a run to the end then one count */
	memcpy(b, hand_block, 40);
	b[7] = 4;
	b[40] = 0xff; b[41] = 0x07; /* zz 1023 = -512: run to exactly 512 (allowed) */
	b[42] = 0x02;               /* then a count at index 512 */
	b[43] = 0x00;
	expect_einval(b, 44);
	b[7] = 2;                   /* just the run: legal, empty histogram */
	{
		struct mdm_hdr *h = NULL;

		assert_int_equal(mdm_hdr_decode_bytes(&h, b, 42), 0);
		assert_int_equal(mdm_hdr_total_count(h), 0);
		mdm_hdr_destroy(h);
	}
	/* payload length over 9 bytes per slot is refused before any allocation */
	memcpy(b, hand_block, 40);
	b[4] = 0x7f;
	expect_einval(b, 40);

	/* compressed: every truncation and every single-byte corruption */
	n = wrap(w, sizeof(w), hand_block, sizeof(hand_block), NULL, 0);
	for (size_t len = 0; len < n; len++)
		expect_einval(w, len);
	for (size_t i = 0; i < n; i++) {
		uint8_t c[512];

		memcpy(c, w, n);
		c[i] ^= 0xff;
		expect_einval(c, n);
	}
	/* trailing bytes after the wrapper, and inside the zlib stream */
	expect_einval(w, n + 1);
	n = wrap(w, sizeof(w), hand_block, sizeof(hand_block), junk, sizeof(junk));
	expect_einval(w, n);
	/* the compressed stream ends before the payload does */
	memcpy(b, hand_block, sizeof(hand_block));
	b[7] = 9;
	n = wrap(w, sizeof(w), b, sizeof(hand_block), NULL, 0);
	expect_einval(w, n);
}

static void test_malformed_text(void **state)
{
	static const char *bad[] = {
		"", "HISTF", "!!!!", "HISTFAAAADZ4nJNpmSzMwMAgyMDAwMjAwMDMAAGMDAzMbgY7FjDA+UxMTPsZmX4asv2uYlo4n5EJAKIZB+",
		"HISTFAAAADZ4nJNpmSzMwMAgyMDAwMjAwMDMAAGMDAzMbgY7FjDA+UxMTPsZmX4asv2uYlo4n5EJAKIZB+E=AAAA",
		"HISTFAAAADZ4nJNpmSzMwMAgyMDAwMjAwMDMAAGMDAzMbgY7FjDA+UxMTPsZmX4asv2uYlo4n5EJAKIZBxE=",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mdm_hdr *h = NULL;

		assert_int_equal(mdm_hdr_decode(&h, bad[i], strlen(bad[i])), -EINVAL);
		assert_null(h);
	}
}

static void test_alloc_failures(void **state)
{
	uint64_t base = mdm_mem_used();
	struct mdm_hdr *h = mk(1, HOUR_NS, 3), *d = NULL;
	struct mdm_buf b = MDM_BUF_INIT;
	int failed = 0;

	for (int64_t v = 1; v < 100000; v += 7)
		mdm_hdr_record(h, v);
	assert_int_equal(mdm_hdr_encode(h, &b), 0);
	/* fail the n-th allocation for each n until decode succeeds: every error
	 * path must return -ENOMEM and free what it took */
	for (uint64_t n = 1; n < 64; n++) {
		int rc;

		mdm_mem_fail_after(n);
		rc = mdm_hdr_decode(&d, b.data, b.len);
		mdm_mem_fail_reset();
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
		assert_null(d);
		failed++;
	}
	assert_true(failed >= 3); /* base64 buffer, zlib state, histogram... */
	assert_non_null(d);
	assert_same_hist(h, d);
	mdm_hdr_destroy(d);
	for (uint64_t n = 1; n < 64; n++) {
		struct mdm_buf e = MDM_BUF_INIT;
		int rc;

		mdm_mem_fail_after(n);
		rc = mdm_hdr_encode(h, &e);
		mdm_mem_fail_reset();
		mdm_buf_fini(&e);
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
	}
	mdm_mem_fail_after(1);
	assert_int_equal(mdm_hdr_create(&d, 1, 100, 3), -ENOMEM);
	mdm_mem_fail_reset();
	mdm_buf_fini(&b);
	mdm_hdr_destroy(h);
	assert_int_equal(mdm_mem_used(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_index_examples),
		cmocka_unit_test(test_uniform_percentiles),
		cmocka_unit_test(test_small_rounding),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_coordinated_omission),
		cmocka_unit_test(test_add_and_reset),
		cmocka_unit_test(test_percentile_iterator),
		cmocka_unit_test(test_zigzag_leb128),
		cmocka_unit_test(test_payload_bytes),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_js_vector),
		cmocka_unit_test(test_hand_vector),
		cmocka_unit_test(test_malformed_blocks),
		cmocka_unit_test(test_malformed_text),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
