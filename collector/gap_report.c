/* Permanent-gap reports: log, alert, remember (see gap_report.h). */
#include "gap_report.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"
#include "mdm_proto.h"

#define ALERT_CT "application/protobuf; proto=mdmesh.v1.Alert"
#define ALERT_MAX 1024

struct gap_report {
	struct rerequest *rr;
	struct mdm_bus *bus;
	char feed[64];
	char subject[128];
	pthread_mutex_t lock;              /* recent[] and the counters */
	struct rerequest_gap recent[2][GAP_REPORT_RECENT]; /* [0] permanent, [1] recovered */
	uint64_t n_recent[2];              /* total seen; index = n % GAP_REPORT_RECENT */
	/* recovered gaps since the last log line (at most one a second) */
	uint64_t rec_gaps, rec_msgs, rec_log_ns;
	char rec_ranges[160];
	struct gap_report_counters c;
	struct rerequest_gap retry[GAP_REPORT_RETRY];
	unsigned n_retry;
	uint8_t buf[ALERT_MAX];
};

int gap_report_create(struct gap_report **out, const struct gap_report_params *p)
{
	struct gap_report *gr = mdm_calloc(1, sizeof(*gr));

	*out = NULL;
	if (!gr)
		return mdm_err_set(-ENOMEM, "gap report: out of memory");
	gr->rr = p->rr;
	gr->bus = p->bus;
	snprintf(gr->feed, sizeof(gr->feed), "%s", p->feed);
	snprintf(gr->subject, sizeof(gr->subject), "%s", p->subject);
	pthread_mutex_init(&gr->lock, NULL);
	*out = gr;
	return 0;
}

void gap_report_destroy(struct gap_report *gr)
{
	if (!gr)
		return;
	pthread_mutex_destroy(&gr->lock);
	mdm_free(gr);
}

static void session_str(const struct rerequest_gap *g, char out[SEQ_SESSION_LEN + 1])
{
	size_t n = SEQ_SESSION_LEN;

	while (n > 0 && (g->session[n - 1] == ' ' || g->session[n - 1] == '\0'))
		n--;
	memcpy(out, g->session, n);
	out[n] = '\0';
}

/* Publish one alert. 0 when the stream has it. */
static int alert_publish(struct gap_report *gr, const struct rerequest_gap *g)
{
	Mdmesh__V1__Alert al = MDMESH__V1__ALERT__INIT;
	char session[SEQ_SESSION_LEN + 1], msg_id[192], message[256];
	uint64_t n = g->to - g->from + 1;
	size_t len;
	int rc;

	session_str(g, session);
	snprintf(msg_id, sizeof(msg_id), "gap.%s.%s.%" PRIu64 "-%" PRIu64, gr->feed, session, g->from, g->to);
	snprintf(message, sizeof(message), "feed %s session %s: messages %" PRIu64 "-%" PRIu64 " (%" PRIu64
		 ") lost for good: %s after %u re-requests", gr->feed, session, g->from, g->to, n,
		 rerequest_reason_name(g->reason), g->requests);
	al.rule = (char *)"gap";
	al.symbol = (char *)"";
	al.severity = (char *)"critical";
	al.message = message;
	al.ts_ns = mdm_real_ns();
	al.feed = gr->feed;
	al.session = session;
	al.seq = g->from;
	al.value = (int64_t)n;
	al.seq_first = g->from;
	al.seq_last = g->to;
	len = mdmesh__v1__alert__get_packed_size(&al);
	if (len > sizeof(gr->buf))
		return mdm_err_set(-EMSGSIZE, "gap alert: %zu bytes packed, above %zu", len,
				   sizeof(gr->buf)); /* bounded strings: cannot happen */
	mdmesh__v1__alert__pack(&al, gr->buf);
	rc = mdm_bus_js_publish(gr->bus, gr->subject, msg_id, ALERT_CT, gr->buf, len, NULL);
	return rc < 0 ? rc : 0;
}

static void count(struct gap_report *gr, uint64_t *c)
{
	pthread_mutex_lock(&gr->lock);
	(*c)++;
	pthread_mutex_unlock(&gr->lock);
}

/* Publish g, or keep it for another try. */
static void alert_send(struct gap_report *gr, const struct rerequest_gap *g, bool logged)
{
	int rc;

	if (!gr->bus)
		return;
	rc = alert_publish(gr, g);
	if (rc == 0) {
		count(gr, &gr->c.alerts_published);
		return;
	}
	count(gr, &gr->c.alerts_failed);
	if (!logged)
		mdm_log_warn("alert for gap %" PRIu64 "-%" PRIu64 " not published (will retry): %s", g->from, g->to,
			     mdm_err_last());
	if (gr->n_retry < GAP_REPORT_RETRY) {
		gr->retry[gr->n_retry++] = *g;
	} else {
		count(gr, &gr->c.alerts_dropped);
		mdm_log_error("alert for gap %" PRIu64 "-%" PRIu64 " dropped: %d alerts already wait for a retry",
			      g->from, g->to, GAP_REPORT_RETRY);
	}
}

/* Log what was recovered since the last line: at most once a second, or
 * everything left when `now` (shutdown). */
static void recovered_log(struct gap_report *gr, bool now)
{
	uint64_t t = mdm_mono_ns();

	if (!gr->rec_gaps || (!now && t < gr->rec_log_ns + MDM_NS_PER_S))
		return;
	mdm_log_info("recovered %" PRIu64 " gap%s (%" PRIu64 " messages):%s%s", gr->rec_gaps, gr->rec_gaps == 1 ? "" : "s",
		     gr->rec_msgs, gr->rec_ranges, gr->rec_gaps > 4 ? " ..." : "");
	gr->rec_gaps = gr->rec_msgs = 0;
	gr->rec_ranges[0] = '\0';
	gr->rec_log_ns = t;
}

static void recovered(struct gap_report *gr, const struct rerequest_gap *g)
{
	if (gr->rec_gaps < 4) {
		size_t off = strlen(gr->rec_ranges);

		snprintf(gr->rec_ranges + off, sizeof(gr->rec_ranges) - off, " %" PRIu64 "-%" PRIu64, g->from, g->to);
	}
	gr->rec_gaps++;
	gr->rec_msgs += g->to - g->from + 1;
	pthread_mutex_lock(&gr->lock);
	gr->recent[1][gr->n_recent[1]++ % GAP_REPORT_RECENT] = *g;
	pthread_mutex_unlock(&gr->lock);
}

unsigned gap_report_drain(struct gap_report *gr)
{
	struct rerequest_gap g[32];
	unsigned taken = 0, n;

	if (gr->n_retry && gr->bus && mdm_bus_connected(gr->bus)) {
		struct rerequest_gap again[GAP_REPORT_RETRY];
		unsigned k = gr->n_retry;

		memcpy(again, gr->retry, k * sizeof(again[0]));
		gr->n_retry = 0;
		for (unsigned i = 0; i < k; i++)
			alert_send(gr, &again[i], true);
	}
	while ((n = rerequest_take(gr->rr, g, 32)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			char session[SEQ_SESSION_LEN + 1];

			if (g[i].reason == REREQUEST_RECOVERED) {
				recovered(gr, &g[i]);
				continue;
			}
			session_str(&g[i], session);
			mdm_log_warn("permanent gap %" PRIu64 "-%" PRIu64 " (%" PRIu64 " messages) in session %s: %s after %u "
				     "re-requests",
				     g[i].from, g[i].to, g[i].to - g[i].from + 1, session, rerequest_reason_name(g[i].reason),
				     g[i].requests);
			pthread_mutex_lock(&gr->lock);
			gr->recent[0][gr->n_recent[0]++ % GAP_REPORT_RECENT] = g[i];
			if (g[i].reason <= REREQUEST_SESSION_CHANGE)
				gr->c.by_reason[g[i].reason]++;
			pthread_mutex_unlock(&gr->lock);
			alert_send(gr, &g[i], false);
			taken++;
		}
	}
	recovered_log(gr, false);
	return taken;
}

unsigned gap_report_recent(struct gap_report *gr, bool recovered, struct rerequest_gap *out, unsigned max)
{
	unsigned k = 0, which = recovered ? 1 : 0;

	pthread_mutex_lock(&gr->lock);
	{
		uint64_t n = gr->n_recent[which], first = n > GAP_REPORT_RECENT ? n - GAP_REPORT_RECENT : 0;

		if (n - first > max)
			first = n - max;
		for (uint64_t i = first; i < n; i++)
			out[k++] = gr->recent[which][i % GAP_REPORT_RECENT];
	}
	pthread_mutex_unlock(&gr->lock);
	return k;
}

void gap_report_counters(struct gap_report *gr, struct gap_report_counters *out)
{
	pthread_mutex_lock(&gr->lock);
	*out = gr->c;
	pthread_mutex_unlock(&gr->lock);
}
