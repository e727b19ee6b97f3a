/* HdrHistogram interval log (format 1.3): one compressed histogram per time
 * interval, the text format HistogramLogAnalyzer, Java's HistogramLogReader and
 * hdr-histogram-js read. The writer emits Java's layout; the reader also takes
 * HdrHistogram_c's (version 1.2, absolute "EndTimestamp" in column 2).
 *
 *   #[Histogram log format version 1.3]
 *   #[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]
 *   #[BaseTime: 1700000000.000 (seconds since epoch)]
 *   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
 *   [Tag=name,]start_s,length_s,max_ms,HISTF...
 *
 * Not thread-safe: one writer or reader per thread. */
#ifndef MDM_HDR_LOG_H
#define MDM_HDR_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mdm_buf.h"
#include "mdm_hdr.h"

/* --- writer --- */

struct mdm_hdr_log_writer {
	FILE *f;                 /* borrowed; never closed here */
	struct mdm_buf scratch;  /* reused base64 buffer (only grows) */
};

/* Start writing to f. Allocation-free (the scratch buffer grows on first use). */
void mdm_hdr_log_writer_init(struct mdm_hdr_log_writer *w, FILE *f);
/* Free the scratch buffer; f stays open. */
void mdm_hdr_log_writer_fini(struct mdm_hdr_log_writer *w);

/* Write the header: the version line, `comment` as "#[comment]" when not
 * NULL, "#[StartTime: ...]" (seconds since the epoch, with a UTC date as Java
 * prints it), "#[BaseTime: ...]" when with_base_time, and the legend.
 * Interval starts written later are then relative to base_time_s, as in Java.
 * 0, -EINVAL (comment with a newline), -EIO (stdio error). */
int mdm_hdr_log_write_header(struct mdm_hdr_log_writer *w, const char *comment, double start_time_s,
			     bool with_base_time, double base_time_s);

/* Write "#text" (one comment line). 0, -EINVAL (newline in text), -EIO. */
int mdm_hdr_log_write_comment(struct mdm_hdr_log_writer *w, const char *text);

/* Write one interval: "[Tag=tag,]start,length,max,HISTF...". start_s and
 * length_s are printed with 3 decimals. Interval_Max follows Java's default
 * (maxValueUnitRatio 1e6): mdm_hdr_max(h) / 1e6 with 3 decimals, i.e.
 * milliseconds when values are nanoseconds. It is informational only;
 * readers take the max from the histogram. tag NULL or "" means untagged.
 * 0, -EINVAL (tag containing ',', whitespace or control characters),
 * -ENOMEM, -ERANGE (see mdm_hdr_encode), -EIO. */
int mdm_hdr_log_write(struct mdm_hdr_log_writer *w, double start_s, double length_s, const char *tag,
		      const struct mdm_hdr *h);

/* --- reader --- */

struct mdm_hdr_log_reader {
	/* read-only outside mdm_hdr_log.c */
	int major, minor;        /* format version, 0.0 until the version line is seen */
	bool has_start_time;
	double start_time_s;     /* "#[StartTime: x" */
	bool has_base_time;
	double base_time_s;      /* "#[BaseTime: x" */
	bool end_timestamps;     /* legend says column 2 is an absolute EndTimestamp */
	size_t line_no;          /* 1-based number of the last line read */
	/* private */
	FILE *f;
	const char *buf;
	size_t buf_len, buf_pos;
	struct mdm_buf line;
	struct mdm_buf tag;
	bool base_decided;
	double base_s;
};

struct mdm_hdr_log_interval {
	double start_s;          /* column 1 as written */
	double abs_start_s;      /* start_s made absolute (see mdm_hdr_log_next) */
	double length_s;         /* interval length (end - start for EndTimestamp logs) */
	double max_field;        /* Interval_Max as written; scale depends on the writer */
	const char *tag;         /* NULL when untagged; valid until the next call */
	struct mdm_hdr *h;       /* decoded histogram; the caller owns it (mdm_hdr_destroy) */
};

/* Read from a stream (line by line; lines are capped at 64 MiB) or from a
 * borrowed buffer that must outlive the reader. Allocation-free until the
 * first mdm_hdr_log_next. */
void mdm_hdr_log_reader_init_file(struct mdm_hdr_log_reader *r, FILE *f);
void mdm_hdr_log_reader_init_buf(struct mdm_hdr_log_reader *r, const char *buf, size_t len);
void mdm_hdr_log_reader_fini(struct mdm_hdr_log_reader *r);

/* Read up to the next interval line. Comment lines are skipped, except the
 * version (1.0 to 1.3 accepted), StartTime and BaseTime markers; the legend
 * line selects Interval_Length or EndTimestamp meaning for column 2.
 * abs_start_s is BaseTime + start when BaseTime was given; otherwise, as in
 * Java, a first start more than a year before StartTime means starts are
 * relative to StartTime, else they are already absolute.
 * Returns 1 with *out filled, 0 at the end of the log, -EINVAL on a malformed
 * line, an unsupported version or a bad histogram (mdm_err_last() names the
 * line), -ENOMEM, -EIO (read error). */
int mdm_hdr_log_next(struct mdm_hdr_log_reader *r, struct mdm_hdr_log_interval *out);

#endif
