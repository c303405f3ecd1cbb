/**
 * Node containers for the boot tier: each node is `systemd-nspawn --boot` over an overlay of the
 * cached Debian 12 root filesystem (`bash scripts/setup-test-env.sh node-rootfs`), systemd as PID 1
 * inside it, cloud-init reading a NoCloud seed whose user data is what the emulator's launch
 * template stores.
 *
 * Network, as EC2 gives it, inside namespaces the test creates and nowhere else:
 * - a "VPC" namespace with one bridge holding every subnet's gateway (`.1`) and forwarding between
 *   them; the AWS API emulator and the asset mirror are reached at the first gateway address,
 *   forwarded over Unix sockets to their loopback ports on the host (nothing binds a host address);
 * - per node a namespace with `eth0` (the instance's primary interface: its MAC, configured by
 *   cloud-init from the seed's network-config);
 * - the instance metadata endpoint `169.254.169.254:80` in the VPC namespace, one link away from
 *   each node as on EC2, answering each instance's addresses from a strict IMDSv2 stand-in for that
 *   instance (./aws-emulator.ts), the token PUT's response sent with the launch template's hop limit
 *   as its IP TTL ({@link IMDS_ROUTER});
 * - hot-plug: once the emulator shows a slot interface attached to the node's instance, a veth with
 *   that interface's MAC appears in the node's namespace; once it shows a volume attached, a loop
 *   device over a sparse file (kept per volume id across node replacements, like the EBS volume)
 *   appears as `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…`.
 *
 * Safety: the overlay is mounted inside a private mount namespace (`unshare --mount`) that ends with
 * the container, and the wrapper refuses to start unless the container root is that overlay and
 * not the host's root. Cleanup kills the container's PID 1 (ending its PID namespace), then the
 * nspawn process group, deletes the namespaces and detaches the loop devices, on every path.
 */
import { ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { appendFileSync, chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, rmdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { Ec2QueryApi, ImdsStandIn, attachedInterfaces, startImds, xmlItems, xmlValues } from "./aws-emulator";
import { TierCheck } from "./tiers";
import { inotifyLimitsCheck } from "./real-components";

const execFileAsync = promisify(execFile);

/** The command that builds the node root filesystem. */
export const NODE_ROOTFS_SETUP_COMMAND = "bash scripts/setup-test-env.sh node-rootfs";

/** The cached root filesystem (`$HA_CP_NODE_ROOTFS/rootfs`), if built. */
export function nodeRootfs(): string | undefined {
  const dir = process.env.HA_CP_NODE_ROOTFS;
  if (dir === undefined || !existsSync(path.join(dir, ".complete"))) return undefined;
  const root = path.join(dir, "rootfs");
  return existsSync(path.join(root, "lib/systemd/systemd")) ? root : undefined;
}

/** Whether the boot tier can run here: root, systemd-nspawn, socat, losetup and the node rootfs. */
export function bootTierCheck(): TierCheck {
  if (process.getuid?.() !== 0) return { available: false, reason: "systemd-nspawn and network namespaces need root" };
  for (const [tool, args] of [["systemd-nspawn", ["--version"]], ["socat", ["-V"]], ["losetup", ["--version"]], ["unshare", ["--version"]], ["nsenter", ["--version"]]] as const) {
    try {
      execFileSync(tool, args as unknown as string[], { stdio: "ignore", timeout: 10000 });
    } catch {
      return { available: false, reason: `${tool} missing (run \`bash scripts/setup-test-env.sh apt\`)` };
    }
  }
  if (nodeRootfs() === undefined) return { available: false, reason: `no node root filesystem (HA_CP_NODE_ROOTFS): run \`${NODE_ROOTFS_SETUP_COMMAND}\`` };
  return inotifyLimitsCheck();
}

const sh = (cmd: string, args: readonly string[]): string => execFileSync(cmd, args as string[], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const quiet = (cmd: string, args: readonly string[]): void => {
  try {
    execFileSync(cmd, args as string[], { stdio: "ignore" });
  } catch {
    // cleanup: already gone
  }
};

/** Kills a detached child's process group (and the child). */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

const ipToInt = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

/** The `.1` gateway address of an IPv4 CIDR block, as in a VPC subnet. */
export function subnetGateway(cidr: string): string {
  const [base, bits] = cidr.split("/");
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  return intToIp(((ipToInt(base) & mask) >>> 0) + 1);
}

let counter = 0;
const uniq = () => `${process.pid % 10000}${(counter++).toString(36)}`;

const NTP_SERVER = [
  "import socket, struct, time",
  "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
  "s.bind(('169.254.169.123', 123))",
  "def ts(t):",
  "    t += 2208988800",
  "    return struct.pack('!II', int(t), int((t % 1) * 2**32))",
  "while True:",
  "    data, peer = s.recvfrom(512)",
  "    if len(data) < 48 or data[0] & 7 != 3:",
  "        continue",
  "    now = time.time()",
  "    head = struct.pack('!BBbb', (4 << 3) | 4, 1, data[2], -20) + struct.pack('!II', 0, 0) + b'AMZN'",
  "    s.sendto(head + ts(now) + data[40:48] + ts(now) + ts(time.time()), peer)",
].join("\n");

/**
 * The instance metadata endpoint as EC2 places it: 169.254.169.254:80 one link away from the
 * instance (here: in the VPC namespace, reached through the node's own interface and gateway), answering
 * for the instance whose address the request comes from (EC2 knows the sending interface; an
 * address that is not an instance's gets no answer). The routes file maps an instance's addresses to
 * its IMDS stand-in (a Unix socket) and its hop limit, re-read per connection.
 *
 * Hop limit: EC2 sends the IP packets carrying the token PUT's response with the instance's
 * `HttpPutResponseHopLimit` as their TTL (AWS: "the PUT response containing the secret token will,
 * by default, not be able to travel outside the instance ... TTL set to 1"), so one router further
 * (a container NATed behind the node) gets no token. The router parses each request's head and sets
 * IP_TTL on the client connection to the hop limit before forwarding a `PUT /latest/api/token`, back
 * to the default (-1) before forwarding any other request; requests on a connection are answered in
 * turn, so each response leaves with the TTL of its own request. A request it cannot delimit
 * (chunked, oversized head) ends the connection.
 */
const IMDS_ROUTER = [
  "import json, socket, sys, threading",
  "routes_file = sys.argv[1]",
  "srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
  "srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
  "srv.bind(('169.254.169.254', 80))",
  "srv.listen(256)",
  "def route(ip):",
  "    try:",
  "        with open(routes_file) as f:",
  "            return json.load(f).get(ip)",
  "    except (OSError, ValueError):",
  "        return None",
  "def pump(up, c):",
  "    try:",
  "        while True:",
  "            d = up.recv(65536)",
  "            if not d:",
  "                break",
  "            c.sendall(d)",
  "    except OSError:",
  "        pass",
  "    finally:",
  "        for s in (c, up):",
  "            try:",
  "                s.shutdown(socket.SHUT_RDWR)",
  "            except OSError:",
  "                pass",
  "def handle(c, peer):",
  "    r = route(peer[0])",
  "    if r is None:",
  "        c.close()",
  "        return",
  "    up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
  "    try:",
  "        up.connect(r['socket'])",
  "    except OSError:",
  "        c.close()",
  "        return",
  "    threading.Thread(target=pump, args=(up, c), daemon=True).start()",
  "    buf = b''",
  "    try:",
  "        while True:",
  "            d = c.recv(65536)",
  "            if not d:",
  "                break",
  "            buf += d",
  "            while True:",
  "                end = buf.find(b'\\r\\n\\r\\n')",
  "                if end < 0:",
  "                    if len(buf) > 65536:",
  "                        raise OSError('request head too long')",
  "                    break",
  "                lines = buf[:end].split(b'\\r\\n')",
  "                headers = dict((k.strip().lower(), v.strip()) for k, _, v in (l.partition(b':') for l in lines[1:]))",
  "                if b'transfer-encoding' in headers:",
  "                    raise OSError('chunked request')",
  "                length = int(headers.get(b'content-length', b'0'))",
  "                if len(buf) < end + 4 + length:",
  "                    break",
  "                req, buf = buf[:end + 4 + length], buf[end + 4 + length:]",
  "                parts = lines[0].split(b' ')",
  "                token = len(parts) >= 2 and parts[0] == b'PUT' and parts[1].split(b'?')[0] == b'/latest/api/token'",
  "                c.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(r['hopLimit']) if token else -1)",
  "                up.sendall(req)",
  "    except (OSError, ValueError):",
  "        pass",
  "    finally:",
  "        try:",
  "            up.shutdown(socket.SHUT_WR)",
  "        except OSError:",
  "            pass",
  "while True:",
  "    c, peer = srv.accept()",
  "    threading.Thread(target=handle, args=(c, peer), daemon=True).start()",
].join("\n");

/** Where the VPC's metadata endpoint sends an instance address's requests. */
interface ImdsRoute {
  readonly socket: string;
  readonly hopLimit: number;
}

/** The VPC: a namespace routing between the subnets' gateways, and services forwarded into it. */
export class VpcNetwork {
  /** Creates the VPC namespace with a bridge holding the gateway of every subnet in `cidrs`. */
  public static create(dir: string, cidrs: readonly string[]): VpcNetwork {
    const vpc = new VpcNetwork(dir, `hacp-vpc-${uniq()}`);
    sh("ip", ["netns", "add", vpc.ns]);
    try {
      sh("ip", ["-n", vpc.ns, "link", "set", "lo", "up"]);
      sh("ip", ["-n", vpc.ns, "link", "add", "br0", "type", "bridge"]);
      for (const cidr of cidrs) sh("ip", ["-n", vpc.ns, "addr", "add", `${subnetGateway(cidr)}/${cidr.split("/")[1]}`, "dev", "br0"]);
      sh("ip", ["-n", vpc.ns, "link", "set", "br0", "up"]);
      sh("ip", ["netns", "exec", vpc.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    } catch (err) {
      vpc.destroy();
      throw err;
    }
    vpc.serviceIp = subnetGateway(cidrs[0]);
    return vpc;
  }

  /** Address of the forwarded services (the first subnet's gateway). */
  public serviceIp = "";
  private readonly children: ChildProcess[] = [];

  private constructor(public readonly dir: string, public readonly ns: string) {}

  /**
   * Makes `127.0.0.1:hostPort` on the host reachable at `serviceIp:port` inside the VPC: a socat on
   * the host listens on a Unix socket, a socat inside the VPC namespace on the address.
   */
  public async forward(hostPort: number, port: number): Promise<void> {
    const sock = path.join(this.dir, `fw-${port}.sock`);
    this.spawn("socat", [`UNIX-LISTEN:${sock},fork,mode=600`, `TCP:127.0.0.1:${hostPort}`]);
    await waitFor(() => existsSync(sock), 5000, `forward socket ${sock}`);
    this.spawn("ip", ["netns", "exec", this.ns, "socat", `TCP-LISTEN:${port},bind=${this.serviceIp},fork,reuseaddr`, `UNIX-CONNECT:${sock}`]);
    await waitFor(() => sh("ip", ["netns", "exec", this.ns, "ss", "-Htln", `sport = :${port}`]).trim() !== "", 5000, `listener ${this.serviceIp}:${port}`);
  }

  /**
   * The Amazon Time Sync Service at 169.254.169.123 inside the VPC: an NTP server (stratum 1,
   * answering from the host's clock) for the nodes' chrony, which runs with `-x` (it must not set
   * the host's clock, and a container has no CAP_SYS_TIME).
   */
  public startTimeSync(): void {
    sh("ip", ["-n", this.ns, "addr", "add", "169.254.169.123/32", "dev", "lo"]);
    this.spawn("ip", ["netns", "exec", this.ns, "python3", "-c", NTP_SERVER]);
  }

  private readonly imdsRoutes = new Map<string, ImdsRoute>();
  private imdsRoutesFile = "";

  /** The instance metadata endpoint at 169.254.169.254:80 in the VPC ({@link IMDS_ROUTER}). */
  public async startImds(): Promise<void> {
    this.imdsRoutesFile = path.join(this.dir, "imds-routes.json");
    this.writeImdsRoutes();
    sh("ip", ["-n", this.ns, "addr", "add", "169.254.169.254/32", "dev", "lo"]);
    const log = path.join(this.dir, "imds-router.log");
    const router = this.spawn("ip", ["netns", "exec", this.ns, "python3", "-c", IMDS_ROUTER, this.imdsRoutesFile], log);
    await waitFor(() => router.exitCode !== null || sh("ip", ["netns", "exec", this.ns, "ss", "-Htln", "sport = :80"]).includes("169.254.169.254:80"), 10000, "the metadata endpoint in the VPC");
    if (router.exitCode !== null) throw new Error(`the metadata endpoint exited ${router.exitCode}: ${readFileSync(log, "utf8").slice(-2000)}`);
  }

  /** Requests from `ip` (an address of one instance) go to the IMDS stand-in at `socket`. */
  public routeImds(ip: string, route: ImdsRoute): void {
    if (this.imdsRoutesFile === "") throw new Error("startImds() first");
    this.imdsRoutes.set(ip, route);
    this.writeImdsRoutes();
  }

  /** Removes the routes to the stand-in at `socket` (an instance that stopped). */
  public unrouteImds(socket: string): void {
    for (const [ip, r] of [...this.imdsRoutes]) if (r.socket === socket) this.imdsRoutes.delete(ip);
    if (this.imdsRoutesFile !== "") this.writeImdsRoutes();
  }

  private writeImdsRoutes(): void {
    writeFileSync(`${this.imdsRoutesFile}.tmp`, JSON.stringify(Object.fromEntries(this.imdsRoutes)));
    renameSync(`${this.imdsRoutesFile}.tmp`, this.imdsRoutesFile);
  }

  /** Starts a helper process that ends with the VPC (its output to `log`, if given). */
  public spawn(cmd: string, args: readonly string[], log?: string): ChildProcess {
    let fd: number | undefined;
    if (log !== undefined) fd = openSync(log, "a");
    const child = spawn(cmd, args as string[], { stdio: fd === undefined ? "ignore" : ["ignore", fd, fd], detached: true });
    if (fd !== undefined) closeSync(fd);
    this.children.push(child);
    return child;
  }

  /** Plugs a new veth into the bridge; its peer goes into `peerNs` as `peerName` with `mac`. */
  public plug(peerNs: string, peerName: string, mac: string): string {
    const host = `hv${uniq()}`.slice(0, 15);
    sh("ip", ["-n", this.ns, "link", "add", host, "type", "veth", "peer", "name", peerName, "netns", peerNs, "address", mac]);
    sh("ip", ["-n", this.ns, "link", "set", host, "master", "br0", "up"]);
    return host;
  }

  /** Stops the forwarders and deletes the namespace. */
  public destroy(): void {
    for (const c of this.children) killGroup(c);
    quiet("ip", ["netns", "del", this.ns]);
  }
}

/**
 * Polls `ok` until true or `ms` passed. With `signal`, stops at once when it aborts (rejecting with
 * its reason), so a wait whose result nobody awaits any more does not keep the test process alive.
 */
export async function waitFor(ok: () => boolean | Promise<boolean>, ms: number, what: string, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    throwIfAborted(signal, what);
    try {
      if (await ok()) return;
    } catch {
      // not yet
    }
    throwIfAborted(signal, what);
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await pause(250, signal);
  }
}

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new Error(`stopped waiting for ${what}: ${String((signal.reason as Error | undefined)?.message ?? signal.reason)}`);
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * `Promise.all` for waits that poll: runs `task` for every item (at most `concurrency` at a time,
 * in order), and the first failure aborts the signal every task was given, as does `parent`
 * aborting; tasks not started yet are not started. Rejects with the first failure only once every
 * started task has returned, so nothing keeps polling (or booting) behind a failed test.
 */
export async function allOrAbort<T, R>(
  items: readonly T[],
  task: (item: T, signal: AbortSignal, index: number) => Promise<R>,
  options: { readonly parent?: AbortSignal; readonly concurrency?: number } = {},
): Promise<R[]> {
  const controller = new AbortController();
  const onParent = (): void => controller.abort(options.parent!.reason);
  if (options.parent?.aborted) onParent();
  else options.parent?.addEventListener("abort", onParent, { once: true });
  const results: R[] = new Array(items.length);
  let failure: { error: unknown } | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !controller.signal.aborted) {
      const i = next++;
      try {
        results[i] = await task(items[i], controller.signal, i);
      } catch (error) {
        failure ??= { error };
        controller.abort(error);
      }
    }
  };
  const width = Math.max(1, Math.min(options.concurrency ?? items.length, items.length));
  try {
    await Promise.all(Array.from({ length: width }, worker));
  } finally {
    options.parent?.removeEventListener("abort", onParent);
  }
  if (failure !== undefined) throw failure.error;
  if (controller.signal.aborted) throw controller.signal.reason instanceof Error ? controller.signal.reason : new Error(String(controller.signal.reason));
  return results;
}

/** What a node is booted from. */
export interface NodeSpec {
  /** Container (and hostname) name, `[a-z0-9-]`. */
  readonly name: string;
  /** The emulated instance this container is. */
  readonly instanceId: string;
  /** The user data as the launch template stores it (decoded). */
  readonly userData: string;
  /** Instance profile ARN of the launch template (moto's ASG instances do not carry it; EC2's do). */
  readonly instanceProfileArn?: string;
  /** `HttpPutResponseHopLimit` of the launch template. */
  readonly hopLimit: number;
  /** `InstanceMetadataTags` enabled in the launch template. */
  readonly instanceTags: boolean;
  /** Files written into the container before boot (the test image's configuration, never user data). */
  readonly files?: Readonly<Record<string, string>>;
  /** Which of `files` are programs (mode 0755; the others 0644). @default - none */
  readonly executables?: readonly string[];
  /**
   * The node runs containers (containerd, runc, the kubelet: an API-server node). The container
   * then gets what a VM gives them and nspawn does not by default ({@link nodeCgroups}):
   * its own cgroup v1 hierarchies, writable inside its own cgroup namespace; the keyring system
   * calls runc uses (`add_key`, `keyctl`, `request_key`, outside nspawn's default filter);
   * `/var/lib/containerd` on the host's file system (ext4, as an EC2 root volume) instead of the
   * overlay root, where overlayfs snapshots cannot be mounted; `/dev/kmsg` and CAP_SYSLOG (the
   * kubelet's OOM watcher reads the kernel log); `/proc/sys/net` writable (the node's own network namespace: nspawn
   * leaves it read-only with `--network-namespace-path`); and its own time namespace, so that
   * `/proc/uptime` starts at the container's boot as on a VM (scripts measure deadlines "since
   * boot" from it; the host has been up for hours).
   * @default false
   */
  readonly runsContainers?: boolean;
  /**
   * Kernel settings that are not namespaced (`kernel.*`, `vm.*`) which this node gets its own
   * copy of: a file holding the host's current value, bind-mounted over the `/proc/sys` entry in
   * the container, so the node's scripts can set them and the kubelet (protectKernelDefaults)
   * reads what they set, without a test changing the host's kernel (kernel.panic_on_oops there
   * would be the whole machine's). The kernel itself does not apply the copies' values.
   * @default - none
   */
  readonly ownKernelKeys?: readonly string[];
}

/**
 * The cgroup hierarchies mounted under /sys/fs/cgroup: `key` is the hierarchy's field in
 * /proc/self/cgroup (`""` for the unified hierarchy, `name=systemd` for the named one, the
 * controllers otherwise).
 */
function cgroupHierarchies(): Array<{ dir: string; key: string }> {
  const out: Array<{ dir: string; key: string }> = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const m = / (\/sys\/fs\/cgroup(?:\/[^ ]+)?) [^-]* - (cgroup2?) [^ ]+ ([^ ]+)$/.exec(line);
    if (m === null) continue;
    if (m[2] === "cgroup2") {
      out.push({ dir: m[1], key: "" });
      continue;
    }
    const opts = m[3].split(",").filter((o) => !["rw", "ro", "relatime", "nosuid", "nodev", "noexec", "clone_children", "xattr"].includes(o) && !o.startsWith("release_agent"));
    out.push({ dir: m[1], key: opts.join(",") });
  }
  return out;
}

/**
 * Per node, one cgroup `hacp-<name>` below this process's own, which the container starts in:
 *
 * - in the hierarchies systemd tracks its units in (the unified one, and `name=systemd` on a
 *   hybrid host), for every node. nspawn with `--keep-unit` moves itself into `<its
 *   cgroup>/supervisor` and the container into `<its cgroup>/payload`, whose subtree the
 *   container's systemd manages as its own. Started from this process's cgroup (the root of the
 *   unified hierarchy here: no systemd on the host), every container got the same `/payload`: the
 *   containers' systemds shared `init.scope` and every `system.slice/<unit>` cgroup, one of them
 *   read another's processes there as PID 0 (outside its PID namespace), which systemd reads as
 *   EIO ("Failed to migrate controller cgroups … Input/output error"), and a unit whose cgroup the
 *   other removed or populated at the moment its process joined failed with 219/CGROUP
 *   (systemd-journal-flush, -sysusers, -user-sessions, -remount-fs: 8 of 60 containers booted 3
 *   at a time, none after).
 * - for a node that runs containers, also in every v1 controller hierarchy: nspawn's cgroup
 *   namespace makes them the container's own subtree (nspawn mounts them read-only,
 *   {@link NspawnNode} remounts them writable inside the container: the kubelet and runc create the
 *   pods' cgroups there).
 *
 * Returns the directories, for the launcher to join and for cleanup.
 */
function nodeCgroups(name: string, runsContainers: boolean): string[] {
  const own = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").trim().split("\n")) {
    const [, key, p] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (key !== undefined) own.set(key, p);
  }
  const hierarchies = cgroupHierarchies();
  if (runsContainers && !hierarchies.some((h) => h.key !== "" && !h.key.startsWith("name="))) {
    throw new Error("runsContainers: no cgroup v1 controller hierarchy under /sys/fs/cgroup; the boot tier gives nodes their own cgroups on cgroup v1/hybrid hosts only (not built for v2 yet)");
  }
  const tracking = hierarchies.filter((h) => h.key === "" || h.key === "name=systemd");
  if (!tracking.some((h) => h.key === "")) throw new Error("no unified cgroup hierarchy (cgroup2) mounted under /sys/fs/cgroup: the boot tier needs one for the containers' systemd");
  const dirs: string[] = [];
  for (const h of hierarchies) {
    if (!runsContainers && !tracking.includes(h)) continue;
    const parent = path.join(h.dir, own.get(h.key) ?? "/");
    const dir = path.join(parent, `hacp-${name}`);
    mkdirSync(dir, { recursive: true });
    if (h.key.split(",").includes("cpuset")) {
      for (const f of ["cpuset.cpus", "cpuset.mems"]) writeFileSync(path.join(dir, f), readFileSync(path.join(parent, f), "utf8"));
    }
    dirs.push(dir);
  }
  return dirs;
}

/** Removes a node's cgroup trees, deepest first (the container's processes are gone). */
function removeCgroups(dirs: readonly string[]): void {
  const remove = (d: string): void => {
    let entries: string[] = [];
    try {
      entries = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) remove(path.join(d, e));
    try {
      rmdirSync(d);
    } catch {
      // still busy: a process has not exited yet
    }
  };
  for (const d of dirs) remove(d);
}

/** Result of a command inside the container. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where the tier keeps data volumes: one sparse file per volume id, across node replacements. */
export class VolumeStore {
  constructor(public readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  /** The backing file of `volumeId` (`sizeGiB` sparse on first use). */
  public file(volumeId: string, sizeGiB: number): string {
    const f = path.join(this.dir, `${volumeId}.img`);
    if (!existsSync(f)) sh("truncate", ["-s", `${sizeGiB}G`, f]);
    return f;
  }
}

/** A container-running node's systemd starts once this marker exists (the harness's setup is done); its own binary's name beside the gate. */
const HARNESS_GATE_MARKER = "/run/ha-boot-tier/setup-done";
const REAL_SYSTEMD = "systemd.boot-tier-real";

/**
 * What kills the running containers if the test process exits without stopping them: one
 * process `exit` listener for all (one per node would pass Node's 10-listener warning).
 */
const onExit = new Set<() => void>();
process.on("exit", () => {
  for (const kill of onExit) kill();
});

/** A booted node container. */
export class NspawnNode {
  /**
   * Boots `spec` as a container in its own network namespace plugged into `vpc`, with its IMDS
   * stand-in, and starts watching the emulator for hot-plugged interfaces and volumes.
   */
  public static async boot(emulator: Ec2QueryApi, vpc: VpcNetwork, volumes: VolumeStore, runDir: string, spec: NodeSpec): Promise<NspawnNode> {
    const rootfs = nodeRootfs();
    if (rootfs === undefined) throw new Error(`no node root filesystem: run \`${NODE_ROOTFS_SETUP_COMMAND}\``);
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(spec.name)) throw new Error(`bad node name ${spec.name}`);
    const dir = path.join(runDir, `${spec.name}-${uniq()}`);
    const node = new NspawnNode(emulator, vpc, volumes, dir, spec, `hacp-${spec.name}-${uniq()}`.slice(0, 40));
    try {
      await node.start(rootfs);
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  /** When `boot` started the container. */
  public startedAt = 0;
  /** Console output of the container (systemd's status lines). */
  public readonly consoleLog: string;
  /** Loop devices attached for hot-plugged volumes. */
  public readonly loops: string[] = [];
  /** Interfaces plugged in (ENI id → name in the node). */
  public readonly plugged = new Map<string, string>();
  private nspawn?: ChildProcess;
  private imds?: ImdsStandIn;
  private imdsSocket = "";
  private hopLimit = 1;
  private watcher?: NodeJS.Timeout;
  private readonly attachedVolumes = new Set<string>();
  private rootDevice = "/dev/sda1";
  private readonly hostVeths: string[] = [];
  private watchError = "";
  private stopped = false;
  private cgroups: string[] = [];

  private constructor(
    private readonly emulator: Ec2QueryApi,
    private readonly vpc: VpcNetwork,
    private readonly volumes: VolumeStore,
    public readonly dir: string,
    public readonly spec: NodeSpec,
    public readonly ns: string,
  ) {
    this.consoleLog = path.join(dir, "console.log");
  }

  private async start(rootfs: string): Promise<void> {
    const { spec, dir } = this;
    const upper = path.join(dir, "upper");
    const work = path.join(dir, "work");
    const merged = path.join(dir, "merged");
    for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true });
    if (path.resolve(rootfs) === "/" || !existsSync(path.join(rootfs, "etc/os-release"))) throw new Error(`refusing ${rootfs} as a node root`);

    // Network namespace, primary interface, IMDS.
    sh("ip", ["netns", "add", this.ns]);
    sh("ip", ["-n", this.ns, "link", "set", "lo", "up"]);
    const enis = await attachedInterfaces(this.emulator, spec.instanceId);
    const primary = enis.find((e) => e.deviceIndex === 0);
    if (primary === undefined) throw new Error(`${spec.instanceId} has no primary interface in the emulator`);
    this.hostVeths.push(this.vpc.plug(this.ns, "eth0", primary.mac));
    this.plugged.set(primary.id, "eth0");
    const subnetXml = await this.emulator.ec2("DescribeSubnets", { "SubnetId.1": primary.subnetId });
    const cidr = xmlValues(subnetXml, "cidrBlock")[0];
    const imdsSock = path.join(dir, "imds.sock");
    this.imds = await startImds(this.emulator, spec.instanceId, { socketPath: imdsSock, instanceTags: spec.instanceTags, instanceProfileArn: spec.instanceProfileArn });
    this.imdsSocket = imdsSock;
    this.hopLimit = spec.hopLimit;
    // The metadata endpoint is one link away, in the VPC, answering this instance's addresses (its
    // slot interface's too, once attached: see hotplug) with the hop limit as the token's TTL.
    this.vpc.routeImds(primary.privateIp, { socket: imdsSock, hopLimit: this.hopLimit });

    // NoCloud seed: the user data as stored, the instance's identity, its primary interface.
    const seed = path.join(upper, "var/lib/cloud/seed/nocloud");
    mkdirSync(seed, { recursive: true });
    writeFileSync(path.join(seed, "user-data"), spec.userData);
    writeFileSync(path.join(seed, "meta-data"), `instance-id: ${spec.instanceId}\nlocal-hostname: ${spec.name}\n`);
    writeFileSync(
      path.join(seed, "network-config"),
      [
        "version: 2",
        "ethernets:",
        // By name: cloud-init matches MACs only on physical devices, and a veth is not one.
        "  eth0:",
        `    addresses: ["${primary.privateIp}/${cidr.split("/")[1]}"]`,
        `    gateway4: ${subnetGateway(cidr)}`,
        "",
      ].join("\n"),
    );
    for (const [file, text] of Object.entries(spec.files ?? {})) {
      const target = path.join(upper, file);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text, { mode: spec.executables?.includes(file) ? 0o755 : 0o644 });
    }

    // The container: overlay mounted in a private mount namespace, checked, then nspawn.
    const extra: string[] = [];
    if (spec.runsContainers) {
      const containerd = path.join(dir, "containerd");
      mkdirSync(containerd);
      // CAP_SYSLOG: the kubelet opens /dev/kmsg (its OOM watcher). (CAP_SYS_RESOURCE, which runc
      // needs for the pods' negative oom_score_adj, is not in this machine's bounding set at all.)
      extra.push("--system-call-filter=add_key keyctl request_key", "--capability=CAP_SYSLOG", `--bind=${containerd}:/var/lib/containerd`);
    }
    this.cgroups = nodeCgroups(this.ns, spec.runsContainers === true);
    // What the harness sets up from outside once the container runs (the node's own view of
    // /sys/class/net; writable cgroup hierarchies, /dev/kmsg, the kernel keys) must be there
    // before systemd starts anything (cloud-init reads /sys/class/net in its first seconds; with
    // three nodes booting at once on a loaded machine the setup came up to 8 s after nspawn). So
    // the init nspawn --boot starts (/usr/lib/systemd/systemd) is, in the overlay's upper layer, a
    // script that waits for the harness's marker (at most 120 s) and then execs the image's own
    // systemd binary, copied beside it: systemd is PID 1 as before, from then on.
    const init = path.join(upper, "usr/lib/systemd");
    mkdirSync(init, { recursive: true });
    copyFileSync(path.join(rootfs, "usr/lib/systemd/systemd"), path.join(init, REAL_SYSTEMD));
    chmodSync(path.join(init, REAL_SYSTEMD), 0o755);
    writeFileSync(
      path.join(init, "systemd"),
      [
        "#!/bin/sh",
        "# boot tier: systemd starts once the harness has set the container up from outside",
        "i=0",
        `until [ -e ${HARNESS_GATE_MARKER} ]; do`,
        "  i=$((i + 1))",
        `  [ "$i" -le 1200 ] || { echo "boot tier: no ${HARNESS_GATE_MARKER} after 120 s" >&2; exit 1; }`,
        "  sleep 0.1",
        "done",
        `exec /usr/lib/systemd/${REAL_SYSTEMD} "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const wrapper = [
      "set -eu",
      'lower=$1 upper=$2 work=$3 merged=$4 name=$5 ns=$6',
      'shift 6',
      'mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$merged"',
      '[ "$(findmnt -n -o FSTYPE --mountpoint "$merged")" = overlay ] || { echo "container root is not the overlay" >&2; exit 97; }',
      '[ "$(stat -c %d:%i "$merged")" != "$(stat -c %d:%i /)" ] || { echo "container root is the host root" >&2; exit 98; }',
      '[ -x "$merged/lib/systemd/systemd" ] || { echo "no systemd in the container root" >&2; exit 96; }',
      // CAP_NET_ADMIN within the node's own namespace: ifupdown and the slot claim configure it.
      'exec systemd-nspawn --quiet --boot --register=no --keep-unit --console=pipe --link-journal=no --resolv-conf=off --timezone=off \\',
      '  --capability=CAP_NET_ADMIN --directory="$merged" --machine="$name" --hostname="$name" --network-namespace-path="/run/netns/$ns" "$@"',
    ].join("\n");
    // The launcher's shell joins the node's own cgroups ({@link nodeCgroups}) and execs nspawn
    // from there. No cgroup namespace of its own: nspawn finds its cgroup by the path in
    // /proc/self/cgroup under the host's /sys/fs/cgroup, which a namespace rooted there would make
    // "/" (nspawn then created /supervisor and /payload at the host's root again); nspawn gives the
    // container its own cgroup namespace, rooted at `payload` (and at the node's own cgroup in
    // the v1 controller hierarchies).
    const join = this.cgroups.map((d) => `echo $$ > ${JSON.stringify(path.join(d, "cgroup.procs"))}`).join(" && ");
    // A node that runs containers gets a time namespace whose boot and monotonic clocks start about now.
    const uptime = Math.floor(Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]));
    const time = spec.runsContainers ? `--time --boottime -${uptime} --monotonic -${uptime} ` : "";
    const launcher = ["bash", ["-c", `${join} && exec unshare --mount ${time}--propagation private bash -c "$0" "$@"`, wrapper, "wrapper", rootfs, upper, work, merged, spec.name, this.ns, ...extra]] as const;
    const out = path.join(dir, "console.log");
    writeFileSync(out, "");
    const fd = openSync(out, "a");
    this.nspawn = spawn(launcher[0], launcher[1] as unknown as string[], {
      stdio: ["ignore", fd, fd],
      detached: true,
    });
    closeSync(fd);
    this.startedAt = Date.now();
    onExit.add(this.killOnExit);
    await waitFor(() => this.leader() !== undefined || this.nspawn!.exitCode !== null, 30000, `${spec.name}: container PID 1`);
    if (this.leader() === undefined) throw new Error(`${spec.name}: nspawn exited ${this.nspawn.exitCode}: ${readFileSync(out, "utf8").slice(-2000)}`);
    // Its own cgroup ({@link nodeCgroups}): the container's PID 1 is below the node's cgroup in the
    // unified hierarchy (nspawn's `payload`), never in a cgroup another container shares.
    const unified = /^0::(.*)$/m.exec(readFileSync(`/proc/${this.leader()}/cgroup`, "utf8"))?.[1] ?? "";
    if (!unified.includes(`/hacp-${this.ns}/`)) throw new Error(`${spec.name}: the container's PID 1 is in cgroup ${unified}, not below the node's own hacp-${this.ns}`);
    // With --network-namespace-path, systemd 252 mounts the container's /sys in the host's network
    // namespace: /sys/class/net would list the host's interfaces and never a hot-plugged one (the
    // slot claim finds its interface there by MAC). A sysfs mounted from the node's namespace
    // provides the two network directories.
    sh("nsenter", ["-t", String(this.leader()), "-m", "-n", "--", "sh", "-c",
      "mkdir -p /run/ha-boot-tier/sys && mount -t sysfs -o ro sysfs /run/ha-boot-tier/sys && " +
      "mount --bind /run/ha-boot-tier/sys/class/net /sys/class/net && mount --bind /run/ha-boot-tier/sys/devices/virtual/net /sys/devices/virtual/net"]);
    if (spec.runsContainers) {
      // nspawn mounts the v1 controller hierarchies read-only: writable, as the node's own subtree
      // (its cgroup namespace's root is its hacp-<name> cgroup); /dev/kmsg for the kubelet.
      sh("nsenter", ["-t", String(this.leader()), "-m", "--", "sh", "-c",
        "for d in /sys/fs/cgroup/*/; do case $d in */unified/|*/systemd/) ;; *) mount -o remount,bind,rw \"$d\" ;; esac; done && mknod /dev/kmsg c 1 11 && mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net"]);
    }
    const keys = spec.ownKernelKeys ?? [];
    if (keys.length > 0) {
      for (const k of keys) if (!/^(kernel|vm)(\.[a-z0-9_]+)+$/.test(k)) throw new Error(`ownKernelKeys: ${k} is not a kernel.* or vm.* key`);
      const script = keys.map((k) => {
        const entry = `/proc/sys/${k.replace(/\./g, "/")}`;
        const copy = `/run/ha-boot-tier/kernel/${k}`;
        return `cat ${entry} > ${copy} && mount --bind ${copy} ${entry}`;
      });
      sh("nsenter", ["-t", String(this.leader()), "-m", "--", "sh", "-c", ["set -e", "mkdir -p /run/ha-boot-tier/kernel", ...script].join("\n")]);
    }
    sh("nsenter", ["-t", String(this.leader()), "-m", "--", "sh", "-c", `mkdir -p /run/ha-boot-tier && touch ${HARNESS_GATE_MARKER}`]);
    const instXml = await this.emulator.ec2("DescribeInstances", { "InstanceId.1": spec.instanceId });
    this.rootDevice = xmlValues(instXml, "rootDeviceName")[0] ?? "/dev/sda1";
    const tick = (): void => {
      this.hotplug()
        .catch((err: Error) => (this.watchError = err.message))
        .finally(() => {
          if (!this.stopped) this.watcher = setTimeout(tick, 1000);
        });
    };
    this.watcher = setTimeout(tick, 1000);
  }

  private readonly killOnExit = (): void => {
    const leader = this.leader();
    if (leader !== undefined) quiet("kill", ["-9", String(leader)]);
    if (this.nspawn) killGroup(this.nspawn);
  };

  /** Host PID of the container's PID 1 (systemd), once it runs. */
  public leader(): number | undefined {
    const root = this.nspawn?.pid;
    if (root === undefined || this.nspawn?.exitCode !== null) return undefined;
    const children = (pid: number): number[] => {
      const out: number[] = [];
      try {
        for (const t of readdirSync(`/proc/${pid}/task`)) {
          const text = readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim();
          if (text) out.push(...text.split(/\s+/).map(Number));
        }
      } catch {
        // gone
      }
      return out;
    };
    const queue = children(root);
    while (queue.length > 0) {
      const pid = queue.shift()!;
      try {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1].trim().split(/\s+/);
        if (nspid !== undefined && nspid.length >= 2 && nspid[nspid.length - 1] === "1") {
          // nspawn's inner child is PID 1 of the new PID namespace from its clone on, but sets up
          // the container (its /sys, /proc, cgroup mounts) until it execs the init: the harness's
          // mounts made before then failed ("mount: /sys/fs/cgroup/*/: mount point does not
          // exist", the boot then stopped the container: "Trying to halt container") or ended up
          // under nspawn's. It is the container's PID 1 once it runs the init.
          return path.basename(readlinkSync(`/proc/${pid}/exe`)) === "systemd-nspawn" ? undefined : pid;
        }
      } catch {
        continue;
      }
      queue.push(...children(pid));
    }
    return undefined;
  }

  /** Runs `argv` inside the container (all its namespaces), with a timeout (killed when `signal` aborts). */
  public async exec(argv: readonly string[], timeoutMs = 60000, signal?: AbortSignal): Promise<ExecResult> {
    const leader = this.leader();
    if (leader === undefined) return { code: -1, stdout: "", stderr: "container not running" };
    try {
      const { stdout, stderr } = await execFileAsync("nsenter", ["-t", String(leader), "-m", "-u", "-i", "-n", "-p", "--", "/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...argv], {
        encoding: "utf8",
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        signal,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
      return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? e.message };
    }
  }

  /** The last `lines` of the journal of `unit` (or of the whole boot). */
  public async journal(unit?: string, lines = 40): Promise<string> {
    const r = await this.exec(["journalctl", "--no-pager", "-o", "short-monotonic", "-n", String(lines), ...(unit ? ["-u", unit] : [])]);
    return r.stdout + r.stderr;
  }

  /**
   * `ec2 modify-instance-metadata-options --http-put-response-hop-limit` on the running instance:
   * the emulator records it, and the metadata endpoint uses the hop limit the emulator answers with
   * for this instance's addresses from the next request on, as EC2 does.
   */
  public async modifyHopLimit(hopLimit: number): Promise<number> {
    const xml = await this.emulator.ec2("ModifyInstanceMetadataOptions", { InstanceId: this.spec.instanceId, HttpPutResponseHopLimit: String(hopLimit) });
    const applied = Number(xmlValues(xml, "httpPutResponseHopLimit")[0]);
    if (!Number.isInteger(applied) || applied < 1) throw new Error(`ModifyInstanceMetadataOptions answered no hop limit: ${xml.slice(0, 500)}`);
    this.hopLimit = applied;
    for (const eni of await attachedInterfaces(this.emulator, this.spec.instanceId)) this.vpc.routeImds(eni.privateIp, { socket: this.imdsSocket, hopLimit: applied });
    return applied;
  }

  /** Problems the hot-plug watcher met (empty when none). */
  public get hotplugError(): string {
    return this.watchError;
  }

  /** One pass of the hot-plug watcher: interfaces and volumes the emulator shows attached. */
  private async hotplug(): Promise<void> {
    if (this.stopped || this.leader() === undefined) return;
    for (const eni of await attachedInterfaces(this.emulator, this.spec.instanceId)) {
      if (this.plugged.has(eni.id)) continue;
      const name = `eth${eni.deviceIndex}`;
      this.hostVeths.push(this.vpc.plug(this.ns, name, eni.mac));
      this.plugged.set(eni.id, name);
      this.vpc.routeImds(eni.privateIp, { socket: this.imdsSocket, hopLimit: this.hopLimit });
    }
    const volXml = await this.emulator.ec2("DescribeVolumes", { "Filter.1.Name": "attachment.instance-id", "Filter.1.Value.1": this.spec.instanceId });
    for (const item of xmlItems(volXml, "volumeSet")) {
      const id = xmlValues(item, "volumeId")[0];
      // The root volume is the container's own root file system.
      if (this.attachedVolumes.has(id) || xmlValues(item, "device").includes(this.rootDevice)) continue;
      const size = Number(xmlValues(item, "size")[0]);
      const loop = sh("losetup", ["--find", "--show", this.volumes.file(id, size)]).trim();
      this.loops.push(loop);
      this.attachedVolumes.add(id);
      const minor = Number(loop.replace("/dev/loop", ""));
      const dev = `nvme${this.attachedVolumes.size}n1`;
      const leader = String(this.leader());
      // Nitro exposes EBS volumes as NVMe devices named by the volume id (udev's by-id link).
      sh("nsenter", ["-t", leader, "-m", "--", "sh", "-c", `mknod /dev/${dev} b 7 ${minor} && mkdir -p /dev/disk/by-id && ln -sf ../../${dev} /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${id.replace("-", "")}`]);
    }
  }

  /** Powers the container off (SIGKILL after `graceMs`), removes its namespace, veths and loop devices. */
  public async stop(graceMs = 10000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.watcher) clearTimeout(this.watcher);
    const child = this.nspawn;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      // nspawn turns SIGTERM into an orderly poweroff of the container ("Trying to halt
      // container"). Said in its console first: a halt without this line was not the harness's.
      try {
        appendFileSync(this.consoleLog, `boot tier harness: stopping ${this.spec.name} (SIGTERM to nspawn ${child.pid})\n`);
      } catch {
        // the console file is gone: stop all the same
      }
      child.kill("SIGTERM");
      const timer = setTimeout(() => this.killOnExit(), graceMs);
      await exited;
      clearTimeout(timer);
    }
    this.killOnExit();
    onExit.delete(this.killOnExit);
    if (this.imdsSocket !== "") this.vpc.unrouteImds(this.imdsSocket);
    await this.imds?.stop();
    for (const v of this.hostVeths) quiet("ip", ["-n", this.vpc.ns, "link", "del", v]);
    quiet("ip", ["netns", "del", this.ns]);
    for (const loop of this.loops) quiet("losetup", ["-d", loop]);
    if (this.cgroups.length > 0) {
      // The pods' processes leave their cgroups as the PID namespace ends: retry for a few seconds.
      const deadline = Date.now() + 10000;
      do {
        removeCgroups(this.cgroups);
        if (this.cgroups.every((d) => !existsSync(d))) break;
        await new Promise((r) => setTimeout(r, 250));
      } while (Date.now() < deadline);
    }
  }
}
