/**
 * Tier gating shared by every test that needs an outside tool.
 *
 * - In CI (`CI=true`) every tier is mandatory: a tier whose tool is missing fails the run with a
 *   test named `<tier> tier must run in CI` whose message names the missing tool and the command
 *   that provides it. Nothing is ever skipped in CI.
 * - Outside CI the tier is skipped and a `<tier> tier NOT RUN` banner is recorded; the banner
 *   reporter (`test/harness/tier-banner-reporter.js`) prints every banner after the run, so it
 *   appears in `npm test`'s output however many files ran.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync } from "node:fs";
import * as path from "node:path";
import { CLUSTER_LOCK_WAIT_MS, HeldClusterLock, acquireClusterLock, recordClusterLockWait } from "./cluster-lock";

/**
 * Files that run a real cluster (the control-plane and boot tiers), by suffix as jest.config.js
 * assigns tiers: they hold the machine-wide cluster lock (test/harness/cluster-lock.ts) while they
 * run. The sequencer (sequencer.js, its EXCLUSIVE) uses the same pattern.
 */
export const CLUSTER_FILE = /\.(cp|boot)\.test\.ts$/;

/** True when running under CI (`CI=true`). */
export const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? "");

/** Result of checking whether a tier can run here. */
export interface TierCheck {
  readonly available: boolean;
  /** Why the tier cannot run (empty when available); names the tool and how to provide it. */
  readonly reason: string;
}

/** Checks that `command` is on the PATH by running it with `args` (e.g. `--version`). */
export function toolAvailable(command: string, args: readonly string[] = ["--version"]): TierCheck {
  try {
    execFileSync(command, args as string[], { stdio: "ignore", timeout: 20000 });
    return { available: true, reason: "" };
  } catch (err) {
    return {
      available: false,
      reason: `${command} ${args.join(" ")} failed: ${(err as Error).message.split("\n")[0]} (run \`bash scripts/setup-test-env.sh\`)`,
    };
  }
}

/** The first unavailable check of `checks`, or an available one. */
export function allOf(...checks: readonly TierCheck[]): TierCheck {
  return checks.find((c) => !c.available) ?? { available: true, reason: "" };
}

/** Options of {@link describeTier}. */
export interface TierOptions {
  /** Tier name in messages, e.g. `provider-plan`, `etcd e2e`. */
  readonly tierLabel: string;
}

/** Records a banner for the reporter (and prints it, for runs without the reporter). */
export function recordBanner(text: string): void {
  console.warn(text);
  const dir = process.env.HA_CP_TEST_RUN_DIR;
  if (dir) {
    try {
      appendFileSync(path.join(dir, "tier-banners.txt"), `${text}\n`);
    } catch {
      // the banner was printed above
    }
  }
}

/**
 * `describe` for a tier: runs `body` when `check` is available. Otherwise, in CI, a failing test
 * that names the missing tool; outside CI, a skip with a recorded `NOT RUN` banner.
 */
export function describeTier(name: string, check: TierCheck, options: TierOptions, body: () => void): void {
  if (check.available) {
    const testPath = expect.getState().testPath ?? "";
    if (!CLUSTER_FILE.test(testPath)) {
      describe(name, body);
      return;
    }
    // A cluster file: the lock is taken before the file's own beforeAll hooks (the cluster's
    // bring-up) and released after its afterAll hooks (the teardown): jest-circus runs a block's
    // afterAll hooks in the order they were declared, after those of the blocks inside it.
    describe(name, () => {
      let lock: HeldClusterLock | undefined;
      beforeAll(async () => {
        lock = await acquireClusterLock();
        recordClusterLockWait(path.relative(path.join(__dirname, "..", ".."), testPath), lock.waitedSeconds);
        if (lock.waitedSeconds >= 1) console.log(`${options.tierLabel}: waited ${lock.waitedSeconds.toFixed(0)} s for the cluster lock (another cluster file was running)`);
      }, CLUSTER_LOCK_WAIT_MS + 60_000);
      body();
      afterAll(async () => {
        await lock?.release();
      });
    });
    return;
  }
  if (IN_CI) {
    describe(name, () => {
      it(`${options.tierLabel} tier must run in CI`, () => {
        throw new Error(`${options.tierLabel} tier cannot run in CI (${name}): ${check.reason}`);
      });
    });
    return;
  }
  recordBanner(`*** ${options.tierLabel} tier NOT RUN (${name}): ${check.reason} ***`);
  const skipped = describe.skip;
  skipped(name, body);
}
