// Jest reporter: prints every `NOT RUN` tier banner recorded by describeTier (test/harness/tiers.ts)
// at the end of the run, so a skipped tier is visible in `npm test`'s output however many test
// files ran (jest otherwise shows a skipped file's console output only with --verbose).
const fs = require("node:fs");
const path = require("node:path");

class TierBannerReporter {
  onRunComplete() {
    const dir = process.env.HA_CP_TEST_RUN_DIR;
    if (!dir) return;
    const file = path.join(dir, "tier-banners.txt");
    if (!fs.existsSync(file)) return;
    const banners = [...new Set(fs.readFileSync(file, "utf8").split("\n").filter(Boolean))];
    if (banners.length === 0) return;
    process.stderr.write(`\n${"*".repeat(100)}\nTIERS NOT RUN (${banners.length}):\n${banners.join("\n")}\n${"*".repeat(100)}\n`);
  }
}
module.exports = TierBannerReporter;
