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
// `--jobs N` tests N mutants at a time, each in its own sandbox (default 1). The end-to-end files
// already run two at a time beside each other in `npm test`, and the ones run here take their ports
// from the process id or the kernel, so two copies of one file do not collide. A kill that names no
// failing test (a hook that timed out, a file that did not start: possibly the machine's load) is
// checked again alone at the end (test/harness/fail-fast-environment.js reports which failed),
// except a hook failure that carries bash's own diagnostic of the mutated script (see killedBy).
//
//   node scripts/mutate-scripts.js --out FILE [--jobs N] [script.sh ...]
"use strict";
const { spawn } = require("node:child_process");
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
  // etcd-member.e2e's other tests never run these scripts; they only fail under load (a first
  // --jobs=2 run of ha-etcd-backup counted kills by its restart and replacement tests), so `-t backup`
  // keeps its backup-and-restore test and every test of backup-restore.e2e (its describe names "backup").
  "ha-etcd-backup.sh": { tests: ["test/etcd/backup-restore.e2e.test.ts", "test/bootstrap/etcd/etcd-member.e2e.test.ts"], filter: "backup" },
  // etcd-restore.e2e runs ha-etcd-restore on its own (every way of naming a snapshot, each refusal).
  "ha-etcd-restore.sh": { tests: ["test/etcd/etcd-restore.e2e.test.ts", "test/etcd/backup-restore.e2e.test.ts", "test/bootstrap/etcd/etcd-member.e2e.test.ts"], filter: "backup|ha-etcd-restore on its own" },
  "ha-restore.sh": { tests: ["test/operations/restore.e2e.test.ts"] },
  // restore.e2e only checks the command line ha-restore sends; the control-plane tier runs the steps
  // on real nodes (its files take the machine-wide cluster lock, so --jobs=2 runs them one at a time).
  "ha-restore-node.sh": { tests: ["test/controlplane/restore.cp.test.ts"] },
  "ha-claim-slot.sh": { tests: ["test/bootstrap/claim-slot.e2e.test.ts", "test/bootstrap/etcd/etcd-scripts.e2e.test.ts"] },
  "etcd-member-bootstrap.sh": { tests: ["test/bootstrap/etcd/etcd-scripts.e2e.test.ts", "test/bootstrap/etcd/etcd-member.e2e.test.ts"] },
  "ha-kube-configure.sh": { tests: ["test/bootstrap/kubernetes/static-pod-files.e2e.test.ts", "test/bootstrap/secrets-argv.e2e.test.ts", "test/bootstrap/kubernetes/kube-configure.e2e.test.ts"] },
  // ha-kube-install.sh has no entry: only the boot tier runs it (apt from pkgs.k8s.io, kernel
  // modules, containerd), minutes per mutant in a container.
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

/** A copy of the project without node_modules (linked) to mutate in; `n` tells the copies of one run apart. */
function sandbox(n = 0) {
  const dir = path.join(ROOT, ".shell-mutation-tmp", `sandbox-${process.pid}-${n}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of fs.readdirSync(ROOT)) {
    if ([".git", ".stryker-tmp", ".shell-mutation-tmp", "node_modules", "dist", "reports", "cdktf.out"].includes(entry)) continue;
    fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/**
 * Runs `command` in its own process group: resolves `{ code, output }` (the last 20,000 characters of
 * stdout and stderr). When it exits, whatever of its group is still running (an emulator or etcd a
 * test did not stop) is killed; after `backstopMs` the whole group is. A mutant that makes a script
 * hang is stopped by the tests' own timeouts (roll-etcd's are 15 min), the backstop is for the rest;
 * killing jest alone had left the emulator of its file running.
 */
function runInGroup(command, args, options, backstopMs) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const killGroup = () => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Nothing of the group is left.
      }
    };
    let output = "";
    const keep = (chunk) => {
      output = (output + chunk).slice(-20000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(killGroup, backstopMs);
    // At exit, not at close: a leftover that holds the output pipes would keep them open.
    child.on("exit", () => {
      clearTimeout(timer);
      killGroup();
    });
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** Runs the script's tests in `dir`: resolves `{ passed, output, failures }` (failures: see {@link killedBy}). */
function runTests(dir, spec) {
  const args = [path.join(ROOT, "node_modules/jest/bin/jest.js"), "--ci", "--bail", "--silent", ...(spec.filter ? ["-t", spec.filter] : []), ...spec.tests];
  // HA_CP_FAIL_FAST: a file's tests stop at its first failure (test/harness/fail-fast-environment.js);
  // one failure is enough to kill a mutant, and survivors still run every test. The environment
  // writes what failed to the report file.
  const report = path.join(dir, ".fail-fast-report.jsonl");
  fs.rmSync(report, { force: true });
  // Each sandbox its own temp dir: the suite's global teardown fails a run that leaves new entries in
  // the temp dir, and with a shared one it would see another sandbox's run as this run's leftovers.
  const tmp = path.join(dir, ".tmp");
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  return runInGroup(process.execPath, args, { cwd: dir, env: { ...process.env, CI: "true", HA_CP_FAIL_FAST: "1", HA_CP_FAIL_FAST_REPORT: report, TMPDIR: tmp } }, 20 * 60_000).then(({ code, output }) => {
    const failures = fs.existsSync(report) ? fs.readFileSync(report, "utf8") : "";
    fs.rmSync(report, { force: true });
    return { passed: code === 0, output, failures };
  });
}

/**
 * The test whose own failure killed a mutant, from the fail-fast environment's report (JSON lines):
 * the first failure, when it is a test's and not a timeout. A hook's failure (an emulator that did
 * not start in `beforeAll`), a test's timeout, or nothing reported (a file that did not run) may be
 * the machine's load as much as the mutant: undefined, unless the hook's message holds bash's own
 * diagnostic of the mutated script `script` (`<script>: line N: X: unbound variable`, a syntax
 * error, a command not found, an unset `${X:?}`), which no load produces: the mutant broke the
 * script the hook ran (a cluster the file starts with it), named "<hook> (bash: …)".
 */
function killedBy(failures, script) {
  const first = firstFailure(failures);
  if (first?.kind === "test") return first.timeout ? undefined : first.name;
  if (first?.kind === "hook" && script !== undefined) {
    const diagnostic = bashDiagnostic(`${first.detail ?? ""}`, script);
    if (diagnostic !== undefined) return `${first.hook} (bash: ${diagnostic})`;
  }
  return undefined;
}

/** bash's diagnostic of script `script` in `text` (`<path>/<script>: line N: …`), when it is one no machine load causes. */
function bashDiagnostic(text, script) {
  const name = script.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const m = new RegExp(`(?:^|[/\\s])${name}: line \\d+: (?:[^|]*?: unbound variable|syntax error[^|]*|[^|]*?: command not found|[^|]*?: parameter null or not set)`).exec(text);
  return m ? m[0].replace(/^[/\s]/, "").trim() : undefined;
}

/** The first line of the first failure's message (what the test asserted), or "". */
function firstMessage(failures) {
  return firstFailure(failures)?.message ?? "";
}

/** How a run killed its mutant: "test name: first line of what it asserted", or undefined when no test's own failure (or hook's bash diagnostic of `script`) is reported. */
function killLabel(failures, script) {
  const by = killedBy(failures, script);
  return by === undefined ? undefined : `${by}: ${firstMessage(failures)}`;
}

/** Under a kill's log line: the whole failure message on one line, when the report has it. */
function logDetail(r) {
  const detail = r.passed ? undefined : firstFailure(r.failures)?.detail;
  if (detail) console.log(`    ${detail}`);
}

/** The first entry of the fail-fast environment's report (JSON lines), or undefined. */
function firstFailure(failures) {
  return failures
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l))[0];
}

/** `--name value` from argv, or undefined. */
function option(argv, name) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Writes `mutated` as the script in `dir`, runs its tests and puts the original back. */
async function tryMutant(dir, name, spec, original, mutated) {
  const file = path.join(dir, SCRIPT_DIR, name);
  fs.writeFileSync(file, mutated);
  try {
    return await runTests(dir, spec);
  } finally {
    fs.writeFileSync(file, original);
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const out = option(argv, "--out");
  if (out === undefined) throw new Error("usage: mutate-scripts.js --out FILE [--jobs N] [script.sh ...]");
  const jobs = Number(option(argv, "--jobs") ?? "1");
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a positive integer, got ${option(argv, "--jobs")}`);
  const chosen = argv.filter((a, i) => a.endsWith(".sh") && argv[i - 1] !== "--out");
  const names = chosen.length > 0 ? chosen : Object.keys(SCRIPTS);
  for (const name of names) if (!SCRIPTS[name]) throw new Error(`no tests known for ${name}: add it to SCRIPTS in scripts/mutate-scripts.js`);
  const dirs = Array.from({ length: jobs }, (_, n) => sandbox(n));
  const modules = {};
  const write = () => fs.writeFileSync(out, JSON.stringify({ tool: "scripts/mutate-scripts.js (delete a line; flip a test operator)", modules }, null, 2) + "\n");
  try {
    for (const name of names) {
      const spec = SCRIPTS[name];
      const original = fs.readFileSync(path.join(dirs[0], SCRIPT_DIR, name), "utf8");
      const baseline = await runTests(dirs[0], spec);
      if (!baseline.passed) throw new Error(`the tests of ${name} fail without any mutant:\n${baseline.output.slice(-3000)}`);
      const mutants = mutantsOf(original);
      const passed = new Array(mutants.length);
      const named = new Array(mutants.length);
      let next = 0;
      let done = 0;
      // Each sandbox takes the next mutant when it frees.
      await Promise.all(
        dirs.map(async (dir) => {
          while (next < mutants.length) {
            const k = next++;
            const r = await tryMutant(dir, name, spec, original, mutants[k].mutated);
            passed[k] = r.passed;
            named[k] = r.passed ? undefined : killedBy(r.failures, name);
            done += 1;
            // The test that killed it, so a kill by a flaky test can be told from a real one.
            const by = r.passed ? "" : ` by ${killLabel(r.failures, name) ?? "(no failing test named: rechecked alone at the end)"}`;
            console.log(`${name} ${done}/${mutants.length} ${mutants[k].id} ${r.passed ? "SURVIVED" : "killed"}${by}`);
            logDetail(r);
          }
        }),
      );
      // A kill that names no failing test may be the machine's load, not the mutant: such a mutant
      // runs once more alone and counts as killed only if it fails again.
      for (const [k, m] of mutants.entries()) {
        if (passed[k] !== false || named[k] !== undefined) continue;
        const r = await tryMutant(dirs[0], name, spec, original, m.mutated);
        passed[k] = r.passed;
        console.log(`${name} recheck ${m.id} ${r.passed ? "SURVIVED" : "killed"} (${killLabel(r.failures, name) ?? `no test's own failure; output ends: ${r.output.slice(-400).replace(/\s+/g, " ")}`})`);
        logDetail(r);
      }
      const counts = { killed: 0, survived: 0, timeout: 0, noCoverage: 0, compileError: 0 };
      const survivors = [];
      mutants.forEach((m, k) => {
        if (passed[k]) {
          counts.survived += 1;
          survivors.push({ id: m.id, status: "Survived", mutator: m.kind, line: m.line, code: m.code });
        } else counts.killed += 1;
      });
      const valid = counts.killed + counts.survived;
      modules[path.join(SCRIPT_DIR, name)] = {
        // The text measured: the sandbox's copy (restored after each mutant), not the working tree, which may change meanwhile.
        codeSha256: codeHash(path.join(dirs[0], SCRIPT_DIR, name)),
        ...counts,
        scorePercent: valid === 0 ? 100 : Math.round((counts.killed / valid) * 10000) / 100,
        tests: spec.tests,
        survivors,
      };
      write();
    }
  } finally {
    // A test's stray process may still write in a sandbox as it goes: retry, and never let the
    // clean-up lose the results (written above, script by script).
    for (const dir of dirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 500 });
      } catch (err) {
        console.error(`could not remove ${dir}: ${err.message}`);
      }
    }
  }
  write();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
module.exports = { mutantsOf, killedBy, firstMessage, runInGroup };
