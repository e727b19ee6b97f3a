#!/usr/bin/env bash
# The README's "Subscribing" commands with the real nats CLI (natscli v0.5.0,
# $MDM_NATS_CLI), through a context this test creates in its own config
# directory (the user's contexts are never read or written):
#   1. `nats sub 'md.itch.*.SYM' --translate 'mdmesh decode'`, live while the
#      collector replays a capture, prints exactly the events `mdmesh tail`
#      prints, with the subjects and headers the stream holds;
#   2. `nats stream info MD --json` / `nats stream subjects MD --json` agree with
#      the collector's stored count and with the capture's subjects;
#   3. `nats consumer info MD processor --json` after a processor run: every
#      message delivered once and acked, nothing pending;
#   4. `nats kv get refdata instrument.AAPL --raw` is `mdmesh refdata get AAPL`;
#   5. `nats stream get MD SEQ` and `nats stream view MD` payloads decode to
#      what `mdmesh tail --from-seq SEQ --count 1` prints; `nats stream get BBO
#      --last-for bbo.itch.SYM` (the late join, README) = `mdmesh book SYM --top`;
#   6. `nats sub 'stats.>' --count 1` receives the collector's live stats.
#
# What `nats sub --translate CMD` (natscli v0.5.0) prints, per message:
#   [#<n>] Received on "<subject>" with reply "<reply>"    (no "with reply ..." when
#                                                         the publisher set none; the
#                                                         collector's JetStream publishes
#                                                         carry their PubAck inbox _INBOX.…)
#   <Header>: <value>          one line per header, in Go map order (random: here
#   ...                        Content-Type and Nats-Msg-Id in either order)
#   <empty line>               (header block only when the message has headers)
#   <CMD's output>             CMD's stdout AND stderr (Go CombinedOutput), printed as is,
#                              a newline added when it does not end in one
#   <empty line>               (two when CMD's output had no final newline)
# CMD is a Go text/template ({{Subject}}, {{Stream}}) split like a shell
# command line (no shell: no pipes, PATH lookup), run once per message with
# the payload on stdin. "Subscribing on <subjects>" goes to stderr, printed
# BEFORE the subscription is made, so it is no readiness signal: the test
# asks the server's monitoring endpoint (/subsz?test=SUBJECT) instead.
# With --raw only CMD's output is printed (no frame, no headers).
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
need_nats_cli
for c in jq sqlite3 base64 script; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
cd "$MDM_T_TMP"
MD="$MDM_BIN/mdmesh"
LG="$MDM_BIN/mdmesh-loadgen"
COL="$MDM_BIN/mdmesh-collector"
PROC="$MDM_BIN/mdmesh-processor"
INST="clitest-$$"

# nats-server with its monitoring port, to see when a subscription exists
MON_PORT=$(free_port)
NATS_EXTRA_ARGS="-m $MON_PORT"
start_nats
wait_port "$MON_PORT" 10 || fail "nats-server monitoring port $MON_PORT did not open"
# forget PID: a process the test waited for is no longer ours to stop
forget() {
	local i
	for i in "${!MDM_T_PIDS[@]}"; do [ "${MDM_T_PIDS[$i]}" != "$1" ] || unset "MDM_T_PIDS[$i]"; done
}
# subscribed SUBJECT: the server holds a subscription matching SUBJECT
# (nats sub logs "Subscribing on" before it subscribes: no signal)
subscribed() {
	local n
	n=$(http_get "$MON_PORT" "/subsz?subs=1&test=$1" 2>/dev/null | jq -r '.total // 0' 2>/dev/null) || return 1
	[ "${n:-0}" -ge 1 ]
}

# ---- the CLI's context, in this test's own directory ---------------------------
# The CLI reads NATS_URL, NATS_USER, ... from the environment, and they would
# override the context: none reaches it (NATS_URL stays a shell variable).
export -n NATS_URL
unset NATS_USER NATS_PASSWORD NATS_TOKEN NATS_CREDS NATS_NKEY NATS_JWT NATS_SEED NATS_CERT NATS_KEY NATS_CA \
	NATS_TIMEOUT NATS_SOCKS_PROXY NATS_INBOX_PREFIX NATS_JSM_DOMAIN NATS_JSM_API_PREFIX NATS_JSM_EVENT_PREFIX
export XDG_CONFIG_HOME="$MDM_T_TMP/config" XDG_DATA_HOME="$MDM_T_TMP/share"
CTX="mdmtest-$$"
"$MDM_NATS_CLI" context save "$CTX" --server "$NATS_URL" --select > ctx.out 2>&1 || fail "context save: $(cat ctx.out)"
grep -q "Connection: OK" ctx.out || fail "context save did not connect: $(cat ctx.out)"
export NATS_CONTEXT="$CTX"
[ -f "$XDG_CONFIG_HOME/nats/context/$CTX.json" ] || fail "context $CTX not in $XDG_CONFIG_HOME/nats/context"
[ "$("$MDM_NATS_CLI" context info "$CTX" --json | jq -r .url)" = "$NATS_URL" ] || fail "context $CTX url"

# ---- 1. nats sub --translate 'mdmesh decode' == mdmesh tail ------------------
"$LG" synth --out f.pcap --messages 2000 --symbols 20 --seed 1 --truth f.truth 2> synth.log ||
	fail "synth: $(cat synth.log)"
PACKETS=$(sed -n 's/.*synth: \([0-9]*\) packets.*/\1/p' synth.log)
SESSION=$(head -1 f.truth | jq -r .session)
[ -n "$PACKETS" ] && [ "$(wc -l < f.truth)" -eq 2000 ] || fail "synth: $(cat synth.log)"
# the busiest symbol with at most 300 messages: several types, and few
# `mdmesh decode` processes (one per message) on a loaded 2-core machine
read -r N SYM < <(jq -r 'select(.symbol != "") | .symbol' f.truth | sort | uniq -c |
	awk '$1 <= 300' | sort -k1,1nr -k2,2 | head -1)
[ -n "$SYM" ] && [ "$N" -ge 50 ] || fail "no symbol to follow in the capture"
echo "following $SYM: $N messages" >&2

timeout 150 "$MDM_NATS_CLI" sub "md.itch.*.$SYM" --translate "$MD decode" --count "$N" > sub.out 2> sub.err &
SUB_PID=$!
MDM_T_PIDS+=("$SUB_PID")
timeout 150 "$MDM_NATS_CLI" sub 'stats.>' --count 1 > stats.out 2> stats.err &
STATS_PID=$!
MDM_T_PIDS+=("$STATS_PID")
wait_for 30 "subscribed 'md.itch.A.$SYM' && subscribed 'stats.collector.$INST'" ||
	fail "nats sub did not subscribe: $(cat sub.err stats.err)"

timeout 120 "$COL" --nats "$NATS_URL" --pcap f.pcap --exit-on-eof --instance "$INST" --http "" --set views.enabled=true \
	--set publish.ack_timeout=1s --set eal.mem_mb=256 --set input.mbufs=8191 2> col.log ||
	fail "collector exit $?: $(tail -5 col.log)"
line=$(grep "^  events     2000 = " col.log) || fail "collector summary: $(grep events col.log)"
[[ $line == *": balanced" ]] || fail "collector not balanced: $line"
STORED=$(echo "$line" | sed -n 's/.* = stored \([0-9]*\) + .*/\1/p')
[ "$STORED" = 2000 ] || fail "collector stored '$STORED' of 2000: $line"

wait "$SUB_PID" || fail "nats sub exit $? (timeout 150 s?): $(tail -3 sub.err)"
forget "$SUB_PID"
# frames and headers -> sub.hdrs (index, subject, header line), translated bodies -> sub.json
awk -v want="$N" '
function bad(why) { printf "nats sub output line %d: %s: %s\n", NR, why, $0 > "/dev/stderr"; err = 1; exit 1 }
BEGIN { st = "frame" }
st == "frame" {
	if ($0 !~ /^\[#[0-9]+\] Received on "[^"]+"( with reply "[^"]+")?$/) bad("want [#n] Received on \"subject\"")
	n++
	if (substr($1, 3, length($1) - 3) != n "") bad("want message number " n)
	split($0, q, "\""); subj = q[2]; st = "hdr"; next
}
st == "hdr" {
	if ($0 == "") { st = "body"; next }
	if ($0 !~ /^[A-Za-z0-9-]+: /) bad("want a header line")
	print n "\t" subj "\t" $0 > "sub.hdrs"; next
}
st == "body" { if ($0 !~ /^\{.*\}$/) bad("want one JSON line"); print > "sub.json"; st = "sep"; next }
st == "sep" { if ($0 != "") bad("want an empty line"); st = "frame"; next }
END { if (!err && (st != "frame" || n != want)) { printf "nats sub printed %d whole messages, want %d\n", n, want > "/dev/stderr"; exit 1 } }
' sub.out || fail "nats sub output is not framed as documented (see the top of $0)"
grep -q "Subscribing on md.itch.\*.$SYM" sub.err || fail "nats sub stderr: $(cat sub.err)"

"$MD" tail --nats "$NATS_URL" --all --count "$N" "md.itch.*.$SYM" > tail.json
"$MD" tail --nats "$NATS_URL" --all --count "$N" --headers "md.itch.*.$SYM" > tail.raw
cmp sub.json tail.json || fail "nats sub --translate differs from mdmesh tail: $(diff sub.json tail.json | head -4)"
jq -r -n '[inputs] | to_entries[] | (.key + 1) as $i | .value as $m | $m.headers | to_entries[] |
	"\($i)\t\($m.subject)\t\(.key): \(.value)"' tail.raw | LC_ALL=C sort > want.hdrs
LC_ALL=C sort sub.hdrs > got.hdrs
cmp got.hdrs want.hdrs || fail "nats sub subjects/headers differ from the stream's: $(diff got.hdrs want.hdrs | head -4)"
[ "$(jq -r -n '[inputs | .headers | keys | sort | join(",")] | unique | join(";")' tail.raw)" = "Content-Type,Nats-Msg-Id" ] ||
	fail "headers are not exactly Content-Type and Nats-Msg-Id"
pass "nats sub 'md.itch.*.$SYM' --translate 'mdmesh decode': $N events = mdmesh tail's, same subjects and headers"

# ---- 2. nats stream info / subjects == the collector's count and the capture's subjects
"$MDM_NATS_CLI" stream info MD --json > info.json || fail "nats stream info MD"
jq -s -c 'map("md.itch." + .type + "." + (if .symbol == "" then "_" else .symbol end))
	| group_by(.) | map({key: .[0], value: length}) | from_entries' f.truth | jq -S -c . > want.subjects
SUBJECTS=$(jq length want.subjects)
read -r msgs nsubj first last < <(jq -r '.state | "\(.messages) \(.num_subjects) \(.first_seq) \(.last_seq)"' info.json)
[ "$msgs" = "$STORED" ] || fail "stream info MD: state.messages $msgs, the collector stored $STORED"
[ "$nsubj" = "$SUBJECTS" ] || fail "stream info MD: state.num_subjects $nsubj, the capture has $SUBJECTS subjects"
[ "$first $last" = "1 $STORED" ] || fail "stream info MD: sequences $first-$last"
[ "$(jq -c .config.subjects info.json)" = '["md.>"]' ] || fail "stream MD subjects: $(jq -c .config.subjects info.json)"
"$MDM_NATS_CLI" stream subjects MD --json | jq -S -c . > got.subjects
cmp got.subjects want.subjects || fail "nats stream subjects MD differs from the capture: $(diff got.subjects want.subjects | head -4)"
pass "nats stream info MD: $msgs messages = stored $STORED, $nsubj subjects; nats stream subjects: every subject's count"

# ---- 3. nats consumer info MD processor after a processor run ------------------
timeout 120 "$PROC" --nats "$NATS_URL" --store "$MDM_T_TMP/p.db" --rules "" --http "" --instance "$INST" \
	--exit-when-idle 2 2> proc.log || fail "processor exit $?: $(tail -5 proc.log)"
[ "$(sqlite3 p.db "select sum(total) from audit")" = "$STORED" ] || fail "processor audited $(sqlite3 p.db "select sum(total) from audit")"
cinfo() { "$MDM_NATS_CLI" consumer info MD processor --json > cinfo.json 2> cinfo.err; }
# the processor exits once its acks are sent; the server applies them asynchronously
wait_for 20 'cinfo && [ "$(jq .ack_floor.stream_seq cinfo.json)" = "$last" ]' ||
	fail "consumer processor: ack floor $(jq -c .ack_floor cinfo.json 2>/dev/null) $(cat cinfo.err)"
got=$(jq -c '{durable: .config.durable_name, ack_policy: .config.ack_policy,
	delivered: [.delivered.consumer_seq, .delivered.stream_seq], ack_floor: [.ack_floor.consumer_seq, .ack_floor.stream_seq],
	num_pending, num_ack_pending, num_redelivered}' cinfo.json)
want="{\"durable\":\"processor\",\"ack_policy\":\"explicit\",\"delivered\":[$STORED,$last],\"ack_floor\":[$STORED,$last],\"num_pending\":0,\"num_ack_pending\":0,\"num_redelivered\":0}"
[ "$got" = "$want" ] || fail "nats consumer info MD processor: $got, want $want"
pass "nats consumer info MD processor: delivered = ack floor = $STORED/$last, nothing pending or redelivered"

# ---- 4. nats kv get refdata == mdmesh refdata get ------------------------------
CSV="$MDM_SRC_DIR/configs/refdata/instruments.csv"
out=$("$MD" refdata load "$CSV" --nats "$NATS_URL")
[ "$out" = "loaded 65 instruments from $CSV into KV bucket refdata" ] || fail "refdata load: $out"
for s in AAPL BRK.B; do
	"$MD" refdata get "$s" --nats "$NATS_URL" > mdmesh.kv
	# --raw prints the value without a newline; mdmesh ends its line with one
	{ "$MDM_NATS_CLI" kv get refdata "instrument.$s" --raw; echo; } > nats.kv
	cmp nats.kv mdmesh.kv || fail "kv get refdata instrument.$s: $(cat nats.kv) != $(cat mdmesh.kv)"
done
want='{"symbol":"AAPL","sector":"Information Technology","currency":"USD","exchange":"XNAS","name":"Apple Inc.","lot_size":100,"country":"US"}'
[ "$("$MDM_NATS_CLI" kv get refdata instrument.AAPL --raw)" = "$want" ] || fail "kv get refdata instrument.AAPL"
pass "nats kv get refdata instrument.AAPL --raw (and BRK.B) = mdmesh refdata get, byte for byte"

# ---- 5. nats stream get / view: payloads decode to mdmesh tail's event ----------
VSUBJ="md.itch.A.$SYM"
VSEQ=$("$MDM_NATS_CLI" stream get MD --last-for "$VSUBJ" --json | jq -r .seq)
[ "$VSEQ" -gt 0 ] 2>/dev/null || fail "no message on $VSUBJ"
for seq in 1 $((STORED / 2)) "$VSEQ"; do
	"$MDM_NATS_CLI" stream get MD "$seq" --json > get.json || fail "nats stream get MD $seq"
	jq -r .data get.json | base64 -d > msg.bin
	"$MD" decode < msg.bin > decoded.json || fail "mdmesh decode of stream message $seq"
	"$MD" tail --nats "$NATS_URL" --from-seq "$seq" --count 1 > tailed.json
	cmp decoded.json tailed.json || fail "stream get MD $seq: decode $(cat decoded.json) != tail $(cat tailed.json)"
	# the headers in the get reply, as NATS/1.0 header lines
	hdrs=$(jq -r .hdrs get.json | base64 -d | tr -d '\r' | sed 1d | sed '/^$/d' | LC_ALL=C sort | paste -sd'|')
	"$MD" tail --nats "$NATS_URL" --from-seq "$seq" --count 1 --headers > tailed.raw
	[ "$(jq -r .subject get.json) $(jq -r .seq get.json) $hdrs" = "$(jq -r '"\(.subject) \(.stream_seq) " +
		(.headers | to_entries | map("\(.key): \(.value)") | sort | join("|"))' tailed.raw)" ] ||
		fail "stream get MD $seq: subject/seq/headers $(jq -c '{subject, seq}' get.json) $hdrs vs $(jq -c '{subject, stream_seq, headers}' tailed.raw)"
done
# --translate on stream get: the decoded event follows the item's header block
"$MDM_NATS_CLI" stream get MD "$VSEQ" --translate "$MD decode" > get.txt
[ "$(grep -c '^{' get.txt)" = 1 ] && [ "$(grep '^{' get.txt)" = "$(cat tailed.json)" ] ||
	fail "stream get --translate: $(cat get.txt)"
grep -q "^Item: MD#$VSEQ received .* on Subject $VSUBJ$" get.txt || fail "stream get header: $(head -1 get.txt)"
# ---- 5b. the late join with the nats CLI (README): BBO keeps the last view per subject ----
"$MDM_NATS_CLI" stream get BBO --last-for "bbo.itch.$SYM" --translate "$MD decode --type Bbo" > bbo.txt ||
	fail "nats stream get BBO --last-for bbo.itch.$SYM: $(cat bbo.txt)"
grep -q "^Item: BBO#[0-9]* received .* on Subject bbo.itch.$SYM$" bbo.txt || fail "stream get BBO header: $(head -1 bbo.txt)"
got=$(grep '^{' bbo.txt | jq -c '{seq: .header.seq, bid_price: (.bid_price // 0), bid_size: (.bid_size // 0),
	ask_price: (.ask_price // 0), ask_size: (.ask_size // 0), flags: (.flags // 0)}')
want=$("$MD" book "$SYM" --top --json --nats "$NATS_URL" | jq -c '{seq, bid_price, bid_size, ask_price, ask_size, flags}')
[ -n "$want" ] && [ "$got" = "$want" ] || fail "nats stream get BBO --last-for: $got, mdmesh book --top: $want"
pass "nats stream get BBO --last-for bbo.itch.$SYM --translate 'mdmesh decode --type Bbo' = mdmesh book $SYM --top"

# `nats stream view` pages interactively and refuses to run without a terminal
# on stdin and stdout: `script` gives it one. A page that reaches the end of
# the (filtered) stream ends without a "Next Page?" prompt.
view=$(printf '%q ' "$MDM_NATS_CLI" stream view MD 2 --id "$VSEQ" --subject "$VSUBJ" --translate "$MD decode")
SHELL=/bin/sh timeout 60 script -qec "$view" /dev/null < /dev/null > view.tty || fail "stream view under script: exit $?"
tr -d '\r' < view.tty > view.txt
grep -q "^\[$VSEQ\] Subject: $VSUBJ Received: " view.txt || fail "stream view: $(head -3 view.txt)"
[ "$(grep -c '^{' view.txt)" = 1 ] && [ "$(grep '^{' view.txt)" = "$(cat tailed.json)" ] ||
	fail "stream view --translate: $(cat view.txt)"
grep -q "Reached apparent end of data" view.txt || fail "stream view did not reach the end: $(cat view.txt)"
pass "nats stream get MD (seq 1, $((STORED / 2)), $VSEQ) and stream view: payloads decode to mdmesh tail --from-seq's event"

# ---- 6. nats sub 'stats.>' got the collector's live stats ---------------------
wait "$STATS_PID" || fail "nats sub 'stats.>' exit $? (nothing within 150 s?): $(cat stats.err)"
forget "$STATS_PID"
[ "$(sed -n 1p stats.out)" = "[#1] Received on \"stats.collector.$INST\"" ] || fail "stats frame: $(head -1 stats.out)"
sed -n 2p stats.out | jq -e --arg i "$INST" --arg s "$SESSION" --argjson p "$PACKETS" '
	.collector.instance == $i and .collector.feed == "itch" and .collector.session == $s
	and (.collector.account.events | type == "number" and . >= 0 and . <= 2000)
	and (.collector_rx_packets_total | type == "number" and . >= 0 and . <= $p)' >/dev/null ||
	fail "stats message: $(sed -n 2p stats.out | cut -c1-300)"
[ "$(wc -l < stats.out)" = 4 ] && [ -z "$(sed -n '3,4p' stats.out | tr -d '\n')" ] || fail "stats output: $(cat stats.out | cut -c1-100)"
pass "nats sub 'stats.>' --count 1: stats.collector.$INST, JSON for instance $INST, session $SESSION"
summary
