/**
 * The tier gate itself (test/harness/tiers.ts): a nested jest run over two fixture test files whose
 * tool does not exist. With CI=true the run must fail and name the tool; without CI it must pass,
 * skipping, and the NOT RUN banners of both files must appear in the run's output.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "..", "..");
const JEST = path.join(REPO, "node_modules", "jest", "bin", "jest.js");

/**
 * Runs jest over the fixtures with its own, empty temp dir (`tmp`), so files other tests of the outer
 * run create at the same time cannot show up in the nested run's temp-dir check.
 */
function fixtureRun(ci: boolean, extraTest = ""): { status: number | null; output: string; tmp: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "tier-gate-"));
  const tmp = mkdtempSync(path.join(tmpdir(), "tier-gate-tmp-"));
  try {
    const tiers = JSON.stringify(path.join(REPO, "test", "harness", "tiers"));
    for (const n of [1, 2]) {
      writeFileSync(
        path.join(dir, `gate${n}.test.ts`),
        `import { describeTier, toolAvailable } from ${tiers};
describeTier("fixture ${n}", toolAvailable("ha-cp-no-such-tool-${n}", ["--version"]), { tierLabel: "fixture-tier-${n}" }, () => {
  it("would run the tool", () => { throw new Error("must not run"); });
});
it("an ordinary test in file ${n}", () => { expect(1).toBe(1); });
`,
      );
    }
    if (extraTest) writeFileSync(path.join(dir, "extra.test.ts"), extraTest);
    const config = {
      rootDir: dir,
      roots: [dir],
      testEnvironment: "node",
      transform: { "^.+\\.ts$": [require.resolve("@swc/jest"), { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }] },
      transformIgnorePatterns: ["/node_modules/"],
      globalSetup: path.join(REPO, "test", "harness", "global-setup.js"),
      globalTeardown: path.join(REPO, "test", "harness", "global-teardown.js"),
      reporters: ["default", path.join(REPO, "test", "harness", "tier-banner-reporter.js")],
      maxWorkers: 2,
    };
    writeFileSync(path.join(dir, "jest.config.json"), JSON.stringify(config));
    const env: NodeJS.ProcessEnv = { ...process.env, CI: ci ? "true" : "", TMPDIR: tmp };
    delete env.JEST_WORKER_ID;
    const r = spawnSync(process.execPath, [JEST, "--config", path.join(dir, "jest.config.json"), "--ci"], {
      cwd: REPO,
      env,
      encoding: "utf8",
      timeout: 120_000,
    });
    return { status: r.status, output: `${r.stdout}\n${r.stderr}`, tmp };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe("the run's temp dir check (global teardown)", () => {
  it("fails a CI run that leaves a file in the system temp dir, naming it", () => {
    const leftover = `ha-cp-leftover-${process.pid}`;
    const r = fixtureRun(
      true,
      `import { writeFileSync } from "node:fs";
it("leaves a file behind", () => { writeFileSync(require("node:path").join(process.env.HA_CP_SYSTEM_TMPDIR!, ${JSON.stringify(leftover)}), "x"); });
`,
    );
    expect(r.status).not.toBe(0);
    expect(r.output).toContain(`the test run left 1 new entry in ${r.tmp}: ${leftover}`);
  }, 150_000);

  it("puts everything made through os.tmpdir() under the run's root and removes it", () => {
    const r = fixtureRun(
      false,
      `import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
it("makes a temp dir", () => { const d = mkdtempSync(require("node:path").join(tmpdir(), "x-")); expect(d.startsWith(process.env.HA_CP_TEST_RUN_DIR!)).toBe(true); });
`,
    );
    expect(r.status).toBe(0);
    expect(r.output).not.toContain("new entr");
  }, 150_000);
});

describe("tier gate", () => {
  it("fails the run in CI and names the missing tool and the setup command", () => {
    const r = fixtureRun(true);
    expect(r.status).toBe(1);
    expect(r.output).toContain("fixture-tier-1 tier must run in CI");
    expect(r.output).toContain("fixture-tier-2 tier must run in CI");
    expect(r.output).toContain("ha-cp-no-such-tool-1 --version failed");
    expect(r.output).toContain("bash scripts/setup-test-env.sh");
    expect(r.output).not.toContain("must not run");
    expect(r.output).toMatch(/Tests:\s+2 failed, 2 passed, 4 total/);
  }, 150_000);

  it("outside CI skips, passes, and prints every file's NOT RUN banner at the end of the output", () => {
    const r = fixtureRun(false);
    expect(r.status).toBe(0);
    const tail = r.output.slice(r.output.indexOf("TIERS NOT RUN"));
    expect(r.output).toContain("TIERS NOT RUN (2)");
    expect(tail).toContain("*** fixture-tier-1 tier NOT RUN (fixture 1): ha-cp-no-such-tool-1 --version failed");
    expect(tail).toContain("*** fixture-tier-2 tier NOT RUN (fixture 2): ha-cp-no-such-tool-2 --version failed");
    expect(r.output).toMatch(/Tests:\s+2 skipped, 2 passed, 4 total/);
  }, 150_000);
});
