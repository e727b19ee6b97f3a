/* /dashboard: serves the embedded common/dashboard.html. */
#include "mdm_dashboard.h"

#include "mdm_buf.h"
#include "mdm_http.h"

/* generated at build time by cmake/MdmEmbed.cmake */
extern const unsigned char mdm_dashboard_html[];
extern const size_t mdm_dashboard_html_len;

const char *mdm_dashboard_page(size_t *len)
{
	*len = mdm_dashboard_html_len;
	return (const char *)mdm_dashboard_html;
}

static int serve_dashboard(void *ctx, const struct mdm_http_request *req, struct mdm_buf *body,
			   const char **content_type)
{
	size_t len;
	const char *page = mdm_dashboard_page(&len);

	*content_type = "text/html; charset=utf-8";
	mdm_buf_append(body, page, len);
	return 200;
}

int mdm_dashboard_serve(struct mdm_http *http)
{
	return mdm_http_route(http, "/dashboard", serve_dashboard, NULL);
}
