/* Socket addresses as operators write them in configs and flags. One parser,
 * so the collector's feed.dst, feed.rerequest and the load generator's
 * --dst agree on what they accept. */
#ifndef MDM_ADDR_H
#define MDM_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* "A.B.C.D:PORT", port 1..65535, nothing before or after, into *out (family,
 * address and port in network order). 0, or -EINVAL with
 * "'TEXT' is not IPV4:PORT" in mdm_err_last(). */
int mdm_addr_parse_v4(const char *s, struct sockaddr_in *out);

/* "HOST:PORT" as a TCP client names its server: HOST a name or an IPv4
 * address, port 1..65535. Syntax only, no DNS: 0, or -EINVAL with
 * "'TEXT' is not HOST:PORT" in mdm_err_last(). host gets HOST (cap bytes). */
int mdm_addr_split_host(const char *s, char *host, size_t cap, uint16_t *port);

/* mdm_addr_split_host, then HOST resolved to its first IPv4 address
 * (getaddrinfo: blocks on DNS, so at start-up only). 0, -EINVAL, or
 * -EHOSTUNREACH with the resolver's reason. */
int mdm_addr_resolve_v4(const char *s, struct sockaddr_in *out);

#endif
