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
  /** Each trust domain's issuing and trusted CAs (kubernetes, etcd, front-proxy). */
  readonly trust: readonly TrustDomainState[];
}

/** Where each trust domain stands ({@link buildClusterCertificates}). */
export interface CaRotations {
  /**
   * The Kubernetes CA.
   * @default - generation 1, no rotation
   */
  readonly kubernetes?: CaRotation;
  /**
   * The etcd CA.
   * @default - generation 1, no rotation
   */
  readonly etcd?: CaRotation;
  /**
   * The front-proxy CA.
   * @default - generation 1, no rotation
   */
  readonly frontProxy?: CaRotation;
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

/** The trust domains of the cluster PKI: each has its own CA and is rotated on its own. */
export enum CaTrustDomain {
  /** The Kubernetes CA (`ca.crt`): API server serving and client certificates, kubelets, components. */
  KUBERNETES = "KUBERNETES",
  /** The etcd CA (`etcd/ca.crt`): etcd server, peer and client certificates. */
  ETCD = "ETCD",
  /** The front-proxy CA (`front-proxy-ca.crt`): the aggregation layer's client certificate. */
  FRONT_PROXY = "FRONT_PROXY",
}

/**
 * The phases of a staged CA rotation from generation `g` to `g + 1`, one `cdktf deploy` each
 * (kops' order). Between two phases every node must have refreshed (the hourly
 * `ha-refresh-secrets`, or run it by hand) and the workers must have followed (README, *CA rotation*).
 */
export enum CaRotationPhase {
  /** No rotation: generation `g` is the only CA of the domain, trusted and issuing. */
  NONE = "NONE",
  /**
   * Phase 1: a new CA (generation `g + 1`, a new key) is created and added to every trust bundle of
   * the domain (`ca.crt` files and embedded kubeconfig CA data hold old and new); every leaf is still
   * issued by the old CA. Nodes restart what reads CAs only at start.
   */
  TRUST_BOTH = "TRUST_BOTH",
  /** Phase 2: every leaf of the domain is re-issued by the new CA; the old one is still trusted. */
  ISSUE_NEW = "ISSUE_NEW",
  /**
   * Phase 3: the old CA is removed (its Terraform resources destroyed); only the new one is trusted.
   * Synthesizes exactly as `{ generation: g + 1, phase: NONE }`, the setting to keep afterwards.
   */
  DISTRUST_OLD = "DISTRUST_OLD",
}

/** Where a trust domain stands: its CA generation and the rotation phase away from it. */
export interface CaRotation {
  /**
   * The CA generation in use: the old CA during a rotation. Generation 1 is the CA the cluster was
   * created with (construct ids `kubernetes-ca-*`); generation `g > 1` has ids `kubernetes-ca-g<g>-*`.
   * A whole number from 1 to 999.
   * @default 1
   */
  readonly generation?: number;
  /**
   * The rotation phase towards generation `generation + 1`.
   * @default CaRotationPhase.NONE
   */
  readonly phase?: CaRotationPhase;
}

/** What names a trust domain's CA. */
export interface CaDomainNames {
  /** Spec id of generation 1 (`kubernetes-ca`); later generations append `-g<n>`. */
  readonly baseId: string;
  /** Subject common name of every generation. */
  readonly commonName: string;
  /** File stem of the domain's trust bundle on nodes (`ca` → `ca.crt`). */
  readonly fileStem: string;
  /** The `ClusterPki` / `HaControlPlane` prop that rotates the domain, as errors name it. */
  readonly prop: string;
}

/** Base spec id and file stem of each trust domain's CA. */
export const CA_DOMAINS: Readonly<Record<CaTrustDomain, CaDomainNames>> = {
  [CaTrustDomain.KUBERNETES]: { baseId: CA_IDS.kubernetes, commonName: "kubernetes", fileStem: "ca", prop: "kubernetesCaRotation" },
  [CaTrustDomain.ETCD]: { baseId: CA_IDS.etcd, commonName: "etcd-ca", fileStem: "etcd/ca", prop: "etcdCaRotation" },
  [CaTrustDomain.FRONT_PROXY]: { baseId: CA_IDS.frontProxy, commonName: "front-proxy-ca", fileStem: "front-proxy-ca", prop: "frontProxyCaRotation" },
};

/** The spec id of a domain's CA of `generation` (generation 1 keeps the original id). */
export function caSpecId(domain: CaTrustDomain, generation: number): string {
  const base = CA_DOMAINS[domain].baseId;
  return generation === 1 ? base : `${base}-g${generation}`;
}

/** A trust domain's CAs in one phase: which one issues, which ones are trusted (issuing first). */
export interface TrustDomainState {
  /** Which CA family this is: Kubernetes, etcd or front-proxy. */
  readonly domain: CaTrustDomain;
  /** Spec id of the CA that signs the domain's leaves. */
  readonly issuing: string;
  /** Spec ids of every trusted CA, the issuing one first: what the domain's `.crt` bundle holds. */
  readonly trusted: readonly string[];
}

/**
 * Validates a rotation setting and returns the domain's CAs. `prop` is the name errors report.
 * Phases skipped between two deploys cannot be seen here (no state is read at synthesis); the
 * runbook's plan check catches them (README, *CA rotation*).
 */
export function resolveCaRotation(domain: CaTrustDomain, rotation: CaRotation | undefined, prop: string = CA_DOMAINS[domain].prop): TrustDomainState {
  const generation = rotation?.generation ?? 1;
  const phase = rotation?.phase ?? CaRotationPhase.NONE;
  if (!Number.isInteger(generation) || generation < 1 || generation > 999) {
    throw new ConfigError(`${prop}.generation`, generation, "must be a whole number from 1 to 999 (the generation of the CA in use; 1 is the one the cluster was created with)", "use 1, or the generation a finished rotation moved to");
  }
  if (!Object.values(CaRotationPhase).includes(phase)) {
    throw new ConfigError(`${prop}.phase`, phase, "is not a rotation phase", "use CaRotationPhase.NONE, TRUST_BOTH, ISSUE_NEW or DISTRUST_OLD, one deploy each, in this order");
  }
  if (generation === 999 && phase !== CaRotationPhase.NONE) {
    throw new ConfigError(`${prop}.generation`, generation, "is the last generation: no rotation past it", "keep CaRotationPhase.NONE");
  }
  const old = caSpecId(domain, generation);
  const next = generation < 999 ? caSpecId(domain, generation + 1) : old;
  switch (phase) {
    case CaRotationPhase.NONE:
      return { domain, issuing: old, trusted: [old] };
    case CaRotationPhase.TRUST_BOTH:
      return { domain, issuing: old, trusted: [old, next] };
    case CaRotationPhase.ISSUE_NEW:
      return { domain, issuing: next, trusted: [next, old] };
    case CaRotationPhase.DISTRUST_OLD:
      return { domain, issuing: next, trusted: [next] };
  }
}

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
export function buildClusterCertificates(facts: ClusterFacts, policy: PkiPolicy = {}, rotations: CaRotations = {}): ClusterCertificateSet {
  const p = resolvePolicy(policy);
  const K8S = resolveCaRotation(CaTrustDomain.KUBERNETES, rotations.kubernetes);
  const ETCD = resolveCaRotation(CaTrustDomain.ETCD, rotations.etcd);
  const FP = resolveCaRotation(CaTrustDomain.FRONT_PROXY, rotations.frontProxy);
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

  // Every trusted CA of each domain: old and new during a rotation (same file stem: one bundle).
  const trust = [K8S, ETCD, FP];
  const cas = trust.flatMap((t) => [...t.trusted].sort().map((id) => ca(id, CA_DOMAINS[t.domain].commonName, CA_DOMAINS[t.domain].fileStem)));
  const CA = { kubernetes: K8S.issuing, etcd: ETCD.issuing, frontProxy: FP.issuing };
  const K = CertificateKind;
  const shared = [
    leaf("apiserver-kubelet-client", CA.kubernetes, K.CLIENT, "kube-apiserver-kubelet-client", "apiserver-kubelet-client", { organizations: [CLUSTER_ADMINS_GROUP] }),
    leaf("front-proxy-client", CA.frontProxy, K.CLIENT, "front-proxy-client", "front-proxy-client"),
    leaf("apiserver-etcd-client", CA.etcd, K.CLIENT, "kube-apiserver-etcd-client", "apiserver-etcd-client"),
    leaf("controller-manager", CA.kubernetes, K.CLIENT, "system:kube-controller-manager", "controller-manager"),
    leaf("scheduler", CA.kubernetes, K.CLIENT, "system:kube-scheduler", "scheduler"),
    leaf("admin", CA.kubernetes, K.CLIENT, "kubernetes-admin", "admin", { organizations: [CLUSTER_ADMINS_GROUP] }),
    leaf("etcd-healthcheck-client", CA.etcd, K.CLIENT, "kube-etcd-healthcheck-client", "etcd/healthcheck-client"),
  ];
  const apiServing = facts.apiServers.map((slot) =>
    leaf(`apiserver-${slot.name}`, CA.kubernetes, K.SERVER, "kube-apiserver", "apiserver", {
      dnsNames: [`${facts.clusterName}-${slot.name}`, ...facts.apiServerNames, ...kubernetesServiceNames(facts.clusterDomain), "localhost"],
      ipAddresses: [slot.privateIp, serviceIp, "127.0.0.1"],
    }),
  );
  const etcdCerts = facts.etcdMembers.flatMap((m) => {
    const names = [m.name, ...(m.dnsName ? [m.dnsName] : [])];
    return [
      leaf(`etcd-server-${m.name}`, CA.etcd, K.SERVER_AND_CLIENT, m.name, "etcd/server", {
        dnsNames: [...names, "localhost"],
        ipAddresses: [m.privateIp, "127.0.0.1"],
      }),
      leaf(`etcd-peer-${m.name}`, CA.etcd, K.SERVER_AND_CLIENT, m.name, "etcd/peer", { dnsNames: names, ipAddresses: [m.privateIp] }),
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
    caCertificates: [...K8S.trusted, ...ETCD.trusted, ...FP.trusted],
    // The controller-manager signs kubelet serving and client CSRs with the Kubernetes CA.
    caKeys: [K8S.issuing],
    keyPairs: ["service-account"],
  });
  const bundles: SecretBundleSpec[] = facts.apiServers.map(apiBundle);
  if (!facts.stackedEtcd) {
    for (const m of facts.etcdMembers) {
      bundles.push({
        slot: m.name,
        certificates: [`etcd-server-${m.name}`, `etcd-peer-${m.name}`, "etcd-healthcheck-client"],
        caCertificates: [...ETCD.trusted],
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
  return { cas, leaves: [...shared, ...apiServing, ...etcdCerts], keyPairs, bundles, trust };
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

/** Which PEM value of a spec a secret file part is. */
export enum SecretFilePartKind {
  /** The certificate. */
  CERT = "cert",
  /** The private key. */
  KEY = "key",
  /** The public key (key pairs: `sa.pub`). */
  PUBLIC_KEY = "publicKey",
}

/** One part of a secret file: a spec's certificate, private key or public key. */
export interface SecretFilePart {
  /** Spec id of the certificate or key pair (`kubernetes-ca`, `apiserver-apiserver-0`, `service-account`). */
  readonly id: string;
  /** Which of the spec's PEM values: `cert`, `key` or (key pairs) `publicKey`. */
  readonly part: SecretFilePartKind;
}

/** One file of a slot's secret and what it is made of, in order. */
export interface SecretFileSpec {
  /** Path relative to the node's PKI directory (`ca.crt`, `etcd/peer.key`, `sa.pub`). */
  readonly path: string;
  /** The parts concatenated into the file: a spec's certificate, private key or public key. */
  readonly parts: readonly SecretFilePart[];
}

/**
 * The files of one slot's secret (kubeadm's layout). A trust bundle (`ca.crt`, `etcd/ca.crt`,
 * `front-proxy-ca.crt`) concatenates every trusted CA of its domain, the issuing one first; the
 * Kubernetes CA whose key is on the node also goes alone to `ca-signer.crt`, the controller-manager's
 * `--cluster-signing-cert-file` (which must hold exactly one certificate, the one matching `ca.key`).
 */
export function secretFileLayout(set: ClusterCertificateSet, bundle: SecretBundleSpec): SecretFileSpec[] {
  const files = new Map<string, SecretFilePart[]>();
  const add = (file: string, id: string, part: SecretFilePartKind) => files.set(file, [...(files.get(file) ?? []), { id, part }]);
  for (const id of bundle.caCertificates) add(`${specById(set, id).fileStem}.crt`, id, SecretFilePartKind.CERT);
  for (const id of bundle.caKeys) {
    const stem = specById(set, id).fileStem;
    add(`${stem}.key`, id, SecretFilePartKind.KEY);
    add(`${stem}-signer.crt`, id, SecretFilePartKind.CERT);
  }
  for (const id of bundle.certificates) {
    const stem = specById(set, id).fileStem;
    add(`${stem}.crt`, id, SecretFilePartKind.CERT);
    add(`${stem}.key`, id, SecretFilePartKind.KEY);
  }
  for (const id of bundle.keyPairs) {
    const kp = set.keyPairs.find((k) => k.id === id);
    if (!kp) throw new Error(`no key pair spec ${id}`);
    add(`${kp.fileStem}.key`, id, SecretFilePartKind.KEY);
    add(`${kp.fileStem}.pub`, id, SecretFilePartKind.PUBLIC_KEY);
  }
  return [...files.entries()].map(([path, parts]) => ({ path, parts }));
}
