/**
 * Acme's internal blueprint, as Acme's platform team would publish it in its own package (say
 * `@acme/k8s-blueprint`): organisation defaults, the built-in presets plus a `staging` one, and the
 * state backend every cluster uses. Product teams import `acmeBlueprint` and only name their
 * cluster, preset, zones and network.
 */
import { NatGatewayMode } from "cdktf-ha-control-plane";
import { BUILT_IN_PRESETS, PlatformBlueprint, PresetDefinition, S3StateBackend } from "cdktf-ha-control-plane/blueprint";

/** Acme's region and its pinned node image (Ubuntu 24.04 LTS amd64, eu-west-1). */
export const ACME_REGION = "eu-west-1";

/** A cheaper highly available shape for pre-production: 3 etcd members, one NAT gateway. */
export const STAGING_PRESET: PresetDefinition = {
  description: "pre-production: 3 zones, 3 API servers, 3 etcd members, one NAT gateway",
  settings: { apiServerCount: 3, etcdMemberCount: 3, natGateways: NatGatewayMode.SINGLE, loadBalancerDeletionProtection: true, protectEtcdDataVolumes: true },
  constraints: { minAvailabilityZones: 3, minApiServers: 3, minEtcdMembers: 3, allowNonHa: false },
};

/**
 * Every stack keeps its state in Acme's encrypted, versioned state bucket, one key per cluster and
 * stack, locked with S3-native lock files (no DynamoDB table). The cluster-objects stack reads the
 * control-plane stack's outputs from there.
 */
export const ACME_STATE_BACKEND = new S3StateBackend({ bucket: "acme-terraform-state", region: ACME_REGION, keyPrefix: "kubernetes" });

/** The blueprint. */
export const acmeBlueprint = new PlatformBlueprint({
  name: "acme-platform",
  defaults: {
    region: ACME_REGION,
    tags: { owner: "platform-team", "cost-center": "cc-4711" },
    apiServerInstanceType: "m7i.large",
    etcdInstanceType: "m7i.large",
    // Acme's VPN: the only client network outside the VPC that may reach an API endpoint.
    allowedApiCidrs: ["10.20.0.0/16"],
    kubernetesVersion: "1.33.5",
    amiIds: { [ACME_REGION]: "ami-0a422d70f727fe93e" },
    alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:acme-platform-alarms",
    // The CI role applying the cluster-objects stacks: the only reader of their credentials secret.
    clusterObjectsReaderRoleArn: "arn:aws:iam::123456789012:role/acme-cluster-objects-deployer",
    clusterObjects: {
      platformAdminGroups: ["acme:platform-sre"],
      // A weekly scheduled deploy keeps a valid token: 7 days, rotated by any deploy in the last 4.
      bootstrapToken: { ttlHours: 168, earlyRenewalHours: 96 },
    },
  },
  presets: { ...BUILT_IN_PRESETS, staging: STAGING_PRESET },
  stateBackend: ACME_STATE_BACKEND,
});
