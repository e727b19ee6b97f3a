/* `mdmesh-loadgen send --soup`: a SoupBinTCP 3.00 server for the feed the
 * paced loop sends. One client at a time (a collector); it logs in with a
 * session (blank = current) and the sequence number it wants next (0 = the
 * most recent), gets every stored message from there as Sequenced Data and
 * then the live tail, a Server Heartbeat after 1 s without sending, End of
 * Session after the last message once the feed is over. A client silent for
 * 15 s is dropped. --soup-drop-after N closes the first connection after N
 * messages, so tests can check a reconnect at the next sequence number. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen_send.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_soup.h"

#define SOUP_OUT_MAX 65536 /* bytes written per pass at most */

static void *soup_main(void *arg);

int send_soup_start(struct send_soup *sv, const struct send_opts *o)
{
	int one = 1, rc;

	sv->o = o;
	sv->lfd = sv->cfd = -1;
	pthread_mutex_init(&sv->lock, NULL);
	if ((rc = sender_store_create(&sv->store)) != 0)
		return mdm_err_set(rc, "soup: out of memory");
	sv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sv->lfd < 0)
		return mdm_err_set(-errno, "soup: socket: %s", strerror(errno));
	setsockopt(sv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(sv->lfd, (const struct sockaddr *)&o->soup_addr, sizeof(o->soup_addr)) || listen(sv->lfd, 4)) {
		char a[INET_ADDRSTRLEN];

		rc = -errno;
		inet_ntop(AF_INET, &o->soup_addr.sin_addr, a, sizeof(a));
		return mdm_err_set(rc, "--soup %s:%u: %s", a, ntohs(o->soup_addr.sin_port), strerror(-rc));
	}
	rc = pthread_create(&sv->thread, NULL, soup_main, sv);
	if (rc)
		return mdm_err_set(-rc, "soup: thread: %s", strerror(rc));
	sv->running = true;
	return 0;
}

int send_soup_add(struct send_soup *sv, const uint8_t *p, uint32_t len)
{
	int rc;

	pthread_mutex_lock(&sv->lock);
	rc = sender_store_add(sv->store, p, len);
	pthread_mutex_unlock(&sv->lock);
	return rc < 0 ? rc : 0;
}

static void drop_client(struct send_soup *sv)
{
	if (sv->cfd >= 0)
		close(sv->cfd);
	sv->cfd = -1;
	sv->logged_in = false;
	sv->in_len = 0;
}

/* Write all of p (the socket is blocking with a send timeout); false when
 * the client is gone. */
static bool put(struct send_soup *sv, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t k = send(sv->cfd, b, n, MSG_NOSIGNAL);

		if (k < 0) {
			if ((errno == EINTR || errno == EAGAIN) && !atomic_load(&sv->stop))
				continue;
			drop_client(sv);
			return false;
		}
		b += k;
		n -= (size_t)k;
	}
	sv->last_tx_ns = mdm_mono_ns();
	return true;
}

static void on_login(struct send_soup *sv, const struct mdm_soup_pkt *pkt)
{
	const struct send_opts *o = sv->o;
	struct mdm_soup_login l;
	uint8_t out[64];
	uint64_t next;

	if (sv->logged_in || mdm_soup_login_request_parse(pkt, &l) != MDM_SOUP_OK) {
		sv->errors[sv->logged_in ? MDM_SOUP_UNEXPECTED : MDM_SOUP_BAD_FIELD]++;
		drop_client(sv);
		return;
	}
	if ((o->soup_user && strcmp(l.user, o->soup_user) != 0) ||
	    (o->soup_password && strcmp(l.password, o->soup_password) != 0)) {
		sv->rejected++;
		put(sv, out, mdm_soup_put_login_rejected(out, 'A'));
		drop_client(sv);
		return;
	}
	if (l.session[0] && strcmp(l.session, o->synth.session) != 0) {
		sv->rejected++;
		put(sv, out, mdm_soup_put_login_rejected(out, 'S'));
		drop_client(sv);
		return;
	}
	pthread_mutex_lock(&sv->lock);
	next = sender_store_next(sv->store);
	pthread_mutex_unlock(&sv->lock);
	if (next == 0)
		next = 1; /* nothing sent yet: the session starts at 1 */
	if (l.seq != 0)
		next = l.seq;
	sv->next_seq = next;
	if (put(sv, out, mdm_soup_put_login_accepted(out, o->synth.session, next))) {
		sv->logged_in = true;
		sv->logins++;
	}
}

/* Read what the client sent and act on it. */
static void read_client(struct send_soup *sv, uint64_t now)
{
	ssize_t k = recv(sv->cfd, sv->in + sv->in_len, sizeof(sv->in) - sv->in_len, MSG_DONTWAIT);
	size_t off = 0;

	if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
		drop_client(sv);
		return;
	}
	if (k < 0)
		return;
	sv->in_len += (size_t)k;
	sv->last_rx_ns = now;
	while (sv->cfd >= 0) {
		struct mdm_soup_pkt pkt;
		int n = mdm_soup_frame(sv->in + off, sv->in_len - off, MDM_SOUP_FROM_CLIENT, sizeof(sv->in) - 2, &pkt);

		if (n < 0) {
			sv->errors[-n]++;
			drop_client(sv);
			return;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (pkt.reason != MDM_SOUP_OK) {
			sv->errors[pkt.reason]++;
			continue;
		}
		switch (pkt.type) {
		case 'L': on_login(sv, &pkt); break;
		case 'R': sv->heartbeats_rx++; break;
		case 'O':
			sv->logouts++;
			drop_client(sv);
			break;
		default: break; /* debug, unsequenced data: nothing to do */
		}
	}
	if (sv->cfd >= 0) {
		memmove(sv->in, sv->in + off, sv->in_len - off);
		sv->in_len -= off;
	}
}

/* Send stored messages from next_seq on, as Sequenced Data. */
static void send_data(struct send_soup *sv)
{
	uint8_t mold[SENDER_ANSWER_MAX], hdr[MDM_SOUP_HDR];
	size_t sent = 0;

	while (sv->cfd >= 0 && sent < SOUP_OUT_MAX) {
		uint64_t seq = sv->next_seq, last;
		uint32_t len, off = 20, count;

		pthread_mutex_lock(&sv->lock);
		last = sender_store_next(sv->store);
		len = last > seq ? sender_store_answer(sv->store, &seq, last - 1, NULL, 0, mold, sizeof(mold)) : 0;
		pthread_mutex_unlock(&sv->lock);
		if (len == 0)
			return;
		count = (uint32_t)mold[18] << 8 | mold[19];
		for (uint32_t i = 0; i < count && sv->cfd >= 0; i++) {
			uint32_t n = (uint32_t)mold[off] << 8 | mold[off + 1];

			if (sv->o->soup_drop_after && !sv->dropped && sv->messages >= sv->o->soup_drop_after) {
				sv->dropped = true;
				sv->forced_drops++;
				drop_client(sv);
				return;
			}
			mdm_soup_put_header(hdr, 'S', n);
			if (!put(sv, hdr, sizeof(hdr)) || !put(sv, mold + off + 2, n))
				return;
			off += 2 + n;
			sent += 3 + n;
			sv->messages++;
			sv->next_seq++;
		}
	}
}

static void *soup_main(void *arg)
{
	struct send_soup *sv = arg;
	static const uint8_t hb[3] = { 0, 1, 'H' }, eos[3] = { 0, 1, 'Z' };

	while (!atomic_load(&sv->stop)) {
		struct pollfd pfd = { .fd = sv->cfd >= 0 ? sv->cfd : sv->lfd, .events = POLLIN };
		uint64_t now;

		poll(&pfd, 1, sv->logged_in ? 1 : 20);
		now = mdm_mono_ns();
		if (sv->cfd < 0) {
			int fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC);
			struct timeval tv = { .tv_sec = 1 };
			int one = 1;

			if (fd < 0)
				continue;
			sv->cfd = fd;
			sv->connections++;
			sv->last_rx_ns = sv->last_tx_ns = now;
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			continue;
		}
		if (pfd.revents)
			read_client(sv, now);
		if (sv->cfd < 0)
			continue;
		if (now - sv->last_rx_ns >= MDM_SOUP_TIMEOUT_NS_DEFAULT) {
			sv->timeouts++;
			drop_client(sv);
			continue;
		}
		if (!sv->logged_in)
			continue;
		send_data(sv);
		if (sv->cfd >= 0 && atomic_load(&sv->feed_done) && !atomic_load(&sv->ended)) {
			uint64_t last;

			pthread_mutex_lock(&sv->lock);
			last = sender_store_next(sv->store);
			pthread_mutex_unlock(&sv->lock);
			if (sv->next_seq >= last && put(sv, eos, sizeof(eos)))
				atomic_store(&sv->ended, true);
		}
		/* a fresh clock: sending above moved last_tx_ns past `now` */
		if (sv->cfd >= 0 && mdm_mono_ns() - sv->last_tx_ns >= MDM_SOUP_HEARTBEAT_NS_DEFAULT &&
		    put(sv, hb, sizeof(hb)))
			sv->heartbeats_tx++;
	}
	return NULL;
}

void send_soup_finish(struct send_soup *sv, atomic_bool *stop)
{
	uint64_t end = mdm_mono_ns() + sv->o->soup_linger_ns;

	atomic_store(&sv->feed_done, true);
	/* the client has it all once End of Session went out; a logout or a
	 * close by the client ends the wait too */
	while (sv->running && !atomic_load(stop) && !atomic_load(&sv->ended) && mdm_mono_ns() < end)
		mdm_sleep_ns(10 * MDM_NS_PER_MS);
	if (atomic_load(&sv->ended)) {
		/* give the client the moment to log out and close first */
		uint64_t grace = mdm_mono_ns() + MDM_NS_PER_S;

		while (sv->running && sv->logouts == 0 && mdm_mono_ns() < grace && !atomic_load(stop))
			mdm_sleep_ns(10 * MDM_NS_PER_MS);
	}
	if (sv->running) {
		atomic_store(&sv->stop, true);
		pthread_join(sv->thread, NULL);
		sv->running = false;
	}
}

void send_soup_free(struct send_soup *sv)
{
	if (sv->running) {
		atomic_store(&sv->stop, true);
		pthread_join(sv->thread, NULL);
		sv->running = false;
	}
	if (sv->cfd >= 0)
		close(sv->cfd);
	if (sv->lfd >= 0)
		close(sv->lfd);
	sv->cfd = sv->lfd = -1;
	sender_store_destroy(sv->store);
	sv->store = NULL;
	pthread_mutex_destroy(&sv->lock);
}

void send_soup_print_summary(const struct send_soup *sv)
{
	fprintf(stderr,
		"%s: soup: %" PRIu64 " connections, %" PRIu64 " logins (%" PRIu64 " rejected), %" PRIu64
		" messages, end of session %s, heartbeats sent %" PRIu64 " received %" PRIu64 ", logouts %" PRIu64
		", timeouts %" PRIu64 ", forced drops %" PRIu64 ", framing errors %" PRIu64 "\n",
		SEND_PROG, sv->connections, sv->logins, sv->rejected, sv->messages,
		atomic_load(&sv->ended) ? "sent" : "not sent", sv->heartbeats_tx, sv->heartbeats_rx, sv->logouts,
		sv->timeouts, sv->forced_drops,
		sv->errors[1] + sv->errors[2] + sv->errors[3] + sv->errors[4] + sv->errors[5] + sv->errors[6]);
}
