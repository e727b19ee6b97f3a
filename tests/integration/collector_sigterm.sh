#!/usr/bin/env bash
# SIGTERM at random moments of a live collector run on a starved machine:
# a CPU hog per core (started here, niced so the test still progresses) and
# MDM_SIGTERM_RUNS runs (default 50) of a small synthesized capture
# (MDM_SIGTERM_EVENTS, default 5000), each stopped by a SIGTERM after a random
# delay (bash RANDOM, seeded; the seed is printed, MDM_SIGTERM_SEED replays
# it) in one of five phases, in turn:
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
# The runs go round-robin to MDM_SIGTERM_LANES lanes (default 3) that run at
# once, each with its own nats-server (a frozen server stalls only its lane)
# reused across its runs: a run is mostly a collector starting and stopping,
# and one at a time 50 of them took 434 s on a loaded 2-core box. The
# collector's memory is sized for the capture (EAL 64 MB, 2047 mbufs, a
# 16k ring, order book and in-flight window): the defaults (256 MB, a
# 4M-order book, a 512k ring, 64k publish records) cost seconds of page
# faults per start under the hog and change nothing this test checks.
# A calibration run (no signal, alone) under the hog first measures how long
# each phase lasts, so the random delays span the phases on this machine (with
# the lanes running beside each other the phases last longer: the delays then
# fall in their first part).
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
LANES=${MDM_SIGTERM_LANES:-3}
N=${MDM_SIGTERM_EVENTS:-5000}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || fail "MDM_SIGTERM_RUNS='$RUNS': expected a positive count"
[[ $LANES =~ ^[1-9][0-9]*$ ]] || fail "MDM_SIGTERM_LANES='$LANES': expected a positive count"
[[ $N =~ ^[1-9][0-9]*$ ]] && [ "$N" -le 16000 ] || fail "MDM_SIGTERM_EVENTS='$N': expected 1..16000 (the ring and book hold 16384)"
[ "$LANES" -le "$RUNS" ] || LANES=$RUNS
EXIT_WAIT=${MDM_SIGTERM_EXIT_WAIT:-120} # s a collector may take to exit after SIGTERM
# core files (core_pattern permitting) land here, kept when a run crashes
ulimit -c unlimited 2>/dev/null || true

# One nats-server per lane (lane 1's is start_nats's), all on the loopback.
declare -a LANE_URL LANE_PORT LANE_NATS
start_nats
LANE_URL[1]=$NATS_URL LANE_PORT[1]=$NATS_PORT LANE_NATS[1]=$NATS_PID
for k in $(seq 2 "$LANES"); do
	p=$(free_port) || fail "no free port"
	mkdir -p "js$k"
	mdm_nats_start "$MDM_T_TMP/nats$k.log" "" -a 127.0.0.1 -p "$p" -js -sd "$MDM_T_TMP/js$k" ||
		{ MDM_T_PIDS+=("$MDM_NATS_PID"); fail "nats-server $k did not start: $(tail -5 "nats$k.log")"; }
	MDM_T_PIDS+=("$MDM_NATS_PID")
	LANE_URL[k]=nats://127.0.0.1:$p LANE_PORT[k]=$p LANE_NATS[k]=$MDM_NATS_PID
done

# the collector being run by this shell (a lane, or the calibration), and the
# lanes: stopped at exit, with the hogs and the servers (those SIGCONTed first)
col=
lanes=()
sigterm_cleanup() {
	local rc=$? pid
	set +e
	for pid in "${LANE_NATS[@]}"; do kill -CONT "$pid" 2>/dev/null; done
	[ -n "$col" ] && kill -KILL "$col" 2>/dev/null && wait "$col" 2>/dev/null
	for pid in "${lanes[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	(exit "$rc")
	mdm_t_cleanup
}
trap sigterm_cleanup EXIT

"$MDM_BIN/mdmesh-loadgen" synth --out feed.pcap --messages "$N" --symbols 50 --seed 31 2>/dev/null ||
	fail "mdmesh-loadgen synth failed"

# the CPU hog: one busy loop per core. Stopped by the EXIT trap (sigterm_cleanup,
# mdm_t_cleanup); and should this shell die without running it (SIGKILL, a
# lost sandbox: two orphaned loops once kept a 2-core box at load 45 for 50
# minutes), each loop ends by itself within a moment of this shell, or after
# HOG_MAX_S seconds (at least the ctest TIMEOUT), whichever comes first.
HOG_NICE=${MDM_SIGTERM_HOG_NICE:-5}
HOG_MAX_S=${MDM_SIGTERM_HOG_MAX_S:-300}
for _ in $(seq 1 "$(nproc)"); do
	nice -n "$HOG_NICE" sh -c 'end=$(($(date +%s) + $2))
		while kill -0 "$1" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
			i=0; while [ $i -lt 100000 ]; do i=$((i + 1)); done
		done' collector_sigterm-hog "$$" "$HOG_MAX_S" &
	MDM_T_PIDS+=("$!")
done

# the random delays: seeded here (after the servers, whose free ports draw
# too); lane k draws from SEED + k
SEED=${MDM_SIGTERM_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) % 32768 ))}
RANDOM=$SEED
echo "collector_sigterm: seed $SEED ($RUNS runs in $LANES lanes of $N events; MDM_SIGTERM_SEED=$SEED MDM_SIGTERM_RUNS=$RUNS MDM_SIGTERM_LANES=$LANES reproduces the delays)"

# No process per poll: a loaded box makes every fork slow, and polling with
# grep and sleep(1) every few ms cost most of this test's CPU. A pause is a
# read that times out on a pipe nobody writes; a log is read by the shell.
exec {PAUSE_FD}<> <(:)
pause() { read -rt "$1" -u "$PAUSE_FD" _ || true; }
# has LOG TEXT: LOG holds TEXT (a fixed string)
has() {
	local c=
	IFS= read -r -d '' c < "$1" || true
	[[ $c == *"$2"* ]]
}
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
sleep_ms() {
	local t
	printf -v t '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
	pause "$t"
}
# rand_ms MAX: R = 0..MAX. Not $(...): a subshell reseeds RANDOM, and the
# delays would not follow the seed.
rand_ms() { R=$(((RANDOM * 32768 + RANDOM) % ($1 + 1))); }
alive() { kill -0 "$col" 2>/dev/null; }
# sleep_ms_unless LOG TEXT MS: a random delay of MS, cut short (status 0)
# when the collector logs TEXT first
sleep_ms_unless() {
	local t=${EPOCHREALTIME//[.,]/} end
	end=$((t / 1000 + $3))
	while t=${EPOCHREALTIME//[.,]/} && [ $((t / 1000)) -lt $end ]; do
		has "$1" "$2" && return 0
		pause 0.01
	done
	return 1
}

# start_collector LOG ARGS...: a collector on this lane's server ($NATS_URL);
# sets col, and T0 (ms)
start_collector() {
	local log=$1
	shift
	"$COL" --nats "$NATS_URL" --pcap feed.pcap --http 127.0.0.1:0 --set eal.mem_mb=64 --set input.mbufs=2047 \
		--set ring.size=16384 --set feed.book_capacity=16384 --set publish.max_pending=16384 \
		--set publish.ack_timeout=1s "$@" 2> "$log" &
	col=$!
	T0=$(now_ms)
}

# until_log LOG TEXT [SECONDS]: until the collector logged TEXT (0), or it
# exited without (1)
until_log() {
	local deadline=$((SECONDS + ${3:-60}))
	until has "$1" "$2"; do
		alive || { has "$1" "$2"; return; }
		[ $SECONDS -lt $deadline ] || fail "no '$2' in ${3:-60} s: $(tail -5 "$1")"
		pause 0.02
	done
}

# until_handler: until the collector's main thread blocks SIGTERM (its signal
# thread is up: a SIGTERM now is the collector's to handle)
until_handler() {
	local deadline=$((SECONDS + 30)) comm k blk
	while :; do
		comm=
		{ read -r comm < "/proc/$col/comm"; } 2>/dev/null || true
		if [ "$comm" = "mdmesh-collecto" ]; then
			blk=
			{ while read -r k blk; do [ "$k" = SigBlk: ] && break; done < "/proc/$col/status"; } 2>/dev/null || true
			[ -n "$blk" ] && (((16#$blk >> 14) & 1)) && return 0
		fi
		alive || fail "collector exited during start-up: $(tail -5 "$1")"
		[ $SECONDS -lt $deadline ] || fail "the collector did not block SIGTERM within 30 s"
		pause 0.005
	done
}

# reap LOG: wait (bounded) for the collector's exit; sets RC
reap() {
	local deadline=$((SECONDS + EXIT_WAIT))
	while alive; do
		if [ $SECONDS -ge $deadline ]; then
			MDM_T_KEEP=1
			if command -v gdb >/dev/null; then
				gdb -p "$col" -batch -ex 'thread apply all bt' > "hang-$1.bt" 2>&1
				grep -E '^Thread|^#' "hang-$1.bt" | grep -Ev '^#.* in (clone|start_thread)' >&2
			fi
			fail "collector did not exit ${EXIT_WAIT} s after SIGTERM (stacks and logs kept in $MDM_T_TMP): $(tail -5 "$1")"
		fi
		pause 0.02
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
			gdb "$COL" -c "$(ls -t core* | head -1)" -batch -ex 'thread apply all bt' 2>&1 | tee "crash-$log.bt" | grep -E '^Thread|^#' >&2
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

# ---- calibration: a full run under the hog, no signal, on lane 1's server ----
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

# after_log_ms LOG TEXT MAX: a collector (--exit-on-eof) that logged TEXT at
# t0 (ms), then a random delay d of 0..MAX ms (run_one's locals)
after_log_ms() {
	start_collector "$1" --exit-on-eof
	until_log "$1" "$2" || fail "run $i: no '$2': $(tail -5 "$1")"
	t0=$(now_ms)
	rand_ms "$3"
	d=$R
	sleep_ms "$d"
}

# run_one I: run I (its phase by I) on this lane; prints its line, appends
# "I PHASE RC EARLY TIMED_OUT SECOND NOT_SIGNALLED" to the lane's results
run_one() {
	local i=$1 phase log note= t_run t0 d d2 d3 desc early=0 timed_out=0 second=0 not_signalled=0
	phase=${PHASES[$(((i - 1) % ${#PHASES[@]}))]}
	log=run$i-$phase.log
	t_run=$(now_ms)
	case $phase in
	startup)
		start_collector "$log"
		until_handler "$log"
		rand_ms "$STARTUP_MS"
		d=$R
		sleep_ms "$d"
		has "$log" "receiving on" && note="after 'receiving on'" || { note="before 'receiving on'"; early=1; }
		kill -TERM "$col" 2>/dev/null || fail "run $i ($phase): the collector exited by itself: $(tail -5 "$log")"
		reap "$log"
		desc="$d ms after the handler"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0
		;;
	replay)
		after_log_ms "$log" "receiving on" $((REPLAY_MS * 2 / 3))
		has "$log" "input ended" && note="in the drain" || note="mid-replay"
		kill -TERM "$col" 2>/dev/null || { note="exited before the signal"; not_signalled=1; }
		reap "$log"
		# the calibration run stored what the later ones find duplicate:
		# this lane's replays last this long (later delays fall within)
		[ $not_signalled -eq 0 ] || REPLAY_MS=$(($(now_ms) - t0 + 50))
		desc="$d ms after 'receiving on'"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0
		;;
	frozen)
		start_collector "$log" --set publish.drain_timeout=300ms
		until_log "$log" "stream ALERTS " || fail "run $i: no 'stream ALERTS': $(tail -5 "$log")"
		if [ $((RANDOM % 2)) -eq 0 ]; then
			rand_ms "$STREAMS_MS"
			d=$R
			desc="SIGSTOP nats-server $d ms after the streams' set-up"
			sleep_ms_unless "$log" "receiving on" "$d" && desc="$desc (cut short by 'receiving on')"
		else
			until_log "$log" "receiving on" || fail "run $i: no 'receiving on': $(tail -5 "$log")"
			rand_ms 300
			d=$R
			desc="SIGSTOP nats-server $d ms after 'receiving on'"
			sleep_ms "$d"
		fi
		kill -STOP "$NATS_PID"
		until_log "$log" "receiving on" || fail "run $i: no 'receiving on': $(tail -5 "$log")"
		rand_ms 800
		d2=$R
		sleep_ms "$d2"
		kill -TERM "$col" 2>/dev/null || fail "run $i ($phase): the collector exited by itself: $(tail -5 "$log")"
		desc="$desc, SIGTERM $d2 ms after that and 'receiving on'"
		# every other frozen run (the phase comes every 5th run) a second SIGTERM
		if [ $(((i - 1) / ${#PHASES[@]} % 2)) -eq 1 ]; then
			rand_ms 400
			d3=$R
			sleep_ms "$d3"
			if alive; then
				kill -TERM "$col" 2>/dev/null && second=1
				desc="$desc, second SIGTERM $d3 ms later"
			fi
		fi
		reap "$log"
		kill -CONT "$NATS_PID"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0 1
		if grep -q "drain timeout\|acks still outstanding\|second signal" "$log"; then
			timed_out=1
			note="drain cut short"
		fi
		wait_port "$NATS_PORT" 30 || fail "nats-server did not come back from SIGSTOP"
		;;
	draining)
		after_log_ms "$log" "input ended" $((DRAIN_MS * 2 / 3))
		kill -TERM "$col" 2>/dev/null || { note="exited before the signal"; not_signalled=1; }
		reap "$log"
		[ $not_signalled -eq 0 ] || DRAIN_MS=$(($(now_ms) - t0 + 20)) # as REPLAY_MS
		desc="$d ms after 'input ended'"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0
		;;
	idle)
		start_collector "$log"
		until_log "$log" "metrics on http" || fail "run $i: no metrics listener: $(tail -5 "$log")"
		port=$(sed -n 's|.*metrics on http://[^:]*:\([0-9]*\)/metrics.*|\1|p' "$log")
		wait_for 120 acked || fail "run $i: $N events not acked in 120 s"
		rand_ms 300
		d=$R
		sleep_ms "$d"
		kill -TERM "$col" 2>/dev/null || fail "run $i ($phase): the collector exited by itself: $(tail -5 "$log")"
		reap "$log"
		desc="$d ms after all $N acked"
		check_run "run $i ($phase, $desc)" "$log" "$RC" 0
		[ "$EVENTS" -eq "$N" ] || fail "run $i: $EVENTS events, want $N"
		;;
	esac
	echo "run $i/$RUNS $phase (lane $LANE): $desc -> exit $RC, $EVENTS events${note:+ ($note)}; $(($(now_ms) - t_run)) ms"
	echo "$i $phase $RC $early $timed_out $second $not_signalled" >> "lane$LANE.res"
}

# lane K: runs K, K + LANES, ... in turn on server K. A subshell: it stops its
# own collector when it fails or is stopped (TERM from a failing sibling or
# the cleanup), and resumes its server.
lane() {
	LANE=$1 NATS_URL=${LANE_URL[$1]} NATS_PORT=${LANE_PORT[$1]} NATS_PID=${LANE_NATS[$1]}
	RANDOM=$((SEED + $1))
	trap 'rc=$?; set +e; kill -CONT "$NATS_PID" 2>/dev/null; [ -z "$col" ] || { kill -KILL "$col"; wait "$col"; } 2>/dev/null; exit $rc' EXIT
	trap 'exit 143' TERM
	for ((i = $1; i <= RUNS; i += LANES)); do run_one "$i"; done
}

t_start=$SECONDS
for k in $(seq 1 "$LANES"); do
	lane "$k" > "lane$k.out" 2>&1 &
	lanes+=("$!")
done
# until every lane is done, or one failed: that stops the others (bash's
# `wait -n` misses a job that ended before it was called)
failed=
running=("${lanes[@]}")
while [ ${#running[@]} -gt 0 ] && [ -z "$failed" ]; do
	left=()
	for pid in "${running[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			left+=("$pid")
		elif ! wait "$pid"; then
			failed=1
		fi
	done
	running=("${left[@]+"${left[@]}"}")
	[ ${#running[@]} -eq 0 ] || pause 0.1
done
for pid in "${running[@]+"${running[@]}"}"; do kill -TERM "$pid" 2>/dev/null; done
for pid in "${running[@]+"${running[@]}"}"; do wait "$pid" 2>/dev/null || true; done
lanes=()
for k in $(seq 1 "$LANES"); do grep '^run ' "lane$k.out" || true; done | sort -t' ' -k2,2n
if [ -n "$failed" ]; then
	MDM_T_KEEP=1
	fail "$(grep -h '^FAIL: ' lane*.out | head -3) (logs kept in $MDM_T_TMP)"
fi
cat lane*.res > runs.res
[ "$(wc -l < runs.res)" -eq "$RUNS" ] || fail "$(wc -l < runs.res) of $RUNS runs reported"
declare -A n_rc=()
early=0 timed_out=0 second=0 not_signalled=0
while read -r _ _ rc e t s n; do
	n_rc[$rc]=$((${n_rc[$rc]:-0} + 1))
	early=$((early + e)) timed_out=$((timed_out + t)) second=$((second + s)) not_signalled=$((not_signalled + n))
done < runs.res
[ "$RUNS" -lt 10 ] || [ "$timed_out" -gt 0 ] ||
	fail "no frozen run cut its drain short: the timed-out drain was not exercised"
[ "$RUNS" -lt 5 ] || [ "$early" -gt 0 ] || echo "collector_sigterm: note: no start-up SIGTERM landed before 'receiving on'"
codes=$(for k in "${!n_rc[@]}"; do echo -n "exit $k: ${n_rc[$k]}; "; done)
pass "$RUNS SIGTERMs under the hog in $((SECONDS - t_start)) s ($LANES lanes), none crashed, every summary balanced ($codes$early start-up ones before 'receiving on', $timed_out frozen drains cut short, $second second SIGTERMs, $not_signalled exited before the signal)"
summary
