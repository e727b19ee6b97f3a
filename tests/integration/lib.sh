# Shared helpers for integration test scripts (sourced).
# Tests start their own servers on free loopback ports and stop only the
# processes they started, by PID.
MDM_T_PASS=0
MDM_T_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
MDM_T_PIDS=()
MDM_T_NETNS=() # network namespaces this test made (veth_pair), deleted at exit
MDM_T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mdm-${MDM_T_NAME}.XXXXXX")
# The nats-server and nats CLI every test uses (MDM_NATS_SERVER / MDM_NATS_CLI).
# shellcheck source=../../scripts/lib/nats.sh
. "${MDM_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/scripts/lib/nats.sh"
mdm_nats_resolve
# Ports, HTTP, veth pairs and starting nats-server: one copy for tests, perf and scripts.
# shellcheck source=../../scripts/lib/net.sh
. "${MDM_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/scripts/lib/net.sh"

pass() { MDM_T_PASS=$((MDM_T_PASS + 1)); echo "ok $MDM_T_PASS - $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; } # ctest reports it as skipped (SKIP_RETURN_CODE)
summary() { echo "$MDM_T_PASS passed, 0 failed"; }

# Stops what the test started (by PID) and keeps the test's own exit status:
# `wait` returns the killed child's status, which must not become ours.
mdm_t_cleanup() {
	local rc=$? pid ns
	set +e
	for pid in "${MDM_T_PIDS[@]:-}"; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for ns in "${MDM_T_NETNS[@]:-}"; do
		[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	[ -n "${MDM_T_KEEP:-}" ] || rm -rf "$MDM_T_TMP"
	exit "$rc"
}
trap mdm_t_cleanup EXIT

# wait_for SECONDS 'SHELL CONDITION': until it holds (evaluated each time).
wait_for() {
	local deadline=$((SECONDS + $1))
	until eval "$2"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

# veth_pair [MTU]: network namespaces RX (the receiving side: collector,
# nats-server, processor; vrx = 10.77.0.2) and TX (the sender; vtx =
# 10.77.0.1) joined by a veth pair (mdm_veth_pair), deleted when the test
# exits. Skips the test where namespaces cannot be made (needs root).
veth_pair() {
	local rc=0
	RX=mdm-$MDM_T_NAME-rx-$$
	TX=mdm-$MDM_T_NAME-tx-$$
	mdm_veth_pair "$RX" "$TX" "${1:-}" || rc=$?
	[ $rc -ne 1 ] || skip "cannot create network namespaces here (needs root / CAP_SYS_ADMIN)"
	MDM_T_NETNS+=("$RX" "$TX")
	[ $rc -eq 0 ] || fail "cannot make the veth pair $RX <-> $TX"
}

# ns_nats_start [NAME]: nats-server with JetStream in RX on 127.0.0.1:4222
# (the namespace's own loopback), store $MDM_T_TMP/NAME (default js), log
# $MDM_T_TMP/NAME.log; the same port and store on every restart. Waits until
# it is ready (mdm_nats_start). Sets NATS_PID; NATS_URL is the URL inside RX.
ns_nats_start() {
	local log="$MDM_T_TMP/${1:-js}.log"
	need_nats_server
	mdm_nats_start "$log" "$RX" -a 127.0.0.1 -p 4222 -js -sd "$MDM_T_TMP/${1:-js}" && NATS_PID=$MDM_NATS_PID ||
		{ MDM_T_PIDS+=("$MDM_NATS_PID"); fail "nats-server did not start: $(tail -3 "$log")"; }
	MDM_T_PIDS+=("$NATS_PID")
	NATS_URL=nats://127.0.0.1:4222
}

# free_port: print a TCP port on 127.0.0.1 nobody listens on (mdm_free_port).
free_port() { mdm_free_port; }

# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
wait_port() { mdm_wait_port "$1" "${2:-10}"; }

# need_nats_server: fail unless MDM_NATS_SERVER runs; log its version once.
need_nats_server() {
	[ -n "${MDM_T_NATS_LOGGED:-}" ] && return 0
	"$MDM_NATS_SERVER" --version >/dev/null 2>&1 ||
		fail "cannot run nats-server '$MDM_NATS_SERVER' (scripts/test installs it; MDM_NATS_SERVER picks another)"
	mdm_nats_log_version "$MDM_T_NAME"
	# the compat lane names the server it means: never pass on another one
	case "$(mdm_nats_server_version)" in
	"${MDM_NATS_EXPECT:-}"*) ;;
	*) fail "nats-server '$MDM_NATS_SERVER' is $(mdm_nats_server_version), this lane needs ${MDM_NATS_EXPECT}x" ;;
	esac
	MDM_T_NATS_LOGGED=1
}

# need_cmd CMD...: fail unless every command is installed (scripts/test installs them).
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || fail "$c is not installed (scripts/test installs it)"
	done
}

# need_nats_cli: skip the test unless the nats CLI is there (MDM_NATS_CLI).
need_nats_cli() {
	[ -n "${MDM_NATS_CLI:-}" ] && "$MDM_NATS_CLI" --version >/dev/null 2>&1 ||
		skip "no nats CLI (scripts/test installs natscli $MDM_NATS_CLI_VERSION into .tools/bin with Go; MDM_NATS_CLI picks another)"
	echo "$MDM_T_NAME: nats CLI $(mdm_nats_cli_version) ($MDM_NATS_CLI)" >&2
}

# start_nats: a JetStream nats-server on a free loopback port with its own
# store; sets NATS_PORT, NATS_URL, NATS_PID.
start_nats() {
	need_nats_server
	NATS_PORT=$(free_port) || fail "no free port"
	mkdir -p "$MDM_T_TMP/js"
	# shellcheck disable=SC2086 # NATS_EXTRA_ARGS is a list of words
	mdm_nats_start "$MDM_T_TMP/nats.log" "" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$MDM_T_TMP/js" \
		${NATS_EXTRA_ARGS:-} && NATS_PID=$MDM_NATS_PID ||
		{ MDM_T_PIDS+=("$MDM_NATS_PID"); fail "nats-server did not start: $(tail -5 "$MDM_T_TMP/nats.log")"; }
	MDM_T_PIDS+=("$NATS_PID")
	NATS_URL="nats://127.0.0.1:$NATS_PORT"
}

# restart_nats: start_nats's server again, on the same port and store (after
# a kill); sets NATS_PID.
restart_nats() {
	# shellcheck disable=SC2086 # NATS_EXTRA_ARGS is a list of words
	mdm_nats_start "$MDM_T_TMP/nats.log" "" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$MDM_T_TMP/js" \
		${NATS_EXTRA_ARGS:-} && NATS_PID=$MDM_NATS_PID ||
		{ MDM_T_PIDS+=("$MDM_NATS_PID"); fail "nats-server did not restart: $(tail -5 "$MDM_T_TMP/nats.log")"; }
	MDM_T_PIDS+=("$NATS_PID")
}

# http_get PORT PATH: body of GET http://127.0.0.1:PORT/PATH on stdout
# (mdm_http_get: bash /dev/tcp, no curl needed). Fails on a non-200 status.
http_get() { mdm_http_get "$1" "$2"; }

# ns_http_get PORT PATH: http_get inside the RX namespace (veth_pair).
ns_http_get() { mdm_ns_http_get "$RX" "$1" "$2"; }

# stream_as_truth OUT: stream MD at $NATS_URL as JSON lines shaped like
# `mdmesh-loadgen synth --truth` (sorted by feed sequence) in OUT, the raw
# `mdmesh tail --headers` lines in OUT.raw. Compare with
# `jq -c 'del(.line_lost)' TRUTH | jq -s -c 'sort_by(.seq)[]'`.
stream_as_truth() {
	"$MDM_BIN/mdmesh" tail --nats "$NATS_URL" --all --idle-timeout 2 --headers 'md.>' > "$1.raw"
	jq -c '.event as $e | {session: $e.header.session, seq: $e.header.seq, type: $e.header.type,
		stock_locate: $e.header.stock_locate, tracking_number: $e.header.tracking_number,
		timestamp: $e.header.exchange_ts_ns, symbol: $e.header.symbol}
		+ ($e | del(.header, .order, .quote_before) | to_entries[0].value)' "$1.raw" | jq -s -c 'sort_by(.seq)[]' > "$1"
}
