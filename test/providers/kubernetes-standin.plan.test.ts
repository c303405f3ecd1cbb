/**
 * The hashicorp/kubernetes 2.38.0 stand-in (test/providers/kubernetes) is at least as strict at plan
 * time as the real provider on what the library declares: terraform installs it from the plan
 * mirror, and a configuration the real provider rejects fails `terraform validate` with the error
 * terraform (schema: unknown attribute, wrong type, missing required block) or the provider's own
 * validators (metadata name, label key, role_ref kind, name with generate_name, quantities) give for it. Each case changes one thing in a
 * baseline that plans clean, so the error can only come from that one change.
 *
 * Oracles from outside: the attribute set, types and blocks come from the cdktf bindings generated
 * from the real 2.38.0 schema; the name/label rules are Kubernetes' own (k8s.io/apimachinery, which
 * the real provider calls too): an RFC 1123 subdomain for object names, a path segment for RBAC names
 * (`system:coredns` is valid), a qualified name for label keys.
 */
import { type JsonObject, PlanFailedError, planSynthesizedStack, prepareForOfflinePlan, providerPlanCheck } from "../harness/provider-plan";
import { describeTier } from "../harness/tiers";

jest.setTimeout(600_000);

type Resources = Record<string, Record<string, JsonObject>>;

/** A stack with the kubernetes provider configured like the cluster-objects stack (host, CA, client cert). */
function stack(resources: Resources): JsonObject {
  return {
    terraform: { required_providers: { kubernetes: { source: "hashicorp/kubernetes", version: "2.38.0" } } },
    provider: {
      kubernetes: [
        {
          host: "https://127.0.0.1:6443",
          cluster_ca_certificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
          client_certificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
          client_key: "-----BEGIN EC PRIVATE KEY-----\nMIIB\n-----END EC PRIVATE KEY-----\n",
        },
      ],
    },
    resource: resources,
  };
}

/** What the library declares, in miniature: a config map, a deployment, an RBAC role and its binding. */
function baseline(): Resources {
  return {
    kubernetes_config_map_v1: {
      cm: { metadata: { name: "kubeadm-config", namespace: "kube-system", labels: { "app.kubernetes.io/managed-by": "terraform" } }, data: { "ClusterConfiguration": "x" } },
    },
    kubernetes_deployment_v1: {
      dns: {
        metadata: { name: "coredns", namespace: "kube-system" },
        spec: {
          replicas: "2",
          selector: { match_labels: { "k8s-app": "kube-dns" } },
          template: {
            metadata: { labels: { "k8s-app": "kube-dns" } },
            spec: {
              container: [
                {
                  name: "coredns",
                  image: "registry.k8s.io/coredns/coredns:v1.12.0",
                  port: [{ container_port: 53, name: "dns", protocol: "UDP" }],
                  resources: { limits: { memory: "170Mi" }, requests: { cpu: "100m" } },
                },
              ],
            },
          },
        },
        wait_for_rollout: false,
      },
    },
    kubernetes_cluster_role_v1: {
      role: { metadata: { name: "system:coredns" }, rule: [{ api_groups: [""], resources: ["endpoints"], verbs: ["list", "watch"] }] },
    },
    kubernetes_cluster_role_binding_v1: {
      binding: {
        metadata: { name: "system:coredns" },
        role_ref: { api_group: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
        subject: [{ kind: "ServiceAccount", name: "coredns", namespace: "kube-system" }],
      },
    },
  };
}

/** The baseline with one change made by `edit`. */
function withChange(edit: (r: Resources) => void): JsonObject {
  const r = baseline();
  edit(r);
  return stack(r);
}

/** Plans and returns the failure (the test fails if the plan succeeds). */
async function failure(json: JsonObject): Promise<PlanFailedError> {
  try {
    await planSynthesizedStack(json);
  } catch (e) {
    if (e instanceof PlanFailedError) return e;
    throw e;
  }
  throw new Error("the stand-in planned a configuration the real provider rejects");
}

describeTier("hashicorp/kubernetes stand-in: plan-time strictness", providerPlanCheck(), { tierLabel: "provider-plan" }, () => {
  it("plans the baseline with every resource and nothing cut out", async () => {
    const result = await planSynthesizedStack(stack(baseline()));
    expect(result.prepared.removed).toEqual([]);
    expect(result.resourceCount).toBe(4);
    // The real provider's metadata defaults: namespace "default" is not applied where one is given;
    // name is optional+computed; the SDK's id is computed.
    expect(result.planOutput).toMatch(/kubernetes_cluster_role_v1\.role will be created/);
    // Before the stand-in, the harness cut every kubernetes resource out of such a stack.
    expect(prepareForOfflinePlan(stack(baseline())).removed).toHaveLength(4);
  });

  it("rejects an unknown attribute (terraform, from the stand-in's schema)", async () => {
    const e = await failure(withChange((r) => ((r.kubernetes_config_map_v1.cm.metadata as JsonObject).nmae = "typo")));
    expect(e.stage).toBe("validate");
    // terraform's JSON syntax words it so; in HCL it is "Unsupported argument".
    expect(e.diagnostics.map((d) => d.summary)).toContain("Extraneous JSON object property");
    expect(e.message).toMatch(/No argument or block type is named "nmae"/);
  });

  it("rejects a value of the wrong type (a container port that is not a number)", async () => {
    const e = await failure(
      withChange((r) => {
        const spec = ((r.kubernetes_deployment_v1.dns.spec as JsonObject).template as JsonObject).spec as JsonObject;
        ((spec.container as JsonObject[])[0].port as JsonObject[])[0].container_port = "fifty-three";
      }),
    );
    expect(e.stage).toBe("validate");
    expect(e.message).toMatch(/Incorrect attribute value type|Inappropriate value for attribute "container_port"/);
    expect(e.message).toMatch(/a number is required/);
  });

  it("rejects a missing required block (a deployment without spec, a binding without role_ref)", async () => {
    const noSpec = await failure(withChange((r) => delete r.kubernetes_deployment_v1.dns.spec));
    expect(noSpec.stage).toBe("validate");
    expect(noSpec.message).toMatch(/Insufficient spec blocks/);
    const noRoleRef = await failure(withChange((r) => delete r.kubernetes_cluster_role_binding_v1.binding.role_ref));
    expect(noRoleRef.message).toMatch(/Insufficient role_ref blocks/);
  });

  it("rejects an invalid metadata name (not an RFC 1123 subdomain), as the real provider's validator does", async () => {
    const e = await failure(withChange((r) => ((r.kubernetes_config_map_v1.cm.metadata as JsonObject).name = "Kubeadm_Config")));
    expect(e.stage).toBe("validate");
    // Kubernetes' own wording (k8s.io/apimachinery IsDNS1123Subdomain).
    expect(e.message).toMatch(/metadata\.0\.name a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters/);
    // An RBAC name may hold ':' (path segment) but not '/'.
    const rbac = await failure(withChange((r) => ((r.kubernetes_cluster_role_v1.role.metadata as JsonObject).name = "system/coredns")));
    expect(rbac.message).toMatch(/metadata\.0\.name may not contain '\/'/);
  });

  it("rejects an invalid label key and a role_ref kind outside Role/ClusterRole", async () => {
    const label = await failure(withChange((r) => ((r.kubernetes_config_map_v1.cm.metadata as JsonObject).labels = { "-bad key": "x" })));
    expect(label.message).toMatch(/metadata\.0\.labels \("-bad key"\) name part must consist of alphanumeric characters/);
    const kind = await failure(withChange((r) => ((r.kubernetes_cluster_role_binding_v1.binding.role_ref as JsonObject).kind = "Role_")));
    expect(kind.message).toMatch(/expected role_ref\.0\.kind to be one of \["Role" "ClusterRole"\], got Role_/);
  });

  it("rejects name together with generate_name, and a memory limit that is not a Kubernetes quantity", async () => {
    const both = await failure(withChange((r) => ((r.kubernetes_config_map_v1.cm.metadata as JsonObject).generate_name = "kubeadm-")));
    expect(both.message).toMatch(/conflicts with metadata\.0\.(generate_name|name)/);
    const quantity = await failure(
      withChange((r) => {
        const spec = ((r.kubernetes_deployment_v1.dns.spec as JsonObject).template as JsonObject).spec as JsonObject;
        ((spec.container as JsonObject[])[0].resources as JsonObject).limits = { memory: "170MB!" };
      }),
    );
    // Kubernetes' own parser (resource.ParseQuantity) rejects it.
    expect(quantity.message).toMatch(/limits\.memory \("170MB!"\): quantities must match the regular expression/);
  });
});
