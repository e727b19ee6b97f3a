#!/usr/bin/env bash
# TLS between mdmesh and nats-server with certificates made here by openssl:
# server TLS (nats.tls_ca) and mutual TLS (nats.tls_cert/tls_key, tls {
# verify: true }), for mdmesh-processor (events consumed over TLS into SQLite)
# and the tools (settings from MDM_NATS_TLS_*). Every failure is exit 1 and one
# line that says what is wrong and which settings to check: no CA, the wrong
# CA, a certificate for another name, no client certificate, a client
# certificate from another CA, half a client certificate.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
. "$MDM_SRC_DIR/tests/integration/security_lib.sh"

PROC="$MDM_BIN/mdmesh-processor"
MD="$MDM_BIN/mdmesh"
PUB="$MDM_BUILD_DIR/tests/md_publish"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
cd "$MDM_T_TMP"
sec_certs pki
NATS_PORT=$(free_port)
URL="nats://127.0.0.1:$NATS_PORT"

server_conf() { # server_conf NAME CERT VERIFY: a TLS server config (VERIFY "" = no tls block)
	{
		echo "listen: 127.0.0.1:$NATS_PORT"
		echo "jetstream { store_dir: \"$MDM_T_TMP/js\" }"
		[ -z "$2" ] || echo "tls { cert_file: \"$MDM_T_TMP/pki/$2.pem\", key_file: \"$MDM_T_TMP/pki/$2.key\"," \
			"ca_file: \"$MDM_T_TMP/pki/ca.pem\", verify: $3, timeout: 2 }"
	} >"$1.conf"
}
trades() { sqlite3 "$1" "select count(*) from trades"; }
refused() { # refused LOG PATTERN CMD...: exit 1 with one line matching PATTERN on stderr
	local log=$1 pat=$2 rc=0
	shift 2
	timeout 20 "$@" 2>"$log" >/dev/null || rc=$?
	[ "$rc" = 1 ] || fail "$(basename "$log"): exit $rc, want 1: $(head -3 "$log")"
	sec_one_line "$log" "$pat"
}
COMMON=(--nats "$URL" --rules "" --set refdata.bucket= --http "")
Q="nats://127\\.0\\.0\\.1:$NATS_PORT"

# The events go in over plain TCP first; the same store then serves TLS.
server_conf plain "" ""
sec_start_nats "$MDM_T_TMP/plain.conf"
"$PUB" "$URL" publish --count 1000 --start 1 --session S1 >/dev/null || fail "md_publish failed"
sec_stop_nats

# 1. Server TLS: the processor trusts the test CA.
server_conf tls server false
sec_start_nats "$MDM_T_TMP/tls.conf"
timeout 60 "$PROC" "${COMMON[@]}" --store tls.db --set consumer.durable=p_tls --set nats.tls_ca=pki/ca.pem \
	--exit-when-idle 1 2>p_tls.log || fail "processor over TLS: exit $?: $(tail -3 p_tls.log)"
[ "$(trades tls.db)" = 1000 ] || fail "over TLS: $(trades tls.db) trades, want 1000"
grep -q "bus: connected to $URL (TLS, no credentials)" p_tls.log || fail "no TLS connected line: $(head -3 p_tls.log)"
pass "server TLS (nats.tls_ca): 1000 events consumed into SQLite, logged as a TLS connection"

MDM_NATS_TLS_CA=pki/ca.pem "$MD" refdata load "$MDM_SRC_DIR/configs/refdata/instruments.csv" --nats "tls://127.0.0.1:$NATS_PORT" \
	>rd.log 2>&1 || fail "refdata load over TLS: $(cat rd.log)"
n=$(MDM_NATS_TLS_CA=pki/ca.pem "$MD" refdata list --nats "$URL" | wc -l)
grep -q "^loaded $n instruments" rd.log && [ "$n" -gt 0 ] || fail "refdata list over TLS: $n, load said: $(cat rd.log)"
pass "tools over TLS from MDM_NATS_TLS_CA (tls:// and nats:// URLs): refdata load + list $n instruments"

refused no_ca.log \
	"$Q: TLS failure: .*unable to get local issuer certificate.* \(set nats.tls_ca to the CA that signed the server's certificate\)$" \
	"$PROC" "${COMMON[@]}" --store x.db
refused other_ca.log \
	"$Q: TLS failure: .*(unable to get local issuer certificate|certificate verify failed).* \(check nats.tls_ca, and nats.tls_cert \+ nats.tls_key if the server verifies clients\)$" \
	"$PROC" "${COMMON[@]}" --store x.db --set nats.tls_ca=pki/other-ca.pem
refused half_cert.log "NATS: bus: tls_cert and tls_key go together \(check nats.tls_ca, nats.tls_cert and nats.tls_key\)$" \
	"$PROC" "${COMMON[@]}" --store x.db --set nats.tls_ca=pki/ca.pem --set nats.tls_cert=pki/client.pem
refused missing_ca.log "NATS: bus: tls_ca pki/nope.pem: No such file or directory \\(check nats.tls_ca, and nats.tls_cert \\+ nats.tls_key if the server verifies clients\\)$" \
	"$PROC" "${COMMON[@]}" --store x.db --set nats.tls_ca=pki/nope.pem
MDM_NATS_TLS_CA=pki/other-ca.pem refused tool_ca.log "^mdmesh pub: x: $Q: TLS failure: " "$MD" pub --nats "$URL" x y
pass "no CA, another CA, half a client certificate, a missing CA file, a tool with another CA: exit 1, one line each"
sec_stop_nats

# 2. A server certificate for another name is refused even from the right CA.
server_conf wrongname wrongname false
sec_start_nats "$MDM_T_TMP/wrongname.conf"
refused wrongname.log "$Q: TLS failure: .*(IP address mismatch|hostname mismatch)" \
	"$PROC" "${COMMON[@]}" --store x.db --set nats.tls_ca=pki/ca.pem
pass "server certificate for elsewhere.invalid, reached as 127.0.0.1: refused (name checked)"
sec_stop_nats

# 3. Mutual TLS: the client certificate is required and must come from the CA.
server_conf mtls server true
sec_start_nats "$MDM_T_TMP/mtls.conf"
MTLS=(--set nats.tls_ca=pki/ca.pem --set nats.tls_cert=pki/client.pem --set nats.tls_key=pki/client.key)
timeout 60 "$PROC" "${COMMON[@]}" --store mtls.db --set consumer.durable=p_mtls "${MTLS[@]}" --exit-when-idle 1 \
	2>p_mtls.log || fail "processor over mutual TLS: exit $?: $(tail -3 p_mtls.log)"
[ "$(trades mtls.db)" = 1000 ] || fail "over mutual TLS: $(trades mtls.db) trades, want 1000"
MDM_NATS_TLS_CA=pki/ca.pem MDM_NATS_TLS_CERT=pki/client.pem MDM_NATS_TLS_KEY=pki/client.key "$MD" pub --nats "$URL" \
	stats.test mtls || fail "mdmesh pub over mutual TLS"
pass "mutual TLS (nats.tls_cert + tls_key): 1000 events consumed; mdmesh pub from MDM_NATS_TLS_*"

refused no_cert.log \
	"$Q: TLS failure: the server closed the connection after the handshake \(it wants a client certificate\) \(check nats.tls_ca, and nats.tls_cert \+ nats.tls_key if the server verifies clients\)$" \
	"$PROC" "${COMMON[@]}" --store x.db --set nats.tls_ca=pki/ca.pem
refused other_cert.log \
	"$Q: TLS failure: the server closed the connection after the handshake \(it did not accept the client certificate\) \(check nats.tls_ca, nats.tls_cert and nats.tls_key\)$" \
	"$PROC" "${COMMON[@]}" --store x.db --set nats.tls_ca=pki/ca.pem --set nats.tls_cert=pki/other-client.pem \
	--set nats.tls_key=pki/other-client.key
grep -q "client didn't provide a certificate" nats.log || fail "server log does not show the missing client certificate"
pass "mutual TLS without a client certificate, or with one from another CA: exit 1, one line each"
[ ! -e x.db ] || fail "a refused processor created its store"
summary
