/**
 * What each rule says, not only whether it fires: the reason of every finding names the offending
 * resource and value, a value known only at apply time makes a rule not applicable (never a
 * guess, README "Policy pack"), and the edges the AWS documentation draws are where the rules draw
 * them. Written against the mutants Stryker left alive in the rules (issue 15); the oracles are the
 * AWS and provider documentation cited on each case and the README's rule table, not the rules'
 * own helpers.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { DataResource, TerraformDataSource, TerraformLocal, TerraformVariable } from "cdktf";
import { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { DataAwsServicequotasServiceQuota } from "@cdktf/provider-aws/lib/data-aws-servicequotas-service-quota";
import { DataAwsSsmParameter } from "@cdktf/provider-aws/lib/data-aws-ssm-parameter";
import { EbsEncryptionByDefault } from "@cdktf/provider-aws/lib/ebs-encryption-by-default";
import { EbsVolume } from "@cdktf/provider-aws/lib/ebs-volume";
import { DataAwsIamPolicy } from "@cdktf/provider-aws/lib/data-aws-iam-policy";
import { IamPolicyAttachment } from "@cdktf/provider-aws/lib/iam-policy-attachment";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { LaunchConfiguration } from "@cdktf/provider-aws/lib/launch-configuration";
import { LbTargetGroupHealthCheck } from "@cdktf/provider-aws/lib/lb-target-group";
import { S3AccountPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-account-public-access-block";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketObjectLockConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { SecurityGroupRule } from "@cdktf/provider-aws/lib/security-group-rule";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { CertRequest } from "@cdktf/provider-tls/lib/cert-request";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { SelfSignedCert, SelfSignedCertConfig } from "@cdktf/provider-tls/lib/self-signed-cert";
import { Fn, TerraformOutput, TerraformStack } from "../../lib/core";
import { NodeRole } from "../../lib";
import { CLUSTER_TAG, ROLE_TAG } from "../../lib/tags";
import { ETCD_DATA_PURPOSE, PURPOSE_TAG } from "../../lib/etcd/etcd-cluster";
import { API_HEALTH_CHECK, BACKUP_BUCKET_OBJECT_LOCK, BUCKET_ENCRYPTION, BUCKET_PUBLIC_ACCESS, ETCD_MEMBER_COUNT, ETCD_PORT_EXPOSURE, HA_POLICY_RULES, IMDS_V1, LEAF_CERTIFICATE_RENEWAL, LEAF_CERTIFICATE_VALIDITY, NODE_ROLE_MANAGED_POLICY, PRIVATE_KEY_IN_USER_DATA, PolicyContext, PolicyRule, RuleStatus, SHUTDOWN_DELAY, SINGLE_ZONE, SUPER_ADMIN_OUTPUT, UNENCRYPTED_VOLUME, WORLD_OPEN_INGRESS, typeKeyOf } from "../../lib/policy";
import { testStack } from "../helpers/synth";
import { READYZ, apiTargetGroup, etcdVolume, group, ingress, launchTemplate, roleGroup, shutdownDelayOutput, subnet, zoneLookup } from "./fixtures";
import { runPack } from "./helpers";

/** Reasons of the findings of `rule` alone on the stack `build` makes. */
function reasons(rule: PolicyRule, build: (s: TerraformStack) => void): string[] {
  return runPack(build, { rules: [rule] }).pack.findings.map((f) => f.reason);
}

/** `address: STATUS (reason)` of `rule` on every resource of type `type`, evaluated directly. */
function verdicts(rule: PolicyRule, type: string, build: (s: TerraformStack) => void): string[] {
  const { stack } = testStack();
  build(stack);
  const context = PolicyContext.fromSynthesizedJson(stack.toTerraform());
  return context.resources
    .filter((r) => typeKeyOf(r) === type && rule.appliesTo.includes(type))
    .map((r) => {
      const result = rule.evaluate(r, context);
      return `${r.address}: ${result.status}${result.reason !== undefined ? ` (${result.reason})` : ""}`;
    });
}

/** A value Terraform knows only at apply time. */
function unknown(s: TerraformStack, id: string, type: "string" | "number" = "string"): string {
  return new TerraformVariable(s, id, { type }).stringValue;
}
function unknownNumber(s: TerraformStack, id: string): number {
  return new TerraformVariable(s, id, { type: "number" }).numberValue;
}

const NA = RuleStatus.NOT_APPLICABLE;
const OK = RuleStatus.COMPLIANT;
const BAD = RuleStatus.NON_COMPLIANT;

describe("the rule table of the README", () => {
  // README.md "Policy pack": | `HA-XX1` | error | what it checks | fix |
  const readme = readFileSync(path.join(__dirname, "../../README.md"), "utf8");
  const rows = [...readme.matchAll(/^\| `(HA-[A-Z]+[0-9]+)` \| (error|warning) \|/gm)].map((m) => `${m[1]} ${m[2]}`);

  it("lists every rule of the pack with its id and level, and nothing else", () => {
    expect(rows.length).toBeGreaterThanOrEqual(16);
    expect(HA_POLICY_RULES.map((r) => `${r.id} ${r.level}`).sort()).toEqual([...rows].sort());
  });

  it.each(HA_POLICY_RULES.map((r) => [r.id, r] as const))("%s has a description and a fix to print", (_id, r) => {
    expect(r.description.trim().length).toBeGreaterThan(20);
    expect(r.fix.trim().length).toBeGreaterThan(20);
  });
});

describe("HA-EC1 reasons and edges (AWS: EC2 User Guide, 'Configure the instance metadata options')", () => {
  // HttpTokens defaults to "optional" (IMDSv1 allowed) when neither the request nor the AMI sets it;
  // HttpEndpoint "disabled" turns the metadata service off altogether.
  it("names the resource type and what it leaves open", () => {
    expect(reasons(IMDS_V1, (s) => launchTemplate(s, "Lt", { metadataOptions: undefined }))).toEqual([
      "aws_launch_template declares no metadata_options, so http_tokens falls back to the AMI or account default (optional: IMDSv1 allowed)",
    ]);
    expect(reasons(IMDS_V1, (s) => launchTemplate(s, "Lt", { metadataOptions: { httpEndpoint: "enabled", httpTokens: "optional" } }))).toEqual([
      'aws_launch_template sets metadata_options.http_tokens = "optional" (IMDSv1 allowed)',
    ]);
  });

  it("reports metadata_options without http_tokens (the default is optional)", () => {
    expect(reasons(IMDS_V1, (s) => launchTemplate(s, "Lt", { metadataOptions: { httpEndpoint: "enabled", httpPutResponseHopLimit: 1 } }))).toEqual([
      "aws_launch_template does not set metadata_options.http_tokens (defaults to optional: IMDSv1 allowed)",
    ]);
  });

  it("checks launch configurations too", () => {
    const out = reasons(IMDS_V1, (s) => new LaunchConfiguration(s, "Lc", { imageId: "ami-0a422d70f727fe93e", instanceType: "t3.micro", metadataOptions: { httpTokens: "optional" } }));
    expect(out).toEqual(['aws_launch_configuration sets metadata_options.http_tokens = "optional" (IMDSv1 allowed)']);
  });

  it("is not applicable when the endpoint or the token setting is known only at apply time", () => {
    expect(
      verdicts(IMDS_V1, "aws_launch_template", (s) => launchTemplate(s, "Lt", { metadataOptions: { httpEndpoint: unknown(s, "endpoint"), httpTokens: "optional" } })),
    ).toEqual([`aws_launch_template.Lt: ${NA} (metadata options known only at apply time)`]);
    expect(verdicts(IMDS_V1, "aws_launch_template", (s) => launchTemplate(s, "Lt", { metadataOptions: { httpTokens: unknown(s, "tokens") } }))).toEqual([
      `aws_launch_template.Lt: ${NA} (metadata options known only at apply time)`,
    ]);
  });

  it("passes a disabled endpoint only: an enabled one still needs required tokens", () => {
    expect(verdicts(IMDS_V1, "aws_launch_template", (s) => launchTemplate(s, "Lt", { metadataOptions: { httpEndpoint: "disabled", httpTokens: "optional" } }))).toEqual([
      `aws_launch_template.Lt: ${OK}`,
    ]);
    expect(verdicts(IMDS_V1, "aws_launch_template", (s) => launchTemplate(s, "Lt", { metadataOptions: { httpEndpoint: "enabled", httpTokens: "optional" } }))).toEqual([
      `aws_launch_template.Lt: ${BAD} (aws_launch_template sets metadata_options.http_tokens = "optional" (IMDSv1 allowed))`,
    ]);
  });

  // RunInstances: parameters given with the request override the launch template's.
  it("judges an instance by its own metadata_options when it sets them, by its template's otherwise", () => {
    const own = (s: TerraformStack) =>
      new Instance(s, "Vm", { launchTemplate: { id: launchTemplate(s, "Lt", { metadataOptions: { httpTokens: "optional" } }).id }, metadataOptions: { httpTokens: "required" } });
    expect(verdicts(IMDS_V1, "aws_instance", own)).toEqual([`aws_instance.Vm: ${OK}`]);
    const inherited = (s: TerraformStack) => new Instance(s, "Vm", { launchTemplate: { name: launchTemplate(s, "Lt", { metadataOptions: { httpTokens: "optional" } }).name } });
    expect(verdicts(IMDS_V1, "aws_instance", inherited)).toEqual([
      `aws_instance.Vm: ${BAD} (inherits from aws_launch_template.Lt, which sets metadata_options.http_tokens = "optional" (IMDSv1 allowed))`,
    ]);
  });

  it("is not applicable to an instance launched from a template it cannot see", () => {
    const outside = (s: TerraformStack) => new Instance(s, "Vm", { launchTemplate: { id: "lt-0123456789abcdef0" } });
    expect(verdicts(IMDS_V1, "aws_instance", outside)).toEqual([`aws_instance.Vm: ${NA} (launched from a template outside this stack)`]);
    // The template's name read from an SSM parameter: the reference leads to the parameter, not to a template.
    const looked = (s: TerraformStack) => new Instance(s, "Vm", { launchTemplate: { name: new DataAwsSsmParameter(s, "Name", { name: "/c1/template" }).value } });
    expect(verdicts(IMDS_V1, "aws_instance", looked)).toEqual([`aws_instance.Vm: ${NA} (launched from a template outside this stack)`]);
  });
});

describe("HA-SG1 reasons and edges (AWS: VPC security group rules; 0.0.0.0/0 and ::/0 match every address)", () => {
  it("names the group, its role, the ports and the world-open blocks", () => {
    expect(reasons(WORLD_OPEN_INGRESS, (s) => ingress(s, "Ssh", group(s, "Api", "apiserver"), 22, { cidr: "0.0.0.0/0" }))).toEqual([
      "security group api (aws_security_group.Api) (role apiserver) allows ingress of tcp 22 from 0.0.0.0/0 (the whole internet)",
    ]);
    // A group without a role tag, IPv4 and IPv6 in one legacy rule.
    const both = (s: TerraformStack) =>
      new SecurityGroupRule(s, "Open", { type: "ingress", securityGroupId: group(s, "Web").id, protocol: "tcp", fromPort: 80, toPort: 443, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] });
    expect(reasons(WORLD_OPEN_INGRESS, both)).toEqual(["security group web (aws_security_group.Web) allows ingress of tcp 80-443 from 0.0.0.0/0 and ::/0 (the whole internet)"]);
  });

  it("names a group declared outside the stack by the id the rule gives", () => {
    const outside = (s: TerraformStack) => new SecurityGroupRule(s, "Ext", { type: "ingress", securityGroupId: "sg-0123456789abcdef0", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] });
    expect(reasons(WORLD_OPEN_INGRESS, outside)).toEqual(["security group sg-0123456789abcdef0 allows ingress of tcp 22 from 0.0.0.0/0 (the whole internet)"]);
  });

  it("lists every world-open block of a group's inline rules, and only those", () => {
    const inline = (s: TerraformStack) =>
      new SecurityGroup(s, "G", {
        name: "g",
        vpcId: "vpc-1",
        ingress: [
          { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] },
          { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["10.0.0.0/8"] },
          { protocol: "udp", fromPort: 53, toPort: 53, ipv6CidrBlocks: ["::/0"] },
        ],
      });
    expect(reasons(WORLD_OPEN_INGRESS, inline)).toEqual(["security group g (aws_security_group.G) allows ingress of tcp 22 from 0.0.0.0/0; udp 53 from ::/0 (the whole internet)"]);
  });

  it("excuses TCP 6443 exactly on the load-balancer group: not UDP, not a range that starts or ends there", () => {
    const lb = (extra: { ipProtocol?: string; port: number | [number, number] }) => (s: TerraformStack) =>
      ingress(s, "Public", group(s, "Lb", "api-lb"), extra.port, { cidr: "0.0.0.0/0" }, extra.ipProtocol ? { ipProtocol: extra.ipProtocol } : {});
    expect(verdicts(WORLD_OPEN_INGRESS, "aws_vpc_security_group_ingress_rule", lb({ port: 6443 }))).toEqual([`aws_vpc_security_group_ingress_rule.Public: ${OK}`]);
    expect(reasons(WORLD_OPEN_INGRESS, lb({ port: 6443, ipProtocol: "udp" }))).toEqual([
      "security group lb (aws_security_group.Lb) (role api-lb) allows ingress of udp 6443 from 0.0.0.0/0 (the whole internet)",
    ]);
    expect(reasons(WORLD_OPEN_INGRESS, lb({ port: [6443, 6444] }))).toEqual([
      "security group lb (aws_security_group.Lb) (role api-lb) allows ingress of tcp 6443-6444 from 0.0.0.0/0 (the whole internet)",
    ]);
  });

  it("is not applicable when the protocol or a port of a world-open rule on the load-balancer group is known only at apply time", () => {
    const protocol = (s: TerraformStack) => ingress(s, "Public", group(s, "Lb", "api-lb"), 6443, { cidr: "0.0.0.0/0" }, { ipProtocol: unknown(s, "protocol") });
    expect(verdicts(WORLD_OPEN_INGRESS, "aws_vpc_security_group_ingress_rule", protocol)).toEqual([
      `aws_vpc_security_group_ingress_rule.Public: ${NA} (protocol or ports known only at apply time)`,
    ]);
    const port = (s: TerraformStack) => ingress(s, "Public", group(s, "Lb", "api-lb"), 6443, { cidr: "0.0.0.0/0" }, { toPort: unknownNumber(s, "port") });
    expect(verdicts(WORLD_OPEN_INGRESS, "aws_vpc_security_group_ingress_rule", port)).toEqual([
      `aws_vpc_security_group_ingress_rule.Public: ${NA} (protocol or ports known only at apply time)`,
    ]);
  });

  it("passes private sources as compliant, and leaves egress rules alone", () => {
    const build = (s: TerraformStack) => {
      const api = group(s, "Api", "apiserver");
      ingress(s, "Ssh", api, 22, { cidr: "10.20.0.0/16" });
      new SecurityGroupRule(s, "Out", { type: "egress", securityGroupId: api.id, protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] });
    };
    expect(verdicts(WORLD_OPEN_INGRESS, "aws_vpc_security_group_ingress_rule", build)).toEqual([`aws_vpc_security_group_ingress_rule.Ssh: ${OK}`]);
    expect(verdicts(WORLD_OPEN_INGRESS, "aws_security_group_rule", build)).toEqual([`aws_security_group_rule.Out: ${NA} (not an ingress rule)`]);
  });
});

describe("HA-SG2 reasons and edges (etcd: 2379 client, 2380 peer; kubeadm's HA topology)", () => {
  function groups(s: TerraformStack) {
    const etcd = group(s, "Etcd", "etcd");
    const api = group(s, "Api", "apiserver");
    launchTemplate(s, "EtcdTemplate", { vpcSecurityGroupIds: [etcd.id] });
    launchTemplate(s, "ApiTemplate", { vpcSecurityGroupIds: [api.id] });
    return { etcd, api, nodes: group(s, "Nodes", "nodes"), bastion: group(s, "Bastion") };
  }
  const RULE = "aws_vpc_security_group_ingress_rule";

  it("names the etcd group, the ports and every untrusted source: CIDR, prefix list, group with or without role, group outside the stack", () => {
    const out = reasons(ETCD_PORT_EXPOSURE, (s) => {
      const g = groups(s);
      ingress(s, "FromWorkers", g.etcd, 2379, { group: g.nodes });
      ingress(s, "FromBastion", g.etcd, [2379, 2380], { group: g.bastion });
      ingress(s, "FromVpc", g.etcd, 2380, { cidr: "10.0.0.0/16" });
      ingress(s, "FromPrefixList", g.etcd, 2379, {}, { prefixListId: "pl-0123456789abcdef0" });
      ingress(s, "FromOutside", g.etcd, 2379, {}, { referencedSecurityGroupId: "sg-0123456789abcdef0" });
    });
    expect(out).toEqual([
      "etcd group etcd (aws_security_group.Etcd) allows tcp 2379 from group nodes (aws_security_group.Nodes) (role nodes)",
      "etcd group etcd (aws_security_group.Etcd) allows tcp 2379-2380 from group bastion (aws_security_group.Bastion) (role none)",
      "etcd group etcd (aws_security_group.Etcd) allows tcp 2380 from 10.0.0.0/16",
      "etcd group etcd (aws_security_group.Etcd) allows tcp 2379 from prefix list pl-0123456789abcdef0",
      "etcd group etcd (aws_security_group.Etcd) allows tcp 2379 from group sg-0123456789abcdef0 (not declared in this stack)",
    ]);
  });

  it("joins several offending sources and blocks of one group", () => {
    const out = reasons(ETCD_PORT_EXPOSURE, (s) => {
      const g = groups(s);
      new SecurityGroupRule(s, "Legacy", { type: "ingress", securityGroupId: g.etcd.id, protocol: "tcp", fromPort: 2379, toPort: 2379, cidrBlocks: ["10.0.0.0/16", "10.1.0.0/16"] });
      void g;
    });
    expect(out).toEqual(["etcd group etcd (aws_security_group.Etcd) allows tcp 2379 from 10.0.0.0/16, 10.1.0.0/16"]);
    const inline = reasons(ETCD_PORT_EXPOSURE, (s) => {
      const etcd = new SecurityGroup(s, "Etcd", {
        name: "etcd",
        vpcId: "vpc-1",
        tags: { "ha-control-plane/role": "etcd" },
        ingress: [
          { protocol: "tcp", fromPort: 2379, toPort: 2379, cidrBlocks: ["10.0.0.0/16"] },
          { protocol: "tcp", fromPort: 2380, toPort: 2380, cidrBlocks: ["10.1.0.0/16"] },
        ],
      });
      void etcd;
    });
    expect(inline).toEqual(["etcd group etcd (aws_security_group.Etcd) allows tcp 2379 from 10.0.0.0/16; tcp 2380 from 10.1.0.0/16"]);
  });

  it("is compliant for trusted sources and ports etcd does not listen on, not applicable for ports known only at apply time", () => {
    const build = (s: TerraformStack) => {
      const g = groups(s);
      ingress(s, "ClientFromApi", g.etcd, 2379, { group: g.api });
      ingress(s, "Icmp", g.etcd, [3, 4], { cidr: "10.0.0.0/16" }, { ipProtocol: "icmp" });
      ingress(s, "Below", g.etcd, [2000, 2378], { cidr: "10.0.0.0/16" });
      ingress(s, "Above", g.etcd, [2381, 3000], { cidr: "10.0.0.0/16" });
      ingress(s, "Unknown", g.etcd, 2379, { cidr: "10.0.0.0/16" }, { fromPort: unknownNumber(s, "from") });
      ingress(s, "OnWorkers", g.nodes, 2379, { cidr: "10.0.0.0/16" });
      ingress(s, "OnOutside", g.etcd, 2379, { cidr: "10.0.0.0/16" }, { securityGroupId: "sg-0fedcba9876543210" });
      new SecurityGroupRule(s, "Out", { type: "egress", securityGroupId: g.etcd.id, protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] });
    };
    expect(verdicts(ETCD_PORT_EXPOSURE, RULE, build)).toEqual([
      `${RULE}.ClientFromApi: ${OK}`,
      `${RULE}.Icmp: ${OK}`,
      `${RULE}.Below: ${OK}`,
      `${RULE}.Above: ${OK}`,
      `${RULE}.Unknown: ${NA} (protocol or ports known only at apply time)`,
      `${RULE}.OnWorkers: ${NA} (the group does not protect etcd)`,
      `${RULE}.OnOutside: ${NA} (the group is not declared in this stack)`,
    ]);
    expect(verdicts(ETCD_PORT_EXPOSURE, "aws_security_group_rule", build)).toEqual([`aws_security_group_rule.Out: ${NA} (not an ingress rule)`]);
  });
});

describe("HA-EC2 reasons and edges (AWS: EBS encryption; provider: aws_ebs_encryption_by_default.enabled defaults to true)", () => {
  it("names each unencrypted volume and why, joined on one finding per resource", () => {
    expect(reasons(UNENCRYPTED_VOLUME, (s) => new EbsVolume(s, "V", { availabilityZone: "eu-west-1a", size: 10, encrypted: false }))).toEqual(["aws_ebs_volume: the volume sets encrypted = false"]);
    expect(reasons(UNENCRYPTED_VOLUME, (s) => new EbsVolume(s, "V", { availabilityZone: "eu-west-1a", size: 10 }))).toEqual([
      "aws_ebs_volume: the volume does not set encrypted (unencrypted unless the account enables EBS encryption by default)",
    ]);
    expect(reasons(UNENCRYPTED_VOLUME, (s) => launchTemplate(s, "Lt", { blockDeviceMappings: [] }))).toEqual([
      "aws_launch_template: declares no block device, so the root volume comes from the AMI unencrypted",
    ]);
    const template = (s: TerraformStack) =>
      launchTemplate(s, "Lt", {
        blockDeviceMappings: [
          { deviceName: "/dev/sda1", ebs: { encrypted: "false" } },
          { deviceName: "/dev/sdf", ebs: { volumeSize: 100 } },
          { deviceName: "/dev/sdg", ebs: { encrypted: "true" } },
        ],
      });
    expect(reasons(UNENCRYPTED_VOLUME, template)).toEqual([
      "aws_launch_template: block device /dev/sda1 sets encrypted = false; block device /dev/sdf does not set encrypted (unencrypted unless the account enables EBS encryption by default)",
    ]);
    const instance = (s: TerraformStack) =>
      new Instance(s, "Vm", {
        ami: "ami-1",
        instanceType: "t3.micro",
        rootBlockDevice: { encrypted: false },
        ebsBlockDevice: [
          { deviceName: "/dev/sdf", encrypted: false },
          { deviceName: "/dev/sdg", encrypted: true },
        ],
      });
    expect(reasons(UNENCRYPTED_VOLUME, instance)).toEqual(["aws_instance: root_block_device sets encrypted = false; ebs_block_device /dev/sdf sets encrypted = false"]);
    expect(reasons(UNENCRYPTED_VOLUME, (s) => new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro" }))).toEqual([
      "aws_instance: declares no root_block_device, so the root volume comes from the AMI unencrypted",
    ]);
    const lc = (s: TerraformStack) => new LaunchConfiguration(s, "Lc", { imageId: "ami-1", instanceType: "t3.micro", rootBlockDevice: { encrypted: false } });
    expect(reasons(UNENCRYPTED_VOLUME, lc)).toEqual(["aws_launch_configuration: root_block_device sets encrypted = false"]);
    expect(reasons(UNENCRYPTED_VOLUME, (s) => new LaunchConfiguration(s, "Lc", { imageId: "ami-1", instanceType: "t3.micro" }))).toEqual([
      "aws_launch_configuration: declares no root_block_device, so the root volume comes from the AMI unencrypted",
    ]);
  });

  it("takes account-wide encryption by default when enabled or left at its default (true), not when disabled", () => {
    const volume = (enabled: boolean | undefined) => (s: TerraformStack) => {
      new EbsEncryptionByDefault(s, "AccountDefault", enabled === undefined ? {} : { enabled });
      new EbsVolume(s, "V", { availabilityZone: "eu-west-1a", size: 10 });
      launchTemplate(s, "Lt", { blockDeviceMappings: [] });
      new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro" });
    };
    expect(reasons(UNENCRYPTED_VOLUME, volume(undefined))).toEqual([]);
    expect(reasons(UNENCRYPTED_VOLUME, volume(true))).toEqual([]);
    expect(verdicts(UNENCRYPTED_VOLUME, "aws_ebs_volume", volume(true))).toEqual([`aws_ebs_volume.V: ${OK}`]);
    expect(reasons(UNENCRYPTED_VOLUME, volume(false))).toHaveLength(3);
    // Explicitly unencrypted stays unencrypted whatever the account default.
    expect(
      reasons(UNENCRYPTED_VOLUME, (s) => {
        new EbsEncryptionByDefault(s, "AccountDefault", {});
        new EbsVolume(s, "V", { availabilityZone: "eu-west-1a", size: 10, encrypted: false });
      }),
    ).toEqual(["aws_ebs_volume: the volume sets encrypted = false"]);
  });

  it("is not applicable when encryption is known only at apply time, or when an instance inherits its template's volumes", () => {
    expect(verdicts(UNENCRYPTED_VOLUME, "aws_ebs_volume", (s) => new EbsVolume(s, "V", { availabilityZone: "eu-west-1a", size: 10, encrypted: new TerraformVariable(s, "enc", { type: "bool" }).booleanValue }))).toEqual([
      `aws_ebs_volume.V: ${NA} (encryption known only at apply time)`,
    ]);
    expect(verdicts(UNENCRYPTED_VOLUME, "aws_instance", (s) => new Instance(s, "Vm", { launchTemplate: { id: launchTemplate(s, "Lt").id } }))).toEqual([
      `aws_instance.Vm: ${NA} (no volume declared (inherits its launch template))`,
    ]);
    // A mapping that only suppresses a device (no_device) or maps an instance store is no EBS volume.
    expect(
      verdicts(UNENCRYPTED_VOLUME, "aws_launch_template", (s) =>
        launchTemplate(s, "Lt", { blockDeviceMappings: [{ deviceName: "/dev/sda1", ebs: { encrypted: "true" } }, { deviceName: "/dev/sdb", noDevice: "" }, { deviceName: "/dev/sdc", virtualName: "ephemeral0" }] }),
      ),
    ).toEqual([`aws_launch_template.Lt: ${OK}`]);
  });
});

describe("HA-BKT2 reasons and edges (S3 Block Public Access; provider: each of the four arguments defaults to false)", () => {
  const ALL = { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true };

  it("names the bucket and the settings left off, an omitted setting counting as off", () => {
    expect(reasons(BUCKET_PUBLIC_ACCESS, (s) => new S3Bucket(s, "B", { bucket: "c1-backups" }))).toEqual(["bucket c1-backups (aws_s3_bucket.B) has no public access block"]);
    const partial = (s: TerraformStack) => new S3BucketPublicAccessBlock(s, "Pab", { bucket: new S3Bucket(s, "B", { bucket: "c1-backups" }).id, blockPublicAcls: true, blockPublicPolicy: true });
    expect(reasons(BUCKET_PUBLIC_ACCESS, partial)).toEqual(["bucket c1-backups (aws_s3_bucket.B)'s public access block leaves ignore_public_acls, restrict_public_buckets off"]);
    const first = (s: TerraformStack) => new S3BucketPublicAccessBlock(s, "Pab", { bucket: new S3Bucket(s, "B", { bucket: "c1-backups" }).id, ...ALL, blockPublicAcls: false });
    expect(reasons(BUCKET_PUBLIC_ACCESS, first)).toEqual(["bucket c1-backups (aws_s3_bucket.B)'s public access block leaves block_public_acls off"]);
  });

  it("takes an account-level block only with all four settings on", () => {
    const account = (settings: Record<string, boolean>) => (s: TerraformStack) => {
      new S3Bucket(s, "B", { bucket: "c1-backups" });
      new S3AccountPublicAccessBlock(s, "Account", settings);
    };
    expect(verdicts(BUCKET_PUBLIC_ACCESS, "aws_s3_bucket", account(ALL))).toEqual([`aws_s3_bucket.B: ${OK}`]);
    expect(reasons(BUCKET_PUBLIC_ACCESS, account({ ...ALL, ignorePublicAcls: false }))).toEqual(["bucket c1-backups (aws_s3_bucket.B) has no public access block"]);
  });

  it("is not applicable when a setting or the bucket a block names is known only at apply time", () => {
    const flag = (s: TerraformStack) =>
      new S3BucketPublicAccessBlock(s, "Pab", { bucket: new S3Bucket(s, "B", { bucket: "c1-backups" }).id, ...ALL, restrictPublicBuckets: new TerraformVariable(s, "restrict", { type: "bool" }).booleanValue });
    expect(verdicts(BUCKET_PUBLIC_ACCESS, "aws_s3_bucket", flag)).toEqual([`aws_s3_bucket.B: ${NA} (a public access block is known only at apply time)`]);
    const account = (s: TerraformStack) => {
      new S3Bucket(s, "B", { bucket: "c1-backups" });
      new S3AccountPublicAccessBlock(s, "Account", { ...ALL, blockPublicPolicy: new TerraformVariable(s, "policy", { type: "bool" }).booleanValue });
    };
    expect(verdicts(BUCKET_PUBLIC_ACCESS, "aws_s3_bucket", account)).toEqual([`aws_s3_bucket.B: ${NA} (a public access block is known only at apply time)`]);
    const named = (s: TerraformStack) => {
      new S3Bucket(s, "B", { bucket: "c1-backups" });
      new S3BucketPublicAccessBlock(s, "Pab", { bucket: unknown(s, "bucket"), ...ALL });
    };
    expect(verdicts(BUCKET_PUBLIC_ACCESS, "aws_s3_bucket", named)).toEqual([`aws_s3_bucket.B: ${NA} (a public access block is known only at apply time)`]);
    // A complete block of its own decides, whatever else is unknown.
    const own = (s: TerraformStack) => {
      new S3BucketPublicAccessBlock(s, "Pab", { bucket: new S3Bucket(s, "B", { bucket: "c1-backups" }).id, ...ALL });
      new S3BucketPublicAccessBlock(s, "Other", { bucket: unknown(s, "bucket"), ...ALL });
    };
    expect(verdicts(BUCKET_PUBLIC_ACCESS, "aws_s3_bucket", own)).toEqual([`aws_s3_bucket.B: ${OK}`]);
  });
});

describe("HA-EC3 reasons and edges (AWS: user data is readable through IMDS and ec2:DescribeInstanceAttribute; PEM labels per RFC 7468)", () => {
  const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK...\n-----END RSA PRIVATE KEY-----\n";

  it("says which attribute carries the key and how it gets there", () => {
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, (s) => launchTemplate(s, "Lt", { userData: Buffer.from(`#!/bin/sh\ncat > /k <<EOF\n${pem}EOF\n`).toString("base64") }))).toEqual([
      'user_data contains a PEM "PRIVATE KEY" block',
    ]);
    const b64 = (s: TerraformStack) => new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userDataBase64: Buffer.from(pem).toString("base64") });
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, b64)).toEqual(['user_data_base64 contains a PEM "PRIVATE KEY" block']);
    const direct = (s: TerraformStack) => launchTemplate(s, "Lt", { userData: Fn.base64encode(`KEY='${new PrivateKey(s, "Key", { algorithm: "ED25519" }).privateKeyOpenssh}'`) });
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, direct)).toEqual(["user_data references tls_private_key.Key.private_key_openssh"]);
    const local = (s: TerraformStack) => {
      const key = new TerraformLocal(s, "node_key", new PrivateKey(s, "Key", { algorithm: "ED25519" }).privateKeyPem);
      launchTemplate(s, "Lt", { userData: Fn.base64encode(`KEY='${key.expression}'`) });
    };
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, local)).toEqual(["user_data references local.node_key, which references tls_private_key.Key.private_key_pem"]);
    // terraform_data's output is its input (Terraform docs, terraform_data).
    const passthrough = (s: TerraformStack) => {
      const data = new DataResource(s, "Carry");
      data.addOverride("input", new PrivateKey(s, "Key", { algorithm: "ED25519" }).privateKeyPem);
      new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: `KEY='${data.getStringAttribute("output")}'` });
    };
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, passthrough)).toEqual(["user_data references terraform_data.Carry.output, which references tls_private_key.Key.private_key_pem"]);
  });

  it("follows a data source's arguments, not a resource's computed attributes", () => {
    // hashicorp/cloudinit's cloudinit_config data source renders its parts' content into `rendered`.
    const data = (s: TerraformStack) => {
      const key = new PrivateKey(s, "Key", { algorithm: "ED25519" });
      const init = new TerraformDataSource(s, "Init", { terraformResourceType: "cloudinit_config" });
      init.addOverride("part", [{ content_type: "text/x-shellscript", content: `echo '${key.privateKeyPem}' > /k` }]);
      new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: init.getStringAttribute("rendered") });
    };
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, data)).toEqual(["user_data references data.cloudinit_config.Init.rendered, which references tls_private_key.Key.private_key_pem"]);
    const computed = (s: TerraformStack) => {
      const key = new PrivateKey(s, "Key", { algorithm: "ED25519" });
      const param = new SsmParameter(s, "Param", { name: "/c1/node-key", type: "SecureString", value: key.privateKeyPem });
      new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: `ARN='${param.arn}' FP='${key.publicKeyFingerprintSha256}'` });
    };
    expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_instance", computed)).toEqual([`aws_instance.Vm: ${OK}`]);
  });

  it("looks into the bootstrap bundle object the user data's HA_BUNDLE_KEY names, and only that one", () => {
    const bundle = (named: string) => (s: TerraformStack) => {
      const key = new PrivateKey(s, "Key", { algorithm: "ED25519" });
      new S3Object(s, "Bundle", { bucket: "c1-bootstrap", key: "bundles/etcd-0/abc.tar.gz", content: `KEY='${key.privateKeyPem}'` });
      new S3Object(s, "Clean", { bucket: "c1-bootstrap", key: "bundles/etcd-1/def.tar.gz", contentBase64: Buffer.from("nothing secret").toString("base64") });
      launchTemplate(s, "Lt", { userData: Buffer.from(`#cloud-config\nwrite_files:\n- path: /etc/node.env\n  content: |\n    HA_BUNDLE_KEY='${named}'\n`).toString("base64") });
    };
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, bundle("bundles/etcd-0/abc.tar.gz"))).toEqual([
      "user_data names bootstrap bundle bundles/etcd-0/abc.tar.gz, whose aws_s3_object.Bundle.content references tls_private_key.Key.private_key_pem",
    ]);
    expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", bundle("bundles/etcd-1/def.tar.gz"))).toEqual([`aws_launch_template.Lt: ${OK}`]);
    // The bundle's content decoded: a PEM block inside base64 content.
    const literal = (s: TerraformStack) => {
      new S3Object(s, "Bundle", { bucket: "c1-bootstrap", key: "bundles/api/1.tar.gz", contentBase64: Buffer.from(pem).toString("base64") });
      new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: "#!/bin/sh\nHA_BUNDLE_KEY='bundles/api/1.tar.gz'\n" });
    };
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, literal)).toEqual(['user_data names bootstrap bundle bundles/api/1.tar.gz, whose aws_s3_object.Bundle.content_base64 contains a PEM "PRIVATE KEY" block']);
  });

  it("is not applicable without user data", () => {
    expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", (s) => launchTemplate(s, "Lt"))).toEqual([`aws_launch_template.Lt: ${NA} (no user data)`]);
  });

  it("finds a PEM block in a list or map of a local, and base64 encoded anywhere on the way", () => {
    const inLocal = (value: unknown) => (s: TerraformStack) => {
      const files = new TerraformLocal(s, "files", value);
      launchTemplate(s, "Lt", { userData: Fn.base64encode(`#!/bin/sh\nF='${files.expression}'\n`) });
    };
    const found = ['user_data references local.files, which contains a PEM "PRIVATE KEY" block'];
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, inLocal(["#!/bin/sh", pem]))).toEqual(found);
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, inLocal({ motd: "hello", key: pem }))).toEqual(found);
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, inLocal(Buffer.from(pem).toString("base64")))).toEqual(found);
    expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", inLocal({ motd: "hello", port: 6443, debug: false, files: ["a"] }))).toEqual([`aws_launch_template.Lt: ${OK}`]);
  });

  it("follows every reference of the user data and every attribute of a resource, and a whole resource", () => {
    const carried = (userData: (carry: DataResource, bucket: S3Bucket) => string) => (s: TerraformStack) => {
      const carry = new DataResource(s, "Carry");
      carry.addOverride("input", new PrivateKey(s, "Key", { algorithm: "ED25519" }).privateKeyPem);
      const bucket = new S3Bucket(s, "B", { bucket: "c1-bootstrap" });
      new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: userData(carry, bucket) });
    };
    const via = (expr: string) => [`user_data references ${expr}, which references tls_private_key.Key.private_key_pem`];
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, carried((c, b) => `B='${b.bucket}' K='${c.getStringAttribute("output")}'`))).toEqual(via("terraform_data.Carry.output"));
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, carried((c) => `ID='${c.id}' K='${c.getStringAttribute("output")}'`))).toEqual(via("terraform_data.Carry.output"));
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, carried(() => "ALL='${jsonencode(terraform_data.Carry)}'"))).toEqual(via("terraform_data.Carry"));
    expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_instance", carried((c, b) => `B='${b.bucket}' ID='${c.id}' R='${new TerraformLocal(b, "region", "eu-west-1").expression}'`))).toEqual([`aws_instance.Vm: ${OK}`]);
  });

  it("checks launch configurations, and finds the bundle key at the very start of the user data", () => {
    const lc = (s: TerraformStack) => new LaunchConfiguration(s, "Lc", { imageId: "ami-0a422d70f727fe93e", instanceType: "t3.micro", userData: pem });
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, lc)).toEqual(['user_data contains a PEM "PRIVATE KEY" block']);
    const first = (s: TerraformStack) => {
      new S3Object(s, "Bundle", { bucket: "c1-bootstrap", key: "bundles/api/1.tar.gz", content: pem });
      new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: "HA_BUNDLE_KEY='bundles/api/1.tar.gz'\n" });
    };
    expect(reasons(PRIVATE_KEY_IN_USER_DATA, first)).toEqual(['user_data names bootstrap bundle bundles/api/1.tar.gz, whose aws_s3_object.Bundle.content contains a PEM "PRIVATE KEY" block']);
  });

  // Provider docs, data source aws_ssm_parameter: `value` and `insecure_value` return the value of
  // the parameter `name` names (insecure_value "never marked as sensitive"); `with_decryption`
  // "Whether to return decrypted SecureString value. Defaults to true." The resource aws_ssm_parameter
  // sets that value with `value` or `insecure_value`.
  describe("a key stored in SSM Parameter Store and read back through data.aws_ssm_parameter", () => {
    const stored = (opts: { byName?: boolean; withDecryption?: boolean; attribute?: "value" | "insecureValue" | "arn" } = {}) => (s: TerraformStack) => {
      const key = new PrivateKey(s, "Key", { algorithm: "ED25519" });
      const param = new SsmParameter(s, "Param", { name: "/c1/node-key", type: "SecureString", value: key.privateKeyPem });
      const read = new DataAwsSsmParameter(s, "Read", { name: opts.byName ? "/c1/node-key" : param.name, withDecryption: opts.withDecryption });
      launchTemplate(s, "Lt", { userData: Fn.base64encode(`#!/bin/sh\nKEY='${read[opts.attribute ?? "value"]}'\n`) });
    };

    it("follows value to the parameter the stack declares, named by reference or by its literal name", () => {
      const expected = "user_data references data.aws_ssm_parameter.Read.value, which reads aws_ssm_parameter.Param.value, which references tls_private_key.Key.private_key_pem";
      expect(reasons(PRIVATE_KEY_IN_USER_DATA, stored())).toEqual([expected]);
      expect(reasons(PRIVATE_KEY_IN_USER_DATA, stored({ byName: true }))).toEqual([expected]);
      expect(reasons(PRIVATE_KEY_IN_USER_DATA, stored({ attribute: "insecureValue" }))).toEqual([
        "user_data references data.aws_ssm_parameter.Read.insecure_value, which reads aws_ssm_parameter.Param.value, which references tls_private_key.Key.private_key_pem",
      ]);
    });

    it("follows insecure_value, and a PEM block written into the parameter", () => {
      const plain = (s: TerraformStack) => {
        new SsmParameter(s, "Param", { name: "/c1/node-key", type: "String", insecureValue: pem });
        const read = new DataAwsSsmParameter(s, "Read", { name: "/c1/node-key" });
        new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: `#!/bin/sh\nKEY='${read.insecureValue}'\n` });
      };
      expect(reasons(PRIVATE_KEY_IN_USER_DATA, plain)).toEqual([
        'user_data references data.aws_ssm_parameter.Read.insecure_value, which reads aws_ssm_parameter.Param.insecure_value, which contains a PEM "PRIVATE KEY" block',
      ]);
    });

    it("follows it into the bootstrap bundle the user data names", () => {
      const bundled = (s: TerraformStack) => {
        const key = new PrivateKey(s, "Key", { algorithm: "ED25519" });
        const param = new SsmParameter(s, "Param", { name: "/c1/node-key", type: "SecureString", value: key.privateKeyPem });
        const read = new DataAwsSsmParameter(s, "Read", { name: param.name });
        new S3Object(s, "Bundle", { bucket: "c1-bootstrap", key: "bundles/etcd-0/abc.tar.gz", content: `KEY='${read.value}'` });
        new Instance(s, "Vm", { ami: "ami-1", instanceType: "t3.micro", userData: "#!/bin/sh\nHA_BUNDLE_KEY='bundles/etcd-0/abc.tar.gz'\n" });
      };
      expect(reasons(PRIVATE_KEY_IN_USER_DATA, bundled)).toEqual([
        "user_data names bootstrap bundle bundles/etcd-0/abc.tar.gz, whose aws_s3_object.Bundle.content references data.aws_ssm_parameter.Read.value, which reads aws_ssm_parameter.Param.value, which references tls_private_key.Key.private_key_pem",
      ]);
    });

    it("passes the parameter's name or ARN, a SecureString read without decryption, and a parameter without a key", () => {
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", stored({ attribute: "arn" }))).toEqual([`aws_launch_template.Lt: ${OK}`]);
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", stored({ withDecryption: false }))).toEqual([`aws_launch_template.Lt: ${OK}`]);
      // A String parameter is never encrypted: with_decryption = false returns it as it is.
      const plainString = (s: TerraformStack) => {
        new SsmParameter(s, "Param", { name: "/c1/node-key", type: "String", insecureValue: pem });
        const read = new DataAwsSsmParameter(s, "Read", { name: "/c1/node-key", withDecryption: false });
        launchTemplate(s, "Lt", { userData: Fn.base64encode(`KEY='${read.insecureValue}'`) });
      };
      expect(reasons(PRIVATE_KEY_IN_USER_DATA, plainString)).toEqual([
        'user_data references data.aws_ssm_parameter.Read.insecure_value, which reads aws_ssm_parameter.Param.insecure_value, which contains a PEM "PRIVATE KEY" block',
      ]);
      const version = (s: TerraformStack) => {
        new SsmParameter(s, "Param", { name: "/c1/kubernetes-version", type: "String", value: "v1.33.5" });
        const read = new DataAwsSsmParameter(s, "Read", { name: "/c1/kubernetes-version" });
        launchTemplate(s, "Lt", { userData: Fn.base64encode(`VERSION='${read.value}'`) });
      };
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", version)).toEqual([`aws_launch_template.Lt: ${OK}`]);
    });

    it("is not applicable when the parameter read is declared outside the stack (its value is known only at apply time)", () => {
      const outside = (s: TerraformStack) => {
        const read = new DataAwsSsmParameter(s, "Read", { name: "/shared/node-key" });
        launchTemplate(s, "Lt", { userData: Fn.base64encode(`KEY='${read.value}'`) });
      };
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", outside)).toEqual([
        `aws_launch_template.Lt: ${NA} (user data reads SSM parameter /shared/node-key (data.aws_ssm_parameter.Read), which this stack does not declare: its value is known only at apply time)`,
      ]);
      // A key found elsewhere in the user data is still reported.
      const both = (s: TerraformStack) => {
        const read = new DataAwsSsmParameter(s, "Read", { name: "/shared/node-key" });
        launchTemplate(s, "Lt", { userData: Fn.base64encode(`A='${read.value}' B='${new PrivateKey(s, "Key", { algorithm: "ED25519" }).privateKeyPem}'`) });
      };
      expect(reasons(PRIVATE_KEY_IN_USER_DATA, both)).toEqual(["user_data references tls_private_key.Key.private_key_pem"]);
      const unnamed = (s: TerraformStack) => {
        const read = new DataAwsSsmParameter(s, "Read", { name: `${unknown(s, "env")}/node-key` });
        launchTemplate(s, "Lt", { userData: Fn.base64encode(`KEY='${read.value}'`) });
      };
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", unnamed)).toEqual([
        `aws_launch_template.Lt: ${NA} (user data reads SSM parameter named by an expression (data.aws_ssm_parameter.Read), which this stack does not declare: its value is known only at apply time)`,
      ]);
    });

    it("matches the parameter by its name only: not another parameter of the stack, not a lookup or another resource the name comes from", () => {
      const NOT_DECLARED = (name: string) => `aws_launch_template.Lt: ${NA} (user data reads SSM parameter ${name} (data.aws_ssm_parameter.Read), which this stack does not declare: its value is known only at apply time)`;
      const others = (name: (s: TerraformStack) => string) => (s: TerraformStack) => {
        const key = new PrivateKey(s, "Key", { algorithm: "ED25519" });
        new SsmParameter(s, "Other", { name: "/c1/other-key", type: "SecureString", value: key.privateKeyPem });
        new SsmParameter(s, "Templated", { name: `${unknown(s, "env")}/templated-key`, type: "SecureString", value: key.privateKeyPem });
        const read = new DataAwsSsmParameter(s, "Read", { name: name(s) });
        launchTemplate(s, "Lt", { userData: Fn.base64encode(`KEY='${read.value}'`) });
      };
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", others(() => "/shared/node-key"))).toEqual([NOT_DECLARED("/shared/node-key")]);
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", others((s) => `${unknown(s, "team")}/node-key`))).toEqual([NOT_DECLARED("named by an expression")]);
      const lookup = (s: TerraformStack) => new DataAwsSsmParameter(s, "Pointer", { name: "/shared/current-key-name" }).name;
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", others(lookup))).toEqual([NOT_DECLARED("named by an expression")]);
      const resource = (s: TerraformStack) => new S3Bucket(s, "Named", { bucket: "c1-key-name" }).bucket;
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", others(resource))).toEqual([NOT_DECLARED("named by an expression")]);
    });

    it("reads the parameter resource's own value as any resource attribute", () => {
      const direct = (s: TerraformStack) => {
        const param = new SsmParameter(s, "Param", { name: "/c1/node-key", type: "SecureString", value: new PrivateKey(s, "Key", { algorithm: "ED25519" }).privateKeyPem });
        launchTemplate(s, "Lt", { userData: Fn.base64encode(`KEY='${param.value}'`) });
      };
      expect(reasons(PRIVATE_KEY_IN_USER_DATA, direct)).toEqual(["user_data references aws_ssm_parameter.Param.value, which references tls_private_key.Key.private_key_pem"]);
      // Another data source's `value` (a Service Quotas lookup) reads no parameter.
      const quota = (s: TerraformStack) => {
        const q = new DataAwsServicequotasServiceQuota(s, "Quota", { serviceCode: "ec2", quotaCode: "L-1216C47A" });
        launchTemplate(s, "Lt", { userData: Fn.base64encode(`VCPUS='${q.value}'`) });
      };
      expect(verdicts(PRIVATE_KEY_IN_USER_DATA, "aws_launch_template", quota)).toEqual([`aws_launch_template.Lt: ${OK}`]);
    });
  });
});

describe("HA-BKT1 reasons and edges (provider: aws_s3_bucket_server_side_encryption_configuration; sse_algorithm is what declares the default)", () => {
  it("names the bucket without a declared default encryption", () => {
    expect(reasons(BUCKET_ENCRYPTION, (s) => new S3Bucket(s, "B", { bucket: "c1-etcd-backups" }))).toEqual(["bucket c1-etcd-backups (aws_s3_bucket.B) has no server-side encryption configuration"]);
  });

  it("accepts the bucket's inline (deprecated) configuration, and is not applicable when a configuration names its bucket by an expression", () => {
    const inline = (s: TerraformStack) =>
      new S3Bucket(s, "B", { bucket: "c1-etcd-backups", serverSideEncryptionConfiguration: { rule: { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" } } } });
    expect(verdicts(BUCKET_ENCRYPTION, "aws_s3_bucket", inline)).toEqual([`aws_s3_bucket.B: ${OK}`]);
    const named = (s: TerraformStack) => {
      new S3Bucket(s, "B", { bucket: "c1-etcd-backups" });
      new S3BucketServerSideEncryptionConfigurationA(s, "Sse", { bucket: unknown(s, "bucket"), rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" } }] });
    };
    expect(verdicts(BUCKET_ENCRYPTION, "aws_s3_bucket", named)).toEqual([`aws_s3_bucket.B: ${NA} (an encryption configuration names its bucket by an expression)`]);
  });
});

describe("HA-IAM1 reasons and edges (IAM: AWS managed policies are arn:<partition>:iam::aws:policy/...)", () => {
  const ADDRESS = "aws_iam_role\\.[A-Za-z0-9_]+";

  it("names the managed policy and the node role, in every partition", () => {
    const attach = (arn: string) => (s: TerraformStack) => {
      const role = new NodeRole(s, "Api", { clusterName: "prod", nodeRole: "apiserver" });
      new IamRolePolicyAttachment(s, "Attach", { role: role.role.name, policyArn: arn });
    };
    for (const arn of ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess", "arn:aws-cn:iam::aws:policy/AdministratorAccess"]) {
      expect(reasons(NODE_ROLE_MANAGED_POLICY, attach(arn))).toEqual([expect.stringMatching(new RegExp(`^attaches AWS managed policy ${arn.replace(/[/]/g, "\\/")} to node role prod-apiserver \\(${ADDRESS}\\)$`))]);
    }
    expect(verdicts(NODE_ROLE_MANAGED_POLICY, "aws_iam_role_policy_attachment", attach("arn:aws:iam::111122223333:policy/aws/prod-extra"))).toEqual([
      `aws_iam_role_policy_attachment.Attach: ${OK}`,
    ]);
    const listed = (s: TerraformStack) => {
      const role = new NodeRole(s, "Api", { clusterName: "prod", nodeRole: "apiserver" });
      role.role.managedPolicyArns = ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "arn:aws:iam::111122223333:policy/mine", "arn:aws:iam::aws:policy/ReadOnlyAccess"];
    };
    expect(reasons(NODE_ROLE_MANAGED_POLICY, listed)).toEqual([
      expect.stringMatching(
        new RegExp(`^node role prod-apiserver \\(${ADDRESS}\\) lists AWS managed policies arn:aws:iam::aws:policy\\/AmazonSSMManagedInstanceCore, arn:aws:iam::aws:policy\\/ReadOnlyAccess in managed_policy_arns$`),
      ),
    ]);
  });

  it("names only the node roles of an aws_iam_policy_attachment, and reads a data.aws_iam_policy's literal ARN", () => {
    const out = reasons(NODE_ROLE_MANAGED_POLICY, (s) => {
      const a = new NodeRole(s, "Etcd0", { clusterName: "prod", nodeRole: "etcd-0" });
      const b = new NodeRole(s, "Etcd1", { clusterName: "prod", nodeRole: "etcd-1" });
      const other = new IamRole(s, "Ci", { name: "ci", assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "codebuild.amazonaws.com" }, Action: "sts:AssumeRole" }] }) });
      const policy = new DataAwsIamPolicy(s, "ReadOnly", { arn: "arn:aws:iam::aws:policy/ReadOnlyAccess" });
      new IamPolicyAttachment(s, "Many", { name: "many", roles: [a.role.name, other.name, b.role.name], policyArn: policy.arn });
    });
    expect(out).toEqual([expect.stringMatching(new RegExp(`^attaches AWS managed policy arn:aws:iam::aws:policy\\/ReadOnlyAccess to node role prod-etcd-0 \\(${ADDRESS}\\), prod-etcd-1 \\(${ADDRESS}\\)$`))]);
    const customer = (s: TerraformStack) => {
      const role = new NodeRole(s, "Api", { clusterName: "prod", nodeRole: "apiserver" });
      new IamRolePolicyAttachment(s, "Attach", { role: role.role.name, policyArn: new DataAwsIamPolicy(s, "Mine", { arn: "arn:aws:iam::111122223333:policy/mine" }).arn });
      new IamRolePolicyAttachment(s, "ByName", { role: role.role.name, policyArn: new DataAwsIamPolicy(s, "Named", { name: "mine" }).arn });
    };
    expect(verdicts(NODE_ROLE_MANAGED_POLICY, "aws_iam_role_policy_attachment", customer)).toEqual([
      `aws_iam_role_policy_attachment.Attach: ${OK}`,
      `aws_iam_role_policy_attachment.ByName: ${OK}`,
    ]);
  });

  it("is not applicable to roles that are not node roles, and their attachments", () => {
    const build = (s: TerraformStack) => {
      const role = new IamRole(s, "Ci", { name: "ci", assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] }) });
      new IamRolePolicyAttachment(s, "Attach", { role: role.name, policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" });
    };
    expect(verdicts(NODE_ROLE_MANAGED_POLICY, "aws_iam_role", build)).toEqual([`aws_iam_role.Ci: ${NA} (not a control-plane node role)`]);
    expect(verdicts(NODE_ROLE_MANAGED_POLICY, "aws_iam_role_policy_attachment", build)).toEqual([`aws_iam_role_policy_attachment.Attach: ${NA} (attaches to no control-plane node role of this stack)`]);
  });
});

describe("HA-OUT1 reasons and edges (Kubernetes: system:masters bypasses RBAC; Terraform: sensitive outputs are plain text in state)", () => {
  function superAdmin(s: TerraformStack, id = "SuperAdmin", organization = "system:masters"): PrivateKey {
    const key = new PrivateKey(s, `${id}Key`, { algorithm: "ECDSA", ecdsaCurve: "P256" });
    new CertRequest(s, `${id}Csr`, { privateKeyPem: key.privateKeyPem, subject: [{ commonName: `kubernetes-${id.toLowerCase()}`, organization }] });
    return key;
  }

  it("names the key and every output that carries it", () => {
    const out = reasons(SUPER_ADMIN_OUTPUT, (s) => {
      const key = superAdmin(s);
      new TerraformOutput(s, "a_key", { value: key.privateKeyPem, sensitive: true });
      new TerraformOutput(s, "b_key_openssh", { value: key.privateKeyOpenssh, sensitive: true });
      new TerraformOutput(s, "c_public", { value: key.publicKeyPem });
    });
    expect(out).toEqual(["the system:masters key tls_private_key.SuperAdminKey is in output a_key, b_key_openssh"]);
  });

  it("follows terraform_data (its output is its input) and nested locals", () => {
    const out = reasons(SUPER_ADMIN_OUTPUT, (s) => {
      const key = superAdmin(s);
      const carry = new DataResource(s, "Carry");
      carry.addOverride("input", key.privateKeyPem);
      const inner = new TerraformLocal(s, "inner", carry.getStringAttribute("output"));
      const outer = new TerraformLocal(s, "outer", Fn.base64encode(inner.expression));
      new TerraformOutput(s, "creds", { value: outer.expression, sensitive: true });
    });
    expect(out).toEqual(["the system:masters key tls_private_key.SuperAdminKey is in output creds"]);
  });

  it("is not applicable to keys of other identities, compliant for a super-admin key kept out of outputs", () => {
    const build = (s: TerraformStack) => {
      superAdmin(s);
      const admin = superAdmin(s, "Admin", "kubeadm:cluster-admins");
      new TerraformOutput(s, "admin_key", { value: admin.privateKeyPem, sensitive: true });
    };
    expect(verdicts(SUPER_ADMIN_OUTPUT, "tls_private_key", build)).toEqual([
      `tls_private_key.SuperAdminKey: ${OK}`,
      `tls_private_key.AdminKey: ${NA} (not the key of a system:masters certificate)`,
    ]);
  });

  it("takes every key a system:masters request may be signed with, and no key of a request without a subject", () => {
    const rotating = (s: TerraformStack) => {
      const [a, b] = ["OldKey", "NewKey"].map((id) => new PrivateKey(s, id, { algorithm: "ECDSA", ecdsaCurve: "P256" }));
      const rotate = new TerraformVariable(s, "rotate", { type: "bool" }).booleanValue;
      new CertRequest(s, "Csr", { privateKeyPem: Fn.conditional(rotate, b.privateKeyPem, a.privateKeyPem), subject: [{ commonName: "kubernetes-super-admin", organization: "system:masters" }] });
      new TerraformOutput(s, "old_key", { value: a.privateKeyPem, sensitive: true });
    };
    expect(verdicts(SUPER_ADMIN_OUTPUT, "tls_private_key", rotating)).toEqual([
      `tls_private_key.OldKey: ${BAD} (the system:masters key tls_private_key.OldKey is in output old_key)`,
      `tls_private_key.NewKey: ${OK}`,
    ]);
    const bare = (s: TerraformStack) => {
      const key = new PrivateKey(s, "Key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
      new CertRequest(s, "Csr", { privateKeyPem: key.privateKeyPem });
      new TerraformOutput(s, "key", { value: key.privateKeyPem, sensitive: true });
    };
    expect(verdicts(SUPER_ADMIN_OUTPUT, "tls_private_key", bare)).toEqual([`tls_private_key.Key: ${NA} (not the key of a system:masters certificate)`]);
  });

  it("follows every reference of an output and every attribute of a resource, a data source's derived attributes, a whole resource and 8 nested locals", () => {
    const out = reasons(SUPER_ADMIN_OUTPUT, (s) => {
      const key = superAdmin(s);
      const bucket = new S3Bucket(s, "B", { bucket: "prod-kubeconfigs" });
      const carry = new DataResource(s, "Carry");
      carry.addOverride("input", key.privateKeyPem);
      new TerraformOutput(s, "a_after_other", { value: `${bucket.bucket}/${carry.getStringAttribute("output")}`, sensitive: true });
      new TerraformOutput(s, "b_after_id", { value: `${carry.id}:${carry.getStringAttribute("output")}`, sensitive: true });
      // hashicorp/cloudinit: cloudinit_config renders its parts' content into `rendered`.
      const init = new TerraformDataSource(s, "Init", { terraformResourceType: "cloudinit_config" });
      init.addOverride("part", [{ content_type: "text/plain", content: key.privateKeyPem }]);
      new TerraformOutput(s, "c_rendered", { value: init.getStringAttribute("rendered"), sensitive: true });
      new TerraformOutput(s, "d_whole", { value: "${terraform_data.Carry}", sensitive: true });
      let value = key.privateKeyPem;
      for (let i = 1; i <= 8; i++) value = Fn.base64encode(new TerraformLocal(s, `l${i}`, value).expression);
      new TerraformOutput(s, "e_eight_locals", { value, sensitive: true });
    });
    expect(out).toEqual(["the system:masters key tls_private_key.SuperAdminKey is in output a_after_other, b_after_id, c_rendered, d_whole, e_eight_locals"]);
  });

  it("passes outputs of the request, of other resources' arguments and of unrelated locals", () => {
    const build = (s: TerraformStack) => {
      const key = new PrivateKey(s, "SuperAdminKey", { algorithm: "ECDSA", ecdsaCurve: "P256" });
      const csr = new CertRequest(s, "SuperAdminCsr", { privateKeyPem: key.privateKeyPem, subject: [{ commonName: "kubernetes-super-admin", organization: "system:masters" }] });
      new TerraformOutput(s, "csr", { value: csr.certRequestPem });
      new TerraformOutput(s, "bucket", { value: new S3Bucket(s, "B", { bucket: "prod-kubeconfigs" }).bucket });
      new TerraformOutput(s, "cluster", { value: new TerraformLocal(s, "cluster_name", "prod").expression });
    };
    expect(verdicts(SUPER_ADMIN_OUTPUT, "tls_private_key", build)).toEqual([`tls_private_key.SuperAdminKey: ${OK}`]);
  });
});

describe("HA-BKP1 reasons and edges (S3 Object Lock: a default retention needs a mode and Days or Years; IAM action wildcards)", () => {
  const ADDRESS = "aws_iam_role\\.[A-Za-z0-9_]+";
  function writer(s: TerraformStack, actions: string[], resources: (bucket: S3Bucket) => string[], bucket: S3Bucket, effect?: string): void {
    const role = new NodeRole(s, "Etcd", { clusterName: "prod", nodeRole: "etcd-0" });
    if (effect === undefined) role.addStatement({ sid: "Backups", actions, resources: resources(bucket) });
    else new IamRolePolicy(s, "Raw", { role: role.role.name, policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: effect, Action: actions, Resource: resources(bucket) }] }) });
  }
  const plain = (s: TerraformStack) => new S3Bucket(s, "B", { bucket: "prod-snapshots" });

  it("names the bucket and the node roles that write to it", () => {
    const out = reasons(BACKUP_BUCKET_OBJECT_LOCK, (s) => {
      const b = plain(s);
      writer(s, ["s3:PutObject"], (x) => [`${x.arn}/etcd/*`], b);
      new NodeRole(s, "Api", { clusterName: "prod", nodeRole: "apiserver" }).addStatement({ sid: "Delete", actions: ["s3:DeleteObjectVersion"], resources: ["arn:aws:s3:::prod-snapshots/*"] });
    });
    expect(out).toEqual([expect.stringMatching(new RegExp(`^bucket prod-snapshots \\(aws_s3_bucket\\.B\\), written by node role prod-etcd-0 \\(${ADDRESS}\\), prod-apiserver \\(${ADDRESS}\\), has no Object Lock$`))]);
  });

  it.each([
    ["s3:*", "arn:aws:s3:::prod-snapshots/*"],
    ["s3:Delete*", "arn:aws:s3:::prod-snapshots/etcd/*"],
    ["s3:DeleteObject", "arn:aws:s3:::prod-snapshots/*"],
    ["s3:PutObject", "*"],
    ["s3:PutObject", "arn:aws:s3:::*"],
    ["s3:PutObject", "arn:aws-us-gov:s3:::prod-snapshots/*"],
    ["s3:PutObject", "arn:aws-cn:s3:::*"],
  ])("counts %s on %s as a write", (action, resource) => {
    const out = reasons(BACKUP_BUCKET_OBJECT_LOCK, (s) => writer(s, [action], () => [resource], plain(s)));
    expect(out).toHaveLength(1);
  });

  it.each([
    ["s3:GetObject", "arn:aws:s3:::prod-snapshots/*"],
    ["s3:PutObject", "arn:aws:s3:::prod-snapshots-other/*"],
    ["s3:PutObjectTagging", "arn:aws:s3:::prod-snapshots/*"],
  ])("does not count %s on %s", (action, resource) => {
    expect(verdicts(BACKUP_BUCKET_OBJECT_LOCK, "aws_s3_bucket", (s) => writer(s, [action], () => [resource], plain(s)))).toEqual([`aws_s3_bucket.B: ${NA} (no control-plane node role writes to it)`]);
  });

  // IAM User Guide, "IAM JSON policy elements: Resource": `*` is every resource, and a `*` ending an
  // ARN segment matches across the colons after it, so arn:aws:s3:::* is every bucket and object -
  // whatever the bucket's name, even one Terraform knows only at apply time.
  describe.each([
    ["a name known only at apply time", (s: TerraformStack) => new S3Bucket(s, "B", { bucket: `${unknown(s, "env")}-snapshots` })],
    ["another bucket's name", (s: TerraformStack) => new S3Bucket(s, "B", { bucket: `${new S3Bucket(s, "Logs", { bucket: "prod-logs" }).bucket}-snapshots` })],
    ["a bucket_prefix", (s: TerraformStack) => new S3Bucket(s, "B", { bucketPrefix: "prod-snapshots-" })],
  ])("a bucket named by %s", (_how, named) => {
    it.each([["*"], ["arn:aws:s3:::*"], ["arn:aws:s3:::*/*"], ["arn:aws-cn:s3:::*"]])("counts s3:PutObject on %s as a write", (resource) => {
      const out = reasons(BACKUP_BUCKET_OBJECT_LOCK, (s) => writer(s, ["s3:PutObject"], () => [resource], named(s)));
      expect(out.filter((r) => r.includes("aws_s3_bucket.B"))).toEqual([
        expect.stringMatching(new RegExp(`^bucket aws_s3_bucket\\.B, written by node role prod-etcd-0 \\(${ADDRESS}\\), has no Object Lock$`)),
      ]);
    });

    it("does not count a write into another, literally named bucket", () => {
      const out = verdicts(BACKUP_BUCKET_OBJECT_LOCK, "aws_s3_bucket", (s) => writer(s, ["s3:PutObject"], () => ["arn:aws:s3:::prod-config/*"], named(s)));
      expect(out.filter((v) => v.startsWith("aws_s3_bucket.B:"))).toEqual([`aws_s3_bucket.B: ${NA} (no control-plane node role writes to it)`]);
    });
  });

  it("counts a statement that writes among other actions or resources, and only node roles", () => {
    expect(reasons(BACKUP_BUCKET_OBJECT_LOCK, (s) => writer(s, ["s3:GetObject", "s3:PutObject"], () => ["arn:aws:s3:::prod-snapshots/*"], plain(s)))).toHaveLength(1);
    expect(reasons(BACKUP_BUCKET_OBJECT_LOCK, (s) => writer(s, ["s3:PutObject"], () => ["arn:aws:s3:::prod-config/*", "arn:aws:s3:::prod-snapshots/*"], plain(s)))).toHaveLength(1);
    const ci = (s: TerraformStack) => {
      plain(s);
      const role = new IamRole(s, "Ci", { name: "ci", assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "codebuild.amazonaws.com" }, Action: "sts:AssumeRole" }] }) });
      new IamRolePolicy(s, "CiWrites", { role: role.name, policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:PutObject", Resource: "arn:aws:s3:::prod-snapshots/*" }] }) });
    };
    expect(verdicts(BACKUP_BUCKET_OBJECT_LOCK, "aws_s3_bucket", ci)).toEqual([`aws_s3_bucket.B: ${NA} (no control-plane node role writes to it)`]);
  });

  it("names every writer when the default retention is missing", () => {
    const out = reasons(BACKUP_BUCKET_OBJECT_LOCK, (s) => {
      const b = new S3Bucket(s, "B", { bucket: "prod-snapshots", objectLockEnabled: true });
      writer(s, ["s3:PutObject"], (x) => [`${x.arn}/*`], b);
      new NodeRole(s, "Api", { clusterName: "prod", nodeRole: "apiserver" }).addStatement({ sid: "Put", actions: ["s3:PutObject"], resources: ["arn:aws:s3:::prod-snapshots/*"] });
    });
    expect(out).toEqual([expect.stringMatching(new RegExp(`^bucket prod-snapshots \\(aws_s3_bucket\\.B\\), written by node role prod-etcd-0 \\(${ADDRESS}\\), prod-apiserver \\(${ADDRESS}\\), has Object Lock but no default retention`))]);
  });

  it("ignores Deny statements", () => {
    expect(verdicts(BACKUP_BUCKET_OBJECT_LOCK, "aws_s3_bucket", (s) => writer(s, ["s3:PutObject"], () => ["arn:aws:s3:::prod-snapshots/*"], plain(s), "Deny"))).toEqual([
      `aws_s3_bucket.B: ${NA} (no control-plane node role writes to it)`,
    ]);
    expect(reasons(BACKUP_BUCKET_OBJECT_LOCK, (s) => writer(s, ["s3:PutObject"], () => ["arn:aws:s3:::prod-snapshots/*"], plain(s), "Allow"))).toHaveLength(1);
  });

  it("wants a default retention with a mode and a period, in the bucket's inline block or a configuration resource", () => {
    const locked = (rule: Record<string, unknown> | undefined) => (s: TerraformStack) => {
      const b = new S3Bucket(s, "B", { bucket: "prod-snapshots", objectLockEnabled: true });
      if (rule) new S3BucketObjectLockConfigurationA(s, "Lock", { bucket: b.bucket, rule: { defaultRetention: rule } });
      writer(s, ["s3:PutObject"], (x) => [`${x.arn}/*`], b);
    };
    expect(verdicts(BACKUP_BUCKET_OBJECT_LOCK, "aws_s3_bucket", locked({ mode: "COMPLIANCE", years: 1 }))).toEqual([`aws_s3_bucket.B: ${OK}`]);
    expect(verdicts(BACKUP_BUCKET_OBJECT_LOCK, "aws_s3_bucket", locked({ mode: "GOVERNANCE", days: 30 }))).toEqual([`aws_s3_bucket.B: ${OK}`]);
    expect(reasons(BACKUP_BUCKET_OBJECT_LOCK, locked({ mode: "GOVERNANCE" }))).toEqual([
      expect.stringMatching(new RegExp(`^bucket prod-snapshots \\(aws_s3_bucket\\.B\\), written by node role prod-etcd-0 \\(${ADDRESS}\\), has Object Lock but no default retention: objects written without a retention can be deleted$`)),
    ]);
    expect(reasons(BACKUP_BUCKET_OBJECT_LOCK, locked(undefined))).toHaveLength(1);
    const inline = (withRule: boolean) => (s: TerraformStack) => {
      const b = new S3Bucket(s, "B", {
        bucket: "prod-snapshots",
        objectLockConfiguration: { objectLockEnabled: "Enabled", ...(withRule ? { rule: { defaultRetention: { mode: "COMPLIANCE", days: 7 } } } : {}) },
      });
      writer(s, ["s3:PutObject"], (x) => [`${x.arn}/*`], b);
    };
    expect(verdicts(BACKUP_BUCKET_OBJECT_LOCK, "aws_s3_bucket", inline(true))).toEqual([`aws_s3_bucket.B: ${OK}`]);
    expect(reasons(BACKUP_BUCKET_OBJECT_LOCK, inline(false))).toEqual([expect.stringMatching(/has Object Lock but no default retention/)]);
    const unknownBucket = (s: TerraformStack) => {
      const b = new S3Bucket(s, "B", { bucket: "prod-snapshots", objectLockEnabled: true });
      new S3BucketObjectLockConfigurationA(s, "Lock", { bucket: unknown(s, "bucket"), rule: { defaultRetention: { mode: "COMPLIANCE", days: 7 } } });
      writer(s, ["s3:PutObject"], (x) => [`${x.arn}/*`], b);
    };
    expect(verdicts(BACKUP_BUCKET_OBJECT_LOCK, "aws_s3_bucket", unknownBucket)).toEqual([`aws_s3_bucket.B: ${NA} (an Object Lock configuration names its bucket by an expression)`]);
  });
});

describe("HA-AZ1 reasons and edges (AWS: an Availability Zone fails independently; HA needs at least two)", () => {
  it("names the tier, the cluster, how many resources and the one zone", () => {
    expect(reasons(SINGLE_ZONE, (s) => roleGroup(s, "Api", "apiserver", [subnet(s, "A", "eu-west-1a", 0), subnet(s, "B", "eu-west-1a", 1)], "prod"))).toEqual([
      "API servers of cluster prod (1 resource(s)) are all in one zone (eu-west-1a)",
    ]);
    const instances = (s: TerraformStack) => {
      const a = subnet(s, "A", "eu-west-1b", 0);
      for (const i of [0, 1]) new Instance(s, `Api${i}`, { ami: "ami-1", instanceType: "t3.micro", subnetId: a.id, tags: { [ROLE_TAG]: "apiserver", [CLUSTER_TAG]: "c1" } });
      new Instance(s, "Api2", { ami: "ami-1", instanceType: "t3.micro", availabilityZone: "eu-west-1b", tags: { [ROLE_TAG]: "apiserver", [CLUSTER_TAG]: "c1" } });
    };
    expect(reasons(SINGLE_ZONE, instances)).toEqual(["API servers of cluster c1 (3 resource(s)) are all in one zone (eu-west-1b)"]);
    expect(verdicts(SINGLE_ZONE, "aws_instance", instances)).toEqual([
      expect.stringMatching(/^aws_instance\.Api0: non-compliant/),
      `aws_instance.Api1: ${NA} (evaluated on aws_instance.Api0)`,
      `aws_instance.Api2: ${NA} (evaluated on aws_instance.Api0)`,
    ]);
  });

  it("reads zones from instances, subnets (by name or id), availability_zones and zone lookups", () => {
    const spread = (s: TerraformStack) => {
      const a = new Subnet(s, "A", { vpcId: "vpc-1", cidrBlock: "10.0.0.0/20", availabilityZoneId: "euw1-az1" });
      new Instance(s, "Api0", { ami: "ami-1", instanceType: "t3.micro", subnetId: a.id, tags: { [ROLE_TAG]: "apiserver" } });
      new Instance(s, "Api1", { ami: "ami-1", instanceType: "t3.micro", availabilityZone: "eu-west-1b", tags: { [ROLE_TAG]: "apiserver" } });
    };
    expect(verdicts(SINGLE_ZONE, "aws_instance", spread)[0]).toBe(`aws_instance.Api0: ${OK}`);
    const asg = (zones: string[]) => (s: TerraformStack) =>
      new AutoscalingGroup(s, "Etcd", { minSize: 3, maxSize: 3, availabilityZones: zones, tag: [{ key: ROLE_TAG, value: "etcd", propagateAtLaunch: true }] });
    expect(verdicts(SINGLE_ZONE, "aws_autoscaling_group", asg(["eu-west-1a", "eu-west-1c"]))).toEqual([`aws_autoscaling_group.Etcd: ${OK}`]);
    expect(reasons(SINGLE_ZONE, asg(["eu-west-1a"]))).toEqual(["etcd members (1 resource(s)) are all in one zone (eu-west-1a)"]);
    // The same index of a lookup is the same zone, written either way.
    const lookup = (i: number, j: number) => (s: TerraformStack) => {
      const zones = zoneLookup(s, "Zones", 2);
      roleGroup(s, "Api", "apiserver", [subnet(s, "A", Fn.element(zones.names, i), 0), subnet(s, "B", `\${data.aws_availability_zones.Zones.names[${j}]}`, 1)]);
    };
    expect(verdicts(SINGLE_ZONE, "aws_autoscaling_group", lookup(0, 1))).toEqual([`aws_autoscaling_group.Api: ${OK}`]);
    expect(reasons(SINGLE_ZONE, lookup(1, 1))).toEqual(["API servers of cluster c1 (1 resource(s)) are all in one zone (data.aws_availability_zones.Zones[1])"]);
  });

  // Terraform docs, element(): "If the given index is greater than the length of the list then the
  // index is 'wrapped around' by taking the index modulo the length of the list." A region may offer
  // two zones (us-west-1 to most accounts): indexes 0 and 2 are then one zone. An index counts only
  // when a postcondition on the lookup's length makes the plan fail before it could wrap.
  it("counts element() indexes of a lookup as zones only below what its postcondition guarantees", () => {
    const spread = (atLeast: number | undefined, condition?: string) => (s: TerraformStack) => {
      const zones = zoneLookup(s, "Zones", atLeast);
      if (condition !== undefined) zones.lifecycle = { postcondition: [{ condition, errorMessage: "too few zones" }] };
      roleGroup(s, "Api", "apiserver", [0, 2].map((i) => subnet(s, `S${i}`, Fn.element(zones.names, i), i)));
    };
    const verdict = (build: (s: TerraformStack) => void) => verdicts(SINGLE_ZONE, "aws_autoscaling_group", build);
    const unknownZones = [`aws_autoscaling_group.Api: ${NA} (zones known only at apply time or outside the stack)`];
    expect(verdict(spread(undefined))).toEqual(unknownZones);
    expect(verdict(spread(2))).toEqual(unknownZones);
    expect(verdict(spread(3))).toEqual([`aws_autoscaling_group.Api: ${OK}`]);
    expect(verdict(spread(undefined, "${length(self.names) > 2}"))).toEqual([`aws_autoscaling_group.Api: ${OK}`]);
    expect(verdict(spread(undefined, "${length(self.names) > 1}"))).toEqual(unknownZones);
    expect(verdict(spread(undefined, "${length(self.zone_ids) >= 3}"))).toEqual([`aws_autoscaling_group.Api: ${OK}`]);
    expect(verdict(spread(undefined, "${length(self.names) <= 3}"))).toEqual(unknownZones);
    expect(verdict(spread(undefined, "${length(self.names) >= 3 || true}"))).toEqual(unknownZones);
    // Terraform: white space inside an expression is insignificant; text around it is another condition.
    expect(verdict(spread(undefined, "${length(self.names)>=3}"))).toEqual([`aws_autoscaling_group.Api: ${OK}`]);
    expect(verdict(spread(undefined, "${var.other}${length(self.names) >= 3}"))).toEqual(unknownZones);
    expect(verdict(spread(undefined, "${length(self.names) >= 3}${var.other}"))).toEqual(unknownZones);
    // The same index twice is one zone, however many zones are guaranteed.
    expect(
      reasons(SINGLE_ZONE, (s) => {
        const zones = zoneLookup(s, "Zones", 3);
        roleGroup(s, "Api", "apiserver", [0, 1].map((i) => subnet(s, `S${i}`, Fn.element(zones.names, 0), i)));
      }),
    ).toEqual(["API servers of cluster c1 (1 resource(s)) are all in one zone (data.aws_availability_zones.Zones[0])"]);
  });

  it("is not applicable when one known zone may be joined by zones known only at apply time, or to other roles", () => {
    const mixed = (s: TerraformStack) => roleGroup(s, "Api", "apiserver", [subnet(s, "A", "eu-west-1a", 0), subnet(s, "B", unknown(s, "zone"), 1)]);
    expect(verdicts(SINGLE_ZONE, "aws_autoscaling_group", mixed)).toEqual([`aws_autoscaling_group.Api: ${NA} (zones known only at apply time or outside the stack)`]);
    expect(verdicts(SINGLE_ZONE, "aws_autoscaling_group", (s) => roleGroup(s, "W", "nodes", [subnet(s, "A", "eu-west-1a", 0)]))).toEqual([
      `aws_autoscaling_group.W: ${NA} (not an API server or etcd resource)`,
    ]);
  });

  // Terraform: white space inside an expression is insignificant, so these all name index 0 of the
  // lookup; any other expression (text before or after the lookup) is a zone known only at apply time.
  it("reads a zone lookup however it is spaced, and nothing around it", () => {
    const lookups = (...zones: string[]) => (s: TerraformStack) => {
      zoneLookup(s, "Zones", 11);
      roleGroup(s, "Api", "apiserver", zones.map((z, i) => subnet(s, `S${i}`, z, i)));
    };
    const Z = "data.aws_availability_zones.Zones";
    const spellings = [`\${element(${Z}.names, 10)}`, `\${element( ${Z}.names , 10 )}`, `\${element(${Z}.names,10)}`, `\${element(\n  ${Z}.names,\n  10\n)}`];
    expect(reasons(SINGLE_ZONE, lookups(...spellings))).toEqual([`API servers of cluster c1 (1 resource(s)) are all in one zone (${Z}[10])`]);
    expect(reasons(SINGLE_ZONE, lookups(`\${${Z}.names[12]}`, `\${${Z}.names[12]}`))).toEqual([`API servers of cluster c1 (1 resource(s)) are all in one zone (${Z}[12])`]);
    const around = [`\${var.p}\${element(${Z}.names, 1)}`, `\${element(${Z}.names, 1)}\${var.s}`, `\${var.p}\${${Z}.names[1]}`, `\${${Z}.names[1]}\${var.s}`];
    for (const other of around) {
      expect(verdicts(SINGLE_ZONE, "aws_autoscaling_group", lookups(`\${${Z}.names[0]}`, other))).toEqual([`aws_autoscaling_group.Api: ${NA} (zones known only at apply time or outside the stack)`]);
    }
  });

  it("is not applicable when a group's zone or subnet list is known only at apply time, and reports a group with none", () => {
    const zoneList = (s: TerraformStack) => {
      const zones = new DataAwsAvailabilityZones(s, "Zones", { state: "available" });
      new AutoscalingGroup(s, "Etcd", { minSize: 3, maxSize: 3, availabilityZones: zones.names, tag: [{ key: ROLE_TAG, value: "etcd", propagateAtLaunch: true }] });
    };
    expect(verdicts(SINGLE_ZONE, "aws_autoscaling_group", zoneList)).toEqual([`aws_autoscaling_group.Etcd: ${NA} (zones known only at apply time or outside the stack)`]);
    const subnetList = (s: TerraformStack) => {
      const subnets = new TerraformVariable(s, "subnets", { type: "list(string)" }).listValue;
      new AutoscalingGroup(s, "Etcd", { minSize: 3, maxSize: 3, vpcZoneIdentifier: subnets, tag: [{ key: ROLE_TAG, value: "etcd", propagateAtLaunch: true }] });
    };
    expect(verdicts(SINGLE_ZONE, "aws_autoscaling_group", subnetList)).toEqual([`aws_autoscaling_group.Etcd: ${NA} (zones known only at apply time or outside the stack)`]);
    const none = (s: TerraformStack) => new AutoscalingGroup(s, "Etcd", { minSize: 3, maxSize: 3, availabilityZones: [], tag: [{ key: ROLE_TAG, value: "etcd", propagateAtLaunch: true }] });
    expect(reasons(SINGLE_ZONE, none)).toEqual(["etcd members (1 resource(s)) are all in no known zone"]);
  });

  it("counts only Auto Scaling groups, instances and etcd volumes of the stack, not other resources or lookups carrying the role tag", () => {
    const tagged = (s: TerraformStack) => {
      roleGroup(s, "Api", "apiserver", [subnet(s, "A", "eu-west-1a", 0)]);
      new SecurityGroup(s, "ApiSg", { name: "api", vpcId: "vpc-0123456789abcdef0", tags: { [ROLE_TAG]: "apiserver", [CLUSTER_TAG]: "c1" } });
      new TerraformDataSource(s, "Existing", { terraformResourceType: "aws_instance" }).addOverride("tags", { [ROLE_TAG]: "apiserver", [CLUSTER_TAG]: "c1" });
    };
    expect(reasons(SINGLE_ZONE, tagged)).toEqual(["API servers of cluster c1 (1 resource(s)) are all in one zone (eu-west-1a)"]);
  });
});

describe("HA-ETCD1 reasons and edges (etcd FAQ: quorum is (n/2)+1, an even member count adds no fault tolerance)", () => {
  it("names the cluster and the count", () => {
    expect(reasons(ETCD_MEMBER_COUNT, (s) => [0, 1, 2, 3].forEach((i) => etcdVolume(s, `Data${i}`, "eu-west-1a", { cluster: "prod" })))).toEqual([
      "etcd of cluster prod has 4 members (data volumes): an even count tolerates no more failures than 3 and can split votes",
    ]);
    expect(reasons(ETCD_MEMBER_COUNT, (s) => (etcdVolume(s, "A", "eu-west-1a", { count: 3 }), etcdVolume(s, "B", "eu-west-1b", { count: 3 })))).toEqual([
      "etcd of cluster c1 has 6 members (data volumes): an even count tolerates no more failures than 5 and can split votes",
    ]);
    expect(verdicts(ETCD_MEMBER_COUNT, "aws_ebs_volume", (s) => (etcdVolume(s, "A", "eu-west-1a", { count: 2 }), etcdVolume(s, "B", "eu-west-1b")))).toEqual([
      `aws_ebs_volume.A: ${OK}`,
      `aws_ebs_volume.B: ${NA} (evaluated on aws_ebs_volume.A)`,
    ]);
  });

  it("is not applicable when a count is known only at apply time, with for_each, or to other volumes", () => {
    const counted = (s: TerraformStack) => {
      etcdVolume(s, "A", "eu-west-1a");
      etcdVolume(s, "B", "eu-west-1a").count = new TerraformVariable(s, "members", { type: "number" }).numberValue;
    };
    expect(verdicts(ETCD_MEMBER_COUNT, "aws_ebs_volume", counted)[0]).toBe(`aws_ebs_volume.A: ${NA} (a volume count is known only at apply time)`);
    const each = (s: TerraformStack) => etcdVolume(s, "A", "eu-west-1a").addOverride("for_each", "${toset([\"a\", \"b\"])}");
    expect(verdicts(ETCD_MEMBER_COUNT, "aws_ebs_volume", each)).toEqual([`aws_ebs_volume.A: ${NA} (a volume uses for_each)`]);
    expect(verdicts(ETCD_MEMBER_COUNT, "aws_ebs_volume", (s) => new EbsVolume(s, "Logs", { availabilityZone: "eu-west-1a", size: 10, encrypted: true }))).toEqual([
      `aws_ebs_volume.Logs: ${NA} (not an etcd data volume)`,
    ]);
  });

  it("counts only etcd data volumes: another volume of the cluster is no member", () => {
    const withLogs = (s: TerraformStack) => {
      [0, 1, 2].forEach((i) => etcdVolume(s, `Data${i}`, "eu-west-1a", { cluster: "prod" }));
      new EbsVolume(s, "Logs", { availabilityZone: "eu-west-1a", size: 10, encrypted: true, tags: { [CLUSTER_TAG]: "prod", [ROLE_TAG]: "etcd" } });
    };
    expect(verdicts(ETCD_MEMBER_COUNT, "aws_ebs_volume", withLogs)).toEqual([
      `aws_ebs_volume.Data0: ${OK}`,
      `aws_ebs_volume.Data1: ${NA} (evaluated on aws_ebs_volume.Data0)`,
      `aws_ebs_volume.Data2: ${NA} (evaluated on aws_ebs_volume.Data0)`,
      `aws_ebs_volume.Logs: ${NA} (not an etcd data volume)`,
    ]);
  });

  it("names no cluster for volumes without the cluster tag", () => {
    const untagged = (s: TerraformStack) =>
      [0, 1].forEach((i) => new EbsVolume(s, `Data${i}`, { availabilityZone: "eu-west-1a", size: 20, encrypted: true, tags: { [PURPOSE_TAG]: ETCD_DATA_PURPOSE } }));
    expect(reasons(ETCD_MEMBER_COUNT, untagged)).toEqual(["etcd has 2 members (data volumes): an even count tolerates no more failures than 1 and can split votes"]);
  });
});

describe("HA-LB1 reasons and edges (Kubernetes: /readyz is the API server's readiness endpoint; provider: health_check protocol defaults to HTTP)", () => {
  it("says what is wrong with the health check", () => {
    expect(reasons(API_HEALTH_CHECK, (s) => apiTargetGroup(s, "Tg"))).toEqual(["the API target group declares no health_check (the NLB default is a TCP check)"]);
    expect(reasons(API_HEALTH_CHECK, (s) => apiTargetGroup(s, "Tg", { ...READYZ, enabled: false }))).toEqual(["the API target group's health check is disabled"]);
    expect(reasons(API_HEALTH_CHECK, (s) => apiTargetGroup(s, "Tg", { protocol: "TCP" }))).toEqual(["the API target group's health check is not HTTPS /readyz: protocol is TCP, path is unset"]);
    expect(reasons(API_HEALTH_CHECK, (s) => apiTargetGroup(s, "Tg", { ...READYZ, path: "/livez" }))).toEqual(['the API target group\'s health check is not HTTPS /readyz: path is "/livez"']);
    // Provider docs, aws_lb_target_group health_check.protocol: "Default is HTTP" (so named, not upper-cased).
    expect(reasons(API_HEALTH_CHECK, (s) => apiTargetGroup(s, "Tg", { path: "/readyz" }))).toEqual(["the API target group's health check is not HTTPS /readyz: protocol is HTTP (provider default)"]);
    expect(reasons(API_HEALTH_CHECK, (s) => apiTargetGroup(s, "Tg", { enabled: true }))).toEqual(["the API target group's health check is not HTTPS /readyz: protocol is HTTP (provider default), path is unset"]);
  });

  it("accepts /readyz with a query, not another path that starts with it", () => {
    expect(verdicts(API_HEALTH_CHECK, "aws_lb_target_group", (s) => apiTargetGroup(s, "Tg", { ...READYZ, path: "/readyz?verbose" }))).toEqual([`aws_lb_target_group.Tg: ${OK}`]);
    expect(reasons(API_HEALTH_CHECK, (s) => apiTargetGroup(s, "Tg", { ...READYZ, path: "/readyzz" }))).toHaveLength(1);
    expect(reasons(API_HEALTH_CHECK, (s) => apiTargetGroup(s, "Tg", { ...READYZ, path: "/api/readyz" }))).toHaveLength(1);
  });

  it("is not applicable when the check is known only at apply time, or to other target groups", () => {
    expect(verdicts(API_HEALTH_CHECK, "aws_lb_target_group", (s) => apiTargetGroup(s, "Tg", { ...READYZ, path: unknown(s, "path") }))).toEqual([
      `aws_lb_target_group.Tg: ${NA} (health check known only at apply time)`,
    ]);
    expect(verdicts(API_HEALTH_CHECK, "aws_lb_target_group", (s) => apiTargetGroup(s, "Web", { protocol: "HTTP", path: "/" }, 80))).toEqual([
      `aws_lb_target_group.Web: ${NA} (not an API target group)`,
    ]);
  });
});

describe("HA-LB2 reasons and edges (provider: health_check interval defaults to 30 s, unhealthy_threshold to 3)", () => {
  it("is compliant from exactly the detection time, reported one second below it", () => {
    const at = (delay: number, check: LbTargetGroupHealthCheck = READYZ) => (s: TerraformStack) => (apiTargetGroup(s, "Tg", check), shutdownDelayOutput(s, delay));
    expect(verdicts(SHUTDOWN_DELAY, "aws_lb_target_group", at(10))).toEqual([`aws_lb_target_group.Tg: ${OK}`]);
    expect(reasons(SHUTDOWN_DELAY, at(9))).toEqual(["api_shutdown_delay_seconds is 9 s but the load balancer needs 10 s (5 s × 2) to stop routing to a shutting-down API server"]);
    const defaults = { protocol: "HTTPS", path: "/readyz" };
    expect(verdicts(SHUTDOWN_DELAY, "aws_lb_target_group", at(90, defaults))).toEqual([`aws_lb_target_group.Tg: ${OK}`]);
    expect(reasons(SHUTDOWN_DELAY, at(89, defaults))).toEqual(["api_shutdown_delay_seconds is 89 s but the load balancer needs 90 s (30 s × 3) to stop routing to a shutting-down API server"]);
    expect(reasons(SHUTDOWN_DELAY, at(29, { ...defaults, interval: 10 }))).toEqual(["api_shutdown_delay_seconds is 29 s but the load balancer needs 30 s (10 s × 3) to stop routing to a shutting-down API server"]);
    expect(reasons(SHUTDOWN_DELAY, at(59, { ...defaults, unhealthyThreshold: 2 }))).toEqual(["api_shutdown_delay_seconds is 59 s but the load balancer needs 60 s (30 s × 2) to stop routing to a shutting-down API server"]);
  });

  it("is not applicable when the delay or the timing is known only at apply time, or without the output", () => {
    expect(verdicts(SHUTDOWN_DELAY, "aws_lb_target_group", (s) => (apiTargetGroup(s, "Tg", READYZ), shutdownDelayOutput(s, unknownNumber(s, "delay"))))).toEqual([
      `aws_lb_target_group.Tg: ${NA} (shutdown delay known only at apply time)`,
    ]);
    expect(verdicts(SHUTDOWN_DELAY, "aws_lb_target_group", (s) => (apiTargetGroup(s, "Tg", { ...READYZ, interval: unknownNumber(s, "interval") }), shutdownDelayOutput(s, 5)))).toEqual([
      `aws_lb_target_group.Tg: ${NA} (health-check timing known only at apply time)`,
    ]);
    expect(verdicts(SHUTDOWN_DELAY, "aws_lb_target_group", (s) => apiTargetGroup(s, "Tg", READYZ))).toEqual([`aws_lb_target_group.Tg: ${NA} (no api_shutdown_delay_seconds output for this target group)`]);
    expect(verdicts(SHUTDOWN_DELAY, "aws_lb_target_group", (s) => (apiTargetGroup(s, "Web", READYZ, 80), shutdownDelayOutput(s, 5)))).toEqual([`aws_lb_target_group.Web: ${NA} (not an API target group)`]);
  });
});

describe("HA-PKI1 and HA-PKI2 edges (kubeadm issues leaf certificates for one year, 8760 h; tls provider: early_renewal_hours)", () => {
  function cert(s: TerraformStack, config: Partial<SelfSignedCertConfig>): void {
    new SelfSignedCert(s, "Cert", { privateKeyPem: new PrivateKey(s, "K", { algorithm: "ED25519" }).privateKeyPem, allowedUses: ["server_auth"], validityPeriodHours: 8760, earlyRenewalHours: 720, ...config });
  }
  const T = "tls_self_signed_cert";

  it("HA-PKI1: a year is the most, one hour more is reported with hours and days", () => {
    expect(verdicts(LEAF_CERTIFICATE_VALIDITY, T, (s) => cert(s, { validityPeriodHours: 8760 }))).toEqual([`${T}.Cert: ${OK}`]);
    expect(reasons(LEAF_CERTIFICATE_VALIDITY, (s) => cert(s, { validityPeriodHours: 8761 }))).toEqual(["the leaf certificate is valid for 8761 hours (365 days), more than 8760"]);
    expect(reasons(LEAF_CERTIFICATE_VALIDITY, (s) => cert(s, { validityPeriodHours: 17520 }))).toEqual(["the leaf certificate is valid for 17520 hours (730 days), more than 8760"]);
  });

  it("HA-PKI2: says why a renewal window fails, and passes one an hour shorter than the validity", () => {
    expect(reasons(LEAF_CERTIFICATE_RENEWAL, (s) => cert(s, { earlyRenewalHours: undefined }))).toEqual([
      "the leaf certificate has no early renewal (early_renewal_hours unset or 0): it will expire in place",
    ]);
    expect(reasons(LEAF_CERTIFICATE_RENEWAL, (s) => cert(s, { validityPeriodHours: 720, earlyRenewalHours: 721 }))).toEqual([
      "early_renewal_hours (721) is not shorter than validity_period_hours (720): the certificate is re-issued on every apply",
    ]);
    expect(verdicts(LEAF_CERTIFICATE_RENEWAL, T, (s) => cert(s, { validityPeriodHours: 720, earlyRenewalHours: 719 }))).toEqual([`${T}.Cert: ${OK}`]);
  });

  it("both are not applicable to CA certificates and to values known only at apply time", () => {
    const ca = (s: TerraformStack) => cert(s, { isCaCertificate: true, validityPeriodHours: 87600, earlyRenewalHours: undefined });
    expect(verdicts(LEAF_CERTIFICATE_VALIDITY, T, ca)).toEqual([`${T}.Cert: ${NA} (a CA certificate)`]);
    expect(verdicts(LEAF_CERTIFICATE_RENEWAL, T, ca)).toEqual([`${T}.Cert: ${NA} (a CA certificate)`]);
    const unknownCa = (s: TerraformStack) => cert(s, { isCaCertificate: new TerraformVariable(s, "ca", { type: "bool" }).booleanValue });
    expect(verdicts(LEAF_CERTIFICATE_VALIDITY, T, unknownCa)).toEqual([`${T}.Cert: ${NA} (is_ca_certificate known only at apply time)`]);
    expect(verdicts(LEAF_CERTIFICATE_RENEWAL, T, unknownCa)).toEqual([`${T}.Cert: ${NA} (is_ca_certificate known only at apply time)`]);
    expect(verdicts(LEAF_CERTIFICATE_VALIDITY, T, (s) => cert(s, { validityPeriodHours: unknownNumber(s, "hours") }))).toEqual([`${T}.Cert: ${NA} (validity known only at apply time)`]);
    expect(verdicts(LEAF_CERTIFICATE_RENEWAL, T, (s) => cert(s, { earlyRenewalHours: unknownNumber(s, "early") }))).toEqual([`${T}.Cert: ${NA} (renewal known only at apply time)`]);
    expect(verdicts(LEAF_CERTIFICATE_RENEWAL, T, (s) => cert(s, { validityPeriodHours: unknownNumber(s, "hours") }))).toEqual([`${T}.Cert: ${NA} (renewal known only at apply time)`]);
  });
});
