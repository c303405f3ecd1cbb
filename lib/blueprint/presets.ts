import { HaControlPlaneProps } from "../control-plane";
import { ClusterObjectsOptions } from "../cluster/cluster-objects";
import { NatGatewayMode } from "../network/network";

/**
 * Every `HaControlPlane` prop except the cluster name: what org defaults, presets and per-cluster
 * overrides set.
 */
export type ControlPlaneSettings = Omit<HaControlPlaneProps, "clusterName">;

/** Names of the built-in presets. */
export enum BlueprintPreset {
  /** 3 zones, 3 API servers, 5 etcd members, deletion protection, a NAT gateway per zone. */
  PRODUCTION = "production",
  /** Explicitly not highly available: 1 API server, 1 etcd member, one NAT gateway, no deletion protection. */
  DEVELOPMENT = "development",
}

/** What a preset guarantees, whatever the per-cluster overrides say. */
export interface PresetConstraints {
  /**
   * Fewest availability zones.
   * @default 1
   */
  readonly minAvailabilityZones?: number;
  /**
   * Fewest API servers.
   * @default 1
   */
  readonly minApiServers?: number;
  /**
   * Fewest etcd members.
   * @default 1
   */
  readonly minEtcdMembers?: number;
  /**
   * Whether `allowSingleApiServer`, `allowNonHaEtcd`, `allowSingleZone` and `allowEtcdZoneQuorumLoss`
   * may be set.
   * @default false
   */
  readonly allowNonHa?: boolean;
  /**
   * Refuse turning off load-balancer deletion protection or etcd volume protection.
   * @default false
   */
  readonly requireDeletionProtection?: boolean;
  /**
   * Refuse a single NAT gateway (one zone's outage would cut every zone's egress).
   * @default false
   */
  readonly requireNatGatewayPerZone?: boolean;
}

/** A policy-pack rule a preset silences on its control planes, with the reason. */
export interface PresetPolicySuppression {
  /** Rule id, e.g. `HA-AZ1`. */
  readonly ruleId: string;
  /** Why (at least 10 characters; recorded in the synthesized JSON). */
  readonly reason: string;
}

/** A named preset of a blueprint. */
export interface PresetDefinition {
  /** What the preset is for (shown in errors). */
  readonly description: string;
  /** Control-plane settings the preset applies over the organisation defaults. */
  readonly settings: ControlPlaneSettings;
  /**
   * Cluster-object settings the preset applies over the organisation defaults.
   * @default - none
   */
  readonly clusterObjects?: ClusterObjectsOptions;
  /**
   * What overrides may not undo.
   * @default - no constraint
   */
  readonly constraints?: PresetConstraints;
  /**
   * Policy-pack rules silenced on the preset's control planes.
   * @default - none
   */
  readonly policySuppressions?: readonly PresetPolicySuppression[];
}

/**
 * The `production` preset: 3 API servers, 5 etcd members, a NAT gateway per zone, deletion
 * protection on the load balancer and etcd volumes; a cluster must span at least 3 zones and
 * cannot lower the counts below 3 or set any non-HA acknowledgement (ConfigError).
 */
export const PRODUCTION_PRESET: PresetDefinition = {
  description: "highly available: 3 zones, 3 API servers, 5 etcd members, deletion protection, a NAT gateway per zone",
  settings: {
    apiServerCount: 3,
    etcdMemberCount: 5,
    natGateways: NatGatewayMode.PER_AZ,
    loadBalancerDeletionProtection: true,
    protectEtcdDataVolumes: true,
  },
  constraints: {
    minAvailabilityZones: 3,
    minApiServers: 3,
    minEtcdMembers: 3,
    allowNonHa: false,
    requireDeletionProtection: true,
    requireNatGatewayPerZone: true,
  },
};

/**
 * The `development` preset: explicitly not highly available — 1 API server, 1 etcd member (both
 * acknowledged), one NAT gateway, no deletion protection; silences policy rule HA-AZ1.
 */
export const DEVELOPMENT_PRESET: PresetDefinition = {
  description: "explicitly not highly available: 1 API server, 1 etcd member, one NAT gateway, no deletion protection",
  settings: {
    apiServerCount: 1,
    allowSingleApiServer: true,
    etcdMemberCount: 1,
    allowNonHaEtcd: true,
    natGateways: NatGatewayMode.SINGLE,
    loadBalancerDeletionProtection: false,
    protectEtcdDataVolumes: false,
  },
  constraints: { allowNonHa: true },
  policySuppressions: [{ ruleId: "HA-AZ1", reason: "development preset: one API server and one etcd member by design, not highly available" }],
};

/** The built-in presets by name; spread them into `presets` to add your own. */
export const BUILT_IN_PRESETS: Readonly<Record<string, PresetDefinition>> = {
  [BlueprintPreset.PRODUCTION]: PRODUCTION_PRESET,
  [BlueprintPreset.DEVELOPMENT]: DEVELOPMENT_PRESET,
};
