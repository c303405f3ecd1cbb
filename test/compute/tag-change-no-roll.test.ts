/**
 * Issue 18 finding 6: editing the user's tags must not roll a node. A launch template change makes
 * a new template version: the API group's instance refresh replaces every API server, and each etcd
 * member picks it up on its next replacement. So templates (their tag specifications and user data)
 * carry only the library's own tags, and user tags reach instances through the groups' tags with
 * propagate_at_launch. (Auto Scaling does not propagate tags to EBS volumes - AWS's "Tag Auto
 * Scaling groups and instances" - so root volumes carry the library's tags only.)
 */
import { HaControlPlane, EtcdTopology } from "../../lib";
import { SynthJson, resources, synth } from "../helpers/synth";
import { REFERENCE_PROPS } from "../validation/config-error";

const build = (tags: Record<string, string>, etcdTopology = EtcdTopology.EXTERNAL): SynthJson =>
  synth((s) => new HaControlPlane(s, "ControlPlane", { ...REFERENCE_PROPS, etcdTopology, ...(etcdTopology === EtcdTopology.STACKED ? { etcdMemberCount: undefined } : {}), tags }));

const TAGS_A = { team: "platform", environment: "production" };
const TAGS_B = { team: "payments", environment: "production", "cost-center": "cc-4711" };

const byName = (json: SynthJson, type: string) => Object.fromEntries(resources(json, type).map((r) => [r.name, r.props]));
/** The user data as nodes get it: what the template points at (a change here rolls nodes too). */
const userData = (json: SynthJson) => Object.fromEntries(resources(json, "aws_launch_template").map((r) => [r.name, r.props.user_data]));

describe.each([EtcdTopology.EXTERNAL, EtcdTopology.STACKED])("a tag change with %s etcd", (topology) => {
  const a = build(TAGS_A, topology);
  const b = build(TAGS_B, topology);

  it("leaves every launch template byte-identical (no new version, no roll)", () => {
    expect(resources(a, "aws_launch_template").length).toBeGreaterThan(0);
    expect(JSON.stringify(byName(b, "aws_launch_template"))).toBe(JSON.stringify(byName(a, "aws_launch_template")));
    expect(userData(b)).toEqual(userData(a));
  });

  it("leaves the bootstrap bundles byte-identical", () => {
    const objects = (j: SynthJson) => Object.fromEntries(resources(j, "aws_s3_object").map((r) => [r.name, { key: r.props.key, content: r.props.content_base64 }]));
    expect(Object.keys(objects(a)).length).toBeGreaterThan(0);
    expect(objects(b)).toEqual(objects(a));
  });

  it("changes the groups' tags, propagated at launch to new instances", () => {
    const groups = resources(b, "aws_autoscaling_group");
    expect(groups.length).toBeGreaterThan(0);
    for (const g of groups) {
      const tags = Object.fromEntries((g.props.tag as { key: string; value: string; propagate_at_launch: boolean }[]).map((t) => [t.key, t]));
      for (const [key, value] of Object.entries(TAGS_B)) expect(tags[key]).toEqual({ key, value, propagate_at_launch: true });
    }
    expect(JSON.stringify(byName(b, "aws_autoscaling_group"))).not.toBe(JSON.stringify(byName(a, "aws_autoscaling_group")));
  });

  it("keeps the library's own tags in the templates' tag specifications (nodes find their slot by them)", () => {
    for (const lt of resources(a, "aws_launch_template")) {
      const instance = lt.props.tag_specifications.find((t: { resource_type: string }) => t.resource_type === "instance").tags;
      expect(instance["ha-control-plane/cluster"]).toBe("prod-eu1");
      expect(instance["ha-control-plane/role"]).toMatch(/^(apiserver|etcd)$/);
      expect(Object.keys(instance).filter((k) => k in TAGS_A || k in TAGS_B)).toEqual([]);
    }
  });
});
