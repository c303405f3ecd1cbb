import { EndpointAccess, EtcdTopology, HaControlPlane } from "../../lib";
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
