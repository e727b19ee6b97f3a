#!/usr/bin/env bash
# mdmesh-fix against an independent FIX engine (label fix): tests/fix_peer's
# qf_peer, built on QuickFIX (Debian libquickfix-dev), sends a scripted set of
# ExecutionReports (trades, corrections, cancels; trader in the Parties group)
#   1. as the drop-copy acceptor, mdmesh-fix --connect;
#   2. as the initiator, against mdmesh-fix --listen;
# and exactly the executions it sent arrive, once each, in EXEC and - through
# mdmesh-processor on EXEC - in table executions, corrections and cancels
# applied to the trades they name. Skipped when QuickFIX is not installed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PEER="$MDM_BUILD_DIR/tests/qf_peer"
[ -x "$PEER" ] || skip "qf_peer not built (QuickFIX not installed: apt-get install libquickfix-dev)"
need_nats_cli
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
start_nats
cd "$MDM_T_TMP"
BIN=${MDM_BIN:?}

msgs() { "$MDM_NATS_CLI" --server "$NATS_URL" stream subjects EXEC "exec.$1.>" --json 2>/dev/null | jq '[.[]] | add // 0'; }
fix_start() { # NAME ARGS...: mdmesh-fix in the background, its PID in FIX_PID
	local name=$1; shift
	"$BIN/mdmesh-fix" --nats "$NATS_URL" --sender US --target BRK --http 127.0.0.1:0 --session "$name" \
		--state-dir "st-$name" --set session.reconnect_interval=200ms "$@" >"$name.log" 2>&1 &
	FIX_PID=$!
	MDM_T_PIDS+=("$FIX_PID")
}
peer_start() { # NAME ARGS...: qf_peer in the background, its PID in PEER_PID
	local name=$1; shift
	mkdir -p "qf-$name"
	"$PEER" --sender BRK --target US --dir "qf-$name" --truth "truth-$name.jsonl" --linger 300 "$@" \
		>"qf-$name.log" 2>&1 &
	PEER_PID=$!
	MDM_T_PIDS+=("$PEER_PID")
}
finish() { # NAME N: wait for N executions of session NAME, then stop both sides
	wait_for 90 "[ \$(msgs $1) -ge $2 ]" || fail "$1: EXEC holds $(msgs "$1") of $2: $(tail -3 "$1.log")"
	grep -q "sent $2 of $2" "qf-$1.log" || fail "$1: qf_peer: $(tail -3 "qf-$1.log")"
	kill -TERM "$FIX_PID"
	wait "$FIX_PID" || fail "$1: mdmesh-fix exited $?: $(tail -5 "$1.log")"
	kill -TERM "$PEER_PID"
	wait "$PEER_PID" || fail "$1: qf_peer exited $?: $(tail -3 "qf-$1.log")"
	[ "$(msgs "$1")" = "$2" ] || fail "$1: EXEC holds $(msgs "$1") executions, qf_peer sent $2"
	[ "$(wc -l <"truth-$1.jsonl")" = "$2" ] || fail "$1: truth has $(wc -l <"truth-$1.jsonl") lines"
}

# ---- 1. QuickFIX acceptor, mdmesh-fix initiator
N1=300
P1=$(free_port)
peer_start qfa --acceptor "$P1" --count $N1 --correct-every 20 --cancel-every 33
wait_port "$P1" 20 || fail "qf_peer did not listen: $(tail -3 qf-qfa.log)"
fix_start qfa --connect "127.0.0.1:$P1"
finish qfa $N1
pass "QuickFIX acceptor -> mdmesh-fix --connect: $N1 executions exactly once in EXEC"

# ---- 2. QuickFIX initiator, mdmesh-fix acceptor
N2=200
P2=$(free_port)
fix_start qfi --listen "127.0.0.1:$P2"
wait_port "$P2" 20 || fail "mdmesh-fix --listen did not listen: $(tail -3 qfi.log)"
peer_start qfi --initiator "127.0.0.1:$P2" --count $N2 --correct-every 15 --cancel-every 40
finish qfi $N2
pass "QuickFIX initiator -> mdmesh-fix --listen: $N2 executions exactly once in EXEC"

# ---- 3. into the store
"$BIN/mdmesh-processor" --nats "$NATS_URL" --set stream.name=EXEC --instance pq --store q.db --http 127.0.0.1:0 \
	--exit-when-idle 3 >pq.log 2>&1 || fail "processor exited $?: $(tail -5 pq.log)"
for s in qfa qfi; do
	jq -r .exec_id "truth-$s.jsonl" | sort >"ids-$s.truth"
	sqlite3 q.db "select exec_id from executions where session = '$s'" | sort >"ids-$s.store"
	cmp -s "ids-$s.truth" "ids-$s.store" || fail "$s: executions differ from what qf_peer sent: $(diff "ids-$s.truth" "ids-$s.store" | head -5)"
	# a trade a correction or a cancel names is corrected or canceled (a
	# correction of a cancel changes nothing: only trades are updated)
	targets() { jq -s --arg t "$1" '[.[] | select(.exec_type == "F") | .exec_id] as $f
		| [.[] | select(.exec_type == $t) | .exec_ref_id | select(IN($f[]))] | unique | length' "truth-$s.jsonl"; }
	want_c=$(targets G)
	want_x=$(targets H)
	got_c=$(sqlite3 q.db "select count(*) from executions where session = '$s' and corrected_by is not null")
	got_x=$(sqlite3 q.db "select count(*) from executions where session = '$s' and status = 'canceled'")
	[ "$got_c" = "$want_c" ] && [ "$got_x" = "$want_x" ] ||
		fail "$s: $got_c corrected / $got_x canceled trades, qf_peer sent $want_c / $want_x"
	sqlite3 q.db "select count(*) from executions where session = '$s' and trader like 'T0%'" | grep -qx "$(wc -l <"truth-$s.jsonl")" ||
		fail "$s: the trader (PartyRole 12) did not arrive on every execution"
done
pass "executions: exactly the $((N1 + N2)) executions qf_peer sent, corrections and cancels applied"
summary
