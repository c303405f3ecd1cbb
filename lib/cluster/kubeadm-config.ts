import { toYaml } from "../yaml";
import { ConfigError } from "../errors";
import { host, parseIpv4Cidr } from "../network/cidr";

/**
 * Pure renderers of the configuration documents `kubeadm join` reads from the cluster (the
 * ClusterConfiguration in `kubeadm-config`, the KubeletConfiguration in `kubelet-config`, the
 * KubeProxyConfiguration in `kube-proxy`) and of the CoreDNS Corefile, in the API versions kubeadm
 * 1.33 reads. Values may be cdktf string tokens; they pass through as text.
 */

/** Names and keys kubeadm 1.33 reads during `kubeadm join` (cmd/kubeadm/app/constants). */
export const KUBEADM_JOIN_OBJECTS = {
  /** ConfigMap in kube-system holding the ClusterConfiguration. */
  kubeadmConfigMap: "kubeadm-config",
  /** Key of `kubeadm-config` holding the ClusterConfiguration YAML. */
  clusterConfigurationKey: "ClusterConfiguration",
  /** Role and RoleBinding letting joining nodes read `kubeadm-config`. */
  kubeadmConfigRole: "kubeadm:nodes-kubeadm-config",
  /** ConfigMap in kube-system holding the KubeletConfiguration every joining node writes to disk. */
  kubeletConfigMap: "kubelet-config",
  /** Key of `kubelet-config` holding the KubeletConfiguration YAML. */
  kubeletConfigKey: "kubelet",
  /** Role and RoleBinding letting joining nodes read `kubelet-config`. */
  kubeletConfigRole: "kubeadm:kubelet-config",
  /** ConfigMap, Role and RoleBinding of kube-proxy (kubeadm reads its config during join when readable). */
  kubeProxyConfigMap: "kube-proxy",
  /** Key of the KubeProxyConfiguration. */
  kubeProxyConfigKey: "config.conf",
  /** Key of kube-proxy's in-cluster kubeconfig. */
  kubeProxyKubeconfigKey: "kubeconfig.conf",
} as const;

/** kubeadm's API version of ClusterConfiguration in 1.33. */
export const KUBEADM_API_VERSION = "kubeadm.k8s.io/v1beta4";
/** Where kubeadm writes the CA on a joining node (`certificatesDir` + `ca.crt`). */
export const NODE_CA_PATH = "/etc/kubernetes/pki/ca.crt";

/**
 * The CoreDNS release kubeadm installs for each Kubernetes minor (kubeadm's `CoreDNSVersion`
 * constant of that release).
 */
export const KUBEADM_COREDNS_VERSIONS: Readonly<Record<string, string>> = { "1.32": "v1.11.3", "1.33": "v1.12.0", "1.34": "v1.12.1" };

/**
 * The pause (sandbox) image tag kubeadm pins for each Kubernetes minor (kubeadm's `PauseVersion`;
 * `kubeadm config images list` shows it).
 */
export const KUBEADM_PAUSE_VERSIONS: Readonly<Record<string, string>> = { "1.32": "3.10", "1.33": "3.10", "1.34": "3.10.1" };

/** The pause image tag kubeadm pins for `kubernetesVersion`, or a ConfigError naming `prop` for an unknown minor. */
export function pauseTagFor(prop: string, kubernetesVersion: string): string {
  const minor = /^v?(1\.\d+)\./.exec(kubernetesVersion)?.[1];
  const tag = minor === undefined ? undefined : KUBEADM_PAUSE_VERSIONS[minor];
  if (tag === undefined) {
    throw new ConfigError(
      prop,
      kubernetesVersion,
      `kubeadm's pause image for this Kubernetes release is not known here (known minors: ${Object.keys(KUBEADM_PAUSE_VERSIONS).join(", ")})`,
      "use a listed minor, or leave the image repository at its default",
    );
  }
  return tag;
}

/** `v1.33.5` from `1.33.5` or `v1.33.5`. */
export function kubernetesTag(version: string): string {
  return version.startsWith("v") ? version : `v${version}`;
}

/** The CoreDNS image tag kubeadm pins for `kubernetesVersion`, or a ConfigError for an unknown minor. */
export function coreDnsTagFor(kubernetesVersion: string): string {
  const minor = /^v?(1\.\d+)\./.exec(kubernetesVersion)?.[1];
  const tag = minor === undefined ? undefined : KUBEADM_COREDNS_VERSIONS[minor];
  if (tag === undefined) {
    throw new ConfigError(
      "addons.coreDnsVersion",
      undefined,
      `kubeadm's CoreDNS release for Kubernetes ${kubernetesVersion} is not known here (known: ${Object.keys(KUBEADM_COREDNS_VERSIONS).join(", ")})`,
      "set addons.coreDnsVersion to the CoreDNSVersion of that kubeadm release (cmd/kubeadm/app/constants/constants.go)",
    );
  }
  return tag;
}

/** kubeadm's cluster DNS address: the 10th address of the service CIDR (`GetDNSIP`). */
export function clusterDnsIp(serviceCidr: string): string {
  const block = parseIpv4Cidr("access.serviceCidr", serviceCidr);
  if (block.size <= 10) {
    throw new ConfigError("access.serviceCidr", serviceCidr, "has no 10th address for the cluster DNS Service", "use a /28 or larger, e.g. 10.96.0.0/12");
  }
  return host(block, 10);
}

/** Input of {@link renderClusterConfiguration}. */
export interface ClusterConfigurationInput {
  /** The cluster's name (`clusterName` of the ClusterConfiguration). */
  readonly clusterName: string;
  /** Kubernetes version without `v`, e.g. `1.33.5` (`kubernetesVersion`, rendered as `v1.33.5`). */
  readonly kubernetesVersion: string;
  /** `host:port` of the endpoint nodes join through. */
  readonly controlPlaneEndpoint: string;
  /** Cluster IP range of Services (`networking.serviceSubnet`). */
  readonly serviceCidr: string;
  /** IP range of pods (`networking.podSubnet`). */
  readonly podCidr: string;
  /** Cluster DNS domain (`networking.dnsDomain`), e.g. `cluster.local`. */
  readonly clusterDomain: string;
  /** Registry of the Kubernetes images (`imageRepository`), e.g. `registry.k8s.io`. */
  readonly imageRepository: string;
  /** kube-proxy is installed (else kubeadm is told it is disabled). */
  readonly kubeProxy: boolean;
  /** CoreDNS is installed. */
  readonly coreDns: boolean;
}

/**
 * The ClusterConfiguration (v1beta4) `kubeadm join` reads from `kubeadm-config`. It describes the
 * cluster for joining workers; the control plane itself is not managed by kubeadm (no
 * `kubeadm upgrade`, no control-plane join).
 */
export function renderClusterConfiguration(input: ClusterConfigurationInput): string {
  return toYaml(
    {
      apiVersion: KUBEADM_API_VERSION,
      kind: "ClusterConfiguration",
      clusterName: input.clusterName,
      kubernetesVersion: kubernetesTag(input.kubernetesVersion),
      controlPlaneEndpoint: input.controlPlaneEndpoint,
      certificatesDir: "/etc/kubernetes/pki",
      imageRepository: input.imageRepository,
      networking: { dnsDomain: input.clusterDomain, serviceSubnet: input.serviceCidr, podSubnet: input.podCidr },
      dns: { disabled: !input.coreDns },
      proxy: { disabled: !input.kubeProxy },
    },
    { lineWidth: 0 },
  );
}

/** Input of {@link renderKubeletConfiguration}. */
export interface KubeletConfigurationInput {
  /** Cluster DNS address. */
  readonly clusterDnsIp: string;
  /** The cluster DNS domain, e.g. `cluster.local`. */
  readonly clusterDomain: string;
  /** Request a CA-signed serving certificate (`serverTLSBootstrap`). */
  readonly serverTlsBootstrap: boolean;
}

/**
 * The workers' KubeletConfiguration (kubelet.config.k8s.io/v1beta1) in `kubelet-config`: kubeadm's
 * defaults (webhook authentication and authorization, no anonymous access, client CA of the
 * cluster, systemd cgroups, rotating client certificates) plus, when asked, serving-certificate
 * bootstrap so the API server can verify the kubelet (`--kubelet-certificate-authority`).
 * `resolvConf` is left out: kubeadm sets it per node when systemd-resolved runs.
 */
export function renderKubeletConfiguration(input: KubeletConfigurationInput): string {
  return toYaml(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true, cacheTTL: "0s" },
        x509: { clientCAFile: NODE_CA_PATH },
      },
      authorization: { mode: "Webhook", webhook: { cacheAuthorizedTTL: "0s", cacheUnauthorizedTTL: "0s" } },
      cgroupDriver: "systemd",
      clusterDNS: [input.clusterDnsIp],
      clusterDomain: input.clusterDomain,
      healthzBindAddress: "127.0.0.1",
      healthzPort: 10248,
      readOnlyPort: 0,
      rotateCertificates: true,
      serverTLSBootstrap: input.serverTlsBootstrap,
      staticPodPath: "/etc/kubernetes/manifests",
    },
    { lineWidth: 0 },
  );
}

/** The KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) of the kube-proxy addon. */
export function renderKubeProxyConfiguration(input: { readonly podCidr: string }): string {
  return toYaml(
    {
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      bindAddress: "0.0.0.0",
      clientConnection: { kubeconfig: `/var/lib/kube-proxy/${KUBEADM_JOIN_OBJECTS.kubeProxyKubeconfigKey}` },
      clusterCIDR: input.podCidr,
      metricsBindAddress: "127.0.0.1:10249",
      mode: "iptables",
    },
    { lineWidth: 0 },
  );
}

/** kube-proxy's kubeconfig: the endpoint, its service-account token and CA (kubeadm's form). */
export function renderKubeProxyKubeconfig(server: string): string {
  return toYaml(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ cluster: { "certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", server }, name: "default" }],
      contexts: [{ context: { cluster: "default", namespace: "default", user: "default" }, name: "default" }],
      "current-context": "default",
      users: [{ name: "default", user: { tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token" } }],
    },
    { lineWidth: 0 },
  );
}

/** kubeadm's Corefile for `clusterDomain`. */
export function renderCorefile(clusterDomain: string): string {
  return [
    ".:53 {",
    "    errors",
    "    health {",
    "       lameduck 5s",
    "    }",
    "    ready",
    `    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {`,
    "       pods insecure",
    "       fallthrough in-addr.arpa ip6.arpa",
    "       ttl 30",
    "    }",
    "    prometheus :9153",
    "    forward . /etc/resolv.conf {",
    "       max_concurrent 1000",
    "    }",
    "    cache 30",
    "    loop",
    "    reload",
    "    loadbalance",
    "}",
    "",
  ].join("\n");
}
