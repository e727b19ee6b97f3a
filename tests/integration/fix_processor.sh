#!/usr/bin/env bash
# Trade feed into the store (label fix): `mdmesh-loadgen fix` -> mdmesh-fix ->
# JetStream EXEC -> mdmesh-processor (pipeline executions, SQLite) ->
# `executions`, against the load generator's truth:
#   1. every execution sent is one row (through inbound gaps, PossDup copies,
#      a forced disconnect), with its trader's and instrument's reference data;
#   2. corrections (150=G) updated the trade they reference, cancels (150=H)
#      marked it; a second processor run over the same stream (a redelivery of
#      everything) changes no row;
#   3. the shipped rules raised exactly the expected alerts: high_value_executions
#      (notional > $1,000,000), over_trader_limit (notional > the trader's
#      max_trade_limit from KV refdata trader.<ID>), unknown_trader.
# PostgreSQL gets the same checks when it is installed (tests/integration/pg.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_nats_cli
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
command -v python3 >/dev/null || fail "python3 is not installed"
start_nats
cd "$MDM_T_TMP"
BIN=${MDM_BIN:?}
export NATS_URL

msgs() { "$MDM_NATS_CLI" --server "$NATS_URL" stream info "$1" --json 2>/dev/null | jq -r '.state.messages // 0'; }
wait_file() { wait_for 20 "[ -s '$1' ]" || fail "$1 never written"; }

# Traders T000-T007 known (T008, T009 are not); the load generator uses T000-T009.
"$BIN/mdmesh" refdata load --kind trader --nats "$NATS_URL" "$MDM_SRC_DIR/configs/refdata/traders.csv" >rd.log 2>&1 ||
	fail "refdata load --kind trader: $(cat rd.log)"
grep -q "loaded 8 traders" rd.log || fail "refdata: $(cat rd.log)"
"$BIN/mdmesh" refdata load --nats "$NATS_URL" "$MDM_SRC_DIR/configs/refdata/instruments.csv" >rd2.log 2>&1 ||
	fail "refdata load instruments: $(cat rd2.log)"
"$BIN/mdmesh" refdata get --kind trader T003 --nats "$NATS_URL" | jq -e '.max_trade_limit == "500000" and .team == "fx"' >/dev/null ||
	fail "trader.T003 is not as loaded"

# ---- the feed: N executions with gaps, duplicates, a disconnect, corrections, cancels
N=${MDM_FIX_N:-2000}
"$BIN/mdmesh-loadgen" fix --listen 127.0.0.1:0 --port-file lp --count "$N" --rate 4000 --seed 11 \
	--gap-every 97 --dup-every 89 --disconnect-every 1500 --correct-every 50 --cancel-every 71 \
	--truth truth.jsonl >lg.log 2>&1 &
LG=$!
MDM_T_PIDS+=("$LG")
wait_file lp
"$BIN/mdmesh-fix" --nats "$NATS_URL" --sender US --target BRK --http 127.0.0.1:0 --connect "127.0.0.1:$(cat lp)" \
	--session dc1 --state-dir st --set session.reconnect_interval=100ms >fix.log 2>&1 &
FIX=$!
MDM_T_PIDS+=("$FIX")
proc() { # NAME STORE: one processor run over EXEC until idle
	"$BIN/mdmesh-processor" --nats "$NATS_URL" --set stream.name=EXEC --instance "$1" --store "$2" \
		--http 127.0.0.1:0 --exit-when-idle 3 --set consumer.durable="$1" >"$1.log" 2>&1
}
wait "$LG" || fail "load generator failed: $(tail -3 lg.log)"
kill -TERM "$FIX"
wait "$FIX" || fail "mdmesh-fix exited $?: $(tail -5 fix.log)"
[ "$(wc -l <truth.jsonl)" = "$N" ] || fail "truth has $(wc -l <truth.jsonl) lines"
[ "$(msgs EXEC)" = "$N" ] || fail "EXEC holds $(msgs EXEC) messages, $N were sent"

proc px1 exec.db || fail "processor exited $?: $(tail -5 px1.log)"
grep -q "consuming EXEC.px1" px1.log || fail "the processor did not consume EXEC: $(head -5 px1.log)"
# stage latency: each execution received by mdmesh-fix -> committed by the processor
lat_count() { awk -v s="$2" '$1 == s { print $NF }' "$1" | tail -1; }
[ "$(lat_count px1.log execution_to_persisted)" = "$N" ] ||
	fail "execution_to_persisted counted $(lat_count px1.log execution_to_persisted), not $N: $(grep -A6 'latency ' px1.log)"
for st in receive_to_published published_to_acked receive_to_acked; do
	[ "$(lat_count fix.log $st)" -ge "$N" ] || fail "mdmesh-fix $st latency counted $(lat_count fix.log $st)"
done

# The expected table and alerts, from the truth and traders.csv.
python3 - "$MDM_SRC_DIR/configs/refdata/traders.csv" truth.jsonl >expect.txt <<'PY'
import csv, json, sys
lim = {}
with open(sys.argv[1]) as f:
    rows = [l for l in f if not l.startswith('#')]
for r in csv.DictReader(rows):
    i, _, fr = r['max_trade_limit'].partition('.')
    lim[r['id']] = int(i) * 10000 + int((fr + '0000')[:4])
ex = [json.loads(l) for l in open(sys.argv[2])]
by = {e['exec_id']: e for e in ex}
def notional(e):
    p = e['qty8'] * e['px8']
    return (p + 500000000000) // 1000000000000
state = {}  # trade exec_id -> (status, qty8, px8)
for e in ex:
    if e['exec_type'] == 'F':
        state.setdefault(e['exec_id'], ['active', e['qty8'], e['px8']])
for e in ex:
    t = by.get(e['exec_ref_id'])
    if e['exec_type'] == 'G' and t and t['exec_type'] == 'F' and state[t['exec_id']][0] != 'canceled':
        state[t['exec_id']] = ['corrected', e['qty8'], e['px8']]
for e in ex:
    t = by.get(e['exec_ref_id'])
    if e['exec_type'] == 'H' and t and t['exec_type'] == 'F':
        state[t['exec_id']][0] = 'canceled'
alerts = {'high_value_executions': 0, 'over_trader_limit': 0, 'unknown_trader': 0}
for e in ex:
    n = notional(e)
    if e['trader'] not in lim:
        alerts['unknown_trader'] += 1
    if e['exec_type'] in 'FG':
        alerts['high_value_executions'] += n > 10000000000
        alerts['over_trader_limit'] += e['trader'] in lim and n > lim[e['trader']]
print('rows', len(ex))
for s in ('active', 'corrected', 'canceled'):
    print('status', s, sum(1 for v in state.values() if v[0] == s))
print('qtysum', sum(v[1] for v in state.values()))
print('notional', sum(notional({'qty8': v[1], 'px8': v[2]}) for v in state.values()))
for k, v in sorted(alerts.items()):
    print('alert', k, v)
PY
check_store() { # LABEL QUERY-FUNCTION
	local label=$1 q=$2 got
	got="rows $($q "select count(*) from executions")"
	for s in active corrected canceled; do
		got+=$'\n'"status $s $($q "select count(*) from executions where exec_type = 'F' and status = '$s'")"
	done
	got+=$'\n'"qtysum $($q "select sum(last_qty) from executions where exec_type = 'F'")"
	got+=$'\n'"notional $($q "select sum(notional) from executions where exec_type = 'F'")"
	for r in high_value_executions over_trader_limit unknown_trader; do
		got+=$'\n'"alert $r $($q "select count(*) from alerts where rule = '$r'")"
	done
	[ "$got" = "$(cat expect.txt)" ] || fail "$label: the store is not the truth:
$(diff <(echo "$got") expect.txt)"
}
sq() { sqlite3 exec.db "$1"; }
check_store sqlite sq
# every exec_id once, with its trader and instrument data
[ "$(sq "select count(distinct exec_id) from executions")" = "$N" ] || fail "exec_ids not unique"
python3 -c 'import json,sys; [print(json.loads(l)["exec_id"]) for l in open("truth.jsonl")]' | sort >ids.truth
sq "select exec_id from executions" | sort >ids.store
cmp -s ids.truth ids.store || fail "exec_ids differ from the truth: $(diff ids.truth ids.store | head -5)"
[ "$(sq "select count(*) from executions where trader = 'T003' and trader_team = 'fx' and trader_name = 'Emmy Noether'")" -gt 0 ] ||
	fail "executions of T003 are not enriched"
[ "$(sq "select count(*) from executions where trader in ('T008', 'T009') and trader_name <> ''")" = 0 ] ||
	fail "unknown traders got reference data"
[ "$(sq "select count(*) from executions where symbol = 'AAPL' and instrument_sector <> ''")" -gt 0 ] ||
	fail "executions are not enriched with instrument data"
pass "$N executions exactly once in executions (SQLite), $(sed -n 's/^status corrected //p' expect.txt) corrected, $(sed -n 's/^status canceled //p' expect.txt) canceled"
pass "alerts: $(grep '^alert' expect.txt | cut -d' ' -f2- | tr '\n' ' ')"
# the processor's own count of what it committed (/stats.json "trade", the dashboard) agrees
[ "$(sed -n 's/^  trade      \([0-9]*\) executions committed$/\1/p' px1.log)" = "$N" ] ||
	fail "px1 counted $(grep '^  trade ' px1.log) executions committed, not $N"
for r in high_value_executions over_trader_limit unknown_trader; do
	got=$(grep '^  rules ' px1.log | grep -o " $r [0-9]*" | awk '{ print $2 }')
	[ "${got:-0}" = "$(sed -n "s/^alert $r //p" expect.txt)" ] || fail "px1 counted ${got:-0} $r alerts: $(grep '^  rules ' px1.log)"
done
pass "the processor's counters (executions committed, alerts by rule) equal the tables"

# ---- a second consumer re-reads the whole stream into the same store: nothing changes
proc px2 exec.db || fail "second processor exited $?: $(tail -5 px2.log)"
check_store "sqlite after a full redelivery" sq
pass "a full redelivery of EXEC changes no row and raises no alert twice"

# ---- PostgreSQL: the same stream, the same table
if . "$MDM_SRC_DIR/tests/integration/pg.sh" 2>/dev/null && command -v psql >/dev/null && pg__bindir >/dev/null 2>&1; then
	pg_start_for_test || fail "PostgreSQL did not start (logs in $PGDIR)"
	pq() { psql "$PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
	proc px3 "$PG_URL" || fail "processor into PostgreSQL exited $?: $(tail -5 px3.log)"
	check_store postgres pq
	proc px4 "$PG_URL" || fail "second processor into PostgreSQL exited $?: $(tail -5 px4.log)"
	check_store "postgres after a full redelivery" pq
	pass "PostgreSQL: the same $N rows, statuses and alerts, also after a full redelivery"
else
	echo "# PostgreSQL not installed: its part skipped"
fi
summary
