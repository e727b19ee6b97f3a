/* Stage latency (mdm_latency.h): interval recorders and the reporter's set. */
#include "mdm_latency.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_hdr_log.h"
#include "mdm_json.h"
#include "mdm_mem.h"
#include "mdm_metrics.h"

/* The reader sleeps this long between checks for writers still inside the
 * old phase: a writer section is a burst's worth of records (microseconds). */
#define FLIP_YIELD_NS 10000

static const double quantiles[MDM_LATENCY_NQ] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
static const char *const quantile_names[MDM_LATENCY_NQ] = { "p50", "p90", "p99", "p99.9", "max" };

/* ---- recorders ---- */

int mdm_lat_recorder_create(struct mdm_lat_recorder **out, unsigned n_stages, uint32_t stage_mask, bool shared)
{
	struct mdm_lat_recorder *r;
	int rc = 0;

	*out = NULL;
	if (n_stages == 0 || n_stages > MDM_LATENCY_STAGES_MAX || (stage_mask & ((1u << n_stages) - 1)) == 0)
		return -EINVAL;
	r = mdm_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if ((rc = mdm_phaser_init(&r->phaser)) != 0) {
		mdm_free(r);
		return rc;
	}
	r->n_stages = n_stages;
	r->shared = shared;
	r->active = r->sets[0];
	for (unsigned s = 0; rc == 0 && s < n_stages; s++) {
		if (!(stage_mask & (1u << s)))
			continue;
		rc = mdm_hdr_create(&r->sets[0][s], 1, MDM_LATENCY_HIGHEST_NS, MDM_LATENCY_SIGFIGS);
		if (rc == 0)
			rc = mdm_hdr_create(&r->sets[1][s], 1, MDM_LATENCY_HIGHEST_NS, MDM_LATENCY_SIGFIGS);
	}
	if (rc != 0) {
		mdm_lat_recorder_destroy(r);
		return rc;
	}
	*out = r;
	return 0;
}

void mdm_lat_recorder_destroy(struct mdm_lat_recorder *r)
{
	if (!r)
		return;
	for (unsigned s = 0; s < MDM_LATENCY_STAGES_MAX; s++) {
		mdm_hdr_destroy(r->sets[0][s]);
		mdm_hdr_destroy(r->sets[1][s]);
	}
	mdm_phaser_fini(&r->phaser);
	mdm_free(r);
}

void mdm_lat_recorder_take(struct mdm_lat_recorder *r, struct mdm_hdr *const *into)
{
	struct mdm_hdr **old;

	mdm_phaser_reader_lock(&r->phaser);
	/* The inactive set was emptied by the previous take: writers move to it,
	 * and once the flip returns nobody writes the set swapped out. */
	old = r->active;
	__atomic_store_n(&r->active, old == r->sets[0] ? r->sets[1] : r->sets[0], __ATOMIC_RELEASE);
	mdm_phaser_flip_phase(&r->phaser, FLIP_YIELD_NS);
	for (unsigned s = 0; s < r->n_stages; s++) {
		if (!old[s])
			continue;
		mdm_hdr_add(into[s], old[s]);
		mdm_hdr_reset(old[s]);
	}
	mdm_phaser_reader_unlock(&r->phaser);
}

/* ---- the reporter's set ---- */

struct mdm_latency {
	const char *const *names;
	unsigned n;
	struct mdm_hdr *interval[MDM_LATENCY_STAGES_MAX]; /* reporter thread only */
	pthread_mutex_t mu;                                /* total[] and last_q_ns: ticks vs renders */
	struct mdm_hdr *total[MDM_LATENCY_STAGES_MAX];
	double last_q_ns[MDM_LATENCY_STAGES_MAX][MDM_LATENCY_NQ];
	FILE *hlog;
	struct mdm_hdr_log_writer hw;
	double start_s, last_end_s;
};

int mdm_latency_create(struct mdm_latency **out, const struct mdm_latency_params *p)
{
	struct mdm_latency *l;
	int rc = 0;

	*out = NULL;
	if (p->n_stages == 0 || p->n_stages > MDM_LATENCY_STAGES_MAX)
		return -EINVAL;
	l = mdm_calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->names = p->stage_names;
	l->n = p->n_stages;
	pthread_mutex_init(&l->mu, NULL);
	for (unsigned s = 0; rc == 0 && s < l->n; s++) {
		rc = mdm_hdr_create(&l->interval[s], 1, MDM_LATENCY_HIGHEST_NS, MDM_LATENCY_SIGFIGS);
		if (rc == 0)
			rc = mdm_hdr_create(&l->total[s], 1, MDM_LATENCY_HIGHEST_NS, MDM_LATENCY_SIGFIGS);
	}
	l->start_s = l->last_end_s = (double)mdm_real_ns() / 1e9;
	if (rc == 0 && p->hlog_path && p->hlog_path[0]) {
		l->hlog = fopen(p->hlog_path, "w");
		if (!l->hlog)
			rc = mdm_err_set(-errno, "latency.hlog %s: %s", p->hlog_path, strerror(errno));
		if (rc == 0) {
			mdm_hdr_log_writer_init(&l->hw, l->hlog);
			rc = mdm_hdr_log_write_header(&l->hw, p->hlog_comment ? p->hlog_comment : "", l->start_s, true,
						      l->start_s);
		}
	}
	if (rc != 0) {
		mdm_latency_destroy(l);
		return rc;
	}
	*out = l;
	return 0;
}

void mdm_latency_destroy(struct mdm_latency *l)
{
	if (!l)
		return;
	if (l->hlog) {
		mdm_hdr_log_writer_fini(&l->hw);
		fclose(l->hlog);
	}
	for (unsigned s = 0; s < MDM_LATENCY_STAGES_MAX; s++) {
		mdm_hdr_destroy(l->interval[s]);
		mdm_hdr_destroy(l->total[s]);
	}
	pthread_mutex_destroy(&l->mu);
	mdm_free(l);
}

struct mdm_hdr *const *mdm_latency_interval_begin(struct mdm_latency *l)
{
	for (unsigned s = 0; s < l->n; s++)
		mdm_hdr_reset(l->interval[s]);
	return l->interval;
}

void mdm_latency_interval_end(struct mdm_latency *l, double now_s)
{
	pthread_mutex_lock(&l->mu);
	for (unsigned s = 0; s < l->n; s++) {
		const struct mdm_hdr *h = l->interval[s];

		mdm_hdr_add(l->total[s], h);
		for (unsigned q = 0; q < MDM_LATENCY_NQ; q++)
			l->last_q_ns[s][q] = mdm_hdr_total_count(h)
						     ? (double)(quantiles[q] >= 1.0 ? mdm_hdr_max(h)
										   : mdm_hdr_value_at_percentile(h, quantiles[q] * 100))
						     : 0.0;
	}
	pthread_mutex_unlock(&l->mu);
	if (l->hlog) {
		for (unsigned s = 0; s < l->n; s++)
			if (mdm_hdr_total_count(l->interval[s]))
				mdm_hdr_log_write(&l->hw, l->last_end_s - l->start_s, now_s - l->last_end_s, l->names[s],
						  l->interval[s]);
		fflush(l->hlog);
	}
	l->last_end_s = now_s;
}

uint64_t mdm_latency_interval_count(const struct mdm_latency *l, unsigned stage)
{
	return stage < l->n ? mdm_hdr_total_count(l->interval[stage]) : 0;
}

double mdm_latency_quantile_ns(struct mdm_latency *l, unsigned stage, unsigned q)
{
	double v;

	if (stage >= l->n || q >= MDM_LATENCY_NQ)
		return 0.0;
	pthread_mutex_lock(&l->mu);
	v = l->last_q_ns[stage][q];
	pthread_mutex_unlock(&l->mu);
	return v;
}

void mdm_latency_write_summary(struct mdm_latency *l, struct mdm_metrics_writer *w, const char *family,
			       const char *help)
{
	mdm_metrics_write_family(w, MDM_METRICS_SUMMARY, family, help);
	pthread_mutex_lock(&l->mu);
	for (unsigned s = 0; s < l->n; s++) {
		const char *lb[] = { "stage", l->names[s], NULL };
		struct mdm_metrics_quantile qs[MDM_LATENCY_NQ];

		for (unsigned q = 0; q < MDM_LATENCY_NQ; q++) {
			qs[q].q = quantiles[q];
			qs[q].value = l->last_q_ns[s][q] / 1e9;
		}
		mdm_metrics_write_summary(w, lb, qs, MDM_LATENCY_NQ,
					  mdm_hdr_mean(l->total[s]) * (double)mdm_hdr_total_count(l->total[s]) / 1e9,
					  mdm_hdr_total_count(l->total[s]));
	}
	pthread_mutex_unlock(&l->mu);
}

void mdm_latency_write_json(struct mdm_latency *l, struct mdm_json *j)
{
	mdm_json_obj_begin(j);
	pthread_mutex_lock(&l->mu);
	for (unsigned s = 0; s < l->n; s++) {
		mdm_json_key(j, l->names[s]);
		mdm_json_obj_begin(j);
		for (unsigned q = 0; q < MDM_LATENCY_NQ; q++)
			mdm_json_kdbl(j, quantile_names[q], l->last_q_ns[s][q]);
		mdm_json_ku64(j, "count_total", mdm_hdr_total_count(l->total[s]));
		mdm_json_obj_end(j);
	}
	pthread_mutex_unlock(&l->mu);
	mdm_json_obj_end(j);
}

void mdm_latency_print(struct mdm_latency *l, FILE *f)
{
	fprintf(f, "  latency    (ns)            p50        p90        p99      p99.9        max      count\n");
	pthread_mutex_lock(&l->mu);
	for (unsigned s = 0; s < l->n; s++) {
		const struct mdm_hdr *h = l->total[s];

		fprintf(f, "    %-20s %10" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRIu64 "\n",
			l->names[s], mdm_hdr_value_at_percentile(h, 50), mdm_hdr_value_at_percentile(h, 90),
			mdm_hdr_value_at_percentile(h, 99), mdm_hdr_value_at_percentile(h, 99.9), mdm_hdr_max(h),
			mdm_hdr_total_count(h));
	}
	pthread_mutex_unlock(&l->mu);
}
