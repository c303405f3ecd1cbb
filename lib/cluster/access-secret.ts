import { Construct } from "constructs";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamSessionContext } from "@cdktf/provider-aws/lib/data-aws-iam-session-context";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretPolicy } from "@cdktf/provider-aws/lib/secretsmanager-secret-policy";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { Fn, TerraformStack } from "../core";
import { HaControlPlane } from "../control-plane";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName } from "../names";
import { ClusterTags } from "../tags";
import { isUnresolved } from "../validate";
import { ClientCredentials, SuperAdminCertificate } from "./access";

/** Which identity the cluster-objects stack's kubernetes provider authenticates as. */
export enum ProviderIdentity {
  /**
   * The `system:masters` super-admin certificate: works on a fresh cluster, where nothing is bound
   * yet (the only identity that does). RBAC cannot revoke it: use it for the first deploy only.
   */
  SUPER_ADMIN = "SUPER_ADMIN",
  /**
   * kubernetes-admin (`kubeadm:cluster-admins`): least privilege (revocable by RBAC), but only once
   * the `kubeadm:cluster-admins` binding exists — i.e. from the second deploy on.
   */
  ADMIN = "ADMIN",
}

/** Keys of the JSON document the access secret holds. */
export const ACCESS_SECRET_KEYS = {
  /** `api_url`: the API URL the cluster-objects stack's kubernetes provider connects to (`https://host:port`). */
  apiUrl: "api_url",
  /** `internal_api_url`: the internal load balancer's URL, written into bootstrap objects nodes join through. */
  internalApiUrl: "internal_api_url",
  /** `ca_cert_pem`: the Kubernetes CA certificate (PEM) the provider verifies the API server with. */
  caCertPem: "ca_cert_pem",
  /** `client_cert_pem`: the client certificate (PEM) of the identity in `identity`. */
  clientCertPem: "client_cert_pem",
  /** `client_key_pem`: that certificate's private key (PEM). */
  clientKeyPem: "client_key_pem",
  /** `identity`: which {@link ProviderIdentity} the credentials belong to (`SUPER_ADMIN` or `ADMIN`). */
  identity: "identity",
} as const;

/**
 * Where the cluster-objects stack reads its endpoint, CA and client credentials: a Secrets Manager
 * secret it looks up by name (a literal, so no cross-stack reference and no `terraform_remote_state`).
 */
export interface IClusterAccessSecret {
  /** Secret name (a literal). */
  readonly secretName: string;
  /** Region of the secret (a literal). */
  readonly region: string;
}

/** Props of {@link ClusterAccessSecret}. */
export interface ClusterAccessSecretProps {
  /** The control plane; must be in the same stack. */
  readonly controlPlane: HaControlPlane;
  /** AWS region of the control plane's stack (a literal: the cluster-objects stack configures its AWS provider with it). */
  readonly region: string;
  /**
   * ARN of the IAM role that applies the cluster-objects stack (`arn:aws:iam::<account>:role/<name>`):
   * the only principal besides this stack's deployer the secret's policy lets read it. It needs
   * `kms:Decrypt` on the cluster key in its own policy (the key delegates to IAM).
   */
  readonly readerRoleArn: string;
  /**
   * Identity written into the secret. `SUPER_ADMIN` for the first deploy (nothing is bound yet);
   * `ADMIN` from the second deploy on, which also removes the super-admin certificate and key from
   * this stack's state and the secret.
   * @default ProviderIdentity.SUPER_ADMIN
   */
  readonly identity?: ProviderIdentity;
  /**
   * ARN of the principal that applies this stack (it manages the secret and Terraform reads the
   * version back on refresh). An assumed-role session is named by its role ARN.
   * @default - the principal running Terraform, from `aws_caller_identity` and `aws_iam_session_context`
   */
  readonly deployerArn?: string;
  /**
   * Validity of the super-admin certificate in hours (only with `SUPER_ADMIN`).
   * @default 24
   */
  readonly superAdminValidityHours?: number;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam::\d{12}:(role|user)\/[\w+=,.@/-]{1,512}|iam::\d{12}:root)$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

/** Reading a secret's metadata only (not its value): what auditors and AWS Config may still do. */
const METADATA_ACTIONS = ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecretVersionIds"];

/**
 * Delivers the cluster-objects stack's provider credentials (and the endpoint and CA) through a
 * Secrets Manager secret instead of cdktf cross-stack outputs.
 *
 * Why: a `terraform_remote_state` read gives whoever plans stack 2 the whole of stack 1's state
 * (every CA key), and the values read land in stack 2's state as outputs of the remote state. Here
 * stack 2 needs no access to stack 1's state at all: it reads this one secret by name with
 * `aws_secretsmanager_secret_version`. The secret is encrypted with the cluster key and its policy
 * denies reading the value to every principal but `readerRoleArn` and this stack's deployer (whose
 * Terraform reads the version back on refresh), lets the reader do nothing else, and leaves changing
 * it (value, policy, deletion) to the deployer and the account root user (break glass, which may
 * not read it).
 *
 * The credential is the `system:masters` super-admin for the first deploy, valid for
 * `superAdminValidityHours` (default 24) and re-issued by a deploy of this stack after its first
 * hour; with `identity: ProviderIdentity.ADMIN` (the second deploy) it is kubernetes-admin, whose
 * rights RBAC can revoke, and the super-admin certificate and key are destroyed.
 *
 * What remains: the value read is kept in stack 2's state (Terraform records data sources), so
 * stack 2's state must be as private as the reader role; with `ADMIN` that is an RBAC-revocable
 * identity.
 */
export class ClusterAccessSecret extends Construct implements IClusterAccessSecret {
  /** The Secrets Manager secret (KMS-encrypted, readable only by the reader role and the deployer) holding the JSON document. */
  public readonly secret: SecretsmanagerSecret;
  public readonly secretName: string;
  public readonly region: string;
  /** The identity the secret carries. */
  public readonly identity: ProviderIdentity;
  /** The super-admin certificate, with `SUPER_ADMIN` only. */
  public readonly superAdmin?: SuperAdminCertificate;
  /** The resource policy of the secret (JSON, with Terraform references). */
  public readonly policyJson: string;

  constructor(scope: Construct, id: string, props: ClusterAccessSecretProps) {
    super(scope, id);
    const cp = props.controlPlane;
    if (TerraformStack.of(this) !== TerraformStack.of(cp)) {
      throw new ConfigError("scope", this.node.path, `is not in the stack of the control plane ${cp.node.path}: the secret's value would cross stacks through terraform_remote_state`, "create the ClusterAccessSecret in the control plane's stack");
    }
    if (typeof props.region !== "string" || isUnresolved(props.region) || !REGION.test(props.region)) {
      throw new ConfigError("region", props.region, "must be a literal AWS region name (the cluster-objects stack's AWS provider is configured with it at synth time)", 'pass the control plane stack\'s region, e.g. "eu-west-1"');
    }
    if (typeof props.readerRoleArn !== "string" || (!isUnresolved(props.readerRoleArn) && !ROLE_ARN.test(props.readerRoleArn))) {
      throw new ConfigError(
        "readerRoleArn",
        props.readerRoleArn,
        "must be the ARN of the IAM role that applies the cluster-objects stack (the only reader the secret's policy allows)",
        'pass e.g. "arn:aws:iam::111122223333:role/cluster-objects-deployer" (a role, not an assumed-role session or a wildcard)',
      );
    }
    if (props.deployerArn !== undefined && !isUnresolved(props.deployerArn) && !PRINCIPAL_ARN.test(props.deployerArn)) {
      throw new ConfigError("deployerArn", props.deployerArn, "is not an IAM role, user or account root ARN", "leave it unset to use the principal running Terraform, or pass its role ARN");
    }
    const identity = props.identity ?? ProviderIdentity.SUPER_ADMIN;
    if (!Object.values(ProviderIdentity).includes(identity)) {
      throw new ConfigError("identity", identity, "is not a provider identity", "use ProviderIdentity.SUPER_ADMIN for the first deploy and ADMIN afterwards");
    }
    if (identity === ProviderIdentity.ADMIN && props.superAdminValidityHours !== undefined) {
      throw new ConfigError("superAdminValidityHours", props.superAdminValidityHours, "has no effect with identity ADMIN: no super-admin certificate is issued", "remove it, or use identity SUPER_ADMIN");
    }
    this.identity = identity;
    this.region = props.region;
    this.secretName = deriveName([`${cp.clusterName}/control-plane/cluster-objects-access`], NAME_RULES.secret);

    let credentials: ClientCredentials;
    if (identity === ProviderIdentity.SUPER_ADMIN) {
      const validityHours = props.superAdminValidityHours ?? 24;
      this.superAdmin = new SuperAdminCertificate(this, "SuperAdmin", {
        controlPlane: cp,
        validityHours,
        // Re-issued by any deploy of this stack after the certificate's first hour.
        earlyRenewalHours: Math.max(1, validityHours - 1),
      });
      credentials = this.superAdmin;
    } else {
      credentials = cp.adminCredentials;
    }

    const caller = new DataAwsCallerIdentity(this, "Deployer");
    const partition = new DataAwsPartition(this, "Partition");
    // aws:PrincipalArn of an assumed-role session is its role's ARN, which the session context gives.
    const deployerArn = props.deployerArn ?? new DataAwsIamSessionContext(this, "DeployerSession", { arn: caller.arn }).issuerArn;
    const accountRoot = `arn:${partition.partition}:iam::${caller.accountId}:root`;
    const reader = props.readerRoleArn;
    this.policyJson = JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        // Explicit denies: no identity policy in the account can grant more than this.
        {
          Sid: "OnlyReaderDeployerAndRoot",
          Effect: "Deny",
          Principal: "*",
          NotAction: METADATA_ACTIONS,
          Resource: "*",
          Condition: { ArnNotEquals: { "aws:PrincipalArn": [reader, deployerArn, accountRoot] } },
        },
        // The root user may repair the policy (break glass) but not read the credential.
        { Sid: "ValueOnlyForReaderAndDeployer", Effect: "Deny", Principal: "*", Action: "secretsmanager:GetSecretValue", Resource: "*", Condition: { ArnNotEquals: { "aws:PrincipalArn": [reader, deployerArn] } } },
        { Sid: "ReaderOnlyReads", Effect: "Deny", Principal: "*", NotAction: ["secretsmanager:GetSecretValue", ...METADATA_ACTIONS], Resource: "*", Condition: { ArnEquals: { "aws:PrincipalArn": reader } } },
        { Sid: "ReaderMayRead", Effect: "Allow", Principal: { AWS: reader }, Action: "secretsmanager:GetSecretValue", Resource: "*" },
      ],
    });
    this.secret = new SecretsmanagerSecret(this, "Secret", {
      name: this.secretName,
      description: `Endpoint, CA and ${identity === ProviderIdentity.SUPER_ADMIN ? "super-admin" : "kubernetes-admin"} client certificate of ${cp.clusterName} for the cluster-objects stack`,
      kmsKeyId: cp.encryptionKey.keyArn,
      recoveryWindowInDays: 7,
      tags: new ClusterTags(cp.clusterName).of(this.secretName),
    });
    const policy = new SecretsmanagerSecretPolicy(this, "Policy", { secretArn: this.secret.arn, blockPublicPolicy: true, policy: this.policyJson });
    const K = ACCESS_SECRET_KEYS;
    new SecretsmanagerSecretVersion(this, "Value", {
      secretId: this.secret.id,
      // No value before the policy guarding it.
      dependsOn: [policy],
      // jsonencode, not JSON.stringify: the PEMs are only known at apply and hold newlines.
      secretString: Fn.jsonencode({
        [K.apiUrl]: cp.apiUrl,
        [K.internalApiUrl]: cp.internalApiUrl,
        [K.caCertPem]: cp.pki.kubernetesCaPem,
        [K.clientCertPem]: credentials.certPem,
        [K.clientKeyPem]: credentials.privateKeyPem,
        [K.identity]: identity,
      }) as string,
    });
  }
}
