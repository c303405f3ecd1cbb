/**
 * The bootstrap bundle's resources against the real AWS provider (offline plan): the bucket and its
 * settings, and one `aws_s3_object` per role with `content_base64`, which plans with no AWS call.
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack, Testing } from "../../../lib/core";
import { BootstrapBundles, ClusterEncryptionKey, NodeRole } from "../../../lib";
import { planSynthesizedStack, providerPlanCheck } from "../../harness/provider-plan";
import { describeTier } from "../../harness/tiers";

describeTier("bootstrap bundle plans with the real AWS provider", providerPlanCheck(), { tierLabel: "plan" }, () => {
  it("plans the bucket, its settings and the role's bundle object", async () => {
    const stack = new TerraformStack(Testing.app(), "bundle");
    new AwsProvider(stack, "aws", { region: "eu-west-1", skipCredentialsValidation: true, skipRequestingAccountId: true, skipMetadataApiCheck: "true", accessKey: "x", secretKey: "x" });
    const key = ClusterEncryptionKey.fromKeyArn("arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555");
    const bundles = new BootstrapBundles(stack, "Bundles", { clusterName: "c1", encryptionKey: key });
    const role = new NodeRole(stack, "Role", { clusterName: "c1", nodeRole: "apiserver" });
    bundles.addNodeBundle({ role: "apiserver", boot: { clusterName: "c1", nodeRole: "apiserver" }, extras: { files: [], runcmd: [] }, grantee: role });
    const synthesized = Testing.synth(stack);
    const result = await planSynthesizedStack(synthesized, { commandTimeoutMs: 600_000 });
    const planned = Object.values(JSON.parse(synthesized).resource as Record<string, object>).reduce((n, r) => n + Object.keys(r).length, 0);
    expect(result.resourceCount).toBe(planned);
  }, 900_000);
});
