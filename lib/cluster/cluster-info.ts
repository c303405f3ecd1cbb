import { Construct } from "constructs";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { ConfigMapV1Data } from "@cdktf/provider-kubernetes/lib/config-map-v1-data";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { MANAGED_BY_LABELS, RBAC_API_GROUP } from "./rbac";
import { renderDiscoveryKubeconfig } from "./join";

/** Name and namespace of the cluster-info ConfigMap (fixed by the bootstrap signer). */
export const CLUSTER_INFO = {
  /** The ConfigMap's name, `cluster-info`: kubeadm join's discovery reads it by this name. */
  name: "cluster-info",
  /** Its namespace, `kube-public`: readable without authentication, so a joining node can fetch it. */
  namespace: "kube-public",
} as const;
/** kubeadm's name of the Role (and RoleBinding) letting anonymous read cluster-info. */
export const CLUSTER_INFO_READER_ROLE = "kubeadm:bootstrap-signer-clusterinfo";
/** Field manager owning the `kubeconfig` key. */
export const FIELD_MANAGER = "cdktf-ha-control-plane";

/** Props of {@link ClusterInfo}. */
export interface ClusterInfoProps {
  /** API URL nodes join through (the internal load balancer). */
  readonly server: string;
  /** Base64 of the Kubernetes CA certificate PEM. */
  readonly caDataBase64: string;
  /**
   * Also create kubeadm's Role and RoleBinding letting `system:anonymous` read cluster-info, for
   * `kubeadm join --discovery-token`. Useful only if the API servers' authentication configuration
   * admits anonymous requests on `/api/v1/namespaces/kube-public/configmaps/cluster-info`; this
   * library's admits them on `/livez`, `/readyz` and `/healthz` only, so the binding would be inert.
   * @default false
   */
  readonly allowAnonymousRead?: boolean;
}

/**
 * The `cluster-info` ConfigMap in kube-public: the discovery kubeconfig (load-balancer endpoint and
 * CA, kubeadm's format) which the controller-manager's bootstrap signer signs with every signing
 * token, adding a `jws-kubeconfig-<token id>` key per token.
 *
 * Those keys belong to the signer, so Terraform must not own the whole `data` map (every plan
 * would remove them): the ConfigMap is created with its data ignored, and the `kubeconfig` key is
 * owned through server-side apply by a `kubernetes_config_map_v1_data` (field manager
 * {@link FIELD_MANAGER}), so CA or endpoint changes still reach it.
 */
export class ClusterInfo extends Construct {
  /** The discovery kubeconfig. */
  public readonly kubeconfig: string;
  /** The `cluster-info` ConfigMap in kube-public; the bootstrap signer adds a `jws-kubeconfig-<id>` signature per token. */
  public readonly configMap: ConfigMapV1;

  constructor(scope: Construct, id: string, props: ClusterInfoProps) {
    super(scope, id);
    this.kubeconfig = renderDiscoveryKubeconfig({ server: props.server, caDataBase64: props.caDataBase64 });
    this.configMap = new ConfigMapV1(this, "ConfigMap", {
      metadata: { name: CLUSTER_INFO.name, namespace: CLUSTER_INFO.namespace, labels: { ...MANAGED_BY_LABELS } },
      lifecycle: { ignoreChanges: ["data"] },
    });
    new ConfigMapV1Data(this, "Kubeconfig", {
      metadata: { name: this.configMap.metadata.name, namespace: CLUSTER_INFO.namespace },
      data: { kubeconfig: this.kubeconfig },
      fieldManager: FIELD_MANAGER,
      force: true,
    });
    if (props.allowAnonymousRead ?? false) {
      const role = new RoleV1(this, "AnonymousReaderRole", {
        metadata: { name: CLUSTER_INFO_READER_ROLE, namespace: CLUSTER_INFO.namespace, labels: { ...MANAGED_BY_LABELS } },
        rule: [{ apiGroups: [""], resources: ["configmaps"], resourceNames: [CLUSTER_INFO.name], verbs: ["get"] }],
      });
      new RoleBindingV1(this, "AnonymousReader", {
        metadata: { name: CLUSTER_INFO_READER_ROLE, namespace: CLUSTER_INFO.namespace, labels: { ...MANAGED_BY_LABELS } },
        roleRef: { apiGroup: RBAC_API_GROUP, kind: "Role", name: role.metadata.name },
        subject: [{ apiGroup: RBAC_API_GROUP, kind: "User", name: "system:anonymous" }],
      });
    }
  }
}
