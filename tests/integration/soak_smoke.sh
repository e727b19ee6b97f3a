#!/usr/bin/env bash
# perf/soak, short: 15 s at 20000 events/s through the whole pipeline (veth,
# collector, JetStream, processor, SQLite). Checks that it ends with a
# well-formed result and zero loss; speed is not asserted, and 15 s is too
# short to judge a leak (soak.json must say it did not). Needs network
# namespaces: skipped without them.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
need_nats_server
for t in jq sqlite3 curl; do command -v "$t" >/dev/null || fail "$t is not installed (scripts/test installs it)"; done
if ! ip netns add "mdmsk$$" 2>/dev/null; then skip "perf/soak needs network namespaces (root / CAP_SYS_ADMIN)"; fi
ip netns del "mdmsk$$"
OUT="$MDM_T_TMP/soak"
start=$SECONDS
MDM_BIN="$MDM_BIN" "$MDM_SRC_DIR/perf/soak" --duration 15 --rate 20000 --symbols 200 --interval 2 --out "$OUT" \
	> "$MDM_T_TMP/soak.out" 2> "$MDM_T_TMP/soak.err" || fail "perf/soak exit $?: $(tail -5 "$MDM_T_TMP/soak.err")"
[ "$(tail -1 "$MDM_T_TMP/soak.out")" = "$OUT" ] || fail "perf/soak did not print its results path last"
S="$OUT/soak.json"
jq -e . "$S" > /dev/null || fail "soak.json is not JSON"
pass "perf/soak --duration 15 --rate 20000 ran in $((SECONDS - start)) s, path printed last"

[ "$(jq .sent "$S")" = 300000 ] || fail "sent $(jq .sent "$S"), want 15 x 20000"
# (a resend after an ack timeout on a loaded box is acked "duplicate": the
# event is stored once either way, which stream_msgs == sent checks)
jq -e '.lost == 0 and .stream_msgs == .sent and .committed == .sent and .collector.stored + .collector.duplicates == .sent
	and .collector.balanced and .collector.gaps == 0 and .verdict.ok and (.verdict.failures | length) == 0' "$S" > /dev/null ||
	fail "loss or failure: $(jq -c '{sent, stream_msgs, committed, collector, lost, verdict}' "$S")"
pass "300000 sent = stored once by the collector ($(jq .collector.duplicates "$S") as duplicate acks of resends) = in the stream = committed; verdict ok"

# timeline.csv: a header and one row per sample, RSS of every component > 0,
# counts never decreasing, ending at the totals
T="$OUT/timeline.csv"
head -1 "$T" | grep -q '^t_s,phase,collector_rss_kb,processor_rss_kb,nats_rss_kb,' || fail "timeline.csv header: $(head -1 "$T")"
rows=$(awk -F, 'NR > 1 && $2 == "send"' "$T" | wc -l)
# one sample every 2 s at best: on a loaded box a sample (HTTP gets, ps,
# jq) takes longer and there are fewer (5 of 7 seen under a CPU hog)
[ "$rows" -ge 3 ] || fail "only $rows samples while sending (interval 2 s over 15 s)"
bad=$(awk -F, 'NR > 1 && ($3 <= 0 || $4 <= 0 || $5 <= 0 || $9 < c || $10 < s || $12 < m) { print NR } { if (NR > 1) { c = $9; s = $10; m = $12 } }' "$T")
[ -z "$bad" ] || fail "timeline rows with no RSS or counts going back: $bad"
tail -1 "$T" | awk -F, '$9 == 300000 && $10 == 300000 && $12 == 300000 && $13 == 0 { ok = 1 } END { exit !ok }' ||
	fail "last timeline row does not end at the totals: $(tail -1 "$T")"
jq -e '.rss | to_entries | all(.value.start_kb > 0 and .value.peak_kb >= .value.start_kb)' "$S" > /dev/null ||
	fail "rss summary: $(jq -c .rss "$S")"
jq -e '.rss["mdmesh-collector"].judged == false and .rss["mdmesh-processor"].judged == false and (.verdict.leak_judged | length) == 0' \
	"$S" > /dev/null || fail "a 15 s run must not judge a leak (warm-up 60 s): $(jq -c .rss "$S")"
pass "timeline.csv: $rows samples while sending, RSS of collector/processor/nats-server, counts monotonic to the totals"

# latency.csv: per-interval percentiles of the end-to-end stages, ordered
L="$OUT/latency.csv"
for st in wire_to_ack wire_to_persisted; do
	n=$(awk -F, -v s="$st" '$1 == s && $4 > 0' "$L" | wc -l)
	[ "$n" -ge 5 ] || fail "$st: $n intervals in latency.csv"
	sum=$(awk -F, -v s="$st" '$1 == s { c += $4 } END { print c + 0 }' "$L")
	[ "$sum" = 300000 ] || fail "$st: interval counts add up to $sum, want 300000"
	jq -e --arg s "$st" '.latency[$s] | .count == 300000 and .p50_ns > 0 and .p50_ns <= .p99_ns and .p99_ns <= .max_ns' "$S" > /dev/null ||
		fail "soak.json latency.$st: $(jq -c --arg s "$st" '.latency[$s]' "$S")"
	jq -e --arg s "$st" '.latency_over_time[$s] | .intervals >= 5 and .p99_ns_min <= .p99_ns_median and .p99_ns_median <= .p99_ns_max' \
		"$S" > /dev/null || fail "soak.json latency_over_time.$st: $(jq -c --arg s "$st" '.latency_over_time[$s]' "$S")"
done
bad=$(awk -F, 'NR > 1 && $4 > 0 && !($5 <= $7 && $7 <= $8 && $8 <= $9) { print NR }' "$L" | head -3)
[ -z "$bad" ] || fail "latency.csv rows with p50 > p99 > p99.9 > max: $bad"
pass "latency.csv: wire_to_ack and wire_to_persisted per 1 s interval, counts add up to 300000, percentiles ordered"
summary
