#!/usr/bin/env bash
# Every binary answers --help and --version, rejects unknown input with a
# one-line reason and a non-zero exit, and `mdmesh decode` turns protobuf bytes
# into the JSON a user reads.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"

for bin in "$MDM_BIN"/*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	"$bin" --help | grep -i "usage" > /dev/null || fail "$name --help prints no usage"
	"$bin" --version | grep -q "[0-9]\.[0-9]" || fail "$name --version prints no version"
	set +e
	err=$("$bin" --no-such-option 2>&1 >/dev/null); rc=$?
	set -e
	[ "$rc" -ne 0 ] || fail "$name accepted --no-such-option"
	[ -n "$err" ] || fail "$name gave no reason for a bad option"
	pass "$name: --help, --version, bad option -> exit $rc"
done

set +e
err=$("$MDM_BIN/mdmesh" frobnicate 2>&1); rc=$?
set -e
[ "$rc" -eq 2 ] || fail "unknown command exit $rc, want 2"
echo "$err" | grep -q "unknown command 'frobnicate'" || fail "unknown command message: $err"

# MarketEvent{header{seq:5 type:"A"} add_order{shares:100}}, hand-encoded:
# 0a 05 | 18 05 | 52 01 41  and  a2 01 02 | 18 64
out=$(printf '\x0a\x05\x18\x05\x52\x01\x41\xa2\x01\x02\x18\x64' | "$MDM_BIN/mdmesh" decode)
expect='{"header":{"feed":"","session":"","seq":5,"stock_locate":0,"tracking_number":0,"symbol":"","exchange_ts_ns":0,"rx_ts_ns":0,"pub_ts_ns":0,"type":"A","wire_ts_ns":0,"session_date":0},"add_order":{"order_reference_number":0,"buy_sell_indicator":"","shares":100,"stock":"","price":0}}'
[ "$out" = "$expect" ] || fail "decode output: $out"
pass "decode: hand-encoded MarketEvent -> JSON"

set +e
err=$(printf '\xff\xff\xff' | "$MDM_BIN/mdmesh" decode 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "decode of garbage exit $rc, want 1"
echo "$err" | grep -q "is not a valid mdmesh.v1.MarketEvent" || fail "decode garbage message: $err"
pass "decode: garbage rejected with a reason"
summary
