import {
  BLUEPRINT_TAGS,
  BUILT_IN_PRESETS,
  BlueprintPreset,
  ClusterRequest,
  ControlPlaneStack,
  OrganisationDefaults,
  PlatformBlueprint,
  PlatformBlueprintProps,
  PresetDefinition,
} from "../../lib/blueprint";
import { ClusterObjectsStack } from "../../lib/cluster";
import { Testing } from "../../lib/core";
import { ConfigError } from "../../lib/errors";
import { DEFAULT_ETCD_RELEASE, EtcdTopology, ExistingNetwork, NatGatewayMode } from "../../lib";

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const KMS_EU = "arn:aws:kms:eu-west-1:123456789012:key/0b9bc1f6-6a3e-4c1c-9f3e-1d2b3c4d5e6f";

const DEFAULTS: OrganisationDefaults = {
  region: "eu-west-1",
  tags: { owner: "platform", "cost-center": "cc-1" },
  apiServerInstanceType: "m7i.large",
  etcdInstanceType: "r7i.large",
  allowedApiCidrs: ["10.20.0.0/16"],
  kmsKeyArn: KMS_EU,
  kubernetesVersion: "1.33.5",
  amiIds: { "eu-west-1": "ami-0a422d70f727fe93e", "us-east-1": "ami-0123456789abcdef0" },
  alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:alarms",
  clusterObjectsReaderRoleArn: "arn:aws:iam::123456789012:role/cluster-objects-deployer",
  clusterObjects: { platformAdminGroups: ["acme:sre"] },
};

function blueprint(props: Partial<PlatformBlueprintProps> = {}): PlatformBlueprint {
  return new PlatformBlueprint({ name: "acme", defaults: DEFAULTS, ...props });
}

const prod = (extra: Partial<ClusterRequest> = {}): ClusterRequest => ({
  clusterName: "shop-prod",
  preset: BlueprintPreset.PRODUCTION,
  ...extra,
  overrides: { availabilityZones: ZONES, ...(extra.overrides ?? {}) },
});

/** The ConfigError `fn` throws. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("PlatformBlueprint.resolve", () => {
  const acme = blueprint();

  describe("production preset", () => {
    const r = acme.resolve(prod());

    it("is 3 API servers, 5 etcd members, a NAT gateway per zone and deletion protection", () => {
      expect(r.controlPlaneProps).toMatchObject({
        clusterName: "shop-prod",
        availabilityZones: ZONES,
        apiServerCount: 3,
        etcdMemberCount: 5,
        natGateways: NatGatewayMode.PER_AZ,
        loadBalancerDeletionProtection: true,
        protectEtcdDataVolumes: true,
      });
      expect(r.controlPlaneProps.allowSingleApiServer).toBeUndefined();
      expect(r.controlPlaneProps.allowNonHaEtcd).toBeUndefined();
    });

    it("applies every organisation default, the image of the cluster's region", () => {
      expect(r.region).toBe("eu-west-1");
      expect(r.controlPlaneProps).toMatchObject({
        apiServerInstanceType: "m7i.large",
        etcdInstanceType: "r7i.large",
        allowedApiCidrs: ["10.20.0.0/16"],
        kmsKeyArn: KMS_EU,
        kubernetesVersion: "1.33.5",
        amiId: "ami-0a422d70f727fe93e",
        alarmTopicArn: DEFAULTS.alarmTopicArn,
      });
      expect(r.alarmTopicArn).toBe(DEFAULTS.alarmTopicArn);
      expect(r.clusterObjects.platformAdminGroups).toEqual(["acme:sre"]);
    });

    it("merges cluster tags over the organisation's and records blueprint and preset", () => {
      const tagged = acme.resolve(prod({ overrides: { tags: { team: "shop", owner: "shop-team" } } }));
      expect(tagged.controlPlaneProps.tags).toEqual({
        owner: "shop-team",
        "cost-center": "cc-1",
        team: "shop",
        [BLUEPRINT_TAGS.name]: "acme",
        [BLUEPRINT_TAGS.preset]: "production",
      });
    });

    it("records where each prop came from", () => {
      const o = acme.resolve(prod({ overrides: { apiServerInstanceType: "m7i.xlarge" } })).origins;
      expect(o).toMatchObject({
        apiServerInstanceType: "overrides",
        etcdInstanceType: "defaults",
        etcdMemberCount: "presets.production.settings",
        availabilityZones: "overrides",
      });
    });

    it("lets overrides that keep it highly available through (3 etcd members, 6 API servers)", () => {
      const r2 = acme.resolve(prod({ overrides: { etcdMemberCount: 3, apiServerCount: 6 } }));
      expect(r2.controlPlaneProps).toMatchObject({ etcdMemberCount: 3, apiServerCount: 6 });
    });

    it("drops its etcd member count for stacked etcd (one member per API server)", () => {
      const stacked = acme.resolve(prod({ overrides: { etcdTopology: EtcdTopology.STACKED } }));
      expect(stacked.controlPlaneProps.etcdMemberCount).toBeUndefined();
      expect(stacked.origins.etcdMemberCount).toBeUndefined();
    });

    it("counts the zones of an existing network", () => {
      const network = ExistingNetwork.fromAttributes({
        vpcId: "vpc-0123456789abcdef0",
        vpcCidr: "172.20.0.0/16",
        privateSubnets: [{ subnetId: "subnet-0123456789abcdef0", availabilityZone: "eu-west-1a", cidrBlock: "172.20.0.0/20" }],
      });
      const e = configError(() => acme.resolve({ clusterName: "shop-prod", preset: "production", overrides: { network } }));
      expect(e.prop).toBe("overrides.network");
      expect(e.message).toMatch(/needs at least 3 availability zones, got 1/);
    });
  });

  describe("development preset", () => {
    it("is explicitly not highly available: 1 API server and 1 etcd member, allowed by name", () => {
      const r = acme.resolve({ clusterName: "shop-dev", preset: BlueprintPreset.DEVELOPMENT, overrides: { availabilityZones: ZONES.slice(0, 1) } });
      expect(r.controlPlaneProps).toMatchObject({
        apiServerCount: 1,
        allowSingleApiServer: true,
        etcdMemberCount: 1,
        allowNonHaEtcd: true,
        natGateways: NatGatewayMode.SINGLE,
        loadBalancerDeletionProtection: false,
        protectEtcdDataVolumes: false,
      });
      expect(r.policySuppressions.map((s) => s.ruleId)).toEqual(["HA-AZ1"]);
    });
  });

  describe("refuses contradictions, naming the layer and prop", () => {
    it.each<[string, Partial<ClusterRequest>, string, RegExp]>([
      ["production with 1 zone", { overrides: { availabilityZones: ["eu-west-1a"] } }, "overrides.availabilityZones", /production preset .* needs at least 3 availability zones, got 1; list 3 zones, or choose another preset/],
      ["production with 1 etcd member", { overrides: { etcdMemberCount: 1 } }, "overrides.etcdMemberCount", /needs at least 3 etcd members/],
      ["production with 1 API server", { overrides: { apiServerCount: 1 } }, "overrides.apiServerCount", /needs at least 3 API servers/],
      ["production stacked on 1 API server", { overrides: { etcdTopology: EtcdTopology.STACKED, apiServerCount: 1 } }, "overrides.apiServerCount", /needs at least 3 API servers/],
      ["production allowing non-HA etcd", { overrides: { allowNonHaEtcd: true } }, "overrides.allowNonHaEtcd", /does not accept a cluster without redundancy; drop allowNonHaEtcd, or choose another preset \(e.g. "development"\)/],
      ["production without volume protection", { overrides: { protectEtcdDataVolumes: false } }, "overrides.protectEtcdDataVolumes", /keeps deletion protection on/],
      ["production with one NAT gateway", { overrides: { natGateways: NatGatewayMode.SINGLE } }, "overrides.natGateways", /needs a NAT gateway per zone/],
    ])("%s", (_name, request, prop, message) => {
      const e = configError(() => acme.resolve(prod(request)));
      expect(e.prop).toBe(prop);
      expect(e.message).toMatch(message);
    });

    it("an unknown preset, listing the known ones", () => {
      const e = configError(() => acme.resolve({ clusterName: "x", preset: "prod" }));
      expect(e.prop).toBe("preset");
      expect(e.message).toBe('preset is "prod": is not a preset of blueprint acme (it has production, development); use one of: "production", "development"');
      expect(() => acme.resolve({ clusterName: "x", preset: "toString" })).toThrow(/is not a preset/);
    });

    it("a zone outside the cluster's region", () => {
      const e = configError(() => acme.resolve(prod({ overrides: { availabilityZones: ["eu-west-1a", "eu-west-1b", "us-east-1c"] } })));
      expect(e.prop).toBe("overrides.availabilityZones[2]");
    });

    it("an organisation KMS key of another region", () => {
      const e = configError(() => acme.resolve(prod({ region: "us-east-1", overrides: { availabilityZones: ["us-east-1a", "us-east-1b", "us-east-1c"] } })));
      expect(e.prop).toBe("defaults.kmsKeyArn");
      expect(e.message).toMatch(/is a key in eu-west-1, but the cluster is in us-east-1/);
    });

    it("a cluster without a region when the organisation has none", () => {
      const noRegion = blueprint({ defaults: { ...DEFAULTS, region: undefined } });
      expect(() => noRegion.resolve(prod())).toThrow(/^region is undefined: is required/);
    });

    it("bad per-cluster values through the checks HaControlPlane uses", () => {
      expect(configError(() => acme.resolve(prod({ overrides: { etcdInstanceType: "large" } }))).prop).toBe("overrides.etcdInstanceType");
      expect(configError(() => acme.resolve(prod({ overrides: { tags: { "aws:owner": "x" } } }))).prop).toBe('overrides.tags["aws:owner"]');
      expect(configError(() => acme.resolve(prod({ overrides: { allowedApiCidrs: ["10.1.2.3/16"] } }))).prop).toBe("overrides.allowedApiCidrs[0]");
      expect(configError(() => acme.resolve({ ...prod(), clusterName: "Shop_Prod" })).prop).toBe("clusterName");
    });
  });
});

describe("PlatformBlueprint organisation defaults and presets", () => {
  it.each<[string, OrganisationDefaults, string]>([
    ["a reserved tag key", { tags: { "aws:team": "x" } }, 'defaults.tags["aws:team"]'],
    ["too many tags (the library and the blueprint add 8)", { tags: Object.fromEntries(Array.from({ length: 43 }, (_, i) => [`t${i}`, "v"])) }, "defaults.tags"],
    ["an instance type", { apiServerInstanceType: "large" }, "defaults.apiServerInstanceType"],
    ["a CIDR", { allowedApiCidrs: ["10.0.0.0/33"] }, "defaults.allowedApiCidrs[0]"],
    ["a KMS alias instead of a key (HaControlPlane's own check)", { kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:alias/k8s" }, "defaults.kmsKeyArn"],
    ["a Kubernetes version", { kubernetesVersion: "1.28.0" }, "defaults.kubernetesVersion"],
    ["an image id", { amiIds: { "eu-west-1": "ami-123" } }, 'defaults.amiIds["eu-west-1"]'],
    ["a region", { region: "Ireland" }, "defaults.region"],
    ["an alarm topic", { alarmTopicArn: "arn:aws:sqs:eu-west-1:123456789012:q" }, "defaults.alarmTopicArn"],
    ["a priority class", { clusterObjects: { priorityClasses: [{ name: "system-x", value: 1 }] } }, "defaults.clusterObjects.priorityClasses[0].name"],
  ])("refuses %s", (_name, defaults, prop) => {
    expect(configError(() => new PlatformBlueprint({ name: "acme", defaults })).prop).toBe(prop);
  });

  it("refuses a preset that breaks its own constraints", () => {
    const broken: PresetDefinition = { ...BUILT_IN_PRESETS.production, settings: { ...BUILT_IN_PRESETS.production.settings, etcdMemberCount: 1 } };
    const e = configError(() => blueprint({ presets: { production: broken } }));
    expect(e.prop).toBe("presets.production.settings.etcdMemberCount");
  });

  it("refuses a suppression without a reason and a malformed preset name", () => {
    const lazy: PresetDefinition = { ...BUILT_IN_PRESETS.development, policySuppressions: [{ ruleId: "HA-AZ1", reason: "dev" }] };
    expect(configError(() => blueprint({ presets: { development: lazy } })).prop).toBe("presets.development.policySuppressions[0].reason");
    expect(configError(() => blueprint({ presets: { Prod: BUILT_IN_PRESETS.production } })).prop).toBe('presets["Prod"]');
    expect(configError(() => new PlatformBlueprint({ name: "Acme Corp" })).prop).toBe("name");
  });

  it("takes the organisation's own presets next to the built-in ones", () => {
    const staging: PresetDefinition = { description: "pre-production", settings: { apiServerCount: 3, etcdMemberCount: 3 }, constraints: { minEtcdMembers: 3 } };
    const acme = blueprint({ presets: { ...BUILT_IN_PRESETS, staging } });
    expect(acme.presetNames).toEqual(["production", "development", "staging"]);
    expect(acme.resolve({ clusterName: "shop-stg", preset: "staging" }).controlPlaneProps.etcdMemberCount).toBe(3);
    expect(configError(() => acme.resolve({ clusterName: "shop-stg", preset: "staging", overrides: { etcdMemberCount: 1, allowNonHaEtcd: true } })).prop).toBe("overrides.etcdMemberCount");
  });
});

describe("PlatformBlueprint cluster objects", () => {
  const acme = blueprint({ defaults: { ...DEFAULTS, clusterObjects: { platformAdminGroups: ["acme:sre"], bootstrapToken: { ttlHours: 168, earlyRenewalHours: 96 } } } });

  it("merges bootstrap token settings field by field and replaces the other options", () => {
    const r = acme.resolve(prod({ clusterObjects: { bootstrapToken: { rotation: 2 }, platformAdminGroups: ["shop:admins"] } }));
    expect(r.clusterObjects.bootstrapToken).toEqual({ ttlHours: 168, earlyRenewalHours: 96, rotation: 2 });
    expect(r.clusterObjects.platformAdminGroups).toEqual(["shop:admins"]);
  });

  it("names the layer of a bad cluster-object value (checked when the stack is built)", () => {
    const e = configError(() =>
      acme.createCluster(Testing.app(), { clusterName: "shop-dev", preset: "development", overrides: { availabilityZones: ZONES }, clusterObjects: { bootstrapToken: { earlyRenewalHours: 500 } } }),
    );
    expect(e.prop).toBe("clusterObjects.bootstrapToken.earlyRenewalHours");
    expect(e.message).toMatch(/^clusterObjects.bootstrapToken.earlyRenewalHours is 500: must be a whole number from 1 to 167/);
    const org = configError(() =>
      blueprint({ defaults: { ...DEFAULTS, clusterObjects: { platformAdminGroups: ["system:masters"] } } }).createCluster(Testing.app(), {
        clusterName: "shop-dev",
        preset: "development",
        overrides: { availabilityZones: ZONES },
      }),
    );
    expect(org.prop).toBe("defaults.clusterObjects.platformAdminGroups[0]");
  });
});

describe("PlatformBlueprint.createCluster", () => {
  it("creates the AWS stack and the cluster-objects stack, named after the cluster", () => {
    const app = Testing.app();
    const { controlPlaneStack, clusterObjectsStack, resolved } = blueprint().createCluster(app, prod());
    expect(controlPlaneStack).toBeInstanceOf(ControlPlaneStack);
    expect(clusterObjectsStack).toBeInstanceOf(ClusterObjectsStack);
    expect(controlPlaneStack.node.id).toBe("shop-prod-control-plane");
    expect(clusterObjectsStack.node.id).toBe("shop-prod-cluster-objects");
    expect(controlPlaneStack.controlPlane.clusterName).toBe("shop-prod");
    expect(controlPlaneStack.policyPack).toBeDefined();
    expect(clusterObjectsStack.objects.adminBindings.platformAdmins).toBeDefined();
    expect(resolved.clusterName).toBe("shop-prod");
  });

  it("re-throws HaControlPlane's own refusals with the layer in front of the prop", () => {
    const loose = blueprint({ presets: { open: { description: "no constraints", settings: {} } } });
    const e = configError(() => loose.createCluster(Testing.app(), { clusterName: "x", preset: "open", overrides: { availabilityZones: ZONES, etcdMemberCount: 4 } }));
    expect(e.prop).toBe("overrides.etcdMemberCount");
    expect(e.message).toMatch(/^overrides.etcdMemberCount is 4: an even member count tolerates no more failures than 3 .*; use 3 or 5$/);
    const cidr = configError(() => loose.createCluster(Testing.app(), { clusterName: "y", preset: "open", overrides: { availabilityZones: ZONES, serviceCidr: "10.0.0.0/16" } }));
    expect(cidr.prop).toBe("overrides.serviceCidr");
    expect(cidr.message).toMatch(/overlaps the VPC block 10.0.0.0\/16/);
  });

  it("applies an organisation-wide network lock-down (VPC endpoints, no internet egress) to every cluster", () => {
    const etcdRelease = { ...DEFAULT_ETCD_RELEASE, mirrorUrlTemplate: "https://mirror.acme.internal/etcd/etcd-v{version}-linux-{arch}.tar.gz", mirrorOnly: true };
    const locked = blueprint({ defaults: { ...DEFAULTS, vpcEndpoints: true, internetEgress: [], etcdRelease } });
    const { controlPlaneStack } = locked.createCluster(Testing.app(), prod());
    const json = JSON.parse(Testing.synth(controlPlaneStack)) as { resource: Record<string, Record<string, Record<string, unknown>>> };
    expect(Object.keys(json.resource.aws_vpc_endpoint)).toHaveLength(9);
    const open = Object.values(json.resource.aws_vpc_security_group_egress_rule).filter((r) => r.cidr_ipv4 === "0.0.0.0/0");
    expect(open).toEqual([]);
    const half = blueprint({ defaults: { ...DEFAULTS, internetEgress: [] } });
    const e = configError(() => half.createCluster(Testing.app(), prod()));
    expect([e.prop, e.message]).toEqual(["defaults.internetEgress", expect.stringMatching(/vpcEndpoints/)]);
  });
});
