# Helpers for the security_*.sh tests (sourced after lib.sh): a throwaway PKI
# made with openssl, nats-server started from a config file, and the check
# that no secret shows up anywhere a test can look.

# sec_certs DIR: EC P-256 certificates, valid two days, in DIR:
#   ca.pem/.key            the test CA
#   server.pem/.key        signed by it, for IP 127.0.0.1 and DNS localhost
#   client.pem/.key        signed by it, clientAuth
#   wrongname.pem/.key     signed by it, for DNS elsewhere.invalid only
#   other-ca.pem/.key      a second CA, and other-client.pem/.key signed by it
sec_certs() {
	local d=$1 k=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	command -v openssl >/dev/null || fail "openssl is not installed (scripts/test installs it)"
	mkdir -p "$d"
	sec__ca() { openssl req -x509 "${k[@]}" -keyout "$d/$1.key" -out "$d/$1.pem" -days 2 -subj "/CN=mdmesh test $1" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>"$d/openssl.log"; }
	sec__leaf() { # name ca san usage
		openssl req "${k[@]}" -keyout "$d/$1.key" -out "$d/$1.csr" -subj "/CN=$1" 2>>"$d/openssl.log" &&
			printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$3" "$4" >"$d/$1.ext" &&
			openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" -CAkey "$d/$2.key" -CAcreateserial -days 2 \
				-extfile "$d/$1.ext" -out "$d/$1.pem" 2>>"$d/openssl.log"
	}
	sec__ca ca && sec__ca other-ca &&
		sec__leaf server ca "IP:127.0.0.1,DNS:localhost" serverAuth &&
		sec__leaf client ca "DNS:mdmesh-client" clientAuth &&
		sec__leaf wrongname ca "DNS:elsewhere.invalid" serverAuth &&
		sec__leaf other-client other-ca "DNS:mdmesh-client" clientAuth ||
		fail "openssl: $(tail -3 "$d/openssl.log")"
	chmod 600 "$d"/*.key
}

# sec_start_nats CONF [ARGS...]: nats-server -c CONF (whose listen port is
# $NATS_PORT) in the background, from $MDM_T_TMP (mdm_nats_start); waits until
# it is ready. Sets NATS_PID; the log is $MDM_T_TMP/nats.log (appended).
sec_start_nats() {
	local conf=$1 rc=0
	shift
	need_nats_server
	pushd "$MDM_T_TMP" >/dev/null
	mdm_nats_start "$MDM_T_TMP/nats.log" "" -c "$conf" "$@" || rc=$?
	popd >/dev/null
	NATS_PID=$MDM_NATS_PID
	MDM_T_PIDS+=("$NATS_PID")
	[ $rc -eq 0 ] || fail "nats-server did not start: $(tail -5 "$MDM_T_TMP/nats.log")"
}

# sec_stop_nats: stop the server sec_start_nats started.
sec_stop_nats() {
	kill "$NATS_PID" 2>/dev/null || true
	wait "$NATS_PID" 2>/dev/null || true
}

# sec_secret NAME: a fresh random secret (letters and digits, 32 characters).
sec_secret() {
	echo "$1$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
}

# sec_assert_no_secret FILE... : fail when any of "${SEC_SECRETS[@]}" occurs
# in one of the files (which must exist and, together, not be empty: a check
# over nothing would pass for the wrong reason).
sec_assert_no_secret() {
	local f s bytes=0
	for f in "$@"; do
		[ -f "$f" ] || fail "no such file to check for secrets: $f"
		bytes=$((bytes + $(wc -c <"$f")))
	done
	[ "$bytes" -gt 0 ] || fail "nothing to check for secrets in: $*"
	for s in "${SEC_SECRETS[@]}"; do
		for f in "$@"; do
			! grep -qF -- "$s" "$f" || fail "a secret (${s:0:4}...) is in $(basename "$f"): $(grep -nF -- "$s" "$f" | head -2 | cut -c1-200)"
		done
	done
}

# sec_one_line FILE PATTERN: FILE holds exactly one line, matching PATTERN (ERE).
sec_one_line() {
	[ "$(wc -l <"$1")" = 1 ] || fail "want one line in $(basename "$1"), got $(wc -l <"$1"): $(head -5 "$1")"
	grep -Eq -- "$2" "$1" || fail "$(basename "$1"): '$(cat "$1")' does not match /$2/"
}

# sec_http_status PORT PATH [TOKEN]: the HTTP status of GET http://127.0.0.1:PORT/PATH.
sec_http_status() {
	if [ -n "${3:-}" ]; then
		curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $3" "http://127.0.0.1:$1$2"
	else
		curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2"
	fi
}

# sec_listen_addrs PORT: the local addresses listening on TCP PORT, one a line.
sec_listen_addrs() {
	ss -Hltn "sport = :$1" | awk '{ print $4 }' | sort -u
}
