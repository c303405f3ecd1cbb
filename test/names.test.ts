/**
 * AWS-safe names: deriveName against every NAME_RULES entry, and the names HaControlPlane
 * actually synthesizes for the shortest and longest cluster names it accepts.
 */
import { HaControlPlane } from "../lib/control-plane";
import { EndpointAccess } from "../lib/loadbalancer/api-load-balancer";
import { NAME_HASH_LENGTH, NAME_RULES, NameRule, deriveName, fitsRule, stableHash } from "../lib/names";
import { AWS_NAME_LIMITS } from "./helpers/invariants";
import { SynthJson, resources, synth } from "./helpers/synth";
import { REFERENCE_PROPS } from "./validation/config-error";

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


describe("names synthesized by HaControlPlane", () => {
  const cases: Array<[string, string, boolean]> = [
    ["a 1-character cluster name", "a", false],
    ["a 40-character cluster name", `prod-${"x".repeat(34)}9`, false],
    ["a 40-character cluster name starting with internal, with a public endpoint", `internal-${"x".repeat(30)}9`, true],
    ["a 40-character cluster name starting with sg", `sg-${"y".repeat(36)}9`, false],
  ];
  const built = new Map<string, SynthJson>();
  const jsonFor = (cluster: string, pub: boolean): SynthJson => {
    const key = `${cluster}/${pub}`;
    if (!built.has(key)) {
      built.set(
        key,
        synth((s) =>
          new HaControlPlane(s, "ControlPlane", {
            ...REFERENCE_PROPS,
            clusterName: cluster,
            ...(pub ? { endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC } : {}),
          }),
        ),
      );
    }
    return built.get(key) as SynthJson;
  };

  describe.each(cases)("with %s", (_, cluster, pub) => {
    it.each(AWS_NAME_LIMITS)("keeps every %s.%s within AWS's rule (%s), and distinct", (type, attr, _rule, fits) => {
      const found = resources(jsonFor(cluster, pub), type);
      expect(found.length).toBeGreaterThan(0);
      const names = found.map((r) => String(r.props[attr]));
      for (const name of names) {
        expect({ name, fits: fits(name) }).toEqual({ name, fits: true });
      }
      expect(new Set(names).size).toBe(names.length);
    });

    it("keeps load balancer and target group names within 32 characters", () => {
      const json = jsonFor(cluster, pub);
      for (const type of ["aws_lb", "aws_lb_target_group"]) {
        for (const r of resources(json, type)) expect(String(r.props.name).length).toBeLessThanOrEqual(32);
      }
      expect(resources(json, "aws_lb")).toHaveLength(pub ? 2 : 1);
    });

    it("keeps IAM role names within 64 characters", () => {
      for (const r of resources(jsonFor(cluster, pub), "aws_iam_role")) expect(String(r.props.name).length).toBeLessThanOrEqual(64);
    });

    it("gives the KMS alias the alias/ prefix and no reserved alias/aws/ prefix", () => {
      for (const r of resources(jsonFor(cluster, pub), "aws_kms_alias")) {
        const name = String(r.props.name);
        expect(name.startsWith("alias/")).toBe(true);
        expect(name.startsWith("alias/aws/")).toBe(false);
        expect(name.length).toBeLessThanOrEqual(256);
      }
    });

    it("keeps the Auto Scaling service-linked role name AWSServiceRoleForAutoScaling_<suffix> within 64 characters", () => {
      const [role] = resources(jsonFor(cluster, pub), "aws_iam_service_linked_role");
      const suffix = String(role.props.custom_suffix);
      const roleName = `AWSServiceRoleForAutoScaling_${suffix}`;
      expect(roleName.length).toBeLessThanOrEqual(64);
      expect(roleName).toMatch(/^[\w+=,.@-]{1,64}$/); // IAM role name rule (AWS docs)
      expect(suffix).toMatch(/^[\w+=,.@-]+$/);
    });
  });

  it("gives two 40-character cluster names that differ in their last character distinct load balancer names", () => {
    const a = `${"p".repeat(39)}a`;
    const b = `${"p".repeat(39)}b`;
    expect(deriveName([a, "api-int"], NAME_RULES.loadBalancer)).not.toBe(deriveName([b, "api-int"], NAME_RULES.loadBalancer));
    expect(deriveName([a, "api-int"], NAME_RULES.targetGroup)).not.toBe(deriveName([b, "api-int"], NAME_RULES.targetGroup));
  });
});
