/* In-flight window (fix_window.h). */
#include "fix_window.h"

#include <errno.h>

#include "mdm_err.h"
#include "mdm_mem.h"

struct fix_window {
	uint64_t head;  /* next ticket */
	uint64_t tail;  /* oldest ticket still held */
	uint64_t mask;
	struct fix_slot *slots;
};

int fix_window_create(struct fix_window **out, uint32_t capacity)
{
	struct fix_window *w;

	*out = NULL;
	if (capacity < 2 || capacity > (1u << 24) || (capacity & (capacity - 1)))
		return mdm_err_set(-EINVAL, "fix window: capacity %u is not a power of two in 2..2^24", capacity);
	w = mdm_calloc(1, sizeof(*w));
	if (w)
		w->slots = mdm_calloc(capacity, sizeof(*w->slots));
	if (!w || !w->slots) {
		fix_window_destroy(w);
		return mdm_err_set(-ENOMEM, "fix window: out of memory");
	}
	w->mask = capacity - 1;
	*out = w;
	return 0;
}

void fix_window_destroy(struct fix_window *w)
{
	if (!w)
		return;
	mdm_free(w->slots);
	mdm_free(w);
}

bool fix_window_full(const struct fix_window *w)
{
	return w->head - w->tail > w->mask;
}

uint64_t fix_window_in_flight(const struct fix_window *w)
{
	return w->head - w->tail;
}

uint64_t fix_window_push(struct fix_window *w, uint64_t seq, uint64_t rx_ns, uint64_t pub_ns)
{
	uint64_t t = w->head++;
	struct fix_slot *s = &w->slots[t & w->mask];

	s->seq = seq;
	s->rx_ns = rx_ns;
	s->pub_ns = pub_ns;
	__atomic_store_n(&s->state, FIX_SLOT_PENDING, __ATOMIC_RELEASE);
	return t;
}

void fix_window_done(struct fix_window *w, uint64_t t, bool ok, uint64_t *rx_ns, uint64_t *pub_ns)
{
	struct fix_slot *s = &w->slots[t & w->mask];

	*rx_ns = s->rx_ns;
	*pub_ns = s->pub_ns;
	__atomic_store_n(&s->state, ok ? FIX_SLOT_DONE : FIX_SLOT_FAILED, __ATOMIC_RELEASE);
}

uint32_t fix_window_advance(struct fix_window *w, uint64_t *failed_seq)
{
	uint32_t n = 0;

	*failed_seq = 0;
	while (w->tail != w->head) {
		struct fix_slot *s = &w->slots[w->tail & w->mask];
		int st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == FIX_SLOT_PENDING)
			break;
		if (st == FIX_SLOT_FAILED && !*failed_seq)
			*failed_seq = s->seq;
		__atomic_store_n(&s->state, FIX_SLOT_FREE, __ATOMIC_RELAXED);
		w->tail++;
		n++;
	}
	return n;
}

uint64_t fix_window_low_seq(const struct fix_window *w)
{
	return w->tail == w->head ? 0 : w->slots[w->tail & w->mask].seq;
}
