// Jest test sequencer: longest files first, by the seconds each file took in the last full run
// on the 2-core CI machine (test/harness/file-seconds.json), so no long file starts late and forms
// the tail while the other worker idles. Jest's own sequencer orders by its cache of earlier
// durations, which a clean CI clone does not have; it then falls back to file size, and the two
// property files (4 lines each, ~290 worker-seconds) ran last: the 2026-11-30 rehearsal took
// 1,651 s where the same files in this order take 1,603 s (the sum of file times / 2 workers).
// Files not in the table keep jest's order (its cache, else size), ahead of the timed ones, so a
// new file is never the tail. Refresh the table after a full run on the CI machine:
//   node test/harness/sequencer.js --write    (reads reports/test-timings/last-full-run.json)
const fs = require("node:fs");
const path = require("node:path");
const Sequencer = require("@jest/test-sequencer").default;

const ROOT = path.join(__dirname, "..", "..");
const TABLE = path.join(__dirname, "file-seconds.json");

/** Seconds a file took in the last full CI run, by path relative to the repository root. */
function fileSeconds() {
  try {
    return JSON.parse(fs.readFileSync(TABLE, "utf8")).seconds;
  } catch {
    return {};
  }
}

class LongestFirstSequencer extends Sequencer {
  constructor(...args) {
    super(...args);
    this.seconds = fileSeconds();
  }

  /** Milliseconds: the table's figure, else jest's cached duration (undefined: neither). */
  time(test) {
    const s = this.seconds[path.relative(ROOT, test.path)];
    return typeof s === "number" ? s * 1000 : super.time(test);
  }
}

module.exports = LongestFirstSequencer;

if (require.main === module && process.argv[2] === "--write") {
  const report = JSON.parse(fs.readFileSync(path.join(ROOT, "reports", "test-timings", "last-full-run.json"), "utf8"));
  const seconds = Object.fromEntries(report.files.filter((f) => typeof f.seconds === "number").map((f) => [f.file, Math.round(f.seconds * 10) / 10]));
  fs.writeFileSync(TABLE, `${JSON.stringify({ from: `full run of ${report.date}, maxWorkers ${report.maxWorkers}, ${report.wallSeconds} s`, seconds }, null, 1)}\n`);
  console.log(`${TABLE}: ${Object.keys(seconds).length} files`);
}
