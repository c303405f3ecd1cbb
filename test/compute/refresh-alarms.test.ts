/**
 * Issue 18 finding 1 (remainder): the API group's instance refresh stops when an API server behind
 * the load balancer fails its health check. Oracles: the StartInstanceRefresh API (AWS: an
 * `AlarmSpecification` of at most 10 alarms; a refresh fails when one goes to ALARM; `AutoRollback`
 * replaces what it deployed) and the NLB metric that says a target fails its health check
 * (`AWS/NetworkELB` `UnHealthyHostCount`, per target group). The plan tier
 * (test/harness/provider-plan.plan.test.ts) plans the same settings with the real AWS provider.
 */
import { EtcdTopology, HaControlPlane } from "../../lib";
import { FoundResource, SynthJson, follow, resources, synth } from "../helpers/synth";

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

function apiGroup(json: SynthJson): FoundResource {
  return resources(json, "aws_autoscaling_group").find((g) => String(g.props.name).endsWith("-apiserver")) as FoundResource;
}

describe("the API server refresh stops on the API health alarms", () => {
  it.each([EtcdTopology.EXTERNAL, EtcdTopology.STACKED])("names every load balancer's unhealthy-target alarm, and only those (%s etcd)", (etcdTopology) => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, etcdTopology }));
    const prefs = apiGroup(json).props.instance_refresh.preferences;
    const alarms = (prefs.alarm_specification.alarms as string[]).map((ref) => follow(json, ref).props);
    expect(alarms.length).toBeGreaterThanOrEqual(1);
    expect(alarms.length).toBeLessThanOrEqual(10);
    for (const a of alarms) {
      expect([a.namespace, a.metric_name, a.comparison_operator, a.threshold]).toEqual(["AWS/NetworkELB", "UnHealthyHostCount", "GreaterThanThreshold", 0]);
      expect(Object.keys(a.dimensions as object).sort()).toEqual(["LoadBalancer", "TargetGroup"]);
    }
    // Every target group of the group is watched.
    const watched = alarms.map((a) => (a.dimensions as Record<string, string>).TargetGroup);
    expect(watched).toHaveLength((apiGroup(json).props.target_group_arns as string[]).length);
    expect(prefs.auto_rollback).toBe(false);
    // The rest of the rolling settings are unchanged: one server at a time.
    expect([prefs.min_healthy_percentage, prefs.max_healthy_percentage, prefs.skip_matching]).toEqual([100, 100, true]);
    // etcd groups roll only through ha-roll-etcd: no refresh settings there.
    for (const g of resources(json, "aws_autoscaling_group").filter((x) => x.name !== apiGroup(json).name)) expect(g.props.instance_refresh).toBeUndefined();
  });

  it("rolls back too with apiServerRefreshAutoRollback, on a group that names a numbered template version", () => {
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, apiServerRefreshAutoRollback: true }));
    const group = apiGroup(json).props;
    expect(group.instance_refresh.preferences.auto_rollback).toBe(true);
    // AWS: no rollback when the group uses $Latest or $Default.
    expect(String(group.launch_template.version)).toMatch(/^\$\{aws_launch_template\.[A-Za-z0-9_]+\.latest_version\}$/);
  });

  it("refuses apiServerRefreshAutoRollback without monitoring (there is no alarm to stop on)", () => {
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, monitoring: false, apiServerRefreshAutoRollback: true }))).toThrow(/apiServerRefreshAutoRollback[\s\S]*monitoring/);
    const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, monitoring: false }));
    expect(apiGroup(json).props.instance_refresh.preferences.alarm_specification).toBeUndefined();
  });
});
