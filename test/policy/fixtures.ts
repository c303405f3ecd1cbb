/** Small resource builders for the policy-rule fixtures (provider classes imported by path). */
import { Construct } from "constructs";
import { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { EbsVolume } from "@cdktf/provider-aws/lib/ebs-volume";
import { LaunchTemplate, LaunchTemplateConfig } from "@cdktf/provider-aws/lib/launch-template";
import { LbTargetGroup, LbTargetGroupHealthCheck } from "@cdktf/provider-aws/lib/lb-target-group";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { VpcSecurityGroupIngressRule, VpcSecurityGroupIngressRuleConfig } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { TerraformOutput } from "../../lib/core";
import { CLUSTER_TAG, ROLE_TAG } from "../../lib/tags";
import { ETCD_DATA_PURPOSE, PURPOSE_TAG } from "../../lib/etcd/etcd-cluster";

/** A security group tagged with a control-plane role (`api-lb`, `apiserver`, `etcd`, `nodes`). */
export function group(scope: Construct, id: string, role?: string): SecurityGroup {
  return new SecurityGroup(scope, id, { name: id.toLowerCase(), vpcId: "vpc-0123456789abcdef0", tags: role ? { [ROLE_TAG]: role } : {} });
}

/** A TCP ingress rule on `to` for `port` (or a range), from a CIDR or a group. */
export function ingress(
  scope: Construct,
  id: string,
  to: SecurityGroup,
  port: number | [number, number],
  from: { cidr?: string; cidr6?: string; group?: SecurityGroup },
  extra: Partial<VpcSecurityGroupIngressRuleConfig> = {},
): VpcSecurityGroupIngressRule {
  const [fromPort, toPort] = typeof port === "number" ? [port, port] : port;
  return new VpcSecurityGroupIngressRule(scope, id, {
    securityGroupId: to.id,
    ipProtocol: "tcp",
    fromPort,
    toPort,
    cidrIpv4: from.cidr,
    cidrIpv6: from.cidr6,
    referencedSecurityGroupId: from.group?.id,
    ...extra,
  });
}

/** A hardened launch template (IMDSv2, encrypted root), with overrides. */
export function launchTemplate(scope: Construct, id: string, overrides: Partial<LaunchTemplateConfig> = {}): LaunchTemplate {
  return new LaunchTemplate(scope, id, {
    name: id.toLowerCase(),
    imageId: "ami-0a422d70f727fe93e",
    instanceType: "m6i.large",
    metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
    blockDeviceMappings: [{ deviceName: "/dev/sda1", ebs: { volumeSize: 30, volumeType: "gp3", encrypted: "true" } }],
    ...overrides,
  });
}

/** A private subnet in `zone` (a literal zone or an expression). */
/**
 * A zone lookup (`data.aws_availability_zones.<id>`). With `atLeast`, a postcondition
 * `length(self.names) >= atLeast` makes the plan fail when the region offers fewer zones; without
 * it, `element(names, i)` wraps around (Terraform docs: "the index is 'wrapped around' by taking the
 * index modulo the length of the list"), so its indexes are not known to be distinct zones.
 */
export function zoneLookup(scope: Construct, id: string, atLeast?: number): DataAwsAvailabilityZones {
  return new DataAwsAvailabilityZones(scope, id, {
    state: "available",
    ...(atLeast !== undefined ? { lifecycle: { postcondition: [{ condition: `\${length(self.names) >= ${atLeast}}`, errorMessage: "too few zones" }] } } : {}),
  });
}

export function subnet(scope: Construct, id: string, zone: string, index: number): Subnet {
  return new Subnet(scope, id, { vpcId: "vpc-0123456789abcdef0", cidrBlock: `10.0.${index * 16}.0/20`, availabilityZone: zone });
}

/** An Auto Scaling group of a control-plane role over subnets. */
export function roleGroup(scope: Construct, id: string, role: string, subnets: readonly (Subnet | string)[], cluster = "c1"): AutoscalingGroup {
  const template = launchTemplate(scope, `${id}Template`);
  return new AutoscalingGroup(scope, id, {
    minSize: 1,
    maxSize: 3,
    vpcZoneIdentifier: subnets.map((s) => (typeof s === "string" ? s : s.id)),
    launchTemplate: { id: template.id, version: "$Default" },
    tag: [
      { key: ROLE_TAG, value: role, propagateAtLaunch: true },
      { key: CLUSTER_TAG, value: cluster, propagateAtLaunch: true },
    ],
  });
}

/** An encrypted etcd data volume in `zone`. */
export function etcdVolume(scope: Construct, id: string, zone: string, extra: { count?: number; cluster?: string } = {}): EbsVolume {
  return new EbsVolume(scope, id, {
    availabilityZone: zone,
    size: 20,
    type: "gp3",
    encrypted: true,
    count: extra.count,
    tags: { [PURPOSE_TAG]: ETCD_DATA_PURPOSE, [ROLE_TAG]: "etcd", [CLUSTER_TAG]: extra.cluster ?? "c1" },
  });
}

/** An API target group (port 6443) with a health check. */
export function apiTargetGroup(scope: Construct, id: string, healthCheck?: LbTargetGroupHealthCheck, port = 6443): LbTargetGroup {
  return new LbTargetGroup(scope, id, { name: id.toLowerCase(), port, protocol: "TCP", vpcId: "vpc-0123456789abcdef0", healthCheck });
}

/** The health check `ApiLoadBalancer` declares. */
export const READYZ: LbTargetGroupHealthCheck = { enabled: true, protocol: "HTTPS", port: "traffic-port", path: "/readyz", matcher: "200", interval: 5, timeout: 3, healthyThreshold: 2, unhealthyThreshold: 2 };

/** The `api_shutdown_delay_seconds` output `HaControlPlane` publishes. */
export function shutdownDelayOutput(scope: Construct, seconds: number | string): TerraformOutput {
  return new TerraformOutput(scope, "api_shutdown_delay_seconds", { value: seconds });
}
