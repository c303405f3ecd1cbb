/**
 * Test fixture of the etcd end-to-end tier: a 3-member cluster configured only through the library's
 * renderers (`etcdMemberConfigs`, `etcdNodeEnv`, `renderEtcdConfig`), certificates issued with openssl
 * from the library's PKI spec model, members started by the library's own bootstrap script, one
 * network namespace per member (or loopback where namespaces are unavailable).
 *
 * Each member directory is laid out like a node: `pki/etcd/*` (kubeadm layout, 0600), `node.env`,
 * `run/slot.env`, `etc/ha-control-plane/etcd/<member>.yaml`, `etc/etcd/etcd.yaml` (written by the
 * script) and the data dir.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { copyFile, chmod, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  CA_IDS,
  CertificateSpec,
  ClusterFacts,
  buildClusterCertificates,
  shellQuote,
} from "../../../lib";
import { EtcdMemberEndpoint, EtcdNodeInput, etcdMemberConfigs, etcdNodeEnv } from "../../../lib/bootstrap/etcd";
import {
  type CommandResult,
  type EtcdClientTls,
  EtcdMemberSpec,
  EtcdTestCluster,
  EtcdTestLayout,
  LOOPBACK_PEER_SOURCE_ADDRESS,
  freePorts,
  runCommand,
} from "../../harness/etcd-cluster";
import { IssuedFiles, issueWithOpenssl } from "../../harness/openssl-pki";
import { toolAvailable } from "../../harness/tiers";
import { NetnsNetwork, createNetwork } from "./netns";
import { renderedScript } from "../../helpers/scripts";

const SETPRIV = toolAvailable("setpriv", ["--version"]).available;

export const BOOTSTRAP_SCRIPT = renderedScript("etcd-member-bootstrap.sh");

/** Where the etcd CA lives (shared by every cluster of a test file). */
export interface EtcdCa {
  readonly ca: IssuedFiles;
  /** Client certificate of the API servers (what the tests write and read with). */
  readonly apiClient: IssuedFiles;
}

/** A member laid out like a node. */
export interface TestNode {
  readonly name: string;
  /** Network namespace (undefined on loopback). */
  readonly ns?: string;
  readonly ip: string;
  readonly dir: string;
  readonly pkiDir: string;
  readonly envFile: string;
  readonly stateDir: string;
  /** The running config the bootstrap script writes. */
  readonly configFile: string;
  /** The rendered configs (`<member>.yaml`). */
  readonly configDir: string;
  readonly dataDir: string;
}

/** Options of {@link startTestCluster}. */
export interface TestClusterOptions {
  /** `netns` (one namespace per member) or `loopback`. */
  readonly mode: "netns" | "loopback";
  readonly names: readonly string[];
  readonly ca: EtcdCa;
  readonly workDir: string;
  /** Reuse this subnet (`10.A.B`) so members keep the addresses of an earlier cluster. */
  readonly subnet?: string;
  /**
   * A founding member whose node boots late: the others form the cluster first, then this one runs
   * the bootstrap script against the running cluster.
   */
  readonly lateMember?: string;
  /** Founding members' data dirs are prepared by the caller (snapshot restore). */
  readonly prepareDataDir?: (node: TestNode, members: readonly EtcdMemberEndpoint[], token: string) => Promise<void>;
}

/** A running test cluster. */
export interface TestCluster {
  readonly layout: EtcdTestLayout;
  readonly cluster: EtcdTestCluster;
  readonly net?: NetnsNetwork;
  readonly nodes: Map<string, TestNode>;
  readonly members: readonly EtcdMemberEndpoint[];
  readonly token: string;
  readonly clientTls: EtcdClientTls;
  /** What the bootstrap script logged when each member was first started. */
  readonly bootstrapOutput: ReadonlyMap<string, string>;
  /**
   * Runs the library's bootstrap script on a node (in its namespace), as etcd.service's ExecStartPre
   * (no args) or as an operator would (`["promote"]`).
   */
  bootstrap(name: string, env?: Record<string, string>, args?: readonly string[]): Promise<CommandResult>;
  /**
   * Renders a second set of a node's files, as for a fresh disk: configs with `dataDir`, env file
   * and running-config paths under `dir`. Pass `ENV_FILE: envFile` to {@link bootstrap} to use them.
   */
  renderFreshDisk(name: string, dir: string): Promise<{ readonly envFile: string; readonly configFile: string; readonly dataDir: string }>;
  /** Stops everything this cluster started (members, namespaces). Idempotent. */
  destroy(): Promise<void>;
}

/**
 * A private work dir `etcd-e2e-<pid>-XXXXXX` under the temp dir; dirs of earlier runs whose process
 * is gone (SIGKILLed before `afterAll`) are removed first.
 */
export function makeWorkDir(): string {
  const parent = tmpdir();
  for (const entry of readdirSync(parent)) {
    const owner = /^etcd-e2e-(\d+)-/.exec(entry);
    if (!owner) continue;
    try {
      process.kill(Number(owner[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") rmSync(path.join(parent, entry), { recursive: true, force: true });
    }
  }
  return mkdtempSync(path.join(parent, `etcd-e2e-${process.pid}-`));
}

/** Issues the etcd CA and the API servers' etcd client certificate from the library's specs. */
export async function issueEtcdCa(dir: string, members: readonly { name: string; privateIp: string }[]): Promise<EtcdCa> {
  const set = buildClusterCertificates(factsFor(members));
  const byId = (id: string): CertificateSpec => [...set.cas, ...set.leaves].find((s) => s.id === id) as CertificateSpec;
  const ca = await issueWithOpenssl(byId(CA_IDS.etcd), dir);
  const apiClient = await issueWithOpenssl(byId("apiserver-etcd-client"), dir, ca);
  return { ca, apiClient };
}

function factsFor(members: readonly { name: string; privateIp: string }[]): ClusterFacts {
  return {
    clusterName: "e2e",
    apiServers: [],
    etcdMembers: members.map((m) => ({ name: m.name, privateIp: m.privateIp })),
    stackedEtcd: false,
    apiServerNames: [],
    serviceCidr: "10.96.0.0/12",
    clusterDomain: "cluster.local",
  };
}

/**
 * Issues each member's server and peer certificates and the healthcheck client certificate, signed
 * by `ca`, from the library's specs. On loopback the peer certificates also get 127.0.0.1, because
 * every loopback peer connection comes from it (an artefact of one host; not in the library's PKI).
 */
async function issueMemberCertificates(dir: string, ca: IssuedFiles, members: readonly { name: string; privateIp: string }[], loopback: boolean): Promise<Map<string, IssuedFiles>> {
  const set = buildClusterCertificates(factsFor(members));
  const wanted = set.leaves.filter((l) => l.signer === CA_IDS.etcd && l.id.startsWith("etcd-"));
  const issued = new Map<string, IssuedFiles>();
  // One at a time: every issue updates the CA's serial file (-CAcreateserial).
  for (const spec of wanted) {
    const adjusted = loopback && spec.id.startsWith("etcd-peer-") ? { ...spec, ipAddresses: [...spec.ipAddresses, LOOPBACK_PEER_SOURCE_ADDRESS] } : spec;
    issued.set(spec.id, await issueWithOpenssl(adjusted, dir, ca));
  }
  return issued;
}

async function install(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
  await copyFile(from, to);
  await chmod(to, 0o600);
}

/** Writes a node's rendered configs (`paths.configDir/<member>.yaml`) and its env file. */
async function renderNodeFiles(node: TestNode, input: EtcdNodeInput, envFile: string): Promise<void> {
  const configDir = input.paths?.configDir as string;
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  for (const [member, text] of etcdMemberConfigs(input)) await writeFile(path.join(configDir, `${member}.yaml`), text, { mode: 0o600 });
  const env = { ...etcdNodeEnv(input), PKI_DIR: node.pkiDir };
  await writeFile(envFile, Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join(""), { mode: 0o644 });
}

/**
 * Allocates, configures (through the renderers' parameters only) and starts a 3-member cluster
 * whose members are started by the library's bootstrap script; waits until it is healthy.
 */
export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const netns = options.mode === "netns";
  const net = netns ? await createNetwork(options.names.length, options.subnet) : undefined;
  let layout: EtcdTestLayout | undefined;
  let cluster: EtcdTestCluster | undefined;
  const destroy = async (): Promise<void> => {
    await (cluster ? cluster.cleanup() : layout?.removeRootDir());
    await net?.destroy();
  };
  try {
    layout = await EtcdTestLayout.create({ members: netns ? [] : options.names, tmpParent: options.workDir });
    if (net) {
      for (const [i, name] of options.names.entries()) await layout.allocateMember(name, { address: net.memberIps[i], netns: net.memberNs[i] });
    }
    const specs = layout.members;
    const metricsPorts = netns ? [] : await freePorts("127.0.0.1", specs.length);
    // Namespaces: etcd's default ports everywhere. Loopback: the harness's free ports per member.
    const members: EtcdMemberEndpoint[] = specs.map((s, i) =>
      netns ? { name: s.name, ip: s.address } : { name: s.name, ip: s.address, clientPort: s.clientPort, peerPort: s.peerPort, metricsPort: metricsPorts[i] },
    );
    const token = layout.clusterToken;
    const certs = await issueMemberCertificates(path.join(layout.rootDir, "pki-work"), options.ca.ca, members.map((m) => ({ name: m.name, privateIp: m.ip })), !netns);
    const etcdctlDir = path.dirname((await runCommand("sh", ["-c", "command -v etcdctl"])).stdout.trim());

    const nodes = new Map<string, TestNode>();
    for (const [i, spec] of specs.entries()) {
      const dir = spec.memberDir;
      const node: TestNode = {
        name: spec.name,
        ns: spec.netns,
        ip: spec.address,
        dir,
        pkiDir: path.join(dir, "pki"),
        envFile: path.join(dir, "node.env"),
        stateDir: path.join(dir, "run"),
        configFile: path.join(dir, "etc/etcd/etcd.yaml"),
        configDir: path.join(dir, "etc/ha-control-plane/etcd"),
        dataDir: spec.dataDir,
      };
      nodes.set(spec.name, node);
      const pki = node.pkiDir;
      await install(options.ca.ca.cert, path.join(pki, "etcd/ca.crt"));
      for (const [id, stem] of [[`etcd-server-${spec.name}`, "server"], [`etcd-peer-${spec.name}`, "peer"], ["etcd-healthcheck-client", "healthcheck-client"]]) {
        const files = certs.get(id) as IssuedFiles;
        await install(files.cert, path.join(pki, `etcd/${stem}.crt`));
        await install(files.key, path.join(pki, `etcd/${stem}.key`));
      }
      // The first members are dedicated nodes (their member is fixed); the last one carries every
      // member's config and becomes the slot it claimed (SLOT_NAME), like a node of a shared template.
      await renderNodeFiles(node, {
        members,
        initialClusterToken: token,
        dataDir: node.dataDir,
        pkiDir: pki,
        nodeMembers: i < specs.length - 1 ? [spec.name] : undefined,
        paths: { configDir: node.configDir, config: node.configFile, binDir: etcdctlDir },
      }, node.envFile);
      await mkdir(node.stateDir, { recursive: true });
      await writeFile(path.join(node.stateDir, "slot.env"), `SLOT_NAME=${spec.name}\nSLOT_IP=${spec.address}\n`);
      layout.setTls(spec.name, {
        client: { certFile: path.join(pki, "etcd/server.crt"), keyFile: path.join(pki, "etcd/server.key"), trustedCaFile: path.join(pki, "etcd/ca.crt") },
        peer: { certFile: path.join(pki, "etcd/peer.crt"), keyFile: path.join(pki, "etcd/peer.key"), trustedCaFile: path.join(pki, "etcd/ca.crt") },
      });
      if (options.prepareDataDir) await options.prepareDataDir(node, members, token);
    }

    const clientTls: EtcdClientTls = { caFile: options.ca.ca.cert, certFile: options.ca.apiClient.cert, keyFile: options.ca.apiClient.key };
    cluster = new EtcdTestCluster(layout, { clientTls, clientNetns: net?.clientNs });
    const bootstrap = (name: string, env: Record<string, string> = {}, scriptArgs: readonly string[] = []): Promise<CommandResult> => {
      const node = nodes.get(name) as TestNode;
      const vars = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        ENV_FILE: node.envFile,
        STATE_DIR: node.stateDir,
        HA_ETCD_DIAL_TIMEOUT: "1s",
        HA_ETCD_COMMAND_TIMEOUT: "3s",
        HA_ETCD_RECONFIG_TIMEOUT: "60",
        ...env,
      };
      // setpriv: the script dies with this process even when it is SIGKILLed.
      const argv = [...(node.ns ? ["ip", "netns", "exec", node.ns] : []), "bash", BOOTSTRAP_SCRIPT, ...scriptArgs];
      const [command, ...args] = SETPRIV ? ["setpriv", "--pdeathsig", "KILL", "--", ...argv] : argv;
      return runCommand(command, args, { env: vars, timeoutMs: 90_000 });
    };
    // Founding members run the bootstrap script at the same time, as nodes booting together do.
    const bootstrapOutput = new Map<string, string>();
    const launch = async (spec: EtcdMemberSpec) => {
      const r = await bootstrap(spec.name);
      if (r.exitCode !== 0) throw new Error(`ha-etcd-bootstrap failed on ${spec.name} (exit ${r.exitCode}):\n${r.stderr}`);
      bootstrapOutput.set(spec.name, r.stderr);
      return { configFile: (nodes.get(spec.name) as TestNode).configFile };
    };
    const early = options.names.filter((n) => n !== options.lateMember);
    await cluster.start({ launch, only: early });
    await cluster.waitHealthy(30_000);
    if (options.lateMember !== undefined) {
      // The bootstrap script joins it as a learner (loopback clients only) and promotes it before it returns.
      await cluster.startMember(layout.member(options.lateMember), { launch, initialCluster: "(written by ha-etcd-bootstrap)" });
      await cluster.waitHealthy(30_000);
    }
    const renderFreshDisk = async (name: string, dir: string) => {
      const node = nodes.get(name) as TestNode;
      const files = { envFile: path.join(dir, "node.env"), configFile: path.join(dir, "etcd.yaml"), dataDir: path.join(dir, "data") };
      await renderNodeFiles(node, {
        members,
        initialClusterToken: token,
        dataDir: files.dataDir,
        pkiDir: node.pkiDir,
        nodeMembers: [name],
        paths: { configDir: path.join(dir, "configs"), config: files.configFile, binDir: etcdctlDir },
      }, files.envFile);
      return files;
    };
    return { layout, cluster, net, nodes, members, token, clientTls, bootstrapOutput, bootstrap, renderFreshDisk, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
