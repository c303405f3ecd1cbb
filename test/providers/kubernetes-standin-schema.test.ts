/**
 * The schema the hashicorp/kubernetes stand-in serves (test/providers/kubernetes/schema.json) is
 * generated from the installed @cdktf/provider-kubernetes bindings and covers every resource type
 * the library declares: a new `@cdktf/provider-kubernetes/lib/<x>` import in lib/, or a bindings
 * upgrade, fails here until `node test/providers/kubernetes/gen-schema.js` is run.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "..", "..");
const SCHEMA = path.join(REPO, "test/providers/kubernetes/schema.json");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return sources(full);
    return full.endsWith(".ts") ? [full] : [];
  });
}

interface Block {
  attributes: Record<string, { type: unknown; required?: boolean; optional?: boolean; computed?: boolean }>;
  blocks: Record<string, { nesting: string; required: boolean; minItems: number; maxItems: number; block: Block }>;
}

describe("kubernetes stand-in schema", () => {
  const schema = JSON.parse(readFileSync(SCHEMA, "utf8")) as { providerVersion: string; resources: Record<string, Block>; provider: Block };

  it("is what gen-schema.js makes from the installed bindings (fresh)", () => {
    expect(() => execFileSync("node", [path.join(REPO, "test/providers/kubernetes/gen-schema.js"), "--check"], { stdio: "pipe" })).not.toThrow();
  });

  it("is for the version the bindings bind, 2.38.0", () => {
    const binding = readFileSync(path.join(REPO, "node_modules/@cdktf/provider-kubernetes/lib/provider/index.js"), "utf8");
    expect(binding).toContain("providerVersion: '2.38.0'");
    expect(schema.providerVersion).toBe("2.38.0");
  });

  it("covers every kubernetes resource type lib/ declares, and no data source is used", () => {
    const imported = new Set<string>();
    for (const file of sources(path.join(REPO, "lib"))) {
      for (const m of readFileSync(file, "utf8").matchAll(/@cdktf\/provider-kubernetes\/lib\/([a-z0-9-]+)/g)) imported.add(m[1]);
    }
    imported.delete("provider");
    expect([...imported].some((m) => m.startsWith("data-"))).toBe(false);
    const types = [...imported].map((m) => `kubernetes_${m.replace(/-/g, "_")}`).sort();
    expect(Object.keys(schema.resources).sort()).toEqual(types);
  });

  it("keeps the shape the bindings show for what the library sets (spot checks against the binding's own text)", () => {
    const deployment = schema.resources.kubernetes_deployment_v1;
    // Required single blocks (MaxItems 1, MinItems 1): `readonly metadata: DeploymentV1Metadata`.
    expect(deployment.blocks.metadata).toMatchObject({ nesting: "list", required: true, minItems: 1, maxItems: 1 });
    expect(deployment.blocks.spec).toMatchObject({ nesting: "list", required: true, minItems: 1, maxItems: 1 });
    // replicas is a string in 2.x (so it can be left to an autoscaler).
    expect(deployment.blocks.spec.block.attributes.replicas).toEqual({ type: "string", optional: true });
    const container = deployment.blocks.spec.block.blocks.template.block.blocks.spec.block.blocks.container;
    expect(container).toMatchObject({ nesting: "list", required: false, maxItems: 0 });
    expect(container.block.attributes.name).toEqual({ type: "string", required: true });
    expect(container.block.attributes.args).toEqual({ type: ["list", "string"], optional: true });
    // Computed-only metadata.
    expect(deployment.blocks.metadata.block.attributes.uid).toEqual({ type: "string", computed: true });
    const binding = schema.resources.kubernetes_cluster_role_binding_v1;
    expect(binding.blocks.subject).toMatchObject({ nesting: "list", required: true, minItems: 1 });
    expect(binding.blocks.role_ref).toMatchObject({ required: true, maxItems: 1 });
    // The provider block: exec is a block, host a string, no `alias` (terraform's meta-argument).
    expect(schema.provider.attributes.host).toEqual({ type: "string", optional: true });
    expect(schema.provider.attributes.alias).toBeUndefined();
    expect(schema.provider.blocks.exec.block.attributes.api_version).toEqual({ type: "string", required: true });
  });
});
