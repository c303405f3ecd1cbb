/**
 * Boot tier: the shapes of the control plane besides the reference example's (3 zones, 3 etcd
 * members) — two zones, and five etcd members — in one cluster: the reference example's settings
 * but `availabilityZones` of two zones, `apiServerCount: 2` (a multiple of the zone count) and
 * `etcdMemberCount: 5`. Five members round-robin over two zones put three in the first: one zone
 * holds the quorum (⌊5/2⌋+1 = 3), which the library refuses unless `allowEtcdZoneQuorumLoss`
 * acknowledges it (asserted here too). The stack is applied with terraform against moto with the
 * platform team's mirrors, as api-server-nodes.boot.test.ts applies the reference example
 * (./api-nodes.ts, `AirGappedCluster`: binaries pinned by SHA-256 over HTTPS, the control-plane
 * images from a local OCI registry); every node boots the user data moto's launch template stores.
 * The five etcd nodes boot at once, as etcd-nodes.boot.test.ts boots the reference example's, and
 * form one cluster over their slot addresses. Then the two API-server nodes (the API-server Auto
 * Scaling group's instances, spread over the two zones' subnets) boot at once, as
 * api-server-nodes.boot.test.ts boots its three: every unit active, /readyz on the slot address;
 * each kube-apiserver's `--etcd-servers` (in its manifest and its argv) names the five slot client
 * URLs the emulator recorded, and it holds a connection to each of the five members; /readyz
 * answers through the load balancer (haproxy from the synthesized target group).
 */
import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack, Testing } from "../../lib/core";
import { HaControlPlane, HaControlPlaneProps } from "../../lib";
import type { HaClusterStackProps } from "../../examples/ha-cluster/main";
import { nodeEtcdctl } from "./environment";
import { NspawnNode, allOrAbort, bootTierCheck, waitFor } from "../harness/nspawn-node";
import { motoCheck } from "../harness/real-components";
import { providerPlanCheck } from "../harness/provider-plan";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { registryCheck } from "../harness/asset-mirror";
import { explainFailure, settle } from "./node-report";
import { API_SERVER_CHECKS, AirGappedCluster, apiBootBudgetMs } from "./api-nodes";

// beforeAll: mirror, registry, apply, VPC (each test passes its own budget, below).
jest.setTimeout(30 * 60_000);

const ZONES = ["eu-west-1a", "eu-west-1b"];
const MEMBERS = 5;
/** How long an etcd node may take for cloud-init, then for systemd to settle (as etcd-nodes.boot.test.ts). */
const ETCD_SETTLE = { cloudInitMs: 8 * 60_000, settleMs: 4 * 60_000 };
/** Then for etcd.service to be active (each node in turn). */
const ETCD_ACTIVE_MS = 3 * 60_000;
/** The shape's API servers (`apiServerCount`), one in each zone. */
const API_NODES = 2;
/** API-server nodes booted at once: both, beside the five etcd nodes (api-server-nodes.boot boots its three at once). */
const API_BOOT_CONCURRENCY = 2;
/**
 * For a kube-apiserver to hold a connection to each etcd member (its etcd client dials every
 * endpoint of --etcd-servers), each node in turn, once /readyz passed through the load balancer.
 */
const ETCD_CONNECTIONS_MS = 60_000;
/** What a test may take besides its waits (AWS CLI calls, checks, printing). */
const TEST_OVERHEAD_MS = 2 * 60_000;
/** The etcd nodes' test: its waits' deadlines in sequence. */
const ETCD_TEST_MS = ETCD_SETTLE.cloudInitMs + ETCD_SETTLE.settleMs + MEMBERS * ETCD_ACTIVE_MS + TEST_OVERHEAD_MS;
/** The etcd cluster's test: etcdctl from each node (10 s command timeout), then member list. */
const CLUSTER_TEST_MS = (MEMBERS + 1) * 10_000 + TEST_OVERHEAD_MS;
/** The API-server nodes' test: derived as api-server-nodes.boot derives its own (per wave, one node's waits; the load balancer), then each node's etcd connections. */
const API_TEST_MS = apiBootBudgetMs(API_NODES, API_BOOT_CONCURRENCY, API_SERVER_CHECKS, TEST_OVERHEAD_MS) + API_NODES * ETCD_CONNECTIONS_MS;

/**
 * The reference example's control plane (examples/ha-cluster) in two zones with five etcd members
 * and two API servers, getting what it installs from the mirrors of `mirrors` (etcdRelease,
 * kubernetesBinaryMirror, imageRepository: what {@link AirGappedCluster.start} serves).
 */
function shapeProps(mirrors: HaClusterStackProps, acknowledged: boolean): HaControlPlaneProps {
  return {
    clusterName: "prod-eu1",
    kubernetesVersion: "1.33.5",
    vpcCidr: "10.0.0.0/16",
    availabilityZones: ZONES,
    apiServerCount: API_NODES,
    etcdMemberCount: MEMBERS,
    amiId: "ami-0a422d70f727fe93e",
    allowedApiCidrs: ["10.20.0.0/16"],
    tags: { team: "platform", environment: "production" },
    ...(mirrors.etcdRelease !== undefined ? { etcdRelease: mirrors.etcdRelease } : {}),
    ...(mirrors.kubernetesBinaryMirror !== undefined ? { kubernetesBinaryMirror: mirrors.kubernetesBinaryMirror } : {}),
    ...(mirrors.imageRepository !== undefined ? { imageRepository: mirrors.imageRepository } : {}),
    ...(acknowledged ? { allowEtcdZoneQuorumLoss: true } : {}),
  };
}

class ShapeStack extends TerraformStack {
  public readonly controlPlane: HaControlPlane;
  constructor(scope: Construct, id: string, props: HaControlPlaneProps) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "eu-west-1" });
    this.controlPlane = new HaControlPlane(this, "ControlPlane", props);
  }
}

/** The processes named kube-apiserver on `node` (the image has no pidof or pgrep). */
async function apiserverPids(node: NspawnNode): Promise<string[]> {
  const r = await node.exec(["sh", "-c", 'for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = kube-apiserver ] && echo "${p#/proc/}"; done; true']);
  return r.stdout.split("\n").filter(Boolean);
}

/** An IPv4 address and port as /proc/net/tcp prints them ("0B10000A:094B": the address as this little-endian host's u32, the port in hex). */
function procNetAddress(hex: string): string {
  const [ip, port] = hex.split(":");
  const octets = (ip.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16));
  return `${octets.join(".")}:${parseInt(port, 16)}`;
}

/**
 * The remote ends of kube-apiserver's established TCP connections on `node`, read from /proc (the
 * image has no ss): the process's socket descriptors matched against the node's TCP table (the
 * static pod runs in the node's network namespace).
 */
async function apiserverPeers(node: NspawnNode): Promise<string[]> {
  const inodes = new Set<string>();
  for (const pid of await apiserverPids(node)) {
    for (const l of (await node.exec(["find", `/proc/${pid}/fd`, "-lname", "socket:*", "-printf", "%l\n"])).stdout.split("\n")) {
      const m = /^socket:\[(\d+)\]$/.exec(l.trim());
      if (m) inodes.add(m[1]);
    }
  }
  const peers = new Set<string>();
  for (const line of (await node.exec(["cat", "/proc/net/tcp"])).stdout.split("\n").slice(1)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode; st 01 = ESTABLISHED.
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[3] === "01" && inodes.has(f[9])) peers.add(procNetAddress(f[2]));
  }
  return [...peers].sort();
}

describeTier("boot tier: two zones and five etcd members (Debian 12): the five etcd nodes boot under systemd and cloud-init and form one cluster; the two API-server nodes boot against all five members and are ready through the load balancer", allOf(bootTierCheck(), motoCheck(), providerPlanCheck(), registryCheck(), toolAvailable("haproxy", ["-v"])), { tierLabel: "boot" }, () => {
  const cluster = new AirGappedCluster();
  const { fleet, timings } = cluster;

  beforeAll(() => cluster.start("boot-shapes-", {}, (mirrors) => new ShapeStack(Testing.app(), "ha-shapes", shapeProps(mirrors, true))));
  afterAll(() => cluster.stop("two zones, five etcd members, two API servers"));

  it("refuses the shape unless allowEtcdZoneQuorumLoss acknowledges that one zone holds the etcd quorum (3 of 5 members)", () => {
    expect(() => Testing.synth(new ShapeStack(Testing.app(), "ha-shapes", shapeProps(cluster.stackProps, false)))).toThrow(/allowEtcdZoneQuorumLoss/);
  });

  let booted: NspawnNode[] = [];
  /** Each slot's interface, as the emulator records it attached: address and zone. */
  const slots = new Map<string, { ip: string; zone: string }>();
  /** The five members formed one cluster (the API-server nodes' test needs it). */
  let clusterFormed = false;

  it("boots the five etcd nodes at once: cloud-init done, every unit active, systemctl --failed empty; three slots in the first zone, two in the second", async () => {
    const specs = (await Promise.all(Array.from({ length: MEMBERS }, (_, i) => cluster.nodeSpecs(`prod-eu1-etcd-${i}`, `etcd-${i}`)))).flat();
    expect(specs.length).toBe(MEMBERS);
    booted = await allOrAbort(specs, (s) => cluster.boot(s), { parent: fleet.signal });
    const reports = await allOrAbort(booted, (n, signal) => settle(n, ETCD_SETTLE, signal), { parent: fleet.signal });
    const problems: string[] = [];
    for (const [i, r] of reports.entries()) {
      timings.push(`${r.node}: boot to ready ${r.readySeconds.toFixed(1)} s (${r.systemState})`);
      if (r.failed !== "" || r.systemState !== "running" || !/status: done/.test(r.cloudInit)) problems.push(`${r.cloudInit}; system ${r.systemState}\n${await explainFailure(booted[i], r.failed)}`);
    }
    expect(problems).toEqual([]);
    for (const n of booted) {
      await waitFor(async () => (await n.exec(["systemctl", "is-active", "etcd.service"])).stdout.trim() === "active", ETCD_ACTIVE_MS, `${n.spec.name}: etcd.service active`, fleet.signal).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await n.journal("etcd.service", 30)}`);
      });
      const enis = (await cluster.aws("ec2", "describe-network-interfaces", "--filters", `Name=attachment.instance-id,Values=${n.spec.instanceId}`)).NetworkInterfaces as Array<{ PrivateIpAddress: string; AvailabilityZone: string; Attachment: { DeviceIndex: number } }>;
      const slot = enis.filter((e) => e.Attachment.DeviceIndex !== 0);
      expect({ node: n.spec.name, slotInterfaces: slot.length }).toEqual({ node: n.spec.name, slotInterfaces: 1 });
      slots.set(n.spec.name, { ip: slot[0].PrivateIpAddress, zone: slot[0].AvailabilityZone });
    }
    const perZone = ZONES.map((z) => [...slots.values()].filter((s) => s.zone === z).length);
    expect(perZone).toEqual([3, 2]);
    timings.push(`slots: ${[...slots.entries()].map(([n, s]) => `${n} ${s.ip} (${s.zone})`).join("; ")}`);
  }, ETCD_TEST_MS);

  it("forms one healthy etcd cluster of five voting members over the slot addresses", async () => {
    if (slots.size !== MEMBERS) throw new Error("the nodes did not boot (see the previous test)");
    const expected = [...slots.values()].map((s) => s.ip).sort();
    for (const n of booted) {
      const health = await nodeEtcdctl(n, "endpoint", "health", "-w", "json");
      const seen = (JSON.parse(health.stdout || "[]") as Array<{ endpoint: string; health: boolean }>).map((h) => [h.endpoint, h.health]).sort();
      expect({ from: n.spec.name, seen, stderr: health.stderr }).toEqual({ from: n.spec.name, seen: expected.map((ip) => [`https://${ip}:2379`, true]), stderr: health.stderr });
    }
    const members = JSON.parse((await nodeEtcdctl(booted[0], "member", "list", "-w", "json")).stdout).members as Array<{ name: string; peerURLs: string[]; isLearner?: boolean }>;
    expect(members.map((m) => [m.name, m.peerURLs, m.isLearner ?? false]).sort()).toEqual([...slots.entries()].map(([n, s]) => [n, [`https://${s.ip}:2380`], false]).sort());
    timings.push(`etcd members: ${members.map((m) => `${m.name} ${m.peerURLs.join(",")}`).join("; ")}`);
    clusterFormed = true;
  }, CLUSTER_TEST_MS);

  it(
    "boots the two API-server nodes at once, one in each zone: every unit active, systemctl --failed empty, the launch lifecycle action completed, /readyz on the slot address; each kube-apiserver's --etcd-servers names the five slot client URLs and it is connected to all five members; /readyz through the load balancer",
    async () => {
      if (!clusterFormed) throw new Error("the etcd cluster did not form (see the previous tests)");
      // The oracle: the five slot interfaces the emulator recorded attached to the etcd instances.
      const members = [...slots.values()].map((s) => `${s.ip}:2379`).sort();
      expect(members.length).toBe(MEMBERS);
      const { nodes: api } = await cluster.bootApiServers(API_NODES, ZONES, API_BOOT_CONCURRENCY, API_SERVER_CHECKS);
      for (const a of api) {
        const name = a.node.spec.name;
        // --etcd-servers as the static pod manifest renders it, and as the running kube-apiserver got it.
        const manifest = (await a.node.exec(["cat", "/etc/kubernetes/manifests/kube-apiserver.yaml"])).stdout;
        const rendered = [...manifest.matchAll(/--etcd-servers=([^"'\s\]]+)/g)].map((m) => m[1].split(",").sort());
        expect({ node: name, rendered }).toEqual({ node: name, rendered: [members.map((m) => `https://${m}`)] });
        const pids = await apiserverPids(a.node);
        expect({ node: name, processes: pids.length }).toEqual({ node: name, processes: 1 });
        const argv = (await a.node.exec(["cat", `/proc/${pids[0]}/cmdline`])).stdout.split("\0").filter(Boolean);
        const running = argv.filter((f) => f.startsWith("--etcd-servers=")).map((f) => f.slice("--etcd-servers=".length).split(",").sort());
        expect({ node: name, running }).toEqual({ node: name, running: [members.map((m) => `https://${m}`)] });
        // It reaches all five: an established connection to each member's client address.
        let peers: string[] = [];
        await waitFor(async () => {
          peers = (await apiserverPeers(a.node)).filter((p) => p.endsWith(":2379"));
          return members.every((m) => peers.includes(m));
        }, ETCD_CONNECTIONS_MS, `${name}: kube-apiserver connected to each etcd member (now: ${peers.join(", ") || "none"})`, fleet.signal);
        expect({ node: name, etcd: peers }).toEqual({ node: name, etcd: members });
        timings.push(`${name} (slot ${a.slotIp}): --etcd-servers names the five slots; kube-apiserver connected to ${peers.join(", ")}`);
      }
    },
    API_TEST_MS,
  );
});
