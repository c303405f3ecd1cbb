import { CertificateSpec, KeyAlgorithm, KeyUsage } from "./spec";

/**
 * Renders a certificate spec for openssl: the config file (subject, extensions) and the argument
 * vectors that create the key, the request and the certificate. Pure: the caller runs the commands
 * (the tests and the etcd end-to-end tier do, so the certificates they use come from the same specs
 * Terraform issues).
 */

const KEY_USAGE: Partial<Record<KeyUsage, string>> = {
  [KeyUsage.DIGITAL_SIGNATURE]: "digitalSignature",
  [KeyUsage.KEY_ENCIPHERMENT]: "keyEncipherment",
  [KeyUsage.CERT_SIGNING]: "keyCertSign",
  [KeyUsage.CRL_SIGNING]: "cRLSign",
};
const EXTENDED_KEY_USAGE: Partial<Record<KeyUsage, string>> = {
  [KeyUsage.SERVER_AUTH]: "serverAuth",
  [KeyUsage.CLIENT_AUTH]: "clientAuth",
};

/** The openssl config of a spec: `[req]` with the subject, `[ext]` with the extensions. */
export function renderOpensslConfig(spec: CertificateSpec): string {
  const subject = [...spec.organizations.map((o) => `O = ${escapeDn(o)}`), `CN = ${escapeDn(spec.commonName)}`];
  const ku = spec.usages.map((u) => KEY_USAGE[u]).filter((u): u is string => u !== undefined);
  const eku = spec.usages.map((u) => EXTENDED_KEY_USAGE[u]).filter((u): u is string => u !== undefined);
  const isCa = spec.signer === undefined;
  const ext = [
    `basicConstraints = critical, CA:${isCa ? "TRUE" : "FALSE"}`,
    `keyUsage = critical, ${ku.join(", ")}`,
    ...(eku.length > 0 ? [`extendedKeyUsage = ${eku.join(", ")}`] : []),
    "subjectKeyIdentifier = hash",
    ...(isCa ? [] : ["authorityKeyIdentifier = keyid"]),
  ];
  const sans = [...spec.dnsNames.map((d, i) => `DNS.${i + 1} = ${d}`), ...spec.ipAddresses.map((ip, i) => `IP.${i + 1} = ${ip}`)];
  if (sans.length > 0) ext.push("subjectAltName = @alt_names");
  return [
    "[req]",
    "prompt = no",
    "distinguished_name = dn",
    "",
    "[dn]",
    ...subject,
    "",
    "[ext]",
    ...ext,
    ...(sans.length > 0 ? ["", "[alt_names]", ...sans] : []),
    "",
  ].join("\n");
}

/** File paths the commands read and write. */
export interface OpensslPaths {
  /** Config file (write `renderOpensslConfig(spec)` there first). */
  readonly config: string;
  /** Where `openssl genpkey` writes the new private key (PEM). */
  readonly key: string;
  /** Where `openssl req -new` writes the certificate request. */
  readonly csr: string;
  /** Where `openssl x509 -req` writes the signed certificate. */
  readonly cert: string;
  /**
   * The signer's certificate (`-CA`); required for a spec with a `signer` (an Error otherwise).
   * @default - none: the spec is a self-signed CA and signs itself with `key`
   */
  readonly caCert?: string;
  /**
   * The signer's private key (`-CAkey`); required together with `caCert`.
   * @default - none: the spec is a self-signed CA
   */
  readonly caKey?: string;
}

/** Argument vectors (for `openssl`) that create the key, the request and the certificate. */
export function opensslCommands(spec: CertificateSpec, paths: OpensslPaths): string[][] {
  const days = String(Math.max(1, Math.floor(spec.validityHours / 24)));
  const key = keyCommand(spec.keyAlgorithm, paths.key);
  const csr = ["req", "-new", "-key", paths.key, "-config", paths.config, "-out", paths.csr];
  if (spec.signer === undefined) {
    return [key, csr, ["x509", "-req", "-in", paths.csr, "-signkey", paths.key, "-days", days, "-sha256", "-extfile", paths.config, "-extensions", "ext", "-out", paths.cert]];
  }
  if (!paths.caCert || !paths.caKey) throw new Error(`${spec.id} needs its signer's certificate and key`);
  return [
    key,
    csr,
    ["x509", "-req", "-in", paths.csr, "-CA", paths.caCert, "-CAkey", paths.caKey, "-CAcreateserial", "-days", days, "-sha256", "-extfile", paths.config, "-extensions", "ext", "-out", paths.cert],
  ];
}

/** The `openssl genpkey` arguments for an algorithm. */
export function keyCommand(algorithm: KeyAlgorithm, out: string): string[] {
  switch (algorithm) {
    case KeyAlgorithm.ECDSA_P256:
      return ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out];
    case KeyAlgorithm.RSA_2048:
      return ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", out];
    case KeyAlgorithm.RSA_4096:
      return ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096", "-out", out];
  }
}

function escapeDn(value: string): string {
  return value.replace(/([\\,+="<>#;])/g, "\\$1");
}
