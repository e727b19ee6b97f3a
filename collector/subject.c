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

/* Decimal digits of v at out + *at. */
static int put_u64(char *out, size_t cap, size_t *at, uint64_t v)
{
	char digits[20];
	size_t nd = 0;

	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (*at + nd >= cap)
		return -ENOSPC;
	while (nd)
		out[(*at)++] = digits[--nd];
	out[*at] = '\0';
	return 0;
}

int subject_msg_id(char *out, size_t cap, const char *feed, const char *session, uint64_t seq)
{
	size_t at = 0;

	if (put(out, cap, &at, feed, strlen(feed)) || put(out, cap, &at, ".", 1) ||
	    put(out, cap, &at, session, strlen(session)) || put(out, cap, &at, ".", 1) || put_u64(out, cap, &at, seq))
		return -ENOSPC;
	return (int)at;
}

int subject_view(char *out, size_t cap, const char *kind, const char *feed, const char *symbol)
{
	size_t at = 0;
	int n;

	if (put(out, cap, &at, kind, strlen(kind)) || put(out, cap, &at, ".", 1) ||
	    put(out, cap, &at, feed, strlen(feed)) || put(out, cap, &at, ".", 1))
		return -ENOSPC;
	n = subject_token(out + at, cap - at, symbol);
	return n < 0 ? n : (int)at + n;
}

int subject_view_msg_id(char *out, size_t cap, const char *feed, const char *session, uint64_t seq, const char *kind,
			int locate)
{
	int n = subject_msg_id(out, cap, feed, session, seq);
	size_t at = n < 0 ? 0 : (size_t)n;

	if (n < 0 || put(out, cap, &at, ".", 1) || put(out, cap, &at, kind, strlen(kind)))
		return -ENOSPC;
	out[at] = '\0';
	if (locate >= 0 && (put(out, cap, &at, ".", 1) || put_u64(out, cap, &at, (uint64_t)locate)))
		return -ENOSPC;
	return (int)at;
}
