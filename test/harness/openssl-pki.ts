/**
 * Issues real certificates from the library's certificate specs with openssl (the specs are the
 * same ones the Terraform issuer renders). Used by the PKI end-to-end tests and the etcd tier.
 */
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { CertificateSpec, ClusterCertificateSet, opensslCommands, renderOpensslConfig } from "../../lib";
import { SUPER_ADMIN_COMMON_NAME, SUPER_ADMIN_SPEC_ID, SYSTEM_MASTERS_GROUP } from "../../lib/cluster/access";

const run = promisify(execFile);

/** Paths of an issued certificate. */
export interface IssuedFiles {
  readonly cert: string;
  readonly key: string;
}

/** Issues one spec into `dir/<id>.crt|.key`, signed by `ca` when given. */
export async function issueWithOpenssl(spec: CertificateSpec, dir: string, ca?: IssuedFiles): Promise<IssuedFiles> {
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, spec.id);
  const paths = { config: `${base}.cnf`, key: `${base}.key`, csr: `${base}.csr`, cert: `${base}.crt`, caCert: ca?.cert, caKey: ca?.key };
  writeFileSync(paths.config, renderOpensslConfig(spec));
  for (const args of opensslCommands(spec, paths)) {
    await run("openssl", args, { timeout: 30000 });
  }
  return { cert: paths.cert, key: paths.key };
}

/** Issues every CA and the leaves selected by `filter` (all by default); returns files by spec id. */
export async function issueSet(set: ClusterCertificateSet, dir: string, filter: (spec: CertificateSpec) => boolean = () => true): Promise<Map<string, IssuedFiles>> {
  const issued = new Map<string, IssuedFiles>();
  for (const ca of set.cas) issued.set(ca.id, await issueWithOpenssl(ca, dir));
  // Leaves of one CA one at a time: `-CAcreateserial` reads and rewrites the CA's serial file, so
  // two signings by the same CA at once race on it ("Unable to load number from …srl").
  const bySigner = new Map<string, CertificateSpec[]>();
  for (const leaf of set.leaves.filter(filter)) bySigner.set(leaf.signer!, [...(bySigner.get(leaf.signer!) ?? []), leaf]);
  await Promise.all(
    [...bySigner.values()].map(async (leaves) => {
      for (const leaf of leaves) issued.set(leaf.id, await issueWithOpenssl(leaf, dir, issued.get(leaf.signer!)));
    }),
  );
  return issued;
}

/** `openssl x509 -text` of a certificate. */
export async function certificateText(cert: string): Promise<string> {
  return (await run("openssl", ["x509", "-in", cert, "-noout", "-text"])).stdout;
}

/** Writes a file and returns its path (small helper for test fixtures). */
export function writeFile(dir: string, name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

/**
 * The super-admin certificate the cluster-objects stack's provider authenticates with, as
 * `SuperAdminCertificate` declares it (the admin spec as CN kubernetes-super-admin, O
 * system:masters), issued with openssl by `ca` into `dir`.
 */
export function issueSuperAdmin(adminSpec: CertificateSpec, dir: string, ca: IssuedFiles): Promise<IssuedFiles> {
  return issueWithOpenssl({ ...adminSpec, id: SUPER_ADMIN_SPEC_ID, commonName: SUPER_ADMIN_COMMON_NAME, organizations: [SYSTEM_MASTERS_GROUP], fileStem: "super-admin" }, dir, ca);
}
