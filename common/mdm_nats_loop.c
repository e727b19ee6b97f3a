/* nats.c on an epoll loop of ours, with writes deferred to the end of a
 * burst (see mdm_nats_loop.h). nats.c calls the four callbacks below with
 * the connection's lock held; they only touch this struct (under l->mu: the
 * lock order is l->wmu, nats.c's connection lock, then l->mu) and epoll.
 *
 * natsConnection_ProcessWriteEvent must never run with nothing to write:
 * nats.c sends its buffer, and a send of 0 bytes returns 0, which it takes
 * for a closed connection and reconnects (a storm of them under load). So
 * every call is made under l->wmu and only while `pending` says nats.c has
 * bytes waiting (it set write interest and has not removed it); only such a
 * call or a disconnect clears it. */
#include "mdm_nats_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mdm_err.h"
#include "mdm_log.h"
#include "mdm_mem.h"

const char *const mdm_nats_flush_names[] = { "timer", "asap", "burst", NULL };

struct mdm_nats_loop {
	int epfd;
	int stopfd;                 /* eventfd: wakes the loop thread to stop */
	pthread_t thread;
	bool started;

	pthread_mutex_t wmu;        /* serialises write_pending(): checked and written at once */
	pthread_mutex_t mu;         /* guards the fields below but `pending` and `nc` */
	int fd;                     /* the connection's socket while attached, else -1 */
	bool attached;
	bool registered;            /* fd is in the epoll set */
	bool want_read;             /* nats.c asked for read events */
	bool arm_out;               /* EPOLLOUT: the loop thread writes */
	bool pending;               /* nats.c asked for a write not made yet (atomic reads) */
	natsConnection *nc;         /* set at the first attach, then constant (atomic reads) */
};

/* The loop this thread defers its writes on (mdm_nats_loop_defer). */
static __thread struct mdm_nats_loop *tl_defer;

/* Caller holds l->mu. An fd with no interest is taken out of the set: epoll
 * reports EPOLLHUP/EPOLLERR even with no events asked for, and a socket being
 * replaced during a reconnect would spin the loop. */
static int apply_locked(struct mdm_nats_loop *l)
{
	struct epoll_event ev = { .events = (l->want_read ? EPOLLIN : 0) | (l->arm_out ? EPOLLOUT : 0),
				  .data.ptr = l };
	int op;

	if (!l->attached || l->fd < 0)
		return 0;
	if (ev.events == 0) {
		if (!l->registered)
			return 0;
		l->registered = false;
		return epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->fd, NULL) == 0 || errno == EBADF || errno == ENOENT ? 0 : -errno;
	}
	op = l->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, l->fd, &ev) != 0)
		return -errno;
	l->registered = true;
	return 0;
}

static natsStatus cb_attach(void **user, void *loop, natsConnection *nc, natsSock fd)
{
	struct mdm_nats_loop *l = loop;
	int rc;

	pthread_mutex_lock(&l->mu);
	__atomic_store_n(&l->nc, nc, __ATOMIC_RELEASE);
	l->fd = (int)fd;
	l->attached = true;
	l->registered = false; /* a new socket (the old one was closed, which took it out of the set) */
	l->want_read = true;   /* as nats.c's adapters: poll for reads from the start */
	l->arm_out = false;
	__atomic_store_n(&l->pending, false, __ATOMIC_RELAXED);
	rc = apply_locked(l);
	pthread_mutex_unlock(&l->mu);
	*user = l;
	return rc == 0 ? NATS_OK : NATS_ERR;
}

static natsStatus cb_read(void *user, bool add)
{
	struct mdm_nats_loop *l = user;
	int rc;

	pthread_mutex_lock(&l->mu);
	l->want_read = add;
	rc = apply_locked(l);
	pthread_mutex_unlock(&l->mu);
	return rc == 0 ? NATS_OK : NATS_ERR;
}

static natsStatus cb_write(void *user, bool add)
{
	struct mdm_nats_loop *l = user;
	bool arm = add && tl_defer != l; /* a burst writer flushes itself */
	int rc = 0;

	pthread_mutex_lock(&l->mu);
	__atomic_store_n(&l->pending, add, __ATOMIC_RELEASE);
	if (arm != l->arm_out) {
		l->arm_out = arm;
		rc = apply_locked(l);
	}
	pthread_mutex_unlock(&l->mu);
	return rc == 0 ? NATS_OK : NATS_ERR;
}

static natsStatus cb_detach(void *user)
{
	struct mdm_nats_loop *l = user;

	pthread_mutex_lock(&l->mu);
	l->want_read = false;
	l->arm_out = false;
	(void)apply_locked(l);
	l->attached = false;
	l->fd = -1;
	__atomic_store_n(&l->pending, false, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l->mu);
	return NATS_OK;
}

/* Write what nats.c has buffered, if it has anything (see the top). */
static void write_pending(struct mdm_nats_loop *l)
{
	pthread_mutex_lock(&l->wmu);
	if (__atomic_load_n(&l->pending, __ATOMIC_ACQUIRE))
		natsConnection_ProcessWriteEvent(__atomic_load_n(&l->nc, __ATOMIC_ACQUIRE));
	pthread_mutex_unlock(&l->wmu);
}

static void *loop_main(void *arg)
{
	struct mdm_nats_loop *l = arg;
	struct epoll_event evs[4];

	for (;;) {
		int n = epoll_wait(l->epfd, evs, 4, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			mdm_log_error("nats loop: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			natsConnection *nc;

			if (evs[i].data.ptr == NULL)
				return NULL; /* the stop eventfd */
			nc = __atomic_load_n(&l->nc, __ATOMIC_ACQUIRE);
			/* nats.c checks the connection's state under its lock: an
			 * event for a socket being replaced is harmless */
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				natsConnection_ProcessReadEvent(nc);
			/* an EPOLLOUT fetched before a burst writer emptied
			 * the buffer is stale: write_pending skips it */
			if (evs[i].events & EPOLLOUT)
				write_pending(l);
		}
	}
}

int mdm_nats_loop_create(struct mdm_nats_loop **out)
{
	struct mdm_nats_loop *l = mdm_calloc(1, sizeof(*l));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int rc;

	*out = NULL;
	if (!l)
		return mdm_err_set(-ENOMEM, "nats loop: out of memory");
	l->fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->wmu, NULL);
	if (l->epfd < 0 || l->stopfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ev) != 0) {
		rc = mdm_err_set(-errno, "nats loop: epoll: %s", strerror(errno));
		mdm_nats_loop_destroy(l);
		return rc;
	}
	if ((rc = pthread_create(&l->thread, NULL, loop_main, l)) != 0) {
		rc = mdm_err_set(-rc, "nats loop: thread: %s", strerror(rc));
		mdm_nats_loop_destroy(l);
		return rc;
	}
	l->started = true;
	*out = l;
	return 0;
}

natsStatus mdm_nats_loop_options(struct mdm_nats_loop *l, natsOptions *o)
{
	natsStatus s = natsOptions_SetEventLoop(o, l, cb_attach, cb_read, cb_write, cb_detach);

	/* without it nats.c would hand every write to its flusher thread
	 * (the 1 ms timer), with it each publish asks for a write */
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(o, true);
	return s;
}

void mdm_nats_loop_defer(struct mdm_nats_loop *l, bool on)
{
	tl_defer = on ? l : NULL;
}

void mdm_nats_loop_flush(struct mdm_nats_loop *l)
{
	if (!l || !__atomic_load_n(&l->pending, __ATOMIC_ACQUIRE))
		return;
	write_pending(l);
	/* the socket took part of it: the loop thread writes the rest */
	pthread_mutex_lock(&l->mu);
	if (l->pending && !l->arm_out) {
		l->arm_out = true;
		(void)apply_locked(l);
	}
	pthread_mutex_unlock(&l->mu);
}

void mdm_nats_loop_destroy(struct mdm_nats_loop *l)
{
	if (!l)
		return;
	if (tl_defer == l)
		tl_defer = NULL; /* a later loop at the same address is not this one */
	if (l->started) {
		uint64_t one = 1;

		if (write(l->stopfd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			mdm_log_warn("nats loop: cannot wake the loop thread: %s", strerror(errno));
		pthread_join(l->thread, NULL);
	}
	if (l->stopfd >= 0)
		close(l->stopfd);
	if (l->epfd >= 0)
		close(l->epfd);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->wmu);
	mdm_free(l);
}
