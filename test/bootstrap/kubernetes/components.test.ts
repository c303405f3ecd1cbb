/**
 * The control-plane component renderers (lib/bootstrap/kubernetes/components.ts) against what
 * kubeadm 1.33.5 itself writes, as literal tables. Captured with the real binary:
 *
 *   kubeadm init phase control-plane all --rootfs <empty dir> --kubernetes-version v1.33.5 \
 *     --apiserver-advertise-address 10.0.1.10 --service-cidr 10.96.0.0/12 --pod-network-cidr 10.244.0.0/16
 *
 * Every kubeadm flag must be ours with kubeadm's value, except the few listed with the reason we
 * differ; every flag we add is listed with its source (CIS Kubernetes Benchmark 1.12 item, or the
 * kube-apiserver documentation). The pod skeleton (labels, priority, seccomp, image, CPU requests,
 * probe timings and ports) is kubeadm's. The configuration files are compared against the
 * Kubernetes API kinds they declare (apiVersion/kind from the Kubernetes API reference).
 */
import { parse } from "yaml";
import { ConfigError } from "../../../lib/errors";
import {
  ControlPlaneComponentsInput,
  KUBECONFIG_HASH_ANNOTATION,
  KUBECONFIG_HASH_MARKER,
  KUBEADM_PROBES,
  TRUST_HASH_ANNOTATION,
  TRUST_HASH_MARKER,
  KUBE_PATHS,
  REQUEST_DRAIN_SECONDS,
  SLOT_IP_MARKER,
  STRONG_CIPHER_SUITES,
  apiServerFlags,
  apiServerTerminationGraceSeconds,
  checkComponentsInput,
  controllerManagerFlags,
  renderAdmissionConfig,
  renderApiServerManifest,
  renderAuditPolicy,
  renderAuthenticationConfig,
  renderControllerManagerManifest,
  renderEventRateLimitConfig,
  renderKubeletConfig,
  renderKubeletKubeconfig,
  renderSchedulerManifest,
  schedulerFlags,
} from "../../../lib/bootstrap/kubernetes/components";

const INPUT: ControlPlaneComponentsInput = {
  clusterName: "prod",
  kubernetesVersion: "1.33.5",
  advertiseAddress: "10.0.1.10",
  etcdServers: ["https://10.0.1.20:2379", "https://10.0.2.20:2379", "https://10.0.3.20:2379"],
  serviceCidr: "10.96.0.0/12",
  podCidr: "10.244.0.0/16",
  clusterDomain: "cluster.local",
  shutdownDelaySeconds: 25,
};

/** kubeadm 1.33.5's kube-apiserver flags (see the header). */
const KUBEADM_APISERVER: Record<string, string> = {
  "advertise-address": "10.0.1.10",
  "allow-privileged": "true",
  "authorization-mode": "Node,RBAC",
  "client-ca-file": "/etc/kubernetes/pki/ca.crt",
  "enable-admission-plugins": "NodeRestriction",
  "enable-bootstrap-token-auth": "true",
  "etcd-cafile": "/etc/kubernetes/pki/etcd/ca.crt",
  "etcd-certfile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
  "etcd-keyfile": "/etc/kubernetes/pki/apiserver-etcd-client.key",
  "etcd-servers": "https://127.0.0.1:2379",
  "kubelet-client-certificate": "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
  "kubelet-client-key": "/etc/kubernetes/pki/apiserver-kubelet-client.key",
  "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
  "proxy-client-cert-file": "/etc/kubernetes/pki/front-proxy-client.crt",
  "proxy-client-key-file": "/etc/kubernetes/pki/front-proxy-client.key",
  "requestheader-allowed-names": "front-proxy-client",
  "requestheader-client-ca-file": "/etc/kubernetes/pki/front-proxy-ca.crt",
  "requestheader-extra-headers-prefix": "X-Remote-Extra-",
  "requestheader-group-headers": "X-Remote-Group",
  "requestheader-username-headers": "X-Remote-User",
  "secure-port": "6443",
  "service-account-issuer": "https://kubernetes.default.svc.cluster.local",
  "service-account-key-file": "/etc/kubernetes/pki/sa.pub",
  "service-account-signing-key-file": "/etc/kubernetes/pki/sa.key",
  "service-cluster-ip-range": "10.96.0.0/12",
  "tls-cert-file": "/etc/kubernetes/pki/apiserver.crt",
  "tls-private-key-file": "/etc/kubernetes/pki/apiserver.key",
};

/** kubeadm 1.33.5's kube-controller-manager flags. */
const KUBEADM_CONTROLLER_MANAGER: Record<string, string> = {
  "allocate-node-cidrs": "true",
  "authentication-kubeconfig": "/etc/kubernetes/controller-manager.conf",
  "authorization-kubeconfig": "/etc/kubernetes/controller-manager.conf",
  "bind-address": "127.0.0.1",
  "client-ca-file": "/etc/kubernetes/pki/ca.crt",
  "cluster-cidr": "10.244.0.0/16",
  "cluster-name": "kubernetes",
  "cluster-signing-cert-file": "/etc/kubernetes/pki/ca.crt",
  "cluster-signing-key-file": "/etc/kubernetes/pki/ca.key",
  controllers: "*,bootstrapsigner,tokencleaner",
  kubeconfig: "/etc/kubernetes/controller-manager.conf",
  "leader-elect": "true",
  "requestheader-client-ca-file": "/etc/kubernetes/pki/front-proxy-ca.crt",
  "root-ca-file": "/etc/kubernetes/pki/ca.crt",
  "service-account-private-key-file": "/etc/kubernetes/pki/sa.key",
  "service-cluster-ip-range": "10.96.0.0/12",
  "use-service-account-credentials": "true",
};

/** kubeadm 1.33.5's kube-scheduler flags. */
const KUBEADM_SCHEDULER: Record<string, string> = {
  "authentication-kubeconfig": "/etc/kubernetes/scheduler.conf",
  "authorization-kubeconfig": "/etc/kubernetes/scheduler.conf",
  "bind-address": "127.0.0.1",
  kubeconfig: "/etc/kubernetes/scheduler.conf",
  "leader-elect": "true",
};

/** Go's ECDHE AEAD TLS 1.2 suite names (CIS 1.2.29 / 1.3.x / 1.4.x accept only strong suites). */
const STRONG = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305";

/** Where we differ from kubeadm's value, and flags kubeadm does not set, each with its source. */
const API_CHANGED: Record<string, string> = {
  // CIS 1.2.9 (EventRateLimit) and DenyServiceExternalIPs (CVE-2020-8554 mitigation in the Kubernetes docs).
  "enable-admission-plugins": "NodeRestriction,EventRateLimit,DenyServiceExternalIPs",
  // External etcd: every member, over TLS.
  "etcd-servers": "https://10.0.1.20:2379,https://10.0.2.20:2379,https://10.0.3.20:2379",
};
const API_ADDED: Record<string, string> = {
  "bind-address": "0.0.0.0",
  "tls-min-version": "VersionTLS12",
  "tls-cipher-suites": STRONG, // CIS 1.2.29
  "kubelet-certificate-authority": "/etc/kubernetes/pki/ca.crt", // CIS 1.2.5
  "enable-aggregator-routing": "true",
  "authentication-config": "/etc/kubernetes/authentication-config.yaml", // CIS 1.2.1
  "admission-control-config-file": "/etc/kubernetes/admission-config.yaml", // CIS 1.2.9
  profiling: "false", // CIS 1.2.15
  "audit-log-path": "/var/log/kubernetes/audit/audit.log", // CIS 1.2.16
  "audit-log-maxage": "30", // CIS 1.2.17
  "audit-log-maxbackup": "10", // CIS 1.2.18
  "audit-log-maxsize": "100", // CIS 1.2.19
  "audit-policy-file": "/etc/kubernetes/audit-policy.yaml",
  "service-account-lookup": "true", // CIS 1.2.22
  "service-account-extend-token-expiration": "false", // CIS 1.2.30
  "encryption-provider-config": "/etc/kubernetes/encryption-config.yaml", // CIS 1.2.27
  "encryption-provider-config-automatic-reload": "true",
  "endpoint-reconciler-type": "lease",
  "shutdown-delay-duration": "25s",
  "shutdown-send-retry-after": "true",
  "shutdown-watch-termination-grace-period": "30s",
};
const CM_CHANGED: Record<string, string> = {
  "cluster-name": "prod",
  // Staged CA rotation: ca.crt is a trust bundle (old and new CA during a rotation); the signer is the one issuing CA.
  "cluster-signing-cert-file": "/etc/kubernetes/pki/ca-signer.crt",
};
const CM_ADDED: Record<string, string> = {
  profiling: "false", // CIS 1.3.2
  "terminated-pod-gc-threshold": "12500", // CIS 1.3.1 (the upstream default, set explicitly)
  "tls-min-version": "VersionTLS12",
  "tls-cipher-suites": STRONG,
};
const SCHED_ADDED: Record<string, string> = { profiling: "false", "tls-min-version": "VersionTLS12", "tls-cipher-suites": STRONG }; // CIS 1.4.1

/** Flags of a manifest's container, parsed back from `--k=v`. */
function flagsOf(manifest: string): Record<string, string> {
  const command: string[] = parse(manifest).spec.containers[0].command;
  return Object.fromEntries(command.slice(1).map((a) => /^--([^=]+)=(.*)$/.exec(a)!.slice(1, 3)));
}

describe("flags, against kubeadm 1.33.5", () => {
  it("kube-apiserver: kubeadm's flags and values, the listed changes and additions, nothing else", () => {
    expect(apiServerFlags(INPUT)).toEqual({ ...KUBEADM_APISERVER, ...API_CHANGED, ...API_ADDED });
    expect(flagsOf(renderApiServerManifest(INPUT))).toEqual({ ...KUBEADM_APISERVER, ...API_CHANGED, ...API_ADDED });
  });
  it("kube-controller-manager: kubeadm's flags and values, the cluster's name, the listed additions", () => {
    expect(controllerManagerFlags(INPUT)).toEqual({ ...KUBEADM_CONTROLLER_MANAGER, ...CM_CHANGED, ...CM_ADDED });
    expect(flagsOf(renderControllerManagerManifest(INPUT))).toEqual({ ...KUBEADM_CONTROLLER_MANAGER, ...CM_CHANGED, ...CM_ADDED });
  });
  it("kube-scheduler: kubeadm's flags and values, the listed additions", () => {
    expect(schedulerFlags(INPUT)).toEqual({ ...KUBEADM_SCHEDULER, ...SCHED_ADDED });
    expect(flagsOf(renderSchedulerManifest(INPUT))).toEqual({ ...KUBEADM_SCHEDULER, ...SCHED_ADDED });
  });
  it("follows the inputs: domain, service and pod ranges, advertise address, shutdown delay", () => {
    const other = { ...INPUT, clusterDomain: "corp.example", serviceCidr: "172.20.0.0/16", podCidr: "10.100.0.0/16", advertiseAddress: SLOT_IP_MARKER, shutdownDelaySeconds: 600 };
    expect(apiServerFlags(other)).toMatchObject({ "service-account-issuer": "https://kubernetes.default.svc.corp.example", "service-cluster-ip-range": "172.20.0.0/16", "advertise-address": "@@SLOT_IP@@", "shutdown-delay-duration": "600s" });
    expect(controllerManagerFlags(other)).toMatchObject({ "cluster-cidr": "10.100.0.0/16", "service-cluster-ip-range": "172.20.0.0/16" });
    expect(STRONG_CIPHER_SUITES.join(",")).toBe(STRONG);
  });
});

/** kubeadm's probe, as written for each component. */
const kubeadmProbe = (path: string, port: number, kind: "liveness" | "readiness" | "startup") => ({
  httpGet: { host: "127.0.0.1", path, port, scheme: "HTTPS" },
  ...{
    liveness: { failureThreshold: 8, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 15 },
    readiness: { failureThreshold: 3, initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 15 },
    startup: { failureThreshold: 24, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 15 },
  }[kind],
});

describe("static pods, against kubeadm 1.33.5's", () => {
  /** [render, name, port, cpu, readiness, volumes (name, path, type, readOnly), restart annotation]. */
  const PODS: Array<[string, (i: ControlPlaneComponentsInput) => string, number, string, boolean, Array<[string, string, string, boolean]>, boolean]> = [
    [
      "kube-apiserver",
      renderApiServerManifest,
      6443,
      "250m",
      true,
      [
        ["pki", "/etc/kubernetes/pki", "DirectoryOrCreate", true],
        ["authentication-config", "/etc/kubernetes/authentication-config.yaml", "File", true],
        ["audit-policy", "/etc/kubernetes/audit-policy.yaml", "File", true],
        ["admission-config", "/etc/kubernetes/admission-config.yaml", "File", true],
        ["event-rate-limit", "/etc/kubernetes/event-rate-limit.yaml", "File", true],
        ["encryption-config", "/etc/kubernetes/encryption-config.yaml", "File", true],
        ["audit-log", "/var/log/kubernetes/audit", "DirectoryOrCreate", false],
        ["ca-certs", "/etc/ssl/certs", "DirectoryOrCreate", true],
      ],
      false,
    ],
    [
      "kube-controller-manager",
      renderControllerManagerManifest,
      10257,
      "200m",
      false,
      [
        ["pki", "/etc/kubernetes/pki", "DirectoryOrCreate", true],
        ["kubeconfig", "/etc/kubernetes/controller-manager.conf", "File", true],
        ["ca-certs", "/etc/ssl/certs", "DirectoryOrCreate", true],
      ],
      true,
    ],
    ["kube-scheduler", renderSchedulerManifest, 10259, "100m", false, [["kubeconfig", "/etc/kubernetes/scheduler.conf", "File", true]], true],
  ];
  it.each(PODS)("%s: kubeadm's labels, priority, seccomp, image, CPU request and probes; its volumes", (name, render, port, cpu, readiness, volumes, restart) => {
    const pod = parse(render({ ...INPUT, kubernetesVersion: "v1.33.5" }));
    expect(pod.apiVersion).toBe("v1");
    expect(pod.kind).toBe("Pod");
    expect(pod.metadata).toEqual({
      name,
      namespace: "kube-system",
      labels: { component: name, tier: "control-plane" },
      annotations: { ...(restart ? { "ha-control-plane/kubeconfig-sha256": "@@KUBECONFIG_SHA256@@" } : {}), "ha-control-plane/trust-sha256": "@@TRUST_SHA256@@" },
    });
    const { containers, volumes: podVolumes, ...spec } = pod.spec;
    expect(spec).toEqual({
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: "system-node-critical",
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
      ...(name === "kube-apiserver" ? { terminationGracePeriodSeconds: 85 } : {}),
    });
    expect(containers).toHaveLength(1);
    const { command, ...container } = containers[0];
    expect(command[0]).toBe(name);
    expect(container).toEqual({
      name,
      image: `registry.k8s.io/${name}:v1.33.5`,
      imagePullPolicy: "IfNotPresent",
      resources: { requests: { cpu } },
      livenessProbe: kubeadmProbe("/livez", port, "liveness"),
      ...(readiness ? { readinessProbe: kubeadmProbe("/readyz", port, "readiness") } : {}),
      startupProbe: kubeadmProbe("/livez", port, "startup"),
      volumeMounts: volumes.map(([n, path, , readOnly]) => ({ name: n, mountPath: path, readOnly })),
    });
    expect(podVolumes).toEqual(volumes.map(([n, path, type]) => ({ name: n, hostPath: { path, type } })));
  });

  it("pulls from another registry when asked, and strips a leading v from the version once", () => {
    const pod = parse(renderSchedulerManifest({ ...INPUT, imageRepository: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/k8s" }));
    expect(pod.spec.containers[0].image).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/k8s/kube-scheduler:v1.33.5");
    expect(parse(renderControllerManagerManifest({ ...INPUT, kubernetesVersion: "1.34.0" })).spec.containers[0].image).toBe("registry.k8s.io/kube-controller-manager:v1.34.0");
  });

  it("keeps the API server terminating for the shutdown delay plus 60 s of draining", () => {
    expect(REQUEST_DRAIN_SECONDS).toBe(60);
    expect(apiServerTerminationGraceSeconds({ ...INPUT, shutdownDelaySeconds: 40 })).toBe(100);
    expect(parse(renderApiServerManifest({ ...INPUT, shutdownDelaySeconds: 40 })).spec.terminationGracePeriodSeconds).toBe(100);
  });

  it("has kubeadm's probe timings as its floor", () => {
    expect(KUBEADM_PROBES).toEqual({
      liveness: { initialDelaySeconds: 10, timeoutSeconds: 15, periodSeconds: 10, failureThreshold: 8 },
      readiness: { initialDelaySeconds: 0, timeoutSeconds: 15, periodSeconds: 1, failureThreshold: 3 },
      startup: { initialDelaySeconds: 10, timeoutSeconds: 15, periodSeconds: 10, failureThreshold: 24 },
    });
  });

  it("names the markers and paths the node scripts replace and read", () => {
    expect([SLOT_IP_MARKER, KUBECONFIG_HASH_MARKER, KUBECONFIG_HASH_ANNOTATION, TRUST_HASH_MARKER, TRUST_HASH_ANNOTATION]).toEqual([
      "@@SLOT_IP@@",
      "@@KUBECONFIG_SHA256@@",
      "ha-control-plane/kubeconfig-sha256",
      "@@TRUST_SHA256@@",
      "ha-control-plane/trust-sha256",
    ]);
    expect(KUBE_PATHS).toEqual({
      pki: "/etc/kubernetes/pki",
      manifests: "/etc/kubernetes/manifests",
      authenticationConfig: "/etc/kubernetes/authentication-config.yaml",
      auditPolicy: "/etc/kubernetes/audit-policy.yaml",
      admissionConfig: "/etc/kubernetes/admission-config.yaml",
      eventRateLimitConfig: "/etc/kubernetes/event-rate-limit.yaml",
      encryptionConfig: "/etc/kubernetes/encryption-config.yaml",
      auditLogDir: "/var/log/kubernetes/audit",
      controllerManagerKubeconfig: "/etc/kubernetes/controller-manager.conf",
      schedulerKubeconfig: "/etc/kubernetes/scheduler.conf",
      kubeconfigTemplates: "/etc/ha-control-plane/kubeconfigs",
      kubeletConfig: "/var/lib/kubelet/config.yaml",
      kubeletKubeconfig: "/etc/kubernetes/kubelet.conf",
    });
  });
});

describe("input checks", () => {
  it.each<[string, Partial<ControlPlaneComponentsInput>, string]>([
    ["no etcd servers", { etcdServers: [] }, "etcdServers is []: the API server needs every etcd member; pass IEtcdCluster.clientUrls"],
    ["a plain-HTTP etcd server", { etcdServers: ["https://10.0.1.20:2379", "http://10.0.2.20:2379"] }, 'etcdServers[1] is "http://10.0.2.20:2379": etcd must be reached over TLS; use https:// client URLs'],
    ["an etcd server with https later in the URL", { etcdServers: ["tcp://https://x"] }, 'etcdServers[0] is "tcp://https://x": etcd must be reached over TLS'],
    ["a shutdown delay of 0 s", { shutdownDelaySeconds: 0 }, "shutdownDelaySeconds is 0: must be 1 to 600 seconds; derive it from the load balancer (IApiEndpoint.shutdownDelaySeconds)"],
    ["a shutdown delay of 601 s", { shutdownDelaySeconds: 601 }, "shutdownDelaySeconds is 601: must be 1 to 600 seconds"],
    ["a shutdown delay of 2.5 s", { shutdownDelaySeconds: 2.5 }, "shutdownDelaySeconds is 2.5: must be 1 to 600 seconds"],
  ])("refuses %s", (_t, over, message) => {
    let err: unknown;
    try {
      apiServerFlags({ ...INPUT, ...over });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message.startsWith(message)).toBe(true);
  });
  it("accepts shutdown delays of 1 and 600 s", () => {
    expect(() => checkComponentsInput({ ...INPUT, shutdownDelaySeconds: 1 })).not.toThrow();
    expect(() => checkComponentsInput({ ...INPUT, shutdownDelaySeconds: 600 })).not.toThrow();
  });
});

describe("configuration files, against the Kubernetes API kinds they declare", () => {
  it("AuthenticationConfiguration: anonymous only for /livez, /readyz, /healthz (CIS 1.2.1)", () => {
    expect(parse(renderAuthenticationConfig())).toEqual({
      apiVersion: "apiserver.config.k8s.io/v1beta1",
      kind: "AuthenticationConfiguration",
      anonymous: { enabled: true, conditions: [{ path: "/livez" }, { path: "/readyz" }, { path: "/healthz" }] },
    });
  });

  it("audit Policy: no bodies of secrets, config maps and tokens; writes at Request; noise at None", () => {
    expect(parse(renderAuditPolicy())).toEqual({
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
  });

  it("AdmissionConfiguration and EventRateLimit Configuration (CIS 1.2.9)", () => {
    expect(parse(renderAdmissionConfig())).toEqual({
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "AdmissionConfiguration",
      plugins: [{ name: "EventRateLimit", path: "/etc/kubernetes/event-rate-limit.yaml" }],
    });
    expect(parse(renderEventRateLimitConfig())).toEqual({
      apiVersion: "eventratelimit.admission.k8s.io/v1alpha1",
      kind: "Configuration",
      limits: [
        { type: "Server", qps: 50, burst: 100 },
        { type: "Namespace", qps: 10, burst: 50, cacheSize: 2000 },
      ],
    });
  });

  it("KubeletConfiguration: CIS 4.2.x settings, static pods only, not registered", () => {
    expect(parse(renderKubeletConfig())).toEqual({
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      staticPodPath: "/etc/kubernetes/manifests",
      cgroupDriver: "systemd",
      authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: "/etc/kubernetes/pki/ca.crt" } }, // CIS 4.2.1, 4.2.3
      authorization: { mode: "Webhook" }, // CIS 4.2.2
      registerNode: false,
      readOnlyPort: 0, // CIS 4.2.4
      address: "127.0.0.1",
      protectKernelDefaults: true, // CIS 4.2.6
      makeIPTablesUtilChains: true, // CIS 4.2.7
      eventRecordQPS: 5, // CIS 4.2.9
      shutdownGracePeriod: "120s",
      shutdownGracePeriodCriticalPods: "100s",
      tlsMinVersion: "VersionTLS12",
    });
  });

  it("kubelet kubeconfig: the local API server, credentials as PKI markers, one context", () => {
    expect(parse(renderKubeletKubeconfig("prod"))).toEqual({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "prod", cluster: { server: "https://127.0.0.1:6443", "certificate-authority-data": "@@PKI_BASE64:ca.crt@@" } }],
      users: [{ name: "kube-apiserver-kubelet-client", user: { "client-certificate-data": "@@PKI_BASE64:apiserver-kubelet-client.crt@@", "client-key-data": "@@PKI_BASE64:apiserver-kubelet-client.key@@" } }],
      contexts: [{ name: "kube-apiserver-kubelet-client@prod", context: { cluster: "prod", user: "kube-apiserver-kubelet-client" } }],
      "current-context": "kube-apiserver-kubelet-client@prod",
    });
  });

  it("writes long values on one line (the node scripts read single lines)", () => {
    const long = "https://" + "e".repeat(150) + ":2379";
    expect(renderApiServerManifest({ ...INPUT, etcdServers: [long] })).toContain(`--etcd-servers=${long}\n`);
    expect(renderKubeletKubeconfig("c".repeat(150))).toContain(`current-context: kube-apiserver-kubelet-client@${"c".repeat(150)}\n`);
  });
});
