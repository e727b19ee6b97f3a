#!/usr/bin/env bash
# `mdmesh feed dump --bbo --depth N` (the collector's views module, offline)
# against an independent book rebuild from the synthesizer's ground truth
# (tests/integration/views_rebuild.py, which shares no code with the
# collector): the last BBO and DEPTH of every symbol equal the rebuilt book,
# MAYBE_BAD_BOOK exactly where the contract's rule says (unknown orders after
# a late join; every symbol after a gap; none on a clean feed), and each
# symbol's views come in sequence order.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
MD="$MDM_BIN/mdmesh"
RB="$MDM_SRC_DIR/tests/integration/views_rebuild.py"

# check NAME PCAP TRUTH EXPECT_BAD [FROM_SEQ]
check() {
	"$MD" feed dump --bbo --depth 5 --depth-interval 50 "$2" > "$1.views"
	python3 "$RB" check "$3" "$1.views" --levels 5 --expect-bad "$4" --from-seq "${5:-0}" > "$1.check" ||
		fail "$1: views differ from the rebuild: $(cat "$1.check")"
	# a symbol's views never go back in sequence
	python3 -c '
import json, sys
last = {}
for n, line in enumerate(open(sys.argv[1]), 1):
    v = json.loads(line); k = (v["view"], v["stock_locate"])
    if v["seq"] < last.get(k, 0):
        sys.exit("line %d: %s %s seq %d after %d" % (n, k[0], k[1], v["seq"], last[k]))
    last[k] = v["seq"]' "$1.views" || fail "$1: views out of sequence order"
	pass "$1: $(cat "$1.check")"
}

# 1. a clean session: no flag anywhere
"$LG" synth --out clean.pcap --messages 60000 --symbols 200 --seed 11 --truth clean.truth 2>/dev/null
check clean clean.pcap clean.truth none
# BBO only, coalesced: fewer views than book changes, more than symbols
"$MD" feed dump --bbo clean.pcap > clean.bbo
n=$(grep -c '"view":"bbo"' clean.bbo)
[ "$n" -gt 200 ] && [ "$n" -lt 60000 ] || fail "clean: $n BBO views for 60000 messages"
grep -q '"view":"depth"' clean.bbo && fail "--bbo alone printed depth views"

# 2. gaps (dropped packets): every symbol flagged from the first gap on
"$LG" synth --out gaps.pcap --messages 30000 --symbols 100 --seed 7 --gap-every 30 --truth gaps.truth 2>/dev/null
check gaps gaps.pcap gaps.truth any

# 3. a late join (the capture starts mid-session, no gap): only the symbols
# whose unknown orders were acted on are flagged
"$LG" synth --out full.pcap --messages 30000 --symbols 100 --seed 13 --truth late.truth 2>/dev/null
from=$(python3 - full.pcap late.pcap <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
out, off, k = [data[:24]], 24, 0
first = None
while off < len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    rec = data[off:off + 16 + incl]
    off += 16 + incl
    k += 1
    if k <= 400:
        continue
    if first is None:  # Ethernet 14 + IPv4 20 + UDP 8, then session(10) seq(8)
        first = struct.unpack_from(">Q", rec, 16 + 42 + 10)[0]
    out.append(rec)
open(sys.argv[2], "wb").write(b"".join(out))
print(first)
PY
)
check late late.pcap late.truth any "$from"
bad=$(jq .bad late.check)
syms=$(jq .symbols late.check)
[ "$bad" -lt "$syms" ] || fail "late join: all $syms symbols flagged; only those with unknown orders should be"

# bad input: a clear error
"$MD" feed dump --depth 0 clean.pcap 2>err.txt && fail "--depth 0 accepted"
grep -q -- '--depth' err.txt || fail "--depth 0: no clear error"
pass "views_dump"
