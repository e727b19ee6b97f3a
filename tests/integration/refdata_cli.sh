#!/usr/bin/env bash
# `mdmesh refdata` against a fresh nats-server: the sample file loads, `get`
# returns a row as the JSON the enricher reads, `list` sees every key, CSV
# quoting works, and a bad row is refused as FILE:LINE: with exit 1 and
# nothing written. Also runs the README recipe for synthetic sessions.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"

M="$MDM_BIN/mdmesh"
CSV="$MDM_SRC_DIR/configs/refdata/instruments.csv"
cd "$MDM_T_TMP"

start_nats
export MDM_NATS_URL="$NATS_URL"

# ---- the sample file --------------------------------------------------------
out=$("$M" refdata load "$CSV" --check)
[ "$out" = "$CSV: 65 instruments, OK" ] || fail "--check: $out"
out=$("$M" refdata load "$CSV")
[ "$out" = "loaded 65 instruments from $CSV into KV bucket refdata" ] || fail "load: $out"
pass "load: the sample file, 65 instruments"

out=$("$M" refdata get AAPL)
want='{"symbol":"AAPL","sector":"Information Technology","currency":"USD","exchange":"XNAS","name":"Apple Inc.","lot_size":100,"country":"US"}'
[ "$out" = "$want" ] || fail "get AAPL: $out"
[ "$("$M" refdata get AMZN | jq -r .name)" = "Amazon.com, Inc." ] || fail "quoted name with a comma"
[ "$("$M" refdata get MCD | jq -r .name)" = "McDonald's Corporation" ] || fail "name with an apostrophe"
[ "$("$M" refdata get BRK.B | jq -r .sector)" = "Financials" ] || fail "dotted symbol BRK.B"
pass "get: rows come back as JSON objects"

"$M" refdata list > list.txt
[ "$(wc -l < list.txt)" -eq 65 ] || fail "list: $(wc -l < list.txt) symbols"
LC_ALL=C sort -c list.txt || fail "list is not sorted"
diff <(grep -v '^#' "$CSV" | tail -n +2 | cut -d, -f1 | LC_ALL=C sort) list.txt >/dev/null || fail "list differs from the file"
"$M" refdata list --values > values.jsonl
[ "$(jq -s 'map(select(.value.symbol == .symbol and .revision > 0)) | length' values.jsonl)" -eq 65 ] ||
	fail "list --values: $(head -2 values.jsonl)"
pass "list: every symbol, sorted; --values as JSON lines"

# loading again is idempotent (same values, new revisions)
"$M" refdata load "$CSV" >/dev/null
"$M" refdata list --values | jq -c .value > values2.jsonl
diff <(jq -c .value values.jsonl) values2.jsonl >/dev/null || fail "reload changed values"
pass "load twice: same values"

set +e
err=$("$M" refdata get NOPE 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "get of an absent symbol: exit $rc"
echo "$err" | grep -q "NOPE: not in KV bucket refdata" || fail "absent symbol message: $err"
set +e
err=$("$M" refdata list --bucket nosuch 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "list of an absent bucket: exit $rc"
echo "$err" | grep -q "KV bucket nosuch does not exist" || fail "absent bucket message: $err"
pass "get/list: absent symbol or bucket -> exit 1 with a reason"

# ---- CSV quoting and layout ---------------------------------------------------
# BOM, CRLF, comments, blank lines, columns in another order, quoted fields
# with commas and doubled quotes, spaces around fields, an empty extra cell.
printf '\xef\xbb\xbf# comment\r\n\r\nname,symbol,lot_size,exchange,currency,sector,isin,note\r\n' > edge.csv
printf '"Foo, ""The"" Corp", FOO ,10,XNAS,USD,Tech,US0000000001,\r\n' >> edge.csv
printf '  "Bar \xc3\xa9"  ,BAR,1,XNYS,,,,"multi, part"\n' >> edge.csv
printf '# trailing comment, no newline at the end\nZ,ZED,5,X,EUR,S,I,N' >> edge.csv
"$M" refdata load edge.csv --bucket edge >/dev/null
out=$("$M" refdata get FOO --bucket edge)
want='{"symbol":"FOO","sector":"Tech","currency":"USD","exchange":"XNAS","name":"Foo, \"The\" Corp","lot_size":10,"isin":"US0000000001"}'
[ "$out" = "$want" ] || fail "edge FOO: $out"
out=$("$M" refdata get BAR --bucket edge)
want='{"symbol":"BAR","sector":"","currency":"","exchange":"XNYS","name":"Bar é","lot_size":1,"note":"multi, part"}'
[ "$out" = "$want" ] || fail "edge BAR: $out"
[ "$("$M" refdata get ZED --bucket edge | jq -r .note)" = "N" ] || fail "last line without a newline"
pass "CSV: BOM, CRLF, comments, any column order, quotes, extra columns"

# ---- bad files: FILE:LINE: reason, exit 1, nothing written ----------------------
H='symbol,sector,currency,exchange,name,lot_size'
check_bad() { # NAME LINE PATTERN CONTENT...
	local name=$1 line=$2 pattern=$3 err rc
	shift 3
	printf '%s\n' "$@" > "$name.csv"
	set +e
	err=$("$M" refdata load "$name.csv" --bucket "bad_$name" 2>&1); rc=$?
	set -e
	[ "$rc" -eq 1 ] || fail "$name: exit $rc, want 1"
	echo "$err" | grep -q "^$name.csv:$line: .*$pattern" || fail "$name: want $name.csv:$line: ...$pattern, got: $err"
	echo "$err" | grep -q "nothing loaded" || fail "$name: no 'nothing loaded' line: $err"
	set +e
	err=$("$M" refdata list --bucket "bad_$name" 2>&1); rc=$?
	set -e
	[ "$rc" -eq 1 ] && echo "$err" | grep -q "does not exist" || fail "$name: something was written: $err"
}
check_bad lot 4 "lot_size 'ten' is not a positive integer" "$H" "A,s,USD,X,n,100" "B,s,USD,X,n,100" "C,s,USD,X,n,ten"
check_bad quote 3 "unterminated quoted field" "$H" "A,s,USD,X,n,100" 'B,s,USD,X,"Open, Inc.,100' "C,s,USD,X,n,1"
check_bad fields 2 "5 fields, the header has 6" "$H" "A,s,USD,X,100"
check_bad dup 4 "duplicate symbol A (first at line 2)" "$H" "A,s,USD,X,n,1" "B,s,USD,X,n,1" "A,s,USD,X,n,1"
check_bad sym 2 "symbol 'A B' has a character outside" "$H" "A B,s,USD,X,n,1"
check_bad cur 3 "currency 'usd' is not a 3-letter" "$H" "A,s,USD,X,n,1" "B,s,usd,X,n,1"
check_bad inner 2 "quote inside an unquoted field" "$H" 'A,s,USD,X,Say "hi",1'
check_bad after 2 "text after the closing quote" "$H" 'A,s,USD,X,"Say" hi,1'
check_bad header 1 "no 'lot_size' column" "symbol,sector,currency,exchange,name"
check_bad empty 1 "empty file" "# only a comment"
pass "bad rows: FILE:LINE: reason, exit 1, bucket untouched (10 cases)"

# ---- the README recipe for synthetic sessions -----------------------------------
"$MDM_BIN/mdmesh-loadgen" synth --out synth.pcap --symbols 30 --seed 7 --messages 3000 >/dev/null 2>&1
{
	echo "$H"
	"$M" feed dump synth.pcap | jq -r 'select(.type == "R") | [.symbol, "Synthetic", "USD",
		({"N": "XNYS", "A": "XASE", "P": "ARCX", "Z": "BATS", "V": "IEXG"}[.market_category] // "XNAS"),
		"Synthetic " + .symbol, .round_lot_size] | @csv'
} > synth.csv
out=$("$M" refdata load synth.csv --bucket synth)
[ "$out" = "loaded 30 instruments from synth.csv into KV bucket synth" ] || fail "synth load: $out"
first=$(sed -n 2p synth.csv | cut -d, -f1 | tr -d '"')
[ "$("$M" refdata get "$first" --bucket synth | jq -r .sector)" = "Synthetic" ] || fail "synth get $first"
pass "README recipe: refdata for a synthetic session's 30 symbols"

set +e
"$M" refdata >/dev/null 2>&1; rc1=$?
"$M" refdata get >/dev/null 2>&1; rc2=$?
"$M" refdata frob x >/dev/null 2>&1; rc3=$?
set -e
[ "$rc1$rc2$rc3" = "222" ] || fail "usage errors exit $rc1 $rc2 $rc3, want 2"
"$M" refdata --help | grep "usage: mdmesh refdata load" > /dev/null || fail "--help"
pass "usage errors exit 2; --help"
summary
