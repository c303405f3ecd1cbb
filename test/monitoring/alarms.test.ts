import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ConfigError, HaControlPlane } from "../../lib";
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

  it("alarms per node on clock skew over 100 ms and certificates within 14 days of expiry (issue 18: inside the 90-day renewal window)", () => {
    for (const slot of ["apiserver-0", "apiserver-2", "etcd-1"]) {
      expect(byName(`${slot}-clock-skew`).props).toMatchObject({ namespace: "HaControlPlane", metric_name: "ClockOffsetMilliseconds", threshold: 100, comparison_operator: "GreaterThanThreshold", dimensions: { Cluster: "prod-eu1", Slot: slot } });
      expect(byName(`${slot}-certificate-expiry`).props).toMatchObject({ metric_name: "CertificateDaysLeft", threshold: 14, comparison_operator: "LessThanThreshold" });
    }
  });

  it("alarms per etcd member on missing members, leader churn and database size against the quota", () => {
    expect(byName("etcd-0-etcd-members").props).toMatchObject({ metric_name: "EtcdHealthyMembers", threshold: 3, treat_missing_data: "breaching" });
    expect(byName("etcd-1-etcd-leader-changes").props).toMatchObject({ metric_name: "EtcdLeaderChanges", statistic: "Sum", threshold: 3, period: 900 });
    expect(byName("etcd-2-etcd-db-size").props).toMatchObject({ metric_name: "EtcdDbSizePercentOfQuota", threshold: 80 });
    expect(alarms.filter((a) => a.props.metric_name.startsWith("Etcd") && a.props.dimensions.Slot !== undefined)).toHaveLength(9);
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
