import { Construct } from "constructs";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { KUBEADM_JOIN_OBJECTS } from "./kubeadm-config";
import { MANAGED_BY_LABELS, NODES_GROUP, RBAC_API_GROUP } from "./rbac";

/** Namespace of kubeadm's node configuration objects. */
export const KUBE_SYSTEM = "kube-system";

/**
 * A Role allowing `get` on one ConfigMap of `namespace`, and its RoleBinding to `groups` (both named
 * `name`), as kubeadm creates them for the configuration joining nodes read.
 */
export function configMapReader(
  scope: Construct,
  id: string,
  name: string,
  namespace: string,
  configMap: string,
  groups: readonly string[],
): {
  /** The Role (`<id>Role`) granting `get` on that one ConfigMap. */
  role: RoleV1;
  /** The RoleBinding (`<id>Binding`) of the Role to `groups`. */
  binding: RoleBindingV1;
} {
  const role = new RoleV1(scope, `${id}Role`, {
    metadata: { name, namespace, labels: { ...MANAGED_BY_LABELS } },
    rule: [{ apiGroups: [""], resources: ["configmaps"], resourceNames: [configMap], verbs: ["get"] }],
  });
  const binding = new RoleBindingV1(scope, `${id}Binding`, {
    metadata: { name, namespace, labels: { ...MANAGED_BY_LABELS } },
    roleRef: { apiGroup: RBAC_API_GROUP, kind: "Role", name: role.metadata.name },
    subject: groups.map((group) => ({ apiGroup: RBAC_API_GROUP, kind: "Group", name: group })),
  });
  return { role, binding };
}

/** Props of {@link NodeJoinConfiguration}. */
export interface NodeJoinConfigurationProps {
  /** The ClusterConfiguration document (see `renderClusterConfiguration`). */
  readonly clusterConfiguration: string;
  /** The workers' KubeletConfiguration document (see `renderKubeletConfiguration`). */
  readonly kubeletConfiguration: string;
  /** The groups bootstrap tokens authenticate as. */
  readonly bootstrapGroups: readonly string[];
}

/**
 * What `kubeadm join` reads once discovery succeeded, as kubeadm's `upload-config` phase creates it:
 * the `kubeadm-config` ConfigMap (ClusterConfiguration) and the `kubelet-config` ConfigMap
 * (KubeletConfiguration) in kube-system, each readable by bootstrap tokens and nodes through the
 * Roles `kubeadm:nodes-kubeadm-config` and `kubeadm:kubelet-config`. Without them a join stops at
 * preflight ("unable to fetch the kubeadm-config ConfigMap").
 */
export class NodeJoinConfiguration extends Construct {
  /** The `kubeadm-config` ConfigMap (key `ClusterConfiguration`) joining nodes read after discovery. */
  public readonly kubeadmConfig: ConfigMapV1;
  /** The `kubelet-config` ConfigMap (key `kubelet`): the KubeletConfiguration every joining node writes to disk. */
  public readonly kubeletConfig: ConfigMapV1;

  constructor(scope: Construct, id: string, props: NodeJoinConfigurationProps) {
    super(scope, id);
    const readers = [...props.bootstrapGroups, NODES_GROUP];
    this.kubeadmConfig = new ConfigMapV1(this, "KubeadmConfig", {
      metadata: { name: KUBEADM_JOIN_OBJECTS.kubeadmConfigMap, namespace: KUBE_SYSTEM, labels: { ...MANAGED_BY_LABELS } },
      data: { [KUBEADM_JOIN_OBJECTS.clusterConfigurationKey]: props.clusterConfiguration },
    });
    configMapReader(this, "KubeadmConfigReader", KUBEADM_JOIN_OBJECTS.kubeadmConfigRole, KUBE_SYSTEM, KUBEADM_JOIN_OBJECTS.kubeadmConfigMap, readers);
    this.kubeletConfig = new ConfigMapV1(this, "KubeletConfig", {
      metadata: { name: KUBEADM_JOIN_OBJECTS.kubeletConfigMap, namespace: KUBE_SYSTEM, labels: { ...MANAGED_BY_LABELS } },
      data: { [KUBEADM_JOIN_OBJECTS.kubeletConfigKey]: props.kubeletConfiguration },
    });
    configMapReader(this, "KubeletConfigReader", KUBEADM_JOIN_OBJECTS.kubeletConfigRole, KUBE_SYSTEM, KUBEADM_JOIN_OBJECTS.kubeletConfigMap, readers);
  }
}
