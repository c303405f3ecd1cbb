/**
 * Tier 2: both examples synthesize and pass `terraform validate` + `terraform plan` against the real
 * AWS provider (offline mirror). Every AWS resource is planned for real; only the tls provider's
 * resources (not available offline) are replaced by typed placeholders.
 */
import { Testing } from "../lib/core";
import { HaClusterStack } from "../examples/ha-cluster/main";
import { ExistingVpcStack } from "../examples/existing-vpc/main";
import { PrivateCaStack } from "../examples/private-ca/main";
import { EtcdTopology, HaControlPlane } from "../lib";
import { planSynthesizedStack, providerPlanCheck } from "./harness/provider-plan";
import { describeTier } from "./harness/tiers";
import { testStack } from "./helpers/synth";

jest.setTimeout(240000);

/** Number of AWS resources in a synthesized stack (the ones terraform must plan). */
function awsResourceCount(synthesized: string): number {
  const resources = JSON.parse(synthesized).resource as Record<string, object>;
  return Object.entries(resources).filter(([type]) => type.startsWith("aws_")).reduce((n, [, r]) => n + Object.keys(r).length, 0);
}

/** Only tls provider resources may be replaced by placeholders. */
function expectOnlyTlsRemoved(removed: readonly string[]): void {
  expect(removed.length).toBeGreaterThan(0);
  for (const address of removed) expect(address).toMatch(/^tls_/);
}

describeTier("examples against the real AWS provider", providerPlanCheck(), { mandatoryInCi: false, tierLabel: "provider-plan" }, () => {
  it("plans the reference HA cluster (examples/ha-cluster) with every resource", async () => {
    const synthesized = Testing.synth(new HaClusterStack(Testing.app(), "ha-cluster"));
    const result = await planSynthesizedStack(synthesized);
    expectOnlyTlsRemoved(result.prepared.removed);
    expect(result.resourceCount).toBe(awsResourceCount(synthesized));
  });

  it("plans the existing-VPC example (5 etcd members, internal and public endpoints, Route 53)", async () => {
    const synthesized = Testing.synth(new ExistingVpcStack(Testing.app(), "existing-vpc"));
    const result = await planSynthesizedStack(synthesized);
    expectOnlyTlsRemoved(result.prepared.removed);
    expect(result.resourceCount).toBe(awsResourceCount(synthesized));
  });

  it("plans the AWS Private CA example with every Private CA resource", async () => {
    const synthesized = Testing.synth(new PrivateCaStack(Testing.app(), "private-ca"));
    const result = await planSynthesizedStack(synthesized);
    expectOnlyTlsRemoved(result.prepared.removed);
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
    expectOnlyTlsRemoved(result.prepared.removed);
    expect(result.resourceCount).toBe(awsResourceCount(synthesized));
  });
});
