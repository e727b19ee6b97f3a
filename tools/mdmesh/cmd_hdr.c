/* `mdmesh hdr`: make, read and summarise HdrHistogram data (V2 base64 strings
 * and interval logs) with the same maths as the daemons' latency tracking, so
 * an operator can check a histogram from a log, a dashboard or another tool. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"
#include "mdm_err.h"
#include "mdm_hdr.h"
#include "mdm_hdr_log.h"
#include "mdm_json.h"

#define DEFAULT_HIGHEST 3600000000000LL /* one hour in ns */
#define TICKS_PER_HALF  5               /* Java's outputPercentileDistribution default */
#define LINE_CAP        256

static const double json_pcts[] = { 50, 90, 99, 99.9, 99.99 };
static const char *const json_keys[] = { "p50", "p90", "p99", "p99.9", "p99.99" };

static void hdr_usage(FILE *f)
{
	fprintf(f, "usage: mdmesh hdr <encode|decode|report> [options]\n\n"
		   "HdrHistogram tools (V2 compressed base64, interval log format 1.3).\n"
		   "  encode   integer values on stdin -> base64 histogram + percentile table\n"
		   "  decode   a base64 histogram or an .hlog file -> percentile table or JSON\n"
		   "  report   an .hlog file -> percentile table of all its intervals together\n\n"
		   "'mdmesh hdr <subcommand> --help' describes its options.\n");
}

static void encode_usage(FILE *f)
{
	fprintf(f, "usage: mdmesh hdr encode [--lowest V] [--highest V] [--sigfigs N] < values\n"
		   "       mdmesh hdr encode --hlog SECONDS [--tag T] [...] < 'time_s value' lines\n\n"
		   "Reads one integer value per line (blank lines are skipped) and prints the\n"
		   "histogram as V2 compressed base64 on the first line, then its percentile table.\n"
		   "  -l, --lowest V    lowest discernible value (default 1)\n"
		   "  -H, --highest V   highest trackable value (default 3600000000000, 1 h in ns)\n"
		   "  -s, --sigfigs N   significant digits, 1..5 (default 3)\n"
		   "      --hlog S      lines are 'TIME_S VALUE' (space or comma); write an interval\n"
		   "                    log of S-second intervals to stdout instead (times must not\n"
		   "                    go back to an earlier interval; empty intervals are skipped)\n"
		   "      --tag T       tag every interval of the --hlog output\n"
		   "  -h, --help        this text\n");
}

static void decode_usage(FILE *f)
{
	fprintf(f, "usage: mdmesh hdr decode BASE64|FILE.hlog [--json] [--tag T]\n\n"
		   "Decodes a V2 histogram (base64, as in HISTF...) or, when the argument is an\n"
		   "existing file, an interval log, and prints percentile tables.\n"
		   "  -j, --json   one JSON object per histogram: count, min, max, mean, p50, p90,\n"
		   "               p99, p99.9, p99.99; for a log also start (as written), abs_start,\n"
		   "               length, tag per interval, then a total object with \"total\":true\n"
		   "  --tag T      with a log: only the intervals tagged T\n"
		   "  -h, --help   this text\n");
}

static void report_usage(FILE *f)
{
	fprintf(f, "usage: mdmesh hdr report FILE.hlog [--tag T]\n\n"
		   "Prints the percentile table of all intervals of an interval log added\n"
		   "together (every tag included, or only intervals tagged T with --tag T).\n"
		   "  --tag T      only this tag, e.g. wire_to_ack in a collector latency log\n"
		   "  -h, --help   this text\n");
}

/* A non-negative integer, also written like 3600e9 or 3.6e12 when exact. */
static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;
	double d;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end != s && *end == '\0' && errno == 0) {
		*out = v;
		return true;
	}
	errno = 0;
	d = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || d != floor(d) || d < -9.2e18 || d > 9.2e18)
		return false;
	*out = (int64_t)d;
	return true;
}

static void print_table(FILE *f, const struct mdm_hdr *h)
{
	struct mdm_hdr_iter it;

	fprintf(f, "%12s %12s %10s %14s\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
	mdm_hdr_iter_percentile_init(&it, h, TICKS_PER_HALF);
	while (mdm_hdr_iter_next(&it)) {
		double frac = it.percentile / 100.0;

		if (frac < 1.0)
			fprintf(f, "%12" PRId64 " %12.6f %10" PRIu64 " %14.2f\n", it.value, frac, it.total_count,
				1.0 / (1.0 - frac));
		else
			fprintf(f, "%12" PRId64 " %12.6f %10" PRIu64 " %14s\n", it.value, frac, it.total_count, "inf");
	}
	fprintf(f, "#[Mean    = %.3f, StdDeviation   = %.3f]\n", mdm_hdr_mean(h), mdm_hdr_stddev(h));
	fprintf(f, "#[Max     = %" PRId64 ", Total count    = %" PRIu64 "]\n", mdm_hdr_max(h), mdm_hdr_total_count(h));
	fprintf(f, "#[Buckets = %d, SubBuckets     = %d]\n", h->bucket_count, h->sub_bucket_count);
}

static void json_stats(struct mdm_json *j, const struct mdm_hdr *h)
{
	mdm_json_ku64(j, "count", mdm_hdr_total_count(h));
	mdm_json_ki64(j, "min", mdm_hdr_min(h));
	mdm_json_ki64(j, "max", mdm_hdr_max(h));
	mdm_json_kdbl(j, "mean", mdm_hdr_mean(h));
	for (size_t i = 0; i < sizeof(json_pcts) / sizeof(json_pcts[0]); i++)
		mdm_json_ki64(j, json_keys[i], mdm_hdr_value_at_percentile(h, json_pcts[i]));
}

/* Print one JSON line; false on out-of-memory. */
static bool json_flush(struct mdm_json *j, struct mdm_buf *b)
{
	if (mdm_json_status(j) != 0)
		return false;
	printf("%s\n", b->data);
	mdm_buf_reset(b);
	return true;
}

static void warn_flags(const struct mdm_hdr *h, bool *warned)
{
	if (*warned || h->flags == 0)
		return;
	*warned = true;
	if (h->flags & MDM_HDR_F_JS_HEADER)
		fprintf(stderr, "mdmesh hdr: warning: histogram has the hdr-histogram-js 3.x header "
				"(normalizing offset 1, ratio bits 0x1); counts read as written\n");
	else
		fprintf(stderr, "mdmesh hdr: warning: histogram header has a non-standard normalizing "
				"offset or conversion ratio; counts read as written\n");
}

/* Add h into *total, widening the total's layout when h does not fit it (JS
 * auto-resized intervals differ in `highest`). Lossless when the layouts
 * share lowest and sigfigs. 0 or negative errno. */
static int total_add(struct mdm_hdr **total, const struct mdm_hdr *h)
{
	struct mdm_hdr *t = *total, *wide;
	int rc;

	if (!t) {
		rc = mdm_hdr_create(total, h->lowest, h->highest, h->sigfigs);
		if (rc != 0)
			return rc;
		t = *total;
	} else if (h->highest > t->highest || h->lowest < t->lowest || h->sigfigs > t->sigfigs) {
		rc = mdm_hdr_create(&wide, h->lowest < t->lowest ? h->lowest : t->lowest,
				    h->highest > t->highest ? h->highest : t->highest,
				    h->sigfigs > t->sigfigs ? h->sigfigs : t->sigfigs);
		if (rc != 0)
			return rc;
		mdm_hdr_add(wide, t);
		mdm_hdr_destroy(t);
		*total = t = wide;
	}
	if (mdm_hdr_add(t, h) != 0)
		return mdm_err_set(-ERANGE, "values outside the total's range");
	return 0;
}

/* --- encode --- */

struct encode_opts {
	int64_t lowest, highest;
	int sigfigs;
	double hlog_s;   /* > 0: interval log mode */
	const char *tag;
};

/* Next non-blank line of stdin, trimmed, into buf. 1, 0 at EOF, -1 on error
 * (reported). *line_no counts every line read. */
static int next_line(char *buf, size_t cap, size_t *line_no)
{
	while (fgets(buf, (int)cap, stdin)) {
		size_t n = strlen(buf);
		char *s = buf;

		(*line_no)++;
		if (n == cap - 1 && buf[n - 1] != '\n' && !feof(stdin)) {
			fprintf(stderr, "mdmesh hdr encode: line %zu: longer than %zu bytes\n", *line_no, cap - 2);
			return -1;
		}
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
			buf[--n] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			continue;
		memmove(buf, s, strlen(s) + 1);
		return 1;
	}
	if (ferror(stdin)) {
		fprintf(stderr, "mdmesh hdr encode: cannot read stdin: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static bool record_checked(struct mdm_hdr *h, int64_t v, size_t line_no)
{
	if (mdm_hdr_record(h, v))
		return true;
	fprintf(stderr, "mdmesh hdr encode: line %zu: value %" PRId64 " is outside 0..%" PRId64
		" (see --highest)\n", line_no, v, h->highest);
	return false;
}

static int encode_plain(struct mdm_hdr *h)
{
	struct mdm_buf out = MDM_BUF_INIT;
	char line[LINE_CAP];
	size_t line_no = 0;
	int rc;

	while ((rc = next_line(line, sizeof(line), &line_no)) == 1) {
		int64_t v;
		char *end;

		errno = 0;
		v = strtoll(line, &end, 10);
		if (end == line || *end != '\0' || errno != 0) {
			fprintf(stderr, "mdmesh hdr encode: line %zu: '%s' is not an integer\n", line_no, line);
			return 1;
		}
		if (!record_checked(h, v, line_no))
			return 1;
	}
	if (rc < 0)
		return 1;
	rc = mdm_hdr_encode(h, &out);
	if (rc != 0) {
		fprintf(stderr, "mdmesh hdr encode: %s\n", mdm_err_last());
		mdm_buf_fini(&out);
		return 1;
	}
	printf("%s\n", out.data);
	print_table(stdout, h);
	mdm_buf_fini(&out);
	return 0;
}

static int encode_hlog(struct mdm_hdr *h, const struct encode_opts *o)
{
	struct mdm_hdr_log_writer w;
	char line[LINE_CAP];
	size_t line_no = 0;
	double t0 = 0;
	int64_t cur = -1;
	int rc, ret = 1;

	mdm_hdr_log_writer_init(&w, stdout);
	while ((rc = next_line(line, sizeof(line), &line_no)) == 1) {
		char *end, *p;
		double t, span;
		int64_t v;

		errno = 0;
		t = strtod(line, &end);
		p = end;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (end == line || p == end || errno != 0 || !isfinite(t)) {
			fprintf(stderr, "mdmesh hdr encode: line %zu: expected 'TIME_S VALUE', got '%s'\n",
				line_no, line);
			goto out;
		}
		errno = 0;
		v = strtoll(p, &end, 10);
		if (end == p || *end != '\0' || errno != 0) {
			fprintf(stderr, "mdmesh hdr encode: line %zu: '%s' is not an integer value\n", line_no, p);
			goto out;
		}
		if (cur < 0) {
			t0 = t;
			if (mdm_hdr_log_write_header(&w, "Written by mdmesh hdr encode", t0, true, t0) != 0)
				goto io;
			cur = 0;
		}
		span = (t - t0) / o->hlog_s;
		if (span < 0 || span > 1e15 || (int64_t)floor(span) < cur) {
			fprintf(stderr, "mdmesh hdr encode: line %zu: time %.3f %s\n", line_no, t,
				span > 1e15 ? "is too far from the first one" : "goes back to an earlier interval");
			goto out;
		}
		if ((int64_t)floor(span) > cur) {
			if (mdm_hdr_total_count(h) &&
			    mdm_hdr_log_write(&w, (double)cur * o->hlog_s, o->hlog_s, o->tag, h) != 0)
				goto io;
			mdm_hdr_reset(h);
			cur = (int64_t)floor(span);
		}
		if (!record_checked(h, v, line_no))
			goto out;
	}
	if (rc < 0)
		goto out;
	if (cur >= 0 && mdm_hdr_total_count(h) &&
	    mdm_hdr_log_write(&w, (double)cur * o->hlog_s, o->hlog_s, o->tag, h) != 0)
		goto io;
	if (fflush(stdout) != 0) {
		mdm_err_set(-errno, "stdout: %s", strerror(errno));
		goto io;
	}
	ret = 0;
	goto out;
io:
	fprintf(stderr, "mdmesh hdr encode: %s\n", mdm_err_last()[0] ? mdm_err_last() : strerror(errno));
out:
	mdm_hdr_log_writer_fini(&w);
	return ret;
}

static int hdr_encode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lowest", required_argument, NULL, 'l' },
		{ "highest", required_argument, NULL, 'H' },
		{ "sigfigs", required_argument, NULL, 's' },
		{ "hlog", required_argument, NULL, 'I' },
		{ "tag", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct encode_opts o = { 1, DEFAULT_HIGHEST, 3, 0, NULL };
	struct mdm_hdr *h = NULL;
	int64_t n;
	char *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:H:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
		case 'H':
			if (!parse_i64(optarg, &n)) {
				fprintf(stderr, "mdmesh hdr encode: --%s '%s' is not an integer\n",
					c == 'l' ? "lowest" : "highest", optarg);
				return 2;
			}
			*(c == 'l' ? &o.lowest : &o.highest) = n;
			break;
		case 's':
			if (!parse_i64(optarg, &n) || n < MDM_HDR_SIGFIGS_MIN || n > MDM_HDR_SIGFIGS_MAX) {
				fprintf(stderr, "mdmesh hdr encode: --sigfigs must be 1..5, got '%s'\n", optarg);
				return 2;
			}
			o.sigfigs = (int)n;
			break;
		case 'I':
			errno = 0;
			o.hlog_s = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || errno != 0 || !(o.hlog_s > 0) || !isfinite(o.hlog_s)) {
				fprintf(stderr, "mdmesh hdr encode: --hlog needs a positive number of seconds, "
					"got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'T':
			o.tag = optarg;
			break;
		case 'h':
			encode_usage(stdout);
			return 0;
		default:
			encode_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mdmesh hdr encode: unexpected argument '%s' (values are read from stdin)\n",
			argv[optind]);
		return 2;
	}
	if (o.tag && o.hlog_s == 0) {
		fprintf(stderr, "mdmesh hdr encode: --tag only applies with --hlog\n");
		return 2;
	}
	if (o.tag && (!*o.tag || strpbrk(o.tag, ", \t\r\n"))) {
		fprintf(stderr, "mdmesh hdr encode: --tag must be non-empty without commas or spaces\n");
		return 2;
	}
	rc = mdm_hdr_create(&h, o.lowest, o.highest, o.sigfigs);
	if (rc != 0) {
		fprintf(stderr, "mdmesh hdr encode: %s\n", rc == -EINVAL ? mdm_err_last() : mdm_strerror(rc));
		return rc == -EINVAL ? 2 : 1;
	}
	rc = o.hlog_s > 0 ? encode_hlog(h, &o) : encode_plain(h);
	mdm_hdr_destroy(h);
	return rc;
}

/* --- decode / report --- */

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Walk a log; with `each`, print every interval (table or JSON). The total
 * is printed as JSON (json) or as a table. 0 or exit code. */
static int read_log(const char *cmd, const char *path, bool each, bool json, const char *tag)
{
	struct mdm_hdr_log_reader r;
	struct mdm_hdr_log_interval iv;
	struct mdm_hdr *total = NULL;
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;
	double first = 0, last_end = 0;
	size_t n = 0;
	bool warned = false;
	int rc, ret = 1;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "mdmesh hdr %s: cannot open '%s': %s\n", cmd, path, strerror(errno));
		return 1;
	}
	mdm_hdr_log_reader_init_file(&r, f);
	while ((rc = mdm_hdr_log_next(&r, &iv)) == 1) {
		if (tag && (!iv.tag || strcmp(iv.tag, tag) != 0)) {
			mdm_hdr_destroy(iv.h); /* another tag (e.g. another collector stage) */
			continue;
		}
		warn_flags(iv.h, &warned);
		if (n == 0)
			first = iv.abs_start_s;
		if (iv.abs_start_s + iv.length_s > last_end)
			last_end = iv.abs_start_s + iv.length_s;
		n++;
		if (each && json) {
			mdm_json_init(&j, &b);
			mdm_json_obj_begin(&j);
			mdm_json_kdbl(&j, "start", iv.start_s);
			mdm_json_kdbl(&j, "abs_start", iv.abs_start_s);
			mdm_json_kdbl(&j, "length", iv.length_s);
			mdm_json_key(&j, "tag");
			if (iv.tag)
				mdm_json_str(&j, iv.tag);
			else
				mdm_json_null(&j);
			json_stats(&j, iv.h);
			mdm_json_obj_end(&j);
			if (!json_flush(&j, &b))
				rc = -ENOMEM;
		} else if (each) {
			printf("#[Interval %zu: start %.3f, length %.3f, tag %s]\n", n, iv.start_s, iv.length_s,
			       iv.tag ? iv.tag : "-");
			print_table(stdout, iv.h);
			printf("\n");
		}
		if (rc == 1)
			rc = total_add(&total, iv.h);
		mdm_hdr_destroy(iv.h);
		if (rc != 1 && rc != 0)
			break;
	}
	if (rc < 0) {
		fprintf(stderr, "mdmesh hdr %s: %s: %s\n", cmd, path,
			rc == -ENOMEM ? "out of memory" : mdm_err_last());
		goto out;
	}
	if (n == 0) {
		fprintf(stderr, "mdmesh hdr %s: %s: no intervals in the log%s%s\n", cmd, path, tag ? " with tag " : "",
			tag ? tag : "");
		goto out;
	}
	if (json) {
		mdm_json_init(&j, &b);
		mdm_json_obj_begin(&j);
		mdm_json_kbool(&j, "total", true);
		mdm_json_ku64(&j, "intervals", n);
		json_stats(&j, total);
		mdm_json_obj_end(&j);
		if (!json_flush(&j, &b)) {
			fprintf(stderr, "mdmesh hdr %s: out of memory\n", cmd);
			goto out;
		}
	} else {
		printf("#[Total of %zu intervals, %.3f s from %.3f]\n", n, last_end - first, first);
		print_table(stdout, total);
	}
	ret = 0;
out:
	mdm_buf_fini(&b);
	mdm_hdr_destroy(total);
	mdm_hdr_log_reader_fini(&r);
	fclose(f);
	return ret;
}

static int decode_b64(const char *arg, bool json)
{
	struct mdm_hdr *h = NULL;
	struct mdm_buf b = MDM_BUF_INIT;
	struct mdm_json j;
	bool warned = false;
	int rc = mdm_hdr_decode(&h, arg, strlen(arg)), ret = 0;

	if (rc != 0) {
		/* Something path-like that is not a file most likely is a typo'd path. */
		if (strncmp(arg, "HISTF", 5) != 0 && (strchr(arg, '.') || strchr(arg, '/')))
			fprintf(stderr, "mdmesh hdr decode: '%s' is neither a file nor a base64 histogram\n", arg);
		else
			fprintf(stderr, "mdmesh hdr decode: %s\n", rc == -ENOMEM ? "out of memory" : mdm_err_last());
		return 1;
	}
	warn_flags(h, &warned);
	if (json) {
		mdm_json_init(&j, &b);
		mdm_json_obj_begin(&j);
		json_stats(&j, h);
		mdm_json_obj_end(&j);
		if (!json_flush(&j, &b)) {
			fprintf(stderr, "mdmesh hdr decode: out of memory\n");
			ret = 1;
		}
	} else {
		print_table(stdout, h);
	}
	mdm_buf_fini(&b);
	mdm_hdr_destroy(h);
	return ret;
}

static int hdr_decode_or_report(int argc, char **argv, bool report)
{
	static const struct option opts[] = {
		{ "tag", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option report_opts[] = {
		{ "tag", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = report ? "report" : "decode", *tag = NULL;
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, report ? "h" : "jh", report ? report_opts : opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'T':
			tag = optarg;
			break;
		case 'h':
			(report ? report_usage : decode_usage)(stdout);
			return 0;
		default:
			(report ? report_usage : decode_usage)(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "mdmesh hdr %s: expected exactly one %s (see --help)\n", cmd,
			report ? "FILE.hlog" : "BASE64 or FILE.hlog argument");
		return 2;
	}
	if (report)
		return read_log(cmd, argv[optind], false, false, tag);
	if (is_file(argv[optind]))
		return read_log(cmd, argv[optind], true, json, tag);
	if (tag) {
		fprintf(stderr, "mdmesh hdr decode: --tag applies to .hlog files only\n");
		return 2;
	}
	return decode_b64(argv[optind], json);
}

int cmd_hdr(int argc, char **argv)
{
	if (argc < 2) {
		hdr_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		hdr_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "encode") == 0)
		return hdr_encode(argc - 1, argv + 1);
	if (strcmp(argv[1], "decode") == 0)
		return hdr_decode_or_report(argc - 1, argv + 1, false);
	if (strcmp(argv[1], "report") == 0)
		return hdr_decode_or_report(argc - 1, argv + 1, true);
	fprintf(stderr, "mdmesh hdr: unknown subcommand '%s' (try 'mdmesh hdr --help')\n", argv[1]);
	return 2;
}
