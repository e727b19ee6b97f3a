#!/usr/bin/env bash
# The PostgreSQL password of mdmesh-processor's store (tests/integration/pg.sh
# runs a real server that wants it) never leaves the process: not in its log,
# --print-config, /metrics, /stats.json nor the stats messages, whether it is
# given inside store.url (from the environment, MDM_STORE_URL), as a
# password= parameter, or by libpq's own PGPASSWORD. A wrong password is one
# line without it.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
. "$MDM_SRC_DIR/tests/integration/pg.sh"
. "$MDM_SRC_DIR/tests/integration/security_lib.sh"

PROC="$MDM_BIN/mdmesh-processor"
MD="$MDM_BIN/mdmesh"
PUB="$MDM_BUILD_DIR/tests/md_publish"
command -v psql >/dev/null || fail "psql is not installed (Debian: apt-get install postgresql-client)"
command -v curl >/dev/null || fail "curl is not installed"
pg__bindir >/dev/null || fail "PostgreSQL server is not installed (no initdb; apt-get install postgresql)"

start_nats
pg_start_for_test || fail "PostgreSQL did not start (logs in $PGDIR)"
cd "$MDM_T_TMP"
PW=$(head -1 "$PGDIR/pw")
[ ${#PW} -ge 8 ] && [[ "$PG_URL" == *":$PW@"* ]] || fail "no password in PG_URL"
SEC_SECRETS=("$PW")
BASE="postgresql://mdmesh@127.0.0.1:$PG_PORT/mdmesh"
COMMON=(--nats "$NATS_URL" --rules "" --set refdata.bucket= --set stats.interval=200ms)
trades() { psql "$PG_URL" -XAtq -c "select count(*) from trades"; }

# 1. Password in store.url from the environment; everything a user can read is captured.
"$PUB" "$NATS_URL" publish --count 500 --start 1 --session S1 >/dev/null
HTTP_PORT=$(free_port)
MDM_STORE_URL=$PG_URL "$PROC" "${COMMON[@]}" --http "127.0.0.1:$HTTP_PORT" 2>p_url.log &
ppid=$!
MDM_T_PIDS+=("$ppid")
for _ in $(seq 1 300); do
	[ "$(trades 2>/dev/null || echo 0)" = 500 ] && break
	sleep 0.05
done
[ "$(trades)" = 500 ] || fail "store.url with the password: $(trades) trades, want 500: $(tail -3 p_url.log)"
"$MD" tail --nats "$NATS_URL" --count 2 --idle-timeout 5 'stats.processor.>' >stats_msgs.txt
curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >metrics.txt || fail "GET /metrics"
curl -sf "http://127.0.0.1:$HTTP_PORT/stats.json" >stats.json || fail "GET /stats.json"
kill -TERM "$ppid"
wait "$ppid" || fail "SIGTERM exit $?: $(tail -3 p_url.log)"
grep -q "postgresql://mdmesh:\*\*\*@127.0.0.1:$PG_PORT/mdmesh" p_url.log || fail "the log does not name the store (nothing checked)"
MDM_STORE_URL=$PG_URL "$PROC" --print-config >print_url.yaml
grep -q "url: \"postgresql://mdmesh:\*\*\*@127.0.0.1:$PG_PORT/mdmesh\"" print_url.yaml ||
	fail "--print-config: $(grep 'url:' print_url.yaml | tail -1)"
pass "MDM_STORE_URL with the password: 500 trades; log and --print-config show mdmesh:***@"

# 2. The password as a URL parameter, and from libpq's PGPASSWORD (nothing in the config at all).
"$PUB" "$NATS_URL" publish --count 300 --start 501 --session S1 >/dev/null
timeout 60 "$PROC" "${COMMON[@]}" --http "" --store "$BASE?password=$PW&connect_timeout=5" --exit-when-idle 1 \
	2>p_param.log || fail "password= parameter: exit $?: $(tail -3 p_param.log)"
[ "$(trades)" = 800 ] || fail "password= parameter: $(trades) trades, want 800"
"$PROC" --store "$BASE?password=$PW" --print-config >print_param.yaml
grep -q "url: \"$BASE?password=\*\*\*\"" print_param.yaml || fail "--print-config: $(grep 'url:' print_param.yaml | tail -1)"
"$PUB" "$NATS_URL" publish --count 200 --start 801 --session S1 >/dev/null
PGPASSWORD=$PW timeout 60 "$PROC" "${COMMON[@]}" --http "" --store "$BASE" --exit-when-idle 1 2>p_pgpass.log ||
	fail "PGPASSWORD: exit $?: $(tail -3 p_pgpass.log)"
[ "$(trades)" = 1000 ] || fail "PGPASSWORD: $(trades) trades, want 1000"
pass "password= URL parameter (--print-config shows password=***) and PGPASSWORD: 1000 trades in all"

# 3. A wrong password: exit 1, one line, the URL scrubbed.
WRONG=$(sec_secret wrongpw)
SEC_SECRETS+=("$WRONG")
rc=0
timeout 30 "$PROC" "${COMMON[@]}" --http "" --store "postgresql://mdmesh:$WRONG@127.0.0.1:$PG_PORT/mdmesh" \
	2>p_wrong.log || rc=$?
[ "$rc" = 1 ] || fail "wrong PostgreSQL password: exit $rc, want 1: $(head -3 p_wrong.log)"
grep -v ' info ' p_wrong.log >p_wrong_err.log || true
sec_one_line p_wrong_err.log "postgresql://mdmesh:\*\*\*@127\.0\.0\.1:$PG_PORT/mdmesh.*password authentication failed"
pass "wrong PostgreSQL password: exit 1 with one error line naming mdmesh:***@, no password"

sec_assert_no_secret p_*.log print_*.yaml metrics.txt stats.json stats_msgs.txt
pass "the PostgreSQL passwords are in no log, --print-config, /metrics, /stats.json or stats message"
summary
