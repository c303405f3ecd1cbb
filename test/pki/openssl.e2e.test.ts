/**
 * Real crypto: every certificate spec of a cluster, issued with openssl, forms chains that
 * `openssl verify` accepts, with exactly the SANs and extended key usages the spec model declares.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { ClusterCertificateSet, KeyAlgorithm, buildClusterCertificates } from "../../lib";
import { IssuedFiles, certificateText, issueSet } from "../harness/openssl-pki";
import { describeTier, toolAvailable } from "../harness/tiers";

const run = promisify(execFile);

const facts = {
  clusterName: "prod",
  apiServers: [
    { name: "apiserver-0", privateIp: "10.0.0.10" },
    { name: "apiserver-1", privateIp: "10.0.16.10" },
  ],
  etcdMembers: [{ name: "etcd-0", privateIp: "10.0.0.20", dnsName: "etcd-0.etcd.prod.internal" }],
  stackedEtcd: false,
  apiServerNames: ["prod-api-int-0123456789.elb.eu-west-1.amazonaws.com", "api.prod.example.com"],
  serviceCidr: "10.96.0.0/12",
  clusterDomain: "cluster.local",
};

describeTier("PKI specs issued with openssl", toolAvailable("openssl", ["version"]), { tierLabel: "node e2e" }, () => {
  jest.setTimeout(120000);
  let dir: string;
  let set: ClusterCertificateSet;
  let issued: Map<string, IssuedFiles>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "pki-"));
    set = buildClusterCertificates(facts);
    issued = await issueSet(set, dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("issues every certificate and each verifies against its own CA only", async () => {
    for (const leaf of set.leaves) {
      const files = issued.get(leaf.id)!;
      const own = issued.get(leaf.signer!)!;
      await expect(run("openssl", ["verify", "-CAfile", own.cert, files.cert])).resolves.toBeDefined();
      const other = set.cas.find((c) => c.id !== leaf.signer)!;
      await expect(run("openssl", ["verify", "-CAfile", issued.get(other.id)!.cert, files.cert])).rejects.toBeDefined();
    }
  });

  it("puts the slot IP, both load balancer names, the service IP and the five kubernetes names in each API serving certificate", async () => {
    for (const slot of facts.apiServers) {
      const text = await certificateText(issued.get(`apiserver-${slot.name}`)!.cert);
      expect(text).toContain(`IP Address:${slot.privateIp}`);
      expect(text).toContain("IP Address:10.96.0.1");
      expect(text).toContain("IP Address:127.0.0.1");
      for (const name of [...facts.apiServerNames, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster", "kubernetes.default.svc.cluster.local"]) {
        expect(text).toContain(`DNS:${name}`);
      }
      expect(text).toMatch(/TLS Web Server Authentication/);
      expect(text).not.toMatch(/TLS Web Client Authentication/);
    }
  });

  it("gives etcd peer and server certificates both serverAuth and clientAuth and the member's IP", async () => {
    for (const id of ["etcd-server-etcd-0", "etcd-peer-etcd-0"]) {
      const text = await certificateText(issued.get(id)!.cert);
      expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(text).toContain("IP Address:10.0.0.20");
      expect(text).toContain("DNS:etcd-0.etcd.prod.internal");
    }
  });

  it("makes the admin a member of kubeadm:cluster-admins, not system:masters", async () => {
    const text = await certificateText(issued.get("admin")!.cert);
    expect(text).toMatch(/Subject: O ?= ?kubeadm:cluster-admins, CN ?= ?kubernetes-admin/);
    expect(text).not.toContain("system:masters");
  });

  it("marks CAs as CAs and leaves as non-CAs, with ECDSA P-256 keys by default", async () => {
    const caText = await certificateText(issued.get("kubernetes-ca")!.cert);
    expect(caText).toMatch(/CA:TRUE/);
    expect(caText).toMatch(/Certificate Sign/);
    const leafText = await certificateText(issued.get("scheduler")!.cert);
    expect(leafText).toMatch(/CA:FALSE/);
    expect(leafText).toMatch(/ASN1 OID: prime256v1/);
  });

  it("issues RSA keys when asked", async () => {
    const rsa = buildClusterCertificates(facts, { keyAlgorithm: KeyAlgorithm.RSA_2048 });
    const rsaDir = path.join(dir, "rsa");
    const files = await issueSet(rsa, rsaDir, (s) => s.id === "scheduler");
    expect(await certificateText(files.get("scheduler")!.cert)).toMatch(/Public-Key: \(2048 bit\)/);
  });
});
