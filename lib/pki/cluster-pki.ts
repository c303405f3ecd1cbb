import { Construct } from "constructs";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamSessionContext } from "@cdktf/provider-aws/lib/data-aws-iam-session-context";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretPolicy } from "@cdktf/provider-aws/lib/secretsmanager-secret-policy";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { Fn, TerraformOutput, jsonencode, lazyJsonString } from "../core";
import { NodeRole } from "../compute/node-role";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName } from "../names";
import { IEncryptionKey } from "../security/encryption-key";
import { isUnresolved } from "../validate";
import { ClusterTags } from "../tags";
import { ICertificateIssuer, IssuedCertificate, IssuedKeyPair, TlsProviderIssuer } from "./issuer";
import { renderKubeconfig } from "./kubeconfig";
import { CaRotation, CaTrustDomain, ClusterCertificateSet, ClusterFacts, KeyAlgorithm, SecretBundleSpec, SecretFilePartKind, secretFileLayout, buildClusterCertificates } from "./spec";

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
   * Staged rotation of the Kubernetes CA (README, *CA rotation*): the generation in use and the
   * phase towards the next one, advanced one phase per deploy (`TRUST_BOTH`, `ISSUE_NEW`,
   * `DISTRUST_OLD`, then `{ generation: g + 1 }`). An unknown phase or a generation outside 1–999 is
   * a ConfigError.
   * @default - generation 1, CaRotationPhase.NONE
   */
  readonly kubernetesCaRotation?: CaRotation;
  /**
   * Staged rotation of the etcd CA, as {@link kubernetesCaRotation}. Nodes restart etcd (one
   * member at a time) and the API servers (their etcd client reads its CA only at start) when the
   * bundle changes.
   * @default - generation 1, CaRotationPhase.NONE
   */
  readonly etcdCaRotation?: CaRotation;
  /**
   * Staged rotation of the front-proxy CA, as {@link kubernetesCaRotation}.
   * @default - generation 1, CaRotationPhase.NONE
   */
  readonly frontProxyCaRotation?: CaRotation;
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
  /**
   * The Kubernetes CA bundle (PEM): every trusted Kubernetes CA, the issuing one first. One
   * certificate outside a rotation, old and new during one (what clients and workers must trust).
   */
  public readonly kubernetesCaPem: string;
  /** The Kubernetes CA that signs leaves now (the old one until `ISSUE_NEW`); its key is in state. */
  public readonly kubernetesIssuingCa: IssuedCertificate;
  /** The admin kubeconfig (sensitive), when `adminServerUrl` is set. */
  public readonly adminKubeconfig?: string;

  constructor(scope: Construct, id: string, props: ClusterPkiProps) {
    super(scope, id);
    this.certificates = buildClusterCertificates(props.facts, {
      keyAlgorithm: props.keyAlgorithm,
      caValidityHours: props.caValidityHours,
      leafValidityHours: props.leafValidityHours,
      leafEarlyRenewalHours: props.leafEarlyRenewalHours,
    }, { kubernetes: props.kubernetesCaRotation, etcd: props.etcdCaRotation, frontProxy: props.frontProxyCaRotation });
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
    const k8s = this.certificates.trust.find((t) => t.domain === CaTrustDomain.KUBERNETES)!;
    this.kubernetesIssuingCa = issued.get(k8s.issuing)!;
    this.kubernetesCaPem = concatPem(k8s.trusted.map((id) => issued.get(id)!.certPem));

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
        secretString: jsonencode({ files: this.secretFiles(bundle, keyPairs) }),
      });
      const reader = props.secretReaders[bundle.slot];
      const policy = slotSecretPolicy(reader.role.arn, admins);
      new SecretsmanagerSecretPolicy(this, `SecretPolicy-${bundle.slot}`, {
        secretArn: secret.arn,
        blockPublicPolicy: true,
        policy: lazyJsonString(() => policy),
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
    new TerraformOutput(this, "kubernetes_ca_certificate", { value: this.kubernetesCaPem, description: "Kubernetes CA bundle (PEM): every trusted Kubernetes CA, two during a CA rotation" });
  }

  private defaultSecretAdmins(): string[] {
    const caller = new DataAwsCallerIdentity(this, "Deployer");
    const partition = new DataAwsPartition(this, "Partition");
    // aws:PrincipalArn of an assumed-role session is the role's ARN, which the session context gives.
    const deployer = new DataAwsIamSessionContext(this, "DeployerSession", { arn: caller.arn });
    return [`arn:${partition.partition}:iam::${caller.accountId}:root`, deployer.issuerArn];
  }

  /** The files of one bundle: path relative to the node's PKI directory → PEM (see {@link secretFileLayout}). */
  private secretFiles(bundle: SecretBundleSpec, keyPairs: ReadonlyMap<string, IssuedKeyPair>): Record<string, string> {
    const files: Record<string, string> = {};
    for (const f of secretFileLayout(this.certificates, bundle)) {
      files[f.path] = concatPem(
        f.parts.map(({ id, part }) => {
          if (part === SecretFilePartKind.PUBLIC_KEY) return keyPairs.get(id)!.publicKeyPem;
          if (part === SecretFilePartKind.KEY) {
            const key = keyPairs.get(id)?.privateKeyPem ?? this.issued.get(id)!.privateKeyPem;
            if (key === undefined) throw new ConfigError("issuer", id, "keeps the CA key, but the controller-manager signs node CSRs with it", "issue the Kubernetes CA with the tls provider");
            return key;
          }
          return this.issued.get(id)!.certPem;
        }),
      );
    }
    return files;
  }
}

/**
 * PEM blocks as one file. One block passes through unchanged (so a bundle outside a rotation is the
 * CA's own PEM); several are joined with a newline after each (the tls provider's PEM ends in one).
 */
function concatPem(parts: readonly string[]): string {
  return parts.length === 1 ? parts[0] : Fn.join("", parts.map((p) => Fn.format("%s\n", [Fn.trimspace(p)])));
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
