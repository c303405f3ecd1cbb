import { parse } from "yaml";
import { Construct } from "constructs";
import {
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  ClusterObjects,
  ClusterObjectsStack,
  DEFAULT_PRIORITY_CLASSES,
  KUBEADM_RBAC,
  NODE_BOOTSTRAP_GROUP,
  PreemptionPolicy,
  ProviderIdentity,
} from "../../lib/cluster";
import { ConfigError } from "../../lib/errors";
import { TerraformStack, Testing } from "../../lib/core";
import { FoundResource, SynthJson, follow, only, resources } from "../helpers/synth";
import { literalAccess, synthObjects } from "./fixtures";

/** The one resource of `type` whose Kubernetes name (and namespace, when given) is as asked. */
function named(json: SynthJson, type: string, name: string, namespace?: string): FoundResource {
  const found = resources(json, type).filter((r) => r.props.metadata.name === name && (namespace === undefined || r.props.metadata.namespace === namespace));
  if (found.length !== 1) throw new Error(`expected one ${type} ${namespace ?? ""}/${name}, found ${found.length}`);
  return found[0];
}

/** The ClusterRoleBinding named `name` (the Kubernetes name, not the Terraform one). */
function binding(json: SynthJson, name: string): FoundResource {
  const found = resources(json, "kubernetes_cluster_role_binding_v1").filter((r) => r.props.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one binding ${name}, found ${found.length}`);
  return found[0];
}

function subjects(r: FoundResource): string[] {
  return (r.props.subject as { kind: string; name: string; api_group: string }[]).map((s) => `${s.kind}:${s.name}@${s.api_group}`);
}

describe("ClusterObjectsStack", () => {
  const { json } = synthObjects();

  describe("kubernetes provider", () => {
    it("authenticates as the super-admin by default, with the access values", () => {
      const provider = (json.provider as Record<string, Record<string, string>[]>).kubernetes[0];
      const access = literalAccess();
      expect(provider.host).toBe(access.apiUrl);
      expect(provider.cluster_ca_certificate).toBe(access.caCertPem);
      expect(provider.client_certificate).toBe(access.superAdminCredentials!.certPem);
      expect(provider.client_key).toBe(access.superAdminCredentials!.privateKeyPem);
      expect(provider.config_path).toBeUndefined();
    });

    it("authenticates as kubernetes-admin with ProviderIdentity.ADMIN", () => {
      const { json: admin } = synthObjects({ providerIdentity: ProviderIdentity.ADMIN });
      const provider = (admin.provider as Record<string, Record<string, string>[]>).kubernetes[0];
      expect(provider.client_certificate).toBe(literalAccess().adminCredentials.certPem);
    });

    it("refuses the default identity without super-admin credentials, explaining the bootstrap cycle", () => {
      expect(() => synthObjects({ access: literalAccess({ superAdminCredentials: undefined }) })).toThrow(/access.superAdminCredentials is undefined: .*kubeadm:cluster-admins.*SuperAdminCertificate/);
    });

    it("refuses a control plane from its own stack (the provider would fall back to localhost)", () => {
      const stack = new TerraformStack(Testing.app(), "same");
      const source = new Construct(stack, "ControlPlane");
      expect(() => new ClusterObjects(stack, "Objects", { access: literalAccess({ source }) })).toThrow(/same stack.*localhost/);
    });

    it("refuses access values that are not an https endpoint or a PEM", () => {
      expect(() => literalAccess({ apiUrl: "http://api:6443" })).toThrow(ConfigError);
      expect(() => literalAccess({ apiUrl: "http://api:6443" })).toThrow(/^access.apiUrl is "http:\/\/api:6443"/);
      expect(() => literalAccess({ caCertPem: "not a pem" })).toThrow(/^access.caCertPem is "not a pem": is not a PEM certificate/);
      expect(() => literalAccess({ clusterName: "Demo" })).toThrow(/^access.clusterName/);
    });
  });

  describe("bootstrap token", () => {
    const secret = only(json, "kubernetes_secret_v1");
    const clock = only(json, "tls_self_signed_cert");

    it("is a bootstrap.kubernetes.io/token Secret bootstrap-token-<id> in kube-system", () => {
      expect(secret.props.type).toBe(BOOTSTRAP_TOKEN_SECRET_TYPE);
      expect(secret.props.metadata.namespace).toBe("kube-system");
      expect(secret.props.metadata.name).toBe(`bootstrap-token-${secret.props.data["token-id"]}`);
    });

    it("authenticates and signs, in kubeadm's node group", () => {
      expect(secret.props.data).toMatchObject({
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
        "auth-extra-groups": NODE_BOOTSTRAP_GROUP,
      });
    });

    it("derives id and secret from a tls private key and the expiry certificate", () => {
      const id = secret.props.data["token-id"] as string;
      const tokenSecret = secret.props.data["token-secret"] as string;
      const key = only(json, "tls_private_key");
      for (const expr of [id, tokenSecret]) {
        expect(expr).toContain(`tls_private_key.${key.name}.private_key_pem`);
        expect(expr).toContain(`tls_self_signed_cert.${clock.name}.cert_pem`);
        expect(expr).toContain("sha512(");
      }
      expect(id.match(/element\(/g)).toHaveLength(6);
      expect(tokenSecret.match(/element\(/g)).toHaveLength(16);
      // The id is public (it names the Secret); the secret stays sensitive.
      expect(id).toMatch(/^\$\{nonsensitive\(/);
      expect(tokenSecret).not.toContain("nonsensitive");
      expect(key.props.algorithm).toBe("ED25519");
    });

    it("expires when the expiry certificate does: 24 h by default, replaced by a deploy in the second half", () => {
      expect(follow(json, secret.props.data.expiration).name).toBe(clock.name);
      expect(secret.props.data.expiration).toMatch(/\.validity_end_time\}$/);
      expect(clock.props.validity_period_hours).toBe(24);
      expect(clock.props.early_renewal_hours).toBe(12);
    });

    it("takes a lifetime, an early-renewal window and a rotation counter", () => {
      const { json: custom } = synthObjects({ bootstrapToken: { ttlHours: 168, earlyRenewalHours: 96, rotation: 3 } });
      const cert = only(custom, "tls_self_signed_cert");
      expect(cert.props.validity_period_hours).toBe(168);
      expect(cert.props.early_renewal_hours).toBe(96);
      expect(cert.props.subject[0].common_name).toBe("bootstrap-token-clock-3");
    });

    it("refuses lifetimes and groups the API server would not honour", () => {
      expect(() => synthObjects({ bootstrapToken: { ttlHours: 1 } })).toThrow(/^bootstrapToken.ttlHours is 1/);
      expect(() => synthObjects({ bootstrapToken: { ttlHours: 24, earlyRenewalHours: 24 } })).toThrow(/^bootstrapToken.earlyRenewalHours is 24/);
      expect(() => synthObjects({ bootstrapToken: { extraGroups: ["system:nodes"] } })).toThrow(/^bootstrapToken.extraGroups\[0\] is "system:nodes": .*system:bootstrappers:/);
    });
  });

  describe("join RBAC (kubeadm's names)", () => {
    it.each([
      [KUBEADM_RBAC.kubeletBootstrap, "system:node-bootstrapper", `Group:${NODE_BOOTSTRAP_GROUP}`],
      [KUBEADM_RBAC.nodeAutoapproveBootstrap, "system:certificates.k8s.io:certificatesigningrequests:nodeclient", `Group:${NODE_BOOTSTRAP_GROUP}`],
      [KUBEADM_RBAC.nodeAutoapproveCertificateRotation, "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "Group:system:nodes"],
      [KUBEADM_RBAC.clusterAdmins, "cluster-admin", "Group:kubeadm:cluster-admins"],
    ])("binds %s to the cluster role %s for %s", (name, role, subject) => {
      const b = binding(json, name);
      expect(b.props.role_ref).toEqual({ api_group: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role });
      expect(subjects(b)).toEqual([`${subject}@rbac.authorization.k8s.io`]);
    });

    it("lets bootstrap tokens get nodes through kubeadm:get-nodes", () => {
      const role = named(json, "kubernetes_cluster_role_v1", KUBEADM_RBAC.getNodes);
      expect(role.props.rule).toEqual([{ api_groups: [""], resources: ["nodes"], verbs: ["get"] }]);
      const b = binding(json, KUBEADM_RBAC.getNodes);
      expect(b.props.role_ref.name).toBe(`\${kubernetes_cluster_role_v1.${role.name}.metadata[0].name}`);
      expect(subjects(b)).toEqual([`Group:${NODE_BOOTSTRAP_GROUP}@rbac.authorization.k8s.io`]);
    });

    it("binds the platform team's groups to cluster-admin only when given", () => {
      expect(resources(json, "kubernetes_cluster_role_binding_v1").map((r) => r.props.metadata.name)).not.toContain("platform:cluster-admins");
      const { json: withGroups } = synthObjects({ platformAdminGroups: ["acme:sre", "acme:oncall"] });
      const b = binding(withGroups, "platform:cluster-admins");
      expect(b.props.role_ref.name).toBe("cluster-admin");
      expect(subjects(b)).toEqual(["Group:acme:sre@rbac.authorization.k8s.io", "Group:acme:oncall@rbac.authorization.k8s.io"]);
    });

    it("refuses platform groups that are already all-powerful or repeated", () => {
      expect(() => synthObjects({ platformAdminGroups: ["system:masters"] })).toThrow(/^platformAdminGroups\[0\] is "system:masters"/);
      expect(() => synthObjects({ platformAdminGroups: ["a", "a"] })).toThrow(/^platformAdminGroups is \["a","a"\]: lists a group twice/);
    });
  });

  describe("cluster-info", () => {
    const configMap = named(json, "kubernetes_config_map_v1", "cluster-info", "kube-public");
    const data = only(json, "kubernetes_config_map_v1_data");

    it("is the ConfigMap cluster-info in kube-public, whose data Terraform leaves to the bootstrap signer", () => {
      expect(configMap.props.metadata).toMatchObject({ name: "cluster-info", namespace: "kube-public" });
      expect(configMap.props.lifecycle).toEqual({ ignore_changes: ["data"] });
      expect(configMap.props.data).toBeUndefined();
    });

    it("owns only the kubeconfig key, through server-side apply", () => {
      expect(Object.keys(data.props.data)).toEqual(["kubeconfig"]);
      expect(data.props.field_manager).toBe("cdktf-ha-control-plane");
      expect(data.props.force).toBe(true);
      expect(data.props.metadata.name).toBe(`\${kubernetes_config_map_v1.${configMap.name}.metadata[0].name}`);
    });

    it("holds kubeadm's discovery kubeconfig: the internal endpoint and the CA, cluster named \"\"", () => {
      const kubeconfig = parse(data.props.data.kubeconfig);
      expect(kubeconfig).toEqual({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "", cluster: { server: literalAccess().internalApiUrl, "certificate-authority-data": expect.stringMatching(/^\$\{base64encode\(/) } }],
        contexts: null,
        "current-context": "",
        preferences: {},
        users: null,
      });
    });

    it("lets anonymous read it only when asked (our API servers refuse anonymous there anyway)", () => {
      expect(resources(json, "kubernetes_role_v1").filter((r) => r.props.metadata.namespace === "kube-public")).toHaveLength(0);
      const { json: open } = synthObjects({ allowAnonymousClusterInfo: true });
      const role = named(open, "kubernetes_role_v1", "kubeadm:bootstrap-signer-clusterinfo", "kube-public");
      expect(role.props.rule).toEqual([{ api_groups: [""], resources: ["configmaps"], resource_names: ["cluster-info"], verbs: ["get"] }]);
      const rb = named(open, "kubernetes_role_binding_v1", "kubeadm:bootstrap-signer-clusterinfo", "kube-public");
      expect(rb.props.subject).toEqual([{ api_group: "rbac.authorization.k8s.io", kind: "User", name: "system:anonymous" }]);
    });
  });

  describe("priority classes", () => {
    it("creates platform-critical and platform-high by default, below the system classes", () => {
      const classes = resources(json, "kubernetes_priority_class_v1").map((r) => r.props);
      expect(classes.map((c) => [c.metadata.name, c.value])).toEqual(DEFAULT_PRIORITY_CLASSES.map((c) => [c.name, c.value]));
      for (const c of classes) {
        expect(c.value).toBeLessThanOrEqual(1_000_000_000);
        expect(c.global_default).toBe(false);
        expect(c.preemption_policy).toBe("PreemptLowerPriority");
      }
    });

    it("takes the organisation's own classes, or none", () => {
      const { json: custom } = synthObjects({ priorityClasses: [{ name: "batch-low", value: -10, preemptionPolicy: PreemptionPolicy.NEVER, globalDefault: true }] });
      expect(only(custom, "kubernetes_priority_class_v1").props).toMatchObject({ metadata: { name: "batch-low" }, value: -10, preemption_policy: "Never", global_default: true });
      expect(resources(synthObjects({ priorityClasses: [] }).json, "kubernetes_priority_class_v1")).toHaveLength(0);
    });

    it.each([
      [[{ name: "system-platform", value: 1 }], /^priorityClasses\[0\].name is "system-platform": the system- prefix is reserved/],
      [[{ name: "huge", value: 2_000_000_000 }], /^priorityClasses\[0\].value is 2000000000/],
      [[{ name: "a", value: 1 }, { name: "a", value: 2 }], /^priorityClasses\[1\].name is "a": is listed twice/],
      [[{ name: "a", value: 1, globalDefault: true }, { name: "b", value: 2, globalDefault: true }], /more than one class globalDefault/],
      [[{ name: "Upper", value: 1 }], /^priorityClasses\[0\].name is "Upper"/],
    ])("refuses %j", (classes, message) => {
      expect(() => synthObjects({ priorityClasses: classes })).toThrow(message);
    });
  });

  describe("outputs", () => {
    const outputs = json.output as Record<string, { value: string; sensitive?: boolean }>;

    it("publishes the join information, the token and what holds it only as sensitive", () => {
      for (const name of ["bootstrap_token", "bootstrap_kubeconfig", "discovery_kubeconfig"]) expect(outputs[name].sensitive).toBe(true);
      for (const name of ["join_endpoint", "kubernetes_ca_certificate", "join_command", "cluster_dns_ip", "bootstrap_token_id", "bootstrap_token_expiration"]) {
        expect(outputs[name].sensitive).toBeUndefined();
      }
      expect(outputs.join_endpoint.value).toBe(literalAccess().internalApiUrl);
    });

    it("joins with file discovery; the token travels in the discovery file, not on the command line", () => {
      expect(outputs.join_command.value).toBe("kubeadm join --discovery-file /etc/kubernetes/discovery.yaml");
    });

    it("gives the kubelet a bootstrap kubeconfig with the token", () => {
      const kubeconfig = parse(outputs.bootstrap_kubeconfig.value);
      expect(kubeconfig.clusters[0].cluster.server).toBe(literalAccess().internalApiUrl);
      expect(kubeconfig.users[0].user.token).toContain("sha512(");
      expect(kubeconfig["current-context"]).toBe("tls-bootstrap-token-user@demo");
    });
  });

  it("is a stack of its own with only kubernetes and tls resources", () => {
    const types = Object.keys(json.resource ?? {});
    for (const t of types) expect(t).toMatch(/^(kubernetes|tls)_/);
    expect(new ClusterObjectsStack(Testing.app(), "x", { access: literalAccess() })).toBeInstanceOf(TerraformStack);
  });
});
