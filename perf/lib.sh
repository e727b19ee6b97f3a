# shellcheck shell=bash disable=SC2034 # NATS_URL, NATS_CORES: read by the sourcing script
# perf/lib.sh: shell helpers shared by perf/bench and perf/soak (sourced, not run).
# The caller sets PROG (prefix of its messages), BIN (the built binaries) and
# W (its work directory) before calling them, and runs perf_stop_all from its
# EXIT trap: everything started here is recorded in PIDS and NETNS.
PIDS=()
NETNS=()
NS_EXEC=()   # prefix that runs a command in the receive namespace (empty = here)
TCK=$(getconf CLK_TCK)
# shellcheck source=../scripts/lib/nats.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/nats.sh"
MDM_ROOT=${MDM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)} mdm_nats_resolve
# shellcheck source=../scripts/lib/net.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/net.sh"

die() { echo "$PROG: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

# nats_need: die unless MDM_NATS_SERVER runs; log which one this run uses.
nats_need() {
	"$MDM_NATS_SERVER" --version >/dev/null 2>&1 || die "cannot run nats-server '$MDM_NATS_SERVER' (scripts/lib/deps.sh installs one; MDM_NATS_SERVER picks another)"
	log "nats-server $(mdm_nats_server_version) ($MDM_NATS_SERVER)"
}

# perf_stop_all: stop what was started (by PID) and delete the namespaces made
perf_stop_all() {
	local p
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	for p in "${NETNS[@]:-}"; do [ -n "$p" ] && ip netns del "$p" 2>/dev/null; done
	return 0
}

# ns_now: CLOCK_REALTIME in ns (bash builtin, no child process)
ns_now() { local t=$EPOCHREALTIME; echo "${t%.*}${t#*.}000"; }
# ticks PID: utime+stime of a live process, in clock ticks
ticks() { local f; read -r -a f < "/proc/$1/stat"; echo $((f[13] + f[14])); }
# rss_kb PID: resident set size in KiB (0 once the process is gone)
rss_kb() { awk '/^VmRSS:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# cpu_run FILE CMD...: run CMD (in a subshell); FILE gets "ticks t0_ns t1_ns rc":
# the subshell's cutime+cstime (/proc/<subshell>/stat) after waiting for CMD,
# i.e. CMD's whole CPU time, and its wall time. FILE.pid holds CMD's pid.
cpu_run() {
	local out=$1 t0 t1 rc=0 f pid
	shift
	t0=$(ns_now)
	"$@" &
	pid=$!
	echo "$pid" > "$out.pid"
	wait "$pid" || rc=$?
	t1=$(ns_now)
	read -r -a f < "/proc/$BASHPID/stat"
	echo "$((f[15] + f[16])) $t0 $t1 $rc" > "$out"
	return "$rc"
}
# cores FILE: cores used by the process cpu_run measured
cores() { awk -v tck="$TCK" '{ printf "%.3f", ($1 / tck) / (($3 - $2) / 1e9) }' "$1"; }
# log_ns LOGFILE PATTERN: the ns timestamp of the first log line matching PATTERN
log_ns() {
	local ts s frac
	ts=$(grep -m1 "$2" "$1" | awk '{print $1}')
	[ -n "$ts" ] || die "no '$2' in $1"
	s=$(date -u -d "${ts%.*}Z" +%s)
	frac=${ts#*.}
	frac=${frac%Z}
	frac=$(printf '%-9s' "$frac" | tr ' ' 0)
	echo "$s$frac"
}

# --- nats-server, fresh per phase, optionally inside a namespace -----------
NATS_PID=
NATS_T0=
NATS_W0=
# nats_start PHASE: a JetStream server (own store $W/js, monitoring port) in
# NS_EXEC; sets NATS_URL, NATS_MON, NATS_PID
nats_start() {
	local p m ns=
	# ports free here; inside a fresh namespace every port is
	p=$(mdm_free_port) && m=$(mdm_free_port) && [ "$m" != "$p" ] || die "no free ports"
	NATS_URL="nats://127.0.0.1:$p"
	NATS_MON="http://127.0.0.1:$m"
	rm -rf "$W/js" "$W/nats-$1.log"
	[ ${#NS_EXEC[@]} -eq 0 ] || ns=${NS_EXEC[3]}
	mdm_nats_start "$W/nats-$1.log" "$ns" -a 127.0.0.1 -p "$p" -m "$m" -js -sd "$W/js" || {
		PIDS+=("$MDM_NATS_PID")
		die "nats-server did not start: $(tail -3 "$W/nats-$1.log")"
	}
	NATS_PID=$MDM_NATS_PID
	PIDS+=("$NATS_PID")
	# the server's own pid inside `ip netns exec`: exec replaces, so it is the same
	NATS_CPU_TAKEN=
	NATS_T0=$(ticks "$NATS_PID")
	NATS_W0=$(ns_now)
}
# nats_cpu: sets NATS_CORES (cores used since nats_start) now, and keeps that
# figure through nats_stop: for work after the measured part (e.g. reading the
# stream back) that must not count
NATS_CPU_TAKEN=
nats_cpu() {
	local t1 w1
	t1=$(ticks "$NATS_PID")
	w1=$(ns_now)
	NATS_CORES=$(awk -v a="$NATS_T0" -v b="$t1" -v w0="$NATS_W0" -v w1="$w1" -v tck="$TCK" \
		'BEGIN { printf "%.3f", ((b - a) / tck) / ((w1 - w0) / 1e9) }')
	NATS_CPU_TAKEN=1
}
# nats_stop: sets NATS_CORES (cores used since nats_start, unless nats_cpu took it)
nats_stop() {
	[ -n "$NATS_CPU_TAKEN" ] || nats_cpu
	NATS_CPU_TAKEN=
	kill "$NATS_PID" 2>/dev/null
	wait "$NATS_PID" 2>/dev/null || true
	NATS_PID=
}
# stream_state NAME FIELD: a field of stream NAME's state (messages, bytes) from /jsz
stream_state() {
	${NS_EXEC[@]+"${NS_EXEC[@]}"} curl -sf "$NATS_MON/jsz?streams=true" |
		jq --arg s "$1" --arg f "$2" '[.account_details[]?.stream_detail[]? | select(.name == $s) | .state[$f]] | add // 0'
}
# stream_msgs NAME: messages in stream NAME
stream_msgs() { stream_state "$1" messages; }
# consumer_info STREAM NAME: consumer NAME of STREAM as /jsz shows it (JSON; null when absent)
consumer_info() {
	${NS_EXEC[@]+"${NS_EXEC[@]}"} curl -sf "$NATS_MON/jsz?consumers=true" |
		jq -c --arg s "$1" --arg c "$2" '[.account_details[]?.stream_detail[]? | select(.name == $s) |
		.consumer_detail[]? | select(.name == $c)] | first // null'
}

# --- the processor's SQLite store --------------------------------------------
# audit_total DB: events the processor committed (audit records); audit_last_ns DB: last commit time
audit_total() { sqlite3 "$1" "select coalesce(sum(total), 0) from audit"; }
audit_last_ns() { sqlite3 "$1" "select max(commit_ts_ns) from audit"; }

# stages HLOG: {stage: {count, p50_ns, ...}} from the log's intervals, merged per tag.
# With HDR_CACHE set (a directory), each tag's decoded lines are also kept there
# as <hlog name>|<tag>.jsonl (`mdmesh hdr decode --json --tag`), for a report.
stages() {
	local tag obj="{}" keep=/dev/null
	for tag in $(grep -o '^Tag=[A-Za-z0-9_]*' "$1" | cut -d= -f2 | sort -u); do
		[ -z "${HDR_CACHE:-}" ] || keep="$HDR_CACHE/$(basename "$1" .hlog)|$tag.jsonl"
		obj=$("$BIN/mdmesh" hdr decode --json --tag "$tag" "$1" | tee "$keep" | jq -c --argjson o "$obj" --arg t "$tag" \
			'select(.total == true) | $o + {($t): {count, min_ns: .min, mean_ns: .mean, p50_ns: .p50, p90_ns: .p90,
			p99_ns: .p99, p999_ns: ."p99.9", p9999_ns: ."p99.99", max_ns: .max}}')
	done
	echo "$obj"
}

# --- a veth pair between two network namespaces ------------------------------
# veth_up RX TX: namespaces RX and TX joined by vrx (RX, 10.77.0.2) <-> vtx (TX,
# 10.77.0.1), IPv6 off so no MLD/RS frames reach the feed (mdm_veth_pair);
# sets NS_EXEC to run in RX.
# Returns 1 (nothing made) when namespaces cannot be created here.
veth_up() {
	local rc=0
	mdm_veth_pair "$1" "$2" || rc=$?
	[ $rc -ne 1 ] || return 1
	NETNS+=("$1" "$2")
	[ $rc -eq 0 ] || die "veth pair $1 <-> $2 failed"
	NS_EXEC=(ip netns exec "$1")
}
