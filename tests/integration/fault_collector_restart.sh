#!/usr/bin/env bash
# kill -9 of the collector mid-run, and a restart: a live feed at a fixed rate
# over a veth pair between two network namespaces this test makes (as in
# collector_live.sh); the collector is killed while it publishes and started
# again a moment later. It reads where the feed left off in the stream and
# continues the session, so what was on the wire while it was down is a gap:
#  1. with a re-request server (the sender): the gap is recovered; every
#     sequence number is in the stream exactly once, the restarted collector
#     published nothing twice, and the gap it recovered starts right after the
#     last event stored before the kill;
#  2. without one: the gap is permanent, and its range in the summary and in
#     the alert.system.gap event is exactly what the stream lacks; everything
#     else is there exactly once.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
veth_pair

ns_nats_start
NATS=nats://127.0.0.1:4222

# start_collector FEED LOG EXTRA...
start_collector() {
	local feed=$1 log=$2
	shift 2
	ip netns exec "$RX" "$MDM_BIN/mdmesh-collector" --iface vrx --feed-dst 233.54.12.111:26477 \
		--http 127.0.0.1:9101 --set eal.mem_mb=256 --set input.mbufs=8191 --set feed.name="$feed" "$@" 2> "$log" &
	col=$!
	MDM_T_PIDS+=("$col")
	wait_for 20 'grep -q "receiving on" "$log" || ! kill -0 $col 2>/dev/null'
	grep -q "receiving on net_af_packet0" "$log" || fail "collector did not start: $(tail -5 "$log")"
}

# col_json FIELD: a field of the running collector's /stats.json (.collector.FIELD)
col_json() { ns_http_get 9101 /stats.json | jq -r ".collector.$1 // empty"; }

stream_seqs() {
	ip netns exec "$RX" "$MDM_BIN/mdmesh" tail --nats "$NATS" --all --idle-timeout 1 "md.$1.>" | jq -r .header.seq
}

# wait_stream FEED N: until the stream holds N events of FEED; fails after 60 s
wait_stream() {
	local feed=$1 want=$2
	wait_for 60 '[ "$(stream_seqs "$feed" | wc -l)" -ge "$want" ]' ||
		fail "stream md.$feed.> holds $(stream_seqs "$feed" | wc -l) events, want $want"
}

# run FEED SESSION SENDER_EXTRA -- COLLECTOR_EXTRA: the feed (10 s at 5000/s =
# 50000 events), the collector killed 2 s in and restarted 1.5 s later; sets
# LAST (highest seq stored before the kill) and leaves col-FEED-{1,2}.log
run() {
	local feed=$1 session=$2 sx=() cx=() sender
	shift 2
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do sx+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	cx=("$@")
	start_collector "$feed" "col-$feed-1.log" "${cx[@]}"
	# the feed runs until the restarted collector takes it on, then SIGHUP
	# ends it there (a fixed duration ran out first on a loaded box, while
	# the collector was still starting)
	ip netns exec "$TX" "$MDM_BIN/mdmesh-loadgen" send --rate 5000 --duration 300 --symbols 40 --seed 5 \
		--session "$session" --dst 233.54.12.111:26477 --iface-addr 10.77.0.1 --ttl 1 "${sx[@]}" \
		2> "send-$feed.log" &
	sender=$!
	MDM_T_PIDS+=("$sender")
	# killed while it publishes: once it has stored a good part (1 s of feed)
	wait_for 30 '[ "$(col_json account.stored)" -ge 5000 ] 2>/dev/null' ||
		fail "collector not publishing: $(col_json account)"
	kill -9 "$col"
	wait "$col" 2>/dev/null || [ $? -eq 137 ] || fail "collector: exit $? after kill -9"
	LAST=$(stream_seqs "$feed" | awk '$1 > m { m = $1 } END { print m + 0 }')
	[ "$LAST" -gt 1000 ] || fail "only $LAST events stored before the kill"
	sleep 1.5 # the downtime itself (the fault under test, not a wait): the feed goes on unheard
	start_collector "$feed" "col-$feed-2.log" "${cx[@]}"
	kill -0 "$sender" 2>/dev/null || fail "the feed ended before the collector was back: $(tail -2 "send-$feed.log")"
	# live again: half a second of the feed taken on after the restart
	wait_for 60 '[ "$(col_json account.events)" -ge 2500 ] 2>/dev/null' ||
		fail "restarted collector takes nothing on: $(col_json account)"
	kill -HUP "$sender"
	wait "$sender" || fail "sender exit $?: $(tail -3 "send-$feed.log")"
	N=$(sed -n 's/^mdmesh-loadgen send: done: \([0-9]*\) events.*/\1/p' "send-$feed.log")
	[ -n "$N" ] && [ "$N" -gt "$LAST" ] || fail "sender summary: $(tail -2 "send-$feed.log")"
}

# ---- 1. recovered from the re-request server ----
run k1 RESTART1 --rerequest 10.77.0.1:26478 --rerequest-linger 3 -- --set feed.rerequest=10.77.0.1:26478
wait_stream k1 $N
kill -INT "$col"
wait "$col" || fail "restarted collector exit $?: $(tail -12 col-k1-2.log)"
grep -q "feed.resume: session RESTART1 continues at $((LAST + 1)) " col-k1-2.log ||
	fail "resume: $(grep resume col-k1-2.log) (last stored before the kill: $LAST)"
# the downtime is one gap from right after the last stored event (other,
# short gaps are live losses while recovery traffic shares the link)
rng=$(sed -n "s/^    recovered \($((LAST + 1))\)-\([0-9]*\) .*/\1 \2/p" col-k1-2.log)
read -r gfrom gto <<< "$rng"
[ -n "$rng" ] && [ "$gto" -gt "$gfrom" ] ||
	fail "no recovered gap from $((LAST + 1)): $(grep -A4 '  recovery' col-k1-2.log)"
grep -q "permanent gaps 0 " col-k1-2.log || fail "$(grep '  recovery' col-k1-2.log)"
# nothing published twice: the restart republished nothing the first run stored
grep -q "stored $((N - LAST)) + duplicate 0 " col-k1-2.log || fail "restart summary: $(grep events col-k1-2.log)"
seqs=$(stream_seqs k1)
total=$(echo "$seqs" | wc -l)
distinct=$(echo "$seqs" | sort -un | wc -l)
[ "$total" -eq $N ] && [ "$distinct" -eq $N ] ||
	fail "stream holds $total events, $distinct distinct; want $N once each"
pass "kill -9 + restart with recovery: resumed at $((LAST + 1)), downtime gap $gfrom-$gto recovered; $N sequences once each, nothing republished"

# ---- 2. no re-request server: the downtime is a permanent gap, exactly ----
run k2 RESTART2 -- --set feed.rerequest_timeout=100ms
# the feed is over (run waited for the sender): once every message after the
# resume point is either taken on or given up, and nothing waits in the
# ring or for an ack, the stream holds all it ever will
settled() {
	local ev pm
	ev=$(col_json account.events) && pm=$(col_json recovery.permanent_msgs) && [ -n "$ev" ] && [ -n "$pm" ] &&
		[ $((ev + pm)) -ge $((N - LAST)) ] && [ "$(col_json recovery.outstanding_gaps)" = 0 ] &&
		[ "$(col_json account.in_ring)" = 0 ] && [ "$(col_json account.in_flight)" = 0 ]
}
wait_for 60 settled ||
	fail "restarted collector did not settle: $(col_json account) $(col_json recovery | jq -c 'del(.permanent, .recovered)')"
wait_for 10 'grep -q "permanent gap " col-k2-2.log' || fail "no permanent gap logged: $(grep -A3 '  recovery' col-k2-2.log)"
kill -INT "$col"
wait "$col" || fail "restarted collector exit $?: $(tail -12 col-k2-2.log)"
grep -q "feed.resume: session RESTART2 continues at $((LAST + 1)) " col-k2-2.log ||
	fail "resume: $(grep resume col-k2-2.log) (last stored before the kill: $LAST)"
# every permanent gap the restarted collector reported (the downtime, and any
# live loss, unrecoverable without a server) is exactly what the stream lacks
reported=$(sed -n 's/^    permanent \([0-9]*-[0-9]*\) (no_server.*/\1/p' col-k2-2.log | sort -n)
seqs=$(stream_seqs k2)
total=$(echo "$seqs" | wc -l)
distinct=$(echo "$seqs" | sort -un | wc -l)
holes=$(echo "$seqs" | sort -n | awk -v n=$N 'BEGIN { e = 1 } $1 > e { print e "-" $1 - 1 } { e = $1 + 1 } END { if (e <= n) print e "-" n }')
[ "$total" -eq "$distinct" ] || fail "$((total - distinct)) events doubled in the stream"
[ -n "$holes" ] && [ "$holes" = "$reported" ] ||
	fail "the stream lacks '$(echo $holes)', the collector reported '$(echo $reported)' (last stored before the kill $LAST)"
down=$(echo "$reported" | grep "^$((LAST + 1))-") || fail "no permanent gap from $((LAST + 1)): $(echo $reported)"
gfrom=${down%-*}
gto=${down#*-}
[ "$gto" -gt "$gfrom" ] || fail "downtime gap $down"
alerts=$(ip netns exec "$RX" "$MDM_BIN/mdmesh" tail --nats "$NATS" --stream ALERTS --all --idle-timeout 1 'alert.system.gap')
[ "$(echo "$alerts" | grep -c .)" -eq "$(echo "$reported" | grep -c .)" ] || fail "ALERTS: $alerts"
echo "$alerts" | jq -s -e --argjson a "$gfrom" --argjson b "$gto" 'map(select(.seq_first == $a)) | length == 1 and
	(.[0] | .feed == "k2" and .session == "RESTART2" and .seq_last == $b and .rule == "gap")' > /dev/null ||
	fail "alert: $alerts"
pass "kill -9 + restart without recovery: downtime $gfrom-$gto ($((gto - gfrom + 1)) events) is a permanent gap and an alert; the $(echo "$reported" | grep -c .) reported gaps are exactly what the stream lacks; $total others once each"
summary
