/**
 * Tier 2 for the metric-math alarms (issue 16): the provider validates `metric_query` (ids, one
 * returned expression, metric or expression per query), so the alarms of the largest control
 * plane — 9 API servers and 7 etcd members, 10 metric-math alarms at up to 9 metrics each — go
 * through `terraform validate` and `terraform plan` against the real AWS provider, offline.
 */
import { ControlPlaneAlarms } from "../../lib";
import { Testing, TerraformStack } from "../../lib/core";
import { planSynthesizedStack, providerPlanCheck } from "../harness/provider-plan";
import { describeTier } from "../harness/tiers";
import { testStack } from "../helpers/synth";

jest.setTimeout(240000);

describeTier("metric-math alarms against the real AWS provider", providerPlanCheck(), { tierLabel: "provider-plan" }, () => {
  it("plans the alarms of 9 API servers and 7 external etcd members", async () => {
    const { stack } = testStack("alarms");
    const alarms = new ControlPlaneAlarms(stack, "Alarms", {
      clusterName: "largest",
      loadBalancerTargets: [{ label: "internal", loadBalancer: "net/largest-internal/0123456789abcdef", targetGroup: "targetgroup/largest-api/0123456789abcdef" }],
      apiServerCount: 9,
      apiServerGroupName: "largest-apiserver",
      etcdGroupNames: Array.from({ length: 7 }, (_, i) => `largest-etcd-${i}`),
      apiServerSlots: Array.from({ length: 9 }, (_, i) => `apiserver-${i}`),
      etcdMemberSlots: Array.from({ length: 7 }, (_, i) => `etcd-${i}`),
      etcdBackupIntervalMinutes: 60,
    });
    const synthesized = Testing.synth(stack as TerraformStack);
    const math = Object.values(JSON.parse(synthesized).resource.aws_cloudwatch_metric_alarm as Record<string, { metric_query?: unknown[] }>).filter((a) => a.metric_query);
    expect(math).toHaveLength(7);
    const result = await planSynthesizedStack(synthesized);
    expect(result.prepared.removed).toEqual([]);
    // Every alarm and the topic are planned.
    expect(result.resourceCount).toBe(alarms.alarms.length + 1);
  });
});
