/* The collector's /book.json (with views.enabled): what the dashboard's
 * ladder panel draws, read from the streams BBO and DEPTH, which hold each
 * symbol's last view (the current state): the HTTP thread never touches the
 * book the RX core owns.
 *   GET /book.json                  {"feed", "symbols": [...]}: the symbols with a BBO, sorted
 *   GET /book.json?symbol=S[&depth=N]  {"feed", "symbol", "bbo": view | null,
 *                                    "depth": view | null}, views in views_json's shape
 *                                    (depth: at most N levels a side, default all)
 * 404 with {"error"} for an unknown symbol, 400 for a bad query, 503 when
 * the broker does not answer. */
#ifndef BOOK_HTTP_H
#define BOOK_HTTP_H

#include "mdm_bus.h"
#include "mdm_daemon.h"

struct book_http {
	struct mdm_bus *bus;
	const char *feed, *bbo_stream, *depth_stream; /* borrowed from the config */
};

/* Route /book.json on the daemon's HTTP (before mdm_daemon_serve_http).
 * `bh` must outlive the server. 0 or -EBUSY. */
int book_http_serve(struct mdm_daemon *d, struct book_http *bh);

#endif
