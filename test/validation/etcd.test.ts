/**
 * EtcdCluster and ExternalEtcdCluster.fromAttributes refuse bad input with a ConfigError, and
 * accept their boundary values.
 *
 * EtcdCluster names its props as HaControlPlane does: `memberCount` is reported as
 * `etcdMemberCount`, `dataVolumeIops` as `etcdDataVolumeIops`, and so on.
 */
import { NodeSlot, allocateSlots } from "../../lib/compute/slots";
import { EtcdCluster, EtcdClusterProps, EtcdMemberInfo, EtcdTopology, ExternalEtcdCluster } from "../../lib/etcd/etcd-cluster";
import { resources, synth } from "../helpers/synth";
import { BadInput, IDS, LITERAL_KEY, existingNetwork, expectConfigError, manyTags, privateSubnet, scope } from "./config-error";

const NETWORK = existingNetwork();
const ETCD: EtcdClusterProps = { clusterName: "prod", network: NETWORK, securityGroupIds: [IDS.sg], encryptionKey: LITERAL_KEY, amiId: IDS.ami };
const STACKED_COUNT = "apiServerCount";

function apiSlots(count: number): NodeSlot[] {
  return allocateSlots({ namePrefix: "apiserver", count, subnets: NETWORK.privateSubnets, hostOffset: 10, prop: "network.privateSubnets" });
}

describe("EtcdCluster refuses bad input with a ConfigError", () => {
  const stacked = { topology: EtcdTopology.STACKED };
  const rows: BadInput<Partial<EtcdClusterProps>>[] = [
    { title: "refuses an invalid cluster name", props: { clusterName: "prod eu" }, prop: "clusterName", value: "prod eu", fix: /"prod-eu"/ },
    { title: "refuses an aws: tag key", props: { tags: { "aws:backup": "daily" } }, prop: 'tags["aws:backup"]', value: "aws:backup" },
    { title: "refuses 45 user tags", props: { tags: manyTags(45) }, prop: "tags", value: "45 tags" },
    { title: "refuses an unknown topology", props: { topology: "SIDECAR" as EtcdTopology }, prop: "etcdTopology", value: "SIDECAR", fix: /EtcdTopology\.STACKED/ },
    { title: "refuses stacked etcd without the API server slots", props: { ...stacked }, prop: "stackedOn", value: undefined, fix: /ApiServerNodes\.slots/ },
    { title: "refuses stacked etcd with no API server slots", props: { ...stacked, stackedOn: [] }, prop: "stackedOn", value: [] },
    { title: "refuses API server slots with external etcd", props: { stackedOn: apiSlots(3) }, prop: "stackedOn", value: "slots", fix: /EtcdTopology\.STACKED/ },
    { title: "refuses stacked etcd on an even number of API servers", props: { ...stacked, stackedOn: apiSlots(2) }, prop: STACKED_COUNT, value: 2, fix: /use 1 or 3/ },
    { title: "refuses stacked etcd on a single API server without allowNonHaEtcd", props: { ...stacked, stackedOn: apiSlots(1) }, prop: STACKED_COUNT, value: 1, fix: /allowNonHaEtcd/ },
    { title: "refuses zero members", props: { memberCount: 0 }, prop: "etcdMemberCount", value: 0, fix: /use 3 or 5/ },
    { title: "refuses a single member without allowNonHaEtcd", props: { memberCount: 1 }, prop: "etcdMemberCount", value: 1, fix: /allowNonHaEtcd: true/ },
    { title: "refuses an even member count (2)", props: { memberCount: 2 }, prop: "etcdMemberCount", value: 2 },
    { title: "refuses an even member count (4)", props: { memberCount: 4 }, prop: "etcdMemberCount", value: 4, fix: /use 3 or 5/ },
    { title: "refuses an even member count (6) even with allowNonHaEtcd", props: { memberCount: 6, allowNonHaEtcd: true }, prop: "etcdMemberCount", value: 6, fix: /use 5 or 7/ },
    { title: "refuses 9 members", props: { memberCount: 9 }, prop: "etcdMemberCount", value: 9 },
    { title: "refuses a fractional member count", props: { memberCount: 2.5 }, prop: "etcdMemberCount", value: 2.5 },
    { title: "refuses an empty instance type", props: { instanceType: "" }, prop: "etcdInstanceType", value: "", shows: '""', fix: /m6i\.large/ },
    { title: "refuses an instance type without a size", props: { instanceType: "r6i" }, prop: "etcdInstanceType", value: "r6i" },
    { title: "refuses a malformed AMI id", props: { amiId: "ami-xyz" }, prop: "amiId", value: "ami-xyz", fix: /omit it/ },
    { title: "refuses a 9 GiB data volume", props: { dataVolumeSizeGiB: 9 }, prop: "etcdDataVolumeSizeGiB", value: 9 },
    { title: "refuses a data volume over 16 TiB", props: { dataVolumeSizeGiB: 16385 }, prop: "etcdDataVolumeSizeGiB", value: 16385 },
    { title: "refuses 2999 IOPS", props: { dataVolumeIops: 2999 }, prop: "etcdDataVolumeIops", value: 2999 },
    { title: "refuses 16001 IOPS", props: { dataVolumeIops: 16001, dataVolumeSizeGiB: 100 }, prop: "etcdDataVolumeIops", value: 16001 },
    { title: "refuses 124 MiB/s", props: { dataVolumeThroughputMiBps: 124 }, prop: "etcdDataVolumeThroughputMiBps", value: 124 },
    { title: "refuses 1001 MiB/s", props: { dataVolumeThroughputMiBps: 1001, dataVolumeIops: 16000, dataVolumeSizeGiB: 100 }, prop: "etcdDataVolumeThroughputMiBps", value: 1001 },
    { title: "refuses more than 500 IOPS per GiB", props: { dataVolumeSizeGiB: 12, dataVolumeIops: 6001 }, prop: "etcdDataVolumeIops", value: 6001, fix: /etcdDataVolumeSizeGiB to 13/ },
    { title: "refuses more than 0.25 MiB/s per IOPS", props: { dataVolumeIops: 4000, dataVolumeThroughputMiBps: 1001 }, prop: "etcdDataVolumeThroughputMiBps", value: 1001 },
    { title: "refuses 751 MiB/s with 3000 IOPS", props: { dataVolumeThroughputMiBps: 751 }, prop: "etcdDataVolumeThroughputMiBps", value: 751, shows: "750 for 3000 IOPS" },
    { title: "refuses a zone without a member domain", props: { privateHostedZoneId: IDS.zone }, prop: "etcdMemberDomain", value: undefined, fix: /or neither/ },
    { title: "refuses a member domain without a zone", props: { memberDomain: "etcd.prod.internal" }, prop: "etcdPrivateHostedZoneId", value: undefined },
    { title: "refuses an upper-case member domain", props: { privateHostedZoneId: IDS.zone, memberDomain: "ETCD.prod.internal" }, prop: "etcdMemberDomain", value: "ETCD.prod.internal", fix: /etcd\.prod\.internal/ },
    { title: "refuses a member domain with an underscore", props: { privateHostedZoneId: IDS.zone, memberDomain: "etcd_0.prod.internal" }, prop: "etcdMemberDomain", value: "etcd_0.prod.internal" },
    {
      title: "refuses a slot host offset below the usable addresses",
      props: { slotHostOffset: 3 },
      prop: "etcdSlotHostOffset",
      value: 3,
    },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => new EtcdCluster(scope(), "Etcd", { ...ETCD, ...row.props }), row);
  });

  // Bug (lib/etcd/etcd-cluster.ts): unlike ApiServerNodes.slotHostOffset, the etcd offset is never
  // checked to be a whole number; 20.5 passes the usable-range check and yields 172.20.0.20 etc.
  it("refuses a fractional slot host offset", () => {
    expectConfigError(() => new EtcdCluster(scope(), "Etcd", { ...ETCD, slotHostOffset: 20.5 }), { prop: "etcdSlotHostOffset", value: 20.5 });
  });
});

describe("EtcdCluster accepts boundary values", () => {
  const rows: Array<{ title: string; props: Partial<EtcdClusterProps>; volumes: number; groups: number }> = [
    { title: "accepts 3 members", props: {}, volumes: 3, groups: 3 },
    { title: "accepts 5 members", props: { memberCount: 5 }, volumes: 5, groups: 5 },
    { title: "accepts 7 members", props: { memberCount: 7 }, volumes: 7, groups: 7 },
    { title: "accepts a single member with allowNonHaEtcd", props: { memberCount: 1, allowNonHaEtcd: true }, volumes: 1, groups: 1 },
    { title: "accepts stacked etcd on 3 API server slots", props: { topology: EtcdTopology.STACKED, stackedOn: apiSlots(3) }, volumes: 3, groups: 0 },
    { title: "accepts stacked etcd on 1 slot with allowNonHaEtcd", props: { topology: EtcdTopology.STACKED, stackedOn: apiSlots(1), allowNonHaEtcd: true }, volumes: 1, groups: 0 },
    { title: "accepts 10 GiB with 5000 IOPS and 1000 MiB/s", props: { dataVolumeSizeGiB: 10, dataVolumeIops: 5000, dataVolumeThroughputMiBps: 1000 }, volumes: 3, groups: 3 },
    { title: "accepts 16000 IOPS on 32 GiB", props: { dataVolumeSizeGiB: 32, dataVolumeIops: 16000, dataVolumeThroughputMiBps: 1000 }, volumes: 3, groups: 3 },
    { title: "accepts 3000 IOPS with 750 MiB/s", props: { dataVolumeThroughputMiBps: 750 }, volumes: 3, groups: 3 },
    { title: "accepts 16384 GiB", props: { dataVolumeSizeGiB: 16384 }, volumes: 3, groups: 3 },
    { title: "accepts member records in a private zone", props: { privateHostedZoneId: IDS.zone, memberDomain: "etcd.prod.internal" }, volumes: 3, groups: 3 },
    { title: "accepts slot host offset 4", props: { slotHostOffset: 4 }, volumes: 3, groups: 3 },
    { title: "accepts exactly 44 user tags", props: { tags: manyTags(44) }, volumes: 3, groups: 3 },
  ];
  it.each(rows)("$title", (row) => {
    const json = synth((s) => new EtcdCluster(s, "Etcd", { ...ETCD, ...row.props }));
    expect(resources(json, "aws_ebs_volume")).toHaveLength(row.volumes);
    expect(resources(json, "aws_autoscaling_group")).toHaveLength(row.groups);
  });
});

const member = (i: number, o: Partial<EtcdMemberInfo> = {}): EtcdMemberInfo => ({
  name: `etcd-${i}`,
  privateIp: `10.0.${i}.20`,
  availabilityZone: privateSubnet(i % 3).availabilityZone,
  ...o,
});
const members = (n: number): EtcdMemberInfo[] => Array.from({ length: n }, (_, i) => member(i));

describe("ExternalEtcdCluster.fromAttributes refuses bad input with a ConfigError", () => {
  const rows: BadInput<EtcdMemberInfo[]>[] = [
    { title: "refuses no members", props: [], prop: "etcd.members.length", value: 0 },
    { title: "refuses a single member", props: members(1), prop: "etcd.members.length", value: 1 },
    { title: "refuses an even member count (2)", props: members(2), prop: "etcd.members.length", value: 2, fix: /use 1 or 3/ },
    { title: "refuses an even member count (4)", props: members(4), prop: "etcd.members.length", value: 4, fix: /use 3 or 5/ },
    { title: "refuses 9 members", props: members(9), prop: "etcd.members.length", value: 9 },
    { title: "refuses two members with the same name", props: [member(0), member(1), member(2, { name: "etcd-0" })], prop: "etcd.members", value: ["etcd-0", "etcd-1", "etcd-0"], fix: /own name/ },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => ExternalEtcdCluster.fromAttributes({ members: row.props }), row);
  });

  it.each([3, 5, 7])("accepts %i members", (n) => {
    const etcd = ExternalEtcdCluster.fromAttributes({ members: members(n) });
    expect(etcd.clientUrls).toHaveLength(n);
    expect(etcd.topology).toBe(EtcdTopology.EXTERNAL);
  });

  it("uses member DNS names in client URLs when given", () => {
    const etcd = ExternalEtcdCluster.fromAttributes({ members: [member(0, { dnsName: "etcd-0.prod.internal" }), member(1), member(2)] });
    expect(etcd.clientUrls).toEqual(["https://etcd-0.prod.internal:2379", "https://10.0.1.20:2379", "https://10.0.2.20:2379"]);
  });
});
