#!/usr/bin/env bash
# The whole pipeline on a 3-node JetStream cluster (scripts/cluster, R3
# streams and KV) while the node leading stream MD is killed (-9) mid-run and
# restarted after it: live multicast at a fixed rate over a veth pair -> the
# collector (net_af_packet) -> the cluster -> two mdmesh-processor processes
# sharing the durable consumer -> one SQLite store. Checks: every feed
# sequence is in the stream exactly once, every event has exactly one row,
# both processors committed work, nothing failed or was dropped, and the
# killed node caught up after its restart.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
CLUSTER="$MDM_SRC_DIR/scripts/cluster"
RATE=2000      # events/s on the wire
SECS=15        # of sending: RATE x SECS events
N=$((RATE * SECS))

veth_pair
IN_RX=(ip netns exec "$RX")
CL=("${IN_RX[@]}" "$CLUSTER" --dir "$MDM_T_TMP/cluster")
# The nodes are not this shell's children: stop them through scripts/cluster
# (by the PIDs it recorded, waiting for them to exit) before lib.sh's cleanup
# deletes the namespaces (a deleted namespace does not stop its processes).
# The collector, processors and sender go first, newest first, while the
# cluster still takes their last acks. set +e first: under set -e the
# `(exit $rc)` of a failed run ended this trap before mdm_t_cleanup, and the
# collector left running held ctest's output pipe open until the TIMEOUT
# (a 10 s FAIL reported as "Timeout 240 s" in CI).
clients=()
cluster_cleanup() {
	local rc=$? i
	set +e
	for ((i = ${#clients[@]} - 1; i >= 0; i--)); do
		kill "${clients[i]}" 2>/dev/null && wait "${clients[i]}" 2>/dev/null
	done
	"${CL[@]}" stop >/dev/null 2>&1
	(exit $rc)
	mdm_t_cleanup
}
trap cluster_cleanup EXIT

# 1. The cluster: the shipped layout (a fresh namespace has its ports free),
#    configs written from the same template as configs/cluster/nN.conf.
for n in 1 2 3; do
	"$CLUSTER" config "$n" | cmp -s - "$MDM_SRC_DIR/configs/cluster/n$n.conf" ||
		fail "configs/cluster/n$n.conf differs from '$CLUSTER config $n' (the template)"
done
URLS=$("${CL[@]}" start 2>cluster.log) || fail "cluster start: $(cat cluster.log)"
[ "$URLS" = "nats://127.0.0.1:15001,nats://127.0.0.1:15002,nats://127.0.0.1:15003" ] || fail "client URLs: $URLS"
for n in 1 2 3; do MDM_T_PIDS+=("$(cat "$MDM_T_TMP/cluster/n$n.pid")"); done
"${CL[@]}" status | grep -q "^meta_leader n[123]$" || fail "no meta leader: $("${CL[@]}" status)"
pass "3 nodes from configs/cluster/node.conf.template (= shipped n1-n3.conf), meta leader elected"

# 2. The pipeline. Short ack timeouts so retries show within the test's time.
"${IN_RX[@]}" "$MDM_BIN/mdmesh-collector" --iface vrx --feed-dst 233.54.12.111:26477 --nats "$URLS" \
	--http 127.0.0.1:0 --set stream.replicas=3 --set recovery.replicas=3 --set eal.mem_mb=256 --set input.mbufs=8191 \
	--set publish.ack_timeout=2s 2> col.log &
col=$!
MDM_T_PIDS+=("$col")
clients+=("$col")
for _ in $(seq 1 200); do grep -q "receiving on" col.log && break; sleep 0.05; done
grep -q "receiving on net_af_packet0" col.log || fail "collector did not start: $(tail -5 col.log)"

# Reference data loaded the way an operator does it, before any processor:
# the bucket starts with one replica; the processors scale it to three.
"${IN_RX[@]}" "$MDM_BIN/mdmesh" refdata load "$MDM_SRC_DIR/configs/refdata/instruments.csv" --nats "$URLS" \
	> refdata.log 2>&1 || fail "refdata load: $(tail -3 refdata.log)"
[ "$("${CL[@]}" streams | awk '$2 == "KV_refdata"' | wc -l)" -eq 1 ] || fail "KV_refdata should start on one node"

cat > rules.yaml <<'EOF'
rules:
  - name: every_event
    match: {}
    targets:
      - table: events
EOF
DB="$MDM_T_TMP/store.db"
procs=()
declare -A port
for inst in pa pb; do
	# ack_wait 5 s: a message whose ack died with the old consumer leader comes
	# back within the test's time
	"${IN_RX[@]}" "$MDM_BIN/mdmesh-processor" --nats "$URLS" --store "$DB" --rules rules.yaml --http 127.0.0.1:0 \
		--instance "$inst" --set streams.replicas=3 --set consumer.ack_wait=5s \
		--set consumer.nak_delays=500ms 2> "$inst.log" &
	procs+=($!)
	MDM_T_PIDS+=($!)
	clients+=($!)
	for _ in $(seq 1 200); do grep -qs "consuming MD.processor" "$inst.log" && break; sleep 0.05; done
	grep -q "consuming MD.processor" "$inst.log" || fail "processor $inst did not start: $(tail -5 "$inst.log")"
	port[$inst]=$(sed -n 's/.*metrics on .*(port \([0-9]*\)).*/\1/p' "$inst.log")
	[ -n "${port[$inst]}" ] || fail "no metrics port in $inst.log"
done
# metric INST NAME: the processor's value of metric NAME (summed over labels)
metric() {
	"${IN_RX[@]}" curl -sf "http://127.0.0.1:${port[$1]}/metrics" |
		awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $NF } END { print s + 0 }'
}
n_ref=$(metric pa mdmesh_processor_refdata_instruments) || fail "GET /metrics of pa failed"
[ "$n_ref" -gt 0 ] || fail "no reference data loaded by pa"
"${CL[@]}" streams > streams0.txt
for s in MD AUDIT ALERTS DLQ DERIVED KV_refdata; do
	[ "$(awk -v s="$s" '$2 == s' streams0.txt | wc -l)" -eq 3 ] || fail "stream $s is not on all 3 nodes: $(cat streams0.txt)"
done
grep -q "kv refdata: updating, replicas (wanted 3, server has 1)" pa.log || fail "pa did not scale KV_refdata: $(grep -i refdata pa.log)"
pass "streams MD, AUDIT, ALERTS, DLQ, DERIVED and KV_refdata (loaded with 1 replica, scaled) on each node"

# 3. Traffic at a fixed rate; kill -9 the MD leader once a fifth of the run
#    is stored (restarted after the run, below). The victim and the consumers
#    it leads are looked up before: each scripts/cluster query takes seconds
#    on a loaded box, and three of them between a fixed sleep and the kill
#    once let the whole feed land first ("kill not mid-run: 30000 of 30000").
#    If the processors' consumer has its leader there too, both fail over at once.
LEADER=$("${CL[@]}" leader MD) || fail "no MD leader"
leads=$("${CL[@]}" consumers | awk -v l="$LEADER" '$3 == l { printf "%s%s.%s", (n++ ? ", " : ""), $1, $2 }')
ip netns exec "$TX" "$MDM_BIN/mdmesh-loadgen" send --rate "$RATE" --duration "$SECS" --symbols 200 --seed 41 \
	--dst 233.54.12.111:26477 --iface-addr 10.77.0.1 --ttl 1 2> send.log &
sender=$!
MDM_T_PIDS+=("$sender")
clients+=("$sender")
rows() { sqlite3 -cmd ".timeout 5000" "$DB" "select count(*) from events"; }
wait_for $((SECS * 4)) '[ "$(rows)" -ge $((N / 5)) ]' || fail "no $((N / 5)) rows after $((SECS * 4)) s: $(rows)"
"${CL[@]}" kill "${LEADER#n}" 2>>cluster.log
killed_at=$SECONDS
rows_before=$(rows)
[ "$rows_before" -lt "$N" ] || fail "kill not mid-run: $rows_before of $N rows stored"
NEW=$("${CL[@]}" leader MD 30) || fail "no new MD leader within 30 s after the kill"
[ "$NEW" != "$LEADER" ] || fail "the killed node is still the leader"
pass "killed $LEADER (leader of MD${leads:+ and consumer(s) $leads}) at $rows_before of $N rows stored; new MD leader $NEW"

wait "$sender" || fail "sender exit $?: $(tail -3 send.log)"
grep -q "^mdmesh-loadgen send: done: $N events" send.log || fail "sender: $(tail -1 send.log)"

# 4. Everything lands: the stream holds N, every event has its row, nothing is
#    left pending or unacked on the consumer.
deadline=$((SECONDS + 60))
until [ "$(sqlite3 "$DB" "select count(*) from events")" -ge "$N" ]; do
	[ $SECONDS -lt $deadline ] || fail "after 60 s: $(sqlite3 "$DB" "select count(*) from events") of $N rows"
	sleep 0.5
done
until "${CL[@]}" consumers | awk '$1 == "MD" && $2 == "processor" && $4 == 0 && $5 == 0 { ok = 1 } END { exit !ok }'; do
	[ $SECONDS -lt $deadline ] || fail "consumer still has pending or unacked messages: $("${CL[@]}" consumers)"
	sleep 0.5
done
# The killed node comes back once the run has drained, with an empty store
# (--fresh): it copies the run back from the others. Restarted on the store
# that lived through kill -9, nats-server 2.9.10 left the replica diverged in
# 6 of 27 runs (e.g. MD 29,993 messages with last sequence 29,993 against
# 30,000: the writes it still held in memory were lost, later writes got
# shifted sequences) and nothing repaired it. 2.15.3 restarted on its store
# caught up in 13 of 13 runs here, but in one CI run, where the killed node
# also led KV_refdata, the reference-data load after the restart failed: so
# --fresh stays the default on every server until that is understood, and
# MDM_CLUSTER_RESTART=store runs the store restart. See README, Cluster.
restart_mode=${MDM_CLUSTER_RESTART:-fresh}
restart_args=(--fresh)
restart_desc="with an empty store"
if [ "$restart_mode" = store ]; then restart_args=(); restart_desc="on its own store"; fi
"${CL[@]}" restart "${LEADER#n}" ${restart_args[@]+"${restart_args[@]}"} 2>>cluster.log ||
	fail "restart of $LEADER: $(tail -3 cluster.log)"
MDM_T_PIDS+=("$(cat "$MDM_T_TMP/cluster/$LEADER.pid")")
back="$((SECONDS - killed_at)) s after the kill"
# The processors' reference data watch outlived the failover: a new
# instrument loaded now reaches both.
printf 'symbol,sector,currency,exchange,name,lot_size\nZCLUS,Utilities,USD,XNAS,After the failover,100\n' > new.csv
"${IN_RX[@]}" "$MDM_BIN/mdmesh" refdata load new.csv --nats "$URLS" >> refdata.log 2>&1 || fail "refdata load: $(tail -3 refdata.log)"
for inst in pa pb; do
	deadline=$((SECONDS + 20))
	until [ "$(metric "$inst" mdmesh_processor_refdata_instruments)" -eq $((n_ref + 1)) ]; do
		[ $SECONDS -lt $deadline ] || fail "$inst did not get the new instrument: $(metric "$inst" mdmesh_processor_refdata_instruments) of $((n_ref + 1)) ($(grep -i 'enrich\|refdata' "$inst.log" | tail -3))"
		sleep 0.2
	done
done
retried=$(grep -c "retrying for up to" refdata.log || true)
pass "reference data: an instrument loaded after the failover reached both processors ($((n_ref + 1)) each; $retried retried opens or puts)"

kill -INT "$col"
wait "$col" || fail "collector exit $? after SIGINT: $(tail -8 col.log)"
for p in "${procs[@]}"; do
	kill -INT "$p"
	wait "$p" || fail "processor exit $? after SIGINT"
done
line=$(grep "^  events " col.log) || fail "no collector summary: $(tail -5 col.log)"
echo "$line" | grep -q "events     $N = stored [0-9]* + duplicate [0-9]* + dropped(ring full) 0 + dropped(stop) 0 + failed 0 .* : balanced" ||
	fail "collector: $line"
grep -q " 0 gaps " col.log || fail "gaps on a loss-free veth: $(grep sequence col.log)"
pass "collector: $(echo "$line" | grep -o 'stored [0-9]* + duplicate [0-9]*'), nothing failed or dropped, no gap"

"${IN_RX[@]}" "$MDM_BIN/mdmesh" tail --nats "$URLS" --all --idle-timeout 2 'md.>' | jq -r .header.seq > seqs.txt
[ "$(wc -l < seqs.txt)" -eq "$N" ] || fail "stream MD holds $(wc -l < seqs.txt) messages, want $N"
[ "$(sort -un seqs.txt | wc -l)" -eq "$N" ] && [ "$(sort -n seqs.txt | head -1)" = 1 ] &&
	[ "$(sort -n seqs.txt | tail -1)" = "$N" ] || fail "stream MD does not hold sequences 1..$N once each"
pass "stream MD: sequences 1..$N, each exactly once"

read -r rows distinct lo hi < <(sqlite3 -separator ' ' "$DB" \
	"select count(*), count(distinct feed || '.' || session || '.' || seq), min(seq), max(seq) from events")
[ "$rows $distinct $lo $hi" = "$N $N 1 $N" ] || fail "events table: $rows rows, $distinct distinct, seq $lo..$hi; want $N"
read -r trades tdistinct < <(sqlite3 -separator ' ' "$DB" "select count(*), count(distinct seq) from trades")
[ "$trades" -gt 0 ] && [ "$trades" = "$tdistinct" ] || fail "trades: $trades rows, $tdistinct distinct"
pass "store: $N event rows, one per sequence 1..$N; $trades trade rows, one per execution"

# What the processors publish crossed the failover too: no async publish
# (audit records, trades, bars, alarms) given up, each trade once in DERIVED,
# every alarm raised in ALERTS.
raised=0
for inst in pa pb; do
	line=$(grep "^  published " "$inst.log") || fail "no summary from $inst: $(tail -3 "$inst.log")"
	echo "$line" | grep -q "stored, 0 failed" || fail "$inst: $line"
	raised=$((raised + $(echo "$line" | sed -n 's/.*alerts raised \([0-9]*\).*/\1/p')))
done
"${IN_RX[@]}" "$MDM_BIN/mdmesh" tail --nats "$URLS" --stream DERIVED --all --idle-timeout 2 --headers 'trade.>' |
	jq -r '.headers["Nats-Msg-Id"]' > trade_ids.txt
[ "$(wc -l < trade_ids.txt)" -eq "$trades" ] && [ "$(sort -u trade_ids.txt | wc -l)" -eq "$trades" ] ||
	fail "DERIVED holds $(wc -l < trade_ids.txt) trade messages ($(sort -u trade_ids.txt | wc -l) distinct), want $trades"
alerts=$("${IN_RX[@]}" "$MDM_BIN/mdmesh" tail --nats "$URLS" --stream ALERTS --all --idle-timeout 2 'alert.system.>' | wc -l)
[ "$alerts" -eq "$raised" ] || fail "ALERTS holds $alerts alert.system messages, the processors raised $raised alarms"
pass "processors' publishes: none failed; DERIVED $trades trades once each; ALERTS $alerts of $raised alarms"

committed=$(sqlite3 "$DB" "select coalesce(sum(total), 0) from audit")
declare -A did
for inst in pa pb; do
	did[$inst]=$(sqlite3 "$DB" "select coalesce(sum(total), 0) from audit where instance = '$inst'")
	[ "${did[$inst]}" -gt 0 ] || fail "processor $inst committed nothing"
done
# A message whose ack was lost with the old leader is delivered again and
# committed again into the same row (idempotent on feed, session, seq).
[ "$committed" -ge "$N" ] || fail "audit: $committed events committed, fewer than the $N rows"
pass "both processors worked: pa committed ${did[pa]}, pb ${did[pb]}; $((committed - N)) redelivered, absorbed by the idempotent store"

# 5. The restarted node caught up: its replica of every stream holds what the
#    leader holds (messages, last sequence) and the leader reports it current.
deadline=$((SECONDS + 30))
while :; do
	"${CL[@]}" streams > after.txt
	behind=$(awk -F'\t' -v k="$LEADER" '
		{ msgs[$1, $2] = $3; last[$1, $2] = $4; if ($5 == $1) { lead[$2] = $1; rep[$2] = $6 } }
		END { for (s in lead) { l = lead[s]
			if (l != k && (msgs[k, s] != msgs[l, s] || last[k, s] != last[l, s] ||
				       index(rep[s], k ":current") == 0)) print s } }' after.txt)
	[ -z "$behind" ] && break
	[ $SECONDS -lt $deadline ] || fail "$LEADER did not catch up on: $behind ($(cat after.txt))"
	sleep 0.5
done
md_k=$(awk -F'\t' -v k="$LEADER" '$1 == k && $2 == "MD" { print $3 }' after.txt)
[ "$md_k" = "$N" ] || fail "$LEADER holds $md_k MD messages, want $N"
pass "$LEADER restarted $restart_desc ($back) and copied every stream back: MD $md_k messages, each replica current"
summary
