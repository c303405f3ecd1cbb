import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ExistingVpcStack } from "../../examples/existing-vpc/main";
import { EtcdCluster, ExistingNetwork, ExternalEtcdCluster, faultTolerance, quorumSize, survivesAnyZoneLoss } from "../../lib";
import { SynthJson, follow, resources, synth, synthStack, userDataOf } from "../helpers/synth";

const etcdGroups = (json: SynthJson) => resources(json, "aws_autoscaling_group").filter((g) => /-etcd-\d+$/.test(g.props.name));

describe("EtcdCluster", () => {
  const json = synthStack(new HaClusterStack(Testing.app(), "ref"));

  it("places 3 members round-robin over 3 zones, each with a fixed IP interface in the etcd group", () => {
    const enis = resources(json, "aws_network_interface").filter((e) => e.props.tags["ha-control-plane/role"] === "etcd");
    expect(enis.map((e) => e.props.private_ips[0])).toEqual(["10.0.0.20", "10.0.16.20", "10.0.32.20"]);
    const zones = enis.map((e) => follow(json, e.props.subnet_id).props.availability_zone);
    expect(zones).toEqual(["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    enis.forEach((e) => expect(follow(json, e.props.security_groups[0]).props.name).toBe("prod-eu1-etcd"));
  });

  it("gives each member an encrypted gp3 data volume in its zone, protected from destroy", () => {
    const volumes = resources(json, "aws_ebs_volume");
    expect(volumes).toHaveLength(3);
    volumes.forEach((v, i) => {
      expect(v.props).toMatchObject({ type: "gp3", size: 20, iops: 3000, throughput: 125, encrypted: true, final_snapshot: true });
      expect(v.props.lifecycle).toEqual({ prevent_destroy: true });
      expect(v.props.availability_zone).toBe(["eu-west-1a", "eu-west-1b", "eu-west-1c"][i]);
      expect(v.props.tags).toMatchObject({ "ha-control-plane/slot": `etcd-${i}`, "ha-control-plane/purpose": "etcd-data" });
      expect(follow(json, v.props.kms_key_id).type).toBe("aws_kms_key");
    });
  });

  it("keeps each member alive with an Auto Scaling group of one in its own zone whose nodes re-attach its interface and volume", () => {
    const groups = etcdGroups(json);
    expect(groups).toHaveLength(3);
    groups.forEach((g, i) => {
      expect(g.props).toMatchObject({ min_size: 1, max_size: 1, desired_capacity: 1, health_check_type: "EC2" });
      expect(g.props.vpc_zone_identifier).toHaveLength(1);
      expect(follow(json, g.props.vpc_zone_identifier[0]).props.availability_zone).toBe(["eu-west-1a", "eu-west-1b", "eu-west-1c"][i]);
      // A template change must never roll all members at once.
      expect(g.props.instance_refresh).toBeUndefined();
      expect(g.props.launch_template.version).toBe("$Default");
      const text = userDataOf(follow(json, g.props.launch_template.id));
      expect(text).toContain(`SLOT_NAME='etcd-${i}'`);
      expect(text).toContain("DATA_VOLUME='by-slot'");
    });
  });

  it("lets each member's role attach only its own interface and volume", () => {
    const policies = resources(json, "aws_iam_role_policy").filter((p) => /etcd-\d/.test(follow(json, `\${aws_iam_role.${/aws_iam_role\.([^.]+)\./.exec(p.props.role)![1]}.arn}`).props.name));
    expect(policies).toHaveLength(3);
    policies.forEach((p) => {
      const doc = JSON.parse(p.props.policy);
      const claim = doc.Statement.find((s: { Sid: string }) => s.Sid === "ClaimMemberInterfaceAndVolume");
      expect(claim.Action.sort()).toEqual(["ec2:AttachNetworkInterface", "ec2:AttachVolume"]);
      expect(claim.Condition.StringEquals["ec2:ResourceTag/ha-control-plane/slot"]).toMatch(/^etcd-\d$/);
    });
    const slots = policies.map((p) => JSON.parse(p.props.policy).Statement.find((s: { Sid: string }) => s.Sid === "ClaimMemberInterfaceAndVolume").Condition.StringEquals["ec2:ResourceTag/ha-control-plane/slot"]);
    expect(new Set(slots).size).toBe(3);
  });

  it("spreads 5 members 2/2/1 over 3 zones (survives any zone loss) in the existing-VPC example", () => {
    const ex = synthStack(new ExistingVpcStack(Testing.app(), "ex"));
    const enis = resources(ex, "aws_network_interface").filter((e) => e.props.tags["ha-control-plane/role"] === "etcd");
    expect(enis.map((e) => e.props.private_ips[0])).toEqual(["172.20.0.20", "172.20.16.20", "172.20.32.20", "172.20.0.21", "172.20.16.21"]);
    expect(etcdGroups(ex)).toHaveLength(5);
  });

  it("warns when two zones cannot hold quorum through a zone loss (acknowledged with allowEtcdZoneQuorumLoss)", () => {
    const network = ExistingNetwork.fromAttributes({
      vpcId: "vpc-0123456789abcdef0",
      vpcCidr: "10.0.0.0/16",
      privateSubnets: [
        { subnetId: "subnet-0aaaaaaaaaaaaaaa1", availabilityZone: "eu-west-1a", cidrBlock: "10.0.0.0/20" },
        { subnetId: "subnet-0aaaaaaaaaaaaaaa2", availabilityZone: "eu-west-1b", cidrBlock: "10.0.16.0/20" },
      ],
    });
    let etcd!: EtcdCluster;
    synth((s) => {
      etcd = new EtcdCluster(s, "Etcd", { clusterName: "c", network, securityGroupIds: ["sg-0123456789abcdef0"], encryptionKey: { keyArn: "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555" }, amiId: "ami-0123456789abcdef0", allowEtcdZoneQuorumLoss: true });
    });
    const warnings = etcd.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    expect(warnings.join("\n")).toMatch(/losing one zone loses quorum/);
  });

  it("creates member DNS records when a private zone is given", () => {
    const network = ExistingNetwork.fromAttributes({
      vpcId: "vpc-0123456789abcdef0",
      vpcCidr: "10.0.0.0/16",
      privateSubnets: ["a", "b", "c"].map((z, i) => ({ subnetId: `subnet-0aaaaaaaaaaaaaa${i}0`, availabilityZone: `eu-west-1${z}`, cidrBlock: `10.0.${i * 16}.0/20` })),
    });
    let etcd!: EtcdCluster;
    const out = synth((s) => {
      etcd = new EtcdCluster(s, "Etcd", { clusterName: "c", network, securityGroupIds: ["sg-0123456789abcdef0"], encryptionKey: { keyArn: "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555" }, amiId: "ami-0123456789abcdef0", privateHostedZoneId: "Z0PRIVATE00000000001", memberDomain: "etcd.c.internal" });
    });
    expect(resources(out, "aws_route53_record").map((r) => [r.props.name, r.props.records[0]])).toEqual([
      ["etcd-0.etcd.c.internal", "10.0.0.20"],
      ["etcd-1.etcd.c.internal", "10.0.16.20"],
      ["etcd-2.etcd.c.internal", "10.0.32.20"],
    ]);
    expect(etcd.members[1].dnsName).toBe("etcd-1.etcd.c.internal");
  });

  it("accepts an externally managed etcd through IEtcdCluster", () => {
    const ext = ExternalEtcdCluster.fromAttributes({
      members: [0, 1, 2].map((i) => ({ name: `m${i}`, privateIp: `10.1.0.${i + 5}`, availabilityZone: `eu-west-1${"abc"[i]}` })),
    });
    expect(ext.clientUrls).toEqual(["https://10.1.0.5:2379", "https://10.1.0.6:2379", "https://10.1.0.7:2379"]);
  });
});

describe("quorum arithmetic", () => {
  it.each([
    [1, 1, 0],
    [3, 2, 1],
    [5, 3, 2],
    [7, 4, 3],
  ])("%i members need %i votes and tolerate %i failures", (n, q, f) => {
    expect(quorumSize(n)).toBe(q);
    expect(faultTolerance(n)).toBe(f);
  });

  it("knows which spreads survive a zone loss", () => {
    expect(survivesAnyZoneLoss([1, 1, 1])).toBe(true);
    expect(survivesAnyZoneLoss([2, 2, 1])).toBe(true);
    expect(survivesAnyZoneLoss([2, 1])).toBe(false);
    expect(survivesAnyZoneLoss([3])).toBe(false);
  });
});
