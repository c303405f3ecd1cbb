import { Construct } from "constructs";
import { ConfigError } from "../errors";
import { acmpcaCertificate, acmpcaCertificateAuthority, acmpcaCertificateAuthorityCertificate } from "../optional-providers";
import { isUnresolved } from "../validate";
import { ICertificateIssuer, IssuedCertificate, IssuedKeyPair, TlsProviderIssuer, keyAndRequest } from "./issuer";
import { CertificateKind, CertificateSpec, KeyAlgorithm, KeyPairSpec } from "./spec";

/** How the Private CA certificate authorities are used. */
export enum PrivateCaUsageMode {
  /** Certificates of any validity (the spec's). */
  GENERAL_PURPOSE = "GENERAL_PURPOSE",
  /** Certificates of at most 7 days, at a lower price; a deploy must re-issue them within the week. */
  SHORT_LIVED_CERTIFICATE = "SHORT_LIVED_CERTIFICATE",
}

/** Props of {@link PrivateCaIssuer}. */
export interface PrivateCaIssuerProps {
  /**
   * ARN of an existing Private CA to sign our CAs as subordinates.
   * @default - our CAs are roots
   */
  readonly parentCaArn?: string;
  /**
   * Usage mode of the CAs created.
   * @default PrivateCaUsageMode.GENERAL_PURPOSE
   */
  readonly usageMode?: PrivateCaUsageMode;
  /**
   * AWS partition for template ARNs.
   * @default "aws"
   */
  readonly partition?: string;
  /**
   * Days a deleted CA can be restored (7–30).
   * @default 30
   */
  readonly permanentDeletionTimeInDays?: number;
}

/**
 * AWS Private CA as issuer: CA private keys are generated and kept by Private CA (never in
 * Terraform state); leaves are signed by `aws_acmpca_certificate` from a CSR whose key the tls
 * provider generates (the leaf keys do live in state, as with the tls issuer).
 *
 * The Kubernetes CA is the exception: the controller-manager signs node CSRs with its key, so a CA
 * whose key nodes need is issued with the tls provider. Each Private CA costs money every month;
 * with this issuer the etcd and front-proxy CAs are Private CAs.
 */
export class PrivateCaIssuer implements ICertificateIssuer {
  private readonly authorities = new Map<string, { arn: string; signingAlgorithm: string }>();
  private readonly tls = new TlsProviderIssuer();
  private readonly partition: string;
  private readonly usageMode: PrivateCaUsageMode;

  constructor(private readonly props: PrivateCaIssuerProps = {}) {
    this.partition = props.partition ?? "aws";
    this.usageMode = props.usageMode ?? PrivateCaUsageMode.GENERAL_PURPOSE;
    if (!Object.values(PrivateCaUsageMode).includes(this.usageMode)) {
      throw new ConfigError("usageMode", this.usageMode, "is not a PrivateCaUsageMode", "use GENERAL_PURPOSE or SHORT_LIVED_CERTIFICATE");
    }
    const days = props.permanentDeletionTimeInDays ?? 30;
    if (!Number.isInteger(days) || days < 7 || days > 30) {
      throw new ConfigError("permanentDeletionTimeInDays", days, "Private CA restores are possible for 7 to 30 days", "use 30");
    }
    if (props.parentCaArn !== undefined && !isUnresolved(props.parentCaArn) && !/^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[0-9a-f-]{36}$/.test(props.parentCaArn)) {
      throw new ConfigError("parentCaArn", props.parentCaArn, "is not a Private CA ARN", 'pass "arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>"');
    }
  }

  public issueCa(scope: Construct, spec: CertificateSpec, options: { readonly keyOnNodes: boolean }): IssuedCertificate {
    if (options.keyOnNodes) return this.tls.issueCa(scope, spec);
    const { keyAlgorithm, signingAlgorithm } = pcaAlgorithms(spec.keyAlgorithm);
    const subordinate = this.props.parentCaArn !== undefined;
    const ca = new (acmpcaCertificateAuthority())(scope, `${spec.id}-authority`, {
      type: subordinate ? "SUBORDINATE" : "ROOT",
      usageMode: this.usageMode,
      permanentDeletionTimeInDays: this.props.permanentDeletionTimeInDays ?? 30,
      certificateAuthorityConfiguration: {
        keyAlgorithm,
        signingAlgorithm,
        subject: { commonName: spec.commonName, ...(spec.organizations.length > 0 ? { organization: spec.organizations[0] } : {}) },
      },
    });
    const cert = new (acmpcaCertificate())(scope, `${spec.id}-cert`, {
      certificateAuthorityArn: subordinate ? this.props.parentCaArn! : ca.arn,
      certificateSigningRequest: ca.certificateSigningRequest,
      signingAlgorithm,
      templateArn: this.template(subordinate ? "SubordinateCACertificate_PathLen0/V1" : "RootCACertificate/V1"),
      validity: { type: "DAYS", value: String(Math.ceil(spec.validityHours / 24)) },
    });
    // Each attribute read makes a new token: keep one string so the signer can be recognised later.
    const certPem = cert.certificate;
    new (acmpcaCertificateAuthorityCertificate())(scope, `${spec.id}-install`, {
      certificateAuthorityArn: ca.arn,
      certificate: certPem,
      certificateChain: subordinate ? cert.certificateChain : undefined,
    });
    this.authorities.set(certPem, { arn: ca.arn, signingAlgorithm });
    return { certPem };
  }

  public issue(scope: Construct, spec: CertificateSpec, signer: IssuedCertificate): IssuedCertificate {
    const authority = this.authorities.get(signer.certPem);
    if (authority === undefined) return this.tls.issue(scope, spec, signer);
    if (this.usageMode === PrivateCaUsageMode.SHORT_LIVED_CERTIFICATE && spec.validityHours > 168) {
      throw new ConfigError("leafCertificateValidityHours", spec.validityHours, "short-lived Private CAs issue certificates of at most 7 days (168 h)", "use 168 or less, and deploy at least weekly");
    }
    const { key, request } = keyAndRequest(scope, spec);
    const cert = new (acmpcaCertificate())(scope, `${spec.id}-cert`, {
      certificateAuthorityArn: authority.arn,
      certificateSigningRequest: request.certRequestPem,
      signingAlgorithm: authority.signingAlgorithm,
      templateArn: this.template(END_ENTITY_TEMPLATE[spec.kind]),
      validity: { type: "DAYS", value: String(Math.max(1, Math.floor(spec.validityHours / 24))) },
    });
    return { certPem: cert.certificate, privateKeyPem: key.privateKeyPem };
  }

  public keyPair(scope: Construct, spec: KeyPairSpec): IssuedKeyPair {
    return this.tls.keyPair(scope, spec);
  }

  private template(name: string): string {
    return `arn:${this.partition}:acm-pca:::template/${name}`;
  }
}

/** End-entity templates whose extended key usage matches the spec kind; SANs pass through from the CSR. */
const END_ENTITY_TEMPLATE: Record<CertificateKind, string> = {
  [CertificateKind.SERVER]: "EndEntityServerAuthCertificate/V1",
  [CertificateKind.CLIENT]: "EndEntityClientAuthCertificate/V1",
  [CertificateKind.SERVER_AND_CLIENT]: "EndEntityCertificate/V1",
  [CertificateKind.CA]: "SubordinateCACertificate_PathLen0/V1",
};

function pcaAlgorithms(algorithm: KeyAlgorithm): { keyAlgorithm: string; signingAlgorithm: string } {
  switch (algorithm) {
    case KeyAlgorithm.ECDSA_P256:
      return { keyAlgorithm: "EC_prime256v1", signingAlgorithm: "SHA256WITHECDSA" };
    case KeyAlgorithm.RSA_2048:
      return { keyAlgorithm: "RSA_2048", signingAlgorithm: "SHA256WITHRSA" };
    case KeyAlgorithm.RSA_4096:
      return { keyAlgorithm: "RSA_4096", signingAlgorithm: "SHA256WITHRSA" };
  }
}
