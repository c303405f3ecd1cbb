/**
 * Issue 10, defect 7: the pod network the API servers reach is an explicit prop, and combinations
 * that cannot work are ConfigErrors naming the prop, the value and the fix.
 */
import { Lazy } from "../../lib/core";
import { ControlPlaneSecurityGroups, HaControlPlane, HaControlPlaneProps, INetwork, PodNetwork } from "../../lib";
import { ANY_VALUE, BadInput, existingNetwork, expectConfigError, REFERENCE_PROPS, scope } from "./config-error";

const build = (props: Partial<HaControlPlaneProps>) => new HaControlPlane(scope(), "Cp", { ...REFERENCE_PROPS, ...props });
const existingTokenVpc = () => ({ vpcCidr: undefined, availabilityZones: undefined, network: existingNetwork() });

describe("podNetwork: combinations that cannot work", () => {
  const rows: BadInput<Partial<HaControlPlaneProps>>[] = [
    {
      title: "refuses a pod CIDR outside the VPC while claiming VPC-native pods",
      props: { podNetwork: PodNetwork.VPC_NATIVE, podCidr: "10.244.0.0/16" },
      prop: "podCidr",
      value: "10.244.0.0/16",
      fix: /PodNetwork\.ROUTED/,
    },
    {
      title: "refuses a VPC-native pod CIDR that only partly lies in the VPC",
      props: { podNetwork: PodNetwork.VPC_NATIVE, podCidr: "10.0.0.0/15" },
      prop: "podCidr",
      value: "10.0.0.0/15",
    },
    {
      title: "refuses VPC-native pods whose VPC block holds the service CIDR",
      props: { podNetwork: PodNetwork.VPC_NATIVE, serviceCidr: "10.0.240.0/20" },
      prop: "serviceCidr",
      value: "10.0.240.0/20",
    },
    {
      title: "refuses a routed pod CIDR inside the VPC (that is VPC-native)",
      props: { podNetwork: PodNetwork.ROUTED, podCidr: "10.0.128.0/17" },
      prop: "podCidr",
      value: "10.0.128.0/17",
      fix: /PodNetwork\.VPC_NATIVE/,
    },
    {
      title: "refuses a pod CIDR overlapping the service CIDR in every mode (overlay)",
      props: { podNetwork: PodNetwork.OVERLAY, podCidr: "10.96.0.0/16" },
      prop: "podCidr",
      value: "10.96.0.0/16",
    },
    { title: "refuses an unknown pod network", props: { podNetwork: "calico" as PodNetwork }, prop: "podNetwork", value: "calico", fix: /VPC_NATIVE/ },
  ];
  it.each(rows)("$title", (row) => {
    expectConfigError(() => build(row.props), row);
  });

  it("asks for podCidr with VPC-native pods when the existing VPC's block is known only at apply", () => {
    // A user's own INetwork may carry a VPC block known only at apply.
    const network: INetwork = { ...existingNetwork(), vpcCidr: Lazy.stringValue({ produce: () => "172.20.0.0/16" }) };
    expectConfigError(() => build({ ...existingTokenVpc(), network, podNetwork: PodNetwork.VPC_NATIVE }), { prop: "podCidr", value: undefined, fix: /VPC block/ });
  });

  it("refuses a routed security group set without a pod block", () => {
    const network = existingNetwork();
    expectConfigError(() => new ControlPlaneSecurityGroups(scope(), "Sg", { clusterName: "c1", network, podNetwork: PodNetwork.ROUTED }), { prop: "podCidr", value: undefined, fix: /10\.244\.0\.0\/16/ });
  });

  it("refuses a routed pod block overlapping the VPC in the security groups alone", () => {
    const network = existingNetwork();
    expectConfigError(() => new ControlPlaneSecurityGroups(scope(), "Sg", { clusterName: "c1", network, podCidr: network.vpcCidr }), { prop: "podCidr", value: ANY_VALUE });
  });
});

describe("podNetwork: accepted shapes", () => {
  it("defaults VPC-native pods to the VPC block", () => {
    expect(build({ podNetwork: PodNetwork.VPC_NATIVE }).podCidr).toBe("10.0.0.0/16");
  });

  it("accepts a VPC-native pod CIDR inside the VPC", () => {
    expect(build({ podNetwork: PodNetwork.VPC_NATIVE, podCidr: "10.0.128.0/17" }).podCidr).toBe("10.0.128.0/17");
  });

  it("keeps 10.244.0.0/16, routed, by default", () => {
    expect(build({}).podCidr).toBe("10.244.0.0/16");
  });
});
