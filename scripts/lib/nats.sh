# Sourced by every script that starts a nats-server or runs the nats CLI
# (scripts/, perf/, tests/integration/lib.sh): the one place that picks them.
#
#   MDM_NATS_SERVER  path of the nats-server to run. Default: .tools/bin/nats-server
#                    at the repository root when present (scripts/lib/deps.sh
#                    installs v2.15.3 there), else the one on PATH (Debian's 2.9.10).
#   MDM_NATS_CLI     path of the nats CLI. Default: .tools/bin/nats when present,
#                    else the one on PATH, else empty (tests that need it skip).
#   MDM_NATS_SERVER_DEBIAN  Debian's nats-server, for the `compat` lane and
#                    `perf/bench --server debian` (default /usr/sbin/nats-server).
# Sourcing does not run anything; call mdm_nats_resolve after MDM_ROOT is known.

# Pinned versions, installed by scripts/lib/deps.sh (mdm_install_nats_tools).
MDM_NATS_SERVER_VERSION=v2.15.3
MDM_NATS_CLI_VERSION=v0.5.0 # not v0.5.1

# mdm_nats_root: the repository root (MDM_ROOT from scripts/, MDM_SRC_DIR from ctest).
mdm_nats_root() {
	if [ -n "${MDM_ROOT:-}" ]; then echo "$MDM_ROOT"
	elif [ -n "${MDM_SRC_DIR:-}" ]; then echo "$MDM_SRC_DIR"
	else (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	fi
}

# mdm_nats_resolve: set and export MDM_NATS_SERVER, MDM_NATS_CLI and
# MDM_NATS_SERVER_DEBIAN (each kept when already set).
mdm_nats_resolve() {
	local root
	root=$(mdm_nats_root)
	if [ -z "${MDM_NATS_SERVER:-}" ]; then
		if [ -x "$root/.tools/bin/nats-server" ]; then MDM_NATS_SERVER="$root/.tools/bin/nats-server"
		else MDM_NATS_SERVER=$(command -v nats-server || echo nats-server)
		fi
	fi
	if [ -z "${MDM_NATS_CLI+set}" ]; then
		if [ -x "$root/.tools/bin/nats" ]; then MDM_NATS_CLI="$root/.tools/bin/nats"
		else MDM_NATS_CLI=$(command -v nats || true)
		fi
	fi
	: "${MDM_NATS_SERVER_DEBIAN:=/usr/sbin/nats-server}"
	export MDM_NATS_SERVER MDM_NATS_CLI MDM_NATS_SERVER_DEBIAN
}

# mdm_nats_server_version [PATH]: "2.15.3" (no v), or "unknown".
mdm_nats_server_version() {
	local v
	v=$("${1:-$MDM_NATS_SERVER}" --version 2>/dev/null | sed -n 's/^nats-server: v\{0,1\}\([0-9][0-9.]*\).*/\1/p')
	echo "${v:-unknown}"
}

# mdm_nats_cli_version [PATH]: "0.5.0", or "unknown".
mdm_nats_cli_version() {
	local v
	v=$("${1:-$MDM_NATS_CLI}" --version 2>&1 | sed -n 's/^v\{0,1\}\([0-9][0-9.]*\).*/\1/p' | head -1)
	echo "${v:-unknown}"
}

# mdm_nats_log_version [WHO]: one line naming the server a harness starts.
mdm_nats_log_version() {
	echo "${1:-harness}: nats-server $(mdm_nats_server_version) ($MDM_NATS_SERVER)" >&2
}
