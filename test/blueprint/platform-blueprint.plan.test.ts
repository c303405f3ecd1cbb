/**
 * Tier 2 for examples/platform-blueprint: every stack of both clusters synthesizes and passes
 * `terraform validate` + `plan` with nothing cut out: the AWS stacks against the real AWS provider
 * and the tls stand-in, the cluster-objects stacks against the kubernetes stand-in
 * (test/providers/kubernetes, the hashicorp/kubernetes 2.38.0 schema and plan-time validators) and
 * the tls stand-in.
 *
 * The cluster-objects stack reads its API endpoint and credentials from the secret the control-plane
 * stack writes (`data.aws_secretsmanager_secret_version`, no `terraform_remote_state`). Reading it
 * needs AWS credentials, so offline that one data source is substituted, by a value with exactly the
 * keys the control-plane stack's secret version writes (read from that stack's own synthesized
 * `jsonencode`, not typed here): the provider configuration and the outputs `jsondecode` it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { declareClusters } from "../../examples/platform-blueprint/main";
import { BlueprintCluster } from "../../lib/blueprint";
import { Testing } from "../../lib/core";
import { type JsonObject, planSynthesizedStack, providerPlanCheck } from "../harness/provider-plan";
import { describeTier } from "../harness/tiers";

jest.setTimeout(300000);

/** Every resource of a stack: aws, tls and kubernetes all plan for real (tls and kubernetes through the stand-ins). */
function resourceCount(json: { resource?: Record<string, object> }): number {
  return Object.values(json.resource ?? {}).reduce((n, r) => n + Object.keys(r).filter((k) => k !== "//").length, 0);
}

/** Resources of one provider (by type prefix) in a stack. */
function countOf(json: { resource?: Record<string, object> }, prefix: string): number {
  return Object.entries(json.resource ?? {}).filter(([type]) => type.startsWith(prefix)).reduce((n, [, r]) => n + Object.keys(r).length, 0);
}

/**
 * The secret the control-plane stack writes for the cluster-objects stack, as a JSON string with the
 * keys of its `jsonencode({...})` and values of the right shape (the endpoint is an https URL on
 * 6443, the PEMs are PEM blocks).
 */
function accessSecretValue(controlPlane: JsonObject, secretName: string): string {
  const versions = (controlPlane.resource as Record<string, Record<string, { secret_id?: string; secret_string?: string }>>).aws_secretsmanager_secret_version;
  const secrets = (controlPlane.resource as Record<string, Record<string, { name?: string }>>).aws_secretsmanager_secret;
  const secretAddress = Object.entries(secrets).find(([, s]) => s.name === secretName)?.[0];
  expect(secretAddress).toBeDefined();
  const version = Object.values(versions).find((v) => v.secret_id === `\${aws_secretsmanager_secret.${secretAddress}.id}`);
  expect(version?.secret_string).toMatch(/^\$\{jsonencode\(\{/);
  const keys = [...version!.secret_string!.matchAll(/"([a-z_]+)" = /g)].map((m) => m[1]);
  expect(keys).toEqual(expect.arrayContaining(["api_url", "ca_cert_pem", "client_cert_pem", "client_key_pem"]));
  const pem = (label: string) => `-----BEGIN ${label}-----\nTUlJQlBsYWNlaG9sZGVy\n-----END ${label}-----\n`;
  const value: Record<string, string> = {};
  for (const key of keys) {
    if (key.endsWith("_url")) value[key] = "https://internal-api.example.internal:6443";
    else if (key.endsWith("_key_pem")) value[key] = pem("EC PRIVATE KEY");
    else if (key.endsWith("_pem")) value[key] = pem("CERTIFICATE");
    else value[key] = "SUPER_ADMIN";
  }
  return JSON.stringify(value);
}

describeTier("examples/platform-blueprint against the real AWS provider", providerPlanCheck(), { tierLabel: "provider-plan" }, () => {
  // Built in beforeAll: a skipped tier still runs describe bodies.
  let clusters: BlueprintCluster[] = [];
  let outdir = "";
  beforeAll(() => {
    const app = Testing.app();
    clusters = declareClusters(app);
    app.synth();
    outdir = app.outdir;
  });
  const read = (id: string) => JSON.parse(readFileSync(join(outdir, "stacks", id, "cdk.tf.json"), "utf8"));

  it("synthesizes both stacks of both clusters", () => {
    expect(clusters.flatMap((c) => [c.controlPlaneStack.node.id, c.clusterObjectsStack.node.id])).toEqual([
      "payments-prod-control-plane",
      "payments-prod-cluster-objects",
      "payments-dev-control-plane",
      "payments-dev-cluster-objects",
    ]);
  });

  it("plans both control-plane stacks with every AWS and tls resource", async () => {
    const stacks = clusters.map((c) => read(c.controlPlaneStack.node.id));
    // Who is deploying (secret policies name the deployer) is only known with credentials.
    const deployerReads = ["aws_caller_identity", "aws_iam_session_context", "aws_partition"];
    const results = await Promise.all(stacks.map((json) => planSynthesizedStack(json, { substituteDataSources: deployerReads })));
    results.forEach((result, i) => {
      // Nothing of tls is cut out: only the data sources that need credentials are substituted.
      for (const address of result.prepared.removed) expect(address).toMatch(/^data\.aws_(caller_identity|iam_session_context|partition)\./);
      expect(result.prepared.removedProviders).toEqual([]);
      expect(result.resourceCount).toBe(resourceCount(stacks[i]));
    });
  });

  it("plans both cluster-objects stacks with every kubernetes and tls resource (kubernetes stand-in)", async () => {
    const results = await Promise.all(
      clusters.map((c) => {
        const json = read(c.clusterObjectsStack.node.id);
        const secret = accessSecretValue(read(c.controlPlaneStack.node.id), c.controlPlaneStack.accessSecret.secretName);
        return planSynthesizedStack(json, {
          substituteDataSources: ["aws_secretsmanager_secret_version"],
          substituteValues: { "data.aws_secretsmanager_secret_version.AccessSecret.secret_string": secret },
        }).then((result) => ({ json, result }));
      }),
    );
    for (const { json, result } of results) {
      // The only thing not planned for real: the secret read (AWS credentials).
      expect(result.prepared.removed).toEqual(["data.aws_secretsmanager_secret_version.AccessSecret"]);
      expect(result.prepared.removedProviders).toEqual([]);
      expect(countOf(json, "kubernetes_")).toBeGreaterThanOrEqual(30);
      expect(result.resourceCount).toBe(resourceCount(json));
      expect(result.planOutput).toContain('resource "kubernetes_deployment_v1"');
      expect(result.planOutput).toContain('resource "kubernetes_daemon_set_v1"');
    }
  });
});
