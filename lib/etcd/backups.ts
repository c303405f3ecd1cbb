import { Construct } from "constructs";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { NodeRole } from "../compute/node-role";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName, fitsRule, stableHash } from "../names";
import { IEncryptionKey } from "../security/encryption-key";
import { ClusterTags } from "../tags";
import { checkInteger, isUnresolved } from "../validate";

/** Props of {@link EtcdBackups}. */
export interface EtcdBackupsProps {
  /** Cluster name. */
  readonly clusterName: string;
  /** Key the snapshots are encrypted with (SSE-KMS). */
  readonly encryptionKey: IEncryptionKey;
  /**
   * Bucket name (global: must be unique across AWS).
   * @default - `<cluster>-etcd-backups-<hash of the cluster name>`
   */
  readonly bucketName?: string;
  /**
   * Minutes between snapshots (taken by the leader only).
   * @default 5
   */
  readonly intervalMinutes?: number;
  /**
   * Days a snapshot is kept.
   * @default 14
   */
  readonly retentionDays?: number;
  /**
   * Days an overwritten or deleted snapshot version is kept.
   * @default 7
   */
  readonly noncurrentVersionRetentionDays?: number;
  /**
   * Keep the bucket and its snapshots when the stack is destroyed (`prevent_destroy`).
   * @default true
   */
  readonly protectBucket?: boolean;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The S3 bucket etcd snapshots go to, with every protection: versioning, SSE-KMS with the cluster
 * key as the bucket default (bucket key on: every object is encrypted with it, whatever the
 * uploader sends), all public access blocked, bucket-owner-enforced ownership, a policy that refuses
 * plain HTTP, and lifecycle retention. Members get write access to
 * their snapshots' prefix; the schedule is a systemd timer on the members (`ha-etcd-backup`).
 */
export class EtcdBackups extends Construct {
  /** The bucket. */
  public readonly bucket: S3Bucket;
  /** Its name (known at synth time, for user data). */
  public readonly bucketName: string;
  /** Where snapshots go: `s3://<bucket>/snapshots`. */
  public readonly target: string;
  /** Minutes between snapshots. */
  public readonly intervalMinutes: number;
  private readonly keyArn: string;

  constructor(scope: Construct, id: string, props: EtcdBackupsProps) {
    super(scope, id);
    const interval = props.intervalMinutes ?? 5;
    checkInteger("etcdBackupIntervalMinutes", interval, 1, 1440, "take a snapshot at least daily and at most every minute (5 is the default)");
    const retention = props.retentionDays ?? 14;
    checkInteger("etcdBackupRetentionDays", retention, 1, 3650, "keep snapshots at least a day");
    if (retention * 1440 <= interval) {
      throw new ConfigError("etcdBackupRetentionDays", retention, `is not longer than the backup interval (${interval} minutes): no snapshot would survive to the next`, "keep snapshots for several intervals");
    }
    const noncurrent = props.noncurrentVersionRetentionDays ?? 7;
    checkInteger("etcdBackupNoncurrentVersionRetentionDays", noncurrent, 1, 3650);
    const name = props.bucketName ?? defaultBucketName(props.clusterName);
    if (!isUnresolved(name) && (!fitsRule(name, NAME_RULES.s3Bucket) || name.includes("..") || /^\d+\.\d+\.\d+\.\d+$/.test(name))) {
      throw new ConfigError("etcdBackupBucketName", name, "is not a valid S3 bucket name (3–63 lower-case letters, digits and '-', starting and ending with a letter or digit)", "pick another name");
    }
    this.bucketName = name;
    this.intervalMinutes = interval;
    this.keyArn = props.encryptionKey.keyArn;
    this.target = `s3://${name}/snapshots`;
    const tags = new ClusterTags(props.clusterName, props.tags);

    this.bucket = new S3Bucket(this, "Bucket", { bucket: name, tags: tags.of(name) });
    if (props.protectBucket ?? true) this.bucket.addOverride("lifecycle.prevent_destroy", true);
    new S3BucketVersioningA(this, "Versioning", { bucket: this.bucket.id, versioningConfiguration: { status: "Enabled" } });
    new S3BucketServerSideEncryptionConfigurationA(this, "Encryption", {
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.encryptionKey.keyArn }, bucketKeyEnabled: true }],
    });
    const publicBlock = new S3BucketPublicAccessBlock(this, "PublicAccessBlock", {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "Ownership", { bucket: this.bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } });
    new S3BucketPolicy(this, "Policy", {
      bucket: this.bucket.id,
      dependsOn: [publicBlock],
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyPlainHttp",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
    });
    new S3BucketLifecycleConfiguration(this, "Lifecycle", {
      bucket: this.bucket.id,
      rule: [
        {
          id: "expire-snapshots",
          status: "Enabled",
          filter: [{ prefix: "snapshots/" }],
          expiration: [{ days: retention }],
          noncurrentVersionExpiration: [{ noncurrentDays: noncurrent }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        },
      ],
    });
  }

  /** Lets a member write snapshots and read them back for a restore. */
  public grantReadWrite(role: NodeRole): void {
    role.addStatement({ sid: "WriteEtcdSnapshots", actions: ["s3:PutObject", "s3:GetObject"], resources: [`${this.bucket.arn}/snapshots/*`] });
    role.addStatement({ sid: "ListEtcdSnapshots", actions: ["s3:ListBucket"], resources: [this.bucket.arn], condition: { StringLike: { "s3:prefix": ["snapshots/*"] } } });
    role.addStatement({
      sid: "EncryptEtcdSnapshots",
      actions: ["kms:GenerateDataKey", "kms:Decrypt"],
      resources: [this.keyArn],
      condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
    });
  }
}

/** `<cluster>-etcd-backups-<8 hex of the cluster name>`, within 63 characters. */
export function defaultBucketName(clusterName: string): string {
  return deriveName([clusterName, "etcd-backups", stableHash(`etcd-backups/${clusterName}`)], NAME_RULES.s3Bucket);
}
