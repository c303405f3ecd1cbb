import * as fs from "fs";
import * as path from "path";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { ExistingVpcStack } from "../../examples/existing-vpc/main";
import { HA_POLICY_RULES, POLICY_RECORD_KEY, PolicyContext, RuleStatus, typeKeyOf } from "../../lib/policy";
import { errorAnnotations, runPackOn } from "./helpers";

/** `rule status` counts of every rule on every resource of a stack, evaluated directly. */
function statuses(context: PolicyContext): Record<string, Record<string, number>> {
  const table: Record<string, Record<string, number>> = {};
  for (const rule of HA_POLICY_RULES) {
    const counts: Record<string, number> = {};
    for (const view of context.resources.filter((r) => rule.appliesTo.includes(typeKeyOf(r)))) {
      const { status } = rule.evaluate(view, context);
      counts[status] = (counts[status] ?? 0) + 1;
    }
    table[rule.id] = counts;
  }
  return table;
}

describe("the policy pack on the reference example", () => {
  it("passes HaClusterStack with zero errors and zero warnings", () => {
    const stack = new HaClusterStack(Testing.app(), "ha-cluster");
    const run = runPackOn(stack);
    expect(run.pack.findings.map((f) => f.message)).toEqual([]);
    expect(run.pack.suppressedFindings).toEqual([]);
    expect(errorAnnotations(stack)).toEqual([]);

    // A real synth (which aborts on error annotations) succeeds and records the clean run.
    const outdir = Testing.fullSynth(stack);
    const tf = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "ha-cluster", "cdk.tf.json"), "utf8"));
    expect(tf["//"][POLICY_RECORD_KEY]).toEqual({ rules: HA_POLICY_RULES.map((r) => r.id), findings: [], suppressions: [] });
  });

  it("finds the example compliant rather than merely not applicable", () => {
    const stack = new HaClusterStack(Testing.app(), "ha-cluster");
    const table = statuses(PolicyContext.fromSynthesizedJson(stack.toTerraform()));
    for (const [rule, counts] of Object.entries(table)) {
      expect([rule, counts[RuleStatus.NON_COMPLIANT] ?? 0]).toEqual([rule, 0]);
    }
    // Every rule whose subject the example declares found it compliant (no bucket in the example).
    const exercised = Object.entries(table)
      .filter(([, counts]) => (counts[RuleStatus.COMPLIANT] ?? 0) > 0)
      .map(([rule]) => rule);
    expect(exercised).toEqual(expect.arrayContaining(["HA-SG1", "HA-SG2", "HA-EC1", "HA-EC2", "HA-EC3", "HA-AZ1", "HA-ETCD1", "HA-LB1", "HA-LB2"]));
    // Single-zone and member-count rules run once per cluster tier: API servers and etcd.
    expect(table["HA-AZ1"][RuleStatus.COMPLIANT]).toBe(2);
    expect(table["HA-ETCD1"][RuleStatus.COMPLIANT]).toBe(1);
  });

  it("passes the existing-VPC example with zero errors", () => {
    const stack = new ExistingVpcStack(Testing.app(), "existing-vpc");
    const run = runPackOn(stack);
    expect(run.pack.findings.map((f) => f.message)).toEqual([]);
  });
});
