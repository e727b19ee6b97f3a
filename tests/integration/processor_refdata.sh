#!/usr/bin/env bash
# mdmesh-processor with reference data (KV bucket refdata, loaded by
# `mdmesh refdata load`) on SQLite: a known symbol gets its instruments row
# with the file's sector, an unknown one is counted as a refdata miss in
# /metrics and /stats.json and its events are still persisted; a KV update
# (load of a changed row) while the processor runs reaches the instruments
# row within a bound, and a symbol added later stops missing.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"

PROC="$MDM_BIN/mdmesh-processor"
PUB="$MDM_BUILD_DIR/tests/md_publish"
M="$MDM_BIN/mdmesh"
CSV="$MDM_SRC_DIR/configs/refdata/instruments.csv"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
command -v curl >/dev/null || fail "curl is not installed"
start_nats
export MDM_NATS_URL="$NATS_URL"
DB="$MDM_T_TMP/r.db"
HTTP_PORT=$(free_port)
KNOWN=AAPL
UNKNOWN=ZZQX # not in the sample file (checked below)

q() { sqlite3 "$DB" "$1"; }
# metric NAME: the sum of every series of the family (all workers, all labels)
metric() {
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" |
		awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { print s + 0 }'
}
sector() { q "select coalesce(json_extract(json, '\$.sector'), '') from instruments where symbol = '$1'"; }
trades_of() { q "select count(*) from trades where symbol = '$1'"; }
# A one-row refdata file for SYMBOL with SECTOR (all required columns).
row_csv() {
	printf 'symbol,sector,currency,exchange,name,lot_size\n%s,%s,USD,XNAS,%s test row,100\n' "$1" "$2" "$1" \
		>"$MDM_T_TMP/$1.csv"
	echo "$MDM_T_TMP/$1.csv"
}

# The sample file: AAPL is in it (Information Technology), the unknown is not.
grep -q "^$KNOWN,Information Technology," "$CSV" || fail "$KNOWN not in $CSV as Information Technology"
! grep -q "^$UNKNOWN," "$CSV" || fail "$UNKNOWN is in $CSV"
out=$("$M" refdata load "$CSV")
echo "$out" | grep -q "^loaded [0-9]* instruments from .* into KV bucket refdata$" || fail "refdata load: $out"
n_csv=$(echo "$out" | awk '{ print $2 }')

"$PUB" "$NATS_URL" publish --count 0 >/dev/null # the stream (the collector makes it in production)
"$PROC" --nats "$NATS_URL" --store "$DB" --rules "" --http "127.0.0.1:$HTTP_PORT" --set refdata.bucket=refdata \
	--set consumer.nak_delays=200ms 2>"$MDM_T_TMP/proc.log" &
ppid=$!
MDM_T_PIDS+=("$ppid")
wait_port "$HTTP_PORT" 15 || fail "no HTTP listener: $(tail -5 "$MDM_T_TMP/proc.log")"
[ "$(metric mdmesh_processor_refdata_instruments)" = "$n_csv" ] ||
	fail "refdata_instruments $(metric mdmesh_processor_refdata_instruments), want $n_csv"
pass "processor loaded the $n_csv instruments of the bucket at start"

# 1. 200 events alternating known/unknown: all persisted, the unknown's counted as misses.
"$PUB" "$NATS_URL" publish --count 200 --session R1 --symbols "$KNOWN,$UNKNOWN" >/dev/null
wait_for 15 '[ "$(q "select count(*) from trades")" = 200 ]' || fail "R1: $(q "select count(*) from trades") trades, want 200"
[ "$(trades_of "$KNOWN")" = 100 ] && [ "$(trades_of "$UNKNOWN")" = 100 ] ||
	fail "trades per symbol: $KNOWN $(trades_of "$KNOWN"), $UNKNOWN $(trades_of "$UNKNOWN")"
[ "$(sector "$KNOWN")" = "Information Technology" ] || fail "instruments row of $KNOWN: $(q "select * from instruments")"
[ "$(q "select json_extract(json, '\$.name') || '|' || json_extract(json, '\$.country') from instruments where symbol = '$KNOWN'")" = "Apple Inc.|US" ] ||
	fail "instruments json of $KNOWN: $(q "select json from instruments where symbol = '$KNOWN'")"
[ "$(q "select count(*) from instruments where symbol = '$UNKNOWN'")" = 0 ] || fail "instruments row for the unknown symbol"
[ "$(metric mdmesh_processor_failed_batches_total)" = 0 ] || fail "a batch failed"
misses=$(metric mdmesh_processor_refdata_misses_total)
lookups=$(metric mdmesh_processor_refdata_lookups_total)
[ "$misses" = 100 ] && [ "$lookups" = 200 ] || fail "refdata lookups $lookups misses $misses, want 200 and 100"
json=$(curl -sf "http://127.0.0.1:$HTTP_PORT/stats.json")
echo "$json" | grep -q '"processor_refdata_misses_total":100[,}]' || fail "stats.json misses: $json"
pass "$KNOWN: instruments row with its sector; $UNKNOWN: 100 misses in /metrics and /stats.json, 100 trades kept"

# 2. The sector of the known symbol changes in KV while the processor runs.
updates0=$(metric mdmesh_processor_refdata_updates_total)
updated0=$(q "select updated_ns from instruments where symbol = '$KNOWN'")
t0=$(date +%s%N)
"$M" refdata load "$(row_csv "$KNOWN" Utilities)" >/dev/null
wait_for 5 '[ "$(metric mdmesh_processor_refdata_updates_total)" -gt "$updates0" ]' ||
	fail "the KV update did not reach the processor within 5 s"
"$PUB" "$NATS_URL" publish --count 20 --session R2 --symbols "$KNOWN" >/dev/null
wait_for 5 '[ "$(sector "$KNOWN")" = Utilities ]' ||
	fail "instruments row of $KNOWN not updated: $(q "select json from instruments where symbol = '$KNOWN'")"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(q "select updated_ns > $updated0 from instruments where symbol = '$KNOWN'")" = 1 ] || fail "updated_ns not advanced"
[ "$(q "select json_extract(json, '\$.country') is null from instruments where symbol = '$KNOWN'")" = 1 ] ||
	fail "the old value's keys survived the update"
wait_for 10 '[ "$(trades_of "$KNOWN")" = 120 ]' || fail "R2 trades: $(trades_of "$KNOWN")"
[ "$(metric mdmesh_processor_refdata_misses_total)" = 100 ] || fail "misses moved on known-symbol events"
pass "refdata load of a new sector: instruments row says Utilities ${ms} ms after the load"

# 3. The unknown symbol gets reference data: its next events stop missing.
"$M" refdata load "$(row_csv "$UNKNOWN" Energy)" >/dev/null
wait_for 5 '[ "$(metric mdmesh_processor_refdata_instruments)" = $((n_csv + 1)) ]' || fail "new key not loaded"
"$PUB" "$NATS_URL" publish --count 10 --session R3 --symbols "$UNKNOWN" >/dev/null
wait_for 10 '[ "$(sector "$UNKNOWN")" = Energy ]' || fail "no instruments row for $UNKNOWN after its load"
wait_for 10 '[ "$(trades_of "$UNKNOWN")" = 110 ]' || fail "R3 trades: $(trades_of "$UNKNOWN")"
[ "$(metric mdmesh_processor_refdata_misses_total)" = 100 ] || fail "misses after $UNKNOWN was loaded"
pass "$UNKNOWN loaded later: instruments row Energy, no more misses"

kill -TERM "$ppid"
rc=0
wait "$ppid" || rc=$?
[ "$rc" = 0 ] || fail "SIGTERM exit $rc"
[ "$(q "select count(*) from trades")" = 230 ] && [ "$(q "select count(distinct session || '.' || seq) from trades")" = 230 ] ||
	fail "trades at the end: $(q "select count(*) from trades"), want 230 distinct"
pass "SIGTERM exit 0; 230 trades, one per event"
summary
