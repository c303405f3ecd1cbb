/**
 * The control-plane tier's harness: a synthesized stack brought up as real processes.
 *
 * - Network: one network namespace per node with the node's slot IP (from the synthesized slot
 *   interfaces), all on one flat L2 network with an on-link route for the VPC CIDR
 *   (`createFlatNetwork`), plus a client namespace that holds the load balancer and the clients.
 * - Node files: the write_files of the synthesized launch templates plus their bootstrap bundles
 *   (`nodeFilesOf`: the synthesized S3 object extracted by tar), laid out
 *   under a per-node root directory; `run/ha-control-plane/slot.env` is written as ha-claim-slot
 *   would (the claim itself needs attachable ENIs and is tested in its own tier).
 * - Secrets: the library's certificate specs (`ClusterPki.certificates`) issued with openssl,
 *   stored per slot in the AWS emulator (moto) as `{files: {<fileStem>.crt|.key|.pub: PEM}}` under
 *   the synthesized secret names; the encryption-key secret is created empty, as Terraform does.
 *   SANs that are Terraform tokens (the NLB's DNS name) cannot be issued and are dropped; clients
 *   use a literal SAN of the API certificate as TLS server name.
 * - Programs: the real ha-fetch-secrets and ha-kube-configure (real AWS CLI against moto) and the
 *   real ha-etcd-bootstrap run in the node view (see node-view.ts); etcd runs with the ExecStart of
 *   the rendered etcd.service; kube-apiserver, kube-controller-manager and kube-scheduler run with
 *   `command` + `args` verbatim from the manifests ha-kube-configure wrote, in the pod view.
 * - Load balancer: haproxy configured from the synthesized listener and target group
 *   (`nlb-haproxy.ts`), in the client namespace.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Token } from "cdktf";
import { parse, stringify } from "yaml";
import { Testing } from "../../lib/core";
import { CertificateSpec, ClusterCertificateSet, SecretFilePartKind, secretFileLayout } from "../../lib";
import { HaClusterStack, HaClusterStackProps } from "../../examples/ha-cluster/main";
import { SUPER_ADMIN_SPEC_ID } from "../../lib/cluster/access";
import { AwsEmulator, startAwsEmulator } from "../harness/aws-emulator";
import { CommandResult, runCommand } from "../harness/etcd-cluster";
import { HaproxyLoadBalancer, NlbModel, nlbModelFromSynth } from "../harness/nlb-haproxy";
import { IssuedFiles, issueSuperAdmin, issueWithOpenssl } from "../harness/openssl-pki";
import { realComponentPaths } from "../harness/real-components";
import { nodeFilesOf, resources } from "../helpers/synth";
import { FlatNetwork, createFlatNetwork } from "../bootstrap/etcd/netns";
import { PodVolumeMount, ensureMountPoints, inView, nodeViewMounts, podViewMounts, removeMountPoints } from "./node-view";
import { WORKER_HOST, workerAddress } from "./worker";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A node of the synthesized stack: its slot, role, address and launch-template files. */
export interface NodeSpec {
  readonly slot: string;
  readonly role: "apiserver" | "etcd";
  readonly ip: string;
  /** Short network-namespace host name. */
  readonly host: string;
  /** Whether the node runs an etcd member (etcd nodes, and API nodes with stacked etcd). */
  readonly runsEtcd: boolean;
  /** write_files of its launch template. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly content: string; readonly permissions: string }>;
}

/** A process the tier started. */
export interface RunningProcess {
  readonly slot: string;
  readonly component: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly startedAt: number;
  /** A static pod's manifest as it was when the pod started (what the kubelet compares). */
  readonly manifest?: string;
}

/** A static pod's container that exited on its own (not stopped by the harness). */
export interface StaticPodCrash {
  readonly slot: string;
  readonly component: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** When it exited (epoch ms). */
  readonly at: number;
  /** The last error line of its log (klog `E`/`F` lines, or the last line). */
  readonly lastError: string;
  /** The slot's instance (bumped when it stops or boots again): a new kubelet's back-off starts from 0. */
  readonly instance: number;
  /** The kubelet's back-off before the restart: 0 for the first exit, then 10 s doubling to 300 s. */
  readonly backoffMs: number;
}

/** The kubelet's container restart back-off (pkg/kubelet: 10 s initial, 300 s cap), reset when the container ran 10 min before it exited. */
const KUBELET_BACKOFF = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

const CLIENT = { name: "client", host: "client" };

/** The synthesized reference stack and what the tier reads from it. */
export interface SynthesizedCluster {
  readonly synth: Json;
  readonly certificates: ClusterCertificateSet;
  readonly nodes: readonly NodeSpec[];
  readonly vpcCidr: string;
  readonly model: NlbModel;
  /** Synthesized secret names. */
  readonly secretNames: readonly string[];
}

/** Synthesizes the reference example and extracts slots, files and the NLB model. */
export function synthesizeReference(
  options: HaClusterStackProps = {},
): SynthesizedCluster {
  const stack = new HaClusterStack(Testing.app(), "cp", options);
  const synth = JSON.parse(Testing.synth(stack)) as Json;
  const envOf = (files: NodeSpec["files"]) => {
    const env: Record<string, string> = {};
    const text = files.find((f) => f.path === "/etc/ha-control-plane/node.env")?.content ?? "";
    for (const line of text.split("\n")) {
      const m = /^([A-Z_0-9]+)='(.*)'$/.exec(line);
      if (m) env[m[1]] = m[2];
    }
    return env;
  };
  // Every node file: the user data's write_files and the bootstrap bundle it names (as the real tar
  // extracts it); the harness lays them out directly, standing in for ha-fetch-bundle's S3 download.
  const lts = resources(synth, "aws_launch_template").map((lt) => ({ files: nodeFilesOf(synth, lt).map((f) => ({ path: f.path, content: f.content, permissions: f.permissions })) }));
  const nodes: NodeSpec[] = [];
  for (const eni of resources(synth, "aws_network_interface")) {
    const tags = (eni.props.tags ?? {}) as Record<string, string>;
    const slot = tags["ha-control-plane/slot"];
    const role = tags["ha-control-plane/role"];
    if (!slot || (role !== "apiserver" && role !== "etcd")) continue;
    const ip = (eni.props.private_ips as string[])[0];
    const lt = lts.find((l) => {
      const env = envOf(l.files);
      return env.NODE_ROLE === role && (role === "apiserver" || env.SLOT_NAME === slot);
    });
    if (!lt) throw new Error(`no launch template for ${role} slot ${slot}`);
    const runsEtcd = lt.files.some((f) => f.path === "/etc/systemd/system/etcd.service");
    nodes.push({ slot, role, ip, runsEtcd, host: slot.replace("apiserver", "api").replace(/[^a-z0-9]/g, "").slice(0, 8), files: lt.files });
  }
  const vpc = resources(synth, "aws_vpc")[0];
  return {
    synth,
    certificates: stack.controlPlane.pki.certificates,
    nodes: nodes.sort((a, b) => a.slot.localeCompare(b.slot)),
    vpcCidr: String(vpc.props.cidr_block),
    model: nlbModelFromSynth(synth),
    secretNames: resources(synth, "aws_secretsmanager_secret").map((s) => String(s.props.name)),
  };
}

/** Certificate specs with the SANs that are Terraform tokens removed (they cannot be issued offline). */
export function issuableCertificates(set: ClusterCertificateSet): { set: ClusterCertificateSet; dropped: string[] } {
  const dropped: string[] = [];
  const keep = (values: readonly string[], id: string) =>
    values.filter((v) => {
      if (!Token.isUnresolved(v)) return true;
      dropped.push(`${id}: ${v}`);
      return false;
    });
  const fix = (s: CertificateSpec): CertificateSpec => ({ ...s, dnsNames: keep(s.dnsNames, s.id), ipAddresses: keep(s.ipAddresses, s.id) });
  return { set: { ...set, cas: set.cas.map(fix), leaves: set.leaves.map(fix) }, dropped };
}

async function must(r: Promise<CommandResult>, what: string): Promise<CommandResult> {
  const res = await r;
  if (res.exitCode !== 0) throw new Error(`${what} failed (exit ${res.exitCode}${res.signal ? `, ${res.signal}` : ""}):\n${res.stderr.slice(-3000)}\n${res.stdout.slice(-1000)}`);
  return res;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Removes work dirs of earlier runs whose process is gone. */
function makeWorkDir(): string {
  const parent = tmpdir();
  for (const entry of readdirSync(parent)) {
    const owner = /^hacp-cp-(\d+)-/.exec(entry);
    if (!owner) continue;
    try {
      process.kill(Number(owner[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") rmSync(path.join(parent, entry), { recursive: true, force: true });
    }
  }
  return mkdtempSync(path.join(parent, `hacp-cp-${process.pid}-`));
}

/** The running control plane. */
export class ControlPlaneCluster {
  /** Every process started, newest last. */
  readonly processes: RunningProcess[] = [];
  /** Each slot's current node root (a replacement gets a fresh one). */
  readonly roots = new Map<string, string>();
  lb!: HaproxyLoadBalancer;
  private generation = 0;
  /**
   * Whether the harness's kubelet restarts a static pod's container that exits on its own, as the
   * real kubelet does for restartPolicy Always (the default for static pods): the first exit at
   * once, each further one after a back-off of 10 s doubling to 300 s. A file with its own
   * stand-in for the kubelet turns it off.
   */
  kubeletRestarts = true;
  /** Every exit of a static pod's container the harness did not cause, oldest first. */
  readonly crashes: StaticPodCrash[] = [];
  /** Processes the harness itself stops or kills ({@link stop}, {@link destroy}): not crashes. */
  private readonly stoppedByHarness = new WeakSet<RunningProcess>();
  /** Per slot, bumped when the instance stops or boots again: a pending restart of an older instance is dropped. */
  private readonly instanceEpoch = new Map<string, number>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private destroyed = false;

  private constructor(
    /** The synthesis of the first deploy; {@link spec} is the deployed one. */
    readonly initialSpec: SynthesizedCluster,
    readonly workDir: string,
    readonly net: FlatNetwork,
    readonly emulator: AwsEmulator,
    /** Issued files by spec id; a CA rotation ({@link deployCertificates}) replaces it. */
    public issued: ReadonlyMap<string, IssuedFiles>,
    readonly droppedSans: readonly string[],
    /** A literal DNS SAN of the API server certificate, used as TLS server name through the LB. */
    readonly apiServerName: string,
    readonly adminKubeconfig: string,
  ) {}

  /**
   * The deployed synthesis: the launch templates a node started from now ({@link freshRoot})
   * is laid out from. {@link deployLaunchTemplates} changes it; nodes already running keep theirs.
   */
  get spec(): SynthesizedCluster {
    return this.deployed ?? this.initialSpec;
  }

  private deployed?: SynthesizedCluster;

  /**
   * A deploy that changes launch templates (a new template version, as `cdktf deploy` of a
   * Kubernetes version change writes it): every node started afterwards boots from `next`'s files;
   * running nodes are not touched (the instance refresh replaces them). Slots, addresses, roles,
   * the load balancer, the issuable certificates and the secret names must stay the same: what the
   * harness brought up must still describe the cluster.
   */
  deployLaunchTemplates(next: SynthesizedCluster): void {
    const shape = (c: SynthesizedCluster) =>
      JSON.stringify({
        nodes: c.nodes.map((n) => [n.slot, n.role, n.ip, n.host, n.runsEtcd]),
        vpc: c.vpcCidr,
        model: c.model,
        secrets: c.secretNames,
        certificates: issuableCertificates(c.certificates).set,
      });
    if (shape(next) !== shape(this.spec)) throw new Error("deployLaunchTemplates: the new synthesis changes slots, the load balancer, certificates or secrets, not only launch templates");
    this.deployed = next;
  }

  get clientNs(): string {
    return this.net.namespaces.get(CLIENT.host) as string;
  }

  get clientIp(): string {
    return this.net.addresses.get(CLIENT.host) as string;
  }

  /** `https://<lb>:<port>` as clients dial it (with {@link apiServerName} as server name). */
  get lbAddress(): string {
    return `${this.clientIp}:${this.spec.model.listenerPort}`;
  }

  node(slot: string): NodeSpec {
    const n = this.spec.nodes.find((x) => x.slot === slot);
    if (!n) throw new Error(`no node ${slot}`);
    return n;
  }

  get apiSlots(): string[] {
    return this.spec.nodes.filter((n) => n.role === "apiserver").map((n) => n.slot);
  }

  get etcdSlots(): string[] {
    return this.spec.nodes.filter((n) => n.runsEtcd).map((n) => n.slot);
  }

  /** Brings up etcd, the API nodes and the load balancer. */
  static async start(spec: SynthesizedCluster = synthesizeReference()): Promise<ControlPlaneCluster> {
    const workDir = makeWorkDir();
    ensureMountPoints();
    const clientIp = clientAddress(spec);
    let net: FlatNetwork | undefined;
    let emulator: AwsEmulator | undefined;
    try {
      // A worker host too (scenario 7 joins it; see worker.ts): a namespace costs nothing until used.
      const workerIp = workerAddress(spec.vpcCidr);
      if (spec.nodes.some((n) => n.ip === workerIp) || workerIp === clientIp) throw new Error(`worker address ${workerIp} collides with a slot`);
      net = await createFlatNetwork([...spec.nodes.map((n) => ({ name: n.host, ip: n.ip })), { name: CLIENT.host, ip: clientIp }, { name: WORKER_HOST, ip: workerIp }], spec.vpcCidr);
      emulator = await startAwsEmulator();
      const { set, dropped } = issuableCertificates(spec.certificates);
      const pkiDir = path.join(workDir, "pki");
      // One at a time: every issue updates its CA's serial file (-CAcreateserial); issueSet's
      // parallel leaves race on it.
      const issued = new Map<string, IssuedFiles>();
      for (const ca of set.cas) issued.set(ca.id, await issueWithOpenssl(ca, pkiDir));
      for (const leaf of set.leaves) issued.set(leaf.id, await issueWithOpenssl(leaf, pkiDir, issued.get(leaf.signer as string)));
      for (const kp of set.keyPairs) {
        const key = path.join(pkiDir, `${kp.id}.key`);
        const pub = path.join(pkiDir, `${kp.id}.pub`);
        const alg = kp.keyAlgorithm.startsWith("RSA") ? ["-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${kp.keyAlgorithm.split("_")[1]}`] : ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
        execFileSync("openssl", ["genpkey", ...alg, "-out", key], { stdio: "ignore" });
        execFileSync("openssl", ["pkey", "-in", key, "-pubout", "-out", pub], { stdio: "ignore" });
        issued.set(kp.id, { cert: pub, key });
      }
      await storeSecrets(emulator, spec, set, issued);
      const apiLeaf = set.leaves.find((l) => l.fileStem === "apiserver") as CertificateSpec;
      const apiServerName = apiLeaf.dnsNames.find((n) => n.startsWith("kubernetes")) ?? apiLeaf.dnsNames[0];
      // The super-admin certificate the cluster-objects stack's provider authenticates with
      // (SuperAdminCertificate: the admin spec as CN kubernetes-super-admin, O system:masters).
      const adminSpec = set.leaves.find((l) => l.id === "admin") as CertificateSpec;
      issued.set(SUPER_ADMIN_SPEC_ID, await issueSuperAdmin(adminSpec, pkiDir, issued.get(adminSpec.signer as string) as IssuedFiles));
      const server = `https://${clientIp}:${spec.model.listenerPort}`;
      const adminKubeconfig = writeAdminKubeconfig(workDir, "admin.conf", set, issued, "admin", server, apiServerName);
      const cluster = new ControlPlaneCluster(spec, workDir, net, emulator, issued, dropped, apiServerName, adminKubeconfig);
      try {
        await Promise.all(cluster.etcdSlots.map((s) => cluster.startEtcdNode(s)));
        await cluster.waitEtcdHealthy(60_000);
        // Stacked: the API node's etcd member started on this root already.
        await Promise.all(cluster.apiSlots.map((s) => cluster.startApiNode(s, { freshDisk: !cluster.node(s).runsEtcd })));
        for (const s of cluster.apiSlots) await cluster.waitApiReady(s, 300_000);
        cluster.lb = await HaproxyLoadBalancer.start(spec.model, {
          bind: `${clientIp}:${spec.model.listenerPort}`,
          servers: cluster.apiSlots.map((s) => ({ name: s, address: cluster.node(s).ip })),
          netns: cluster.clientNs,
        });
        await Promise.all(cluster.apiSlots.map((s) => cluster.lb.waitHealthy(s, cluster.readmissionMs() * 2 + 30_000)));
        // What the cluster-objects stack's ClusterAdminBindings creates first (as kubeadm init does):
        // without it the admin certificate's group kubeadm:cluster-admins has no rights.
        const binding = await cluster.curl("lb", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
          cert: issued.get(SUPER_ADMIN_SPEC_ID),
          method: "POST",
          body: JSON.stringify({
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: "kubeadm:cluster-admins" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "kubeadm:cluster-admins" }],
          }),
        });
        if (binding.status !== 201) throw new Error(`binding kubeadm:cluster-admins with the super-admin certificate answered ${binding.status}: ${binding.body}`);
        // Every API server's RBAC cache sees the binding before the scenarios start.
        for (const s of cluster.apiSlots) {
          const deadline = Date.now() + 30_000;
          while ((await cluster.curl(s, "/api/v1/namespaces/default", { cert: cluster.issued.get("admin") })).status !== 200) {
            if (Date.now() > deadline) throw new Error(`the admin certificate has no rights on ${s} 30 s after the kubeadm:cluster-admins binding`);
            await sleep(250);
          }
        }
      } catch (err) {
        await cluster.destroy();
        throw err;
      }
      return cluster;
    } catch (err) {
      await emulator?.stop();
      await net?.destroy();
      rmSync(workDir, { recursive: true, force: true });
      removeMountPoints();
      throw err;
    }
  }

  /** Healthy threshold × interval: how long the target group takes to admit a healthy target. */
  readmissionMs(): number {
    const h = this.spec.model.health;
    return h.healthyThreshold * h.intervalSeconds * 1000;
  }

  /** Unhealthy threshold × interval. */
  detectionMs(): number {
    const h = this.spec.model.health;
    return h.unhealthyThreshold * h.intervalSeconds * 1000;
  }

  /** Lays out a fresh node root for `slot` from its launch-template files (a new disk). */
  private freshRoot(slot: string): string {
    const node = this.node(slot);
    const root = path.join(this.workDir, `${slot}-${++this.generation}`);
    for (const f of node.files) {
      const target = path.join(root, f.path);
      mkdirSync(path.dirname(target), { recursive: true });
      const content = f.path === "/etc/ha-control-plane/node.env" ? resolveNodeEnv(f.content, this.spec.synth) : f.content;
      writeFileSync(target, content);
      chmodSync(target, parseInt(f.permissions, 8));
    }
    // What ha-claim-slot writes once it holds the slot's interface.
    mkdirSync(path.join(root, "run/ha-control-plane"), { recursive: true });
    writeFileSync(path.join(root, "run/ha-control-plane/slot.env"), `SLOT_NAME=${slot}\nSLOT_IP=${node.ip}\n`);
    this.roots.set(slot, root);
    return root;
  }

  private hostname(slot: string): string {
    return `ip-${this.node(slot).ip.replace(/\./g, "-")}`;
  }

  /** Environment of the node scripts: the real AWS CLI against the emulator. */
  private scriptEnv(): NodeJS.ProcessEnv {
    return { PATH: `${path.dirname(this.emulator.awsCli)}:${process.env.PATH}`, HOME: "/nonexistent", ...this.emulator.env };
  }

  /** Runs a node script (from the node's own files) in the node view; host network (the emulator is on loopback). */
  async runScript(slot: string, script: string, options: { netns?: boolean; extraEnv?: Record<string, string>; timeoutMs?: number; args?: readonly string[] } = {}): Promise<CommandResult> {
    const root = this.roots.get(slot) as string;
    const node = this.node(slot);
    const extra = node.runsEtcd ? [{ kind: "dir" as const, source: realComponentPaths().etcdBin, target: "/usr/local/bin", readOnly: true }] : [];
    const argv = inView({ netns: options.netns ? this.net.namespaces.get(node.host) : undefined, hostname: this.hostname(slot), mounts: nodeViewMounts(root, extra) }, ["bash", path.join(root, script), ...(options.args ?? [])]);
    return must(runCommand(argv[0], argv.slice(1), { env: { ...this.scriptEnv(), ...options.extraEnv }, timeoutMs: options.timeoutMs ?? 120_000 }), `${script} on ${slot}`);
  }

  /** Starts a long-running process of `slot` (a node or the worker), logged to the work dir; {@link destroy} ends it. */
  spawnLogged(slot: string, component: string, argv: readonly string[], env: NodeJS.ProcessEnv, manifest?: string): RunningProcess {
    const logFile = path.join(this.workDir, "logs", `${slot}-${component}-${this.generation}-${this.processes.length}.log`);
    mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = openSync(logFile, "a");
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", fd, fd], env });
    closeSync(fd);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    const p: RunningProcess = { slot, component, child, logFile, exited, startedAt: Date.now(), manifest };
    this.processes.push(p);
    return p;
  }

  /**
   * An etcd node boots as etcd.service runs: secrets, the bootstrap script (ExecStartPre), etcd
   * (ExecStart), and once etcd reports ready (Type=notify: its "notifying init daemon" log line)
   * the ExecStartPost commands. Resolves when the unit would be `active`; `output` collects what the
   * node scripts logged. `freshDisk`: a new node root; `emptyDataDir`: the same node, its member's
   * data directory emptied (a stacked API node keeps its static pods).
   */
  async startEtcdNode(slot: string, options: { freshDisk?: boolean; emptyDataDir?: boolean; output?: string[] } = {}): Promise<RunningProcess> {
    const root = options.freshDisk !== false || !this.roots.has(slot) ? this.freshRoot(slot) : (this.roots.get(slot) as string);
    // Only the member's data is lost (its data volume replaced), the node and its other processes stay.
    if (options.emptyDataDir === true) {
      rmSync(path.join(root, "var/lib/etcd"), { recursive: true, force: true });
      mkdirSync(path.join(root, "var/lib/etcd"), { recursive: true, mode: 0o700 });
    }
    await this.runScript(slot, "usr/local/sbin/ha-fetch-secrets");
    const unit = readFileSync(path.join(root, "etc/systemd/system/etcd.service"), "utf8");
    // Exec lines without systemd's prefixes (`-`, `+`, ...): the harness runs as root anyway.
    const lines = (key: string) => [...unit.matchAll(new RegExp(`^${key}=[-+@!:]*(.+)$`, "gm"))].map((m) => m[1].trim().split(/\s+/));
    // Only the bootstrap script of the ExecStartPre lines: time sync, install (binaries come from the
    // setup cache) and the chown to the etcd user (the harness runs etcd as root) are not run here.
    const pre = lines("ExecStartPre").filter((c) => c[0].endsWith("/ha-etcd-bootstrap") || c[0].endsWith("/ha-etcd-trust"));
    if (!pre.some((c) => c[0].endsWith("/ha-etcd-bootstrap"))) throw new Error(`etcd.service of ${slot} has no ExecStartPre=ha-etcd-bootstrap`);
    const script = (argv: string[]) => this.runScript(slot, argv[0].replace(/^\//, ""), { netns: true, args: argv.slice(1) });
    let preOut = "";
    for (const argv of pre) preOut += (await script(argv)).stderr;
    options.output?.push(preOut);
    const argv = inView(
      { netns: this.net.namespaces.get(this.node(slot).host), hostname: this.hostname(slot), mounts: nodeViewMounts(root, [{ kind: "dir", source: realComponentPaths().etcdBin, target: "/usr/local/bin", readOnly: true }]) },
      (lines("ExecStart")[0] as string[]),
    );
    const p = this.spawnLogged(slot, "etcd", argv, { PATH: process.env.PATH });
    const deadline = Date.now() + 120_000;
    while (!readFileSync(p.logFile, "utf8").includes('"msg":"notifying init daemon"')) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`etcd on ${slot} exited before ready:\n${tail(p.logFile, 30)}\nha-etcd-bootstrap said:\n${preOut}`);
      if (Date.now() > deadline) throw new Error(`etcd on ${slot} not ready after 120 s:\n${tail(p.logFile, 30)}`);
      await sleep(200);
    }
    for (const post of lines("ExecStartPost")) options.output?.push((await script(post)).stderr);
    return p;
  }

  /** Waits until every etcd member answers healthy (from the client namespace). */
  async waitEtcdHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const r = await this.etcdctl(["endpoint", "health", "--cluster"]);
      if (r.exitCode === 0) return;
      last = r.stderr + r.stdout;
      await sleep(500);
    }
    throw new Error(`etcd not healthy after ${timeoutMs} ms: ${last}\n${this.logs("etcd")}`);
  }

  /** etcdctl in the client namespace with the API servers' etcd client certificate. */
  etcdctl(args: readonly string[], timeoutMs = 20_000): Promise<CommandResult> {
    const ca = this.etcdCa();
    const client = this.issued.get("apiserver-etcd-client") as IssuedFiles;
    const endpoints = this.etcdSlots.map((s) => `https://${this.node(s).ip}:2379`).join(",");
    return this.inClient(["etcdctl", `--endpoints=${endpoints}`, `--cacert=${ca.cert}`, `--cert=${client.cert}`, `--key=${client.key}`, "--dial-timeout=2s", "--command-timeout=5s", ...args], timeoutMs);
  }

  /** Runs a command in the client namespace. */
  inClient(argv: readonly string[], timeoutMs = 30_000, input?: string): Promise<CommandResult> {
    return runCommand("ip", ["netns", "exec", this.clientNs, ...argv], { timeoutMs, input, env: { PATH: process.env.PATH, HOME: "/nonexistent" } });
  }

  /** kubectl with the admin kubeconfig, through the load balancer. */
  kubectl(args: readonly string[], timeoutMs = 30_000, input?: string): Promise<CommandResult> {
    return this.inClient(["kubectl", `--kubeconfig=${this.adminKubeconfig}`, "--request-timeout=20s", ...args], timeoutMs, input);
  }

  /**
   * An HTTPS request with curl from the client namespace to `target` (`lb` or an API slot).
   * `auth`: none (anonymous), a client certificate, or a bearer token.
   */
  async curl(target: string, urlPath: string, options: { cert?: IssuedFiles; token?: string; method?: string; body?: string; headers?: string[] } = {}): Promise<{ status: number; body: string }> {
    const address = target === "lb" ? this.lbAddress : `${this.node(target).ip}:6443`;
    const port = address.split(":")[1];
    const args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "15", "--cacert", this.kubernetesCa().cert, "--resolve", `${this.apiServerName}:${port}:${address.split(":")[0]}`];
    if (options.cert) args.push("--cert", options.cert.cert, "--key", options.cert.key);
    if (options.token) args.push("-H", `Authorization: Bearer ${options.token}`);
    for (const h of options.headers ?? []) args.push("-H", h);
    if (options.method) args.push("-X", options.method);
    if (options.body !== undefined) args.push("-H", "Content-Type: application/json", "--data-binary", options.body);
    args.push(`https://${this.apiServerName}:${port}${urlPath}`);
    const r = await this.inClient(args);
    const lines = r.stdout.split("\n");
    const status = Number(lines.pop());
    return { status: r.exitCode === 0 ? status : -1, body: r.exitCode === 0 ? lines.join("\n") : r.stderr };
  }

  /** The Kubernetes CA's issued files. */
  kubernetesCa(): IssuedFiles {
    const trust = this.certSet.trust.find((t) => specOf(this.certSet, t.issuing).fileStem === "ca");
    return { cert: this.bundleFile("ca"), key: (this.issued.get(trust?.issuing ?? "kubernetes-ca") as IssuedFiles).key };
  }

  /** Spec ids of the Kubernetes CAs the current secrets trust (issuing first). */
  kubernetesCaIds(): string[] {
    return [...(this.certSet.trust.find((t) => specOf(this.certSet, t.issuing).fileStem === "ca")?.trusted ?? [])];
  }

  /** Spec ids of the etcd CAs the current secrets trust (issuing first). */
  etcdCaIds(): string[] {
    return [...(this.certSet.trust.find((t) => specOf(this.certSet, t.issuing).fileStem === "etcd/ca")?.trusted ?? [])];
  }

  /** The etcd CA's issued files. */
  etcdCa(): IssuedFiles {
    const trust = this.certSet.trust.find((t) => specOf(this.certSet, t.issuing).fileStem === "etcd/ca");
    return { cert: this.bundleFile("etcd/ca"), key: (this.issued.get(trust?.issuing ?? "etcd-ca") as IssuedFiles).key };
  }

  /** An API node boots: secrets, ha-kube-configure, then the static pods it wrote. */
  async startApiNode(slot: string, options: { freshDisk?: boolean } = {}): Promise<RunningProcess[]> {
    this.bumpEpoch(slot);
    const root = options.freshDisk !== false || !this.roots.has(slot) ? this.freshRoot(slot) : (this.roots.get(slot) as string);
    await this.runScript(slot, "usr/local/sbin/ha-fetch-secrets");
    // runcmd of the API user data.
    mkdirSync(path.join(root, "var/log/kubernetes/audit"), { recursive: true, mode: 0o700 });
    await this.runScript(slot, "usr/local/sbin/ha-kube-configure");
    const manifestDir = path.join(root, "etc/kubernetes/manifests");
    const order = ["kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"];
    const manifests = readdirSync(manifestDir).sort((a, b) => order.indexOf(a) - order.indexOf(b));
    return manifests.map((m) => this.startStaticPod(slot, path.join(manifestDir, m)));
  }

  /** Runs a static pod's container: its command + args verbatim, in the pod view, in the node's network. */
  startStaticPod(slot: string, manifestFile: string): RunningProcess {
    const root = this.roots.get(slot) as string;
    const manifestText = readFileSync(manifestFile, "utf8");
    const pod = parse(manifestText) as Json;
    if (pod.spec.hostNetwork !== true) throw new Error(`${manifestFile}: not a hostNetwork pod`);
    const [container] = pod.spec.containers as Json[];
    const volumes = new Map<string, Json>((pod.spec.volumes ?? []).map((v: Json) => [v.name, v]));
    const mounts: PodVolumeMount[] = (container.volumeMounts ?? []).map((m: Json) => {
      const v = volumes.get(m.name);
      if (!v?.hostPath) throw new Error(`${manifestFile}: volume ${m.name} is not a hostPath`);
      return { hostPath: v.hostPath.path, mountPath: m.mountPath, readOnly: m.readOnly === true, type: String(v.hostPath.type ?? "") };
    });
    const command = [...(container.command as string[]), ...((container.args ?? []) as string[])];
    // The container's image decides what runs: its tag's release of the program.
    const binary = kubernetesBinary(command[0], String(container.image));
    const argv = inView({ netns: this.net.namespaces.get(this.node(slot).host), hostname: this.hostname(slot), mounts: podViewMounts(root, mounts) }, [binary, ...command.slice(1)]);
    const p = this.spawnLogged(slot, String(pod.metadata.name), argv, { PATH: process.env.PATH }, manifestText);
    const epoch = this.instanceEpoch.get(slot) ?? 0;
    void p.exited.then(({ code, signal }) => this.onStaticPodExit(p, manifestFile, epoch, code, signal));
    return p;
  }

  /**
   * The kubelet's view of a container exit: unless the harness stopped it, a crash is recorded and,
   * with {@link kubeletRestarts}, the pod's container starts again from its manifest after the
   * back-off, provided the instance is still the same and nothing else started the pod meanwhile.
   */
  private onStaticPodExit(p: RunningProcess, manifestFile: string, epoch: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.destroyed || this.stoppedByHarness.has(p)) return;
    const now = Date.now();
    const previous = this.crashes.filter((c) => c.slot === p.slot && c.component === p.component && c.instance === epoch).pop();
    // The kubelet forgets the back-off once the container ran 10 min (the exit came more than
    // 10 min after its last restart: flowcontrol.Backoff's expiry), not 10 min after the last exit.
    const backoffMs =
      previous === undefined || now - p.startedAt > KUBELET_BACKOFF.resetAfterMs
        ? 0
        : previous.backoffMs === 0
          ? KUBELET_BACKOFF.initialMs
          : Math.min(previous.backoffMs * 2, KUBELET_BACKOFF.maxMs);
    const lines = tail(p.logFile, 40).split("\n").filter((l) => l.trim() !== "");
    const lastError = [...lines].reverse().find((l) => /^[EF]\d{4} /.test(l)) ?? lines.pop() ?? "";
    this.crashes.push({ slot: p.slot, component: p.component, code, signal, at: now, lastError: lastError.slice(0, 400), instance: epoch, backoffMs });
    if (!this.kubeletRestarts) return;
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.destroyed || (this.instanceEpoch.get(p.slot) ?? 0) !== epoch || !existsSync(manifestFile)) return;
      if (this.liveProcesses(p.slot).some((x) => x.component === p.component)) return;
      this.startStaticPod(p.slot, manifestFile);
    }, backoffMs);
    this.restartTimers.add(timer);
  }

  /** The instance in `slot` stops or boots again: the kubelet's pending restarts of the old one are dropped. */
  private bumpEpoch(slot: string): void {
    this.instanceEpoch.set(slot, (this.instanceEpoch.get(slot) ?? 0) + 1);
  }

  /** The live process of `component` on `slot` (newest). */
  process(slot: string, component: string): RunningProcess {
    const p = [...this.processes].reverse().find((x) => x.slot === slot && x.component === component && x.child.exitCode === null && x.child.signalCode === null);
    if (!p) throw new Error(`no running ${component} on ${slot}`);
    return p;
  }

  /** Sends `signal` to a process and waits for it to exit (bounded). */
  async stop(p: RunningProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<number> {
    const start = Date.now();
    this.stoppedByHarness.add(p);
    p.child.kill(signal);
    const timer = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
    await p.exited;
    clearTimeout(timer);
    return Date.now() - start;
  }

  /** Every live process of `slot`. */
  liveProcesses(slot: string): RunningProcess[] {
    return this.processes.filter((p) => p.slot === slot && p.child.exitCode === null && p.child.signalCode === null);
  }

  /**
   * The instance in `slot` shuts down (Auto Scaling terminates it): every process gets SIGTERM, as
   * systemd stops the kubelet's pods and etcd.service; each is killed after `graceMs`.
   */
  async terminateNode(slot: string, graceMs: number): Promise<void> {
    this.bumpEpoch(slot);
    await Promise.all(this.liveProcesses(slot).map((p) => this.stop(p, "SIGTERM", graceMs)));
  }

  /**
   * A new instance boots in `slot` with an empty disk. A node that runs an etcd member (etcd nodes,
   * stacked API nodes) starts etcd.service first: its bootstrap replaces the old member (learner,
   * promoted) before the unit is active; a stacked API node then starts its static pods on the same
   * root. Resolves when the processes run (not when the API server is ready).
   */
  async replaceNode(slot: string, options: { output?: string[] } = {}): Promise<void> {
    const node = this.node(slot);
    if (node.runsEtcd) {
      await this.startEtcdNode(slot, { freshDisk: true, output: options.output });
      await this.waitEtcdHealthy(60_000);
    }
    if (node.role === "apiserver") await this.startApiNode(slot, { freshDisk: !node.runsEtcd });
  }

  /** The instance in `slot` boots again on its own disk (a reboot after a crash): etcd.service, then the static pods. */
  async rebootNode(slot: string): Promise<void> {
    const node = this.node(slot);
    if (node.runsEtcd) await this.startEtcdNode(slot, { freshDisk: false });
    if (node.role === "apiserver") await this.startApiNode(slot, { freshDisk: false });
  }

  /**
   * What the kubelet does when a static pod's manifest changes on disk (the pod's identity is the
   * hash of its manifest): the old pod gets SIGTERM (killed after terminationGracePeriodSeconds)
   * and the new one starts. Pods whose manifest is unchanged keep running. Returns the restarted.
   */
  async syncStaticPods(slot: string): Promise<string[]> {
    const dir = path.join(this.roots.get(slot) as string, "etc/kubernetes/manifests");
    const restarted: string[] = [];
    if (!existsSync(dir)) return restarted; // an etcd node: no kubelet
    for (const file of readdirSync(dir).sort()) {
      const text = readFileSync(path.join(dir, file), "utf8");
      const pod = parse(text) as Json;
      const running = this.liveProcesses(slot).find((p) => p.component === pod.metadata.name);
      if (running === undefined || running.manifest === text) continue;
      await this.stop(running, "SIGTERM", Number(pod.spec.terminationGracePeriodSeconds ?? 30) * 1000);
      this.startStaticPod(slot, path.join(dir, file));
      restarted.push(String(pod.metadata.name));
    }
    return restarted;
  }

  /**
   * Runs what ha-refresh-secrets.service runs (the hourly certificate refresh): its ExecStart and
   * the ExecStartPost lines of its drop-ins, as systemd would, in the node view. `systemctl` is a
   * recorder (the harness runs no systemd); returns the scripts' stdout and the systemctl calls.
   */
  async refreshSecrets(slot: string): Promise<{ stdout: string; stderr: string; systemctl: string[] }> {
    const root = this.roots.get(slot) as string;
    const unitFile = path.join(root, "etc/systemd/system/ha-refresh-secrets.service");
    const dropInDir = `${unitFile}.d`;
    const texts = [readFileSync(unitFile, "utf8"), ...(existsSync(dropInDir) ? readdirSync(dropInDir).sort().map((f) => readFileSync(path.join(dropInDir, f), "utf8")) : [])].join("\n");
    const lines = (key: string) => [...texts.matchAll(new RegExp(`^${key}=[-+@!:]*(.+)$`, "gm"))].map((m) => m[1].trim().split(/\s+/));
    const bin = path.join(this.workDir, "bin");
    const callLog = path.join(this.workDir, `systemctl-${slot}.log`);
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >>"$SYSTEMCTL_LOG"\n`, { mode: 0o755 });
    writeFileSync(callLog, "");
    let stdout = "";
    let stderr = "";
    // ExecStart (the fetch) reaches the emulator on the host's loopback; the ExecStartPost steps run
    // in the node's network (ha-etcd-trust asks the members for their health). The trust restart's
    // jitter is 0: the harness refreshes one node at a time.
    const steps = [...lines("ExecStart").map((a) => ({ argv: a, netns: false })), ...lines("ExecStartPost").map((a) => ({ argv: a, netns: true }))];
    for (const { argv, netns } of steps) {
      const r = await this.runScript(slot, argv[0].replace(/^\//, ""), { netns, args: argv.slice(1), extraEnv: { PATH: `${bin}:${this.scriptEnv().PATH}`, SYSTEMCTL_LOG: callLog, ETCD_TRUST_JITTER_SECONDS: "0" } });
      stdout += r.stdout;
      stderr += r.stderr;
    }
    return { stdout, stderr, systemctl: readFileSync(callLog, "utf8").split("\n").filter((l) => l !== "") };
  }

  /**
   * Re-issues every leaf certificate (new key, new serial) from the library's specs with the same
   * CAs, and stores each slot's secret anew (a new secret version, as a deploy inside the renewal
   * window writes it). The clients of the harness keep their certificates. Returns the new files.
   */
  async reissueLeaves(): Promise<ReadonlyMap<string, IssuedFiles>> {
    const { set } = issuableCertificates(this.spec.certificates);
    const dir = path.join(this.workDir, `pki-renewed-${++this.generation}`);
    const renewed = new Map<string, IssuedFiles>(this.issued);
    for (const leaf of set.leaves) renewed.set(leaf.id, await issueWithOpenssl(leaf, dir, this.issued.get(leaf.signer as string)));
    await storeSecrets(this.emulator, this.spec, set, renewed, "update");
    return renewed;
  }

  /**
   * A deploy of a new certificate set (a CA rotation phase): CAs not issued yet are created, leaves
   * whose signer changed are re-issued by it (new key, new serial), CAs the set no longer names are
   * dropped, and every slot's secret is stored anew in the library's layout. The harness's own
   * clients (curl, kubectl, etcdctl, client loops) then trust the set's bundles and use its leaves.
   */
  async deployCertificates(certificates: ClusterCertificateSet): Promise<{ newCas: string[]; reissued: string[] }> {
    const { set } = issuableCertificates(certificates);
    const dir = path.join(this.workDir, `pki-deploy-${++this.generation}`);
    const next = new Map<string, IssuedFiles>();
    const newCas: string[] = [];
    const reissued: string[] = [];
    for (const ca of set.cas) {
      const have = this.issued.get(ca.id);
      if (have) next.set(ca.id, have);
      else {
        next.set(ca.id, await issueWithOpenssl(ca, dir));
        newCas.push(ca.id);
      }
    }
    const signerOf = new Map([...this.certSet.leaves].map((l) => [l.id, l.signer]));
    for (const leaf of set.leaves) {
      const have = this.issued.get(leaf.id);
      if (have && signerOf.get(leaf.id) === leaf.signer) next.set(leaf.id, have);
      else {
        next.set(leaf.id, await issueWithOpenssl(leaf, dir, next.get(leaf.signer as string)));
        reissued.push(leaf.id);
      }
    }
    for (const [id, files] of this.issued) if (!next.has(id) && !set.cas.some((c) => c.id === id) && ![...this.certSet.cas].some((c) => c.id === id)) next.set(id, files);
    await storeSecrets(this.emulator, this.spec, set, next, "update");
    this.issued = next;
    this.currentSet = set;
    // The operator re-fetches the admin kubeconfig after the deploy: the phase's bundle and client certificate.
    const conf = parse(readFileSync(this.adminKubeconfig, "utf8")) as Json;
    const admin = next.get("admin") as IssuedFiles;
    conf.clusters[0].cluster["certificate-authority-data"] = readFileSync(this.kubernetesCa().cert).toString("base64");
    conf.users[0].user["client-certificate-data"] = readFileSync(admin.cert).toString("base64");
    conf.users[0].user["client-key-data"] = readFileSync(admin.key).toString("base64");
    writeFileSync(this.adminKubeconfig, stringify(conf), { mode: 0o600 });
    return { newCas, reissued };
  }

  /** The certificate set the secrets hold now. */
  private get certSet(): ClusterCertificateSet {
    return (this.currentSet ??= issuableCertificates(this.spec.certificates).set);
  }

  private currentSet?: ClusterCertificateSet;

  /** A trust bundle of the current set as a file (`ca`, `etcd/ca`): every trusted CA, issuing first. */
  private bundleFile(stem: string): string {
    const cas = this.certSet.cas.filter((c) => c.fileStem === stem);
    if (cas.length === 1) return (this.issued.get(cas[0].id) as IssuedFiles).cert;
    const trust = this.certSet.trust.find((t) => t.trusted.includes(cas[0].id));
    const ids = trust ? trust.trusted : cas.map((c) => c.id);
    const file = path.join(this.workDir, `bundle-${stem.replace(/\//g, "-")}-${ids.join("+")}.crt`);
    if (!existsSync(file)) writeFileSync(file, ids.map((id) => `${readFileSync((this.issued.get(id) as IssuedFiles).cert, "utf8").trim()}\n`).join(""));
    return file;
  }

  /** Whether the API nodes also run the etcd members (the stacked topology). */
  get stacked(): boolean {
    return this.apiSlots.some((s) => this.node(s).runsEtcd);
  }

  /** A value of the rendered etcd configuration of `slot` (`/etc/etcd/etcd.yaml`). */
  etcdConfig(slot: string): Json {
    return parse(readFileSync(path.join(this.roots.get(slot) as string, "etc/etcd/etcd.yaml"), "utf8")) as Json;
  }

  /** Kills every process of a node at once (the instance is gone). */
  async killNode(slot: string): Promise<void> {
    this.bumpEpoch(slot);
    await Promise.all(this.liveProcesses(slot).map((p) => this.stop(p, "SIGKILL", 5000)));
  }

  /** Last log lines of every process of `component`. */
  logs(component: string, lines = 15): string {
    return this.processes
      .filter((p) => p.component === component)
      .map((p) => `--- ${p.slot} ${p.component} (${p.logFile})\n${tail(p.logFile, lines)}`)
      .join("\n");
  }

  /** Waits until `slot`'s API server answers /readyz 200 directly (not through the LB). */
  async waitApiReady(slot: string, timeoutMs: number): Promise<number> {
    const start = Date.now();
    for (;;) {
      const r = await this.curl(slot, "/readyz");
      if (r.status === 200) return Date.now() - start;
      const p = this.processes.filter((x) => x.slot === slot && x.component === "kube-apiserver").pop();
      // Without the kubelet's restarts an exit is final; with them, three exits while waiting are a crash loop.
      const crashed = this.crashes.filter((c) => c.slot === slot && c.component === "kube-apiserver" && c.at >= start);
      if (p && p.child.exitCode !== null && (!this.kubeletRestarts || crashed.length >= 3))
        throw new Error(`kube-apiserver on ${slot} exited ${p.child.exitCode}${crashed.length > 1 ? ` (${crashed.length} exits while waiting: ${crashed.map((c) => c.lastError).join(" | ")})` : ""}:\n${tail(p.logFile, 40)}`);
      if (Date.now() - start > timeoutMs) throw new Error(`kube-apiserver on ${slot} not ready after ${timeoutMs} ms (${r.status} ${r.body.slice(0, 300)}):\n${p ? tail(p.logFile, 40) : ""}`);
      await sleep(500);
    }
  }

  /** Stops everything and removes every namespace, temp dir and created mount point. Idempotent. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    for (const t of this.restartTimers) clearTimeout(t);
    this.restartTimers.clear();
    for (const p of this.processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await Promise.all(this.processes.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000).unref())])));
    await this.lb?.stop().catch(() => undefined);
    await this.emulator.stop().catch(() => undefined);
    await this.net.destroy();
    rmSync(this.workDir, { recursive: true, force: true });
    removeMountPoints();
  }
}

const binaryVersions = new Map<string, string>();

/**
 * The program `name` of the Kubernetes release an image is tagged with (`…/kube-apiserver:v1.34.2`):
 * the setup script's build of that release (HA_CP_KUBE_BIN, HA_CP_KUBE_UPGRADE_BIN), recognized by
 * what the binary itself reports (`--version`). No build of that release: an error naming it.
 */
export function kubernetesBinary(name: string, image: string): string {
  const tag = /:(v\d+\.\d+\.\d+)$/.exec(image)?.[1];
  if (!tag) throw new Error(`image ${image} has no vMAJOR.MINOR.PATCH tag`);
  const paths = realComponentPaths();
  const dirs = [paths.kubeBin, paths.kubeUpgradeBin];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (!existsSync(file)) continue;
    if (!binaryVersions.has(file)) binaryVersions.set(file, execFileSync(file, ["--version"], { encoding: "utf8" }).trim());
    if (binaryVersions.get(file) === `Kubernetes ${tag}`) return file;
  }
  throw new Error(`no ${name} of Kubernetes ${tag} (image ${image}) in ${dirs.join(", ")}: run \`bash scripts/setup-test-env.sh kubernetes kubernetes-upgrade\``);
}

function specOf(set: ClusterCertificateSet, id: string): CertificateSpec {
  return [...set.cas, ...set.leaves].find((c) => c.id === id) as CertificateSpec;
}

/** An address for the client namespace inside the VPC CIDR, away from every slot IP. */
function clientAddress(spec: SynthesizedCluster): string {
  const [base] = spec.vpcCidr.split("/");
  const o = base.split(".").map(Number);
  const ip = `${o[0]}.${o[1]}.250.10`;
  if (spec.nodes.some((n) => n.ip === ip)) throw new Error(`client address ${ip} collides with a slot`);
  return ip;
}

/**
 * node.env as the node gets it: Terraform resolves `${<type>.<name>.<attribute>}` references at
 * apply. Here an attribute set literally in the stack is used as is; a computed one gets a
 * stand-in of the right form (`arn:aws:…` for ARNs, a name otherwise). Nothing else is substituted.
 */
function resolveNodeEnv(text: string, synth: Json): string {
  return text.replace(/\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}/g, (ref, type: string, name: string, attr: string) => {
    const props = synth.resource?.[type]?.[name] as Json | undefined;
    if (props === undefined) throw new Error(`node.env references ${ref}, which is not in the stack`);
    const literal = props[attr] ?? (attr === "id" ? props.bucket ?? props.name : undefined);
    if (typeof literal === "string" && !literal.includes("${")) return literal;
    const service = type.replace(/^aws_/, "").split("_")[0];
    return attr === "arn" ? `arn:aws:${service}:eu-west-1:123456789012:${type}/${name}` : `cp-tier-${name.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 63);
  });
}

/**
 * Each slot's secret as ClusterPki writes it: `{files: {<path>: PEM}}` in the library's layout
 * (`secretFileLayout`: trust bundles concatenate every trusted CA of their domain).
 */
async function storeSecrets(emulator: AwsEmulator, spec: SynthesizedCluster, set: ClusterCertificateSet, issued: ReadonlyMap<string, IssuedFiles>, mode: "create" | "update" = "create"): Promise<void> {
  const read = (p: string) => readFileSync(p, "utf8");
  const prefix = /^SECRET_PREFIX='(.*)'$/m.exec(spec.nodes[0].files.find((f) => f.path === "/etc/ha-control-plane/node.env")?.content ?? "")?.[1];
  for (const bundle of set.bundles) {
    const files: Record<string, string> = {};
    for (const f of secretFileLayout(set, bundle)) {
      const pems = f.parts.map(({ id, part }) => {
        const got = issued.get(id);
        if (!got) throw new Error(`${bundle.slot}/${f.path}: ${id} was not issued`);
        return read(part === SecretFilePartKind.KEY ? got.key : got.cert);
      });
      files[f.path] = pems.length === 1 ? pems[0] : pems.map((p) => `${p.trim()}\n`).join("");
    }
    const name = `${prefix}/${bundle.slot}`;
    if (!spec.secretNames.includes(name)) throw new Error(`no synthesized secret ${name} (have ${spec.secretNames.join(", ")})`);
    if (mode === "create") emulator.aws("secretsmanager", "create-secret", "--name", name, "--secret-string", JSON.stringify({ files }));
    else emulator.aws("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", JSON.stringify({ files }));
  }
  if (mode === "update") return;
  const keySecret = /^ENCRYPTION_KEY_SECRET='(.*)'$/m.exec(spec.nodes.find((n) => n.role === "apiserver")?.files.find((f) => f.path === "/etc/ha-control-plane/node.env")?.content ?? "")?.[1];
  if (!keySecret || !spec.secretNames.includes(keySecret)) throw new Error(`encryption key secret ${keySecret} is not synthesized`);
  emulator.aws("secretsmanager", "create-secret", "--name", keySecret);
}

/**
 * The admin kubeconfig: the user, CA and certificate of the stack's `admin_kubeconfig` output, with
 * the load balancer's address as server and a literal SAN as TLS server name (the output's server is
 * the NLB's DNS name, a token until apply).
 */
function writeAdminKubeconfig(dir: string, name: string, set: ClusterCertificateSet, issued: ReadonlyMap<string, IssuedFiles>, userId: string, server: string, serverName: string): string {
  const ca = issued.get((set.cas.find((c) => c.fileStem === "ca") as CertificateSpec).id) as IssuedFiles;
  const admin = issued.get(userId) as IssuedFiles;
  const b64 = (p: string) => readFileSync(p).toString("base64");
  const file = path.join(dir, name);
  writeFileSync(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "cp", cluster: { server, "certificate-authority-data": b64(ca.cert), "tls-server-name": serverName } }],
      users: [{ name: "kubernetes-admin", user: { "client-certificate-data": b64(admin.cert), "client-key-data": b64(admin.key) } }],
      contexts: [{ name: "admin", context: { cluster: "cp", user: "kubernetes-admin" } }],
      "current-context": "admin",
    }),
    { mode: 0o600 },
  );
  return file;
}

/** Promise-based sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether a file exists (re-exported for tests). */
export const fileExists = existsSync;

/** One request of the client loop. */
export interface LoopResult {
  readonly n: number;
  readonly t0: number;
  readonly t1: number;
  readonly status?: number;
  readonly error?: string;
  /** The start of the body of an error answer. */
  readonly body?: string;
}

/** What a client loop did. */
export interface LoopSummary {
  readonly sent: number;
  readonly failed: number;
  /** Longest time between two consecutive successful responses, ms. */
  readonly longestGapMs: number;
  /** When that gap began (ms after the loop started). */
  readonly longestGapAtMs: number;
  /** Longest time one successful request took, ms (a gap without slow requests: the client stalled). */
  readonly slowestMs: number;
  readonly failures: readonly LoopResult[];
  readonly results: readonly LoopResult[];
}

/** Summarizes a loop's results; success = `ok(status)`. */
export function summarize(results: readonly LoopResult[], sent: number, ok: (status: number) => boolean): LoopSummary {
  const failures = results.filter((r) => r.status === undefined || !ok(r.status));
  const ends = results.filter((r) => r.status !== undefined && ok(r.status)).map((r) => r.t1).sort((a, b) => a - b);
  let longestGapMs = 0;
  let longestGapAtMs = 0;
  for (let i = 1; i < ends.length; i++) {
    if (ends[i] - ends[i - 1] > longestGapMs) [longestGapMs, longestGapAtMs] = [ends[i] - ends[i - 1], ends[i - 1]];
  }
  const slowestMs = Math.max(0, ...results.filter((r) => r.status !== undefined && ok(r.status)).map((r) => r.t1 - r.t0));
  // A request never answered counts as failed too.
  const missing = sent - results.length;
  return { sent, failed: failures.length + missing, longestGapMs, longestGapAtMs, slowestMs, failures, results };
}

/**
 * Starts the fixed-rate client (client-loop.js) in the client namespace against the load balancer
 * with the admin certificate. `mode: "get"` reads `path`; `"create"` POSTs ConfigMaps named
 * `<prefix>-<n>` to `path` (a configmaps collection).
 */
export function startClientLoop(cluster: ControlPlaneCluster, options: { mode: "get" | "create"; path: string; rate: number; maxSeconds: number; prefix?: string }): { stop(): Promise<{ sent: number; results: LoopResult[] }> } {
  const stopFile = path.join(cluster.workDir, `loop-stop-${Date.now()}`);
  const admin = cluster.issued.get("admin") as IssuedFiles;
  const cfg = {
    host: cluster.clientIp,
    port: cluster.spec.model.listenerPort,
    path: options.path,
    servername: cluster.apiServerName,
    ca: cluster.kubernetesCa().cert,
    cert: admin.cert,
    key: admin.key,
    rate: options.rate,
    maxSeconds: options.maxSeconds,
    stopFile,
    mode: options.mode,
    prefix: options.prefix ?? "w",
    timeoutMs: 10_000,
  };
  const done = runCommand("ip", ["netns", "exec", cluster.clientNs, process.execPath, path.join(__dirname, "client-loop.js"), JSON.stringify(cfg)], {
    timeoutMs: (options.maxSeconds + 60) * 1000,
    env: { PATH: process.env.PATH },
  });
  return {
    async stop() {
      writeFileSync(stopFile, "");
      const r = await done;
      if (r.exitCode !== 0) throw new Error(`client loop failed (exit ${r.exitCode}): ${r.stderr.slice(-2000)}`);
      return JSON.parse(r.stdout) as { sent: number; results: LoopResult[] };
    },
  };
}
