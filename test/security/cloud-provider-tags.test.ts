/**
 * Finding 7c (issue 14): which security groups the AWS cloud provider manages. For a Service of type
 * LoadBalancer it looks for the one security group of each backend instance tagged
 * `kubernetes.io/cluster/<name>` and adds the load balancer's ingress rules to it; an instance with
 * several such groups fails ("Multiple tagged security groups found for instance ...; ensure only
 * the k8s security group is tagged", cloud-provider-aws). That selection is simulated here over the
 * synthesized groups and launch templates.
 */
import { HaControlPlane, EtcdTopology } from "../../lib";
import { SynthJson, follow, resources, synth } from "../helpers/synth";

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const TAG = "kubernetes.io/cluster/prod";

/** The groups the cloud provider would take as an instance's "k8s security group", as it selects them. */
function cloudProviderGroups(json: SynthJson, groupRefs: readonly unknown[]): string[] {
  return groupRefs.map((ref) => follow(json, ref)).filter((sg) => sg.props.tags?.[TAG] !== undefined).map((sg) => String(sg.props.name));
}

describe.each([EtcdTopology.EXTERNAL, EtcdTopology.STACKED])("security groups the AWS cloud provider may edit (%s etcd)", (etcdTopology) => {
  const json = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "prod", availabilityZones: ZONES, etcdTopology }));

  it("leaves every control-plane node's groups out of its reach", () => {
    const templates = resources(json, "aws_launch_template");
    expect(templates.length).toBeGreaterThan(0);
    for (const lt of templates) {
      const refs = (lt.props.network_interfaces?.[0]?.security_groups ?? lt.props.vpc_security_group_ids) as unknown[];
      expect([lt.props.name, cloudProviderGroups(json, refs)]).toEqual([lt.props.name, []]);
    }
  });

  it("offers it exactly one group on workers: the worker group, owned", () => {
    const groups = resources(json, "aws_security_group");
    const tagged = groups.filter((g) => g.props.tags?.[TAG] !== undefined);
    expect(tagged.map((g) => [g.props.name, g.props.tags[TAG]])).toEqual([["prod-nodes", "owned"]]);
  });
});
