#!/usr/bin/env bash
# Fault: a consumer that falls behind. The processor is frozen (SIGSTOP) for
# the time it takes to publish 30000 events, then resumed: the backlog shows
# as consumer lag in its /metrics (num_pending) and raises its lag alarm
# (alert.system.lag), it catches up to zero lag, the alarm clears, and every
# event is committed once.
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
pub "$NATS_URL" publish --count 0 >/dev/null
rows() { sqlite3 "$DB" "select count(*) from events" 2>/dev/null || echo 0; }
metric() { metric_of "$(curl -s --max-time 5 "http://127.0.0.1:$HTTP_PORT/metrics")" "$@"; }

# consumer state every 200 ms; lag alarm above 5000 undelivered messages
"$MDM_BIN/mdmesh-processor" --nats "$NATS_URL" --store "$DB" --rules rules.yaml --http "127.0.0.1:$HTTP_PORT" \
	--set stats.interval=200ms --set alarms.lag=5000 2>proc.log &
proc=$!
MDM_T_PIDS+=("$proc")
wait_port "$HTTP_PORT" 15 || fail "processor did not start: $(tail -5 proc.log)"
N0=2000
pub "$NATS_URL" publish --count "$N0" --session SC1 >/dev/null
wait_for 20 '[ "$(rows)" = $N0 ]' || fail "warm-up: $(rows) rows, want $N0"
wait_for 5 '[ "$(metric mdmesh_processor_consumer_lag)" = 0 ]' || fail "lag before the stop: $(metric mdmesh_processor_consumer_lag)"

N=30000
kill -STOP "$proc"
t0=$SECONDS
pub "$NATS_URL" publish --count "$N" --start $((N0 + 1)) --session SC1 >/dev/null
stopped=$((SECONDS - t0))
[ "$(rows)" = $N0 ] || fail "a stopped processor committed rows"
kill -CONT "$proc"
# sample the lag it reports while it catches up
max_lag=0
for _ in $(seq 1 300); do
	lag=$(metric mdmesh_processor_consumer_lag)
	[ "$lag" -gt "$max_lag" ] && max_lag=$lag
	[ "$(rows)" = $((N0 + N)) ] && [ "$lag" = 0 ] && break
	sleep 0.1
done
[ "$max_lag" -gt $((N / 2)) ] || fail "consumer lag reported at most $max_lag with $N events behind"
wait_for 60 '[ "$(rows)" = $((N0 + N)) ] && [ "$(metric mdmesh_processor_consumer_lag)" = 0 ] &&
	[ "$(metric mdmesh_processor_consumer_ack_pending)" = 0 ]' ||
	fail "did not catch up: $(rows) rows, lag $(metric mdmesh_processor_consumer_lag)"
wait_for 5 'grep -q "alarm lag cleared" proc.log' || fail "lag alarm not cleared: $(grep alarm proc.log | tail -2)"
grep -q "alarm lag (processor-1 lag: [0-9]* > 5000" proc.log || fail "no lag alarm: $(grep alarm proc.log | tail -2)"
pub "$NATS_URL" dump ALERTS | grep -q " alert.system.lag " || fail "no alert.system.lag in ALERTS"
pass "stopped ${stopped} s while $N events arrived: consumer lag up to $max_lag in /metrics, alert.system.lag raised, back to 0 and cleared"

kill -TERM "$proc"
wait "$proc" || fail "SIGTERM exit $?: $(tail -5 proc.log)"
dlq_empty "$NATS_URL" || fail "events dead-lettered"
res=$("$SEQCHECK" stream "$NATS_URL" --session SC1 --expect "1-$((N0 + N))") || fail "stream: $res"
res=$(store_seqs "$DB" | "$SEQCHECK" lines --session SC1 --expect "1-$((N0 + N))") || fail "store: $res"
audit=$(sqlite3 "$DB" "select sum(total) from audit")
[ "$audit" = $((N0 + N)) ] || fail "audit counts $audit events, want $((N0 + N))"
pass "stream and store: $(echo "$res" | sed 's/^seqcheck: //'); audit $audit"
summary
