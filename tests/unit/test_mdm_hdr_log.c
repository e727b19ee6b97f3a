#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "mdm_err.h"
#include "mdm_hdr.h"
#include "mdm_hdr_log.h"
#include "mdm_mem.h"

#define HOUR_NS 3600000000000LL

/* hdr-histogram-js 3.0.1, 64-bit, 1..3600e9, 3 digits: 1, 2, 3, 100, 5000 x3, 1e6, 1e9 */
#define JS_A "HISTFAAAADZ4nJNpmSzMwMAgyMDAwMjAwMDMAAGMDAzMbgY7FjDA+UxMTPsZmX4asv2uYlo4n5EJAKIZB+E="
/* hdr-histogram-js 3.0.1 defaults (auto-resized to highest 8388607): 10, 20, 30 x2, 4897000 */
#define JS_B "HISTFAAAACx4nJNpmSzMwMDAxcDAwMjAwMDMAAGMYLL+/38YX5hJkEmQZfolRiYAeFkFfQ=="

static struct mdm_hdr *mk(void)
{
	struct mdm_hdr *h = NULL;

	assert_int_equal(mdm_hdr_create(&h, 1, HOUR_NS, 3), 0);
	return h;
}

/* Everything written to f so far (f from open_memstream). */
static char *contents(FILE *f, char **mem)
{
	fflush(f);
	return *mem;
}

static const char want_head[] =
	"#[Histogram log format version 1.3]\n"
	"#[mdmesh test]\n"
	"#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]\n"
	"#[BaseTime: 1700000000.000 (seconds since epoch)]\n"
	"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
	"0.000,1.000,4.899,HISTF";

static void test_write_format(void **state)
{
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	struct mdm_hdr_log_writer w;
	struct mdm_hdr *h = mk();
	const char *text, *line;

	assert_non_null(f);
	mdm_hdr_log_writer_init(&w, f);
	assert_int_equal(mdm_hdr_log_write_header(&w, "mdmesh test", 1700000000.0, true, 1700000000.0), 0);
	mdm_hdr_record(h, 4897000); /* slot [4894720, 4898815]: max 4.898815 ms */
	assert_int_equal(mdm_hdr_log_write(&w, 0.0, 1.0, NULL, h), 0);
	assert_int_equal(mdm_hdr_log_write(&w, 1.0, 1.0, "feedA", h), 0);
	assert_int_equal(mdm_hdr_log_write_comment(&w, "done"), 0);
	text = contents(f, &mem);
	assert_int_equal(strncmp(text, want_head, strlen(want_head)), 0);
	line = strstr(text, "\nTag=feedA,1.000,1.000,4.899,HISTF");
	assert_non_null(line);
	assert_non_null(strstr(line + 1, "\n#done\n"));
	assert_int_equal(text[strlen(text) - 1], '\n');

	assert_int_equal(mdm_hdr_log_write(&w, 0.0, 1.0, "a,b", h), -EINVAL);
	assert_int_equal(mdm_hdr_log_write(&w, 0.0, 1.0, "a b", h), -EINVAL);
	assert_int_equal(mdm_hdr_log_write_comment(&w, "two\nlines"), -EINVAL);
	assert_int_equal(mdm_hdr_log_write_header(&w, "x\ny", 0, false, 0), -EINVAL);
	mdm_hdr_log_writer_fini(&w);
	fclose(f);
	free(mem);
	mdm_hdr_destroy(h);
}

static void test_write_error(void **state)
{
	FILE *f = fopen("/dev/full", "w");
	struct mdm_hdr_log_writer w;
	struct mdm_hdr *h = mk();

	if (!f)
		skip();
	setvbuf(f, NULL, _IONBF, 0); /* so the failure shows at the write itself */
	mdm_hdr_log_writer_init(&w, f);
	assert_int_equal(mdm_hdr_log_write_header(&w, NULL, 1.0, false, 0), -EIO);
	assert_int_equal(mdm_hdr_log_write(&w, 0.0, 1.0, NULL, h), -EIO);
	mdm_hdr_log_writer_fini(&w);
	fclose(f);
	mdm_hdr_destroy(h);
}

/* Write three intervals, read them back from a buffer and from a FILE. */
static void test_roundtrip(void **state)
{
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	struct mdm_hdr_log_writer w;
	struct mdm_hdr *in[3];
	static const char *tags[3] = { NULL, "feedA", "" };

	mdm_hdr_log_writer_init(&w, f);
	assert_int_equal(mdm_hdr_log_write_header(&w, NULL, 1700000000.25, true, 1700000000.0), 0);
	for (int i = 0; i < 3; i++) {
		in[i] = mk();
		for (int64_t v = 1; v <= 1000 * (i + 1); v++)
			mdm_hdr_record(in[i], v * 997 + i);
		assert_int_equal(mdm_hdr_log_write(&w, 2.5 * i, 2.5, tags[i], in[i]), 0);
	}
	mdm_hdr_log_writer_fini(&w);
	fclose(f);

	for (int pass = 0; pass < 2; pass++) {
		struct mdm_hdr_log_reader r;
		struct mdm_hdr_log_interval iv;
		FILE *rf = NULL;

		if (pass == 0) {
			mdm_hdr_log_reader_init_buf(&r, mem, memlen);
		} else {
			rf = fmemopen(mem, memlen, "r");
			assert_non_null(rf);
			mdm_hdr_log_reader_init_file(&r, rf);
		}
		for (int i = 0; i < 3; i++) {
			assert_int_equal(mdm_hdr_log_next(&r, &iv), 1);
			assert_float_equal(iv.start_s, 2.5 * i, 1e-9);
			assert_float_equal(iv.abs_start_s, 1700000000.0 + 2.5 * i, 1e-6);
			assert_float_equal(iv.length_s, 2.5, 1e-9);
			if (tags[i] && *tags[i])
				assert_string_equal(iv.tag, tags[i]);
			else
				assert_null(iv.tag);
			assert_int_equal(mdm_hdr_total_count(iv.h), 1000 * (i + 1));
			assert_memory_equal(iv.h->counts, in[i]->counts, (size_t)in[i]->counts_len * 8);
			assert_float_equal(iv.max_field, (double)mdm_hdr_max(in[i]) / 1e6, 0.0005);
			mdm_hdr_destroy(iv.h);
		}
		assert_int_equal(mdm_hdr_log_next(&r, &iv), 0);
		assert_null(iv.h);
		assert_int_equal(r.major, 1);
		assert_int_equal(r.minor, 3);
		assert_true(r.has_start_time);
		assert_float_equal(r.start_time_s, 1700000000.25, 1e-6);
		assert_true(r.has_base_time);
		assert_false(r.end_timestamps);
		mdm_hdr_log_reader_fini(&r);
		if (rf)
			fclose(rf);
	}
	for (int i = 0; i < 3; i++)
		mdm_hdr_destroy(in[i]);
	free(mem);
}

/* HdrHistogram_c's hdr_log_write layout: version 1.2, EndTimestamp legend,
 * absolute start and end times, raw max with ".0", CRLF endings here too. */
static const char c_log[] =
	"#[Logged with a C tool]\r\n"
	"#[Histogram log format version 1.2]\r\n"
	"#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 GMT 2023]\r\n"
	"\"StartTimestamp\",\"EndTimestamp\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\r\n"
	"1700000000.000,1700000001.000,1000341503.0," JS_A "\r\n"
	"1700000001.000,1700000003.500,4898815.0," JS_B "\r\n";

static void test_read_c_log(void **state)
{
	struct mdm_hdr_log_reader r;
	struct mdm_hdr_log_interval iv;

	mdm_hdr_log_reader_init_buf(&r, c_log, strlen(c_log));
	assert_int_equal(mdm_hdr_log_next(&r, &iv), 1);
	assert_int_equal(r.major, 1);
	assert_int_equal(r.minor, 2);
	assert_true(r.end_timestamps);
	assert_float_equal(iv.start_s, 1700000000.0, 1e-6);
	assert_float_equal(iv.abs_start_s, 1700000000.0, 1e-6); /* already absolute */
	assert_float_equal(iv.length_s, 1.0, 1e-6);
	assert_float_equal(iv.max_field, 1000341503.0, 0);
	assert_null(iv.tag);
	assert_int_equal(mdm_hdr_total_count(iv.h), 9);
	assert_int_equal(mdm_hdr_max(iv.h), 1000341503);
	assert_int_equal(iv.h->flags, MDM_HDR_F_JS_HEADER);
	mdm_hdr_destroy(iv.h);
	assert_int_equal(mdm_hdr_log_next(&r, &iv), 1);
	assert_float_equal(iv.length_s, 2.5, 1e-6);
	assert_int_equal(iv.h->highest, 8388607);
	assert_int_equal(mdm_hdr_total_count(iv.h), 5);
	assert_int_equal(iv.h->counts[30], 2);
	assert_int_equal(mdm_hdr_value_at_percentile(iv.h, 50), 30);
	assert_int_equal(mdm_hdr_max(iv.h), 4898815);
	assert_int_equal(r.line_no, 6);
	mdm_hdr_destroy(iv.h);
	assert_int_equal(mdm_hdr_log_next(&r, &iv), 0);
	mdm_hdr_log_reader_fini(&r);
}

/* hdr-histogram-js HistogramLogWriter output: blank lines after comments,
 * its own date text, relative starts, max divided by 1000. */
static const char js_log[] =
	"#[Histogram log format version 1.3]\n"
	"#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 2023 22:13:20 GMT+0000 (Coordinated Universal Time)]\n"
	"\n"
	"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
	"Tag=feedA,1.000,1.500,4897.000," JS_B "\n"
	"\n"
	"#a comment\n"
	"2.500,1.000,1000000.000," JS_A;

static void test_read_js_log(void **state)
{
	struct mdm_hdr_log_reader r;
	struct mdm_hdr_log_interval iv;

	mdm_hdr_log_reader_init_buf(&r, js_log, strlen(js_log));
	assert_int_equal(mdm_hdr_log_next(&r, &iv), 1);
	assert_string_equal(iv.tag, "feedA");
	assert_float_equal(iv.start_s, 1.0, 1e-9);
	/* more than a year before StartTime: relative to it */
	assert_float_equal(iv.abs_start_s, 1700000001.0, 1e-6);
	assert_float_equal(iv.length_s, 1.5, 1e-9);
	assert_int_equal(mdm_hdr_total_count(iv.h), 5);
	mdm_hdr_destroy(iv.h);
	assert_int_equal(mdm_hdr_log_next(&r, &iv), 1);
	assert_null(iv.tag);
	assert_float_equal(iv.abs_start_s, 1700000002.5, 1e-6);
	assert_int_equal(mdm_hdr_total_count(iv.h), 9); /* last line has no newline */
	mdm_hdr_destroy(iv.h);
	assert_int_equal(mdm_hdr_log_next(&r, &iv), 0);
	mdm_hdr_log_reader_fini(&r);
}

static const struct {
	const char *log, *err; /* err: a substring of mdm_err_last() */
} bad_logs[] = {
	{ "#[Histogram log format version 2.0]\n", "unsupported log format version 2.0" },
	{ "#[Histogram log format version 1.4]\n", "unsupported log format version 1.4" },
	{ "#[Histogram log format version x]\n", "bad version line" },
	{ "#[StartTime: soon (seconds since epoch)]\n", "line 1: bad time" },
	{ "#c\n0.000,1.000," JS_A "\n", "line 2: expected 4 comma-separated fields" },
	{ "0.000,1.000,2.0," JS_A ",extra\n", "line 1: more than 4 fields" },
	{ "0.000,one,2.0," JS_A "\n", "line 1: start, length and max must be numbers" },
	{ "0.000,1.000,nan," JS_A "\n", "must be numbers" },
	{ "\n\n0.000,1.000,2.0,HISTFAAAADZ4nJNp\n", "line 3: hdr:" },
	{ "0.000,1.000,2.0,!!!!\n", "line 1: hdr: not base64" },
	{ "Tag=x\n", "line 1: tag without fields" },
	{ "0.0,1.0,2.0,\n", "line 1: hdr:" },
};

static void test_malformed(void **state)
{
	for (size_t i = 0; i < sizeof(bad_logs) / sizeof(bad_logs[0]); i++) {
		struct mdm_hdr_log_reader r;
		struct mdm_hdr_log_interval iv;

		mdm_hdr_log_reader_init_buf(&r, bad_logs[i].log, strlen(bad_logs[i].log));
		assert_int_equal(mdm_hdr_log_next(&r, &iv), -EINVAL);
		assert_null(iv.h);
		if (!strstr(mdm_err_last(), bad_logs[i].err))
			fail_msg("log %zu: error '%s' lacks '%s'", i, mdm_err_last(), bad_logs[i].err);
		mdm_hdr_log_reader_fini(&r);
	}
	{
		/* a NUL inside a line is not text */
		static const char nul[] = "#x\0y\n";
		struct mdm_hdr_log_reader r;
		struct mdm_hdr_log_interval iv;

		mdm_hdr_log_reader_init_buf(&r, nul, sizeof(nul) - 1);
		assert_int_equal(mdm_hdr_log_next(&r, &iv), -EINVAL);
		mdm_hdr_log_reader_fini(&r);
	}
	{
		struct mdm_hdr_log_reader r;
		struct mdm_hdr_log_interval iv;

		mdm_hdr_log_reader_init_buf(&r, "", 0);
		assert_int_equal(mdm_hdr_log_next(&r, &iv), 0);
		mdm_hdr_log_reader_fini(&r);
	}
}

/* An accumulated histogram is the slot-wise sum of the intervals. */
static void test_accumulate(void **state)
{
	struct mdm_hdr_log_reader r;
	struct mdm_hdr_log_interval iv;
	struct mdm_hdr *total = mk();
	uint64_t base = mdm_mem_used();
	int n = 0;

	mdm_hdr_log_reader_init_buf(&r, js_log, strlen(js_log));
	while (mdm_hdr_log_next(&r, &iv) == 1) {
		assert_int_equal(mdm_hdr_add(total, iv.h), 0);
		mdm_hdr_destroy(iv.h);
		n++;
	}
	mdm_hdr_log_reader_fini(&r);
	assert_int_equal(n, 2);
	assert_int_equal(mdm_hdr_total_count(total), 14);
	assert_int_equal(total->counts[30], 2);
	assert_int_equal(total->counts[mdm_hdr_index_of(total, 5000)], 3);
	assert_int_equal(mdm_hdr_min(total), 1);
	assert_int_equal(mdm_hdr_max(total), 1000341503);
	assert_int_equal(mdm_mem_used(), base);
	mdm_hdr_destroy(total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_format),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_read_c_log),
		cmocka_unit_test(test_read_js_log),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_accumulate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
