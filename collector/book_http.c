/* book_http.h: /book.json from the streams' last views. */
#include "book_http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_mem.h"
#include "mdm_subject.h"
#include "views_json.h"

#define SYMBOLS_MAX 65536 /* one per stock locate at most */

struct names {
	char **v;
	size_t n, cap, skip; /* skip: length of the "bbo.<feed>." prefix */
};

static void add_name(void *ctx, const char *subject, uint64_t msgs)
{
	struct names *nm = ctx;
	char *copy;

	(void)msgs;
	if (nm->n == nm->cap) {
		size_t cap = nm->cap ? 2 * nm->cap : 256;
		char **v = cap <= SYMBOLS_MAX ? mdm_realloc(nm->v, cap * sizeof(*v)) : NULL;

		if (!v)
			return;
		nm->v = v;
		nm->cap = cap;
	}
	if (strlen(subject) > nm->skip && (copy = mdm_strdup(subject + nm->skip)) != NULL)
		nm->v[nm->n++] = copy;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int reply_error(struct mdm_buf *body, int status, const char *text)
{
	struct mdm_json j;

	mdm_buf_reset(body);
	mdm_json_init(&j, body);
	mdm_json_obj_begin(&j);
	mdm_json_kstr(&j, "error", text);
	mdm_json_obj_end(&j);
	return status;
}

static int bus_status(int rc)
{
	return rc == -ENOENT ? 404 : 503;
}

static int list_symbols(struct book_http *bh, struct mdm_json *j, struct mdm_buf *body)
{
	char filter[128];
	struct names nm = { 0 };
	int rc;

	snprintf(filter, sizeof(filter), "bbo.%s.>", bh->feed);
	nm.skip = strlen(filter) - 1;
	rc = mdm_bus_stream_subjects(bh->bus, bh->bbo_stream, filter, add_name, &nm);
	if (rc >= 0) {
		qsort(nm.v, nm.n, sizeof(*nm.v), cmp_name);
		mdm_json_obj_begin(j);
		mdm_json_kstr(j, "feed", bh->feed);
		mdm_json_key(j, "symbols");
		mdm_json_arr_begin(j);
		for (size_t i = 0; i < nm.n; i++)
			mdm_json_str(j, nm.v[i]);
		mdm_json_arr_end(j);
		mdm_json_obj_end(j);
	}
	for (size_t i = 0; i < nm.n; i++)
		mdm_free(nm.v[i]);
	mdm_free(nm.v);
	return rc >= 0 ? 200 : reply_error(body, bus_status(rc), mdm_err_last());
}

/* The last view of `kind` ("bbo" / "depth") of the symbol, as "key": view or
 * null; depth views cut to `levels` a side (0 = all). */
static int put_view(struct book_http *bh, struct mdm_json *j, const char *kind, const char *token, unsigned levels)
{
	static __thread struct encode_view_read r;
	bool bbo = kind[0] == 'b';
	struct mdm_bus_msg *m = NULL;
	char subject[160];
	int rc;

	snprintf(subject, sizeof(subject), "%s.%s.%s", kind, bh->feed, token);
	mdm_json_key(j, kind);
	rc = mdm_bus_stream_last_msg(bh->bus, bbo ? bh->bbo_stream : bh->depth_stream, subject, &m);
	if (rc == -ENOENT) {
		mdm_json_null(j);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!encode_view_read(mdm_bus_msg_data(m), mdm_bus_msg_len(m), bbo, &r)) {
		mdm_bus_msg_free(m);
		mdm_json_null(j);
		return 0;
	}
	mdm_bus_msg_free(m);
	if (levels && r.o.n_asks > levels)
		r.o.n_asks = levels;
	if (levels && r.o.n_bids > levels)
		r.o.n_bids = levels;
	views_json(j, r.session, r.symbol, &r.o);
	return 1;
}

static int serve_book(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body, const char **content_type)
{
	struct book_http *bh = ctx;
	const char *symbol = mdm_http_query(req, "symbol"), *depth = mdm_http_query(req, "depth");
	char token[64], *end = NULL;
	unsigned long levels = 0;
	struct mdm_json j;
	int got = 0, rc;

	*content_type = "application/json";
	mdm_json_init(&j, body);
	if (!symbol || !symbol[0])
		return list_symbols(bh, &j, body);
	if (depth && depth[0]) {
		levels = strtoul(depth, &end, 10);
		if (*end || levels == 0 || levels > VIEWS_MAX_LEVELS)
			return reply_error(body, 400, "depth: a number of levels, 1 to 50");
	}
	if (mdm_subject_token(token, sizeof(token), symbol, strlen(symbol)) >= sizeof(token))
		return reply_error(body, 400, "symbol: too long");
	mdm_json_obj_begin(&j);
	mdm_json_kstr(&j, "feed", bh->feed);
	mdm_json_kstr(&j, "symbol", symbol);
	rc = put_view(bh, &j, "bbo", token, 0);
	if (rc >= 0) {
		got += rc;
		rc = put_view(bh, &j, "depth", token, (unsigned)levels);
	}
	if (rc < 0)
		return reply_error(body, bus_status(rc), mdm_err_last());
	got += rc;
	mdm_json_obj_end(&j);
	return got ? 200 : reply_error(body, 404, "no view of this symbol in the streams");
}

int book_http_serve(struct mdm_daemon *d, struct book_http *bh)
{
	return mdm_daemon_route(d, "/book.json", serve_book, bh);
}
