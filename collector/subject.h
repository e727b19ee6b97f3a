/* NATS names of market events (DESIGN.md contract):
 *   subject     md.<feed>.<type>.<symbol>   ("_" when the message has no symbol)
 *   Nats-Msg-Id <feed>.<session>.<seq>      (JetStream de-duplication key)
 * Symbols are made subject-safe by mdm_subject_token (mdm_subject.h): a NATS
 * token may not contain '.', '*', '>', or whitespace, and ITCH symbols can
 * ("BRK A"), so such bytes (and controls, DEL, bytes >= 0x80) become '_'.
 * Pure functions, no allocation, hot-path safe. */
#ifndef SUBJECT_H
#define SUBJECT_H

#include <stddef.h>
#include <stdint.h>

#define SUBJECT_MAX 96 /* "md." + feed(32) + "." + type(1) + "." + symbol(8) + NUL, with room */
#define MSGID_MAX 80   /* feed(32) + "." + session(10) + "." + u64(20) + NUL */

/* Write the event subject into out[SUBJECT_MAX]. `prefix` is the subject root
 * ("md"), `symbol` may be "" (-> "_"). Returns the length, or -ENOSPC. */
int subject_event(char *out, size_t cap, const char *prefix, const char *feed, char type, const char *symbol);

/* Write the Nats-Msg-Id into out. Returns the length, or -ENOSPC. */
int subject_msg_id(char *out, size_t cap, const char *feed, const char *session, uint64_t seq);

/* A market view's subject, <kind>.<feed>.<symbol> (kind "bbo" or "depth";
 * symbol "" -> "_"). Returns the length, or -ENOSPC. */
int subject_view(char *out, size_t cap, const char *kind, const char *feed, const char *symbol);

/* A market view's Nats-Msg-Id, <feed>.<session>.<seq>.<kind>, and
 * .<locate> when locate >= 0 (views_out.shared_seq: the seq alone would name
 * several views). Returns the length, or -ENOSPC. */
int subject_view_msg_id(char *out, size_t cap, const char *feed, const char *session, uint64_t seq, const char *kind,
			int locate);

/* Copy `symbol` as a subject token (mdm_subject_token: unsafe bytes -> '_', "" -> "_").
 * Returns the token length, or -ENOSPC. */
int subject_token(char *out, size_t cap, const char *symbol);

#endif
