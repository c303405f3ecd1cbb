import type { PolicyContext, ResourceView } from "./context";

/** How serious a rule's finding is. */
export enum PolicyLevel {
  /** Reported with `Annotations.addError`: `cdktf synth` fails until fixed or suppressed. */
  ERROR = "error",
  /** Reported with `Annotations.addWarning`: printed, synth goes on. */
  WARNING = "warning",
}

/** Outcome of one rule on one resource. */
export enum RuleStatus {
  /** The resource satisfies the rule. */
  COMPLIANT = "compliant",
  /** The resource violates the rule; `RuleResult.reason` says how. */
  NON_COMPLIANT = "non-compliant",
  /**
   * The rule does not apply, or cannot be decided from the synthesized configuration (a value known
   * only at apply time, a subnet outside the stack, ...). Never reported.
   */
  NOT_APPLICABLE = "not-applicable",
}

/** What a rule returns. Build it with the static factories. */
export class RuleResult {
  /** The resource satisfies the rule. */
  public static compliant(): RuleResult {
    return new RuleResult(RuleStatus.COMPLIANT);
  }

  /** The resource violates the rule; `reason` says what is wrong, with the offending values. */
  public static nonCompliant(reason: string): RuleResult {
    return new RuleResult(RuleStatus.NON_COMPLIANT, reason);
  }

  /** The rule does not apply or cannot be decided; `reason` helps when debugging a custom rule. */
  public static notApplicable(reason?: string): RuleResult {
    return new RuleResult(RuleStatus.NOT_APPLICABLE, reason);
  }

  private constructor(
    /** The outcome. */
    public readonly status: RuleStatus,
    /** Why (required for NON_COMPLIANT). */
    public readonly reason?: string,
  ) {}
}

/**
 * One policy rule: a pure function of a resource's synthesized configuration and its stack.
 *
 * Rules never see constructs, only Terraform JSON (`ResourceView.config`), so they check exactly
 * what Terraform will apply, including escape-hatch overrides and resources users add themselves.
 */
export interface PolicyRule {
  /** Stable id, e.g. `HA-SG1`; used in messages and suppressions. */
  readonly id: string;
  /** Level of its findings. */
  readonly level: PolicyLevel;
  /** What the rule checks (one sentence, for docs and reports). */
  readonly description: string;
  /** How to fix a finding (appended to every message). */
  readonly fix: string;
  /** Terraform types (`aws_ebs_volume`, `data.aws_subnet` for data sources) the rule is evaluated on. */
  readonly appliesTo: readonly string[];
  /** Evaluates the rule on one resource; `context` lists every resource of the stack. */
  readonly evaluate: (resource: ResourceView, context: PolicyContext) => RuleResult;
}

/** A reported (not suppressed) finding. */
export interface PolicyFinding {
  /** Id of the rule that reported the finding, e.g. `HA-AZ1`; what suppressions name. */
  readonly ruleId: string;
  /** Rule level. */
  readonly level: PolicyLevel;
  /** Terraform address of the offending resource, e.g. `aws_ebs_volume.Data_1A2B3C4D`. */
  readonly address: string;
  /** Construct path of the offending resource (the stack's path for resources without one). */
  readonly path: string;
  /** What is wrong. */
  readonly reason: string;
  /** How to fix it. */
  readonly fix: string;
  /** The annotation text: `[RULE-ID] reason: fix`. */
  readonly message: string;
}

/** A finding silenced by a suppression. */
export interface SuppressedFinding extends PolicyFinding {
  /** The suppression's reason. */
  readonly suppressionReason: string;
  /** Path of the construct the suppression was declared on (the resource or an ancestor). */
  readonly suppressedAt: string;
}

/** The annotation text of a finding. */
export function findingMessage(ruleId: string, reason: string, fix: string): string {
  return `[${ruleId}] ${reason}: ${fix}`;
}
