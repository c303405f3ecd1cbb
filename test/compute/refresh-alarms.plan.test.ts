/**
 * Issue 18 finding 1 (remainder), plan tier: the API group's refresh settings — stop on the API
 * health alarms, roll back when asked — are accepted by the real AWS provider (5.100.0 from the
 * mirror) and planned as the schema spells them (`instance_refresh.preferences.alarm_specification`,
 * `auto_rollback`), with the alarm names known at plan time (they come from configured alarms).
 */
import { Testing } from "../../lib/core";
import { HaControlPlane } from "../../lib";
import { type JsonObject, planSynthesizedStack, providerPlanCheck } from "../harness/provider-plan";
import { describeTier } from "../harness/tiers";
import { testStack } from "../helpers/synth";

jest.setTimeout(600_000);

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

describeTier("API refresh alarms against the real AWS provider", providerPlanCheck(), { tierLabel: "provider-plan" }, () => {
  it("plans the API group's refresh with the unhealthy-target alarms and auto rollback", async () => {
    const { stack } = testStack("refresh-alarms");
    new HaControlPlane(stack, "Cp", {
      clusterName: "refresh",
      availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
      amiId: "ami-0123456789abcdef0",
      apiServerRefreshAutoRollback: true,
    });
    const result = await planSynthesizedStack(Testing.synth(stack), { planJson: true });
    const changes = (result.plan as JsonObject).resource_changes as Json[];
    const group = changes.find((c) => c.type === "aws_autoscaling_group" && c.change.after.name === "refresh-apiserver");
    expect(group).toBeDefined();
    const prefs = group.change.after.instance_refresh[0].preferences[0];
    expect(prefs.auto_rollback).toBe(true);
    expect([prefs.min_healthy_percentage, prefs.max_healthy_percentage]).toEqual([100, 100]);
    const alarmNames = changes.filter((c) => c.type === "aws_cloudwatch_metric_alarm" && c.change.after.metric_name === "UnHealthyHostCount").map((c) => c.change.after.alarm_name).sort();
    expect(alarmNames.length).toBeGreaterThan(0);
    expect([...prefs.alarm_specification[0].alarms].sort()).toEqual(alarmNames);
    // Every other group has no refresh settings (etcd rolls through ha-roll-etcd).
    for (const c of changes.filter((x) => x.type === "aws_autoscaling_group" && x !== group)) expect(c.change.after.instance_refresh).toEqual([]);
  });
});
