#!/usr/bin/env bash
# /dashboard in a real browser (headless Debian chromium): a collector replays a
# long synthesized capture (with gaps) into a real nats-server while a processor
# consumes it; the collector's /dashboard?peers=<processor> must draw data from
# both (the processor's /stats.json is read cross-origin: CORS). The page
# exposes what it drew in data-* attributes, which --dump-dom shows; a
# screenshot is kept in the build dir as an artifact. The trade feed runs
# beside it (mdmesh-loadgen fix -> mdmesh-fix -> EXEC -> a second processor):
# the mdmesh-fix panel draws executions/s, and the EXEC processor's panel its
# trade-feed section (executions/s, alerts by rule, top traders by notional).
# The collector publishes
# market views, so the page also has a book panel: the ladder and BBO of the
# symbol picked (?symbol=), from the collector's /book.json, which must equal
# what the BBO stream holds (`mdmesh book SYM --top --json`).
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || fail "chromium is not installed (scripts/test installs it: apt-get install chromium)"
cd "$MDM_T_TMP"
ART="$MDM_BUILD_DIR/test-artifacts"
mkdir -p "$ART"

start_nats
# The load must last through the browser's polls whatever the server's speed
# (a current nats-server took a 1M-event full-speed replay, processor
# included, before chromium's first poll): publish.max_pending=4 makes the
# replay round-trip bound (a few thousand events/s here on 2.9.10 and 2.15.3
# alike, a few hundred on a loaded box), so 200k events last tens of seconds.
# A small ring (reading blocks while it is full) bounds what SIGTERM's drain
# must still publish, whatever the rate: the default ring took the whole
# capture in and its drain outlasted drain_timeout on a loaded box.
"$MDM_BIN/mdmesh-loadgen" synth --out feed.pcap --messages 200000 --symbols 200 --seed 31 --gap-every 5000 \
	--session DASHB00001 2>/dev/null
CP=$(free_port)
"$MDM_BIN/mdmesh-collector" --nats "$NATS_URL" --pcap feed.pcap --http "127.0.0.1:$CP" \
	--set publish.ack_timeout=1s --set publish.max_pending=4 --set publish.drain_timeout=150s --set ring.size=4096 \
	--set eal.mem_mb=256 --set input.mbufs=8191 --set views.enabled=true 2>collector.log &
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

# the trade feed, at a rate that lasts through the browser's polls
"$MDM_BIN/mdmesh" refdata load --kind trader --nats "$NATS_URL" "$MDM_SRC_DIR/configs/refdata/traders.csv" \
	>refdata.log 2>&1 || fail "refdata load --kind trader: $(cat refdata.log)"
"$MDM_BIN/mdmesh-loadgen" fix --listen 127.0.0.1:0 --port-file lg.port --count 60000 --rate 400 --seed 5 \
	>loadgen_fix.log 2>&1 &
LG_PID=$!
MDM_T_PIDS+=("$LG_PID")
wait_for 20 "[ -s lg.port ]" || fail "mdmesh-loadgen fix did not listen: $(tail -3 loadgen_fix.log)"
FP=$(free_port)
"$MDM_BIN/mdmesh-fix" --nats "$NATS_URL" --sender US --target BRK --connect "127.0.0.1:$(cat lg.port)" \
	--state-dir fixstate --http "127.0.0.1:$FP" 2>fix.log &
FIX_PID=$!
MDM_T_PIDS+=("$FIX_PID")
wait_port "$FP" 30 || fail "mdmesh-fix HTTP did not come up: $(tail -5 fix.log)"
XP=$(free_port)
"$MDM_BIN/mdmesh-processor" --nats "$NATS_URL" --set stream.name=EXEC --instance px --store "$MDM_T_TMP/x.db" \
	--http "127.0.0.1:$XP" 2>processor_exec.log &
XPROC_PID=$!
MDM_T_PIDS+=("$XPROC_PID")
wait_port "$XP" 30 || fail "EXEC processor HTTP did not come up: $(tail -5 processor_exec.log)"

# the page and the CORS header, as served
resp_head() { # PORT PATH: status line and headers
	exec 6<>"/dev/tcp/127.0.0.1/$1"
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&6
	sed -n '/^\r$/q;p' <&6 | tr -d '\r'
	exec 6<&-
}
resp_head "$CP" /dashboard | grep -qi '^content-type: text/html' || fail "/dashboard is not text/html"
http_get "$CP" /dashboard >page.html || fail "GET /dashboard failed"
{ grep -q "getContext('2d')" page.html && grep -q "/stats.json" page.html; } || fail "/dashboard does not hold the chart code"
cmp -s page.html "$MDM_SRC_DIR/common/dashboard.html" || fail "/dashboard differs from common/dashboard.html"
! grep -Eiq '(src|href) *= *"?(https?:)?//' page.html || fail "/dashboard loads something from the network"
resp_head "$PP" /stats.json | grep -qi '^access-control-allow-origin: \*' || fail "processor /stats.json lacks CORS"
resp_head "$CP" /stats.json | grep -qi '^access-control-allow-origin: \*' || fail "collector /stats.json lacks CORS"
resp_head "$FP" /stats.json | grep -qi '^access-control-allow-origin: \*' || fail "mdmesh-fix /stats.json lacks CORS"
pass "/dashboard served (text/html, self-contained); /stats.json has Access-Control-Allow-Origin: *"

# load is running and at least one stats interval has latency in it
for _ in $(seq 1 100); do
	n=$(http_get "$CP" /stats.json | jq '.collector.latency_ns.wire_to_ack.count_total // 0')
	[ "$n" -gt 0 ] && break
	sleep 0.2
done
[ "$n" -gt 0 ] || fail "the collector measured no latency: $(tail -5 collector.log)"
# and the trade feed has executions committed, with alerts
wait_for 60 "[ \$(http_get $XP /stats.json | jq '[.trade.alerts_by_rule[]?.total] | add // 0') -gt 0 ]" ||
	fail "the EXEC processor raised no alert: $(tail -5 processor_exec.log)"

# /book.json: the symbols with a view, and one symbol's BBO equal to the
# stream's last one (read until both reads saw the same view: the replay runs)
wait_for 60 '[ "$(http_get "$CP" /book.json | jq ".symbols | length")" -ge 2 ]' ||
	fail "/book.json lists no symbols: $(http_get "$CP" /book.json)"
SYM=$(http_get "$CP" /book.json | jq -r '.symbols[1]')
top() { jq -S -c '{session, seq, symbol, bid_price, bid_size, bid_orders, ask_price, ask_size, ask_orders}'; }
wait_for 60 '[ "$(http_get "$CP" "/book.json?symbol=$SYM&depth=3" | jq .bbo | top)" = \
	"$("$MDM_BIN/mdmesh" book "$SYM" --top --json --nats "$NATS_URL" | top)" ]' ||
	fail "/book.json?symbol=$SYM: $(http_get "$CP" "/book.json?symbol=$SYM" | jq -c .bbo) differs from the stream's BBO"
n=$(http_get "$CP" "/book.json?symbol=$SYM&depth=3" | jq '[.depth.bids, .depth.asks | length] | max')
[ "$n" -ge 1 ] && [ "$n" -le 3 ] || fail "/book.json?depth=3: $n levels a side"
[ "$(http_get "$CP" "/book.json?symbol=NOSUCH" | jq -r .error)" != null ] || fail "/book.json: no error for an unknown symbol"
pass "/book.json: $(http_get "$CP" /book.json | jq '.symbols | length') symbols; $SYM's BBO equals stream BBO's, depth cut to 3 levels"

# shellcheck disable=SC2054 # --window-size=W,H takes a comma
CHROME=("$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync --window-size=1400,2300
	--virtual-time-budget=8000)
URL="http://127.0.0.1:$CP/dashboard?peers=127.0.0.1:$PP,127.0.0.1:$XP,127.0.0.1:$FP&symbol=$SYM"
timeout 60 "${CHROME[@]}" --user-data-dir="$MDM_T_TMP/chrome1" --dump-dom "$URL" >dom.html 2>chrome1.log ||
	fail "chromium --dump-dom failed: $(tail -3 chrome1.log)"
attr() { # KIND ATTR: the first panel of that kind's data-ATTR
	grep -o "<section class=\"panel\"[^>]*data-kind=\"$1\"[^>]*>" dom.html | head -1 | grep -o " data-$2=\"[^\"]*\"" |
		cut -d'"' -f2
}
tattr() { # ATTR: the panel with a trade-feed section's data-ATTR
	grep -o "<section class=\"panel\"[^>]*data-trade=\"1\"[^>]*>" dom.html | head -1 | grep -o " data-$1=\"[^\"]*\"" |
		cut -d'"' -f2
}
[ "$(grep -o '<body data-panels="[0-9]*"' dom.html | cut -d'"' -f2)" = 4 ] || fail "want 4 panels: $(grep -o '<body[^>]*>' dom.html)"
[ -n "$(attr collector polls)" ] || fail "no collector panel: $(grep -o '<section[^>]*>' dom.html)"
[ -n "$(attr processor polls)" ] || fail "no processor panel (cross-origin fetch failed?): $(grep -o '<section[^>]*>' dom.html)"
for k in collector processor; do
	[ "$(attr $k errors)" = 0 ] || fail "$k panel: $(attr $k errors) failed polls"
	[ "$(attr $k polls)" -ge 3 ] || fail "$k panel: only $(attr $k polls) polls"
	[ "$(attr $k throughput-points)" -gt 0 ] || fail "$k panel: no throughput points"
	[ "$(attr $k gauge-points)" -gt 0 ] || fail "$k panel: no ring/lag points"
done
[ "$(attr collector throughput-max)" -gt 0 ] || fail "the collector's throughput chart is all zero"
[ "$(attr processor throughput-max)" -gt 0 ] || fail "the processor's throughput chart is all zero"
[ "$(attr collector latency-points)" -gt 0 ] || fail "collector latency charts are empty"
# the publish window and its ack latency, as /stats.json's bus object has them
grep -q '<b>[0-9.]*[kMG]\{0,1\} ([0-9.kMG]*\(\.\.[0-9.kMG]*\)\{0,1\}\(fixed\)\{0,1\})</b><span>publish window</span>' dom.html ||
	fail "no publish window KPI: $(grep -o '<div class="kpis">.\{0,400\}' dom.html | head -1)"
grep -q '<b>[0-9.]* ms</b><span>ack latency mean</span>' dom.html || fail "no ack latency KPI"
[ "$(attr fix errors)" = 0 ] && [ "$(attr fix polls)" -ge 3 ] || fail "no live mdmesh-fix panel: $(grep -o '<section[^>]*>' dom.html)"
[ "$(attr fix throughput-max)" -gt 0 ] || fail "the mdmesh-fix executions/s chart is all zero"
[ "$(attr fix latency-points)" -gt 0 ] || fail "mdmesh-fix latency charts are empty"
[ "$(tattr executions-points)" -gt 0 ] && [ "$(tattr executions-max)" -gt 0 ] ||
	fail "trade feed: no executions/s: $(grep -o '<section[^>]*data-trade[^>]*>' dom.html)"
[ "$(tattr alert-rules)" -gt 0 ] || fail "trade feed: no alerts by rule"
[ "$(tattr trader-bars)" -gt 0 ] && [ -n "$(tattr top-trader)" ] || fail "trade feed: no top traders"
pass "trade feed: mdmesh-fix panel up to $(attr fix throughput-max) executions/s; EXEC processor: $(tattr executions-points) executions/s points, $(tattr alert-rules) alerting rules ($(tattr alerts-total) alerts), $(tattr trader-bars) traders (top $(tattr top-trader))"
battr() { # ATTR: the book panel's data-ATTR
	grep -o '<section class="panel book"[^>]*>' dom.html | grep -o " data-$1=\"[^\"]*\"" | cut -d'"' -f2
}
[ -n "$(battr polls)" ] || fail "no book panel: $(grep -o '<section[^>]*>' dom.html)"
[ "$(battr errors)" = 0 ] || fail "book panel: $(battr errors) failed polls"
[ "$(battr polls)" -ge 2 ] || fail "book panel: only $(battr polls) polls"
[ "$(battr symbol)" = "$SYM" ] || fail "book panel shows '$(battr symbol)', not ?symbol=$SYM"
[ "$(battr symbols)" -ge 2 ] || fail "book panel: $(battr symbols) symbols to pick from"
[ $(($(battr bids) + $(battr asks))) -gt 0 ] || fail "book panel: an empty ladder"
[ -n "$(battr bid-price)$(battr ask-price)" ] || fail "book panel: no BBO"
[ "$(grep -o '<tr class="\(bid\|ask\)"' dom.html | wc -l)" = $(($(battr bids) + $(battr asks))) ] ||
	fail "book panel: the ladder has $(grep -o '<tr class="\(bid\|ask\)"' dom.html | wc -l) rows, data says $(battr bids)+$(battr asks)"
pass "book panel: $SYM of $(battr symbols) symbols, $(battr bids) bid and $(battr asks) ask levels, BBO $(battr bid-price) / $(battr ask-price), $(battr polls) polls"
pass "collector panel: $(attr collector polls) polls, $(attr collector throughput-points) throughput points (max $(attr collector throughput-max) events/s), $(attr collector latency-points) latency points; processor panel: $(attr processor polls) polls over CORS"

PNG="$ART/dashboard.png"
rm -f "$PNG"
timeout 60 "${CHROME[@]}" --user-data-dir="$MDM_T_TMP/chrome2" --screenshot="$PNG" "$URL" >/dev/null 2>chrome2.log ||
	fail "chromium --screenshot failed: $(tail -3 chrome2.log)"
[ "$(head -c 8 "$PNG" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$PNG is not a PNG"
[ "$(stat -c %s "$PNG")" -gt 20000 ] || fail "$PNG is suspiciously small (blank page?)"
pass "screenshot: $PNG"

# stop the daemons before nats-server (the cleanup stops nats first)
kill "$LG_PID"
wait "$LG_PID" 2>/dev/null || true # stopped mid-feed on purpose
for pid in "$FIX_PID" "$XPROC_PID" "$PROC_PID" "$COL_PID"; do
	kill "$pid"
	wait "$pid" || fail "daemon $pid exit $? on SIGTERM"
done
summary
