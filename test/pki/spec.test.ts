/**
 * The certificate spec model (lib/pki/spec.ts) against tables written from outside the library:
 *
 * - Kubernetes, "PKI certificates and requirements" (kubernetes.io/docs/setup/best-practices/certificates):
 *   the parent CA and kind of each certificate, its file under /etc/kubernetes/pki, the API server's
 *   SANs (`kubernetes`, `kubernetes.default`, `kubernetes.default.svc`,
 *   `kubernetes.default.svc.cluster`, `kubernetes.default.svc.<domain>`), and what the kinds mean:
 *   server = digital signature, key encipherment, server auth; client = digital signature, key
 *   encipherment, client auth.
 * - "Configure certificates for user accounts" (same page): controller-manager CN
 *   `system:kube-controller-manager`, scheduler CN `system:kube-scheduler`, admin CN `kubernetes-admin`
 *   in `kubeadm:cluster-admins` (kubeadm ≥ 1.29).
 * - RFC 5280 §4.2.1.3: a CA key signs certificates (keyCertSign) and CRLs (cRLSign).
 * - RFC 1035 §2.3.4 / RFC 1123 §2.1: labels of 1-63 letters, digits and hyphens, not starting or
 *   ending with a hyphen; a name of at most 253 characters.
 * - kube-apiserver `--service-cluster-ip-range`: the `kubernetes` service takes the first address
 *   after the network address (10.96.0.0/12 → 10.96.0.1).
 * - kubeadm certificate management: CAs live 10 years (87600 h), leaves 1 year (8760 h).
 * The policy bounds are the documented contract of {@link PkiPolicy} (README, doc comments), written
 * here as literal boundary values.
 */
import { ConfigError } from "../../lib/errors";
import {
  CA_DOMAINS,
  CA_IDS,
  CaRotation,
  CaRotationPhase,
  CaTrustDomain,
  CertificateKind,
  ClusterFacts,
  DEFAULT_LEAF_EARLY_RENEWAL_HOURS,
  KeyAlgorithm,
  KeyUsage,
  PkiPolicy,
  buildClusterCertificates,
  kubernetesServiceIp,
  caSpecId,
  kubernetesServiceNames,
  resolveCaRotation,
  resolvePolicy,
  secretFileLayout,
  specById,
} from "../../lib/pki/spec";

const facts = (over: Partial<ClusterFacts> = {}): ClusterFacts => ({
  clusterName: "prod",
  apiServers: [
    { name: "apiserver-0", privateIp: "10.0.1.10" },
    { name: "apiserver-1", privateIp: "10.0.2.10" },
  ],
  etcdMembers: [
    { name: "etcd-0", privateIp: "10.0.1.20", dnsName: "etcd-0.prod.internal" },
    { name: "etcd-1", privateIp: "10.0.2.20" },
  ],
  stackedEtcd: false,
  apiServerNames: ["api.prod.example.com", "prod-nlb-123.elb.eu-west-1.amazonaws.com"],
  serviceCidr: "10.96.0.0/12",
  clusterDomain: "cluster.local",
  ...over,
});

const SERVER = ["digital_signature", "key_encipherment", "server_auth"];
const CLIENT = ["digital_signature", "key_encipherment", "client_auth"];
const SERVER_CLIENT = ["digital_signature", "key_encipherment", "server_auth", "client_auth"];

/**
 * Kubernetes docs, "All certificates" and "Certificate paths": spec id → [CN, parent CA, usages,
 * file under /etc/kubernetes/pki without .crt/.key, organizations]. The library's etcd server and
 * peer certificates carry the member name as CN (the docs' kube-etcd / kube-etcd-peer are defaults).
 */
const LEAVES: Record<string, [string, string, string[], string, string[]]> = {
  "apiserver-kubelet-client": ["kube-apiserver-kubelet-client", "kubernetes-ca", CLIENT, "apiserver-kubelet-client", ["kubeadm:cluster-admins"]],
  "front-proxy-client": ["front-proxy-client", "front-proxy-ca", CLIENT, "front-proxy-client", []],
  "apiserver-etcd-client": ["kube-apiserver-etcd-client", "etcd-ca", CLIENT, "apiserver-etcd-client", []],
  "controller-manager": ["system:kube-controller-manager", "kubernetes-ca", CLIENT, "controller-manager", []],
  scheduler: ["system:kube-scheduler", "kubernetes-ca", CLIENT, "scheduler", []],
  admin: ["kubernetes-admin", "kubernetes-ca", CLIENT, "admin", ["kubeadm:cluster-admins"]],
  "etcd-healthcheck-client": ["kube-etcd-healthcheck-client", "etcd-ca", CLIENT, "etcd/healthcheck-client", []],
  "apiserver-apiserver-0": ["kube-apiserver", "kubernetes-ca", SERVER, "apiserver", []],
  "apiserver-apiserver-1": ["kube-apiserver", "kubernetes-ca", SERVER, "apiserver", []],
  "etcd-server-etcd-0": ["etcd-0", "etcd-ca", SERVER_CLIENT, "etcd/server", []],
  "etcd-peer-etcd-0": ["etcd-0", "etcd-ca", SERVER_CLIENT, "etcd/peer", []],
  "etcd-server-etcd-1": ["etcd-1", "etcd-ca", SERVER_CLIENT, "etcd/server", []],
  "etcd-peer-etcd-1": ["etcd-1", "etcd-ca", SERVER_CLIENT, "etcd/peer", []],
};

/** "Single root CA": path → id and CN (the library names the Kubernetes CA's CN `kubernetes`, as kubeadm does). */
const CAS: Record<string, [string, string]> = {
  "kubernetes-ca": ["kubernetes", "ca"],
  "etcd-ca": ["etcd-ca", "etcd/ca"],
  "front-proxy-ca": ["front-proxy-ca", "front-proxy-ca"],
};

const sorted = (a: readonly string[]): string[] => [...a].sort();

describe("certificate specs, against the Kubernetes PKI tables", () => {
  const set = buildClusterCertificates(facts());

  it("has exactly the CAs of the docs, self-signed, with keyCertSign and cRLSign (RFC 5280), 10 years, renewed 1 year early", () => {
    expect(sorted(set.cas.map((c) => c.id))).toEqual(sorted(Object.keys(CAS)));
    expect(CA_IDS).toEqual({ kubernetes: "kubernetes-ca", etcd: "etcd-ca", frontProxy: "front-proxy-ca" });
    for (const ca of set.cas) {
      const [cn, file] = CAS[ca.id];
      expect({ id: ca.id, cn: ca.commonName, file: ca.fileStem, signer: ca.signer, kind: ca.kind }).toEqual({ id: ca.id, cn, file, signer: undefined, kind: "CA" });
      expect(sorted(ca.usages)).toEqual(sorted(["cert_signing", "crl_signing", "digital_signature", "key_encipherment"]));
      expect([ca.organizations, ca.dnsNames, ca.ipAddresses]).toEqual([[], [], []]);
      expect([ca.validityHours, ca.earlyRenewalHours, ca.keyAlgorithm]).toEqual([87600, 8760, "ECDSA_P256"]);
    }
  });

  it("has exactly the leaves of the docs, each with its CN, parent CA, kind's usages, file and groups", () => {
    expect(sorted(set.leaves.map((l) => l.id))).toEqual(sorted(Object.keys(LEAVES)));
    for (const leaf of set.leaves) {
      const [cn, signer, usages, file, orgs] = LEAVES[leaf.id];
      expect({ id: leaf.id, cn: leaf.commonName, signer: leaf.signer, usages: sorted(leaf.usages), file: leaf.fileStem, orgs: leaf.organizations }).toEqual({
        id: leaf.id,
        cn,
        signer,
        usages: sorted(usages),
        file,
        orgs,
      });
      expect([leaf.validityHours, leaf.earlyRenewalHours, leaf.keyAlgorithm]).toEqual([8760, 2160, "ECDSA_P256"]);
      expect(leaf.kind).toBe(usages === SERVER ? "SERVER" : usages === CLIENT ? "CLIENT" : "SERVER_AND_CLIENT");
    }
  });

  it("names the enum values as the Terraform tls provider's allowed_uses and the kinds by their role", () => {
    expect(Object.values(KeyUsage).sort()).toEqual(["cert_signing", "client_auth", "crl_signing", "digital_signature", "key_encipherment", "server_auth"]);
    expect(Object.values(CertificateKind).sort()).toEqual(["CA", "CLIENT", "SERVER", "SERVER_AND_CLIENT"]);
    expect(Object.values(KeyAlgorithm).sort()).toEqual(["ECDSA_P256", "RSA_2048", "RSA_4096"]);
  });

  it("gives client certificates no SANs", () => {
    for (const leaf of set.leaves.filter((l) => l.kind === CertificateKind.CLIENT)) {
      expect({ id: leaf.id, dns: leaf.dnsNames, ips: leaf.ipAddresses }).toEqual({ id: leaf.id, dns: [], ips: [] });
    }
  });

  it("gives each API server its slot name, the API names, the five kubernetes names and localhost; its IP, 10.96.0.1 and 127.0.0.1", () => {
    const kube = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster", "kubernetes.default.svc.cluster.local"];
    expect(specById(set, "apiserver-apiserver-0").dnsNames).toEqual(["prod-apiserver-0", "api.prod.example.com", "prod-nlb-123.elb.eu-west-1.amazonaws.com", ...kube, "localhost"]);
    expect(specById(set, "apiserver-apiserver-0").ipAddresses).toEqual(["10.0.1.10", "10.96.0.1", "127.0.0.1"]);
    expect(specById(set, "apiserver-apiserver-1").dnsNames[0]).toBe("prod-apiserver-1");
    expect(specById(set, "apiserver-apiserver-1").ipAddresses).toEqual(["10.0.2.10", "10.96.0.1", "127.0.0.1"]);
    const other = buildClusterCertificates(facts({ clusterDomain: "corp.example", serviceCidr: "172.20.0.0/16" }));
    expect(specById(other, "apiserver-apiserver-0").dnsNames).toContain("kubernetes.default.svc.corp.example");
    expect(specById(other, "apiserver-apiserver-0").dnsNames).not.toContain("kubernetes.default.svc.cluster.local");
    expect(specById(other, "apiserver-apiserver-0").ipAddresses).toEqual(["10.0.1.10", "172.20.0.1", "127.0.0.1"]);
  });

  it("lists each SAN once when the API names repeat one", () => {
    const dup = buildClusterCertificates(facts({ apiServerNames: ["localhost", "api.x", "api.x", "kubernetes"] }));
    const dns = specById(dup, "apiserver-apiserver-0").dnsNames;
    expect(dns).toEqual(["prod-apiserver-0", "localhost", "api.x", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster", "kubernetes.default.svc.cluster.local"]);
    const sameIp = buildClusterCertificates(facts({ apiServers: [{ name: "apiserver-0", privateIp: "127.0.0.1" }] }));
    expect(specById(sameIp, "apiserver-apiserver-0").ipAddresses).toEqual(["127.0.0.1", "10.96.0.1"]);
  });

  it("gives etcd servers hostname, extra DNS name, localhost, host IP and 127.0.0.1; peers hostname, DNS name and host IP", () => {
    expect(specById(set, "etcd-server-etcd-0").dnsNames).toEqual(["etcd-0", "etcd-0.prod.internal", "localhost"]);
    expect(specById(set, "etcd-server-etcd-0").ipAddresses).toEqual(["10.0.1.20", "127.0.0.1"]);
    expect(specById(set, "etcd-peer-etcd-0").dnsNames).toEqual(["etcd-0", "etcd-0.prod.internal"]);
    expect(specById(set, "etcd-peer-etcd-0").ipAddresses).toEqual(["10.0.1.20"]);
    expect(specById(set, "etcd-server-etcd-1").dnsNames).toEqual(["etcd-1", "localhost"]);
    expect(specById(set, "etcd-peer-etcd-1").dnsNames).toEqual(["etcd-1"]);
    expect(specById(set, "etcd-peer-etcd-1").ipAddresses).toEqual(["10.0.2.20"]);
  });

  it("has one service-account key pair, sa.key / sa.pub", () => {
    expect(set.keyPairs).toEqual([{ id: "service-account", keyAlgorithm: "ECDSA_P256", fileStem: "sa" }]);
  });

  it("sends each API server its own serving cert, the component clients, the three CA certs, the Kubernetes CA key (controller-manager signer) and the SA key", () => {
    const api = (slot: string, etcd: string[] = []) => ({
      slot,
      certificates: [`apiserver-${slot}`, "apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client", "controller-manager", "scheduler", ...etcd],
      caCertificates: ["kubernetes-ca", "etcd-ca", "front-proxy-ca"],
      caKeys: ["kubernetes-ca"],
      keyPairs: ["service-account"],
    });
    const etcd = (slot: string) => ({ slot, certificates: [`etcd-server-${slot}`, `etcd-peer-${slot}`, "etcd-healthcheck-client"], caCertificates: ["etcd-ca"], caKeys: [], keyPairs: [] });
    expect(set.bundles).toEqual([api("apiserver-0"), api("apiserver-1"), etcd("etcd-0"), etcd("etcd-1")]);

    const stacked = buildClusterCertificates(
      facts({ stackedEtcd: true, etcdMembers: [{ name: "apiserver-0", privateIp: "10.0.1.10" }, { name: "apiserver-1", privateIp: "10.0.2.10" }] }),
    );
    const etcdOf = (slot: string) => [`etcd-server-${slot}`, `etcd-peer-${slot}`, "etcd-healthcheck-client"];
    expect(stacked.bundles).toEqual([api("apiserver-0", etcdOf("apiserver-0")), api("apiserver-1", etcdOf("apiserver-1"))]);
  });

  it("refuses a stacked etcd member not named after an API server slot, naming etcd.members", () => {
    const build = () => buildClusterCertificates(facts({ stackedEtcd: true, etcdMembers: [{ name: "apiserver-0", privateIp: "10.0.1.10" }, { name: "etcd-9", privateIp: "10.0.3.10" }] }));
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/^etcd\.members is "etcd-9": stacked etcd members must be named after the API server slots they run on; pass the API server slots as members$/);
  });

  it("finds specs by id and fails loudly on an unknown one", () => {
    expect(specById(set, "etcd-ca").commonName).toBe("etcd-ca");
    expect(specById(set, "scheduler").commonName).toBe("system:kube-scheduler");
    expect(() => specById(set, "kubelet")).toThrow(/^no certificate spec kubelet$/);
  });

  it("uses the policy's algorithm for every key", () => {
    const rsa = buildClusterCertificates(facts(), { keyAlgorithm: KeyAlgorithm.RSA_4096 });
    expect(new Set([...rsa.cas, ...rsa.leaves, ...rsa.keyPairs].map((s) => s.keyAlgorithm))).toEqual(new Set(["RSA_4096"]));
  });
});

describe("the kubernetes service IP and names", () => {
  it.each([
    ["10.96.0.0/12", "10.96.0.1"],
    ["172.20.0.0/16", "172.20.0.1"],
    ["192.168.4.0/30", "192.168.4.1"],
  ])("%s → %s (the first address after the network address)", (cidr, ip) => {
    expect(kubernetesServiceIp(cidr)).toBe(ip);
  });

  it.each(["192.168.4.0/31", "192.168.4.0/32"])("refuses %s: no room for the service IP and another service", (cidr) => {
    expect(() => kubernetesServiceIp(cidr)).toThrow(ConfigError);
    expect(() => kubernetesServiceIp(cidr)).toThrow(`serviceCidr is "${cidr}": cannot hold the kubernetes service IP and any other service; use a /28 or larger, e.g. 10.96.0.0/12`);
  });

  it.each(["10.96.0.0", "10.96.0.0/33", "10.96.0/12", "service"])("refuses %j as a block, naming serviceCidr", (cidr) => {
    expect(() => kubernetesServiceIp(cidr)).toThrow(ConfigError);
    expect(() => kubernetesServiceIp(cidr)).toThrow(new RegExp(`^serviceCidr is "${cidr}": `));
  });

  it("are the five names kubeadm puts in the API server certificate", () => {
    expect(kubernetesServiceNames("cluster.local")).toEqual(["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster", "kubernetes.default.svc.cluster.local"]);
  });
});

describe("the cluster DNS domain (RFC 1035 / RFC 1123)", () => {
  const label63 = "a".repeat(63);
  /** 4 labels of 63 + 3 dots = 255; trimmed to exactly 253 and 254 characters. */
  const long = (n: number) => [label63, label63, label63, "a".repeat(n - 3 * 64)].join(".");
  it.each(["cluster.local", "a", "k8s.corp-1.example", "0.a", `${label63}.local`, "a-b.c-d", long(253)])("accepts %s", (d) => {
    expect(long(253)).toHaveLength(253);
    expect(() => buildClusterCertificates(facts({ clusterDomain: d }))).not.toThrow();
  });
  it.each(["", "Cluster.local", "cluster.LOCAL", "-a.local", "a-.local", "a.-b", "a.b-", "a..b", ".a", "a.", "a_b.local", "a b", `${"a".repeat(64)}.local`, `local.${"a".repeat(64)}`, long(254), "ünï.local", "a.b/c"])(
    "refuses %j, naming clusterDomain",
    (d) => {
      expect(long(254)).toHaveLength(254);
      const build = () => buildClusterCertificates(facts({ clusterDomain: d }));
      expect(build).toThrow(ConfigError);
      expect(build).toThrow(`clusterDomain is ${JSON.stringify(d.length > 80 ? d.slice(0, 77) + "..." : d)}: is not a lower-case DNS domain; use "cluster.local"`);
    },
  );
});

describe("the PKI policy", () => {
  it("defaults as kubeadm: ECDSA P-256, CAs 10 years renewed 1 year early, leaves 1 year renewed 90 days early", () => {
    expect(resolvePolicy()).toEqual({ keyAlgorithm: "ECDSA_P256", caValidityHours: 87600, leafValidityHours: 8760, leafEarlyRenewalHours: 2160, caEarlyRenewalHours: 8760 });
    expect(DEFAULT_LEAF_EARLY_RENEWAL_HOURS).toBe(90 * 24);
  });

  it("keeps every value it is given", () => {
    const p: PkiPolicy = { keyAlgorithm: KeyAlgorithm.RSA_2048, caValidityHours: 20000, leafValidityHours: 100, leafEarlyRenewalHours: 50, caEarlyRenewalHours: 5000 };
    expect(resolvePolicy(p)).toEqual(p);
  });

  /** Accepted at the edges of the documented ranges. */
  it.each<[string, PkiPolicy]>([
    ["leaf 24 h renewed 23 h early", { leafValidityHours: 24, leafEarlyRenewalHours: 23 }],
    ["leaf 8760 h renewed 8759 h early", { leafValidityHours: 8760, leafEarlyRenewalHours: 8759 }],
    ["leaf renewed 1 h early", { leafEarlyRenewalHours: 1 }],
    ["CA 8760 h renewed 1 h early, leaf 8759 h", { caValidityHours: 8760, caEarlyRenewalHours: 1, leafValidityHours: 8759 }],
    ["CA 876000 h renewed 867240 h early, leaf 8760 h (exactly at the CA's renewal point)", { caValidityHours: 876000, caEarlyRenewalHours: 867240 }],
    ["CA 876000 h renewed 1 h early", { caValidityHours: 876000, caEarlyRenewalHours: 1 }],
  ])("accepts %s", (_t, p) => {
    expect(() => resolvePolicy(p)).not.toThrow();
  });

  /** [title, policy, prop, message]: the message names prop, value, the rule and the fix. */
  const bad: Array<[string, PkiPolicy, string, string]> = [
    ["an unknown algorithm", { keyAlgorithm: "ED25519" as KeyAlgorithm }, "pki.keyAlgorithm", 'pki.keyAlgorithm is "ED25519": is not a supported key algorithm; use KeyAlgorithm.ECDSA_P256, RSA_2048 or RSA_4096'],
    ["a leaf of 23 h", { leafValidityHours: 23, leafEarlyRenewalHours: 1 }, "pki.leafValidityHours", "pki.leafValidityHours is 23: must be a whole number of hours from 24 to 8760; leaf certificates live at most 1 year (8760 h): use 8760 and let early renewal re-issue them"],
    ["a leaf of 8761 h", { leafValidityHours: 8761 }, "pki.leafValidityHours", "pki.leafValidityHours is 8761: must be a whole number of hours from 24 to 8760; leaf certificates"],
    ["a leaf of 100.5 h", { leafValidityHours: 100.5, leafEarlyRenewalHours: 1 }, "pki.leafValidityHours", "pki.leafValidityHours is 100.5: must be a whole number"],
    ["a CA of 8759 h", { caValidityHours: 8759, caEarlyRenewalHours: 1, leafValidityHours: 24, leafEarlyRenewalHours: 1 }, "pki.caValidityHours", "pki.caValidityHours is 8759: must be a whole number of hours from 8760 to 876000; use 87600 (10 years)"],
    ["a CA of 876001 h", { caValidityHours: 876001 }, "pki.caValidityHours", "pki.caValidityHours is 876001: must be a whole number of hours from 8760 to 876000; use 87600 (10 years)"],
    ["a CA of 9000.5 h", { caValidityHours: 9000.5, caEarlyRenewalHours: 1, leafValidityHours: 24, leafEarlyRenewalHours: 1 }, "pki.caValidityHours", "pki.caValidityHours is 9000.5: must be a whole number"],
    ["a leaf renewed 0 h early", { leafEarlyRenewalHours: 0 }, "pki.leafEarlyRenewalHours", "pki.leafEarlyRenewalHours is 0: must be a whole number of hours from 1 to 8760; use 2160 (90 days)"],
    ["a leaf renewed 8761 h early", { leafEarlyRenewalHours: 8761 }, "pki.leafEarlyRenewalHours", "pki.leafEarlyRenewalHours is 8761: must be a whole number of hours from 1 to 8760; use 2160 (90 days)"],
    ["a leaf renewed 1.5 h early", { leafEarlyRenewalHours: 1.5 }, "pki.leafEarlyRenewalHours", "pki.leafEarlyRenewalHours is 1.5: must be a whole number"],
    ["a CA renewed 0 h early", { caEarlyRenewalHours: 0 }, "pki.caEarlyRenewalHours", "pki.caEarlyRenewalHours is 0: must be a whole number of hours from 1 to 876000; use 8760 (1 year)"],
    ["a CA renewed 876001 h early", { caEarlyRenewalHours: 876001 }, "pki.caEarlyRenewalHours", "pki.caEarlyRenewalHours is 876001: must be a whole number of hours from 1 to 876000; use 8760 (1 year)"],
    ["a CA renewed 2.5 h early", { caEarlyRenewalHours: 2.5 }, "pki.caEarlyRenewalHours", "pki.caEarlyRenewalHours is 2.5: must be a whole number"],
    ["a leaf renewed as early as it lives", { leafValidityHours: 100, leafEarlyRenewalHours: 100 }, "pki.leafEarlyRenewalHours", "pki.leafEarlyRenewalHours is 100: must be shorter than pki.leafValidityHours (100), or every apply re-issues; use at most 50"],
    ["a leaf renewed earlier than it lives", { leafValidityHours: 101, leafEarlyRenewalHours: 102 }, "pki.leafEarlyRenewalHours", "pki.leafEarlyRenewalHours is 102: must be shorter than pki.leafValidityHours (101), or every apply re-issues; use at most 50"],
    ["a CA renewed as early as it lives", { caValidityHours: 9001, caEarlyRenewalHours: 9001, leafValidityHours: 24, leafEarlyRenewalHours: 1 }, "pki.caEarlyRenewalHours", "pki.caEarlyRenewalHours is 9001: must be shorter than pki.caValidityHours (9001); use at most 4500"],
    ["a leaf outliving the CA's renewal point by 1 h", { caValidityHours: 17520, caEarlyRenewalHours: 8761 }, "pki.leafValidityHours", "pki.leafValidityHours is 8760: outlives the CA's renewal point; shorten leaf validity or lengthen the CA's"],
  ];
  it.each(bad)("refuses %s, naming the prop", (_t, p, prop, message) => {
    let err: unknown;
    try {
      resolvePolicy(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).prop).toBe(prop);
    expect((err as ConfigError).message.startsWith(message)).toBe(true);
  });

  it("reports the names a construct passes", () => {
    const names = { keyAlgorithm: "ka", caValidityHours: "cv", leafValidityHours: "lv", leafEarlyRenewalHours: "le", caEarlyRenewalHours: "ce" };
    const propOf = (p: PkiPolicy) => {
      try {
        resolvePolicy(p, names);
      } catch (e) {
        return (e as ConfigError).prop;
      }
      return "accepted";
    };
    expect([
      propOf({ keyAlgorithm: "X" as KeyAlgorithm }),
      propOf({ caValidityHours: 1 }),
      propOf({ leafValidityHours: 1 }),
      propOf({ leafEarlyRenewalHours: 0 }),
      propOf({ caEarlyRenewalHours: 0 }),
      propOf({ leafEarlyRenewalHours: 8760 }),
      propOf({ caEarlyRenewalHours: 87600 }),
      propOf({ caValidityHours: 8760, caEarlyRenewalHours: 1 }),
    ]).toEqual(["ka", "cv", "lv", "le", "ce", "le", "ce", "lv"]);
  });

  it("validates the policy when building the specs", () => {
    expect(() => buildClusterCertificates(facts(), { leafValidityHours: 9000 })).toThrow(/^pki\.leafValidityHours is 9000/);
  });
});

/**
 * Staged CA rotation, in kops' order (kops docs, "Rotating the cluster CA"): 1. a new CA is created
 * and trusted next to the old one, leaves still from the old; 2. leaves are issued by the new CA, the
 * old one still trusted; 3. the old CA is no longer trusted. Generations name the CA by suffix.
 */
describe("CA rotation", () => {
  const P = CaRotationPhase;
  it.each<[CaTrustDomain, number, CaRotationPhase, string, string[]]>([
    [CaTrustDomain.KUBERNETES, 1, P.NONE, "kubernetes-ca", ["kubernetes-ca"]],
    [CaTrustDomain.KUBERNETES, 1, P.TRUST_BOTH, "kubernetes-ca", ["kubernetes-ca", "kubernetes-ca-g2"]],
    [CaTrustDomain.KUBERNETES, 1, P.ISSUE_NEW, "kubernetes-ca-g2", ["kubernetes-ca-g2", "kubernetes-ca"]],
    [CaTrustDomain.KUBERNETES, 1, P.DISTRUST_OLD, "kubernetes-ca-g2", ["kubernetes-ca-g2"]],
    [CaTrustDomain.ETCD, 2, P.NONE, "etcd-ca-g2", ["etcd-ca-g2"]],
    [CaTrustDomain.ETCD, 2, P.TRUST_BOTH, "etcd-ca-g2", ["etcd-ca-g2", "etcd-ca-g3"]],
    [CaTrustDomain.FRONT_PROXY, 998, P.ISSUE_NEW, "front-proxy-ca-g999", ["front-proxy-ca-g999", "front-proxy-ca-g998"]],
    [CaTrustDomain.FRONT_PROXY, 999, P.NONE, "front-proxy-ca-g999", ["front-proxy-ca-g999"]],
  ])("%s generation %i, %s: issuing %s, trusted %j", (domain, generation, phase, issuing, trusted) => {
    expect(resolveCaRotation(domain, { generation, phase })).toEqual({ domain, issuing, trusted });
  });

  it("defaults to generation 1 without a rotation, and names generations by suffix", () => {
    expect(resolveCaRotation(CaTrustDomain.ETCD, undefined)).toEqual({ domain: "ETCD", issuing: "etcd-ca", trusted: ["etcd-ca"] });
    expect(resolveCaRotation(CaTrustDomain.ETCD, {})).toEqual({ domain: "ETCD", issuing: "etcd-ca", trusted: ["etcd-ca"] });
    expect(resolveCaRotation(CaTrustDomain.ETCD, { phase: P.TRUST_BOTH }).trusted).toEqual(["etcd-ca", "etcd-ca-g2"]);
    expect([caSpecId(CaTrustDomain.FRONT_PROXY, 1), caSpecId(CaTrustDomain.KUBERNETES, 2), caSpecId(CaTrustDomain.ETCD, 10)]).toEqual(["front-proxy-ca", "kubernetes-ca-g2", "etcd-ca-g10"]);
    expect(CA_DOMAINS).toEqual({
      KUBERNETES: { baseId: "kubernetes-ca", commonName: "kubernetes", fileStem: "ca", prop: "kubernetesCaRotation" },
      ETCD: { baseId: "etcd-ca", commonName: "etcd-ca", fileStem: "etcd/ca", prop: "etcdCaRotation" },
      FRONT_PROXY: { baseId: "front-proxy-ca", commonName: "front-proxy-ca", fileStem: "front-proxy-ca", prop: "frontProxyCaRotation" },
    });
    expect(Object.values(CaRotationPhase)).toEqual(["NONE", "TRUST_BOTH", "ISSUE_NEW", "DISTRUST_OLD"]);
  });

  it.each<[CaTrustDomain, CaRotation, string]>([
    [CaTrustDomain.KUBERNETES, { generation: 0 }, "kubernetesCaRotation.generation is 0: must be a whole number from 1 to 999 (the generation of the CA in use; 1 is the one the cluster was created with); use 1, or the generation a finished rotation moved to"],
    [CaTrustDomain.ETCD, { generation: 1000 }, "etcdCaRotation.generation is 1000: must be a whole number from 1 to 999"],
    [CaTrustDomain.FRONT_PROXY, { generation: 1.5 }, "frontProxyCaRotation.generation is 1.5: must be a whole number from 1 to 999"],
    [CaTrustDomain.ETCD, { phase: "ROTATE" as CaRotationPhase }, 'etcdCaRotation.phase is "ROTATE": is not a rotation phase; use CaRotationPhase.NONE, TRUST_BOTH, ISSUE_NEW or DISTRUST_OLD, one deploy each, in this order'],
    [CaTrustDomain.KUBERNETES, { generation: 999, phase: P.TRUST_BOTH }, "kubernetesCaRotation.generation is 999: is the last generation: no rotation past it; keep CaRotationPhase.NONE"],
    [CaTrustDomain.KUBERNETES, { generation: 999, phase: P.DISTRUST_OLD }, "kubernetesCaRotation.generation is 999: is the last generation"],
  ])("%s %j is refused", (domain, rotation, message) => {
    let err: unknown;
    try {
      resolveCaRotation(domain, rotation);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message.startsWith(message)).toBe(true);
  });

  it("reports the prop a construct passes", () => {
    expect(() => resolveCaRotation(CaTrustDomain.ETCD, { generation: 0 }, "x.rot")).toThrow(/^x\.rot\.generation is 0/);
    expect(() => buildClusterCertificates(facts(), {}, { frontProxy: { generation: 0 } })).toThrow(/^frontProxyCaRotation\.generation is 0/);
    expect(() => buildClusterCertificates(facts(), {}, { kubernetes: { generation: 0 } })).toThrow(/^kubernetesCaRotation\.generation/);
    expect(() => buildClusterCertificates(facts(), {}, { etcd: { generation: 0 } })).toThrow(/^etcdCaRotation\.generation/);
  });

  it("builds both CAs of a domain in rotation, signs leaves with the issuing one and ships every trusted one", () => {
    const set = buildClusterCertificates(facts(), {}, { kubernetes: { phase: P.TRUST_BOTH }, etcd: { phase: P.ISSUE_NEW } });
    expect(set.cas.map((c) => [c.id, c.commonName, c.fileStem])).toEqual([
      ["kubernetes-ca", "kubernetes", "ca"],
      ["kubernetes-ca-g2", "kubernetes", "ca"],
      ["etcd-ca", "etcd-ca", "etcd/ca"],
      ["etcd-ca-g2", "etcd-ca", "etcd/ca"],
      ["front-proxy-ca", "front-proxy-ca", "front-proxy-ca"],
    ]);
    expect(set.trust).toEqual([
      { domain: "KUBERNETES", issuing: "kubernetes-ca", trusted: ["kubernetes-ca", "kubernetes-ca-g2"] },
      { domain: "ETCD", issuing: "etcd-ca-g2", trusted: ["etcd-ca-g2", "etcd-ca"] },
      { domain: "FRONT_PROXY", issuing: "front-proxy-ca", trusted: ["front-proxy-ca"] },
    ]);
    const signers = Object.fromEntries(set.leaves.map((l) => [l.id, l.signer]));
    expect(signers).toMatchObject({ admin: "kubernetes-ca", "apiserver-apiserver-0": "kubernetes-ca", "apiserver-etcd-client": "etcd-ca-g2", "etcd-peer-etcd-1": "etcd-ca-g2", "etcd-healthcheck-client": "etcd-ca-g2", "front-proxy-client": "front-proxy-ca" });
    expect(set.bundles[0]).toMatchObject({ caCertificates: ["kubernetes-ca", "kubernetes-ca-g2", "etcd-ca-g2", "etcd-ca", "front-proxy-ca"], caKeys: ["kubernetes-ca"] });
    expect(set.bundles[2]).toMatchObject({ slot: "etcd-0", caCertificates: ["etcd-ca-g2", "etcd-ca"] });
    const issuing = buildClusterCertificates(facts(), {}, { kubernetes: { phase: P.ISSUE_NEW }, frontProxy: { phase: P.DISTRUST_OLD } });
    expect(issuing.bundles[0]).toMatchObject({ caCertificates: ["kubernetes-ca-g2", "kubernetes-ca", "etcd-ca", "front-proxy-ca-g2"], caKeys: ["kubernetes-ca-g2"] });
    expect(specById(issuing, "scheduler").signer).toBe("kubernetes-ca-g2");
    expect(specById(issuing, "front-proxy-client").signer).toBe("front-proxy-ca-g2");
  });
});

/** kubeadm's certificate paths (Kubernetes docs, "Certificate paths"), relative to /etc/kubernetes/pki. */
describe("secret file layout", () => {
  const crt = (id: string) => ({ id, part: "cert" });
  const key = (id: string) => ({ id, part: "key" });
  it("gives an API server kubeadm's files, the signer certificate alone in ca-signer.crt, and sa.key / sa.pub", () => {
    const set = buildClusterCertificates(facts());
    expect(secretFileLayout(set, set.bundles[0])).toEqual([
      { path: "ca.crt", parts: [crt("kubernetes-ca")] },
      { path: "etcd/ca.crt", parts: [crt("etcd-ca")] },
      { path: "front-proxy-ca.crt", parts: [crt("front-proxy-ca")] },
      { path: "ca.key", parts: [key("kubernetes-ca")] },
      { path: "ca-signer.crt", parts: [crt("kubernetes-ca")] },
      { path: "apiserver.crt", parts: [crt("apiserver-apiserver-0")] },
      { path: "apiserver.key", parts: [key("apiserver-apiserver-0")] },
      { path: "apiserver-kubelet-client.crt", parts: [crt("apiserver-kubelet-client")] },
      { path: "apiserver-kubelet-client.key", parts: [key("apiserver-kubelet-client")] },
      { path: "front-proxy-client.crt", parts: [crt("front-proxy-client")] },
      { path: "front-proxy-client.key", parts: [key("front-proxy-client")] },
      { path: "apiserver-etcd-client.crt", parts: [crt("apiserver-etcd-client")] },
      { path: "apiserver-etcd-client.key", parts: [key("apiserver-etcd-client")] },
      { path: "controller-manager.crt", parts: [crt("controller-manager")] },
      { path: "controller-manager.key", parts: [key("controller-manager")] },
      { path: "scheduler.crt", parts: [crt("scheduler")] },
      { path: "scheduler.key", parts: [key("scheduler")] },
      { path: "sa.key", parts: [key("service-account")] },
      { path: "sa.pub", parts: [{ id: "service-account", part: "publicKey" }] },
    ]);
  });
  it("gives an etcd member etcd/ca.crt, server, peer and healthcheck-client; bundles hold every trusted CA, issuing first", () => {
    const set = buildClusterCertificates(facts(), {}, { etcd: { phase: CaRotationPhase.ISSUE_NEW }, kubernetes: { phase: CaRotationPhase.TRUST_BOTH } });
    expect(secretFileLayout(set, set.bundles[2])).toEqual([
      { path: "etcd/ca.crt", parts: [crt("etcd-ca-g2"), crt("etcd-ca")] },
      { path: "etcd/server.crt", parts: [crt("etcd-server-etcd-0")] },
      { path: "etcd/server.key", parts: [key("etcd-server-etcd-0")] },
      { path: "etcd/peer.crt", parts: [crt("etcd-peer-etcd-0")] },
      { path: "etcd/peer.key", parts: [key("etcd-peer-etcd-0")] },
      { path: "etcd/healthcheck-client.crt", parts: [crt("etcd-healthcheck-client")] },
      { path: "etcd/healthcheck-client.key", parts: [key("etcd-healthcheck-client")] },
    ]);
    const api = secretFileLayout(set, set.bundles[0]);
    expect(api.find((f) => f.path === "ca.crt")!.parts).toEqual([crt("kubernetes-ca"), crt("kubernetes-ca-g2")]);
    expect(api.find((f) => f.path === "ca-signer.crt")!.parts).toEqual([crt("kubernetes-ca")]);
  });
  it("fails loudly on a key pair it does not know", () => {
    const set = buildClusterCertificates(facts());
    expect(() => secretFileLayout(set, { ...set.bundles[0], keyPairs: ["oidc"] })).toThrow(/^no key pair spec oidc$/);
  });
});
