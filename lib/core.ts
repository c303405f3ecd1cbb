/**
 * The only module that imports from the CDK for Terraform core package.
 *
 * cdktf 0.21 is the last HashiCorp release; CDK Terrain (`cdktn`) is its community fork, a renamed
 * drop-in. Keeping every core import here means a cdktn build line only has to change this file.
 */
export {
  App,
  Annotations,
  Aspects,
  Fn,
  Lazy,
  S3Backend,
  TerraformElement,
  TerraformOutput,
  TerraformResource,
  TerraformStack,
  Testing,
  Token,
  dependable,
} from "cdktf";
export type { IAspect, ITerraformDependable } from "cdktf";
import { dependable as dependableOf, Fn as CoreFn, Lazy, StringConcat, TerraformDataSource as DataSource, TerraformResource as Resource, Token as CoreToken, Tokenization } from "cdktf";
import type { IResolvable, IResolveContext } from "cdktf";
import type { IConstruct } from "constructs";

/**
 * cdktf captures a full stack trace for every token it creates (600+ per control plane), only to
 * print it if that token later fails to resolve. That is a fifth of synth time and ~1 MB of heap
 * per cluster (measured by `npm run bench`). Loading this library turns the capture off; set
 * HA_CP_TOKEN_STACK_TRACES=1 to keep it when debugging an unresolvable token. Cores without this
 * private module (a cdktn build) are left untouched.
 */
function disableTokenCreationStacks(): void {
  if (process.env.HA_CP_TOKEN_STACK_TRACES === "1") return;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const stackTrace = require("cdktf/lib/tokens/private/stack-trace") as { captureStackTrace?: unknown };
    if (typeof stackTrace.captureStackTrace === "function") {
      Object.assign(stackTrace, { captureStackTrace: (): string[] => [] });
    }
  } catch {
    // A core without the module: nothing to turn off.
  }
}
disableTokenCreationStacks();

/** `${` that does not open a cdktf token marker: a Terraform interpolation written out literally. */
const LITERAL_INTERPOLATION = /\$\{(?!TfToken\[)/;

/**
 * A string token whose value is `JSON.stringify(produce())` with its tokens resolved: the same
 * text as handing cdktf the JSON with the tokens in it, at a fraction of the cost. cdktf scans a
 * string holding tokens for `${`/`}` escapes once per token and per closing brace, each scan
 * running to the end of the string, so a node's policy document (7 kB, 60 references to a few
 * attributes) cost it ~1 ms per resolve pass, three passes per synth. Here the document is split on
 * token markers alone (no escapes are possible: it holds no literal `${`) and each distinct token is
 * resolved once, in the context cdktf hands the producer (so cross-stack references are registered
 * as before). A document with a literal `${` (an IAM policy variable) or a token that does not
 * resolve to a string is left to cdktf unchanged.
 */
export function lazyJsonString(produce: () => unknown): string {
  return Lazy.stringValue({ produce: (context: IResolveContext) => resolveStringTokens(JSON.stringify(produce()), context) });
}

function resolveStringTokens(text: string, context: IResolveContext): string {
  if (LITERAL_INTERPOLATION.test(text)) return text;
  const fragments = Tokenization.reverseString(text);
  if (fragments.tokens.length === 0) return text;
  const resolved = new Map<IResolvable, unknown>();
  let stringsOnly = true;
  const once: IResolveContext = Object.create(context);
  once.resolve = (token: unknown): unknown => {
    const key = token as IResolvable;
    if (!resolved.has(key)) {
      const value = context.resolve(token);
      if (typeof value !== "string") stringsOnly = false;
      resolved.set(key, value);
    }
    return resolved.get(key);
  };
  const joined = fragments.mapTokens(once).join(new StringConcat()) as unknown;
  return stringsOnly && typeof joined === "string" ? joined : text;
}

/**
 * Makes the resources and data sources under `scope` leave out undefined attributes from the JSON
 * they hand to cdktf. A provider class lists every attribute of its resource type, set or not (two
 * in five are unset in a control plane), and cdktf walks each of them in its resolve passes before
 * dropping it; without them the passes are ~6 % shorter. The synthesized JSON is the same: cdktf
 * resolution drops an undefined object value (arrays and tokens are left as they are).
 */
export function omitUndefinedAttributes(scope: IConstruct): void {
  for (const c of scope.node.findAll()) {
    if (!Resource.isTerraformResource(c) && !DataSource.isTerraformDataSource(c)) continue;
    const element = c as Resource | DataSource;
    const toTerraform = element.toTerraform.bind(element);
    element.toTerraform = (): Record<string, unknown> => withoutUndefined(toTerraform()) as Record<string, unknown>;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype && !Tokenization.isResolvable(value);
}

function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
  return out;
}

/**
 * `Fn.jsonencode(value)`, the same expression, resolved in a fraction of the time for a nested
 * map of references (a node's secret: `{ files: { path: pem, ... } }`). cdktf's function call
 * resolves an argument in full, then again to render it, and each nested map once more per level:
 * every reference of the secret five times per resolve pass. Here the call sees a context that
 * remembers what it resolved during that one call (its flags do not change within it), so each
 * value is resolved once per level.
 */
export function jsonencode(value: unknown): string {
  const call = Tokenization.reverseString(CoreFn.jsonencode(value)).firstToken;
  if (call === undefined) return CoreFn.jsonencode(value);
  return CoreToken.asString({
    creationStack: [],
    resolve: (context: IResolveContext): unknown => call.resolve(rememberingContext(context)),
    toString: () => CoreToken.asString(call),
  } as IResolvable);
}

function rememberingContext(context: IResolveContext): IResolveContext {
  const resolved = new Map<unknown, unknown>();
  // Resolving a plain object resolves each value in the same flags: remember those results too.
  const remember = (x: unknown, r: unknown): void => {
    resolved.set(x, r);
    if (!isPlainObject(x) || !isPlainObject(r)) return;
    for (const [k, v] of Object.entries(x)) {
      if (v !== undefined && !resolved.has(v) && Object.prototype.hasOwnProperty.call(r, k) && !Tokenization.isResolvable(k) && (typeof v === "string" || isPlainObject(v))) remember(v, r[k]);
    }
  };
  const resolve = (x: unknown): unknown => {
    if (x === null || (typeof x !== "object" && typeof x !== "string")) return context.resolve(x);
    if (!resolved.has(x)) remember(x, context.resolve(x));
    return resolved.get(x);
  };
  // Flag writes (suppressBraces, ...) go to the real context, which the nested resolutions read.
  return new Proxy(context, { get: (target, prop, receiver) => (prop === "resolve" ? resolve : Reflect.get(target, prop, receiver)) });
}

/**
 * `dependable(resource)` for a `depends_on` entry in the resource's own stack, its address written
 * as plain text when cdktf resolves it: cdktf's entry resolves to the resource's `fqn`, a reference
 * token resolved anew in every pass (two tokenizations per entry; a control plane's four groups
 * wait for 26 resources each). Same address: type and logical id at synth time.
 */
export function sameStackDependable(resource: Resource): string {
  return dependableOf({
    get fqn(): string {
      return `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;
    },
  });
}
