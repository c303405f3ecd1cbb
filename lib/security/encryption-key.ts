import { Construct } from "constructs";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { lazyJsonString } from "../core";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName } from "../names";
import { ClusterTags, RESERVED_TAG_COUNT } from "../tags";
import { checkClusterName, checkTags, isUnresolved } from "../validate";

/** Prefix of the cluster's CloudWatch log group names (the cluster key's policy lets CloudWatch Logs use it for them). */
export function clusterLogGroupPrefix(clusterName: string): string {
  return `/ha-control-plane/${clusterName}/`;
}

/** A KMS key the control plane encrypts volumes (and later secrets) with. */
export interface IEncryptionKey {
  /** ARN of the KMS key (`arn:aws:kms:<region>:<account>:key/<id>`) the control plane encrypts EBS volumes and secrets with. */
  readonly keyArn: string;
}

/** Props of {@link ClusterEncryptionKey}. */
export interface ClusterEncryptionKeyProps {
  /** Cluster name (DNS label). */
  readonly clusterName: string;
  /**
   * Days before a deleted key is gone for good (7–30).
   * @default 30
   */
  readonly deletionWindowDays?: number;
  /**
   * Refuse to destroy the key (`prevent_destroy`): every etcd snapshot, the secrets-encryption key
   * and the encrypted volumes are unreadable without it. Switch it off only to tear a cluster down
   * on purpose (the key is then scheduled for deletion after `deletionWindowDays`).
   * @default true
   */
  readonly preventDestroy?: boolean;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * A customer-managed KMS key with yearly rotation and an alias `alias/<cluster>-control-plane`.
 *
 * The key policy is AWS's default (the account administers the key through IAM) plus what
 * CloudWatch Logs needs to encrypt the cluster's own log groups (`/ha-control-plane/<cluster>/…`,
 * the audit log group): the logs service principal of the region, only with the encryption context
 * of those log groups. The Auto Scaling service-linked role is given a grant by
 * {@link AutoScalingServiceRole} so instances can launch with volumes encrypted by it.
 */
export class ClusterEncryptionKey extends Construct implements IEncryptionKey {
  /** Wraps an existing key ARN. */
  public static fromKeyArn(keyArn: string): IEncryptionKey {
    if (!isUnresolved(keyArn) && !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/mrk-[0-9a-f]{32}$/.test(keyArn)) {
      throw new ConfigError("kmsKeyArn", keyArn, "is not a KMS key ARN", 'pass "arn:aws:kms:<region>:<account>:key/<key-id>" (an alias ARN is not accepted by EBS grants)');
    }
    return { keyArn };
  }

  /** The customer-managed `aws_kms_key` (rotation enabled) this construct created. */
  public readonly key: KmsKey;
  public readonly keyArn: string;

  constructor(scope: Construct, id: string, props: ClusterEncryptionKeyProps) {
    super(scope, id);
    checkClusterName("clusterName", props.clusterName);
    checkTags("tags", props.tags, RESERVED_TAG_COUNT);
    const window = props.deletionWindowDays ?? 30;
    if (!Number.isInteger(window) || window < 7 || window > 30) {
      throw new ConfigError("deletionWindowDays", window, "KMS deletion windows are 7 to 30 days", "use 30");
    }
    const tags = new ClusterTags(props.clusterName, props.tags);
    const account = new DataAwsCallerIdentity(this, "Account").accountId;
    const partition = new DataAwsPartition(this, "Partition").partition;
    const region = new DataAwsRegion(this, "Region").name;
    this.key = new KmsKey(this, "Key", {
      policy: lazyJsonString(() => ({
        Version: "2012-10-17",
        Statement: [
          { Sid: "EnableIamPolicies", Effect: "Allow", Principal: { AWS: `arn:${partition}:iam::${account}:root` }, Action: "kms:*", Resource: "*" },
          {
            Sid: "ClusterLogGroups",
            Effect: "Allow",
            Principal: { Service: `logs.${region}.amazonaws.com` },
            Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            Resource: "*",
            Condition: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:${partition}:logs:${region}:${account}:log-group:${clusterLogGroupPrefix(props.clusterName)}*` } },
          },
        ],
      })),
      description: `Control plane of ${props.clusterName}: EBS volumes and node secrets`,
      enableKeyRotation: true,
      deletionWindowInDays: window,
      tags: tags.of(`${props.clusterName}-control-plane`),
    });
    if (props.preventDestroy ?? true) this.key.addOverride("lifecycle.prevent_destroy", true);
    new KmsAlias(this, "Alias", {
      name: `alias/${deriveName([props.clusterName, "control-plane"], NAME_RULES.kmsAlias)}`,
      targetKeyId: this.key.keyId,
    });
    this.keyArn = this.key.arn;
  }
}
