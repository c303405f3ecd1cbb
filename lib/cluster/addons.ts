import { Construct } from "constructs";
import { ClusterRoleBindingV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-binding-v1";
import { ClusterRoleV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-v1";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { DaemonSetV1 } from "@cdktf/provider-kubernetes/lib/daemon-set-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { KUBEADM_JOIN_OBJECTS, kubernetesTag, renderCorefile, renderKubeProxyConfiguration, renderKubeProxyKubeconfig } from "./kubeadm-config";
import { KUBE_SYSTEM, configMapReader } from "./node-config";
import { DEFAULT_IMAGE_REPOSITORY } from "../bootstrap/kubernetes/binaries";
import { MANAGED_BY_LABELS, RBAC_API_GROUP } from "./rbac";

/** The names kubeadm 1.33's addon phase gives kube-proxy's and CoreDNS's objects. */
export const KUBEADM_ADDON_NAMES = {
  /** kube-proxy's ServiceAccount, ConfigMap, DaemonSet, Role and RoleBinding (all `kube-proxy` in kube-system). */
  kubeProxy: "kube-proxy",
  /** ClusterRoleBinding of kube-proxy's service account to the built-in `system:node-proxier`. */
  nodeProxierBinding: "kubeadm:node-proxier",
  /** The built-in ClusterRole kube-proxy is bound to (Kubernetes' bootstrap policy creates it). */
  nodeProxierRole: "system:node-proxier",
  /** CoreDNS's ServiceAccount, ConfigMap (Corefile) and Deployment (`coredns` in kube-system). */
  coreDns: "coredns",
  /** The ClusterRole and ClusterRoleBinding letting CoreDNS list and watch Services, Endpoints, EndpointSlices, Pods and Namespaces. */
  coreDnsRole: "system:coredns",
  /** The DNS Service keeps its historic name, which pods' resolv.conf and tooling expect. */
  dnsService: "kube-dns",
  /** The label kubeadm's DNS objects select on. */
  dnsAppLabel: "kube-dns",
} as const;

const SPEC_LABEL = "k8s-app";

/** Props of {@link KubeProxyAddon}. */
export interface KubeProxyAddonProps {
  /** Image registry (kubeadm's `imageRepository`). */
  readonly imageRepository: string;
  /** Kubernetes version (the image tag is `v<version>`). */
  readonly kubernetesVersion: string;
  /** API URL kube-proxy talks to (the internal load balancer). */
  readonly server: string;
  /** The cluster's pod CIDR (`clusterCIDR` of the KubeProxyConfiguration): how kube-proxy tells pod traffic from external traffic. */
  readonly podCidr: string;
  /** The groups bootstrap tokens authenticate as (may read kube-proxy's ConfigMap during join). */
  readonly bootstrapGroups: readonly string[];
}

/**
 * kube-proxy as kubeadm's addon phase installs it: ServiceAccount `kube-proxy`, ConfigMap
 * `kube-proxy` (KubeProxyConfiguration and an in-cluster kubeconfig), a DaemonSet on every Linux
 * node, the ClusterRoleBinding `kubeadm:node-proxier`, and the Role/RoleBinding `kube-proxy` that
 * lets bootstrap tokens read the ConfigMap during join.
 */
export class KubeProxyAddon extends Construct {
  /** The `kube-proxy` DaemonSet: one pod per Linux node, host network. */
  public readonly daemonSet: DaemonSetV1;
  /** The `kube-proxy` ConfigMap: `config.conf` (KubeProxyConfiguration) and `kubeconfig.conf`. */
  public readonly configMap: ConfigMapV1;

  constructor(scope: Construct, id: string, props: KubeProxyAddonProps) {
    super(scope, id);
    const name = KUBEADM_ADDON_NAMES.kubeProxy;
    const labels = { ...MANAGED_BY_LABELS };
    const sa = new ServiceAccountV1(this, "ServiceAccount", { metadata: { name, namespace: KUBE_SYSTEM, labels } });
    new ClusterRoleBindingV1(this, "NodeProxier", {
      metadata: { name: KUBEADM_ADDON_NAMES.nodeProxierBinding, labels },
      roleRef: { apiGroup: RBAC_API_GROUP, kind: "ClusterRole", name: KUBEADM_ADDON_NAMES.nodeProxierRole },
      subject: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: KUBE_SYSTEM }],
    });
    this.configMap = new ConfigMapV1(this, "ConfigMap", {
      metadata: { name: KUBEADM_JOIN_OBJECTS.kubeProxyConfigMap, namespace: KUBE_SYSTEM, labels: { ...labels, app: name } },
      data: {
        [KUBEADM_JOIN_OBJECTS.kubeProxyKubeconfigKey]: renderKubeProxyKubeconfig(props.server),
        [KUBEADM_JOIN_OBJECTS.kubeProxyConfigKey]: renderKubeProxyConfiguration({ podCidr: props.podCidr }),
      },
    });
    configMapReader(this, "ConfigReader", name, KUBE_SYSTEM, KUBEADM_JOIN_OBJECTS.kubeProxyConfigMap, props.bootstrapGroups);
    const selector = { [SPEC_LABEL]: name };
    this.daemonSet = new DaemonSetV1(this, "DaemonSet", {
      metadata: { name, namespace: KUBE_SYSTEM, labels: { ...labels, ...selector } },
      // Pods become ready only once nodes have joined: a first apply must not wait for them.
      waitForRollout: false,
      spec: {
        selector: { matchLabels: selector },
        strategy: { type: "RollingUpdate" },
        template: {
          metadata: { labels: selector },
          spec: {
            priorityClassName: "system-node-critical",
            hostNetwork: true,
            serviceAccountName: sa.metadata.name,
            nodeSelector: { "kubernetes.io/os": "linux" },
            toleration: [{ key: "CriticalAddonsOnly", operator: "Exists" }, { operator: "Exists" }],
            container: [
              {
                name,
                image: `${props.imageRepository}/kube-proxy:${kubernetesTag(props.kubernetesVersion)}`,
                imagePullPolicy: "IfNotPresent",
                command: ["/usr/local/bin/kube-proxy", `--config=/var/lib/kube-proxy/${KUBEADM_JOIN_OBJECTS.kubeProxyConfigKey}`, "--hostname-override=$(NODE_NAME)"],
                securityContext: { privileged: true },
                env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                volumeMount: [
                  { name: "kube-proxy", mountPath: "/var/lib/kube-proxy" },
                  { name: "xtables-lock", mountPath: "/run/xtables.lock", readOnly: false },
                  { name: "lib-modules", mountPath: "/lib/modules", readOnly: true },
                ],
              },
            ],
            volume: [
              { name: "kube-proxy", configMap: { name: this.configMap.metadata.name } },
              { name: "xtables-lock", hostPath: { path: "/run/xtables.lock", type: "FileOrCreate" } },
              { name: "lib-modules", hostPath: { path: "/lib/modules" } },
            ],
          },
        },
      },
    });
  }
}

/** Props of {@link CoreDnsAddon}. */
export interface CoreDnsAddonProps {
  /** Image registry (kubeadm's `imageRepository`). */
  readonly imageRepository: string;
  /** CoreDNS image tag (`v1.12.0`). */
  readonly imageTag: string;
  /** The cluster DNS Service address (the 10th of the service CIDR). */
  readonly clusterDnsIp: string;
  /** The cluster DNS domain CoreDNS serves, e.g. `cluster.local`. */
  readonly clusterDomain: string;
  /** Replicas, at least 2 so a node loss keeps DNS up. */
  readonly replicas: number;
}

/**
 * CoreDNS as kubeadm's addon phase installs it (ServiceAccount, ClusterRole and binding
 * `system:coredns`, ConfigMap `coredns` with kubeadm's Corefile, Deployment `coredns` with
 * preferred anti-affinity across nodes, Service `kube-dns` at the cluster DNS address), plus a
 * PodDisruptionBudget so a node drain never takes every replica at once.
 */
export class CoreDnsAddon extends Construct {
  /** The `coredns` Deployment (`replicas` pods, guarded by the PodDisruptionBudget). */
  public readonly deployment: DeploymentV1;
  /** The Service `kube-dns`. */
  public readonly service: ServiceV1;

  constructor(scope: Construct, id: string, props: CoreDnsAddonProps) {
    super(scope, id);
    const name = KUBEADM_ADDON_NAMES.coreDns;
    const labels = { ...MANAGED_BY_LABELS };
    const selector = { [SPEC_LABEL]: KUBEADM_ADDON_NAMES.dnsAppLabel };
    const sa = new ServiceAccountV1(this, "ServiceAccount", { metadata: { name, namespace: KUBE_SYSTEM, labels } });
    const role = new ClusterRoleV1(this, "ClusterRole", {
      metadata: { name: KUBEADM_ADDON_NAMES.coreDnsRole, labels },
      rule: [
        { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    });
    new ClusterRoleBindingV1(this, "ClusterRoleBinding", {
      metadata: { name: KUBEADM_ADDON_NAMES.coreDnsRole, labels },
      roleRef: { apiGroup: RBAC_API_GROUP, kind: "ClusterRole", name: role.metadata.name },
      subject: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: KUBE_SYSTEM }],
    });
    const config = new ConfigMapV1(this, "ConfigMap", {
      metadata: { name, namespace: KUBE_SYSTEM, labels },
      data: { Corefile: renderCorefile(props.clusterDomain) },
    });
    this.deployment = new DeploymentV1(this, "Deployment", {
      metadata: { name, namespace: KUBE_SYSTEM, labels: { ...labels, ...selector } },
      // Pods schedule only once workers and a CNI exist: a first apply must not wait for them.
      waitForRollout: false,
      spec: {
        replicas: String(props.replicas),
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "1" } },
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector },
          spec: {
            priorityClassName: "system-cluster-critical",
            serviceAccountName: sa.metadata.name,
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      labelSelector: [{ matchExpressions: [{ key: SPEC_LABEL, operator: "In", values: [KUBEADM_ADDON_NAMES.dnsAppLabel] }] }],
                      topologyKey: "kubernetes.io/hostname",
                    },
                  },
                ],
              },
            },
            toleration: [
              { key: "CriticalAddonsOnly", operator: "Exists" },
              { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" },
            ],
            nodeSelector: { "kubernetes.io/os": "linux" },
            dnsPolicy: "Default",
            container: [
              {
                name,
                // kubeadm's path: registry.k8s.io keeps CoreDNS under coredns/coredns, a mirror
                // (`kubeadm config images list --image-repository`) directly under coredns.
                image: props.imageRepository === DEFAULT_IMAGE_REPOSITORY ? `${props.imageRepository}/coredns/coredns:${props.imageTag}` : `${props.imageRepository}/coredns:${props.imageTag}`,
                imagePullPolicy: "IfNotPresent",
                args: ["-conf", "/etc/coredns/Corefile"],
                resources: { limits: { memory: "170Mi" }, requests: { cpu: "100m", memory: "70Mi" } },
                volumeMount: [{ name: "config-volume", mountPath: "/etc/coredns", readOnly: true }],
                port: [
                  { containerPort: 53, name: "dns", protocol: "UDP" },
                  { containerPort: 53, name: "dns-tcp", protocol: "TCP" },
                  { containerPort: 9153, name: "metrics", protocol: "TCP" },
                  { containerPort: 8080, name: "liveness-probe", protocol: "TCP" },
                  { containerPort: 8181, name: "readiness-probe", protocol: "TCP" },
                ],
                livenessProbe: {
                  httpGet: { path: "/health", port: "liveness-probe", scheme: "HTTP" },
                  initialDelaySeconds: 60,
                  timeoutSeconds: 5,
                  successThreshold: 1,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: "/ready", port: "readiness-probe", scheme: "HTTP" } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] },
                  readOnlyRootFilesystem: true,
                },
              },
            ],
            volume: [{ name: "config-volume", configMap: { name: config.metadata.name, items: [{ key: "Corefile", path: "Corefile" }] } }],
          },
        },
      },
    });
    new PodDisruptionBudgetV1(this, "DisruptionBudget", {
      metadata: { name, namespace: KUBE_SYSTEM, labels },
      spec: { maxUnavailable: "1", selector: { matchLabels: selector } },
    });
    this.service = new ServiceV1(this, "Service", {
      metadata: {
        name: KUBEADM_ADDON_NAMES.dnsService,
        namespace: KUBE_SYSTEM,
        labels: { ...labels, ...selector, "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS" },
        annotations: { "prometheus.io/port": "9153", "prometheus.io/scrape": "true" },
      },
      spec: {
        clusterIp: props.clusterDnsIp,
        selector,
        port: [
          { name: "dns", port: 53, protocol: "UDP", targetPort: "53" },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: "53" },
          { name: "metrics", port: 9153, protocol: "TCP", targetPort: "9153" },
        ],
      },
    });
  }
}
