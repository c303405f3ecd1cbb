"use strict";
/**
 * Case (b), the floor: a raw cdktf stack with one aws_security_group (and its AWS provider block),
 * provider classes imported by path, synthesized into a temporary outdir.
 */
const fs = require("node:fs");
const path = require("node:path");
const { mark, removeDir, report, tempOutdir } = require("./common");

mark("start");
const { App, TerraformStack } = require("cdktf");
const { AwsProvider } = require("@cdktf/provider-aws/lib/provider");
const { SecurityGroup } = require("@cdktf/provider-aws/lib/security-group");
mark("required");

const outdir = tempOutdir();
try {
  const app = new App({ outdir });
  const stack = new TerraformStack(app, "trivial");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new SecurityGroup(stack, "sg", { name: "bench-floor", description: "bench floor" });
  mark("constructed");
  app.synth();
  mark("synthesized");
  if (!fs.existsSync(path.join(outdir, "stacks", "trivial", "cdk.tf.json"))) throw new Error("synth wrote no cdk.tf.json");
  report({ resourcesPerStack: 1 });
} finally {
  removeDir(outdir);
}
