#!/usr/bin/env bash
# The collector end to end, as an operator runs it: a real nats-server with
# JetStream, synthesized pcaps replayed through DPDK net_pcap (--no-huge), and
# the stream read back with `mdmesh tail`: exactly one message per sequence
# number, right subjects and headers, fields equal to the synthesizer's truth;
# a replay adds nothing (Nats-Msg-Id dedup); a nats-server kill -9 + restart
# mid-run loses nothing; live multicast over a veth pair through net_af_packet.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
MD="$MDM_BIN/mdmesh"
COL="$MDM_BIN/mdmesh-collector"
# 2-core CI: the poll loops back off when idle (the default); logs go to files
# market views off: they are tested in collector_views. The default 5 s ack
# timeout: a shorter one, on a loaded 2-core box, is outlasted by acks of a
# full-speed replay, and the resends count as duplicates in run 1's summary
# a replay is checked to be all duplicates: the streams' duplicate window must
# outlast the first run and its checks, which took over the default 2 min on
# a loaded box (the replay's views were stored anew)
COLLECT=(--set stream.duplicate_window=30m --http 127.0.0.1:0 --set eal.mem_mb=256 --set input.mbufs=8191
	--set views.enabled=false)

start_nats
"$LG" synth --out feed.pcap --messages 20000 --symbols 200 --seed 21 --truth feed.truth 2>/dev/null

# 1. replay a capture: every event stored once, fields as sent
"$COL" --nats "$NATS_URL" --pcap feed.pcap --exit-on-eof "${COLLECT[@]}" 2> run1.log || fail "collector exit $?: $(tail -5 run1.log)"
grep -q "events     20000 = stored 20000 + duplicate 0 .* : balanced" run1.log || fail "run 1 summary: $(grep events run1.log)"
stream_as_truth stream1.jsonl
[ "$(wc -l < stream1.jsonl)" -eq 20000 ] || fail "stream holds $(wc -l < stream1.jsonl) messages, want 20000"
jq -c 'del(.line_lost)' feed.truth | jq -s -c 'sort_by(.seq)[]' > want.jsonl
cmp stream1.jsonl want.jsonl || fail "stream differs from the truth: $(diff stream1.jsonl want.jsonl | head -4)"
pass "20000 events stored, each field equal to the synthesizer's truth"

ids=$(jq -r '.headers["Nats-Msg-Id"]' stream1.jsonl.raw | sort -u | wc -l)
[ "$ids" -eq 20000 ] || fail "$ids distinct Nats-Msg-Id, want 20000"
bad=$(jq -r 'select(.subject != ("md.itch." + .event.header.type + "." + (if .event.header.symbol == "" then "_" else .event.header.symbol end))
	or .headers["Nats-Msg-Id"] != ("itch." + .event.header.session + "." + (.event.header.seq | tostring))
	or .headers["Content-Type"] != "application/protobuf; proto=mdmesh.v1.MarketEvent") | .subject' stream1.jsonl.raw | head -3)
[ -z "$bad" ] || fail "wrong subject or headers: $bad"
pass "subjects md.itch.<type>.<symbol>, Nats-Msg-Id itch.<session>.<seq>, Content-Type"

# `mdmesh decode` (the nats sub --translate filter) reads exactly the bytes a
# subscriber receives, for a sample of every message type
for s in $(jq -r '[.stream_seq, .event.header.type] | @tsv' stream1.jsonl.raw | sort -k2,2 -u | cut -f1); do
	"$MD" tail --nats "$NATS_URL" --from-seq "$s" --count 1 --raw > msg.bin
	"$MD" decode < msg.bin > decoded.json || fail "decode of stream message $s failed"
	"$MD" tail --nats "$NATS_URL" --from-seq "$s" --count 1 > tailed.json
	cmp -s decoded.json tailed.json || fail "decode != tail for stream message $s"
done
pass "mdmesh decode reads what a subscriber receives (one message of each of the 23 types)"

# 2. the same capture again: all duplicates, nothing added
"$COL" --nats "$NATS_URL" --pcap feed.pcap --exit-on-eof "${COLLECT[@]}" 2> run2.log || fail "replay exit $?"
grep -q "events     20000 = stored 0 + duplicate 20000 .* : balanced" run2.log || fail "replay summary: $(grep events run2.log)"
n=$("$MD" tail --nats "$NATS_URL" --all --idle-timeout 2 'md.>' | wc -l)
[ "$n" -eq 20000 ] || fail "after replay the stream holds $n, want 20000"
pass "replay: 20000 duplicates, stream still 20000"

# 3. back-pressure policy "drop": a tiny ring at full replay speed drops at the
#    edge; every drop is counted with its sequence range and the stream holds
#    exactly the rest
"$LG" synth --out drop.pcap --messages 50000 --symbols 100 --seed 23 --session DROPRUN001 2>/dev/null
"$COL" --nats "$NATS_URL" --pcap drop.pcap --exit-on-eof "${COLLECT[@]}" --set ring.size=1024 \
	--set ring.full_policy=drop --set publish.max_pending=256 2> run_drop.log || fail "drop run exit $?: $(tail -5 run_drop.log)"
line=$(grep "events     50000 = " run_drop.log) || fail "drop summary: $(grep events run_drop.log)"
echo "$line" | grep -q ": balanced" || fail "drop run not balanced: $line"
dropped=$(echo "$line" | sed -n 's/.*dropped(ring full) \([0-9]*\).*/\1/p')
stored=$(echo "$line" | sed -n 's/.*stored \([0-9]*\) .*/\1/p')
[ "$dropped" -gt 0 ] || fail "a 1024-slot ring at full speed dropped nothing: the test checks nothing ($line)"
grep -q "^    dropped  [0-9]*-[0-9]*" run_drop.log || fail "no dropped sequence ranges in the summary"
n=$("$MD" tail --nats "$NATS_URL" --all --idle-timeout 2 --headers 'md.>' | jq -r 'select(.event.header.session == "DROPRUN001") | .event.header.seq' | sort -un | wc -l)
[ "$n" -eq "$stored" ] && [ $((n + dropped)) -eq 50000 ] || fail "stream has $n of session DROPRUN001, stored $stored, dropped $dropped"
pass "ring.full_policy=drop: $stored stored + $dropped dropped (ranges listed) = 50000, stream holds $n"

# 4. nats-server killed (-9) and restarted mid-run: nothing lost, nothing doubled
"$LG" synth --out big.pcap --messages 200000 --symbols 500 --seed 22 --session BIGRUN0001 2>/dev/null
HTTP_PORT=$(free_port)
"$COL" --nats "$NATS_URL" --pcap big.pcap --exit-on-eof "${COLLECT[@]}" --http "127.0.0.1:$HTTP_PORT" 2> run3.log &
col=$!
MDM_T_PIDS+=("$col")
wait_for 30 'grep -q "receiving on" run3.log || ! kill -0 $col 2>/dev/null'
grep -q "receiving on" run3.log || fail "collector did not start: $(tail -5 run3.log)"
# running: it has read packets and published events
wait_for 30 'http_get "$HTTP_PORT" /metrics > metrics.txt && grep -q "^mdmesh_collector_rx_packets_total [1-9]" metrics.txt &&
	http_get "$HTTP_PORT" /stats.json | jq -e ".collector.account.events > 0" >/dev/null' ||
	fail "/metrics has no packet count: $(head -5 metrics.txt)"
grep -q '^mdmesh_collector_malformed_packets_total{reason="short_header"} 0' metrics.txt || fail "/metrics lacks malformed by reason"
grep -q 'mdmesh_collector_stage_latency_seconds{stage="wire_to_ack",quantile="0.99"}' metrics.txt || fail "/metrics lacks stage latency"
grep -q '^mdmesh_collector_symbols_unusual_total{reason="non_ascii"} 0' metrics.txt || fail "/metrics lacks unusual symbols by reason"
http_get "$HTTP_PORT" /stats.json > stats.json
jq -e '.collector.account.events > 0' stats.json >/dev/null || fail "/stats.json has no account"
jq -e '.collector_symbols_unusual_total.space == 0 and .collector_symbols_learned_total == 0' stats.json >/dev/null ||
	fail "/stats.json: unusual or learned symbols in a session with every R: $(jq -c '{collector_symbols_unusual_total, collector_symbols_learned_total}' stats.json)"
[ "$(http_get "$HTTP_PORT" /healthz)" = "ok" ] || fail "/healthz not ok"
pass "/metrics (packets, malformed and unusual symbols by reason, stage latency), /stats.json, /healthz served while running"
kill -9 "$NATS_PID"
wait "$NATS_PID" 2>/dev/null || [ $? -eq 137 ] || fail "nats-server: exit $? after kill -9"
# down until the collector has seen it go (mid-run: it must still be running)
wait_for 30 'grep -q "bus: disconnected" run3.log || ! kill -0 $col 2>/dev/null'
grep -q "bus: disconnected" run3.log || fail "the collector exited before it saw the broker go: $(tail -3 run3.log)"
restart_nats
wait "$col" || fail "collector exit $? after the restart: $(tail -8 run3.log)"
grep -q "events     200000 = .* : balanced" run3.log || fail "restart summary: $(grep events run3.log)"
"$MD" tail --nats "$NATS_URL" --all --idle-timeout 3 --headers 'md.>' > big.raw
got=$(jq -r 'select(.event.header.session == "BIGRUN0001") | .event.header.seq' big.raw | sort -n | uniq | wc -l)
dup=$(jq -r 'select(.event.header.session == "BIGRUN0001") | .event.header.seq' big.raw | sort -n | uniq -d | wc -l)
[ "$got" -eq 200000 ] || fail "after the restart $got distinct sequences stored, want 200000"
[ "$dup" -eq 0 ] || fail "$dup sequences stored twice"
pass "nats-server kill -9 + restart mid-run: 200000 stored once each ($(grep -o 'stored [0-9]* + duplicate [0-9]*' run3.log))"
summary
