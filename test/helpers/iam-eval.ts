/**
 * A small evaluator of the IAM policy language, written from AWS's documented evaluation logic
 * (IAM User Guide: "Policy evaluation logic", "IAM JSON policy elements: Condition operators"), for
 * tests that attempt an action with a synthesized policy set:
 *
 * - an explicit Deny in any applicable policy wins; otherwise an Allow in an identity policy or a
 *   resource policy (same account) allows; otherwise the request is implicitly denied;
 * - Action / NotAction and Resource / NotResource with `*` and `?` wildcards (actions compared
 *   case-insensitively, resources case-sensitively);
 * - resource policies apply to a principal when `Principal` is `"*"` or names its ARN (or, for a
 *   service principal such as `logs.eu-west-1.amazonaws.com`, its name under `Service`);
 * - conditions: every operator in a block and every key in an operator must hold (AND); several
 *   values of one key match if any does (OR) - for negated operators (`StringNotEquals`,
 *   `StringNotLike`, `ArnNotEquals`, `ArnNotLike`) the key must match none of them; a key absent from
 *   the request context makes a positive operator false and a negated one true; `...IfExists` holds
 *   when the key is absent; `Null: "true"` holds when the key is absent, `"false"` when present;
 *   `Bool` compares the strings "true"/"false"; `IpAddress` / `NotIpAddress` match an IPv4 address
 *   against CIDR blocks (a bare address is a /32), IPv6 throws.
 *
 * Anything it does not know (another operator, a set qualifier, policy variables) throws, so a test
 * cannot pass by the evaluator silently ignoring part of a policy.
 */

/** A policy document as synthesized. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Statement[] | Statement;
}

interface Statement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal?: "*" | { readonly AWS?: string | readonly string[]; readonly Service?: string | readonly string[] };
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Record<string, Record<string, string | readonly string[]>>;
}

/** One request: who, what, on which resource, with which context keys (absent = undefined). */
export interface IamRequest {
  readonly principalArn: string;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | undefined>>;
}

/** The decision and the statements that made it. */
export interface IamDecision {
  readonly allowed: boolean;
  readonly reason: "explicit-deny" | "allow" | "implicit-deny";
  readonly statements: readonly string[];
}

const list = <T>(v: T | readonly T[] | undefined): readonly T[] => (v === undefined ? [] : Array.isArray(v) ? (v as readonly T[]) : [v as T]);

function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  if (pattern.includes("${")) throw new Error(`policy variables are not supported by this evaluator: ${pattern}`);
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, ignoreCase ? "is" : "s");
  return re.test(value);
}

function ipv4(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) throw new Error(`not an IPv4 address (IPv6 is not supported by this evaluator): ${text}`);
  return m.slice(1).reduce((n, o) => n * 256 + Number(o), 0);
}

function inCidr(address: string, cidr: string): boolean {
  const [base, bits = "32"] = cidr.split("/");
  const prefix = Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`bad CIDR ${cidr}`);
  const size = 2 ** (32 - prefix);
  return Math.floor(ipv4(address) / size) === Math.floor(ipv4(base) / size);
}

function conditionHolds(block: Statement["Condition"], context: Readonly<Record<string, string | undefined>>): boolean {
  if (block === undefined) return true;
  return Object.entries(block).every(([rawOp, keys]) =>
    Object.entries(keys).every(([key, rawValues]) => {
      if (rawOp.startsWith("ForAnyValue:") || rawOp.startsWith("ForAllValues:")) throw new Error(`set qualifiers are not supported: ${rawOp}`);
      const ifExists = rawOp.endsWith("IfExists");
      const op = ifExists ? rawOp.slice(0, -"IfExists".length) : rawOp;
      const values = list(rawValues);
      const actual = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      if (op === "Null") {
        if (values.length !== 1) throw new Error("Null takes one value");
        return (actual === undefined) === (values[0] === "true");
      }
      if (actual === undefined) {
        if (ifExists) return true;
        return ["StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike", "NotIpAddress"].includes(op);
      }
      const any = (f: (v: string) => boolean) => values.some(f);
      switch (op) {
        case "StringEquals":
          return any((v) => v === actual);
        case "StringNotEquals":
          return !any((v) => v === actual);
        case "StringLike":
          return any((v) => wildcard(v, actual, false));
        case "StringNotLike":
          return !any((v) => wildcard(v, actual, false));
        case "ArnEquals":
        case "ArnLike":
          return any((v) => wildcard(v, actual, false));
        case "ArnNotEquals":
        case "ArnNotLike":
          return !any((v) => wildcard(v, actual, false));
        case "IpAddress":
          return any((v) => inCidr(actual, v));
        case "NotIpAddress":
          return !any((v) => inCidr(actual, v));
        case "Bool":
          return any((v) => v.toLowerCase() === actual.toLowerCase());
        default:
          throw new Error(`condition operator ${rawOp} is not supported by this evaluator`);
      }
    }),
  );
}

function applies(s: Statement, req: IamRequest, resourcePolicy: boolean): boolean {
  if (resourcePolicy) {
    const p = s.Principal;
    if (p === undefined) throw new Error(`resource policy statement ${s.Sid ?? ""} has no Principal`);
    if (p !== "*" && !list(p.AWS).some((a) => a === "*" || a === req.principalArn) && !list(p.Service).includes(req.principalArn)) return false;
  }
  if (s.Action !== undefined && !list(s.Action).some((a) => wildcard(a, req.action, true))) return false;
  if (s.NotAction !== undefined && list(s.NotAction).some((a) => wildcard(a, req.action, true))) return false;
  if (s.Resource !== undefined && !list(s.Resource).some((r) => wildcard(r, req.resource, false))) return false;
  if (s.NotResource !== undefined && list(s.NotResource).some((r) => wildcard(r, req.resource, false))) return false;
  return conditionHolds(s.Condition, { ...(req.context ?? {}), "aws:PrincipalArn": req.principalArn });
}

/** Decides `req` against the principal's identity policies and the resource's policy (same account). */
export function evaluate(req: IamRequest, identityPolicies: readonly PolicyDocument[], resourcePolicy?: PolicyDocument): IamDecision {
  const matched: { s: Statement; resource: boolean }[] = [];
  for (const doc of identityPolicies) for (const s of list(doc.Statement)) if (applies(s, req, false)) matched.push({ s, resource: false });
  if (resourcePolicy) for (const s of list(resourcePolicy.Statement)) if (applies(s, req, true)) matched.push({ s, resource: true });
  const denies = matched.filter((m) => m.s.Effect === "Deny");
  if (denies.length > 0) return { allowed: false, reason: "explicit-deny", statements: denies.map((m) => m.s.Sid ?? "?") };
  const allows = matched.filter((m) => m.s.Effect === "Allow");
  if (allows.length > 0) return { allowed: true, reason: "allow", statements: allows.map((m) => m.s.Sid ?? "?") };
  return { allowed: false, reason: "implicit-deny", statements: [] };
}
