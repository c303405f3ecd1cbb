/**
 * Boot tier: the shapes of the control plane besides the reference example's (3 zones, 3 etcd
 * members) — two zones, and five etcd members — in one cluster: the reference example's settings
 * but `availabilityZones` of two zones, `apiServerCount: 2` (a multiple of the zone count) and
 * `etcdMemberCount: 5`. Five members round-robin over two zones put three in the first: one zone
 * holds the quorum (⌊5/2⌋+1 = 3), which the library refuses unless `allowEtcdZoneQuorumLoss`
 * acknowledges it (asserted here too). Its five etcd nodes boot as etcd-nodes.boot.test.ts boots
 * the reference example's (same harness, user data as moto's launch templates store it, etcd from
 * the HTTPS mirror); the API-server nodes are not booted in this shape (api-server-nodes and
 * stacked-nodes boot them in the reference shape).
 */
import { mkdtempSync } from "node:fs";
import { Server } from "node:https";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack, Testing } from "../../lib/core";
import { HaControlPlane, HaControlPlaneProps } from "../../lib";
import { ApplyEmulator, TerraformApplyWorkspace } from "../harness/terraform-apply";
import { AwsCli, BootEnvironment, emulatorCli, etcdNodeSpec, nodeEtcdctl, startBootEnvironment, startEtcdMirror, stopBootFile } from "./environment";
import { NodeSpec, NspawnNode, VolumeStore, VpcNetwork, allOrAbort, bootTierCheck, waitFor } from "../harness/nspawn-node";
import { motoCheck } from "../harness/real-components";
import { providerPlanCheck } from "../harness/provider-plan";
import { allOf, describeTier } from "../harness/tiers";
import { BootedNodes, explainFailure, settle } from "./node-report";

jest.setTimeout(15 * 60_000);

const ETCD_VERSION = "3.5.21";
const MIRROR_PORT = 8443;
const ZONES = ["eu-west-1a", "eu-west-1b"];
const MEMBERS = 5;
/** How long an etcd node may take for cloud-init, then for systemd to settle (as etcd-nodes.boot.test.ts). */
const ETCD_SETTLE = { cloudInitMs: 8 * 60_000, settleMs: 4 * 60_000 };


/** The reference example's control plane (examples/ha-cluster) in two zones with five etcd members. */
function shapeProps(etcdRelease: HaControlPlaneProps["etcdRelease"], acknowledged: boolean): HaControlPlaneProps {
  return {
    clusterName: "prod-eu1",
    kubernetesVersion: "1.33.5",
    vpcCidr: "10.0.0.0/16",
    availabilityZones: ZONES,
    apiServerCount: 2,
    etcdMemberCount: MEMBERS,
    amiId: "ami-0a422d70f727fe93e",
    allowedApiCidrs: ["10.20.0.0/16"],
    tags: { team: "platform", environment: "production" },
    etcdRelease,
    ...(acknowledged ? { allowEtcdZoneQuorumLoss: true } : {}),
  };
}

class ShapeStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: HaControlPlaneProps) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "eu-west-1" });
    new HaControlPlane(this, "ControlPlane", props);
  }
}

describeTier("boot tier: two zones and five etcd members (Debian 12): the five etcd nodes boot under systemd and cloud-init and form one cluster", allOf(bootTierCheck(), motoCheck(), providerPlanCheck()), { tierLabel: "boot" }, () => {
  const tierStart = Date.now();
  let dir: string;
  let emulator: ApplyEmulator | undefined;
  let workspace: TerraformApplyWorkspace | undefined;
  let mirror: Server | undefined;
  let vpc: VpcNetwork | undefined;
  let volumes: VolumeStore;
  let trustBundle = "";
  let etcdRelease: HaControlPlaneProps["etcdRelease"];
  const fleet = new BootedNodes();
  const timings: string[] = [];

  /** The AWS CLI against the emulator (asynchronous: the IMDS stand-ins run on this event loop). */
  const aws: AwsCli = (...args) => emulatorCli(emulator!)(...args);

  /** What the node of `slot` boots from, read from the emulator. */
  function nodeSpec(slot: string): Promise<NodeSpec> {
    return etcdNodeSpec(aws, emulator!, `prod-eu1-${slot}`, slot, trustBundle, MIRROR_PORT);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "boot-shapes-"));
    volumes = new VolumeStore(path.join(dir, "volumes"));
    ({ server: mirror, trustBundle, etcdRelease } = await startEtcdMirror(dir, ETCD_VERSION, MIRROR_PORT));
    const synthesized = Testing.synth(new ShapeStack(Testing.app(), "ha-shapes", shapeProps(etcdRelease, true)));
    const env: BootEnvironment = {};
    try {
      await startBootEnvironment(env, synthesized, dir, [[(mirror!.address() as AddressInfo).port, MIRROR_PORT]], timings);
    } finally {
      ({ emulator, workspace, vpc } = env);
    }
  });

  afterAll(async () => {
    await stopBootFile(fleet, { emulator, workspace, vpc }, mirror, dir);
    timings.push(`boot tier (two zones, five etcd members) wall time: ${((Date.now() - tierStart) / 1000).toFixed(1)} s`);
    console.log(timings.join("\n"));
  });

  it("refuses the shape unless allowEtcdZoneQuorumLoss acknowledges that one zone holds the etcd quorum (3 of 5 members)", () => {
    expect(() => Testing.synth(new ShapeStack(Testing.app(), "ha-shapes", shapeProps(etcdRelease, false)))).toThrow(/allowEtcdZoneQuorumLoss/);
  });

  let booted: NspawnNode[] = [];
  /** Each slot's interface, as the emulator records it attached: address and zone. */
  const slots = new Map<string, { ip: string; zone: string }>();

  it("boots the five etcd nodes at once: cloud-init done, every unit active, systemctl --failed empty; three slots in the first zone, two in the second", async () => {
    const specs = await Promise.all(Array.from({ length: MEMBERS }, (_, i) => nodeSpec(`etcd-${i}`)));
    booted = await allOrAbort(specs, (s) => fleet.boot(() => NspawnNode.boot(emulator!, vpc!, volumes, dir, s)), { parent: fleet.signal });
    const reports = await allOrAbort(booted, (n, signal) => settle(n, ETCD_SETTLE, signal), { parent: fleet.signal });
    const problems: string[] = [];
    for (const [i, r] of reports.entries()) {
      timings.push(`${r.node}: boot to ready ${r.readySeconds.toFixed(1)} s (${r.systemState})`);
      if (r.failed !== "" || r.systemState !== "running" || !/status: done/.test(r.cloudInit)) problems.push(`${r.cloudInit}; system ${r.systemState}\n${await explainFailure(booted[i], r.failed)}`);
    }
    expect(problems).toEqual([]);
    for (const n of booted) {
      await waitFor(async () => (await n.exec(["systemctl", "is-active", "etcd.service"])).stdout.trim() === "active", 3 * 60_000, `${n.spec.name}: etcd.service active`, fleet.signal).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await n.journal("etcd.service", 30)}`);
      });
      const enis = (await aws("ec2", "describe-network-interfaces", "--filters", `Name=attachment.instance-id,Values=${n.spec.instanceId}`)).NetworkInterfaces as Array<{ PrivateIpAddress: string; AvailabilityZone: string; Attachment: { DeviceIndex: number } }>;
      const slot = enis.filter((e) => e.Attachment.DeviceIndex !== 0);
      expect({ node: n.spec.name, slotInterfaces: slot.length }).toEqual({ node: n.spec.name, slotInterfaces: 1 });
      slots.set(n.spec.name, { ip: slot[0].PrivateIpAddress, zone: slot[0].AvailabilityZone });
    }
    const perZone = ZONES.map((z) => [...slots.values()].filter((s) => s.zone === z).length);
    expect(perZone).toEqual([3, 2]);
    timings.push(`slots: ${[...slots.entries()].map(([n, s]) => `${n} ${s.ip} (${s.zone})`).join("; ")}`);
  });

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
  });
});
