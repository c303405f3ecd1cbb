import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { bucketConfigurations } from "../buckets";
import { block, blocks, displayName } from "../values";

function declaresEncryption(rules: unknown): boolean {
  return blocks(rules).some((r) => block(r.apply_server_side_encryption_by_default)?.sse_algorithm !== undefined);
}

/**
 * HA-BKT1: buckets declare their server-side encryption. S3 encrypts new objects with SSE-S3 even
 * without it (since January 2023), hence a warning; declaring SSE-KMS with the cluster key puts
 * etcd backups and state behind a key policy as well.
 */
export const BUCKET_ENCRYPTION: PolicyRule = {
  id: "HA-BKT1",
  level: PolicyLevel.WARNING,
  description: "S3 buckets have a server-side encryption configuration (aws_s3_bucket_server_side_encryption_configuration referencing the bucket)",
  fix: 'add an aws_s3_bucket_server_side_encryption_configuration with sse_algorithm = "aws:kms", the cluster key and bucket_key_enabled = true',
  appliesTo: ["aws_s3_bucket"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    const inline = block(resource.config.server_side_encryption_configuration);
    if (inline !== undefined && declaresEncryption(inline.rule)) return RuleResult.compliant();
    const found = bucketConfigurations(resource, "aws_s3_bucket_server_side_encryption_configuration", context);
    if (found.matching.some((c) => declaresEncryption(c.config.rule))) return RuleResult.compliant();
    if (found.undecided) return RuleResult.notApplicable("an encryption configuration names its bucket by an expression");
    return RuleResult.nonCompliant(`bucket ${displayName(resource.config, resource.address)} has no server-side encryption configuration`);
  },
};
