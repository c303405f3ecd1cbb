/**
 * The machine-wide cluster lock: one test file at a time runs a real cluster (the control-plane
 * tier's etcd + Kubernetes behind haproxy, the boot tier's systemd-nspawn nodes).
 *
 * Why: on the 2-core CI machine two cluster files side by side failed CI twice. Stop 23's worker
 * join died on the host's inotify limit; the next run lost a write to "etcdserver: request timed
 * out" in the CA rotation while a stacked boot ran beside it, and that boot did not finish. The
 * sequencer (test/harness/sequencer.js) plans the order so that cluster files follow one another,
 * but it plans with the last run's seconds; this lock holds when the seconds differ.
 *
 * How: `flock(1)` on a file under /run/lock, held by a child process for as long as its stdin is
 * open. Releasing closes stdin; a jest worker that dies closes it too, so a crashed file never
 * leaves the lock held. Every file that takes the lock records how long it waited
 * (`$HA_CP_TEST_RUN_DIR/cluster-lock-waits.jsonl`), so the timing reporter can tell the file's own
 * seconds from its wait.
 */
import { ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync } from "node:fs";
import * as path from "node:path";

/** The lock file every cluster test file of every run on this machine shares. */
export const CLUSTER_LOCK_PATH = process.env.HA_CP_CLUSTER_LOCK ?? path.join(existsSync("/run/lock") ? "/run/lock" : "/var/lock", "cdktf-ha-control-plane-cluster.lock");

/** How long a file waits for the lock before failing: longer than the whole suite's cluster files. */
export const CLUSTER_LOCK_WAIT_MS = 90 * 60_000;

/** A held lock. */
export interface HeldClusterLock {
  /** Seconds spent waiting for the lock. */
  readonly waitedSeconds: number;
  /** Releases the lock (idempotent); resolves when the holder has exited. */
  release(): Promise<void>;
}

/** flock(1)'s arguments for a holder of `lockPath`: prints "locked" once held, holds until stdin closes. */
export function flockHolderArgs(lockPath: string, timeoutMs: number): string[] {
  return ["--exclusive", "--timeout", String(Math.ceil(timeoutMs / 1000)), lockPath, "sh", "-c", "echo locked; exec cat >/dev/null"];
}

/**
 * Waits for the exclusive lock at `lockPath` and holds it until `release()` (or until this
 * process exits). Rejects when `flock` is missing or exits before taking the lock, or after
 * `timeoutMs`.
 */
export function acquireClusterLock(lockPath: string = CLUSTER_LOCK_PATH, timeoutMs: number = CLUSTER_LOCK_WAIT_MS): Promise<HeldClusterLock> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let holder: ChildProcess;
    try {
      holder = spawn("flock", flockHolderArgs(lockPath, timeoutMs), { stdio: ["pipe", "pipe", "pipe"] });
    } catch (error) {
      reject(error);
      return;
    }
    let out = "";
    let err = "";
    let held = false;
    const exited = new Promise<void>((done) => holder.once("exit", () => done()));
    holder.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    holder.on("error", (error) => reject(new Error(`cluster lock: cannot run flock (${error.message}); util-linux provides it`)));
    holder.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (held || !out.includes("locked")) return;
      held = true;
      let released = false;
      resolve({
        waitedSeconds: (Date.now() - started) / 1000,
        release: async () => {
          if (!released) {
            released = true;
            holder.stdin?.end();
          }
          await exited;
        },
      });
    });
    holder.once("exit", (code, signal) => {
      if (!held) reject(new Error(`cluster lock ${lockPath}: flock exited ${code ?? signal} before taking the lock${err ? `: ${err.trim()}` : ""}`));
    });
  });
}

/** Appends `{file, waitedSeconds}` to the run's wait record, for the timing reporter. */
export function recordClusterLockWait(file: string, waitedSeconds: number): void {
  const dir = process.env.HA_CP_TEST_RUN_DIR;
  if (!dir) return;
  try {
    appendFileSync(path.join(dir, "cluster-lock-waits.jsonl"), `${JSON.stringify({ file, waitedSeconds: Math.round(waitedSeconds * 10) / 10 })}\n`);
  } catch {
    // the timing figures then include the wait; nothing else depends on it
  }
}
