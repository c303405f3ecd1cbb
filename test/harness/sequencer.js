// Jest test sequencer: plans the order of the files from the seconds each took in the last full
// run on the 2-core CI machine (test/harness/file-seconds.json), simulating jest's workers (each
// takes the next file when it frees):
// - longest first, so no long file starts late and forms the tail while the other worker idles;
// - but a file that runs a real cluster (control plane, boot and apply tiers: etcd, Kubernetes,
//   systemd containers, terraform against the emulator) does not start while another such file
//   runs, as long as a lighter file is left to take instead: the heavy files' timing assertions
//   are what CPU contention makes flaky, and two of them at once is the worst load the suite has.
// Jest's own sequencer orders by its cache of earlier durations, which a clean CI clone does not
// have, and then by file size: the two 4-line property files (~290 worker-seconds) ran last, and the
// 2026-11-30 rehearsal took 1,651 s where this order takes ~1,609 s for the same files (pure
// longest-first: 1,603 s, but with the two ~450 s control-plane files side by side: 712 s of
// heavy-on-heavy overlap against 291 s in the rehearsal and 57 s here).
// Light files not in the table go first, in jest's order (its cache, else size), so a new file is
// never the tail; a heavy file not in the table is planned with the longest heavy figure of the
// table (a new cluster file must not start beside another one either). Refresh the table after a full run on the CI machine:
//   node test/harness/sequencer.js --write    (reads reports/test-timings/last-full-run.json)
const fs = require("node:fs");
const path = require("node:path");
const Sequencer = require("@jest/test-sequencer").default;

const ROOT = path.join(__dirname, "..", "..");
const TABLE = path.join(__dirname, "file-seconds.json");
/** Files that run a real cluster (see above), by suffix as jest.config.js assigns tiers. */
const HEAVY = /\.(cp|boot|apply)\.test\.ts$/;

/** Seconds a file took in the last full CI run, by path relative to the repository root. */
function fileSeconds() {
  try {
    return JSON.parse(fs.readFileSync(TABLE, "utf8")).seconds;
  } catch {
    return {};
  }
}

/**
 * The order for `workers` workers: each time a worker frees (by the table's seconds), it takes the
 * longest file left, or, when that file is heavy and a heavy file runs on another worker, the
 * longest light file left (if any). `files`: [id, seconds, heavy].
 */
function plan(files, workers) {
  const left = [...files].sort((a, b) => b[1] - a[1]); // stable: ties keep jest's order
  const slots = Array.from({ length: Math.max(1, workers) }, () => ({ free: 0, heavyUntil: 0 }));
  const order = [];
  while (left.length > 0) {
    const slot = slots.reduce((a, b) => (b.free < a.free ? b : a));
    const now = slot.free;
    const heavyRunning = slots.some((s) => s !== slot && s.heavyUntil > now);
    let k = heavyRunning ? left.findIndex((f) => !f[2]) : 0;
    if (k < 0) k = 0;
    const [file] = left.splice(k, 1);
    order.push(file[0]);
    slot.free = now + file[1];
    slot.heavyUntil = file[2] ? slot.free : 0;
  }
  return order;
}

class PlannedSequencer extends Sequencer {
  constructor(options = {}) {
    super(options);
    this.seconds = fileSeconds();
    this.workers = options.globalConfig?.maxWorkers ?? 2;
  }

  async sort(tests) {
    const timed = [];
    const untimed = [];
    const heavyEstimate = Math.max(0, ...Object.entries(this.seconds).filter(([f]) => HEAVY.test(f)).map(([, s]) => s));
    for (const t of tests) {
      const s = this.seconds[path.relative(ROOT, t.path)];
      const heavy = HEAVY.test(t.path);
      if (typeof s === "number") timed.push([t, s, heavy]);
      else if (heavy) timed.push([t, heavyEstimate, true]);
      else untimed.push(t);
    }
    const head = await super.sort(untimed);
    // A file may be in the list once per project that matches it; keep each entry.
    return [...head, ...plan(timed, this.workers)];
  }
}

module.exports = PlannedSequencer;
module.exports.plan = plan;

if (require.main === module && process.argv[2] === "--write") {
  const report = JSON.parse(fs.readFileSync(path.join(ROOT, "reports", "test-timings", "last-full-run.json"), "utf8"));
  const seconds = Object.fromEntries(report.files.filter((f) => typeof f.seconds === "number").map((f) => [f.file, Math.round(f.seconds * 10) / 10]));
  fs.writeFileSync(TABLE, `${JSON.stringify({ from: `full run of ${report.date}, maxWorkers ${report.maxWorkers}, ${report.wallSeconds} s`, seconds }, null, 1)}\n`);
  console.log(`${TABLE}: ${Object.keys(seconds).length} files`);
}
