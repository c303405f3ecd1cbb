/**
 * The names HaControlPlane actually synthesizes for the shortest and longest cluster names it
 * accepts, against AWS's rules written out in test/helpers/invariants.ts. Apart from
 * test/names.test.ts (the pure deriveName/fitsRule tests) so mutation testing of lib/names.ts runs
 * only the fast tests against each mutant.
 */
import { HaControlPlane } from "../lib/control-plane";
import { EndpointAccess } from "../lib/loadbalancer/api-load-balancer";
import { NAME_RULES, deriveName } from "../lib/names";
import { AWS_NAME_LIMITS } from "./helpers/invariants";
import { SynthJson, resources, synth } from "./helpers/synth";
import { REFERENCE_PROPS } from "./validation/config-error";

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
