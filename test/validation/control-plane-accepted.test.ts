/**
 * The other side of the HaControlPlane validation tables: boundary values that must be accepted
 * construct and synthesize without throwing.
 */
import { HaControlPlane, HaControlPlaneProps } from "../../lib/control-plane";
import { EtcdTopology } from "../../lib/etcd/etcd-cluster";
import { EndpointAccess } from "../../lib/loadbalancer/api-load-balancer";
import { SynthJson, allResources, only, resources, synth } from "../helpers/synth";
import { IDS, REFERENCE_PROPS, existingNetwork, manyTags } from "./config-error";

interface Accepted {
  readonly title: string;
  readonly props: Partial<HaControlPlaneProps>;
  readonly verify?: (json: SynthJson, cp: HaControlPlane) => void;
}

function synthWith(overrides: Partial<HaControlPlaneProps>): { json: SynthJson; cp: HaControlPlane } {
  let cp: HaControlPlane | undefined;
  const json = synth((s) => {
    cp = new HaControlPlane(s, "ControlPlane", { ...REFERENCE_PROPS, ...overrides });
  });
  return { json, cp: cp as HaControlPlane };
}

const count = (json: SynthJson, type: string): number => resources(json, type).length;
const sixZones = ["a", "b", "c", "d", "e", "f"].map((z) => `eu-west-1${z}`);

const rows: Accepted[] = [
  { title: "accepts a 1-character cluster name", props: { clusterName: "a" } },
  { title: "accepts a 40-character cluster name", props: { clusterName: `a${"b".repeat(38)}9` }, verify: (_, cp) => expect(cp.clusterName).toHaveLength(40) },
  { title: "accepts Kubernetes 1.32.0, the oldest supported release", props: { kubernetesVersion: "1.32.0" } },
  { title: "accepts a v-prefixed version and strips the v", props: { kubernetesVersion: "v1.33.5" }, verify: (_, cp) => expect(cp.kubernetesVersion).toBe("1.33.5") },
  { title: "accepts 5 etcd members", props: { etcdMemberCount: 5 }, verify: (json) => expect(count(json, "aws_ebs_volume")).toBe(5) },
  { title: "accepts 7 etcd members", props: { etcdMemberCount: 7 }, verify: (json) => expect(count(json, "aws_autoscaling_group")).toBe(1 + 7) },
  { title: "accepts a single etcd member with allowNonHaEtcd", props: { etcdMemberCount: 1, allowNonHaEtcd: true }, verify: (json) => expect(count(json, "aws_ebs_volume")).toBe(1) },
  {
    title: "accepts a single API server with allowSingleApiServer",
    props: { apiServerCount: 1, allowSingleApiServer: true },
    verify: (json) => expect(count(json, "aws_network_interface")).toBe(1 + 3),
  },
  { title: "accepts 2 API servers over 3 zones (fewer servers than zones)", props: { apiServerCount: 2 } },
  { title: "accepts 6 API servers over 3 zones", props: { apiServerCount: 6 } },
  { title: "accepts 9 API servers over 3 zones", props: { apiServerCount: 9 }, verify: (_, cp) => expect(cp.apiServers.slots).toHaveLength(9) },
  { title: "accepts stacked etcd with a matching member count", props: { etcdTopology: EtcdTopology.STACKED, apiServerCount: 3, etcdMemberCount: 3 }, verify: (json) => expect(count(json, "aws_ebs_volume")).toBe(3) },
  { title: "accepts 5 stacked API servers over 5 zones", props: { etcdTopology: EtcdTopology.STACKED, apiServerCount: 5, etcdMemberCount: undefined, availabilityZones: sixZones.slice(0, 5) } },
  {
    title: "accepts a single stacked API server with allowSingleApiServer and allowNonHaEtcd",
    props: { etcdTopology: EtcdTopology.STACKED, apiServerCount: 1, etcdMemberCount: undefined, allowSingleApiServer: true, allowNonHaEtcd: true },
  },
  {
    title: "accepts a public endpoint open to 0.0.0.0/0 when written out",
    props: { endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC, allowedApiCidrs: ["0.0.0.0/0"] },
    verify: (json) => expect(count(json, "aws_lb")).toBe(2),
  },
  { title: "accepts a /32 client block", props: { allowedApiCidrs: ["203.0.113.7/32", "10.20.0.0/16"] } },
  { title: "accepts an internal endpoint with no allowedApiCidrs", props: { allowedApiCidrs: undefined } },
  { title: "accepts a /28 service CIDR and a /24 pod CIDR", props: { serviceCidr: "172.31.255.240/28", podCidr: "192.168.0.0/24" }, verify: (_, cp) => expect([cp.serviceCidr, cp.podCidr]).toEqual(["172.31.255.240/28", "192.168.0.0/24"]) },
  { title: "accepts a /22 VPC", props: { vpcCidr: "10.0.0.0/22" }, verify: (json) => expect(resources(json, "aws_subnet").map((s) => s.props.cidr_block)).toContain("10.0.0.0/26") },
  { title: "accepts 6 zones with 6 API servers", props: { availabilityZones: sixZones, apiServerCount: 6 }, verify: (json) => expect(count(json, "aws_nat_gateway")).toBe(6) },
  { title: "accepts a single zone with allowSingleZone", props: { availabilityZones: ["eu-west-1a"], allowSingleZone: true } },
  { title: "accepts Local Zone names", props: { availabilityZones: ["us-west-2-lax-1a", "us-west-2-lax-1b", "us-west-2a"] } },
  {
    title: "accepts the smallest gp3 volume at its IOPS and throughput ceilings (10 GiB, 5000 IOPS, 1000 MiB/s)",
    props: { etcdDataVolumeSizeGiB: 10, etcdDataVolumeIops: 5000, etcdDataVolumeThroughputMiBps: 1000 },
    verify: (json) => expect(resources(json, "aws_ebs_volume")[0].props).toMatchObject({ size: 10, iops: 5000, throughput: 1000 }),
  },
  { title: "accepts 3000 IOPS with 750 MiB/s (0.25 MiB/s per IOPS)", props: { etcdDataVolumeIops: 3000, etcdDataVolumeThroughputMiBps: 750 } },
  { title: "accepts the largest gp3 volume (16384 GiB, 16000 IOPS)", props: { etcdDataVolumeSizeGiB: 16384, etcdDataVolumeIops: 16000 } },
  { title: "accepts Graviton and dashed instance types", props: { apiServerInstanceType: "c7g.2xlarge", etcdInstanceType: "u-6tb1.metal" } },
  { title: "accepts an AMI id with 8 hex digits", props: { amiId: "ami-12345678" } },
  { title: "accepts an IMDS hop limit of 64", props: { metadataHopLimit: 64 } },
  {
    title: "accepts a multi-Region KMS key ARN",
    props: { kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab" },
    verify: (json) => expect(count(json, "aws_kms_key")).toBe(0),
  },
  { title: "accepts a KMS key ARN in the aws-cn partition", props: { kmsKeyArn: "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" } },
  { title: "accepts a 128-character tag key, a 256-character value and an empty value", props: { tags: { [`k${"e".repeat(127)}`]: "v".repeat(256), empty: "" } } },
  { title: "accepts a custom cluster domain", props: { clusterDomain: "k8s.example.com" }, verify: (_, cp) => expect(cp.clusterDomain).toBe("k8s.example.com") },
  { title: "accepts a one-label cluster domain", props: { clusterDomain: "local" } },
  {
    title: "accepts Route 53 names for both endpoints and etcd members",
    props: {
      endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC,
      privateHostedZoneId: IDS.zone,
      internalDnsName: "api.prod.internal",
      publicHostedZoneId: "Z1",
      publicDnsName: "api.example.com",
      etcdPrivateHostedZoneId: IDS.zone,
      etcdMemberDomain: "etcd.prod.internal",
    },
    verify: (json) => expect(count(json, "aws_route53_record")).toBe(2 + 3),
  },
  {
    title: "accepts an existing network (no vpcCidr, zones or NAT mode)",
    props: { vpcCidr: undefined, availabilityZones: undefined, network: existingNetwork() },
    verify: (json) => expect(count(json, "aws_vpc")).toBe(0),
  },
];

describe("HaControlPlane accepts boundary values", () => {
  it.each(rows)("$title", (row) => {
    const { json, cp } = synthWith(row.props);
    expect(count(json, "aws_autoscaling_group")).toBeGreaterThan(0);
    expect(only(json, "aws_iam_service_linked_role")).toBeDefined();
    row.verify?.(json, cp);
  });

  let fortyFive: SynthJson | undefined;
  const with44Tags = (): SynthJson => (fortyFive ??= synthWith({ tags: manyTags(44) }).json);

  it("accepts exactly 44 user tags", () => {
    const json = with44Tags();
    expect(only(json, "aws_vpc").props.tags).toMatchObject({ "tag-0": "value-0", "tag-43": "value-43" });
  });

  // Bug (lib/etcd/etcd-cluster.ts + lib/tags.ts): checkTags reserves 5 tags for the library, but
  // etcd data volumes carry 6 of its own (Name, cluster, kubernetes.io/cluster/<name>, role, slot,
  // and ha-control-plane/purpose), so at most 44 user tags are accepted (50 in all).
  it("keeps every resource within AWS's 50 tags with exactly 44 user tags", () => {
    const json = with44Tags();
    const over: string[] = [];
    for (const r of allResources(json)) {
      const tagSets: Array<[string, unknown]> = [["tags", r.props.tags]];
      const specs = (r.props.tag_specifications ?? []) as Array<{ resource_type: string; tags: unknown }>;
      for (const spec of specs) tagSets.push([`tag_specifications[${spec.resource_type}]`, spec.tags]);
      if (Array.isArray(r.props.tag)) tagSets.push(["tag", Object.fromEntries((r.props.tag as Array<{ key: string }>).map((t) => [t.key, t]))]);
      for (const [where, tags] of tagSets) {
        const n = Object.keys((tags as object | undefined) ?? {}).length;
        if (n > 50) over.push(`${r.type}.${r.name} ${where}: ${n} tags`);
      }
    }
    expect(over).toEqual([]);
  });
});
