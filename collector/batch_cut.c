/* Batch cut rules (batch_cut.h). */
#include "batch_cut.h"

#include <string.h>

enum batch_cut_scope batch_cut_scope(uint64_t *window_hi, uint64_t seq, uint32_t max_events)
{
	uint64_t w = seq / max_events, hi = *window_hi;

	*window_hi = w;
	/* sequences only grow within a session: a later window completes every
	 * older one; an earlier one is a new session or a late sequence, and
	 * closing everything beats leaving a batch of the old stretch waiting
	 * for a window to pass it */
	return w > hi ? BATCH_CUT_OLDER : w < hi ? BATCH_CUT_ALL : BATCH_CUT_NONE;
}

bool batch_cut_before(const struct batch_cut_part *p, const char *session, uint64_t seq, uint32_t max_events)
{
	return p->n && (p->window != seq / max_events || strcmp(p->session, session) != 0 || seq <= p->last_seq);
}

void batch_cut_take(struct batch_cut_part *p, const char *session, uint64_t seq, uint32_t max_events)
{
	if (p->n == 0) {
		p->window = seq / max_events;
		p->first_seq = seq;
		strncpy(p->session, session, BATCH_CUT_SESSION_LEN);
		p->session[BATCH_CUT_SESSION_LEN] = '\0';
	}
	p->last_seq = seq;
	p->n++;
}
