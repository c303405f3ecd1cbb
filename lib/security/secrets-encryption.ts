import { Construct } from "constructs";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { NodeRole } from "../compute/node-role";
import { NAME_RULES, deriveName } from "../names";
import { ClusterTags } from "../tags";
import { IEncryptionKey } from "./encryption-key";

/** Props of {@link SecretsEncryptionKey}. */
export interface SecretsEncryptionKeyProps {
  /** Cluster name. */
  readonly clusterName: string;
  /** KMS key encrypting the secret. */
  readonly encryptionKey: IEncryptionKey;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The key kube-apiserver encrypts Secrets at rest with (`EncryptionConfiguration`, secretbox).
 *
 * Terraform creates the Secrets Manager secret without a value; the first API server to boot
 * writes 32 random bytes with a fixed idempotency token (a second writer with another value is
 * refused) and every API server reads the same key. The key therefore never passes through
 * Terraform state or user data.
 */
export class SecretsEncryptionKey extends Construct {
  /** The secret. */
  public readonly secret: SecretsmanagerSecret;
  /** Its name (known at synth time, for user data). */
  public readonly secretName: string;
  private readonly keyArn: string;

  constructor(scope: Construct, id: string, props: SecretsEncryptionKeyProps) {
    super(scope, id);
    this.secretName = deriveName([`${props.clusterName}/control-plane/encryption-key`], NAME_RULES.secret);
    this.keyArn = props.encryptionKey.keyArn;
    this.secret = new SecretsmanagerSecret(this, "Secret", {
      name: this.secretName,
      description: `Key encrypting Kubernetes Secrets at rest in ${props.clusterName}; written once by the first API server`,
      kmsKeyId: props.encryptionKey.keyArn,
      recoveryWindowInDays: 30,
      tags: new ClusterTags(props.clusterName, props.tags).of(this.secretName),
    });
  }

  /** Lets `role` read the key, and write it once (first boot). */
  public grantInitialize(role: NodeRole): void {
    role.grantSecretRead(this.secret.arn, this.keyArn);
    role.addStatement({ sid: "InitializeEncryptionKey", actions: ["secretsmanager:PutSecretValue"], resources: [this.secret.arn] });
    role.addStatement({
      sid: "EncryptEncryptionKey",
      actions: ["kms:GenerateDataKey"],
      resources: [this.keyArn],
      condition: { StringLike: { "kms:ViaService": "secretsmanager.*.amazonaws.com" } },
    });
  }
}
