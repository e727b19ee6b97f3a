#!/usr/bin/env bash
# mdmesh-processor against a real nats-server and SQLite: exactly one trade
# row per execution whatever happens to the process (kill -9 mid-stream and
# restart, two processes sharing the durable), poison and invalid events in
# the DLQ with their reason and original payload, --exit-when-idle, and a
# --rebuild that reproduces the live tables row for row.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"

PROC="$MDM_BIN/mdmesh-processor"
PUB="$MDM_BUILD_DIR/tests/md_publish"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
start_nats
DB="$MDM_T_TMP/var/live.db"
# Small batches and a short ack wait so redelivery after a kill is quick.
COMMON=(--nats "$NATS_URL" --rules "" --http "" --set fetch.batch=64 --set consumer.ack_wait=2s
	--set consumer.nak_delays=200ms --set refdata.bucket=refdata)

trades() { sqlite3 "$1" "select count(*) from trades"; }
distinct_seqs() { sqlite3 "$1" "select count(distinct feed || '.' || session || '.' || seq) from trades"; }

# 1. Poison and invalid events -> DLQ; --exit-when-idle exits 0 once all is committed and acked.
"$PUB" "$NATS_URL" publish --count 2000 --session S1 --poison 7 --zero-price 9,11 >/dev/null
start=$SECONDS
timeout 60 "$PROC" "${COMMON[@]}" --store "$DB" --exit-when-idle 1 2>"$MDM_T_TMP/p1.log" ||
	fail "processor run 1 exit $?: $(tail -5 "$MDM_T_TMP/p1.log")"
[ $((SECONDS - start)) -lt 20 ] || fail "--exit-when-idle 1 took $((SECONDS - start)) s"
[ -d "$MDM_T_TMP/var" ] || fail "store directory var/ not created"
[ "$(trades "$DB")" = 1997 ] || fail "trades after run 1: $(trades "$DB"), want 1997"
pass "2000 events -> 1997 trades, exit 0 after 1 s idle"

dlq=$("$PUB" "$NATS_URL" dump DLQ)
[ "$(echo "$dlq" | wc -l)" = 3 ] || fail "DLQ holds: $dlq"
echo "$dlq" | grep -q "subject=md.itch.P.[A-Z]* stream_seq=7 deliveries=1 reason=decode_error payload=ffffff0102$" ||
	fail "poison dead letter: $dlq"
for s in 9 11; do
	echo "$dlq" | grep "stream_seq=$s " | grep -q "dlq.MD.processor stream=MD consumer=processor .*reason=price_not_positive payload=0a" ||
		fail "dead letter of seq $s: $dlq"
done
# The payload is the original message, byte for byte.
orig9=$("$PUB" "$NATS_URL" dump MD | awk '$1 == 9 { sub("payload=", "", $3); print $3 }')
echo "$dlq" | grep -q "stream_seq=9 .*payload=$orig9$" || fail "payload of seq 9 is not the original"
read -r total ok dead < <(sqlite3 -separator ' ' "$DB" "select sum(total), sum(ok), sum(dead_lettered) from audit")
[ "$total $ok $dead" = "2000 1997 3" ] || fail "audit totals: $total $ok $dead"
audit=$("$PUB" "$NATS_URL" info AUDIT | cut -d' ' -f1)
[ "$audit" = "$(sqlite3 "$DB" "select count(*) from audit")" ] || fail "audit records published $audit"
pass "poison + 2 invalid -> DLQ with reason and original payload; audit rows = published records"

# 2. kill -9 while events stream in, restart: every execution exactly once.
"$PROC" "${COMMON[@]}" --store "$DB" 2>"$MDM_T_TMP/p2.log" &
ppid=$!
MDM_T_PIDS+=("$ppid")
"$PUB" "$NATS_URL" publish --count 3000 --session S2 >/dev/null &
pubpid=$!
for _ in $(seq 1 200); do
	[ "$(trades "$DB")" -gt 2300 ] && break
	sleep 0.05
done
kill -9 "$ppid"
wait "$ppid" 2>/dev/null || true
at_kill=$(trades "$DB")
wait "$pubpid"
[ "$at_kill" -gt 1997 ] && [ "$at_kill" -lt 4997 ] || fail "kill was not mid-stream ($at_kill rows)"
timeout 60 "$PROC" "${COMMON[@]}" --store "$DB" --exit-when-idle 3 2>"$MDM_T_TMP/p3.log" ||
	fail "restart exit $?: $(tail -5 "$MDM_T_TMP/p3.log")"
[ "$(trades "$DB")" = 4997 ] && [ "$(distinct_seqs "$DB")" = 4997 ] ||
	fail "after kill -9 + restart: $(trades "$DB") rows, $(distinct_seqs "$DB") distinct, want 4997"
pass "kill -9 at $at_kill rows, restart: 4997 rows = distinct seqs"

# 3. Two processes share the durable: nothing lost, nothing doubled, both worked.
pids=()
for inst in pa pb; do
	timeout 60 "$PROC" "${COMMON[@]}" --store "$DB" --instance "$inst" --exit-when-idle 3 2>"$MDM_T_TMP/$inst.log" &
	pids+=($!)
	MDM_T_PIDS+=($!)
done
sleep 0.5
"$PUB" "$NATS_URL" publish --count 3000 --session S3 >/dev/null
for p in "${pids[@]}"; do
	wait "$p" || fail "shared-durable processor exit $?"
done
[ "$(trades "$DB")" = 7997 ] && [ "$(distinct_seqs "$DB")" = 7997 ] ||
	fail "two processes: $(trades "$DB") rows, $(distinct_seqs "$DB") distinct, want 7997"
for inst in pa pb; do
	n=$(sqlite3 "$DB" "select coalesce(sum(ok), 0) from audit where instance = '$inst'")
	[ "$n" -gt 0 ] || fail "instance $inst committed nothing"
done
pass "two processes on one durable: 7997 rows, both committed batches"

# 4. --rebuild: truncate and replay the whole stream; the tables come out identical.
dump() {
	sqlite3 "$1" "select feed, session, seq, symbol, ts_ns, price, shares, side, match_number, kind, printable
		from trades order by feed, session, seq;
		select * from bars_1m order by symbol, minute_ns;
		select symbol, stock_locate from instruments order by symbol"
}
dump "$DB" >"$MDM_T_TMP/live.txt"
[ -s "$MDM_T_TMP/live.txt" ] || fail "empty live dump"
timeout 60 "$PROC" "${COMMON[@]}" --store "$DB" --rebuild 2>"$MDM_T_TMP/rb.log" ||
	fail "rebuild exit $?: $(tail -5 "$MDM_T_TMP/rb.log")"
dump "$DB" >"$MDM_T_TMP/rebuilt.txt"
diff -q "$MDM_T_TMP/live.txt" "$MDM_T_TMP/rebuilt.txt" >/dev/null || fail "rebuild differs from live"
[ "$("$PUB" "$NATS_URL" dump DLQ | wc -l)" = 3 ] || fail "rebuild published dead letters again"
pass "--rebuild of the same store: trades, bars_1m, instruments identical"

timeout 60 "$PROC" "${COMMON[@]}" --store "$MDM_T_TMP/part.db" --rebuild --from-seq 2001 2>"$MDM_T_TMP/rb2.log" ||
	fail "rebuild --from-seq exit $?: $(tail -5 "$MDM_T_TMP/rb2.log")"
[ "$(trades "$MDM_T_TMP/part.db")" = 6000 ] || fail "--from-seq 2001: $(trades "$MDM_T_TMP/part.db") rows, want 6000"
pass "--rebuild --from-seq 2001 into a new store: 6000 rows"
timeout 60 "$PROC" "${COMMON[@]}" --store "$MDM_T_TMP/since.db" --rebuild --since 2000-01-01T00:00:00Z \
	2>"$MDM_T_TMP/rb3.log" || fail "rebuild --since exit $?: $(tail -5 "$MDM_T_TMP/rb3.log")"
[ "$(trades "$MDM_T_TMP/since.db")" = 7997 ] || fail "--since 2000: $(trades "$MDM_T_TMP/since.db") rows, want 7997"
pass "--rebuild --since 2000-01-01T00:00:00Z: the whole stream, 7997 rows"

# 5. EventBatch mode (stream MDB, mdb.<feed>.<partition>): every event of a
# batch is processed on its own; an invalid one is dead-lettered alone.
"$PUB" "$NATS_URL" publish --stream MDB --batch 50 --count 400 --session SB --zero-price 13 >/dev/null
timeout 60 "$PROC" "${COMMON[@]}" --store "$MDM_T_TMP/batch.db" --set stream.name=MDB \
	--set consumer.durable=pbatch --exit-when-idle 1 2>"$MDM_T_TMP/pb.log" ||
	fail "batch-mode exit $?: $(tail -5 "$MDM_T_TMP/pb.log")"
[ "$(trades "$MDM_T_TMP/batch.db")" = 399 ] || fail "batch mode: $(trades "$MDM_T_TMP/batch.db") rows, want 399"
[ "$(sqlite3 "$MDM_T_TMP/batch.db" "select sum(total) from audit")" = 400 ] || fail "batch mode audit total"
"$PUB" "$NATS_URL" dump DLQ | grep -q "dlq.MDB.pbatch stream=MDB consumer=pbatch subject=mdb.itch.1 .*reason=price_not_positive payload=0a" ||
	fail "batch member not dead-lettered: $("$PUB" "$NATS_URL" dump DLQ | tail -2)"
pass "EventBatch messages on mdb.>: 399 trades, the invalid member dead-lettered"
summary
