import { EndpointAccess, EtcdTopology, HaControlPlane } from "../../lib";
import { PolicyContext, RuleStatus, SINGLE_ZONE, typeKeyOf } from "../../lib/policy";
import { testStack } from "../helpers/synth";
import { runPack } from "./helpers";

const base = {
  clusterName: "c1",
  availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
  amiId: "ami-0a422d70f727fe93e",
};

describe("the policy pack on HaControlPlane variants", () => {
  it.each([
    ["stacked etcd", { etcdTopology: EtcdTopology.STACKED }],
    ["5 members and a public endpoint open to the world on 6443", { etcdMemberCount: 5, endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC, allowedApiCidrs: ["0.0.0.0/0"] }],
    ["zones looked up at plan time", { availabilityZones: undefined }],
  ])("finds no error with %s", (_t, props) => {
    const run = runPack((s) => new HaControlPlane(s, "ControlPlane", { ...base, ...props }));
    expect(run.pack.errors.map((f) => f.message)).toEqual([]);
    expect(run.pack.warnings.map((f) => f.message)).toEqual([]);
  });

  // element() wraps around (Terraform docs), so a looked-up zone list proves distinct zones only
  // through the lookup's postcondition on its length (issue 15: HA-AZ1 counted wrapped indexes).
  it.each([3, 5])("proves the looked-up zones of %i etcd members distinct through the lookup's postcondition (HA-AZ1 compliant, not merely silent)", (count) => {
    const { stack } = testStack();
    new HaControlPlane(stack, "ControlPlane", { ...base, availabilityZones: undefined, etcdMemberCount: count });
    const context = PolicyContext.fromSynthesizedJson(stack.toTerraform());
    const lookup = context.ofType("data.aws_availability_zones");
    expect(lookup.map((l) => (l.config.lifecycle as { postcondition: Array<{ condition: string }> }).postcondition.map((p) => p.condition))).toEqual([
      [`\${length(self.names) >= 3}`],
    ]);
    const verdicts = context.resources
      .filter((r) => SINGLE_ZONE.appliesTo.includes(typeKeyOf(r)))
      .map((r) => SINGLE_ZONE.evaluate(r, context).status)
      .filter((status) => status !== RuleStatus.NOT_APPLICABLE);
    // One verdict per tier: the API-server group and the first etcd data volume.
    expect(verdicts).toEqual([RuleStatus.COMPLIANT, RuleStatus.COMPLIANT]);
  });

  it("reports what a deliberately non-HA cluster gives up", () => {
    const run = runPack(
      (s) =>
        new HaControlPlane(s, "ControlPlane", {
          ...base,
          availabilityZones: ["eu-west-1a"],
          allowSingleZone: true,
          apiServerCount: 1,
          allowSingleApiServer: true,
          etcdMemberCount: 1,
          allowNonHaEtcd: true,
        }),
    );
    expect(run.pack.findings.map((f) => `${f.ruleId} ${f.level} ${f.path}`).sort()).toEqual([
      "HA-AZ1 error policy/ControlPlane/ApiServers/Group",
      "HA-AZ1 error policy/ControlPlane/Etcd/DataVolume0",
    ]);
  });
});
