"use strict";
/**
 * Case (f): synthesizes the reference cluster into a temporary outdir, then runs the provider-plan
 * harness on it (`terraform init` from the local mirror, `validate`, `plan`; no network, no AWS
 * account). `--harness` is the compiled test/harness/provider-plan.js (bench/run.js builds it).
 */
const fs = require("node:fs");
const path = require("node:path");
const { ROOT, arg, mark, removeDir, report, tempOutdir } = require("./common");

async function main() {
  mark("start");
  const harness = arg("--harness");
  if (!harness) throw new Error("--harness <compiled provider-plan.js> is required");
  const { planSynthesizedStack } = require(harness);
  const { App } = require("cdktf");
  const { HaClusterStack } = require(path.join(ROOT, "dist", "examples", "ha-cluster", "main.js"));
  mark("required");
  const outdir = tempOutdir();
  let synth;
  try {
    const app = new App({ outdir });
    new HaClusterStack(app, "ha-cluster");
    mark("constructed");
    app.synth();
    mark("synthesized");
    synth = fs.readFileSync(path.join(outdir, "stacks", "ha-cluster", "cdk.tf.json"), "utf8");
  } finally {
    removeDir(outdir);
  }
  const before = performance.now();
  const result = await planSynthesizedStack(synth);
  const planMs = performance.now() - before;
  mark("planned");
  report({ planMs, planResourceCount: result.resourceCount, planWarnings: result.validateJson.warning_count });
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
