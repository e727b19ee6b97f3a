#!/usr/bin/env bash
# Gap recovery, live: a veth pair between two network namespaces this test
# makes (as in collector_live.sh). The sender multicasts a synthesized feed and
# loses packets on purpose; it also serves MoldUDP64 re-requests on
# 10.77.0.1:26478, which the collector (in the other namespace, DPDK
# net_af_packet for the feed, a kernel UDP socket for re-requests) uses.
#  1. 3 % loss: every sequence number reaches the stream exactly once, the
#     stats show the gaps recovered and none permanent, and the request rate
#     stays within the configured token bucket.
#  2. a range the server refuses: exactly that range is a permanent gap, in
#     the summary, /stats.json, /metrics and as one alert.system.gap in
#     ALERTS; everything else arrives exactly once.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
veth_pair

ns_nats_start
NATS=nats://127.0.0.1:4222

# http_rx PORT PATH: lib.sh's http_get inside the collector's namespace
http_rx() { ns_http_get "$1" "$2"; }

# start_collector FEED LOG EXTRA...: the collector on vrx with recovery from the sender
start_collector() {
	local feed=$1 log=$2
	shift 2
	ip netns exec "$RX" "$MDM_BIN/mdmesh-collector" --iface vrx --feed-dst 233.54.12.111:26477 \
		--http 127.0.0.1:0 --set eal.mem_mb=256 --set input.mbufs=8191 --set feed.name="$feed" \
		--set feed.rerequest=10.77.0.1:26478 "$@" 2> "$log" &
	col=$!
	MDM_T_PIDS+=("$col")
	for _ in $(seq 1 200); do grep -q "receiving on" "$log" && break; sleep 0.05; done
	grep -q "receiving on net_af_packet0" "$log" || fail "collector did not start: $(tail -5 "$log")"
	http_port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$log")
	[ -n "$http_port" ] || fail "no metrics port in $log"
}

# stream_seqs FEED: the sequence numbers of FEED's events in MD, one a line
stream_seqs() {
	ip netns exec "$RX" "$MDM_BIN/mdmesh" tail --nats "$NATS" --all --idle-timeout 1 "md.$1.>" | jq -r .header.seq
}

# wait_stream FEED N: until FEED has N events in MD (or 20 s)
wait_stream() {
	local n=0
	for _ in $(seq 1 40); do
		n=$(stream_seqs "$1" | wc -l)
		[ "$n" -ge "$2" ] && return 0
		sleep 0.5
	done
	echo "$n"
}

# ---- 1. loss, every range recovered, rate bounded ----
RATE=40
BURST=4
start_collector g1 col1.log --set feed.rerequest_rate=$RATE --set feed.rerequest_burst=$BURST
t0=$SECONDS
ip netns exec "$TX" "$MDM_BIN/mdmesh-loadgen" send --rate 10000 --duration 3 --symbols 50 --seed 7 \
	--session GAPS0001 --dst 233.54.12.111:26477 --iface-addr 10.77.0.1 --ttl 1 \
	--loss 0.03 --loss-seed 11 --rerequest 10.77.0.1:26478 --rerequest-linger 6 2> send1.log ||
	fail "send exit $?: $(tail -3 send1.log)"
lost=$(sed -n 's/.*lost on purpose: \([0-9]*\) packets (\([0-9]*\) events).*/\2/p' send1.log)
[ -n "$lost" ] && [ "$lost" -gt 100 ] || fail "sender lost '$lost' events on purpose, expected hundreds: $(tail -3 send1.log)"
rrline=$(grep "rerequest:" send1.log)
requests=$(sed -n 's/.*rerequest: \([0-9]*\) requests (max \([0-9]*\) in 1 s, over \([0-9.]*\) s).*/\1/p' send1.log)
maxps=$(sed -n 's/.*rerequest: \([0-9]*\) requests (max \([0-9]*\) in 1 s.*/\2/p' send1.log)
span=$(sed -n 's/.*in 1 s, over \([0-9.]*\) s).*/\1/p' send1.log)
[ -n "$requests" ] && [ "$requests" -gt 0 ] || fail "no re-request reached the sender: $rrline"
wait_stream g1 30000 > /dev/null || true
kill -INT "$col"
wait "$col" || fail "collector exit $? after SIGINT: $(tail -12 col1.log)"
seqs=$(stream_seqs g1)
total=$(echo "$seqs" | wc -l)
distinct=$(echo "$seqs" | sort -un | wc -l)
read -r first last <<< "$(echo "$seqs" | awk 'NR == 1 || $1 < lo { lo = $1 } $1 > hi { hi = $1 } END { print lo, hi }')"
[ "$total" -eq 30000 ] && [ "$distinct" -eq 30000 ] && [ "$first" -eq 1 ] && [ "$last" -eq 30000 ] ||
	fail "stream holds $total events, $distinct distinct, $first..$last; want 1..30000 once each ($(grep -A3 recovery col1.log))"
rec=$(grep "  recovery " col1.log)
grep -q "events     30000 = stored 30000 .* : balanced" col1.log || fail "summary: $(grep events col1.log)"
echo "$rec" | grep -q "permanent gaps 0 " || fail "permanent gaps with a serving server: $rec"
gaps=$(echo "$rec" | sed -n 's/.*gaps recovered \([0-9]*\) of \([0-9]*\) (\([0-9]*\) messages re-requested.*/\1 \2 \3/p')
read -r grec gtot gmsg <<< "$gaps"
[ "$grec" -gt 0 ] && [ "$grec" -eq "$gtot" ] && [ "$gmsg" -eq "$lost" ] ||
	fail "recovered '$gaps' (gaps, of, messages); the sender lost $lost events: $rec"
pass "3% loss: $lost lost events in $grec gaps all recovered by re-request; 30000 sequences in the stream, each once"

limited=$(echo "$rec" | sed -n 's/.*rate-limited \([0-9]*\);.*/\1/p')
sent=$(echo "$rec" | sed -n 's/.*requests sent \([0-9]*\),.*/\1/p')
[ "$sent" -eq "$requests" ] || fail "collector sent $sent requests, sender got $requests"
# the bucket allows BURST at once and RATE a second after that; the sender
# stamps arrivals, so one request of delivery jitter is allowed
[ "$maxps" -le $((RATE + BURST + 1)) ] || fail "max $maxps requests in 1 s > rate $RATE + burst $BURST ($rrline)"
allowed=$(awk -v s="$span" -v r=$RATE -v b=$BURST 'BEGIN { printf "%d", b + r * s + 1 }')
[ "$requests" -le "$allowed" ] || fail "$requests requests over $span s > burst + rate x span = $allowed"
[ "$limited" -gt 0 ] || fail "the rate limit never held a request back (rate-limited $limited): the test does not exercise it"
pass "rate limit: $requests requests over ${span} s, at most $maxps in any second (limit $RATE/s + burst $BURST), $limited gaps held back"

# ---- 2. a refused range is one permanent gap, reported exactly ----
A=8000
B=8100
start_collector g2 col2.log --set feed.rerequest_timeout=100ms --set feed.rerequest_retries=2
ip netns exec "$TX" "$MDM_BIN/mdmesh-loadgen" send --rate 10000 --duration 2 --symbols 50 --seed 8 \
	--session GAPS0002 --dst 233.54.12.111:26477 --iface-addr 10.77.0.1 --ttl 1 \
	--loss 0.01 --drop-range $A-$B --rerequest 10.77.0.1:26478 --rerequest-refuse $A-$B \
	--rerequest-linger 3 2> send2.log || fail "send exit $?: $(tail -3 send2.log)"
grep -q "refused messages" send2.log || fail "sender: $(tail -2 send2.log)"
want=$((20000 - (B - A + 1)))
wait_stream g2 $want > /dev/null || true
stats=$(http_rx "$http_port" /stats.json) || fail "/stats.json"
metrics=$(http_rx "$http_port" /metrics) || fail "/metrics"
kill -INT "$col"
wait "$col" || fail "collector exit $? after SIGINT: $(tail -12 col2.log)"
seqs=$(stream_seqs g2)
total=$(echo "$seqs" | wc -l)
distinct=$(echo "$seqs" | sort -un | wc -l)
inrange=$(echo "$seqs" | awk -v a=$A -v b=$B '$1 >= a && $1 <= b' | wc -l)
[ "$total" -eq "$want" ] && [ "$distinct" -eq "$want" ] && [ "$inrange" -eq 0 ] ||
	fail "stream: $total events, $distinct distinct, $inrange in $A-$B; want $want once each, none refused"
grep -q "    permanent $A-$B (not_served, " col2.log || fail "summary: $(grep -A20 '  recovery' col2.log)"
grep -q "permanent gaps 1 ($((B - A + 1)) messages, 1 alerts published)" col2.log ||
	fail "summary: $(grep '  recovery' col2.log)"
grep -q "permanent gap $A-$B ($((B - A + 1)) messages) in session GAPS0002: not_served" col2.log ||
	fail "no log line for the permanent gap"
echo "$stats" | jq -e --argjson a $A --argjson b $B '.collector.recovery | .permanent_gaps == 1 and
	.permanent_msgs == ($b - $a + 1) and .permanent[0].from == $a and .permanent[0].to == $b and
	.permanent[0].reason == "not_served" and .gaps_recovered >= 1' > /dev/null ||
	fail "/stats.json recovery: $(echo "$stats" | jq -c .collector.recovery)"
echo "$metrics" | grep -q '^mdmesh_collector_permanent_gaps_total 1$' &&
	echo "$metrics" | grep -q "^mdmesh_collector_permanent_gap_messages_total $((B - A + 1))$" &&
	echo "$metrics" | grep -q '^mdmesh_collector_permanent_gaps_by_reason_total{reason="not_served"} 1$' ||
	fail "/metrics: $(echo "$metrics" | grep -E 'permanent|rerequest')"
alerts=$(ip netns exec "$RX" "$MDM_BIN/mdmesh" tail --nats "$NATS" --stream ALERTS --all --idle-timeout 1 'alert.>')
[ "$(echo "$alerts" | grep -c .)" -eq 1 ] || fail "ALERTS holds $(echo "$alerts" | grep -c .) alerts, want 1: $alerts"
echo "$alerts" | jq -e --argjson a $A --argjson b $B '.rule == "gap" and .feed == "g2" and .session == "GAPS0002" and
	.seq_first == $a and .seq_last == $b and .value == ($b - $a + 1) and .severity == "critical"' > /dev/null ||
	fail "alert: $alerts"
pass "refused $A-$B: exactly that range permanent (summary, /stats.json, /metrics, one alert.system.gap in ALERTS); $want other sequences once each"
summary
