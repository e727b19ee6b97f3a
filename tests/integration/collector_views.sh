#!/usr/bin/env bash
# Market views published by the collector (streams BBO and DEPTH), on a feed
# with gaps: a live subscriber started before the collector sees exactly the
# views `mdmesh feed dump --bbo --depth` computes offline (same coalescing, same
# order, nothing missing), in sequence order per symbol; the streams keep one
# view per subject whose values equal an independent book rebuild from the
# synthesizer's truth (views_rebuild.py), MAYBE_BAD_BOOK included (views go
# by core publish, views.publish core, the drain's acked); every
# E/C/P/Q carries the rebuild's quote before it, and so does every trade the
# processor stores (TBBO columns); subjects,
# Nats-Msg-Id and Content-Type as documented; a replay stores nothing new;
# publish.mode batch publishes the same views.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
MD="$MDM_BIN/mdmesh"
COL="$MDM_BIN/mdmesh-collector"
RB="$MDM_SRC_DIR/tests/integration/views_rebuild.py"
NORM="$MDM_SRC_DIR/tests/integration/views_norm.py"
# a replay is checked to be all duplicates: the streams' duplicate window must
# outlast the first run and its checks, which took over the default 2 min on
# a loaded box (the replay's views were stored anew)
COLLECT=(--set stream.duplicate_window=30m --http 127.0.0.1:0 --set publish.ack_timeout=1s --set eal.mem_mb=256 --set input.mbufs=8191
	--set views.enabled=true --set views.depth_levels=5 --set views.depth_interval=50ms)

start_nats
LIVE_PIDS=()

# live_start NAME: a core subscriber on '>'-views, ready (it printed a probe)
live_start() {
	"$MD" tail --nats "$NATS_URL" --headers "$2" > "$1.live" 2> "$1.live.err" &
	LIVE_PIDS+=($!)
	MDM_T_PIDS+=($!)
	wait_for 20 "\"$MD\" pub --nats \"$NATS_URL\" ${2%>}probe.x '' >/dev/null 2>&1; [ -s $1.live ]" ||
		fail "$1: the live subscriber did not start: $(cat "$1.live.err")"
}

# run NAME PCAP TRUTH [collector args...]: dump offline, subscribe, replay,
# compare the live views with the dump and the streams with the rebuild
run() {
	local name=$1 pcap=$2 truth=$3
	shift 3
	"$MD" feed dump --bbo --depth 5 --depth-interval 50 "$pcap" > "$name.dump"
	# the collector publishes no view of a locate without a symbol; the dump prints them
	jq -c 'select(.symbol != "")' "$name.dump" > "$name.named"
	python3 "$NORM" dump "$name.named" > "$name.want"
	live_start "$name.bbo" 'bbo.>'
	live_start "$name.depth" 'depth.>'
	"$COL" --nats "$NATS_URL" --pcap "$pcap" --exit-on-eof "${COLLECT[@]}" "$@" 2> "$name.log" ||
		fail "$name: collector exit $?: $(tail -5 "$name.log")"
	grep -q ": balanced" "$name.log" || fail "$name: events not balanced: $(grep 'events ' "$name.log")"
	local want
	want=$(wc -l < "$name.want")
	grep -q "views      .* published = core [0-9]* + stored .* + failed 0; 0 dropped" "$name.log" ||
		fail "$name: views summary: $(grep 'views ' "$name.log")"
	# the subscribers got every view (core NATS: they are already on the way)
	# (a resend after an ack timeout reaches a live subscriber twice: same Msg-Id, dropped by views_norm.py)
	wait_for 30 "[ \$(cat $name.bbo.live $name.depth.live | grep -v '\"subject\":\"[a-z]*\.probe\.' | jq -r '.headers[\"Nats-Msg-Id\"]' | sort -u | wc -l) -ge $want ]" ||
		fail "$name: subscribers got $(cat "$name".*.live | wc -l) lines, want $want views"
	kill "${LIVE_PIDS[@]}" 2>/dev/null || true
	LIVE_PIDS=()
	python3 "$NORM" tail "$name.bbo.live" > "$name.bbo.got" || fail "$name: $(tail -1 "$name.bbo.got")"
	python3 "$NORM" tail "$name.depth.live" > "$name.depth.got" || fail "$name: depth Msg-Ids"
	# the dump interleaves BBO and DEPTH; each subscriber sees one kind, in order
	for k in bbo depth; do
		jq -c --arg k "$k" 'select(.view == $k)' "$name.want" > "$name.$k.want"
		jq -c '{view, stock_locate, seq, flags} + (if .view == "bbo" then {bid_price, bid_size, bid_orders,
			ask_price, ask_size, ask_orders} else {bids, asks} end)' "$name.$k.got" | jq -S -c . > "$name.$k.cmp"
		jq -S -c . "$name.$k.want" > "$name.$k.wcmp"
		cmp -s "$name.$k.cmp" "$name.$k.wcmp" ||
			fail "$name: live $k views differ from the offline dump: $(diff "$name.$k.cmp" "$name.$k.wcmp" | head -4)"
	done
	pass "$name: a live subscriber saw the $want views the offline dump computes, in the same order"
	# seq order per symbol (a snapshot repeats its symbol's last seq)
	python3 -c '
import json, sys
last = {}
for f in sys.argv[1:]:
    for n, line in enumerate(open(f), 1):
        v = json.loads(line); k = (v["view"], v["stock_locate"])
        if v["seq"] < last.get(k, 0):
            sys.exit("%s:%d: %s seq %d after %d" % (f, n, k, v["seq"], last[k]))
        last[k] = v["seq"]' "$name.bbo.got" "$name.depth.got" || fail "$name: views out of seq order"
	# subjects and headers
	bad=$(jq -r 'select(.subject != (.view + ".itch." + (if .symbol == "" then "_" else .symbol end))
		or (.msg_id | test("^itch\\.[A-Za-z0-9]+\\.[0-9]+\\.(bbo|depth)(\\.[0-9]+)?$") | not)
		or (.msg_id | split(".")[3]) != .view
		or .content_type != ("application/protobuf; proto=mdmesh.v1." + (if .view == "bbo" then "Bbo" else "Depth" end)))
		| .subject + " " + .msg_id' "$name.bbo.got" "$name.depth.got" | head -3)
	[ -z "$bad" ] || fail "$name: wrong subject or headers: $bad"
	pass "$name: subjects bbo|depth.itch.<symbol>, distinct Msg-Ids itch.<session>.<seq>.bbo|depth[.<locate>], Content-Type"
	# the streams: one view per subject, equal to the independent rebuild
	"$MD" tail --nats "$NATS_URL" --all --stream BBO --idle-timeout 2 --headers 'bbo.>' > "$name.sbbo"
	"$MD" tail --nats "$NATS_URL" --all --stream DEPTH --idle-timeout 2 --headers 'depth.>' > "$name.sdepth"
	session=$(head -1 "$name.dump" | jq -r .session)
	cat "$name.sbbo" "$name.sdepth" | jq -c --arg s "$session" 'select(.event.header.session == $s)' > "$name.stream"
	python3 "$NORM" tail "$name.stream" > "$name.last"
	n=$(jq -r .subject "$name.stream" | sort | uniq -d | wc -l)
	[ "$n" -eq 0 ] || fail "$name: $n subjects hold more than one view (max_msgs_per_subject 1)"
	python3 "$RB" check "$truth" "$name.last" --levels 5 --expect-bad any > "$name.check" ||
		fail "$name: the streams' last views differ from the rebuild: $(cat "$name.check")"
	pass "$name: streams BBO and DEPTH hold one view per symbol, equal to the rebuilt book: $(cat "$name.check")"
}

# 1. event mode, a feed with gaps
"$LG" synth --out gaps.pcap --messages 30000 --symbols 100 --seed 7 --gap-every 30 --truth gaps.truth 2>/dev/null
run event gaps.pcap gaps.truth

# TBBO: every E, C, P and Q in MD carries the quote just before it (quote_before), equal to
# the rebuild's
"$MD" tail --nats "$NATS_URL" --all --idle-timeout 2 'md.>' |
	jq -c 'select(.header.type | test("^[ECPQ]$")) | {seq: .header.seq, bid_price: (.quote_before.bid_price // 0),
		bid_size: (.quote_before.bid_size // 0), ask_price: (.quote_before.ask_price // 0),
		ask_size: (.quote_before.ask_size // 0), has: (.quote_before != null)}' | jq -s -c 'sort_by(.seq)[]' > tbbo.got
python3 "$RB" trades gaps.truth | jq -c '. + {has: true}' | jq -s -c 'sort_by(.seq)[]' > tbbo.want
[ "$(wc -l < tbbo.want)" -gt 100 ] || fail "TBBO: the feed has $(wc -l < tbbo.want) trades"
cmp -s tbbo.got tbbo.want || fail "TBBO: quote_before differs from the rebuild: $(diff tbbo.got tbbo.want | head -4)"
pass "TBBO: the $(wc -l < tbbo.want) E/C/P/Q events carry the quote before them, equal to the rebuild's"
# ... and the processor stores it with each trade: the quote columns of every
# stored trade equal the rebuild's quote just before that message
"$MDM_BIN/mdmesh-processor" --nats "$NATS_URL" --rules "" --http "" --store tbbo.db --exit-when-idle 2 \
	2> tbbo.proc.log || fail "TBBO: processor exit $?: $(tail -3 tbbo.proc.log)"
sqlite3 -json tbbo.db "select seq, bid_price, bid_size, ask_price, ask_size from trades order by seq" |
	jq -c '.[]' > tbbo.stored
n=$(wc -l < tbbo.stored)
[ "$n" -gt 100 ] || fail "TBBO: $n trades stored"
python3 - tbbo.want tbbo.stored <<'PY' || fail "TBBO: stored quotes differ from the rebuild"
import json, sys
want = {d["seq"]: d for d in map(json.loads, open(sys.argv[1]))}
bad = 0
for got in map(json.loads, open(sys.argv[2])):
    w = want.get(got["seq"])
    keys = ("bid_price", "bid_size", "ask_price", "ask_size")
    if w is None or any(got[k] != w[k] for k in keys):
        bad += 1
        if bad <= 5:
            print("trade seq %d: stored %s, rebuild %s" % (got["seq"], [got[k] for k in keys],
                  w and [w[k] for k in keys]), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
pass "TBBO: the $n stored trades carry the rebuild's quote (bid/ask price and size)"

# 2. the same capture again: every view a duplicate, nothing stored: the acked
# drain snapshots say so, and the core-published views leave the streams'
# last sequences where they were (a stored view would replace its subject's)
last_seqs() {
	for s in BBO DEPTH; do
		"$MD" tail --nats "$NATS_URL" --all --stream "$s" --idle-timeout 2 "${s,,}.>" | jq -s 'map(.stream_seq) | max'
	done | paste -sd' '
}
before=$(last_seqs)
"$COL" --nats "$NATS_URL" --pcap gaps.pcap --exit-on-eof "${COLLECT[@]}" 2> replay.log || fail "replay exit $?"
grep -q "views      .* published = core [1-9][0-9]* + stored 0 + duplicate [1-9][0-9]* + failed 0" replay.log ||
	fail "replay: views stored again: $(grep 'views ' replay.log)"
after=$(last_seqs)
[ "$after" = "$before" ] || fail "replay: the streams' last sequences (BBO DEPTH) went from $before to $after"
pass "replay: every view deduplicated by its Msg-Id (core and acked alike; last stream seqs $after)"

# 3. batch mode: the views are still one message per symbol view (here each
# one acked: views.publish jetstream)
"$LG" synth --out batch.pcap --messages 20000 --symbols 80 --seed 9 --gap-every 40 --session BATCHRUN01 \
	--truth batch.truth 2>/dev/null
run batch batch.pcap batch.truth --set publish.mode=batch --set views.publish=jetstream

# 4. SIGTERM: a collector that replayed a capture and waits for more is
# stopped; it drains: every symbol's final BBO and DEPTH (SNAPSHOT) acked, so
# the streams' last values are the book
"$LG" synth --out term.pcap --messages 10000 --symbols 50 --seed 5 --session TERMRUN001 --truth term.truth 2>/dev/null
HTTP_PORT=$(free_port)
"$COL" --nats "$NATS_URL" --pcap term.pcap "${COLLECT[@]}" --http "127.0.0.1:$HTTP_PORT" 2> term.log &
col=$!
MDM_T_PIDS+=("$col")
wait_for 120 'http_get "$HTTP_PORT" /stats.json 2>/dev/null |
	jq -e ".collector.account | .events == 10000 and .stored + .duplicates == 10000 and .in_flight == 0" >/dev/null' ||
	fail "term: the replay did not finish: $(tail -3 term.log)"
grep -q "views      " term.log && fail "term: a summary before the stop"
kill -TERM "$col"
wait "$col" || fail "term: collector exit $? after SIGTERM: $(tail -5 term.log)"
grep -q "views      .* published = core [0-9]* + stored .* + failed 0; 0 dropped" term.log || fail "term: views summary: $(grep 'views ' term.log)"
"$MD" tail --nats "$NATS_URL" --all --stream BBO --idle-timeout 2 --headers 'bbo.>' > term.sbbo
"$MD" tail --nats "$NATS_URL" --all --stream DEPTH --idle-timeout 2 --headers 'depth.>' > term.sdepth
cat term.sbbo term.sdepth | jq -c 'select(.event.header.session == "TERMRUN001")' > term.stream
python3 "$NORM" tail term.stream > term.last
n=$(jq -s 'length' term.last)
s=$(jq -s 'map(select(.flags == 5)) | length' term.last)
[ "$n" -gt 0 ] && [ "$s" -eq "$n" ] || fail "term: $s of $n last views are SNAPSHOT|LAST (a clean feed: no MAYBE_BAD_BOOK)"
python3 "$RB" check term.truth term.last --levels 5 --expect-bad none > term.check ||
	fail "term: the streams' last views differ from the rebuild: $(cat term.check)"
pass "SIGTERM: the drain published a SNAPSHOT of every symbol; the streams equal the rebuild: $(cat term.check)"

# 5. late join: `mdmesh book --all --top --follow` started mid-session ends
# with the book of one that ran from the start, and of the stream
"$LG" synth --out late.pcap --messages 20000 --symbols 30 --seed 15 --session LATERUN001 2>/dev/null
python3 - late.pcap late1.pcap late2.pcap <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
recs, off = [], 24
while off < len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    recs.append(data[off:off + 16 + incl])
    off += 16 + incl
half = len(recs) // 2
open(sys.argv[2], "wb").write(data[:24] + b"".join(recs[:half]))
open(sys.argv[3], "wb").write(data[:24] + b"".join(recs[half:]))
PY
"$MD" book --all --top --follow --json --nats "$NATS_URL" > early.book 2> early.err &
early=$!
MDM_T_PIDS+=("$early")
# it subscribes before it reads the state: once it printed the state (the
# earlier runs' BBOs), it is following
wait_for 20 "grep -q . early.book" || fail "the early follower did not start: $(cat early.err)"
"$COL" --nats "$NATS_URL" --pcap late1.pcap --exit-on-eof "${COLLECT[@]}" 2> late1.log || fail "late part 1: exit $?"
"$MD" book --all --top --follow --json --nats "$NATS_URL" > late.book 2> late.err &
lat=$!
MDM_T_PIDS+=("$lat")
wait_for 20 "grep -q LATERUN001 late.book" || fail "the late follower printed no state: $(cat late.err)"
# part 2 resumes the session from MD (its symbols: a view needs its symbol)
"$COL" --nats "$NATS_URL" --pcap late2.pcap --exit-on-eof "${COLLECT[@]}" --set feed.resume=on 2> late2.log ||
	fail "late part 2: exit $?: $(tail -3 late2.log)"
"$MD" book --all --top --json --nats "$NATS_URL" | jq -c 'select(.session == "LATERUN001")' | jq -S -c 'del(.flags)' |
	sort > late.want
# the book a follower holds: its last line per symbol of the session
book_of() { jq -c 'select(.session == "LATERUN001")' "$1" | jq -s -c 'group_by(.symbol)[] | last' | jq -S -c 'del(.flags)' | sort; }
[ "$(wc -l < late.want)" -gt 10 ] || fail "the stream holds $(wc -l < late.want) BBOs of the session"
grep -q '"symbol":""' late.want && fail "a view without a symbol was published"
[ "$(jq -s 'map(select(.seq > 11000)) | length' late.want)" -gt 0 ] || fail "part 2 published no view"
wait_for 30 '[ "$(book_of early.book)" = "$(cat late.want)" ] && [ "$(book_of late.book)" = "$(cat late.want)" ]' ||
	fail "followers differ from the stream: early $(diff <(book_of early.book) late.want | head -3) late $(diff <(book_of late.book) late.want | head -3)"
kill "$early" "$lat"
python3 -c '
import json, sys
for f in sys.argv[1:]:
    last = {}
    for n, line in enumerate(open(f), 1):
        v = json.loads(line); k = (v["session"], v["symbol"])
        if v["seq"] <= last.get(k, 0):
            sys.exit("%s:%d: %s seq %d after %d" % (f, n, k, v["seq"], last[k]))
        last[k] = v["seq"]' early.book late.book || fail "a follower applied a view not newer than its book"
pass "late join: mdmesh book --follow started mid-session ends with the book of one started before it: $(wc -l < late.want) symbols"
summary
