"use strict";
/**
 * The bench cases and how one run of a case is executed: a fresh Node process per run, under
 * `/usr/bin/time -v` when it exists (peak RSS of the whole process), else with the child's own
 * `process.resourceUsage().maxRSS`.
 */
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const CHILDREN = path.join(__dirname, "children");
const GNU_TIME = "/usr/bin/time";

/**
 * One bench case. `wall` picks the headline time from a child's result: for synth cases the mark
 * taken right after `app.synth()` returned (process start → synth written).
 */
const CASES = [
  { id: "a", label: "(a) reference cluster", script: "synth-reference.js", args: [], wall: (r) => r.marks.synthesized },
  { id: "b", label: "(b) trivial raw stack (floor)", script: "synth-trivial.js", args: [], wall: (r) => r.marks.synthesized },
  {
    id: "c",
    label: "(c) reference, provider root imports",
    script: "synth-reference.js",
    args: ["--root-imports"],
    wall: (r) => r.marks.synthesized,
  },
  { id: "d1", label: "(d) 1 cluster", script: "synth-reference.js", args: ["--clusters", "1"], wall: (r) => r.marks.synthesized },
  { id: "d10", label: "(d) 10 clusters", script: "synth-reference.js", args: ["--clusters", "10"], wall: (r) => r.marks.synthesized },
  { id: "d50", label: "(d) 50 clusters", script: "synth-reference.js", args: ["--clusters", "50"], wall: (r) => r.marks.synthesized },
  { id: "e", label: "(e) require(dist/lib)", script: "require-lib.js", args: [], wall: (r) => r.requireMs },
  {
    id: "g",
    label: "(g) raw cdktf, the reference's resources",
    script: "synth-raw.js",
    args: [],
    fixture: true,
    wall: (r) => r.marks.synthesized,
  },
  { id: "f", label: "(f) offline terraform plan", script: "plan-reference.js", args: [], wall: (r) => r.planMs, plan: true },
];

let fixtureDir;

/**
 * The reference cluster's synthesized cdk.tf.json, written once per bench process (untimed) into a
 * temporary directory removed at exit: case (g) declares the same resources from it.
 */
function referenceFixture() {
  if (!fixtureDir) {
    fixtureDir = fs.mkdtempSync(path.join(os.tmpdir(), "ha-bench-fixture-"));
    process.on("exit", () => fs.rmSync(fixtureDir, { recursive: true, force: true }));
    const { execFileSync } = require("node:child_process");
    execFileSync(process.execPath, [path.join(ROOT, "dist", "examples", "ha-cluster", "main.js")], {
      cwd: ROOT,
      env: childEnv({ CDKTF_OUTDIR: fixtureDir }),
      stdio: ["ignore", "ignore", "pipe"],
    });
  }
  return path.join(fixtureDir, "stacks", "ha-cluster", "cdk.tf.json");
}

/** Case by id. */
function caseById(id) {
  const found = CASES.find((c) => c.id === id);
  if (!found) throw new Error(`unknown case ${id}; cases: ${CASES.map((c) => c.id).join(", ")}`);
  return found;
}

/** Whether GNU time (`-v`, `-o`) can be used for peak RSS. */
function gnuTimeAvailable() {
  try {
    fs.accessSync(GNU_TIME, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The environment of a child: ours minus what would change what is measured (NODE_OPTIONS flags,
 * cdktf's CDKTF_* / SYNTH_HCL_OUTPUT settings that would redirect or reshape synth output).
 */
function childEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === "NODE_OPTIONS" || key.startsWith("CDKTF_") || key === "SYNTH_HCL_OUTPUT") continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function parseGnuTime(text) {
  const rss = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(text);
  const user = /User time \(seconds\):\s*([\d.]+)/.exec(text);
  const sys = /System time \(seconds\):\s*([\d.]+)/.exec(text);
  return {
    rssKB: rss ? Number(rss[1]) : undefined,
    cpuS: user && sys ? Number(user[1]) + Number(sys[1]) : undefined,
  };
}

/** Busy CPU time of the whole machine so far, in seconds (Linux /proc/stat), or undefined. */
function machineBusySeconds() {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number); // skip idle, iowait
    return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/**
 * Runs one case once in a fresh process. Resolves with the child's result plus `wallMs` (the
 * headline time), `spawnToExitMs` (as seen by this process) and `peakRssMB`; rejects when the child
 * fails. `nodeArgs` go before the script (e.g. `--cpu-prof`), `extraArgs` after it.
 */
function runCase(benchCase, { nodeArgs = [], extraArgs = [], env = {}, useTime = gnuTimeAvailable(), timeoutMs = 600_000 } = {}) {
  const script = path.join(CHILDREN, benchCase.script);
  const fixtureArgs = benchCase.fixture ? ["--fixture", referenceFixture()] : [];
  const nodeCommand = [process.execPath, ...nodeArgs, script, ...benchCase.args, ...fixtureArgs, ...extraArgs];
  const timeFile = useTime ? path.join(os.tmpdir(), `ha-bench-time-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`) : undefined;
  const [command, ...args] = useTime ? [GNU_TIME, "-v", "-o", timeFile, ...nodeCommand] : nodeCommand;
  return new Promise((resolve, reject) => {
    const busyBefore = machineBusySeconds();
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: ROOT, env: childEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const spawnToExitMs = Number(process.hrtime.bigint() - started) / 1e6;
      const busyAfter = machineBusySeconds();
      let timeText = "";
      if (timeFile) {
        try {
          timeText = fs.readFileSync(timeFile, "utf8");
        } catch {
          // no file: the child could not even start; reported below
        }
        fs.rmSync(timeFile, { force: true });
      }
      const line = stdout.split("\n").reverse().find((l) => l.startsWith("BENCH_RESULT "));
      if (code !== 0 || !line) {
        const why = signal ? `killed by ${signal}` : `exit code ${code}`;
        reject(new Error(`case ${benchCase.id} (${benchCase.script} ${benchCase.args.join(" ")}) failed: ${why}\n${stderr.trim() || stdout.trim()}`));
        return;
      }
      const result = JSON.parse(line.slice("BENCH_RESULT ".length));
      const timed = parseGnuTime(timeText);
      const rssKB = timed.rssKB ?? result.maxRssKB;
      const childCpuS = timed.cpuS ?? result.cpuS;
      // Other processes' CPU while this run went on, in cores (machine busy time minus the child's).
      const foreignCores =
        busyBefore !== undefined && busyAfter !== undefined && childCpuS !== undefined
          ? Math.max(0, busyAfter - busyBefore - childCpuS) / (spawnToExitMs / 1000)
          : undefined;
      resolve({
        ...result,
        wallMs: benchCase.wall(result),
        spawnToExitMs,
        peakRssMB: rssKB / 1024,
        rssSource: timed.rssKB !== undefined ? "/usr/bin/time -v" : "process.resourceUsage().maxRSS",
        childCpuS,
        foreignCores,
      });
    });
  });
}

/** Median of numbers (mean of the middle two for an even count). */
function median(values) {
  const s = [...values].sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median, min, max and median absolute deviation of numbers. */
function summarize(values) {
  const m = median(values);
  return {
    median: m,
    min: Math.min(...values),
    max: Math.max(...values),
    mad: median(values.map((v) => Math.abs(v - m))),
    n: values.length,
  };
}

module.exports = { CASES, CHILDREN, ROOT, caseById, childEnv, gnuTimeAvailable, median, runCase, summarize };
