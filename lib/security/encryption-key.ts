import { Construct } from "constructs";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName } from "../names";
import { ClusterTags, RESERVED_TAG_COUNT } from "../tags";
import { checkClusterName, checkTags, isUnresolved } from "../validate";

/** A KMS key the control plane encrypts volumes (and later secrets) with. */
export interface IEncryptionKey {
  /** The key ARN. */
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
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * A customer-managed KMS key with yearly rotation and an alias `alias/<cluster>-control-plane`.
 *
 * The key keeps AWS's default key policy (the account administers it through IAM); the Auto Scaling
 * service-linked role is given a grant by {@link AutoScalingServiceRole} so instances can launch
 * with volumes encrypted by it.
 */
export class ClusterEncryptionKey extends Construct implements IEncryptionKey {
  /** Wraps an existing key ARN. */
  public static fromKeyArn(keyArn: string): IEncryptionKey {
    if (!isUnresolved(keyArn) && !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/mrk-[0-9a-f]{32}$/.test(keyArn)) {
      throw new ConfigError("kmsKeyArn", keyArn, "is not a KMS key ARN", 'pass "arn:aws:kms:<region>:<account>:key/<key-id>" (an alias ARN is not accepted by EBS grants)');
    }
    return { keyArn };
  }

  /** The key. */
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
    this.key = new KmsKey(this, "Key", {
      description: `Control plane of ${props.clusterName}: EBS volumes and node secrets`,
      enableKeyRotation: true,
      deletionWindowInDays: window,
      tags: tags.of(`${props.clusterName}-control-plane`),
    });
    new KmsAlias(this, "Alias", {
      name: `alias/${deriveName([props.clusterName, "control-plane"], NAME_RULES.kmsAlias)}`,
      targetKeyId: this.key.keyId,
    });
    this.keyArn = this.key.arn;
  }
}
