/**
 * The failure digest (test/harness/failure-digest-reporter.js): what the end of a CI log shows of
 * each failed test. A message as jest formats it (colour codes, code frame, stack) keeps its
 * first and last lines of text, so a cause at the end of a long report is not lost.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { digest } = require("./failure-digest-reporter.js") as { digest: (m: string) => string[] };

describe("failure digest", () => {
  it("keeps the first and last lines of a long message, without colour codes, code frames or stack lines", () => {
    const message = [
      "\u001b[31mError: the nodes did not boot\u001b[39m",
      ...Array.from({ length: 30 }, (_, i) => `report line ${i}`),
      "kubelet: E1201 Failed to start cAdvisor err=\"inotify_init: too many open files\"",
      "\u001b[0m \u001b[90m 142 |\u001b[39m       if (!booted) throw new Error(\"the nodes did not boot\");",
      "    at Object.<anonymous> (test/boot/stacked-nodes.boot.test.ts:142:26)",
    ].join("\n");
    const lines = digest(message);
    expect(lines[0]).toBe("Error: the nodes did not boot");
    expect(lines[lines.length - 1]).toContain("inotify_init: too many open files");
    expect(lines.join("\n")).not.toMatch(/\u001b|142 \||at Object/);
    expect(lines).toContain("    … (22 lines)");
    expect(lines.length).toBe(11);
  });

  it("keeps a short message whole and cuts an overlong line", () => {
    expect(digest("expect(received).toBe(expected)\n\nExpected: 0\nReceived: 1")).toEqual(["expect(received).toBe(expected)", "Expected: 0", "Received: 1"]);
    const [line] = digest("x".repeat(1000));
    expect(line).toBe(`${"x".repeat(300)}…`);
  });
});

/**
 * What a CI log ends with, from the real jest with this repository's reporters (jest.config.js) over
 * a run of 21 files, one failing: above 20 files jest's summary reporter (always the last reporter)
 * printed every failure in full again after the digest, and a long one pushed the digest out of the
 * part of the log CI keeps. After the digest come only the counts.
 */
describe("the end of a failed run's log", () => {
  const repo = path.resolve(__dirname, "../..");
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "ha-cp-digest-"));
    for (let i = 0; i < 20; i++) writeFileSync(path.join(dir, `pass${i}.test.ts`), `test("passes ${i}", () => {});\n`);
    // A long failure message, as a boot-tier report is.
    writeFileSync(path.join(dir, "fails.test.ts"), `test("fails", () => { throw new Error(["the nodes did not boot", ...Array.from({ length: 200 }, (_, i) => "report line " + i), "the cause"].join("\\n")); });\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is the digest, naming the failure and the last line of its message, then the counts", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { reporters } = require("../../jest.config.js") as { reporters: Array<string | [string, unknown]> };
    const resolved = reporters.map((r) => (typeof r === "string" ? r.replace("<rootDir>", repo) : r));
    // Plain JavaScript in .test.ts files (no transform needed): the reporters see unit-tier file names.
    const config = { rootDir: dir, testEnvironment: "node", transform: {}, testMatch: ["**/*.test.ts"], moduleFileExtensions: ["ts", "js"], cacheDirectory: path.join(dir, ".cache"), reporters: resolved, maxWorkers: 1 };
    const env = { ...process.env };
    delete env.HA_CP_TEST_RUN_DIR;
    const run = spawnSync(path.join(repo, "node_modules/.bin/jest"), ["--config", JSON.stringify(config), "--ci"], { cwd: dir, env, encoding: "utf8", timeout: 60_000 });
    expect({ status: run.status, error: run.error?.message, tail: run.stderr.slice(-2000) }).toMatchObject({ status: 1 });
    const log = `${run.stdout}${run.stderr}`.replace(/\u001b\[[0-9;]*m/g, "");
    const start = log.lastIndexOf("FAILURE DIGEST");
    expect(log.slice(-3000)).toContain("FAILURE DIGEST");
    expect(start).toBeGreaterThan(0);
    const after = log.slice(start).split("\n");
    expect(after).toContain("fails.test.ts › fails");
    expect(after).toContain("    the cause");
    const rest = after.slice(after.findIndex((l, i) => i > 0 && /^=+$/.test(l)) + 1).filter((l) => l.trim() !== "");
    expect(rest.map((l) => l.split(":")[0])).toEqual(["Test Suites", "Tests", "Snapshots", "Time", "Ran all test suites."]);
  }, 60_000);
});
