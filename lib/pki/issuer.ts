import { Construct } from "constructs";
import { LocallySignedCert } from "@cdktf/provider-tls/lib/locally-signed-cert";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { CertRequest } from "@cdktf/provider-tls/lib/cert-request";
import { SelfSignedCert } from "@cdktf/provider-tls/lib/self-signed-cert";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { TerraformStack } from "../core";
import { CertificateSpec, KeyAlgorithm, KeyPairSpec } from "./spec";

/** A certificate as Terraform values (PEM strings, usually tokens). */
export interface IssuedCertificate {
  /** The certificate, PEM-encoded. */
  readonly certPem: string;
  /**
   * The private key, PEM-encoded (it lands in Terraform state: use an encrypted backend).
   * @default - none: the key never leaves the issuer (e.g. an AWS Private CA's CA key)
   */
  readonly privateKeyPem?: string;
}

/** A key pair as Terraform values. */
export interface IssuedKeyPair {
  /** The private key, PEM-encoded (`sa.key` on API server nodes: signs service-account tokens). */
  readonly privateKeyPem: string;
  /** The public key, PEM-encoded (`sa.pub`: the API server verifies tokens with it). */
  readonly publicKeyPem: string;
}

/**
 * Turns certificate specs into Terraform resources. Implementations: {@link TlsProviderIssuer}
 * (default) and `PrivateCaIssuer` (AWS Private CA).
 */
export interface ICertificateIssuer {
  /**
   * Issues a CA from its spec. `keyOnNodes` is true for a CA whose private key nodes need (the
   * Kubernetes CA: the controller-manager signs node CSRs with it); such a CA must return its key.
   */
  issueCa(scope: Construct, spec: CertificateSpec, options: { readonly keyOnNodes: boolean }): IssuedCertificate;
  /** Issues a leaf signed by `signer`. */
  issue(scope: Construct, spec: CertificateSpec, signer: IssuedCertificate): IssuedCertificate;
  /** Generates a key pair (service-account signing key). */
  keyPair(scope: Construct, spec: KeyPairSpec): IssuedKeyPair;
}

/** Private key settings of the tls provider for an algorithm. */
export function tlsKeySettings(algorithm: KeyAlgorithm): {
  /** `tls_private_key.algorithm`: `ECDSA` or `RSA`. */
  algorithm: string;
  /**
   * `tls_private_key.ecdsa_curve` (`P256`).
   * @default - unset for RSA
   */
  ecdsaCurve?: string;
  /**
   * `tls_private_key.rsa_bits` (2048 or 4096).
   * @default - unset for ECDSA
   */
  rsaBits?: number;
} {
  switch (algorithm) {
    case KeyAlgorithm.ECDSA_P256:
      return { algorithm: "ECDSA", ecdsaCurve: "P256" };
    case KeyAlgorithm.RSA_2048:
      return { algorithm: "RSA", rsaBits: 2048 };
    case KeyAlgorithm.RSA_4096:
      return { algorithm: "RSA", rsaBits: 4096 };
  }
}

/** Declares a `tls` provider in the stack of `scope` unless one exists. */
export function ensureTlsProvider(scope: Construct): void {
  const stack = TerraformStack.of(scope);
  const exists = stack.node.findAll().some((c) => c instanceof TlsProvider);
  if (!exists) new TlsProvider(stack, "tls", {});
}

/**
 * The Terraform tls provider as issuer: keys, CAs and leaves live in Terraform state (use an
 * encrypted backend). Leaves are re-issued by the first `cdktf deploy` inside their early-renewal
 * window.
 */
export class TlsProviderIssuer implements ICertificateIssuer {
  public issueCa(scope: Construct, spec: CertificateSpec, _options: { readonly keyOnNodes: boolean } = { keyOnNodes: false }): IssuedCertificate {
    ensureTlsProvider(scope);
    const key = new PrivateKey(scope, `${spec.id}-key`, tlsKeySettings(spec.keyAlgorithm));
    const cert = new SelfSignedCert(scope, `${spec.id}-cert`, {
      privateKeyPem: key.privateKeyPem,
      subject: [subjectOf(spec)],
      isCaCertificate: true,
      validityPeriodHours: spec.validityHours,
      earlyRenewalHours: spec.earlyRenewalHours,
      allowedUses: [...spec.usages],
      setSubjectKeyId: true,
    });
    return { certPem: cert.certPem, privateKeyPem: key.privateKeyPem };
  }

  public issue(scope: Construct, spec: CertificateSpec, signer: IssuedCertificate): IssuedCertificate {
    if (signer.privateKeyPem === undefined) throw new Error(`${spec.id}: the tls issuer needs the signer's private key`);
    const { key, request } = keyAndRequest(scope, spec);
    const cert = new LocallySignedCert(scope, `${spec.id}-cert`, {
      certRequestPem: request.certRequestPem,
      caPrivateKeyPem: signer.privateKeyPem,
      caCertPem: signer.certPem,
      validityPeriodHours: spec.validityHours,
      earlyRenewalHours: spec.earlyRenewalHours,
      allowedUses: [...spec.usages],
      isCaCertificate: false,
      setSubjectKeyId: true,
    });
    return { certPem: cert.certPem, privateKeyPem: key.privateKeyPem };
  }

  public keyPair(scope: Construct, spec: KeyPairSpec): IssuedKeyPair {
    ensureTlsProvider(scope);
    const key = new PrivateKey(scope, `${spec.id}-key`, tlsKeySettings(spec.keyAlgorithm));
    return { privateKeyPem: key.privateKeyPem, publicKeyPem: key.publicKeyPem };
  }
}

/** A tls_private_key and a tls_cert_request carrying the spec's subject and SANs. */
export function keyAndRequest(
  scope: Construct,
  spec: CertificateSpec,
): {
  /** The `tls_private_key` (`<id>-key`), generated in Terraform state. */
  key: PrivateKey;
  /** The `tls_cert_request` (`<id>-csr`) signed by `key`, for the issuer to sign. */
  request: CertRequest;
} {
  ensureTlsProvider(scope);
  const key = new PrivateKey(scope, `${spec.id}-key`, tlsKeySettings(spec.keyAlgorithm));
  const request = new CertRequest(scope, `${spec.id}-csr`, {
    privateKeyPem: key.privateKeyPem,
    subject: [subjectOf(spec)],
    dnsNames: spec.dnsNames.length > 0 ? [...spec.dnsNames] : undefined,
    ipAddresses: spec.ipAddresses.length > 0 ? [...spec.ipAddresses] : undefined,
  });
  return { key, request };
}

function subjectOf(spec: CertificateSpec): { commonName: string; organization?: string } {
  // The tls provider takes one organization; every spec has at most one.
  return { commonName: spec.commonName, ...(spec.organizations.length > 0 ? { organization: spec.organizations[0] } : {}) };
}
