/**
 * Issue 10, defect 7: API servers (not Nodes, no kube-proxy) reach admission webhooks and
 * aggregated APIs in pods. Checked on the synthesized security group rules of HaControlPlane and on
 * the API server flag Kubernetes documents for API hosts without kube-proxy
 * ("--enable-aggregator-routing=true", Configure the Aggregation Layer).
 */
import { parse } from "yaml";
import { HaControlPlane, HaControlPlaneProps, PodNetwork } from "../../lib";
import { FoundResource, SynthJson, follow, nodeFilesOf, resources, synth } from "../helpers/synth";

const BASE: HaControlPlaneProps = {
  clusterName: "pn",
  kubernetesVersion: "1.33.5",
  vpcCidr: "10.0.0.0/16",
  availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
  amiId: "ami-0a422d70f727fe93e",
};

const build = (props: Partial<HaControlPlaneProps>): SynthJson => synth((s) => new HaControlPlane(s, "Cp", { ...BASE, ...props }));
const roleOf = (json: SynthJson, ref: unknown): string => follow(json, ref).props.tags["ha-control-plane/role"];

/** `group proto from-to peer` of every rule of one direction. */
function rules(json: SynthJson, type: string): string[] {
  return resources(json, type).map((r: FoundResource) => {
    const peer = r.props.referenced_security_group_id ? `sg:${roleOf(json, r.props.referenced_security_group_id)}` : r.props.cidr_ipv4;
    const ports = r.props.from_port === undefined ? "all" : `${r.props.from_port}-${r.props.to_port}`;
    return `${roleOf(json, r.props.security_group_id)} ${r.props.ip_protocol} ${ports} ${peer}`;
  });
}
const egress = (json: SynthJson) => rules(json, "aws_vpc_security_group_egress_rule");
const ingress = (json: SynthJson) => rules(json, "aws_vpc_security_group_ingress_rule");

// Ports pods serve webhooks and aggregated APIs on in common charts (from their manifests):
// metrics-server 10250, controller-runtime webhooks 9443, ingress-nginx admission 8443,
// metrics-server before v0.5 4443, HTTPS 443.
const SERVING_PORTS = [443, 4443, 8443, 9443, 10250];
const covers = (rule: string, port: number, group: string, peer: string): boolean => {
  const m = /^(\S+) tcp (\d+)-(\d+) (\S+)$/.exec(rule);
  return m !== null && m[1] === group && m[4] === peer && Number(m[2]) <= port && port <= Number(m[3]);
};

describe("API servers reach pods (webhooks, aggregated APIs)", () => {
  it("routes to the pod block by default: egress from the API servers to podCidr on every serving port, never on SSH", () => {
    const json = build({});
    for (const port of SERVING_PORTS) expect(egress(json).some((r) => covers(r, port, "apiserver", "10.244.0.0/16"))).toBe(true);
    expect(egress(json).some((r) => covers(r, 22, "apiserver", "10.244.0.0/16"))).toBe(false);
  });

  it("lets API servers in on the workers' serving ports (pods and host-network webhooks), never on SSH", () => {
    const json = build({});
    for (const port of SERVING_PORTS) expect(ingress(json).some((r) => covers(r, port, "nodes", "sg:apiserver"))).toBe(true);
    expect(ingress(json).some((r) => covers(r, 22, "nodes", "sg:apiserver"))).toBe(false);
  });

  it("routes a custom pod block", () => {
    const json = build({ podNetwork: PodNetwork.ROUTED, podCidr: "100.64.0.0/16" });
    expect(egress(json).some((r) => covers(r, 9443, "apiserver", "100.64.0.0/16"))).toBe(true);
  });

  it("adds no pod egress for VPC-native pods (the VPC egress covers them) nor for an overlay (unroutable)", () => {
    for (const podNetwork of [PodNetwork.VPC_NATIVE, PodNetwork.OVERLAY]) {
      const out = egress(build({ podNetwork }));
      expect(out.filter((r) => r.endsWith("10.244.0.0/16"))).toEqual([]);
      expect(out).toContain("apiserver -1 all 10.0.0.0/16");
    }
  });

  it("warns at synth that an overlay needs host-network webhooks", () => {
    let warned = false;
    synth((s) => {
      const cp = new HaControlPlane(s, "Cp", { ...BASE, podNetwork: PodNetwork.OVERLAY });
      warned = cp.node.metadata.some((m) => m.type === "@cdktf/warn" && String(m.data).includes("hostNetwork"));
    });
    expect(warned).toBe(true);
  });

  it("calls webhooks and aggregated APIs at endpoint IPs, as Kubernetes requires on hosts without kube-proxy", () => {
    const json = build({});
    const lt = resources(json, "aws_launch_template").find((l) => /apiserver/.test(String(l.props.name)))!;
    const files = nodeFilesOf(json, lt);
    const manifest = parse(files.find((f) => f.path.endsWith("/kube-apiserver.yaml"))!.content);
    expect(manifest.spec.containers[0].command).toContain("--enable-aggregator-routing=true");
  });
});
