/* TCP for a FIX session: listen/accept (acceptor), connect (initiator), and
 * writing a whole message with a deadline. Sockets are non-blocking with
 * TCP_NODELAY (FIX messages are small and latency counts). Each call returns
 * 0 or a negative errno with the detail in mdm_err_last(). */
#ifndef FIX_CONN_H
#define FIX_CONN_H

#include <stddef.h>
#include <stdint.h>

/* Listen on "ADDR:PORT" (numeric IPv4; port 0 = ephemeral). *port gets the
 * bound port. */
int fix_conn_listen(const char *addr, int *fd, uint16_t *port);

/* Accept one pending connection: 0 and *fd, or -EAGAIN when none waits. */
int fix_conn_accept(int lfd, int *fd);

/* Connect to "HOST:PORT" (a name or an address), waiting at most timeout_ms. */
int fix_conn_connect(const char *hostport, uint64_t timeout_ms, int *fd);

/* Write all of p[0..len), waiting at most timeout_ms for the socket to take
 * it. 0, -ETIMEDOUT, -EPIPE, -ECONNRESET, ... */
int fix_conn_write_all(int fd, const char *p, size_t len, uint64_t timeout_ms);

#endif
