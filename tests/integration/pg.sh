#!/usr/bin/env bash
# tests/integration/pg.sh: a throwaway PostgreSQL server for tests, living in
# one directory, listening on 127.0.0.1 and a free port.
#   sourced:  pg_start DIR [PORT]   start (initdb on the first start in DIR);
#                                   sets PG_URL and PG_PORT
#             pg_stop DIR           fast shutdown (pg_ctl -m fast); no-op if not running
#             pg_start_for_test     pg_start in $MDM_T_TMP/pg, stopped by the EXIT trap
#   run:      bash pg.sh start DIR [PORT]   prints PG_URL on stdout
#             bash pg.sh stop DIR
# A restart in the same DIR keeps the data, the port and the password.
# initdb and postgres refuse to run as root: as root, DIR is handed to the
# `postgres` user and every server command runs as that user (runuser, else
# setpriv); DIR's parents must then be searchable by it (/tmp is).
# TCP logins need the password (scram-sha-256), which is in PG_URL, so tests
# can check it never shows; the unix socket in DIR trusts local users.

# pg__bindir: the newest PostgreSQL server binaries (PG_BINDIR overrides).
pg__bindir() {
	local d
	if [ -n "${PG_BINDIR:-}" ]; then
		echo "$PG_BINDIR"
		return 0
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		[ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	d=$(pg_config --bindir 2>/dev/null) && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
	return 1
}

# pg__as CMD...: run CMD as the server's owner (postgres when we are root).
pg__as() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	elif command -v runuser >/dev/null; then
		runuser -u postgres -- "$@"
	else
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	fi
}

# shellcheck source=../../scripts/lib/net.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/net.sh" # mdm_free_port

pg_start() {
	local dir=${1:?pg_start DIR [PORT]} port=${2:-} bin pw
	bin=$(pg__bindir) || {
		echo "pg.sh: PostgreSQL server is not installed (no initdb; apt-get install postgresql, which scripts/test does)" >&2
		return 1
	}
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" -eq 0 ]; then
		getent passwd postgres >/dev/null || {
			echo "pg.sh: running as root needs a 'postgres' user to run the server as" >&2
			return 1
		}
		chown postgres: "$dir"
		pg__as test -w "$dir" || {
			echo "pg.sh: user postgres cannot write $dir (a parent directory is not searchable)" >&2
			return 1
		}
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		pw="mdmpw$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
		(umask 077 && printf '%s\n' "$pw" >"$dir/pw")
		[ "$(id -u)" -ne 0 ] || chown postgres: "$dir/pw"
		(cd "$dir" && pg__as "$bin/initdb" -D "$dir/data" -U mdmesh --pwfile="$dir/pw" \
			--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1) || {
			echo "pg.sh: initdb failed: $(tail -3 "$dir/initdb.log")" >&2
			return 1
		}
	fi
	if (cd "$dir" && pg__as "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1); then
		port=$(cat "$dir/port") # already running: same server, same URL
	else
		[ -n "$port" ] || port=$(cat "$dir/port" 2>/dev/null || mdm_free_port) || return 1
		echo "$port" >"$dir/port"
		(cd "$dir" && pg__as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
			-o "-k $dir -h 127.0.0.1 -p $port" start >"$dir/pg_ctl.log" 2>&1) || {
			echo "pg.sh: server did not start: $(tail -5 "$dir/server.log" 2>/dev/null)" >&2
			return 1
		}
	fi
	if [ ! -f "$dir/db_created" ]; then
		(cd "$dir" && pg__as "$bin/createdb" -h "$dir" -p "$port" -U mdmesh mdmesh) || {
			echo "pg.sh: createdb failed" >&2
			return 1
		}
		touch "$dir/db_created"
	fi
	PG_PORT=$port
	PG_URL="postgresql://mdmesh:$(head -1 "$dir/pw")@127.0.0.1:$port/mdmesh"
	export PG_PORT PG_URL
}

pg_stop() {
	local dir=${1:?pg_stop DIR} bin
	bin=$(pg__bindir) || return 1
	[ -f "$dir/data/postmaster.pid" ] || return 0
	(cd "$dir" && pg__as "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >>"$dir/pg_ctl.log" 2>&1)
}

# pg_start_for_test: a server of the test's own in $MDM_T_TMP/pg (PGDIR, PG_URL
# set as pg_start does), stopped on EXIT before lib.sh's cleanup runs.
pg_start_for_test() {
	chmod 711 "$MDM_T_TMP" # the server runs as postgres when we are root
	PGDIR="$MDM_T_TMP/pg"
	trap pg__test_cleanup EXIT
	pg_start "$PGDIR"
}
pg__test_cleanup() {
	local rc=$?
	set +e
	pg_stop "$PGDIR" >/dev/null 2>&1
	(exit "$rc") # mdm_t_cleanup keeps this status
	mdm_t_cleanup
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	start) pg_start "${2:?pg.sh start DIR [PORT]}" "${3:-}" && echo "$PG_URL" ;;
	stop) pg_stop "${2:?pg.sh stop DIR}" ;;
	*) echo "usage: pg.sh start DIR [PORT] | pg.sh stop DIR" >&2; exit 2 ;;
	esac
fi

