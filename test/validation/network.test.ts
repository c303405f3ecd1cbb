/**
 * ControlPlaneNetwork, ExistingNetwork.fromAttributes and checkZoneList refuse bad input with a
 * ConfigError, and accept their boundary values.
 */
import { Lazy } from "../../lib/core";
import { ControlPlaneNetwork, ControlPlaneNetworkProps, ExistingNetwork, ExistingNetworkAttributes, NatGatewayMode, SubnetAttributes, checkZoneList } from "../../lib/network/network";
import { dataSources, resources, synth } from "../helpers/synth";
import { ANY_VALUE, BadInput, IDS, expectConfigError, manyTags, privateSubnet, publicSubnet, scope } from "./config-error";

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const NETWORK: ControlPlaneNetworkProps = { clusterName: "prod", availabilityZones: ZONES };

describe("ControlPlaneNetwork refuses bad input with a ConfigError", () => {
  const seven = ["a", "b", "c", "d", "e", "f", "g"].map((z) => `us-east-1${z}`);
  const rows: BadInput<Partial<ControlPlaneNetworkProps>>[] = [
    { title: "refuses an invalid cluster name", props: { clusterName: "Prod_1" }, prop: "clusterName", value: "Prod_1", fix: /"prod-1"/ },
    { title: "refuses 45 user tags", props: { tags: manyTags(45) }, prop: "tags", value: "45 tags" },
    { title: "refuses an aws: tag key", props: { tags: { "aws:x": "y" } }, prop: 'tags["aws:x"]', value: "aws:x" },
    { title: "refuses a VPC CIDR larger than /16", props: { vpcCidr: "10.0.0.0/8" }, prop: "vpcCidr", value: "10.0.0.0/8", fix: /\/16 to \/22/ },
    { title: "refuses a VPC CIDR smaller than /22", props: { vpcCidr: "10.0.0.0/24" }, prop: "vpcCidr", value: "10.0.0.0/24" },
    { title: "refuses a VPC CIDR with host bits set and suggests its network", props: { vpcCidr: "10.0.0.1/16" }, prop: "vpcCidr", value: "10.0.0.1/16", fix: /did you mean "10\.0\.0\.0\/16"/ },
    { title: "refuses an IPv6 VPC CIDR", props: { vpcCidr: "2001:db8::/56" }, prop: "vpcCidr", value: "2001:db8::/56" },
    { title: "refuses availabilityZones together with availabilityZoneCount", props: { availabilityZoneCount: 3 }, prop: "availabilityZoneCount", value: 3, fix: /one of the two/ },
    { title: "refuses zero looked-up zones", props: { availabilityZones: undefined, availabilityZoneCount: 0 }, prop: "availabilityZoneCount", value: 0, fix: /use 3/ },
    { title: "refuses 7 looked-up zones", props: { availabilityZones: undefined, availabilityZoneCount: 7 }, prop: "availabilityZoneCount", value: 7 },
    { title: "refuses a fractional zone count", props: { availabilityZones: undefined, availabilityZoneCount: 2.5 }, prop: "availabilityZoneCount", value: 2.5 },
    { title: "refuses a zone listed twice", props: { availabilityZones: ["eu-west-1a", "eu-west-1a"] }, prop: "availabilityZones", value: ["eu-west-1a", "eu-west-1a"], fix: /each zone once/ },
    { title: "refuses a malformed zone name", props: { availabilityZones: ["eu-west-1a", "eu-west-1-b"] }, prop: "availabilityZones[1]", value: "eu-west-1-b" },
    { title: "refuses more than 6 zones", props: { availabilityZones: seven }, prop: "availabilityZones", value: seven },
    { title: "refuses an empty zone list", props: { availabilityZones: [] }, prop: "availabilityZones", value: [] },
    { title: "refuses an unknown NAT gateway mode", props: { natGateways: "PER_VPC" as NatGatewayMode }, prop: "natGateways", value: "PER_VPC" },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => new ControlPlaneNetwork(scope(), "Network", { ...NETWORK, ...row.props }), row);
  });
});

describe("ControlPlaneNetwork accepts boundary values", () => {
  const rows: Array<{ title: string; props: Partial<ControlPlaneNetworkProps>; subnets: number; lookups: number }> = [
    { title: "accepts a /16 VPC over 3 zones", props: { vpcCidr: "10.0.0.0/16" }, subnets: 6, lookups: 0 },
    { title: "accepts a /22 VPC", props: { vpcCidr: "10.0.0.0/22" }, subnets: 6, lookups: 0 },
    { title: "accepts 6 zones", props: { availabilityZones: ["a", "b", "c", "d", "e", "f"].map((z) => `us-east-1${z}`) }, subnets: 12, lookups: 0 },
    { title: "accepts 1 looked-up zone", props: { availabilityZones: undefined, availabilityZoneCount: 1 }, subnets: 2, lookups: 1 },
    { title: "accepts 6 looked-up zones", props: { availabilityZones: undefined, availabilityZoneCount: 6 }, subnets: 12, lookups: 1 },
    { title: "accepts a single NAT gateway", props: { natGateways: NatGatewayMode.SINGLE }, subnets: 6, lookups: 0 },
    { title: "accepts exactly 44 user tags", props: { tags: manyTags(44) }, subnets: 6, lookups: 0 },
  ];
  it.each(rows)("$title", (row) => {
    const json = synth((s) => new ControlPlaneNetwork(s, "Network", { ...NETWORK, ...row.props }));
    expect(resources(json, "aws_subnet")).toHaveLength(row.subnets);
    expect(dataSources(json, "aws_availability_zones")).toHaveLength(row.lookups);
  });
});

describe("checkZoneList", () => {
  it.each([
    ["eu-west-1a"],
    ["us-gov-west-1a"],
    ["ap-southeast-2c"],
    ["us-west-2-lax-1a"],
    ["us-east-1-bos-1a"],
  ])("accepts the zone name %s", (zone) => {
    expect(() => checkZoneList("zones", [zone])).not.toThrow();
  });

  it.each([["eu-west-1"], ["euw1-az1"], ["eu-west-1A"], ["eu_west_1a"], ["a"], [" eu-west-1a"]])("refuses the zone name %j", (zone) => {
    expectConfigError(() => checkZoneList("zones", ["eu-west-1b", zone]), { prop: "zones[1]", value: zone, fix: /eu-west-1a/ });
  });

  it("skips zones that are tokens", () => {
    const token = Lazy.stringValue({ produce: () => "eu-west-1a" });
    expect(() => checkZoneList("zones", [token, token])).not.toThrow();
  });
});

const VPC_CIDR = "172.20.0.0/16";
const valid = (): ExistingNetworkAttributes => ({
  vpcId: IDS.vpc,
  vpcCidr: VPC_CIDR,
  privateSubnets: [privateSubnet(0), privateSubnet(1), privateSubnet(2)],
  publicSubnets: [publicSubnet(0), publicSubnet(1), publicSubnet(2)],
});
const withPrivate = (i: number, o: Partial<SubnetAttributes>): Partial<ExistingNetworkAttributes> => ({
  privateSubnets: valid().privateSubnets.map((s, j) => (j === i ? { ...s, ...o } : s)),
});
const withPublic = (i: number, o: Partial<SubnetAttributes>): Partial<ExistingNetworkAttributes> => ({
  publicSubnets: (valid().publicSubnets ?? []).map((s, j) => (j === i ? { ...s, ...o } : s)),
});

describe("ExistingNetwork.fromAttributes refuses bad input with a ConfigError", () => {
  const tokenCidr = Lazy.stringValue({ produce: () => "172.20.0.0/20" });
  const rows: BadInput<Partial<ExistingNetworkAttributes>>[] = [
    { title: "refuses a VPC id with too few hex digits", props: { vpcId: "vpc-123" }, prop: "network.vpcId", value: "vpc-123", fix: /vpc-/ },
    { title: "refuses an upper-case VPC id", props: { vpcId: "vpc-0123456789ABCDEF0" }, prop: "network.vpcId", value: "vpc-0123456789ABCDEF0" },
    { title: "refuses a VPC name instead of an id", props: { vpcId: "prod-vpc" }, prop: "network.vpcId", value: "prod-vpc" },
    { title: "refuses an empty VPC id", props: { vpcId: "" }, prop: "network.vpcId", value: "", shows: '""' },
    { title: "refuses a VPC CIDR with host bits set and suggests its network", props: { vpcCidr: "172.20.1.0/16" }, prop: "network.vpcCidr", value: "172.20.1.0/16", fix: /did you mean "172\.20\.0\.0\/16"/ },
    { title: "refuses a VPC CIDR that is a token (it must be a literal)", props: { vpcCidr: tokenCidr }, prop: "network.vpcCidr", value: tokenCidr },
    { title: "refuses an empty private subnet list", props: { privateSubnets: [] }, prop: "network.privateSubnets", value: [], fix: /one private subnet per availability zone/ },
    { title: "refuses a missing private subnet list", props: { privateSubnets: undefined }, prop: "network.privateSubnets", value: undefined },
    {
      title: "refuses 7 private subnets",
      props: { privateSubnets: Array.from({ length: 7 }, (_, i) => privateSubnet(i % 6, { availabilityZone: `eu-west-1${"abcdefg"[i]}`, cidrBlock: `172.20.${i * 16}.0/20` })) },
      prop: "network.privateSubnets",
      value: "7 subnets",
    },
    { title: "refuses a subnet id with too few hex digits", props: withPrivate(1, { subnetId: "subnet-123" }), prop: "network.privateSubnets[1].subnetId", value: "subnet-123", fix: /subnet-0123456789abcdef0/ },
    { title: "refuses a subnet name instead of an id", props: withPrivate(0, { subnetId: "private-a" }), prop: "network.privateSubnets[0].subnetId", value: "private-a" },
    { title: "refuses a missing subnet id", props: withPrivate(0, { subnetId: undefined as unknown as string }), prop: "network.privateSubnets[0].subnetId", value: undefined },
    { title: "refuses a null subnet entry", props: { privateSubnets: [null as unknown as SubnetAttributes] }, prop: "network.privateSubnets[0].subnetId", value: undefined },
    { title: "refuses a subnet CIDR outside the VPC", props: withPrivate(2, { cidrBlock: "10.0.32.0/20" }), prop: "network.privateSubnets[2].cidrBlock", value: "10.0.32.0/20", fix: /same VPC/ },
    { title: "refuses a subnet CIDR larger than the VPC", props: withPrivate(0, { cidrBlock: "172.20.0.0/15" }), prop: "network.privateSubnets[0].cidrBlock", value: "172.20.0.0/15" },
    { title: "refuses a subnet CIDR starting before the VPC", props: withPrivate(0, { cidrBlock: "172.16.0.0/13" }), prop: "network.privateSubnets[0].cidrBlock", value: "172.16.0.0/13" },
    { title: "refuses a subnet smaller than /26", props: withPrivate(0, { cidrBlock: "172.20.0.0/27" }), prop: "network.privateSubnets[0].cidrBlock", value: "172.20.0.0/27", fix: /\/26 or larger/ },
    { title: "refuses a /28 subnet", props: withPrivate(1, { cidrBlock: "172.20.16.0/28" }), prop: "network.privateSubnets[1].cidrBlock", value: "172.20.16.0/28" },
    { title: "refuses a subnet CIDR with host bits set and suggests its network", props: withPrivate(0, { cidrBlock: "172.20.0.5/20" }), prop: "network.privateSubnets[0].cidrBlock", value: "172.20.0.5/20", fix: /did you mean "172\.20\.0\.0\/20"/ },
    { title: "refuses a subnet CIDR that is a token (fixed IPs need a literal)", props: withPrivate(0, { cidrBlock: tokenCidr }), prop: "network.privateSubnets[0].cidrBlock", value: tokenCidr },
    { title: "refuses a missing subnet CIDR", props: withPrivate(0, { cidrBlock: undefined as unknown as string }), prop: "network.privateSubnets[0].cidrBlock", value: undefined },
    {
      title: "refuses two private subnets in one zone",
      props: withPrivate(2, { availabilityZone: "eu-west-1a" }),
      prop: "network.privateSubnets",
      value: ANY_VALUE,
      shows: "two subnets are in eu-west-1a",
      fix: /one subnet per availability zone/,
    },
    { title: "refuses an empty availability zone", props: withPrivate(1, { availabilityZone: "" }), prop: "network.privateSubnets[1].availabilityZone", value: "", shows: '""' },
    { title: "refuses a public subnet outside the VPC", props: withPublic(0, { cidrBlock: "10.1.0.0/24" }), prop: "network.publicSubnets[0].cidrBlock", value: "10.1.0.0/24" },
    { title: "refuses a public subnet smaller than /26", props: withPublic(2, { cidrBlock: "172.20.130.0/27" }), prop: "network.publicSubnets[2].cidrBlock", value: "172.20.130.0/27" },
    { title: "refuses a malformed public subnet id", props: withPublic(1, { subnetId: "subnet-xyz" }), prop: "network.publicSubnets[1].subnetId", value: "subnet-xyz" },
    { title: "refuses two public subnets in one zone", props: withPublic(1, { availabilityZone: "eu-west-1a" }), prop: "network.publicSubnets", value: ANY_VALUE, shows: "eu-west-1a" },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => ExistingNetwork.fromAttributes({ ...valid(), ...row.props }), row);
  });

  it("lists every subnet and its zone when two share a zone", () => {
    const err = expectConfigError(() => ExistingNetwork.fromAttributes({ ...valid(), ...withPrivate(2, { availabilityZone: "eu-west-1a" }) }), {
      prop: "network.privateSubnets",
      value: ["subnet-0aaaaaaaaaaaaaaa0@eu-west-1a", "subnet-0aaaaaaaaaaaaaaa1@eu-west-1b", "subnet-0aaaaaaaaaaaaaaa2@eu-west-1a"],
    });
    expect(err.message).toContain("subnet-0aaaaaaaaaaaaaaa2@eu-west-1a");
  });
});

describe("ExistingNetwork.fromAttributes accepts boundary values", () => {
  const token = (v: string) => Lazy.stringValue({ produce: () => v });
  const rows: Array<{ title: string; attrs: Partial<ExistingNetworkAttributes> }> = [
    { title: "accepts /26 subnets", attrs: withPrivate(0, { cidrBlock: "172.20.0.0/26" }) },
    { title: "accepts a subnet at the very end of the VPC", attrs: withPrivate(2, { cidrBlock: "172.20.255.192/26" }) },
    { title: "accepts a subnet as large as the VPC", attrs: { privateSubnets: [privateSubnet(0, { cidrBlock: VPC_CIDR })], publicSubnets: [] } },
    { title: "accepts a single private subnet and no public ones", attrs: { privateSubnets: [privateSubnet(0)], publicSubnets: undefined } },
    { title: "accepts 6 private subnets", attrs: { privateSubnets: Array.from({ length: 6 }, (_, i) => privateSubnet(i)) } },
    { title: "accepts a 17-digit VPC id and 8-digit subnet id", attrs: { vpcId: "vpc-0123456789abcdef0", ...withPrivate(0, { subnetId: "subnet-01234567" }) } },
    { title: "accepts ids and zones that are tokens", attrs: { vpcId: token("vpc-1"), ...withPrivate(0, { subnetId: token("subnet-1"), availabilityZone: token("eu-west-1a") }) } },
    { title: "accepts the same zone twice when one of them is a token", attrs: withPrivate(1, { availabilityZone: token("eu-west-1a") }) },
  ];
  it.each(rows)("$title", (row) => {
    const attrs = { ...valid(), ...row.attrs };
    const network = ExistingNetwork.fromAttributes(attrs);
    expect(network.privateSubnets).toEqual(attrs.privateSubnets);
    expect(network.vpcCidr).toBe(VPC_CIDR);
  });
});
