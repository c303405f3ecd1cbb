/**
 * Tier 2 for examples/platform-blueprint: every stack of both clusters synthesizes; the AWS stacks
 * pass `terraform validate` + `plan` against the real AWS provider with every AWS resource (only tls
 * resources become placeholders, as in test/examples.plan.test.ts).
 *
 * The cluster-objects stacks cannot be planned offline: every block in them belongs to a provider
 * that is not in the mirror (kubernetes, tls, and terraform_remote_state of the builtin terraform
 * provider), so the harness would cut all of it out and plan an empty configuration. That is asserted
 * below instead of pretending; their content is covered by the unit tier and the token arithmetic by
 * test/cluster/bootstrap-token.plan.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { declareClusters } from "../../examples/platform-blueprint/main";
import { BlueprintCluster } from "../../lib/blueprint";
import { Testing } from "../../lib/core";
import { planSynthesizedStack, prepareForOfflinePlan, providerPlanCheck } from "../harness/provider-plan";
import { describeTier } from "../harness/tiers";

jest.setTimeout(300000);

/** AWS and tls resources: both providers plan for real (tls through the stand-in). */
function awsResourceCount(json: { resource?: Record<string, object> }): number {
  return Object.entries(json.resource ?? {}).filter(([type]) => type.startsWith("aws_") || type.startsWith("tls_")).reduce((n, [, r]) => n + Object.keys(r).length, 0);
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

  it("plans both control-plane stacks with every AWS resource", async () => {
    const stacks = clusters.map((c) => read(c.controlPlaneStack.node.id));
    // Who is deploying (secret policies name the deployer) is only known with credentials.
    const deployerReads = ["aws_caller_identity", "aws_iam_session_context", "aws_partition"];
    const results = await Promise.all(stacks.map((json) => planSynthesizedStack(json, { substituteDataSources: deployerReads })));
    results.forEach((result, i) => {
      // Nothing of tls is cut out: only the data sources that need credentials are substituted.
      for (const address of result.prepared.removed) expect(address).toMatch(/^data\.aws_(caller_identity|iam_session_context|partition)\./);
      expect(result.resourceCount).toBe(awsResourceCount(stacks[i]));
    });
  });

  it("has nothing to plan offline in the cluster-objects stacks but the access secret's read (kubernetes and tls only, no remote state)", () => {
    for (const c of clusters) {
      const json = read(c.clusterObjectsStack.node.id);
      const prepared = prepareForOfflinePlan(json);
      expect(prepared.json.resource).toBeUndefined();
      // The one AWS read: the secret the control-plane stack writes (needs credentials, so not planned here).
      expect(prepared.json.data).toEqual({ aws_secretsmanager_secret_version: { AccessSecret: expect.objectContaining({ secret_id: c.controlPlaneStack.accessSecret.secretName }) } });
      expect(prepared.removedProviders).toEqual(expect.arrayContaining(["registry.terraform.io/hashicorp/kubernetes", "registry.terraform.io/hashicorp/tls"]));
      expect(prepared.removedProviders).not.toContain("registry.terraform.io/hashicorp/terraform");
      expect(prepared.removed.filter((a) => a.startsWith("kubernetes_")).length).toBeGreaterThanOrEqual(10);
    }
  });
});
