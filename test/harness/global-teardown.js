// Jest global teardown: remove the per-run temp root and check that the run left nothing in the
// system temp dir. In CI (where nothing else runs) a leftover fails the run; locally, where other
// programs also write to /tmp, it is reported.
const fs = require("node:fs");
const path = require("node:path");

module.exports = async function globalTeardown() {
  const runDir = process.env.HA_CP_TEST_RUN_DIR;
  if (!runDir || !fs.existsSync(runDir)) return;
  const { systemTmp, entries } = JSON.parse(fs.readFileSync(path.join(runDir, "system-tmp-before.json"), "utf8"));
  fs.rmSync(runDir, { recursive: true, force: true });
  const before = new Set(entries);
  const left = fs.readdirSync(systemTmp).filter((e) => !before.has(e));
  if (left.length === 0) return;
  const shown = left.slice(0, 20).join(", ") + (left.length > 20 ? `, … (${left.length} in all)` : "");
  const message = `the test run left ${left.length} new entr${left.length === 1 ? "y" : "ies"} in ${systemTmp}: ${shown}`;
  if (/^(1|true|yes)$/i.test(process.env.CI ?? "")) throw new Error(message);
  console.warn(`\nwarning: ${message} (may be other programs' files outside CI)`);
};
