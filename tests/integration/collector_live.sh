#!/usr/bin/env bash
# Live multicast: a veth pair between two network namespaces this test makes;
# a sender in one multicasts a synthesized feed to 233.54.12.111:26477, the
# collector in the other receives it through DPDK net_af_packet (--iface) and
# publishes to a nats-server in its namespace. Every sequence must arrive.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
veth_pair

"$MDM_BIN/mdmesh-loadgen" synth --out live.pcap --messages 20000 --symbols 100 --seed 31 2>/dev/null
ns_nats_start

# latency.origin itch: latency is measured from the intended send times the
# sender stamps into the ITCH timestamps (same host, same clock)
ip netns exec "$RX" "$MDM_BIN/mdmesh-collector" --iface vrx --feed-dst 233.54.12.111:26477 \
	--http 127.0.0.1:0 --set eal.mem_mb=256 --set input.mbufs=8191 --set latency.origin=itch 2> col.log &
col=$!
MDM_T_PIDS+=("$col")
for _ in $(seq 1 200); do grep -q "receiving on" col.log && break; sleep 0.05; done
grep -q "receiving on net_af_packet0" col.log || fail "collector did not start: $(tail -5 col.log)"

# the sender: the capture's UDP payloads, in order, on a 20000 messages/s
# schedule (1 s), each ITCH timestamp restamped to its intended send time
ip netns exec "$TX" "$MDM_BIN/mdmesh-loadgen" send --pcap live.pcap --rate 20000 \
	--dst 233.54.12.111:26477 --iface-addr 10.77.0.1 --ttl 1 2> send.log || fail "send exit $?: $(tail -3 send.log)"
grep -q "^mdmesh-loadgen send: done: 20000 events" send.log || fail "sender: $(tail -1 send.log)"

# wait until the collector has published all 20000, then stop it gracefully
for _ in $(seq 1 200); do
	n=$(ip netns exec "$RX" "$MDM_BIN/mdmesh" tail --nats nats://127.0.0.1:4222 --all --idle-timeout 0.5 'md.>' | wc -l)
	[ "$n" -ge 20000 ] && break
	sleep 0.2
done
kill -INT "$col"
wait "$col" || fail "collector exit $? after SIGINT: $(tail -8 col.log)"
grep -q "events     20000 = stored 20000 .* : balanced" col.log || fail "summary: $(grep -A2 'sequence' col.log)"
grep -q "0 gaps" col.log || fail "gaps on a loss-free veth: $(grep sequence col.log)"
seqs=$(ip netns exec "$RX" "$MDM_BIN/mdmesh" tail --nats nats://127.0.0.1:4222 --all --idle-timeout 1 'md.>' | jq -r .header.seq | sort -un | wc -l)
[ "$seqs" -eq 20000 ] || fail "$seqs distinct sequences in the stream, want 20000"
pass "live multicast over veth through net_af_packet: 20000 sequences, no gap, stored once each"

# every event's wire time is its intended send time (ITCH timestamp on the
# session date) and was received after it, within seconds
ip netns exec "$RX" "$MDM_BIN/mdmesh" tail --nats nats://127.0.0.1:4222 --all --idle-timeout 1 'md.>' |
	jq -r '.header.rx_ts_ns - .header.wire_ts_ns' > delays.txt
bad=$(awk '$1 < 0 || $1 > 5000000000 { n++ } END { print n + 0 }' delays.txt)
[ "$(wc -l < delays.txt)" -eq 20000 ] && [ "$bad" -eq 0 ] || fail "$bad events with receive - intended send time outside [0, 5 s]"
p50=$(awk '$1 ~ /^ *wire_to_ack/ { print $2 }' col.log)
[ -n "$p50" ] && [ "$p50" -gt 0 ] && [ "$p50" -lt 5000000000 ] || fail "wire_to_ack p50 '$p50' not measured from the send schedule"
pass "latency.origin itch: every event received 0-5 s after its intended send time; wire_to_ack p50 $((p50 / 1000)) us"
summary
