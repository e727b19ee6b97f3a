/* /dashboard: the live dashboard page (common/dashboard.html, embedded in the
 * binary at build time). The page polls the daemon's own /stats.json once a
 * second and draws throughput, latency percentiles per stage, the latest
 * percentile distribution, ring / in-flight (collector), lag / DLQ
 * (processor), gaps and drops, and, for a collector with market views, one
 * symbol's ladder and BBO from its /book.json (collector/book_http.h;
 * ?symbol=S picks it). `/dashboard?peers=127.0.0.1:9101,127.0.0.1:9102`
 * also polls those daemons' /stats.json (served with
 * Access-Control-Allow-Origin: *, see mdm_http.h) for a combined view. */
#ifndef MDM_DASHBOARD_H
#define MDM_DASHBOARD_H

#include <stddef.h>

struct mdm_http;

/* The page's bytes (text/html, UTF-8) and length. */
const char *mdm_dashboard_page(size_t *len);

/* Route /dashboard on `http` (before mdm_http_start).
 * @return 0 or mdm_http_route's error. */
int mdm_dashboard_serve(struct mdm_http *http);

#endif
