/* Fuzz target: bytes as they arrive on a FIX drop-copy socket, run the way
 * mdmesh-fix runs them: fix_reader over the buffer, each framed
 * message into a logged-on session (parse, sequence and session checks) and
 * every delivered ExecutionReport through fix_exec_decode and the subject /
 * Msg-Id builders. Invariants: reading only ever advances and a partial
 * message never fills the buffer, a framed message lies inside it, every view of a parsed message lies inside it, a
 * decode returns a kind or a documented reason. */
#include <stdint.h>
#include <string.h>

#include "fix_exec.h"
#include "fix_reader.h"
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
	struct fix_reader rd;
	const char *buf = (const char *)data;
	char logon[256];
	size_t off = 0, n;

	if (fix_session_create(&s, &p) != 0)
		return 0;
	fix_session_connected(s, 1704202200000000000ULL);
	/* log on first, so the input reaches the logged-on paths */
	n = fix_testmsg(logon, sizeof(logon), "FIX.4.4", "35=A|49=BRK|56=US|34=1|52=20240102-13:30:00|98=0|108=30|");
	fix_session_on_msg(s, logon, n, 1704202200000000000ULL);
	/* through the reader mdmesh-fix uses, in reads of up to 3000 bytes, so
	 * runs and oversized messages span reads as they do on a socket */
	if (fix_reader_init(&rd, 4096) != 0) {
		fix_session_destroy(s);
		return 0;
	}
	lo = (const uint8_t *)rd.buf;
	hi = lo + rd.cap;
	while (off < size) {
		size_t room, before = off;
		char *at = fix_reader_space(&rd, &room);
		const char *msg;
		int rc = 0;

		n = size - off < room ? size - off : room;
		if (n > 3000)
			n = 3000;
		memcpy(at, buf + off, n);
		off += n;
		fix_reader_fill(&rd, n);
		while ((rc = fix_reader_next(&rd, &msg)) != 0) {
			if (rc < 0) {
				fix_session_frame_error(s, rc);
				continue;
			}
			FUZZ_CHECK((const uint8_t *)msg >= lo && (const uint8_t *)msg + rc <= hi);
			if (fix_session_on_msg(s, msg, (size_t)rc, 1704202200000000000ULL) == FIX_DISCONNECT)
				break;
		}
		if (rc != 0)
			break; /* the session closed the line */
		fix_reader_compact(&rd);
		FUZZ_CHECK(off > before && fix_reader_pending(&rd) < rd.cap);
	}
	fix_reader_fini(&rd);
	fix_session_destroy(s);
	return 0;
}
