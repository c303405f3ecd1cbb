"use strict";
/**
 * Helpers shared by the bench children (bench/children/*.js). Every child is a fresh Node process
 * started by bench/run.js; it prints one `BENCH_RESULT {json}` line on stdout.
 *
 * Times are `performance.now()`: milliseconds since the process started (Node's time origin), so a
 * mark is "process start → this point". Only Node built-ins are loaded here, so this module adds
 * nothing measurable to the cases.
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

/** Repository root (bench/children/ → ../..). */
const ROOT = path.resolve(__dirname, "..", "..");

const marks = {};
const memory = {};

/** Records `name` as now (ms since process start) with the heap and RSS at that point. */
function mark(name) {
  marks[name] = performance.now();
  const m = process.memoryUsage();
  memory[name] = { rssMB: m.rss / 2 ** 20, heapUsedMB: m.heapUsed / 2 ** 20 };
}

/** Value of `--name value` on the command line, or `fallback`. */
function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** True when `--name` is on the command line. */
function flag(name) {
  return process.argv.includes(name);
}

/** A fresh temporary synth output directory (the caller removes it with {@link removeDir}). */
function tempOutdir(prefix = "ha-bench-") {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function removeDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Prints the result line the parent parses. `values` are case-specific numbers and facts. */
function report(values = {}) {
  const result = {
    marks,
    memory,
    // kilobytes on Linux; the parent prefers /usr/bin/time's figure when it has one
    maxRssKB: process.resourceUsage().maxRSS,
    cpuS: (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6,
    ...values,
  };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

module.exports = { ROOT, arg, flag, mark, removeDir, report, tempOutdir };
