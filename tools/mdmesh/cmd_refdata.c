/* `mdmesh refdata load|get|list`: the operator's side of the reference data
 * the processor's enricher reads from KV bucket `refdata` (DESIGN.md): one key
 * instrument.<SYMBOL> per instrument, holding a flat JSON object.
 *
 * load reads a CSV file and is all-or-nothing as far as the file goes: the
 * whole file is parsed and checked first, and the first bad row stops the
 * command with FILE:LINE: reason before anything is written. (Writing the good
 * rows and skipping the bad would leave the bucket in a state no file
 * describes.) Loading is idempotent: the same file twice gives the same values
 * (with new revisions). Keys missing from the file are left alone. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "mdm_buf.h"
#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_json_read.h"
#include "mdm_mem.h"

#define KEY_PREFIX "instrument."
/* processor/enrich.h: ENRICH_SYMBOL_MAX - 1 and ENRICH_JSON_MAX; the
 * processor ignores longer symbols and values */
#define SYMBOL_MAX 15
#define VALUE_MAX 65536
#define LIST_WAIT_MS 5000
/* How long an open or a put is retried while the cluster cannot serve it yet */
#define RETRY_NS (30 * MDM_NS_PER_S)

enum col_role {
	COL_SYMBOL = 0,
	COL_SECTOR,
	COL_CURRENCY,
	COL_EXCHANGE,
	COL_NAME,
	COL_LOT_SIZE,
	COL_EXTRA,
};

static const char *const instrument_cols[] = { "symbol", "sector", "currency", "exchange", "name", "lot_size", NULL };
/* --kind trader: trader.<ID> (processor/enrich.h parses name, team,
 * authorization_level and max_trade_limit; the ID is the 'symbol' role) */
enum trader_col { TCOL_ID = 0, TCOL_NAME, TCOL_TEAM, TCOL_AUTH, TCOL_LIMIT };
static const char *const trader_cols[] = { "id", "name", "team", "authorization_level", "max_trade_limit", NULL };
#define N_REQUIRED 6 /* the most columns a kind requires */

struct kind {
	const char *name, *plural, *prefix;
	const char *const *required;
};
static const struct kind kinds[] = {
	{ "instrument", "instruments", KEY_PREFIX, instrument_cols },
	{ "trader", "traders", "trader.", trader_cols },
};
static const struct kind *kind = &kinds[0]; /* --kind */

struct refdata_opts {
	const char *url;
	const char *bucket;
	bool check_only; /* load --check */
	bool values;     /* list --values */
};

static void refdata_usage(FILE *f)
{
	fprintf(f,
		"usage: mdmesh refdata load FILE.csv [--kind K] [--check] [--nats URL] [--bucket NAME]\n"
		"       mdmesh refdata get SYMBOL [--kind K] [--nats URL] [--bucket NAME]\n"
		"       mdmesh refdata list [--kind K] [--values] [--nats URL] [--bucket NAME]\n\n"
		"Reference data for the processor's enricher: KV bucket refdata, one key\n"
		"instrument.<SYMBOL> per instrument holding a JSON object.\n\n"
		"  load     put one key per CSV row. The header names the columns; symbol, sector,\n"
		"           currency, exchange, name and lot_size are required (any order), more\n"
		"           columns become more JSON keys (strings; empty cells are left out).\n"
		"           RFC 4180 quoting (\"a, b\" and doubled \"\" quotes); no line breaks inside\n"
		"           a field; spaces around unquoted fields are trimmed; blank lines and lines\n"
		"           starting with # are skipped; UTF-8 (a BOM is skipped). symbol: 1-15 of\n"
		"           A-Z a-z 0-9 . _ - ; currency: empty or 3 capital letters; lot_size: a\n"
		"           positive integer. The whole file is checked first: the first bad row is\n"
		"           reported as FILE:LINE: reason and nothing is written (exit 1).\n"
		"  get      print the JSON value of SYMBOL (exit 1 if absent)\n"
		"  list     print the symbols in the bucket, sorted; with --values one JSON line\n"
		"           per instrument: {\"symbol\",\"revision\",\"value\"}\n\n"
		"  --kind K        instrument (the default) or trader: keys trader.<ID>, columns id, name,\n"
		"                  team, authorization_level (an integer >= 0) and max_trade_limit (a\n"
		"                  currency amount, at most 4 decimals, e.g. 1000000 or 250000.50); the\n"
		"                  ID follows the symbol rules. Executions are checked against these.\n"
		"  --check         load: check the file only, no NATS\n"
		"  --nats URL      server (default nats://127.0.0.1:4222, or $MDM_NATS_URL);\n"
		"                  credentials and TLS from MDM_NATS_USER, MDM_NATS_PASSWORD, ...\n"
		"  --bucket NAME   KV bucket (default refdata; load creates it if missing)\n\n"
		"example: mdmesh refdata load configs/refdata/instruments.csv\n"
		"         mdmesh refdata load --kind trader configs/refdata/traders.csv\n"
		"         mdmesh refdata get AAPL | jq .sector\n");
}

/* ---- CSV -------------------------------------------------------------- */

struct csv {
	const char *path;
	const char *buf;
	size_t len, pos;
	unsigned line;        /* line of the current position, 1-based */
	struct mdm_buf text;  /* the current record's fields, each NUL-terminated */
	size_t *off;          /* field start offsets into text */
	size_t n, cap;
};

/* Report "FILE:LINE: reason" (the compiler convention, so editors can jump to
 * it) and return -EINVAL. */
static int __attribute__((format(printf, 3, 4))) csv_error(const struct csv *c, unsigned line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%u: ", c->path, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

static int csv_peek(const struct csv *c)
{
	return c->pos < c->len ? (unsigned char)c->buf[c->pos] : -1;
}

static bool at_eol(const struct csv *c)
{
	int ch = csv_peek(c);

	return ch == '\n' || (ch == '\r' && c->pos + 1 < c->len && c->buf[c->pos + 1] == '\n');
}

/* Consume a line break (LF or CRLF) at the position. */
static void eat_eol(struct csv *c)
{
	if (csv_peek(c) == '\r')
		c->pos++;
	c->pos++;
	c->line++;
}

static int field_begin(struct csv *c)
{
	size_t *o;

	if (c->n == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 16;

		o = mdm_realloc(c->off, ncap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		c->off = o;
		c->cap = ncap;
	}
	c->off[c->n++] = c->text.len;
	return 0;
}

static const char *field(const struct csv *c, size_t i)
{
	return c->text.data + c->off[i];
}

/* Field i's length (fields are NUL-terminated in `text`). */
static size_t field_len(const struct csv *c, size_t i)
{
	return (i + 1 < c->n ? c->off[i + 1] - 1 : c->text.len) - c->off[i];
}

/* Parse the next record into c->off/c->text. Returns 1 (a record starting at
 * *line), 0 at the end of the file, -EINVAL (reported) or -ENOMEM. */
static int csv_record(struct csv *c, unsigned *line)
{
	int rc;

	/* blank and comment lines */
	for (;;) {
		if (csv_peek(c) < 0)
			return 0;
		if (at_eol(c)) {
			eat_eol(c);
		} else if (csv_peek(c) == '#') {
			while (csv_peek(c) >= 0 && !at_eol(c))
				c->pos++;
		} else {
			break;
		}
	}
	*line = c->line;
	c->n = 0;
	mdm_buf_reset(&c->text);
	for (;;) {
		size_t end;

		if ((rc = field_begin(c)) < 0)
			return rc;
		while (csv_peek(c) == ' ' || csv_peek(c) == '\t')
			c->pos++;
		if (csv_peek(c) == '"') {
			c->pos++;
			for (;;) {
				int ch = csv_peek(c);

				if (ch < 0 || ch == '\n' || ch == '\r')
					return csv_error(c, *line, "unterminated quoted field (a field cannot span lines)");
				c->pos++;
				if (ch == '"') {
					if (csv_peek(c) != '"')
						break;
					c->pos++;
				}
				mdm_buf_putc(&c->text, (char)ch);
			}
			while (csv_peek(c) == ' ' || csv_peek(c) == '\t')
				c->pos++;
			if (csv_peek(c) >= 0 && csv_peek(c) != ',' && !at_eol(c))
				return csv_error(c, *line, "field %zu: text after the closing quote", c->n);
		} else {
			for (;;) {
				int ch = csv_peek(c);

				if (ch < 0 || ch == ',' || at_eol(c))
					break;
				if (ch == '"')
					return csv_error(c, *line,
							 "field %zu: quote inside an unquoted field (quote the whole field "
							 "and double the quote: \"a \"\"b\"\"\")", c->n);
				if (ch == '\r')
					return csv_error(c, *line, "field %zu: carriage return without a line feed", c->n);
				mdm_buf_putc(&c->text, (char)ch);
				c->pos++;
			}
			/* trailing blanks of an unquoted field */
			end = c->text.len;
			while (end > c->off[c->n - 1] && (c->text.data[end - 1] == ' ' || c->text.data[end - 1] == '\t'))
				end--;
			c->text.len = end;
		}
		mdm_buf_putc(&c->text, '\0');
		if (c->text.oom)
			return -ENOMEM;
		if (csv_peek(c) == ',') {
			c->pos++;
			continue;
		}
		if (at_eol(c))
			eat_eol(c);
		c->text.len--; /* the last field's NUL stays in the buffer, outside len */
		return 1;
	}
}

/* ---- rows -> JSON values ---------------------------------------------- */

struct row {
	char symbol[SYMBOL_MAX + 1];
	unsigned line;
	size_t off, len; /* the JSON value in values.data */
};

struct table {
	struct row *rows;
	size_t n, cap;
	struct mdm_buf values;
};

static bool symbol_ok(const char *s, size_t n, const char **why)
{
	if (n == 0) {
		*why = "is empty";
		return false;
	}
	if (n > SYMBOL_MAX) {
		*why = "is longer than 15 bytes";
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == '-')) {
			*why = "has a character outside A-Z a-z 0-9 . _ -";
			return false;
		}
		/* a KV key's tokens cannot be empty */
		if (ch == '.' && (i == 0 || i == n - 1 || s[i - 1] == '.')) {
			*why = "has an empty '.'-separated part";
			return false;
		}
	}
	return true;
}

static int parse_lot_size(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > UINT32_MAX)
			return -EINVAL;
	}
	if (x == 0)
		return -EINVAL;
	*v = x;
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int d = strcmp(x->symbol, y->symbol);

	return d ? d : (x->line > y->line) - (x->line < y->line);
}

/* Header: map columns to roles. 0 or -EINVAL (reported). */
static int read_header(struct csv *c, unsigned line, enum col_role **roles, char ***names)
{
	bool seen[N_REQUIRED] = { false };

	*roles = mdm_calloc(c->n, sizeof(**roles));
	*names = mdm_calloc(c->n, sizeof(**names));
	if (!*roles || !*names)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		const char *name = field(c, i);

		if (!*name)
			return csv_error(c, line, "header: column %zu has no name", i + 1);
		if (!mdm_json_read_utf8_valid(name, field_len(c, i)))
			return csv_error(c, line, "header: column %zu: invalid UTF-8", i + 1);
		for (size_t j = 0; j < i; j++)
			if (strcmp((*names)[j], name) == 0)
				return csv_error(c, line, "header: column '%s' appears twice", name);
		(*names)[i] = mdm_strdup(name);
		if (!(*names)[i])
			return -ENOMEM;
		(*roles)[i] = COL_EXTRA;
		for (size_t r = 0; kind->required[r]; r++) {
			if (strcmp(name, kind->required[r]) == 0) {
				(*roles)[i] = (enum col_role)r;
				seen[r] = true;
			}
		}
	}
	for (size_t r = 0; kind->required[r]; r++) {
		char all[128] = "";

		if (seen[r])
			continue;
		for (size_t k = 0; kind->required[k]; k++)
			snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", k ? "," : "", kind->required[k]);
		return csv_error(c, line, "header: no '%s' column (required: %s)", kind->required[r], all);
	}
	return 0;
}

/* A trader row's known columns opened as a JSON object (the caller adds the
 * extra columns and closes it). 0 or -EINVAL (reported). */
static int trader_json(const struct csv *c, unsigned line, const char *const *cell, struct mdm_json *j)
{
	const char *limit = cell[TCOL_LIMIT], *dot = strchr(limit, '.');
	uint64_t level = 0;
	size_t n = strlen(limit);

	for (const char *p = cell[TCOL_AUTH]; *p; p++) {
		if (*p < '0' || *p > '9' || level > UINT32_MAX)
			return csv_error(c, line, "authorization_level '%s' is not an integer >= 0", cell[TCOL_AUTH]);
		level = level * 10 + (uint64_t)(*p - '0');
	}
	if (!*cell[TCOL_AUTH] || level > UINT32_MAX)
		return csv_error(c, line, "authorization_level '%s' is not an integer >= 0", cell[TCOL_AUTH]);
	if (n == 0 || n > 19 || strspn(limit, "0123456789.") != n || (dot && (strchr(dot + 1, '.') || dot == limit ||
	    n - (size_t)(dot - limit) - 1 > 4 || n - (size_t)(dot - limit) - 1 == 0)))
		return csv_error(c, line, "max_trade_limit '%s' is not an amount >= 0 with at most 4 decimals",
				 limit);
	mdm_json_obj_begin(j);
	mdm_json_kstr(j, "id", cell[TCOL_ID]);
	mdm_json_kstr(j, "name", cell[TCOL_NAME]);
	mdm_json_kstr(j, "team", cell[TCOL_TEAM]);
	mdm_json_ku64(j, "authorization_level", level);
	/* a string: the amount exactly as written (the processor reads it in 1e-4 units) */
	mdm_json_kstr(j, "max_trade_limit", limit);
	return 0;
}

/* One data row -> JSON in t->values. 0, -EINVAL (reported), -ENOMEM. */
static int read_row(struct csv *c, unsigned line, size_t ncols, const enum col_role *roles, char *const *names,
		    struct table *t)
{
	const char *cell[N_REQUIRED] = { NULL };
	uint64_t lot = 0;
	const char *why;
	struct mdm_json j;
	struct row *r;
	size_t start;

	if (c->n != ncols)
		return csv_error(c, line, "%zu fields, the header has %zu", c->n, ncols);
	for (size_t i = 0; i < ncols; i++) {
		if (!mdm_json_read_utf8_valid(field(c, i), field_len(c, i)))
			return csv_error(c, line, "column %s: invalid UTF-8", names[i]);
		if (memchr(field(c, i), '\0', field_len(c, i)))
			return csv_error(c, line, "column %s: NUL byte", names[i]);
		if (roles[i] != COL_EXTRA)
			cell[roles[i]] = field(c, i);
	}
	if (!symbol_ok(cell[COL_SYMBOL], strlen(cell[COL_SYMBOL]), &why))
		return csv_error(c, line, "%s '%s' %s", kind->required[0], cell[COL_SYMBOL], why);
	start = t->values.len;
	mdm_json_init(&j, &t->values);
	if (kind != &kinds[0]) {
		if (trader_json(c, line, cell, &j) < 0)
			return -EINVAL;
		goto extra;
	}
	if (*cell[COL_CURRENCY] &&
	    (strlen(cell[COL_CURRENCY]) != 3 || strspn(cell[COL_CURRENCY], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
		return csv_error(c, line, "currency '%s' is not a 3-letter ISO 4217 code (e.g. USD)", cell[COL_CURRENCY]);
	if (parse_lot_size(cell[COL_LOT_SIZE], &lot) < 0)
		return csv_error(c, line, "lot_size '%s' is not a positive integer below 2^32", cell[COL_LOT_SIZE]);

	mdm_json_obj_begin(&j);
	mdm_json_kstr(&j, "symbol", cell[COL_SYMBOL]);
	mdm_json_kstr(&j, "sector", cell[COL_SECTOR]);
	mdm_json_kstr(&j, "currency", cell[COL_CURRENCY]);
	mdm_json_kstr(&j, "exchange", cell[COL_EXCHANGE]);
	mdm_json_kstr(&j, "name", cell[COL_NAME]);
	mdm_json_ku64(&j, "lot_size", lot);
extra:
	for (size_t i = 0; i < ncols; i++)
		if (roles[i] == COL_EXTRA && *field(c, i))
			mdm_json_kstr(&j, names[i], field(c, i));
	mdm_json_obj_end(&j);
	if (mdm_json_status(&j) < 0)
		return -ENOMEM;
	if (t->values.len - start > VALUE_MAX)
		return csv_error(c, line, "the row's JSON value is %zu bytes, more than the %d the processor accepts",
				 t->values.len - start, VALUE_MAX);
	if (t->n == t->cap) {
		size_t ncap = t->cap ? 2 * t->cap : 64;
		struct row *nr = mdm_realloc(t->rows, ncap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		t->rows = nr;
		t->cap = ncap;
	}
	r = &t->rows[t->n++];
	memset(r, 0, sizeof(*r));
	strcpy(r->symbol, cell[COL_SYMBOL]);
	r->line = line;
	r->off = start;
	r->len = t->values.len - start;
	return 0;
}

/* Parse and check the whole file into t. 0, -EINVAL (reported), -ENOMEM, -errno. */
static int read_csv(const char *path, struct table *t)
{
	struct csv c = { .path = path, .line = 1 };
	enum col_role *roles = NULL;
	char **names = NULL;
	unsigned char *data = NULL;
	size_t ncols = 0, len = 0;
	unsigned line;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "mdmesh refdata: %s: %s\n", path, strerror(errno));
		return rc;
	}
	rc = mdmesh_read_all(fd, &data, &len);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "mdmesh refdata: %s: %s\n", path, mdm_strerror(rc));
		return rc;
	}
	c.buf = (const char *)data;
	c.len = len;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		c.pos = 3;
	rc = csv_record(&c, &line);
	if (rc == 0)
		rc = csv_error(&c, 1, "empty file: a header line is required");
	if (rc == 1) {
		ncols = c.n;
		rc = read_header(&c, line, &roles, &names);
	}
	while (rc == 0 && (rc = csv_record(&c, &line)) == 1)
		rc = read_row(&c, line, ncols, roles, names, t);
	if (rc == 0 && t->n > 1) {
		/* duplicates: report the second occurrence earliest in the file */
		struct row *sorted = mdm_malloc(t->n * sizeof(*sorted));
		const struct row *dup = NULL, *first = NULL;

		if (!sorted) {
			rc = -ENOMEM;
		} else {
			memcpy(sorted, t->rows, t->n * sizeof(*sorted));
			qsort(sorted, t->n, sizeof(*sorted), row_cmp);
			for (size_t i = 1; i < t->n; i++) {
				size_t f = i - 1;

				if (strcmp(sorted[i].symbol, sorted[f].symbol) != 0)
					continue;
				while (f > 0 && strcmp(sorted[f - 1].symbol, sorted[i].symbol) == 0)
					f--;
				if (!dup || sorted[i].line < dup->line) {
					dup = &sorted[i];
					first = &sorted[f];
				}
			}
			if (dup)
				rc = csv_error(&c, dup->line, "duplicate %s %s (first at line %u)", kind->required[0], dup->symbol,
					       first->line);
			mdm_free(sorted);
		}
	}
	if (rc == -ENOMEM)
		fprintf(stderr, "mdmesh refdata: %s: out of memory\n", path);
	for (size_t i = 0; names && i < ncols; i++)
		mdm_free(names[i]);
	mdm_free(names);
	mdm_free(roles);
	mdm_free(c.off);
	mdm_buf_fini(&c.text);
	mdm_free(data);
	return rc;
}

/* ---- NATS ------------------------------------------------------------- */

/* retry_later(RC, &DEADLINE): whether to try again after RC (the message set
 * says what failed), sleeping first; DEADLINE (0 before the first retry) ends
 * the retries. A cluster says
 * "later" in two ways: no responders to a put into a bucket created a moment
 * ago (the stream's interest has not reached the node we are connected to),
 * and a request timing out (or "cluster not available") while the bucket's
 * stream elects a leader: 4-9 s after its leader died, longer on a loaded
 * machine. cluster_failover failed on both under CI load. */
static bool retry_later(int rc, uint64_t *deadline)
{
	if (rc != -EHOSTUNREACH && rc != -ETIMEDOUT && rc != -EAGAIN)
		return false;
	if (!*deadline) {
		*deadline = mdm_mono_ns() + RETRY_NS;
		fprintf(stderr, "mdmesh refdata: %s; retrying for up to %llu s\n", mdm_err_last(),
			(unsigned long long)(RETRY_NS / MDM_NS_PER_S));
	}
	if (mdm_mono_ns() >= *deadline)
		return false;
	mdm_sleep_ns(200 * MDM_NS_PER_MS);
	return true;
}

static int connect_kv(const struct refdata_opts *o, bool create, struct mdm_bus **bus, struct mdm_bus_kv **kv)
{
	uint64_t deadline = 0;
	int rc;

	*kv = NULL;
	rc = mdmesh_connect(o->url, "mdmesh-refdata", bus);
	if (rc < 0) {
		fprintf(stderr, "mdmesh refdata: %s\n", mdm_err_last());
		return rc;
	}
	do {
		rc = mdm_bus_kv_open(*bus, o->bucket, create, kv);
	} while (rc < 0 && retry_later(rc, &deadline));
	if (rc == -ENOENT)
		fprintf(stderr, "mdmesh refdata: KV bucket %s does not exist (mdmesh refdata load creates it)\n",
			o->bucket);
	else if (rc < 0)
		fprintf(stderr, "mdmesh refdata: %s\n", mdm_err_last());
	return rc;
}

static int refdata_load(const char *path, const struct refdata_opts *o)
{
	struct table t = { 0 };
	struct mdm_bus *bus = NULL;
	struct mdm_bus_kv *kv = NULL;
	char key[sizeof(KEY_PREFIX) + SYMBOL_MAX];
	size_t done = 0;
	int rc;

	rc = read_csv(path, &t);
	if (rc < 0) {
		fprintf(stderr, "mdmesh refdata: %s: nothing loaded\n", path);
		goto out;
	}
	if (o->check_only) {
		printf("%s: %zu %s, OK\n", path, t.n, kind->plural);
		goto out;
	}
	rc = connect_kv(o, true, &bus, &kv);
	if (rc < 0)
		goto out;
	for (; done < t.n; done++) {
		const struct row *r = &t.rows[done];
		uint64_t deadline = 0;

		snprintf(key, sizeof(key), "%s%s", kind->prefix, r->symbol);
		/* a put that timed out may have been stored: putting the same
		 * value again only adds a revision */
		do {
			rc = mdm_bus_kv_put(kv, key, t.values.data + r->off, r->len, NULL);
		} while (rc < 0 && retry_later(rc, &deadline));
		if (rc < 0) {
			fprintf(stderr, "mdmesh refdata: %s:%u: put %s: %s (%zu of %zu rows were loaded; "
					"loading the file again is safe)\n",
				path, r->line, key, mdm_err_last(), done, t.n);
			goto out;
		}
	}
	printf("loaded %zu %s from %s into KV bucket %s\n", t.n, kind->plural, path, o->bucket);
out:
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
	mdm_free(t.rows);
	mdm_buf_fini(&t.values);
	return rc < 0 ? 1 : 0;
}

static int refdata_get(const char *symbol, const struct refdata_opts *o)
{
	struct mdm_bus *bus = NULL;
	struct mdm_bus_kv *kv = NULL;
	struct mdm_bus_kv_entry *e = NULL;
	char key[sizeof(KEY_PREFIX) + SYMBOL_MAX];
	const char *why;
	int rc;

	if (!symbol_ok(symbol, strlen(symbol), &why)) {
		fprintf(stderr, "mdmesh refdata get: symbol '%s' %s\n", symbol, why);
		return 2;
	}
	snprintf(key, sizeof(key), "%s%s", kind->prefix, symbol);
	rc = connect_kv(o, false, &bus, &kv);
	if (rc == 0) {
		rc = mdm_bus_kv_get(kv, key, &e);
		if (rc == -ENOENT)
			fprintf(stderr, "mdmesh refdata get: %s: not in KV bucket %s\n", symbol, o->bucket);
		else if (rc < 0)
			fprintf(stderr, "mdmesh refdata get: %s\n", mdm_err_last());
	}
	if (rc == 0) {
		fwrite(mdm_bus_kv_entry_value(e), 1, mdm_bus_kv_entry_len(e), stdout);
		putchar('\n');
	}
	mdm_bus_kv_entry_free(e);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
	return rc < 0 ? 1 : 0;
}

struct listed {
	char *symbol;
	uint64_t revision;
	char *value; /* NUL-terminated copy */
	size_t len;
};

static int listed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct listed *)a)->symbol, ((const struct listed *)b)->symbol);
}

/* One JSON line: the value is embedded as an object when it is one, else as
 * a string, so the output stays valid JSON lines whatever the bucket holds. */
static void print_value_line(const struct listed *l, struct mdm_buf *out)
{
	json_t *obj = mdm_json_read_object(l->value, l->len, NULL, 0);
	struct mdm_json j;

	mdm_buf_reset(out);
	mdm_json_init(&j, out);
	mdm_json_obj_begin(&j);
	mdm_json_kstr(&j, "symbol", l->symbol);
	mdm_json_ku64(&j, "revision", l->revision);
	mdm_json_key(&j, "value");
	if (obj)
		mdm_json_raw(&j, l->value);
	else
		mdm_json_strn(&j, l->value, l->len);
	mdm_json_obj_end(&j);
	mdm_buf_putc(out, '\n');
	fwrite(out->data, 1, out->len, stdout);
	json_decref(obj);
}

static int refdata_list(const struct refdata_opts *o)
{
	struct mdm_bus *bus = NULL;
	struct mdm_bus_kv *kv = NULL;
	struct mdm_bus_kv_watch *w = NULL;
	struct listed *items = NULL;
	struct mdm_buf out = MDM_BUF_INIT;
	size_t n = 0, cap = 0;
	int rc;

	rc = connect_kv(o, false, &bus, &kv);
	if (rc == 0 && (rc = mdm_bus_kv_watch(kv, kind == &kinds[0] ? KEY_PREFIX ">" : "trader.>", &w)) < 0)
		fprintf(stderr, "mdmesh refdata list: %s\n", mdm_err_last());
	/* the watch delivers each key's current value, then a NULL marker */
	while (rc == 0) {
		struct mdm_bus_kv_entry *e = NULL;
		struct listed *l;

		rc = mdm_bus_kv_watch_next(w, LIST_WAIT_MS, &e);
		if (rc < 0) {
			fprintf(stderr, "mdmesh refdata list: %s\n", mdm_err_last());
			break;
		}
		if (!e)
			break;
		if (mdm_bus_kv_entry_op(e) != MDM_BUS_KV_PUT) {
			mdm_bus_kv_entry_free(e);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			struct listed *ni = mdm_realloc(items, ncap * sizeof(*ni));

			if (!ni) {
				mdm_bus_kv_entry_free(e);
				rc = -ENOMEM;
				break;
			}
			items = ni;
			cap = ncap;
		}
		l = &items[n];
		l->symbol = mdm_strdup(mdm_bus_kv_entry_key(e) + strlen(kind->prefix));
		l->len = mdm_bus_kv_entry_len(e);
		/* not strndup: a value may hold NUL bytes */
		l->value = mdm_malloc(l->len + 1);
		if (l->value) {
			if (l->len)
				memcpy(l->value, mdm_bus_kv_entry_value(e), l->len);
			l->value[l->len] = '\0';
		}
		l->revision = mdm_bus_kv_entry_revision(e);
		mdm_bus_kv_entry_free(e);
		if (!l->symbol || !l->value) {
			mdm_free(l->symbol);
			mdm_free(l->value);
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	if (rc == -ENOMEM)
		fprintf(stderr, "mdmesh refdata list: out of memory\n");
	if (rc == 0) {
		qsort(items, n, sizeof(*items), listed_cmp);
		for (size_t i = 0; i < n; i++) {
			if (o->values)
				print_value_line(&items[i], &out);
			else
				printf("%s\n", items[i].symbol);
		}
	}
	for (size_t i = 0; i < n; i++) {
		mdm_free(items[i].symbol);
		mdm_free(items[i].value);
	}
	mdm_free(items);
	mdm_buf_fini(&out);
	mdm_bus_kv_watch_destroy(w);
	mdm_bus_kv_destroy(kv);
	mdm_bus_destroy(bus);
	return rc < 0 ? 1 : 0;
}

int cmd_refdata(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nats", required_argument, NULL, 'n' }, { "bucket", required_argument, NULL, 'b' },
		{ "check", no_argument, NULL, 'c' },      { "values", no_argument, NULL, 'v' },
		{ "kind", required_argument, NULL, 'k' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct refdata_opts o = {
		.url = getenv("MDM_NATS_URL") ? getenv("MDM_NATS_URL") : "nats://127.0.0.1:4222",
		.bucket = "refdata",
	};
	const char *verb;
	int ch, nargs;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': o.url = optarg; break;
		case 'b': o.bucket = optarg; break;
		case 'c': o.check_only = true; break;
		case 'v': o.values = true; break;
		case 'k':
			if (strcmp(optarg, "instrument") == 0 || strcmp(optarg, "trader") == 0) {
				kind = &kinds[optarg[0] == 't'];
				break;
			}
			fprintf(stderr, "mdmesh refdata: --kind '%s': expected instrument or trader\n", optarg);
			return 2;
		case 'h': refdata_usage(stdout); return 0;
		default: refdata_usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		refdata_usage(stderr);
		return 2;
	}
	verb = argv[optind];
	nargs = argc - optind - 1;
	if (strcmp(verb, "load") == 0 && nargs == 1 && !o.values)
		return refdata_load(argv[optind + 1], &o);
	if (strcmp(verb, "get") == 0 && nargs == 1 && !o.values && !o.check_only)
		return refdata_get(argv[optind + 1], &o);
	if (strcmp(verb, "list") == 0 && nargs == 0 && !o.check_only)
		return refdata_list(&o);
	fprintf(stderr, "mdmesh refdata: bad arguments for '%s' (try 'mdmesh refdata --help')\n", verb);
	return 2;
}
