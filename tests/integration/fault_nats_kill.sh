#!/usr/bin/env bash
# Fault: nats-server (JetStream, file storage) killed with -9 in the middle of
# a live run and restarted on the same port and store. A sender multicasts a
# synthesized feed over a veth pair at 20k events/s; the collector receives it
# through net_af_packet and publishes to MD; a processor consumes into
# SQLite, routing every event to the events table. Counted end to end: every
# sequence number is in the stream exactly once and in the store exactly
# once; the collector's account balances with no gap and no drop.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
. "$MDM_SRC_DIR/tests/integration/fault_lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
command -v curl >/dev/null || fail "curl is not installed"
cd "$MDM_T_TMP"
veth_pair
ns_nats_start

RATE=20000 SECS=8 SESSION=FNK0000001
N=$((RATE * SECS))
DB="$MDM_T_TMP/store.db"
fault_rules rules.yaml
start_collector col.log
ip netns exec "$RX" "$MDM_BIN/mdmesh-processor" --nats "$NATS_URL" --store "$DB" --rules rules.yaml --http 127.0.0.1:9102 \
	--set consumer.ack_wait=5s --set consumer.nak_delays=200ms --set consumer.max_deliver=100 2>proc.log &
proc=$!
MDM_T_PIDS+=("$proc")
wait_for 15 '[ -n "$(rx_http 9102 /healthz)" ]' || fail "processor did not start: $(tail -5 proc.log)"

ip netns exec "$TX" "$MDM_BIN/mdmesh-loadgen" send "${SEND_TO[@]}" --rate "$RATE" --duration "$SECS" --symbols 200 \
	--seed 7 --session "$SESSION" 2>send.log &
sender=$!
MDM_T_PIDS+=("$sender")
rows() { sqlite3 "$DB" "select count(*) from events" 2>/dev/null || echo 0; }
# mid-run: the collector has stored a good part and the processor committed some
wait_for 20 '[ "$(col_account stored)" -gt $((N / 4)) ] && [ "$(rows)" -gt 0 ]' ||
	fail "pipeline not flowing: collector stored $(col_account stored), store rows $(rows)"
at_kill=$(col_account stored)
ns_nats_kill
# the outage lasts until both clients have seen it (what the checks below rely on)
wait_for 30 'grep -q "bus: disconnected" col.log && grep -q "bus: disconnected" proc.log' ||
	fail "the outage went unnoticed: $(grep 'bus:' col.log proc.log | tail -4)"
ns_nats_start
wait "$sender" || fail "sender exit $?: $(tail -2 send.log)"
grep -q "done: $N events" send.log || fail "sender: $(tail -1 send.log)"
wait_for 60 '[ "$(col_account events)" = $N ] && [ "$(col_account in_flight)" = 0 ] && [ "$(col_account in_ring)" = 0 ]' ||
	fail "collector did not publish everything: $(rx_http 9101 /stats.json | jq -c .collector.account)"
stop_collector col.log
line=$(grep "^  events     $N = " col.log) || fail "collector summary: $(grep -A1 '^  sequence' col.log)"
echo "$line" | grep -q "dropped(ring full) 0 + dropped(stop) 0 + failed 0 .* : balanced" || fail "collector: $line"
grep -q "^  sequence   next $((N + 1)), 0 duplicates dropped, 0 gaps" col.log || fail "collector: $(grep '^  sequence' col.log)"
bus=$(grep "^  bus " col.log)
echo "$bus" | grep -Eq " [1-9][0-9]* disconnects, [1-9][0-9]* reconnects" || fail "no reconnect: $bus"
pass "collector: nats-server killed at $at_kill stored, back once both clients saw it: $N events = $(echo "$line" | grep -o 'stored [0-9]* + duplicate [0-9]*'), no gap, no drop; ${bus#  bus        }"

# the stream: every sequence exactly once
res=$(in_rx "$SEQCHECK" stream "$NATS_URL" --session "$SESSION" --expect "1-$N") || fail "stream: $res"
pass "stream MD: $(echo "$res" | sed 's/^seqcheck: //')"

# the store: once the consumer is drained, every sequence exactly once
drained() {
	local m
	m=$(rx_http 9102 /metrics)
	[ "$(metric_of "$m" mdmesh_processor_consumer_lag)" = 0 ] && [ "$(metric_of "$m" mdmesh_processor_consumer_ack_pending)" = 0 ] &&
		[ "$(metric_of "$m" mdmesh_processor_in_flight)" = 0 ] && [ "$(rows)" -ge $N ]
}
wait_for 90 drained || fail "processor not drained: $(rows) rows; $(rx_http 9102 /metrics | grep -E '^mdmesh_processor_(consumer_lag|consumer_ack_pending|in_flight) ')"
kill -TERM "$proc"
wait "$proc" || fail "processor exit $? on SIGTERM: $(tail -5 proc.log)"
dlq_empty "$NATS_URL" || fail "events dead-lettered: $(pub "$NATS_URL" dump DLQ | head -3)"
res=$(store_seqs "$DB" | "$SEQCHECK" lines --session "$SESSION" --expect "1-$N") || fail "store: $res"
read -r audit_total audit_ok < <(sqlite3 -separator ' ' "$DB" "select sum(total), sum(ok) from audit")
[ "$audit_total" -ge "$N" ] || fail "audit rows count $audit_total events, fewer than the $N stored"
grep -q "bus: disconnected" proc.log && grep -q "bus: reconnected" proc.log ||
	fail "the processor did not see the outage: $(grep 'bus:' proc.log | tail -3)"
pass "store events table: $(echo "$res" | sed 's/^seqcheck: //'); audit $audit_total events in committed batches ($((audit_total - N)) redelivered after their commit, rows idempotent)"
summary
