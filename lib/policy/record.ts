/**
 * The policy pack's entry in the synthesized stack: a `//` (comment) block of cdk.tf.json that
 * Terraform ignores and auditors can read next to the resources.
 *
 * ```json
 * "//": { "ha-policy": { "rules": ["HA-SG1", ...], "findings": [...], "suppressions": [
 *   { "rule": "HA-SG1", "reason": "...", "declaredOn": "stack/Sg", "suppressed": ["aws_..."] } ] } }
 * ```
 */
import { Construct } from "constructs";
import { TerraformElement, TerraformStack } from "../core";

/** Construct id of the record in a stack. */
export const POLICY_RECORD_ID = "HaPolicyRecord";
/** Key of the record under the stack's `//` block. */
export const POLICY_RECORD_KEY = "ha-policy";

/** A finding as recorded. */
export interface RecordedFinding {
  /** Rule id. */
  readonly rule: string;
  /** `error` or `warning`. */
  readonly level: string;
  /** Terraform address. */
  readonly resource: string;
  /** The annotation text. */
  readonly message: string;
}

/** A suppression as recorded. */
export interface RecordedSuppression {
  /** Rule id. */
  readonly rule: string;
  /** The reason given. */
  readonly reason: string;
  /** Construct path it was declared on. */
  readonly declaredOn: string;
  /** Addresses of the resources whose findings it silenced (empty when nothing was found). */
  readonly suppressed: readonly string[];
}

/** What one policy-pack run contributes to the record. */
export interface PolicyRecordEntry {
  /** Rule ids evaluated. */
  readonly rules: readonly string[];
  /** Reported findings. */
  readonly findings: readonly RecordedFinding[];
  /** Suppressions declared in the stack. */
  readonly suppressions: readonly RecordedSuppression[];
}

/** The record element of one stack (one per stack, shared by every pack run on it). */
export class PolicyRecord extends TerraformElement {
  /** The stack's record, created on first use. */
  public static of(stack: TerraformStack): PolicyRecord {
    const existing = stack.node.tryFindChild(POLICY_RECORD_ID);
    return existing instanceof PolicyRecord ? existing : new PolicyRecord(stack, POLICY_RECORD_ID);
  }

  private readonly entries: PolicyRecordEntry[] = [];

  private constructor(scope: Construct, id: string) {
    super(scope, id);
  }

  /** Adds one run's results. */
  public add(entry: PolicyRecordEntry): void {
    this.entries.push(entry);
  }

  /** The merged record. */
  public get content(): PolicyRecordEntry {
    const suppressions = new Map<string, RecordedSuppression>();
    for (const s of this.entries.flatMap((e) => e.suppressions)) {
      const key = `${s.declaredOn}\u0000${s.rule}\u0000${s.reason}`;
      const seen = suppressions.get(key);
      suppressions.set(key, { ...s, suppressed: [...new Set([...(seen?.suppressed ?? []), ...s.suppressed])] });
    }
    return {
      rules: [...new Set(this.entries.flatMap((e) => e.rules))],
      findings: this.entries.flatMap((e) => e.findings),
      suppressions: [...suppressions.values()],
    };
  }

  /** Contributes the `//` block to the stack's JSON. */
  public toTerraform(): Record<string, unknown> {
    return this.entries.length === 0 ? {} : { "//": { [POLICY_RECORD_KEY]: this.content } };
  }
}
