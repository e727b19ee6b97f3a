#!/usr/bin/env bash
# The collector fed only over SoupBinTCP (input.soup, no DPDK port):
# `mdmesh-loadgen send --from-itch --soup` serves a synthesized session and
# drops the first connection mid-stream (--soup-drop-after); the collector
# logs in again at the next sequence number, and stream MD holds exactly the
# synthesizer's truth (each sequence once, every field equal); End of Session
# ends the input (--exit-on-eof). A restart resumes: it logs in where the
# stream ends and adds nothing; /metrics and /stats.json show the session.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
COL="$MDM_BIN/mdmesh-collector"
N=20000
DROP=7000
COLLECT=(--set eal.mem_mb=256 --set input.soup_user=alice)
export MDM_INPUT_SOUP_PASSWORD=s3cret # a secret from the environment, as the config advises

start_nats
"$LG" synth --out feed.pcap --itch-out feed.itch --messages $N --symbols 200 --seed 31 --truth feed.truth 2>/dev/null
jq -c 'del(.line_lost)' feed.truth | jq -s -c 'sort_by(.seq)[]' > want.jsonl
SOUP=$(free_port) || fail "no free port"
UDP=$(free_port) || fail "no free port"
# the feed over SoupBinTCP; its multicast copy goes to a port nobody reads
serve() {
	"$LG" send --from-itch feed.itch --session MDMESH0001 --rate "$1" --dst 127.0.0.1:"$UDP" --stats-interval 0 \
		--soup 127.0.0.1:"$SOUP" --soup-user alice --soup-password s3cret "${@:2}"
}

# 0. the password is a secret in --print-config; a soup input is an input
"$COL" --set input.soup=127.0.0.1:"$SOUP" --print-config > printed.yaml
grep -q '^  soup: "127.0.0.1:'"$SOUP"'"' printed.yaml || fail "input.soup not printed: $(grep soup printed.yaml)"
grep -q '^  soup_password: "\*\*\*"' printed.yaml || fail "password not masked: $(grep soup_password printed.yaml)"
! grep -q s3cret printed.yaml || fail "the password is in --print-config"
"$COL" --set input.soup=127.0.0.1:"$SOUP" --pcap feed.pcap 2> two.err && fail "two inputs accepted"
grep -q "exactly one of .*input.soup (2 given)" two.err || fail "two inputs: $(cat two.err)"
"$COL" --set input.soup=127.0.0.1 2> bad.err && fail "input.soup without a port accepted"
grep -q "input.soup: '127.0.0.1' is not HOST:PORT" bad.err || fail "bad input.soup: $(cat bad.err)"
pass "input.soup: printed with the password masked; counted as an input; HOST:PORT checked"

# 1. the collector starts first (it retries until the server listens), the
#    server drops it after $DROP messages, it logs in again at $((DROP + 1))
"$COL" --nats "$NATS_URL" --set input.soup=127.0.0.1:"$SOUP" --exit-on-eof --http "" "${COLLECT[@]}" 2> run1.log &
col=$!
MDM_T_PIDS+=("$col")
wait_for 60 'grep -q "receiving on SoupBinTCP" run1.log || ! kill -0 $col 2>/dev/null'
grep -q "receiving on SoupBinTCP 127.0.0.1:$SOUP" run1.log || fail "collector did not start: $(tail -5 run1.log)"
serve 5000 --soup-drop-after $DROP 2> send1.log || fail "send: $(cat send1.log)"
wait "$col" || fail "collector exit $?: $(tail -8 run1.log)"
grep -q "soup: 2 connections, 2 logins (0 rejected), $N messages, end of session sent" send1.log ||
	fail "server summary: $(grep soup send1.log)"
grep -q "soup: logged in to 127.0.0.1:$SOUP, session MDMESH0001, at sequence 1$" run1.log || fail "first login: $(grep soup: run1.log)"
grep -q "soup: connection to 127.0.0.1:$SOUP lost (closed by the server); logging in again at sequence $((DROP + 1))" run1.log ||
	fail "loss not logged: $(grep soup: run1.log)"
grep -q "soup: logged in to 127.0.0.1:$SOUP, session MDMESH0001, at sequence $((DROP + 1))$" run1.log ||
	fail "no re-login at $((DROP + 1)): $(grep soup: run1.log)"
grep -q "soup: End of Session from 127.0.0.1:$SOUP (session MDMESH0001, next sequence $((N + 1))): input ended" run1.log ||
	fail "End of Session not logged: $(grep soup: run1.log)"
grep -q "input ended; draining" run1.log || fail "End of Session did not end the input: $(tail -5 run1.log)"
grep -q "events     $N = stored $N + duplicate 0 .* : balanced" run1.log || fail "summary: $(grep events run1.log)"
grep -q "soup       127.0.0.1:$SOUP: 2 connections (.* failed), 2 logins (rejected 0 A, 0 S), 1 lost (0 timed out), $N messages, next $((N + 1)), framing errors zero_length 0 unknown_type 0 bad_length 0 bad_field 0 oversize 0 unexpected 0; End of Session received" run1.log ||
	fail "soup summary: $(grep 'soup  ' run1.log)"
grep -q "sequence   next $((N + 1)), 0 duplicates dropped, 0 gaps" run1.log || fail "sequencer: $(grep sequence run1.log)"
pass "forced disconnect at $DROP: logged in again at $((DROP + 1)); End of Session ended the input; $N events stored"

stream_as_truth stream1.jsonl
[ "$(wc -l < stream1.jsonl)" -eq $N ] || fail "stream holds $(wc -l < stream1.jsonl) messages, want $N"
dup=$(jq -r .seq stream1.jsonl | uniq -d | wc -l)
[ "$dup" -eq 0 ] || fail "$dup sequence numbers stored twice"
cmp stream1.jsonl want.jsonl || fail "stream differs from the truth: $(diff stream1.jsonl want.jsonl | head -4)"
pass "stream MD = the synthesized session: $N events, each sequence once, every field equal"

# 2. a restart resumes where the stream ends: it logs in at $((N + 1)), gets
#    nothing again, and shows the session in /metrics and /stats.json
#    (no --exit-on-eof: it stays up after End of Session until stopped)
HTTP=$(free_port) || fail "no free port"
"$COL" --nats "$NATS_URL" --set input.soup=127.0.0.1:"$SOUP" --http 127.0.0.1:"$HTTP" "${COLLECT[@]}" 2> run2.log &
col=$!
MDM_T_PIDS+=("$col")
wait_for 60 'grep -q "receiving on SoupBinTCP" run2.log || ! kill -0 $col 2>/dev/null'
grep -q "receiving on SoupBinTCP" run2.log || fail "collector did not start: $(tail -5 run2.log)"
serve 20000 2> send2.log || fail "send: $(cat send2.log)"
wait_for 30 'http_get "$HTTP" /metrics > metrics.txt && grep -q "^mdmesh_collector_soup_state 4" metrics.txt' ||
	fail "End of Session not in /metrics: $(grep soup metrics.txt)"
grep -q "soup: logged in to 127.0.0.1:$SOUP, session MDMESH0001, at sequence $((N + 1))$" run2.log ||
	fail "the restart did not resume at $((N + 1)): $(grep 'soup:\|resume' run2.log)"
for m in 'soup_logins_total 1' 'soup_messages_total 0' 'soup_next_seq '$((N + 1)) \
	'soup_framing_errors_total{reason="oversize"} 0' 'soup_framing_errors_total{reason="unknown_type"} 0' \
	'soup_login_rejected_total{reason="not_authorized"} 0'; do
	grep -qF "mdmesh_collector_$m" metrics.txt || fail "/metrics lacks mdmesh_collector_$m: $(grep soup metrics.txt)"
done
http_get "$HTTP" /stats.json > stats.json
jq -e '.soup.state == "ended" and .soup.next_seq == '$((N + 1))' and .collector.account.events == 0' stats.json >/dev/null ||
	fail "/stats.json: $(jq -c '{soup, account: .collector.account}' stats.json)"
jq -e '.collector_soup_framing_errors_total | keys == ["bad_field","bad_length","oversize","unexpected","unknown_type","zero_length"]' \
	stats.json >/dev/null || fail "/stats.json framing errors: $(jq -c .collector_soup_framing_errors_total stats.json)"
kill -TERM "$col"
wait "$col" || fail "collector exit $? after SIGTERM: $(tail -5 run2.log)"
grep -q "events     0 = stored 0 " run2.log || fail "restart summary: $(grep events run2.log)"
n=$("$MDM_BIN/mdmesh" tail --nats "$NATS_URL" --all --idle-timeout 2 'md.>' | wc -l)
[ "$n" -eq $N ] || fail "after the restart the stream holds $n, want $N"
pass "restart: resumed at $((N + 1)), nothing added; /metrics and /stats.json show the SoupBinTCP session"
summary
