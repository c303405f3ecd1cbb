/**
 * Finding 7d (issue 14): VPC endpoints plus an egress allow-list as a supported option, so etcd and
 * API server nodes need no open egress to the internet.
 *
 * Oracles from outside the library: the AWS CLI command → endpoint service prefix table is AWS's
 * (the `com.amazonaws.<region>.<prefix>` names of "AWS services that integrate with AWS
 * PrivateLink"; the CLI's `cloudwatch` is the `monitoring` endpoint, `s3api`/`s3` the S3 gateway
 * endpoint); the services the nodes call are read from the shipped scripts themselves, so a new
 * `aws <service>` call without an endpoint fails here.
 */
import { readFileSync, readdirSync } from "fs";
import { join } from "path";
import { ConfigError, DEFAULT_ETCD_RELEASE, EtcdTopology, ExistingNetwork, HaControlPlane } from "../../lib";
import { OPERATOR_SCRIPTS } from "../helpers/scripts";
import { FoundResource, SynthJson, follow, resources, synth } from "../helpers/synth";

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const MIRROR = { ...DEFAULT_ETCD_RELEASE, mirrorUrlTemplate: "https://mirror.internal.example/etcd/v{version}/etcd-v{version}-linux-{arch}.tar.gz", mirrorOnly: true };

/** AWS CLI service → endpoint service prefix (AWS PrivateLink service names), for what nodes run. */
const CLI_TO_ENDPOINT: Readonly<Record<string, string>> = {
  ec2: "ec2",
  autoscaling: "autoscaling",
  secretsmanager: "secretsmanager",
  cloudwatch: "monitoring",
  logs: "logs",
  s3: "s3",
  s3api: "s3",
  kms: "kms",
  sts: "sts",
  ssm: "ssm",
};
/** Session Manager's agent: ssm, ssmmessages, ec2messages (AWS Systems Manager docs, "VPC endpoints"). */
const SESSION_MANAGER = ["ssm", "ssmmessages", "ec2messages"];

function cliServicesOfNodeScripts(): Set<string> {
  const dir = join(__dirname, "../../lib/bootstrap/scripts");
  const files = readdirSync(dir).filter((f) => f.endsWith(".sh") && !OPERATOR_SCRIPTS.has(f));
  const found = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(join(dir, f), "utf8").matchAll(/\baws(?:\s+--[a-z-]+(?:[ =](?!-)\S+)?)*\s+([a-z0-9]+)\s+[a-z-]+/g)) found.add(m[1]);
  }
  return found;
}

function endpoints(json: SynthJson): Map<string, FoundResource> {
  const m = new Map<string, FoundResource>();
  for (const e of resources(json, "aws_vpc_endpoint")) {
    const service = /^com\.amazonaws\.\$\{data\.aws_region\.[A-Za-z0-9_-]+\.name\}\.([a-z0-9-]+)$/.exec(String(e.props.service_name))?.[1];
    if (service === undefined) throw new Error(`unexpected service name ${e.props.service_name}`);
    m.set(service, e);
  }
  return m;
}

const egressRules = (json: SynthJson) => resources(json, "aws_vpc_security_group_egress_rule");
const groupName = (json: SynthJson, r: FoundResource) => String(follow(json, r.props.security_group_id).props.name);

describe("default: no endpoints, HTTP(S) egress to the internet as before", () => {
  const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES }));

  it("declares no endpoint and keeps the 0.0.0.0/0 rules under their original names", () => {
    expect(resources(json, "aws_vpc_endpoint")).toEqual([]);
    const open = egressRules(json).filter((r) => r.props.cidr_ipv4 === "0.0.0.0/0");
    expect(open.map((r) => [groupName(json, r), r.props.from_port]).sort()).toEqual([
      ["prod-apiserver", 443],
      ["prod-apiserver", 80],
      ["prod-etcd", 443],
      ["prod-etcd", 80],
    ]);
    expect(open.every((r) => /_(Api|Etcd)EgressInternet(443|80)_/.test(r.name))).toBe(true);
  });
});

describe.each([EtcdTopology.EXTERNAL, EtcdTopology.STACKED])("vpcEndpoints: true, internetEgress: [] (%s etcd)", (etcdTopology) => {
  const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, etcdTopology, vpcEndpoints: true, internetEgress: [], etcdRelease: MIRROR }));
  const eps = endpoints(json);

  it("has an endpoint for every AWS service a node script calls, and for Session Manager", () => {
    const called = [...cliServicesOfNodeScripts()];
    expect(called.length).toBeGreaterThanOrEqual(5);
    for (const cli of called) {
      const prefix = CLI_TO_ENDPOINT[cli];
      expect([cli, prefix !== undefined && eps.has(prefix)]).toEqual([cli, true]);
    }
    for (const s of SESSION_MANAGER) expect([s, eps.has(s)]).toEqual([s, true]);
  });

  it("puts interface endpoints with private DNS in every private subnet, S3 as a gateway on every private route table", () => {
    // Private = the subnet's route table sends 0.0.0.0/0 to a NAT gateway.
    const natTables = resources(json, "aws_route")
      .filter((r) => r.props.destination_cidr_block === "0.0.0.0/0" && r.props.nat_gateway_id !== undefined)
      .map((r) => String(r.props.route_table_id));
    const privateAssociations = resources(json, "aws_route_table_association").filter((a) => natTables.includes(String(a.props.route_table_id)));
    const privateSubnets = privateAssociations.map((a) => String(a.props.subnet_id));
    const privateTables = privateAssociations.map((a) => String(a.props.route_table_id));
    expect(privateSubnets).toHaveLength(3);
    for (const [service, e] of eps) {
      if (service === "s3") {
        expect(e.props.vpc_endpoint_type).toBe("Gateway");
        expect([...(e.props.route_table_ids as string[])].sort()).toEqual([...privateTables].sort());
      } else {
        expect([service, e.props.vpc_endpoint_type, e.props.private_dns_enabled]).toEqual([service, "Interface", true]);
        expect([...(e.props.subnet_ids as string[])].sort()).toEqual([...privateSubnets].sort());
      }
    }
  });

  it("admits HTTPS to the interface endpoints from the node groups only", () => {
    const sg = follow(json, (eps.get("ec2")!.props.security_group_ids as string[])[0]);
    const ingress = resources(json, "aws_vpc_security_group_ingress_rule").filter((r) => r.props.security_group_id === `\${aws_security_group.${sg.name}.id}`);
    expect(ingress.map((r) => [String(follow(json, r.props.referenced_security_group_id).props.name), r.props.from_port, r.props.to_port, r.props.ip_protocol]).sort()).toEqual([
      ["prod-apiserver", 443, 443, "tcp"],
      ["prod-etcd", 443, 443, "tcp"],
    ]);
    expect(ingress.every((r) => r.props.cidr_ipv4 === undefined)).toBe(true);
    expect(Object.keys(sg.props.tags ?? {})).not.toContain("kubernetes.io/cluster/prod");
  });

  it("leaves API server and etcd nodes no egress outside the VPC but the S3 endpoint's prefix list", () => {
    const vpcCidr = String(resources(json, "aws_vpc")[0].props.cidr_block);
    for (const r of egressRules(json)) {
      const group = groupName(json, r);
      if (group !== "prod-apiserver" && group !== "prod-etcd") continue;
      if (r.props.cidr_ipv4 !== undefined) {
        // Inside the VPC, or (API servers) a routed pod block — never the internet.
        expect([group, r.props.cidr_ipv4 === vpcCidr || r.props.cidr_ipv4 === "0.0.0.0/0"]).toEqual([group, r.props.cidr_ipv4 === vpcCidr]);
      } else if (r.props.prefix_list_id !== undefined) {
        expect(r.props.prefix_list_id).toBe(`\${aws_vpc_endpoint.${[...eps].find(([s]) => s === "s3")![1].name}.prefix_list_id}`);
        expect([r.props.from_port, r.props.to_port]).toEqual([443, 443]);
      } else {
        expect(r.props.referenced_security_group_id).toBeDefined();
      }
    }
  });

  it("conditions every direct node call on aws:SourceVpc (no public endpoint)", () => {
    const vpcRef = `\${aws_vpc.${resources(json, "aws_vpc")[0].name}.id}`;
    const roleNames = resources(json, "aws_iam_role").map((r) => `\${aws_iam_role.${r.name}.name}`);
    let checked = 0;
    for (const p of resources(json, "aws_iam_role_policy").filter((p) => roleNames.includes(String(p.props.role)))) {
      const doc = JSON.parse(String(p.props.policy)) as { Statement: Array<{ Sid?: string; Condition?: Record<string, Record<string, unknown>> }> };
      for (const st of doc.Statement) {
        if (st.Condition?.StringEquals?.["aws:Ec2InstanceSourceVpc"] === undefined) continue; // not a node-boundary statement
        expect([st.Sid, st.Condition.StringEquals["aws:SourceVpc"]]).toEqual([st.Sid, vpcRef]);
        expect(st.Condition.StringEqualsIfExists).toBeUndefined();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });
});

describe("internetEgress allow-list", () => {
  it("replaces 0.0.0.0/0 with the listed blocks and prefix lists on 443 and 80", () => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, internetEgress: ["198.51.100.0/24", "pl-0123456789abcdef0"] }));
    const outside = egressRules(json).filter((r) => ["prod-apiserver", "prod-etcd"].includes(groupName(json, r)) && (r.props.prefix_list_id !== undefined || (r.props.cidr_ipv4 !== undefined && !String(r.props.cidr_ipv4).startsWith("10."))));
    expect(outside.map((r) => [groupName(json, r), r.props.cidr_ipv4 ?? r.props.prefix_list_id, r.props.from_port]).sort()).toEqual(
      [
        ["prod-apiserver", "198.51.100.0/24", 443],
        ["prod-apiserver", "198.51.100.0/24", 80],
        ["prod-apiserver", "pl-0123456789abcdef0", 443],
        ["prod-apiserver", "pl-0123456789abcdef0", 80],
        ["prod-etcd", "198.51.100.0/24", 443],
        ["prod-etcd", "198.51.100.0/24", 80],
        ["prod-etcd", "pl-0123456789abcdef0", 443],
        ["prod-etcd", "pl-0123456789abcdef0", 80],
      ].sort(),
    );
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ["internetEgress", { internetEgress: [] }, /vpcEndpoints/],
    ["internetEgress", { internetEgress: [], vpcEndpoints: true }, /mirrorUrlTemplate/],
    ["internetEgress", { internetEgress: [], vpcEndpoints: true, etcdRelease: { ...MIRROR, mirrorOnly: false } }, /mirrorOnly/],
    ["internetEgress[0]", { internetEgress: ["pl-xyz"] }, /prefix list/],
    ["internetEgress[0]", { internetEgress: ["10.0.0.0/33"] }, /./],
    ["internetEgress", { internetEgress: ["198.51.100.0/24", "198.51.100.0/24"] }, /twice/],
    ["vpcEndpoints", { vpcEndpoints: "yes" }, /true or false/],
  ];
  it.each(bad)("refuses %s = %j", (prop, extra, why) => {
    let err: unknown;
    try {
      synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, ...(extra as object) }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).prop).toBe(prop);
    expect((err as Error).message).toMatch(why);
  });

  it("asks an existing network for its private route tables", () => {
    const network = (routeTableId?: string) => ExistingNetwork.fromAttributes({
      vpcId: "vpc-0a1b2c3d4e5f60718",
      vpcCidr: "10.0.0.0/16",
      privateSubnets: ZONES.map((z, i) => ({ subnetId: `subnet-0000000000000000${i}`, availabilityZone: z, cidrBlock: `10.0.${i}.0/24`, routeTableId })),
    });
    const build = (routeTableId?: string) => synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", network: network(routeTableId), vpcEndpoints: true }));
    expect(() => build()).toThrow(/network\.privateSubnets\[0\]\.routeTableId/);
    expect(() => build("rtb-0123456789abcdef0")).not.toThrow();
    expect(() => network("rtb-x")).toThrow(ConfigError);
  });
});
