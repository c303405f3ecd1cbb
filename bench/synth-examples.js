"use strict";
/**
 * Writes the synthesized output of every example (dist/examples/<name>/main.js, as `cdktf synth`
 * runs it) under OUTDIR/<name>/, for comparing two builds byte for byte:
 *
 *   node bench/synth-examples.js /tmp/before      # on the old build
 *   node bench/synth-examples.js /tmp/after       # on the new build
 *   diff -r /tmp/before /tmp/after                # nothing: same resources, same node files
 *
 * Node files are inside the JSON (user data gzip + base64, bundles as base64 .tar.gz, both
 * deterministic), so equal JSON means equal files on the nodes. Run `npm run build` first.
 */
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const out = process.argv[2];
if (!out) throw new Error("usage: node bench/synth-examples.js OUTDIR");
const examples = path.join(ROOT, "dist", "examples");
for (const name of fs.readdirSync(examples).sort()) {
  const main = path.join(examples, name, "main.js");
  if (!fs.existsSync(main)) continue;
  const dir = path.resolve(out, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  execFileSync(process.execPath, [main], { cwd: ROOT, env: { ...process.env, CDKTF_OUTDIR: dir }, stdio: ["ignore", "ignore", "inherit"] });
  // manifest.json carries nothing of the stacks' content but does vary with the cdktf run: keep stacks/ only.
  for (const f of fs.readdirSync(dir)) if (f !== "stacks") fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  // The local backend's state path is absolute: the checkout's location is no difference.
  for (const stack of fs.readdirSync(path.join(dir, "stacks"))) {
    const file = path.join(dir, "stacks", stack, "cdk.tf.json");
    if (fs.existsSync(file)) fs.writeFileSync(file, fs.readFileSync(file, "utf8").split(ROOT).join("<checkout>"));
  }
  process.stdout.write(`${name}: ${path.relative(process.cwd(), dir)}\n`);
}
