/**
 * Boot tier: the reference example with the stacked etcd topology (`etcdTopology:
 * EtcdTopology.STACKED`) boots on Debian 12. There are no etcd nodes: each of the three API-server
 * nodes claims its slot interface AND its slot's etcd data volume, fetches one secret holding both
 * its API-server and its etcd member certificates, starts its etcd member (etcd.service) beside
 * containerd, the kubelet and the static pods, and its API server talks to the three members over
 * the slot addresses. Same machinery as api-server-nodes.boot.test.ts (./api-nodes.ts): the stack
 * applied with terraform against moto, each node a systemd-nspawn container booting the user data
 * moto's launch template stores, everything installed from the platform team's mirrors (binaries
 * pinned by SHA-256 over HTTPS, images from a local OCI registry), /readyz through haproxy built
 * from the synthesized target group.
 */
import { execFileSync } from "node:child_process";
import { EtcdTopology } from "../../lib";
import { allOrAbort, bootTierCheck } from "../harness/nspawn-node";
import { motoCheck } from "../harness/real-components";
import { providerPlanCheck } from "../harness/provider-plan";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { registryCheck } from "../harness/asset-mirror";
import { nodeEtcdctl } from "./environment";
import { AirGappedCluster, ApiNode, ApiNodeChecks, containerKernelFiles, installKernelKeys, loadBalancerBudgetMs } from "./api-nodes";

// beforeAll: registry, apply, VPC (each test passes its own budget, below).
jest.setTimeout(30 * 60_000);

/**
 * A stacked node's system is `starting` until ha-complete-lifecycle ends, which it does at the
 * latest at the node's LAUNCH_READY_DEADLINE_SECONDS of boot (840 s in the reference example;
 * checked against node.env on each node), so 14 min after cloud-init covers it; then /readyz on
 * the slot address.
 */
const STACKED_CHECKS: ApiNodeChecks = {
  settle: { cloudInitMs: 12 * 60_000, settleMs: 14 * 60_000 },
  readyzMs: 2 * 60_000,
  activeUnits: [
    "ha-claim-slot.service",
    "ha-fetch-secrets.service",
    "ha-etcd-user.service",
    "etcd.service",
    "ha-kube-install.service",
    "containerd.service",
    "ha-kube-configure.service",
    "kubelet.service",
  ],
  printedUnits: [
    "ha-claim-slot.service",
    "ha-fetch-secrets.service",
    "etcd.service",
    "ha-kube-install.service",
    "containerd.service",
    "ha-kube-configure.service",
    "kubelet.service",
    "ha-complete-lifecycle.service",
  ],
};
/** The reference example's API servers, each with its etcd member (README: stacked topology). */
const API_NODES = 3;
/** What a test may take besides its waits (AWS CLI calls, checks, printing). */
const TEST_OVERHEAD_MS = 2 * 60_000;
/**
 * The first test's budget: the three nodes boot at once (a new stacked cluster's members bootstrap
 * together: each etcd waits for a quorum of its peers), so one node's waits in sequence; then the
 * load balancer.
 */
const BOOT_TEST_MS = STACKED_CHECKS.settle.cloudInitMs + STACKED_CHECKS.settle.settleMs + STACKED_CHECKS.readyzMs + loadBalancerBudgetMs(API_NODES) + TEST_OVERHEAD_MS;

describeTier(
  "boot tier: the reference example's stacked topology boots under systemd, cloud-init, containerd and the kubelet, each API-server node with its etcd member (Debian 12)",
  allOf(bootTierCheck(), motoCheck(), providerPlanCheck(), registryCheck(), toolAvailable("haproxy", ["-v"])),
  { tierLabel: "boot" },
  () => {
    const cluster = new AirGappedCluster();
    const { fleet, timings } = cluster;

    beforeAll(() => cluster.start("boot-stacked-", { etcdTopology: EtcdTopology.STACKED }));
    afterAll(() => cluster.stop("stacked topology"));

    let api: ApiNode[] = [];
    /** The first test passed: every node booted and was checked (the second needs all three). */
    let booted = false;
    /** Each node's slot interface (address and ha-control-plane/slot tag), as the emulator records it attached to the node's instance. */
    const slots = new Map<string, { ip: string; name: string }>();

    it(
      "boots the three API-server nodes at once, each with its etcd member: cloud-init done, every unit active, systemctl --failed empty (but the lifecycle call moto refuses); /readyz through the load balancer, every node in service",
      async () => {
        // Stacked: no etcd launch templates or groups; the one group is the API servers'.
        const templates = (await cluster.aws("ec2", "describe-launch-templates")).LaunchTemplates.map((t: { LaunchTemplateName: string }) => t.LaunchTemplateName) as string[];
        expect(templates.filter((t) => /etcd/.test(t))).toEqual([]);
        const apiTemplate = await cluster.apiTemplate();
        const moved = await cluster.balanceAcrossZones(apiTemplate);
        timings.push(`API-server group spread over its zones as EC2 Auto Scaling would (moto launches all in the first subnet): ${moved.join("; ") || "already spread"}`);
        const kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
        const specs = await cluster.nodeSpecs(apiTemplate, "stacked", containerKernelFiles(kernel), true, installKernelKeys());
        timings.push(`API-server instances: ${specs.length} (${specs.map((s) => s.instanceId).join(", ")}), booted at once`);
        expect(specs.length).toBe(API_NODES);
        // The user data is the stacked path: the node claims its slot's data volume and runs etcd.
        expect(specs[0].userData).toMatch(/etcd/);
        const zones = (await cluster.aws("ec2", "describe-instances", "--instance-ids", ...specs.map((s) => s.instanceId))).Reservations.flatMap((r: { Instances: Array<{ Placement: { AvailabilityZone: string } }> }) => r.Instances.map((i) => i.Placement.AvailabilityZone));
        expect(new Set(zones).size).toBe(API_NODES);
        const bootStart = Date.now();
        api = await allOrAbort(specs, (s, signal) => cluster.bootApiNode(s, signal, STACKED_CHECKS), { parent: fleet.signal });
        timings.push(`all ${api.length} stacked nodes ready on their slot addresses ${((Date.now() - bootStart) / 1000).toFixed(1)} s after the first boot started`);
        for (const a of api) {
          // systemctl --failed is empty (bootApiNode allowed only ha-complete-lifecycle, moto's 500).
          const failed = a.report.failed.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
          expect({ node: a.node.spec.name, failed: failed.filter((u) => u !== "ha-complete-lifecycle.service") }).toEqual({ node: a.node.spec.name, failed: [] });
          // No start job left waiting; etcd started only after its slot, its certificates and its
          // data volume (the boot-defects ordering, on the stacked path).
          expect({ node: a.node.spec.name, jobs: (await a.node.exec(["systemctl", "list-jobs", "--no-legend"])).stdout.trim() }).toEqual({ node: a.node.spec.name, jobs: "" });
          const at = async (unit: string, prop: string) => Number((await a.node.exec(["systemctl", "show", "-P", prop, unit])).stdout.trim());
          const slotUp = await at("ha-claim-slot.service", "ActiveEnterTimestampMonotonic");
          const secretsUp = await at("ha-fetch-secrets.service", "ActiveEnterTimestampMonotonic");
          const etcdStart = await at("etcd.service", "InactiveExitTimestampMonotonic");
          expect({ node: a.node.spec.name, slotBeforeEtcd: slotUp > 0 && slotUp <= etcdStart, secretsBeforeEtcd: secretsUp > 0 && secretsUp <= etcdStart }).toEqual({
            node: a.node.spec.name,
            slotBeforeEtcd: true,
            secretsBeforeEtcd: true,
          });
          // The slot as EC2 records it: one interface besides the primary, one volume besides the root.
          const enis = (await cluster.aws("ec2", "describe-network-interfaces", "--filters", `Name=attachment.instance-id,Values=${a.node.spec.instanceId}`)).NetworkInterfaces as Array<{
            PrivateIpAddress: string;
            Attachment: { DeviceIndex: number };
            TagSet?: Array<{ Key: string; Value: string }>;
          }>;
          const slot = enis.filter((e) => e.Attachment.DeviceIndex !== 0);
          expect({ node: a.node.spec.name, slotInterfaces: slot.length }).toEqual({ node: a.node.spec.name, slotInterfaces: 1 });
          expect({ node: a.node.spec.name, slotIp: a.slotIp }).toEqual({ node: a.node.spec.name, slotIp: slot[0].PrivateIpAddress });
          slots.set(a.node.spec.name, { ip: slot[0].PrivateIpAddress, name: slot[0].TagSet?.find((t) => t.Key === "ha-control-plane/slot")?.Value ?? "" });
          const rootDevice = (await cluster.aws("ec2", "describe-instances", "--instance-ids", a.node.spec.instanceId)).Reservations[0].Instances[0].RootDeviceName as string;
          const volumes = (await cluster.aws("ec2", "describe-volumes", "--filters", `Name=attachment.instance-id,Values=${a.node.spec.instanceId}`)).Volumes as Array<{ VolumeId: string; Attachments: Array<{ Device: string; DeleteOnTermination: boolean }> }>;
          const data = volumes.filter((v) => v.Attachments[0].Device !== rootDevice && !v.Attachments[0].DeleteOnTermination);
          expect({ node: a.node.spec.name, dataVolumes: data.length }).toEqual({ node: a.node.spec.name, dataVolumes: 1 });
          // etcd's data directory is on that volume: the file system mounted there is on the block
          // device that appeared with the volume's serial (EBS on Nitro: nvme-Amazon_Elastic_Block_Store_vol…).
          const mounted = (await a.node.exec(["findmnt", "-n", "-o", "SOURCE,TARGET", "--target", "/var/lib/etcd/data"])).stdout.trim().split(/\s+/);
          const serialDevice = (await a.node.exec(["readlink", "-f", `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${data[0].VolumeId.replace("-", "")}`])).stdout.trim();
          expect({ node: a.node.spec.name, etcdDataOn: mounted }).toEqual({ node: a.node.spec.name, etcdDataOn: [serialDevice, "/var/lib/etcd"] });
        }
        await cluster.readyzThroughLoadBalancer(api);
        for (const a of api) timings.push(`${a.node.spec.name}: boot to /readyz ${a.readySeconds.toFixed(1)} s`);
        booted = true;
      },
      BOOT_TEST_MS,
    );

    it("forms one healthy etcd cluster of 3 members over the slot addresses, each member on its API-server node", async () => {
      if (!booted) throw new Error("the nodes did not boot (see the first test)");
      const expected = [...slots.values()].map((s) => s.ip).sort();
      expect(expected.length).toBe(API_NODES);
      for (const a of api) {
        const health = await nodeEtcdctl(a.node, "endpoint", "health", "-w", "json");
        const seen = (JSON.parse(health.stdout || "[]") as Array<{ endpoint: string; health: boolean }>).map((h) => [h.endpoint, h.health]).sort();
        expect({ from: a.node.spec.name, seen, stderr: health.stderr }).toEqual({ from: a.node.spec.name, seen: expected.map((ip) => [`https://${ip}:2379`, true]), stderr: health.stderr });
      }
      // Not `--hex`: etcdctl 3.5 writes that form by hand, with the key "clientURLS" and no isLearner.
      const list = await nodeEtcdctl(api[0].node, "member", "list", "-w", "json");
      const members = JSON.parse(list.stdout).members as Array<{ name: string; peerURLs: string[]; clientURLs?: string[]; isLearner?: boolean }>;
      // Three voting members, each named after its slot (the claimed interface's ha-control-plane/slot tag) and
      // advertising that slot's address for peers and clients.
      expect(members.map((m) => [m.name, m.peerURLs, m.clientURLs, m.isLearner ?? false]).sort()).toEqual(
        [...slots.values()].map((s) => [s.name, [`https://${s.ip}:2380`], [`https://${s.ip}:2379`], false]).sort(),
      );
      timings.push(`etcd members: ${members.map((m) => `${m.name} ${m.peerURLs.join(",")}`).join("; ")}`);
      // Each node's etcd process serves its own slot address (the member runs on the API-server node).
      for (const a of api) {
        const listening = (await a.node.exec(["ss", "-Hltn", `sport = :2379`])).stdout;
        expect({ node: a.node.spec.name, listensOnSlot: listening.includes(`${slots.get(a.node.spec.name)!.ip}:2379`) }).toEqual({ node: a.node.spec.name, listensOnSlot: true });
      }
    });
  },
);
