/* The persisted sequence numbers of one FIX session: next_out (the number
 * our next message takes) and next_in (the first inbound number not yet
 * processed, i.e. whose Execution is not yet acked by JetStream). One small
 * text file per session in --state-dir, replaced atomically (write a
 * temporary, fsync, rename, fsync the directory), so a kill -9 leaves the old
 * or the new numbers, never a torn file. Blocking I/O: not for a poll core. */
#ifndef FIX_STATE_H
#define FIX_STATE_H

#include <stdint.h>

struct fix_state {
	uint64_t next_out;
	uint64_t next_in;
};

/* Read `path` into *st. 0; -ENOENT (no file: *st = {1, 1}, a new session);
 * -EINVAL (not a state file: detail names the path and line); other -errno. */
int fix_state_load(const char *path, struct fix_state *st);

/* Write *st to `path` durably. 0 or -errno (detail names the path). */
int fix_state_save(const char *path, const struct fix_state *st);

#endif
