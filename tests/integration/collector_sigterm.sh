#!/usr/bin/env bash
# SIGTERM at random moments of a live collector run on a starved machine:
# a CPU hog per core (started here, niced so the test still progresses) and
# MDM_SIGTERM_RUNS runs (default 50) of a small synthesized capture, each
# stopped by a SIGTERM after a random delay (bash RANDOM, seeded; the seed is
# printed, MDM_SIGTERM_SEED replays it) in one of five phases, in turn:
#   startup  from the moment the signal thread exists (SIGTERM blocked on the
#            main thread: before that the default action, a plain exit 143, is
#            right) across NATS connect, stream set-up, EAL and port start-up,
#            and on into the replay (no --exit-on-eof: the signal always lands);
#   replay   from 'receiving on' across the full-speed replay (--exit-on-eof);
#   frozen   nats-server SIGSTOPped at a random moment either of start-up
#            after the streams' set-up or of the replay's first 300 ms (the
#            acks of most events still to come), SIGTERM a random moment after
#            that and 'receiving on', with publish.drain_timeout=300ms: publishes
#            pile up and the drain times out, so the bus is destroyed with
#            publishes still unacknowledged (the use after free fixed in
#            2aec525); every other frozen run adds a second SIGTERM during the
#            drain ('stopping without draining');
#   draining after 'input ended' with --exit-on-eof, while acks are awaited;
#   idle     after EOF with every event acked (no --exit-on-eof).
# A calibration run (no signal) under the hog first measures how long each
# phase lasts, so the random delays span the phases on this machine.
# Each run must exit by itself (0, or 1 = 'not every event reached the stream',
# which only the frozen phase may give: the server is up in the others, and the
# 30 s drain accounts everything), never 128+signal; its summary must be there
# with a balanced 'events' line whose unaccounted part (dropped at stop,
# failed, encode errors, queued, in flight) is 0 exactly when it exits 0; and
# no sanitizer report (MDM_BIN may point at a -DMDM_SANITIZE=ON build).
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
COL="$MDM_BIN/mdmesh-collector"
RUNS=${MDM_SIGTERM_RUNS:-50}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || fail "MDM_SIGTERM_RUNS='$RUNS': expected a positive count"
N=20000
EXIT_WAIT=${MDM_SIGTERM_EXIT_WAIT:-120} # s a collector may take to exit after SIGTERM
# core files (core_pattern permitting) land here, kept when a run crashes
ulimit -c unlimited 2>/dev/null || true

# the collector being run (stopped at exit, by PID, with the hogs and the server)
col=
sigterm_cleanup() {
	local rc=$?
	set +e
	[ -n "${NATS_PID:-}" ] && kill -CONT "$NATS_PID" 2>/dev/null
	[ -n "$col" ] && kill -KILL "$col" 2>/dev/null && wait "$col" 2>/dev/null
	(exit "$rc")
	mdm_t_cleanup
}
trap sigterm_cleanup EXIT

start_nats
"$MDM_BIN/mdmesh-loadgen" synth --out feed.pcap --messages $N --symbols 50 --seed 31 2>/dev/null ||
	fail "mdmesh-loadgen synth failed"

# the CPU hog: one busy loop per core
HOG_NICE=${MDM_SIGTERM_HOG_NICE:-5}
for _ in $(seq 1 "$(nproc)"); do
	nice -n "$HOG_NICE" sh -c 'while :; do :; done' &
	MDM_T_PIDS+=("$!")
done

# the random delays: seeded here (after start_nats, whose free_port draws too)
SEED=${MDM_SIGTERM_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) % 32768 ))}
RANDOM=$SEED
echo "collector_sigterm: seed $SEED ($RUNS runs; MDM_SIGTERM_SEED=$SEED MDM_SIGTERM_RUNS=$RUNS reproduces the delays)"

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
sleep_ms() { sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }
rand_ms() { echo $(((RANDOM * 32768 + RANDOM) % ($1 + 1))); } # 0..$1
alive() { kill -0 "$col" 2>/dev/null; }
# sleep_ms_unless LOG PATTERN MS: a random delay of MS, cut short (status 0)
# when the collector logs PATTERN first
sleep_ms_unless() {
	local end=$(($(now_ms) + $3))
	while [ "$(now_ms)" -lt $end ]; do
		grep -q "$2" "$1" && return 0
		sleep 0.01
	done
	return 1
}

# start_collector LOG ARGS...: sets col, and T0 (ms)
start_collector() {
	local log=$1
	shift
	"$COL" --nats "$NATS_URL" --pcap feed.pcap --http 127.0.0.1:0 --set eal.mem_mb=256 --set input.mbufs=8191 \
		--set publish.ack_timeout=1s "$@" 2> "$log" &
	col=$!
	T0=$(now_ms)
}

# until_log LOG PATTERN [SECONDS]: until the collector logged PATTERN
# (0), or it exited without (1)
until_log() {
	local deadline=$((SECONDS + ${3:-60}))
	until grep -q "$2" "$1"; do
		alive || { grep -q "$2" "$1"; return; }
		[ $SECONDS -lt $deadline ] || fail "no '$2' in ${3:-60} s: $(tail -5 "$1")"
		sleep 0.02
	done
}

# until_handler: until the collector's main thread blocks SIGTERM (its signal
# thread is up: a SIGTERM now is the collector's to handle)
until_handler() {
	local deadline=$((SECONDS + 30)) blk
	while :; do
		if [ "$(cat "/proc/$col/comm" 2>/dev/null)" = "mdmesh-collecto" ]; then
			blk=$(awk '/^SigBlk:/ { print $2 }' "/proc/$col/status" 2>/dev/null || true)
			[ -n "$blk" ] && (((16#$blk >> 14) & 1)) && return 0
		fi
		alive || fail "collector exited during start-up: $(tail -5 "$1")"
		[ $SECONDS -lt $deadline ] || fail "the collector did not block SIGTERM within 30 s"
		sleep 0.005
	done
}

# reap LOG: wait (bounded) for the collector's exit; sets RC
reap() {
	local deadline=$((SECONDS + EXIT_WAIT))
	while alive; do
		if [ $SECONDS -ge $deadline ]; then
			MDM_T_KEEP=1
			if command -v gdb >/dev/null; then
				gdb -p "$col" -batch -ex 'thread apply all bt' > hang.bt 2>&1
				grep -E '^Thread|^#' hang.bt | grep -Ev '^#.* in (clone|start_thread)' >&2
			fi
			fail "collector did not exit ${EXIT_WAIT} s after SIGTERM (stacks and logs kept in $MDM_T_TMP): $(tail -5 "$1")"
		fi
		sleep 0.02
	done
	RC=0
	wait "$col" || RC=$?
	col=
}

# check_run WHAT LOG RC ALLOWED...: the run's exit and summary; sets EVENTS
check_run() {
	local what=$1 log=$2 rc=$3 line unacc ok=
	shift 3
	if [ "$rc" -ge 128 ]; then
		MDM_T_KEEP=1
		ls core* >/dev/null 2>&1 && command -v gdb >/dev/null &&
			gdb "$COL" -c "$(ls -t core* | head -1)" -batch -ex 'thread apply all bt' 2>&1 | tee crash.bt | grep -E '^Thread|^#' >&2
		fail "$what: the collector crashed (exit $rc = signal $((rc - 128))); log and cores kept in $MDM_T_TMP: $(tail -30 "$log")"
	fi
	if grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$log"; then
		MDM_T_KEEP=1
		fail "$what: sanitizer report (log kept in $MDM_T_TMP): $(grep -E -A30 'Sanitizer|runtime error' "$log" | head -60)"
	fi
	for a in "$@"; do [ "$rc" -eq "$a" ] && ok=1; done
	[ -n "$ok" ] || fail "$what: exit $rc, want one of $*: $(tail -12 "$log")"
	grep -q '^  sequence ' "$log" || fail "$what: exit $rc without a summary: $(tail -8 "$log")"
	line=$(grep '^  events ' "$log") || fail "$what: no events line in the summary: $(tail -12 "$log")"
	case "$line" in *": balanced") ;; *) fail "$what: $line" ;; esac
	# dropped(stop) + failed + encode errors + queued + in flight
	unacc=$(echo "$line" | sed -n 's/.*dropped(stop) \([0-9]*\) + failed \([0-9]*\) + encode errors \([0-9]*\) + queued \([0-9]*\) + in flight \([0-9]*\) .*/\1 + \2 + \3 + \4 + \5/p')
	[ -n "$unacc" ] || fail "$what: cannot read $line"
	unacc=$((unacc))
	if [ "$rc" -eq 0 ]; then
		[ "$unacc" -eq 0 ] || fail "$what: exit 0 with $unacc events unaccounted: $line"
	else
		[ "$unacc" -gt 0 ] || fail "$what: exit $rc with every event accounted: $line"
		grep -q "not every event reached the stream" "$log" || fail "$what: exit $rc without saying why: $(tail -5 "$log")"
	fi
	EVENTS=${line#*events }
	EVENTS=${EVENTS%% =*}
	EVENTS=${EVENTS// /}
}

# ---- calibration: a full run under the hog, no signal ----
start_collector cal.log --exit-on-eof
until_handler cal.log
t_handler=$(now_ms)
until_log cal.log "stream ALERTS " || fail "calibration: no 'stream ALERTS': $(tail -5 cal.log)"
t_streams=$(now_ms)
until_log cal.log "receiving on" || fail "calibration: no 'receiving on': $(tail -5 cal.log)"
t_recv=$(now_ms)
until_log cal.log "input ended" || fail "calibration: no 'input ended': $(tail -5 cal.log)"
t_eof=$(now_ms)
reap cal.log
t_exit=$(now_ms)
check_run calibration cal.log "$RC" 0
grep -q "events     $N = stored [0-9]* + duplicate [0-9]* + dropped(ring full) 0 " cal.log ||
	fail "calibration: $(grep '^  events' cal.log)"
STARTUP_MS=$((t_recv - t_handler))
REPLAY_MS=$((t_exit - t_recv))
DRAIN_MS=$((t_exit - t_eof + 50))
STREAMS_MS=$((t_recv - t_streams))
[ $REPLAY_MS -ge 100 ] || REPLAY_MS=100
echo "collector_sigterm: calibration (ms): start-up $STARTUP_MS after the handler ($STREAMS_MS after the streams), replay $REPLAY_MS from 'receiving on' to exit, drain $((t_exit - t_eof)) from 'input ended'; exec to handler $((t_handler - T0))"
pass "calibration run under the hog: exit 0, $N events balanced"

# ---- the runs ----
# every event of the capture acked (idle phase; port = the run's HTTP port)
acked() { [ "$(http_get "$port" /stats.json 2>/dev/null | jq '.collector.account | .stored + .duplicates')" = "$N" ]; }
PHASES=(startup replay frozen draining idle)
declare -A n_phase=() n_rc=()
early=0 frozen_n=0 timed_out=0 not_signalled=0 second=0
t_start=$SECONDS
for i in $(seq 1 "$RUNS"); do
	phase=${PHASES[$(((i - 1) % ${#PHASES[@]}))]}
	log=run$i-$phase.log
	note=
	t_run=$(now_ms)
	case $phase in
	startup)
		start_collector "$log"
		until_handler "$log"
		d=$(rand_ms "$STARTUP_MS")
		sleep_ms "$d"
		grep -q "receiving on" "$log" && note="after 'receiving on'" || { note="before 'receiving on'"; early=$((early + 1)); }
		kill -TERM "$col" 2>/dev/null || fail "run $i ($phase): the collector exited by itself: $(tail -5 "$log")"
		reap "$log"
		desc="$d ms after the handler"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0
		;;
	replay)
		start_collector "$log" --exit-on-eof
		until_log "$log" "receiving on" || fail "run $i: no 'receiving on': $(tail -5 "$log")"
		d=$(rand_ms $((REPLAY_MS * 2 / 3)))
		sleep_ms "$d"
		grep -q "input ended" "$log" && note="in the drain" || note="mid-replay"
		kill -TERM "$col" 2>/dev/null || { note="exited before the signal"; not_signalled=$((not_signalled + 1)); }
		reap "$log"
		desc="$d ms after 'receiving on'"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0
		;;
	frozen)
		frozen_n=$((frozen_n + 1))
		start_collector "$log" --set publish.drain_timeout=300ms
		until_log "$log" "stream ALERTS " || fail "run $i: no 'stream ALERTS': $(tail -5 "$log")"
		if [ $((RANDOM % 2)) -eq 0 ]; then
			d=$(rand_ms "$STREAMS_MS")
			desc="SIGSTOP nats-server $d ms after the streams' set-up"
			sleep_ms_unless "$log" "receiving on" "$d" && desc="$desc (cut short by 'receiving on')"
		else
			until_log "$log" "receiving on" || fail "run $i: no 'receiving on': $(tail -5 "$log")"
			d=$(rand_ms 300)
			desc="SIGSTOP nats-server $d ms after 'receiving on'"
			sleep_ms "$d"
		fi
		kill -STOP "$NATS_PID"
		until_log "$log" "receiving on" || fail "run $i: no 'receiving on': $(tail -5 "$log")"
		d2=$(rand_ms 800)
		sleep_ms "$d2"
		kill -TERM "$col" 2>/dev/null || fail "run $i ($phase): the collector exited by itself: $(tail -5 "$log")"
		desc="$desc, SIGTERM $d2 ms after that and 'receiving on'"
		if [ $((frozen_n % 2)) -eq 0 ]; then
			d3=$(rand_ms 400)
			sleep_ms "$d3"
			if alive; then
				kill -TERM "$col" 2>/dev/null && second=$((second + 1))
				desc="$desc, second SIGTERM $d3 ms later"
			fi
		fi
		reap "$log"
		kill -CONT "$NATS_PID"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0 1
		if grep -q "drain timeout\|acks still outstanding\|second signal" "$log"; then
			timed_out=$((timed_out + 1))
			note="drain cut short"
		fi
		wait_port "$NATS_PORT" 30 || fail "nats-server did not come back from SIGSTOP"
		;;
	draining)
		start_collector "$log" --exit-on-eof
		until_log "$log" "input ended" || fail "run $i: no 'input ended': $(tail -5 "$log")"
		d=$(rand_ms $((DRAIN_MS * 2 / 3)))
		sleep_ms "$d"
		kill -TERM "$col" 2>/dev/null || { note="exited before the signal"; not_signalled=$((not_signalled + 1)); }
		reap "$log"
		desc="$d ms after 'input ended'"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0
		;;
	idle)
		start_collector "$log"
		until_log "$log" "metrics on http" || fail "run $i: no metrics listener: $(tail -5 "$log")"
		port=$(sed -n 's|.*metrics on http://[^:]*:\([0-9]*\)/metrics.*|\1|p' "$log")
		wait_for 120 acked || fail "run $i: $N events not acked in 120 s"
		d=$(rand_ms 300)
		sleep_ms "$d"
		kill -TERM "$col" 2>/dev/null || fail "run $i ($phase): the collector exited by itself: $(tail -5 "$log")"
		reap "$log"
		desc="$d ms after all $N acked"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0
		[ "$EVENTS" -eq $N ] || fail "run $i: $EVENTS events, want $N"
		;;
	esac
	n_phase[$phase]=$((${n_phase[$phase]:-0} + 1))
	n_rc[$RC]=$((${n_rc[$RC]:-0} + 1))
	echo "run $i/$RUNS $phase: $desc -> exit $RC, $EVENTS events${note:+ ($note)}; $(($(now_ms) - t_run)) ms"
done
[ "$RUNS" -lt 10 ] || [ "$timed_out" -gt 0 ] ||
	fail "no frozen run cut its drain short: the timed-out drain was not exercised"
[ "$RUNS" -lt 5 ] || [ "$early" -gt 0 ] || echo "collector_sigterm: note: no start-up SIGTERM landed before 'receiving on'"
codes=$(for k in "${!n_rc[@]}"; do echo -n "exit $k: ${n_rc[$k]}; "; done)
pass "$RUNS SIGTERMs under the hog in $((SECONDS - t_start)) s, none crashed, every summary balanced ($codes$early start-up ones before 'receiving on', $timed_out frozen drains cut short, $second second SIGTERMs, $not_signalled exited before the signal)"
summary
