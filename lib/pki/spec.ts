import { ConfigError } from "../errors";
import { host, parseIpv4Cidr } from "../network/cidr";

/**
 * The certificate spec model: plain data for every certificate of the control plane, built by pure
 * functions from the cluster's facts. Issuers (the Terraform tls provider, AWS Private CA, openssl in
 * tests) turn the same specs into certificates, so nothing about a certificate is written twice.
 */

/** Key algorithms. */
export enum KeyAlgorithm {
  /** ECDSA on P-256: small, fast, accepted by Kubernetes and etcd. */
  ECDSA_P256 = "ECDSA_P256",
  /** RSA with a 2048-bit modulus: the smallest size Kubernetes and etcd accept, for HSM/PCA setups that require RSA. */
  RSA_2048 = "RSA_2048",
  /** RSA with a 4096-bit modulus: larger certificates and slower TLS handshakes, for policies that demand it. */
  RSA_4096 = "RSA_4096",
}

/** Key usages and extended key usages, named as the Terraform tls provider names them. */
export enum KeyUsage {
  /** keyUsage digitalSignature: the key signs TLS handshakes (every certificate). */
  DIGITAL_SIGNATURE = "digital_signature",
  /** keyUsage keyEncipherment: the key may encrypt key material (RSA key exchange). */
  KEY_ENCIPHERMENT = "key_encipherment",
  /** keyUsage keyCertSign: the key signs certificates (CAs only). */
  CERT_SIGNING = "cert_signing",
  /** keyUsage cRLSign: the key signs revocation lists (CAs only). */
  CRL_SIGNING = "crl_signing",
  /** extendedKeyUsage serverAuth: the certificate may serve TLS (API server, etcd). */
  SERVER_AUTH = "server_auth",
  /** extendedKeyUsage clientAuth: the certificate may authenticate a TLS client (components, etcd peers). */
  CLIENT_AUTH = "client_auth",
}

/** What a certificate is for. */
export enum CertificateKind {
  /** A certificate authority: signs other certificates, `isCA` set, usages {@link USAGES}[CA]. */
  CA = "CA",
  /** A TLS server certificate (the API server's serving certificate). */
  SERVER = "SERVER",
  /** A TLS client certificate; its common name and organizations are the Kubernetes user and groups. */
  CLIENT = "CLIENT",
  /** Server and client at once (etcd server and peer certificates). */
  SERVER_AND_CLIENT = "SERVER_AND_CLIENT",
}

/** The usages of each kind (field guide §5). */
export const USAGES: Record<CertificateKind, readonly KeyUsage[]> = {
  [CertificateKind.CA]: [KeyUsage.CERT_SIGNING, KeyUsage.CRL_SIGNING, KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_ENCIPHERMENT],
  [CertificateKind.SERVER]: [KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_ENCIPHERMENT, KeyUsage.SERVER_AUTH],
  [CertificateKind.CLIENT]: [KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_ENCIPHERMENT, KeyUsage.CLIENT_AUTH],
  [CertificateKind.SERVER_AND_CLIENT]: [KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_ENCIPHERMENT, KeyUsage.SERVER_AUTH, KeyUsage.CLIENT_AUTH],
};

/**
 * Default leaf early renewal: 2160 h (90 days) of an 8760 h leaf. The tls provider re-issues on the
 * first apply inside that window, so a deploy at least every 60 days renews each leaf with 30 or
 * more days left, before the 14-day expiry alarm.
 */
export const DEFAULT_LEAF_EARLY_RENEWAL_HOURS = 2160;

/**
 * One certificate, as plain data: subject, SANs, usages, validity and where it lands on a node. An
 * issuer turns it into a key and a certificate; {@link buildClusterCertificates} produces them all.
 */
export interface CertificateSpec {
  /** Stable id, also the construct id suffix: `kubernetes-ca`, `apiserver-apiserver-0`, `etcd-peer-etcd-1`. */
  readonly id: string;
  /** Subject common name. */
  readonly commonName: string;
  /** Subject organizations (Kubernetes groups). */
  readonly organizations: readonly string[];
  /** DNS subject alternative names. */
  readonly dnsNames: readonly string[];
  /** IP subject alternative names. */
  readonly ipAddresses: readonly string[];
  /** Kind (drives usages). */
  readonly kind: CertificateKind;
  /** Key usages and extended key usages. */
  readonly usages: readonly KeyUsage[];
  /**
   * Id of the signing CA spec (one of {@link CA_IDS}).
   * @default - none: the certificate is a self-signed CA
   */
  readonly signer?: string;
  /** Validity in hours. */
  readonly validityHours: number;
  /** Re-issue this many hours before expiry (on the next apply inside the window). */
  readonly earlyRenewalHours: number;
  /** Algorithm of the certificate's private key; every spec of a cluster uses the policy's one. */
  readonly keyAlgorithm: KeyAlgorithm;
  /** File stem on nodes, relative to the PKI directory: `ca`, `apiserver`, `etcd/peer`. */
  readonly fileStem: string;
}

/** A non-certificate key pair (the service-account signing key). */
export interface KeyPairSpec {
  /** Stable id, also the construct id suffix (`service-account`). */
  readonly id: string;
  /** Algorithm of the generated key pair, the PKI policy's {@link PkiPolicy.keyAlgorithm}. */
  readonly keyAlgorithm: KeyAlgorithm;
  /** File stem on nodes (`sa` → sa.key, sa.pub). */
  readonly fileStem: string;
}

/** What goes to one node slot: certificates with keys, CA certificates (no CA key unless listed), key pairs. */
export interface SecretBundleSpec {
  /** Slot name (`apiserver-0`, `etcd-2`). */
  readonly slot: string;
  /** Certificates whose cert and key go to the slot. */
  readonly certificates: readonly string[];
  /** CAs whose certificate (only) goes to the slot. */
  readonly caCertificates: readonly string[];
  /** CAs whose private key also goes to the slot (the Kubernetes CA for the controller-manager's signer). */
  readonly caKeys: readonly string[];
  /** Key pairs that go to the slot. */
  readonly keyPairs: readonly string[];
}

/** Everything the control plane's PKI consists of. */
export interface ClusterCertificateSet {
  /** The three self-signed CAs: Kubernetes, etcd and front-proxy ({@link CA_IDS}). */
  readonly cas: readonly CertificateSpec[];
  /** Every leaf certificate: shared component clients, one serving certificate per API server slot, server and peer per etcd member. */
  readonly leaves: readonly CertificateSpec[];
  /** Key pairs without a certificate: the service-account signing key. */
  readonly keyPairs: readonly KeyPairSpec[];
  /** What each node slot receives (API server slots, and etcd members unless etcd is stacked). */
  readonly bundles: readonly SecretBundleSpec[];
}

/** An API server slot as the PKI needs it. */
export interface ApiServerSlotFacts {
  /** Slot name (`apiserver-0`); the serving certificate gets the SAN `<cluster>-<name>`. */
  readonly name: string;
  /** The slot's fixed private IPv4 address, put in the serving certificate's IP SANs. */
  readonly privateIp: string;
}

/** An etcd member as the PKI needs it. */
export interface EtcdMemberFacts {
  /** Member name (`etcd-0`, or the API slot name when stacked): the certificates' common name and first DNS SAN. */
  readonly name: string;
  /** The member's fixed private IPv4 address, put in its server and peer certificates' IP SANs. */
  readonly privateIp: string;
  /**
   * A DNS name the member is also reached by (a Route 53 record), added to its SANs.
   * @default - no extra name: the member is addressed by its name and IP only
   */
  readonly dnsName?: string;
}

/** The cluster facts certificates are built from. */
export interface ClusterFacts {
  /** The cluster's name; prefixes each API slot's DNS SAN (`<clusterName>-apiserver-0`). */
  readonly clusterName: string;
  /** API server slots. */
  readonly apiServers: readonly ApiServerSlotFacts[];
  /** Every etcd member; each gets a server and a peer certificate. */
  readonly etcdMembers: readonly EtcdMemberFacts[];
  /** Whether etcd runs on the API server nodes (members named like API slots). */
  readonly stackedEtcd: boolean;
  /** Every DNS name clients use for the API (load balancers, Route 53 names); may be tokens. */
  readonly apiServerNames: readonly string[];
  /** Service CIDR: its first address is the `kubernetes` service IP. */
  readonly serviceCidr: string;
  /** Cluster DNS domain. */
  readonly clusterDomain: string;
}

/** Validity and algorithm policy. */
export interface PkiPolicy {
  /**
   * Algorithm of every key of the cluster (CAs, leaves, service-account key). A value outside
   * {@link KeyAlgorithm} is a ConfigError.
   * @default KeyAlgorithm.ECDSA_P256
   */
  readonly keyAlgorithm?: KeyAlgorithm;
  /** CA validity in hours, a whole number from 8760 to 876000 (ConfigError otherwise). @default 87600 (10 years) */
  readonly caValidityHours?: number;
  /**
   * Leaf validity in hours, a whole number from 24 to 8760 (1 year), and no longer than the CA lives
   * before its own renewal (ConfigError otherwise).
   * @default 8760
   */
  readonly leafValidityHours?: number;
  /**
   * Leaf early renewal in hours: the first apply in a leaf's last this-many hours re-issues it. A
   * whole number from 1, shorter than the leaf validity (ConfigError otherwise).
   * @default DEFAULT_LEAF_EARLY_RENEWAL_HOURS (2160, 90 days: one deploy every 60 days renews with at least 30 days left)
   */
  readonly leafEarlyRenewalHours?: number;
  /**
   * CA early renewal in hours: the first apply in a CA's last this-many hours re-issues it. Shorter
   * than the CA validity (ConfigError otherwise).
   * @default 8760 (1 year: a year to roll the new CA out)
   */
  readonly caEarlyRenewalHours?: number;
}

/** Organization of cluster administrators (kubeadm ≥ 1.29; not system:masters, which RBAC cannot revoke). */
export const CLUSTER_ADMINS_GROUP = "kubeadm:cluster-admins";

/** Spec ids of the CAs. */
export const CA_IDS = {
  /** The Kubernetes CA: signs the API server, component and kubelet certificates (`ca.crt` on nodes). */
  kubernetes: "kubernetes-ca",
  /** The etcd CA: signs etcd server, peer and client certificates only (`etcd/ca.crt`). */
  etcd: "etcd-ca",
  /** The front-proxy CA: signs the aggregation layer's client certificate (`front-proxy-ca.crt`). */
  frontProxy: "front-proxy-ca",
} as const;

/** The first address of `serviceCidr`: the `kubernetes` service's cluster IP. */
export function kubernetesServiceIp(serviceCidr: string): string {
  const block = parseIpv4Cidr("serviceCidr", serviceCidr);
  if (block.size < 4) {
    throw new ConfigError("serviceCidr", serviceCidr, "cannot hold the kubernetes service IP and any other service", "use a /28 or larger, e.g. 10.96.0.0/12");
  }
  return host(block, 1);
}

/** The five in-cluster names of the API server. */
export function kubernetesServiceNames(clusterDomain: string): string[] {
  return ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster", `kubernetes.default.svc.${clusterDomain}`];
}

/** The prop name under which each PKI policy field is reported in a {@link ConfigError}. */
export interface PkiPolicyPropNames {
  /** Name reported for {@link PkiPolicy.keyAlgorithm}, e.g. `pki.keyAlgorithm`. */
  readonly keyAlgorithm: string;
  /** Name reported for {@link PkiPolicy.caValidityHours}. */
  readonly caValidityHours: string;
  /** Name reported for {@link PkiPolicy.leafValidityHours}. */
  readonly leafValidityHours: string;
  /** Name reported for {@link PkiPolicy.leafEarlyRenewalHours}. */
  readonly leafEarlyRenewalHours: string;
  /** Name reported for {@link PkiPolicy.caEarlyRenewalHours}. */
  readonly caEarlyRenewalHours: string;
}

/** Names of the fields as `ClusterPki` / `buildClusterCertificates` take them. */
export const PKI_POLICY_PROP_NAMES: PkiPolicyPropNames = {
  keyAlgorithm: "pki.keyAlgorithm",
  caValidityHours: "pki.caValidityHours",
  leafValidityHours: "pki.leafValidityHours",
  leafEarlyRenewalHours: "pki.leafEarlyRenewalHours",
  caEarlyRenewalHours: "pki.caEarlyRenewalHours",
};

/**
 * Validates a PKI policy and fills defaults. `names` are the prop names errors report (a construct
 * that takes the fields under other names passes its own, so the user sees the prop they set).
 */
export function resolvePolicy(policy: PkiPolicy = {}, names: PkiPolicyPropNames = PKI_POLICY_PROP_NAMES): Required<PkiPolicy> {
  const p = {
    keyAlgorithm: policy.keyAlgorithm ?? KeyAlgorithm.ECDSA_P256,
    caValidityHours: policy.caValidityHours ?? 87600,
    leafValidityHours: policy.leafValidityHours ?? 8760,
    leafEarlyRenewalHours: policy.leafEarlyRenewalHours ?? DEFAULT_LEAF_EARLY_RENEWAL_HOURS,
    caEarlyRenewalHours: policy.caEarlyRenewalHours ?? 8760,
  };
  if (!Object.values(KeyAlgorithm).includes(p.keyAlgorithm)) {
    throw new ConfigError(names.keyAlgorithm, p.keyAlgorithm, "is not a supported key algorithm", "use KeyAlgorithm.ECDSA_P256, RSA_2048 or RSA_4096");
  }
  const int = (prop: string, v: number, min: number, max: number, fix: string) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(prop, v, `must be a whole number of hours from ${min} to ${max}`, fix);
  };
  int(names.leafValidityHours, p.leafValidityHours, 24, 8760, "leaf certificates live at most 1 year (8760 h): use 8760 and let early renewal re-issue them");
  int(names.caValidityHours, p.caValidityHours, 8760, 876000, "use 87600 (10 years)");
  int(names.leafEarlyRenewalHours, p.leafEarlyRenewalHours, 1, 8760, "use 2160 (90 days)");
  int(names.caEarlyRenewalHours, p.caEarlyRenewalHours, 1, 876000, "use 8760 (1 year)");
  if (p.leafEarlyRenewalHours >= p.leafValidityHours) {
    throw new ConfigError(names.leafEarlyRenewalHours, p.leafEarlyRenewalHours, `must be shorter than ${names.leafValidityHours} (${p.leafValidityHours}), or every apply re-issues`, `use at most ${Math.floor(p.leafValidityHours / 2)}`);
  }
  if (p.caEarlyRenewalHours >= p.caValidityHours) {
    throw new ConfigError(names.caEarlyRenewalHours, p.caEarlyRenewalHours, `must be shorter than ${names.caValidityHours} (${p.caValidityHours})`, `use at most ${Math.floor(p.caValidityHours / 2)}`);
  }
  if (p.leafValidityHours > p.caValidityHours - p.caEarlyRenewalHours) {
    throw new ConfigError(names.leafValidityHours, p.leafValidityHours, "outlives the CA's renewal point", "shorten leaf validity or lengthen the CA's");
  }
  return p;
}

const DNS_DOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Builds every certificate spec of the control plane from the cluster's facts.
 */
export function buildClusterCertificates(facts: ClusterFacts, policy: PkiPolicy = {}): ClusterCertificateSet {
  const p = resolvePolicy(policy);
  if (!DNS_DOMAIN.test(facts.clusterDomain)) {
    throw new ConfigError("clusterDomain", facts.clusterDomain, "is not a lower-case DNS domain", 'use "cluster.local"');
  }
  const serviceIp = kubernetesServiceIp(facts.serviceCidr);
  const alg = p.keyAlgorithm;
  const ca = (id: string, commonName: string, fileStem: string): CertificateSpec => ({
    id,
    commonName,
    organizations: [],
    dnsNames: [],
    ipAddresses: [],
    kind: CertificateKind.CA,
    usages: USAGES[CertificateKind.CA],
    validityHours: p.caValidityHours,
    earlyRenewalHours: p.caEarlyRenewalHours,
    keyAlgorithm: alg,
    fileStem,
  });
  const leaf = (
    id: string,
    signer: string,
    kind: CertificateKind,
    commonName: string,
    fileStem: string,
    extra: { organizations?: string[]; dnsNames?: string[]; ipAddresses?: string[] } = {},
  ): CertificateSpec => ({
    id,
    commonName,
    organizations: extra.organizations ?? [],
    dnsNames: dedupe(extra.dnsNames ?? []),
    ipAddresses: dedupe(extra.ipAddresses ?? []),
    kind,
    usages: USAGES[kind],
    signer,
    validityHours: p.leafValidityHours,
    earlyRenewalHours: p.leafEarlyRenewalHours,
    keyAlgorithm: alg,
    fileStem,
  });

  const cas = [
    ca(CA_IDS.kubernetes, "kubernetes", "ca"),
    ca(CA_IDS.etcd, "etcd-ca", "etcd/ca"),
    ca(CA_IDS.frontProxy, "front-proxy-ca", "front-proxy-ca"),
  ];
  const K = CertificateKind;
  const shared = [
    leaf("apiserver-kubelet-client", CA_IDS.kubernetes, K.CLIENT, "kube-apiserver-kubelet-client", "apiserver-kubelet-client", { organizations: [CLUSTER_ADMINS_GROUP] }),
    leaf("front-proxy-client", CA_IDS.frontProxy, K.CLIENT, "front-proxy-client", "front-proxy-client"),
    leaf("apiserver-etcd-client", CA_IDS.etcd, K.CLIENT, "kube-apiserver-etcd-client", "apiserver-etcd-client"),
    leaf("controller-manager", CA_IDS.kubernetes, K.CLIENT, "system:kube-controller-manager", "controller-manager"),
    leaf("scheduler", CA_IDS.kubernetes, K.CLIENT, "system:kube-scheduler", "scheduler"),
    leaf("admin", CA_IDS.kubernetes, K.CLIENT, "kubernetes-admin", "admin", { organizations: [CLUSTER_ADMINS_GROUP] }),
    leaf("etcd-healthcheck-client", CA_IDS.etcd, K.CLIENT, "kube-etcd-healthcheck-client", "etcd/healthcheck-client"),
  ];
  const apiServing = facts.apiServers.map((slot) =>
    leaf(`apiserver-${slot.name}`, CA_IDS.kubernetes, K.SERVER, "kube-apiserver", "apiserver", {
      dnsNames: [`${facts.clusterName}-${slot.name}`, ...facts.apiServerNames, ...kubernetesServiceNames(facts.clusterDomain), "localhost"],
      ipAddresses: [slot.privateIp, serviceIp, "127.0.0.1"],
    }),
  );
  const etcdCerts = facts.etcdMembers.flatMap((m) => {
    const names = [m.name, ...(m.dnsName ? [m.dnsName] : [])];
    return [
      leaf(`etcd-server-${m.name}`, CA_IDS.etcd, K.SERVER_AND_CLIENT, m.name, "etcd/server", {
        dnsNames: [...names, "localhost"],
        ipAddresses: [m.privateIp, "127.0.0.1"],
      }),
      leaf(`etcd-peer-${m.name}`, CA_IDS.etcd, K.SERVER_AND_CLIENT, m.name, "etcd/peer", { dnsNames: names, ipAddresses: [m.privateIp] }),
    ];
  });
  const keyPairs: KeyPairSpec[] = [{ id: "service-account", keyAlgorithm: alg, fileStem: "sa" }];

  const apiBundle = (slot: ApiServerSlotFacts): SecretBundleSpec => ({
    slot: slot.name,
    certificates: [
      `apiserver-${slot.name}`,
      "apiserver-kubelet-client",
      "front-proxy-client",
      "apiserver-etcd-client",
      "controller-manager",
      "scheduler",
      ...(facts.stackedEtcd ? [`etcd-server-${slot.name}`, `etcd-peer-${slot.name}`, "etcd-healthcheck-client"] : []),
    ],
    caCertificates: [CA_IDS.kubernetes, CA_IDS.etcd, CA_IDS.frontProxy],
    // The controller-manager signs kubelet serving and client CSRs with the Kubernetes CA.
    caKeys: [CA_IDS.kubernetes],
    keyPairs: ["service-account"],
  });
  const bundles: SecretBundleSpec[] = facts.apiServers.map(apiBundle);
  if (!facts.stackedEtcd) {
    for (const m of facts.etcdMembers) {
      bundles.push({
        slot: m.name,
        certificates: [`etcd-server-${m.name}`, `etcd-peer-${m.name}`, "etcd-healthcheck-client"],
        caCertificates: [CA_IDS.etcd],
        caKeys: [],
        keyPairs: [],
      });
    }
  } else {
    const slots = new Set(facts.apiServers.map((s) => s.name));
    for (const m of facts.etcdMembers) {
      if (!slots.has(m.name)) throw new ConfigError("etcd.members", m.name, "stacked etcd members must be named after the API server slots they run on", "pass the API server slots as members");
    }
  }
  return { cas, leaves: [...shared, ...apiServing, ...etcdCerts], keyPairs, bundles };
}

/** Looks a spec up by id. */
export function specById(set: ClusterCertificateSet, id: string): CertificateSpec {
  const spec = [...set.cas, ...set.leaves].find((s) => s.id === id);
  if (!spec) throw new Error(`no certificate spec ${id}`);
  return spec;
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}
