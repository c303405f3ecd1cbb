/**
 * What `kubeadm join` (1.33) needs from the cluster, checked on the synthesized cluster-objects
 * stack. Every expected name, key, verb and subject below is copied from kubeadm's source as a
 * literal (cmd/kubeadm/app/constants, phases/uploadconfig, phases/kubelet, phases/addons/proxy and
 * dns, discovery/file and discovery/token), not from the library.
 */
import { parse } from "yaml";
import { ConfigError } from "../../lib/errors";
import { FoundResource, SynthJson, resources } from "../helpers/synth";
import { literalAccess, synthObjects } from "./fixtures";

const RBAC = "rbac.authorization.k8s.io";
const BOOTSTRAPPERS = "system:bootstrappers:kubeadm:default-node-token";
const NODES = "system:nodes";

function named(json: SynthJson, type: string, name: string, namespace?: string): FoundResource {
  const found = resources(json, type).filter((r) => r.props.metadata.name === name && (namespace === undefined || r.props.metadata.namespace === namespace));
  if (found.length !== 1) throw new Error(`expected one ${type} ${namespace ?? ""}/${name}, found ${found.length}`);
  return found[0];
}

/** The literal Kubernetes name behind `${kubernetes_x.y.metadata[0].name}`, or the value itself. */
function nameOf(json: SynthJson, value: string): string {
  const m = /^\$\{(kubernetes_[a-z0-9_]+)\.([^.]+)\.metadata\[0\]\.name\}$/.exec(value);
  if (!m) return value;
  return (json.resource as Record<string, Record<string, { metadata: { name: string } }>>)[m[1]][m[2]].metadata.name;
}

function subjectsOf(json: SynthJson, r: FoundResource): string[] {
  return (r.props.subject as { kind: string; name: string; namespace?: string; api_group?: string }[])
    .map((s) => `${s.kind}:${s.namespace ? `${s.namespace}/` : ""}${nameOf(json, s.name)}`)
    .sort();
}

const { json } = synthObjects();
const outputs = json.output as Record<string, { value: string; sensitive?: boolean }>;

describe("kubeadm join discovery", () => {
  // kubeadm 1.33 discovery/token builds an insecure kubeconfig with no user for cluster-info, and
  // discovery/file uses the file's own credentials only when it has some
  // (kubeconfigutil.HasAuthenticationCredentials: token, tokenFile, client cert+key, username+password,
  // exec, auth provider). Our API servers answer anonymous requests off the health paths with 401,
  // which kubeadm never tolerates (only 403).
  const command = outputs.join_command.value.split(/\s+/);
  const kubeconfig = parse(outputs.discovery_kubeconfig.value);

  it("does not use token discovery (an anonymous read of cluster-info)", () => {
    for (const flag of ["--token", "--discovery-token", "--discovery-token-ca-cert-hash", "--discovery-token-unsafe-skip-ca-verification"]) {
      expect(command).not.toContain(flag);
    }
    expect(command.slice(0, 4)).toEqual(["kubeadm", "join", "--discovery-file", "/etc/kubernetes/discovery.yaml"]);
  });

  it("gives kubeadm a discovery file that authenticates with the bootstrap token", () => {
    const context = kubeconfig.contexts.find((c: { name: string }) => c.name === kubeconfig["current-context"]).context;
    const cluster = kubeconfig.clusters.find((c: { name: string }) => c.name === context.cluster).cluster;
    const user = kubeconfig.users.find((u: { name: string }) => u.name === context.user).user;
    expect(cluster.server).toBe(literalAccess().internalApiUrl);
    expect(cluster["certificate-authority-data"]).toMatch(/^\$\{base64encode\(/);
    // The token the API server knows: the same expressions as the bootstrap token Secret's id and secret.
    const secret = resources(json, "kubernetes_secret_v1").find((r) => r.props.type === "bootstrap.kubernetes.io/token")!;
    expect(user.token).toBe(`${secret.props.data["token-id"]}.${secret.props.data["token-secret"]}`);
    expect(outputs.discovery_kubeconfig.sensitive).toBe(true);
  });
});

describe("what kubeadm join reads after discovery (uploadconfig and kubelet phases)", () => {
  it.each([
    ["kubeadm:nodes-kubeadm-config", "kubeadm-config"],
    ["kubeadm:kubelet-config", "kubelet-config"],
  ])("Role kube-system/%s lets bootstrap tokens and nodes get ConfigMap %s", (roleName, configMap) => {
    const role = named(json, "kubernetes_role_v1", roleName, "kube-system");
    expect(role.props.rule).toEqual([{ api_groups: [""], resources: ["configmaps"], resource_names: [configMap], verbs: ["get"] }]);
    const binding = named(json, "kubernetes_role_binding_v1", roleName, "kube-system");
    expect(binding.props.role_ref.api_group).toBe(RBAC);
    expect(binding.props.role_ref.kind).toBe("Role");
    expect(nameOf(json, binding.props.role_ref.name)).toBe(roleName);
    expect(subjectsOf(json, binding)).toEqual([`Group:${BOOTSTRAPPERS}`, `Group:${NODES}`]);
    named(json, "kubernetes_config_map_v1", configMap, "kube-system");
  });

  it("kubeadm-config holds a v1beta4 ClusterConfiguration under the key ClusterConfiguration", () => {
    const cm = named(json, "kubernetes_config_map_v1", "kubeadm-config", "kube-system");
    expect(Object.keys(cm.props.data)).toEqual(["ClusterConfiguration"]);
    const cfg = parse(cm.props.data.ClusterConfiguration);
    expect(cfg).toMatchObject({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "ClusterConfiguration",
      clusterName: "demo",
      kubernetesVersion: "v1.33.5",
      controlPlaneEndpoint: "internal-demo.elb.eu-west-1.amazonaws.com:6443",
      imageRepository: "registry.k8s.io",
      networking: { dnsDomain: "cluster.local", serviceSubnet: "10.96.0.0/12", podSubnet: "10.244.0.0/16" },
      dns: { disabled: false },
      proxy: { disabled: false },
    });
  });

  it("kubelet-config holds the workers' KubeletConfiguration under the key kubelet, with serving-certificate bootstrap", () => {
    const cm = named(json, "kubernetes_config_map_v1", "kubelet-config", "kube-system");
    expect(Object.keys(cm.props.data)).toEqual(["kubelet"]);
    const cfg = parse(cm.props.data.kubelet);
    expect(cfg).toMatchObject({
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      // 10.96.0.0/12: kubeadm's DNS IP is the 10th address of the service subnet.
      clusterDNS: ["10.96.0.10"],
      clusterDomain: "cluster.local",
      serverTLSBootstrap: true,
      rotateCertificates: true,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: "/etc/kubernetes/pki/ca.crt" } },
      authorization: { mode: "Webhook" },
      cgroupDriver: "systemd",
    });
  });
});

describe("kube-proxy addon (kubeadm's phases/addons/proxy)", () => {
  it("runs registry.k8s.io/kube-proxy:v1.33.5 as DaemonSet kube-system/kube-proxy, not waiting for nodes", () => {
    const ds = named(json, "kubernetes_daemon_set_v1", "kube-proxy", "kube-system");
    expect(ds.props.wait_for_rollout).toBe(false);
    const pod = ds.props.spec.template.metadata.labels;
    expect(pod).toEqual({ "k8s-app": "kube-proxy" });
    const spec = ds.props.spec.template.spec;
    expect(spec.host_network).toBe(true);
    expect(spec.priority_class_name).toBe("system-node-critical");
    expect(nameOf(json, spec.service_account_name)).toBe("kube-proxy");
    expect(spec.container[0].image).toBe("registry.k8s.io/kube-proxy:v1.33.5");
    expect(spec.container[0].command).toEqual(["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"]);
  });

  it("binds its service account through kubeadm:node-proxier to system:node-proxier", () => {
    const crb = named(json, "kubernetes_cluster_role_binding_v1", "kubeadm:node-proxier");
    expect(crb.props.role_ref).toEqual({ api_group: RBAC, kind: "ClusterRole", name: "system:node-proxier" });
    expect(subjectsOf(json, crb)).toEqual(["ServiceAccount:kube-system/kube-proxy"]);
    named(json, "kubernetes_service_account_v1", "kube-proxy", "kube-system");
  });

  it("keeps its config in ConfigMap kube-system/kube-proxy (config.conf, kubeconfig.conf), readable by bootstrap tokens", () => {
    const cm = named(json, "kubernetes_config_map_v1", "kube-proxy", "kube-system");
    expect(Object.keys(cm.props.data).sort()).toEqual(["config.conf", "kubeconfig.conf"]);
    expect(parse(cm.props.data["config.conf"])).toMatchObject({ apiVersion: "kubeproxy.config.k8s.io/v1alpha1", kind: "KubeProxyConfiguration", clusterCIDR: "10.244.0.0/16" });
    const kc = parse(cm.props.data["kubeconfig.conf"]);
    expect(kc.clusters[0].cluster).toEqual({ "certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", server: literalAccess().internalApiUrl });
    expect(kc.users[0].user).toEqual({ tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token" });
    const role = named(json, "kubernetes_role_v1", "kube-proxy", "kube-system");
    expect(role.props.rule).toEqual([{ api_groups: [""], resources: ["configmaps"], resource_names: ["kube-proxy"], verbs: ["get"] }]);
    expect(subjectsOf(json, named(json, "kubernetes_role_binding_v1", "kube-proxy", "kube-system"))).toEqual([`Group:${BOOTSTRAPPERS}`]);
  });
});

describe("CoreDNS addon (kubeadm's phases/addons/dns)", () => {
  it("runs 2 replicas of registry.k8s.io/coredns/coredns:v1.12.0 spread across nodes, not waiting for nodes", () => {
    const d = named(json, "kubernetes_deployment_v1", "coredns", "kube-system");
    expect(d.props.wait_for_rollout).toBe(false);
    expect(d.props.spec.replicas).toBe("2");
    const spec = d.props.spec.template.spec;
    expect(spec.container[0].image).toBe("registry.k8s.io/coredns/coredns:v1.12.0");
    expect(spec.priority_class_name).toBe("system-cluster-critical");
    expect(spec.dns_policy).toBe("Default");
    expect(nameOf(json, spec.service_account_name)).toBe("coredns");
    const term = spec.affinity.pod_anti_affinity.preferred_during_scheduling_ignored_during_execution[0];
    expect(term.pod_affinity_term.topology_key).toBe("kubernetes.io/hostname");
    expect(term.pod_affinity_term.label_selector[0].match_expressions[0]).toEqual({ key: "k8s-app", operator: "In", values: ["kube-dns"] });
    const pdb = named(json, "kubernetes_pod_disruption_budget_v1", "coredns", "kube-system");
    expect(pdb.props.spec.max_unavailable).toBe("1");
    expect(pdb.props.spec.selector.match_labels).toEqual({ "k8s-app": "kube-dns" });
  });

  it("serves Service kube-system/kube-dns at the 10th address of the service CIDR", () => {
    const svc = named(json, "kubernetes_service_v1", "kube-dns", "kube-system");
    expect(svc.props.spec.cluster_ip).toBe("10.96.0.10");
    expect(svc.props.spec.selector).toEqual({ "k8s-app": "kube-dns" });
    expect(svc.props.spec.port.map((p: { name: string; port: number; protocol: string }) => `${p.name}:${p.port}/${p.protocol}`)).toEqual(["dns:53/UDP", "dns-tcp:53/TCP", "metrics:9153/TCP"]);
    expect(outputs.cluster_dns_ip.value).toBe("10.96.0.10");
  });

  it("reads the cluster through ClusterRole system:coredns, bound to its service account", () => {
    const role = named(json, "kubernetes_cluster_role_v1", "system:coredns");
    expect(role.props.rule).toEqual([
      { api_groups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
      { api_groups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
    ]);
    const crb = named(json, "kubernetes_cluster_role_binding_v1", "system:coredns");
    expect(subjectsOf(json, crb)).toEqual(["ServiceAccount:kube-system/coredns"]);
    const corefile = named(json, "kubernetes_config_map_v1", "coredns", "kube-system").props.data.Corefile as string;
    expect(corefile).toContain("kubernetes cluster.local in-addr.arpa ip6.arpa {");
    expect(corefile).toContain("forward . /etc/resolv.conf");
  });
});

describe("addons are opt-out", () => {
  it("leaves kube-proxy out and tells kubeadm so", () => {
    const { json: off } = synthObjects({ addons: { kubeProxy: false } });
    expect(resources(off, "kubernetes_daemon_set_v1")).toHaveLength(0);
    expect(resources(off, "kubernetes_config_map_v1").map((r) => r.props.metadata.name)).not.toContain("kube-proxy");
    const cfg = parse(named(off, "kubernetes_config_map_v1", "kubeadm-config").props.data.ClusterConfiguration);
    expect(cfg.proxy).toEqual({ disabled: true });
  });

  it("leaves CoreDNS out and tells kubeadm so", () => {
    const { json: off } = synthObjects({ addons: { coreDns: false } });
    expect(resources(off, "kubernetes_service_v1")).toHaveLength(0);
    expect(resources(off, "kubernetes_deployment_v1").map((r) => r.props.metadata.name)).not.toContain("coredns");
    expect(parse(named(off, "kubernetes_config_map_v1", "kubeadm-config").props.data.ClusterConfiguration).dns).toEqual({ disabled: true });
  });

  it("pulls from a mirror registry when asked", () => {
    const { json: mirror } = synthObjects({ addons: { imageRepository: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/k8s" } });
    expect(named(mirror, "kubernetes_daemon_set_v1", "kube-proxy").props.spec.template.spec.container[0].image).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/k8s/kube-proxy:v1.33.5");
    expect(named(mirror, "kubernetes_deployment_v1", "coredns").props.spec.template.spec.container[0].image).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/k8s/coredns:v1.12.0");
  });

  it("refuses a registry URL, a single CoreDNS replica and an unknown Kubernetes minor without a CoreDNS version", () => {
    expect(() => synthObjects({ addons: { imageRepository: "https://registry.k8s.io/" } })).toThrow(ConfigError);
    expect(() => synthObjects({ addons: { coreDnsReplicas: 1 } })).toThrow(/^addons.coreDnsReplicas is 1/);
    expect(() => synthObjects({ access: literalAccess({ kubernetesVersion: "1.40.0" }) })).toThrow(/^addons.coreDnsVersion/);
    expect(() => synthObjects({ access: literalAccess({ kubernetesVersion: "1.40.0" }), addons: { coreDnsVersion: "v1.14.0" } })).not.toThrow();
  });

  it("puts the DNS Service at the 10th address of a custom service CIDR", () => {
    const { json: custom } = synthObjects({ access: literalAccess({ serviceCidr: "172.20.0.0/16", clusterDomain: "corp.internal" }) });
    expect(named(custom, "kubernetes_service_v1", "kube-dns").props.spec.cluster_ip).toBe("172.20.0.10");
    expect(parse(named(custom, "kubernetes_config_map_v1", "kubelet-config").props.data.kubelet)).toMatchObject({ clusterDNS: ["172.20.0.10"], clusterDomain: "corp.internal" });
  });
});

describe("kubelet serving certificates (API server → kubelet TLS)", () => {
  const approver = () => named(json, "kubernetes_deployment_v1", "kubelet-csr-approver", "kube-system");
  const arg = (flag: string) => (approver().props.spec.template.spec.container[0].args as string[]).find((a) => a.startsWith(`-${flag}=`))!.slice(flag.length + 2);

  it("may only read CSRs and approve for the kubernetes.io/kubelet-serving signer", () => {
    const role = named(json, "kubernetes_cluster_role_v1", "kubelet-csr-approver");
    expect(role.props.rule).toEqual([
      { api_groups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["get", "list", "watch"] },
      { api_groups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval"], verbs: ["update"] },
      { api_groups: ["certificates.k8s.io"], resources: ["signers"], resource_names: ["kubernetes.io/kubelet-serving"], verbs: ["approve"] },
    ]);
    expect(subjectsOf(json, named(json, "kubernetes_cluster_role_binding_v1", "kubelet-csr-approver"))).toEqual(["ServiceAccount:kube-system/kubelet-csr-approver"]);
    expect(approver().props.spec.template.spec.container[0].image).toBe("ghcr.io/postfinance/kubelet-csr-approver:v1.2.15");
    expect(approver().props.wait_for_rollout).toBe(false);
  });

  it("approves only IPs of the VPC block", () => {
    expect(arg("provider-ip-prefixes")).toBe("10.0.0.0/16");
  });

  it.each([
    ["ip-10-0-1-5", true],
    ["ip-10-0-1-5.eu-west-1.compute.internal", true],
    ["ip-10-0-1-5.ec2.internal", true],
    ["i-0123456789abcdef0.eu-west-1.compute.internal", true],
    ["evil.example.com", false],
    ["ip-10-0-1-5.eu-west-1.compute.internal.evil.com", false],
    ["kubernetes.default.svc", false],
  ])("its name rule (EC2 private DNS names) says %s → %s", (name, ok) => {
    // Go's RE2 and JavaScript agree on this syntax (anchors, classes, bounded repeats, alternation).
    expect(new RegExp(arg("provider-regex")).test(name)).toBe(ok);
  });

  it("can be left out, and refuses unanchored rules and missing or too wide blocks", () => {
    const { json: off } = synthObjects({ kubeletServingCertificates: { approver: false } });
    expect(resources(off, "kubernetes_deployment_v1").map((r) => r.props.metadata.name)).not.toContain("kubelet-csr-approver");
    expect(parse(named(off, "kubernetes_config_map_v1", "kubelet-config").props.data.kubelet).serverTLSBootstrap).toBe(true);
    expect(() => synthObjects({ kubeletServingCertificates: { nodeNameRegex: "ip-.*" } })).toThrow(/^kubeletServingCertificates.nodeNameRegex is "ip-\.\*"/);
    expect(() => synthObjects({ access: literalAccess({ vpcCidr: undefined }) })).toThrow(/^kubeletServingCertificates.nodeIpPrefixes/);
    expect(() => synthObjects({ kubeletServingCertificates: { nodeIpPrefixes: ["0.0.0.0/0"] } })).toThrow(/wider than \/8/);
  });
});
