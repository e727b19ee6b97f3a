// hdr-histogram-js side of tests/integration/hdr_js_interop.sh. Each mode
// prints what JS computes, or compares it with what `mdmesh hdr` printed, and
// exits non-zero with a reason on any difference.
//
// Statistics are compared exactly except the mean (relative 1e-9: both sides
// sum count * slot median, but in floating point). Percentiles agree exactly
// only because every histogram here holds a multiple of 10000 values: then
// p * total is an integer for p in 50, 90, 99, 99.9, 99.99, and JS's
// round-up target count equals mdmesh's round-half-up one (HDR_FACTS s.4).
"use strict";
const fs = require("fs");
const zlib = require("zlib");
const hdr = require("hdr-histogram-js");

const PCTS = [["p50", 50], ["p90", 90], ["p99", 99], ["p99.9", 99.9], ["p99.99", 99.99]];

function die(msg) {
  process.stderr.write(`hdr_interop.js: ${msg}\n`);
  process.exit(1);
}

// mulberry32: a tiny deterministic PRNG, so both runs see the same values.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Lognormal-ish latencies in ns (median e^mu), Box-Muller on the PRNG.
function values(n, seed, mu = 12, sigma = 1.2) {
  const r = rng(seed);
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    out[i] = Math.max(1, Math.floor(Math.exp(mu + sigma * z)));
  }
  return out;
}

function newHist(opts = {}) {
  return hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, ...opts });
}

// The statistics `mdmesh hdr decode --json` prints, computed by JS. min/max
// are derived as HdrHistogram_c reports them (HDR_FACTS s.6.3): JS keeps the
// raw max while recording but the slot's highest value after decoding.
function stats(h) {
  const s = { count: h.totalCount };
  s.min = h.totalCount === 0 ? 0 : h.getCountAtIndex(0) > 0 ? 0 : h.lowestEquivalentValue(h.minNonZeroValue);
  s.max = h.totalCount === 0 ? 0 : h.highestEquivalentValue(h.maxValue);
  s.mean = h.mean;
  for (const [k, p] of PCTS) s[k] = h.getValueAtPercentile(p);
  return s;
}

function compareStats(what, js, c) {
  for (const k of ["count", "min", "max", ...PCTS.map((x) => x[0])]) {
    if (js[k] !== c[k]) die(`${what}: ${k} is ${c[k]} in mdmesh but ${js[k]} in hdr-histogram-js`);
  }
  if (Math.abs(js.mean - c.mean) > 1e-9 * Math.max(1, Math.abs(js.mean)))
    die(`${what}: mean is ${c.mean} in mdmesh but ${js.mean} in hdr-histogram-js`);
}

function readJsonLines(path) {
  return fs.readFileSync(path, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

const [mode, ...args] = process.argv.slice(2);
switch (mode) {
  // values N SEED: one value per line, for `mdmesh hdr encode`.
  case "values": {
    process.stdout.write(values(+args[0], +args[1]).join("\n") + "\n");
    break;
  }
  // timed-values SECONDS PER_SECOND SEED T0: "time value" lines, PER_SECOND
  // values inside each whole second (never on a boundary).
  case "timed-values": {
    const [secs, per, seed, t0] = args.map(Number);
    const v = values(secs * per, seed);
    const lines = v.map((x, i) => `${(t0 + Math.floor(i / per) + (i % per) / (2 * per)).toFixed(6)} ${x}`);
    process.stdout.write(lines.join("\n") + "\n");
    break;
  }
  // check-b64 B64 C_JSON: JS decodes mdmesh's base64 and must agree with
  // mdmesh's own decode; the header must be the Java/C one.
  case "check-b64": {
    const [b64, cjson] = args;
    const raw = Buffer.from(b64, "base64");
    const block = zlib.inflateSync(raw.subarray(8));
    if (raw.readUInt32BE(0) !== 0x1c849314) die("wrapper cookie is not 0x1c849314");
    if (block.readUInt32BE(0) !== 0x1c849313) die("block cookie is not 0x1c849313");
    if (block.readInt32BE(8) !== 0) die("normalizing index offset is not 0");
    if (block.subarray(32, 40).toString("hex") !== "3ff0000000000000") die("conversion ratio is not 1.0");
    const h = hdr.decodeFromCompressedBase64(b64, 64);
    compareStats("mdmesh encode -> JS decode", stats(h), JSON.parse(fs.readFileSync(cjson, "utf8")));
    console.log(JSON.stringify(stats(h)));
    break;
  }
  // js-encode N SEED: {"b64":..., "stats":...} of a JS histogram (JS defaults:
  // auto-resize from highest 2, so the encoded highest is JS's own choice).
  case "js-encode": {
    const h = newHist();
    for (const v of values(+args[0], +args[1])) h.recordValue(v);
    console.log(JSON.stringify({ b64: hdr.encodeIntoCompressedBase64(h), stats: stats(h) }));
    break;
  }
  // check-stats JS_JSON C_JSON
  case "check-stats": {
    const js = JSON.parse(fs.readFileSync(args[0], "utf8")).stats;
    compareStats("JS encode -> mdmesh decode", js, JSON.parse(fs.readFileSync(args[1], "utf8")));
    break;
  }
  // js-write-log PATH: a log by HistogramLogWriter (4 intervals of 10000 or
  // 20000 values, tags, ranges that auto-resize differently); prints the
  // expected per-interval and total statistics as JSON lines.
  case "js-write-log": {
    const out = [];
    const w = new hdr.HistogramLogWriter((s) => out.push(s));
    const total = newHist();
    const expected = [];
    const plan = [
      { tag: null, n: 10000, mu: 8 },
      { tag: "feedA", n: 20000, mu: 12 },
      { tag: "feedB", n: 10000, mu: 16 },
      { tag: "feedA", n: 10000, mu: 11 },
    ];
    w.outputLogFormatVersion();
    w.outputStartTime(1700000000000);
    w.outputLegend();
    plan.forEach((p, i) => {
      const h = newHist();
      for (const v of values(p.n, 100 + i, p.mu)) h.recordValue(v);
      if (p.tag) h.tag = p.tag;
      w.outputIntervalHistogram(h, i * 1.5, i * 1.5 + 1.5, 1000);
      total.add(h);
      expected.push({ start: i * 1.5, length: 1.5, tag: p.tag, ...stats(h) });
    });
    fs.writeFileSync(args[0], out.join(""));
    expected.push({ total: true, ...stats(total) });
    for (const e of expected) console.log(JSON.stringify(e));
    break;
  }
  // check-log EXPECTED_JSONL C_JSONL: mdmesh's decode of the JS-written log.
  case "check-log": {
    const want = readJsonLines(args[0]);
    const got = readJsonLines(args[1]);
    if (want.length !== got.length) die(`log: ${got.length} JSON lines from mdmesh, expected ${want.length}`);
    want.forEach((w, i) => {
      const g = got[i];
      if (!w.total) {
        if (Math.abs(g.start - w.start) > 1e-9 || Math.abs(g.length - w.length) > 1e-9)
          die(`log interval ${i}: start/length ${g.start}/${g.length}, want ${w.start}/${w.length}`);
        if (g.tag !== w.tag) die(`log interval ${i}: tag ${g.tag}, want ${w.tag}`);
        if (Math.abs(g.abs_start - (1700000000 + w.start)) > 1e-6)
          die(`log interval ${i}: abs_start ${g.abs_start} not relative to StartTime`);
      } else if (g.total !== true) {
        die("log: last line is not the total");
      }
      compareStats(`JS log -> mdmesh, ${w.total ? "total" : "interval " + i}`, w, g);
    });
    break;
  }
  // js-read-log PATH C_JSONL PER_INTERVAL TAG: HistogramLogReader reads
  // mdmesh's log; every interval must match mdmesh's own decode of it.
  case "js-read-log": {
    const [path, cjsonl, per, tag] = args;
    const r = new hdr.HistogramLogReader(fs.readFileSync(path, "utf8"), 64);
    const got = readJsonLines(cjsonl).filter((g) => !g.total);
    let h;
    let i = 0;
    while ((h = r.nextIntervalHistogram()) !== null) {
      const c = got[i];
      if (!c) die(`JS read more intervals than mdmesh (${got.length})`);
      if (h.totalCount !== +per) die(`interval ${i}: JS count ${h.totalCount}, want ${per}`);
      if (h.tag !== tag) die(`interval ${i}: JS tag ${h.tag}, want ${tag}`);
      if (Math.abs(h.startTimeStampMsec - c.abs_start * 1000) > 1e-3)
        die(`interval ${i}: JS start ${h.startTimeStampMsec} ms, mdmesh ${c.abs_start} s`);
      if (Math.abs(h.endTimeStampMsec - h.startTimeStampMsec - c.length * 1000) > 1e-3)
        die(`interval ${i}: JS length ${h.endTimeStampMsec - h.startTimeStampMsec} ms, mdmesh ${c.length} s`);
      compareStats(`mdmesh log -> JS, interval ${i}`, stats(h), c);
      i++;
    }
    if (i !== got.length || i === 0) die(`JS read ${i} intervals, mdmesh ${got.length}`);
    console.log(i);
    break;
  }
  default:
    die(`unknown mode '${mode}'`);
}
