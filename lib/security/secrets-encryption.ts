import { Construct } from "constructs";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamSessionContext } from "@cdktf/provider-aws/lib/data-aws-iam-session-context";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretPolicy } from "@cdktf/provider-aws/lib/secretsmanager-secret-policy";
import { NodeRole } from "../compute/node-role";
import { lazyJsonString } from "../core";
import { ConfigError } from "../errors";
import { isUnresolved } from "../validate";
import { NAME_RULES, deriveName } from "../names";
import { ClusterTags } from "../tags";
import { IEncryptionKey } from "./encryption-key";

/** Props of {@link SecretsEncryptionKey}. */
export interface SecretsEncryptionKeyProps {
  /** The cluster's name: the secret is named `<clusterName>/control-plane/encryption-key`. */
  readonly clusterName: string;
  /** KMS key encrypting the secret. */
  readonly encryptionKey: IEncryptionKey;
  /**
   * Whether the first API server has written the key. While `false`, API server roles may call
   * `PutSecretValue` (Secrets Manager has no condition key for "the secret has no value yet", so
   * IAM cannot limit the grant to the first write); set it to `true` in the deploy after the
   * cluster's first boot, which removes the write grant and denies writes to the nodes outright.
   * Rotation is then an operator's job (the deployer's), never a node's.
   * @default false
   */
  readonly initialized?: boolean;
  /**
   * Principals that may manage the secret (write versions, move labels, change its policy, delete
   * it) besides the account root user, as `aws:PrincipalArn` holds them (a role's ARN, not a session).
   * @default - the principal applying the stack (its role, from the caller's session)
   */
  readonly adminPrincipalArns?: readonly string[];
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Reading a secret's metadata only: what auditors and AWS Config may still do. */
const METADATA_ACTIONS = ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecretVersionIds"];
/** Actions that would lose the key or change who may touch it. */
const DESTRUCTIVE_ACTIONS = [
  "secretsmanager:PutResourcePolicy",
  "secretsmanager:DeleteResourcePolicy",
  "secretsmanager:UpdateSecret",
  "secretsmanager:UpdateSecretVersionStage",
  "secretsmanager:RotateSecret",
  "secretsmanager:CancelRotateSecret",
  "secretsmanager:RemoveRegionsFromReplication",
  "secretsmanager:StopReplicationToReplica",
  "secretsmanager:UntagResource",
  "secretsmanager:TagResource",
];
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(root|role\/[\w+=,.@/-]+|user\/[\w+=,.@/-]+)$/;

/**
 * The key kube-apiserver encrypts Secrets at rest with (`EncryptionConfiguration`, secretbox).
 *
 * Terraform creates the Secrets Manager secret without a value; the first API server to boot
 * writes 32 random bytes with a fixed idempotency token (a second writer with another value is
 * refused) and every API server reads the same key. The key therefore never passes through
 * Terraform state or user data. Earlier keys stay readable as versions (`AWSPREVIOUS`), and the
 * servers list them after the current key as decrypt-only.
 *
 * Loss and overwrite: deletion waits 30 days; the resource policy denies deleting the secret,
 * moving its labels or changing its policy to everyone but the admins (default: the deployer) and
 * the account root user, and writing a value to everyone but the admins and - until `initialized`
 * - the API server roles.
 */
export class SecretsEncryptionKey extends Construct {
  /** The Secrets Manager secret, created without a value (the first API server writes it). */
  public readonly secret: SecretsmanagerSecret;
  /** Its name (known at synth time, for user data). */
  public readonly secretName: string;
  /** Whether the key has been written (the API servers lost their write grant). */
  public readonly initialized: boolean;
  /** The secret's resource policy (JSON, with Terraform references). */
  public readonly policyJson: string;
  private readonly keyArn: string;
  private readonly readerRoleArns: string[] = [];

  constructor(scope: Construct, id: string, props: SecretsEncryptionKeyProps) {
    super(scope, id);
    if (props.initialized !== undefined && typeof props.initialized !== "boolean") {
      throw new ConfigError("initialized", props.initialized, "must be true or false", "set true in the deploy after the first API server wrote the key");
    }
    (props.adminPrincipalArns ?? []).forEach((arn, i) => {
      if (!isUnresolved(arn) && (typeof arn !== "string" || !PRINCIPAL_ARN.test(arn))) {
        throw new ConfigError(`adminPrincipalArns[${i}]`, arn, "is not an IAM role, user or account-root ARN (an assumed-role session ARN never matches aws:PrincipalArn)", 'pass "arn:aws:iam::<account>:role/<name>"');
      }
    });
    this.initialized = props.initialized ?? false;
    this.secretName = deriveName([`${props.clusterName}/control-plane/encryption-key`], NAME_RULES.secret);
    this.keyArn = props.encryptionKey.keyArn;
    this.secret = new SecretsmanagerSecret(this, "Secret", {
      name: this.secretName,
      description: `Key encrypting Kubernetes Secrets at rest in ${props.clusterName}; written once by the first API server`,
      kmsKeyId: props.encryptionKey.keyArn,
      recoveryWindowInDays: 30,
      tags: new ClusterTags(props.clusterName, props.tags).of(this.secretName),
    });
    // Without this key no Secret in etcd (or in any snapshot) can be decrypted: never destroyed by a plan.
    this.secret.addOverride("lifecycle.prevent_destroy", true);
    const caller = new DataAwsCallerIdentity(this, "Deployer");
    const partition = new DataAwsPartition(this, "Partition");
    const admins = props.adminPrincipalArns !== undefined ? [...props.adminPrincipalArns] : [new DataAwsIamSessionContext(this, "DeployerSession", { arn: caller.arn }).issuerArn];
    const root = `arn:${partition.partition}:iam::${caller.accountId}:root`;
    this.policyJson = lazyJsonString(() => this.policy(admins, root));
    new SecretsmanagerSecretPolicy(this, "Policy", { secretArn: this.secret.arn, blockPublicPolicy: true, policy: this.policyJson });
  }

  private policy(admins: readonly string[], root: string): object {
    const readers = this.readerRoleArns;
    const nodeActions = ["secretsmanager:GetSecretValue", ...(this.initialized ? [] : ["secretsmanager:PutSecretValue"]), ...METADATA_ACTIONS];
    return {
      Version: "2012-10-17",
      Statement: [
        // Explicit denies: no identity policy in the account can grant more than this.
        { Sid: "OnlyApiServersAndAdmins", Effect: "Deny", Principal: "*", NotAction: METADATA_ACTIONS, Resource: "*", Condition: { ArnNotEquals: { "aws:PrincipalArn": [...readers, ...admins, root] } } },
        // Not even the root user deletes it in one step: it must first change this policy (visibly).
        { Sid: "DeleteOnlyByAdmins", Effect: "Deny", Principal: "*", Action: "secretsmanager:DeleteSecret", Resource: "*", Condition: { ArnNotEquals: { "aws:PrincipalArn": admins } } },
        { Sid: "NoLossOrReconfigurationButAdmins", Effect: "Deny", Principal: "*", Action: DESTRUCTIVE_ACTIONS, Resource: "*", Condition: { ArnNotEquals: { "aws:PrincipalArn": [...admins, root] } } },
        ...(readers.length > 0
          ? [{ Sid: "ApiServersOnlyReadAndFirstWrite", Effect: "Deny", Principal: "*", NotAction: nodeActions, Resource: "*", Condition: { ArnEquals: { "aws:PrincipalArn": readers } } }]
          : []),
      ],
    };
  }

  /** Lets `role` read the key (every version), and - until `initialized` - write the first one. */
  public grantInitialize(role: NodeRole): void {
    role.grantSecretRead(this.secret.arn, this.keyArn);
    this.readerRoleArns.push(role.role.arn);
    if (this.initialized) return;
    role.addStatement({ sid: "InitializeEncryptionKey", actions: ["secretsmanager:PutSecretValue"], resources: [this.secret.arn] });
    role.addStatement({
      sid: "EncryptEncryptionKey",
      actions: ["kms:GenerateDataKey"],
      resources: [this.keyArn],
      condition: { StringLike: { "kms:ViaService": "secretsmanager.*.amazonaws.com" } },
    });
  }
}
