/**
 * Tier 4: for random cluster names, slot IPs, service CIDRs, DNS domains and load-balancer names,
 * every API server certificate spec carries both load-balancer names, the kubernetes service IP,
 * the five kubernetes names, its own slot IP and 127.0.0.1; every etcd spec its member's IP; and
 * every bad input is a ConfigError.
 */
import * as fc from "fast-check";
import { CA_IDS, CertificateKind, ConfigError, buildClusterCertificates, formatCidr, host, kubernetesServiceNames, tryParseIpv4Cidr } from "../../lib";
import { assertProperty } from "../harness/property";

const octet = fc.integer({ min: 0, max: 255 });
const ip = fc.tuple(fc.constant(10), octet, octet, fc.integer({ min: 4, max: 250 })).map((o) => o.join("."));
const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join("."));
const serviceCidr = fc.tuple(octet, octet, fc.integer({ min: 12, max: 28 })).map(([a, b, prefix]) => {
  const block = tryParseIpv4Cidr(`172.${a & 0xff}.${b}.0/24`)!;
  const wide = { network: block.network - (block.network % 2 ** (32 - prefix)), prefix, size: 2 ** (32 - prefix) };
  return formatCidr(wide);
});

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
          const serviceIp = host(tryParseIpv4Cidr(cidr)!, 1);
          const serving = set.leaves.filter((l) => l.id.startsWith("apiserver-apiserver-"));
          expect(serving).toHaveLength(apiIps.length);
          serving.forEach((spec, i) => {
            expect(spec.signer).toBe(CA_IDS.kubernetes);
            expect(spec.kind).toBe(CertificateKind.SERVER);
            expect(spec.dnsNames).toEqual(expect.arrayContaining([internalLb, publicLb, ...kubernetesServiceNames(clusterDomain)]));
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

  it("refuses bad domains and validity windows with a ConfigError, never another error", () => {
    assertProperty(
      fc.property(fc.string({ maxLength: 30 }), fc.integer({ min: -10, max: 20000 }), fc.integer({ min: -10, max: 20000 }), (clusterDomain, validity, renewal) => {
        try {
          buildClusterCertificates(
            { clusterName: "c", apiServers: [{ name: "apiserver-0", privateIp: "10.0.0.10" }], etcdMembers: [], stackedEtcd: false, apiServerNames: ["lb"], serviceCidr: "10.96.0.0/12", clusterDomain },
            { leafValidityHours: validity, leafEarlyRenewalHours: renewal },
          );
          expect(validity).toBeLessThanOrEqual(8760);
          expect(renewal).toBeLessThan(validity);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });
});
