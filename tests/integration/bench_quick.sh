#!/usr/bin/env bash
# perf/bench --quick as a smoke test: it runs end to end (ceiling, collector per
# event and batch, the pipeline into SQLite, the trade feed (mdmesh-fix ->
# EXEC -> processor -> SQLite), nats bench's publisher and
# publisher + fetch consumer, one fixed rate over veth when namespaces can be
# made), on both nats-servers when Debian's is installed, and leaves a
# well-formed result: zero loss, the documented keys as positive numbers, the
# server's version, each server's results and ratios under "servers",
# per-stage percentiles, HdrHistogram logs, and a report.html carrying the data
# it plots. If npm/node are present, hdr-histogram-js reads one of the produced
# logs and must find the same percentiles results.json and the report show.
# Speed is not asserted. Without the nats CLI (MDM_NATS_CLI empty) the nats
# bench parts cannot run: everything else is checked, then the test reports
# skipped (77), never passed.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
command -v curl >/dev/null || fail "curl is not installed"
OUT="$MDM_T_TMP/results"
start=$SECONDS
MDM_BIN="$MDM_BIN" "$MDM_SRC_DIR/perf/bench" --quick --out "$OUT" > "$MDM_T_TMP/bench.out" 2> "$MDM_T_TMP/bench.err" ||
	fail "perf/bench --quick exit $?: $(tail -5 "$MDM_T_TMP/bench.err")"
took=$((SECONDS - start))
[ "$(tail -1 "$MDM_T_TMP/bench.out")" = "$OUT" ] || fail "perf/bench did not print its results path last: $(tail -1 "$MDM_T_TMP/bench.out")"
# the < 60 s target is reported, not asserted: tests never time (a loaded CI
# machine runs everything slower)
[ "$took" -lt 60 ] || echo "# --quick took $took s (target < 60 s on an idle 2-core machine, both servers)"
R="$OUT/results.json"
jq -e . "$R" > /dev/null || fail "results.json is not JSON"
pass "perf/bench --quick finished in $took s, results in \$OUT, path printed last"

[ "$(jq '.lost' "$R")" = 0 ] || fail "lost = $(jq .lost "$R"): $(jq -c '.runs | map_values(.lost)' "$R")"
jq -e '[.runs[].lost] | length >= 5 and all(. == 0)' "$R" > /dev/null || fail "per-run loss: $(jq -c '.runs | map_values(.lost)' "$R")"
for k in ceiling_eps collector_eps collector_views_eps views_ratio pipeline_eps pipeline_ratio batch_eps pipeline_batch_eps cores; do
	jq -e --arg k "$k" '.[$k] | type == "number" and . > 0' "$R" > /dev/null || fail "results.json .$k = $(jq ".$k" "$R")"
done
jq -e '(.pipeline_ratio - .pipeline_eps / .ceiling_eps | fabs) < 0.001' "$R" > /dev/null || fail "pipeline_ratio is not pipeline_eps / ceiling_eps"
pass "lost 0 in every run; ceiling/collector/pipeline/batch eps, ratio and cores are positive numbers"

# the trade feed: executions/s into SQLite with every row there, receive->acked p99 at a fixed rate
for k in fix_eps fix_rate fix_receive_to_acked_p99_ns fix_execution_to_persisted_p99_ns; do
	jq -e --arg k "$k" '.[$k] | type == "number" and . > 0' "$R" > /dev/null || fail "results.json .$k = $(jq ".$k" "$R")"
done
jq -e '[.runs | to_entries[] | select(.key == "fix_max" or (.key | startswith("fix_rate_"))) | .value] | length == 2 and
	all(.lost == 0 and .rows == .executions and .stream_msgs == .executions and
	.fix_latency.receive_to_acked.count >= .executions and .fix_latency.execution_to_persisted.count == .executions and
	.fix_latency.receive_to_acked.p50_ns <= .fix_latency.receive_to_acked.p99_ns and .cpu_cores["mdmesh-fix"] > 0)' "$R" \
	> /dev/null || fail "trade feed runs: $(jq -c '.runs | with_entries(select(.key | startswith("fix_")))' "$R")"
pass "trade feed: $(jq .fix_eps "$R") executions/s persisted, every row there; receive->acked p99 $(jq .fix_receive_to_acked_p99_ns "$R") ns at $(jq .fix_rate "$R")/s"

# the server(s): the current one's version at the top, each server's own results under "servers"
want=$(mdm_nats_server_version)
[ "$(jq -r .nats_server_version "$R")" = "$want" ] ||
	fail "nats_server_version = $(jq .nats_server_version "$R"), the current server ($MDM_NATS_SERVER) is $want"
[ "$(jq -r .servers.current.nats_server_version "$R")" = "$want" ] || fail "servers.current: $(jq -c '.servers | keys' "$R")"
deb=$MDM_NATS_SERVER_DEBIAN
keys='["current"]'
if "$deb" --version >/dev/null 2>&1 && [ "$(mdm_nats_server_version "$deb")" != "$want" ]; then
	keys='["current", "debian"]'
	[ "$(jq -r .servers.debian.nats_server_version "$R")" = "$(mdm_nats_server_version "$deb")" ] ||
		fail "servers.debian.nats_server_version = $(jq .servers.debian.nats_server_version "$R"), $deb is $(mdm_nats_server_version "$deb")"
	# --quick runs the fixed rates on the first server only, and says so
	if ! jq -e '.fixed_rates.skipped' "$R" > /dev/null; then
		jq -e '.servers.debian.fixed_rates.skipped | type == "string"' "$R" > /dev/null ||
			fail "servers.debian.fixed_rates: $(jq -c .servers.debian.fixed_rates "$R")"
	fi
	servers="current $want and debian $(mdm_nats_server_version "$deb")"
else
	jq -e '.servers_note | type == "string" and length > 0' "$R" > /dev/null ||
		fail "one server ran, and results.json does not say why (servers_note)"
	servers="current $want only: $(jq -r .servers_note "$R")"
fi
[ "$(jq -c '.servers | keys' "$R")" = "$(jq -c 'sort' <<< "$keys")" ] || fail "servers: $(jq -c '.servers | keys' "$R"), want $keys"
for k in $(jq -r '.[]' <<< "$keys"); do
	for f in ceiling_eps collector_eps collector_views_eps batch_eps pipeline_eps pipeline_batch_eps; do
		jq -e --arg k "$k" --arg f "$f" '.servers[$k][$f] | type == "number" and . > 0' "$R" > /dev/null ||
			fail "servers.$k.$f = $(jq --arg k "$k" --arg f "$f" '.servers[$k][$f]' "$R")"
	done
	jq -e --arg k "$k" '.servers[$k] | .lost == 0 and ([.runs[].lost] | length >= 5 and all(. == 0))' "$R" > /dev/null ||
		fail "servers.$k loss: $(jq -c --arg k "$k" '.servers[$k].runs | map_values(.lost)' "$R")"
	# every collector/pipeline row: its ratio to the same server's ceiling
	jq -e --arg k "$k" '.servers[$k] as $s | ["collector", "collector_batch", "pipeline", "pipeline_batch"] |
		all(. as $r | $s.ratios[$r] | .eps == $s.runs[$r].eps and (.to_ceiling - .eps / $s.ceiling_eps | fabs) < 0.001)' "$R" > /dev/null ||
		fail "servers.$k.ratios (to_ceiling): $(jq -c --arg k "$k" '.servers[$k].ratios' "$R")"
done
jq -e '. as $t | .servers.current as $c | ["ceiling_eps", "collector_eps", "batch_eps", "pipeline_eps", "pipeline_batch_eps",
	"natsbench_pub_eps", "natsbench_pubsub_eps", "fixed_rates", "ratios", "runs"] | all($t[.] == $c[.])' "$R" > /dev/null ||
	fail "the top-level results are not the current server's"
pass "nats_server_version $want; servers: $servers, each with positive eps, zero loss, ratios to its ceiling"

# nats bench: needs the nats CLI
n=$(jq .messages "$R")
nb_skip=
if jq -e '.natsbench.skipped' "$R" > /dev/null; then
	[ -z "$MDM_NATS_CLI" ] || fail "the nats CLI is $MDM_NATS_CLI, yet perf/bench skipped nats bench: $(jq -r .natsbench.skipped "$R")"
	nb_skip="no nats CLI (MDM_NATS_CLI empty): natsbench_pub_eps / natsbench_pubsub_eps not measured ($(jq -r .natsbench.skipped "$R"))"
	echo "# $nb_skip"
else
	for k in $(jq -r '.[]' <<< "$keys"); do
		for f in natsbench_pub_eps natsbench_pubsub_eps; do
			jq -e --arg k "$k" --arg f "$f" '.servers[$k][$f] | type == "number" and . > 0' "$R" > /dev/null ||
				fail "servers.$k.$f = $(jq --arg k "$k" --arg f "$f" '.servers[$k][$f]' "$R")"
		done
		jq -e --arg k "$k" '.servers[$k] as $s | ["collector", "collector_batch", "pipeline", "pipeline_batch"] |
			all(. as $r | $s.ratios[$r] | (.to_natsbench_pub - .eps / $s.natsbench_pub_eps | fabs) < 0.001)' "$R" > /dev/null ||
			fail "servers.$k.ratios (to_natsbench_pub): $(jq -c --arg k "$k" '.servers[$k].ratios' "$R")"
		jq -e --arg k "$k" --argjson n "$n" '.servers[$k].runs | .natsbench_pub.stream_msgs == $n and
			.natsbench_pubsub.stream_msgs == $n and .natsbench_pubsub.consumer.delivered == $n' "$R" > /dev/null ||
			fail "servers.$k nats bench runs: $(jq -c --arg k "$k" '.servers[$k].runs | {natsbench_pub, natsbench_pubsub}' "$R")"
	done
	for k in natsbench_pub_eps natsbench_pubsub_eps; do
		jq -e --arg k "$k" '.[$k] | type == "number" and . > 0' "$R" > /dev/null || fail "results.json .$k = $(jq ".$k" "$R")"
	done
	jq -e '.natsbench | .message_bytes > 0 and .subjects > 0 and .message_bytes <= 2 * .event_bytes_mean' "$R" > /dev/null ||
		fail "natsbench parameters: $(jq -c .natsbench "$R")"
	jq -e '.natsbench_unmatched | type == "array" and length > 0 and all(type == "string")' "$R" > /dev/null ||
		fail "natsbench_unmatched: $(jq -c .natsbench_unmatched "$R")"
	for c in natsbench_pub.csv natsbench_pubsub.pub.csv natsbench_pubsub.fetch.csv; do
		head -1 "$OUT/$c" | grep -q '^#RunID,ClientID,MsgCount,MsgBytes,MsgsPerSec' || fail "$c is not nats bench's CSV"
	done
	pass "nats bench ($(jq -r .natsbench.message_bytes "$R") B, $(jq -r .natsbench.subjects "$R") subjects): natsbench_pub_eps $(jq .natsbench_pub_eps "$R"), natsbench_pubsub_eps $(jq .natsbench_pubsub_eps "$R") > 0 on every server; ratios to it; what it could not match listed"
fi

# every stage of every run that logs latency: percentiles in order, counts right
need='["collector", "collector_batch", "pipeline", "pipeline_batch"]'
jq -e --argjson need "$need" '.latency as $l | $need | all(. as $r | $l[$r] | length > 0)' "$R" > /dev/null ||
	fail "latency missing for a run: $(jq -c '.latency | keys' "$R")"
bad=$(jq -r '.latency | to_entries[] | .key as $r | .value | to_entries[] | select(
	([.value.p50_ns, .value.p99_ns, .value.p999_ns, .value.max_ns] | all(type == "number" and . > 0) | not)
	or .value.p50_ns > .value.p99_ns or .value.p99_ns > .value.p999_ns or .value.p999_ns > .value.max_ns) | "\($r).\(.key)"' "$R")
[ -z "$bad" ] || fail "stages with missing or disordered percentiles: $bad"
n=$(jq .messages "$R")
for s in wire_to_decoded wire_to_ack; do
	[ "$(jq ".latency.collector.$s.count" "$R")" = "$n" ] || fail "collector $s counted $(jq ".latency.collector.$s.count" "$R"), want $n"
done
[ "$(jq '.latency.pipeline.wire_to_persisted.count' "$R")" = "$n" ] || fail "pipeline wire_to_persisted count != $n"
for c in '.cpu_cores.pipeline["mdmesh-collector"]' '.cpu_cores.pipeline["mdmesh-processor"]' '.cpu_cores.pipeline["nats-server"]' \
	'.cpu_cores.ceiling["mdmesh-bench-ceiling"]'; do
	jq -e "$c | type == \"number\" and . > 0" "$R" > /dev/null || fail "cpu $c = $(jq "$c" "$R")"
done
for h in collector collector_batch pipeline.collector pipeline.processor; do
	head -1 "$OUT/$h.hlog" | grep -q '^#\[Histogram log format version 1.3\]$' || fail "$h.hlog is not an interval log"
done
pass "per-stage p50 <= p99 <= p99.9 <= max for every run; counts = $n events; CPU per component; .hlog files"

if jq -e '.fixed_rates.skipped' "$R" > /dev/null; then
	echo "# fixed rates: $(jq -r .fixed_rates.skipped "$R")"
else
	jq -e '.fixed_rates.runs | length >= 1 and all(.eps > 0 and .send_achieved_eps > 0 and .lost == 0)' "$R" > /dev/null ||
		fail "fixed-rate runs: $(jq -c .fixed_rates "$R")"
	r=$(jq -r '.fixed_rates.runs[0].key' "$R")
	[ "$(jq ".latency.$r.wire_to_persisted.count" "$R")" = "$n" ] || fail "$r: wire_to_persisted count != $n"
	jq -e '.fixed_rates.runs | all(.ceiling_publish_to_ack_p99_ns > 0 and (.wire_to_ack_to_ceiling_p99 | type) == "number"
		and .window.window >= .window.window_min and .window.window <= .window.window_max and .window.ack_min_ns > 0
		and (.stages.wire_to_ack.p999_ns >= .stages.wire_to_ack.p99_ns))' "$R" > /dev/null ||
		fail "fixed-rate runs lack the latency ceiling or the window: $(jq -c '.fixed_rates.runs[0]' "$R")"
	pass "fixed rate $(jq -r '.fixed_rates.runs[0].rate' "$R")/s over veth: every event persisted, latency per stage, the ceiling and the window"
fi

# report.html: self-contained, embeds the results and the decoded logs it plots
H="$OUT/report.html"
[ -s "$H" ] || fail "report.html missing"
grep -Eq '<(script|link|img)[^>]* (src|href)=' "$H" && fail "report.html loads external resources"
grep -q 'https\?://' <(grep -v '^{\|^"' "$H" | grep -v 'xmlns=') && fail "report.html references the network"
sed -n '/<script id="results" type="application\/json">/,/<\/script>/p' "$H" | sed '1d;$d' > "$MDM_T_TMP/emb.json"
cmp -s "$MDM_T_TMP/emb.json" "$R" || fail "report.html does not embed results.json"
sed -n '/<script id="hdr" type="application\/json">/,/<\/script>/p' "$H" | sed '1d;$d' > "$MDM_T_TMP/hdr.json"
jq -e '."collector|wire_to_ack" | length >= 2' "$MDM_T_TMP/hdr.json" > /dev/null || fail "report.html lacks the decoded collector log"
emb=$(jq -c '."collector|wire_to_ack"[] | select(.total) | [.p50, .p99, ."p99.9", .max]' "$MDM_T_TMP/hdr.json")
res=$(jq -c '.latency.collector.wire_to_ack | [.p50_ns, .p99_ns, .p999_ns, .max_ns]' "$R")
[ "$emb" = "$res" ] || fail "report shows $emb for collector wire_to_ack, results.json $res"
grep -q '<div id="servers">' "$H" || fail "report.html has no servers table"
pass "report.html: self-contained, embeds results.json and the decoded logs (same percentiles), servers side by side"

# hdr-histogram-js reads collector.hlog: the same percentiles as results.json
# the end: skipped (77) when the nats bench part could not run, else the summary
finish() {
	[ -z "$nb_skip" ] || skip "$nb_skip (the other $MDM_T_PASS checks passed)"
	summary
	exit 0
}
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
	echo "# npm/node absent: hdr-histogram-js check not run"
	finish
fi
NODE_DIR="$MDM_BUILD_DIR/node"
if [ ! -f "$NODE_DIR/node_modules/hdr-histogram-js/package.json" ]; then
	npm install --prefix "$NODE_DIR" --no-audit --no-fund hdr-histogram-js@3.0.1 > "$MDM_T_TMP/npm.log" 2>&1 ||
		fail "npm install hdr-histogram-js@3.0.1 failed: $(tail -5 "$MDM_T_TMP/npm.log")"
fi
for st in wire_to_ack publish_to_ack; do
	js=$(NODE_PATH="$NODE_DIR/node_modules" node -e '
const fs = require("fs"), hdr = require("hdr-histogram-js");
const [path, tag] = process.argv.slice(1);
const r = new hdr.HistogramLogReader(fs.readFileSync(path, "utf8"), 64);
const tot = hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3 });
let h, n = 0;
while ((h = r.nextIntervalHistogram()) !== null) if (h.tag === tag) { tot.add(h); n++; }
if (!n) { console.error("no interval tagged " + tag); process.exit(1); }
console.log(JSON.stringify([tot.totalCount, tot.getValueAtPercentile(50), tot.getValueAtPercentile(99), tot.getValueAtPercentile(99.9)]));
' "$OUT/collector.hlog" "$st") || fail "hdr-histogram-js could not read collector.hlog"
	want=$(jq -c ".latency.collector.$st | [.count, .p50_ns, .p99_ns, .p999_ns]" "$R")
	[ "$js" = "$want" ] || fail "$st: hdr-histogram-js [count,p50,p99,p99.9] $js, results.json $want"
done
pass "hdr-histogram-js 3.0.1 reads collector.hlog: count, p50, p99, p99.9 equal results.json (wire_to_ack, publish_to_ack)"
finish
