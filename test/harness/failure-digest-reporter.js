// Jest reporter: after everything else, a short digest of every failed test (file, full title and
// the first and last lines of its message without colour codes), so that the end of a long CI
// log, which is often all that is kept of it, still names each failure and its cause. Jest's own
// summary prints each failure in full, and one long message (a boot-tier report) cut in the
// middle hid why the stacked boot failed in a CI run.
const path = require("node:path");

/** ANSI colour codes. */
const ANSI = /\u001b\[[0-9;]*m/g;
/** Lines kept from the start and the end of each failure message. */
const HEAD = 6;
const TAIL = 4;
/** Characters kept of one line. */
const WIDTH = 300;

/** The first HEAD and last TAIL non-blank lines of `message` that are not stack or code frames. */
function digest(message) {
  const lines = message
    .replace(ANSI, "")
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "" && !/^\s+at /.test(l) && !/^\s*(>?\s*\d+ \||\|)/.test(l))
    .map((l) => (l.length > WIDTH ? `${l.slice(0, WIDTH)}…` : l));
  if (lines.length <= HEAD + TAIL) return lines;
  return [...lines.slice(0, HEAD), `    … (${lines.length - HEAD - TAIL} lines)`, ...lines.slice(-TAIL)];
}

class FailureDigestReporter {
  constructor(globalConfig) {
    this.root = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const out = [];
    for (const file of results.testResults) {
      const rel = path.relative(this.root, file.testFilePath);
      if (file.testExecError) out.push(`${rel}: the file failed to run`, ...digest(file.testExecError.message ?? String(file.testExecError)).map((l) => `    ${l}`));
      for (const t of file.testResults) {
        if (t.status !== "failed") continue;
        out.push(`${rel} › ${t.fullName}`);
        for (const m of t.failureMessages) out.push(...digest(m).map((l) => `    ${l}`));
      }
    }
    if (out.length === 0) return;
    process.stderr.write(`\n${"=".repeat(100)}\nFAILURE DIGEST (first and last lines of each failed test's message):\n${out.join("\n")}\n${"=".repeat(100)}\n`);
  }
}

module.exports = FailureDigestReporter;
module.exports.digest = digest;
