/**
 * The cluster lock (test/harness/cluster-lock.ts) with the real flock(1): a second holder waits
 * until the first releases, a holder whose process dies frees the lock (a crashed jest worker
 * must not stall the suite), and a wait past the timeout fails naming the lock.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { acquireClusterLock, flockHolderArgs } from "./cluster-lock";

describe("cluster lock", () => {
  let dir: string;
  let lockPath: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cluster-lock-"));
    lockPath = path.join(dir, "cluster.lock");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("makes a second holder wait until the first releases", async () => {
    const first = await acquireClusterLock(lockPath, 10_000);
    expect(first.waitedSeconds).toBeLessThan(5);
    let secondHeld = false;
    const second = acquireClusterLock(lockPath, 10_000).then((l) => {
      secondHeld = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 700));
    expect(secondHeld).toBe(false);
    await first.release();
    const held = await second;
    expect(secondHeld).toBe(true);
    expect(held.waitedSeconds).toBeGreaterThanOrEqual(0.6);
    await held.release();
    await held.release(); // idempotent
  });

  it("is freed when the holding process dies (a crashed worker does not stall the suite)", async () => {
    // A separate node process holds the lock the way a jest worker does (flock with the same
    // arguments, stdin a pipe from the process), and is killed: its end of the pipe closes.
    const worker = `const h = require("node:child_process").spawn("flock", ${JSON.stringify(flockHolderArgs(lockPath, 10_000))}, { stdio: ["pipe", "inherit", "ignore"] }); setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ["-e", worker], { stdio: ["ignore", "pipe", "ignore"] });
    await new Promise<void>((resolve) => holder.stdout.on("data", (d: Buffer) => d.toString().includes("locked") && resolve()));
    const waiting = acquireClusterLock(lockPath, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    holder.kill("SIGKILL");
    const held = await waiting;
    expect(held.waitedSeconds).toBeGreaterThanOrEqual(0.2);
    await held.release();
  });

  it("fails after the timeout, naming the lock, while another holds it", async () => {
    const first = await acquireClusterLock(lockPath, 10_000);
    try {
      await expect(acquireClusterLock(lockPath, 1000)).rejects.toThrow(new RegExp(`cluster lock ${lockPath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: flock exited 1 before taking the lock`));
    } finally {
      await first.release();
    }
  });
});
