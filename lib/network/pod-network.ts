import { IConstruct } from "constructs";
import { Annotations } from "../core";
import { ConfigError } from "../errors";
import { contains, overlaps, parseIpv4Cidr } from "./cidr";

/**
 * How pod IPs are reached from the API servers. API server hosts are not Nodes: they run no CNI
 * agent and no kube-proxy, so they reach a pod (an admission webhook, an aggregated API such as
 * metrics-server) only if the VPC routes the pod's IP. kube-apiserver runs with
 * `--enable-aggregator-routing=true` and so calls the pod IP, not the Service's cluster IP.
 */
export enum PodNetwork {
  /**
   * Pods take addresses of the VPC's own subnets (Amazon VPC CNI, Cilium ENI mode): the VPC routes
   * them and the API servers' egress to the VPC block covers them. `podCidr` must lie inside the
   * VPC block (it defaults to it).
   */
  VPC_NATIVE = "vpc-native",
  /**
   * Pods take addresses from `podCidr`, outside the VPC block, routed natively (no encapsulation):
   * a VPC route per node's pod range to that node (a cloud-controller-manager route controller,
   * or your own automation) and source/destination check off on worker instances. The API servers
   * get egress to `podCidr` on HTTPS 443 and 1024-65535; you own the routes.
   */
  ROUTED = "routed",
  /**
   * An overlay (VXLAN, IP-in-IP, Geneve: Calico, Flannel, Cilium tunnel mode). The API servers
   * cannot reach pods at all: admission webhooks and aggregated APIs must run with
   * `hostNetwork: true` (as on EKS with an overlay CNI). Synth warns.
   */
  OVERLAY = "overlay",
}

/** The pod block in use, and whether the API servers need a route to it outside the VPC. */
export interface ResolvedPodNetwork {
  /** The pod CIDR block. */
  readonly podCidr: string;
  /** How pods are addressed and whether the API servers can reach them: `VPC_NATIVE`, `ROUTED` or an overlay. */
  readonly podNetwork: PodNetwork;
}

/**
 * Checks `podNetwork` against `podCidr` and the VPC block and returns the pod CIDR to use.
 * `vpcCidr` may be an unresolved token (an existing network read at apply): containment is then
 * not checked, and VPC_NATIVE needs an explicit `podCidr`.
 */
export function resolvePodNetwork(podNetwork: PodNetwork, podCidr: string | undefined, vpcCidr: string, vpcCidrKnown: boolean, serviceCidr: string): ResolvedPodNetwork {
  if (!Object.values(PodNetwork).includes(podNetwork)) {
    throw new ConfigError("podNetwork", podNetwork, "is not a supported pod network", "use PodNetwork.VPC_NATIVE, PodNetwork.ROUTED or PodNetwork.OVERLAY");
  }
  if (podNetwork !== PodNetwork.VPC_NATIVE) return { podNetwork, podCidr: podCidr ?? "10.244.0.0/16" };
  if (podCidr === undefined && !vpcCidrKnown) {
    throw new ConfigError("podCidr", podCidr, "is required with podNetwork PodNetwork.VPC_NATIVE when the VPC block is known only at apply", "set podCidr to the VPC block (or the part of it your pods use)");
  }
  const cidr = podCidr ?? vpcCidr;
  const pod = parseIpv4Cidr("podCidr", cidr);
  if (vpcCidrKnown) {
    const vpc = parseIpv4Cidr("vpcCidr", vpcCidr);
    if (!contains(vpc, pod)) {
      throw new ConfigError(
        "podCidr",
        cidr,
        `is not inside the VPC block ${vpcCidr}, but podNetwork is PodNetwork.VPC_NATIVE (pods on VPC addresses)`,
        "drop podCidr (it defaults to the VPC block), or, for pods outside the VPC block (a secondary VPC block or a routed range), use PodNetwork.ROUTED",
      );
    }
  }
  if (overlaps(pod, parseIpv4Cidr("serviceCidr", serviceCidr))) {
    throw new ConfigError("serviceCidr", serviceCidr, `overlaps the pod block ${cidr} (PodNetwork.VPC_NATIVE: the VPC block)`, "use a service block outside the VPC, e.g. 10.96.0.0/12 with a 10.0.0.0/16 VPC");
  }
  return { podNetwork, podCidr: cidr };
}

/** Warns at synth when the API servers cannot reach pods (PodNetwork.OVERLAY). */
export function warnPodNetwork(scope: IConstruct, podNetwork: PodNetwork): void {
  if (podNetwork === PodNetwork.OVERLAY) {
    Annotations.of(scope).addWarning("podNetwork is PodNetwork.OVERLAY: the API servers cannot reach pods, so admission webhooks and aggregated APIs (metrics-server) must run with hostNetwork: true");
  }
}
