"use strict";
/**
 * Preloaded with `node -r` by bench/profile.js: times every module load (read + compile + run of its
 * top level), exclusive of the modules it loads in turn, and writes the totals per package to the
 * file named by BENCH_REQUIRE_PROFILE when the process exits. Not used by the timed runs.
 */
const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const out = process.env.BENCH_REQUIRE_PROFILE;
const byOwner = new Map();
const stack = [];

/** Which package (or part of this repository) a module file belongs to. */
function ownerOf(filename) {
  const nm = filename.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (nm >= 0) {
    const rest = filename.slice(nm + 14).split(path.sep);
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const rel = path.relative(ROOT, filename);
  if (rel.startsWith(`dist${path.sep}lib`)) return "this library (dist/lib)";
  if (rel.startsWith(`dist${path.sep}examples`)) return "examples (dist/examples)";
  if (rel.startsWith("bench")) return "bench";
  return rel;
}

const originalLoad = Module.prototype.load;
Module.prototype.load = function timedLoad(filename) {
  // The child script itself (id ".") is the measured work, not a load.
  if (this.id === ".") return originalLoad.call(this, filename);
  const frame = { start: performance.now(), children: 0 };
  stack.push(frame);
  try {
    return originalLoad.call(this, filename);
  } finally {
    stack.pop();
    const total = performance.now() - frame.start;
    if (stack.length > 0) stack[stack.length - 1].children += total;
    const owner = ownerOf(filename);
    const entry = byOwner.get(owner) ?? { ms: 0, modules: 0 };
    entry.ms += total - frame.children;
    entry.modules += 1;
    byOwner.set(owner, entry);
  }
};

process.on("exit", () => {
  if (!out) return;
  const rows = [...byOwner].map(([owner, v]) => ({ owner, ms: v.ms, modules: v.modules })).sort((a, b) => b.ms - a.ms);
  fs.writeFileSync(out, JSON.stringify(rows));
});
