/* Fuzz target: bytes as they arrive on a FIX drop-copy socket, run the way
 * mdmesh-fix runs them: fix_frame / fix_resync over the buffer, each framed
 * message into a logged-on session (parse, sequence and session checks) and
 * every delivered ExecutionReport through fix_exec_decode and the subject /
 * Msg-Id builders. Invariants: framing only ever advances, a framed message
 * lies inside the input, every view of a parsed message lies inside it, a
 * decode returns a kind or a documented reason. */
#include <stdint.h>
#include <string.h>

#include "fix_exec.h"
#include "fix_session.h"
#include "fix_testmsg.h"
#include "fuzz.h"

static const uint8_t *lo, *hi;
static struct fix_exec ex;
static const struct fix_trader_from from[] = { { FIX_TRADER_PARTY, 12 }, { FIX_TRADER_ACCOUNT, 0 } };
static const struct fix_exec_params xp = { .feed = "f", .session = "A-B", .from = from, .n_from = 2,
					   .subject_prefix = "exec" };

static int f_send(void *ctx, const char *p, size_t len)
{
	(void)ctx;
	FUZZ_CHECK(fix_frame(p, len, 1 << 20) == (int)len);
	return 0;
}

static int f_persist(void *ctx, uint64_t next_out)
{
	(void)ctx;
	(void)next_out;
	return 0;
}

static int f_deliver(void *ctx, struct fix_msg *m, bool poss_dup)
{
	char buf[512];
	int rc;

	(void)ctx;
	(void)poss_dup;
	for (int f = 0; f < FIX_F_COUNT; f++)
		FUZZ_CHECK(!m->f[f].len || ((const uint8_t *)m->f[f].p >= lo && (const uint8_t *)m->f[f].p + m->f[f].len <= hi));
	rc = fix_exec_decode(&ex, m, 1, 1, &xp);
	FUZZ_CHECK(rc >= FIX_EXEC_TRADE ? rc <= FIX_EXEC_OTHER : -rc < FIX_R_COUNT);
	if (rc >= 0 && rc != FIX_EXEC_OTHER) {
		FUZZ_CHECK(fix_exec_subject(&ex, &xp, buf, sizeof(buf)) < (int)sizeof(buf));
		(void)fix_exec_msg_id(&ex, &xp, buf, sizeof(buf));
	}
	return rc < 0 ? rc : 0;
}

static const struct fix_session_ops ops = { .send = f_send, .persist = f_persist, .deliver = f_deliver };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fix_session_params p = { .begin_string = "FIX.4.4", .sender = "US", .target = "BRK", .initiator = false,
					.heartbeat_s = 30, .next_out = 1, .next_in = 1, .ops = &ops };
	struct fix_session *s;
	const char *buf = (const char *)data;
	char logon[256];
	size_t off = 0, n;

	if (fix_session_create(&s, &p) != 0)
		return 0;
	fix_session_connected(s, 1704202200000000000ULL);
	/* log on first, so the input reaches the logged-on paths */
	n = fix_testmsg(logon, sizeof(logon), "FIX.4.4", "35=A|49=BRK|56=US|34=1|52=20240102-13:30:00|98=0|108=30|");
	fix_session_on_msg(s, logon, n, 1704202200000000000ULL);
	lo = data;
	hi = data + size;
	while (off < size) {
		int rc = fix_frame(buf + off, size - off, 4096);
		size_t skip;

		if (rc == 0)
			break;
		if (rc > 0) {
			FUZZ_CHECK(off + (size_t)rc <= size);
			if (fix_session_on_msg(s, buf + off, (size_t)rc, 1704202200000000000ULL) == FIX_DISCONNECT)
				break;
			off += (size_t)rc;
			continue;
		}
		fix_session_frame_error(s, rc);
		skip = fix_resync(buf, size, off + 1);
		FUZZ_CHECK(skip > off);
		off = skip;
	}
	fix_session_destroy(s);
	return 0;
}
