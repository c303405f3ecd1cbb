/**
 * The timing reporter (test/harness/timing-reporter.js) under the real jest: only a run of the whole
 * suite writes last-full-run.json, which the sequencer and `npm run bench` read. Jest 30 keeps
 * --selectProjects out of the global config the reporter sees, and a unit-tier run
 * (`npx jest --selectProjects unit`) was recorded as a full run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

describe("timing reporter: what counts as a full run", () => {
  const repo = path.resolve(__dirname, "../..");
  let dir = "";
  const report = (name: string) => path.join(dir, "reports", "test-timings", name);
  const jest = (...args: string[]) => {
    const project = (name: string) => ({ displayName: name, rootDir: dir, roots: [`<rootDir>/${name}`], testEnvironment: "node", transform: {}, testMatch: ["**/*.test.ts"], moduleFileExtensions: ["ts", "js"] });
    const config = { rootDir: dir, cacheDirectory: path.join(dir, ".cache"), maxWorkers: 1, reporters: [path.join(repo, "test/harness/timing-reporter.js")], projects: [project("one"), project("two")] };
    const env = { ...process.env };
    delete env.HA_CP_TEST_RUN_DIR;
    rmSync(path.join(dir, "reports"), { recursive: true, force: true });
    return spawnSync(path.join(repo, "node_modules/.bin/jest"), ["--config", JSON.stringify(config), "--ci", ...args], { cwd: dir, env, encoding: "utf8", timeout: 60_000 });
  };
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "ha-cp-timing-"));
    for (const p of ["one", "two"]) {
      mkdirSync(path.join(dir, p));
      writeFileSync(path.join(dir, p, "passes.test.ts"), `test("passes", () => {});\n`);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes last-full-run.json for the whole suite, and not for --selectProjects or a path pattern", () => {
    const all = jest();
    expect({ status: all.status, stderr: all.status === 0 ? "" : all.stderr.slice(-1000) }).toEqual({ status: 0, stderr: "" });
    expect([existsSync(report("last-run.json")), existsSync(report("last-full-run.json"))]).toEqual([true, true]);
    for (const args of [["--selectProjects", "one"], ["--selectProjects=two"], ["one/"]]) {
      const some = jest(...args);
      expect({ args, status: some.status }).toEqual({ args, status: 0 });
      expect({ args, written: [existsSync(report("last-run.json")), existsSync(report("last-full-run.json"))] }).toEqual({ args, written: [true, false] });
    }
  }, 60_000);
});
