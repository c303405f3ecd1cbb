/**
 * Tier 4: for random cluster names, slot IPs, service CIDRs, DNS domains and load-balancer names,
 * every API server certificate spec carries both load-balancer names, the kubernetes service IP,
 * the five kubernetes names, its own slot IP and 127.0.0.1; every etcd spec its member's IP; and
 * every bad input is a ConfigError.
 */
import * as fc from "fast-check";
import { CA_IDS, CertificateKind, ConfigError, buildClusterCertificates } from "../../lib";
import { assertProperty } from "../harness/property";

const octet = fc.integer({ min: 0, max: 255 });
const ip = fc.tuple(fc.constant(10), octet, octet, fc.integer({ min: 4, max: 250 })).map((o) => o.join("."));
const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join("."));
/** A service block of /12 to /28 inside 172.16.0.0/12, computed here rather than with the library's CIDR helpers. */
const ipNum = (s: string): number => s.split(".").reduce((a, o) => a * 256 + Number(o), 0);
const ipStr = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const serviceCidr = fc.integer({ min: 12, max: 28 }).chain((prefix) =>
  fc.integer({ min: 0, max: 2 ** (prefix - 12) - 1 }).map((k) => `${ipStr(ipNum("172.16.0.0") + k * 2 ** (32 - prefix))}/${prefix}`),
);
/** The kubernetes service IP: the first host of the service block (kube-apiserver --service-cluster-ip-range docs). */
const firstHost = (cidr: string): string => ipStr(ipNum(cidr.split("/")[0]) + 1);
/** kubeadm's API server SANs for the service (kubernetes.io, "PKI certificates and requirements"). */
const serviceNames = (domain: string): string[] => ["kubernetes", "kubernetes.default", "kubernetes.default.svc", `kubernetes.default.svc.${domain}`];

/** One way to break a DNS domain (RFC 1123): each result is not a lower-case DNS domain. */
const badDomain = fc.tuple(domain, fc.integer({ min: 0, max: 9 })).map(([d, how]) => {
  switch (how) {
    case 0: return d.toUpperCase().replace(/^[^A-Z]*/, "X");
    case 1: return `${d}_x`;
    case 2: return `-${d}`;
    case 3: return `${d}-`;
    case 4: return `${d}..local`;
    case 5: return `${d}.`;
    case 6: return `.${d}`;
    case 7: return `${"a".repeat(64)}.${d}`;
    case 8: return Array.from({ length: 26 }, () => "abcdefghi").join(".") + `.${d}`;
    default: return ["", " ", "ünï.local", "a b.local", "a/b"][d.length % 5];
  }
});
/** Leaf certificate windows the docs allow: validity 24–8760 h, renewal 1 h up to below validity. */
const goodWindow = fc.integer({ min: 24, max: 8760 }).chain((validity) => fc.integer({ min: 1, max: validity - 1 }).map((renewal) => ({ validity, renewal })));

describe("certificate specs under random cluster facts", () => {
  it("every API serving certificate carries both load-balancer names, the service IP and the kubernetes names", () => {
    assertProperty(
      fc.property(
        label,
        fc.uniqueArray(ip, { minLength: 1, maxLength: 9 }),
        fc.uniqueArray(ip, { minLength: 1, maxLength: 7 }),
        domain,
        serviceCidr,
        fc.tuple(domain, domain),
        (clusterName, apiIps, etcdIps, clusterDomain, cidr, [internalLb, publicLb]) => {
          const set = buildClusterCertificates({
            clusterName,
            apiServers: apiIps.map((privateIp, i) => ({ name: `apiserver-${i}`, privateIp })),
            etcdMembers: etcdIps.map((privateIp, i) => ({ name: `etcd-${i}`, privateIp })),
            stackedEtcd: false,
            apiServerNames: [internalLb, publicLb],
            serviceCidr: cidr,
            clusterDomain,
          });
          const serviceIp = firstHost(cidr);
          const serving = set.leaves.filter((l) => l.id.startsWith("apiserver-apiserver-"));
          expect(serving).toHaveLength(apiIps.length);
          serving.forEach((spec, i) => {
            expect(spec.signer).toBe(CA_IDS.kubernetes);
            expect(spec.kind).toBe(CertificateKind.SERVER);
            expect(spec.dnsNames).toEqual(expect.arrayContaining([internalLb, publicLb, ...serviceNames(clusterDomain)]));
            expect(spec.ipAddresses).toEqual(expect.arrayContaining([apiIps[i], serviceIp, "127.0.0.1"]));
            expect(spec.validityHours).toBeLessThanOrEqual(8760);
            expect(spec.earlyRenewalHours).toBeGreaterThan(0);
          });
          etcdIps.forEach((memberIp, i) => {
            for (const kind of ["server", "peer"]) {
              const spec = set.leaves.find((l) => l.id === `etcd-${kind}-etcd-${i}`)!;
              expect(spec.ipAddresses).toContain(memberIp);
              expect(spec.signer).toBe(CA_IDS.etcd);
              expect(spec.kind).toBe(CertificateKind.SERVER_AND_CLIENT);
            }
          });
          expect(set.bundles).toHaveLength(apiIps.length + etcdIps.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses every bad domain or validity window with a ConfigError naming it, and accepts every good one", () => {
    const counts = { refused: 0, accepted: 0 };
    /** Each case breaks at most one rule; `prop` is the prop its ConfigError must name (undefined: valid). */
    const cases = fc.oneof(
      fc.tuple(badDomain, goodWindow).map(([clusterDomain, w]) => ({ clusterDomain, ...w, prop: "clusterDomain" })),
      fc.tuple(domain, fc.oneof(fc.integer({ min: -10, max: 23 }), fc.integer({ min: 8761, max: 20000 }), fc.constant(100.5))).map(([clusterDomain, validity]) => ({ clusterDomain, validity, renewal: 12, prop: "pki.leafValidityHours" })),
      fc.tuple(domain, fc.integer({ min: 24, max: 8760 })).chain(([clusterDomain, validity]) =>
        fc.oneof(fc.integer({ min: -10, max: 0 }), fc.integer({ min: validity, max: 20000 })).map((renewal) => ({ clusterDomain, validity, renewal, prop: "pki.leafEarlyRenewalHours" })),
      ),
      fc.tuple(domain, goodWindow).map(([clusterDomain, w]) => ({ clusterDomain, ...w, prop: undefined })),
    );
    assertProperty(
      fc.property(cases, ({ clusterDomain, validity, renewal, prop }) => {
        const build = () =>
          buildClusterCertificates(
            { clusterName: "c", apiServers: [{ name: "apiserver-0", privateIp: "10.0.0.10" }], etcdMembers: [], stackedEtcd: false, apiServerNames: ["lb"], serviceCidr: "10.96.0.0/12", clusterDomain },
            { leafValidityHours: validity, leafEarlyRenewalHours: renewal },
          );
        if (prop === undefined) {
          const set = build();
          expect(set.leaves.every((l) => l.validityHours === validity && l.earlyRenewalHours === renewal)).toBe(true);
          counts.accepted++;
          return;
        }
        let refusal: unknown;
        try {
          build();
        } catch (err) {
          refusal = err;
        }
        expect(refusal).toBeInstanceOf(ConfigError);
        expect((refusal as ConfigError).prop).toBe(prop);
        counts.refused++;
      }),
      { numRuns: 300 },
    );
    console.log(`certificate-spec refusals: ${counts.refused} refused as expected, ${counts.accepted} good inputs accepted`);
    expect(counts.refused).toBeGreaterThan(150);
    expect(counts.accepted).toBeGreaterThan(30);
  });
});
