/* Destination filtering for the feed tools. */
#include "feed_input.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int feed_dst_parse(const char *s, struct feed_dst *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);
	struct in_addr a;

	memset(out, 0, sizeof(*out));
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (hl && strcmp(host, "*") != 0) {
		if (inet_pton(AF_INET, host, &a) != 1)
			return -EINVAL;
		out->ip = ntohl(a.s_addr);
	}
	if (colon && colon[1] && strcmp(colon + 1, "*") != 0) {
		char *end;
		unsigned long p = strtoul(colon + 1, &end, 10);

		if (*end || p == 0 || p > 65535)
			return -EINVAL;
		out->port = (uint16_t)p;
	}
	out->set = true;
	return 0;
}

static bool dst_match(const struct feed_dst *d, const struct mdm_pcap_udp *u)
{
	return d->set && (!d->ip || d->ip == u->dst_ip) && (!d->port || d->port == u->dst_port);
}

int feed_dst_line(const struct feed_dst *a, const struct feed_dst *b, const struct mdm_pcap_udp *u)
{
	if (!a->set && !b->set)
		return 0;
	if (dst_match(a, u))
		return 0;
	if (dst_match(b, u))
		return 1;
	return -1;
}
