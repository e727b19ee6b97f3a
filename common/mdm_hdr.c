/* HDR histogram: layout, statistics, percentile iteration and the V2
 * (ZigZag LEB128, zlib, base64) encoding. Recording itself is inline in
 * mdm_hdr.h. */
#include "mdm_hdr.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "mdm_base64.h"
#include "mdm_err.h"
#include "mdm_mem.h"

#define V2_BLOCK_COOKIE      0x1c849313u
#define V2_BLOCK_BASE        0x1c849303u
#define V2_COMPRESSED_COOKIE 0x1c849314u
#define V2_COMPRESSED_BASE   0x1c849304u
#define V0_COMPRESSED_BASE   0x1c849309u
#define V1_COMPRESSED_BASE   0x1c849302u
#define COOKIE_BASE(c)       ((c) & ~0xf0u)
#define V2_HEADER_LEN        40
#define WRAPPER_LEN          8
#define ZZ_MAX_BYTES         9
#define RATIO_ONE_BITS       0x3ff0000000000000ull

/* --- layout --- */

static int layout(struct mdm_hdr *h, int64_t lowest, int64_t highest, int sigfigs)
{
	int64_t single = 2, untrackable;
	int32_t count_mag = 0, buckets = 1;

	if (lowest < 1 || sigfigs < MDM_HDR_SIGFIGS_MIN || sigfigs > MDM_HDR_SIGFIGS_MAX ||
	    highest / 2 < lowest)
		return mdm_err_set(-EINVAL, "hdr: need lowest >= 1, highest >= 2*lowest, sigfigs 1..5 "
				   "(got %lld, %lld, %d)", (long long)lowest, (long long)highest, sigfigs);
	for (int i = 0; i < sigfigs; i++)
		single *= 10;
	while (((int64_t)1 << count_mag) < single)
		count_mag++;
	h->lowest = lowest;
	h->highest = highest;
	h->sigfigs = sigfigs;
	h->half_mag = (count_mag > 1 ? count_mag : 1) - 1;
	h->unit_mag = 63 - __builtin_clzll((uint64_t)lowest);
	/* Keeps sub_bucket_count << unit_mag (and the mask) inside int64. */
	if (h->unit_mag + h->half_mag > 61)
		return mdm_err_set(-EINVAL, "hdr: lowest %lld too large for %d significant digits",
				   (long long)lowest, sigfigs);
	h->sub_bucket_count = (int32_t)1 << (h->half_mag + 1);
	h->sub_bucket_half_count = h->sub_bucket_count / 2;
	h->sub_bucket_mask = ((int64_t)h->sub_bucket_count - 1) << h->unit_mag;
	untrackable = (int64_t)h->sub_bucket_count << h->unit_mag;
	while (untrackable <= highest) {
		/* The next doubling would pass 2^63: one more bucket reaches it. */
		if (untrackable > INT64_MAX / 2) {
			buckets++;
			break;
		}
		untrackable <<= 1;
		buckets++;
	}
	h->bucket_count = buckets;
	h->counts_len = (buckets + 1) * h->sub_bucket_half_count;
	return 0;
}

int mdm_hdr_init(struct mdm_hdr *h, int64_t lowest, int64_t highest, int sigfigs)
{
	int rc;

	memset(h, 0, sizeof(*h));
	rc = layout(h, lowest, highest, sigfigs);
	if (rc != 0)
		return rc;
	h->counts = mdm_calloc((size_t)h->counts_len, sizeof(*h->counts));
	if (!h->counts)
		return mdm_err_set(-ENOMEM, "hdr: cannot allocate %d counts", h->counts_len);
	h->min_nz = INT64_MAX;
	return 0;
}

void mdm_hdr_fini(struct mdm_hdr *h)
{
	mdm_free(h->counts);
	memset(h, 0, sizeof(*h));
}

int mdm_hdr_create(struct mdm_hdr **out, int64_t lowest, int64_t highest, int sigfigs)
{
	struct mdm_hdr *h = mdm_malloc(sizeof(*h));
	int rc;

	if (!h)
		return mdm_err_set(-ENOMEM, "hdr: cannot allocate histogram");
	rc = mdm_hdr_init(h, lowest, highest, sigfigs);
	if (rc != 0) {
		mdm_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void mdm_hdr_destroy(struct mdm_hdr *h)
{
	if (!h)
		return;
	mdm_hdr_fini(h);
	mdm_free(h);
}

void mdm_hdr_reset(struct mdm_hdr *h)
{
	memset(h->counts, 0, (size_t)h->counts_len * sizeof(*h->counts));
	h->total_count = 0;
	h->out_of_range = 0;
	h->flags = 0;
	h->min_nz = INT64_MAX;
	h->max_val = 0;
}

/* --- equivalent values --- */

int64_t mdm_hdr_value_at_index(const struct mdm_hdr *h, int32_t index)
{
	int32_t bucket = (index >> h->half_mag) - 1;
	int64_t sub = (index & (h->sub_bucket_half_count - 1)) + h->sub_bucket_half_count;

	if (bucket < 0) {
		sub -= h->sub_bucket_half_count;
		bucket = 0;
	}
	return sub << (bucket + h->unit_mag);
}

static int32_t bucket_of(const struct mdm_hdr *h, int64_t v)
{
	return (64 - __builtin_clzll((uint64_t)(v | h->sub_bucket_mask))) - h->unit_mag - (h->half_mag + 1);
}

/* HdrHistogram_c bumps the bucket when the sub-bucket index reaches
 * sub_bucket_count; with the masked clz bucket formula it never does. */
int64_t mdm_hdr_size_of_equivalent_range(const struct mdm_hdr *h, int64_t v)
{
	if (v < 0)
		v = 0;
	return (int64_t)1 << (h->unit_mag + bucket_of(h, v));
}

int64_t mdm_hdr_lowest_equivalent(const struct mdm_hdr *h, int64_t v)
{
	int32_t shift;

	if (v < 0)
		v = 0;
	shift = bucket_of(h, v) + h->unit_mag;
	return (v >> shift) << shift;
}

int64_t mdm_hdr_highest_equivalent(const struct mdm_hdr *h, int64_t v)
{
	/* Unsigned so the top slot (whose end is 2^63) does not overflow. */
	return (int64_t)((uint64_t)mdm_hdr_lowest_equivalent(h, v) +
			 (uint64_t)mdm_hdr_size_of_equivalent_range(h, v) - 1);
}

int64_t mdm_hdr_median_equivalent(const struct mdm_hdr *h, int64_t v)
{
	return mdm_hdr_lowest_equivalent(h, v) + (mdm_hdr_size_of_equivalent_range(h, v) >> 1);
}

/* --- recording helpers and statistics --- */

bool mdm_hdr_record_corrected(struct mdm_hdr *h, int64_t v, int64_t expected_interval)
{
	if (!mdm_hdr_record(h, v))
		return false;
	if (expected_interval <= 0 || v <= expected_interval)
		return true;
	for (int64_t missing = v - expected_interval; missing >= expected_interval; missing -= expected_interval)
		mdm_hdr_record(h, missing);
	return true;
}

uint64_t mdm_hdr_add(struct mdm_hdr *dst, const struct mdm_hdr *src)
{
	uint64_t dropped = 0;

	/* Re-recording at src's slot starts works for any pair of layouts and
	 * keeps dst's min/max tracking right; a slot start is equivalent to every
	 * value that was counted in it. */
	for (int32_t i = 0; i < src->counts_len; i++) {
		uint64_t c = src->counts[i];

		if (c != 0 && !mdm_hdr_record_n(dst, mdm_hdr_value_at_index(src, i), c))
			dropped += c;
	}
	dst->out_of_range += src->out_of_range;
	return dropped;
}

uint64_t mdm_hdr_total_count(const struct mdm_hdr *h)
{
	return h->total_count;
}

int64_t mdm_hdr_min(const struct mdm_hdr *h)
{
	if (h->total_count == 0 || h->counts[0] != 0 || h->min_nz == INT64_MAX)
		return 0;
	return mdm_hdr_lowest_equivalent(h, h->min_nz);
}

int64_t mdm_hdr_max(const struct mdm_hdr *h)
{
	if (h->total_count == 0)
		return 0;
	return mdm_hdr_highest_equivalent(h, h->max_val);
}

double mdm_hdr_mean(const struct mdm_hdr *h)
{
	double sum = 0.0;

	if (h->total_count == 0)
		return 0.0;
	for (int32_t i = 0; i < h->counts_len; i++) {
		if (h->counts[i])
			sum += (double)h->counts[i] *
			       (double)mdm_hdr_median_equivalent(h, mdm_hdr_value_at_index(h, i));
	}
	return sum / (double)h->total_count;
}

double mdm_hdr_stddev(const struct mdm_hdr *h)
{
	double mean, sum = 0.0;

	if (h->total_count == 0)
		return 0.0;
	mean = mdm_hdr_mean(h);
	for (int32_t i = 0; i < h->counts_len; i++) {
		if (h->counts[i]) {
			double d = (double)mdm_hdr_median_equivalent(h, mdm_hdr_value_at_index(h, i)) - mean;

			sum += d * d * (double)h->counts[i];
		}
	}
	return sqrt(sum / (double)h->total_count);
}

int64_t mdm_hdr_value_at_percentile(const struct mdm_hdr *h, double p)
{
	uint64_t target, running = 0;
	double q;

	if (h->total_count == 0)
		return 0;
	q = p > 100.0 ? 100.0 : p;
	if (!(q > 0.0))
		q = 0.0; /* also catches NaN */
	target = (uint64_t)(q / 100.0 * (double)h->total_count + 0.5);
	if (target < 1)
		target = 1;
	if (target > h->total_count)
		target = h->total_count;
	for (int32_t i = 0; i < h->counts_len; i++) {
		running += h->counts[i];
		if (running >= target) {
			int64_t v = mdm_hdr_value_at_index(h, i);

			return q == 0.0 ? mdm_hdr_lowest_equivalent(h, v) : mdm_hdr_highest_equivalent(h, v);
		}
	}
	return 0; /* unreachable while total_count == sum(counts) */
}

/* --- percentile iterator --- */

void mdm_hdr_iter_percentile_init(struct mdm_hdr_iter *it, const struct mdm_hdr *h,
				  int ticks_per_half_distance)
{
	memset(it, 0, sizeof(*it));
	it->h = h;
	it->ticks_per_half = ticks_per_half_distance < 1 ? 1 : ticks_per_half_distance;
	it->fresh = true;
}

bool mdm_hdr_iter_next(struct mdm_hdr_iter *it)
{
	const struct mdm_hdr *h = it->h;

	if (it->running >= h->total_count) {
		/* All counts seen: one extra step reports the max at 100%. */
		if (it->last_done || h->total_count == 0)
			return false;
		it->level = 100.0;
		it->last_done = true;
	}
	while (it->index < h->counts_len) {
		uint64_t c = h->counts[it->index];

		if (it->fresh) {
			it->running += c;
			it->fresh = false;
		}
		if (c != 0 && 100.0 * (double)it->running / (double)h->total_count >= it->level) {
			it->value = mdm_hdr_highest_equivalent(h, mdm_hdr_value_at_index(h, it->index));
			it->percentile = it->level;
			it->total_count = it->running;
			it->count_at_value = c;
			if (!it->last_done && it->level < 100.0) {
				/* Halve the distance to 100% every `ticks` steps:
				 * 2^(floor(log2(100 / remaining)) + 1) * ticks steps per 100%. */
				int k = (int)floor(log2(100.0 / (100.0 - it->level)));
				double ticks = ldexp((double)it->ticks_per_half, k + 1);

				it->level += 100.0 / ticks;
				if (it->level > 100.0)
					it->level = 100.0;
			}
			return true;
		}
		it->index++;
		it->fresh = true;
	}
	return false;
}

/* --- ZigZag LEB128-64b9B --- */

size_t mdm_hdr_zz_put(uint8_t out[9], int64_t n)
{
	/* ZigZag: small magnitudes of either sign become small unsigned values. */
	uint64_t u = ((uint64_t)n << 1) ^ (n < 0 ? UINT64_MAX : 0);
	size_t i;

	for (i = 0; i < 8; i++) {
		if (u < 0x80) {
			out[i] = (uint8_t)u;
			return i + 1;
		}
		out[i] = (uint8_t)((u & 0x7f) | 0x80);
		u >>= 7;
	}
	/* 8 * 7 = 56 bits written; the 9th byte carries the last 8 whole. */
	out[8] = (uint8_t)u;
	return 9;
}

int mdm_hdr_zz_get(const uint8_t *p, size_t len, int64_t *n)
{
	uint64_t u = 0;
	size_t i;

	for (i = 0; i < 8; i++) {
		if (i >= len)
			return -EINVAL;
		u |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80))
			break;
	}
	if (i == 8) {
		if (len < 9)
			return -EINVAL;
		u |= (uint64_t)p[8] << 56;
	}
	*n = (int64_t)((u >> 1) ^ (0 - (u & 1)));
	return (int)(i == 8 ? 9 : i + 1);
}

/* --- encoding --- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

int mdm_hdr_encode_v2(const struct mdm_hdr *h, struct mdm_buf *out)
{
	uint8_t hdr[V2_HEADER_LEN], zz[ZZ_MAX_BYTES];
	size_t start = out->len, payload;
	int32_t limit = h->counts_len, i = 0;

	while (limit > 0 && h->counts[limit - 1] == 0)
		limit--;
	/* Header first with a zero length, patched once the payload is known. */
	put_be32(hdr, V2_BLOCK_COOKIE);
	put_be32(hdr + 4, 0);
	put_be32(hdr + 8, 0);
	put_be32(hdr + 12, (uint32_t)h->sigfigs);
	put_be64(hdr + 16, (uint64_t)h->lowest);
	put_be64(hdr + 24, (uint64_t)h->highest);
	put_be64(hdr + 32, RATIO_ONE_BITS);
	if (mdm_buf_append(out, hdr, sizeof(hdr)) != 0)
		return mdm_err_set(-ENOMEM, "hdr: out of memory encoding");
	while (i < limit) {
		uint64_t c = h->counts[i];
		int64_t n;

		if (c > INT64_MAX) {
			out->len = start;
			return mdm_err_set(-ERANGE, "hdr: count %llu too large to encode", (unsigned long long)c);
		}
		if (c == 0 && i + 1 < limit && h->counts[i + 1] == 0) {
			int32_t run = 0;

			while (i < limit && h->counts[i] == 0) {
				run++;
				i++;
			}
			n = -(int64_t)run;
		} else {
			n = (int64_t)c;
			i++;
		}
		if (mdm_buf_append(out, zz, mdm_hdr_zz_put(zz, n)) != 0)
			return mdm_err_set(-ENOMEM, "hdr: out of memory encoding");
	}
	payload = out->len - start - V2_HEADER_LEN;
	if (payload > INT32_MAX) {
		out->len = start;
		return mdm_err_set(-ERANGE, "hdr: encoded payload too large");
	}
	put_be32((uint8_t *)out->data + start + 4, (uint32_t)payload);
	return 0;
}

/* zlib allocates through mdm_mem so accounting and fault injection cover it. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return mdm_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	mdm_free(p);
}

int mdm_hdr_encode(const struct mdm_hdr *h, struct mdm_buf *out)
{
	struct mdm_buf block = MDM_BUF_INIT;
	uint8_t *wrap = NULL;
	z_stream z;
	uLong bound;
	int rc;

	rc = mdm_hdr_encode_v2(h, &block);
	if (rc != 0)
		goto out_block;
	memset(&z, 0, sizeof(z));
	z.zalloc = z_alloc;
	z.zfree = z_free;
	/* deflateInit rather than compress2: same RFC 1950 stream, but the memory
	 * comes from mdm_mem. */
	if (deflateInit(&z, Z_DEFAULT_COMPRESSION) != Z_OK) {
		rc = mdm_err_set(-ENOMEM, "hdr: deflateInit failed");
		goto out_block;
	}
	bound = deflateBound(&z, (uLong)block.len);
	wrap = mdm_malloc(WRAPPER_LEN + bound);
	if (!wrap) {
		rc = mdm_err_set(-ENOMEM, "hdr: cannot allocate compression buffer");
		goto out_z;
	}
	z.next_in = (Bytef *)block.data;
	z.avail_in = (uInt)block.len;
	z.next_out = wrap + WRAPPER_LEN;
	z.avail_out = (uInt)bound;
	rc = deflate(&z, Z_FINISH);
	if (rc != Z_STREAM_END) {
		rc = mdm_err_set(rc == Z_MEM_ERROR ? -ENOMEM : -EIO, "hdr: deflate failed (%d)", rc);
		goto out_z;
	}
	put_be32(wrap, V2_COMPRESSED_COOKIE);
	put_be32(wrap + 4, (uint32_t)z.total_out);
	rc = mdm_base64_encode(out, wrap, WRAPPER_LEN + z.total_out);
out_z:
	deflateEnd(&z);
out_block:
	mdm_free(wrap);
	mdm_buf_fini(&block);
	return rc;
}

/* --- decoding --- */

/* Parse and check a V2 block header; creates the histogram. */
static int decode_header(struct mdm_hdr **out, const uint8_t *p, uint32_t *payload_len)
{
	uint32_t cookie = get_be32(p);
	int32_t offset = (int32_t)get_be32(p + 8);
	int32_t sigfigs = (int32_t)get_be32(p + 12);
	int64_t lowest = (int64_t)get_be64(p + 16), highest = (int64_t)get_be64(p + 24);
	uint64_t ratio = get_be64(p + 32);
	struct mdm_hdr *h = NULL;
	int rc;

	if (COOKIE_BASE(cookie) != V2_BLOCK_BASE)
		return mdm_err_set(-EINVAL, "hdr: bad V2 block cookie 0x%08x", cookie);
	*payload_len = get_be32(p + 4);
	rc = mdm_hdr_create(&h, lowest, highest, sigfigs);
	if (rc != 0)
		return rc;
	/* A slot is at most 9 bytes, so anything longer cannot be a histogram
	 * of this layout; the cap also bounds the allocation below. */
	if ((uint64_t)*payload_len > (uint64_t)ZZ_MAX_BYTES * (uint64_t)h->counts_len) {
		rc = mdm_err_set(-EINVAL, "hdr: payload length %u exceeds %d slots", *payload_len, h->counts_len);
		mdm_hdr_destroy(h);
		return rc;
	}
	if (offset == 1 && ratio == 1)
		h->flags |= MDM_HDR_F_JS_HEADER;
	else {
		if (offset != 0)
			h->flags |= MDM_HDR_F_ODD_OFFSET;
		if (ratio != RATIO_ONE_BITS)
			h->flags |= MDM_HDR_F_ODD_RATIO;
	}
	*out = h;
	return 0;
}

/* Fill counts from the payload. Counts are read in logical order whatever the
 * header's normalizing offset says: Java writes them that way, and applying
 * hdr-histogram-js's bogus offset of 1 is exactly the C library's bug. */
static int decode_counts(struct mdm_hdr *h, const uint8_t *p, size_t len)
{
	size_t pos = 0;
	uint64_t idx = 0, total = 0;

	while (pos < len) {
		int64_t n;
		int used = mdm_hdr_zz_get(p + pos, len - pos, &n);

		if (used < 0)
			return mdm_err_set(-EINVAL, "hdr: truncated count at payload byte %zu", pos);
		pos += (size_t)used;
		if (n < 0) {
			if (n == INT64_MIN || (uint64_t)-n > (uint64_t)h->counts_len - idx)
				return mdm_err_set(-EINVAL, "hdr: zero run past the last slot");
			idx += (uint64_t)-n;
			continue;
		}
		if (idx >= (uint64_t)h->counts_len)
			return mdm_err_set(-EINVAL, "hdr: count past the last slot (%d)", h->counts_len);
		if ((uint64_t)n > (uint64_t)INT64_MAX - total)
			return mdm_err_set(-EINVAL, "hdr: total count overflows");
		h->counts[idx] = (uint64_t)n;
		total += (uint64_t)n;
		if (n != 0) {
			int64_t v = mdm_hdr_value_at_index(h, (int32_t)idx);

			if (idx != 0 && v < h->min_nz)
				h->min_nz = v;
			h->max_val = v;
		}
		idx++;
	}
	h->total_count = total;
	return 0;
}

/* Inflate exactly n bytes into dst. *ended is set when zlib saw the stream end. */
static int inflate_exact(z_stream *z, uint8_t *dst, size_t n, bool *ended)
{
	z->next_out = dst;
	z->avail_out = (uInt)n;
	while (z->avail_out > 0) {
		int rc;

		if (*ended)
			return mdm_err_set(-EINVAL, "hdr: compressed stream ends early");
		rc = inflate(z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			*ended = true;
		else if (rc == Z_MEM_ERROR)
			return mdm_err_set(-ENOMEM, "hdr: inflate out of memory");
		else if (rc != Z_OK)
			return mdm_err_set(-EINVAL, "hdr: corrupt compressed data (zlib %d)", rc);
	}
	return 0;
}

static int decode_compressed(struct mdm_hdr **out, const uint8_t *p, size_t len)
{
	uint8_t hdr[V2_HEADER_LEN], extra;
	uint8_t *payload = NULL;
	struct mdm_hdr *h = NULL;
	uint32_t clen = get_be32(p + 4), plen = 0;
	bool ended = false;
	z_stream z;
	int rc;

	if (clen != len - WRAPPER_LEN)
		return mdm_err_set(-EINVAL, "hdr: compressed length %u but %zu bytes follow", clen,
				   len - WRAPPER_LEN);
	memset(&z, 0, sizeof(z));
	z.zalloc = z_alloc;
	z.zfree = z_free;
	z.next_in = (Bytef *)(p + WRAPPER_LEN);
	z.avail_in = clen;
	if (inflateInit(&z) != Z_OK)
		return mdm_err_set(-ENOMEM, "hdr: inflateInit failed");
	rc = inflate_exact(&z, hdr, sizeof(hdr), &ended);
	if (rc != 0)
		goto out;
	rc = decode_header(&h, hdr, &plen);
	if (rc != 0)
		goto out;
	payload = mdm_malloc(plen ? plen : 1);
	if (!payload) {
		rc = mdm_err_set(-ENOMEM, "hdr: cannot allocate %u payload bytes", plen);
		goto out;
	}
	rc = inflate_exact(&z, payload, plen, &ended);
	if (rc != 0)
		goto out;
	if (!ended) {
		/* The block must be the whole stream: this also checks Adler-32. */
		z.next_out = &extra;
		z.avail_out = 1;
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_STREAM_END || z.avail_out != 1) {
			rc = mdm_err_set(-EINVAL, "hdr: compressed stream has trailing data or is cut short");
			goto out;
		}
	}
	rc = decode_counts(h, payload, plen);
out:
	inflateEnd(&z);
	mdm_free(payload);
	if (rc != 0) {
		mdm_hdr_destroy(h);
		return rc;
	}
	*out = h;
	return 0;
}

int mdm_hdr_decode_bytes(struct mdm_hdr **out, const uint8_t *p, size_t len)
{
	uint32_t cookie, plen;
	struct mdm_hdr *h = NULL;
	int rc;

	if (len < WRAPPER_LEN)
		return mdm_err_set(-EINVAL, "hdr: %zu bytes is too short for a histogram", len);
	cookie = COOKIE_BASE(get_be32(p));
	if (cookie == V2_COMPRESSED_BASE)
		return decode_compressed(out, p, len);
	if (cookie == V0_COMPRESSED_BASE || cookie == V1_COMPRESSED_BASE)
		return mdm_err_set(-EINVAL, "hdr: V0/V1 encodings are not supported (re-encode as V2)");
	if (cookie != V2_BLOCK_BASE)
		return mdm_err_set(-EINVAL, "hdr: unknown cookie 0x%08x", get_be32(p));
	if (len < V2_HEADER_LEN)
		return mdm_err_set(-EINVAL, "hdr: %zu bytes is too short for a V2 header", len);
	rc = decode_header(&h, p, &plen);
	if (rc != 0)
		return rc;
	if ((uint64_t)plen != (uint64_t)(len - V2_HEADER_LEN)) {
		mdm_hdr_destroy(h);
		return mdm_err_set(-EINVAL, "hdr: payload length %u but %zu bytes follow", plen,
				   len - V2_HEADER_LEN);
	}
	rc = decode_counts(h, p + V2_HEADER_LEN, plen);
	if (rc != 0) {
		mdm_hdr_destroy(h);
		return rc;
	}
	*out = h;
	return 0;
}

int mdm_hdr_decode(struct mdm_hdr **out, const char *b64, size_t len)
{
	struct mdm_buf raw = MDM_BUF_INIT;
	int rc;

	rc = mdm_base64_decode(&raw, b64, len);
	if (rc == -EINVAL)
		rc = mdm_err_set(-EINVAL, "hdr: not base64");
	else if (rc != 0)
		rc = mdm_err_set(rc, "hdr: out of memory decoding base64");
	else
		rc = mdm_hdr_decode_bytes(out, (const uint8_t *)raw.data, raw.len);
	mdm_buf_fini(&raw);
	return rc;
}
