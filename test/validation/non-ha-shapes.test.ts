/**
 * Shapes that are not highly available need an explicit acknowledgement, like a single API server
 * (`allowSingleApiServer`) or a single etcd member (`allowNonHaEtcd`): a single availability zone
 * (`allowSingleZone`), and etcd placed so that one zone holds a quorum's worth of members
 * (`allowEtcdZoneQuorumLoss`). Without it: a ConfigError naming the risk. With it: a warning.
 *
 * Quorum arithmetic is written out from etcd's documentation ("FAQ: What is failure tolerance?"):
 * quorum = floor(n/2) + 1, i.e. cluster size 3 → majority 2, 5 → 3, 7 → 4. A zone placement loses
 * quorum with the zone when the members outside that zone are fewer than the majority.
 */
import { Construct } from "constructs";
import { BlueprintPreset, PlatformBlueprint } from "../../lib/blueprint";
import { HaControlPlane, HaControlPlaneProps } from "../../lib/control-plane";
import { EtcdCluster } from "../../lib/etcd/etcd-cluster";
import { EtcdTopology } from "../../lib/etcd/etcd-cluster";
import { ExistingNetwork } from "../../lib/network/network";
import { synth } from "../helpers/synth";
import { ANY_VALUE, IDS, LITERAL_KEY, REFERENCE_PROPS, expectConfigError, privateSubnet, scope } from "./config-error";

/** etcd's documented majority per cluster size (etcd FAQ, failure tolerance table). */
const MAJORITY: Readonly<Record<number, number>> = { 3: 2, 5: 3, 7: 4 };

function zones(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `eu-west-1${"abcdef"[i]}`);
}

function build(overrides: Partial<HaControlPlaneProps>): HaControlPlane {
  return new HaControlPlane(scope(), "ControlPlane", { ...REFERENCE_PROPS, ...overrides });
}

function warningsOf(c: Construct): string[] {
  return c.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
}

/** Synthesizes a control plane (proves the accepted shape goes all the way) and returns it. */
function synthesized(overrides: Partial<HaControlPlaneProps>): HaControlPlane {
  let cp!: HaControlPlane;
  synth((s) => {
    cp = new HaControlPlane(s, "ControlPlane", { ...REFERENCE_PROPS, ...overrides });
  });
  return cp;
}

describe("a single availability zone needs allowSingleZone", () => {
  it("refuses one listed zone, naming the risk and the acknowledgement", () => {
    const err = expectConfigError(() => build({ availabilityZones: ["eu-west-1a"] }), { prop: "availabilityZones", value: ["eu-west-1a"], fix: /allowSingleZone: true/ });
    expect(err.message).toMatch(/eu-west-1a: that zone's outage stops the Kubernetes API/);
  });

  it("refuses a single zone even with one API server and one etcd member acknowledged", () => {
    expectConfigError(() => build({ availabilityZones: ["eu-west-1a"], apiServerCount: 1, allowSingleApiServer: true, etcdMemberCount: 1, allowNonHaEtcd: true }), {
      prop: "availabilityZones",
      value: ["eu-west-1a"],
      fix: /allowSingleZone/,
    });
  });

  it("refuses an existing network with one private subnet", () => {
    const network = ExistingNetwork.fromAttributes({ vpcId: IDS.vpc, vpcCidr: "172.20.0.0/16", privateSubnets: [privateSubnet(0)] });
    expectConfigError(() => build({ network, vpcCidr: undefined, availabilityZones: undefined }), { prop: "network.privateSubnets", value: ANY_VALUE, fix: /allowSingleZone/ });
  });

  it("accepts a single zone with allowSingleZone, and warns", () => {
    const cp = synthesized({ availabilityZones: ["eu-west-1a"], allowSingleZone: true });
    expect(warningsOf(cp).join("\n")).toMatch(/one availability zone/);
    expect(cp.etcd.members).toHaveLength(3);
  });

  it("does not warn about a single zone over 3 zones", () => {
    const cp = synthesized({});
    expect(warningsOf(cp).join("\n")).not.toMatch(/one availability zone/);
    expect(warningsOf(cp.etcd)).toEqual([]);
  });
});

describe("etcd with a quorum in one zone needs allowEtcdZoneQuorumLoss", () => {
  // [members, zones, members in the fullest zone] — round-robin placement puts ceil(n/z) in zone a.
  const refused: [number, number, number][] = [
    [3, 2, 2],
    [5, 2, 3],
    [7, 2, 4],
  ];
  it.each(refused)("refuses %i members over %i zones (%i in eu-west-1a)", (members, zoneCount, inA) => {
    const majority = MAJORITY[members];
    expect(members - inA).toBeLessThan(majority); // the row is a quorum-losing shape by etcd's table
    const err = expectConfigError(() => build({ etcdMemberCount: members, availabilityZones: zones(zoneCount), apiServerCount: zoneCount }), {
      prop: "etcdMemberCount",
      value: members,
      fix: /allowEtcdZoneQuorumLoss: true/,
    });
    expect(err.message).toContain(`places ${inA} of ${members} etcd members in eu-west-1a`);
    expect(err.message).toContain(`a quorum of ${members} is ${majority}`);
  });

  // Shapes that survive any one zone: the members outside the fullest zone still form a majority.
  const accepted: [number, number, number][] = [
    [3, 3, 1],
    [5, 3, 2],
    [7, 3, 3],
    [5, 4, 2],
    [7, 4, 2],
  ];
  it.each(accepted)("accepts %i members over %i zones (%i in the fullest zone) without acknowledgement or warning", (members, zoneCount, most) => {
    expect(members - most).toBeGreaterThanOrEqual(MAJORITY[members]);
    const apiServerCount = zoneCount;
    const cp = synthesized({ etcdMemberCount: members, availabilityZones: zones(zoneCount), apiServerCount });
    expect(warningsOf(cp.etcd)).toEqual([]);
  });

  it("accepts 3 members over 2 zones with allowEtcdZoneQuorumLoss, and warns", () => {
    const cp = synthesized({ etcdMemberCount: 3, availabilityZones: zones(2), apiServerCount: 2, allowEtcdZoneQuorumLoss: true });
    expect(warningsOf(cp.etcd).join("\n")).toMatch(/eu-west-1a: 2, eu-west-1b: 1\): losing one zone loses quorum/);
  });

  it("lets allowSingleZone cover etcd's quorum in that zone (and still warns about it)", () => {
    const cp = synthesized({ availabilityZones: ["eu-west-1a"], allowSingleZone: true });
    expect(warningsOf(cp.etcd).join("\n")).toMatch(/eu-west-1a: 3\): losing one zone loses quorum/);
  });

  it("does not need the acknowledgement for a single member (allowNonHaEtcd covers it)", () => {
    expect(() => synthesized({ etcdMemberCount: 1, allowNonHaEtcd: true, availabilityZones: zones(2), apiServerCount: 2 })).not.toThrow();
  });

  it("refuses a standalone EtcdCluster of 3 members over 2 zones", () => {
    const network = ExistingNetwork.fromAttributes({ vpcId: IDS.vpc, vpcCidr: "172.20.0.0/16", privateSubnets: [privateSubnet(0), privateSubnet(1)] });
    const props = { clusterName: "c", network, securityGroupIds: [IDS.sg], encryptionKey: LITERAL_KEY, amiId: IDS.ami };
    expectConfigError(() => new EtcdCluster(scope(), "Etcd", props), { prop: "etcdMemberCount", value: 3, fix: /allowEtcdZoneQuorumLoss/ });
    expect(() => new EtcdCluster(scope(), "Etcd", { ...props, allowEtcdZoneQuorumLoss: true })).not.toThrow();
  });

  it("refuses stacked etcd over one zone without the acknowledgement (prop of the stacked count)", () => {
    expectConfigError(() => build({ etcdTopology: EtcdTopology.STACKED, apiServerCount: 3, etcdMemberCount: undefined, availabilityZones: ["eu-west-1a"] }), {
      prop: "availabilityZones",
      value: ["eu-west-1a"],
    });
  });
});

describe("blueprint presets that refuse non-HA shapes refuse the new acknowledgements", () => {
  const blueprint = new PlatformBlueprint({ name: "acme", defaults: { region: "eu-west-1", amiIds: { "eu-west-1": IDS.ami } } });
  it.each(["allowSingleZone", "allowEtcdZoneQuorumLoss"] as const)("production refuses %s", (key) => {
    expectConfigError(() => blueprint.resolve({ clusterName: "prod", preset: BlueprintPreset.PRODUCTION, overrides: { availabilityZones: zones(3), [key]: true } }), {
      prop: `overrides.${key}`,
      value: true,
      fix: new RegExp(`drop ${key}`),
    });
  });
});
