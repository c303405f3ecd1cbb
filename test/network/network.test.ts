import { ControlPlaneNetwork, NatGatewayMode } from "../../lib";
import { dataSources, follow, resources, synth } from "../helpers/synth";

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

describe("ControlPlaneNetwork", () => {
  it("creates a private and a public subnet in each zone with distinct, non-overlapping blocks", () => {
    const json = synth((s) => new ControlPlaneNetwork(s, "Net", { clusterName: "c1", availabilityZones: ZONES }));
    const subnets = resources(json, "aws_subnet");
    expect(subnets).toHaveLength(6);
    const priv = subnets.filter((s) => s.props.tags["kubernetes.io/role/internal-elb"] === "1");
    const pub = subnets.filter((s) => s.props.tags["kubernetes.io/role/elb"] === "1");
    expect(priv.map((s) => s.props.availability_zone)).toEqual(ZONES);
    expect(pub.map((s) => s.props.availability_zone)).toEqual(ZONES);
    expect(priv.map((s) => s.props.cidr_block)).toEqual(["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]);
    expect(pub.map((s) => s.props.cidr_block)).toEqual(["10.0.128.0/20", "10.0.144.0/20", "10.0.160.0/20"]);
    expect(subnets.every((s) => s.props.map_public_ip_on_launch === false)).toBe(true);
  });

  it("routes each private subnet through the NAT gateway of its own zone by default", () => {
    const json = synth((s) => new ControlPlaneNetwork(s, "Net", { clusterName: "c1", availabilityZones: ZONES }));
    const nats = resources(json, "aws_nat_gateway");
    expect(nats).toHaveLength(3);
    const privateRoutes = resources(json, "aws_route").filter((r) => r.props.nat_gateway_id);
    expect(privateRoutes).toHaveLength(3);
    privateRoutes.forEach((route) => {
      const table = follow(json, route.props.route_table_id);
      const assoc = resources(json, "aws_route_table_association").find((a) => a.props.route_table_id === route.props.route_table_id)!;
      const subnet = follow(json, assoc.props.subnet_id);
      const nat = follow(json, route.props.nat_gateway_id);
      const natSubnet = follow(json, nat.props.subnet_id);
      expect(natSubnet.props.availability_zone).toBe(subnet.props.availability_zone);
      expect(table.props.vpc_id).toBeDefined();
    });
  });

  it("uses one NAT gateway for every zone with NatGatewayMode.SINGLE", () => {
    const json = synth((s) => new ControlPlaneNetwork(s, "Net", { clusterName: "c1", availabilityZones: ZONES, natGateways: NatGatewayMode.SINGLE }));
    expect(resources(json, "aws_nat_gateway")).toHaveLength(1);
    expect(resources(json, "aws_eip")).toHaveLength(1);
    const targets = new Set(resources(json, "aws_route").filter((r) => r.props.nat_gateway_id).map((r) => r.props.nat_gateway_id));
    expect(targets.size).toBe(1);
  });

  it("looks zones up when none are given, taking availabilityZoneCount of them", () => {
    const json = synth((s) => new ControlPlaneNetwork(s, "Net", { clusterName: "c1", availabilityZoneCount: 2 }));
    expect(dataSources(json, "aws_availability_zones")).toHaveLength(1);
    const subnets = resources(json, "aws_subnet");
    expect(subnets).toHaveLength(4);
    expect(subnets.every((s) => /element\(data\.aws_availability_zones/.test(String(s.props.availability_zone)))).toBe(true);
  });

  it("tags the VPC and subnets for the Kubernetes cloud provider", () => {
    const json = synth((s) => new ControlPlaneNetwork(s, "Net", { clusterName: "c1", availabilityZones: ZONES, tags: { team: "platform" } }));
    const vpc = resources(json, "aws_vpc")[0];
    expect(vpc.props.tags).toMatchObject({ "kubernetes.io/cluster/c1": "owned", team: "platform", Name: "c1-vpc" });
    expect(vpc.props.enable_dns_hostnames).toBe(true);
  });
});
