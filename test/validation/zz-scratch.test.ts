import { HaControlPlane, tryParseIpv4Cidr, formatCidr } from "../../lib";
import { testStack } from "../helpers/synth";

const base = {
  clusterName: "prod-eu1",
  kubernetesVersion: "1.33.5",
  vpcCidr: "10.0.0.0/16",
  availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
  apiServerCount: 3,
  etcdMemberCount: 3,
  amiId: "ami-0a422d70f727fe93e",
  allowedApiCidrs: ["10.20.0.0/16"],
  tags: { team: "platform", environment: "production" },
};
it("scratch", () => {
  for (let j = 0; j < 3; j++) {
  let t = Date.now();
  for (let i = 0; i < 10; i++) { const { stack } = testStack(); new HaControlPlane(stack, "cp", base); }
  console.log("construct x10", Date.now() - t);
  }
  let t = Date.now();
  for (let i = 0; i < 10; i++) { const { stack } = testStack(); try { new HaControlPlane(stack, "cp", {...base, apiServerCount: 4}); } catch {} }
  console.log("construct x10 failing late", Date.now() - t);
  const out: string[] = [];
  for (const c of ["010.0.0.0/8", "010.20.0.0/16", "10.0.0.010/32", "096.0.0.0/8", "1.2.3.04/32", "10.0.0.0/08"]) {
    const b = tryParseIpv4Cidr(c);
    out.push(`${c} -> ${b && formatCidr(b)}`);
  }
  console.log(out.join("\n"));
});
