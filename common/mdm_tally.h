/* Totals by name for a dashboard's "top N": a fixed table of (key, total)
 * that any thread adds to without a lock or an allocation (a key claims its
 * slot once by compare-and-swap; later adds are one relaxed fetch-add), and
 * that a stats thread reads whole. Used for notional by trader (mdmesh-fix)
 * and alerts by rule (mdmesh-processor). Keys beyond the capacity are added
 * to the reserved key "_other", so totals always add up. */
#ifndef MDM_TALLY_H
#define MDM_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "mdm_json.h"

#define MDM_TALLY_KEY_MAX 48 /* key bytes kept, with the NUL; longer keys are cut */

struct mdm_tally;

struct mdm_tally_entry {
	char key[MDM_TALLY_KEY_MAX];
	int64_t total;
	uint64_t count; /* adds */
};

/* capacity: keys held apart (1..4096). 0, -EINVAL or -ENOMEM (message set). */
int mdm_tally_create(struct mdm_tally **out, unsigned capacity);
void mdm_tally_destroy(struct mdm_tally *t); /* NULL-safe */

/* Add v to key (len bytes, not NUL-terminated). Any thread, hot-path safe. */
void mdm_tally_add(struct mdm_tally *t, const char *key, size_t len, int64_t v);

/* The n largest totals, largest first, into out[]; returns how many. Any
 * thread; a concurrent add may or may not be seen. */
size_t mdm_tally_top(const struct mdm_tally *t, struct mdm_tally_entry *out, size_t n);

/* {"<key>": {"total": T, "count": C}, ...} of the n largest, largest first. */
void mdm_tally_write_json(const struct mdm_tally *t, struct mdm_json *j, size_t n);

#endif
