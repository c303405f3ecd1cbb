// Jest global setup (runs once, in the parent process, before any worker starts).
// 1. A per-run temp root: TMPDIR points into it, so everything the tests create through
//    os.tmpdir() (cdktf Testing outdirs, terraform dirs, harness dirs) lands there and the global
//    teardown removes it in one step.
// 2. The real components built by scripts/setup-test-env.sh go first on PATH (etcd 3.5.21,
//    Kubernetes 1.33.5 binaries), so every worker runs the versions the nodes install.
// 3. A snapshot of the system temp dir, so the teardown can tell whether the run left anything.
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

module.exports = async function globalSetup() {
  const systemTmp = os.tmpdir();
  const runDir = fs.mkdtempSync(path.join(systemTmp, "ha-cp-test-run-"));
  const tmp = path.join(runDir, "tmp");
  fs.mkdirSync(tmp);
  const before = fs.readdirSync(systemTmp).filter((e) => e !== path.basename(runDir));
  fs.writeFileSync(path.join(runDir, "system-tmp-before.json"), JSON.stringify({ systemTmp, entries: before }));
  process.env.HA_CP_TEST_RUN_DIR = runDir;
  process.env.HA_CP_SYSTEM_TMPDIR = systemTmp;
  process.env.TMPDIR = tmp;

  const out = execFileSync("bash", [path.join(__dirname, "..", "..", "scripts", "setup-test-env.sh"), "--print-env"], { encoding: "utf8" });
  const bins = [];
  for (const line of out.split("\n")) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    process.env[m[1]] = m[2];
    if (m[1] === "HA_CP_ETCD_BIN" || m[1] === "HA_CP_KUBE_BIN") bins.push(m[2]);
  }
  // The plan and apply tiers plan with the AWS provider and the tls stand-in (nothing of tls cut out).
  const planMirror = process.env.HA_CP_PLAN_MIRROR;
  if (!process.env.TF_PLUGIN_MIRROR && planMirror && fs.existsSync(path.join(planMirror, ".complete"))) {
    process.env.TF_PLUGIN_MIRROR = planMirror;
  }
  const present = bins.filter((b) => fs.existsSync(path.join(path.dirname(b), ".complete")));
  if (present.length > 0) process.env.PATH = `${present.join(":")}:${process.env.PATH}`;
};
