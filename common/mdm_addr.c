#include "mdm_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
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

int mdm_addr_split_host(const char *s, char *host, size_t cap, uint16_t *port)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	unsigned long p;
	char *end;

	if (!colon || colon == s || (size_t)(colon - s) >= cap || colon[1] < '0' || colon[1] > '9' ||
	    strcspn(s, " \t[]") < (size_t)(colon - s))
		goto bad;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || errno || p == 0 || p > 65535)
		goto bad;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*port = (uint16_t)p;
	return 0;
bad:
	return mdm_err_set(-EINVAL, "'%s' is not HOST:PORT", s ? s : "");
}

int mdm_addr_resolve_v4(const char *s, struct sockaddr_in *out)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
	char host[256];
	uint16_t port;
	int rc;

	if (mdm_addr_split_host(s, host, sizeof(host), &port) != 0)
		return -EINVAL;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res)
		return mdm_err_set(-EHOSTUNREACH, "%s: %s", s, rc ? gai_strerror(rc) : "no IPv4 address");
	memcpy(out, res->ai_addr, sizeof(*out));
	out->sin_port = htons(port);
	freeaddrinfo(res);
	return 0;
}
