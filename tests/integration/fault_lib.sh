# Shared by the fault_*.sh tests (sourced after lib.sh): the counting tool,
# waiting, a route-everything rules file, network namespaces with a veth pair
# for live multicast, a nats-server that can be killed and restarted on its
# port and store, and a cleanup that stops what the test started before it
# undoes mounts and namespaces.
SEQCHECK="$MDM_BUILD_DIR/tests/seqcheck"
PUB="$MDM_BUILD_DIR/tests/md_publish"
[ -x "$SEQCHECK" ] || fail "seqcheck is not built ($SEQCHECK)"
FAULT_UNDO=()   # shell commands run at exit, after the test's processes are stopped

fault_cleanup() {
	local rc=$? pid c
	set +e
	for pid in "${MDM_T_PIDS[@]:-}"; do
		[ -n "$pid" ] || continue
		kill "$pid" 2>/dev/null && kill -CONT "$pid" 2>/dev/null # a stopped process gets its TERM too
		wait "$pid" 2>/dev/null
	done
	MDM_T_PIDS=()
	for c in "${FAULT_UNDO[@]:-}"; do
		[ -n "$c" ] && eval "$c"
	done
	(exit "$rc")
	mdm_t_cleanup
}
trap fault_cleanup EXIT

# wait_for SECONDS 'SHELL CONDITION': until it holds (evaluated each time).
wait_for() {
	local deadline=$((SECONDS + $1))
	until eval "$2"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

# fault_rules FILE: every valid event also goes to the generic `events` table,
# so the store holds one row per sequence number, not only the trades.
fault_rules() {
	printf 'rules:\n  - name: every_event\n    match: {}\n    targets:\n      - table: events\n' >"$1"
}

# store_seqs DB: "SESSION SEQ" of every row of the SQLite events table.
store_seqs() {
	sqlite3 -separator ' ' "$1" "select session, seq from events"
}

# pub ARGS...: md_publish, inside RX when the test has namespaces.
pub() {
	if [ -n "${RX:-}" ]; then ip netns exec "$RX" "$PUB" "$@"; else "$PUB" "$@"; fi
}

# dlq_empty URL: the DLQ stream holds nothing (an invalid or undeliverable
# event would be missing from the store because it went there).
dlq_empty() {
	[ "$(pub "$1" info DLQ | cut -d' ' -f1)" = 0 ]
}

# metric_of TEXT NAME [FILTER]: sum of the series of metric NAME (whose
# labels contain FILTER) in a /metrics body.
metric_of() {
	awk -v m="$2" -v f="${3:-}" '($1 == m || index($1, m "{") == 1) && index($1, f) { s += $NF } END { print s + 0 }' <<<"$1"
}

# fault_netns: namespaces RX (collector, nats-server, processor) and TX (the
# sender) joined by a veth pair, as in collector_live.sh; skips the test where
# namespaces cannot be made. Sets RX and TX; removed at exit.
fault_netns() {
	RX=mdmfrx$$
	TX=mdmftx$$
	ip netns add "$RX" 2>/dev/null || skip "cannot create network namespaces here (needs root / CAP_SYS_ADMIN)"
	FAULT_UNDO+=("ip netns del $RX 2>/dev/null")
	ip netns add "$TX" || fail "ip netns add $TX"
	FAULT_UNDO+=("ip netns del $TX 2>/dev/null")
	ip link add vrx netns "$RX" type veth peer name vtx netns "$TX"
	for ns in "$RX" "$TX"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		ip -n "$ns" link set lo up
	done
	ip -n "$TX" addr add 10.77.0.1/24 dev vtx
	ip -n "$TX" link set vtx up
	ip -n "$RX" link set vrx up
}

# in_rx CMD...: run CMD in the RX namespace. Not for background processes:
# `in_rx x &` would make $! a subshell's PID; use `ip netns exec "$RX" x &`
# (ip execs x, so $! is x itself and a signal reaches it).
in_rx() { ip netns exec "$RX" "$@"; }

# rx_http PORT PATH: body of http://127.0.0.1:PORT/PATH inside RX ("" on error).
rx_http() { in_rx curl -s --max-time 5 "http://127.0.0.1:$1$2" || true; }

# ns_nats_start: nats-server with JetStream file storage in RX on
# 127.0.0.1:4222 (the namespace's own loopback), store $MDM_T_TMP/js; the same
# port and store on every restart. Sets NATS_PID; NATS_URL is the URL in RX.
NATS_URL=nats://127.0.0.1:4222
ns_nats_start() {
	ip netns exec "$RX" nats-server -a 127.0.0.1 -p 4222 -js -sd "$MDM_T_TMP/js" >>"$MDM_T_TMP/nats.log" 2>&1 &
	NATS_PID=$!
	MDM_T_PIDS+=("$NATS_PID")
	wait_for 10 'in_rx bash -c "exec 3<>/dev/tcp/127.0.0.1/4222" 2>/dev/null' ||
		fail "nats-server did not start: $(tail -3 "$MDM_T_TMP/nats.log")"
}

# ns_nats_kill: kill -9, as a crash would.
ns_nats_kill() {
	kill -9 "$NATS_PID"
	wait "$NATS_PID" 2>/dev/null || true
}

# start_collector LOG ARGS...: the collector in RX, live on vrx through
# net_af_packet, HTTP on 127.0.0.1:9101 in RX; waits until it receives.
# Sets COL_PID.
start_collector() {
	local log=$1
	shift
	ip netns exec "$RX" "$MDM_BIN/mdmesh-collector" --iface vrx --nats "$NATS_URL" --http 127.0.0.1:9101 \
		--set eal.mem_mb=256 --set input.mbufs=8191 "$@" 2>"$log" &
	COL_PID=$!
	MDM_T_PIDS+=("$COL_PID")
	wait_for 20 'grep -q "receiving on" "$log" || ! kill -0 $COL_PID 2>/dev/null'
	grep -q "receiving on net_af_packet0" "$log" || fail "collector did not start: $(tail -5 "$log")"
}

# col_account FIELD: a field of the running collector's account (/stats.json).
col_account() { rx_http 9101 /stats.json | jq -r ".collector.account.$1 // empty"; }

# stop_collector: SIGINT (drain, wait for every ack, summary); fails on a
# non-zero exit.
stop_collector() {
	kill -INT "$COL_PID"
	wait "$COL_PID" || fail "collector exit $?: $(tail -8 "$1")"
}

# mdmesh-loadgen send's arguments for the feed group over the veth, from TX:
#   ip netns exec "$TX" "$MDM_BIN/mdmesh-loadgen" send "${SEND_TO[@]}" --rate R ... &
SEND_TO=(--dst 233.54.12.111:26477 --iface-addr 10.77.0.1 --ttl 1)
