import { Construct } from "constructs";
import { Fn, TerraformStack } from "../core";
import { ConfigError } from "../errors";
import { isUnresolved } from "../validate";
import { IControlPlaneAccess, checkAccess } from "./access";
import { BootstrapToken, BootstrapTokenProps, NODE_BOOTSTRAP_GROUP } from "./bootstrap-token";
import { ClusterInfo } from "./cluster-info";
import { joinCommand, renderBootstrapKubeconfig } from "./join";
import { PriorityClassSpec, PriorityClasses } from "./priority-classes";
import { ClusterAdminBindings, NodeJoinRbac } from "./rbac";

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
   * that path, which this library's do not: nodes join with the discovery file instead.
   * @default false
   */
  readonly allowAnonymousClusterInfo?: boolean;
}

/** Props of {@link ClusterObjects}. */
export interface ClusterObjectsProps extends ClusterObjectsOptions {
  /** The cluster: endpoint nodes join through and its CA. */
  readonly access: IControlPlaneAccess;
}

/**
 * The in-cluster objects Terraform owns for a self-managed control plane: the node bootstrap
 * token, kubeadm's join RBAC, the `cluster-info` ConfigMap, the cluster-admin bindings and
 * platform PriorityClasses. Node-side work (TLS bootstrap, CSRs, kubelet configuration) stays with
 * the kubelet and kubeadm.
 *
 * Needs a kubernetes provider in its stack that points at the cluster with values known at plan
 * time: use {@link ClusterObjectsStack}, which configures one from the control plane's stack.
 */
export class ClusterObjects extends Construct {
  /** The bootstrap token. */
  public readonly bootstrapToken: BootstrapToken;
  /** cluster-info. */
  public readonly clusterInfo: ClusterInfo;
  /** Cluster-admin bindings. */
  public readonly adminBindings: ClusterAdminBindings;
  /** Priority classes. */
  public readonly priorityClasses: PriorityClasses;
  /** API URL nodes join through. */
  public readonly joinEndpoint: string;
  /** The Kubernetes CA certificate (PEM), not sensitive. */
  public readonly caCertPem: string;
  /** The discovery kubeconfig (`kubeadm join --discovery-file`), not sensitive. */
  public readonly discoveryKubeconfig: string;
  /** The kubelet's bootstrap kubeconfig (sensitive: holds the token). */
  public readonly bootstrapKubeconfig: string;
  /** The `kubeadm join` command line (sensitive: holds the token). */
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

    this.discoveryKubeconfig = this.clusterInfo.kubeconfig;
    this.bootstrapKubeconfig = renderBootstrapKubeconfig({
      clusterName: props.access.clusterName,
      server: this.joinEndpoint,
      caDataBase64,
      token: this.bootstrapToken.token,
    });
    this.joinCommand = joinCommand(this.bootstrapToken.token);
  }
}

/** `nonsensitive(value)` for a Terraform value; a literal is never sensitive and stays as it is. */
function revealed(value: string): string {
  return isUnresolved(value) ? (Fn.nonsensitive(value) as string) : value;
}
