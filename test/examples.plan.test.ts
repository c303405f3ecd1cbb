/**
 * Tier 2: both examples synthesize and pass `terraform validate` + `terraform plan` against the real
 * AWS provider (offline mirror). Every resource here is an AWS resource: nothing is replaced.
 */
import { Testing } from "../lib/core";
import { HaClusterStack } from "../examples/ha-cluster/main";
import { ExistingVpcStack } from "../examples/existing-vpc/main";
import { EtcdTopology, HaControlPlane } from "../lib";
import { planSynthesizedStack, providerPlanCheck } from "./harness/provider-plan";
import { describeTier } from "./harness/tiers";
import { testStack } from "./helpers/synth";

jest.setTimeout(240000);

describeTier("examples against the real AWS provider", providerPlanCheck(), { mandatoryInCi: false, tierLabel: "provider-plan" }, () => {
  it("plans the reference HA cluster (examples/ha-cluster) with every resource", async () => {
    const synthesized = Testing.synth(new HaClusterStack(Testing.app(), "ha-cluster"));
    const result = await planSynthesizedStack(synthesized);
    expect(result.prepared.removed).toEqual([]);
    const declared = Object.values(JSON.parse(synthesized).resource as Record<string, object>).reduce((n, r) => n + Object.keys(r).length, 0);
    expect(result.resourceCount).toBe(declared);
  });

  it("plans the existing-VPC example (5 etcd members, internal and public endpoints, Route 53)", async () => {
    const synthesized = Testing.synth(new ExistingVpcStack(Testing.app(), "existing-vpc"));
    const result = await planSynthesizedStack(synthesized);
    expect(result.prepared.removed).toEqual([]);
    const declared = Object.values(JSON.parse(synthesized).resource as Record<string, object>).reduce((n, r) => n + Object.keys(r).length, 0);
    expect(result.resourceCount).toBe(declared);
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
    const result = await planSynthesizedStack(Testing.synth(stack));
    expect(result.resourceCount).toBeGreaterThan(50);
  });
});
