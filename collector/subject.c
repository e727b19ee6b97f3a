/* Subject and message-id formatting without snprintf: this runs once per
 * published event. */
#include "subject.h"

#include <errno.h>
#include <string.h>

#include "mdm_subject.h"

static int put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
	if (*at + n >= cap)
		return -ENOSPC;
	memcpy(out + *at, s, n);
	*at += n;
	return 0;
}

int subject_token(char *out, size_t cap, const char *symbol)
{
	size_t n = mdm_subject_token(out, cap, symbol, strlen(symbol));

	return n < cap ? (int)n : -ENOSPC;
}

int subject_event(char *out, size_t cap, const char *prefix, const char *feed, char type, const char *symbol)
{
	size_t at = 0;
	char t[2] = { type, '.' };
	int n;

	if (put(out, cap, &at, prefix, strlen(prefix)) || put(out, cap, &at, ".", 1) ||
	    put(out, cap, &at, feed, strlen(feed)) || put(out, cap, &at, ".", 1) || put(out, cap, &at, t, 2))
		return -ENOSPC;
	n = subject_token(out + at, cap - at, symbol);
	if (n < 0)
		return n;
	return (int)at + n;
}

int subject_msg_id(char *out, size_t cap, const char *feed, const char *session, uint64_t seq)
{
	char digits[20];
	size_t at = 0, nd = 0;

	do {
		digits[nd++] = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq);
	if (put(out, cap, &at, feed, strlen(feed)) || put(out, cap, &at, ".", 1) ||
	    put(out, cap, &at, session, strlen(session)) || put(out, cap, &at, ".", 1) || at + nd >= cap)
		return -ENOSPC;
	while (nd)
		out[at++] = digits[--nd];
	out[at] = '\0';
	return (int)at;
}
