/**
 * What both boot-tier files ask of a booted node: wait for cloud-init and systemd to settle and
 * report what was seen, and, on failure, the failed units' journals and cloud-init's output.
 */
import { NspawnNode, waitFor } from "../harness/nspawn-node";

/** What a node looked like once cloud-init was done and systemd had settled. */
export interface BootReport {
  readonly node: string;
  readonly readySeconds: number;
  readonly cloudInit: string;
  readonly systemState: string;
  readonly failed: string;
  readonly blame: string;
}

/** Deadlines of {@link settle}. */
export interface SettleTimeouts {
  /** For `cloud-init status` to say done, error or disabled. */
  readonly cloudInitMs: number;
  /** Then for `systemctl is-system-running` to say running or degraded. */
  readonly settleMs: number;
}

/**
 * Waits until cloud-init is done and systemd has settled; reports what it saw. Stops as soon as
 * `signal` aborts (a sibling node's wait failed, or the file is tearing down).
 */
export async function settle(node: NspawnNode, timeouts: SettleTimeouts, signal?: AbortSignal): Promise<BootReport> {
  let cloudInit = "";
  await waitFor(async () => {
    cloudInit = (await node.exec(["cloud-init", "status"], 60_000, signal)).stdout.trim();
    return /status: (done|error|disabled)/.test(cloudInit);
  }, timeouts.cloudInitMs, `${node.spec.name}: cloud-init to finish (${cloudInit})`, signal);
  let systemState = "";
  await waitFor(async () => {
    systemState = (await node.exec(["systemctl", "is-system-running"], 60_000, signal)).stdout.trim();
    return systemState === "running" || systemState === "degraded";
  }, timeouts.settleMs, `${node.spec.name}: systemd to settle (${systemState})`, signal);
  const readySeconds = (Date.now() - node.startedAt) / 1000;
  // systemd could manage every unit's cgroup: none read another container's processes (PID 0,
  // systemd's EIO) or lost a cgroup to another container (the harness's nodeCgroups).
  const cgroupErrors = (await node.exec(["journalctl", "--no-pager", "-q", "-o", "cat", "_PID=1", "--grep", "Failed to (migrate controller cgroups|kill control group)"])).stdout.trim();
  if (cgroupErrors !== "") throw new Error(`${node.spec.name}: systemd could not manage its units' cgroups:\n${cgroupErrors.split("\n").slice(0, 10).join("\n")}`);
  // The host's per-user inotify limits held (inotifyLimitsCheck): a kubelet, systemd or containerd
  // that got no inotify instance says so, and a kubelet then exits 1 at every restart.
  const exhausted = (await node.exec(["journalctl", "--no-pager", "-q", "-o", "short-monotonic", "--grep", "too many open files"])).stdout.trim();
  if (exhausted !== "") throw new Error(`${node.spec.name}: the host's inotify instances or file descriptors ran out (see inotifyLimitsCheck):\n${exhausted.split("\n").slice(-10).join("\n")}`);
  const failed = (await node.exec(["systemctl", "--failed", "--no-legend", "--plain"])).stdout.trim();
  const blame = (await node.exec(["systemd-analyze", "blame", "--no-pager"])).stdout;
  return { node: node.spec.name, readySeconds, cloudInit, systemState, failed, blame };
}

/**
 * No start job is left waiting on `node`: within `ms`, a moment when systemd has no job queued at
 * all. The boot defects' start-job deadlock left cloud-final and a unit waiting on each other
 * forever, so their jobs never clear. A periodic service's job comes and goes (node metrics and
 * audit-log shipping run every minute from 2 min after boot, each an AWS CLI call taking seconds on
 * a loaded machine), so one look may catch one running: on a slow CI run the nodes were checked
 * after 2 min and a single look is a race. Fails with the jobs last seen.
 */
export async function expectNoJobLeft(node: NspawnNode, ms = 90_000, signal?: AbortSignal): Promise<void> {
  let jobs = "";
  let looks = 0;
  await waitFor(async () => {
    looks += 1;
    const r = await node.exec(["systemctl", "list-jobs", "--no-legend"], 30_000, signal);
    jobs = r.code === 0 ? r.stdout.trim() : `systemctl list-jobs exited ${r.code}: ${r.stderr.trim()}`;
    // A look that failed (container gone, timeout) saw nothing: it is not a moment without jobs.
    return r.code === 0 && jobs === "";
  }, ms, `${node.spec.name}: a moment with no systemd job queued`, signal).catch((err: Error) => {
    throw new Error(`${err.message}; jobs at the last of ${looks} looks:\n${jobs}`);
  });
}

/** The failed units with their journal tails, cloud-init's output and the hot-plug watcher's error. */
export async function explainFailure(node: NspawnNode, failed: string): Promise<string> {
  const units = failed.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
  const parts: string[] = [`${node.spec.name}: failed units: ${units.join(", ") || "none"}`];
  for (const u of units) parts.push(`--- journal of ${u}\n${await node.journal(u, 30)}`);
  const out = await node.exec(["tail", "-n", "40", "/var/log/cloud-init-output.log"]);
  parts.push(`--- cloud-init-output.log\n${out.stdout}`);
  if (node.hotplugError) parts.push(`--- hot-plug watcher: ${node.hotplugError}`);
  return parts.join("\n");
}

/**
 * The containers a boot-tier file starts, always torn down: {@link BootedNodes.stopAll} (the
 * file's afterAll) first aborts {@link BootedNodes.signal} — every wait given it stops at once,
 * also one a timed-out test left running — then waits for boots still in flight and stops every
 * container, those booted after the abort included.
 */
export class BootedNodes {
  /** Every node booted, in order. */
  public readonly nodes: NspawnNode[] = [];
  private readonly run = new AbortController();
  private readonly booting = new Set<Promise<NspawnNode>>();

  /** Aborted when the file tears down. */
  public get signal(): AbortSignal {
    return this.run.signal;
  }

  /** Boots a node with `start` and keeps it for teardown; refuses once teardown has begun. */
  public async boot(start: () => Promise<NspawnNode>): Promise<NspawnNode> {
    if (this.run.signal.aborted) throw new Error("not booting a node: the file is tearing down");
    const pending = start().then((node) => {
      this.nodes.push(node);
      return node;
    });
    this.booting.add(pending);
    try {
      const node = await pending;
      if (this.run.signal.aborted) throw new Error(`${node.spec.name} booted while the file was tearing down`);
      return node;
    } finally {
      this.booting.delete(pending);
    }
  }

  /** Aborts every wait, then stops every container (also those still booting). */
  public async stopAll(): Promise<void> {
    this.run.abort(new Error("the file is tearing down"));
    await Promise.allSettled([...this.booting]);
    // All at once: each takes up to its grace period (an orderly poweroff, then SIGKILL).
    await Promise.all(this.nodes.map((n) => n.stop().catch(() => undefined)));
  }
}
