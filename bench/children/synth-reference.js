"use strict";
/**
 * Cases (a), (c) and (d): synthesizes `--clusters N` copies of the reference cluster
 * (`HaClusterStack` from examples/ha-cluster: 3 zones, 3 API servers, 3 etcd members, NLB) into a
 * temporary outdir, each in its own stack with a distinct stack id and cluster name.
 *
 * `--root-imports` (case c) first loads the provider packages by their root, the way a naive user
 * writing `import { ... } from "@cdktf/provider-aws"` would, then does exactly the same synth.
 */
const fs = require("node:fs");
const path = require("node:path");
const { ROOT, arg, flag, mark, removeDir, report, tempOutdir } = require("./common");

mark("start");
const clusters = Number(arg("--clusters", "1"));
if (!Number.isInteger(clusters) || clusters < 1) throw new Error(`--clusters must be a positive integer, got ${arg("--clusters")}`);

if (flag("--root-imports")) {
  // Deliberate root imports: case (c) measures what they cost (the lint rule exists to prevent them).
  // eslint-disable-next-line local/no-provider-root-require
  require("@cdktf/provider-aws");
  // eslint-disable-next-line local/no-provider-root-require
  require("@cdktf/provider-tls");
  // eslint-disable-next-line local/no-provider-root-require
  require("@cdktf/provider-kubernetes");
  mark("providerRoots");
}

const { App } = require("cdktf");
const { HaClusterStack } = require(path.join(ROOT, "dist", "examples", "ha-cluster", "main.js"));
mark("required");

const outdir = tempOutdir();
let stackIds;
try {
  const app = new App({ outdir });
  stackIds = [];
  for (let i = 0; i < clusters; i++) {
    // One cluster keeps the example's own ids; several get distinct stack ids and cluster names.
    const id = clusters === 1 ? "ha-cluster" : `ha-cluster-${i}`;
    new HaClusterStack(app, id, clusters === 1 ? {} : { clusterName: `bench-${i}` });
    stackIds.push(id);
  }
  mark("constructed");
  app.synth();
  mark("synthesized");
  const missing = stackIds.filter((id) => !fs.existsSync(path.join(outdir, "stacks", id, "cdk.tf.json")));
  if (missing.length > 0) throw new Error(`synth wrote no cdk.tf.json for ${missing.join(", ")}`);
  const first = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stackIds[0], "cdk.tf.json"), "utf8"));
  let resources = 0;
  for (const byName of Object.values(first.resource ?? {})) resources += Object.keys(byName).length;
  report({ clusters, resourcesPerStack: resources });
} finally {
  removeDir(outdir);
}
