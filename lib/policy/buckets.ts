/** Which bucket-level configuration resources (encryption, public access block) belong to a bucket. */
import { PolicyContext, ResourceView } from "./context";
import { literalString } from "./values";

/** Configurations of `type` attached to `bucket`, and whether some could not be matched. */
export interface BucketConfigurations {
  /** Configurations whose `bucket` names this bucket. */
  readonly matching: readonly ResourceView[];
  /** True when a configuration's `bucket` is an expression that may or may not be this bucket. */
  readonly undecided: boolean;
}

/**
 * The `type` resources (e.g. `aws_s3_bucket_public_access_block`) whose `bucket` argument names
 * `bucket`: a reference to its `id` or `bucket` attribute, or its literal name.
 */
export function bucketConfigurations(bucket: ResourceView, type: string, context: PolicyContext): BucketConfigurations {
  const name = literalString(bucket.config.bucket);
  const matching: ResourceView[] = [];
  let undecided = false;
  for (const config of context.ofType(type)) {
    const value = config.config.bucket;
    const literal = literalString(value);
    if (literal !== undefined) {
      if (name !== undefined && literal === name) matching.push(config);
      continue;
    }
    const target = context.reference(value);
    if (target?.element !== undefined) {
      if (target.element.address === bucket.address) matching.push(config);
      continue;
    }
    undecided = true;
  }
  return { matching, undecided };
}
