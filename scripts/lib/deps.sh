# Sourced by scripts/test and scripts/demo: installs the Debian packages mdmesh
# needs, only those missing, and says what it does. Idempotent.

MDM_PKGS_BUILD="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libnats-dev
 libdpdk-dev dpdk-dev libpcap-dev libcmocka-dev libyaml-dev libmicrohttpd-dev libsqlite3-dev libpq-dev
 zlib1g-dev libssl-dev"
MDM_PKGS_RUN="nats-server sqlite3 iproute2 procps jq"
MDM_PKGS_TEST="postgresql tshark python3 clang libclang-rt-14-dev openssl curl chromium prometheus"

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
