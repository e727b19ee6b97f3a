/* HdrHistogram interval log writer and reader (format 1.3, reads 1.0-1.3 and
 * HdrHistogram_c's EndTimestamp variant). */
#include "mdm_hdr_log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mdm_err.h"

#define LOG_VERSION       "1.3"
#define LINE_MAX_BYTES    ((size_t)64 << 20)
#define YEAR_S            (365.0 * 24 * 3600)
#define VERSION_PREFIX    "#[Histogram log format version "
#define START_PREFIX      "#[StartTime: "
#define BASE_PREFIX       "#[BaseTime: "
#define TAG_PREFIX        "Tag="
#define LEGEND_LENGTH     "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""

/* --- writer --- */

void mdm_hdr_log_writer_init(struct mdm_hdr_log_writer *w, FILE *f)
{
	w->f = f;
	w->scratch = (struct mdm_buf)MDM_BUF_INIT;
}

void mdm_hdr_log_writer_fini(struct mdm_hdr_log_writer *w)
{
	mdm_buf_fini(&w->scratch);
}

static int io_status(FILE *f)
{
	return ferror(f) ? mdm_err_set(-EIO, "hdr log: write error") : 0;
}

int mdm_hdr_log_write_comment(struct mdm_hdr_log_writer *w, const char *text)
{
	if (strpbrk(text, "\r\n"))
		return mdm_err_set(-EINVAL, "hdr log: comment contains a line break");
	fprintf(w->f, "#%s\n", text);
	return io_status(w->f);
}

int mdm_hdr_log_write_header(struct mdm_hdr_log_writer *w, const char *comment, double start_time_s,
			     bool with_base_time, double base_time_s)
{
	char date[64] = "";
	struct tm tm;

	if (comment && strpbrk(comment, "\r\n"))
		return mdm_err_set(-EINVAL, "hdr log: comment contains a line break");
	/* Java prints Date.toString(); in UTC that is this format. The date is
	 * informational, so an unrepresentable time just leaves it empty. */
	if (isfinite(start_time_s) && fabs(start_time_s) < 1e15) {
		time_t secs = (time_t)floor(start_time_s);

		if (gmtime_r(&secs, &tm))
			strftime(date, sizeof(date), "%a %b %d %H:%M:%S UTC %Y", &tm);
	}
	fprintf(w->f, "#[Histogram log format version " LOG_VERSION "]\n");
	if (comment)
		fprintf(w->f, "#[%s]\n", comment);
	fprintf(w->f, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_time_s, date);
	if (with_base_time)
		fprintf(w->f, "#[BaseTime: %.3f (seconds since epoch)]\n", base_time_s);
	fprintf(w->f, "%s\n", LEGEND_LENGTH);
	return io_status(w->f);
}

static bool tag_ok(const char *tag)
{
	for (const unsigned char *p = (const unsigned char *)tag; *p; p++) {
		if (*p == ',' || *p <= ' ' || *p == 0x7f)
			return false;
	}
	return true;
}

int mdm_hdr_log_write(struct mdm_hdr_log_writer *w, double start_s, double length_s, const char *tag,
		      const struct mdm_hdr *h)
{
	int rc;

	if (tag && *tag && !tag_ok(tag))
		return mdm_err_set(-EINVAL, "hdr log: tag '%s' contains a comma, space or control character", tag);
	mdm_buf_reset(&w->scratch);
	rc = mdm_hdr_encode(h, &w->scratch);
	if (rc != 0)
		return rc;
	if (tag && *tag)
		fprintf(w->f, TAG_PREFIX "%s,", tag);
	/* Interval_Max in Java's default unit ratio (1e6: ns -> ms). */
	fprintf(w->f, "%.3f,%.3f,%.3f,%s\n", start_s, length_s, (double)mdm_hdr_max(h) / 1e6, w->scratch.data);
	return io_status(w->f);
}

/* --- reader --- */

static void reader_init(struct mdm_hdr_log_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->line = (struct mdm_buf)MDM_BUF_INIT;
	r->tag = (struct mdm_buf)MDM_BUF_INIT;
}

void mdm_hdr_log_reader_init_file(struct mdm_hdr_log_reader *r, FILE *f)
{
	reader_init(r);
	r->f = f;
}

void mdm_hdr_log_reader_init_buf(struct mdm_hdr_log_reader *r, const char *buf, size_t len)
{
	reader_init(r);
	r->buf = buf;
	r->buf_len = len;
}

void mdm_hdr_log_reader_fini(struct mdm_hdr_log_reader *r)
{
	mdm_buf_fini(&r->line);
	mdm_buf_fini(&r->tag);
}

/* Next line into r->line without its terminator. 1, 0 at the end, or < 0. */
static int read_line(struct mdm_hdr_log_reader *r)
{
	mdm_buf_reset(&r->line);
	if (r->buf) {
		const char *s = r->buf + r->buf_pos, *nl;
		size_t n;

		if (r->buf_pos >= r->buf_len)
			return 0;
		nl = memchr(s, '\n', r->buf_len - r->buf_pos);
		n = nl ? (size_t)(nl - s) : r->buf_len - r->buf_pos;
		r->buf_pos += n + (nl ? 1 : 0);
		if (n > LINE_MAX_BYTES)
			return mdm_err_set(-EINVAL, "hdr log: line %zu longer than 64 MiB", r->line_no + 1);
		if (mdm_buf_append(&r->line, s, n) != 0)
			return mdm_err_set(-ENOMEM, "hdr log: out of memory for line %zu", r->line_no + 1);
	} else {
		char chunk[4096];
		bool got = false;

		while (fgets(chunk, sizeof(chunk), r->f)) {
			size_t n = strlen(chunk);
			bool eol = n > 0 && chunk[n - 1] == '\n';

			got = true;
			if (mdm_buf_append(&r->line, chunk, eol ? n - 1 : n) != 0)
				return mdm_err_set(-ENOMEM, "hdr log: out of memory for line %zu", r->line_no + 1);
			if (r->line.len > LINE_MAX_BYTES)
				return mdm_err_set(-EINVAL, "hdr log: line %zu longer than 64 MiB", r->line_no + 1);
			if (eol)
				break;
		}
		if (ferror(r->f))
			return mdm_err_set(-EIO, "hdr log: read error after line %zu", r->line_no);
		if (!got)
			return 0;
	}
	r->line_no++;
	if (r->line.len && r->line.data[r->line.len - 1] == '\r')
		r->line.data[--r->line.len] = '\0';
	if (!r->line.data)
		return mdm_buf_puts(&r->line, "") == 0 ? 1 : -ENOMEM;
	if (memchr(r->line.data, '\0', r->line.len))
		return mdm_err_set(-EINVAL, "hdr log: line %zu contains a NUL byte", r->line_no);
	return 1;
}

/* A finite number filling s[0..n) (surrounding spaces allowed). */
static bool parse_double(const char *s, size_t n, double *out)
{
	char tmp[64], *end;

	while (n && *s == ' ') {
		s++;
		n--;
	}
	while (n && s[n - 1] == ' ')
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	*out = strtod(tmp, &end);
	return *end == '\0' && errno == 0 && isfinite(*out);
}

static int parse_marker(struct mdm_hdr_log_reader *r, const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(*out) || (*end != ' ' && *end != ']' && *end != '\0'))
		return mdm_err_set(-EINVAL, "hdr log: line %zu: bad time in '%s'", r->line_no, r->line.data);
	return 0;
}

static int parse_version(struct mdm_hdr_log_reader *r, const char *s)
{
	char *end;
	long major, minor;

	major = strtol(s, &end, 10);
	if (end == s || *end != '.')
		goto bad;
	s = end + 1;
	minor = strtol(s, &end, 10);
	if (end == s || *end != ']')
		goto bad;
	/* 1.0 to 1.3 (jHiccup's "1.01" reads as 1.1). */
	if (major != 1 || minor < 0 || minor > 3)
		return mdm_err_set(-EINVAL, "hdr log: line %zu: unsupported log format version %ld.%ld",
				   r->line_no, major, minor);
	r->major = (int)major;
	r->minor = (int)minor;
	return 0;
bad:
	return mdm_err_set(-EINVAL, "hdr log: line %zu: bad version line", r->line_no);
}

static int parse_interval(struct mdm_hdr_log_reader *r, struct mdm_hdr_log_interval *out)
{
	const char *s = r->line.data, *f[4], *tag = NULL;
	size_t flen[4], tag_len = 0;
	double start, col2, max;
	int i, rc;

	if (strncmp(s, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
		const char *comma = strchr(s, ',');

		if (!comma)
			return mdm_err_set(-EINVAL, "hdr log: line %zu: tag without fields", r->line_no);
		tag = s + strlen(TAG_PREFIX);
		tag_len = (size_t)(comma - tag);
		s = comma + 1;
	}
	for (i = 0; i < 4; i++) {
		const char *comma = i < 3 ? strchr(s, ',') : NULL;

		if (i < 3 && !comma)
			return mdm_err_set(-EINVAL, "hdr log: line %zu: expected 4 comma-separated fields",
					   r->line_no);
		f[i] = s;
		flen[i] = comma ? (size_t)(comma - s) : strlen(s);
		s = comma ? comma + 1 : s + flen[i];
	}
	if (memchr(f[3], ',', flen[3]))
		return mdm_err_set(-EINVAL, "hdr log: line %zu: more than 4 fields", r->line_no);
	if (!parse_double(f[0], flen[0], &start) || !parse_double(f[1], flen[1], &col2) ||
	    !parse_double(f[2], flen[2], &max))
		return mdm_err_set(-EINVAL, "hdr log: line %zu: start, length and max must be numbers",
				   r->line_no);
	rc = mdm_hdr_decode(&out->h, f[3], flen[3]);
	if (rc != 0) {
		char detail[512];

		/* Copied: mdm_err_set writes the buffer mdm_err_last points at. */
		snprintf(detail, sizeof(detail), "%s", mdm_err_last());
		return mdm_err_set(rc, "hdr log: line %zu: %s", r->line_no, detail);
	}
	if (!r->base_decided) {
		/* Java's rule: an explicit BaseTime wins; otherwise starts far before
		 * StartTime can only be relative to it. */
		if (r->has_base_time)
			r->base_s = r->base_time_s;
		else if (r->has_start_time && start < r->start_time_s - YEAR_S)
			r->base_s = r->start_time_s;
		else
			r->base_s = 0.0;
		r->base_decided = true;
	}
	out->start_s = start;
	out->abs_start_s = r->base_s + start;
	out->length_s = r->end_timestamps ? col2 - start : col2;
	out->max_field = max;
	out->tag = NULL;
	if (tag && tag_len) {
		mdm_buf_reset(&r->tag);
		if (mdm_buf_append(&r->tag, tag, tag_len) != 0) {
			mdm_hdr_destroy(out->h);
			out->h = NULL;
			return mdm_err_set(-ENOMEM, "hdr log: out of memory for a tag");
		}
		out->tag = r->tag.data;
	}
	return 1;
}

int mdm_hdr_log_next(struct mdm_hdr_log_reader *r, struct mdm_hdr_log_interval *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	while ((rc = read_line(r)) == 1) {
		const char *s = r->line.data;

		if (strncmp(s, VERSION_PREFIX, strlen(VERSION_PREFIX)) == 0)
			rc = parse_version(r, s + strlen(VERSION_PREFIX));
		else if (strncmp(s, START_PREFIX, strlen(START_PREFIX)) == 0) {
			rc = parse_marker(r, s + strlen(START_PREFIX), &r->start_time_s);
			r->has_start_time = rc == 0;
		} else if (strncmp(s, BASE_PREFIX, strlen(BASE_PREFIX)) == 0) {
			rc = parse_marker(r, s + strlen(BASE_PREFIX), &r->base_time_s);
			r->has_base_time = rc == 0;
		} else if (s[0] == '"') {
			/* HdrHistogram_c writes an absolute end time in column 2. */
			r->end_timestamps = strstr(s, "\"EndTimestamp\"") != NULL;
			rc = 0;
		} else if (s[0] == '#' || s[strspn(s, " \t")] == '\0')
			rc = 0;
		else
			return parse_interval(r, out);
		if (rc != 0)
			return rc;
	}
	return rc;
}
