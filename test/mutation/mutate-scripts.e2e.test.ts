/**
 * The shell mutation runner (scripts/mutate-scripts.js) and its jest environment
 * (test/harness/fail-fast-environment.js): after a test fails the rest of the file is skipped, yet a
 * failure anywhere still fails the run, and the runner counts a mutant as killed at once only when a
 * test's own failure killed it; a failing hook, a timeout or a file that did not run may be the
 * machine's load, so that mutant is tested again alone. Checked with the real jest, run as the runner
 * runs it (`--ci --bail --silent`, the environment and its report) on small fixture files.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { killedBy, firstMessage, mutantsOf, runInGroup } = require("../../scripts/mutate-scripts.js") as {
  killedBy: (failures: string, script?: string) => string | undefined;
  firstMessage: (failures: string) => string;
  mutantsOf: (text: string) => Array<{ id: string; line: number; mutated: string }>;
  runInGroup: (command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }, backstopMs: number) => Promise<{ code: number | null; output: string }>;
};

/** Whether process `pid` still runs: it exists and is not a zombie waiting for its parent (init) to reap it. */
const alive = (pid: number): boolean => {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  // The state follows the parenthesised command name.
  return !/\) Z /.test(readFileSync(stat, "utf8"));
};

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");

jest.setTimeout(120_000);

describe("shell mutation runner and its fail-fast environment (real jest)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "mutate-scripts-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the real jest as the runner does on one fixture file: its exit code, output and failure report. */
  async function jestRun(name: string, body: string): Promise<{ code: number; out: string; failures: string }> {
    writeFileSync(path.join(dir, `${name}.test.js`), body);
    const report = path.join(dir, `${name}.jsonl`);
    const config = { rootDir: dir, testEnvironment: path.join(ROOT, "test/harness/fail-fast-environment.js"), transform: {}, cacheDirectory: path.join(dir, ".cache"), testPathIgnorePatterns: [] };
    const args = [path.join(ROOT, "node_modules/jest/bin/jest.js"), "--ci", "--bail", "--silent", "--config", JSON.stringify(config), `${name}.test.js`];
    const env = { ...process.env, HA_CP_FAIL_FAST: "1", HA_CP_FAIL_FAST_REPORT: report };
    let code = 0;
    let out: string;
    try {
      const r = await run(process.execPath, args, { cwd: dir, env });
      out = `${r.stdout}\n${r.stderr}`;
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      if (typeof e.code !== "number") throw err;
      code = e.code;
      out = `${e.stdout ?? ""}\n${e.stderr ?? ""}`;
    }
    expect(out).not.toMatch(/No tests found/);
    return { code, out, failures: existsSync(report) ? readFileSync(report, "utf8") : "" };
  }

  it("skips the tests after a failing one, fails the run and names the test that killed the mutant", async () => {
    const r = await jestRun("assertion", 'describe("suite", () => { it("passes", () => {}); it("sees the mutant", () => { expect(1).toBe(2); }); it("after", () => { throw new Error("ran after the failure"); }); });\n');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/1 failed, 1 skipped, 1 passed/);
    expect(killedBy(r.failures)).toBe("suite › sees the mutant");
    // What it asserted, as jest's own message begins (so a kill by a load failure can be told apart).
    expect(firstMessage(r.failures)).toMatch(/^expect\(received\)\.toBe\(expected\)/);
    // And all of it on one line without colour codes (the runner logs it under the kill).
    expect(JSON.parse(r.failures.split("\n")[0]).detail).toBe("expect(received).toBe(expected) // Object.is equality | Expected: 2 | Received: 1");
  });

  it("ends what a run left behind when it exits (a child holding its output), and the whole run at the backstop", async () => {
    const pidFile = path.join(dir, "left.pid");
    // A background sleep that keeps the run's stdout open: without the kill at exit this waits 300 s.
    const t0 = Date.now();
    const left = await runInGroup("bash", ["-c", `sleep 300 & echo $! > ${pidFile}; echo started`], { cwd: dir, env: process.env }, 60_000);
    expect(left).toEqual({ code: 0, output: "started\n" });
    // At its exit, not at the 60 s backstop.
    expect(Date.now() - t0).toBeLessThan(30_000);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(pid).toBeGreaterThan(1);
    // SIGKILL is delivered asynchronously: give it a moment.
    for (let i = 0; i < 20 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
    const started = Date.now();
    const hung = await runInGroup("bash", ["-c", "sleep 300"], { cwd: dir, env: process.env }, 1_000);
    expect(hung.code).toBeNull();
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("fails the run when beforeAll fails (the tests it guards are not skipped into a pass), and names no test", async () => {
    const r = await jestRun("hook", 'describe("suite", () => { beforeAll(() => { throw new Error("emulator did not start"); }); it("would pass", () => {}); });\n');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/emulator did not start/);
    expect(killedBy(r.failures)).toBeUndefined();
  });

  it("counts a beforeAll failure as the mutant's kill when it carries bash's own diagnostic of the mutated script (unbound variable, syntax error, command not found, unset ${X:?}), and only of that script", async () => {
    // What a harness that starts a cluster with the script throws: the script's stderr in the message.
    const hook = (stderr: string) => `describe("suite", () => { beforeAll(() => { throw new Error("the member did not start: " + ${JSON.stringify(stderr)}); }); it("would pass", () => {}); });\n`;
    const cases: [string, string, string | undefined][] = [
      ["unbound", "/tmp/node-scripts-x/ha-x.sh: line 12: MEMBER: unbound variable", "beforeAll (bash: ha-x.sh: line 12: MEMBER: unbound variable)"],
      ["syntax", "/tmp/node-scripts-x/ha-x.sh: line 40: syntax error near unexpected token `fi'", "beforeAll (bash: ha-x.sh: line 40: syntax error near unexpected token `fi')"],
      ["notfound", "ha-x.sh: line 7: write_config: command not found", "beforeAll (bash: ha-x.sh: line 7: write_config: command not found)"],
      ["unset", "/tmp/n/ha-x.sh: line 3: DATA: parameter null or not set", "beforeAll (bash: ha-x.sh: line 3: DATA: parameter null or not set)"],
      // Another script's diagnostic, one a load can cause (a child killed at a timeout), or none at all: rechecked.
      ["other", "/tmp/n/ha-y.sh: line 12: MEMBER: unbound variable", undefined],
      ["prefix", "/tmp/n/not-ha-x.sh: line 12: MEMBER: unbound variable", undefined],
      ["killed", "/tmp/n/ha-x.sh: line 80: 4242 Killed                  etcd --config-file x", undefined],
      ["load", "timed out after 60000 ms waiting for the member", undefined],
    ];
    for (const [name, stderr, expected] of cases) {
      const r = await jestRun(`hook-${name}`, hook(stderr));
      expect(r.code).toBe(1);
      expect({ name, by: killedBy(r.failures, "ha-x.sh") }).toEqual({ name, by: expected });
      // Without the script's name (an older caller) a hook's failure names nothing.
      expect(killedBy(r.failures)).toBeUndefined();
    }
  });

  it("names no test when a test ran out of time (a hang may be load as well as the mutant)", async () => {
    const r = await jestRun("timeout", 'it("waits", () => new Promise(() => {}), 200);\n');
    expect(r.code).toBe(1);
    expect(killedBy(r.failures)).toBeUndefined();
  });

  it("names no test when the file did not run", async () => {
    const r = await jestRun("broken", "this is not javascript\n");
    expect(r.code).toBe(1);
    expect(r.failures).toBe("");
    expect(killedBy(r.failures)).toBeUndefined();
  });

  it("passes a file whose tests pass, reporting nothing", async () => {
    const r = await jestRun("green", 'it("passes", () => {});\n');
    expect([r.code, r.failures]).toEqual([0, ""]);
  });
});

describe("shell mutants", () => {
  const script = ["#!/usr/bin/env bash", "set -euo pipefail", "# a comment", 'if [ "$a" = b ]; then', "  echo yes", "fi", "x=$((1 + 2))", ""].join("\n");

  it("deletes each executable line and flips each test operator, leaving comments, keywords and block openers", () => {
    const ids = mutantsOf(script).map((m) => m.id);
    expect(ids).toEqual(["delete@2", "flip = to !=@4", "delete@5", "delete@7"]);
  });

  it("changes exactly one line per mutant", () => {
    for (const m of mutantsOf(script)) {
      const before = script.split("\n");
      const after = m.mutated.split("\n");
      expect(after).toHaveLength(before.length);
      expect(after.filter((l, i) => l !== before[i])).toHaveLength(1);
      expect(after[m.line - 1]).not.toBe(before[m.line - 1]);
    }
  });
});
