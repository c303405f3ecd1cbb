/**
 * The HaControlPlane property (tier 4), in two halves:
 *
 * - valid: configurations drawn from a generator that respects every documented constraint by
 *   construction. Each must synthesize and satisfy every invariant (test/helpers/invariants.ts);
 *   a ConfigError here is a failure (the library refused a configuration its docs allow).
 * - invalid: a valid configuration with exactly one documented rule broken, the rule drawn from
 *   INVALID_RULES below. Each must be refused with a ConfigError naming that rule's prop, with a
 *   message that leads with the prop. Anything else (success, another error, another prop) fails.
 *
 * Two test files run it with different seeds so both jest workers share the 1,000 CI runs.
 * The constraints are written here from AWS and Kubernetes documentation, not read from the library:
 * - AWS VPC blocks are /16 to /28 (VPC user guide); this library carves 2 subnets a zone of at
 *   least /26 from it, so it documents /16 to /22.
 * - gp3: 3,000–16,000 IOPS, at most 500 IOPS per GiB; 125–1,000 MiB/s, at most 0.25 MiB/s per IOPS.
 * - AWS tags: 50 a resource, keys 1–128, values 0–256, `aws:` reserved; letters, digits, spaces
 *   and `_ . : / = + - @`.
 * - kube-apiserver service CIDR /12 to /28 (the first host is the kubernetes service).
 * - etcd: odd member counts; a quorum is ⌊n/2⌋+1.
 */
import * as fc from "fast-check";
import { App, TerraformStack, Testing } from "../../lib/core";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { ConfigError, EndpointAccess, EtcdTopology, HaControlPlane, HaControlPlaneProps, NatGatewayMode, PodNetwork } from "../../lib";
import { assertProperty, propertyRuns, propertySeed } from "../harness/property";
import { allViolations } from "./invariants";
import { SynthJson } from "./synth";

/** us-east-1 has six availability zones (a–f), so every zone count 1–6 is a real region's shape. */
const REGION = "us-east-1";
const ZONES = ["a", "b", "c", "d", "e", "f"].map((z) => `${REGION}${z}`);
/** Kubernetes releases that exist and are ≥ 1.32 (kubernetes.io/releases). */
const K8S_RELEASES = [
  ...Array.from({ length: 10 }, (_, p) => `1.32.${p}`),
  ...Array.from({ length: 6 }, (_, p) => `1.33.${p}`),
  ...Array.from({ length: 2 }, (_, p) => `1.34.${p}`),
];
/** Quorum of n etcd members (etcd docs, "Fault tolerance table"). */
const ETCD_QUORUM: Record<number, number> = { 1: 1, 3: 2, 5: 3, 7: 4 };
const AWS_TAG_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.:/=+-@".split("");

// --- IPv4 blocks, computed here (not with the library's cidr helpers) ---------------------------
const ip = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const ipNum = (s: string): number => s.split(".").reduce((a, o) => a * 256 + Number(o), 0);
/** A random block of `prefix` inside the pool `base/poolPrefix` (prefix ≥ poolPrefix). */
function blockIn(base: string, poolPrefix: number, prefix: fc.Arbitrary<number>): fc.Arbitrary<string> {
  return prefix.chain((p) => {
    const slots = 2 ** (p - poolPrefix);
    return fc.integer({ min: 0, max: slots - 1 }).map((k) => `${ip(ipNum(base) + k * 2 ** (32 - p))}/${p}`);
  });
}
/**
 * Disjoint pools, so a VPC, service and routed pod block drawn from different pools never overlap:
 * VPCs in 10.0.0.0/10 and 192.168.0.0/16, services in 10.96.0.0/11 and 172.16.0.0/12, routed pods
 * in 10.128.0.0/9 and 100.64.0.0/10.
 */
const vpcBlock = fc.oneof(blockIn("10.0.0.0", 10, fc.integer({ min: 16, max: 22 })), blockIn("192.168.0.0", 16, fc.integer({ min: 16, max: 22 })));
const serviceBlock = fc.oneof(fc.constant("10.96.0.0/12"), blockIn("10.96.0.0", 11, fc.integer({ min: 12, max: 28 })), blockIn("172.16.0.0", 12, fc.integer({ min: 12, max: 28 })));
const routedPodBlock = fc.oneof(fc.constant("10.244.0.0/16"), blockIn("10.128.0.0", 9, fc.integer({ min: 9, max: 24 })), blockIn("100.64.0.0", 10, fc.integer({ min: 10, max: 24 })));
const publicCidr = fc.oneof(fc.constant("0.0.0.0/0"), blockIn("198.51.100.0", 24, fc.integer({ min: 24, max: 32 })), blockIn("203.0.113.0", 24, fc.integer({ min: 24, max: 32 })));

/** Members per zone when `count` slots go round-robin over the first `zones` zones. */
function roundRobin(count: number, zones: number): number[] {
  return Array.from({ length: Math.min(count, zones) }, (_, z) => Math.floor(count / zones) + (z < count % zones ? 1 : 0));
}
/** True when losing the fullest zone loses etcd quorum. */
function losesQuorumWithAZone(members: number, zones: number): boolean {
  const perZone = roundRobin(members, zones);
  return members > 1 && members - Math.max(...perZone) < ETCD_QUORUM[members];
}

const clusterName = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/) },
  { weight: 1, arbitrary: fc.constantFrom("a", "prod", `a${"b".repeat(38)}9`, "k8s-prod-eu-1") },
);
const dnsLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/);
const tagKey = fc.array(fc.constantFrom(...AWS_TAG_CHARS), { minLength: 1, maxLength: 128 }).map((c) => c.join("")).filter((k) => !k.toLowerCase().startsWith("aws:"));
const tagValue = fc.array(fc.constantFrom(...AWS_TAG_CHARS), { maxLength: 256 }).map((c) => c.join(""));
const amiId = fc.oneof(fc.constant(undefined), fc.stringMatching(/^ami-[0-9a-f]{8}$/), fc.stringMatching(/^ami-[0-9a-f]{17}$/));
/** gp3 volume: size, then IOPS within 500/GiB, then throughput within IOPS/4. */
const gp3 = fc.integer({ min: 10, max: 16384 }).chain((size) =>
  fc.integer({ min: 3000, max: Math.min(16000, size * 500) }).chain((iops) =>
    fc.integer({ min: 125, max: Math.min(1000, Math.floor(iops / 4)) }).map((throughput) => ({ size, iops, throughput })),
  ),
);

/** The shape: zones, topology, counts and the acknowledgements that shape needs. */
const shape = fc.integer({ min: 1, max: 6 }).chain((z) =>
  fc.tuple(fc.shuffledSubarray(ZONES, { minLength: z, maxLength: z }), fc.constantFrom(EtcdTopology.EXTERNAL, EtcdTopology.STACKED), fc.boolean(), fc.boolean()).chain(([zones, topology, ackZone, ackQuorum]) => {
    // API server counts: 1–9, spreading evenly (fewer than the zones, or a multiple of them); stacked:
    // odd and at most 7 (etcd's largest supported cluster; every API server is a member).
    const apiCounts = [1, 2, 3, 4, 5, 6, 7, 8, 9].filter((c) => (c < z || c % z === 0) && (topology === EtcdTopology.EXTERNAL || (c % 2 === 1 && c <= 7)));
    return fc.tuple(fc.constantFrom(...apiCounts), fc.constantFrom(1, 3, 3, 5, 7), fc.boolean()).map(([apiCount, memberCount, explicitStackedCount]) => {
      const stacked = topology === EtcdTopology.STACKED;
      const members = stacked ? apiCount : memberCount;
      // The members' zones: stacked members sit on the API slots, which use the first min(count, z) zones.
      const weak = z > 1 && losesQuorumWithAZone(members, z);
      return {
        availabilityZones: zones,
        etcdTopology: topology,
        apiServerCount: apiCount,
        etcdMemberCount: stacked ? (explicitStackedCount ? apiCount : undefined) : memberCount,
        ...(apiCount === 1 ? { allowSingleApiServer: true } : {}),
        ...(members === 1 ? { allowNonHaEtcd: true } : {}),
        ...(z === 1 || ackZone ? { allowSingleZone: true } : {}),
        ...(weak || ackQuorum ? { allowEtcdZoneQuorumLoss: true } : {}),
      };
    });
  }),
);

/** The network: a VPC block, a service block and a pod network, all consistent. */
const networking = fc.tuple(vpcBlock, serviceBlock, fc.constantFrom(PodNetwork.ROUTED, PodNetwork.OVERLAY, PodNetwork.VPC_NATIVE, undefined)).chain(([vpc, service, mode]) => {
  const vpcPrefix = Number(vpc.split("/")[1]);
  const pod =
    mode === PodNetwork.VPC_NATIVE
      ? fc.oneof(fc.constant(undefined), blockIn(vpc.split("/")[0], vpcPrefix, fc.integer({ min: vpcPrefix, max: 24 })))
      : fc.oneof(fc.constant(undefined), routedPodBlock);
  return pod.map((podCidr) => ({ vpcCidr: vpc, serviceCidr: service, ...(mode !== undefined ? { podNetwork: mode } : {}), ...(podCidr !== undefined ? { podCidr } : {}) }));
});

const endpoint = fc.oneof(
  fc.record({ endpointAccess: fc.constantFrom(EndpointAccess.INTERNAL, undefined) }),
  fc.record({ endpointAccess: fc.constant(EndpointAccess.INTERNAL_AND_PUBLIC), allowedApiCidrs: fc.uniqueArray(publicCidr, { minLength: 1, maxLength: 4 }) }),
);

/** A valid configuration, by construction. */
export const validProps: fc.Arbitrary<HaControlPlaneProps> = fc
  .record({
    clusterName,
    shape,
    networking,
    endpoint,
    natGateways: fc.constantFrom(NatGatewayMode.PER_AZ, NatGatewayMode.SINGLE, undefined),
    apiServerInstanceType: fc.constantFrom("m6i.large", "c7g.xlarge", "t3.medium", "m7i-flex.large", undefined),
    etcdInstanceType: fc.constantFrom("m6i.large", "r7g.large", "c6gn.2xlarge", undefined),
    kubernetesVersion: fc.oneof(fc.constant(undefined), fc.constantFrom(...K8S_RELEASES), fc.constantFrom(...K8S_RELEASES).map((v) => `v${v}`)),
    amiId,
    volume: fc.option(gp3, { nil: undefined }),
    clusterDomain: fc.option(fc.array(dnsLabel, { minLength: 1, maxLength: 3 }).map((l) => l.join(".")), { nil: undefined }),
    monitoring: fc.constantFrom(true, false, undefined),
    etcdBackups: fc.constantFrom(true, false, undefined),
    backupIntervalMinutes: fc.option(fc.integer({ min: 1, max: 1440 }), { nil: undefined }),
    tags: fc.option(fc.dictionary(tagKey, tagValue, { maxKeys: 12 }), { nil: undefined }),
  })
  .map((r) => {
    const p: Record<string, unknown> = {
      clusterName: r.clusterName,
      ...r.shape,
      ...r.networking,
      ...r.endpoint,
      natGateways: r.natGateways,
      apiServerInstanceType: r.apiServerInstanceType,
      etcdInstanceType: r.etcdInstanceType,
      kubernetesVersion: r.kubernetesVersion,
      amiId: r.amiId,
      clusterDomain: r.clusterDomain,
      monitoring: r.monitoring,
      etcdBackups: r.etcdBackups,
      allowBackupRemoval: r.etcdBackups === false ? true : undefined,
      tags: r.tags,
    };
    if (r.volume !== undefined) Object.assign(p, { etcdDataVolumeSizeGiB: r.volume.size, etcdDataVolumeIops: r.volume.iops, etcdDataVolumeThroughputMiBps: r.volume.throughput });
    if (r.etcdBackups !== false && r.backupIntervalMinutes !== undefined) p.etcdBackupIntervalMinutes = r.backupIntervalMinutes;
    for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
    return p as unknown as HaControlPlaneProps;
  });

type P = HaControlPlaneProps & Record<string, unknown>;
/** One documented rule, the prop its ConfigError must name, and how to break only that rule. */
interface InvalidRule {
  readonly rule: string;
  /** The prop the ConfigError must name (exactly, or as the root of `prop[i]` / `prop["key"]`). */
  readonly prop: string;
  /** Whether the rule can be broken alone starting from `p`. */
  readonly applies?: (p: P) => boolean;
  readonly breakIt: (p: P) => fc.Arbitrary<P>;
}
const set = (p: P, patch: Record<string, unknown>): P => ({ ...p, ...patch }) as P;
const external = (p: P): boolean => (p.etcdTopology ?? EtcdTopology.EXTERNAL) === EtcdTopology.EXTERNAL;
const zoneCount = (p: P): number => p.availabilityZones!.length;
const apiCount = (p: P): number => p.apiServerCount ?? 3;

/** Documented rules, each broken alone. */
export const INVALID_RULES: readonly InvalidRule[] = [
  { rule: "cluster name is a DNS label", prop: "clusterName", breakIt: (p) => fc.constantFrom("", "Prod", "1abc", "abc-", "a.b", "a_b", "ünï", " a").map((v) => set(p, { clusterName: v })) },
  { rule: "cluster name has at most 40 characters", prop: "clusterName", breakIt: (p) => fc.integer({ min: 41, max: 200 }).map((n) => set(p, { clusterName: "a".repeat(n) })) },
  { rule: "tag keys do not start with aws:", prop: "tags", breakIt: (p) => fc.constantFrom("aws:owner", "AWS:x", "Aws:cost").map((k) => set(p, { tags: { ...(p.tags ?? {}), [k]: "v" } })) },
  { rule: "tag keys have at most 128 characters", prop: "tags", breakIt: (p) => fc.integer({ min: 129, max: 300 }).map((n) => set(p, { tags: { ...(p.tags ?? {}), ["k".repeat(n)]: "v" } })) },
  { rule: "tag values have at most 256 characters", prop: "tags", breakIt: (p) => fc.integer({ min: 257, max: 600 }).map((n) => set(p, { tags: { ...(p.tags ?? {}), team: "v".repeat(n) } })) },
  { rule: "at most 50 tags a resource (with the library's own)", prop: "tags", breakIt: (p) => fc.integer({ min: 50, max: 80 }).map((n) => set(p, { tags: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"])) })) },
  { rule: "Kubernetes 1.32 or newer, MAJOR.MINOR.PATCH", prop: "kubernetesVersion", breakIt: (p) => fc.constantFrom("1.31.9", "1.28.0", "latest", "", "1.33", "2.0.0", "v1.33.5-rc.1", "1.33.05").map((v) => set(p, { kubernetesVersion: v })) },
  { rule: "a public endpoint lists its client networks", prop: "allowedApiCidrs", breakIt: (p) => fc.constant(set(p, { endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC, allowedApiCidrs: [] })) },
  { rule: "allowed API networks are IPv4 CIDR blocks", prop: "allowedApiCidrs", breakIt: (p) => fc.constantFrom("bad", "10.0.0.1/8", "0.0.0.0/33", "fd00::/8").map((c) => set(p, { endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC, allowedApiCidrs: ["203.0.113.0/24", c] })) },
  { rule: "allowed API networks are listed once", prop: "allowedApiCidrs", breakIt: (p) => fc.constant(set(p, { endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC, allowedApiCidrs: ["203.0.113.0/24", "203.0.113.0/24"] })) },
  { rule: "cluster domain is a lower-case DNS domain", prop: "clusterDomain", breakIt: (p) => fc.constantFrom("Cluster.Local", "-a.local", "a..b", "a_b.local", ".local", "a.").map((v) => set(p, { clusterDomain: v })) },
  { rule: "VPC block is /16 to /22", prop: "vpcCidr", breakIt: (p) => fc.constantFrom("10.0.0.0/8", "10.0.0.0/15", "10.0.0.0/23", "10.0.0.0/28").map((v) => set(p, { vpcCidr: v, podNetwork: PodNetwork.ROUTED, podCidr: "100.64.0.0/16", serviceCidr: "172.16.0.0/12" })) },
  { rule: "VPC block is an IPv4 network address", prop: "vpcCidr", breakIt: (p) => fc.constantFrom("10.0.0.1/16", "300.0.0.0/16", "nonsense", "fd00::/56").map((v) => set(p, { vpcCidr: v })) },
  { rule: "1 to 6 availability zones", prop: "availabilityZones", breakIt: (p) => fc.constantFrom([], [...ZONES, `${REGION}g`]).map((v) => set(p, { availabilityZones: v })) },
  { rule: "availability zones are listed once", prop: "availabilityZones", applies: (p) => zoneCount(p) < 6, breakIt: (p) => fc.constant(set(p, { availabilityZones: [...p.availabilityZones!, p.availabilityZones![0]] })) },
  { rule: "availability zones are zone names", prop: "availabilityZones", breakIt: (p) => fc.constantFrom("x", "us-east-1", "US-EAST-1A", "").map((v) => set(p, { availabilityZones: [...p.availabilityZones!.slice(0, 5), v] })) },
  {
    rule: "one zone needs allowSingleZone",
    prop: "availabilityZones",
    breakIt: (p) => fc.constant(set(p, { availabilityZones: [p.availabilityZones![0]], allowSingleZone: undefined, apiServerCount: 3, etcdMemberCount: external(p) ? 3 : undefined, allowSingleApiServer: undefined, allowNonHaEtcd: undefined })),
  },
  {
    rule: "an etcd majority in one zone needs allowEtcdZoneQuorumLoss",
    prop: "etcdMemberCount",
    breakIt: (p) =>
      fc.constantFrom(3, 5, 7).map((n) =>
        set(p, { availabilityZones: p.availabilityZones!.length >= 2 ? p.availabilityZones!.slice(0, 2) : [ZONES[0], ZONES[1]], etcdTopology: EtcdTopology.EXTERNAL, etcdMemberCount: n, apiServerCount: 2, allowEtcdZoneQuorumLoss: undefined, allowNonHaEtcd: undefined }),
      ),
  },
  {
    rule: "stacked etcd: a majority of API servers in one zone needs allowEtcdZoneQuorumLoss",
    prop: "apiServerCount",
    breakIt: (p) => fc.constant(set(p, { availabilityZones: p.availabilityZones!.length >= 2 ? p.availabilityZones!.slice(0, 2) : [ZONES[0], ZONES[1]], etcdTopology: EtcdTopology.STACKED, etcdMemberCount: undefined, apiServerCount: 3, allowEtcdZoneQuorumLoss: undefined, allowSingleApiServer: undefined, allowNonHaEtcd: undefined })),
  },
  { rule: "natGateways is a NatGatewayMode", prop: "natGateways", breakIt: (p) => fc.constantFrom("PER_ZONE", "none", "").map((v) => set(p, { natGateways: v as NatGatewayMode })) },
  { rule: "podNetwork is a PodNetwork", prop: "podNetwork", breakIt: (p) => fc.constantFrom("calico", "VPC_NATIVE", "").map((v) => set(p, { podNetwork: v as PodNetwork })) },
  { rule: "endpointAccess is an EndpointAccess", prop: "endpointAccess", breakIt: (p) => fc.constantFrom("PUBLIC", "public", "").map((v) => set(p, { endpointAccess: v as EndpointAccess, allowedApiCidrs: ["203.0.113.0/24"] })) },
  { rule: "etcdTopology is an EtcdTopology", prop: "etcdTopology", breakIt: (p) => fc.constantFrom("stacked", "EXTERNAL_ETCD").map((v) => set(p, { etcdTopology: v as EtcdTopology })) },
  { rule: "VPC_NATIVE pods lie inside the VPC block", prop: "podCidr", breakIt: (p) => fc.constant(set(p, { podNetwork: PodNetwork.VPC_NATIVE, podCidr: "100.64.0.0/16" })) },
  { rule: "service block is /12 to /28", prop: "serviceCidr", breakIt: (p) => fc.constantFrom("172.16.0.0/11", "172.0.0.0/8", "172.16.0.0/29", "172.16.0.0/30").map((v) => set(p, { serviceCidr: v, podNetwork: PodNetwork.ROUTED, podCidr: "100.64.0.0/16" })) },
  { rule: "service block is an IPv4 network address", prop: "serviceCidr", breakIt: (p) => fc.constantFrom("172.16.0.1/12", "fd00::/108", "x").map((v) => set(p, { serviceCidr: v })) },
  { rule: "each node takes a /24 of the pod block", prop: "podCidr", breakIt: (p) => fc.constantFrom("100.64.0.0/25", "100.64.0.0/28").map((v) => set(p, { podNetwork: PodNetwork.ROUTED, podCidr: v })) },
  { rule: "pod and service blocks are disjoint", prop: "podCidr", breakIt: (p) => fc.constant(set(p, { podNetwork: PodNetwork.ROUTED, serviceCidr: "172.16.0.0/16", podCidr: "172.16.0.0/12" })) },
  { rule: "service block lies outside the VPC", prop: "serviceCidr", breakIt: (p) => fc.constant(set(p, { serviceCidr: p.vpcCidr, podNetwork: PodNetwork.ROUTED, podCidr: "100.64.0.0/16" })) },
  { rule: "routed pod block lies outside the VPC", prop: "podCidr", breakIt: (p) => fc.constantFrom(PodNetwork.ROUTED, PodNetwork.OVERLAY).map((m) => set(p, { podNetwork: m, podCidr: (p.vpcCidr as string).replace(/\/\d+$/, "/24") })) },
  { rule: "apiServerCount is a whole number from 1 to 9", prop: "apiServerCount", applies: external, breakIt: (p) => fc.constantFrom(0, -1, 10, 12, 2.5).map((v) => set(p, { apiServerCount: v })) },
  { rule: "a single API server needs allowSingleApiServer", prop: "apiServerCount", applies: external, breakIt: (p) => fc.constant(set(p, { apiServerCount: 1, allowSingleApiServer: undefined })) },
  {
    rule: "API servers spread evenly over the zones",
    prop: "apiServerCount",
    applies: (p) => external(p) && zoneCount(p) >= 2,
    breakIt: (p) => fc.constantFrom(...[2, 3, 4, 5, 6, 7, 8, 9].filter((c) => c > zoneCount(p) && c % zoneCount(p) !== 0)).map((c) => set(p, { apiServerCount: c })),
  },
  { rule: "etcd members: a whole number from 1 to 7", prop: "etcdMemberCount", applies: external, breakIt: (p) => fc.constantFrom(0, -3, 9, 11, 3.5).map((v) => set(p, { etcdMemberCount: v })) },
  { rule: "etcd members: an odd count", prop: "etcdMemberCount", applies: external, breakIt: (p) => fc.constantFrom(2, 4, 6).map((v) => set(p, { etcdMemberCount: v, allowEtcdZoneQuorumLoss: true })) },
  { rule: "a single etcd member needs allowNonHaEtcd", prop: "etcdMemberCount", applies: external, breakIt: (p) => fc.constant(set(p, { etcdMemberCount: 1, allowNonHaEtcd: undefined })) },
  {
    rule: "stacked etcd runs one member per API server",
    prop: "etcdMemberCount",
    applies: (p) => !external(p),
    breakIt: (p) => fc.constantFrom(...[1, 3, 5, 7].filter((n) => n !== apiCount(p))).map((n) => set(p, { etcdMemberCount: n })),
  },
  {
    rule: "stacked etcd: an odd API server count",
    prop: "apiServerCount",
    applies: (p) => !external(p),
    breakIt: (p) => fc.constantFrom(2, 4, 6).map((c) => set(p, { apiServerCount: c, etcdMemberCount: undefined, availabilityZones: [ZONES[0], ZONES[1]], allowEtcdZoneQuorumLoss: true })),
  },
  { rule: "API server instance type is family.size", prop: "apiServerInstanceType", breakIt: (p) => fc.constantFrom("", "large", "M6I.LARGE", "m6i", " m6i.large").map((v) => set(p, { apiServerInstanceType: v })) },
  { rule: "etcd instance type is family.size", prop: "etcdInstanceType", applies: external, breakIt: (p) => fc.constantFrom("", "x", "m6i.", " m6i.large").map((v) => set(p, { etcdInstanceType: v })) },
  { rule: "AMI id is ami- and 8 or 17 hex digits", prop: "amiId", breakIt: (p) => fc.constantFrom("ami-xyz", "", "ami-123", "ami-0123456789ABCDEF0", "ami-0123456789abcdef", "img-12345678").map((v) => set(p, { amiId: v })) },
  { rule: "etcd volume is 10 to 16384 GiB", prop: "etcdDataVolumeSizeGiB", breakIt: (p) => fc.constantFrom(-5, 0, 9, 16385, 20.5).map((v) => set(p, { etcdDataVolumeSizeGiB: v, etcdDataVolumeIops: 3000, etcdDataVolumeThroughputMiBps: 125 })) },
  { rule: "gp3 IOPS are 3000 to 16000", prop: "etcdDataVolumeIops", breakIt: (p) => fc.constantFrom(0, 2999, 16001, 20000).map((v) => set(p, { etcdDataVolumeSizeGiB: 100, etcdDataVolumeIops: v, etcdDataVolumeThroughputMiBps: 125 })) },
  { rule: "gp3 IOPS are at most 500 per GiB", prop: "etcdDataVolumeIops", breakIt: (p) => fc.integer({ min: 10, max: 31 }).map((size) => set(p, { etcdDataVolumeSizeGiB: size, etcdDataVolumeIops: Math.min(16000, size * 500 + 1), etcdDataVolumeThroughputMiBps: 125 })) },
  { rule: "gp3 throughput is 125 to 1000 MiB/s", prop: "etcdDataVolumeThroughputMiBps", breakIt: (p) => fc.constantFrom(0, 124, 1001).map((v) => set(p, { etcdDataVolumeSizeGiB: 100, etcdDataVolumeIops: 16000, etcdDataVolumeThroughputMiBps: v })) },
  { rule: "gp3 throughput is at most 0.25 MiB/s per IOPS", prop: "etcdDataVolumeThroughputMiBps", breakIt: (p) => fc.integer({ min: 3000, max: 3999 }).map((iops) => set(p, { etcdDataVolumeSizeGiB: 100, etcdDataVolumeIops: iops, etcdDataVolumeThroughputMiBps: Math.floor(iops / 4) + 1 })) },
  { rule: "alarmTopicArn needs monitoring", prop: "alarmTopicArn", breakIt: (p) => fc.constant(set(p, { monitoring: false, alarmTopicArn: "arn:aws:sns:us-east-1:123456789012:alerts" })) },
  { rule: "backup settings need backups", prop: "etcdBackupIntervalMinutes", breakIt: (p) => fc.integer({ min: 1, max: 1440 }).map((v) => set(p, { etcdBackups: false, etcdBackupIntervalMinutes: v })) },
  { rule: "backups off need allowBackupRemoval", prop: "etcdBackups", breakIt: (p) => fc.constant(set(p, { etcdBackups: false, etcdBackupIntervalMinutes: undefined, allowBackupRemoval: undefined })) },
  { rule: "backup interval is 1 to 1440 minutes", prop: "etcdBackupIntervalMinutes", breakIt: (p) => fc.constantFrom(0, -5, 1441, 2.5).map((v) => set(p, { etcdBackups: undefined, etcdBackupIntervalMinutes: v })) },
  { rule: "leaf certificates live at most a year", prop: "leafCertificateValidityHours", breakIt: (p) => fc.integer({ min: 8761, max: 100000 }).map((v) => set(p, { leafCertificateValidityHours: v })) },
];

function build(p: HaControlPlaneProps): SynthJson {
  const app: App = Testing.app();
  const stack = new TerraformStack(app, "fuzz");
  new AwsProvider(stack, "aws", { region: REGION });
  new HaControlPlane(stack, "Cp", p);
  return JSON.parse(Testing.synth(stack)) as SynthJson;
}

/** An invalid configuration and the rule it breaks. */
export const invalidProps: fc.Arbitrary<{ rule: InvalidRule; props: P }> = fc
  .tuple(validProps, fc.constantFrom(...INVALID_RULES))
  .filter(([p, rule]) => rule.applies === undefined || rule.applies(p as P))
  .chain(([p, rule]) => rule.breakIt(p as P).map((props) => ({ rule, props })));

/** Whether `err.prop` names `prop` (exactly, or as `prop[i]` / `prop["key"]`). */
function names(errProp: string, prop: string): boolean {
  return errProp === prop || errProp.startsWith(`${prop}[`);
}

/** Defines the property tests for one share of the runs (`part` 0 or 1 of 2). */
export function describeControlPlaneProperty(part: number, parts: number): void {
  describe(`HaControlPlane under random props (part ${part + 1} of ${parts})`, () => {
    jest.setTimeout(900000);
    const counts = { valid: 0, synthesized: 0, invalid: 0, refused: 0 };
    const perRule = new Map<string, number>();
    const numRuns = Math.ceil(propertyRuns() / parts);
    afterAll(() =>
      console.log(
        `property tier part ${part + 1}: ${counts.valid} valid configurations drawn, ${counts.synthesized} synthesized satisfying every invariant; ` +
          `${counts.invalid} invalid configurations drawn, ${counts.refused} refused with a ConfigError naming the broken prop ` +
          `(${perRule.size} of ${INVALID_RULES.length} rules exercised)`,
      ),
    );

    it("synthesizes every valid configuration, satisfying every invariant (a ConfigError is a failure)", () => {
      assertProperty(
        fc.property(validProps, (p) => {
          counts.valid++;
          let json: SynthJson;
          try {
            json = build(p);
          } catch (err) {
            if (err instanceof ConfigError) throw new Error(`a valid configuration was refused: ${err.message}`);
            throw err;
          }
          const violations = allViolations(json, p.clusterDomain ?? "cluster.local");
          if (violations.length > 0) throw new Error(`invariants broken:\n${violations.join("\n")}`);
          counts.synthesized++;
        }),
        { numRuns, seed: propertySeed() + part },
      );
      expect(counts.synthesized).toBe(counts.valid);
    });

    it("refuses every configuration that breaks one documented rule, with a ConfigError naming that rule's prop", () => {
      assertProperty(
        fc.property(invalidProps, ({ rule, props }) => {
          counts.invalid++;
          let refusal: unknown;
          try {
            build(props);
          } catch (err) {
            refusal = err;
          }
          if (refusal === undefined) throw new Error(`breaking "${rule.rule}" was accepted`);
          if (!(refusal instanceof ConfigError)) throw new Error(`breaking "${rule.rule}": ${(refusal as Error).name} escaped instead of a ConfigError: ${(refusal as Error).message}`);
          if (!names(refusal.prop, rule.prop)) throw new Error(`breaking "${rule.rule}": the ConfigError names "${refusal.prop}", not "${rule.prop}": ${refusal.message}`);
          if (!refusal.message.startsWith(`${refusal.prop} is `)) throw new Error(`message does not lead with the prop: ${refusal.message}`);
          counts.refused++;
          perRule.set(rule.rule, (perRule.get(rule.rule) ?? 0) + 1);
        }),
        { numRuns, seed: propertySeed() + part + 100 },
      );
      expect(counts.refused).toBe(counts.invalid);
    });
  });
}
