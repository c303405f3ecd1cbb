#!/usr/bin/env node
// Mutation testing (issue 15 item 5): `npm run test:mutation [-- --ts-only | --shell-only [--jobs=N] [script.sh ...]]`.
//
// 1. Stryker (stryker.config.json) mutates the pure TypeScript modules and runs the unit tests that
//    mirror them (stryker.jest.config.js), incrementally: a rerun only tests mutants in changed code
//    or covered by changed tests (test/mutation/stryker-incremental.json).
// 2. scripts/mutate-scripts.js deletes or alters one line at a time of the node shell scripts and
//    runs each script's end-to-end tests against every mutant.
// The results land in test/mutation-results.json (per module: counts, score, the source's SHA-256,
// and every surviving mutant with its reason from test/mutation/equivalent.json); the unit test
// test/mutation/results.test.ts fails when a score is under the target or a recorded hash no
// longer matches its source, so the results cannot silently rot.
//
// Not part of `npm test`: a full run takes about an hour on two cores.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const RESULTS = path.join(ROOT, "test/mutation-results.json");
const EQUIVALENT = path.join(ROOT, "test/mutation/equivalent.json");
const REPORT = path.join(ROOT, "reports/mutation/mutation.json");
/**
 * Each group: the modules Stryker mutates and the unit tests that mirror them (the only tests run
 * against their mutants; all of them, `--bail`, unless `coverage` says "perTest"). Its incremental
 * file lets a rerun test only what changed.
 */
const GROUPS = {
  quorum: { mutate: ["lib/etcd/quorum.ts"], tests: ["test/etcd/etcd-cluster.test.ts"] },
  timing: { mutate: ["lib/loadbalancer/timing.ts"], tests: ["test/validation/load-balancer.test.ts", "test/loadbalancer/api-load-balancer.test.ts"] },
  cidr: { mutate: ["lib/network/cidr.ts"], tests: ["test/network/cidr.test.ts"] },
  names: { mutate: ["lib/names.ts"], tests: ["test/names.test.ts"] },
  "etcd-config": { mutate: ["lib/bootstrap/etcd/config.ts"], tests: ["test/bootstrap/etcd/etcd-renderers.test.ts", "test/bootstrap/etcd/etcd-config.test.ts"] },
  // components.test.ts checks the renderers against kubeadm 1.33.5's own manifests and the CIS items;
  // cis.test.ts synthesizes the reference stack at load, too slow to rerun for each mutant.
  components: { mutate: ["lib/bootstrap/kubernetes/components.ts"], tests: ["test/bootstrap/kubernetes/components.test.ts"] },
  // test/pki/spec.test.ts checks the specs against the Kubernetes PKI tables; the construct tests
  // (cluster-pki, private-ca) synthesize the reference stack at load, so every mutant is "static"
  // for them and each would rerun them all.
  "pki-spec": { mutate: ["lib/pki/spec.ts"], tests: ["test/pki/spec.test.ts"] },
  // Each test builds and synthesizes its own small stack: only the tests that reach a mutant run.
  // 17 files, ~1,200 mutants: measure them in chunks with --mutate=... (see main).
  policy: { mutate: ["lib/policy/rules/*.ts"], tests: ["test/policy/rules.test.ts", "test/policy/security-rules.test.ts", "test/policy/rule-reasons.test.ts"], coverage: "perTest" },
  // test/validate.test.ts mirrors the helpers with outside tables; test/validation/*.test.ts would
  // cover them too, but they synthesize whole control planes per test, too slow per mutant.
  validate: { mutate: ["lib/validate.ts"], tests: ["test/validate.test.ts"], coverage: "perTest" },
};
/**
 * The files a group's `mutate` patterns name. A pattern is a path, or `dir/*.ext` (the only glob
 * the groups use): every file of `dir` (not its subfolders) whose name ends in `.ext`.
 */
function expand(patterns) {
  return patterns.flatMap((pattern) => {
    if (!pattern.includes("*")) return [pattern];
    const m = /^(.*)\/\*(\.[A-Za-z0-9]+)$/.exec(pattern);
    if (!m) throw new Error(`scripts/mutation.js: unsupported pattern ${pattern} (a path or dir/*.ext)`);
    return fs
      .readdirSync(path.join(ROOT, m[1]), { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(m[2]))
      .map((e) => `${m[1]}/${e.name}`)
      .sort();
  });
}

/** The per-module target of issue 15. */
const TARGET_PERCENT = 85;

const { codeHash } = require("./mutation-hash");

function readJson(file, fallback) {
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : fallback;
}

/** Runs `command` with TMPDIR inside the project, so nothing lands in the system temp dir. */
function runWithPrivateTmp(command, args, env = {}, tmpRoot = path.join(ROOT, ".stryker-tmp")) {
  fs.mkdirSync(tmpRoot, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(tmpRoot, "tmp-"));
  try {
    const r = spawnSync(command, args, { cwd: ROOT, stdio: "inherit", env: { ...process.env, ...env, TMPDIR: tmp } });
    if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${r.status ?? r.signal}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Score as Stryker defines it: detected / (detected + undetected), compile errors excluded. */
function score(counts) {
  const detected = counts.killed + counts.timeout;
  const valid = detected + counts.survived + counts.noCoverage;
  return valid === 0 ? 100 : Math.round((detected / valid) * 10000) / 100;
}

function strykerModules(equivalent) {
  const report = JSON.parse(fs.readFileSync(REPORT, "utf8"));
  const modules = {};
  for (const [file, result] of Object.entries(report.files)) {
    const counts = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, compileError: 0, runtimeError: 0, ignored: 0 };
    const survivors = [];
    const source = result.source.split("\n");
    for (const m of result.mutants) {
      const key = { Killed: "killed", Timeout: "timeout", Survived: "survived", NoCoverage: "noCoverage", CompileError: "compileError", RuntimeError: "runtimeError", Ignored: "ignored" }[m.status];
      counts[key] += 1;
      if (m.status === "Survived" || m.status === "NoCoverage") {
        const line = m.location.start.line;
        const id = `${m.mutatorName}@${line}:${m.location.start.column}`;
        survivors.push({ id, status: m.status, mutator: m.mutatorName, replacement: m.replacement, line, code: source[line - 1].trim(), reason: equivalent[file]?.[id] ?? "not yet classified" });
      }
    }
    modules[file] = { codeSha256: codeHash(path.join(ROOT, file)), ...counts, scorePercent: score(counts), survivors };
  }
  return modules;
}

function main() {
  const argv = process.argv.slice(2);
  const results = readJson(RESULTS, { targetPercent: TARGET_PERCENT, typescript: {}, shell: {} });
  const equivalent = readJson(EQUIVALENT, {});
  results.targetPercent = TARGET_PERCENT;
  // `--reclassify` runs nothing: it only copies the reasons of test/mutation/equivalent.json onto the
  // recorded survivors (a reason is a judgement, not a measurement; counts and hashes stay as measured).
  if (argv.includes("--reclassify")) {
    const pending = [...Object.entries(results.typescript?.pending ?? {}), ...Object.entries(results.shell?.pending ?? {})].flatMap(([file, p]) => (p?.measured ? [[file, p.measured]] : []));
    for (const [file, m] of [...Object.entries(results.typescript?.modules ?? {}), ...Object.entries(results.shell?.modules ?? {}), ...pending]) {
      for (const s of m.survivors ?? []) s.reason = equivalent[file]?.[s.id] ?? "not yet classified";
    }
    fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
    console.log(`reasons copied from ${path.relative(ROOT, EQUIVALENT)} into ${path.relative(ROOT, RESULTS)}`);
    return;
  }
  if (!argv.includes("--shell-only")) {
    // `--group=a,b` narrows a run to some groups; the others keep their recorded results. `--force`
    // retests every mutant (Stryker's incremental mode keeps earlier survivors when only tests were added).
    // `--mutate=f1,f2` (with a single --group) measures only those files of the group, so a long group
    // can be measured in chunks: each chunk keeps its own incremental file, and the group's pending
    // entry names exactly the files not measured yet. `--concurrency=N` overrides stryker.config.json's
    // (on a shared machine: `nice -n 19 npm run test:mutation -- --ts-only --group=policy --mutate=... --concurrency=1`).
    const only = argv.find((a) => a.startsWith("--group="))?.slice("--group=".length).split(",");
    const narrowed = argv.find((a) => a.startsWith("--mutate="))?.slice("--mutate=".length).split(",").filter((f) => f !== "");
    const concurrency = argv.find((a) => a.startsWith("--concurrency="))?.slice("--concurrency=".length);
    if (concurrency !== undefined && !/^[1-9][0-9]*$/.test(concurrency)) throw new Error(`--concurrency=${concurrency}: a positive integer`);
    if (narrowed) {
      if (!only || only.length !== 1) throw new Error("--mutate=... narrows one group: give exactly one --group=NAME");
      if (narrowed.length === 0) throw new Error("--mutate=: name at least one file");
      const files = expand(GROUPS[only[0]]?.mutate ?? []);
      const foreign = narrowed.filter((f) => !files.includes(f));
      if (foreign.length > 0) throw new Error(`--mutate: ${foreign.join(", ")} not in group ${only[0]} (${files.join(", ")})`);
    }
    results.typescript = { ...results.typescript, tool: `@stryker-mutator/core ${require("@stryker-mutator/core/package.json").version} (jest runner, TypeScript checker)`, modules: results.typescript?.modules ?? {} };
    for (const [name, group] of Object.entries(GROUPS)) {
      if (only && !only.includes(name)) continue;
      const mutate = narrowed ?? group.mutate;
      // A chunk's incremental file is its own, so chunks do not overwrite each other's results.
      const incremental = narrowed ? `test/mutation/incremental/${name}/${narrowed.map((f) => path.basename(f, path.extname(f))).sort().join("+")}.json` : `test/mutation/incremental/${name}.json`;
      fs.mkdirSync(path.dirname(path.join(ROOT, incremental)), { recursive: true });
      console.log(`== mutation: ${name} (${mutate.join(", ")})`);
      const started = Date.now();
      runWithPrivateTmp(
        path.join(ROOT, "node_modules/.bin/stryker"),
        ["run", "--mutate", mutate.join(","), "--coverageAnalysis", group.coverage ?? "all", "--incrementalFile", incremental, ...(concurrency ? ["--concurrency", concurrency] : []), ...(argv.includes("--force") ? ["--force"] : [])],
        { HA_CP_MUTATION_TESTS: group.tests.join(",") },
      );
      console.log(`== mutation: ${name} took ${Math.round((Date.now() - started) / 1000)} s`);
      const modules = strykerModules(equivalent);
      for (const m of Object.values(modules)) m.tests = group.tests;
      Object.assign(results.typescript.modules, modules);
      const pending = { ...results.typescript.pending };
      // A module measured below the target stays pending, with its numbers, until tests catch up.
      for (const [file, m] of Object.entries(modules)) {
        if (m.scorePercent < TARGET_PERCENT) {
          delete results.typescript.modules[file];
          pending[file] = { status: `measured ${m.scorePercent} %, below the target: tests to add`, measured: m };
        } else {
          delete pending[file];
        }
      }
      // A glob of the group stays pending for exactly the files of it neither recorded nor pending on their own.
      for (const pattern of group.mutate.filter((p) => p.includes("*"))) {
        const unmeasured = expand([pattern]).filter((f) => !(f in results.typescript.modules) && !(f in pending));
        if (unmeasured.length === 0) delete pending[pattern];
        else if (unmeasured.length < expand([pattern]).length || pending[pattern]?.files) {
          pending[pattern] = {
            status: `${unmeasured.length} of ${expand([pattern]).length} files not yet measured (listed in files); measure them in chunks: npm run test:mutation -- --ts-only --group=${name} --mutate=FILE,... --concurrency=1`,
            files: unmeasured,
          };
        }
      }
      results.typescript.pending = pending;
      if (Object.keys(pending).length === 0) delete results.typescript.pending;
      results.typescript.ranAt = new Date().toISOString();
      fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
    }
  }
  if (!argv.includes("--ts-only")) {
    const only = argv.filter((a) => a.endsWith(".sh"));
    const jobs = argv.find((a) => a.startsWith("--jobs="));
    // Its own output file, so two runs (different scripts) can go side by side.
    const out = path.join(ROOT, `.shell-mutation-tmp/results-${process.pid}.json`);
    try {
      runWithPrivateTmp(process.execPath, [path.join(ROOT, "scripts/mutate-scripts.js"), "--out", out, ...(jobs ? ["--jobs", jobs.slice("--jobs=".length)] : []), ...only], {}, path.join(ROOT, ".shell-mutation-tmp"));
      const shell = JSON.parse(fs.readFileSync(out, "utf8"));
      for (const [file, r] of Object.entries(shell.modules)) {
        for (const s of r.survivors) s.reason = equivalent[file]?.[s.id] ?? "not yet classified";
      }
      // Read the results again: a run beside this one may have written its scripts since.
      const now = readJson(RESULTS, results);
      const modules = { ...(now.shell?.modules ?? {}) };
      const pending = { ...(now.shell?.pending ?? {}) };
      // As for the TypeScript modules: a script measured below the target stays pending, with its
      // numbers, until tests catch up.
      for (const [file, m] of Object.entries(shell.modules)) {
        if (m.scorePercent < TARGET_PERCENT) {
          delete modules[file];
          pending[file] = { status: `measured ${m.scorePercent} % (${m.killed} of ${m.killed + m.survived}) on ${new Date().toISOString().slice(0, 10)}, below the target: tests to add`, measured: m };
        } else {
          modules[file] = m;
          delete pending[file];
        }
      }
      results.shell = { ...now.shell, tool: shell.tool, ranAt: new Date().toISOString(), modules, pending };
      if (Object.keys(pending).length === 0) delete results.shell.pending;
      fs.rmSync(out, { force: true });
    } catch (err) {
      // What was measured before the failure stays for a look: the runner writes it script by script.
      if (fs.existsSync(out)) console.error(`the results measured so far are in ${path.relative(ROOT, out)}`);
      throw err;
    }
  }
  fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
  let failed = false;
  for (const [kind, r] of Object.entries({ typescript: results.typescript, shell: results.shell })) {
    for (const [file, m] of Object.entries(r?.modules ?? {})) {
      const flag = m.scorePercent >= TARGET_PERCENT ? "ok " : "LOW";
      if (m.scorePercent < TARGET_PERCENT) failed = true;
      console.log(`${flag} ${kind.padEnd(10)} ${file.padEnd(48)} ${String(m.scorePercent).padStart(6)} %  (${m.survived + m.noCoverage} undetected)`);
    }
  }
  for (const [kind, r] of Object.entries({ typescript: results.typescript, shell: results.shell })) {
    for (const [file, p] of Object.entries(r?.pending ?? {})) {
      if (p?.measured) console.log(`LOW ${kind.padEnd(10)} ${file.padEnd(48)} ${String(p.measured.scorePercent).padStart(6)} %  (${p.measured.survived + (p.measured.noCoverage ?? 0)} undetected; pending)`);
    }
  }
  console.log(`results: ${path.relative(ROOT, RESULTS)}`);
  process.exitCode = failed ? 1 : 0;
}

main();
