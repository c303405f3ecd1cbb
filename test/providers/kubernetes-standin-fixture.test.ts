/**
 * The kubernetes stand-in's Go conversion tests (test/providers/kubernetes/convert_test.go) convert
 * every kubernetes resource of the library's cluster-objects stacks, read from
 * test/providers/kubernetes/testdata/stacks.json. This keeps that file what the library synthesizes
 * today: a change to the cluster objects fails here until the fixture is rewritten with
 * `UPDATE_STANDIN_FIXTURE=1 npx jest test/providers/kubernetes-standin-fixture.test.ts`.
 *
 * Two stacks: the reference example's (`HaClusterStack` + `ClusterAccessSecret` +
 * `ClusterObjectsStack`, what the control-plane tier applies) and one from literal access values with
 * every optional object switched on (anonymous cluster-info reader, platform admin group, a
 * PriorityClass with every field, three CoreDNS replicas).
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ClusterObjectsStack, PreemptionPolicy } from "../../lib/cluster";
import { Testing } from "../../lib/core";
import { literalAccess } from "../cluster/fixtures";
import { synthesizeClusterObjects } from "../controlplane/cluster-objects";

const FIXTURE = path.resolve(__dirname, "kubernetes/testdata/stacks.json");

type Json = Record<string, unknown>;

/** `{stack: {type: {name: config}}}` of the kubernetes resources, cdktf's `//` metadata dropped. */
function kubernetesResources(synth: Json): Json {
  const out: Json = {};
  for (const [type, instances] of Object.entries((synth.resource ?? {}) as Record<string, Json>)) {
    if (!type.startsWith("kubernetes_")) continue;
    const kept: Json = {};
    for (const [name, body] of Object.entries(instances)) {
      if (name === "//") continue;
      const { ["//"]: _, lifecycle: __, depends_on: ___, ...config } = body as Json; // eslint-disable-line @typescript-eslint/no-unused-vars
      kept[name] = config;
    }
    out[type] = kept;
  }
  return out;
}

function current(): Json {
  const variant = new ClusterObjectsStack(Testing.app(), "objects", {
    access: literalAccess(),
    allowAnonymousClusterInfo: true,
    platformAdminGroups: ["acme:sre"],
    priorityClasses: [{ name: "batch-low", value: -10, description: "Batch work that yields", preemptionPolicy: PreemptionPolicy.NEVER, globalDefault: true }],
    addons: { coreDnsReplicas: 3 },
  });
  return {
    reference: kubernetesResources(synthesizeClusterObjects() as Json),
    variant: kubernetesResources(JSON.parse(Testing.synth(variant)) as Json),
  };
}

describe("kubernetes stand-in conversion fixture", () => {
  it("is what the library synthesizes (testdata/stacks.json)", () => {
    const now = `${JSON.stringify(current(), null, 2)}\n`;
    if (process.env.UPDATE_STANDIN_FIXTURE === "1") writeFileSync(FIXTURE, now);
    expect(readFileSync(FIXTURE, "utf8")).toBe(now);
  });

  it("covers every resource type the stand-in serves", () => {
    const schema = JSON.parse(readFileSync(path.resolve(__dirname, "kubernetes/schema.json"), "utf8")) as { resources: Json };
    const fixture = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, Json>;
    const types = new Set(Object.values(fixture).flatMap((stack) => Object.keys(stack)));
    expect([...types].sort()).toEqual(Object.keys(schema.resources).sort());
  });
});
