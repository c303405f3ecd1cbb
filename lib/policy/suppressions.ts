/**
 * Suppressions: a rule silenced on a construct and everything below it, always with a reason.
 * They live in the construct tree's metadata (type `ha-policy-suppression`), so they survive
 * refactoring of the code that declared them and are visible to any tool walking the tree.
 */
import { IConstruct } from "constructs";
import { ConfigError } from "../errors";

/** Metadata type of a suppression entry on a construct node. */
export const SUPPRESSION_METADATA_TYPE = "ha-policy-suppression";
/** Minimum length of a suppression reason (trimmed). */
export const MIN_SUPPRESSION_REASON_LENGTH = 10;

/** A suppression as declared. */
export interface PolicySuppression {
  /** Rule id, e.g. `HA-SG1`. */
  readonly ruleId: string;
  /** Why the finding is acceptable. */
  readonly reason: string;
  /** Path of the construct it was declared on. */
  readonly declaredOn: string;
}

/** Validates and records a suppression of `ruleId` on `construct` (and its children). */
export function addSuppression(construct: IConstruct, ruleId: string, reason: string): void {
  if (typeof ruleId !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(ruleId)) {
    throw new ConfigError("ruleId", ruleId, "is not a rule id", 'pass the id shown in brackets in the finding, e.g. "HA-SG1"');
  }
  if (typeof reason !== "string" || reason.trim().length < MIN_SUPPRESSION_REASON_LENGTH) {
    throw new ConfigError(
      "reason",
      reason,
      `a suppression of ${ruleId} needs a reason of at least ${MIN_SUPPRESSION_REASON_LENGTH} characters: auditors read it in cdk.tf.json and the manifest`,
      'say why the finding is acceptable here, e.g. "public API by design for the partner VPN"',
    );
  }
  construct.node.addMetadata(SUPPRESSION_METADATA_TYPE, { ruleId, reason: reason.trim() });
}

/** Suppressions declared on `construct` itself. */
export function declaredSuppressions(construct: IConstruct): PolicySuppression[] {
  return construct.node.metadata
    .filter((m) => m.type === SUPPRESSION_METADATA_TYPE)
    .map((m) => {
      const data = m.data as { ruleId: string; reason: string };
      return { ruleId: data.ruleId, reason: data.reason, declaredOn: construct.node.path };
    });
}

/** Suppressions in force on `construct`: its own and its ancestors', nearest first. */
export function effectiveSuppressions(construct: IConstruct): PolicySuppression[] {
  return [...construct.node.scopes].reverse().flatMap((c) => declaredSuppressions(c).reverse());
}

/** The suppression of `ruleId` in force on `construct` (the nearest, latest one), if any. */
export function findSuppression(construct: IConstruct, ruleId: string): PolicySuppression | undefined {
  return effectiveSuppressions(construct).find((s) => s.ruleId === ruleId);
}
