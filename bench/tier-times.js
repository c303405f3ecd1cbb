"use strict";
/**
 * The test suite's wall times, read from the timing report the jest reporter
 * (test/harness/timing-reporter.js) wrote after the last full `npm test` run
 * (reports/test-timings/last-full-run.json), for bench/results.json and the README's test section.
 *
 *   node bench/tier-times.js        # prints the table; bench/run.js records it as `suite`
 *
 * Returns `{ available: false, reason }` when no full run has been recorded in this checkout.
 */
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const REPORT = path.join(ROOT, "reports", "test-timings", "last-full-run.json");

/** The last full run's per-tier times, or why there are none. */
function suiteTimes(file = REPORT) {
  if (!fs.existsSync(file)) return { available: false, reason: `no full test run recorded (${path.relative(ROOT, file)}): run npm test` };
  const report = JSON.parse(fs.readFileSync(file, "utf8"));
  return {
    available: true,
    source: path.relative(ROOT, file),
    date: report.date,
    success: report.success,
    maxWorkers: report.maxWorkers,
    wallSeconds: report.wallSeconds,
    tiers: report.tiers,
    slowestFiles: report.files.slice(0, 10),
  };
}

/** Markdown table of the tiers (span: first file's start to last file's end; files run interleaved). */
function suiteTable(times) {
  if (!times.available) return `Test suite: ${times.reason}`;
  const rows = Object.entries(times.tiers)
    .sort((a, b) => b[1].spanSeconds - a[1].spanSeconds)
    .map(([tier, t]) => `| ${tier} | ${t.files} | ${t.spanSeconds.toFixed(0)} s | ${t.fileSeconds.toFixed(0)} s |`);
  return [
    `Test suite (${times.date}, ${times.maxWorkers} workers, ${times.success ? "passed" : "FAILED"}): ${times.wallSeconds.toFixed(0)} s wall`,
    "| Tier | Files | Span (first start → last end) | File time (sum) |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}

module.exports = { suiteTimes, suiteTable };

if (require.main === module) process.stdout.write(`${suiteTable(suiteTimes(process.argv[2]))}\n`);
