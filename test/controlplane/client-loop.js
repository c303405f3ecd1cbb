// A bounded, fixed-rate HTTPS client, run inside the tier's client namespace (`ip netns exec`):
// request n starts at start + n / rate whatever happened to the earlier ones (an open-loop load, so
// a stalled target shows up as failures or gaps, not as a slower client). Each request opens its
// own connection (no keep-alive), so the load balancer picks a target per request. Stops when the
// stop file appears or after maxSeconds; then waits for requests in flight and prints one JSON
// document: every request's number, start, end and status or error.
// Usage: node client-loop.js '<json config>'
"use strict";
const fs = require("node:fs");
const https = require("node:https");

const cfg = JSON.parse(process.argv[2]);
const ca = fs.readFileSync(cfg.ca);
const cert = fs.readFileSync(cfg.cert);
const key = fs.readFileSync(cfg.key);
const results = [];
let inFlight = 0;
const start = Date.now();

function one(n) {
  const t0 = Date.now();
  inFlight++;
  const body = cfg.mode === "create" ? JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${cfg.prefix}-${n}` }, data: { n: String(n) } }) : undefined;
  let done = false;
  const finish = (r) => {
    if (done) return;
    done = true;
    inFlight--;
    results.push({ n, t0: t0 - start, t1: Date.now() - start, ...r });
  };
  const req = https.request(
    {
      host: cfg.host,
      port: cfg.port,
      path: cfg.path,
      method: cfg.mode === "create" ? "POST" : "GET",
      servername: cfg.servername,
      ca,
      cert,
      key,
      agent: false,
      timeout: cfg.timeoutMs,
      headers: body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {},
    },
    (res) => {
      // An error answer keeps the start of its body (the Status message says why).
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      let text = "";
      if (ok) res.resume();
      else res.on("data", (d) => (text = (text + d).slice(0, 400)));
      res.on("end", () => finish(ok ? { status: res.statusCode } : { status: res.statusCode, body: text }));
      res.on("error", (e) => finish({ error: e.code || e.message }));
    },
  );
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", (e) => finish({ error: e.code || e.message }));
  if (body) req.write(body);
  req.end();
}

let n = 0;
function tick() {
  const elapsed = Date.now() - start;
  if (fs.existsSync(cfg.stopFile) || elapsed > cfg.maxSeconds * 1000) return drain();
  while (n * (1000 / cfg.rate) <= elapsed) one(n++);
  setTimeout(tick, 5);
}
function drain() {
  if (inFlight > 0) return setTimeout(drain, 20);
  process.stdout.write(JSON.stringify({ rate: cfg.rate, sent: n, results }));
}
tick();
