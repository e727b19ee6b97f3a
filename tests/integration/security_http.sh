#!/usr/bin/env bash
# mdmesh-processor's HTTP endpoints: bound to 127.0.0.1 by default (and by the
# ":PORT" shorthand), not reachable on the host's other addresses; with a
# bearer token (http.token, here from MDM_HTTP_TOKEN) every path answers 401
# without it or with a wrong one, 200 with it; the token shows in no log and
# no --print-config.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
. "$MDM_SRC_DIR/tests/integration/security_lib.sh"

PROC="$MDM_BIN/mdmesh-processor"
PUB="$MDM_BUILD_DIR/tests/md_publish"
command -v curl >/dev/null || fail "curl is not installed"
command -v ss >/dev/null || fail "ss is not installed (iproute2)"
cd "$MDM_T_TMP"
start_nats
"$PUB" "$NATS_URL" publish --count 200 --start 1 --session S1 >/dev/null || fail "md_publish failed"
TOKEN=$(sec_secret tok)
SEC_SECRETS=("$TOKEN")

# 1. The default listener is on loopback.
"$PROC" --print-config >print_default.yaml
awk '/^http:/ { h = 1; next } /^[^ ]/ { h = 0 } h && /^  listen:/ { print $2 }' print_default.yaml >listen.txt
[ "$(cat listen.txt)" = '"127.0.0.1:9102"' ] || fail "default http.listen is $(cat listen.txt), want 127.0.0.1:9102"
pass "default http.listen 127.0.0.1:9102"

HTTP_PORT=$(free_port)
MDM_HTTP_TOKEN=$TOKEN "$PROC" --nats "$NATS_URL" --store p.db --rules "" --set refdata.bucket= \
	--http ":$HTTP_PORT" 2>p.log &
ppid=$!
MDM_T_PIDS+=("$ppid")
wait_port "$HTTP_PORT" 15 || fail "no HTTP listener: $(tail -5 p.log)"
[ "$(sec_listen_addrs "$HTTP_PORT")" = "127.0.0.1:$HTTP_PORT" ] ||
	fail "listening on $(sec_listen_addrs "$HTTP_PORT" | tr '\n' ' '), want 127.0.0.1:$HTTP_PORT only"
other=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
if [ -n "$other" ]; then
	rc=0
	curl -s -o /dev/null --max-time 3 "http://$other:$HTTP_PORT/healthz" || rc=$?
	[ "$rc" = 7 ] || fail "http://$other:$HTTP_PORT/healthz: curl exit $rc, want 7 (connection refused)"
	pass "--http :$HTTP_PORT listens on 127.0.0.1 only; the host's address $other refuses it"
else
	pass "--http :$HTTP_PORT listens on 127.0.0.1 only (this host has no other IPv4 address to try)"
fi

# 2. Every path wants the token; a wrong one is as good as none.
for path in /metrics /stats.json /healthz /dashboard /nope; do
	for bad in "" "wrong" "${TOKEN}x" "${TOKEN:0:-1}" "$(echo "$TOKEN" | tr a-z A-Z)"; do
		s=$(sec_http_status "$HTTP_PORT" "$path" "$bad")
		[ "$s" = 401 ] || fail "GET $path with token '${bad:0:6}...': $s, want 401"
	done
	s=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Basic $(printf 'u:%s' "$TOKEN" | base64)" \
		"http://127.0.0.1:$HTTP_PORT$path")
	[ "$s" = 401 ] || fail "GET $path with Basic auth: $s, want 401"
	want=200
	[ "$path" != /nope ] || want=404
	s=$(sec_http_status "$HTTP_PORT" "$path" "$TOKEN")
	[ "$s" = "$want" ] || fail "GET $path with the token: $s, want $want"
done
curl -s -D headers.txt -o body401.txt "http://127.0.0.1:$HTTP_PORT/metrics"
grep -qi '^WWW-Authenticate: Bearer realm="mdmesh"' headers.txt || fail "401 without WWW-Authenticate: $(cat headers.txt)"
[ "$(cat body401.txt)" = unauthorized ] || fail "401 body: $(cat body401.txt)"
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/metrics" >metrics.txt
grep -q '^mdmesh_processor_' metrics.txt || fail "/metrics with the token has no processor metrics"
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/stats.json" >stats.json
pass "/metrics /stats.json /healthz /dashboard /nope: 401 with no, wrong, longer, shorter, upper-case or Basic credentials; 200 (404) with the token"

kill -TERM "$ppid"
rc=0
wait "$ppid" || rc=$?
[ "$rc" = 0 ] || fail "SIGTERM exit $rc: $(tail -3 p.log)"
MDM_HTTP_TOKEN=$TOKEN "$PROC" --print-config >print_token.yaml
grep -q '^  token: "\*\*\*"$' print_token.yaml || fail "--print-config: http.token not masked"
sec_assert_no_secret p.log print_token.yaml print_default.yaml metrics.txt stats.json
pass "the token is in no log, --print-config (***), /metrics or /stats.json"
summary
