import { Construct } from "constructs";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketObjectLockConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { NodeRole, PolicyStatement } from "../compute/node-role";
import { s3BucketReplicationConfiguration } from "../optional-providers";
import { lazyJsonString } from "../core";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName, fitsRule, stableHash } from "../names";
import { IEncryptionKey } from "../security/encryption-key";
import { ClusterTags } from "../tags";
import { checkInteger, isUnresolved } from "../validate";

/**
 * Object Lock retention mode of the snapshots (S3 Object Lock). Governance: no one can delete or
 * overwrite a locked version unless granted `s3:BypassGovernanceRetention` (nodes are explicitly
 * denied it). Compliance: no one at all, the account root included, until the retention ends.
 */
export class BackupLockMode {
  /** Locked against everyone without `s3:BypassGovernanceRetention` (the default). */
  public static readonly GOVERNANCE = new BackupLockMode("GOVERNANCE");
  /** Locked against everyone, root included, for the whole retention: cannot be shortened. */
  public static readonly COMPLIANCE = new BackupLockMode("COMPLIANCE");
  private constructor(
    /** The S3 API value. */
    public readonly value: string,
  ) {}
}

/** Props of {@link EtcdBackups}. */
export interface EtcdBackupsProps {
  /** The cluster's name: the default bucket name is derived from it (`<cluster>-etcd-backups-<hash>`, shortened to fit S3's 63 characters). */
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
   * Object Lock mode of every snapshot version, locked for `retentionDays`.
   * @default BackupLockMode.GOVERNANCE
   */
  readonly lockMode?: BackupLockMode;
  /**
   * ARN of a bucket (ideally in another account) every snapshot is replicated to, so that even an
   * administrator of this account cannot destroy every copy. Needs `replicationAccountId` and
   * `replicationKmsKeyArn`; the destination bucket must be versioned and its policy must let the
   * replication role (`<cluster>-etcd-backup-replication`) replicate into it.
   * @default - no replication
   */
  readonly replicationBucketArn?: string;
  /**
   * Account owning `replicationBucketArn` (replicas become owned by it).
   * @default - required with replicationBucketArn
   */
  readonly replicationAccountId?: string;
  /**
   * KMS key (in the destination's region) the replicas are encrypted with.
   * @default - required with replicationBucketArn
   */
  readonly replicationKmsKeyArn?: string;
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
 * The S3 bucket etcd snapshots go to, built to survive a compromised node:
 *
 * - versioning and S3 Object Lock (governance by default) with a default retention equal to the
 *   lifecycle's `retentionDays`: no snapshot version can be deleted or overwritten before the
 *   lifecycle would expire it;
 * - a bucket policy that refuses plain HTTP, any `PutObject` that does not ask for SSE-KMS with the
 *   cluster key (so SSE-S3 and SSE-C are refused), and denies the member roles every delete, lock,
 *   bypass and bucket-configuration action even if someone later grants them `s3:*`;
 * - one prefix per member role (`snapshots/<role>/`): a member writes and reads only its own;
 * - optional replication to a bucket in another account.
 *
 * Members upload through `ha-etcd-backup` (a systemd timer) with the SHA-256 of the snapshot as
 * object metadata and publish `EtcdSnapshotsUploaded`; `ha-etcd-restore latest` picks the newest
 * snapshot by `LastModified` and verifies that checksum.
 */
export class EtcdBackups extends Construct {
  /** The S3 bucket holding the snapshots (versioned, SSE-KMS, public access blocked). */
  public readonly bucket: S3Bucket;
  /** Its name (known at synth time, for user data). */
  public readonly bucketName: string;
  /** Where snapshots go: `s3://<bucket>/snapshots`. */
  public readonly target: string;
  /** Minutes between snapshots. */
  public readonly intervalMinutes: number;
  /** Key every snapshot must be encrypted with (the uploader must name it). */
  public readonly keyArn: string;
  private readonly members: { roleArn: string; prefix: string }[] = [];

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
    const replication = [props.replicationBucketArn, props.replicationAccountId, props.replicationKmsKeyArn];
    if (replication.some((v) => v !== undefined) && replication.some((v) => v === undefined)) {
      throw new ConfigError("etcdBackupReplicationBucketArn", props.replicationBucketArn ?? "(unset)", "needs replicationBucketArn, replicationAccountId and replicationKmsKeyArn together", "set all three or none");
    }
    if (props.replicationBucketArn !== undefined && !isUnresolved(props.replicationBucketArn) && !/^arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}$/.test(props.replicationBucketArn)) {
      throw new ConfigError("etcdBackupReplicationBucketArn", props.replicationBucketArn, "is not an S3 bucket ARN", 'pass "arn:aws:s3:::<bucket>"');
    }
    if (props.replicationAccountId !== undefined && !isUnresolved(props.replicationAccountId) && !/^\d{12}$/.test(props.replicationAccountId)) {
      throw new ConfigError("etcdBackupReplicationAccountId", props.replicationAccountId, "is not a 12-digit AWS account id", "pass the destination bucket's account id");
    }
    const name = props.bucketName ?? defaultBucketName(props.clusterName);
    if (!isUnresolved(name) && (!fitsRule(name, NAME_RULES.s3Bucket) || name.includes("..") || /^\d+\.\d+\.\d+\.\d+$/.test(name))) {
      throw new ConfigError("etcdBackupBucketName", name, "is not a valid S3 bucket name (3–63 lower-case letters, digits and '-', starting and ending with a letter or digit)", "pick another name");
    }
    this.bucketName = name;
    this.intervalMinutes = interval;
    this.keyArn = props.encryptionKey.keyArn;
    this.target = `s3://${name}/${SNAPSHOT_PREFIX}`;
    const tags = new ClusterTags(props.clusterName, props.tags);

    // Object Lock can only be switched on at creation (`object_lock_enabled` forces a new bucket).
    this.bucket = new S3Bucket(this, "Bucket", { bucket: name, objectLockEnabled: true, tags: tags.of(name) });
    if (props.protectBucket ?? true) this.bucket.addOverride("lifecycle.prevent_destroy", true);
    const versioning = new S3BucketVersioningA(this, "Versioning", { bucket: this.bucket.id, versioningConfiguration: { status: "Enabled" } });
    new S3BucketObjectLockConfigurationA(this, "ObjectLock", {
      bucket: this.bucket.id,
      dependsOn: [versioning],
      // Locked as long as the lifecycle keeps the version current: expiry only ever removes
      // versions whose lock has ended.
      rule: { defaultRetention: { mode: (props.lockMode ?? BackupLockMode.GOVERNANCE).value, days: retention } },
    });
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
      policy: lazyJsonString(() => this.bucketPolicy()),
    });
    new S3BucketLifecycleConfiguration(this, "Lifecycle", {
      bucket: this.bucket.id,
      rule: [
        {
          id: "expire-snapshots",
          status: "Enabled",
          filter: [{ prefix: `${SNAPSHOT_PREFIX}/` }],
          expiration: [{ days: retention }],
          noncurrentVersionExpiration: [{ noncurrentDays: noncurrent }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        },
      ],
    });
    if (props.replicationBucketArn !== undefined) this.replicate(name, props.clusterName, props.replicationBucketArn, props.replicationAccountId!, props.replicationKmsKeyArn!, versioning, tags);
  }

  /** The bucket policy: TLS only, SSE-KMS with the cluster key only, members confined and unable to delete. */
  private bucketPolicy(): object {
    const bucketArn = this.bucket.arn;
    const objects = `${bucketArn}/*`;
    const memberArns = this.members.map((m) => m.roleArn);
    const statements: object[] = [
      { Sid: "DenyPlainHttp", Effect: "Deny", Principal: "*", Action: "s3:*", Resource: [bucketArn, objects], Condition: { Bool: { "aws:SecureTransport": "false" } } },
      // An absent header also fails StringNotEquals: uploads must name SSE-KMS and the cluster key.
      { Sid: "DenyPutWithoutSseKms", Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: objects, Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" } } },
      { Sid: "DenyPutWithOtherKey", Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: objects, Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": this.keyArn } } },
      { Sid: "DenySseC", Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: objects, Condition: { Null: { "s3:x-amz-server-side-encryption-customer-algorithm": "false" } } },
    ];
    if (memberArns.length > 0) {
      statements.push({
        Sid: "DenyMembersDeleteOrUnlock",
        Effect: "Deny",
        Principal: "*",
        Action: [
          "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
          "s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
          "s3:PutBucketVersioning", "s3:PutReplicationConfiguration", "s3:PutEncryptionConfiguration", "s3:DeleteBucket",
        ],
        Resource: [bucketArn, objects],
        Condition: { ArnEquals: { "aws:PrincipalArn": memberArns } },
      });
      this.members.forEach((m, i) => {
        statements.push({
          Sid: `ConfineMember${i}`,
          Effect: "Deny",
          Principal: "*",
          Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
          NotResource: `${bucketArn}/${SNAPSHOT_PREFIX}/${m.prefix}/*`,
          Condition: { ArnEquals: { "aws:PrincipalArn": m.roleArn } },
        });
      });
    }
    return { Version: "2012-10-17", Statement: statements };
  }

  private replicate(name: string, clusterName: string, destination: string, account: string, replicaKey: string, versioning: S3BucketVersioningA, tags: ClusterTags): void {
    const roleName = deriveName([clusterName, "etcd-backup-replication"], NAME_RULES.iamRole);
    const role = new IamRole(this, "ReplicationRole", {
      name: roleName,
      description: `Replicates ${clusterName}'s etcd snapshots to ${destination}`,
      assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "s3.amazonaws.com" }, Action: "sts:AssumeRole" }] }),
      tags: tags.of(roleName),
    });
    new IamRolePolicy(this, "ReplicationPolicy", {
      name: "replicate",
      role: role.name,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"], Resource: this.bucket.arn },
          { Effect: "Allow", Action: ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging", "s3:GetObjectRetention", "s3:GetObjectLegalHold"], Resource: `${this.bucket.arn}/*` },
          { Effect: "Allow", Action: ["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"], Resource: `${destination}/*` },
          { Effect: "Allow", Action: ["kms:Decrypt"], Resource: this.keyArn, Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } } },
          { Effect: "Allow", Action: ["kms:Encrypt", "kms:GenerateDataKey"], Resource: replicaKey, Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } } },
        ],
      }),
    });
    new (s3BucketReplicationConfiguration())(this, "Replication", {
      bucket: name,
      role: role.arn,
      dependsOn: [versioning],
      rule: [
        {
          id: "snapshots-to-other-account",
          status: "Enabled",
          filter: { prefix: `${SNAPSHOT_PREFIX}/` },
          deleteMarkerReplication: { status: "Disabled" },
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
          destination: { bucket: destination, account, accessControlTranslation: { owner: "Destination" }, encryptionConfiguration: { replicaKmsKeyId: replicaKey } },
        },
      ],
    });
  }

  /**
   * Lets the nodes of `role` write snapshots to their own prefix, `snapshots/<role's nodeRole>/`
   * (an etcd member's slot name; `apiserver` for stacked members, which share one role and so one
   * prefix), read those back, and list snapshot names. They cannot read other members' snapshots
   * (a bucket policy statement denies it even if other grants appear), delete anything or touch the
   * lock. The backup script derives the same prefix: `SLOT_NAME` when the node has a fixed slot, else
   * `NODE_ROLE`.
   */
  public grantReadWrite(role: NodeRole): void {
    const prefix = role.nodeRoleName;
    this.members.push({ roleArn: role.role.arn, prefix });
    const own = `${this.bucket.arn}/${SNAPSHOT_PREFIX}/${prefix}/*`;
    role.addStatement({ sid: "WriteEtcdSnapshots", actions: ["s3:PutObject", "s3:GetObject"], resources: [own] });
    role.addStatement({ sid: "ListEtcdSnapshots", actions: ["s3:ListBucket"], resources: [this.bucket.arn], condition: { StringLike: { "s3:prefix": [`${SNAPSHOT_PREFIX}/*`] } } });
    // The backup script reads the key to name from the bucket's default encryption.
    role.addStatement({ sid: "ReadBackupEncryption", actions: ["s3:GetEncryptionConfiguration"], resources: [this.bucket.arn] });
    role.addStatement({
      sid: "EncryptEtcdSnapshots",
      actions: ["kms:GenerateDataKey", "kms:Decrypt"],
      resources: [this.keyArn],
      condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
    });
  }

  /**
   * Statements for whoever restores (an operator role, not a node): read every snapshot and its
   * versions, and decrypt through S3. Attach them to the restore role; run `ha-etcd-restore` with its
   * credentials, or fetch the snapshot with them and pass its path.
   */
  public restoreStatements(): PolicyStatement[] {
    return [
      { sid: "ReadEtcdSnapshots", actions: ["s3:GetObject", "s3:GetObjectVersion"], resources: [`${this.bucket.arn}/${SNAPSHOT_PREFIX}/*`] },
      { sid: "ListEtcdSnapshots", actions: ["s3:ListBucket", "s3:ListBucketVersions"], resources: [this.bucket.arn] },
      { sid: "DecryptEtcdSnapshots", actions: ["kms:Decrypt"], resources: [this.keyArn], condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } } },
    ];
  }
}

/** Key prefix every snapshot lives under (`snapshots/<member>/<cluster>-<time>.db`). */
export const SNAPSHOT_PREFIX = "snapshots";

/** `<cluster>-etcd-backups-<8 hex of the cluster name>`, within 63 characters. */
export function defaultBucketName(clusterName: string): string {
  return deriveName([clusterName, "etcd-backups", stableHash(`etcd-backups/${clusterName}`)], NAME_RULES.s3Bucket);
}
