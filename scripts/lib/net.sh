# shellcheck shell=bash
# Sourced by the test harnesses (tests/integration/lib.sh, pg.sh), perf/lib.sh
# and scripts/cluster: the one copy of the helpers that start a nats-server,
# find free ports, GET over HTTP and make a veth pair. Each returns non-zero
# when it could not do its job; the caller decides whether that is a failure,
# a skip or a die, and records what was started for its own cleanup.
# Sourcing runs nothing. nats.sh (MDM_NATS_SERVER) must be sourced first for
# mdm_nats_start.

# mdm_port_free PORT [HOST]: nothing accepts on HOST:PORT (default 127.0.0.1).
mdm_port_free() {
	! (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# mdm_free_port: print a TCP port in 20000..59999 nobody listens on
# (127.0.0.1); returns 1 after 100 taken ones.
mdm_free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if mdm_port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# mdm_wait_port PORT [SECONDS] [HOST]: until something accepts on HOST:PORT
# (default 10 s, 127.0.0.1); 1 when the time ran out.
mdm_wait_port() {
	local deadline=$((SECONDS + ${2:-10}))
	until ! mdm_port_free "$1" "${3:-127.0.0.1}"; do
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# mdm_http_get [HOST:]PORT PATH: the body of GET http://HOST:PORT/PATH on
# stdout (bash /dev/tcp: no curl needed; HOST defaults to 127.0.0.1). Returns
# 1 when it cannot connect or the status is not 200 (the status line goes to
# stderr then).
mdm_http_get() {
	local host=127.0.0.1 port=$1 status line
	if [[ "$1" == *:* ]]; then
		host=${1%:*}
		port=${1##*:}
	fi
	exec 5<>"/dev/tcp/$host/$port" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$host" >&5
	IFS= read -r status <&5 || { exec 5<&-; return 1; }
	while IFS= read -r line <&5 && [ "$line" != $'\r' ]; do :; done
	cat <&5
	exec 5<&-
	case "$status" in *" 200 "*) return 0 ;; *) echo "$status" >&2; return 1 ;; esac
}

# mdm_ns_http_get NS [HOST:]PORT PATH: mdm_http_get inside network namespace NS.
mdm_ns_http_get() {
	ip netns exec "$1" bash -c "$(declare -f mdm_port_free mdm_http_get); mdm_http_get \"\$1\" \"\$2\"" _ "$2" "$3"
}

# mdm_nats_start LOG NS ARGS...: "$MDM_NATS_SERVER" ARGS in the background
# (inside network namespace NS unless NS is ""), its output appended to LOG;
# waits until the server logs "Server is ready" once more than LOG held
# before (after JetStream restored its streams; no process per poll, which a
# loaded 2-core machine makes slow), at most MDM_NATS_START_S seconds (30).
# Sets MDM_NATS_PID (the server itself: ip netns exec execs it). Returns 1
# when it died or did not become ready (LOG says why).
mdm_nats_start() {
	local log=$1 ns=$2 before deadline
	shift 2
	before=$(grep -c "Server is ready" "$log" 2>/dev/null || true)
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$MDM_NATS_SERVER" "$@" >>"$log" 2>&1 &
	else
		"$MDM_NATS_SERVER" "$@" >>"$log" 2>&1 &
	fi
	MDM_NATS_PID=$!
	deadline=$((SECONDS + ${MDM_NATS_START_S:-30}))
	until [ "$(grep -c "Server is ready" "$log" 2>/dev/null)" -gt "${before:-0}" ]; do
		kill -0 "$MDM_NATS_PID" 2>/dev/null && [ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# mdm_veth_pair RX TX [MTU]: network namespaces RX (receiving side, vrx =
# 10.77.0.2) and TX (the sender, vtx = 10.77.0.1) joined by a veth pair,
# IPv6 off (no MLD/RS frames reach a feed), loopback up. Returns 1 with
# nothing made when namespaces cannot be created here (needs root), 2 when a
# later step failed (the namespaces exist: the caller deletes both).
mdm_veth_pair() {
	local ns
	ip netns add "$1" 2>/dev/null || return 1
	ip netns add "$2" || return 2
	ip link add vrx netns "$1" type veth peer name vtx netns "$2" || return 2
	for ns in "$1" "$2"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || return 2
		ip -n "$ns" link set lo up || return 2
	done
	if [ -n "${3:-}" ]; then
		ip -n "$2" link set vtx mtu "$3" && ip -n "$1" link set vrx mtu "$3" || return 2
	fi
	ip -n "$2" addr add 10.77.0.1/24 dev vtx &&
		ip -n "$1" addr add 10.77.0.2/24 dev vrx &&
		ip -n "$2" link set vtx up &&
		ip -n "$1" link set vrx up || return 2
}
