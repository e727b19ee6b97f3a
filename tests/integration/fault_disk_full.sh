#!/usr/bin/env bash
# Fault: the disk of the SQLite store fills up. The store lives on a small
# tmpfs this test mounts in its temp dir. The processor must report it (log
# line, failed-batch counter, /healthz 503), roll back and nak, keep the
# messages (nothing dead-lettered), and once the tmpfs is grown (remount
# size=) commit every event exactly once.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
. "$MDM_SRC_DIR/tests/integration/fault_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
command -v curl >/dev/null || fail "curl is not installed"
cd "$MDM_T_TMP"
DISK="$MDM_T_TMP/disk"
mkdir "$DISK"
mount -t tmpfs -o size=4m,mode=0755 mdm_fault_disk "$DISK" 2>/dev/null ||
	skip "cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)"
FAULT_UNDO+=("umount '$DISK'")
start_nats
DB="$DISK/store.db"
HTTP_PORT=$(free_port)
fault_rules rules.yaml
pub "$NATS_URL" publish --count 0 >/dev/null
rows() { sqlite3 "$DB" "select count(*) from events" 2>/dev/null || echo 0; }
metric() { metric_of "$(curl -s --max-time 5 "http://127.0.0.1:$HTTP_PORT/metrics")" "$@"; }
health() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz"; }

"$MDM_BIN/mdmesh-processor" --nats "$NATS_URL" --store "$DB" --rules rules.yaml --http "127.0.0.1:$HTTP_PORT" \
	--set consumer.ack_wait=10s --set consumer.nak_delays=200ms,500ms --set consumer.max_deliver=1000 2>proc.log &
proc=$!
MDM_T_PIDS+=("$proc")
wait_port "$HTTP_PORT" 15 || fail "processor did not start: $(tail -5 proc.log)"
[ "$(health)" = 200 ] || fail "/healthz $(health) at start"

# ~600 bytes per event in the store (trade, event row with its JSON, indexes):
# 4 MiB (with the WAL) holds well under 20000
N=20000
pub "$NATS_URL" publish --count "$N" --session DF1 >/dev/null
wait_for 30 '[ "$(metric mdmesh_processor_failed_batches_total cause=\"store\")" -ge 3 ] && [ "$(health)" = 503 ]' ||
	fail "disk full not reported: failed store batches $(metric mdmesh_processor_failed_batches_total), /healthz $(health)"
grep -q "database or disk is full" proc.log || fail "no disk-full log line: $(grep -i fail proc.log | tail -2)"
at_full=$(rows)
[ "$at_full" -lt "$N" ] || fail "all $N events fit in 4 MiB: the disk never filled"
# it keeps trying (and failing) rather than stopping or exiting
f0=$(metric mdmesh_processor_failed_batches_total cause=\"store\")
wait_for 60 '[ "$(metric mdmesh_processor_failed_batches_total cause=\"store\")" -ge $((f0 + 3)) ] || ! kill -0 $proc 2>/dev/null'
kill -0 "$proc" 2>/dev/null || fail "processor exited on a full disk: $(tail -5 proc.log)"
[ "$(metric mdmesh_processor_failed_batches_total cause=\"store\")" -ge $((f0 + 3)) ] ||
	fail "processor stopped retrying on a full disk: $(metric mdmesh_processor_failed_batches_total) failed batches"
failed=$(metric mdmesh_processor_failed_batches_total cause=\"store\")
naks=$(metric mdmesh_processor_naks_total)
dlq_empty "$NATS_URL" || fail "messages dead-lettered while the disk was full"
[ "$(metric mdmesh_processor_max_deliver_dead_letters_total)" = 0 ] || fail "max_deliver dead letters"
pass "disk full at $at_full of $N rows: logged, $failed failed batches, $naks naks, /healthz 503, nothing dead-lettered"

mount -o remount,size=64m "$DISK" || fail "remount size=64m"
wait_for 60 '[ "$(rows)" = $N ]' || fail "after growing the disk: $(rows) rows, want $N"
wait_for 15 '[ "$(metric mdmesh_processor_consumer_lag)" = 0 ] && [ "$(metric mdmesh_processor_consumer_ack_pending)" = 0 ] &&
	[ "$(metric mdmesh_processor_in_flight)" = 0 ] && [ "$(health)" = 200 ]' ||
	fail "not recovered: lag $(metric mdmesh_processor_consumer_lag), ack pending $(metric mdmesh_processor_consumer_ack_pending), /healthz $(health)"
kill -TERM "$proc"
wait "$proc" || fail "SIGTERM exit $?: $(tail -5 proc.log)"
res=$("$SEQCHECK" stream "$NATS_URL" --session DF1 --expect "1-$N") || fail "stream: $res"
res=$(store_seqs "$DB" | "$SEQCHECK" lines --session DF1 --expect "1-$N") || fail "store: $res"
audit=$(sqlite3 "$DB" "select sum(total) from audit")
[ "$audit" = "$N" ] || fail "audit counts $audit events, want $N (a failed batch's audit row must roll back with it)"
[ "$(sqlite3 "$DB" "pragma integrity_check")" = ok ] || fail "integrity_check: $(sqlite3 "$DB" "pragma integrity_check" | head -3)"
pass "disk grown to 64 MiB: $(echo "$res" | sed 's/^seqcheck: //'); audit $audit; integrity ok; /healthz 200"
summary
