#!/usr/bin/env bash
# The MoldUDP64 framing of `mdmesh-loadgen synth`, read by an independent
# dissector (Wireshark's moldudp64, via tshark), must be exactly what the
# truth file implies: for every packet the session, first sequence number,
# count, each block's length (= the ITCH length of the truth's type at that
# sequence number) and each message's type byte. Dropped messages must be
# absent, duplicates seen twice, malformed packets exactly as many as the
# summary reports, and nothing else in the file.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"

LG="$MDM_BIN/mdmesh-loadgen"
cd "$MDM_T_TMP"

# One-line errors: usage problems exit 2, runtime problems exit 1.
expect_error() { # RC PATTERN ARGS...
	local want=$1 pat=$2 err rc
	shift 2
	set +e
	err=$("$LG" "$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" -eq "$want" ] || fail "mdmesh-loadgen $*: exit $rc, want $want ($err)"
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "mdmesh-loadgen $*: not one line: $err"
	printf '%s' "$err" | grep -q -- "$pat" || fail "mdmesh-loadgen $*: '$err' lacks '$pat'"
}
expect_error 2 "unknown option '--bogus'" synth --out x.pcap --bogus
expect_error 2 "'12x' is not a number" synth --out x.pcap --messages 12x
expect_error 2 "is too small for 100 symbols" synth --out x.pcap --messages 50
expect_error 2 "is required" synth --messages 1000
expect_error 1 "no/such/dir/x.pcap: No such file or directory" synth --out no/such/dir/x.pcap
expect_error 2 "unknown command 'frob'" frob
"$LG" synth --help | grep "usage: mdmesh-loadgen synth" > /dev/null || fail "synth --help prints no usage"
pass "command line: one-line errors, exit 2 for usage and 1 for runtime"

command -v tshark >/dev/null || skip "tshark is not installed (Debian package 'tshark'; scripts/lib/deps.sh installs it)"

# check_capture PCAP TRUTH SUMMARY SESSION PORT
check_capture() {
	local pcap=$1 truth=$2 summary=$3 session=$4 port=$5 want_mal want_dup
	want_mal=$(sed -nE 's/.*, malformed ([0-9]+).*/\1/p' "$summary")
	want_dup=$(sed -nE 's/.*, duplicated ([0-9]+),.*/\1/p' "$summary")
	[ -n "$want_mal" ] && [ -n "$want_dup" ] || fail "no counts in the summary: $(cat "$summary")"
	tshark -r "$pcap" -d "udp.port==$port,moldudp64" -T fields -E separator='|' \
		-e frame.number -e udp.length -e moldudp64.session -e moldudp64.sequence \
		-e moldudp64.count -e moldudp64.msglen -e moldudp64.msgdata >fields.txt 2>tshark.err ||
		fail "tshark failed: $(tail -3 tshark.err)"
	[ -s fields.txt ] || fail "tshark printed nothing for $pcap"
	awk -F'|' -v session="$session" -v want_mal="$want_mal" -v want_dup="$want_dup" '
	BEGIN {
		# ITCH 5.0 lengths (ITCH_FACTS.md section 2)
		split("S 12 R 39 H 25 Y 20 L 26 V 35 W 12 K 28 J 35 h 21 A 36 F 40 E 31 C 36 X 23 D 19 U 35 P 44 Q 40 B 19 I 50 N 20 O 48", a, " ")
		for (i = 1; i < 46; i += 2) len[a[i]] = a[i + 1]
		for (i = 32; i < 127; i++) hex[sprintf("%c", i)] = sprintf("%02x", i)
	}
	NR == FNR {
		# the truth: seq -> type, dropped
		match($0, /"seq":[0-9]+/); s = substr($0, RSTART + 6, RLENGTH - 6) + 0
		match($0, /"type":"."/); type[s] = substr($0, RSTART + 8, 1)
		dropped[s] = index($0, "\"dropped\":true") > 0
		if (first == "" || s < first) first = s
		if (s > last) last = s
		next
	}
	{
		sub(/ +$/, "", $3) # the session is space-padded to 10
		ok = ($3 == session && $4 != "" && $5 > 0)
		n = split($6, lens, ",")
		split($7, data, ",")
		if (ok && n != $5) ok = 0
		bytes = 20
		for (i = 1; ok && i <= n; i++) {
			q = $4 + i - 1
			if (!(q in type) || dropped[q] || lens[i] != len[type[q]] || substr(data[i], 1, 2) != hex[type[q]])
				ok = 0
			bytes += 2 + lens[i]
		}
		if (ok && bytes != $2 - 8) ok = 0
		if (!ok) { mal++; next }
		key = $4 "/" $5
		if (key == prev) dup++
		else data_pkts++
		prev = key
		for (i = 1; i <= n; i++) seen[$4 + i - 1]++
	}
	END {
		bad = 0
		for (q = first; q <= last; q++) {
			if (!(q in type)) { print "truth lacks seq " q; bad = 1; break }
			if (dropped[q] && seen[q]) { print "seq " q " is dropped in the truth but in the capture"; bad = 1; break }
			if (!dropped[q] && !seen[q]) { print "seq " q " is missing from the capture"; bad = 1; break }
			if (seen[q] > 2) { print "seq " q " seen " seen[q] " times"; bad = 1; break }
		}
		if (mal + 0 != want_mal + 0) { print "malformed packets: tshark view " mal + 0 ", summary " want_mal; bad = 1 }
		if (dup + 0 != want_dup + 0) { print "duplicate packets: " dup + 0 ", summary " want_dup; bad = 1 }
		printf "%d data packets, %d duplicates, %d malformed, seq %d..%d\n", data_pkts, dup, mal, first, last
		exit bad
	}' "$truth" fields.txt >check.txt || fail "$pcap: $(cat check.txt)"
	cat check.txt
}

# 1. A clean session: every packet matches the truth; no malformed, no dups.
"$LG" synth --out clean.pcap --messages 20000 --symbols 40 --seed 3 --truth clean.jsonl 2>clean.sum ||
	fail "synth failed: $(cat clean.sum)"
check_capture clean.pcap clean.jsonl clean.sum MDMESH0001 26477
grep -q ", 0 malformed" check.txt || fail "clean run has malformed packets: $(cat check.txt)"
pass "clean session: session/seq/count/block lengths agree with tshark"
frames=$(wc -l <fields.txt)
good=$(tshark -r clean.pcap -o ip.check_checksum:TRUE -Y 'ip.checksum.status == 1 && eth.dst == 01:00:5e:36:0c:6f' \
	2>/dev/null | wc -l)
[ "$good" -eq "$frames" ] || fail "IPv4 checksum good / multicast MAC right on $good of $frames frames"
pass "IPv4 header checksums verify and the multicast MAC matches the group ($frames frames)"

# 2. Faults, another session name, start sequence and port.
"$LG" synth --out faults.pcap --messages 20000 --symbols 40 --seed 4 --truth faults.jsonl \
	--gap-every 40 --dup-every 25 --malformed 0.05 --session FAULTS --start-seq 5000 \
	--dst 233.54.12.99:26400 2>faults.sum || fail "synth failed: $(cat faults.sum)"
check_capture faults.pcap faults.jsonl faults.sum FAULTS 26400
pass "gaps, duplicates and malformed packets are exactly what the truth and summary say"

# 3. Two lines merged in one file: each message on at least one line unless dropped.
"$LG" synth --out ab.pcap --lines 2 --merge-lines --line-loss 0.05 --messages 20000 --symbols 40 \
	--seed 5 --truth ab.jsonl 2>ab.sum || fail "synth failed: $(cat ab.sum)"
groups=$(tshark -r ab.pcap -T fields -e ip.dst 2>/dev/null | sort -u | tr '\n' ' ')
[ "$groups" = "233.54.12.111 233.54.12.112 " ] || fail "merged A/B groups: '$groups'"
# Both lines carry the same packets, so seq may be seen twice; a "dup" here is
# the B copy right after A, which the summary does not count: compare counts
# against the frames instead.
tshark -r ab.pcap -d udp.port==26477,moldudp64 -T fields -e moldudp64.sequence -e moldudp64.count \
	2>/dev/null >ab.fields
awk 'NR == FNR { match($0, /"seq":[0-9]+/); s = substr($0, RSTART + 6, RLENGTH - 6) + 0; d[s] = index($0, "\"dropped\":true") > 0; n++; next }
	{ for (i = 0; i < $2; i++) seen[$1 + i] = 1 }
	END { for (s in d) if (d[s] == (s in seen)) { print "seq " s " dropped=" d[s] " seen=" (s in seen); exit 1 } }' \
	ab.jsonl ab.fields >ab.check || fail "A/B merged: $(cat ab.check)"
pass "A/B lines: a message is missing from both lines exactly when the truth drops it"
summary
