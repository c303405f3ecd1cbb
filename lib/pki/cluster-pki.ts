import { Construct } from "constructs";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamSessionContext } from "@cdktf/provider-aws/lib/data-aws-iam-session-context";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretPolicy } from "@cdktf/provider-aws/lib/secretsmanager-secret-policy";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { Fn, TerraformOutput } from "../core";
import { NodeRole } from "../compute/node-role";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName } from "../names";
import { IEncryptionKey } from "../security/encryption-key";
import { isUnresolved } from "../validate";
import { ClusterTags } from "../tags";
import { ICertificateIssuer, IssuedCertificate, IssuedKeyPair, TlsProviderIssuer } from "./issuer";
import { renderKubeconfig } from "./kubeconfig";
import { CA_IDS, ClusterCertificateSet, ClusterFacts, KeyAlgorithm, SecretBundleSpec, buildClusterCertificates } from "./spec";

/** Props of {@link ClusterPki}. */
export interface ClusterPkiProps {
  /** Cluster facts: slots, members, load balancer names, service CIDR, DNS domain. */
  readonly facts: ClusterFacts;
  /** Key encrypting the node secrets. */
  readonly encryptionKey: IEncryptionKey;
  /** Role that may read each slot's secret, by slot name (every bundle needs one). */
  readonly secretReaders: Readonly<Record<string, NodeRole>>;
  /**
   * Turns the certificate specs into Terraform resources. An issuer that keeps the Kubernetes CA's
   * key (AWS Private CA) is a ConfigError: the controller-manager signs node CSRs with it.
   * @default - the Terraform tls provider ({@link TlsProviderIssuer})
   */
  readonly issuer?: ICertificateIssuer;
  /**
   * Algorithm of every key the PKI generates; a value outside {@link KeyAlgorithm} is a ConfigError.
   * @default KeyAlgorithm.ECDSA_P256
   */
  readonly keyAlgorithm?: KeyAlgorithm;
  /**
   * CA validity in hours.
   * @default 87600 (10 years)
   */
  readonly caValidityHours?: number;
  /**
   * Leaf validity in hours (at most 8760).
   * @default 8760 (1 year)
   */
  readonly leafValidityHours?: number;
  /**
   * Hours before expiry a deploy re-issues a leaf.
   * @default 2160 (90 days)
   */
  readonly leafEarlyRenewalHours?: number;
  /**
   * API URL written into the admin kubeconfig output.
   * @default - no admin kubeconfig output
   */
  readonly adminServerUrl?: string;
  /**
   * IAM principals besides the slot's own role that may do anything with a slot's secret (the
   * resource policy denies everyone else all but reading its metadata): the deployer that applies
   * this stack and your administrators. Give IAM ARNs as `aws:PrincipalArn` holds them: a role
   * (`arn:aws:iam::<account>:role/<path/name>`), a user, or the account root
   * (`arn:aws:iam::<account>:root`, the root user - the break-glass path). Include the principal
   * that applies this stack, or its next apply cannot update the secrets.
   * @default - the account root and the IAM principal applying the stack (its role, from the
   *            caller's session)
   */
  readonly secretAdminPrincipalArns?: readonly string[];
  /**
   * Days a deleted secret can be restored.
   * @default 7
   */
  readonly secretRecoveryWindowDays?: number;
  /**
   * Extra tags.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The cluster PKI: separate Kubernetes, etcd and front-proxy CAs, a serving certificate per API
 * server slot naming its fixed IP and every load-balancer name, etcd server and peer certificates
 * per member, the client certificates of the control plane, and the service-account key pair.
 *
 * Delivery: one Secrets Manager secret per node slot, encrypted with the cluster key, readable only
 * by that slot's instance role (and decryptable only through Secrets Manager). Nodes fetch their own
 * secret at boot and hourly; no key material is ever in user data or launch templates.
 */
export class ClusterPki extends Construct {
  /** Every spec. */
  public readonly certificates: ClusterCertificateSet;
  /** Issued certificates by spec id. */
  public readonly issued: ReadonlyMap<string, IssuedCertificate>;
  /** Secret name prefix: a slot's secret is `<prefix>/<slot>`. */
  public readonly secretPrefix: string;
  /** Secrets by slot. */
  public readonly secrets: Readonly<Record<string, SecretsmanagerSecret>>;
  /** The Kubernetes CA certificate (PEM). */
  public readonly kubernetesCaPem: string;
  /** The admin kubeconfig (sensitive), when `adminServerUrl` is set. */
  public readonly adminKubeconfig?: string;

  constructor(scope: Construct, id: string, props: ClusterPkiProps) {
    super(scope, id);
    this.certificates = buildClusterCertificates(props.facts, {
      keyAlgorithm: props.keyAlgorithm,
      caValidityHours: props.caValidityHours,
      leafValidityHours: props.leafValidityHours,
      leafEarlyRenewalHours: props.leafEarlyRenewalHours,
    });
    const window = props.secretRecoveryWindowDays ?? 7;
    if (!Number.isInteger(window) || window < 7 || window > 30) {
      throw new ConfigError("secretRecoveryWindowDays", window, "Secrets Manager recovery windows are 7 to 30 days", "use 7");
    }
    for (const bundle of this.certificates.bundles) {
      if (!props.secretReaders[bundle.slot]) {
        throw new ConfigError("secretReaders", Object.keys(props.secretReaders), `has no role for slot ${bundle.slot}`, "map every API server slot and etcd member to its node role");
      }
    }
    (props.secretAdminPrincipalArns ?? []).forEach((arn, i) => {
      if (isUnresolved(arn)) return;
      if (typeof arn !== "string" || !/^arn:aws[a-z-]*:iam::\d{12}:(root|role\/[\w+=,.@\/-]+|user\/[\w+=,.@\/-]+)$/.test(arn)) {
        throw new ConfigError(
          `secretAdminPrincipalArns[${i}]`,
          arn,
          "is not an IAM role, user or account-root ARN (aws:PrincipalArn of an assumed-role session is its role's ARN, so a session ARN would never match and lock the deployer out)",
          'pass "arn:aws:iam::<account>:role/<name>" for a role, including its path',
        );
      }
    });
    const issuer = props.issuer ?? new TlsProviderIssuer();
    const issued = new Map<string, IssuedCertificate>();
    const caKeysOnNodes = new Set(this.certificates.bundles.flatMap((b) => b.caKeys));
    for (const ca of this.certificates.cas) issued.set(ca.id, issuer.issueCa(this, ca, { keyOnNodes: caKeysOnNodes.has(ca.id) }));
    for (const leaf of this.certificates.leaves) issued.set(leaf.id, issuer.issue(this, leaf, issued.get(leaf.signer!)!));
    const keyPairs = new Map<string, IssuedKeyPair>();
    for (const kp of this.certificates.keyPairs) keyPairs.set(kp.id, issuer.keyPair(this, kp));
    this.issued = issued;
    this.kubernetesCaPem = issued.get(CA_IDS.kubernetes)!.certPem;

    const clusterName = props.facts.clusterName;
    this.secretPrefix = `${clusterName}/control-plane`;
    const tags = new ClusterTags(clusterName, props.tags);
    const secrets: Record<string, SecretsmanagerSecret> = {};
    const admins = props.secretAdminPrincipalArns !== undefined ? [...props.secretAdminPrincipalArns] : this.defaultSecretAdmins();
    for (const bundle of this.certificates.bundles) {
      const name = deriveName([`${this.secretPrefix}/${bundle.slot}`], NAME_RULES.secret);
      const secret = new SecretsmanagerSecret(this, `Secret-${bundle.slot}`, {
        name,
        description: `Certificates and keys of ${bundle.slot} in ${clusterName}`,
        kmsKeyId: props.encryptionKey.keyArn,
        recoveryWindowInDays: window,
        tags: tags.of(name, { slot: bundle.slot }),
      });
      new SecretsmanagerSecretVersion(this, `SecretValue-${bundle.slot}`, {
        secretId: secret.id,
        secretString: Fn.jsonencode({ files: this.bundleFiles(bundle, keyPairs) }),
      });
      const reader = props.secretReaders[bundle.slot];
      new SecretsmanagerSecretPolicy(this, `SecretPolicy-${bundle.slot}`, {
        secretArn: secret.arn,
        blockPublicPolicy: true,
        policy: JSON.stringify(slotSecretPolicy(reader.role.arn, admins)),
      });
      reader.grantSecretRead(secret.arn, props.encryptionKey.keyArn);
      secrets[bundle.slot] = secret;
    }
    this.secrets = secrets;

    if (props.adminServerUrl !== undefined) {
      const admin = issued.get("admin")!;
      this.adminKubeconfig = renderKubeconfig({
        clusterName,
        server: props.adminServerUrl,
        user: "kubernetes-admin",
        caDataBase64: Fn.base64encode(this.kubernetesCaPem),
        clientCertDataBase64: Fn.base64encode(admin.certPem),
        clientKeyDataBase64: Fn.base64encode(admin.privateKeyPem!),
      });
      new TerraformOutput(this, "admin_kubeconfig", {
        value: this.adminKubeconfig,
        sensitive: true,
        description: "kubeconfig of kubernetes-admin (group kubeadm:cluster-admins)",
      });
    }
    new TerraformOutput(this, "kubernetes_ca_certificate", { value: this.kubernetesCaPem, description: "Kubernetes CA certificate (PEM)" });
  }

  private defaultSecretAdmins(): string[] {
    const caller = new DataAwsCallerIdentity(this, "Deployer");
    const partition = new DataAwsPartition(this, "Partition");
    // aws:PrincipalArn of an assumed-role session is the role's ARN, which the session context gives.
    const deployer = new DataAwsIamSessionContext(this, "DeployerSession", { arn: caller.arn });
    return [`arn:${partition.partition}:iam::${caller.accountId}:root`, deployer.issuerArn];
  }

  /** The files of one bundle: path relative to the node's PKI directory → PEM. */
  private bundleFiles(bundle: SecretBundleSpec, keyPairs: ReadonlyMap<string, IssuedKeyPair>): Record<string, string> {
    const files: Record<string, string> = {};
    const stem = (id: string) => [...this.certificates.cas, ...this.certificates.leaves].find((s) => s.id === id)!.fileStem;
    for (const id of bundle.caCertificates) files[`${stem(id)}.crt`] = this.issued.get(id)!.certPem;
    for (const id of bundle.caKeys) {
      const key = this.issued.get(id)!.privateKeyPem;
      if (key === undefined) throw new ConfigError("issuer", id, "keeps the CA key, but the controller-manager signs node CSRs with it", "issue the Kubernetes CA with the tls provider");
      files[`${stem(id)}.key`] = key;
    }
    for (const id of bundle.certificates) {
      const cert = this.issued.get(id)!;
      files[`${stem(id)}.crt`] = cert.certPem;
      if (cert.privateKeyPem !== undefined) files[`${stem(id)}.key`] = cert.privateKeyPem;
    }
    for (const id of bundle.keyPairs) {
      const kp = keyPairs.get(id)!;
      const s = this.certificates.keyPairs.find((k) => k.id === id)!.fileStem;
      files[`${s}.key`] = kp.privateKeyPem;
      files[`${s}.pub`] = kp.publicKeyPem;
    }
    return files;
  }
}

/** Reading a secret's metadata only: what auditors and AWS Config may still do. */
const SECRET_METADATA_ACTIONS = ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecretVersionIds"];

/**
 * A slot secret's resource policy: everyone but the slot's role and the admins is denied all but
 * reading metadata (an explicit deny, so no identity policy in the account can grant more), and the
 * slot's role is denied everything but reading the value.
 */
export function slotSecretPolicy(readerRoleArn: string, adminPrincipalArns: readonly string[]): object {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "OnlySlotRoleAndAdmins",
        Effect: "Deny",
        Principal: "*",
        NotAction: SECRET_METADATA_ACTIONS,
        Resource: "*",
        Condition: { ArnNotEquals: { "aws:PrincipalArn": [readerRoleArn, ...adminPrincipalArns] } },
      },
      {
        Sid: "SlotRoleOnlyReads",
        Effect: "Deny",
        Principal: "*",
        NotAction: ["secretsmanager:GetSecretValue", ...SECRET_METADATA_ACTIONS],
        Resource: "*",
        Condition: { ArnEquals: { "aws:PrincipalArn": readerRoleArn } },
      },
    ],
  };
}
