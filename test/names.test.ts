/**
 * AWS-safe names: deriveName and fitsRule against every NAME_RULES entry (pure and fast: this file
 * is what mutation testing runs against lib/names.ts). The synthesized names are checked in
 * test/names-synth.test.ts.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { NAME_HASH_LENGTH, NAME_RULES, NameRule, deriveName, fitsRule, stableHash } from "../lib/names";
import { AWS_NAME_LIMITS } from "./helpers/invariants";

const RULES = Object.entries(NAME_RULES) as Array<[string, NameRule]>;
const HASH = new RegExp(`-?[0-9a-f]{${NAME_HASH_LENGTH}}$`);

describe("stableHash", () => {
  it("is deterministic lower-case hex of the requested length", () => {
    expect(stableHash("prod")).toBe(stableHash("prod"));
    expect(stableHash("prod")).toMatch(/^[0-9a-f]{8}$/);
    expect(stableHash("prod", 12)).toMatch(/^[0-9a-f]{12}$/);
    expect(stableHash("prod", 12).startsWith(stableHash("prod"))).toBe(true);
  });

  it("differs for different inputs", () => {
    expect(stableHash("prod-a")).not.toBe(stableHash("prod-b"));
  });
});

describe.each(RULES)("deriveName with NAME_RULES.%s", (_, rule) => {
  it("returns a short valid name unchanged", () => {
    expect(deriveName(["prod", "api"], rule)).toBe("prod-api");
    expect(deriveName(["prod-eu1", "etcd-0"], rule)).toBe("prod-eu1-etcd-0");
  });

  it("skips empty parts", () => {
    expect(deriveName(["prod", "", "api"], rule)).toBe("prod-api");
  });

  it.each([
    ["a 1-character cluster name", "a"],
    ["a 40-character cluster name", `p${"x".repeat(38)}1`],
    ["a 200-character cluster name", `p${"x".repeat(198)}1`],
  ])("gives %s a name within the limit that fitsRule accepts", (__, cluster) => {
    for (const role of ["api-int", "apiserver", "etcd-6", "control-plane"]) {
      const name = deriveName([cluster, role], rule);
      expect(name.length).toBeLessThanOrEqual(rule.maxLength);
      expect(fitsRule(name, rule)).toBe(true);
    }
  });

  it("shortens a name over the limit and ends it with a hash of the full name", () => {
    const original = `p${"x".repeat(rule.maxLength)}`;
    const name = deriveName([original], rule);
    expect(name.length).toBeLessThanOrEqual(rule.maxLength);
    expect(name.endsWith(`-${stableHash(original)}`)).toBe(true);
    expect(fitsRule(name, rule)).toBe(true);
  });

  it("is stable: the same input always gives the same name", () => {
    const long = `q${"y".repeat(300)}`;
    expect(deriveName([long, "api"], rule)).toBe(deriveName([long, "api"], rule));
    expect(deriveName(["Prod_EU1", "api"], rule)).toBe(deriveName(["Prod_EU1", "api"], rule));
  });

  it("keeps two long names that share a 100-character prefix distinct", () => {
    const prefix = `p${"z".repeat(99)}`;
    const a = deriveName([`${prefix}${"a".repeat(300)}`, "api"], rule);
    const b = deriveName([`${prefix}${"b".repeat(300)}`, "api"], rule);
    expect(a).not.toBe(b);
    expect(fitsRule(a, rule) && fitsRule(b, rule)).toBe(true);
  });

  it("keeps two cluster names differing only in their last character distinct", () => {
    const base = `p${"w".repeat(rule.maxLength + 10)}`;
    expect(deriveName([`${base}1`, "api"], rule)).not.toBe(deriveName([`${base}2`, "api"], rule));
  });

  it.each([
    ["non-ASCII letters", "prüd"],
    ["an emoji", "prod-🚀"],
    ["a tab", "prod\tapi"],
    ["a newline", "prod\napi"],
    ["a no-break space", "prod\u00a0api"],
  ])("replaces disallowed characters (%s) and marks the change with a hash", (__, input) => {
    const name = deriveName([input], rule);
    expect(fitsRule(name, rule)).toBe(true);
    expect(name).not.toBe(input);
    expect(name).toMatch(HASH);
    for (const c of Array.from(name)) expect(rule.allowedChar.test(c)).toBe(true);
  });

  it("never starts or ends with the trim characters", () => {
    const name = deriveName(["--prod--", "--"], rule);
    expect(fitsRule(name, rule)).toBe(true);
    expect(name.startsWith("-")).toBe(false);
    expect(name.endsWith("-")).toBe(false);
  });

  it("falls back to the bare hash when nothing valid is left", () => {
    const name = deriveName(["---"], rule);
    expect(name).toBe(stableHash("---"));
    expect(fitsRule(name, rule)).toBe(true);
  });

  it.each([
    ["an internal- prefix", "internal-api"],
    ["an sg- prefix", "sg-prod"],
    ["an xn-- prefix", "xn--prod"],
    ["a sthree- prefix", "sthree-prod"],
    ["an amzn-s3-demo- prefix", "amzn-s3-demo-prod"],
    ["an -s3alias suffix", "prod-s3alias"],
    ["an --ol-s3 suffix", "prod--ol-s3"],
    ["an --x-s3 suffix", "prod--x-s3"],
  ])("produces a name the rule accepts from %s", (__, input) => {
    expect(fitsRule(deriveName([input], rule), rule)).toBe(true);
  });
});

describe("deriveName: forbidden prefixes and suffixes", () => {
  it("prefixes a load balancer name starting with internal- (any case) with k-", () => {
    const name = deriveName(["internal", "api-int"], NAME_RULES.loadBalancer);
    expect(name).toBe(`k-internal-api-int-${stableHash("internal-api-int")}`);
    expect(deriveName(["Internal-x"], NAME_RULES.loadBalancer).startsWith("k-Internal-x")).toBe(true);
    expect(fitsRule("internal-api", NAME_RULES.loadBalancer)).toBe(false);
  });

  it("prefixes a security group name starting with sg- with k-", () => {
    const name = deriveName(["sg", "api-lb"], NAME_RULES.securityGroup);
    expect(name.startsWith("k-sg-api-lb-")).toBe(true);
    expect(fitsRule(name, NAME_RULES.securityGroup)).toBe(true);
    expect(fitsRule("sg-api-lb", NAME_RULES.securityGroup)).toBe(false);
  });

  it.each(["xn--prod", "sthree-prod", "amzn-s3-demo-prod"])("never gives an S3 bucket name the forbidden prefix of %s", (input) => {
    const name = deriveName([input], NAME_RULES.s3Bucket);
    expect(fitsRule(name, NAME_RULES.s3Bucket)).toBe(true);
    // The reserved names from the S3 bucket naming rules, written out (not read back from NAME_RULES).
    for (const prefix of ["xn--", "sthree-", "amzn-s3-demo-"]) expect(name.startsWith(prefix)).toBe(false);
  });

  it.each(["prod-s3alias", "prod--ol-s3", "prod--x-s3"])("never gives an S3 bucket name the forbidden suffix of %s", (input) => {
    const name = deriveName([input], NAME_RULES.s3Bucket);
    expect(fitsRule(name, NAME_RULES.s3Bucket)).toBe(true);
    for (const suffix of ["-s3alias", "--ol-s3", "--x-s3"]) expect(name.endsWith(suffix)).toBe(false);
  });

  it("hashes an S3 name ending in -s3alias rather than returning it", () => {
    expect(deriveName(["prod", "s3alias"], NAME_RULES.s3Bucket)).toBe(`prod-s3alias-${stableHash("prod-s3alias")}`);
  });

  it("lower-cases S3 and DNS-label names", () => {
    expect(deriveName(["Prod", "Data"], NAME_RULES.s3Bucket)).toMatch(/^prod-data-[0-9a-f]{8}$/);
    expect(deriveName(["Prod"], NAME_RULES.dnsLabel)).toMatch(/^prod-[0-9a-f]{8}$/);
  });

  it("replaces characters per rule: '.' is kept for IAM and replaced for load balancers", () => {
    expect(deriveName(["prod.eu1"], NAME_RULES.iamRole)).toBe("prod.eu1");
    expect(deriveName(["prod.eu1"], NAME_RULES.loadBalancer)).toBe(`prod-eu1-${stableHash("prod.eu1")}`);
    expect(deriveName(["prod__eu1"], NAME_RULES.targetGroup)).toBe(`prod-eu1-${stableHash("prod__eu1")}`);
  });
});

describe("fitsRule", () => {
  it.each([
    ["an empty name", "", NAME_RULES.iamRole],
    ["a 33-character load balancer name", "a".repeat(33), NAME_RULES.loadBalancer],
    ["a leading '-'", "-prod", NAME_RULES.targetGroup],
    ["a trailing '-'", "prod-", NAME_RULES.targetGroup],
    ["an upper-case S3 name", "Prod", NAME_RULES.s3Bucket],
    ["an underscore in a load balancer name", "prod_api", NAME_RULES.loadBalancer],
    ["a forbidden S3 suffix", "prod-s3alias", NAME_RULES.s3Bucket],
  ])("rejects %s", (_, name, rule) => {
    expect(fitsRule(name, rule)).toBe(false);
  });
});


describe("NAME_RULES against the AWS provider's own schema", () => {
  // The provider bindings were generated from hashicorp/aws's schema: each rule's `kind` must name
  // a real resource type and attribute there, so messages point at the field the user can look up.
  const providerRoot = path.dirname(require.resolve("@cdktf/provider-aws/package.json"));
  const bindingOf = new Map<string, string>();
  for (const dir of readdirSync(path.join(providerRoot, "lib"))) {
    const js = path.join(providerRoot, "lib", dir, "index.js");
    if (!existsSync(js)) continue;
    const m = /\.tfResourceType = "([a-z0-9_]+)"/.exec(readFileSync(js, "utf8"));
    if (m) bindingOf.set(m[1], path.join(providerRoot, "lib", dir, "index.d.ts"));
  }
  const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

  // Filtered by rule name, not by kind, so a broken kind cannot remove its own test.
  it.each(RULES.filter(([name]) => name !== "dnsLabel"))("NAME_RULES.%s.kind names a resource attribute of hashicorp/aws", (_, rule) => {
    const [type, attr] = rule.kind.split(".");
    const dts = bindingOf.get(type);
    expect({ type, binding: dts !== undefined }).toEqual({ type, binding: true });
    expect(readFileSync(dts as string, "utf8")).toMatch(new RegExp(`readonly ${camel(attr)}\\??: string;`));
  });

  it("has a rule for every AWS resource name the library derives (the invariants' table)", () => {
    const kinds = new Set(RULES.map(([, r]) => r.kind));
    for (const [type, attr] of AWS_NAME_LIMITS) expect(kinds).toContain(`${type}.${attr}`);
  });
});

describe("deriveName: replacement, trimming and the length boundary", () => {
  it.each(RULES)("NAME_RULES.%s replaces a disallowed character with '-' (allowed by every AWS name)", (_, rule) => {
    // U+00E9 is refused by every AWS name pattern; '-' is accepted by every one (field guide §2).
    expect(deriveName(["ab\u00e9cd"], rule)).toBe(`ab-cd-${stableHash("ab\u00e9cd")}`);
    expect(deriveName(["ab\u00e9\u00e9cd"], rule)).toBe(`ab-cd-${stableHash("ab\u00e9\u00e9cd")}`);
  });

  it.each(RULES)("NAME_RULES.%s returns a valid name of exactly the maximum length unchanged, and hashes one character more", (_, rule) => {
    const exact = `p${"x".repeat(rule.maxLength - 2)}1`;
    expect(deriveName([exact], rule)).toBe(exact);
    const over = `${exact}2`;
    const shortened = deriveName([over], rule);
    expect(shortened.length).toBe(rule.maxLength);
    expect(shortened).toBe(`${over.slice(0, rule.maxLength - NAME_HASH_LENGTH - 1)}-${stableHash(over)}`);
  });

  it.each(RULES)("NAME_RULES.%s gives empty input a valid name (the hash of the empty string)", (_, rule) => {
    expect(deriveName([""], rule)).toBe(stableHash(""));
    expect(deriveName([], rule)).toBe(stableHash(""));
  });

  it("fitsRule refuses upper case under a lower-casing rule even where the character class admits it", () => {
    const rule: NameRule = { kind: "test", maxLength: 63, allowedChar: /[A-Za-z0-9-]/, replacement: "-", lowercase: true };
    expect(fitsRule("Prod", rule)).toBe(false);
    expect(fitsRule("prod", rule)).toBe(true);
    expect(deriveName(["Prod"], rule)).toBe(`prod-${stableHash("Prod")}`);
  });

  it("trims every trim character from both ends, keeping the inside", () => {
    const rule: NameRule = { kind: "test", maxLength: 64, allowedChar: /[a-z_.-]/, replacement: "-", trimChars: "-_." };
    expect(deriveName(["_.-a-b-._"], rule)).toBe(`a-b-${stableHash("_.-a-b-._")}`);
    expect(deriveName(["a"], rule)).toBe("a");
    expect(deriveName(["a_b"], rule)).toBe("a_b");
    expect(deriveName(["_"], rule)).toBe(stableHash("_"));
    expect(deriveName(["ab_"], rule)).toBe(`ab-${stableHash("ab_")}`);
    expect(deriveName(["_ab"], rule)).toBe(`ab-${stableHash("_ab")}`);
  });

  it("collapses runs of a replacement that is a regular-expression metacharacter literally, and keeps names with an empty replacement", () => {
    const dot: NameRule = { kind: "test", maxLength: 64, allowedChar: /[a-z.]/, replacement: ".", trimChars: "." };
    expect(deriveName(["a!!b"], dot)).toBe(`a.b-${stableHash("a!!b")}`);
    expect(deriveName(["ab"], dot)).toBe("ab");
    const none: NameRule = { kind: "test", maxLength: 64, allowedChar: /[a-z-]/, replacement: "" };
    expect(deriveName(["a--b!c"], none)).toBe(`a--bc-${stableHash("a--b!c")}`);
  });

  it("prefixes the S3 reserved prefixes with k- (S3 bucket naming rules, written out; xn-- cannot survive the collapse of '--')", () => {
    expect(deriveName(["xn--data"], NAME_RULES.s3Bucket)).toBe(`xn-data-${stableHash("xn--data")}`);
    for (const prefix of ["sthree-", "amzn-s3-demo-"]) {
      expect(deriveName([`${prefix}data`], NAME_RULES.s3Bucket)).toBe(`k-${prefix}data-${stableHash(`${prefix}data`)}`);
    }
  });

  it("fitsRule refuses upper case only where the rule lower-cases, and any forbidden prefix or suffix", () => {
    expect(fitsRule("Prod", NAME_RULES.dnsLabel)).toBe(false);
    expect(fitsRule("Prod", NAME_RULES.iamRole)).toBe(true);
    expect(fitsRule("xn--prod", NAME_RULES.s3Bucket)).toBe(false);
    expect(fitsRule("INTERNAL-api", NAME_RULES.loadBalancer)).toBe(false);
    expect(fitsRule("prod--x-s3", NAME_RULES.s3Bucket)).toBe(false);
    expect(fitsRule("prod-x-s3", NAME_RULES.s3Bucket)).toBe(true);
  });
});
