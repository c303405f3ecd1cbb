/**
 * ApiServerNodes refuses bad input with a ConfigError, and accepts its boundary values.
 *
 * The construct names its props as HaControlPlane does, prefixed by component: `count` is
 * reported as `apiServerCount`, `instanceType` as `apiServerInstanceType`, and so on.
 */
import { ApiServerNodes, ApiServerNodesProps } from "../../lib/compute/api-server-nodes";
import { ExistingNetwork, INetwork } from "../../lib/network/network";
import { dataSources, only, synth } from "../helpers/synth";
import { BadInput, IDS, LITERAL_ENDPOINT, LITERAL_KEY, existingNetwork, expectConfigError, manyTags, privateSubnet, scope } from "./config-error";

const NODES: ApiServerNodesProps = {
  clusterName: "prod",
  network: existingNetwork(),
  endpoint: LITERAL_ENDPOINT,
  securityGroupIds: [IDS.sg],
  encryptionKey: LITERAL_KEY,
  amiId: IDS.ami,
};

/** Three /26 private subnets: usable host offsets 4–62. */
const SMALL_SUBNETS: INetwork = ExistingNetwork.fromAttributes({
  vpcId: IDS.vpc,
  vpcCidr: "172.20.0.0/16",
  privateSubnets: [0, 1, 2].map((i) => privateSubnet(i, { cidrBlock: `172.20.${i}.0/26` })),
});
const TWO_ZONES = ExistingNetwork.fromAttributes({ vpcId: IDS.vpc, vpcCidr: "172.20.0.0/16", privateSubnets: [privateSubnet(0), privateSubnet(1)] });

describe("ApiServerNodes refuses bad input with a ConfigError", () => {
  const rows: BadInput<Partial<ApiServerNodesProps>>[] = [
    { title: "refuses an invalid cluster name", props: { clusterName: "9prod" }, prop: "clusterName", value: "9prod", fix: /"prod"/ },
    { title: "refuses 45 user tags", props: { tags: manyTags(45) }, prop: "tags", value: "45 tags" },
    { title: "refuses a 129-character tag key", props: { tags: { ["k".repeat(129)]: "v" } }, prop: `tags["${"k".repeat(129)}"]`, value: "k".repeat(129) },
    { title: "refuses zero API servers", props: { count: 0 }, prop: "apiServerCount", value: 0, fix: /use 3/ },
    { title: "refuses a single API server without allowSingleApiServer", props: { count: 1 }, prop: "apiServerCount", value: 1, fix: /allowSingleApiServer: true/ },
    { title: "refuses a single API server with allowSingleApiServer: false", props: { count: 1, allowSingleApiServer: false }, prop: "apiServerCount", value: 1 },
    { title: "refuses 4 API servers over 3 zones", props: { count: 4 }, prop: "apiServerCount", value: 4, fix: /multiple of 3, e\.g\. 3 or 6/ },
    { title: "refuses 8 API servers over 3 zones", props: { count: 8 }, prop: "apiServerCount", value: 8 },
    { title: "refuses 3 API servers over 2 zones", props: { count: 3, network: TWO_ZONES }, prop: "apiServerCount", value: 3, fix: /multiple of 2/ },
    { title: "refuses 10 API servers", props: { count: 10 }, prop: "apiServerCount", value: 10 },
    { title: "refuses a fractional API server count", props: { count: 1.5 }, prop: "apiServerCount", value: 1.5 },
    { title: "refuses an empty instance type", props: { instanceType: "" }, prop: "apiServerInstanceType", value: "", shows: '""', fix: /m6i\.large/ },
    { title: "refuses an instance type without a size", props: { instanceType: "m6i" }, prop: "apiServerInstanceType", value: "m6i" },
    { title: "refuses an instance type with a space", props: { instanceType: "m6i large" }, prop: "apiServerInstanceType", value: "m6i large" },
    { title: "refuses an upper-case instance type", props: { instanceType: "M6I.LARGE" }, prop: "apiServerInstanceType", value: "M6I.LARGE" },
    { title: "refuses an AMI id with too few digits", props: { amiId: "ami-1234567" }, prop: "amiId", value: "ami-1234567", fix: /omit it/ },
    { title: "refuses an AMI id with 9 hex digits", props: { amiId: "ami-123456789" }, prop: "amiId", value: "ami-123456789" },
    { title: "refuses an AMI id with non-hex digits", props: { amiId: "ami-0a422d70f727fe93g" }, prop: "amiId", value: "ami-0a422d70f727fe93g" },
    { title: "refuses an empty AMI id", props: { amiId: "" }, prop: "amiId", value: "", shows: '""' },
    { title: "refuses a 19 GiB root volume", props: { rootVolumeSizeGiB: 19 }, prop: "apiServerRootVolumeSizeGiB", value: 19, fix: /at least 20 GiB/ },
    { title: "refuses a root volume over 16 TiB", props: { rootVolumeSizeGiB: 16385 }, prop: "apiServerRootVolumeSizeGiB", value: 16385 },
    { title: "refuses an IMDS hop limit of 0", props: { metadataHopLimit: 0 }, prop: "metadataHopLimit", value: 0 },
    { title: "refuses an IMDS hop limit of 65", props: { metadataHopLimit: 65 }, prop: "metadataHopLimit", value: 65 },
    { title: "refuses a 59-second health-check grace period", props: { healthCheckGracePeriodSeconds: 59 }, prop: "healthCheckGracePeriodSeconds", value: 59, fix: /at least a minute/ },
    { title: "refuses a grace period over 2 hours", props: { healthCheckGracePeriodSeconds: 7201 }, prop: "healthCheckGracePeriodSeconds", value: 7201 },
    { title: "refuses slot host offset 3 (AWS reserves 0-3)", props: { slotHostOffset: 3 }, prop: "apiServerSlotHostOffset", value: 3, fix: /4 to 250/ },
    { title: "refuses slot host offset 251", props: { slotHostOffset: 251 }, prop: "apiServerSlotHostOffset", value: 251 },
    {
      title: "refuses a slot host offset past the last usable address of a /26",
      props: { network: SMALL_SUBNETS, slotHostOffset: 63 },
      prop: "network.privateSubnets",
      value: "172.20.0.0/26",
      fix: /larger subnets or fewer nodes/,
    },
    {
      title: "refuses a second slot per zone past the last usable address of a /26",
      props: { network: SMALL_SUBNETS, count: 6, slotHostOffset: 62 },
      prop: "network.privateSubnets",
      value: "172.20.0.0/26",
      shows: "host offset 63",
    },
    { title: "refuses an empty security group list", props: { securityGroupIds: [] }, prop: "securityGroupIds", value: [], fix: /ControlPlaneSecurityGroups\.apiServer\.id/ },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => new ApiServerNodes(scope(), "ApiServers", { ...NODES, ...row.props }), row);
  });

  // Bug (lib/compute/api-server-nodes.ts): the even-spread check runs before allocateSlots' "no
  // subnets" check, so a network without private subnets is reported as
  // `apiServerCount is 3: does not spread evenly over 0 zones ...; use a multiple of 0, e.g. 0 or 0`.
  it("refuses a network without private subnets, naming network.privateSubnets", () => {
    const none: INetwork = { vpcId: IDS.vpc, vpcCidr: "172.20.0.0/16", privateSubnets: [], publicSubnets: [] };
    expectConfigError(() => new ApiServerNodes(scope(), "ApiServers", { ...NODES, network: none }), { prop: "network.privateSubnets", value: [] });
  });
});

describe("ApiServerNodes accepts boundary values", () => {
  const rows: Array<{ title: string; props: Partial<ApiServerNodesProps>; ips?: string[] }> = [
    { title: "accepts a single API server with allowSingleApiServer", props: { count: 1, allowSingleApiServer: true }, ips: ["172.20.0.10"] },
    { title: "accepts 2 API servers over 3 zones", props: { count: 2 }, ips: ["172.20.0.10", "172.20.16.10"] },
    { title: "accepts 9 API servers over 3 zones", props: { count: 9 } },
    { title: "accepts a 20 GiB root volume", props: { rootVolumeSizeGiB: 20 } },
    { title: "accepts a 16384 GiB root volume", props: { rootVolumeSizeGiB: 16384 } },
    { title: "accepts IMDS hop limit 64", props: { metadataHopLimit: 64 } },
    { title: "accepts a grace period of 60 s", props: { healthCheckGracePeriodSeconds: 60 } },
    { title: "accepts a grace period of 7200 s", props: { healthCheckGracePeriodSeconds: 7200 } },
    { title: "accepts slot host offset 4, the first usable address", props: { slotHostOffset: 4 }, ips: ["172.20.0.4", "172.20.16.4", "172.20.32.4"] },
    { title: "accepts slot host offset 250", props: { slotHostOffset: 250 }, ips: ["172.20.0.250", "172.20.16.250", "172.20.32.250"] },
    { title: "accepts the last usable address of a /26", props: { network: SMALL_SUBNETS, slotHostOffset: 62 }, ips: ["172.20.0.62", "172.20.1.62", "172.20.2.62"] },
    { title: "accepts a Graviton instance type and looks up an arm64 image", props: { instanceType: "m7g.large", amiId: undefined } },
    { title: "accepts exactly 44 user tags", props: { tags: manyTags(44) } },
  ];
  it.each(rows)("$title", (row) => {
    let nodes: ApiServerNodes | undefined;
    const json = synth((s) => {
      nodes = new ApiServerNodes(s, "ApiServers", { ...NODES, ...row.props });
    });
    const group = only(json, "aws_autoscaling_group").props;
    expect(group.desired_capacity).toBe(row.props.count ?? 3);
    if (row.ips) expect(nodes?.slots.map((s) => s.privateIp)).toEqual(row.ips);
    if (row.props.amiId === undefined && "amiId" in row.props) {
      const ami = dataSources(json, "aws_ami")[0].props as { filter: Array<{ values: string[] }> };
      expect(ami.filter[0].values[0]).toContain("arm64");
    }
  });
});
