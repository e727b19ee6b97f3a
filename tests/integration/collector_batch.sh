#!/usr/bin/env bash
# publish.mode batch end to end: a synthesized capture replayed into a real
# nats-server as EventBatch messages on mdb.<feed>.<partition> (stream MDB),
# read back with `mdmesh tail`: every sequence exactly once across batches,
# fields equal to the synthesizer's truth, headers and names as documented,
# one partition per symbol and feed order within each partition; a replay of
# the same capture adds nothing (the same batches, de-duplicated by
# Nats-Msg-Id); and the processor reading MDB fills the same trades table as
# it does from the per-event stream MD of the same capture. Live input (time
# cuts) loses and doubles nothing either.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
MD="$MDM_BIN/mdmesh"
COL="$MDM_BIN/mdmesh-collector"
PROC="$MDM_BIN/mdmesh-processor"
N=30000
MAXEV=128
PARTS=5
# a replay is checked to be all duplicates: the streams' duplicate window must
# outlast the first run and its checks, which took over the default 2 min on
# a loaded box (the replay's views were stored anew)
COLLECT=(--set stream.duplicate_window=30m --http "" --set eal.mem_mb=256 --set input.mbufs=8191)
BATCH=(--set publish.mode=batch --set publish.batch_max_events=$MAXEV --set publish.partitions=$PARTS)

start_nats
"$LG" synth --out feed.pcap --messages $N --symbols 300 --seed 31 --truth feed.truth 2>/dev/null

# 1. batch mode: every event stored once, in EventBatch messages
"$COL" --nats "$NATS_URL" --pcap feed.pcap --exit-on-eof "${COLLECT[@]}" "${BATCH[@]}" 2> run1.log ||
	fail "collector exit $?: $(tail -5 run1.log)"
grep -q "stream MDB created" run1.log || fail "stream MDB not created: $(grep stream run1.log)"
grep -q "events     $N = stored $N + duplicate 0 .* : balanced" run1.log || fail "run 1 summary: $(grep events run1.log)"
"$MD" tail --nats "$NATS_URL" --stream MDB --all --idle-timeout 2 --headers --type EventBatch 'mdb.>' > batches.raw
nb=$(wc -l < batches.raw)
[ "$nb" -gt $((N / MAXEV)) ] || fail "$nb batches for $N events of at most $MAXEV: not batched by window"
# one line per event: subject, stream_seq, index in its batch, the event
jq -c '. as $m | .event.events | to_entries[] | {subject: $m.subject, stream_seq: $m.stream_seq, i: .key, e: .value}' \
	batches.raw > events.jsonl
[ "$(wc -l < events.jsonl)" -eq $N ] || fail "batches hold $(wc -l < events.jsonl) events, want $N"
[ "$(jq -r '.e.header.seq' events.jsonl | sort -un | wc -l)" -eq $N ] || fail "sequences not each exactly once"
jq -c '.e as $e | {session: $e.header.session, seq: $e.header.seq, type: $e.header.type,
	stock_locate: $e.header.stock_locate, tracking_number: $e.header.tracking_number,
	timestamp: $e.header.exchange_ts_ns, symbol: $e.header.symbol}
	+ ($e | del(.header, .order, .quote_before) | to_entries[0].value)' events.jsonl | jq -s -c 'sort_by(.seq)[]' > got.jsonl
jq -c 'del(.line_lost)' feed.truth | jq -s -c 'sort_by(.seq)[]' > want.jsonl
cmp -s got.jsonl want.jsonl || fail "events differ from the truth: $(diff got.jsonl want.jsonl | head -4)"
pass "$N events in $nb EventBatch messages, each sequence exactly once, fields equal to the truth"

# names and headers: Msg-Id <feed>.<session>.<first>-<last>.<partition>, the
# partition in subject, body and Msg-Id alike, at most MAXEV events per batch,
# all of one window of MAXEV sequence numbers
bad=$(jq -r --argjson max $MAXEV --argjson parts $PARTS '
	(.event.events | map(.header.seq)) as $s | (.subject | split(".")[2]) as $p |
	select(.headers["Content-Type"] != "application/protobuf; proto=mdmesh.v1.EventBatch"
		or .event.feed != "itch" or ((.event.partition // 0) | tostring) != $p or ($p | tonumber) >= $parts
		or .headers["Nats-Msg-Id"] != ("itch." + .event.events[0].header.session + "." + ($s[0] | tostring)
			+ "-" + ($s[-1] | tostring) + "." + $p)
		or ($s | length) > $max or ($s[0] / $max | floor) != ($s[-1] / $max | floor)
		or $s != ($s | sort)) | .headers["Nats-Msg-Id"]' batches.raw | head -3)
[ -z "$bad" ] || fail "batch names, headers or bounds wrong: $bad"
[ "$(jq -r '.headers["Nats-Msg-Id"]' batches.raw | sort -u | wc -l)" -eq "$nb" ] || fail "Msg-Ids not unique"
pass "subjects mdb.itch.<partition>, Msg-Id itch.<session>.<first>-<last>.<partition>, Content-Type, <= $MAXEV per window"

# per-partition order: a symbol always in one partition, and a partition's
# events in stream order are in feed (sequence) order
split=$(jq -r 'select(.e.header.symbol != null and .e.header.symbol != "") | [.e.header.symbol, .subject] | @tsv' events.jsonl |
	sort -u | cut -f1 | uniq -d | head -3)
[ -z "$split" ] || fail "symbols in more than one partition: $split"
disorder=$(jq -r '[.subject, .stream_seq, .i, .e.header.seq] | @tsv' events.jsonl | sort -k1,1 -k2,2n -k3,3n |
	awk '$1 == p && $4 <= last { print $1 " seq " $4 " after " last; exit } { p = $1; last = $4 }')
[ -z "$disorder" ] || fail "partition out of order: $disorder"
[ "$(jq -r .subject batches.raw | sort -u | wc -l)" -eq $PARTS ] ||
	fail "not every one of $PARTS partitions used"
pass "each symbol in one partition; every partition in sequence order"

# 2. the same capture again: the same batches, all duplicates, nothing added
"$COL" --nats "$NATS_URL" --pcap feed.pcap --exit-on-eof "${COLLECT[@]}" "${BATCH[@]}" 2> run2.log ||
	fail "replay exit $?: $(tail -5 run2.log)"
grep -q "events     $N = stored 0 + duplicate $N .* : balanced" run2.log || fail "replay summary: $(grep events run2.log)"
n=$("$MD" tail --nats "$NATS_URL" --stream MDB --all --idle-timeout 2 --type EventBatch 'mdb.>' | wc -l)
[ "$n" -eq "$nb" ] || fail "after the replay MDB holds $n messages, want $nb"
pass "replay: $N duplicates, MDB still $nb messages"

# 3. the processor: MDB gives the trades MD gives for the same capture
"$COL" --nats "$NATS_URL" --pcap feed.pcap --exit-on-eof "${COLLECT[@]}" 2> run_md.log ||
	fail "event-mode collector exit $?: $(tail -5 run_md.log)"
# (on a starved machine some acks time out and are resent: duplicates, same Msg-Id)
grep -Eq "events     $N = stored [0-9]+ \+ duplicate [0-9]+ \+ dropped\(ring full\) 0 .* : balanced" run_md.log ||
	fail "event mode: $(grep events run_md.log)"
"$MD" tail --nats "$NATS_URL" --all --idle-timeout 2 'md.>' | jq -r .header.seq > md_seqs.txt
[ "$(wc -l < md_seqs.txt)" -eq "$N" ] && [ "$(sort -un md_seqs.txt | wc -l)" -eq "$N" ] ||
	fail "event mode: MD holds $(wc -l < md_seqs.txt) events, $(sort -un md_seqs.txt | wc -l) distinct, want $N each once"
PCOMMON=(--nats "$NATS_URL" --rules "" --http "" --set refdata.bucket=refdata --exit-when-idle 2)
timeout 120 "$PROC" "${PCOMMON[@]}" --store md.db --set consumer.durable=proc-md 2> proc_md.log ||
	fail "processor on MD exit $?: $(tail -5 proc_md.log)"
timeout 120 "$PROC" "${PCOMMON[@]}" --store mdb.db --set stream.name=MDB --set consumer.durable=proc-mdb 2> proc_mdb.log ||
	fail "processor on MDB exit $?: $(tail -5 proc_mdb.log)"
t_md=$(sqlite3 md.db "select count(*) from trades")
t_mdb=$(sqlite3 mdb.db "select count(*) from trades")
[ "$t_md" -gt 0 ] || fail "no trades from MD: the comparison checks nothing"
[ "$t_mdb" -eq "$t_md" ] || fail "trades from MDB $t_mdb, from MD $t_md"
q="select feed, session, seq, symbol, ts_ns, price, shares, side, match_number, kind, printable from trades order by feed, session, seq"
cmp -s <(sqlite3 md.db "$q") <(sqlite3 mdb.db "$q") || fail "trades rows differ between MD and MDB"
pass "processor on MDB: $t_mdb trades, row for row those of MD"

# 4. live input (any input but input.pcap): batch_max_delay cuts batches early,
#    here where no window (65536 sequence numbers) ever completes; nothing is
#    lost or doubled. A replay of that capture afterwards cuts by sequence
#    only: one batch per partition with Msg-Ids the live run did not use, so
#    it is stored again (the documented replay-after-live behaviour).
"$LG" synth --out live.pcap --messages 10000 --symbols 300 --seed 32 --session LIVEBATCH1 2>/dev/null
WIDE=(--set publish.mode=batch --set publish.batch_max_events=65536 --set publish.partitions=$PARTS)
# a 1 us delay cuts every partition early whatever the machine's speed (records
# arrive in bursts of 32), so no live batch can share a Msg-Id with the replay's
"$COL" --nats "$NATS_URL" --set input.vdev=net_pcap0,rx_pcap=live.pcap --exit-on-eof "${COLLECT[@]}" "${WIDE[@]}" \
	--set publish.batch_max_delay=1us 2> run_live.log || fail "live-input collector exit $?: $(tail -5 run_live.log)"
grep -q "events     10000 = stored 10000 + duplicate 0 .* : balanced" run_live.log || fail "live: $(grep events run_live.log)"
live_batches() {
	"$MD" tail --nats "$NATS_URL" --stream MDB --all --idle-timeout 2 --headers --type EventBatch 'mdb.>' |
		jq -c 'select(.event.events[0].header.session == "LIVEBATCH1")' > "$1"
}
live_batches live.raw
nl=$(wc -l < live.raw)
[ "$nl" -gt $PARTS ] || fail "live input: $nl batches, want more than $PARTS (cut by batch_max_delay)"
[ "$(jq -r '.event.events[].header.seq' live.raw | sort -n | uniq | wc -l)" -eq 10000 ] &&
	[ "$(jq -r '.event.events[].header.seq' live.raw | wc -l)" -eq 10000 ] || fail "live input: sequences not once each"
disorder=$(jq -r '. as $m | .event.events | to_entries[] | [$m.subject, $m.stream_seq, .key, .value.header.seq] | @tsv' live.raw |
	sort -k1,1 -k2,2n -k3,3n | awk '$1 == p && $4 <= last { print $1 " seq " $4 " after " last; exit } { p = $1; last = $4 }')
[ -z "$disorder" ] || fail "live input: partition out of order: $disorder"
"$COL" --nats "$NATS_URL" --pcap live.pcap --exit-on-eof "${COLLECT[@]}" "${WIDE[@]}" 2> run_live2.log ||
	fail "replay after live exit $?: $(tail -5 run_live2.log)"
grep -q "events     10000 = stored 10000 + duplicate 0 .* : balanced" run_live2.log || fail "replay after live: $(grep events run_live2.log)"
live_batches live2.raw
[ "$(wc -l < live2.raw)" -eq $((nl + PARTS)) ] || fail "replay after live added $(($(wc -l < live2.raw) - nl)) batches, want $PARTS"
pass "live input: $nl batches cut by batch_max_delay, each sequence once, in order; a replay afterwards adds $PARTS whole batches"
summary
