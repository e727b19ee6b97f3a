#!/usr/bin/env python3
"""Independent order-book rebuild from `mdmesh-loadgen synth --truth` (written
by the generator, not the collector), used to check the market views.

Applies the messages a receiver sees (not dropped, seq >= --from-seq) with the
ITCH 5.0 rules, per symbol: price levels (size, order count) each side, and
MAYBE_BAD_BOOK by the contract's rule: an E/C/X/D/U of an unknown order, or a
gap declared (a dropped message before a delivered one: every symbol).

  views_rebuild.py check TRUTH VIEWS [--from-seq N] [--levels N] [--expect-bad any|none]
      VIEWS: JSON lines of views (mdmesh feed dump --bbo --depth N, or the
      collector's streams read back). The LAST view per (kind, symbol) must equal
      the rebuild: BBO fields, the top N levels, the MAYBE_BAD_BOOK bit; every
      rebuilt symbol must have both.
  views_rebuild.py book TRUTH [--from-seq N] [--levels N]
      print the rebuilt final book of every symbol (JSON lines).
  views_rebuild.py trades TRUTH
      print {"seq", "bid_price", "bid_size", "ask_price", "ask_size"} of every
      E/C/P/Q: the BBO just before it (TBBO).
"""
import argparse
import json
import sys

BAD = 2


class Book:
    def __init__(self):
        self.orders = {}   # ref -> [symbol, side, price, shares]
        self.levels = {}   # (symbol, side) -> {price: [size, orders]}
        self.bad = set()
        self.touched = set()
        self.gap = False

    def _lv(self, sym, side):
        return self.levels.setdefault((sym, side), {})

    def add(self, ref, sym, side, shares, price):
        if ref in self.orders:
            self.bad.add(sym)
            return
        self.orders[ref] = [sym, side, price, shares]
        lv = self._lv(sym, side).setdefault(price, [0, 0])
        lv[0] += shares
        lv[1] += 1

    def reduce(self, ref, n):
        sym, side, price, shares = self.orders[ref]
        lv = self._lv(sym, side)[price]
        take = min(n, shares)
        lv[0] -= take
        if n >= shares:
            lv[1] -= 1
            del self.orders[ref]
            if lv[1] == 0:
                del self._lv(sym, side)[price]
        else:
            self.orders[ref][3] = shares - n

    def top(self, sym, side, n):
        lv = self.levels.get((sym, side), {})
        prices = sorted(lv, reverse=(side == "B"))[:n]
        return [{"price": p, "size": lv[p][0], "orders": lv[p][1]} for p in prices]

    def bbo(self, sym):
        b, a = self.top(sym, "B", 1), self.top(sym, "S", 1)
        out = {}
        for pre, lv in (("bid", b), ("ask", a)):
            out[pre + "_price"] = lv[0]["price"] if lv else 0
            out[pre + "_size"] = lv[0]["size"] if lv else 0
            out[pre + "_orders"] = lv[0]["orders"] if lv else 0
        return out

    def apply(self, d):
        t = d["type"]
        sym = d.get("stock_locate", 0)
        if t in "AF":
            self.add(d["order_reference_number"], sym, d["buy_sell_indicator"], d["shares"], d["price"])
            self.touched.add(sym)
        elif t in "ECXD":
            ref = d["order_reference_number"]
            if ref not in self.orders:
                self.bad.add(sym)
                self.touched.add(sym)
                return
            o = self.orders[ref]
            self.touched.add(o[0])
            n = {"E": d.get("executed_shares"), "C": d.get("executed_shares"),
                 "X": d.get("cancelled_shares"), "D": o[3]}[t]
            self.reduce(ref, n)
        elif t == "U":
            ref = d["original_order_reference_number"]
            if ref not in self.orders:
                self.bad.add(sym)
                self.touched.add(sym)
                return
            osym, side = self.orders[ref][0], self.orders[ref][1]
            self.reduce(ref, self.orders[ref][3])
            self.touched.add(osym)
            self.add(d["new_order_reference_number"], osym, side, d["shares"], d["price"])


def rebuild(truth, from_seq, on_msg=None):
    bk = Book()
    lost = False
    for line in open(truth):
        d = json.loads(line)
        if d["seq"] < from_seq:
            continue
        if d.get("dropped"):
            lost = True
            continue
        if lost:
            bk.gap = True  # a later message arrived: the receiver declares the gap
        if on_msg:
            on_msg(bk, d)
        bk.apply(d)
    return bk


def symbols_of(bk):
    return sorted(s for s in bk.touched if s)


def names(truth):
    """stock_locate -> symbol, from the truth's stock directory."""
    out = {}
    for line in open(truth):
        d = json.loads(line)
        if d["type"] == "R":
            out[d["stock_locate"]] = d["stock"]
    return out


def cmd_check(a):
    bk = rebuild(a.truth, a.from_seq)
    last = {}
    for line in open(a.views):
        v = json.loads(line)
        last[(v["view"], v["stock_locate"])] = v
    errors = []
    syms = symbols_of(bk)
    if not syms:
        errors.append("the rebuild has no symbols: the check checks nothing")
    n_bad = 0
    for sym in syms:
        bad = sym in bk.bad or bk.gap
        n_bad += bad
        want_b = bk.bbo(sym)
        got = last.get(("bbo", sym))
        if got is None:
            errors.append("%s: no BBO view" % sym)
        else:
            for k, w in want_b.items():
                if got[k] != w:
                    errors.append("%s: BBO %s %s, rebuild %s (seq %s)" % (sym, k, got[k], w, got["seq"]))
            if bool(got["flags"] & BAD) != bad:
                errors.append("%s: BBO MAYBE_BAD_BOOK %s, rebuild %s" % (sym, bool(got["flags"] & BAD), bad))
        if a.levels:
            got = last.get(("depth", sym))
            if got is None:
                errors.append("%s: no DEPTH view" % sym)
            else:
                for side, key in (("B", "bids"), ("S", "asks")):
                    want = bk.top(sym, side, a.levels)
                    if got[key] != want:
                        errors.append("%s: DEPTH %s %s, rebuild %s" % (sym, key, got[key][:3], want[:3]))
                if bool(got["flags"] & BAD) != bad:
                    errors.append("%s: DEPTH MAYBE_BAD_BOOK %s, rebuild %s" % (sym, bool(got["flags"] & BAD), bad))
    extra = sorted({s for (_, s) in last} - set(syms))
    if extra:
        errors.append("views of symbols the rebuild never saw change: %s" % extra[:5])
    if a.expect_bad == "any" and n_bad == 0:
        errors.append("no symbol is MAYBE_BAD_BOOK: the feed has no fault to check")
    if a.expect_bad == "none" and n_bad:
        errors.append("%d symbols MAYBE_BAD_BOOK on a clean feed" % n_bad)
    for e in errors[:20]:
        print("views_rebuild: " + e, file=sys.stderr)
    print(json.dumps({"symbols": len(syms), "bad": n_bad, "errors": len(errors)}))
    return 1 if errors else 0


def cmd_book(a):
    bk = rebuild(a.truth, a.from_seq)
    nm = names(a.truth)
    for sym in symbols_of(bk):
        out = {"symbol": nm.get(sym, ""), "stock_locate": sym, "bids": bk.top(sym, "B", a.levels), "asks": bk.top(sym, "S", a.levels),
               "bad": sym in bk.bad or bk.gap}
        out.update(bk.bbo(sym))
        print(json.dumps(out, separators=(",", ":")))
    return 0


def cmd_trades(a):
    def quote(bk, d):
        if d["type"] in "ECPQ":
            sym = d.get("stock_locate", 0)
            if d["type"] in "EC" and d["order_reference_number"] in bk.orders:
                sym = bk.orders[d["order_reference_number"]][0]
            q = bk.bbo(sym)
            print(json.dumps({"seq": d["seq"], "bid_price": q["bid_price"], "bid_size": q["bid_size"],
                              "ask_price": q["ask_price"], "ask_size": q["ask_size"]}, separators=(",", ":")))
    rebuild(a.truth, a.from_seq, quote)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=("check", "book", "trades"))
    p.add_argument("truth")
    p.add_argument("views", nargs="?")
    p.add_argument("--from-seq", type=int, default=0)
    p.add_argument("--levels", type=int, default=0)
    p.add_argument("--expect-bad", choices=("any", "none"))
    a = p.parse_args()
    return {"check": cmd_check, "book": cmd_book, "trades": cmd_trades}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
