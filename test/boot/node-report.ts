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

/** Waits until cloud-init is done and systemd has settled; reports what it saw. */
export async function settle(node: NspawnNode, timeouts: SettleTimeouts): Promise<BootReport> {
  let cloudInit = "";
  await waitFor(async () => {
    cloudInit = (await node.exec(["cloud-init", "status"])).stdout.trim();
    return /status: (done|error|disabled)/.test(cloudInit);
  }, timeouts.cloudInitMs, `${node.spec.name}: cloud-init to finish (${cloudInit})`);
  let systemState = "";
  await waitFor(async () => {
    systemState = (await node.exec(["systemctl", "is-system-running"])).stdout.trim();
    return systemState === "running" || systemState === "degraded";
  }, timeouts.settleMs, `${node.spec.name}: systemd to settle (${systemState})`);
  const readySeconds = (Date.now() - node.startedAt) / 1000;
  const failed = (await node.exec(["systemctl", "--failed", "--no-legend", "--plain"])).stdout.trim();
  const blame = (await node.exec(["systemd-analyze", "blame", "--no-pager"])).stdout;
  return { node: node.spec.name, readySeconds, cloudInit, systemState, failed, blame };
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
