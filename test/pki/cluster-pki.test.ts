import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { CA_IDS, ConfigError, EtcdTopology, HaControlPlane, KeyAlgorithm, buildClusterCertificates, kubernetesServiceIp } from "../../lib";
import { FoundResource, SynthJson, follow, nodeFilesOf, resources, synth, synthStack, userDataOf } from "../helpers/synth";

const json: SynthJson = synthStack(new HaClusterStack(Testing.app(), "ref"));

/** The tls_locally_signed_cert / tls_self_signed_cert whose construct id starts with the spec id. */
function certOf(id: string): FoundResource {
  const all = [...resources(json, "tls_locally_signed_cert"), ...resources(json, "tls_self_signed_cert")];
  const found = all.filter((r) => new RegExp(`_${id}-cert_[0-9A-F]{8}$`).test(r.name));
  if (found.length !== 1) throw new Error(`no unique certificate for ${id}`);
  return found[0];
}

/** The tls_cert_request behind a locally signed cert. */
const requestOf = (cert: FoundResource) => follow(json, cert.props.cert_request_pem);
/** The CA cert that signed a locally signed cert. */
const signerOf = (cert: FoundResource) => follow(json, cert.props.ca_cert_pem);

describe("ClusterPki in the reference cluster", () => {
  it("declares the tls provider once", () => {
    expect(Object.keys((json.provider as Record<string, unknown>).tls as object)).toHaveLength(1);
  });

  it("creates three separate self-signed CAs valid 10 years", () => {
    const cas = resources(json, "tls_self_signed_cert");
    expect(cas.map((c) => c.props.subject[0].common_name).sort()).toEqual(["etcd-ca", "front-proxy-ca", "kubernetes"]);
    for (const ca of cas) {
      expect(ca.props.is_ca_certificate).toBe(true);
      expect(ca.props.validity_period_hours).toBe(87600);
      expect(ca.props.allowed_uses).toEqual(expect.arrayContaining(["cert_signing", "crl_signing"]));
    }
    const keys = new Set(cas.map((c) => c.props.private_key_pem));
    expect(keys.size).toBe(3);
  });

  it("signs each leaf with the right CA, with the right usages, ≤ 1 year validity and 30 days early renewal", () => {
    const expected: Array<[string, string, string[]]> = [
      ["apiserver-apiserver-0", "kubernetes", ["server_auth"]],
      ["apiserver-kubelet-client", "kubernetes", ["client_auth"]],
      ["front-proxy-client", "front-proxy-ca", ["client_auth"]],
      ["apiserver-etcd-client", "etcd-ca", ["client_auth"]],
      ["controller-manager", "kubernetes", ["client_auth"]],
      ["scheduler", "kubernetes", ["client_auth"]],
      ["admin", "kubernetes", ["client_auth"]],
      ["etcd-healthcheck-client", "etcd-ca", ["client_auth"]],
      ["etcd-server-etcd-0", "etcd-ca", ["server_auth", "client_auth"]],
      ["etcd-peer-etcd-2", "etcd-ca", ["server_auth", "client_auth"]],
    ];
    for (const [id, signer, ekus] of expected) {
      const cert = certOf(id);
      expect(signerOf(cert).props.subject[0].common_name).toBe(signer);
      expect(cert.props.allowed_uses.filter((u: string) => u.endsWith("_auth")).sort()).toEqual([...ekus].sort());
      expect(cert.props.allowed_uses).toEqual(expect.arrayContaining(["digital_signature", "key_encipherment"]));
      expect(cert.props.validity_period_hours).toBeLessThanOrEqual(8760);
      expect(cert.props.early_renewal_hours).toBeGreaterThanOrEqual(720);
      expect(cert.props.is_ca_certificate).toBe(false);
    }
  });

  it("gives each API server slot its own serving certificate with its IP, the load balancer name, the service IP and the kubernetes names", () => {
    ["10.0.0.10", "10.0.16.10", "10.0.32.10"].forEach((ip, i) => {
      const req = requestOf(certOf(`apiserver-apiserver-${i}`));
      expect(req.props.ip_addresses).toEqual([ip, "10.96.0.1", "127.0.0.1"]);
      expect(req.props.dns_names).toEqual(
        expect.arrayContaining([
          `prod-eu1-apiserver-${i}`,
          "kubernetes",
          "kubernetes.default",
          "kubernetes.default.svc",
          "kubernetes.default.svc.cluster",
          "kubernetes.default.svc.cluster.local",
        ]),
      );
      expect(req.props.dns_names.some((n: string) => /^\$\{aws_lb\.[^}]+\.dns_name\}$/.test(n))).toBe(true);
    });
  });

  it("puts each etcd member's IP in its server and peer certificates", () => {
    ["10.0.0.20", "10.0.16.20", "10.0.32.20"].forEach((ip, i) => {
      expect(requestOf(certOf(`etcd-server-etcd-${i}`)).props.ip_addresses).toEqual([ip, "127.0.0.1"]);
      expect(requestOf(certOf(`etcd-peer-etcd-${i}`)).props.ip_addresses).toEqual([ip]);
    });
  });

  it("makes the admin a cluster-admins group member, not system:masters", () => {
    const admin = requestOf(certOf("admin"));
    expect(admin.props.subject[0]).toMatchObject({ common_name: "kubernetes-admin", organization: "kubeadm:cluster-admins" });
  });

  it("keeps private keys out of user data and launch templates", () => {
    for (const lt of resources(json, "aws_launch_template")) {
      const text = `${JSON.stringify(lt.props)}\n${userDataOf(lt)}\n${nodeFilesOf(json, lt).map((f) => f.content).join("\n")}`;
      expect(text).not.toMatch(/PRIVATE KEY|tls_private_key|tls_locally_signed_cert|tls_self_signed_cert|secretsmanager_secret_version/);
    }
  });

  it("stores one KMS-encrypted secret per slot and lets each role read only its own", () => {
    const secrets = resources(json, "aws_secretsmanager_secret").filter((s) => s.props.tags["ha-control-plane/slot"]);
    expect(secrets.map((s) => s.props.name).sort()).toEqual(
      ["apiserver-0", "apiserver-1", "apiserver-2", "etcd-0", "etcd-1", "etcd-2"].map((s) => `prod-eu1/control-plane/${s}`),
    );
    secrets.forEach((s) => expect(follow(json, s.props.kms_key_id).type).toBe("aws_kms_key"));
    const arnOf = (name: string) => `\${aws_secretsmanager_secret.${secrets.find((s) => s.props.name.endsWith(name))!.name}.arn}`;
    const policyOf = (roleName: string) => {
      const role = resources(json, "aws_iam_role").find((r) => r.props.name === roleName)!;
      const policy = resources(json, "aws_iam_role_policy").find((p) => p.props.role === `\${aws_iam_role.${role.name}.name}`)!;
      return JSON.parse(policy.props.policy) as { Statement: Array<{ Sid: string; Resource: string | string[]; Condition?: unknown }> };
    };
    const readable = (roleName: string) => [policyOf(roleName).Statement.find((s) => s.Sid === "ReadOwnSecrets")!.Resource].flat().sort();
    const encryptionKey = `\${aws_secretsmanager_secret.${resources(json, "aws_secretsmanager_secret").find((s) => s.props.name.endsWith("/encryption-key"))!.name}.arn}`;
    expect(readable("prod-eu1-apiserver")).toEqual([...["/apiserver-0", "/apiserver-1", "/apiserver-2"].map(arnOf), encryptionKey].sort());
    for (const i of [0, 1, 2]) expect(readable(`prod-eu1-etcd-${i}`)).toEqual([arnOf(`/etcd-${i}`)]);
    const decrypt = policyOf("prod-eu1-etcd-0").Statement.find((s) => s.Sid === "DecryptOwnSecrets")!;
    expect(decrypt.Condition).toEqual({ StringLike: { "kms:ViaService": "secretsmanager.*.amazonaws.com" } });
  });

  it("delivers each slot exactly the files it needs", () => {
    const value = (slot: string) => {
      const secret = resources(json, "aws_secretsmanager_secret").find((s) => s.props.name.endsWith(`/${slot}`))!;
      const version = resources(json, "aws_secretsmanager_secret_version").find((v) => v.props.secret_id === `\${aws_secretsmanager_secret.${secret.name}.id}`)!;
      return String(version.props.secret_string);
    };
    const files = (text: string) => [...text.matchAll(/"([a-z/-]+\.(?:crt|key|pub))"\s*=/g)].map((m) => m[1]).sort();
    expect(files(value("etcd-1"))).toEqual(["etcd/ca.crt", "etcd/healthcheck-client.crt", "etcd/healthcheck-client.key", "etcd/peer.crt", "etcd/peer.key", "etcd/server.crt", "etcd/server.key"]);
    expect(files(value("apiserver-1"))).toEqual(
      [
        "apiserver.crt", "apiserver.key", "apiserver-etcd-client.crt", "apiserver-etcd-client.key", "apiserver-kubelet-client.crt", "apiserver-kubelet-client.key",
        "ca-signer.crt", "ca.crt", "ca.key", "controller-manager.crt", "controller-manager.key", "etcd/ca.crt", "front-proxy-ca.crt", "front-proxy-client.crt", "front-proxy-client.key",
        "sa.key", "sa.pub", "scheduler.crt", "scheduler.key",
      ].sort(),
    );
    // The etcd CA key never leaves Terraform: no node holds it.
    for (const slot of ["apiserver-0", "etcd-0"]) expect(files(value(slot))).not.toContain("etcd/ca.key");
  });

  it("outputs the admin kubeconfig as sensitive and the CA certificate", () => {
    const outputs = json.output as Record<string, { value: string; sensitive?: boolean }>;
    const admin = Object.entries(outputs).find(([k]) => k.includes("admin_kubeconfig"))![1];
    expect(admin.sensitive).toBe(true);
    expect(admin.value).toContain("client-certificate-data: ${base64encode(tls_locally_signed_cert.");
    expect(admin.value).toMatch(/server: https:\/\/\$\{aws_lb\.[^}]+\.dns_name\}:6443/);
  });

  it("has user data that fetches the slot's secret after the claim", () => {
    const lt = resources(json, "aws_launch_template")[0];
    const text = userDataOf(lt);
    expect(text).toContain("SECRET_PREFIX='prod-eu1/control-plane'");
    expect(text).toContain("ha-fetch-secrets.timer");
  });
});

describe("PKI options and bad input", () => {
  const base = { availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0" };

  it("puts stacked etcd certificates in the API server slot secrets", () => {
    const out = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "st", ...base, etcdTopology: EtcdTopology.STACKED }));
    expect(resources(out, "aws_secretsmanager_secret").filter((s) => s.props.tags["ha-control-plane/slot"])).toHaveLength(3);
    const version = String(resources(out, "aws_secretsmanager_secret_version")[0].props.secret_string);
    expect(version).toContain('"etcd/peer.crt"');
  });

  it("issues RSA keys when asked", () => {
    const out = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, certificateKeyAlgorithm: KeyAlgorithm.RSA_2048 }));
    for (const k of resources(out, "tls_private_key")) expect(k.props).toMatchObject({ algorithm: "RSA", rsa_bits: 2048 });
  });

  it.each([
    [{ leafCertificateValidityHours: 9000 }, "leafCertificateValidityHours"],
    [{ leafCertificateValidityHours: 700 }, "leafCertificateEarlyRenewalHours"],
    [{ leafCertificateEarlyRenewalHours: 0 }, "leafCertificateEarlyRenewalHours"],
    [{ caValidityHours: 100 }, "caValidityHours"],
    [{ certificateKeyAlgorithm: "DSA" as KeyAlgorithm }, "certificateKeyAlgorithm"],
  ])("refuses %j naming %s", (extra, prop) => {
    expect.assertions(2);
    try {
      synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", ...base, ...extra }));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).prop).toBe(prop);
    }
  });

  it("refuses an invalid DNS domain and a service block too small for its first IP", () => {
    const facts = { clusterName: "c", apiServers: [], etcdMembers: [], stackedEtcd: false, apiServerNames: [], serviceCidr: "10.96.0.0/12", clusterDomain: "Bad_Domain" };
    expect(() => buildClusterCertificates(facts)).toThrow(ConfigError);
    expect(() => kubernetesServiceIp("10.96.0.0/31")).toThrow(/cannot hold the kubernetes service IP/);
    expect(kubernetesServiceIp("10.100.0.0/16")).toBe("10.100.0.1");
  });

  it("keeps the etcd CA separate from the Kubernetes CA (CIS 2.7)", () => {
    const set = buildClusterCertificates({ clusterName: "c", apiServers: [{ name: "apiserver-0", privateIp: "10.0.0.10" }], etcdMembers: [{ name: "etcd-0", privateIp: "10.0.0.20" }], stackedEtcd: false, apiServerNames: ["lb"], serviceCidr: "10.96.0.0/12", clusterDomain: "cluster.local" });
    expect(CA_IDS.etcd).not.toBe(CA_IDS.kubernetes);
    for (const leaf of set.leaves.filter((l) => l.id.startsWith("etcd-"))) expect(leaf.signer).toBe(CA_IDS.etcd);
    for (const leaf of set.leaves.filter((l) => l.id.startsWith("apiserver-apiserver"))) expect(leaf.signer).toBe(CA_IDS.kubernetes);
  });
});
