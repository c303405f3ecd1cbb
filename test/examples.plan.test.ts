/**
 * Tier 2: the examples synthesize and pass `terraform validate` + `terraform plan` against the real
 * AWS provider and the tls stand-in (test/providers/tls), offline. Every AWS and tls resource is
 * planned; nothing is cut out but the data sources that must ask STS (substituted offline).
 */
import { Testing } from "../lib/core";
import { HaClusterStack } from "../examples/ha-cluster/main";
import { ExistingVpcStack } from "../examples/existing-vpc/main";
import { PrivateCaStack } from "../examples/private-ca/main";
import { DEFAULT_ETCD_RELEASE, EtcdTopology, HaControlPlane } from "../lib";
import { STS_DATA_SOURCES, planSynthesizedStack, providerPlanCheck } from "./harness/provider-plan";
import { describeTier } from "./harness/tiers";
import { testStack } from "./helpers/synth";

jest.setTimeout(240000);

/** Number of AWS and tls resources in a synthesized stack (the ones terraform must plan). */
function awsResourceCount(synthesized: string): number {
  const resources = JSON.parse(synthesized).resource as Record<string, object>;
  const planned = Object.entries(resources).filter(([type]) => type.startsWith("aws_") || type.startsWith("tls_"));
  expect(planned.some(([type]) => type.startsWith("tls_"))).toBe(true);
  return planned.reduce((n, [, r]) => n + Object.keys(r).length, 0);
}

/** Nothing is cut out but the STS data sources: no tls resource, no placeholder for one. */
function expectNothingCutOut(removed: readonly string[]): void {
  for (const address of removed) expect(STS_DATA_SOURCES.some((t) => address.startsWith(`data.${t}.`))).toBe(true);
}

describeTier("examples against the real AWS provider", providerPlanCheck(), { tierLabel: "provider-plan" }, () => {
  it("plans the reference HA cluster (examples/ha-cluster) with every resource", async () => {
    const synthesized = Testing.synth(new HaClusterStack(Testing.app(), "ha-cluster"));
    const result = await planSynthesizedStack(synthesized);
    expectNothingCutOut(result.prepared.removed);
    expect(result.resourceCount).toBe(awsResourceCount(synthesized));
  });

  it("plans the existing-VPC example (5 etcd members, internal and public endpoints, Route 53)", async () => {
    const synthesized = Testing.synth(new ExistingVpcStack(Testing.app(), "existing-vpc"));
    const result = await planSynthesizedStack(synthesized);
    expectNothingCutOut(result.prepared.removed);
    expect(result.resourceCount).toBe(awsResourceCount(synthesized));
  });

  it("plans the AWS Private CA example with every Private CA resource", async () => {
    const synthesized = Testing.synth(new PrivateCaStack(Testing.app(), "private-ca"));
    const result = await planSynthesizedStack(synthesized);
    expectNothingCutOut(result.prepared.removed);
    expect(result.resourceCount).toBe(awsResourceCount(synthesized));
    expect(synthesized).toContain("aws_acmpca_certificate_authority");
  });

  it("plans the stacked topology and a 40-character cluster name", async () => {
    const { stack } = testStack("stacked");
    new HaControlPlane(stack, "Cp", {
      clusterName: "a-forty-character-cluster-name-for-test",
      availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
      amiId: "ami-0123456789abcdef0",
      etcdTopology: EtcdTopology.STACKED,
      apiServerCount: 3,
    });
    const synthesized = Testing.synth(stack);
    const result = await planSynthesizedStack(synthesized);
    expectNothingCutOut(result.prepared.removed);
    expect(result.resourceCount).toBe(awsResourceCount(synthesized));
  });

  it("plans VPC endpoints with no internet egress (vpcEndpoints, internetEgress: [], an etcd mirror)", async () => {
    const { stack } = testStack("no-egress");
    new HaControlPlane(stack, "Cp", {
      clusterName: "no-egress",
      availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
      amiId: "ami-0123456789abcdef0",
      vpcEndpoints: true,
      internetEgress: [],
      etcdRelease: { ...DEFAULT_ETCD_RELEASE, mirrorUrlTemplate: "https://mirror.internal.example/etcd/etcd-v{version}-linux-{arch}.tar.gz", mirrorOnly: true },
    });
    const synthesized = Testing.synth(stack);
    const result = await planSynthesizedStack(synthesized);
    expectNothingCutOut(result.prepared.removed);
    expect(result.resourceCount).toBe(awsResourceCount(synthesized));
    expect(Object.keys(JSON.parse(synthesized).resource.aws_vpc_endpoint)).toHaveLength(9);
  });
});
