#!/usr/bin/env node
// Mutation testing of the node shell scripts (issue 15 item 5), run by scripts/mutation.js.
//
// For each script in SCRIPTS: every executable line (not blank, not a comment, not a bare
// keyword such as `fi` or `done`) becomes one mutant by deleting it, and each line holding a test
// operator becomes one more by flipping it (`=` / `!=`, `-eq` / `-ne`, `-lt` / `-ge`, `-gt` / `-le`,
// `-z` / `-n`, `&&` / `||`). Each mutant is written into a sandbox copy of the project (the real
// file is never touched) and the script's end-to-end tests run there with `--bail`, each file stopping
// at its first failing test (HA_CP_FAIL_FAST); a mutant is killed when they fail. Output: JSON with
// the counts, score and surviving mutants per script.
//
//   node scripts/mutate-scripts.js --out FILE [script.sh ...]
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { codeHash } = require("./mutation-hash");

const ROOT = path.resolve(__dirname, "..");
const SCRIPT_DIR = "lib/bootstrap/scripts";

/** Script → the end-to-end test files that run it (and an optional `-t` filter). */
const SCRIPTS = {
  "etcd-install.sh": { tests: ["test/bootstrap/etcd/etcd-scripts.e2e.test.ts", "test/bootstrap/etcd/etcd-install.e2e.test.ts"], filter: "ha-etcd-install" },
  "ha-publish-metrics.sh": { tests: ["test/monitoring/publish-metrics.e2e.test.ts"] },
  "ha-fetch-secrets.sh": { tests: ["test/bootstrap/fetch-secrets.e2e.test.ts"] },
  "ha-roll-etcd.sh": { tests: ["test/operations/roll-etcd.e2e.test.ts"] },
  "ha-kube-binaries.sh": { tests: ["test/bootstrap/kubernetes-mirror.e2e.test.ts"] },
  "ha-fetch-bundle.sh": { tests: ["test/bootstrap/bundle/fetch-bundle.e2e.test.ts"] },
  "ha-scale-in.sh": { tests: ["test/operations/scale-in.e2e.test.ts"] },
  "ha-ship-audit-logs.sh": { tests: ["test/monitoring/audit-shipping.e2e.test.ts"] },
  "ha-etcd-drift.sh": { tests: ["test/operations/etcd-drift.e2e.test.ts"] },
  "ha-complete-lifecycle.sh": { tests: ["test/bootstrap/complete-lifecycle.e2e.test.ts"] },
  "ha-etcd-trust.sh": { tests: ["test/bootstrap/etcd/etcd-trust.e2e.test.ts", "test/bootstrap/etcd/etcd-trust-leader.e2e.test.ts"] },
};

const KEYWORD_ONLY = /^(fi|done|esac|then|else|do|;;|\}|\{|\)|in)\s*(#.*)?$/;
const FLIPS = [
  [/ != /, " = "],
  [/ = (?!\()/, " != "],
  [/ -eq /, " -ne "],
  [/ -ne /, " -eq "],
  [/ -lt /, " -ge "],
  [/ -ge /, " -lt "],
  [/ -gt /, " -le "],
  [/ -le /, " -gt "],
  [/\[ -z /, "[ -n "],
  [/\[ -n /, "[ -z "],
  [/ && /, " || "],
  [/ \|\| /, " && "],
];

/** The mutants of `text`: `{ id, line, kind, code, mutated }`. */
function mutantsOf(text) {
  const lines = text.split("\n");
  const out = [];
  let heredoc = undefined;
  lines.forEach((raw, i) => {
    const code = raw.trim();
    if (heredoc !== undefined) {
      if (code === heredoc) heredoc = undefined;
      return;
    }
    const hd = /<<-?'?(\w+)'?/.exec(code);
    if (i === 0 || code === "" || code.startsWith("#") || KEYWORD_ONLY.test(code)) return;
    const replace = (line) => [...lines.slice(0, i), line, ...lines.slice(i + 1)].join("\n");
    // A line ending in a continuation or opening a block cannot be deleted alone without a syntax
    // error that any test notices; delete it only when it stands alone.
    // A case arm's pattern (`amd64) ...`) cannot go either.
    const opensBlock = /^[\w*|. "$-]+\)\s/.test(code) || /(\bthen|\bdo|\{|\\|\(|<<-?'?\w+'?|\|)\s*$/.test(code) || /^(if|while|until|for|case|elif)\b/.test(code) || /\(\)\s*\{?$/.test(code);
    if (!opensBlock) out.push({ id: `delete@${i + 1}`, line: i + 1, kind: "delete line", code, mutated: replace(raw.replace(/\S.*$/, ":")) });
    for (const [re, to] of FLIPS) {
      if (re.test(raw)) {
        const from = re.source.replace(/\\/g, "").replace("(?!()", "").trim();
        out.push({ id: `flip ${from} to ${to.trim()}@${i + 1}`, line: i + 1, kind: `flip ${from} to ${to.trim()}`, code, mutated: replace(raw.replace(re, to)) });
        break;
      }
    }
    if (hd) heredoc = hd[1];
  });
  return out;
}

/** A copy of the project without node_modules (linked) to mutate in. */
function sandbox() {
  const dir = path.join(ROOT, ".shell-mutation-tmp", `sandbox-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of fs.readdirSync(ROOT)) {
    if ([".git", ".stryker-tmp", ".shell-mutation-tmp", "node_modules", "dist", "reports", "cdktf.out"].includes(entry)) continue;
    fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

function runTests(dir, spec) {
  const args = [path.join(ROOT, "node_modules/jest/bin/jest.js"), "--ci", "--bail", "--silent", ...(spec.filter ? ["-t", spec.filter] : []), ...spec.tests];
  // HA_CP_FAIL_FAST: a file's tests stop at its first failure (test/harness/fail-fast-environment.js);
  // one failure is enough to kill a mutant, and survivors still run every test.
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: "utf8", env: { ...process.env, CI: "true", HA_CP_FAIL_FAST: "1" }, timeout: 15 * 60_000 });
  return { passed: r.status === 0, output: `${r.stdout}\n${r.stderr}` };
}

function main() {
  const argv = process.argv.slice(2);
  const outIdx = argv.indexOf("--out");
  if (outIdx < 0) throw new Error("usage: mutate-scripts.js --out FILE [script.sh ...]");
  const out = argv[outIdx + 1];
  const chosen = argv.filter((a, i) => a.endsWith(".sh") && i !== outIdx + 1);
  const names = chosen.length > 0 ? chosen : Object.keys(SCRIPTS);
  const dir = sandbox();
  const modules = {};
  try {
    for (const name of names) {
      const spec = SCRIPTS[name];
      if (!spec) throw new Error(`no tests known for ${name}: add it to SCRIPTS in scripts/mutate-scripts.js`);
      const file = path.join(dir, SCRIPT_DIR, name);
      const original = fs.readFileSync(file, "utf8");
      const baseline = runTests(dir, spec);
      if (!baseline.passed) throw new Error(`the tests of ${name} fail without any mutant:\n${baseline.output.slice(-3000)}`);
      const counts = { killed: 0, survived: 0, timeout: 0, noCoverage: 0, compileError: 0 };
      const survivors = [];
      const mutants = mutantsOf(original);
      for (const [k, m] of mutants.entries()) {
        fs.writeFileSync(file, m.mutated);
        const r = runTests(dir, spec);
        fs.writeFileSync(file, original);
        if (r.passed) {
          counts.survived += 1;
          survivors.push({ id: m.id, status: "Survived", mutator: m.kind, line: m.line, code: m.code });
        } else counts.killed += 1;
        console.log(`${name} ${k + 1}/${mutants.length} ${m.id} ${r.passed ? "SURVIVED" : "killed"}`);
      }
      const valid = counts.killed + counts.survived;
      modules[path.join(SCRIPT_DIR, name)] = {
        codeSha256: codeHash(path.join(ROOT, SCRIPT_DIR, name)),
        ...counts,
        scorePercent: valid === 0 ? 100 : Math.round((counts.killed / valid) * 10000) / 100,
        tests: spec.tests,
        survivors,
      };
      fs.writeFileSync(out, JSON.stringify({ tool: "scripts/mutate-scripts.js (delete a line; flip a test operator)", modules }, null, 2) + "\n");
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.writeFileSync(out, JSON.stringify({ tool: "scripts/mutate-scripts.js (delete a line; flip a test operator)", modules }, null, 2) + "\n");
}

if (require.main === module) main();
module.exports = { mutantsOf };
