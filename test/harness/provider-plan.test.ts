/**
 * Unit tests of the offline preparation done before a provider plan (no terraform needed): the
 * substitution must be exact, because a wrong literal either breaks `terraform validate` for a
 * reason unrelated to the code under test or, worse, hides a reference the plan never checked.
 */
import { Fn, S3Backend, TerraformStack, Testing } from "../../lib/core";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { SelfSignedCert } from "@cdktf/provider-tls/lib/self-signed-cert";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AWS_PROVIDER_SOURCE,
  assertNoRemovedReferences,
  findRemovedReferences,
  hclLiteral,
  type JsonObject,
  mirrorProviders,
  normalizeProviderSource,
  placeholderFor,
  prepareForOfflinePlan,
  terraformPlatform,
} from "./provider-plan";

const REQUIRED = {
  aws: { source: "aws", version: "5.100.0" },
  tls: { source: "hashicorp/tls", version: "4.1.0" },
  kubernetes: { source: "hashicorp/kubernetes", version: "2.38.0" },
};

/** A stack in synthesized form with the given extra top-level blocks. */
function stack(blocks: JsonObject): JsonObject {
  return {
    terraform: { required_providers: REQUIRED },
    provider: { aws: [{ region: "eu-west-1" }], tls: [{}], kubernetes: [{ host: "${aws_lb.api.dns_name}" }] },
    ...blocks,
  };
}

const TLS_KEY = { tls_private_key: { k: { algorithm: "ECDSA", ecdsa_curve: "P256" } } };
const TLS_CERT = { tls_self_signed_cert: { c: { private_key_pem: "${tls_private_key.k.private_key_pem}", validity_period_hours: 24 } } };

function resource(json: JsonObject, type: string, name: string): JsonObject {
  return ((json.resource as JsonObject)[type] as JsonObject)[name] as JsonObject;
}

describe("prepareForOfflinePlan: cutting out unavailable providers", () => {
  it("removes tls/kubernetes resources, data sources, provider blocks and required_providers entries", () => {
    const { json, removed, removedProviders } = prepareForOfflinePlan(
      stack({
        resource: { ...TLS_KEY, ...TLS_CERT, kubernetes_namespace: { ns: { metadata: [{ name: "x" }] } }, aws_vpc: { v: { cidr_block: "10.0.0.0/16" } } },
        data: { tls_certificate: { ca: { url: "https://example.com" } }, aws_partition: { p: {} } },
      }),
    );
    expect(Object.keys(json.resource as JsonObject)).toEqual(["aws_vpc"]);
    expect(Object.keys(json.data as JsonObject)).toEqual(["aws_partition"]);
    expect(Object.keys(json.provider as JsonObject)).toEqual(["aws"]);
    expect(Object.keys((json.terraform as JsonObject).required_providers as JsonObject)).toEqual(["aws"]);
    expect(removed).toEqual(["data.tls_certificate.ca", "kubernetes_namespace.ns", "tls_private_key.k", "tls_self_signed_cert.c"]);
    expect(removedProviders).toEqual(["registry.terraform.io/hashicorp/kubernetes", "registry.terraform.io/hashicorp/tls"]);
  });

  it("keeps providers that are available (mirror holding tls too)", () => {
    const { json, removed } = prepareForOfflinePlan(stack({ resource: { ...TLS_KEY } }), {
      availableProviders: [AWS_PROVIDER_SOURCE, "hashicorp/tls"],
    });
    expect(removed).toEqual([]);
    expect(resource(json, "tls_private_key", "k")).toEqual(TLS_KEY.tls_private_key.k);
  });

  it("does not modify its input", () => {
    const input = stack({ resource: { ...TLS_KEY, ...TLS_CERT } });
    const before = JSON.stringify(input);
    prepareForOfflinePlan(input);
    expect(JSON.stringify(input)).toBe(before);
  });

  it("cuts out aws data sources listed in substituteDataSources and substitutes their attributes", () => {
    const { json, replaced } = prepareForOfflinePlan(
      stack({
        data: { aws_availability_zones: { az: { state: "available" } } },
        resource: { aws_subnet: { a: { vpc_id: "vpc-1", availability_zone: "${data.aws_availability_zones.az.names[0]}" } } },
        output: { zones: { value: "${data.aws_availability_zones.az.names}" } },
      }),
      { substituteDataSources: ["aws_availability_zones"] },
    );
    expect(json.data).toBeUndefined();
    expect(resource(json, "aws_subnet", "a").availability_zone).toBe("placeholder-data-aws_availability_zones-az-names");
    expect(((json.output as JsonObject).zones as JsonObject).value).toEqual([0, 1, 2].map((i) => `placeholder-data-aws_availability_zones-az-names-${i}`));
    expect(replaced).toEqual(["data.aws_availability_zones.az.names", "data.aws_availability_zones.az.names[0]"]);
  });
});

describe("prepareForOfflinePlan: placeholders", () => {
  const prepare = (value: string): { value: unknown; replaced: string[] } => {
    const { json, replaced } = prepareForOfflinePlan(
      stack({ resource: { ...TLS_KEY, ...TLS_CERT, aws_ssm_parameter: { p: { name: "p", type: "SecureString", value } } } }),
    );
    return { value: resource(json, "aws_ssm_parameter", "p").value, replaced };
  };

  it("substitutes a whole-string reference by the raw typed value", () => {
    const { value, replaced } = prepare("${tls_self_signed_cert.c.cert_pem}");
    expect(value).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/);
    expect(replaced).toEqual(["tls_self_signed_cert.c.cert_pem"]);
    expect(prepare("${tls_private_key.k.private_key_pem}").value).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(prepare("${tls_private_key.k.private_key_pem_pkcs8}").value).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(prepare("${tls_private_key.k.public_key_pem}").value).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(prepare("${ tls_private_key.k.public_key_openssh }").value).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/=]+ placeholder\n$/);
    expect(prepare("${tls_private_key.k.private_key_openssh}").value).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(prepare("${tls_private_key.k.public_key_fingerprint_md5}").value).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    expect(prepare("${tls_private_key.k.public_key_fingerprint_sha256}").value).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(prepare("${tls_self_signed_cert.c.validity_end_time}").value).toBe("2035-01-01T00:00:00Z");
    expect(prepare("${tls_self_signed_cert.c.validity_start_time}").value).toBe("2025-01-01T00:00:00Z");
    expect(prepare("${tls_self_signed_cert.c.ready_for_renewal}").value).toBe(false);
    expect(prepare("${tls_self_signed_cert.c.is_ca_certificate}").value).toBe(false);
    expect(prepare("${tls_self_signed_cert.c.validity_period_hours}").value).toBe(8760);
    expect(prepare("${tls_private_key.k.rsa_bits}").value).toBe(2048);
    expect(prepare("${tls_private_key.k.id}").value).toBe("placeholder-tls_private_key-k-id");
    expect(prepare("${tls_private_key.k.algorithm}").value).toBe("placeholder-tls_private_key-k-algorithm");
  });

  it("substitutes an HCL string literal for a reference embedded in a larger expression", () => {
    const { value, replaced } = prepare("${base64encode(tls_private_key.k.private_key_pem)}");
    const literal = hclLiteral(placeholderFor({ mode: "", type: "tls_private_key", name: "k", attributes: ["private_key_pem"], endsIndexed: false, splat: false, text: "tls_private_key.k.private_key_pem" }));
    expect(value).toBe(`\${base64encode(${literal})}`);
    expect(literal).toMatch(/^"-----BEGIN PRIVATE KEY-----\\n[A-Za-z0-9+/=\\n]+-----END PRIVATE KEY-----\\n"$/);
    expect(replaced).toEqual(["tls_private_key.k.private_key_pem"]);
  });

  it("substitutes several references in one string, inside jsonencode objects and templates", () => {
    const value = String(
      prepare(
        '${jsonencode({"cert" = tls_self_signed_cert.c.cert_pem, "key" = tls_private_key.k.private_key_pem, "n" = tls_self_signed_cert.c.validity_end_time})}',
      ).value,
    );
    expect(value).toMatch(/^\$\{jsonencode\(\{"cert" = "-----BEGIN CERTIFICATE-----\\n.*-----END CERTIFICATE-----\\n", "key" = "-----BEGIN PRIVATE KEY-----\\n.*\\n", "n" = "2035-01-01T00:00:00Z"\}\)\}$/);
    // Text around interpolations stays; each interpolation is substituted on its own.
    expect(prepare("expires ${tls_self_signed_cert.c.validity_end_time}, fp ${tls_private_key.k.public_key_fingerprint_md5}!").value).toMatch(
      /^expires \$\{"2035-01-01T00:00:00Z"\}, fp \$\{"([0-9a-f]{2}:){15}[0-9a-f]{2}"\}!$/,
    );
    // A reference inside a quoted template nested in an expression.
    expect(prepare('${upper("k=${tls_private_key.k.id}")}').value).toBe('${upper("k=${"placeholder-tls_private_key-k-id"}")}');
    // Numbers and booleans stay typed inside expressions.
    expect(prepare("${tls_self_signed_cert.c.ready_for_renewal ? 1 : tls_private_key.k.rsa_bits}").value).toBe("${false ? 1 : 2048}");
  });

  it("covers the whole traversal: instance indexes, attribute indexes, splats, data sources", () => {
    expect(prepare("${tls_private_key.k[0].private_key_pem}").value).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(prepare('${tls_private_key.k["a"].public_key_pem}').value).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(prepare("${tls_private_key.k[count.index].id}").value).toBe("placeholder-tls_private_key-k-id");
    expect(prepare("${tls_private_key.k[*].id}").value).toEqual(["placeholder-tls_private_key-k-id"]);
    expect(prepare("${join(\",\", tls_private_key.k.*.id)}").value).toBe('${join(",", ["placeholder-tls_private_key-k-id"])}');
    const data = prepare("${data.tls_certificate.ca.certificates[0].sha1_fingerprint}");
    expect(data.value).toMatch(/^[0-9a-f]{40}$/);
    expect(data.replaced).toEqual(["data.tls_certificate.ca.certificates[0].sha1_fingerprint"]);
    expect(prepare('${data.kubernetes_secret.s.data["token"]}').value).toBe("placeholder-data-kubernetes_secret-s-data");
    // A reference inside the index of a removed reference goes with it, not replaced twice.
    const nested = prepare("${tls_private_key.k[tls_private_key.j.id].id}");
    expect(nested.replaced).toEqual(["tls_private_key.k[tls_private_key.j.id].id"]);
  });

  it("uses a value given for a substituted data source's reference instead of the guessed placeholder", () => {
    const secret = JSON.stringify({ api_url: "https://h:6443" });
    const { json, removed, replaced } = prepareForOfflinePlan(
      {
        data: { aws_secretsmanager_secret_version: { s: { secret_id: "x" } } },
        output: {
          url: { value: "${jsondecode(data.aws_secretsmanager_secret_version.s.secret_string).api_url}" },
          raw: { value: "${data.aws_secretsmanager_secret_version.s.secret_string}" },
          arn: { value: "${data.aws_secretsmanager_secret_version.s.arn}" },
        },
      },
      { substituteDataSources: ["aws_secretsmanager_secret_version"], substituteValues: { "data.aws_secretsmanager_secret_version.s.secret_string": secret } },
    );
    expect(removed).toEqual(["data.aws_secretsmanager_secret_version.s"]);
    expect(replaced).toContain("data.aws_secretsmanager_secret_version.s.secret_string");
    const output = json.output as Record<string, { value: string }>;
    expect(output.url.value).toBe(`\${jsondecode(${hclLiteral(secret)}).api_url}`);
    expect(output.raw.value).toBe(secret);
    // Not listed: the guessed placeholder.
    expect(output.arn.value).toMatch(/^arn:aws:iam::123456789012:placeholder\//);
  });

  it("escapes placeholder text for HCL templates", () => {
    expect(hclLiteral('a"b\\c\nd${e}%{f}')).toBe('"a\\"b\\\\c\\nd$${e}%%{f}"');
    expect(hclLiteral(["x", 1, true])).toBe('["x", 1, true]');
  });

  it("leaves references to kept resources, attributes, escapes and look-alikes alone", () => {
    for (const text of [
      "${aws_vpc.v.id}",
      "${var.tls_private_key.k}",
      "$${tls_private_key.k.id}",
      "plain tls_private_key.k.id text",
      '${{tls_private_key = 1}}',
      "${local.x.tls_private_key.k}",
    ]) {
      expect(prepare(text)).toEqual({ value: text, replaced: [] });
    }
  });
});

describe("prepareForOfflinePlan: references outside attributes", () => {
  it("drops depends_on / replace_triggered_by entries that point at removed resources", () => {
    const { json } = prepareForOfflinePlan(
      stack({
        resource: {
          ...TLS_KEY,
          ...TLS_CERT,
          aws_vpc: { v: { cidr_block: "10.0.0.0/16" } },
          aws_secretsmanager_secret: {
            a: { name: "a", depends_on: ["tls_self_signed_cert.c", "aws_vpc.v", "data.tls_certificate.x"] },
            b: { name: "b", depends_on: ["tls_private_key.k"], lifecycle: { replace_triggered_by: ["tls_private_key.k.id"] } },
          },
        },
      }),
    );
    expect(resource(json, "aws_secretsmanager_secret", "a").depends_on).toEqual(["aws_vpc.v"]);
    expect(resource(json, "aws_secretsmanager_secret", "b")).toEqual({ name: "b", lifecycle: {} });
  });

  it("substitutes in outputs, locals and object keys", () => {
    const { json } = prepareForOfflinePlan(
      stack({
        resource: { ...TLS_KEY },
        locals: { key: "${tls_private_key.k.private_key_pem}" },
        output: { fp: { value: "${tls_private_key.k.public_key_fingerprint_md5}" } },
      }),
    );
    expect((json.locals as JsonObject).key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(((json.output as JsonObject).fp as JsonObject).value).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  });

  it("throws when a reference to a removed resource cannot be substituted", () => {
    // An unterminated interpolation is not guessed at; the leftover check must catch it.
    const broken = stack({
      resource: { ...TLS_KEY, aws_ssm_parameter: { p: { name: "p", type: "String", value: "x-${tls_private_key.k.id" } } },
    });
    expect(() => prepareForOfflinePlan(broken)).toThrow(
      /references to resources of removed providers \(.*tls.*\) remain after substitution:\n {2}resource\.aws_ssm_parameter\.p\.value: x-\$\{tls_private_key\.k\.id/,
    );
  });

  it("assertNoRemovedReferences flags leftovers in templates and address lists only", () => {
    expect(() => assertNoRemovedReferences({ output: { o: { value: "${upper(tls_x.y.z)}" } } }, ["tls"])).toThrow(/output\.o\.value/);
    expect(() => assertNoRemovedReferences({ resource: { a: { b: { depends_on: ["data.tls_x.y"] } } } }, ["tls"])).toThrow(/depends_on\[0\]/);
    expect(() => assertNoRemovedReferences({ output: { o: { value: "text about tls_x.y" } } }, ["tls"])).not.toThrow();
    expect(() => assertNoRemovedReferences({ output: { o: { value: "${var.tls_x.y}" } } }, ["tls"])).not.toThrow();
  });
});

describe("prepareForOfflinePlan: backend and AWS provider", () => {
  it("removes the backend and rewrites every AWS provider block with fake credentials", () => {
    const { json } = prepareForOfflinePlan({
      terraform: { required_providers: { aws: REQUIRED.aws }, backend: { s3: { bucket: "b", key: "k", region: "eu-west-1" } } },
      provider: {
        aws: [
          { region: "eu-west-1", assume_role: [{ role_arn: "arn:aws:iam::1:role/x" }], profile: "prod", shared_config_files: ["/x"], default_tags: [{ tags: { a: "b" } }] },
          { alias: "use1", region: "us-east-1", access_key: "REAL" },
        ],
      },
    });
    expect(json.terraform).toEqual({ required_providers: { aws: REQUIRED.aws } });
    const fake = {
      access_key: "AKIAIOSFODNN7EXAMPLE",
      secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      skip_credentials_validation: true,
      skip_requesting_account_id: true,
      skip_metadata_api_check: true,
      skip_region_validation: true,
      max_retries: 1,
    };
    expect((json.provider as JsonObject).aws).toEqual([
      { region: "eu-west-1", default_tags: [{ tags: { a: "b" } }], ...fake },
      { alias: "use1", region: "us-east-1", ...fake },
    ]);
  });

  it("adds an AWS provider (us-east-1) when the stack has none, also under another local name", () => {
    expect((prepareForOfflinePlan({ resource: { aws_vpc: { v: { cidr_block: "10.0.0.0/16" } } } }).json.provider as JsonObject).aws).toEqual([
      expect.objectContaining({ region: "us-east-1", access_key: "AKIAIOSFODNN7EXAMPLE", skip_requesting_account_id: true }),
    ]);
    const renamed = prepareForOfflinePlan({
      terraform: { required_providers: { amazon: { source: "registry.terraform.io/hashicorp/aws" } } },
      provider: { amazon: { region: "eu-central-1", profile: "x" } },
    }).json.provider as JsonObject;
    expect(renamed.amazon).toEqual([expect.objectContaining({ region: "eu-central-1", secret_key: expect.any(String) })]);
    expect((renamed.amazon as JsonObject[])[0].profile).toBeUndefined();
  });

  it("handles what cdktf Testing.synth produces, including a backend and assume_role", () => {
    const app = Testing.app();
    const s = new TerraformStack(app, "s");
    new AwsProvider(s, "aws", { region: "eu-west-1", assumeRole: [{ roleArn: "arn:aws:iam::111111111111:role/deploy" }] });
    new TlsProvider(s, "tls");
    new S3Backend(s, { bucket: "b", key: "k", region: "eu-west-1" });
    const key = new PrivateKey(s, "key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    const cert = new SelfSignedCert(s, "cert", { privateKeyPem: key.privateKeyPem, validityPeriodHours: 24, allowedUses: ["server_auth"], subject: [{ commonName: "ca" }] });
    const secret = new SecretsmanagerSecret(s, "secret", { name: "ca" });
    new SecretsmanagerSecretVersion(s, "v", { secretId: secret.id, secretString: Fn.jsonencode({ cert: cert.certPem }), dependsOn: [cert] });
    const synth = Testing.synth(s);

    const { json, replaced } = prepareForOfflinePlan(synth);
    expect(replaced).toEqual(["tls_self_signed_cert.cert.cert_pem"]);
    const version = resource(json, "aws_secretsmanager_secret_version", "v");
    expect(version.depends_on).toBeUndefined();
    expect(version.secret_string).toMatch(/^\$\{jsonencode\(\{"cert" = "-----BEGIN CERTIFICATE-----\\n/);
    expect((json.terraform as JsonObject).backend).toBeUndefined();
    expect(JSON.stringify(json)).not.toMatch(/tls_|assume_role/);
  });
});

describe("findRemovedReferences", () => {
  it("reports the parsed traversal", () => {
    expect(findRemovedReferences("${f(data.tls_x.y[0].a.b, tls_z.w)}", (_mode, type) => type.startsWith("tls_"))).toEqual([
      { mode: "data", type: "tls_x", name: "y", attributes: ["a", "b"], endsIndexed: false, splat: false, text: "data.tls_x.y[0].a.b" },
      { mode: "", type: "tls_z", name: "w", attributes: [], endsIndexed: false, splat: false, text: "tls_z.w" },
    ]);
  });
});

describe("provider source and mirror layout", () => {
  it("normalizes provider source addresses like terraform init", () => {
    expect(normalizeProviderSource("aws")).toBe(AWS_PROVIDER_SOURCE);
    expect(normalizeProviderSource("hashicorp/AWS")).toBe(AWS_PROVIDER_SOURCE);
    expect(normalizeProviderSource("registry.terraform.io/hashicorp/aws")).toBe(AWS_PROVIDER_SOURCE);
    expect(normalizeProviderSource("example.com/acme/thing")).toBe("example.com/acme/thing");
  });

  it("lists unpacked and packed mirror entries for this platform only", () => {
    const mirror = mkdtempSync(join(tmpdir(), "mirror-"));
    try {
      const platform = terraformPlatform();
      mkdirSync(join(mirror, "registry.terraform.io/hashicorp/aws/5.100.0", platform), { recursive: true });
      mkdirSync(join(mirror, "registry.terraform.io/hashicorp/aws/5.9.0", platform), { recursive: true });
      mkdirSync(join(mirror, "registry.terraform.io/hashicorp/aws/4.0.0/windows_386"), { recursive: true });
      mkdirSync(join(mirror, "registry.terraform.io/hashicorp/tls"), { recursive: true });
      writeFileSync(join(mirror, `registry.terraform.io/hashicorp/tls/terraform-provider-tls_4.1.0_${platform}.zip`), "");
      mkdirSync(join(mirror, "registry.terraform.io/hashicorp/null/3.0.0/windows_386"), { recursive: true });
      expect(mirrorProviders(mirror)).toEqual([
        { source: AWS_PROVIDER_SOURCE, versions: ["5.9.0", "5.100.0"] },
        { source: "registry.terraform.io/hashicorp/tls", versions: ["4.1.0"] },
      ]);
    } finally {
      rmSync(mirror, { recursive: true, force: true });
    }
  });
});
