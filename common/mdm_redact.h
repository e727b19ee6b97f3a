/* mdm_redact: the one place credentials are cut out of text that may reach a
 * log line, an error message or a printed config (the bus's server URLs, the
 * processor's store URL, --print-config). Security code: every caller shares
 * these rules, so they cannot drift apart. */
#ifndef MDM_REDACT_H
#define MDM_REDACT_H

#include <stddef.h>

/* What becomes of a URL's userinfo ("scheme://userinfo@host"). */
enum mdm_redact_mode {
	MDM_REDACT_MASK = 0, /* "user:***@"; a NATS token (nats:// or tls://, no ':') as "***@";
			      * a user name alone in another scheme is kept */
	MDM_REDACT_DROP,     /* the userinfo and its '@' removed: "nats://host:4222" */
};

/* Copy `in` to out[0..cap) with the credentials of every URL in it cut:
 *   - the userinfo, per `mode`: the part of the authority (after "://", up to
 *     the first of "/?#, " so a list of URLs is handled URL by URL) before
 *     its last '@' (a password may hold an '@');
 *   - the value of every query parameter whose name ends in "password"
 *     (any case: password=, sslpassword=, PASSWORD=) becomes "***", up to
 *     the next '&' or the end.
 * An '@' in a path, and text without "://", stay as they are. `out` is
 * always terminated when cap > 0 (truncated to cap - 1 bytes); out may be
 * NULL with cap 0 to measure. Returns the length of the whole result, like
 * snprintf. Pure; thread-safe. */
size_t mdm_redact(const char *in, enum mdm_redact_mode mode, char *out, size_t cap);

#endif
