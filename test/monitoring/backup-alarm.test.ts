/**
 * Finding 2 (issue 14): the stale-backup alarm of the reference cluster, replayed with CloudWatch's
 * documented alarm evaluation (CloudWatch User Guide, "Evaluating an alarm"): the metric is
 * aggregated per `period` with the alarm's statistic, a period without data counts as
 * `treat_missing_data`, and the alarm is in ALARM when `datapoints_to_alarm` of the last
 * `evaluation_periods` periods breach the threshold. The backup script publishes
 * `EtcdSnapshotsUploaded` = 1 per upload; the alarm must fire once the newest snapshot is older than
 * 3 backup intervals, and not before.
 */
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { resources, synthStack } from "../helpers/synth";

const json = synthStack(new HaClusterStack(Testing.app(), "ref"));

/** Whether the alarm is in ALARM at `nowSeconds`, given upload times (seconds), per CloudWatch's rules. */
function inAlarm(alarm: Record<string, any>, uploads: readonly number[], nowSeconds: number): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
  const period = Number(alarm.period);
  const lastEnd = Math.floor(nowSeconds / period) * period;
  let breaching = 0;
  for (let i = 0; i < Number(alarm.evaluation_periods); i++) {
    const end = lastEnd - i * period;
    const inPeriod = uploads.filter((t) => t >= end - period && t < end);
    if (alarm.statistic !== "Sum") throw new Error(`statistic ${alarm.statistic} not replayed`);
    const value = inPeriod.length === 0 ? undefined : inPeriod.length;
    if (value === undefined) {
      if (alarm.treat_missing_data === "breaching") breaching++;
      else if (alarm.treat_missing_data !== "notBreaching") throw new Error(`treat_missing_data ${alarm.treat_missing_data} not replayed`);
      continue;
    }
    const ops: Record<string, (v: number, t: number) => boolean> = { LessThanThreshold: (v, t) => v < t, LessThanOrEqualToThreshold: (v, t) => v <= t };
    if (ops[alarm.comparison_operator]!(value, Number(alarm.threshold))) breaching++;
  }
  return breaching >= Number(alarm.datapoints_to_alarm ?? alarm.evaluation_periods);
}

describe("stale etcd backup alarm", () => {
  const alarm = resources(json, "aws_cloudwatch_metric_alarm").find((a) => a.props.metric_name === "EtcdSnapshotsUploaded")?.props;

  it("watches the metric the backup script publishes, for the whole cluster", () => {
    expect(alarm).toBeDefined();
    expect(alarm!.dimensions).toEqual({ Cluster: "prod-eu1" });
  });

  it("fires once no snapshot has been uploaded for 3 intervals, and not while uploads arrive", () => {
    const interval = 5 * 60; // the reference cluster's backup interval (the default)
    const uploads = Array.from({ length: 40 }, (_, i) => 1_700_000_000 + i * interval);
    const last = uploads[uploads.length - 1];
    expect(inAlarm(alarm!, uploads, last + 30)).toBe(false);
    expect(inAlarm(alarm!, uploads, last + 2 * interval)).toBe(false);
    // A member's uploads stop: by 3 intervals plus one period of CloudWatch's alignment it fires.
    expect(inAlarm(alarm!, uploads, last + 4 * interval + 1)).toBe(true);
    // One missed upload (a leader change) does not fire it.
    const gap = uploads.filter((_, i) => i !== 20);
    for (let t = uploads[0] + 3 * interval; t < last; t += 60) expect(inAlarm(alarm!, gap, t)).toBe(false);
  });
});
