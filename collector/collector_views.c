/* collector_views.h */
#include "collector_views.h"

#include <errno.h>

#include "mdm_bus.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "views.h"

static int ensure(struct mdm_bus *bus, const struct collector_cfg *cfg, const char *name, const char *subject)
{
	const char *subjects[1] = { subject };
	struct mdm_stream_cfg sc = {
		.name = name, .subjects = subjects, .n_subjects = 1,
		.memory = cfg->views_storage == COLLECTOR_STORAGE_MEMORY,
		.max_bytes = -1, .max_msgs = -1,
		.max_msgs_per_subject = cfg->views_history ? (int64_t)cfg->views_history : -1,
		.duplicate_window_ns = cfg->stream_duplicate_window_ns,
		.replicas = (int)cfg->stream_replicas, .allow_direct = true,
	};
	int rc;

	mdm_err_clear();
	rc = mdm_bus_stream_ensure(bus, &sc);
	if (rc < 0) {
		mdm_log_error("views: stream %s: %s", name, mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
		return rc;
	}
	mdm_log_info("stream %s %s", name,
		     rc == MDM_BUS_CREATED ? "created" : rc == MDM_BUS_UPDATED ? "updated" : "up to date");
	return 0;
}

int collector_views_streams(struct mdm_bus *bus, const struct collector_cfg *cfg)
{
	int rc;

	if (!cfg->views_enabled)
		return 0;
	rc = ensure(bus, cfg, cfg->views_bbo_stream, "bbo.>");
	if (rc == 0 && cfg->views_depth_levels)
		rc = ensure(bus, cfg, cfg->views_depth_stream, "depth.>");
	return rc;
}

int collector_views_create(struct views **out, const struct collector_cfg *cfg)
{
	struct views_params vp = { .bbo = true, .depth_levels = (unsigned)cfg->views_depth_levels,
				   .depth_interval_ns = cfg->views_depth_interval_ns };
	int rc;

	*out = NULL;
	if (!cfg->views_enabled)
		return 0;
	rc = views_create(out, &vp);
	if (rc != 0)
		mdm_log_error("views: %s", mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
	return rc;
}
