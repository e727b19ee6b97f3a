#!/usr/bin/env bash
# NATS credentials for mdmesh-processor and the mdmesh tools against a
# nats-server that requires them: user/password from the config file or from
# the environment (MDM_NATS_PASSWORD), an nkey seed file made by `mdmesh nkey
# gen` (nats.nkey_seed; the public key is derived), credentials inside the URL.
# Wrong or missing credentials: exit status 1 and exactly one line naming the
# server, who we tried to be and the settings to check, never the secret. No
# secret shows in any log, --print-config, /metrics, /stats.json or the stats
# messages on stats.processor.<instance>.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
. "$MDM_SRC_DIR/tests/integration/security_lib.sh"

PROC="$MDM_BIN/mdmesh-processor"
MD="$MDM_BIN/mdmesh"
PUB="$MDM_BUILD_DIR/tests/md_publish"
command -v sqlite3 >/dev/null || fail "sqlite3 CLI is not installed"
command -v curl >/dev/null || fail "curl is not installed"
cd "$MDM_T_TMP"

PW=$(sec_secret procpw)
ADMIN_PW=$(sec_secret adminpw)
WRONG_PW=$(sec_secret wrongpw)
"$MD" nkey gen --seed-file proc.nk >proc.pub || fail "mdmesh nkey gen failed"
"$MD" nkey gen --seed-file stranger.nk >stranger.pub
SEED=$(cat proc.nk)
SEC_SECRETS=("$PW" "$ADMIN_PW" "$WRONG_PW" "$SEED" "$(cat stranger.nk)")
[ "$(stat -c %a proc.nk)" = 600 ] || fail "seed file mode $(stat -c %a proc.nk), want 600"
grep -Eq '^U[A-Z2-7]{55}$' proc.pub || fail "public key '$(cat proc.pub)' is not a user nkey"
[ "$("$MD" nkey pub proc.nk)" = "$(cat proc.pub)" ] || fail "nkey pub disagrees with nkey gen"
! "$MD" nkey gen --seed-file proc.nk >/dev/null 2>&1 || fail "nkey gen overwrote an existing seed file"
[ "$(cat proc.nk)" = "$SEED" ] || fail "seed file changed"
pass "mdmesh nkey gen: seed file mode 600, user public key $(cut -c1-8 proc.pub)..., never overwritten; nkey pub agrees"

# The server knows the users by environment variables, as configs/nats-auth.conf does.
NATS_PORT=$(free_port)
URL="nats://127.0.0.1:$NATS_PORT"
cat >nats.conf <<EOF
listen: 127.0.0.1:$NATS_PORT
jetstream { store_dir: "$MDM_T_TMP/js" }
authorization {
  users = [
    { user: proc, password: \$T_PROC_PASSWORD }
    { nkey: \$T_PROC_NKEY }
    { user: admin, password: \$T_ADMIN_PASSWORD }
  ]
}
EOF
T_PROC_PASSWORD=$PW T_PROC_NKEY=$(cat proc.pub) T_ADMIN_PASSWORD=$ADMIN_PW sec_start_nats "$MDM_T_TMP/nats.conf"
ADMIN_URL="nats://admin:$ADMIN_PW@127.0.0.1:$NATS_PORT"
"$PUB" "$ADMIN_URL" publish --count 1000 --start 1 --session S1 >/dev/null || fail "md_publish as admin failed"

trades() { sqlite3 "$1" "select count(*) from trades"; }
COMMON=(--rules "" --set refdata.bucket= --set fetch.batch=128)

# 1. Password in the config file; /metrics, /stats.json and the stats subject read while it runs.
HTTP_PORT=$(free_port)
cat >file.yaml <<EOF
nats:
  url: "$URL"
  user: proc
  password: "$PW"
store: { url: "$MDM_T_TMP/file.db" }
http: { listen: "127.0.0.1:$HTTP_PORT" }
stats: { interval: 200ms }
EOF
"$PROC" -c file.yaml "${COMMON[@]}" 2>p_file.log &
ppid=$!
MDM_T_PIDS+=("$ppid")
for _ in $(seq 1 200); do
	[ -f file.db ] && [ "$(trades file.db 2>/dev/null || echo 0)" = 1000 ] && break
	sleep 0.05
done
[ "$(trades file.db)" = 1000 ] || fail "password from the file: $(trades file.db) trades, want 1000: $(tail -3 p_file.log)"
MDM_NATS_URL=$URL MDM_NATS_USER=admin MDM_NATS_PASSWORD=$ADMIN_PW "$MD" tail --count 2 --idle-timeout 5 \
	'stats.processor.>' >stats_msgs.txt || fail "tail of stats.processor.> as admin failed"
[ "$(wc -l <stats_msgs.txt)" = 2 ] || fail "stats messages: $(cat stats_msgs.txt)"
curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >metrics.txt || fail "GET /metrics"
curl -sf "http://127.0.0.1:$HTTP_PORT/stats.json" >stats.json || fail "GET /stats.json"
grep -q '^mdmesh_processor_' metrics.txt || fail "/metrics has no processor metrics"
kill -TERM "$ppid"
rc=0
wait "$ppid" || rc=$?
[ "$rc" = 0 ] || fail "SIGTERM exit $rc: $(tail -3 p_file.log)"
pass "password from the config file: 1000 trades; /metrics, /stats.json and 2 stats messages captured"

# 2. The file names the user only; the password comes from the environment.
grep -v password file.yaml | sed "s|file.db|env.db|; s|listen: \"127.0.0.1:$HTTP_PORT\"|listen: \"\"|" >env.yaml
"$PUB" "$ADMIN_URL" publish --count 500 --start 1001 --session S1 >/dev/null
MDM_NATS_PASSWORD=$PW timeout 60 "$PROC" -c env.yaml "${COMMON[@]}" --exit-when-idle 1 2>p_env.log ||
	fail "password from MDM_NATS_PASSWORD: exit $?: $(tail -3 p_env.log)"
[ "$(trades env.db)" = 500 ] || fail "password from the environment: $(trades env.db) trades, want the 500 new ones"
pass "password from MDM_NATS_PASSWORD (file has the user only): the 500 new events, exit 0 when idle"

# 3. nkey: the seed file from the environment; the public key is derived from it.
"$PUB" "$ADMIN_URL" publish --count 250 --start 1501 --session S1 >/dev/null
MDM_NATS_NKEY_SEED=$MDM_T_TMP/proc.nk timeout 60 "$PROC" --nats "$URL" --store nkey.db --http "" "${COMMON[@]}" \
	--exit-when-idle 1 2>p_nkey.log || fail "nkey: exit $?: $(tail -3 p_nkey.log)"
[ "$(trades nkey.db)" = 250 ] || fail "nkey: $(trades nkey.db) trades, want 250"
grep -q "bus: connected to $URL (as nkey $(cat proc.pub))" p_nkey.log || fail "no connected line: $(head -3 p_nkey.log)"
pass "nkey seed file (MDM_NATS_NKEY_SEED): 250 new events, exit 0 when idle; logged as its public key"
cp proc.nk shared.nk
chmod 644 shared.nk
timeout 60 "$PROC" --nats "$URL" --set nats.nkey_seed=shared.nk --store nkey.db --http "" "${COMMON[@]}" \
	--exit-when-idle 1 2>p_shared.log || fail "nkey from a 0644 file: exit $?: $(tail -3 p_shared.log)"
grep -q "bus: nkey seed file shared.nk is readable by others (mode 0644): chmod 600 it" p_shared.log ||
	fail "no warning for a seed file others can read: $(head -3 p_shared.log)"
pass "a seed file others can read: connects, with a warning to chmod 600"

# 4. Credentials inside the URL: used, and never shown.
"$PUB" "$ADMIN_URL" publish --count 100 --start 1751 --session S1 >/dev/null
timeout 60 "$PROC" --nats "nats://proc:$PW@127.0.0.1:$NATS_PORT" --store url.db --http "" "${COMMON[@]}" \
	--exit-when-idle 1 2>p_url.log || fail "URL credentials: exit $?: $(tail -3 p_url.log)"
[ "$(trades url.db)" = 100 ] || fail "URL credentials: $(trades url.db) trades, want 100"
pass "user:password inside nats.url: 100 new events"

# 5. Refusals: exit 1 and one line each, fast (no retrying against a wrong password).
refused() { # refused LOG PATTERN CMD...: CMD exits 1 within 10 s with one line matching PATTERN on stderr
	local log=$1 pat=$2 t0=$SECONDS rc=0
	shift 2
	timeout 20 "$@" 2>"$log" >/dev/null || rc=$?
	[ "$rc" = 1 ] || fail "$(basename "$log"): exit $rc, want 1: $(head -3 "$log")"
	[ $((SECONDS - t0)) -le 10 ] || fail "$(basename "$log"): took $((SECONDS - t0)) s to give up"
	sec_one_line "$log" "$pat"
}
Q="nats://127\\.0\\.0\\.1:$NATS_PORT"
MDM_NATS_PASSWORD=$WRONG_PW refused bad_pw.log \
	"NATS: $Q: authorization violation for user 'proc' \(check nats.user and nats.password / MDM_NATS_PASSWORD\)$" \
	"$PROC" -c env.yaml "${COMMON[@]}"
refused no_creds.log \
	"NATS: $Q: authorization violation: no credentials were given \(the server wants nats.user \+ MDM_NATS_PASSWORD, nats.token, nats.nkey_seed or nats.creds\)$" \
	"$PROC" --nats "$URL" --store x.db --http "" "${COMMON[@]}"
refused no_pw.log "NATS: bus: user 'proc' has no password \(check nats.user and nats.password / MDM_NATS_PASSWORD\)$" \
	"$PROC" --nats "$URL" --set nats.user=proc --store x.db --http "" "${COMMON[@]}"
refused stranger.log \
	"NATS: $Q: authorization violation for nkey $(cat stranger.pub) \(check nats.nkey_seed: its public key must be a user of the server\)$" \
	"$PROC" --nats "$URL" --set nats.nkey_seed=stranger.nk --store x.db --http "" "${COMMON[@]}"
(umask 077 && echo "not a seed" >bad.nk)
refused bad_seed.log "NATS: nkey seed file bad.nk: no seed in it" \
	"$PROC" --nats "$URL" --set nats.nkey_seed=bad.nk --store x.db --http "" "${COMMON[@]}"
refused url_pw.log "NATS: $Q: authorization violation for user 'proc' of the URL \(check the user:password in nats.url\)$" \
	"$PROC" --nats "nats://proc:$WRONG_PW@127.0.0.1:$NATS_PORT" --store x.db --http "" "${COMMON[@]}"
refused two_kinds.log "more than one kind of credentials" \
	env MDM_NATS_PASSWORD="$PW" "$PROC" -c env.yaml --set nats.nkey_seed=proc.nk "${COMMON[@]}"
MDM_NATS_USER=admin MDM_NATS_PASSWORD=$WRONG_PW refused tool_pw.log \
	"^mdmesh refdata: $Q: authorization violation for user 'admin' \(check nats.user and nats.password / MDM_NATS_PASSWORD\)$" \
	"$MD" refdata list --nats "$URL"
[ ! -e x.db ] || fail "a refused processor created its store"
pass "wrong password, no credentials, no password, unknown nkey, bad seed file, wrong URL password, two kinds, tool: exit 1, one line each"

# 6. The tools take the daemons' settings from the environment.
MDM_NATS_USER=admin MDM_NATS_PASSWORD=$ADMIN_PW "$MD" refdata load "$MDM_SRC_DIR/configs/refdata/instruments.csv" \
	--nats "$URL" >refdata.log 2>&1 || fail "refdata load as admin: $(tail -2 refdata.log)"
n=$(MDM_NATS_URL=$URL MDM_NATS_NKEY_SEED=$MDM_T_TMP/proc.nk "$MD" tail --all --idle-timeout 2 --stream MD 'md.>' | wc -l)
[ "$n" = 1850 ] || fail "mdmesh tail with an nkey read $n events, want 1850"
pass "mdmesh refdata load (admin by MDM_NATS_USER/PASSWORD), mdmesh tail --all (nkey by MDM_NATS_NKEY_SEED): 1850 events"

# 7. --print-config shows where secrets go, never what they are.
MDM_NATS_PASSWORD=$PW "$PROC" -c file.yaml --print-config >print_file.yaml
grep -q '^  password: "\*\*\*"$' print_file.yaml || fail "--print-config: password not masked: $(grep password print_file.yaml)"
"$PROC" --nats "nats://proc:$PW@127.0.0.1:$NATS_PORT,nats://admin:$ADMIN_PW@127.0.0.1:1" --print-config >print_url.yaml
grep -q "url: \"nats://proc:\*\*\*@127.0.0.1:$NATS_PORT,nats://admin:\*\*\*@127.0.0.1:1\"" print_url.yaml ||
	fail "--print-config: URL list not masked: $(grep 'url:' print_url.yaml | head -1)"
MDM_NATS_NKEY_SEED=$MDM_T_TMP/proc.nk "$PROC" --print-config >print_nkey.yaml
grep -q "nkey_seed: \"$MDM_T_TMP/proc.nk\"" print_nkey.yaml || fail "--print-config: seed file path missing"
pass "--print-config: password ***, every URL of a list masked, the seed file's path (not the seed)"

sec_assert_no_secret p_*.log bad_pw.log no_creds.log no_pw.log stranger.log bad_seed.log url_pw.log two_kinds.log \
	tool_pw.log refdata.log print_*.yaml metrics.txt stats.json stats_msgs.txt
grep -q "bus: connected to nats://127.0.0.1:$NATS_PORT (as user 'proc' of the URL)" p_url.log ||
	fail "no connected line naming the server and user: $(head -3 p_url.log)"
pass "no password, seed or URL credential in 14 logs, 3 --print-config outputs, /metrics, /stats.json, stats messages"
summary
