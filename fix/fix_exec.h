/* ExecutionReport (35=8) -> mdmesh.v1.Execution: which reports are executions
 * (FIX 4.4 ExecType F/G/H; FIX 4.2 fills with ExecTransType new/cancel/correct),
 * the required fields, exact price8/qty8 conversion, where the trader comes
 * from (trader.from), and the NATS subject and Msg-Id. Pure: no I/O, no
 * allocation (strings are copied into the struct's own text buffer), so the
 * fuzz target and unit tests run it as mdmesh-fix does. Not thread-safe per
 * struct fix_exec. */
#ifndef FIX_EXEC_H
#define FIX_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fix_msg.h"
#include "mdmesh/v1/execution.pb-c.h"

#define FIX_EXEC_CONTENT_TYPE "application/protobuf; proto=mdmesh.v1.Execution"
#define FIX_TRADER_FROM_MAX 8

enum fix_trader_kind { FIX_TRADER_PARTY = 0, FIX_TRADER_SENDER_SUB_ID, FIX_TRADER_ACCOUNT };

/* One place the trader may come from; the first that is present wins. */
struct fix_trader_from {
	enum fix_trader_kind kind;
	uint32_t role; /* FIX_TRADER_PARTY: PartyRole (12 executing trader, 11 order origination trader) */
};

/* "party:12", "sender_sub_id" or "account". 0 or -EINVAL (detail set). */
int fix_trader_from_parse(const char *spec, struct fix_trader_from *out);

enum fix_exec_kind {
	FIX_EXEC_TRADE = 0,   /* F */
	FIX_EXEC_CORRECT,     /* G */
	FIX_EXEC_CANCEL,      /* H */
	FIX_EXEC_OTHER,       /* an order event (new, canceled, replaced, ...): counted, not published */
};

struct fix_exec_params {
	const char *feed;     /* the session name: header.feed and the <session> of subjects and Msg-Ids */
	const char *session;  /* header.session, e.g. "SENDER-TARGET" */
	bool fix42;           /* BeginString FIX.4.2: LastShares, ExecTransType */
	const struct fix_trader_from *from;
	size_t n_from;
	const char *subject_prefix; /* "exec" */
};

/* Read-only outside fix_exec.c, except pb, which the caller packs. */
struct fix_exec {
	Mdmesh__V1__Execution pb;
	Mdmesh__V1__EventHeader hdr;
	enum fix_exec_kind kind;
	char exec_type;       /* 150 as sent (first byte), for per-type counts */
	size_t text_len;
	char text[8192];
};

/* Decode report m (inbound seq, received at rx_ns realtime) into e.
 * @return the kind (>= 0); or -FIX_R_MISSING_TAG / -FIX_R_BAD_VALUE /
 *         -FIX_R_BAD_PRICE with m->bad_tag naming the field. */
int fix_exec_decode(struct fix_exec *e, struct fix_msg *m, uint64_t seq, uint64_t rx_ns,
		    const struct fix_exec_params *p);

/* "<prefix>.<feed>.<trader>.<symbol>" (each a subject token, "_" when
 * empty) into out. Returns the length, or -ENOSPC. */
int fix_exec_subject(const struct fix_exec *e, const struct fix_exec_params *p, char *out, size_t cap);

/* "fix.<feed>.<exec_id>" into out. Returns the length, or -ENOSPC. */
int fix_exec_msg_id(const struct fix_exec *e, const struct fix_exec_params *p, char *out, size_t cap);

#endif
