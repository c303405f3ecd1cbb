import { Construct } from "constructs";
import { Fn, TerraformStack } from "../core";
import { ConfigError } from "../errors";
import { checkInteger, isUnresolved } from "../validate";
import { DEFAULT_KUBERNETES_VERSION, IControlPlaneAccess, checkAccess } from "./access";
import { CoreDnsAddon, KubeProxyAddon } from "./addons";
import { BootstrapToken, BootstrapTokenProps, NODE_BOOTSTRAP_GROUP } from "./bootstrap-token";
import { ClusterInfo } from "./cluster-info";
import { joinCommand, renderBootstrapKubeconfig } from "./join";
import { DEFAULT_IMAGE_REPOSITORY, checkImageRepository } from "../bootstrap/kubernetes/binaries";
import { clusterDnsIp, coreDnsTagFor, renderClusterConfiguration, renderKubeletConfiguration } from "./kubeadm-config";
import { KubeletServingApprover } from "./kubelet-serving-approver";
import { NodeJoinConfiguration } from "./node-config";
import { PriorityClassSpec, PriorityClasses } from "./priority-classes";
import { ClusterAdminBindings, NodeJoinRbac } from "./rbac";

/** The addons `kubeadm init` would install; each can be left out for a replacement of your own. */
export interface ClusterAddonsOptions {
  /**
   * kube-proxy (DaemonSet, `registry.k8s.io/kube-proxy:v<kubernetes version>`). Leave it out for a
   * CNI that replaces it (e.g. Cilium's kube-proxy replacement).
   * @default true
   */
  readonly kubeProxy?: boolean;
  /**
   * CoreDNS (Deployment and the `kube-dns` Service at the 10th address of the service CIDR).
   * @default true
   */
  readonly coreDns?: boolean;
  /**
   * CoreDNS replicas (spread across nodes, at most one down at a time).
   * @default 2
   */
  readonly coreDnsReplicas?: number;
  /**
   * CoreDNS image tag.
   * @default - kubeadm's CoreDNSVersion for the cluster's Kubernetes minor (v1.12.0 for 1.33)
   */
  readonly coreDnsVersion?: string;
  /**
   * Registry of the kube-proxy and CoreDNS images (kubeadm's `imageRepository`), e.g. a mirror.
   * @default - the control plane's `imageRepository` (`access.imageRepository`), else "registry.k8s.io"
   */
  readonly imageRepository?: string;
}

/** How the API server can verify worker kubelets' serving certificates. */
export interface KubeletServingCertificatesOptions {
  /**
   * Deploy the serving-certificate approver (postfinance/kubelet-csr-approver). Workers always
   * request CA-signed serving certificates (`serverTLSBootstrap: true`); without an approver their
   * CSRs stay Pending until you approve them (`kubectl certificate approve`) or run your own.
   * @default true
   */
  readonly approver?: boolean;
  /**
   * Regex every DNS name in a serving certificate must match.
   * @default DEFAULT_AWS_NODE_NAME_REGEX (EC2 private DNS names)
   */
  readonly nodeNameRegex?: string;
  /**
   * IPv4 blocks every IP address in a serving certificate must lie in.
   * @default - [access.vpcCidr]
   */
  readonly nodeIpPrefixes?: readonly string[];
  /**
   * Container image of the kubelet serving-certificate approver (postfinance/kubelet-csr-approver);
   * pin a digest or a mirrored copy in air-gapped clusters.
   * @default DEFAULT_KUBELET_SERVING_APPROVER_IMAGE ("ghcr.io/postfinance/kubelet-csr-approver:v1.2.15")
   */
  readonly approverImage?: string;
}

/** What the cluster objects are configured with, besides the cluster they go into. */
export interface ClusterObjectsOptions {
  /**
   * The node bootstrap token.
   * @default - 24 h tokens, replaced by a deploy in their second half
   */
  readonly bootstrapToken?: BootstrapTokenProps;
  /**
   * Groups of the platform team bound to cluster-admin (`platform:cluster-admins`). The
   * `kubeadm:cluster-admins` binding of the admin certificate is always created.
   * @default - none
   */
  readonly platformAdminGroups?: readonly string[];
  /**
   * PriorityClasses for platform workloads (an empty list creates none).
   * @default DEFAULT_PRIORITY_CLASSES (platform-critical, platform-high)
   */
  readonly priorityClasses?: readonly PriorityClassSpec[];
  /**
   * Create kubeadm's Role and RoleBinding letting anonymous read cluster-info (for
   * `kubeadm join --discovery-token`). Inert unless the API servers admit anonymous requests on
   * that path, which this library's do not: nodes join with a discovery file carrying the token.
   * @default false
   */
  readonly allowAnonymousClusterInfo?: boolean;
  /**
   * kube-proxy and CoreDNS.
   * @default - both, with kubeadm's images for the cluster's version
   */
  readonly addons?: ClusterAddonsOptions;
  /**
   * Kubelet serving certificates of workers.
   * @default - CA-signed through CSRs, approved by kubelet-csr-approver for EC2 names in the VPC block
   */
  readonly kubeletServingCertificates?: KubeletServingCertificatesOptions;
}

/** Props of {@link ClusterObjects}. */
export interface ClusterObjectsProps extends ClusterObjectsOptions {
  /** The cluster: endpoint nodes join through and its CA. */
  readonly access: IControlPlaneAccess;
}

/**
 * The in-cluster objects Terraform owns for a self-managed control plane: the node bootstrap
 * token, kubeadm's join RBAC, the `cluster-info` ConfigMap, what `kubeadm join` reads after
 * discovery (`kubeadm-config`, `kubelet-config` and their Roles), the kube-proxy and CoreDNS addons
 * `kubeadm init` would install, the kubelet serving-certificate approver, the cluster-admin
 * bindings and platform PriorityClasses. Node-side work (TLS bootstrap, CSRs) stays with the
 * kubelet and kubeadm.
 *
 * Needs a kubernetes provider in its stack that points at the cluster with values known at plan
 * time: use {@link ClusterObjectsStack}, which configures one from the control plane's stack.
 */
export class ClusterObjects extends Construct {
  /** The kubeadm bootstrap token worker nodes join with (rotated by `bootstrapToken.rotation`). */
  public readonly bootstrapToken: BootstrapToken;
  /** The `cluster-info` ConfigMap in kube-public and its anonymous-read Role: discovery for `kubeadm join`. */
  public readonly clusterInfo: ClusterInfo;
  /** The ClusterRoleBindings to `cluster-admin`: `kubeadm:cluster-admins`, plus the configured admin groups. */
  public readonly adminBindings: ClusterAdminBindings;
  /** The platform PriorityClasses (`platform-critical`, `platform-high` unless configured otherwise). */
  public readonly priorityClasses: PriorityClasses;
  /** API URL nodes join through. */
  public readonly joinEndpoint: string;
  /** The Kubernetes CA certificate (PEM), not sensitive. */
  public readonly caCertPem: string;
  /** What `kubeadm join` reads after discovery: `kubeadm-config`, `kubelet-config` and their Roles. */
  public readonly nodeJoinConfiguration: NodeJoinConfiguration;
  /** kube-proxy, unless left out. */
  public readonly kubeProxy?: KubeProxyAddon;
  /** CoreDNS, unless left out. */
  public readonly coreDns?: CoreDnsAddon;
  /** The kubelet serving-certificate approver, unless left out. */
  public readonly kubeletServingApprover?: KubeletServingApprover;
  /** The cluster DNS address (10th of the service CIDR). */
  public readonly clusterDnsIp: string;
  /** The discovery kubeconfig for `kubeadm join --discovery-file` (sensitive: carries the bootstrap token). */
  public readonly discoveryKubeconfig: string;
  /** The kubelet's bootstrap kubeconfig (sensitive: holds the token). */
  public readonly bootstrapKubeconfig: string;
  /** The `kubeadm join` command line (run after writing {@link discoveryKubeconfig} to its file). */
  public readonly joinCommand: string;

  constructor(scope: Construct, id: string, props: ClusterObjectsProps) {
    super(scope, id);
    checkAccess("access", props.access);
    if (props.access.source !== undefined && TerraformStack.of(props.access.source) === TerraformStack.of(this)) {
      throw new ConfigError(
        "access",
        props.access.source.node.path,
        "is in the same stack as the cluster objects: the endpoint and CA are unknown until that stack is applied, and the kubernetes provider silently falls back to localhost",
        "put the cluster objects in their own stack (ClusterObjectsStack); cdktf passes the values through terraform_remote_state",
      );
    }
    // Endpoint and CA are public by design (cluster-info publishes them); values from another stack
    // arrive marked sensitive, which would hide them in plans and forbid non-sensitive outputs.
    this.joinEndpoint = revealed(props.access.internalApiUrl);
    this.caCertPem = revealed(props.access.caCertPem);
    const caDataBase64 = Fn.base64encode(this.caCertPem);

    this.bootstrapToken = new BootstrapToken(this, "BootstrapToken", props.bootstrapToken);
    new NodeJoinRbac(this, "NodeJoinRbac", { bootstrapGroups: props.bootstrapToken?.extraGroups ?? [NODE_BOOTSTRAP_GROUP] });
    this.clusterInfo = new ClusterInfo(this, "ClusterInfo", {
      server: this.joinEndpoint,
      caDataBase64,
      allowAnonymousRead: props.allowAnonymousClusterInfo,
    });
    this.adminBindings = new ClusterAdminBindings(this, "AdminBindings", { platformAdminGroups: props.platformAdminGroups });
    this.priorityClasses = new PriorityClasses(this, "PriorityClasses", { classes: props.priorityClasses });

    const access = props.access;
    const addons = props.addons ?? {};
    const kubernetesVersion = access.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION;
    const serviceCidr = access.serviceCidr ?? "10.96.0.0/12";
    const podCidr = access.podCidr ?? "10.244.0.0/16";
    const clusterDomain = access.clusterDomain ?? "cluster.local";
    checkImageRepository("addons.imageRepository", addons.imageRepository);
    checkImageRepository("access.imageRepository", access.imageRepository);
    const imageRepository = addons.imageRepository ?? access.imageRepository ?? DEFAULT_IMAGE_REPOSITORY;
    for (const key of ["kubernetesVersion", "serviceCidr"] as const) {
      if (isUnresolved(access[key])) {
        throw new ConfigError(`access.${key}`, access[key], "is only known after apply, but the cluster objects derive image tags and the DNS address from it", "pass the literal value (HaControlPlane exposes it as a plain string)");
      }
    }
    const kubeProxyOn = addons.kubeProxy ?? true;
    const coreDnsOn = addons.coreDns ?? true;
    const replicas = addons.coreDnsReplicas ?? 2;
    checkInteger("addons.coreDnsReplicas", replicas, 2, 100, "use 2 or more so a node loss keeps DNS up");
    this.clusterDnsIp = clusterDnsIp(serviceCidr);
    const bootstrapGroups = props.bootstrapToken?.extraGroups ?? [NODE_BOOTSTRAP_GROUP];
    const endpointHost = isUnresolved(this.joinEndpoint) ? (Fn.replace(this.joinEndpoint, "https://", "") as string) : this.joinEndpoint.replace(/^https:\/\//, "").replace(/\/$/, "");

    this.nodeJoinConfiguration = new NodeJoinConfiguration(this, "NodeJoinConfiguration", {
      clusterConfiguration: renderClusterConfiguration({
        clusterName: access.clusterName,
        kubernetesVersion,
        controlPlaneEndpoint: endpointHost,
        serviceCidr,
        podCidr,
        clusterDomain,
        imageRepository,
        kubeProxy: kubeProxyOn,
        coreDns: coreDnsOn,
      }),
      kubeletConfiguration: renderKubeletConfiguration({ clusterDnsIp: this.clusterDnsIp, clusterDomain, serverTlsBootstrap: true }),
      bootstrapGroups,
    });
    if (kubeProxyOn) {
      this.kubeProxy = new KubeProxyAddon(this, "KubeProxy", { imageRepository, kubernetesVersion, server: this.joinEndpoint, podCidr, bootstrapGroups });
    }
    if (coreDnsOn) {
      this.coreDns = new CoreDnsAddon(this, "CoreDns", {
        imageRepository,
        imageTag: addons.coreDnsVersion ?? coreDnsTagFor(kubernetesVersion),
        clusterDnsIp: this.clusterDnsIp,
        clusterDomain,
        replicas,
      });
    }
    const serving = props.kubeletServingCertificates ?? {};
    if (serving.approver ?? true) {
      const prefixes = serving.nodeIpPrefixes ?? (access.vpcCidr !== undefined ? [access.vpcCidr] : undefined);
      if (prefixes === undefined) {
        throw new ConfigError(
          "kubeletServingCertificates.nodeIpPrefixes",
          undefined,
          "the access values carry no vpcCidr, and the approver must know which addresses a kubelet serving certificate may name",
          "pass the VPC block (ControlPlaneAccess.fromControlPlane fills vpcCidr), or set kubeletServingCertificates.approver to false and approve kubelet-serving CSRs yourself",
        );
      }
      this.kubeletServingApprover = new KubeletServingApprover(this, "KubeletServingApprover", {
        nodeNameRegex: serving.nodeNameRegex,
        nodeIpPrefixes: prefixes,
        image: serving.approverImage,
      });
    }

    this.bootstrapKubeconfig = renderBootstrapKubeconfig({
      clusterName: props.access.clusterName,
      server: this.joinEndpoint,
      caDataBase64,
      token: this.bootstrapToken.token,
    });
    // kubeadm reads cluster-info with the file's credentials: anonymous reads get 401 here (see joinCommand).
    this.discoveryKubeconfig = this.bootstrapKubeconfig;
    this.joinCommand = joinCommand();
  }
}

/** `nonsensitive(value)` for a Terraform value; a literal is never sensitive and stays as it is. */
function revealed(value: string): string {
  return isUnresolved(value) ? (Fn.nonsensitive(value) as string) : value;
}
