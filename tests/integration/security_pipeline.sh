#!/usr/bin/env bash
# The whole pipeline on the shipped secure server config (configs/nats-server-
# secure.conf: mutual TLS, users and least-privilege permissions from
# configs/nats-auth.conf): mdmesh-collector (user/password, password from
# MDM_NATS_PASSWORD, settings in a config file, feed.resume reading the stream
# back) -> JetStream -> mdmesh-processor (nkey, settings from the environment)
# -> SQLite, with not one permission violation in the server's log; the stream
# and the store hold exactly the capture's events and trades. Then what the
# permissions forbid is refused: the collector publishing trade.* or reading
# md.>, the processor publishing md.*. A wrong collector password or a missing
# client certificate: exit 1, one line. The collector's HTTP is on 127.0.0.1
# behind its bearer token. No password, seed or token in any log, stats,
# /metrics, /stats.json or --print-config.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
. "$MDM_SRC_DIR/tests/integration/security_lib.sh"

LG="$MDM_BIN/mdmesh-loadgen"
COL="$MDM_BIN/mdmesh-collector"
PROC="$MDM_BIN/mdmesh-processor"
MD="$MDM_BIN/mdmesh"
command -v jq >/dev/null || fail "jq is not installed (scripts/test installs it)"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
command -v curl >/dev/null || fail "curl is not installed"
command -v ss >/dev/null || fail "ss is not installed (iproute2)"
cd "$MDM_T_TMP"
sec_certs pki
"$LG" synth --out feed.pcap --messages 20000 --symbols 50 --seed 3 --truth feed.truth 2>/dev/null
N=$(wc -l <feed.truth)
TRADES=$(jq -r 'select(.type == "E" or .type == "C" or .type == "P" or .type == "Q") | .seq' feed.truth | wc -l)

COL_PW=$(sec_secret colpw)
ADMIN_PW=$(sec_secret adminpw)
TOKEN=$(sec_secret tok)
"$MD" nkey gen --seed-file processor.nk >processor.pub
SEC_SECRETS=("$COL_PW" "$ADMIN_PW" "$TOKEN" "$(cat processor.nk)")

# The shipped config, run from this directory (its store_dir is var/jetstream).
NATS_PORT=$(free_port)
MON_PORT=$(free_port)
URL="nats://127.0.0.1:$NATS_PORT"
export NATS_TLS_CERT=$MDM_T_TMP/pki/server.pem NATS_TLS_KEY=$MDM_T_TMP/pki/server.key NATS_TLS_CA=$MDM_T_TMP/pki/ca.pem
NATS_COLLECTOR_PASSWORD=$COL_PW NATS_PROCESSOR_NKEY=$(cat processor.pub) NATS_ADMIN_PASSWORD=$ADMIN_PW \
	sec_start_nats "$MDM_SRC_DIR/configs/nats-server-secure.conf" -p "$NATS_PORT" -m "$MON_PORT"
unset NATS_TLS_CERT NATS_TLS_KEY NATS_TLS_CA
grep -q "TLS required for client connections" nats.log || fail "the server does not require TLS: $(tail -3 nats.log)"
[ -d var/jetstream ] || fail "JetStream store not in var/jetstream"
violations() { grep -c "Violation" nats.log || true; }

# Every client speaks mutual TLS; the tools as `admin`.
export MDM_NATS_TLS_CA=$MDM_T_TMP/pki/ca.pem MDM_NATS_TLS_CERT=$MDM_T_TMP/pki/client.pem \
	MDM_NATS_TLS_KEY=$MDM_T_TMP/pki/client.key
admin() { MDM_NATS_USER=admin MDM_NATS_PASSWORD=$ADMIN_PW "$@"; }
admin "$MD" refdata load "$MDM_SRC_DIR/configs/refdata/instruments.csv" --nats "$URL" >refdata.log 2>&1 ||
	fail "refdata load as admin: $(tail -2 refdata.log)"

# 1. Collector: settings in a file, its password from the environment.
cat >collector.yaml <<EOF
nats:
  url: "$URL"
  user: collector
  inbox_prefix: _INBOX_collector
  tls_ca: "$MDM_T_TMP/pki/ca.pem"
  tls_cert: "$MDM_T_TMP/pki/client.pem"
  tls_key: "$MDM_T_TMP/pki/client.key"
feed: { resume: "on" }
eal: { mem_mb: 256 }
input: { mbufs: 8191 }
EOF
HTTP_PORT=$(free_port)
env -u MDM_NATS_TLS_CA -u MDM_NATS_TLS_CERT -u MDM_NATS_TLS_KEY MDM_NATS_PASSWORD="$COL_PW" MDM_HTTP_TOKEN="$TOKEN" \
	"$COL" -c collector.yaml --pcap feed.pcap --http ":$HTTP_PORT" 2>col1.log &
cpid=$!
MDM_T_PIDS+=("$cpid")
wait_port "$HTTP_PORT" 20 || fail "collector HTTP did not come up: $(tail -5 col1.log)"
stored=0
for _ in $(seq 1 200); do
	stored=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/stats.json" |
		jq -r '.collector.account.stored // 0' 2>/dev/null || echo 0)
	[ "$stored" = "$N" ] && break
	sleep 0.05
done
[ "$stored" = "$N" ] || fail "collector stored $stored of $N: $(tail -5 col1.log)"
[ "$(sec_listen_addrs "$HTTP_PORT")" = "127.0.0.1:$HTTP_PORT" ] ||
	fail "collector HTTP on $(sec_listen_addrs "$HTTP_PORT" | tr '\n' ' '), want 127.0.0.1:$HTTP_PORT"
for path in /metrics /stats.json /healthz /dashboard; do
	[ "$(sec_http_status "$HTTP_PORT" "$path")" = 401 ] || fail "collector $path without the token: not 401"
	[ "$(sec_http_status "$HTTP_PORT" "$path" "x$TOKEN")" = 401 ] || fail "collector $path with a wrong token: not 401"
	[ "$(sec_http_status "$HTTP_PORT" "$path" "$TOKEN")" = 200 ] || fail "collector $path with the token: not 200"
done
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/metrics" >col_metrics.txt
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/stats.json" >col_stats.json
admin "$MD" tail --nats "$URL" --count 1 --idle-timeout 5 'stats.collector.>' >col_stats_msg.txt ||
	fail "no collector stats message"
kill -TERM "$cpid"
wait "$cpid" || fail "collector exit $? after SIGTERM: $(tail -5 col1.log)"
grep -q "events     $N = stored $N + duplicate 0 .* : balanced" col1.log || fail "collector summary: $(grep events col1.log)"
grep -q "bus: connected to $URL (TLS, as user 'collector')" col1.log || fail "no connected line: $(head -3 col1.log)"
pass "collector (user collector, mutual TLS, own inbox): $N events stored; HTTP 127.0.0.1 only, 401 without/with a wrong token, 200 with it"

env -u MDM_NATS_TLS_CA -u MDM_NATS_TLS_CERT -u MDM_NATS_TLS_KEY MDM_NATS_PASSWORD="$COL_PW" \
	timeout 60 "$COL" -c collector.yaml --pcap feed.pcap --exit-on-eof --http "" 2>col2.log ||
	fail "collector run 2 exit $?: $(tail -5 col2.log)"
grep -q "feed.resume: session .* continues at $((N + 1)) ($N messages of MD read back" col2.log ||
	fail "run 2 did not read the stream back: $(grep resume col2.log)"
pass "collector run 2: feed.resume read the $N events back through its consumer, nothing published twice"

# 2. Processor: nkey, everything from the environment.
MDM_NATS_URL=$URL MDM_NATS_NKEY_SEED=$MDM_T_TMP/processor.nk MDM_NATS_INBOX_PREFIX=_INBOX_processor \
	timeout 90 "$PROC" --store p.db --rules "$MDM_SRC_DIR/configs/rules.yaml" --http "" --exit-when-idle 2 \
	2>proc.log || fail "processor exit $?: $(tail -5 proc.log)"
grep -q "bus: connected to $URL (TLS, as nkey $(cat processor.pub))" proc.log || fail "no connected line: $(head -3 proc.log)"
[ "$(sqlite3 p.db "select sum(total) from audit")" = "$N" ] || fail "audit total $(sqlite3 p.db "select sum(total) from audit"), want $N"
[ "$(sqlite3 p.db "select count(*) from trades")" = "$TRADES" ] ||
	fail "trades $(sqlite3 p.db "select count(*) from trades"), want $TRADES (E+C+P+Q of the capture)"
n=$(admin "$MD" tail --nats "$URL" --all --idle-timeout 2 'md.>' | jq -r .header.seq | sort -un | wc -l)
[ "$n" = "$N" ] || fail "stream MD read as admin: $n distinct sequences, want $N"
[ "$(violations)" = 0 ] || fail "permission violations: $(grep Violation nats.log | head -3)"
pass "processor (nkey, mutual TLS, own inbox): $N events audited, $TRADES trades in SQLite, stream holds $N; 0 permission violations"

# 3. What the permissions forbid.
collector_env=(env MDM_NATS_USER=collector MDM_NATS_PASSWORD="$COL_PW" MDM_NATS_INBOX_PREFIX=_INBOX_collector)
processor_env=(env MDM_NATS_NKEY_SEED="$MDM_T_TMP/processor.nk" MDM_NATS_INBOX_PREFIX=_INBOX_processor)
expect_refused() { # expect_refused WHAT PATTERN CMD...: exit 1, the server's reason on stderr
	local what=$1 pat=$2 rc=0
	shift 2
	"$@" >/dev/null 2>refused.log || rc=$?
	[ "$rc" = 1 ] || fail "$what: exit $rc, want 1: $(cat refused.log)"
	grep -q -- "$pat" refused.log || fail "$what: $(cat refused.log)"
	cat refused.log >>refusals.log
}
expect_refused "collector publishing trade.TEST" 'Permissions Violation for Publish to "trade.TEST"' \
	"${collector_env[@]}" "$MD" pub --nats "$URL" trade.TEST forged
expect_refused "collector publishing bar.1m.TEST" 'Permissions Violation for Publish to "bar.1m.TEST"' \
	"${collector_env[@]}" "$MD" pub --nats "$URL" bar.1m.TEST forged
expect_refused "collector reading md.>" "subscribe to md.>: the server's permissions refuse it" \
	"${collector_env[@]}" "$MD" tail --nats "$URL" --count 1 --idle-timeout 2 'md.>'
expect_refused "processor publishing md.itch.P.TEST" 'Permissions Violation for Publish to "md.itch.P.TEST"' \
	"${processor_env[@]}" "$MD" pub --nats "$URL" md.itch.P.TEST forged
expect_refused "processor writing refdata" 'Permissions Violation for Publish to "$KV.refdata.instrument.TEST"' \
	"${processor_env[@]}" "$MD" pub --nats "$URL" '$KV.refdata.instrument.TEST' '{}'
"${collector_env[@]}" "$MD" pub --nats "$URL" stats.collector.test ok || fail "collector may publish its stats"
# 2.9.10 logs `Publish Violation - User "collector", Subject "trade.TEST"`;
# 2.10+ names the client in the line's prefix (`"$G/user:collector" -
# Publish Violation - Subject "trade.TEST"`): the identity, the kind and the
# subject must be on one line either way.
violation_of() { # violation_of IDENTITY SUBJECT
	grep 'Publish Violation' nats.log | grep -F "Subject \"$2\"" | grep -qF "$1"
}
violation_of collector trade.TEST || fail "server log lacks the collector's refusal: $(grep Violation nats.log | head -2)"
violation_of "$(cat processor.pub)" md.itch.P.TEST ||
	fail "server log lacks the processor's refusal"
[ "$(violations)" = 5 ] || fail "$(violations) violations in the server log, want the 5 provoked: $(grep Violation nats.log)"
n=$(admin "$MD" tail --nats "$URL" --all --stream DERIVED --idle-timeout 2 'trade.TEST' | wc -l)
[ "$n" = 0 ] || fail "a forged trade reached stream DERIVED"
pass "refused: collector -> trade.TEST, bar.1m.TEST, subscribe md.>; processor -> md.itch.P.TEST, \$KV.refdata.*; nothing stored"

# 4. Wrong credentials against the secure server: one line each.
refused_line() { # refused_line LOG PATTERN CMD...
	local log=$1 pat=$2 rc=0
	shift 2
	timeout 30 "$@" >/dev/null 2>"$log" || rc=$?
	[ "$rc" = 1 ] || fail "$(basename "$log"): exit $rc, want 1: $(head -3 "$log")"
	sec_one_line "$log" "$pat"
}
WRONG=$(sec_secret wrongpw)
SEC_SECRETS+=("$WRONG")
Q="nats://127\\.0\\.0\\.1:$NATS_PORT"
refused_line col_wrong.log \
	"NATS: $Q: authorization violation for user 'collector' \(check nats.user and nats.password / MDM_NATS_PASSWORD\)$" \
	env -u MDM_NATS_TLS_CA -u MDM_NATS_TLS_CERT -u MDM_NATS_TLS_KEY MDM_NATS_PASSWORD="$WRONG" \
	"$COL" -c collector.yaml --pcap feed.pcap --exit-on-eof --http ""
refused_line col_nocert.log "NATS: $Q: TLS failure: the server closed the connection after the handshake \(it wants a client certificate\)" \
	env -u MDM_NATS_TLS_CA -u MDM_NATS_TLS_CERT -u MDM_NATS_TLS_KEY MDM_NATS_PASSWORD="$COL_PW" \
	"$COL" -c collector.yaml --set nats.tls_cert= --set nats.tls_key= --pcap feed.pcap --exit-on-eof --http ""
pass "collector with a wrong password, or without its client certificate: exit 1, one line"

# 5. No secret anywhere we can read.
env -u MDM_NATS_TLS_CA -u MDM_NATS_TLS_CERT -u MDM_NATS_TLS_KEY MDM_NATS_PASSWORD="$COL_PW" MDM_HTTP_TOKEN="$TOKEN" \
	"$COL" -c collector.yaml --print-config >col_print.yaml
grep -q '^  password: "\*\*\*"$' col_print.yaml && grep -q '^  token: "\*\*\*"$' col_print.yaml ||
	fail "collector --print-config does not mask: $(grep -E 'password|token' col_print.yaml)"
awk '/^http:/ { h = 1; next } /^[^ ]/ { h = 0 } h && /^  listen:/ { print $2 }' \
	<("$COL" --print-config) >col_listen.txt
[ "$(cat col_listen.txt)" = '"127.0.0.1:9101"' ] || fail "collector default http.listen $(cat col_listen.txt)"
MDM_NATS_NKEY_SEED=$MDM_T_TMP/processor.nk "$PROC" --print-config >proc_print.yaml
sec_assert_no_secret col1.log col2.log proc.log col_wrong.log col_nocert.log refusals.log refdata.log nats.log \
	col_print.yaml proc_print.yaml col_metrics.txt col_stats.json col_stats_msg.txt
pass "collector default http.listen 127.0.0.1:9101; no password, seed or token in the logs (nats-server's too), --print-config, /metrics, /stats.json, stats"
summary
