/* FIX transport sockets (fix_conn.h). */
#include "fix_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdm_addr.h"
#include "mdm_clock.h"
#include "mdm_err.h"

static void tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int fix_conn_listen(const char *addr, int *fd, uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1, s, rc;

	if (mdm_addr_parse_v4(addr, &sa) != 0) {
		/* port 0 is fine here (ephemeral); mdm_addr refuses it */
		unsigned a, b, c, d, p;
		char end;

		if (sscanf(addr, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &p, &end) != 5 || p != 0 || a > 255 || b > 255 ||
		    c > 255 || d > 255)
			return mdm_err_set(-EINVAL, "listen '%s': expected IPV4:PORT", addr);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(a << 24 | b << 16 | c << 8 | d);
	}
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return mdm_err_set(-errno, "socket: %s", strerror(errno));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s, 4) != 0) {
		rc = -errno;
		close(s);
		return mdm_err_set(rc, "listen %s: %s", addr, strerror(-rc));
	}
	getsockname(s, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	*fd = s;
	return 0;
}

int fix_conn_accept(int lfd, int *fd)
{
	int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (s < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN
		       : mdm_err_set(-errno, "accept: %s", strerror(errno));
	tune(s);
	*fd = s;
	return 0;
}

int fix_conn_connect(const char *hostport, uint64_t timeout_ms, int *fd)
{
	struct sockaddr_in sa;
	struct pollfd pfd;
	int s, rc, err = 0;
	socklen_t el = sizeof(err);

	rc = mdm_addr_resolve_v4(hostport, &sa);
	if (rc != 0)
		return mdm_err_set(rc, "connect %s", mdm_err_last());
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return mdm_err_set(-errno, "socket: %s", strerror(errno));
	rc = connect(s, (const struct sockaddr *)&sa, sizeof(sa));
	if (rc != 0 && errno != EINPROGRESS) {
		rc = -errno;
		close(s);
		return mdm_err_set(rc, "connect %s: %s", hostport, strerror(-rc));
	}
	pfd = (struct pollfd){ .fd = s, .events = POLLOUT };
	if (rc != 0 && (poll(&pfd, 1, (int)timeout_ms) != 1 || getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
			err != 0)) {
		close(s);
		return mdm_err_set(err ? -err : -ETIMEDOUT, "connect %s: %s", hostport, strerror(err ? err : ETIMEDOUT));
	}
	tune(s);
	*fd = s;
	return 0;
}

int fix_conn_write_all(int fd, const char *p, size_t len, uint64_t timeout_ms)
{
	uint64_t deadline = mdm_mono_ns() + timeout_ms * MDM_NS_PER_MS;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return mdm_err_set(-errno, "send: %s", strerror(errno));
		{
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			uint64_t now = mdm_mono_ns();

			if (now >= deadline)
				return mdm_err_set(-ETIMEDOUT, "send: the peer takes no data");
			poll(&pfd, 1, (int)((deadline - now) / MDM_NS_PER_MS) + 1);
		}
	}
	return 0;
}
