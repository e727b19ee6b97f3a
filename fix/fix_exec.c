/* ExecutionReport -> Execution (fix_exec.h). */
#include "fix_exec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_subject.h"

int fix_trader_from_parse(const char *spec, struct fix_trader_from *out)
{
	unsigned role;
	char end;

	if (strcmp(spec, "sender_sub_id") == 0) {
		*out = (struct fix_trader_from){ FIX_TRADER_SENDER_SUB_ID, 0 };
		return 0;
	}
	if (strcmp(spec, "account") == 0) {
		*out = (struct fix_trader_from){ FIX_TRADER_ACCOUNT, 0 };
		return 0;
	}
	if (sscanf(spec, "party:%u%c", &role, &end) == 1 && role > 0) {
		*out = (struct fix_trader_from){ FIX_TRADER_PARTY, role };
		return 0;
	}
	return mdm_err_set(-EINVAL, "'%s': expected party:<PartyRole>, sender_sub_id or account", spec);
}

/* Copy a view into e->text as a C string; NULL when it does not fit or holds
 * a control character (it would end up in a header or a subject). */
static char *text(struct fix_exec *e, struct fix_view v)
{
	char *s = e->text + e->text_len;

	if (e->text_len + v.len + 1 > sizeof(e->text))
		return NULL;
	for (uint32_t i = 0; i < v.len; i++)
		if ((unsigned char)v.p[i] < 0x20 || v.p[i] == 0x7f)
			return NULL;
	if (v.len) /* an absent field is a NULL view */
		memcpy(s, v.p, v.len);
	s[v.len] = '\0';
	e->text_len += v.len + 1;
	return s;
}

static struct fix_view trader_of(const struct fix_msg *m, const struct fix_exec_params *p)
{
	for (size_t i = 0; i < p->n_from; i++) {
		switch (p->from[i].kind) {
		case FIX_TRADER_PARTY:
			for (uint32_t k = 0; k < m->n_parties; k++) {
				uint64_t role;

				if (fix_view_u64(m->parties[k].role, &role) == 0 && role == p->from[i].role &&
				    m->parties[k].id.len)
					return m->parties[k].id;
			}
			break;
		case FIX_TRADER_SENDER_SUB_ID:
			if (fix_has(m, FIX_F_SENDER_SUB_ID))
				return m->f[FIX_F_SENDER_SUB_ID];
			break;
		case FIX_TRADER_ACCOUNT:
			if (fix_has(m, FIX_F_ACCOUNT))
				return m->f[FIX_F_ACCOUNT];
			break;
		}
	}
	return (struct fix_view){ NULL, 0 };
}

static enum fix_exec_kind kind_of(const struct fix_msg *m, bool fix42)
{
	struct fix_view t = m->f[FIX_F_EXEC_TYPE], tt = m->f[FIX_F_EXEC_TRANS_TYPE];

	if (t.len != 1)
		return FIX_EXEC_OTHER;
	if (!fix42 || t.p[0] == 'F' || t.p[0] == 'G' || t.p[0] == 'H')
		return t.p[0] == 'F' ? FIX_EXEC_TRADE : t.p[0] == 'G' ? FIX_EXEC_CORRECT
			: t.p[0] == 'H' ? FIX_EXEC_CANCEL : FIX_EXEC_OTHER;
	/* 4.2: a fill is ExecType 1 (partial) or 2 (fill); ExecTransType says
	 * whether it is new (0), a cancel (1) or a correction (2) of one */
	if (t.p[0] != '1' && t.p[0] != '2')
		return FIX_EXEC_OTHER;
	if (!tt.len || fix_view_eq(tt, "0"))
		return FIX_EXEC_TRADE;
	if (fix_view_eq(tt, "1"))
		return FIX_EXEC_CANCEL;
	if (fix_view_eq(tt, "2"))
		return FIX_EXEC_CORRECT;
	return FIX_EXEC_OTHER;
}

static int need(struct fix_msg *m, enum fix_field f, uint32_t tag)
{
	if (fix_has(m, f))
		return 0;
	m->bad_tag = tag;
	return -FIX_R_MISSING_TAG;
}

/* An optional decimal field into *out (0 when absent). */
static int dec(struct fix_msg *m, enum fix_field f, uint32_t tag, int64_t *out)
{
	int rc;

	*out = 0;
	if (!fix_has(m, f))
		return 0;
	rc = fix_view_dec8(m->f[f], out);
	if (rc == 0)
		return 0;
	m->bad_tag = tag;
	return rc == -ERANGE ? -FIX_R_BAD_PRICE : -FIX_R_BAD_VALUE;
}

int fix_exec_decode(struct fix_exec *e, struct fix_msg *m, uint64_t seq, uint64_t rx_ns,
		    const struct fix_exec_params *p)
{
	static const struct {
		enum fix_field f;
		uint32_t tag;
		size_t off;
	} strs[] = {
		{ FIX_F_EXEC_ID, 17, offsetof(Mdmesh__V1__Execution, exec_id) },
		{ FIX_F_EXEC_REF_ID, 19, offsetof(Mdmesh__V1__Execution, exec_ref_id) },
		{ FIX_F_ORDER_ID, 37, offsetof(Mdmesh__V1__Execution, order_id) },
		{ FIX_F_CL_ORD_ID, 11, offsetof(Mdmesh__V1__Execution, cl_ord_id) },
		{ FIX_F_ACCOUNT, 1, offsetof(Mdmesh__V1__Execution, account) },
		{ FIX_F_SIDE, 54, offsetof(Mdmesh__V1__Execution, side) },
		{ FIX_F_CURRENCY, 15, offsetof(Mdmesh__V1__Execution, currency) },
		{ FIX_F_ORD_STATUS, 39, offsetof(Mdmesh__V1__Execution, ord_status) },
		{ FIX_F_LAST_MKT, 30, offsetof(Mdmesh__V1__Execution, last_mkt) },
		{ FIX_F_SECURITY_ID, 48, offsetof(Mdmesh__V1__Execution, security_id) },
		{ FIX_F_ID_SOURCE, 22, offsetof(Mdmesh__V1__Execution, id_source) },
		{ FIX_F_EXEC_TYPE, 150, offsetof(Mdmesh__V1__Execution, exec_type_raw) },
		{ FIX_F_EXEC_TRANS_TYPE, 20, offsetof(Mdmesh__V1__Execution, exec_trans_type) },
	};
	static const char *const letters[] = { "F", "G", "H" };
	Mdmesh__V1__Execution *x = &e->pb;
	struct fix_view sym;
	int rc;

	mdmesh__v1__execution__init(x);
	mdmesh__v1__event_header__init(&e->hdr);
	x->header = &e->hdr;
	e->text_len = 0;
	e->exec_type = m->f[FIX_F_EXEC_TYPE].len ? m->f[FIX_F_EXEC_TYPE].p[0] : '?';
	if ((rc = need(m, FIX_F_EXEC_TYPE, 150)) != 0)
		return rc;
	e->kind = kind_of(m, p->fix42);
	if (e->kind == FIX_EXEC_OTHER)
		return FIX_EXEC_OTHER;
	if ((rc = need(m, FIX_F_EXEC_ID, 17)) || (rc = need(m, FIX_F_SIDE, 54)) || (rc = need(m, FIX_F_LAST_QTY, 32)) ||
	    (rc = need(m, FIX_F_LAST_PX, 31)))
		return rc;
	if (e->kind != FIX_EXEC_TRADE && (rc = need(m, FIX_F_EXEC_REF_ID, 19)))
		return rc;
	sym = fix_has(m, FIX_F_SYMBOL) ? m->f[FIX_F_SYMBOL] : m->f[FIX_F_SECURITY_ID];
	if (!sym.len) {
		m->bad_tag = 55;
		return -FIX_R_MISSING_TAG;
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		char *s = text(e, m->f[strs[i].f]);

		if (!s) {
			m->bad_tag = strs[i].tag;
			return -FIX_R_BAD_VALUE;
		}
		*(char **)((char *)x + strs[i].off) = s;
	}
	x->symbol = text(e, sym);
	x->trader = text(e, trader_of(m, p));
	if (!x->symbol || !x->trader) {
		m->bad_tag = x->symbol ? 448 : 55;
		return -FIX_R_BAD_VALUE;
	}
	if ((rc = dec(m, FIX_F_LAST_QTY, 32, &x->last_qty)) || (rc = dec(m, FIX_F_LAST_PX, 31, &x->last_px)) ||
	    (rc = dec(m, FIX_F_CUM_QTY, 14, &x->cum_qty)) || (rc = dec(m, FIX_F_LEAVES_QTY, 151, &x->leaves_qty)) ||
	    (rc = dec(m, FIX_F_AVG_PX, 6, &x->avg_px)))
		return rc;
	if (fix_has(m, FIX_F_TRANSACT_TIME) && fix_view_utc_ns(m->f[FIX_F_TRANSACT_TIME], &x->transact_time_ns) != 0) {
		m->bad_tag = 60;
		return -FIX_R_BAD_VALUE;
	}
	if (fix_has(m, FIX_F_SENDING_TIME))
		(void)fix_view_utc_ns(m->f[FIX_F_SENDING_TIME], &e->hdr.wire_ts_ns); /* checked by the session */
	x->exec_type = (char *)letters[e->kind];
	x->poss_dup = fix_view_eq(m->f[FIX_F_POSS_DUP_FLAG], "Y");
	e->hdr.feed = (char *)p->feed;
	e->hdr.session = (char *)p->session;
	e->hdr.seq = seq;
	e->hdr.symbol = x->symbol;
	e->hdr.type = x->exec_type;
	e->hdr.exchange_ts_ns = x->transact_time_ns;
	e->hdr.rx_ts_ns = rx_ns;
	return e->kind;
}

static size_t token(char *out, size_t cap, const char *s)
{
	return mdm_subject_token(out, cap, s, s ? strlen(s) : 0);
}

int fix_exec_subject(const struct fix_exec *e, const struct fix_exec_params *p, char *out, size_t cap)
{
	const char *parts[4] = { p->subject_prefix, p->feed, e->pb.trader, e->pb.symbol };
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		if (n + 2 > cap)
			return -ENOSPC;
		if (i)
			out[n++] = '.';
		n += i ? token(out + n, cap - n, parts[i]) : (size_t)snprintf(out + n, cap - n, "%s", parts[i]);
		if (n >= cap)
			return -ENOSPC;
	}
	return (int)n;
}

int fix_exec_msg_id(const struct fix_exec *e, const struct fix_exec_params *p, char *out, size_t cap)
{
	int n = snprintf(out, cap, "fix.%s.%s", p->feed, e->pb.exec_id);

	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}
