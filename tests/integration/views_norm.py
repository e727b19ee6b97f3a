#!/usr/bin/env python3
"""Normalize market views to one JSON shape, the `mdmesh feed dump --bbo
--depth` one: {"view","stock_locate","seq","flags", bid_/ask_ price/size/orders
| "bids"/"asks"}, so the collector's published views (`mdmesh tail --headers`
lines of bbo.> / depth.>) compare with the offline dump and the rebuild.

  views_norm.py tail FILE   tail --headers lines -> normalized lines (skips bbo.probe.*
                            and a Msg-Id seen before (exit 1 if it named another view): the bus resends a publish whose ack
                            timed out, and a live subscriber then gets it again)
  views_norm.py dump FILE   feed dump lines -> the same keys only
"""
import json
import sys

KEYS = ("bid_price", "bid_size", "bid_orders", "ask_price", "ask_size", "ask_orders")


def lv(levels):
    return [{"price": x.get("price", 0), "size": x.get("size", 0), "orders": x.get("orders", 0)} for x in levels]


def norm(view, locate, seq, flags, ev):
    out = {"view": view, "stock_locate": locate, "seq": seq, "flags": flags}
    if view == "bbo":
        for k in KEYS:
            out[k] = ev.get(k, 0)
    else:
        out["bids"] = lv(ev.get("bids", []))
        out["asks"] = lv(ev.get("asks", []))
    return out


def main():
    mode, path = sys.argv[1], sys.argv[2]
    seen = {}
    for line in open(path):
        d = json.loads(line)
        if mode == "tail":
            if ".probe." in d["subject"]:
                continue
            ev, h = d["event"], d["event"].get("header", {})
            o = norm(d["subject"].split(".")[0], h.get("stock_locate", 0), h.get("seq", 0), ev.get("flags", 0), ev)
            o["msg_id"] = d.get("headers", {}).get("Nats-Msg-Id", "")
            body = json.dumps({k: o[k] for k in o if k != "content_type"}, sort_keys=True)
            if o["msg_id"] in seen:
                if seen[o["msg_id"]] != body:  # JetStream would store only the first
                    sys.exit("views_norm: Msg-Id %s names two different views" % o["msg_id"])
                continue
            seen[o["msg_id"]] = body
            o["content_type"] = d.get("headers", {}).get("Content-Type", "")
            o["subject"] = d["subject"]
            o["symbol"] = h.get("symbol", "")
        else:
            o = norm(d["view"], d["stock_locate"], d["seq"], d["flags"], d)
        print(json.dumps(o, sort_keys=True, separators=(",", ":")))


if __name__ == "__main__":
    main()
