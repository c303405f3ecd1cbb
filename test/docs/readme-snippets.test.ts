/**
 * Every ```ts block of README.md type-checks against the package, imported by its published name
 * (`cdktf-ha-control-plane` and its subpath exports, resolved to the sources through
 * tsconfig.json "paths"), with the repository's strict compiler options.
 *
 * How a fragment is completed — the only things the test adds to a snippet:
 * 1. Imports of the package's exports the snippet names but neither imports nor declares itself
 *    (looked up in the entry points ".", "/policy", "/cluster", "/blueprint", in that order).
 * 2. `declare const` lines for the context variables listed in CONTEXT below (a stack, a network,
 *    a role, ...) that the snippet uses without declaring: the surroundings a fragment assumes.
 * Each snippet is its own module; unused locals are allowed (a snippet shows a call, not a program).
 * Anything else a snippet needs must be written in the snippet.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "../..");
const PKG = "cdktf-ha-control-plane";
const ENTRY_POINTS: readonly string[] = [PKG, `${PKG}/policy`, `${PKG}/cluster`, `${PKG}/blueprint`];

/** Ambient declarations of the variables README fragments assume to exist. */
const CONTEXT: Readonly<Record<string, string>> = {
  app: 'declare const app: import("cdktf").App;',
  stack: 'declare const stack: import("cdktf").TerraformStack;',
  vpcId: "declare const vpcId: string;",
  subnetId: "declare const subnetId: string;",
  availabilityZones: "declare const availabilityZones: string[];",
  amiId: "declare const amiId: string;",
  alarmTopicArn: "declare const alarmTopicArn: string;",
  network: `declare const network: import("${PKG}").INetwork;`,
  sgs: `declare const sgs: import("${PKG}").ControlPlaneSecurityGroups;`,
  facts: `declare const facts: import("${PKG}").ClusterFacts;`,
  encryptionKey: `declare const encryptionKey: import("${PKG}").IEncryptionKey;`,
  apiRole: `declare const apiRole: import("${PKG}").NodeRole;`,
  etcd0Role: `declare const etcd0Role: import("${PKG}").NodeRole;`,
  partnerRule: 'declare const partnerRule: import("constructs").IConstruct;',
  STAGING_PRESET: `declare const STAGING_PRESET: import("${PKG}/blueprint").PresetDefinition;`,
  AcmeStateBackend: `declare const AcmeStateBackend: new () => import("${PKG}/blueprint").IStateBackendConfigurator;`,
};

/** The ```ts blocks of a Markdown text, with the line each starts on. */
export function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ts\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && !/^```\s*$/.test(lines[j])) j++;
    blocks.push({ line: start + 1, code: lines.slice(start, j).join("\n") });
    i = j;
  }
  return blocks;
}

/** Identifiers a snippet uses (not property names after a dot), ignoring strings and comments. */
function usedNames(code: string): Set<string> {
  const bare = code
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""')
    .replace(/\/\/.*$/gm, "")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\.\.\./g, " ");
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![.\w$])[A-Za-z_$][\w$]*/g)) names.add(m[0]);
  return names;
}

/** Names a snippet declares or imports itself. */
function ownNames(code: string): Set<string> {
  const names = new Set<string>();
  for (const m of code.matchAll(/\b(?:const|let|var|class|function|enum|interface|type)\s+([A-Za-z_$][\w$]*)/g)) names.add(m[1]);
  for (const m of code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const spec of m[1].split(",")) {
      const local = spec.trim().split(/\s+as\s+/).pop()?.trim();
      if (local) names.add(local);
    }
  }
  for (const m of code.matchAll(/import\s+\*\s+as\s+([A-Za-z_$][\w$]*)/g)) names.add(m[1]);
  return names;
}

/** The snippet with its completing prelude (see the file comment). */
function complete(code: string, exportsByEntry: ReadonlyMap<string, ReadonlySet<string>>): string {
  const used = usedNames(code);
  const own = ownNames(code);
  const missing = [...used].filter((n) => !own.has(n));
  const prelude: string[] = [];
  const claimed = new Set<string>();
  for (const entry of ENTRY_POINTS) {
    const names = missing.filter((n) => exportsByEntry.get(entry)!.has(n) && !claimed.has(n));
    names.forEach((n) => claimed.add(n));
    if (names.length > 0) prelude.push(`import { ${names.sort().join(", ")} } from "${entry}";`);
  }
  for (const n of missing) if (!claimed.has(n) && CONTEXT[n] !== undefined) prelude.push(CONTEXT[n]);
  return `${prelude.join("\n")}\n${code}\n`;
}

/** Value exports of each entry point (what a snippet can name without importing types). */
function exportsByEntry(): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const entry of ENTRY_POINTS) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    map.set(entry, new Set(Object.keys(require(entry) as object)));
  }
  return map;
}

function compilerOptions(): ts.CompilerOptions {
  const file = path.join(ROOT, "tsconfig.json");
  const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(file, ts.sys.readFile).config, ts.sys, ROOT, undefined, file);
  return { ...parsed.options, noEmit: true, noUnusedLocals: false, types: ["node"], moduleDetection: ts.ModuleDetectionKind.Force };
}

/** Type-checks in-memory sources (paths under test/docs, so node_modules resolve) and returns their diagnostics. */
function typeCheck(sources: ReadonlyMap<string, string>): Map<string, string[]> {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) => (sources.has(name) ? ts.createSourceFile(name, sources.get(name)!, lang, true) : getSourceFile(name, lang, onError, create));
  host.fileExists = (name) => sources.has(name) || fileExists(name);
  host.readFile = (name) => sources.get(name) ?? readFile(name);
  const program = ts.createProgram([...sources.keys()], options, host);
  const out = new Map<string, string[]>();
  for (const name of sources.keys()) {
    const sf = program.getSourceFile(name)!;
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    out.set(
      name,
      diags.map((d) => {
        const pos = d.start !== undefined ? sf.getLineAndCharacterOfPosition(d.start) : undefined;
        return `${pos ? `line ${pos.line + 1}: ` : ""}${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
      }),
    );
  }
  return out;
}

describe("README.md ts snippets", () => {
  jest.setTimeout(180000);
  const blocks = tsBlocks(fs.readFileSync(path.join(ROOT, "README.md"), "utf8"));

  it("has ts snippets to check", () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it("each compiles against the package by name with strict options", () => {
    const exportsMap = exportsByEntry();
    const sources = new Map(blocks.map((b) => [path.join(ROOT, "test", "docs", `__readme_line_${b.line}__.ts`), complete(b.code, exportsMap)]));
    const results = typeCheck(sources);
    const failures = [...results.entries()]
      .filter(([, diags]) => diags.length > 0)
      .map(([file, diags]) => `README.md snippet at ${path.basename(file)} (prelude + snippet):\n${sources.get(file)}\n  ${diags.join("\n  ")}`);
    expect(failures).toEqual([]);
  });

  it("flags a snippet that does not compile (the check can fail)", () => {
    const file = path.join(ROOT, "test", "docs", "__broken__.ts");
    const code = complete('new HaControlPlane(stack, "Cp", { clusterName: 42 });', exportsByEntry());
    const results = typeCheck(new Map([[file, code]]));
    expect(results.get(file)!.join("\n")).toMatch(/not assignable to type 'string'/);
  });
});
