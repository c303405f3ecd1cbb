import { IConstruct } from "constructs";
import { Annotations, IAspect, TerraformElement, TerraformStack } from "../core";
import { ConfigError } from "../errors";
import { PolicyContext, ResourceView, typeKeyOf } from "./context";
import { PolicyRecord, RecordedSuppression } from "./record";
import { PolicyFinding, PolicyLevel, PolicyRule, RuleResult, RuleStatus, SuppressedFinding, findingMessage } from "./rule";
import { HA_POLICY_RULES } from "./rules";
import { PolicySuppression, addSuppression, declaredSuppressions, effectiveSuppressions, findSuppression } from "./suppressions";

/** Props of {@link HaPolicyPack}. */
export interface HaPolicyPackProps {
  /**
   * Rules to run (add your own `PolicyRule`s to `HA_POLICY_RULES`, or pick some).
   * @default HA_POLICY_RULES - every rule of the pack
   */
  readonly rules?: readonly PolicyRule[];
  /**
   * Record the rules run, the findings and every suppression (with its reason and what it
   * silenced) under `"//": { "ha-policy": ... }` of the stack's cdk.tf.json. Terraform ignores
   * `//` blocks.
   * @default true
   */
  readonly recordInSynthesizedJson?: boolean;
}

/** Id under which findings about the pack itself (unknown suppressed rules, rule failures) are reported. */
export const POLICY_PACK_ID = "HA-POLICY";

interface Scope {
  readonly root: IConstruct;
  /** The last construct of the root's subtree in pre-order: aspects visit it last. */
  readonly last: IConstruct;
  /** Paths of the Terraform elements visited under the root. */
  readonly elements: Set<string>;
  done: boolean;
}

/**
 * A cdk-nag-style policy pack for HA control planes, applied as an Aspect:
 *
 * ```ts
 * Aspects.of(stack).add(new HaPolicyPack());
 * HaPolicyPack.suppress(myGroupRule, "HA-SG1", "public API by design for the partner VPN");
 * ```
 *
 * The aspect collects the Terraform elements it visits; when it reaches the last construct of the
 * subtree it was added to, it reads the stack's **synthesized** JSON (`TerraformStack.toTerraform()`:
 * references resolved to `${...}` expressions, overrides applied, resources users added
 * themselves included) and runs every rule on every visited resource, with the whole stack as
 * context. Errors are reported with `Annotations.addError` (synth fails), warnings with
 * `addWarning`; suppressed findings become info annotations. All of them are also in `findings` /
 * `suppressedFindings`.
 *
 * Apply it to a stack (or a construct inside one): cdktf invokes aspects per stack, so an aspect
 * added to the App never runs.
 */
export class HaPolicyPack implements IAspect {
  /**
   * Silences `ruleId` on `construct` and everything below it. `reason` (at least 10 characters)
   * is recorded in the construct metadata, the synthesized JSON and the manifest's annotations.
   * @throws ConfigError when the reason is missing or too short, or the rule id is malformed
   */
  public static suppress(construct: IConstruct, ruleId: string, reason: string): void {
    addSuppression(construct, ruleId, reason);
  }

  /** Suppressions in force on `construct` (its own and inherited), nearest first. */
  public static suppressionsOf(construct: IConstruct): readonly PolicySuppression[] {
    return effectiveSuppressions(construct);
  }

  /** The rules this pack runs. */
  public readonly rules: readonly PolicyRule[];

  private readonly record: boolean;
  private readonly scopes: Scope[] = [];
  private readonly reported: PolicyFinding[] = [];
  private readonly silenced: SuppressedFinding[] = [];

  constructor(props: HaPolicyPackProps = {}) {
    const rules = [...(props.rules ?? HA_POLICY_RULES)];
    const ids = rules.map((r) => r.id);
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    if (duplicate !== undefined) {
      throw new ConfigError("rules", ids, `list rule ${duplicate} twice`, "give every rule its own id");
    }
    this.rules = rules;
    this.record = props.recordInSynthesizedJson ?? true;
  }

  /** Findings reported as errors or warnings, in evaluation order. */
  public get findings(): readonly PolicyFinding[] {
    return this.reported;
  }

  /** Findings silenced by a suppression. */
  public get suppressedFindings(): readonly SuppressedFinding[] {
    return this.silenced;
  }

  /** Reported findings of level error. */
  public get errors(): readonly PolicyFinding[] {
    return this.reported.filter((f) => f.level === PolicyLevel.ERROR);
  }

  /** Reported findings of level warning. */
  public get warnings(): readonly PolicyFinding[] {
    return this.reported.filter((f) => f.level === PolicyLevel.WARNING);
  }

  /** Collects the Terraform elements under the scope it was added to; evaluates on the last one. */
  public visit(node: IConstruct): void {
    let scope = this.scopes.find((s) => node.node.scopes.includes(s.root));
    if (scope === undefined) {
      const subtree = node.node.findAll();
      scope = { root: node, last: subtree[subtree.length - 1], elements: new Set(), done: false };
      this.scopes.push(scope);
    }
    if (scope.done) return;
    if (TerraformElement.isTerraformElement(node)) scope.elements.add(node.node.path);
    if (node === scope.last) {
      scope.done = true;
      for (const stack of stacksOf(scope.root)) this.evaluate(stack, scope);
    }
  }

  private evaluate(stack: TerraformStack, scope: Scope): void {
    const context = PolicyContext.fromSynthesizedJson(stack.toTerraform());
    const constructs = new Map(stack.node.findAll().map((c) => [c.node.path, c] as const));
    const wholeStack = scope.root === stack || stack.node.scopes.includes(scope.root);
    const silencedBy = new Map<string, string[]>();
    const findings: PolicyFinding[] = [];

    for (const view of context.resources) {
      if (view.path !== undefined ? !scope.elements.has(view.path) : !wholeStack) continue;
      const construct = (view.path !== undefined ? constructs.get(view.path) : undefined) ?? stack;
      const key = typeKeyOf(view);
      for (const rule of this.rules) {
        if (!rule.appliesTo.includes(key)) continue;
        const result = this.run(rule, view, context, construct, findings);
        if (result === undefined || result.status !== RuleStatus.NON_COMPLIANT) continue;
        const reason = result.reason ?? rule.description;
        const finding: PolicyFinding = {
          ruleId: rule.id,
          level: rule.level,
          address: view.address,
          path: construct.node.path,
          reason,
          fix: rule.fix,
          message: findingMessage(rule.id, reason, rule.fix),
        };
        const suppression = findSuppression(construct, rule.id);
        if (suppression !== undefined) {
          this.silenced.push({ ...finding, suppressionReason: suppression.reason, suppressedAt: suppression.declaredOn });
          silencedBy.set(suppressionKey(suppression), [...(silencedBy.get(suppressionKey(suppression)) ?? []), view.address]);
          Annotations.of(construct).addInfo(`[${rule.id}] suppressed on ${suppression.declaredOn} (${suppression.reason}): ${reason}`);
          continue;
        }
        findings.push(finding);
        this.report(construct, finding);
      }
    }

    const known = new Set(this.rules.map((r) => r.id));
    const declared = [...stack.node.scopes.slice(0, -1), ...stack.node.findAll()].flatMap((c) => declaredSuppressions(c).map((s) => ({ s, c })));
    for (const { s, c } of declared) {
      if (known.has(s.ruleId)) continue;
      const reason = `suppression of unknown rule "${s.ruleId}" (${s.reason})`;
      const fix = `use one of ${[...known].join(", ")}`;
      const finding: PolicyFinding = { ruleId: POLICY_PACK_ID, level: PolicyLevel.WARNING, address: "", path: s.declaredOn, reason, fix, message: findingMessage(POLICY_PACK_ID, reason, fix) };
      findings.push(finding);
      this.report(c, finding);
    }

    if (this.record) {
      const suppressions: RecordedSuppression[] = declared.map(({ s }) => ({
        rule: s.ruleId,
        reason: s.reason,
        declaredOn: s.declaredOn,
        suppressed: silencedBy.get(suppressionKey(s)) ?? [],
      }));
      PolicyRecord.of(stack).add({
        rules: [...known],
        findings: findings.map((f) => ({ rule: f.ruleId, level: f.level, resource: f.address, message: f.message })),
        suppressions,
      });
    }
  }

  /** Runs one rule; a rule that throws is reported as a warning rather than aborting synth. */
  private run(rule: PolicyRule, view: ResourceView, context: PolicyContext, construct: IConstruct, findings: PolicyFinding[]): RuleResult | undefined {
    try {
      return rule.evaluate(view, context);
    } catch (e) {
      const reason = `rule ${rule.id} could not be evaluated on ${view.address} (${e instanceof Error ? e.message : String(e)})`;
      const fix = "report it to the rule's maintainers; the resource was not checked by this rule";
      const finding: PolicyFinding = { ruleId: POLICY_PACK_ID, level: PolicyLevel.WARNING, address: view.address, path: construct.node.path, reason, fix, message: findingMessage(POLICY_PACK_ID, reason, fix) };
      findings.push(finding);
      this.report(construct, finding);
      return undefined;
    }
  }

  private report(construct: IConstruct, finding: PolicyFinding): void {
    this.reported.push(finding);
    if (finding.level === PolicyLevel.ERROR) Annotations.of(construct).addError(finding.message);
    else Annotations.of(construct).addWarning(finding.message);
  }
}

/** Identity of a suppression declaration (the same declaration is found once per resource). */
function suppressionKey(s: PolicySuppression): string {
  return `${s.declaredOn}\u0000${s.ruleId}\u0000${s.reason}`;
}

/** The stack containing `root`, or the stacks below it (when the root is the App). */
function stacksOf(root: IConstruct): TerraformStack[] {
  const enclosing = [...root.node.scopes].reverse().find((c): c is TerraformStack => TerraformStack.isStack(c));
  if (enclosing !== undefined) return [enclosing];
  return root.node.findAll().filter((c): c is TerraformStack => TerraformStack.isStack(c));
}
