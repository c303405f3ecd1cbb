import { PolicyContext, ResourceView } from "../context";
import { PolicyLevel, PolicyRule, RuleResult } from "../rule";
import { bucketConfigurations } from "../buckets";
import { displayName, isExpression, literalBoolean } from "../values";

const FLAGS = ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"];

/** The flags a public access block leaves off; `undefined` when one is an expression. */
function missingFlags(config: Readonly<Record<string, unknown>>): string[] | undefined {
  if (FLAGS.some((f) => isExpression(config[f]))) return undefined;
  return FLAGS.filter((f) => literalBoolean(config[f]) !== true);
}

/**
 * HA-BKT2: buckets block every form of public access, in code (console defaults can be changed
 * by hand). etcd snapshots hold every Secret of the cluster.
 */
export const BUCKET_PUBLIC_ACCESS: PolicyRule = {
  id: "HA-BKT2",
  level: PolicyLevel.ERROR,
  description: "S3 buckets have an aws_s3_bucket_public_access_block (or an account-level block) with all four settings true",
  fix: "add an aws_s3_bucket_public_access_block referencing the bucket with block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets = true",
  appliesTo: ["aws_s3_bucket"],
  evaluate: (resource: ResourceView, context: PolicyContext): RuleResult => {
    const account = context.ofType("aws_s3_account_public_access_block").map((a) => missingFlags(a.config));
    if (account.some((m) => m !== undefined && m.length === 0)) return RuleResult.compliant();
    const found = bucketConfigurations(resource, "aws_s3_bucket_public_access_block", context);
    const name = displayName(resource.config, resource.address);
    const verdicts = found.matching.map((b) => missingFlags(b.config));
    if (verdicts.some((m) => m !== undefined && m.length === 0)) return RuleResult.compliant();
    if (verdicts.some((m) => m === undefined) || found.undecided || account.some((m) => m === undefined)) {
      return RuleResult.notApplicable("a public access block is known only at apply time");
    }
    if (verdicts.length > 0) return RuleResult.nonCompliant(`bucket ${name}'s public access block leaves ${verdicts[0]!.join(", ")} off`);
    return RuleResult.nonCompliant(`bucket ${name} has no public access block`);
  },
};
