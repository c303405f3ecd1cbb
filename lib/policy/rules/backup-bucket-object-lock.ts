import { PolicyContext, ResourceView } from "../context";
import { bucketConfigurations } from "../buckets";
import { actionCovers, isNodeRole, policyStatements, roleNamed } from "../iam";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { block, blocks, displayName, literalBoolean, literalString } from "../values";

/** Actions by which a node writes (and could overwrite or delete) objects. */
const WRITE_ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"];

/**
 * True when a resource ARN pattern points into `bucket`: `*` or an S3 ARN whose bucket segment
 * starts with `*` (every bucket, whatever its name, even one known only at apply time), a reference
 * to the bucket, or its literal name.
 */
function pointsInto(resourceArn: string, bucket: ResourceView, context: PolicyContext): boolean {
  if (resourceArn === "*" || /^arn:aws[a-z-]*:s3:::\*/.test(resourceArn)) return true;
  if (context.references(resourceArn).some((r) => r.element?.address === bucket.address)) return true;
  const name = literalString(bucket.config.bucket);
  return name !== undefined && resourceArn.includes(`:s3:::${name}/`);
}

/** The node roles whose inline policies let them write objects into `bucket`. */
function writers(bucket: ResourceView, context: PolicyContext): string[] {
  const found: string[] = [];
  for (const policy of context.ofType("aws_iam_role_policy")) {
    const role = roleNamed(policy.config.role, context);
    if (!isNodeRole(role)) continue;
    const statements = policyStatements(policy.config.policy, context) ?? [];
    const writes = statements.some(
      (s) => s.effect === "Allow" && s.actions.some((a) => WRITE_ACTIONS.some((w) => actionCovers(a, w))) && s.resources.some((r) => pointsInto(r, bucket, context)),
    );
    if (writes) found.push(displayName(role!.config, role!.address));
  }
  return found;
}

function hasDefaultRetention(rule: unknown): boolean {
  const retention = block(block(rule)?.default_retention);
  return retention !== undefined && literalString(retention.mode) !== undefined && (retention.days !== undefined || retention.years !== undefined);
}

/**
 * HA-BKP1: a bucket control-plane nodes write to (etcd snapshots) has S3 Object Lock with a default
 * retention. Without it, a compromised node deletes or overwrites every backup it could write - the
 * one thing backups must survive.
 */
export const BACKUP_BUCKET_OBJECT_LOCK: PolicyRule = {
  id: "HA-BKP1",
  level: PolicyLevel.ERROR,
  description:
    "S3 buckets that control-plane node roles may write objects to (backups) have Object Lock enabled (object_lock_enabled) with a default retention (aws_s3_bucket_object_lock_configuration)",
  fix: "create the bucket with object_lock_enabled = true and add an aws_s3_bucket_object_lock_configuration with a default retention covering the backup lifecycle (EtcdBackups does both)",
  appliesTo: ["aws_s3_bucket"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    const by = writers(resource, context);
    if (by.length === 0) return RuleResult.notApplicable("no control-plane node role writes to it");
    const name = displayName(resource.config, resource.address);
    if (literalBoolean(resource.config.object_lock_enabled) !== true && block(resource.config.object_lock_configuration)?.object_lock_enabled !== "Enabled") {
      return RuleResult.nonCompliant(`bucket ${name}, written by node role ${by.join(", ")}, has no Object Lock`);
    }
    if (blocks(resource.config.object_lock_configuration).some((c) => hasDefaultRetention(c.rule))) return RuleResult.compliant();
    const found = bucketConfigurations(resource, "aws_s3_bucket_object_lock_configuration", context);
    if (found.matching.some((c) => hasDefaultRetention(c.config.rule))) return RuleResult.compliant();
    if (found.undecided) return RuleResult.notApplicable("an Object Lock configuration names its bucket by an expression");
    return RuleResult.nonCompliant(`bucket ${name}, written by node role ${by.join(", ")}, has Object Lock but no default retention: objects written without a retention can be deleted`);
  },
};
