/* Test helper: a FIX message from readable text. `body` uses '|' for SOH and
 * starts at 35=; BeginString, BodyLength and CheckSum are computed. */
#ifndef FIX_TESTMSG_H
#define FIX_TESTMSG_H

#include <stdio.h>
#include <string.h>

static inline size_t fix_testmsg(char *out, size_t cap, const char *begin, const char *body)
{
	char b[4096];
	size_t n = strlen(body), len;
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++)
		b[i] = body[i] == '|' ? '\001' : body[i];
	b[n] = '\0';
	len = (size_t)snprintf(out, cap, "8=%s\0019=%zu\001%s", begin, n, b);
	for (size_t i = 0; i < len; i++)
		sum += (unsigned char)out[i];
	len += (size_t)snprintf(out + len, cap - len, "10=%03u\001", sum & 0xff);
	return len;
}

#endif
