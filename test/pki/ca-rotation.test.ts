/**
 * Staged CA rotation (issue 18 finding 4): props, refusals, what each phase synthesizes, and — with
 * openssl as the oracle — that every leaf a node may present during a phase change verifies against
 * every trust bundle a peer may hold at that moment (nodes refresh one by one, so phase k's files
 * meet phase k+1's). Skipping TRUST_BOTH breaks exactly that, which the last test shows.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Testing } from "../../lib/core";
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { CaRotation, CaRotationPhase, ClusterCertificateSet, ClusterFacts, ConfigError, buildClusterCertificates, secretFileLayout } from "../../lib";
import { IssuedFiles, issueWithOpenssl } from "../harness/openssl-pki";
import { SynthJson, follow, resources, synthStack } from "../helpers/synth";

type Rotations = { kubernetesCaRotation?: CaRotation; etcdCaRotation?: CaRotation; frontProxyCaRotation?: CaRotation };
const synthWith = (r: Rotations): SynthJson => synthStack(new HaClusterStack(Testing.app(), "ref", r));
const all = (r: CaRotation): Rotations => ({ kubernetesCaRotation: r, etcdCaRotation: r, frontProxyCaRotation: r });

/** The self-signed CA certificates by construct-id stem (`kubernetes-ca`, `kubernetes-ca-g2`). */
function caCerts(json: SynthJson): Map<string, string> {
  return new Map(resources(json, "tls_self_signed_cert").map((r) => [/_([a-z-]+(?:-g\d+)?)-cert_[0-9A-F]{8}$/.exec(r.name)![1], r.name]));
}
/** The slot secret's JSON text (Terraform expression) for `slot`. */
function secretOf(json: SynthJson, slot: string): string {
  const secret = resources(json, "aws_secretsmanager_secret").find((s) => String(s.props.name).endsWith(`/${slot}`))!;
  return String(resources(json, "aws_secretsmanager_secret_version").find((v) => v.props.secret_id === `\${aws_secretsmanager_secret.${secret.name}.id}`)!.props.secret_string);
}
/** The Terraform expression of one file in a secret (up to the next file key). */
function fileExpr(secretString: string, file: string): string {
  const start = secretString.indexOf(`"${file}" = `);
  if (start < 0) throw new Error(`no ${file} in the secret`);
  const rest = secretString.slice(start + file.length + 5);
  const next = rest.search(/, "[a-z/-]+\.(crt|key|pub)" = /);
  return next < 0 ? rest : rest.slice(0, next);
}
const refsIn = (expr: string) => [...expr.matchAll(/tls_self_signed_cert\.([A-Za-z0-9_-]+)\.cert_pem/g)].map((m) => m[1]);

describe("staged CA rotation props", () => {
  it.each([
    [{ generation: 0 }, "kubernetesCaRotation.generation"],
    [{ generation: 1.5 }, "kubernetesCaRotation.generation"],
    [{ generation: 1000 }, "kubernetesCaRotation.generation"],
    [{ generation: 999, phase: CaRotationPhase.TRUST_BOTH }, "kubernetesCaRotation.generation"],
    [{ phase: "SKIP_TO_NEW" as CaRotationPhase }, "kubernetesCaRotation.phase"],
  ])("refuses %j at construct time, naming the prop", (rotation, prop) => {
    expect(() => synthWith({ kubernetesCaRotation: rotation })).toThrow(ConfigError);
    expect(() => synthWith({ kubernetesCaRotation: rotation })).toThrow(new RegExp(prop.replace(/\./g, "\\.")));
  });

  it("names the etcd and front-proxy props in their errors", () => {
    expect(() => synthWith({ etcdCaRotation: { generation: 0 } })).toThrow(/etcdCaRotation\.generation/);
    expect(() => synthWith({ frontProxyCaRotation: { phase: "X" as CaRotationPhase } })).toThrow(/frontProxyCaRotation\.phase/);
  });

  it("synthesizes the default exactly as generation 1, phase NONE", () => {
    expect(JSON.stringify(synthWith({}))).toBe(JSON.stringify(synthWith(all({ generation: 1, phase: CaRotationPhase.NONE }))));
  });
});

describe("what each phase synthesizes", () => {
  const none = synthWith({});
  const trustBoth = synthWith(all({ phase: CaRotationPhase.TRUST_BOTH }));
  const issueNew = synthWith(all({ phase: CaRotationPhase.ISSUE_NEW }));
  const distrustOld = synthWith(all({ phase: CaRotationPhase.DISTRUST_OLD }));
  const gen2 = synthWith(all({ generation: 2 }));

  it("TRUST_BOTH adds a second CA per domain under new construct ids, with its own key, and keeps the old ones", () => {
    const before = caCerts(none);
    const after = caCerts(trustBoth);
    expect([...before.keys()].sort()).toEqual(["etcd-ca", "front-proxy-ca", "kubernetes-ca"]);
    expect([...after.keys()].sort()).toEqual(["etcd-ca", "etcd-ca-g2", "front-proxy-ca", "front-proxy-ca-g2", "kubernetes-ca", "kubernetes-ca-g2"]);
    for (const [id, name] of before) expect(after.get(id)).toBe(name); // old CA untouched: same logical id
    const keys = resources(trustBoth, "tls_self_signed_cert").map((c) => c.props.private_key_pem);
    expect(new Set(keys).size).toBe(6);
  });

  it("TRUST_BOTH puts old then new in every bundle, the admin kubeconfig and the CA output, while leaves and ca-signer.crt stay on the old CA", () => {
    const ca = caCerts(trustBoth);
    for (const slot of ["apiserver-0", "apiserver-2"]) {
      const s = secretOf(trustBoth, slot);
      expect(refsIn(fileExpr(s, "ca.crt"))).toEqual([ca.get("kubernetes-ca"), ca.get("kubernetes-ca-g2")]);
      expect(refsIn(fileExpr(s, "etcd/ca.crt"))).toEqual([ca.get("etcd-ca"), ca.get("etcd-ca-g2")]);
      expect(refsIn(fileExpr(s, "front-proxy-ca.crt"))).toEqual([ca.get("front-proxy-ca"), ca.get("front-proxy-ca-g2")]);
      expect(refsIn(fileExpr(s, "ca-signer.crt"))).toEqual([ca.get("kubernetes-ca")]);
      expect(fileExpr(s, "ca.key")).toContain(`tls_private_key.${ca.get("kubernetes-ca")!.replace(/cert_/, "key_")}`.slice(0, 40));
    }
    expect(refsIn(fileExpr(secretOf(trustBoth, "etcd-1"), "etcd/ca.crt"))).toEqual([ca.get("etcd-ca"), ca.get("etcd-ca-g2")]);
    for (const leaf of resources(trustBoth, "tls_locally_signed_cert")) expect(follow(trustBoth, leaf.props.ca_cert_pem).name).not.toMatch(/-g2-cert_/);
    const outputs = trustBoth.output as Record<string, { value: string }>;
    const admin = Object.entries(outputs).find(([k]) => k.includes("admin_kubeconfig"))![1].value;
    const caOut = Object.entries(outputs).find(([k]) => k.includes("kubernetes_ca_certificate"))![1].value;
    for (const text of [admin, caOut]) expect(refsIn(text)).toEqual([ca.get("kubernetes-ca"), ca.get("kubernetes-ca-g2")]);
  });

  it("ISSUE_NEW signs every leaf with the new CA, puts the new CA first and its key in ca.key", () => {
    const ca = caCerts(issueNew);
    const leaves = resources(issueNew, "tls_locally_signed_cert");
    expect(leaves.length).toBe(16); // 7 shared, 3 API serving, 2 per etcd member
    for (const leaf of leaves) expect(follow(issueNew, leaf.props.ca_cert_pem).name).toMatch(/-g2-cert_/);
    const s = secretOf(issueNew, "apiserver-1");
    expect(refsIn(fileExpr(s, "ca.crt"))).toEqual([ca.get("kubernetes-ca-g2"), ca.get("kubernetes-ca")]);
    expect(refsIn(fileExpr(s, "ca-signer.crt"))).toEqual([ca.get("kubernetes-ca-g2")]);
    expect(fileExpr(s, "ca.key")).toMatch(/tls_private_key\.[A-Za-z0-9_]*kubernetes-ca-g2-key_/);
    // The leaves keep their logical ids: Terraform replaces them (new signer) rather than adding copies.
    const ids = (j: SynthJson) => resources(j, "tls_locally_signed_cert").map((r) => r.name).sort();
    expect(ids(issueNew)).toEqual(ids(none));
  });

  it("DISTRUST_OLD removes the old CAs and synthesizes exactly as { generation: 2 }", () => {
    expect([...caCerts(distrustOld).keys()].sort()).toEqual(["etcd-ca-g2", "front-proxy-ca-g2", "kubernetes-ca-g2"]);
    expect(JSON.stringify(distrustOld)).toBe(JSON.stringify(gen2));
  });

  it("changes no launch template, user data or bootstrap bundle in any phase (a rotation rolls no node)", () => {
    const nodeSide = (j: SynthJson) => JSON.stringify([resources(j, "aws_launch_template").map((r) => r.props), resources(j, "aws_s3_object").map((r) => r.props)]);
    for (const j of [trustBoth, issueNew, distrustOld]) expect(nodeSide(j)).toBe(nodeSide(none));
  });
});

describe("trust continuity across phases (openssl verify)", () => {
  const facts: ClusterFacts = {
    clusterName: "rot",
    apiServers: [{ name: "apiserver-0", privateIp: "10.0.0.10" }],
    etcdMembers: [{ name: "etcd-0", privateIp: "10.0.0.20" }],
    stackedEtcd: false,
    apiServerNames: ["api.rot.example"],
    serviceCidr: "10.96.0.0/12",
    clusterDomain: "cluster.local",
  };
  const phases = [CaRotationPhase.NONE, CaRotationPhase.TRUST_BOTH, CaRotationPhase.ISSUE_NEW, CaRotationPhase.DISTRUST_OLD];
  const sets = new Map(phases.map((p) => [p, buildClusterCertificates(facts, {}, { kubernetes: { phase: p }, etcd: { phase: p }, frontProxy: { phase: p } })]));
  let dir: string;
  const issued = new Map<string, IssuedFiles>();
  /** Files of `slot` in phase `p` as the secret holds them: path → file on disk. */
  const filesOf = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "ca-rotation-"));
    // One issuance per (spec id, signer): what Terraform keeps in state between the deploys.
    for (const [phase, set] of sets) {
      for (const ca of set.cas) if (!issued.has(ca.id)) issued.set(ca.id, await issueWithOpenssl(ca, dir));
      for (const leaf of set.leaves) {
        const key = `${leaf.id}@${leaf.signer}`;
        if (!issued.has(key)) issued.set(key, await issueWithOpenssl({ ...leaf, id: key.replace("@", "_") }, dir, issued.get(leaf.signer!)));
      }
      for (const bundle of set.bundles) {
        for (const f of secretFileLayout(set, bundle)) {
          if (!f.path.endsWith(".crt")) continue;
          const pems = f.parts.map(({ id }) => {
            const leaf = set.leaves.find((l) => l.id === id);
            return readFileSync(issued.get(leaf ? `${id}@${leaf.signer}` : id)!.cert, "utf8");
          });
          const file = path.join(dir, `${phase}-${bundle.slot}-${f.path.replace(/\//g, "_")}`);
          writeFileSync(file, pems.length === 1 ? pems[0] : pems.map((p) => `${p.trim()}\n`).join(""));
          filesOf.set(`${phase}/${bundle.slot}/${f.path}`, file);
        }
      }
    }
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const pemCount = (file: string) => (readFileSync(file, "utf8").match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
  const verifies = (bundle: string, leaf: string) => {
    try {
      execFileSync("openssl", ["verify", "-CAfile", bundle, leaf], { stdio: "pipe" });
      return true;
    } catch {
      return false;
    }
  };
  /** Every leaf of the etcd member and the API server in phase `a` against every bundle of phase `b`. */
  const crossCheck = (a: CaRotationPhase, b: CaRotationPhase): string[] => {
    const failures: string[] = [];
    const bundleOf: Record<string, string> = { "etcd/": "etcd/ca.crt", "front-proxy-client.crt": "front-proxy-ca.crt" };
    for (const [k, leafFile] of filesOf) {
      const [phase, slot] = k.split("/", 2);
      if (phase !== a) continue;
      const rel = k.slice(`${phase}/${slot}/`.length);
      if (rel.endsWith("ca.crt") || rel === "ca-signer.crt") continue;
      const trustFile = Object.entries(bundleOf).find(([prefix]) => rel.startsWith(prefix))?.[1] ?? (rel.startsWith("apiserver-etcd-client") ? "etcd/ca.crt" : "ca.crt");
      // The bundle a peer of phase b holds (any slot that has the file).
      const bundle = ["apiserver-0", "etcd-0"].map((s) => filesOf.get(`${b}/${s}/${trustFile}`)).find((f) => f !== undefined)!;
      if (!verifies(bundle, leafFile)) failures.push(`${a} ${slot}/${rel} vs ${b} ${trustFile}`);
    }
    return failures;
  };

  it("bundles hold one CA outside a rotation and two during it", () => {
    for (const [phase, n] of [[CaRotationPhase.NONE, 1], [CaRotationPhase.TRUST_BOTH, 2], [CaRotationPhase.ISSUE_NEW, 2], [CaRotationPhase.DISTRUST_OLD, 1]] as const) {
      for (const f of ["apiserver-0/ca.crt", "apiserver-0/etcd/ca.crt", "apiserver-0/front-proxy-ca.crt", "etcd-0/etcd/ca.crt"]) expect([phase, f, pemCount(filesOf.get(`${phase}/${f}`)!)]).toEqual([phase, f, n]);
      expect(pemCount(filesOf.get(`${phase}/apiserver-0/ca-signer.crt`)!)).toBe(1);
    }
  });

  it("every leaf verifies against every bundle of its own phase and of the neighbouring phases", () => {
    for (let i = 0; i < phases.length; i++) {
      expect(crossCheck(phases[i], phases[i])).toEqual([]);
      if (i + 1 < phases.length) {
        expect(crossCheck(phases[i], phases[i + 1])).toEqual([]);
        expect(crossCheck(phases[i + 1], phases[i])).toEqual([]);
      }
    }
  });

  it("skipping TRUST_BOTH breaks trust: new leaves fail against the bundles nodes not yet refreshed hold", () => {
    const broken = crossCheck(CaRotationPhase.ISSUE_NEW, CaRotationPhase.NONE);
    expect(broken.length).toBeGreaterThan(5);
    expect(crossCheck(CaRotationPhase.DISTRUST_OLD, CaRotationPhase.TRUST_BOTH)).toEqual([]);
    expect(crossCheck(CaRotationPhase.NONE, CaRotationPhase.DISTRUST_OLD).length).toBeGreaterThan(5);
  });

  it("ca-signer.crt is the certificate of ca.key (the controller-manager's signer must match its key)", () => {
    for (const phase of phases) {
      const set = sets.get(phase) as ClusterCertificateSet;
      const issuing = set.trust.find((t) => t.issuing.startsWith("kubernetes-ca"))!.issuing;
      const pub = (args: string[]) => execFileSync("openssl", args, { encoding: "utf8" });
      expect(pub(["x509", "-in", filesOf.get(`${phase}/apiserver-0/ca-signer.crt`)!, "-noout", "-pubkey"])).toBe(pub(["pkey", "-in", issued.get(issuing)!.key, "-pubout"]));
    }
  });
});
