import { ControlPlaneSecurityGroups, ExistingNetwork } from "../../lib";
import { FoundResource, SynthJson, follow, resources, synth } from "../helpers/synth";

const network = ExistingNetwork.fromAttributes({
  vpcId: "vpc-0123456789abcdef0",
  vpcCidr: "10.0.0.0/16",
  privateSubnets: [{ subnetId: "subnet-0123456789abcdef0", availabilityZone: "eu-west-1a", cidrBlock: "10.0.0.0/20" }],
});

function build(allowedApiCidrs: string[] = []): SynthJson {
  return synth((s) => new ControlPlaneSecurityGroups(s, "Sg", { clusterName: "c1", network, allowedApiCidrs }));
}

/** Maps a security group reference to its role tag (api-lb, apiserver, etcd, nodes). */
function roleOf(json: SynthJson, ref: unknown): string {
  return follow(json, ref).props.tags["ha-control-plane/role"];
}

/** Rules as `direction group proto from-to peer`. */
function ruleTable(json: SynthJson): string[] {
  const fmt = (dir: string, r: FoundResource): string => {
    const peer = r.props.referenced_security_group_id ? `sg:${roleOf(json, r.props.referenced_security_group_id)}` : r.props.cidr_ipv4;
    const ports = r.props.from_port === undefined ? "all" : `${r.props.from_port}-${r.props.to_port}`;
    return `${dir} ${roleOf(json, r.props.security_group_id)} ${r.props.ip_protocol} ${ports} ${peer}`;
  };
  return [
    ...resources(json, "aws_vpc_security_group_ingress_rule").map((r) => fmt("in", r)),
    ...resources(json, "aws_vpc_security_group_egress_rule").map((r) => fmt("out", r)),
  ].sort();
}

describe("ControlPlaneSecurityGroups", () => {
  it("declares exactly the least-privilege rule set", () => {
    expect(ruleTable(build(["192.0.2.0/24"]))).toEqual(
      [
        "in api-lb tcp 6443-6443 192.0.2.0/24",
        "in api-lb tcp 6443-6443 sg:apiserver",
        "in api-lb tcp 6443-6443 sg:nodes",
        "out api-lb tcp 6443-6443 sg:apiserver",
        "in apiserver tcp 6443-6443 sg:api-lb",
        "in apiserver tcp 6443-6443 sg:apiserver",
        "in apiserver tcp 6443-6443 sg:nodes",
        "in apiserver icmp 3-4 10.0.0.0/16",
        "out apiserver -1 all 10.0.0.0/16",
        "out apiserver tcp 443-443 0.0.0.0/0",
        "out apiserver tcp 80-80 0.0.0.0/0",
        "in etcd tcp 2379-2379 sg:apiserver",
        "in etcd tcp 2379-2379 sg:etcd",
        "in etcd tcp 2380-2380 sg:etcd",
        "in etcd icmp 3-4 10.0.0.0/16",
        "out etcd -1 all 10.0.0.0/16",
        "out etcd tcp 443-443 0.0.0.0/0",
        "out etcd tcp 80-80 0.0.0.0/0",
        "in nodes tcp 10250-10250 sg:apiserver",
        "in nodes tcp 443-443 sg:apiserver",
        "in nodes tcp 1024-65535 sg:apiserver",
        "in nodes icmp 3-4 10.0.0.0/16",
        "out nodes tcp 6443-6443 sg:api-lb",
        "out nodes tcp 6443-6443 sg:apiserver",
      ].sort(),
    );
  });

  it("opens no port to the world unless the user lists 0.0.0.0/0", () => {
    const ingress = resources(build(), "aws_vpc_security_group_ingress_rule");
    expect(ingress.filter((r) => r.props.cidr_ipv4 === "0.0.0.0/0")).toEqual([]);
  });

  it("allows no SSH anywhere", () => {
    const ingress = resources(build(["0.0.0.0/0"]), "aws_vpc_security_group_ingress_rule");
    expect(ingress.filter((r) => r.props.ip_protocol === "-1" || (r.props.from_port <= 22 && r.props.to_port >= 22 && r.props.ip_protocol === "tcp"))).toEqual([]);
  });

  it("lets only etcd members reach the peer port and only API servers and members the client port", () => {
    const json = build(["0.0.0.0/0"]);
    const etcdRules = resources(json, "aws_vpc_security_group_ingress_rule").filter((r) => roleOf(json, r.props.security_group_id) === "etcd");
    for (const r of etcdRules.filter((x) => x.props.ip_protocol === "tcp")) {
      const peer = roleOf(json, r.props.referenced_security_group_id);
      if (r.props.from_port === 2380) expect(peer).toBe("etcd");
      else expect(["apiserver", "etcd"]).toContain(peer);
    }
  });

  it("gives every rule a description without '&' and within 255 characters", () => {
    const json = build(["192.0.2.0/24"]);
    const all = [...resources(json, "aws_vpc_security_group_ingress_rule"), ...resources(json, "aws_vpc_security_group_egress_rule")];
    for (const r of all) {
      expect(typeof r.props.description).toBe("string");
      expect(r.props.description.length).toBeGreaterThan(10);
      expect(r.props.description.length).toBeLessThanOrEqual(255);
      expect(r.props.description).not.toContain("&");
    }
  });

  it("creates four named groups in the VPC, none starting with sg-", () => {
    const groups = resources(build(), "aws_security_group");
    expect(groups.map((g) => g.props.name).sort()).toEqual(["c1-api-lb", "c1-apiserver", "c1-etcd", "c1-nodes"]);
    groups.forEach((g) => expect(g.props.vpc_id).toBe("vpc-0123456789abcdef0"));
  });

  it("records every declared rule for inspection", () => {
    let rules = 0;
    synth((s) => {
      rules = new ControlPlaneSecurityGroups(s, "Sg", { clusterName: "c1", network }).rules.length;
    });
    const json = build();
    expect(rules).toBe(resources(json, "aws_vpc_security_group_ingress_rule").length + resources(json, "aws_vpc_security_group_egress_rule").length);
  });
});
