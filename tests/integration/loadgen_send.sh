#!/usr/bin/env bash
# `mdmesh-loadgen send`: multicast over the loopback of a network namespace
# this test makes (or, without the rights to make one, unicast to 127.0.0.1)
# to a python receiver that checks MoldUDP64 sequence continuity, that every
# ITCH timestamp was rewritten to the packet's intended send time on the
# schedule (an independent re-implementation of it), that packets arrive when
# their stamp says, the achieved rate (+-10%), bursts, a capture replay, and
# the error paths and SIGINT.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v python3 >/dev/null || fail "python3 is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
NS=mdmsend$$
if ip netns add "$NS" 2>/dev/null; then
	MDM_T_NETNS+=("$NS") # mdm_t_cleanup deletes it
	ip -n "$NS" link set lo up
	ip -n "$NS" link set lo multicast on
	RUN=(ip netns exec "$NS")
	GROUP=233.54.12.111
	IFOPT=(--iface lo)
else
	echo "# no network namespace (needs CAP_SYS_ADMIN): unicast on the host loopback"
	RUN=()
	GROUP=127.0.0.1
	IFOPT=(--iface-addr 127.0.0.1)
fi

cat > recv.py <<'PY'
# recv.py GROUP OUT.json RATE [BURST_RATE EVERY_S LENGTH_S]: receive until 1.5 s
# of silence after the first packet; check and summarise as JSON.
import datetime, json, socket, struct, sys, time, zoneinfo
group, out, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
burst = [int(sys.argv[4]), round(float(sys.argv[5]) * 1e9), round(float(sys.argv[6]) * 1e9)] if len(sys.argv) > 4 else None
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((group, 0))
if not group.startswith('127.'):
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton('127.0.0.1'))
open(out + '.port', 'w').write(str(s.getsockname()[1]))
# kernel receive times (SO_TIMESTAMPNS), so a descheduled receiver does not skew them
TSNS = getattr(socket, 'SO_TIMESTAMPNS', 35)
s.setsockopt(socket.SOL_SOCKET, TSNS, 1)
pkts = []
s.settimeout(30)
while True:
    try:
        d, anc, _, _ = s.recvmsg(65536, 64)
    except socket.timeout:
        break
    arr = time.time_ns()
    for lvl, typ, data in anc:
        if lvl == socket.SOL_SOCKET and typ == TSNS:
            sec, nsec = struct.unpack('qq', data[:16])
            arr = sec * 10**9 + nsec
    pkts.append((arr, d))
    s.settimeout(1.5)

def seg(n):  # segment n of the schedule: (start_ns, end_ns, rate)
    if not burst:
        return 0, 1 << 64, rate
    br, e, l = burst
    if n % 2:
        st = (n + 1) // 2 * e
        return st, st + l, br
    st = n // 2 * e + l if n else 0
    return st, (n // 2 + 1) * e, rate

class Sched:
    def __init__(self):
        self.n, self.first = 0, 0
    def at(self, k):
        while True:
            st, en, r = seg(self.n)
            t = st + (k - self.first) * 10**9 // r
            if t < en:
                return t
            self.first += -(-(en - st) * r // 10**9)
            self.n += 1

errors, msgs, stamps = [], 0, []
next_seq = None
sch = Sched()
t0 = None
et = zoneinfo.ZoneInfo('America/New_York')
lags = []
for arr, d in pkts:
    sess, seq, count = d[:10], struct.unpack_from('>Q', d, 10)[0], struct.unpack_from('>H', d, 18)[0]
    if next_seq is None:
        next_seq = seq
        if seq != 1:
            errors.append('first seq %d' % seq)
    if seq != next_seq:
        errors.append('seq %d, want %d' % (seq, next_seq))
    next_seq = seq + count
    off, ts = 20, set()
    for _ in range(count):
        ml = struct.unpack_from('>H', d, off)[0]
        ts.add(int.from_bytes(d[off + 7:off + 13], 'big'))
        off += 2 + ml
    if len(ts) != 1:
        errors.append('seq %d: %d different stamps in one packet' % (seq, len(ts)))
    stamp = ts.pop()
    due = sch.at(msgs + count - 1)
    msgs += count
    if t0 is None:
        t0 = stamp - due
    if abs(stamp - (t0 + due)) > 1000:
        errors.append('seq %d: stamp %d is %d ns off the schedule' % (seq, stamp, stamp - t0 - due))
    if stamps and stamp <= stamps[-1]:
        errors.append('seq %d: stamp %d does not increase' % (seq, stamp))
    stamps.append(stamp)
    day = datetime.datetime.fromtimestamp(arr / 1e9, et).date()
    midnight = datetime.datetime(day.year, day.month, day.day, tzinfo=et).timestamp()
    lags.append(arr - (round(midnight * 1e9) + stamp))
lags.sort()
res = {'packets': len(pkts), 'messages': msgs, 'errors': errors[:5], 'n_errors': len(errors)}
if pkts:
    res['lag_min_us'] = lags[0] / 1e3
    res['lag_p50_us'] = lags[len(lags) // 2] / 1e3
    res['lag_max_us'] = lags[-1] / 1e3
    # rates over the messages after the first packet, between first and last arrival
    arr_span = pkts[-1][0] - pkts[0][0]
    sched_span = stamps[-1] - stamps[0]
    first_count = struct.unpack_from('>H', pkts[0][1], 18)[0]
    res['achieved'] = (msgs - first_count) * 1e9 / arr_span if arr_span else 0
    res['scheduled'] = (msgs - first_count) * 1e9 / sched_span if sched_span else 0
    # arrival rate per 50 ms bin, for bursts
    bins = {}
    for (arr, d) in pkts:
        b = (arr - pkts[0][0]) // 50_000_000
        bins[b] = bins.get(b, 0) + struct.unpack_from('>H', d, 18)[0]
    rates = sorted(v * 20 for v in bins.values())
    res['bin_rate_max'] = rates[-1]
    res['bin_rate_median'] = rates[len(rates) // 2]
json.dump(res, open(out, 'w'))
PY

# start_recv NAME ARGS...: receiver in the background; sets RECV_PID and PORT.
start_recv() {
	local name=$1
	shift
	rm -f "$name.json" "$name.json.port"
	"${RUN[@]}" python3 recv.py "$GROUP" "$name.json" "$@" &
	RECV_PID=$!
	MDM_T_PIDS+=("$RECV_PID")
	for _ in $(seq 1 100); do [ -s "$name.json.port" ] && break; sleep 0.05; done
	[ -s "$name.json.port" ] || fail "$name: receiver did not start"
	PORT=$(cat "$name.json.port")
}
# field NAME KEY: a value from the receiver's summary.
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1.json" "$2"; }
# within V LO HI: LO <= V <= HI (floats)
within() { python3 -c 'import sys; v,lo,hi=map(float,sys.argv[1:]); sys.exit(0 if lo <= v <= hi else 1)' "$@"; }
check_recv() {
	local name=$1 want=$2
	wait "$RECV_PID" || fail "$name: receiver exit $?"
	[ "$(field "$name" n_errors)" = 0 ] || fail "$name: $(field "$name" errors)"
	[ "$(field "$name" messages)" = "$want" ] || fail "$name: $(field "$name" messages) messages received, want $want"
	# arrival minus the stamped intended send time: never before it (a few us
	# of clock-offset error allowed), and mostly soon after it
	within "$(field "$name" lag_min_us)" -200 1e9 || fail "$name: a packet arrived $(field "$name" lag_min_us) us before its stamp"
	within "$(field "$name" lag_p50_us)" -200 20000 || fail "$name: median arrival $(field "$name" lag_p50_us) us after the stamp"
}

# 1. constant rate: 2 s at 20000 messages/s = exactly 40000 messages
start_recv const 20000
"${RUN[@]}" "$LG" send --dst "$GROUP:$PORT" "${IFOPT[@]}" --rate 20000 --duration 2 --seed 7 2> const.log ||
	fail "send exit $?: $(tail -3 const.log)"
check_recv const 40000
grep -q '^mdmesh-loadgen send: done: 40000 events in [0-9]* packets' const.log || fail "summary: $(tail -1 const.log)"
[ "$(grep -c ': [0-9.]* s: intended' const.log)" -ge 1 ] || fail "no progress line: $(cat const.log)"
ach=$(sed -n 's/.*achieved \([0-9]*\) ev\/s;.*/\1/p' const.log)
within "$ach" 18000 22000 || fail "sender reports achieved $ach ev/s, want 20000 +-10%"
within "$(field const achieved)" 18000 22000 || fail "receiver measured $(field const achieved) msg/s, want 20000 +-10%"
pass "2 s at 20000/s: 40000 messages, seq continuous, stamps on schedule, sender $ach/s, receiver $(field const achieved | cut -d. -f1)/s, median lag $(field const lag_p50_us) us"

# 2. bursts: 4000/s with 0.1 s at 40000/s every 0.5 s over 2 s: 6800 + 3 x 4000
start_recv burst 4000 40000 0.5 0.1
"${RUN[@]}" "$LG" send --dst "$GROUP:$PORT" "${IFOPT[@]}" --rate 4000 --duration 2 --burst-rate 40000 \
	--burst-every 0.5 --burst-length 0.1 --stats-interval 0 2> burst.log || fail "send exit $?: $(tail -3 burst.log)"
check_recv burst 18800
! grep -q ' s: intended' burst.log || fail "--stats-interval 0 printed progress"
within "$(field burst bin_rate_max)" 20000 1e9 || fail "no burst: busiest 50 ms at $(field burst bin_rate_max) msg/s"
within "$(field burst bin_rate_median)" 0 8000 || fail "median 50 ms bin at $(field burst bin_rate_median) msg/s, want ~4000"
pass "bursts: 18800 messages on the burst schedule, busiest 50 ms at $(field burst bin_rate_max) msg/s, median $(field burst bin_rate_median)"

# 3. a capture's payloads, restamped, at 50000/s
"$LG" synth --out feed.pcap --messages 5000 --symbols 20 --seed 3 2>/dev/null
start_recv pcap 50000
"${RUN[@]}" "$LG" send --pcap feed.pcap --dst "$GROUP:$PORT" "${IFOPT[@]}" --rate 50000 2> pcap.log ||
	fail "send --pcap exit $?: $(tail -3 pcap.log)"
check_recv pcap 5000
pass "--pcap: 5000 messages replayed in order, restamped on the schedule"

# 4. errors: one line each; usage 2, runtime 1
err() { # err WANT_RC WANT_TEXT ARGS...
	local want=$1 text=$2 rc=0
	shift 2
	"${RUN[@]}" "$LG" send "$@" > err.out 2> err.log || rc=$?
	[ "$rc" = "$want" ] || fail "send $*: exit $rc, want $want: $(cat err.log)"
	[ "$(wc -l < err.log)" = 1 ] || fail "send $*: not one line: $(cat err.log)"
	grep -q -- "$text" err.log || fail "send $*: '$(cat err.log)' lacks '$text'"
}
err 2 "--rate 0 out of range" --rate 0 --duration 1
err 2 "--duration S is required" --rate 100
err 2 "go together" --rate 100 --duration 1 --burst-rate 1000
err 2 "shorter than --burst-every" --rate 100 --duration 1 --burst-rate 1000 --burst-every 0.1 --burst-length 0.2
err 2 "is not IPV4:PORT" --dst 300.1.1.1:5 --rate 100 --duration 1
err 2 "= 100 messages: --messages 100 is too small" --rate 100 --duration 1
err 1 "--iface nosuch0: no such interface" --iface nosuch0 --rate 1000 --duration 1
err 1 "--iface-addr 10.254.254.254: Cannot assign" --iface-addr 10.254.254.254 --rate 1000 --duration 1
if [ ${#RUN[@]} -gt 0 ]; then
	# the namespace has no route off its loopback: the send itself fails
	err 1 "sendmmsg: Network is unreachable" --dst 10.9.9.9:5 --rate 1000 --duration 1 --stats-interval 0
fi
"$LG" send --help | grep "ns since midnight US/Eastern" > /dev/null || fail "--help does not describe the stamping"
pass "usage errors exit 2, runtime errors exit 1, one line each"

# 5. SIGINT stops cleanly with the summary: sent once the sender has
# reported progress (it is sending), never after a guessed delay
"${RUN[@]}" "$LG" send --dst "$GROUP:9" "${IFOPT[@]}" --rate 1000 --duration 60 --stats-interval 0.2 2> int.log &
pid=$!
MDM_T_PIDS+=("$pid")
wait_for 30 'grep -q " s: intended" int.log' || fail "no progress from the sender in 30 s: $(cat int.log)"
sent=$(sed -n 's/.*, events \([0-9]*\), behind.*/\1/p' int.log | tail -1)
kill -INT "$pid"
start=$SECONDS
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "exit $rc after SIGINT: $(cat int.log)"
[ $((SECONDS - start)) -le 10 ] || fail "took $((SECONDS - start)) s to stop"
n=$(sed -n 's/^mdmesh-loadgen send: stopped: \([0-9]*\) events.*/\1/p' int.log)
# at least what it had reported, and far from the 60,000 of the whole run
within "${n:-0}" "$sent" 30000 || fail "stopped after ${n:-?} events (had reported $sent): $(cat int.log)"
pass "SIGINT: stopped after $n events with the summary, exit 0"
summary
