/* The collector's market views set-up from views.* (collector_cfg.h): the
 * streams BBO and DEPTH, and the views the RX core feeds (views.h). Main
 * thread, at start. */
#ifndef COLLECTOR_VIEWS_H
#define COLLECTOR_VIEWS_H

#include "collector_cfg.h"
#include "views.h"

struct mdm_bus;


/* Create or update streams views.bbo_stream (bbo.>) and views.depth_stream
 * (depth.>): max_msgs_per_subject views.history, direct get on (a late
 * joiner reads the last view of a subject in one request), storage
 * views.storage, the replicas and duplicate window of stream.*. 0 (also when views are off) or
 * a negative errno, logged. */
int collector_views_streams(struct mdm_bus *bus, const struct collector_cfg *cfg);

/* The views per views.*: *out NULL when views.enabled is false. 0 or a
 * negative errno, logged. */
int collector_views_create(struct views **out, const struct collector_cfg *cfg);

#endif
