#!/usr/bin/env bash
# mdmesh-processor with nothing but --nats, started in an empty directory
# that is not the repository: the default rules (compiled in) route a $1.2M
# trade under high_value_trades, and its alert row and Alert message carry
# the value that matched and the bound it crossed.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"

PROC="$MDM_BIN/mdmesh-processor"
PUB="$MDM_BUILD_DIR/tests/md_publish"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
start_nats
"$PUB" "$NATS_URL" publish --count 20 --session S1 --symbols AAPL --big 7 >/dev/null

mkdir "$MDM_T_TMP/elsewhere"
cd "$MDM_T_TMP/elsewhere"
[ ! -e configs ] || fail "the test directory has a configs/"
timeout 60 "$PROC" --nats "$NATS_URL" --http "" --exit-when-idle 1 2>"$MDM_T_TMP/p.log" ||
	fail "processor from $PWD exit $?: $(tail -5 "$MDM_T_TMP/p.log")"
pass "processor with the default rules.file runs outside the repository (exit 0)"

DB="$MDM_T_TMP/elsewhere/var/mdmesh.db"
[ "$(sqlite3 "$DB" "select count(*) from trades")" = 20 ] || fail "trades: $(sqlite3 "$DB" "select count(*) from trades")"
rows=$(sqlite3 "$DB" "select rule, symbol, seq, value, threshold from alerts")
[ "$rows" = "high_value_trades|AAPL|7|12000000000|10000000000" ] || fail "alerts: '$rows'"
pass "alerts row: high_value_trades seq 7, value 12000000000 (\$1.2M in 1e-4), threshold 10000000000 (\$1M)"

alert=$("$MDM_BIN/mdmesh" tail --nats "$NATS_URL" --stream ALERTS --all --idle-timeout 1 'alert.high_value.>')
echo "$alert" | jq -e 'select(.rule == "high_value_trades") | .value == 12000000000 and .threshold == 10000000000' \
	>/dev/null || fail "Alert message: $alert"
pass "Alert on alert.high_value.AAPL carries the same value and threshold"
summary
