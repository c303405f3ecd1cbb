/**
 * Proves the provider-plan harness against the real AWS provider: a valid stack plans, and each
 * invalid value is rejected with the provider's own message. If the harness stopped reaching the
 * provider (or swallowed its errors), the negative cases would pass validate and these tests fail.
 */
import { Fn, S3Backend, TerraformStack, Testing } from "../../lib/core";
import { KeyPair } from "@cdktf/provider-aws/lib/key-pair";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { DataTlsPublicKey } from "@cdktf/provider-tls/lib/data-tls-public-key";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { SelfSignedCert } from "@cdktf/provider-tls/lib/self-signed-cert";
import { existsSync } from "node:fs";
import { describeTier } from "./tiers";
import { type JsonObject, PlanFailedError, planSynthesizedStack, providerPlanCheck } from "./provider-plan";

/** Each terraform command takes a few seconds; two jest workers may share two cores. */
const PLAN_TIMEOUT_MS = 240_000;

interface ApiLbOverrides {
  readonly lbName?: string;
  readonly targetGroupName?: string;
  readonly healthCheckInterval?: number;
}

/**
 * The API server load balancer shape the library builds: internal NLB over two subnets, TCP target
 * group on 6443 health-checked over HTTPS on /readyz, TCP listener. The provider config carries an
 * assume_role and the stack an S3 backend, neither of which can work offline — the harness must
 * strip both or init/plan fails.
 */
function apiLbStack(overrides: ApiLbOverrides = {}): string {
  const app = Testing.app();
  const stack = new TerraformStack(app, "api-lb");
  new AwsProvider(stack, "aws", {
    region: "eu-west-1",
    assumeRole: [{ roleArn: "arn:aws:iam::111111111111:role/deploy" }],
    defaultTags: [{ tags: { cluster: "plan-tier" } }],
  });
  new S3Backend(stack, { bucket: "state-bucket", key: "api-lb.tfstate", region: "eu-west-1" });
  const vpc = new Vpc(stack, "vpc", { cidrBlock: "10.0.0.0/16" });
  const subnets = ["a", "b"].map(
    (zone, i) =>
      new Subnet(stack, `subnet-${zone}`, { vpcId: vpc.id, cidrBlock: `10.0.${i}.0/24`, availabilityZone: `eu-west-1${zone}` }),
  );
  const lb = new Lb(stack, "api", {
    name: overrides.lbName ?? "plan-tier-api",
    internal: true,
    loadBalancerType: "network",
    subnets: subnets.map((s) => s.id),
  });
  const targetGroup = new LbTargetGroup(stack, "apiserver", {
    name: overrides.targetGroupName ?? "plan-tier-apiserver",
    port: 6443,
    protocol: "TCP",
    vpcId: vpc.id,
    healthCheck: {
      protocol: "HTTPS",
      path: "/readyz",
      port: "6443",
      interval: overrides.healthCheckInterval ?? 10,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
    },
  });
  new LbListener(stack, "api-6443", {
    loadBalancerArn: lb.arn,
    port: 6443,
    protocol: "TCP",
    defaultAction: [{ type: "forward", targetGroupArn: targetGroup.arn }],
  });
  return Testing.synth(stack);
}

/** The resources of {@link apiLbStack}: VPC, two subnets, NLB, target group, listener. */
const API_LB_RESOURCES = 6;

/** A stack whose secrets come from the tls provider, which is not in the mirror. */
function tlsFedStack(): string {
  const app = Testing.app();
  const stack = new TerraformStack(app, "pki");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new TlsProvider(stack, "tls");
  const key = new PrivateKey(stack, "ca-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
  const cert = new SelfSignedCert(stack, "ca", {
    privateKeyPem: key.privateKeyPem,
    isCaCertificate: true,
    validityPeriodHours: 87600,
    allowedUses: ["cert_signing", "key_encipherment", "digital_signature"],
    subject: [{ commonName: "kubernetes-ca" }],
  });
  const pub = new DataTlsPublicKey(stack, "ca-pub", { privateKeyPem: key.privateKeyPem });
  const secret = new SecretsmanagerSecret(stack, "ca-secret", {
    name: "plan-tier/ca",
    // Embedded in a larger template: must become an HCL literal, not a raw value.
    description: `Kubernetes CA, valid until ${cert.validityEndTime}`,
    tags: { fingerprint: pub.publicKeyFingerprintSha256 },
  });
  new SecretsmanagerSecretVersion(stack, "ca-secret-version", {
    secretId: secret.id,
    secretString: Fn.jsonencode({ "ca.crt": cert.certPem, "ca.key": key.privateKeyPem }),
    dependsOn: [cert],
  });
  // Whole-string references: substituted as raw values.
  new SsmParameter(stack, "ca-key-param", { name: "/plan-tier/ca-key", type: "SecureString", value: key.privateKeyPem });
  new KeyPair(stack, "admin", { keyName: "plan-tier-admin", publicKey: key.publicKeyOpenssh });
  return Testing.synth(stack);
}

/** Runs a plan expected to fail and returns the error, failing the test if it succeeded. */
async function planFailure(synth: string): Promise<PlanFailedError> {
  try {
    await planSynthesizedStack(synth);
  } catch (err) {
    if (err instanceof PlanFailedError) return err;
    throw err;
  }
  throw new Error("terraform accepted a stack the AWS provider must reject");
}

function plannedResource(plan: JsonObject | undefined, address: string): JsonObject {
  const root = (plan?.planned_values as JsonObject | undefined)?.root_module as JsonObject | undefined;
  const found = ((root?.resources ?? []) as JsonObject[]).find((r) => r.address === address);
  if (!found) throw new Error(`${address} not in the plan`);
  return found.values as JsonObject;
}

describeTier("provider plan harness (real hashicorp/aws)", providerPlanCheck(), { tierLabel: "provider-plan" }, () => {
  it(
    "validates and plans a valid internal NLB stack, offline, without a backend or real credentials",
    async () => {
      const result = await planSynthesizedStack(apiLbStack());
      expect(result.validateJson.valid).toBe(true);
      expect(result.validateJson.error_count).toBe(0);
      expect(result.resourceCount).toBe(API_LB_RESOURCES);
      expect(result.planOutput).toMatch(/Plan: 6 to add, 0 to change, 0 to destroy\./);
      expect(result.planOutput).toContain("aws_lb_target_group.apiserver will be created");
      expect(result.prepared.replaced).toEqual([]);
      // The working directory is cleaned up unless asked otherwise.
      if (!result.kept) expect(existsSync(result.dir)).toBe(false);
    },
    PLAN_TIMEOUT_MS,
  );

  it(
    "surfaces the provider's own validation errors",
    async () => {
      // In parallel: each run is a separate terraform process in its own directory.
      const [longName, interval, underscore] = await Promise.all([
        planFailure(apiLbStack({ lbName: "a".repeat(33) })),
        planFailure(apiLbStack({ healthCheckInterval: 400 })),
        planFailure(apiLbStack({ targetGroupName: "plan_tier_apiserver" })),
      ]);

      expect(longName.stage).toBe("validate");
      expect(longName.message).toContain(`"name" cannot be longer than 32 characters: "${"a".repeat(33)}"`);
      expect(longName.message).toContain("aws_lb.api");
      expect(longName.diagnostics).toHaveLength(1);

      expect(interval.stage).toBe("validate");
      expect(interval.message).toContain("expected health_check.0.interval to be in the range (5 - 300), got 400");
      expect(interval.message).toContain("aws_lb_target_group.apiserver");
      expect(interval.diagnostics).toHaveLength(1);

      expect(underscore.stage).toBe("validate");
      expect(underscore.message).toContain('only alphanumeric characters and hyphens allowed in "name"');
      expect(underscore.message).toContain("aws_lb_target_group.apiserver");
      expect(underscore.diagnostics).toHaveLength(1);
    },
    PLAN_TIMEOUT_MS,
  );

  it(
    "cuts out a provider the mirror lacks, with typed placeholders in place of its values",
    async () => {
      // The cutting mechanism, opt-in since the plan mirror holds every provider the stacks use (aws
      // and the tls and kubernetes stand-ins), shown on tls with the aws-only mirror.
      const awsOnly = process.env.HA_CP_TF_MIRROR;
      if (!awsOnly) throw new Error("HA_CP_TF_MIRROR is not set (jest global setup sets it from scripts/setup-test-env.sh)");
      // Without the opt-in a missing provider fails the plan instead of planning less.
      await expect(planSynthesizedStack(tlsFedStack(), { mirror: awsOnly })).rejects.toThrow(/lacks registry\.terraform\.io\/hashicorp\/tls: nothing may be cut out/);
      const result = await planSynthesizedStack(tlsFedStack(), { planJson: true, mirror: awsOnly, allowCutProviders: true });
      expect(result.prepared.removed).toEqual(["data.tls_public_key.ca-pub", "tls_private_key.ca-key", "tls_self_signed_cert.ca"]);
      expect(result.prepared.removedProviders).toEqual(["registry.terraform.io/hashicorp/tls"]);
      expect(result.prepared.replaced).toEqual([
        "data.tls_public_key.ca-pub.public_key_fingerprint_sha256",
        "tls_private_key.ca-key.private_key_pem",
        "tls_private_key.ca-key.public_key_openssh",
        "tls_self_signed_cert.ca.cert_pem",
        "tls_self_signed_cert.ca.validity_end_time",
      ]);
      expect(result.resourceCount).toBe(4);

      // The placeholders reached the AWS provider and were evaluated by terraform.
      const secret = plannedResource(result.plan, "aws_secretsmanager_secret.ca-secret");
      expect(secret.description).toBe("Kubernetes CA, valid until 2035-01-01T00:00:00Z");
      expect((secret.tags as JsonObject).fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      const version = plannedResource(result.plan, "aws_secretsmanager_secret_version.ca-secret-version");
      const bundle = JSON.parse(String(version.secret_string)) as Record<string, string>;
      expect(bundle["ca.crt"]).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
      expect(bundle["ca.key"]).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(plannedResource(result.plan, "aws_ssm_parameter.ca-key-param").value).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(plannedResource(result.plan, "aws_key_pair.admin").public_key).toMatch(/^ssh-ed25519 AAAA/);
    },
    PLAN_TIMEOUT_MS,
  );
});
