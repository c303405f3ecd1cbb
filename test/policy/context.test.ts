import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { SecurityGroupRule } from "@cdktf/provider-aws/lib/security-group-rule";
import { Fn, TerraformStack } from "../../lib/core";
import {
  ETCD_PORT_EXPOSURE,
  ElementKind,
  PolicyContext,
  PolicyRule,
  RuleStatus,
  SINGLE_ZONE,
  SHUTDOWN_DELAY,
  interpolations,
  typeKeyOf,
  userDataTexts,
  zoneKey,
} from "../../lib/policy";
import { testStack } from "../helpers/synth";
import { READYZ, apiTargetGroup, group, ingress, launchTemplate, roleGroup, shutdownDelayOutput, subnet, zoneLookup } from "./fixtures";
import { gzipSync } from "zlib";

/** Statuses of `rule` on every resource it applies to, evaluated directly on the synthesized stack. */
function statuses(rule: PolicyRule, build: (s: TerraformStack) => void): RuleStatus[] {
  const { stack } = testStack();
  build(stack);
  const context = PolicyContext.fromSynthesizedJson(stack.toTerraform());
  return context.resources.filter((r) => rule.appliesTo.includes(typeKeyOf(r))).map((r) => rule.evaluate(r, context).status);
}

describe("PolicyContext", () => {
  const { stack } = testStack();
  const zones = new DataAwsAvailabilityZones(stack, "Zones", {});
  const a = subnet(stack, "A", Fn.element(zones.names, 0), 0);
  roleGroup(stack, "Api", "apiserver", [a]);
  shutdownDelayOutput(stack, 20);
  const context = PolicyContext.fromSynthesizedJson(stack.toTerraform());

  it("lists resources and data sources with their address, construct path and configuration", () => {
    const subnetView = context.ofType("aws_subnet")[0];
    expect(subnetView).toEqual(expect.objectContaining({ kind: ElementKind.RESOURCE, type: "aws_subnet", address: `aws_subnet.${subnetView.name}`, path: "test/A" }));
    expect(subnetView.config).not.toHaveProperty("//");
    expect(context.ofType("data.aws_availability_zones")[0].address).toMatch(/^data\.aws_availability_zones\.Zones/);
  });

  it("follows a reference to the element it names", () => {
    const asg = context.ofType("aws_autoscaling_group")[0];
    const target = context.reference((asg.config.vpc_zone_identifier as string[])[0]);
    expect(target?.element?.path).toBe("test/A");
    expect(target?.attribute).toBe("id");
    expect(context.follow("${aws_subnet.Missing.id}")).toBeUndefined();
    expect(context.follow("subnet-0123")).toBeUndefined();
  });

  it("finds every reference inside expressions, nested strings included", () => {
    const found = context.references({ x: [`\${base64encode("a \${${context.ofType("aws_subnet")[0].address}.id} b")}`] });
    expect(found.map((r) => `${r.element?.type}.${r.attribute}`)).toEqual(["aws_subnet.id"]);
  });

  it("names outputs by their construct id", () => {
    expect(context.outputsNamed("api_shutdown_delay_seconds").map((o) => o.value)).toEqual([20]);
  });
});

describe("value readers", () => {
  it("split interpolations, skipping $${ escapes", () => {
    expect(interpolations('a ${aws_x.y.id} $${HOME} ${f("${b.c.d}")}')).toEqual(["aws_x.y.id", 'f("${b.c.d}")']);
  });

  it("read zones: literals, and indexes of an availability-zone lookup", () => {
    expect(zoneKey("eu-west-1a")).toBe("eu-west-1a");
    // element() wraps around: without the lookup (and a postcondition on its length) index 2 may be zone 0.
    expect(zoneKey("${element(data.aws_availability_zones.Z.names, 2)}")).toBeUndefined();
    expect(zoneKey("${data.aws_availability_zones.Z.names[1]}")).toBe("data.aws_availability_zones.Z[1]");
    expect(zoneKey("${var.zone}")).toBeUndefined();
  });

  it("decode base64 and gzip user data", () => {
    const text = "#!/bin/sh\necho hi\n";
    expect(userDataTexts(Buffer.from(text).toString("base64"))).toContain(text);
    expect(userDataTexts(gzipSync(Buffer.from(text)).toString("base64"))).toContain(text);
  });
});

describe("rules decide rather than skip when they can", () => {
  it("HA-AZ1 is compliant with zones looked up at plan time, not applicable with subnets outside the stack", () => {
    expect(
      statuses(SINGLE_ZONE, (s) => {
        const zones = zoneLookup(s, "Zones", 2);
        roleGroup(s, "Api", "apiserver", [0, 1].map((i) => subnet(s, `S${i}`, Fn.element(zones.names, i), i)));
      }),
    ).toEqual([RuleStatus.COMPLIANT]);
    expect(statuses(SINGLE_ZONE, (s) => roleGroup(s, "Api", "apiserver", ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]))).toEqual([RuleStatus.NOT_APPLICABLE]);
  });

  it("HA-LB2 is not applicable without a shutdown-delay output or with one known only at apply time", () => {
    expect(statuses(SHUTDOWN_DELAY, (s) => apiTargetGroup(s, "Tg", READYZ))).toEqual([RuleStatus.NOT_APPLICABLE]);
    expect(statuses(SHUTDOWN_DELAY, (s) => (apiTargetGroup(s, "Tg", READYZ), shutdownDelayOutput(s, "${var.delay}")))).toEqual([RuleStatus.NOT_APPLICABLE]);
    expect(statuses(SHUTDOWN_DELAY, (s) => (apiTargetGroup(s, "Tg", READYZ), shutdownDelayOutput(s, 20)))).toEqual([RuleStatus.COMPLIANT]);
  });

  it("HA-SG2 accepts members (self) on the etcd group and skips groups that protect no etcd", () => {
    expect(
      statuses(ETCD_PORT_EXPOSURE, (s) => {
        const etcd = group(s, "Etcd");
        launchTemplate(s, "Member", { vpcSecurityGroupIds: [etcd.id], tags: { "ha-control-plane/role": "etcd" } });
        new SecurityGroupRule(s, "Self", { type: "ingress", securityGroupId: etcd.id, protocol: "tcp", fromPort: 2380, toPort: 2380, selfAttribute: true });
      }),
    ).toEqual([RuleStatus.NOT_APPLICABLE /* the group itself: no inline ingress */, RuleStatus.COMPLIANT]);
    expect(statuses(ETCD_PORT_EXPOSURE, (s) => ingress(s, "All", group(s, "Nodes", "nodes"), [0, 65535], { cidr: "10.0.0.0/16" }))).toEqual([
      RuleStatus.NOT_APPLICABLE,
      RuleStatus.NOT_APPLICABLE,
    ]);
  });
});
