import { Construct } from "constructs";
import { TerraformStack } from "../core";
import { HaControlPlaneProps } from "../control-plane";
import { ClusterObjectsOptions } from "../cluster/cluster-objects";
import type { KubernetesBinaryMirror } from "../bootstrap/kubernetes/binaries";
import type { NodeImage } from "../compute/ami";
import type { EtcdRelease } from "../bootstrap/etcd";
import { ClusterObjectsStack } from "../cluster/cluster-objects-stack";
import { ProviderIdentity } from "../cluster/access-secret";
import { checkPriorityClasses } from "../cluster/priority-classes";
import { ConfigError, describeValue } from "../errors";
import { EtcdTopology } from "../etcd/etcd-cluster";
import { parseIpv4Cidr } from "../network/cidr";
import { NatGatewayMode } from "../network/network";
import { ClusterEncryptionKey } from "../security/encryption-key";
import { RESERVED_TAG_COUNT } from "../tags";
import { DNS_LABEL, checkAmiId, checkClusterName, checkInstanceType, checkKubernetesVersion, checkTags, isUnresolved } from "../validate";
import { ControlPlaneStack } from "./control-plane-stack";
import { BUILT_IN_PRESETS, ControlPlaneSettings, PresetConstraints, PresetDefinition, PresetPolicySuppression } from "./presets";

/** Organisation-wide defaults every cluster of a blueprint starts from. */
export interface OrganisationDefaults {
  /**
   * AWS region of clusters that name none.
   * @default - none: every cluster must name its region
   */
  readonly region?: string;
  /**
   * Tags on every resource; a cluster's `overrides.tags` are merged over them (a cluster cannot drop one).
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * EC2 instance type of every cluster's API server nodes (family.size; a malformed type is a
   * ConfigError); a preset or a cluster may override it.
   * @default - the library's ("m6i.large")
   */
  readonly apiServerInstanceType?: string;
  /**
   * EC2 instance type of every cluster's dedicated etcd nodes (unused when etcd is stacked); a
   * preset or a cluster may override it.
   * @default - the library's ("m6i.large")
   */
  readonly etcdInstanceType?: string;
  /**
   * Client networks allowed to reach the API endpoints (replaced, not merged, by a cluster's own list).
   * @default []
   */
  readonly allowedApiCidrs?: readonly string[];
  /**
   * KMS key for volumes and node secrets; must be in the cluster's region.
   * @default - a new key per cluster
   */
  readonly kmsKeyArn?: string;
  /**
   * Kubernetes release.
   * @default - the library's ("1.33.5")
   */
  readonly kubernetesVersion?: string;
  /**
   * The organisation's node image per region (pinned: a new image rolls the API servers), built from `nodeImage`.
   * @default - none: the newest official image of `nodeImage` looked up at plan time (needs credentials)
   */
  readonly amiIds?: Readonly<Record<string, string>>;
  /**
   * Operating system of the control-plane nodes (`HaControlPlane.nodeImage`).
   * @default - NodeImage.UBUNTU_24_04
   */
  readonly nodeImage?: NodeImage;
  /**
   * Registry mirror of the Kubernetes images (`HaControlPlane.imageRepository`; also the cluster
   * objects' kube-proxy and CoreDNS).
   * @default - "registry.k8s.io"
   */
  readonly imageRepository?: string;
  /**
   * Binary mirror of kubelet, kubeadm and kubectl with pinned checksums
   * (`HaControlPlane.kubernetesBinaryMirror`); its `version` must match every cluster's Kubernetes release.
   * @default - the Kubernetes apt repository
   */
  readonly kubernetesBinaryMirror?: KubernetesBinaryMirror;
  /**
   * The etcd release every cluster installs, e.g. with the organisation's mirror
   * (`HaControlPlane.etcdRelease`).
   * @default - the library's (etcd 3.5.21 from GitHub)
   */
  readonly etcdRelease?: EtcdRelease;
  /**
   * VPC endpoints for the AWS services nodes call, node credentials usable only through them
   * (`HaControlPlane.vpcEndpoints`).
   * @default false
   */
  readonly vpcEndpoints?: boolean;
  /**
   * Destinations outside the VPC nodes may reach on 443/80 (`HaControlPlane.internetEgress`); `[]`
   * for none (needs `vpcEndpoints` and a mirror-only `etcdRelease`).
   * @default ["0.0.0.0/0"]
   */
  readonly internetEgress?: readonly string[];
  /**
   * SNS topic the control planes' alarms notify (passed through as `HaControlPlane.alarmTopicArn`).
   * @default - a new topic per cluster
   */
  readonly alarmTopicArn?: string;
  /**
   * ARN of the IAM role that applies the clusters' cluster-objects stacks (the only reader of the
   * secret carrying their API credentials; see `ClusterAccessSecret`).
   * @default - none: every cluster request must name one
   */
  readonly clusterObjectsReaderRoleArn?: string;
  /**
   * Cluster-object settings (admin groups, priority classes, token lifetime).
   * @default - the library's
   */
  readonly clusterObjects?: ClusterObjectsOptions;
}

/** Which stack of a cluster. */
export enum BlueprintStackKind {
  /** AWS resources (`ControlPlaneStack`). */
  CONTROL_PLANE = "control-plane",
  /** In-cluster objects (`ClusterObjectsStack`). */
  CLUSTER_OBJECTS = "cluster-objects",
}

/** Configures where a blueprint's stacks keep their state (e.g. an `S3Backend` per stack). */
export interface IStateBackendConfigurator {
  /** Called once per stack, right after the stack is created. */
  configure(stack: TerraformStack, clusterName: string, kind: BlueprintStackKind): void;
}

/** Props of {@link PlatformBlueprint}. */
export interface PlatformBlueprintProps {
  /** Blueprint name (a DNS label), recorded in the `blueprint/name` tag. */
  readonly name: string;
  /**
   * Organisation defaults.
   * @default - none
   */
  readonly defaults?: OrganisationDefaults;
  /**
   * Named presets. Spread `BUILT_IN_PRESETS` to keep production and development.
   * @default BUILT_IN_PRESETS
   */
  readonly presets?: Readonly<Record<string, PresetDefinition>>;
  /**
   * Check every control-plane stack with `HaPolicyPack`.
   * @default true
   */
  readonly policyPack?: boolean;
  /**
   * State backend of every stack.
   * @default - cdktf's local backend
   */
  readonly stateBackend?: IStateBackendConfigurator;
}

/** One cluster asked of a blueprint. */
export interface ClusterRequest {
  /** Cluster name (a DNS label of 1–40 characters). */
  readonly clusterName: string;
  /** Preset name: a `BlueprintPreset` or one of the blueprint's own. */
  readonly preset: string;
  /**
   * AWS region.
   * @default - the organisation default region
   */
  readonly region?: string;
  /**
   * Per-cluster control-plane settings over the preset (validated against its constraints). `tags`
   * are merged over the organisation's.
   * @default - none
   */
  readonly overrides?: ControlPlaneSettings;
  /**
   * ARN of the IAM role that applies this cluster's cluster-objects stack.
   * @default - the organisation default `clusterObjectsReaderRoleArn`
   */
  readonly clusterObjectsReaderRoleArn?: string;
  /**
   * Identity delivered to the cluster-objects stack: `SUPER_ADMIN` on the first deploy, `ADMIN` from
   * the second deploy on (see `ControlPlaneStackProps.providerIdentity`).
   * @default ProviderIdentity.SUPER_ADMIN
   */
  readonly providerIdentity?: ProviderIdentity;
  /**
   * Per-cluster cluster-object settings over the preset's and the organisation's (each key replaces
   * theirs, except `bootstrapToken`, merged field by field).
   * @default - none
   */
  readonly clusterObjects?: ClusterObjectsOptions;
}

/** A cluster as the blueprint resolved it. */
export interface ResolvedCluster {
  /** Name of the blueprint that resolved the cluster (tagged as `blueprint/name`). */
  readonly blueprint: string;
  /** The requested cluster's name, as passed to `HaControlPlane`. */
  readonly clusterName: string;
  /** The preset the cluster was resolved with (tagged as `blueprint/preset`). */
  readonly preset: string;
  /** The AWS region the cluster is deployed to (the control-plane stack's provider region). */
  readonly region: string;
  /** Props for `HaControlPlane`. */
  readonly controlPlaneProps: HaControlPlaneProps;
  /** Options of the cluster-objects stack. */
  readonly clusterObjects: ClusterObjectsOptions;
  /**
   * The SNS topic alarms notify, when the organisation or the cluster names one.
   * @default - none: alarms are declared without a notification target
   */
  readonly alarmTopicArn?: string;
  /** Where each set prop came from: `defaults`, `presets.<name>.settings` or `overrides`. */
  readonly origins: Readonly<Record<string, string>>;
  /** Policy-pack rules the preset silences. */
  readonly policySuppressions: readonly PresetPolicySuppression[];
}

/** The two stacks of a cluster created from a blueprint. */
export interface BlueprintCluster {
  /** What the blueprint resolved. */
  readonly resolved: ResolvedCluster;
  /** Stack 1: AWS resources. */
  readonly controlPlaneStack: ControlPlaneStack;
  /** Stack 2: in-cluster objects, configured from stack 1. */
  readonly clusterObjectsStack: ClusterObjectsStack;
}

/** Tags a blueprint adds to every resource. */
export const BLUEPRINT_TAGS = {
  /** Tag key holding the blueprint's name: find every cluster one blueprint produced. */
  name: "blueprint/name",
  /** Tag key holding the preset a cluster was resolved with (`production`, `development`, ...). */
  preset: "blueprint/preset",
} as const;

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

/**
 * A platform team's internal blueprint: organisation defaults applied consistently, named presets
 * with constraints per-cluster overrides cannot break, producing validated `HaControlPlaneProps`
 * and, on request, both stacks of a cluster.
 *
 * Layers, later wins: library defaults → organisation defaults → preset → per-cluster overrides
 * (tags are merged instead). Every error names the layer a bad value came from
 * (`overrides.etcdMemberCount`, `defaults.kmsKeyArn`, `presets.production.settings.apiServerCount`).
 */
export class PlatformBlueprint {
  /** The blueprint's name, tagged as `blueprint/name` on every resource of its clusters. */
  public readonly name: string;
  /** Organisation defaults. */
  public readonly defaults: OrganisationDefaults;
  /** Presets by name. */
  public readonly presets: Readonly<Record<string, PresetDefinition>>;
  private readonly props: PlatformBlueprintProps;

  constructor(props: PlatformBlueprintProps) {
    if (typeof props.name !== "string" || !DNS_LABEL.test(props.name) || props.name.length > 63) {
      throw new ConfigError("name", props.name, "must be a DNS label (it goes into a tag value and error messages)", 'use e.g. "acme-platform"');
    }
    this.props = props;
    this.name = props.name;
    this.defaults = props.defaults ?? {};
    this.presets = props.presets ?? BUILT_IN_PRESETS;
    checkDefaults(this.defaults);
    if (Object.keys(this.presets).length === 0) {
      throw new ConfigError("presets", this.presets, "a blueprint without presets can build no cluster", "pass BUILT_IN_PRESETS or your own");
    }
    for (const [name, preset] of Object.entries(this.presets)) checkPreset(name, preset);
  }

  /** Names of the presets. */
  public get presetNames(): string[] {
    return Object.keys(this.presets);
  }

  /**
   * Resolves a cluster request to validated `HaControlPlaneProps` without creating anything.
   * @throws ConfigError naming the layer and prop of a bad or contradictory value
   */
  public resolve(request: ClusterRequest): ResolvedCluster {
    checkClusterName("clusterName", request.clusterName);
    const preset = this.presets[request.preset];
    if (typeof request.preset !== "string" || preset === undefined || !Object.prototype.hasOwnProperty.call(this.presets, request.preset)) {
      throw new ConfigError("preset", request.preset, `is not a preset of blueprint ${this.name} (it has ${this.presetNames.join(", ")})`, `use one of: ${this.presetNames.map((n) => JSON.stringify(n)).join(", ")}`);
    }
    const region = request.region ?? this.defaults.region;
    if (region === undefined) {
      throw new ConfigError("region", region, `is required: blueprint ${this.name} has no default region`, 'pass the cluster\'s region, e.g. "eu-west-1"');
    }
    checkRegion(request.region !== undefined ? "region" : "defaults.region", region);
    const overrides = request.overrides ?? {};
    const presetOrigin = `presets.${request.preset}.settings`;

    // Layer the settings, recording where each came from.
    const fromDefaults = this.defaultSettings(region);
    const settings: Record<string, unknown> = {};
    const origins: Record<string, string> = {};
    const layer = (values: object, origin: string) => {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined || key === "tags") continue;
        settings[key] = value;
        origins[key] = origin;
      }
    };
    layer(fromDefaults, "defaults");
    layer(preset.settings, presetOrigin);
    layer(overrides, "overrides");
    // Stacked etcd runs one member per API server: a preset's member count does not apply to it.
    if (settings.etcdTopology === EtcdTopology.STACKED && origins.etcdMemberCount !== "overrides") {
      delete settings.etcdMemberCount;
      delete origins.etcdMemberCount;
    }
    const tags: Record<string, string> = {
      ...(this.defaults.tags ?? {}),
      ...(preset.settings.tags ?? {}),
      ...(overrides.tags ?? {}),
      [BLUEPRINT_TAGS.name]: this.name,
      [BLUEPRINT_TAGS.preset]: request.preset,
    };
    origins.tags = overrides.tags !== undefined ? "overrides" : preset.settings.tags !== undefined ? presetOrigin : "defaults";
    const props = { ...settings, clusterName: request.clusterName, tags } as HaControlPlaneProps;

    withOrigins(origins, () => checkSettings(props as ControlPlaneSettings, region));
    checkConstraints(request.preset, preset, props, origins);

    const objectLayers = [this.defaults.clusterObjects ?? {}, preset.clusterObjects ?? {}, request.clusterObjects ?? {}];
    const clusterObjects: ClusterObjectsOptions = Object.assign({}, ...objectLayers);
    // Token settings are merged field by field: a cluster bumping `rotation` keeps the org's lifetime.
    const token = Object.assign({}, ...objectLayers.map((l) => l.bootstrapToken ?? {}));
    if (Object.keys(token).length > 0) Object.assign(clusterObjects, { bootstrapToken: token });
    if (request.clusterObjects?.priorityClasses !== undefined) checkPriorityClasses("clusterObjects.priorityClasses", request.clusterObjects.priorityClasses);
    return {
      blueprint: this.name,
      clusterName: request.clusterName,
      preset: request.preset,
      region,
      controlPlaneProps: props,
      clusterObjects,
      alarmTopicArn: props.alarmTopicArn,
      origins,
      policySuppressions: preset.policySuppressions ?? [],
    };
  }

  /**
   * Creates both stacks of a cluster in `scope` (normally the App): `<cluster>-control-plane` (AWS)
   * and `<cluster>-cluster-objects` (kubernetes, configured from the first through cdktf
   * cross-stack references). Stack ids are part of the state location: do not rename clusters.
   * @throws ConfigError naming the layer and prop of a bad value, also for checks `HaControlPlane` makes
   */
  public createCluster(scope: Construct, request: ClusterRequest): BlueprintCluster {
    const resolved = this.resolve(request);
    const name = resolved.clusterName;
    const readerRoleArn = request.clusterObjectsReaderRoleArn ?? this.defaults.clusterObjectsReaderRoleArn;
    if (readerRoleArn === undefined) {
      throw new ConfigError(
        "clusterObjectsReaderRoleArn",
        readerRoleArn,
        `is required: blueprint ${this.name} has no default, and the cluster-objects stack's credentials are delivered in a secret only that role may read`,
        'pass the ARN of the role that applies the cluster-objects stack, e.g. "arn:aws:iam::111122223333:role/cluster-objects-deployer" (or set defaults.clusterObjectsReaderRoleArn)',
      );
    }
    const controlPlaneStack = withOrigins(
      resolved.origins,
      () =>
        new ControlPlaneStack(scope, `${name}-${BlueprintStackKind.CONTROL_PLANE}`, {
          region: resolved.region,
          controlPlane: resolved.controlPlaneProps,
          clusterObjectsReaderRoleArn: readerRoleArn,
          providerIdentity: request.providerIdentity,
          policyPack: this.props.policyPack,
          policySuppressions: resolved.policySuppressions,
        }),
    );
    this.props.stateBackend?.configure(controlPlaneStack, name, BlueprintStackKind.CONTROL_PLANE);
    const objectOrigins = this.clusterObjectOrigins(request);
    const clusterObjectsStack = withOrigins(
      objectOrigins,
      () => new ClusterObjectsStack(scope, `${name}-${BlueprintStackKind.CLUSTER_OBJECTS}`, { ...resolved.clusterObjects, access: controlPlaneStack.access, accessSecret: controlPlaneStack.accessSecret }),
    );
    this.props.stateBackend?.configure(clusterObjectsStack, name, BlueprintStackKind.CLUSTER_OBJECTS);
    return { resolved, controlPlaneStack, clusterObjectsStack };
  }

  /** Which layer set each cluster-object option (and each bootstrap token field). */
  private clusterObjectOrigins(request: ClusterRequest): Record<string, string> {
    const origins: Record<string, string> = {};
    const layers: [ClusterObjectsOptions | undefined, string][] = [
      [this.defaults.clusterObjects, "defaults.clusterObjects"],
      [this.presets[request.preset].clusterObjects, `presets.${request.preset}.clusterObjects`],
      [request.clusterObjects, "clusterObjects"],
    ];
    for (const [options, origin] of layers) {
      for (const [key, value] of Object.entries(options ?? {})) {
        if (value === undefined) continue;
        origins[key] = origin;
        if (key === "bootstrapToken") for (const field of Object.keys(value)) origins[`${key}.${field}`] = origin;
      }
    }
    return origins;
  }

  /** Organisation defaults as control-plane settings for `region`. */
  private defaultSettings(region: string): ControlPlaneSettings {
    const d = this.defaults;
    return {
      apiServerInstanceType: d.apiServerInstanceType,
      etcdInstanceType: d.etcdInstanceType,
      allowedApiCidrs: d.allowedApiCidrs,
      kmsKeyArn: d.kmsKeyArn,
      kubernetesVersion: d.kubernetesVersion,
      amiId: d.amiIds?.[region],
      nodeImage: d.nodeImage,
      imageRepository: d.imageRepository,
      kubernetesBinaryMirror: d.kubernetesBinaryMirror,
      etcdRelease: d.etcdRelease,
      vpcEndpoints: d.vpcEndpoints,
      internetEgress: d.internetEgress,
      alarmTopicArn: d.alarmTopicArn,
    };
  }
}

/**
 * Runs `fn`; a `ConfigError` about a prop that came from a known layer is re-thrown with the
 * layer in front of the prop (`etcdMemberCount` → `overrides.etcdMemberCount`).
 */
export function withOrigins<T>(origins: Readonly<Record<string, string>>, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) {
      // The longest known prefix of the prop decides: `bootstrapToken.ttlHours` before `bootstrapToken`.
      const prefixes = [...err.prop.matchAll(/[.[]/g)].map((m) => err.prop.slice(0, m.index)).concat(err.prop).reverse();
      const known = prefixes.find((p) => origins[p] !== undefined);
      const origin = known !== undefined ? origins[known] : undefined;
      if (origin !== undefined && !err.prop.startsWith(`${origin}.`)) throw renameProp(err, `${origin}.${err.prop}`);
    }
    throw err;
  }
}

/** The same error about another prop name. */
function renameProp(err: ConfigError, prop: string): ConfigError {
  const head = `${err.prop} is ${describeValue(err.value)}: `;
  const rest = err.message.startsWith(head) ? err.message.slice(head.length) : err.message;
  // The message is "<problem>; <fix>": any "; " split rebuilds the same text.
  const cut = rest.lastIndexOf("; ");
  return cut < 0 ? new ConfigError(prop, err.value, rest, "see the prop's documentation") : new ConfigError(prop, err.value, rest.slice(0, cut), rest.slice(cut + 2));
}

function checkRegion(prop: string, region: string): void {
  if (isUnresolved(region)) return;
  if (typeof region !== "string" || !REGION.test(region)) {
    throw new ConfigError(prop, region, "is not an AWS region name", 'use e.g. "eu-west-1"');
  }
}

function checkTopicArn(prop: string, arn: string): void {
  if (!isUnresolved(arn) && (typeof arn !== "string" || !SNS_TOPIC_ARN.test(arn))) {
    throw new ConfigError(prop, arn, "is not an SNS topic ARN", 'pass "arn:aws:sns:<region>:<account>:<topic>"');
  }
}

function checkDefaults(d: OrganisationDefaults): void {
  if (d.region !== undefined) checkRegion("defaults.region", d.region);
  // The blueprint adds its own two tags to each resource on top of the library's.
  checkTags("defaults.tags", d.tags, RESERVED_TAG_COUNT + 2);
  if (d.apiServerInstanceType !== undefined) checkInstanceType("defaults.apiServerInstanceType", d.apiServerInstanceType);
  if (d.etcdInstanceType !== undefined) checkInstanceType("defaults.etcdInstanceType", d.etcdInstanceType);
  (d.allowedApiCidrs ?? []).forEach((cidr, i) => parseIpv4Cidr(`defaults.allowedApiCidrs[${i}]`, cidr));
  if (d.kmsKeyArn !== undefined) withOrigins({ kmsKeyArn: "defaults" }, () => ClusterEncryptionKey.fromKeyArn(d.kmsKeyArn!));
  if (d.kubernetesVersion !== undefined) checkKubernetesVersion("defaults.kubernetesVersion", d.kubernetesVersion);
  for (const [region, ami] of Object.entries(d.amiIds ?? {})) {
    checkRegion(`defaults.amiIds[${JSON.stringify(region)}] key`, region);
    checkAmiId(`defaults.amiIds[${JSON.stringify(region)}]`, ami);
  }
  if (d.alarmTopicArn !== undefined) checkTopicArn("defaults.alarmTopicArn", d.alarmTopicArn);
  if (d.clusterObjects?.priorityClasses !== undefined) checkPriorityClasses("defaults.clusterObjects.priorityClasses", d.clusterObjects.priorityClasses);
}

function checkPreset(name: string, preset: PresetDefinition): void {
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(name)) {
    throw new ConfigError(`presets[${JSON.stringify(name)}]`, name, "a preset name must be lower-case letters, digits and '-', starting with a letter (at most 40)", 'use e.g. "staging"');
  }
  if (preset === undefined || typeof preset.description !== "string" || preset.settings === undefined) {
    throw new ConfigError(`presets.${name}`, preset, "needs a description and settings", "see PRODUCTION_PRESET for the shape");
  }
  const origins: Record<string, string> = {};
  for (const key of Object.keys(preset.settings)) origins[key] = `presets.${name}.settings`;
  withOrigins(origins, () => checkSettings(preset.settings, undefined));
  // A preset must satisfy its own constraints, or no cluster could use it unchanged.
  checkConstraints(name, preset, preset.settings, origins);
  if (preset.clusterObjects?.priorityClasses !== undefined) checkPriorityClasses(`presets.${name}.clusterObjects.priorityClasses`, preset.clusterObjects.priorityClasses);
  (preset.policySuppressions ?? []).forEach((s, i) => {
    if (!/^[A-Z][A-Z0-9]*-[A-Z0-9-]+$/.test(s.ruleId ?? "")) throw new ConfigError(`presets.${name}.policySuppressions[${i}].ruleId`, s.ruleId, "is not a rule id", 'use e.g. "HA-AZ1"');
    if (typeof s.reason !== "string" || s.reason.trim().length < 10) {
      throw new ConfigError(`presets.${name}.policySuppressions[${i}].reason`, s.reason, "must say why in at least 10 characters (it is recorded with the stack)", "explain why the rule does not apply to this preset");
    }
  });
}

/** The checks of `HaControlPlane` that need no construct (same functions it calls). */
function checkSettings(s: ControlPlaneSettings, region: string | undefined): void {
  checkTags("tags", s.tags, RESERVED_TAG_COUNT);
  if (s.kubernetesVersion !== undefined) checkKubernetesVersion("kubernetesVersion", s.kubernetesVersion);
  if (s.apiServerInstanceType !== undefined) checkInstanceType("apiServerInstanceType", s.apiServerInstanceType);
  if (s.etcdInstanceType !== undefined) checkInstanceType("etcdInstanceType", s.etcdInstanceType);
  if (s.amiId !== undefined) checkAmiId("amiId", s.amiId);
  if (s.alarmTopicArn !== undefined) checkTopicArn("alarmTopicArn", s.alarmTopicArn);
  (s.allowedApiCidrs ?? []).forEach((cidr, i) => parseIpv4Cidr(`allowedApiCidrs[${i}]`, cidr));
  if (s.kmsKeyArn !== undefined) {
    ClusterEncryptionKey.fromKeyArn(s.kmsKeyArn);
    const keyRegion = s.kmsKeyArn.split(":")[3];
    if (region !== undefined && !isUnresolved(s.kmsKeyArn) && !isUnresolved(region) && keyRegion !== region) {
      throw new ConfigError("kmsKeyArn", s.kmsKeyArn, `is a key in ${keyRegion}, but the cluster is in ${region}: EBS volumes and secrets can only use a key of their own region`, `pass a key of ${region} in the cluster's overrides.kmsKeyArn`);
    }
  }
  if (region !== undefined && s.availabilityZones !== undefined && !isUnresolved(region)) {
    s.availabilityZones.forEach((zone, i) => {
      if (isUnresolved(zone)) return;
      if (typeof zone !== "string" || !zone.startsWith(region) || !/^[a-z0-9]{1,3}$/.test(zone.slice(region.length))) {
        throw new ConfigError(`availabilityZones[${i}]`, zone, `is not a zone of the cluster's region ${region}`, `use zones like "${region}a"`);
      }
    });
  }
}

/** Refuses settings that contradict a preset's constraints, naming the layer that set them. */
function checkConstraints(presetName: string, preset: PresetDefinition, s: ControlPlaneSettings, origins: Readonly<Record<string, string>>): void {
  const c: PresetConstraints = preset.constraints ?? {};
  const prop = (key: string) => (origins[key] !== undefined ? `${origins[key]}.${key}` : key);
  const fail = (key: string, value: unknown, problem: string, fix: string): never => {
    throw new ConfigError(prop(key), value, `the ${presetName} preset (${preset.description}) ${problem}`, fix);
  };
  const otherPresets = `or choose another preset`;

  const zoneKey = s.network !== undefined ? "network" : "availabilityZones";
  const zones = s.network !== undefined ? s.network.privateSubnets.length : (s.availabilityZones?.length ?? 3);
  if (c.minAvailabilityZones !== undefined && !isUnresolved(s.availabilityZones) && zones < c.minAvailabilityZones) {
    fail(zoneKey, s.network !== undefined ? `${zones} private subnets` : s.availabilityZones, `needs at least ${c.minAvailabilityZones} availability zones, got ${zones}`, `list ${c.minAvailabilityZones} zones, ${otherPresets}`);
  }
  const apiServers = s.apiServerCount ?? 3;
  if (c.minApiServers !== undefined && apiServers < c.minApiServers) {
    fail("apiServerCount", s.apiServerCount, `needs at least ${c.minApiServers} API servers`, `use ${c.minApiServers} or more, ${otherPresets}`);
  }
  const stacked = s.etcdTopology === EtcdTopology.STACKED;
  const members = stacked ? apiServers : (s.etcdMemberCount ?? 3);
  if (c.minEtcdMembers !== undefined && members < c.minEtcdMembers) {
    fail(stacked ? "apiServerCount" : "etcdMemberCount", stacked ? s.apiServerCount : s.etcdMemberCount, `needs at least ${c.minEtcdMembers} etcd members${stacked ? " (stacked: one per API server)" : ""}`, `use ${Math.max(c.minEtcdMembers, 3)} or 5, ${otherPresets}`);
  }
  if (!(c.allowNonHa ?? false)) {
    for (const key of ["allowSingleApiServer", "allowNonHaEtcd", "allowSingleZone", "allowEtcdZoneQuorumLoss"] as const) {
      if (s[key] === true) fail(key, true, "does not accept a cluster without redundancy", `drop ${key}, ${otherPresets} (e.g. "development")`);
    }
  }
  if (c.requireDeletionProtection ?? false) {
    for (const key of ["loadBalancerDeletionProtection", "protectEtcdDataVolumes"] as const) {
      if (s[key] === false) fail(key, false, "keeps deletion protection on", `drop ${key}, ${otherPresets}`);
    }
  }
  if ((c.requireNatGatewayPerZone ?? false) && s.natGateways === NatGatewayMode.SINGLE) {
    fail("natGateways", s.natGateways, "needs a NAT gateway per zone (one zone's outage must not cut the others' egress)", `use NatGatewayMode.PER_AZ, ${otherPresets}`);
  }
}
