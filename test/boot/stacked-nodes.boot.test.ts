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
import { EtcdTopology } from "../../lib";
import { bootTierCheck, waitFor } from "../harness/nspawn-node";
import { motoCheck } from "../harness/real-components";
import { providerPlanCheck } from "../harness/provider-plan";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { registryCheck } from "../harness/asset-mirror";
import { nodeEtcdctl, terminateInstance } from "./environment";
import { AirGappedCluster, ApiNode, ApiNodeChecks, apiBootBudgetMs, loadBalancerBudgetMs } from "./api-nodes";
import { expectNoJobLeft } from "./node-report";

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
/** The reference example's zones (README: one API server and one etcd member in each). */
const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
/** What a test may take besides its waits (AWS CLI calls, checks, printing). */
const TEST_OVERHEAD_MS = 2 * 60_000;
/**
 * The first test's budget: the three nodes boot at once (a new stacked cluster's members bootstrap
 * together: each etcd waits for a quorum of its peers), so one node's waits in sequence; then the
 * load balancer.
 */
const BOOT_TEST_MS = apiBootBudgetMs(API_NODES, API_NODES, STACKED_CHECKS, TEST_OVERHEAD_MS);
/** Every member healthy again once the replacement's etcd is active (it restarts from its data). */
const REJOIN_MS = 2 * 60_000;
/** The replacement test's budget: one node's waits in sequence, the members' health, then the load balancer for that node. */
const REPLACE_TEST_MS = STACKED_CHECKS.settle.cloudInitMs + STACKED_CHECKS.settle.settleMs + STACKED_CHECKS.readyzMs + REJOIN_MS + loadBalancerBudgetMs(1) + TEST_OVERHEAD_MS;

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
    /** The API-server group (named as its launch template). */
    let group = "";
    /** The first test passed: every node booted and was checked (the second needs all three). */
    let booted = false;
    /** Each node's slot interface (address and ha-control-plane/slot tag), as the emulator records it attached to the node's instance. */
    const slots = new Map<string, { ip: string; name: string }>();

    it(
      "boots the three API-server nodes at once, each with its etcd member: cloud-init done, every unit active, systemctl --failed empty, the launch action completed; /readyz through the load balancer, every node in service",
      async () => {
        // Stacked: no etcd launch templates or groups; the one group is the API servers'.
        const templates = (await cluster.aws("ec2", "describe-launch-templates")).LaunchTemplates.map((t: { LaunchTemplateName: string }) => t.LaunchTemplateName) as string[];
        expect(templates.filter((t) => /etcd/.test(t))).toEqual([]);
        // Spread over the three zones, booted at once, every unit active, /readyz on the slot
        // address and through the load balancer (as api-server-nodes.boot boots its three).
        ({ template: group, nodes: api } = await cluster.bootApiServers(API_NODES, ZONES, API_NODES, STACKED_CHECKS, "stacked"));
        // The user data is the stacked path: the node claims its slot's data volume and runs etcd.
        expect(api[0].node.spec.userData).toMatch(/etcd/);
        for (const a of api) {
          // systemctl --failed is empty (bootApiNode asserts it, ha-complete-lifecycle included).
          // No start job left waiting; etcd started only after its slot, its certificates and its
          // data volume (the boot-defects ordering, on the stacked path).
          await expectNoJobLeft(a.node, 90_000, fleet.signal);
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
    it("replaces a terminated stacked node (same slot, new container): the new instance claims the slot interface and the etcd data volume, its member keeps its ID and data (no re-add), and the API is ready through the load balancer again", async () => {
      if (!booted) throw new Error("the nodes did not boot (see the first test)");
      const index = api.length - 1;
      const old = api[index];
      const name = old.node.spec.name;
      const slot = slots.get(name)!;
      // etcdctl's --hex form: member IDs as strings (JSON numbers would lose uint64 digits).
      const before = JSON.parse((await nodeEtcdctl(api[0].node, "member", "list", "-w", "json", "--hex")).stdout).members as Array<{ ID: string; name: string }>;
      const idBefore = before.find((m) => m.name === slot.name)?.ID;
      expect(idBefore).toMatch(/^[0-9a-f]+$/);
      // A key written through the cluster while the node is up: its member must hold it afterwards, read locally.
      const key = "/boot-tier/stacked-replacement";
      const put = await nodeEtcdctl(api[0].node, "put", key, `before ${old.node.spec.instanceId}`);
      expect({ put: put.stdout.trim(), stderr: put.stderr }).toEqual({ put: "OK", stderr: put.stderr });
      const enisBefore = (await cluster.aws("ec2", "describe-network-interfaces", "--filters", `Name=attachment.instance-id,Values=${old.node.spec.instanceId}`)).NetworkInterfaces as Array<{ NetworkInterfaceId: string; SubnetId: string; Attachment: { DeviceIndex: number } }>;
      const slotEni = enisBefore.find((e) => e.Attachment.DeviceIndex !== 0)!;
      const primary = enisBefore.find((e) => e.Attachment.DeviceIndex === 0)!;
      /** The instance's data volumes: not its root volume, not deleted with it. */
      const dataVolumes = async (instanceId: string): Promise<string[]> => {
        const rootDevice = (await cluster.aws("ec2", "describe-instances", "--instance-ids", instanceId)).Reservations[0].Instances[0].RootDeviceName as string;
        const volumes = (await cluster.aws("ec2", "describe-volumes", "--filters", `Name=attachment.instance-id,Values=${instanceId}`)).Volumes as Array<{ VolumeId: string; Attachments: Array<{ Device: string; DeleteOnTermination: boolean }> }>;
        return volumes.filter((v) => v.Attachments[0].Device !== rootDevice && !v.Attachments[0].DeleteOnTermination).map((v) => v.VolumeId);
      };
      const dataVolume = await dataVolumes(old.node.spec.instanceId);
      expect(dataVolume.length).toBe(1);
      // What the group does when EC2 terminates the instance: the target is deregistered (draining,
      // while the replacement boots), the instance leaves the group and a new one joins in its zone.
      const lb = cluster.lb!;
      const draining = lb.deregister(name);
      await cluster.aws("autoscaling", "detach-instances", "--auto-scaling-group-name", group, "--instance-ids", old.node.spec.instanceId, "--should-decrement-desired-capacity");
      timings.push(await terminateInstance(cluster.aws.bind(cluster), old.node));
      const instanceId = await cluster.launchInGroup(group, primary.SubnetId);
      const started = Date.now();
      const replacement = await cluster.bootApiNode({ ...old.node.spec, name: `${name}-replacement`, instanceId }, fleet.signal, STACKED_CHECKS);
      api[index] = replacement;
      timings.push(`${name}-replacement: boot to /readyz ${replacement.readySeconds.toFixed(1)} s (${((Date.now() - started) / 1000).toFixed(1)} s after the launch)`);
      // The same slot: its interface (same address) and its data volume, now on the new instance,
      // and etcd's data directory on that volume's device.
      expect(replacement.slotIp).toBe(slot.ip);
      const eniNow = (await cluster.aws("ec2", "describe-network-interfaces", "--network-interface-ids", slotEni.NetworkInterfaceId)).NetworkInterfaces[0];
      expect(eniNow.Attachment?.InstanceId).toBe(instanceId);
      expect(await dataVolumes(instanceId)).toEqual(dataVolume);
      const mounted = (await replacement.node.exec(["findmnt", "-n", "-o", "SOURCE", "--target", "/var/lib/etcd/data"])).stdout.trim();
      const serialDevice = (await replacement.node.exec(["readlink", "-f", `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${dataVolume[0].replace("-", "")}`])).stdout.trim();
      expect({ mounted }).toEqual({ mounted: serialDevice });
      // Every member healthy, the same three names and IDs: the replacement started its member
      // from the data on the volume instead of being added anew, and holds the key written before.
      let health = "";
      await waitFor(async () => {
        const r = await nodeEtcdctl(replacement.node, "endpoint", "health");
        health = `${r.stdout}${r.stderr}`.trim();
        return r.code === 0;
      }, REJOIN_MS, `every member healthy after the replacement (${health})`, fleet.signal);
      const after = JSON.parse((await nodeEtcdctl(replacement.node, "member", "list", "-w", "json", "--hex")).stdout).members as Array<{ ID: string; name: string }>;
      expect(after.map((m) => [m.name, m.ID]).sort()).toEqual(before.map((m) => [m.name, m.ID]).sort());
      const pki = "/etc/kubernetes/pki/etcd";
      const local = await replacement.node.exec(["/usr/local/bin/etcdctl", `--endpoints=https://${slot.ip}:2379`, `--cacert=${pki}/ca.crt`, `--cert=${pki}/server.crt`, `--key=${pki}/server.key`, "get", key, "--consistency=s", "--print-value-only"]);
      expect({ value: local.stdout.trim(), stderr: local.stderr }).toEqual({ value: `before ${old.node.spec.instanceId}`, stderr: local.stderr });
      timings.push(`${name}-replacement: member ${slot.name} ${idBefore} back with its ID and data; slot ${slot.ip} and volume ${dataVolume[0]} re-claimed`);
      // The new instance registered in the target group: in service within the health check's
      // bound, then /readyz through the load balancer, answered by the replacement among others.
      await draining;
      await lb.registerNewTarget(name);
      const inService = await lb.waitHealthy(name, cluster.lbInServiceMs());
      const { answers, sessions } = await cluster.readyzViaLoadBalancer(2 * API_NODES);
      expect(answers).toEqual(Array(2 * API_NODES).fill("ok"));
      expect({ servedByReplacement: (sessions[name] ?? 0) > 0 }).toEqual({ servedByReplacement: true });
      timings.push(`${name}-replacement in service at the load balancer ${(inService / 1000).toFixed(1)} s after registration; /readyz via the load balancer ${answers.length} of ${answers.length} ok, sessions ${JSON.stringify(sessions)}`);
    }, REPLACE_TEST_MS);
  },
);
