#!/usr/bin/env bash
# configs/prometheus.yml against the real daemons: Debian's prometheus scrapes
# a collector (which replays a synthesized capture into a real nats-server) and
# a processor (which consumes it); its HTTP API must show both targets up and
# the events counted. Every metric name follows the conventions (mdmesh_
# prefix, counters and only counters end in _total, durations in _seconds),
# checked by promtool and by the rules below.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
{ command -v prometheus && command -v promtool; } >/dev/null ||
	fail "prometheus/promtool are not installed (scripts/test installs them: apt-get install prometheus)"
cd "$MDM_T_TMP"
N=20000

# conventions KIND: reads /metrics text, prints each name that breaks them
conventions() {
	awk '
	$1 == "#" && $2 == "TYPE" {
		name = $3; kind = $4; fam[name] = kind
		if (name !~ /^mdmesh_(collector|processor)_[a-z0-9_]+$/) print name ": not mdmesh_<component>_snake_case"
		if ((kind == "counter") != (name ~ /_total$/)) print name ": " kind " (only counters end in _total)"
		if (name ~ /_(ns|us|ms|nanoseconds|microseconds|milliseconds|minutes|hours)(_total)?$/) print name ": time not in seconds"
		if (name ~ /(latency|duration|delay|time)/ && name !~ /_seconds(_total)?$/) print name ": duration not in _seconds"
		next
	}
	/^#/ || NF == 0 { next }
	{
		s = $1; sub(/\{.*/, "", s); base = s
		if (!(base in fam)) { sub(/_(sum|count)$/, "", base) }
		if (!(base in fam)) print s ": sample without a # TYPE"
	}'
}
# the rules themselves catch what they are meant to
bad=$(printf '# TYPE mdmesh_collector_x counter\nmdmesh_collector_x 1\n# TYPE mdmesh_collector_wait_ms gauge\nmdmesh_collector_wait_ms 1\n# TYPE foo_total counter\nfoo_total 1\nmdmesh_collector_orphan 2\n' |
	conventions | wc -l)
[ "$bad" -eq 4 ] || fail "the naming rules found $bad of 4 planted problems"

start_nats
"$MDM_BIN/mdmesh-loadgen" synth --out feed.pcap --messages "$N" --symbols 50 --seed 41 2>/dev/null
CP=$(free_port)
"$MDM_BIN/mdmesh-collector" --nats "$NATS_URL" --pcap feed.pcap --http "127.0.0.1:$CP" \
	--set eal.mem_mb=256 --set input.mbufs=8191 2>collector.log &
COL_PID=$!
MDM_T_PIDS+=("$COL_PID")
wait_port "$CP" 30 || fail "collector HTTP did not come up: $(tail -5 collector.log)"
PP=$(free_port)
while [ "$PP" = "$CP" ]; do PP=$(free_port); done
"$MDM_BIN/mdmesh-processor" --nats "$NATS_URL" --rules "" --store "$MDM_T_TMP/p.db" --http "127.0.0.1:$PP" \
	2>processor.log &
PROC_PID=$!
MDM_T_PIDS+=("$PROC_PID")
wait_port "$PP" 30 || fail "processor HTTP did not come up: $(tail -5 processor.log)"

for d in "collector:$CP" "processor:$PP"; do
	set -- "${d%%:*}" "${d#*:}"
	http_get "$2" /metrics >"$1.prom" || fail "GET $1 /metrics failed"
	grep -q "^# TYPE mdmesh_$1_" "$1.prom" || fail "$1 /metrics has no mdmesh_$1_ family"
	promtool check metrics <"$1.prom" >"$1.lint" 2>&1 || fail "promtool check metrics ($1): $(head -5 "$1.lint")"
	conventions <"$1.prom" >"$1.bad"
	[ ! -s "$1.bad" ] || fail "$1 metric names: $(head -5 "$1.bad")"
done
pass "promtool check metrics and the naming rules: $(grep -c '^# TYPE' collector.prom) collector + $(grep -c '^# TYPE' processor.prom) processor families clean"

# the committed config, pointed at this test's ports, scraping every second
sed -e "s/127\.0\.0\.1:9101/127.0.0.1:$CP/; s/127\.0\.0\.1:9102/127.0.0.1:$PP/" \
	-e 's/scrape_interval: 5s/scrape_interval: 1s/; s/scrape_timeout: 4s/scrape_timeout: 1s/' \
	"$MDM_SRC_DIR/configs/prometheus.yml" >prometheus.yml
{ grep -q "127.0.0.1:$CP" prometheus.yml && grep -q "127.0.0.1:$PP" prometheus.yml; } ||
	fail "configs/prometheus.yml does not target 127.0.0.1:9101 and 127.0.0.1:9102"
promtool check config prometheus.yml >promtool.log 2>&1 || fail "promtool check config: $(cat promtool.log)"
PROM=$(free_port)
prometheus --config.file=prometheus.yml --storage.tsdb.path="$MDM_T_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PROM" 2>prometheus.log &
MDM_T_PIDS+=($!)
wait_port "$PROM" 30 || fail "prometheus did not start: $(tail -5 prometheus.log)"
for _ in $(seq 1 60); do # 503 until its storage is open
	http_get "$PROM" /-/ready >/dev/null 2>&1 && break
	sleep 0.5
done
http_get "$PROM" /-/ready >/dev/null || fail "prometheus not ready: $(tail -5 prometheus.log)"

# query EXPR (URL-encoded): the API's JSON
query() { http_get "$PROM" "/api/v1/query?query=$1"; }
up=""
for _ in $(seq 1 60); do
	up=$(query 'up' | jq -r '[.data.result[] | select(.value[1] == "1") | .metric.job] | sort | join(",")') || up=""
	[ "$up" = "mdmesh-collector,mdmesh-processor" ] && break
	sleep 0.5
done
[ "$up" = "mdmesh-collector,mdmesh-processor" ] || fail "targets up: '$up'; $(query up)"
pass "prometheus: both targets up (job mdmesh-collector, mdmesh-processor)"

# the collector counted every event, the processor committed them all; the
# values prometheus holds follow the daemons'
for _ in $(seq 1 120); do
	ce=$(query 'mdmesh_collector_events_total' | jq -r '.data.result[] | select(.metric.job == "mdmesh-collector") | .value[1]') || ce=""
	pe=$(query 'sum(mdmesh_processor_events_total)' | jq -r '.data.result[0].value[1] // empty') || pe=""
	[ "$ce" = "$N" ] && [ "$pe" = "$N" ] && break
	sleep 0.5
done
[ "$ce" = "$N" ] || fail "prometheus has mdmesh_collector_events_total = '$ce', want $N"
[ "$pe" = "$N" ] || fail "prometheus has sum(mdmesh_processor_events_total) = '$pe', want $N"
q=$(query 'mdmesh_collector_stage_latency_seconds%7Bstage%3D%22wire_to_ack%22%2Cquantile%3D%220.99%22%7D' |
	jq -r '.data.result | length') || q=0
[ "$q" = 1 ] || fail "no wire_to_ack p99 series in prometheus"
pass "prometheus API: mdmesh_collector_events_total = $N, sum(mdmesh_processor_events_total) = $N, stage latency series present"

for pid in "$PROC_PID" "$COL_PID"; do
	kill "$pid"
	wait "$pid" || fail "daemon $pid exit $? on SIGTERM"
done
summary
