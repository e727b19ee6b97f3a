#!/usr/bin/env python3
"""A hostile FIX drop-copy counterparty for tests/integration/fix_hostile.sh.

Connects to `mdmesh-fix --listen` as the initiator (BRK -> US, FIX.4.4) over
a raw socket and, between valid ExecutionReports, sends what a broken or
hostile peer sends: a bad checksum, a wrong BodyLength, missing required
tags (header and ExecutionReport), an unknown MsgType, a too-precise price,
garbage, an oversized message split across writes, a Logon dripped one byte
a second and an ExecutionReport dripped the same way inside a session with a
1 s HeartBtInt. After each it waits (polling /metrics, never a fixed sleep)
for the refusal to be counted under its reason and checks what the session
answered (Reject with the reason and tag, or the line dropped). Numbers the
garbled messages consumed come back by ResendRequest: ExecutionReports are
replayed with PossDupFlag=Y, everything else is gap-filled, as FIX says.
Writes the ExecIDs that must be in EXEC exactly once to --expect.
Exit 0 when every check held; otherwise one line naming the failed one."""
import argparse
import re
import select
import socket
import sys
import time
import urllib.request

SOH = b"\x01"
BEGIN = "FIX.4.4"


def utc(t=None):
    t = time.time() if t is None else t
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(t)) + ".%03d" % (int(t * 1000) % 1000)


def frame(fields, begin=BEGIN, body_delta=0, bad_sum=False):
    """8=, 9= and 10= around tag=value pairs; optionally wrong on purpose."""
    body = b"".join(b"%d=%s\x01" % (t, v if isinstance(v, bytes) else str(v).encode()) for t, v in fields)
    head = b"8=%s\x019=%d\x01" % (begin.encode(), len(body) + body_delta)
    msg = head + body
    total = sum(msg) % 256
    if bad_sum:
        total = (total + 1) % 256
    return msg + b"10=%03d\x01" % total


def parse(raw):
    out = {}
    for f in raw.split(SOH):
        if b"=" in f:
            k, v = f.split(b"=", 1)
            out[int(k)] = v.decode(errors="replace")
    return out


class Fail(Exception):
    pass


class Peer:
    def __init__(self, port, http_port, session):
        self.port, self.http_port, self.session = port, http_port, session
        self.sock = None
        self.seq = 1            # next outbound MsgSeqNum (kept across connections)
        self.sent = {}          # seq -> (fields without the header, is_exec)
        self.rx = b""
        self.rejects = []       # Reject messages received (dicts)
        self.resend_requests = 0
        self.logged_on = False
        self.logout = None
        self.closed = False
        self.auto_answer = True  # answer TestRequests and ResendRequests
        self.execs = []          # ExecIDs that must arrive exactly once
        self.n_exec = 0

    # ---- transport
    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock.setblocking(False)
        self.rx, self.closed, self.logged_on, self.logout = b"", False, False, None

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def write(self, data):
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def header(self, mtype, seq, poss_dup=False, orig=None):
        h = [(35, mtype), (49, "BRK"), (56, "US"), (34, seq), (52, utc())]
        if poss_dup:
            h += [(43, "Y"), (122, orig or utc())]
        return h

    def next_seq(self, fields, is_exec):
        seq = self.seq
        self.seq += 1
        self.sent[seq] = (fields, is_exec)
        return seq

    def send(self, mtype, body, is_exec=False, **wrong):
        """Number, remember (for a resend) and send; wrong= makes the bytes on
        the wire broken (body_delta, bad_sum) while the remembered copy stays good."""
        fields = [(35, mtype)] + body
        seq = self.next_seq(fields, is_exec)
        self.write(frame(self.header(mtype, seq) + body, **wrong))
        return seq

    def send_raw_numbered(self, header_fields, body):
        """A message with a header of our choosing (a tag left out), numbered."""
        seq = self.next_seq([(35, "0")], False)  # resent as a gap fill
        self.write(frame([(f, seq if f == 34 else v) for f, v in header_fields] + body))
        return seq

    # ---- inbound
    def pump(self, timeout):
        if not self.sock or self.closed:
            time.sleep(min(timeout, 0.05))
            return
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BlockingIOError):
            data = b""
        if not data:
            self.closed = True
            return
        self.rx += data
        while True:
            m = re.match(rb"8=[^\x01]*\x019=(\d+)\x01", self.rx)
            if not m:
                return
            end = m.end() + int(m.group(1)) + 7
            if len(self.rx) < end:
                return
            msg, self.rx = parse(self.rx[:end]), self.rx[end:]
            self.on_msg(msg)

    def on_msg(self, m):
        t = m.get(35)
        if t == "A":
            self.logged_on = True
        elif t == "5":
            self.logout = m.get(58, "")
        elif t == "3":
            self.rejects.append(m)
        elif t == "1" and self.auto_answer:
            self.write(frame(self.header("0", self.next_seq([(35, "0")], False)) + [(112, m.get(112, ""))]))
        elif t == "2" and self.auto_answer:
            self.resend_requests += 1
            self.resend(int(m[7]), int(m[16]))

    def resend(self, begin, end):
        end = self.seq - 1 if end == 0 or end >= self.seq else end
        s = begin
        while s <= end:
            fields, is_exec = self.sent.get(s, ([(35, "0")], False))
            if is_exec:
                self.write(frame(self.header(fields[0][1], s, poss_dup=True) + fields[1:]))
                s += 1
                continue
            n = s
            while n <= end and not self.sent.get(n, (None, False))[1]:
                n += 1
            self.write(frame(self.header("4", s, poss_dup=True) + [(123, "Y"), (36, n)]))
            s = n

    def wait(self, what, cond, timeout=30):
        deadline = time.time() + timeout
        while not cond():
            if time.time() > deadline:
                raise Fail("timed out waiting for " + what)
            self.pump(0.1)

    # ---- metrics
    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port, timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, val = line.rpartition(" ")
                out[name] = float(val)
        return out

    def metric(self, name, **labels):
        labels = dict(session=self.session, **labels)
        want = "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in labels.items()))
        for k, v in self.metrics().items():
            if k == want or (k.startswith(name + "{") and all('%s="%s"' % kv in k for kv in labels.items())):
                return v
        return 0.0

    def refused(self, reason):
        return self.metric("mdmesh_fix_rejected_total", reason=reason)

    # ---- messages
    def logon(self, hb=30, reset=False):
        body = [(98, 0), (108, hb)] + ([(141, "Y")] if reset else [])
        self.send("A", body)
        self.wait("the Logon answer", lambda: self.logged_on)

    def exec_body(self, exec_id, price="101.25", drop=None):
        body = [(37, "O" + exec_id), (17, exec_id), (150, "F"), (39, "2"), (55, "AAPL"), (54, "1"),
                (32, 100), (31, price), (14, 100), (151, 0), (6, price), (60, utc()),
                (453, 1), (448, "T%d" % (self.n_exec % 3 + 1)), (447, "D"), (452, 12)]
        return [f for f in body if f[0] != drop]

    def exec(self, expect=True, **wrong):
        self.n_exec += 1
        exec_id = "H%04d" % self.n_exec
        if expect:
            self.execs.append(exec_id)
        return self.send("8", self.exec_body(exec_id), is_exec=True, **wrong)

    def published(self):
        return self.metric("mdmesh_fix_acked_total")

    def settle(self, what):
        """Every expected execution so far is acked by JetStream."""
        self.wait(what + ": all executions acked", lambda: self.published() >= len(self.execs), 60)


def expect_reject(p, seq, code, tag, what):
    p.wait(what + ": Reject", lambda: any(r.get(45) == str(seq) for r in p.rejects), 30)
    r = [r for r in p.rejects if r.get(45) == str(seq)][0]
    if r.get(373) != str(code) or r.get(371) != str(tag):
        raise Fail("%s: Reject 373=%s 371=%s, expected 373=%s 371=%s" % (what, r.get(373), r.get(371), code, tag))


def counted(p, reason, n, what):
    p.wait("%s counted as %s" % (what, reason), lambda: p.refused(reason) >= n, 30)
    got = p.refused(reason)
    if got != n:
        raise Fail("%s: mdmesh_fix_rejected_total{reason=%s} = %d, expected %d" % (what, reason, got, n))


def drip(p, data, what, stop_when_closed=True, max_s=20):
    """One byte a second until the line is dropped; seconds it took."""
    t0 = time.time()
    for b in data:
        if p.closed:
            break
        try:
            p.write(bytes([b]))
        except OSError:
            p.closed = True
            break
        deadline = time.time() + 1.0
        while time.time() < deadline and not p.closed:
            p.pump(deadline - time.time())
        if time.time() - t0 > max_s:
            raise Fail(what + ": still connected after %d s of drip" % max_s)
    if not p.closed:
        raise Fail(what + ": the whole message was dripped and the line is still up")
    return time.time() - t0


def run(p, logon_timeout, log):
    p.connect()
    p.logon()
    p.exec()
    p.settle("first execution")

    # bad checksum: dropped unanswered; its number comes back by resend
    p.exec(bad_sum=True)
    counted(p, "bad_checksum", 1, "bad checksum")
    p.exec()
    p.wait("a ResendRequest after the bad checksum", lambda: p.resend_requests >= 1)
    p.settle("bad checksum")
    log("bad checksum: counted, recovered by ResendRequest")

    # BodyLength shorter and longer than the body
    p.exec(body_delta=-3)
    counted(p, "bad_body_length", 1, "short BodyLength")
    p.exec(body_delta=+9)  # waits for bytes the next message brings
    p.exec()
    counted(p, "bad_body_length", 2, "long BodyLength")
    p.wait("a ResendRequest after the BodyLengths", lambda: p.resend_requests >= 2)
    p.settle("wrong BodyLength")
    log("wrong BodyLength (short, long): counted, recovered")

    # missing required tags: header (SendingTime) and ExecutionReport (ExecID)
    seq = p.send_raw_numbered([(35, "8"), (49, "BRK"), (56, "US"), (34, 0)], p.exec_body("NOTIME"))
    expect_reject(p, seq, 1, 52, "no SendingTime")
    p.n_exec += 1
    seq = p.send("8", p.exec_body("NOID", drop=17))
    expect_reject(p, seq, 1, 17, "no ExecID")
    counted(p, "missing_tag", 2, "missing tags")
    log("missing SendingTime / ExecID: Reject 373=1 with the tag, counted")

    # unknown MsgType, too precise a price
    seq = p.send("ZZ", [(58, "what is this")])
    expect_reject(p, seq, 11, 35, "unknown MsgType")
    counted(p, "unknown_msg_type", 1, "unknown MsgType")
    seq = p.send("8", p.exec_body("PRECISE", price="1.000000001"))
    expect_reject(p, seq, 5, 31, "price with 9 decimals")
    counted(p, "bad_price", 1, "price with 9 decimals")
    p.exec()
    p.settle("after the Rejects")
    log("unknown MsgType / 9-decimal price: Reject (11 / 5), counted")

    # garbage, over two writes: one run, counted once, no number consumed
    p.write(b"\x00\xffGET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(1, 200)).replace(b"8", b"9"))
    counted(p, "garbage", 1, "garbage")
    p.write(b"still garbage \xfe\xfd" * 20)
    p.exec()
    p.settle("garbage")
    counted(p, "garbage", 1, "garbage over two writes")
    log("garbage over two writes: counted once, the session carries on")

    # oversized: header first, the rest once the refusal is counted, so the
    # body arrives in later reads; it must be skipped exactly, not read as
    # garbage or messages (the text holds a message start)
    text = ("x" * 300 + "8=FIX.4.4" + "y" * 9000).encode()
    big = frame(p.header("B", p.next_seq([(35, "B")], False)) + [(148, "hello"), (58, text)])
    p.write(big[:200])
    counted(p, "oversized", 1, "oversized")
    p.write(big[200:])
    p.exec()
    p.wait("a ResendRequest after the oversized message", lambda: p.resend_requests >= 3)
    p.settle("oversized")
    counted(p, "oversized", 1, "oversized, body in later reads")
    counted(p, "garbage", 1, "oversized body not taken for garbage")
    log("oversized (%d bytes): counted once, skipped exactly, number gap-filled" % len(big))

    # a session with HeartBtInt 1 whose peer drips an ExecutionReport one byte
    # a second and answers nothing: TestRequest, then the line is dropped
    p.send("5", [])
    p.wait("the Logout answer", lambda: p.logout is not None or p.closed)
    p.close()
    tests_before = p.metric("mdmesh_fix_test_requests_sent_total")
    p.connect()
    p.logon(hb=1)
    p.auto_answer = False
    p.n_exec += 1
    exec_id = "H%04d" % p.n_exec
    p.execs.append(exec_id)
    seq = p.next_seq([(35, "8")] + p.exec_body(exec_id), True)
    took = drip(p, frame(p.header("8", seq) + p.exec_body(exec_id)), "drip in session")
    if p.metric("mdmesh_fix_test_requests_sent_total") <= tests_before:
        raise Fail("drip in session: no TestRequest before the line was dropped")
    if not 4 <= took <= 12:
        raise Fail("drip in session: dropped after %.1f s, expected 2 x HeartBtInt + 4 s" % took)
    p.close()
    p.auto_answer = True
    log("drip in a 1 s HeartBtInt session: TestRequest, dropped after %.1f s" % took)

    # a Logon dripped one byte a second: dropped after session.logon_timeout
    p.connect()
    seq = p.next_seq([(35, "A")], False)
    took = drip(p, frame(p.header("A", seq) + [(98, 0), (108, 30)]), "drip Logon")
    if not logon_timeout * 0.8 <= took <= logon_timeout + 4:
        raise Fail("drip Logon: dropped after %.1f s, logon_timeout is %.1f s" % (took, logon_timeout))
    p.close()
    log("Logon dripped: dropped after %.1f s (logon_timeout %.1f s)" % (took, logon_timeout))

    # back to normal: the dripped execution comes back by resend, then a run
    p.connect()
    p.logon()
    for _ in range(40):
        p.exec()
    p.settle("the final run")
    p.send("5", [])
    p.wait("the final Logout answer", lambda: p.logout is not None or p.closed)
    p.close()
    log("final run: %d executions acked" % len(p.execs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--http", type=int, required=True)
    ap.add_argument("--session", required=True)
    ap.add_argument("--logon-timeout", type=float, required=True)
    ap.add_argument("--expect", required=True)
    a = ap.parse_args()
    p = Peer(a.port, a.http, a.session)
    try:
        run(p, a.logon_timeout, lambda s: print("peer: " + s, flush=True))
    except (Fail, OSError) as e:
        print("peer FAILED: %s" % e, flush=True)
        return 1
    with open(a.expect, "w") as f:
        f.write("".join(e + "\n" for e in p.execs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
