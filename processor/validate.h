/* Validation stage: the first stage of the pipeline. An event that would put
 * a wrong row in the store (no identity, a body that does not match its type,
 * a price or share count outside the configured bounds) is dead-lettered with
 * a reason instead. Pure logic, no NATS, no store: unit-tested directly. */
#ifndef VALIDATE_H
#define VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "stage.h"

struct validate_params {
	uint64_t min_price;     /* lowest accepted price where one is required, >= 1 (1e-4 units) */
	uint64_t max_price;     /* 0 = no upper bound */
	uint64_t max_shares;    /* largest accepted share count */
	bool require_header;    /* feed, session and seq > 0 must be set */
};

/* NULL when `ev` passes, else the reason (a static string):
 *   no_header, no_feed, no_session, no_seq   identity missing (require_header)
 *   unknown_type      no body set (a type this build does not know)
 *   type_mismatch     header.type disagrees with the body
 *   price_not_positive, price_below_min, price_above_max
 *   shares_zero, shares_above_max
 * Hot-path safe; thread-safe. */
const char *validate_event(const struct validate_params *p, const Mdmesh__V1__MarketEvent *ev);

/* ITCH type letter of a body case, 0 for BODY__NOT_SET or an unknown case. */
char validate_body_type(Mdmesh__V1__MarketEvent__BodyCase body_case);

/* The stage (shared: NULL; bounds come from env->cfg). */
extern const struct mdm_stage_ops validate_stage_ops;

#endif
