#!/usr/bin/env bash
# Hostile input on a live FIX session (labels fix, hostile): mdmesh-fix
# --listen against tests/integration/fix_hostile_peer.py, a raw-socket peer
# that sends a bad checksum, wrong BodyLengths, missing required tags, an
# unknown MsgType, a 9-decimal price, garbage, an oversized message, and
# drips a message one byte a second (in a 1 s HeartBtInt session, and as a
# Logon against session.logon_timeout=2s). The peer checks each is counted by
# reason on /metrics and answered as FIX says (Reject with the reason and
# tag, or the line dropped); here: mdmesh-fix never crashed (SIGTERM exits
# 0), /stats.json carries the same counts, and the valid executions sent
# around the garbage are in EXEC exactly once - none lost, none doubled
# (published and ExecutionReports counted once each, not only de-duplicated
# by the stream).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_nats_cli
command -v python3 >/dev/null || skip "python3 is not installed"
start_nats
cd "$MDM_T_TMP"
BIN=${MDM_BIN:?}
HERE=$(cd "$(dirname "$0")" && pwd)

FP=$(free_port)
HP=$(free_port)
"$BIN/mdmesh-fix" --nats "$NATS_URL" --sender US --target BRK --listen "127.0.0.1:$FP" --http "127.0.0.1:$HP" \
	--session hx --state-dir st --set session.max_message=4096 --set session.logon_timeout=2s \
	--set log_level=info >fix.log 2>&1 &
FIX_PID=$!
MDM_T_PIDS+=("$FIX_PID")
wait_port "$FP" 20 || fail "mdmesh-fix --listen did not listen: $(tail -3 fix.log)"
wait_port "$HP" 20 || fail "mdmesh-fix http did not listen: $(tail -3 fix.log)"

python3 "$HERE/fix_hostile_peer.py" --port "$FP" --http "$HP" --session hx --logon-timeout 2 \
	--expect expect.txt | tee peer.log || fail "$(grep FAILED peer.log) (mdmesh-fix: $(tail -3 fix.log))"
kill -0 "$FIX_PID" 2>/dev/null || fail "mdmesh-fix died: $(tail -5 fix.log)"
N=$(wc -l <expect.txt)
pass "hostile peer: every refusal counted by reason and answered as FIX says; $N valid executions acked"

# the same numbers on /stats.json
http_get "$HP" /stats.json >stats.json || fail "no /stats.json"
for r in bad_checksum:1 bad_body_length:2 missing_tag:2 unknown_msg_type:1 bad_price:1 garbage:1 oversized:1; do
	got=$(jq "[.. | objects | .\"${r%%:*}\"? | numbers] | add // 0" stats.json)
	[ "$got" = "${r##*:}" ] || fail "/stats.json: ${r%%:*} = $got, expected ${r##*:}"
done
grep -q "TestRequest unanswered" fix.log || fail "no TestRequest timeout logged for the dripping peer"
grep -q "no Logon within 2000 ms" fix.log || fail "no Logon timeout logged for the dripped Logon"
pass "/stats.json counts the same; the drips ended by the TestRequest and Logon timeouts"

metric() { http_get "$HP" /metrics | awk -v k="$1" 'index($0, k) == 1 { s += $NF } END { print s + 0 }'; }
# the stage latencies (receive -> published -> acked) are filled, on both endpoints
for st in receive_to_published published_to_acked receive_to_acked; do
	wait_for 10 "[ \$(metric 'mdmesh_fix_stage_latency_seconds_count{stage=\"$st\"') -ge 1 ]" ||
		fail "/metrics: no $st latency"
	[ "$(http_get "$HP" /stats.json | jq ".latency.$st.count_total // 0")" -ge 1 ] || fail "/stats.json: no $st latency"
done
pub=$(metric 'mdmesh_fix_published_total{')
trades=$(metric 'mdmesh_fix_execution_reports_total{session="hx",kind="trade"}')
kill -TERM "$FIX_PID"
wait "$FIX_PID" || fail "mdmesh-fix exited $? after SIGTERM: $(tail -5 fix.log)"
[ "$pub" = "$N" ] || fail "published $pub Executions, $N valid were sent"
[ "$trades" = "$N" ] || fail "$trades trade ExecutionReports counted, $N valid were sent"
"$MDM_BIN/mdmesh" tail --nats "$NATS_URL" --stream EXEC --all --idle-timeout 2 'exec.>' >exec.jsonl ||
	fail "mdmesh tail exec.> failed"
jq -r '.exec_id // .event.exec_id // empty' exec.jsonl | sort >got.txt
sort expect.txt >want.txt
cmp -s got.txt want.txt || fail "EXEC holds $(wc -l <got.txt) executions, not the $N sent: $(diff want.txt got.txt | head -5)"
pass "EXEC: exactly the $N valid executions, once each (published $pub, trades counted $trades)"
summary
