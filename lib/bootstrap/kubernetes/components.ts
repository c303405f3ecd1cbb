import { toYaml } from "../../yaml";
import { ConfigError } from "../../errors";
import { pkiFileMarker } from "../../pki/kubeconfig";

/**
 * Pure renderers of the Kubernetes control-plane components: static pod manifests of
 * kube-apiserver, kube-controller-manager and kube-scheduler, and the configuration files they read
 * (authentication, audit, admission, kubelet). Flags come from functions (`apiServerFlags` …) so the
 * CIS table test checks exactly what the manifests carry.
 */

/** Marker replaced at boot by the slot IP the node claimed (one launch template serves every slot). */
export const SLOT_IP_MARKER = "@@SLOT_IP@@";

/**
 * Placeholder `ha-kube-configure` replaces with the SHA-256 of the kubeconfigs a static pod names
 * (annotation {@link KUBECONFIG_HASH_ANNOTATION}). Controller-manager and scheduler read their
 * embedded client certificates once, at start; when a renewed certificate rewrites a kubeconfig the
 * hash changes the manifest, and the kubelet restarts that pod (a static pod's identity is the hash
 * of its manifest) - the restart kubeadm's `certs renew` asks for by hand.
 */
export const KUBECONFIG_HASH_MARKER = "@@KUBECONFIG_SHA256@@";

/** The static pod annotation that carries {@link KUBECONFIG_HASH_MARKER}. */
export const KUBECONFIG_HASH_ANNOTATION = "ha-control-plane/kubeconfig-sha256";

/**
 * Placeholder `ha-kube-configure` replaces with the SHA-256 of the set of CA certificates in the
 * trust bundles a static pod names (`ca.crt`, `etcd/ca.crt`, `front-proxy-ca.crt`; order-free, so a
 * CA rotation's reordering restarts nothing), annotation {@link TRUST_HASH_ANNOTATION}. The API
 * server's etcd client and its kubelet client read their CAs only at start: a CA added or removed
 * by a staged CA rotation changes the manifest and the kubelet restarts the pod.
 */
export const TRUST_HASH_MARKER = "@@TRUST_SHA256@@";

/** The static pod annotation that carries {@link TRUST_HASH_MARKER}. */
export const TRUST_HASH_ANNOTATION = "ha-control-plane/trust-sha256";

/** Paths on control-plane nodes. */
export const KUBE_PATHS = {
  /** kubeadm's PKI directory: certificates and keys fetched from the slot's secret (`ca.crt`, `apiserver.key`, `etcd/…`). */
  pki: "/etc/kubernetes/pki",
  /** The kubelet's static pod directory: kube-apiserver, kube-controller-manager and kube-scheduler manifests. */
  manifests: "/etc/kubernetes/manifests",
  /** The API server's `--authentication-config` (AuthenticationConfiguration: anonymous requests allowed for `/livez`, `/readyz`, `/healthz` only). */
  authenticationConfig: "/etc/kubernetes/authentication-config.yaml",
  /** The API server's `--audit-policy-file`. */
  auditPolicy: "/etc/kubernetes/audit-policy.yaml",
  /** The API server's `--admission-control-config-file` (points at the EventRateLimit configuration). */
  admissionConfig: "/etc/kubernetes/admission-config.yaml",
  /** The EventRateLimit admission plugin's configuration. */
  eventRateLimitConfig: "/etc/kubernetes/event-rate-limit.yaml",
  /** The API server's `--encryption-provider-config`: Secrets encrypted at rest with the key from Secrets Manager. */
  encryptionConfig: "/etc/kubernetes/encryption-config.yaml",
  /** Directory of the API server's audit log (`--audit-log-path` is `audit.log` in it). */
  auditLogDir: "/var/log/kubernetes/audit",
  /** kube-controller-manager's kubeconfig (client certificate embedded), filled in at boot. */
  controllerManagerKubeconfig: "/etc/kubernetes/controller-manager.conf",
  /** kube-scheduler's kubeconfig (client certificate embedded), filled in at boot. */
  schedulerKubeconfig: "/etc/kubernetes/scheduler.conf",
  /** Kubeconfig templates (credentials as PKI markers) that `ha-kube-configure` fills in. */
  kubeconfigTemplates: "/etc/ha-control-plane/kubeconfigs",
  /** The control-plane kubelet's KubeletConfiguration (`--config`). */
  kubeletConfig: "/var/lib/kubelet/config.yaml",
  /** The kubelet's kubeconfig: its webhook authorizer asks the local API server (CIS 4.2.2). */
  kubeletKubeconfig: "/etc/kubernetes/kubelet.conf",
} as const;

/** What the control-plane components are configured from. */
export interface ControlPlaneComponentsInput {
  /** The cluster's name (kube-controller-manager's `--cluster-name`). */
  readonly clusterName: string;
  /** Kubernetes version, `1.33.5`. */
  readonly kubernetesVersion: string;
  /** The API server's advertised address: the slot IP, or {@link SLOT_IP_MARKER} in user data. */
  readonly advertiseAddress: string;
  /** etcd client URLs, every member. */
  readonly etcdServers: readonly string[];
  /** Cluster IP range of Services (`--service-cluster-ip-range`); its first address is the `kubernetes` Service. */
  readonly serviceCidr: string;
  /** IP range of pods (kube-controller-manager's `--cluster-cidr`, split into per-node ranges). */
  readonly podCidr: string;
  /** Cluster DNS domain. */
  readonly clusterDomain: string;
  /** `--shutdown-delay-duration` in seconds (from the load balancer: `IApiEndpoint.shutdownDelaySeconds`). */
  readonly shutdownDelaySeconds: number;
  /**
   * Image registry.
   * @default "registry.k8s.io"
   */
  readonly imageRepository?: string;
}

/** Strong TLS cipher suites only (CIS 1.2.29); TLS 1.3 suites are not configurable and always on. */
export const STRONG_CIPHER_SUITES = [
  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
];

/** Seconds the API server keeps finishing in-flight requests after the shutdown delay. */
export const REQUEST_DRAIN_SECONDS = 60;

/** Timings of one Kubernetes probe (the fields of a container's `livenessProbe` and friends). */
export interface ProbeTimings {
  /** Seconds after the container starts before the first probe. */
  readonly initialDelaySeconds: number;
  /** Seconds a probe may take before it counts as failed. */
  readonly timeoutSeconds: number;
  /** Seconds between probes. */
  readonly periodSeconds: number;
  /** Consecutive failures before the kubelet acts (restarts the container, or marks it unready). */
  readonly failureThreshold: number;
}

/** kubeadm's probe timings, the floor ours must meet (field guide §1). */
export const KUBEADM_PROBES: {
  /** `/livez`: 8 failures 10 s apart (80 s) before the kubelet restarts the component. */
  readonly liveness: ProbeTimings;
  /** `/readyz` (API server only): 3 failures 1 s apart take the pod out of readiness. */
  readonly readiness: ProbeTimings;
  /** `/livez` while starting: up to 24 × 10 s (4 minutes) before liveness takes over. */
  readonly startup: ProbeTimings;
} = {
  liveness: { initialDelaySeconds: 10, timeoutSeconds: 15, periodSeconds: 10, failureThreshold: 8 },
  readiness: { initialDelaySeconds: 0, timeoutSeconds: 15, periodSeconds: 1, failureThreshold: 3 },
  startup: { initialDelaySeconds: 10, timeoutSeconds: 15, periodSeconds: 10, failureThreshold: 24 },
};

/** kube-apiserver flags (without the leading `--`). */
export function apiServerFlags(input: ControlPlaneComponentsInput): Record<string, string> {
  checkComponentsInput(input);
  const pki = KUBE_PATHS.pki;
  return {
    "advertise-address": input.advertiseAddress,
    "bind-address": "0.0.0.0",
    "secure-port": "6443",
    "etcd-servers": input.etcdServers.join(","),
    "etcd-cafile": `${pki}/etcd/ca.crt`,
    "etcd-certfile": `${pki}/apiserver-etcd-client.crt`,
    "etcd-keyfile": `${pki}/apiserver-etcd-client.key`,
    "client-ca-file": `${pki}/ca.crt`,
    "tls-cert-file": `${pki}/apiserver.crt`,
    "tls-private-key-file": `${pki}/apiserver.key`,
    "tls-min-version": "VersionTLS12",
    "tls-cipher-suites": STRONG_CIPHER_SUITES.join(","),
    "kubelet-client-certificate": `${pki}/apiserver-kubelet-client.crt`,
    "kubelet-client-key": `${pki}/apiserver-kubelet-client.key`,
    "kubelet-certificate-authority": `${pki}/ca.crt`,
    "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
    // API hosts run no kube-proxy, so a Service's cluster IP is unreachable from them: webhooks and
    // aggregated APIs (metrics-server) are called at an endpoint (pod) IP instead.
    "enable-aggregator-routing": "true",
    // Anonymous requests are allowed only on /livez, /readyz and /healthz (see the authentication config).
    "authentication-config": KUBE_PATHS.authenticationConfig,
    "authorization-mode": "Node,RBAC",
    "enable-admission-plugins": "NodeRestriction,EventRateLimit,DenyServiceExternalIPs",
    "admission-control-config-file": KUBE_PATHS.admissionConfig,
    "enable-bootstrap-token-auth": "true",
    "profiling": "false",
    "audit-log-path": `${KUBE_PATHS.auditLogDir}/audit.log`,
    "audit-log-maxage": "30",
    "audit-log-maxbackup": "10",
    "audit-log-maxsize": "100",
    "audit-policy-file": KUBE_PATHS.auditPolicy,
    "service-account-lookup": "true",
    // CIS 1.2.30: projected tokens live as long as they ask for, not a year (the default extends them).
    "service-account-extend-token-expiration": "false",
    "service-account-key-file": `${pki}/sa.pub`,
    "service-account-signing-key-file": `${pki}/sa.key`,
    "service-account-issuer": `https://kubernetes.default.svc.${input.clusterDomain}`,
    "service-cluster-ip-range": input.serviceCidr,
    "encryption-provider-config": KUBE_PATHS.encryptionConfig,
    "encryption-provider-config-automatic-reload": "true",
    "requestheader-client-ca-file": `${pki}/front-proxy-ca.crt`,
    "requestheader-allowed-names": "front-proxy-client",
    "requestheader-extra-headers-prefix": "X-Remote-Extra-",
    "requestheader-group-headers": "X-Remote-Group",
    "requestheader-username-headers": "X-Remote-User",
    "proxy-client-cert-file": `${pki}/front-proxy-client.crt`,
    "proxy-client-key-file": `${pki}/front-proxy-client.key`,
    "allow-privileged": "true",
    "endpoint-reconciler-type": "lease",
    "shutdown-delay-duration": `${input.shutdownDelaySeconds}s`,
    "shutdown-send-retry-after": "true",
    "shutdown-watch-termination-grace-period": "30s",
  };
}

/** kube-controller-manager flags. */
export function controllerManagerFlags(input: ControlPlaneComponentsInput): Record<string, string> {
  const pki = KUBE_PATHS.pki;
  const kubeconfig = KUBE_PATHS.controllerManagerKubeconfig;
  return {
    "kubeconfig": kubeconfig,
    "authentication-kubeconfig": kubeconfig,
    "authorization-kubeconfig": kubeconfig,
    "bind-address": "127.0.0.1",
    "leader-elect": "true",
    "profiling": "false",
    "use-service-account-credentials": "true",
    "service-account-private-key-file": `${pki}/sa.key`,
    "root-ca-file": `${pki}/ca.crt`,
    "client-ca-file": `${pki}/ca.crt`,
    "requestheader-client-ca-file": `${pki}/front-proxy-ca.crt`,
    "cluster-signing-cert-file": `${pki}/ca-signer.crt`,
    "cluster-signing-key-file": `${pki}/ca.key`,
    "cluster-name": input.clusterName,
    "cluster-cidr": input.podCidr,
    "allocate-node-cidrs": "true",
    "service-cluster-ip-range": input.serviceCidr,
    "controllers": "*,bootstrapsigner,tokencleaner",
    "terminated-pod-gc-threshold": "12500",
    "tls-min-version": "VersionTLS12",
    "tls-cipher-suites": STRONG_CIPHER_SUITES.join(","),
  };
}

/** kube-scheduler flags. */
export function schedulerFlags(_input: ControlPlaneComponentsInput): Record<string, string> {
  const kubeconfig = KUBE_PATHS.schedulerKubeconfig;
  return {
    "kubeconfig": kubeconfig,
    "authentication-kubeconfig": kubeconfig,
    "authorization-kubeconfig": kubeconfig,
    "bind-address": "127.0.0.1",
    "leader-elect": "true",
    "profiling": "false",
    "tls-min-version": "VersionTLS12",
    "tls-cipher-suites": STRONG_CIPHER_SUITES.join(","),
  };
}

/** Validates the inputs every component shares. */
export function checkComponentsInput(input: ControlPlaneComponentsInput): void {
  if (input.etcdServers.length === 0) {
    throw new ConfigError("etcdServers", [], "the API server needs every etcd member", "pass IEtcdCluster.clientUrls");
  }
  input.etcdServers.forEach((url, i) => {
    if (!/^https:\/\//.test(url)) throw new ConfigError(`etcdServers[${i}]`, url, "etcd must be reached over TLS", "use https:// client URLs");
  });
  if (!Number.isInteger(input.shutdownDelaySeconds) || input.shutdownDelaySeconds < 1 || input.shutdownDelaySeconds > 600) {
    throw new ConfigError("shutdownDelaySeconds", input.shutdownDelaySeconds, "must be 1 to 600 seconds", "derive it from the load balancer (IApiEndpoint.shutdownDelaySeconds)");
  }
}

interface Probe {
  readonly path: string;
  readonly port: number;
  readonly timings: { initialDelaySeconds: number; timeoutSeconds: number; periodSeconds: number; failureThreshold: number };
}

function probe(p: Probe): Record<string, unknown> {
  return { httpGet: { host: "127.0.0.1", path: p.path, port: p.port, scheme: "HTTPS" }, ...p.timings };
}

interface PodInput {
  readonly name: string;
  readonly image: string;
  readonly flags: Record<string, string>;
  readonly port: number;
  readonly readiness: boolean;
  readonly hostPaths: ReadonlyArray<{ name: string; path: string; readOnly: boolean; type: string }>;
  readonly terminationGracePeriodSeconds?: number;
  readonly cpu: string;
  /** Whether the pod restarts when its kubeconfig changes (see {@link KUBECONFIG_HASH_MARKER}). */
  readonly restartOnKubeconfigChange?: boolean;
}

function staticPod(p: PodInput): string {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: p.name,
      namespace: "kube-system",
      labels: { component: p.name, tier: "control-plane" },
      annotations: { ...(p.restartOnKubeconfigChange === true ? { [KUBECONFIG_HASH_ANNOTATION]: KUBECONFIG_HASH_MARKER } : {}), [TRUST_HASH_ANNOTATION]: TRUST_HASH_MARKER },
    },
    spec: {
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: "system-node-critical",
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
      ...(p.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: p.terminationGracePeriodSeconds } : {}),
      containers: [
        {
          name: p.name,
          image: p.image,
          imagePullPolicy: "IfNotPresent",
          command: [p.name, ...Object.entries(p.flags).map(([k, v]) => `--${k}=${v}`)],
          resources: { requests: { cpu: p.cpu } },
          livenessProbe: probe({ path: "/livez", port: p.port, timings: KUBEADM_PROBES.liveness }),
          ...(p.readiness ? { readinessProbe: probe({ path: "/readyz", port: p.port, timings: KUBEADM_PROBES.readiness }) } : {}),
          startupProbe: probe({ path: "/livez", port: p.port, timings: KUBEADM_PROBES.startup }),
          volumeMounts: p.hostPaths.map((h) => ({ name: h.name, mountPath: h.path, readOnly: h.readOnly })),
        },
      ],
      volumes: p.hostPaths.map((h) => ({ name: h.name, hostPath: { path: h.path, type: h.type } })),
    },
  };
  return toYaml(pod, { lineWidth: 0 });
}

function image(input: ControlPlaneComponentsInput, component: string): string {
  return `${input.imageRepository ?? "registry.k8s.io"}/${component}:v${input.kubernetesVersion.replace(/^v/, "")}`;
}

/** Graceful termination: the shutdown delay, then time to finish in-flight requests. */
export function apiServerTerminationGraceSeconds(input: ControlPlaneComponentsInput): number {
  return input.shutdownDelaySeconds + REQUEST_DRAIN_SECONDS;
}

/** The kube-apiserver static pod. */
export function renderApiServerManifest(input: ControlPlaneComponentsInput): string {
  return staticPod({
    name: "kube-apiserver",
    image: image(input, "kube-apiserver"),
    flags: apiServerFlags(input),
    port: 6443,
    readiness: true,
    cpu: "250m",
    terminationGracePeriodSeconds: apiServerTerminationGraceSeconds(input),
    hostPaths: [
      { name: "pki", path: KUBE_PATHS.pki, readOnly: true, type: "DirectoryOrCreate" },
      { name: "authentication-config", path: KUBE_PATHS.authenticationConfig, readOnly: true, type: "File" },
      { name: "audit-policy", path: KUBE_PATHS.auditPolicy, readOnly: true, type: "File" },
      { name: "admission-config", path: KUBE_PATHS.admissionConfig, readOnly: true, type: "File" },
      { name: "event-rate-limit", path: KUBE_PATHS.eventRateLimitConfig, readOnly: true, type: "File" },
      { name: "encryption-config", path: KUBE_PATHS.encryptionConfig, readOnly: true, type: "File" },
      { name: "audit-log", path: KUBE_PATHS.auditLogDir, readOnly: false, type: "DirectoryOrCreate" },
      { name: "ca-certs", path: "/etc/ssl/certs", readOnly: true, type: "DirectoryOrCreate" },
    ],
  });
}

/** The kube-controller-manager static pod. */
export function renderControllerManagerManifest(input: ControlPlaneComponentsInput): string {
  return staticPod({
    name: "kube-controller-manager",
    image: image(input, "kube-controller-manager"),
    flags: controllerManagerFlags(input),
    port: 10257,
    readiness: false,
    cpu: "200m",
    restartOnKubeconfigChange: true,
    hostPaths: [
      { name: "pki", path: KUBE_PATHS.pki, readOnly: true, type: "DirectoryOrCreate" },
      // "File": a missing kubeconfig fails the pod visibly instead of mounting an empty one.
      { name: "kubeconfig", path: KUBE_PATHS.controllerManagerKubeconfig, readOnly: true, type: "File" },
      { name: "ca-certs", path: "/etc/ssl/certs", readOnly: true, type: "DirectoryOrCreate" },
    ],
  });
}

/** The kube-scheduler static pod. */
export function renderSchedulerManifest(input: ControlPlaneComponentsInput): string {
  return staticPod({
    name: "kube-scheduler",
    image: image(input, "kube-scheduler"),
    flags: schedulerFlags(input),
    port: 10259,
    readiness: false,
    cpu: "100m",
    restartOnKubeconfigChange: true,
    // The kubeconfig embeds its certificates (kubeadm's form): the scheduler reads no other file.
    hostPaths: [{ name: "kubeconfig", path: KUBE_PATHS.schedulerKubeconfig, readOnly: true, type: "File" }],
  });
}

/**
 * Structured authentication: anonymous requests only for the health endpoints, so the load
 * balancer's HTTPS `/readyz` check and kubelet probes work while everything else needs
 * credentials (CIS 1.2.1).
 */
export function renderAuthenticationConfig(): string {
  return toYaml({
    apiVersion: "apiserver.config.k8s.io/v1beta1",
    kind: "AuthenticationConfiguration",
    anonymous: { enabled: true, conditions: [{ path: "/livez" }, { path: "/readyz" }, { path: "/healthz" }] },
  });
}

/** Audit policy: metadata for secrets and tokens (never bodies), requests for writes, nothing for noise. */
export function renderAuditPolicy(): string {
  return toYaml({
    apiVersion: "audit.k8s.io/v1",
    kind: "Policy",
    omitStages: ["RequestReceived"],
    rules: [
      { level: "None", nonResourceURLs: ["/livez*", "/readyz*", "/healthz*", "/version", "/metrics"] },
      { level: "None", users: ["system:kube-proxy"], verbs: ["watch"], resources: [{ group: "", resources: ["endpoints", "services", "services/status"] }] },
      { level: "None", userGroups: ["system:nodes"], verbs: ["get"], resources: [{ group: "", resources: ["nodes", "nodes/status"] }] },
      { level: "None", users: ["system:kube-controller-manager", "system:kube-scheduler"], verbs: ["get", "update"], namespaces: ["kube-system"], resources: [{ group: "coordination.k8s.io", resources: ["leases"] }] },
      { level: "None", resources: [{ group: "", resources: ["events"] }] },
      { level: "Metadata", resources: [{ group: "", resources: ["secrets", "configmaps", "serviceaccounts/token"] }, { group: "authentication.k8s.io", resources: ["tokenreviews"] }] },
      { level: "Request", verbs: ["create", "update", "patch", "delete", "deletecollection"] },
      { level: "Metadata" },
    ],
  });
}

/** Admission configuration: EventRateLimit (CIS 1.2.9). */
export function renderAdmissionConfig(): string {
  return toYaml({
    apiVersion: "apiserver.config.k8s.io/v1",
    kind: "AdmissionConfiguration",
    plugins: [{ name: "EventRateLimit", path: KUBE_PATHS.eventRateLimitConfig }],
  });
}

/** EventRateLimit limits: per server and per namespace. */
export function renderEventRateLimitConfig(): string {
  return toYaml({
    apiVersion: "eventratelimit.admission.k8s.io/v1alpha1",
    kind: "Configuration",
    limits: [
      { type: "Server", qps: 50, burst: 100 },
      { type: "Namespace", qps: 10, burst: 50, cacheSize: 2000 },
    ],
  });
}

/**
 * kubelet configuration of control-plane nodes: runs the static pods and is not registered as a
 * Node (`registerNode: false`); no anonymous access, no read-only port, listens on 127.0.0.1.
 *
 * Its API is authenticated by client certificate against the Kubernetes CA (CIS 4.2.3) and every
 * request is authorized by the API server through a SubjectAccessReview (`Webhook`, CIS 4.2.2).
 * A kubelet without a kubeconfig cannot use webhook authorization (it refuses to start: "no client
 * provided, cannot use webhook authorization"), so it gets {@link KUBE_PATHS.kubeletKubeconfig}
 * pointing at the local API server; until the API server answers, every request is denied.
 */
export function renderKubeletConfig(): string {
  return toYaml({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    staticPodPath: KUBE_PATHS.manifests,
    cgroupDriver: "systemd",
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: `${KUBE_PATHS.pki}/ca.crt` } },
    authorization: { mode: "Webhook" },
    registerNode: false,
    readOnlyPort: 0,
    address: "127.0.0.1",
    protectKernelDefaults: true,
    makeIPTablesUtilChains: true,
    eventRecordQPS: 5,
    shutdownGracePeriod: "120s",
    shutdownGracePeriodCriticalPods: "100s",
    tlsMinVersion: "VersionTLS12",
  });
}

/**
 * The control-plane kubelet's kubeconfig template: the local API server, the Kubernetes CA, and the
 * API server's own kubelet-client credential (already on the node; kubeadm:cluster-admins, so its
 * SubjectAccessReviews are allowed once the cluster stack has bound that group). The `*-data`
 * values are PKI markers `ha-kube-configure` fills in at boot.
 */
export function renderKubeletKubeconfig(clusterName: string): string {
  const user = "kube-apiserver-kubelet-client";
  const marker = pkiFileMarker;
  return toYaml(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: clusterName, cluster: { server: "https://127.0.0.1:6443", "certificate-authority-data": marker("ca.crt") } }],
      users: [{ name: user, user: { "client-certificate-data": marker("apiserver-kubelet-client.crt"), "client-key-data": marker("apiserver-kubelet-client.key") } }],
      contexts: [{ name: `${user}@${clusterName}`, context: { cluster: clusterName, user } }],
      "current-context": `${user}@${clusterName}`,
    },
    { lineWidth: 0 },
  );
}
