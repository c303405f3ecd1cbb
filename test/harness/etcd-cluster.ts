/**
 * Tier-3 ("real processes") harness: runs real etcd members on loopback so tests can prove that the
 * configuration the library renders actually forms a cluster, survives member loss and accepts
 * replacements.
 *
 * Design constraints, and why:
 * - Members are launched either from a `--config-file` (what the library's renderer will produce) or
 *   from a flag list, so the same harness serves hand-written proof tests and rendered configs.
 * - Every layout gets its own random 127.A.B.0/24 block and kernel-chosen ports plus a private temp
 *   root, because jest runs test files in parallel workers and they must never collide.
 * - Members may instead run in network namespaces the caller created (`allocateMember(name,
 *   { address, netns })`, etcdctl via `clientNetns`): each gets its own stack and a real address, so
 *   peer connections come from the member's own IP (on loopback they all come from 127.0.0.1).
 * - Nothing may outlive the test run: every child is tracked, `cleanup()` kills and reaps them, a
 *   `process.on("exit")` hook SIGKILLs survivors, and (where util-linux `setpriv` exists) members get
 *   a parent-death signal so even a SIGKILLed jest worker takes its etcd members with it.
 * - Every wait is bounded and every etcdctl call carries dial/command timeouts plus a hard kill
 *   timer, so a broken cluster fails a test with the members' log tails instead of hanging it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as vm from "node:vm";
import { stringify as yamlStringify } from "yaml";

// ---------------------------------------------------------------------------------------------
// Process bookkeeping shared by everything in this module
// ---------------------------------------------------------------------------------------------

/**
 * Kept on the host `process` under a registry symbol rather than in module scope: jest re-evaluates
 * this module for every test file in a worker, and one exit hook per worker is enough.
 */
interface ProcessRegistry {
  readonly children: Set<ChildProcess>;
  readonly tempRoots: Set<string>;
}

const REGISTRY_KEY = Symbol.for("cdktf-ha-control-plane/test/etcd-harness");

/**
 * The real Node `process`. Inside a jest test, `process` is a per-file copy whose "exit" event never
 * fires; `vm.runInThisContext` evaluates in the host's main context, which holds the real one.
 */
function hostProcess(): NodeJS.Process {
  return vm.runInThisContext("process") as NodeJS.Process;
}

function registry(): ProcessRegistry {
  const host = hostProcess();
  const holder = host as unknown as Record<symbol, ProcessRegistry | undefined>;
  let reg = holder[REGISTRY_KEY];
  if (reg === undefined) {
    const created: ProcessRegistry = { children: new Set(), tempRoots: new Set() };
    reg = created;
    holder[REGISTRY_KEY] = created;
    // Synchronous by necessity: nothing async runs inside an "exit" listener.
    host.on("exit", () => {
      const killed: number[] = [];
      for (const child of created.children) {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          try {
            // `host`, not the jest sandbox's `process`: the sandbox may be torn down by now.
            host.kill(child.pid, "SIGKILL");
            killed.push(child.pid);
          } catch {
            // Already gone: nothing to clean.
          }
        }
      }
      if (keepTempDirs(host.env) || created.tempRoots.size === 0) return;
      // A SIGKILLed etcd can still be writing for a moment; deleting its data dir under it would
      // fail with ENOTEMPTY, so wait (bounded) until the kernel has really torn it down.
      const deadline = Date.now() + 2000;
      while (killed.some(processStillRunning) && Date.now() < deadline) sleepSync(10);
      for (const dir of created.tempRoots) {
        try {
          fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
        } catch {
          // Best effort at exit; a leftover temp dir is swept by the next run (see sweepStaleRoots).
        }
      }
    });
  }
  return reg;
}

/** Blocking sleep, only for the "exit" hook where nothing asynchronous can run any more. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * True while `pid` exists and is not yet a zombie. `kill(pid, 0)` alone cannot tell, because an
 * unreaped zombie still answers it even though it no longer touches any file.
 */
function processStillRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Debug escape hatch: `ETCD_HARNESS_KEEP_TMP=1` keeps data dirs and logs for post-mortem reading. */
function keepTempDirs(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env.ETCD_HARNESS_KEEP_TMP ?? "");
}

/**
 * Environment for etcd/etcdctl children. Inherited `ETCD_*`/`ETCDCTL_*` variables are dropped because
 * etcd reads them as config (silently changing what a test starts) and etcdctl 3.4 refuses to run
 * when an env var and the equivalent flag are both set.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^ETCD(CTL)?_/.test(key) && key !== "ETCD_UNSUPPORTED_ARCH") continue;
    env[key] = value;
  }
  env.ETCDCTL_API = "3";
  return env;
}

let pdeathsigProbe: Promise<boolean> | undefined;

/**
 * Whether `setpriv --pdeathsig` works here. A parent-death signal is the only guarantee that
 * survives the jest worker itself being SIGKILLed (no "exit" hook runs then).
 */
function pdeathsigAvailable(): Promise<boolean> {
  pdeathsigProbe ??= runCommand("setpriv", ["--pdeathsig", "KILL", "--", "true"], { timeoutMs: 5000 }).then(
    (r) => r.exitCode === 0,
    () => false,
  );
  return pdeathsigProbe;
}

// ---------------------------------------------------------------------------------------------
// Generic async command runner
// ---------------------------------------------------------------------------------------------

/** Outcome of {@link runCommand}; a non-zero exit is data, not an exception. */
export interface CommandResult {
  /** Exit code, or null when the process was ended by a signal. */
  readonly exitCode: number | null;
  /** Terminating signal, if any. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the hard timeout fired and the process was SIGKILLed. */
  readonly timedOut: boolean;
}

/** Options for {@link runCommand}. */
export interface RunCommandOptions {
  /** Hard limit after which the process is SIGKILLed (default 30 s). */
  readonly timeoutMs?: number;
  /** Environment; defaults to the harness child environment (no inherited `ETCD*_` variables). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Written to stdin, which is then closed. */
  readonly input?: string;
  /** Extra set the child is added to while it runs, so an owner can kill its own commands. */
  readonly track?: Set<ChildProcess>;
  /** Called with each chunk of stdout as it arrives (the result still holds all of it). */
  readonly onStdout?: (chunk: string) => void;
}

/**
 * Runs a command asynchronously with a hard timeout and collects its output. Rejects only when the
 * command cannot be started at all (e.g. not installed), because that is a broken test environment
 * rather than a result to assert on.
 */
export function runCommand(command: string, args: readonly string[], options: RunCommandOptions = {}): Promise<CommandResult> {
  const reg = registry();
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(command, args as string[], {
      cwd: options.cwd,
      env: options.env ?? childEnv(),
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    reg.children.add(child);
    options.track?.add(child);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 30_000);
    const forget = (): void => {
      clearTimeout(timer);
      reg.children.delete(child);
      options.track?.delete(child);
    };
    child.stdout?.on("data", (d: Buffer) => {
      stdout.push(d);
      options.onStdout?.(d.toString("utf8"));
    });
    child.stderr?.on("data", (d: Buffer) => stderr.push(d));
    child.once("error", (err) => {
      forget();
      reject(new Error(`cannot run ${command}: ${err.message}`));
    });
    child.once("close", (code, signal) => {
      forget();
      resolve({
        exitCode: code,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
        timedOut,
      });
    });
    if (options.input !== undefined && child.stdin) {
      // EPIPE when the child exits without reading stdin is irrelevant: its exit status tells the story.
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.input);
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Addresses, ports, temp dirs
// ---------------------------------------------------------------------------------------------

/**
 * Picks a random `127.A.B` prefix (A in 100..254). All of 127.0.0.0/8 is routed to `lo` on Linux,
 * so distinct prefixes keep parallel jest workers apart without any network setup; low values of A
 * are avoided because 127.0.0.1 / 127.0.1.1 are commonly used by the host itself.
 */
export function randomLoopbackPrefix(): string {
  return `127.${randomInt(100, 255)}.${randomInt(0, 256)}`;
}

/**
 * Returns `count` distinct free TCP ports on `address`. All listeners are held open until every port
 * is known so the kernel cannot hand the same port out twice within one call.
 */
export async function freePorts(address: string, count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", (err) =>
          reject(new Error(`cannot bind ${address}:0 (${err.message}); the etcd harness needs all of 127.0.0.0/8 on loopback (Linux)`)),
        );
        server.listen({ host: address, port: 0, exclusive: true }, () => resolve());
      });
      ports.push((server.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
  }
}

/**
 * Source address of every TCP connection between loopback members. Linux picks the `src` of the
 * `local 127.0.0.0/8` route (127.0.0.1) whatever 127.A.B.C is dialed, and etcd 3.4 rejects a peer
 * whose client certificate has IP/DNS SANs that do not match the connection's source address. Test
 * peer certificates therefore need this address as an extra IP SAN (next to the member's own
 * address, which the dialing side verifies). Production peers dial from their own address, so this
 * is an artefact of running a cluster on one host, not something the library's PKI should add.
 */
export const LOOPBACK_PEER_SOURCE_ADDRESS = "127.0.0.1";

/** TLS material a member serves with on one of its two listeners (client or peer). */
export interface EtcdTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly trustedCaFile: string;
  /** Require and verify client certificates on this listener (default true: mutual TLS). */
  readonly clientCertAuth?: boolean;
}

/** Per-member TLS; a listener without TLS files serves plain HTTP. */
export interface EtcdMemberTls {
  readonly client?: EtcdTlsFiles;
  readonly peer?: EtcdTlsFiles;
}

/** TLS used by etcdctl when talking to members. */
export interface EtcdClientTls {
  readonly caFile: string;
  /** Omit `certFile`/`keyFile` to connect without a client certificate (e.g. to prove refusal). */
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** Everything needed to run one member; pure data so renderers can consume it. */
export interface EtcdMemberSpec {
  /** etcd member name (`--name`). */
  readonly name: string;
  /** Loopback address both listeners bind to. */
  readonly address: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** Directory owned by this member: holds `data/`, `etcd.log` and rendered config files. */
  readonly memberDir: string;
  /** `--data-dir`; not created up front because etcd insists on creating it with mode 0700 itself. */
  readonly dataDir: string;
  /** stdout+stderr of every run of this member, appended with a header line per start. */
  readonly logFile: string;
  readonly tls?: EtcdMemberTls;
  /**
   * Network namespace the member runs in (`ip netns exec`), for tests that give every member its
   * own network stack and a real (private) address; undefined: the host's loopback.
   */
  readonly netns?: string;
}

/** Client URL of a member (`https` when client TLS is configured). */
export function clientUrl(member: EtcdMemberSpec): string {
  return `${member.tls?.client ? "https" : "http"}://${member.address}:${member.clientPort}`;
}

/** Peer URL of a member (`https` when peer TLS is configured). */
export function peerUrl(member: EtcdMemberSpec): string {
  return `${member.tls?.peer ? "https" : "http"}://${member.address}:${member.peerPort}`;
}

/** `--initial-cluster` value (`name=peerURL,...`) for the given members. */
export function initialClusterOf(members: readonly EtcdMemberSpec[]): string {
  return members.map((m) => `${m.name}=${peerUrl(m)}`).join(",");
}

const ROOT_PREFIX = "etcd-harness-";
const OWNER_FILE = "owner.pid";

/**
 * Deletes temp roots left by harness processes that died without running their exit hook (a
 * SIGKILLed jest worker). A root is stale only when its owner pid file names a process that no
 * longer exists; roots without the file are being created right now or were kept on purpose.
 */
async function sweepStaleRoots(parent: string): Promise<void> {
  let entries: string[];
  try {
    entries = (await fsp.readdir(parent)).filter((e) => e.startsWith(ROOT_PREFIX));
  } catch {
    return;
  }
  await Promise.all(
    entries.map(async (entry) => {
      const dir = path.join(parent, entry);
      try {
        const pid = Number.parseInt(await fsp.readFile(path.join(dir, OWNER_FILE), "utf8"), 10);
        if (!Number.isInteger(pid) || pid <= 0) return;
        try {
          process.kill(pid, 0);
          return; // Owner alive (or not ours to signal: EPERM), so not stale.
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ESRCH") return;
        }
        await fsp.rm(dir, { recursive: true, force: true });
      } catch {
        // Unreadable or concurrently removed: leave it.
      }
    }),
  );
}

/** Options for {@link EtcdTestLayout.create}. */
export interface EtcdLayoutOptions {
  /** Member count (named `etcd-1`..`etcd-N`) or explicit names. Default 3. */
  readonly members?: number | readonly string[];
  /** Parent for the mkdtemp root (default `os.tmpdir()`). */
  readonly tmpParent?: string;
}

/** Address/port overrides for {@link EtcdTestLayout.allocateMember}. */
export interface EtcdMemberAllocation {
  /** Reuse an address (e.g. a replacement keeping its predecessor's stable IP). */
  readonly address?: string;
  readonly clientPort?: number;
  readonly peerPort?: number;
  /**
   * Run the member in this network namespace (created by the caller, `address` must be one of its
   * addresses). Ports then default to etcd's 2379/2380: each namespace has its own port space.
   */
  readonly netns?: string;
}

/**
 * Where a test cluster lives: a private temp root, a private loopback /24 and one spec per member.
 * Allocation is separate from the cluster so certificates (which need the IP SANs) and rendered
 * config files can be produced between allocating and starting.
 */
export class EtcdTestLayout {
  /** Allocates a fresh layout with its own temp root, loopback prefix and ports. */
  static async create(options: EtcdLayoutOptions = {}): Promise<EtcdTestLayout> {
    const parent = options.tmpParent ?? os.tmpdir();
    await sweepStaleRoots(parent);
    const rootDir = await fsp.mkdtemp(path.join(parent, ROOT_PREFIX));
    registry().tempRoots.add(rootDir);
    // Kept roots get no owner file, so the sweep never deletes what someone asked to keep.
    if (!keepTempDirs()) await fsp.writeFile(path.join(rootDir, OWNER_FILE), `${process.pid}\n`);
    const layout = new EtcdTestLayout(rootDir, randomLoopbackPrefix(), `harness-${randomBytes(6).toString("hex")}`);
    const wanted = options.members ?? 3;
    const names = typeof wanted === "number" ? Array.from({ length: wanted }, (_, i) => `etcd-${i + 1}`) : wanted;
    try {
      for (const name of names) await layout.allocateMember(name);
    } catch (err) {
      await layout.removeRootDir();
      throw err;
    }
    return layout;
  }

  private readonly specs: EtcdMemberSpec[] = [];
  private nextHost = 1;
  private nextDir = 1;

  private constructor(
    /** Temp root holding every member directory; removed by {@link removeRootDir}. */
    readonly rootDir: string,
    /** `127.A.B`; members get `127.A.B.1`, `.2`, ... in allocation order. */
    readonly loopbackPrefix: string,
    /** `--initial-cluster-token`, unique per layout so stray members of another run cannot join. */
    readonly clusterToken: string,
  ) {}

  /** Current member specs in allocation order (a re-allocated name replaces its old entry in place). */
  get members(): readonly EtcdMemberSpec[] {
    return [...this.specs];
  }

  /** Spec of the named member; throws for unknown names so typos fail loudly. */
  member(name: string): EtcdMemberSpec {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new Error(`etcd harness: no member named ${name} (have ${this.specs.map((s) => s.name).join(", ")})`);
    return spec;
  }

  /**
   * Allocates a member: next free address in the prefix (unless overridden), free ports, and a new
   * member directory. Re-using a name (replacement with stable identity) gives a fresh directory,
   * so the predecessor's data dir and log stay available for inspection.
   */
  async allocateMember(name: string, overrides: EtcdMemberAllocation = {}): Promise<EtcdMemberSpec> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`etcd harness: unsafe member name ${JSON.stringify(name)}`);
    let address = overrides.address;
    if (overrides.netns !== undefined && address === undefined) throw new Error(`etcd harness: ${name} in netns ${overrides.netns} needs an address`);
    if (address === undefined) {
      if (this.nextHost > 254) throw new Error("etcd harness: loopback /24 exhausted");
      address = `${this.loopbackPrefix}.${this.nextHost++}`;
    }
    const inNetns = overrides.netns !== undefined;
    const needed = inNetns ? 0 : (overrides.clientPort === undefined ? 1 : 0) + (overrides.peerPort === undefined ? 1 : 0);
    const ports = needed > 0 ? await freePorts(address, needed) : [];
    const clientPort = overrides.clientPort ?? (inNetns ? 2379 : (ports.shift() as number));
    const peerPort = overrides.peerPort ?? (inNetns ? 2380 : (ports.shift() as number));
    const memberDir = path.join(this.rootDir, `${name}.${this.nextDir++}`);
    await fsp.mkdir(memberDir, { recursive: true, mode: 0o700 });
    const spec: EtcdMemberSpec = {
      name,
      address,
      clientPort,
      peerPort,
      memberDir,
      dataDir: path.join(memberDir, "data"),
      logFile: path.join(memberDir, "etcd.log"),
      ...(inNetns ? { netns: overrides.netns } : {}),
    };
    const existing = this.specs.findIndex((s) => s.name === name);
    if (existing >= 0) this.specs[existing] = spec;
    else this.specs.push(spec);
    return spec;
  }

  /** Attaches TLS files to a member (certificates usually need the allocated address first). */
  setTls(name: string, tls: EtcdMemberTls): EtcdMemberSpec {
    const index = this.specs.findIndex((s) => s.name === name);
    if (index < 0) throw new Error(`etcd harness: no member named ${name}`);
    const updated: EtcdMemberSpec = { ...this.specs[index], tls };
    this.specs[index] = updated;
    return updated;
  }

  /** Deletes the temp root (kept when `ETCD_HARNESS_KEEP_TMP=1`). */
  async removeRootDir(): Promise<void> {
    registry().tempRoots.delete(this.rootDir);
    if (keepTempDirs()) return;
    await fsp.rm(this.rootDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Member configuration (flags or --config-file)
// ---------------------------------------------------------------------------------------------

/** Bootstrap parameters that differ between founding members and later joiners. */
export interface EtcdBootstrap {
  /** `name=peerURL,...` including the member itself. */
  readonly initialCluster: string;
  /** `new` for founding members, `existing` for a member added with `member add`. */
  readonly state: "new" | "existing";
  readonly token: string;
}

/**
 * How a member process is started: from a config file (etcd ignores all flags and `ETCD_*` vars
 * then, so the file alone must be complete) or from a flag list.
 */
export type EtcdLaunch =
  | { readonly configFile: string; readonly flags?: undefined }
  | { readonly flags: readonly string[]; readonly configFile?: undefined };

/** Produces the launch for a member; the hook later tests use to plug in library-rendered configs. */
export type EtcdLaunchFactory = (member: EtcdMemberSpec, bootstrap: EtcdBootstrap) => EtcdLaunch | Promise<EtcdLaunch>;

/** Flag list equivalent to {@link renderEtcdConfig}; loopback-only listeners, zap logs to stderr. */
export function etcdFlags(member: EtcdMemberSpec, bootstrap: EtcdBootstrap): string[] {
  const flags = [
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${clientUrl(member)}`,
    `--advertise-client-urls=${clientUrl(member)}`,
    `--listen-peer-urls=${peerUrl(member)}`,
    `--initial-advertise-peer-urls=${peerUrl(member)}`,
    `--initial-cluster=${bootstrap.initialCluster}`,
    `--initial-cluster-state=${bootstrap.state}`,
    `--initial-cluster-token=${bootstrap.token}`,
    "--logger=zap",
    "--log-outputs=stderr",
  ];
  const client = member.tls?.client;
  if (client) {
    flags.push(`--cert-file=${client.certFile}`, `--key-file=${client.keyFile}`, `--trusted-ca-file=${client.trustedCaFile}`);
    if (client.clientCertAuth ?? true) flags.push("--client-cert-auth");
  }
  const peer = member.tls?.peer;
  if (peer) {
    flags.push(`--peer-cert-file=${peer.certFile}`, `--peer-key-file=${peer.keyFile}`, `--peer-trusted-ca-file=${peer.trustedCaFile}`);
    if (peer.clientCertAuth ?? true) flags.push("--peer-client-cert-auth");
  }
  return flags;
}

/**
 * Hand-written etcd 3.4 `--config-file` YAML for a member. Only the harness's own proof tests use
 * it; library tests render their own and pass the path through an {@link EtcdLaunchFactory}.
 */
export function renderEtcdConfig(member: EtcdMemberSpec, bootstrap: EtcdBootstrap): string {
  const security = (files: EtcdTlsFiles | undefined): Record<string, unknown> | undefined =>
    files && {
      "cert-file": files.certFile,
      "key-file": files.keyFile,
      "trusted-ca-file": files.trustedCaFile,
      "client-cert-auth": files.clientCertAuth ?? true,
      "auto-tls": false,
    };
  const config: Record<string, unknown> = {
    name: member.name,
    "data-dir": member.dataDir,
    "listen-client-urls": clientUrl(member),
    "advertise-client-urls": clientUrl(member),
    "listen-peer-urls": peerUrl(member),
    "initial-advertise-peer-urls": peerUrl(member),
    "initial-cluster": bootstrap.initialCluster,
    "initial-cluster-state": bootstrap.state,
    "initial-cluster-token": bootstrap.token,
    logger: "zap",
    "log-outputs": ["stderr"],
  };
  const client = security(member.tls?.client);
  if (client) config["client-transport-security"] = client;
  const peer = security(member.tls?.peer);
  if (peer) config["peer-transport-security"] = peer;
  return yamlStringify(config);
}

/** Writes {@link renderEtcdConfig} output to `<memberDir>/etcd.yaml` (or `file`) and returns the path. */
export async function writeEtcdConfigFile(member: EtcdMemberSpec, bootstrap: EtcdBootstrap, file?: string): Promise<string> {
  const target = file ?? path.join(member.memberDir, "etcd.yaml");
  await fsp.writeFile(target, renderEtcdConfig(member, bootstrap), { mode: 0o600 });
  return target;
}

/** Launch factory using {@link etcdFlags}; the default for {@link EtcdTestCluster}. */
export const flagLaunch: EtcdLaunchFactory = (member, bootstrap) => ({ flags: etcdFlags(member, bootstrap) });

/** Launch factory that writes {@link renderEtcdConfig} to the member dir and starts from it. */
export const configFileLaunch: EtcdLaunchFactory = async (member, bootstrap) => ({
  configFile: await writeEtcdConfigFile(member, bootstrap),
});

// ---------------------------------------------------------------------------------------------
// etcdctl output parsing
// ---------------------------------------------------------------------------------------------

/**
 * etcdctl's JSON prints uint64 IDs as bare numbers, which JSON.parse would round. Every integer of
 * 16+ digits (everything above 2^53 has at least 16) is quoted before parsing; base64 keys/values
 * and URLs cannot contain such a token.
 */
function parseEtcdJson(text: string): unknown {
  return JSON.parse(text.replace(/([:,[]\s*)(\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
}

/** Member/leader IDs in the hex form etcd itself prints in logs and `member list`. */
function hexId(value: unknown): string {
  if (typeof value !== "string" && typeof value !== "number") return "0";
  return BigInt(value).toString(16);
}

function fromBase64(value: unknown): string {
  return typeof value === "string" ? Buffer.from(value, "base64").toString("utf8") : "";
}

/** One entry of `etcdctl member list`. */
export interface EtcdMemberInfo {
  /** Member ID in hex. */
  readonly id: string;
  /** Empty for a member that was added but has not started yet. */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** `etcdctl endpoint status` of one member. */
export interface EtcdEndpointStatus {
  readonly member: string;
  readonly endpoint: string;
  /** Hex member ID. */
  readonly memberId: string;
  /** Hex ID of the leader this member believes in; "0" when it knows none. */
  readonly leaderId: string;
  readonly raftTerm: number;
  readonly raftIndex: number;
  readonly version: string;
}

/** Thrown for harness failures; carries the relevant members' log tails in the message. */
export class EtcdHarnessError extends Error {
  override readonly name = "EtcdHarnessError";
}

// ---------------------------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------------------------

/** Options for {@link EtcdTestCluster}. */
export interface EtcdTestClusterOptions {
  /** TLS etcdctl uses by default (required when members serve client TLS). */
  readonly clientTls?: EtcdClientTls;
  /** Default `etcd` / `etcdctl` on the PATH. */
  readonly etcdBinary?: string;
  readonly etcdctlBinary?: string;
  /**
   * SIGTERM grace in `cleanup()` before SIGKILL. Default 500 ms: when every member stops at once the
   * leader's shutdown-time leadership transfer can only time out, and tests gain nothing by waiting.
   */
  readonly cleanupGraceMs?: number;
  /** Network namespace etcdctl runs in (members in namespaces are not reachable from the host). */
  readonly clientNetns?: string;
}

/** Per-call options of {@link EtcdTestCluster.etcdctl}. */
export interface EtcdctlOptions {
  /** Member names or raw URLs; default: every member whose process is running. */
  readonly endpoints?: readonly string[];
  /** Override the cluster's client TLS; `null` sends no TLS flags at all. */
  readonly tls?: EtcdClientTls | null;
  /** `--dial-timeout` (default 2 s). */
  readonly dialTimeoutMs?: number;
  /** `--command-timeout` (default 5 s); the process is SIGKILLed 5 s after dial+command time. */
  readonly commandTimeoutMs?: number;
  /** Written to etcdctl's stdin. */
  readonly input?: string;
}

/** Options for reads. */
export interface EtcdReadOptions extends EtcdctlOptions {
  /** `l` linearizable (default, goes through the leader's read index) or `s` serializable (local state only). */
  readonly consistency?: "l" | "s";
}

/** Options for {@link EtcdTestCluster.startMember}. */
export interface EtcdStartMemberOptions {
  /** How to launch (default {@link flagLaunch}). */
  readonly launch?: EtcdLaunchFactory;
  /** `--initial-cluster` override; default: current `member list` (after `member add`) with this member's name filled in. */
  readonly initialCluster?: string;
  /** Default `existing`: the usual case is a replacement joining a running cluster. */
  readonly state?: "new" | "existing";
}

interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface MemberRuntime {
  spec: EtcdMemberSpec;
  launch: EtcdLaunch;
  child?: ChildProcess;
  exited?: Promise<ExitInfo>;
  lastExit?: ExitInfo;
  /** False after a deliberate kill/stop, so a crash can be told apart from an intended outage. */
  wanted: boolean;
}

/**
 * A set of real etcd member processes plus an etcdctl front end. Members are addressed by name.
 * Always `await cleanup()` (e.g. in `afterAll`); the exit hook and parent-death signal are only the
 * safety net for crashes.
 */
export class EtcdTestCluster {
  private readonly runtimes = new Map<string, MemberRuntime>();
  private readonly commands = new Set<ChildProcess>();
  private readonly spawnedPids: number[] = [];
  private readonly etcdBinary: string;
  private readonly etcdctlBinary: string;
  private cleanedUp = false;

  constructor(
    /** Where the members live; `start()` launches `layout.members` as they are at that moment. */
    readonly layout: EtcdTestLayout,
    private readonly options: EtcdTestClusterOptions = {},
  ) {
    this.etcdBinary = options.etcdBinary ?? "etcd";
    this.etcdctlBinary = options.etcdctlBinary ?? "etcdctl";
    registry();
  }

  /** Every etcd pid this cluster ever spawned (including restarted incarnations), for orphan checks. */
  get pids(): readonly number[] {
    return [...this.spawnedPids];
  }

  /** Names of all members the harness knows, in start order. */
  get memberNames(): readonly string[] {
    return [...this.runtimes.keys()];
  }

  /** Current pid of a member, or undefined when it is not running. */
  pid(name: string): number | undefined {
    const rt = this.runtime(name);
    return this.isRunning(name) ? rt.child?.pid : undefined;
  }

  /** Whether the member's process is alive (spawned and not yet exited). */
  isRunning(name: string): boolean {
    const child = this.runtime(name).child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** The spec the member was last started with. */
  spec(name: string): EtcdMemberSpec {
    return this.runtime(name).spec;
  }

  /**
   * Starts every member of the layout (or `only` the named ones) at once with
   * `initial-cluster-state new` (they must start together: bootstrap blocks until a quorum of peers
   * is up). Does not wait for health.
   */
  async start(options: { readonly launch?: EtcdLaunchFactory; readonly only?: readonly string[] } = {}): Promise<void> {
    const all = this.layout.members;
    if (all.length === 0) throw new EtcdHarnessError("etcd harness: layout has no members");
    // `only`: start a quorum of the founding members now and the rest later (a slow node at first
    // boot) with startMember; the initial cluster still lists every member of the layout.
    const members = options.only === undefined ? all : options.only.map((n) => this.layout.member(n));
    const bootstrap: EtcdBootstrap = { initialCluster: initialClusterOf(all), state: "new", token: this.layout.clusterToken };
    const factory = options.launch ?? flagLaunch;
    const launches = await Promise.all(members.map(async (m) => ({ spec: m, launch: await factory(m, bootstrap) })));
    for (const { spec, launch } of launches) {
      if (this.runtimes.has(spec.name) && this.isRunning(spec.name)) throw new EtcdHarnessError(`etcd harness: ${spec.name} already running`);
      const rt: MemberRuntime = { spec, launch, wanted: true };
      this.runtimes.set(spec.name, rt);
    }
    await Promise.all(launches.map(({ spec }) => this.spawnMember(this.runtime(spec.name))));
  }

  /**
   * Starts one more member (typically a replacement after {@link memberAdd}) with
   * `initial-cluster-state existing`. A name already known to the harness is replaced, provided its
   * old process is not running.
   */
  async startMember(spec: EtcdMemberSpec, options: EtcdStartMemberOptions = {}): Promise<void> {
    const previous = this.runtimes.get(spec.name);
    if (previous && this.isRunning(spec.name)) throw new EtcdHarnessError(`etcd harness: ${spec.name} is still running; stop it first`);
    const initialCluster = options.initialCluster ?? (await this.initialClusterFor(spec));
    const bootstrap: EtcdBootstrap = { initialCluster, state: options.state ?? "existing", token: this.layout.clusterToken };
    const launch = await (options.launch ?? flagLaunch)(spec, bootstrap);
    const rt: MemberRuntime = { spec, launch, wanted: true };
    this.runtimes.set(spec.name, rt);
    await this.spawnMember(rt);
  }

  /**
   * `member add` for `spec`; returns the new member's hex ID and the `ETCD_INITIAL_CLUSTER` etcd
   * suggests. Retries (bounded by `reconfigTimeoutMs`) while etcd's strict reconfig check refuses.
   */
  async memberAdd(
    spec: EtcdMemberSpec,
    options: EtcdctlOptions & { readonly reconfigTimeoutMs?: number } = {},
  ): Promise<{ readonly id: string; readonly initialCluster: string }> {
    const out = await this.reconfigure(["member", "add", spec.name, `--peer-urls=${peerUrl(spec)}`], options);
    const id = /Member\s+([0-9a-f]+)\s+added/.exec(out.stdout)?.[1];
    const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(out.stdout)?.[1];
    if (!id || initialCluster === undefined) throw new EtcdHarnessError(`etcd harness: unexpected 'member add' output:\n${out.stdout}`);
    return { id, initialCluster };
  }

  /** `member remove` by member name (looked up in `member list`) or hex ID; retries like {@link memberAdd}. */
  async memberRemove(nameOrId: string, options: EtcdctlOptions & { readonly reconfigTimeoutMs?: number } = {}): Promise<void> {
    const members = await this.memberList(options);
    const target = members.find((m) => m.name === nameOrId) ?? members.find((m) => m.id === nameOrId);
    if (!target) throw new EtcdHarnessError(`etcd harness: ${nameOrId} is not in member list (${members.map((m) => m.name || m.id).join(", ")})`);
    await this.reconfigure(["member", "remove", target.id], options);
  }

  /**
   * Runs a membership change, retrying while etcd's `--strict-reconfig-check` (on by default)
   * refuses it: etcd only reconfigures once the remaining voters have been connected to the leader
   * for 5 s, so a change right after a restart is rejected. Those errors guarantee nothing was
   * applied, so a retry cannot add or remove twice; any other error fails at once.
   */
  private async reconfigure(args: readonly string[], options: EtcdctlOptions & { readonly reconfigTimeoutMs?: number }): Promise<CommandResult> {
    const deadline = Date.now() + (options.reconfigTimeoutMs ?? 20_000);
    for (;;) {
      try {
        return await this.etcdctlOk(args, options);
      } catch (err) {
        const refusedForNow = /unhealthy cluster|not enough started members/.test((err as Error).message);
        if (!refusedForNow || Date.now() >= deadline) throw err;
        await sleep(500);
      }
    }
  }

  /**
   * Polls `endpoint health` (a quorum read, so it also proves there is a leader) until every target
   * member is healthy. Targets default to every member that should be up; one that exited on its own
   * fails immediately with its log tail instead of burning the whole timeout.
   */
  async waitHealthy(timeoutMs = 30_000, names?: readonly string[]): Promise<void> {
    const targets = names ?? [...this.runtimes.values()].filter((rt) => rt.wanted).map((rt) => rt.spec.name);
    const deadline = Date.now() + timeoutMs;
    let last = new Map<string, string>();
    for (;;) {
      for (const name of targets) {
        if (!this.isRunning(name)) {
          const rt = this.runtime(name);
          const how = rt.lastExit ? `exited (code ${rt.lastExit.code}, signal ${rt.lastExit.signal})` : "was never started";
          throw new EtcdHarnessError(`etcd harness: ${name} ${how} while waiting for health\n${this.logTails([name])}`);
        }
      }
      const poll = Promise.all(
        targets.map(async (name) => {
          const r = await this.etcdctl(["endpoint", "health"], { endpoints: [name], dialTimeoutMs: 1000, commandTimeoutMs: 2000 });
          return [name, r.exitCode === 0 ? "" : (r.stderr || r.stdout).trim() || `exit ${r.exitCode}`] as const;
        }),
      );
      // A member dying mid-poll ends the round at once (the check at the top of the loop then
      // reports it) instead of after etcdctl's dial timeout against a port nobody listens on.
      const results = await Promise.race([poll, this.anyExit(targets).then(() => undefined)]);
      if (results === undefined) {
        poll.catch(() => undefined);
        continue;
      }
      last = new Map(results.filter(([, problem]) => problem !== ""));
      if (last.size === 0) return;
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      await sleep(Math.min(250, remaining));
    }
    const detail = [...last].map(([name, problem]) => `  ${name}: ${problem.split("\n").slice(-2).join(" | ")}`).join("\n");
    throw new EtcdHarnessError(
      `etcd harness: members not healthy after ${timeoutMs} ms:\n${detail}\n${this.logTails([...last.keys()])}`,
    );
  }

  /** SIGKILLs a member (simulated crash/power loss) and waits until it has been reaped. */
  async kill(name: string): Promise<void> {
    const rt = this.runtime(name);
    rt.wanted = false;
    await this.terminate(rt, 0);
  }

  /** SIGTERMs a member and waits for it to exit (SIGKILL after `graceMs`). */
  async stop(name: string, graceMs = 10_000): Promise<void> {
    const rt = this.runtime(name);
    rt.wanted = false;
    await this.terminate(rt, graceMs);
  }

  /** Starts a member again with the same launch and data dir (stopping it first if it is running). */
  async restart(name: string): Promise<void> {
    const rt = this.runtime(name);
    if (this.isRunning(name)) await this.terminate(rt, 10_000);
    rt.wanted = true;
    await this.spawnMember(rt);
  }

  /** Deletes a stopped member's data dir (disk loss). Refuses while the member runs. */
  async wipe(name: string): Promise<void> {
    if (this.isRunning(name)) throw new EtcdHarnessError(`etcd harness: refusing to wipe ${name} while it runs; kill or stop it first`);
    await fsp.rm(this.runtime(name).spec.dataDir, { recursive: true, force: true });
  }

  /**
   * Runs etcdctl (API v3) against the given endpoints. Never throws for a failed command: the exit
   * code is returned so tests can assert on refusals too.
   */
  async etcdctl(args: readonly string[], options: EtcdctlOptions = {}): Promise<CommandResult> {
    const endpoints = this.resolveEndpoints(options.endpoints);
    const dial = options.dialTimeoutMs ?? 2000;
    const command = options.commandTimeoutMs ?? 5000;
    const global = [`--endpoints=${endpoints.join(",")}`, `--dial-timeout=${dial}ms`, `--command-timeout=${command}ms`];
    const tls = options.tls === undefined ? this.options.clientTls : options.tls;
    if (tls) {
      global.push(`--cacert=${tls.caFile}`);
      if (tls.certFile) global.push(`--cert=${tls.certFile}`);
      if (tls.keyFile) global.push(`--key=${tls.keyFile}`);
    }
    const [program, argv] = this.options.clientNetns === undefined
      ? [this.etcdctlBinary, [...global, ...args]]
      : ["ip", ["netns", "exec", this.options.clientNetns, this.etcdctlBinary, ...global, ...args]];
    return runCommand(program, argv, {
      timeoutMs: dial + command + 5000,
      input: options.input,
      track: this.commands,
    });
  }

  /** Writes a key; throws (with etcdctl's stderr) unless the write was acknowledged. */
  async put(key: string, value: string, options: EtcdctlOptions = {}): Promise<void> {
    // `--` so keys/values starting with "-" are not taken for flags.
    await this.etcdctlOk(["put", "--", key, value], options);
  }

  /** Reads a key; undefined when absent. */
  async get(key: string, options: EtcdReadOptions = {}): Promise<string | undefined> {
    const kvs = await this.readKvs(["get", `--consistency=${options.consistency ?? "l"}`, "-w", "json", "--", key], options);
    return kvs.get(key);
  }

  /** Reads every key under a prefix. */
  async getPrefix(prefix: string, options: EtcdReadOptions = {}): Promise<Map<string, string>> {
    return this.readKvs(["get", "--prefix", `--consistency=${options.consistency ?? "l"}`, "-w", "json", "--", prefix], options);
  }

  /** `member list` as seen through the given (default: running) endpoints. */
  async memberList(options: EtcdctlOptions = {}): Promise<EtcdMemberInfo[]> {
    const out = await this.etcdctlOk(["member", "list", "-w", "json"], options);
    const parsed = parseEtcdJson(out.stdout) as { members?: Array<Record<string, unknown>> };
    return (parsed.members ?? []).map((m) => ({
      id: hexId(m.ID),
      name: typeof m.name === "string" ? m.name : "",
      peerUrls: (m.peerURLs as string[] | undefined) ?? [],
      clientUrls: (m.clientURLs as string[] | undefined) ?? [],
      isLearner: m.isLearner === true,
    }));
  }

  /**
   * `endpoint status` of each named (default: running) member, queried one by one so a dead member
   * yields an error entry instead of hiding the others.
   */
  async endpointStatus(names?: readonly string[], options: EtcdctlOptions = {}): Promise<Array<EtcdEndpointStatus | { readonly member: string; readonly error: string }>> {
    const targets = names ?? this.memberNames.filter((n) => this.isRunning(n));
    return Promise.all(
      targets.map(async (member) => {
        const r = await this.etcdctl(["endpoint", "status", "-w", "json"], { ...options, endpoints: [member] });
        if (r.exitCode !== 0) return { member, error: (r.stderr || r.stdout).trim() || `exit ${r.exitCode}` };
        const [entry] = parseEtcdJson(r.stdout) as Array<{ Endpoint: string; Status: Record<string, unknown> }>;
        const status = entry.Status;
        const header = (status.header ?? {}) as Record<string, unknown>;
        return {
          member,
          endpoint: entry.Endpoint,
          memberId: hexId(header.member_id),
          leaderId: hexId(status.leader),
          raftTerm: Number(status.raftTerm ?? 0),
          raftIndex: Number(status.raftIndex ?? 0),
          version: String(status.version ?? ""),
        };
      }),
    );
  }

  /**
   * The current leader, once every running member answers and all agree on the same one (so the
   * answer is not a stale view from mid-election). Polls up to `timeoutMs`.
   */
  async leader(timeoutMs = 10_000): Promise<{ readonly name: string; readonly id: string }> {
    const deadline = Date.now() + timeoutMs;
    let problem = "";
    for (;;) {
      const statuses = await this.endpointStatus();
      const failed = statuses.filter((s): s is { member: string; error: string } => "error" in s);
      const ok = statuses.filter((s): s is EtcdEndpointStatus => !("error" in s));
      const leaders = new Set(ok.map((s) => s.leaderId));
      if (failed.length === 0 && ok.length > 0 && leaders.size === 1 && !leaders.has("0")) {
        const leaderId = ok[0].leaderId;
        const holder = ok.find((s) => s.memberId === leaderId);
        if (holder) return { name: holder.member, id: leaderId };
        problem = `leader ${leaderId} is not among the queried members`;
      } else {
        problem = failed.length > 0 ? failed.map((f) => `${f.member}: ${f.error}`).join("; ") : `leader views: ${ok.map((s) => `${s.member}->${s.leaderId}`).join(", ")}`;
      }
      if (Date.now() >= deadline) break;
      await sleep(200);
    }
    throw new EtcdHarnessError(`etcd harness: no agreed leader after ${timeoutMs} ms (${problem})\n${this.logTails(this.memberNames)}`);
  }

  /** Last `lines` lines of a member's log (all its runs, with harness header lines between runs). */
  logTail(name: string, lines = 25): string {
    const file = this.runtime(name).spec.logFile;
    try {
      const fd = fs.openSync(file, "r");
      try {
        // Only the end is read: logs of a long test can be large and only the last lines matter.
        const size = fs.fstatSync(fd).size;
        const length = Math.min(size, 64 * 1024);
        const buffer = Buffer.alloc(length);
        fs.readSync(fd, buffer, 0, length, size - length);
        return buffer.toString("utf8").split("\n").filter((l) => l !== "").slice(-lines).join("\n");
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      return `(no log: ${(err as Error).message})`;
    }
  }

  /**
   * Kills every member (SIGTERM, SIGKILL after the grace period) and any etcdctl still running,
   * waits until all are reaped, then removes the layout's temp root. Idempotent; after it, starting
   * members is refused so a late async call cannot resurrect a process.
   */
  async cleanup(): Promise<void> {
    this.cleanedUp = true;
    const grace = this.options.cleanupGraceMs ?? 500;
    for (const child of this.commands) child.kill("SIGKILL");
    await Promise.all(
      [...this.runtimes.values()].map((rt) => {
        rt.wanted = false;
        return this.terminate(rt, grace);
      }),
    );
    // etcdctl children were SIGKILLed above; give their "close" a moment so none outlives cleanup.
    const deadline = Date.now() + 2000;
    while (this.commands.size > 0 && Date.now() < deadline) await sleep(20);
    await this.layout.removeRootDir();
  }

  // -------------------------------------------------------------------------------------------

  private runtime(name: string): MemberRuntime {
    const rt = this.runtimes.get(name);
    if (!rt) throw new EtcdHarnessError(`etcd harness: no member named ${name} (have ${this.memberNames.join(", ")})`);
    return rt;
  }

  private resolveEndpoints(endpoints: readonly string[] | undefined): string[] {
    if (endpoints === undefined) {
      const running = this.memberNames.filter((n) => this.isRunning(n));
      if (running.length === 0) throw new EtcdHarnessError("etcd harness: no running member to talk to");
      return running.map((n) => clientUrl(this.runtime(n).spec));
    }
    return endpoints.map((e) => (/^[a-z]+:\/\//.test(e) ? e : clientUrl(this.runtime(e).spec)));
  }

  private async etcdctlOk(args: readonly string[], options: EtcdctlOptions): Promise<CommandResult> {
    const r = await this.etcdctl(args, options);
    if (r.exitCode !== 0) {
      const endpoints = options.endpoints?.join(",") ?? "running members";
      throw new EtcdHarnessError(
        `etcdctl ${args.join(" ")} via ${endpoints} failed (exit ${r.exitCode}${r.timedOut ? ", timed out" : ""}): ${(r.stderr || r.stdout).trim()}`,
      );
    }
    return r;
  }

  private async readKvs(args: readonly string[], options: EtcdctlOptions): Promise<Map<string, string>> {
    const out = await this.etcdctlOk(args, options);
    const parsed = parseEtcdJson(out.stdout) as { kvs?: Array<{ key?: string; value?: string }> };
    return new Map((parsed.kvs ?? []).map((kv) => [fromBase64(kv.key), fromBase64(kv.value)]));
  }

  private async initialClusterFor(spec: EtcdMemberSpec): Promise<string> {
    const members = await this.memberList();
    const self = peerUrl(spec);
    if (!members.some((m) => m.peerUrls.includes(self))) {
      throw new EtcdHarnessError(`etcd harness: ${spec.name} (${self}) is not in member list; call memberAdd first or pass initialCluster`);
    }
    // A member added but not yet started has no name in `member list`; it can only be this one.
    return members
      .flatMap((m) => m.peerUrls.map((u) => `${m.name || (u === self ? spec.name : m.id)}=${u}`))
      .join(",");
  }

  private async spawnMember(rt: MemberRuntime): Promise<void> {
    if (this.cleanedUp) throw new EtcdHarnessError("etcd harness: cluster already cleaned up");
    const { spec, launch } = rt;
    await fsp.mkdir(spec.memberDir, { recursive: true, mode: 0o700 });
    const args = launch.configFile !== undefined ? ["--config-file", launch.configFile] : [...launch.flags];
    // `ip netns exec` execs etcd in place (no fork), so the pid, the kill and the pdeathsig all hit etcd.
    const binary = spec.netns !== undefined ? ["ip", "netns", "exec", spec.netns, this.etcdBinary] : [this.etcdBinary];
    const [command, argv] = (await pdeathsigAvailable())
      ? ["setpriv", ["--pdeathsig", "KILL", "--", ...binary, ...args]]
      : [binary[0], [...binary.slice(1), ...args]];
    const fd = fs.openSync(spec.logFile, "a");
    let child: ChildProcess;
    try {
      fs.writeSync(fd, `=== etcd harness: starting ${spec.name} at ${new Date().toISOString()}: ${this.etcdBinary} ${args.join(" ")}\n`);
      // The log file is the child's stdout/stderr directly (no pipes), so output survives a crash of
      // this process and there are no stream handles to keep jest alive.
      child = spawn(command, argv, { stdio: ["ignore", fd, fd], env: childEnv(), cwd: spec.memberDir });
    } finally {
      fs.closeSync(fd);
    }
    const reg = registry();
    reg.children.add(child);
    // Unreferenced so a test that forgets cleanup() lets the process exit (and the exit hook reap
    // the members) instead of hanging jest; terminate() re-references while it waits for an exit.
    child.unref();
    rt.child = child;
    let settleExit: (info: ExitInfo) => void = () => undefined;
    rt.exited = new Promise<ExitInfo>((resolve) => {
      settleExit = (info) => {
        reg.children.delete(child);
        rt.lastExit = info;
        resolve(info);
      };
      child.once("exit", (code, signal) => settleExit({ code, signal }));
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (err) => {
        // A process that never started emits no "exit"; settle it here so cleanup() cannot wait forever.
        rt.child = undefined;
        settleExit({ code: null, signal: null });
        reject(new EtcdHarnessError(`etcd harness: cannot start ${spec.name}: ${err.message}`));
      });
    });
    // Later "error" events (e.g. a kill racing exit) must not crash the test process.
    child.on("error", () => undefined);
    if (child.pid !== undefined) this.spawnedPids.push(child.pid);
  }

  private async terminate(rt: MemberRuntime, graceMs: number): Promise<void> {
    const child = rt.child;
    if (!child || !rt.exited || child.exitCode !== null || child.signalCode !== null) {
      if (rt.exited) await rt.exited;
      return;
    }
    child.ref();
    if (graceMs > 0) {
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        rt.exited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (!timedOut) return;
    }
    child.kill("SIGKILL");
    await rt.exited;
  }

  /** Resolves when any of the named members' current process exits (never, if none is running). */
  private anyExit(names: readonly string[]): Promise<void> {
    const exits = names.map((n) => this.runtime(n)).filter((rt) => rt.exited !== undefined).map((rt) => rt.exited as Promise<ExitInfo>);
    return Promise.race(exits).then(() => undefined);
  }

  private logTails(names: readonly string[]): string {
    const tails = names.map((n) => `--- ${n} log tail (${this.runtime(n).spec.logFile}) ---\n${this.logTail(n)}`).join("\n");
    // The one loopback-specific failure is recognisable from the log and otherwise baffling.
    const hint = tails.includes(`not ${LOOPBACK_PEER_SOURCE_ADDRESS}"`)
      ? `\nHINT: peers reject each other's certificates because loopback connections come from ${LOOPBACK_PEER_SOURCE_ADDRESS}; ` +
        `add IP:${LOOPBACK_PEER_SOURCE_ADDRESS} to the test peer certificates' SANs (see LOOPBACK_PEER_SOURCE_ADDRESS).`
      : "";
    return tails + hint;
  }
}
