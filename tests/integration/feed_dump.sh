#!/usr/bin/env bash
# `mdmesh feed dump` against the synthesizer's ground truth (written by code
# independent of the decoder): every message field for field, every sequence
# number accounted, gaps reported as the exact dropped ranges, duplicates and
# malformed packets counted, A/B arbitration delivering each sequence once.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
MD="$MDM_BIN/mdmesh"

# expected dump = truth without dropped messages and without the line_lost note
expected() { jq -c 'select(.dropped | not) | del(.line_lost)' "$1"; }
# missing ranges [[from,to],...] = runs of consecutive dropped sequence numbers
dropped_ranges() {
	jq -s -c '[.[] | select(.dropped) | .seq] | reduce .[] as $s ([];
		if length > 0 and .[-1][1] + 1 == $s then .[-1][1] = $s else . + [[$s, $s]] end)' "$1"
}

# 1. clean session: identical to the truth, byte for byte, all 23 types
"$LG" synth --out clean.pcap --messages 100000 --symbols 300 --seed 5 --truth clean.truth 2>/dev/null
"$MD" feed dump clean.pcap > clean.dump
expected clean.truth > clean.want
cmp clean.dump clean.want || fail "clean dump differs from the truth: $(diff clean.dump clean.want | head -4)"
types=$(jq -r .type clean.dump | sort -u | wc -l)
[ "$types" -eq 23 ] || fail "clean run has $types message types, want 23"
pass "clean session: 100000 messages identical to the truth, 23 types"

# 1b. a late joiner (issue 15): the same session without its stock directory. The
# synthesizer packs R messages in packets of their own; drop those. Messages that
# carry a stock give it, and E/C/X/D/U/B the one their locate's order named, so
# every symbol still equals the truth.
n_dir=$(python3 - clean.pcap nodir.pcap <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
out, i, dropped = [d[:24]], 24, 0
while i < len(d):
    n = struct.unpack_from("<I", d, i + 8)[0]
    rec, i = d[i:i + 16 + n], i + 16 + n
    frame = rec[16:]
    mold = frame[14 + (frame[14] & 15) * 4 + 8:]  # Ethernet, IPv4, UDP
    if len(mold) > 22 and struct.unpack_from(">H", mold, 18)[0] not in (0, 0xFFFF) and mold[22:23] == b"R":
        dropped += 1
        continue
    out.append(rec)
open(sys.argv[2], "wb").write(b"".join(out))
print(dropped)
PY
)
[ "$n_dir" -gt 0 ] || fail "no stock directory packet found to drop: the test checks nothing"
"$MD" feed dump nodir.pcap | jq -c '{seq, type, symbol}' > nodir.got
jq -c 'select(.type != "R") | {seq, type, symbol}' clean.want > nodir.want
[ "$(jq -c 'select(.type == "A" and .symbol != "")' nodir.want | wc -l)" -gt 0 ] || fail "no named Add Orders in the truth"
cmp nodir.got nodir.want || fail "without R, symbols differ from the truth: $(diff nodir.got nodir.want | head -4)"
pass "late joiner: without the stock directory ($n_dir packets dropped) every event's symbol equals the truth ($(wc -l < nodir.got) events)"

# 2. faults: dropped packets (gaps), duplicated packets, malformed packets
"$LG" synth --out faults.pcap --messages 30000 --symbols 100 --seed 9 --gap-every 40 --dup-every 25 \
	--malformed 0.05 --truth faults.truth 2>faults.log
"$MD" feed dump faults.pcap > faults.dump
expected faults.truth > faults.want
cmp faults.dump faults.want || fail "fault-run dump differs from the truth minus dropped messages"
"$MD" feed dump faults.pcap --summary --json > faults.sum
want_ranges=$(dropped_ranges faults.truth)
got_ranges=$(jq -c .missing_ranges faults.sum)
[ "$want_ranges" != "[]" ] || fail "synth dropped nothing: the test checks nothing"
[ "$got_ranges" = "$want_ranges" ] || fail "missing ranges $got_ranges, want $want_ranges"
n_want=$(wc -l < faults.want)
[ "$(jq .messages faults.sum)" -eq "$n_want" ] || fail "summary messages $(jq .messages faults.sum), want $n_want"
dropped=$(jq -s '[.[] | select(.dropped)] | length' faults.truth)
[ $((n_want + dropped)) -eq 30000 ] || fail "delivered $n_want + missing $dropped != 30000"
[ "$(jq .gap_messages_missing faults.sum)" -eq "$dropped" ] || fail "gap_messages_missing != $dropped"
dups=$(jq .duplicates faults.sum)
[ "$dups" -gt 0 ] || fail "no duplicates counted"
framing=$(jq '[.malformed | to_entries[] | select(.key | test("unknown_type|bad_length|empty") | not) | .value] | add' faults.sum)
[ "$framing" -gt 0 ] || fail "no malformed packets counted"
pass "faults: every sequence accounted ($n_want delivered + $dropped missing in $(jq '.missing_ranges | length' faults.sum) exact ranges), $dups duplicates, $framing malformed"

# 3. A/B lines with independent loss, both lines in one capture: arbitration
"$LG" synth --out ab.pcap --lines 2 --merge-lines --line-loss 0.05 --messages 30000 --symbols 100 \
	--seed 13 --truth ab.truth 2>/dev/null
"$MD" feed dump ab.pcap --dst 233.54.12.111:26477 --dst-b 233.54.12.112:26477 > ab.dump
expected ab.truth > ab.want
cmp ab.dump ab.want || fail "A/B dump differs from the truth minus messages lost on both lines"
"$MD" feed dump ab.pcap --dst 233.54.12.111:26477 --dst-b 233.54.12.112:26477 --summary --json > ab.sum
lost_one=$(jq -s '[.[] | select(.line_lost and (.dropped | not))] | length' ab.truth)
[ "$lost_one" -gt 0 ] || fail "no single-line loss in the A/B run: the test checks nothing"
[ "$(jq -c .missing_ranges ab.sum)" = "$(dropped_ranges ab.truth)" ] || fail "A/B gaps are not exactly the both-lines losses"
# line A alone must show the single-line losses as gaps
"$MD" feed dump ab.pcap --dst 233.54.12.111:26477 --summary --json > a.sum
[ "$(jq .gap_messages_missing a.sum)" -gt "$(jq .gap_messages_missing ab.sum)" ] || fail "line A alone should miss more"
pass "A/B: $lost_one messages lost on one line filled by the other; gaps only where both lost"

# 4. bad input: a truncated capture is an error with the reason, not a crash
head -c 3000 clean.pcap > trunc.pcap
set +e
err=$("$MD" feed dump trunc.pcap 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "truncated pcap exit $rc, want 1"
echo "$err" | grep -q "trunc.pcap" || fail "truncated pcap error does not name the file: $err"
pass "truncated capture: exit 1, '$err'"

# 5. bench: one core, the scripted last line
"$MD" feed bench clean.pcap --passes 1 > bench.out
tail -1 bench.out | grep -Eq '^decode_mps=[0-9]+ book_mps=[0-9]+ encode_mps=[0-9]+$' || fail "bench last line: $(tail -1 bench.out)"
pass "bench: $(tail -1 bench.out)"
summary
