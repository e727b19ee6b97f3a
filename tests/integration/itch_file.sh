#!/usr/bin/env bash
# NASDAQ BinaryFILE everywhere a capture goes: a session written as a
# BinaryFILE (plain and gzip'd) dumps message for message like its pcap; a
# truncated file is reported and its whole records still come out; a
# BinaryFILE packed into a pcap dumps the same; `feed bench --itch` runs; a
# live `send --from-itch` delivers every record in order, paced by --speed.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v python3 >/dev/null || fail "python3 is not installed"
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
MD="$MDM_BIN/mdmesh"
N=50000

# 1. one synthesized session (with undecodable bad messages among the records)
"$LG" synth --out s.pcap --itch-out s.itch --messages $N --symbols 100 --seed 7 --bad-messages 0.01 2>/dev/null
"$LG" synth --itch-out s.itch.gz --messages $N --symbols 100 --seed 7 --bad-messages 0.01 2>/dev/null
[ "$(head -c 2 s.itch.gz | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail "s.itch.gz is not gzip'd"
"$MD" feed dump s.pcap > pcap.dump
"$MD" feed dump --itch s.itch --session MDMESH0001 > plain.dump
"$MD" feed dump --itch s.itch.gz --session MDMESH0001 > gz.dump
n=$(wc -l < pcap.dump)
[ "$n" -gt $((N - 1000)) ] || fail "pcap dump has $n messages"
cmp pcap.dump plain.dump || fail "BinaryFILE dump differs from the pcap dump: $(diff pcap.dump plain.dump | head -4)"
cmp pcap.dump gz.dump || fail "gzip'd BinaryFILE dump differs from the pcap dump"
"$MD" feed dump --itch s.itch.gz --summary --json > gz.sum
records=$(jq .records gz.sum)
bad=$(jq '.malformed.unknown_type + .malformed.bad_length' gz.sum)
[ "$bad" -gt 0 ] || fail "no bad messages among the records: the test checks less than it says"
[ $((n + bad)) -eq "$records" ] || fail "$n decoded + $bad bad != $records records"
[ "$(jq .gaps gz.sum)" -eq 0 ] || fail "gaps in a BinaryFILE dump"
pass "BinaryFILE (plain and gzip'd) dump equals the pcap dump: $n messages, $bad bad records counted"

# 2. truncated in the last record: reported, not fatal, every whole record out
size=$(stat -c %s s.itch)
head -c $((size - 3)) s.itch > cut.itch
"$MD" feed dump --itch cut.itch --session MDMESH0001 > cut.dump 2> cut.err || fail "a truncated file failed the dump"
grep -q "cut.itch: truncated last record at offset" cut.err || fail "truncation not reported: $(cat cut.err)"
last=$(tail -1 pcap.dump | jq .seq)
head -c $((size - 3)) s.itch | gzip > cut.itch.gz
"$MD" feed dump --itch cut.itch.gz --session MDMESH0001 > cutgz.dump 2> cutgz.err
grep -q "truncated last record" cutgz.err || fail "truncation of a gzip'd file not reported"
head -n $((n - 1)) pcap.dump | cmp - cut.dump || fail "truncated dump is not the pcap dump less its last message"
cmp cut.dump cutgz.dump || fail "truncated gzip'd dump differs"
[ "$(tail -1 cut.dump | jq .seq)" -lt "$last" ] || fail "the cut record was dumped"
pass "truncated file: reported on stderr, exit 0, the $((n - 1)) whole messages dumped"

# 3. BinaryFILE -> pcap, packed as the exchange does (several messages a packet)
"$LG" synth --from-itch s.itch.gz --out r.pcap --session MDMESH0001 2> r.log
"$MD" feed dump r.pcap > r.dump
cmp pcap.dump r.dump || fail "pcap made from the BinaryFILE dumps differently"
"$MD" feed dump r.pcap --summary --json > r.sum
pk=$(jq .packets r.sum)
[ $((records / pk)) -ge 10 ] || fail "$records records in $pk packets: not packed"
grep -q "date 20260105" r.log || fail "pcap date: $(cat r.log)"
cp s.itch.gz 01302019.NASDAQ_ITCH50.gz
"$LG" synth --from-itch 01302019.NASDAQ_ITCH50.gz --out day.pcap 2> day.log
grep -q "date 20190130" day.log || fail "date not taken from the NASDAQ file name: $(cat day.log)"
pass "synth --from-itch: same messages in $pk packets; date from a NASDAQ file name"

# 4. feed bench --itch
"$MD" feed bench --itch s.itch.gz --passes 1 --book-capacity 65536 > bench.out
grep -qE '^decode_mps=[0-9]+ book_mps=[0-9]+ encode_mps=[0-9]+$' bench.out || fail "bench: $(cat bench.out)"
grep -q "$records messages" bench.out && fail "bench counted bad records as messages"
grep -q "$n messages" bench.out || fail "bench: $(head -1 bench.out)"
pass "feed bench --itch: $(tail -1 bench.out)"

# 5. live: send --from-itch to a UDP receiver that checks sequence order
cat > recv.py <<'PY'
import socket, struct, sys, time, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind(("127.0.0.1", 0))
open("recv.port", "w").write(str(s.getsockname()[1]))
want, nxt, pkts, first, last = int(sys.argv[1]), 1, 0, None, None
s.settimeout(60)
while nxt <= want:
    d = s.recv(65536)
    seq, cnt = struct.unpack(">QH", d[10:20])
    if cnt == 0 or cnt == 0xFFFF:
        continue
    if seq != nxt:
        break
    now = time.monotonic()
    first = first or now
    last = now
    nxt += cnt
    pkts += 1
json.dump({"next": nxt, "packets": pkts, "span": last - first, "session": d[:10].decode()}, open("recv.json", "w"))
PY
python3 recv.py "$records" & MDM_T_PIDS+=($!)
wait_for 60 '[ -s recv.port ]' || fail "receiver did not start"
# the session spans 03:00-20:05 of ITCH time; from 09:30 (about 38000 s) at 50000x: 0.76 s paced
"$LG" send --from-itch s.itch.gz --speed 50000 --from 09:30:00 --dst 127.0.0.1:"$(cat recv.port)" \
	--stats-interval 0 2> send.log || fail "send --from-itch: $(cat send.log)"
wait_for 90 '[ -s recv.json ]' || fail "receiver did not finish"
[ "$(jq .next recv.json)" -eq $((records + 1)) ] || fail "received up to $(jq .next recv.json), want $((records + 1)) in order"
[ "$(jq -r .session recv.json)" = BINARYFILE ] || fail "session $(jq -r .session recv.json)"
span=$(jq .span recv.json)
python3 -c "import sys; sys.exit(0 if $span >= 0.6 else 1)" || fail "paced part took ${span}s: --speed not applied"
pass "send --from-itch --speed 50000 --from 09:30:00: $records records in order, ${span}s"
summary
