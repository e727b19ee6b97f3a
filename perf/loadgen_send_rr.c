/* `mdmesh-loadgen send --rerequest`: the MoldUDP64 re-request server. Its
 * own thread answers 20-byte requests from the store of what the paced loop
 * sent (lost packets included), unicast to the requester, skipping the
 * --rerequest-refuse ranges. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "loadgen_send.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "mdm_mem.h"

static size_t trimmed(const uint8_t *p)
{
	size_t n = 10;

	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
		n--;
	return n;
}

static void rr_note_time(struct send_rr *sv, uint64_t now)
{
	if (sv->n_req_ns == sv->cap_req_ns) {
		uint64_t cap = sv->cap_req_ns ? sv->cap_req_ns * 2 : 1024;
		uint64_t *q = mdm_realloc(sv->req_ns, cap * sizeof(*q));

		if (!q)
			return; /* the rate figure then covers fewer requests */
		sv->req_ns = q;
		sv->cap_req_ns = cap;
	}
	sv->req_ns[sv->n_req_ns++] = now;
	if (!sv->first_ns)
		sv->first_ns = now;
	sv->last_ns = now;
}

/* Answer one 20-byte request (session, first sequence, count) from `src`
 * with as many downstream packets as the stored range takes. */
static void rr_answer(struct send_rr *sv, const uint8_t *req, const struct sockaddr_in *src)
{
	const struct send_opts *o = sv->o;
	uint8_t pkt[SENDER_ANSWER_MAX];
	uint64_t seq = 0, last;
	uint32_t count = (uint32_t)req[18] << 8 | req[19], len;
	const uint8_t *have;
	bool any = false;

	for (int b = 0; b < 8; b++)
		seq = seq << 8 | req[10 + b];
	if (seq == 0 || count == 0 || count == 0xffff) {
		sv->bad++;
		return;
	}
	sv->requests++;
	rr_note_time(sv, mdm_mono_ns());
	last = seq + count - 1;
	pthread_mutex_lock(&sv->lock);
	have = sender_store_session(sv->store);
	/* sessions compare by name: padding may differ between implementations */
	if (!have || trimmed(have) != trimmed(req) || memcmp(have, req, trimmed(req)) != 0) {
		pthread_mutex_unlock(&sv->lock);
		sv->unknown_session++;
		return;
	}
	for (uint64_t s = seq; s <= last; s++)
		for (unsigned i = 0; i < o->n_refuse; i++)
			if (s >= o->refuse[i].first && s <= o->refuse[i].last) {
				sv->refused_msgs++;
				break;
			}
	while (seq <= last) {
		len = sender_store_answer(sv->store, &seq, last, o->refuse, o->n_refuse, pkt, sizeof(pkt));
		if (!len)
			continue;
		/* count from the header: the messages this packet carries */
		sv->messages += (uint32_t)pkt[18] << 8 | pkt[19];
		sv->packets++;
		any = true;
		/* answers go back to the requesting socket, unicast */
		(void)sendto(sv->fd, pkt, len, 0, (const struct sockaddr *)src, sizeof(*src));
	}
	pthread_mutex_unlock(&sv->lock);
	if (any)
		sv->answered++;
	else
		sv->unanswered++;
}

static void *rr_server_main(void *arg)
{
	struct send_rr *sv = arg;
	uint8_t buf[2048];

	while (!atomic_load(&sv->stop)) {
		struct sockaddr_in src;
		socklen_t slen = sizeof(src);
		ssize_t n = recvfrom(sv->fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &slen);

		if (n < 0)
			continue; /* the 100 ms receive timeout, or a signal: check stop */
		if (n != MOLD_HDR_LEN || slen != sizeof(src)) {
			sv->bad++;
			continue;
		}
		rr_answer(sv, buf, &src);
	}
	return NULL;
}

int send_rr_start(struct send_rr *sv, const struct send_opts *o)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	char a[INET_ADDRSTRLEN];
	int rc;

	sv->o = o;
	sv->fd = -1;
	pthread_mutex_init(&sv->lock, NULL);
	rc = sender_store_create(&sv->store);
	if (rc != 0)
		return mdm_err_set(rc, "re-request store: out of memory");
	sv->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	inet_ntop(AF_INET, &o->rr_addr.sin_addr, a, sizeof(a));
	if (sv->fd < 0 || setsockopt(sv->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(sv->fd, (const struct sockaddr *)&o->rr_addr, sizeof(o->rr_addr)))
		return mdm_err_set(-errno, "--rerequest %s:%u: %s", a, ntohs(o->rr_addr.sin_port), strerror(errno));
	rc = pthread_create(&sv->thread, NULL, rr_server_main, sv);
	if (rc != 0)
		return mdm_err_set(-rc, "re-request server thread: %s", strerror(rc));
	sv->running = true;
	return 0;
}

/* Stop answering (the counters stay readable). */
void send_rr_stop(struct send_rr *sv)
{
	if (sv->running) {
		atomic_store(&sv->stop, true);
		pthread_join(sv->thread, NULL);
		sv->running = false;
	}
	if (sv->fd >= 0)
		close(sv->fd);
	sv->fd = -1;
}

void send_rr_free(struct send_rr *sv)
{
	send_rr_stop(sv);
	sender_store_destroy(sv->store);
	sv->store = NULL;
	mdm_free(sv->req_ns);
	sv->req_ns = NULL;
	pthread_mutex_destroy(&sv->lock);
}

/* Most requests in any 1-second window (times are in arrival order). */
static uint64_t rr_max_per_s(const struct send_rr *sv)
{
	uint64_t best = 0, j = 0;

	for (uint64_t i = 0; i < sv->n_req_ns; i++) {
		while (sv->req_ns[i] - sv->req_ns[j] >= MDM_NS_PER_S)
			j++;
		if (i - j + 1 > best)
			best = i - j + 1;
	}
	return best;
}

bool send_rr_heartbeat(struct send_rr *sv, uint8_t hb[MOLD_HDR_LEN])
{
	const uint8_t *session;
	uint64_t next;

	pthread_mutex_lock(&sv->lock);
	session = sender_store_session(sv->store);
	next = sender_store_next(sv->store);
	if (session)
		memcpy(hb, session, 10);
	pthread_mutex_unlock(&sv->lock);
	if (!session)
		return false;
	for (int b = 0; b < 8; b++)
		hb[10 + b] = (uint8_t)(next >> (56 - 8 * b));
	hb[18] = hb[19] = 0;
	return true;
}

void send_rr_print_summary(const struct send_rr *sv, uint64_t heartbeats)
{
	fprintf(stderr,
		"%s: rerequest: %" PRIu64 " requests (max %" PRIu64 " in 1 s, over %.3f s), %" PRIu64 " answered with %" PRIu64
		" packets / %" PRIu64 " messages, %" PRIu64 " unanswered, %" PRIu64 " refused messages, %" PRIu64
		" unknown session, %" PRIu64 " malformed; %" PRIu64 " heartbeats\n",
		SEND_PROG, sv->requests, rr_max_per_s(sv), sv->last_ns > sv->first_ns ? (double)(sv->last_ns - sv->first_ns) / 1e9 : 0.0,
		sv->answered, sv->packets, sv->messages, sv->unanswered, sv->refused_msgs, sv->unknown_session, sv->bad,
		heartbeats);
}
