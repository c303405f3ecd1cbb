/**
 * The bootstrap token is computed by Terraform functions at apply time. This runs the very
 * expressions the stack synthesizes through `terraform console` (no provider needed) and checks them
 * against the TypeScript derivation and kubeadm's token shape.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BOOTSTRAP_TOKEN_PATTERN, bootstrapTokenExpressions, bootstrapTokenFromDigest } from "../../lib/cluster";
import { Fn, TerraformOutput, TerraformStack, Testing } from "../../lib/core";
import { describeTier, toolAvailable } from "../harness/tiers";

jest.setTimeout(60000);

const SEEDS = ["alpha", "bravo", "charlie", "delta", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"];

/** The synthesized `${...}` expressions of the token for each seed. */
function synthesizedTokens(): string[] {
  const stack = new TerraformStack(Testing.app(), "token");
  SEEDS.forEach((seed, i) => {
    const { id, secret } = bootstrapTokenExpressions(Fn.sha512(seed));
    new TerraformOutput(stack, `t${i}`, { value: `${id}.${secret}` });
  });
  const outputs = JSON.parse(Testing.synth(stack)).output as Record<string, { value: string }>;
  return SEEDS.map((_, i) => outputs[`t${i}`].value);
}

describeTier("bootstrap token expressions in terraform", toolAvailable("terraform", ["version"]), { tierLabel: "provider-plan" }, () => {
  it("evaluate to the TypeScript derivation and kubeadm's token shape", async () => {
    const dir = await mkdtemp(join(tmpdir(), "token-console-"));
    try {
      const locals: Record<string, string> = {};
      synthesizedTokens().forEach((expr, i) => (locals[`t${i}`] = expr));
      await writeFile(join(dir, "main.tf.json"), JSON.stringify({ locals }));
      await writeFile(join(dir, "cli.tfrc"), "");
      const child = promisify(execFile)("terraform", ["console"], {
        cwd: dir,
        timeout: 30000,
        env: { PATH: process.env.PATH, HOME: dir, TF_CLI_CONFIG_FILE: join(dir, "cli.tfrc"), CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" },
      });
      child.child.stdin!.end(`jsonencode([${SEEDS.map((_, i) => `local.t${i}`).join(", ")}])\n`);
      const { stdout } = await child;
      const line = stdout.trim().split("\n").pop()!;
      const tokens = JSON.parse(JSON.parse(line)) as string[];
      tokens.forEach((token, i) => {
        const expected = bootstrapTokenFromDigest(createHash("sha512").update(SEEDS[i]).digest("hex"));
        expect(token).toBe(`${expected.id}.${expected.secret}`);
        expect(token).toMatch(BOOTSTRAP_TOKEN_PATTERN);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
