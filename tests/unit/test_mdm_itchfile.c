/* NASDAQ BinaryFILE reader and writer: round trips (plain and gzip, records
 * across refills), RITCH's zero length prefixes, truncated tails reported and
 * not fatal, corrupt gzip data and unknown types as errors naming the file
 * and offset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>

#include "mdm_err.h"
#include "mdm_itchfile.h"

static char dir[] = "/tmp/test_itchfile.XXXXXX";

static const char *path_of(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

/* Record k: a real type at its length (k % 5 picks it), bytes a function of k. */
static size_t record(uint64_t k, uint8_t *out)
{
	static const uint8_t types[] = { 'S', 'R', 'A', 'D', 'P' };
	uint8_t t = types[k % 5];
	size_t n = mdm_itchfile_type_len(t);

	out[0] = t;
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(k * 31 + i);
	return n;
}

static void write_records(const char *path, bool gzip, uint64_t n)
{
	struct mdm_itchfile_writer *w;
	uint8_t m[64];

	assert_int_equal(mdm_itchfile_writer_open(&w, path, gzip), 0);
	for (uint64_t k = 0; k < n; k++)
		assert_int_equal(mdm_itchfile_write(w, m, record(k, m)), 0);
	assert_int_equal(mdm_itchfile_writer_close(w), 0);
}

static void write_raw(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static size_t read_raw(const char *path, uint8_t **out)
{
	FILE *f = fopen(path, "rb");
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*out = malloc((size_t)n);
	assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return (size_t)n;
}

/* Read every record, checking each against record(k); returns the count. */
static uint64_t read_check(const char *path, struct mdm_itchfile_stats *st)
{
	struct mdm_itchfile *r;
	const uint8_t *msg;
	size_t len;
	uint64_t k = 0;
	uint8_t want[64];
	int rc;

	assert_int_equal(mdm_itchfile_open(&r, path), 0);
	while ((rc = mdm_itchfile_next(r, &msg, &len)) == 1) {
		size_t n = record(k, want);

		assert_int_equal(len, n);
		assert_memory_equal(msg, want, n);
		k++;
	}
	assert_int_equal(rc, 0);
	*st = *mdm_itchfile_stats(r);
	mdm_itchfile_close(r);
	return k;
}

static void test_round_trip(void **state)
{
	/* 200k records, about 5 MB: many refills of the 256 KiB window */
	static const struct {
		const char *name;
		bool gzip;
	} cases[] = { { "plain.itch", false }, { "day.itch.gz", true } };
	struct mdm_itchfile_stats st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_records(path_of(cases[i].name), cases[i].gzip, 200000);
		assert_int_equal(read_check(path_of(cases[i].name), &st), 200000);
		assert_int_equal(st.records, 200000);
		assert_int_equal(st.gzip, cases[i].gzip);
		assert_false(st.truncated);
		assert_int_equal(st.zero_length, 0);
	}
}

static void test_big_record_across_refill(void **state)
{
	struct mdm_itchfile_writer *w;
	struct mdm_itchfile *r;
	static uint8_t big[65535];
	const uint8_t *msg;
	size_t len;
	uint8_t m[64];

	memset(big, 'x', sizeof(big));
	assert_int_equal(mdm_itchfile_writer_open(&w, path_of("big.itch"), false), 0);
	for (int k = 0; k < 10; k++) {
		assert_int_equal(mdm_itchfile_write(w, m, record((uint64_t)k, m)), 0);
		assert_int_equal(mdm_itchfile_write(w, big, sizeof(big)), 0);
	}
	assert_int_equal(mdm_itchfile_write(w, big, 0), -EINVAL);
	assert_int_equal(mdm_itchfile_writer_close(w), 0);
	assert_int_equal(mdm_itchfile_open(&r, path_of("big.itch")), 0);
	for (int k = 0; k < 10; k++) {
		assert_int_equal(mdm_itchfile_next(r, &msg, &len), 1);
		assert_int_equal(len, record((uint64_t)k, m));
		assert_int_equal(mdm_itchfile_next(r, &msg, &len), 1);
		assert_int_equal(len, sizeof(big));
		assert_memory_equal(msg, big, sizeof(big));
	}
	assert_int_equal(mdm_itchfile_next(r, &msg, &len), 0);
	mdm_itchfile_close(r);
}

static void test_zero_length_prefix(void **state)
{
	/* RITCH writes 0 and relies on the type's length: S (12) then D (19) */
	uint8_t f[2 + 12 + 2 + 19] = { 0 };
	struct mdm_itchfile *r;
	const uint8_t *msg;
	size_t len;

	f[2] = 'S';
	f[2 + 12 + 1] = 19;
	f[2 + 12 + 2] = 'D';
	write_raw(path_of("ritch.itch"), f, sizeof(f));
	assert_int_equal(mdm_itchfile_open(&r, path_of("ritch.itch")), 0);
	assert_int_equal(mdm_itchfile_next(r, &msg, &len), 1);
	assert_int_equal(len, 12);
	assert_int_equal(msg[0], 'S');
	assert_int_equal(mdm_itchfile_next(r, &msg, &len), 1);
	assert_int_equal(len, 19);
	assert_int_equal(mdm_itchfile_next(r, &msg, &len), 0);
	assert_int_equal(mdm_itchfile_stats(r)->zero_length, 1);
	mdm_itchfile_close(r);

	/* a zero length with a type of unknown length cannot be framed */
	f[2] = 'z';
	write_raw(path_of("ritch_bad.itch"), f, sizeof(f));
	assert_int_equal(mdm_itchfile_open(&r, path_of("ritch_bad.itch")), 0);
	assert_int_equal(mdm_itchfile_next(r, &msg, &len), -EINVAL);
	assert_non_null(strstr(mdm_err_last(), "ritch_bad.itch: offset 0: zero length record of unknown type"));
	mdm_itchfile_close(r);
}

static void test_truncated(void **state)
{
	/* 100 records, then the file cut at various points of the last one */
	uint8_t *full;
	size_t n, last_start, m;
	uint8_t rec[64];
	struct mdm_itchfile_stats st;
	uint64_t off = 0;

	write_records(path_of("full.itch"), false, 100);
	n = read_raw(path_of("full.itch"), &full);
	for (uint64_t k = 0; k < 99; k++)
		off += 2 + record(k, rec);
	last_start = (size_t)off;
	m = record(99, rec);
	assert_int_equal(n, last_start + 2 + m);
	{
		static const struct {
			size_t keep; /* bytes of the last record kept */
			bool gzip;
		} cases[] = { { 1, false }, { 2, false }, { 5, false }, { 1, true }, { 7, true } };
		char line[256];

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const char *p = path_of(cases[i].gzip ? "cut.itch.gz" : "cut.itch");
			struct mdm_itchfile *r;

			if (cases[i].gzip) {
				gzFile g = gzopen(p, "wb");

				assert_int_equal(gzwrite(g, full, (unsigned)(last_start + cases[i].keep)),
						 (int)(last_start + cases[i].keep));
				assert_int_equal(gzclose(g), Z_OK);
			} else {
				write_raw(p, full, last_start + cases[i].keep);
			}
			/* the 99 whole records come out; the tail is reported */
			assert_int_equal(read_check(p, &st), 99);
			assert_true(st.truncated);
			assert_int_equal(st.truncated_offset, last_start);
			assert_int_equal(st.truncated_have, cases[i].keep);
			assert_int_equal(st.truncated_want, cases[i].keep < 2 ? 0 : 2 + m);
			assert_int_equal(mdm_itchfile_open(&r, p), 0);
			while (mdm_itchfile_next(r, &(const uint8_t *){ NULL }, &(size_t){ 0 }) == 1)
				;
			mdm_itchfile_truncated_str(r, line, sizeof(line));
			assert_non_null(strstr(line, "truncated last record at offset"));
			assert_non_null(strstr(line, cases[i].gzip ? "cut.itch.gz" : "cut.itch"));
			mdm_itchfile_close(r);
		}
	}
	free(full);
}

static void test_gzip_cut_and_corrupt(void **state)
{
	uint8_t *gz;
	size_t n;
	struct mdm_itchfile_stats st;
	struct mdm_itchfile *r;
	const uint8_t *msg;
	size_t len;
	uint64_t k;
	int rc;

	write_records(path_of("whole.itch.gz"), true, 50000);
	n = read_raw(path_of("whole.itch.gz"), &gz);
	/* the compressed stream cut in half: what it holds comes out, the end is reported */
	write_raw(path_of("half.itch.gz"), gz, n / 2);
	k = read_check(path_of("half.itch.gz"), &st);
	assert_true(k > 1000 && k < 50000);
	assert_true(st.gzip_cut);
	assert_true(st.gzip);

	/* corrupt deflate data: an error naming the file and an offset, never a crash */
	for (size_t i = n / 3; i < n / 3 + 64; i++)
		gz[i] ^= 0x5a;
	write_raw(path_of("bad.itch.gz"), gz, n);
	assert_int_equal(mdm_itchfile_open(&r, path_of("bad.itch.gz")), 0);
	while ((rc = mdm_itchfile_next(r, &msg, &len)) == 1)
		;
	assert_int_equal(rc, -EIO);
	assert_non_null(strstr(mdm_err_last(), "bad.itch.gz: offset "));
	mdm_itchfile_close(r);
	free(gz);

	assert_int_equal(mdm_itchfile_open(&r, path_of("absent.itch")), -ENOENT);
	assert_null(r);
	assert_non_null(strstr(mdm_err_last(), "absent.itch"));
}

static void test_empty_file(void **state)
{
	struct mdm_itchfile *r;
	const uint8_t *msg;
	size_t len;

	write_raw(path_of("empty.itch"), "", 0);
	assert_int_equal(mdm_itchfile_open(&r, path_of("empty.itch")), 0);
	assert_int_equal(mdm_itchfile_next(r, &msg, &len), 0);
	assert_false(mdm_itchfile_stats(r)->truncated);
	assert_int_equal(mdm_itchfile_stats(r)->records, 0);
	mdm_itchfile_close(r);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_big_record_across_refill),
		cmocka_unit_test(test_zero_length_prefix),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_gzip_cut_and_corrupt),
		cmocka_unit_test(test_empty_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
