#!/usr/bin/env bash
# mdmesh-processor when things go wrong: the store is locked by another
# writer (batches roll back and are naked, then commit once it is free: no
# row lost or doubled), stays locked past consumer.max_deliver (the server's
# MAX_DELIVERIES advisory dead-letters each message with reason max_deliver),
# SIGHUP with a broken rules file keeps the old rules, a good one replaces
# them, /healthz and /metrics answer, and SIGTERM stops cleanly.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"

PROC="$MDM_BIN/mdmesh-processor"
PUB="$MDM_BUILD_DIR/tests/md_publish"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
command -v curl >/dev/null || fail "curl is not installed"
start_nats
DB="$MDM_T_TMP/p.db"
HTTP_PORT=$(free_port)
RULES="$MDM_T_TMP/rules.yaml"
route_rules() {
	printf 'rules:\n  - name: watch\n    match:\n      symbol: [%s]\n    targets:\n      - table: watched\n' "$1" >"$RULES.tmp"
	mv "$RULES.tmp" "$RULES"
}
route_rules AAPL

trades() { sqlite3 "$DB" "select count(*) from trades"; }
metric() { curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { print s + 0 }'; }

"$PUB" "$NATS_URL" publish --count 0 >/dev/null # the stream (the collector makes it in production)
start_proc() { # start_proc [EXTRA ARGS]: the processor under test, in the background
	"$PROC" --nats "$NATS_URL" --store "$DB" --rules "$RULES" --http "127.0.0.1:$HTTP_PORT" --set workers=1 \
		--set consumer.max_deliver=2 --set consumer.nak_delays=200ms --set consumer.ack_wait=30s "$@" \
		2>>"$MDM_T_TMP/proc.log" &
	ppid=$!
	MDM_T_PIDS+=("$ppid")
	wait_port "$HTTP_PORT" 10 || fail "no HTTP listener: $(tail -5 "$MDM_T_TMP/proc.log")"
}
start_proc
[ "$(curl -sf "http://127.0.0.1:$HTTP_PORT/healthz")" = ok ] || fail "/healthz not ok"

"$PUB" "$NATS_URL" publish --count 100 --session S1 >/dev/null
wait_for 10 '[ "$(trades)" = 100 ]' || fail "100 events -> $(trades) trades"
[ "$(sqlite3 "$DB" "select count(*) from watched where symbol = 'AAPL'")" = 25 ] || fail "rule table rows"
pass "100 events -> 100 trades, 25 AAPL events routed to table watched"

# Another writer holds the database for 7 s: the batch in hand fails after
# the store's 5 s busy timeout and is naked, its redelivery commits.
(echo "BEGIN EXCLUSIVE;"; sleep 7; echo "COMMIT;") | sqlite3 "$DB" &
lockpid=$!
sleep 0.3
"$PUB" "$NATS_URL" publish --count 50 --session S2 >/dev/null
wait "$lockpid"
wait_for 15 '[ "$(trades)" = 150 ]' || fail "after the lock: $(trades) trades, want 150"
[ "$(sqlite3 "$DB" "select count(distinct session || seq) from trades")" = 150 ] || fail "doubled rows"
naks=$(metric mdmesh_processor_naks_total)
failed=$(metric 'mdmesh_processor_failed_batches_total{worker="0",cause="store"}')
[ "$naks" -ge 1 ] && [ "$failed" -ge 1 ] || fail "naks $naks, failed store batches $failed"
pass "store locked 7 s: $failed failed batch(es), $naks naks, then 150 rows exactly"
# Events waited ~7 s wire -> persisted: the p99 alarm (1 s) published an Alert.
wait_for 3 '"$PUB" "$NATS_URL" dump ALERTS | grep -q "^[0-9]* alert.system.p99 "' || fail "no alert.system.p99 in ALERTS"
[ "$(metric mdmesh_processor_alerts_raised_total)" -ge 1 ] || fail "alerts_raised_total"
pass "p99 alarm -> Alert on alert.system.p99"

# SIGTERM: the batch in hand is committed and acked, exit 0 with a summary.
kill -TERM "$ppid"
rc=0
wait "$ppid" || rc=$?
[ "$rc" = 0 ] || fail "SIGTERM exit $rc"
grep -q "committed .* messages acked" "$MDM_T_TMP/proc.log" || fail "no summary"
pass "SIGTERM -> exit 0 with summary"

# Locked past max_deliver (2) deliveries: with ack_wait 1 s the server
# redelivers while the worker waits on the lock, gives up after the second
# delivery and its MAX_DELIVERIES advisory dead-letters each message. The
# processor is then killed before the lock goes, so no copy still queued in
# it can commit; the server does not deliver them again.
start_proc --set consumer.ack_wait=1s
coproc LOCK { sqlite3 "$DB"; }
echo "BEGIN EXCLUSIVE;" >&"${LOCK[1]}"
sleep 0.3
"$PUB" "$NATS_URL" publish --count 20 --session S3 >/dev/null
max_dl() { "$PUB" "$NATS_URL" dump DLQ | grep -c "reason=max_deliver" || true; }
wait_for 20 '[ "$(max_dl)" = 20 ]' || fail "max_deliver dead letters: $(max_dl), want 20"
[ "$(metric mdmesh_processor_max_deliver_dead_letters_total)" = 20 ] || fail "max_deliver metric"
kill -9 "$ppid"
wait "$ppid" 2>/dev/null || true
echo "COMMIT;" >&"${LOCK[1]}"
exec {LOCK[1]}>&-
wait "$LOCK_PID" 2>/dev/null || true
"$PUB" "$NATS_URL" dump DLQ | grep "reason=max_deliver" | grep -v "deliveries=2 " && fail "delivery count not 2"
"$PUB" "$NATS_URL" dump DLQ | grep -q "consumer=processor subject=md.itch.P.AAPL stream_seq=.* reason=max_deliver payload=0a" ||
	fail "max_deliver dead letter lacks subject/payload"
start_proc
sleep 1
[ "$(trades)" = 150 ] || fail "dead-lettered events were persisted: $(trades) trades"
pass "locked past max_deliver: 20 messages dead-lettered with reason max_deliver, deliveries=2"

# SIGHUP: a broken file is refused with its line, the old rules stay; a good one replaces them.
printf 'rules:\n  - name: bad\n    match:\n      nosuchfield: [1]\n    targets:\n      - table: watched\n' >"$RULES"
kill -HUP "$ppid"
wait_for 5 'grep -q "rules.yaml:[0-9]" "$MDM_T_TMP/proc.log"' || fail "bad rules not reported with a line"
"$PUB" "$NATS_URL" publish --count 8 --session S4 >/dev/null
wait_for 10 '[ "$(trades)" = 158 ]' || fail "S4 not processed"
[ "$(sqlite3 "$DB" "select count(*) from watched where session = 'S4'")" = 2 ] || fail "old rules not kept"
route_rules MSFT
kill -HUP "$ppid"
wait_for 5 'grep -q "rules reloaded" "$MDM_T_TMP/proc.log"' || fail "good rules not reloaded"
"$PUB" "$NATS_URL" publish --count 8 --session S5 >/dev/null
wait_for 10 '[ "$(trades)" = 166 ]' || fail "S5 not processed"
[ "$(sqlite3 "$DB" "select group_concat(distinct symbol) from watched where session = 'S5'")" = MSFT ] ||
	fail "new rules not applied"
pass "SIGHUP: broken rules refused (file:line), old kept; good rules applied"

curl -sf "http://127.0.0.1:$HTTP_PORT/stats.json" | grep -q '"processor":{"instance":"processor-1"' || fail "stats.json"
# The reporter merges the workers' histograms once per stats.interval (1 s).
wait_for 3 '[ "$(metric "mdmesh_processor_stage_latency_seconds_count{stage=\"wire_to_persisted\"}")" -ge 16 ]' ||
	fail "wire_to_persisted latency not recorded"
kill -TERM "$ppid"
wait "$ppid" || fail "SIGTERM exit $?"
pass "stats.json and latency metrics; second SIGTERM stop exit 0"
summary
