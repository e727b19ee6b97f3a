#!/usr/bin/env bash
# `mdmesh hdr` and hdr-histogram-js 3.0.1 read each other's histograms and
# interval logs and report the same count, min, max, mean and percentiles:
#  (a) values -> mdmesh hdr encode -> JS decode, checked against mdmesh decode
#  (b) JS encode (its quirky header) -> mdmesh hdr decode --json
#  (c) a JS HistogramLogWriter log -> mdmesh, and an mdmesh log -> JS reader
# The JS helper (hdr_interop.js) explains why percentiles compare exactly.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"

command -v npm >/dev/null || skip "npm absent (needed to install hdr-histogram-js)"
command -v node >/dev/null || skip "npm absent (node missing too)"
NODE_DIR="$MDM_BUILD_DIR/node"
if [ ! -f "$NODE_DIR/node_modules/hdr-histogram-js/package.json" ]; then
	npm install --prefix "$NODE_DIR" --no-audit --no-fund hdr-histogram-js@3.0.1 >"$MDM_T_TMP/npm.log" 2>&1 ||
		fail "npm install hdr-histogram-js@3.0.1 failed: $(tail -5 "$MDM_T_TMP/npm.log")"
fi
version=$(node -p "require('$NODE_DIR/node_modules/hdr-histogram-js/package.json').version")
[ "$version" = "3.0.1" ] || fail "hdr-histogram-js $version installed in $NODE_DIR, want 3.0.1"
export NODE_PATH="$NODE_DIR/node_modules"
JS="node $MDM_SRC_DIR/tests/integration/hdr_interop.js"
HDR="$MDM_BIN/mdmesh hdr"
T=$MDM_T_TMP

# (a) 100000 lognormal-ish values encoded by mdmesh, decoded by both sides.
$JS values 100000 7 >"$T/a.txt"
$HDR encode <"$T/a.txt" >"$T/a.out" || fail "mdmesh hdr encode failed"
b64=$(head -1 "$T/a.out")
case "$b64" in HISTF*) ;; *) fail "encode first line is not a HISTF histogram: $b64" ;; esac
grep -q "Total count    = 100000" "$T/a.out" || fail "encode table does not count 100000 values"
$HDR decode --json "$b64" >"$T/a.json" || fail "mdmesh hdr decode --json failed"
grep -q '"count":100000,' "$T/a.json" || fail "mdmesh decode count: $(cat "$T/a.json")"
$JS check-b64 "$b64" "$T/a.json" >/dev/null
pass "(a) mdmesh encode -> hdr-histogram-js decode: same count/min/max/mean/p50..p99.99, Java/C header"

# (b) 200000 values encoded by JS (auto-resized, offset-1 header) -> mdmesh.
$JS js-encode 200000 11 >"$T/b.json"
b64=$(node -p "require('$T/b.json').b64")
$HDR decode --json "$b64" >"$T/b.c.json" 2>"$T/b.err" || fail "mdmesh could not decode the JS histogram: $(cat "$T/b.err")"
grep -q "hdr-histogram-js 3.x header" "$T/b.err" || fail "no warning about the JS header quirk: $(cat "$T/b.err")"
grep -q '"count":200000,' "$T/b.c.json" || fail "JS histogram count: $(cat "$T/b.c.json")"
$JS check-stats "$T/b.json" "$T/b.c.json"
pass "(b) hdr-histogram-js encode -> mdmesh decode: same statistics, quirk header flagged"

# (c1) an interval log written by JS's HistogramLogWriter, read by mdmesh.
$JS js-write-log "$T/js.hlog" >"$T/js.expected"
$HDR decode --json "$T/js.hlog" >"$T/js.c.jsonl" 2>"$T/js.err" || fail "mdmesh could not read the JS log: $(cat "$T/js.err")"
$JS check-log "$T/js.expected" "$T/js.c.jsonl"
$HDR report "$T/js.hlog" >"$T/js.report" 2>>"$T/js.err" || fail "mdmesh hdr report failed on the JS log"
grep -q "Total count    = 50000" "$T/js.report" || fail "report of the JS log does not total 50000"
pass "(c1) JS HistogramLogWriter log -> mdmesh hdr decode --json: 4 intervals + total agree"

# (c2) a log written by mdmesh (1 s intervals, tagged) read by JS's reader.
$JS timed-values 3 10000 5 1700000000 >"$T/t.txt"
$HDR encode --hlog 1 --tag feedB <"$T/t.txt" >"$T/our.hlog" || fail "mdmesh hdr encode --hlog failed"
grep -q '^#\[Histogram log format version 1.3\]$' "$T/our.hlog" || fail "our log lacks the 1.3 version line"
$HDR decode --json "$T/our.hlog" >"$T/our.c.jsonl" || fail "mdmesh could not read its own log"
n=$($JS js-read-log "$T/our.hlog" "$T/our.c.jsonl" 10000 feedB)
[ "$n" = 3 ] || fail "JS read $n intervals from our log, want 3"
pass "(c2) mdmesh interval log -> JS HistogramLogReader: 3 tagged intervals agree"

summary
