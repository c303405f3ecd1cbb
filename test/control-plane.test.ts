import { Testing } from "../lib/core";
import { HaClusterStack } from "../examples/ha-cluster/main";
import { EndpointAccess, EtcdTopology, HaControlPlane, quorumSize } from "../lib";
import { SynthJson, follow, only, resources, synth, synthStack } from "./helpers/synth";

const reference = (): SynthJson => synthStack(new HaClusterStack(Testing.app(), "ref"));

/** Availability zone of a resource that sits in a subnet or a zone. */
function zoneOf(json: SynthJson, props: Record<string, any>): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (props.availability_zone) return props.availability_zone;
  if (props.subnet_id) return follow(json, props.subnet_id).props.availability_zone;
  throw new Error("resource has no zone");
}

describe("HaControlPlane (reference cluster)", () => {
  const json = reference();

  it("composes network, security groups, key, load balancer, 3 API servers and 3 etcd members", () => {
    expect(resources(json, "aws_vpc")).toHaveLength(1);
    expect(resources(json, "aws_security_group")).toHaveLength(4);
    expect(resources(json, "aws_kms_key")).toHaveLength(1);
    expect(only(json, "aws_kms_key").props.enable_key_rotation).toBe(true);
    expect(resources(json, "aws_lb")).toHaveLength(1);
    expect(resources(json, "aws_network_interface")).toHaveLength(6);
    expect(resources(json, "aws_autoscaling_group")).toHaveLength(4);
    expect(resources(json, "aws_ebs_volume")).toHaveLength(3);
  });

  it("grants the cluster's own Auto Scaling role the key so encrypted volumes can launch", () => {
    const grant = only(json, "aws_kms_grant");
    expect(follow(json, grant.props.grantee_principal).type).toBe("aws_iam_service_linked_role");
    expect(follow(json, grant.props.key_id).type).toBe("aws_kms_key");
    expect(grant.props.operations).toEqual(expect.arrayContaining(["Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant"]));
    for (const g of resources(json, "aws_autoscaling_group")) {
      expect(follow(json, g.props.service_linked_role_arn).type).toBe("aws_iam_service_linked_role");
    }
  });

  it("outputs the endpoint, target groups, worker security group, fixed IPs and the shutdown delay", () => {
    const outputs = Object.entries(json.output ?? {});
    const find = (part: string) => outputs.find(([k]) => k.includes(part))?.[1].value;
    expect(find("internal_endpoint")).toMatch(/^https:\/\/\$\{aws_lb\.[^}]+\.dns_name\}:6443$/);
    expect(find("api_server_ips")).toEqual(["10.0.0.10", "10.0.16.10", "10.0.32.10"]);
    expect(find("etcd_client_urls")).toEqual(["https://10.0.0.20:2379", "https://10.0.16.20:2379", "https://10.0.32.20:2379"]);
    expect(find("worker_security_group_id")).toMatch(/aws_security_group/);
    const hc = only(json, "aws_lb_target_group").props.health_check;
    expect(find("api_shutdown_delay_seconds")).toBeGreaterThan(hc.interval * hc.unhealthy_threshold);
  });

  it("keeps no public IP on control-plane nodes and places every node interface in a private subnet", () => {
    for (const e of resources(json, "aws_network_interface")) {
      const subnet = follow(json, e.props.subnet_id);
      expect(subnet.props.tags["kubernetes.io/role/internal-elb"]).toBe("1");
    }
    for (const lt of resources(json, "aws_launch_template")) {
      expect(lt.props.network_interfaces).toBeUndefined();
    }
  });

  describe("survives the loss of any one availability zone", () => {
    const zones = [...new Set(resources(json, "aws_subnet").map((s) => s.props.availability_zone))];
    it("spans three zones", () => expect(zones).toHaveLength(3));

    it.each(zones)("without %s: etcd keeps quorum, an API server stays behind the load balancer, private subnets keep egress", (lost) => {
      const etcdEnis = resources(json, "aws_network_interface").filter((e) => e.props.tags["ha-control-plane/role"] === "etcd");
      const etcdLeft = etcdEnis.filter((e) => zoneOf(json, e.props) !== lost);
      expect(etcdLeft.length).toBeGreaterThanOrEqual(quorumSize(etcdEnis.length));
      // Each surviving member still has its data volume in its own zone.
      const volumesLeft = resources(json, "aws_ebs_volume").filter((v) => zoneOf(json, v.props) !== lost);
      expect(volumesLeft.length).toBe(etcdLeft.length);

      const apiSlotsLeft = resources(json, "aws_network_interface").filter((e) => e.props.tags["ha-control-plane/role"] === "apiserver" && zoneOf(json, e.props) !== lost);
      expect(apiSlotsLeft.length).toBeGreaterThanOrEqual(1);
      const group = resources(json, "aws_autoscaling_group").find((g) => g.props.health_check_type === "ELB")!;
      const groupZonesLeft = group.props.vpc_zone_identifier.map((s: string) => follow(json, s).props.availability_zone).filter((z: string) => z !== lost);
      expect(groupZonesLeft.length).toBeGreaterThanOrEqual(1);
      expect(group.props.target_group_arns.length).toBeGreaterThanOrEqual(1);
      const lb = only(json, "aws_lb");
      const lbZonesLeft = lb.props.subnets.map((s: string) => follow(json, s).props.availability_zone).filter((z: string) => z !== lost);
      expect(lbZonesLeft.length).toBeGreaterThanOrEqual(1);
      expect(lb.props.enable_cross_zone_load_balancing).toBe(true);

      for (const route of resources(json, "aws_route").filter((r) => r.props.nat_gateway_id)) {
        const assoc = resources(json, "aws_route_table_association").find((a) => a.props.route_table_id === route.props.route_table_id)!;
        const subnetZone = zoneOf(json, follow(json, assoc.props.subnet_id).props);
        if (subnetZone === lost) continue;
        const natZone = zoneOf(json, follow(json, route.props.nat_gateway_id).props);
        expect(natZone).not.toBe(lost);
      }
    });
  });
});

describe("HaControlPlane options", () => {
  const base = { availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0" };

  it("looks up Ubuntu 24.04 from Canonical when no AMI is given, per architecture", () => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", availabilityZones: base.availabilityZones, etcdInstanceType: "m7g.large" }));
    const amis = Object.values(json.data?.aws_ami ?? {}) as Array<{ owners: string[]; filter: Array<{ name: string; values: string[] }> }>;
    expect(amis).toHaveLength(2);
    amis.forEach((a) => expect(a.owners).toEqual(["099720109477"]));
    const names = amis.map((a) => a.filter.find((f) => f.name === "name")!.values[0]).sort();
    expect(names).toEqual([
      "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
      "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*",
    ]);
  });

  it("uses a supplied KMS key instead of creating one", () => {
    const keyArn = "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555";
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, kmsKeyArn: keyArn }));
    expect(resources(json, "aws_kms_key")).toHaveLength(0);
    expect(only(json, "aws_kms_grant").props.key_id).toBe(keyArn);
    resources(json, "aws_ebs_volume").forEach((v) => expect(v.props.kms_key_id).toBe(keyArn));
  });

  it("runs stacked etcd on the API servers: no etcd compute, one data volume per API slot in its zone", () => {
    let cp!: HaControlPlane;
    const json = synth((s) => {
      cp = new HaControlPlane(s, "Cp", { clusterName: "c", ...base, etcdTopology: EtcdTopology.STACKED });
    });
    expect(resources(json, "aws_autoscaling_group")).toHaveLength(1);
    expect(resources(json, "aws_ebs_volume").map((v) => v.props.tags["ha-control-plane/slot"])).toEqual(["apiserver-0", "apiserver-1", "apiserver-2"]);
    expect(cp.etcd.clientUrls).toEqual(cp.apiServers.slots.map((s) => `https://${s.privateIp}:2379`));
  });

  it("adds a public endpoint only with allowed CIDRs, which reach the load balancer group only", () => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC, allowedApiCidrs: ["198.51.100.0/24"] }));
    expect(resources(json, "aws_lb")).toHaveLength(2);
    const cidrRules = resources(json, "aws_vpc_security_group_ingress_rule").filter((r) => r.props.cidr_ipv4 === "198.51.100.0/24");
    expect(cidrRules).toHaveLength(1);
    expect(follow(json, cidrRules[0].props.security_group_id).props.name).toBe("c-api-lb");
    const outputs = Object.keys(json.output ?? {});
    expect(outputs.some((k) => k.includes("public_endpoint"))).toBe(true);
  });

  it("spreads 6 API servers two per zone with distinct fixed IPs", () => {
    let cp!: HaControlPlane;
    synth((s) => {
      cp = new HaControlPlane(s, "Cp", { clusterName: "c", ...base, apiServerCount: 6 });
    });
    expect(cp.apiServers.slots.map((s) => s.privateIp)).toEqual(["10.0.0.10", "10.0.16.10", "10.0.32.10", "10.0.0.11", "10.0.16.11", "10.0.32.11"]);
  });
});
