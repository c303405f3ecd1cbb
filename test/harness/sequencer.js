// Jest test sequencer: plans the order of the files from the seconds each took in the last full
// run on the 2-core CI machine (test/harness/file-seconds.json), simulating jest's workers (each
// takes the next file when it frees):
// - a cluster file (control-plane and boot tiers: etcd, Kubernetes, systemd containers) holds the
//   machine-wide cluster lock while it runs (test/harness/cluster-lock.ts): two of them side by
//   side failed CI twice on 2 cores. Their seconds (3,526 of 6,294 in the b7e1c90 rehearsal) are
//   the suite's critical path, so the plan keeps them back to back: a worker that frees while no
//   cluster file runs takes the next one; when a worker frees and a cluster file runs on the other,
//   it takes the longest other file left, and a cluster file is taken while another runs only when
//   nothing else is left (it then waits for the lock);
// - otherwise longest first, so no long file starts late and forms the tail while the other
//   worker idles;
// - an apply-tier file (terraform against the emulator) is heavy too: it does not start beside a
//   cluster file while a lighter file is left to take instead.
// Jest's own sequencer orders by its cache of earlier durations, which a clean CI clone does not
// have, and then by file size: the two 4-line property files (~290 worker-seconds) ran last.
// Light files not in the table go first, in jest's order (its cache, else size), so a new file is
// never the tail; a cluster or apply file not in the table is planned with the longest figure of
// its kind. Refresh the table after a full run on the CI machine (the seconds a file waited for
// the lock are not counted):
//   node test/harness/sequencer.js --write    (reads reports/test-timings/last-full-run.json)
const fs = require("node:fs");
const path = require("node:path");
const Sequencer = require("@jest/test-sequencer").default;

const ROOT = path.join(__dirname, "..", "..");
const TABLE = path.join(__dirname, "file-seconds.json");
/** Files that run a real cluster and hold the cluster lock (see above; test/harness/tiers.ts CLUSTER_FILE). */
const CLUSTER = /\.(cp|boot)\.test\.ts$/;
/** Files that load the machine without holding the lock: the apply tier. */
const HEAVY = /\.apply\.test\.ts$/;

/** Seconds a file took in the last full CI run, by path relative to the repository root. */
function fileSeconds() {
  try {
    return JSON.parse(fs.readFileSync(TABLE, "utf8")).seconds;
  } catch {
    return {};
  }
}

/**
 * The order for `workers` workers, and each file's planned start and end. `files`: [id, seconds,
 * kind] with kind "cluster", "heavy" or "light". Each time a worker frees it takes, of the files
 * left, longest first:
 * - while a cluster file runs on another worker: a file that is not a cluster file, a light one if
 *   an apply file would otherwise start beside it; a cluster file only when nothing else is left,
 *   and it then starts when the running one ends (the lock);
 * - while none runs and a cluster file is left: the longest cluster file left (the chain of them is
 *   the suite's critical path, so it has no gap: a worker freed by a cluster file takes the next);
 * - otherwise the longest file left.
 */
function schedule(files, workers) {
  const left = [...files].sort((a, b) => b[1] - a[1]); // stable: ties keep jest's order
  const slots = Array.from({ length: Math.max(1, workers) }, () => ({ free: 0, kind: "light" }));
  const runs = [];
  let clusterUntil = 0; // when the cluster file holding the lock ends
  while (left.length > 0) {
    const slot = slots.reduce((a, b) => (b.free < a.free ? b : a));
    const now = slot.free;
    const clusterRunning = clusterUntil > now;
    let k = 0;
    const cluster = left.findIndex((f) => f[2] === "cluster");
    if (!clusterRunning && cluster >= 0) {
      // The chain of cluster files is the critical path: no gap in it while one is left.
      k = cluster;
    } else if (clusterRunning) {
      const light = left.findIndex((f) => f[2] === "light");
      const other = left.findIndex((f) => f[2] !== "cluster");
      k = left[other]?.[2] === "heavy" && light >= 0 ? light : other;
      if (k < 0) k = 0;
    }
    const [file] = left.splice(k, 1);
    const start = file[2] === "cluster" ? Math.max(now, clusterUntil) : now;
    const end = start + file[1];
    if (file[2] === "cluster") clusterUntil = end;
    slot.free = end;
    runs.push({ id: file[0], start, end, kind: file[2] });
  }
  return runs;
}

/** The order of {@link schedule}. */
function plan(files, workers) {
  return schedule(files, workers).map((r) => r.id);
}

/** "cluster", "heavy" or "light" for a test file path. */
function kindOf(file) {
  return CLUSTER.test(file) ? "cluster" : HEAVY.test(file) ? "heavy" : "light";
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
    const estimate = (re) => Math.max(0, ...Object.entries(this.seconds).filter(([f]) => re.test(f)).map(([, s]) => s));
    for (const t of tests) {
      const s = this.seconds[path.relative(ROOT, t.path)];
      const kind = kindOf(t.path);
      if (typeof s === "number") timed.push([t, s, kind]);
      else if (kind !== "light") timed.push([t, estimate(kind === "cluster" ? CLUSTER : HEAVY), kind]);
      else untimed.push(t);
    }
    const head = await super.sort(untimed);
    // A file may be in the list once per project that matches it; keep each entry.
    return [...head, ...plan(timed, this.workers)];
  }
}

module.exports = PlannedSequencer;
module.exports.plan = plan;
module.exports.schedule = schedule;
module.exports.kindOf = kindOf;

if (require.main === module && process.argv[2] === "--write") {
  const report = JSON.parse(fs.readFileSync(path.join(ROOT, "reports", "test-timings", "last-full-run.json"), "utf8"));
  // A file's own seconds: without the time it waited for the cluster lock.
  const seconds = Object.fromEntries(report.files.filter((f) => typeof f.seconds === "number").map((f) => [f.file, Math.round((f.seconds - (f.lockWaitSeconds ?? 0)) * 10) / 10]));
  fs.writeFileSync(TABLE, `${JSON.stringify({ from: `full run of ${report.date}, maxWorkers ${report.maxWorkers}, ${report.wallSeconds} s`, seconds }, null, 1)}\n`);
  console.log(`${TABLE}: ${Object.keys(seconds).length} files`);
}
