/**
 * S3StateBackend: one S3 state key per cluster and stack, encrypted, locked with S3-native lock
 * files. Terraform's s3 backend documents `use_lockfile` ("Whether to use a lockfile for locking
 * the state file", Terraform ≥ 1.10) and marks `dynamodb_table` deprecated; the synthesized backend
 * block must carry the former and not the latter.
 */
import { BlueprintStackKind, S3StateBackend } from "../../lib/blueprint";
import { TerraformStack, Testing } from "../../lib/core";
import { declareClusters } from "../../examples/platform-blueprint/main";
import { expectConfigError } from "../validation/config-error";

type S3Block = Record<string, unknown>;

function backendOf(stack: TerraformStack): S3Block {
  const json = JSON.parse(Testing.synth(stack)) as { terraform: { backend: { s3: S3Block } } };
  return json.terraform.backend.s3;
}

describe("S3StateBackend", () => {
  it("sets use_lockfile = true and no DynamoDB table on the stack's S3 backend", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    new S3StateBackend({ bucket: "acme-terraform-state", region: "eu-west-1" }).configure(stack, "prod", BlueprintStackKind.CONTROL_PLANE);
    expect(backendOf(stack)).toEqual({ bucket: "acme-terraform-state", key: "kubernetes/prod/control-plane.tfstate", region: "eu-west-1", encrypt: true, use_lockfile: true });
  });

  it("keys state by prefix, cluster and stack kind, with the KMS key when given", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    const kmsKeyId = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    new S3StateBackend({ bucket: "b-state", region: "eu-west-1", keyPrefix: "teams/payments", kmsKeyId }).configure(stack, "dev", BlueprintStackKind.CLUSTER_OBJECTS);
    expect(backendOf(stack)).toMatchObject({ key: "teams/payments/dev/cluster-objects.tfstate", kms_key_id: kmsKeyId, use_lockfile: true });
  });

  it.each([
    ["a leading slash", "/kubernetes"],
    ["a trailing slash", "kubernetes/"],
    ["an empty segment", "a//b"],
    ["a space", "my prefix"],
  ])("refuses a key prefix with %s", (_t, keyPrefix) => {
    expectConfigError(() => new S3StateBackend({ bucket: "b", region: "eu-west-1", keyPrefix }), { prop: "keyPrefix", value: keyPrefix });
  });

  it("refuses an empty bucket name", () => {
    expectConfigError(() => new S3StateBackend({ bucket: "", region: "eu-west-1" }), { prop: "bucket", value: "" });
  });

  it("locks every stack of the platform-blueprint example with a lock file, not DynamoDB", () => {
    const app = Testing.app();
    declareClusters(app);
    const stacks = app.node.children.filter((c): c is TerraformStack => c instanceof TerraformStack);
    expect(stacks).toHaveLength(4);
    for (const stack of stacks) {
      const s3 = backendOf(stack);
      expect(s3.use_lockfile).toBe(true);
      expect(s3).not.toHaveProperty("dynamodb_table");
    }
  });
});
