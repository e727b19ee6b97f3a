# Shared by the fault_*.sh tests (sourced after lib.sh, which has wait_for,
# veth_pair and ns_nats_start): the counting tool, a route-everything rules
# file, daemons started in the RX namespace, and a cleanup that stops what the
# test started (newest first) before it undoes mounts and namespaces.
SEQCHECK="$MDM_BUILD_DIR/tests/seqcheck"
PUB="$MDM_BUILD_DIR/tests/md_publish"
[ -x "$SEQCHECK" ] || fail "seqcheck is not built ($SEQCHECK)"
FAULT_UNDO=()   # shell commands run at exit, after the test's processes are stopped

fault_cleanup() {
	local rc=$? i pid c
	set +e
	# newest first: a collector or processor stops while its nats-server is
	# still there to take its last acks, instead of waiting out its drain timeout
	for ((i = ${#MDM_T_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${MDM_T_PIDS[i]}
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

# in_rx CMD...: run CMD in the RX namespace. Not for background processes:
# `in_rx x &` would make $! a subshell's PID; use `ip netns exec "$RX" x &`
# (ip execs x, so $! is x itself and a signal reaches it).
in_rx() { ip netns exec "$RX" "$@"; }

# rx_http PORT PATH: body of http://127.0.0.1:PORT/PATH inside RX; fails when
# the GET does (no connection, a status other than 200).
rx_http() { ns_http_get "$1" "$2"; }

# ns_nats_kill: kill -9, as a crash would; fails unless the server is gone.
ns_nats_kill() {
	local rc=0
	kill -9 "$NATS_PID" || fail "nats-server $NATS_PID was not running"
	wait "$NATS_PID" 2>/dev/null || rc=$?
	[ "$rc" -eq 137 ] || fail "nats-server $NATS_PID: exit $rc after kill -9, want 137"
}

# start_collector LOG ARGS...: the collector in RX, live on vrx through
# net_af_packet, HTTP on 127.0.0.1:9101 in RX; waits until it receives.
# 32768 kernel ring frames (~2.5 s of a 50k events/s feed) so a CPU-starved
# RX core on a busy 2-core machine does not lose packets before the
# collector sees them (the faults under test are downstream). Sets COL_PID.
start_collector() {
	local log=$1
	shift
	ip netns exec "$RX" "$MDM_BIN/mdmesh-collector" --iface vrx --nats "$NATS_URL" --http 127.0.0.1:9101 \
		--set eal.mem_mb=256 --set input.mbufs=8191 --set input.af_packet_frames=32768 "$@" 2>"$log" &
	COL_PID=$!
	MDM_T_PIDS+=("$COL_PID")
	FAULT_UNDO+=("rm -rf /var/run/dpdk/mdmesh-collector-$COL_PID") # EAL's runtime dir (--file-prefix <prog>-<pid>)
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
