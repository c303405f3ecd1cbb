/** IAM views for rules: which roles are control-plane node roles, and what their policies allow. */
import { ElementKind, PolicyContext, ResourceView } from "./context";
import { asRecord, blocks, list, literalString, tagsOf } from "./values";
import { CLUSTER_TAG } from "../tags";

/** One statement of a policy as rules read it (strings may hold Terraform references). */
export interface PolicyStatementView {
  /**
   * `Allow` or `Deny` as written; an `aws_iam_policy_document` statement without one reads `Allow`
   * (its default), a JSON statement without one reads `""`.
   */
  readonly effect: string;
  /** The statement's actions, e.g. `ec2:DescribeInstances` or `s3:*`; a single string becomes a one-element list. */
  readonly actions: readonly string[];
  /** The statement's resource ARNs or references, e.g. `*` or `${aws_s3_bucket.b.arn}/*`. */
  readonly resources: readonly string[];
}

/** True when a trust policy (JSON text or object) lets EC2 assume the role. */
function trustsEc2(value: unknown): boolean {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? "");
  return /"Service"\s*:\s*(\[[^\]]*)?"ec2\.amazonaws\.com(\.cn)?"/.test(text);
}

/**
 * A control-plane node role: an `aws_iam_role` that EC2 may assume (an instance role) and that
 * carries the `ha-control-plane/cluster` tag, as every `NodeRole` does.
 */
export function isNodeRole(role: ResourceView | undefined): boolean {
  return role !== undefined && role.kind === ElementKind.RESOURCE && role.type === "aws_iam_role" && trustsEc2(role.config.assume_role_policy) && tagsOf(role.config)[CLUSTER_TAG] !== undefined;
}

/** The `aws_iam_role` a role argument (`role`, an item of `roles`) names: a reference or its literal name. */
export function roleNamed(value: unknown, context: PolicyContext): ResourceView | undefined {
  const target = context.follow(value);
  if (target !== undefined) return target.type === "aws_iam_role" ? target : undefined;
  const name = literalString(value);
  if (name === undefined) return undefined;
  return context.ofType("aws_iam_role").find((r) => literalString(r.config.name) === name);
}

function statementsOfDocument(doc: unknown): PolicyStatementView[] {
  const record = asRecord(doc);
  if (record === undefined) return [];
  return list(record.Statement).flatMap((raw) => {
    const s = asRecord(raw);
    if (s === undefined) return [];
    return [{ effect: String(s.Effect ?? ""), actions: list(s.Action).map(String), resources: list(s.Resource).map(String) }];
  });
}

/**
 * The statements of a policy argument: JSON text (references inside it kept as `${...}`), or a
 * reference to an `aws_iam_policy_document` data source's `json`. `undefined` when it cannot be read.
 */
export function policyStatements(value: unknown, context: PolicyContext): PolicyStatementView[] | undefined {
  const target = context.reference(value);
  if (target?.element?.type === "aws_iam_policy_document" && target.element.kind === ElementKind.DATA) {
    return blocks(target.element.config.statement).map((s) => ({
      effect: s.effect === undefined ? "Allow" : String(s.effect),
      actions: list(s.actions).map(String),
      resources: list(s.resources).map(String),
    }));
  }
  if (typeof value !== "string") return statementsOfDocument(value);
  try {
    return statementsOfDocument(JSON.parse(value));
  } catch {
    return undefined;
  }
}

/** True when an IAM action pattern (`s3:Put*`, `*`) covers `action`. */
export function actionCovers(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(action);
}
