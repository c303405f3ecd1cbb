import { Construct } from "constructs";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { ConfigError } from "../errors";
import { NAME_RULES, deriveName } from "../names";
import { overlaps, parseIpv4Cidr } from "../network/cidr";
import { INetwork } from "../network/network";
import { PodNetwork } from "../network/pod-network";
import { ClusterTags, RESERVED_TAG_COUNT, kubernetesClusterTag } from "../tags";

/** Role tag of the worker nodes' group: the only group the AWS cloud provider may manage. */
const WORKER_GROUP_ROLE = "nodes";
import { checkClusterName, checkTags, isUnresolved } from "../validate";

/** Kubernetes API port on the API servers and the load balancer. */
export const API_PORT = 6443;
/** etcd's client port (IANA-registered): API servers and etcdctl reach members here over mutual TLS. */
export const ETCD_CLIENT_PORT = 2379;
/** etcd's peer port (IANA-registered): members replicate Raft traffic to each other here over mutual TLS. */
export const ETCD_PEER_PORT = 2380;
/** kubelet API port. */
export const KUBELET_PORT = 10250;
/**
 * Ports the API servers call pods on: admission webhooks and aggregated APIs listen on HTTPS 443 or
 * any unprivileged port (metrics-server 10250, controller-runtime webhooks 9443, 8443, 4443 …).
 * Privileged ports but 443 stay closed (no SSH).
 */
export const POD_SERVING_PORT_RANGES: ReadonlyArray<readonly [number, number]> = [
  [443, 443],
  [1024, 65535],
];

/** Props of {@link ControlPlaneSecurityGroups}. */
export interface ControlPlaneSecurityGroupsProps {
  /** Cluster name (DNS label). */
  readonly clusterName: string;
  /** The network (VPC id and CIDR). */
  readonly network: INetwork;
  /**
   * IPv4 blocks allowed to reach the API through the load balancer, besides the cluster's own
   * nodes. No world-open default: `0.0.0.0/0` must be written out by the user.
   * @default [] - only API servers and worker nodes (the exposed worker group)
   */
  readonly allowedApiCidrs?: readonly string[];
  /**
   * How API servers reach pods (webhooks, aggregated APIs). With `PodNetwork.ROUTED` the API
   * servers get egress to `podCidr` on {@link POD_SERVING_PORT_RANGES}; the other modes add none
   * (VPC addresses are inside the VPC egress; an overlay is unreachable anyway).
   * @default - PodNetwork.ROUTED when `podCidr` is given, otherwise no egress to pods beyond the VPC
   */
  readonly podNetwork?: PodNetwork;
  /**
   * Pod IPv4 block, for the API servers' egress with `PodNetwork.ROUTED`.
   * @default - none (required with PodNetwork.ROUTED)
   */
  readonly podCidr?: string;
  /**
   * Destinations outside the VPC that API server and etcd nodes may reach on 443 and 80 (package
   * repositories, release downloads, public AWS endpoints): IPv4 blocks, or managed prefix list ids
   * (`pl-…`, e.g. an egress proxy's). `[]` gives the nodes no internet egress at all: every AWS API
   * must then be reached through VPC endpoints (`HaControlPlane` `vpcEndpoints: true`) and every
   * download through a mirror inside the VPC or on the allow-list.
   * @default ["0.0.0.0/0"]
   */
  readonly internetEgress?: readonly string[];
  /**
   * Extra tags for every security group.
   * @default - none
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/** One rule as declared, kept for tests and the policy pack. */
export interface DeclaredRule {
  /** `ingress` or `egress`. */
  readonly direction: "ingress" | "egress";
  /** The group the rule belongs to. */
  readonly group: string;
  /** Protocol: `tcp`, `udp`, `icmp` or `-1`. */
  readonly protocol: string;
  /**
   * First port (ICMP type).
   * @default - none: the rule covers every port (protocol `-1`)
   */
  readonly fromPort?: number;
  /**
   * Last port (ICMP code).
   * @default - none: the rule covers every port (protocol `-1`)
   */
  readonly toPort?: number;
  /** Peer: a CIDR or a group name. */
  readonly peer: string;
  /** Why the rule exists. */
  readonly description: string;
}

/**
 * Least-privilege security groups of the control plane, each rule its own resource with a
 * description:
 *
 * | group | ingress |
 * |---|---|
 * | load balancer | 6443 from `allowedApiCidrs`, API servers, worker nodes |
 * | API servers | 6443 from the load balancer, API servers, worker nodes; ICMP frag-needed from the VPC (their kubelet listens on 127.0.0.1 only) |
 * | etcd | 2379 from API servers and etcd; 2380 from etcd only; ICMP frag-needed from the VPC |
 * | worker nodes | 10250, 443 and 1024-65535 (webhooks, aggregated APIs) from API servers; ICMP frag-needed from the VPC |
 *
 * API servers' egress: the VPC, HTTP(S) to the internet, and with `PodNetwork.ROUTED` the pod
 * block on 443 and 1024-65535.
 *
 * No group allows SSH: nodes are reached through Session Manager.
 */
export class ControlPlaneSecurityGroups extends Construct {
  /** Attached to the API load balancer(s). */
  public readonly loadBalancer: SecurityGroup;
  /** Attached to API server nodes. */
  public readonly apiServer: SecurityGroup;
  /** Attached to etcd members (and API servers when etcd is stacked). */
  public readonly etcd: SecurityGroup;
  /** For worker nodes to join: lets them reach the API and lets API servers reach their kubelets. */
  public readonly workerNodes: SecurityGroup;
  /** Every rule declared, for inspection. */
  public readonly rules: readonly DeclaredRule[];
  /** Destinations outside the VPC the API server and etcd groups may reach on 443 and 80. */
  public readonly internetEgress: readonly string[];

  private readonly declared: DeclaredRule[] = [];
  private readonly groupNames = new Map<string, string>();

  constructor(scope: Construct, id: string, props: ControlPlaneSecurityGroupsProps) {
    super(scope, id);
    checkClusterName("clusterName", props.clusterName);
    checkTags("tags", props.tags, RESERVED_TAG_COUNT);
    const allowed = [...(props.allowedApiCidrs ?? [])];
    allowed.forEach((cidr, i) => {
      if (!isUnresolved(cidr)) parseIpv4Cidr(`allowedApiCidrs[${i}]`, cidr);
    });
    if (new Set(allowed).size !== allowed.length) {
      throw new ConfigError("allowedApiCidrs", allowed, "lists a block twice", "list each block once");
    }
    const podNetwork = props.podNetwork ?? (props.podCidr !== undefined ? PodNetwork.ROUTED : undefined);
    if (podNetwork !== undefined && !Object.values(PodNetwork).includes(podNetwork)) {
      throw new ConfigError("podNetwork", podNetwork, "is not a supported pod network", "use PodNetwork.VPC_NATIVE, PodNetwork.ROUTED or PodNetwork.OVERLAY");
    }
    if (podNetwork === PodNetwork.ROUTED) {
      if (props.podCidr === undefined) {
        throw new ConfigError("podCidr", props.podCidr, "is required with podNetwork PodNetwork.ROUTED: the API servers need egress to the pod block to reach webhooks and aggregated APIs", 'pass the cluster\'s pod block, e.g. "10.244.0.0/16"');
      }
      if (!isUnresolved(props.podCidr)) {
        const pods = parseIpv4Cidr("podCidr", props.podCidr);
        const vpc = isUnresolved(props.network.vpcCidr) ? undefined : parseIpv4Cidr("network.vpcCidr", props.network.vpcCidr);
        if (vpc !== undefined && overlaps(vpc, pods)) {
          throw new ConfigError("podCidr", props.podCidr, `overlaps the VPC block ${props.network.vpcCidr}, but podNetwork is PodNetwork.ROUTED (pods outside the VPC)`, "use a block outside the VPC, or podNetwork: PodNetwork.VPC_NATIVE for pods on VPC addresses");
        }
      }
    }
    this.internetEgress = checkInternetEgress(props.internetEgress);
    const tags = new ClusterTags(props.clusterName, props.tags);
    const vpcId = props.network.vpcId;
    const vpcCidr = props.network.vpcCidr;
    // The AWS cloud provider adds Service load-balancer rules to the one group of an instance
    // tagged kubernetes.io/cluster/<name> (and fails when it finds several): only the worker group,
    // where Service traffic lands, invites it; the control plane's groups are ours alone.
    const groupTags = (name: string, role: string): Record<string, string> => {
      const t = tags.of(name, { role });
      if (role !== WORKER_GROUP_ROLE) delete t[kubernetesClusterTag(props.clusterName)];
      return t;
    };
    const group = (gid: string, role: string, description: string): SecurityGroup => {
      const name = deriveName([props.clusterName, role], NAME_RULES.securityGroup);
      const sg = new SecurityGroup(this, gid, {
        name,
        description,
        vpcId,
        tags: groupTags(name, role),
        revokeRulesOnDelete: true,
      });
      this.groupNames.set(sg.friendlyUniqueId, role);
      return sg;
    };

    this.loadBalancer = group("LoadBalancer", "api-lb", `Kubernetes API load balancer of ${props.clusterName}`);
    this.apiServer = group("ApiServer", "apiserver", `Kubernetes API servers of ${props.clusterName}`);
    this.etcd = group("Etcd", "etcd", `etcd members of ${props.clusterName}`);
    this.workerNodes = group("WorkerNodes", WORKER_GROUP_ROLE, `Worker nodes joining ${props.clusterName}`);

    // Load balancer: who may reach the API endpoint, and where it forwards.
    allowed.forEach((cidr, i) => {
      this.ingressCidr(`LbFromAllowedCidr${i}`, this.loadBalancer, "tcp", API_PORT, cidr, `Kubernetes API clients from ${cidr}`);
    });
    this.ingressGroup("LbFromApiServers", this.loadBalancer, API_PORT, this.apiServer, "Kubernetes API from API server nodes through the load balancer");
    this.ingressGroup("LbFromWorkers", this.loadBalancer, API_PORT, this.workerNodes, "Kubernetes API from worker nodes through the load balancer");
    this.egressGroup("LbToApiServers", this.loadBalancer, API_PORT, this.apiServer, "Forward API traffic and health checks to API servers");

    // API servers.
    this.ingressGroup("ApiFromLb", this.apiServer, API_PORT, this.loadBalancer, "Kubernetes API and /readyz health checks from the load balancer");
    this.ingressGroup("ApiFromApi", this.apiServer, API_PORT, this.apiServer, "Kubernetes API between API server nodes");
    this.ingressGroup("ApiFromWorkers", this.apiServer, API_PORT, this.workerNodes, "Kubernetes API from worker nodes (kubernetes service endpoints)");
    this.ingressCidr("ApiPathMtu", this.apiServer, "icmp", { type: 3, code: 4 }, vpcCidr, "ICMP fragmentation-needed for path MTU discovery");
    this.egressVpcAndHttps("Api", this.apiServer, vpcCidr, "API servers");
    if (podNetwork === PodNetwork.ROUTED) {
      // Webhooks and aggregated APIs are called at the pod IP (--enable-aggregator-routing).
      for (const [from, to] of POD_SERVING_PORT_RANGES) {
        this.egressCidr(`ApiToPods${from}`, this.apiServer, from, to, props.podCidr!, `Admission webhooks and aggregated APIs in pods (routed pod block ${props.podCidr})`);
      }
    }

    // etcd: clients are API servers (and members for health checks); peers only members.
    this.ingressGroup("EtcdClientFromApi", this.etcd, ETCD_CLIENT_PORT, this.apiServer, "etcd client traffic from API servers");
    this.ingressGroup("EtcdClientFromEtcd", this.etcd, ETCD_CLIENT_PORT, this.etcd, "etcd client traffic between members (health checks, member management)");
    this.ingressGroup("EtcdPeerFromEtcd", this.etcd, ETCD_PEER_PORT, this.etcd, "etcd peer traffic between members only");
    this.ingressCidr("EtcdPathMtu", this.etcd, "icmp", { type: 3, code: 4 }, vpcCidr, "ICMP fragmentation-needed for path MTU discovery");
    this.egressVpcAndHttps("Etcd", this.etcd, vpcCidr, "etcd members");

    // Worker nodes: kubelet from API servers; egress to the API only (their own groups add more).
    this.ingressGroup("KubeletFromApi", this.workerNodes, KUBELET_PORT, this.apiServer, "kubelet API (logs, exec, metrics) from API servers");
    // Pod and host-network traffic both arrive on the workers' interfaces, which carry this group.
    for (const [from, to] of POD_SERVING_PORT_RANGES) {
      this.ingressGroupRange(`PodServingFromApi${from}`, this.workerNodes, from, to, this.apiServer, "Admission webhooks and aggregated APIs (metrics-server) on worker nodes and their pods, from API servers");
    }
    this.ingressCidr("WorkersPathMtu", this.workerNodes, "icmp", { type: 3, code: 4 }, vpcCidr, "ICMP fragmentation-needed for path MTU discovery");
    this.egressGroup("WorkersToLb", this.workerNodes, API_PORT, this.loadBalancer, "Kubernetes API through the load balancer");
    this.egressGroup("WorkersToApi", this.workerNodes, API_PORT, this.apiServer, "Kubernetes API on API server nodes (service endpoints)");

    this.rules = this.declared;
  }

  private nameOf(sg: SecurityGroup): string {
    return this.groupNames.get(sg.friendlyUniqueId) ?? sg.friendlyUniqueId;
  }

  private ingressGroup(id: string, sg: SecurityGroup, port: number, from: SecurityGroup, description: string): void {
    new VpcSecurityGroupIngressRule(this, id, {
      securityGroupId: sg.id,
      referencedSecurityGroupId: from.id,
      ipProtocol: "tcp",
      fromPort: port,
      toPort: port,
      description,
    });
    this.declared.push({ direction: "ingress", group: this.nameOf(sg), protocol: "tcp", fromPort: port, toPort: port, peer: `sg:${this.nameOf(from)}`, description });
  }

  private ingressGroupRange(id: string, sg: SecurityGroup, fromPort: number, toPort: number, from: SecurityGroup, description: string): void {
    new VpcSecurityGroupIngressRule(this, id, {
      securityGroupId: sg.id,
      referencedSecurityGroupId: from.id,
      ipProtocol: "tcp",
      fromPort,
      toPort,
      description,
    });
    this.declared.push({ direction: "ingress", group: this.nameOf(sg), protocol: "tcp", fromPort, toPort, peer: `sg:${this.nameOf(from)}`, description });
  }

  private egressCidr(id: string, sg: SecurityGroup, fromPort: number, toPort: number, cidr: string, description: string): void {
    new VpcSecurityGroupEgressRule(this, id, {
      securityGroupId: sg.id,
      cidrIpv4: cidr,
      ipProtocol: "tcp",
      fromPort,
      toPort,
      description,
    });
    this.declared.push({ direction: "egress", group: this.nameOf(sg), protocol: "tcp", fromPort, toPort, peer: cidr, description });
  }

  private egressGroup(id: string, sg: SecurityGroup, port: number, to: SecurityGroup, description: string): void {
    new VpcSecurityGroupEgressRule(this, id, {
      securityGroupId: sg.id,
      referencedSecurityGroupId: to.id,
      ipProtocol: "tcp",
      fromPort: port,
      toPort: port,
      description,
    });
    this.declared.push({ direction: "egress", group: this.nameOf(sg), protocol: "tcp", fromPort: port, toPort: port, peer: `sg:${this.nameOf(to)}`, description });
  }

  private ingressCidr(
    id: string,
    sg: SecurityGroup,
    protocol: "tcp" | "icmp",
    port: number | { type: number; code: number },
    cidr: string,
    description: string,
  ): void {
    const [from, to] = typeof port === "number" ? [port, port] : [port.type, port.code];
    new VpcSecurityGroupIngressRule(this, id, {
      securityGroupId: sg.id,
      cidrIpv4: cidr,
      ipProtocol: protocol,
      fromPort: from,
      toPort: to,
      description,
    });
    this.declared.push({ direction: "ingress", group: this.nameOf(sg), protocol, fromPort: from, toPort: to, peer: cidr, description });
  }

  /**
   * Egress of a node group: anything inside the VPC (etcd, kubelets, admission webhooks and
   * aggregated APIs in pods, the VPC resolver), and HTTP(S) to the internet for AWS APIs and package
   * mirrors. Time sync (169.254.169.123) is link-local and not subject to security groups.
   */
  private egressVpcAndHttps(prefix: string, sg: SecurityGroup, vpcCidr: string, who: string): void {
    new VpcSecurityGroupEgressRule(this, `${prefix}EgressVpc`, {
      securityGroupId: sg.id,
      cidrIpv4: vpcCidr,
      ipProtocol: "-1",
      description: `${who} to anything inside the VPC (etcd, kubelets, webhooks, DNS)`,
    });
    this.declared.push({ direction: "egress", group: this.nameOf(sg), protocol: "-1", peer: vpcCidr, description: `${who} to the VPC` });
    const isDefault = this.internetEgress.length === 1 && this.internetEgress[0] === "0.0.0.0/0";
    this.internetEgress.forEach((peer, i) => {
      for (const port of [443, 80]) {
        // The default keeps its original ids (construct ids are public API).
        new VpcSecurityGroupEgressRule(this, isDefault ? `${prefix}EgressInternet${port}` : `${prefix}EgressAllowed${i}Port${port}`, {
          securityGroupId: sg.id,
          ...(peer.startsWith("pl-") ? { prefixListId: peer } : { cidrIpv4: peer }),
          ipProtocol: "tcp",
          fromPort: port,
          toPort: port,
          description: `${who} to AWS APIs and package mirrors over ${port === 443 ? "HTTPS" : "HTTP (signed apt repositories)"}${isDefault ? "" : ` (allow-listed ${peer})`}`,
        });
        this.declared.push({ direction: "egress", group: this.nameOf(sg), protocol: "tcp", fromPort: port, toPort: port, peer, description: `${who} to the internet on ${port}` });
      }
    });
  }

  /**
   * HTTPS egress from the API server and etcd groups to a managed prefix list, e.g. the S3 gateway
   * endpoint's (see `NodeVpcEndpoints.s3PrefixListId`).
   * @param id construct id suffix of the two rules
   */
  public allowHttpsToPrefixList(id: string, prefixListId: string, description: string): void {
    for (const [prefix, sg, who] of [["Api", this.apiServer, "API servers"], ["Etcd", this.etcd, "etcd members"]] as const) {
      new VpcSecurityGroupEgressRule(this, `${prefix}EgressTo${id}`, {
        securityGroupId: sg.id,
        prefixListId,
        ipProtocol: "tcp",
        fromPort: 443,
        toPort: 443,
        description: `${who}: ${description}`,
      });
      this.declared.push({ direction: "egress", group: this.nameOf(sg), protocol: "tcp", fromPort: 443, toPort: 443, peer: `prefix-list:${id}`, description });
    }
  }
}

/** Validates `internetEgress`: IPv4 blocks or prefix list ids, each once. */
function checkInternetEgress(list: readonly string[] | undefined): readonly string[] {
  if (list === undefined) return ["0.0.0.0/0"];
  if (!Array.isArray(list)) {
    throw new ConfigError("internetEgress", list, "must be a list of IPv4 blocks or prefix list ids", 'pass e.g. ["0.0.0.0/0"] (the default), ["pl-0123456789abcdef0"] or [] for none');
  }
  list.forEach((peer, i) => {
    if (typeof peer !== "string") {
      throw new ConfigError(`internetEgress[${i}]`, peer, "is not a string", 'pass an IPv4 block such as "203.0.113.0/24" or a prefix list id "pl-…"');
    }
    if (isUnresolved(peer)) return;
    if (peer.startsWith("pl-")) {
      if (!/^pl-[0-9a-f]{8,17}$/.test(peer)) {
        throw new ConfigError(`internetEgress[${i}]`, peer, "is not a managed prefix list id", 'pass an id like "pl-0123456789abcdef0"');
      }
      return;
    }
    parseIpv4Cidr(`internetEgress[${i}]`, peer);
  });
  if (new Set(list).size !== list.length) {
    throw new ConfigError("internetEgress", list, "lists a destination twice", "list each destination once");
  }
  return [...list];
}
