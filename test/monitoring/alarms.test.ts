import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ConfigError, ControlPlaneAlarms, EtcdTopology, HaControlPlane } from "../../lib";
import { FoundResource, SynthJson, follow, resources, synth, synthStack, userDataOf } from "../helpers/synth";

const json: SynthJson = synthStack(new HaClusterStack(Testing.app(), "ref"));
const alarms = resources(json, "aws_cloudwatch_metric_alarm");
const byName = (suffix: string): FoundResource => {
  const found = alarms.find((a) => a.props.alarm_name === `prod-eu1-${suffix}`);
  if (!found) throw new Error(`no alarm prod-eu1-${suffix}; have ${alarms.map((a) => a.props.alarm_name).join(", ")}`);
  return found;
};

describe("ControlPlaneAlarms in the reference cluster", () => {
  it("notifies one SNS topic on alarm and on recovery", () => {
    const topic = resources(json, "aws_sns_topic");
    expect(topic).toHaveLength(1);
    for (const a of alarms) {
      expect(a.props.alarm_actions).toEqual([`\${aws_sns_topic.${topic[0].name}.arn}`]);
      expect(a.props.ok_actions).toEqual(a.props.alarm_actions);
    }
  });

  it("alarms on any unhealthy API target and on fewer healthy targets than API servers", () => {
    const unhealthy = byName("api-internal-unhealthy");
    expect(unhealthy.props).toMatchObject({ namespace: "AWS/NetworkELB", metric_name: "UnHealthyHostCount", comparison_operator: "GreaterThanThreshold", threshold: 0 });
    expect(unhealthy.props.dimensions.TargetGroup).toMatch(/^\$\{aws_lb_target_group\.[^}]+\.arn_suffix\}$/);
    expect(unhealthy.props.dimensions.LoadBalancer).toMatch(/^\$\{aws_lb\.[^}]+\.arn_suffix\}$/);
    const below = byName("api-internal-healthy-below-3");
    expect(below.props).toMatchObject({ metric_name: "HealthyHostCount", statistic: "Minimum", comparison_operator: "LessThanThreshold", threshold: 3, treat_missing_data: "breaching" });
    // A one-at-a-time roll must not page: the window outlasts one replacement's re-admission.
    expect(below.props.period * below.props.evaluation_periods).toBeGreaterThanOrEqual(600);
  });

  it("alarms when an Auto Scaling group stays below its size", () => {
    const api = byName("apiserver-in-service");
    expect(api.props).toMatchObject({ namespace: "AWS/AutoScaling", metric_name: "GroupInServiceInstances", threshold: 3 });
    expect(follow(json, api.props.dimensions.AutoScalingGroupName).props.name).toBe("prod-eu1-apiserver");
    for (const i of [0, 1, 2]) expect(byName(`etcd-${i}-in-service`).props.threshold).toBe(1);
  });

  /** The per-slot metric queries of a metric-math alarm, by slot, and its returned expression. */
  const slotQueries = (a: FoundResource) => {
    const queries = a.props.metric_query as { id: string; label?: string; expression?: string; return_data?: boolean; metric?: Record<string, any> }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(a.props.metric_name).toBeUndefined();
    const returned = queries.filter((q) => q.return_data === true);
    expect(returned).toHaveLength(1);
    expect(returned[0].metric).toBeUndefined();
    const metrics = queries.filter((q) => q.metric !== undefined);
    // Every metric query is read by the expression (nothing fetched and ignored), none returned on its own.
    for (const q of metrics) {
      expect(q.return_data).toBe(false);
      expect(returned[0].expression).toContain(q.id);
    }
    return { expression: returned[0].expression!, bySlot: Object.fromEntries(metrics.map((q) => [q.metric!.dimensions.Slot, q])) };
  };

  it("alarms on every node's clock skew over 100 ms and certificates within 14 days of expiry, one alarm per role (issue 18: inside the 90-day renewal window)", () => {
    const roles: [string, string[]][] = [["apiserver", ["apiserver-0", "apiserver-1", "apiserver-2"]], ["etcd", ["etcd-0", "etcd-1", "etcd-2"]]];
    for (const [role, slots] of roles) {
      const skew = byName(`${role}-clock-skew`);
      expect(skew.props).toMatchObject({ threshold: 100, comparison_operator: "GreaterThanThreshold", evaluation_periods: 3, datapoints_to_alarm: 3, treat_missing_data: "notBreaching" });
      const s = slotQueries(skew);
      expect(Object.keys(s.bySlot).sort()).toEqual(slots);
      for (const slot of slots) {
        expect(s.bySlot[slot].metric).toEqual({ namespace: "HaControlPlane", metric_name: "ClockOffsetMilliseconds", stat: "Maximum", period: 60, dimensions: { Cluster: "prod-eu1", Slot: slot } });
        expect(s.bySlot[slot].label).toBe(slot);
      }
      // The highest offset of any slot breaches when that slot's own alarm would have.
      expect(s.expression).toMatch(/^MAX\(\[[a-z_0-9, ]+\]\)$/);
      expect(skew.props.alarm_description).toContain(slots.join(", "));

      const cert = byName(`${role}-certificate-expiry`);
      expect(cert.props).toMatchObject({ threshold: 14, comparison_operator: "LessThanThreshold", evaluation_periods: 1, treat_missing_data: "notBreaching" });
      const c = slotQueries(cert);
      expect(Object.keys(c.bySlot).sort()).toEqual(slots);
      for (const slot of slots) expect(c.bySlot[slot].metric).toMatchObject({ metric_name: "CertificateDaysLeft", stat: "Minimum", period: 3600, dimensions: { Cluster: "prod-eu1", Slot: slot } });
      // A slot without data must not breach (as with "notBreaching" on its own alarm): filled with the threshold, not below.
      expect(c.expression).toMatch(/^MIN\(FILL\(\[[a-z_0-9, ]+\], 14\)\)$/);
    }
  });

  it("alarms over all etcd members on missing members, leader churn and database size against the quota", () => {
    const members = ["etcd-0", "etcd-1", "etcd-2"];
    const healthy = byName("etcd-members");
    expect(healthy.props).toMatchObject({ threshold: 3, comparison_operator: "LessThanThreshold", evaluation_periods: 5, treat_missing_data: "breaching" });
    const h = slotQueries(healthy);
    expect(Object.keys(h.bySlot).sort()).toEqual(members);
    for (const m of members) expect(h.bySlot[m].metric).toMatchObject({ metric_name: "EtcdHealthyMembers", stat: "Minimum", period: 60 });
    // A member that stops reporting breaches, as with "breaching" on its own alarm: filled with 0 (< 3).
    expect(h.expression).toMatch(/^MIN\(FILL\(\[[a-z_0-9, ]+\], 0\)\)$/);
    const churn = byName("etcd-leader-changes");
    expect(churn.props).toMatchObject({ threshold: 3, comparison_operator: "GreaterThanThreshold", evaluation_periods: 1 });
    for (const m of members) expect(slotQueries(churn).bySlot[m].metric).toMatchObject({ metric_name: "EtcdLeaderChanges", stat: "Sum", period: 900 });
    expect(slotQueries(churn).expression).toMatch(/^MAX\(/);
    const db = byName("etcd-db-size");
    expect(db.props).toMatchObject({ threshold: 80, comparison_operator: "GreaterThanThreshold" });
    for (const m of members) expect(slotQueries(db).bySlot[m].metric).toMatchObject({ metric_name: "EtcdDbSizePercentOfQuota", stat: "Maximum", period: 300 });
    expect(slotQueries(db).expression).toMatch(/^MAX\(/);
    // Every etcd metric of every member is watched exactly once.
    const etcdReads = alarms.flatMap((a) => (a.props.metric_query ?? []).filter((q: any) => q.metric?.metric_name.startsWith("Etcd")).map((q: any) => `${q.metric.metric_name}/${q.metric.dimensions.Slot}`)); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(etcdReads.sort()).toEqual(["EtcdDbSizePercentOfQuota", "EtcdHealthyMembers", "EtcdLeaderChanges"].flatMap((m) => members.map((s) => `${m}/${s}`)).sort());
  });

  it("keeps every metric-math alarm within CloudWatch's 10 metrics, in every topology", () => {
    const big = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "big", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0", apiServerCount: 9, etcdMemberCount: 7 }));
    const stacked = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "st", amiId: "ami-0123456789abcdef0", etcdTopology: EtcdTopology.STACKED, apiServerCount: 7, availabilityZones: ["eu-west-1a"], allowSingleZone: true }));
    for (const [out, slots] of [[big, 16], [stacked, 7]] as const) {
      const math = resources(out, "aws_cloudwatch_metric_alarm").filter((a) => a.props.metric_query !== undefined);
      for (const a of math) expect(a.props.metric_query.filter((q: { metric?: unknown }) => q.metric !== undefined).length).toBeLessThanOrEqual(10);
      // Every slot's clock is still watched.
      const watched = new Set(math.flatMap((a) => a.props.metric_query).filter((q: any) => q.metric?.metric_name === "ClockOffsetMilliseconds").map((q: any) => q.metric.dimensions.Slot)); // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(watched.size).toBe(slots);
    }
    // Stacked members are API slots: no etcd-only clock or certificate alarm.
    expect(resources(stacked, "aws_cloudwatch_metric_alarm").map((a) => a.props.alarm_name)).not.toContain("st-etcd-clock-skew");
  });

  it("refuses more slots than one metric-math alarm can read", () => {
    const tooMany = Array.from({ length: 11 }, (_, i) => `apiserver-${i}`);
    expect(() => synth((s) => new ControlPlaneAlarms(s, "A", { clusterName: "c", loadBalancerTargets: [], apiServerCount: 11, apiServerGroupName: "g", etcdGroupNames: [], apiServerSlots: tooMany, etcdMemberSlots: [] }))).toThrow(ConfigError);
    expect(() => synth((s) => new ControlPlaneAlarms(s, "A", { clusterName: "c", loadBalancerTargets: [], apiServerCount: 10, apiServerGroupName: "g", etcdGroupNames: [], apiServerSlots: tooMany.slice(0, 10), etcdMemberSlots: [] }))).not.toThrow();
  });

  it("lists each alarm with the slots it reads (for instance-refresh alarm specifications and docs)", () => {
    const stack = new HaClusterStack(Testing.app(), "ref2");
    const declared = stack.controlPlane.alarms!.alarms;
    expect(declared.map((a) => a.name).sort()).toEqual(alarms.map((a) => a.props.alarm_name).sort());
    expect(declared.find((a) => a.name === "prod-eu1-apiserver-clock-skew")!.slots).toEqual(["apiserver-0", "apiserver-1", "apiserver-2"]);
    expect(declared.find((a) => a.name === "prod-eu1-api-internal-unhealthy")!.slots).toEqual([]);
  });

  it("has nodes publish the metrics the alarms watch", () => {
    const etcdLt = resources(json, "aws_launch_template").find((l) => l.props.name === "prod-eu1-etcd-0")!;
    const apiLt = resources(json, "aws_launch_template").find((l) => l.props.name === "prod-eu1-apiserver")!;
    expect(userDataOf(etcdLt)).toContain("RUNS_ETCD='true'");
    expect(userDataOf(apiLt)).toContain("RUNS_ETCD='false'");
    expect(userDataOf(apiLt)).toContain("ha-publish-metrics.timer");
  });
});

describe("monitoring options", () => {
  const base = { clusterName: "c", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0" };

  it("uses a given topic instead of creating one", () => {
    const topic = "arn:aws:sns:eu-west-1:111122223333:platform-pager";
    const out = synth((s) => new HaControlPlane(s, "Cp", { ...base, alarmTopicArn: topic }));
    expect(resources(out, "aws_sns_topic")).toHaveLength(0);
    resources(out, "aws_cloudwatch_metric_alarm").forEach((a) => expect(a.props.alarm_actions).toEqual([topic]));
  });

  it("declares no alarms and no publishers with monitoring off", () => {
    const out = synth((s) => new HaControlPlane(s, "Cp", { ...base, monitoring: false }));
    expect(resources(out, "aws_cloudwatch_metric_alarm")).toHaveLength(0);
    for (const lt of resources(out, "aws_launch_template")) expect(userDataOf(lt)).not.toContain("ha-publish-metrics");
  });

  it("refuses a malformed topic ARN and a topic without monitoring", () => {
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { ...base, alarmTopicArn: "pager" }))).toThrow(ConfigError);
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { ...base, monitoring: false, alarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:x" }))).toThrow(/monitoring/);
  });
});
