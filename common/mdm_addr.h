/* Socket addresses as operators write them in configs and flags. One parser,
 * so the collector's feed.dst, feed.rerequest and the load generator's
 * --dst agree on what they accept. */
#ifndef MDM_ADDR_H
#define MDM_ADDR_H

#include <netinet/in.h>

/* "A.B.C.D:PORT", port 1..65535, nothing before or after, into *out (family,
 * address and port in network order). 0, or -EINVAL with
 * "'TEXT' is not IPV4:PORT" in mdm_err_last(). */
int mdm_addr_parse_v4(const char *s, struct sockaddr_in *out);

#endif
