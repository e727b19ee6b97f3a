#include "mdm_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_err.h"

int mdm_addr_parse_v4(const char *s, struct sockaddr_in *out)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	char host[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned long port;
	char *end;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host) || colon[1] < '0' || colon[1] > '9')
		goto bad;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || errno || port == 0 || port > 65535 || inet_pton(AF_INET, host, &a) != 1)
		goto bad;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_addr = a;
	out->sin_port = htons((uint16_t)port);
	return 0;
bad:
	return mdm_err_set(-EINVAL, "'%s' is not IPV4:PORT", s ? s : "");
}
