import { Construct } from "constructs";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import type { NodeRole } from "../../compute/node-role";
import { ConfigError } from "../../errors";
import { NAME_RULES, deriveName, fitsRule, stableHash } from "../../names";
import type { IEncryptionKey } from "../../security/encryption-key";
import { ClusterTags } from "../../tags";
import { checkClusterName, checkInteger, isUnresolved } from "../../validate";
import { BootExtras, NodeBootInput } from "../node-user-data";
import { checkBundleKeyPrefix, renderNodeBundle } from "./node-bundle";

/** Tag key and value marking an S3 object as a node bootstrap bundle (the policy pack looks into them). */
export const BUNDLE_PURPOSE_TAG = "ha-control-plane/purpose";
/** See {@link BUNDLE_PURPOSE_TAG}. */
export const BUNDLE_PURPOSE = "bootstrap-bundle";

/** What a node group asks of {@link IBootstrapBundles.addNodeBundle}. */
export interface NodeBundleRequest {
  /** Node role: part of the object key and of the grant (`apiserver`, `etcd-0`). */
  readonly role: string;
  /** The node's boot input. */
  readonly boot: NodeBootInput;
  /** The role's boot extras. */
  readonly extras: BootExtras;
  /** The instance role of the nodes: gets read access to the role's bundles. */
  readonly grantee: NodeRole;
}

/** A role's bundle as declared. */
export interface NodeBundleRef {
  /** The user data to put in the role's launch template. */
  readonly userData: string;
  /** The bundle object (launch templates depend on it, so it exists before nodes boot from them). */
  readonly object: S3Object;
  /** Object key. */
  readonly key: string;
  /** SHA-256 of the bundle, as in the user data. */
  readonly sha256: string;
}

/** Where node groups put their bootstrap bundles (see {@link BootstrapBundles}). */
export interface IBootstrapBundles {
  /** Name of the S3 bucket the bundles are stored in (a literal: it goes into user data). */
  readonly bucketName: string;
  /** Renders the role's bundle, declares its object, grants the role read access. */
  addNodeBundle(request: NodeBundleRequest): NodeBundleRef;
}

/** Props of {@link BootstrapBundles}. */
export interface BootstrapBundlesProps {
  /** The cluster's name: the default bucket name is derived from it. */
  readonly clusterName: string;
  /** Key the bundles are encrypted with (SSE-KMS); nodes decrypt them through S3 only. */
  readonly encryptionKey: IEncryptionKey;
  /**
   * Name of the bucket to create (global: must be unique across AWS). Not with `existingBucketName`.
   * @default - `<cluster>-bootstrap-<hash of the cluster name>`
   */
  readonly bucketName?: string;
  /**
   * An existing bucket to put the bundles in, under `keyPrefix`: no bucket is created, and its
   * versioning, encryption, public access and TLS policy are yours to keep (each object is still
   * encrypted with `encryptionKey`).
   * @default - a new bucket
   */
  readonly existingBucketName?: string;
  /**
   * Key prefix of every bundle: empty or ending in `/`.
   * @default ""
   */
  readonly keyPrefix?: string;
  /**
   * Days an old bundle version is kept after a newer one replaced it (new bucket only).
   * @default 30
   */
  readonly noncurrentVersionRetentionDays?: number;
  /**
   * AWS partition of the bucket ARN (for an existing bucket).
   * @default "aws"
   */
  readonly partition?: string;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The bootstrap bundles of a cluster's node roles. EC2 user data is limited to 16 KB; the scripts,
 * units and configuration that are the same for every node of a role go into one S3 object per
 * role, `<prefix>bundles/<role>/<sha256>.tar.gz`, and the user data keeps `node.env`, the bundle's
 * bucket, key and SHA-256, and the fetch step (`ha-fetch-bundle`), which checks the SHA-256 before
 * extracting anything. A changed bundle has a new key, so the user data and the launch template
 * change with it.
 *
 * The bucket (one per cluster unless an existing one is given): versioning, SSE-KMS with the
 * cluster key (bucket key on), all public access blocked, bucket-owner-enforced ownership, a policy
 * refusing plain HTTP, old versions expiring. Not protected from destroy: every bundle is rendered
 * again from the code on the next deploy.
 */
export class BootstrapBundles extends Construct implements IBootstrapBundles {
  /** The bucket (absent with `existingBucketName`). */
  public readonly bucket?: S3Bucket;
  public readonly bucketName: string;
  /** Key prefix of every bundle. */
  public readonly keyPrefix: string;
  private readonly bucketArn: string;
  private readonly keyArn: string;
  private readonly tags: ClusterTags;
  private readonly dependables: Construct[] = [];

  constructor(scope: Construct, id: string, props: BootstrapBundlesProps) {
    super(scope, id);
    checkClusterName("clusterName", props.clusterName);
    if (props.bucketName !== undefined && props.existingBucketName !== undefined) {
      throw new ConfigError("bootstrapBundleBucketName", props.bucketName, "names a bucket to create, but existingBootstrapBundleBucketName names an existing one", "pass one of them");
    }
    const keyPrefix = props.keyPrefix ?? "";
    checkBundleKeyPrefix("bootstrapBundleKeyPrefix", keyPrefix);
    const retention = props.noncurrentVersionRetentionDays ?? 30;
    checkInteger("bootstrapBundleNoncurrentVersionRetentionDays", retention, 1, 3650, "keep old bundles at least a day (30 is the default)");
    const existing = props.existingBucketName !== undefined;
    const name = props.existingBucketName ?? props.bucketName ?? defaultBundleBucketName(props.clusterName);
    if (!isUnresolved(name) && (name.length < 3 || !fitsRule(name, NAME_RULES.s3Bucket) || name.includes("..") || /^\d+\.\d+\.\d+\.\d+$/.test(name))) {
      throw new ConfigError(
        existing ? "existingBootstrapBundleBucketName" : "bootstrapBundleBucketName",
        name,
        "is not a valid S3 bucket name (3–63 lower-case letters, digits and '-', starting and ending with a letter or digit)",
        "pick another name",
      );
    }
    this.bucketName = name;
    this.keyPrefix = keyPrefix;
    this.keyArn = props.encryptionKey.keyArn;
    this.tags = new ClusterTags(props.clusterName, props.tags);
    if (existing) {
      this.bucketArn = `arn:${props.partition ?? "aws"}:s3:::${name}`;
      return;
    }

    const bucket = new S3Bucket(this, "Bucket", { bucket: name, tags: this.tags.of(name) });
    this.bucket = bucket;
    this.bucketArn = bucket.arn;
    const versioning = new S3BucketVersioningA(this, "Versioning", { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } });
    const encryption = new S3BucketServerSideEncryptionConfigurationA(this, "Encryption", {
      bucket: bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.encryptionKey.keyArn }, bucketKeyEnabled: true }],
    });
    const publicBlock = new S3BucketPublicAccessBlock(this, "PublicAccessBlock", {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "Ownership", { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } });
    const policy = new S3BucketPolicy(this, "Policy", {
      bucket: bucket.id,
      dependsOn: [publicBlock],
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyPlainHttp",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [bucket.arn, `${bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
    });
    new S3BucketLifecycleConfiguration(this, "Lifecycle", {
      bucket: bucket.id,
      dependsOn: [versioning],
      rule: [
        {
          id: "expire-old-bundles",
          status: "Enabled",
          filter: [{ prefix: `${keyPrefix}bundles/` }],
          noncurrentVersionExpiration: [{ noncurrentDays: retention }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        },
      ],
    });
    // Objects go in once the bucket is private, encrypted and versioned.
    this.dependables.push(versioning, encryption, publicBlock, policy);
  }

  public addNodeBundle(request: NodeBundleRequest): NodeBundleRef {
    const bundle = renderNodeBundle(request.boot, request.extras, { bucketName: this.bucketName, keyPrefix: this.keyPrefix, role: request.role });
    const object = new S3Object(this, `Bundle-${request.role}`, {
      bucket: this.bucket?.id ?? this.bucketName,
      key: bundle.key,
      contentBase64: Buffer.from(bundle.archive.bytes).toString("base64"),
      contentType: "application/gzip",
      serverSideEncryption: "aws:kms",
      kmsKeyId: this.keyArn,
      bucketKeyEnabled: true,
      tags: { ...this.tags.of(`${request.role}-bootstrap-bundle`, { role: request.role }), [BUNDLE_PURPOSE_TAG]: BUNDLE_PURPOSE },
      dependsOn: this.dependables as S3BucketPolicy[],
      // The new bundle exists before the old one goes: a launch template never names a missing key.
      lifecycle: { createBeforeDestroy: true },
    });
    request.grantee.addStatement({ sid: "ReadBootstrapBundle", actions: ["s3:GetObject"], resources: [`${this.bucketArn}/${bundle.rolePrefix}*`] });
    request.grantee.addStatement({
      sid: "DecryptBootstrapBundle",
      actions: ["kms:Decrypt"],
      resources: [this.keyArn],
      condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
    });
    return { userData: bundle.userData, object, key: bundle.key, sha256: bundle.archive.sha256 };
  }
}

/** `<cluster>-bootstrap-<8 hex of the cluster name>`, within 63 characters. */
export function defaultBundleBucketName(clusterName: string): string {
  return deriveName([clusterName, "bootstrap", stableHash(`bootstrap-bundles/${clusterName}`)], NAME_RULES.s3Bucket);
}
