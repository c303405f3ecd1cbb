// Jest reporter: records how long each test file and each tier took, for `npm run bench` to put in
// bench/results.json (bench/tier-times.js) and for the README's test section. Writes
// reports/test-timings/last-run.json after every run, and last-full-run.json as well when the run
// was the whole suite (`npm test` / `jest` without a path, project, name or changed-files filter).
// A tier's time is given three ways, because jest runs the files of all tiers together on
// maxWorkers workers: `spanSeconds` from its first file's start to its last file's end,
// `fileSeconds` the sum of its files' durations (worker time) without the time a cluster file
// waited for the cluster lock (`lockWaitSeconds`, per file and per tier), and `files` how many ran.
const fs = require("node:fs");
const path = require("node:path");

/** Tier of a test file by suffix, as jest.config.js assigns projects. */
const TIERS = [
  ["plan", /\.plan\.test\.ts$/],
  ["e2e", /\.e2e\.test\.ts$/],
  ["property", /\.prop\.test\.ts$/],
  ["control plane", /\.cp\.test\.ts$/],
  ["apply", /\.apply\.test\.ts$/],
  ["consumer", /\.consumer\.test\.ts$/],
  ["boot", /\.boot\.test\.ts$/],
  ["unit", /\.test\.ts$/],
];

function tierOf(file) {
  return TIERS.find(([, re]) => re.test(file))[0];
}

/** Seconds each cluster file waited for the cluster lock in this run, by file (the workers' record). */
function clusterLockWaits() {
  const dir = process.env.HA_CP_TEST_RUN_DIR;
  const waits = {};
  if (!dir) return waits;
  try {
    for (const line of fs.readFileSync(path.join(dir, "cluster-lock-waits.jsonl"), "utf8").split("\n")) {
      if (!line.trim()) continue;
      const { file, waitedSeconds } = JSON.parse(line);
      waits[file] = (waits[file] ?? 0) + waitedSeconds;
    }
  } catch {
    // no cluster file ran
  }
  return waits;
}

function isFullRun(g, argv = process.argv) {
  // Jest 30 keeps --selectProjects / --ignoreProjects out of the global config (the CLI applies
  // them before): a unit-tier run was recorded as a full run. The reporters run in the process
  // that parsed them.
  if (argv.some((a) => /^--(selectProjects|ignoreProjects)(=|$)/.test(a))) return false;
  const patterns = g.testPathPatterns ?? g.testPathPattern;
  const hasPatterns = Array.isArray(patterns) ? patterns.length > 0 : typeof patterns === "string" ? patterns.length > 0 : Boolean(patterns?.patterns?.length);
  return !hasPatterns && !(g.selectProjects?.length) && !(g.ignoreProjects?.length) && !g.testNamePattern && !g.onlyChanged && !g.lastCommit && !g.changedSince && !g.findRelatedTests && !g.onlyFailures;
}

class TimingReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
  }

  onRunComplete(_contexts, results) {
    const root = this.globalConfig.rootDir;
    const end = Date.now();
    const waits = clusterLockWaits();
    const files = results.testResults.map((r) => ({
      file: path.relative(root, r.testFilePath),
      tier: tierOf(r.testFilePath),
      seconds: r.perfStats && r.perfStats.end && r.perfStats.start ? (r.perfStats.end - r.perfStats.start) / 1000 : null,
      // Of those seconds, how long the file waited for the cluster lock (test/harness/cluster-lock.ts).
      ...(waits[path.relative(root, r.testFilePath)] !== undefined ? { lockWaitSeconds: waits[path.relative(root, r.testFilePath)] } : {}),
      start: r.perfStats?.start ?? null,
      end: r.perfStats?.end ?? null,
      failed: r.numFailingTests > 0 || Boolean(r.testExecError),
    }));
    const tiers = {};
    for (const f of files) {
      const t = (tiers[f.tier] ??= { files: 0, fileSeconds: 0, lockWaitSeconds: 0, first: Infinity, last: 0 });
      t.files++;
      t.fileSeconds += (f.seconds ?? 0) - (f.lockWaitSeconds ?? 0);
      t.lockWaitSeconds += f.lockWaitSeconds ?? 0;
      if (f.start) t.first = Math.min(t.first, f.start);
      if (f.end) t.last = Math.max(t.last, f.end);
    }
    const byTier = Object.fromEntries(
      Object.entries(tiers).map(([name, t]) => [name, { files: t.files, fileSeconds: round(t.fileSeconds), ...(t.lockWaitSeconds > 0 ? { lockWaitSeconds: round(t.lockWaitSeconds) } : {}), spanSeconds: t.last > t.first ? round((t.last - t.first) / 1000) : 0 }]),
    );
    const report = {
      schema: 1,
      date: new Date(end).toISOString(),
      fullRun: isFullRun(this.globalConfig),
      maxWorkers: this.globalConfig.maxWorkers,
      wallSeconds: round((end - results.startTime) / 1000),
      success: results.numFailedTests === 0 && results.numFailedTestSuites === 0 && results.numRuntimeErrorTestSuites === 0 && !results.wasInterrupted,
      tiers: byTier,
      files: files.map(({ start: _start, end: _end, ...rest }) => rest).sort((a, b) => (b.seconds ?? 0) - (a.seconds ?? 0)),
    };
    const dir = path.join(root, "reports", "test-timings");
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "last-run.json"), `${JSON.stringify(report, null, 1)}\n`);
      if (report.fullRun) fs.writeFileSync(path.join(dir, "last-full-run.json"), `${JSON.stringify(report, null, 1)}\n`);
    } catch (error) {
      process.stderr.write(`timing-reporter: could not write ${dir}: ${error.message}\n`);
    }
  }
}

function round(x) {
  return Math.round(x * 100) / 100;
}

module.exports = TimingReporter;
module.exports.isFullRun = isFullRun;
