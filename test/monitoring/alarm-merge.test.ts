/**
 * Issue 16: the per-slot node alarms of the reference cluster were merged into one metric-math
 * alarm per role and metric. This test compares the reference's synthesized JSON before and after
 * the merge, modulo the merges listed in MERGES:
 *
 * - everything that is not an alarm is unchanged: each top-level section and each resource type has
 *   the SHA-256 recorded in the fixture (taken from the JSON synthesized before the merge), so the
 *   plan, apply and control-plane tiers see the same resources and the same node files;
 * - alarms not listed keep their logical id and every attribute (the fixture keeps the old alarms);
 * - each merged alarm reads exactly the metrics of the alarms it replaces (same namespace, metric,
 *   statistic, period and dimensions) and keeps their threshold, comparison, window, missing-data
 *   rule, actions and tags (but `Name`);
 * - its expression fires whenever one of them would: replayed with CloudWatch's documented
 *   evaluation (CloudWatch User Guide, "Evaluating an alarm" and "Metric math syntax and
 *   functions": MAX / MIN of an array of time series is a time series of the per-timestamp
 *   extreme, FILL replaces missing values) over random per-slot data.
 *
 * The fixture `fixtures/reference-before-alarm-merge.json` holds the digests and the old alarms.
 * When the reference example changes on purpose for another reason, refresh the digests (the old
 * alarms stay as they were) with:
 *
 *     UPDATE_ALARM_MERGE_FIXTURE=1 npx jest test/monitoring/alarm-merge.test.ts
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as fc from "fast-check";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { SynthJson, synthStack } from "../helpers/synth";

const PREFIX = "prod-eu1-";
/** New alarm (after the cluster prefix) ← the per-slot alarms of the reference it replaces. */
const MERGES: Record<string, string[]> = {
  "apiserver-clock-skew": ["apiserver-0-clock-skew", "apiserver-1-clock-skew", "apiserver-2-clock-skew"],
  "etcd-clock-skew": ["etcd-0-clock-skew", "etcd-1-clock-skew", "etcd-2-clock-skew"],
  "apiserver-certificate-expiry": ["apiserver-0-certificate-expiry", "apiserver-1-certificate-expiry", "apiserver-2-certificate-expiry"],
  "etcd-certificate-expiry": ["etcd-0-certificate-expiry", "etcd-1-certificate-expiry", "etcd-2-certificate-expiry"],
  "etcd-members": ["etcd-0-etcd-members", "etcd-1-etcd-members", "etcd-2-etcd-members"],
  "etcd-leader-changes": ["etcd-0-etcd-leader-changes", "etcd-1-etcd-leader-changes", "etcd-2-etcd-leader-changes"],
  "etcd-db-size": ["etcd-0-etcd-db-size", "etcd-1-etcd-db-size", "etcd-2-etcd-db-size"],
};

const FIXTURE = path.join(__dirname, "fixtures", "reference-before-alarm-merge.json");
const ALARM = "aws_cloudwatch_metric_alarm";
type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Fixture {
  readonly note: string;
  readonly digests: Record<string, string>;
  readonly alarmsBefore: Record<string, Props>;
}

/** JSON with object keys sorted, so equal content gives equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Node files: what every change to a node script alters (launch templates' user data, the bundle
 * objects and their keys), and what no alarm can (the alarms read metrics, not node files). Left out
 * of the digests so this test does not need a refresh each time a script changes.
 */
const NODE_FILE_ATTRIBUTES: Record<string, readonly string[]> = {
  aws_launch_template: ["user_data"],
  aws_s3_object: ["content", "content_base64", "key", "source", "source_hash", "etag"],
};

/** SHA-256 of every top-level section but `resource`, and of every resource type but alarms (without node files). */
function digests(json: SynthJson): Record<string, string> {
  const out: Record<string, string> = {};
  const sha = (v: unknown) => createHash("sha256").update(canonical(v)).digest("hex");
  const withoutNodeFiles = (type: string, byId: Record<string, Props>) =>
    Object.fromEntries(Object.entries(byId).map(([id, props]) => [id, Object.fromEntries(Object.entries(props).filter(([k]) => !(NODE_FILE_ATTRIBUTES[type] ?? []).includes(k)))]));
  for (const [key, value] of Object.entries(json)) if (key !== "resource") out[key] = sha(value);
  for (const [type, value] of Object.entries(json.resource ?? {})) if (type !== ALARM) out[`resource.${type}`] = sha(withoutNodeFiles(type, value as Record<string, Props>));
  return out;
}

const after = synthStack(new HaClusterStack(Testing.app(), "ref"));
const alarmsAfter = (after.resource?.[ALARM] ?? {}) as Record<string, Props>;
const afterByName = new Map(Object.entries(alarmsAfter).map(([id, p]) => [p.alarm_name as string, { id, props: p }]));

if (process.env.UPDATE_ALARM_MERGE_FIXTURE === "1") {
  const old = JSON.parse(readFileSync(FIXTURE, "utf8")) as Fixture;
  writeFileSync(FIXTURE, `${JSON.stringify({ ...old, digests: digests(after) }, null, 1)}\n`);
}
const fixture = JSON.parse(readFileSync(FIXTURE, "utf8")) as Fixture;
const beforeByName = new Map(Object.entries(fixture.alarmsBefore).map(([id, p]) => [p.alarm_name as string, { id, props: p }]));
const merged = new Set(Object.values(MERGES).flat().map((n) => PREFIX + n));

describe("the reference cluster before and after the alarm merge (issue 16)", () => {
  it("changes nothing but the listed alarms", () => {
    const now = digests(after);
    const changed = [...new Set([...Object.keys(now), ...Object.keys(fixture.digests)])].filter((k) => now[k] !== fixture.digests[k]);
    expect(changed).toEqual([]);
  });

  it("keeps every alarm that was not merged, attribute for attribute under the same logical id", () => {
    const kept = [...beforeByName.keys()].filter((n) => !merged.has(n));
    expect(kept).toHaveLength(Object.keys(fixture.alarmsBefore).length - merged.size);
    for (const name of kept) {
      const before = beforeByName.get(name)!;
      expect(alarmsAfter[before.id]).toEqual(before.props);
    }
    // Nothing but the kept and the merged alarms.
    expect([...afterByName.keys()].sort()).toEqual([...kept, ...Object.keys(MERGES).map((n) => PREFIX + n)].sort());
  });

  for (const [target, sources] of Object.entries(MERGES)) {
    it(`${target} reads exactly the metrics of ${sources.length} per-slot alarms, with their threshold, window, missing-data rule and actions`, () => {
      const alarm = afterByName.get(PREFIX + target)?.props;
      expect(alarm).toBeDefined();
      const olds = sources.map((s) => beforeByName.get(PREFIX + s)!.props);
      expect(olds.every((o) => o !== undefined)).toBe(true);
      const metrics = (alarm!.metric_query as Props[]).filter((q) => q.metric !== undefined);
      expect(metrics.map((q) => canonical(q.metric)).sort()).toEqual(
        olds.map((o) => canonical({ dimensions: o.dimensions, metric_name: o.metric_name, namespace: o.namespace, period: o.period, stat: o.statistic })).sort(),
      );
      for (const o of olds) {
        for (const key of ["comparison_operator", "threshold", "evaluation_periods", "datapoints_to_alarm", "treat_missing_data", "alarm_actions", "ok_actions"]) {
          expect([key, alarm![key]]).toEqual([key, o[key]]);
        }
        expect(alarm!.tags).toEqual({ ...o.tags, Name: PREFIX + target });
      }
    });
  }
});

/** One period's value per slot, `undefined` when the slot published nothing. */
type Series = (number | undefined)[];
const cmp: Record<string, (v: number, t: number) => boolean> = {
  GreaterThanThreshold: (v, t) => v > t,
  LessThanThreshold: (v, t) => v < t,
};

/** Whether an alarm on one metric is in ALARM after `values` (oldest first), per CloudWatch's M-of-N rule. */
function singleInAlarm(a: Props, values: Series): boolean {
  const window = values.slice(-Number(a.evaluation_periods));
  const breaching = window.filter((v) => (v === undefined ? a.treat_missing_data === "breaching" : cmp[a.comparison_operator]!(v, Number(a.threshold)))).length;
  return breaching >= Number(a.datapoints_to_alarm);
}

/** The merged alarm's expression over per-slot series (`series[slot][period]`), per the metric-math docs. */
function evaluate(expression: string, ids: string[], series: Series[]): Series {
  const m = /^(MAX|MIN)\((?:FILL\(\[([a-z0-9_, ]+)\], (-?[0-9.]+)\)|\[([a-z0-9_, ]+)\])\)$/.exec(expression);
  if (!m) throw new Error(`expression ${expression} not replayed`);
  const listed = (m[2] ?? m[4]).split(", ");
  expect(listed.sort()).toEqual([...ids].sort());
  const fill = m[3] === undefined ? undefined : Number(m[3]);
  const periods = series[0].length;
  return Array.from({ length: periods }, (_, t) => {
    const present = series.map((s) => s[t] ?? fill).filter((v): v is number => v !== undefined);
    if (present.length === 0) return undefined;
    return m[1] === "MAX" ? Math.max(...present) : Math.min(...present);
  });
}

describe("merged alarms fire whenever a per-slot alarm would (replayed over random data)", () => {
  for (const [target, sources] of Object.entries(MERGES)) {
    const alarm = afterByName.get(PREFIX + target)!.props;
    const olds = sources.map((s) => beforeByName.get(PREFIX + s)!.props);
    const metrics = (alarm.metric_query as Props[]).filter((q) => q.metric !== undefined);
    const expression = (alarm.metric_query as Props[]).find((q) => q.return_data === true)!.expression as string;
    // Values around the threshold, and gaps.
    const threshold = Number(alarm.threshold);
    const value = fc.option(fc.constantFrom(threshold - 50, threshold - 1, threshold, threshold + 1, threshold + 50, 0), { nil: undefined, freq: 4 });
    const periods = Number(alarm.evaluation_periods) + 2;
    const data = fc.array(fc.array(value, { minLength: periods, maxLength: periods }), { minLength: olds.length, maxLength: olds.length });

    it(`${target}: any per-slot alarm in ALARM ⇒ the merged alarm in ALARM${Number(alarm.evaluation_periods) === 1 ? ", and back (one-period window)" : ""}`, () => {
      fc.assert(
        fc.property(data, (series) => {
          // Old alarm k read slot k's series; the merged alarm reads them through its query ids.
          const bySlot = new Map(olds.map((o, k) => [o.dimensions.Slot as string, series[k]]));
          const oldAny = olds.some((o) => singleInAlarm(o, bySlot.get(o.dimensions.Slot)!));
          const merged = singleInAlarm(alarm, evaluate(expression, metrics.map((q) => q.id), metrics.map((q) => bySlot.get(q.metric.dimensions.Slot)!)));
          if (oldAny) expect(merged).toBe(true);
          if (Number(alarm.evaluation_periods) === 1) expect(merged).toBe(oldAny);
        }),
        { numRuns: 300, seed: 16 },
      );
    });
  }

  it("in a longer window also fires when different slots breach in turn (documented in the README)", () => {
    const alarm = afterByName.get(`${PREFIX}apiserver-clock-skew`)!.props;
    const olds = MERGES["apiserver-clock-skew"].map((s) => beforeByName.get(PREFIX + s)!.props);
    const metrics = (alarm.metric_query as Props[]).filter((q) => q.metric !== undefined);
    const expression = (alarm.metric_query as Props[]).find((q) => q.return_data === true)!.expression as string;
    // apiserver-0 off in minute 1, apiserver-1 in minute 2, apiserver-2 in minute 3.
    const series: Record<string, Series> = { "apiserver-0": [500, 0, 0], "apiserver-1": [0, 500, 0], "apiserver-2": [0, 0, 500] };
    expect(olds.some((o) => singleInAlarm(o, series[o.dimensions.Slot]))).toBe(false);
    expect(singleInAlarm(alarm, evaluate(expression, metrics.map((q) => q.id), metrics.map((q) => series[q.metric.dimensions.Slot])))).toBe(true);
  });
});
