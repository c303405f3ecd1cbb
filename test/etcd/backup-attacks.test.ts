/**
 * Finding 2 (issue 14): what a compromised etcd member can do to the backups, decided by the IAM
 * evaluator in test/helpers/iam-eval.ts (written from AWS's documented evaluation logic) over the
 * synthesized bucket policy and member role policies. moto does not evaluate bucket policy
 * conditions, so these decisions are simulated; Object Lock itself is exercised against moto in
 * backup-restore.e2e.test.ts.
 */
import { EtcdBackups, NodeRole } from "../../lib";
import { IamRequest, PolicyDocument, evaluate } from "../helpers/iam-eval";
import { SynthJson, only, resources, synth } from "../helpers/synth";

const ACCOUNT = "111122223333";
const KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const OTHER_KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/99999999-2222-3333-4444-555555555555`;

/** Replaces `${aws_s3_bucket.X.arn}` and `${aws_iam_role.X.arn|name}` with what AWS would return. */
function resolve(json: SynthJson, text: string): string {
  return text.replace(/\$\{(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\.(arn|name|id|bucket)\}/g, (all, type: string, name: string, attr: string) => {
    const props = json.resource?.[type]?.[name] as Record<string, string> | undefined;
    if (!props) throw new Error(`unresolvable ${all}`);
    if (type === "aws_s3_bucket") return attr === "arn" ? `arn:aws:s3:::${props.bucket}` : props.bucket;
    if (type === "aws_iam_role") return attr === "arn" ? `arn:aws:iam::${ACCOUNT}:role/${props.name}` : props.name;
    throw new Error(`no resolution for ${all}`);
  });
}

describe("etcd backups against a compromised member (IAM policy simulation)", () => {
  let backups!: EtcdBackups;
  const json = synth((s) => {
    backups = new EtcdBackups(s, "Backups", { clusterName: "prod", encryptionKey: { keyArn: KEY } });
    for (const slot of ["etcd-0", "etcd-1"]) backups.grantReadWrite(new NodeRole(s, `Role-${slot}`, { clusterName: "prod", nodeRole: slot }));
  });
  const bucket = String(only(json, "aws_s3_bucket").props.bucket);
  const bucketPolicy = JSON.parse(resolve(json, String(only(json, "aws_s3_bucket_policy").props.policy))) as PolicyDocument;
  const roleArn = (slot: string) => `arn:aws:iam::${ACCOUNT}:role/${resources(json, "aws_iam_role").find((r) => String(r.props.name).endsWith(slot))!.props.name}`;
  const identity = (slot: string): PolicyDocument[] =>
    resources(json, "aws_iam_role_policy")
      .filter((p) => resolve(json, String(p.props.role)).endsWith(slot))
      .map((p) => JSON.parse(resolve(json, String(p.props.policy))) as PolicyDocument);
  const object = (key: string) => `arn:aws:s3:::${bucket}/${key}`;
  const sseKms = { "s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY, "aws:SecureTransport": "true" };
  const as = (slot: string, action: string, key: string, context: Record<string, string | undefined> = sseKms, extra: PolicyDocument[] = []) =>
    evaluate({ principalArn: roleArn(slot), action, resource: key === "" ? `arn:aws:s3:::${bucket}` : object(key), context } satisfies IamRequest, [...identity(slot), ...extra], bucketPolicy);
  // What someone could later attach to a node role by mistake: every S3 action.
  const overGrant: PolicyDocument = { Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] };

  it("lets a member upload to its own prefix with SSE-KMS and the cluster key", () => {
    expect(as("etcd-0", "s3:PutObject", "snapshots/etcd-0/prod-1.db").allowed).toBe(true);
  });

  it("refuses an upload without SSE-KMS, with SSE-S3, with another key, or with SSE-C", () => {
    const key = "snapshots/etcd-0/prod-2.db";
    expect(as("etcd-0", "s3:PutObject", key, { "aws:SecureTransport": "true" })).toMatchObject({ allowed: false, reason: "explicit-deny" });
    expect(as("etcd-0", "s3:PutObject", key, { "aws:SecureTransport": "true", "s3:x-amz-server-side-encryption": "AES256" })).toMatchObject({ allowed: false, reason: "explicit-deny" });
    expect(as("etcd-0", "s3:PutObject", key, { ...sseKms, "s3:x-amz-server-side-encryption-aws-kms-key-id": OTHER_KEY })).toMatchObject({ allowed: false, reason: "explicit-deny" });
    expect(as("etcd-0", "s3:PutObject", key, { "aws:SecureTransport": "true", "s3:x-amz-server-side-encryption-customer-algorithm": "AES256" })).toMatchObject({ allowed: false, reason: "explicit-deny" });
    // SSE-C is refused for anyone in the account, not only members.
    const admin = evaluate({ principalArn: `arn:aws:iam::${ACCOUNT}:role/admin`, action: "s3:PutObject", resource: object(key), context: { "aws:SecureTransport": "true", "s3:x-amz-server-side-encryption-customer-algorithm": "AES256" } }, [overGrant], bucketPolicy);
    expect(admin.allowed).toBe(false);
  });

  it("does not let a member read or write another member's snapshots, even with s3:* granted", () => {
    for (const extra of [[], [overGrant]]) {
      expect(as("etcd-0", "s3:GetObject", "snapshots/etcd-1/prod-1.db", {}, extra).allowed).toBe(false);
      expect(as("etcd-0", "s3:GetObjectVersion", "snapshots/etcd-1/prod-1.db", {}, extra).allowed).toBe(false);
      expect(as("etcd-0", "s3:PutObject", "snapshots/etcd-1/prod-9.db", sseKms, extra).allowed).toBe(false);
    }
    expect(as("etcd-0", "s3:GetObject", "snapshots/etcd-0/prod-1.db", {}).allowed).toBe(true);
  });

  it("does not let a member delete, unlock or reconfigure anything, even with s3:* granted", () => {
    for (const action of ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutObjectRetention", "s3:PutObjectLegalHold"]) {
      expect(as("etcd-0", action, "snapshots/etcd-0/prod-1.db", {}, [overGrant])).toMatchObject({ allowed: false, reason: "explicit-deny" });
    }
    for (const action of ["s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketVersioning", "s3:DeleteBucket"]) {
      expect(as("etcd-0", action, "", {}, [overGrant])).toMatchObject({ allowed: false, reason: "explicit-deny" });
    }
  });

  it("locks every version (governance by default) for as long as the lifecycle keeps it", () => {
    expect(only(json, "aws_s3_bucket").props.object_lock_enabled).toBe(true);
    const lock = only(json, "aws_s3_bucket_object_lock_configuration").props.rule.default_retention;
    const expiry = only(json, "aws_s3_bucket_lifecycle_configuration").props.rule[0].expiration[0].days;
    expect(lock.mode).toBe("GOVERNANCE");
    expect(lock.days).toBeGreaterThanOrEqual(expiry);
    expect(backups.keyArn).toBe(KEY);
  });
});
