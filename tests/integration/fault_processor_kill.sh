#!/usr/bin/env bash
# Fault: the processor killed with -9 mid-batch, and restarted.
# 1. while its batch waits for the SQLite store (another writer holds it):
#    fetched, not committed, not acked;
# 2. three times at a random moment while events stream in.
# Every event routes to the events table too, so the store holds one row per
# sequence number. After the last restart drains the consumer: every sequence
# number is in the stream once and in the store once (rows idempotent on
# (feed, session, seq)); the audit rows count redelivered batches again.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
. "$MDM_SRC_DIR/tests/integration/fault_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
command -v curl >/dev/null || fail "curl is not installed"
cd "$MDM_T_TMP"
start_nats
DB="$MDM_T_TMP/store.db"
HTTP_PORT=$(free_port)
fault_rules rules.yaml
pub "$NATS_URL" publish --count 0 >/dev/null # stream MD, as the collector makes it
rows() { sqlite3 "$DB" "select count(*) from events" 2>/dev/null || echo 0; }
metric() { metric_of "$(curl -s --max-time 5 "http://127.0.0.1:$HTTP_PORT/metrics")" "$@"; }
start_proc() { # start_proc LOG [ARGS]: the processor in the background, PID in $proc
	local log=$1
	shift
	"$MDM_BIN/mdmesh-processor" --nats "$NATS_URL" --store "$DB" --rules rules.yaml --http "127.0.0.1:$HTTP_PORT" \
		--set fetch.batch=128 --set consumer.ack_wait=2s --set consumer.nak_delays=200ms \
		--set consumer.max_deliver=100 "$@" 2>>"$log" &
	proc=$!
	MDM_T_PIDS+=("$proc")
	wait_port "$HTTP_PORT" 15 || fail "processor did not start: $(tail -5 "$log")"
}
kill9() {
	kill -9 "$proc"
	wait "$proc" 2>/dev/null || true
}

# 1. mid-batch: the store is held by another writer, the worker's batch waits
#    for it (busy timeout 5 s) with its messages fetched and unacked
N1=2000
start_proc p1.log --set workers=1
pub "$NATS_URL" publish --count "$N1" --session PK1 >/dev/null
wait_for 20 '[ "$(rows)" = $N1 ]' || fail "run 1: $(rows) rows, want $N1"
coproc LOCK { sqlite3 "$DB"; }
echo "BEGIN EXCLUSIVE;" >&"${LOCK[1]}"
sleep 0.3
pub "$NATS_URL" publish --count "$N1" --start $((N1 + 1)) --session PK1 >/dev/null
wait_for 10 '[ "$(metric mdmesh_processor_in_flight)" -gt 0 ]' || fail "nothing in flight while the store is held"
sleep 1
in_flight=$(metric mdmesh_processor_in_flight)
[ "$(rows)" = $N1 ] || fail "rows committed while the store was held"
kill9
echo "COMMIT;" >&"${LOCK[1]}"
exec {LOCK[1]}>&-
wait "$LOCK_PID" 2>/dev/null || true
pass "kill -9 with $in_flight events fetched, their batch waiting for the store; $(rows) rows"

# 2. three kills at random moments while 3 x 5000 events stream in
N2=15000
(
	for k in $(seq 0 29); do
		pub "$NATS_URL" publish --count 500 --start $((1 + 500 * k)) --session PK2 >/dev/null || exit 1
	done
) &
pubpid=$!
MDM_T_PIDS+=("$pubpid")
kills=()
for i in 1 2 3; do
	start_proc "p2.log"
	sleep "0.$((3 + RANDOM % 9))"
	kills+=("$(rows)")
	kill9
done
wait "$pubpid" || fail "publisher failed"
pass "kill -9 three times while $N2 events streamed in (at ${kills[*]} rows)"

# 3. the last restart drains the consumer and exits when idle
timeout 120 "$MDM_BIN/mdmesh-processor" --nats "$NATS_URL" --store "$DB" --rules rules.yaml --http "" \
	--set consumer.ack_wait=2s --exit-when-idle 3 2>p3.log || fail "final run exit $?: $(tail -5 p3.log)"
dlq_empty "$NATS_URL" || fail "events dead-lettered: $(pub "$NATS_URL" dump DLQ | head -3)"
for s in PK1:$((2 * N1)) PK2:$N2; do
	res=$("$SEQCHECK" stream "$NATS_URL" --session "${s%%:*}" --expect "1-${s#*:}") || fail "stream: $res"
	res=$(store_seqs "$DB" | "$SEQCHECK" lines --session "${s%%:*}" --expect "1-${s#*:}") || fail "store: $res"
	pass "stream and store: $(echo "$res" | sed 's/^seqcheck: //')"
done
total=$((2 * N1 + N2))
audit=$(sqlite3 "$DB" "select sum(total) from audit")
[ "$audit" -ge "$total" ] || fail "audit counts $audit events, fewer than the $total stored"
[ "$(sqlite3 "$DB" "select count(*) from trades")" = "$total" ] || fail "trades: $(sqlite3 "$DB" "select count(*) from trades")"
pass "trades $total rows; audit $audit events in committed batches ($((audit - total)) committed again after a kill before their ack)"
summary
