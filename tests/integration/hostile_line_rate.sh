#!/usr/bin/env bash
# Hostile input at line rate. `mdmesh-loadgen synth` mixes a real session with
# every kind of bad input it knows (malformed MoldUDP64 framing, undecodable
# ITCH messages that take a sequence number, oversized, truncated and jumbo
# frames, lying IP/UDP lengths, fragments, random bytes as UDP payloads and
# as raw Ethernet frames, other destinations) and writes what a receiver must
# count for them (--expect, from its own construction). The collector gets:
#   1. the capture at full speed through net_pcap: every counter by reason
#      equals the expectation, every good event is in the stream exactly once
#      (sequence set and types equal the truth), nothing crashes;
#   2. a hostile-heavy capture looped forever (net_pcap infinite_rx) for
#      HOSTILE_SOAK_S seconds: its RSS, sampled twice a second, stays within
#      HOSTILE_RSS_KB of its level after warm-up (under ASan, whose quarantine
#      keeps freed memory, the quarantine is capped at 4 MiB and the bound is
#      8 MiB; LeakSanitizer checks every allocation at exit instead);
#   3. live traffic over a veth pair (MTU 9000) through net_af_packet, sent by
#      `mdmesh-loadgen send`: the same counts, every good event once.
# Labelled `hostile`, so scripts/test also runs it against the ASan/UBSan
# build: any sanitizer report in a log fails it.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
MD="$MDM_BIN/mdmesh"
COL="$MDM_BIN/mdmesh-collector"
SOAK_S=${HOSTILE_SOAK_S:-15}
# scripts/test sets these for its sanitizer stage; by hand, halt on the first report too
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
sanitized=0 loop_asan=$ASAN_OPTIONS
# (no grep -q: with pipefail, nm killed by SIGPIPE would fail the test)
if nm -D "$COL" 2>/dev/null | grep ' __asan_init' > /dev/null; then sanitized=1 loop_asan=$ASAN_OPTIONS:quarantine_size_mb=4; fi
RSS_KB=${HOSTILE_RSS_KB:-$((sanitized ? 8192 : 2048))}
COLLECT=(--set eal.mem_mb=256 --set input.mbufs=8191 --set publish.ack_timeout=2s)
REASONS="oversize short_header block_header_truncated zero_length_block block_overrun count_overrun trailing_bytes"

# no_sanitizer_report LOG: fail on any ASan/UBSan/LSan report in LOG
no_sanitizer_report() {
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"; then
		fail "sanitizer report in $1: $(grep -m3 -E 'Sanitizer|runtime error' "$1")"
	fi
}
# metric FILE NAME: the value of one /metrics line ("missing" when absent)
metric() { awk -v k="$2" '$1 == k { v = $2 } END { print (v == "" ? "missing" : v) }' "$1"; }
# check_counts METRICS EXPECT: every collector counter the expectation names
check_counts() {
	local m=$1 e=$2 bad="" r want got
	for r in $REASONS; do
		want=$(jq ".expect.malformed_packets.$r // 0" "$e")
		got=$(metric "$m" "mdmesh_collector_malformed_packets_total{reason=\"$r\"}")
		[ "$got" = "$want" ] || bad+=" malformed[$r]=$got (want $want)"
	done
	for r in unknown_type bad_length; do
		want=$(jq ".expect.bad_messages.$r" "$e")
		got=$(metric "$m" "mdmesh_collector_bad_messages_total{reason=\"$r\"}")
		[ "$got" = "$want" ] || bad+=" bad_messages[$r]=$got (want $want)"
	done
	got=$(metric "$m" 'mdmesh_collector_bad_messages_total{reason="empty"}')
	[ "$got" = 0 ] || bad+=" bad_messages[empty]=$got (want 0)"
	for r in events:events_total duplicate_messages:duplicate_messages_total \
		gap_messages_missing:gap_messages_missing rx_not_udp:rx_not_udp_total \
		rx_other_destination:rx_other_destination_total; do
		want=$(jq ".expect.${r%%:*}" "$e")
		got=$(metric "$m" "mdmesh_collector_${r#*:}")
		[ "$got" = "$want" ] || bad+=" ${r#*:}=$got (want $want)"
	done
	[ -z "$bad" ] || fail "counts differ from what synth injected:$bad"
}
# stream_check URL TRUTH WANT_EVENTS: the stream holds every good event of
# TRUTH exactly once (sequence numbers and types), nothing else
stream_check() {
	local url=$1 truth=$2 want=$3 n
	${NS_EXEC[@]+"${NS_EXEC[@]}"} "$MD" tail --nats "$url" --all --idle-timeout 2 'md.>' |
		jq -r '[.header.seq, .header.type] | @tsv' | sort -n > stream.tsv
	n=$(wc -l < stream.tsv)
	[ "$n" -eq "$want" ] || fail "stream holds $n events, want $want"
	[ "$(cut -f1 stream.tsv | uniq -d | wc -l)" -eq 0 ] || fail "a sequence number is in the stream twice"
	jq -r 'select((.dropped | not) and (.bad | not)) | [.seq, .type] | @tsv' "$truth" | sort -n > want.tsv
	cmp -s stream.tsv want.tsv || fail "stream (seq, type) differs from the truth: $(diff stream.tsv want.tsv | head -4)"
}
# wait_counts HTTPGET EVENTS FRAMES: until the collector read FRAMES frames and
# JetStream acked EVENTS events (or 120 s), leaving /metrics in metrics.txt.
# Acked = stored + duplicate: on a loaded box an ack slower than
# publish.ack_timeout is resent and the resend acked as a duplicate; the
# stream check below is what proves each event is stored once.
wait_counts() {
	local get=$1 events=$2 frames=$3 acked rx
	for _ in $(seq 1 600); do
		$get /metrics > metrics.txt 2>/dev/null || true
		acked=$(( $(metric metrics.txt mdmesh_collector_events_stored_total | tr -dc 0-9) + \
			$(metric metrics.txt mdmesh_collector_events_duplicate_total | tr -dc 0-9) + 0 ))
		rx=$(( $(metric metrics.txt mdmesh_collector_rx_packets_total | tr -dc 0-9) + 0 ))
		[ "$acked" -ge "$events" ] && [ "$rx" -ge "$frames" ] && return 0
		sleep 0.2
	done
	fail "collector stopped short: $rx of $frames frames read, $acked of $events events acked"
}

# --- 1. a hostile capture at full speed through net_pcap ----------------------
"$LG" synth --out h.pcap --messages 60000 --symbols 200 --seed 7 --gap-every 97 --dup-every 50 \
	--malformed 0.03 --bad-messages 0.002 --hostile 0.06 --truth h.truth --expect h.json 2> synth.log ||
	fail "synth: $(cat synth.log)"
events=$(jq .expect.events h.json)
frames=$(jq '.frames[0]' h.json)
for k in $(jq -r '.hostile_by_kind | to_entries[] | select(.value == 0) | .key' h.json); do
	fail "synth made no hostile frame of kind $k: the test checks nothing for it"
done
[ "$(jq '.bad_by_kind | [.[]] | min' h.json)" -gt 0 ] || fail "synth made no bad message of some kind"
# the same capture through `mdmesh feed dump` (the collector's decode chain
# without DPDK): equal counts, except that a jumbo frame reaches it whole (no
# mbuf limit), so framing rejects it as oversize instead of "not UDP"
"$MD" feed dump h.pcap --dst 233.54.12.111:26477 --summary --json > dump.json || fail "feed dump failed"
jumbo=$(jq .hostile_by_kind.jumbo_frame h.json)
jq -e --slurpfile e h.json --argjson j "$jumbo" '$e[0].expect as $x | . as $d |
	.messages == $x.events and .duplicates == $x.duplicate_messages and .gap_messages_missing == $x.gap_messages_missing
	and .malformed.unknown_type == $x.bad_messages.unknown_type and .malformed.bad_length == $x.bad_messages.bad_length
	and ([$x.malformed_packets | to_entries[] | .value + (if .key == "oversize" then $j else 0 end)]
		== [$x.malformed_packets | keys_unsorted[] as $k | $d.malformed[$k]])
	and ([.skipped_frames | to_entries[] | select(.key != "other_destination") | .value] | add) == $x.rx_not_udp - $j
	and .skipped_frames.other_destination == $x.rx_other_destination' dump.json > /dev/null ||
	fail "feed dump counts differ from the expectation: $(jq -c '{messages, duplicates, malformed, skipped_frames}' dump.json)"
start_nats
HTTP_PORT=$(free_port)
t0=$SECONDS
"$COL" --nats "$NATS_URL" --pcap h.pcap --feed-dst 233.54.12.111:26477 --http "127.0.0.1:$HTTP_PORT" \
	"${COLLECT[@]}" 2> col1.log &
col=$!
MDM_T_PIDS+=("$col")
wait_port "$HTTP_PORT" 20 || fail "collector did not start: $(tail -5 col1.log)"
wait_counts "http_get $HTTP_PORT" "$events" "$frames"
kill -INT "$col"
wait "$col" || fail "collector exit $? after SIGINT: $(tail -8 col1.log)"
no_sanitizer_report col1.log
check_counts metrics.txt h.json
# every event stored once (the stream check), acked as stored or, after a
# resend, as a duplicate
grep '^  events' col1.log | awk -v n="$events" '$2 == n && $5 + $8 == n && / : balanced$/ { ok = 1 } END { exit !ok }' ||
	fail "summary: $(grep '^  events' col1.log)"
stream_check "$NATS_URL" h.truth "$events"
pass "full speed, $frames frames ($(jq .hostile h.json) hostile in 11 kinds, $(jq .malformed h.json) malformed," \
	"$(jq .bad_messages h.json) bad messages) in $((SECONDS - t0)) s: every counter by reason = what synth injected," \
	"$events good events stored once each"

# --- 2. memory under a looped hostile stream ---------------------------------
# (the RX and publish path's memory: book checkpoints, on by default, keep a
# second book filled as it goes and are measured on their own)
# net_pcap's infinite_rx refuses multi-segment mbufs at queue set-up, so the
# looped capture has every hostile kind but jumbo frames
"$LG" synth --out loop.pcap --messages 4000 --symbols 50 --seed 8 --session LOOP000001 --malformed 1 \
	--bad-messages 0.02 --hostile 1 --expect loop.json --hostile-kinds block_header_truncated,oversize,random_payload,udp_length_cut,ip_length_long,udp_length_long,udp_length_short,ip_fragment,random_frame,other_port \
	2> synth2.log || fail "synth: $(cat synth2.log)"
HTTP_PORT=$(free_port)
ASAN_OPTIONS=$loop_asan "$COL" --nats "$NATS_URL" --pcap loop.pcap --feed-dst 233.54.12.111:26477 --http "127.0.0.1:$HTTP_PORT" \
	--set input.pcap_loop=true --set eal.mem_mb=256 --set input.mbufs=16383 --set recovery.checkpoint_interval=0 2> col2.log &
col=$!
MDM_T_PIDS+=("$col")
wait_port "$HTTP_PORT" 20 || fail "collector did not start: $(tail -5 col2.log)"
: > rss.txt
for i in $(seq 1 $((SOAK_S * 2))); do
	[ -d "/proc/$col" ] || fail "collector died under the looped hostile stream: $(tail -8 col2.log)"
	http_get "$HTTP_PORT" /metrics > m2.txt || fail "GET /metrics failed"
	echo "$i $(awk '/^VmRSS:/ { print $2 }' "/proc/$col/status") $(metric m2.txt mdmesh_collector_rx_packets_total)" >> rss.txt
	sleep 0.5
done
kill -INT "$col"
wait "$col" || fail "collector exit $? after SIGINT: $(tail -8 col2.log)"
no_sanitizer_report col2.log
# warm-up: the first third of the samples (pool, book pages, stats buffers)
read -r base peak pkts rate < <(awk -v w=$((SOAK_S * 2 / 3)) -v s="$SOAK_S" '
	NR == w + 1 { base = $2; p0 = $3 } NR > w && $2 > peak { peak = $2 } { last = $3 }
	END { printf "%d %d %d %d\n", base, peak, last, (last - p0) / (s - s / 3) }' rss.txt)
loops=$((pkts / $(jq '.frames[0]' loop.json)))
[ "$loops" -ge 3 ] || fail "only $pkts frames in ${SOAK_S} s: the loop did not run ($(tail -3 col2.log))"
malformed_total=$(awk -F' ' '/^mdmesh_collector_malformed_packets_total/ { s += $2 } END { print s + 0 }' m2.txt)
[ "$malformed_total" -gt "$(jq '[.expect.malformed_packets[]] | add' loop.json)" ] ||
	fail "malformed packets not counted on every pass ($malformed_total)"
[ $((peak - base)) -le "$RSS_KB" ] || fail "RSS grew from $base to $peak KiB after warm-up (bound $RSS_KB KiB): $(tr '\n' ';' < rss.txt)"
pass "looped hostile stream, ${SOAK_S} s, $pkts frames (~$rate/s, $loops passes): RSS $base -> peak $peak KiB" \
	"after warm-up (+$((peak - base)) KiB, bound $RSS_KB)$([ $sanitized = 1 ] && echo ', ASan build, quarantine 4 MiB')"
kill "$NATS_PID"
wait "$NATS_PID" 2>/dev/null || true

# --- 3. live over veth (MTU 9000) through net_af_packet ----------------------
# jumbo frames cross the veth whole, and net_af_packet (2048-byte frames) cuts them
veth_pair 9000
NS_EXEC=(ip netns exec "$RX")
# only what a UDP sender can put on the wire: the payload kinds and jumbo frames
"$LG" synth --out live.pcap --messages 30000 --symbols 100 --seed 9 --session LIVE000001 --malformed 0.05 \
	--bad-messages 0.002 --hostile 0.1 --hostile-kinds block_header_truncated,oversize,random_payload,udp_length_cut,jumbo_frame \
	--truth live.truth --expect live.json 2> synth3.log || fail "synth: $(cat synth3.log)"
events=$(jq .expect.events live.json)
frames=$(jq '.frames[0]' live.json)
ns_nats_start js3
ip netns exec "$RX" "$COL" --nats nats://127.0.0.1:4222 --iface vrx --feed-dst 233.54.12.111:26477 \
	--http 127.0.0.1:9101 "${COLLECT[@]}" 2> col3.log &
col=$!
MDM_T_PIDS+=("$col")
for _ in $(seq 1 200); do grep -q "receiving on" col3.log && break; sleep 0.05; done
grep -q "receiving on net_af_packet0" col3.log || fail "collector did not start: $(tail -5 col3.log)"
ip netns exec "$TX" "$LG" send --pcap live.pcap --rate 30000 --dst 233.54.12.111:26477 --iface-addr 10.77.0.1 \
	--ttl 1 --stats-interval 0 2> send.log || fail "send exit $?: $(tail -3 send.log)"
grep -q "^mdmesh-loadgen send: done" send.log || fail "sender: $(tail -1 send.log)"
ns_get() { ns_http_get 9101 "$1"; }
wait_counts ns_get "$events" "$frames"
kill -INT "$col"
wait "$col" || fail "collector exit $? after SIGINT: $(tail -8 col3.log)"
no_sanitizer_report col3.log
check_counts metrics.txt live.json
stream_check nats://127.0.0.1:4222 live.truth "$events"
pass "live over veth at 30000 msg/s: $frames datagrams ($(jq .hostile live.json) hostile incl." \
	"$(jq .hostile_by_kind.jumbo_frame live.json) 9000-byte frames cut by af_packet): counts = expectation," \
	"$events good events stored once each"
summary
