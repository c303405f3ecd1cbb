/**
 * Control-plane tier, scenario 7 (first half): `terraform apply` of the reference example's
 * cluster-objects stack against the running control plane through the load balancer (real
 * terraform, the plan mirror's providers; see cluster-objects.ts for the one substitution), then:
 * every declared object exists with the declared content, the bootstrap token authenticates and
 * gets the join RBAC, a second plan shows no change, an attribute the kubernetes stand-in cannot
 * convert fails apply, and `terraform destroy` removes every object.
 *
 * Oracles: the declared content is terraform's state of the configured attributes (terraform itself
 * refuses a provider result that differs from the configuration), mapped here to Kubernetes field
 * names from the Kubernetes API reference (not from the stand-in's tables); the objects are read
 * back over the REST API with the super-admin certificate; the bootstrap token and RBAC are judged
 * by the API server's own authenticator and authorizer (`kubectl auth whoami`, `auth can-i`).
 */
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { allOf, describeTier, toolAvailable } from "../harness/tiers";
import { etcdBinariesCheck, inotifyLimitsCheck, kubernetesBinariesCheck, motoCheck } from "../harness/real-components";
import { providerPlanCheck } from "../harness/provider-plan";
import { SUPER_ADMIN_SPEC_ID } from "../../lib/cluster/access";
import { ControlPlaneCluster } from "./control-plane";
import { AppliedClusterObjects, TerraformWorkspace, applyClusterObjects } from "./cluster-objects";
import { reporter } from "./scenarios";

const CHECK = allOf(inotifyLimitsCheck(), kubernetesBinariesCheck(), etcdBinariesCheck(), motoCheck(), toolAvailable("haproxy", ["-v"]), providerPlanCheck());

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const report = reporter();

/** REST paths of the kinds the stack declares (Kubernetes API reference). */
const API: Record<string, { readonly group: string; readonly plural: string; readonly namespaced: boolean }> = {
  kubernetes_config_map_v1: { group: "api/v1", plural: "configmaps", namespaced: true },
  kubernetes_config_map_v1_data: { group: "api/v1", plural: "configmaps", namespaced: true },
  kubernetes_secret_v1: { group: "api/v1", plural: "secrets", namespaced: true },
  kubernetes_service_account_v1: { group: "api/v1", plural: "serviceaccounts", namespaced: true },
  kubernetes_service_v1: { group: "api/v1", plural: "services", namespaced: true },
  kubernetes_deployment_v1: { group: "apis/apps/v1", plural: "deployments", namespaced: true },
  kubernetes_daemon_set_v1: { group: "apis/apps/v1", plural: "daemonsets", namespaced: true },
  kubernetes_pod_disruption_budget_v1: { group: "apis/policy/v1", plural: "poddisruptionbudgets", namespaced: true },
  kubernetes_priority_class_v1: { group: "apis/scheduling.k8s.io/v1", plural: "priorityclasses", namespaced: false },
  kubernetes_role_v1: { group: "apis/rbac.authorization.k8s.io/v1", plural: "roles", namespaced: true },
  kubernetes_role_binding_v1: { group: "apis/rbac.authorization.k8s.io/v1", plural: "rolebindings", namespaced: true },
  kubernetes_cluster_role_v1: { group: "apis/rbac.authorization.k8s.io/v1", plural: "clusterroles", namespaced: false },
  kubernetes_cluster_role_binding_v1: { group: "apis/rbac.authorization.k8s.io/v1", plural: "clusterrolebindings", namespaced: false },
};

function objectPath(type: string, v: Json): string {
  const api = API[type];
  if (!api) throw new Error(`no REST path for ${type}`);
  const md = v.metadata[0];
  return api.namespaced ? `/${api.group}/namespaces/${md.namespace}/${api.plural}/${md.name}` : `/${api.group}/${api.plural}/${md.name}`;
}

const nonEmpty = (x: unknown) => x !== null && x !== undefined && x !== "" && !(Array.isArray(x) && x.length === 0);
/** An object without the keys whose value is empty (the API omits them). */
const pruned = (o: Json): Json => Object.fromEntries(Object.entries(o).filter(([, x]) => nonEmpty(x)));

function expectContainer(declared: Json, actual: Json): void {
  expect(actual.name).toBe(declared.name);
  expect(actual.image).toBe(declared.image);
  if (nonEmpty(declared.image_pull_policy)) expect(actual.imagePullPolicy).toBe(declared.image_pull_policy);
  expect(actual.command ?? []).toEqual(declared.command ?? []);
  expect(actual.args ?? []).toEqual(declared.args ?? []);
  expect((actual.env ?? []).map((e: Json) => [e.name, e.value ?? null, e.valueFrom?.fieldRef?.fieldPath ?? null])).toEqual(
    (declared.env ?? []).map((e: Json) => [e.name, nonEmpty(e.value) ? e.value : null, e.value_from?.[0]?.field_ref?.[0]?.field_path ?? null]),
  );
  expect((actual.volumeMounts ?? []).map((m: Json) => [m.name, m.mountPath, m.readOnly === true])).toEqual(
    (declared.volume_mount ?? []).map((m: Json) => [m.name, m.mount_path, m.read_only === true]),
  );
  expect((actual.ports ?? []).map((p: Json) => [p.containerPort, p.name, p.protocol])).toEqual((declared.port ?? []).map((p: Json) => [p.container_port, p.name, p.protocol]));
  const res = declared.resources?.[0];
  if (res) {
    expect(actual.resources?.limits ?? {}).toEqual(res.limits ?? {});
    expect(actual.resources?.requests ?? {}).toEqual(res.requests ?? {});
  }
  const sc = declared.security_context?.[0];
  if (sc) {
    const a = actual.securityContext;
    expect(a.privileged === true).toBe(sc.privileged === true);
    expect(a.allowPrivilegeEscalation).toBe(sc.allow_privilege_escalation);
    expect(a.readOnlyRootFilesystem === true).toBe(sc.read_only_root_filesystem === true);
    if (nonEmpty(sc.run_as_user)) expect(String(a.runAsUser)).toBe(sc.run_as_user);
    // The SDK stores false for an unset nested bool: true is what was declared.
    expect(a.runAsNonRoot === true).toBe(sc.run_as_non_root === true);
    const caps = sc.capabilities?.[0];
    if (caps) expect(pruned(a.capabilities ?? {})).toEqual(pruned({ add: caps.add, drop: caps.drop }));
  }
  for (const [tf, k8s] of [["liveness_probe", "livenessProbe"], ["readiness_probe", "readinessProbe"]] as const) {
    const p = declared[tf]?.[0];
    if (!p) {
      expect(actual[k8s]).toBeUndefined();
      continue;
    }
    const h = p.http_get[0];
    expect([actual[k8s].httpGet.path, String(actual[k8s].httpGet.port), actual[k8s].httpGet.scheme]).toEqual([h.path, h.port, h.scheme]);
    for (const [tfKey, key] of [["initial_delay_seconds", "initialDelaySeconds"], ["timeout_seconds", "timeoutSeconds"], ["failure_threshold", "failureThreshold"], ["success_threshold", "successThreshold"], ["period_seconds", "periodSeconds"]]) {
      if (p[tfKey]) expect([key, actual[k8s][key]]).toEqual([key, p[tfKey]]);
    }
  }
}

function expectPodTemplate(declared: Json, actual: Json): void {
  expect(actual.metadata.labels).toEqual(declared.metadata[0].labels);
  const d = declared.spec[0];
  const a = actual.spec;
  expect(a.serviceAccountName).toBe(d.service_account_name);
  expect(a.priorityClassName).toBe(d.priority_class_name);
  expect(a.nodeSelector).toEqual(d.node_selector);
  expect(a.hostNetwork === true).toBe(d.host_network === true);
  expect(a.dnsPolicy).toBe(d.dns_policy);
  expect((a.tolerations ?? []).map(pruned)).toEqual((d.toleration ?? []).map((t: Json) => pruned({ key: t.key, operator: t.operator, effect: t.effect, value: t.value })));
  expect(a.containers).toHaveLength(d.container.length);
  d.container.forEach((c: Json, i: number) => expectContainer(c, a.containers[i]));
  expect((a.volumes ?? []).map((v: Json) => [v.name, v.configMap?.name ?? null, v.configMap?.items ?? null, v.hostPath?.path ?? null, v.hostPath?.type ?? null])).toEqual(
    (d.volume ?? []).map((v: Json) => [
      v.name,
      v.config_map?.[0]?.name ?? null,
      v.config_map?.[0]?.items?.length ? v.config_map[0].items.map((x: Json) => ({ key: x.key, path: x.path })) : null,
      v.host_path?.[0]?.path ?? null,
      v.host_path?.[0] ? v.host_path[0].type ?? "" : null,
    ]),
  );
  const anti = d.affinity?.[0]?.pod_anti_affinity?.[0]?.preferred_during_scheduling_ignored_during_execution;
  if (anti) {
    expect(a.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual(
      anti.map((p: Json) => {
        const term = p.pod_affinity_term[0];
        return {
          weight: p.weight,
          podAffinityTerm: {
            topologyKey: term.topology_key,
            labelSelector: { matchExpressions: term.label_selector[0].match_expressions.map((e: Json) => ({ key: e.key, operator: e.operator, values: e.values })) },
          },
        };
      }),
    );
  }
}

/** Asserts a live object `o` carries what the state `v` of resource `type` declares. */
function expectDeclared(type: string, v: Json, o: Json): void {
  const md = v.metadata[0];
  expect(o.metadata.name).toBe(md.name);
  if (API[type].namespaced) expect(o.metadata.namespace).toBe(md.namespace);
  if (type === "kubernetes_config_map_v1_data") {
    for (const [k, x] of Object.entries(v.data as Json)) expect([k, o.data[k]]).toEqual([k, x]);
    return;
  }
  expect(o.metadata.labels ?? {}).toEqual(expect.objectContaining(md.labels ?? {}));
  expect(o.metadata.annotations ?? {}).toEqual(expect.objectContaining(md.annotations ?? {}));
  switch (type) {
    case "kubernetes_config_map_v1":
      for (const [k, x] of Object.entries((v.data ?? {}) as Json)) expect([k, o.data[k]]).toEqual([k, x]);
      break;
    case "kubernetes_secret_v1": {
      expect(o.type).toBe(v.type);
      const decoded = Object.fromEntries(Object.entries(o.data as Json).map(([k, x]) => [k, Buffer.from(String(x), "base64").toString("utf8")]));
      expect(decoded).toEqual(v.data);
      break;
    }
    case "kubernetes_role_v1":
    case "kubernetes_cluster_role_v1":
      expect(o.rules.map(pruned)).toEqual(
        v.rule.map((r: Json) => pruned({ apiGroups: r.api_groups, resources: r.resources, resourceNames: r.resource_names, verbs: r.verbs, nonResourceURLs: r.non_resource_urls })),
      );
      break;
    case "kubernetes_role_binding_v1":
    case "kubernetes_cluster_role_binding_v1":
      expect(o.roleRef).toEqual({ apiGroup: v.role_ref[0].api_group, kind: v.role_ref[0].kind, name: v.role_ref[0].name });
      expect(o.subjects.map((s: Json) => [s.kind, s.name, s.kind === "ServiceAccount" ? s.namespace : null])).toEqual(
        v.subject.map((s: Json) => [s.kind, s.name, s.kind === "ServiceAccount" ? s.namespace : null]),
      );
      break;
    case "kubernetes_priority_class_v1":
      expect([o.value, o.description, o.preemptionPolicy, o.globalDefault === true]).toEqual([v.value, v.description, v.preemption_policy, v.global_default === true]);
      break;
    case "kubernetes_service_account_v1":
      break;
    case "kubernetes_service_v1": {
      const s = v.spec[0];
      expect(o.spec.clusterIP).toBe(s.cluster_ip);
      expect(o.spec.selector).toEqual(s.selector);
      expect(o.spec.ports.map((p: Json) => [p.name, p.port, p.protocol, String(p.targetPort)])).toEqual(s.port.map((p: Json) => [p.name, p.port, p.protocol, p.target_port]));
      break;
    }
    case "kubernetes_pod_disruption_budget_v1":
      expect(String(o.spec.maxUnavailable)).toBe(v.spec[0].max_unavailable);
      expect(o.spec.selector.matchLabels).toEqual(v.spec[0].selector[0].match_labels);
      break;
    case "kubernetes_deployment_v1":
    case "kubernetes_daemon_set_v1": {
      const s = v.spec[0];
      if (type === "kubernetes_deployment_v1") {
        expect(String(o.spec.replicas)).toBe(s.replicas);
        expect(o.spec.strategy.type).toBe(s.strategy[0].type);
        const ru = s.strategy[0].rolling_update?.[0];
        if (ru) expect(String(o.spec.strategy.rollingUpdate.maxUnavailable)).toBe(ru.max_unavailable);
      } else {
        expect(o.spec.updateStrategy.type).toBe(s.strategy[0].type);
      }
      expect(o.spec.selector.matchLabels).toEqual(s.selector[0].match_labels);
      expectPodTemplate(s.template[0], o.spec.template);
      break;
    }
    default:
      throw new Error(`no content check for ${type}`);
  }
}

describeTier("cluster objects on the reference control plane (scenario 7, apply)", CHECK, { tierLabel: "control plane" }, () => {
  let cp: ControlPlaneCluster;
  let applied: AppliedClusterObjects | undefined;
  let strict: TerraformWorkspace | undefined;
  const tierStart = Date.now();

  beforeAll(async () => {
    cp = await ControlPlaneCluster.start();
    report("bring-up", { seconds: (Date.now() - tierStart) / 1000 });
  }, 600_000);

  afterAll(async () => {
    await strict?.cleanup();
    await applied?.workspace.cleanup();
    await cp?.destroy();
    report("cluster-objects tier", { wallSeconds: (Date.now() - tierStart) / 1000 });
  }, 180_000);

  const superAdmin = () => cp.issued.get(SUPER_ADMIN_SPEC_ID)!;
  const stateResources = async (ws: TerraformWorkspace): Promise<Json[]> => {
    const show = await ws.must(["show", "-json", "-no-color"]);
    return ((JSON.parse(show.stdout) as Json).values?.root_module?.resources ?? []) as Json[];
  };
  const kubernetesResources = (resources: Json[]) => resources.filter((r) => r.mode === "managed" && String(r.type).startsWith("kubernetes_"));

  it("7a. terraform apply of the cluster-objects stack through the load balancer creates every declared object with the declared content", async () => {
    applied = await applyClusterObjects(cp);
    const declaredTypes = Object.entries((applied.prepared.json.resource ?? {}) as Json).flatMap(([type, instances]) => Object.keys(instances as Json).map(() => type));
    const counts: Record<string, number> = {};
    for (const t of declaredTypes) counts[t] = (counts[t] ?? 0) + 1;
    report("7a apply", { applySeconds: applied.applyMs / 1000, resources: applied.addresses.length, byType: counts });
    // Everything declared is in the state (nothing cut out), at least 30 kubernetes objects.
    expect(applied.addresses).toHaveLength(declaredTypes.length);
    expect(declaredTypes.filter((t) => t.startsWith("kubernetes_")).length).toBeGreaterThanOrEqual(30);

    const resources = kubernetesResources(await stateResources(applied.workspace));
    expect(resources.length).toBe(declaredTypes.filter((t) => t.startsWith("kubernetes_")).length);
    for (const r of resources) {
      const got = await cp.curl("lb", objectPath(r.type, r.values), { cert: superAdmin() });
      expect([r.address, got.status]).toEqual([r.address, 200]);
      const obj = JSON.parse(got.body) as Json;
      try {
        expectDeclared(r.type, r.values, obj);
      } catch (err) {
        throw new Error(`${r.address}: ${(err as Error).message}\nobject: ${JSON.stringify(obj).slice(0, 3000)}`);
      }
    }
    // Named ones the join depends on, with content checked from Kubernetes' side.
    const get = async (p: string) => JSON.parse((await cp.curl("lb", p, { cert: superAdmin() })).body) as Json;
    const info = await get("/api/v1/namespaces/kube-public/configmaps/cluster-info");
    const kubeconfig = parse(info.data.kubeconfig) as Json;
    expect(kubeconfig.clusters[0].cluster.server).toBe(applied.endpoint);
    expect(Buffer.from(kubeconfig.clusters[0].cluster["certificate-authority-data"], "base64").toString("utf8")).toBe(readFileSync(cp.kubernetesCa().cert, "utf8"));
    expect(Object.keys((await get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")).data)).toEqual(["ClusterConfiguration"]);
    expect(Object.keys((await get("/api/v1/namespaces/kube-system/configmaps/kubelet-config")).data)).toEqual(["kubelet"]);
    const tokenSecret = await get(`/api/v1/namespaces/kube-system/secrets/bootstrap-token-${applied.outputs.bootstrap_token_id}`);
    expect(tokenSecret.type).toBe("bootstrap.kubernetes.io/token");
    expect(Buffer.from(tokenSecret.data["token-id"], "base64").toString()).toBe(applied.outputs.bootstrap_token_id);
    expect(`${applied.outputs.bootstrap_token_id}.${Buffer.from(tokenSecret.data["token-secret"], "base64").toString()}`).toBe(applied.outputs.bootstrap_token);
  }, 900_000);

  it("7b. the bootstrap token authenticates (API server's bootstrap authenticator) and has kubeadm's join rights; the admin certificate's rights come from the applied binding", async () => {
    if (!applied) throw new Error("7a did not apply");
    const ws = applied.workspace;
    const whoami = await ws.kubectl(applied.outputs.bootstrap_kubeconfig, ["auth", "whoami", "-o", "json"]);
    expect(whoami.stderr).toBe("");
    const user = (JSON.parse(whoami.stdout) as Json).status.userInfo;
    expect(user.username).toBe(`system:bootstrap:${applied.outputs.bootstrap_token_id}`);
    expect(user.groups).toEqual(expect.arrayContaining(["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"]));
    const can: Record<string, string> = {};
    for (const args of [
      ["create", "certificatesigningrequests.certificates.k8s.io"],
      ["get", "configmaps/kubeadm-config", "-n", "kube-system"],
      ["get", "configmaps/kubelet-config", "-n", "kube-system"],
      ["get", "configmaps/kube-proxy", "-n", "kube-system"],
      ["get", "nodes"],
      ["get", "secrets", "-n", "kube-system"],
    ]) {
      const r = await ws.kubectl(applied.outputs.bootstrap_kubeconfig, ["auth", "can-i", ...args]);
      can[args.join(" ")] = r.stdout.trim();
    }
    report("7b bootstrap token", { user: user.username, can });
    expect(can).toEqual({
      "create certificatesigningrequests.certificates.k8s.io": "yes",
      "get configmaps/kubeadm-config -n kube-system": "yes",
      "get configmaps/kubelet-config -n kube-system": "yes",
      "get configmaps/kube-proxy -n kube-system": "yes",
      "get nodes": "yes",
      "get secrets -n kube-system": "no",
    });
    const admin = await cp.kubectl(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    expect(admin.stdout).toBe("kubernetes-admin");
    expect((await cp.kubectl(["get", "clusterrolebinding", "kubeadm:cluster-admins", "-o", "jsonpath={.metadata.labels.app\\.kubernetes\\.io/managed-by}"])).stdout).toBe("terraform");
  }, 300_000);

  it("7c. a second plan shows no change (Read refreshes every object from the server)", async () => {
    if (!applied) throw new Error("7a did not apply");
    const start = Date.now();
    const plan = await applied.workspace.run(["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    report("7c replan", { exitCode: plan.exitCode, seconds: (Date.now() - start) / 1000 });
    expect([plan.exitCode, plan.exitCode === 0 ? "" : plan.stdout.slice(plan.stdout.indexOf("Terraform will perform")) + plan.stderr]).toEqual([0, ""]);
    // Refresh reads the server, not the state: a label changed behind terraform's back is a diff.
    const label = await cp.kubectl(["label", "configmap", "kubeadm-config", "-n", "kube-system", "app.kubernetes.io/managed-by=someone-else", "--overwrite"]);
    expect(label.exitCode).toBe(0);
    const drift = await applied.workspace.run(["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    expect(drift.exitCode).toBe(2);
    expect(drift.stdout).toMatch(/"app\.kubernetes\.io\/managed-by" = "someone-else" -> "terraform"/);
    // And a workload: CoreDNS scaled and its image changed behind terraform's back (an update of a
    // deployment: the merge patch of its whole spec).
    expect((await cp.kubectl(["scale", "deployment", "coredns", "-n", "kube-system", "--replicas=5"])).exitCode).toBe(0);
    expect((await cp.kubectl(["set", "image", "deployment/coredns", "-n", "kube-system", "coredns=registry.k8s.io/coredns/coredns:v0.0.1"])).exitCode).toBe(0);
    const drift2 = await applied.workspace.run(["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    expect(drift2.exitCode).toBe(2);
    expect(drift2.stdout).toMatch(/replicas\s+= "5" -> "2"/);
    expect(drift2.stdout).toMatch(/coredns:v0\.0\.1" -> "registry\.k8s\.io\/coredns\/coredns:v1\.12\.0"/);
    const start2 = Date.now();
    await applied.workspace.must(["apply", "-auto-approve", "-input=false", "-no-color"]);
    report("7c drift repaired", { applySeconds: (Date.now() - start2) / 1000 });
    const back = await cp.kubectl(["get", "configmap", "kubeadm-config", "-n", "kube-system", "-o", "jsonpath={.metadata.labels.app\\.kubernetes\\.io/managed-by}"]);
    expect(back.stdout).toBe("terraform");
    const dns = await cp.kubectl(["get", "deployment", "coredns", "-n", "kube-system", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}"]);
    expect(dns.stdout).toBe("2 registry.k8s.io/coredns/coredns:v1.12.0");
    const again = await applied.workspace.run(["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    expect([again.exitCode, again.exitCode === 0 ? "" : again.stdout]).toEqual([0, ""]);
  }, 600_000);

  it("7d. an attribute or block the stand-in cannot convert fails apply with its path, and nothing is created", async () => {
    if (!applied) throw new Error("7a did not apply");
    const json = applied.prepared.json as Json;
    const stack: Json = {
      terraform: { required_providers: { kubernetes: json.terraform.required_providers.kubernetes } },
      provider: { kubernetes: json.provider.kubernetes },
      resource: {
        kubernetes_service_v1: {
          strict_attribute: { metadata: { name: "strict-attribute", namespace: "default" }, spec: { session_affinity: "ClientIP", port: [{ port: 80 }] } },
        },
        kubernetes_deployment_v1: {
          strict_block: {
            metadata: { name: "strict-block", namespace: "default" },
            wait_for_rollout: false,
            spec: {
              selector: { match_labels: { app: "strict" } },
              template: {
                metadata: { labels: { app: "strict" } },
                spec: { container: [{ name: "c", image: "registry.k8s.io/pause:3.10" }], init_container: [{ name: "init", image: "registry.k8s.io/pause:3.10" }] },
              },
            },
          },
        },
      },
    };
    strict = await TerraformWorkspace.create(stack, { netns: cp.clientNs, hosts: applied.hosts });
    const r = await strict.run(["apply", "-auto-approve", "-input=false", "-no-color"]);
    const text = r.stderr.replace(/\s+/g, " ");
    report("7d strictness", { exitCode: r.exitCode, errors: (r.stderr.match(/Error: /g) ?? []).length });
    expect(r.exitCode).toBe(1);
    expect(text).toContain("kubernetes_service_v1.spec.0.session_affinity is set, but the hashicorp/kubernetes 2.38.0 stand-in");
    expect(text).toContain("kubernetes_deployment_v1.spec.0.template.0.spec.0.init_container is set, but the hashicorp/kubernetes 2.38.0 stand-in");
    expect((await cp.curl("lb", "/api/v1/namespaces/default/services/strict-attribute", { cert: superAdmin() })).status).toBe(404);
    expect((await cp.curl("lb", "/apis/apps/v1/namespaces/default/deployments/strict-block", { cert: superAdmin() })).status).toBe(404);
  }, 300_000);

  it("7d2. a service-account token Secret: apply waits until the controller-manager's token controller filled it (wait_for_service_account_token), and the next plan is empty", async () => {
    if (!applied) throw new Error("7a did not apply");
    const json = applied.prepared.json as Json;
    const ws = await TerraformWorkspace.create(
      {
        terraform: { required_providers: { kubernetes: json.terraform.required_providers.kubernetes } },
        provider: { kubernetes: json.provider.kubernetes },
        resource: {
          kubernetes_service_account_v1: { robot: { metadata: { name: "robot", namespace: "default" } } },
          kubernetes_secret_v1: {
            robot_token: {
              metadata: { name: "robot-token", namespace: "default", annotations: { "kubernetes.io/service-account.name": "${kubernetes_service_account_v1.robot.metadata[0].name}" } },
              type: "kubernetes.io/service-account-token",
            },
          },
        },
        output: { token: { value: '${nonsensitive(kubernetes_secret_v1.robot_token.data["token"])}' } },
      },
      { netns: cp.clientNs, hosts: applied.hosts },
    );
    try {
      const start = Date.now();
      await ws.must(["apply", "-auto-approve", "-input=false", "-no-color"]);
      const token = String((await ws.outputs()).token);
      report("7d2 service-account token", { applySeconds: (Date.now() - start) / 1000, tokenParts: token.split(".").length });
      // The token the provider waited for is a JWT the API servers accept for the service account.
      expect(token.split(".")).toHaveLength(3);
      const who = await cp.curl("lb", "/apis/authentication.k8s.io/v1/selfsubjectreviews", { token, method: "POST", body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }) });
      expect([who.status, who.status === 201 ? JSON.parse(who.body).status.userInfo.username : who.body]).toEqual([201, "system:serviceaccount:default:robot"]);
      const plan = await ws.run(["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
      expect([plan.exitCode, plan.exitCode === 0 ? "" : plan.stdout]).toEqual([0, ""]);
      await ws.must(["destroy", "-auto-approve", "-input=false", "-no-color"]);
      expect((await cp.curl("lb", "/api/v1/namespaces/default/secrets/robot-token", { cert: superAdmin() })).status).toBe(404);
    } finally {
      await ws.cleanup();
    }
  }, 300_000);

  it("7e. terraform destroy removes every object", async () => {
    if (!applied) throw new Error("7a did not apply");
    const resources = kubernetesResources(await stateResources(applied.workspace));
    const start = Date.now();
    await applied.workspace.must(["destroy", "-auto-approve", "-input=false", "-no-color"]);
    const destroyMs = Date.now() - start;
    const left: string[] = [];
    for (const r of resources) {
      const status = (await cp.curl("lb", objectPath(r.type, r.values), { cert: superAdmin() })).status;
      // config_map_v1_data deletes only its keys; its ConfigMap (cluster-info) is the config_map_v1's.
      if (status !== 404) left.push(`${r.address}: ${status}`);
    }
    report("7e destroy", { destroySeconds: destroyMs / 1000, objects: resources.length, left: left.length });
    expect(left).toEqual([]);
    expect(await applied.workspace.stateList()).toEqual([]);
  }, 600_000);
});
