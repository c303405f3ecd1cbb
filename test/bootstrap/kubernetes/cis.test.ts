/**
 * The CIS Kubernetes Benchmark's automated control-plane items (kube-bench numbering, field guide
 * §6), checked one by one against the flags in the rendered static pod manifests — parsed back
 * from the YAML the node receives, not from the flag functions. Prints the count passed.
 */
import { parse } from "yaml";
import { Testing } from "../../../lib/core";
import { HaClusterStack } from "../../../examples/ha-cluster/main";
import { KUBEADM_PROBES, STRONG_CIPHER_SUITES, nodeScript, renderApiServerManifest, renderAuthenticationConfig, renderControllerManagerManifest, renderKubeletConfig, renderSchedulerManifest } from "../../../lib";
import { nodeFilesOf, resources, synthStack } from "../../helpers/synth";

type Flags = Map<string, string>;

/** Flags of a static pod manifest's first container. */
function flagsOf(manifest: string): Flags {
  const pod = parse(manifest);
  const command: string[] = pod.spec.containers[0].command;
  return new Map(command.slice(1).map((arg) => {
    const m = /^--([^=]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unexpected argument ${arg}`);
    return [m[1], m[2]];
  }));
}

/** The manifests exactly as the reference cluster's API server user data carries them. */
function manifestsFromUserData(): Record<string, string> {
  const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
  const lt = resources(json, "aws_launch_template").find((l) => l.props.name === "prod-eu1-apiserver")!;
  const files: Record<string, string> = {};
  for (const f of nodeFilesOf(json, lt)) files[f.path] = f.content;
  return files;
}

const files = manifestsFromUserData();
const api = flagsOf(files["/etc/ha-control-plane/manifests/kube-apiserver.yaml"]);
const cm = flagsOf(files["/etc/ha-control-plane/manifests/kube-controller-manager.yaml"]);
const sched = flagsOf(files["/etc/ha-control-plane/manifests/kube-scheduler.yaml"]);
const list = (f: Flags, k: string) => (f.get(k) ?? "").split(",").filter((x) => x.length > 0);
const set = (f: Flags, k: string) => (f.get(k) ?? "").length > 0;

const ITEMS: Array<[string, string, () => boolean]> = [
  ["1.2.1", "anonymous auth limited to health endpoints", () => !api.has("anonymous-auth") && set(api, "authentication-config") && /\/readyz/.test(renderAuthenticationConfig()) && !/path: \/api/.test(renderAuthenticationConfig())],
  ["1.2.2", "no --token-auth-file", () => !api.has("token-auth-file")],
  ["1.2.3", "DenyServiceExternalIPs enabled", () => list(api, "enable-admission-plugins").includes("DenyServiceExternalIPs")],
  ["1.2.4", "--kubelet-client-certificate and -key", () => set(api, "kubelet-client-certificate") && set(api, "kubelet-client-key")],
  ["1.2.5", "--kubelet-certificate-authority", () => set(api, "kubelet-certificate-authority")],
  ["1.2.6", "--authorization-mode not AlwaysAllow", () => !list(api, "authorization-mode").includes("AlwaysAllow")],
  ["1.2.7", "--authorization-mode includes Node", () => list(api, "authorization-mode").includes("Node")],
  ["1.2.8", "--authorization-mode includes RBAC", () => list(api, "authorization-mode").includes("RBAC")],
  ["1.2.9", "EventRateLimit enabled", () => list(api, "enable-admission-plugins").includes("EventRateLimit") && set(api, "admission-control-config-file")],
  ["1.2.10", "AlwaysAdmit not enabled", () => !list(api, "enable-admission-plugins").includes("AlwaysAdmit")],
  ["1.2.12", "ServiceAccount not disabled", () => !list(api, "disable-admission-plugins").includes("ServiceAccount")],
  ["1.2.13", "NamespaceLifecycle not disabled", () => !list(api, "disable-admission-plugins").includes("NamespaceLifecycle")],
  ["1.2.14", "NodeRestriction enabled", () => list(api, "enable-admission-plugins").includes("NodeRestriction")],
  ["1.2.15", "--profiling=false", () => api.get("profiling") === "false"],
  ["1.2.16", "--audit-log-path set", () => set(api, "audit-log-path")],
  ["1.2.17", "--audit-log-maxage ≥ 30", () => Number(api.get("audit-log-maxage")) >= 30],
  ["1.2.18", "--audit-log-maxbackup ≥ 10", () => Number(api.get("audit-log-maxbackup")) >= 10],
  ["1.2.19", "--audit-log-maxsize ≥ 100", () => Number(api.get("audit-log-maxsize")) >= 100],
  ["1.2.21", "--service-account-lookup not false", () => api.get("service-account-lookup") !== "false"],
  ["1.2.22", "--service-account-key-file", () => set(api, "service-account-key-file")],
  ["1.2.23", "--etcd-certfile and --etcd-keyfile", () => set(api, "etcd-certfile") && set(api, "etcd-keyfile")],
  ["1.2.24", "--tls-cert-file and --tls-private-key-file", () => set(api, "tls-cert-file") && set(api, "tls-private-key-file")],
  ["1.2.25", "--client-ca-file", () => set(api, "client-ca-file")],
  ["1.2.26", "--etcd-cafile", () => set(api, "etcd-cafile")],
  ["1.2.27", "--encryption-provider-config", () => set(api, "encryption-provider-config")],
  ["1.2.28", "encryption provider aescbc, secretbox or kms", () => /^\s+- secretbox:$/m.test(nodeScript("ha-kube-configure.sh"))],
  ["1.2.29", "strong cipher suites only", () => list(api, "tls-cipher-suites").length > 0 && list(api, "tls-cipher-suites").every((c) => STRONG_CIPHER_SUITES.includes(c) && !/CBC|RC4|3DES/.test(c))],
  ["1.3.1", "--terminated-pod-gc-threshold", () => set(cm, "terminated-pod-gc-threshold")],
  ["1.3.2", "controller-manager --profiling=false", () => cm.get("profiling") === "false"],
  ["1.3.3", "--use-service-account-credentials=true", () => cm.get("use-service-account-credentials") === "true"],
  ["1.3.4", "--service-account-private-key-file", () => set(cm, "service-account-private-key-file")],
  ["1.3.5", "--root-ca-file", () => set(cm, "root-ca-file")],
  ["1.3.7", "controller-manager --bind-address=127.0.0.1", () => cm.get("bind-address") === "127.0.0.1"],
  ["1.4.1", "scheduler --profiling=false", () => sched.get("profiling") === "false"],
  ["1.4.2", "scheduler --bind-address=127.0.0.1", () => sched.get("bind-address") === "127.0.0.1"],
  ["3.2.1", "--audit-policy-file", () => set(api, "audit-policy-file")],
];

describe("CIS benchmark: automated control-plane items", () => {
  let passed = 0;
  afterAll(() => console.log(`CIS control-plane items: ${passed} of ${ITEMS.length} automated items pass`));
  it.each(ITEMS)("%s %s", (_id, _what, check) => {
    expect(check()).toBe(true);
    passed++;
  });

  it("keeps every manifest, kubeconfig and key file 0600 on the node", () => {
    const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
    const lt = resources(json, "aws_launch_template").find((l) => l.props.name === "prod-eu1-apiserver")!;
    for (const f of nodeFilesOf(json, lt)) {
      if (/\/etc\/kubernetes\/|manifests\/|kubelet\/config/.test(f.path) && !f.path.includes("kubelet.service.d")) expect([f.path, f.permissions]).toEqual([f.path, "0600"]);
    }
  });
});

describe("kube-apiserver behind the load balancer", () => {
  const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
  const hc = resources(json, "aws_lb_target_group")[0].props.health_check;
  const detection = hc.interval * hc.unhealthy_threshold;
  const pod = parse(files["/etc/ha-control-plane/manifests/kube-apiserver.yaml"]);

  it("keeps serving after SIGTERM longer than the load balancer needs to notice (shutdown delay > detection time)", () => {
    const delay = Number(/^(\d+)s$/.exec(api.get("shutdown-delay-duration")!)![1]);
    expect(delay).toBeGreaterThan(detection);
    expect(delay).toBeGreaterThanOrEqual(detection + hc.interval);
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(delay);
  });

  it("lists every etcd member over TLS, advertises the slot IP and reconciles endpoints by lease", () => {
    expect(list(api, "etcd-servers")).toEqual(["https://10.0.0.20:2379", "https://10.0.16.20:2379", "https://10.0.32.20:2379"]);
    expect(api.get("advertise-address")).toBe("@@SLOT_IP@@");
    expect(api.get("endpoint-reconciler-type")).toBe("lease");
    expect(api.get("service-cluster-ip-range")).toBe("10.96.0.0/12");
  });

  it("probes /livez, /readyz and startup with at least kubeadm's timings", () => {
    const c = pod.spec.containers[0];
    expect(c.livenessProbe.httpGet).toMatchObject({ path: "/livez", scheme: "HTTPS", port: 6443 });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: "/readyz", scheme: "HTTPS" });
    expect(c.startupProbe.httpGet).toMatchObject({ path: "/livez" });
    for (const [probe, floor] of [[c.livenessProbe, KUBEADM_PROBES.liveness], [c.readinessProbe, KUBEADM_PROBES.readiness], [c.startupProbe, KUBEADM_PROBES.startup]] as const) {
      expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(floor.timeoutSeconds);
      expect(probe.periodSeconds * probe.failureThreshold).toBeGreaterThanOrEqual(floor.periodSeconds * floor.failureThreshold);
    }
  });

  it("runs controller-manager and scheduler with leader election against the local API server", () => {
    expect(cm.get("leader-elect")).toBe("true");
    expect(sched.get("leader-elect")).toBe("true");
    // Templates: ha-kube-configure embeds the certificates (test/bootstrap/kubernetes/static-pod-files*).
    const kubeconfig = parse(files["/etc/ha-control-plane/kubeconfigs/controller-manager.conf"]);
    expect(kubeconfig.clusters[0].cluster.server).toBe("https://127.0.0.1:6443");
    expect(parse(files["/etc/ha-control-plane/kubeconfigs/scheduler.conf"]).users[0].user["client-certificate-data"]).toBe("@@PKI_BASE64:scheduler.crt@@");
  });

  it("renders the same flags for a real slot IP as the node writes after substitution", () => {
    const input = { clusterName: "c", kubernetesVersion: "1.33.5", advertiseAddress: "10.0.0.10", etcdServers: ["https://10.0.0.20:2379"], serviceCidr: "10.96.0.0/12", podCidr: "10.244.0.0/16", clusterDomain: "cluster.local", shutdownDelaySeconds: 20 };
    expect(flagsOf(renderApiServerManifest(input)).get("advertise-address")).toBe("10.0.0.10");
    expect(flagsOf(renderControllerManagerManifest(input)).get("cluster-cidr")).toBe("10.244.0.0/16");
    expect(flagsOf(renderSchedulerManifest(input)).get("bind-address")).toBe("127.0.0.1");
    expect(parse(renderKubeletConfig())).toMatchObject({ readOnlyPort: 0, authentication: { anonymous: { enabled: false } }, address: "127.0.0.1" });
    expect(parse(renderApiServerManifest(input)).spec.containers[0].image).toBe("registry.k8s.io/kube-apiserver:v1.33.5");
  });
});
