# Sourced by scripts/test, scripts/demo and perf/bench: installs the Debian packages mdmesh
# needs, only those missing, and says what it does. Idempotent.

MDM_PKGS_BUILD="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libnats-dev
 libdpdk-dev dpdk-dev libpcap-dev libcmocka-dev libyaml-dev libmicrohttpd-dev libsqlite3-dev libpq-dev
 zlib1g-dev libssl-dev libjansson-dev"
MDM_PKGS_RUN="nats-server sqlite3 iproute2 procps jq"
MDM_PKGS_TEST="postgresql tshark python3 clang libclang-rt-14-dev openssl curl chromium prometheus
 libquickfix-dev"

mdm_missing_pkgs() {
	local p missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	echo "$missing"
}

# mdm_install_deps [build|run|test]...: install what those groups need.
mdm_install_deps() {
	local want="" g missing
	for g in "$@"; do
		case "$g" in
		build) want="$want $MDM_PKGS_BUILD" ;;
		run) want="$want $MDM_PKGS_RUN" ;;
		test) want="$want $MDM_PKGS_TEST" ;;
		esac
	done
	# shellcheck disable=SC2086
	missing=$(mdm_missing_pkgs $want)
	# npm: some images ship nodejs with npm bundled, which conflicts with
	# Debian's npm package, so ask for it only when the command is absent.
	case " $* " in *" test "*) command -v npm >/dev/null || missing="$missing nodejs npm" ;; esac
	if [ -z "${missing// /}" ]; then
		echo "==> packages: all present"
		return 0
	fi
	echo "==> packages: installing$missing"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
	echo "==> packages: done"
}

# mdm_build DIR [cmake args...]: configure and build with all cores; the
# compiler output is shown only when the build fails.
mdm_build() {
	local dir="$MDM_ROOT/$1"; shift
	echo "==> build: ${dir#"$MDM_ROOT/"} $*"
	mkdir -p "$dir"
	if ! cmake -S "$MDM_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="${MDM_BUILD_TYPE:-Release}" "$@" >"$dir/configure.log" 2>&1; then
		cat "$dir/configure.log" >&2
		return 1
	fi
	if ! cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
		grep -E 'error|warning|Error' "$dir/build.log" | head -50 >&2
		echo "build failed: full log in $dir/build.log" >&2
		return 1
	fi
}

# shellcheck source=nats.sh
. "$(dirname "${BASH_SOURCE[0]}")/nats.sh"

# mdm_go: the Go toolchain (MDM_GO when set, else PATH, then /usr/local/go), or
# nothing. MDM_GO=none behaves as a machine without Go.
mdm_go() {
	if [ -n "${MDM_GO:-}" ]; then
		[ -x "$MDM_GO" ] && echo "$MDM_GO"
		return 0
	fi
	command -v go 2>/dev/null || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } || true
}

# mdm_install_nats_tool NAME MODULE VERSION CURRENT: go install MODULE@VERSION
# into .tools/bin unless .tools/bin/NAME already reports VERSION (CURRENT).
mdm_install_nats_tool() {
	local name=$1 mod=$2 ver=$3 have=$4 go log
	if [ "v$have" = "$ver" ]; then
		echo "==> $name: $ver present in .tools/bin"
		return 0
	fi
	go=$(mdm_go)
	if [ -z "$go" ]; then
		echo "==> $name: no Go toolchain (neither go on PATH nor /usr/local/go): not installing $ver; falling back to what PATH has"
		return 1
	fi
	echo "==> $name: installing $mod@$ver into .tools/bin (had: ${have:-none})"
	mkdir -p "$MDM_ROOT/.tools/bin"
	log="$MDM_ROOT/.tools/go-install-$name.log"
	# GOFLAGS/GOTOOLCHAIN from the caller's environment would change what
	# gets built; the pinned module needs neither.
	if ! GOBIN="$MDM_ROOT/.tools/bin" GOFLAGS=-mod=mod GOTOOLCHAIN=local timeout 900 \
		"$go" install "$mod@$ver" >"$log" 2>&1; then
		echo "==> $name: go install $mod@$ver failed ($(grep -v '^go: downloading' "$log" | tail -1)); falling back to what PATH has"
		return 1
	fi
	echo "==> $name: installed $("$MDM_ROOT/.tools/bin/$name" --version 2>&1 | head -1)"
}

# mdm_install_nats_tools: the pinned nats-server and nats CLI into .tools/bin
# (only when missing or at another version), then resolve MDM_NATS_SERVER /
# MDM_NATS_CLI. Never fails: without Go or the module proxy, Debian's
# nats-server stays in use and the tests that need the CLI report skipped.
mdm_install_nats_tools() {
	local have
	have=""
	[ -x "$MDM_ROOT/.tools/bin/nats-server" ] && have=$(mdm_nats_server_version "$MDM_ROOT/.tools/bin/nats-server")
	mdm_install_nats_tool nats-server github.com/nats-io/nats-server/v2 "$MDM_NATS_SERVER_VERSION" "$have" || true
	have=""
	[ -x "$MDM_ROOT/.tools/bin/nats" ] && have=$(mdm_nats_cli_version "$MDM_ROOT/.tools/bin/nats")
	mdm_install_nats_tool nats github.com/nats-io/natscli/nats "$MDM_NATS_CLI_VERSION" "$have" || true
	mdm_nats_resolve
	local cli="none (tests that need it will be skipped)"
	[ -n "$MDM_NATS_CLI" ] && cli="$(mdm_nats_cli_version) ($MDM_NATS_CLI)"
	echo "==> nats: server $(mdm_nats_server_version) ($MDM_NATS_SERVER); CLI $cli"
}
