import { Construct } from "constructs";
import { IamServiceLinkedRole } from "@cdktf/provider-aws/lib/iam-service-linked-role";
import { KmsGrant } from "@cdktf/provider-aws/lib/kms-grant";
import { stableHash } from "../names";
import { IEncryptionKey } from "../security/encryption-key";
import { ClusterTags } from "../tags";

/** Props of {@link AutoScalingServiceRole}. */
export interface AutoScalingServiceRoleProps {
  /** Cluster name (DNS label). */
  readonly clusterName: string;
  /** Key the groups' volumes are encrypted with. */
  readonly encryptionKey: IEncryptionKey;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * A per-cluster Auto Scaling service-linked role with a KMS grant on the cluster key.
 *
 * EC2 Auto Scaling launches instances as its service-linked role; with a customer-managed key the
 * role must be allowed to use it or launches fail with `Client.InternalError`. A per-cluster role
 * (`AWSServiceRoleForAutoScaling_<suffix>`) has an ARN this stack knows, so the grant needs neither
 * the account id nor a role created elsewhere.
 */
export class AutoScalingServiceRole extends Construct {
  /** ARN to pass as `service_linked_role_arn` to the groups. */
  public readonly roleArn: string;

  constructor(scope: Construct, id: string, props: AutoScalingServiceRoleProps) {
    super(scope, id);
    // The suffix shares the role name's 64 characters with "AWSServiceRoleForAutoScaling_".
    const suffix = props.clusterName.length <= 26 ? props.clusterName : `${props.clusterName.slice(0, 17)}-${stableHash(props.clusterName)}`;
    const role = new IamServiceLinkedRole(this, "Role", {
      awsServiceName: "autoscaling.amazonaws.com",
      customSuffix: suffix,
      description: `Launches control-plane instances of ${props.clusterName}`,
      tags: new ClusterTags(props.clusterName, props.tags).of(`${props.clusterName}-autoscaling`),
    });
    new KmsGrant(this, "KeyGrant", {
      name: `${suffix}-autoscaling`,
      keyId: props.encryptionKey.keyArn,
      granteePrincipal: role.arn,
      operations: [
        "Encrypt",
        "Decrypt",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "DescribeKey",
        "CreateGrant",
      ],
    });
    this.roleArn = role.arn;
  }
}
