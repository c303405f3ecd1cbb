/**
 * Private networks for the etcd end-to-end tier: one network namespace per member plus a client
 * namespace holding a bridge, all created by this process and named after it
 * (`hacpe2e-<pid>-<id>-…`), with addresses in a private 10.x /24 that exists only inside them. Nothing
 * is added to the host's own namespace (the veth pairs are created inside the namespaces).
 *
 * Why: on loopback every peer connection comes from 127.0.0.1, so peer certificates would need an
 * extra 127.0.0.1 SAN; in namespaces each member dials from its own address, as on EC2, and the
 * library's certificates are used unchanged.
 *
 * Cleanup: `destroy()` kills whatever still runs inside and deletes the namespaces; an exit hook on
 * the real process does the same synchronously; a detached watchdog per network does it when the
 * owning process dies without running any hook (SIGKILL); and namespaces whose owner pid is gone are
 * swept by the next `createNetwork`.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import * as vm from "node:vm";
import { runCommand } from "../../harness/etcd-cluster";

const PREFIX = "hacpe2e";
const REGISTRY_KEY = Symbol.for("cdktf-ha-control-plane/test/etcd-netns");

/** A private network: `members` namespaces and one client namespace on one bridge. */
export interface NetnsNetwork {
  /** Namespace of the client side (etcdctl, tests); holds the bridge. */
  readonly clientNs: string;
  /** The client's address. */
  readonly clientIp: string;
  /** One namespace per member, in order. */
  readonly memberNs: readonly string[];
  /** Member addresses, in order. */
  readonly memberIps: readonly string[];
  /** Kills everything still running inside and deletes the namespaces. Idempotent. */
  destroy(): Promise<void>;
}

/** The real process (jest's per-file `process` never fires "exit"). */
function hostProcess(): NodeJS.Process {
  return vm.runInThisContext("process") as NodeJS.Process;
}

interface Registry {
  readonly namespaces: Set<string>;
  readonly watchdogs: Set<number>;
}

function registry(): Registry {
  const host = hostProcess() as unknown as Record<symbol, Registry | undefined> & NodeJS.Process;
  let reg = host[REGISTRY_KEY];
  if (reg === undefined) {
    const created: Registry = { namespaces: new Set(), watchdogs: new Set() };
    reg = created;
    host[REGISTRY_KEY] = created;
    host.on("exit", () => {
      for (const ns of created.namespaces) destroySync(ns);
      for (const pid of created.watchdogs) killQuietly(pid);
    });
  }
  return reg;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

/**
 * A detached shell that outlives a SIGKILLed owner just long enough to delete its namespaces
 * (and kill what runs in them). Killed by `destroy()` and the exit hook in every other case.
 */
const WATCHDOG = `owner=$1; shift
while kill -0 "$owner" 2>/dev/null; do sleep 1; done
for ns in "$@"; do
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
done`;

function startWatchdog(namespaces: readonly string[]): number | undefined {
  const child = spawn("sh", ["-c", WATCHDOG, "hacpe2e-watchdog", String(process.pid), ...namespaces], { detached: true, stdio: "ignore" });
  child.on("error", () => undefined);
  child.unref();
  return child.pid;
}

function nsPids(ns: string): number[] {
  try {
    return execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8", timeout: 5000 })
      .split(/\s+/)
      .filter((p) => /^\d+$/.test(p))
      .map(Number);
  } catch {
    return [];
  }
}

/** Synchronous teardown for the exit hook and the stale sweep. */
function destroySync(ns: string): void {
  for (const pid of nsPids(ns)) killQuietly(pid);
  try {
    execFileSync("ip", ["netns", "del", ns], { stdio: "ignore", timeout: 5000 });
  } catch {
    // Not there.
  }
}

function listNamespaces(): string[] {
  try {
    return execFileSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 5000 })
      .split("\n")
      .map((l) => l.split(/\s+/)[0])
      .filter((n) => n !== undefined && n !== "");
  } catch {
    return [];
  }
}

/** Deletes this tier's namespaces whose owner process is gone. */
function sweepStale(): void {
  for (const ns of listNamespaces()) {
    const owner = new RegExp(`^${PREFIX}-(\\d+)-`).exec(ns);
    if (!owner) continue;
    const pid = Number(owner[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code !== "ESRCH";
    }
    if (!alive) destroySync(ns);
  }
}

async function ip(args: readonly string[]): Promise<void> {
  const r = await runCommand("ip", args, { timeoutMs: 10_000 });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.trim()}`);
}

/** Names of this tier's namespaces that exist now (for leak checks). */
export function ownedNamespaces(): string[] {
  return listNamespaces().filter((n) => n.startsWith(`${PREFIX}-${process.pid}-`));
}

/**
 * Whether namespaces can be created here (root with CAP_SYS_ADMIN and CAP_NET_ADMIN, iproute2, the
 * veth and bridge drivers). Synchronous, so a test file can choose its network before `describe`.
 */
export function netnsCheck(): { readonly available: boolean; readonly reason: string } {
  const ns = `${PREFIX}-${process.pid}-probe`;
  const run = (args: string[]): void => {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
  };
  try {
    sweepStale();
    run(["netns", "add", ns]);
    run(["-n", ns, "link", "add", "br0", "type", "bridge"]);
    run(["-n", ns, "link", "add", "v1", "type", "veth", "peer", "name", "v2"]);
    return { available: true, reason: "" };
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return { available: false, reason: stderr || (err as Error).message.split("\n")[0] };
  } finally {
    destroySync(ns);
  }
}

/**
 * Creates the namespaces `names` (loopback up), registered for the exit hook and watched by a
 * watchdog; resolves to their idempotent destroy (kills what runs inside, deletes them). A failure
 * part-way destroys what was made.
 */
async function createNamespaces(names: readonly string[]): Promise<() => Promise<void>> {
  const reg = registry();
  const created: string[] = [];
  const watchdog = startWatchdog([...names]);
  if (watchdog !== undefined) reg.watchdogs.add(watchdog);
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    for (const ns of created) for (const pid of nsPids(ns)) killQuietly(pid);
    for (const ns of created) {
      await runCommand("ip", ["netns", "del", ns], { timeoutMs: 10_000 }).catch(() => undefined);
      reg.namespaces.delete(ns);
    }
    if (watchdog !== undefined) {
      killQuietly(watchdog);
      reg.watchdogs.delete(watchdog);
    }
  };
  try {
    for (const ns of names) {
      await ip(["netns", "add", ns]);
      created.push(ns);
      reg.namespaces.add(ns);
      await ip(["-n", ns, "link", "set", "lo", "up"]);
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return destroy;
}

/**
 * Creates a client namespace with a bridge and `members` member namespaces attached to it by veth
 * pairs; members get `10.A.B.11`, `.12`, … and the client `10.A.B.254` (`subnet` = `10.A.B`, random
 * by default; the addresses exist only inside these namespaces).
 */
export async function createNetwork(members: number, subnet = `10.${randomInt(64, 250)}.${randomInt(0, 256)}`): Promise<NetnsNetwork> {
  sweepStale();
  const id = `${PREFIX}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const clientNs = `${id}-c`;
  const memberNs = Array.from({ length: members }, (_, i) => `${id}-m${i + 1}`);
  const memberIps = memberNs.map((_, i) => `${subnet}.${11 + i}`);
  const clientIp = `${subnet}.254`;
  const destroy = await createNamespaces([clientNs, ...memberNs]);
  try {
    await ip(["-n", clientNs, "link", "add", "br0", "type", "bridge"]);
    await ip(["-n", clientNs, "addr", "add", `${clientIp}/24`, "dev", "br0"]);
    await ip(["-n", clientNs, "link", "set", "br0", "up"]);
    for (const [i, ns] of memberNs.entries()) {
      const port = `v${i + 1}`;
      await ip(["-n", clientNs, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      await ip(["-n", clientNs, "link", "set", port, "master", "br0", "up"]);
      await ip(["-n", ns, "addr", "add", `${memberIps[i]}/24`, "dev", "eth0"]);
      await ip(["-n", ns, "link", "set", "eth0", "up"]);
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return { clientNs, clientIp, memberNs, memberIps, destroy };
}

/** A flat layer-2 network whose hosts carry arbitrary addresses (see {@link createFlatNetwork}). */
export interface FlatNetwork {
  /** Host name → its namespace. */
  readonly namespaces: ReadonlyMap<string, string>;
  /** Host name → its address. */
  readonly addresses: ReadonlyMap<string, string>;
  /** Kills everything still running inside and deletes the namespaces. Idempotent. */
  destroy(): Promise<void>;
}

/**
 * One namespace per host on one bridge (held by a hub namespace), each host with its own address as
 * a /32 and an on-link route for `cidr` over its veth: hosts in different subnets of a VPC (the
 * reference example's slot IPs lie in per-zone subnets) reach each other directly, as the VPC
 * router makes them do. Host names must be short (`[a-z0-9]{1,8}`); cleanup as {@link createNetwork}.
 */
export async function createFlatNetwork(hosts: ReadonlyArray<{ readonly name: string; readonly ip: string }>, cidr: string): Promise<FlatNetwork> {
  sweepStale();
  const id = `${PREFIX}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const hub = `${id}-hub`;
  const namespaces = new Map(hosts.map((h) => [h.name, `${id}-${h.name}`]));
  const addresses = new Map(hosts.map((h) => [h.name, h.ip]));
  for (const h of hosts) if (!/^[a-z0-9]{1,8}$/.test(h.name)) throw new Error(`host name ${h.name}: use [a-z0-9]{1,8}`);
  const all = [hub, ...namespaces.values()];
  const destroy = await createNamespaces(all);
  try {
    await ip(["-n", hub, "link", "add", "br0", "type", "bridge"]);
    await ip(["-n", hub, "link", "set", "br0", "up"]);
    for (const [i, h] of hosts.entries()) {
      const ns = namespaces.get(h.name) as string;
      const port = `v${i + 1}`;
      await ip(["-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      await ip(["-n", hub, "link", "set", port, "master", "br0", "up"]);
      await ip(["-n", ns, "addr", "add", `${h.ip}/32`, "dev", "eth0"]);
      await ip(["-n", ns, "link", "set", "eth0", "up"]);
      await ip(["-n", ns, "route", "add", cidr, "dev", "eth0", "scope", "link", "src", h.ip]);
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return { namespaces, addresses, destroy };
}
