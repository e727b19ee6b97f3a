/* The drop-copy gateway loop (fix_gateway.h). */
#include "fix_gateway.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fix_conn.h"
#include "fix_exec.h"
#include "fix_reader.h"
#include "fix_state.h"
#include "fix_window.h"
#include "mdm_clock.h"
#include "mdm_counter.h"
#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"

#define PACK_MAX 16384
#define WRITE_TIMEOUT_MS 2000

struct fix_gateway {
	const struct fix_cfg *cfg;
	struct mdm_bus *bus;
	struct fix_session *s;
	struct fix_window *win;
	struct fix_exec_params xp;
	struct fix_exec ex;
	char state_path[4096];
	struct fix_state saved;       /* what the file holds */
	uint64_t high_in;             /* highest next_in the session reached (a rewind lowers next_in) */
	int fd, lfd, wake;
	uint16_t lport;
	int stop;                     /* atomic: set by fix_gateway_stop */
	uint64_t rx_ns;               /* receive time of the message being handled */
	struct fix_reader rd;
	uint8_t pack[PACK_MAX];
	char session_id[160];
	struct mdm_lat_recorder *lat_main, *lat_ack;
	struct fix_gateway_counters c;
};

/* ---- persistence ---- */

/* The first inbound number not yet safe in the stream. */
static uint64_t processed_next_in(const struct fix_gateway *g)
{
	uint64_t low = fix_window_low_seq(g->win), next = fix_session_next_in(g->s);

	return low && low < next ? low : next;
}

static int save(struct fix_gateway *g, uint64_t next_out, uint64_t next_in)
{
	struct fix_state st = { next_out, next_in };
	int rc = fix_state_save(g->state_path, &st);

	if (rc != 0) {
		mdm_counter_add(&g->c.state_errors, 1);
		mdm_log_error("state: %s", mdm_err_last());
		return rc;
	}
	g->saved = st;
	mdm_counter_add(&g->c.state_writes, 1);
	mdm_counter_set(&g->c.processed_in, next_in);
	return 0;
}

/* Move the window on; a failed publish is asked for again (rewind). */
static void settle(struct fix_gateway *g)
{
	uint64_t failed;

	fix_window_advance(g->win, &failed);
	if (failed) {
		mdm_counter_add(&g->c.rewinds, 1);
		mdm_log_warn("publish of inbound %" PRIu64 " failed: asking the counterparty to resend from there", failed);
		fix_session_rewind_in(g->s, failed);
	}
	mdm_counter_set(&g->c.in_flight, fix_window_in_flight(g->win));
}

static void sync_state(struct fix_gateway *g)
{
	uint64_t next_in;

	settle(g);
	if (fix_session_next_in(g->s) > g->high_in)
		g->high_in = fix_session_next_in(g->s);
	next_in = processed_next_in(g);
	if (next_in != g->saved.next_in || fix_session_next_out(g->s) > g->saved.next_out)
		save(g, fix_session_next_out(g->s) > g->saved.next_out ? fix_session_next_out(g->s) : g->saved.next_out,
		     next_in);
}

/* ---- session callbacks ---- */

static int g_send(void *ctx, const char *p, size_t len)
{
	struct fix_gateway *g = ctx;

	return g->fd < 0 ? -ENOTCONN : fix_conn_write_all(g->fd, p, len, WRITE_TIMEOUT_MS);
}

static int g_persist(void *ctx, uint64_t next_out)
{
	struct fix_gateway *g = ctx;

	return save(g, next_out, g->saved.next_in);
}

static int g_deliver(void *ctx, struct fix_msg *m, bool poss_dup)
{
	struct fix_gateway *g = ctx;
	char subject[512], msg_id[512];
	uint64_t seq = 0, t, pub_ns;
	struct mdm_bus_retry retry = { 0 };
	size_t len;
	int rc;
	int64_t e;

	(void)poss_dup;
	fix_view_u64(m->f[FIX_F_MSG_SEQ_NUM], &seq);
	if (!fix_view_eq(m->f[FIX_F_MSG_TYPE], "8"))
		return 0;
	rc = fix_exec_decode(&g->ex, m, seq, g->rx_ns, &g->xp);
	if (rc < 0)
		return rc;
	mdm_counter_add(&g->c.execs[rc], 1);
	if (rc == FIX_EXEC_OTHER)
		return 0;
	if (fix_exec_subject(&g->ex, &g->xp, subject, sizeof(subject)) < 0 ||
	    fix_exec_msg_id(&g->ex, &g->xp, msg_id, sizeof(msg_id)) < 0) {
		m->bad_tag = 17;
		return -FIX_R_BAD_VALUE;
	}
	pub_ns = mdm_real_ns();
	g->ex.hdr.pub_ts_ns = pub_ns;
	len = mdmesh__v1__execution__get_packed_size(&g->ex.pb);
	if (len > sizeof(g->pack)) {
		m->bad_tag = 17;
		return -FIX_R_BAD_VALUE;
	}
	mdmesh__v1__execution__pack(&g->ex.pb, g->pack);
	t = fix_window_push(g->win, seq, g->rx_ns, pub_ns);
	retry.deadline_ns = mdm_mono_ns() + g->cfg->publish_timeout_ns;
	rc = mdm_bus_publish_async_until(g->bus, subject, msg_id, FIX_EXEC_CONTENT_TYPE, g->pack, len, t, &retry);
	if (rc != 0) {
		uint64_t a, b;

		/* never published: the window's failed slot makes the session ask for it again */
		mdm_log_warn("publish %s: %s", msg_id, mdm_err_last());
		mdm_counter_add_shared(&g->c.failed, 1);
		fix_window_done(g->win, t, false, &a, &b);
		return 0;
	}
	mdm_counter_add(&g->c.published, 1);
	e = mdm_lat_enter(g->lat_main);
	mdm_lat_record(g->lat_main, FIX_LAT_PUBLISH, (int64_t)(pub_ns - g->rx_ns));
	mdm_lat_exit(g->lat_main, e);
	return 0;
}

static void g_ack(void *ctx, const struct mdm_bus_ack *ack)
{
	struct fix_gateway *g = ctx;
	bool ok = ack->result != MDM_BUS_ACK_FAILED;
	uint64_t rx_ns, pub_ns, now = mdm_real_ns();
	int64_t e;

	fix_window_done(g->win, ack->token, ok, &rx_ns, &pub_ns);
	mdm_counter_add_shared(ok ? &g->c.acked : &g->c.failed, 1);
	if (!ok)
		return;
	e = mdm_lat_enter(g->lat_ack);
	mdm_lat_record(g->lat_ack, FIX_LAT_ACK, (int64_t)(now - pub_ns));
	mdm_lat_record(g->lat_ack, FIX_LAT_TOTAL, (int64_t)(now - rx_ns));
	mdm_lat_exit(g->lat_ack, e);
}

static void g_reset(void *ctx)
{
	struct fix_gateway *g = ctx;

	/* both numbering spaces restart: what is in flight must land first */
	if (mdm_bus_publish_drain(g->bus, g->cfg->publish_drain_timeout_ns / MDM_NS_PER_MS + 1) != 0)
		mdm_log_warn("sequence reset: %s", mdm_err_last());
	settle(g);
	if (fix_window_in_flight(g->win))
		mdm_log_error("sequence reset with %" PRIu64 " Executions unacked", fix_window_in_flight(g->win));
}

static void g_event(void *ctx, enum fix_event ev, const char *text)
{
	struct fix_gateway *g = ctx;

	switch (ev) {
	case FIX_EV_LOGGED_ON:
		mdm_counter_set(&g->c.connected, 1);
		mdm_log_info("session %s logged on (%s)", g->session_id, text);
		break;
	case FIX_EV_LOGGED_OUT: mdm_log_info("session %s logged out: %s", g->session_id, text); break;
	case FIX_EV_GAP: mdm_log_info("session %s: gap: %s", g->session_id, text); break;
	case FIX_EV_RESEND_DONE: mdm_log_info("session %s: resend %s", g->session_id, text); break;
	case FIX_EV_ERROR: mdm_log_warn("session %s: %s", g->session_id, text); break;
	}
}

static const struct fix_session_ops gateway_ops = { .send = g_send, .persist = g_persist, .deliver = g_deliver,
						    .reset = g_reset, .event = g_event };

/* ---- life cycle ---- */

int fix_gateway_create(struct fix_gateway **out, const struct fix_gateway_params *p)
{
	const struct fix_cfg *cfg = p->cfg;
	struct fix_gateway *g;
	struct fix_session_params sp;
	int rc;

	*out = NULL;
	g = mdm_calloc(1, sizeof(*g));
	if (!g)
		return mdm_err_set(-ENOMEM, "out of memory");
	g->cfg = cfg;
	g->bus = p->bus;
	g->fd = g->lfd = g->wake = -1;
	snprintf(g->session_id, sizeof(g->session_id), "%s-%s", cfg->sender, cfg->target);
	g->xp = (struct fix_exec_params){ .feed = cfg->session_name, .session = g->session_id,
					  .fix42 = strcmp(cfg->begin_string, "FIX.4.2") == 0, .from = p->from,
					  .n_from = p->n_from, .subject_prefix = cfg->subject_prefix };
	g->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fix_reader_init(&g->rd, cfg->max_message) != 0 || g->wake < 0) {
		rc = mdm_err_set(-ENOMEM, "out of memory or file descriptors");
		goto err;
	}
	if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
		rc = mdm_err_set(-errno, "session.state_dir %s: %s", cfg->state_dir, strerror(errno));
		goto err;
	}
	snprintf(g->state_path, sizeof(g->state_path), "%s/%s.seq", cfg->state_dir, cfg->session_name);
	rc = fix_state_load(g->state_path, &g->saved);
	if (rc == -ENOENT) {
		mdm_log_info("state %s: new session, numbers start at 1", g->state_path);
		rc = 0;
	} else if (rc == 0) {
		mdm_log_info("state %s: next out %" PRIu64 ", next in %" PRIu64, g->state_path, g->saved.next_out,
			     g->saved.next_in);
	}
	if (rc == 0)
		rc = fix_window_create(&g->win, (uint32_t)cfg->publish_window);
	if (rc == 0)
		rc = mdm_lat_recorder_create(&g->lat_main, FIX_LAT_COUNT, 1u << FIX_LAT_PUBLISH, false);
	if (rc == 0)
		rc = mdm_lat_recorder_create(&g->lat_ack, FIX_LAT_COUNT, 1u << FIX_LAT_ACK | 1u << FIX_LAT_TOTAL, true);
	if (rc != 0)
		goto err;
	sp = (struct fix_session_params){ .begin_string = cfg->begin_string, .sender = cfg->sender, .target = cfg->target,
					  .initiator = cfg->connect && cfg->connect[0],
					  .heartbeat_s = (uint32_t)(cfg->heartbeat_ns / MDM_NS_PER_S),
					  .next_out = g->saved.next_out, .next_in = g->saved.next_in,
					  .reset_on_logon = cfg->reset_on_logon, .max_skew_ns = cfg->max_skew_ns,
					  .logon_timeout_ns = cfg->logon_timeout_ns, .logout_timeout_ns = cfg->logout_timeout_ns,
					  .ops = &gateway_ops, .ctx = g };
	rc = fix_session_create(&g->s, &sp);
	if (rc == 0 && !sp.initiator)
		rc = fix_conn_listen(cfg->listen, &g->lfd, &g->lport);
	if (rc != 0)
		goto err;
	mdm_counter_set(&g->c.processed_in, g->saved.next_in);
	mdm_bus_set_ack_handler(p->bus, g_ack, g);
	*out = g;
	return 0;
err:
	fix_gateway_destroy(g);
	return rc;
}

void fix_gateway_destroy(struct fix_gateway *g)
{
	if (!g)
		return;
	if (g->fd >= 0)
		close(g->fd);
	if (g->lfd >= 0)
		close(g->lfd);
	if (g->wake >= 0)
		close(g->wake);
	fix_session_destroy(g->s);
	fix_window_destroy(g->win);
	mdm_lat_recorder_destroy(g->lat_main);
	mdm_lat_recorder_destroy(g->lat_ack);
	fix_reader_fini(&g->rd);
	mdm_free(g);
}

void fix_gateway_stop(struct fix_gateway *g)
{
	uint64_t one = 1;

	__atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
	if (write(g->wake, &one, sizeof(one)) < 0)
		return; /* the loop also polls the flag every 20 ms */
}

const struct fix_gateway_counters *fix_gateway_counters(const struct fix_gateway *g)
{
	return &g->c;
}

const struct fix_session_counters *fix_gateway_session_counters(const struct fix_gateway *g)
{
	return fix_session_counters(g->s);
}

uint16_t fix_gateway_listen_port(const struct fix_gateway *g)
{
	return g->lport;
}

void fix_gateway_latency_take(struct fix_gateway *g, struct mdm_hdr *const *into)
{
	mdm_lat_recorder_take(g->lat_main, into);
	mdm_lat_recorder_take(g->lat_ack, into);
}

/* ---- the loop ---- */

static void drop_line(struct fix_gateway *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	fix_reader_reset(&g->rd);
	fix_session_disconnected(g->s);
	mdm_counter_set(&g->c.connected, 0);
}

static void line_up(struct fix_gateway *g, int fd)
{
	g->fd = fd;
	fix_reader_reset(&g->rd);
	mdm_counter_add(&g->c.connects, 1);
	if (fix_session_connected(g->s, mdm_real_ns()) == FIX_DISCONNECT)
		drop_line(g);
}

/* Frame and hand over what is buffered; stops early while the window is
 * full (the rest stays buffered, and the socket is not read meanwhile). */
static int consume(struct fix_gateway *g)
{
	int rc = FIX_CONTINUE;

	g->rx_ns = mdm_real_ns();
	while (rc == FIX_CONTINUE && !fix_window_full(g->win)) {
		const char *msg;
		int n = fix_reader_next(&g->rd, &msg);

		if (n == 0)
			break;
		if (n < 0)
			fix_session_frame_error(g->s, n);
		else
			rc = fix_session_on_msg(g->s, msg, (size_t)n, g->rx_ns);
	}
	fix_reader_compact(&g->rd);
	return rc;
}

static void read_line(struct fix_gateway *g)
{
	size_t room;
	char *at = fix_reader_space(&g->rd, &room);
	ssize_t n = read(g->fd, at, room);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		mdm_log_info("session %s: connection closed by the peer%s%s", g->session_id, n ? ": " : "",
			     n ? strerror(errno) : "");
		drop_line(g);
		return;
	}
	if (n < 0)
		return;
	fix_reader_fill(&g->rd, (size_t)n);
	if (consume(g) == FIX_DISCONNECT)
		drop_line(g);
}

int fix_gateway_run(struct fix_gateway *g)
{
	const struct fix_cfg *cfg = g->cfg;
	uint64_t next_connect = 0, next_sync = 0, stop_at = 0;
	bool initiator = g->lfd < 0, logging_out = false;
	int exit_code = 0;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = g->wake, .events = POLLIN }, { .fd = -1 } };
		uint64_t now = mdm_mono_ns();
		bool stopping = __atomic_load_n(&g->stop, __ATOMIC_ACQUIRE);

		if (stopping && !stop_at) {
			stop_at = now;
			if (g->fd >= 0 && fix_session_state(g->s) == FIX_S_ACTIVE) {
				logging_out = true;
				if (fix_session_logout(g->s, "shutting down", mdm_real_ns()) == FIX_DISCONNECT)
					drop_line(g);
			} else if (g->fd >= 0) {
				drop_line(g);
			}
		}
		if (stopping && (g->fd < 0 || now - stop_at > cfg->logout_timeout_ns + MDM_NS_PER_S))
			break;
		if (!stopping && g->fd < 0 && initiator && now >= next_connect) {
			int fd;

			if (fix_conn_connect(cfg->connect, 2000, &fd) == 0) {
				mdm_log_info("session %s: connected to %s", g->session_id, cfg->connect);
				line_up(g, fd);
			} else {
				mdm_counter_add(&g->c.connect_errors, 1);
				mdm_log_debug("%s", mdm_err_last());
			}
			next_connect = mdm_mono_ns() + cfg->reconnect_ns;
		}
		if (g->fd >= 0 && !fix_window_full(g->win) && g->rd.len < g->rd.cap) {
			pfd[1].fd = g->fd;
			pfd[1].events = POLLIN;
		} else if (g->fd < 0 && !initiator && !stopping) {
			pfd[1].fd = g->lfd;
			pfd[1].events = POLLIN;
		}
		poll(pfd, 2, fix_window_full(g->win) ? 1 : 20);
		if (pfd[0].revents & POLLIN) {
			uint64_t v;

			if (read(g->wake, &v, sizeof(v)) < 0)
				v = 0;
		}
		if (pfd[1].revents && pfd[1].fd == g->lfd) {
			int fd;

			if (fix_conn_accept(g->lfd, &fd) == 0) {
				mdm_log_info("session %s: counterparty connected", g->session_id);
				line_up(g, fd);
			}
		} else if (pfd[1].revents && g->fd >= 0) {
			read_line(g);
		} else if (g->fd >= 0 && fix_reader_pending(&g->rd) && !fix_window_full(g->win) && consume(g) == FIX_DISCONNECT) {
			drop_line(g); /* what waited for room in the window */
		}
		if (g->lfd >= 0 && g->fd >= 0) {
			int extra;

			/* one session, one connection: a second one is refused */
			while (fix_conn_accept(g->lfd, &extra) == 0) {
				mdm_counter_add(&g->c.refused_connections, 1);
				close(extra);
			}
		}
		if (g->fd >= 0 && fix_session_tick(g->s, mdm_real_ns()) == FIX_DISCONNECT)
			drop_line(g);
		if (mdm_mono_ns() >= next_sync) {
			sync_state(g);
			next_sync = mdm_mono_ns() + cfg->state_sync_ns;
		} else {
			settle(g);
		}
	}
	if (logging_out && g->fd >= 0)
		mdm_log_warn("session %s: no Logout answer; closing", g->session_id);
	if (g->fd >= 0)
		drop_line(g);
	if (mdm_bus_publish_drain(g->bus, cfg->publish_drain_timeout_ns / MDM_NS_PER_MS + 1) != 0) {
		mdm_log_error("drain: %s", mdm_err_last());
		exit_code = 1;
	}
	sync_state(g);
	if (fix_window_in_flight(g->win) || g->saved.next_in < g->high_in) {
		mdm_log_error("inbound %" PRIu64 "..%" PRIu64 " not in the stream (%" PRIu64 " unacked): the next start asks "
			      "for them again", g->saved.next_in, g->high_in - 1, fix_window_in_flight(g->win));
		exit_code = 1;
	}
	mdm_log_info("session %s: stopped; next out %" PRIu64 ", next in %" PRIu64 " (%s)", g->session_id,
		     g->saved.next_out, g->saved.next_in, g->state_path);
	return exit_code;
}
