#!/usr/bin/env bash
# `mdmesh-loadgen send --soup`: a SoupBinTCP 3.00 client (written here from
# the specification, independent of mdm_soup.c) logs in, receives the whole
# session as Sequenced Data, is disconnected by the server mid-stream
# (--soup-drop-after), logs in again at the next sequence number and gets
# the rest without loss or repetition, then End of Session; a wrong password
# is rejected with 'A'.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
cd "$MDM_T_TMP"
LG="$MDM_BIN/mdmesh-loadgen"
N=20000
PORT=$(free_port) || fail "no free port"
UDP=$(free_port) || fail "no free port"

cat > client.py <<'PY'
import socket, struct, sys, time, json
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def login(seq):
    deadline = time.time() + 60
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            break
        except OSError:
            if time.time() > deadline: raise
            time.sleep(0.1)
    body = b"L" + user.ljust(6).encode() + pw.ljust(10).encode() + b" " * 10 + str(seq).rjust(20).encode()
    s.sendall(struct.pack(">H", len(body)) + body)
    return s
def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: return None
        b += c
    return b
out = {"logins": [], "types": {}, "messages": 0, "end": False, "rejected": None, "heartbeats": 0}
nxt, s = 1, login(1)
while True:
    h = read_exact(s, 2)
    if h is None:                       # dropped: log in again where we are
        s.close(); s = login(nxt); continue
    (n,) = struct.unpack(">H", h)
    p = read_exact(s, n)
    if p is None:
        s.close(); s = login(nxt); continue
    t = chr(p[0])
    if t == "A":
        out["logins"].append([p[1:11].decode().strip(), int(p[11:31])])
        nxt = int(p[11:31])
    elif t == "J":
        out["rejected"] = chr(p[1]); break
    elif t == "S":
        out["messages"] += 1; nxt += 1
        out["types"][chr(p[1])] = out["types"].get(chr(p[1]), 0) + 1
    elif t == "H":
        out["heartbeats"] += 1
        s.sendall(b"\x00\x01R")
    elif t == "Z":
        out["end"] = True
        s.sendall(b"\x00\x01O"); break
out["next"] = nxt
json.dump(out, open(sys.argv[4], "w"))
PY

# 1. the whole session, with a forced disconnect after 5000 messages
"$PY" client.py "$PORT" alice s3cret run.json & MDM_T_PIDS+=($!)
"$LG" send --rate 20000 --duration 1 --dst 127.0.0.1:"$UDP" --stats-interval 0 --soup 127.0.0.1:"$PORT" \
	--soup-user alice --soup-password s3cret --soup-drop-after 5000 2> send.log || fail "send: $(cat send.log)"
wait_for 60 '[ -s run.json ]' || fail "client did not finish: $(cat send.log)"
[ "$(jq .messages run.json)" -eq $N ] || fail "client got $(jq .messages run.json) messages, want $N"
[ "$(jq .end run.json)" = true ] || fail "no End of Session"
[ "$(jq -c .logins run.json)" = '[["MDMESH0001",1],["MDMESH0001",5001]]' ] || fail "logins $(jq -c .logins run.json)"
[ "$(jq .next run.json)" -eq $((N + 1)) ] || fail "next $(jq .next run.json)"
grep -q "soup: 2 connections, 2 logins (0 rejected), $N messages, end of session sent" send.log ||
	fail "server summary: $(grep soup send.log)"
pass "SoupBinTCP: $N messages in order over 2 logins (forced disconnect at 5000, re-login at 5001), End of Session"

# 2. a wrong password: Login Rejected 'A'
"$PY" client.py "$PORT" alice wrong bad.json & MDM_T_PIDS+=($!)
"$LG" send --rate 2000 --duration 1 --dst 127.0.0.1:"$UDP" --stats-interval 0 --soup 127.0.0.1:"$PORT" \
	--soup-user alice --soup-password s3cret --soup-linger 1 2> bad.log || fail "send: $(cat bad.log)"
wait_for 60 '[ -s bad.json ]' || fail "client did not finish"
[ "$(jq -r .rejected bad.json)" = A ] || fail "rejection $(jq -r .rejected bad.json), want A"
pass "SoupBinTCP: a wrong password is rejected (J A)"
summary
