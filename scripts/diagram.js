// `npm run diagram`: synthesizes the reference example (examples/ha-cluster, the app cdktf.json
// runs) with a real cdktf App into a temp dir, renders its cdk.tf.json with renderMermaid and writes
// docs/architecture.mmd. Builds dist/ first when it is missing or older than a source file.
// test/diagram/diagram.test.ts regenerates the file in memory and fails when the committed copy is stale.
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const STACK = "ha-cluster";
const OUT = path.join(root, "docs", "architecture.mmd");

function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (/\.(ts|sh)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function mtime(file) {
  return fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0;
}

const renderer = path.join(root, "dist", "lib", "diagram", "mermaid.js");
const example = path.join(root, "dist", "examples", STACK, "main.js");
const built = Math.min(mtime(renderer), mtime(example));
if (built === 0 || built < Math.max(newestSource(path.join(root, "lib")), newestSource(path.join(root, "examples")))) {
  console.error("diagram: building dist/ (npm run build)");
  execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
}

const { App } = require("cdktf");
const { HaClusterStack } = require(example);
const { renderMermaid } = require(renderer);

const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "ha-cp-diagram-"));
try {
  const app = new App({ outdir });
  new HaClusterStack(app, STACK);
  app.synth();
  const json = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", STACK, "cdk.tf.json"), "utf8"));
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, renderMermaid(json));
  console.error(`diagram: wrote ${path.relative(root, OUT)}`);
} finally {
  fs.rmSync(outdir, { recursive: true, force: true });
}
