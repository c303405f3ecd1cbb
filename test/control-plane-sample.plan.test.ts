/**
 * Tier 2 for the property tier: a seeded sample of 20 valid random configurations, all in one stack
 * (one terraform plan for the lot), through `terraform validate` and `terraform plan` against the
 * real AWS provider. Only tls resources and the AMI lookup get placeholders.
 */
import * as fc from "fast-check";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack, Testing } from "../lib/core";
import { HaControlPlane } from "../lib";
import { planSynthesizedStack, providerPlanCheck } from "./harness/provider-plan";
import { propertySeed } from "./harness/property";
import { describeTier } from "./harness/tiers";
import { validProps } from "./helpers/control-plane-property";

const SAMPLE = 20;

describeTier("random valid control planes against the real AWS provider", providerPlanCheck(), { tierLabel: "provider-plan" }, () => {
  it(`plans ${SAMPLE} sampled configurations in one stack`, async () => {
    const seed = propertySeed();
    const samples = fc.sample(validProps, { seed, numRuns: SAMPLE });
    const stack = new TerraformStack(Testing.app(), "sample");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    samples.forEach((props, i) => {
      // Distinct names: two samples may draw the same one.
      const clusterName = `${props.clusterName.slice(0, 36)}-${i}`;
      new HaControlPlane(stack, `Cp${i}`, { ...props, clusterName });
    });
    const synthesized = Testing.synth(stack);
    const result = await planSynthesizedStack(synthesized, { substituteDataSources: ["aws_ami"], commandTimeoutMs: 900_000 });
    // Nothing of tls is cut out: only AMI lookups and the STS data sources are substituted offline.
    for (const address of result.prepared.removed) expect(address).toMatch(/^data\.aws_(ami|caller_identity|iam_session_context)\./);
    const awsResources = Object.entries(JSON.parse(synthesized).resource as Record<string, object>)
      .filter(([type]) => type.startsWith("aws_") || type.startsWith("tls_"))
      .reduce((n, [, r]) => n + Object.keys(r).length, 0);
    expect(result.resourceCount).toBe(awsResources);
    console.log(`provider-plan sample: ${SAMPLE} random control planes (seed ${seed}), ${awsResources} AWS and tls resources planned`);
  }, 1_200_000);
});
