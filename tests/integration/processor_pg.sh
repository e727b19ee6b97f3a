#!/usr/bin/env bash
# mdmesh-processor into a real PostgreSQL (tests/integration/pg.sh) from a real
# nats-server: exact trades (one row per event that is a trade), bars_1m equal
# to the trades' aggregates, audit rows, dead letters; then PostgreSQL stopped
# mid-stream while more events arrive: the processor keeps running, fails and
# naks its batches with backoff (/metrics, /healthz 503), and once PostgreSQL
# is back every event is in exactly once; SIGTERM exits 0. The password of the
# store URL never appears in the processor's log.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
. "$MDM_SRC_DIR/tests/integration/pg.sh"

PROC="$MDM_BIN/mdmesh-processor"
PUB="$MDM_BUILD_DIR/tests/md_publish"
command -v psql >/dev/null || fail "psql is not installed (Debian: apt-get install postgresql-client)"
command -v curl >/dev/null || fail "curl is not installed"
pg__bindir >/dev/null || fail "PostgreSQL server is not installed (no initdb; apt-get install postgresql)"

start_nats
pg_start_for_test || fail "PostgreSQL did not start (logs in $PGDIR)"
PW=$(head -1 "$PGDIR/pw")
[ ${#PW} -ge 8 ] && [[ "$PG_URL" == *":$PW@"* ]] || fail "no password in PG_URL"
HTTP_PORT=$(free_port)
COMMON=(--nats "$NATS_URL" --store "$PG_URL" --rules "" --set fetch.batch=128
	--set consumer.ack_wait=10s --set consumer.nak_delays="200ms,400ms,800ms" --set consumer.max_deliver=1000)

sql() { psql "$PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
trades() { sql "select count(*) from trades"; }
distinct_seqs() { sql "select count(distinct (feed, session, seq)) from trades"; }
metric() { # metric NAME [FILTER]: sum of the family's series (whose labels contain FILTER)
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" |
		awk -v m="$1" -v f="${2:-}" '($1 == m || index($1, m "{") == 1) && index($1, f) { s += $NF } END { print s + 0 }'
}
health() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz"; }
# expected_volume START COUNT EXCLUDED...: total shares md_publish gives the
# events START..START+COUNT-1 (100 + seq % 10 each) without the excluded seqs.
expected_volume() {
	local start=$1 count=$2 v=0 s
	shift 2
	for ((s = start; s < start + count; s++)); do v=$((v + 100 + s % 10)); done
	for s in "$@"; do v=$((v - 100 - s % 10)); done
	echo "$v"
}
# Every bar equals the aggregate of its symbol-minute's printable trades, and
# every such minute has a bar: prints the number of mismatching rows (0).
bars_mismatch() {
	sql "with agg as (select symbol, (ts_ns / 60000000000) * 60000000000 as minute_ns, sum(shares) as volume,
			count(*) as trade_count, max(price) as high, min(price) as low
		from trades where printable group by 1, 2),
		b as (select symbol, minute_ns, volume, trade_count, high, low from bars_1m)
		select (select count(*) from (select * from agg except select * from b) x)
			+ (select count(*) from (select * from b except select * from agg) y)"
}

# 1. 3000 events (seqs 5000..7999: exchange times 09:30:50-09:31:20, so two
# minutes per symbol), one poison, two with price 0 -> 2997 trades.
"$PUB" "$NATS_URL" publish --count 3000 --start 5000 --session S1 --poison 5007 --zero-price 5009,5011 >/dev/null
timeout 60 "$PROC" "${COMMON[@]}" --http "" --exit-when-idle 1 2>"$MDM_T_TMP/p1.log" ||
	fail "processor run 1 exit $?: $(tail -5 "$MDM_T_TMP/p1.log")"
grep -q "postgres postgresql://mdmesh:\*\*\*@127.0.0.1:$PG_PORT/mdmesh: connected" "$MDM_T_TMP/p1.log" ||
	fail "no connected line with the scrubbed URL: $(head -5 "$MDM_T_TMP/p1.log")"
[ "$(trades)" = 2997 ] && [ "$(distinct_seqs)" = 2997 ] || fail "run 1: $(trades) trades, $(distinct_seqs) distinct, want 2997"
[ "$(sql "select count(*) from trades where session = 'S1' and seq in (5007, 5009, 5011)")" = 0 ] ||
	fail "poison or zero-price event stored"
pass "3000 events -> 2997 trades in PostgreSQL (poison and 2 zero-price left out), exit 0 when idle"

vol=$(expected_volume 5000 3000 5007 5009 5011)
[ "$(sql "select sum(shares) from trades")" = "$vol" ] || fail "trade shares $(sql "select sum(shares) from trades"), want $vol"
[ "$(sql "select count(*) from bars_1m")" = 8 ] || fail "bars_1m: $(sql "select count(*) from bars_1m") rows, want 8 (4 symbols x 2 minutes)"
[ "$(sql "select sum(volume) from bars_1m")" = "$vol" ] || fail "bars volume $(sql "select sum(volume) from bars_1m"), want $vol"
[ "$(bars_mismatch)" = 0 ] || fail "bars_1m differ from the trades' aggregates: $(sql "select * from bars_1m")"
pass "bars_1m: 8 bars, volume per symbol-minute = printable trade shares ($vol in all)"

read -r total ok dead < <(sql "select sum(total), sum(ok), sum(dead_lettered) from audit" | tr '|' ' ')
[ "$total $ok $dead" = "3000 2997 3" ] || fail "audit totals: $total $ok $dead"
audit=$("$PUB" "$NATS_URL" info AUDIT | cut -d' ' -f1)
[ "$audit" -gt 0 ] && [ "$audit" = "$(sql "select count(*) from audit")" ] ||
	fail "audit rows $(sql "select count(*) from audit"), records published $audit"
dlq=$("$PUB" "$NATS_URL" dump DLQ)
[ "$(echo "$dlq" | grep -c "reason=decode_error")" = 1 ] && [ "$(echo "$dlq" | grep -c "reason=price_not_positive")" = 2 ] &&
	[ "$(echo "$dlq" | wc -l)" = 3 ] || fail "DLQ: $dlq"
pass "audit: $audit rows totalling 3000 events (2997 ok, 3 dead-lettered); DLQ holds the 3"

# 2. PostgreSQL goes away mid-stream and comes back.
"$PROC" "${COMMON[@]}" --http "127.0.0.1:$HTTP_PORT" 2>"$MDM_T_TMP/p2.log" &
ppid=$!
MDM_T_PIDS+=("$ppid")
wait_port "$HTTP_PORT" 15 || fail "no HTTP listener: $(tail -5 "$MDM_T_TMP/p2.log")"
[ "$(health)" = 200 ] || fail "/healthz $(health) before the outage"
# S2: 3000 events in 30 chunks of 100, 0.1 s apart (3 s or more), so the
# database goes away while they are still being published.
(
	for k in $(seq 0 29); do
		"$PUB" "$NATS_URL" publish --count 100 --start $((8000 + 100 * k)) --session S2 >/dev/null || exit 1
		sleep 0.1
	done
) &
pubpid=$!
MDM_T_PIDS+=("$pubpid")
wait_for 20 '[ "$(trades)" -gt 3100 ]' || fail "S2 not being stored: $(trades) trades"
kill -0 "$pubpid" 2>/dev/null || fail "S2 already published: the outage would not be mid-stream"
at_stop=$(trades)
pg_stop "$PGDIR" || fail "pg_stop failed: $(tail -3 "$PGDIR/pg_ctl.log")"
down=$SECONDS
wait "$pubpid" || fail "publish S2 failed"
"$PUB" "$NATS_URL" publish --count 1000 --start 11000 --session S3 >/dev/null # while the database is down
wait_for 15 '[ "$(metric mdmesh_processor_failed_batches_total cause=\"store\")" -ge 3 ] && [ "$(health)" = 503 ]' ||
	fail "no failing batches / unhealthy: failed $(metric mdmesh_processor_failed_batches_total), /healthz $(health)"
naks1=$(metric mdmesh_processor_naks_total)
failed1=$(metric mdmesh_processor_failed_batches_total cause=\"store\")
t1=${EPOCHREALTIME/./}
# it keeps retrying: more naks and failed batches (or it exited)
wait_for 30 '[ "$(metric mdmesh_processor_naks_total)" -gt "$naks1" ] &&
	[ "$(metric mdmesh_processor_failed_batches_total cause=\"store\")" -ge $((failed1 + 2)) ] || ! kill -0 $ppid 2>/dev/null'
kill -0 "$ppid" 2>/dev/null || fail "processor exited while the database was down: $(tail -5 "$MDM_T_TMP/p2.log")"
naks2=$(metric mdmesh_processor_naks_total)
failed2=$(metric mdmesh_processor_failed_batches_total cause=\"store\")
ms=$(((${EPOCHREALTIME/./} - t1) / 1000))
[ "$naks2" -gt "$naks1" ] && [ "$failed2" -ge $((failed1 + 2)) ] || fail "retries stopped: naks $naks1 -> $naks2, failed $failed1 -> $failed2"
# backoff: the redeliveries are delayed (200/400/800 ms) and the worker
# pauses after a failure, so attempts come a few dozen a second at most
# (without a backoff, hundreds)
[ $((failed2 - failed1)) -le $((5 + 30 * ms / 1000)) ] || fail "$((failed2 - failed1)) failed batches in $ms ms: no backoff"
[ "$(metric mdmesh_processor_max_deliver_dead_letters_total)" = 0 ] || fail "messages dead-lettered during the outage"
pass "database stopped at $at_stop rows, down $((SECONDS - down)) s: processor running, $failed2 failed batches, $naks2 naks, /healthz 503"

pg_start "$PGDIR" || fail "PostgreSQL did not restart (logs in $PGDIR)"
want=$((2997 + 3000 + 1000))
wait_for 30 '[ "$(trades)" = "$want" ]' || fail "after the restart: $(trades) trades, want $want"
wait_for 15 '[ "$(metric mdmesh_processor_consumer_lag)" = 0 ] && [ "$(metric mdmesh_processor_consumer_ack_pending)" = 0 ] &&
	[ "$(metric mdmesh_processor_in_flight)" = 0 ]' || fail "not idle: lag $(metric mdmesh_processor_consumer_lag)," \
	"ack pending $(metric mdmesh_processor_consumer_ack_pending), in flight $(metric mdmesh_processor_in_flight)"
wait_for 10 '[ "$(health)" = 200 ]' || fail "/healthz $(health) after the database came back"
grep -q "postgres postgresql://mdmesh:\*\*\*@127.0.0.1:$PG_PORT/mdmesh: reconnected" "$MDM_T_TMP/p2.log" ||
	fail "no reconnected line: $(grep postgres "$MDM_T_TMP/p2.log" | tail -3)"
kill -TERM "$ppid"
rc=0
wait "$ppid" || rc=$?
[ "$rc" = 0 ] || fail "SIGTERM exit $rc: $(tail -5 "$MDM_T_TMP/p2.log")"
[ "$(trades)" = "$want" ] && [ "$(distinct_seqs)" = "$want" ] || fail "end: $(trades) trades, $(distinct_seqs) distinct, want $want"
for s in S2:3000 S3:1000; do
	[ "$(sql "select count(*) from trades where session = '${s%%:*}'")" = "${s#*:}" ] || fail "session ${s%%:*} rows"
done
vol=$((vol + $(expected_volume 8000 3000) + $(expected_volume 11000 1000)))
[ "$(sql "select sum(volume) from bars_1m")" = "$vol" ] && [ "$(bars_mismatch)" = 0 ] ||
	fail "bars_1m after the outage do not match the trades"
[ "$("$PUB" "$NATS_URL" dump DLQ | wc -l)" = 3 ] || fail "the outage dead-lettered messages"
pass "PostgreSQL back: $want trades = distinct seqs (none lost, none doubled), bars consistent; SIGTERM exit 0"

# Every sequence number published around the outage, counted one by one in
# the stream and in PostgreSQL (the fault suite's seqcheck): none lost, none doubled.
for s in S2:8000-10999 S3:11000-11999; do
	res=$("$MDM_BUILD_DIR/tests/seqcheck" stream "$NATS_URL" --session "${s%%:*}" --expect "${s#*:}") || fail "stream: $res"
	res=$(psql "$PG_URL" -XAtq -F' ' -c "select session, seq from trades where session = '${s%%:*}'" |
		"$MDM_BUILD_DIR/tests/seqcheck" lines --session "${s%%:*}" --expect "${s#*:}") || fail "PostgreSQL: $res"
	pass "stream and PostgreSQL: ${res#seqcheck: }"
done

for f in "$MDM_T_TMP"/p*.log; do
	! grep -qF "$PW" "$f" || fail "the PostgreSQL password is in $(basename "$f")"
done
grep -q "postgresql://mdmesh:\*\*\*@" "$MDM_T_TMP/p2.log" || fail "the store URL is not in the log (nothing to check)"
pass "the password never appears in the processor's logs"
summary
