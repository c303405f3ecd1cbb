import { Construct } from "constructs";
import { Aspects, TerraformStack, Testing } from "../../lib/core";
import { ConfigError } from "../../lib/errors";
import { HA_POLICY_RULES, HaPolicyPack, PolicyLevel, PolicyRule, RuleResult, WORLD_OPEN_INGRESS } from "../../lib/policy";
import { testStack } from "../helpers/synth";
import { group, ingress, launchTemplate } from "./fixtures";
import { annotations, runPack, summary } from "./helpers";

/** A custom rule: launch templates must carry a `team` tag. */
const TEAM_TAG: PolicyRule = {
  id: "ACME-TAG1",
  level: PolicyLevel.WARNING,
  description: "Launch templates carry a team tag",
  fix: "add tags.team",
  appliesTo: ["aws_launch_template"],
  evaluate: (r) => ((r.config.tags as Record<string, string> | undefined)?.team ? RuleResult.compliant() : RuleResult.nonCompliant("no team tag")),
};

describe("HaPolicyPack", () => {
  it("runs every rule of the pack by default", () => {
    expect(new HaPolicyPack().rules.map((r) => r.id)).toEqual(HA_POLICY_RULES.map((r) => r.id));
    expect(new Set(HA_POLICY_RULES.map((r) => r.id)).size).toBe(HA_POLICY_RULES.length);
  });

  it("checks resources users add to a stack alongside the library's", () => {
    const run = runPack((s) => {
      launchTemplate(s, "Workers", { metadataOptions: { httpTokens: "optional" }, blockDeviceMappings: [] });
    });
    expect(summary(run)).toEqual(["HA-EC1 error", "HA-EC2 error"]);
    expect(annotations(run.stack).filter((a) => a.level === "error").map((a) => a.path)).toEqual(["policy/Workers", "policy/Workers"]);
  });

  it("checks the synthesized form, escape-hatch overrides included", () => {
    const run = runPack((s) => launchTemplate(s, "Lt").addOverride("metadata_options.http_tokens", "optional"));
    expect(summary(run)).toEqual(["HA-EC1 error"]);
  });

  it("evaluates only the subtree it is added to, with the whole stack as context", () => {
    const { stack } = testStack();
    const inside = new Construct(stack, "Inside");
    const outside = new Construct(stack, "Outside");
    const api = group(outside, "Api", "apiserver");
    ingress(inside, "Ssh", api, 22, { cidr: "0.0.0.0/0" });
    ingress(outside, "Ssh", api, 22, { cidr: "0.0.0.0/0" });
    const pack = new HaPolicyPack();
    Aspects.of(inside).add(pack);
    Testing.synth(stack);
    expect(pack.findings.map((f) => f.path)).toEqual(["test/Inside/Ssh"]);
    // The group (outside the subtree) was still resolved: its role is in the message.
    expect(pack.findings[0].reason).toContain("(role apiserver)");
  });

  it("reports once however often the stack is synthesized", () => {
    const { stack } = testStack();
    ingress(stack, "Ssh", group(stack, "Api", "apiserver"), 22, { cidr: "0.0.0.0/0" });
    const pack = new HaPolicyPack();
    Aspects.of(stack).add(pack);
    Testing.synth(stack);
    Testing.synth(stack, true);
    expect(pack.findings).toHaveLength(1);
    expect(annotations(stack).filter((a) => a.level === "error")).toHaveLength(1);
  });

  it("runs custom rules next to the pack's", () => {
    const run = runPack((s) => launchTemplate(s, "Lt"), { rules: [...HA_POLICY_RULES, TEAM_TAG] });
    expect(summary(run)).toEqual(["ACME-TAG1 warning"]);
    expect(run.pack.warnings.map((f) => f.message)).toEqual(["[ACME-TAG1] no team tag: add tags.team"]);
  });

  it("refuses two rules with one id", () => {
    expect(() => new HaPolicyPack({ rules: [WORLD_OPEN_INGRESS, { ...TEAM_TAG, id: "HA-SG1" }] })).toThrow(ConfigError);
  });

  it("reports a rule that throws as a warning and goes on", () => {
    const broken: PolicyRule = { ...TEAM_TAG, id: "ACME-BROKEN", evaluate: () => { throw new Error("boom"); } };
    const run = runPack((s) => launchTemplate(s, "Lt", { metadataOptions: { httpTokens: "optional" } }), { rules: [broken, ...HA_POLICY_RULES] });
    expect(summary(run)).toEqual(["HA-EC1 error", "HA-POLICY warning"]);
    expect(run.pack.warnings[0].message).toMatch(/^\[HA-POLICY\] rule ACME-BROKEN could not be evaluated on aws_launch_template\.Lt \(boom\)/);
  });

  it("leaves the JSON Terraform reads unchanged apart from the // record", () => {
    const build = (s: TerraformStack) => launchTemplate(s, "Lt");
    const plain = testStack();
    build(plain.stack);
    const checked = testStack();
    build(checked.stack);
    Aspects.of(checked.stack).add(new HaPolicyPack());
    expect(Testing.synth(checked.stack)).toEqual(Testing.synth(plain.stack));
  });
});
