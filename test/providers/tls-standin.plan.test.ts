/**
 * The hashicorp/tls 4.1.0 stand-in (test/providers/tls) is at least as strict as the real provider
 * on what the library relies on: terraform installs it from a local mirror beside the real AWS
 * provider; its validators reject what the real ones reject, naming the attribute; it makes real
 * certificates that openssl (an outside verifier) accepts with the SANs and usages asked for; it
 * refuses to sign with a key that is not the CA certificate's; and an applied configuration plans
 * clean. Expected values come from openssl's own output and terraform's diagnostics.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { TerraformOutput, TerraformStack, Testing } from "../../lib/core";
import { TlsProviderIssuer } from "../../lib/pki/issuer";
import { CertificateKind, CertificateSpec, KeyAlgorithm, USAGES } from "../../lib/pki/spec";
import { describeTier } from "../harness/tiers";
import { StandinWorkspace, tlsStandinCheck } from "../harness/tls-standin";

/** init + validate or apply on 2 cores shared with another jest worker. */
const TIMEOUT_MS = 300_000;

const REQUIRED_PROVIDERS = `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
    tls = { source = "hashicorp/tls", version = "4.1.0" }
  }
}
`;

/** A CA and a server/client leaf, the shape lib/pki/issuer.ts declares. */
function pki(overrides: { caCurve?: string; leafCaKey?: string; extra?: string } = {}): string {
  return `${REQUIRED_PROVIDERS}
resource "tls_private_key" "ca" {
  algorithm   = "ECDSA"
  ecdsa_curve = "${overrides.caCurve ?? "P256"}"
}
resource "tls_self_signed_cert" "ca" {
  private_key_pem       = tls_private_key.ca.private_key_pem
  is_ca_certificate     = true
  set_subject_key_id    = true
  validity_period_hours = 8760
  early_renewal_hours   = 720
  allowed_uses          = ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"]
  subject {
    common_name  = "etcd-ca"
    organization = "cdktf-ha-control-plane"
  }
}
resource "tls_private_key" "leaf" {
  algorithm = "RSA"
  rsa_bits  = 2048
}
resource "tls_cert_request" "leaf" {
  private_key_pem = tls_private_key.leaf.private_key_pem
  dns_names       = ["etcd-0.cluster.internal", "localhost"]
  ip_addresses    = ["127.0.0.1", "10.0.1.10"]
  subject {
    common_name = "etcd-0"
  }
}
resource "tls_locally_signed_cert" "leaf" {
  cert_request_pem      = tls_cert_request.leaf.cert_request_pem
  ca_private_key_pem    = ${overrides.leafCaKey ?? "tls_private_key.ca.private_key_pem"}
  ca_cert_pem           = tls_self_signed_cert.ca.cert_pem
  validity_period_hours = 720
  early_renewal_hours   = 168
  allowed_uses          = ["digital_signature", "key_encipherment", "server_auth", "client_auth"]
  set_subject_key_id    = true
}
${overrides.extra ?? ""}
`;
}

/** An AWS resource fed by the tls outputs, so validate checks both providers' schemas together. */
const AWS_CONSUMER = `
resource "aws_ssm_parameter" "leaf" {
  name  = "/hacp/etcd-0/cert"
  type  = "SecureString"
  value = tls_locally_signed_cert.leaf.cert_pem
}
`;

async function validate(mainTf: string): Promise<{ valid: boolean; diagnostics: Array<{ summary: string; detail: string; address?: string }> }> {
  const ws = await StandinWorkspace.create(mainTf);
  try {
    await ws.init();
    const r = await ws.terraform(["validate", "-json", "-no-color"]);
    return JSON.parse(r.stdout) as { valid: boolean; diagnostics: Array<{ summary: string; detail: string; address?: string }> };
  } finally {
    await ws.dispose();
  }
}

function openssl(args: readonly string[]): string {
  return execFileSync("openssl", args as string[], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

describeTier("hashicorp/tls 4.1.0 stand-in", tlsStandinCheck(), { tierLabel: "provider-plan" }, () => {
  it(
    "validates a CA + leaf configuration that feeds an AWS resource (the control for the refusals below)",
    async () => {
      const result = await validate(pki({ extra: AWS_CONSUMER }));
      expect(result.diagnostics).toEqual([]);
      expect(result.valid).toBe(true);
    },
    TIMEOUT_MS,
  );

  it(
    'refuses ecdsa_curve = "P257" at validate, naming the attribute and the value',
    async () => {
      const result = await validate(pki({ caCurve: "P257", extra: AWS_CONSUMER }));
      expect(result.valid).toBe(false);
      const errors = result.diagnostics.filter((d) => /ecdsa_curve/.test(d.detail));
      expect(errors).toHaveLength(1);
      expect(errors[0].address).toBe("tls_private_key.ca");
      expect(errors[0].detail).toContain('"P257"');
      expect(errors[0].detail).toContain('"P256"');
    },
    TIMEOUT_MS,
  );

  it(
    "refuses a reference to an attribute tls_self_signed_cert does not have",
    async () => {
      const result = await validate(
        pki({
          extra: `
resource "aws_ssm_parameter" "ca" {
  name  = "/hacp/ca"
  type  = "String"
  value = tls_self_signed_cert.ca.certificate_pem
}`,
        }),
      );
      expect(result.valid).toBe(false);
      expect(result.diagnostics.map((d) => `${d.summary}: ${d.detail}`)).toEqual([
        expect.stringMatching(/^Unsupported attribute: .*"certificate_pem"/s),
      ]);
    },
    TIMEOUT_MS,
  );

  it(
    "refuses an allowed_uses word outside the provider's vocabulary and a negative validity",
    async () => {
      const result = await validate(
        pki().replace('"server_auth"', '"tls_server"').replace("validity_period_hours = 720", "validity_period_hours = -1"),
      );
      expect(result.valid).toBe(false);
      const details = result.diagnostics.map((d) => d.detail).join("\n");
      expect(details).toMatch(/"tls_server"/);
      expect(details).toMatch(/validity_period_hours.*-1/);
    },
    TIMEOUT_MS,
  );

  describe("apply (local state, tls resources only)", () => {
    let ws: StandinWorkspace | undefined;

    afterAll(async () => {
      await ws?.dispose();
    });

    it(
      "issues a CA and a leaf that openssl verifies, with the SANs and usages requested; a second plan is empty",
      async () => {
        ws = await StandinWorkspace.create(
          pki({
            extra: `
output "ca_pem" { value = tls_self_signed_cert.ca.cert_pem }
output "leaf_pem" { value = tls_locally_signed_cert.leaf.cert_pem }
output "leaf_key_pub" { value = tls_private_key.leaf.public_key_pem }`,
          }),
        );
        await ws.init();
        const apply = await ws.terraform(["apply", "-auto-approve", "-input=false", "-no-color"]);
        expect(`${apply.stderr}${apply.stdout}`).toMatch(/Apply complete! Resources: 5 added/);
        expect(apply.code).toBe(0);

        const out = async (name: string): Promise<string> => {
          const r = await ws!.terraform(["output", "-raw", name]);
          expect(r.code).toBe(0);
          return r.stdout;
        };
        const caFile = path.join(ws.dir, "ca.pem");
        const leafFile = path.join(ws.dir, "leaf.pem");
        writeFileSync(caFile, await out("ca_pem"));
        writeFileSync(leafFile, await out("leaf_pem"));

        expect(openssl(["verify", "-CAfile", caFile, leafFile]).trim()).toBe(`${leafFile}: OK`);

        const ca = openssl(["x509", "-in", caFile, "-noout", "-text"]);
        expect(ca).toMatch(/CA:TRUE/);
        expect(ca).toMatch(/Subject: O\s*=\s*cdktf-ha-control-plane, CN\s*=\s*etcd-ca/);
        expect(ca).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment, Certificate Sign, CRL Sign/);

        const leaf = openssl(["x509", "-in", leafFile, "-noout", "-text"]);
        expect(leaf).toMatch(/CA:FALSE/);
        expect(leaf).toMatch(/Subject: CN\s*=\s*etcd-0/);
        expect(leaf).toMatch(/Issuer: O\s*=\s*cdktf-ha-control-plane, CN\s*=\s*etcd-ca/);
        expect(leaf).toMatch(
          /X509v3 Subject Alternative Name:\s+DNS:etcd-0\.cluster\.internal, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:10\.0\.1\.10/,
        );
        expect(leaf).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
        expect(leaf).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
        expect(leaf).toMatch(/Public Key Algorithm: rsaEncryption[\s\S]*Public-Key: \(2048 bit\)/);
        // The certificate's key is the CSR's key, which is tls_private_key.leaf's.
        const certPub = openssl(["x509", "-in", leafFile, "-noout", "-pubkey"]);
        expect(certPub).toBe(await out("leaf_key_pub"));
        // Validity: 720 hours.
        const dates = openssl(["x509", "-in", leafFile, "-noout", "-startdate", "-enddate"]);
        const [start, end] = [/notBefore=(.*)/, /notAfter=(.*)/].map((re) => Date.parse(re.exec(dates)![1]));
        expect((end - start) / 3_600_000).toBe(720);

        const plan = await ws.terraform(["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        expect(plan.stdout).toMatch(/No changes\./);
        expect(plan.code).toBe(0);
      },
      TIMEOUT_MS,
    );
  });

  it(
    "applies the library's TlsProviderIssuer (CA, etcd server+client leaf, key pair) into a chain openssl verifies",
    async () => {
      const app = Testing.app();
      const stack = new TerraformStack(app, "issuer");
      const issuer = new TlsProviderIssuer();
      const base = { organizations: [] as string[], dnsNames: [] as string[], ipAddresses: [] as string[], validityHours: 8760, earlyRenewalHours: 720 };
      const caSpec: CertificateSpec = {
        ...base,
        id: "etcd-ca",
        commonName: "etcd-ca",
        kind: CertificateKind.CA,
        usages: USAGES[CertificateKind.CA],
        keyAlgorithm: KeyAlgorithm.ECDSA_P256,
        fileStem: "etcd/ca",
      };
      const leafSpec: CertificateSpec = {
        ...base,
        id: "etcd-server-etcd-0",
        commonName: "etcd-0",
        dnsNames: ["etcd-0.etcd.cluster.internal", "localhost"],
        ipAddresses: ["127.0.0.1", "10.0.2.10"],
        kind: CertificateKind.SERVER_AND_CLIENT,
        usages: USAGES[CertificateKind.SERVER_AND_CLIENT],
        signer: "etcd-ca",
        keyAlgorithm: KeyAlgorithm.RSA_2048,
        fileStem: "etcd/server",
      };
      const ca = issuer.issueCa(stack, caSpec, { keyOnNodes: false });
      const leaf = issuer.issue(stack, leafSpec, ca);
      const sa = issuer.keyPair(stack, { id: "sa", keyAlgorithm: KeyAlgorithm.RSA_2048, fileStem: "sa" });
      new TerraformOutput(stack, "ca_pem", { value: ca.certPem });
      new TerraformOutput(stack, "leaf_pem", { value: leaf.certPem });
      new TerraformOutput(stack, "sa_pub", { value: sa.publicKeyPem });

      const ws = await StandinWorkspace.create(Testing.synth(stack), "main.tf.json");
      try {
        await ws.init();
        const apply = await ws.terraform(["apply", "-auto-approve", "-input=false", "-no-color"]);
        expect(`${apply.stderr}${apply.stdout}`).toMatch(/Apply complete!/);
        expect(apply.code).toBe(0);
        const caFile = path.join(ws.dir, "ca.pem");
        const leafFile = path.join(ws.dir, "leaf.pem");
        writeFileSync(caFile, (await ws.terraform(["output", "-raw", "ca_pem"])).stdout);
        writeFileSync(leafFile, (await ws.terraform(["output", "-raw", "leaf_pem"])).stdout);
        expect(openssl(["verify", "-CAfile", caFile, leafFile]).trim()).toBe(`${leafFile}: OK`);
        const text = openssl(["x509", "-in", leafFile, "-noout", "-text"]);
        expect(text).toMatch(/DNS:etcd-0\.etcd\.cluster\.internal, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:10\.0\.2\.10/);
        expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
        expect((await ws.terraform(["output", "-raw", "sa_pub"])).stdout).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
        const plan = await ws.terraform(["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        expect(plan.code).toBe(0);
      } finally {
        await ws.dispose();
      }
    },
    TIMEOUT_MS,
  );

  it(
    "refuses at apply a leaf whose ca_private_key_pem is not the key of ca_cert_pem",
    async () => {
      const ws = await StandinWorkspace.create(
        pki({
          leafCaKey: "tls_private_key.impostor.private_key_pem",
          extra: `
resource "tls_private_key" "impostor" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}`,
        }),
      );
      try {
        await ws.init();
        const apply = await ws.terraform(["apply", "-auto-approve", "-input=false", "-no-color"]);
        expect(apply.code).not.toBe(0);
        expect(apply.stderr).toMatch(/Error: Failed to create certificate[\s\S]*with tls_locally_signed_cert\.leaf/);
        expect(apply.stderr).toMatch(/doesn't match parent's PublicKey/);
        const state = await ws.terraform(["state", "list"]);
        expect(state.stdout.split("\n")).not.toContain("tls_locally_signed_cert.leaf");
        expect(state.stdout.split("\n")).toContain("tls_self_signed_cert.ca");
      } finally {
        await ws.dispose();
      }
    },
    TIMEOUT_MS,
  );

  it(
    "plans a replacement of a certificate inside its early-renewal window",
    async () => {
      const ws = await StandinWorkspace.create(`${REQUIRED_PROVIDERS}
resource "tls_private_key" "k" {
  algorithm = "ED25519"
}
resource "tls_self_signed_cert" "short" {
  private_key_pem       = tls_private_key.k.private_key_pem
  validity_period_hours = 1
  early_renewal_hours   = 2
  allowed_uses          = ["digital_signature"]
}
`);
      try {
        await ws.init();
        const apply = await ws.terraform(["apply", "-auto-approve", "-input=false", "-no-color"]);
        expect(apply.code).toBe(0);
        const plan = await ws.terraform(["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        expect(plan.code).toBe(2);
        expect(plan.stdout).toMatch(/tls_self_signed_cert\.short must be replaced/);
        // Read flagged it; terraform re-plans the replacement as a create, so the new value is shown as planned then.
        expect(plan.stdout).toMatch(/ready_for_renewal\s+= true -> \S+ # forces replacement/);
      } finally {
        await ws.dispose();
      }
    },
    TIMEOUT_MS,
  );
});
