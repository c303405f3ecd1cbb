import { Construct } from "constructs";
import { CloudwatchMetricAlarm, CloudwatchMetricAlarmMetricQuery } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { ConfigError } from "../errors";
import { LoadBalancerMetricTarget } from "../loadbalancer/api-load-balancer";
import { NAME_RULES, deriveName } from "../names";
import { ClusterTags } from "../tags";
import { checkInteger, isUnresolved } from "../validate";

/** Namespace of the metrics nodes publish (`ha-publish-metrics`). */
export const NODE_METRIC_NAMESPACE = "HaControlPlane";

/**
 * Metrics one metric-math alarm may read: "Alarms based on metric math expressions can reference a
 * maximum of 10 metrics. This is a hard limit" (CloudWatch User Guide, "Limits", alarm-limits; the
 * PutMetricAlarm API reference: up to 20 `MetricDataQuery` items, at most 10 with a `MetricStat`).
 */
export const MAX_METRICS_PER_MATH_ALARM = 10;

/** Props of {@link ControlPlaneAlarms}. */
export interface ControlPlaneAlarmsProps {
  /** The cluster's name: every alarm is named `<clusterName>-<alarm>` (shortened to CloudWatch's 255 characters). */
  readonly clusterName: string;
  /**
   * SNS topic alarms notify (and recover to).
   * @default - a new topic `<cluster>-control-plane-alarms`
   */
  readonly alarmTopicArn?: string;
  /** Load balancer / target group dimensions (`ApiLoadBalancer.metricTargets`). */
  readonly loadBalancerTargets: readonly LoadBalancerMetricTarget[];
  /** Number of API servers (healthy targets expected). */
  readonly apiServerCount: number;
  /** Auto Scaling group of the API servers. */
  readonly apiServerGroupName: string;
  /** Auto Scaling groups of etcd members (one each; empty when stacked). */
  readonly etcdGroupNames: readonly string[];
  /** API server slot names (each publishes clock and certificate metrics). */
  readonly apiServerSlots: readonly string[];
  /** etcd member slot names (each publishes etcd health; equals API slots when stacked). */
  readonly etcdMemberSlots: readonly string[];
  /**
   * Clock offset that raises an alarm, in milliseconds.
   * @default 100
   */
  readonly clockSkewThresholdMilliseconds?: number;
  /**
   * Days before the earliest certificate on a node expires that raise an alarm. Keep it below the
   * leaves' early-renewal window, or it fires on every normal renewal.
   * @default 14
   */
  readonly certificateExpiryThresholdDays?: number;
  /**
   * etcd database size against its quota that raises an alarm, in percent.
   * @default 80
   */
  readonly etcdDbSizeThresholdPercent?: number;
  /**
   * Minutes between etcd snapshots: when set, an alarm fires once no snapshot has been uploaded
   * for 3 intervals (the backup script publishes `EtcdSnapshotsUploaded` after every upload; a
   * metric that stops arriving counts as breaching).
   * @default - no backup alarm (backups off)
   */
  readonly etcdBackupIntervalMinutes?: number;
  /**
   * Namespace of node metrics.
   * @default "HaControlPlane"
   */
  readonly metricNamespace?: string;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/** One alarm as declared (for tests and docs). */
export interface DeclaredAlarm {
  /** The alarm's name in CloudWatch, `<cluster>-<alarm>`, e.g. `prod-api-internal-unhealthy`. */
  readonly name: string;
  /** `<namespace>/<metric>` it watches, e.g. `AWS/NetworkELB/UnHealthyHostCount`. */
  readonly metric: string;
  /** CloudWatch comparison operator, e.g. `GreaterThanThreshold`. */
  readonly comparison: string;
  /** The value the metric is compared with (a count, seconds of clock skew or days to certificate expiry). */
  readonly threshold: number;
  /**
   * Node slots whose metric the alarm reads (a metric-math alarm over one metric per slot, e.g.
   * `["apiserver-0", "apiserver-1", "apiserver-2"]`); empty for an alarm on one cluster-wide metric
   * (load balancer, Auto Scaling group, backups).
   */
  readonly slots: readonly string[];
  /**
   * The metric-math expression the alarm compares with the threshold, over one query per slot whose
   * id is `m_` and the slot name with `_` for `-` (e.g. `MAX([m_apiserver_0, m_apiserver_1])`).
   * @default - none: the alarm watches `metric` directly
   */
  readonly expression?: string;
}

/**
 * CloudWatch alarms of the control plane, into one SNS topic:
 *
 * | alarm | metric | fires when |
 * |---|---|---|
 * | `api-<lb>-unhealthy` | AWS/NetworkELB UnHealthyHostCount | any API server fails `/readyz` for 2 min |
 * | `api-<lb>-healthy-below-N` | AWS/NetworkELB HealthyHostCount | fewer than N healthy for 10 min (a roll takes less) |
 * | `<group>-in-service` | AWS/AutoScaling GroupInServiceInstances | a group below its size for 10 min |
 * | `apiserver-clock-skew`, `etcd-clock-skew` | ClockOffsetMilliseconds, highest over the slots | a node's offset above 100 ms for 3 min |
 * | `apiserver-certificate-expiry`, `etcd-certificate-expiry` | CertificateDaysLeft, lowest over the slots | a node's earliest certificate within 14 days (a renewal inside the 90-day window was missed) |
 * | `etcd-members` | EtcdHealthyMembers, lowest over the members (a silent member counts 0) | a member sees fewer healthy members than the cluster has (or stops reporting) for 5 min |
 * | `etcd-leader-changes` | EtcdLeaderChanges, highest over the members | more than 3 leader changes in 15 min |
 * | `etcd-db-size` | EtcdDbSizePercentOfQuota, highest over the members | database above 80 % of its quota (NOSPACE blocks writes at 100 %) |
 * | `etcd-backup-stale` | EtcdSnapshotsUploaded | no snapshot uploaded in 3 backup intervals (newest snapshot older than 3 × the interval) |
 *
 * The node alarms are metric-math alarms, one per role and metric, over one metric per slot (the
 * `etcd-` clock and certificate alarms exist only with external etcd: stacked members are API
 * slots). Each fires whenever one of the per-slot alarms they replace would have (the worst slot
 * breaches for the whole window); in a multi-minute window it also fires when different slots
 * breach in turn. The alarm's graph shows one line per slot, labelled with the slot's name.
 */
export class ControlPlaneAlarms extends Construct {
  /** Topic the alarms notify. */
  public readonly topicArn: string;
  /** Every alarm declared. */
  public readonly alarms: readonly DeclaredAlarm[];
  /**
   * Names (references, so a user depends on the alarms) of the alarms that say an API server behind
   * a load balancer fails its `/readyz` check: what stops the API group's instance refresh.
   */
  public readonly apiUnhealthyAlarmNames: readonly string[];
  private readonly declared: DeclaredAlarm[] = [];
  private readonly tags: ClusterTags;

  constructor(scope: Construct, id: string, private readonly props: ControlPlaneAlarmsProps) {
    super(scope, id);
    const skew = props.clockSkewThresholdMilliseconds ?? 100;
    checkInteger("clockSkewThresholdMilliseconds", skew, 1, 60000, "use 100");
    const certDays = props.certificateExpiryThresholdDays ?? 14;
    checkInteger("certificateExpiryThresholdDays", certDays, 1, 365, "use 14 (leaves re-issue in their last 90 days on a deploy)");
    const dbPercent = props.etcdDbSizeThresholdPercent ?? 80;
    checkInteger("etcdDbSizeThresholdPercent", dbPercent, 1, 99, "use 80");
    if (props.alarmTopicArn !== undefined && !isUnresolved(props.alarmTopicArn) && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(props.alarmTopicArn)) {
      throw new ConfigError("alarmTopicArn", props.alarmTopicArn, "is not an SNS topic ARN", 'pass "arn:aws:sns:<region>:<account>:<topic>"');
    }
    this.tags = new ClusterTags(props.clusterName, props.tags);
    this.topicArn =
      props.alarmTopicArn ??
      new SnsTopic(this, "Topic", {
        name: deriveName([props.clusterName, "control-plane-alarms"], NAME_RULES.snsTopic),
        tags: this.tags.of(`${props.clusterName}-control-plane-alarms`),
      }).arn;
    const ns = props.metricNamespace ?? NODE_METRIC_NAMESPACE;

    const apiUnhealthy: string[] = [];
    for (const t of props.loadBalancerTargets) {
      const dims = { LoadBalancer: t.loadBalancer, TargetGroup: t.targetGroup };
      apiUnhealthy.push(this.alarm(`Api${cap(t.label)}Unhealthy`, `api-${t.label}-unhealthy`, {
        namespace: "AWS/NetworkELB", metric: "UnHealthyHostCount", statistic: "Maximum", dims,
        comparison: "GreaterThanThreshold", threshold: 0, period: 60, evaluations: 2, missing: "notBreaching",
        description: `An API server behind the ${t.label} load balancer fails its /readyz check`,
      }).alarmName);
      this.alarm(`Api${cap(t.label)}HealthyBelowCount`, `api-${t.label}-healthy-below-${props.apiServerCount}`, {
        namespace: "AWS/NetworkELB", metric: "HealthyHostCount", statistic: "Minimum", dims,
        comparison: "LessThanThreshold", threshold: props.apiServerCount, period: 60, evaluations: 10, missing: "breaching",
        description: `Fewer than ${props.apiServerCount} healthy API servers behind the ${t.label} load balancer for 10 minutes: redundancy is reduced`,
      });
    }
    [props.apiServerGroupName, ...props.etcdGroupNames].forEach((group, i) => {
      this.alarm(`Group${i}InService`, `${i === 0 ? "apiserver" : `etcd-${i - 1}`}-in-service`, {
        namespace: "AWS/AutoScaling", metric: "GroupInServiceInstances", statistic: "Minimum", dims: { AutoScalingGroupName: group },
        comparison: "LessThanThreshold", threshold: i === 0 ? props.apiServerCount : 1, period: 60, evaluations: 10, missing: "breaching",
        description: `Auto Scaling group ${group} has been below its size for 10 minutes: replacements are failing`,
      });
    });
    const apiSlots = [...new Set(props.apiServerSlots)];
    const etcdOnlySlots = [...new Set(props.etcdMemberSlots)].filter((s) => !apiSlots.includes(s));
    const members = [...new Set(props.etcdMemberSlots)];
    const howToFind = (metric: string) =>
      `Which slot: the alarm's graph has one line per slot, labelled with its name (namespace ${ns}, metric ${metric}, dimensions Cluster=${props.clusterName} and Slot).`;
    const nodeGroups: [string, string, string, readonly string[]][] = [
      ["ApiServer", "apiserver", "apiServerSlots", apiSlots],
      ["Etcd", "etcd", "etcdMemberSlots", etcdOnlySlots],
    ];
    for (const [idPrefix, role, prop, slots] of nodeGroups) {
      if (slots.length === 0) continue;
      this.slotAlarm(`${idPrefix}ClockSkew`, `${role}-clock-skew`, prop, slots, {
        namespace: ns, metric: "ClockOffsetMilliseconds", statistic: "Maximum", worst: "MAX", fillMissing: undefined,
        comparison: "GreaterThanThreshold", threshold: skew, period: 60, evaluations: 3, missing: "notBreaching",
        description: `The clock of a node (${slots.join(", ")}) is off by more than ${skew} ms: certificate checks and leases can fail. ${howToFind("ClockOffsetMilliseconds")}`,
      });
      // A slot without data must not breach: missing values are filled with the threshold itself.
      this.slotAlarm(`${idPrefix}CertificateExpiry`, `${role}-certificate-expiry`, prop, slots, {
        namespace: ns, metric: "CertificateDaysLeft", statistic: "Minimum", worst: "MIN", fillMissing: certDays,
        comparison: "LessThanThreshold", threshold: certDays, period: 3600, evaluations: 1, missing: "notBreaching",
        description: `A certificate on a node (${slots.join(", ")}) expires within ${certDays} days: run cdktf deploy to re-issue it. ${howToFind("CertificateDaysLeft")}`,
      });
    }
    if (members.length > 0) {
      const n = props.etcdMemberSlots.length;
      // A member that stops reporting breaches (as its own alarm did with missing data "breaching"): filled with 0.
      this.slotAlarm("EtcdMembers", "etcd-members", "etcdMemberSlots", members, {
        namespace: ns, metric: "EtcdHealthyMembers", statistic: "Minimum", worst: "MIN", fillMissing: 0,
        comparison: "LessThanThreshold", threshold: n, period: 60, evaluations: 5, missing: "breaching",
        description: `An etcd member (${members.join(", ")}) sees fewer than ${n} healthy members, or stopped reporting. ${howToFind("EtcdHealthyMembers")}`,
      });
      this.slotAlarm("EtcdLeaderChanges", "etcd-leader-changes", "etcdMemberSlots", members, {
        namespace: ns, metric: "EtcdLeaderChanges", statistic: "Sum", worst: "MAX", fillMissing: undefined,
        comparison: "GreaterThanThreshold", threshold: 3, period: 900, evaluations: 1, missing: "notBreaching",
        description: `etcd leadership changed more than 3 times in 15 minutes (seen by a member: ${members.join(", ")}): disk or network latency. ${howToFind("EtcdLeaderChanges")}`,
      });
      this.slotAlarm("EtcdDbSize", "etcd-db-size", "etcdMemberSlots", members, {
        namespace: ns, metric: "EtcdDbSizePercentOfQuota", statistic: "Maximum", worst: "MAX", fillMissing: undefined,
        comparison: "GreaterThanThreshold", threshold: dbPercent, period: 300, evaluations: 1, missing: "notBreaching",
        description: `etcd database on a member (${members.join(", ")}) above ${dbPercent} % of its quota: compact and defragment before writes are blocked. ${howToFind("EtcdDbSizePercentOfQuota")}`,
      });
    }
    if (props.etcdBackupIntervalMinutes !== undefined) {
      const interval = props.etcdBackupIntervalMinutes;
      checkInteger("etcdBackupIntervalMinutes", interval, 1, 1440, "take a snapshot at least daily");
      // One period per interval, all three must miss: at most 3 days of evaluation, within
      // CloudWatch's 7-day limit for periods of an hour or more.
      this.alarm("EtcdBackupStale", "etcd-backup-stale", {
        namespace: ns, metric: "EtcdSnapshotsUploaded", statistic: "Sum", dims: { Cluster: props.clusterName },
        comparison: "LessThanThreshold", threshold: 1, period: interval * 60, evaluations: 3, missing: "breaching",
        description: `No etcd snapshot uploaded for 3 backup intervals (${3 * interval} minutes): the newest backup is getting old`,
      });
    }
    this.alarms = this.declared;
    this.apiUnhealthyAlarmNames = apiUnhealthy;
  }

  /** What every alarm shares: the comparison, the window (every period breaching), missing data, actions and tags. */
  private evaluation(name: string, a: { comparison: string; threshold: number; evaluations: number; missing: string }) {
    return {
      comparisonOperator: a.comparison,
      threshold: a.threshold,
      evaluationPeriods: a.evaluations,
      datapointsToAlarm: a.evaluations,
      treatMissingData: a.missing,
      alarmActions: [this.topicArn],
      okActions: [this.topicArn],
      tags: this.tags.of(name),
    };
  }

  private alarm(
    id: string,
    suffix: string,
    a: {
      namespace: string; metric: string; statistic: string; dims: Record<string, string>; comparison: string; threshold: number;
      period: number; evaluations: number; missing: string; description: string;
    },
  ): CloudwatchMetricAlarm {
    const name = deriveName([this.props.clusterName, suffix], NAME_RULES.cloudwatchAlarm);
    const alarm = new CloudwatchMetricAlarm(this, id, {
      alarmName: name,
      alarmDescription: a.description,
      namespace: a.namespace,
      metricName: a.metric,
      statistic: a.statistic,
      dimensions: a.dims,
      period: a.period,
      ...this.evaluation(name, a),
    });
    this.declared.push({ name, metric: `${a.namespace}/${a.metric}`, comparison: a.comparison, threshold: a.threshold, slots: [] });
    return alarm;
  }

  /**
   * One metric-math alarm over a metric of every slot in `slots`: the worst slot (`MAX` or `MIN`
   * of the per-slot series at each timestamp, after `FILL` of missing values when given) is compared
   * with the threshold, with the window and missing-data rule the per-slot alarms had.
   */
  private slotAlarm(
    id: string,
    suffix: string,
    prop: string,
    slots: readonly string[],
    a: {
      namespace: string; metric: string; statistic: string; worst: "MAX" | "MIN"; fillMissing: number | undefined; comparison: string;
      threshold: number; period: number; evaluations: number; missing: string; description: string;
    },
  ): void {
    if (slots.length > MAX_METRICS_PER_MATH_ALARM) {
      throw new ConfigError(prop, slots, `has ${slots.length} slots, and one metric-math alarm reads at most ${MAX_METRICS_PER_MATH_ALARM} metrics (CloudWatch limit)`, `pass at most ${MAX_METRICS_PER_MATH_ALARM}`);
    }
    const name = deriveName([this.props.clusterName, suffix], NAME_RULES.cloudwatchAlarm);
    const ids = queryIds(slots);
    const series = `[${ids.join(", ")}]`;
    const expression = `${a.worst}(${a.fillMissing === undefined ? series : `FILL(${series}, ${a.fillMissing})`})`;
    const queries: CloudwatchMetricAlarmMetricQuery[] = slots.map((slot, i) => ({
      id: ids[i],
      label: slot,
      returnData: false,
      metric: {
        namespace: a.namespace,
        metricName: a.metric,
        stat: a.statistic,
        period: a.period,
        dimensions: { Cluster: this.props.clusterName, Slot: slot },
      },
    }));
    queries.push({ id: "worst", label: `${a.worst === "MAX" ? "highest" : "lowest"} ${a.metric}`, expression, returnData: true });
    new CloudwatchMetricAlarm(this, id, {
      alarmName: name,
      alarmDescription: a.description,
      metricQuery: queries,
      ...this.evaluation(name, a),
    });
    this.declared.push({ name, metric: `${a.namespace}/${a.metric}`, comparison: a.comparison, threshold: a.threshold, slots: [...slots], expression });
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Metric query ids for slots, `m_` and the slot name with `_` for anything else than a letter or
 * digit (`m_apiserver_0`): CloudWatch ids start with a lower-case letter and hold letters, digits
 * and `_`. Names that would collide get their index appended.
 */
function queryIds(slots: readonly string[]): string[] {
  const ids = slots.map((slot) => `m_${slot.replace(/[^A-Za-z0-9]/g, "_")}`);
  return new Set(ids).size === ids.length ? ids : ids.map((id, i) => `${id}_${i}`);
}
