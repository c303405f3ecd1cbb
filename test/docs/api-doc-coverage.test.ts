/**
 * Every symbol a user can reach from the package's entry points carries a TSDoc comment, and every
 * optional property carries `@default` (aws-cdk-lib style: a literal, or `- explanation` for a
 * computed default). The walk uses the TypeScript compiler API over lib/ — independent of typedoc,
 * which enforces the first half again in `npm run docs` (typedoc.json: validation.notDocumented with
 * treatWarningsAsErrors).
 *
 * What is walked, from the exports of each entry point (aliases resolved):
 * - classes: the class, and its public/protected properties, methods and accessors declared in lib/
 *   (members inherited from `constructs`/`cdktf` are theirs to document);
 * - interfaces and type aliases: the symbol and every property/method declared in lib/, including
 *   inherited ones (reported once, at the declaring interface);
 * - enums: the enum and each member;
 * - functions and variables: the symbol;
 * - and, recursively, the members of any anonymous object type that is visible in the reference: a
 *   `const` object's properties, a function's inferred return object, a property's inline type —
 *   typedoc renders those members, so they need a sentence too.
 * A comment that only restates the name ("The cluster name." on `clusterName`) does not count.
 * Optional members of interfaces and object types need `@default`; class fields and parameters do not.
 */
import * as path from "node:path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "../..");
/** A miniature package with one of each kind of gap, to show the audit names every one. */
const FIXTURE_ROOT = path.join(__dirname, "fixtures", "doc-coverage");
export const ENTRY_POINTS: readonly string[] = ["lib/index.ts", "lib/policy/index.ts", "lib/cluster/index.ts", "lib/blueprint/index.ts"];

/** Words a restating comment may add to the name without saying anything. */
const FILLER = new Set(["the", "a", "an", "of", "this", "is", "for", "to", "its", "value", "name"]);

function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** True when the comment says nothing beyond the identifier's own words. */
export function isFiller(name: string, comment: string): boolean {
  const own = new Set(words(name));
  return words(comment).every((w) => own.has(w) || FILLER.has(w));
}

/** Findings for the given entry points: one line per undocumented symbol or missing `@default`. */
export function auditPublicApi(entryPoints: readonly string[], root: string = ROOT): string[] {
  const LIB = path.join(root, "lib") + path.sep;
  const prog = createProgram(entryPoints, root);
  const checker = prog.getTypeChecker();
  const problems = new Set<string>();
  const seenSymbols = new Set<ts.Symbol>();
  const seenTypes = new Set<ts.Type>();

  const where = (decl: ts.Declaration): string => {
    const sf = decl.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(decl.getStart());
    return `${path.relative(root, sf.fileName)}:${line + 1}`;
  };
  const inLib = (decl: ts.Declaration | undefined): decl is ts.Declaration =>
    decl !== undefined && path.resolve(decl.getSourceFile().fileName).startsWith(LIB);
  const docOf = (sym: ts.Symbol): string => ts.displayPartsToString(sym.getDocumentationComment(checker)).trim();

  function requireDoc(sym: ts.Symbol, label: string, decl: ts.Declaration): void {
    let doc = docOf(sym);
    if (doc === "") {
      // A function's comment sits on its (first) signature.
      const sigDoc = (decl as ts.SignatureDeclaration).parameters !== undefined ? checker.getSignatureFromDeclaration(decl as ts.SignatureDeclaration) : undefined;
      if (sigDoc) doc = ts.displayPartsToString(sigDoc.getDocumentationComment(checker)).trim();
    }
    if (doc === "") problems.add(`${where(decl)} ${label}: no doc comment`);
    else if (isFiller(sym.getName(), doc)) problems.add(`${where(decl)} ${label}: doc comment only restates the name ("${doc}")`);
  }

  function requireDefault(sym: ts.Symbol, label: string, decl: ts.Declaration): void {
    const hasDefault = sym.getJsDocTags(checker).some((t) => t.name === "default" && ts.displayPartsToString(t.text).trim() !== "");
    if (!hasDefault) problems.add(`${where(decl)} ${label}: optional without @default`);
  }

  /** Members of an object type declared in lib/: documented, optional ones with @default. */
  function walkMembers(type: ts.Type, owner: string, defaults: boolean): void {
    for (const member of checker.getPropertiesOfType(type)) {
      const decl = member.valueDeclaration ?? member.declarations?.[0];
      if (!inLib(decl)) continue;
      const mods = ts.getCombinedModifierFlags(decl);
      if (mods & ts.ModifierFlags.Private || member.getName().startsWith("#")) continue;
      if (ts.getJSDocTags(decl).some((t) => t.tagName.text === "internal")) continue;
      const label = `${owner}.${member.getName()}`;
      if (seenSymbols.has(member)) continue;
      seenSymbols.add(member);
      requireDoc(member, label, decl);
      if (defaults && member.flags & ts.SymbolFlags.Optional) requireDefault(member, label, decl);
      walkInline(checker.getTypeOfSymbolAtLocation(member, decl), label);
    }
  }

  /** An anonymous object type (inline literal, inferred object) shows its members in the reference. */
  function walkInline(type: ts.Type, owner: string): void {
    const t = checker.getNonNullableType(type);
    if (seenTypes.has(t)) return;
    if (t.isUnion() || t.isIntersection()) {
      seenTypes.add(t);
      for (const part of t.types) walkInline(part, owner);
      return;
    }
    if (!(t.flags & ts.TypeFlags.Object)) return;
    const obj = t as ts.ObjectType;
    const anonymous = (obj.objectFlags & (ts.ObjectFlags.Anonymous | ts.ObjectFlags.ObjectLiteral)) !== 0;
    if (!anonymous || !t.symbol || t.symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Function | ts.SymbolFlags.Method)) return;
    if (t.getCallSignatures().length > 0 || t.getConstructSignatures().length > 0) return;
    if (!inLib(t.symbol.declarations?.[0])) return;
    seenTypes.add(t);
    walkMembers(t, owner, true);
  }

  for (const entry of entryPoints) {
    const sf = prog.getSourceFile(path.join(root, entry));
    if (!sf) throw new Error(`entry point ${entry} is not in the program`);
    const moduleSym = checker.getSymbolAtLocation(sf);
    if (!moduleSym) throw new Error(`entry point ${entry} is not a module`);
    for (const exported of checker.getExportsOfModule(moduleSym)) {
      const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (seenSymbols.has(sym)) continue;
      seenSymbols.add(sym);
      const decl = sym.valueDeclaration ?? sym.declarations?.[0];
      if (!inLib(decl)) continue;
      const name = sym.getName();
      requireDoc(sym, name, decl);
      if (sym.flags & ts.SymbolFlags.Class) {
        const classType = checker.getDeclaredTypeOfSymbol(sym);
        walkMembers(classType, name, false);
        walkMembers(checker.getTypeOfSymbolAtLocation(sym, decl), name, false);
      } else if (sym.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) {
        const declared = checker.getDeclaredTypeOfSymbol(sym);
        if (sym.flags & ts.SymbolFlags.Interface) walkMembers(declared, name, true);
        else walkInline(declared, name);
      } else if (sym.flags & ts.SymbolFlags.Enum) {
        for (const member of checker.getExportsOfModule(sym)) {
          const mdecl = member.valueDeclaration;
          if (mdecl) requireDoc(member, `${name}.${member.getName()}`, mdecl);
        }
      } else if (sym.flags & ts.SymbolFlags.Function) {
        for (const sig of checker.getTypeOfSymbolAtLocation(sym, decl).getCallSignatures()) {
          walkInline(sig.getReturnType(), `${name}()`);
        }
      } else if (sym.flags & ts.SymbolFlags.Variable) {
        walkInline(checker.getTypeOfSymbolAtLocation(sym, decl), name);
      }
    }
  }
  return [...problems].sort();
}

export function createProgram(entryPoints: readonly string[], root: string = ROOT): ts.Program {
  const configPath = path.join(ROOT, "tsconfig.build.json");
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n")); } });
  if (!config) throw new Error("cannot read tsconfig.build.json");
  return ts.createProgram({ rootNames: entryPoints.map((e) => path.join(root, e)), options: { ...config.options, noEmit: true } });
}

describe("public API documentation", () => {
  jest.setTimeout(120000);

  it("documents every export, member and enum member, with @default on every optional property", () => {
    const problems = auditPublicApi(ENTRY_POINTS);
    // One line per problem: file:line, the symbol path as a user writes it, what is missing.
    expect(problems.join("\n")).toBe("");
  });

  it("names every kind of gap in a package that has them (the audit can fail)", () => {
    const problems = auditPublicApi(["lib/index.ts"], FIXTURE_ROOT);
    expect(problems).toEqual([
      "lib/index.ts:11 Undocumented: no doc comment",
      "lib/index.ts:16 WidgetProps.size: optional without @default",
      "lib/index.ts:18 WidgetProps.colour: no doc comment",
      "lib/index.ts:20 WidgetProps.clusterName: doc comment only restates the name (\"Cluster name.\")",
      "lib/index.ts:27 Shape.ROUND: no doc comment",
      "lib/index.ts:32 Widget.label: no doc comment",
      "lib/index.ts:41 LIMITS.width: no doc comment",
      "lib/index.ts:46 measure().height: no doc comment",
      "lib/index.ts:46 measure().height: optional without @default",
      "lib/index.ts:46 measure().width: no doc comment",
      "lib/index.ts:5 undocumentedFunction: no doc comment",
    ]);
  });

  it("tells a restating comment from a real one", () => {
    expect(isFiller("clusterName", "The cluster name.")).toBe(true);
    expect(isFiller("vpcId", "The VPC id.")).toBe(true);
    expect(isFiller("clusterName", "The cluster's name: prefix of every AWS name.")).toBe(false);
    expect(isFiller("podCidr", "IP range of pods (`--cluster-cidr`).")).toBe(false);
  });
});
