import { Construct } from "constructs";
import { ClusterRoleBindingV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-binding-v1";
import { ClusterRoleV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-v1";
import { ConfigError } from "../errors";
import { CLUSTER_ADMINS_GROUP } from "../pki/spec";
import { NODE_BOOTSTRAP_GROUP } from "./bootstrap-token";

/** API group of RBAC objects and of User / Group subjects. */
export const RBAC_API_GROUP = "rbac.authorization.k8s.io";
/** The group of every node's kubelet identity. */
export const NODES_GROUP = "system:nodes";

/** The names kubeadm gives its join RBAC (kept identical, so kubeadm tooling recognises them). */
export const KUBEADM_RBAC = {
  /** ClusterRoleBinding: bootstrap tokens may create node CSRs. */
  kubeletBootstrap: "kubeadm:kubelet-bootstrap",
  /** ClusterRoleBinding: the csrapprover approves bootstrap tokens' node client CSRs. */
  nodeAutoapproveBootstrap: "kubeadm:node-autoapprove-bootstrap",
  /** ClusterRoleBinding: the csrapprover approves nodes' renewals of their own client certificates. */
  nodeAutoapproveCertificateRotation: "kubeadm:node-autoapprove-certificate-rotation",
  /** ClusterRole and binding: bootstrap tokens may get nodes (kubeadm join checks for a name clash). */
  getNodes: "kubeadm:get-nodes",
  /** ClusterRoleBinding: the cluster-admins group is cluster-admin. */
  clusterAdmins: "kubeadm:cluster-admins",
} as const;

/** Built-in cluster roles the bindings refer to (created by the API server's RBAC bootstrap policy). */
export const BUILTIN_CLUSTER_ROLES = {
  /** May create and read CSRs: bound to bootstrap-token groups so a joining kubelet can request its client certificate. */
  nodeBootstrapper: "system:node-bootstrapper",
  /** Lets the csrapproving controller auto-approve a bootstrap token's first node client CSR. */
  nodeClient: "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
  /** Lets the csrapproving controller auto-approve a node's renewal of its own client certificate. */
  selfNodeClient: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
  /** Every right on every resource: bound to `kubeadm:cluster-admins` and the configured admin groups. */
  clusterAdmin: "cluster-admin",
} as const;

/** Label on every object this library creates in the cluster. */
export const MANAGED_BY_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/managed-by": "terraform" };

/** Props of {@link NodeJoinRbac}. */
export interface NodeJoinRbacProps {
  /**
   * The groups bootstrap tokens authenticate as.
   * @default ["system:bootstrappers:kubeadm:default-node-token"]
   */
  readonly bootstrapGroups?: readonly string[];
}

/**
 * The RBAC kubeadm creates so worker nodes can join with a bootstrap token: post a CSR, have it
 * approved automatically, renew their own client certificates, and look up nodes.
 */
export class NodeJoinRbac extends Construct {
  constructor(scope: Construct, id: string, props: NodeJoinRbacProps = {}) {
    super(scope, id);
    const bootstrapGroups = props.bootstrapGroups ?? [NODE_BOOTSTRAP_GROUP];
    clusterRoleBinding(this, "KubeletBootstrap", KUBEADM_RBAC.kubeletBootstrap, BUILTIN_CLUSTER_ROLES.nodeBootstrapper, bootstrapGroups);
    clusterRoleBinding(this, "NodeAutoapproveBootstrap", KUBEADM_RBAC.nodeAutoapproveBootstrap, BUILTIN_CLUSTER_ROLES.nodeClient, bootstrapGroups);
    clusterRoleBinding(this, "NodeAutoapproveRotation", KUBEADM_RBAC.nodeAutoapproveCertificateRotation, BUILTIN_CLUSTER_ROLES.selfNodeClient, [NODES_GROUP]);
    const getNodes = new ClusterRoleV1(this, "GetNodesRole", {
      metadata: { name: KUBEADM_RBAC.getNodes, labels: { ...MANAGED_BY_LABELS } },
      rule: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }],
    });
    clusterRoleBinding(this, "GetNodes", KUBEADM_RBAC.getNodes, getNodes.metadata.name, bootstrapGroups);
  }
}

/** Props of {@link ClusterAdminBindings}. */
export interface ClusterAdminBindingsProps {
  /**
   * Groups of the platform team that get cluster-admin, bound by `platform:cluster-admins`.
   * @default - none
   */
  readonly platformAdminGroups?: readonly string[];
}

/**
 * `kubeadm:cluster-admins` → cluster-admin, as kubeadm creates it: the admin certificate's
 * organization is `kubeadm:cluster-admins` (not `system:masters`, which RBAC cannot revoke), so
 * without this binding the admin kubeconfig has no rights. Plus, optionally, the platform team's
 * groups (e.g. from an OIDC issuer).
 */
export class ClusterAdminBindings extends Construct {
  /** The `kubeadm:cluster-admins` binding. */
  public readonly clusterAdmins: ClusterRoleBindingV1;
  /** The platform team's binding, when groups are given. */
  public readonly platformAdmins?: ClusterRoleBindingV1;

  constructor(scope: Construct, id: string, props: ClusterAdminBindingsProps = {}) {
    super(scope, id);
    const groups = props.platformAdminGroups ?? [];
    groups.forEach((g, i) => {
      if (typeof g !== "string" || g.trim() !== g || g.length === 0 || g.length > 253) {
        throw new ConfigError(`platformAdminGroups[${i}]`, g, "is not a group name (1 to 253 characters, no surrounding white space)", "pass the group exactly as your identity provider sends it");
      }
      if (g === "system:masters" || g === CLUSTER_ADMINS_GROUP) {
        throw new ConfigError(`platformAdminGroups[${i}]`, g, `is already all-powerful (${g === "system:masters" ? "system:masters bypasses RBAC" : "bound by kubeadm:cluster-admins"})`, "remove it and list your platform team's own group");
      }
    });
    if (new Set(groups).size !== groups.length) {
      throw new ConfigError("platformAdminGroups", groups, "lists a group twice", "list each group once");
    }
    this.clusterAdmins = clusterRoleBinding(this, "KubeadmClusterAdmins", KUBEADM_RBAC.clusterAdmins, BUILTIN_CLUSTER_ROLES.clusterAdmin, [CLUSTER_ADMINS_GROUP]);
    if (groups.length > 0) {
      this.platformAdmins = clusterRoleBinding(this, "PlatformAdmins", "platform:cluster-admins", BUILTIN_CLUSTER_ROLES.clusterAdmin, groups);
    }
  }
}

/** A ClusterRoleBinding of `clusterRole` to groups. */
export function clusterRoleBinding(scope: Construct, id: string, name: string, clusterRole: string, groups: readonly string[]): ClusterRoleBindingV1 {
  return new ClusterRoleBindingV1(scope, id, {
    metadata: { name, labels: { ...MANAGED_BY_LABELS } },
    roleRef: { apiGroup: RBAC_API_GROUP, kind: "ClusterRole", name: clusterRole },
    subject: groups.map((group) => ({ apiGroup: RBAC_API_GROUP, kind: "Group", name: group })),
  });
}
