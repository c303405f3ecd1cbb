import { ConfigError, EtcdBackups, NodeRole, defaultBucketName, fitsRule, NAME_RULES } from "../../lib";
import { only, resources, synth } from "../helpers/synth";

const key = { keyArn: "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555" };

describe("EtcdBackups", () => {
  let backups!: EtcdBackups;
  const json = synth((s) => {
    backups = new EtcdBackups(s, "Backups", { clusterName: "prod-eu1", encryptionKey: key });
    backups.grantReadWrite(new NodeRole(s, "Role", { clusterName: "prod-eu1", nodeRole: "etcd-0" }));
  });

  it("creates a versioned, KMS-encrypted bucket with every public access blocked, protected from destroy", () => {
    const bucket = only(json, "aws_s3_bucket");
    expect(bucket.props.bucket).toBe(defaultBucketName("prod-eu1"));
    expect(bucket.props.lifecycle).toEqual({ prevent_destroy: true });
    expect(only(json, "aws_s3_bucket_versioning").props.versioning_configuration.status).toBe("Enabled");
    const sse = only(json, "aws_s3_bucket_server_side_encryption_configuration").props.rule[0];
    expect(sse).toMatchObject({ apply_server_side_encryption_by_default: { sse_algorithm: "aws:kms", kms_master_key_id: key.keyArn }, bucket_key_enabled: true });
    expect(only(json, "aws_s3_bucket_public_access_block").props).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
    expect(only(json, "aws_s3_bucket_ownership_controls").props.rule.object_ownership).toBe("BucketOwnerEnforced");
  });

  it("refuses plain HTTP in the bucket policy", () => {
    const policy = JSON.parse(only(json, "aws_s3_bucket_policy").props.policy);
    const tls = policy.Statement.find((s: { Sid: string }) => s.Sid === "DenyPlainHttp");
    expect(tls).toMatchObject({ Effect: "Deny", Principal: "*", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } });
  });

  it("expires snapshots after the retention and old versions after a week", () => {
    const rule = only(json, "aws_s3_bucket_lifecycle_configuration").props.rule[0];
    expect(rule).toMatchObject({ status: "Enabled", filter: [{ prefix: "snapshots/" }], expiration: [{ days: 14 }], noncurrent_version_expiration: [{ noncurrent_days: 7 }] });
    expect(backups.intervalMinutes).toBe(5);
    expect(backups.target).toBe(`s3://${defaultBucketName("prod-eu1")}/snapshots`);
  });

  it("lets members write and read snapshots only under their own snapshots/<member>/ prefix and use the key only through S3", () => {
    const doc = JSON.parse(resources(json, "aws_iam_role_policy")[0].props.policy);
    const write = doc.Statement.find((s: { Sid: string }) => s.Sid === "WriteEtcdSnapshots");
    expect(write.Resource).toMatch(/\/snapshots\/etcd-0\/\*$/);
    expect(doc.Statement.find((s: { Sid: string }) => s.Sid === "EncryptEtcdSnapshots").Condition).toEqual({ StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } });
  });

  it("derives bucket names within S3's rules for any cluster name", () => {
    for (const name of ["a", "prod", "a-forty-character-cluster-name-for-tests"]) expect(fitsRule(defaultBucketName(name), NAME_RULES.s3Bucket)).toBe(true);
    expect(defaultBucketName("x")).not.toBe(defaultBucketName("y"));
  });

  it.each([
    [{ intervalMinutes: 0 }, "etcdBackupIntervalMinutes"],
    [{ intervalMinutes: 1.5 }, "etcdBackupIntervalMinutes"],
    [{ retentionDays: 0 }, "etcdBackupRetentionDays"],
    [{ intervalMinutes: 1440, retentionDays: 1 }, "etcdBackupRetentionDays"],
    [{ bucketName: "Bad_Bucket" }, "etcdBackupBucketName"],
    [{ bucketName: "xn--bucket" }, "etcdBackupBucketName"],
  ])("refuses %j naming %s", (extra, prop) => {
    expect.assertions(2);
    try {
      synth((s) => new EtcdBackups(s, "B", { clusterName: "c", encryptionKey: key, ...extra }));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).prop).toBe(prop);
    }
  });
});
