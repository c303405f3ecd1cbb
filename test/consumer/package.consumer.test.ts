/**
 * Consumer tier: the package as a user gets it. `npm pack` the repository (dist/ must be built:
 * `npm test` builds first), install the tarball into a scratch app in a temp dir together with the
 * peer dependencies at the lowest and at the highest versions package.json accepts, compile a
 * `main.ts` written against the package name and its subpath exports with `strict`,
 * `skipLibCheck: false` and no `@types/node`, run it (synth), and plan the synthesized stack with
 * the plan tier's harness.
 *
 * Real programs: npm (registry or its cache), tsc (the repository's TypeScript), node, terraform
 * with the offline provider mirror. npm's cache lives outside the repository
 * (`HA_CP_NPM_CACHE`, default ~/.cache/ha-cp-consumer-npm) and installs prefer it, so a second run
 * needs no network. A peer set whose AWS provider binding the mirror does not hold cannot be
 * planned: outside CI that step is skipped with a banner, in CI it fails.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { findProviderMirror, mirrorProviders, planSynthesizedStack, providerPlanCheck, AWS_PROVIDER_SOURCE } from "../harness/provider-plan";
import { IN_CI, allOf, describeTier, recordBanner, toolAvailable } from "../harness/tiers";

// npm's own semver (a dependency of the toolchain, untyped here): the lowest version a range accepts.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { minVersion } = require("semver") as { minVersion(range: string): { version: string } | null };
const run = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");
const PKG = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { name: string; peerDependencies: Record<string, string> };
const NPM_CACHE = process.env.HA_CP_NPM_CACHE ?? path.join(homedir(), ".cache", "ha-cp-consumer-npm");
const TSC = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");

/** The two peer sets: every peer at the lowest version its range accepts, and at the highest npm resolves. */
const PEER_SETS: Record<string, Record<string, string>> = {
  lowest: Object.fromEntries(Object.entries(PKG.peerDependencies).map(([name, range]) => [name, minVersion(range)!.version])),
  highest: { ...PKG.peerDependencies },
};

/** The user's program: the reference control plane, the policy pack, and types from every subpath. */
const MAIN_TS = `import { App, Aspects, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { HaControlPlane, ConfigError } from "${PKG.name}";
import { HaPolicyPack } from "${PKG.name}/policy";
import type { ClusterObjectsStackProps } from "${PKG.name}/cluster";
import type { PlatformBlueprintProps } from "${PKG.name}/blueprint";

const app = new App();
const stack = new TerraformStack(app, "consumer");
new AwsProvider(stack, "aws", { region: "eu-west-1" });
const cp = new HaControlPlane(stack, "ControlPlane", {
  clusterName: "consumer",
  availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
  amiId: "ami-0a422d70f727fe93e",
  allowedApiCidrs: ["10.20.0.0/16"],
});
Aspects.of(stack).add(new HaPolicyPack());
const objects: Partial<ClusterObjectsStackProps> = { platformAdminGroups: ["sre"] };
const blueprint: Partial<PlatformBlueprintProps> = { name: "acme" };
const checks: unknown[] = [cp.apiUrl, objects, blueprint, ConfigError];
if (checks.length !== 4) throw new Error("unreachable");
app.synth();
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "node16",
    moduleResolution: "node16",
    lib: ["ES2022"],
    strict: true,
    skipLibCheck: false,
    types: [],
    outDir: "out",
  },
  files: ["main.ts"],
};

function npmCheck() {
  return allOf(toolAvailable("npm", ["--version"]), providerPlanCheck());
}

/** Versions of hashicorp/aws the plan mirror holds. */
function mirroredAwsVersions(): string[] {
  const mirror = findProviderMirror();
  if (!mirror) return [];
  return mirrorProviders(mirror).find((p) => p.source === AWS_PROVIDER_SOURCE)?.versions.slice() ?? [];
}

describeTier("the packed package in a scratch app", npmCheck(), { tierLabel: "consumer" }, () => {
  jest.setTimeout(1_200_000);
  let work: string;
  let tarball: string;

  beforeAll(async () => {
    if (!existsSync(path.join(ROOT, "dist", "lib", "index.d.ts"))) throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
    mkdirSync(NPM_CACHE, { recursive: true });
    work = await mkdtemp(path.join(tmpdir(), "ha-cp-consumer-"));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work, "--cache", NPM_CACHE], { cwd: ROOT, maxBuffer: 64 << 20 });
    tarball = path.join(work, (JSON.parse(stdout) as { filename: string }[])[0].filename);
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("packs the compiled library without sources or tests", async () => {
    const { stdout } = await run("tar", ["-tzf", tarball]);
    const files = stdout.split("\n").filter(Boolean);
    expect(files).toContain("package/dist/lib/index.d.ts");
    expect(files).toContain("package/dist/lib/bootstrap/scripts/ha-claim-slot.sh");
    expect(files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith("package/test/") || f.startsWith("package/dist/test/") || f.startsWith("package/dist/examples/"))).toEqual([]);
  });

  describe.each(Object.keys(PEER_SETS))("with the %s supported peer versions", (set) => {
    let app: string;
    let synthesized: string;

    beforeAll(async () => {
      app = path.join(work, set);
      mkdirSync(app);
      writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: `consumer-${set}`, private: true, version: "0.0.0" }, null, 2));
      const specs = Object.entries(PEER_SETS[set]).map(([name, version]) => `${name}@${version}`);
      await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--cache", NPM_CACHE, tarball, ...specs], { cwd: app, maxBuffer: 64 << 20 });
      writeFileSync(path.join(app, "main.ts"), MAIN_TS);
      writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
    });

    it("installs peers inside the supported ranges", () => {
      for (const [name, want] of Object.entries(PEER_SETS[set])) {
        const got = (JSON.parse(readFileSync(path.join(app, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
        if (set === "lowest") expect(`${name}@${got}`).toBe(`${name}@${want}`);
        else expect(got).toBeTruthy();
      }
      expect(existsSync(path.join(app, "node_modules", "@types", "node")) && TSCONFIG.compilerOptions.types.length > 0).toBe(false);
    });

    it("compiles main.ts with strict, skipLibCheck false and no Node types", async () => {
      try {
        await run(process.execPath, [TSC, "-p", app], { cwd: app, maxBuffer: 64 << 20 });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(`tsc failed in the ${set} scratch app:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
      }
      expect(existsSync(path.join(app, "out", "main.js"))).toBe(true);
    });

    it("synthesizes the stack by running the compiled app", async () => {
      const outdir = path.join(app, "cdktf.out");
      await run(process.execPath, [path.join(app, "out", "main.js")], { cwd: app, env: { ...process.env, CDKTF_OUTDIR: outdir }, maxBuffer: 64 << 20 });
      synthesized = readFileSync(path.join(outdir, "stacks", "consumer", "cdk.tf.json"), "utf8");
      const json = JSON.parse(synthesized) as { resource: Record<string, object> };
      expect(Object.keys(json.resource)).toEqual(expect.arrayContaining(["aws_lb", "aws_autoscaling_group", "aws_ebs_volume"]));
    });

    it("plans the synthesized stack against the real AWS provider", async () => {
      const bound = (JSON.parse(synthesized) as { terraform: { required_providers: { aws: { version: string } } } }).terraform.required_providers.aws.version;
      if (!mirroredAwsVersions().includes(bound)) {
        const reason = `the provider mirror holds hashicorp/aws ${mirroredAwsVersions().join(", ") || "none"}, not ${bound} (bound by the ${set} @cdktf/provider-aws)`;
        if (IN_CI) throw new Error(`consumer tier cannot plan in CI: ${reason}`);
        recordBanner(`*** consumer tier plan NOT RUN (${set} peers): ${reason} ***`);
        return;
      }
      const result = await planSynthesizedStack(synthesized);
      expect(result.resourceCount).toBeGreaterThan(50);
    });
  });
});
