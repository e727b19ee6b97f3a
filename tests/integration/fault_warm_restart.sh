#!/usr/bin/env bash
# Warm restart: kill -9 of the collector mid-session, then a restart that
# loads its last book checkpoint (Object Store mdmesh-checkpoints) and replays
# what stream MD stored after it. The feed comes over SoupBinTCP
# (`mdmesh-loadgen send --soup`), so the restart logs in at the next sequence
# number and misses nothing: its final book, every symbol's BBO (stream BBO),
# every event it published (the order each execution met, with its price and
# side) and the processor's trades from them equal those of an uninterrupted
# run of the same feed, and no message after the restart is for
# an order the book did not hold. The test can fail: the restart's
# executions of orders added before the kill are counted, and must be many.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
need_cmd jq sqlite3
cd "$MDM_T_TMP"
N=40000
COLLECT=(--set eal.mem_mb=256 --set views.enabled=true --set feed.book_capacity=65536 --set stats.interval=200ms)

start_nats
"$MDM_BIN/mdmesh-loadgen" synth --out feed.pcap --itch-out feed.itch --messages $N --symbols 100 --seed 41 2>/dev/null

# serve PORT RATE: the feed over SoupBinTCP (its multicast copy to a port nobody reads)
serve() {
	"$MDM_BIN/mdmesh-loadgen" send --from-itch feed.itch --session WARM000001 --rate "$2" --dst 127.0.0.1:"$UDP" --stats-interval 0 \
		--soup 127.0.0.1:"$1"
}
# collector FEED LOG EXTRA...: started in the background, $col its pid
collector() {
	local feed=$1 log=$2
	shift 2
	"$MDM_BIN/mdmesh-collector" --nats "$NATS_URL" --set feed.name="$feed" "${COLLECT[@]}" "$@" 2> "$log" &
	col=$!
	MDM_T_PIDS+=("$col")
	wait_for 60 'grep -q "receiving on SoupBinTCP" "$log" || ! kill -0 $col 2>/dev/null'
	grep -q "receiving on SoupBinTCP" "$log" || fail "collector did not start: $(tail -5 "$log")"
}
UDP=$(free_port) || fail "no free port"

# 1. the reference: one uninterrupted run
SOUP=$(free_port) || fail "no free port"
collector ref ref.log --set input.soup=127.0.0.1:"$SOUP" --exit-on-eof --http ""
serve "$SOUP" 20000 2> send-ref.log || fail "send: $(cat send-ref.log)"
wait "$col" || fail "reference collector exit $?: $(tail -8 ref.log)"
grep -q "events     $N = stored $N " ref.log || fail "reference summary: $(grep events ref.log)"

# 2. the same feed, killed mid-session once a checkpoint is stored
SOUP=$(free_port) || fail "no free port"
HTTP=$(free_port) || fail "no free port"
collector warm run1.log --set input.soup=127.0.0.1:"$SOUP" --http 127.0.0.1:"$HTTP" \
	--set recovery.checkpoint_interval=300ms
serve "$SOUP" 4000 2> send-warm.log &
sender=$!
MDM_T_PIDS+=("$sender")
stats() { http_get "$HTTP" /stats.json; }
wait_for 60 's=$(stats) && [ "$(echo "$s" | jq ".collector_checkpoint_writes_total // 0")" -ge 2 ] &&
	[ "$(echo "$s" | jq ".collector.account.stored")" -ge 12000 ]' ||
	fail "no checkpoint while publishing: $(stats | jq -c '{c: .checkpoint, w: .collector_checkpoint_writes_total, a: .collector.account}')"
kill -9 "$col"
wait "$col" 2>/dev/null || [ $? -eq 137 ] || fail "collector: exit $? after kill -9"
kill -0 "$sender" 2>/dev/null || fail "the feed ended before the kill: $(tail -2 send-warm.log)"
collector warm run2.log --set input.soup=127.0.0.1:"$SOUP" --exit-on-eof --http "" \
	--set recovery.checkpoint_interval=300ms
wait "$sender" || fail "sender exit $?: $(tail -3 send-warm.log)"
wait "$col" || fail "restarted collector exit $?: $(tail -12 run2.log)"
grep -q "book: checkpoint+replay: checkpoint warm.collector-1 at MD sequence " run2.log ||
	fail "no warm start: $(grep 'book' run2.log)"
grep -q "^  book from  checkpoint+replay" run2.log || fail "summary: $(grep 'book from' run2.log)"
next=$(sed -n 's/.*feed.resume: session WARM000001 continues at \([0-9]*\) .*/\1/p' run2.log)
[ -n "$next" ] && [ "$next" -gt 12000 ] && [ "$next" -lt $N ] || fail "resume point '$next': $(grep resume run2.log)"
replayed=$(sed -n 's/.* + \([0-9]*\) messages replayed in .*/\1/p' run2.log | head -1)
pass "kill -9 at sequence $((next - 1)); restart: checkpoint + $replayed messages replayed, then live from $next"

# 3. the restarted collector's book is the reference's, and nothing it got was for an unknown order
want=$(grep "^  book       " ref.log)
got=$(grep "^  book       " run2.log)
[ "${want%%;*}" = "${got%%;*}" ] || fail "final book: '$got', reference '$want'"
grep -q "^  book       .*; 0 messages for orders the book did not hold" ref.log || fail "reference: $want"
grep -q "^  book       .*; 0 messages for orders the book did not hold" run2.log ||
	fail "after the restart: $got (the reference: $want)"
# every symbol's last BBO (stream BBO), as `mdmesh book --all --top` prints it
bbo() { "$MDM_BIN/mdmesh" book --all --top --json --feed "$1" --nats "$NATS_URL" | jq -c 'del(.feed)' | sort; }
bbo ref > bbo-ref.jsonl
bbo warm > bbo-warm.jsonl
[ "$(wc -l < bbo-ref.jsonl)" -ge 90 ] || fail "only $(wc -l < bbo-ref.jsonl) BBOs for the reference"
cmp -s bbo-ref.jsonl bbo-warm.jsonl || fail "BBOs differ: $(diff bbo-ref.jsonl bbo-warm.jsonl | head -4)"
pass "final book equal to the uninterrupted run's ($got), $(wc -l < bbo-ref.jsonl) BBOs equal, no unknown orders after the restart"

# 4. every event, each once, equal to the reference's, order state and quote included
events() {
	"$MDM_BIN/mdmesh" tail --nats "$NATS_URL" --all --idle-timeout 2 "md.$1.>" |
		jq -c 'del(.header.feed, .header.rx_ts_ns, .header.pub_ts_ns, .header.wire_ts_ns)' | jq -s -c 'sort_by(.header.seq)[]'
}
events ref > ev-ref.jsonl
events warm > ev-warm.jsonl
[ "$(wc -l < ev-ref.jsonl)" -eq $N ] || fail "reference stream holds $(wc -l < ev-ref.jsonl) events"
cmp -s ev-ref.jsonl ev-warm.jsonl || fail "events differ: $(diff ev-ref.jsonl ev-warm.jsonl | head -4)"
# the test can fail: after the restart, messages act on orders added before it
jq -r --argjson n "$next" 'select(.header.seq >= $n and .order.known == true) | .order.order_reference_number' \
	ev-warm.jsonl | sort -u > after.txt
jq -r --argjson n "$next" 'select(.header.seq < $n) | (.add_order // .add_order_mpid // empty).order_reference_number' \
	ev-warm.jsonl | sort -u > before.txt
old=$(comm -12 after.txt before.txt | wc -l)
[ "$old" -ge 100 ] || fail "only $old orders from before the kill were acted on after it: the test proves nothing"
pass "stream MD: $N events each once, equal to the reference's (order state, quote); $old orders added before the kill acted on after it"

# 5. the processor's trades (price and side from the order each execution met, the quote before it)
timeout 120 "$MDM_BIN/mdmesh-processor" --nats "$NATS_URL" --rules "" --http "" --set refdata.bucket=refdata \
	--store trades.db --exit-when-idle 2 2> proc.log || fail "processor exit $?: $(tail -5 proc.log)"
trades() { sqlite3 -json trades.db "select * from trades where feed = '$1' order by seq" | jq -c '.[] | del(.feed, .stream_seq, .rx_ts_ns)'; }
trades ref > trades-ref.jsonl
trades warm > trades-warm.jsonl
[ "$(wc -l < trades-ref.jsonl)" -ge 100 ] || fail "only $(wc -l < trades-ref.jsonl) reference trades"
cmp -s trades-ref.jsonl trades-warm.jsonl || fail "trades differ: $(diff trades-ref.jsonl trades-warm.jsonl | head -4)"
pass "the store's trades equal the reference's: $(wc -l < trades-ref.jsonl) trades"

# 6. the checkpoint is a plain Object Store object
if [ -n "${MDM_NATS_CLI:-}" ] && "$MDM_NATS_CLI" --version >/dev/null 2>&1; then
	"$MDM_NATS_CLI" -s "$NATS_URL" object ls mdmesh-checkpoints --names > ls.txt
	grep -qx "warm.collector-1" ls.txt || fail "nats object ls: $(cat ls.txt)"
	"$MDM_NATS_CLI" -s "$NATS_URL" object get mdmesh-checkpoints warm.collector-1 -O ckpt.bin --force >/dev/null 2>&1
	[ "$(head -c 7 ckpt.bin)" = "MDMCKPT" ] || fail "checkpoint object: $(head -c 16 ckpt.bin | od -c | head -2)"
	pass "nats object ls/get read the checkpoint"

	# 7. a damaged checkpoint: logged with the reason, a cold start, no crash
	head -c 5000 ckpt.bin > bad.bin
	"$MDM_NATS_CLI" -s "$NATS_URL" object put mdmesh-checkpoints bad.bin --name warm.collector-1 --force --no-progress \
		>/dev/null 2>&1 || fail "nats object put"
	DEAD=$(free_port) || fail "no free port"
	collector warm run3.log --set input.soup=127.0.0.1:"$DEAD" --http ""
	grep -q "book: cold (checkpoint: truncated: 5000 bytes, the header says " run3.log ||
		fail "damaged checkpoint: $(grep book run3.log)"
	kill -TERM "$col"
	wait "$col" || fail "collector exit $? after SIGTERM: $(tail -5 run3.log)"
	grep -q "^  book from  cold (checkpoint: truncated" run3.log || fail "summary: $(grep 'book from' run3.log)"
	pass "a truncated checkpoint: logged with the reason, cold start, clean exit"
fi
summary
